"""Correctness class 3: zero-size inputs give torch's empty results (and gradients) or torch's
error, never an internal failure (`cannot reshape`, a NumPy error). Every op of the op table
(tests/ops/op_db.py) is run on its samples with one dimension made empty: the dims of the
sample's first float array in turn, and every other array argument that has the same size at the
same position is emptied with it (a batch dim shared with the targets, say). Then the direct
cases: softmax / log_softmax over an empty dim, conv1d / conv2d with batch 0, linear and its
backward with inner size 0, batch_norm / BatchNorm2d in training with N = 0."""
import numpy as np
import pytest

import fastgrad
from compare import compare, run
from op_db import OPS

def _variants(sample):
    """(new args, label) with one dim emptied (see the module docstring)."""
    arrays = [a for a in sample.args if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if not arrays or arrays[0].ndim == 0:
        return []
    first = arrays[0]
    out = []
    for axis in range(first.ndim):
        n = first.shape[axis]
        if n == 0:
            continue
        args = []
        for a in sample.args:
            if isinstance(a, np.ndarray) and a.ndim > axis and a.shape[axis] == n:
                a = np.take(a, np.arange(0), axis=axis)
            args.append(a)
        out.append((tuple(args), "axis %d" % axis))
    return out


CASES, _seen = [], set()
for _entry in OPS:
    for _i, _s in enumerate(_entry.samples()):
        for _args, _label in _variants(_s):
            key = (_entry.name, repr([(a.shape, a.dtype.kind) if isinstance(a, np.ndarray) else a for a in _args]),
                   repr(sorted(_s.kwargs.items())))
            if key in _seen:  # the same shapes again (a non-contiguous sample, say): nothing new
                continue
            _seen.add(key)
            CASES.append(pytest.param(_entry, _s, _args, id="%s-%d-%s" % (_entry.name, _i, _label.replace(" ", ""))))


def _outcome(lib, entry, sample, args, grad):
    try:
        return _run(lib, entry, sample, args, grad), None
    except Exception as e:  # noqa: BLE001  (torch's error is the expected result)
        return None, e


def _run(lib, entry, sample, args, grad):
    ts = []
    for k, a in enumerate(args):
        if isinstance(a, np.ndarray):
            t = lib.tensor(a)
            if grad and a.dtype.kind == "f" and k not in sample.nograd:
                t.requires_grad_(True)
            ts.append(t)
        else:
            ts.append(a)
    return entry.fn(lib, *ts, **sample.kwargs)


@pytest.mark.parametrize("entry, sample, args", CASES)
def test_op_table_with_an_empty_dim(torch, entry, sample, args):
    grad = entry.differentiable
    _, terr = _outcome(torch, entry, sample, args, grad)
    _, ferr = _outcome(fastgrad, entry, sample, args, grad)
    if terr is not None:
        assert ferr is not None, "torch raises %s: %s; fastgrad does not" % (type(terr).__name__, terr)
        assert type(ferr).__name__ == type(terr).__name__, (ferr, terr)
        return
    assert ferr is None, "fastgrad raises %s: %s; torch gives a result" % (type(ferr).__name__, ferr)
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    positions = [k for k, a in enumerate(args) if isinstance(a, np.ndarray)]

    def fn(L, *ts):
        full = list(args)
        for k, t in zip(positions, ts):
            full[k] = t
        return entry.fn(L, *full, **sample.kwargs)

    grad_ok = grad and entry.compare_grads and not sample.nograd
    if grad_ok and _torch_backward_raises(torch, fn, arrays):
        # torch's forward gives an empty result but its own backward raises on it
        # (adaptive_avg_pool2d_backward, PixelShuffleBackward0, channel_shuffle with 0 groups:
        # torch 2.13 checks that do not hold for empty tensors). fastgrad does not copy those:
        # the forward must equal torch's and the gradient is the one of an empty output, zero.
        compare(torch, fn, arrays, "float64", grad=False, what=entry.name)
        vals, grads = run(fastgrad, fn, arrays, "float64", grad=True)
        assert all(v.size == 0 for v in vals), entry.name + ": torch's backward raised on a non-empty output"
        for k, (a, g) in enumerate(zip([a for a in arrays if a.dtype.kind == "f"], grads or [])):
            assert g is None or (g.shape == a.shape and not np.any(g)), "%s: gradient of input %d" % (entry.name, k)
        return
    compare(torch, fn, arrays, "float64", grad=grad_ok, what=entry.name)


def _torch_backward_raises(torch, fn, arrays):
    try:
        run(torch, fn, arrays, "float64", grad=True)
    except RuntimeError:
        return True
    return False


F = lambda L: L.nn.functional  # noqa: E731

DIRECT = {
    "softmax_empty_dim": (lambda L, x: L.softmax(x, 1), [(3, 0)]),
    "log_softmax_empty_dim": (lambda L, x: L.log_softmax(x, 1), [(3, 0)]),
    "log_softmax_empty_1d": (lambda L, x: L.log_softmax(x, 0), [(0,)]),
    "softmax_empty_middle": (lambda L, x: F(L).softmax(x, dim=1), [(2, 0, 3)]),
    "softmax_empty_other": (lambda L, x: L.softmax(x, 0), [(3, 0)]),
    "conv1d_batch0": (lambda L, x, w: F(L).conv1d(x, w), [(0, 2, 5), (3, 2, 2)]),
    "conv1d_batch0_bias_stride": (lambda L, x, w, b: F(L).conv1d(x, w, b, stride=2, padding=1), [(0, 2, 5), (3, 2, 2), (3,)]),
    "conv2d_batch0": (lambda L, x, w, b: F(L).conv2d(x, w, b), [(0, 2, 5, 5), (3, 2, 2, 2), (3,)]),
    "conv2d_batch0_groups": (lambda L, x, w: F(L).conv2d(x, w, groups=2, padding=1), [(0, 4, 5, 5), (6, 2, 3, 3)]),
    "conv2d_out0": (lambda L, x, w: F(L).conv2d(x, w), [(1, 2, 5, 5), (0, 2, 2, 2)]),
    "conv2d_in0": (lambda L, x, w: F(L).conv2d(x, w), [(1, 0, 5, 5), (3, 0, 2, 2)]),
    "linear_in0": (lambda L, x, w, b: F(L).linear(x, w, b), [(4, 0), (3, 0), (3,)]),
    "linear_in0_nobias": (lambda L, x, w: F(L).linear(x, w), [(4, 0), (3, 0)]),
    "linear_in0_3d": (lambda L, x, w: F(L).linear(x, w), [(2, 4, 0), (3, 0)]),
    "linear_out0": (lambda L, x, w, b: F(L).linear(x, w, b), [(2, 5), (0, 5), (0,)]),
    "linear_batch0": (lambda L, x, w, b: F(L).linear(x, w, b), [(0, 5), (3, 5), (3,)]),
    "linear_batch0_3d": (lambda L, x, w: F(L).linear(x, w), [(2, 0, 5), (3, 5)]),
    "Linear_in0": (lambda L, x: _module(L, "Linear", x, 0, 3), [(4, 0)]),
    "batch_norm_train_N0": (lambda L, x: F(L).batch_norm(x, L.zeros(3, dtype=x.dtype), L.ones(3, dtype=x.dtype),
                                                         training=True), [(0, 3)]),
    "batch_norm_train_N0_affine": (lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, training=True),
                                   [(0, 3, 4), (3,), (3,)]),
    "BatchNorm1d_train_N0": (lambda L, x: _module(L, "BatchNorm1d", x, 3), [(0, 3)]),
    "BatchNorm2d_train_N0": (lambda L, x: _module(L, "BatchNorm2d", x, 3), [(0, 3, 4, 4)]),
    "BatchNorm2d_train_HW0": (lambda L, x: _module(L, "BatchNorm2d", x, 3), [(2, 3, 0, 4)]),
    "BatchNorm2d_eval_N0": (lambda L, x: _module(L, "BatchNorm2d", x, 3, train=False), [(0, 3, 4, 4)]),
    "layer_norm_N0": (lambda L, x: F(L).layer_norm(x, (3,)), [(0, 3)]),
    "layer_norm_empty_normalized": (lambda L, x: F(L).layer_norm(x, (0,)), [(2, 0)]),
    "cross_entropy_N0": (lambda L, x: F(L).cross_entropy(x, L.zeros(0, dtype=L.long), reduction="sum"), [(0, 3)]),
    "mse_loss_empty": (lambda L, a, b: F(L).mse_loss(a, b, reduction="sum"), [(0, 3), (0, 3)]),
    "max_pool2d_batch0": (lambda L, x: F(L).max_pool2d(x, 2), [(0, 2, 4, 4)]),
    "avg_pool2d_batch0": (lambda L, x: F(L).avg_pool2d(x, 2), [(0, 2, 4, 4)]),
    "embedding_empty_index": (lambda L, w: F(L).embedding(L.zeros(0, 2, dtype=L.long), w), [(5, 3)]),
}


def _module(L, name, x, *args, train=True):
    L.manual_seed(0)
    m = getattr(L.nn, name)(*args).to(x.dtype)
    m.train(train)
    y = m(x)
    return (y,) + tuple(b.detach().clone() for b in m.buffers() if b.dtype.is_floating_point)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(DIRECT))
def test_zero_size_layers(torch, name, dtype):
    fn, shapes = DIRECT[name]
    arrays = [np.random.RandomState(0).standard_normal(s) for s in shapes]
    _, terr = _outcome_direct(torch, fn, arrays, dtype)
    _, ferr = _outcome_direct(fastgrad, fn, arrays, dtype)
    if terr is not None:
        assert ferr is not None and type(ferr).__name__ == type(terr).__name__ and str(ferr) == str(terr), (ferr, terr)
        return
    assert ferr is None, "fastgrad raises %s: %s; torch gives a result" % (type(ferr).__name__, ferr)
    compare(torch, fn, arrays, dtype, what=name)


def _outcome_direct(lib, fn, arrays, dtype):
    try:
        ts = [lib.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
        out = fn(lib, *ts)
        return out, None
    except Exception as e:  # noqa: BLE001
        return None, e
