"""Sorting and selection: sort, argsort, topk, kthvalue, median, unique, searchsorted, bincount.

Values are gathered from the input with the computed indices (GatherDim), so their gradient
flows back to the selected positions; indices are plain integer tensors."""
import collections

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import shape as S
from fastgrad._ops.base import make, norm_dim
from fastgrad._ops.gather_scatter import gather_unchecked
from fastgrad._ops import unsigned as U

values_indices = collections.namedtuple("return_types", ["values", "indices"])


def _argsort(a, axis, descending, stable=True):
    if a.dtype == np.bool_ or a.dtype.kind == "u":
        a = a.astype(np.int64)
    if descending:
        # NaN counts as the largest value (PyTorch and NumPy agree)
        key = np.where(np.isnan(a), -np.inf, -a) if _dtype.kind(a.dtype) == "f" else -a
        if _dtype.kind(a.dtype) == "f":
            order = np.argsort(key, axis=axis, kind="stable")
            nan_first = np.argsort(~np.isnan(np.take_along_axis(a, order, axis)), axis=axis, kind="stable")
            return np.take_along_axis(order, nan_first, axis)
        return np.argsort(key, axis=axis, kind="stable")
    return np.argsort(a, axis=axis, kind="stable")


def sort(input, dim=-1, descending=False, stable=False):
    if input._data.ndim == 0:
        return values_indices(input.clone(), make(np.zeros((), np.int64)))
    d = norm_dim(dim, input._data.ndim)
    idx = make(_argsort(input._data, d, descending).astype(np.int64))
    return values_indices(gather_unchecked(input, d, idx), idx)


def argsort(input, dim=-1, descending=False, stable=False):
    if input._data.ndim == 0:
        return make(np.zeros((), np.int64))
    d = norm_dim(dim, input._data.ndim)
    return make(_argsort(input._data, d, descending).astype(np.int64))


def msort(input):
    return sort(input, 0).values


@U.refuses("topk_cpu", skip=U.SKIPS["topk"])
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    if input._data.ndim == 0:
        if k > 1:
            raise RuntimeError("selected index k out of range")
        return values_indices(input.clone(), make(np.zeros((), np.int64)))
    d = norm_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if k < 0 or k > n:
        raise RuntimeError("selected index k out of range")
    order = _argsort(input._data, d, largest)
    idx = make(np.ascontiguousarray(np.take(order, np.arange(k), axis=d)).astype(np.int64))
    return values_indices(gather_unchecked(input, d, idx), idx)


@U.refuses("kthvalue_cpu", skip=U.SKIPS["kthvalue"])
def kthvalue(input, k, dim=-1, keepdim=False):
    d = norm_dim(dim, input._data.ndim) if input._data.ndim else 0
    x = input if input._data.ndim else S.reshape(input, 1)
    n = x._data.shape[d]
    if k < 1 or k > n:
        raise IndexError("kthvalue(): selected number k out of range for dimension %d" % d)
    order = _argsort(x._data, d, False)
    idx = np.take(order, [k - 1], axis=d).astype(np.int64)
    vals = gather_unchecked(x, d, make(idx))
    if not keepdim or input._data.ndim == 0:
        vals, idx = S.squeeze(vals, d), idx.squeeze(d)
    return values_indices(vals, make(idx))


@U.refuses("median_cpu")
def median(input, dim=None, keepdim=False):
    """The lower median (PyTorch); with dim, (values, indices)."""
    if dim is None:
        flat = S.reshape(input, -1)
        n = flat._data.shape[0]
        if n == 0:  # nan, on the graph as torch's (the input's gradient is empty)
            return flat.sum() + float("nan") if _dtype.kind(input._data.dtype) == "f" else make(np.asarray(np.nan, input._data.dtype))
        order = _argsort(flat._data, 0, False)
        nan = np.isnan(flat._data).any() if _dtype.kind(flat._data.dtype) == "f" else False
        k = n - 1 if nan else (n - 1) // 2
        return flat[int(order[k])]
    r = kthvalue(input, ((input._data.shape[norm_dim(dim, input._data.ndim)] - 1) // 2 + 1) if input._data.ndim else 1,
                 dim, keepdim)
    return r


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    if dim is not None:
        d = norm_dim(dim, input._data.ndim)
        res = np.unique(input._data, return_inverse=True, return_counts=True, axis=d)
    else:
        res = np.unique(input._data, return_inverse=True, return_counts=True)
    vals, inv, counts = res
    out = [make(vals)]
    if return_inverse:
        shape = input._data.shape if dim is None else (input._data.shape[d],)
        out.append(make(inv.reshape(shape).astype(np.int64)))
    if return_counts:
        out.append(make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """The first of each run of equal elements (with dim: of equal slices along dim)."""
    d = 0 if dim is None else norm_dim(dim, max(input._data.ndim, 1))
    a = input._data.reshape(-1) if dim is None else np.moveaxis(input._data, d, 0)
    n = a.shape[0] if a.ndim else 1
    if n == 0:
        starts = np.zeros(0, np.int64)
    else:
        change = (a[1:] != a[:-1]).reshape(n - 1, int(np.prod(a.shape[1:]))).any(1)
        starts = np.concatenate([[0], np.nonzero(change)[0] + 1]).astype(np.int64)
    out = [make(np.ascontiguousarray(a[starts] if dim is None else np.take(input._data, starts, axis=d)))]
    if return_inverse:
        inv = np.cumsum(np.isin(np.arange(n), starts)) - 1
        out.append(make(inv.reshape(input._data.shape if dim is None else (n,)).astype(np.int64)))
    if return_counts:
        out.append(make(np.diff(np.append(starts, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@U.refuses("searchsorted_out_cpu", skip=U.SKIPS["searchsorted"])
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    s = sorted_sequence._data
    if sorter is not None:  # s sorted by the indices sorter gives
        s = np.take_along_axis(s, sorter._data, -1)
    v = input._data if hasattr(input, "_data") else np.asarray(input)
    side = side or ("right" if right else "left")
    if s.ndim == 1:
        res = np.searchsorted(s, v, side=side)
    else:
        res = np.stack([np.searchsorted(s[i], v[i], side=side) for i in np.ndindex(*s.shape[:-1])])
        res = res.reshape(v.shape)
    return make(np.asarray(res, np.int32 if out_int32 else np.int64))


@U.refuses("searchsorted_out_cpu")
def bucketize(input, boundaries, *, out_int32=False, right=False):
    res = np.searchsorted(boundaries._data, input._data if hasattr(input, "_data") else input,
                          side="right" if right else "left")
    return make(np.asarray(res, np.int32 if out_int32 else np.int64))


@U.refuses("bincount_cpu")
def bincount(input, weights=None, minlength=0):
    if input._data.ndim != 1 or input._data.dtype.kind not in "iu":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if input._data.size and input._data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    w = None if weights is None else weights._data
    res = np.bincount(input._data, w, minlength)
    return make(res if w is not None else res.astype(np.int64))


__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "unique", "unique_consecutive",
           "searchsorted", "bucketize", "bincount"]
