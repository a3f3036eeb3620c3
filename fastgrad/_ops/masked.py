"""torch.masked's operations on strided tensors: reductions (sum, prod, amax, amin, argmax, argmin,
mean, median, norm, var, std, logsumexp), scans (cumsum, cumprod), normalizations (softmax,
log_softmax, softmin, normalize) and logaddexp, each with a boolean mask= broadcast to the input.

As in torch/masked/_ops.py, the masked-out elements are replaced by the operation's identity
(0 for sum, 1 for prod, -inf for amax/logsumexp/softmax, ...) with where() and the ordinary op
runs on the result, so gradients (zero at masked-out elements) and jvp come from the primitives.
Rows that are fully masked out give what that gives torch: the identity (sum, amax: -inf),
nan (mean, var, std, median, softmax) or an index into the identity (argmax)."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops import shape as S
from fastgrad._ops.base import make
from fastgrad._ops.elementwise import maximum, sqrt, where

_SMALL_INTS = (np.uint8, np.bool_, np.int8, np.int16, np.int32)


def _canonical_dim(dim, ndim):
    """dim as a sorted tuple of non-negative dims (torch.masked's rule: None and () mean all)."""
    if dim == ():
        dim = None
    if dim is None:
        return tuple(range(ndim))
    ndim = max(ndim, 1)
    dims = []
    for d in ((dim,) if isinstance(dim, (int, np.integer)) else dim):
        if d in dims:
            raise RuntimeError("dim=%d appears multiple times in the list of dims" % d)
        if d >= ndim or d < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got %d)"
                             % (-ndim, ndim - 1, d))
        dims.append(d % ndim)
    return tuple(sorted(dims))


def _all_if_empty(dims, ndim):
    """An empty dim tuple to fastgrad's reductions: every dim (torch reduces all for dim=()), as
    for a 0-d input (whose canonical dim is (0,))."""
    return None if dims == () or ndim == 0 else dims


def _input_mask(input, mask):
    """The mask as a bool tensor of input's shape (broadcast; never of more dims than input)."""
    if mask is None:
        raise ValueError("_input_mask requires explicit mask")
    if mask._data.shape != input._data.shape:
        if mask._data.ndim > input._data.ndim:
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality higher than of the input)")
        return S.broadcast_to(mask, input._data.shape).to(_dtype.bool_)
    return make(mask._data.astype(bool, copy=False))


def _identity(name, input, *args):
    """The identity of reduction `name` as a 0-d tensor of input's dtype (None when undefined)."""
    dt = input._data.dtype
    kind = _dtype.kind(dt)
    if name in ("sum", "cumsum"):
        return make(np.zeros((), dt))
    if name in ("prod", "cumprod"):
        return make(np.ones((), dt))
    if name in ("amax", "argmax", "logaddexp", "logsumexp"):
        if kind in "fc":
            return make(np.full((), -np.inf, dt))
        if kind in "iu" and dt != np.bool_:
            return make(np.full((), np.iinfo(dt).min, dt))
        return None
    if name in ("amin", "argmin"):
        if kind == "f":
            return make(np.full((), np.inf, dt))
        if kind in "iu" and dt != np.bool_:
            return make(np.full((), np.iinfo(dt).max, dt))
        return None
    if name == "norm":
        ord = args[0] if args else 2  # noqa: A001
        if ord == float("-inf"):
            return make(np.full((), np.inf, dt))
        return make(np.zeros((), dt))
    if name == "median":
        return make(np.full((), np.nan, dt if kind == "f" else np.float32))
    if name in ("mean", "var", "std"):
        return None
    raise NotImplementedError("identity of %s on %s input" % (name, input.dtype))


def _combine(name, input, mask, *args):
    """input with its masked-out elements replaced by the identity of `name`."""
    if mask is None:
        return input
    return where(_input_mask(input, mask), input, _identity(name, input, *args))


def _int_to_long(input, dtype):
    if dtype is not None:
        return dtype
    return _dtype.int64 if input._data.dtype in _SMALL_INTS else input.dtype


# --------------------------------------------------------------------------- reductions
def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A001
    from fastgrad._ops.reduction import sum as _sum

    dtype = _int_to_long(input, dtype)
    dims = _canonical_dim(dim, input._data.ndim)
    return _sum(_combine("sum", input, mask), _all_if_empty(dims, input._data.ndim), bool(keepdim), dtype=dtype)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    from fastgrad._ops.reduction_ext import prod as _prod

    dtype = _int_to_long(input, dtype)
    dims = _canonical_dim(dim, input._data.ndim)
    result = _combine("prod", input, mask).to(dtype)
    for d in reversed(dims):
        result = _prod(result, d, bool(keepdim))
    return result


def cumsum(input, dim, *, dtype=None, mask=None):
    from fastgrad._ops.reduction_ext import cumsum as _cumsum

    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input._data.ndim)[0]
    return _cumsum(_combine("sum", input, mask), d, dtype=dtype).to(dtype)


def cumprod(input, dim, *, dtype=None, mask=None):
    from fastgrad._ops.reduction_ext import cumprod as _cumprod

    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input._data.ndim)[0]
    return _cumprod(_combine("prod", input, mask), d, dtype=dtype).to(dtype)


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    from fastgrad._ops.reduction_ext import amax as _amax

    dtype = input.dtype if dtype is None else dtype
    x = _combine("amax", input, mask)
    return _amax(x, _canonical_dim(dim, x._data.ndim), bool(keepdim)).to(dtype)


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    from fastgrad._ops.reduction_ext import amin as _amin

    dtype = input.dtype if dtype is None else dtype
    x = _combine("amin", input, mask)
    return _amin(x, _canonical_dim(dim, x._data.ndim), bool(keepdim)).to(dtype)


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The index of the largest masked-in element (in input's dtype unless dtype says, as torch's)."""
    from fastgrad._ops.reduction import argmax as _argmax

    dtype = input.dtype if dtype is None else dtype
    return _argmax(_combine("argmax", input, mask), dim, bool(keepdim)).to(dtype)


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    from fastgrad._ops.reduction import argmin as _argmin

    dtype = input.dtype if dtype is None else dtype
    return _argmin(_combine("argmin", input, mask), dim, bool(keepdim)).to(dtype)


def _count(input, mask, dim, keepdim):
    """The number of masked-in elements reduced over dim (int64)."""
    if mask is None:
        return sum(make(np.ones(input._data.shape, np.int64)), dim, keepdim=keepdim)
    from fastgrad._ops.reduction import sum as _sum

    inmask = _input_mask(input, mask)
    d = None if dim is None or input._data.ndim == 0 or (isinstance(dim, (tuple, list)) and len(dim) == 0) else dim
    return _sum(inmask, d, bool(keepdim)), inmask


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    source = "Optional"
    if dtype is None:
        dtype, source = input.dtype, "Input"
    dtype = _dtype.to_dtype(dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError("mean(): Could not infer output dtype. %s dtype must be either a floating point or complex "
                         "dtype. Got: torch.%s" % (source, dtype.name))
    if mask is None:
        count = _count(input, None, dim, keepdim)
        total = sum(input, dim, keepdim=keepdim, dtype=dtype)
    else:
        count, inmask = _count(input, mask, dim, keepdim)
        total = sum(input, dim, keepdim=keepdim, dtype=dtype, mask=inmask)
    return total / count


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    """The lower median of the masked-in elements along dim (nan where all are masked out)."""
    from fastgrad._ops.statistics import nanmedian

    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input._data.ndim)[0]
    is_float = _dtype.kind(input._data.dtype) == "f"
    if not is_float:
        input = input.to(_dtype.float32)
    out = nanmedian(_combine("median", input, mask), d, keepdim).values
    if is_float:
        return out
    if not np.isnan(out._data).any():
        return out.to(dtype)
    raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    from fastgrad._ops.reduction_ext import logsumexp as _logsumexp

    dtype = input.dtype if dtype is None else dtype
    dims = _canonical_dim(dim, input._data.ndim)
    return _logsumexp(_combine("logsumexp", input, mask), _all_if_empty(dims, input._data.ndim), keepdim).to(dtype)


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    from fastgrad._ops.math import logaddexp as _logaddexp

    dtype = input.dtype if dtype is None else dtype
    return _logaddexp(_combine("logaddexp", input, input_mask), _combine("logaddexp", other, other_mask)).to(dtype)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    from fastgrad._ops.reduction_ext import vector_norm

    dtype = input.dtype if dtype is None else dtype
    x = _combine("norm", input, mask, ord)
    dims = _all_if_empty(_canonical_dim(dim, input._data.ndim), input._data.ndim)
    if ord == 0:  # the count of nonzeros, with torch's zero gradient
        from fastgrad._ops.elementwise import Piecewise
        from fastgrad._ops.reduction import sum as _sum

        return _sum(Piecewise.apply(x.to(dtype), lambda v: (v != 0).astype(v.dtype)), dims, bool(keepdim))
    return vector_norm(x, ord, dims, bool(keepdim), dtype=dtype)


def _std_var(input, dim, unbiased, correction_opt, keepdim, dtype, mask, take_sqrt):
    if unbiased is not None and correction_opt is not None:
        raise AssertionError("Only one of unbiased and correction may be given")
    correction = 1.0
    if unbiased is not None:
        correction = 1.0 if unbiased else 0.0
    if correction_opt is not None:
        correction = float(correction_opt)
    if dtype is None:
        dtype = input.dtype
        if not (dtype.is_floating_point or dtype.is_complex):
            dtype = _dtype.float32
    dtype = _dtype.to_dtype(dtype)
    compute = dtype if (dtype.is_floating_point or dtype.is_complex) else _dtype.float32
    if mask is None:
        count = _count(input, None, dim, True)
        sample_total = sum(input, dim, keepdim=True, dtype=dtype)
        inmask = None
    else:
        count, inmask = _count(input, mask, dim, True)
        sample_total = sum(input, dim, keepdim=True, dtype=dtype, mask=inmask)
    x = input - sample_total / count
    total = sum(x * x, dim, keepdim=keepdim, dtype=compute, mask=inmask)
    if not keepdim:
        count = S.reshape(count, total._data.shape)
    if correction != 0:
        count = count.to(compute) - correction
        count = maximum(count, make(np.zeros((), count._data.dtype)))
    out = (total / count).to(dtype)
    return sqrt(out) if take_sqrt else out


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, False)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, True)


# --------------------------------------------------------------------------- normalizations
def softmax(input, dim, *, dtype=None, mask=None):
    from fastgrad._ops.nn import softmax as _softmax

    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input._data.ndim)[0]
    return _softmax(_combine("amax", input, mask), d, dtype=dtype)


def log_softmax(input, dim, *, dtype=None, mask=None):
    from fastgrad._ops.nn import log_softmax as _log_softmax

    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input._data.ndim)[0]
    return _log_softmax(_combine("amax", input, mask), d, dtype=dtype)


def softmin(input, dim, *, dtype=None, mask=None):
    from fastgrad._ops.activations import softmin as _softmin

    dtype = input.dtype if dtype is None else dtype
    d = _canonical_dim(dim, input._data.ndim)[0]
    return _softmin(_combine("amin", input, mask), d, dtype=dtype)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):  # noqa: A002
    dtype = input.dtype if dtype is None else dtype
    x = _combine("sum", input, mask)
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return x / maximum(nrm, make(np.full((), eps, nrm._data.dtype)))


__all__ = ["amax", "amin", "argmax", "argmin", "cumprod", "cumsum", "log_softmax", "logaddexp", "logsumexp", "mean",
           "median", "norm", "normalize", "prod", "softmax", "softmin", "std", "sum", "var"]
