"""conv3d / conv_transpose3d, Conv3d / ConvTranspose3d and BatchNorm1d/2d/3d against PyTorch: outputs,
gradients of inputs and parameters (float32 and float64), state dicts, reprs, errors; float64
gradcheck, double backward and forward mode on small sizes."""
import warnings

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch, fg_repr

import fastgrad
from fastgrad import nn
from fastgrad.autograd import forward_ad, gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)
TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _pair(torch, a, grad=True):
    return fastgrad.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _compare_fn(torch, fg_fn, th_fn, arrays, dtype, **kw):
    """fg_fn and th_fn on the same arrays: outputs and every input's gradient."""
    tol = TOL[dtype]
    fs, ts = zip(*[_pair(torch, a.astype(dtype)) if a is not None else (None, None) for a in arrays])
    fo, to = fg_fn(*fs, **kw), th_fn(*ts, **kw)
    assert_close(fo, to, **tol)
    w = _x(*fo.shape, dtype=dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for f, t in zip(fs, ts):
        if f is not None:
            assert_close(f.grad, t.grad, **tol)


CONV_CASES = [
    dict(x=(2, 4, 5, 6, 7), w=(6, 4, 3, 3, 3)),
    dict(x=(2, 4, 5, 6, 7), w=(6, 2, 3, 2, 3), groups=2, stride=(1, 2, 2), padding=(1, 0, 2)),
    dict(x=(1, 3, 6, 5, 6), w=(4, 3, 2, 3, 2), stride=2, padding=1, dilation=(2, 1, 2)),
    dict(x=(2, 4, 5, 5, 5), w=(8, 1, 3, 3, 3), groups=4, padding="same"),
    dict(x=(2, 2, 5, 6, 4), w=(3, 2, 2, 3, 4), padding="same", dilation=(1, 2, 1)),  # asymmetric 'same'
    dict(x=(2, 2, 5, 6, 4), w=(3, 2, 2, 3, 4), padding="valid"),
    dict(x=(3, 5, 4, 6), w=(2, 3, 1, 2, 3), bias=False),  # unbatched
    dict(x=(2, 2, 4, 4, 4), w=(3, 2, 1, 1, 1), stride=[3], padding=[2]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=range(len(CONV_CASES)))
def test_conv3d_matches_torch(torch, case, dtype):
    case = dict(case)
    x, w = _x(*case.pop("x")), _x(*case.pop("w"))
    b = None if case.pop("bias", True) is False else _x(w.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compare_fn(torch, F.conv3d, torch.nn.functional.conv3d, [x, w, b], dtype, **case)


TRANSPOSED_CASES = [
    dict(x=(2, 4, 3, 4, 5), w=(4, 3, 2, 3, 2)),
    dict(x=(2, 4, 3, 4, 5), w=(4, 3, 2, 3, 2), groups=2, stride=2, output_padding=1),
    dict(x=(1, 2, 3, 3, 4), w=(2, 2, 3, 2, 3), stride=(2, 1, 3), padding=(1, 0, 1), output_padding=(1, 0, 2),
         dilation=(1, 2, 1)),
    dict(x=(2, 3, 4, 2), w=(2, 3, 2, 2, 2), bias=False, stride=2),  # unbatched
    dict(x=(2, 3, 3, 3, 3), w=(3, 1, 3, 3, 3), groups=3, padding=1, dilation=2, output_padding=1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=range(len(TRANSPOSED_CASES)))
def test_conv_transpose3d_matches_torch(torch, case, dtype):
    case = dict(case)
    x, w = _x(*case.pop("x")), _x(*case.pop("w"))
    groups = case.get("groups", 1)
    b = None if case.pop("bias", True) is False else _x(w.shape[1] * groups)
    _compare_fn(torch, F.conv_transpose3d, torch.nn.functional.conv_transpose3d, [x, w, b], dtype, **case)


def test_conv3d_gradcheck_and_double_backward():
    x = fastgrad.tensor(_x(1, 2, 3, 4, 3), requires_grad=True)
    w = fastgrad.tensor(_x(4, 1, 2, 3, 2), requires_grad=True)
    b = fastgrad.tensor(_x(4), requires_grad=True)

    def f(x, w, b):
        return F.conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 1, 0), dilation=(2, 1, 1), groups=2)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))

    def g(x, w, b):
        return F.conv_transpose3d(x, w, b, stride=2, padding=(0, 1, 0), output_padding=(1, 0, 1), groups=2)

    xt = fastgrad.tensor(_x(1, 4, 2, 3, 2), requires_grad=True)
    wt = fastgrad.tensor(_x(4, 2, 2, 3, 2), requires_grad=True)
    assert gradcheck(g, (xt, wt, b))
    assert gradgradcheck(g, (xt, wt, b))


def test_conv3d_double_backward_matches_torch(torch):
    x, w = _x(2, 2, 3, 4, 4), _x(3, 2, 2, 2, 3)
    fx, tx = _pair(torch, x)
    fw, tw = _pair(torch, w)
    fy, ty = F.conv3d(fx, fw, padding=1, stride=(2, 1, 1)), torch.nn.functional.conv3d(tx, tw, padding=1,
                                                                                         stride=(2, 1, 1))
    fgx, = fastgrad.autograd.grad((fy ** 2).sum(), fx, create_graph=True)
    tgx, = torch.autograd.grad((ty ** 2).sum(), tx, create_graph=True)
    assert_close(fgx, tgx, 1e-10, 1e-10)
    fgx.sin().sum().backward()
    tgx.sin().sum().backward()
    assert_close(fx.grad, tx.grad, 1e-10, 1e-10)
    assert_close(fw.grad, tw.grad, 1e-10, 1e-10)


def test_conv3d_forward_mode_matches_torch(torch):
    x, w, tx_, tw_ = _x(1, 2, 3, 4, 3), _x(2, 2, 2, 2, 2), _x(1, 2, 3, 4, 3), _x(2, 2, 2, 2, 2)
    with forward_ad.dual_level():
        y = F.conv3d(forward_ad.make_dual(fastgrad.tensor(x), fastgrad.tensor(tx_)),
                     forward_ad.make_dual(fastgrad.tensor(w), fastgrad.tensor(tw_)), padding=1)
        yt = forward_ad.unpack_dual(y).tangent
        z = F.conv_transpose3d(forward_ad.make_dual(fastgrad.tensor(x), fastgrad.tensor(tx_)),
                               forward_ad.make_dual(fastgrad.tensor(w), fastgrad.tensor(tw_)), stride=2)
        zt = forward_ad.unpack_dual(z).tangent
    tf = torch.nn.functional
    _, ref = torch.func.jvp(lambda a, b: tf.conv3d(a, b, padding=1), (torch.tensor(x), torch.tensor(w)),
                            (torch.tensor(tx_), torch.tensor(tw_)))
    assert_close(yt, ref, 1e-10, 1e-10)
    _, ref = torch.func.jvp(lambda a, b: tf.conv_transpose3d(a, b, stride=2), (torch.tensor(x), torch.tensor(w)),
                            (torch.tensor(tx_), torch.tensor(tw_)))
    assert_close(zt, ref, 1e-10, 1e-10)


def _same_error(torch, fg_call, th_call, exc=RuntimeError):
    with pytest.raises(exc) as th_err:
        th_call()
    with pytest.raises(exc) as fg_err:
        fg_call()
    assert str(fg_err.value) == str(th_err.value).replace("torch.", "fastgrad.")


CONV_ERRORS = [
    dict(x=(2, 4, 5, 6, 7, 8)),
    dict(w=(6, 2, 3, 3)),
    dict(groups=1),
    dict(stride=0),
    dict(stride=(1, 2)),
    dict(padding=-1),
    dict(padding=(1, 2)),
    dict(dilation=0),
    dict(padding="foo"),
    dict(padding="same", stride=2),
    dict(b=(5,)),
    dict(w=(6, 2, 9, 3, 3)),
    dict(groups=0),
    dict(w=(5, 2, 3, 3, 3)),
    dict(w=(1, 2, 3, 3, 3), groups=2),
    dict(xdtype=np.float64),
]


@pytest.mark.parametrize("case", CONV_ERRORS, ids=range(len(CONV_ERRORS)))
def test_conv3d_errors_match_torch(torch, case):
    case = dict(case)
    x = _x(*case.pop("x", (2, 4, 5, 6, 7))).astype(case.pop("xdtype", np.float32))
    w = _x(*case.pop("w", (6, 2, 3, 3, 3))).astype(np.float32)
    b = case.pop("b", None)
    b = None if b is None else _x(*b).astype(np.float32)
    kw = dict(groups=2)
    kw.update(case)
    fb, tb = (None, None) if b is None else (fastgrad.tensor(b), torch.tensor(b))
    _same_error(torch, lambda: F.conv3d(fastgrad.tensor(x), fastgrad.tensor(w), fb, **kw),
                lambda: torch.nn.functional.conv3d(torch.tensor(x), torch.tensor(w), tb, **kw))


TRANSPOSED_ERRORS = [
    dict(stride=2, output_padding=2),
    dict(groups=3),
    dict(groups=8),
    dict(x=(2, 3, 3, 4, 5)),
    dict(b=(3,), groups=2),
    dict(x=(3, 4, 5)),
    dict(xdtype=np.float64),
    dict(stride=0),
    dict(padding=-1),
    dict(output_padding=-1),
    dict(stride=(1, 2)),
]


@pytest.mark.parametrize("case", TRANSPOSED_ERRORS, ids=range(len(TRANSPOSED_ERRORS)))
def test_conv_transpose3d_errors_match_torch(torch, case):
    case = dict(case)
    x = _x(*case.pop("x", (2, 4, 3, 4, 5))).astype(case.pop("xdtype", np.float32))
    w = _x(4, 3, 2, 3, 2).astype(np.float32)
    b = case.pop("b", None)
    b = None if b is None else _x(*b).astype(np.float32)
    fb, tb = (None, None) if b is None else (fastgrad.tensor(b), torch.tensor(b))
    _same_error(torch, lambda: F.conv_transpose3d(fastgrad.tensor(x), fastgrad.tensor(w), fb, **case),
                lambda: torch.nn.functional.conv_transpose3d(torch.tensor(x), torch.tensor(w), tb, **case))
    _same_error(torch, lambda: F.conv_transpose3d(fastgrad.tensor(x), fastgrad.tensor(w), padding="same"),
                lambda: torch.nn.functional.conv_transpose3d(torch.tensor(x), torch.tensor(w), padding="same"),
                TypeError)


def test_conv3d_same_warning_and_output_size(torch):
    x, w = fastgrad.randn(1, 2, 5, 6, 4), fastgrad.randn(3, 2, 2, 3, 4)
    with pytest.warns(UserWarning, match="even kernel lengths"):
        assert F.conv3d(x, w, padding="same").shape == (1, 3, 5, 6, 4)


# --------------------------------------------------------------------------- modules
MODULE_CASES = [
    dict(args=(4, 6, 3)),
    dict(args=(4, 6, (2, 3, 1)), stride=(2, 1, 1), padding=(1, 0, 0), dilation=(1, 1, 2), groups=2, bias=False),
    dict(args=(2, 4, 3), padding="same", padding_mode="reflect"),
    dict(args=(2, 4, (2, 3, 3)), padding=(1, 2, 1), padding_mode="replicate"),
    dict(args=(2, 4, 2), padding=(2, 1, 1), stride=2, padding_mode="circular"),
    dict(args=(2, 4, (2, 3, 2)), padding="same", padding_mode="circular"),
    dict(args=(2, 4, (3, 1, 2)), padding="valid"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", MODULE_CASES, ids=range(len(MODULE_CASES)))
def test_conv3d_module_matches_torch(torch, case, dtype):
    case = dict(case)
    args = case.pop("args")
    fdt, tdt = (fastgrad.float32, torch.float32) if dtype == np.float32 else (fastgrad.float64, torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm, tm = nn.Conv3d(*args, **case, dtype=fdt), torch.nn.Conv3d(*args, **case, dtype=tdt)
        assert repr(fm) == fg_repr(tm)
        assert list(fm.state_dict()) == list(tm.state_dict())
        fm.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        x = _x(2, args[0], 5, 4, 6, dtype=dtype)
        fx, tx = _pair(torch, x)
        fy, ty = fm(fx), tm(tx)
        assert_close(fy, ty, **TOL[dtype])
        g = _x(*fy.shape, dtype=dtype)
        (fy * fastgrad.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
    assert_close(fx.grad, tx.grad, **TOL[dtype])
    for name, p in fm.named_parameters():
        assert_close(p.grad, tm.get_parameter(name).grad, **TOL[dtype])


def test_conv3d_module_init_and_errors(torch):
    fastgrad.manual_seed(0)
    m = nn.Conv3d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 27)
    assert m.weight.shape == (8, 4, 3, 3, 3) and np.abs(m.weight.detach().numpy()).max() <= bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    assert (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.transposed,
            m.output_padding, m.groups, m.padding_mode) == (4, 8, (3, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), False,
                                                            (0, 0, 0), 1, "zeros")
    assert m._reversed_padding_repeated_twice == torch.nn.Conv3d(4, 8, 3)._reversed_padding_repeated_twice
    for kw in (dict(padding="same", dilation=(1, 2, 1), kernel_size=(2, 2, 3)), dict(padding=(1, 2, 3))):
        args = dict(kernel_size=3)
        args.update(kw)
        assert list(nn.Conv3d(2, 2, **args)._reversed_padding_repeated_twice) == list(
            torch.nn.Conv3d(2, 2, **args)._reversed_padding_repeated_twice)
    for kw, exc in ((dict(groups=0), ValueError), (dict(groups=3), ValueError), (dict(padding="full"), ValueError),
                    (dict(padding="same", stride=2), ValueError)):
        _same_error(torch, lambda: nn.Conv3d(6, 4, 3, **kw), lambda: torch.nn.Conv3d(6, 4, 3, **kw), exc)
    _same_error(torch, lambda: nn.Conv3d(4, 6, 3, groups=4), lambda: torch.nn.Conv3d(4, 6, 3, groups=4), ValueError)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv3d(2, 2, 3, padding_mode="foo")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        torch.nn.Conv3d(2, 2, 3, padding_mode="foo")


TRANSPOSED_MODULE_CASES = [
    dict(args=(4, 6, 3)),
    dict(args=(4, 6, (2, 3, 1)), stride=2, padding=(1, 0, 0), output_padding=(1, 0, 1), groups=2, bias=False),
    dict(args=(2, 3, 2), stride=(2, 3, 1), dilation=(1, 2, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TRANSPOSED_MODULE_CASES, ids=range(len(TRANSPOSED_MODULE_CASES)))
def test_conv_transpose3d_module_matches_torch(torch, case, dtype):
    case = dict(case)
    args = case.pop("args")
    fdt, tdt = (fastgrad.float32, torch.float32) if dtype == np.float32 else (fastgrad.float64, torch.float64)
    fm, tm = nn.ConvTranspose3d(*args, **case, dtype=fdt), torch.nn.ConvTranspose3d(*args, **case, dtype=tdt)
    assert repr(fm) == fg_repr(tm)
    assert [(k, tuple(v.shape)) for k, v in fm.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    copy_to_torch(torch, fm, tm)
    x = _x(2, args[0], 3, 2, 4, dtype=dtype)
    fx, tx = _pair(torch, x)
    fy, ty = fm(fx), tm(tx)
    assert_close(fy, ty, **TOL[dtype])
    (fy * fy).sum().backward()
    (ty * ty).sum().backward()
    assert_close(fx.grad, tx.grad, **TOL[dtype])
    for name, p in fm.named_parameters():
        assert_close(p.grad, tm.get_parameter(name).grad, **TOL[dtype])
    # output_size picks the output padding
    size = [(n - 1) * s - 2 * p + d * (k - 1) + s for n, s, p, d, k in  # the largest valid output
            zip(x.shape[2:], tm.stride, tm.padding, tm.dilation, tm.kernel_size)]
    assert_close(fm(fx, output_size=size), tm(tx, output_size=size), **TOL[dtype])
    assert_close(fm(fx[0], output_size=[args[1]] + size), tm(tx[0], output_size=[args[1]] + size), **TOL[dtype])


def test_conv_transpose3d_module_errors(torch):
    fm, tm = nn.ConvTranspose3d(2, 2, 3, stride=2), torch.nn.ConvTranspose3d(2, 2, 3, stride=2)
    x = _x(1, 2, 3, 3, 3).astype(np.float32)
    for size in ([20, 7, 7], [7, 7]):
        _same_error(torch, lambda: fm(fastgrad.tensor(x), output_size=size),
                    lambda: tm(torch.tensor(x), output_size=size), ValueError)
    _same_error(torch, lambda: nn.ConvTranspose3d(2, 2, 3, padding_mode="reflect"),
                lambda: torch.nn.ConvTranspose3d(2, 2, 3, padding_mode="reflect"), ValueError)


# --------------------------------------------------------------------------- batch norm
BN_CASES = [
    (1, (6, 4), {}),
    (1, (6, 4, 5), dict(momentum=None)),
    (1, (6, 4, 5), dict(affine=False)),
    (2, (3, 4, 5, 2), dict(track_running_stats=False)),
    (2, (3, 4, 5, 2), dict(bias=False, eps=1e-3, momentum=0.3)),
    (3, (2, 4, 3, 2, 3), {}),
    (3, (2, 4, 3, 2, 3), dict(momentum=None, affine=False)),
    (3, (2, 4, 3, 2, 3), dict(track_running_stats=False, bias=False)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,shape,kw", BN_CASES, ids=range(len(BN_CASES)))
def test_batchnorm_matches_torch(torch, nd, shape, kw, dtype):
    name = f"BatchNorm{nd}d"
    fdt, tdt = (fastgrad.float32, torch.float32) if dtype == np.float32 else (fastgrad.float64, torch.float64)
    fm = getattr(nn, name)(4, device="cpu", dtype=fdt, **kw)
    tm = getattr(torch.nn, name)(4, device="cpu", dtype=tdt, **kw)
    assert repr(fm) == fg_repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    if fm.weight is not None:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
    fm.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    for step in range(3):
        x = _x(*shape, dtype=dtype)
        fx, tx = _pair(torch, x)
        fy, ty = fm(fx), tm(tx)
        assert_close(fy, ty, **TOL[dtype])
        g = _x(*shape, dtype=dtype)
        (fy * fastgrad.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        assert_close(fx.grad, tx.grad, **TOL[dtype])
    for name_, p in fm.named_parameters():
        assert_close(p.grad, tm.get_parameter(name_).grad, **TOL[dtype])
    for (k, a), (k2, b) in zip(fm.state_dict().items(), tm.state_dict().items()):
        assert k == k2
        assert_close(a, b.numpy(), **TOL[dtype])
    fm.eval(), tm.eval()
    if fm.track_running_stats:
        x = _x(*shape, dtype=dtype)
        assert_close(fm(fastgrad.tensor(x)), tm(torch.tensor(x)), **TOL[dtype])


def test_batchnorm3d_errors_and_gradcheck(torch):
    for shape in ((2, 3, 4, 5), (2, 3, 2, 2, 2, 2)):
        _same_error(torch, lambda: nn.BatchNorm3d(3)(fastgrad.zeros(shape)),
                    lambda: torch.nn.BatchNorm3d(3)(torch.zeros(shape)), ValueError)
    _same_error(torch, lambda: nn.BatchNorm3d(3)(fastgrad.zeros(1, 3, 1, 1, 1)),
                lambda: torch.nn.BatchNorm3d(3)(torch.zeros(1, 3, 1, 1, 1)), ValueError)
    m = nn.BatchNorm3d(2, dtype=fastgrad.float64)
    with fastgrad.no_grad():
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-1, 1)
    x = fastgrad.tensor(_x(2, 2, 2, 3, 2), requires_grad=True)
    assert gradcheck(lambda a: m(a), (x,))
