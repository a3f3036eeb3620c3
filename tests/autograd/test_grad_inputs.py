"""The backward walk for given inputs (autograd.grad(outputs, inputs), backward(inputs=...)) computes
only what those inputs need, as torch's engine does: a built-in op skips the gradients of edges that do
not lead to a requested input (igamma has no gradient in its first argument, yet its gradient in the
second is available), while a user Function's ctx.needs_input_grad stays what requires_grad said."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def _pair(lib, requires_grad=(True, True)):
    a = lib.tensor(np.array([0.5, 2.0, 3.5]), requires_grad=requires_grad[0])
    x = lib.tensor(np.array([1.5, 0.7, 4.0]), requires_grad=requires_grad[1])
    return a, x


@pytest.mark.parametrize("name", ["igamma", "igammac"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_igamma_gradient_in_x_alone(name, create_graph):
    """autograd.grad asks for x only: the unimplemented derivative in a is never asked for."""
    res = {}
    for lib in (torch, fastgrad):
        a, x = _pair(lib)
        out = getattr(lib, name)(a * 1.0, x)  # a through a node too: its edge is not needed either
        (gx,) = lib.autograd.grad(out.sum(), [x], create_graph=create_graph)
        res[lib.__name__] = gx.detach().numpy()
    np.testing.assert_allclose(res["fastgrad"], res["torch"], rtol=1e-12)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_igamma_backward_inputs_and_the_error_kept(name):
    for lib in (torch, fastgrad):
        a, x = _pair(lib)
        out = getattr(lib, name)(a, x).sum()
        out.backward(inputs=[x], retain_graph=True)
        assert a.grad is None and x.grad is not None
        with pytest.raises(NotImplementedError, match="the derivative for '%s: input' is not implemented" % name):
            lib.autograd.grad(out, [a], retain_graph=True)
        with pytest.raises(NotImplementedError, match="the derivative for '%s: input' is not implemented" % name):
            out.backward()  # no inputs given: every edge that requires grad
    a, x = _pair(fastgrad)
    ta, tx = _pair(torch)
    getattr(fastgrad, name)(a, x).sum().backward(inputs=[x])
    getattr(torch, name)(ta, tx).sum().backward(inputs=[tx])
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def _probe(lib, seen):
    class Probe(lib.autograd.Function):
        @staticmethod
        def forward(ctx, p, q, k):
            seen.append(("forward", tuple(ctx.needs_input_grad)))
            return p * q * k

        @staticmethod
        def backward(ctx, g):
            seen.append(("backward", tuple(ctx.needs_input_grad)))
            return g * 2.0, g * 3.0, None

    return Probe


def _scenarios(lib):
    seen = []
    Probe = _probe(lib, seen)
    a, x = _pair(lib)
    c = lib.tensor(np.ones(3), requires_grad=False)
    out = Probe.apply(a, x, 2.0).sum()
    for inputs in ([a], [x], [a, x]):
        seen.append(("grad", len(inputs)))
        lib.autograd.grad(out, inputs, retain_graph=True)
    seen.append(("backward inputs",))
    out.backward(inputs=[x], retain_graph=True)
    seen.append(("backward",))
    out.backward(retain_graph=True)
    seen.append(("non-leaf input not needed",))
    lib.autograd.grad(Probe.apply(a * 2.0, x, 1.0).sum(), [x])
    seen.append(("input without grad",))
    lib.autograd.grad(Probe.apply(c, x, 1.0).sum(), [x])
    seen.append(("two probes, one not needed",))
    inner = Probe.apply(a, c, 1.0)  # a's only path: not asked for
    lib.autograd.grad(Probe.apply(inner, x, 1.0).sum(), [x])
    seen.append(("create_graph",))
    gx = lib.autograd.grad(Probe.apply(a, x, 1.0).sum(), [x], create_graph=True)[0]
    seen.append(("grads", a.grad is None, x.grad.detach().numpy().tolist(), gx.detach().numpy().tolist()))
    return seen


def test_custom_function_needs_input_grad_matches_torch():
    assert _scenarios(fastgrad) == _scenarios(torch)


def test_builtin_node_gets_its_needs_back():
    """The restriction lasts while the node runs: the retained graph then gives every gradient,
    also after a walk that raised."""
    for lib in (torch, fastgrad):
        a, x = _pair(lib)
        b = lib.tensor(np.array([2.0, -1.0, 0.5]), requires_grad=True)
        prod = a * b
        out = (lib.igamma(prod.detach().abs() + 0.5, x) * prod).sum()
        (gb,) = lib.autograd.grad(out, [b], retain_graph=True)
        with pytest.raises(NotImplementedError):
            lib.autograd.grad(lib.igamma(a, x).sum() + out, [a, x], retain_graph=True)
        out.backward()
        np.testing.assert_allclose(a.grad.numpy(), (gb.detach() / a.detach() * b.detach()).numpy(), rtol=1e-12)
        assert x.grad is not None and b.grad is not None
    fa, fx = _pair(fastgrad)
    ta, tx = _pair(torch)
    fb = fastgrad.tensor(np.array([2.0, -1.0, 0.5]), requires_grad=True)
    tb = torch.tensor(np.array([2.0, -1.0, 0.5]), requires_grad=True)
    for lib, a, x, b in ((fastgrad, fa, fx, fb), (torch, ta, tx, tb)):
        out = (a * b * x).sum()
        lib.autograd.grad(out, [x], retain_graph=True)
        out.backward()
    for f, t in ((fa, ta), (fx, tx), (fb, tb)):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-12)
