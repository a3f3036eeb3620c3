"""Whether fastgrad's matrix products run on Intel MKL (see fastgrad._blas)."""
from fastgrad import _backend


def is_available():
    """True when the compiled backend runs its float matrix products on MKL (the optional
    ``mkl`` package installed, FASTGRAD_BLAS not ``numpy``); PyTorch's: built with MKL."""
    return _backend.BLAS == "mkl"
