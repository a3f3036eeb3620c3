"""Dropout variants against PyTorch. The masks are random, so they are compared by structure
(which axes a mask is shared along, the values it takes, the fraction kept) and statistically;
the deterministic parts (identity in eval and at p = 0, zeros at p = 1, warnings, errors,
reprs, in-place behaviour) exactly."""
import warnings

import numpy as np
import pytest
from nn_helpers import fg_repr
from torch_compare import both_raise, warns_both

import fastgrad

R = np.random.default_rng(0)


def F(L):
    return L.nn.functional


FUNCS = {  # name: (function of the library, default training)
    "dropout": (lambda L: F(L).dropout, True),
    "dropout1d": (lambda L: F(L).dropout1d, True),
    "dropout2d": (lambda L: F(L).dropout2d, True),
    "dropout3d": (lambda L: F(L).dropout3d, True),
    "alpha_dropout": (lambda L: F(L).alpha_dropout, False),
    "feature_alpha_dropout": (lambda L: F(L).feature_alpha_dropout, False),
}
SHAPES = {  # the input shapes each accepts
    "dropout": [(5000,), (40, 50), (4, 10, 6, 5)],
    "dropout1d": [(300, 40), (20, 200, 7)],
    "dropout2d": [(20, 200, 3, 4), (20, 200, 9), (300, 40), (3, 100, 2, 2, 2)],
    "dropout3d": [(6, 100, 2, 3, 2), (300, 2, 3, 2), (200, 3, 4), (300, 20)],
    "alpha_dropout": [(5000,), (40, 50), (4, 10, 6, 5)],
    "feature_alpha_dropout": [(40, 100), (20, 200, 3), (10, 50, 2, 2)],
}
CASES = [(n, s) for n in FUNCS for s in SHAPES[n]]


def _shared_axes(ratio):
    """For each axis: is the mask the same all along it (checked against every other index)?"""
    return tuple(bool((np.diff(ratio, axis=a) == 0).all()) for a in range(ratio.ndim))


def _run(lib, name, shape, p, dtype, **kw):
    x = np.abs(R.standard_normal(shape)).astype(dtype) + 0.5
    leaf = lib.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = FUNCS[name][0](lib)(leaf, p, True, **kw)
    out.sum().backward()
    y = out.detach().numpy()
    return x, y, leaf.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.2, 0.5])
@pytest.mark.parametrize("case", CASES, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in CASES])
def test_mask_structure_matches_torch(torch, case, p, dtype):
    name, shape = case
    alpha = "alpha" in name
    res = {}
    for lib in (fastgrad, torch):
        x, y, g = _run(lib, name, shape, p, dtype)
        assert y.dtype == dtype and g.dtype == dtype and y.shape == shape
        if alpha:  # y = x * a * keep + b(keep): the gradient is a * keep
            keep = g != 0
            a = g[keep][0]
            np.testing.assert_allclose(g[keep], a, rtol=1e-6)
            np.testing.assert_allclose(y[keep], x[keep] * a + a * 1.7580993408473766 * p, rtol=2e-6, atol=1e-6)
            vals = (a, np.unique(np.round(y[~keep], 5)))
        else:  # y = x * keep / (1 - p), and the gradient is that factor
            ratio = y / x
            np.testing.assert_allclose(g, ratio, rtol=1e-6)
            keep = ratio != 0
            np.testing.assert_allclose(ratio[keep], 1 / (1 - p), rtol=1e-6)
            vals = ()
        res[lib] = (_shared_axes(keep.astype(np.int8)), keep.mean(), vals)
    (fs, fk, fv), (ts, tk, tv) = res[fastgrad], res[torch]
    assert fs == ts  # the same axes share one mask value (channel-wise masks)
    n = np.prod([s for s, shared in zip(shape, fs) if not shared])  # independent draws
    assert abs(fk - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n), (fk, n)
    if alpha:
        np.testing.assert_allclose(fv[0], tv[0], rtol=1e-6)
        np.testing.assert_allclose(fv[1], tv[1], rtol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=[f"{n}-{'x'.join(map(str, s))}" for n, s in CASES])
def test_identity_and_zeros(torch, case):
    name, shape = case
    x = R.standard_normal(shape).astype(np.float32)
    fn, default_training = FUNCS[name]
    same = []
    for lib in (fastgrad, torch):
        t = lib.tensor(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for out in (fn(lib)(t, 0.5, False), fn(lib)(t, 0.0, True)) + ((fn(lib)(t),) if not default_training else ()):
                np.testing.assert_array_equal(out.numpy(), x)  # eval and p = 0: the input (itself, or a view)
                same.append(out is t)
            leaf = lib.tensor(x, requires_grad=True)
            z = fn(lib)(leaf, 1.0, True)
        assert (z.detach().numpy() == 0).all()
        z.sum().backward()
        assert (leaf.grad.numpy() == 0).all()
    assert same[:len(same) // 2] == same[len(same) // 2:]


def test_alpha_dropout_keeps_selu_statistics():
    x = fastgrad.randn(200000)
    y = F(fastgrad).alpha_dropout(x, 0.3, True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01


@pytest.mark.parametrize("name", list(FUNCS))
def test_seeded_runs_repeat(name):
    shape = SHAPES[name][0]
    x = fastgrad.ones(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastgrad.manual_seed(7)
        a = FUNCS[name][0](fastgrad)(x, 0.4, True).numpy()
        fastgrad.manual_seed(7)
        b = FUNCS[name][0](fastgrad)(x, 0.4, True).numpy()
        c = FUNCS[name][0](fastgrad)(x, 0.4, True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


# --------------------------------------------------------------------------- warnings
@pytest.mark.parametrize("name,shape", [("dropout2d", (2, 3, 4)), ("dropout2d", (2, 3)), ("dropout2d", (2, 3, 4, 5, 6)),
                                        ("dropout2d", (2, 3, 4, 5)), ("dropout3d", (2, 3, 4)),
                                        ("dropout3d", (2, 3, 4, 5)), ("dropout3d", (2, 3, 4, 5, 6)),
                                        ("dropout1d", (2, 3)), ("dropout", (2, 3))])
@pytest.mark.parametrize("training", [True, False])
def test_warnings_match_torch(torch, name, shape, training):
    fg, th = warns_both(torch, lambda L: FUNCS[name][0](L), np.ones(shape, np.float32), 0.5, training)
    assert fg == th
    if name == "dropout2d" and len(shape) == 3:
        assert any("assuming that channel-wise 1D dropout" in m for m in fg)


def test_dropout2d_on_3d_input_is_channelwise_over_dim_1(torch):
    """A 3-D input is (N, C, L): one mask value per (n, c), shared along L."""
    x = fastgrad.ones(30, 40, 50)
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        y = F(fastgrad).dropout2d(x, 0.5).numpy()
    assert (y == y[:, :, :1]).all()
    assert len(np.unique(y)) == 2 and 0.4 < (y[:, :, 0] != 0).mean() < 0.6
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        m = fastgrad.nn.Dropout2d(0.5)(x).numpy()
    assert (m == m[:, :, :1]).all()
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):  # in eval mode too, as PyTorch
        assert (fastgrad.nn.Dropout2d(0.5).eval()(x).numpy() == 1).all()


# --------------------------------------------------------------------------- in place
@pytest.mark.parametrize("case", [(n, SHAPES[n][0]) for n in FUNCS])
def test_inplace(torch, case):
    name, shape = case
    fn = FUNCS[name][0]
    x = np.abs(R.standard_normal(shape)).astype(np.float32) + 0.5
    raised = []
    for lib in (fastgrad, torch):
        t = lib.tensor(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib)(t, 0.5, True, inplace=True)
            assert out is t and not np.array_equal(t.numpy(), x)
            leaf = lib.tensor(x, requires_grad=True)
            h = leaf * 1.0
            out = fn(lib)(h, 0.5, True, inplace=True)
            assert out is h
            out.sum().backward()
            kept = leaf.grad.numpy() != 0
            assert kept.any() and not kept.all()
            if "alpha" not in name:
                np.testing.assert_allclose(leaf.grad.numpy(), h.detach().numpy() / x, rtol=1e-6)
            try:  # eval: the input back, but dropout1d/3d unsqueeze_ an unbatched input first
                raised.append(fn(lib)(leaf, 0.5, False, inplace=True) is not leaf)
            except RuntimeError as e:
                raised.append(str(e))
    assert raised[0] == raised[1] and raised[0] in (False, "a leaf Variable that requires grad is being used in an "
                                                           "in-place operation.")
    both_raise(torch, lambda L: (lambda: fn(L)(L.tensor(x, requires_grad=True), 0.5, True, inplace=True)))


def test_torch_level_functions(torch):
    x = np.ones((30, 40, 5), np.float32)
    for name in ["dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"]:
        for lib in (fastgrad, torch):
            t = lib.tensor(x)
            assert getattr(lib, name)(t, 0.5, False) is t
            y = getattr(lib, name)(t, 0.5, True).numpy()
            assert y.shape == x.shape and len(np.unique(y)) == 2
            if name.startswith("feature"):
                assert (y == y[:, :, :1]).all()
            t2 = lib.tensor(x)
            assert getattr(lib, name + "_")(t2, 0.5, True) is t2 and not np.array_equal(t2.numpy(), x)
        both_raise(torch, lambda L: (lambda: getattr(L, name)(L.tensor(x), 1.5, True)))


# --------------------------------------------------------------------------- modules
MODULES = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


@pytest.mark.parametrize("name", MODULES)
def test_modules(torch, name):
    for kw in ({}, {"p": 0.25}, {"p": 0.1, "inplace": True}):
        fm, tm = getattr(fastgrad.nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(fm) == fg_repr(tm)
        assert type(fm).__module__ == "fastgrad.nn.modules.dropout"
    shape = {"Dropout1d": (30, 40, 5), "Dropout2d": (30, 40, 2, 3), "Dropout3d": (30, 40, 2, 1, 3)}.get(name, (30, 40, 5))
    x = fastgrad.ones(*shape)
    fm = getattr(fastgrad.nn, name)(0.5)
    y = fm(x).numpy()
    assert len(np.unique(y)) == 2 and 0.3 < (y != y.min()).mean() < 0.7
    if name in ("Dropout1d", "Dropout2d", "Dropout3d"):
        assert (y.reshape(30, 40, -1) == y.reshape(30, 40, -1)[:, :, :1]).all()
    fm.eval()
    assert fm(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        getattr(fastgrad.nn, name)(1.5)


ERRORS = [
    lambda L: F(L).feature_alpha_dropout(L.randn(4), 0.5, True),
    lambda L: F(L).dropout2d(L.randn(4), 0.5, True),
    lambda L: F(L).dropout3d(L.randn(()), 0.5, True),
    lambda L: F(L).dropout1d(L.randn(3), 0.5),
    lambda L: F(L).dropout1d(L.randn(3, 4, 5, 6), 0.5, False),
    lambda L: F(L).dropout(L.randn(3), 1.5),
    lambda L: F(L).dropout2d(L.randn(3, 4, 5), -0.5),
    lambda L: F(L).alpha_dropout(L.randn(3), -0.1),
    lambda L: F(L).feature_alpha_dropout(L.randn(3, 4), 2.0),
    lambda L: L.nn.Dropout3d(-1),
    lambda L: L.dropout(L.randn(3), 1.5, True),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    both_raise(torch, lambda L: (lambda: ERRORS[i](L)))


def test_signatures(torch):
    import inspect

    for name in ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"]:
        fs = inspect.signature(getattr(fastgrad.nn.functional, name))
        ts = inspect.signature(getattr(torch.nn.functional, name))
        assert list(fs.parameters) == list(ts.parameters), name
        assert [p.default for p in fs.parameters.values()] == [p.default for p in ts.parameters.values()], name
