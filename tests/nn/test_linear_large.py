"""linear at shapes where the compiled backend on NumPy's BLAS computes (w @ x.T).T + b
(fastgrad._ops.nn, _linear_out): which shapes take that route, and values, gradients and double backward
match the plain product; the private kernels reject bad arguments."""
import numpy as np
import pytest

import fastgrad
from fastgrad._ops import nn as nn_ops


def _xwb(dtype, batch=40, n_in=120, n_out=90, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, n_in)).astype(dtype),
            (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype),
            rng.standard_normal(n_out).astype(dtype))


@pytest.fixture
def route(monkeypatch):
    """Counts the calls of the transposed route. It is taken on the compiled backend with
    NumPy's BLAS (nn_ops._linear_out is None with MKL, and on the NumPy backend); here it is
    switched on for every compiled run, so the rule is tested whichever BLAS is in use."""
    calls = []
    fn = getattr(nn_ops.K, "_linear_out", None)
    if fn is not None:
        monkeypatch.setattr(nn_ops, "_linear_out", lambda *a: calls.append(1) or fn(*a))
    return calls


# (batch, n_in, n_out, dtype, transposed on the compiled backend): W1's and W3's hidden
# layers, W2's and W3's last layers, batch 1 and 512, float64, inputs narrower than 100
ROUTES = [(64, 784, 100, np.float32, True), (256, 784, 1024, np.float32, True),
          (256, 1024, 1024, np.float32, True), (4, 300, 512, np.float32, True),
          (40, 120, 90, np.float32, True), (32, 64, 50, np.float32, False),
          (256, 1024, 10, np.float32, False), (64, 50, 10, np.float32, False),
          (1, 784, 2048, np.float32, False), (512, 784, 1024, np.float32, False),
          (8, 784, 100, np.float32, False), (64, 784, 100, np.float64, False),
          (256, 784, 1024, np.float64, False)]


@pytest.mark.parametrize("batch, n_in, n_out, dtype, transposed", ROUTES)
def test_which_shapes_take_the_transposed_route(route, batch, n_in, n_out, dtype, transposed):
    x, w, b = _xwb(dtype, batch, n_in, n_out)
    y = fastgrad.nn.functional.linear(fastgrad.from_numpy(x), fastgrad.from_numpy(w), fastgrad.from_numpy(b))
    assert len(route) == (transposed and nn_ops._linear_out is not None)
    want = x.astype(np.float64) @ w.T.astype(np.float64) + b
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert y._data.flags.c_contiguous and y.dtype == fastgrad.from_numpy(x).dtype
    np.testing.assert_allclose(y.numpy(), want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("bias", [True, False])
def test_transposed_linear_forward_backward(route, bias):
    x, w, b = _xwb(np.float32)
    tx = fastgrad.tensor(x, requires_grad=True)
    tw = fastgrad.tensor(w, requires_grad=True)
    tb = fastgrad.tensor(b, requires_grad=True) if bias else None
    y = fastgrad.nn.functional.linear(tx, tw, tb)
    assert len(route) == (nn_ops._linear_out is not None)
    want = x.astype(np.float64) @ w.T.astype(np.float64) + (b if bias else 0)
    rtol = 1e-5
    assert y.dtype == tx.dtype and y.is_contiguous() and y._data.flags.c_contiguous
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=rtol, atol=rtol * np.abs(want).max())
    g = np.random.default_rng(1).standard_normal(want.shape).astype(np.float32)
    y.backward(fastgrad.tensor(g))
    g64 = g.astype(np.float64)
    np.testing.assert_allclose(tx.grad.numpy(), g64 @ w, rtol=rtol, atol=rtol * 10)
    np.testing.assert_allclose(tw.grad.numpy(), g64.T @ x, rtol=rtol, atol=rtol * 10)
    if bias:
        np.testing.assert_allclose(tb.grad.numpy(), g64.sum(0), rtol=rtol, atol=rtol * 10)


def test_transposed_linear_same_as_plain_product(monkeypatch):
    """The transposed route and x @ w.T give the same values (up to BLAS summation order)
    and the same double-backward graph."""
    x, w, b = _xwb(np.float32)
    outs = []
    for fn in (nn_ops._linear_out, None):
        monkeypatch.setattr(nn_ops, "_linear_out", fn)
        tx = fastgrad.tensor(x, requires_grad=True)
        tw = fastgrad.tensor(w, requires_grad=True)
        y = fastgrad.nn.functional.linear(tx, tw, fastgrad.tensor(b))
        (gx,) = fastgrad.autograd.grad((y * y).sum(), tx, create_graph=True)
        (gw,) = fastgrad.autograd.grad(gx.sum(), tw)
        outs.append((y.detach().numpy(), gx.detach().numpy(), gw.numpy()))
    for a, c in zip(*outs):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5 * np.abs(c).max())


@pytest.mark.parametrize("case", ["strided_bias", "float16", "strided_x"])
def test_transposed_linear_other_layouts_fall_back(route, case):
    x, w, b = _xwb(np.float32)
    if case == "strided_bias":
        b = np.repeat(b, 2)[::2]
    elif case == "float16":
        x, w, b = x.astype(np.float16), w.astype(np.float16), b.astype(np.float16)
    else:
        x = np.repeat(x, 2, axis=0)[::2]
    y = fastgrad.nn.functional.linear(fastgrad.from_numpy(x), fastgrad.from_numpy(w),
                                      fastgrad.from_numpy(b))
    if case == "float16":  # half precision is computed in float32 (copies): the float32 route
        assert len(route) == (nn_ops._linear_out is not None)
    else:
        assert route == []
    want = x.astype(np.float64) @ w.T.astype(np.float64) + b
    tol = 1e-2 if case == "float16" else 1e-5
    np.testing.assert_allclose(y.numpy().astype(np.float64), want, rtol=tol, atol=tol * np.abs(want).max())


def test_linear_out_kernel_checks():
    fn = getattr(nn_ops.K, "_linear_out", None)
    if fn is None:
        pytest.skip("compiled backend only")
    yt = np.random.default_rng(2).standard_normal((7, 45))
    b = np.arange(7.0)
    np.testing.assert_array_equal(fn(yt, b, np.empty((45, 7))), yt.T + b)
    np.testing.assert_array_equal(fn(yt, None, np.empty((45, 7))), yt.T)
    big = np.random.default_rng(3).standard_normal((600, 300)).astype(np.float32)  # parallel path
    np.testing.assert_array_equal(fn(big, None, np.empty((300, 600), np.float32)), big.T)
    for args in [(yt, b, np.empty((7, 45))), (yt.astype(np.float32), b, np.empty((45, 7))),
                 (yt, b[:3], np.empty((45, 7))), (yt, b, np.empty((7, 45)).T),
                 (yt, b.astype(np.float32), np.empty((45, 7))), (yt.ravel(), b, np.empty((45, 7)))]:
        with pytest.raises(ValueError):
            fn(*args)


def _compiled(name):
    fn = getattr(nn_ops.K, name, None)
    if fn is None:
        pytest.skip("compiled backend only")
    return fn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(32, 50), (1, 7), (0, 5), (5, 0), (300, 3)])
def test_rows_add_and_rows_sum_match_numpy_bit_for_bit(dtype, shape):
    rows_add, rows_sum = _compiled("_rows_add"), _compiled("_rows_sum")
    rng = np.random.default_rng(4)
    y = (rng.standard_normal(shape) * 1e3).astype(dtype)
    if y.size:
        y[0, 0], y.flat[-1] = -0.0, np.nan
    b = rng.standard_normal(shape[1]).astype(dtype)
    want = y + b
    got = y.copy()
    assert rows_add(got, b) is got
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    want_sum = np.add.reduce(y, axis=0)
    got_sum = rows_sum(y)
    assert got_sum.dtype == want_sum.dtype and got_sum.shape == want_sum.shape
    np.testing.assert_array_equal(got_sum, want_sum)
    assert np.array_equal(np.signbit(got_sum), np.signbit(want_sum))


def test_rows_add_and_rows_sum_decline_other_layouts():
    rows_add, rows_sum = _compiled("_rows_add"), _compiled("_rows_sum")
    y = np.ones((4, 6), np.float32)
    b = np.ones(6, np.float32)
    ro = y.copy()
    ro.flags.writeable = False
    declined = [(y, b.astype(np.float64)), (y[:, ::2], b[:3]), (ro, b), (y, b[:3]), (y.ravel(), b),
                (y.astype(np.int64), b.astype(np.int64)), (y, y[0]), ([[1.0]], [1.0]), (y, None),
                (np.ones((400, 400), np.float32), np.ones(400, np.float32))]
    for args in declined:
        before = np.array(args[0], copy=True)
        assert rows_add(*args) is None
        np.testing.assert_array_equal(np.asarray(args[0]), before)
    for g in [y[:, ::2], y.ravel(), y.astype(np.int32), [[1.0]], None, np.ones((400, 400))]:
        assert rows_sum(g) is None


def test_small_linear_bias_matches_plain_numpy():
    """The path W2's layers take (rows_add forward, rows_sum for the bias gradient)."""
    rng = np.random.default_rng(5)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(32, 64), (50, 64), (50,)])
    tx, tw, tb = (fastgrad.tensor(a, requires_grad=True) for a in (x, w, b))
    y = fastgrad.nn.functional.linear(tx, tw, tb)
    mm = fastgrad._backend.K.mm  # the products on the BLAS in use (MKL's differ from NumPy's in the last bit)
    np.testing.assert_array_equal(y.detach().numpy(), mm(x, w.T) + b)
    g = rng.standard_normal((32, 50)).astype(np.float32)
    y.backward(fastgrad.tensor(g))
    np.testing.assert_array_equal(tb.grad.numpy(), g.sum(0))
    np.testing.assert_array_equal(tw.grad.numpy(), mm(g.T, x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, k", [(100, 784), (10, 100), (1, 1), (3, 17), (7, 16), (9, 33), (5, 47)])
def test_linear_vec_kernel_matches_the_product(dtype, n, k):
    """One row's linear in C (batch 1, every width modulo the 16 lanes and 4 rows), 1-D and (1, k)
    rows, with and without a bias: the float64 product to float rounding; the same result for
    the same operands (the clones use no FMA)."""
    fn = _compiled("_linear_vec")
    rng = np.random.default_rng(6)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(1, k), (n, k), (n,)])
    want = x.astype(np.float64) @ w.T.astype(np.float64)
    rtol = 2e-6 if dtype == np.float32 else 1e-14
    for xx, bb in [(x, b), (x[0], b), (x, None), (x[0], None)]:
        got = fn(xx, w, bb)
        assert got.dtype == dtype and got.shape == xx.shape[:-1] + (n,) and got.flags.c_contiguous
        ref = want.reshape(got.shape) + (0 if bb is None else bb)
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * np.sqrt(k) * 4)
        np.testing.assert_array_equal(got, fn(xx.copy(), w.copy(), None if bb is None else bb.copy()))


def test_linear_vec_kernel_declines_other_arguments():
    fn = _compiled("_linear_vec")
    x, w, b = np.ones((1, 8), np.float32), np.ones((4, 8), np.float32), np.ones(4, np.float32)
    declined = [(np.ones((2, 8), np.float32), w, b), (x, w.astype(np.float64), b), (x, w, b.astype(np.float64)),
                (x, w, b[:3]), (x, np.ones((8, 4), np.float32).T, b), (np.ones((1, 16), np.float32)[:, ::2], w, b),
                (x.astype(np.int32), w.astype(np.int32), None), (x, np.ones((4, 9), np.float32), b),
                (np.ones((1, 1, 8), np.float32), w, b), (np.ones((1, 1024), np.float32), np.ones((2048, 1024), np.float32),
                                                        None)]
    for args in declined:
        assert fn(*args) is None


@pytest.mark.parametrize("shape", [(1, 784), (784,)])
def test_batch_one_linear_takes_the_row_kernel(torch, monkeypatch, shape):
    """Batch 1 (inference's per-call case) goes to _linear_vec on the compiled backend: values
    and gradients as torch's; batch 2 does not."""
    calls = []
    fn = getattr(nn_ops.K, "_linear_vec", None)
    if fn is not None:
        monkeypatch.setattr(nn_ops, "_linear_vec", lambda *a: calls.append(1) or fn(*a))
    x, w, b = _xwb(np.float32, 1, 784, 100)
    x = x.reshape(shape)
    tx, tw, tb = (fastgrad.tensor(a, requires_grad=True) for a in (x, w, b))
    y = fastgrad.nn.functional.linear(tx, tw, tb)
    assert len(calls) == (fn is not None)
    rx, rw, rb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ry = torch.nn.functional.linear(rx, rw, rb)
    np.testing.assert_allclose(y.detach().numpy(), ry.detach().numpy(), rtol=1e-5, atol=1e-5)
    (y * y).sum().backward()
    (ry * ry).sum().backward()
    for a, r in [(tx, rx), (tw, rw), (tb, rb)]:
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=1e-5, atol=1e-5)
    fastgrad.nn.functional.linear(fastgrad.tensor(np.ones((2, 784), np.float32)), tw, tb)
    assert len(calls) == (fn is not None)
