"""F.interpolate and the Upsample modules against PyTorch: outputs (nearest indices exactly, over a
grid of sizes and scale factors), input gradients in float32 and float64, float64 gradcheck and
double backward, reprs, warnings, and torch's errors."""
import warnings

import numpy as np
import pytest
from nn_helpers import assert_close

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(3)
DTYPES = [np.float32, np.float64]


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def check(torch, fn, x, rtol=None, atol=None):
    rtol = rtol or (1e-5 if x.dtype == np.float32 else 1e-10)
    atol = atol or (1e-5 if x.dtype == np.float32 else 1e-10)
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fo, to = fn(F, fx), fn(torch.nn.functional, tx)
    assert fo.dtype.itemsize == to.dtype.itemsize
    assert_close(fo, to, rtol, atol)
    w = RNG.standard_normal(tuple(to.shape)).astype(x.dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    assert_close(fx.grad, tx.grad, rtol, atol)


SIZES = [dict(size=s) for s in (1, 3, 5, 9, 10, 13)] + \
        [dict(scale_factor=f) for f in (0.5, 0.7, 1.0, 1.3, 2.0, 2.05, 2.5, 1 / 3)] + \
        [dict(scale_factor=f, recompute_scale_factor=True) for f in (0.7, 1.3, 2.5, 1 / 3)]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize("n", [1, 4, 5, 7])
def test_grid_1d_exact_indices(torch, mode, n):
    """Every source index and weight as torch's kernel: nearest outputs equal bit for bit."""
    for dtype in DTYPES:
        x = _x(2, 3, n, dtype=dtype)
        for kw in SIZES:
            for ac in ([None] if mode != "linear" else [False, True]):
                try:
                    to = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, align_corners=ac, **kw)
                except RuntimeError as e:  # an empty output
                    with pytest.raises(RuntimeError, match=str(e).replace("(", "\\(").replace(")", "\\)")):
                        F.interpolate(fastgrad.tensor(x), mode=mode, align_corners=ac, **kw)
                    continue
                fo = F.interpolate(fastgrad.tensor(x), mode=mode, align_corners=ac, **kw)
                if mode == "linear":
                    assert_close(fo, to, 1e-6, 1e-6)
                else:
                    assert np.array_equal(fo.numpy(), to.numpy()), kw


CASES_2D = [dict(size=(7, 4)), dict(scale_factor=2), dict(scale_factor=(1.5, 0.7)), dict(size=9),
            dict(scale_factor=(2.3, 1.0), recompute_scale_factor=True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                     ("bilinear", True), ("bicubic", False), ("bicubic", True), ("area", None)])
@pytest.mark.parametrize("kw", CASES_2D, ids=str)
def test_interpolate_2d(torch, mode, ac, kw, dtype):
    check(torch, lambda F, a: F.interpolate(a, mode=mode, align_corners=ac, **kw), _x(2, 3, 5, 6, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None), ("linear", False),
                                     ("linear", True), ("area", None)])
def test_interpolate_1d(torch, mode, ac, dtype):
    for kw in (dict(size=11), dict(scale_factor=0.6), dict(scale_factor=1.7, recompute_scale_factor=True)):
        check(torch, lambda F, a: F.interpolate(a, mode=mode, align_corners=ac, **kw), _x(2, 3, 7, dtype=dtype))


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None), ("trilinear", False),
                                     ("trilinear", True), ("area", None)])
def test_interpolate_3d(torch, mode, ac):
    for kw in (dict(size=(3, 7, 4)), dict(scale_factor=(1.5, 2, 0.5))):
        check(torch, lambda F, a: F.interpolate(a, mode=mode, align_corners=ac, **kw), _x(2, 2, 4, 5, 6))


def test_interpolate_integer_nearest_and_empty_batch(torch):
    x = RNG.integers(0, 255, (2, 3, 5, 6)).astype(np.uint8)
    fo = F.interpolate(fastgrad.tensor(x), size=(7, 3))
    assert fo.dtype == fastgrad.uint8
    assert np.array_equal(fo.numpy(), torch.nn.functional.interpolate(torch.tensor(x), size=(7, 3)).numpy())
    check(torch, lambda F, a: F.interpolate(a, size=3, mode="bilinear"), _x(0, 3, 5, 6))


def test_interpolate_non_finite_input(torch):
    """inf inputs give torch's nan pattern (0 * inf) and infinities, not nan rows of a matmul."""
    x = _x(1, 2, 4, 5)
    x[0, 0, 1, 2], x[0, 1, 3, 0] = np.inf, -np.inf
    for mode, ac in (("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True),
                     ("bicubic", False)):
        for kw in (dict(scale_factor=2), dict(size=(3, 7))):
            fo = F.interpolate(fastgrad.tensor(x), mode=mode, align_corners=ac, **kw).numpy()
            to = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, align_corners=ac, **kw).numpy()
            np.testing.assert_allclose(fo, to, rtol=1e-10, atol=1e-10, equal_nan=True)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_interpolate_gradcheck(mode):
    x = fastgrad.tensor(_x(1, 2, 4, 3), requires_grad=True)
    ac = None if mode in ("nearest", "area") else True
    assert gradcheck(lambda a: F.interpolate(a, size=(5, 4), mode=mode, align_corners=ac), (x,))
    assert gradgradcheck(lambda a: F.interpolate(a * a, scale_factor=1.5, mode=mode), (x,))


def test_upsample_modules(torch):
    x = _x(2, 3, 4, 5, dtype=np.float32)
    mods = [((), dict(scale_factor=2)), ((), dict(size=(3, 4), mode="bilinear")), ((), dict(scale_factor=(2, 3))),
            ((), dict(scale_factor=1.5, mode="bicubic", align_corners=True)), ((5,), dict(mode="nearest-exact")),
            ((), dict(size=3, scale_factor=0))]
    for args, kw in mods:
        fm, tm = nn.Upsample(*args, **kw), torch.nn.Upsample(*args, **kw)
        assert repr(fm) == repr(tm)
        if kw.get("scale_factor") != 0:
            check(torch, lambda F, a: (fm if F is globals()["F"] else tm)(a), x)
    for name, kw in (("UpsamplingNearest2d", dict(scale_factor=2)), ("UpsamplingBilinear2d", dict(size=(7, 3)))):
        fm, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(fm) == repr(tm)
        check(torch, lambda F, a: (fm if F is globals()["F"] else tm)(a), x)
    assert type(nn.Upsample(2)).__module__ == "fastgrad.nn.modules.upsampling"


def test_deprecated_upsample_warns(torch):
    x = _x(1, 2, 3, 4)
    for name, kw in (("upsample", dict(size=5)), ("upsample_nearest", dict(scale_factor=2)),
                     ("upsample_bilinear", dict(size=(5, 6)))):
        with pytest.warns(UserWarning) as fw:
            fo = getattr(F, name)(fastgrad.tensor(x), **kw)
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            to = getattr(torch.nn.functional, name)(torch.tensor(x), **kw)
        assert str(fw[0].message) == str(tw[0].message)
        assert_close(fo, to)


def _t(L, *shape, dtype=None):
    return L.ones(*shape) if dtype is None else L.ones(*shape, dtype=dtype)


ERRORS = [
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=3, scale_factor=2),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6)),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=(3,)),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=(3.0, 4)),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), scale_factor=(2.0, 2.0, 2.0)),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), scale_factor=2, align_corners=True),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), scale_factor=2, mode="area", align_corners=False),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=3, recompute_scale_factor=True),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=3, antialias=True),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5), size=3, mode="bilinear"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=3, mode="linear"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=3, mode="trilinear"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 4, 5, 6), size=3, mode="bicubic"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5), size=3, mode="bicubic"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=3, mode="foo"),
    lambda L, F: F.interpolate(_t(L, 3, 4), size=3),
    lambda L, F: F.interpolate(_t(L, 1, 1, 2, 2, 2, 2), size=3),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=0),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), size=(0, 3), mode="bilinear"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), scale_factor=0.1),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5), scale_factor=0.1, mode="linear"),
    lambda L, F: F.interpolate(_t(L, 2, 3, 4, 5, 6), scale_factor=0.1, mode="trilinear"),
    lambda L, F: F.interpolate(_t(L, 2, 0, 5, 6), size=3),
    lambda L, F: F.interpolate(_t(L, 2, 3, 0, 6), size=3),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6), scale_factor=-1.0),
    lambda L, F: F.interpolate(_t(L, 2, 3, 5, 6, dtype=L.int64), size=3, mode="bilinear"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    with pytest.raises(Exception) as te:
        ERRORS[i](torch, torch.nn.functional)
    with pytest.raises(type(te.value)) as fe:
        ERRORS[i](fastgrad, F)
    assert str(fe.value) == str(te.value).split("\n")[0]
