"""Triangular solves and the LU family with torch.linalg's names, errors and derivatives:
solve_triangular, triangular_solve, lu_factor(_ex), lu, lu_unpack, lu_solve, solve_ex, cholesky_ex.

LAPACK through SciPy (getrf, potrf; BLAS trsm), one matrix at a time over the batch dims.
The derivatives are PyTorch's (linalg_lu_backward / linalg_lu_jvp, the triangular solve's),
written with differentiable ops, so they can be differentiated again; lu_solve and lu_unpack
compose triangular solves, tril/triu and products."""
import collections

import numpy as np

from fastgrad._ops.linalg_error import LinAlgError

from fastgrad import _dtype
from fastgrad._ops.base import Op, make, scalar_type_name
from fastgrad._ops.indexing import cat, tril, triu
from fastgrad._ops.linalg import matmul

_lu_factor_t = collections.namedtuple("linalg_lu_factor", ["LU", "pivots"])
_lu_factor_ex_t = collections.namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
_lu_t = collections.namedtuple("linalg_lu", ["P", "L", "U"])
_lu_unpack_t = collections.namedtuple("lu_unpack", ["P", "L", "U"])
_solve_ex_t = collections.namedtuple("linalg_solve_ex", ["result", "info"])
_cholesky_ex_t = collections.namedtuple("linalg_cholesky_ex", ["L", "info"])
_triangular_solve_t = collections.namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


# same self-adjoint Op shape as complex.Conj: the maths differ
class ConjTranspose(Op):
    """A^H of a complex matrix (Tensor.mH is the transpose alone: fastgrad has no complex conj op)."""

    @staticmethod
    def forward(ctx, A):
        return np.conj(np.swapaxes(A._data, -1, -2))

    @staticmethod
    def backward(ctx, g):
        return ConjTranspose.apply(g)

    @staticmethod
    def jvp(ctx, t):
        return ConjTranspose.apply(t)


def mH(A):  # noqa: N802
    """The conjugate transpose (the transpose for real tensors)."""
    return ConjTranspose.apply(A) if A._data.dtype.kind == "c" else A.mT


def _lapack(name, a):
    from scipy.linalg import get_lapack_funcs

    return get_lapack_funcs((name,), (a,))[0]


def _blas(name, a):
    from scipy.linalg import get_blas_funcs

    return get_blas_funcs((name,), (a,))[0]


def write_out(out, res):
    """torch's out=: the results copied into the given tensors (resized as torch does); returns out."""
    if out is None:
        return res
    if isinstance(res, tuple):
        for o, r in zip(out, res):
            write_out(o, r)
        return out
    if out._data.shape != res._data.shape:  # torch resizes an out tensor of another shape
        out._data = np.zeros(res._data.shape, out._data.dtype)
    out.copy_(res)
    return out


def _kind_error(kernel, d):
    if _dtype.kind(d.dtype) not in "fc" or _dtype.is_half(d.dtype):
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, scalar_type_name(d.dtype)))


def _at_least_2d(name, arg, d):
    if d.ndim < 2:
        raise RuntimeError("%s: The input tensor %s must have at least 2 dimensions." % (name, arg))


def _square(name, d, arg="A"):
    if d.shape[-1] != d.shape[-2]:
        raise RuntimeError("%s: %s must be batches of square matrices, but they are %d by %d matrices"
                           % (name, arg, d.shape[-2], d.shape[-1]))


# --------------------------------------------------------------------------- triangular solve
def _trsm(a, b, upper, left, unit):
    """X with op(A) X = B (left) or X A = B (right), A triangular; batch dims broadcast.
    BLAS trsm: a zero on the diagonal gives inf / nan, as in PyTorch (no singularity check)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(b.shape, b.dtype)
    if out.size == 0:
        return out
    if a.shape[-1] == 0:
        return out
    f = _blas("trsm", out)
    for i in np.ndindex(*batch):
        out[i] = f(1.0, a[i], b[i], side=0 if left else 1, lower=0 if upper else 1, diag=1 if unit else 0)
    return out


def _tri_part(t, upper, unit):
    if upper:
        return triu(t, 1 if unit else 0)
    return tril(t, -1 if unit else 0)


class SolveTriangular(Op):
    """X = A^{-1} B (left) or B A^{-1}, A upper or lower triangular (unit diagonal if unitriangular).
    Gradients: gB = A^{-H} gX (left), gA = -gB X^H restricted to A's triangle."""

    @staticmethod
    def forward(ctx, A, B, upper, left, unit):
        ctx.flags = (upper, left, unit)
        X = _trsm(A._data, B._data, upper, left, unit)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, gX):
        A, X = ctx.saved_tensors
        upper, left, unit = ctx.flags
        need = ctx.needs_input_grad
        gB = SolveTriangular.apply(mH(A), gX, not upper, left, unit)
        gA = None
        if need[0]:
            gA = _tri_part(-matmul(gB, mH(X)) if left else -matmul(mH(X), gB), upper, unit)
        return gA, (gB if need[1] else None), None, None, None

    @staticmethod
    def jvp(ctx, tA, tB, upper, left, unit):
        A, X = ctx.saved_tensors
        rhs = tB
        if tA is not None:
            dA = _tri_part(tA, upper, unit)
            prod = matmul(dA, X) if left else matmul(X, dA)
            rhs = -prod if rhs is None else rhs - prod
        return SolveTriangular.apply(A, rhs, upper, left, unit)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    name = "linalg.solve_triangular"
    a, b = A._data, B._data
    _at_least_2d(name, "A", a)
    _at_least_2d(name, "B", b)
    _square(name, a)
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise RuntimeError("%s: Incompatible shapes of A and B for the equation %s (%dx%d and %dx%d)"
                           % (name, "AX = B" if left else "XA = B", n, n, b.shape[-2], b.shape[-1]))
    dt = np.result_type(a.dtype, b.dtype) if not (_dtype.is_half(a.dtype) or _dtype.is_half(b.dtype)) else a.dtype
    if _dtype.is_half(a.dtype) or _dtype.is_half(b.dtype) or _dtype.kind(dt) not in "fc":
        _kind_error("triangular_solve_cpu", np.empty(0, dt if _dtype.kind(dt) not in "fc" else a.dtype))
    if a.dtype != dt:
        A = A.to(_dtype.from_numpy_dtype(dt))
    if b.dtype != dt:
        B = B.to(_dtype.from_numpy_dtype(dt))
    return write_out(out, SolveTriangular.apply(A, B, bool(upper), bool(left), bool(unitriangular)))


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """torch.triangular_solve (deprecated): (A^{-1} b or A^{-T} b, a copy of A)."""
    if b._data.ndim < 2 or A._data.ndim < 2:
        raise RuntimeError("torch.triangular_solve: Expected b to have at least 2 dimensions, but it has %d "
                           "dimensions instead" % b._data.ndim if b._data.ndim < 2 else
                           "torch.triangular_solve: Expected A to have at least 2 dimensions, but it has %d "
                           "dimensions instead" % A._data.ndim)
    M = A.mT if transpose else A
    X = solve_triangular(M, b, upper=(not upper) if transpose else upper, unitriangular=unitriangular)
    batch = np.broadcast_shapes(A._data.shape[:-2], b._data.shape[:-2])
    C = A.clone() if A._data.shape[:-2] == batch else A.expand(*(batch + A._data.shape[-2:])).clone()
    return write_out(out, _triangular_solve_t(X, C))


# --------------------------------------------------------------------------- LU factorization
def _getrf(a):
    """(P, L, U, packed LU, 1-based int32 pivots, info) of a (..., m, n) array, batched."""
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    lu = np.array(a, copy=True)
    piv = np.empty(batch + (k,), np.int32)
    info = np.zeros(batch, np.int32)
    if lu.size:
        f = _lapack("getrf", lu)
        for i in np.ndindex(*batch):
            r, p, inf = f(lu[i])
            lu[i] = r
            piv[i] = p + 1
            info[i] = inf
    else:
        piv[...] = np.arange(1, k + 1, dtype=np.int32)
    return lu, piv, info


def _perm(piv, m):
    """The row permutation perm (A[perm] = L U) of 1-based LAPACK pivots, batched."""
    batch = piv.shape[:-1]
    perm = np.broadcast_to(np.arange(m), batch + (m,)).copy()
    idx = np.indices(batch) if batch else ()
    for i in range(piv.shape[-1]):
        j = piv[..., i].astype(np.int64) - 1
        a, b = perm[..., i].copy(), perm[(*idx, j)].copy()
        perm[..., i] = b
        perm[(*idx, j)] = a
    return perm


def _perm_matrix(piv, m, dtype):
    perm = _perm(piv, m)
    P = np.zeros(perm.shape + (m,), dtype)
    np.put_along_axis(P, perm[..., :, None], 1, axis=-1)  # P^T[i, perm[i]] = 1
    return np.swapaxes(P, -1, -2)


def _unpack_arrays(lu, m, n):
    k = min(m, n)
    L = np.tril(lu[..., :, :k], -1)
    L[..., np.arange(k), np.arange(k)] = 1
    U = np.triu(lu[..., :k, :])
    return L, U


def _lu_backward(P, L, U, gL, gU):
    """PyTorch's linalg_lu_backward: gA of A = P L U from gL, gU (either may be None)."""
    m, n = L._data.shape[-2], U._data.shape[-1]
    k = min(m, n)
    if m == n:
        gA = tril(matmul(mH(L), gL), -1) if gL is not None else None
        if gU is not None:
            t = triu(matmul(gU, mH(U)))
            gA = t if gA is None else gA + t
        gA = solve_triangular(mH(U), gA, upper=False, left=False)
        gA = solve_triangular(mH(L), gA, upper=True, unitriangular=True)
    elif m < n:  # wide
        U1 = U[..., :, :k]
        gA = matmul(mH(L), gL) if gL is not None else None
        if gU is not None:
            t = matmul(triu(gU), mH(U))
            gA = -t if gA is None else gA - t
        gA = solve_triangular(mH(U1), tril(gA, -1), upper=False, left=False)
        if gU is not None:
            gA = cat([gA + triu(gU[..., :, :k]), gU[..., :, k:]], -1)
        gA = solve_triangular(mH(L), gA, upper=True, unitriangular=True)
        if gU is None:
            gA = cat([gA, make(np.zeros(gA._data.shape[:-1] + (n - k,), gA._data.dtype))], -1)
    else:  # tall
        L1 = L[..., :k, :]
        gA = matmul(gU, mH(U)) if gU is not None else None
        if gL is not None:
            t = matmul(mH(L), tril(gL, -1))
            gA = -t if gA is None else gA - t
        gA = solve_triangular(mH(L1), triu(gA), upper=True, unitriangular=True)
        if gL is not None:
            gA = cat([gA + tril(gL[..., :k, :], -1), gL[..., k:, :]], -2)
        gA = solve_triangular(mH(U), gA, upper=False, left=False)
        if gL is None:
            gA = cat([gA, make(np.zeros(gA._data.shape[:-2] + (m - k, n), gA._data.dtype))], -2)
    return matmul(P, gA)


def _lu_jvp(P, L, U, dA):
    """(dL, dU) of A = P L U along dA (PyTorch's linalg_lu_jvp)."""
    m, n = L._data.shape[-2], U._data.shape[-1]
    k = min(m, n)
    PdA = matmul(P.mT, dA)
    if m >= n:  # Y = P^T dA U^{-1} = dL + L dU U^{-1}
        Y = solve_triangular(U, PdA, upper=True, left=False)
        Z = triu(solve_triangular(L[..., :k, :], Y[..., :k, :], upper=False, unitriangular=True))
        return Y - matmul(L, Z), matmul(Z, U)
    X = solve_triangular(L, PdA, upper=False, unitriangular=True)  # wide: X = L^{-1} P^T dA
    phi = tril(solve_triangular(U[..., :, :k], X[..., :, :k], upper=True, left=False), -1)
    return matmul(L, phi), X - matmul(phi, U)


def _pack(L, U):
    """The packed LU (strict lower part from L, upper from U) of the factors, differentiably."""
    m, n = L._data.shape[-2], U._data.shape[-1]
    k = min(m, n)
    low = tril(L, -1)
    if m > k:
        U = cat([U, make(np.zeros(U._data.shape[:-2] + (m - k, n), U._data.dtype))], -2)
    elif n > k:
        low = cat([low, make(np.zeros(low._data.shape[:-1] + (n - k,), low._data.dtype))], -1)
    return low + U


# same factorization Op shape as linalg_ext.QR (two outputs saved, two gradients in): the maths differ
class LU(Op):
    """(L, U) of A = P L U; the factorization is computed by the caller (getrf) and P is a constant."""

    @staticmethod
    def forward(ctx, A, P, L, U):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(L, U)
        ctx.P = P
        return L, U

    @staticmethod
    def backward(ctx, gL, gU):
        L, U = ctx.saved_tensors
        if gL is None and gU is None:
            return None, None, None, None
        return _lu_backward(make(ctx.P), L, U, gL, gU), None, None, None

    @staticmethod
    def jvp(ctx, tA, P, L, U):
        Lt, Ut = ctx.saved_tensors
        return _lu_jvp(make(P), Lt, Ut, tA)


class LUFactor(Op):
    """The packed LU of A = P L U (lu_factor); factorization computed by the caller. L and U are
    unpacked from the saved output, so the gradient can be differentiated again."""

    @staticmethod
    def forward(ctx, A, P, LU_):
        ctx.save_for_backward(LU_)
        ctx.P = P
        return LU_

    @staticmethod
    def _factors(LU_):
        m, n = LU_._data.shape[-2:]
        k = min(m, n)
        L = tril(LU_[..., :, :k], -1) + make(np.eye(m, k, dtype=LU_._data.dtype))
        return L, triu(LU_[..., :k, :])

    @staticmethod
    def backward(ctx, g):
        (LU_,) = ctx.saved_tensors
        L, U = LUFactor._factors(LU_)
        k = min(LU_._data.shape[-2:])
        gL = tril(g[..., :, :k], -1)
        gU = triu(g[..., :k, :])
        return _lu_backward(make(ctx.P), L, U, gL, gU), None, None

    @staticmethod
    def jvp(ctx, tA, P, LU_):
        (LUt,) = ctx.saved_tensors
        L, U = LUFactor._factors(LUt)
        return _pack(*_lu_jvp(make(P), L, U, tA))


def _lu_checks(name, A, pivot):
    d = A._data
    if d.ndim < 2:
        raise RuntimeError("torch.lu_factor: Expected tensor with 2 or more dimensions. Got size: [%s] instead"
                           % ", ".join(map(str, d.shape)))
    _kind_error("lu_cpu", d)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")


def _factor(A):
    lu, piv, info = _getrf(A._data)
    m, n = A._data.shape[-2:]
    L, U = _unpack_arrays(lu, m, n)
    P = _perm_matrix(piv, m, A._data.dtype)
    return P, L, U, lu, piv, info


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    _lu_checks("linalg.lu_factor_ex", A, pivot)
    P, L, U, lu, piv, info = _factor(A)
    if check_errors and np.any(info > 0):
        raise _singular_error("torch.linalg.lu_factor_ex", info, lu)
    LU_ = LUFactor.apply(A, P, lu)
    return write_out(out, _lu_factor_ex_t(LU_, make(piv), make(info)))


def _singular_error(name, info, lu):
    first = int(info.reshape(-1)[np.argmax(info.reshape(-1) > 0)])
    batch = ""
    if info.ndim:
        b = int(np.argmax(info.reshape(-1) > 0))
        batch = "(Batch element %d): " % b
    return LinAlgError("%s: %sU[%d,%d] is zero and using it on lu_solve would result in a division by zero. If you "
                        "still want to perform the factorization, consider calling linalg.lu(A, pivot) or "
                        "linalg.lu_factor_ex(A, pivot)" % (name, batch, first, first))


def lu_factor(A, *, pivot=True, out=None):
    _lu_checks("linalg.lu_factor", A, pivot)
    P, L, U, lu, piv, info = _factor(A)
    if np.any(info > 0):
        raise _singular_error("torch.linalg.lu_factor", info, lu)
    return write_out(out, _lu_factor_t(LUFactor.apply(A, P, lu), make(piv)))


def lu(A, *, pivot=True, out=None):
    _lu_checks("linalg.lu", A, pivot)
    P, L, U, lu_, piv, info = _factor(A)
    Lt, Ut = LU.apply(A, P, L, U)
    return write_out(out, _lu_t(make(P), Lt, Ut))


def lu_legacy(A, pivot=True, get_infos=False, out=None):
    """torch.lu: (A_LU, pivots[, infos])."""
    r = lu_factor_ex(A, pivot=pivot)
    res = (r.LU, r.pivots, r.info) if get_infos else (r.LU, r.pivots)
    return write_out(out, res)


def _check_pivots(name, LU_, pivots):
    if pivots._data.dtype != np.int32:
        raise RuntimeError("%s: pivots should be a Tensor of scalar type torch.int32" % name)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    d = LU_data._data
    if LU_pivots._data.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype.\n"
                           "Note: this function is intended to be used with the output produced by "
                           "torch.linalg.lu_factor")
    m, n = d.shape[-2:]
    k = min(m, n)
    if unpack_data:
        L = tril(LU_data[..., :, :k], -1) + make(np.eye(m, k, dtype=d.dtype))
        U = triu(LU_data[..., :k, :])
    else:
        L = U = make(np.zeros((0,), d.dtype))
    if unpack_pivots:
        P = make(_perm_matrix(LU_pivots._data, m, d.dtype)) if m else make(
            np.zeros(LU_pivots._data.shape[:-1] + (0, 0), d.dtype))
    else:
        P = make(np.zeros((0,), d.dtype))
    return write_out(out, _lu_unpack_t(P, L, U))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (or X A = B; A^H with adjoint) from A's LU factorization, A = P L U."""
    name = "linalg.lu_solve"
    d, b = LU._data, B._data
    _at_least_2d(name, "LU", d)
    _at_least_2d(name, "B", b)
    if d.shape[-1] != d.shape[-2]:
        raise RuntimeError("torch.linalg.lu_solve: A must be batches of square matrices, but they are %d by %d "
                           "matrices" % (d.shape[-2], d.shape[-1]))
    n = d.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise RuntimeError("%s: Incompatible shapes of A and B for the equation %s (%dx%d and %dx%d)"
                           % (name, "AX = B" if left else "XA = B", n, n, b.shape[-2], b.shape[-1]))
    _check_pivots(name, LU, pivots)
    if pivots._data.shape[-1] != n:
        raise RuntimeError("%s: Number of pivots per batch should be same as the dimension of the matrix" % name)
    _kind_error("lu_solve_cpu", d)
    P, L, U = lu_unpack(LU, pivots)
    if left and not adjoint:  # X = U^-1 L^-1 P^T B
        X = solve_triangular(U, solve_triangular(L, matmul(P.mT, B), upper=False, unitriangular=True), upper=True)
    elif left:  # U^H L^H P^T X = B: X = P L^-H U^-H B
        X = matmul(P, solve_triangular(mH(L), solve_triangular(mH(U), B, upper=False), upper=True, unitriangular=True))
    elif not adjoint:  # X P L U = B: X = B U^-1 L^-1 P^T
        Y = solve_triangular(U, B, upper=True, left=False)
        X = matmul(solve_triangular(L, Y, upper=False, left=False, unitriangular=True), P.mT)
    else:  # X U^H L^H P^T = B: X = B P L^-H U^-H
        Y = solve_triangular(mH(L), matmul(B, P), upper=True, left=False, unitriangular=True)
        X = solve_triangular(mH(U), Y, upper=False, left=False)
    return write_out(out, X)


def lu_solve_legacy(b, LU_data, LU_pivots, *, out=None):
    """torch.lu_solve (deprecated): linalg.lu_solve(LU_data, LU_pivots, b)."""
    return write_out(out, lu_solve(LU_data, LU_pivots, b))


# --------------------------------------------------------------------------- _ex variants
def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    from fastgrad._ops.linalg_ext import solve

    _kind_error("linalg.solve_ex", A._data) if _dtype.is_half(A._data.dtype) else None
    _, piv, info = _getrf(A._data) if A._data.ndim >= 2 and A._data.shape[-1] == A._data.shape[-2] else (0, 0, None)
    if info is None or not np.any(info > 0):
        X = solve(A, B, left=left)
        return write_out(out, _solve_ex_t(X, make(np.zeros(A._data.shape[:-2], np.int32))))
    if check_errors:
        raise LinAlgError("torch.linalg.solve_ex: The solver failed because the input matrix is singular.")
    f = lu_factor_ex(A)
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    Bm = B.unsqueeze(-1) if vector else B
    X = lu_solve(f.LU, f.pivots, Bm if left else Bm, left=left)
    return write_out(out, _solve_ex_t(X.squeeze(-1) if vector else X, f.info))


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    from fastgrad._ops.linalg_ext import _float_matrix, cholesky

    _float_matrix("linalg.cholesky", A)
    a = A._data
    info = np.zeros(a.shape[:-2], np.int32)
    fac = np.array(a, copy=True)
    if a.size:
        f = _lapack("potrf", a)
        for i in np.ndindex(*a.shape[:-2]):
            c, inf = f(a[i], lower=1, clean=1)
            fac[i] = c
            info[i] = inf
    if np.all(info == 0):
        L = cholesky(A)
        L = mH(L) if upper else L
    else:
        if check_errors:
            raise RuntimeError("linalg.cholesky_ex: The factorization could not be completed because the input is "
                               "not positive-definite (the leading minor of order %d is not positive-definite)."
                               % int(info.reshape(-1)[np.argmax(info.reshape(-1) > 0)]))
        fac = np.tril(fac)
        L = make(np.swapaxes(fac, -1, -2).conj() if upper else fac)
    return write_out(out, _cholesky_ex_t(L, make(info)))


# --------------------------------------------------------------------------- LDL (Bunch-Kaufman, no derivatives in torch)
_ldl_factor_t = collections.namedtuple("linalg_ldl_factor", ["LD", "pivots"])
_ldl_factor_ex_t = collections.namedtuple("linalg_ldl_factor_ex", ["LD", "pivots", "info"])


def square_batches(name, A):
    """A has at least 2 dims and square matrices (ldl_factor's and eig's first checks)."""
    d = A._data
    if d.ndim < 2:
        raise RuntimeError("%s: The input tensor A must have at least 2 dimensions." % name)
    _square(name, d)


def _ldl_checks(name, A):
    square_batches(name, A)
    d = A._data
    if _dtype.kind(d.dtype) not in "fc" or _dtype.is_half(d.dtype):
        raise RuntimeError("%s: Expected a floating point or complex tensor as input. Got %s"
                           % (name, scalar_type_name(d.dtype)))


def _no_grad_input(name, *ts):
    from fastgrad._backend import engine

    if engine.is_grad_enabled() and any(t._requires_grad for t in ts):
        return "derivative for aten::%s is not implemented" % name
    return None


class NoDerivative(Op):
    """value (an array computed from the tensors) as an output of the tensors whose derivative raises
    `message` (PyTorch's error for an op without a derivative formula)."""

    @staticmethod
    def forward(ctx, message, value, *tensors):
        ctx.message = message
        return value

    @staticmethod
    def backward(ctx, *grads):
        exc, msg = ctx.message if isinstance(ctx.message, tuple) else (RuntimeError, ctx.message)
        raise exc(msg)

    @staticmethod
    def jvp(ctx, message, value, *tangents):
        exc, msg = message if isinstance(message, tuple) else (RuntimeError, message)
        raise exc(msg)


def _not_differentiable(value, msg, *tensors):
    """make(value), or, when an input requires grad, an output whose backward raises torch's error
    (msg: a message, or (exception class, message))."""
    return NoDerivative.apply(msg, value, *tensors) if msg is not None else make(value)


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    name = "torch.linalg.ldl_factor_ex"
    _ldl_checks(name, A)
    a = A._data
    n = a.shape[-1]
    LD = np.zeros(a.shape, a.dtype)
    piv = np.broadcast_to(np.arange(1, n + 1, dtype=np.int32), a.shape[:-1]).copy()
    info = np.zeros(a.shape[:-2], np.int32)
    if a.size:
        f = _lapack("hetrf" if hermitian and _dtype.kind(a.dtype) == "c" else "sytrf", a)
        for i in np.ndindex(*a.shape[:-2]):
            ld, p, inf = f(a[i], lower=1)
            LD[i], piv[i], info[i] = np.tril(ld), p, inf
    if check_errors and np.any(info > 0):
        raise RuntimeError("torch.linalg.ldl_factor: Unknown error code: %d." % int(info[info > 0].reshape(-1)[0]))
    msg = _no_grad_input("linalg_ldl_factor_ex", A)
    return write_out(out, _ldl_factor_ex_t(_not_differentiable(LD, msg, A), make(piv), make(info)))


def ldl_factor(A, *, hermitian=False, out=None):
    r = ldl_factor_ex(A, hermitian=hermitian)
    if np.any(r.info._data > 0):  # torch 2.13: an internal assert with this text
        raise RuntimeError("torch.linalg.ldl_factor: Unknown error code: %d."
                           % int(r.info._data[r.info._data > 0].reshape(-1)[0]))
    return write_out(out, _ldl_factor_t(r.LD, r.pivots))


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    name = "torch.linalg.ldl_solve"
    d, b = LD._data, B._data
    _ldl_checks(name, LD)
    if b.ndim < 2:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    if b.shape[-2] != d.shape[-1]:
        raise RuntimeError("Incompatible matrix sizes for %s: each A matrix is %d by %d but each b matrix is %d by %d"
                           % (name, d.shape[-1], d.shape[-1], b.shape[-2], b.shape[-1]))
    if pivots._data.dtype != np.int32:
        raise RuntimeError("%s: Expected pivots to be integers. Got %s" % (name, scalar_type_name(pivots._data.dtype)))
    if d.dtype != b.dtype:
        raise RuntimeError("%s: Expected LD and B to have the same dtype, but got LD with dtype %s and B with dtype %s "
                           "instead" % (name, scalar_type_name(d.dtype), scalar_type_name(b.dtype)))
    batch = np.broadcast_shapes(d.shape[:-2], b.shape[:-2])
    dd = np.broadcast_to(d, batch + d.shape[-2:])
    pp = np.broadcast_to(pivots._data, batch + pivots._data.shape[-1:])
    bb = np.broadcast_to(b, batch + b.shape[-2:])
    X = np.zeros(bb.shape, b.dtype)
    if X.size:
        f = _lapack("hetrs" if hermitian and _dtype.kind(d.dtype) == "c" else "sytrs", dd)
        for i in np.ndindex(*batch):
            X[i] = f(dd[i], pp[i], bb[i], lower=1)[0]
    msg = _no_grad_input("linalg_ldl_solve", LD, B)
    return write_out(out, _not_differentiable(X, msg, LD, B))
