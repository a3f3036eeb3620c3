"""Reductions: sum, mean, max/min (with indices), argmax/argmin, and sum_to (the one place
where broadcasting is undone: the tape calls it on every gradient whose shape differs)."""
import collections

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import (GRAD, IN0_SHAPE, K, Op, engine, make, norm_dim, norm_dims, out_dtype_of_reduction,
                                shape_str)
from fastgrad._ops import unsigned as U

values_indices = collections.namedtuple("return_types", ["values", "indices"])


def _keep(shape, axes):
    """shape with the reduced axes kept as 1 (for expanding a gradient back)."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.in_shape = x._data.shape
        ctx.axes, ctx.keepdim = axes, keepdim
        # np.add.reduce: np.sum's result without its ~1 us of Python-level dispatch
        return np.add.reduce(x._data, axis=axes, dtype=dtype, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx), None, None, None

    @staticmethod
    def _array_backward(ctx, g):
        return _broadcast_copy(g, _keep(ctx.in_shape, ctx.axes), ctx.in_shape), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        return t.sum(ctx.axes, keepdim=ctx.keepdim)


class SumAll(Op):
    """sum() of a float tensor over all its elements: declared by its kernel (np.add.reduce
    over all axes as a 0-d array; the compiled one sums small arrays in C without NumPy's
    reduction set-up, bit for bit); the input's shape is the node's _in_meta."""

    _kernel = K.sum_all

    @staticmethod
    def backward(ctx, g):
        shape = ctx._in_meta[0][0]
        return BroadcastCopy.apply(g, (1,) * len(shape), shape)

    _array_grads = ((K.fill, IN0_SHAPE, GRAD),)

    @staticmethod
    def jvp(ctx, t):
        return SumAll.apply(t)


def _expand_back(g, ctx):
    """A reduction's gradient, broadcast back to the input shape as a new array (which the
    tape can hand to a leaf without another copy)."""
    keep = _keep(ctx.in_shape, ctx.axes)
    return BroadcastCopy.apply(g, keep, ctx.in_shape)


def _broadcast_copy(g, keep, shape):
    out = np.empty(shape, g.dtype)
    np.copyto(out, g.reshape(keep))
    return out


# same linear-op shape as shape.Index/IndexAdd (backward and jvp apply the adjoint/op): the maths differ
class BroadcastCopy(Op):
    """g (reshaped to `keep`) broadcast into a new array of `shape`; adjoint of sum_to."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, g, keep, shape):
        ctx.in_shape, ctx.keep = g._data.shape, keep
        return _broadcast_copy(g._data, keep, shape)

    @staticmethod
    def backward(ctx, gg):
        return SumTo.apply(gg, ctx.keep).reshape(ctx.in_shape), None, None

    @staticmethod
    def jvp(ctx, t, keep, shape):
        return BroadcastCopy.apply(t, keep, shape)


class Mean(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.in_shape = x._data.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        ctx.n = int(np.prod([x._data.shape[a] for a in axes])) if axes else 1
        return np.mean(x._data, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx) / ctx.n, None, None, None

    @staticmethod
    def _array_backward(ctx, g):
        out = _broadcast_copy(g, _keep(ctx.in_shape, ctx.axes), ctx.in_shape)
        return K.div(out, np.asarray(ctx.n, out.dtype)), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        return t.mean(ctx.axes, keepdim=ctx.keepdim)


class SumTo(Op):
    """Sum a gradient down to a shape it was broadcast from."""

    @staticmethod
    def forward(ctx, g, shape):
        ctx.in_shape, ctx.shape = g._data.shape, shape
        return _sum_to_array(g._data, shape)

    @staticmethod
    def backward(ctx, gg):
        return gg.expand(ctx.in_shape), None

    @staticmethod
    def jvp(ctx, t, _):
        return SumTo.apply(t, ctx.shape)


def _sum_to_array(a, shape):
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and a.shape[i + lead] != 1)
    if axes:
        a = np.add.reduce(a, axis=axes, keepdims=True)
    if lead:
        a = a.reshape(shape)
    return a


def sum_to(g, shape, name="sum_to", index=0):
    """Called by the tape: reduce a broadcast gradient to its input's shape."""
    shape = tuple(shape)
    gs = g._data.shape
    ok = len(gs) >= len(shape) and all(
        s == t or s == 1 for s, t in zip(shape[::-1], gs[::-1]))
    if not ok:
        if int(np.prod(gs)) == int(np.prod(shape)) and g._data.size == 1:
            return g.reshape(shape)
        raise RuntimeError(
            "Function %s returned an invalid gradient at index %d - got %s but expected shape "
            "compatible with %s" % (name, index, shape_str(gs), shape_str(shape)))
    return SumTo.apply(g, shape)


engine.register("sum_to", sum_to)


class MaxAll(Op):
    """max()/min() over all elements; the gradient is shared evenly among ties (PyTorch)."""

    @staticmethod
    def forward(ctx, x, is_max):
        d = x._data
        if d.size == 0:
            raise RuntimeError("%s(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument." % ("max" if is_max else "min"))
        y = d.max() if is_max else d.min()
        mask = np.isnan(d) if _dtype.kind(d.dtype) in "fc" and np.isnan(y) else d == y  # a nan result: shared among the nans (torch)
        ctx.save_for_backward(mask / mask.sum())
        return y

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * w, None

    @staticmethod
    def jvp(ctx, t, _):
        (w,) = ctx.saved_tensors
        return (t * w).sum()


class MaxDim(Op):
    """max(dim)/min(dim): (values, indices); the gradient goes to the returned index."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, is_max):
        d = x._data
        if d.shape[dim] == 0:
            raise IndexError("max(): Expected reduction dim %d to have non-zero size." % dim)
        idx = np.argmax(d, axis=dim) if is_max else np.argmin(d, axis=dim)
        idx = np.expand_dims(idx, dim)
        values = np.take_along_axis(d, idx, axis=dim)
        ctx.save_for_backward(idx)
        ctx.dim, ctx.in_shape, ctx.keepdim = dim, d.shape, keepdim
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        return values, idx.astype(np.int64)

    @staticmethod
    def backward(ctx, g, _):
        (idx,) = ctx.saved_tensors
        g = g.reshape(idx.shape)
        return ScatterAddDim.apply(g, ctx.dim, idx, ctx.in_shape), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        (idx,) = ctx.saved_tensors
        v = GatherDim.apply(t, ctx.dim, idx)
        return v if ctx.keepdim else v.squeeze(ctx.dim)


def _along_index(idx, dim, ndim):
    """Fancy index tuple selecting idx along dim and everything along other axes."""
    out = []
    for a in range(ndim):
        if a == dim:
            out.append(idx)
        else:
            shape = [1] * ndim
            shape[a] = idx.shape[a]
            out.append(np.arange(idx.shape[a]).reshape(shape))
    return tuple(out)


class GatherDim(Op):
    """out = x gathered along dim at index (torch.gather); adjoint of ScatterAddDim."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.in_shape = dim, x._data.shape
        ctx.save_for_backward(index)
        return x._data[_along_index(index._data, dim, x._data.ndim)]  # index may be smaller than x off dim

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        return ScatterAddDim.apply(g, ctx.dim, index, ctx.in_shape), None, None

    @staticmethod
    def jvp(ctx, t, *_):
        (index,) = ctx.saved_tensors
        return GatherDim.apply(t, ctx.dim, index)


class ScatterAddDim(Op):
    """zeros(shape) with g added at index along dim (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, g, dim, index, shape):
        ctx.dim, ctx.shape = dim, shape
        ctx.save_for_backward(index)
        out = np.zeros(shape, g._data.dtype)
        np.add.at(out, _along_index(index._data, dim, out.ndim), g._data)
        return out

    @staticmethod
    def backward(ctx, gg):
        (index,) = ctx.saved_tensors
        return GatherDim.apply(gg, ctx.dim, index), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        (index,) = ctx.saved_tensors
        return ScatterAddDim.apply(t, ctx.dim, index, ctx.shape)


# --------------------------------------------------------------------------- public functions
def _dims_arg(dim, keepdim, kwargs):
    if "keepdims" in kwargs:  # NumPy's spelling, which the seed notebooks use
        keepdim = kwargs.pop("keepdims")
    if "axis" in kwargs:
        dim = kwargs.pop("axis")
    if kwargs:
        raise TypeError("unexpected keyword arguments: %s" % ", ".join(kwargs))
    return dim, bool(keepdim)


def _sum(input, dim=None, keepdim=False, *, dtype=None, **kwargs):
    """sum's general case (engine.sum, fastgrad.sum itself, takes the float sum() of all
    elements)."""
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("sum", input, dim, keepdim, dtype=dtype)
    if dim is None and not keepdim and dtype is None and not kwargs and _dtype.kind(input._data.dtype) == "f":
        return SumAll.apply(input)
    dim, keepdim = _dims_arg(dim, keepdim, kwargs)
    axes = norm_dims(dim, input._data.ndim)
    acc = out_dtype_of_reduction(input, dtype)
    if acc is not None and _dtype.is_half(input._data.dtype) and np.dtype(acc) != input._data.dtype:
        input = input.to(_dtype.to_dtype(acc))  # a half input summed in another dtype asked for: the
        # result has that dtype, as PyTorch's (the half path would round it back to the input's)
        acc = None
    return Sum.apply(input, axes, keepdim, acc)


engine.register("sum", (_sum, SumAll))
sum = engine.sum  # noqa: A001  (fastgrad.sum and Tensor.sum)


def mean(input, dim=None, keepdim=False, *, dtype=None, **kwargs):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("mean", input, dim, keepdim, dtype=dtype)
    dim, keepdim = _dims_arg(dim, keepdim, kwargs)
    if _dtype.kind(input._data.dtype) not in "fc" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            "complex dtype. Got: %s" % _dtype.scalar_name(input._data.dtype))
    axes = norm_dims(dim, input._data.ndim)
    return Mean.apply(input, axes, keepdim, out_dtype_of_reduction(input, dtype))


def _max_min(input, dim, keepdim, kwargs, is_max):
    from fastgrad._ops.elementwise import maximum, minimum

    if dim is not None and not isinstance(dim, (int, np.integer)) and hasattr(dim, "_data"):
        return (maximum if is_max else minimum)(input, dim)  # max(a, b) is elementwise
    dim, keepdim = _dims_arg(dim, keepdim, kwargs)
    if dim is None:
        return MaxAll.apply(input, is_max)
    d = norm_dim(dim, input._data.ndim)
    if input._data.ndim == 0:
        return values_indices(input.clone(), make(np.zeros((), np.int64)))
    return values_indices(*MaxDim.apply(input, d, keepdim, is_max))


@U.refuses_minmax("max")
def max(input, dim=None, keepdim=False, **kwargs):  # noqa: A001
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("max", input, dim, keepdim)
    return _max_min(input, dim, keepdim, kwargs, True)


@U.refuses_minmax("min")
def min(input, dim=None, keepdim=False, **kwargs):  # noqa: A001
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("min", input, dim, keepdim)
    return _max_min(input, dim, keepdim, kwargs, False)


def _arg(input, dim, keepdim, kwargs, fn):
    dim, keepdim = _dims_arg(dim, keepdim, kwargs)
    d = input._data
    name = "argmax" if fn is np.argmax else "argmin"
    if d.dtype == np.bool_:  # torch refuses (found by tests/test_ops_fuzz.py)
        raise RuntimeError("%s(): does not support bool input" % name)
    if dim is None:
        if d.size == 0:
            raise IndexError("%s(): Expected reduction dim to be specified for input.numel() == 0." % name)
        return make(np.asarray(fn(d), dtype=np.int64).reshape((1,) * d.ndim if keepdim else ()))
    ax = norm_dim(dim, d.ndim)
    if d.ndim and d.shape[ax] == 0:
        raise IndexError("%s(): Expected reduction dim %d to have non-zero size." % (name, ax))
    if d.ndim == 0:
        return make(np.zeros((), np.int64))
    return make(fn(d, axis=ax, keepdims=keepdim).astype(np.int64))


@U.refuses("argmax_cpu")
def argmax(input, dim=None, keepdim=False, **kwargs):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("argmax", input, dim, keepdim)
    return _arg(input, dim, keepdim, kwargs, np.argmax)


@U.refuses("argmin_cpu")
def argmin(input, dim=None, keepdim=False, **kwargs):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("argmin", input, dim, keepdim)
    return _arg(input, dim, keepdim, kwargs, np.argmin)

