"""Higher order: double backward of every op, second and third derivatives of every elementwise
op (against PyTorch and finite differences), an MLP Hessian and a gradient penalty vs PyTorch."""
import numpy as np
import pytest

import fastgrad as fg
from autograd_op_samples import ELEMENTWISE, OPS
from fastgrad.autograd import grad, gradgradcheck


@pytest.mark.parametrize("name", sorted(OPS))
def test_double_backward_reverse_over_reverse(name):
    fn, arrays, _ = OPS[name]
    xs = [fg.tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *t: fn(fg, *t), xs)


@pytest.mark.parametrize("name", sorted(OPS))
def test_double_backward_forward_over_reverse(name):
    fn, arrays, _ = OPS[name]
    xs = [fg.tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *t: fn(fg, *t), xs, check_fwd_over_rev=True, check_rev_over_rev=False)


def _derivatives(lib, fn, arrays, order):
    """d^k/dx^k of sum(fn(x)) for k = 1..order, w.r.t. every input, elementwise via sums."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *xs).sum()
    results = []
    cur = [out] * len(xs)
    for _ in range(order):
        nxt = []
        for k, x in enumerate(xs):
            (g,) = lib.autograd.grad(cur[k].sum(), x, create_graph=True, allow_unused=True)
            nxt.append(g)
        results.append([None if g is None else g.detach().numpy(force=True).copy() for g in nxt])
        cur = [g if g is not None and g.requires_grad else None for g in nxt]
        if any(c is None for c in cur):
            cur = [c if c is not None else xs[i].sum() * 0.0 for i, c in enumerate(cur)]
    return results


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_second_and_third_derivatives_match_pytorch(name, torch):
    fn, arrays, _ = OPS[name]
    got = _derivatives(fg, fn, arrays, 3)
    want = _derivatives(torch, fn, arrays, 3)
    for order, (g_list, w_list) in enumerate(zip(got, want), start=1):
        for k, (g, w) in enumerate(zip(g_list, w_list)):
            g = np.zeros_like(arrays[k]) if g is None else g
            w = np.zeros_like(arrays[k]) if w is None else w
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, err_msg="%s order %d input %d" % (name, order, k))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_third_derivative_by_finite_differences(name):
    """gradgradcheck of x -> d/dx sum f(x): checks f'' and f''' numerically."""
    fn, arrays, _ = OPS[name]
    xs = [fg.tensor(a, requires_grad=True) for a in arrays]

    def first(*t):
        return grad(fn(fg, *t).sum(), t, create_graph=True, allow_unused=True, materialize_grads=True)

    assert gradgradcheck(first, xs, atol=1e-4)


def _mlp_params(seed=0):
    rs = np.random.RandomState(seed)
    return [rs.randn(5, 3) * 0.5, rs.randn(5) * 0.1, rs.randn(4, 5) * 0.5, rs.randn(4) * 0.1]


def _mlp_loss(lib, X, y, W1, b1, W2, b2):
    F = lib.nn.functional
    h = lib.tanh(F.linear(X, W1, b1))
    return F.cross_entropy(F.linear(h, W2, b2), y) + 0.01 * (W1 ** 2).sum()


def test_hessian_of_mlp_loss_matches_pytorch(torch):
    rs = np.random.RandomState(3)
    X, y = rs.randn(6, 3), rs.randint(0, 4, 6)
    params = _mlp_params()
    Xf, yf = fg.tensor(X), fg.tensor(y)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    Hf = fg.autograd.functional.hessian(lambda *p: _mlp_loss(fg, Xf, yf, *p), tuple(fg.tensor(p) for p in params))
    Ht = torch.autograd.functional.hessian(lambda *p: _mlp_loss(torch, Xt, yt, *p),
                                           tuple(torch.tensor(p) for p in params))
    for i in range(4):
        for j in range(4):
            np.testing.assert_allclose(Hf[i][j].numpy(), Ht[i][j].numpy(), rtol=1e-8, atol=1e-11)


def test_hessian_of_mlp_loss_forward_over_reverse_matches_reverse_over_reverse():
    rs = np.random.RandomState(4)
    X, y = fg.tensor(rs.randn(6, 3)), fg.tensor(rs.randint(0, 4, 6))
    params = tuple(fg.tensor(p) for p in _mlp_params(1))
    f = lambda *p: _mlp_loss(fg, X, y, *p)  # noqa: E731
    H1 = fg.autograd.functional.hessian(f, params)
    H2 = fg.autograd.functional.hessian(f, params, outer_jacobian_strategy="forward-mode")
    for i in range(4):
        for j in range(4):
            np.testing.assert_allclose(H1[i][j].numpy(), H2[i][j].numpy(), rtol=1e-9, atol=1e-12)


def _gradient_penalty(lib, x, W1, b1, W2, b2):
    """WGAN-GP style: (||d critic / d x||_2 - 1)^2 averaged over the batch."""
    F = lib.nn.functional
    critic = F.linear(lib.sigmoid(F.linear(x, W1, b1)), W2, b2).sum()
    (gx,) = lib.autograd.grad(critic, x, create_graph=True)
    norms = ((gx ** 2).sum(1) + 1e-12).sqrt()
    return ((norms - 1.0) ** 2).mean()


def test_gradient_penalty_matches_pytorch(torch):
    rs = np.random.RandomState(5)
    x = rs.randn(4, 3)
    W1, b1, W2, b2 = _mlp_params(2)
    W2, b2 = W2[:1], b2[:1]
    pf = [fg.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    pt = [torch.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    lf = _gradient_penalty(fg, fg.tensor(x, requires_grad=True), *pf)
    lt = _gradient_penalty(torch, torch.tensor(x, requires_grad=True), *pt)
    np.testing.assert_allclose(lf.item(), lt.item(), rtol=1e-12)
    lf.backward()
    lt.backward()
    assert pt[3].grad is None and pf[3].grad is None  # the penalty does not depend on the last bias
    for a, b in zip(pf[:3], pt[:3]):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_backward_create_graph_gives_differentiable_grad():
    x = fg.tensor([1.0, 2.0], dtype=fg.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    (g2,) = grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [6.0, 12.0])


def test_fourth_derivative_of_a_composition():
    x = fg.tensor([0.3], dtype=fg.float64, requires_grad=True)
    y = fg.sin(x) * fg.exp(x)
    ds = []
    for _ in range(4):
        (y,) = grad(y.sum(), x, create_graph=True)
        ds.append(y.item())
    v = 0.3  # (sin x e^x)'''' = -4 sin x e^x
    np.testing.assert_allclose(ds[3], -4 * np.sin(v) * np.exp(v), rtol=1e-12)
