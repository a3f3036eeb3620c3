"""Transposed convolution, fold / unfold, Tensor.unfold, pixel and channel shuffles against
PyTorch: outputs and gradients of inputs and parameters (float32 and float64), float64 gradcheck
and double backward, module reprs and parameter shapes, torch's error messages."""
import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(1)
DTYPES = [np.float32, np.float64]


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _tol(dtype):
    return (2e-5, 2e-5) if dtype == np.float32 else (1e-10, 1e-10)


def check_fn(torch, fn, *arrays):
    """fn(F, *tensors) against torch: the output and every input's gradient."""
    rtol, atol = _tol(arrays[0].dtype)
    fx = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    fo, to = fn(F, *fx), fn(torch.nn.functional, *tx)
    assert_close(fo, to, rtol, atol)
    w = RNG.standard_normal(tuple(to.shape)).astype(arrays[0].dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for f, t in zip(fx, tx):
        assert_close(f.grad, t.grad, rtol, atol)


def check_module(torch, fm, tm, x, **fwd):
    rtol, atol = _tol(x.dtype)
    assert repr(fm) == repr(tm)
    assert [(n, tuple(p.shape)) for n, p in fm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    copy_to_torch(torch, fm, tm)
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fo, to = fm(fx, **fwd), tm(tx, **fwd)
    assert_close(fo, to, rtol, atol)
    w = RNG.standard_normal(tuple(to.shape)).astype(x.dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    assert_close(fx.grad, tx.grad, rtol, atol)
    for name, p in fm.named_parameters():
        assert_close(p.grad, tm.get_parameter(name).grad, rtol, atol)


# --------------------------------------------------------------------------- transposed convolution
CT2 = [dict(), dict(stride=2), dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2)),
       dict(stride=2, padding=1, dilation=2, groups=2), dict(dilation=2, output_padding=1),
       dict(kernel_size=(2, 3), stride=(3, 1), padding=(0, 1), bias=False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", CT2, ids=[str(k) for k in CT2])
def test_conv_transpose2d(torch, kw, dtype):
    kw = dict(kw)
    k = kw.pop("kernel_size", 3)
    fastgrad.manual_seed(0)
    fm = nn.ConvTranspose2d(4, 6, k, dtype=fastgrad.float64 if dtype == np.float64 else None, **kw)
    tm = torch.nn.ConvTranspose2d(4, 6, k, dtype=torch.float64 if dtype == np.float64 else None, **kw)
    check_module(torch, fm, tm, _x(2, 4, 5, 6, dtype=dtype))
    check_module(torch, fm, tm, _x(4, 6, 5, dtype=dtype))  # unbatched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [dict(), dict(stride=3, padding=1, output_padding=2, dilation=2),
                                dict(groups=3, bias=False), dict(stride=2, dilation=3, output_padding=2)], ids=str)
def test_conv_transpose1d(torch, kw, dtype):
    dt = dict(dtype=fastgrad.float64) if dtype == np.float64 else {}
    fm = nn.ConvTranspose1d(6, 3, 3, **kw, **dt)
    tm = torch.nn.ConvTranspose1d(6, 3, 3, **kw, **({"dtype": torch.float64} if dt else {}))
    check_module(torch, fm, tm, _x(2, 6, 7, dtype=dtype))
    check_module(torch, fm, tm, _x(6, 7, dtype=dtype))


def test_conv_transpose_output_size(torch):
    fm, tm = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = _x(2, 3, 5, 6, dtype=np.float32)
    for size in [(9, 11), (10, 12), [2, 2, 10, 11]]:
        check_module(torch, fm, tm, x, output_size=size)
    fm1, tm1 = nn.ConvTranspose1d(3, 2, 3, stride=3), torch.nn.ConvTranspose1d(3, 2, 3, stride=3)
    check_module(torch, fm1, tm1, x[0, :, 0], output_size=[19])
    for size in [(12, 12), (1, 10, 12)]:
        with pytest.raises(ValueError) as te:
            tm(torch.tensor(x), output_size=size)
        with pytest.raises(ValueError) as fe:
            fm(fastgrad.tensor(x), output_size=size)
        assert str(fe.value) == str(te.value).replace("torch.", "fastgrad.")


def test_conv_transpose_default_init(torch):
    fastgrad.manual_seed(0)
    m = nn.ConvTranspose2d(8, 6, 3, groups=2)
    bound = 1 / np.sqrt(3 * 9)  # fan_in = weight.size(1) * kernel elements, as torch
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound and w.shape == (8, 3, 3, 3)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")


def test_conv_transpose_gradcheck():
    x = fastgrad.tensor(_x(2, 4, 3, 4), requires_grad=True)
    w = fastgrad.tensor(_x(4, 3, 3, 2), requires_grad=True)
    b = fastgrad.tensor(_x(6), requires_grad=True)

    def f(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=(1, 2))

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))
    x1 = fastgrad.tensor(_x(2, 2, 5), requires_grad=True)
    w1 = fastgrad.tensor(_x(2, 3, 2), requires_grad=True)
    assert gradgradcheck(lambda a, c: F.conv_transpose1d(a, c, stride=2, dilation=2), (x1, w1))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zeros"])
@pytest.mark.parametrize("cls,kw,shape", [("Conv2d", dict(kernel_size=3, padding=(1, 2), stride=(2, 1)), (2, 4, 6, 7)),
                                          ("Conv2d", dict(kernel_size=(2, 4), padding="same", dilation=(1, 2)),
                                           (2, 4, 6, 9)),
                                          ("Conv1d", dict(kernel_size=4, padding=2, groups=2), (2, 4, 9)),
                                          ("Conv1d", dict(kernel_size=3, padding="same"), (4, 8))], ids=str)
def test_conv_padding_modes(torch, mode, cls, kw, shape):
    fm = getattr(nn, cls)(4, 6, padding_mode=mode, dtype=fastgrad.float64, **kw)
    tm = getattr(torch.nn, cls)(4, 6, padding_mode=mode, dtype=torch.float64, **kw)
    assert tuple(fm._reversed_padding_repeated_twice) == tuple(tm._reversed_padding_repeated_twice)
    check_module(torch, fm, tm, _x(*shape))


def test_forward_mode_ad():
    """jvp of the new ops (their own and their primitives') against finite differences."""
    cases = [(lambda a: F.max_pool1d(a, 3, 2, 1), (2, 2, 7)), (lambda a: F.avg_pool3d(a, 2, 1, 1), (1, 2, 3, 3, 3)),
             (lambda a: F.adaptive_max_pool2d(a, (2, 3)), (1, 2, 5, 4)),
             (lambda a: F.unfold(a, 2, padding=1), (1, 2, 3, 3)),
             (lambda a: F.fold(a, (3, 3), 2), (1, 8, 4)), (lambda a: a.unfold(1, 2, 1), (2, 5)),
             (lambda a: F.interpolate(a, scale_factor=1.5, mode="bicubic"), (1, 1, 3, 3)),
             (lambda a: F.pad(a, (1, 2), mode="reflect"), (1, 2, 4)), (lambda a: F.group_norm(a, 2), (2, 4, 3)),
             (lambda a: F.conv_transpose2d(a, w, stride=2, output_padding=1), (1, 2, 2, 2))]
    w = fastgrad.tensor(_x(2, 1, 2, 2))
    for fn, shape in cases:
        assert gradcheck(fn, (fastgrad.tensor(_x(*shape), requires_grad=True),), check_forward_ad=True)


# --------------------------------------------------------------------------- fold / unfold
UNFOLD = [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
          dict(kernel_size=3, padding=(2, 0), stride=3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", UNFOLD, ids=[str(k) for k in UNFOLD])
def test_unfold_fold(torch, kw, dtype):
    x = _x(2, 3, 7, 8, dtype=dtype)
    check_fn(torch, lambda F, a: F.unfold(a, **kw), x)
    check_fn(torch, lambda F, a: F.unfold(a, **kw), x[0])
    cols = torch.nn.functional.unfold(torch.tensor(x), **kw)
    c = _x(*cols.shape, dtype=dtype)
    check_fn(torch, lambda F, a: F.fold(a, (7, 8), **kw), c)
    check_fn(torch, lambda F, a: F.fold(a, [7, 8], **kw), c[1])
    check_module(torch, nn.Unfold(**kw), torch.nn.Unfold(**kw), x)
    check_module(torch, nn.Fold((7, 8), **kw), torch.nn.Fold((7, 8), **kw), c)
    assert repr(nn.Fold(4, (2, 3), 2, 1, (2, 1))) == repr(torch.nn.Fold(4, (2, 3), 2, 1, (2, 1)))


def test_fold_unfold_gradcheck():
    x = fastgrad.tensor(_x(2, 2, 5, 4), requires_grad=True)
    assert gradgradcheck(lambda a: F.unfold(a, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), (x,))
    c = fastgrad.tensor(_x(2, 8, 10), requires_grad=True)
    assert gradgradcheck(lambda a: F.fold(a, (4, 5), 2, padding=(1, 0), stride=(1, 2)), (c,))


# --------------------------------------------------------------------------- Tensor.unfold
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("args", [(2, 3, 2), (-1, 2, 1), (0, 2, 5), (1, 1, 1), (3, 0, 1), (2, 7, 3)], ids=str)
def test_tensor_unfold(torch, args, dtype):
    check_fn(torch, lambda F, a: a.unfold(*args), _x(2, 3, 7, 4, dtype=dtype))


def test_tensor_unfold_view_and_gradcheck(torch):
    x = fastgrad.tensor(_x(3, 8))
    v = x.unfold(1, 3, 2)
    assert v._base is x
    x.add_(1.0)  # a view: it sees its base's change
    assert_close(v, torch.tensor(x.numpy()).unfold(1, 3, 2))
    check_fn(torch, lambda F, a: a.unfold(0, 1, 1), np.array(1.5))
    y = fastgrad.tensor(_x(2, 9), requires_grad=True)
    assert gradgradcheck(lambda a: a.unfold(1, 4, 2).unfold(0, 2, 1), (y,))


# --------------------------------------------------------------------------- shuffles
@pytest.mark.parametrize("dtype", DTYPES)
def test_pixel_and_channel_shuffle(torch, dtype):
    check_fn(torch, lambda F, a: F.pixel_shuffle(a, 2), _x(2, 8, 3, 4, dtype=dtype))
    check_fn(torch, lambda F, a: F.pixel_shuffle(a, 3), _x(2, 2, 9, 3, 4, dtype=dtype))
    check_fn(torch, lambda F, a: F.pixel_unshuffle(a, 2), _x(2, 2, 4, 6, dtype=dtype))
    check_fn(torch, lambda F, a: F.pixel_unshuffle(a, 3), _x(2, 6, 9, dtype=dtype))
    check_fn(torch, lambda F, a: F.channel_shuffle(a, 3), _x(2, 6, 3, 4, dtype=dtype))
    check_fn(torch, lambda F, a: F.channel_shuffle(a, 2), _x(2, 6, 5, dtype=dtype))
    x = _x(2, 12, 4, 6, dtype=dtype)
    for fm, tm in [(nn.PixelShuffle(2), torch.nn.PixelShuffle(2)), (nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2)),
                   (nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3))]:
        check_module(torch, fm, tm, x)
    y = fastgrad.tensor(x.astype(np.float64), requires_grad=True)
    assert np.array_equal(F.native_channel_shuffle(y, 4).detach().numpy(),
                          torch.nn.functional.native_channel_shuffle(torch.tensor(x), 4).numpy())
    assert gradgradcheck(lambda a: F.pixel_unshuffle(F.pixel_shuffle(a, 2) * a.sum(), 2), (y[:1, :, :2, :2],))


# --------------------------------------------------------------------------- errors
def _t(L, *shape, dtype=None):
    return L.ones(*shape) if dtype is None else L.ones(*shape, dtype=dtype)


ERRORS = [
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 4, 4, 3, 3)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), groups=2),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), output_padding=1),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), stride=2, output_padding=2),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 4, 5, 6), _t(L, 3, 4, 3, 3)),
    lambda L, F: F.conv_transpose2d(_t(L, 3, 4), _t(L, 3, 4, 3, 3)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), _t(L, 3)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), _t(L, 4, 1)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), stride=0),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), padding=-1),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), output_padding=-1),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6, dtype=L.float64), _t(L, 3, 4, 3, 3, dtype=L.float64),
                                    dilation=0),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), groups=0),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), stride=(1, 1, 1)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3, 3), output_padding=(1, 1, 1)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6, dtype=L.float64), _t(L, 3, 4, 3, 3, dtype=L.float64),
                                    padding=(3, 4)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 3, 5, 6, dtype=L.float64), _t(L, 3, 4, 3, 3)),
    lambda L, F: F.conv_transpose2d(_t(L, 2, 6, 5, 6), _t(L, 4, 3, 3, 3), groups=2),
    lambda L, F: F.conv_transpose1d(_t(L, 2, 3, 5), _t(L, 3, 4, 3), output_padding=1),
    lambda L, F: F.conv_transpose1d(_t(L, 2, 3, 5), _t(L, 2, 4, 3)),
    lambda L, F: F.conv_transpose1d(_t(L, 2, 3, 5, 6), _t(L, 3, 4, 3)),
    lambda L, F: F.conv_transpose1d(_t(L, 2, 3, 5), _t(L, 3, 4, 3), padding=(1, 1)),
    lambda L, F: F.unfold(_t(L, 2, 3, 4, 5, 6), 2),
    lambda L, F: F.unfold(_t(L, 3, 4), 2),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6), 7),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6), 0),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6), 2, stride=0),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6), 2, dilation=0),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6), 2, padding=-1),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6, dtype=L.int64), 2),
    lambda L, F: F.unfold(_t(L, 2, 0, 4, 4), 2),
    lambda L, F: F.unfold(_t(L, 2, 3, 5, 6), (2, 2, 2)),
    lambda L, F: F.fold(_t(L, 2, 12, 19), (5, 6), 2),
    lambda L, F: F.fold(_t(L, 2, 11, 20), (5, 6), 2),
    lambda L, F: F.fold(_t(L, 2, 12, 20, 1), (5, 6), 2),
    lambda L, F: F.fold(_t(L, 2, 12, 20), (5, 6), 0),
    lambda L, F: F.fold(_t(L, 2, 12, 20), (5, 6), 2, stride=0),
    lambda L, F: F.fold(_t(L, 2, 12, 20), (1, 1), 2),
    lambda L, F: F.fold(_t(L, 2, 12, 20), (5, 6, 7), 2),
    lambda L, F: _t(L, 2, 3, 5, 6).unfold(2, 6, 1),
    lambda L, F: _t(L, 2, 3, 5, 6).unfold(2, 2, 0),
    lambda L, F: _t(L, 2, 3, 5, 6).unfold(4, 2, 1),
    lambda L, F: _t(L, 2, 3, 5, 6).unfold(2, -1, 1),
    lambda L, F: L.tensor(3.0).unfold(0, 2, 1),
    lambda L, F: F.pixel_shuffle(_t(L, 2, 6, 3, 3), 2),
    lambda L, F: F.pixel_shuffle(_t(L, 8, 3), 2),
    lambda L, F: F.pixel_shuffle(_t(L, 2, 8, 3, 3), 0),
    lambda L, F: F.pixel_unshuffle(_t(L, 2, 2, 5, 6), 2),
    lambda L, F: F.pixel_unshuffle(_t(L, 2, 2, 4, 5), 2),
    lambda L, F: F.pixel_unshuffle(_t(L, 2, 2, 4, 6), 0),
    lambda L, F: F.pixel_unshuffle(_t(L, 4, 6), 2),
    lambda L, F: F.channel_shuffle(_t(L, 2, 6, 3, 3), 4),
    lambda L, F: F.channel_shuffle(_t(L, 2, 6, 3, 3), 0),
    lambda L, F: F.channel_shuffle(_t(L, 2, 6), 2),
    lambda L, F: F.channel_shuffle(_t(L, 6), 2),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    with pytest.raises(Exception) as te:
        ERRORS[i](torch, torch.nn.functional)
    with pytest.raises(type(te.value)) as fe:
        ERRORS[i](fastgrad, F)
    assert str(fe.value) == str(te.value).split("\n")[0]


# --------------------------------------------------------------------------- torch.* spellings
TOPLEVEL = [("max_pool1d", lambda x: (x[0], 2)), ("max_pool2d", lambda x: (x, 2, ())), ("max_pool3d", lambda x: (x, 2)),
            ("max_pool1d_with_indices", lambda x: (x[0], 3, (), 1)), ("avg_pool1d", lambda x: (x[0], 3)),
            ("adaptive_avg_pool1d", lambda x: (x[0], 3)), ("adaptive_max_pool1d", lambda x: (x[0], 3)),
            ("pixel_shuffle", lambda x: (x, 2)), ("pixel_unshuffle", lambda x: (x, 2)),
            ("channel_shuffle", lambda x: (x, 2)), ("native_channel_shuffle", lambda x: (x, 2)),
            ("group_norm", lambda x: (x, 2)), ("rms_norm", lambda x: (x, (6,))),
            ("instance_norm", lambda x: (x, None, None, None, None, True, 0.1, 1e-5, False)),
            ("conv_transpose1d", lambda x: (x[0], x.reshape(-1)[:48].reshape(8, 2, 3), None, 2)),
            ("conv_transpose2d", lambda x: (x, x.reshape(-1)[:48].reshape(4, 3, 2, 2)))]


@pytest.mark.parametrize("name,args", TOPLEVEL, ids=[t[0] for t in TOPLEVEL])
def test_torch_namespace_spellings(torch, name, args):
    x = _x(2, 4, 8, 6)

    def convert(L):
        return [L.tensor(a) if isinstance(a, np.ndarray) else a for a in args(x)]

    fo, to = getattr(fastgrad, name)(*convert(fastgrad)), getattr(torch, name)(*convert(torch))
    fo, to = (fo if isinstance(fo, tuple) else (fo,)), (to if isinstance(to, tuple) else (to,))
    assert len(fo) == len(to)
    for a, b in zip(fo, to):
        assert_close(a, b, 1e-10, 1e-10)
