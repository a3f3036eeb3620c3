"""The table-driven op tests: every op_db sample, forward values and dtypes and input gradients
against PyTorch in float32 and float64, and float64 gradcheck of every differentiable op in reverse
mode and in forward mode (jvp)."""
import numpy as np
import pytest

import fastgrad
from harness import TOL, assert_close, diff_fn, flatten, is_fastgrad, make_inputs, to_numpy
from op_db import iter_cases

CASES = list(iter_cases())
DTYPE_CASES = [pytest.param(e, i, s, dt, id="%s-%d-%s" % (e.name, i, dt))
               for e, i, s in CASES for dt in e.dtypes]
GRADCHECK_CASES = [pytest.param(e, i, s, id="%s-%d" % (e.name, i))
                   for e, i, s in CASES
                   if e.gradcheck and not s.has_empty() and any(a.dtype.kind == "f" for a in s.arrays())]


@pytest.mark.parametrize("entry, idx, sample, dtype", DTYPE_CASES)
def test_forward_and_grad_vs_torch(torch, entry, idx, sample, dtype):
    (rtol, atol), (grtol, gatol) = TOL[dtype]
    rtol, atol = entry.rtol or rtol, entry.atol or atol
    grtol, gatol = entry.grad_rtol or grtol, entry.grad_atol or gatol
    f_args, f_diff = make_inputs(fastgrad, sample, dtype)
    t_args, t_diff = make_inputs(torch, sample, dtype)
    f_out = flatten(entry.fn(fastgrad, *f_args, **sample.kwargs))
    t_out = flatten(entry.fn(torch, *t_args, **sample.kwargs))
    assert len(f_out) == len(t_out), "%d outputs, torch gives %d" % (len(f_out), len(t_out))
    for k, (f, t) in enumerate(zip(f_out, t_out)):
        what = "%s output %d" % (entry.name, k)
        assert is_fastgrad(f) == isinstance(t, torch.Tensor), what + ": tensor vs non-tensor"
        if isinstance(t, torch.Tensor):
            assert to_numpy(f).dtype == to_numpy(t).dtype, "%s: dtype %s, torch %s" % (what, f.dtype, t.dtype)
        assert_close(f, t, rtol, atol, what)

    if not (entry.compare_grads and t_diff):
        return
    pairs = [(f, t) for f, t in zip(f_out, t_out) if isinstance(t, torch.Tensor) and t.requires_grad]
    for f, t in zip(f_out, t_out):
        if isinstance(t, torch.Tensor) and t.dtype.is_floating_point:
            assert f.requires_grad == t.requires_grad, "%s: requires_grad %s, torch %s" % (
                entry.name, f.requires_grad, t.requires_grad)
    if not pairs:
        return
    rs = np.random.RandomState(idx)
    f_loss, t_loss = 0, 0
    for f, t in pairs:
        w = rs.standard_normal(tuple(t.shape)).astype(dtype)
        t_loss = t_loss + (t * torch.from_numpy(w.copy())).sum()
        f_loss = f_loss + (f * fastgrad.from_numpy(w.copy())).sum()
    t_grads = torch.autograd.grad(t_loss, t_diff, allow_unused=True)
    f_grads = fastgrad.autograd.grad(f_loss, f_diff, allow_unused=True)
    for j, (fg, tg, x) in enumerate(zip(f_grads, t_grads, t_diff)):
        tg = torch.zeros_like(x) if tg is None else tg
        fg = np.zeros(tuple(x.shape), dtype) if fg is None else fg
        assert_close(fg, tg, grtol, gatol, "%s: gradient of input %d" % (entry.name, j))


@pytest.mark.parametrize("entry, idx, sample", GRADCHECK_CASES)
def test_gradcheck(entry, idx, sample):
    _gradcheck(entry, sample, check_forward_ad=False)


@pytest.mark.parametrize("entry, idx, sample", GRADCHECK_CASES)
def test_forward_ad_gradcheck(entry, idx, sample):
    _gradcheck(entry, sample, check_forward_ad=True, check_backward_ad=False)


def _gradcheck(entry, sample, **kw):
    fn, diff = diff_fn(entry, sample)
    assert fastgrad.autograd.gradcheck(fn, diff, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol, **kw)
