"""Forward mode and higher-order derivatives of every differentiable op in tests/ops/op_db.py.

For every differentiable entry and sample (float64):

* forward-mode jvp (fastgrad.autograd.forward_ad, all inputs carrying a tangent at once) against
  central finite differences, with no backward pass allowed while the tangents are computed
  (a jvp rule must not be the double-vjp trick);
* gradgradcheck: second derivatives by reverse over reverse (full Jacobians) and by forward over
  reverse (fast mode), against finite differences;
* for the elementwise unary/binary ops, the third derivative: gradcheck (full) and gradgradcheck
  (fast mode) of the function x -> d/dx sum(w * f(x)), which check f'' and f''' numerically, and
  the first three derivatives against PyTorch's (exactly, to 1e-7); for every other op, the third
  derivative in fast mode (gradients of any order work).

Tolerances are PyTorch's gradcheck defaults (atol=1e-5, rtol=1e-3) or the entry's own gc_atol and
gc_rtol. Ops that are not differentiable (comparisons, argmax, ...) are the op_db entries marked
``differentiable=False``; piecewise-constant ops (floor, ceil, round, trunc, sign) have a zero
derivative, as in PyTorch, and are checked as such away from their jumps. A few built-in ops
that op_db does not reach (conv, pooling, normalization layers) get samples here.
"""
import inspect
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "ops"))

import fastgrad  # noqa: E402
from fastgrad._backend import engine  # noqa: E402
from fastgrad.autograd import forward_ad as fwAD  # noqa: E402
from fastgrad.autograd import grad, gradcheck, gradgradcheck  # noqa: E402
from harness import diff_fn, flatten, is_fastgrad, make_inputs  # noqa: E402
from op_db import _UNARY, B, I, OpInfo, Sample, U, away, iter_cases  # noqa: E402
from op_db import distinct as _distinct  # noqa: E402

_rs = np.random.RandomState(77)


def _F(L):
    return L.nn.functional


# Built-in ops that op_db does not exercise (Conv2d, MaxPool2d, AvgPool2d, Normalize).
EXTRA = [
    OpInfo("F.conv2d", lambda L, x, w, *b, **k: _F(L).conv2d(x, w, *b, **k), lambda: [
        Sample(U(1, 2, 4, 4), U(3, 2, 2, 2), U(3)),
        Sample(U(2, 2, 5, 4), U(2, 1, 3, 2), stride=2, padding=1, groups=2),
        Sample(U(1, 1, 5, 5), U(2, 1, 2, 2), dilation=2)]),
    OpInfo("F.conv1d", lambda L, x, w, *b: _F(L).conv1d(x, w, *b), lambda: [Sample(U(2, 2, 5), U(3, 2, 2), U(3))]),
    OpInfo("F.max_pool2d", lambda L, x, *a, **k: _F(L).max_pool2d(x, *a, **k), lambda: [
        Sample(_rs.permutation(32).reshape(1, 2, 4, 4) * 0.1, 2),
        Sample(_rs.permutation(25).reshape(1, 1, 5, 5) * 0.1, 3, stride=2, padding=1, ceil_mode=True)]),
    OpInfo("F.avg_pool2d", lambda L, x, *a, **k: _F(L).avg_pool2d(x, *a, **k), lambda: [
        Sample(U(1, 2, 4, 4), 2), Sample(U(1, 1, 5, 5), 3, stride=2, padding=1, count_include_pad=False),
        Sample(U(1, 1, 5, 4), 2, ceil_mode=True)]),
    OpInfo("F.layer_norm", lambda L, x, s, *wb: _F(L).layer_norm(x, s, *wb), lambda: [
        Sample(U(3, 4), (4,)), Sample(U(2, 2, 3), (2, 3), U(2, 3), U(2, 3))]),
    OpInfo("F.batch_norm_train", lambda L, x, *wb: _F(L).batch_norm(x, None, None, *wb, training=True), lambda: [
        Sample(U(4, 3)), Sample(U(2, 3, 2), U(3), U(3))]),
    # public functions op_db does not list (composites of other ops, or ops of their own)
    OpInfo("addbmm", lambda L, c, a, b: L.addbmm(c, a, b, beta=0.5, alpha=2.0), lambda: [
        Sample(U(2, 2), U(3, 2, 4), U(3, 4, 2))]),
    OpInfo("addr", lambda L, c, a, b: L.addr(c, a, b), lambda: [Sample(U(3, 2), U(3), U(2))]),
    OpInfo("inner_vdot", lambda L, a, b: (L.inner(a[0], b[0]), L.vdot(a[0], b[1])), lambda: [Sample(U(2, 3), U(2, 3))]),
    OpInfo("aminmax", lambda L, x: L.aminmax(x, dim=1), lambda: [Sample(_distinct(3, 4))]),
    OpInfo("cummin", lambda L, x: L.cummin(x, 1), lambda: [Sample(_distinct(3, 4))]),
    OpInfo("copysign", lambda L, a, b: L.copysign(a, b), lambda: [Sample(away(3, 4), away(3, 4))]),
    OpInfo("index_copy", lambda L, x, i, s: L.index_copy(x, 0, i, s), lambda: [Sample(U(4, 3), I([2, 0]), U(2, 3))]),
    OpInfo("index_fill", lambda L, x, i: L.index_fill(x, 1, i, -0.5), lambda: [Sample(U(3, 4), I([3, 0]))]),
    OpInfo("masked_scatter", lambda L, x, m, s: L.masked_scatter(x, m, s), lambda: [
        Sample(U(2, 3), B([[True, False, True], [False, True, False]]), U(2, 3))]),
    OpInfo("shape_ops", lambda L, x: (x.transpose(0, 2), x.permute(1, 2, 0), x[:, :1].squeeze(1), x.expand(2, 2, 3, 2),
                                      L.swapdims(x, 0, 1), L.moveaxis(x, 0, 2)), lambda: [Sample(U(2, 3, 2))]),
    OpInfo("pinverse", lambda L, a: L.pinverse(a), lambda: [Sample(U(4, 2))]),
    OpInfo("F.bilinear", lambda L, a, b, w, c: _F(L).bilinear(a, b, w, c), lambda: [
        Sample(U(2, 3), U(2, 2), U(4, 3, 2), U(4))]),
    OpInfo("F.hinge_embedding_loss", lambda L, x, t: _F(L).hinge_embedding_loss(x, t, margin=0.8), lambda: [
        Sample(U(5), np.array([1.0, -1.0, 1.0, -1.0, -1.0]), nograd=(1,))]),
]

_UNARY_NAMES = {n for n, _ in _UNARY} | {n + "_method" for n, _ in _UNARY}
_BINARY_NAMES = {"add", "add_alpha", "sub", "rsub_scalar", "mul", "div", "true_divide", "rdiv_scalar", "pow_tensor",
                 "pow_scalar", "pow_frac", "rpow", "atan2", "maximum", "minimum", "lerp_scalar", "lerp_tensor",
                 "hypot", "xlogy", "logaddexp", "where", "where_scalar", "clamp", "clamp_min", "clamp_max_clip",
                 "clamp_tensor", "nan_to_num_finite", "max_binary"}
_ACTIVATIONS = {"F.relu", "F.leaky_relu", "F.elu", "F.selu", "F.celu", "F.gelu", "F.silu", "F.softplus",
                "F.softsign", "F.hardtanh", "F.relu6", "F.hardsigmoid", "F.hardswish", "F.logsigmoid", "F.mish",
                "F.tanhshrink", "F.sigmoid", "F.tanh", "F.softshrink", "F.hardshrink", "F.threshold",
                "F.leaky_relu_slope", "F.elu_alpha", "F.gelu_tanh", "F.softplus_beta", "F.prelu"}
ELEMENTWISE = _UNARY_NAMES | _BINARY_NAMES | _ACTIVATIONS

# Samples at a point where the op is differentiable once but not twice (not a fastgrad limitation).
NOT_TWICE_DIFFERENTIABLE = {
    ("norm_fro", 2): "the 2-norm at the origin has an unbounded second derivative",
}


def _cases():
    out = []
    for entry, idx, sample in list(iter_cases(lambda e: e.differentiable and e.gradcheck)) + [
            (e, i, s) for e in EXTRA for i, s in enumerate(e.samples())]:
        if sample.has_empty():
            continue
        if not any(a.dtype.kind == "f" and k not in sample.nograd for k, a in enumerate(sample.args)
                   if isinstance(a, np.ndarray)):
            continue
        out.append(pytest.param(entry, idx, sample, id="%s-%d" % (entry.name, idx)))
    return out


CASES = _cases()
ELEMENTWISE_CASES = [c for c in CASES if c.values[0].name in ELEMENTWISE]
OTHER_CASES = [c for c in CASES if c.values[0].name not in ELEMENTWISE]


def _setup(entry, sample):
    """(fn of the differentiable tensors -> tuple of float outputs, the float64 leaves)."""
    return diff_fn(entry, sample, floats_only=True)


def _no_backward(*a, **k):
    raise AssertionError("a backward pass ran while computing a forward-mode jvp")


# --------------------------------------------------------------------------- (a) jvp vs finite differences
@pytest.mark.parametrize("entry, idx, sample", CASES)
def test_jvp_matches_finite_differences(entry, idx, sample, monkeypatch):
    fn, xs = _setup(entry, sample)
    rs = np.random.RandomState(idx)
    us = [rs.standard_normal(x.shape) for x in xs]
    with fastgrad.no_grad():
        plain = [o.numpy().copy() for o in fn(*xs)]
    monkeypatch.setattr(engine, "run_backward", _no_backward)
    with fwAD.dual_level():
        duals = [fwAD.make_dual(x.detach(), fastgrad.from_numpy(u.copy())) for x, u in zip(xs, us)]
        outs = fn(*duals)
        primals = [fwAD.unpack_dual(o).primal.numpy().copy() for o in outs]
        tangents = [fwAD.unpack_dual(o).tangent for o in outs]
        tangents = [np.zeros(o.shape) if t is None else t.numpy().copy() for o, t in zip(outs, tangents)]
    monkeypatch.undo()
    for k, (p, q) in enumerate(zip(primals, plain)):
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=0, err_msg="%s: primal of output %d" % (entry.name, k))
    eps = entry.eps
    datas = [x.detach().numpy() for x in xs]
    orig = [d.copy() for d in datas]
    for d, o, u in zip(datas, orig, us):
        d[...] = o + eps * u
    with fastgrad.no_grad():
        plus = [o.numpy().astype(np.float64) for o in fn(*xs)]
    for d, o, u in zip(datas, orig, us):
        d[...] = o - eps * u
    with fastgrad.no_grad():
        minus = [o.numpy().astype(np.float64) for o in fn(*xs)]
    for d, o in zip(datas, orig):
        d[...] = o
    for k, (t, a, b) in enumerate(zip(tangents, plus, minus)):
        np.testing.assert_allclose(t, (a - b) / (2 * eps), rtol=entry.gc_rtol, atol=entry.gc_atol,
                                   err_msg="%s: jvp of output %d vs finite differences" % (entry.name, k))


# --------------------------------------------------------------------------- (b) second derivatives
def _skip_if_not_twice_differentiable(entry, idx):
    why = NOT_TWICE_DIFFERENTIABLE.get((entry.name, idx))
    if why:
        pytest.skip(why)


@pytest.mark.parametrize("entry, idx, sample", CASES)
def test_gradgradcheck(entry, idx, sample):
    _skip_if_not_twice_differentiable(entry, idx)
    fn, xs = _setup(entry, sample)
    assert gradgradcheck(fn, xs, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol)


@pytest.mark.parametrize("entry, idx, sample", CASES)
def test_gradgradcheck_forward_over_reverse(entry, idx, sample):
    _skip_if_not_twice_differentiable(entry, idx)
    fn, xs = _setup(entry, sample)
    assert gradgradcheck(fn, xs, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol, check_fwd_over_rev=True,
                         check_rev_over_rev=False, fast_mode=True)


# --------------------------------------------------------------------------- (c) third derivatives
def _first_derivative(fn, xs, seed):
    """x -> d/dx sum_k w_k * out_k(x), with fixed random weights w (create_graph=True)."""
    rs = np.random.RandomState(seed)
    ws = [fastgrad.from_numpy(rs.standard_normal(o.shape)) for o in fn(*xs)]

    def first(*ts):
        outs = fn(*ts)
        total = sum((o * w).sum() for o, w in zip(outs, ws))
        return grad(total, ts, create_graph=True, materialize_grads=True)

    return first


@pytest.mark.parametrize("entry, idx, sample", ELEMENTWISE_CASES)
def test_third_derivative_by_finite_differences(entry, idx, sample):
    fn, xs = _setup(entry, sample)
    first = _first_derivative(fn, xs, idx)
    # gradcheck of the first derivative checks f''; it also fails when the first derivative carries no
    # graph at all (a backward written in raw NumPy), where gradgradcheck alone would have nothing to check
    assert gradcheck(first, xs, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol)
    # the third derivative in fast mode (v^T J u); the PyTorch comparison below checks each one exactly
    assert gradgradcheck(first, xs, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol, fast_mode=True)


@pytest.mark.parametrize("entry, idx, sample", OTHER_CASES)
def test_third_derivative_fast_mode(entry, idx, sample):
    """Every other op: its double backward is differentiable too (gradients of any order), checked
    in fast mode (v^T J u against finite differences)."""
    _skip_if_not_twice_differentiable(entry, idx)
    fn, xs = _setup(entry, sample)
    first = _first_derivative(fn, xs, idx)
    assert gradcheck(first, xs, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol, fast_mode=True)
    assert gradgradcheck(first, xs, eps=entry.eps, atol=entry.gc_atol, rtol=entry.gc_rtol, fast_mode=True)


def _derivatives(lib, entry, sample, order):
    """The gradients of sum(f), sum(df/dx), sum(d2f/dx2) w.r.t. each input: orders 1..order."""
    args, diff = make_inputs(lib, sample, "float64")
    out = sum(o.sum() for o in flatten(entry.fn(lib, *args, **sample.kwargs)))
    res, cur = [], [out] * len(diff)
    for _ in range(order):
        gs = []
        for c, x in zip(cur, diff):
            g = None
            if c is not None and c.requires_grad:
                (g,) = lib.autograd.grad(c, x, create_graph=True, allow_unused=True)
            gs.append(g)
        res.append([np.zeros(tuple(x.shape)) if g is None else np.array(g.detach().numpy(force=True))
                    for g, x in zip(gs, diff)])
        cur = [None if g is None else g.sum() for g in gs]
    return res


@pytest.mark.parametrize("entry, idx, sample", ELEMENTWISE_CASES)
def test_first_three_derivatives_match_pytorch(entry, idx, sample, torch):
    got = _derivatives(fastgrad, entry, sample, 3)
    try:
        want = _derivatives(torch, entry, sample, 3)
    except RuntimeError as e:  # e.g. "derivative for aten::hardsigmoid_backward is not implemented"
        if "not implemented" not in str(e):
            raise
        pytest.skip("PyTorch has no third derivative here (%s); the finite-difference test covers it" % e)
    for order, (gl, wl) in enumerate(zip(got, want), start=1):
        for k, (g, w) in enumerate(zip(gl, wl)):
            np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9,
                                       err_msg="%s: derivative of order %d, input %d" % (entry.name, order, k))


# --------------------------------------------------------------------------- non-differentiable entries
NONDIFF_CASES = [pytest.param(e, i, s, id="%s-%d" % (e.name, i))
                 for e, i, s in iter_cases(lambda e: not e.differentiable)
                 if any(a.dtype.kind == "f" for a in s.arrays())]


@pytest.mark.parametrize("entry, idx, sample", NONDIFF_CASES)
def test_non_differentiable_outputs_get_no_tangent(entry, idx, sample):
    """Integer and bool results (comparisons, argmax, ...) carry no tangent, like PyTorch."""
    args, diff = make_inputs(fastgrad, sample, "float64", requires_grad=False)
    with fwAD.dual_level():
        full = [fwAD.make_dual(a, fastgrad.ones_like(a)) if is_fastgrad(a) and a.dtype.is_floating_point else a
                for a in args]
        for o in flatten(entry.fn(fastgrad, *full, **sample.kwargs)):
            if is_fastgrad(o) and not o.dtype.is_floating_point:
                assert fwAD.unpack_dual(o).tangent is None


# --------------------------------------------------------------------------- every Op has its own jvp rule
def _op_classes():
    import importlib
    import pkgutil

    import fastgrad._ops as ops_pkg
    from fastgrad._ops.base import Op

    for m in pkgutil.iter_modules(ops_pkg.__path__):
        importlib.import_module("fastgrad._ops." + m.name)
    seen, stack = [], list(Op.__subclasses__())
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.append(c)
            stack.extend(c.__subclasses__())
    return sorted(seen, key=lambda c: (c.__module__, c.__name__))


# Built-in ops whose jvp is still missing (goal: none).
KNOWN_WITHOUT_JVP = set()


def _func(m):
    return getattr(m, "__func__", m)


def test_every_builtin_op_has_its_own_jvp_rule():
    from fastgrad.autograd.function import Function

    missing = [c.__name__ for c in _op_classes() if _func(c.jvp) is _func(Function.jvp)]
    assert sorted(missing) == sorted(KNOWN_WITHOUT_JVP)


def test_no_jvp_rule_uses_the_double_vjp_trick():
    """No generic fallback in the Op base class, and no jvp rule runs a backward pass or calls vjp."""
    from fastgrad._ops.base import Op
    from fastgrad.autograd.function import Function

    assert "jvp" not in Op.__dict__
    src = inspect.getsource(Function.jvp)
    assert "grad(" not in src and "backward(" not in src
    bad = []
    for c in _op_classes():
        j = c.__dict__.get("jvp")
        if j is None:
            continue
        body = inspect.getsource(_func(j))
        if any(s in body for s in ("autograd.grad", "grad(", "run_backward", ".backward(", ".vjp(",
                                   "is_grads_batched")):
            bad.append(c.__name__)
    assert bad == []


_ARRAY_PATH_CASES = {  # op class -> calls that reach it, (lib, float64 inputs) -> a scalar
    "Linear": [lambda L, x, w, b: L.nn.functional.linear(x, w, b).pow(2).sum(),
               lambda L, x, w, b: L.nn.functional.linear(x.reshape(2, 2, 3), w).sin().sum()],
    "CrossEntropy": [
        lambda L, x, w, b: L.nn.functional.cross_entropy(L.nn.functional.linear(x, w, b), _T),
        lambda L, x, w, b: L.nn.functional.cross_entropy(x @ w.T, _T, weight=b.exp(), reduction="sum"),
        lambda L, x, w, b: (L.nn.functional.cross_entropy(x @ w.T, _T, reduction="none",
                                                          ignore_index=1, label_smoothing=0.2) * x[:, 0]).sum()],
    "Exp": [lambda L, x, w, b: (x.exp() * x).sum()],
    "Sigmoid": [lambda L, x, w, b: (x.sigmoid() * x).sum()],
    "Tanh": [lambda L, x, w, b: (x.tanh() * x).sum()],
    "Relu": [lambda L, x, w, b: (x.relu() * x).sum()],
    "Add": [lambda L, x, w, b: ((x + b) * (b + x) + (x + 2.0)).sum()],
    "Sub": [lambda L, x, w, b: ((x - b) * (b - x)).sum(), lambda L, x, w, b: ((x - 2.0) * x).sum()],
    "Mul": [lambda L, x, w, b: (x * b * x).sum(), lambda L, x, w, b: (x * 3.0 * x).sum()],
    "Div": [lambda L, x, w, b: (x / b / x.exp()).sum(), lambda L, x, w, b: ((2.0 / x) * x).sum()],
    "Neg": [lambda L, x, w, b: ((-x) * x).sum()],
    "PowScalar": [lambda L, x, w, b: (x ** 2 * x ** 3 * x ** 0 * x.abs() ** 1.5 * b ** -1).sum()],
    "Sin": [lambda L, x, w, b: (x.sin() * x).sum()],
    "Cos": [lambda L, x, w, b: (x.cos() * x).sum()],
    "Square": [lambda L, x, w, b: (x ** 2 * x.square() * b ** 2.0).sum()],
    "SumAll": [lambda L, x, w, b: (x.sum() * x).sum() + (x * b).sum()],
    "Sum": [lambda L, x, w, b: (x.sum(1, keepdim=True) * x.sum(0, keepdim=True)).sum() + x.sum()],
    "Mean": [lambda L, x, w, b: (x.mean(1, keepdim=True) * x).mean() + x.mean() * x.mean(0).sum()],
    "LSTMStep": [lambda L, x, w, b: _cell_case(L, x, w, b, "lstm", True),
                 lambda L, x, w, b: _cell_case(L, x, w, b, "lstm", False)],
    "LSTMLayer": [lambda L, x, w, b: _layer_case(L, x, w, b, False),
                  lambda L, x, w, b: _layer_case(L, x, w, b, True)],
    "GRUStep": [lambda L, x, w, b: _cell_case(L, x, w, b, "gru", True),
                lambda L, x, w, b: _cell_case(L, x, w, b, "gru", False)],
    "RNNStep": [lambda L, x, w, b: _cell_case(L, x, w, b, "tanh", True),
                lambda L, x, w, b: _cell_case(L, x, w, b, "relu", True)],
    "_Split": [lambda L, x, w, b: _rows_case(L, x, w)],
    "_Join": [lambda L, x, w, b: _rows_case(L, x, w)],
    "_RowGather": [lambda L, x, w, b: _pack_case(L, x)],
    "_RowScatter": [lambda L, x, w, b: _pack_case(L, x)],
    "_Pad": [lambda L, x, w, b: (L.nn.utils.rnn.pad_sequence([x, w, b.reshape(1, 3)]).sin() * 2.0).sum()],
    "SigmoidFloat16": [lambda L, x, w, b: (_half().SigmoidFloat16.apply(x.half()).double() * x).sum()],
    "SigmoidBackwardFloat16": [lambda L, x, w, b: _sigmoid_half_grad_case(L, x)],
}
# Ops whose array backward is a fused kernel (one pass over the gate math or the softmax) while
# the differentiable backward composes ops: the same formulas in another order, so equal to
# float64 rounding (measured: <= 4 ulp), not bit for bit.
_FUSED_ARRAY_PATH_CASES = {
    "NormAffine": [  # batch norm in training and layer norm, fused with their affine maps
        lambda L, x, w, b: (L.nn.functional.batch_norm(x, None, None, w[0], b, training=True) * x.sin()).sum(),
        lambda L, x, w, b: (L.nn.functional.layer_norm(x, (3,), w[1], b) ** 2 * x).sum()],
    "ScaledDotProductAttention": [
        lambda L, x, w, b: (L.nn.functional.scaled_dot_product_attention(
            x[None, None], w[None, None], (w * b)[None, None]) * x).sum(),
        lambda L, x, w, b: (L.nn.functional.scaled_dot_product_attention(
            x[None, None], x[None, None] * 2, x[None, None].sin(), is_causal=True) ** 2).sum()],
    "PackedAttention": [
        lambda L, x, w, b: (_attention().packed_attention(L.stack([x, x * b, x.sin()])[:, None, None]) * x).sum(),
        lambda L, x, w, b: (_attention().packed_attention(L.stack([x, x @ w / 4, x.cos()])[:, None, None],
                                                     is_causal=True) ** 2).sum()],
}


def _cell_case(L, x, w, b, kind, bias):
    """One recurrent step op (fastgrad/_ops/rnn.py) on gate blocks built from x, w, b (H = 3)."""
    from fastgrad._ops import rnn

    k = {"lstm": 4, "gru": 3}.get(kind, 1)
    blocks = [x, x * 0.5, -x, x.sin()][:k]
    gx = L.cat(blocks, 1) if k > 1 else x
    W = L.cat([w, w.T, w * 0.5, -w][:k], 0) if k > 1 else w
    bb = (L.cat([b, -b, b * 2.0, b][:k], 0) if k > 1 else b) if bias else None
    h0 = x.cos()
    if kind == "lstm":
        h, c = rnn.lstm_cell(gx, h0, x * 0.3, W, bb)
        return (h * x).sum() + (c * c).sum()
    out = rnn.gru_cell(gx, h0, W, bb) if kind == "gru" else rnn.rnn_cell(gx, h0, W, bb, kind)
    return (out * x).sum()


def _layer_case(L, x, w, b, reverse):
    """A whole LSTM layer op (2 steps of 2 rows, H = 3), forward or reverse, with a bias."""
    from fastgrad._ops import rnn

    gx = L.cat([x, x * 0.5, -x, x.sin()], 1)
    W = L.cat([w, w.T, w * 0.5, -w], 0)
    out, h, c = rnn.LSTMLayer.apply(gx, x[:2].cos(), x[2:] * 0.3, W, L.cat([b, -b, b * 2.0, b], 0), 2, reverse)
    return (out * x).sum() + (h * c).sum() + (c * c).sum()


def _rows_case(L, x, w):
    from fastgrad._ops import rnn

    parts = [p * q for p, q in zip(rnn.split_rows(x @ w, [1, 3]), rnn.split_rows(x, [1, 3]))]
    return (rnn.join_rows(parts) * x).sum()


def _pack_case(L, x):
    """x as a padded batch (T=4, B=3) of lengths 2, 4, 1: packed and padded back."""
    packed = L.nn.utils.rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    padded, _ = L.nn.utils.rnn.pad_packed_sequence(packed, padding_value=0.5)
    return (padded * x).sum() + (packed.data * packed.data).sum()
_T = None


def _half():
    from fastgrad._ops import half

    return half


def _sigmoid_half_grad_case(L, x):
    """The float16 sigmoid's gradient taken with create_graph=True: its SigmoidBackwardFloat16 node is then
    part of the graph the test differentiates."""
    xh = x.half()
    y = _half().SigmoidFloat16.apply(xh)
    g, = L.autograd.grad((y * xh).sum(), xh, create_graph=True)
    return (g.double() * x).sum()


def _attention():
    from fastgrad._ops import attention

    return attention




def test_array_backward_matches_the_differentiable_backward():
    """Ops with Op._array_grads, Op._array_backward or Op._grad_op backpropagate on arrays
    when no graph is wanted; with create_graph=True they run their differentiable backward.
    Both give the same gradients, bit for bit, and every such op is covered here."""
    global _T
    declared = sorted(c.__name__ for c in _op_classes()
                      if any(c.__dict__.get(k) is not None for k in ("_array_grads", "_array_backward", "_grad_op")))
    assert declared == sorted({**_ARRAY_PATH_CASES, **_FUSED_ARRAY_PATH_CASES})
    rng = np.random.default_rng(0)
    _T = fastgrad.tensor([0, 2, 1, 2])
    for name, fns in {**_ARRAY_PATH_CASES, **_FUSED_ARRAY_PATH_CASES}.items():
        fused = name in _FUSED_ARRAY_PATH_CASES
        for f in fns:
            arrays = [rng.standard_normal(s) for s in ((4, 3), (3, 3), (3,))]
            grads = []
            for create_graph in (False, True):
                ins = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
                out = f(fastgrad, *ins)
                gs = fastgrad.autograd.grad(out, ins, create_graph=create_graph, allow_unused=True)
                grads.append([None if g is None else g.detach().numpy() for g in gs])
            assert grads[0][0] is not None
            for a, b in zip(*grads):
                assert (a is None) == (b is None)
                if a is not None and fused:
                    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14, err_msg=name)
                elif a is not None:
                    np.testing.assert_array_equal(a, b, err_msg=name)
