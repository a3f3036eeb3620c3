"""Ops for the less common nn.functional entries: pdist (with torch's backward rules at zero
distances and p = inf ties) and a zero-gradient link (grid_sample's nearest mode gives its
grid a zero gradient, as torch does)."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import Op, make, scalar_type_name
from fastgrad._ops.elementwise import where
from fastgrad._ops.indexing import index_add, index_select


def _pdist_array(a, p, i, j):
    diff = np.abs(a[i] - a[j])
    if diff.shape[1] == 0:
        return np.zeros(diff.shape[0], a.dtype)
    if p == 0:
        d = np.count_nonzero(diff, axis=1)
    elif p == 1:
        d = diff.sum(1)
    elif p == 2:
        d = np.sqrt((diff * diff).sum(1))
    elif p == float("inf"):
        d = diff.max(1)
    else:
        d = (diff ** p).sum(1) ** (1.0 / p)
    return np.asarray(d, a.dtype)


def _pdist_coef(x, dist, p, i, j):
    """d dist[k] / d (x[i[k]] - x[j[k]]) as a differentiable (M, D) tensor (torch's _pdist_backward)."""
    diff = index_select(x, 0, i) - index_select(x, 0, j)
    if p == 0:
        return diff * 0.0
    if p == 1:
        return diff.sign()
    d = dist.unsqueeze(1)
    zero = make(np.zeros((), x._data.dtype))
    if p == float("inf"):
        return diff.sign() * (diff.abs() == d).to(x.dtype)
    d_zero = d == 0
    d_safe = where(d_zero, make(np.ones((), x._data.dtype)), d)
    if p == 2:
        return where(d_zero, zero, diff / d_safe)
    mask = d_zero | (diff == 0) if p < 1 else d_zero.expand(*diff.shape)
    a_safe = where(diff == 0, make(np.ones((), x._data.dtype)), diff.abs())
    return where(mask, zero, diff.sign() * a_safe.pow(p - 1) / d_safe.pow(p - 1))


class Pdist(Op):
    """The p-norm distances of every pair of rows i < j of x (N, D), in torch's order."""

    @staticmethod
    def forward(ctx, x, p):
        n = x._data.shape[0]
        i, j = np.triu_indices(n, 1)
        ctx.p, ctx.ij = p, (make(i.astype(np.int64)), make(j.astype(np.int64)))
        ctx.save_for_backward(x)
        return _pdist_array(x._data, p, i, j)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        i, j = ctx.ij
        term = _pdist_coef(x, Pdist.apply(x, ctx.p), ctx.p, i, j) * g.unsqueeze(1)
        zeros = make(np.zeros(x._data.shape, x._data.dtype))
        return index_add(index_add(zeros, 0, i, term), 0, j, term, alpha=-1), None

    @staticmethod
    def jvp(ctx, t, p):
        (x,) = ctx.saved_tensors
        i, j = ctx.ij
        coef = _pdist_coef(x, Pdist.apply(x, p), p, i, j)
        return (coef * (index_select(t, 0, i) - index_select(t, 0, j))).sum(1)


def pdist(input, p=2):
    """The p-norm distance of every pair of rows i < j of input (N, M): N (N - 1) / 2 values."""
    if input._data.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input._data.ndim}D")
    if _dtype.kind(input._data.dtype) != "f":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    if _dtype.is_half(input._data.dtype) and input._data.shape[0] > 1:  # torch's kernel: float32/float64 only
        raise NotImplementedError(f"\"pdist\" not implemented for '{scalar_type_name(input._data.dtype)}'")
    return Pdist.apply(input, float(p))


class ZeroGradLink(Op):
    """A 0-d zero that depends on x: adding it to an output gives x a zero gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape, ctx.dtype = x._data.shape, x._data.dtype
        return np.zeros((), x._data.dtype)

    @staticmethod
    def backward(ctx, g):
        return make(np.zeros(ctx.shape, ctx.dtype))

    @staticmethod
    def jvp(ctx, t):
        return make(np.zeros((), ctx.dtype))


class GradScale(Op):
    """Identity forward; backward scales the gradient's rows by coef (embedding_bag's
    scale_grad_by_freq, with torch's per-index factors)."""

    @staticmethod
    def forward(ctx, x, coef):
        ctx.coef = coef
        return x._data.copy()

    @staticmethod
    def backward(ctx, g):
        return g * make(ctx.coef), None

    @staticmethod
    def jvp(ctx, t, coef):
        return t
