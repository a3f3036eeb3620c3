"""fastgrad.linalg (PyTorch's torch.linalg)."""
from fastgrad._ops.linalg import inv, matmul  # noqa: F401
from fastgrad._ops.linalg_ext import (cholesky, det, eigh, eigvalsh, matrix_norm, matrix_power,  # noqa: F401
                                      multi_dot, qr, slogdet, solve, svd, svdvals)
from fastgrad._ops.linalg_ext import linalg_cross as cross, linalg_norm as norm  # noqa: F401
from fastgrad._ops.reduction_ext import vector_norm  # noqa: F401
from fastgrad._ops.indexing import diagonal as _diagonal


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return _diagonal(A, offset, dim1, dim2)


def vecdot(x, y, *, dim=-1):
    return (x * y).sum(dim)


def inv_ex(A, *, check_errors=False):
    import collections

    from fastgrad._ops.base import make
    import numpy as np

    return collections.namedtuple("inv_ex", ["inverse", "info"])(inv(A), make(np.zeros(A.shape[:-2], np.int32)))
from fastgrad._ops.linalg_lu import (cholesky_ex, lu, lu_factor, lu_factor_ex, lu_solve, solve_ex,  # noqa: F401,E402
                                     solve_triangular)
from fastgrad._ops.linalg_more import cond, eig, eigvals, matrix_exp, tensorinv, tensorsolve, vander  # noqa: F401,E402
from fastgrad._ops.linalg_lu import ldl_factor, ldl_factor_ex, ldl_solve  # noqa: F401,E402
from fastgrad._ops.linalg_more import householder_product  # noqa: F401,E402
from fastgrad._ops.linalg_more import lstsq, matrix_rank, pinv  # noqa: F401,E402
from fastgrad._ops.linalg_error import LinAlgError  # noqa: F401,E402
