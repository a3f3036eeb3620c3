"""More of torch's elementwise and numerical ops: bitwise and shift ops, clamp_min/clamp_max,
exp2, float_power, frexp, ldexp, logaddexp2, gcd/lcm, heaviside, nextafter, diff, trapezoid
and cumulative_trapezoid, gradient, dist, renorm, and the in-place random fills (cauchy_,
exponential_, geometric_, log_normal_).

Most are compositions of differentiable primitives, written as torch writes them in ATen
(so their gradients, dtypes and jvp follow); integer-only ops (bitwise, gcd, lcm) have no
gradient; heaviside is recorded with torch's 'not implemented' derivative (NoDerivative)."""
import functools
import numbers
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import elementwise as E
from fastgrad._ops import shape as S
from fastgrad._ops.base import Op, binary_operands, float32_compute, is_tensor, make, norm_dim, scalar_type_name
from fastgrad._ops.elementwise import Piecewise, where
from fastgrad._ops.special import exp2 as _special_exp2
from fastgrad._ops import unsigned as U


def _is_float(t):
    return _dtype.kind(t._data.dtype) == "f"


def _not_impl(kernel, t):
    return NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, scalar_type_name(t._data.dtype)))


class NoDerivative(Op):
    """An op torch records without a derivative: its output requires grad when an input does,
    and backward / jvp raise torch's error (heaviside)."""

    @staticmethod
    def forward(ctx, name, f, a, b):
        ctx.name = name
        return f(a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::%s is not implemented" % ctx.name)

    @staticmethod
    def jvp(ctx, tn, tf, ta, tb):
        raise RuntimeError("derivative for aten::%s is not implemented" % ctx.name)


# --------------------------------------------------------------------------- out=
def _can_cast(src, dst):
    """torch's canCast: no complex to real, no floating to integer, nothing but bool to bool."""
    rank = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    ks, kd = _dtype.kind(src), _dtype.kind(dst)
    if kd == "b":
        return ks == "b"
    return rank[kd] >= rank[ks]


def _write_out(name, res, out):
    if isinstance(res, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(res):
            raise TypeError("%s(): argument 'out' must be tuple of %d Tensors" % (name, len(res)))
        items = [_write_out(name, r, o) for r, o in zip(res, out)]
        return type(res)(*items) if hasattr(res, "_fields") else tuple(items)
    from fastgrad._backend import engine

    if engine.is_grad_enabled() and (res.requires_grad or out.requires_grad):
        raise RuntimeError("%s(): functions with out=... arguments don't support automatic differentiation, but one "
                           "of the arguments requires grad." % name)
    if not _can_cast(res._data.dtype, out._data.dtype):
        raise RuntimeError("result type %s can't be cast to the desired output type %s"
                           % (scalar_type_name(res._data.dtype), scalar_type_name(out._data.dtype)))
    # twin of special.py _write_out: the casting and resize rules differ
    if out._data.shape != res._data.shape:
        if out._data.size:
            warnings.warn("An output with one or more elements was resized since it had shape %s, which does not "
                          "match the required output shape %s. This behavior is deprecated, and in a future PyTorch "
                          "release outputs will not be resized unless they have zero elements. You can explicitly "
                          "reuse an out tensor t by resizing it, inplace, to zero elements with t.resize_(0)."
                          % (list(out._data.shape), list(res._data.shape)), UserWarning, stacklevel=3)
        out._data = np.empty(res._data.shape, out._data.dtype)
    out._data[...] = res._data.astype(out._data.dtype, copy=False)
    out._vc.value += 1
    return out


def with_out(fn):
    """fn with torch's out= keyword: the result written into out (resized, cast) and out returned."""
    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        res = fn(*args, **kwargs)
        return res if out is None else _write_out(fn.__name__, res, out)
    return wrapper


# --------------------------------------------------------------------------- bitwise (no grad)
def _int_operands(input, other, kernel, allow_bool=True):
    a, b = binary_operands(input, other)
    if a._data.dtype.kind not in ("iub" if allow_bool else "iu"):
        raise _not_impl(kernel, a)
    return a, b


def _bitwise(ufunc, kernel):
    def fn(input, other):
        a, b = _int_operands(input, other, kernel)
        return make(np.asarray(ufunc(a._data, b._data)))
    fn.__name__ = kernel[:-4]
    fn.__doc__ = "Elementwise %s of integer or bool tensors (no gradient), like torch.%s." % (kernel[:-4], kernel[:-4])
    return fn


bitwise_and = with_out(_bitwise(np.bitwise_and, "bitwise_and_cpu"))
bitwise_or = with_out(_bitwise(np.bitwise_or, "bitwise_or_cpu"))
bitwise_xor = with_out(_bitwise(np.bitwise_xor, "bitwise_xor_cpu"))


def _shift(a, s, left):
    """a << s or a >> s as torch's CPU kernels: a shift outside [0, bits) gives 0 (left, and
    right on unsigned types) or the sign (right on signed types)."""
    bits = a.dtype.itemsize * 8
    if a.dtype == np.bool_:
        a = a.astype(np.int64)
    s = np.asarray(s).astype(np.int64)
    ok = (s >= 0) & (s < bits)
    safe = np.where(ok, s, 0).astype(a.dtype)
    with np.errstate(over="ignore"):
        if left:
            return np.where(ok, np.left_shift(a, safe), a.dtype.type(0)).astype(a.dtype, copy=False)
        fill = np.right_shift(a, a.dtype.type(bits - 1)) if a.dtype.kind == "i" else np.zeros_like(a)
        return np.where(ok, np.right_shift(a, safe), fill).astype(a.dtype, copy=False)


@U.refuses_promoted("lshift_cpu")
@with_out
def bitwise_left_shift(input, other):
    a, b = _int_operands(input, other, "lshift_cpu")
    return make(np.asarray(_shift(a._data, b._data, True)))


@U.refuses_promoted("rshift_cpu")
@with_out
def bitwise_right_shift(input, other):
    a, b = _int_operands(input, other, "rshift_cpu")
    return make(np.asarray(_shift(a._data, b._data, False)))


def _int_only(ufunc, name):
    def fn(input, other):
        if not is_tensor(other):
            raise TypeError("%s(): argument 'other' (position 2) must be Tensor, not %s" % (name, type(other).__name__))
        a, b = _int_operands(input, other, name + "_cpu", allow_bool=False)
        return make(np.asarray(ufunc(a._data, b._data)).astype(a._data.dtype, copy=False))
    fn.__name__ = name
    fn.__doc__ = "Elementwise %s of integer tensors (non-negative, no gradient), like torch.%s." % (name, name)
    return fn


gcd = U.refuses_promoted("gcd_cpu")(with_out(_int_only(np.gcd, "gcd")))
lcm = U.refuses_promoted("lcm_cpu")(with_out(_int_only(np.lcm, "lcm")))


# --------------------------------------------------------------------------- elementwise
@with_out
def clamp_min(input, min):  # noqa: A002
    return E.clamp(input, min=min)


@with_out
def clamp_max(input, max):  # noqa: A002
    return E.clamp(input, max=max)


@with_out
def exp2(input):
    """2 ** input: torch.special.exp2's op (this name carries torch.exp2's out= front end)."""
    return _special_exp2(input)


@with_out
def float_power(input, exponent):
    """input ** exponent computed in double precision (complex128 for complex operands)."""
    cplx = any(is_tensor(v) and v._data.dtype.kind == "c" or isinstance(v, complex) for v in (input, exponent))
    dt = _dtype.complex128 if cplx else _dtype.float64
    if is_tensor(input):
        input = input.to(dt)
        if is_tensor(exponent):
            return E.pow(input, exponent.to(dt))
        return E.pow(input, complex(exponent) if cplx else float(exponent))
    return E.pow(make(np.asarray(input, dt.np)), exponent.to(dt))


@with_out
def frexp(input):
    """(mantissa, exponent): input == mantissa * 2 ** exponent, |mantissa| in [0.5, 1) (int32
    exponents); the mantissa's gradient is grad / 2 ** exponent, as torch's."""
    import collections

    if not _is_float(input):
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    d = input._data
    w = d.astype(np.float32) if _dtype.is_half(d.dtype) else d
    _, e = np.frexp(w)
    e = e.astype(np.int32)
    scale = make(np.exp2(e.astype(w.dtype)).astype(d.dtype))
    mantissa = E.div(input, scale)
    return collections.namedtuple("frexp", ["mantissa", "exponent"])(mantissa, make(e))


@with_out
def ldexp(input, other):
    """input * 2 ** other (ATen's composition: mul(input, pow(2.0, other)))."""
    if not is_tensor(other):
        raise TypeError("ldexp(): argument 'other' (position 2) must be Tensor, not %s" % type(other).__name__)
    return E.mul(input, exp2(other))


@with_out
def logaddexp2(input, other):
    """log2(2 ** input + 2 ** other), shifted by the larger operand so that it does not overflow."""
    a, b = binary_operands(input, other)
    if not _is_float(a):
        raise _not_impl("logaddexp2_cpu", a)
    m = E.maximum(a, b).detach()
    m = where(make(np.isfinite(m._data)), m, make(np.zeros((), m._data.dtype)))
    from fastgrad._ops.math import log2

    return m + log2(exp2(a - m) + exp2(b - m))


@U.refuses_promoted("heaviside_cpu")
@with_out
def heaviside(input, values):
    """0 where input < 0, values where input == 0, 1 where input > 0 (NaN: 0); no derivative."""
    if not is_tensor(values):
        raise TypeError("heaviside(): argument 'values' (position 2) must be Tensor, not %s" % type(values).__name__)
    if input._data.dtype.kind == "c" or values._data.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    E.check_broadcast(input._data.shape, values._data.shape)

    def f(x, v):
        return np.where(x == 0, v, (x > 0).astype(x.dtype)).astype(x.dtype, copy=False)
    return NoDerivative.apply("heaviside", f, input, values)


class NextAfter(Op):
    """The next float after input towards other; torch's gradient is 1 for input, 0 for other."""

    _half_native = True  # steps in the input's own precision

    @staticmethod
    def forward(ctx, a, b):
        if a._data.dtype is _dtype.BF16:  # NumPy has no bfloat16 nextafter: step the bits
            return _half_nextafter(a._data, b._data)
        return np.nextafter(a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return (g if need[0] else None), (g * 0.0 if need[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        return ta if ta is not None else tb * 0.0


@U.refuses_promoted("nextafter_cpu")
@with_out
def nextafter(input, other):
    a, b = binary_operands(input, other)
    if not _is_float(a):
        raise _not_impl("nextafter_cpu", a)
    return NextAfter.apply(a, b)


def _half_nextafter(x, y):
    x, y = np.broadcast_arrays(x, y)
    bits = x.view(np.uint16).astype(np.int32)
    with np.errstate(invalid="ignore"):
        up = (y > x) == (x >= 0)  # away from zero in magnitude when moving up from a positive value
    step = np.where(up, 1, -1)
    out = np.where(x == 0, np.where(y > 0, 1, 0x8001), bits + step)
    out = np.where((x == y) | np.isnan(x) | np.isnan(y), np.where(np.isnan(x) | np.isnan(y), 0x7FC0, y.view(np.uint16)), out)
    return out.astype(np.uint16).view(x.dtype)


# --------------------------------------------------------------------------- differences, integrals
def _cat_on_dim(parts, dim):
    from fastgrad._ops.indexing import cat

    parts = [p for p in parts if p is not None]
    return parts[0] if len(parts) == 1 else cat(parts, dim)


def _narrow(x, dim, start, length):
    from fastgrad._ops.indexing import narrow

    return narrow(x, dim, start, length)


def _slice(x, dim, start=None, stop=None):
    idx = [slice(None)] * x._data.ndim
    idx[dim] = slice(start, stop)
    return S.getitem(x, tuple(idx))


@U.refuses("add_stub", skip=U.SKIPS["diff"])
@with_out
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (logical_xor for bools), after prepend/append."""
    if input._data.ndim < 1:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError("order must be non-negative but got %d" % n)
    d = norm_dim(dim, input._data.ndim)
    for other in (prepend, append):
        if other is None:
            continue
        if other._data.ndim != input._data.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for i in range(input._data.ndim):
            if i != d and other._data.shape[i] != input._data.shape[i]:
                raise RuntimeError("diff expects the shape of tensor to prepend or append to match that of input "
                                   "except along the differencing dimension; input.size(%d) = %d, but got "
                                   "tensor.size(%d) = %d" % (i, input._data.shape[i], i, other._data.shape[i]))
    if n == 0:
        return S.clone(input)
    x = input if prepend is None and append is None else _cat_on_dim([prepend, input, append], d)
    length = x._data.shape[d] - 1
    for _ in range(min(n, x._data.shape[d])):
        hi, lo = _narrow(x, d, 1, length), _narrow(x, d, 0, length)
        x = E.logical_xor(hi, lo) if x._data.dtype == np.bool_ else hi - lo
        length -= 1
    return x


def _size_at(y, dim):
    if y._data.ndim == 0:
        raise IndexError("Dimension specified as %d but tensor has no dimensions" % dim)
    return y._data.shape[norm_dim(dim, y._data.ndim)]


def _dx_of(x, y, d, name):
    """ATen's x -> dx for trapezoid/cumulative_trapezoid: differences of x along d, x viewed so
    that they broadcast against y's differences."""
    if x._data.ndim == 1:
        if x._data.shape[0] != y._data.shape[d]:
            raise RuntimeError("%s: There must be one `x` value for each sample point" % name)
        shape = [1] * y._data.ndim
        shape[d] = x._data.shape[0]
        x = S.reshape(x, tuple(shape))
    elif x._data.ndim < y._data.ndim:
        x = S.reshape(x, (1,) * (y._data.ndim - x._data.ndim) + tuple(x._data.shape))
    return _slice(x, d, 1) - _slice(x, d, 0, -1)


def _check_no_bool(name, *ts):
    if any(t._data.dtype == np.bool_ for t in ts):
        raise RuntimeError("%s: received a bool input for %s, but bool is not supported"
                           % (name, "`x` or `y`" if len(ts) == 2 else "`y`"))


def _check_dx(name, dx):
    if isinstance(dx, (bool, complex)):
        raise RuntimeError("%s: Currently, we only support dx as a real number." % name)


@U.refuses("add_stub")
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along dim, with sample points x or spacing dx (default 1)."""
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments: x and dx")
    n = _size_at(y, dim)
    d = norm_dim(dim, y._data.ndim)
    if n == 0:
        return make(np.zeros(y._data.shape[:d] + y._data.shape[d + 1:], y._data.dtype))
    if is_tensor(x):
        _check_no_bool("trapezoid", y, x)
        dxs = _dx_of(x, y, d, "trapezoid")
        return ((_slice(y, d, 0, -1) + _slice(y, d, 1)) * dxs).sum(d) / 2.0
    _check_no_bool("trapezoid", y)
    dx = 1 if dx is None else dx
    _check_dx("trapezoid", dx)
    from fastgrad._ops.indexing import select

    return (y.sum(d) - (select(y, d, 0) + select(y, d, -1)) * 0.5) * float(dx)


@U.refuses("add_stub")
def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


@U.refuses("add_stub")
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral along dim (one fewer element than y there)."""
    from fastgrad._ops.reduction_ext import cumsum

    if x is not None and dx is not None:
        raise TypeError("cumulative_trapezoid() received an invalid combination of arguments: x and dx")
    if y._data.ndim == 0:
        raise IndexError("Dimension specified as %d but tensor has no dimensions" % dim)
    d = norm_dim(dim, y._data.ndim)
    if is_tensor(x):
        _check_no_bool("cumulative_trapezoid", y, x)
        dxs = _dx_of(x, y, d, "cumulative_trapezoid")
        return cumsum((_slice(y, d, 0, -1) + _slice(y, d, 1)) * dxs, d) / 2.0
    _check_no_bool("cumulative_trapezoid", y)
    dx = 1 if dx is None else dx
    _check_dx("cumulative_trapezoid", dx)
    return cumsum((_slice(y, d, 0, -1) + _slice(y, d, 1)) * (float(dx) / 2.0), d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Central differences in the interior, one-sided (first or second order) at the edges, along
    each of dim (all dims by default); spacing: a number, a list of numbers, or coordinate tensors."""
    if input._data.dtype == np.uint8:
        raise RuntimeError("torch.gradient does not support uint8 input.")
    nd = input._data.ndim
    spacing = 1 if spacing is None else spacing
    dims = list(range(nd)) if dim is None else [dim] if isinstance(dim, numbers.Integral) else list(dim)
    if isinstance(spacing, (list, tuple)):
        size = len(spacing)
        if dim is None and size not in (1, nd):
            raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
                               "equal to 'self.dim() = %d', since dim argument was not given, but got a list of "
                               "length %d" % (nd, size))
        if dim is not None and size != len(dims):
            raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                               "arguments to have the same length, but got a spacing argument of length %d and a "
                               "dim argument of length %d." % (size, len(dims)))
    else:
        spacing = [spacing] * max(len(dims), 1)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    wrapped = [norm_dim(d, nd) for d in dims]
    if len(set(wrapped)) != len(wrapped):
        dup = next(d for d in wrapped if wrapped.count(d) > 1)
        raise RuntimeError("dim %d appears multiple times in the list of dims" % dup)
    for d in wrapped:
        if input._data.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    out = []
    for i, d in enumerate(wrapped):
        sp = spacing[i] if i < len(spacing) else spacing[0]
        out.append(_grad_coords(input, sp, d, edge_order) if is_tensor(sp) else _grad_uniform(input, sp, d, edge_order))
    return tuple(out)


def _grad_uniform(x, h, d, edge_order):
    center = (_slice(x, d, 2) - _slice(x, d, 0, -2)) / h
    if edge_order == 1:
        pre = (_slice(x, d, 1, 2) - _slice(x, d, 0, 1)) / h
        app = (_slice(x, d, -1) - _slice(x, d, -2, -1)) / h
    else:
        pre = (_slice(x, d, 0, 1) * -1.5 + _slice(x, d, 1, 2) * 2 - _slice(x, d, 2, 3) * 0.5) / h
        app = (_slice(x, d, -3, -2) * 0.5 + _slice(x, d, -2, -1) * -2 + _slice(x, d, -1) * 1.5) / h
    return _cat_on_dim([pre, center / 2, app], d)


def _grad_coords(x, coords, d, edge_order):
    if coords._data.ndim != 1:
        raise RuntimeError("torch.gradient expected each element of spacing to have one dimension, but got an "
                           "element with %d dimensions!" % coords._data.ndim)
    shape = [1] * x._data.ndim
    shape[d] = -1
    h = diff(coords, 1, 0)
    h1, h2 = _slice(h, 0, 0, -1), _slice(h, 0, 1)
    a = S.reshape(-h2 / (h1 * (h1 + h2)), tuple(shape))
    b = S.reshape((h2 - h1) / (h1 * h2), tuple(shape))
    c = S.reshape(h1 / (h2 * (h1 + h2)), tuple(shape))
    center = a * _slice(x, d, 0, -2) + b * _slice(x, d, 1, -1) + c * _slice(x, d, 2)
    if edge_order == 1:
        pre = (_slice(x, d, 1, 2) - _slice(x, d, 0, 1)) / h[0]
        app = (_slice(x, d, -1) - _slice(x, d, -2, -1)) / h[-1]
    else:
        f, s = h[0], h[1]
        pre = (-(2.0 * f + s) / (f * (f + s)) * _slice(x, d, 0, 1) + (f + s) / (f * s) * _slice(x, d, 1, 2)
               + (-f) / (s * (f + s)) * _slice(x, d, 2, 3))
        f, s = h[-1], h[-2]
        app = (f / (s * (f + s)) * _slice(x, d, -3, -2) - (f + s) / (f * s) * _slice(x, d, -2, -1)
               + (2 * f + s) / (f * (f + s)) * _slice(x, d, -1))
    return _cat_on_dim([pre, center, app], d)


# --------------------------------------------------------------------------- norms
@U.refuses("add_stub")
@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def dist(input, other, p=2):
    """The p-norm of input - other (broadcast), torch.dist."""
    from fastgrad._ops.reduction_ext import vector_norm

    a, b = binary_operands(input, other)
    if a._data.dtype.kind == "c":  # a complex norm is real: needs abs() of complex, not in fastgrad yet
        raise NotImplementedError("dist(): complex inputs are not supported by fastgrad")
    if _dtype.kind(a._data.dtype) not in "fc":
        raise RuntimeError("norm(): input dtype should be either floating point or complex. Got %s instead."
                           % scalar_type_name(a._data.dtype))
    p = float(p)
    diff_ = a - b
    if p == 0:
        return Piecewise.apply(diff_, lambda v: (v != 0).astype(v.dtype)).sum()
    return vector_norm(diff_, p)


@with_out
def renorm(input, p, dim, maxnorm):
    """Each slice along dim whose p-norm exceeds maxnorm scaled to norm maxnorm (torch.renorm)."""
    from fastgrad._ops.reduction_ext import vector_norm

    if isinstance(p, complex) or float(p) <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if float(maxnorm) < 0:
        raise RuntimeError("renorm: expected maxnorm to be >= 0 but got %s" % _fmt(maxnorm))
    nd = input._data.ndim
    if input._data.dtype.kind == "c":
        raise NotImplementedError("renorm(): complex inputs are not supported by fastgrad")
    if nd <= 1:
        raise RuntimeError("renorm: input needs at least 2 dimensions, got %d dimensions" % nd)
    d = norm_dim(dim, nd)
    axes = [i for i in range(nd) if i != d]
    norm = vector_norm(input, p, axes, True)
    big = norm > maxnorm
    factor = where(big, float(maxnorm) / (norm + 1e-7), make(np.ones((), norm._data.dtype)))
    return input * factor


def _fmt(v):
    return "%g" % v if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------- random fills
def _fill(t, name, sample):
    """Write sample(shape) (a float64 or int array) into t in place; a non-leaf's history is
    cut as torch's (a zero gradient to what came before)."""
    from fastgrad._backend import engine

    vals = np.asarray(sample(t._data.shape))
    if engine.is_grad_enabled() and (t._requires_grad or (t._base is not None and t._base._requires_grad)):
        return S.inplace(t, lambda a: Piecewise.apply(a, lambda arr: vals.astype(arr.dtype)), name=name,
                         internal_ok=True)
    t._data[...] = vals.astype(t._data.dtype)
    t._vc.value += 1
    return t


def _continuous(t, what, style):
    if _dtype.kind(t._data.dtype) != "f":
        tn = {"Long": "long int", "Int": "int", "Short": "short int", "Char": "signed char", "Byte": "unsigned char",
              "Bool": "bool"} if style == "c" else {}
        name = scalar_type_name(t._data.dtype)
        raise RuntimeError("%s distribution is a continuous probability distribution. dtype must be a floating "
                           "point but you specified %s" % (what, tn.get(name, name)))


def cauchy_(self, median=0, sigma=1, *, generator=None):
    from fastgrad import _random_ops

    if not sigma > 0:
        raise RuntimeError("cauchy_ expects sigma > 0.0, but found sigma=%s" % _fmt(sigma))
    _continuous(self, "Cauchy", "c")
    return _fill(self, "cauchy_", lambda s: _random_ops.cauchy_(np.empty_like(self._data), median, sigma, generator))


def exponential_(self, lambd=1, *, generator=None):
    from fastgrad import _random_ops

    if not lambd > 0:
        raise RuntimeError("exponential_ expects lambda > 0.0, but found lambda=%s" % _fmt(lambd))
    _continuous(self, "Exponential", "e")
    return _fill(self, "exponential_", lambda s: _random_ops.exponential_(np.empty_like(self._data), lambd, generator))


@U.refuses("geometric_cpu")
def geometric_(self, p, *, generator=None):
    from fastgrad import _random_ops

    if self._data.dtype == np.bool_ or self._data.dtype.kind == "c":
        raise NotImplementedError('"geometric_cpu" not implemented for \'%s\'' % scalar_type_name(self._data.dtype))
    if not 0 < p < 1:
        raise RuntimeError("geometric_ expects p to be in (0, 1), but got p=%s" % _fmt(p))
    return _fill(self, "geometric_", lambda s: _random_ops.geometric_(np.empty_like(self._data), p, generator))


def log_normal_(self, mean=1, std=2, *, generator=None):
    from fastgrad import _random_ops

    if not std > 0:
        raise RuntimeError("log_normal_ expects std > 0.0, but found std=%s" % _fmt(std))
    if _dtype.kind(self._data.dtype) != "f":
        raise NotImplementedError('"log_normal_cpu" not implemented for \'%s\'' % scalar_type_name(self._data.dtype))
    return _fill(self, "log_normal_", lambda s: _random_ops.log_normal_(np.empty_like(self._data), mean, std,
                                                                          generator))


def char(self, memory_format=None):
    return self.to(_dtype.int8)


def reflected(fn):
    def method(self, other):
        return fn(other, self)
    return method


def float_power_(self, exponent):
    if self._data.dtype != np.float64 and self._data.dtype != np.complex128:
        raise RuntimeError("the base given to float_power_ has dtype %s but the operation's result requires dtype %s"
                           % (scalar_type_name(self._data.dtype), "ComplexDouble" if self._data.dtype.kind == "c" else "Double"))
    return S.inplace(self, float_power, exponent, name="float_power_")


__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "gcd", "lcm",
           "clamp_min", "clamp_max", "exp2", "float_power", "frexp", "ldexp", "logaddexp2", "heaviside", "nextafter",
           "diff", "trapezoid", "trapz", "cumulative_trapezoid", "gradient", "dist", "renorm"]
