"""torch.special's differentiable functions: the gamma family (lgamma, digamma, polygamma,
mvlgamma, zeta, igamma/igammac), the normal distribution (ndtr, ndtri, log_ndtr), erfinv,
erfcx, the modified Bessel functions of torch's Tensor API (i0, i0e, i1, i1e), logit, entr and
xlog1py, with PyTorch's dtype rules, values at the edges (poles, infinities, NaN) and
derivatives (backward and jvp; where PyTorch has none, its error).

The kernels are NumPy formulas where one exists (digamma, trigamma, entr, logit, xlog1py,
ndtr through erfc, lgamma through math.lgamma, i0 through np.i0, erfinv through Newton steps on
erf); the rest come from scipy.special, an optional dependency: without it they raise an
ImportError that says so. The functions without any derivative (Bessel functions of
torch.special, orthogonal polynomials) are in special_bessel.py."""
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import Op, binary_operands, float_operand, is_tensor, make, scalar_type_name
from fastgrad._ops.math import Unary, _np_erf
from fastgrad._ops.elementwise import where

_FWD_AD = ("Trying to use forward AD with %s that does not support it because it has not been implemented yet.\n"
           "Please file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template=feature-"
           "request.yml so that we can prioritize its implementation or submit a PR adding the implementation "
           "to derivatives.yaml")


def scipy_special(fn):
    """scipy.special.<fn>; ImportError naming SciPy when it is not installed (looked up on
    each call, not cached, so a test can hide it)."""
    try:
        import scipy.special as sc
    except ImportError:
        raise ImportError("fastgrad.special: %s needs SciPy, which is not installed (pip install scipy, or "
                          "pip install fastgrad[special])" % fn) from None
    return getattr(sc, fn)


def has_scipy():
    try:
        import scipy.special  # noqa: F401
    except ImportError:
        return False
    return True


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------- kernels (NumPy arrays)
_PSI_SERIES = (1.0 / 12, -1.0 / 120, 1.0 / 252, -1.0 / 240, 1.0 / 132, -691.0 / 32760, 1.0 / 12)


def _digamma_pos(x):
    """psi(x) for x > 0 (and +inf, NaN): shift x up to >= 10 by psi(x) = psi(x + 1) - 1/x, then
    psi(x) ~ log x - 1/(2x) - sum B_2k / (2k x^2k)."""
    res = np.zeros_like(x)
    for _ in range(10):
        small = x < 10
        if not small.any():
            break
        res = np.where(small, res - 1.0 / np.where(small, x, 1.0), res)
        x = np.where(small, x + 1.0, x)
    z = 1.0 / (x * x)
    poly = np.zeros_like(x)
    for c in reversed(_PSI_SERIES):
        poly = poly * z + c
    series = np.where(x < 1e17, z * poly, 0.0)
    return res + np.log(x) - 0.5 / x - series


def digamma_np(a):
    """torch.digamma's values: -inf at +0, +inf at -0, NaN at the negative integers and -inf,
    the reflection psi(x) = psi(1 - x) - pi / tan(pi frac(x)) below 0."""
    dt = a.dtype
    x = _f64(a)
    if has_scipy():  # the same values (Cephes' psi), 5x faster
        with np.errstate(all="ignore"):
            return scipy_special("psi")(x).astype(dt, copy=False)
    with np.errstate(all="ignore"):
        neg = x < 0
        neg_int = neg & (x == np.trunc(x))
        refl = neg & ~neg_int
        res = _digamma_pos(np.where(refl, 1.0 - x, x))
        if refl.any():
            res = np.where(refl, res - math.pi / np.tan(math.pi * np.fmod(x, 1.0)), res)
        res = np.where(neg_int, np.nan, res)
        res = np.where(x == 0, np.copysign(np.inf, -x), res)
    return res.astype(dt, copy=False)


def trigamma_np(a):
    """torch's trigamma, in a's precision: the reflection pi^2 / sin^2(pi x) - psi1(1 - x) below
    1/2 (finite, huge at the negative integers, as PyTorch's), six shifts, the asymptotic series."""
    x = np.array(a, copy=True)
    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        refl = x < 0.5
        sign = np.where(refl, -one, one)
        s = np.sin(x.dtype.type(math.pi) * x)
        res = np.where(refl, -(x.dtype.type(math.pi * math.pi)) / (s * s), 0).astype(x.dtype)
        x = np.where(refl, one - x, x)
        for _ in range(6):
            res = res + one / (x * x)
            x = x + one
        ixx = one / (x * x)
        c6, c30, c42 = (x.dtype.type(1.0 / k) for k in (6, 30, 42))
        res = res + (one + one / (x + x) + ixx * (c6 - ixx * (c30 - ixx * c42))) / x
    return (sign * res).astype(a.dtype, copy=False)


def zeta_np(x, q):
    """Hurwitz zeta with PyTorch's values: NaN for x < 1, inf at x == 1 and at q a non-positive
    integer; NaN where x or q is +inf and the other above 1 (torch's series gives 0 * inf)."""
    dt = np.result_type(x, q)
    x, q = np.broadcast_arrays(_f64(x), _f64(q))
    with np.errstate(all="ignore"):
        r = scipy_special("zeta")(x, q)
        r = np.where(((q == np.inf) & (x > 1)) | ((x == np.inf) & (q > 1)), np.nan, r)
    return r.astype(dt, copy=False)


def polygamma_np(n, a):
    if n == 0:
        return digamma_np(a)
    if n == 1:
        return trigamma_np(a)
    with np.errstate(all="ignore"):
        r = (1.0 if n % 2 else -1.0) * math.exp(math.lgamma(n + 1.0)) * _f64(zeta_np(_f64(n + 1.0), _f64(a)))
    return r.astype(a.dtype, copy=False)


def _lgamma1(v):
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):
        return math.inf  # a pole: 0 or a negative integer


_lgamma_vec = np.vectorize(_lgamma1, otypes=[np.float64])


def lgamma_np(a):
    """log|Gamma(x)|: inf at the poles and at both infinities (scipy's gammaln gives -inf at -inf)."""
    x = _f64(a)
    with np.errstate(all="ignore"):
        r = scipy_special("gammaln")(x) if has_scipy() else (_lgamma_vec(x) if x.size else x.copy())
        r = np.where(x == -np.inf, np.inf, r)
    return r.astype(a.dtype, copy=False)


def _erfc_np(x):
    if has_scipy():
        return scipy_special("erfc")(x)
    return np.vectorize(math.erfc, otypes=[np.float64])(x) if x.size else _f64(x).copy()


def ndtr_np(a):
    """PyTorch's formula (1 + erf(x / sqrt 2)) / 2, each step rounded to a's dtype as PyTorch's ops
    round it (float16/bfloat16: computed in float32; 0 below x ~ -8.3 in float64, as torch)."""
    dt = a.dtype
    wide = np.dtype(np.float32) if _dtype.is_half(dt) else dt
    with np.errstate(all="ignore"):
        t = (a.astype(wide) * wide.type(math.sqrt(0.5)) if _dtype.is_half(dt) else a * dt.type(math.sqrt(0.5)))
        e = np.asarray(_np_erf(t.astype(dt).astype(wide))).astype(dt)
        return ((e.astype(wide) + 1).astype(dt).astype(wide) * 0.5).astype(dt)


def erfinv_np(a):
    """scipy's erfinv, else Newton's method on erf from Giles' single-precision approximation."""
    x = _f64(a)
    with np.errstate(all="ignore"):
        if has_scipy():
            r = scipy_special("erfinv")(x)
        else:
            w = -np.log((1.0 - x) * (1.0 + x))
            lo = w - 2.5
            hi = np.sqrt(np.maximum(w, 5.0)) - 3.0
            p_lo = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                    -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
            p_hi = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                    -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
            pl, ph = np.zeros_like(x), np.zeros_like(x)
            for cl, ch in zip(p_lo, p_hi):
                pl, ph = pl * lo + cl, ph * hi + ch
            r = np.where(w < 5.0, pl, ph) * x
            for _ in range(3):
                fine = np.isfinite(r)
                step = (_np_erf(np.where(fine, r, 0.0)) - x) / (2.0 / math.sqrt(math.pi) * np.exp(-r * r))
                r = np.where(fine & (step == step), r - step, r)
            r = np.where(np.abs(x) == 1, np.copysign(np.inf, x), np.where(np.abs(x) > 1, np.nan, r))
    return r.astype(a.dtype, copy=False)


def i0_np(a):
    x = _f64(a)
    r = scipy_special("i0")(x) if has_scipy() else np.i0(x)
    return r.astype(a.dtype, copy=False)


def _sp_kernel(fn):
    def k(a):
        with np.errstate(all="ignore"):
            return np.asarray(scipy_special(fn)(_f64(a))).astype(a.dtype, copy=False)
    k.__name__ = fn + "_np"
    return k


i0e_np, i1_np, i1e_np, ndtri_np, log_ndtr_np, erfcx_np = (
    _sp_kernel(f) for f in ("i0e", "i1", "i1e", "ndtri", "log_ndtr", "erfcx"))


def entr_np(x):
    """-x log x (0 at 0, -inf below); float16/bfloat16 round log x, then the product, as PyTorch."""
    with np.errstate(all="ignore"):
        r = np.where(x > 0, -x * np.log(np.where(x > 0, x, x.dtype.type(1))), np.where(x == 0, 0, -np.inf))
    return np.where(np.isnan(x), x, r).astype(x.dtype, copy=False)


def _gammainc_np(a, x, upper):
    """Regularised incomplete gamma P(a, x) (Q for upper) with PyTorch's values where an argument is
    0, infinite or NaN: x == 0 gives P = 0 for any a >= 0 or NaN a, and so on."""
    dt = a.dtype
    a, x = np.broadcast_arrays(_f64(a), _f64(x))
    with np.errstate(all="ignore"):
        r = scipy_special("gammaincc" if upper else "gammainc")(a, x)
        ok = ~((x < 0) | (a < 0)) & (a != 0)  # PyTorch's checks in order; NaN compares false
        x0 = ok & (x == 0)
        ainf = ok & ~x0 & np.isinf(a)
        xinf = ok & ~x0 & ~ainf & np.isinf(x)
        lo, hi = (1.0, 0.0) if upper else (0.0, 1.0)
        r = np.where(x0, lo, r)
        r = np.where(ainf, np.where(np.isinf(x), np.nan, lo), r)
        r = np.where(xinf, hi, r)
    return r.astype(dt, copy=False)


# --------------------------------------------------------------------------- ops
class Lgamma(Unary):
    f = staticmethod(lgamma_np)
    d = staticmethod(lambda x, y: digamma(x))


class Polygamma(Op):
    """polygamma(n, x); digamma is n = 0. Its derivative is polygamma(n + 1, x)."""

    @staticmethod
    def forward(ctx, x, n):
        ctx.n = n
        ctx.save_for_backward(x)
        return polygamma_np(n, x._data)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * Polygamma.apply(x, ctx.n + 1), None

    @staticmethod
    def jvp(ctx, t, n):
        x, = ctx.saved_tensors
        return t * Polygamma.apply(x, n + 1)


class Erfinv(Unary):
    f, saves = staticmethod(erfinv_np), "y"
    d = staticmethod(lambda x, y: (y * y).exp() * (math.sqrt(math.pi) / 2))


class I0(Unary):
    f = staticmethod(i0_np)
    d = staticmethod(lambda x, y: i1(x))


class I0e(Unary):
    f, saves = staticmethod(i0e_np), "xy"
    d = staticmethod(lambda x, y: i1e(x) - _sgn(x) * y)


def _tiny_safe(x, y, fn):
    """fn(safe x, y) where |x| > eps, 0.5 elsewhere: i1's and i1e's derivative at 0 (the formula
    has i1(x) / x there), as PyTorch's i1_backward."""
    eps = float(_dtype.np_finfo(x._data.dtype).eps)
    big = make(np.abs(x._data) > eps)
    safe = where(big, x, make(np.asarray(eps, x._data.dtype)))
    return where(big, fn(safe, y), make(np.asarray(0.5, x._data.dtype)))


class I1(Unary):
    f, saves = staticmethod(i1_np), "xy"
    d = staticmethod(lambda x, y: _tiny_safe(x, y, lambda s, y: i0(s) - y * s.reciprocal()))


class I1e(Unary):
    f, saves = staticmethod(i1e_np), "xy"
    d = staticmethod(lambda x, y: _tiny_safe(x, y, lambda s, y: i0e(s) - y * (_sgn(s) + s.reciprocal())))


class Ndtr(Unary):
    _half_native = True  # (its forward rounds each step to the half dtype, as PyTorch's composite)
    f = staticmethod(ndtr_np)
    d = staticmethod(lambda x, y: (x * x * -0.5).exp() * (1.0 / math.sqrt(2 * math.pi)))


class Ndtri(Unary):
    f, saves = staticmethod(ndtri_np), "y"
    d = staticmethod(lambda x, y: (y * y * 0.5).exp() * math.sqrt(2 * math.pi))


class LogNdtr(Unary):
    f, saves = staticmethod(log_ndtr_np), "xy"
    d = staticmethod(lambda x, y: (-(y + x * x * 0.5)).exp() * (1.0 / math.sqrt(2 * math.pi)))


class Erfcx(Unary):
    f, saves = staticmethod(erfcx_np), "xy"
    d = staticmethod(lambda x, y: x * y * 2.0 - 2.0 / math.sqrt(math.pi))


class Entr(Unary):
    _half_native = True  # float16/bfloat16 arithmetic step by step, as PyTorch's kernel
    f = staticmethod(entr_np)
    d = staticmethod(lambda x, y: -(x.log() + 1.0))


class Exp2(Unary):
    f, saves = staticmethod(np.exp2), "y"
    d = staticmethod(lambda x, y: y * math.log(2.0))


def _sgn(x):
    return make(np.sign(x._data))


class Logit(Op):
    """log(z / (1 - z)), z = x clamped to [eps, 1 - eps] when eps is given. The derivative is
    1 / (x (1 - x)); 0 where the clamp is active, NaN outside [0, 1] without eps (PyTorch's).
    float16/bfloat16 are computed in their own precision step by step, as PyTorch's kernel."""

    _half_native = True

    @staticmethod
    def forward(ctx, x, eps):
        ctx.eps = eps
        ctx.save_for_backward(x)
        d = x._data
        one = d.dtype.type(1)
        z = d if eps is None else np.clip(d, d.dtype.type(eps), one - d.dtype.type(eps)).astype(d.dtype, copy=False)
        with np.errstate(all="ignore"):
            return np.log(z / (one - z)).astype(d.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * _dlogit(x, ctx.eps), None

    @staticmethod
    def jvp(ctx, t, eps):
        x, = ctx.saved_tensors
        return t * _dlogit(x, eps)


def _dlogit(x, eps):
    d = x._data
    if eps is None or eps < 0:
        out, fill = (d < 0) | (d > 1), np.nan
    else:
        out, fill = (d < eps) | (d > 1.0 - eps), 0.0
    return where(make(out), make(np.asarray(fill, d.dtype)), (x * (1.0 - x)).reciprocal())


class Xlog1py(Op):
    """x * log1p(y) (x * log(y) with shift 0: xlogy), 0 where x == 0 unless y is NaN. PyTorch's
    derivatives: d/dx = xlog1py(1, y), 0 where x == 0 and y <= -1; d/dy = x / (1 + y). float16 and
    bfloat16 round log1p(y), then the product, as PyTorch's kernel."""

    _half_native = True

    @staticmethod
    def forward(ctx, x, y, shift=1):
        ctx.shift = shift
        ctx.save_for_backward(x, y)
        a, b = x._data, y._data
        with np.errstate(all="ignore"):
            r = np.where((a == 0) & ~np.isnan(b), 0, a * (np.log1p(b) if shift else np.log(b)))
        return np.asarray(r).astype(np.result_type(a, b), copy=False)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return ((_xlog1py_dx(g, x, y, ctx.shift) if need[0] else None),
                (g * x / (y + float(ctx.shift)) if need[1] else None), None)

    @staticmethod
    def jvp(ctx, tx, ty, shift=1):
        x, y = ctx.saved_tensors
        out = None if tx is None else _xlog1py_dx(tx, x, y, shift)
        if ty is not None:
            dy = ty * x / (y + float(shift))
            out = dy if out is None else out + dy
        return out


def _xlog1py_dx(g, x, y, shift):
    if g._data.shape != np.broadcast_shapes(g._data.shape, y._data.shape):
        g = g.expand(*np.broadcast_shapes(g._data.shape, y._data.shape))
    r = Xlog1py.apply(g, y, shift)
    mask = (x._data == 0) & (y._data <= -shift)
    if mask.any():
        r = where(make(mask), make(np.zeros((), r._data.dtype)), r)
    return r


class Zeta(Op):
    """Hurwitz zeta(x, q). PyTorch differentiates it in q only: -x zeta(x + 1, q); no forward AD."""

    @staticmethod
    def forward(ctx, x, q):
        ctx.save_for_backward(x, q)
        return zeta_np(x._data, q._data)

    @staticmethod
    def backward(ctx, g):
        x, q = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, g * -x * Zeta.apply(x + 1.0, q)

    @staticmethod
    def jvp(ctx, tx, tq):
        raise NotImplementedError(_FWD_AD % "special_zeta")


class Igamma(Op):
    """Regularised lower (upper) incomplete gamma P(a, x) (Q(a, x)). PyTorch differentiates it in x
    only: +-exp((a - 1) log x - x - lgamma(a)); no forward AD."""

    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.upper = upper
        ctx.save_for_backward(a, x)
        return _gammainc_np(a._data, x._data, upper)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        name = "igammac" if ctx.upper else "igamma"
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative for '%s: input' is not implemented." % name)
        d = ((a - 1.0) * x.log() - x - lgamma(a)).exp()
        return None, (-g if ctx.upper else g) * d, None

    @staticmethod
    def jvp(ctx, ta, tx, upper):
        raise NotImplementedError(_FWD_AD % ("igammac" if upper else "igamma"))


# --------------------------------------------------------------------------- public functions
_HALF_OK = {"lgamma", "digamma", "polygamma", "erfinv", "i0", "i0e", "i1", "i1e", "ndtr", "entr", "logit",
            "xlog1py", "xlogy", "igamma", "igammac", "mvlgamma"}
_KERNEL = {"lgamma": "lgamma_vml_cpu", "digamma": "digamma", "polygamma": "polygamma", "erfinv": "erfinv_vml_cpu",
           "i0": "i0_vml_cpu", "ndtr": "erf_vml_cpu", "mvlgamma": "mvlgamma"}


def _float_input(name, x):
    """x as a floating tensor: integers and bool promote to the default dtype; complex and (for the
    kernels PyTorch has no half version of) float16/bfloat16 raise PyTorch's error."""
    x = float_operand(x)
    dt = x._data.dtype
    if dt.kind == "c" or (_dtype.is_half(dt) and name not in _HALF_OK):
        raise NotImplementedError('"%s" not implemented for \'%s\''
                                  % (_KERNEL.get(name, name + "_cpu"), scalar_type_name(dt)))
    return x


def _unary(op, name):
    def fn(input):
        return op.apply(_float_input(name, input))
    fn.__name__ = name
    fn.__doc__ = "torch.special.%s: elementwise, differentiable." % name
    return fn


lgamma = gammaln = _unary(Lgamma, "lgamma")
# a binding table (as math.py's expm1, log1p, ...): one line per op
erfinv = _unary(Erfinv, "erfinv")
i0 = _unary(I0, "i0")
i0e = _unary(I0e, "i0e")
i1 = _unary(I1, "i1")
i1e = _unary(I1e, "i1e")
ndtr = _unary(Ndtr, "ndtr")
ndtri = _unary(Ndtri, "ndtri")
log_ndtr = _unary(LogNdtr, "log_ndtr")
erfcx = _unary(Erfcx, "erfcx")
entr = _unary(Entr, "entr")


def exp2(input):
    """2 ** input, elementwise (torch.exp2)."""
    return Exp2.apply(float_operand(input))


def polygamma(n, input):
    """The n-th derivative of digamma (torch.polygamma; n >= 0, an int)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError("polygamma(): argument 'n' (position 1) must be int, not %s" % type(n).__name__)
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_float_input("polygamma", input), int(n))


def digamma(input):
    return polygamma(0, input)


psi = digamma


def polygamma_method(self, n):
    """Tensor.polygamma(n)."""
    return polygamma(n, self)


def mvlgamma(input, p):
    """Multivariate log-gamma of dimension p: sum_i lgamma(x - i / 2) + p (p - 1) / 4 log(pi)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if is_tensor(input) and input._data.dtype == np.bool_:
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    x = _float_input("mvlgamma", input)
    shifts = make(np.arange(-p / 2.0 + 0.5, 0.5, 0.5).astype(x._data.dtype))
    return lgamma(x.unsqueeze(-1) + shifts).sum(-1) + p * (p - 1) * math.log(math.pi) / 4


multigammaln = mvlgamma


def logit(input, eps=None):
    """log(x / (1 - x)), x clamped to [eps, 1 - eps] when eps is given."""
    return Logit.apply(_float_input("logit", input), None if eps is None else float(eps))


def _binary(name, a, b):
    if not is_tensor(a) and not is_tensor(b):
        raise TypeError("%s(): argument 'input' (position 1) must be Tensor, not %s" % (name, type(a).__name__))
    a, b = binary_operands(a, b)
    a, b = float_operand(a), float_operand(b)
    dt = a._data.dtype
    if dt.kind == "c" or (_dtype.is_half(dt) and name not in _HALF_OK):
        raise NotImplementedError('"%s_cpu" not implemented for \'%s\'' % (name, scalar_type_name(dt)))
    return a, b


def xlog1py(input, other):
    """input * log1p(other), 0 where input == 0 (torch.special.xlog1py)."""
    return Xlog1py.apply(*_binary("xlog1py", input, other), 1)


def xlogy(input, other):
    """input * log(other), 0 where input == 0 (torch.special.xlogy), with PyTorch's gradient at
    input == 0: log(other) (0 where other <= 0)."""
    return Xlog1py.apply(*_binary("xlogy", input, other), 0)


def zeta(input, other):
    """Hurwitz zeta function sum_k (k + other)^-input (torch.special.zeta)."""
    return Zeta.apply(*_binary("zeta", input, other))


def _igamma(name, input, other, upper, method=False):
    for pos, (arg, t) in enumerate((("input", input), ("other", other)), start=1):
        if not is_tensor(t):
            raise TypeError("%s(): argument '%s' (position %d) must be Tensor, not %s"
                            % (name, arg, pos - method, type(t).__name__))
    a, x = binary_operands(input, other)
    dt = a._data.dtype
    if dt.kind not in "f" and not _dtype.is_half(dt):
        raise NotImplementedError('"%s_cpu" not implemented for \'%s\'' % (name, scalar_type_name(dt)))
    return Igamma.apply(a, x, upper)


def igamma(input, other):
    """Regularised lower incomplete gamma function P(input, other)."""
    return _igamma("igamma", input, other, False)


def igammac(input, other):
    """Regularised upper incomplete gamma function Q(input, other)."""
    return _igamma("igammac", input, other, True)


gammainc, gammaincc = igamma, igammac


def igamma_method(self, other):
    return _igamma("igamma", self, other, False, True)


def igammac_method(self, other):
    return _igamma("igammac", self, other, True, True)


def inplace_guard(method):
    """x.lgamma_() and the like on an integer or bool x: PyTorch's error (the float result cannot be
    written into x), before the in-place machinery would cast it."""
    def guarded(self, *args, **kwargs):
        dt = self._data.dtype
        if dt.kind not in "fc" and not _dtype.is_half(dt):
            others = [a for a in args if is_tensor(a)]
            res = np.dtype(_dtype.result_type(self, *others)) if others else _dtype.get_default_dtype().np
            if res.kind not in "biu":  # (all-integer igamma_: the op's own error)
                if method.__name__ == "mvlgamma_":  # (its own check, the names the other way round)
                    raise RuntimeError("mvlgamma: result type %s can't be cast to the desired output type %s"
                                       % (scalar_type_name(dt), scalar_type_name(res)))
                raise RuntimeError("result type %s can't be cast to the desired output type %s"
                                   % (scalar_type_name(res), scalar_type_name(dt)))
        return method(self, *args, **kwargs)
    guarded.__name__ = method.__name__
    return guarded


def _inplace_fn(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = "torch.%s(input, ...): input.%s(...), in place." % (name, name)
    return fn


erf_, erfc_, exp2_, i0_, logit_, sinc_, xlogy_ = (
    _inplace_fn(n) for n in ("erf_", "erfc_", "exp2_", "i0_", "logit_", "sinc_", "xlogy_"))

__all__ = ["erf_", "erfc_", "exp2_", "i0_", "logit_", "sinc_", "xlogy_", "exp2", "lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "i0", "igamma", "igammac", "logit"]
