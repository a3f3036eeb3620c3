"""More linear algebra: the decompositions det, slogdet, solve, cholesky, qr, eigh, svd and the
matrix norms, with torch.linalg's names and errors; and linalg_products.py's products re-exported
(addmm/addmv/baddbmm, einsum, tensordot, kron, ...).

Gradients are written with differentiable ops (matmul, inverse, solve, tril, ...), so the
double backward of det / solve / cholesky / eigh / qr / svd works."""
import collections

import numpy as np

from fastgrad._ops.linalg_error import LinAlgError

from fastgrad import _dtype
from fastgrad._ops.base import Op, make, norm_dim, scalar_type_name
from fastgrad._ops.elementwise import abs, where
from fastgrad._ops.indexing import cat, diag_embed, diagonal, index_select, movedim, tril, triu
from fastgrad._ops.linalg import _check_dtypes, inv, matmul, no_half
# the matrix products live in linalg_products.py; re-exported here, where the rest of the package takes them from
from fastgrad._ops.linalg_products import (addbmm, addmm, addmv, addr, baddbmm, cdist, chain_matmul,  # noqa: F401
                                           cross, einsum, kron, linalg_cross, matrix_power, multi_dot,
                                           tensordot)
from fastgrad._ops.reduction import sum
from fastgrad._ops.reduction_ext import AMax, vector_norm

_slogdet_t = collections.namedtuple("slogdet", ["sign", "logabsdet"])
_qr_t = collections.namedtuple("qr", ["Q", "R"])
_eigh_t = collections.namedtuple("eigh", ["eigenvalues", "eigenvectors"])
_svd_t = collections.namedtuple("svd", ["U", "S", "Vh"])
_svd_legacy_t = collections.namedtuple("svd", ["U", "S", "V"])


def _float_matrix(name, A, square=True):
    d = A._data
    if _dtype.kind(d.dtype) not in "fc":
        raise RuntimeError("%s: Expected a floating point or complex tensor as input. Got %s"
                           % (name, scalar_type_name(d.dtype)))
    if d.ndim < 2:
        raise RuntimeError("%s: The input tensor A must have at least 2 dimensions." % name)
    if square and d.shape[-1] != d.shape[-2]:
        raise RuntimeError("%s: A must be batches of square matrices, but they are %d by %d matrices"
                           % (name, d.shape[-2], d.shape[-1]))


def _t(x):
    return x.mT


# --------------------------------------------------------------------------- det / slogdet
def _adjugate_t(A):
    """adj(A)^T = d det(A) / dA (valid for singular A): from the SVD, a constant, for a first-order
    derivative; from the cofactors (differentiable) when that derivative is differentiated again."""
    from fastgrad._backend import engine

    if (engine.is_grad_enabled() and A._requires_grad) or (engine.state().fw_level > 0 and A._fw_grad is not None):
        return _cofactors(A)
    u, s, vh = np.linalg.svd(A._data)
    n = s.shape[-1]
    others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1) if n else s
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return make((u * others[..., None, :]) @ vh * sign[..., None, None])


def _cofactors(A):
    """C[..., i, j] = (-1)^(i+j) det(A without row i and column j) = adj(A)^T, differentiably."""
    from fastgrad._ops.indexing import stack

    n = A._data.shape[-1]
    if n == 1:
        return make(np.ones(A._data.shape, A._data.dtype))
    keep = [make(np.array([k for k in range(n) if k != i], np.int64)) for i in range(n)]
    rows = []
    for i in range(n):
        Ai = index_select(A, A._data.ndim - 2, keep[i])
        rows.append(stack([Det.apply(index_select(Ai, A._data.ndim - 1, keep[j])) * float((-1) ** (i + j))
                           for j in range(n)], -1))
    return stack(rows, -2)


def _ddet(A, y):
    """d det / dA as a tensor: det * inv(A)^T, or the adjugate when A is singular or nearly so (|det|
    below 1e-4 of Hadamard's bound, the product of the row norms), where the derivatives of inv(A)
    (the second and higher derivatives of det) would lose most of their digits to cancellation."""
    bound = np.prod(np.linalg.norm(A._data, axis=-1), axis=-1)
    if np.all(np.abs(y._data) > 1e-4 * bound):
        return y.unsqueeze(-1).unsqueeze(-1) * inv(A).mT
    return _adjugate_t(A)


class Det(Op):
    @staticmethod
    def forward(ctx, A):
        y = np.linalg.det(A._data)
        ctx.save_for_backward(A, y)
        return y

    @staticmethod
    def backward(ctx, g):
        A, y = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * _ddet(A, y)

    @staticmethod
    def jvp(ctx, t):
        A, y = ctx.saved_tensors
        return (t * _ddet(A, y)).sum((-2, -1))


class SlogDet(Op):
    """(sign, log|det|); the sign's gradient is zero."""

    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        sign, logabs = np.linalg.slogdet(A._data)
        return sign, logabs

    @staticmethod
    def backward(ctx, g_sign, g):
        (A,) = ctx.saved_tensors
        return g.unsqueeze(-1).unsqueeze(-1) * inv(A).mT

    @staticmethod
    def jvp(ctx, t):
        (A,) = ctx.saved_tensors
        logabs = (t * inv(A).mT).sum((-2, -1))
        return logabs * 0.0, logabs


def det(A):
    _float_matrix("linalg.det", A)
    no_half("lu_cpu", A, True)
    return Det.apply(A)


def slogdet(A):
    _float_matrix("linalg.slogdet", A)
    no_half("linalg.slogdet", A)
    return _slogdet_t(*SlogDet.apply(A))


def logdet(A):
    no_half("logdet", A)
    sd = slogdet(A)
    nan = make(np.where(sd.sign._data < 0, np.nan, 0.0).astype(A._data.dtype))
    return sd.logabsdet + nan


# --------------------------------------------------------------------------- solve
class Solve(Op):
    """X = A^{-1} B for B of shape (..., n, k)."""

    @staticmethod
    def forward(ctx, A, B):
        try:
            X = np.linalg.solve(A._data, B._data)
        except np.linalg.LinAlgError:
            raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        gB = Solve.apply(A.mT, g)
        gA = -matmul(gB, X.mT) if ctx.needs_input_grad[0] else None
        return gA, gB

    @staticmethod
    def jvp(ctx, tA, tB):
        A, X = ctx.saved_tensors
        rhs = tB if tA is None else (-matmul(tA, X) if tB is None else tB - matmul(tA, X))
        return Solve.apply(A, rhs)


def solve(A, B, *, left=True):
    _float_matrix("linalg.solve", A)
    _check_dtypes("linalg.solve", A, B)
    if not left:
        return solve(A.mT, B.mT).mT
    n = A._data.shape[-1]
    vector = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and B._data.shape == A._data.shape[:-1])
    b = B.unsqueeze(-1) if vector else B
    if b._data.shape[-2] != n:
        raise RuntimeError("linalg.solve: Incompatible shapes of A and B for the equation AX = B (%dx%d and %dx%d)"
                           % (n, n, b._data.shape[-2], b._data.shape[-1]))
    no_half("lu_cpu", A, True)
    X = Solve.apply(A, b)
    return X.squeeze(-1) if vector else X


# --------------------------------------------------------------------------- cholesky
def _phi(X):
    """The lower triangle of X with its diagonal halved."""
    return tril(X) - 0.5 * diag_embed(diagonal(X, 0, -2, -1))


# same try/LinAlgError shape as linalg.Inverse: torch's messages differ per factorization
class Cholesky(Op):
    @staticmethod
    def forward(ctx, A):
        try:
            L = np.linalg.cholesky(A._data)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because the input is not "
                               "positive-definite (the leading minor of order %d is not positive-definite)."
                               % _bad_minor(A._data)) from None
        ctx.save_for_backward(L)
        return L

    @staticmethod
    def backward(ctx, g):
        (L,) = ctx.saved_tensors
        Linv = inv(L)
        s = matmul(matmul(Linv.mT, _phi(matmul(L.mT, g))), Linv)
        return (s + s.mT) * 0.5

    @staticmethod
    def jvp(ctx, t):
        (L,) = ctx.saved_tensors
        Linv = inv(L)
        return matmul(L, _phi(matmul(matmul(Linv, t), Linv.mT)))


def _bad_minor(a):
    a = a.reshape((-1,) + a.shape[-2:])
    for m in a:
        for k in range(1, m.shape[0] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                return k
    return a.shape[-1]


def cholesky(A, *, upper=False):
    _float_matrix("linalg.cholesky", A)
    no_half("cholesky_cpu", A, True)
    L = Cholesky.apply(A)
    return L.mT if upper else L


def cholesky_legacy(A, upper=False):
    return cholesky(A, upper=upper)


# --------------------------------------------------------------------------- qr
# same factorization Op shape as linalg_lu.LU: the maths differ
class QR(Op):
    """A = QR. The derivatives are PyTorch's: for nrows >= ncols in mode 'reduced', and for
    nrows < ncols (where 'complete' is 'reduced'): with A = [X | Y], X square, X = Q R1 is a square
    QR and R2 = Q^T Y. Mode 'r' (no Q) and 'complete' with nrows > ncols raise PyTorch's errors."""

    @staticmethod
    def forward(ctx, A, mode):
        Q, R = np.linalg.qr(A._data, mode="reduced" if mode == "r" else mode)
        ctx.save_for_backward(Q, R)
        ctx.mode = mode
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        m, n = Q._data.shape[-2], R._data.shape[-1]
        _qr_check_differentiable(ctx.mode, m, n)
        if m >= n:
            return _qr_backward(Q, R, gQ, gR), None
        R2, gR2 = R[..., m:], gR[..., m:]
        gX = _qr_backward(Q, R[..., :m], gQ + matmul(matmul(Q, R2), gR2.mT), gR[..., :m])
        return cat([gX, matmul(Q, gR2)], -1), None

    @staticmethod
    def jvp(ctx, tA, mode):
        Q, R = ctx.saved_tensors
        m, n = Q._data.shape[-2], R._data.shape[-1]
        _qr_check_differentiable(mode, m, n)
        if m >= n:
            return _qr_jvp(Q, R, tA)
        R2 = R[..., m:]
        dQ, dR1 = _qr_jvp(Q, R[..., :m], tA[..., :m])
        dR2 = matmul(dQ.mT, matmul(Q, R2)) + matmul(Q.mT, tA[..., m:])
        return dQ, cat([dR1, dR2], -1)


def _qr_check_differentiable(mode, m, n):
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                           "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")


def _qr_backward(Q, R, gQ, gR):
    """gA of A = QR with R square: [gQ + Q sym(M)] R^-T, M = gR R^T - Q^T gQ, sym(M) = triu(M) + triu(M, 1)^T."""
    M = matmul(gR, R.mT) - matmul(Q.mT, gQ)
    sym = triu(M) + triu(M, 1).mT
    gA = matmul(Q, sym) + gQ
    return solve(R, gA.mT).mT


def _qr_jvp(Q, R, tA):
    """(dQ, dR) of A = QR with R square: X = Q^T dA R^-1, C the skew matrix from X's strict lower
    triangle; dR = (X - C) R, dQ = dA R^-1 - Q (X - C)."""
    dAR = solve(R.mT, tA.mT).mT
    X = matmul(Q.mT, dAR)
    low = tril(X, -1)
    XC = X - (low - low.mT)
    return dAR - matmul(Q, XC), matmul(XC, R)


def qr(A, mode="reduced"):
    _float_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError("qr received unrecognized mode '%s' but expected one of 'reduced' (default), 'r', or "
                           "'complete'" % mode)
    no_half("geqrf_cpu", A, True)
    Q, R = QR.apply(A, mode)
    return _qr_t(Q.reshape(-1)[:0] if mode == "r" else Q, R)  # mode 'r': an empty Q, like PyTorch


# --------------------------------------------------------------------------- eigh / svd
def _eig_gap(L):
    """E[..., i, j] = L_j - L_i off the diagonal, 1 on it."""
    E = L.unsqueeze(-2) - L.unsqueeze(-1)
    n = L._data.shape[-1]
    return where(make(np.eye(n, dtype=bool)), make(np.ones((), L._data.dtype)), E)


class Eigh(Op):
    @staticmethod
    def forward(ctx, A, uplo):
        L, V = np.linalg.eigh(A._data, UPLO=uplo)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        n = L._data.shape[-1]
        off = make(~np.eye(n, dtype=bool))
        VgV = matmul(V.mT, gV)
        inner = where(off, (VgV - VgV.mT) * 0.5 / _eig_gap(L), make(np.zeros((), L._data.dtype)))
        inner = inner + diag_embed(gL)
        return matmul(matmul(V, inner), V.mT), None

    @staticmethod
    def jvp(ctx, tA, uplo):
        L, V = ctx.saved_tensors
        n = L._data.shape[-1]
        off = make(~np.eye(n, dtype=bool))
        VtV = matmul(matmul(V.mT, tA), V)
        dL = diagonal(VtV, 0, -2, -1)
        F = where(off, VtV / _eig_gap(L), make(np.zeros((), L._data.dtype)))
        return dL, matmul(V, F)


def eigh(A, UPLO="L"):
    _float_matrix("linalg.eigh", A)
    no_half("linalg_eigh_cpu", A, True)
    return _eigh_t(*Eigh.apply(A, UPLO))


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


class SvdVals(Op):
    """Singular values; dS = diag(U^T dA V). U and V are constants for a first-order derivative
    and differentiable functions of A when that derivative is differentiated again."""

    @staticmethod
    def forward(ctx, A):
        u, s, vh = np.linalg.svd(A._data, full_matrices=False)
        ctx.save_for_backward(A, u, vh)
        return s

    @staticmethod
    def _vectors(A, u, vh):
        """(U, Vh): the saved constants, or, when A's derivative is itself being recorded (create_graph,
        or a tangent on A in forward-over-reverse), U and Vh from the eigh of A^T A (or A A^T), which is
        differentiable: singular vectors have the same signs in both factors, so U diag(g) Vh is unique."""
        from fastgrad._backend import engine
        from fastgrad._ops.elementwise import sqrt
        from fastgrad._ops.indexing import flip

        if not ((engine.is_grad_enabled() and A._requires_grad)
                or (engine.state().fw_level > 0 and A._fw_grad is not None)):
            return u, vh
        m, n = A._data.shape[-2:]
        if m >= n:
            L, V = Eigh.apply(matmul(A.mT, A), "L")
            V, s = flip(V, -1), sqrt(flip(L, -1))
            return matmul(A, V) / s.unsqueeze(-2), V.mT
        L, Uq = Eigh.apply(matmul(A, A.mT), "L")
        Uq, s = flip(Uq, -1), sqrt(flip(L, -1))
        return Uq, matmul(Uq.mT, A) / s.unsqueeze(-1)

    @staticmethod
    def backward(ctx, g):
        A, u, vh = ctx.saved_tensors
        u, vh = SvdVals._vectors(A, u, vh)
        return matmul(u * g.unsqueeze(-2), vh)

    @staticmethod
    def jvp(ctx, t):
        A, u, vh = ctx.saved_tensors
        u, vh = SvdVals._vectors(A, u, vh)
        return diagonal(matmul(matmul(u.mT, t), vh.mT), 0, -2, -1)


class Svd(Op):
    """A = U diag(S) Vh. The derivatives are PyTorch's (svd_backward, linalg_svd_jvp) on the first
    k = min(m, n) columns of U and rows of Vh: with full_matrices the gradients of the others are
    ignored (their tangents are zero). Through U or Vh they need distinct singular values (nonzero
    ones when A is not square); a loss of S alone gets U diag(gS) Vh."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        u, s, vh = np.linalg.svd(A._data, full_matrices=full_matrices)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def _reduced(ctx):
        U, S, Vh = ctx.saved_tensors
        k = S._data.shape[-1]
        return (U if U._data.shape[-1] == k else U[..., :k]), S, (Vh if Vh._data.shape[-2] == k else Vh[..., :k, :])

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = Svd._reduced(ctx)
        m, k, n = U._data.shape[-2], S._data.shape[-1], Vh._data.shape[-1]
        if gU is None and gVh is None:
            return matmul(U * gS.unsqueeze(-2), Vh), None
        # inner = (skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS), E[j, k] = S_k^2 - S_j^2
        E = _eig_gap(S * S)
        inner = diag_embed(gS) if gS is not None else None
        if gU is not None:
            gU = gU[..., :k]
            UgU = matmul(U.mT, gU)
            term = (UgU - UgU.mT) * (S.unsqueeze(-2) / E)
            inner = term if inner is None else inner + term
        if gVh is not None:
            gVh = gVh[..., :k, :]
            VgV = matmul(Vh, gVh.mT)
            term = S.unsqueeze(-1) * ((VgV - VgV.mT) / E)
            inner = term if inner is None else inner + term
        gA = matmul(matmul(U, inner), Vh)
        if m > k and gU is not None:  # + (I - U U^T) gU S^-1 Vh
            gUS = gU / S.unsqueeze(-2)
            gA = gA + matmul(gUS - matmul(U, matmul(U.mT, gUS)), Vh)
        if n > k and gVh is not None:  # + U S^-1 gVh (I - V Vh)
            SgVh = gVh / S.unsqueeze(-1)
            gA = gA + matmul(U, SgVh - matmul(matmul(SgVh, Vh.mT), Vh))
        return gA, None

    @staticmethod
    def jvp(ctx, tA, full_matrices):
        # dP = U^T dA V: dS = diag(dP); U^T dU = (dX S + S dX^T) / E, V^T dV = (S dX + dX^T S) / E,
        # dX = dP off the diagonal; plus the parts outside span(U) / span(V) when A is not square
        U, S, Vh = Svd._reduced(ctx)
        m, k, n = U._data.shape[-2], S._data.shape[-1], Vh._data.shape[-1]
        E = _eig_gap(S * S)
        dP = matmul(matmul(U.mT, tA), Vh.mT)
        dS = diagonal(dP, 0, -2, -1)
        dX = dP - diag_embed(dS)
        dU = matmul(U, (dX * S.unsqueeze(-2) + S.unsqueeze(-1) * dX.mT) / E)
        dV = matmul(Vh.mT, (S.unsqueeze(-1) * dX + dX.mT * S.unsqueeze(-2)) / E)
        if m > k:
            AV = matmul(tA, Vh.mT)
            dU = dU + (AV - matmul(U, matmul(U.mT, AV))) / S.unsqueeze(-2)
        if n > k:
            AU = matmul(tA.mT, U)
            dV = dV + (AU - matmul(Vh.mT, matmul(Vh, AU))) / S.unsqueeze(-2)
        dVh = dV.mT
        if full_matrices and m != n:  # the extra columns of U / rows of Vh: zero tangents
            if m > k:
                dU = cat([dU, make(np.zeros(dU._data.shape[:-1] + (m - k,), dU._data.dtype))], -1)
            else:
                dVh = cat([dVh, make(np.zeros(dVh._data.shape[:-2] + (n - k, n), dVh._data.dtype))], -2)
        return dU, dS, dVh


def svd(A, full_matrices=True, *, driver=None):
    _float_matrix("linalg.svd", A, square=False)
    no_half("linalg_svd_cpu", A, True)
    return _svd_t(*Svd.apply(A, full_matrices))


def svd_legacy(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V = Vh^T (reduced unless some=False); without compute_uv, U and V
    are zero (m, m) and (n, n) matrices."""
    if not compute_uv:
        m, n = input._data.shape[-2:]
        zeros = [make(np.zeros(input._data.shape[:-2] + (k, k), input._data.dtype)) for k in (m, n)]
        return _svd_legacy_t(zeros[0], svdvals(input), zeros[1])
    u, s, vh = svd(input, full_matrices=not some)
    return _svd_legacy_t(u, s, vh.mT)


def svdvals(A, *, driver=None):
    _float_matrix("linalg.svdvals", A, square=False)
    no_half("linalg_svd_cpu", A, True)
    return SvdVals.apply(A)


# --------------------------------------------------------------------------- norms
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    if dtype is not None:
        A = A.to(dtype)
    if A._data.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    nd = A._data.ndim
    d0, d1 = (norm_dim(d, nd) for d in dim)
    if d0 == d1:
        raise RuntimeError("linalg.matrix_norm: dims must be different. Got (%d, %d)" % (d0, d1))
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if A._data.size == 0 and ord in (2, -2, 1, -1, float("inf"), float("-inf")):
        empty = _empty_matrix_norm(A, ord, d0, d1, keepdim)
        if empty is not None:
            return empty
    if ord in ("nuc", 2, -2):
        no_half("linalg.matrix_norm", A)
        s = SvdVals.apply(movedim(A, (d0, d1), (-2, -1)))
        res = s.sum(-1) if ord == "nuc" else AMax.apply(s, (s._data.ndim - 1,), False, ord == 2)
        if keepdim:
            for d in sorted((d0, d1)):
                res = res.unsqueeze(d)
        return res
    if ord in (1, -1, float("inf"), float("-inf")):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = sum(abs(A), inner, True)
        res = AMax.apply(s, (outer,), True, ord > 0)
        return res if keepdim else res.squeeze((d0, d1))
    raise RuntimeError("linalg.matrix_norm: Order %s not supported." % (ord,))


def _empty_matrix_norm(A, ord, d0, d1, keepdim):  # noqa: A002
    """torch's results for an empty matrix where its max / min over an empty dim cannot be taken:
    the max-like norms give zeros off the graph, the min-like ones amin's IndexError; None where
    the general path gives torch's result (the dim taken the max or min of is not empty)."""
    shape = A._data.shape
    if ord in (2, -2):
        if min(shape[d0], shape[d1]):
            return None
        outer, where_ = None, -1
    else:
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)
        if shape[outer]:
            return None
        where_ = outer if outer < inner else outer - 1  # its position once the inner dim is summed away
    if ord < 0:
        raise IndexError("amin(): Expected reduction dim %d to have non-zero size." % where_)
    out = [1 if i in (d0, d1) else s for i, s in enumerate(shape) if keepdim or i not in (d0, d1)]
    return make(np.zeros(out, A._data.dtype))


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A._data.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if dim is None and ord is not None and A._data.ndim != 1:
        raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got %dD."
                           % A._data.ndim)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """torch.norm (composes the vector and matrix norms, so it lives here): 'fro' / a number p is a vector norm over dim; 'nuc' a matrix norm."""
    if p is None:
        p = "fro"
    if isinstance(dim, int):
        dim = (dim,)
    if p == "nuc":
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if p == "fro":
        if dim is not None and len(dim) > 2:
            raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got %s" % " ".join(str(d) for d in dim))
        p = 2
    elif isinstance(p, str):
        raise RuntimeError("norm(): invalid norm type %r" % p)
    return vector_norm(input, p, dim, keepdim, dtype=dtype)

