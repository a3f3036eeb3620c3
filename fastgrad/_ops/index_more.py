"""Index ops composed of the primitives: put/put_ (flat index writes), index_reduce (prod, mean,
amax, amin along a dim: scatter_reduce with the index spread over source), tril/triu_indices,
unravel_index, nonzero_static, isin, isneginf/isposinf."""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import indexing as I
from fastgrad._ops import shape as S
from fastgrad._ops.base import Op, is_tensor, make, norm_dim, scalar_type_name, shape_str
from fastgrad._ops.gather_scatter import _scatter_count
from fastgrad._ops.reduction import _along_index
from fastgrad._ops import unsigned as U


# --------------------------------------------------------------------------- put
@U.refuses("take_put_cpu")
def put(input, index, source, accumulate=False):
    """input with source's elements written (added, accumulate=True) at the flat indices index."""
    if index._data.dtype != np.int64:
        raise RuntimeError("put_(): Expected a long tensor for index, but got %s" % scalar_type_name(index._data.dtype))
    if source._data.dtype != input._data.dtype:
        raise RuntimeError("put_(): self and source expected to have the same dtype, but got self.dtype = %s and "
                           "source.dtype = %s" % (scalar_type_name(input._data.dtype), scalar_type_name(source._data.dtype)))
    if source._data.size != index._data.size:
        raise IndexError("put_(): Expected source and index to have the same number of elements, but got "
                         "source.numel() = %d, index.numel() = %d" % (source._data.size, index._data.size))
    n = input._data.size
    idx = index._data.reshape(-1)
    if idx.size:
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise IndexError("out of range: tried to access index %d on a tensor of %d elements." % (bad[0], n))
    flat = S.reshape(input, -1)
    out = S.IndexPut.apply(flat, S.reshape(source, -1), (idx % max(n, 1),), bool(accumulate))
    return S.reshape(out, *input._data.shape)


@U.refuses("take_put_cpu")
def put_(input, index, source, accumulate=False):
    return S.inplace(input, put, index, source, accumulate, name="put_")


# --------------------------------------------------------------------------- index_reduce
_INDEX_REDUCE = ("prod", "mean", "amax", "amin")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """input with source's slices along dim reduced into the slices index names (torch.index_reduce):
    scatter_reduce with index spread over source's shape."""
    if reduce not in _INDEX_REDUCE:
        raise RuntimeError("index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got %s." % reduce)
    nd = input._data.ndim
    d = norm_dim(dim, nd)
    idx = index._data
    if idx.ndim > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector, but got dim: %d with type: %s and size: "
                         "%s" % (idx.ndim, scalar_type_name(idx.dtype), shape_str(idx.shape)))
    if idx.dtype not in (np.int64, np.int32):
        raise RuntimeError("index_reduce_(): Expected dtype int32/int64 for index but got: %s"
                           % scalar_type_name(idx.dtype))
    if source._data.dtype != input._data.dtype:
        raise RuntimeError("index_reduce_(): self (%s) and source (%s) must have the same scalar type"
                           % (scalar_type_name(input._data.dtype), scalar_type_name(source._data.dtype)))
    x, src = input, source
    if nd == 0:
        x, src = S.reshape(input, 1), S.reshape(source, -1)
    xs, ss = x._data.shape, src._data.shape
    if len(xs) != len(ss) or any(a != b for k, (a, b) in enumerate(zip(xs, ss)) if k != d):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the specified dimension. Got "
                           "self.shape = %s source.shape = %s" % (shape_str(input._data.shape),
                                                                  shape_str(source._data.shape)))
    idx = idx.reshape(-1).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= xs[d]):
        raise IndexError("index out of range in self")
    if idx.size != ss[d]:
        raise RuntimeError("index_reduce_(): Index should have dimension 1 and the same number of elements as "
                           "source has along dim %d" % d)
    spread = np.ascontiguousarray(np.broadcast_to(idx.reshape((-1,) + (1,) * (len(ss) - d - 1)), ss))
    out = I.scatter_reduce(x, d, make(spread), src, reduce, include_self=include_self)
    dt = x._data.dtype
    if (dt is _dtype.F16 or dt is _dtype.BF16) and reduce in ("prod", "mean"):
        out = S.WithValues.apply(out, _half_steps(x._data, d, spread, src._data, reduce, include_self))
    return S.reshape(out, *input._data.shape) if nd == 0 else out


def _half_steps(x, d, spread, src, reduce, include_self):
    """index_reduce's values as torch computes half precision: rounded after each step."""
    out = np.array(x, copy=True)
    at = _along_index(spread, d, out.ndim)
    if not include_self:
        out[at] = 1 if reduce == "prod" else 0
    (np.multiply if reduce == "prod" else np.add).at(out, at, src)
    if reduce == "mean":
        out = (out / _scatter_count(x.shape, d, spread, include_self).astype(out.dtype)).astype(out.dtype)
    return out


def index_reduce_(input, dim, index, source, reduce, *, include_self=True):
    return S.inplace(input, lambda a, s: index_reduce(a, dim, index, s, reduce, include_self=include_self),
                     source, name="index_reduce_")


# --------------------------------------------------------------------------- index tensors
def _tri_indices(name, row, col, offset, dtype, lower):
    if row < 0:
        raise RuntimeError("row must be non-negative, got%d" % row)
    if col < 0:
        raise RuntimeError("col must be non-negative, got%d" % col)
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.int64
    if d.np not in (np.int64, np.int32):
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (name, scalar_type_name(d.np)))
    if lower:
        r, c = np.tril_indices(row, offset, col)
    else:
        r, c = np.triu_indices(row, offset, col)
    return make(np.stack([r, c]).astype(d.np).reshape(2, -1))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None, pin_memory=False):
    return _tri_indices("tril_indices", int(row), int(col), int(offset), dtype, True)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None, pin_memory=False):
    return _tri_indices("triu_indices", int(row), int(col), int(offset), dtype, False)


def unravel_index(indices, shape):
    """The coordinates of flat indices in shape (floor modulo per dim, as torch: no range check)."""
    a = indices._data if is_tensor(indices) else np.asarray(indices)
    if a.dtype.kind not in "iu":
        raise TypeError("expected 'indices' to be integer dtype, but got torch.%s"
                        % str(_dtype.from_numpy_dtype(a.dtype)).split(".")[-1])
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError("'shape' cannot have negative values, but got %s" % (shape,))
    rest = a.astype(np.int64)
    out = []
    for s in shape[::-1]:
        out.append(make(rest % s if s else np.zeros_like(rest)))
        rest = rest // s if s else rest
    return tuple(out[::-1])


def nonzero_static(input, *, size, fill_value=-1):
    size = int(size)
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    d = input._data
    nz = np.argwhere(d).astype(np.int64)[:size]
    out = np.full((size, d.ndim), fill_value, np.int64)
    out[:len(nz)] = nz
    return make(out)


# --------------------------------------------------------------------------- value tests
def _isin_arg(x):
    a = x._data if is_tensor(x) else np.asarray(x)
    if a.dtype == np.bool_ or a.dtype.kind == "c":
        raise RuntimeError("Unsupported input type encountered for isin(): %s" % scalar_type_name(a.dtype))
    return a.astype(np.float32) if a.dtype is _dtype.BF16 else a


@U.refuses("isin_default_cpu", skip=U.SKIPS["isin"])
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    a, b = _isin_arg(elements), _isin_arg(test_elements)
    return make(np.isin(a, b, invert=bool(invert)))


def _isinf_sign(name, input, sign):
    a = input._data
    if a.dtype.kind == "c":
        raise RuntimeError("%s does not support complex inputs." % name)
    if a.dtype.kind not in "f" and a.dtype is not _dtype.BF16:
        return make(np.zeros(a.shape, np.bool_))
    return make(a == sign * np.inf)


def isneginf(input, *, out=None):
    return _isinf_sign("isneginf", input, -1)


def isposinf(input, *, out=None):
    return _isinf_sign("isposinf", input, 1)


__all__ = ["put", "index_reduce", "tril_indices", "triu_indices", "unravel_index", "nonzero_static", "isin",
           "isneginf", "isposinf"]
