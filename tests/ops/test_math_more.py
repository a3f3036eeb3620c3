"""fastgrad/_ops/math_more.py and statistics.py against torch: every sample of torch's OpInfo
database for each op (values, dtypes, input gradients, in float32/float64 and the integer and
bool dtypes the op takes), forward-mode derivatives (float64 gradcheck with jvp), 0-d and
empty inputs, torch's errors, and the random fills' shapes, dtypes, seeding and distributions."""
import math

import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import gradcheck

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402

TOL = {torch.float32: (1e-4, 1e-5), torch.float64: (1e-7, 1e-7)}


# --------------------------------------------------------------------------- the OpInfo adapter
def to_fg(x, pairs):
    """torch sample arguments -> fastgrad ones; (torch leaf, fastgrad leaf) pairs collected."""
    if isinstance(x, torch.Tensor):
        t = fastgrad.tensor(x.detach().numpy().copy())
        if x.requires_grad:
            t.requires_grad_(True)
            pairs.append((x, t))
        return t
    if isinstance(x, torch.dtype):
        return getattr(fastgrad, str(x).split(".")[-1])
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        return type(x)(to_fg(v, pairs) for v in x)
    if isinstance(x, dict):
        return {k: to_fg(v, pairs) for k, v in x.items()}
    return x


def flat(out):
    if isinstance(out, (list, tuple)):
        return [v for o in out for v in flat(o)]
    return [out]


def assert_close(f, t, dtype, what):
    assert isinstance(f, fastgrad.Tensor), "%s: %r, torch gives a tensor" % (what, type(f))
    a, b = t.detach().numpy(), np.asarray(f.detach().numpy())
    assert a.shape == b.shape, "%s: shape %s, torch %s" % (what, b.shape, a.shape)
    assert a.dtype == b.dtype, "%s: dtype %s, torch %s" % (what, b.dtype, a.dtype)
    if a.dtype.kind in "fc":
        # a result (say a float32 weight's gradient) computed through the sample's dtype (say
        # float16) is only as accurate as that dtype: the looser of the two tolerances
        rtol, atol = (max(u, v) for u, v in zip(TOL.get(t.dtype, (1e-4, 1e-5)), TOL.get(dtype, (1e-4, 1e-5))))
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(b, a, err_msg=what)


def check_sample(opinfo, fn, s, dtype, grad=True, any_index=False):
    pairs = []
    fargs = to_fg([s.input] + list(s.args), pairs)
    fkw = to_fg(dict(s.kwargs), pairs)
    what = "%s %s sample %s" % (opinfo.name, dtype, s.summary() if hasattr(s, "summary") else "")
    try:
        tout = opinfo.op(s.input, *s.args, **s.kwargs)
    except Exception as e:  # noqa: BLE001  torch raises: fastgrad must raise the same type
        with pytest.raises(type(e)):
            fn(*fargs, **fkw)
        return
    fout = fn(*fargs, **fkw)
    to, fo = flat(tout), flat(fout)
    assert len(to) == len(fo), what
    for k, (t, f) in enumerate(zip(to, fo)):
        if any_index and k == 1:  # torch's mode: any index of the value among ties (an unstable sort's)
            v, i, x = fo[0].detach().numpy(), f.numpy(), fargs[0].detach().numpy()
            d = fargs[1] if len(fargs) > 1 else -1
            keep = fargs[2] if len(fargs) > 2 else False
            picked = x if x.ndim == 0 else np.take_along_axis(x, i if keep else np.expand_dims(i, d), d)
            assert np.array_equal(picked.reshape(v.shape), v), what
            continue
        if isinstance(t, torch.Tensor):
            assert_close(f, t, dtype, "%s output %d" % (what, k))
    if not grad or not pairs:
        return
    tsum = [(t, f) for t, f in zip(to, fo) if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
    if not tsum:
        return
    tl, fl = [p[0] for p in pairs], [p[1] for p in pairs]
    tg = torch.autograd.grad(sum(t.sum() for t, _ in tsum), tl, allow_unused=True)
    total = None
    for _, f in tsum:
        total = f.sum() if total is None else total + f.sum()
    fgr = fastgrad.autograd.grad(total, fl, allow_unused=True)
    for k, (t, f) in enumerate(zip(tg, fgr)):
        if t is None:
            assert f is None or not np.any(f.numpy()), "%s: gradient %d where torch has none" % (what, k)
        elif f is None:
            assert not t.any(), "%s: no gradient %d, torch's nonzero" % (what, k)
        else:
            assert_close(f, t, dtype, "%s gradient %d" % (what, k))


def resolve(name):
    obj = fastgrad
    for p in name.split("."):
        obj = getattr(obj, p, None)
        if obj is None:
            return getattr(fastgrad.Tensor, name, None)
    return obj


def opdb_agree(name, variant="", dtypes=(torch.float32, torch.float64, torch.int64, torch.int8, torch.uint8,
                                        torch.bool)):
    """Every OpInfo sample of op name (variant) in each dtype torch's op supports: fastgrad agrees."""
    infos = [o for o in op_db if o.name == name and o.variant_test_name == variant]
    assert infos, name
    info = infos[0]
    fn = resolve(name)
    assert fn is not None, "fastgrad has no %s" % name
    n = 0
    for dt in dtypes:
        if dt not in info.supported_dtypes("cpu"):
            continue
        rg = info.supports_autograd and dt.is_floating_point
        for s in info.sample_inputs("cpu", dt, requires_grad=rg):
            check_sample(info, fn, s, dt, rg, any_index=name == "mode" and dt not in (torch.float32, torch.float64))
            n += 1
    assert n > 0, name
    return n


MATH_OPS = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "clamp_max",
            "clamp_min", "cumulative_trapezoid", "trapezoid", "trapz", "diff", "dist", "exp2", "float_power", "frexp",
            "gcd", "lcm", "gradient", "heaviside", "ldexp", "logaddexp2", "nextafter", "renorm", "char",
            "cov", "corrcoef", "quantile", "nanquantile", "nanmedian", "mode", "histc", "histogram", "histogramdd"]


@pytest.mark.parametrize("name", MATH_OPS)
def test_opdb_samples_agree(name):
    opdb_agree(name)


HALF_OPS = ["clamp_max", "clamp_min", "cumulative_trapezoid", "trapezoid", "diff", "dist", "exp2", "float_power", "frexp",
            "gradient", "heaviside", "logaddexp2", "nextafter", "renorm", "char", "cov", "corrcoef", "nanmedian",
            "histc"]


@pytest.mark.parametrize("name", HALF_OPS)
def test_opdb_samples_agree_float16(name, monkeypatch):
    monkeypatch.setitem(TOL, torch.float16, (1e-2, 1e-3))
    opdb_agree(name, dtypes=(torch.float16,))


def test_nextafter_bfloat16_steps_its_own_bits():
    a = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e-40, float("inf"), float("nan"), 3.0, 1.0, -1.0]
    b = [1.0, -1.0, 2.0, -2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 3.0, -5.0, 5.0]
    t = torch.nextafter(torch.tensor(a).bfloat16(), torch.tensor(b).bfloat16()).float().numpy()
    f = fastgrad.nextafter(fastgrad.tensor(a).to(fastgrad.bfloat16), fastgrad.tensor(b).to(fastgrad.bfloat16))
    assert f.dtype == fastgrad.bfloat16 and np.array_equal(f.float().numpy(), t, equal_nan=True)


# --------------------------------------------------------------------------- forward mode
def _t(a, grad=True):
    return fastgrad.tensor(np.asarray(a, np.float64), requires_grad=grad)


R = np.random.default_rng(5)
JVP_CASES = {
    "clamp_min": (lambda x: fastgrad.clamp_min(x, 0.1), [R.normal(size=(3, 4))]),
    "clamp_max_tensor": (lambda x, m: fastgrad.clamp_max(x, m), [R.normal(size=(3, 4)), R.normal(size=(4,))]),
    "exp2": (fastgrad.exp2, [R.normal(size=(5,))]),
    "float_power": (lambda x, y: fastgrad.float_power(x, y), [R.uniform(0.5, 2, (3,)), R.normal(size=(3,))]),
    "frexp": (lambda x: fastgrad.frexp(x).mantissa, [R.normal(size=(4,)) * 10]),
    "ldexp": (lambda x: fastgrad.ldexp(x, fastgrad.tensor([1, -2, 3])), [R.normal(size=(3,))]),
    "logaddexp2": (fastgrad.logaddexp2, [R.normal(size=(3, 2)), R.normal(size=(2,))]),
    "nextafter": (lambda x: fastgrad.nextafter(x, fastgrad.tensor(10.0, dtype=fastgrad.float64)), [R.normal(size=(3,))]),
    "diff": (lambda x, p: fastgrad.diff(x, 2, 0, prepend=p), [R.normal(size=(4, 3)), R.normal(size=(2, 3))]),
    "trapezoid": (lambda y, x: fastgrad.trapezoid(y, x), [R.normal(size=(2, 5)), np.cumsum(R.uniform(0.5, 1, 5))]),
    "trapezoid_dx": (lambda y: fastgrad.trapezoid(y, dx=0.3, dim=0), [R.normal(size=(4, 2))]),
    "cumulative_trapezoid": (lambda y: fastgrad.cumulative_trapezoid(y, dx=2.0), [R.normal(size=(2, 5))]),
    "cumulative_trapezoid_x": (lambda y, x: fastgrad.cumulative_trapezoid(y, x), [R.normal(size=(5,)),
                                                                                 np.cumsum(R.uniform(0.5, 1, 5))]),
    "gradient": (lambda x: fastgrad.gradient(x, spacing=0.5, edge_order=2), [R.normal(size=(4, 3))]),
    "gradient_coords": (lambda x, c: fastgrad.gradient(x, spacing=[c], dim=1), [R.normal(size=(2, 4)),
                                                                               np.cumsum(R.uniform(0.5, 1, 4))]),
    "gradient_coords2": (lambda x: fastgrad.gradient(x, spacing=[_t([0, 1, 3, 4.5], False)], edge_order=2),
                         [R.normal(size=(4,))]),
    "dist": (lambda a, b: fastgrad.dist(a, b, 3), [R.normal(size=(3, 2)), R.normal(size=(2,))]),
    "dist_inf": (lambda a, b: fastgrad.dist(a, b, float("inf")), [R.normal(size=(4,)), R.normal(size=(4,))]),
    "renorm": (lambda x: fastgrad.renorm(x, 2, 0, 0.5), [R.normal(size=(3, 4))]),
    "renorm_p1": (lambda x: fastgrad.renorm(x, 1, 1, 1.0), [R.normal(size=(3, 4, 2))]),
    "cov": (lambda x, a: fastgrad.cov(x, correction=2, aweights=a, fweights=fastgrad.tensor([1, 2, 1, 3])),
            [R.normal(size=(3, 4)), R.uniform(0.5, 2, 4)]),
    "cov_1d": (lambda x: fastgrad.cov(x), [R.normal(size=(5,))]),
    "corrcoef": (fastgrad.corrcoef, [R.normal(size=(3, 5))]),
    "quantile": (lambda x, q: fastgrad.quantile(x, q, dim=1, keepdim=True), [R.normal(size=(3, 5)),
                                                                            np.array([0.1, 0.55, 0.9])]),
    "quantile_midpoint": (lambda x: fastgrad.quantile(x, 0.3, interpolation="midpoint"), [R.normal(size=(3, 5))]),
    "quantile_nearest": (lambda x: fastgrad.quantile(x, 0.3, 0, interpolation="nearest"), [R.normal(size=(3, 5))]),
    "nanquantile": (lambda x: fastgrad.nanquantile(fastgrad.where(fastgrad.tensor([False, True, False, False]),
                                                                  float("nan"), x), 0.4, dim=1), [R.normal(size=(2, 4))]),
    "nanmedian": (lambda x: fastgrad.nanmedian(x, 0).values, [R.normal(size=(4, 3))]),
    "nanmedian_all": (fastgrad.nanmedian, [R.normal(size=(4, 3))]),
    "mode": (lambda x: fastgrad.mode(x.round(), 1).values, [R.normal(size=(3, 6)) * 2]),
}


@pytest.mark.parametrize("name", sorted(JVP_CASES))
def test_gradcheck_and_jvp(name):
    fn, arrays = JVP_CASES[name]
    assert gradcheck(fn, [_t(a) for a in arrays], check_forward_ad=True)


# --------------------------------------------------------------------------- edge cases and errors
def _both(fn):
    """fn(torch) and fn(fastgrad): the same values and dtype, or the same error type and message."""
    try:
        t = fn(torch)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)) as info:
            fn(fastgrad)
        assert str(info.value) == str(e), (str(info.value), str(e))
        return
    f = fn(fastgrad)
    to, fo = flat(t), flat(f)
    assert len(to) == len(fo)
    for a, b in zip(to, fo):
        assert_close(b, a, a.dtype, "edge case")


I64 = [[-8, 8, 127, -128, 0, 3]]
EDGE = {
    "lshift_wide": lambda L: L.bitwise_left_shift(L.tensor(I64[0]), L.tensor([63, 64, 1, 70, -1, 2])),
    "rshift_wide": lambda L: L.bitwise_right_shift(L.tensor(I64[0]), L.tensor([63, 64, 1, 70, -1, 2])),
    "lshift_int8": lambda L: L.bitwise_left_shift(L.tensor(I64[0], dtype=L.int8), 7),
    "rshift_uint8": lambda L: L.tensor([248, 8, 1], dtype=L.uint8) >> L.tensor([7, 8, 9], dtype=L.uint8),
    "rshift_int8_0d": lambda L: L.tensor([-100, 100], dtype=L.int8) >> L.tensor(3),
    "shift_number_first": lambda L: 1 << L.tensor([1, 2, 3]),
    "rshift_number_first": lambda L: 1024 >> L.tensor([1, 2, 3]),
    "shift_bool": lambda L: L.bitwise_left_shift(L.tensor([True, False]), 1),
    "shift_float": lambda L: L.tensor([1.0]) << 1,
    "and_float": lambda L: L.tensor([1.0]) & 1,
    "and_number_first": lambda L: L.bitwise_and(3, L.tensor([5, 6])),
    "xor_bool_int8": lambda L: L.bitwise_xor(L.tensor([True, False]), L.tensor([3, 4], dtype=L.int8)),
    "or_bool": lambda L: L.tensor([True, False]) | L.tensor([False, False]),
    "and_rand": lambda L: 6 & L.tensor([5, 3]),
    "gcd": lambda L: L.gcd(L.tensor([0, -12, 7, 0, 18]), L.tensor([0, 18, -3, 5, 0])),
    "lcm": lambda L: L.lcm(L.tensor([0, -12, 7, 4], dtype=L.int16), L.tensor([0, 18, -3, 6], dtype=L.int16)),
    "gcd_number": lambda L: L.gcd(L.tensor([4]), 2),
    "gcd_float": lambda L: L.gcd(L.tensor([4.0]), L.tensor([2.0])),
    "gcd_bool": lambda L: L.gcd(L.tensor([True]), L.tensor([True])),
    "clamp_min_int_float": lambda L: L.clamp_min(L.tensor([5, 6]), 5.5),
    "clamp_max_int": lambda L: L.clamp_max(L.tensor([5, 6]), 5),
    "clamp_min_tensor_int": lambda L: L.tensor([5, 6]).clamp_min(L.tensor(5.5)),
    "exp2_int": lambda L: L.exp2(L.tensor([5, -1])),
    "exp2_bool": lambda L: L.exp2(L.tensor([True, False])),
    "exp2_0d": lambda L: L.exp2(L.tensor(3.0)),
    "float_power_int": lambda L: L.float_power(L.tensor([5, 6]), 2),
    "float_power_scalar_base": lambda L: L.float_power(2, L.tensor([1.0, 2.0])),
    "float_power_int_exp": lambda L: L.float_power(L.tensor([1.0, 2.0]), L.tensor(2, dtype=L.int32)),
    "float_power_": lambda L: L.tensor([1.0, 2.0]).float_power_(2),
    "float_power_f64_": lambda L: L.tensor([1.0, 2.0], dtype=L.float64).float_power_(2),
    "frexp_special": lambda L: L.frexp(L.tensor([0.0, -0.0, float("inf"), -3.5, 1e-40, 6e-320], dtype=L.float64)),
    "frexp_f32": lambda L: L.frexp(L.tensor([0.0, float("inf"), float("nan"), -3.5, 1e-40])),
    "frexp_int": lambda L: L.frexp(L.tensor([1, 2])),
    "frexp_empty": lambda L: L.frexp(L.zeros(0, 2)),
    "ldexp_int": lambda L: L.ldexp(L.tensor([5, 6]), L.tensor([5, 6])),
    "ldexp_f64": lambda L: L.ldexp(L.tensor([1.0], dtype=L.float64), L.tensor([3])),
    "ldexp_number": lambda L: L.ldexp(L.tensor([1.0]), 2),
    "logaddexp2_inf": lambda L: L.logaddexp2(L.tensor([float("inf"), -float("inf"), 1.0, -float("inf")]),
                                             L.tensor([float("inf"), -float("inf"), float("nan"), 2.0])),
    "logaddexp2_int": lambda L: L.logaddexp2(L.tensor([1]), L.tensor([1])),
    "heaviside": lambda L: L.heaviside(L.tensor([float("nan"), -0.0, 0.0, -2.0, 3.0]), L.tensor(0.5)),
    "heaviside_int": lambda L: L.heaviside(L.tensor([-1, 0, 4]), L.tensor([7, 7, 7])),
    "heaviside_bool": lambda L: L.heaviside(L.tensor([True, False]), L.tensor([False, True])),
    "heaviside_dtypes": lambda L: L.heaviside(L.tensor([1.0]), L.tensor(0.5, dtype=L.float64)),
    "heaviside_number": lambda L: L.heaviside(L.tensor([1.0]), 0.5),
    "heaviside_broadcast": lambda L: L.heaviside(L.zeros(2, 3), L.ones(4)),
    "nextafter": lambda L: L.nextafter(L.tensor([0.0, 1.0, -1.0, float("nan"), 2.0, float("inf")]),
                                       L.tensor([1.0, 0.0, -2.0, 1.0, 2.0, 0.0])),
    "nextafter_f64_promote": lambda L: L.nextafter(L.tensor([1.0]), L.tensor([2.0], dtype=L.float64)),
    "nextafter_int": lambda L: L.nextafter(L.tensor([1]), L.tensor([2])),
    "diff_bool": lambda L: L.diff(L.tensor([True, False, False, True])),
    "diff_int": lambda L: L.diff(L.tensor([[1, 4, 9], [2, 2, 0]]), n=2),
    "diff_0d": lambda L: L.diff(L.tensor(1.0)),
    "diff_negative_n": lambda L: L.diff(L.tensor([1.0]), n=-1),
    "diff_n_large": lambda L: L.diff(L.tensor([1.0, 2.0]), n=5),
    "diff_n0": lambda L: L.diff(L.tensor([1.0, 2.0]), n=0),
    "diff_prepend_dims": lambda L: L.diff(L.tensor([1.0, 2.0]), prepend=L.tensor(1.0)),
    "diff_prepend_shape": lambda L: L.diff(L.ones(2, 3), dim=0, prepend=L.ones(1, 2)),
    "diff_prepend_promotes": lambda L: L.diff(L.tensor([1.0, 2.0]), prepend=L.tensor([5, 6])),
    "diff_append_empty": lambda L: L.diff(L.zeros(2, 0), dim=1, append=L.ones(2, 2)),
    "trapezoid_int": lambda L: L.trapezoid(L.tensor([1, 3, 7])),
    "trapezoid_int_x": lambda L: L.trapezoid(L.tensor([1, 3, 7]), L.tensor([0, 1, 3])),
    "trapezoid_0d": lambda L: L.trapezoid(L.tensor(1.0)),
    "trapezoid_empty": lambda L: L.trapezoid(L.zeros(3, 0)),
    "trapezoid_empty_dim0": lambda L: L.trapezoid(L.zeros(0, 3), dim=0),
    "trapezoid_one": lambda L: L.trapezoid(L.ones(3, 1), dx=2),
    "trapezoid_bool": lambda L: L.trapezoid(L.tensor([True, False])),
    "trapezoid_x_len": lambda L: L.trapezoid(L.ones(3), L.ones(2)),
    "trapezoid_x_2d": lambda L: L.trapezoid(L.ones(2, 3), L.tensor([[0.0, 1.0, 3.0]])),
    "trapz_dx": lambda L: L.trapz(L.tensor([1.0, 2.0, 4.0]), dx=0.5),
    "cumulative_trapezoid_int": lambda L: L.cumulative_trapezoid(L.tensor([1, 3, 7])),
    "cumulative_trapezoid_empty": lambda L: L.cumulative_trapezoid(L.zeros(3, 0)),
    "cumulative_trapezoid_one": lambda L: L.cumulative_trapezoid(L.zeros(3, 1)),
    "cumulative_trapezoid_bool": lambda L: L.cumulative_trapezoid(L.tensor([True, False])),
    "gradient_int": lambda L: L.gradient(L.tensor([1, 2, 4, 8])),
    "gradient_edge2": lambda L: L.gradient(L.tensor([1.0, 2, 4, 8]), edge_order=2),
    "gradient_edge2_short": lambda L: L.gradient(L.tensor([1.0, 2]), edge_order=2),
    "gradient_edge3": lambda L: L.gradient(L.ones(3, 4), edge_order=3),
    "gradient_0d": lambda L: L.gradient(L.tensor(1.0)),
    "gradient_one": lambda L: L.gradient(L.tensor([1.0])),
    "gradient_dim": lambda L: L.gradient(L.arange(12.0).reshape(3, 4) ** 2, dim=1),
    "gradient_dims": lambda L: L.gradient(L.arange(12.0).reshape(3, 4) ** 2, spacing=3, dim=(0, -1)),
    "gradient_dims_dup": lambda L: L.gradient(L.ones(3, 4), dim=(0, 0)),
    "gradient_dim_range": lambda L: L.gradient(L.ones(3, 4), dim=2),
    "gradient_spacing_len": lambda L: L.gradient(L.ones(3, 4, 2), spacing=(2, 3)),
    "gradient_spacing_dim_len": lambda L: L.gradient(L.ones(3, 4), spacing=(2, 3), dim=1),
    "gradient_spacing_list": lambda L: L.gradient(L.arange(12.0).reshape(3, 4) ** 2, spacing=[2.0, 0.5]),
    "gradient_coords_int": lambda L: L.gradient(L.tensor([1, 2, 4, 8]), spacing=[L.tensor([0, 1, 3, 4])]),
    "gradient_coords_2d": lambda L: L.gradient(L.ones(4), spacing=[L.ones(2, 2)]),
    "gradient_uint8": lambda L: L.gradient(L.tensor([1, 2], dtype=L.uint8)),
    "dist_p0": lambda L: L.dist(L.tensor([1.0, 2.0, 3.0]), L.tensor([1.0, 0.0, 0.0]), 0),
    "dist_int": lambda L: L.dist(L.tensor([1]), L.tensor([2])),
    "dist_promote": lambda L: L.dist(L.tensor([1.0, 2.0]), L.tensor([1.0, 5.0], dtype=L.float64)),
    "dist_empty": lambda L: L.dist(L.zeros(0), L.zeros(0)),
    "dist_neg_inf": lambda L: L.dist(L.tensor([1.0, 2.0]), L.tensor([0.0, 0.0]), -float("inf")),
    "renorm_1d": lambda L: L.renorm(L.tensor([1.0, 2.0]), 2, 0, 1),
    "renorm_p": lambda L: L.renorm(L.ones(2, 2), -1, 0, 1),
    "renorm_maxnorm": lambda L: L.renorm(L.ones(2, 2), 2, 0, -1),
    "renorm_int": lambda L: L.renorm(L.ones(2, 2, dtype=L.int64), 2, 0, 1),
    "renorm_0d": lambda L: L.renorm(L.tensor(1.0), 2, 0, 1),
    "renorm_empty": lambda L: L.renorm(L.zeros(0, 3), 2, 1, 1),
    "char": lambda L: L.tensor([1.7, -30.0, 5.0]).char(),
    "out_cast": lambda L: L.exp2(L.tensor([1.0, 2.0]), out=L.zeros(2, dtype=L.int64)),
    "out_resize": lambda L: (lambda o: (L.exp2(L.tensor([1.0, 2.0]), out=o), o))(L.zeros(0)),
    "out_f64": lambda L: (lambda o: (L.logaddexp2(L.tensor([1.0]), L.tensor([2.0]), out=o), o))(L.zeros(1, dtype=L.float64)),
    "out_grad": lambda L: L.exp2(L.tensor([1.0, 2.0], requires_grad=True), out=L.zeros(2)),
    "out_frexp": lambda L: L.frexp(L.tensor([1.0, 3.0]), out=(L.zeros(2), L.zeros(2, dtype=L.int32))),
    "out_bitwise": lambda L: L.bitwise_and(L.tensor([1, 2]), 3, out=L.zeros(2, dtype=L.int32)),
    "out_bitwise_bool": lambda L: L.bitwise_or(L.tensor([1, 2]), 3, out=L.zeros(2, dtype=L.bool)),
    "out_histc": lambda L: L.histc(L.tensor([1.0, 2.0]), bins=3, out=L.zeros(0)),
    "out_quantile": lambda L: L.quantile(L.tensor([1.0, 2.0, 5.0]), 0.3, out=L.zeros(())),
    "out_mode": lambda L: L.mode(L.tensor([[1.0, 2.0, 2.0]]), 1, out=(L.zeros(1), L.zeros(1, dtype=L.int64))),
    "out_gcd": lambda L: L.gcd(L.tensor([4, 6]), L.tensor([6, 9]), out=L.zeros(2, dtype=L.int64)),
    "cov_3d": lambda L: L.cov(L.ones(2, 2, 2)),
    "cov_int": lambda L: L.cov(L.tensor([[1, 2, 4], [3, 2, 2]])),
    "cov_bool": lambda L: L.cov(L.tensor([True, False])),
    "cov_fweights_float": lambda L: L.cov(L.ones(2, 3), fweights=L.ones(3)),
    "cov_fweights_2d": lambda L: L.cov(L.ones(2, 3), fweights=L.ones(1, 3, dtype=L.int64)),
    "cov_fweights_numel": lambda L: L.cov(L.ones(2, 3), fweights=L.ones(2, dtype=L.int64)),
    "cov_fweights_negative": lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([1, -1, 1])),
    "cov_fweights_zero": lambda L: L.cov(L.ones(2, 3), fweights=L.tensor([0, 0, 0])),
    "cov_aweights_int": lambda L: L.cov(L.ones(2, 3), aweights=L.ones(3, dtype=L.int64)),
    "cov_aweights_negative": lambda L: L.cov(L.ones(2, 3), aweights=L.tensor([1.0, -1.0, 1.0])),
    "cov_weights": lambda L: L.cov(L.tensor([[1.0, 5, 2], [0, 2, 9]]), correction=1,
                                   fweights=L.tensor([1, 0, 3]), aweights=L.tensor([0.5, 2.0, 1.0])),
    "cov_dof": lambda L: L.cov(L.tensor([[1.0, 2.0]]), correction=2),
    "cov_empty": lambda L: L.cov(L.zeros(2, 0)),
    "corrcoef_1d": lambda L: L.corrcoef(L.tensor([1.0, 2.0, 4.0])),
    "corrcoef_const": lambda L: L.corrcoef(L.tensor([[1.0, 1.0], [1.0, 2.0]])),
    "corrcoef_3d": lambda L: L.corrcoef(L.ones(2, 2, 2)),
    "quantile_q_range": lambda L: L.quantile(L.ones(3), 1.5),
    "quantile_q_tensor_range": lambda L: L.quantile(L.ones(3), L.tensor([0.5, -0.1])),
    "quantile_q_dtype": lambda L: L.quantile(L.ones(3), L.tensor([0.5], dtype=L.float64)),
    "quantile_q_2d": lambda L: L.quantile(L.ones(3), L.ones(1, 1) * 0.5),
    "quantile_interp": lambda L: L.quantile(L.ones(3), 0.5, interpolation="foo"),
    "quantile_empty": lambda L: L.quantile(L.zeros(0), 0.5),
    "quantile_int": lambda L: L.quantile(L.tensor([1, 2]), 0.5),
    "quantile_nan": lambda L: L.quantile(L.tensor([[1.0, float("nan"), 3.0], [1.0, 2.0, 3.0]]), 0.5, dim=1),
    "quantile_modes": lambda L: [L.quantile(L.tensor([1.0, 2, 3, 4, 5]), L.tensor([0.0, 0.125, 0.375, 0.625, 1.0]),
                                            interpolation=m) for m in ("linear", "lower", "higher", "midpoint", "nearest")],
    "quantile_keepdim_all": lambda L: L.quantile(L.arange(6.0).reshape(2, 3), L.tensor([0.2, 0.5]), keepdim=True),
    "quantile_inf": lambda L: L.quantile(L.tensor([float("inf"), float("inf"), 1.0]), 0.7),
    "nanquantile_allnan": lambda L: L.nanquantile(L.tensor([[1.0, float("nan"), 3.0], [float("nan")] * 3]), 0.5, dim=1),
    "nanquantile_modes": lambda L: [L.nanquantile(L.tensor([float("nan"), 1.0, 2, 3, 4]), 0.4, interpolation=m)
                                    for m in ("linear", "lower", "higher", "midpoint", "nearest")],
    "nanmedian_allnan_rows": lambda L: L.nanmedian(L.tensor([[float("nan")] * 3, [1.0, float("nan"), 0.0]]), 1),
    "nanmedian_allnan": lambda L: L.nanmedian(L.tensor([float("nan")] * 3)),
    "nanmedian_empty": lambda L: L.nanmedian(L.zeros(0)),
    "nanmedian_empty_dim": lambda L: L.nanmedian(L.zeros(2, 0), 1),
    "nanmedian_ties": lambda L: L.nanmedian(L.tensor([[1.0, 1, 1], [1, 2, 2]]), 1, keepdim=True),
    "nanmedian_int": lambda L: L.nanmedian(L.tensor([4, 1, 3, 2])),
    "nanmedian_int_dim": lambda L: L.nanmedian(L.tensor([[4, 1, 3, 2]]), -1),
    "nanmedian_0d": lambda L: L.nanmedian(L.tensor(2.0), 0),
    "mode_ties": lambda L: L.mode(L.tensor([3.0, 1.0, 3.0, 1.0, 2.0])),
    "mode_rows": lambda L: L.mode(L.tensor([[2.0, 2, 1, 1], [5, 5, 5, 0]]), 1, True),
    "mode_dim0": lambda L: L.mode(L.tensor([[2, 2, 1], [2, 5, 1], [0, 5, 1]]), 0),
    "mode_nan": lambda L: L.mode(L.tensor([[2.0, float("nan"), float("nan"), 1.0]]), 1),
    "mode_bool": lambda L: L.mode(L.tensor([True, False, True])),
    "mode_0d": lambda L: L.mode(L.tensor(2.0)),
    "mode_empty": lambda L: L.mode(L.zeros(0)),
    "mode_empty_other": lambda L: L.mode(L.zeros(2, 0), 0),
    "histc_bins": lambda L: L.histc(L.tensor([1.0, 2, 1]), bins=-1),
    "histc_range": lambda L: L.histc(L.tensor([1.0, 2, 1]), min=3, max=1),
    "histc_int": lambda L: L.histc(L.tensor([1, 2, 1])),
    "histc_inf": lambda L: L.histc(L.tensor([1.0, float("inf")])),
    "histc_empty": lambda L: L.histc(L.zeros(0), bins=4),
    "histc_const": lambda L: L.histc(L.tensor([1.0, 1.0]), bins=4),
    "histc_edges": lambda L: L.histc(L.tensor([0.0, 0.1, 0.2, 0.3, 0.7, 1.0, 1.1, -0.1]), bins=10, min=0, max=1),
    "histc_f64": lambda L: L.histc(L.tensor([0.0, 1 / 3, 2 / 3, 1.0], dtype=L.float64), bins=3),
    "histogram_empty": lambda L: L.histogram(L.zeros(0), bins=4),
    "histogram_const": lambda L: L.histogram(L.tensor([1.0, 1.0]), bins=4),
    "histogram_inf": lambda L: L.histogram(L.tensor([1.0, float("inf")]), bins=4),
    "histogram_range": lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=4, range=(3.0, 1.0)),
    "histogram_edges": lambda L: L.histogram(L.tensor([0.0, 0.5, 1.0, 2.0, 3.0]), bins=L.tensor([0.0, 1.0, 3.0])),
    "histogram_decreasing": lambda L: L.histogram(L.tensor([1.0, 2.0]), bins=L.tensor([3.0, 1.0])),
    "histogram_int": lambda L: L.histogram(L.tensor([1, 2]), bins=4),
    "histogram_int_edges": lambda L: L.histogram(L.tensor([1, 2]), bins=L.tensor([1, 2])),
    "histogram_weight_density": lambda L: L.histogram(L.tensor([0.1, 0.4, 0.45, 0.9]), bins=3, range=(0.0, 1.0),
                                                      weight=L.tensor([1.0, 2.0, 0.5, 3.0]), density=True),
    "histogram_weight_dtype": lambda L: L.histogram(L.tensor([0.1]), bins=3, weight=L.tensor([1.0], dtype=L.float64)),
    "histogramdd": lambda L: L.histogramdd(L.tensor([[1.0, 2], [3, 4], [2, 2.5]]), bins=[2, 3]),
    "histogramdd_range": lambda L: L.histogramdd(L.tensor([[1.0, 2], [3, 4]]), bins=2, range=[0.0, 5, 0, 5], density=True),
    "histogramdd_bins_len": lambda L: L.histogramdd(L.tensor([[1.0, 2], [3, 4]]), bins=[2, 3, 4]),
    "histogramdd_edges": lambda L: L.histogramdd(L.tensor([[1.0, 2], [3, 4]]), bins=[L.tensor([0.0, 2, 4]),
                                                                                  L.tensor([1.0, 5.0])]),
    "char_memory_format": lambda L: L.tensor([[1, 2]]).char(memory_format=L.contiguous_format)
    if hasattr(L, "contiguous_format") else L.tensor([[1, 2]]).char(),
}


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases_and_errors(name):
    _both(EDGE[name])


def test_inplace_methods_and_operators():
    for L in (torch, fastgrad):
        a = L.tensor([5, 6, 7])
        a &= 6
        a |= L.tensor([8, 0, 0])
        a ^= 1
        a <<= 2
        a >>= 1
        b = L.tensor([4.0, -1.0])
        b.clamp_min_(0.5).exp2_().ldexp_(L.tensor([1, 2]))
        c = L.tensor([12, 18])
        c.gcd_(L.tensor([8, 8]))
        d = L.ones(3, 2)
        d.renorm_(2, 0, 1.0)
        if L is torch:
            ta, tb, tc, td = a, b, c, d
    for t, f in ((ta, a), (tb, b), (tc, c), (td, d)):
        assert_close(f, t, t.dtype, "in-place")


def test_heaviside_has_no_derivative():
    x = fastgrad.tensor([1.0, 0.0], requires_grad=True)
    y = fastgrad.heaviside(x, fastgrad.tensor([0.5]))
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
        y.sum().backward()
    assert not fastgrad.bitwise_and(fastgrad.tensor([1]), fastgrad.tensor([3])).requires_grad


def test_float_power_gradient_dtype_is_the_input_dtype():
    for L in (torch, fastgrad):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        y = L.float_power(x, 3)
        assert y.dtype == L.float64
        y.sum().backward()
        assert x.grad.dtype == L.float32
        assert np.allclose(np.asarray(x.grad.numpy()), [3.0, 12.0])


# --------------------------------------------------------------------------- random fills
FILLS = {
    # name: (args, numpy reference sampler for a KS test, mean, var)
    "cauchy_": ((1.0, 2.0), lambda r, n: 1.0 + 2.0 * r.standard_cauchy(n)),
    "exponential_": ((2.5,), lambda r, n: r.exponential(1 / 2.5, n)),
    "geometric_": ((0.3,), lambda r, n: r.geometric(0.3, n).astype(np.float64)),
    "log_normal_": ((0.5, 0.4), lambda r, n: np.exp(r.normal(0.5, 0.4, n))),
    "uniform_": ((-2.0, 3.0), lambda r, n: r.uniform(-2, 3, n)),
}


def _ks(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return np.max(np.abs(np.searchsorted(a, grid, "right") / a.size - np.searchsorted(b, grid, "right") / b.size))


@pytest.mark.parametrize("name", sorted(FILLS))
def test_random_fills(name):
    args, ref = FILLS[name]
    fastgrad.manual_seed(3)
    x = fastgrad.empty(40000, dtype=fastgrad.float64)
    before = x._version if hasattr(x, "_version") else None
    assert getattr(x, name)(*args) is x
    if before is not None:
        assert x._version > before
    fastgrad.manual_seed(3)
    y = getattr(fastgrad.empty(40000, dtype=fastgrad.float64), name)(*args)
    assert np.array_equal(x.numpy(), y.numpy())  # seeded through fastgrad's generator
    g = fastgrad.Generator().manual_seed(3)
    z = getattr(fastgrad.empty(40000, dtype=fastgrad.float64), name)(*args, generator=g)
    assert np.array_equal(x.numpy(), z.numpy())
    assert _ks(x.numpy(), ref(np.random.default_rng(1), 40000)) < 0.02
    tz = getattr(torch.empty(40000, dtype=torch.float64), name)(*args).numpy()
    assert _ks(x.numpy(), tz) < 0.02  # torch's own samples: the same distribution
    for dt in ("float32", "float16"):
        w = getattr(fastgrad.empty(2, 3, dtype=getattr(fastgrad, dt)), name)(*args)
        assert w.dtype == getattr(fastgrad, dt) and tuple(w.shape) == (2, 3)
    e = getattr(fastgrad.empty(0, 2), name)(*args)
    assert tuple(e.shape) == (0, 2)


RANDOM_ERRORS = {
    "cauchy_long": lambda L: L.zeros(3, dtype=L.int64).cauchy_(),
    "cauchy_sigma": lambda L: L.zeros(3).cauchy_(0, -1),
    "exponential_long": lambda L: L.zeros(3, dtype=L.int64).exponential_(),
    "exponential_lambda": lambda L: L.zeros(3).exponential_(0),
    "geometric_p": lambda L: L.zeros(3).geometric_(1.5),
    "geometric_p1": lambda L: L.zeros(3).geometric_(1),
    "geometric_bool": lambda L: L.zeros(3, dtype=L.bool).geometric_(0.5),
    "log_normal_std": lambda L: L.zeros(3).log_normal_(1, -1),
    "log_normal_long": lambda L: L.zeros(3, dtype=L.int64).log_normal_(),
    "leaf": lambda L: L.zeros(3, requires_grad=True).exponential_(),
}


@pytest.mark.parametrize("name", sorted(RANDOM_ERRORS))
def test_random_fill_errors(name):
    _both(RANDOM_ERRORS[name])


def test_geometric_on_integers_and_a_non_leaf():
    fastgrad.manual_seed(0)
    x = fastgrad.zeros(1000, dtype=fastgrad.int64).geometric_(0.5)
    assert x.dtype == fastgrad.int64 and x.numpy().min() >= 1 and abs(x.numpy().mean() - 2) < 0.2
    b = fastgrad.zeros(3, requires_grad=True)
    c = (b * 1).log_normal_()
    assert c.requires_grad and (c.numpy() > 0).all() if not c.requires_grad else (c.detach().numpy() > 0).all()
    c.sum().backward()
    assert b.grad.tolist() == [0.0, 0.0, 0.0]  # the fill cuts the history, as torch's
    assert math.isfinite(float(c.sum()))


SUPPORT = {"uniform": lambda v, a: (v >= a[0]).all() and (v <= a[1]).all(), "cauchy": lambda v, a: np.isfinite(v).all(),
           "exponential": lambda v, a: (v >= 0).all(), "geometric": lambda v, a: (v >= 1).all(),
           "log_normal": lambda v, a: (v >= 0).all()}


@pytest.mark.parametrize("name", sorted(SUPPORT))
def test_random_fill_opdb_samples(name):
    """torch's OpInfo samples of the in-place random fills: the same tensor back, its shape and
    dtype, values in the distribution's support."""
    info = [o for o in op_db if o.name == name and o.variant_test_name == ""][0]
    n = 0
    for dt in (torch.float32, torch.float64, torch.float16, torch.int64, torch.int16):
        if dt not in info.supported_dtypes("cpu"):
            continue
        for s in info.sample_inputs("cpu", dt):
            t = info.op(s.input.clone(), *s.args, **s.kwargs)
            x = to_fg(s.input, [])
            f = getattr(x, name + "_")(*s.args, **s.kwargs)
            assert f is x and tuple(f.shape) == tuple(t.shape) and str(f.dtype).split(".")[-1] == str(t.dtype)[6:]
            assert SUPPORT[name](f.numpy().astype(np.float64), s.args), (name, dt)
            n += 1
    assert n
