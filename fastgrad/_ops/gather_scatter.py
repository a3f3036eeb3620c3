"""Gather and scatter along a dimension: index_select, take, take_along_dim, gather, scatter,
scatter_add, scatter_reduce, index_add/index_fill/index_copy (re-exported by indexing.py)."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops import shape as S
from fastgrad._ops.base import Op, is_tensor, make, norm_dim, shape_str
from fastgrad._ops.elementwise import where
from fastgrad._ops.index_checks import GATHER_SCATTER_INDEX, check_index, scalar_self
from fastgrad._ops.reduction import GatherDim, ScatterAddDim, _along_index
from fastgrad._ops import unsigned as U


@U.refuses("index_select", skip=U.SKIPS["index_select"])
def index_select(input, dim, index):
    d = norm_dim(dim, input._data.ndim)
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    n = input._data.shape[d] if input._data.ndim else 1
    idx = check_index("index_select", index, n, d).reshape(-1)
    if input._data.ndim == 0:
        return S.getitem(S.reshape(input, 1), (idx,)).reshape(())
    return S.getitem(input, (slice(None),) * d + (idx,))


@U.refuses("take_cpu", skip=U.SKIPS["take"])
def take(input, index):
    n = input._data.size
    idx = index._data
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError("out of range: tried to access index %d on a tensor of %d elements."
                         % (int(idx.max() if idx.max() >= n else idx.min()), n))
    return S.getitem(S.reshape(input, -1), (idx,))


def _wrap_negative(indices, size):
    """take_along_dim's indices count from the end when negative (torch)."""
    a = indices._data
    return make(np.where(a < 0, a + size, a)) if a.size and a.dtype.kind == "i" and a.min() < 0 else indices


@U.refuses("scatter_gather_tensor_cpu")
def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather_unchecked(S.reshape(input, -1), 0, S.reshape(_wrap_negative(indices, input._data.size), -1))
    d = norm_dim(dim, input._data.ndim)
    indices = _wrap_negative(indices, input._data.shape[d] if input._data.ndim else 1)
    if input._data.ndim != indices._data.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same number of "
                           "dimensions, but got %d dimensions for input, and %d dimensions for indices"
                           % (input._data.ndim, indices._data.ndim))
    a, b = list(input._data.shape), list(indices._data.shape)
    a[d] = b[d] = 1
    shp = np.broadcast_shapes(tuple(a), tuple(b))
    x_shape = tuple(input._data.shape[d] if i == d else s for i, s in enumerate(shp))
    i_shape = tuple(indices._data.shape[d] if i == d else s for i, s in enumerate(shp))
    return gather_unchecked(S.expand(input, *x_shape), d, make(np.broadcast_to(indices._data, i_shape)))


@U.refuses("scatter_gather_tensor_cpu", skip=U.SKIPS["gather"])
def gather(input, dim, index, *, sparse_grad=False):
    return gather_unchecked(input, dim, index)


def gather_unchecked(input, dim, index):
    """gather without the uint16/32/64 refusal: what sort, mode, quantile, take, ... gather with, as
    torch's own kernels for them move such values."""
    d = norm_dim(dim, input._data.ndim)
    if index._data.dtype not in GATHER_SCATTER_INDEX and index._data.size:  # torch: an empty one goes
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    if index._data.size == 0:  # torch: an empty index gathers nothing, whatever its dims
        return S.reshape(S.reshape(input, -1)[:0], index._data.shape)
    if index._data.ndim != input._data.ndim and not (index._data.ndim <= 1 and input._data.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for a in range(index._data.ndim):
        if a != d and index._data.shape[a] > input._data.shape[a]:
            raise RuntimeError("Size does not match at dimension %d expected index %s to be smaller than self %s "
                               "apart from dimension %d" % (a, shape_str(index._data.shape),
                                                            shape_str(input._data.shape), d))
    check_index("gather", index, input._data.shape[d] if input._data.ndim else 1, d)
    if input._data.ndim == 0:
        return GatherDim.apply(S.reshape(input, 1), 0, S.reshape(index, 1)).reshape(index._data.shape)
    return GatherDim.apply(input, d, index)


class Scatter(Op):
    """out = x with src written at index along dim (torch.scatter); src has index's shape."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, dim, index, src):
        ctx.dim, ctx.x_shape = dim, x._data.shape
        ctx.save_for_backward(index)
        out = np.array(x._data, copy=True)
        out[_along_index(index._data, dim, out.ndim)] = src._data
        return out

    @staticmethod
    def backward(ctx, g):
        (index,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = Scatter.apply(g, ctx.dim, index, make(np.zeros(index._data.shape, g._data.dtype))) if need[0] else None
        gs = GatherDim.apply(g, ctx.dim, index) if need[3] else None
        return gx, None, None, gs

    @staticmethod
    def jvp(ctx, tx, dim, index, ts):
        (index,) = ctx.saved_tensors
        dt = (tx if tx is not None else ts)._data.dtype
        if tx is None:
            tx = make(np.zeros(ctx.x_shape, dt))
        if ts is None:
            ts = make(np.zeros(index._data.shape, dt))
        return Scatter.apply(tx, dim, index, ts)


def _scatter_args(name, input, dim, index, src):
    d = norm_dim(dim, input._data.ndim)
    if index._data.dtype not in GATHER_SCATTER_INDEX and index._data.size:
        raise RuntimeError("%s(): Expected dtype int32/int64 for index" % name)
    if index._data.ndim != input._data.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    ishape = index._data.shape
    if is_tensor(src) and src._data.dtype != input._data.dtype:
        raise RuntimeError("%s(): Expected self.dtype to be equal to src.dtype" % name)
    # torch's shape check (index no larger than self off dim, nor than src), before the index values
    wrong = any(i > s for k, (i, s) in enumerate(zip(ishape, input._data.shape)) if k != d)
    if is_tensor(src):
        wrong = wrong or any(i > s for i, s in zip(ishape, src._data.shape))
        if wrong:
            raise RuntimeError("Expected index %s to be no larger than self %s apart from dimension %d and to be "
                               "no larger size than src %s" % (shape_str(ishape), shape_str(input._data.shape), d,
                                                               shape_str(src._data.shape)))
    elif wrong:
        raise RuntimeError("Expected index %s to be no larger than self %s apart from dimension %d"
                           % (shape_str(ishape), shape_str(input._data.shape), d))
    check_index(name, index, input._data.shape[d], d)
    if is_tensor(src):
        if src._data.shape != ishape:
            src = S.getitem(src, tuple(slice(0, i) for i in ishape))
    else:
        src = make(np.full(ishape, src, input._data.dtype))
    return d, src


def _scatter_reduce_array(x, dim, index, src, reduce, include_self):
    """x with src reduced into it at index along dim (NumPy's ufunc.at: repeated indices accumulate)."""
    out = np.array(x, copy=True)
    at = _along_index(index, dim, out.ndim)
    if not include_self:  # the scattered-to positions start from the reduction's identity
        if reduce in ("amax", "amin"):
            lo, hi = (-np.inf, np.inf) if _dtype.kind(out.dtype) == "f" else (np.iinfo(out.dtype).min, np.iinfo(out.dtype).max)
            out[at] = lo if reduce == "amax" else hi
        else:
            out[at] = 1 if reduce == "prod" else 0
    ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    ufunc.at(out, at, src)
    if reduce == "mean":
        count = _scatter_count(x.shape, dim, index, include_self)
        out = (out / count if _dtype.kind(out.dtype) in "fc" else out // count).astype(out.dtype)
    return out


def _scatter_count(shape, dim, index, include_self):
    """How many values each position of a mean scatter_reduce averages (at least 1)."""
    count = np.full(shape, 1 if include_self else 0, np.int64)
    np.add.at(count, _along_index(index, dim, len(shape)), 1)
    return np.maximum(count, 1)


class ScatterReduce(Op):
    """torch.scatter_reduce: out = x with src reduced in at index along dim ('sum', 'prod', 'mean',
    'amax', 'amin'; x's own value joins unless include_self=False). out depends on x elementwise
    and on src through the positions src goes to: d out / d x = dself, d out[index] / d src = dsrc,
    so gx = g dself, gsrc = g[index] dsrc and the tangent is tx dself + scatter_add(tsrc dsrc)."""

    @staticmethod
    def forward(ctx, x, dim, index, src, reduce, include_self):
        ctx.dim, ctx.reduce, ctx.include_self = dim, reduce, include_self
        out = _scatter_reduce_array(x._data, dim, index._data, src._data, reduce, include_self)
        ctx.save_for_backward(x, index, src, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, index, src, out = ctx.saved_tensors
        dself, dsrc = _scatter_reduce_derivatives(x, ctx.dim, index, src, out, ctx.reduce, ctx.include_self)
        need = ctx.needs_input_grad
        gx = g * dself if need[0] else None
        gs = GatherDim.apply(g, ctx.dim, index) * dsrc if need[3] else None
        return gx, None, None, gs, None, None

    @staticmethod
    def jvp(ctx, tx, dim, index, ts, reduce, include_self):
        x, index, src, out = ctx.saved_tensors
        dself, dsrc = _scatter_reduce_derivatives(x, dim, index, src, out, reduce, include_self)
        res = None if tx is None else tx * dself
        if ts is not None:
            term = ScatterAddDim.apply(ts * dsrc, dim, index, out._data.shape)
            res = term if res is None else res + term
        return res


def _scatter_reduce_derivatives(x, dim, index, src, out, reduce, include_self):
    """(d out / d x, d out[index] / d src) as tensors (PyTorch's scatter_reduce_backward): ties of
    amax/amin share the gradient evenly; prod divides out by the factor, except where that factor
    is zero (then the product of the others is computed again, as PyTorch does)."""
    dt = x._data.dtype
    idx = index._data
    at = _along_index(idx, dim, x._data.ndim)
    touched = np.zeros(x._data.shape, bool)
    touched[at] = True
    keep_self = make(~touched) if not include_self else None  # x's value left out where src goes

    def masked(d):
        return d if keep_self is None else where(keep_self, d, make(np.zeros((), dt)))

    if reduce == "sum":
        return masked(make(np.ones(x._data.shape, dt))), make(np.ones(idx.shape, dt))
    if reduce == "mean":
        inv = make((1.0 / _scatter_count(x._data.shape, dim, idx, include_self)).astype(dt))
        return masked(inv), GatherDim.apply(inv, dim, index)
    if reduce in ("amax", "amin"):
        self_is = (x._data == out._data) & (include_self | ~touched)
        src_is = src._data == out._data[at]
        n = self_is.astype(dt)
        np.add.at(n, at, src_is)
        share = make(1.0 / np.maximum(n, 1))
        return make(self_is.astype(dt)) * share, make(src_is.astype(dt)) * GatherDim.apply(share, dim, index)
    # prod
    one = make(np.ones((), dt))
    self_zero = make(x._data == 0)
    safe_self = where(self_zero, one, x)
    others_self = ScatterReduce.apply(safe_self, dim, index, src, "prod", include_self) / safe_self
    src_zero = src._data == 0
    zeros_there = np.zeros(x._data.shape, np.int64)
    np.add.at(zeros_there, at, src_zero)
    single = make(src_zero & (zeros_there[at] == 1))
    without = ScatterReduce.apply(x, dim, index, where(single, one, src), "prod", include_self)
    dsrc = where(single, GatherDim.apply(without, dim, index),
                 GatherDim.apply(out, dim, index) / where(make(src_zero), one, src))
    if dsrc._requires_grad and np.any(zeros_there > 1):  # out / src is then no function of src to differentiate
        dsrc = NotDifferentiable.apply(dsrc, "scatter_reduce(): Double backward is unsupported for src when >1 zeros "
                                             "in src are scattered to the same position in self")
    return masked(others_self), dsrc


class NotDifferentiable(Op):
    """The identity, whose derivative raises `message` (PyTorch's Error node in a derivative graph)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, message):
        ctx.message = message
        return np.array(x._data, copy=True)

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(ctx.message)

    @staticmethod
    def jvp(ctx, t, message):
        raise RuntimeError(message)


_SCATTER_REDUCE = {"sum": "sum", "prod": "prod", "mean": "mean", "amax": "amax", "amin": "amin", "max": "amax",
                   "min": "amin"}


@U.refuses("scatter_gather_tensor_cpu")
@scalar_self
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce not in _SCATTER_REDUCE:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got %s" % (reduce,))
    if not is_tensor(src):
        raise TypeError("scatter_reduce(): argument 'src' must be Tensor, not %s" % type(src).__name__)
    d, src = _scatter_args("scatter", input, dim, index, src)
    return ScatterReduce.apply(input, d, index, src, _SCATTER_REDUCE[reduce], bool(include_self))


class ScatterWithReduce(Op):
    """scatter(..., reduce='add' | 'multiply'): PyTorch has no derivative for it (use scatter_add or
    scatter_reduce), and neither has fastgrad."""

    @staticmethod
    def forward(ctx, x, dim, index, src, reduce):
        return _scatter_reduce_array(x._data, dim, index._data, src._data, reduce, True)

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")

    @staticmethod
    def jvp(ctx, *args):
        raise RuntimeError("derivative for aten::scatter is not implemented")


@U.refuses_scatter
@scalar_self
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    if src is None:
        src = value
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    d, src = _scatter_args("scatter", input, dim, index, src)
    if reduce is not None:
        return ScatterWithReduce.apply(input, d, index, src, "sum" if reduce == "add" else "prod")
    return Scatter.apply(input, d, index, src)


@U.refuses("scatter_gather_tensor_cpu")
@scalar_self
def scatter_add(input, dim, index, src):
    d, src = _scatter_args("scatter_add", input, dim, index, src)
    return input + ScatterAddDim.apply(src, d, index, input._data.shape)


@U.refuses("index_add_")
@scalar_self
def index_add(input, dim, index, source, *, alpha=1):
    d = norm_dim(dim, input._data.ndim)
    idx = check_index("index_add", index, input._data.shape[d], d).reshape(-1)
    src = source if alpha == 1 else source * alpha
    return S.IndexPut.apply(input, src, (slice(None),) * d + (idx,), True)


@U.refuses("index_fill_cpu")
@scalar_self
def index_fill(input, dim, index, value):
    d = norm_dim(dim, input._data.ndim)
    n = max(input._data.shape[d], 1)  # a repeated index fills once: value's gradient counts it once
    idx = np.unique(check_index("index_fill", index, input._data.shape[d], d).reshape(-1) % n)
    v = value if is_tensor(value) else make(np.asarray(value, input._data.dtype))
    return S.IndexPut.apply(input, v, (slice(None),) * d + (idx,), False)


@U.refuses("index_copy_cpu")
@scalar_self
def index_copy(input, dim, index, source):
    d = norm_dim(dim, input._data.ndim)
    idx = check_index("index_copy", index, input._data.shape[d], d).reshape(-1)
    return S.IndexPut.apply(input, source, (slice(None),) * d + (idx,), False)
