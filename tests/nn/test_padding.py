"""F.pad in its four modes and the padding modules against PyTorch: outputs and input gradients
(float32 and float64, negative padding crops), float64 gradcheck and double backward, reprs,
torch's error messages."""
import numpy as np
import pytest
from nn_helpers import assert_close

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(2)


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def check(torch, fn, x):
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fo, to = fn(F, fx), fn(torch.nn.functional, tx)
    assert fo.dtype.itemsize == to.dtype.itemsize
    assert_close(fo, to, 1e-6, 1e-6)
    if to.numel():
        w = RNG.standard_normal(tuple(to.shape)).astype(x.dtype)
        (fo * fastgrad.tensor(w)).sum().backward()
        (to * torch.tensor(w)).sum().backward()
        assert_close(fx.grad, tx.grad, 1e-6, 1e-6)


CASES = [  # (shape, pad) per mode; negative entries crop
    ((2, 3, 5), (1, 2)), ((2, 3, 5), (-1, 2)), ((2, 3, 5), (3, -2)), ((3, 5), (2, 1)),
    ((2, 3, 4, 5), (1, 2, 3, 1)), ((2, 3, 4, 5), (-1, 2, 1, -2)), ((3, 4, 5), (2, 0, 0, 3)),
    ((2, 2, 3, 4, 5), (1, 2, 2, 1, 0, 2)), ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", CASES, ids=str)
def test_pad_modes(torch, mode, shape, pad, dtype):
    if mode == "reflect" and any(abs(p) >= min(shape[-3:]) for p in pad):
        pad = tuple(max(min(p, 1), -1) for p in pad)
    check(torch, lambda F, a: F.pad(a, pad, mode=mode), _x(*shape, dtype=dtype))


@pytest.mark.parametrize("shape,pad,value", [((2, 3), (1, 1, 2, 0), 2.5), ((2, 3, 4), (-2, -2), None),
                                             ((4,), (3, 0), -1.0), ((2, 3, 4), (1, 1, 1, 1, 1, 1), 0.5), ((), (), 1.0)],
                         ids=str)
def test_pad_constant(torch, shape, pad, value):
    check(torch, lambda F, a: F.pad(a, pad, value=value), _x(*shape))


def test_pad_integer_and_bool(torch):
    x = RNG.integers(-9, 9, (2, 3, 4))
    for mode in ("constant", "reflect", "replicate", "circular"):
        fo = F.pad(fastgrad.tensor(x), (1, 2), mode=mode)
        to = torch.nn.functional.pad(torch.tensor(x), (1, 2), mode=mode)
        assert fo.dtype == fastgrad.int64 and np.array_equal(fo.numpy(), to.numpy())
    b = x > 0
    assert np.array_equal(F.pad(fastgrad.tensor(b), (1, 2), value=True).numpy(),
                          torch.nn.functional.pad(torch.tensor(b), (1, 2), value=True).numpy())
    assert np.array_equal(F.pad(fastgrad.tensor(b), (1, 2), mode="circular").numpy(),
                          torch.nn.functional.pad(torch.tensor(b), (1, 2), mode="circular").numpy())


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    x = fastgrad.tensor(_x(2, 3, 4), requires_grad=True)
    assert gradcheck(lambda a: F.pad(a, (2, 1, -1, 2), mode=mode), (x,))
    assert gradgradcheck(lambda a: F.pad(a * a, (3, 1), mode=mode), (x,))


MODULES = [("ZeroPad1d", (2,)), ("ZeroPad2d", ((1, 2, 0, 1),)), ("ZeroPad3d", (1,)), ("ConstantPad1d", ((1, 2), 3.5)),
           ("ConstantPad2d", (1, -1.0)), ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 2.0)), ("ReflectionPad1d", (2,)),
           ("ReflectionPad2d", ((1, 2, 2, 0),)), ("ReflectionPad3d", (1,)), ("ReplicationPad1d", ((3, 1),)),
           ("ReplicationPad2d", (2,)), ("ReplicationPad3d", ((1, 2, 0, 1, 2, 0),)), ("CircularPad1d", (2,)),
           ("CircularPad2d", ((1, 2, 2, 1),)), ("CircularPad3d", (1,))]


@pytest.mark.parametrize("name,args", MODULES, ids=[m[0] for m in MODULES])
def test_padding_modules(torch, name, args):
    fm, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(fm) == repr(tm)
    assert fm.padding == tm.padding
    n = int(name[-2])
    for shape in [(2, 3) + (4, 5, 3)[:n], (3,) + (4, 5, 3)[:n]]:
        check(torch, lambda F, a: (fm if F is globals()["F"] else tm)(a), _x(*shape))
    assert type(fm).__module__ == "fastgrad.nn.modules.padding"


def _t(L, *shape, dtype=None):
    return L.arange(int(np.prod(shape)), dtype=dtype or L.float32).reshape(*shape)


ERRORS = [
    lambda L, F: F.pad(_t(L, 2, 3, 4), (-3, -2)),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (1,)),
    lambda L, F: F.pad(_t(L, 2, 3), (1, 1, 1, 1, 1, 1)),
    lambda L, F: F.pad(L.tensor(1.0), (1, 1)),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (4, 2), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 5), (5, 1, 1, 1), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 5), (1, 1, 1, 4), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 5, 6), (1, 1, 1, 1, 4, 1), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (-4, 5), mode="reflect"),
    lambda L, F: F.pad(_t(L, 4), (1, 2), mode="reflect"),
    lambda L, F: F.pad(_t(L, 3, 4), (1, 2, 1, 1), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 5), (1, 2), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 5, 6), (1, 2, 1, 1), mode="replicate"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (1, 1, 1, 1, 1, 1), mode="circular"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (1, 2), mode="reflect", value=1.0),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (1, 2), mode="foo"),
    lambda L, F: F.pad(_t(L, 2, 0, 4), (1, 2), mode="replicate"),
    lambda L, F: F.pad(_t(L, 2, 0, 4), (1, 2), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 0, 5), (1, 1, 1, 1), mode="reflect"),
    lambda L, F: F.pad(_t(L, 3, 0, 5), (1, 1, 1, 1), mode="replicate"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 0, 6), (1, 1, 1, 1, 1, 1), mode="reflect"),
    lambda L, F: F.pad(_t(L, 3, 0, 5), (1, 1, 1, 1), mode="circular"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (5, 2), mode="circular"),
    lambda L, F: F.pad(_t(L, 2, 3, 4, 5), (1, 1, 5, 1), mode="circular"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (-3, -2), mode="replicate"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (-3, -2), mode="reflect"),
    lambda L, F: F.pad(_t(L, 2, 3, 4), (-3, -2), mode="circular"),
    lambda L, F: F.pad(_t(L, 2, 3, 4) > 3, (1, 2), mode="replicate"),
    lambda L, F: L.nn.CircularPad2d(1)(_t(L, 2, 3)),
    lambda L, F: L.nn.CircularPad1d(1)(_t(L, 2, 3, 4, 5)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    with pytest.raises(Exception) as te:
        ERRORS[i](torch, torch.nn.functional)
    with pytest.raises(type(te.value)) as fe:
        ERRORS[i](fastgrad, F)
    assert str(fe.value) == str(te.value).split("\n")[0]
