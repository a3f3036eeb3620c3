"""Window functions: torch.signal.windows.* (scipy.signal.windows' definitions, torch's
arguments and checks) and torch's older factory functions hann_window, hamming_window,
bartlett_window, blackman_window, kaiser_window.

Windows are computed in float64 with NumPy and rounded once to the requested dtype (torch
computes them in that dtype; the values agree to that dtype's rounding). A window is a leaf:
requires_grad=True gives a leaf that requires grad."""
import math
from collections.abc import Iterable

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._types import check_device

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _finish(w, dtype, device, requires_grad):
    check_device(device)
    t = engine.make_tensor(np.ascontiguousarray(w, dtype=dtype.np))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _checks(name, M, dtype, layout):
    if dtype is None:
        dtype = _dtype.get_default_dtype()
    dtype = _dtype.to_dtype(dtype)
    if M < 0:
        raise ValueError("%s requires non-negative window length, got M=%d" % (name, M))
    if layout is not None and str(layout) not in ("torch.strided", "strided", "fastgrad.strided"):
        raise ValueError("%s is implemented for strided tensors only, got: %s" % (name, layout))
    if dtype not in (_dtype.float32, _dtype.float64):
        raise ValueError("%s expects float32 or float64 dtypes, got: %s" % (name, _torch_name(dtype)))
    return dtype


def _torch_name(dtype):
    return "torch." + str(dtype).split(".")[-1]


def _linspace(start, end, M):
    return np.linspace(start, end, M, dtype=np.float64)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None,
                requires_grad=False):
    """exp(-|n - center| / tau)."""
    dtype = _checks("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError("Tau must be positive, got: %s instead." % (tau,))
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / tau
    k = _linspace(-center * c, (-center + (M - 1)) * c, M)
    return _finish(np.exp(-np.abs(k)), dtype, device, requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """sin(pi (n + 0.5) / M) (the sine window)."""
    dtype = _checks("cosine", M, dtype, layout)
    if M == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    c = math.pi / (M + 1 if not sym and M > 1 else M)
    return _finish(np.sin(_linspace(0.5 * c, (0.5 + (M - 1)) * c, M)), dtype, device, requires_grad)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """exp(-(n / (2 std))^2) centred on the window."""
    dtype = _checks("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError("Standard deviation must be positive, got: %s instead." % (std,))
    if M == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / (std * math.sqrt(2))
    k = _linspace(start * c, (start + (M - 1)) * c, M)
    return _finish(np.exp(-(k ** 2)), dtype, device, requires_grad)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """I0(beta sqrt(1 - ((n - N/2) / (N/2))^2)) / I0(beta), N = M - 1 if sym else M."""
    dtype = _checks("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError("beta must be non-negative, got: %s instead." % (beta,))
    if M == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    if M == 1:
        return _finish(np.ones(1), dtype, device, requires_grad)
    beta = float(beta)
    c = 2.0 * beta / (M if not sym else M - 1)
    k = _linspace(-beta, min(beta, -beta + (M - 1) * c), M)
    with np.errstate(invalid="ignore"):
        w = np.i0(np.sqrt(np.maximum(beta * beta - k ** 2, 0.0))) / np.i0(beta)
    return _finish(w, dtype, device, requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """general_hamming with alpha 0.54."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """general_hamming with alpha 0.5."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """general_cosine with a = [0.42, 0.5, 0.08]."""
    _checks("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The triangular window 1 - |2n / N - 1|."""
    dtype = _checks("bartlett", M, dtype, layout)
    if M == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    if M == 1:
        return _finish(np.ones(1), dtype, device, requires_grad)
    c = 2 / (M if not sym else M - 1)
    return _finish(1 - np.abs(_linspace(-1, -1 + (M - 1) * c, M)), dtype, device, requires_grad)


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """sum_i (-1)^i a_i cos(2 pi i n / N)."""
    dtype = _checks("general_cosine", M, dtype, layout)
    if M == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    if M == 1:
        return _finish(np.ones(1), dtype, device, requires_grad)
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    c = 2 * math.pi / (M if not sym else M - 1)
    k = _linspace(0, (M - 1) * c, M)
    coef = np.array([(-1) ** i * float(w) for i, w in enumerate(a)], dtype=np.float64)
    w = (coef[:, None] * np.cos(np.arange(len(coef), dtype=np.float64)[:, None] * k)).sum(0)
    return _finish(w, dtype, device, requires_grad)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """alpha - (1 - alpha) cos(2 pi n / N)."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """The minimum 4-term Blackman-Harris window (Nuttall's)."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype,
                          layout=layout, device=device, requires_grad=requires_grad)


# --------------------------------------------------------------------------- torch.*_window
def _legacy(name, window_length, periodic, dtype, device, requires_grad):
    """The checks torch's C++ window factories make; the length of the window to compute."""
    if dtype is None:
        dtype = _dtype.get_default_dtype()
    dtype = _dtype.to_dtype(dtype)
    if not dtype.is_floating_point:
        raise RuntimeError("%s expects floating point dtypes, got: TensorOptions(dtype=%s, device=cpu, "
                           "layout=Strided (default), requires_grad=false (default), pinned_memory=false, "
                           "memory_format=(nullopt))" % (name, _CXX_NAME.get(str(dtype).split(".")[-1], dtype)))
    if window_length < 0:
        raise RuntimeError("%s requires non-negative window_length, got window_length=%d" % (name, window_length))
    return dtype


_CXX_NAME = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
             "complex128": "c10::complex<double>"}


def _short(window_length, dtype, device, requires_grad):
    if window_length == 0:
        return _finish(np.empty(0), dtype, device, requires_grad)
    return _finish(np.ones(1), dtype, device, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None,
                   device=None, requires_grad=False, pin_memory=False):
    """alpha - beta cos(2 pi n / (N - 1)), N = window_length (+ 1 when periodic, the last point dropped)."""
    dtype = _legacy("hamming_window", window_length, periodic, dtype, device, requires_grad)
    if window_length <= 1:
        return _short(window_length, dtype, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    w = alpha - beta * np.cos(np.arange(n, dtype=np.float64) * (2 * math.pi / (n - 1)))
    return _finish(w[:window_length], dtype, device, requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False,
                pin_memory=False):
    """hamming_window with alpha = beta = 0.5."""
    _legacy("hann_window", window_length, periodic, dtype, device, requires_grad)
    return hamming_window(window_length, periodic, 0.5, 0.5, dtype=dtype, device=device,
                          requires_grad=requires_grad)


# twin of blackman_window: torch's window functions, one each; the formulas differ
def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False,
                    pin_memory=False):
    """The triangular window (periodic: of window_length + 1 points, the last dropped)."""
    dtype = _legacy("bartlett_window", window_length, periodic, dtype, device, requires_grad)
    if window_length <= 1:
        return _short(window_length, dtype, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    w = np.arange(n, dtype=np.float64) * (2.0 / (n - 1))
    half = ((n - 1) >> 1) + 1
    w[half:] = 2 - w[half:]
    return _finish(w[:window_length], dtype, device, requires_grad)


# twin of bartlett_window: torch's window functions, one each; the formulas differ
def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False,
                    pin_memory=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    dtype = _legacy("blackman_window", window_length, periodic, dtype, device, requires_grad)
    if window_length <= 1:
        return _short(window_length, dtype, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    k = np.arange(n, dtype=np.float64) * (math.pi / (n - 1))
    w = 0.08 * np.cos(4 * k) - 0.5 * np.cos(2 * k) + 0.42
    return _finish(w[:window_length], dtype, device, requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False, pin_memory=False):
    """I0(beta sqrt(1 - ((n - a) / a)^2)) / I0(beta), a = (N - 1) / 2."""
    dtype = _legacy("kaiser_window", window_length, periodic, dtype, device, requires_grad)
    if window_length <= 1:
        return _short(window_length, dtype, device, requires_grad)
    n = window_length + 1 if periodic else window_length
    a = (n - 1) / 2.0
    r = (np.arange(n, dtype=np.float64) - a) / a
    w = np.i0(beta * np.sqrt(np.maximum(1 - r * r, 0.0))) / np.i0(float(beta))
    return _finish(w[:window_length], dtype, device, requires_grad)
