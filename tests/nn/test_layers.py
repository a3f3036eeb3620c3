"""Layers against PyTorch: same weights and inputs give the same outputs, gradients and reprs."""
import math
from collections import OrderedDict

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch, fg_repr

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)


def _x(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def compare(torch, fg_mod, th_mod, *inputs, grad=True, rtol=1e-5, atol=1e-5):
    """Run both modules on the same inputs; compare outputs, input grads and parameter grads."""
    copy_to_torch(torch, fg_mod, th_mod)
    fx = [fastgrad.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    tx = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    fo, to = fg_mod(*fx), th_mod(*tx)
    assert_close(fo, to, rtol, atol)
    if grad:
        w = _x(*fo.shape)
        (fo * fastgrad.tensor(w)).sum().backward()
        (to * torch.tensor(w)).sum().backward()
        for f, t in zip(fx, tx):
            if f.requires_grad:
                assert_close(f.grad, t.grad, rtol, atol)
        for name, p in fg_mod.named_parameters():
            tp = th_mod.get_parameter(name)
            if tp.grad is None:
                assert p.grad is None or not p.grad.abs().sum().item()
            else:
                assert_close(p.grad, tp.grad, rtol, atol)
    return fo, to


# --------------------------------------------------------------------------- linear family
def test_linear_default_init_statistics():
    fastgrad.manual_seed(0)
    lin = nn.Linear(400, 300)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert lin.weight.dtype == fastgrad.float32 and lin.weight.shape == (300, 400)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=fastgrad.float64).weight.dtype == fastgrad.float64


def test_init_is_reproducible():
    fastgrad.manual_seed(3)
    a = nn.Linear(5, 4).weight.detach().numpy().copy()
    fastgrad.manual_seed(3)
    assert np.array_equal(a, nn.Linear(5, 4).weight.detach().numpy())


@pytest.mark.parametrize("bias", [True, False])
def test_linear(torch, bias):
    compare(torch, nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), _x(4, 2, 5))
    assert repr(nn.Linear(5, 3, bias=bias)) == repr(torch.nn.Linear(5, 3, bias=bias))


def test_bilinear(torch):
    compare(torch, nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2), _x(5, 3), _x(5, 4))
    assert repr(nn.Bilinear(3, 4, 2, bias=False)) == repr(torch.nn.Bilinear(3, 4, 2, bias=False))


def test_identity_flatten_unflatten(torch):
    x = _x(2, 3, 4, 5)
    for fm, tm in [(nn.Identity(54, unused=1), torch.nn.Identity(54, unused=1)), (nn.Flatten(), torch.nn.Flatten()),
                   (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)), (nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1))),
                   (nn.Unflatten(-1, (-1, 5)), torch.nn.Unflatten(-1, (-1, 5)))]:
        compare(torch, fm, tm, x)
        assert repr(fm) == repr(tm)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (2, 2))(fastgrad.tensor(x))


# --------------------------------------------------------------------------- containers
def test_sequential_indexing(torch):
    layers = [nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Sigmoid()]
    seq = nn.Sequential(*layers)
    assert len(seq) == 4 and seq[0] is layers[0] and seq[-1] is layers[-1]
    assert list(seq) == layers
    sub = seq[1:3]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:3] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        seq[4]
    seq.append(nn.Tanh())
    assert len(seq) == 5 and isinstance(seq[4], nn.Tanh)
    del seq[0]
    assert list(seq._modules) == ["0", "1", "2", "3"]
    seq.insert(0, nn.Linear(4, 4))
    assert len(seq) == 5
    seq[0] = nn.Identity()
    assert isinstance(seq[0], nn.Identity)
    assert len(seq + nn.Sequential(nn.ReLU())) == 6
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    tnamed = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2)), ("act", torch.nn.ReLU())]))
    assert repr(named) == repr(tnamed) and named.fc is named[0]
    compare(torch, named, tnamed, _x(3, 2))


def test_module_list_dict_repr(torch):
    fl = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU()])
    assert repr(fl) == repr(tl)
    assert len(fl) == 3 and len(list(fl.parameters())) == 4 and isinstance(fl[1:], nn.ModuleList)
    fl.append(nn.Tanh())
    fl.extend([nn.Sigmoid()])
    fl.insert(0, nn.Identity())
    assert [type(m).__name__ for m in fl] == ["Identity", "Linear", "Linear", "ReLU", "Tanh", "Sigmoid"]
    del fl[0]
    assert list(fl._modules) == ["0", "1", "2", "3", "4"]
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    fd = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    td = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2), "b": torch.nn.ReLU()})
    assert repr(fd) == repr(td)
    assert list(fd.keys()) == ["a", "b"] and "a" in fd and len(fd) == 2
    fd["c"] = nn.Tanh()
    assert list(fd) == ["a", "b", "c"]
    assert isinstance(fd.pop("c"), nn.Tanh) and len(fd) == 2


def test_parameter_list(torch):
    fp = nn.ParameterList([nn.Parameter(fastgrad.ones(2, 3)), fastgrad.zeros(4)])
    tp = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3)), torch.zeros(4)])
    assert fg_repr(tp) == repr(fp)
    assert len(fp) == 2 and isinstance(fp[1], nn.Parameter) and len(list(fp.parameters())) == 2

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = nn.ParameterList([nn.Parameter(fastgrad.ones(1)) for _ in range(3)])

    assert [n for n, _ in M().named_parameters()] == ["ps.0", "ps.1", "ps.2"]
    fp.append(nn.Parameter(fastgrad.ones(1)))
    assert len(fp) == 3
    pd = nn.ParameterDict({"w": fastgrad.ones(2)})
    assert isinstance(pd["w"], nn.Parameter) and list(pd.keys()) == ["w"]
    tpd = torch.nn.ParameterDict({"w": torch.ones(2), "d": torch.nn.Parameter(torch.ones(2, 3).double())})
    pd = nn.ParameterDict({"w": fastgrad.ones(2), "d": nn.Parameter(fastgrad.ones(2, 3).double())})
    assert list(pd.keys()) == list(tpd.keys()) == ["d", "w"]  # a plain dict's keys are sorted (PyTorch)
    assert repr(pd) == repr(tpd)  # ParameterDict prints Tensor.type() ("torch.FloatTensor", as PyTorch)
    tpd = torch.nn.ParameterDict(OrderedDict([("w", torch.ones(1)), ("d", torch.ones(1))]))
    pd = nn.ParameterDict(OrderedDict([("w", fastgrad.ones(1)), ("d", fastgrad.ones(1))]))
    assert list(pd.keys()) == list(tpd.keys()) == ["w", "d"]


def test_constructor_errors_match_torch(torch):
    cases = [("Hardtanh", (1.0, 0.0)), ("Dropout", (1.5,)), ("Conv2d", (3, 4, 3, 1, 0, 1, 2)),
             ("Embedding", (5, 3, 7))]
    for name, args in cases:
        with pytest.raises(Exception) as t_err:
            getattr(torch.nn, name)(*args)
        with pytest.raises(Exception) as f_err:
            getattr(nn, name)(*args)
        assert type(f_err.value) is type(t_err.value) and str(f_err.value) == str(t_err.value), name


# --------------------------------------------------------------------------- activations
ACTIVATIONS = [
    ("ReLU", {}, "relu"), ("Sigmoid", {}, "sigmoid"), ("Tanh", {}, "tanh"),
    ("LeakyReLU", {"negative_slope": 0.2}, "leaky_relu"), ("ELU", {"alpha": 0.5}, "elu"),
    ("GELU", {}, "gelu"), ("GELU", {"approximate": "tanh"}, "gelu"), ("SiLU", {}, "silu"),
    ("Softplus", {"beta": 2.0, "threshold": 5.0}, "softplus"), ("Softmax", {"dim": 1}, "softmax"),
    ("LogSoftmax", {"dim": -1}, "log_softmax"), ("Hardtanh", {"min_val": -0.5, "max_val": 0.5}, "hardtanh"),
    ("SELU", {}, "selu"), ("Softsign", {}, "softsign"), ("ReLU6", {}, "hardtanh"),
]


@pytest.mark.parametrize("name,kwargs,fn", ACTIVATIONS, ids=[a[0] + str(a[1]) for a in ACTIVATIONS])
def test_activation_modules(torch, name, kwargs, fn):
    if not hasattr(F, fn):
        pytest.skip(f"F.{fn} is not in fastgrad.nn.functional yet (ops engineer)")
    fm, tm = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(4, 6) * 3)


def test_relu_inplace_repr(torch):
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(nn.LeakyReLU(0.1, True)) == repr(torch.nn.LeakyReLU(0.1, True))
    x = fastgrad.tensor([-1.0, 2.0])
    nn.ReLU(inplace=True)(x)
    assert x.tolist() == [0.0, 2.0]


# --------------------------------------------------------------------------- dropout
def test_dropout():
    if not hasattr(F, "dropout"):
        pytest.skip("F.dropout is not in fastgrad.nn.functional yet (ops engineer)")
    d = nn.Dropout(0.5)
    assert repr(d) == "Dropout(p=0.5, inplace=False)"
    x = fastgrad.ones(1000)
    fastgrad.manual_seed(0)
    y = d(x)
    vals = set(np.unique(y.numpy()).tolist())
    assert vals <= {0.0, 2.0} and 300 < (y.numpy() == 0).sum() < 700
    fastgrad.manual_seed(0)
    assert np.array_equal(d(x).numpy(), y.numpy())
    d.eval()
    assert np.array_equal(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# --------------------------------------------------------------------------- embedding
def test_embedding(torch):
    fm, tm = nn.Embedding(10, 3, padding_idx=0), torch.nn.Embedding(10, 3, padding_idx=0)
    assert repr(fm) == repr(tm)
    assert np.all(fm.weight.detach().numpy()[0] == 0)
    idx = np.array([[0, 2, 4, 2], [9, 0, 1, 2]])
    compare(torch, fm, tm, idx)
    fm2, tm2 = nn.Embedding(6, 2, scale_grad_by_freq=True), torch.nn.Embedding(6, 2, scale_grad_by_freq=True)
    compare(torch, fm2, tm2, np.array([1, 1, 3, 5, 1]))
    with pytest.raises(IndexError):
        fm(fastgrad.tensor([10]))
    pre = nn.Embedding.from_pretrained(fastgrad.ones(3, 2))
    assert not pre.weight.requires_grad and pre(fastgrad.tensor([1])).shape == (1, 2)


def test_embedding_max_norm(torch):
    fm, tm = nn.Embedding(5, 4, max_norm=1.0), torch.nn.Embedding(5, 4, max_norm=1.0)
    copy_to_torch(torch, fm, tm)
    idx = np.array([0, 3, 3])
    with torch.no_grad():
        to = tm(torch.tensor(idx))
    assert_close(fm(fastgrad.tensor(idx)), to, 1e-4, 1e-5)
    assert_close(fm.weight, tm.weight, 1e-4, 1e-5)


# --------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 5, 2))])
def test_batchnorm_train_eval(torch, cls, shape):
    fm, tm = getattr(nn, cls)(3, momentum=0.2), getattr(torch.nn, cls)(3, momentum=0.2)
    assert repr(fm) == repr(tm)
    with fastgrad.no_grad():
        fm.weight.uniform_(0.5, 1.5)
        fm.bias.uniform_(-1, 1)
    for _ in range(3):
        compare(torch, fm, tm, _x(*shape) * 2 + 1)
        assert_close(fm.running_mean, tm.running_mean)
        assert_close(fm.running_var, tm.running_var)
    assert fm.num_batches_tracked.item() == tm.num_batches_tracked.item() == 3
    fm.eval()
    tm.eval()
    compare(torch, fm, tm, _x(*shape))
    assert list(fm.state_dict()) == list(tm.state_dict())


def test_batchnorm_options(torch):
    for kw in [{"affine": False}, {"track_running_stats": False}, {"momentum": None}]:
        fm, tm = nn.BatchNorm1d(4, **kw), torch.nn.BatchNorm1d(4, **kw)
        assert repr(fm) == repr(tm)
        for _ in range(2):
            compare(torch, fm, tm, _x(6, 4))
        fm.eval()
        tm.eval()
        compare(torch, fm, tm, _x(6, 4))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(fastgrad.ones(2, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(fastgrad.ones(1, 3))


def test_layernorm(torch):
    for shape, norm in [((4, 6), 6), ((2, 3, 4), (3, 4))]:
        fm, tm = nn.LayerNorm(norm), torch.nn.LayerNorm(norm)
        with fastgrad.no_grad():
            fm.weight.uniform_(0.5, 1.5)
            fm.bias.uniform_(-1, 1)
        assert repr(fm) == repr(tm)
        compare(torch, fm, tm, _x(*shape) * 3 + 2)
    fm, tm = nn.LayerNorm(5, elementwise_affine=False), torch.nn.LayerNorm(5, elementwise_affine=False)
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(3, 5))
    with pytest.raises(RuntimeError, match="expected input with shape"):
        fm(fastgrad.ones(3, 4))


def test_normalize_double_backward():
    x = fastgrad.tensor(_x(4, 3, dtype=np.float64), requires_grad=True)
    w = fastgrad.tensor(_x(3, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda a, b: F.layer_norm(a, (3,), b), (x, w))
    assert gradgradcheck(lambda a, b: F.layer_norm(a, (3,), b), (x, w))
    assert gradgradcheck(lambda a: F.batch_norm(a, None, None, training=True), (x,))


# --------------------------------------------------------------------------- convolution
CONV2D = [
    dict(), dict(stride=2), dict(padding=1), dict(padding=(2, 1), stride=(1, 2)), dict(dilation=2, padding=2),
    dict(groups=2), dict(bias=False), dict(padding="same"), dict(padding="valid", stride=3),
]


@pytest.mark.parametrize("kw", CONV2D, ids=[str(k) for k in CONV2D])
def test_conv2d(torch, kw):
    fm, tm = nn.Conv2d(4, 6, 3, **kw), torch.nn.Conv2d(4, 6, 3, **kw)
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(2, 4, 9, 8), rtol=1e-4, atol=1e-5)


def test_conv2d_rect_kernel_unbatched(torch):
    fm, tm = nn.Conv2d(3, 2, (2, 3), stride=(2, 1)), torch.nn.Conv2d(3, 2, (2, 3), stride=(2, 1))
    compare(torch, fm, tm, _x(3, 7, 6), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=3, bias=False)])
def test_conv1d(torch, kw):
    fm, tm = nn.Conv1d(3, 6, 3, **kw), torch.nn.Conv1d(3, 6, 3, **kw)
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(2, 3, 11), rtol=1e-4, atol=1e-5)


def test_conv_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(RuntimeError, match="expected input\\[2, 5, 8, 8\\] to have 3 channels, but got 5"):
        conv(fastgrad.ones(2, 5, 8, 8))
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) input to conv2d"):
        conv(fastgrad.ones(8, 8))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        conv(fastgrad.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")


def test_conv_double_backward_and_jvp():
    x = fastgrad.tensor(_x(2, 4, 5, 5, dtype=np.float64), requires_grad=True)
    w = fastgrad.tensor(_x(6, 2, 3, 3, dtype=np.float64), requires_grad=True)
    b = fastgrad.tensor(_x(6, dtype=np.float64), requires_grad=True)

    def f(x, w, b):
        return F.conv2d(x, w, b, stride=2, padding=1, groups=2)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))
    x1 = fastgrad.tensor(_x(2, 2, 7, dtype=np.float64), requires_grad=True)
    w1 = fastgrad.tensor(_x(3, 2, 2, dtype=np.float64), requires_grad=True)
    assert gradgradcheck(lambda a, c: F.conv1d(a, c, dilation=2), (x1, w1))


# --------------------------------------------------------------------------- pooling
MAXPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, ceil_mode=True),
           dict(kernel_size=(2, 3), dilation=2), dict(kernel_size=2, stride=1)]


@pytest.mark.parametrize("kw", MAXPOOL, ids=[str(k) for k in MAXPOOL])
def test_maxpool2d(torch, kw):
    fm, tm = nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw)
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(2, 3, 9, 8))


def test_maxpool_indices_and_double_backward(torch):
    x = _x(2, 3, 7, 6)
    fy, fi = F.max_pool2d(fastgrad.tensor(x), 3, 2, 1, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert_close(fy, ty)
    assert np.array_equal(fi.numpy(), ti.numpy())
    xd = fastgrad.tensor(_x(1, 2, 6, 6, dtype=np.float64), requires_grad=True)
    assert gradgradcheck(lambda a: F.max_pool2d(a, 2), (xd,))


AVGPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
           dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
           dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
           dict(kernel_size=2, divisor_override=3)]


@pytest.mark.parametrize("kw", AVGPOOL, ids=[str(k) for k in AVGPOOL])
def test_avgpool2d(torch, kw):
    fm, tm = nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw)
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(2, 3, 8, 9))


def test_avgpool_double_backward():
    xd = fastgrad.tensor(_x(1, 2, 5, 5, dtype=np.float64), requires_grad=True)
    assert gradgradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True), (xd,))


def test_small_cnn_matches_torch(torch):
    fm = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                       nn.Conv2d(4, 8, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 10))
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 8, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
                             torch.nn.Flatten(), torch.nn.Linear(8, 10))
    assert repr(fm) == repr(tm)
    compare(torch, fm, tm, _x(5, 1, 8, 8), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- losses
LOSSES = [
    ("MSELoss", {}, "mse_loss", "float"), ("MSELoss", {"reduction": "sum"}, "mse_loss", "float"),
    ("MSELoss", {"reduction": "none"}, "mse_loss", "float"), ("L1Loss", {}, "l1_loss", "float"),
    ("SmoothL1Loss", {"beta": 0.5}, "smooth_l1_loss", "float"), ("HuberLoss", {"delta": 0.7}, "huber_loss", "float"),
    ("CrossEntropyLoss", {}, "cross_entropy", "class"),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "reduction": "sum"}, "cross_entropy", "class"),
    ("NLLLoss", {"ignore_index": 1}, "nll_loss", "logprob"), ("BCELoss", {}, "binary_cross_entropy", "prob"),
    ("BCEWithLogitsLoss", {}, "binary_cross_entropy_with_logits", "binary"),
    ("KLDivLoss", {"reduction": "batchmean"}, "kl_div", "logprob_target"),
]


@pytest.mark.parametrize("name,kwargs,fn,kind", LOSSES, ids=[a[0] + str(a[1]) for a in LOSSES])
def test_loss_modules(torch, name, kwargs, fn, kind):
    if not hasattr(F, fn):
        pytest.skip(f"F.{fn} is not in fastgrad.nn.functional yet (ops engineer)")
    x = _x(6, 5)
    if kind == "float":
        t = _x(6, 5)
    elif kind in ("class", "logprob"):
        t = RNG.integers(0, 5, 6)
        if kind == "logprob":
            x = x - np.log(np.exp(x).sum(1, keepdims=True))
    elif kind == "prob":
        x, t = 1 / (1 + np.exp(-x)), RNG.random((6, 5)).astype(np.float32)
    elif kind == "binary":
        t = (RNG.random((6, 5)) > 0.5).astype(np.float32)
    else:
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        t = np.exp(_x(6, 5))
        t = (t / t.sum(1, keepdims=True)).astype(np.float32)
    fm, tm = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(fm) == repr(tm)
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fo, to = fm(fx, fastgrad.tensor(t)), tm(tx, torch.tensor(t))
    assert_close(fo, to, 1e-5, 1e-5)
    fo.sum().backward()
    to.sum().backward()
    assert_close(fx.grad, tx.grad, 1e-5, 1e-5)


def test_loss_weights_are_buffers():
    ce = nn.CrossEntropyLoss(weight=fastgrad.ones(3))
    assert "weight" in dict(ce.named_buffers())
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
