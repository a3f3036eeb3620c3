"""Compiled kernels (module ``fastgrad._C``); fastgrad/_kernels_np.py is the pure-NumPy twin.

Both modules expose the same functions with the same signatures, argument checks
(exception types and messages) and results to rounding. Every kernel takes its inputs
first and ``out`` last, writes into ``out`` and returns it; the optimizer steps update
their parameter and state arrays in place and return the parameter.

Layout of this file: each public ``def`` validates its arguments in Python (dtype
float32/float64 and all arrays of one dtype, shapes, ``out`` C-contiguous and writeable;
other inputs are made contiguous), then calls a ``cdef`` function specialised for the
dtype (fused type ``floating``) whose loop runs without the GIL, in parallel
(``prange``, static schedule) above PAR_MIN elements and serially below. The scalar
math lives in small ``noexcept nogil`` inline helpers. Row sums accumulate in double.
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, erfc, exp, expf, fabs, fabsf, log, log1p, log1pf, sqrt, sqrtf
from libc.math cimport tanh, tanhf
from libc.stdint cimport int64_t

import numpy as np

__all__ = [
    "sigmoid_fwd", "sigmoid_bwd", "tanh_fwd", "tanh_bwd", "relu_fwd", "relu_bwd",
    "gelu_fwd", "gelu_bwd", "silu_fwd", "silu_bwd", "softplus_fwd", "softplus_bwd",
    "softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
    "cross_entropy_fwd", "cross_entropy_bwd",
    "sgd_step", "adam_step", "rmsprop_step", "adagrad_step",
]

# Loops over at least this many elements run on all OpenMP threads.
cdef Py_ssize_t PAR_MIN = 32768

cdef double SQRT1_2 = 0.7071067811865476            # 1/sqrt(2)
cdef double INV_SQRT_2PI = 0.3989422804014327       # 1/sqrt(2*pi)
cdef double GELU_BETA = 0.7978845608028654          # sqrt(2/pi)
cdef double GELU_KAPPA = 0.044715

# Argument checks: plain Python shared with the NumPy twin.
from fastgrad._kernel_checks import (
    _describe, _dtype, _same_shape, _writeable, _rows, _elementwise, _rowwise, _targets,
    _ce_args, _state, _floats)


cdef inline bint _f32(a):
    return a.dtype.itemsize == 4


# --------------------------------------------------------------------------- scalar math
cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating _fabs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating _log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating _sigmoid(floating x) noexcept nogil:
    """1 / (1 + exp(-x)), PyTorch's form: for x << 0 exp(-x) overflows to inf (no trap in
    C) and the result is 0 (exact up to subnormals), never nan. Branch-free, so it is
    twice as fast as the two-sided exp(-|x|) form on mixed-sign data."""
    return 1 / (1 + _exp(-x))


cdef inline double _gelu(double x, bint approximate) noexcept nogil:
    """x * Phi(x), or x * sigmoid(2u) with u = sqrt(2/pi) (x + 0.044715 x^3) for the tanh
    form (0.5 (1 + tanh u) = sigmoid(2u), exact for large negative x)."""
    cdef double u
    if approximate:
        u = GELU_BETA * (x + GELU_KAPPA * (x * x * x))
        return x * _sigmoid(2 * u)
    return x * 0.5 * erfc(-x * SQRT1_2)


cdef inline double _gelu_grad(double x, bint approximate) noexcept nogil:
    cdef double u2, s, q, du
    if approximate:
        u2 = 2 * (GELU_BETA * (x + GELU_KAPPA * (x * x * x)))
        s = _sigmoid(u2)
        q = s * _sigmoid(-u2)                        # s (1 - s) without cancellation
        du = GELU_BETA * (1 + 3 * GELU_KAPPA * (x * x))
        if q == 0:                                   # |x| huge: avoid 0 * inf
            return s
        return s + 2 * x * q * du
    return 0.5 * erfc(-x * SQRT1_2) + x * (exp(-0.5 * (x * x)) * INV_SQRT_2PI)


cdef inline floating _softplus(floating x, floating beta, floating threshold) noexcept nogil:
    """x if beta x > threshold else log1p(exp(beta x)) / beta, overflow-free."""
    cdef floating z = x * beta
    if z > threshold:
        return x
    return ((z if z > 0 else 0) + _log1p(_exp(-_fabs(z)))) / beta


# --------------------------------------------------------------------------- elementwise loops
cdef void _sigmoid_fwd(const floating[::1] x, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = _sigmoid(x[i])


cdef void _sigmoid_bwd(const floating[::1] y, const floating[::1] gy,
                       floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = y.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = gy[i] * (1 - y[i]) * y[i]


cdef void _tanh_fwd(const floating[::1] x, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = _tanh(x[i])


cdef void _tanh_bwd(const floating[::1] y, const floating[::1] gy, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = y.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = gy[i] * (1 - y[i] * y[i])


cdef void _relu_fwd(const floating[::1] x, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = 0 if x[i] <= 0 else x[i]          # nan stays nan, like torch.relu


cdef void _relu_bwd(const floating[::1] x, const floating[::1] gy, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = gy[i] if x[i] > 0 else 0


cdef void _gelu_fwd(const floating[::1] x, floating[::1] out, bint approximate) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = <floating>_gelu(x[i], approximate)


cdef void _gelu_bwd(const floating[::1] x, const floating[::1] gy, floating[::1] out,
                    bint approximate) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = <floating>(gy[i] * _gelu_grad(x[i], approximate))


cdef void _silu_fwd(const floating[::1] x, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = x[i] * _sigmoid(x[i])


cdef void _silu_bwd(const floating[::1] x, const floating[::1] gy, floating[::1] out) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating s
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        s = _sigmoid(x[i])
        out[i] = gy[i] * s * (1 + x[i] * (1 - s))


cdef void _softplus_fwd(const floating[::1] x, floating[::1] out, floating beta,
                        floating threshold) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        out[i] = _softplus(x[i], beta, threshold)


cdef void _softplus_bwd(const floating[::1] x, const floating[::1] gy, floating[::1] out,
                        floating beta, floating threshold) noexcept:
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating z
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        z = x[i] * beta
        out[i] = gy[i] if z > threshold else gy[i] * _sigmoid(z)


# --------------------------------------------------------------------------- elementwise API
def sigmoid_fwd(x, out):
    """out = 1 / (1 + exp(-x))."""
    (x,) = _elementwise("sigmoid_fwd", (x,), out)
    if out.size:
        if _f32(out):
            _sigmoid_fwd[cython.float](x.reshape(-1), out.reshape(-1))
        else:
            _sigmoid_fwd[cython.double](x.reshape(-1), out.reshape(-1))
    return out


def sigmoid_bwd(y, gy, out):
    """out = gy * y * (1 - y), y = sigmoid(x)."""
    y, gy = _elementwise("sigmoid_bwd", (y, gy), out)
    if out.size:
        if _f32(out):
            _sigmoid_bwd[cython.float](y.reshape(-1), gy.reshape(-1), out.reshape(-1))
        else:
            _sigmoid_bwd[cython.double](y.reshape(-1), gy.reshape(-1), out.reshape(-1))
    return out


def tanh_fwd(x, out):
    """out = tanh(x)."""
    (x,) = _elementwise("tanh_fwd", (x,), out)
    if out.size:
        if _f32(out):
            _tanh_fwd[cython.float](x.reshape(-1), out.reshape(-1))
        else:
            _tanh_fwd[cython.double](x.reshape(-1), out.reshape(-1))
    return out


def tanh_bwd(y, gy, out):
    """out = gy * (1 - y * y), y = tanh(x)."""
    y, gy = _elementwise("tanh_bwd", (y, gy), out)
    if out.size:
        if _f32(out):
            _tanh_bwd[cython.float](y.reshape(-1), gy.reshape(-1), out.reshape(-1))
        else:
            _tanh_bwd[cython.double](y.reshape(-1), gy.reshape(-1), out.reshape(-1))
    return out


def relu_fwd(x, out):
    """out = max(x, 0) (nan stays nan)."""
    (x,) = _elementwise("relu_fwd", (x,), out)
    if out.size:
        if _f32(out):
            _relu_fwd[cython.float](x.reshape(-1), out.reshape(-1))
        else:
            _relu_fwd[cython.double](x.reshape(-1), out.reshape(-1))
    return out


def relu_bwd(x, gy, out):
    """out = gy where x > 0 else 0."""
    x, gy = _elementwise("relu_bwd", (x, gy), out)
    if out.size:
        if _f32(out):
            _relu_bwd[cython.float](x.reshape(-1), gy.reshape(-1), out.reshape(-1))
        else:
            _relu_bwd[cython.double](x.reshape(-1), gy.reshape(-1), out.reshape(-1))
    return out


def gelu_fwd(x, out, approximate):
    """out = x * Phi(x) (approximate=False) or PyTorch's tanh form; computed in double."""
    (x,) = _elementwise("gelu_fwd", (x,), out)
    cdef bint approx = approximate
    if out.size:
        if _f32(out):
            _gelu_fwd[cython.float](x.reshape(-1), out.reshape(-1), approx)
        else:
            _gelu_fwd[cython.double](x.reshape(-1), out.reshape(-1), approx)
    return out


def gelu_bwd(x, gy, out, approximate):
    """out = gy * d gelu(x) / dx."""
    x, gy = _elementwise("gelu_bwd", (x, gy), out)
    cdef bint approx = approximate
    if out.size:
        if _f32(out):
            _gelu_bwd[cython.float](x.reshape(-1), gy.reshape(-1), out.reshape(-1), approx)
        else:
            _gelu_bwd[cython.double](x.reshape(-1), gy.reshape(-1), out.reshape(-1), approx)
    return out


def silu_fwd(x, out):
    """out = x * sigmoid(x)."""
    (x,) = _elementwise("silu_fwd", (x,), out)
    if out.size:
        if _f32(out):
            _silu_fwd[cython.float](x.reshape(-1), out.reshape(-1))
        else:
            _silu_fwd[cython.double](x.reshape(-1), out.reshape(-1))
    return out


def silu_bwd(x, gy, out):
    """out = gy * s * (1 + x * (1 - s)), s = sigmoid(x)."""
    x, gy = _elementwise("silu_bwd", (x, gy), out)
    if out.size:
        if _f32(out):
            _silu_bwd[cython.float](x.reshape(-1), gy.reshape(-1), out.reshape(-1))
        else:
            _silu_bwd[cython.double](x.reshape(-1), gy.reshape(-1), out.reshape(-1))
    return out


def softplus_fwd(x, out, beta, threshold):
    """out = x where beta*x > threshold else log1p(exp(beta*x)) / beta."""
    (x,) = _elementwise("softplus_fwd", (x,), out)
    cdef double b = beta, th = threshold
    if out.size:
        if _f32(out):
            _softplus_fwd[cython.float](x.reshape(-1), out.reshape(-1), <float>b, <float>th)
        else:
            _softplus_fwd[cython.double](x.reshape(-1), out.reshape(-1), b, th)
    return out


def softplus_bwd(x, gy, out, beta, threshold):
    """out = gy where beta*x > threshold else gy * sigmoid(beta*x)."""
    x, gy = _elementwise("softplus_bwd", (x, gy), out)
    cdef double b = beta, th = threshold
    if out.size:
        if _f32(out):
            _softplus_bwd[cython.float](x.reshape(-1), gy.reshape(-1), out.reshape(-1),
                                        <float>b, <float>th)
        else:
            _softplus_bwd[cython.double](x.reshape(-1), gy.reshape(-1), out.reshape(-1), b, th)
    return out


# --------------------------------------------------------------------------- row-wise
cdef inline floating _row_max(const floating* x, Py_ssize_t c) noexcept nogil:
    """max of a row; -inf for an empty row; nan if any element is nan (like np.max)."""
    cdef floating m = -INFINITY
    cdef Py_ssize_t j
    for j in range(c):
        if x[j] > m or x[j] != x[j]:
            m = x[j]
            if m != m:
                break
    return m


cdef inline double _row_sumexp(const floating* x, floating m, Py_ssize_t c) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t j
    for j in range(c):
        s += _exp(x[j] - m)
    return s


cdef inline void _softmax_row(const floating* x, floating* out, Py_ssize_t c) noexcept nogil:
    cdef floating m = _row_max(x, c)
    cdef floating e, inv
    cdef double s = 0
    cdef Py_ssize_t j
    for j in range(c):
        e = _exp(x[j] - m)
        out[j] = e
        s += e
    inv = <floating>(1 / s)
    for j in range(c):
        out[j] = out[j] * inv


cdef inline void _log_softmax_row(const floating* x, floating* out, Py_ssize_t c) noexcept nogil:
    cdef floating m = _row_max(x, c)
    cdef floating logs = <floating>log(_row_sumexp(x, m, c))
    cdef Py_ssize_t j
    for j in range(c):
        out[j] = (x[j] - m) - logs


cdef inline void _softmax_bwd_row(const floating* y, const floating* gy, floating* out,
                                  Py_ssize_t c) noexcept nogil:
    cdef double dot = 0
    cdef floating d
    cdef Py_ssize_t j
    for j in range(c):
        dot += gy[j] * y[j]
    d = <floating>dot
    for j in range(c):
        out[j] = y[j] * (gy[j] - d)


cdef inline void _log_softmax_bwd_row(const floating* y, const floating* gy, floating* out,
                                      Py_ssize_t c) noexcept nogil:
    cdef double total = 0
    cdef floating t
    cdef Py_ssize_t j
    for j in range(c):
        total += gy[j]
    t = <floating>total
    for j in range(c):
        out[j] = gy[j] - _exp(y[j]) * t


cdef void _softmax_fwd(const floating[:, ::1] x, floating[:, ::1] out, bint log_) noexcept:
    cdef Py_ssize_t i, n = x.shape[0], c = x.shape[1]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n * c >= PAR_MIN):
        if log_:
            _log_softmax_row(&x[i, 0], &out[i, 0], c)
        else:
            _softmax_row(&x[i, 0], &out[i, 0], c)


cdef void _softmax_bwd(const floating[:, ::1] y, const floating[:, ::1] gy,
                       floating[:, ::1] out, bint log_) noexcept:
    cdef Py_ssize_t i, n = y.shape[0], c = y.shape[1]
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n * c >= PAR_MIN):
        if log_:
            _log_softmax_bwd_row(&y[i, 0], &gy[i, 0], &out[i, 0], c)
        else:
            _softmax_bwd_row(&y[i, 0], &gy[i, 0], &out[i, 0], c)


def _softmax_any(name, x, out, bint log_):
    (x,) = _rowwise(name, (x,), out)
    if out.size:
        if _f32(out):
            _softmax_fwd[cython.float](x, out, log_)
        else:
            _softmax_fwd[cython.double](x, out, log_)
    return out


def _softmax_bwd_any(name, y, gy, out, bint log_):
    y, gy = _rowwise(name, (y, gy), out)
    if out.size:
        if _f32(out):
            _softmax_bwd[cython.float](y, gy, out, log_)
        else:
            _softmax_bwd[cython.double](y, gy, out, log_)
    return out


def softmax_fwd(x, out):
    """Row-wise softmax of a 2-D (N, C) array (max-subtracted)."""
    return _softmax_any("softmax_fwd", x, out, False)


def log_softmax_fwd(x, out):
    """Row-wise (x - max) - log(sum(exp(x - max)))."""
    return _softmax_any("log_softmax_fwd", x, out, True)


def softmax_bwd(y, gy, out):
    """out = y * (gy - sum(gy * y, row)), y = softmax(x)."""
    return _softmax_bwd_any("softmax_bwd", y, gy, out, False)


def log_softmax_bwd(y, gy, out):
    """out = gy - exp(y) * sum(gy, row), y = log_softmax(x)."""
    return _softmax_bwd_any("log_softmax_bwd", y, gy, out, True)


# --------------------------------------------------------------------------- cross-entropy
cdef void _ce_fwd(const floating[:, ::1] x, const int64_t[::1] target, const floating[::1] w,
                  bint has_w, int64_t ignore_index, double eps, floating[::1] lse,
                  floating[::1] loss) noexcept:
    cdef Py_ssize_t i, j, n = x.shape[0], c = x.shape[1]
    cdef int64_t y
    cdef floating m
    cdef double logs, acc, wy, eps_c = eps / c if c else 0.0
    cdef const floating* row
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n * c >= PAR_MIN):
        row = &x[i, 0]
        m = _row_max(row, c)
        logs = log(_row_sumexp(row, m, c))
        lse[i] = <floating>(m + logs)
        y = target[i]
        if y == ignore_index:
            loss[i] = 0
            continue
        acc = 0
        if eps != 0:
            for j in range(c):
                acc = acc + eps_c * (w[j] if has_w else 1.0) * (logs - (row[j] - m))
        wy = w[y] if has_w else 1.0
        acc = acc + (1 - eps) * wy * (logs - (row[y] - m))
        loss[i] = <floating>acc


cdef void _ce_bwd(const floating[:, ::1] x, const int64_t[::1] target, const floating[::1] w,
                  bint has_w, int64_t ignore_index, double eps, double wsum,
                  const floating[::1] lse, const floating[::1] gloss,
                  floating[:, ::1] out) noexcept:
    cdef Py_ssize_t i, j, n = x.shape[0], c = x.shape[1]
    cdef int64_t y
    cdef double g, a, big_a, wy, eps_c = eps / c if c else 0.0
    cdef floating p
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n * c >= PAR_MIN):
        y = target[i]
        if y == ignore_index:
            for j in range(c):
                out[i, j] = 0
            continue
        g = gloss[i]
        wy = w[y] if has_w else 1.0
        big_a = (1 - eps) * wy + eps_c * wsum
        for j in range(c):
            p = _exp(x[i, j] - lse[i])
            a = eps_c * (w[j] if has_w else 1.0)
            if j == y:
                a = a + (1 - eps) * wy
            out[i, j] = <floating>(g * (big_a * p - a))


def cross_entropy_fwd(logits, target, weight, ignore_index, label_smoothing, lse_out, loss_out):
    """lse_out[i] = logsumexp(logits[i]); loss_out[i] = per-sample F.cross_entropy
    (reduction='none', weight, ignore_index, label_smoothing); returns loss_out."""
    name = "cross_entropy_fwd"
    x, target, w = _ce_args(name, logits, target, weight, ignore_index, (lse_out, loss_out), ())
    _writeable(name, lse_out, "lse_out")
    _writeable(name, loss_out, "loss_out")
    cdef int64_t ign = ignore_index
    cdef double eps = label_smoothing
    if x.shape[1] == 0:                 # no classes: every target is ignored (checked above)
        lse_out.fill(-np.inf)
        loss_out.fill(0)
    elif x.shape[0]:
        if _f32(x):
            _ce_fwd[cython.float](x, target, w, w is not None, ign, eps, lse_out, loss_out)
        else:
            _ce_fwd[cython.double](x, target, w, w is not None, ign, eps, lse_out, loss_out)
    return loss_out


def cross_entropy_bwd(logits, target, weight, ignore_index, label_smoothing, lse, gloss, out):
    """out[i, j] = d (gloss[i] * loss_i) / d logits[i, j]; lse from cross_entropy_fwd."""
    name = "cross_entropy_bwd"
    x, target, w = _ce_args(name, logits, target, weight, ignore_index, (lse, gloss), (out,))
    _writeable(name, out)
    lse = np.asarray(lse, order="C")
    gloss = np.asarray(gloss, order="C")
    cdef int64_t ign = ignore_index
    cdef double eps = label_smoothing
    cdef double wsum = x.shape[1] if w is None else float(np.sum(w, dtype=np.float64))
    if out.size:
        if _f32(x):
            _ce_bwd[cython.float](x, target, w, w is not None, ign, eps, wsum, lse, gloss, out)
        else:
            _ce_bwd[cython.double](x, target, w, w is not None, ign, eps, wsum, lse, gloss, out)
    return out


# --------------------------------------------------------------------------- optimizers
cdef inline floating _lerp(floating a, floating b, floating weight,
                           floating one_minus_weight) noexcept nogil:
    """PyTorch's lerp: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w)."""
    if _fabs(weight) < 0.5:
        return a + weight * (b - a)
    return b - (b - a) * one_minus_weight


cdef void _sgd(floating[::1] p, const floating[::1] g, floating[::1] buf, floating lr,
               floating momentum, floating damp1, floating wd, bint nesterov, bint maximize,
               bint first_step) noexcept:
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating d
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        d = -g[i] if maximize else g[i]
        if wd != 0:
            d = d + wd * p[i]
        if momentum != 0:
            if first_step:
                buf[i] = d
            else:
                buf[i] = buf[i] * momentum + damp1 * d
            if nesterov:
                d = d + momentum * buf[i]
            else:
                d = buf[i]
        p[i] = p[i] - lr * d


cdef void _adam(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                floating[::1] vmax, bint amsgrad, floating decay, floating wd, bint decoupled,
                floating w1, floating omw1, floating beta2, floating omb2, floating bc2_sqrt,
                floating eps, floating neg_step, bint maximize) noexcept:
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating gi, vi, den
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        gi = -g[i] if maximize else g[i]
        if wd != 0:
            if decoupled:
                p[i] = p[i] * decay
            else:
                gi = gi + wd * p[i]
        m[i] = _lerp(m[i], gi, w1, omw1)
        vi = v[i] * beta2 + omb2 * gi * gi
        v[i] = vi
        if amsgrad:
            if vi > vmax[i] or vi != vi:         # nan propagates, like torch.maximum
                vmax[i] = vi
            vi = vmax[i]
        den = _sqrt(vi) / bc2_sqrt + eps
        p[i] = p[i] + neg_step * m[i] / den


cdef void _rmsprop(floating[::1] p, const floating[::1] g, floating[::1] sq,
                   floating[::1] gavg, floating[::1] buf, floating neg_lr, floating alpha,
                   floating oma, floating alpha1, floating eps, floating wd, floating momentum,
                   bint centered, bint maximize) noexcept:
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating gi, avg
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        gi = -g[i] if maximize else g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        sq[i] = sq[i] * alpha + oma * gi * gi
        if centered:
            gavg[i] = _lerp(gavg[i], gi, oma, alpha1)
            avg = _sqrt(sq[i] - gavg[i] * gavg[i]) + eps
        else:
            avg = _sqrt(sq[i]) + eps
        if momentum > 0:
            buf[i] = buf[i] * momentum + gi / avg
            p[i] = p[i] + neg_lr * buf[i]
        else:
            p[i] = p[i] + neg_lr * gi / avg


cdef void _adagrad(floating[::1] p, const floating[::1] g, floating[::1] ssum, floating neg_clr,
                   floating wd, floating eps, bint maximize) noexcept:
    cdef Py_ssize_t i, n = p.shape[0]
    cdef floating gi
    for i in prange(n, nogil=True, schedule="static", use_threads_if=n >= PAR_MIN):
        gi = -g[i] if maximize else g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        ssum[i] = ssum[i] + gi * gi
        p[i] = p[i] + neg_clr * gi / (_sqrt(ssum[i]) + eps)


def _flat(a):
    return None if a is None else a.reshape(-1)


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """torch.optim.SGD, one tensor, in place; buf is the momentum buffer (None when
    momentum == 0); first_step copies the update into buf."""
    g = _state("sgd_step", p, g, [("buf", buf, momentum != 0)])
    cdef double lr_ = lr, mom = momentum, damp = dampening, wd = weight_decay
    cdef double damp1 = 1 - damp
    cdef bint nest = nesterov, maxi = maximize, first = first_step
    if p.size:
        if _f32(p):
            _sgd[cython.float](p.reshape(-1), g.reshape(-1), _flat(buf) if mom != 0 else None,
                               <float>lr_, <float>mom, <float>damp1, <float>wd, nest, maxi, first)
        else:
            _sgd[cython.double](p.reshape(-1), g.reshape(-1), _flat(buf) if mom != 0 else None,
                                lr_, mom, damp1, wd, nest, maxi, first)
    return p


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
              decoupled):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), one tensor, in place;
    step is the 1-based step count; vmax is the amsgrad buffer (None unless amsgrad)."""
    g = _state("adam_step", p, g, [("m", m, True), ("v", v, True), ("vmax", vmax, bool(amsgrad))])
    cdef bint ams = amsgrad, maxi = maximize, dec = decoupled
    cdef double lr_ = lr, b1 = beta1, b2 = beta2, wd = weight_decay, step_ = step, e = eps
    # Scalar factors in double, as PyTorch computes them in Python.
    cdef double decay = 1 - lr_ * wd, w1 = 1 - b1, omw1 = 1 - w1, omb2 = 1 - b2
    cdef double bc2_sqrt = sqrt(1 - b2 ** step_)
    cdef double neg_step = -(lr_ / (1 - b1 ** step_))
    if p.size:
        if _f32(p):
            _adam[cython.float](p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                                _flat(vmax) if ams else None, ams, <float>decay, <float>wd,
                                dec, <float>w1, <float>omw1, <float>b2, <float>omb2,
                                <float>bc2_sqrt, <float>e, <float>neg_step, maxi)
        else:
            _adam[cython.double](p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                                 _flat(vmax) if ams else None, ams, decay, wd, dec, w1, omw1,
                                 b2, omb2, bc2_sqrt, e, neg_step, maxi)
    return p


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, maximize):
    """torch.optim.RMSprop, one tensor, in place; grad_avg is needed when centered,
    momentum_buf when momentum > 0 (both None otherwise)."""
    g = _state("rmsprop_step", p, g, [("square_avg", square_avg, True),
                                      ("grad_avg", grad_avg, bool(centered)),
                                      ("momentum_buf", momentum_buf, momentum > 0)])
    cdef bint cen = centered, maxi = maximize
    cdef double lr_ = lr, a = alpha, e = eps, wd = weight_decay, mom = momentum
    cdef double neg_lr = -lr_, oma = 1 - a, alpha1 = 1 - oma
    ga = _flat(grad_avg) if cen else None
    buf = _flat(momentum_buf) if mom > 0 else None
    if p.size:
        if _f32(p):
            _rmsprop[cython.float](p.reshape(-1), g.reshape(-1), square_avg.reshape(-1), ga, buf,
                                   <float>neg_lr, <float>a, <float>oma, <float>alpha1, <float>e,
                                   <float>wd, <float>mom, cen, maxi)
        else:
            _rmsprop[cython.double](p.reshape(-1), g.reshape(-1), square_avg.reshape(-1), ga, buf,
                                    neg_lr, a, oma, alpha1, e, wd, mom, cen, maxi)
    return p


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, maximize):
    """torch.optim.Adagrad (dense), one tensor, in place; step is the 1-based step count."""
    g = _state("adagrad_step", p, g, [("state_sum", state_sum, True)])
    cdef bint maxi = maximize
    cdef double lr_ = lr, decay = lr_decay, wd = weight_decay, e = eps, step_ = step
    cdef double neg_clr = -(lr_ / (1 + (step_ - 1) * decay))
    if p.size:
        if _f32(p):
            _adagrad[cython.float](p.reshape(-1), g.reshape(-1), state_sum.reshape(-1),
                                   <float>neg_clr, <float>wd, <float>e, maxi)
        else:
            _adagrad[cython.double](p.reshape(-1), g.reshape(-1), state_sum.reshape(-1),
                                    neg_clr, wd, e, maxi)
    return p
