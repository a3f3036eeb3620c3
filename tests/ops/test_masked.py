"""fastgrad.masked against torch.masked: every OpInfo sample of masked.* (values, dtypes, gradients;
float32, float64 and the integer dtypes each op takes), forward-mode derivatives (float64
gradcheck with jvp), fully masked-out rows, dtype=, broadcast masks and torch's errors."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import gradcheck

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")
from test_math_more import _both, opdb_agree  # noqa: E402  (the OpInfo adapter)

MASKED = ["sum", "prod", "cumsum", "cumprod", "amax", "amin", "argmax", "argmin", "mean", "median", "norm", "var",
          "std", "softmax", "log_softmax", "softmin", "normalize", "logaddexp", "logsumexp"]


@pytest.mark.parametrize("name", MASKED)
def test_opdb_samples_agree(name):
    opdb_agree("masked." + name, dtypes=(torch.float32, torch.float64, torch.int64, torch.int16, torch.uint8))


def test_namespace():
    assert sorted(fastgrad.masked.__all__) == sorted(MASKED)
    assert fastgrad.masked._ops.logaddexp is fastgrad.masked.logaddexp


R = np.random.default_rng(7)
M = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])


def _t(a):
    return fastgrad.tensor(np.asarray(a, np.float64), requires_grad=True)


def _m(a=M):
    return fastgrad.tensor(a)


X = R.normal(size=(3, 4))
JVP = {
    "sum": lambda x: fastgrad.masked.sum(x, 1, mask=_m()),
    "prod": lambda x: fastgrad.masked.prod(x, 0, keepdim=True, mask=_m()),
    "cumsum": lambda x: fastgrad.masked.cumsum(x, 1, mask=_m()),
    "cumprod": lambda x: fastgrad.masked.cumprod(x, 1, mask=_m()),
    "amax": lambda x: fastgrad.masked.amax(x, 0, mask=_m()),
    "amin": lambda x: fastgrad.masked.amin(x, (0, 1), mask=_m()),
    "mean": lambda x: fastgrad.masked.mean(x, 0, mask=_m()),
    "median": lambda x: fastgrad.masked.median(x, 0, mask=_m()),
    "norm": lambda x: fastgrad.masked.norm(x, 3.0, 0, mask=_m()),
    "norm_inf": lambda x: fastgrad.masked.norm(x, float("inf"), 0, mask=_m()),
    "var": lambda x: fastgrad.masked.var(x, 1, mask=_m(M[[0, 2, 2]])),
    "var_0": lambda x: fastgrad.masked.var(x, 0, correction=0, mask=_m()),
    "std": lambda x: fastgrad.masked.std(x, 1, correction=0, mask=_m(np.array([True, True, False, True]))),
    "softmax": lambda x: fastgrad.masked.softmax(x, 0, mask=_m()),
    "log_softmax": lambda x: fastgrad.where(_m(), fastgrad.masked.log_softmax(x, 0, mask=_m()), 0.0),
    "softmin": lambda x: fastgrad.masked.softmin(x, 0, mask=_m()),
    "normalize": lambda x: fastgrad.masked.normalize(x, 2.0, 1, mask=_m()),
    "logsumexp": lambda x: fastgrad.masked.logsumexp(x, 0, mask=_m()),
    "logaddexp": lambda x: fastgrad.masked.logaddexp(x, x * 0.5, input_mask=_m(), other_mask=_m(~M)),
}


@pytest.mark.parametrize("name", sorted(JVP))
def test_gradcheck_and_jvp(name):
    assert gradcheck(JVP[name], [_t(X)], check_forward_ad=True)


def _x(L, dtype=None):
    return L.tensor(X, dtype=dtype or L.float32)


def _mk(L, m=M):
    return L.tensor(m)


EDGE = {
    # fully masked-out rows: the identity, nan, or an index into the identity
    "sum_rows": lambda L: L.masked.sum(_x(L), 1, mask=_mk(L)),
    "amax_rows": lambda L: L.masked.amax(_x(L), 1, mask=_mk(L)),
    "amin_rows": lambda L: L.masked.amin(_x(L), 1, mask=_mk(L)),
    "argmax_rows": lambda L: L.masked.argmax(_x(L), 1, mask=_mk(L)),
    "argmin_rows_long": lambda L: L.masked.argmin(_x(L), 1, dtype=L.int64, mask=_mk(L)),
    "mean_rows": lambda L: L.masked.mean(_x(L), 1, mask=_mk(L)),
    "median_rows": lambda L: L.masked.median(_x(L), 1, mask=_mk(L)),
    "var_rows": lambda L: L.masked.var(_x(L), 1, mask=_mk(L)),
    "std_rows_unbiased": lambda L: L.masked.std(_x(L), 1, False, mask=_mk(L)),
    "norm_rows": lambda L: L.masked.norm(_x(L), 2.0, 1, mask=_mk(L)),
    "norm_ninf_rows": lambda L: L.masked.norm(_x(L), -float("inf"), 1, mask=_mk(L)),
    "norm_0": lambda L: L.masked.norm(_x(L), 0, 1, mask=_mk(L)),
    "prod_rows": lambda L: L.masked.prod(_x(L), 1, mask=_mk(L)),
    "softmax_rows": lambda L: L.masked.softmax(_x(L), 1, mask=_mk(L)),
    "log_softmax_rows": lambda L: L.masked.log_softmax(_x(L), 1, mask=_mk(L)),
    "softmin_rows": lambda L: L.masked.softmin(_x(L), 1, mask=_mk(L)),
    "normalize_rows": lambda L: L.masked.normalize(_x(L), 1.0, 1, mask=_mk(L)),
    "logsumexp_rows": lambda L: L.masked.logsumexp(_x(L), 1, mask=_mk(L)),
    "cumsum_rows": lambda L: L.masked.cumsum(_x(L), 1, mask=_mk(L)),
    "logaddexp_masks": lambda L: L.masked.logaddexp(L.tensor([-100.0, -200, -300]), L.tensor([-1.0, -2, -3]),
                                                    input_mask=L.tensor([True, False, True]),
                                                    other_mask=L.tensor([True, False, True])),
    # dtypes
    "sum_int": lambda L: L.masked.sum(L.tensor([[1, 2], [3, 4]], dtype=L.int8), 0, mask=L.tensor([True, False])),
    "sum_bool": lambda L: L.masked.sum(L.tensor([True, True, False]), mask=L.tensor([True, False, True])),
    "sum_dtype": lambda L: L.masked.sum(_x(L), 1, dtype=L.float64, mask=_mk(L)),
    "prod_int32": lambda L: L.masked.prod(L.tensor([[1, 2], [3, 4]], dtype=L.int32), mask=L.tensor([True, False])),
    "prod_dims": lambda L: L.masked.prod(_x(L), (0, 1), keepdim=True, mask=_mk(L)),
    "prod_empty_dims": lambda L: L.masked.prod(_x(L), [], mask=_mk(L)),
    "amax_int": lambda L: L.masked.amax(L.tensor([[1, 2], [3, 4]], dtype=L.int16), 1, mask=L.tensor([False, False])),
    "argmax_int": lambda L: L.masked.argmax(L.tensor([[1, 2], [3, 4]]), 1, mask=L.tensor([True, False])),
    "mean_int": lambda L: L.masked.mean(L.tensor([1, 2]), mask=L.tensor([True, False])),
    "mean_int_dtype": lambda L: L.masked.mean(L.tensor([1, 2]), dtype=L.float64, mask=L.tensor([True, False])),
    "median_int": lambda L: L.masked.median(L.tensor([[1, 2, 7], [3, 4, 0]]), mask=L.tensor([True, False, True])),
    "median_int_rows": lambda L: L.masked.median(L.tensor([[1, 2], [3, 4]]), mask=L.tensor([False, False])),
    "var_int": lambda L: L.masked.var(L.tensor([[1, 2, 7], [3, 4, 0]]), 1, mask=L.tensor([True, False, True])),
    "var_correction": lambda L: L.masked.var(_x(L), 1, correction=2, keepdim=True, mask=_mk(L)),
    "var_both": lambda L: L.masked.var(_x(L), 1, True, correction=1, mask=_mk(L)),
    "softmax_dtype": lambda L: L.masked.softmax(_x(L), -1, dtype=L.float64, mask=_mk(L)),
    "cumprod_dtype": lambda L: L.masked.cumprod(L.tensor([1, 2, 3]), 0, dtype=L.float32, mask=L.tensor([1, 0, 1])),
    # masks and dims
    "mask_broadcast": lambda L: L.masked.sum(L.ones(2, 3, 4), (0, 2), mask=L.tensor([True, False, True, True])),
    "mask_int_dtype": lambda L: L.masked.amax(_x(L), 0, mask=L.tensor(M.astype(np.int64))),
    "mask_higher_dim": lambda L: L.masked.sum(L.ones(3), mask=L.ones(2, 3, dtype=L.bool)),
    "mask_not_broadcastable": lambda L: L.masked.sum(L.ones(3), mask=L.ones(2, dtype=L.bool)),
    "dim_twice": lambda L: L.masked.sum(_x(L), (1, 1), mask=_mk(L)),
    "dim_out_of_range": lambda L: L.masked.amax(_x(L), 2, mask=_mk(L)),
    "sum_0d": lambda L: L.masked.sum(L.tensor(2.0), 0, keepdim=True, mask=L.tensor(False)),
    "mean_0d": lambda L: L.masked.mean(L.tensor(2.0), -1, mask=L.tensor(True)),
    "sum_empty": lambda L: L.masked.sum(L.zeros(0, 3), 0, mask=L.zeros(0, 3, dtype=L.bool)),
    "amax_empty": lambda L: L.masked.amax(L.zeros(0, 3), 0, mask=L.zeros(0, 3, dtype=L.bool)),
    "no_mask": lambda L: [getattr(L.masked, n)(_x(L), 1) for n in ("sum", "mean", "var", "amax", "softmax")],
}


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_cases_and_errors(name):
    _both(EDGE[name])


def test_gradient_is_zero_at_masked_out_elements():
    for L in (torch, fastgrad):
        x = L.tensor(X, requires_grad=True)
        y = L.masked.softmax(x, 1, mask=L.tensor(M))
        L.nan_to_num(y).sum().backward()
        g = x.grad.numpy() if L is fastgrad else x.grad.numpy()
        if L is torch:
            tg = g
    assert np.allclose(g, tg, equal_nan=True) and not np.any(g[~M])
