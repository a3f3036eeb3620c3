"""Elementwise kernels: arithmetic ufuncs and the activations' forward/backward
(twin of csrc/elementwise.pxi).

The conventions of every kernel are in fastgrad/_kernels_np.py's docstring."""

import numpy as np

from fastgrad._kernel_checks import _elementwise, _floats, _new_out

__all__ = [
    "add", "div", "gelu_bwd", "gelu_fwd", "mul", "neg", "relu_bwd", "relu_fwd", "sigmoid_bwd",
    "sigmoid_fwd", "silu_bwd", "silu_fwd", "softplus_bwd", "softplus_fwd", "square", "sub",
    "tanh_bwd", "tanh_fwd"
]


_SQRT1_2 = 0.7071067811865476            # 1/sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327       # 1/sqrt(2*pi)
_GELU_BETA = 0.7978845608028654          # sqrt(2/pi)
_GELU_KAPPA = 0.044715


# + - * / on arrays: the compiled module runs same-shape float arrays in its own loop
# (no ufunc dispatch); here they are NumPy's ufuncs themselves.
add = np.add
sub = np.subtract
mul = np.multiply
div = np.true_divide
neg = np.negative
square = np.square


# --------------------------------------------------------------------------- helpers
def _sigmoid(x, out=None):
    """1 / (1 + exp(-x)), PyTorch's form: for x << 0 exp(-x) overflows to inf (silenced)
    and the result is 0 (exact up to subnormals), never nan."""
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        t = np.negative(x, out=np.empty_like(x) if out is None else out)
        np.exp(t, out=t)
    t += 1
    np.divide(1, t, out=t)
    return t


# erfc(x) for float64 arrays: a vectorized port of fdlibm's s_erf.c (the algorithm glibc
# uses), accurate to < 1 ulp. NumPy has no erf/erfc of its own.
# ====================================================
# Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
#
# Developed at SunPro, a Sun Microsystems, Inc. business.
# Permission to use, copy, modify, and distribute this
# software is freely granted, provided that this notice
# is preserved.
# ====================================================
_ERX = 8.45062911510467529297e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
       5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
       7.18286544141962662868e-02, 1.26171219808761642112e-01, 1.36370839120290507362e-02,
       1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
       4.34565877475229228821e+02, 6.45387271733267880336e+02, 4.29008140027567833386e+02,
       1.08635005541779435134e+02, 6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
       1.53672958608443695994e+03, 3.19985821950859553908e+03, 2.55305040643316442583e+03,
       4.74528541206955367215e+02, -2.24409524465858183362e+01)
_ERFC_MID = 2.857142448425293  # 0x4006DB6D00000000, fdlibm's 1/0.35 boundary


def _poly(c, z):
    r = np.full_like(z, c[-1])
    for a in c[-2::-1]:
        r *= z
        r += a
    return r


def _erfc(x):
    """erfc of a float64 array (fdlibm's piecewise rational approximations)."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        m = ax < 0.84375                                   # erfc = 1 - erf, erf ~ x(1+R(x^2))
        if m.any():
            a = x[m]
            z = a * a
            y = _poly(_PP, z) / _poly(_QQ, z)
            small = a < 0.25
            out[m] = np.where(small, 1 - (a + a * y), 0.5 - (a * y + (a - 0.5)))
        m = (ax >= 0.84375) & (ax < 1.25)                  # around erf(1)
        if m.any():
            s = ax[m] - 1
            pq = _poly(_PA, s) / _poly(_QA, s)
            out[m] = np.where(x[m] > 0, (1 - _ERX) - pq, 1 + (_ERX + pq))
        m = (ax >= 1.25) & (ax < 28)                       # exp(-x^2) * rational(1/x^2)
        if m.any():
            a = ax[m]
            s = 1 / (a * a)
            mid = a < _ERFC_MID
            rs = np.where(mid, _poly(_RA, s) / _poly(_SA, s), _poly(_RB, s) / _poly(_SB, s))
            z = (a.view(np.uint64) & np.uint64(0xFFFFFFFF00000000)).view(np.float64)
            r = np.exp(-z * z - 0.5625) * np.exp((z - a) * (z + a) + rs) / a
            xm = x[m]
            out[m] = np.where(xm > 0, r, np.where(xm <= -6, 2.0, 2 - r))
        m = ~(ax < 28)                                     # |x| >= 28, inf or nan
        if m.any():
            xm = x[m]
            out[m] = np.where(xm > 0, 0.0, np.where(xm < 0, 2.0, xm))
    return out


# --------------------------------------------------------------------------- activations
def sigmoid_fwd(x, out=None):
    out = _new_out("sigmoid_fwd", x) if out is None else out
    (x,) = _elementwise("sigmoid_fwd", (x,), out)
    _sigmoid(x, out)
    return out


def sigmoid_bwd(y, gy, out=None):
    out = _new_out("sigmoid_bwd", y) if out is None else out
    y, gy = _elementwise("sigmoid_bwd", (y, gy), out)
    t = gy * (1 - y)
    np.multiply(t, y, out=out)
    return out


def tanh_fwd(x, out=None):
    out = _new_out("tanh_fwd", x) if out is None else out
    (x,) = _elementwise("tanh_fwd", (x,), out)
    np.tanh(x, out=out)
    return out


def tanh_bwd(y, gy, out=None):
    out = _new_out("tanh_bwd", y) if out is None else out
    y, gy = _elementwise("tanh_bwd", (y, gy), out)
    t = 1 - y * y
    np.multiply(gy, t, out=out)
    return out


def relu_fwd(x, out=None):
    """max(x, 0); nan stays nan like torch.relu. (np.maximum: one pass; a masked copyto
    with a random mask was 20x slower.)"""
    out = _new_out("relu_fwd", x) if out is None else out
    (x,) = _elementwise("relu_fwd", (x,), out)
    np.maximum(x, out.dtype.type(0), out=out)
    return out


def relu_bwd(x, gy, out=None):
    """0 where x <= 0 else gy (also for gy = inf / nan; x = nan passes gy), like torch's
    threshold_backward."""
    out = _new_out("relu_bwd", x) if out is None else out
    x, gy = _elementwise("relu_bwd", (x, gy), out)
    on = ~(x <= 0)
    np.multiply(gy, on, out=out)                 # 2 fast passes; a masked copyto was 10x slower
    if not np.isfinite(gy).all():                # inf * 0 = nan: zero those (rare)
        np.copyto(out, 0, where=~on)
    return out


def gelu_fwd(x, out, approximate):
    """x * Phi(x) (exact, via erfc) or x * sigmoid(2u), u = sqrt(2/pi)(x + 0.044715 x^3)
    (tanh form: 0.5 (1 + tanh u) = sigmoid(2u)); computed in float64."""
    (x,) = _elementwise("gelu_fwd", (x,), out)
    x = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate:
            u = _GELU_BETA * (x + _GELU_KAPPA * (x * x * x))
            y = x * _sigmoid(2 * u)
        else:
            y = x * 0.5 * _erfc(-x * _SQRT1_2)
    out[...] = y
    return out


def gelu_bwd(x, gy, out, approximate):
    x, gy = _elementwise("gelu_bwd", (x, gy), out)
    x = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if approximate:
            u2 = 2 * (_GELU_BETA * (x + _GELU_KAPPA * (x * x * x)))
            s = _sigmoid(u2)
            q = s * _sigmoid(-u2)                           # s (1 - s), both sides exact
            du = _GELU_BETA * (1 + 3 * _GELU_KAPPA * (x * x))
            d = s + np.where(q == 0, 0.0, 2 * x * q * du)
        else:
            cdf = 0.5 * _erfc(-x * _SQRT1_2)
            pdf = np.exp(-0.5 * (x * x)) * _INV_SQRT_2PI
            d = cdf + x * pdf
    out[...] = gy * d
    return out


def silu_fwd(x, out=None):
    out = _new_out("silu_fwd", x) if out is None else out
    (x,) = _elementwise("silu_fwd", (x,), out)
    np.multiply(x, _sigmoid(x), out=out)
    return out


def silu_bwd(x, gy, out=None):
    """gy * s * (1 + x (1 - s)), s = sigmoid(x)."""
    out = _new_out("silu_bwd", x) if out is None else out
    x, gy = _elementwise("silu_bwd", (x, gy), out)
    s = _sigmoid(x)
    t = 1 + x * (1 - s)
    np.multiply(gy * s, t, out=out)
    return out


def softplus_fwd(x, out, beta, threshold):
    """x where beta*x > threshold, else log1p(exp(beta*x)) / beta, written as
    (max(z, 0) + log1p(exp(-|z|))) / beta so that no threshold can overflow it."""
    (x,) = _elementwise("softplus_fwd", (x,), out)
    beta, threshold = _floats(beta, threshold)  # C doubles' conversion errors
    dt = x.dtype.type
    with np.errstate(over="ignore"):
        z = x * dt(beta)
    lin = z > dt(threshold)
    y = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / dt(beta)
    np.copyto(out, np.where(lin, x, y))
    return out


def softplus_bwd(x, gy, out, beta, threshold):
    x, gy = _elementwise("softplus_bwd", (x, gy), out)
    beta, threshold = _floats(beta, threshold)  # C doubles' conversion errors
    dt = x.dtype.type
    with np.errstate(over="ignore"):
        z = x * dt(beta)
    lin = z > dt(threshold)
    np.copyto(out, np.where(lin, gy, gy * _sigmoid(z)))
    return out
