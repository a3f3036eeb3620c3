"""batch_norm / layer_norm through the fused op (fastgrad/_ops/norm_fused.py, kernels csrc/norm.pxi
and the twin fastgrad/_np/norm.py): outputs, running statistics and the gradients of input,
weight and bias against torch in float32 and float64, with and without the affine parameters,
non-contiguous inputs; gradcheck, gradgradcheck and forward mode in float64 (the backend is the
configuration's: run under all three); and both kernel sets directly against torch."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-9, atol=1e-11)}


def _bn(lib, x, w, b, g, noncontig, affine):
    xt = lib.tensor(x, requires_grad=True)
    wt, bt = (lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)) if affine else (None, None)
    rm, rv = lib.zeros(x.shape[1], dtype=xt.dtype), lib.ones(x.shape[1], dtype=xt.dtype)
    xi = xt.transpose(2, 3) if noncontig else xt
    y = lib.nn.functional.batch_norm(xi, rm, rv, wt, bt, training=True, momentum=0.3, eps=1e-4)
    y.backward(lib.tensor(g(tuple(y.shape))))
    out = [y, xt.grad, rm, rv] + ([wt.grad, bt.grad] if affine else [])
    return [a.detach().numpy() for a in out]


def _ln(lib, x, w, b, g, noncontig, affine):
    xt = lib.tensor(x, requires_grad=True)
    xi = xt.transpose(0, 1) if noncontig else xt
    shape = tuple(xi.shape[-2:])
    wt, bt = ((lib.tensor(w.reshape(shape), requires_grad=True), lib.tensor(b.reshape(shape), requires_grad=True))
              if affine else (None, None))
    y = lib.nn.functional.layer_norm(xi, shape, wt, bt, eps=1e-5)
    y.backward(lib.tensor(g(tuple(y.shape))))
    return [a.detach().numpy() for a in [y, xt.grad] + ([wt.grad, bt.grad] if affine else [])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("affine", [True, False])
def test_norm_matches_torch(dtype, kind, noncontig, affine):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 3, 5, 6)) * 3 + 1).astype(dtype)
    n = 3 if kind == "batch" else 30
    w, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    gs = {}

    def g(shape):
        return gs.setdefault(shape, rng.standard_normal(shape).astype(dtype))
    f = _bn if kind == "batch" else _ln
    for a, e in zip(f(fastgrad, x, w, b, g, noncontig, affine), f(torch, x, w, b, g, noncontig, affine)):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_allclose(a, e, **TOL[dtype])


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_norm_gradcheck_and_forward_mode(kind):
    rng = np.random.default_rng(1)
    x = fastgrad.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    n = 2 if kind == "batch" else 4
    w = fastgrad.tensor(rng.standard_normal(n), requires_grad=True)
    b = fastgrad.tensor(rng.standard_normal(n), requires_grad=True)
    F = fastgrad.nn.functional
    f = ((lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)) if kind == "batch"
         else (lambda x, w, b: F.layer_norm(x, (4,), w, b)))
    assert fastgrad.autograd.gradcheck(f, (x, w, b))
    assert fastgrad.autograd.gradgradcheck(f, (x, w, b))
    tangents = tuple(fastgrad.tensor(rng.standard_normal(tuple(a.shape))) for a in (x, w, b))
    _, jvp = fastgrad.func.jvp(f, (x.detach(), w.detach(), b.detach()), tangents)
    tt = [torch.tensor(a.detach().numpy()) for a in (x, w, b)]
    tF = torch.nn.functional
    tf = ((lambda x, w, b: tF.batch_norm(x, None, None, w, b, training=True)) if kind == "batch"
          else (lambda x, w, b: tF.layer_norm(x, (4,), w, b)))
    _, want = torch.func.jvp(tf, tuple(tt), tuple(torch.tensor(t.numpy()) for t in tangents))
    np.testing.assert_allclose(jvp.numpy(), want.numpy(), rtol=1e-9, atol=1e-11)


def _kernels():
    from test_kernels import C, NP
    return [NP] + ([C] if C is not None else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 3, 7), (64, 32, 64), (2, 1, 1), (3, 5, 1021)])  # 1021: 16 lanes + 13
def test_batch_norm_kernels(dtype, shape):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    w, b = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.batch_norm(xt, None, None, wt, bt, training=True, eps=1e-3)
    yt.backward(torch.tensor(g))
    tol = TOL[np.dtype(dtype).name]
    for K in _kernels():
        y, mean, var = np.empty_like(x), np.empty(shape[1]), np.empty(shape[1])
        assert K.batch_norm_fwd(x, w, b, 1e-3, y, mean, var) is y
        np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
        np.testing.assert_allclose(mean, x.astype(np.float64).mean((0, 2)), rtol=1e-12)  # float64 sums
        np.testing.assert_allclose(var, x.astype(np.float64).var((0, 2)), rtol=1e-11)
        gx, gw, gb = np.empty_like(x), np.empty_like(w), np.empty_like(b)
        K.batch_norm_bwd(x, g, mean, var, w, 1e-3, gx, gw, gb)
        for a, e in ((gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
            np.testing.assert_allclose(a, e.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 8), (1024, 128), (3, 2)])
def test_layer_norm_kernels(dtype, shape):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    w, b = rng.standard_normal(shape[1]).astype(dtype), rng.standard_normal(shape[1]).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.layer_norm(xt, shape[1:], wt, bt, eps=1e-5)
    yt.backward(torch.tensor(g))
    tol = TOL[np.dtype(dtype).name]
    for K in _kernels():
        y, mean, var = np.empty_like(x), np.empty(shape[0]), np.empty(shape[0])
        K.layer_norm_fwd(x, w, b, 1e-5, y, mean, var)
        np.testing.assert_allclose(y, yt.detach().numpy(), **tol)
        gx, gw, gb = np.empty_like(x), np.empty_like(w), np.empty_like(b)
        K.layer_norm_bwd(x, g, mean, var, w, 1e-5, gx, gw, gb)
        for a, e in ((gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
            np.testing.assert_allclose(a, e.numpy(), **tol)
        y2 = K.layer_norm_fwd(x, None, None, 1e-5, np.empty_like(x), mean, var)  # no affine map
        gx2 = K.layer_norm_bwd(x, g, mean, var, None, 1e-5, np.empty_like(x), None, None)
        want = torch.func.vjp(lambda t: torch.nn.functional.layer_norm(t, shape[1:], eps=1e-5), torch.tensor(x))
        np.testing.assert_allclose(y2, want[0].numpy(), **tol)
        np.testing.assert_allclose(gx2, want[1](torch.tensor(g))[0].numpy(), **tol)


def test_norm_kernels_raise_alike():
    x = np.zeros((2, 3, 4), np.float32)
    for K in _kernels():
        with pytest.raises(TypeError, match="float64"):
            K.batch_norm_fwd(x, None, None, 1e-5, np.empty_like(x), np.empty(3, np.float32), np.empty(3))
        with pytest.raises(ValueError, match="shape"):
            K.batch_norm_fwd(x, np.ones(2, np.float32), None, 1e-5, np.empty_like(x), np.empty(3), np.empty(3))
