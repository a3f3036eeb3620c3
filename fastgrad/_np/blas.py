"""Matrix products (twin of csrc/blas.pxi; the compiled one may run float products on MKL).

The conventions of every kernel are in fastgrad/_kernels_np.py's docstring."""

import numpy as np

__all__ = ["mm"]


def mm(a, b):
    """np.matmul(a, b) (the compiled twin may pass float products to MKL: fastgrad._blas)."""
    return np.matmul(a, b)
