"""PyTorch's own sample registries for the spatial ops and layers: every sample input of op_db
(OpInfo) for the pooling, resampling, padding, fold / unfold, transposed convolution, shuffle and
normalization functions, and of module_db (ModuleInfo) for their layers, run through fastgrad:
outputs (and indices) equal torch's, and the input's gradient for a random cotangent too.
Samples torch itself rejects are skipped; long sample lists are cut to their first 240 and thinned
to at most 48 per dtype."""
import itertools
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from nn_helpers import compare_grad_or_exact

OPS = ["nn.functional.max_pool1d", "nn.functional.max_pool3d", "nn.functional.avg_pool1d", "nn.functional.avg_pool3d",
       "nn.functional.adaptive_avg_pool1d", "nn.functional.adaptive_avg_pool2d", "nn.functional.adaptive_avg_pool3d",
       "nn.functional.adaptive_max_pool1d", "nn.functional.adaptive_max_pool2d", "nn.functional.adaptive_max_pool3d",
       "nn.functional.max_unpool1d", "nn.functional.max_unpool2d", "nn.functional.max_unpool3d",
       "nn.functional.conv_transpose1d", "nn.functional.conv_transpose2d", "nn.functional.unfold", "unfold",
       "nn.functional.interpolate", "nn.functional.upsample_bilinear", "nn.functional.upsample_nearest",
       "nn.functional.pad", "nn.functional.pixel_shuffle", "nn.functional.pixel_unshuffle",
       "nn.functional.channel_shuffle", "nn.functional.group_norm", "nn.functional.instance_norm",
       "nn.functional.rms_norm", "nn.functional.local_response_norm"]

MODULES = ["MaxPool1d", "MaxPool3d", "AvgPool1d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d",
           "LPPool3d", "ConvTranspose1d", "ConvTranspose2d", "Conv1d", "Conv2d", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d", "InstanceNorm3d", "RMSNorm", "LocalResponseNorm", "LayerNorm", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d",
           "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


def _fg(torch, v):
    """torch values -> fastgrad values (tensors keep requires_grad; dtypes map by name)."""
    if isinstance(v, torch.Tensor):
        t = fastgrad.tensor(v.detach().numpy().copy())
        return t.requires_grad_(True) if v.requires_grad else t
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        return type(v)(_fg(torch, a) for a in v)
    if isinstance(v, dict):
        return {k: _fg(torch, a) for k, a in v.items()}
    if isinstance(v, torch.dtype):
        return getattr(fastgrad, str(v).split(".")[-1])
    return v


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [a for x in o for a in _flat(x)]
    return [o]


def _tols(torch, dt):
    return (1e-4, 1e-5) if dt == torch.float32 else (1e-7, 1e-8)


def _compare(torch, fo, to, dt):
    rtol, atol = _tols(torch, dt)
    fl, tl = _flat(fo), _flat(to)
    assert len(fl) == len(tl)
    for a, b in zip(fl, tl):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert a.shape == b.shape
        np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=rtol, atol=atol, equal_nan=True)


def _thin(samples, cap=48):
    return samples[::max(1, -(-len(samples) // cap))]


@pytest.mark.parametrize("name", OPS)
def test_op_db_samples(torch, name):
    db = pytest.importorskip("torch.testing._internal.common_methods_invocations").op_db
    infos = [o for o in db if o.name == name]
    assert infos
    fn = (lambda x, *a, **k: x.unfold(*a, **k)) if name == "unfold" else getattr(F, name.split(".")[-1])
    ran = 0
    for info in infos:
        for dt in (torch.float32, torch.float64):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # the raw generator: OpInfo.sample_inputs wraps it in a tracker that walks the stack per sample
                gen = info.sample_inputs_func(info, "cpu", dt, requires_grad=True)
                samples = _thin(list(itertools.islice(gen, 240)))
            for s in samples:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        to = info.op(s.input, *s.args, **s.kwargs)
                except Exception:
                    continue
                x = _fg(torch, s.input)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fo = fn(x, *_fg(torch, s.args), **_fg(torch, s.kwargs))
                _compare(torch, fo, to, dt)
                t0, f0 = _flat(to)[0], _flat(fo)[0]
                if t0.requires_grad and t0.numel():
                    w = np.random.default_rng(ran).standard_normal(tuple(t0.shape))
                    (gt,) = torch.autograd.grad((t0 * torch.tensor(w, dtype=t0.dtype)).sum(), s.input,
                                                allow_unused=True)
                    (f0 * fastgrad.tensor(w.astype(f0.detach().numpy().dtype))).sum().backward()
                    if gt is not None:
                        compare_grad_or_exact(torch, _compare, info, s, w, x.grad, gt, dt)
                ran += 1
    assert ran


@pytest.mark.parametrize("name", MODULES)
def test_module_db_samples(torch, name):
    db = pytest.importorskip("torch.testing._internal.common_modules").module_db
    infos = [m for m in db if m.module_cls.__name__ == name]
    assert infos
    ran = 0
    for info in infos:
        for training in (True, False):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True,
                                                 training=training)
            for mi in inputs:
                ca, ck = mi.constructor_input.args, mi.constructor_input.kwargs
                fa, fk = mi.forward_input.args, mi.forward_input.kwargs
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        tm = info.module_cls(*ca, **ck).double().train(training)
                        to = tm(*fa, **fk)
                except Exception:
                    continue
                fm = getattr(nn, name)(*_fg(torch, ca), **_fg(torch, ck)).double().train(training)
                for pname, p in fm.named_parameters():
                    p.data = fastgrad.tensor(tm.get_parameter(pname).detach().numpy().copy())
                assert repr(fm) == repr(tm)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fo = fm(*_fg(torch, fa), **_fg(torch, fk))
                _compare(torch, fo, to, torch.float64)
                ran += 1
    assert ran
