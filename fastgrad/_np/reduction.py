"""Reductions and row-wise kernels: sum_all, fill, softmax/log_softmax (twin of csrc/reduction.pxi).

The conventions of every kernel are in fastgrad/_kernels_np.py's docstring."""

import numpy as np

from fastgrad._kernel_checks import _rowwise

__all__ = ["fill", "log_softmax_bwd", "log_softmax_fwd", "softmax_bwd", "softmax_fwd", "sum_all"]


def sum_all(x):
    """np.add.reduce(x, axis=None) as a 0-d array (the compiled twin sums in C, the same way)."""
    return np.asarray(np.add.reduce(x, axis=None))


def fill(shape, g):
    """A new array of `shape` with every element g (sum()'s gradient)."""
    out = np.empty(shape, np.asarray(g).dtype)
    np.copyto(out, g)
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
