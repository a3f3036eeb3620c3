"""nn.utils.parametrize, nn.utils.parametrizations and the legacy weight_norm / spectral_norm
against PyTorch: state_dict keys and shapes, forward values and the gradients of the originals
after loading torch's state into fastgrad (float64), training steps through the power
iteration, removal, the load-state-dict compatibility hooks and the errors."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def _fg_state(sd):
    return {k: fastgrad.tensor(v.detach().numpy().copy()) for k, v in sd.items()}


def _close(a, b, rtol=1e-9, atol=1e-11):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


def _make(lib, kind):
    lib.manual_seed(0)
    if kind == "linear":
        return lib.nn.Linear(5, 4).double()
    if kind == "conv":
        return lib.nn.Conv2d(2, 3, 3).double()
    if kind == "convT":
        return lib.nn.ConvTranspose2d(2, 3, 3).double()
    if kind == "square":
        return lib.nn.Linear(4, 4).double()
    if kind == "wide":
        return lib.nn.Linear(3, 5).double()  # weight 5x3
    raise ValueError(kind)


def _input(kind):
    rng = np.random.default_rng(1)
    shape = {"linear": (3, 5), "conv": (2, 2, 5, 5), "convT": (2, 2, 4, 4), "square": (3, 4), "wide": (2, 3)}[kind]
    return rng.standard_normal(shape)


def _check_pair(fm, tm, kind, steps=2):
    """Same state (torch's) in both; then `steps` forward/backward calls: outputs, gradients and
    the state afterwards (buffers updated by power iteration) agree."""
    tsd = tm.state_dict()
    fsd = fm.state_dict()
    assert list(fsd.keys()) == list(tsd.keys())
    for k in tsd:
        assert tuple(fsd[k].shape) == tuple(tsd[k].shape), k
    fm.load_state_dict(_fg_state(tsd))
    x = _input(kind)
    for _ in range(steps):
        fo = fm(fastgrad.tensor(x))
        to = tm(torch.tensor(x))
        _close(fo, to)
        w = np.cos(np.arange(to.numel())).reshape(to.shape)
        (fo * fastgrad.tensor(w)).sum().backward()
        (to * torch.tensor(w)).sum().backward()
        tp = dict(tm.named_parameters())
        for name, p in fm.named_parameters():
            _close(p.grad, tp[name].grad, rtol=1e-8, atol=1e-10)
    for k, v in tm.state_dict().items():
        _close(fm.state_dict()[k], v)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_parametrizations_weight_norm(kind, dim):
    fm, tm = _make(fastgrad, kind), _make(torch, kind)
    fastgrad.nn.utils.parametrizations.weight_norm(fm, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    assert type(fm).__name__ == type(tm).__name__ == "Parametrized" + type(tm).__bases__[0].__name__
    assert fastgrad.nn.utils.parametrize.is_parametrized(fm) and fastgrad.nn.utils.parametrize.is_parametrized(fm, "weight")
    assert not fastgrad.nn.utils.parametrize.is_parametrized(fm, "bias")
    assert fastgrad.nn.utils.parametrize.type_before_parametrizations(fm) is type(_make(fastgrad, kind))
    _check_pair(fm, tm, kind)
    # the legacy keys load into the parametrized module (the compat pre-hook)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy_t = torch.nn.utils.weight_norm(_make(torch, kind), dim=dim)
    fm.load_state_dict(_fg_state(legacy_t.state_dict()))
    _close(fm.weight, legacy_t.weight)
    fastgrad.nn.utils.parametrize.remove_parametrizations(fm, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert type(fm) is fastgrad.nn.Linear or type(fm) is fastgrad.nn.Conv2d
    assert list(fm.state_dict()) == list(tm.state_dict())
    assert isinstance(fm.weight, fastgrad.nn.Parameter)


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_parametrizations_spectral_norm(kind):
    fm, tm = _make(fastgrad, kind), _make(torch, kind)
    fastgrad.nn.utils.parametrizations.spectral_norm(fm)
    torch.nn.utils.parametrizations.spectral_norm(tm)
    _check_pair(fm, tm, kind, steps=3)
    fm.eval()
    tm.eval()
    _check_pair(fm, tm, kind, steps=1)
    with fastgrad.nn.utils.parametrize.cached():
        assert fm.weight is fm.weight
    assert fm.weight is not fm.weight


def test_parametrizations_spectral_norm_1d_and_errors():
    m = fastgrad.nn.utils.parametrizations.spectral_norm(fastgrad.nn.Linear(3, 4).double(), "bias")
    _close(m.bias, torch.nn.functional.normalize(torch.tensor(m.parametrizations.bias.original.detach().numpy()),
                                                 dim=0))
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        fastgrad.nn.utils.parametrizations.spectral_norm(fastgrad.nn.Linear(3, 4), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        fastgrad.nn.utils.parametrizations.spectral_norm(fastgrad.nn.Linear(3, 4), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
        fastgrad.nn.utils.parametrizations.spectral_norm(fastgrad.nn.Linear(3, 4), "w")


@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder", None])
@pytest.mark.parametrize("kind", ["square", "linear", "wide"])
def test_parametrizations_orthogonal(omap, kind):
    fm, tm = _make(fastgrad, kind), _make(torch, kind)
    fastgrad.nn.utils.parametrizations.orthogonal(fm, orthogonal_map=omap)
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=omap)
    w = fm.weight
    q = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(q.detach().numpy(), np.eye(q.shape[0]), atol=1e-12)
    _check_pair(fm, tm, kind)
    # assigning an orthogonal matrix reproduces it
    target = tm.weight.detach().clone()
    fm.weight = fastgrad.tensor(target.numpy().copy())
    _close(fm.weight, target, rtol=1e-9, atol=1e-10)


def test_orthogonal_no_trivialization_and_errors():
    m = fastgrad.nn.utils.parametrizations.orthogonal(fastgrad.nn.Linear(4, 5).double(), orthogonal_map="householder",
                                                      use_trivialization=False)
    assert "parametrizations.weight.0.base" not in m.state_dict()
    w = m.weight
    np.testing.assert_allclose((w.T @ w).detach().numpy(), np.eye(4), atol=1e-12)
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        fastgrad.nn.utils.parametrizations.orthogonal(fastgrad.nn.Linear(4, 4), orthogonal_map="qr")
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor of 1 dimensions."):
        fastgrad.nn.utils.parametrizations.orthogonal(fastgrad.nn.Linear(4, 4), "bias")
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        fastgrad.nn.utils.parametrizations.orthogonal(fastgrad.nn.Linear(4, 4), orthogonal_map="cayley",
                                                      use_trivialization=False).weight = fastgrad.eye(4)


class _Sym(object):
    @staticmethod
    def make(lib):
        class Symmetric(lib.nn.Module):
            def forward(self, x):
                return x.triu() + x.triu(1).transpose(-1, -2)

            def right_inverse(self, a):
                return a.triu()

        class Scale(lib.nn.Module):
            def forward(self, x):
                return 2 * x

        return Symmetric, Scale


def test_register_chain_assign_and_remove():
    for lib in (fastgrad, torch):
        Symmetric, Scale = _Sym.make(lib)
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 3).double()
        orig = m.weight
        P = lib.nn.utils.parametrize
        P.register_parametrization(m, "weight", Symmetric())
        assert m.parametrizations.weight.original is orig  # the same tensor object
        P.register_parametrization(m, "weight", Scale())
        a = np.arange(9.0).reshape(3, 3)
        with pytest.raises(RuntimeError, match="parametrization Scale does not implement right_inverse."):
            m.weight = lib.tensor(a)
        assert len(m.parametrizations.weight) == 2
        setattr(m, "res_" + lib.__name__, m.weight.detach().numpy().copy())
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
        assert type(m).__name__ == "Linear" and isinstance(m.weight, lib.nn.Parameter)
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            P.remove_parametrizations(m, "weight")
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element "
                                             "with name 'nope'"):
            P.register_parametrization(m, "nope", Scale())

        class Bad(lib.nn.Module):
            def forward(self, x):
                return x[0]

        with pytest.raises(ValueError, match="may not change the shape of the tensor"):
            P.register_parametrization(m, "weight", Bad())


def test_parametrize_buffer_and_multi_tensor_removal():
    for lib in (fastgrad, torch):
        m = lib.nn.BatchNorm1d(3).double()
        lib.nn.utils.parametrize.register_parametrization(m, "running_var", lib.nn.Softplus())
        assert "parametrizations.running_var.original" in m.state_dict()
        m2 = lib.nn.utils.parametrizations.weight_norm(lib.nn.Linear(2, 3))
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            lib.nn.utils.parametrize.remove_parametrizations(m2, "weight", leave_parametrized=False)
        w = m2.weight.detach().numpy().copy()
        lib.nn.utils.parametrize.remove_parametrizations(m2, "weight")
        np.testing.assert_allclose(m2.weight.detach().numpy(), w)
        assert list(m2.state_dict()) == ["bias", "weight"]


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_legacy_weight_norm(kind, dim):
    fm, tm = _make(fastgrad, kind), _make(torch, kind)
    with pytest.warns(FutureWarning, match="deprecated in favor of `torch.nn.utils.parametrizations.weight_norm`"):
        fastgrad.nn.utils.weight_norm(fm, dim=dim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.nn.utils.weight_norm(tm, dim=dim)
    assert "weight" not in dict(fm.named_parameters())
    _check_pair(fm, tm, kind)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same parameter weight"):
        fastgrad.nn.utils.weight_norm(fm, dim=dim)
    fastgrad.nn.utils.remove_weight_norm(fm)
    torch.nn.utils.remove_weight_norm(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    _close(fm.weight, tm.weight)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in"):
        fastgrad.nn.utils.remove_weight_norm(fm)


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_legacy_spectral_norm(kind):
    fm, tm = _make(fastgrad, kind), _make(torch, kind)
    fastgrad.nn.utils.spectral_norm(fm)
    torch.nn.utils.spectral_norm(tm)
    assert fm.state_dict()._metadata[""] == tm.state_dict()._metadata[""]
    _check_pair(fm, tm, kind, steps=3)
    fm.eval()
    tm.eval()
    _check_pair(fm, tm, kind, steps=1)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks on the same parameter weight"):
        fastgrad.nn.utils.spectral_norm(fm)
    fastgrad.nn.utils.remove_spectral_norm(fm)
    torch.nn.utils.remove_spectral_norm(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    assert fm.state_dict()._metadata[""] == tm.state_dict()._metadata[""]
    _close(fm.weight, tm.weight)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found in"):
        fastgrad.nn.utils.remove_spectral_norm(fm)


def test_legacy_spectral_norm_version0_checkpoint():
    """A version-0 state dict (W stored, no v): v is solved from W_orig, u and sigma, as in torch."""
    tm = torch.nn.utils.spectral_norm(_make(torch, "linear"))
    fm = fastgrad.nn.utils.spectral_norm(_make(fastgrad, "linear"))
    sd = tm.state_dict()
    sd["weight"] = tm.weight.detach()
    del sd["weight_v"]
    sd._metadata[""]["spectral_norm"]["weight.version"] = 0
    fsd = _fg_state(sd)
    fsd = type(sd)(fsd)
    fsd._metadata = sd._metadata
    tm.load_state_dict(sd)
    fm.load_state_dict(fsd)
    _close(fm.weight_v, tm.weight_v, rtol=1e-7, atol=1e-9)
