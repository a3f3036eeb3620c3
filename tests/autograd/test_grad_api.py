"""autograd.grad / backward options, hooks, anomaly mode, inference_mode."""
import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import grad


def _x(values=(1.0, 2.0, 3.0)):
    return fg.tensor(list(values), dtype=fg.float64, requires_grad=True)


# --------------------------------------------------------------------------- grad options
def test_grad_returns_tuple_and_leaves_grad_untouched():
    x = _x()
    g = grad((x * x).sum(), x)
    assert isinstance(g, tuple) and g[0].tolist() == [2.0, 4.0, 6.0] and x.grad is None


def test_grad_outputs_and_multiple_outputs():
    x = _x()
    y1, y2 = x * 2, x ** 2
    (g,) = grad([y1, y2], [x], [fg.ones(3, dtype=fg.float64), fg.tensor([1.0, 0.0, 1.0], dtype=fg.float64)])
    assert g.tolist() == [4.0, 2.0, 8.0]


def test_grad_output_shape_mismatch():
    x = _x()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        grad(x * 2, x, fg.ones(2, dtype=fg.float64))


def test_allow_unused_and_materialize_grads():
    x, z = _x(), _x()
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None
    gx, gz = grad(y, [x, z], materialize_grads=True)
    assert gz.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="allow_unused"):
        grad((x * 2).sum(), [x, z], allow_unused=False, materialize_grads=True)


def test_retain_graph():
    x = _x()
    y = (x.exp()).sum()
    grad(y, x, retain_graph=True)
    grad(y, x)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        grad(y, x)


def test_grad_wrt_non_leaf():
    x = _x()
    h = x * 3
    (gh,) = grad((h ** 2).sum(), h)
    np.testing.assert_allclose(gh.numpy(), 2 * 3 * np.array([1.0, 2.0, 3.0]))


def test_is_grads_batched(torch):
    a = np.array([0.5, -1.0, 2.0])
    V = np.eye(3)
    x = fg.tensor(a, requires_grad=True)
    (J,) = grad(fg.sin(x) * x, x, fg.tensor(V), is_grads_batched=True)
    xt = torch.tensor(a, requires_grad=True)
    (Jt,) = torch.autograd.grad(torch.sin(xt) * xt, xt, torch.tensor(V), is_grads_batched=True)
    np.testing.assert_allclose(J.numpy(), Jt.numpy(), rtol=1e-12)


def test_backward_inputs_restricts_accumulation():
    x, z = _x(), _x()
    (x * z).sum().backward(inputs=[x])
    assert x.grad.tolist() == [1.0, 2.0, 3.0] and z.grad is None
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * z).sum().backward(inputs=[])


def test_autograd_backward_function_with_grad_tensors():
    x = _x()
    fg.autograd.backward([x * 2, x * 3], [fg.ones(3, dtype=fg.float64), fg.ones(3, dtype=fg.float64)])
    assert x.grad.tolist() == [5.0, 5.0, 5.0]


def test_grad_requires_grad_inputs():
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(_x().sum(), fg.ones(2))


# --------------------------------------------------------------------------- hooks
def test_tensor_hook_replaces_gradient_and_handle_removes_it():
    x = _x()
    h = x * 1.0
    handle = h.register_hook(lambda g: g * 10)
    (h * 2).sum().backward(retain_graph=True)
    assert x.grad.tolist() == [20.0, 20.0, 20.0]
    handle.remove()
    x.grad = None
    (h * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_leaf_hook_sees_gradient_before_accumulation():
    x = _x()
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0, 3.0]] and x.grad.tolist() == [3.0, 3.0, 3.0]


def test_hook_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fg.ones(2).register_hook(lambda g: g)


def test_retain_grad():
    x = _x()
    h = x * 2
    h.retain_grad()
    assert h.retains_grad
    (h ** 2).sum().backward()
    assert h.grad.tolist() == [4.0, 8.0, 12.0]


def test_node_hooks_and_prehooks():
    x = _x()
    y = x * 2
    calls = []
    y.grad_fn.register_prehook(lambda grad_outputs: calls.append("pre") or (grad_outputs[0] * 0.5,))
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: calls.append("post"))
    y.sum().backward()
    assert calls == ["pre", "post"] and x.grad.tolist() == [1.0, 1.0, 1.0]


def test_hooks_run_in_grad_with_create_graph():
    x = _x()
    y = x ** 2
    y.register_hook(lambda g: g * 2)
    (g,) = grad(y.sum(), x, create_graph=True)
    assert g.tolist() == [4.0, 8.0, 12.0]
    (g2,) = grad(g.sum(), x)
    assert g2.tolist() == [4.0, 4.0, 4.0]



def _hook_scenarios(L):
    """Gradients that hooks see or return, read again after later backwards (which add into
    .grad and into the walk's buffers in place): what each hook kept must not change."""
    out = {}
    x = L.ones(3, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    out["leaf hook"] = (seen[0].tolist(), seen[1].tolist(), x.grad.tolist(), seen[0] is x.grad)

    x = L.ones(3, requires_grad=True)
    y = x * 3
    kept = []
    acc = y.grad_fn.next_functions[0][0]
    acc.register_prehook(lambda gs: kept.append(gs[0] * 1) or (kept[-1],))
    (y * 2).sum().backward(retain_graph=True)
    (y * 2).sum().backward()
    out["AccumulateGrad prehook"] = (kept[0].tolist(), kept[1].tolist(), x.grad.tolist())

    x = L.ones(3, requires_grad=True)
    y = x * 3
    got = []
    y.register_hook(lambda g: got.append(g))
    y.register_hook(lambda g: g * 2)
    (y + y * y).sum().backward()
    out["intermediate hooks"] = (got[0].tolist(), x.grad.tolist())

    x = L.ones(3, requires_grad=True)
    y = x * 3
    y.grad_fn.register_hook(lambda gi, go: (gi[0] + go[0], None))
    (y + y).sum().backward()
    out["post hook"] = x.grad.tolist()
    return out


def test_gradients_kept_by_hooks_are_not_changed_later(torch):
    assert _hook_scenarios(fg) == _hook_scenarios(torch)


def test_hook_returning_a_non_tensor_raises(torch):
    for L in (fg, torch):
        x = L.ones(3, requires_grad=True)
        y = x * 3
        y.register_hook(lambda g: np.ones(3))
        with pytest.raises(TypeError, match="expected Variable, but hook returned 'numpy.ndarray'"):
            y.sum().backward()


# --------------------------------------------------------------------------- anomaly mode
def test_detect_anomaly_names_the_forward_op():
    x = fg.tensor([0.0, 1.0], dtype=fg.float64, requires_grad=True)
    with fg.autograd.detect_anomaly():
        y = fg.sqrt(x) * 0.0  # sqrt'(0) = inf, inf * 0 = nan
        with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward' returned nan values in its 0th output"
                                               r"(.|\n)*Traceback of forward call(.|\n)*test_grad_api"):
            y.sum().backward()
    assert not fg.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_as_call_and_context():
    prev = fg.autograd.is_anomaly_enabled()
    fg.autograd.set_detect_anomaly(True)
    assert fg.autograd.is_anomaly_enabled()
    fg.autograd.set_detect_anomaly(prev)
    with fg.autograd.set_detect_anomaly(True):
        assert fg.autograd.is_anomaly_enabled()
    assert fg.autograd.is_anomaly_enabled() == prev


def test_without_anomaly_mode_nan_passes_silently():
    x = fg.tensor([0.0], dtype=fg.float64, requires_grad=True)
    (fg.sqrt(x) * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


# --------------------------------------------------------------------------- modes
def test_inference_mode_and_no_grad():
    x = _x()
    with fg.inference_mode():
        assert not (x * 2).requires_grad
    with fg.autograd.inference_mode(False):
        assert (x * 2).requires_grad

    @fg.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with fg.no_grad():
        with fg.enable_grad():
            assert (x * 2).requires_grad


def test_scalar_backward_seeds_match_torch(torch):
    """loss.backward() (Tensor.backward's seeded fast path) against torch: repeated with
    retain_graph (gradients accumulate, the seed is never shared), a 0-d leaf, float64 and
    float16 losses, and a loss inside a forward-AD dual level (the general path)."""
    import torch.autograd.forward_ad as tfw

    import fastgrad.autograd.forward_ad as fw

    results = {}
    for name, lib, fwd in (("fg", fg, fw), ("torch", torch, tfw)):
        out = []
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        loss = (x * x).sum() + x.sum()
        loss.backward(retain_graph=True)
        loss.backward()
        out.append(x.grad.numpy().copy())
        for _ in range(2):  # a hook that changes the seed in place: the next seed is fresh
            loss = (x * 2.0).sum()
            loss.register_hook(lambda g: g.mul_(3.0))
            loss.backward()
        out.append(x.grad.numpy().copy())
        s = lib.tensor(3.0, requires_grad=True)
        s.backward()
        s.backward()
        out.append(s.grad.numpy().copy())
        for dt in (lib.float64, lib.float16):
            y = lib.tensor([0.5, -1.0], dtype=dt, requires_grad=True)
            (y * 3.0).sum().backward()
            assert y.grad.dtype == dt
            out.append(y.grad.numpy().astype(np.float64))
        z = lib.tensor([0.5, 2.0], requires_grad=True)
        with fwd.dual_level():
            dz = fwd.make_dual(z, lib.ones(2))
            (dz * dz).sum().backward()
        out.append(z.grad.numpy().copy())
        results[name] = out
    for a, b in zip(results["fg"], results["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
