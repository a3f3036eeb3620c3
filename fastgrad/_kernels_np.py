"""Pure-NumPy kernels: the twin of the compiled ``fastgrad._C`` (csrc/_C.pyx).

Both modules expose the same functions with the same signatures, the same argument
checks (same exception types and messages) and the same results to rounding. Every
kernel takes its inputs first and ``out`` last, writes into ``out`` and returns it (the
elementwise kernels without options allocate it when it is None: the ops pass them to the
engine as their whole forward, Op._kernel); ``add``/``sub``/``mul``/``div`` are NumPy's
ufuncs here, same-shape loops in the compiled module; the optimizer steps update their parameter and state arrays in place and return the
parameter. Arrays are float32 or float64 (all of one dtype); elementwise kernels treat
their arrays as flat, row-wise kernels work on the last axis of a 2-D (N, C) array.
Inputs that are not C-contiguous are copied; outputs and updated buffers must be
C-contiguous and writeable.

The formulas follow PyTorch's CPU kernels, rearranged where that avoids overflow or
cancellation (softplus and GELU go through sigmoid / log1p(exp(-|z|)) / erfc),
so large |x| never warns and never turns into nan. Row sums are accumulated in float64.
"""
import math
import operator

import numpy as np

__all__ = [
    "add", "sub", "mul", "div", "neg", "square", "sum_all", "fill", "mm",
    "sigmoid_fwd", "sigmoid_bwd", "tanh_fwd", "tanh_bwd", "relu_fwd", "relu_bwd",
    "gelu_fwd", "gelu_bwd", "silu_fwd", "silu_bwd", "softplus_fwd", "softplus_bwd",
    "softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
    "cross_entropy_fwd", "cross_entropy_bwd",
    "sgd_step", "sgd_foreach", "adam_step", "rmsprop_step", "adagrad_step",
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


def mm(a, b):
    """np.matmul(a, b) (the compiled twin may pass float products to MKL: fastgrad._blas)."""
    return np.matmul(a, b)


def sum_all(x):
    """np.add.reduce(x, axis=None) as a 0-d array (the compiled twin sums in C, the same way)."""
    return np.asarray(np.add.reduce(x, axis=None))


def fill(shape, g):
    """A new array of `shape` with every element g (sum()'s gradient)."""
    out = np.empty(shape, np.asarray(g).dtype)
    np.copyto(out, g)
    return out


# Argument checks: plain Python shared with the compiled module.
from fastgrad._kernel_checks import (
    _describe, _dtype, _new_out, _same_shape, _writeable, _rows, _elementwise, _rowwise, _targets,
    _ce_args, _state, _floats, _shares)


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


# --------------------------------------------------------------------------- row-wise
def _row_max(x):
    if x.shape[1] == 0:
        return np.full((x.shape[0], 1), -np.inf, x.dtype)
    return x.max(axis=1, keepdims=True)


def _row_sum(a):
    """Row sums accumulated in float64 (as the compiled kernels do)."""
    return a.sum(axis=1, keepdims=True, dtype=np.float64)


def softmax_fwd(x, out):
    (x,) = _rowwise("softmax_fwd", (x,), out)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.exp(x - _row_max(x))
        inv = (1 / _row_sum(e)).astype(x.dtype)
        np.multiply(e, inv, out=out)
    return out


def log_softmax_fwd(x, out):
    (x,) = _rowwise("log_softmax_fwd", (x,), out)
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - _row_max(x)
        logs = np.log(_row_sum(np.exp(shifted))).astype(x.dtype)
        np.subtract(shifted, logs, out=out)
    return out


def softmax_bwd(y, gy, out):
    """y * (gy - sum(gy * y, row))."""
    y, gy = _rowwise("softmax_bwd", (y, gy), out)
    dot = _row_sum(gy * y).astype(y.dtype)
    np.multiply(y, gy - dot, out=out)
    return out


def log_softmax_bwd(y, gy, out):
    """gy - exp(y) * sum(gy, row), y = log_softmax(x)."""
    y, gy = _rowwise("log_softmax_bwd", (y, gy), out)
    total = _row_sum(gy).astype(y.dtype)
    np.subtract(gy, np.exp(y) * total, out=out)
    return out


# --------------------------------------------------------------------------- cross-entropy
def _ce_coefficients(target, w, ignore_index, eps, n_cls, dtype):
    """a[i, c] = (1 - eps) w[y_i] [c == y_i] + eps/C w[c]; zero rows for ignored targets;
    A[i] = sum_c a[i, c]."""
    n = target.shape[0]
    valid = target != ignore_index
    rows = np.nonzero(valid)[0]
    ys = target[rows]
    a = np.zeros((n, n_cls), np.float64)
    big_a = np.zeros(n, np.float64)
    wy = np.ones(len(rows)) if w is None else w[ys].astype(np.float64)
    a[rows, ys] = (1.0 - eps) * wy
    big_a[rows] = (1.0 - eps) * wy
    if eps and n_cls:
        wc = np.ones(n_cls) if w is None else w.astype(np.float64)
        a[rows] += (eps / n_cls) * wc
        big_a[rows] += (eps / n_cls) * float(np.sum(wc, dtype=np.float64))
    return a, big_a, valid


def cross_entropy_fwd(logits, target, weight, ignore_index, label_smoothing, lse_out, loss_out):
    """lse_out[i] = logsumexp(logits[i]); loss_out[i] = sum_c a[i, c] (lse_i - logits[i, c])
    as F.cross_entropy(reduction='none', weight, ignore_index, label_smoothing)."""
    name = "cross_entropy_fwd"
    x, target, w = _ce_args(name, logits, target, weight, ignore_index, (lse_out, loss_out), ())
    _writeable(name, lse_out, "lse_out")
    _writeable(name, loss_out, "loss_out")
    ignore_index, (label_smoothing,) = operator.index(ignore_index), _floats(label_smoothing)
    n, n_cls = x.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        m = _row_max(x)
        shifted = x - m
        logs = np.log(_row_sum(np.exp(shifted)))                     # float64 (N, 1)
        lse_out[...] = (m + logs)[:, 0]
        nlp = logs - shifted                                         # -log p, float64
        # as the compiled loop (and PyTorch): the one-hot term reads only -log p[y], and the smoothing
        # term is added only when label_smoothing != 0, so a -inf logit elsewhere cannot give 0 * inf
        valid = target != ignore_index
        rows = np.nonzero(valid)[0]
        ys = target[rows]
        wy = 1.0 if w is None else w[ys].astype(np.float64)
        loss = np.zeros(n, np.float64)
        if label_smoothing != 0 and len(rows):
            wc = np.ones(n_cls) if w is None else w.astype(np.float64)
            loss[rows] = (label_smoothing / n_cls) * (nlp[rows] * wc).sum(axis=1)
        loss[rows] += (1.0 - label_smoothing) * wy * nlp[rows, ys]
    loss_out[...] = loss
    return loss_out


def cross_entropy_bwd(logits, target, weight, ignore_index, label_smoothing, lse, gloss, out):
    """out[i, j] = gloss[i] * (A_i softmax(logits)[i, j] - a[i, j])."""
    name = "cross_entropy_bwd"
    x, target, w = _ce_args(name, logits, target, weight, ignore_index, (lse, gloss), (out,))
    _writeable(name, out)
    ignore_index, (label_smoothing,) = operator.index(ignore_index), _floats(label_smoothing)
    n, n_cls = x.shape
    lse = np.asarray(lse, order="C").astype(np.float64)
    gloss = np.asarray(gloss, order="C").astype(np.float64)
    a, big_a, valid = _ce_coefficients(target, w, ignore_index, label_smoothing, n_cls, x.dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # p = q / sum(q), q = exp(x - lse), in float64: lse's rounding (float32: ~5e-4 at logits of
        # 1e4) cancels out, as in the compiled kernel
        q = np.exp(x.astype(np.float64) - lse[:, None])
        p = q / q.sum(axis=1, keepdims=True)
        g = gloss[:, None] * (big_a[:, None] * p - a)
    g[~valid] = 0
    out[...] = g
    return out


# --------------------------------------------------------------------------- optimizers
def _lerp_(a, b, weight):
    """a = lerp(a, b, weight) in place, with PyTorch's two-sided formula."""
    if abs(weight) < 0.5:
        a += weight * (b - a)
    else:
        np.subtract(b, (b - a) * (1 - weight), out=a)


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """torch.optim.SGD, one tensor: buf is the momentum buffer (None when momentum == 0)."""
    g = _state("sgd_step", p, g, [("buf", buf, momentum != 0)])
    lr, momentum, dampening, weight_decay = _floats(lr, momentum, dampening, weight_decay)
    nesterov, maximize, first_step = bool(nesterov), bool(maximize), bool(first_step)  # as C's bint
    d = -g if maximize else g
    if weight_decay != 0:
        d = d + weight_decay * p
    if momentum != 0:
        if first_step:
            np.copyto(buf, d)
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d
    return p


def sgd_foreach(ps, gs, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize, firsts):
    """sgd_step over a parameter group: updates the parameters whose arrays are as the
    compiled loop needs them and returns the indices of the others (see _C.sgd_foreach)."""
    if len(gs) != len(ps):
        raise ValueError("sgd_foreach: %d parameters but %d gradients" % (len(ps), len(gs)))
    if momentum != 0 and (len(bufs) != len(ps) or len(firsts) != len(ps)):
        raise ValueError("sgd_foreach: bufs and firsts must have one entry per parameter")
    rest = []
    for i in range(len(ps)):
        p, g = ps[i], gs[i]
        buf = bufs[i] if momentum != 0 else None
        if not _plain_state(p, g, () if buf is None else (buf,)):
            rest.append(i)
            continue
        sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize,
                 firsts[i] if momentum != 0 else False)
    return rest


def _plain_state(p, g, buffers):
    """The compiled fast case of an optimizer step: float32/64 C-contiguous writeable p,
    and g and buffers of p's dtype and shape, C-contiguous, none sharing memory."""
    arrays = (p, g) + tuple(buffers)
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != p.dtype or a.shape != p.shape or not a.flags.c_contiguous:
            return False
    if p.dtype not in (np.float32, np.float64) or not p.flags.writeable:
        return False
    for b in buffers:
        if not b.flags.writeable:
            return False
    return not any(_shares(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:])


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
              decoupled):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), one tensor; `step` is
    the 1-based step count; vmax is the amsgrad buffer (None unless amsgrad)."""
    g = _state("adam_step", p, g, [("m", m, True), ("v", v, True), ("vmax", vmax, bool(amsgrad))])
    lr, beta1, beta2, weight_decay, step, eps = _floats(lr, beta1, beta2, weight_decay, step, eps)
    amsgrad, maximize, decoupled = bool(amsgrad), bool(maximize), bool(decoupled)  # as C's bint
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g
    bc1 = 1 - beta1 ** step
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    step_size = lr / bc1
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax)
    else:
        denom = np.sqrt(v)
    denom /= bc2_sqrt
    denom += eps
    p += -step_size * m / denom
    return p


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, maximize):
    """torch.optim.RMSprop, one tensor; grad_avg is needed when centered, momentum_buf
    when momentum > 0 (both None otherwise)."""
    g = _state("rmsprop_step", p, g, [("square_avg", square_avg, True),
                                      ("grad_avg", grad_avg, bool(centered)),
                                      ("momentum_buf", momentum_buf, momentum > 0)])
    lr, alpha, eps, weight_decay, momentum = _floats(lr, alpha, eps, weight_decay, momentum)
    centered, maximize = bool(centered), bool(maximize)  # as C's bint
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if centered:
        _lerp_(grad_avg, g, 1 - alpha)
        avg = np.sqrt(square_avg + -1 * grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        momentum_buf *= momentum
        momentum_buf += g / avg
        p += -lr * momentum_buf
    else:
        p += -lr * g / avg
    return p


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, maximize):
    """torch.optim.Adagrad (dense), one tensor; `step` is the 1-based step count."""
    g = _state("adagrad_step", p, g, [("state_sum", state_sum, True)])
    lr, lr_decay, weight_decay, eps, step = _floats(lr, lr_decay, weight_decay, eps, step)
    maximize = bool(maximize)  # as C's bint
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += g * g
    std = np.sqrt(state_sum)
    std += eps
    p += -clr * g / std
    return p
