"""Half precision (correctness class 4): float16 and bfloat16 tensors through every op of the op
table (tests/ops/op_db.py), the activations and losses, conv/norm/embedding layers, against
PyTorch's CPU build. Values and gradients are compared with torch.testing's default tolerances
for the dtype (float16: rtol 1e-3, atol 1e-5; bfloat16: rtol 1.6e-2, atol 1e-5), loosened only
where PyTorch's own OpInfo loosens them (HALF_TOL below, each with its reason); where PyTorch
raises for a half dtype, fastgrad raises the same error. Inputs are the same half values in both
libraries (float arrays rounded once to the dtype)."""
import importlib.util
import os
import sys
import warnings

import numpy as np
import pytest

import fastgrad
from harness import flatten
from op_db import iter_cases

HALF = ("float16", "bfloat16")
TOL = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5)}  # torch.testing's defaults

# (rtol, atol) per dtype where PyTorch's OpInfo / ModuleInfo tests loosen the default for the op
HALF_TOL = {
    # The target's gradient goes through softmax's backward, whose cancellation in y (g - sum(g y))
    # magnifies the rounding of the half upstream gradient g, which both libraries round (fastgrad
    # correctly, PyTorch as a product of half operands): a few units in the last place of g show.
    "F.cross_entropy_probs:grad": {"float16": (1e-3, 5e-5), "bfloat16": (1.6e-2, 3e-4)},
}

# Where PyTorch's half result is an artefact of its implementation, not a rule to follow:
SKIP = {
    ("signbit", "bfloat16"): "the sign bit of a bfloat16 NaN: PyTorch's float -> bfloat16 conversion gives 0xFFFF "
                             "(negative) in its vectorized loop and 0x7FC0 in its scalar one; NumPy's (ml_dtypes') "
                             "gives 0x7FC0",
}
# PyTorch's float16 binary_cross_entropy backward clamps (1 - x) x at EPSILON = 1e-12 rounded to float16,
# which is 0: NaN where x is 0 or 1. fastgrad clamps at 1e-12 (finite, as PyTorch in float32 and bfloat16).
NAN_OK = {("loss.bce_0_1", "float16")}


def _tol(name, dtype):
    return HALF_TOL.get(name, {}).get(dtype, TOL[dtype])


def _tensor(lib, a, dtype, grad):
    """a (a float array) rounded to dtype, as a leaf of lib; other arrays as they are."""
    if a.dtype.kind != "f":
        return lib.from_numpy(np.array(a, copy=True))
    t = lib.from_numpy(np.array(a, dtype=np.float32)).to(getattr(lib, dtype))
    if grad:
        t.requires_grad_(True)
    return t


def _values(t):
    """A tensor's values as a NumPy array (half dtypes widened to float32, exactly)."""
    t = t.detach()
    return (t.float() if t.dtype.is_floating_point else t).numpy()


def _run(lib, fn, args, kwargs, dtype, nograd=(), exact=False):
    """(outputs, leaves, error) of fn(lib, *args) on dtype tensors (exact: the dtype's values
    widened to float64, for the exact result of the same inputs)."""
    ts = []
    for k, a in enumerate(args):
        if isinstance(a, np.ndarray):
            t = _tensor(lib, a, dtype, k not in nograd)
            if exact and t.dtype.is_floating_point:
                t = t.detach().double().requires_grad_(t.requires_grad)
            ts.append(t)
        else:
            ts.append(a)
    leaves = [t for t in ts if hasattr(t, "requires_grad") and t.requires_grad]
    kw = {}
    for k, v in kwargs.items():
        if isinstance(v, np.ndarray):
            v = _tensor(lib, v, dtype, False)
            if exact and v.dtype.is_floating_point:
                v = v.double()
        kw[k] = v
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = flatten(fn(lib, *ts, **kw))
    except Exception as e:  # noqa: BLE001  (compared with the other library's)
        return None, leaves, e
    return out, leaves, None


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _grads(lib, outs, leaves, seed, like=None):
    """The leaves' gradients of sum(out * w) over the outputs that require grad, w fixed random
    weights rounded to each output's dtype (like: the outputs whose dtype w is rounded to)."""
    rs = np.random.RandomState(seed)
    loss = 0
    for k, o in enumerate(outs):
        if not (hasattr(o, "requires_grad") and o.requires_grad):
            continue
        w = lib.from_numpy(rs.uniform(0.5, 1.5, tuple(o.shape)).astype(np.float32))
        w = w.to((like[k] if like is not None else o).dtype).to(o.dtype)
        loss = loss + (o * w).sum()
    return lib.autograd.grad(loss, leaves, allow_unused=True)


def assert_half_close(f, t, e, rtol, atol, what, nan_ok=False):
    """fastgrad's f against torch's t (half precision, as float arrays): within (rtol, atol) of
    t, or no farther from the exact e (float64, from the same half inputs) than t is, plus the
    same tolerance: rounding in another order than PyTorch's is fine, a worse result is not."""
    assert f.shape == t.shape, "%s: shape %s, torch %s" % (what, f.shape, t.shape)
    f, t, e = (np.asarray(v, np.float64) for v in (f, t, e))
    if nan_ok:  # torch's NaN where the exact value is finite: fastgrad's finite value is checked
        t = np.where(np.isnan(t) & ~np.isnan(e), e, t)
    np.testing.assert_array_equal(np.isnan(f), np.isnan(t), err_msg=what + ": NaN positions")
    ok = np.isnan(t) | (f == t)
    with np.errstate(invalid="ignore"):
        ok |= np.abs(f - t) <= atol + rtol * np.abs(t)
        ok |= np.abs(f - e) <= np.abs(t - e) + atol + rtol * np.abs(e)
    if not ok.all():
        k = np.flatnonzero(~ok.reshape(-1))
        raise AssertionError("%s: %d of %d values off (rtol %g, atol %g); first at %s: fastgrad %r, torch %r, "
                             "exact %r" % (what, k.size, ok.size, rtol, atol, np.unravel_index(k[0], ok.shape),
                                           f.reshape(-1)[k[0]], t.reshape(-1)[k[0]], e.reshape(-1)[k[0]]))


def compare(torch, name, fn, args, kwargs, dtype, nograd=(), seed=0, grads=True):
    """fn(lib, *tensors, **kwargs) under fastgrad and torch: the same error, or the same output
    dtypes and values, and (grads) the same input gradients of sum(out * w) (assert_half_close)."""
    if (name, dtype) in SKIP:
        pytest.skip(SKIP[name, dtype])
    nan_ok = (name, dtype) in NAN_OK
    rtol, atol = _tol(name, dtype)
    f_out, f_leaves, f_err = _run(fastgrad, fn, args, kwargs, dtype, nograd)
    t_out, t_leaves, t_err = _run(torch, fn, args, kwargs, dtype, nograd)
    if t_err is not None:
        assert f_err is not None, "%s: torch raises %r, fastgrad does not" % (name, t_err)
        assert type(f_err).__name__ == type(t_err).__name__ and str(f_err) == str(t_err), (
            "%s: fastgrad raises %r, torch %r" % (name, f_err, t_err))
        return "raises"
    if f_err is not None:
        raise f_err
    e_out, e_leaves, e_err = _run(torch, fn, args, kwargs, dtype, nograd, exact=True)
    assert e_err is None, e_err
    assert len(f_out) == len(t_out), "%s: %d outputs, torch %d" % (name, len(f_out), len(t_out))
    for k, (f, t, e) in enumerate(zip(f_out, t_out, e_out)):
        what = "%s output %d" % (name, k)
        if not isinstance(t, torch.Tensor):
            assert f == t, what
            continue
        assert _dtype_name(f) == _dtype_name(t), "%s: dtype %s, torch %s" % (what, f.dtype, t.dtype)
        fv, tv = _values(f), _values(t)
        if tv.dtype.kind == "f":
            assert_half_close(fv, tv, _values(e), rtol, atol, what, nan_ok)
        else:
            np.testing.assert_array_equal(fv, tv, err_msg=what)
        if grads:
            assert f.requires_grad == t.requires_grad, "%s: requires_grad %s, torch %s" % (
                what, f.requires_grad, t.requires_grad)
    if not grads or not t_leaves or not any(isinstance(t, torch.Tensor) and t.requires_grad for t in t_out):
        return "values"
    t_grads = _grads(torch, t_out, t_leaves, seed)
    f_grads = _grads(fastgrad, f_out, f_leaves, seed)
    e_grads = _grads(torch, e_out, e_leaves, seed, like=t_out)
    grtol, gatol = HALF_TOL.get(name + ":grad", {}).get(dtype, (rtol, atol))
    for j, (fg, tg, eg) in enumerate(zip(f_grads, t_grads, e_grads)):
        what = "%s: gradient of input %d" % (name, j)
        if tg is None:
            assert fg is None or not np.any(_values(fg)), what
            continue
        if fg is None:  # (as tests/ops/test_ops.py: no gradient is a zero one)
            assert not np.any(_values(tg)), what + ": fastgrad has none"
            continue
        assert _dtype_name(fg) == _dtype_name(tg) == dtype, "%s: dtype %s, torch %s" % (what, fg.dtype, tg.dtype)
        assert_half_close(_values(fg), _values(tg), _values(eg), grtol, gatol, what, nan_ok)
    return "grads"


# --------------------------------------------------------------------------- the op table
CASES = [pytest.param(e, s, dt, id="%s-%d-%s" % (e.name, i, dt))
         for e, i, s in iter_cases() for dt in HALF]


@pytest.mark.parametrize("entry, sample, dtype", CASES)
def test_op_db_half(torch, entry, sample, dtype):
    compare(torch, entry.name, entry.fn, sample.args, sample.kwargs, dtype, sample.nograd, grads=entry.compare_grads)


# --------------------------------------------------------------------------- activations, losses
def _load(name):
    """A registry of tests/nn (its FUNCS or CASES), imported from its file."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "nn")
    if here not in sys.path:
        sys.path.insert(0, here)
    spec = importlib.util.spec_from_file_location("_half_" + name, os.path.join(here, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ACT = _load("test_activations_more")
_LOSS = _load("test_losses_more")
_R = np.random.default_rng(7)
_X = _R.standard_normal((4, 6)) * 3


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name", sorted(_ACT.FUNCS))
def test_activations_half(torch, name, dtype):
    fn = _ACT.FUNCS[name]
    if name.startswith("rrelu") or name.endswith("rrelu"):
        fn = (lambda f: lambda L: lambda x: f(L)(x, training=False) if "rrelu" in name else f(L)(x))(fn)
    for x in (_X, _ACT.GRID):
        if x is _ACT.GRID and (name.startswith("glu") or name.startswith("softmin")):
            continue
        compare(torch, "F." + name, lambda L, x: fn(L)(x), [x], {}, dtype)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(_LOSS.CASES))
def test_losses_half(torch, name, reduction, dtype):
    fn, args, kw, grad = _LOSS.CASES[name]
    if name in _LOSS.NO_REDUCTION and reduction != "mean":
        pytest.skip("no reduction argument")
    kw = dict(kw) if name in _LOSS.NO_REDUCTION else dict(kw, reduction=reduction)
    nograd = [k for k in range(len(args)) if k not in grad]
    compare(torch, "loss." + name, lambda L, *a, **k: fn(L)(*a, **k), args, kw, dtype, nograd)
