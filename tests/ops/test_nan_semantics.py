"""Correctness class 1: NaN, infinities, ties and kinks behave as in torch, in the values and in
the gradients, with inputs that require grad (the path that records a graph uses other formulas
than the no-grad one). Every op is run on arrays drawn from a pool of special values (NaN, +-inf,
signed zeros, the kinks of each piecewise function, ties, values whose squares underflow) mixed
with ordinary ones, in float32 and float64, and compared with torch NaN for NaN.

torch's conventions checked here: maximum / minimum / max(a, b) propagate NaN and split a tie's
gradient in halves; clamp with tensor bounds propagates NaN from every operand; cummax / cummin
carry a NaN forward (its index the last NaN); max() / min() share the gradient among the NaNs
(or the ties), amax / amin give NaN gradients at a NaN extremum; relu and threshold pass the
upstream gradient at NaN (leaky_relu: times its slope); the one-sided
choices at the kinks (hardtanh at its bounds, relu6 at 0 and 6, hardsigmoid / hardswish at +-3);
hardtanh / relu6 / the shrinks / hardsigmoid give 0 at NaN and elu / celu / selu / hardswish NaN
(torch's vectorized loops; its scalar tail loop passes g there);
pow and atan2 give 0 at the points torch masks; division's gradient is -g * ((a / b) / b)."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from compare import compare  # noqa: E402

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, 2.0, -2.0, 0.3, -0.3]
TINY = [1e-20, -1e-20, 1e-25, 1e-30, 3e-39, 1e-160, 1e-200, 1e30, 1e20]


def values(extra=()):
    pool = SPECIAL + list(extra)
    return st.one_of(st.sampled_from(pool), st.floats(-8, 8, allow_nan=False, width=32))


@st.composite
def arrays(draw, n_inputs=1, extra=(), min_ndim=1, broadcast=True):
    """n_inputs float64 arrays (the first's shape, the others' possibly broadcast against it)."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=min_ndim, max_size=3)))
    out = []
    for k in range(n_inputs):
        s = shape
        if k and broadcast and draw(st.booleans()):
            s = tuple(1 if draw(st.booleans()) else d for d in shape)[draw(st.integers(0, len(shape))):]
        n = int(np.prod(s)) if s else 1
        out.append(np.array(draw(st.lists(values(extra), min_size=n, max_size=n)), dtype=np.float64).reshape(s))
    return out


DTYPES = st.sampled_from(["float32", "float64"])


def F(L):
    return L.nn.functional


ELEMENTWISE = {
    "relu": lambda L, x: L.relu(x),
    "relu_method": lambda L, x: x.relu(),
    "F.relu": lambda L, x: F(L).relu(x),
    "relu6": lambda L, x: F(L).relu6(x),
    "hardtanh": lambda L, x: F(L).hardtanh(x),
    "hardtanh_bounds": lambda L, x: F(L).hardtanh(x, -0.5, 2.0),
    "hardsigmoid": lambda L, x: F(L).hardsigmoid(x),
    "hardswish": lambda L, x: F(L).hardswish(x),
    "elu": lambda L, x: F(L).elu(x),
    "elu_alpha": lambda L, x: F(L).elu(x, 0.5),
    "celu": lambda L, x: F(L).celu(x, 2.0),
    "selu": lambda L, x: F(L).selu(x),
    "leaky_relu": lambda L, x: F(L).leaky_relu(x, 0.2),
    "softshrink": lambda L, x: F(L).softshrink(x, 0.5),
    "hardshrink": lambda L, x: F(L).hardshrink(x, 0.5),
    "threshold": lambda L, x: F(L).threshold(x, 0.5, -2.0),
    "abs": lambda L, x: L.abs(x),
    "sign": lambda L, x: L.sign(x),
    "clamp_scalar": lambda L, x: L.clamp(x, -0.5, 3.0),
    "clamp_min_scalar": lambda L, x: L.clamp(x, min=0.0),
    "pow_0": lambda L, x: L.pow(x, 0),
    "pow_0.0": lambda L, x: x ** 0.0,
    "pow_3": lambda L, x: L.pow(x, 3),
    "rpow_0": lambda L, x: 0.0 ** x,
    "rpow_2": lambda L, x: 2.0 ** x,
    "rpow_neg": lambda L, x: (-2.0) ** x,
}

REDUCTIONS = {
    "max_all": lambda L, x: L.max(x),
    "min_all": lambda L, x: L.min(x),
    "max_method": lambda L, x: x.max(),
    "amax_all": lambda L, x: L.amax(x),
    "amin_dim": lambda L, x: L.amin(x, -1),
    "amax_dim0_keep": lambda L, x: L.amax(x, 0, keepdim=True),
    "max_dim": lambda L, x: L.max(x, -1),
    "min_dim0": lambda L, x: L.min(x, 0),
    "cummax": lambda L, x: L.cummax(x, -1),
    "cummin": lambda L, x: L.cummin(x, -1),
    "cummax_dim0": lambda L, x: L.cummax(x, 0),
    "cummin_method": lambda L, x: x.cummin(0),
}

BINARY = {
    "maximum": lambda L, a, b: L.maximum(a, b),
    "minimum": lambda L, a, b: L.minimum(a, b),
    "max_binary": lambda L, a, b: L.max(a, b),
    "min_binary": lambda L, a, b: L.min(a, b),
    "maximum_method": lambda L, a, b: a.maximum(b),
    "clamp_min_tensor": lambda L, a, b: L.clamp(a, min=b),
    "clamp_max_tensor": lambda L, a, b: L.clamp(a, max=b),
    "clamp_method_tensor": lambda L, a, b: a.clamp(max=b),
    "atan2": lambda L, a, b: L.atan2(a, b),
    "div": lambda L, a, b: a / b,
    "div_fn": lambda L, a, b: L.div(a, b),
    "pow_tensor": lambda L, a, b: L.pow(a, b),
}


@SETTINGS
@given(vals=st.lists(values(), min_size=1, max_size=8), dtype=DTYPES)
def test_elementwise_special_values(torch, vals, dtype):
    """Elementwise ops on the values tiled to a multiple of 16 elements: torch then runs every
    element in its vectorized loops (its scalar tail loop gives other gradients at NaN for some
    of them; see fastgrad/_ops/activations.py)."""
    x = np.tile(np.array(vals), 16)
    for name, fn in ELEMENTWISE.items():
        compare(torch, fn, [x], dtype, what=name)


@SETTINGS
@given(case=arrays(1), dtype=DTYPES)
def test_reductions_special_values(torch, case, dtype):
    for name, fn in REDUCTIONS.items():
        compare(torch, fn, case, dtype, what=name)


@SETTINGS
@given(case=arrays(2, extra=TINY), dtype=DTYPES)
def test_binary_special_values(torch, case, dtype):
    for name, fn in BINARY.items():
        compare(torch, fn, case, dtype, what=name)


@SETTINGS
@given(case=arrays(3), dtype=DTYPES)
def test_clamp_tensor_bounds(torch, case, dtype):
    compare(torch, lambda L, x, lo, hi: L.clamp(x, lo, hi), case, dtype, what="clamp(x, lo, hi)")


@SETTINGS
@given(case=arrays(2, broadcast=False), dtype=DTYPES)
def test_ties_split_gradient(torch, case, dtype):
    """Many equal operands: maximum / minimum split the gradient, clamp's bounds do not."""
    a, b = case
    b = np.where(np.arange(b.size).reshape(b.shape) % 2 == 0, a, b)  # every other element tied
    for name in ("maximum", "minimum", "clamp_min_tensor", "clamp_max_tensor"):
        compare(torch, BINARY[name], [a, b], dtype, what=name + " ties")
    compare(torch, lambda L, x, lo: L.clamp(x, lo, lo), [a, b], dtype, what="clamp lo == hi")


@pytest.mark.parametrize("fn", [lambda L, x: L.cummax(x, 0), lambda L, x: L.cummin(x, 0)], ids=["cummax", "cummin"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cummax_nan_first(torch, fn, dtype):
    """A leading NaN carries through (no `gather(): index -1`), its index the last NaN seen."""
    for x in ([np.nan, 1.0, 2.0, 0.0], [1.0, np.nan, 2.0, np.nan, 0.0], [np.nan, np.nan], [2.0, 2.0, 1.0, 2.0]):
        compare(torch, fn, [np.array(x)], dtype, what="cummax %s" % x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_division_gradient_small_denominator(torch, dtype):
    """b * b underflows in float32; torch's -g * ((a / b) / b) stays finite."""
    a = np.array([1.0, 1e-30, 0.0, 1e-20, 3.0, -2.0])
    b = np.array([1e-30, 1e-30, 1e-30, 1e-25, 1e-23, 1e-200 if dtype == "float64" else 1e-40])
    compare(torch, lambda L, a, b: a / b, [a, b], dtype, what="a / b")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_masked_points_of_pow_and_atan2(torch, dtype):
    x = np.array([0.0, 0.0, 1.0, 0.0, -1.0, 2.0])
    p = np.array([0.0, 1.0, 0.0, -1.0, 2.0, 0.0])
    compare(torch, lambda L, a, b: L.pow(a, b), [x, p], dtype, what="pow")
    compare(torch, lambda L, a: L.pow(a, 0), [x], dtype, what="pow(x, 0)")
    compare(torch, lambda L, a, b: L.atan2(a, b), [np.zeros(3), np.array([0.0, -0.0, 1.0])], dtype, what="atan2")


_ACTIVATIONS = ["relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "elu", "celu", "selu", "leaky_relu", "softshrink",
                "hardshrink", "gelu", "silu", "mish", "softplus", "logsigmoid", "glu", "threshold"]


@pytest.mark.parametrize("dtype", ["int64", "bool"])
@pytest.mark.parametrize("name", _ACTIVATIONS)
def test_activation_integer_inputs(torch, name, dtype):
    """Integer and bool inputs: torch's integer result (relu, relu6, hardtanh, threshold) or its
    error, type and message (the float-only kernels' NotImplementedError)."""
    import fastgrad

    def fn(L):
        x = L.tensor(np.array([-3, 0, 8, 2]).astype(dtype))
        f = getattr(L.nn.functional, name)
        return f(x, 1, 5) if name == "threshold" else f(x)

    outcome = []
    for L in (torch, fastgrad):
        try:
            outcome.append(("ok", np.asarray(fn(L).numpy())))
        except Exception as e:  # noqa: BLE001
            outcome.append((type(e).__name__, str(e)))
    (tk, tv), (fk, fv) = outcome
    assert fk == tk, (outcome[1], outcome[0])
    if tk == "ok":
        assert fv.dtype == tv.dtype and np.array_equal(fv, tv), (fv, tv)
    else:
        assert fv == tv


def test_celu_alpha_zero(torch):
    import fastgrad

    for L in (torch, fastgrad):
        with pytest.raises(RuntimeError, match="ZeroDivisionError: alpha cannot be 0 for CELU"):
            L.nn.functional.celu(L.ones(2), 0.0)
