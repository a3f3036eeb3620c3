"""The kernels: fastgrad._C (compiled) and fastgrad._kernels_np (pure NumPy).

Both must expose the same functions with the same signatures, agree with each other
(float64 rtol 1e-12, float32 rtol 1e-5; plus an absolute term relative to the size of
the result, for values that cancel to ~0), with closed forms written here, and with
PyTorch when it is installed. Bad arguments raise the same clean Python exceptions from
both, and a fuzz loop throws random arguments at the compiled entry points.

The modules are loaded by path when ``import fastgrad`` does not work (yet).
"""
import importlib.machinery
import importlib.util
import inspect
import math
import pathlib
import warnings

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "fastgrad"


def _load_numpy_kernels():
    spec = importlib.util.spec_from_file_location("fastgrad_kernels_np", PKG / "_kernels_np.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _load_compiled_kernels():
    try:
        from fastgrad import _C
        return _C
    except Exception:  # noqa: BLE001 - the package may be broken or unbuilt; try the file
        pass
    for path in sorted(PKG.glob("_C.*.so")) + sorted(PKG.glob("_C.*.pyd")):
        loader = importlib.machinery.ExtensionFileLoader("fastgrad._C", str(path))
        spec = importlib.util.spec_from_file_location("fastgrad._C", str(path), loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        return mod
    return None


NP = _load_numpy_kernels()
C = _load_compiled_kernels()
needs_c = pytest.mark.skipif(C is None, reason="fastgrad._C is not built")
BACKENDS = [pytest.param("numpy", id="numpy"),
            pytest.param("cython", id="cython", marks=needs_c)]
DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
ERRORS = (TypeError, ValueError, IndexError, OverflowError)


@pytest.fixture(params=BACKENDS)
def K(request):
    return NP if request.param == "numpy" else C


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def close(actual, expected, dtype, factor=1.0, scale=None):
    """allclose with the dtype's rtol and an absolute term of rtol * scale, by default
    scale = max|expected| (pass the size of the terms when the result cancels)."""
    rtol = RTOL[np.dtype(dtype)] * factor
    expected = np.asarray(expected, np.float64)
    finite = expected[np.isfinite(expected)]
    if scale is None:
        scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=rtol,
                               atol=rtol * max(scale, 1e-30), equal_nan=True)


def noncontig(a):
    """The same values as `a` in a non-C-contiguous array (a strided view)."""
    big = np.empty(a.shape + (2,), a.dtype)
    big[..., 0] = a
    view = big[..., 0]
    assert a.size <= 1 or not view.flags.c_contiguous
    return view


# --------------------------------------------------------------------------- reference math
def ref_sigmoid(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def ref_gelu(x, approximate):
    """x Phi(x); tanh form: 0.5 x (1 + tanh u) = x sigmoid(2u) (no cancellation at x < 0)."""
    if approximate:
        return x * ref_sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))
    return 0.5 * x * _erfc(-x / math.sqrt(2))


def ref_gelu_grad(x, approximate):
    if approximate:      # PyTorch's 0.5 (1 + t) + 0.5 x (1 - t^2) u' with t = 2 s - 1
        k = math.sqrt(2 / math.pi)
        s = ref_sigmoid(2 * k * (x + 0.044715 * x ** 3))
        return s + 2 * x * s * (1 - s) * k * (1 + 3 * 0.044715 * x * x)
    return 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def ref_softplus(x, beta, threshold):
    return np.where(beta * x > threshold, x, np.logaddexp(0, beta * x) / beta)


# name: (number of array inputs, extra scalar args, closed form of the float64 inputs)
ELEMENTWISE = {
    "sigmoid_fwd": (1, (), lambda x: ref_sigmoid(x)),
    "sigmoid_bwd": (2, (), lambda y, gy: gy * y * (1 - y)),
    "tanh_fwd": (1, (), lambda x: np.tanh(x)),
    "tanh_bwd": (2, (), lambda y, gy: gy * (1 - y * y)),
    "relu_fwd": (1, (), lambda x: np.where(x > 0, x, 0.0)),
    "relu_bwd": (2, (), lambda x, gy: np.where(x <= 0, 0.0, gy)),  # nan passes gy (torch)
    "gelu_fwd": (1, (False,), lambda x: ref_gelu(x, False)),
    "gelu_bwd": (2, (False,), lambda x, gy: gy * ref_gelu_grad(x, False)),
    "silu_fwd": (1, (), lambda x: x * ref_sigmoid(x)),
    "silu_bwd": (2, (), lambda x, gy: gy * (ref_sigmoid(x) * (1 + x * (1 - ref_sigmoid(x))))),
    "softplus_fwd": (1, (1.0, 20.0), lambda x: ref_softplus(x, 1.0, 20.0)),
    "softplus_bwd": (2, (1.0, 20.0), lambda x, gy: np.where(x > 20, gy, gy * ref_sigmoid(x))),
}
EXTRA_CASES = [  # other scalar options, as (name, extra args, closed form)
    ("gelu_fwd", (True,), lambda x: ref_gelu(x, True)),
    ("gelu_bwd", (True,), lambda x, gy: gy * ref_gelu_grad(x, True)),
    ("softplus_fwd", (2.0, 5.0), lambda x: ref_softplus(x, 2.0, 5.0)),
    ("softplus_bwd", (0.5, 3.0),
     lambda x, gy: np.where(0.5 * x > 3.0, gy, gy * ref_sigmoid(0.5 * x))),
]
ALL_ELEMENTWISE = [(n, e, f) for n, (_, e, f) in ELEMENTWISE.items()] + EXTRA_CASES
SHAPES = [(0,), (3, 0, 2), (), (1,), (7,), (4, 5), (3, 2, 6), (70, 513)]  # 35910 > PAR_MIN


def _inputs(name, shape, dtype, rng, scale=3.0):
    x = rng.standard_normal(shape) * scale
    if name in ("sigmoid_bwd", "tanh_bwd"):         # the first input is the fwd output y
        x = ref_sigmoid(x) if name == "sigmoid_bwd" else np.tanh(x)
    arrays = [x, rng.standard_normal(shape)]
    return [np.asarray(a, dtype) for a in arrays[:ELEMENTWISE[name][0]]]


# --------------------------------------------------------------------------- interface
@needs_c
def test_same_public_names_and_signatures():
    assert list(NP.__all__) == list(C.__all__)

    def public(mod):
        return {n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n))
                and not inspect.ismodule(getattr(mod, n))}

    assert public(NP) == public(C) == set(NP.__all__)
    for name in NP.__all__:
        if isinstance(getattr(NP, name), np.ufunc):  # + - * / neg square: NumPy's ufuncs
            nin = getattr(NP, name).nin
            assert list(inspect.signature(getattr(C, name)).parameters) == \
                (["a", "b", "out"] if nin == 2 else ["x", "out"]), name
            assert getattr(C, name).__doc__, name
            continue
        a = inspect.signature(getattr(NP, name))
        b = inspect.signature(getattr(C, name))
        assert [(p.name, p.kind, p.default) for p in a.parameters.values()] == \
               [(p.name, p.kind, p.default) for p in b.parameters.values()], name
        assert getattr(C, name).__doc__, name


# --------------------------------------------------------------------------- elementwise
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,extra,ref", ALL_ELEMENTWISE,
                         ids=["%s%s" % (n, e) for n, e, _ in ALL_ELEMENTWISE])
def test_elementwise_closed_form(K, name, extra, ref, shape, dtype):
    rng = np.random.default_rng(len(shape) * 7 + len(name))
    ins = _inputs(name, shape, dtype, rng)
    out = np.full(shape, np.nan, dtype)
    res = getattr(K, name)(*ins, out, *extra)
    assert res is out and out.dtype == dtype and out.shape == shape
    close(out, ref(*[a.astype(np.float64) for a in ins]), dtype, factor=4)


@needs_c
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,extra,ref", ALL_ELEMENTWISE,
                         ids=["%s%s" % (n, e) for n, e, _ in ALL_ELEMENTWISE])
def test_elementwise_backends_agree(name, extra, ref, dtype):
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        for scale in (1.0, 30.0):
            ins = _inputs(name, shape, dtype, rng, scale)
            a = getattr(NP, name)(*ins, np.empty(shape, dtype), *extra)
            b = getattr(C, name)(*ins, np.empty(shape, dtype), *extra)
            close(b, a, dtype)
            # non-contiguous inputs give the same result
            c = getattr(C, name)(*[noncontig(x) for x in ins], np.empty(shape, dtype), *extra)
            d = getattr(NP, name)(*[noncontig(x) for x in ins], np.empty(shape, dtype), *extra)
            np.testing.assert_array_equal(c, b)
            np.testing.assert_array_equal(d, a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,extra,ref", ALL_ELEMENTWISE,
                         ids=["%s%s" % (n, e) for n, e, _ in ALL_ELEMENTWISE])
def test_elementwise_large_inputs_are_stable(K, name, extra, ref, dtype):
    """|x| up to the dtype's max: no warnings, no nan, the limits are right."""
    big = np.finfo(dtype).max
    x = np.array([-big, -1e30, -1e4, -100, -30, -5, 0, 5, 30, 100, 1e4, 1e30, big])
    x = x[np.abs(x) <= big].astype(dtype)
    ins = [x, np.ones_like(x)][:ELEMENTWISE[name][0]]
    if name == "sigmoid_bwd":
        ins[0] = ref_sigmoid(x.astype(np.float64)).astype(dtype)
    if name == "tanh_bwd":
        ins[0] = np.tanh(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(K, name)(*ins, np.empty_like(x), *extra)
    assert np.all(np.isfinite(out)), (name, out)
    if name in ("gelu_fwd", "silu_fwd", "relu_fwd"):
        np.testing.assert_array_equal(out[x >= 100], x[x >= 100])
        assert np.all(np.abs(out[x <= -100]) < 1e-30)
    if name == "sigmoid_fwd":
        np.testing.assert_array_equal(out[[0, -1]], [0, 1])
    if name in ("gelu_bwd", "silu_bwd", "softplus_bwd", "relu_bwd"):
        np.testing.assert_array_equal(out[x >= 100], 1)
        assert np.all(np.abs(out[x <= -100]) < 1e-20)


@pytest.mark.parametrize("name", ["sigmoid_fwd", "tanh_fwd", "relu_fwd", "silu_fwd", "gelu_fwd"])
def test_elementwise_out_may_alias_input(K, name):
    extra = ELEMENTWISE[name][1]
    x = np.random.default_rng(2).standard_normal((5, 8))
    want = getattr(K, name)(x, np.empty_like(x), *extra)
    assert getattr(K, name)(x, x, *extra) is x
    np.testing.assert_array_equal(x, want)


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_match_torch(K, torch, dtype, approximate):
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(3000) * 4).astype(dtype)
    gy = rng.standard_normal(3000).astype(dtype)
    fns = {
        "sigmoid": (torch.sigmoid, ()),
        "tanh": (torch.tanh, ()),
        "relu": (torch.relu, ()),
        "silu": (F.silu, ()),
        "gelu": (lambda t: F.gelu(t, approximate="tanh" if approximate else "none"),
                 (approximate,)),
        "softplus": (lambda t: F.softplus(t, beta=1.5, threshold=7.0), (1.5, 7.0)),
    }
    for name, (fn, extra) in fns.items():
        tx = torch.tensor(x, requires_grad=True)
        ty = fn(tx)
        ty.backward(torch.tensor(gy))
        y = getattr(K, name + "_fwd")(x, np.empty_like(x), *extra)
        close(y, ty.detach().numpy(), dtype, factor=10)
        first = y if name in ("sigmoid", "tanh") else x
        g = getattr(K, name + "_bwd")(first, gy, np.empty_like(x), *extra)
        close(g, tx.grad.numpy(), dtype, factor=10)


# --------------------------------------------------------------------------- row-wise
def ref_log_softmax(x):
    return x - np.logaddexp.reduce(x, axis=1, keepdims=True)


ROW_SHAPES = [(0, 5), (3, 0), (1, 1), (4, 7), (2, 1000), (40, 1000)]  # 40000 > PAR_MIN


def _row_inputs(shape, dtype, rng, scale=3.0):
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    return x, gy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=str)
def test_rowwise_closed_form(K, shape, dtype):
    rng = np.random.default_rng(4)
    for scale in (3.0, 1e4):
        x, gy = _row_inputs(shape, dtype, rng, scale)
        x64, gy64 = x.astype(np.float64), gy.astype(np.float64)
        lsm = ref_log_softmax(x64) if x.size else x64
        sm = np.exp(lsm)
        y = K.softmax_fwd(x, np.empty_like(x))
        ly = K.log_softmax_fwd(noncontig(x), np.empty_like(x))
        close(y, sm, dtype, factor=10)
        close(ly, lsm, dtype, factor=10 if scale < 100 else 1e4)   # |x| ~ 1e4: ulp of x
        sm, lsm = sm.astype(dtype), lsm.astype(dtype)          # the bwd inputs, as given
        gs = K.softmax_bwd(sm, gy, np.empty_like(x))
        sm = sm.astype(np.float64)
        close(gs, sm * (gy64 - (gy64 * sm).sum(1, keepdims=True)), dtype, factor=10,
              scale=np.abs(gy64).max(initial=0))          # gy - sum(gy y) cancels
        gl = K.log_softmax_bwd(lsm, gy, np.empty_like(x))
        close(gl, gy64 - np.exp(lsm.astype(np.float64)) * gy64.sum(1, keepdims=True), dtype,
              factor=10)


@needs_c
@pytest.mark.parametrize("dtype", DTYPES)
def test_rowwise_backends_agree(dtype):
    rng = np.random.default_rng(5)
    for shape in ROW_SHAPES:
        x, gy = _row_inputs(shape, dtype, rng)
        for name, first in (("softmax_fwd", None), ("log_softmax_fwd", None),
                            ("softmax_bwd", "softmax_fwd"), ("log_softmax_bwd", "log_softmax_fwd")):
            ins = (x,) if first is None else (NP.__dict__[first](x, np.empty_like(x)), gy)
            a = getattr(NP, name)(*ins, np.empty_like(x))
            b = getattr(C, name)(*ins, np.empty_like(x))
            close(b, a, dtype)
            np.testing.assert_array_equal(
                getattr(C, name)(*[noncontig(i) for i in ins], np.empty_like(x)), b)


def test_rowwise_infinities_like_torch(K, torch):
    inf = np.inf
    x = np.array([[-inf, -inf, -inf], [-inf, 0.0, 1.0], [inf, 0.0, 1.0], [np.nan, 0.0, 1.0],
                  [1e4, -1e4, 1e4 - 1]])
    tx = torch.tensor(x)
    np.testing.assert_allclose(K.softmax_fwd(x, np.empty_like(x)),
                               torch.softmax(tx, 1).numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(K.log_softmax_fwd(x, np.empty_like(x)),
                               torch.log_softmax(tx, 1).numpy(), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rowwise_match_torch(K, torch, dtype):
    rng = np.random.default_rng(6)
    x, gy = _row_inputs((16, 33), dtype, rng, 5.0)
    for name, fn in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        tx = torch.tensor(x, requires_grad=True)
        ty = fn(tx, 1)
        ty.backward(torch.tensor(gy))
        y = getattr(K, name + "_fwd")(x, np.empty_like(x))
        close(y, ty.detach().numpy(), dtype, factor=10)
        close(getattr(K, name + "_bwd")(y, gy, np.empty_like(x)), tx.grad.numpy(), dtype,
              factor=10)


# --------------------------------------------------------------------------- cross-entropy
def ref_cross_entropy(x, target, weight, ignore_index, eps):
    """Per-sample loss and d(sum gloss*loss)/dx from the definition, in float64."""
    n, c = x.shape
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    lse = np.logaddexp.reduce(x, axis=1) if c else np.full(n, -np.inf)
    loss = np.zeros(n)
    a = np.zeros((n, c))
    for i in range(n):
        if target[i] == ignore_index:
            continue
        a[i] = eps / c * w
        a[i, target[i]] += (1 - eps) * w[target[i]]
        loss[i] = np.sum(a[i] * (lse[i] - x[i]))
    p = np.exp(x - lse[:, None])
    return lse, loss, a, p


def _ce_case(rng, n, c, dtype, weighted, ignore_index, scale=3.0):
    x = (rng.standard_normal((n, c)) * scale).astype(dtype)
    target = rng.integers(0, max(c, 1), n)
    target[rng.random(n) < 0.2] = ignore_index
    weight = rng.uniform(0.2, 2.0, c).astype(dtype) if weighted else None
    gloss = rng.standard_normal(n).astype(dtype)
    return x, target, weight, gloss


CE_OPTIONS = [(w, ii, eps) for w in (False, True) for ii in (-100, 1) for eps in (0.0, 0.1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted,ignore_index,eps", CE_OPTIONS)
def test_cross_entropy_closed_form(K, weighted, ignore_index, eps, dtype):
    rng = np.random.default_rng(7)
    for n, c, scale in ((0, 4, 1), (1, 1, 1), (9, 5, 3), (64, 600, 3), (8, 10, 1e4)):
        x, target, weight, gloss = _ce_case(rng, n, c, dtype, weighted, ignore_index, scale)
        lse = np.full(n, np.nan, dtype)
        loss = K.cross_entropy_fwd(x, target, weight, ignore_index, eps, lse, np.empty(n, dtype))
        rlse, rloss, a, p = ref_cross_entropy(x.astype(np.float64), target, weight,
                                              ignore_index, eps)
        f = 10 if scale < 100 else 1e4
        close(lse, rlse, dtype, factor=f)
        close(loss, rloss, dtype, factor=f)
        grad = K.cross_entropy_bwd(x, target, weight, ignore_index, eps, lse, gloss,
                                   np.empty_like(x))
        want = gloss.astype(np.float64)[:, None] * (a.sum(1, keepdims=True) * p - a)
        close(grad, want, dtype, factor=f)
        assert np.all(grad[target == ignore_index] == 0)


@needs_c
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_backends_agree(dtype):
    rng = np.random.default_rng(8)
    for weighted, ignore_index, eps in CE_OPTIONS:
        for n, c in ((0, 3), (3, 0), (5, 1), (40, 1000)):
            if c == 0:
                x, target, weight, gloss = (np.zeros((n, 0), dtype), np.full(n, ignore_index),
                                            np.zeros(0, dtype) if weighted else None,
                                            np.ones(n, dtype))
            else:
                x, target, weight, gloss = _ce_case(rng, n, c, dtype, weighted, ignore_index)
            res = []
            for K in (NP, C):
                lse = np.empty(n, dtype)
                loss = K.cross_entropy_fwd(noncontig(x), target, weight, ignore_index, eps, lse,
                                           np.empty(n, dtype))
                grad = K.cross_entropy_bwd(x, noncontig(target), weight, ignore_index, eps, lse,
                                           gloss, np.empty_like(x))
                res.append((lse, loss, grad))
            for u, v in zip(*res):
                close(v, u, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted,ignore_index,eps",
                         CE_OPTIONS + [(True, -100, 0.3), (False, 0, 0.3)])
def test_cross_entropy_matches_torch(K, torch, weighted, ignore_index, eps, dtype):
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    for scale in (3.0, 1e4):
        x, target, weight, gloss = _ce_case(rng, 12, 7, dtype, weighted, ignore_index, scale)
        tx = torch.tensor(x, requires_grad=True)
        tloss = F.cross_entropy(tx, torch.tensor(target), reduction="none",
                                weight=None if weight is None else torch.tensor(weight),
                                ignore_index=ignore_index, label_smoothing=eps)
        (tloss * torch.tensor(gloss)).sum().backward()
        lse = np.empty(12, dtype)
        loss = K.cross_entropy_fwd(x, target, weight, ignore_index, eps, lse, np.empty(12, dtype))
        f = 10 if scale < 100 else 1e4
        close(loss, tloss.detach().numpy(), dtype, factor=f)
        close(lse, torch.logsumexp(tx, 1).detach().numpy(), dtype, factor=f)
        grad = K.cross_entropy_bwd(x, target, weight, ignore_index, eps, lse, gloss,
                                   np.empty_like(x))
        close(grad, tx.grad.numpy(), dtype, factor=f)


@pytest.mark.parametrize("bad", [12, -1, 5])
def test_cross_entropy_target_out_of_bounds(K, bad):
    x = np.zeros((3, 5))
    target = np.array([0, bad, 1])
    lse, loss = np.full(3, 7.0), np.full(3, 7.0)
    with pytest.raises(IndexError, match="^Target %d is out of bounds.$" % bad):
        K.cross_entropy_fwd(x, target, None, -100, 0.0, lse, loss)
    assert np.all(lse == 7) and np.all(loss == 7)           # raised before the loop
    with pytest.raises(IndexError, match="^Target %d is out of bounds.$" % bad):
        K.cross_entropy_bwd(x, target, None, -100, 0.0, lse, loss, np.empty_like(x))
    # an ignored target may be anything, also out of range
    K.cross_entropy_fwd(x, target, None, bad, 0.0, lse, loss)
    assert loss[1] == 0


def test_cross_entropy_int32_target(K):
    x = np.random.default_rng(0).standard_normal((4, 3))
    a = K.cross_entropy_fwd(x, np.array([0, 1, 2, 1], np.int32), None, -100, 0.0,
                            np.empty(4), np.empty(4)).copy()
    b = K.cross_entropy_fwd(x, np.array([0, 1, 2, 1]), None, -100, 0.0, np.empty(4), np.empty(4))
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- optimizers
def _opt_state(p0):
    return {k: np.zeros_like(p0) for k in ("buf", "m", "v", "vmax", "sa", "ga", "mb", "ss")}


def _run_ours(K, kind, opts, p0, grads):
    p = p0.copy()
    s = _opt_state(p0)
    if kind == "adagrad":
        s["ss"][...] = opts.get("initial_accumulator_value", 0.0)
    for k, g in enumerate(grads, 1):
        if kind == "sgd":
            mom = opts.get("momentum", 0.0)
            r = K.sgd_step(p, g, s["buf"] if mom else None, opts["lr"], mom,
                           opts.get("dampening", 0.0), opts.get("weight_decay", 0.0),
                           opts.get("nesterov", False), opts.get("maximize", False), k == 1)
        elif kind in ("adam", "adamw"):
            b1, b2 = opts.get("betas", (0.9, 0.999))
            ams = opts.get("amsgrad", False)
            r = K.adam_step(p, g, s["m"], s["v"], s["vmax"] if ams else None, opts["lr"], b1, b2,
                            opts.get("eps", 1e-8), opts.get("weight_decay", 0.01 if kind == "adamw"
                                                             else 0.0),
                            k, ams, opts.get("maximize", False), kind == "adamw")
        elif kind == "rmsprop":
            cen, mom = opts.get("centered", False), opts.get("momentum", 0.0)
            r = K.rmsprop_step(p, g, s["sa"], s["ga"] if cen else None, s["mb"] if mom else None,
                               opts["lr"], opts.get("alpha", 0.99), opts.get("eps", 1e-8),
                               opts.get("weight_decay", 0.0), mom, cen, opts.get("maximize", False))
        else:
            r = K.adagrad_step(p, g, s["ss"], opts["lr"], opts.get("lr_decay", 0.0),
                               opts.get("weight_decay", 0.0), opts.get("eps", 1e-10), k,
                               opts.get("maximize", False))
        assert r is p
    return p, s


OPTIMIZERS = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1,
             "maximize": True}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("adam", {"lr": 0.02, "betas": (0.3, 0.5), "eps": 1e-6, "maximize": True}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.2, "amsgrad": True, "maximize": True}),
    ("rmsprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.3, "momentum": 0.5, "maximize": True}),
    ("adagrad", {"lr": 0.1}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.1, "maximize": True}),
]
OPT_IDS = ["%s-%s" % (k, "-".join("%s=%s" % kv for kv in o.items())) for k, o in OPTIMIZERS]


def _grads(rng, shape, dtype, steps=20):
    return [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,opts", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_matches_torch(K, torch, kind, opts, dtype):
    rng = np.random.default_rng(10)
    p0 = rng.standard_normal((6, 7)).astype(dtype)
    grads = _grads(rng, p0.shape, dtype)
    tp = torch.nn.Parameter(torch.tensor(p0))
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[kind]
    opt = cls([tp], foreach=False, **opts)
    for g in grads:
        tp.grad = torch.tensor(g)
        opt.step()
    p, _ = _run_ours(K, kind, opts, p0, grads)
    close(p, tp.detach().numpy(), dtype, factor=100)


@needs_c
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,opts", OPTIMIZERS, ids=OPT_IDS)
def test_optimizer_backends_agree(kind, opts, dtype):
    rng = np.random.default_rng(11)
    for shape in ((0,), (), (5, 3), (40000,)):                # 40000 > PAR_MIN
        p0 = rng.standard_normal(shape).astype(dtype)
        grads = [noncontig(g) for g in _grads(rng, shape, dtype, 5)]
        pa, sa = _run_ours(NP, kind, opts, p0, grads)
        pb, sb = _run_ours(C, kind, opts, p0, grads)
        close(pb, pa, dtype)
        for key in sa:
            close(sb[key], sa[key], dtype)


def test_optimizer_closed_form_sgd_adam(K):
    """One step from the definitions, independent of PyTorch."""
    p0, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.25, -1.0])
    p = p0.copy()
    K.sgd_step(p, g, None, 0.1, 0.0, 0.0, 0.0, False, False, True)
    close(p, p0 - 0.1 * g, np.float64)
    p, m, v = p0.copy(), np.zeros(3), np.zeros(3)
    K.adam_step(p, g, m, v, None, 0.01, 0.9, 0.999, 1e-8, 0.0, 1, False, False, False)
    # after one step m/bc1 = g and v/bc2 = g*g, so the update is lr * g / (|g| + eps)
    close(p, p0 - 0.01 * g / (np.abs(g) + 1e-8), np.float64)
    p, ss = p0.copy(), np.zeros(3)
    K.adagrad_step(p, g, ss, 0.1, 0.0, 0.0, 1e-10, 1, False)
    close(p, p0 - 0.1 * g / (np.abs(g) + 1e-10), np.float64)
    p, sq = p0.copy(), np.zeros(3)
    K.rmsprop_step(p, g, sq, None, None, 0.01, 0.99, 1e-8, 0.0, 0.0, False, False)
    close(p, p0 - 0.01 * g / (np.sqrt(0.01 * g * g) + 1e-8), np.float64)


# --------------------------------------------------------------------------- bad input
def _bad_cases():
    f4, f8 = np.zeros(6, np.float32), np.zeros(6, np.float64)
    i8, f2 = np.zeros(6, np.int64), np.zeros(6, np.float16)
    ro = np.zeros(6)
    ro.flags.writeable = False
    nc = np.zeros(12)[::2]
    swapped = np.zeros(6, ">f8" if np.little_endian else "<f8")
    m2, m3 = np.zeros((2, 3)), np.zeros((3, 2))
    t = np.array([0, 1])
    cases = [
        (TypeError, "sigmoid_fwd", (f4, f8)),
        (TypeError, "sigmoid_fwd", (i8, i8.copy())),
        (TypeError, "sigmoid_fwd", (f2, f2.copy())),
        (TypeError, "sigmoid_fwd", (swapped, f8)),
        (TypeError, "sigmoid_fwd", ([0.0] * 6, f8)),
        (TypeError, "sigmoid_fwd", (None, f8)),
        (TypeError, "gelu_fwd", (f8, None, False)),          # out=None: option-free kernels only
        (TypeError, "sigmoid_fwd", (None, None)),
        (TypeError, "tanh_bwd", (i8, f8, None)),
        (TypeError, "tanh_bwd", (f8, i8, f8.copy())),
        (ValueError, "sigmoid_fwd", (f8, np.zeros(5))),
        (ValueError, "sigmoid_fwd", (f8, f8.reshape(2, 3).copy())),
        (ValueError, "relu_bwd", (f8, np.zeros(7), f8.copy())),
        (ValueError, "sigmoid_fwd", (f8, ro)),
        (ValueError, "sigmoid_fwd", (f8, nc)),
        (ValueError, "gelu_fwd", (f8, ro, False)),
        (TypeError, "softplus_fwd", (f8, f8.copy(), None, 20.0), SCALAR),
        (ValueError, "softmax_fwd", (f8, f8.copy())),
        (ValueError, "softmax_fwd", (m2, m3)),
        (ValueError, "softmax_bwd", (m2, m3, m2.copy())),
        (TypeError, "log_softmax_fwd", (m2.astype(np.float32), m2.copy())),
        (ValueError, "log_softmax_bwd", (m2, m2.copy(), m2.T.copy().T)),
        (TypeError, "cross_entropy_fwd", (m2, t.astype(float), None, -100, 0.0, np.zeros(2),
                                          np.zeros(2))),
        (TypeError, "cross_entropy_fwd", (m2, None, None, -100, 0.0, np.zeros(2), np.zeros(2))),
        (TypeError, "cross_entropy_fwd", (m2, t, np.zeros(3, np.float32), -100, 0.0, np.zeros(2),
                                          np.zeros(2))),
        (ValueError, "cross_entropy_fwd", (m2, t, np.zeros(4), -100, 0.0, np.zeros(2),
                                           np.zeros(2))),
        (ValueError, "cross_entropy_fwd", (m2, np.array([0, 1, 2]), None, -100, 0.0, np.zeros(2),
                                           np.zeros(2))),
        (ValueError, "cross_entropy_fwd", (m2, t, None, -100, 0.0, np.zeros(3), np.zeros(2))),
        (ValueError, "cross_entropy_fwd", (f8, t, None, -100, 0.0, np.zeros(2), np.zeros(2))),
        (IndexError, "cross_entropy_fwd", (m2, np.array([0, 12]), None, -100, 0.0, np.zeros(2),
                                           np.zeros(2))),
        (ValueError, "cross_entropy_fwd", (m2, t, None, -100, 0.0, np.zeros(2), ro[:2])),
        (ValueError, "cross_entropy_bwd", (m2, t, None, -100, 0.0, np.zeros(2), np.zeros(2),
                                           np.zeros(2))),
        (IndexError, "cross_entropy_bwd", (m2, np.array([-3, 0]), None, -100, 0.0, np.zeros(2),
                                           np.zeros(2), m2.copy())),
        (ValueError, "sgd_step", (f8.copy(), f8, None, 0.1, 0.9, 0.0, 0.0, False, False, False)),
        (TypeError, "sgd_step", (f8.copy(), f4, None, 0.1, 0.0, 0.0, 0.0, False, False, False)),
        (ValueError, "sgd_step", (ro, f8, None, 0.1, 0.0, 0.0, 0.0, False, False, False)),
        (ValueError, "sgd_step", (nc, f8, None, 0.1, 0.0, 0.0, 0.0, False, False, False)),
        (ValueError, "adam_step", (f8.copy(), f8, f8.copy(), np.zeros(5), None, 0.1, 0.9, 0.99,
                                   1e-8, 0.0, 1, False, False, False)),
        (ValueError, "adam_step", (f8.copy(), f8, f8.copy(), f8.copy(), None, 0.1, 0.9, 0.99,
                                   1e-8, 0.0, 1, True, False, False)),
        (TypeError, "adam_step", (f8.copy(), f8, i8, f8.copy(), None, 0.1, 0.9, 0.99,
                                  1e-8, 0.0, 1, False, False, False)),
        (ValueError, "rmsprop_step", (f8.copy(), f8, f8.copy(), None, None, 0.1, 0.9, 1e-8, 0.0,
                                      0.0, True, False)),
        (ValueError, "rmsprop_step", (f8.copy(), f8, ro, None, None, 0.1, 0.9, 1e-8, 0.0,
                                      0.0, False, False)),
        (ValueError, "adagrad_step", (f8.copy(), f8, None, 0.1, 0.0, 0.0, 1e-10, 1, False)),
        (TypeError, "adagrad_step", (f8.copy(), f8, f8.copy(), 0.1, 0.0, None, 1e-10, 1, False),
         SCALAR),
        (TypeError, "cross_entropy_fwd", (m2, t, None, None, 0.0, np.zeros(2), np.zeros(2)),
         SCALAR),
        (TypeError, "adam_step", (f8.copy(), f8, f8.copy(), f8.copy(), None, 0.1, 0.9, 0.99,
                                  1e-8, 0.0, None, False, False, False), SCALAR),
        (ValueError, "adagrad_step", (f8.copy(), m2, f8.copy(), 0.1, 0.0, 0.0, 1e-10, 1, False)),
    ]
    return [c if len(c) == 4 else c + (ARRAY,) for c in cases]


ARRAY, SCALAR = "array", "scalar"   # bad arrays: our checks' messages; bad scalars: Python's
BAD = _bad_cases()


@pytest.mark.parametrize("exc,name,args,kind", BAD,
                         ids=["%s-%d" % (c[1], i) for i, c in enumerate(BAD)])
def test_bad_input_raises(exc, name, args, kind):
    messages = []
    for K in [NP] + ([C] if C is not None else []):
        with pytest.raises(exc) as info:
            getattr(K, name)(*args)
        messages.append(str(info.value))
    if kind == ARRAY:       # the same message from both, naming the kernel
        assert len(set(messages)) == 1, messages
        assert name in messages[0] or exc is IndexError


# --------------------------------------------------------------------------- fuzz
_ARRAYS = {"x", "y", "gy", "out", "logits", "lse", "gloss", "lse_out", "loss_out", "p", "g", "m",
           "v", "vmax", "square_avg", "grad_avg", "momentum_buf", "state_sum", "buf", "weight"}
_BOOLS = {"approximate", "nesterov", "maximize", "first_step", "amsgrad", "decoupled", "centered"}


def _fuzz_array(rng, shape, dtype):
    if dtype is None:
        return None
    if rng.random() < 0.05:
        return [0.0] * (shape[0] if shape else 1)
    a = np.asarray(rng.standard_normal(shape) * rng.choice([1, 10, 1e3]), dtype)
    r = rng.random()
    if r < 0.1 and a.ndim:
        a = np.repeat(a, 2, axis=-1)[..., ::2]                    # non-contiguous
    elif r < 0.15:
        a.flags.writeable = False
    return a


def _fuzz_args(rng, name, params):
    n, c = int(rng.integers(0, 5)), int(rng.integers(0, 5))
    shapes = [(), (0,), (n,), (c,), (n, c), (c, n), (2, n, c)]
    if name.startswith("cross_entropy"):
        base = {"logits": (n, c), "out": (n, c) if name.endswith("bwd") else (n,),
                "weight": (c,)}
    elif name.startswith(("softmax", "log_softmax")):
        base = {}
        base_shape = (n, c)
    else:
        base = {}
        base_shape = shapes[int(rng.integers(len(shapes)))]
    dtype = rng.choice([np.float32, np.float64])
    args = []
    for p in params:
        if p in _ARRAYS:
            shape = base.get(p, (n,) if name.startswith("cross") else base_shape)
            if rng.random() < 0.1:
                shape = shapes[int(rng.integers(len(shapes)))]
            dt = dtype
            r = rng.random()
            if r < 0.04:
                dt = np.float64 if dtype == np.float32 else np.float32
            elif r < 0.07:
                dt = [np.int64, np.float16, np.int32][int(rng.integers(3))]
            elif r < 0.12 or (p in ("weight", "vmax", "grad_avg", "momentum_buf", "buf")
                              and r < 0.5):
                dt = None
            args.append(_fuzz_array(rng, shape, dt))
        elif p == "target":
            t = rng.integers(-2, c + 2, n)
            if rng.random() < 0.1:
                t = t.astype(np.float64)
            args.append(t if rng.random() > 0.05 else None)
        elif p in _BOOLS:
            args.append(bool(rng.random() < 0.5))
        elif p in ("step",):
            args.append(int(rng.integers(1, 5)))
        elif p == "ignore_index":
            args.append(int(rng.choice([-100, -1, 0, 2])))
        elif p == "shape":  # fill's: mostly a tuple of sizes, sometimes a list or a bad size
            r = rng.random()
            args.append(shapes[int(rng.integers(len(shapes)))] if r < 0.8 else [n, c] if r < 0.9 else (n, -1))
        elif p == "momentum":
            args.append(float(rng.choice([0.0, 0.9])))
        elif p in ("beta1", "beta2", "alpha"):
            args.append(float(rng.uniform(0.1, 0.99)))
        elif p == "label_smoothing":
            args.append(float(rng.choice([0.0, 0.2])))
        else:
            args.append(float(rng.uniform(0.1, 2.0)) if rng.random() > 0.02 else None)
    return args


def _copy(a):
    if not isinstance(a, np.ndarray):
        return a
    b = a.copy()
    if a.ndim and not a.flags.c_contiguous:                     # keep the layout
        b = noncontig(b)
    b.flags.writeable = a.flags.writeable
    return b


@needs_c
def test_fuzz_compiled_entry_points():
    """Random shapes, dtypes, layouts and Nones: a clean exception, the same one from the
    NumPy twin, or the twin's result."""
    rng = np.random.default_rng(12)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(400):
        name = NP.__all__[int(rng.integers(len(NP.__all__)))]
        params = list(inspect.signature(getattr(NP, name)).parameters)
        args = _fuzz_args(rng, name, params)
        args_np = [_copy(a) for a in args]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                got = getattr(C, name)(*args)
        except ERRORS as exc:
            outcomes["error"] += 1
            with pytest.raises(type(exc)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    getattr(NP, name)(*args_np)
            continue
        outcomes["ok"] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = getattr(NP, name)(*args_np)
        if name in ("sum_all", "fill"):  # NumPy's results bit for bit, float16 and ints too
            if np.asarray(want).dtype.kind == "O":  # sum_all(None): NumPy's array(None), as the twin's
                assert got.dtype == want.dtype and got.tolist() == want.tolist()
                continue
            _same_bits(got, want)
            continue
        dt = got.dtype
        close(got, want, dt, factor=100)
        for a, b in zip(args, args_np):                          # in-place state, outputs
            if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                close(a, b, dt, factor=100)
    assert outcomes["ok"] > 50 and outcomes["error"] > 50, outcomes


# --------------------------------------------------------------------------- sgd_foreach
def _foreach_group(dtype_mix):
    """Parameters of a group: regular ones, and the kinds sgd_foreach hands back."""
    rng = np.random.default_rng(7)
    ps = [rng.standard_normal(s).astype(np.float32) for s in [(5, 4), (4,), (0,), (3, 2, 2)]]
    gs = [rng.standard_normal(p.shape).astype(np.float32) for p in ps]
    irregular = []
    if dtype_mix:
        ps.append(rng.standard_normal(6))                       # float64 parameter: fine
        gs.append(rng.standard_normal(6))
        ps.append(rng.standard_normal((4, 6)).astype(np.float32)[:, ::2])  # strided view
        gs.append(rng.standard_normal((4, 3)).astype(np.float32))
        irregular.append(len(ps) - 1)
        ps.append(rng.standard_normal(5).astype(np.float32))
        gs.append(rng.standard_normal(5))                       # float64 gradient
        irregular.append(len(ps) - 1)
        shared = rng.standard_normal(8).astype(np.float32)
        ps.append(shared)
        gs.append(shared)                                       # gradient is the parameter
        irregular.append(len(ps) - 1)
    return ps, gs, irregular


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("mix", [False, True])
def test_sgd_foreach_matches_sgd_step(K, momentum, mix):
    want_p, gs, irregular = _foreach_group(mix)
    got_p, got_g, _ = _foreach_group(mix)  # the same group again (views and aliasing included)
    bufs = [np.ones(p.shape, p.dtype) for p in want_p] if momentum else None
    firsts = [i % 2 == 0 for i in range(len(want_p))] if momentum else None
    args = (0.1, momentum, 0.2 if momentum else 0.0, 0.01, False, True)
    want_b = None if bufs is None else [b.copy() for b in bufs]
    got_b = None if bufs is None else [b.copy() for b in bufs]
    for i in range(len(want_p)):
        if i not in irregular:
            NP.sgd_step(want_p[i], gs[i], None if bufs is None else want_b[i], *args,
                        bool(firsts and firsts[i]))
    rest = K.sgd_foreach(got_p, got_g, got_b, *args, firsts)
    assert rest == irregular
    for i in range(len(want_p)):  # the irregular ones are untouched
        np.testing.assert_allclose(got_p[i], want_p[i], rtol=RTOL[want_p[i].dtype])
        if bufs is not None:
            np.testing.assert_allclose(got_b[i], want_b[i], rtol=RTOL[want_p[i].dtype])


def test_sgd_foreach_bad_input(K):
    p = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="sgd_foreach"):
        K.sgd_foreach([p], [], None, 0.1, 0.0, 0.0, 0.0, False, False, None)
    with pytest.raises(ValueError, match="sgd_foreach"):
        K.sgd_foreach([p], [p.copy()], [], 0.1, 0.9, 0.0, 0.0, False, False, [])
    # anything that is not exactly a float array is handed back, never touched
    junk = [None, [1.0, 2.0], np.zeros(3, np.int64), np.zeros(3, np.float32)[::-1], "x"]
    assert K.sgd_foreach(junk, [p] * len(junk), None, 0.1, 0.0, 0.0, 0.0, False, False, None) == \
        list(range(len(junk)))
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    assert K.sgd_foreach([ro], [p], None, 0.1, 0.0, 0.0, 0.0, False, False, None) == [0]
    assert not ro.any()


# --------------------------------------------------------------------------- private helpers
def test_ce_reduce_matches_numpy_and_declines_other_layouts():
    """_ce_reduce (compiled only) against _ce_sums's NumPy path, which the twin runs."""
    if C is None or not hasattr(C, "_ce_reduce"):
        pytest.skip("compiled backend only")
    from fastgrad._ops import nn as nn_ops
    rng = np.random.default_rng(8)
    for dtype in DTYPES:
        loss = rng.random(40).astype(dtype)
        target = rng.integers(0, 7, 40)
        target[::5] = -100
        w = rng.random(7).astype(dtype)
        for weight in (None, w):
            got = C._ce_reduce(loss, target, weight, -100)
            kept = target != -100
            want_denom = kept.sum() if weight is None else np.take(w, target[kept]).astype(np.float64).sum()
            assert got[0] == pytest.approx(loss.astype(np.float64).sum(), rel=1e-15)
            assert got[1] == pytest.approx(want_denom, rel=1e-15)
            monkey = nn_ops._ce_reduce
            try:  # the NumPy path of _ce_sums gives the same numbers
                nn_ops._ce_reduce = lambda *a: None
                np.testing.assert_allclose(nn_ops._ce_sums(loss, target, weight, -100), got, rtol=1e-15)
            finally:
                nn_ops._ce_reduce = monkey
    loss, target = np.ones(4, np.float32), np.zeros(4, np.int64)
    for args in [(loss.astype(np.float16), target, None, -100), (loss[::2], target[:2], None, -100),
                 (loss, target.astype(np.int32), None, -100), (loss, target[:3], None, -100),
                 (loss, target, np.ones(3), -100), (loss, target, None, 2 ** 70),
                 (loss, target, None, -100.0), (loss, np.full(4, 9), np.ones(3, np.float32), -100),
                 (loss, np.full(4, -1), np.ones(3, np.float32), -100), ([1.0], [0], None, -100)]:
        assert C._ce_reduce(*args) is None
    assert C._ce_reduce(loss, np.full(4, 9), None, -100) == (4.0, 4.0)  # no weight to index


# --------------------------------------------------------------------------- + - * /
_ARITH = [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.true_divide)]
_UNARY_ARITH = [("neg", np.negative), ("square", np.square)]


def _arith_values(rng, shape, dtype):
    """Normal values with zeros, infinities, nans and subnormals mixed in."""
    a = rng.standard_normal(shape) * rng.choice([1e-3, 1.0, 1e3])
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, np.finfo(dtype).tiny / 4, 1.0])
    mask = rng.random(shape) < 0.2
    a = np.where(mask, rng.choice(special, size=shape), a)
    return np.asarray(a, dtype)


def _same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    u = {4: np.uint32, 8: np.uint64, 2: np.uint16}[want.dtype.itemsize]
    assert np.array_equal(got[~nan].view(u), want[~nan].view(u))  # -0.0 and subnormals too


@needs_c
@pytest.mark.parametrize("name,ufunc", _ARITH)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", [((7,), (7,)), ((3, 4), (3, 4)), ((2, 3, 5), ()),
                                   ((), (100,)), ((), ()), ((0,), (0,)), ((0, 3), ()),
                                   ((5000,), (5000,)), ((4100,), ())])
def test_arith_bit_identical_to_numpy(name, ufunc, dtype, sa, sb):
    """The compiled loop (same shapes, or one operand 0-d; 5000 elements release the GIL)
    rounds exactly as NumPy: one IEEE operation per element."""
    rng = np.random.default_rng(len(sa) * 10 + len(sb) + len(name))
    a, b = _arith_values(rng, sa, dtype), _arith_values(rng, sb, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ufunc(a, b)
    got = getattr(C, name)(a, b)
    assert type(got) is np.ndarray and not np.shares_memory(got, a) and not np.shares_memory(got, b)
    _same_bits(got, want)


def _arith_fallback_cases():
    rng = np.random.default_rng(3)
    f = rng.standard_normal((4, 6)).astype(np.float32)
    unaligned = np.frombuffer(b"\0" + f.tobytes(), np.float32, 24, 1).reshape(4, 6)
    return [
        (f[:, :1], f[:1, :]),                      # broadcasting
        (f[:, ::2], f[:, 1::2]),                   # non-contiguous
        (unaligned, f),                            # unaligned
        (f, f.astype(np.float64)),                 # mixed dtypes
        (f.astype(np.float16), f.astype(np.float16)),
        (np.arange(6), np.arange(1, 7)),           # integers
        (f, 2.0),                                  # a Python number
        ([1.0, 2.0], [3.0, 4.0]),                  # lists
        (f, f[:3]),                                # shapes that do not broadcast
        (f, None),
        (f, "x"),
    ]


@needs_c
@pytest.mark.parametrize("name,ufunc", _ARITH)
@pytest.mark.parametrize("case", range(11))
def test_arith_other_operands_are_numpys(name, ufunc, case):
    """Anything but same-shape float arrays of one dtype is NumPy's own call: the same
    result, or the same exception."""
    a, b = _arith_fallback_cases()[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            want = ufunc(a, b)
        except Exception as exc:  # noqa: BLE001 - whatever NumPy raises
            with pytest.raises(type(exc)):
                getattr(C, name)(a, b)
            return
        got = getattr(C, name)(a, b)
    _same_bits(got, want)


@needs_c
def test_arith_fuzz():
    rng = np.random.default_rng(5)
    kernels = _ARITH + _UNARY_ARITH
    for _ in range(400):
        name, ufunc = kernels[int(rng.integers(len(kernels)))]
        shape = [(), (0,), (int(rng.integers(1, 9)),), (2, int(rng.integers(0, 4)))][int(rng.integers(4))]
        args = []
        for _k in range(ufunc.nin):
            r = rng.random()
            s = shape if r < 0.7 else [(), (3,), (1, 2)][int(rng.integers(3))]
            dt = DTYPES[0] if rng.random() < 0.5 else DTYPES[1]
            x = _arith_values(rng, s, dt) if rng.random() < 0.9 else _arith_values(rng, s, np.float32)
            if rng.random() < 0.1 and x.ndim:
                x = np.repeat(x, 2, axis=-1)[..., ::2]
            args.append(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                want = ufunc(*args)
            except ValueError:
                with pytest.raises(ValueError):
                    getattr(C, name)(*args)
                continue
            _same_bits(getattr(C, name)(*args), want)


@needs_c
@pytest.mark.parametrize("name,ufunc", _UNARY_ARITH)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (), (0,), (0, 3), (5000,)])
def test_unary_arith_bit_identical_to_numpy(name, ufunc, dtype, shape):
    """-x and x * x in the compiled loop (5000 elements release the GIL) round as NumPy's."""
    rng = np.random.default_rng(len(shape) + len(name))
    x = _arith_values(rng, shape, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ufunc(x)
        got = getattr(C, name)(x)
    assert type(got) is np.ndarray and not np.shares_memory(got, x)
    _same_bits(got, want)
    if name == "neg":  # the sign bit of zeros and nans flips too
        assert np.array_equal(np.signbit(got), np.signbit(want))


@needs_c
@pytest.mark.parametrize("name,ufunc", _UNARY_ARITH)
def test_unary_arith_other_operands_and_out_are_numpys(name, ufunc):
    """Other operands (strided, unaligned, float16, integers, lists, None) are NumPy's call,
    its result or its exception; out: a new array, x itself, a partly overlapping one
    (NumPy's call), a wrong shape (NumPy's ValueError)."""
    cases = [case[0] for case in _arith_fallback_cases()[1:6]] + [[1.0, -2.0], None, "x"]
    for x in cases:
        try:
            want = ufunc(x)
        except Exception as exc:  # noqa: BLE001 - whatever NumPy raises
            with pytest.raises(type(exc)):
                getattr(C, name)(x)
            continue
        _same_bits(getattr(C, name)(x), want)
    rng = np.random.default_rng(2)
    for dtype in DTYPES:
        x0 = _arith_values(rng, (3, 5), dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = ufunc(x0)
            out = np.empty_like(x0)
            assert getattr(C, name)(x0, out) is out
            _same_bits(out, want)
            x = x0.copy()
            assert getattr(C, name)(x, x) is x
            _same_bits(x, want)
            buf = np.concatenate([x0.ravel(), x0.ravel()])
            ref = buf.copy()
            ufunc(ref[:15], ref[3:18])
            getattr(C, name)(buf[:15], buf[3:18])
            _same_bits(buf, ref)
        with pytest.raises(ValueError):
            getattr(C, name)(x0, np.empty((5, 3), dtype))


@needs_c
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [(0.0, 0.0, False, False, False), (0.0, 0.0, False, True, False),
                                  (0.0, 0.01, False, True, False),
                                  (0.9, 0.0, False, False, True), (0.9, 0.01, True, False, False),
                                  (0.9, 0.0, False, True, False)])
def test_sgd_bit_identical_to_twin(dtype, opts):
    """The compiled SGD loop (CPU-dispatched clones, AVX2/AVX-512) rounds every operation as
    the twin's NumPy expression does: no lr * d fused into the update (fp-contract off)."""
    mom, wd, nesterov, maximize, first = opts
    rng = np.random.default_rng(int(mom * 10) + int(wd * 100) + nesterov + 2 * maximize)
    n = 50001  # both the parallel path and a vector remainder
    p0, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    b0 = rng.standard_normal(n).astype(dtype)
    got_p, got_b, want_p, want_b = p0.copy(), b0.copy(), p0.copy(), b0.copy()
    args = (0.1, mom, 0.1, wd, nesterov, maximize, first)
    C.sgd_step(got_p, g, got_b if mom else None, *args)
    NP.sgd_step(want_p, g, want_b if mom else None, *args)
    _same_bits(got_p, want_p)
    _same_bits(got_b, want_b)


@needs_c
@pytest.mark.parametrize("name,ufunc", _ARITH)
@pytest.mark.parametrize("dtype", DTYPES)
def test_arith_out(name, ufunc, dtype):
    """out: a new array, a or b itself (in place), a 0-d operand; a partly overlapping or
    wrongly shaped out is NumPy's call (its result or its exception)."""
    rng = np.random.default_rng(11)
    a0, b0 = _arith_values(rng, (3, 5), dtype), _arith_values(rng, (3, 5), dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ufunc(a0, b0)
        for target in ("new", "a", "b"):
            a, b = a0.copy(), b0.copy()
            out = {"new": np.empty_like(a), "a": a, "b": b}[target]
            assert getattr(C, name)(a, b, out) is out
            _same_bits(out, want)
        s = np.asarray(b0[1, 2])
        a = a0.copy()
        assert getattr(C, name)(a, s, a) is a
        _same_bits(a, ufunc(a0, s))
        buf = np.concatenate([a0.ravel(), a0.ravel()])
        x, o = buf[:15].reshape(3, 5), buf[3:18].reshape(3, 5)     # partial overlap
        ref = buf.copy()
        ufunc(ref[:15].reshape(3, 5), b0, ref[3:18].reshape(3, 5))
        getattr(C, name)(x, b0, o)
        _same_bits(buf, ref)
    with pytest.raises(ValueError):
        getattr(C, name)(a0, b0, np.empty((5, 3), dtype))


_NO_OPTIONS = ["sigmoid_fwd", "sigmoid_bwd", "tanh_fwd", "tanh_bwd", "relu_fwd", "relu_bwd",
               "silu_fwd", "silu_bwd"]


@pytest.mark.parametrize("name", _NO_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "strided", "0-d"])
def test_elementwise_out_none_allocates(K, name, dtype, layout):
    """Without out, an option-free kernel returns a new C-contiguous array of the first
    input's shape and dtype, equal bit for bit to the call with out."""
    rng = np.random.default_rng(4)
    shape = () if layout == "0-d" else (3, 8)
    ins = [np.asarray(rng.standard_normal(shape), dtype) for _ in range(2 if name.endswith("bwd") else 1)]
    if layout == "strided":
        ins[0] = np.repeat(ins[0], 2, axis=-1)[:, ::2]
    got = getattr(K, name)(*ins)
    want = getattr(K, name)(*ins, np.empty(shape, dtype))
    assert type(got) is np.ndarray and got.flags.c_contiguous and got.dtype == dtype
    _same_bits(got, want)
    assert not any(np.shares_memory(got, a) for a in ins)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_all_is_numpys_sum_bit_for_bit(K, dtype):
    """sum()'s kernel: np.add.reduce over all axes as a 0-d array, bit for bit, at the sizes
    where NumPy's pairwise summation changes shape (8, 128, the halving) and past the size
    where the compiled loop drops the GIL; -0.0, nan and inf; other layouts and dtypes."""
    rng = np.random.default_rng(21)
    for n in [0, 1, 7, 8, 9, 15, 16, 127, 128, 129, 136, 255, 1000, 4095, 4096, 70001]:
        x = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 8, n)).astype(dtype)
        cases = [x, x.reshape(1, n), -np.abs(x) * 0.0]
        if n > 2:
            y = x.copy()
            y[n // 2] = np.nan
            z = x.copy()
            z[:2] = [np.inf, -np.inf] if n % 2 else [np.inf, 1.0]
            cases += [y, z, x[: n - n % 3].reshape(3, -1), x[::2], x[: n - n % 3].reshape(3, -1).T]
        for c in cases:
            got = K.sum_all(c)
            assert type(got) is np.ndarray and got.shape == ()
            _same_bits(got, np.add.reduce(c, axis=None))
    for other in [np.arange(10, dtype=np.int64), np.ones(5, np.float16), [1.0, 2.0]]:
        got = K.sum_all(other)
        assert type(got) is np.ndarray and got.shape == ()
        _same_bits(got, np.add.reduce(other, axis=None))


def test_fill_is_numpys_broadcast_copy(K):
    """sum()'s gradient kernel: a new array of the shape, every element g."""
    for dtype in (np.float32, np.float64):
        for shape in [(), (0,), (3,), (2, 3), (70, 70), (2, 0, 4)]:
            g = np.asarray(-2.5, dtype)
            got = K.fill(shape, g)
            assert got.shape == shape and got.dtype == dtype and got.flags.c_contiguous
            assert not np.shares_memory(got, g)
            _same_bits(got, np.full(shape, g))
    got = K.fill((2, 2), np.asarray(-0.0, np.float32))
    _same_bits(got, np.full((2, 2), -0.0, np.float32))
    # the fallbacks: a list or NumPy ints for a shape, a non-0-d or float16 g
    for shape, g in [([2, 3], np.asarray(1.5)), ((np.int64(2),), np.asarray(1.5)),
                     ((2, 3), np.ones(3)), ((2,), np.float16(3))]:
        want = np.empty(shape, np.asarray(g).dtype)
        np.copyto(want, g)
        _same_bits(K.fill(shape, g), want)
    for bad in [(2, -1), (2.0,)]:
        with pytest.raises((ValueError, TypeError)) as info:
            K.fill(bad, np.asarray(1.0))
        with pytest.raises(info.type):
            np.empty(bad)
