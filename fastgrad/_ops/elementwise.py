"""Elementwise ops: arithmetic, unary math, activations with fused kernels, comparisons."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops import complex as _complex
from fastgrad._ops.base import (GRAD, K, SAVED0, SAVED1, Op, binary_operands, check_broadcast, engine,
                                float_operand, is_tensor, make)
from fastgrad._ops.minmax import clamp_tensor, extremum
from fastgrad._ops.comparison import (allclose, bitwise_not, eq, equal, ge, gt, isclose, isfinite,  # noqa: F401
                                      isinf, isnan, le, logical_and, logical_not, logical_or, logical_xor, lt, ne)
from fastgrad._ops import unsigned as U


# --------------------------------------------------------------------------- arithmetic
class Add(Op):
    _kernel = K.add

    @staticmethod
    def backward(ctx, g):
        return g, g

    _array_grads = (GRAD, GRAD)

    @staticmethod
    def jvp(ctx, ta, tb):
        return _tan_add(ta, tb)


class Sub(Op):
    _kernel = K.sub

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    _array_grads = (GRAD, (K.neg, GRAD))

    @staticmethod
    def jvp(ctx, ta, tb):
        return _tan_add(ta, None if tb is None else -tb)


class Mul(Op):
    _kernel = K.mul
    _saves = (engine.SAVE_IN0_IF_GRAD1, engine.SAVE_IN1_IF_GRAD0)  # x * 3 keeps only the 3

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)

    _array_grads = ((K.mul, GRAD, SAVED1), (K.mul, GRAD, SAVED0))

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        return _tan_add(None if ta is None else ta * b, None if tb is None else a * tb)


class Div(Op):
    _kernel = K.div
    _saves = (engine.SAVE_IN0_IF_GRAD1, engine.SAVE_IN1)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        # -g * ((a / b) / b), torch's order: b * b would underflow (or overflow) first
        return (g / b if need[0] else None), (-g * (a / b / b) if need[1] else None)

    _array_grads = ((K.div, GRAD, SAVED1),
                    (K.mul, (K.neg, GRAD), (K.div, (K.div, SAVED0, SAVED1), SAVED1)))

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        return _tan_add(None if ta is None else ta / b, None if tb is None else -tb * (a / b / b))


class Neg(Op):
    _kernel = K.neg

    @staticmethod
    def backward(ctx, g):
        return -g

    _array_grads = ((K.neg, GRAD),)

    @staticmethod
    def jvp(ctx, t):
        return -t


class Square(Op):
    """x ** 2 (pow routes it here): declared by its kernel."""

    _kernel = K.square
    _saves = (engine.SAVE_IN0,)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x * 2.0)

    _array_grads = ((K.mul, GRAD, (K.add, SAVED0, SAVED0)),)  # x + x is x * 2.0 exactly

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * (x * 2.0)


class PowScalar(Op):
    """x ** p for a Python number p other than 2 (Square)."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return _pow_scalar(x._data, p)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:  # zeros, whatever g is (torch)
            return make(np.zeros(x._data.shape, x._data.dtype)), None
        return g * (p * x ** (p - 1)), None

    @staticmethod
    def _array_backward(ctx, g):
        (x,) = ctx.saved_arrays
        p, dt = ctx.p, x.dtype
        if p == 0:
            return np.zeros(x.shape, dt), None
        return K.mul(g, K.mul(np.asarray(p, dt), _pow_scalar(x, p - 1))), None

    @staticmethod
    def jvp(ctx, t, _):
        (x,) = ctx.saved_tensors
        p = ctx.p
        return make(np.zeros(x._data.shape, x._data.dtype)) if p == 0 else t * (p * x ** (p - 1))


def _pow_scalar(x, p):
    """x ** p of an array and a Python number, in x's dtype. Real floats take torch's shortcuts for the
    exponents 2, 3, -1, -2 and -0.5 (its pow_tensor_scalar_optimized_kernel: x*x, x*x*x, 1/x, 1/(x*x),
    1/sqrt(x)), which are also many times faster than np.power; the rest (and float16, which torch
    rounds once from float32) is np.power."""
    if p == 2:
        return np.square(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # torch: inf/nan, no warning
        if (x.dtype == np.float32 or x.dtype == np.float64) and p in (3, -1, -2, -0.5):
            if p == -0.5 and x.dtype == np.float32 and engine.state().half is _dtype.F16:
                return np.power(x, np.float32(p))  # float16 (run in float32): torch's pow, not 1/sqrt
            if p == 3:
                return x * x * x
            one = np.ones((), x.dtype)
            if p == -1:
                return one / x
            if p == -2:
                return one / (x * x)
            return one / np.sqrt(x)
        return np.power(x, np.asarray(p, dtype=x.dtype))


class RPowScalar(Op):
    """c ** x for a Python number c."""

    @staticmethod
    def forward(ctx, x, c):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.power(np.asarray(c, dtype=x._data.dtype), x._data)
        ctx.save_for_backward(y)
        ctx.logc = float(np.log(c)) if c > 0 else float("-inf") if c == 0 else float("nan")
        ctx.zero_at = (x._data >= 0) if c == 0 else None  # torch: 0 where base == 0 and x >= 0
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        out = g * y * ctx.logc
        return (out if ctx.zero_at is None else where(make(ctx.zero_at), make(np.zeros((), y._data.dtype)), out)), None

    @staticmethod
    def jvp(ctx, t, _):
        (y,) = ctx.saved_tensors
        out = t * y * ctx.logc
        return out if ctx.zero_at is None else where(make(ctx.zero_at), make(np.zeros((), y._data.dtype)), out)


# twin of complex.Pow (fastgrad/_ops/complex.py): that one conjugates the gradients (Wirtinger)
class Pow(Op):
    """a ** b for two tensors."""

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = np.power(a._data, b._data)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = _pow_grad_base(a, b, g) if need[0] else None
        gb = g * _pow_dexp(a, b, y) if need[1] else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b, y = ctx.saved_tensors
        out = None if ta is None else _pow_grad_base(a, b, ta)
        if tb is not None:
            out = _tan_add(out, tb * _pow_dexp(a, b, y))
        return out


def _pow_grad_base(a, b, g):
    """torch's pow_backward_self: 0 where the exponent is 0 (whatever a and g are), else
    g * b * a ** (b - 1)."""
    zero = make(np.zeros((), a._data.dtype))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = g * (b * a ** (b - 1))
    return where(make(b._data == 0), zero, out)


def _pow_dexp(a, b, y):
    """d(a ** b)/db as torch: 0 where a == 0 and b >= 0, else y * log(a) (nan for a < 0)."""
    zero = make(np.zeros((), a._data.dtype))
    return where(make((a._data == 0) & (b._data >= 0)), zero, y * log(a))


def _tan_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


# --------------------------------------------------------------------------- unary math
class Exp(Op):
    _kernel = np.exp
    _saves = (engine.SAVE_OUT,)
    _grad_op = Mul  # g * y as y * g: the same product

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return t * y


class Log(Op):
    _plain = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x._data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t / x


class Sqrt(Op):
    _plain = True

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            y = np.sqrt(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (y * 2.0)

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return t / (y * 2.0)


class Abs(Op):
    _kernel = np.abs
    _saves = (engine.SAVE_IN0,)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sign(x)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * sign(x)


class Sin(Op):
    _kernel = np.sin
    _saves = (engine.SAVE_IN0,)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * cos(x)

    _array_grads = ((K.mul, GRAD, (np.cos, SAVED0)),)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * cos(x)


class Cos(Op):
    _kernel = np.cos
    _saves = (engine.SAVE_IN0,)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * sin(x)

    _array_grads = ((K.mul, (K.neg, GRAD), (np.sin, SAVED0)),)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return -t * sin(x)


# --------------------------------------------------------------------------- activations
# Each fused kernel pair (fwd, bwd) is two ops: the bwd op has its own backward, so the
# first-order path is one kernel call each way and double backward still works. The bwd op
# comes first: the fwd op names it as its _grad_op.
# twin of TanhBackward/ReluBackward below: one fused (fwd, bwd) kernel pair each; the maths differ
class SigmoidBackward(Op):
    """g * y * (1 - y), y = sigmoid(x)."""

    _kernel = K.sigmoid_bwd
    _saves = (engine.SAVE_IN0, engine.SAVE_IN1)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        return gg * g * (1.0 - y * 2.0), SigmoidBackward.apply(y, gg)

    @staticmethod
    def jvp(ctx, ty, tg):
        y, g = ctx.saved_tensors
        out = None if ty is None else ty * g * (1.0 - y * 2.0)
        return _tan_add(out, None if tg is None else SigmoidBackward.apply(y, tg))


class Sigmoid(Op):
    _kernel = K.sigmoid_fwd
    _saves = (engine.SAVE_OUT,)
    _grad_op = SigmoidBackward

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return SigmoidBackward.apply(y, t)


# twin of SigmoidBackward above: one fused (fwd, bwd) kernel pair each; the maths differ
class TanhBackward(Op):
    """g * (1 - y**2), y = tanh(x)."""

    _kernel = K.tanh_bwd
    _saves = (engine.SAVE_IN0, engine.SAVE_IN1)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        return gg * g * y * -2.0, TanhBackward.apply(y, gg)

    @staticmethod
    def jvp(ctx, ty, tg):
        y, g = ctx.saved_tensors
        out = None if ty is None else ty * g * y * -2.0
        return _tan_add(out, None if tg is None else TanhBackward.apply(y, tg))


class Tanh(Op):
    _kernel = K.tanh_fwd
    _saves = (engine.SAVE_OUT,)
    _grad_op = TanhBackward

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return TanhBackward.apply(y, t)


class ReluBackward(Op):
    """g where x > 0 else 0 (the derivative in x is zero almost everywhere)."""

    _kernel = K.relu_bwd
    _saves = (engine.SAVE_IN0,)

    @staticmethod
    def backward(ctx, gg):
        (x,) = ctx.saved_tensors
        return None, ReluBackward.apply(x, gg)

    @staticmethod
    def jvp(ctx, tx, tg):
        (x,) = ctx.saved_tensors
        return None if tg is None else ReluBackward.apply(x, tg)


class Relu(Op):
    _kernel = K.relu_fwd
    _saves = (engine.SAVE_IN0,)
    _grad_op = ReluBackward

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return ReluBackward.apply(x, t)


class Clamp(Op):
    """clamp with scalar bounds; the gradient passes where min <= x <= max (PyTorch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        d = x._data
        ctx.mask = None
        if lo is not None and hi is not None:
            y = np.minimum(np.maximum(d, lo), hi)
        elif lo is not None:
            y = np.maximum(d, np.asarray(lo, d.dtype))
        else:
            y = np.minimum(d, np.asarray(hi, d.dtype))
        if ctx.needs_input_grad and ctx.needs_input_grad[0]:
            mask = np.ones(d.shape, bool) if lo is None else (d >= lo)
            if hi is not None:
                mask &= d <= hi
            ctx.save_for_backward(mask)
        return y

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return where(mask, g, make(np.zeros((), g._data.dtype))), None, None  # 0, not inf * 0

    @staticmethod
    def jvp(ctx, t, *_):
        (mask,) = ctx.saved_tensors
        return where(mask, t, make(np.zeros((), t._data.dtype)))


class Where(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return np.where(cond._data, a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        zero = make(np.zeros((), g._data.dtype))  # not g * 0.0: an inf or nan g gives 0 where unselected
        return (None, where(cond, g, zero) if need[1] else None,
                where(cond, zero, g) if need[2] else None)

    @staticmethod
    def jvp(ctx, tc, ta, tb):
        (cond,) = ctx.saved_tensors
        ta = 0.0 if ta is None else ta
        tb = 0.0 if tb is None else tb
        return where(cond, ta, tb)


# --------------------------------------------------------------------------- public functions
def _times_alpha(a, b, alpha):
    """other * alpha for add/sub; alpha takes no part in type promotion (torch; tests/test_ops_fuzz.py)."""
    if a._data.dtype.kind in "biu" and b._data.dtype.kind in "biu" and isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    return mul(b, bool(alpha) if a._data.dtype == np.bool_ and b._data.dtype == np.bool_ else alpha)


@U.refuses_promoted("add_stub")
def add(input, other, *, alpha=1):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("add", input, other, alpha=alpha)
    a, b = binary_operands(input, other)
    if alpha != 1:
        b = _times_alpha(a, b, alpha)
    return Add.apply(a, b)


@U.refuses_promoted("add_stub")
def sub(input, other, *, alpha=1):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("sub", input, other, alpha=alpha)
    a, b = binary_operands(input, other)
    if a._data.dtype == np.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        b = _times_alpha(a, b, alpha)
    return Sub.apply(a, b)


@U.refuses_promoted("add_stub")
def rsub(input, other, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("mul", input, other)
    a, b = binary_operands(input, other)
    if a._data.dtype.kind == "c":  # gradients conjugated (complex.py)
        return _complex.Mul.apply(a, b)
    return Mul.apply(a, b)


@U.refuses_rounding
def div(input, other, *, rounding_mode=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("div", input, other, rounding_mode=rounding_mode)
    a, b = binary_operands(input, other)
    if rounding_mode is not None:
        if rounding_mode not in ("floor", "trunc"):
            raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '%s'"
                               % rounding_mode)
        with np.errstate(all="ignore"):
            q = a._data / b._data if _dtype.kind(a._data.dtype) in "fc" else np.true_divide(a._data, b._data)
            q = (np.floor(q) if rounding_mode == "floor" else np.trunc(q)).astype(a._data.dtype, copy=False)
        # piecewise constant: a float result is differentiable with a zero gradient, as torch's
        src = a if a._requires_grad or a._fw_grad is not None else b
        if _dtype.kind(q.dtype) == "f" and (src._requires_grad or src._fw_grad is not None):
            return Piecewise.apply(src, lambda _: q)
        return make(q)
    if a._data.dtype.kind not in "fc" and a._data.dtype is not _dtype.BF16:
        a, b = a.to(_dtype.get_default_dtype()), b.to(_dtype.get_default_dtype())
    if a._data.dtype.kind == "c":
        return _complex.Div.apply(a, b)
    return Div.apply(a, b)


true_divide = div

# the Tensor dunders (+ - * /) enter through engine.binary; other cases come back here
Add._general, Sub._general, Mul._general, Div._general = add, sub, mul, div
engine.register("binops", (Add, Sub, Mul, Div))


@U.refuses_promoted("div_floor_cpu")
def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


@U.refuses("neg_cpu")
def neg(input):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("neg", input)
    return Neg.apply(input)


negative = neg


@U.refuses_promoted("pow", pow_like=True)
def pow(input, exponent):  # noqa: A001
    if getattr(input, "is_nested", False) or getattr(exponent, "is_nested", False):  # torch.nested
        return (input if getattr(input, "is_nested", False) else exponent)._nested_call("pow", input, exponent)
    if is_tensor(exponent):
        if not is_tensor(input):
            input, exponent = binary_operands(input, exponent)
        elif exponent._data.ndim == 0 and not exponent._requires_grad and exponent._fw_grad is None \
                and input._data.dtype.kind not in "fc" and input._data.dtype is not _dtype.BF16:
            return pow(input, exponent.item())  # integer input: the number's rules (errors, promotion)
        else:
            input, exponent = binary_operands(input, exponent)
        if input._data.dtype.kind not in "fc" and input._data.dtype is not _dtype.BF16:
            if input._data.dtype == np.bool_:  # torch has no bool pow kernel (found by tests/test_ops_fuzz.py)
                raise NotImplementedError("\"pow\" not implemented for 'Bool'")
            a, b = input._data, exponent._data
            if b.dtype.kind == "i" and np.any(b < 0):  # torch's integer pow: 1, +-1 for -1, else 0 (numpy raises)
                out = np.power(a, np.maximum(b, 0))
                return make(np.where(b < 0, np.where(a == -1, 1 - 2 * (b % 2), a == 1), out).astype(out.dtype))
            return make(np.power(a, b))
        if input._data.dtype.kind == "c":
            return _complex.Pow.apply(input, exponent)
        return Pow.apply(input, exponent)
    if isinstance(exponent, (int, float, np.number)) and not isinstance(exponent, bool):
        if input._data.dtype.kind == "c":
            return _complex.holomorphic("pow", input, exponent)
        if input._data.dtype.kind not in "fc" and input._data.dtype is not _dtype.BF16:
            if isinstance(exponent, float):
                input = input.to(_dtype.get_default_dtype())
            else:
                if exponent < 0:
                    raise RuntimeError("Integers to negative integer powers are not allowed.")
                return make(np.power(input._data, exponent))
        if exponent == 2:
            return Square.apply(input)
        return PowScalar.apply(input, exponent)
    raise TypeError("pow(): exponent must be a Tensor or a number, got %s" % type(exponent).__name__)


@U.refuses_promoted("pow")  # 2 ** x (TensorBase.__rpow__)
def rpow(input, base):
    if is_tensor(base):
        return pow(base, input)
    if type(base) is int and input._data.dtype.kind in "iu":  # int ** int tensor: integers
        return make(_int_rpow(base, input._data))
    dt = input._data.dtype
    x = float_operand(input) if isinstance(base, float) or (dt.kind not in "fc" and dt is not _dtype.BF16) else input
    return RPowScalar.apply(x, base)


def _int_rpow(base, e):
    """base ** e for an int base and an integer array e, in e's dtype, as PyTorch computes
    it: a negative exponent gives 1 for base 1, +-1 for base -1, else 0 (0 ** -k too)."""
    out = np.power(np.asarray(base, e.dtype), np.maximum(e, 0))
    neg = e < 0
    if neg.any():
        out[neg] = 1 if base == 1 else np.where(e[neg] % 2 == 0, 1, -1) if base == -1 else 0
    return out


engine.register("pow", (pow, Square, rpow))  # TensorBase.__pow__ / __rpow__ (x ** 2: Square)


def _unary(op):
    """fastgrad.exp etc.: float tensors take the compiled fast path (engine.unary), anything
    else op._general."""
    name = op.__name__.lower()
    op._general = lambda input: (input._nested_call(name, input) if getattr(input, "is_nested", False) else
                                 _complex.holomorphic(name, input) if _is_complex(input) else
                                 op.apply(float_operand(input)))
    return engine.UnaryFunction(op, name, "Elementwise %s (differentiable)." % name)


exp = _unary(Exp)
log = _unary(Log)
sqrt = _unary(Sqrt)
sin = _unary(Sin)
cos = _unary(Cos)
sigmoid = _unary(Sigmoid)
tanh = _unary(Tanh)


def _is_complex(x):
    return is_tensor(x) and x._data.dtype.kind == "c"


@U.refuses("abs_cpu")
def abs(input):  # noqa: A001
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("abs", input)
    if input._data.dtype.kind == "c":
        return _complex.abs(input)
    if input._data.dtype.kind not in "fc" and input._data.dtype is not _dtype.BF16:
        return make(np.abs(input._data))
    return Abs.apply(input)


def relu(input):
    if input.is_nested:  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("relu", input)
    if input._data.dtype == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    if input._data.dtype.kind not in "fc" and input._data.dtype is not _dtype.BF16:
        _dtype.refuse_barebones("clamp_min_scalar_cpu", input._data.dtype)  # F.relu: compared by identity
        return make(np.maximum(input._data, 0))
    return Relu.apply(input)


class Piecewise(Op):
    """A piecewise-constant function f (sign, floor, ceil, round, trunc): zero gradient."""

    @staticmethod
    def forward(ctx, x, f):
        return f(x._data)

    @staticmethod
    def backward(ctx, g):
        return make(np.zeros_like(g._data)), None

    @staticmethod
    def jvp(ctx, t, f):
        return make(np.zeros_like(t._data))


def _sign(x):
    """np.sign with torch's 0 at NaN."""
    s = np.sign(x)
    if s.dtype.kind == "f" and s.size and np.isnan(s).any():
        s = np.where(np.isnan(s), s.dtype.type(0), s)
    return s


@U.refuses("sign_cpu")
def sign(input):
    if input._data.dtype.kind == "f" or input._data.dtype is _dtype.BF16:
        return Piecewise.apply(input, _sign)
    if input._data.dtype == np.bool_:
        return input.clone()
    return make(np.sign(input._data))


@U.refuses("pow")
def square(input):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("square", input)
    return pow(input, 2)


@U.refuses_clamp
def clamp(input, min=None, max=None):  # noqa: A002
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("clamp", input, min, max)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if is_tensor(min) or is_tensor(max):
        return clamp_tensor(input, min, max)
    if input._data.dtype.kind not in "fc" and input._data.dtype is not _dtype.BF16:
        if isinstance(min, float) or isinstance(max, float):
            input = input.to(_dtype.get_default_dtype())
        else:
            return make(np.clip(input._data, min, max))
    elif _dtype.is_half(input._data.dtype):  # torch's gradient mask compares with the bounds in the
        min, max = (None if v is None else _dtype_round(v, input._data.dtype) for v in (min, max))  # dtype
    return Clamp.apply(input, min, max)


def _dtype_round(v, dt):
    """A Python bound rounded to a half dtype (as torch's x >= min compares; 1e-12 is 0 in float16)."""
    return float(np.asarray(v, np.float32).astype(dt).astype(np.float32))


clip = clamp


def where(condition, input=None, other=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("where", condition, input, other)
    if input is None and other is None:
        return tuple(make(i) for i in np.nonzero(condition._data))
    cond = condition if is_tensor(condition) else make(np.asarray(condition))
    if cond._data.dtype != np.bool_:
        cond = make(cond._data.astype(bool))
    a, b = binary_operands(input, other)
    shape = cond._data.shape
    for t in (a, b):  # torch's message (condition first), not NumPy's
        if t._data.shape != shape:
            check_broadcast(shape, t._data.shape)
            shape = np.broadcast_shapes(shape, t._data.shape)
    return Where.apply(cond, a, b)


@U.refuses_promoted("maximum_cpu")
def maximum(input, other):
    return extremum(input, other, "max")


@U.refuses_promoted("minimum_cpu")
def minimum(input, other):
    return extremum(input, other, "min")


def _any_grad(*ts):
    return any(t._requires_grad or t._fw_grad is not None for t in ts)  # a tangent needs the op too
