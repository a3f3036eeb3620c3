"""GroupNorm, InstanceNorm1d/2d/3d, RMSNorm, LocalResponseNorm, CrossMapLRN2d (and LayerNorm's
bias=) against PyTorch: outputs, gradients of inputs and parameters (float32 and float64),
running statistics, state_dict keys, reprs, float64 gradcheck and double backward, errors."""
import warnings

import numpy as np
import pytest
from nn_helpers import assert_close

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(4)
DTYPES = [np.float32, np.float64]


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _tdtype(torch, dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def _fdtype(dtype):
    return fastgrad.float64 if dtype == np.float64 else fastgrad.float32


def check_module(torch, fm, tm, x, steps=1):
    """Same parameters, inputs, outputs, gradients (input and parameters) and buffers after `steps` calls."""
    rtol, atol = (2e-5, 2e-5) if x.dtype == np.float32 else (1e-9, 1e-10)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    with torch.no_grad():  # parameters away from their defaults (ones / zeros)
        for name, p in tm.named_parameters():
            p.copy_(torch.tensor(_x(*p.shape, dtype=x.dtype)))
    for name, p in fm.named_parameters():
        p.data = fastgrad.tensor(tm.get_parameter(name).detach().numpy().copy())
    for _ in range(steps):
        fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        fo, to = fm(fx), tm(tx)
        assert_close(fo, to, rtol, atol)
        w = _x(*to.shape, dtype=x.dtype)
        (fo * fastgrad.tensor(w)).sum().backward()
        (to * torch.tensor(w)).sum().backward()
        assert_close(fx.grad, tx.grad, rtol, atol)
        for name, p in fm.named_parameters():
            assert_close(p.grad, tm.get_parameter(name).grad, rtol, atol)
    for name, b in fm.named_buffers():
        assert_close(b, tm.get_buffer(name), rtol, atol)


# --------------------------------------------------------------------------- GroupNorm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("groups,shape,kw", [(2, (3, 4, 5), {}), (3, (2, 6, 4, 5), {}), (1, (2, 4, 3, 2, 2), {}),
                                             (2, (3, 4), {}), (2, (3, 4, 5), dict(affine=False)),
                                             (2, (3, 4, 5), dict(bias=False, eps=1e-3))], ids=str)
def test_group_norm(torch, groups, shape, kw, dtype):
    fm = nn.GroupNorm(groups, shape[1], dtype=_fdtype(dtype), **kw)
    tm = torch.nn.GroupNorm(groups, shape[1], dtype=_tdtype(torch, dtype), **kw)
    check_module(torch, fm, tm, _x(*shape, dtype=dtype))


# --------------------------------------------------------------------------- InstanceNorm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 5)), ("InstanceNorm1d", (4, 6)),
                                       ("InstanceNorm2d", (2, 4, 3, 5)), ("InstanceNorm2d", (4, 3, 5)),
                                       ("InstanceNorm3d", (2, 4, 3, 2, 3))], ids=str)
@pytest.mark.parametrize("kw", [{}, dict(affine=True), dict(track_running_stats=True, momentum=0.3),
                                dict(affine=True, track_running_stats=True, bias=False),
                                dict(track_running_stats=True, momentum=None)], ids=str)
def test_instance_norm(torch, cls, shape, kw, dtype):
    fm = getattr(nn, cls)(4, dtype=_fdtype(dtype), **kw)
    tm = getattr(torch.nn, cls)(4, dtype=_tdtype(torch, dtype), **kw)
    check_module(torch, fm, tm, _x(*shape, dtype=dtype), steps=2)
    fm.eval()
    tm.eval()
    check_module(torch, fm, tm, _x(*shape, dtype=dtype))


def test_instance_norm_functional(torch):
    x = _x(3, 4, 5)
    rm, rv = _x(4), np.abs(_x(4)) + 0.5
    fr, fv, tr, tv = (fastgrad.tensor(rm.copy()), fastgrad.tensor(rv.copy()), torch.tensor(rm.copy()),
                      torch.tensor(rv.copy()))
    for use_input_stats in (True, False):
        fo = F.instance_norm(fastgrad.tensor(x), fr, fv, use_input_stats=use_input_stats, momentum=0.2, eps=1e-3)
        to = torch.nn.functional.instance_norm(torch.tensor(x), tr, tv, use_input_stats=use_input_stats,
                                               momentum=0.2, eps=1e-3)
        assert_close(fo, to, 1e-9, 1e-10)
        assert_close(fr, tr, 1e-9, 1e-10)
        assert_close(fv, tv, 1e-9, 1e-10)


def test_instance_norm_warns_on_feature_mismatch(torch):
    x = _x(2, 4, 5)
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features") as fw:
        y = nn.InstanceNorm1d(3)(fastgrad.tensor(x))
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        assert_close(y, torch.nn.InstanceNorm1d(3)(torch.tensor(x)), 1e-9, 1e-10)
    assert str(fw[0].message) == str(tw[0].message)
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\), but got: 4."):
        nn.InstanceNorm1d(3, affine=True)(fastgrad.tensor(x))


def test_instance_norm_old_checkpoint_keys(torch):
    with pytest.raises(RuntimeError) as te:
        torch.nn.InstanceNorm1d(3).load_state_dict({"running_mean": torch.zeros(3)}, strict=False)
    with pytest.raises(RuntimeError) as fe:
        nn.InstanceNorm1d(3).load_state_dict({"running_mean": fastgrad.zeros(3)}, strict=False)
    assert str(fe.value) == str(te.value)


# --------------------------------------------------------------------------- RMSNorm / LayerNorm bias
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,norm,kw", [((3, 5), 5, {}), ((2, 3, 4), (3, 4), dict(eps=1e-3)),
                                           ((2, 3, 4), [4], dict(elementwise_affine=False)), ((4,), 4, {})], ids=str)
def test_rms_norm(torch, shape, norm, kw, dtype):
    fm = nn.RMSNorm(norm, dtype=_fdtype(dtype), **kw)
    tm = torch.nn.RMSNorm(norm, dtype=_tdtype(torch, dtype), **kw)
    check_module(torch, fm, tm, _x(*shape, dtype=dtype))


def test_layer_norm_bias_argument(torch):
    fm, tm = nn.LayerNorm(4, bias=False), torch.nn.LayerNorm(4, bias=False)
    assert fm.bias is None
    check_module(torch, fm, tm, _x(3, 4, dtype=np.float32))


# --------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 6, 4, 3), (2, 5, 3, 2, 2)], ids=str)
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm(torch, shape, size, dtype):
    fm, tm = nn.LocalResponseNorm(size, 0.3, 0.7, 1.5), torch.nn.LocalResponseNorm(size, 0.3, 0.7, 1.5)
    check_module(torch, fm, tm, _x(*shape, dtype=dtype))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_cross_map_lrn2d(torch, size):
    """Forward as torch's; torch's hand-written backward fails its own gradcheck, so the gradient
    (that of the forward) is checked by finite differences instead."""
    fm, tm = nn.CrossMapLRN2d(size, 0.3, 0.7, 1.5), torch.nn.CrossMapLRN2d(size, 0.3, 0.7, 1.5)
    assert repr(fm) == repr(tm)
    for dtype in DTYPES:
        x = _x(2, 6, 4, 3, dtype=dtype)
        assert_close(fm(fastgrad.tensor(x)), tm(torch.tensor(x)), 1e-5, 1e-6)
    assert gradcheck(fm, (fastgrad.tensor(_x(1, 5, 2, 2), requires_grad=True),))


# --------------------------------------------------------------------------- gradcheck
GRADCHECK = [
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3)),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (2, 4, 3)),
    ("rms_norm", lambda x, w, b: F.rms_norm(x, (4, 3), w.reshape(4, 1).expand(4, 3)) + b.sum(), (2, 4, 3)),
    ("local_response_norm", lambda x, w, b: F.local_response_norm(x * w.reshape(4, 1), 3, 0.5, 0.75, 1.0), (2, 4, 3)),
]


@pytest.mark.parametrize("name,fn,shape", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, shape):
    args = (fastgrad.tensor(_x(*shape), requires_grad=True), fastgrad.tensor(_x(shape[1]), requires_grad=True),
            fastgrad.tensor(_x(shape[1]), requires_grad=True))
    assert gradcheck(fn, args)
    assert gradgradcheck(fn, args)


# --------------------------------------------------------------------------- errors
def _t(L, *shape, dtype=None):
    return L.ones(*shape) if dtype is None else L.ones(*shape, dtype=dtype)


ERRORS = [
    lambda L, F: F.group_norm(_t(L, 4), 2),
    lambda L, F: F.group_norm(_t(L, 2, 5, 3), 2),
    lambda L, F: F.group_norm(_t(L, 2, 4, 5), 2, _t(L, 3)),
    lambda L, F: F.group_norm(_t(L, 2, 4, 5), 2, _t(L, 4), _t(L, 3)),
    lambda L, F: F.group_norm(_t(L, 1, 2, 1), 2),
    lambda L, F: F.group_norm(_t(L, 2, 4, 5, dtype=L.int64), 2),
    lambda L, F: L.nn.GroupNorm(3, 4),
    lambda L, F: L.nn.GroupNorm(2, 4)(_t(L, 2, 6, 3)),
    lambda L, F: F.instance_norm(_t(L, 2, 3, 1)),
    lambda L, F: F.instance_norm(_t(L, 3, 4)),
    lambda L, F: F.instance_norm(_t(L, 2, 4, 5), use_input_stats=False),
    lambda L, F: F.instance_norm(_t(L, 2, 4, 5), _t(L, 3), _t(L, 3)),
    lambda L, F: F.instance_norm(_t(L, 2, 4, 5), weight=_t(L, 3)),
    lambda L, F: F.instance_norm(_t(L, 2, 4, 5, dtype=L.int64)),
    lambda L, F: L.nn.InstanceNorm1d(4)(_t(L, 2, 4, 5, 6)),
    lambda L, F: L.nn.InstanceNorm2d(4)(_t(L, 2, 4)),
    lambda L, F: L.nn.InstanceNorm3d(3, affine=True)(_t(L, 2, 4, 2, 2, 2)),
    lambda L, F: F.rms_norm(_t(L, 2, 4, 5), (4,)),
    lambda L, F: F.rms_norm(_t(L, 2, 4, 5), (5,), _t(L, 4)),
    lambda L, F: F.rms_norm(_t(L, 2, 4, 5, dtype=L.int64), (5,)),
    lambda L, F: F.rms_norm(_t(L, 2, 4, 5), 5),
    lambda L, F: F.rms_norm(_t(L, 2, 4, 5), ()),
    lambda L, F: F.local_response_norm(_t(L, 3, 4), 2),
    lambda L, F: L.nn.CrossMapLRN2d(3)(_t(L, 2, 3, 4)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    with pytest.raises(Exception) as te:
        ERRORS[i](torch, torch.nn.functional)
    with pytest.raises(type(te.value)) as fe:
        ERRORS[i](fastgrad, F)
    assert str(fe.value) == str(te.value).split("\n")[0].replace("torch.", "fastgrad.")
