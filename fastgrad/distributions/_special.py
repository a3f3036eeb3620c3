"""Special functions the distributions need (lgamma, digamma, polygamma, gammainc) and the
reparameterised standard-gamma draw. fastgrad's own ops are used when the build has them;
otherwise differentiable autograd Functions evaluate them with SciPy, or NumPy series."""
import math

import numpy as np

import fastgrad

try:
    import scipy.special as _sp
except ImportError:  # pragma: no cover - scipy is optional
    _sp = None

__all__ = ["lgamma", "digamma", "polygamma", "standard_gamma", "standard_gamma_grad"]

_BERNOULLI = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510]


def _np_lgamma(x):
    return np.vectorize(math.lgamma, otypes=[np.float64])(x)


def _np_polygamma(n, x):
    """psi^(n)(x) for x > 0: recurrence up to x >= 12, then the asymptotic series."""
    x = np.asarray(x, dtype=np.float64).copy()
    acc = np.zeros_like(x)
    small = x < 12
    while small.any():
        if n == 0:
            acc[small] -= 1.0 / x[small]
        else:
            acc[small] += (-1) ** (n + 1) * math.factorial(n) / x[small] ** (n + 1)
        x[small] += 1
        small = x < 12
    if n == 0:
        s = np.log(x) - 0.5 / x
        for k, b in enumerate(_BERNOULLI, 1):
            s -= b / (2 * k * x ** (2 * k))
        return s + acc
    s = math.factorial(n - 1) / x ** n + math.factorial(n) / (2 * x ** (n + 1))
    for k, b in enumerate(_BERNOULLI, 1):
        s = s + b * math.factorial(2 * k + n - 1) / (math.factorial(2 * k) * x ** (2 * k + n))
    return (-1) ** (n + 1) * s + acc


def _eval_lgamma(a):
    return _sp.gammaln(a) if _sp is not None else _np_lgamma(a)


def _eval_polygamma(n, a):
    if _sp is not None:
        return _sp.psi(a) if n == 0 else _sp.polygamma(n, a)
    return _np_polygamma(n, a)


def _wrap(data, like):
    dtype = like.dtype if like.dtype.is_floating_point else fastgrad.get_default_dtype()
    return fastgrad.tensor(np.asarray(data), dtype=dtype)


def _float_array(x):
    a = x.detach().numpy()
    return a if a.dtype.kind == "f" else a.astype(fastgrad.get_default_dtype().np if hasattr(
        fastgrad.get_default_dtype(), "np") else np.float32)


class _LGamma(fastgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _wrap(_eval_lgamma(_float_array(x)), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * polygamma(0, x)


class _PolyGamma(fastgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        return _wrap(_eval_polygamma(n, _float_array(x)), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * polygamma(ctx.n + 1, x), None


def lgamma(x):
    if hasattr(fastgrad, "lgamma"):
        return fastgrad.lgamma(x)
    return _LGamma.apply(x)


def polygamma(n, x):
    if hasattr(fastgrad, "polygamma"):
        return fastgrad.digamma(x) if n == 0 else fastgrad.polygamma(n, x)
    return _PolyGamma.apply(x, n)


def digamma(x):
    return polygamma(0, x)


def _series_dP_over_pdf(x, a):
    """dP(a, x)/da divided by the density, from P's series
    P = sum_k x^(a+k) e^-x / Gamma(a+k+1): each term's a-derivative carries (log x - digamma(a+k+1)),
    and term_k / pdf = x^(k+1) Gamma(a) / Gamma(a+k+1)."""
    logx = np.log(x)
    r = x / a
    psi = _eval_polygamma(0, a + 1)
    total = r * (logx - psi)
    top = float(np.max(x, initial=0.0))
    for k in range(1, int(top + 12 * math.sqrt(top) + 40)):
        r = r * x / (a + k)
        psi = psi + 1.0 / (a + k)
        step = r * (logx - psi)
        total = total + step
        if np.all(np.abs(step) <= 1e-17 * np.abs(total) + 1e-300):
            break
    return total


def standard_gamma_grad(x, alpha):
    """d x / d alpha of a standard gamma draw x ~ Gamma(alpha, 1) at a fixed CDF value (the implicit
    reparameterisation gradient): -(dP(alpha, x)/d alpha) / p(x; alpha), P the regularised lower
    incomplete gamma function. With SciPy, dP/d alpha is a Richardson-extrapolated central
    difference of P below the mode and of -Q = P - 1 above it (each accurate relative to itself, so
    tails keep their digits); without, P's series."""
    x, a = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(alpha, dtype=np.float64))
    pos = x > 0
    xs = np.where(pos, x, 1.0)
    if _sp is None:
        return np.where(pos, -_series_dP_over_pdf(xs, a), 0.0)
    upper = xs > a
    h = 1e-3 * np.minimum(a, 1.0) * np.maximum(a, 1.0) ** 0.5

    def central(step):
        lo = np.where(upper, -_sp.gammaincc(a + step, xs), _sp.gammainc(a + step, xs))
        hi = np.where(upper, -_sp.gammaincc(a - step, xs), _sp.gammainc(a - step, xs))
        return (lo - hi) / (2 * step)
    dp = (4 * central(h / 2) - central(h)) / 3
    log_pdf = (a - 1) * np.log(xs) - xs - _sp.gammaln(a)
    with np.errstate(over="ignore", invalid="ignore"):
        out = -dp * np.exp(-log_pdf)
    return np.where(pos, out, 0.0)


class _StandardGammaGrad(fastgrad.autograd.Function):
    """Identity on the drawn sample x with the implicit gradient d x / d alpha."""

    @staticmethod
    def forward(ctx, alpha, x):
        ctx.save_for_backward(alpha, x)
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        d = standard_gamma_grad(x.detach().numpy(), alpha.detach().numpy())
        return g * _wrap(d, alpha), None


def _draw_standard_gamma(alpha):
    a = alpha.detach().numpy()
    from fastgrad._random_ops import standard_gamma as _torch_gamma

    x = _torch_gamma(a)  # torch's sampler and draws
    return fastgrad.tensor(x)


def standard_gamma(alpha):
    """A Gamma(alpha, 1) draw with the same shape as alpha, differentiable in alpha."""
    x = _draw_standard_gamma(alpha)
    if alpha.requires_grad and fastgrad.is_grad_enabled():
        return _StandardGammaGrad.apply(alpha, x)
    return x


def gammainc(a, x):
    """Regularised lower incomplete gamma P(a, x), differentiable in x (as torch, not in a)."""
    if hasattr(fastgrad, "special") and hasattr(fastgrad.special, "gammainc"):
        return fastgrad.special.gammainc(a, x)
    return _GammaInc.apply(a, x)


class _GammaInc(fastgrad.autograd.Function):
    @staticmethod
    def forward(ctx, a, x):
        if _sp is None:
            raise RuntimeError("Gamma.cdf needs fastgrad.special.gammainc or SciPy")
        a, x = fastgrad.broadcast_tensors(a, x)
        ctx.save_for_backward(a, x)
        return _wrap(_sp.gammainc(a.detach().numpy(), x.detach().numpy()), x)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        # torch has no derivative in a (it raises when one is asked for); none is given here
        return None, g * fastgrad.exp((a - 1) * fastgrad.log(x) - x - lgamma(a))
