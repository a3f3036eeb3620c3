"""Run one expression under fastgrad and torch on the same arrays and compare values and gradients,
NaN for NaN (the property tests of the correctness classes use it)."""
import numpy as np

import fastgrad

TOLS = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}


def leaves(lib, arrays, dtype, grad=True):
    """Tensors of lib from float arrays (cast to dtype, requiring grad if grad); other arrays as they are."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            t = lib.tensor(a.astype(dtype))
            if grad:
                t.requires_grad_(True)
        else:
            t = lib.tensor(a)
        out.append(t)
    return out


def _flat(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res += _flat(o)
        return res
    return [out]


def run(lib, fn, arrays, dtype, grad=True, weights_seed=0):
    """(output arrays, gradient arrays of the float inputs, or None) of fn(lib, *tensors); the
    gradient is that of sum(out * w) over the floating outputs, w fixed random weights."""
    ts = leaves(lib, arrays, dtype, grad)
    outs = _flat(fn(lib, *ts))
    vals = [np.array(o.detach().numpy()) for o in outs]
    grads = None
    diff = [t for t in ts if t.dtype.is_floating_point]
    if grad and diff:
        rs = np.random.RandomState(weights_seed)
        loss = None
        for o in outs:
            if o.dtype.is_floating_point and o.requires_grad:
                w = lib.tensor(rs.uniform(0.5, 1.5, tuple(o.shape)).astype(dtype))
                term = (o * w).sum()
                loss = term if loss is None else loss + term
        if loss is not None:
            gs = lib.autograd.grad(loss, diff, allow_unused=True)
            grads = [None if g is None else np.array(g.detach().numpy()) for g in gs]
    return vals, grads


def assert_same(actual, expected, dtype, what, rtol=None, atol=None):
    """Equal shapes and dtypes; NaN exactly where torch has NaN, infinities equal, the rest close."""
    r, a = TOLS[dtype]
    rtol, atol = rtol or r, atol or a
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, "%s: shape %s, torch %s" % (what, actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, "%s: dtype %s, torch %s" % (what, actual.dtype, expected.dtype)
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=what + ": NaN positions")
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def compare(torch, fn, arrays, dtype, grad=True, what="", rtol=None, atol=None, grad_rtol=None, grad_atol=None):
    """fn's outputs and input gradients, fastgrad against torch."""
    fv, fg = run(fastgrad, fn, arrays, dtype, grad)
    tv, tg = run(torch, fn, arrays, dtype, grad)
    assert len(fv) == len(tv), "%s: %d outputs, torch %d" % (what, len(fv), len(tv))
    for k, (f, t) in enumerate(zip(fv, tv)):
        assert_same(f, t, dtype, "%s output %d" % (what, k), rtol, atol)
    assert (fg is None) == (tg is None), what + ": gradient present in one library only"
    if tg is not None:
        for k, (f, t) in enumerate(zip(fg, tg)):
            if t is None:
                assert f is None or not np.any(f), "%s: gradient of input %d, torch has none" % (what, k)
                continue
            f = np.zeros_like(t) if f is None else f
            assert_same(f, t, dtype, "%s gradient of input %d" % (what, k), grad_rtol or rtol, grad_atol or atol)
