"""torch.native_layer_norm / native_group_norm / native_batch_norm: ATen's normalizations with
their saved statistics as extra outputs (torch's signatures, positional), composed from the
functional ops. layer_norm's and batch_norm's statistics carry no gradient (torch's are not
differentiable outputs); group_norm's mean and rstd are differentiable functions of the input,
as torch's are (its backward takes their gradients too)."""
import numpy as np

from fastgrad._ops.base import make

__all__ = ["native_layer_norm", "native_group_norm", "native_batch_norm"]


def _stats(a, axes, eps):
    """(mean, 1 / sqrt(biased var + eps)) of an array over axes, kept, in a's dtype (float32 for half)."""
    dt = a.dtype if a.dtype.kind in "fc" and a.dtype.itemsize >= 4 else np.float32
    w = a.astype(np.float64)
    mean = w.mean(axes, keepdims=True)
    var = ((w - mean) ** 2).mean(axes, keepdims=True)
    return mean.astype(dt), (1.0 / np.sqrt(var + eps)).astype(dt)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    from fastgrad.nn.functional import layer_norm

    shape = tuple(normalized_shape)
    out = layer_norm(input, shape, weight, bias, eps)
    axes = tuple(range(input.dim() - len(shape), input.dim()))
    mean, rstd = _stats(input._data, axes, eps) if input.numel() else (
        np.zeros(input.shape[:input.dim() - len(shape)] + (1,) * len(shape), input._data.dtype),) * 2
    return out, make(mean), make(rstd)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    x = input.reshape(N, group, (C // group) * HxW)
    mean = x.mean(-1)
    rstd = ((x - mean.unsqueeze(-1)).square().mean(-1) + eps).rsqrt()
    y = ((x - mean.unsqueeze(-1)) * rstd.unsqueeze(-1)).reshape(input.shape)
    shape = (1, C) + (1,) * (input.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    from fastgrad.nn.functional import batch_norm

    a = input._data
    if training:
        axes = (0,) + tuple(range(2, a.ndim))
        mean, invstd = _stats(a, axes, eps)
        mean, invstd = make(mean.reshape(-1)), make(invstd.reshape(-1))
    else:
        mean = invstd = make(np.zeros((0,), a.dtype))
    return batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps), mean, invstd
