"""Where PyTorch's CPU kernels for float16/bfloat16 keep an intermediate in the half dtype (not
in float32, as they otherwise compute it), the same rounding here, so results agree with
PyTorch's bit for bit rather than to a unit in the last place: log_softmax over the last dim
(its row's sum of exponentials and their log), nll_loss's reductions (summed in the half
dtype with a cascade of partial sums) and float16 sigmoid's gradient in the recurrent cells. Everything else in half precision is an op run in
float32 and rounded once (engine._half_apply) or a composite computed in float32
(base.float32_compute)."""
import numpy as np

from fastgrad._ops.base import K, Op, make

_F32 = np.float32


def log_softmax_lastdim(a, half):
    """log_softmax over the last dim of float32 array a holding half values: the row sum of the
    exponentials and its log are rounded to half, the result is left for the caller to round."""
    m = a.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        s = np.exp(a - m).sum(axis=-1, keepdims=True, dtype=_F32)
        lse = np.log(s.astype(half).astype(_F32)).astype(half).astype(_F32)
        return (a - m) - lse


_LEVELS = 8  # nll_loss_out_frame's cascade: 8 partial sums, each taking 16 terms of the one below
_LEVEL_POWER = 4


def _cascade_sum(terms, rows, dt):
    """sum of terms (float32 half values, in order, terms[k] from batch row rows[k]) as
    nll_loss_out_frame sums them: in the half dtype, with its cascade of partial sums."""
    def rd(v):
        return _F32(np.asarray(v, _F32).astype(dt))

    sums = [_F32(0)] * _LEVELS
    for k in range(len(terms)):
        sums[0] = rd(sums[0] + terms[k])
        b = int(rows[k])
        for j in range(_LEVELS - 1):
            if b & (((1 << _LEVEL_POWER) - 1) << (j * _LEVEL_POWER)):
                break
            sums[j + 1] = rd(sums[j + 1] + sums[j])
            sums[j] = _F32(0)
    total = _F32(0)
    for s in sums:
        total = rd(total + s)
    return total


def _sigmoid_bwd16(g, y):
    """(g * (1 - y)) * y of float16 arrays, the difference and each product rounded to float16."""
    return (g.astype(np.float16) * (np.float16(1) - y)) * y


class SigmoidBackwardFloat16(Op):
    """PyTorch's float16 CPU sigmoid_backward(g, y) = g * (1 - y) * y (see SigmoidFloat16), an op
    of its own so the gradient of a float16 sigmoid can be differentiated again (create_graph):
    its derivatives are PyTorch's (derivatives.yaml), grad_output: sigmoid_backward(gg, y) and
    output: gg * g * (-2 * y + 1), each op rounded to float16 as PyTorch's half ops."""

    _half_native = True

    @staticmethod
    def forward(ctx, y, g):
        ctx.save_for_backward(y, g)
        return _sigmoid_bwd16(g._data, y._data)

    @staticmethod
    def _array_backward(ctx, gg):
        y, g = ctx.saved_arrays
        need = ctx.needs_input_grad
        dy = (gg * g) * (y * np.float16(-2) + np.float16(1)) if need[0] else None
        return dy, (_sigmoid_bwd16(gg, y) if need[1] else None)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        need = ctx.needs_input_grad
        dy = gg * g * (y * -2.0 + 1.0) if need[0] else None
        return dy, (SigmoidBackwardFloat16.apply(y, gg) if need[1] else None)

    @staticmethod
    def jvp(ctx, ty, tg):
        y, g = ctx.saved_tensors
        out = None if ty is None else ty * g * (y * -2.0 + 1.0)
        if tg is not None:
            t2 = SigmoidBackwardFloat16.apply(y, tg)
            out = t2 if out is None else out + t2
        return out


class SigmoidFloat16(Op):
    """sigmoid of a float16 tensor whose gradient is PyTorch's float16 CPU kernel's: g * (1 - y) * y with the
    difference and each product rounded to float16 (its bfloat16 kernel, like fastgrad's float32 run of any
    half op, rounds only the result). Used where the rounding shows: the recurrent cells' gates. The
    gradient is SigmoidBackwardFloat16 of the saved output, so double backward works."""

    _half_native = True  # computes its half arithmetic itself

    @staticmethod
    def forward(ctx, x):
        y = np.asarray(K.sigmoid_fwd(x._data.astype(_F32))).astype(np.float16)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def _array_backward(ctx, g):
        return (_sigmoid_bwd16(g, ctx.saved_arrays[0]),)

    @staticmethod
    def backward(ctx, g):
        return SigmoidBackwardFloat16.apply(ctx.saved_tensors[0], g)

    @staticmethod
    def jvp(ctx, t):  # PyTorch's: sigmoid_backward(t, y)
        return SigmoidBackwardFloat16.apply(ctx.saved_tensors[0], t)


class NllLossHalf(Op):
    """nll_loss(x, target, weight, reduction='mean' or 'sum') of a float16/bfloat16 (N, C) x, as
    PyTorch's CPU kernel: -x[i, t_i] * w[t_i] summed in the half dtype (cascade), divided by the
    summed weights in the half dtype for 'mean'; the gradient w[t_i] * -(g / total weight)."""

    _half_native = True  # computes its half arithmetic itself

    @staticmethod
    def forward(ctx, x, rows, cols, w, mean):
        dt = x._data.dtype
        picked = x._data[rows, cols].astype(_F32)
        if w is None:
            terms = -picked
            total_w = _F32(np.asarray(len(rows), _F32).astype(dt))  # static_cast<scalar_t>(count)
        else:
            ww = w._data[cols].astype(_F32)
            terms = -(picked * ww).astype(dt).astype(_F32)
            total_w = _cascade_sum(ww, rows, dt)
        out = _cascade_sum(terms, rows, dt)
        if mean:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = out / total_w
        ctx.meta = (x._data.shape, rows, cols, np.asarray(total_w, dt), mean)
        ctx.save_for_backward(w)
        return np.asarray(out).astype(dt)

    @staticmethod
    def jvp(ctx, t, rows, cols, tw, mean):
        (w,) = ctx.saved_tensors  # (the loss is linear in x: the same sum of the tangent)
        return NllLossHalf.apply(t, rows, cols, w, mean)

    @staticmethod
    def backward(ctx, g):
        shape, rows, cols, total_w, mean = ctx.meta
        (w,) = ctx.saved_tensors
        coef = -(g / make(total_w)) if mean else -g  # half ops: rounded as PyTorch's
        scale = np.ones(len(rows), g._data.dtype) if w is None else w._data[cols]
        picked = make(scale) * coef  # w[t_i] * grad, rounded
        mask = np.zeros(shape, bool)
        mask[rows, cols] = True
        spread = np.zeros(shape, np.intp)
        spread[rows, cols] = np.arange(len(rows))
        from fastgrad._ops.elementwise import where

        full = picked[make(spread)] if len(rows) else make(np.zeros(shape, g._data.dtype))
        return where(make(mask), full, make(np.zeros((), g._data.dtype))), None, None, None, None


def update_running_stats(x, axes, running_mean, running_var, momentum, per_sample=False):
    """batch_norm / instance_norm on a float16/bfloat16 x: its batch statistics (per_sample: the
    instances' averaged) into the running stats in place, as PyTorch's kernel: computed wide,
    each buffer rounded once."""
    a = x._data.astype(np.float64)
    size = int(np.prod([a.shape[i] for i in axes]))
    with np.errstate(all="ignore"):  # (inf and NaN inputs give NaN statistics silently, as PyTorch)
        mean = a.mean(axes)
        var = a.var(axes) * (size / (size - 1))
        if per_sample:
            mean, var = mean.mean(0), var.mean(0)
        for buf, stat in ((running_mean, mean), (running_var, var)):
            if buf is not None:
                buf._data[...] = momentum * stat + (1 - momentum) * buf._data.astype(np.float64)
                buf._vc.value += 1
