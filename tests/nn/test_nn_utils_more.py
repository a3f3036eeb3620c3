"""nn.utils against PyTorch: conv/linear + batch-norm fusion, get_total_norm and
clip_grads_with_norm_, stateless.functional_call, skip_init, convert_conv*_weight_memory_format."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def _copy(fm, tm):
    with torch.no_grad():
        for (n, p), (_, q) in zip(fm.state_dict().items(), tm.state_dict().items()):
            q.copy_(torch.tensor(p.numpy()))


def _bn_stats(m, seed):
    rng = np.random.default_rng(seed)
    with fastgrad.no_grad():
        m.running_mean.copy_(fastgrad.tensor(rng.standard_normal(m.num_features)))
        m.running_var.copy_(fastgrad.tensor(rng.uniform(0.5, 2, m.num_features)))
        m.weight.copy_(fastgrad.tensor(rng.standard_normal(m.num_features)))
        m.bias.copy_(fastgrad.tensor(rng.standard_normal(m.num_features)))


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval(transpose):
    conv = (fastgrad.nn.ConvTranspose2d(3, 4, 3) if transpose else fastgrad.nn.Conv2d(3, 4, 3)).double().eval()
    bn = fastgrad.nn.BatchNorm2d(4).double().eval()
    _bn_stats(bn, 0)
    tconv = (torch.nn.ConvTranspose2d(3, 4, 3) if transpose else torch.nn.Conv2d(3, 4, 3)).double().eval()
    tbn = torch.nn.BatchNorm2d(4).double().eval()
    _copy(conv, tconv)
    _copy(bn, tbn)
    fused = fastgrad.nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    tfused = torch.nn.utils.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    assert type(fused) is type(conv) and fused is not conv
    np.testing.assert_allclose(fused.weight.detach().numpy(), tfused.weight.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(fused.bias.detach().numpy(), tfused.bias.detach().numpy(), rtol=1e-12)
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5))
    np.testing.assert_allclose(fused(fastgrad.tensor(x)).detach().numpy(), bn(conv(fastgrad.tensor(x))).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    assert isinstance(fused.weight, fastgrad.nn.Parameter) and fused.weight.requires_grad
    bn.train()
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fastgrad.nn.utils.fuse_conv_bn_eval(conv, bn)


def test_fuse_conv_bn_weights_defaults_and_linear():
    rng = np.random.default_rng(2)
    w, rm, rv = rng.standard_normal((4, 3, 2)), rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    for args in ((w, None, rm, rv, 1e-5, None, None), ):
        fw, fb = fastgrad.nn.utils.fuse_conv_bn_weights(*[fastgrad.tensor(a) if isinstance(a, np.ndarray) else a
                                                          for a in args])
        tw, tb = torch.nn.utils.fuse_conv_bn_weights(*[torch.tensor(a) if isinstance(a, np.ndarray) else a
                                                       for a in args])
        np.testing.assert_allclose(fw.detach().numpy(), tw.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(fb.detach().numpy(), tb.detach().numpy(), rtol=1e-12)
        assert fw.requires_grad == tw.requires_grad and fb.requires_grad == tb.requires_grad
    lin, bn = fastgrad.nn.Linear(3, 4).double().eval(), fastgrad.nn.BatchNorm1d(4).double().eval()
    _bn_stats(bn, 3)
    tlin, tbn = torch.nn.Linear(3, 4).double().eval(), torch.nn.BatchNorm1d(4).double().eval()
    _copy(lin, tlin)
    _copy(bn, tbn)
    fused, tfused = fastgrad.nn.utils.fuse_linear_bn_eval(lin, bn), torch.nn.utils.fuse_linear_bn_eval(tlin, tbn)
    for a, b in ((fused.weight, tfused.weight), (fused.bias, tfused.bias)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    for lib, (l_, b_) in ((fastgrad, (lin, fastgrad.nn.BatchNorm1d(5).eval())),
                          (torch, (tlin, torch.nn.BatchNorm1d(5).eval()))):
        with pytest.raises(AssertionError, match="To fuse, linear.out_features == bn.num_features or "
                                                 "bn.num_features == 1, got linear.out_features=4 and "
                                                 "bn.num_features=5"):
            lib.nn.utils.fuse_linear_bn_eval(l_, b_)


@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), 3.5])
def test_get_total_norm_and_clip_grads_with_norm(norm_type):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    res = []
    for lib in (fastgrad, torch):
        ps = [lib.tensor(a, requires_grad=True) for a in arrays]
        for p, a in zip(ps, arrays):
            p.grad = lib.tensor(a * 3)
        total = lib.nn.utils.get_total_norm([p.grad for p in ps], norm_type)
        assert lib.nn.utils.clip_grads_with_norm_(ps, 1.5, total) is None
        res.append((total.numpy(), [p.grad.numpy() for p in ps]))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-12)
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert float(fastgrad.nn.utils.get_total_norm([])) == 0.0
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        fastgrad.nn.utils.get_total_norm([fastgrad.tensor([float("nan")])], error_if_nonfinite=True)


def test_stateless_functional_call():
    m = fastgrad.nn.Linear(3, 2)
    w = fastgrad.ones(2, 3)
    x = fastgrad.ones(1, 3)
    with pytest.warns(FutureWarning, match="`torch.nn.utils.stateless.functional_call` is deprecated"):
        out = fastgrad.nn.utils.stateless.functional_call(m, {"weight": w, "bias": fastgrad.zeros(2)}, (x,))
    np.testing.assert_allclose(out.numpy(), [[3.0, 3.0]])


def test_skip_init_and_memory_format():
    m = fastgrad.nn.utils.skip_init(fastgrad.nn.Linear, 3, 4, bias=False)
    assert type(m) is fastgrad.nn.Linear and m.weight.shape == (4, 3) and m.bias is None
    with pytest.raises(RuntimeError, match="Expected a Module; got"):
        fastgrad.nn.utils.skip_init(int)

    class NoDevice(fastgrad.nn.Module):
        def __init__(self, n):
            super().__init__()

    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        fastgrad.nn.utils.skip_init(NoDevice, 3)
    seq = fastgrad.nn.Sequential(fastgrad.nn.Conv2d(2, 3, 3), fastgrad.nn.Sequential(fastgrad.nn.Conv3d(2, 2, 1)))
    before = [p.detach().numpy().copy() for p in seq.parameters()]
    assert fastgrad.nn.utils.convert_conv2d_weight_memory_format(seq, fastgrad.channels_last) is seq
    assert fastgrad.nn.utils.convert_conv3d_weight_memory_format(seq, fastgrad.channels_last_3d) is seq
    for a, p in zip(before, seq.parameters()):
        np.testing.assert_array_equal(a, p.detach().numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastgrad.nn.utils.clip_grad_norm_(seq.parameters(), 1.0)
