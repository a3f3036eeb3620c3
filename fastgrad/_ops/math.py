"""More elementwise math: unary functions with their derivatives, atan2, lerp, rounding
(zero gradient), nan_to_num.

A unary op is one small class: ``f`` (NumPy) and ``d(x, y)``, the derivative dy/dx written
with differentiable fastgrad ops (from the input x and/or the output y, as ``saves`` says), so
backward (g * d) and jvp (t * d) come for free and double backward works."""
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import float32_compute, Op, binary_operands, float_operand, is_tensor, make
from fastgrad._ops.elementwise import Piecewise, abs, exp, sqrt, square, where
from fastgrad._ops import unsigned as U

_erf = []


def _np_erf(x):
    """scipy's vectorised erf when scipy is installed (imported on first use: it takes
    ~0.2 s, half of `import fastgrad`), else math.erf per element (exact, slower)."""
    if not _erf:
        try:
            from scipy.special import erf
        except ImportError:  # pragma: no cover
            erf = np.vectorize(math.erf, otypes=[np.float64])
        _erf.append(erf)
    return _erf[0](x)


class Unary(Op):
    """y = f(x) elementwise; subclasses give f and d(x, y) = dy/dx (fastgrad ops)."""

    saves = "x"  # "x", "y" or "xy": what d needs

    @classmethod
    def forward(cls, ctx, x):
        with np.errstate(all="ignore"):
            y = np.asarray(cls.f(x._data)).astype(x._data.dtype, copy=False)
        ctx.save_for_backward(x if "x" in cls.saves else None, y if "y" in cls.saves else None)
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        return g * cls.d(x, y)

    @classmethod
    def jvp(cls, ctx, t):
        x, y = ctx.saved_tensors
        return t * cls.d(x, y)


class Expm1(Unary):
    f = np.expm1
    d = staticmethod(lambda x, y: exp(x))  # not y + 1, which cancels for x << 0


class Log1p(Unary):
    f = np.log1p
    d = staticmethod(lambda x, y: 1.0 / (x + 1.0))


class Log2(Unary):
    f = np.log2
    d = staticmethod(lambda x, y: 1.0 / (x * math.log(2.0)))


class Log10(Unary):
    f = np.log10
    d = staticmethod(lambda x, y: 1.0 / (x * math.log(10.0)))


class Rsqrt(Unary):
    f, saves = staticmethod(lambda a: 1.0 / np.sqrt(a)), "y"
    d = staticmethod(lambda x, y: y * y * y * -0.5)


class Reciprocal(Unary):
    f, saves = np.reciprocal, "y"
    d = staticmethod(lambda x, y: -(y * y))


class Tan(Unary):
    f, saves = np.tan, "y"
    d = staticmethod(lambda x, y: y * y + 1.0)


class Asin(Unary):
    f = np.arcsin
    d = staticmethod(lambda x, y: 1.0 / sqrt(1.0 - x * x))


class Acos(Unary):
    f = np.arccos
    d = staticmethod(lambda x, y: -1.0 / sqrt(1.0 - x * x))


class Atan(Unary):
    f = np.arctan
    d = staticmethod(lambda x, y: 1.0 / (x * x + 1.0))


class Sinh(Unary):
    f = np.sinh
    d = staticmethod(lambda x, y: cosh(x))


class Cosh(Unary):
    f = np.cosh
    d = staticmethod(lambda x, y: sinh(x))


class Asinh(Unary):
    f = np.arcsinh
    d = staticmethod(lambda x, y: 1.0 / sqrt(x * x + 1.0))


class Acosh(Unary):
    f = np.arccosh
    d = staticmethod(lambda x, y: 1.0 / sqrt(x * x - 1.0))


class Atanh(Unary):
    f = np.arctanh
    d = staticmethod(lambda x, y: 1.0 / (1.0 - x * x))


class Erf(Unary):
    f = staticmethod(_np_erf)
    d = staticmethod(lambda x, y: exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


# same binary Op shape as linalg.Matmul (both inputs saved): the maths differ
class Atan2(Op):
    """atan2(a, b): the angle of the point (b, a)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        recip = _atan2_recip(a, b)
        need = ctx.needs_input_grad
        return (g * b * recip if need[0] else None), (g * -a * recip if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        recip = _atan2_recip(a, b)
        out = None if ta is None else ta * b * recip
        if tb is not None:
            out = tb * -a * recip if out is None else out + tb * -a * recip
        return out


def _atan2_recip(a, b):
    """1 / (a * a + b * b), 0 where that sum is 0 (torch: atan2's gradient at the origin is 0)."""
    r2 = a * a + b * b
    zero = r2._data == 0
    if not zero.any():
        return r2.reciprocal()
    return where(make(zero), make(np.zeros((), r2._data.dtype)), where(make(zero), make(np.ones((), r2._data.dtype)), r2).reciprocal())


class Remainder(Op):
    """a - b * q with q = floor(a / b) (remainder) or trunc(a / b) (fmod); q is piecewise constant,
    so d/da = 1 and d/db = -q (PyTorch's derivatives)."""

    @staticmethod
    def forward(ctx, a, b, rounding):
        ctx.rounding = rounding
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.remainder if rounding == "floor" else np.fmod)(a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g if need[0] else None), (-g * _quotient(a, b, ctx.rounding) if need[1] else None), None

    @staticmethod
    def jvp(ctx, ta, tb, rounding):
        if tb is None:
            return ta
        a, b = ctx.saved_tensors
        out = -tb * _quotient(a, b, rounding)
        return out if ta is None else out + ta


def _quotient(a, b, rounding):
    """floor(a / b) or trunc(a / b), a constant."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = a._data / b._data
    return make((np.floor(q) if rounding == "floor" else np.trunc(q)).astype(a._data.dtype, copy=False))


def _mod(input, other, rounding):
    a, b = binary_operands(input, other)
    if a._data.dtype.kind in "fc" or a._data.dtype is _dtype.BF16:
        return Remainder.apply(a, b, rounding)
    if a._data.dtype.kind in "iu" and np.any(b._data == 0):
        raise RuntimeError("ZeroDivisionError")
    return make((np.remainder if rounding == "floor" else np.fmod)(a._data, b._data))


@U.refuses_promoted("remainder_cpu")
def remainder(input, other):
    """Python's modulus a - b * floor(a / b) (the sign of b), like torch.remainder."""
    return _mod(input, other, "floor")


@U.refuses_promoted("fmod_cpu")
def fmod(input, other):
    """C's fmod a - b * trunc(a / b) (the sign of a), like torch.fmod."""
    return _mod(input, other, "trunc")


# --------------------------------------------------------------------------- public functions
def _unary(op, name):
    def fn(input):
        if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
            return input._nested_call(name, input)
        return op.apply(float_operand(input))
    fn.__name__ = name
    fn.__doc__ = "Elementwise %s (differentiable), like torch.%s." % (name, name)
    return fn


# a binding table (as special.py's erfinv, i0, ...): one line per op
expm1 = _unary(Expm1, "expm1")
log1p = _unary(Log1p, "log1p")
log2 = _unary(Log2, "log2")
log10 = _unary(Log10, "log10")
rsqrt = _unary(Rsqrt, "rsqrt")
reciprocal = _unary(Reciprocal, "reciprocal")
tan = _unary(Tan, "tan")
asin = arcsin = _unary(Asin, "asin")
acos = arccos = _unary(Acos, "acos")
atan = arctan = _unary(Atan, "atan")
sinh = _unary(Sinh, "sinh")
cosh = _unary(Cosh, "cosh")
asinh = arcsinh = _unary(Asinh, "asinh")
acosh = arccosh = _unary(Acosh, "acosh")
atanh = arctanh = _unary(Atanh, "atanh")
erf = _unary(Erf, "erf")


def erfc(input):
    return 1.0 - erf(input)


def atan2(input, other):
    a, b = binary_operands(input, other)
    if a._data.dtype.kind not in "fc" and a._data.dtype is not _dtype.BF16:
        a, b = a.to(_dtype.get_default_dtype()), b.to(_dtype.get_default_dtype())
    return Atan2.apply(a, b)


arctan2 = atan2


def _rounding(f, name):
    def fn(input):
        if input._data.dtype.kind != "f" and input._data.dtype is not _dtype.BF16:
            return input.clone()  # integers are already whole
        return Piecewise.apply(input, f)
    fn.__name__ = name
    fn.__doc__ = "Elementwise %s; its gradient is zero (like PyTorch)." % name
    return fn


floor = _rounding(np.floor, "floor")
ceil = _rounding(np.ceil, "ceil")
trunc = fix = _rounding(np.trunc, "trunc")


@U.refuses("round_cpu", skip=U.SKIPS["round"])
def round(input, *, decimals=0):  # noqa: A001
    if input._data.dtype.kind != "f" and input._data.dtype is not _dtype.BF16:
        return input.clone()
    if decimals == 0:
        return Piecewise.apply(input, np.round)
    return Piecewise.apply(input, lambda a: np.round(a, decimals))


@U.refuses("frac_cpu")
def frac(input):
    return input - trunc(input)


@U.refuses("lerp_kernel_scalar")
@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def lerp(input, end, weight):
    """input + weight * (end - input)."""
    if _dtype.kind(input._data.dtype) != "f" or (is_tensor(end) and end._data.dtype != input._data.dtype):
        raise RuntimeError("expected dtype %s for `end` but got dtype %s" % (
            input.dtype.name, end.dtype.name if is_tensor(end) else type(end).__name__))
    return input + weight * (end - input)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced; the gradient passes where input is finite."""
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("nan_to_num", input, nan, posinf, neginf)
    d = input._data
    if d.dtype.kind != "f" and d.dtype is not _dtype.BF16:
        return input.clone()
    fin = _dtype.np_finfo(d.dtype)
    w = d.astype(np.float32) if _dtype.is_half(d.dtype) else d  # (NumPy's nan_to_num skips bfloat16)
    filled = np.nan_to_num(w, nan=nan, posinf=float(fin.max) if posinf is None else posinf,
                           neginf=float(fin.min) if neginf is None else neginf).astype(d.dtype, copy=False)
    return where(make(np.isfinite(d)), input, make(filled))


class Hypot(Op):
    """hypot(a, b) = sqrt(a * a + b * b) without overflow or underflow of the squares (np.hypot: 1e30
    stays 1e30 in float32, as PyTorch's std::hypot); d/da = a / hypot, d/db = b / hypot (PyTorch's
    formula: NaN at the origin, as there)."""

    @staticmethod
    def forward(ctx, a, b):
        h = np.hypot(a._data, b._data)
        ctx.save_for_backward(a, b, h)
        return h

    @staticmethod
    def backward(ctx, g):
        a, b, h = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * a / h if need[0] else None), (g * b / h if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b, h = ctx.saved_tensors
        out = None if ta is None else ta * a / h
        if tb is not None:
            out = tb * b / h if out is None else out + tb * b / h
        return out


@U.refuses_promoted("hypot_cpu")
def hypot(input, other):
    a, b = binary_operands(input, other)
    if a._data.dtype.kind not in "fc" and a._data.dtype is not _dtype.BF16:
        a, b = a.to(_dtype.get_default_dtype()), b.to(_dtype.get_default_dtype())
    return Hypot.apply(a, b)


@U.refuses_promoted("logaddexp_cpu")
@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def logaddexp(input, other):
    from fastgrad._ops.elementwise import maximum

    m = maximum(input, other).detach()
    m = where(make(np.isfinite(m._data)), m, make(np.zeros((), m._data.dtype)))
    return m + log1p(exp(input - m) + exp(other - m) - 1.0)


def deg2rad(input):
    return float_operand(input) * (math.pi / 180.0)


def rad2deg(input):
    return float_operand(input) * (180.0 / math.pi)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def sinc(input):
    x = float_operand(input)
    px = x * math.pi
    zero = make(np.asarray(x._data == 0))
    safe = where(zero, make(np.ones((), x._data.dtype)), px)
    from fastgrad._ops.elementwise import sin

    return where(zero, make(np.ones((), x._data.dtype)), sin(safe) / safe)


def positive(input):
    return input


def signbit(input):
    return make(np.signbit(input._data))


def copysign(input, other):
    a, b = binary_operands(input, other)
    a = float_operand(a)
    s = make(np.where(np.signbit(b._data), -1.0, 1.0).astype(a._data.dtype))
    return abs(a) * s


__all__ = ["expm1", "log1p", "log2", "log10", "rsqrt", "reciprocal", "tan", "asin", "arcsin", "acos",
           "arccos", "atan", "arctan", "sinh", "cosh", "asinh", "arcsinh", "acosh", "arccosh", "atanh",
           "arctanh", "erf", "erfc", "atan2", "arctan2", "floor", "ceil", "trunc", "fix", "round", "frac",
           "lerp", "nan_to_num", "hypot", "logaddexp", "deg2rad", "rad2deg", "sinc", "positive",
           "signbit", "copysign", "remainder", "fmod"]
