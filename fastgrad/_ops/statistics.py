"""Statistics: cov/corrcoef (fweights, aweights, correction), quantile/nanquantile (five
interpolation modes), nanmedian, mode, and the histograms histc/histogram/histogramdd.

cov, corrcoef and quantile are compositions written as ATen writes them (sort + gather + lerp
for quantile, so the gradient reaches the input and q); nanmedian and mode gather the chosen
elements (their gradient goes to the selected positions); the histograms have no gradient."""
import collections
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import shape as S
from fastgrad._ops.base import is_tensor, make, norm_dim, scalar_type_name
from fastgrad._ops.elementwise import where
from fastgrad._ops.math_more import with_out
from fastgrad._ops import unsigned as U

_nanmedian_t = collections.namedtuple("nanmedian", ["values", "indices"])
_mode_t = collections.namedtuple("mode", ["values", "indices"])
_histogram_t = collections.namedtuple("histogram", ["hist", "bin_edges"])
_histogramdd_t = collections.namedtuple("histogramdd", ["hist", "bin_edges"])


# --------------------------------------------------------------------------- cov, corrcoef
def _cov_weights(name, w, n, integral):
    """cov's fweights (integral) or aweights (floating point): torch's checks, worded as its."""
    if w._data.ndim > 1:
        raise RuntimeError("cov(): expected %s to have one or fewer dimensions but got %s with %d dimensions"
                           % (name, name, w._data.ndim))
    if (w._data.dtype.kind not in "iu") if integral else (_dtype.kind(w._data.dtype) != "f"):
        raise RuntimeError("cov(): expected %s to have %s dtype but got %s with %s dtype"
                           % (name, "integral" if integral else "floating point", name,
                              scalar_type_name(w._data.dtype)))
    if w._data.size != n:
        raise RuntimeError("cov(): expected %s to have the same numel as there are observations in the input "
                           "but got %d != %d" % (name, w._data.size, n))
    if n and w._data.min() < 0:
        raise RuntimeError("cov(): %s cannot be negative" % name)
    return w


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in input's rows (observations in its columns)."""
    from fastgrad._ops.linalg import mm

    if input._data.ndim > 2:
        raise RuntimeError("cov(): expected input to have two or fewer dimensions but got an input with %d dimensions"
                           % input._data.ndim)
    if input._data.dtype == np.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    if input._data.dtype.kind == "c":  # needs conj(), which fastgrad does not have yet
        raise NotImplementedError("cov(): complex inputs are not supported by fastgrad")
    x = input if input._data.ndim == 2 else S.reshape(input, (1, -1))
    n = x._data.shape[1]
    w = None
    if fweights is not None:
        w = _cov_weights("fweights", fweights, n, integral=True)
    if aweights is not None:
        aw = _cov_weights("aweights", aweights, n, integral=False)
        w = aw if w is None else w * aw
    if w is not None:
        w_sum = w.sum()
        if not np.any(w_sum._data != 0):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (x * w).sum(1) / w_sum
    else:
        w_sum = make(np.asarray(n, np.int64))
        avg = x.sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm_factor = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm_factor = w_sum - correction
    if np.all(norm_factor._data <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
        norm_factor = norm_factor.detach() * 0
    x = x - S.unsqueeze(avg, 1)
    c = mm(x, S.t(x * w if w is not None else x))
    return S.squeeze(c / norm_factor)


def corrcoef(input):
    """Pearson's correlation coefficients of input's rows, clipped to [-1, 1]."""
    from fastgrad._ops.elementwise import clamp, sqrt
    from fastgrad._ops.indexing import diagonal

    if input._data.ndim > 2:
        raise RuntimeError("corrcoef(): expected input to have two or fewer dimensions but got an input with %d "
                           "dimensions" % input._data.ndim)
    c = cov(input)
    if c._data.ndim == 0:
        return c / c
    sd = sqrt(diagonal(c))
    c = c / S.reshape(sd, (-1, 1))
    c = c / S.reshape(sd, (1, -1))
    return clamp(c, -1, 1)


# --------------------------------------------------------------------------- quantile
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    from fastgrad._ops.gather_scatter import gather_unchecked
    from fastgrad._ops.sorting import sort

    name = "quantile()"
    if _dtype.kind(input._data.dtype) != "f" or input._data.dtype not in (np.float32, np.float64):
        raise RuntimeError("%s input tensor must be either float or double dtype" % name)
    if is_tensor(q):
        if q._data.dtype != input._data.dtype:
            raise RuntimeError("%s q tensor must be same dtype as the input tensor" % name)
        if q._data.ndim > 1:
            raise RuntimeError("%s q must be a scalar or 1D tensor" % name)
        if q._data.size and (q._data.min() < 0 or q._data.max() > 1):
            raise RuntimeError("%s q values must be in the range [0, 1]" % name)
    else:
        q = float(q)
        if not 0 <= q <= 1:
            raise RuntimeError("%s q must be in the range [0, 1] but got %s" % (name, _fmt(q)))
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError("%s interpolation must be one of linear, lower, higher, midpoint or nearest, but got %s"
                           % (name, interpolation))
    if input._data.size == 0:
        raise RuntimeError("%s input tensor must be non-empty" % name)
    nd = input._data.ndim
    if dim is None:
        x = S.reshape(input, -1)
        out_shape = (1,) * nd if keepdim else ()
    else:
        d = norm_dim(dim, nd)
        x = S.reshape(input, 1) if nd == 0 else input
        from fastgrad._ops.indexing import movedim

        x = movedim(x, d if nd else 0, -1)
        shp = list(input._data.shape)
        if keepdim and nd:
            shp[d] = 1
        elif nd:
            del shp[d]
        out_shape = tuple(shp)
    srt = sort(x, -1).values  # NaN sorts last
    n = srt._data.shape[-1]
    qt = q if is_tensor(q) else make(np.asarray(q, input._data.dtype))
    qv = S.reshape(qt, (-1,) + (1,) * srt._data.ndim)  # (Q, 1, ..., 1): one row per q
    isnan = np.isnan(srt._data)
    if ignore_nan:
        valid = (~isnan).sum(-1, keepdims=True)
        ranks = qv * make((valid - 1).astype(srt._data.dtype))
        allnan = valid == 0
        ranks = where(make(np.broadcast_to(allnan, ranks._data.shape) if allnan.size else allnan),
                      make(np.asarray(n - 1, srt._data.dtype)), ranks)
    else:
        ranks = qv * float(n - 1)
        anynan = isnan.any(-1, keepdims=True)
        ranks = where(make(anynan), make(np.asarray(n - 1, srt._data.dtype)), ranks)
    target = (qv._data.shape[0],) + srt._data.shape[:-1] + (1,)
    if ranks._data.shape != target:
        ranks = S.expand(ranks, *target)
    r = ranks._data
    sb = S.expand(S.unsqueeze(srt, 0), *(r.shape[0],) + srt._data.shape)
    if interpolation in ("lower", "higher", "nearest"):
        idx = (np.floor(r) if interpolation == "lower" else np.ceil(r) if interpolation == "higher" else np.round(r))
        idx = np.broadcast_to(idx.astype(np.int64), r.shape[:-1] + (1,))
        res = gather_unchecked(sb, -1, make(np.ascontiguousarray(idx)))
    else:
        lo = np.broadcast_to(np.floor(r).astype(np.int64), r.shape[:-1] + (1,))
        hi = np.broadcast_to(np.ceil(r).astype(np.int64), r.shape[:-1] + (1,))
        below = gather_unchecked(sb, -1, make(np.ascontiguousarray(lo)))
        above = gather_unchecked(sb, -1, make(np.ascontiguousarray(hi)))
        if interpolation == "midpoint":
            wt = make(np.full(below._data.shape, 0.5, srt._data.dtype))
        else:
            wt = S.expand(ranks - make(np.floor(r)), *below._data.shape)
        res = _lerp(below, above, wt)
    res = S.squeeze(res, -1)  # (Q, *rest)
    if is_tensor(q) and q._data.ndim == 1:
        return S.reshape(res, (q._data.shape[0],) + out_shape)
    return S.reshape(res, out_shape)


def _lerp(a, b, w):
    """ATen's lerp: a + w * (b - a) for w < 0.5, else b - (b - a) * (1 - w)."""
    small = make(np.abs(w._data) < 0.5)
    return where(small, a + w * (b - a), b - (b - a) * (1 - w))


def _fmt(v):
    return "%g" % v


@with_out
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, False)


@with_out
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, True)


# --------------------------------------------------------------------------- nanmedian, mode
@U.refuses("median_cpu")
@with_out
def nanmedian(input, dim=None, keepdim=False):
    """The lower median ignoring NaN (NaN where a row is all NaN); with dim, (values, indices)."""
    from fastgrad._ops.gather_scatter import gather_unchecked
    from fastgrad._ops.sorting import _argsort

    if dim is None:
        flat = S.reshape(input, -1)
        a = flat._data
        if a.size == 0:
            return make(np.asarray(np.nan, a.dtype)) if _dtype.kind(a.dtype) == "f" else make(np.zeros((), a.dtype))
        order = _argsort(a, 0, False)
        valid = int((~np.isnan(a)).sum()) if _dtype.kind(a.dtype) == "f" else a.size
        k = max(valid - 1, 0) // 2
        return S.reshape(gather_unchecked(flat, 0, make(order[k:k + 1].astype(np.int64))), ())
    nd = input._data.ndim
    d = norm_dim(dim, nd) if nd else 0
    x = input if nd else S.reshape(input, 1)
    if x._data.shape[d] == 0:
        raise IndexError("median(): Expected reduction dim %d to have non-zero size." % d)
    a = x._data
    order = _argsort(a, d, False)
    valid = (~np.isnan(a)).sum(d, keepdims=True) if _dtype.kind(a.dtype) == "f" else np.full(
        a.shape[:d] + (1,) + a.shape[d + 1:], a.shape[d])
    k = np.maximum(valid - 1, 0) // 2
    idx = np.take_along_axis(order, k, d).astype(np.int64)
    vals = gather_unchecked(x, d, make(idx))
    if not keepdim or nd == 0:
        vals, idx = S.squeeze(vals, d), idx.squeeze(d)
    return _nanmedian_t(vals, make(idx))


@U.refuses("mode_cpu", skip=U.SKIPS["mode"])
@with_out
def mode(input, dim=-1, keepdim=False):
    """The most frequent value along dim (the smallest among ties) and its last index."""
    from fastgrad._ops.gather_scatter import gather_unchecked

    nd = input._data.ndim
    d = norm_dim(dim, nd) if nd else 0
    x = input if nd else S.reshape(input, 1)
    n = x._data.shape[d]
    if n == 0:
        raise IndexError("mode(): Expected reduction dim %d to have non-zero size." % d)
    a = np.moveaxis(x._data, d, -1)
    lead = a.shape[:-1]
    rows = a.reshape(-1, n)
    key = rows.astype(np.int64) if rows.dtype == np.bool_ else rows
    order = np.argsort(key, axis=-1, kind="stable")
    s = np.take_along_axis(key, order, -1)
    pos = np.arange(n)
    new = np.ones(s.shape, bool)
    if n > 1:
        new[:, 1:] = s[:, 1:] != s[:, :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    count = pos - start + 1
    best = count.max(-1, keepdims=True)
    first = np.argmax(count == best, axis=-1)  # where the smallest most frequent value's run ends
    idx = order[np.arange(order.shape[0]), first]  # the stable sort's last: torch's last index
    idx = idx.reshape(lead + (1,)).astype(np.int64)
    idx = np.moveaxis(idx, -1, d)
    vals = gather_unchecked(x, d, make(np.ascontiguousarray(idx)))
    if not keepdim or nd == 0:
        vals, idx = S.squeeze(vals, d), idx.squeeze(d)
    return _mode_t(vals, make(np.array(idx)))


# --------------------------------------------------------------------------- histograms
def _linspace(lo, hi, steps, dt):
    """torch.linspace's CPU formula in dtype dt (start + i * step, the second half from the end)."""
    lo, hi = dt.type(lo), dt.type(hi)
    if steps == 1:
        return np.asarray([lo], dt)
    step = dt.type((hi - lo) / dt.type(steps - 1))
    i = np.arange(steps)
    half = steps // 2
    return np.where(i < half, lo + step * i.astype(dt), hi - step * (steps - 1 - i).astype(dt)).astype(dt)


def _bin_positions(x, edges, mode):
    """Bin index of each element of x (1-d) against edges; -1 when outside them."""
    nb = edges.size
    lo, hi = edges[0], edges[-1]
    inside = (x >= lo) & (x <= hi)
    if mode == "search":
        pos = np.searchsorted(edges, x, "right") - 1
    else:
        with np.errstate(all="ignore"):
            p = (x - lo) * x.dtype.type(nb - 1) / (hi - lo)
        pos = np.where(inside, p, 0).astype(np.int64)
        if mode == "local":
            lo_i = np.maximum(pos - 1, 0)
            cand = np.stack([np.minimum(lo_i + j, nb - 1) for j in range(3)], -1)
            limit = np.minimum(pos + 2, nb)
            ok = (edges[cand] <= x[:, None]) & (lo_i[:, None] + np.arange(3) < limit[:, None])
            pos = lo_i + ok.sum(-1) - 1
    pos = np.where(pos == nb - 1, pos - 1, pos)
    return np.where(inside, pos, -1)


def _outer_edges(x, rng, dim_i, n_dims):
    if rng is not None:
        lo, hi = float(rng[2 * dim_i]), float(rng[2 * dim_i + 1])
    elif x.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = float(x.min()), float(x.max())
    if lo > hi:
        raise RuntimeError("torch.histogramdd: min should not exceed max, but got min %s max %s for dimension %d"
                           % (_g(lo), _g(hi), dim_i))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError("torch.histogramdd: dimension %d's range [%s, %s] is not finite" % (dim_i, _g(lo), _g(hi)))
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _g(v):
    return "%g" % v


def _histdd(x, bins, rng, weight, density, name):
    """x: (N, D) array; bins: int, list of ints or list of edge arrays; returns (hist, [edges])."""
    n, D = x.shape
    dt = x.dtype
    if isinstance(bins, (int, np.integer)):
        bins = [int(bins)] * D
    if len(bins) != D:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    if rng is not None and len(rng) != 2 * D:
        raise RuntimeError("%s: for a %d-dimensional histogram range should have %d elements, but got %d"
                           % (name, D, 2 * D, len(rng)))
    edges, modes = [], []
    for i, b in enumerate(bins):
        if is_tensor(b):
            e = b._data
            if e.ndim != 1:
                raise RuntimeError("%s: bins tensor should have one dimension, but got %d dimensions in the bin tensor "
                                   "for dimension %d" % (name, e.ndim, i))
            if e.size == 0:
                raise RuntimeError("%s: bins tensor should have at least 1 element, but got 0 elements in the bin "
                                   "tensor for dimension %d" % (name, i))
            edges.append(e.astype(dt, copy=False))
            modes.append("search")
        else:
            b = int(b)
            if b <= 0:
                raise RuntimeError("torch.histogram(): bins must be > 0, but got %d for dimension %d" % (b, i))
            lo, hi = _outer_edges(x[:, i], rng, i, D)
            edges.append(_linspace(lo, hi, b + 1, dt))
            modes.append("local")
    shape = tuple(max(e.size - 1, 0) for e in edges)
    hist = np.zeros(shape, dt)
    if n and all(shape):
        pos = np.stack([_bin_positions(x[:, i], edges[i], modes[i]) for i in range(D)], -1)
        keep = (pos >= 0).all(-1)
        w = np.ones(n, dt) if weight is None else weight.reshape(-1).astype(dt, copy=False)
        np.add.at(hist, tuple(pos[keep].T), w[keep])
    if density:
        with np.errstate(all="ignore"):
            hist = hist / hist.sum()
            for i, e in enumerate(edges):
                s = [1] * D
                s[i] = -1
                hist = hist / np.diff(e).reshape(s)
        hist = hist.astype(dt, copy=False)
    return hist, edges


def _check_hist_input(input, weight, name):
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (name, scalar_type_name(input._data.dtype)))
    if weight is not None and weight._data.dtype != input._data.dtype:
        raise RuntimeError("torch.histogramdd: if weight tensor is provided, input tensor and weight tensor should have "
                           "the same dtype, but got input(%s), and weight(%s)" % (_ctype(input), _ctype(weight)))


def _ctype(t):
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}.get(
        t._data.dtype.name, t._data.dtype.name)


def _wide(a):
    return a.astype(np.float32) if _dtype.is_half(a.dtype) else a


@U.refuses("aminmax_cpu")
@with_out
def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """Counts of input's elements in bins equal-width bins over [min, max] (the data's range when
    min == max); elements outside are ignored. No gradient."""
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError('"histogram_cpu" not implemented for \'%s\'' % scalar_type_name(input._data.dtype))
    if bins <= 0:
        raise RuntimeError("torch.histogram(): bins must be > 0, but got %d for dimension 0" % bins)
    a = input._data.reshape(-1)  # float16/bfloat16 binned in their own arithmetic, as torch's kernel
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError("torch.histc: range of [%s, %s] is not finite" % (_g(lo), _g(hi)))
    edges = _linspace(lo, hi, int(bins) + 1, a.dtype)
    pos = _bin_positions(a, edges, "linear")
    hist = np.bincount(pos[pos >= 0], minlength=int(bins)).astype(input._data.dtype)
    return make(hist)


@U.refuses("histogramdd")
@with_out
def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """(hist, bin_edges) of input's elements: bins equal-width bins over range (the data's range by
    default) or the given edges; weight per element; density normalises to unit integral."""
    _check_hist_input(input, weight, "histogram_cpu" if is_tensor(bins) else "histogramdd")
    a = _wide(input._data).reshape(-1, 1)
    w = None if weight is None else _wide(weight._data)
    hist, edges = _histdd(a, [bins], range, w, density, "torch.histogram")
    dt = input._data.dtype
    return _histogram_t(make(hist.astype(dt)), make(edges[0].astype(dt)))


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):  # noqa: A002
    """The D-dimensional histogram of the points in input's last dimension: (hist, [bin edges])."""
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError('"histogramdd" not implemented for \'%s\'' % scalar_type_name(input._data.dtype))
    _check_hist_input(input, weight, "histogram_cpu" if is_tensor(bins) else "histogramdd")
    if input._data.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions, but got %d"
                           % input._data.ndim)
    D = input._data.shape[-1]
    a = _wide(input._data).reshape(-1, D)
    w = None if weight is None else _wide(weight._data)
    hist, edges = _histdd(a, bins, range, w, density, "torch.histogramdd")
    dt = input._data.dtype
    return _histogramdd_t(make(hist.astype(dt)), tuple(make(e.astype(dt)) for e in edges))


__all__ = ["cov", "corrcoef", "quantile", "nanquantile", "nanmedian", "mode", "histc", "histogram", "histogramdd"]
