"""torch.autograd.graph against PyTorch: saved_tensors_hooks packs what each op saves (the same
count, the inputs as the same objects) and backward reads it back through unpack (gradients as
without hooks, through transforming hooks, user Functions, double backward), save_on_cpu,
disable_saved_tensors_hooks, nested blocks, unpack errors, get_gradient_edge, increment_version."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((3, 4))
W = np.random.default_rng(1).standard_normal((4, 2))


def _model(lib, x, w):
    h = lib.tanh(x @ w)
    return (h.exp() * h).sum() + lib.nn.functional.softmax(x, dim=1).log().sum() + (x / (w.sum() + 5)).sum()


def _run(lib, pack_wrap=None):
    x = lib.tensor(X, requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    log = []

    def pack(t):
        log.append(t)
        return pack_wrap[0](lib, t) if pack_wrap else t

    def unpack(p):
        log.append("unpack")
        return pack_wrap[1](lib, p) if pack_wrap else p

    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = _model(lib, x, w)
    y.backward()
    return x, w, log


@pytest.mark.parametrize("wrap", [None, "numpy", "clone"])
def test_hooks_pack_every_saved_tensor_and_gradients_agree(wrap):
    wraps = {None: None,
             "numpy": (lambda lib, t: t.detach().numpy().copy(), lambda lib, a: lib.from_numpy(a)),
             "clone": (lambda lib, t: t.detach().clone(), lambda lib, t: t)}
    fx, fw, flog = _run(fastgrad, wraps[wrap])
    tx, tw, tlog = _run(torch, wraps[wrap])
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    fpacked = [t for t in flog if not isinstance(t, str)]
    tpacked = [t for t in tlog if not isinstance(t, str)]
    assert len(fpacked) > 0 and sum(isinstance(t, str) for t in flog) > 0
    # each input tensor the ops saved is handed to pack as itself
    assert sum(t is fx for t in fpacked) == sum(t is tx for t in tpacked)
    assert sum(t is fw for t in fpacked) == sum(t is tw for t in tpacked)


def test_each_op_packs_as_torch():
    for op in (lambda L, a, b: a * b, lambda L, a, b: a @ b.T, lambda L, a, b: L.sin(a), lambda L, a, b: a.exp(),
               lambda L, a, b: a / b, lambda L, a, b: L.sigmoid(a), lambda L, a, b: a.pow(3), lambda L, a, b: a + b):
        counts = []
        for lib in (fastgrad, torch):
            a = lib.tensor(X, requires_grad=True)
            b = lib.tensor(X + 1, requires_grad=True)
            seen = []
            with lib.autograd.graph.saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
                op(lib, a, b)
            counts.append((len(seen), sum(t is a for t in seen), sum(t is b for t in seen)))
        assert counts[0] == counts[1]


def test_hooks_at_forward_time_only_and_innermost_wins():
    for lib in (fastgrad, torch):
        a = lib.tensor(X, requires_grad=True)
        outer, inner = [], []
        with lib.autograd.graph.saved_tensors_hooks(lambda t: outer.append(1) or t, lambda t: t):
            with lib.autograd.graph.saved_tensors_hooks(lambda t: inner.append(1) or t, lambda t: t):
                y = (a * a).sum()
            z = a.sin().sum()
        assert len(inner) == 2 and len(outer) == 1
        n = len(outer) + len(inner)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: outer.append(1) or t, lambda t: t):
            (y + z).backward()
        assert len(outer) + len(inner) == n


class _Cube:
    @staticmethod
    def make(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x ** 3
                ctx.save_for_backward(x, y)
                return y

            @staticmethod
            def backward(ctx, g):
                x, y = ctx.saved_tensors
                return g * 3 * y / x

        return Cube


def test_user_function_and_double_backward():
    res = []
    for lib in (fastgrad, torch):
        a = lib.tensor(X + 2, requires_grad=True)
        seen = []
        with lib.autograd.graph.saved_tensors_hooks(lambda t: seen.append(t) or ("box", t), lambda p: p[1]):
            y = _Cube.make(lib).apply(a).sum()
            g, = lib.autograd.grad((a.exp() * a).sum(), a, create_graph=True)
        (ga,) = lib.autograd.grad(y, a)
        g.sum().backward()
        res.append((len(seen), seen[0] is a, ga.numpy(), a.grad.numpy()))
    assert res[0][:2] == res[1][:2]
    np.testing.assert_allclose(res[0][2], res[1][2], rtol=1e-12)
    np.testing.assert_allclose(res[0][3], res[1][3], rtol=1e-12)


def test_unpack_must_return_a_tensor_and_disable():
    for lib in (fastgrad, torch):
        a = lib.tensor(X, requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
            y = a.exp().sum()
        with pytest.raises(TypeError, match="Output of saved tensor unpack_hook expected to be a Tensor but got "
                                            "result of type int"):
            y.backward()
        with lib.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
            with pytest.raises(RuntimeError, match="no hooks here"):
                with lib.autograd.graph.save_on_cpu():
                    pass
        with lib.autograd.graph.save_on_cpu():
            y = (a * a.sin()).sum()
        y.backward()
        np.testing.assert_allclose(a.grad.numpy(), np.sin(X) + X * np.cos(X), rtol=1e-12)


def test_gradient_edge_and_increment_version():
    for lib in (fastgrad, torch):
        a = lib.tensor(X, requires_grad=True)
        b = a * 2
        e = lib.autograd.graph.get_gradient_edge(b)
        assert e.node is b.grad_fn and e.output_nr == 0
        assert lib.autograd.graph.get_gradient_edge(a).node is not None
        with pytest.raises(RuntimeError, match="It is not possible to get the gradient edge for a Tensor that does "
                                               "not require gradients"):
            lib.autograd.graph.get_gradient_edge(lib.tensor(X))
        c = a.detach().requires_grad_()
        y = (c * c).sum()
        v = c._version
        lib.autograd.graph.increment_version(c)
        assert c._version == v + 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_pack_hook_runs_with_grad_mode_off_as_torch():
    """The pack hook runs under no_grad (as torch's): an op in it on a saved output (whose grad_fn is the
    saving node) builds no graph, so what it returns does not hold the node it is stored in. The output it
    is handed carries that node while the hook runs."""
    seen = {}
    for lib in (fastgrad, torch):
        x = lib.tensor(X, requires_grad=True)
        log = []

        def pack(t):
            copy = t * 1
            log.append((lib.is_grad_enabled(), t.grad_fn is not None, copy.requires_grad, copy.grad_fn is None))
            return copy
        with lib.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = x.exp()  # exp saves its output
        assert lib.is_grad_enabled()
        y.sum().backward()
        seen[lib.__name__] = (log, x.grad.numpy().copy())
    assert seen["fastgrad"][0] == seen["torch"][0] == [(False, True, False, True)]
    np.testing.assert_allclose(seen["fastgrad"][1], seen["torch"][1], rtol=1e-12)
