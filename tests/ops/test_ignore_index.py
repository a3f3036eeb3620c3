"""Correctness class 2: a target equal to ignore_index contributes nothing. nll_loss of the
log_softmax of a row that is fully masked (all -inf, so its log-probabilities are NaN) is torch's
value when that row is ignored: mean, sum and none reductions, class weights, (N, C, d1, ...)
inputs, any ignore_index; the ignored rows add exactly 0 to the value and to the gradient of the
log-probabilities (the gradient of the logits is NaN there in both libraries: log_softmax's own
backward of an all -inf row)."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import fastgrad  # noqa: E402
from compare import compare, run  # noqa: E402


@st.composite
def cases(draw):
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    ignore_index = draw(st.sampled_from([-100, 0, c - 1, 7, -1]))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    weighted = draw(st.booleans())
    dtype = draw(st.sampled_from(["float32", "float64"]))
    seed = draw(st.integers(0, 2 ** 16))
    rs = np.random.RandomState(seed)
    x = rs.standard_normal((n, c) + spatial)
    classes = [k for k in range(c) if k != ignore_index] or [None]
    target = rs.choice([k for k in classes if k is not None] or [ignore_index], size=(n,) + spatial)
    ignored = rs.rand(*((n,) + spatial)) < 0.4
    target = np.where(ignored, ignore_index, target).astype(np.int64)
    ignored = target == ignore_index
    xm = np.moveaxis(x, 1, -1)  # (n, *spatial, c) view: mask whole class vectors
    xm[ignored] = -np.inf  # the ignored positions are fully masked
    partial = (rs.rand(*xm.shape) < 0.2) & ~ignored[..., None]
    xm[partial] = -np.inf  # a few -inf among the kept rows too (a kept row may get an inf loss)
    weight = rs.uniform(0.5, 2.0, c) if weighted else None
    return x, target, weight, ignore_index, reduction, dtype


def _loss(lib, logp, target, weight, ignore_index, reduction, module):
    if module:
        return lib.nn.NLLLoss(weight=weight, ignore_index=ignore_index, reduction=reduction)(logp, target)
    return lib.nn.functional.nll_loss(logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases(), st.booleans())
def test_nll_loss_of_log_softmax_ignores_masked_rows(torch, case, module):
    x, target, weight, ignore_index, reduction, dtype = case

    def fn(L, x, t):
        w = None if weight is None else L.tensor(weight.astype(dtype))
        return _loss(L, L.log_softmax(x, 1), t, w, ignore_index, reduction, module)

    compare(torch, fn, [x, target], dtype, what="nll_loss(log_softmax) %s" % reduction)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases())
def test_ignored_rows_add_exactly_zero(torch, case):
    """With the log-probabilities themselves as the leaf: the value is that of the kept rows alone,
    and the ignored rows' gradient is exactly 0."""
    x, target, weight, ignore_index, reduction, dtype = case
    with np.errstate(all="ignore"):
        logp = np.asarray(torch.log_softmax(torch.tensor(x), 1).numpy())

    def fn(L, lp, t):
        w = None if weight is None else L.tensor(weight.astype(dtype))
        return _loss(L, lp, t, w, ignore_index, reduction, False)

    compare(torch, fn, [logp, target], dtype, what="nll_loss %s" % reduction)
    vals, grads = run(fastgrad, fn, [logp, target], dtype)
    ignored = target == ignore_index
    g = np.moveaxis(grads[0], 1, -1)
    assert np.all(g[ignored] == 0), "an ignored row has a nonzero gradient"
    if reduction == "none":
        assert np.all(vals[0][ignored] == 0) and not np.any(np.signbit(vals[0][ignored]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_all_targets_ignored(torch, reduction):
    x = np.full((3, 4), -np.inf)
    target = np.full(3, -100, np.int64)
    compare(torch, lambda L, x, t: L.nn.functional.nll_loss(L.log_softmax(x, 1), t, reduction=reduction),
            [x, target], "float32", what="all ignored")
