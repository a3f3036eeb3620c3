"""Forward mode: the dual_level API, jvp rules of every op against finite differences and
PyTorch's forward_ad, in-place ops on dual tensors, forward-over-reverse and reverse-over-forward."""
import gc
import warnings

import numpy as np
import pytest

import fastgrad as fg
import fastgrad.autograd.forward_ad as fwAD
from autograd_op_samples import OPS
from fastgrad.autograd import gradcheck


def _t(a, requires_grad=False):
    return fg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------- API
def test_make_dual_and_unpack_dual():
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), _t([0.5, -1.0]))
        y = x * x
        u = fwAD.unpack_dual(y)
        assert isinstance(u, tuple) and u._fields == ("primal", "tangent")
        assert u.primal.tolist() == [1.0, 4.0] and u.tangent.tolist() == [1.0, -4.0]
        primal, tangent = fwAD.unpack_dual(_t([3.0]))
        assert tangent is None and primal.tolist() == [3.0]
    assert fwAD.unpack_dual(y).tangent is None  # leaving the level drops every tangent
    assert x._fw_grad is None


def test_make_dual_is_a_view_that_keeps_history():
    a = _t([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(a, _t([1.0, 1.0]))
        assert d.grad_fn is not None and d._data.base is not None or np.shares_memory(d._data, a._data)
        p = fwAD.unpack_dual(d).primal
        assert p.grad_fn is not None and fwAD.unpack_dual(p).tangent is None
        (d * 3).sum().backward()
    assert a.grad.tolist() == [3.0, 3.0]


def test_level_errors():
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(_t([1.0]), _t([1.0]))
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
        with pytest.raises(RuntimeError, match="different size"):
            fwAD.make_dual(_t([1.0, 2.0]), _t([1.0]))
    level = fwAD.enter_dual_level()
    assert level == 0
    fwAD.exit_dual_level(level=level)
    with pytest.raises(RuntimeError):
        fwAD.exit_dual_level()


def test_tangent_dtype_follows_primal():
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), fg.ones(2))
        assert fwAD.unpack_dual(x).tangent.dtype == fg.float64


def test_detach_drops_the_tangent():
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), _t([1.0, 1.0]))
        assert fwAD.unpack_dual(x.detach()).tangent is None
        assert fwAD.unpack_dual((x * 2).detach() + x).tangent.tolist() == [1.0, 1.0]


def test_ops_without_tangent_inputs_stay_plain():
    with fwAD.dual_level():
        y = fg.exp(_t([0.0, 1.0]))
        assert fwAD.unpack_dual(y).tangent is None


def test_inplace_ops_and_setitem_update_the_tangent(torch):
    import torch.autograd.forward_ad as tfw

    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), _t([1.0, 1.0]))
        y = x.clone()
        y.mul_(3)
        y.add_(x)
        z = fg.zeros(3, dtype=fg.float64)
        z[1:] = x * 2
        got = (fwAD.unpack_dual(y).tangent.tolist(), fwAD.unpack_dual(z).tangent.tolist())
    with tfw.dual_level():
        x = tfw.make_dual(torch.tensor([1.0, 2.0], dtype=torch.float64), torch.ones(2, dtype=torch.float64))
        y = x.clone()
        y.mul_(3)
        y.add_(x)
        z = torch.zeros(3, dtype=torch.float64)
        z[1:] = x * 2
        want = (tfw.unpack_dual(y).tangent.tolist(), tfw.unpack_dual(z).tangent.tolist())
    assert got == want


def test_tangents_of_a_closed_level_do_not_leak_into_the_next():
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0]), _t([1.0]))
        y = x.exp()
    with fwAD.dual_level():
        assert fwAD.unpack_dual(y * 2).tangent is None


def test_dual_tensors_are_freed():
    import weakref

    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), _t([1.0, 1.0]))
        ref = weakref.ref(x * 2)
        gc.collect()
        assert ref() is None


# --------------------------------------------------------------------------- every op
@pytest.mark.parametrize("name", sorted(OPS))
def test_jvp_matches_finite_differences(name):
    fn, arrays, _ = OPS[name]
    xs = [fg.tensor(a, requires_grad=True) for a in arrays]
    assert gradcheck(lambda *t: fn(fg, *t), xs, check_forward_ad=True, check_backward_ad=False)


@pytest.mark.parametrize("name", sorted(OPS))
def test_jvp_matches_pytorch_forward_ad(name, torch):
    import torch.autograd.forward_ad as tfw

    fn, arrays, _ = OPS[name]
    rs = np.random.RandomState(1)
    tangents = [rs.randn(*np.shape(a)) for a in arrays]
    with fwAD.dual_level():
        out = fn(fg, *[fwAD.make_dual(_t(a), _t(t)) for a, t in zip(arrays, tangents)])
        got = fwAD.unpack_dual(out).tangent.numpy()
    with tfw.dual_level():
        out = fn(torch, *[tfw.make_dual(torch.tensor(a), torch.tensor(t)) for a, t in zip(arrays, tangents)])
        want = tfw.unpack_dual(out).tangent.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n in OPS if len(OPS[n][1]) > 1))
def test_jvp_of_each_input_alone(name):
    """Tangent on one input only: the rules must handle None tangents for the others."""
    fn, arrays, _ = OPS[name]
    for k in range(len(arrays)):
        xs = [_t(a, requires_grad=(i == k)) for i, a in enumerate(arrays)]
        assert gradcheck(lambda *t: fn(fg, *t), xs, check_forward_ad=True, check_backward_ad=False)


def test_float32_cast_jvp():
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), _t([0.5, 0.25]))
        y = x.to(fg.float32) * 2
        t = fwAD.unpack_dual(y).tangent
    assert t.dtype == fg.float32 and t.tolist() == [1.0, 0.5]


# --------------------------------------------------------------------------- mixing modes
def test_reverse_over_forward(torch):
    """The tangent is recorded for reverse mode when the primal requires grad."""
    a = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, 2.0, -1.0])
    x = _t(a, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t(v))
        t = fwAD.unpack_dual(fg.sin(d) * d.exp()).tangent
        (g,) = fg.autograd.grad(t.sum(), x)
    import torch.autograd.forward_ad as tfw

    xt = torch.tensor(a, requires_grad=True)
    with tfw.dual_level():
        d = tfw.make_dual(xt, torch.tensor(v))
        tt = tfw.unpack_dual(torch.sin(d) * d.exp()).tangent
        (gt,) = torch.autograd.grad(tt.sum(), xt)
    np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-12)


def test_forward_over_reverse_uses_saved_outputs_tangents(torch):
    """exp/sigmoid/tanh save their output: its tangent must reach the backward pass."""
    a = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, 2.0, -1.0])

    def f(L, x):
        return (L.exp(x) * L.sigmoid(x) + L.tanh(x) ** 2 + L.sqrt(x * x + 1)).sum()

    x = _t(a, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t(v))
        (g,) = fg.autograd.grad(f(fg, d), d)
        hv = fwAD.unpack_dual(g).tangent.numpy()
    xt = torch.tensor(a, requires_grad=True)
    _, hv_t = torch.autograd.functional.hvp(lambda z: f(torch, z), xt, torch.tensor(v))
    np.testing.assert_allclose(hv, hv_t.numpy(), rtol=1e-10)


def test_forward_over_reverse_without_create_graph():
    x = _t([0.5, 1.5], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t([1.0, 0.0]))
        (g,) = fg.autograd.grad((d ** 3).sum(), d)  # g = 3 d^2, tangent 6 d * v
        t = fwAD.unpack_dual(g).tangent
    np.testing.assert_allclose(t.numpy(), [3.0, 0.0])


def test_op_without_jvp_rule_raises_naming_it():
    from fastgrad._ops.base import Op

    class NoRule(Op):
        @staticmethod
        def forward(ctx, x):
            return x._data * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0]), _t([1.0]))
        with pytest.raises(RuntimeError, match="NoRule has no forward-mode"):
            NoRule.apply(x)


def test_no_warning_noise():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fwAD.dual_level():
            fwAD.unpack_dual(fwAD.make_dual(_t([1.0]), _t([1.0])) * 2)
