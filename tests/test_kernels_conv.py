"""The convolution / pooling kernels (csrc/conv.pxi and its twin fastgrad/_np/conv.py): im2col and
col2im equal torch's unfold / fold, max_pool2d_fwd/bwd equal torch's max_pool2d_with_indices and
its gradient, on both backends, float32 and float64, with strides, padding, dilation, strided
(transposed-layout) outputs, non-contiguous inputs, NaN / -inf windows and ceil_mode sizes."""
import numpy as np
import pytest
from test_kernels import C, NP, needs_c

torch = pytest.importorskip("torch")
BACKENDS = [pytest.param("numpy", id="numpy"), pytest.param("cython", id="cython", marks=needs_c)]
GEOMS = [  # (N, C, H, W), kernel, stride, padding, dilation
    ((2, 3, 7, 6), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((3, 2, 9, 8), (2, 3), (2, 1), (0, 1), (1, 2)),
    ((1, 4, 5, 5), (5, 5), (1, 1), (0, 0), (1, 1)),
    ((2, 1, 11, 10), (3, 2), (3, 2), (2, 1), (2, 3)),
    ((64, 6, 12, 12), (5, 5), (1, 1), (0, 0), (1, 1)),  # above PAR_MIN: the OpenMP loop
    ((2, 2, 4, 4), (1, 1), (2, 2), (0, 0), (1, 1)),
    # stride 1 with the input's width (fg_conv.h's shifted-plane im2col): height dilation and
    # padding, taps that read padding only (kernel wider than the padded image's inside)
    ((2, 2, 5, 4), (2, 5), (1, 1), (0, 2), (2, 1)),
    ((1, 2, 2, 2), (1, 7), (1, 1), (0, 3), (1, 1)),
    ((1, 1, 3, 3), (5, 5), (1, 1), (2, 2), (1, 1)),
    ((3, 2, 2, 3), (4, 3), (1, 1), (3, 1), (2, 1)),
]


@pytest.fixture(params=BACKENDS)
def K(request):
    return NP if request.param == "numpy" else C


def _tol(dt):
    return dict(rtol=1e-6, atol=1e-6) if dt == np.float32 else dict(rtol=1e-12, atol=1e-12)


def _outsize(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_im2col_col2im_match_torch(K, dt, geom, layout):
    shape, k, s, p, d = geom
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dt)
    n, c, h, w = shape
    L = _outsize(h, k[0], s[0], p[0], d[0]) * _outsize(w, k[1], s[1], p[1], d[1])
    ckk = c * k[0] * k[1]
    want = torch.nn.functional.unfold(torch.from_numpy(x), k, d, p, s).numpy()
    buf = np.full((ckk, n, L) if layout == "transposed" else (n, ckk, L), 7.0, dt)
    out = buf.transpose(1, 0, 2) if layout == "transposed" else buf
    assert K.im2col(x, k, s, p, d, out) is out
    np.testing.assert_array_equal(out, want)
    cols = rng.standard_normal((n, ckk, L)).astype(dt)
    if layout == "transposed":  # a non-contiguous cols argument
        cols = np.ascontiguousarray(cols.transpose(1, 0, 2)).transpose(1, 0, 2)
    img = np.full(shape, 3.0, dt)
    got = K.col2im(cols, k, s, p, d, img)
    assert got is img
    want = torch.nn.functional.fold(torch.from_numpy(np.ascontiguousarray(cols)), (h, w), k, d, p, s).numpy()
    np.testing.assert_allclose(got, want, **_tol(dt))


def test_im2col_noncontiguous_input(K):
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 10))[:, ::2, :, 1::2]
    out = np.empty((2, 2 * 9, 8 * 5))
    K.im2col(x, (3, 3), (1, 1), (1, 1), (1, 1), out)
    np.testing.assert_array_equal(out, torch.nn.functional.unfold(torch.from_numpy(x.copy()), 3, 1, 1, 1).numpy())


def test_backends_raise_alike():
    x = np.zeros((1, 1, 4, 4), np.float32)
    for K in [NP] + ([C] if C is not None else []):
        with pytest.raises(ValueError, match="cols of shape"):
            K.im2col(x, (3, 3), (1, 1), (0, 0), (1, 1), np.empty((1, 9, 5), np.float32))
        with pytest.raises(TypeError, match="float32 or float64"):
            K.im2col(x, (3, 3), (1, 1), (0, 0), (1, 1), np.empty((1, 9, 4), np.float64))
        with pytest.raises(ValueError, match="positive"):
            K.im2col(x, (3, 3), (0, 1), (0, 0), (1, 1), np.empty((1, 9, 4), np.float32))


POOLS = [  # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 2, 9, 7), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((1, 2, 10, 11), (3, 2), (2, 3), (1, 1), (2, 1), True),
    ((32, 64, 16, 16), (2, 2), (2, 2), (0, 0), (1, 1), False),  # above PAR_MIN
    ((1, 1, 5, 5), (2, 2), (3, 3), (1, 1), (1, 1), True),
    # 2x2 / stride 2 (fg_conv.h's branch-free loop): odd sizes (the last row and column
    # unused), a vector-loop remainder (ow 17); ceil_mode's partial windows take the general loop
    ((2, 3, 9, 7), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((3, 2, 10, 35), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 9, 7), (2, 2), (2, 2), (0, 0), (1, 1), True),
]


def _torch_pool(x, k, s, p, d, ceil):
    t = torch.from_numpy(x).requires_grad_()
    y, i = torch.nn.functional.max_pool2d(t, k, s, p, d, ceil, return_indices=True)
    return t, y, i


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("special", ["plain", "ties", "nan", "neginf"])
def test_max_pool_matches_torch(K, dt, pool, special):
    shape, k, s, p, d, ceil = pool
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(dt)
    if special == "ties":
        x = np.round(x).astype(dt)
    elif special == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    elif special == "neginf":
        x[rng.random(shape) < 0.7] = -np.inf
    t, ty, ti = _torch_pool(x, k, s, p, d, ceil)
    y, idx = np.empty(ty.shape, dt), np.empty(ty.shape, np.int64)
    assert K.max_pool2d_fwd(x, k, s, p, d, y, idx) is y
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, ti.numpy())
    g = rng.standard_normal(ty.shape).astype(dt)
    ty.backward(torch.from_numpy(g))
    gx = np.full(shape, 5.0, dt)
    assert K.max_pool2d_bwd(g, idx, gx) is gx
    np.testing.assert_allclose(gx, t.grad.numpy(), **_tol(dt))


def test_max_pool_noncontiguous(K):
    x = np.random.default_rng(3).standard_normal((2, 6, 8, 8)).astype(np.float32)[:, ::2]
    y, idx = np.empty((2, 3, 4, 4), np.float32), np.empty((2, 3, 4, 4), np.int64)
    K.max_pool2d_fwd(x, (2, 2), (2, 2), (0, 0), (1, 1), y, idx)
    _, ty, ti = _torch_pool(np.ascontiguousarray(x), (2, 2), (2, 2), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    g = np.ones((2, 6, 4, 4), np.float32)[:, ::2]
    gx = K.max_pool2d_bwd(g, idx, np.empty(x.shape, np.float32))
    assert gx.sum() == 2 * 3 * 16
