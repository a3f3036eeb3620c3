"""The recurrent cells' kernels (csrc/rnn.pxi and its twin fastgrad/_np/rnn.py): both agree
with a float64 reference of PyTorch's cell formulas and with each other, in place (act over
gates), on non-contiguous and zero-size inputs, and raise the same errors."""
import numpy as np
import pytest
from test_kernels import C, NP, needs_c

BACKENDS = [pytest.param("numpy", id="numpy"), pytest.param("cython", id="cython", marks=needs_c)]
RTOL = {np.float32: 2e-6, np.float64: 1e-13}


@pytest.fixture(params=BACKENDS)
def K(request):
    return NP if request.param == "numpy" else C


def _sig(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _lstm_ref(gates, cp):
    i, f, g, o = np.split(gates.astype(np.float64), 4, axis=1)
    i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
    c = f * cp + i * g
    return np.concatenate([i, f, g, o], 1), c, o * np.tanh(c)


def _lstm_bwd_ref(act, cp, c, gh, gc):
    i, f, g, o = np.split(act.astype(np.float64), 4, axis=1)
    tc = np.tanh(c.astype(np.float64))
    dc = gc + gh * o * (1 - tc * tc)
    return np.concatenate([dc * g * i * (1 - i), dc * cp * f * (1 - f), dc * i * (1 - g * g),
                           gh * tc * o * (1 - o)], 1), dc * f


def _gru_ref(gx, gh, hp):
    xr, xz, xn = np.split(gx.astype(np.float64), 3, axis=1)
    yr, yz, yn = np.split(gh.astype(np.float64), 3, axis=1)
    r, z = _sig(xr + yr), _sig(xz + yz)
    n = np.tanh(xn + r * yn)
    return np.concatenate([r, z, n, yn], 1), (1 - z) * n + z * hp


def _gru_bwd_ref(act, hp, gy):
    r, z, n, ghn = np.split(act.astype(np.float64), 4, axis=1)
    dn = gy * (1 - z) * (1 - n * n)
    dz = gy * (hp - n) * z * (1 - z)
    dr = dn * ghn * r * (1 - r)
    return np.concatenate([dr, dz, dn], 1), np.concatenate([dr, dz, dn * r], 1), gy * z


def _close(got, want, dtype):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype] * 10, atol=RTOL[dtype] * 10)


def _arrays(rng, dtype, *shapes, scale=3.0):
    return [np.asarray(rng.standard_normal(s) * scale, dtype) for s in shapes]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b,n", [(3, 5), (32, 200), (1, 1), (0, 4), (4, 0)])
def test_lstm_cell(K, dtype, b, n):
    rng = np.random.default_rng(0)
    gates, cp = _arrays(rng, dtype, (b, 4 * n), (b, n))
    act, c, h = np.empty((b, 4 * n), dtype), np.empty((b, n), dtype), np.empty((b, n), dtype)
    assert K.lstm_cell_fwd(gates, cp, act, c, h) is h
    ra, rc, rh = _lstm_ref(gates, cp)
    for got, want in ((act, ra), (c, rc), (h, rh)):
        _close(got, want, dtype)
    inplace = gates.copy()
    K.lstm_cell_fwd(inplace, cp, inplace, c, h)               # act over gates
    _close(inplace, ra, dtype)
    gh, gc = _arrays(rng, dtype, (b, n), (b, n))
    dg, dcp = np.empty((b, 4 * n), dtype), np.empty((b, n), dtype)
    assert K.lstm_cell_bwd(act, cp, c, gh, gc, dg, dcp) is dg
    rdg, rdc = _lstm_bwd_ref(act, cp, c, gh, gc)
    _close(dg, rdg, dtype)
    _close(dcp, rdc, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("b,n", [(3, 5), (32, 200), (1, 1), (0, 4)])
def test_gru_cell(K, dtype, b, n):
    rng = np.random.default_rng(1)
    gx, gh, hp = _arrays(rng, dtype, (b, 3 * n), (b, 3 * n), (b, n))
    act, h = np.empty((b, 4 * n), dtype), np.empty((b, n), dtype)
    assert K.gru_cell_fwd(gx, gh, hp, act, h) is h
    ra, rh = _gru_ref(gx, gh, hp)
    _close(act, ra, dtype)
    _close(h, rh, dtype)
    (gy,) = _arrays(rng, dtype, (b, n))
    dgx, dgh, dhp = np.empty((b, 3 * n), dtype), np.empty((b, 3 * n), dtype), np.empty((b, n), dtype)
    assert K.gru_cell_bwd(act, hp, gy, dgx, dgh, dhp) is dgx
    for got, want in zip((dgx, dgh, dhp), _gru_bwd_ref(act, hp, gy)):
        _close(got, want, dtype)


def test_extreme_inputs_stay_finite(K):
    for dtype in (np.float32, np.float64):
        gates = np.array([[-1e4, 1e4, -1e4, 1e4, 80.0, -80.0, 30.0, -30.0]], dtype)
        cp = np.array([[1.0, -2.0]], dtype)
        act, c, h = np.empty_like(gates), np.empty_like(cp), np.empty_like(cp)
        K.lstm_cell_fwd(gates, cp, act, c, h)
        assert np.isfinite(act).all() and np.isfinite(h).all()
        _close(act, _lstm_ref(gates, cp)[0], dtype)


@needs_c
def test_compiled_matches_twin_on_odd_layouts():
    """Non-contiguous or read-only inputs take the twin's path in the compiled module:
    same results."""
    rng = np.random.default_rng(2)
    gates = np.asarray(rng.standard_normal((6, 16)), np.float32)[::2]       # rows strided
    cp = np.asfortranarray(np.asarray(rng.standard_normal((3, 4)), np.float32))
    outs = [[np.empty((3, 16), np.float32), np.empty((3, 4), np.float32), np.empty((3, 4), np.float32)]
            for _ in range(2)]
    for K, o in zip((NP, C), outs):
        K.lstm_cell_fwd(gates, cp, *o)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


def _errors(name, *args):
    msgs = []
    for K in (NP, C) if C is not None else (NP,):
        with pytest.raises((TypeError, ValueError)) as info:
            getattr(K, name)(*args)
        msgs.append((info.type, str(info.value)))
    assert len(set(msgs)) == 1, msgs
    assert name in msgs[0][1]


def test_bad_arguments_raise_the_same_errors():
    f4, f8 = np.float32, np.float64
    g, c = np.zeros((2, 8), f4), np.zeros((2, 2), f4)
    _errors("lstm_cell_fwd", g, c, np.empty((2, 8), f4), np.empty((2, 2), f4), np.empty((2, 3), f4))
    _errors("lstm_cell_fwd", g, c.astype(f8), np.empty((2, 8), f4), np.empty((2, 2), f4), np.empty((2, 2), f4))
    _errors("lstm_cell_fwd", np.zeros((2, 7), f4), c, np.empty((2, 7), f4), np.empty((2, 2), f4),
            np.empty((2, 2), f4))
    _errors("lstm_cell_fwd", g, c, np.empty((2, 8), f4), c, np.empty((2, 2), f4))        # c over c_prev
    ro = np.empty((2, 2), f4)
    ro.flags.writeable = False
    _errors("lstm_cell_fwd", g, c, np.empty((2, 8), f4), np.empty((2, 2), f4), ro)
    _errors("lstm_cell_bwd", g, c, c, c, c, np.empty((2, 8), f4), np.empty((3, 2), f4))
    _errors("gru_cell_fwd", np.zeros((2, 6), f4), np.zeros((2, 6), f4), c, np.empty((2, 6), f4), np.empty((2, 2), f4))
    _errors("gru_cell_bwd", g, c, [[0.0, 0.0]], np.empty((2, 6), f4), np.empty((2, 6), f4), np.empty((2, 2), f4))
    _errors("gru_cell_bwd", np.zeros((2, 8), np.int64), c, c, np.empty((2, 6), f4), np.empty((2, 6), f4),
            np.empty((2, 2), f4))


_WIDTH = {"gates": 4, "act": 4, "dgates": 4, "gx": 3, "dgx": 3, "dgh": 3}   # the rest: 1 (B, H)
_GH_WIDTH = {"gru_cell_fwd": 3}                                             # gh is (B, 3H) there


def _fuzz_case(rng, name):
    import inspect

    b, n = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    dtype = [np.float32, np.float64][int(rng.integers(2))]
    args = []
    for p in inspect.signature(getattr(NP, name)).parameters:
        w = _GH_WIDTH.get(name, 1) if p == "gh" else _WIDTH.get(p, 1)
        shape = (b, w * n)
        r = rng.random()
        if r < 0.08:
            shape = [(b,), (b, n + 1), (2, b, n), ()][int(rng.integers(4))]
        dt = dtype
        r = rng.random()
        if r < 0.04:
            dt = np.float64 if dtype == np.float32 else np.float32
        elif r < 0.06:
            dt = np.int64
        elif r < 0.08:
            args.append(None if rng.random() < 0.5 else [0.0] * max(b, 1))
            continue
        a = np.asarray(rng.standard_normal(shape) * rng.choice([1, 10, 1e3]), dt)
        r = rng.random()
        if r < 0.1 and a.ndim:
            a = np.repeat(a, 2, axis=-1)[..., ::2]                    # non-contiguous
        elif r < 0.14:
            a.flags.writeable = False
        args.append(a)
    if name == "lstm_cell_fwd" and rng.random() < 0.2 and isinstance(args[0], np.ndarray):
        args[2] = args[0]                                                   # act over gates
    return args


def _copy(a):
    if not isinstance(a, np.ndarray):
        return a
    b = a.copy()
    if a.ndim and not a.flags.c_contiguous:
        b = np.repeat(b, 2, axis=-1)[..., ::2]
        b[...] = a
    b.flags.writeable = a.flags.writeable
    return b


@needs_c
def test_fuzz_compiled_matches_twin():
    """Random shapes, dtypes, layouts, aliasing and Nones: the same exception type from both,
    or results that agree (and arrays updated alike)."""
    rng = np.random.default_rng(5)
    seen = {"ok": 0, "error": 0}
    for _ in range(400):
        name = NP.rnn.__all__[int(rng.integers(4))] if hasattr(NP, "rnn") else \
            ["lstm_cell_fwd", "lstm_cell_bwd", "gru_cell_fwd", "gru_cell_bwd"][int(rng.integers(4))]
        args = _fuzz_case(rng, name)
        alias = name == "lstm_cell_fwd" and args[2] is args[0]
        args_np = [_copy(a) for a in args]
        if alias:
            args_np[2] = args_np[0]
        try:
            with np.errstate(all="ignore"):
                got = getattr(C, name)(*args)
        except (TypeError, ValueError) as exc:
            seen["error"] += 1
            with pytest.raises(type(exc)), np.errstate(all="ignore"):
                getattr(NP, name)(*args_np)
            continue
        seen["ok"] += 1
        with np.errstate(all="ignore"):
            want = getattr(NP, name)(*args_np)
        rtol = 1e-4 if got.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 1e3)
        for a, b in zip(args, args_np):
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.flags.writeable:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e3)
    assert seen["ok"] > 50 and seen["error"] > 50, seen
