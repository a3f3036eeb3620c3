"""fastgrad/_ops/layers.py Embedding / EmbeddingBackward against torch.

torch's embedding_dense_backward adds the rows of the output gradient into the weight gradient one by
one, in index order: without scale_grad_by_freq fastgrad's weight gradient is bitwise torch's (repeated
indices included), in float32 and float64; padding_idx rows get nothing; the backward is differentiable."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F


def _run(lib, w, idx, g, **kw):
    wt = lib.tensor(w, requires_grad=True)
    out = lib.nn.functional.embedding(lib.tensor(idx), wt, **kw)
    (out * lib.tensor(g)).sum().backward()
    return out.detach().numpy(), wt.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num,idx_shape,dim", [(27, (32, 16), 64), (28, (32,), 64), (5, (7, 3, 2), 3),
                                               (1000, (4096,), 16), (3, (0,), 4), (4, (6,), 0), (6, (), 5)])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_weight_grad_is_bitwise_torch(torch, dtype, num, idx_shape, dim, padding_idx):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((num, dim)).astype(dtype)
    idx = rng.integers(0, num, idx_shape)
    g = rng.standard_normal(idx_shape + (dim,)).astype(dtype)
    fo, fg = _run(fastgrad, w, idx, g, padding_idx=padding_idx)
    to, tg = _run(torch, w, idx, g, padding_idx=padding_idx)
    assert fg.dtype == tg.dtype and fg.shape == tg.shape
    np.testing.assert_array_equal(fo, to)
    np.testing.assert_array_equal(fg, tg)
    if padding_idx is not None:
        assert not fg[padding_idx].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_scale_grad_by_freq(torch, dtype):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((30, 8)).astype(dtype)
    idx = rng.integers(0, 30, (50, 4))
    g = rng.standard_normal((50, 4, 8)).astype(dtype)
    _, fg = _run(fastgrad, w, idx, g, scale_grad_by_freq=True, padding_idx=0)
    _, tg = _run(torch, w, idx, g, scale_grad_by_freq=True, padding_idx=0)
    np.testing.assert_allclose(fg, tg, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def test_embedding_module_repeated_calls_accumulate(torch):
    """makemore's MLP: one embedding table looked up once per context position, all into one .grad."""
    rng = np.random.default_rng(2)
    fm, tm = fastgrad.nn.Embedding(28, 16), torch.nn.Embedding(28, 16)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(fm.weight.detach().numpy()))
    idx = rng.integers(0, 27, (32, 8))
    fi, ti = fastgrad.tensor(idx), torch.tensor(idx)
    fl = fastgrad.cat([fm(fastgrad.roll(fi, k, 1)) for k in range(8)], -1).tanh().sum()
    tl = torch.cat([tm(torch.roll(ti, k, 1)) for k in range(8)], -1).tanh().sum()
    fl.backward()
    tl.backward()
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_embedding_gradcheck():
    rng = np.random.default_rng(3)
    w = fastgrad.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    idx = fastgrad.tensor(np.array([[0, 1, 1], [5, 0, 1]]))
    assert gradcheck(lambda t: F.embedding(idx, t), (w,))
    assert gradgradcheck(lambda t: F.embedding(idx, t) ** 2, (w,))


def _double_backward(lib, w, idx, g, v, **kw):
    wt, gt = lib.tensor(w, requires_grad=True), lib.tensor(g, requires_grad=True)
    out = lib.nn.functional.embedding(lib.tensor(idx), wt, **kw)
    (gw,) = lib.autograd.grad(out, wt, gt, create_graph=True)
    (gw * lib.tensor(v)).sum().backward()
    return gw.detach().numpy(), gt.grad.numpy()


def _double_inputs():
    rng = np.random.default_rng(4)
    return rng.standard_normal((6, 3)), np.array([[0, 1, 1], [5, 0, 1]]), rng.standard_normal((2, 3, 3)), \
        rng.standard_normal((6, 3))


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 1}])
def test_embedding_double_backward(torch, kw):
    """padding_idx is not a true derivative (gradcheck cannot check it): the weight gradient as a
    function of the output gradient is compared with torch's, through a second backward."""
    w, idx, g, v = _double_inputs()
    for a, b in zip(_double_backward(fastgrad, w, idx, g, v, **kw), _double_backward(torch, w, idx, g, v, **kw)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_embedding_scale_grad_by_freq_double_backward():
    """The weight gradient is linear in the output gradient g: gw[k] = sum_{i: idx_i = k} g_i / count_k.
    Its backward is that map's adjoint, v[idx_i] / count_{idx_i}. (torch 2.13's
    embedding_dense_double_backward leaves out the 1 / count; fastgrad keeps the exact adjoint.)"""
    w, idx, g, v = _double_inputs()
    gw, gg = _double_backward(fastgrad, w, idx, g, v, scale_grad_by_freq=True)
    counts = np.bincount(idx.reshape(-1), minlength=6)
    expect_gw = np.zeros_like(w)
    np.add.at(expect_gw, idx.reshape(-1), g.reshape(-1, 3) / counts[idx.reshape(-1), None])
    np.testing.assert_allclose(gw, expect_gw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gg, v[idx] / counts[idx][..., None], rtol=1e-12, atol=1e-12)
