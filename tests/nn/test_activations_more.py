"""Activations against PyTorch: functions and modules (values and gradients at random points and
at the breakpoints, float32 and float64), float64 gradcheck, reprs, errors, and the in-place
variants (same tensor object back, differentiable on non-leaves, PyTorch's error on leaves)."""
import inspect
import warnings

import numpy as np
import pytest
from nn_helpers import copy_to_torch, fg_repr
from torch_compare import both, both_raise

import fastgrad
from fastgrad.autograd import gradcheck, gradgradcheck

R = np.random.default_rng(0)
GRID = np.array([-25.0, -7, -6, -3.5, -3, -2, -1.5, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 1.5, 2, 3, 3.5, 6, 7, 25])


def F(L):
    return L.nn.functional


# name: function of the library (called on one tensor)
FUNCS = {
    "relu": lambda L: F(L).relu,
    "relu6": lambda L: F(L).relu6,
    "elu": lambda L: F(L).elu,
    "elu_alpha": lambda L: lambda x: F(L).elu(x, 0.5),
    "selu": lambda L: F(L).selu,
    "celu": lambda L: lambda x: F(L).celu(x, 0.7),
    "celu_default": lambda L: F(L).celu,
    "leaky_relu": lambda L: lambda x: F(L).leaky_relu(x, 0.2),
    "leaky_relu_default": lambda L: F(L).leaky_relu,
    "rrelu_eval": lambda L: lambda x: F(L).rrelu(x, 0.1, 0.3),
    "hardtanh": lambda L: F(L).hardtanh,
    "hardtanh_bounds": lambda L: lambda x: F(L).hardtanh(x, -2.0, 3.0),
    "threshold": lambda L: lambda x: F(L).threshold(x, 1.0, -3.0),
    "hardsigmoid": lambda L: F(L).hardsigmoid,
    "hardswish": lambda L: F(L).hardswish,
    "silu": lambda L: F(L).silu,
    "mish": lambda L: F(L).mish,
    "gelu": lambda L: F(L).gelu,
    "gelu_tanh": lambda L: lambda x: F(L).gelu(x, approximate="tanh"),
    "softplus": lambda L: F(L).softplus,
    "softplus_beta": lambda L: lambda x: F(L).softplus(x, 2.0, 3.0),
    "hardshrink": lambda L: F(L).hardshrink,
    "hardshrink_1": lambda L: lambda x: F(L).hardshrink(x, 1.0),
    "softshrink": lambda L: F(L).softshrink,
    "softshrink_1": lambda L: lambda x: F(L).softshrink(x, 1.0),
    "tanhshrink": lambda L: F(L).tanhshrink,
    "logsigmoid": lambda L: F(L).logsigmoid,
    "softsign": lambda L: F(L).softsign,
    "sigmoid": lambda L: F(L).sigmoid,
    "tanh": lambda L: F(L).tanh,
    "glu": lambda L: F(L).glu,
    "glu_dim0": lambda L: lambda x: F(L).glu(x, 0),
    "softmin": lambda L: lambda x: F(L).softmin(x, 1),
    "softmin_dtype": lambda L: lambda x: F(L).softmin(x, 0, dtype=L.float64),
    "torch.selu": lambda L: L.selu,
    "torch.celu": lambda L: lambda x: L.celu(x, 2.0),
    "torch.threshold": lambda L: lambda x: L.threshold(x, 0.5, 2.0),
    "torch.rrelu": lambda L: L.rrelu,
    "torch.hardshrink": lambda L: L.hardshrink,
    "Tensor.hardshrink": lambda L: lambda x: x.hardshrink(0.3),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_functions_against_torch(torch, name, dtype):
    both(torch, FUNCS[name], R.standard_normal((4, 6)).astype(dtype) * 3)
    if not name.startswith("glu") and not name.startswith("softmin"):
        both(torch, FUNCS[name], GRID.astype(dtype))  # the breakpoints: PyTorch's masks and one-sided slopes


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradcheck(name):
    x = fastgrad.tensor(R.standard_normal((4, 4)) * 3, requires_grad=True)
    fn = FUNCS[name](fastgrad)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_prelu_against_torch(torch):
    for dt in (np.float32, np.float64):
        for x, w in [(R.standard_normal((3, 4, 5)), R.uniform(0, 1, 4)), (R.standard_normal((3, 4)), np.array([0.3])),
                     (R.standard_normal(5), np.array(0.2)), (R.standard_normal((2, 3, 2, 2)), R.uniform(0, 1, 3)),
                     (np.array(-1.5), np.array([0.1]))]:
            both(torch, lambda L: F(L).prelu, x.astype(dt), w.astype(dt))
            both(torch, lambda L: L.prelu, x.astype(dt), w.astype(dt))
    x, w = fastgrad.tensor(R.standard_normal((3, 4, 2)), requires_grad=True), fastgrad.tensor([0.1, 0.2, 0.3, 0.4],
                                                                                           dtype=fastgrad.float64,
                                                                                           requires_grad=True)
    assert gradcheck(F(fastgrad).prelu, (x, w)) and gradgradcheck(F(fastgrad).prelu, (x, w))


# --------------------------------------------------------------------------- modules
MODULES = [
    ("Threshold", (0.1, 20.0), {}), ("Threshold", (0.1, 20.0), {"inplace": True}), ("ReLU", (), {}),
    ("ReLU", (), {"inplace": True}), ("RReLU", (), {}), ("RReLU", (0.1, 0.3), {"inplace": True}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 2.5), {"inplace": True}), ("ReLU6", (), {"inplace": True}),
    ("ReLU6", (), {}), ("Sigmoid", (), {}), ("Hardsigmoid", (), {}), ("Hardsigmoid", (), {"inplace": True}),
    ("Tanh", (), {}), ("SiLU", (), {}), ("SiLU", (), {"inplace": True}), ("Mish", (), {}),
    ("Mish", (), {"inplace": True}), ("Hardswish", (), {}), ("Hardswish", (), {"inplace": True}),
    ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}), ("CELU", (), {}), ("CELU", (0.5,), {"inplace": True}),
    ("SELU", (), {}), ("SELU", (), {"inplace": True}), ("GLU", (), {}), ("GLU", (1,), {}), ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}), ("Hardshrink", (), {}), ("Hardshrink", (1.0,), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {"inplace": True}), ("LogSigmoid", (), {}),
    ("Softplus", (), {}), ("Softplus", (2.0, 5.0), {}), ("Softshrink", (), {}), ("Softshrink", (0.25,), {}),
    ("PReLU", (), {}), ("PReLU", (4,), {"init": 0.1}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
    ("Softmin", (1,), {}), ("Softmin", (), {"dim": -1}), ("Softmax", (0,), {}), ("Softmax2d", (), {}),
    ("LogSoftmax", (1,), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("i", range(len(MODULES)))
def test_modules_against_torch(torch, i, dtype):
    name, args, kw = MODULES[i]
    fm, tm = getattr(fastgrad.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(fm) == fg_repr(tm)
    assert type(fm).__module__ == "fastgrad.nn.modules.activation"
    assert list(fm.state_dict()) == list(tm.state_dict())
    if dtype == np.float64:
        fm.double(), tm.double()
    fm.eval(), tm.eval()  # RReLU is deterministic in eval mode
    copy_to_torch(torch, fm, tm)
    x = (R.standard_normal((2, 4, 3, 2)) * 3).astype(dtype)
    outs, grads = [], []
    for lib, m in ((fastgrad, fm), (torch, tm)):
        leaf = lib.tensor(x, requires_grad=True)
        inp = leaf * 1.0  # a non-leaf, so inplace=True is allowed
        out = m(inp)
        if kw.get("inplace"):
            assert out is inp
        (out * lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)).astype(dtype))).sum().backward()
        outs.append(out.detach().numpy())
        grads.append([leaf.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outs[0], outs[1], **tol)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, **tol)


def test_module_signatures(torch):
    for name in ["Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid", "Tanh", "SiLU", "Mish",
                 "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU", "Hardshrink", "LeakyReLU", "LogSigmoid",
                 "Softplus", "Softshrink", "PReLU", "Softsign", "Tanhshrink", "Softmin", "Softmax", "Softmax2d",
                 "LogSoftmax"]:
        fs = inspect.signature(getattr(fastgrad.nn, name).__init__)
        ts = inspect.signature(getattr(torch.nn, name).__init__)
        assert list(fs.parameters) == list(ts.parameters), name
        assert [p.default for p in fs.parameters.values()] == [p.default for p in ts.parameters.values()], name


def test_functional_signatures(torch):
    for name in ["relu", "relu6", "elu", "selu", "celu", "leaky_relu", "rrelu", "hardtanh", "threshold", "hardsigmoid",
                 "hardswish", "silu", "mish", "tanhshrink", "softsign", "softmin", "glu"]:
        fs = inspect.signature(getattr(fastgrad.nn.functional, name))
        ts = inspect.signature(getattr(torch.nn.functional, name))
        assert list(fs.parameters) == list(ts.parameters), name
        assert [p.default for p in fs.parameters.values()] == [p.default for p in ts.parameters.values()], name


def test_prelu_module(torch):
    for kw in ({}, {"num_parameters": 3, "init": 0.05}, {"dtype": fastgrad.float64}):
        tkw = dict(kw, dtype=torch.float64) if "dtype" in kw else kw
        fm, tm = fastgrad.nn.PReLU(**kw), torch.nn.PReLU(**tkw)
        assert fm.weight.shape == tuple(tm.weight.shape) and str(fm.weight.dtype)[9:] == str(tm.weight.dtype)[6:]
        np.testing.assert_array_equal(fm.weight.detach().numpy(), tm.weight.detach().numpy())
        assert fm.init == tm.init and fm.num_parameters == tm.num_parameters
    x = R.standard_normal((5, 3, 4)).astype(np.float32)
    fm, tm = fastgrad.nn.PReLU(3, 0.3), torch.nn.PReLU(3, 0.3)
    fo, to = fm(fastgrad.tensor(x)), tm(torch.tensor(x))
    fo.sum().backward(), to.sum().backward()
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)


def test_hardtanh_deprecated_keywords(torch):
    for kw in ({"min_value": -0.5}, {"max_value": 2.0}):
        with pytest.warns(FutureWarning) as fw:
            fm = fastgrad.nn.Hardtanh(**kw)
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            tm = torch.nn.Hardtanh(**kw)
        assert [str(w.message) for w in fw] == [str(w.message) for w in tw]
        assert repr(fm) == fg_repr(tm)


def test_softmin_implicit_dim_warns(torch):
    x = R.standard_normal((3, 4)).astype(np.float32)
    with warnings.catch_warnings(record=True) as fw:
        warnings.simplefilter("always")
        fo = fastgrad.nn.functional.softmin(fastgrad.tensor(x))
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        to = torch.nn.functional.softmin(torch.tensor(x))
    assert [str(w.message) for w in fw] == [str(w.message) for w in tw]
    np.testing.assert_allclose(fo.numpy(), to.numpy(), rtol=1e-6)


# --------------------------------------------------------------------------- RReLU in training
def test_rrelu_training_is_random_with_slopes_in_range(torch):
    x = np.concatenate([-np.abs(R.standard_normal(20000)) - 0.1, np.abs(R.standard_normal(100)) + 0.1])
    for dt in (np.float32, np.float64):
        leaf = fastgrad.tensor(x.astype(dt), requires_grad=True)
        y = F(fastgrad).rrelu(leaf, 0.1, 0.4, training=True)
        y.sum().backward()
        slope = y.detach().numpy() / x.astype(dt)
        neg = x < 0
        assert (slope[~neg] == 1).all()
        assert slope[neg].min() >= 0.1 - 1e-6 and slope[neg].max() <= 0.4 + 1e-6
        assert abs(slope[neg].mean() - 0.25) < 0.01 and abs(slope[neg].std() - 0.3 / np.sqrt(12)) < 0.01
        np.testing.assert_allclose(leaf.grad.numpy(), slope, rtol=1e-6)  # d out / d in is the sampled slope
        assert len(np.unique(slope[neg])) > 1000
    m = fastgrad.nn.RReLU(0.1, 0.4)
    assert m.training
    a, b = m(fastgrad.tensor(x)), m(fastgrad.tensor(x))
    assert not np.array_equal(a.numpy(), b.numpy())
    m.eval()
    np.testing.assert_allclose(m(fastgrad.tensor(x)).numpy(), torch.nn.RReLU(0.1, 0.4).eval()(torch.tensor(x)).numpy())
    fastgrad.manual_seed(3)
    a = m.train()(fastgrad.tensor(x)).numpy()
    fastgrad.manual_seed(3)
    np.testing.assert_array_equal(a, m(fastgrad.tensor(x)).numpy())


def test_rrelu_training_in_place():
    x = np.array([-1.0, -2.0, 3.0, -4.0])
    leaf = fastgrad.tensor(x, requires_grad=True)
    h = leaf * 1.0
    out = fastgrad.rrelu_(h, 0.2, 0.3, training=True)
    assert out is h
    out.sum().backward()
    slope = h.detach().numpy() / x
    assert ((slope[x < 0] >= 0.2) & (slope[x < 0] <= 0.3)).all() and slope[2] == 1
    np.testing.assert_allclose(leaf.grad.numpy(), slope)


# --------------------------------------------------------------------------- in place
INPLACE = {
    "F.relu(inplace)": lambda L: lambda x: F(L).relu(x, inplace=True),
    "F.relu_": lambda L: F(L).relu_,
    "torch.relu_": lambda L: L.relu_,
    "Tensor.relu_": lambda L: lambda x: x.relu_(),
    "nn.ReLU(inplace)": lambda L: L.nn.ReLU(inplace=True),
    "F.elu(inplace)": lambda L: lambda x: F(L).elu(x, 0.7, inplace=True),
    "F.elu_": lambda L: F(L).elu_,
    "F.leaky_relu(inplace)": lambda L: lambda x: F(L).leaky_relu(x, 0.2, inplace=True),
    "F.leaky_relu_": lambda L: lambda x: F(L).leaky_relu_(x, 0.3),
    "F.hardtanh(inplace)": lambda L: lambda x: F(L).hardtanh(x, -0.5, 0.7, inplace=True),
    "F.hardtanh_": lambda L: F(L).hardtanh_,
    "F.relu6(inplace)": lambda L: lambda x: F(L).relu6(x, inplace=True),
    "F.selu(inplace)": lambda L: lambda x: F(L).selu(x, inplace=True),
    "F.selu_": lambda L: F(L).selu_,
    "torch.selu_": lambda L: L.selu_,
    "F.celu(inplace)": lambda L: lambda x: F(L).celu(x, 1.5, inplace=True),
    "F.celu_": lambda L: F(L).celu_,
    "torch.celu_": lambda L: L.celu_,
    "F.threshold(inplace)": lambda L: lambda x: F(L).threshold(x, 0.3, -1.0, inplace=True),
    "F.threshold_": lambda L: lambda x: F(L).threshold_(x, 0.3, -1.0),
    "torch.threshold_": lambda L: lambda x: L.threshold_(x, 0.3, -1.0),
    "F.hardsigmoid(inplace)": lambda L: lambda x: F(L).hardsigmoid(x, inplace=True),
    "F.hardswish(inplace)": lambda L: lambda x: F(L).hardswish(x, inplace=True),
    "F.silu(inplace)": lambda L: lambda x: F(L).silu(x, inplace=True),
    "F.mish(inplace)": lambda L: lambda x: F(L).mish(x, inplace=True),
    "F.rrelu(inplace, eval)": lambda L: lambda x: F(L).rrelu(x, inplace=True),
    "F.rrelu_(eval)": lambda L: F(L).rrelu_,
    "torch.rrelu_(eval)": lambda L: L.rrelu_,
    "F.dropout(inplace, eval)": lambda L: lambda x: F(L).dropout(x, 0.3, training=False, inplace=True),
    "nn.ELU(inplace)": lambda L: L.nn.ELU(inplace=True),
    "nn.Hardtanh(inplace)": lambda L: L.nn.Hardtanh(inplace=True),
    "nn.LeakyReLU(inplace)": lambda L: L.nn.LeakyReLU(inplace=True),
    "nn.ReLU6(inplace)": lambda L: L.nn.ReLU6(inplace=True),
    "nn.SELU(inplace)": lambda L: L.nn.SELU(inplace=True),
    "nn.CELU(inplace)": lambda L: L.nn.CELU(inplace=True),
    "nn.SiLU(inplace)": lambda L: L.nn.SiLU(inplace=True),
    "nn.Mish(inplace)": lambda L: L.nn.Mish(inplace=True),
    "nn.Hardswish(inplace)": lambda L: L.nn.Hardswish(inplace=True),
    "nn.Hardsigmoid(inplace)": lambda L: L.nn.Hardsigmoid(inplace=True),
    "nn.Threshold(inplace)": lambda L: L.nn.Threshold(0.1, 2.0, inplace=True),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_non_leaf(torch, name, dtype):
    """The result is the input object, holds PyTorch's values, and the gradient reaches the leaf."""
    x = (R.standard_normal((3, 5)) * 2).astype(dtype)
    w = R.standard_normal((3, 5)).astype(dtype)
    res = []
    for lib in (fastgrad, torch):
        leaf = lib.tensor(x, requires_grad=True)
        h = leaf * 2.0
        out = INPLACE[name](lib)(h)
        assert out is h
        (out * lib.tensor(w)).sum().backward()
        res.append((h.detach().numpy().copy(), leaf.grad.numpy().copy()))
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res[0][0], res[1][0], **tol)
    np.testing.assert_allclose(res[0][1], res[1][1], **tol)


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_without_grad(torch, name):
    x = (R.standard_normal((3, 5)) * 2).astype(np.float32)
    res = []
    for lib in (fastgrad, torch):
        t = lib.tensor(x)
        out = INPLACE[name](lib)(t)
        assert out is t
        res.append(t.numpy().copy())
        leaf = lib.tensor(x, requires_grad=True)
        with lib.no_grad():
            assert INPLACE[name](lib)(leaf) is leaf
        res.append(leaf.detach().numpy().copy())
    np.testing.assert_allclose(res[0], res[2], rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(res[1], res[3], rtol=2e-6, atol=1e-7)
    if "dropout" not in name:
        assert not np.array_equal(res[0], x)


@pytest.mark.parametrize("name", sorted(n for n in INPLACE if "dropout" not in n))
def test_inplace_on_leaf_raises(torch, name):
    x = R.standard_normal(4).astype(np.float32)
    both_raise(torch, lambda L: (lambda: INPLACE[name](L)(L.tensor(x, requires_grad=True))))


def test_inplace_bumps_the_version(torch):
    """A tensor saved for backward and then changed in place: backward raises, as in PyTorch."""
    for lib in (fastgrad, torch):
        leaf = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = leaf * 1.0
        y = h * h  # saves h
        F(lib).elu(h, inplace=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("call", [lambda L, h: F(L).leaky_relu(h, -0.2, inplace=True),
                                  lambda L, h: F(L).leaky_relu_(h, -0.1), lambda L, h: F(L).elu(h, -0.5, inplace=True),
                                  lambda L, h: F(L).celu_(h, -2.0), lambda L, h: L.celu_(h, -2.0)])
def test_inplace_negative_slope_backward_raises(torch, call):
    x = R.standard_normal(5)
    msgs, vals = [], []
    for lib in (fastgrad, torch):
        leaf = lib.tensor(x, requires_grad=True)
        h = leaf * 1.0
        out = call(lib, h)
        assert out is h
        vals.append(h.detach().numpy().copy())
        with pytest.raises(RuntimeError) as e:
            h.sum().backward()
        msgs.append(str(e.value))
        t = lib.tensor(x)
        assert call(lib, t) is t  # without autograd it just runs
    assert msgs[0] == msgs[1]
    np.testing.assert_allclose(vals[0], vals[1], rtol=1e-12)


def test_inplace_double_backward(torch):
    x = R.standard_normal(6)
    res = []
    for lib in (fastgrad, torch):
        leaf = lib.tensor(x, requires_grad=True)
        h = leaf * 1.5
        F(lib).elu(h, 0.8, inplace=True)
        (g,) = lib.autograd.grad(h.pow(2).sum(), leaf, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), leaf)
        res.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-9)


# --------------------------------------------------------------------------- errors
ERRORS = [
    lambda L: F(L).rrelu(L.randn(3), 0.5, 0.1, training=True),
    lambda L: F(L).rrelu(L.randn(3), 0.5, 0.1),
    lambda L: F(L).glu(L.randn(3, 5)),
    lambda L: F(L).glu(L.randn(3, 5), 0),
    lambda L: F(L).glu(L.randn(())),
    lambda L: F(L).glu(L.randn(3, 4), 2),
    lambda L: F(L).prelu(L.randn(3, 4), L.ones(3)),
    lambda L: F(L).prelu(L.randn(4), L.ones(4)),
    lambda L: F(L).prelu(L.randn(()), L.ones(2)),
    lambda L: F(L).prelu(L.randn(3, 4), L.ones(1, 4)),
    lambda L: F(L).prelu(L.randn(3, 4), L.ones(4, dtype=L.float64)),
    lambda L: L.nn.Softmax2d()(L.randn(3, 4)),
    lambda L: F(L).hardtanh(L.randn(3), 2.0, 1.0),
    lambda L: L.nn.Hardtanh(2.0, 1.0),
    lambda L: L.nn.Hardtanh(1.0, 1.0),
    lambda L: F(L).gelu(L.randn(3), approximate="foo"),
    lambda L: F(L).softshrink(L.randn(3), -1.0),
    lambda L: F(L).softshrink(L.randn(3, dtype=L.float64), -0.5),
    lambda L: F(L).celu(L.randn(3), 0.0),
    lambda L: F(L).elu(L.tensor([1, 2])),
    lambda L: F(L).selu(L.tensor([1, 2])),
    lambda L: F(L).leaky_relu(L.tensor([1, 2])),
    lambda L: F(L).rrelu(L.tensor([1, 2])),
    lambda L: F(L).hardsigmoid(L.tensor([1, 2])),
    lambda L: F(L).hardswish(L.tensor([1, 2])),
    lambda L: F(L).silu(L.tensor([1, 2])),
    lambda L: F(L).mish(L.tensor([1, 2])),
    lambda L: F(L).gelu(L.tensor([1, 2])),
    lambda L: F(L).softplus(L.tensor([1, 2])),
    lambda L: F(L).hardshrink(L.tensor([1, 2])),
    lambda L: F(L).softshrink(L.tensor([1, 2])),
    lambda L: F(L).logsigmoid(L.tensor([1, 2])),
    lambda L: F(L).glu(L.tensor([1, 2])),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    both_raise(torch, lambda L: (lambda: ERRORS[i](L)))


def test_integer_inputs(torch):
    x = np.array([-3, 0, 2, 7], np.int64)
    for fn in (lambda L: F(L).relu, lambda L: F(L).relu6, lambda L: F(L).hardtanh, lambda L: F(L).tanhshrink,
               lambda L: F(L).softsign, lambda L: (lambda t: F(L).threshold(t, 0.5, 2))):
        fo, to = both(torch, fn, x, grad=False)
        assert str(fo.dtype)[9:] == str(to.dtype)[6:]
