"""conv2d and max_pool2d through the conv kernels (csrc/conv.pxi, twin fastgrad/_np/conv.py):
outputs and gradients of every argument against torch in float32 and float64 over strides,
padding, dilation and groups, non-contiguous inputs and weights, and float64 gradcheck /
gradgradcheck (the backend is the configuration's: run under all three)."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")

CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
    dict(dilation=2, padding=2),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2, dilation=(1, 2)),
]
TOL = {"float32": dict(rtol=2e-4, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def _run(lib, x, w, b, g, kw, noncontig):
    xt = lib.tensor(x, requires_grad=True)
    wt = lib.tensor(w, requires_grad=True)
    bt = lib.tensor(b, requires_grad=True)
    xi, wi = xt, wt
    if noncontig:  # a channels-permuted view of the input, every other column of a wider weight
        xi = xt.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)[..., ::2]
        wi = wt.transpose(2, 3)
    y = lib.nn.functional.conv2d(xi, wi, bt, **kw)
    y.backward(lib.tensor(g(tuple(y.shape))))
    return [a.detach().numpy() for a in (y, xt.grad, wt.grad, bt.grad)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", CASES, ids=str)
@pytest.mark.parametrize("noncontig", [False, True])
def test_conv2d_matches_torch(dtype, kw, noncontig):
    rng = np.random.default_rng(0)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((3, 4, 9, 16 if noncontig else 8)).astype(dtype)
    w = rng.standard_normal((4 * groups, 4 // groups, 3, 2)).astype(dtype)
    b = rng.standard_normal(4 * groups).astype(dtype)
    gs = {}

    def g(shape):
        return gs.setdefault(shape, rng.standard_normal(shape).astype(dtype))
    got = _run(fastgrad, x, w, b, g, kw, noncontig)
    want = _run(torch, x, w, b, g, kw, noncontig)
    for name, a, e in zip(("output", "grad input", "grad weight", "grad bias"), got, want):
        assert a.shape == e.shape and a.dtype == e.dtype, name
        np.testing.assert_allclose(a, e, err_msg=name, **TOL[dtype])


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(groups=2, dilation=2)], ids=str)
def test_conv2d_gradcheck(kw):
    rng = np.random.default_rng(1)
    x = fastgrad.tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    w = fastgrad.tensor(rng.standard_normal((2, 2 // kw.get("groups", 1), 3, 3)), requires_grad=True)
    b = fastgrad.tensor(rng.standard_normal(2), requires_grad=True)
    f = lambda x, w, b: fastgrad.nn.functional.conv2d(x, w, b, **kw)  # noqa: E731
    assert fastgrad.autograd.gradcheck(f, (x, w, b))
    assert fastgrad.autograd.gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), dilation=2, stride=1)], ids=str)
def test_max_pool2d_noncontiguous_matches_torch(dtype, kw):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 9, 10)).astype(dtype)
    res = {}
    for lib in (fastgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        y, i = lib.nn.functional.max_pool2d(t[:, ::2].transpose(2, 3), return_indices=True, **kw)
        g = np.random.default_rng(3).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(lib.tensor(g))
        res[lib.__name__] = (y.detach().numpy(), i.numpy(), t.grad.numpy())
    for a, e in zip(res["fastgrad"], res["torch"]):
        np.testing.assert_allclose(a, e, **TOL[dtype])


def test_max_pool2d_gradcheck():
    x = fastgrad.tensor(np.random.default_rng(4).standard_normal((2, 3, 7, 6)), requires_grad=True)
    f = lambda x: fastgrad.nn.functional.max_pool2d(x, 3, 2, 1, ceil_mode=True)  # noqa: E731
    assert fastgrad.autograd.gradcheck(f, (x,))
    assert fastgrad.autograd.gradgradcheck(f, (x,))
