"""torch.special's Bessel functions (airy_ai, bessel_j0/j1/y0/y1, modified_bessel_i0/i1/k0/k1,
scaled_modified_bessel_k0/k1, spherical_bessel_j0) and orthogonal polynomials (Chebyshev T, U, V,
W and their shifted forms, Hermite H and He, Laguerre L, Legendre P).

PyTorch gives these no derivative at all: their outputs never require grad. Inputs follow its
rules: integers and bool promote to the default float dtype, float16/bfloat16 and complex raise
(no CPU kernel), a polynomial's (input, n) promote together (either may be a Python number) and
n is truncated to an integer as PyTorch's kernels do (NaN, inf and negative degrees give 0).

The polynomials are NumPy recurrences in the input's precision, with PyTorch's closed forms
(cos(n acos x), ...) for large n inside [-1, 1] and its values at x = +-1 (0 and 1 for the
shifted ones); the Bessel functions come from scipy.special (Cephes, as PyTorch's), except
spherical_bessel_j0 (sin(x) / x) and modified_bessel_i0 (np.i0 without SciPy)."""
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import binary_operands, float_operand, is_tensor, make, scalar_type_name
from fastgrad._ops.special import has_scipy, scipy_special


def _input(name, x):
    x = float_operand(x)
    dt = x._data.dtype
    if dt.kind == "c" or _dtype.is_half(dt):
        raise NotImplementedError('"%s_cpu" not implemented for \'%s\'' % (name, scalar_type_name(dt)))
    return x


# --------------------------------------------------------------------------- Bessel functions
def _airy_ai(x):
    r = scipy_special("airy")(x)[0]
    return np.where(np.isnan(r) & (x > 0) & (x < np.inf), 0.0, r)  # Ai underflows where scipy's Bi overflows to NaN


def _sp(fn):
    return lambda x: scipy_special(fn)(x)


def _i0(x):
    return scipy_special("i0")(x) if has_scipy() else np.i0(x)


def _spherical_j0(x):
    """sin(x) / x: its Taylor series below |x| = 1/2, 0 at +-inf."""
    x2 = x * x
    series = np.zeros_like(x)
    for k in range(6, 0, -1):  # sum_k (-1)^k x^2k / (2k + 1)!
        series = (series + (-1.0) ** k / math.factorial(2 * k + 1)) * x2
    with np.errstate(all="ignore"):
        big = np.sin(x) / x
    return np.where(np.isinf(x), 0.0, np.where(np.abs(x) < 0.5, 1.0 + series, big))


_BESSEL = {
    "airy_ai": _airy_ai, "bessel_j0": _sp("j0"), "bessel_j1": _sp("j1"), "bessel_y0": _sp("y0"),
    "bessel_y1": _sp("y1"), "modified_bessel_i0": _i0, "modified_bessel_i1": _sp("i1"),
    "modified_bessel_k0": _sp("k0"), "modified_bessel_k1": _sp("k1"), "scaled_modified_bessel_k0": _sp("k0e"),
    "scaled_modified_bessel_k1": _sp("k1e"), "spherical_bessel_j0": _spherical_j0,
}


def _bessel(name):
    kernel = _BESSEL[name]

    def fn(input):
        x = _input(name, input)
        with np.errstate(all="ignore"):
            d = x._data
            r = kernel(d) if name == "spherical_bessel_j0" else kernel(d.astype(np.float64))
            return make(np.asarray(r).astype(d.dtype, copy=False))
    fn.__name__ = name
    fn.__doc__ = "torch.special.%s (elementwise; PyTorch defines no derivative)." % name
    return fn


for _name in _BESSEL:
    globals()[_name] = _bessel(_name)


# --------------------------------------------------------------------------- polynomials
def _degree(n):
    """PyTorch's int64 cast of n: truncation; NaN, inf and out-of-range values become negative."""
    if n.dtype.kind in "biu":
        return n.astype(np.int64)
    with np.errstate(all="ignore"):
        ok = np.isfinite(n) & (np.abs(n) < 2.0 ** 63)
        return np.where(ok, np.trunc(np.where(ok, n, 0)), -1).astype(np.int64)


def _recurrence(x, n, q0, step, out, todo):
    """Run P_{i+1} = step(i, x, P_{i-1}, P_i) from P_0 = 1, P_1 = q0 on the elements todo until each
    reaches its degree n (or NaN, where PyTorch's loop stops); write P_n into out."""
    idx = np.nonzero(todo)[0]
    x, n, q = x[idx], n[idx], q0[idx]
    p = np.ones_like(q)
    i = 1
    nmin = n.min() if n.size else 0
    while idx.size:
        r = step(i, x, p, q)
        p, q = q, r
        i += 1
        if i >= nmin or i % 64 == 0:  # (a NaN stays NaN: checking for it now and then only saves time)
            done = (n <= i) | np.isnan(q)
            if done.any():
                out[idx[done]] = q[done]
                keep = ~done
                idx, x, n, p, q = idx[keep], x[keep], n[keep], p[keep], q[keep]
                nmin = n.min() if n.size else 0
    return out


def _cheb_step(i, x, p, q):
    return (x + x) * q - p


def _libm(f):
    """f as torch's kernels call it per element through C's libm: a float32 result is f of the float32
    argument correctly rounded, as glibc's acosf/cosf/sinf give it (NumPy's own SIMD float32 loops, taken
    on AVX-512 CPUs, are 1-2 ulp off, which n = 600 turns into 1e-4)."""
    def g(a):
        return f(a.astype(np.float64)).astype(np.float32) if a.dtype == np.float32 else f(a)
    return g


_acos, _cos, _sin = _libm(np.arccos), _libm(np.cos), _libm(np.sin)


def _cheb_values(kind, shifted, x, y, nt, even, T):
    """Chebyshev kind's (value at x = 1, value at x = -1 (0 if shifted), closed form inside (-1, 1)),
    each a function of a selection of the elements, evaluated only where it is picked."""
    one = T(1)

    def alt(s, a):  # a where n is even, -a where odd
        return np.where(even[s], a, -a)
    if kind == "t":
        return (lambda s: one, lambda s: alt(s, one), lambda s: _cos(nt[s] * _acos(y[s])))
    if kind == "u":
        def closed(s):
            a, m = _acos(y[s]), nt[s] + one
            return np.where(_sin(a) != 0, _sin(m * a) / _sin(a), m * _cos(m * a) / y[s])
        return (lambda s: nt[s] + one, lambda s: alt(s, nt[s] + one), closed)
    if kind == "v":
        def closed(s):
            a = _acos(y[s])
            return np.where(_sin(a / T(2)) != one, _cos((nt[s] + T(0.5)) * a) / _cos(a / T(2)),
                            alt(s, nt[s] + nt[s] + one))
        return (lambda s: one, lambda s: alt(s, nt[s] + nt[s] + one), closed)

    def closed_w(s):
        a = _acos(y[s])
        edge = alt(s, one) if shifted else np.where(y[s] > 0, nt[s] + nt[s] + one, alt(s, one))
        return np.where(_cos(a / T(2)) != one, _sin((nt[s] + T(0.5)) * a) / _sin(a / T(2)), edge)
    return (lambda s: nt[s] + nt[s] + one, lambda s: alt(s, one), closed_w)


def _poly(name, x, n):
    """PyTorch's value of polynomial `name` of degree n at x (1-d arrays of one float dtype): the
    first matching case of its kernel, else the recurrence."""
    T = x.dtype.type
    one = T(1)
    k = _degree(n)
    nt = k.astype(x.dtype)
    even = k % 2 == 0
    with np.errstate(all="ignore"):
        if name in ("t", "u", "v", "w", "st", "su", "sv", "sw"):
            shifted, kind = name[0] == "s", name[-1]
            y = x + x - one if shifted else x
            big = {"t": 6, "u": 8, "v": 8, "w": 8}[kind] if not shifted else (4 if kind == "w" else 6)
            at_one = (x == one) if shifted else ((np.abs(x) == one) & (x > 0))
            at_minus = (x == 0) if shifted else ((np.abs(x) == one) & ~(x > 0))
            v_one, v_minus, closed = _cheb_values(kind, shifted, x, y, nt, even, T)
            q0 = {"t": y, "u": y + y, "v": y + y - one, "w": y + y + one}[kind]
            cases = [(k < 0, 0), (at_one, v_one), (at_minus, v_minus), ((k > big) & (np.abs(y) < one), closed),
                     (k == 0, one), (k == 1, q0)]
            step, start = _cheb_step, y
        elif name in ("h", "he"):
            q0 = x + x if name == "h" else x
            cases = [(k < 0, 0), (k == 0, one), (k == 1, q0), (k > (128 if x.dtype == np.float32 else 512), np.nan)]
            if name == "h":
                def step(i, x, p, q):
                    return (x + x) * q - T(2 * i) * p
            else:
                def step(i, x, p, q):
                    return x * q - T(i) * p
            start = x
        elif name == "l":
            q0 = one - x
            cases = [(k < 0, 0), (np.abs(x) == 0, one), (k == 0, one), (k == 1, q0)]

            def step(i, x, p, q):
                return ((T(2 * i) + (one - x)) * q - T(i) * p) / T(i + 1)
            start = x
        else:  # legendre
            q0 = x
            cases = [(k < 0, 0), (np.abs(x) == one, lambda s: np.where((x[s] > 0) | even[s], one, -one)),
                     (k == 0, one), (k == 1, x)]

            def step(i, x, p, q):
                return (T(2 * i + 1) * x * q - T(i) * p) / T(i + 1)
            start = x
        out = np.zeros_like(x)
        picked = np.zeros(x.shape, bool)
        for c, v in cases:
            c = c & ~picked
            if c.any():
                out[c] = v(c) if callable(v) else (v[c] if isinstance(v, np.ndarray) else v)
                picked |= c
        _recurrence(start, k, np.broadcast_to(q0, x.shape), step, out, ~picked)
    return out


_POLYS = {"chebyshev_polynomial_t": "t", "chebyshev_polynomial_u": "u", "chebyshev_polynomial_v": "v",
          "chebyshev_polynomial_w": "w", "shifted_chebyshev_polynomial_t": "st",
          "shifted_chebyshev_polynomial_u": "su", "shifted_chebyshev_polynomial_v": "sv",
          "shifted_chebyshev_polynomial_w": "sw", "hermite_polynomial_h": "h", "hermite_polynomial_he": "he",
          "laguerre_polynomial_l": "l", "legendre_polynomial_p": "p"}


def _polynomial(name):
    kind = _POLYS[name]

    def fn(input, n):
        if not is_tensor(input) and not is_tensor(n):
            raise TypeError("%s(): argument 'input' (position 1) must be Tensor, not %s"
                            % (name, type(input).__name__))
        x, m = binary_operands(input, n)
        x, m = _input(name, x), _input(name, m)
        if m._data.dtype != x._data.dtype:
            m = m.to(x.dtype)
        xa, na = np.broadcast_arrays(x._data, m._data)
        shape = xa.shape
        res = _poly(kind, np.ascontiguousarray(xa).reshape(-1), np.ascontiguousarray(na).reshape(-1))
        return make(res.reshape(shape))
    fn.__name__ = name
    fn.__doc__ = "torch.special.%s(input, n): the degree-n polynomial at input (no derivative)." % name
    return fn


for _name in _POLYS:
    globals()[_name] = _polynomial(_name)

__all__ = list(_BESSEL) + list(_POLYS)
