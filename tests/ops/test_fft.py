"""torch.fft against torch: values, dtypes, gradients (a general linear functional of the output,
so every output element's gradient counts), forward-mode tangents and double backward, for real
and complex inputs, n/s, dim and every norm; out=, errors, fftfreq, fftshift."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")

NORMS = [None, "backward", "forward", "ortho"]
REAL = ["float32", "float64"]
CPLX = ["complex64", "complex128"]
TOL = {"float32": 2e-4, "complex64": 2e-4, "float64": 1e-9, "complex128": 1e-9}


def _np(t):
    return t.detach().numpy() if isinstance(t, fastgrad.Tensor) else t.detach().resolve_conj().numpy()


def _close(a, b, tol):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    scale = max(1.0, float(np.abs(b).max())) if b.size else 1.0
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)


def _pair(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    a = a.astype(dtype)
    return fastgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _weights(out):
    """A real random functional of the output: sum(view_as_real(out) * W) or sum(out * W)."""
    rng = np.random.default_rng(1)
    shape = tuple(out.shape) + ((2,) if out.is_complex() else ())
    w = rng.standard_normal(shape)
    real = torch.float32 if out.dtype in (torch.float32, torch.complex64) else torch.float64
    return w.astype(np.float32 if real == torch.float32 else np.float64)


def _loss(lib, out, w):
    if out.is_complex():
        out = lib.view_as_real(out.resolve_conj())
    return (out * lib.tensor(w)).sum()


def check(fname, shape, dtype, kwargs, tangent=True):
    x, tx = _pair(shape, dtype)
    f = getattr(fastgrad.fft, fname)
    tf = getattr(torch.fft, fname)
    out, tout = f(x, **kwargs), tf(tx, **kwargs)
    tol = TOL[dtype]
    _close(out, tout, tol)
    w = _weights(tout)
    (g,) = fastgrad.autograd.grad(_loss(fastgrad, out, w), x)
    (tg,) = torch.autograd.grad(_loss(torch, tout, w), tx)
    _close(g, tg, tol)
    if tangent:  # forward mode: the tangent of the output along a random direction
        v, tv = _pair(shape, dtype, seed=2)
        with fastgrad.autograd.forward_ad.dual_level():
            d = fastgrad.autograd.forward_ad.make_dual(x.detach(), v.detach())
            t = fastgrad.autograd.forward_ad.unpack_dual(f(d, **kwargs)).tangent
        with torch.autograd.forward_ad.dual_level():
            td = torch.autograd.forward_ad.make_dual(tx.detach(), tv.detach())
            tt = torch.autograd.forward_ad.unpack_dual(tf(td, **kwargs)).tangent
        _close(t, tt, tol)


ONE_D = [  # (shape, kwargs)
    ((8,), {}), ((7,), {}), ((3, 6), {"dim": 0}), ((3, 6), {"dim": -1, "n": 4}), ((3, 6), {"n": 9}),
    ((2, 5, 4), {"dim": 1, "n": 8}), ((2, 5, 4), {"dim": 1, "n": 3}), ((1,), {}), ((5,), {"n": 1}),
]


@pytest.mark.parametrize("fname", ["fft", "ifft"])
@pytest.mark.parametrize("dtype", REAL + CPLX)
@pytest.mark.parametrize("norm", NORMS)
def test_fft_ifft(fname, dtype, norm):
    for shape, kw in ONE_D:
        check(fname, shape, dtype, dict(kw, norm=norm))


@pytest.mark.parametrize("fname", ["rfft", "ihfft"])
@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("norm", NORMS)
def test_rfft_ihfft(fname, dtype, norm):
    for shape, kw in ONE_D:
        check(fname, shape, dtype, dict(kw, norm=norm))


@pytest.mark.parametrize("fname", ["irfft", "hfft"])
@pytest.mark.parametrize("dtype", REAL + CPLX)
@pytest.mark.parametrize("norm", NORMS)
def test_irfft_hfft(fname, dtype, norm):
    for shape, kw in ONE_D:
        if shape[kw.get("dim", -1)] == 1 and "n" not in kw:
            continue  # 2 * (1 - 1) = 0 points: an error (tested below)
        check(fname, shape, dtype, dict(kw, norm=norm))
    check(fname, (4, 5), dtype, {"n": 8, "dim": 0, "norm": norm})  # n // 2 + 1 > input: padded
    check(fname, (4, 5), dtype, {"n": 5, "norm": norm})  # odd n


N_D = [  # (shape, kwargs) for the n-dimensional transforms
    ((4, 6), {}), ((3, 4, 5), {}), ((3, 4, 5), {"dim": (0, 2)}), ((3, 4, 5), {"dim": (2, 0)}),
    ((3, 4, 5), {"s": (6, 3)}), ((3, 4, 5), {"s": (2, -1), "dim": (1, 0)}), ((3, 4, 5), {"dim": (-1,)}),
    ((2, 3, 4, 5), {"s": (3, 4, 7)}),
]


@pytest.mark.parametrize("fname", ["fftn", "ifftn", "fft2", "ifft2"])
@pytest.mark.parametrize("dtype", REAL + CPLX)
@pytest.mark.parametrize("norm", NORMS)
def test_fftn(fname, dtype, norm):
    for shape, kw in N_D:
        if fname.endswith("2") and len(kw.get("s", kw.get("dim", (0, 0)))) != 2:
            continue
        check(fname, shape, dtype, dict(kw, norm=norm))


@pytest.mark.parametrize("fname", ["rfftn", "rfft2", "ihfftn", "ihfft2"])
@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize("norm", NORMS)
def test_rfftn_ihfftn(fname, dtype, norm):
    for shape, kw in N_D:
        if fname.endswith("2") and len(kw.get("s", kw.get("dim", (0, 0)))) != 2:
            continue
        check(fname, shape, dtype, dict(kw, norm=norm))


@pytest.mark.parametrize("fname", ["irfftn", "irfft2", "hfftn", "hfft2"])
@pytest.mark.parametrize("dtype", REAL + CPLX)
@pytest.mark.parametrize("norm", NORMS)
def test_irfftn_hfftn(fname, dtype, norm):
    for shape, kw in N_D + [((3, 4, 5), {"s": (4, 8)}), ((3, 4, 5), {"s": (5, 7), "dim": (2, 1)})]:
        if fname.endswith("2") and len(kw.get("s", kw.get("dim", (0, 0)))) != 2:
            continue
        check(fname, shape, dtype, dict(kw, norm=norm))


@pytest.mark.parametrize("fname,dtype", [("fft", "float64"), ("rfft", "float64"), ("irfft", "complex128"),
                                         ("hfftn", "complex128"), ("ihfft2", "float64"), ("ifftn", "complex128")])
def test_double_backward(fname, dtype):
    x, tx = _pair((4, 6), dtype)
    out, tout = getattr(fastgrad.fft, fname)(x), getattr(torch.fft, fname)(tx)
    w = _weights(tout)
    (g,) = fastgrad.autograd.grad(_loss(fastgrad, out, w) ** 2, x, create_graph=True)
    (tg,) = torch.autograd.grad(_loss(torch, tout, w) ** 2, tx, create_graph=True)
    w2 = _weights(tg)
    (gg,) = fastgrad.autograd.grad(_loss(fastgrad, g, w2), x)
    (tgg,) = torch.autograd.grad(_loss(torch, tg, w2), tx)
    _close(gg, tgg, 1e-9)


def test_integer_input_and_dtypes():
    for fname in ["fft", "rfft", "ihfft", "fftn", "irfft", "hfft"]:
        a = getattr(fastgrad.fft, fname)(fastgrad.arange(6))
        b = getattr(torch.fft, fname)(torch.arange(6))
        _close(a, b, 1e-5)
    assert fastgrad.fft.fft(fastgrad.zeros(4, dtype=fastgrad.float64)).dtype == fastgrad.complex128
    assert fastgrad.fft.irfft(fastgrad.zeros(4, dtype=fastgrad.complex64)).dtype == fastgrad.float32


def test_empty_dims_and_zero_d():
    x = np.arange(6.0).reshape(2, 3).astype(np.float32)
    _close(fastgrad.fft.fftn(fastgrad.tensor(x), dim=()), torch.fft.fftn(torch.tensor(x), dim=()), 1e-6)
    _close(fastgrad.fft.fftn(fastgrad.tensor(1.5)), torch.fft.fftn(torch.tensor(1.5)), 1e-6)


def test_out():
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    out = fastgrad.empty(0, dtype=fastgrad.complex64)
    r = fastgrad.fft.rfft(fastgrad.tensor(x), out=out)
    assert r is out
    _close(out, torch.fft.rfft(torch.tensor(x)), 1e-5)
    out = fastgrad.empty(0, dtype=fastgrad.complex128)
    fastgrad.fft.fft2(fastgrad.tensor(x), out=out)
    _close(out, torch.fft.fft2(torch.tensor(x), out=torch.empty(0, dtype=torch.complex128)), 1e-5)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        fastgrad.fft.fft(fastgrad.tensor(x, requires_grad=True), out=fastgrad.empty(0, dtype=fastgrad.complex64))


@pytest.mark.parametrize("call", [
    lambda m, x: m.fft.fft(x, norm="bad"), lambda m, x: m.fft.fft(x, n=0), lambda m, x: m.fft.fft(m.zeros(0)),
    lambda m, x: m.fft.fft(m.tensor(1.0)), lambda m, x: m.fft.rfft(x.to(m.complex64)),
    lambda m, x: m.fft.ihfft(x.to(m.complex64)), lambda m, x: m.fft.fft(x.half()),
    lambda m, x: m.fft.fftn(x, dim=(0, 0)), lambda m, x: m.fft.fftn(x, s=(2, 3, 4)),
    lambda m, x: m.fft.fftn(x, s=(2,), dim=(0, 1)), lambda m, x: m.fft.irfft(m.zeros(1, dtype=m.complex64)),
    lambda m, x: m.fft.irfftn(x, dim=()), lambda m, x: m.fft.fft(x, dim=3), lambda m, x: m.fft.rfftn(x, dim=()),
])
def test_errors(call):
    with pytest.raises(Exception) as want:
        call(torch, torch.ones(2, 3))
    with pytest.raises(want.type) as got:
        call(fastgrad, fastgrad.ones(2, 3))
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("d", [1.0, 0.25])
def test_fftfreq(n, d):
    _close(fastgrad.fft.fftfreq(n, d), torch.fft.fftfreq(n, d), 1e-6)
    _close(fastgrad.fft.rfftfreq(n, d), torch.fft.rfftfreq(n, d), 1e-6)
    _close(fastgrad.fft.fftfreq(n, d, dtype=fastgrad.float64), torch.fft.fftfreq(n, d, dtype=torch.float64), 1e-12)
    assert fastgrad.fft.rfftfreq(n, requires_grad=True).requires_grad


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 1), (1,)])
def test_fftshift(dim):
    for dtype in ["float32", "complex128"]:
        for shape in [(5,), (4, 7), (3, 4, 6)]:
            if dim is not None and len(shape) < 2 and dim not in (0, -1):
                continue
            x, tx = _pair(shape, dtype)
            for name in ["fftshift", "ifftshift"]:
                out = getattr(fastgrad.fft, name)(x, dim=dim)
                tout = getattr(torch.fft, name)(tx, dim=dim)
                _close(out, tout, 0)
                w = _weights(tout)
                _close(fastgrad.autograd.grad(_loss(fastgrad, out, w), x)[0],
                       torch.autograd.grad(_loss(torch, tout, w), tx)[0], 0)


# --------------------------------------------------------------------------- stft / istft
def _stft_pair(fn_f, fn_t, specs, tol):
    """fn(lib, *tensors) in both libraries: values and the gradients of every input."""
    fs, ts = [], []
    for i, (shape, dtype) in enumerate(specs):
        f, t = _pair(shape, dtype, seed=i)
        if dtype.startswith("float") and i > 0:  # a window: positive
            a = np.abs(t.detach().numpy()) + 0.5
            f, t = fastgrad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        fs.append(f)
        ts.append(t)
    out, tout = fn_f(fastgrad, *fs), fn_t(torch, *ts)
    _close(out, tout, tol)
    w = _weights(tout)
    gs = fastgrad.autograd.grad(_loss(fastgrad, out, w), fs)
    tgs = torch.autograd.grad(_loss(torch, tout, w), ts)
    for g, tg in zip(gs, tgs):
        _close(g, tg, tol)


STFT_CASES = [  # (input shape, window length or None, kwargs)
    ((40,), None, {"n_fft": 8}), ((40,), 8, {"n_fft": 8, "hop_length": 3}),
    ((2, 50), 6, {"n_fft": 10, "win_length": 6, "hop_length": 4}),
    ((33,), 16, {"n_fft": 16, "center": False}), ((33,), 16, {"n_fft": 16, "pad_mode": "constant"}),
    ((33,), 16, {"n_fft": 16, "pad_mode": "replicate", "normalized": True}),
    ((3, 30), 8, {"n_fft": 8, "pad_mode": "circular", "onesided": False}),
    ((30,), 6, {"n_fft": 8, "win_length": 6, "center": False, "align_to_window": True}),
]


@pytest.mark.parametrize("dtype", REAL + CPLX)
def test_stft(dtype):
    real = dtype.startswith("float")
    rdt = "float32" if dtype in ("float32", "complex64") else "float64"
    for shape, wl, kw in STFT_CASES:
        if not real and kw.get("onesided", True) is not False:
            kw = dict(kw, onesided=False)
        specs = [(shape, dtype)] + ([((wl,), rdt)] if wl else [])

        def fn(lib, x, *w, kw=kw):
            return lib.stft(x, window=w[0] if w else None, return_complex=True, **kw)
        _stft_pair(fn, fn, specs, TOL[dtype])
    x = np.random.default_rng(0).standard_normal(40).astype(rdt)
    with pytest.warns(UserWarning):
        a = fastgrad.stft(fastgrad.tensor(x), 8, return_complex=False)
    _close(a, torch.stft(torch.tensor(x), 8, return_complex=False), 1e-5)
    _close(fastgrad.tensor(x).stft(8, window=fastgrad.hann_window(8, dtype=getattr(fastgrad, rdt)),
                                   return_complex=True),
           torch.tensor(x).stft(8, window=torch.hann_window(8, dtype=getattr(torch, rdt)), return_complex=True), 1e-5)


ISTFT_CASES = [  # (signal length, n_fft, hop, win_length, kwargs for both)
    (40, 8, 2, 8, {}), (41, 10, 3, 6, {}), (64, 16, 4, 16, {"normalized": True}),
    (40, 8, 2, 8, {"center": False}), (40, 8, 2, 8, {"length": 37}), (40, 8, 2, 8, {"length": 60}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("onesided", [True, False])
def test_istft(dtype, onesided):
    cdt = "complex64" if dtype == "float32" else "complex128"
    for length, n_fft, hop, wl, kw in ISTFT_CASES:
        win = torch.hann_window(wl, dtype=getattr(torch, dtype)) + 0.1
        x = torch.tensor(np.random.default_rng(0).standard_normal((2, length)).astype(dtype))
        spec = torch.stft(x, n_fft, hop, wl, win, center=kw.get("center", True), onesided=onesided,
                          normalized=kw.get("normalized", False), return_complex=True).detach().numpy()
        specs_shape = spec.shape

        def fn(lib, s, w, n_fft=n_fft, hop=hop, wl=wl, kw=kw):
            return lib.istft(s, n_fft, hop, wl, w, onesided=onesided, **kw)
        fs, ts = fastgrad.tensor(spec, requires_grad=True), torch.tensor(spec, requires_grad=True)
        fw, tw = fastgrad.tensor(win.numpy(), requires_grad=True), win.clone().requires_grad_(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, tout = fn(fastgrad, fs, fw), fn(torch, ts, tw)
        _close(out, tout, TOL[dtype])
        w = _weights(tout)
        g = fastgrad.autograd.grad(_loss(fastgrad, out, w), [fs, fw])
        tg = torch.autograd.grad(_loss(torch, tout, w), [ts, tw])
        for a, b in zip(g, tg):
            _close(a, b, TOL[dtype] * 10)
        assert specs_shape == spec.shape and out.dtype == getattr(fastgrad, dtype)
    # return_complex: a complex signal and a two-sided spectrum
    z = np.random.default_rng(1).standard_normal((40,)) + 1j * np.random.default_rng(2).standard_normal(40)
    spec = torch.stft(torch.tensor(z.astype(cdt)), 8, return_complex=True).numpy()
    with pytest.warns(UserWarning, match="A window was not provided"):
        out = fastgrad.istft(fastgrad.tensor(spec), 8, return_complex=True)
    _close(out, torch.istft(torch.tensor(spec), 8, return_complex=True), TOL[cdt])


@pytest.mark.parametrize("call", [
    lambda m, x: m.stft(x, 8), lambda m, x: m.stft(x, 0, return_complex=True),
    lambda m, x: m.stft(x, 8, hop_length=0, return_complex=True),
    lambda m, x: m.stft(x, 8, win_length=9, return_complex=True),
    lambda m, x: m.stft(x, 8, window=m.ones(5), return_complex=True),
    lambda m, x: m.stft(x.to(m.complex64), 8, onesided=True, return_complex=True),
    lambda m, x: m.stft(x, 8, align_to_window=True, return_complex=True),
    lambda m, x: m.istft(m.ones(5, 4), 8), lambda m, x: m.istft(m.ones(5, 4, dtype=m.complex64), 8, return_complex=True),
    lambda m, x: m.istft(m.ones(6, 4, dtype=m.complex64), 8),
    lambda m, x: m.istft(m.ones(5, 4, dtype=m.complex64), 8, hop_length=9),
])
def test_stft_errors(call):
    with pytest.raises(Exception) as want:
        call(torch, torch.ones(20))
    with pytest.raises(want.type) as got:
        call(fastgrad, fastgrad.ones(20))
    assert str(got.value) == str(want.value)


def test_numpy_fft_fallback(monkeypatch):
    """Without SciPy the transforms run on numpy.fft: the same values and gradients."""
    from fastgrad._ops import fft as F

    monkeypatch.setattr(F, "_lib", np.fft)
    for dtype in ["float32", "complex128"]:
        check("fftn", (3, 4, 5), dtype, {"s": (6, 3), "norm": "ortho"})
        check("ifft", (3, 6), dtype, {"n": 4, "dim": 0, "norm": "forward"})
        check("irfftn", (3, 4, 5), dtype, {"s": (5, 7), "dim": (2, 1)})
        check("hfft", (3, 6), dtype, {"n": 9})
    check("rfft2", (3, 4, 5), "float64", {"norm": "forward"})
    check("ihfftn", (3, 4, 5), "float32", {"dim": (0, 2)})
    _close(fastgrad.fft.fftn(fastgrad.ones(2, 3), dim=()), torch.fft.fftn(torch.ones(2, 3), dim=()), 0)
