"""Elementwise extrema of tensors with PyTorch's NaN rules and gradients: maximum / minimum
(NaN propagates; a tie splits the gradient in halves; a NaN gives it to both operands), fmax /
fmin (NaN is ignored; a tie gives the gradient to the first operand) and clamp with tensor
bounds (NaN in any operand propagates; the input's gradient passes where min <= x <= max).

The gradients are selections of g (where(mask, g, 0), never g * mask, so an infinite g gives 0
where it is not selected, as torch's masked_fill), written with differentiable ops, so double
backward works; the masks are constants of the forward's values."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import Op, as_tensor_of, binary_operands, check_broadcast, is_tensor, make
from fastgrad._ops import unsigned as U


class Masked(Op):
    """g where mask (g / 2 where also half), else 0: torch's masked_fill, not a product (an inf g
    gives 0 where unselected). Linear in g and its own adjoint, so double backward works."""

    @staticmethod
    def forward(ctx, g, mask, half):
        ctx.mask, ctx.half = mask, half
        d = g._data
        if half is not None:
            d = np.where(half, d * d.dtype.type(0.5), d)
        return np.where(mask, d, d.dtype.type(0))

    @staticmethod
    def backward(ctx, gg):
        return Masked.apply(gg, ctx.mask, ctx.half), None, None

    @staticmethod
    def jvp(ctx, t, mask, half):
        return Masked.apply(t, mask, half)


def _select(g, mask, half=None):
    if half is not None and not half.any():
        half = None
    if half is None and mask.all():
        return g
    return Masked.apply(g, mask, half)


def _extremum_masks(a, b, kind):
    """(a's gradient mask, b's, the ties that split it in halves or None) of kind's result."""
    with np.errstate(invalid="ignore"):
        if kind in ("max", "min"):
            tie = a == b
            a_loses = a < b if kind == "max" else a > b
            b_loses = a > b if kind == "max" else a < b
            return ~a_loses, ~b_loses, tie
        take_a = (a >= b if kind == "fmax" else a <= b) | np.isnan(b)
        return take_a, ~take_a, None


class Extremum(Op):
    """maximum / minimum / fmax / fmin of two tensors of one dtype (kind names which)."""

    _UFUNC = {"max": np.maximum, "min": np.minimum, "fmax": np.fmax, "fmin": np.fmin}

    @staticmethod
    def forward(ctx, a, b, kind):
        x, y = a._data, b._data
        ctx.masks = _extremum_masks(x, y, kind) if ctx.needs_input_grad else None
        return Extremum._UFUNC[kind](x, y)

    @staticmethod
    def backward(ctx, g):
        ma, mb, tie = ctx.masks
        need = ctx.needs_input_grad
        return (_select(g, ma, tie) if need[0] else None), (_select(g, mb, tie) if need[1] else None), None

    @staticmethod
    def jvp(ctx, ta, tb, _):
        ma, mb, tie = ctx.masks
        out = None
        for t, m in ((ta, ma), (tb, mb)):
            if t is not None:
                s = _select(t if t._data.shape == ma.shape else t.expand(ma.shape), m, tie)
                out = s if out is None else out + s
        return out


class ClampTensor(Op):
    """clamp(x, min, max) with tensor bounds (either may be None): min(max(x, lo), hi), NaN
    propagating from every operand. Gradients (torch's clamp_backward and
    clamp_backward_min_max): x where lo <= x <= hi; lo where x < lo (and lo < hi when both are
    given); hi where x > hi (or hi < lo)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        d = x._data
        lo_d = None if lo is None else lo._data
        hi_d = None if hi is None else hi._data
        y = d
        if lo_d is not None:
            y = np.maximum(y, lo_d)
        if hi_d is not None:
            y = np.minimum(y, hi_d)
        if ctx.needs_input_grad:
            with np.errstate(invalid="ignore"):
                mx = np.ones(y.shape, bool)
                if lo_d is not None:
                    mx = mx & (d >= lo_d)
                if hi_d is not None:
                    mx = mx & (d <= hi_d)
                mlo = mhi = None
                if lo_d is not None:
                    mlo = d < lo_d
                    if hi_d is not None:
                        mlo = mlo & (lo_d < hi_d)
                    mlo = np.broadcast_to(mlo, y.shape)
                if hi_d is not None:
                    mhi = d > hi_d
                    if lo_d is not None:
                        mhi = mhi | (hi_d < lo_d)
                    mhi = np.broadcast_to(mhi, y.shape)
            ctx.masks = (mx, mlo, mhi)
        return np.array(y, copy=True) if y is d else y

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return tuple(_select(g, m) if n and m is not None else None for n, m in zip(need, ctx.masks))

    @staticmethod
    def jvp(ctx, tx, tlo, thi):
        out = None
        for t, m in zip((tx, tlo, thi), ctx.masks):
            if t is not None and m is not None:
                s = _select(t if t._data.shape == m.shape else t.expand(m.shape), m)
                out = s if out is None else out + s
        return out


def _any_grad(*ts):
    return any(t is not None and (t._requires_grad or t._fw_grad is not None) for t in ts)


def extremum(input, other, kind):
    a, b = binary_operands(input, other)
    if _any_grad(a, b):
        return Extremum.apply(a, b, kind)
    return make(Extremum._UFUNC[kind](a._data, b._data))


def _tensor_arg(name, pos, pname, x):
    if not is_tensor(x):
        raise TypeError("%s(): argument '%s' (position %d) must be Tensor, not %s" % (name, pname, pos, type(x).__name__))


@U.refuses_promoted("maximum_cpu")
def fmax(input, other):
    """Elementwise maximum that ignores NaN: NaN only where both are NaN (torch.fmax)."""
    _tensor_arg("fmax", 1, "input", input)
    _tensor_arg("fmax", 2, "other", other)
    return extremum(input, other, "fmax")


@U.refuses_promoted("minimum_cpu")
def fmin(input, other):
    """Elementwise minimum that ignores NaN: NaN only where both are NaN (torch.fmin)."""
    _tensor_arg("fmin", 1, "input", input)
    _tensor_arg("fmin", 2, "other", other)
    return extremum(input, other, "fmin")


def clamp_tensor(input, min=None, max=None):  # noqa: A002
    """clamp with at least one tensor bound (a number bound is made a tensor): the result has
    the promoted dtype of the three and their broadcast shape."""
    ops = [input] + [b for b in (min, max) if b is not None]
    dt = _dtype.result_type(*ops) if len(ops) > 1 else input._data.dtype
    shape = input._data.shape
    for b in ops[1:]:
        bs = b._data.shape if is_tensor(b) else ()
        check_broadcast(shape, bs)
        shape = np.broadcast_shapes(shape, bs)
    x = as_tensor_of(input, dt)
    lo = None if min is None else as_tensor_of(min, dt)
    hi = None if max is None else as_tensor_of(max, dt)
    if _any_grad(x, lo, hi) and _dtype.kind(np.dtype(dt)) in "fc":
        return ClampTensor.apply(x, lo, hi)
    y = x._data
    if lo is not None:
        y = np.maximum(y, lo._data)
    if hi is not None:
        y = np.minimum(y, hi._data)
    return make(np.array(y, copy=True) if y is x._data else y)


__all__ = ["fmax", "fmin"]
