"""Complex numbers: real, imag, conj, view_as_real/view_as_complex, complex, polar, angle, sgn,
isreal, and the complex forms of the elementwise ops (mul, div, abs, exp, log, sqrt, sin, cos,
tanh, sigmoid, pow) that elementwise.py routes here for complex tensors.

Gradients follow PyTorch's convention: the gradient of a real loss L with respect to a complex
z = x + iy is dL/dx + i dL/dy (the conjugate Wirtinger derivative, times 2). For a holomorphic
f, the gradient of f(z) is g * conj(f'(z)); its tangent (jvp) is t * f'(z).

Conjugation is physical here (fastgrad has no lazy conjugate bit): conj and conj_physical copy,
is_conj() and is_neg() are always False, resolve_conj and resolve_neg return the tensor itself.
real, imag and view_as_real/view_as_complex return new tensors, not views of the input."""
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import Op, TensorBase, is_tensor, make, scalar_type_name
from fastgrad._ops import unsigned as U

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}


def complex_dtype_of(np_dtype):
    """The complex NumPy dtype whose parts are np_dtype (float16 -> complex64: no complex32)."""
    return _COMPLEX_OF.get(np.dtype(np_dtype), np.dtype(np.complex64))


def _const(value, like):
    return make(np.asarray(value, like._data.dtype))


# --------------------------------------------------------------------------- parts and conjugate
# same self-adjoint Op shape as linalg_lu.ConjTranspose and ViewAsReal/ViewAsComplex: the maths differ
class Conj(Op):
    _half_native = True

    @staticmethod
    def forward(ctx, z):
        return np.conj(z._data)

    @staticmethod
    def backward(ctx, g):
        return Conj.apply(g)

    @staticmethod
    def jvp(ctx, t):
        return Conj.apply(t)


class Real(Op):
    """Re z, a real tensor (a copy)."""

    @staticmethod
    def forward(ctx, z):
        return z._data.real.copy()

    @staticmethod
    def backward(ctx, g):
        return ToComplex.apply(g, None)

    @staticmethod
    def jvp(ctx, t):
        return Real.apply(t)


class Imag(Op):
    """Im z, a real tensor (a copy)."""

    @staticmethod
    def forward(ctx, z):
        return z._data.imag.copy()

    @staticmethod
    def backward(ctx, g):
        return ToComplex.apply(None, g)  # i * g

    @staticmethod
    def jvp(ctx, t):
        return Imag.apply(t)


class ToComplex(Op):
    """re + i im from two real tensors of one dtype (either may be None: zero)."""

    @staticmethod
    def forward(ctx, re, im):
        a = re._data if re is not None else None
        b = im._data if im is not None else None
        dt = complex_dtype_of((a if a is not None else b).dtype)
        if a is not None and b is not None:
            a, b = np.broadcast_arrays(a, b)
        out = np.zeros((a if a is not None else b).shape, dt)
        if a is not None:
            out.real = a
        if b is not None:
            out.imag = b
        return out

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return (Real.apply(g) if need[0] else None), (Imag.apply(g) if need[1] else None)

    @staticmethod
    def jvp(ctx, tr, ti):
        if tr is None and ti is None:
            return None
        return ToComplex.apply(tr, ti)


# ViewAsReal/ViewAsComplex: each the other's adjoint (as Im2Col/Col2Im in spatial.py); one Op each
class ViewAsReal(Op):
    """z of shape s as a real tensor of shape s + (2,) (a copy)."""

    @staticmethod
    def forward(ctx, z):
        d = z._data
        return np.stack([d.real, d.imag], axis=-1)

    @staticmethod
    def backward(ctx, g):
        return ViewAsComplex.apply(g)

    @staticmethod
    def jvp(ctx, t):
        return ViewAsReal.apply(t)


class ViewAsComplex(Op):
    """A real tensor of shape s + (2,) as a complex tensor of shape s (a copy)."""

    @staticmethod
    def forward(ctx, x):
        d = x._data
        out = np.empty(d.shape[:-1], _COMPLEX_OF[d.dtype])
        out.real, out.imag = d[..., 0], d[..., 1]
        return out

    @staticmethod
    def backward(ctx, g):
        return ViewAsReal.apply(g)

    @staticmethod
    def jvp(ctx, t):
        return ViewAsComplex.apply(t)


class Polar(Op):
    """abs (cos angle + i sin angle). The gradient is torch's polar_backward: Re(conj(g) sgn(result))
    for abs (so a negative abs gets the gradient of |abs|) and Re(conj(g) i result) for angle."""

    @staticmethod
    def forward(ctx, r, theta):
        a, t = np.broadcast_arrays(r._data, theta._data)
        out = np.empty(a.shape, complex_dtype_of(a.dtype))
        out.real, out.imag = a * np.cos(t), a * np.sin(t)
        ctx.save_for_backward(r, theta, out)
        return out

    @staticmethod
    def backward(ctx, g):
        r, theta, y = ctx.saved_tensors
        gc = Conj.apply(g)
        need = ctx.needs_input_grad
        return (Real.apply(Mul.apply(gc, Sgn.apply(y))) if need[0] else None,
                Real.apply(Mul.apply(gc, Mul.apply(y, _const(1j, y)))) if need[1] else None)

    @staticmethod
    def jvp(ctx, tr, tt):
        r, theta, y = ctx.saved_tensors
        c, s = theta.cos(), theta.sin()
        out = None if tr is None else ToComplex.apply(tr * c, tr * s)
        if tt is not None:
            v = ToComplex.apply(-(tt * r * s), tt * r * c)
            out = v if out is None else out + v
        return out


# --------------------------------------------------------------------------- abs, angle, sgn
class Sgn(Op):
    """z / |z| (0 at 0) for complex z."""

    @staticmethod
    def forward(ctx, z):
        d = z._data
        a = np.abs(d)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(a == 0, np.zeros((), d.dtype), d / a)
        ctx.save_for_backward(z, s)
        return s

    @staticmethod
    def backward(ctx, g):
        z, s = ctx.saved_tensors
        return _sgn_grad(z, s, g)

    @staticmethod
    def jvp(ctx, t):
        z, s = ctx.saved_tensors  # ds = (dz - s Re(conj(s) dz)) / |z|, the same linear map as the
        r = Abs.apply(z)          # gradient's (it is self-adjoint)
        return _where0(r, (t - mul(s, ToComplex.apply(Real.apply(mul(Conj.apply(s), t)), None))) / _cx(r))


def _cx(r):
    return ToComplex.apply(r, None)


# same linear-op shape as fft.Resize and views.ViewFill (backward and jvp apply the op): the maths differ
class MaskZero(Op):
    """v with 0 where the boolean array mask is set (not v * 0: inf and nan become 0 too)."""

    _half_native = True

    @staticmethod
    def forward(ctx, v, mask):
        ctx.mask = mask
        return np.where(mask, np.zeros((), v._data.dtype), v._data)

    @staticmethod
    def backward(ctx, g):
        return MaskZero.apply(g, ctx.mask), None

    @staticmethod
    def jvp(ctx, t, mask):
        return MaskZero.apply(t, mask)


def _where0(r, v):
    """v, with 0 where r == 0."""
    return MaskZero.apply(v, np.broadcast_to(r._data == 0, v._data.shape))


def _sgn_grad(z, s, g):
    r = Abs.apply(z)
    proj = ToComplex.apply(Real.apply(mul(Conj.apply(s), g)), None)
    return _where0(r, div(g - mul(s, proj), _cx(r)))


class Abs(Op):
    """|z|, real, for complex z: the gradient is g * sgn(z)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return np.abs(z._data)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return mul(_cx(g), Sgn.apply(z))

    @staticmethod
    def jvp(ctx, t):
        (z,) = ctx.saved_tensors
        return Real.apply(mul(Conj.apply(Sgn.apply(z)), t))


class Angle(Op):
    """arg z, real, for complex z: the gradient is g * i z / |z|^2 (0 at 0)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return np.angle(z._data)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        r = Abs.apply(z)
        v = mul(mul(_cx(g), z), _const(1j, z)) / _cx(r * r)
        return _where0(r, v)

    @staticmethod
    def jvp(ctx, t):
        (z,) = ctx.saved_tensors  # d arg z = Im(conj(z) dz) / |z|^2
        r = Abs.apply(z)
        return _where0(r, Imag.apply(mul(Conj.apply(z), t)) / (r * r))


class RealAngle(Op):
    """angle of a real tensor: pi where x < 0, else 0 (nan stays nan); zero gradient."""

    @staticmethod
    def forward(ctx, x):
        d = x._data
        return np.where(d < 0, d.dtype.type(np.pi), np.where(np.isnan(d), d, d.dtype.type(0)))

    @staticmethod
    def backward(ctx, g):
        return make(np.zeros(g._data.shape, g._data.dtype))

    @staticmethod
    def jvp(ctx, t):
        return make(np.zeros(t._data.shape, t._data.dtype))


# --------------------------------------------------------------------------- arithmetic
class Mul(Op):
    """a * b for complex a, b: gradients g * conj(b), g * conj(a)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a._data * b._data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (Mul.apply(g, Conj.apply(b)) if need[0] else None), (Mul.apply(g, Conj.apply(a)) if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        out = None if ta is None else Mul.apply(ta, b)
        if tb is not None:
            out = Mul.apply(a, tb) if out is None else out + Mul.apply(a, tb)
        return out


class Div(Op):
    """a / b for complex a, b: gradients g / conj(b), -g * conj(a / b / b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a._data / b._data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = Div.apply(g, Conj.apply(b)) if need[0] else None
        gb = -Mul.apply(g, Conj.apply(Div.apply(Div.apply(a, b), b))) if need[1] else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        out = None if ta is None else Div.apply(ta, b)
        if tb is not None:
            v = -Mul.apply(tb, Div.apply(Div.apply(a, b), b))
            out = v if out is None else out + v
        return out


# twin of elementwise.Pow: the real op; this one conjugates the gradients (Wirtinger)
class Pow(Op):
    """a ** b for complex tensors: gradients g * conj(b a^(b-1)) (0 where b == 0) and
    g * conj(a^b log a) (0 where a == 0 and Re b >= 0), as torch's pow_backward."""

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(all="ignore"):
            y = np.power(a._data, b._data)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (Mul.apply(g, Conj.apply(_dpow_base(a, b))) if need[0] else None,
                Mul.apply(g, Conj.apply(_dpow_exp(a, b, y))) if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b, y = ctx.saved_tensors
        out = None if ta is None else Mul.apply(ta, _dpow_base(a, b))
        if tb is not None:
            v = Mul.apply(tb, _dpow_exp(a, b, y))
            out = v if out is None else out + v
        return out


def _masked(v, mask):
    return MaskZero.apply(v, mask)


def _dpow_base(a, b):
    with np.errstate(all="ignore"):
        v = Mul.apply(b, Pow.apply(a, b - 1))
    return _masked(v, np.broadcast_to(b._data == 0, v._data.shape))


def _dpow_exp(a, b, y):
    with np.errstate(all="ignore"):
        v = Mul.apply(y, Holomorphic.apply(a, "log", None))
    return _masked(v, np.broadcast_to((a._data == 0) & (b._data.real >= 0), v._data.shape))


def _complex_pair(a, b):
    """Two operands as tensors of one complex dtype."""
    dt = _dtype.result_type(a, b)
    dt = np.dtype(dt) if dt.kind == "c" else complex_dtype_of(dt)
    return _as(a, dt), _as(b, dt)


def _as(x, dt):
    if is_tensor(x):
        if x._data.dtype == dt:
            return x
        if x._data.dtype.kind == "c":
            return x.to(_dtype.from_numpy_dtype(dt))
        r = x if x._data.dtype == _REAL_OF[dt] else x.to(_dtype.from_numpy_dtype(_REAL_OF[dt]))
        return ToComplex.apply(r, None)
    return make(np.asarray(x, dt))


def mul(a, b):
    """a * b where either is complex (a tensor or a number)."""
    a, b = _complex_pair(a, b)
    return Mul.apply(a, b)


def div(a, b):
    a, b = _complex_pair(a, b)
    return Div.apply(a, b)


# --------------------------------------------------------------------------- holomorphic unary ops
def _d_exp(x, y, p):
    return y


def _d_log(x, y, p):
    return Holomorphic.apply(x, "pow", -1)


def _d_sqrt(x, y, p):
    return mul(Holomorphic.apply(y, "pow", -1), 0.5)


def _d_sin(x, y, p):
    return Holomorphic.apply(x, "cos", None)


def _d_cos(x, y, p):
    return -Holomorphic.apply(x, "sin", None)


def _d_tanh(x, y, p):
    return 1 - mul(y, y)


def _d_sigmoid(x, y, p):
    return mul(y, 1 - y)


def _d_pow(x, y, p):
    if p == 0:
        return make(np.zeros(x._data.shape, x._data.dtype))
    return mul(Holomorphic.apply(x, "pow", p - 1), p)  # (p = 1: ones, with a graph, as torch's)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


_HOLO = {"exp": (np.exp, _d_exp), "log": (np.log, _d_log), "sqrt": (np.sqrt, _d_sqrt),
         "sin": (np.sin, _d_sin), "cos": (np.cos, _d_cos), "tanh": (np.tanh, _d_tanh),
         "sigmoid": (_sigmoid, _d_sigmoid), "pow": (None, _d_pow)}


class Holomorphic(Op):
    """f(z) for a holomorphic f named in _HOLO (p: pow's exponent): gradient g * conj(f'(z))."""

    @staticmethod
    def forward(ctx, x, name, p):
        d = x._data
        with np.errstate(all="ignore"):
            if name == "pow":
                y = np.square(d) if p == 2 else np.power(d, np.asarray(p, d.dtype))
            else:
                y = _HOLO[name][0](d)
        y = np.asarray(y, d.dtype)
        ctx.name, ctx.p = name, p
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return Mul.apply(g, Conj.apply(_HOLO[ctx.name][1](x, y, ctx.p))), None, None

    @staticmethod
    def jvp(ctx, t, name, p):
        x, y = ctx.saved_tensors
        return Mul.apply(t, _HOLO[name][1](x, y, p))


def holomorphic(name, z, p=None):
    return Holomorphic.apply(z, name, p)


# --------------------------------------------------------------------------- public functions
def real(input):
    if input._data.dtype.kind != "c":
        return input
    return Real.apply(input)


def imag(input):
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def conj(input):
    if input._data.dtype.kind != "c":
        return input
    return Conj.apply(input)


def conj_physical(input, *, out=None):
    r = conj(input) if input._data.dtype.kind == "c" else input.clone()
    return _write_out(r, out)


def resolve_conj(input):
    return input


def resolve_neg(input):
    return input


def is_conj(input):
    return False


def is_neg(input):
    return False


def view_as_real(input):
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input):
    dt = input._data.dtype
    if dt not in _COMPLEX_OF:
        raise RuntimeError("view_as_complex is only supported for half, float and double tensors, but got a "
                           "tensor of scalar type: %s" % scalar_type_name(dt))
    if input._data.ndim == 0 or input._data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return ViewAsComplex.apply(input)


def _parts_check(a, b):
    da, db = a._data.dtype, b._data.dtype
    if da not in _COMPLEX_OF or db not in _COMPLEX_OF:
        raise RuntimeError("Expected both inputs to be Half, Float or Double tensors but got %s and %s"
                           % (scalar_type_name(da), scalar_type_name(db)))
    if da != db:
        raise RuntimeError("Expected object of scalar type %s but got scalar type %s for second argument"
                           % (scalar_type_name(da), scalar_type_name(db)))


def complex(real, imag, *, out=None):  # noqa: A001
    _parts_check(real, imag)
    return _write_out(ToComplex.apply(real, imag), out)


def polar(abs, angle, *, out=None):  # noqa: A002
    _parts_check(abs, angle)
    return _write_out(Polar.apply(abs, angle), out)


def angle(input, *, out=None):
    x = input
    if x._data.dtype.kind == "c":
        return _write_out(Angle.apply(x), out)
    if x._data.dtype.kind not in "f" and x._data.dtype is not _dtype.BF16:
        x = x.to(_dtype.get_default_dtype())
    return _write_out(RealAngle.apply(x), out)


@U.refuses("sign_cpu")
def sgn(input, *, out=None):
    if input._data.dtype.kind == "c":
        return _write_out(Sgn.apply(input), out)
    return _write_out(input.sign(), out)


def abs(input):  # noqa: A001
    """|z| of a complex tensor (elementwise.abs routes complex tensors here)."""
    return Abs.apply(input)


def isreal(input):
    if input._data.dtype.kind != "c":
        return make(np.ones(input._data.shape, bool))
    return make(input._data.imag == 0)


def chalf(input, memory_format=None):
    raise TypeError("fastgrad has no complex32 (torch.chalf): NumPy has no complex dtype of two float16 parts")


def _write_out(result, out):
    """result written into out (resized, cast to out's dtype); out returned. None: result."""
    if out is None:
        return result
    if not isinstance(out, TensorBase):
        raise TypeError("out must be a Tensor, not %s" % type(out).__name__)
    if result._requires_grad or out._requires_grad:
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, but one "
                           "of the arguments requires grad.")
    data = result._data
    if out._data.dtype.kind != "c" and data.dtype.kind == "c":
        raise RuntimeError("result type %s can't be cast to the desired output type %s"
                           % (scalar_type_name(data.dtype), scalar_type_name(out._data.dtype)))
    if out._data.shape != data.shape:
        if out._data.size:
            warnings.warn("An output with one or more elements was resized since it had shape %s, which does not "
                          "match the required output shape %s." % (list(out._data.shape), list(data.shape)))
        out._data = np.array(data, dtype=out._data.dtype)
    else:
        out._data[...] = data
    out._vc.value += 1
    return out
