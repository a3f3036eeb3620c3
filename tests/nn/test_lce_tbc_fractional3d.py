"""Against PyTorch: F.linear_cross_entropy and nn.LinearCrossEntropyLoss (plain and K-dimensional,
class-probability targets, weights, ignore_index, label smoothing; values and gradients),
F.conv_tbc, and F.fractional_max_pool3d / nn.FractionalMaxPool3d with fixed random samples."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
R = np.random.default_rng(0)


def _t(lib, a, grad=True):
    t = lib.tensor(a.copy())
    return t.requires_grad_(True) if grad and a.dtype.kind == "f" else t


CASES = [
    dict(x=(5, 4), w=(3, 4), target=np.array([0, 2, 1, 2, 0])),
    dict(x=(5, 4), w=(3, 4), b=(3,), target=np.array([0, 2, -100, 2, 0]), reduction="sum"),
    dict(x=(4,), w=(3, 4), target=np.array(1)),
    dict(x=(5, 4), w=(3, 2, 4), b=(3, 2), target=R.integers(0, 3, (5, 2)), reduction="none"),
    dict(x=(5, 4), w=(3, 4), target=R.dirichlet(np.ones(3), 5), label_smoothing=0.2),
    dict(x=(5, 4), w=(3, 4), target=np.array([0, 2, 1, 2, 0]), weight=np.array([0.5, 2.0, 1.0]), ignore_index=1,
         label_smoothing=0.1),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_linear_cross_entropy(case):
    c = dict(CASES[case])
    x, w, target = R.standard_normal(c.pop("x")), R.standard_normal(c.pop("w")), c.pop("target")
    b = R.standard_normal(c.pop("b")) if "b" in c else None
    res = []
    for lib in (fastgrad, torch):
        kw = dict(c)
        if "weight" in kw:
            kw["weight"] = lib.tensor(kw["weight"])
        ts = [_t(lib, x), _t(lib, w)] + ([_t(lib, b)] if b is not None else [])
        out = lib.nn.functional.linear_cross_entropy(ts[0], ts[1], lib.tensor(target),
                                                     linear_bias=ts[2] if b is not None else None, **kw)
        out.sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, bb in zip(*res):
        np.testing.assert_allclose(a, bb, rtol=1e-9, atol=1e-12)


def test_linear_cross_entropy_errors_and_options():
    for lib in (fastgrad, torch):
        F = lib.nn.functional
        x, w, tgt = lib.ones(2, 4), lib.ones(3, 4), lib.tensor([0, 1])
        for args, kw, msg in (((lib.ones(2, 2, 4), w, tgt), {}, "expected input with dimensionality 1 or 2, got 3"),
                              ((x, lib.ones(4), tgt), {}, "expected linear_weight with dimensionality at least 2"),
                              ((x, lib.ones(3, 5), tgt), {}, "expected equal input and linear_weight last dimensions"),
                              ((x, w, tgt), dict(linear_bias=lib.ones(2)), "expected linear_bias shape \\(3,\\), got"),
                              ((lib.ones(4), lib.ones(3, 2, 4), lib.tensor([0, 1])), {}, "requires batched input"),
                              ((x, w, lib.ones(2, 3) / 3), dict(ignore_index=0), "ignore_index cannot be specified")):
            with pytest.raises(RuntimeError, match=msg):
                F.linear_cross_entropy(*args, **kw)
        with pytest.warns(UserWarning, match="``options`` ignored"):
            F.linear_cross_entropy(x, w, tgt, label_smoothing=0.1, options=lib.nn.LinearCrossEntropyOptions())
    x, w, tgt = R.standard_normal((6, 4)), R.standard_normal((5, 4)), R.integers(0, 5, 6)
    a = fastgrad.nn.functional.linear_cross_entropy(fastgrad.tensor(x), fastgrad.tensor(w), fastgrad.tensor(tgt),
                                                    options=fastgrad.nn.LinearCrossEntropyOptions(batch_chunk_size=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = torch.nn.functional.linear_cross_entropy(torch.tensor(x), torch.tensor(w), torch.tensor(tgt),
                                                     options=torch.nn.LinearCrossEntropyOptions(batch_chunk_size=2))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9)


@pytest.mark.parametrize("out_features,bias", [((), False), ((2,), True)])
def test_linear_cross_entropy_loss_module(out_features, bias):
    fm = fastgrad.nn.LinearCrossEntropyLoss(4, 3, out_features=out_features, bias=bias, label_smoothing=0.1).double()
    tm = torch.nn.LinearCrossEntropyLoss(4, 3, out_features=out_features, bias=bias, label_smoothing=0.1).double()
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    with torch.no_grad():
        for k, v in fm.state_dict().items():
            tm.state_dict()[k].copy_(torch.tensor(v.numpy()))
    x = R.standard_normal((5, 4))
    tgt = R.integers(0, 3, (5,) + out_features)
    fo, to = fm(fastgrad.tensor(x), fastgrad.tensor(tgt)), tm(torch.tensor(x), torch.tensor(tgt))
    fo.backward()
    to.backward()
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(fm.linear.weight.grad.numpy(), tm.linear.weight.grad.numpy(), rtol=1e-9)
    for lib in (fastgrad, torch):
        with pytest.raises(RuntimeError, match="expected weight shape to be \\(3,\\), got \\(2,\\)"):
            lib.nn.LinearCrossEntropyLoss(4, 3, weight=lib.ones(2))
        with pytest.raises(RuntimeError, match="expected label_smoothing to be in range \\[0, 1\\], got 1.5"):
            lib.nn.LinearCrossEntropyLoss(4, 3, label_smoothing=1.5)
    assert repr(fastgrad.nn.LinearCrossEntropyOptions()) == repr(torch.nn.LinearCrossEntropyOptions())


@pytest.mark.parametrize("pad", [0, 1, 2])
def test_conv_tbc(pad):
    x, w, b = R.standard_normal((7, 2, 3)), R.standard_normal((3, 3, 4)), R.standard_normal(4)
    res = []
    for lib in (fastgrad, torch):
        ts = [_t(lib, a) for a in (x, w, b)]
        out = lib.nn.functional.conv_tbc(*ts, pad)
        (out * out).sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, bb in zip(*res):
        np.testing.assert_allclose(a, bb, rtol=1e-9, atol=1e-12)
    with pytest.raises(RuntimeError, match="Input dim 2 \\(input channels\\) is not == dim 1 in the weight tensor"):
        fastgrad.nn.functional.conv_tbc(fastgrad.ones(5, 2, 2), fastgrad.ones(3, 3, 4), fastgrad.ones(4))


@pytest.mark.parametrize("kw", [dict(kernel_size=2, output_size=(4, 5, 6)), dict(kernel_size=(3, 2, 2), output_ratio=0.5),
                                dict(kernel_size=1, output_size=3)])
@pytest.mark.parametrize("batched", [True, False])
def test_fractional_max_pool3d(kw, batched):
    shape = (2, 3, 7, 8, 9) if batched else (3, 7, 8, 9)
    x = R.standard_normal(shape)
    rs = R.random((2 if batched else 1, 3, 3))
    res = []
    for lib in (fastgrad, torch):
        xt = _t(lib, x)
        y, i = lib.nn.functional.fractional_max_pool3d(xt, return_indices=True, _random_samples=lib.tensor(rs), **kw)
        (y * y).sum().backward()
        m = lib.nn.FractionalMaxPool3d(_random_samples=lib.tensor(rs), **kw)
        res.append([y.detach().numpy(), i.numpy(), xt.grad.numpy(), m(lib.tensor(x)).numpy()])
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    for lib in (fastgrad, torch):
        with pytest.raises(ValueError, match="requires specifying either an output size, or a pooling ratio"):
            lib.nn.FractionalMaxPool3d(2)
        with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
            lib.nn.FractionalMaxPool3d(2, output_ratio=1.5)
