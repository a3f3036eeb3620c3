"""The compiled kernels' float64 exp / tanh / sigmoid (csrc/fg_common.h: branch-free, so the
recurrent cells' loops vectorise): their error in ulps against long double references over
a wide sweep and at the edges (+-inf, nan, +-0, the overflow and underflow thresholds,
subnormal inputs and results), without mpmath."""
import numpy as np
import pytest
from test_kernels import C, needs_c

L = np.longdouble
pytestmark = [needs_c, pytest.mark.skipif(np.finfo(L).nmant < 63, reason="needs an 80-bit (or wider) long double")]
BOUND = {"exp": 1.0, "tanh": 2.5, "sigmoid": 2.5}   # measured: 0.96, 2.47, 2.37 ulp


def _reference(name, x):
    xl = x.astype(L)
    with np.errstate(over="ignore"):
        if name == "exp":
            return np.exp(xl)
        if name == "tanh":
            return np.tanh(xl)
        return 1 / (1 + np.exp(-xl))


def _ulps(got, ref):
    """|got - ref| in units of the spacing of float64 at ref (2**-1074 for subnormals)."""
    with np.errstate(over="ignore"):
        near = ref.astype(np.float64)
    spacing = np.maximum(np.spacing(np.abs(near)).astype(L), L(2.0) ** -1074)
    with np.errstate(invalid="ignore"):  # inf - inf where exp overflows (checked apart)
        return np.abs(got.astype(L) - ref) / spacing, np.isfinite(near)


def _sweep(name):
    rng = np.random.default_rng({"exp": 0, "tanh": 1, "sigmoid": 2}[name])
    n = 400_000
    tiny = np.sign(rng.standard_normal(n)) * 10 ** rng.uniform(-323, 0, n)    # down to subnormal
    if name == "exp":
        parts = [rng.uniform(-746, 710, n), rng.uniform(-1, 1, n), tiny, rng.uniform(-745.2, -708, n)]
    elif name == "tanh":
        parts = [rng.uniform(-25, 25, n), rng.uniform(-1, 1, n), tiny, np.sign(tiny) * 10 ** rng.uniform(-3, 1.4, n)]
    else:  # PyTorch's form overflows exp(-x) below -709.78: those are the edge cases' (0)
        parts = [rng.uniform(-709.7, 800, n), rng.uniform(-40, 40, n), tiny]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid"])
def test_error_over_a_wide_sweep(name):
    x = _sweep(name)
    got = C._f64_math(name, x)
    err, finite = _ulps(got, _reference(name, x))
    assert finite.mean() > 0.9
    worst = np.argmax(np.where(finite, err, 0))
    assert err[finite].max() <= BOUND[name], (x[worst], got[worst], err[worst])
    assert (got[~finite] == np.inf).all()  # exp's overflow


def _around(*points):
    """Each point and its float64 neighbours, 3 each way."""
    out = []
    for p in points:
        q = p
        for _ in range(4):
            out += [q]
            q = np.nextafter(q, np.inf)
        q = p
        for _ in range(3):
            q = np.nextafter(q, -np.inf)
            out += [q]
    return np.array(out)


def test_exp_edges():
    big = np.log(np.finfo(np.float64).max)               # 709.78...: overflow above
    small = -745.1332191019411                            # results round to 0 below
    sub = np.log(np.finfo(np.float64).tiny)               # -708.39...: subnormal results below
    x = np.concatenate([_around(big, small, sub, 0.0, np.log(2) / 2, -np.log(2) / 2),
                        [np.inf, -np.inf, 1e3, -1e3, 5e-324, -5e-324, 2.2e-308]])
    got = C._f64_math("exp", x)
    err, finite = _ulps(got, _reference("exp", x))
    assert err[finite].max() <= BOUND["exp"]
    np.testing.assert_array_equal(got[~finite], np.inf)
    assert got[x > big].tolist() == [np.inf] * int((x > big).sum())
    assert (got[x < small] == 0).all() and (got[(x > small) & (x < sub)] > 0).all()
    assert np.isnan(C._f64_math("exp", np.array([np.nan, -np.nan]))).all()
    assert C._f64_math("exp", np.array([-0.0]))[0] == 1


def test_tanh_edges():
    x = np.concatenate([_around(0.0, 19.0, 20.0, 0.34657359027997264, 1e-8, -1e-8),
                        [np.inf, -np.inf, 1e300, -1e300, 5e-324, -5e-324, 2.2e-308, -2.2e-308]])
    got = C._f64_math("tanh", x)
    err, finite = _ulps(got, _reference("tanh", x))
    assert finite.all() and err.max() <= BOUND["tanh"]
    tiny = np.abs(x) < 1e-20
    np.testing.assert_array_equal(got[tiny], x[tiny])                 # tanh(x) = x, sign of 0 kept
    assert np.array_equal(np.signbit(got), np.signbit(x))
    assert got[x == np.inf][0] == 1 and got[x == -np.inf][0] == -1
    assert np.isnan(C._f64_math("tanh", np.array([np.nan])))[0]


def test_sigmoid_edges_as_pytorch():
    """1 / (1 + exp(-x)): 0 once exp(-x) overflows (x < -709.78), 1 for large x, 0.5 at 0."""
    x = np.concatenate([_around(-709.78, 0.0, 36.7, 37.5), [np.inf, -np.inf, -800.0, 800.0, 5e-324]])
    got = C._f64_math("sigmoid", x)
    with np.errstate(over="ignore"):
        torch_form = 1 / (1 + np.exp(-x))
    keep = x > -709.7
    err, _ = _ulps(got[keep], _reference("sigmoid", x[keep]))
    assert err.max() <= BOUND["sigmoid"]
    np.testing.assert_array_equal(got[~keep], torch_form[~keep])
    assert got[x == np.inf][0] == 1 and got[x == -np.inf][0] == 0 and got[x == 0][0] == 0.5
    assert np.isnan(C._f64_math("sigmoid", np.array([np.nan])))[0]
    torch = pytest.importorskip("torch")
    want = torch.sigmoid(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=4 * 2.0 ** -52, atol=0)


def test_bad_name():
    with pytest.raises(ValueError, match="_f64_math: name must be"):
        C._f64_math("log", np.zeros(2))
