"""Optimizers against PyTorch: same parameters and gradients for 100 steps give the same parameters."""
import io

import numpy as np
import pytest

import fastgrad
from fastgrad import nn, optim

SHAPES = [(5, 4), (4,), (2, 3, 2)]


def _grad(a, step):
    """A deterministic gradient of the current parameter values (both libraries compute the same)."""
    return (2.0 * (a - 0.3) + 0.5 * np.sin(3.0 * a + step)).astype(a.dtype)


def _run_both(torch, name, kwargs, steps=100, dtype=np.float32):
    rng = np.random.default_rng(1)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    fp = [nn.Parameter(fastgrad.tensor(a.copy())) for a in init]
    tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in init]
    fo = getattr(optim, name)(fp, **kwargs)
    to = getattr(torch.optim, name)(tp, **kwargs)
    for step in range(steps):
        for f, t in zip(fp, tp):
            f.grad = fastgrad.tensor(_grad(f.detach().numpy(), step))
            t.grad = torch.tensor(_grad(t.detach().numpy(), step))
        fo.step()
        to.step()
    return fp, tp, fo, to


CONFIGS = [
    ("SGD", {"lr": 0.01}), ("SGD", {}), ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}), ("SGD", {"lr": 0.01, "maximize": True}),
    ("Adam", {}), ("Adam", {"lr": 0.01, "amsgrad": True}), ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6, "maximize": True}),
    ("AdamW", {}), ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("RMSprop", {}), ("RMSprop", {"lr": 0.001, "momentum": 0.9}), ("RMSprop", {"lr": 0.001, "centered": True}),
    ("RMSprop", {"lr": 0.001, "centered": True, "momentum": 0.5, "weight_decay": 0.1, "alpha": 0.9}),
    ("Adagrad", {}), ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"maximize": True}),
]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[c[0] + str(c[1]) for c in CONFIGS])
def test_matches_torch_over_100_steps(torch, name, kwargs):
    fp, tp, fo, to = _run_both(torch, name, kwargs)
    for f, t in zip(fp, tp):
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    fs, ts = fo.state_dict(), to.state_dict()
    assert fs["param_groups"][0].keys() == ts["param_groups"][0].keys()
    for i in ts["state"]:
        assert fs["state"][i].keys() == ts["state"][i].keys()
        for k, v in ts["state"][i].items():
            if v is not None:
                np.testing.assert_allclose(fs["state"][i][k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6)


def test_float64(torch):
    fp, tp, _, _ = _run_both(torch, "Adam", {"lr": 0.01}, steps=50, dtype=np.float64)
    for f, t in zip(fp, tp):
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_updates_in_place_and_bump_version():
    p = nn.Parameter(fastgrad.ones(3))
    data, version = p._data, p._version
    p.grad = fastgrad.ones(3)
    optim.Adam([p]).step()
    assert p._data is data and p._version > version


def test_param_groups_per_group_options(torch):
    fa, fb = nn.Parameter(fastgrad.ones(3)), nn.Parameter(fastgrad.ones(2))
    ta, tb = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    fo = optim.SGD([{"params": [fa]}, {"params": fb, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    to = torch.optim.SGD([{"params": [ta]}, {"params": tb, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in fo.param_groups] == [0.1, 0.5] and fo.param_groups[1]["momentum"] == 0.9
    for _ in range(3):
        for f, t in ((fa, ta), (fb, tb)):
            f.grad, t.grad = fastgrad.ones(f.shape), torch.ones(t.shape)
        fo.step()
        to.step()
    np.testing.assert_allclose(fa.detach().numpy(), ta.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(fb.detach().numpy(), tb.detach().numpy(), rtol=1e-6)
    fc = nn.Parameter(fastgrad.ones(1))
    fo.add_param_group({"params": [fc], "lr": 1.0})
    assert fo.param_groups[2]["momentum"] == 0 and fo.param_groups[2]["lr"] == 1.0
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        fo.add_param_group({"params": [fa]})


def test_zero_grad_and_closure():
    p = nn.Parameter(fastgrad.tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradients: nothing happens
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    init = rng.standard_normal((4, 3)).astype(np.float32)
    a = nn.Parameter(fastgrad.tensor(init.copy()))
    b = nn.Parameter(fastgrad.tensor(init.copy()))
    oa = optim.Adam([a], lr=0.05, amsgrad=True)
    for step in range(5):
        a.grad = fastgrad.tensor(_grad(a.detach().numpy(), step))
        oa.step()
    b.data = a.detach().clone()
    ob = optim.Adam([b], lr=0.5)
    buf = io.BytesIO()
    fastgrad.save(oa.state_dict(), buf)
    buf.seek(0)
    ob.load_state_dict(fastgrad.load(buf))
    assert ob.param_groups[0]["lr"] == 0.05 and ob.param_groups[0]["amsgrad"] is True
    assert ob.param_groups[0]["params"][0] is b and ob.param_groups[0]["betas"] == (0.9, 0.999)
    for step in range(5, 10):
        for p, o in ((a, oa), (b, ob)):
            p.grad = fastgrad.tensor(_grad(p.detach().numpy(), step))
            o.step()
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        ob.load_state_dict({"state": {}, "param_groups": []})


def test_state_dict_layout_matches_torch(torch):
    fp = [nn.Parameter(fastgrad.ones(2)), nn.Parameter(fastgrad.ones(3))]
    tp = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]
    fo, to = optim.SGD(fp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)
    for f, t in zip(fp, tp):
        f.grad, t.grad = fastgrad.ones(f.shape), torch.ones(t.shape)
    fo.step()
    to.step()
    fs, ts = fo.state_dict(), to.state_dict()
    assert fs["param_groups"] == ts["param_groups"]
    assert list(fs["state"]) == list(ts["state"]) == [0, 1]
    assert repr(fo).replace("fastgrad", "torch") == repr(to)


INVALID = [
    ("SGD", {"lr": -1}), ("SGD", {"lr": 0.1, "momentum": -0.5}), ("SGD", {"lr": 0.1, "weight_decay": -1}),
    ("SGD", {"lr": 0.1, "nesterov": True}), ("Adam", {"lr": -1}), ("Adam", {"eps": -1}),
    ("Adam", {"betas": (1.0, 0.9)}), ("Adam", {"betas": (0.9, -0.1)}), ("Adam", {"weight_decay": -1}),
    ("AdamW", {"betas": (0.9, 1.5)}), ("RMSprop", {"alpha": -1}), ("RMSprop", {"momentum": -1}),
    ("RMSprop", {"eps": -1}), ("Adagrad", {"lr_decay": -1}), ("Adagrad", {"initial_accumulator_value": -1}),
    ("Adagrad", {"eps": -1}),
]


@pytest.mark.parametrize("name,kwargs", INVALID, ids=[c[0] + str(c[1]) for c in INVALID])
def test_invalid_hyperparameters_match_torch(torch, name, kwargs):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(1))], **kwargs)
    with pytest.raises(ValueError) as f_err:
        getattr(optim, name)([nn.Parameter(fastgrad.ones(1))], **kwargs)
    assert str(f_err.value) == str(t_err.value)


def test_bad_params():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(fastgrad.ones(1, requires_grad=True), lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([fastgrad.ones(1, requires_grad=True) * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([nn.Parameter(fastgrad.ones(1))], lr=0.1).add_param_group({"params": {nn.Parameter(fastgrad.ones(1))}})


def test_trains_a_model(torch):
    """A small regression model trained with each optimizer follows PyTorch's loss curve."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 5)).astype(np.float32), rng.standard_normal((32, 2)).astype(np.float32)
    fm = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    tm = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for name, p in fm.named_parameters():
            tm.get_parameter(name).copy_(torch.from_numpy(p.detach().numpy().copy()))
    fo, to = optim.Adam(fm.parameters(), lr=0.01), torch.optim.Adam(tm.parameters(), lr=0.01)
    for _ in range(50):
        fl = nn.MSELoss()(fm(fastgrad.tensor(x)), fastgrad.tensor(y))
        tl = torch.nn.MSELoss()(tm(torch.tensor(x)), torch.tensor(y))
        fo.zero_grad()
        to.zero_grad()
        fl.backward()
        tl.backward()
        fo.step()
        to.step()
        assert abs(fl.item() - tl.item()) < 1e-4


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
                                         ("Adam", {"amsgrad": True}), ("AdamW", {}),
                                         ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {})])
def test_state_dict_contents_match_torch(torch, name, kwargs):
    """Same state keys, dtypes, shapes and values after two steps (plain SGD keeps no state at all)."""
    fp, tp = nn.Parameter(fastgrad.ones(2, 3)), torch.nn.Parameter(torch.ones(2, 3))
    fo, to = getattr(optim, name)([fp], **kwargs), getattr(torch.optim, name)([tp], **kwargs)
    for _ in range(2):
        fp.grad, tp.grad = fastgrad.full((2, 3), 0.5), torch.full((2, 3), 0.5)
        fo.step()
        to.step()
    fs, ts = fo.state_dict(), to.state_dict()
    assert fs["param_groups"] == ts["param_groups"]
    assert list(fs["state"]) == list(ts["state"])
    for k in ts["state"]:
        assert list(fs["state"][k]) == list(ts["state"][k])
        for key, tv in ts["state"][k].items():
            fv = fs["state"][k][key]
            assert str(fv.dtype).replace("fastgrad", "torch") == str(tv.dtype) and list(fv.shape) == list(tv.shape)
            np.testing.assert_allclose(fv.numpy(), tv.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs", [{"lr": 0.1}, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}])
def test_sgd_group_with_view_params_and_grads(torch, kwargs):
    """One SGD group whose parameters the multi-tensor kernel cannot all take as they are:
    a strided view parameter and a strided view gradient."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal((4, 6)).astype(np.float32)
    plain = rng.standard_normal(5).astype(np.float32)
    fbase, tbase = fastgrad.tensor(base.copy()), torch.tensor(base.copy())
    fp = [fbase[:, ::2], fastgrad.tensor(plain.copy()), fastgrad.tensor(plain.copy())]
    tp = [tbase[:, ::2], torch.tensor(plain.copy()), torch.tensor(plain.copy())]
    fo, to = optim.SGD(fp, **kwargs), torch.optim.SGD(tp, **kwargs)
    for step in range(3):
        grads = [_grad(p.numpy(), step) for p in fp]
        for i, (f, t, g) in enumerate(zip(fp, tp, grads)):
            f.grad = fastgrad.tensor(np.repeat(g, 2))[::2] if i == 2 else fastgrad.tensor(g)
            t.grad = torch.tensor(g)
        v = [p._version for p in fp]
        fo.step()
        to.step()
        assert all(p._version > old for p, old in zip(fp, v))
    for f, t in zip(fp, tp):
        np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fbase.numpy(), tbase.numpy(), rtol=1e-6, atol=1e-7)


def test_step_runs_without_grad_and_restores_the_mode():
    p = nn.Parameter(fastgrad.ones(3))
    p.grad = fastgrad.ones(3)
    seen = []

    class Probe(optim.Optimizer):
        def __init__(self, params, fail):
            super().__init__(params, {"lr": 0.1})
            self.fail = fail

        def _update(self, p, group, state):
            seen.append(fastgrad.is_grad_enabled())
            if self.fail:
                raise ValueError("boom")

    Probe([p], False).step()
    assert seen == [False] and fastgrad.is_grad_enabled()
    with pytest.raises(ValueError, match="boom"):
        Probe([p], True).step()
    assert fastgrad.is_grad_enabled()
    with fastgrad.no_grad():
        Probe([p], False).step()
        assert not fastgrad.is_grad_enabled()
