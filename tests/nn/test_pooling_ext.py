"""1-D / 3-D max and average pooling, adaptive, LP pooling and max unpooling against PyTorch:
outputs, indices, input gradients (float32 and float64), float64 gradcheck and double backward,
module reprs, and torch's error messages."""
import numpy as np
import pytest
from nn_helpers import assert_close

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def check_fn(torch, fn, *arrays, rtol=None, atol=None):
    """fn(F, *tensors) against torch: outputs (indices exactly) and the gradients of the inputs."""
    dt = arrays[0].dtype
    rtol = rtol or (1e-5 if dt == np.float32 else 1e-10)
    atol = atol or (1e-5 if dt == np.float32 else 1e-10)
    fx = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    fo, to = fn(F, *fx), fn(torch.nn.functional, *tx)
    if isinstance(to, tuple):
        for a, b in zip(fo[1:], to[1:]):
            assert a.dtype == fastgrad.int64
            assert np.array_equal(a.numpy(), b.numpy())
        fo, to = fo[0], to[0]
    assert fo.dtype.itemsize == to.dtype.itemsize
    assert_close(fo, to, rtol, atol)
    w = RNG.standard_normal(tuple(to.shape)).astype(dt)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for f, t in zip(fx, tx):
        assert_close(f.grad, t.grad, rtol, atol)


# --------------------------------------------------------------------------- max / avg pooling
MAX1D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, ceil_mode=True),
         dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True), dict(kernel_size=(4,), stride=(3,)),
         dict(kernel_size=2, return_indices=True), dict(kernel_size=3, stride=1, padding=1, return_indices=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", MAX1D, ids=[str(k) for k in MAX1D])
def test_max_pool1d(torch, kw, dtype):
    check_fn(torch, lambda F, x: F.max_pool1d(x, **kw), _x(2, 3, 11, dtype=dtype))
    check_fn(torch, lambda F, x: F.max_pool1d(x, **kw), _x(3, 10, dtype=dtype))  # unbatched
    fm, tm = nn.MaxPool1d(**kw), torch.nn.MaxPool1d(**kw)
    assert repr(fm) == repr(tm)


MAX3D = [dict(kernel_size=2), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0)),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), dict(kernel_size=2, dilation=(2, 1, 2)),
         dict(kernel_size=2, stride=1, return_indices=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", MAX3D, ids=[str(k) for k in MAX3D])
def test_max_pool3d(torch, kw, dtype):
    check_fn(torch, lambda F, x: F.max_pool3d(x, **kw), _x(2, 2, 5, 6, 7, dtype=dtype))
    check_fn(torch, lambda F, x: F.max_pool3d(x, **kw), _x(2, 5, 4, 5, dtype=dtype))
    assert repr(nn.MaxPool3d(**kw)) == repr(torch.nn.MaxPool3d(**kw))


def test_max_pool_ties_and_minus_inf(torch):
    x = np.zeros((1, 2, 7), np.float32)
    x[0, 1] = -np.inf
    for kw in (dict(kernel_size=3, stride=2, padding=1, return_indices=True),
               dict(kernel_size=2, ceil_mode=True, return_indices=True)):
        fy, fi = F.max_pool1d(fastgrad.tensor(x), **kw)
        ty, ti = torch.nn.functional.max_pool1d(torch.tensor(x), **kw)
        assert_close(fy, ty)
        assert np.array_equal(fi.numpy(), ti.numpy())
    fy, fi = F.max_pool2d_with_indices(fastgrad.tensor(x[None]), 2, ceil_mode=True)
    ty, ti = torch.nn.functional.max_pool2d_with_indices(torch.tensor(x[None]), 2, ceil_mode=True)
    assert np.array_equal(fi.numpy(), ti.numpy())


AVG1D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
         dict(kernel_size=3, stride=2, ceil_mode=True),
         dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
         dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", AVG1D, ids=[str(k) for k in AVG1D])
def test_avg_pool1d(torch, kw, dtype):
    check_fn(torch, lambda F, x: F.avg_pool1d(x, **kw), _x(2, 3, 10, dtype=dtype))
    check_fn(torch, lambda F, x: F.avg_pool1d(x, **kw), _x(3, 11, dtype=dtype))
    assert repr(nn.AvgPool1d(**kw)) == repr(torch.nn.AvgPool1d(**kw))


AVG3D = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
         dict(kernel_size=(3, 2, 3), stride=2, padding=(1, 0, 1), ceil_mode=True, count_include_pad=False),
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), dict(kernel_size=2, divisor_override=3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", AVG3D, ids=[str(k) for k in AVG3D])
def test_avg_pool3d(torch, kw, dtype):
    check_fn(torch, lambda F, x: F.avg_pool3d(x, **kw), _x(2, 2, 5, 6, 7, dtype=dtype))
    check_fn(torch, lambda F, x: F.avg_pool3d(x, **kw), _x(2, 4, 5, 6, dtype=dtype))
    assert repr(nn.AvgPool3d(**kw)) == repr(torch.nn.AvgPool3d(**kw))


def test_avg_pool_integer_input(torch):
    x = RNG.integers(-20, 20, (2, 3, 9))
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        fy = F.avg_pool1d(fastgrad.tensor(x), **kw)
        ty = torch.nn.functional.avg_pool1d(torch.tensor(x), **kw)
        assert fy.dtype == fastgrad.int64 and np.array_equal(fy.numpy(), ty.numpy())
    x5 = RNG.integers(-20, 20, (1, 2, 4, 4, 4))
    fy = F.avg_pool3d(fastgrad.tensor(x5), 3, 1, 1)
    assert np.array_equal(fy.numpy(), torch.nn.functional.avg_pool3d(torch.tensor(x5), 3, 1, 1).numpy())


# --------------------------------------------------------------------------- adaptive
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", [1, 3, 4, 7, 9, 13])
def test_adaptive_1d(torch, out, dtype):
    x = _x(2, 3, 9, dtype=dtype)
    check_fn(torch, lambda F, a: F.adaptive_avg_pool1d(a, out), x)
    check_fn(torch, lambda F, a: F.adaptive_max_pool1d(a, out, return_indices=True), x)
    check_fn(torch, lambda F, a: F.adaptive_max_pool1d(a, (out,)), x[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", [1, (3, 4), (None, 2), (7, None), (10, 3)], ids=str)
def test_adaptive_2d(torch, out, dtype):
    x = _x(2, 3, 7, 5, dtype=dtype)
    check_fn(torch, lambda F, a: F.adaptive_avg_pool2d(a, out), x)
    check_fn(torch, lambda F, a: F.adaptive_max_pool2d(a, out, True), x)
    check_fn(torch, lambda F, a: F.adaptive_max_pool2d_with_indices(a, out), x[0])
    for cls in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        assert repr(getattr(nn, cls)(out)) == repr(getattr(torch.nn, cls)(out))


@pytest.mark.parametrize("out", [1, (2, 3, 4), (None, 2, 7)], ids=str)
def test_adaptive_3d(torch, out):
    x = _x(2, 3, 5, 6, 4, dtype=np.float32)
    check_fn(torch, lambda F, a: F.adaptive_avg_pool3d(a, out), x)
    check_fn(torch, lambda F, a: F.adaptive_max_pool3d(a, out, True), x)
    for cls in ("AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AdaptiveAvgPool1d", "AdaptiveMaxPool1d"):
        assert repr(getattr(nn, cls)(out)) == repr(getattr(torch.nn, cls)(out))


def test_adaptive_modules(torch):
    x = _x(2, 4, 8, 6, dtype=np.float32)
    fo, fi = nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(fastgrad.tensor(x))
    to, ti = torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(torch.tensor(x))
    assert_close(fo, to)
    assert np.array_equal(fi.numpy(), ti.numpy())
    assert_close(nn.AdaptiveAvgPool1d(3)(fastgrad.tensor(x[0])), torch.nn.AdaptiveAvgPool1d(3)(torch.tensor(x[0])))
    assert_close(nn.AdaptiveAvgPool3d(2)(fastgrad.tensor(x)), torch.nn.AdaptiveAvgPool3d(2)(torch.tensor(x)))


# --------------------------------------------------------------------------- LP pooling, unpooling
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2, 3.5, float("inf")])
def test_lp_pool(torch, p, dtype):
    x = np.abs(_x(2, 3, 9, 8, dtype=dtype)) + 0.1  # away from 0: |x|^(1/p) has no finite derivative there
    check_fn(torch, lambda F, a: F.lp_pool1d(a, p, 3, 2), x[0])
    check_fn(torch, lambda F, a: F.lp_pool2d(a, p, (2, 3), ceil_mode=True), x)
    check_fn(torch, lambda F, a: F.lp_pool3d(a, p, 2), x[:, :, None].repeat(2, 2))
    for cls, args in (("LPPool1d", (p, 3)), ("LPPool2d", (p, 2, 1)), ("LPPool3d", (p, 2, None, True))):
        fm, tm = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
        assert repr(fm) == repr(tm)
    assert_close(nn.LPPool2d(p, 2)(fastgrad.tensor(x)), torch.nn.LPPool2d(p, 2)(torch.tensor(x)))


def _pool_unpool(F, x, nd, **kw):
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
    unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[nd - 1]
    y, i = pool(x, 2, stride=kw.get("stride"), padding=kw.get("padding", 0), return_indices=True)
    return unpool(y, i, 2, **kw)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_unpool(torch, dtype):
    check_fn(torch, lambda F, a: _pool_unpool(F, a, 1), _x(2, 3, 8, dtype=dtype))
    check_fn(torch, lambda F, a: _pool_unpool(F, a, 1, output_size=[9]), _x(2, 3, 9, dtype=dtype))
    check_fn(torch, lambda F, a: _pool_unpool(F, a, 2, output_size=a.shape), _x(2, 3, 5, 7, dtype=dtype))
    check_fn(torch, lambda F, a: _pool_unpool(F, a, 2, stride=1, padding=1), _x(3, 5, 6, dtype=dtype))
    check_fn(torch, lambda F, a: _pool_unpool(F, a, 3), _x(2, 1, 4, 4, 6, dtype=dtype))
    x = fastgrad.tensor(_x(1, 2, 4, 6))
    y, i = nn.MaxPool2d(2, return_indices=True)(x)
    un = nn.MaxUnpool2d(2)
    assert repr(un) == repr(torch.nn.MaxUnpool2d(2))
    assert repr(nn.MaxUnpool1d(2, 1, 1)) == repr(torch.nn.MaxUnpool1d(2, 1, 1))
    assert repr(nn.MaxUnpool3d(2)) == repr(torch.nn.MaxUnpool3d(2))
    z = un(y, i)
    assert tuple(z.shape) == (1, 2, 4, 6) and float((z != 0).sum()) == 12


# --------------------------------------------------------------------------- gradcheck
GRADCHECK = [
    ("max_pool1d", lambda a: F.max_pool1d(a, 3, 2, 1, ceil_mode=True), (2, 2, 8)),
    ("max_pool3d", lambda a: F.max_pool3d(a, 2, 1, 1), (1, 2, 3, 3, 4)),
    ("avg_pool1d", lambda a: F.avg_pool1d(a, 3, 2, 1, True, False), (2, 2, 8)),
    ("avg_pool3d", lambda a: F.avg_pool3d(a, 3, 2, 1, True), (1, 2, 4, 3, 5)),
    ("adaptive_avg_pool2d", lambda a: F.adaptive_avg_pool2d(a, (3, 2)), (1, 2, 5, 7)),
    ("adaptive_max_pool2d", lambda a: F.adaptive_max_pool2d(a, (3, 4)), (1, 2, 5, 7)),
    ("adaptive_avg_pool1d", lambda a: F.adaptive_avg_pool1d(a, 4), (2, 7)),
    ("lp_pool2d", lambda a: F.lp_pool2d(a.abs() + 0.5, 2.5, 2), (1, 2, 4, 4)),
    ("max_unpool2d", lambda a: F.max_unpool2d(*F.max_pool2d(a, 2, return_indices=True), 2), (1, 2, 4, 4)),
]


@pytest.mark.parametrize("name,fn,shape", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, shape):
    x = fastgrad.tensor(_x(*shape), requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


# --------------------------------------------------------------------------- errors
def _t(L, *shape, dtype=None):
    return L.ones(*shape) if dtype is None else L.ones(*shape, dtype=dtype)


ERRORS = [
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 7),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 3, padding=2),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5, 6), 3),
    lambda L, F: F.max_pool1d(_t(L, 2, 0, 5), 3),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 3, 0),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 0),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 2, dilation=0),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), (2, 2)),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 2, (1, 1)),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 2, padding=-1),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5, dtype=L.int64), 2),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 7, return_indices=True),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), 3, padding=2, return_indices=True),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5, 6), 3, return_indices=True),
    lambda L, F: F.max_pool1d(_t(L, 2, 3, 5), (2, 2), return_indices=True),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 4, 5, 6), 5),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 4, 5, 6), 3, padding=2),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 5), 2),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 4, 5, 6), 0),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 4, 5, 6), (2, 2)),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 4, 5, 6), 2, (1, 1)),
    lambda L, F: F.max_pool3d(_t(L, 2, 3, 4, 5, 6), 2, dilation=0),
    lambda L, F: F.max_pool3d(_t(L, 2, 0, 4, 5, 6), 2),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5), 7),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5), 3, padding=2),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5, 6), 3),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5), 3, 0),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5), 0, 1),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5), (2, 2)),
    lambda L, F: F.avg_pool1d(_t(L, 2, 3, 5), 2, padding=-1),
    lambda L, F: F.avg_pool1d(_t(L, 2, 0, 5), 2),
    lambda L, F: F.avg_pool3d(_t(L, 2, 3, 4, 5, 6), 5),
    lambda L, F: F.avg_pool3d(_t(L, 2, 3, 4, 5, 6), 5, padding=2),
    lambda L, F: F.avg_pool3d(_t(L, 2, 3, 4, 5, 6), 3, padding=2),
    lambda L, F: F.avg_pool3d(_t(L, 2, 3, 5), 2),
    lambda L, F: F.avg_pool3d(_t(L, 2, 3, 4, 5, 6), 2, divisor_override=0),
    lambda L, F: F.avg_pool3d(_t(L, 2, 3, 4, 5, 6), (2, 2)),
    lambda L, F: F.avg_pool3d(_t(L, 2, 0, 4, 5, 6), 2),
    lambda L, F: F.adaptive_avg_pool1d(_t(L, 2, 3, 5, 6), 2),
    lambda L, F: F.adaptive_avg_pool1d(_t(L, 2, 3, 5), (2, 3)),
    lambda L, F: F.adaptive_avg_pool1d(_t(L, 2, 3, 5), -1),
    lambda L, F: F.adaptive_avg_pool1d(_t(L, 2, 3, 0), 2),
    lambda L, F: F.adaptive_avg_pool1d(_t(L, 2, 3, 5, dtype=L.int64), 2),
    lambda L, F: F.adaptive_avg_pool2d(_t(L, 2, 3, 4, 5, 6), 2),
    lambda L, F: F.adaptive_avg_pool2d(_t(L, 2, 3, 0, 4), 2),
    lambda L, F: F.adaptive_avg_pool2d(_t(L, 2, 3, 5, 6), (1, 2, 3)),
    lambda L, F: F.adaptive_avg_pool2d(_t(L, 2, 3, 5, 6), (3,)),
    lambda L, F: F.adaptive_avg_pool2d(_t(L, 2, 3, 5, 6), (-1, 2)),
    lambda L, F: F.adaptive_avg_pool2d(_t(L, 4, 5), (2, 2)),
    lambda L, F: F.adaptive_avg_pool3d(_t(L, 2, 3, 5), 2),
    lambda L, F: F.adaptive_avg_pool3d(_t(L, 2, 3, 4, 5, 6), (-1, 2, 2)),
    lambda L, F: F.adaptive_max_pool1d(_t(L, 2, 3, 5, 6), 2),
    lambda L, F: F.adaptive_max_pool1d(_t(L, 2, 3, 0), 2),
    lambda L, F: F.adaptive_max_pool1d(_t(L, 2, 3, 5), -2),
    lambda L, F: F.adaptive_max_pool1d(_t(L, 2, 3, 5, dtype=L.int64), 2),
    lambda L, F: F.adaptive_max_pool2d(_t(L, 2, 3, 4, 5, 6), 2),
    lambda L, F: F.adaptive_max_pool2d(_t(L, 2, 3, 0, 3), 2),
    lambda L, F: F.adaptive_max_pool2d(_t(L, 2, 3, 5, 6), (1, 2, 3)),
    lambda L, F: F.adaptive_max_pool2d(_t(L, 2, 3, 5, 6), (-1, 2)),
    lambda L, F: F.adaptive_max_pool3d(_t(L, 2, 3, 5), 2),
    lambda L, F: F.lp_pool1d(_t(L, 2, 3, 5), 2, 7),
    lambda L, F: F.lp_pool2d(_t(L, 2, 3, 5, 6), 2, 7),
    lambda L, F: F.max_unpool2d(_t(L, 2, 3, 2, 3), _t(L, 2, 3, 2, 3, dtype=L.int64), 2, output_size=(7, 7)),
    lambda L, F: F.max_unpool2d(_t(L, 2, 3, 2, 3), _t(L, 2, 3, 2, 3, dtype=L.int64), 2, output_size=(3, 5, 7)),
    lambda L, F: F.max_unpool2d(_t(L, 2, 3, 2, 3), _t(L, 2, 3, 2, 3), 2),
    lambda L, F: F.max_unpool2d(_t(L, 2, 3, 2, 3), _t(L, 2, 3, 2, 2, dtype=L.int64), 2),
    lambda L, F: F.max_unpool2d(_t(L, 1, 1, 1, 1), L.full((1, 1, 1, 1), 10, dtype=L.int64), 2),
    lambda L, F: F.max_unpool2d(_t(L, 1, 1, 1, 1), L.full((1, 1, 1, 1), -1, dtype=L.int64), 2),
    lambda L, F: F.max_unpool2d(_t(L, 3, 2), _t(L, 3, 2, dtype=L.int64), 2),
    lambda L, F: F.max_unpool1d(_t(L, 2, 3, 2, 1), _t(L, 2, 3, 2, 1, dtype=L.int64), 2),
    lambda L, F: F.max_unpool1d(_t(L, 2, 3, 2), _t(L, 2, 3, 2, dtype=L.int64), 2, output_size=(7,)),
    lambda L, F: F.max_unpool3d(_t(L, 1, 1, 1), _t(L, 1, 1, 1, dtype=L.int64), 2),
    lambda L, F: F.max_unpool3d(_t(L, 1, 1, 1, 1, 1), L.full((1, 1, 1, 1, 1), 9, dtype=L.int64), 2),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    with pytest.raises(Exception) as te:
        ERRORS[i](torch, torch.nn.functional)
    with pytest.raises(type(te.value)) as fe:
        ERRORS[i](fastgrad, F)
    assert str(fe.value) == str(te.value).split("\n")[0]
