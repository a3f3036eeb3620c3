"""Correctness class 8: every pooling checks its geometry as PyTorch does. Whenever torch raises
(output size below 1: `Output size is too small`; an empty channel or spatial dim; zero stride,
negative or too large padding, non-positive kernel or dilation, wrong rank) fastgrad raises the
same error type with the same message; otherwise the outputs (max_pool2d's indices too, with NaN and -inf in the input) and input
gradients agree."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from compare import compare  # noqa: E402
import fastgrad  # noqa: E402

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _result(fn, lib):
    try:
        return fn(lib), None
    except Exception as e:  # noqa: BLE001  (the error is the result being compared)
        return None, e


def _check(torch, fn, x):
    """The same error as torch, or the same values and gradients."""
    _, terr = _result(lambda L: fn(L, L.tensor(x)), torch)
    _, ferr = _result(lambda L: fn(L, L.tensor(x)), fastgrad)
    if terr is not None:
        assert ferr is not None, "torch raises %r, fastgrad does not" % terr
        assert type(ferr).__name__ == type(terr).__name__ and str(ferr) == str(terr), (ferr, terr)
        return
    assert ferr is None, "fastgrad raises %r, torch does not" % ferr
    compare(torch, fn, [x], "float64", what="pooling")


def _tuple_or_int(draw, lo, hi):
    return draw(st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi))))


@st.composite
def geometry(draw, dilation):
    rank = draw(st.sampled_from([3, 4, 4, 4] + ([2, 5] if draw(st.booleans()) else [])))
    shape = tuple(draw(st.integers(0, 2)) if i == 0 and rank == 4 else draw(st.integers(0 if i else 1, 6))
                  for i in range(rank))
    kw = {"kernel_size": _tuple_or_int(draw, 0, 5)}
    if draw(st.booleans()):
        kw["stride"] = _tuple_or_int(draw, 0, 3)
    if draw(st.booleans()):
        kw["padding"] = _tuple_or_int(draw, -1, 2)
    if dilation and draw(st.booleans()):
        kw["dilation"] = _tuple_or_int(draw, 0, 3)
    kw["ceil_mode"] = draw(st.booleans())
    rs = np.random.RandomState(draw(st.integers(0, 999)))
    x = rs.standard_normal(shape)
    if draw(st.booleans()):  # NaN and -inf: torch takes a window's last NaN, and its first cell if all -inf
        x[rs.rand(*shape) < 0.2] = np.nan
        x[rs.rand(*shape) < 0.3] = -np.inf
    return x, kw


@SETTINGS
@given(geometry(dilation=True), st.booleans())
def test_max_pool2d_geometry(torch, case, return_indices):
    x, kw = case
    fn = lambda L, t: L.nn.functional.max_pool2d(t, return_indices=return_indices, **kw)  # noqa: E731
    if _padding_only_window(torch, x, kw):
        _check_padding_only(torch, fn, x, kw)
        return
    _check(torch, fn, x)


def _padding_only_window(torch, x, kw):
    """A window that holds padding only: torch's index for it lies outside the plane, and its
    backward writes the gradient there (out of bounds: heap corruption, an abort at times)."""
    try:
        _, i = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    except Exception:  # noqa: BLE001
        return False
    plane = x.shape[-1] * x.shape[-2]
    return bool(((i < 0) | (i >= plane)).any())


def _check_padding_only(torch, fn, x, kw):
    """Outputs (and indices) against torch's forward; the gradient against the closed form from
    torch's indices: each output's weight added at its index when that lies inside the plane."""
    compare(torch, fn, [x], "float64", grad=False, what="pooling")
    t = fastgrad.tensor(x, requires_grad=True)
    y = fastgrad.nn.functional.max_pool2d(t, **kw)
    w = np.random.RandomState(0).uniform(0.5, 1.5, tuple(y.shape))
    (g,) = fastgrad.autograd.grad((y * fastgrad.tensor(w)).sum(), [t])
    _, i = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    i = i.numpy().reshape(-1, int(np.prod(i.shape[-2:])))
    plane = x.shape[-1] * x.shape[-2]
    want = np.zeros((i.shape[0], plane))
    for r in range(i.shape[0]):
        for k, j in enumerate(i[r]):
            if 0 <= j < plane:
                want[r, j] += w.reshape(i.shape)[r, k]
    np.testing.assert_allclose(g.numpy().reshape(want.shape), want, rtol=1e-12)


@SETTINGS
@given(geometry(dilation=False), st.booleans())
def test_avg_pool2d_geometry(torch, case, count_include_pad):
    x, kw = case
    _check(torch, lambda L, t: L.nn.functional.avg_pool2d(t, count_include_pad=count_include_pad, **kw), x)


@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("shape, kernel", [((1, 2, 3, 3), 4), ((2, 5, 2), (2, 3)), ((1, 1, 1, 4), 2)])
def test_modules_output_size_too_small(torch, name, shape, kernel):
    x = np.zeros(shape)
    with pytest.raises(RuntimeError) as t:
        getattr(torch.nn, name)(kernel)(torch.tensor(x))
    assert "Output size is too small" in str(t.value)
    with pytest.raises(RuntimeError) as f:
        getattr(fastgrad.nn, name)(kernel)(fastgrad.tensor(x))
    assert str(f.value) == str(t.value)
