"""Differentiable ops with float64 sample inputs, for the jvp / double-backward / third-derivative
checks in tests/autograd. Each entry: name -> (fn(lib, *tensors), [input arrays], elementwise?).

``lib`` is fastgrad or torch, so one lambda drives both. Inputs avoid kinks (relu/abs/clamp/max
away from ties and the origin) so finite differences are valid. When tests/ops/op_db.py lands,
these tests should iterate its samples instead (see OPS below).
"""
import numpy as np

_rs = np.random.RandomState(0)


def _r(*shape, lo=-1.0, hi=1.0):
    return _rs.uniform(lo, hi, shape)


def _away(*shape, gap=0.2):
    """Values in [-1, -gap] U [gap, 1]: no element near 0."""
    v = _rs.uniform(gap, 1.0, shape)
    return v * np.where(_rs.rand(*shape) < 0.5, -1.0, 1.0)


_POS = _r(2, 3, lo=0.5, hi=1.5)
_TARGET = np.array([2, 0, 1])

# name: (fn, inputs, elementwise)
OPS = {
    # arithmetic
    "add": (lambda L, a, b: a + b, [_r(2, 3), _r(3)], True),
    "sub": (lambda L, a, b: a - b, [_r(2, 3), _r(2, 1)], True),
    "mul": (lambda L, a, b: a * b, [_r(2, 3), _r(2, 3)], True),
    "div": (lambda L, a, b: a / b, [_r(2, 3), _POS], True),
    "neg": (lambda L, a: -a, [_r(2, 3)], True),
    "pow_2": (lambda L, a: a ** 2, [_r(2, 3)], True),
    "pow_3": (lambda L, a: a ** 3, [_r(2, 3)], True),
    "pow_half": (lambda L, a: a ** 0.5, [_POS], True),
    "pow_neg": (lambda L, a: a ** -1.5, [_POS], True),
    "rpow": (lambda L, a: 2.0 ** a, [_r(2, 3)], True),
    "pow_tensor": (lambda L, a, b: a ** b, [_POS, _r(2, 3)], True),
    "square": (lambda L, a: L.square(a), [_r(2, 3)], True),
    # unary math
    "exp": (lambda L, a: L.exp(a), [_r(2, 3)], True),
    "log": (lambda L, a: L.log(a), [_POS], True),
    "sqrt": (lambda L, a: L.sqrt(a), [_POS], True),
    "abs": (lambda L, a: L.abs(a), [_away(2, 3)], True),
    "sin": (lambda L, a: L.sin(a), [_r(2, 3)], True),
    "cos": (lambda L, a: L.cos(a), [_r(2, 3)], True),
    "sigmoid": (lambda L, a: L.sigmoid(a), [_r(2, 3, lo=-3, hi=3)], True),
    "tanh": (lambda L, a: L.tanh(a), [_r(2, 3, lo=-2, hi=2)], True),
    "relu": (lambda L, a: L.relu(a), [_away(2, 3)], True),
    "clamp": (lambda L, a: L.clamp(a, -0.5, 0.5), [np.array([[-0.9, -0.3, 0.1], [0.3, 0.8, -0.1]])], True),
    "clamp_min": (lambda L, a: L.clamp(a, min=0.0), [_away(2, 3)], True),
    "where": (lambda L, a, b: L.where(a > 0, a, b), [_away(2, 3), _r(2, 3)], True),
    "maximum": (lambda L, a, b: L.maximum(a, b), [_r(2, 3), _r(2, 3) + 0.05], True),
    "minimum": (lambda L, a, b: L.minimum(a, b), [_r(2, 3), _r(2, 3) + 0.05], True),
    # reductions
    "sum": (lambda L, a: a.sum(), [_r(2, 3)], False),
    "sum_dim": (lambda L, a: a.sum(1, keepdim=True), [_r(2, 3)], False),
    "mean": (lambda L, a: a.mean(0), [_r(2, 3)], False),
    "max_all": (lambda L, a: a.max(), [np.array([[0.1, 0.9, -0.3], [0.4, -0.8, 0.2]])], False),
    "max_dim": (lambda L, a: a.max(1)[0], [np.array([[0.1, 0.9, -0.3], [0.4, -0.8, 0.2]])], False),
    "min_dim": (lambda L, a: a.min(0).values, [np.array([[0.1, 0.9, -0.3], [0.4, -0.8, 0.2]])], False),
    "gather": (lambda L, a: L.gather(a, 1, L.tensor([[0, 2], [1, 1]])), [_r(2, 3)], False),
    # shape
    "reshape": (lambda L, a: a.reshape(3, 2) * 1.0, [_r(2, 3)], False),
    "permute": (lambda L, a: a.permute(2, 0, 1), [_r(2, 3, 2)], False),
    "transpose": (lambda L, a: a.t(), [_r(2, 3)], False),
    "expand": (lambda L, a: a.expand(2, 3), [_r(1, 3)], False),
    "index_basic": (lambda L, a: a[1:, ::2], [_r(3, 4)], False),
    "index_adv": (lambda L, a: a[L.tensor([0, 2, 0])], [_r(3, 2)], False),
    "unsqueeze": (lambda L, a: a.unsqueeze(1), [_r(2, 3)], False),
    "squeeze": (lambda L, a: a.squeeze(), [_r(2, 1, 3)], False),
    "clone": (lambda L, a: a.clone(), [_r(2, 3)], False),
    # linear algebra
    "matmul": (lambda L, a, b: a @ b, [_r(2, 3), _r(3, 4)], False),
    "mv": (lambda L, a, b: L.mv(a, b), [_r(2, 3), _r(3)], False),
    "dot": (lambda L, a, b: L.dot(a, b), [_r(3), _r(3)], False),
    "bmm": (lambda L, a, b: L.bmm(a, b), [_r(2, 2, 3), _r(2, 3, 2)], False),
    "matmul_batched": (lambda L, a, b: a @ b, [_r(2, 2, 3), _r(3, 2)], False),
    "outer": (lambda L, a, b: L.outer(a, b), [_r(3), _r(2)], False),
    "inv": (lambda L, a: L.linalg.inv(a), [_r(3, 3) + 3 * np.eye(3)], False),
    # nn
    "linear": (lambda L, x, w, b: L.nn.functional.linear(x, w, b), [_r(4, 3), _r(2, 3), _r(2)], False),
    "softmax": (lambda L, a: L.softmax(a, 1), [_r(2, 3)], False),
    "log_softmax": (lambda L, a: L.log_softmax(a, 1), [_r(2, 3)], False),
    "cross_entropy": (lambda L, a: L.nn.functional.cross_entropy(a, L.tensor(_TARGET)), [_r(3, 4)], False),
    "cross_entropy_sum": (lambda L, a: L.nn.functional.cross_entropy(a, L.tensor(_TARGET), reduction="sum",
                                                                    label_smoothing=0.1), [_r(3, 4)], False),
    "mse_loss": (lambda L, a, b: L.nn.functional.mse_loss(a, b), [_r(2, 3), _r(2, 3)], False),
}

ELEMENTWISE = [k for k, v in OPS.items() if v[2]]
