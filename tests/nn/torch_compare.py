"""Run one call on fastgrad and on PyTorch with the same inputs; compare outputs and gradients.

`both(torch, fn, *args, grad=..., **kwargs)`: fn(lib) returns the callable to test for lib
(fastgrad or torch); arrays in args become tensors of each library (floating arrays require
grad where `grad` says so: True = every floating array, or a tuple of argument positions).
The output and each input's .grad (after backward of sum(out * w) for a fixed random w) must
agree, NaN where the other has NaN, None where the other has None."""
import warnings

import numpy as np

import fastgrad

TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11)}


def _close(a, b, what, rtol, atol):
    a = np.asarray(a.detach().numpy() if hasattr(a, "detach") else a)
    b = np.asarray(b.detach().numpy() if hasattr(b, "detach") else b)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert a.dtype == b.dtype, (what, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def to_lib(lib, a, requires_grad):
    if isinstance(a, np.ndarray):
        t = lib.tensor(a.copy())
        if requires_grad and a.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    return a


def both(torch, fn, *args, grad=True, rtol=None, atol=None, seed=0, **kwargs):
    """Compare fn(fastgrad)(*args, **kwargs) with fn(torch)(*args, **kwargs); returns both outputs."""
    outs, grads = [], []
    w = None
    for lib in (fastgrad, torch):
        ts = [to_lib(lib, a, grad is True or (grad and i in grad)) for i, a in enumerate(args)]
        kw = {k: to_lib(lib, v, False) for k, v in kwargs.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib)(*ts, **kw)
        outs.append(out)
        req = [t for t in ts if hasattr(t, "requires_grad") and t.requires_grad]
        if req and out.requires_grad:
            if w is None:
                w = np.random.default_rng(seed).standard_normal(tuple(out.shape)).astype(out.detach().numpy().dtype)
            (out * lib.tensor(w)).sum().backward()
        grads.append([t.grad if hasattr(t, "requires_grad") else None for t in ts])
    dt = outs[1].detach().numpy().dtype
    tol = dict(TOL.get(dt, dict(rtol=1e-6, atol=0)))
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    _close(outs[0], outs[1], "output", **tol)
    for i, (gf, gt) in enumerate(zip(*grads)):
        assert (gf is None) == (gt is None), ("grad of argument %d" % i, gf, gt)
        if gf is not None:
            _close(gf, gt, "grad of argument %d" % i, **tol)
    return outs


def both_raise(torch, fn, *args, **kwargs):
    """fn raises the same exception type with the same message on both libraries."""
    res = []
    for lib in (fastgrad, torch):
        ts = [to_lib(lib, a, False) for a in args]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(lib)(*ts, **kwargs)
        except Exception as e:  # noqa: BLE001
            res.append((type(e), str(e).replace("torch.", "fastgrad.")))
        else:
            res.append(None)
    assert res[1] is not None, "torch did not raise"
    assert res[0] is not None, "fastgrad did not raise; torch raised %r" % (res[1],)
    assert res[0][0] is res[1][0] or issubclass(res[0][0], res[1][0]), res
    assert res[0][1] == res[1][1], res
    return res


def warns_both(torch, fn, *args, **kwargs):
    """The warnings each library gives for the call (messages), fastgrad's first."""
    msgs = []
    for lib in (fastgrad, torch):
        ts = [to_lib(lib, a, False) for a in args]
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fn(lib)(*ts, **kwargs)
        msgs.append([str(r.message).replace("torch.", "fastgrad.") for r in rec])
    return msgs
