"""More of torch.linalg: matrix_exp, eig / eigvals, cond, vander, tensorinv, tensorsolve,
cholesky_solve, cholesky_inverse (torch.*), with torch's names, errors and derivatives.

matrix_exp is SciPy's expm (Pade with scaling and squaring); its derivatives are PyTorch's
block-matrix trick, exp([[A^H, G], [0, A^H]]) = [[., gA], [., .]], itself differentiable.
eig is LAPACK's geev through NumPy: complex outputs (fastgrad has no complex autograd ops, so
its derivatives are computed on arrays, first order only). The rest compose other ops."""
import collections
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import Op, make, scalar_type_name
from fastgrad._ops.indexing import cat
from fastgrad._ops.linalg import inv, matmul
from fastgrad._ops.linalg_lu import _at_least_2d, _kind_error, mH, solve_triangular, square_batches, write_out

_eig_t = collections.namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


def _float_input(name, A):
    if _dtype.kind(A._data.dtype) not in "fc":
        raise RuntimeError("%s: Expected a floating point or complex tensor as input. Got %s"
                           % (name, scalar_type_name(A._data.dtype)))


# --------------------------------------------------------------------------- matrix_exp
def _expm(a):
    if a.size == 0:
        return np.array(a, copy=True)
    from scipy.linalg import expm

    return np.asarray(expm(a), a.dtype)


def _block(A, G):
    """[[A, G], [0, A]] (..., 2n, 2n)."""
    z = make(np.zeros(A._data.shape, A._data.dtype))
    return cat([cat([A, G], -1), cat([z, A], -1)], -2)


class MatrixExp(Op):
    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        return _expm(A._data)

    @staticmethod
    def backward(ctx, g):
        (A,) = ctx.saved_tensors
        n = A._data.shape[-1]
        return MatrixExp.apply(_block(mH(A), g))[..., :n, n:]

    @staticmethod
    def jvp(ctx, t):
        (A,) = ctx.saved_tensors
        n = A._data.shape[-1]
        return MatrixExp.apply(_block(A, t))[..., :n, n:]


def matrix_exp(A):
    d = A._data
    if d.ndim < 2 or d.shape[-1] != d.shape[-2]:
        raise RuntimeError("linalg.matrix_exp: A must be batches of square matrices, but they are %s matrices"
                           % ("x".join(map(str, d.shape[-2:])) if d.ndim >= 2 else "1-D"))
    if _dtype.kind(d.dtype) not in "fc" or _dtype.is_half(d.dtype):
        raise NotImplementedError('"linalg_matrix_exp" not implemented for \'%s\'' % scalar_type_name(d.dtype))
    return MatrixExp.apply(A)


# --------------------------------------------------------------------------- eig
def _cdtype(dt):
    return np.complex64 if dt in (np.float32, np.complex64) else np.complex128


class Eig(Op):
    """A V = V diag(L), V's columns of norm 1 (LAPACK's geev). Derivatives: PyTorch's
    linalg_eig_backward / linalg_eig_jvp, on arrays."""

    @staticmethod
    def forward(ctx, A, vectors):
        ctx.set_materialize_grads(False)
        a = A._data
        cdt = _cdtype(a.dtype)
        if a.size == 0:
            L, V = np.zeros(a.shape[:-1], cdt), np.zeros(a.shape, cdt)
        else:
            L, V = np.linalg.eig(a)
            L, V = L.astype(cdt), V.astype(cdt)
        ctx.real_input = _dtype.kind(a.dtype) == "f"
        ctx.dt = a.dtype
        ctx.L, ctx.V = L, V
        return (L, V) if vectors else L

    @staticmethod
    def backward(ctx, gL, gV=None):
        L, V = ctx.L, ctx.V
        gL = None if gL is None else np.asarray(gL._data)
        gV = None if gV is None else np.asarray(gV._data)
        Vh = np.conj(np.swapaxes(V, -1, -2))
        if gV is None:
            inner = _diag_embed(gL) if gL is not None else np.zeros(V.shape, V.dtype)
        else:
            VhgV = Vh @ gV
            diag = np.diagonal(VhgV, 0, -2, -1)
            if np.any(np.abs(diag.imag) > np.sqrt(np.finfo(ctx.dt).eps) * 1e2 * np.maximum(1, np.abs(diag))):
                raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                                   "multiplication by e^{i phi}. The specified loss function depends on this "
                                   "quantity, so it is ill-defined.")
            inner = VhgV - Vh @ (V * diag.real[..., None, :])
            Lc = np.conj(L)
            E = Lc[..., None, :] - Lc[..., :, None]
            n = L.shape[-1]
            E[..., np.arange(n), np.arange(n)] = 1
            inner = inner / E
            inner[..., np.arange(n), np.arange(n)] = gL if gL is not None else 0
        gA = np.linalg.solve(Vh, inner @ Vh) if V.size else np.zeros(V.shape, V.dtype)
        if ctx.real_input:
            gA = gA.real
        return make(np.ascontiguousarray(gA).astype(ctx.dt)), None

    @staticmethod
    def jvp(ctx, tA, vectors):
        L, V = ctx.L, ctx.V
        n = L.shape[-1]
        if V.size == 0:
            return (make(np.zeros(L.shape, L.dtype)), make(np.zeros(V.shape, V.dtype))) if vectors else make(L * 0)
        dP = np.linalg.solve(V, tA._data @ V)
        dL = np.ascontiguousarray(np.diagonal(dP, 0, -2, -1))
        if not vectors:
            return make(dL)
        E = L[..., None, :] - L[..., :, None]
        E[..., np.arange(n), np.arange(n)] = 1
        C = dP / E
        C[..., np.arange(n), np.arange(n)] = 0
        dV = V @ C
        Vh = np.conj(np.swapaxes(V, -1, -2))
        dV = dV - V * np.diagonal(Vh @ dV, 0, -2, -1).real[..., None, :]
        return make(dL), make(np.ascontiguousarray(dV))


def _diag_embed(x):
    n = x.shape[-1]
    out = np.zeros(x.shape + (n,), x.dtype)
    out[..., np.arange(n), np.arange(n)] = x
    return out


def _eig_checks(name, A):
    square_batches(name, A)
    d = A._data
    if _dtype.kind(d.dtype) not in "fc" or _dtype.is_half(d.dtype):
        raise RuntimeError("%s: Expected a floating point or complex tensor as input. Got %s"
                           % (name, scalar_type_name(d.dtype)))
    if not np.all(np.isfinite(d)):
        raise RuntimeError("%s: input tensor should not contain infs or NaNs." % name)


def eig(A, *, out=None):
    _eig_checks("linalg.eig", A)
    return write_out(out, _eig_t(*Eig.apply(A, True)))


def eigvals(A, *, out=None):
    _eig_checks("linalg.eigvals", A)
    return write_out(out, Eig.apply(A, False))


# --------------------------------------------------------------------------- cond
def cond(A, p=None, *, out=None):
    from fastgrad._ops.linalg_ext import matrix_norm, svdvals

    _float_input("linalg.cond", A)
    _at_least_2d("linalg.cond", "A", A._data)
    if p is None or p in (2, -2):
        if A._data.size == 0:
            return write_out(out, make(np.zeros(A._data.shape[:-2], A._data.real.dtype)))
        s = svdvals(A)
        res = s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
        return write_out(out, res)
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError("linalg.cond got an invalid norm type: %s" % (p,))
    d = A._data
    if d.shape[-1] != d.shape[-2]:
        raise RuntimeError("linalg.cond(ord=%s): A must be batches of square matrices, but they are %d by %d "
                           "matrices" % (p, d.shape[-2], d.shape[-1]))
    if d.size == 0:
        return write_out(out, make(np.zeros(d.shape[:-2], d.real.dtype)))
    singular = np.linalg.matrix_rank(d) < d.shape[-1] if d.ndim == 2 else np.array(
        [np.linalg.matrix_rank(m) < d.shape[-1] for m in d.reshape((-1,) + d.shape[-2:])]).reshape(d.shape[:-2])
    if np.any(singular):  # torch: inf where the inverse does not exist
        safe = np.where(singular[..., None, None], np.eye(d.shape[-1], dtype=d.dtype), d)
        res = matrix_norm(A, p) * matrix_norm(inv(make(safe)), p)
        return write_out(out, res + make(np.where(singular, np.inf, 0).astype(res._data.dtype)))
    return write_out(out, matrix_norm(A, p) * matrix_norm(inv(A), p))


# --------------------------------------------------------------------------- vander, tensorinv, tensorsolve
def vander(x, N=None):
    """Columns x^0, x^1, ..., x^(N-1) (a 0-d x is a vector of one element), by a cumulative product as torch."""
    from fastgrad._ops.reduction_ext import cumprod

    d = x._data
    if d.dtype == np.bool_:
        raise RuntimeError("linalg.vander supports floating point, complex, and integer tensors, but got Bool")
    if d.ndim == 0:
        x = x.reshape(1)
    n = x._data.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    ones = make(np.ones(x._data.shape + (1,), x._data.dtype))
    rest = x.unsqueeze(-1).expand(*(x._data.shape + (n - 1,)))
    return cat([ones, cumprod(rest, -1)], -1)


def tensorinv(A, ind=2, *, out=None):
    if ind <= 0:
        raise RuntimeError("Expected a strictly positive integer for 'ind', but got %d" % ind)
    shape = A._data.shape
    rows, cols = shape[:ind], shape[ind:]
    r, c = int(np.prod(rows)), int(np.prod(cols))
    if r != c:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == prod(self.shape[:ind]),"
                           " but got %d != %d" % (c, r))
    return write_out(out, inv(A.reshape(r, c)).reshape(*(cols + rows)))


def tensorsolve(A, B, dims=None, *, out=None):
    from fastgrad._ops.indexing import movedim
    from fastgrad._ops.linalg_ext import solve

    if dims is not None:
        nd = A._data.ndim
        dims = [d % nd for d in dims]
        A = movedim(A, dims, list(range(nd - len(dims), nd)))
    res_shape = A._data.shape[B._data.ndim:]
    r, c = int(np.prod(B._data.shape)), int(np.prod(res_shape))
    if int(np.prod(A._data.shape[:B._data.ndim])) != r or r != c:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           "prod(self.shape[:other.ndim]), but got %d != %d" % (c, int(np.prod(A._data.shape[
                               :B._data.ndim]))))
    return write_out(out, solve(A.reshape(r, c), B.reshape(r)).reshape(*res_shape))


# --------------------------------------------------------------------------- cholesky_solve / inverse
def _chol_solve_arrays(b, L, upper):
    from fastgrad._ops.linalg_lu import _trsm

    Lh = np.conj(np.swapaxes(L, -1, -2))
    if upper:
        return _trsm(L, _trsm(Lh, b, False, True, False), True, True, False)
    return _trsm(Lh, _trsm(L, b, False, True, False), True, True, False)


def _gram(L, upper):
    """A = L L^H (U^H U when upper), as a product of the full matrices (torch differentiates it so)."""
    return matmul(mH(L), L) if upper else matmul(L, mH(L))


def _dgram(L, dL, upper):
    return matmul(mH(dL), L) + matmul(mH(L), dL) if upper else matmul(dL, mH(L)) + matmul(L, mH(dL))


# same Op shape as CholeskyInverse below (L and the result saved): the maths differ
class CholeskySolve(Op):
    """X = A^{-1} B with A = L L^H from L's triangle; derivatives are PyTorch's (of the product of the
    full matrices: the gradient of L is not restricted to its triangle)."""

    @staticmethod
    def forward(ctx, B, L, upper):
        X = _chol_solve_arrays(B._data, L._data, upper)
        ctx.save_for_backward(L, X)
        ctx.upper = upper
        return X

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        gB = CholeskySolve.apply(g, L, ctx.upper)
        gL = None
        if ctx.needs_input_grad[1]:
            common = matmul(gB, mH(X))
            common = common + mH(common)
            gL = -matmul(L, common) if ctx.upper else -matmul(common, L)
        return gB, gL, None

    @staticmethod
    def jvp(ctx, tB, tL, upper):
        L, X = ctx.saved_tensors
        rhs = tB
        if tL is not None:
            t = matmul(_dgram(L, tL, upper), X)
            rhs = -t if rhs is None else rhs - t
        return CholeskySolve.apply(rhs, L, upper)


# same Op shape as CholeskySolve above: the maths differ
class CholeskyInverse(Op):
    @staticmethod
    def forward(ctx, L, upper):
        d = L._data
        R = _chol_solve_arrays(np.broadcast_to(np.eye(d.shape[-1], dtype=d.dtype), d.shape), d, upper)
        ctx.save_for_backward(L, R)
        ctx.upper = upper
        return R

    @staticmethod
    def backward(ctx, g):
        L, R = ctx.saved_tensors
        common = matmul(R, matmul(g + mH(g), R))
        return (-matmul(L, common) if ctx.upper else -matmul(common, L)), None

    @staticmethod
    def jvp(ctx, tL, upper):
        L, R = ctx.saved_tensors
        return -matmul(R, matmul(_dgram(L, tL, upper), R))


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with A X = B, A = L L^H (or U^H U): two triangular solves."""
    if B._data.ndim < 2 or L._data.ndim < 2:
        raise RuntimeError("b should have at least 2 dimensions, but has %d dimensions instead" % B._data.ndim
                           if B._data.ndim < 2 else "u should have at least 2 dimensions, but has %d dimensions "
                           "instead" % L._data.ndim)
    if B._data.dtype != L._data.dtype:
        raise RuntimeError("Expected b and A to have the same dtype, but found b of type %s and A of type %s instead."
                           % (scalar_type_name(B._data.dtype), scalar_type_name(L._data.dtype)))
    if L._data.shape[-1] != L._data.shape[-2]:
        raise RuntimeError("A must be batches of square matrices, but they are %d by %d matrices"
                           % L._data.shape[-2:])
    if B._data.shape[-2] != L._data.shape[-1]:
        raise RuntimeError("Incompatible matrix sizes for cholesky_solve: each A matrix is %d by %d but each b matrix "
                           "is %d by %d" % (L._data.shape[-1], L._data.shape[-1], B._data.shape[-2], B._data.shape[-1]))
    _kind_error("cholesky_solve_cpu", L._data)
    return write_out(out, CholeskySolve.apply(B, L, bool(upper)))


def cholesky_inverse(L, upper=False, *, out=None):
    """(L L^H)^{-1} (upper: (U^H U)^{-1})."""
    d = L._data
    if d.ndim < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 dimensions.")
    if d.shape[-1] != d.shape[-2]:
        raise RuntimeError("cholesky_inverse: A must be batches of square matrices, but they are %d by %d matrices"
                           % (d.shape[-2], d.shape[-1]))
    _kind_error("cholesky_inverse_out_cpu", d)
    return write_out(out, CholeskyInverse.apply(L, bool(upper)))


# --------------------------------------------------------------------------- Householder: geqrf, householder_product, ormqr
_geqrf_t = collections.namedtuple("geqrf", ["a", "tau"])
_qr_t = collections.namedtuple("qr", ["Q", "R"])


def geqrf(input, *, out=None):
    """LAPACK's geqrf: R on and above the diagonal, the Householder vectors below it, and tau.
    No derivative (as in torch)."""
    from fastgrad._ops.linalg_lu import _lapack, _not_differentiable

    d = input._data
    if d.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    _kind_error("geqrf_cpu", d)
    m, n = d.shape[-2:]
    a = np.array(d, copy=True)
    tau = np.zeros(d.shape[:-2] + (min(m, n),), d.dtype)
    if d.size:
        f = _lapack("geqrf", a)
        for i in np.ndindex(*d.shape[:-2]):
            r = f(a[i])
            a[i], tau[i] = r[0], r[1]
    from fastgrad._backend import engine

    msg = (NotImplementedError, "the derivative for 'geqrf' is not implemented.") if (
        engine.is_grad_enabled() and input._requires_grad) else None
    return write_out(out, _geqrf_t(_not_differentiable(a, msg, input), _not_differentiable(tau, msg, input)))


def _reflector(A, i):
    """v_i = (0, ..., 0, 1, A[i+1:, i]) of the Householder vectors stored below A's diagonal (differentiable)."""
    from fastgrad._ops.elementwise import where

    m = A._data.shape[-2]
    rows = np.arange(m)
    col = A[..., :, i]
    v = where(make(rows > i), col, make(np.zeros((), A._data.dtype)))
    return v + make((rows == i).astype(A._data.dtype))


def _apply_reflectors(A, tau, C, left, transpose):
    """Q C, Q^H C, C Q or C Q^H with Q = H_0 ... H_{k-1}, H_i = I - tau_i v_i v_i^H (real: Q^H = Q^T)."""
    k = tau._data.shape[-1]
    order = range(k) if left == transpose else reversed(range(k))
    for i in order:
        v = _reflector(A, i)
        t = tau[..., i].unsqueeze(-1).unsqueeze(-1)
        if left:  # C - tau v (v^T C)
            C = C - t * matmul(v.unsqueeze(-1), matmul(v.unsqueeze(-2), C))
        else:  # C - tau (C v) v^T
            C = C - t * matmul(matmul(C, v.unsqueeze(-1)), v.unsqueeze(-2))
    return C


def _householder_lapack(a, tau, m, n):
    from fastgrad._ops.linalg_lu import _lapack

    out = np.zeros(a.shape, a.dtype)
    f = _lapack("ungqr" if _dtype.kind(a.dtype) == "c" else "orgqr", a)
    for i in np.ndindex(*a.shape[:-2]):
        out[i] = f(a[i], tau[i])[0][:, :n]
    return out


def householder_product(A, tau, *, out=None):
    name = "torch.linalg.householder_product"
    d, t = A._data, tau._data
    if d.ndim < 2:
        raise RuntimeError("%s: input must have at least 2 dimensions." % name)
    if t.ndim != d.ndim - 1:
        raise RuntimeError("%s: Expected tau to have one dimension less than input, but got tau.ndim equal to %d and "
                           "input.ndim is equal to %d" % (name, t.ndim, d.ndim))
    m, n = d.shape[-2:]
    if m < n:
        raise RuntimeError("%s: input.shape[-2] must be greater than or equal to input.shape[-1]" % name)
    if n < t.shape[-1]:
        raise RuntimeError("%s: input.shape[-1] must be greater than or equal to tau.shape[-1]" % name)
    if d.shape[:-2] != t.shape[:-1]:
        raise RuntimeError("%s: Expected batch dimensions of tau to be equal to input.shape[:-2], but got %s"
                           % (name, list(t.shape[:-1])))
    if d.dtype != t.dtype:
        raise RuntimeError("%s: tau dtype %s does not match input dtype %s"
                           % (name, scalar_type_name(t.dtype), scalar_type_name(d.dtype)))
    _kind_error("orgqr_cpu", d)
    if _dtype.kind(d.dtype) == "c":  # no complex autograd in fastgrad: LAPACK's ungqr, no derivative
        return write_out(out, make(_householder_lapack(d, t, m, n)))
    eye = make(np.broadcast_to(np.eye(m, n, dtype=d.dtype), d.shape).copy())
    if t.shape[-1] == 0:  # Q = I, still an output of A and tau (zero gradients), as in torch
        eye = eye + (A * 0).sum((-2, -1), keepdim=True) + (tau * 0).sum(-1, keepdim=True).unsqueeze(-1)
    return write_out(out, _apply_reflectors(A, tau, eye, True, False))


orgqr = householder_product


def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    name = "torch.ormqr"
    d, t, c = input._data, tau._data, other._data
    if d.ndim < 2 or c.ndim < 2:
        raise RuntimeError("%s: input must have at least 2 dimensions." % name if d.ndim < 2 else
                           "%s: other must have at least 2 dimensions." % name)
    mn = c.shape[-2] if left else c.shape[-1]
    if mn != d.shape[-2]:
        raise RuntimeError("%s: other.shape[%d] must be equal to input.shape[-2]" % (name, -2 if left else -1))
    if t.shape[-1] > mn:
        raise RuntimeError("%s: tau.shape[-1] must be less than or equal to other.shape[%d]"
                           % (name, -2 if left else -1))
    if t.ndim != d.ndim - 1:
        raise RuntimeError("%s: Expected tau to have one dimension less than input, but got tau.ndim equal to %d and "
                           "input.ndim is equal to %d" % (name, t.ndim, d.ndim))
    _kind_error("ormqr_cpu", d)
    return write_out(out, _apply_reflectors(input, tau, other, left, transpose))


def qr_legacy(input, some=True, *, out=None):
    """torch.qr (deprecated): linalg.qr in mode 'reduced' (some=True) or 'complete'."""
    from fastgrad._ops.linalg_ext import qr

    Q, R = qr(input, "reduced" if some else "complete")
    return write_out(out, _qr_t(Q, R))


# --------------------------------------------------------------------------- randomized low-rank SVD / PCA
def _approximate_basis(A, q, niter, M):
    from fastgrad._creation import randn
    from fastgrad._ops.linalg_ext import qr

    R = randn(A._data.shape[-1], q, dtype=A.dtype)
    X = matmul(A, R)
    if M is not None:
        X = X - matmul(M, R)
    Q = qr(X).Q
    for _ in range(niter):
        X = matmul(mH(A), Q)
        if M is not None:
            X = X - matmul(mH(M), Q)
        Q = qr(X).Q
        X = matmul(A, Q)
        if M is not None:
            X = X - matmul(M, Q)
        Q = qr(X).Q
    return Q


def _svd_lowrank(A, q=6, niter=2, M=None):
    from fastgrad._ops.linalg_ext import svd

    q = 6 if q is None else q
    m, n = A._data.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A._data.shape)
    if m < n:
        A = mH(A)
        M = None if M is None else mH(M)
    Q = _approximate_basis(A, q, 2 if niter is None else niter, M)
    B = matmul(mH(Q), A)
    if M is not None:
        B = B - matmul(mH(Q), M)
    U, S, Vh = svd(B, full_matrices=False)
    V, U = mH(Vh), matmul(Q, U)
    return (V, S, U) if m < n else (U, S, V)


def svd_lowrank(A, q=6, niter=2, M=None):
    """torch.svd_lowrank: Halko et al.'s randomized SVD (torch._lowrank's algorithm; fastgrad's random stream)."""
    return _svd_lowrank(A, q, niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    m, n = A._data.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (0 <= q <= min(m, n)):
        raise ValueError("q(=%s) must be non-negative integer and not greater than min(m, n)=%d" % (q, min(m, n)))
    if not niter >= 0:
        raise ValueError("niter(=%s) must be non-negative integer" % niter)
    if not center:
        return _svd_lowrank(A, q, niter, None)
    return _svd_lowrank(A - A.mean(-2, keepdim=True), q, niter, None)


# --------------------------------------------------------------------------- pinv
def _tol_array(x, batch_nd, dt):
    """atol / rtol (None, a number or a tensor broadcast over the batch) as an array (..., 1)."""
    if x is None:
        return None
    a = np.asarray(x._data if hasattr(x, "_data") else x, dtype=dt)
    return a[..., None]


def _pinv_array(a, atol, rtol, hermitian):
    m, n = a.shape[-2:]
    rdt = a.real.dtype
    at, rt = _tol_array(atol, a.ndim - 2, rdt), _tol_array(rtol, a.ndim - 2, rdt)
    if rt is None:
        rt = np.asarray(np.finfo(rdt).eps * max(m, n) if (at is None or np.all(at <= 0)) else 0.0, rdt)
    at = np.zeros((), rdt) if at is None else at
    if a.size == 0:
        return np.zeros(a.shape[:-2] + (n, m), a.dtype)
    if hermitian:  # eigh reads the lower triangle
        L, V = np.linalg.eigh(a)
        absL = np.abs(L)
        tol = np.maximum(at, rt * absL.max(-1, keepdims=True))
        with np.errstate(divide="ignore"):
            Li = np.where(absL > tol, 1 / np.where(absL > tol, L, 1), 0).astype(a.dtype)
        return (V * Li[..., None, :]) @ np.conj(np.swapaxes(V, -1, -2))
    U, S, Vh = np.linalg.svd(a, full_matrices=False)
    tol = np.maximum(at, rt * S[..., :1])
    Si = np.where(S > tol, 1 / np.where(S > tol, S, 1), 0).astype(a.dtype)
    return (np.conj(np.swapaxes(Vh, -1, -2)) * Si[..., None, :]) @ np.conj(np.swapaxes(U, -1, -2))


class Pinv(Op):
    """The Moore-Penrose inverse X = A^+ (SVD, or eigh with hermitian). Derivatives: PyTorch's
    (pinv_backward / pinv_jvp, valid where the rank does not change), written with products."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        X = np.ascontiguousarray(_pinv_array(A._data, atol, rtol, hermitian))
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        Xh, gh = mH(X), mH(g)
        # -X^H g X^H + (I - A X) g^H X X^H + X^H X g^H (I - X A)
        t1 = -matmul(matmul(Xh, g), Xh)
        XXh = matmul(X, Xh)
        t2 = matmul(gh, XXh) - matmul(A, matmul(X, matmul(gh, XXh)))
        XhX = matmul(Xh, X)
        t3 = matmul(XhX, gh) - matmul(matmul(matmul(XhX, gh), X), A)
        return t1 + t2 + t3, None, None, None

    @staticmethod
    def jvp(ctx, tA, atol, rtol, hermitian):
        A, X = ctx.saved_tensors
        Xh, th = mH(X), mH(tA)
        # -X dA X + X X^H dA^H (I - A X) + (I - X A) dA^H X^H X
        t1 = -matmul(matmul(X, tA), X)
        XXh = matmul(X, Xh)
        t2 = matmul(XXh, th) - matmul(matmul(matmul(XXh, th), A), X)
        XhX = matmul(Xh, X)
        t3 = matmul(th, XhX) - matmul(X, matmul(A, matmul(th, XhX)))
        return t1 + t2 + t3


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    d = A._data
    if d.ndim < 2 or _dtype.kind(d.dtype) not in "fc" or _dtype.is_half(d.dtype):
        raise RuntimeError("linalg.pinv(%s{[%s]}): expected a tensor with 2 or more dimensions of float, double, "
                           "cfloat or cdouble types" % (scalar_type_name(d.dtype), ", ".join(map(str, d.shape))))
    if rcond is not None:  # the deprecated positional form: rtol = rcond, atol = 0
        rtol, atol = rcond, 0.0
    for name, t in (("atol", atol), ("rtol", rtol)):
        if hasattr(t, "_data") and t._requires_grad:
            raise RuntimeError("linalg.pinv: the derivative with respect to %s is not implemented" % name)
    return write_out(out, Pinv.apply(A, atol, rtol, bool(hermitian)))


def pinverse(input, rcond=1e-15):
    return pinv(input, rcond)


# --------------------------------------------------------------------------- matrix_rank, lstsq
_lstsq_t = collections.namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def _float_or_double(A):
    if _dtype.is_half(A._data.dtype):
        raise RuntimeError("This function doesn't handle types other than float and double")


def _rank_array(a, atol, rtol, hermitian):
    """torch's matrix rank: the singular values (|eigenvalues| with hermitian) above
    max(atol, rtol * the largest); rtol's default eps * max(m, n) when atol is absent or <= 0."""
    m, n = a.shape[-2:]
    rdt = a.real.dtype
    if a.size == 0:
        return np.zeros(a.shape[:-2], np.int64)
    S = np.abs(np.linalg.eigvalsh(a)) if hermitian else np.linalg.svd(a, compute_uv=False)
    at, rt = _tol_array(atol, 0, rdt), _tol_array(rtol, 0, rdt)
    if rt is None:
        rt = np.asarray(np.finfo(rdt).eps * max(m, n) if (at is None or np.all(at <= 0)) else 0.0, rdt)
    at = np.zeros((), rdt) if at is None else at
    tol = np.maximum(at, rt * S.max(-1, keepdims=True))
    return np.asarray((S > tol).sum(-1), np.int64)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    _float_or_double(A)
    d = A._data
    if d.ndim < 2 or _dtype.kind(d.dtype) not in "fc":
        raise RuntimeError("linalg.matrix_rank: Expected a floating point or complex tensor as input. Got %s"
                           % scalar_type_name(d.dtype) if d.ndim >= 2 else
                           "linalg.matrix_rank: The input tensor input must have at least 2 dimensions.")
    if tol is not None:  # the positional form: an absolute tolerance
        atol, rtol = tol, 0.0
    return write_out(out, make(_rank_array(d, atol, rtol, hermitian)))


def lstsq(A, B, rcond=None, *, driver=None):
    """Least squares X = pinv(A) B (the minimum-norm solution; torch's gradient is pinv's),
    with torch's residuals / rank / singular_values per driver."""
    name = "torch.linalg.lstsq"
    _float_or_double(A)
    if driver is not None and driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("%s: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)" % name)
    driver = driver or "gelsy"
    a, b = A._data, B._data
    if a.dtype != b.dtype:
        raise RuntimeError("%s: Expected input and other to have the same dtype, but got input's dtype %s and "
                           "other's dtype %s" % (name, scalar_type_name(a.dtype), scalar_type_name(b.dtype)))
    if a.ndim < 2:
        raise RuntimeError("%s: input must have at least 2 dimensions." % name)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    Bm = B.unsqueeze(-1) if vector else B
    m, n = a.shape[-2:]
    if Bm._data.shape[-2] != m:
        raise RuntimeError("%s: input.size(-2) should match other.size(-2)" % name)
    rdt = a.real.dtype
    rc = np.finfo(rdt).eps * max(m, n) if rcond is None or rcond < 0 else rcond
    X = matmul(Pinv.apply(A, None, rc, False), Bm)
    rank_arr = _rank_array(a, None, rc, False)
    empty = make(np.zeros((0,), rdt))
    rank = make(np.zeros((0,), np.int64)) if driver == "gels" else make(rank_arr)
    svals = empty
    if driver in ("gelsd", "gelss"):
        svals = make(np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(a.shape[:-2] + (min(m, n),), rdt))
    residuals = X.reshape(-1)[:0].abs()  # empty, but of the graph (torch's requires grad as A and B do)
    if driver != "gelsy" and m > n and np.all(rank_arr == n):
        r = matmul(A, X) - Bm  # ||A X - B||^2 per column (A^T r = 0: its derivatives are torch's)
        residuals = (r * r).sum(-2)
    return _lstsq_t(X.squeeze(-1) if vector else X, residuals, rank, svals)
