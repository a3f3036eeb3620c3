"""torch.signal.windows.* and torch.*_window against torch: values, dtypes, errors."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")

WINDOWS = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "hamming", "hann", "kaiser", "nuttall"]
LENGTHS = [0, 1, 2, 3, 5, 8, 11]


def _same(a, b, atol=1e-6):
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=atol)


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_window_matches_torch(name, sym, dtype):
    for M in LENGTHS:
        a = getattr(fastgrad.signal.windows, name)(M, sym=sym, dtype=getattr(fastgrad, dtype))
        b = getattr(torch.signal.windows, name)(M, sym=sym, dtype=getattr(torch, dtype))
        _same(a, b)


@pytest.mark.parametrize("name,kwargs", [
    ("exponential", {"tau": 0.5}), ("exponential", {"tau": 3.0, "center": 2.0, "sym": False}),
    ("gaussian", {"std": 0.4}), ("gaussian", {"std": 3.0, "sym": False}),
    ("kaiser", {"beta": 0.0}), ("kaiser", {"beta": 4.5, "sym": False}),
    ("general_cosine", {"a": [0.46, 0.23, 0.31]}), ("general_cosine", {"a": (1.0,), "sym": False}),
    ("general_hamming", {"alpha": 0.6}), ("general_hamming", {"alpha": 0.3, "sym": False}),
])
def test_window_arguments(name, kwargs):
    for M in LENGTHS:
        _same(getattr(fastgrad.signal.windows, name)(M, **kwargs), getattr(torch.signal.windows, name)(M, **kwargs))


def test_window_default_dtype_and_requires_grad():
    w = fastgrad.signal.windows.hann(6, requires_grad=True)
    assert w.dtype == fastgrad.float32 and w.requires_grad
    fastgrad.set_default_dtype(fastgrad.float64)
    try:
        assert fastgrad.signal.windows.kaiser(4).dtype == fastgrad.float64
        assert fastgrad.hann_window(4).dtype == fastgrad.float64
    finally:
        fastgrad.set_default_dtype(fastgrad.float32)


@pytest.mark.parametrize("call", [
    lambda m: m.signal.windows.hann(-1), lambda m: m.signal.windows.hann(4, dtype=m.int64),
    lambda m: m.signal.windows.blackman(4, dtype=m.int32), lambda m: m.signal.windows.gaussian(4, std=0),
    lambda m: m.signal.windows.exponential(4, tau=-1.0), lambda m: m.signal.windows.exponential(4, center=1.0),
    lambda m: m.signal.windows.kaiser(4, beta=-1.0), lambda m: m.signal.windows.general_cosine(4, a=[]),
    lambda m: m.signal.windows.general_cosine(4, a=3.0),
    lambda m: m.hann_window(-1), lambda m: m.kaiser_window(3, dtype=m.int64),
])
def test_window_errors(call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(want.type) as got:
        call(fastgrad)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "bartlett_window", "blackman_window",
                                  "kaiser_window"])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_legacy_window_matches_torch(name, periodic, dtype):
    for n in LENGTHS:
        a = getattr(fastgrad, name)(n, periodic, dtype=getattr(fastgrad, dtype))
        b = getattr(torch, name)(n, periodic, dtype=getattr(torch, dtype))
        _same(a, b)


def test_legacy_window_parameters():
    _same(fastgrad.hamming_window(9, False, 0.6, 0.3), torch.hamming_window(9, False, 0.6, 0.3))
    _same(fastgrad.kaiser_window(9, True, 3.5), torch.kaiser_window(9, True, 3.5))
    _same(fastgrad.kaiser_window(8, True, 0.0), torch.kaiser_window(8, True, 0.0))
    w = fastgrad.hann_window(5, requires_grad=True)
    assert w.requires_grad and w.is_leaf
