"""The float32 exact GELU of fastgrad._C. The forward's AVX-512 table kernel (Phi(-|x|) from
32 polynomials, the lanes below -10 from an exp-based tail) and its portable loop, each
against x Phi(x) in float64 to a bound in ulp, and against each other; each element's
result depends on its value only (not on its position, the array's length, aliasing).
The backward against Phi(x) + x pdf(x)."""
import math
import pathlib
import platform

import numpy as np
import pytest

from test_kernels import C, NP, needs_c

pytestmark = needs_c

_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _has_avx512f():
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and " avx512f" in line for line in text.splitlines())


@pytest.fixture(params=["table", "portable"])
def path(request):
    """Run the test with the AVX-512 kernel on (where there is one) and off."""
    before = C._avx512_gelu()
    if request.param == "table":
        if not C._avx512_gelu(True):
            pytest.skip("no AVX-512F here, or a build without it")
    else:
        C._avx512_gelu(False)
    yield request.param
    C._avx512_gelu(before)


def _gelu(x):
    return C.gelu_fwd(x, np.empty_like(x), False)


def _ulps(got, x):
    """|got - x Phi(x)| in units of the float32 spacing at the exact value; results below
    the smallest normal float32 are left out (flushed or subnormal by design)."""
    xd = x.astype(np.float64)
    want = 0.5 * xd * _erfc(-xd / math.sqrt(2))
    keep = np.abs(want) >= np.finfo(np.float32).tiny
    spacing = np.spacing(np.abs(want[keep]).astype(np.float32)).astype(np.float64)
    return np.abs(got[keep] - want[keep]) / spacing, x[keep]


def _spread(lo, hi, step):
    """Every step-th float32 between lo and hi (by bit pattern, so each binade counts)."""
    def key(v):
        b = np.array(v, np.float32).view(np.int32).item()
        return b if b >= 0 else -(b & 0x7FFFFFFF)
    k = np.arange(key(lo), key(hi), step, dtype=np.int64)
    bits = np.where(k >= 0, k, (-k) | 0x80000000).astype(np.uint32)
    return bits.view(np.float32)


def test_avx512_kernel_is_on_where_the_cpu_has_it():
    """(GCC >= 11 builds for x86-64 Linux have the kernel; setup.py builds with GCC there.)"""
    if platform.system() != "Linux" or platform.machine() != "x86_64" or not _has_avx512f():
        pytest.skip("no AVX-512F on this CPU")
    assert C._avx512_gelu() is True


@pytest.mark.parametrize("lo,hi,step,bound", [
    (-10.0, 40.0, 997, {"table": 5.0, "portable": 8.0}),
    (-40.0, -10.0, 97, {"table": 10.0, "portable": 10.0}),  # exp(-x^2 / 2), x^2 split exactly
])
def test_gelu_float32_error_in_ulp(path, lo, hi, step, bound):
    bound = bound[path]
    x = _spread(lo, hi, step)
    err, at = _ulps(_gelu(x), x)
    assert len(x) > 150_000
    assert err.max() <= bound, (path, err.max(), at[np.argmax(err)])


def test_gelu_backward_float32_error():
    """gelu_bwd (one loop on every CPU): Phi(x) + x pdf(x) within 12 ulp away from its zero
    at x = -0.7518 (cancellation there), within 1e-6 of max(|value|, 0.1) everywhere. Below
    x = -13.2, exp(-x^2 / 2) < 2^-125 is flushed to 0 (no slow subnormal arithmetic), so the
    values there, -1.5e-37 and smaller, come out as 0."""
    x = _spread(-40.0, 40.0, 997)
    got = C.gelu_bwd(x, np.ones_like(x), np.empty_like(x), False)
    xd = x.astype(np.float64)
    want = 0.5 * _erfc(-xd / math.sqrt(2)) + xd * np.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)
    keep = np.abs(want) >= 1.5e-37
    err = np.abs(got[keep] - want[keep])
    assert np.max(err / np.maximum(np.abs(want[keep]), 0.1)) < 1e-6
    far = np.abs(xd[keep] + 0.7518) > 0.2
    ulps = err[far] / np.spacing(np.abs(want[keep][far]).astype(np.float32))
    assert ulps.max() <= 12, (ulps.max(), x[keep][far][np.argmax(ulps)])
    assert np.all(np.abs(got[~keep]) < 1.5e-37)


def test_gelu_float32_special_values(path):
    big = np.finfo(np.float32).max
    tiny = np.finfo(np.float32).smallest_subnormal
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, big, -big, 1e-30, -1e-30, tiny, -tiny,
                  9.999999, -9.999999, 10, -10, 13.2, -13.2, -13.3, -100], np.float32)
    y = _gelu(x)
    assert np.array_equal(np.signbit(y[:2]), [False, True]) and np.all(y[:2] == 0)
    assert y[2] == np.inf and np.isnan(y[3]) and np.isnan(y[4])     # -inf * Phi(-inf): nan
    assert y[5] == big and y[6] == 0
    np.testing.assert_array_equal(y[7:9], np.float32(0.5) * x[7:9])
    # gelu(+-2^-149) = +-2^-150, a tie between 0 and 2^-149: either, with the sign of x
    assert y[9] in (0, tiny) and y[10] in (0, -tiny) and np.signbit(y[10])
    xd = x[11:16].astype(np.float64)
    np.testing.assert_allclose(y[11:16], 0.5 * xd * _erfc(-xd / math.sqrt(2)), rtol=1e-6)
    assert abs(y[16]) <= 5.8e-39 and np.signbit(y[16])   # -5.79e-39, or -0 (table kernel)
    assert abs(y[17]) < 1e-37 and y[18] == 0


@pytest.mark.parametrize("scale", [1.0, 3.0, 10.0, 100.0])
def test_paths_agree_and_results_depend_on_values_only(scale):
    """Random inputs where 0 to ~50% of the lanes are in the tail: both paths within 16
    ulp of each other; offsets, lengths and out=x change no bit."""
    rng = np.random.default_rng(int(scale))
    x = (rng.standard_normal(40_000) * scale).astype(np.float32)
    before = C._avx512_gelu()
    try:
        C._avx512_gelu(False)
        portable = _gelu(x)
        C._avx512_gelu(True)
        table = _gelu(x)
    finally:
        C._avx512_gelu(before)
    ok = np.abs(portable) > 1e-37
    spacing = np.spacing(np.abs(portable[ok]))
    assert np.max(np.abs(table[ok] - portable[ok]) / spacing) <= 16
    assert np.all(np.abs(table[~ok]) <= 1e-37)
    for path_on in (True, False):
        C._avx512_gelu(path_on)
        try:
            whole = _gelu(x)
            for start in (1, 5, 16, 17):
                np.testing.assert_array_equal(_gelu(x[start:]), whole[start:])
            for n in range(1, 40):
                np.testing.assert_array_equal(_gelu(x[:n]), whole[:n])
            y = x.copy()
            assert C.gelu_fwd(y, y, False) is y
            np.testing.assert_array_equal(y, whole)
            # strided input: copied, then the same kernel
            np.testing.assert_array_equal(_gelu(x[::3]), whole[::3])
        finally:
            C._avx512_gelu(before)


def test_numpy_twin_agrees():
    """The NumPy backend (float64 erfc, rounded) and the compiled kernel: a few ulp."""
    x = _spread(-12.0, 12.0, 100_003)
    a = NP.gelu_fwd(x, np.empty_like(x), False)
    b = _gelu(x)
    ok = np.abs(a) > 1e-37
    assert np.max(np.abs(a[ok] - b[ok]) / np.spacing(np.abs(a[ok]))) <= 10


def test_switch_reports_its_state():
    before = C._avx512_gelu()
    try:
        assert C._avx512_gelu(False) is False and C._avx512_gelu() is False
        assert C._avx512_gelu(True) is (_has_avx512f() and C._avx512_gelu())
    finally:
        C._avx512_gelu(before)
