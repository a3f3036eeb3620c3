"""torch.linalg's solve_triangular, LU family, _ex variants, matrix_exp, eig, ldl and the rest:
outputs and gradients against PyTorch, float64 gradcheck (reverse and forward mode), gradgradcheck."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def _mat(*shape, well=True):
    a = rng.standard_normal(shape)
    if well and shape[-1] == shape[-2]:
        a = a + shape[-1] * np.eye(shape[-1])
    return a


def _tri(a, upper):
    return np.triu(a) if upper else np.tril(a)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [out]


def compare(fg_fn, th_fn, *arrays, grad=True, atol=1e-9, rtol=1e-7, dtype=np.float64):
    """fg_fn(fastgrad tensors) and th_fn(torch tensors): outputs, then gradients of the sum of the floating outputs."""
    fx = [fastgrad.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    tx = [torch.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    fo, to = _flat(fg_fn(*fx)), _flat(th_fn(*tx))
    assert len(fo) == len(to)
    for f, t in zip(fo, to):
        assert str(f.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), atol=atol, rtol=rtol)
    if not grad:
        return
    fs = [f for f in fo if f.dtype in (fastgrad.float32, fastgrad.float64) and f.requires_grad]
    ts = [t for t in to if t.dtype in (torch.float32, torch.float64) and t.requires_grad]
    if not ts:
        return
    sum(t.sum() for t in ts).backward()
    sum(f.sum() for f in fs).backward()
    for f, t in zip(fx, tx):
        if t.grad is None:
            assert f.grad is None or not np.any(f.grad.numpy())
            continue
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), atol=atol * 10, rtol=rtol * 10)


def check_derivatives(fn, *arrays, gradgrad=True):
    xs = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(fn, xs, check_forward_ad=True)
    if gradgrad:
        assert gradgradcheck(fn, xs)


# --------------------------------------------------------------------------- solve_triangular
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [True, False])
def test_solve_triangular(upper, left, unit):
    A = _tri(_mat(2, 4, 4), upper)
    B = rng.standard_normal((3, 1, 4, 2) if left else (3, 1, 2, 4))
    kw = dict(upper=upper, left=left, unitriangular=unit)
    compare(lambda a, b: fastgrad.linalg.solve_triangular(a, b, **kw),
            lambda a, b: torch.linalg.solve_triangular(a, b, **kw), A, B)
    check_derivatives(lambda a, b: fastgrad.linalg.solve_triangular(a, b, **kw), A[0], B[0, 0])


def test_solve_triangular_errors_and_promotion():
    A, B = _mat(3, 3), rng.standard_normal((3, 2))
    for f, t in [((3, 3), (4, 2)), ((3, 4), (3, 2)), ((3, 3), (3,))]:
        for lib in (fastgrad, torch):
            with pytest.raises(RuntimeError) as e:
                lib.linalg.solve_triangular(lib.ones(*f), lib.ones(*t), upper=True)
            if lib is torch:
                assert str(e.value) == msg
            msg = str(e.value)
    with pytest.raises(NotImplementedError, match="triangular_solve_cpu"):
        fastgrad.linalg.solve_triangular(fastgrad.ones(2, 2, dtype=fastgrad.int32),
                                         fastgrad.ones(2, 2, dtype=fastgrad.int32), upper=True)
    r = fastgrad.linalg.solve_triangular(fastgrad.tensor(A.astype(np.float32)), fastgrad.tensor(B), upper=True)
    assert r.dtype == fastgrad.float64
    z = fastgrad.linalg.solve_triangular(fastgrad.zeros(2, 0, 0), fastgrad.zeros(2, 0, 3), upper=False)
    assert tuple(z.shape) == (2, 0, 3)


def test_triangular_solve_legacy():
    A, b = np.triu(_mat(2, 3, 3)), rng.standard_normal((2, 3, 2))
    for tr in (False, True):
        compare(lambda b_, a: fastgrad.triangular_solve(b_, a, upper=True, transpose=tr),
                lambda b_, a: torch.triangular_solve(b_, a, upper=True, transpose=tr), b, A)


# --------------------------------------------------------------------------- LU
@pytest.mark.parametrize("shape", [(4, 4), (2, 5, 3), (3, 5), (0, 3, 3), (3, 0)])
def test_lu_factor_and_lu(shape):
    A = rng.standard_normal(shape)
    compare(fastgrad.linalg.lu_factor, torch.linalg.lu_factor, A)
    compare(fastgrad.linalg.lu_factor_ex, torch.linalg.lu_factor_ex, A)
    compare(fastgrad.linalg.lu, torch.linalg.lu, A)
    compare(fastgrad.lu, torch.lu, A)
    LU, piv = torch.linalg.lu_factor(torch.tensor(A))
    for ud in (True, False):
        for up in (True, False):
            compare(lambda x: fastgrad.lu_unpack(x, fastgrad.tensor(piv.numpy()), ud, up),
                    lambda x: torch.lu_unpack(x, piv, ud, up), LU.numpy(), grad=ud)  # torch fails without L, U


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 4)])
def test_lu_derivatives(shape):
    A = rng.standard_normal(shape)
    check_derivatives(lambda a: fastgrad.linalg.lu(a)[1:], A)
    check_derivatives(lambda a: fastgrad.linalg.lu_factor(a).LU, A)


def test_lu_singular():
    for fn in ("lu_factor_ex", "lu"):
        compare(getattr(fastgrad.linalg, fn), getattr(torch.linalg, fn), np.zeros((2, 3, 3)), grad=False)
    for lib in (torch, fastgrad):
        with pytest.raises(RuntimeError) as e:
            lib.linalg.lu_factor(lib.zeros(3, 3))
        if lib is fastgrad:
            assert str(e.value) == msg
        msg = str(e.value)
    with pytest.raises(RuntimeError, match="LU without pivoting is not implemented on the CPU"):
        fastgrad.linalg.lu(fastgrad.ones(2, 2), pivot=False)
    with pytest.raises(NotImplementedError, match="lu_cpu"):
        fastgrad.linalg.lu_factor(fastgrad.ones(2, 2, dtype=fastgrad.int64))


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [True, False])
def test_lu_solve(left, adjoint):
    A = _mat(2, 3, 3)
    B = rng.standard_normal((2, 3, 4) if left else (2, 4, 3))
    LU, piv = torch.linalg.lu_factor(torch.tensor(A))
    fpiv = fastgrad.tensor(piv.numpy())
    kw = dict(left=left, adjoint=adjoint)
    compare(lambda lu_, b: fastgrad.linalg.lu_solve(lu_, fpiv, b, **kw),
            lambda lu_, b: torch.linalg.lu_solve(lu_, piv, b, **kw), LU.numpy(), B)
    check_derivatives(lambda lu_, b: fastgrad.linalg.lu_solve(lu_, fpiv, b, **kw), LU.numpy(), B)
    compare(lambda b, lu_: fastgrad.lu_solve(b, lu_, fpiv), lambda b, lu_: torch.lu_solve(b, lu_, piv), B if left
            else B.swapaxes(-1, -2), LU.numpy())


def test_solve_ex_and_cholesky_ex():
    A, B = _mat(2, 3, 3), rng.standard_normal((2, 3, 2))
    compare(fastgrad.linalg.solve_ex, torch.linalg.solve_ex, A, B)
    compare(fastgrad.linalg.solve_ex, torch.linalg.solve_ex, np.zeros((3, 3)), B[0], grad=False)
    S = A @ A.swapaxes(-1, -2)
    for upper in (False, True):
        compare(lambda a: fastgrad.linalg.cholesky_ex(a, upper=upper),
                lambda a: torch.linalg.cholesky_ex(a, upper=upper), S)
        compare(lambda a: fastgrad.linalg.cholesky_ex(a, upper=upper),
                lambda a: torch.linalg.cholesky_ex(a, upper=upper), -S, grad=False)


def test_out_arguments():
    A, B = fastgrad.eye(3), fastgrad.ones(3, 2)
    o = fastgrad.empty(0)
    assert fastgrad.linalg.solve_triangular(A, B, upper=True, out=o) is o
    assert tuple(o.shape) == (3, 2) and np.all(o.numpy() == 1)
    outs = (fastgrad.empty(0), fastgrad.empty(0, dtype=fastgrad.int32))
    r = fastgrad.linalg.lu_factor(A * 2, out=outs)
    assert r[0] is outs[0] and np.all(outs[0].numpy() == 2 * np.eye(3)) and outs[1].numpy().tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- matrix_exp, cholesky_solve / inverse
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (1, 1), (0, 2, 2)])
def test_matrix_exp(shape):
    A = rng.standard_normal(shape)
    compare(fastgrad.linalg.matrix_exp, torch.linalg.matrix_exp, A)
    compare(fastgrad.matrix_exp, torch.matrix_exp, A)
    if 0 not in shape:
        check_derivatives(fastgrad.linalg.matrix_exp, A)
    with pytest.raises(NotImplementedError, match="linalg_matrix_exp"):
        fastgrad.linalg.matrix_exp(fastgrad.ones(2, 2, dtype=fastgrad.int64))


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse(upper):
    L = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)  # torch's gradient is for the full matrix, not the triangle
    B = rng.standard_normal((2, 3, 2))
    compare(lambda b, l_: fastgrad.cholesky_solve(b, l_, upper), lambda b, l_: torch.cholesky_solve(b, l_, upper), B, L)
    compare(lambda l_: fastgrad.cholesky_inverse(l_, upper), lambda l_: torch.cholesky_inverse(l_, upper), L[0])
    tri = (lambda m: m.triu()) if upper else (lambda m: m.tril())  # as torch's gradcheck_wrapper_triangular_input
    check_derivatives(lambda b, l_: fastgrad.cholesky_solve(b, tri(l_), upper), B[0], L[0])
    check_derivatives(lambda l_: fastgrad.cholesky_inverse(tri(l_), upper), L[0])


# --------------------------------------------------------------------------- eig, cond
def test_eig_forward_and_gradients():
    A = rng.standard_normal((2, 4, 4))
    fl, fv = fastgrad.linalg.eig(fastgrad.tensor(A))
    tl, tv = torch.linalg.eig(torch.tensor(A))
    assert fl.dtype == fastgrad.complex128 and fv.dtype == fastgrad.complex128
    np.testing.assert_allclose(fl.numpy(), tl.numpy(), atol=1e-10)
    np.testing.assert_allclose(fv.numpy(), tv.numpy(), atol=1e-10)
    assert fastgrad.linalg.eigvals(fastgrad.tensor(A.astype(np.float32))).dtype == fastgrad.complex64
    gl = rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))
    gv = rng.standard_normal((2, 4, 4)) + 1j * rng.standard_normal((2, 4, 4))
    gv = gv - tv.numpy() * (np.conj(tv.numpy()) * gv).sum(-2, keepdims=True).imag * 1j  # a gauge-invariant loss
    x, t = fastgrad.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    fastgrad.autograd.backward(fastgrad.linalg.eig(x), [fastgrad.tensor(gl), fastgrad.tensor(gv)])
    torch.autograd.backward(torch.linalg.eig(t), [torch.tensor(gl), torch.tensor(gv)])
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-9)
    x, t = fastgrad.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    fastgrad.autograd.backward(fastgrad.linalg.eigvals(x), [fastgrad.tensor(gl)])
    torch.autograd.backward(torch.linalg.eigvals(t), [torch.tensor(gl)])
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-9)


def test_eig_jvp():
    import fastgrad.autograd.forward_ad as fwad
    import torch.autograd.forward_ad as twad

    A, T = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    with fwad.dual_level():
        out = fastgrad.linalg.eig(fwad.make_dual(fastgrad.tensor(A), fastgrad.tensor(T)))
        fd = [fwad.unpack_dual(o).tangent.numpy() for o in out]
    with twad.dual_level():
        out = torch.linalg.eig(twad.make_dual(torch.tensor(A), torch.tensor(T)))
        td = [twad.unpack_dual(o).tangent.numpy() for o in out]
    for f, t in zip(fd, td):
        np.testing.assert_allclose(f, t, atol=1e-9)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, float("inf"), float("-inf")])
def test_cond(p):
    A = rng.standard_normal((2, 3, 3))
    svd_based = p in (None, 2, -2)  # torch 2.13 raises in the backward of the others (an in-place write)
    compare(lambda a: fastgrad.linalg.cond(a, p), lambda a: torch.linalg.cond(a, p), A, grad=svd_based)
    check_derivatives(lambda a: fastgrad.linalg.cond(a, p), A[0], gradgrad=False)
    if svd_based:
        compare(lambda a: fastgrad.linalg.cond(a, p), lambda a: torch.linalg.cond(a, p), rng.standard_normal((3, 2)))


# --------------------------------------------------------------------------- vander, tensorinv, tensorsolve
def test_vander_tensorinv_tensorsolve():
    x = rng.standard_normal((2, 3))
    for N in (None, 2, 5):
        compare(lambda a: fastgrad.linalg.vander(a, N=N), lambda a: torch.linalg.vander(a, N=N), x)
    assert fastgrad.linalg.vander(fastgrad.tensor([2, 3]), N=3).numpy().tolist() == [[1, 2, 4], [1, 3, 9]]
    with pytest.raises(RuntimeError, match="N must be greater than 1."):
        fastgrad.linalg.vander(fastgrad.ones(2), N=1)
    A = rng.standard_normal((6, 2, 3)) + np.eye(6).reshape(6, 2, 3) * 3
    compare(lambda a: fastgrad.linalg.tensorinv(a, ind=1), lambda a: torch.linalg.tensorinv(a, ind=1), A)
    B = rng.standard_normal((6,))
    compare(fastgrad.linalg.tensorsolve, torch.linalg.tensorsolve, A, B)
    A2 = rng.standard_normal((2, 3, 6)) + np.eye(6).reshape(6, 2, 3).transpose(1, 2, 0) * 3
    compare(lambda a, b: fastgrad.linalg.tensorsolve(a, b, dims=(0, 1)),
            lambda a, b: torch.linalg.tensorsolve(a, b, dims=(0, 1)), A2, B)


# --------------------------------------------------------------------------- ldl
@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl(hermitian):
    A = rng.standard_normal((2, 4, 4))
    A = A + A.swapaxes(-1, -2)
    compare(lambda a: fastgrad.linalg.ldl_factor(a, hermitian=hermitian),
            lambda a: torch.linalg.ldl_factor(a, hermitian=hermitian), A, grad=False)
    compare(lambda a: fastgrad.linalg.ldl_factor_ex(a, hermitian=hermitian),
            lambda a: torch.linalg.ldl_factor_ex(a, hermitian=hermitian), A, grad=False)
    LD, piv = torch.linalg.ldl_factor(torch.tensor(A), hermitian=hermitian)
    B = rng.standard_normal((2, 4, 3))
    compare(lambda ld, b: fastgrad.linalg.ldl_solve(ld, fastgrad.tensor(piv.numpy()), b, hermitian=hermitian),
            lambda ld, b: torch.linalg.ldl_solve(ld, piv, b, hermitian=hermitian), LD.numpy(), B, grad=False)
    compare(fastgrad.linalg.ldl_factor_ex, torch.linalg.ldl_factor_ex, np.zeros((3, 3)), grad=False)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        fastgrad.linalg.ldl_factor(fastgrad.tensor(A, requires_grad=True)).LD.sum().backward()
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 3 by 4 matrices"):
        fastgrad.linalg.ldl_factor(fastgrad.zeros(3, 4))


# --------------------------------------------------------------------------- Householder
def test_geqrf_householder_product_ormqr():
    A = rng.standard_normal((2, 5, 3))
    compare(fastgrad.geqrf, torch.geqrf, A, grad=False)
    a, tau = torch.geqrf(torch.tensor(A))
    compare(fastgrad.linalg.householder_product, torch.linalg.householder_product, a.numpy(), tau.numpy())
    compare(fastgrad.orgqr, torch.orgqr, a.numpy(), tau.numpy()[..., :2])
    check_derivatives(fastgrad.linalg.householder_product, a.numpy()[0], tau.numpy()[0])
    for left in (True, False):
        for tr in (True, False):
            C = rng.standard_normal((2, 5, 4) if left else (2, 4, 5))
            compare(lambda x, t, c: fastgrad.ormqr(x, t, c, left, tr), lambda x, t, c: torch.ormqr(x, t, c, left, tr),
                    a.numpy(), tau.numpy(), C)
    with pytest.raises(NotImplementedError, match="the derivative for 'geqrf' is not implemented."):
        fastgrad.geqrf(fastgrad.tensor(A, requires_grad=True))[0].sum().backward()
    with pytest.raises(RuntimeError, match="input.shape\\[-2\\] must be greater than or equal to input.shape\\[-1\\]"):
        fastgrad.linalg.householder_product(fastgrad.zeros(2, 3), fastgrad.zeros(2))


def test_qr_legacy():
    A = rng.standard_normal((2, 4, 3))
    for some in (True, False):
        compare(lambda a: fastgrad.qr(a, some), lambda a: torch.qr(a, some), A, grad=some)
    assert fastgrad.qr(fastgrad.tensor(A)).__class__.__name__ == "qr"


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 6, 5)])
def test_svd_and_pca_lowrank(shape):
    k = 2  # an exactly rank-2 matrix: the randomized algorithm is exact (torch's random stream is not fastgrad's)
    a, b = rng.standard_normal(shape[:-1] + (k,)), rng.standard_normal(shape[:-2] + (shape[-1], k))
    A = a @ b.swapaxes(-1, -2)
    U, S, V = fastgrad.svd_lowrank(fastgrad.tensor(A), q=3)
    tS = torch.svd_lowrank(torch.tensor(A), q=3)[1]
    np.testing.assert_allclose(S.numpy()[..., :k], tS.numpy()[..., :k], atol=1e-9)
    np.testing.assert_allclose((U.numpy() * S.numpy()[..., None, :]) @ V.numpy().swapaxes(-1, -2), A, atol=1e-9)
    U, S, V = fastgrad.pca_lowrank(fastgrad.tensor(A), q=2)
    C = A - A.mean(-2, keepdims=True)
    np.testing.assert_allclose(S.numpy(), torch.pca_lowrank(torch.tensor(A), q=2)[1].numpy(), atol=1e-9)
    np.testing.assert_allclose((U.numpy() * S.numpy()[..., None, :]) @ V.numpy().swapaxes(-1, -2), C, atol=1e-9)
    x = fastgrad.tensor(A, requires_grad=True)
    fastgrad.svd_lowrank(x, q=2)[1].sum().backward()
    t = torch.tensor(A, requires_grad=True)
    torch.svd_lowrank(t, q=2)[1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-8)


# --------------------------------------------------------------------------- pinv
@pytest.mark.parametrize("kw", [{}, {"rtol": 1.0}, {"rtol": 0.3}, {"atol": 0.5}, {"hermitian": True}])
def test_pinv(kw):
    A = rng.standard_normal((2, 4, 4))
    compare(lambda a: fastgrad.linalg.pinv(a, **kw), lambda a: torch.linalg.pinv(a, **kw), A)
    if not kw:
        check_derivatives(fastgrad.linalg.pinv, A[0, :, :3])


def test_pinv_rank_deficient_and_rcond():
    a, b = rng.standard_normal((5, 2)), rng.standard_normal((4, 2))  # as torch's OpInfo linalg.pinv.singular
    compare(lambda x, y: fastgrad.linalg.pinv(x @ y.mT), lambda x, y: torch.linalg.pinv(x @ y.mT), a, b)
    check_derivatives(lambda x, y: fastgrad.linalg.pinv(x @ y.mT), a, b)
    A = rng.standard_normal((3, 5))
    compare(lambda x: fastgrad.pinverse(x, 0.5), lambda x: torch.pinverse(x, 0.5), A)
    compare(lambda x: fastgrad.linalg.pinv(x, 0.5), lambda x: torch.linalg.pinv(x, 0.5), A)
    compare(fastgrad.linalg.pinv, torch.linalg.pinv, np.zeros((0, 3, 2)))
    with pytest.raises(RuntimeError, match="expected a tensor with 2 or more dimensions of float"):
        fastgrad.linalg.pinv(fastgrad.ones(3))


# --------------------------------------------------------------------------- lstsq, matrix_rank
@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [((2, 5, 3), (2, 5, 2)), ((2, 3), (2, 4)), ((2, 5, 3), (2, 5))])
def test_lstsq(driver, shape):
    A, B = rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
    compare(lambda a, b: fastgrad.linalg.lstsq(a, b, driver=driver), lambda a, b: torch.linalg.lstsq(a, b, driver=driver),
            A, B)
    check_derivatives(lambda a, b: fastgrad.linalg.lstsq(a, b, driver=driver)[:2], A, B, gradgrad=False)


def test_lstsq_errors():
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        fastgrad.linalg.lstsq(fastgrad.ones(3, 2), fastgrad.ones(3, 1), driver="foo")
    with pytest.raises(RuntimeError, match="Expected input and other to have the same dtype"):
        fastgrad.linalg.lstsq(fastgrad.ones(3, 2), fastgrad.ones(3, 1, dtype=fastgrad.float64))


def test_matrix_rank():
    A = rng.standard_normal((3, 4, 2)) @ rng.standard_normal((3, 2, 4))
    for kw in ({}, {"atol": 0.5}, {"rtol": 0.3}, {"hermitian": True}):
        compare(lambda a: fastgrad.linalg.matrix_rank(a, **kw), lambda a: torch.linalg.matrix_rank(a, **kw), A, grad=False)
    compare(lambda a: fastgrad.linalg.matrix_rank(a, 0.5), lambda a: torch.linalg.matrix_rank(a, 0.5), A, grad=False)
    tol = np.array([0.1, 1.0, 10.0])
    compare(lambda a, t: fastgrad.linalg.matrix_rank(a, atol=t), lambda a, t: torch.linalg.matrix_rank(a, atol=t),
            A, tol, grad=False)
    z = fastgrad.linalg.matrix_rank(fastgrad.zeros(0, 5, 5), rtol=fastgrad.zeros(0))
    assert tuple(z.shape) == (0,) and z.dtype == fastgrad.int64


def test_complex_forward_and_gradients():
    """Complex inputs: the conjugate transposes are conjugated (Tensor.mH alone is not)."""
    A = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)) + 3 * np.eye(3)
    B = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    LU, piv = torch.linalg.lu_factor(torch.tensor(A))
    for adjoint in (False, True):
        f = fastgrad.linalg.lu_solve(fastgrad.tensor(LU.numpy()), fastgrad.tensor(piv.numpy()), fastgrad.tensor(B),
                                     adjoint=adjoint)
        np.testing.assert_allclose(f.numpy(), torch.linalg.lu_solve(LU, piv, torch.tensor(B), adjoint=adjoint).numpy(),
                                   atol=1e-10)
    S = A @ A.conj().T
    f = fastgrad.linalg.cholesky_ex(fastgrad.tensor(S), upper=True).L.numpy()
    np.testing.assert_allclose(f, torch.linalg.cholesky_ex(torch.tensor(S), upper=True).L.numpy(), atol=1e-10)
    x, t = fastgrad.tensor(np.triu(A), requires_grad=True), torch.tensor(np.triu(A), requires_grad=True)
    gx = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    fastgrad.autograd.backward(fastgrad.linalg.solve_triangular(x, fastgrad.tensor(B), upper=True), fastgrad.tensor(gx))
    torch.autograd.backward(torch.linalg.solve_triangular(t, torch.tensor(B), upper=True), torch.tensor(gx))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-10)
