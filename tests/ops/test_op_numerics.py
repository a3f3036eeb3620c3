"""Numerics PyTorch users rely on (extreme logits, -inf, large |x|), gradients that accumulate
over repeated indices, dropout's randomness, and second derivatives of the op_db entries."""
import numpy as np
import pytest

import fastgrad
import fastgrad.nn.functional as F
from harness import diff_fn, flatten
from op_db import OPS


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_softmax_and_cross_entropy_at_1e4(torch, dtype):
    x = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]], dtype)
    t = np.array([1, 2])
    xf = fastgrad.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    np.testing.assert_allclose(F.log_softmax(xf, 1).detach().numpy(),
                               torch.nn.functional.log_softmax(xt, 1).detach().numpy())
    lf = F.cross_entropy(xf, fastgrad.tensor(t))
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    lf.backward()
    lt.backward()
    assert np.isfinite(lf.item()) and np.isclose(lf.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), atol=1e-7 if dtype == "float32" else 1e-12)


def _logits_1e4(dtype):
    rs = np.random.RandomState(3)
    x = np.concatenate([[[1e4, 0.0, -1e4, 5.0], [1e4, 1e4, 0.0, 1e4 - 1.0], [1e4 - 2.0, 1e4, 1e4 - 0.5, -3.0]],
                        rs.standard_normal((4, 4)) * 1e4, 1e4 + rs.standard_normal((4, 4))])
    return x.astype(dtype), np.arange(11) % 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"weight": [0.5, 2.0, 1.0, 0.7]},
                                {"reduction": "none", "ignore_index": 2}])
def test_cross_entropy_gradient_at_1e4_logits(torch, dtype, kw):
    # the float32 gradient does not inherit the rounding of logsumexp (~5e-4 at 1e4) saved by forward
    x, t = _logits_1e4(dtype)
    w = np.random.RandomState(4).standard_normal(11).astype(dtype)
    res = []
    for L in (fastgrad, torch):
        k = {key: L.tensor(np.array(v, dtype)) if key == "weight" else v for key, v in kw.items()}
        xl = L.tensor(x, requires_grad=True)
        loss = L.nn.functional.cross_entropy(xl, L.tensor(t), **k)
        if loss.dim():
            loss = (loss * L.tensor(w)).sum()
        loss.backward()
        res.append((loss.item(), xl.grad.numpy()))
    (lf, gf), (lt, gt) = res
    np.testing.assert_allclose(lf, lt, rtol=1e-6 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(gf, gt, rtol=1e-5, atol=1e-6 if dtype == "float32" else 1e-12)


def test_cross_entropy_kernels_agree_at_1e4_logits():
    from fastgrad import _kernels_np
    try:
        from fastgrad import _C
    except ImportError:  # pragma: no cover
        pytest.skip("compiled kernels not built")
    x, t = _logits_1e4("float32")
    g = np.linspace(0.5, 1.5, 11).astype(np.float32)
    grads = []
    for K in (_C, _kernels_np):
        lse = np.empty(11, np.float32)
        K.cross_entropy_fwd(x, t, None, -100, 0.1, lse, np.empty(11, np.float32))
        grads.append(K.cross_entropy_bwd(x, t, None, -100, 0.1, lse, g, np.empty_like(x)))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_softplus_logsigmoid_at_large_x(torch, dtype):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype)
    for name in ("sigmoid", "softplus", "logsigmoid", "silu", "gelu", "elu", "tanh", "mish"):
        xf = fastgrad.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        yf, yt = getattr(F, name)(xf), getattr(torch.nn.functional, name)(xt)
        yf.sum().backward()
        yt.sum().backward()
        assert np.isfinite(yf.detach().numpy()).all() and np.isfinite(xf.grad.numpy()).all(), name
        np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-30, err_msg=name)
        np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-30, err_msg=name)


def test_logsumexp_infinities(torch):
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [-np.inf, 2.0], [1e4, 1e4]])
    np.testing.assert_array_equal(fastgrad.logsumexp(fastgrad.tensor(x), 1).numpy(),
                                  torch.logsumexp(torch.tensor(x), 1).numpy())


def test_bce_with_logits_extremes(torch):
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    xf, xt = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lf = F.binary_cross_entropy_with_logits(xf, fastgrad.tensor(t), reduction="none")
    lt = torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(t), reduction="none")
    np.testing.assert_allclose(lf.detach().numpy(), lt.detach().numpy())
    lf.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy())


def test_advanced_index_gradient_accumulates():
    x = fastgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = fastgrad.tensor([0, 0, 2, 0])
    (x[idx] * fastgrad.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    expected = np.zeros(3)
    np.add.at(expected, [0, 0, 2, 0], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_index_select_and_gather_accumulate():
    x = fastgrad.ones(3, 2, requires_grad=True)
    fastgrad.index_select(x, 0, fastgrad.tensor([1, 1, 1])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [3, 3], [0, 0]])
    y = fastgrad.ones(2, 3, requires_grad=True)
    y.gather(1, fastgrad.tensor([[0, 0], [2, 2]])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[2, 0, 0], [0, 0, 2]])


def test_setitem_gradients(torch):
    def run(L):
        x = L.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        v = L.tensor([10.0, 20.0], dtype=L.float64, requires_grad=True)
        y = x * 1.0
        y[L.tensor([1, 0]), L.tensor([2, 2])] = v
        y[0, :2] = y[0, :2] * 3
        (y * L.tensor(np.arange(1.0, 7.0).reshape(2, 3))).sum().backward()
        return x.grad.numpy(), v.grad.numpy()
    for a, b in zip(run(fastgrad), run(torch)):
        np.testing.assert_allclose(a, b)


def test_dropout():
    x = fastgrad.ones(1000)
    fastgrad.manual_seed(0)
    a = F.dropout(x, 0.3)
    fastgrad.manual_seed(0)
    b = F.dropout(x, 0.3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    kept = a.numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(a.numpy()[kept], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    w = fastgrad.ones(4, 3, 2, 2, requires_grad=True)
    y = F.dropout2d(w, 0.5)
    per_channel = y.detach().numpy().reshape(4, 3, -1)
    assert all(len(set(ch)) == 1 for ch in per_channel.reshape(12, -1))
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), y.detach().numpy())


def test_unique_sort_topk_like_torch(torch):
    v = np.array([3, 1, 2, 3, 1, 5, 5, 5])
    for kw in ({}, {"return_counts": True}, {"return_inverse": True, "return_counts": True}):
        for a, b in zip(flatten(fastgrad.unique(fastgrad.tensor(v), **kw)), flatten(torch.unique(torch.tensor(v), **kw))):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = np.array([[0.5, 0.5, -1.0, 2.0], [1.0, 1.0, 1.0, 0.0]])
    for desc in (False, True):
        np.testing.assert_array_equal(fastgrad.sort(fastgrad.tensor(x), 1, desc).values.numpy(),
                                      torch.sort(torch.tensor(x), 1, desc).values.numpy())
    np.testing.assert_array_equal(fastgrad.topk(fastgrad.tensor(x), 2).values.numpy(),
                                  torch.topk(torch.tensor(x), 2).values.numpy())


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros_going_to_one_place(torch, include_self):
    # the gradient is PyTorch's (the product of the others: zero unless the element is the only zero);
    # its derivative is not defined by out / src, and raises PyTorch's error
    x = np.array([[1.2, 0.5, 0.7, 0.0], [0.0, 2.0, 1.5, 0.3]])
    s = np.array([[0.0, 0.0, 1.3, 2.0], [0.0, 0.4, 0.0, 0.0]])
    idx = np.array([[1, 1, 2, 3], [0, 0, 3, 3]])
    w = np.arange(1.0, 9.0).reshape(2, 4)
    res = []
    for L in (fastgrad, torch):
        xs, ss = L.tensor(x, requires_grad=True), L.tensor(s, requires_grad=True)
        y = L.scatter_reduce(xs, 1, L.tensor(idx), ss, "prod", include_self=include_self)
        gx, gs = L.autograd.grad((y * L.tensor(w)).sum(), (xs, ss), create_graph=True)
        with pytest.raises(RuntimeError, match="Double backward is unsupported for src when >1 zeros"):
            L.autograd.grad(gs.sum(), (xs, ss))
        res.append([y.detach().numpy(), gx.detach().numpy(), gs.detach().numpy()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_norm_of_zero_has_zero_gradient(torch):
    for p in (2, "fro", 3):
        xf = fastgrad.zeros(3, requires_grad=True)
        xt = torch.zeros(3, requires_grad=True)
        fastgrad.norm(xf, p).backward()
        torch.norm(xt, p).backward()
        np.testing.assert_array_equal(xf.grad.numpy(), xt.grad.numpy())


# --------------------------------------------------------------------------- second derivatives
# first sample of every differentiable entry
GRADGRAD = [pytest.param(e, id=e.name) for e in OPS
            if e.gradcheck
            and not e.samples()[0].has_empty() and any(a.dtype.kind == "f" for a in e.samples()[0].arrays())]


@pytest.mark.parametrize("entry", GRADGRAD)
def test_gradgradcheck(entry):
    sample = entry.samples()[0]
    fn, diff = diff_fn(entry, sample)
    assert fastgrad.autograd.gradgradcheck(fn, diff, eps=entry.eps, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_all_targets_ignored(torch, reduction):
    # the reduction is fused into the op: mean over zero targets is 0/0 = nan, the gradient 0
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    t = np.full(4, -100)
    res = []
    for lib in (fastgrad, torch):
        a = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.cross_entropy(a, lib.tensor(t), reduction=reduction)
        loss.backward()
        res.append((loss.item(), a.grad.numpy()))
    np.testing.assert_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])
