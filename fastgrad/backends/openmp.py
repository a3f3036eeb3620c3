"""torch.backends.openmp.is_available(): whether fastgrad's compiled kernels were built with OpenMP."""


def is_available():
    from fastgrad import _blas

    return _blas._gomp is not None
