"""SyncBatchNorm's training step across processes (torch's torch.nn.modules._functions.SyncBatchNorm, on
fastgrad.distributed's MPI groups): the statistics are those of the batch of every process together (two
all_reduces: the sums, then the squared deviations from the global mean), and backward all-reduces the two
sums its input gradient needs. The weight and bias gradients stay local, as torch's: DDP averages them. So N
processes with SyncBatchNorm under DDP train as one process does on the N batches concatenated."""
import numpy as np

from fastgrad._backend import engine
from fastgrad.autograd.function import Function

__all__ = ["sync_batch_norm"]


def _all_reduce_array(a, group):
    from fastgrad import distributed as dist

    dist.all_reduce(engine.make_tensor(a), group=group)  # in place on a
    return a


class _SyncBatchNorm(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, eps, momentum, group):

        x = input._data
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        local = x.size // c
        acc = np.float64 if x.dtype != np.float64 else x.dtype
        head = np.concatenate([x.sum(axes, dtype=acc), [float(local)]])
        _all_reduce_array(head, group)
        count = head[c]
        if count <= 1 and running_mean is not None:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(x.shape)}")
        mean = head[:c] / count
        shape = (1, c) + (1,) * (x.ndim - 2)
        xmu = x - mean.astype(x.dtype).reshape(shape)
        var = _all_reduce_array(np.square(xmu).sum(axes, dtype=acc), group) / count
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        xhat = xmu * invstd.reshape(shape)
        y = xhat
        if weight is not None:
            y = y * weight._data.reshape(shape)
        if bias is not None:
            y = y + bias._data.reshape(shape)
        if running_mean is not None:
            rm, rv = running_mean._data, running_var._data
            rm[...] = (1 - momentum) * rm + momentum * mean
            rv[...] = (1 - momentum) * rv + momentum * var * (count / (count - 1))
            running_mean._vc.value += 1
            running_var._vc.value += 1
        ctx.xhat, ctx.invstd, ctx.count, ctx.axes, ctx.shape, ctx.group = xhat, invstd, count, axes, shape, group
        ctx.weight = None if weight is None else weight._data
        ctx.has_bias = bias is not None
        return engine.make_tensor(np.ascontiguousarray(y, dtype=x.dtype))

    @staticmethod
    def backward(ctx, grad_output):

        dy = grad_output._data
        xhat, axes, shape = ctx.xhat, ctx.axes, ctx.shape
        sum_dy = dy.sum(axes)
        sum_dy_xhat = (dy * xhat).sum(axes)
        grad_w = engine.make_tensor(sum_dy_xhat.copy()) if ctx.weight is not None else None
        grad_b = engine.make_tensor(sum_dy.copy()) if ctx.has_bias else None
        grad_in = None
        if ctx.needs_input_grad[0]:
            c = len(sum_dy)
            both = _all_reduce_array(np.concatenate([sum_dy, sum_dy_xhat]).astype(np.float64), ctx.group)
            mean_dy = (both[:c] / ctx.count).astype(dy.dtype).reshape(shape)
            mean_dy_xhat = (both[c:] / ctx.count).astype(dy.dtype).reshape(shape)
            scale = ctx.invstd if ctx.weight is None else ctx.invstd * ctx.weight
            gx = scale.reshape(shape) * (dy - mean_dy - xhat * mean_dy_xhat)
            grad_in = engine.make_tensor(np.ascontiguousarray(gx, dtype=dy.dtype))
        return grad_in, grad_w, grad_b, None, None, None, None, None


def sync_batch_norm(input, weight, bias, running_mean, running_var, eps, momentum, group):
    return _SyncBatchNorm.apply(input, weight, bias, running_mean, running_var, eps, momentum, group)
