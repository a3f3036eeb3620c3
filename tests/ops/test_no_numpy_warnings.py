"""NumPy's floating-point warnings never reach the user: PyTorch computes inf, -inf, NaN and 0
silently (exp(1000.) is inf, log(-1.) NaN, 1/0 inf, 0/0 and inf - inf NaN, a float16 cast of 1e5
inf) and prints nothing, so fastgrad must not let NumPy's "overflow encountered in exp" and the
like through, in forward or backward, on either backend (fastgrad/_quiet.py: the engine ignores
NumPy's floating-point errors around every op's forward and every backward walk).

A property test: every op of the op table (tests/ops/op_db.py), on its samples with every float
input replaced by adversarial values (0, -1, 1, huge, -huge, tiny, inf, -inf, NaN, in every
position: the pattern is shifted once per value), in float32, float64, float16 and bfloat16,
forward and backward; then every optimizer one step with non-finite gradients, gradient clipping,
the losses and softmax / log_softmax / cross_entropy over fully masked (-inf) rows, and tensor
creation and casts that overflow. Any RuntimeWarning fails (warnings are recorded, not raised, so
a warning cannot hide in a code path that catches exceptions). An op may refuse an input (a
half dtype it does not take, a singular matrix): only warnings are judged here; the results are
compared with torch by the other correctness classes."""
import inspect
import warnings

import numpy as np
import pytest

import fastgrad
import fastgrad.nn.functional as F
from harness import flatten
from op_db import OPS

HUGE = {"float16": 6e4, "bfloat16": 1e38, "float32": 1e30, "float64": 1e300}
TINY = {"float16": 1e-7, "bfloat16": 1e-40, "float32": 1e-40, "float64": 1e-310}  # subnormal


def specials(dtype):
    return [0.0, -1.0, 1.0, HUGE[dtype], -HUGE[dtype], TINY[dtype], np.inf, -np.inf, np.nan, 0.5]


def adversarial(shape, dtype, shift):
    """An array of `shape` cycling through specials(dtype), starting at position `shift`."""
    vals = specials(dtype)
    n = int(np.prod(shape)) if shape else 1
    flat = np.array([vals[(i + shift) % len(vals)] for i in range(n)], dtype=np.float64)
    return flat.reshape(shape)


def _tensor(a, dtype):
    t = fastgrad.tensor(a)
    return t.to(getattr(fastgrad, dtype))


class NumpyWarned(AssertionError):
    pass


def assert_silent(run, what):
    """run() (exceptions other than warnings are the op's business) records no RuntimeWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run()
        except Warning:
            raise
        except Exception:  # noqa: BLE001  (an input the op refuses: not what this test judges)
            pass
    bad = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if bad:
        raise NumpyWarned("%s: %s" % (what, "; ".join("%s (%s:%d)" % (w.message, w.filename, w.lineno)
                                                       for w in bad[:3])))


def _run_op(entry, sample, dtype, shift):
    args, diff = [], []
    for k, a in enumerate(sample.args):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            t = _tensor(adversarial(a.shape, dtype, shift + k), dtype)
            if entry.differentiable and k not in sample.nograd:
                t.requires_grad_(True)
                diff.append(t)
            args.append(t)
        elif isinstance(a, np.ndarray):
            args.append(fastgrad.tensor(a))
        else:
            args.append(a)
    outs = [o for o in flatten(entry.fn(fastgrad, *args, **sample.kwargs))
            if isinstance(o, fastgrad.Tensor) and o.requires_grad and o.dtype.is_floating_point]
    if outs and diff:
        fastgrad.autograd.grad(outs, diff, [fastgrad.ones_like(o) for o in outs], allow_unused=True)


CASES = [pytest.param(e, id=e.name) for e in OPS]


@pytest.mark.parametrize("entry", CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_op_table_adversarial_values(entry, dtype):
    n = len(specials(dtype))
    for i, sample in enumerate(entry.samples()):
        for shift in range(0, n, 3 if dtype in ("float16", "bfloat16") else 1):
            assert_silent(lambda: _run_op(entry, sample, dtype, shift),
                          "%s sample %d %s shift %d" % (entry.name, i, dtype, shift))


def test_the_examples_of_the_issue():
    t = fastgrad.tensor
    cases = {
        "exp overflow": lambda: fastgrad.exp(t([1000.0])),
        "divide by zero": lambda: t([1.0, -1.0]) / t([0.0, 0.0]),
        "0/0": lambda: t([0.0]) / t([0.0]),
        "log of negatives": lambda: fastgrad.log(t([-1.0, 0.0])),
        "sqrt of negatives": lambda: fastgrad.sqrt(t([-1.0])),
        "inf - inf": lambda: t([np.inf]) - t([np.inf]),
        "broadcast inf - inf": lambda: t([[np.inf], [1.0]]) - t([np.inf, 2.0]),
        "float16 cast": lambda: t([1e5, -1e5]).half(),
        "bfloat16 cast": lambda: t([1e300], dtype=fastgrad.float64).to(fastgrad.bfloat16),
        "float32 cast": lambda: t([1e300], dtype=fastgrad.float64).float(),
        "float16 tensor": lambda: t([1e5], dtype=fastgrad.float16),
        "float32 tensor": lambda: t([1e300], dtype=fastgrad.float32),
        "arcsin": lambda: fastgrad.asin(t([2.0])),
        "power": lambda: t([-8.0]) ** 0.5,
        "reciprocal": lambda: fastgrad.reciprocal(t([0.0])),
    }
    for name, fn in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            fn()  # raises the warning, if any
        assert_silent(fn, name)


def test_backward_formulas():
    def run():
        x = fastgrad.tensor([0.0, -1.0, 1e30, np.inf, np.nan, 1e-40], requires_grad=True)
        y = (fastgrad.sqrt(x) + fastgrad.log(x) + 1 / x + x ** 0.5 + fastgrad.exp(x) + fastgrad.asin(x)
             + fastgrad.rsqrt(x) + x.pow(x) + fastgrad.tanh(x) + fastgrad.sigmoid(x) * x)
        y.sum().backward()
        z = (x * x).sum() * x
        z.backward(fastgrad.ones_like(z))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        run()
    assert_silent(run, "backward")


def _optimizers():
    out = []
    for name, cls in sorted(vars(fastgrad.optim).items()):
        if inspect.isclass(cls) and issubclass(cls, fastgrad.optim.Optimizer) and cls is not fastgrad.optim.Optimizer:
            out.append(name)
    return out


OPTIONS = {  # beyond the defaults: the branches of each step (momentum, decay, amsgrad, ...)
    "SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1), dict(lr=0.1, momentum=0.9, dampening=0.5)],
    "Adam": [{}, dict(amsgrad=True, weight_decay=0.1), dict(maximize=True)],
    "AdamW": [{}, dict(amsgrad=True)],
    "RMSprop": [{}, dict(momentum=0.9, centered=True, weight_decay=0.1)],
    "Adagrad": [{}, dict(lr_decay=0.1, weight_decay=0.1)],
    "Adadelta": [{}, dict(weight_decay=0.1)],
    "Adamax": [{}, dict(weight_decay=0.1)],
    "NAdam": [{}, dict(decoupled_weight_decay=True, weight_decay=0.1)],
    "RAdam": [{}, dict(decoupled_weight_decay=True, weight_decay=0.1)],
    "ASGD": [{}, dict(t0=0, weight_decay=0.1)],
    "Rprop": [{}],
    "Adafactor": [{}],
    "Muon": [{}],
    "LBFGS": [{}, dict(line_search_fn="strong_wolfe")],
    "SparseAdam": [{}],
}


@pytest.mark.parametrize("name", _optimizers())
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_optimizer_step_with_non_finite_grads(name, dtype):
    cls = getattr(fastgrad.optim, name)
    for options in OPTIONS.get(name, [{}]):
        for shift in range(0, 10, 2):
            def run():
                shape = (3, 4)
                p = fastgrad.nn.Parameter(_tensor(adversarial(shape, dtype, shift), dtype))
                g = _tensor(adversarial(shape, dtype, shift + 3), dtype)
                if name == "SparseAdam":
                    g = g.to_sparse()
                opt = cls([p], **options)
                if name == "LBFGS":
                    def closure():
                        opt.zero_grad()
                        loss = (p * p).sum() + (p * g).sum()
                        loss.backward()
                        return loss
                    opt.step(closure)
                    return
                for _ in range(2):
                    p.grad = g.clone()
                    opt.step()
            assert_silent(run, "%s(%s) %s shift %d" % (name, options, dtype, shift))


def test_gradient_clipping():
    for shift in range(10):
        def run():
            ps = [fastgrad.nn.Parameter(fastgrad.tensor(adversarial((3, 2), "float32", shift + k))) for k in range(2)]
            for k, p in enumerate(ps):
                p.grad = fastgrad.tensor(adversarial((3, 2), "float32", shift + 5 + k))
            for norm_type in (2.0, 1.0, np.inf, 0.5):
                fastgrad.nn.utils.clip_grad_norm_(ps, 1.0, norm_type=norm_type)
            fastgrad.nn.utils.clip_grad_value_(ps, 1.0)
            fastgrad.nn.utils.get_total_norm([p.grad for p in ps])
        assert_silent(run, "clipping shift %d" % shift)


def test_masked_rows_and_losses():
    neg = -np.inf

    def run():
        x = fastgrad.tensor([[neg, neg, neg], [0.0, neg, 1.0], [1e30, -1e30, 0.0], [np.nan, 0.0, 1.0]],
                            requires_grad=True)
        target = fastgrad.tensor([0, 1, 2, 0])
        outs = [F.softmax(x, -1), F.log_softmax(x, -1), F.softmin(x, -1), fastgrad.logsumexp(x, -1),
                F.cross_entropy(x, target), F.cross_entropy(x, target, reduction="none"),
                F.cross_entropy(x, target, label_smoothing=0.1),
                F.cross_entropy(x, fastgrad.tensor([-100, 1, 2, 0]), ignore_index=-100),
                F.nll_loss(F.log_softmax(x, -1), fastgrad.tensor([-100, 1, 2, 0])),
                F.softmax(x, 0), F.log_softmax(x, 0)]
        y = fastgrad.tensor([[0.0, 1.0, 1e30], [neg, np.inf, 0.5], [1.0, 0.0, 0.5], [np.nan, 0.0, 1.0]])
        p = fastgrad.sigmoid(x.nan_to_num(0.0))  # (binary_cross_entropy refuses NaN, as PyTorch)
        outs += [F.mse_loss(x, y), F.l1_loss(x, y), F.smooth_l1_loss(x, y), F.huber_loss(x, y),
                 F.binary_cross_entropy(p, fastgrad.sigmoid(y.nan_to_num(0.0))), F.binary_cross_entropy_with_logits(x, fastgrad.sigmoid(y)),
                 F.kl_div(x, y), F.kl_div(x, y, log_target=True), F.poisson_nll_loss(x, y),
                 F.soft_margin_loss(x, y), F.gaussian_nll_loss(x, y, fastgrad.ones_like(y)),
                 F.cosine_similarity(x, y), F.normalize(x), F.hinge_embedding_loss(x, y),
                 F.margin_ranking_loss(x[0], x[1], fastgrad.ones(3)), F.multilabel_soft_margin_loss(x, y)]
        total = None
        for o in outs:
            s = o.sum()
            total = s if total is None else total + s
        total.backward()

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        run()
    assert_silent(run, "masked rows and losses")


def test_user_numpy_settings_unchanged():
    """fastgrad leaves NumPy's error state as the user set it: its own code runs quietly, the
    user's still warns or raises (np.seterr is process-wide; fastgrad never calls it)."""
    before = np.geterr()
    with np.errstate(all="raise"):
        fastgrad.exp(fastgrad.tensor([1000.0], requires_grad=True)).sum().backward()  # no FloatingPointError
        with pytest.raises(FloatingPointError):
            np.exp(np.array([1000.0]))
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning):
        np.log(np.array([-1.0]))
