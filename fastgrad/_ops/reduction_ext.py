"""More reductions: amax/amin, prod, var/std (correction), norms, logsumexp, cumsum/cumprod,
all/any, nansum/nanmean.

The norms are compositions (sum, abs, amax and Root, a p-th root whose gradient is 0 where
its argument is 0, as PyTorch masks it), so their double backward comes for free."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import float32_compute, Op, make, scalar_type_name, norm_dim, norm_dims, out_dtype_of_reduction
from fastgrad._ops.elementwise import abs, exp, isnan, sign, where
from fastgrad._ops.reduction import _dims_arg, _keep, mean, sum
from fastgrad._ops import unsigned as U


def _axes(x, dim):
    return norm_dims(dim, x._data.ndim) if x._data.ndim else ()


def _unsqueeze_back(g, ctx):
    """A reduction's output gradient reshaped so it broadcasts against the input."""
    if ctx.keepdim:
        return g
    return g.reshape(_keep(ctx.in_shape, ctx.axes))


class AMax(Op):
    """amax/amin: the gradient is shared evenly among tied extrema (PyTorch)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_max):
        d = x._data
        for a in axes:
            if d.shape[a] == 0:
                raise IndexError("%s(): Expected reduction dim %d to have non-zero size."
                                 % ("amax" if is_max else "amin", a))
        y = (np.max if is_max else np.min)(d, axis=axes, keepdims=True)
        ctx.in_shape, ctx.axes, ctx.keepdim = d.shape, axes, keepdim
        if ctx.needs_input_grad and ctx.needs_input_grad[0]:
            mask = d == y  # a nan result matches nothing: 0 / 0, nan gradients, as torch's amax
            with np.errstate(invalid="ignore"):
                ctx.save_for_backward(mask / mask.sum(axis=axes, keepdims=True))
        return y if keepdim else y.reshape([s for i, s in enumerate(d.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return _unsqueeze_back(g, ctx) * w, None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        (w,) = ctx.saved_tensors
        return (t * w).sum(ctx.axes, keepdim=ctx.keepdim)


class Prod(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.in_shape, ctx.axes, ctx.keepdim = x._data.shape, axes, keepdim
        y = np.prod(x._data, axis=axes, keepdims=keepdim, dtype=dtype)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _unsqueeze_back(g, ctx) * _prod_others(x, _unsqueeze_back(y, ctx), ctx.axes), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        x, y = ctx.saved_tensors
        return (t * _prod_others(x, _unsqueeze_back(y, ctx), ctx.axes)).sum(ctx.axes, keepdim=ctx.keepdim)


def _prod_others(x, y_keep, axes):
    """d prod / d x_i: the product of the other elements along axes (zero-safe)."""
    if (x._data != 0).all():
        return y_keep / x
    if x._data.size == 0:
        return make(np.zeros_like(x._data))
    from fastgrad._ops.indexing import cat, flip

    others = [a for a in range(x._data.ndim) if a not in axes]
    order = others + list(axes)
    shp = x._data.shape
    xm = x.permute(*order).reshape(tuple(shp[a] for a in others) + (-1,))
    one = make(np.ones(xm._data.shape[:-1] + (1,), xm._data.dtype))
    left = cumprod(cat([one, xm[..., :-1]], -1), -1)
    right = flip(cumprod(cat([one, flip(xm, -1)[..., :-1]], -1), -1), -1)
    out = (left * right).reshape(tuple(shp[a] for a in order))
    return out.permute(*np.argsort(order).tolist())


class Cumsum(Op):
    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        return np.cumsum(x._data, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        from fastgrad._ops.indexing import flip

        return flip(Cumsum.apply(flip(g, ctx.dim), ctx.dim, None), ctx.dim), None, None

    @staticmethod
    def jvp(ctx, t, dim, dtype):
        return Cumsum.apply(t, dim, None)


class Cumprod(Op):
    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        y = np.cumprod(x._data, axis=dim, dtype=dtype)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _cumprod_grad(x, y, g, ctx.dim), None, None

    @staticmethod
    def jvp(ctx, t, *_):
        x, y = ctx.saved_tensors
        # d y_k = sum_{i <= k} t_i * prod_{j <= k, j != i} x_j
        from fastgrad._ops.indexing import narrow, stack

        n = x._data.shape[ctx.dim]
        cols = []
        for k in range(n):
            xk, tk = narrow(x, ctx.dim, 0, k + 1), narrow(t, ctx.dim, 0, k + 1)
            yk = narrow(y, ctx.dim, k, 1)
            cols.append((tk * _prod_others(xk, yk, (ctx.dim,))).sum(ctx.dim))
        return stack(cols, ctx.dim) if cols else t * 0.0


def _cumprod_grad(x, y, g, dim):
    """sum_{k >= i} g_k * prod_{j <= k, j != i} x_j."""
    from fastgrad._ops.indexing import flip, stack

    if (x._data != 0).all():
        return flip(Cumsum.apply(flip(g * y, dim), dim, None), dim) / x
    n = x._data.shape[dim]
    cols = []
    for i in range(n):  # zeros present: the exact O(n^2) sum, still differentiable
        onehot = np.zeros(n, bool)
        onehot[i] = True
        shape = [1] * x._data.ndim
        shape[dim] = n
        sel = make(onehot.reshape(shape))
        xi = where(sel, make(np.ones((), x._data.dtype)), x)
        later = make((np.arange(n) >= i).reshape(shape))
        cols.append((g * Cumprod.apply(xi, dim, None) * later).sum(dim))
    return stack(cols, dim)


class Root(Op):
    """s ** (1/p) for s >= 0; the gradient is 0 where s == 0 (PyTorch's masked norm gradient)."""

    @staticmethod
    def forward(ctx, s, p):
        ctx.p = p
        y = np.sqrt(s._data) if p == 2 else np.power(s._data, 1.0 / p)
        ctx.save_for_backward(s, y)
        return y

    @staticmethod
    def backward(ctx, g):
        s, y = ctx.saved_tensors
        return g * _root_deriv(s, y, ctx.p), None

    @staticmethod
    def jvp(ctx, t, p):
        s, y = ctx.saved_tensors
        return t * _root_deriv(s, y, p)


def _root_deriv(s, y, p):
    """d s^(1/p) / ds = 1 / (p y^(p-1)), 0 where s == 0 (PyTorch's masked norm gradient). Written with
    y alone, so that s = inf gives 0 (PyTorch's x / norm), not y / (p s) = inf / inf = NaN."""
    zero = make(s._data == 0)
    safe = where(zero, make(np.ones((), y._data.dtype)), y)
    d = safe * float(p) if p == 2 else safe ** (float(p) - 1.0) * float(p)
    return where(zero, make(np.zeros((), s._data.dtype)), d.reciprocal())


class LogSumExp(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        d = x._data
        ctx.in_shape, ctx.axes, ctx.keepdim = d.shape, axes, keepdim
        if d.size == 0:
            y = np.full(_keep(d.shape, axes), -np.inf, d.dtype)
        else:
            m = np.max(d, axis=axes, keepdims=True)
            m = np.where(np.isfinite(m), m, 0)
            with np.errstate(divide="ignore"):
                y = np.log(np.sum(np.exp(d - m), axis=axes, keepdims=True)) + m
        if not keepdim:
            y = y.reshape([s for i, s in enumerate(d.shape) if i not in axes])
        ctx.save_for_backward(x, y)  # the returned array itself: saved as an output, with its history
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _unsqueeze_back(g, ctx) * exp(x - _unsqueeze_back(y, ctx)), None, None

    @staticmethod
    def jvp(ctx, t, *_):
        x, y = ctx.saved_tensors
        return (t * exp(x - _unsqueeze_back(y, ctx))).sum(ctx.axes, keepdim=ctx.keepdim)


# --------------------------------------------------------------------------- public functions
@U.refuses("max_values_cpu", skip=U.SKIPS["amax"])
def amax(input, dim=(), keepdim=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("amax", input, dim, keepdim)
    return _amax(input, dim, keepdim, True)


@U.refuses("min_values_cpu", skip=U.SKIPS["amin"])
def amin(input, dim=(), keepdim=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("amin", input, dim, keepdim)
    return _amax(input, dim, keepdim, False)


def _amax(input, dim, keepdim, is_max):
    every = dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0)
    if every and input._data.size == 0:
        raise RuntimeError("%s(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument." % ("amax" if is_max else "amin"))
    axes = _axes(input, None if every else dim)
    return AMax.apply(input, axes, keepdim, is_max)


@U.refuses("aminmax_cpu", skip=U.SKIPS["aminmax"])
def aminmax(input, *, dim=None, keepdim=False):
    import collections

    mm = collections.namedtuple("aminmax", ["min", "max"])
    return mm(amin(input, () if dim is None else dim, keepdim), amax(input, () if dim is None else dim, keepdim))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("prod", input, dim, keepdim, dtype=dtype)
    if dim is not None and isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not %s" % type(dim).__name__)
    axes = _axes(input, dim)
    return Prod.apply(input, axes, keepdim, out_dtype_of_reduction(input, dtype))


def _cumulative(op, input, dim, dtype):
    """cumsum/cumprod: op along dim in the accumulation dtype (int64 for integers, as torch's)."""
    d = norm_dim(dim, input._data.ndim)
    out = out_dtype_of_reduction(input, dtype)
    if input._data.ndim == 0:  # a copy, in the accumulation dtype
        return input.clone() if out == input._data.dtype else input.to(_dtype.from_numpy_dtype(out))
    return op.apply(input, d, out)


def cumsum(input, dim, *, dtype=None):
    return _cumulative(Cumsum, input, dim, dtype)


def cumprod(input, dim, *, dtype=None):
    return _cumulative(Cumprod, input, dim, dtype)


def _extreme_cum(input, dim, is_max):
    from fastgrad._ops.reduction import values_indices

    d = norm_dim(dim, input._data.ndim)
    a = input._data
    if a.ndim == 0:
        return values_indices(input.clone(), make(np.zeros((), np.int64)))
    with np.errstate(all="ignore"):  # (bfloat16's NaN comparisons warn)
        acc = (np.maximum if is_max else np.minimum).accumulate(a, axis=d)
    n = a.shape[d]
    shape = [1] * a.ndim
    shape[d] = n
    pos = np.broadcast_to(np.arange(n).reshape(shape), a.shape)
    hit = np.where((a == acc) | np.isnan(a), pos, -1)  # PyTorch: the last index among ties, and of nans
    idx = np.maximum.accumulate(hit, axis=d).astype(np.int64)
    from fastgrad._ops.gather_scatter import gather_unchecked

    return values_indices(gather_unchecked(input, d, make(idx)), make(idx))


@U.refuses("cummax_cpu", skip=U.SKIPS["cummax"])
def cummax(input, dim):
    return _extreme_cum(input, dim, True)


@U.refuses("cummin_cpu", skip=U.SKIPS["cummin"])
def cummin(input, dim):
    return _extreme_cum(input, dim, False)


def _reverse_logcumsumexp(x, dim):
    return logcumsumexp(x.flip(dim), dim).flip(dim)


def _log_parts(g):
    """log|g| where g > 0 and where g < 0 (-inf elsewhere): a signed sum in log space."""
    one = make(np.ones((), g._data.dtype))
    log_abs = where(g != 0, abs(g), one).log()  # no log(0): its derivative 0 / 0 would be nan
    ninf = make(np.full((), -np.inf, g._data.dtype))
    return where(g > 0, log_abs, ninf), where(g < 0, log_abs, ninf)


def _finite_below(x, y):
    """(x, y) with y's -inf (a prefix of -inf inputs: the log-space gradient of a log-space
    gradient meets them) as 0, so exp(x - y) is exp(-inf) = 0 there, not nan."""
    return x, where(y == float("-inf"), make(np.zeros((), y._data.dtype)), y)


class LogCumSumExp(Op):
    """logcumsumexp along dim: np.logaddexp.accumulate, stable in every prefix (one shift for
    the whole tensor underflows where a slice lies far below the maximum). The gradient
    sum_{i >= j} g_i exp(x_j - y_i) is taken in log space as torch's, the positive and negative
    parts of g apart, with differentiable ops (so double backward works)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        # float32 in float64, rounded once (a float32 running sum drifts by 1e-4 over a long dim)
        y = np.logaddexp.accumulate(x._data.astype(np.float64), axis=dim).astype(x._data.dtype)
        ctx.save_for_backward(x, y)  # the returned array itself: saved as an output
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = _finite_below(*ctx.saved_tensors)
        pos, neg = _log_parts(g)
        return ((_reverse_logcumsumexp(pos - y, ctx.dim) + x).exp()
                - (_reverse_logcumsumexp(neg - y, ctx.dim) + x).exp()), None

    @staticmethod
    def jvp(ctx, t, _):
        x, y = _finite_below(*ctx.saved_tensors)
        pos, neg = _log_parts(t)
        return (logcumsumexp(pos + x, ctx.dim) - y).exp() - (logcumsumexp(neg + x, ctx.dim) - y).exp()


@U.refuses("logcumsumexp_out_cpu")
@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def logcumsumexp(input, dim):
    d = norm_dim(dim, input._data.ndim)
    if input._data.size == 0 or input._data.ndim == 0:
        return input * 1.0
    if input._data.dtype in (np.float32, np.float64):
        return LogCumSumExp.apply(input, d)
    m = input.detach().max()
    m = 0.0 if not np.isfinite(m._data) else m
    return (cumsum((input - m).exp(), d)).log() + m


def logsumexp(input, dim=None, keepdim=False):
    if _dtype.kind(input._data.dtype) not in "fc":
        input = input.to(_dtype.get_default_dtype())
    axes = _axes(input, dim)
    return LogSumExp.apply(input, axes, keepdim)


def _var_args(dim, unbiased, keepdim, correction, kwargs):
    dim, keepdim = _dims_arg(dim, keepdim, kwargs)
    if isinstance(dim, bool):  # var(x, True): the legacy unbiased flag
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, keepdim, correction


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, **kwargs):
    dim, keepdim, correction = _var_args(dim, unbiased, keepdim, correction, kwargs)
    if _dtype.kind(input._data.dtype) not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = _axes(input, dim)
    n = int(np.prod([input._data.shape[a] for a in axes])) if axes else 1
    return Var.apply(input, axes, keepdim, max(n - correction, 0))


class Var(Op):
    """var over axes, divided by denom (n - correction, at least 0). The forward is the mean, the
    deviations, their sum of squares and the division, as NumPy computes them; the gradient is
    PyTorch's var_backward, (2 / denom) * g * (x - mean(x)), without the mean's own term (zero in
    exact arithmetic, but inf - inf = NaN at every element once one element is infinite)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, denom):
        d = x._data
        ctx.axes, ctx.keepdim, ctx.denom = axes, keepdim, denom
        ctx.save_for_backward(x)
        dev = d - np.mean(d, axis=axes, keepdims=True)
        ss = np.add.reduce(dev * dev, axis=axes, keepdims=keepdim)
        return np.asarray(ss / np.asarray(denom, d.dtype))

    @staticmethod
    def _scale(ctx, dtype):
        return make(np.asarray(np.float64(2.0) / np.float64(ctx.denom), dtype))  # (inf or NaN for denom 0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        dev = x - mean(x, ctx.axes, keepdim=True)
        if not ctx.keepdim:
            g = g.reshape(_keep(x._data.shape, ctx.axes))
        return g * dev * Var._scale(ctx, x._data.dtype), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        (x,) = ctx.saved_tensors
        dev = x - mean(x, ctx.axes, keepdim=True)
        return sum(t * dev, ctx.axes, ctx.keepdim) * Var._scale(ctx, x._data.dtype)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, **kwargs):
    return Root.apply(var(input, dim, unbiased, keepdim, correction=correction, **kwargs), 2)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim2, keepdim2, _ = _var_args(dim, unbiased, keepdim, correction, {})
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, _axes(input, dim2), keepdim2)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim2, keepdim2, _ = _var_args(dim, unbiased, keepdim, correction, {})
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, _axes(input, dim2), keepdim2)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """torch.linalg.vector_norm: sum(|x|^ord)^(1/ord) over dim (all dims when None)."""
    if dtype is not None:
        x = x.to(dtype)
    if _dtype.kind(x._data.dtype) not in "fc":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got %s"
                           % scalar_type_name(x._data.dtype))
    axes = _axes(x, dim)
    if isinstance(ord, str):
        raise RuntimeError("linalg.vector_norm: ord must be a number, got %r" % ord)
    ord = float(ord)  # noqa: A001
    if (ord < 0 or ord == float("inf")) and x._data.size == 0:  # no identity for max / min-like norms
        empty = [a for a in axes if x._data.shape[a] == 0]
        ords = "inf" if ord == float("inf") else "-inf" if ord == float("-inf") else "%g" % ord
        if dim is None:
            raise RuntimeError("linalg.vector_norm cannot compute the %s norm on an empty tensor because the "
                               "operation does not have an identity" % ords)
        if empty:
            raise RuntimeError("linalg.vector_norm cannot compute the %s norm on the dimension %d"
                               "because this dimension is empty and the operation does not have an identity"
                               % (ords, empty[0]))
    if ord == 2:
        return Root.apply(sum(x * x, axes, keepdim), 2)
    if ord == 1:
        return sum(abs(x), axes, keepdim)
    if ord == float("inf"):
        return AMax.apply(abs(x), axes, keepdim, True)
    if ord == float("-inf"):
        return AMax.apply(abs(x), axes, keepdim, False)
    if ord == 0:  # the count of non-zeros, differentiable with a zero gradient as torch's
        a = abs(x)
        return sum(where(isnan(a), make(np.ones((), a._data.dtype)), sign(a)), axes, keepdim)
    a = abs(x)
    if ord < 1:  # |x|^ord has no finite derivative at 0: torch's subgradient there is 0
        zero = make(np.asarray(a._data == 0))
        one, at_zero = make(np.ones((), a._data.dtype)), make(np.asarray(0.0 if ord > 0 else np.inf, a._data.dtype))
        return Root.apply(sum(where(zero, at_zero, where(zero, one, a) ** ord), axes, keepdim), ord)
    return Root.apply(sum(a ** ord, axes, keepdim), ord)


def all(input, dim=None, keepdim=False):  # noqa: A001
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("all", input, dim, keepdim)
    axes = _axes(input, dim)
    return make(np.asarray(np.all(input._data, axis=axes, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):  # noqa: A001
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("any", input, dim, keepdim)
    axes = _axes(input, dim)
    return make(np.asarray(np.any(input._data, axis=axes, keepdims=keepdim)))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = where(isnan(input), make(np.zeros((), input._data.dtype)), input)
    return sum(x, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    notnan = make(~np.isnan(input._data))
    return nansum(input, dim, keepdim, dtype=dtype) / sum(notnan, dim, keepdim).to(input.dtype)


def hash_tensor(input, dim=None, *, keepdim=False, mode=0):
    """torch.hash_tensor (mode 0, its only one): each element widened to its 64-bit kind (float64,
    int64; bool and uint8 as uint64), its bits read as uint64, xor-reduced over dim (None or ():
    all). A uint64 tensor; not differentiable."""
    if mode != 0:
        raise RuntimeError("Unknown hash_tensor mode: %s" % (mode,))
    d = input._data
    k = _dtype.kind(d.dtype)
    if k == "c" or d.dtype in _dtype.BAREBONES:
        raise NotImplementedError('"xor_sum_cpu" not implemented for \'%s\'' % scalar_type_name(d.dtype))
    whole = dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0)
    axes = tuple(range(d.ndim)) if whole else _axes(input, dim)
    if whole and d.size == 0:
        raise RuntimeError("hash_tensor: Expected reduction dim to be specified for input.numel() == 0. Specify "
                           "the reduction dim with the 'dim' argument.")
    for a in axes:
        if d.shape[a] == 0:
            raise IndexError("hash_tensor: Expected reduction dim %d to have non-zero size." % a)
    wide = d.astype(np.float64 if k == "f" else np.int64 if k == "i" else np.uint64, order="C")
    return make(np.asarray(np.bitwise_xor.reduce(wide.view(np.uint64), axis=axes, keepdims=keepdim), np.uint64))


__all__ = ["amax", "amin", "aminmax", "prod", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
           "logsumexp", "var", "std", "var_mean", "std_mean", "all", "any", "nansum", "nanmean", "hash_tensor"]
