"""Seed 004's identities: forward mode is the linear map J u, reverse mode its adjoint J^T v,
so <v, J u> = <J^T v, u>; the Jacobian from either mode is the same matrix; the network
gradients match the closed-form backpropagation."""
import numpy as np
import pytest

import fastgrad as fg
import fastgrad.autograd.forward_ad as fwAD
from fastgrad.autograd.functional import jacobian, jvp, vjp

rs = np.random.RandomState(1)
W = [rs.rand(6, 3), rs.rand(5, 6), rs.rand(2, 5)]


def net(x):
    h = x
    for k, w in enumerate(W):
        h = fg.tensor(w) @ h
        if k < len(W) - 1:
            h = fg.sigmoid(h)
    return h


def np_net_grads(x, z):
    """Closed-form backprop of mean((net(x) - z)^2) w.r.t. the weights (as in seed 004)."""
    s1 = W[0] @ x
    a1 = 1 / (1 + np.exp(-s1))
    s2 = W[1] @ a1
    a2 = 1 / (1 + np.exp(-s2))
    y = W[2] @ a2
    d3 = 2 * (y - z) / y.size
    d2 = (W[2].T @ d3) * a2 * (1 - a2)
    d1 = (W[1].T @ d2) * a1 * (1 - a1)
    return [d1 @ x.T, d2 @ a1.T, d3 @ a2.T]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adjoint_identity(seed):
    r = np.random.RandomState(seed)
    x = fg.tensor(r.randn(3, 4))
    u = fg.tensor(r.randn(3, 4))
    v = fg.tensor(r.randn(2, 4))
    _, Ju = jvp(net, x, u)
    _, JTv = vjp(net, x, v)
    np.testing.assert_allclose((v * Ju).sum().item(), (JTv * u).sum().item(), rtol=1e-12)


def test_jacobian_forward_equals_reverse_and_matches_jvp_columns():
    x = fg.tensor(np.random.RandomState(3).randn(3, 2))
    Jr = jacobian(net, x)
    Jf = jacobian(net, x, strategy="forward-mode")
    assert tuple(Jr.shape) == (2, 2, 3, 2)
    np.testing.assert_allclose(Jr.numpy(), Jf.numpy(), rtol=1e-12, atol=1e-15)
    u = np.random.RandomState(4).randn(3, 2)
    _, Ju = jvp(net, x, fg.tensor(u))
    np.testing.assert_allclose(Ju.numpy(), np.tensordot(Jr.numpy(), u, axes=2), rtol=1e-12)


def test_directional_derivative_of_the_loss_is_one_dual_pass():
    r = np.random.RandomState(5)
    x, z, u = r.rand(3, 10), r.rand(2, 10), r.randn(3, 10)
    xt, zt = fg.tensor(x, requires_grad=True), fg.tensor(z)
    loss = ((net(xt) - zt) ** 2).mean()
    (g,) = fg.autograd.grad(loss, xt)
    with fwAD.dual_level():
        d = fwAD.make_dual(fg.tensor(x), fg.tensor(u))
        t = fwAD.unpack_dual(((net(d) - zt) ** 2).mean()).tangent
    np.testing.assert_allclose(t.item(), (g.numpy() * u).sum(), rtol=1e-12)


def test_weight_gradients_match_closed_form_backprop():
    r = np.random.RandomState(6)
    x, z = r.rand(3, 100), r.rand(2, 100)
    Ws = [fg.tensor(w, requires_grad=True) for w in W]
    h = fg.tensor(x)
    for k, w in enumerate(Ws):
        h = w @ h
        if k < 2:
            h = fg.sigmoid(h)
    ((h - fg.tensor(z)) ** 2).mean().backward()
    for w, want in zip(Ws, np_net_grads(x, z)):
        np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-10)


def test_linear_map_of_a_linear_layer():
    """For y = W x the forward map is (dx, dW) -> W dx + dW x and the adjoint is
    du -> (W^T du, du x^T)."""
    r = np.random.RandomState(7)
    Wn, xn, dx, dW, du = r.randn(3, 2), r.randn(2, 1), r.randn(2, 1), r.randn(3, 2), r.randn(3, 1)
    f = lambda w, x: w @ x  # noqa: E731
    _, t = jvp(f, (fg.tensor(Wn), fg.tensor(xn)), (fg.tensor(dW), fg.tensor(dx)))
    np.testing.assert_allclose(t.numpy(), Wn @ dx + dW @ xn, rtol=1e-12)
    _, (gW, gx) = vjp(f, (fg.tensor(Wn), fg.tensor(xn)), fg.tensor(du))
    np.testing.assert_allclose(gx.numpy(), Wn.T @ du, rtol=1e-12)
    np.testing.assert_allclose(gW.numpy(), du @ xn.T, rtol=1e-12)
