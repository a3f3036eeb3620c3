"""Fused neural-network ops: linear (addmm with bias), softmax / log_softmax, cross-entropy.

Row-wise kernels work on (N, C) C-contiguous arrays; ``_rows`` moves the softmax dim last
and flattens the rest (no copy in the usual case: dim=-1 on a contiguous tensor)."""
import math
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import BLAS
from fastgrad._ops.base import float32_compute, K, Op, engine, make, norm_dim, scalar_type_name, shape_str, sum_terms
from fastgrad._ops import half as H
from fastgrad._ops.linalg import matmul
from fastgrad._ops import unsigned as U


# Compiled backend on NumPy's BLAS only: y = (w @ x.T).T + b by one BLAS call and one tiled
# transpose pass that adds the bias. For float32, OpenBLAS runs the (n_out x batch) product
# faster than x @ w.T unless the batch is large or the layer narrow: 0.5-0.8x at batch 4-64
# with n_out >= 1.5 batch, ~0.95x at W3's 256 x 784 -> 1024 (benchmarks/NOTES.md A2-A3, A7).
# MKL (fastgrad._blas) runs x @ w.T fastest (NOTES B2); so do float64 and the shapes
# _linear_fwd's rule rejects.
_linear_out = getattr(K, "_linear_out", None) if BLAS == "numpy" else None
# Compiled backend only: the bias add and the bias gradient of small layers in one C loop
# each, without NumPy's broadcasting/reduction set-up (~6k instructions each at 32 x 50);
# they return None when the arrays are not plain C-contiguous float (then NumPy does it).
_rows_add = getattr(K, "_rows_add", lambda y, b: None)
_rows_sum = getattr(K, "_rows_sum", lambda g: None)
# One row (batch 1, inference's per-call case): the product and bias in one C loop, 1.2-1.4x
# OpenBLAS's sgemv on its AVX2 kernels and without np.matmul's set-up (NOTES_models.md M9);
# None when it does not apply (the compiled backend only).
_linear_vec = getattr(K, "_linear_vec", lambda x, w, b: None)
_ce_reduce = getattr(K, "_ce_reduce", lambda loss, target, w, ignore_index: None)  # see _ce_sums


def _linear_fwd(x, w, b):
    """y = x @ w.T + b of arrays (b may be None): one BLAS call, the bias added in one pass.
    float32 (batch x n_in) -> n_out takes (w @ x.T).T when 2 <= batch <= 256, n_in >= 100,
    n_out >= 1.5 batch and batch * n_out >= 1024: the rule fitted to a grid of batch 1-512,
    n_in 32-2048, n_out 10-2048 (NOTES A7; no backward product has a faster layout). One row
    (batch 1) goes to _linear_vec first."""
    nd = x.ndim
    if nd == 1 or (nd == 2 and x.shape[0] == 1):
        y = _linear_vec(x, w, b)
        if y is not None:
            return y
    if (_linear_out is not None and x.ndim == 2 and x.dtype.char == "f" and w.dtype.char == "f"
            and 2 <= x.shape[0] <= 256 and x.shape[1] >= 100 and 2 * w.shape[0] >= 3 * x.shape[0]
            and x.shape[0] * w.shape[0] >= 1024 and x.flags.c_contiguous and w.flags.c_contiguous
            and (b is None or (b.ndim == 1 and b.dtype == x.dtype and b.flags.c_contiguous
                               and b.flags.aligned))):
        yt = K.mm(w, x.T)
        return _linear_out(yt, b, np.empty((x.shape[0], w.shape[0]), x.dtype))
    if x.ndim > 2 and x.size and x.flags.c_contiguous:  # (..., n_in): one 2-D product
        return _linear_fwd(x.reshape(-1, x.shape[-1]), w, b).reshape(x.shape[:-1] + w.shape[:1])
    y = K.mm(x, w.T)
    if b is not None and _rows_add(y, b) is None:
        y += b
    return y


class Linear(Op):
    """y = x @ w.T + b, declared by its kernel (engine.apply3 runs it: no Python forward)."""

    _kernel = staticmethod(_linear_fwd)
    _saves = (engine.SAVE_IN0, engine.SAVE_IN1)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return LinearBackward.apply(x, w, g, ctx.needs_input_grad)

    @staticmethod
    def _array_backward(ctx, g):
        x, w = ctx.saved_arrays
        return _linear_grads(x, w, g, ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, tx, tw, tb):
        x, w = ctx.saved_tensors
        out = None
        for t in (None if tx is None else matmul(tx, w.mT), None if tw is None else matmul(x, tw.mT), tb):
            if t is not None:
                out = t if out is None else out + t
        return out


class LinearBackward(Op):
    """(gx, gw, gb) of y = x @ w.T + b in one op: gx = g @ w, gw = g.T @ x, gb = sum(g)."""

    @staticmethod
    def forward(ctx, x, w, g, need):
        ctx.save_for_backward(x, w, g)
        ctx.set_materialize_grads(False)
        return _linear_grads(x._data, w._data, g._data, need)

    @staticmethod
    def backward(ctx, ax, aw, ab):
        x, w, g = ctx.saved_tensors
        n_out, n_in = w._data.shape
        x2, g2 = x.reshape(_lead(x), n_in), g.reshape(_lead(g), n_out)
        need = ctx.needs_input_grad
        gx = gw = gg = None
        if need[0] and aw is not None:  # gw = g2.T @ x2
            gx = matmul(g2, aw).reshape(x._data.shape)
        if need[1] and ax is not None:  # gx = g @ w
            gw = matmul(g2.mT, ax.reshape(_lead(ax), n_in))
        if need[2]:
            terms = [matmul(ax, w.mT) if ax is not None else None,
                     matmul(x2, aw.mT).reshape(g._data.shape) if aw is not None else None,
                     ab.expand(g._data.shape) if ab is not None else None]
            for t in terms:
                if t is not None:
                    gg = t if gg is None else gg + t
        return gx, gw, gg, None

    @staticmethod
    def jvp(ctx, tx, tw, tg, _):
        x, w, g = ctx.saved_tensors
        n_out, n_in = w._data.shape
        g2 = g.reshape(_lead(g), n_out)
        tgx = sum_terms(None if tg is None else matmul(tg, w), None if tw is None else matmul(g, tw))
        tgw = sum_terms(None if tg is None else matmul(tg.reshape(_lead(tg), n_out).mT, x.reshape(_lead(x), n_in)),
                         None if tx is None else matmul(g2.mT, tx.reshape(_lead(tx), n_in)))
        tgb = None if tg is None else tg.reshape(_lead(tg), n_out).sum(0)
        return tgx, tgw, tgb


def _linear_grads(x, w, g, need):
    """(gx, gw, gb) arrays of y = x @ w.T + b for upstream g; None where need[i] is false."""
    n_out, n_in = w.shape
    g2 = g.reshape(_lead(g), n_out)
    gx = K.mm(g2, w).reshape(x.shape) if need[0] else None
    gw = K.mm(g2.T, x.reshape(_lead(x), n_in)) if need[1] else None
    gb = None
    if len(need) > 2 and need[2]:
        gb = _rows_sum(g2)
        if gb is None:
            gb = np.add.reduce(g2, axis=0)
    return gx, gw, gb


def _lead(a):
    """The number of rows of a as a 2-D (rows, last dim) matrix (reshape(-1, n) fails for n = 0)."""
    return math.prod(a.shape[:-1])  # (np.prod: ~1 us of set-up per call)


def _rows(a, dim):
    """(N, C) C-contiguous view of a with `dim` last, and how to undo it."""
    nd = a.ndim
    if nd == 0:
        return a.reshape(1, 1), (a.shape, None)
    moved = np.moveaxis(a, dim, -1) if dim != nd - 1 else a
    rows = np.ascontiguousarray(moved).reshape(int(np.prod(moved.shape[:-1])), a.shape[dim])  # not -1: size 0
    return rows, (moved.shape, dim)


def _unrows(r, how):
    shape, dim = how
    out = r.reshape(shape)
    if dim is not None and dim != len(shape) - 1:
        out = np.moveaxis(out, -1, dim)
    return out


def _rowwise(kernel, x, dim, *others):
    rows, how = _rows(x, dim)
    args = [rows] + [_rows(o, dim)[0] for o in others]
    out = kernel(*args, np.empty(rows.shape, rows.dtype))
    return _unrows(out, how)


class LogSoftmax(Op):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        a = x._data
        if a.ndim and dim == a.ndim - 1 and a.size and engine.state().half is not None:
            y = H.log_softmax_lastdim(a, engine.state().half)  # PyTorch's half kernel
        else:
            y = _rowwise(K.log_softmax_fwd, a, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return LogSoftmaxBackward.apply(y, g, ctx.dim), None

    @staticmethod
    def jvp(ctx, t, _):
        (y,) = ctx.saved_tensors
        return t - (y.exp() * t).sum(ctx.dim, keepdim=True)


# twin of SoftmaxBackward below: one kernel each (K.log_softmax_bwd / K.softmax_bwd); the maths differ
class LogSoftmaxBackward(Op):
    """g - exp(y) * sum(g), y = log_softmax(x)."""

    @staticmethod
    def forward(ctx, y, g, dim):
        ctx.dim = dim
        ctx.save_for_backward(y, g)
        return _rowwise(K.log_softmax_bwd, y._data, dim, g._data)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        d = ctx.dim
        p = y.exp()
        gy = -gg * p * g.sum(d, keepdim=True)
        gg_g = gg - (gg * p).sum(d, keepdim=True)
        return gy, gg_g, None

    @staticmethod
    def jvp(ctx, ty, tg, _):
        y, g = ctx.saved_tensors
        d = ctx.dim
        p = y.exp()
        out = None if tg is None else tg - p * tg.sum(d, keepdim=True)
        if ty is not None:
            t2 = -p * ty * g.sum(d, keepdim=True)
            out = t2 if out is None else out + t2
        return out


class Softmax(Op):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = _rowwise(K.softmax_fwd, x._data, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return SoftmaxBackward.apply(y, g, ctx.dim), None

    @staticmethod
    def jvp(ctx, t, _):
        (y,) = ctx.saved_tensors
        return SoftmaxBackward.apply(y, t, ctx.dim)


# twin of LogSoftmaxBackward above: one kernel each; the maths differ
class SoftmaxBackward(Op):
    """y * (g - sum(g * y)), y = softmax(x)."""

    @staticmethod
    def forward(ctx, y, g, dim):
        ctx.dim = dim
        ctx.save_for_backward(y, g)
        return _rowwise(K.softmax_bwd, y._data, dim, g._data)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        d = ctx.dim
        s = (g * y).sum(d, keepdim=True)
        gy = gg * (g - s) - g * (gg * y).sum(d, keepdim=True)
        return gy, SoftmaxBackward.apply(y, gg, d), None

    @staticmethod
    def jvp(ctx, ty, tg, _):
        y, g = ctx.saved_tensors
        d = ctx.dim
        out = None if tg is None else SoftmaxBackward.apply(y, tg, d)
        if ty is not None:
            t2 = ty * (g - (g * y).sum(d, keepdim=True)) - y * (g * ty).sum(d, keepdim=True)
            out = t2 if out is None else out + t2
        return out


def _ce_coefficients(target, weight, ignore_index, eps, n_cls, dtype):
    """a[i, c]: the weight of -log p[i, c] in sample i's loss (see cross_entropy_fwd)."""
    n = target.shape[0]
    w = np.ones(n_cls, dtype) if weight is None else weight
    valid = target != ignore_index
    a = np.zeros((n, n_cls), dtype)
    if eps:
        a += (eps / n_cls) * w
    rows = np.nonzero(valid)[0]
    a[rows, target[rows]] += (1.0 - eps) * w[target[rows]]
    a[~valid] = 0
    return a


class CrossEntropy(Op):
    """Cross-entropy of (N, C) logits and class indices: per sample (reduction None, i.e.
    'none'), or their 'sum' or 'mean' (over the count or weight of the non-ignored targets)
    in the same op, so a loss is one node, not three."""

    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, label_smoothing, reduction=None):
        x = np.ascontiguousarray(logits._data)
        n = x.shape[0]
        w = None if weight is None else np.ascontiguousarray(weight._data)
        lse = np.empty(n, x.dtype)
        loss = K.cross_entropy_fwd(x, target._data, w, ignore_index, label_smoothing, lse,
                                   np.empty(n, x.dtype))
        ctx.args = (target._data, w, ignore_index, label_smoothing)
        ctx.save_for_backward(logits, lse)
        ctx.denom = None
        if reduction is None:
            return loss
        total, denom = _ce_sums(loss, target._data, w, ignore_index)  # in double
        ctx.denom = 1.0 if reduction == "sum" else denom
        if reduction == "sum":
            return np.array(total, x.dtype)
        # all targets ignored: 0 / 0 = nan, like torch
        return np.array(total / denom if denom else float("nan"), x.dtype)

    @staticmethod
    def backward(ctx, g):
        logits, lse = ctx.saved_tensors
        return CrossEntropyBackward.apply(logits, g, lse, ctx.args, ctx.denom), None, None, None, None, None

    @staticmethod
    def _array_backward(ctx, g):
        logits, lse = ctx.saved_arrays
        return _ce_grad(logits, g, lse, ctx.args, ctx.denom), None, None, None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        logits, lse = ctx.saved_tensors
        ones = make(np.ones(logits._data.shape[0], logits._data.dtype))
        rows = (CrossEntropyBackward.apply(logits, ones, lse, ctx.args) * t).sum(1)
        if ctx.denom is None:
            return rows
        return rows.sum() / ctx.denom if ctx.denom != 1 else rows.sum()


def _ce_sums(loss, target, w, ignore_index):
    """(sum of the per-sample losses, count of the non-ignored targets or the sum of their
    weights), both summed in double: one C loop on the compiled backend."""
    r = _ce_reduce(loss, target, w, ignore_index)
    if r is None:
        kept = target != ignore_index
        total = float(np.add.reduce(loss, dtype=np.float64))
        if w is None:
            return total, float(np.count_nonzero(kept))
        # mode="clip": an index out of range was reported by the kernel already
        return total, float(np.add.reduce(np.take(w, target[kept], mode="clip"), dtype=np.float64))
    return r


def _scaled(g, denom):
    """A reduced loss's upstream gradient (a tensor, differentiably, or an array) divided by
    its denominator; all targets ignored (denom 0): zero, as every row's gradient is."""
    if denom is None or denom == 1:
        return g
    return g * 0.0 if denom == 0 else g / denom


def _ce_grad(logits, g, lse, args, denom):
    """The gradient array of cross-entropy's logits for upstream g (arrays; see below)."""
    target, w, ignore_index, eps = args
    x = np.ascontiguousarray(logits)
    gd = _scaled(g, denom)  # a Python-number divisor keeps g's dtype, as torch
    if gd.ndim:  # (an ndarray, or a NumPy scalar after the division: 0)
        gd = np.ascontiguousarray(gd)
    else:
        gd, g0 = np.empty(x.shape[0], x.dtype), gd
        gd.fill(g0)
    return K.cross_entropy_bwd(x, target, w, ignore_index, eps, lse, gd, np.empty(x.shape, x.dtype))


class CrossEntropyBackward(Op):
    """d(sum_i g_i * loss_i)/d logits = g_i * (A_i * softmax_i - a_i), one fused kernel;
    with a denominator (a reduced loss), g is divided by it first."""

    @staticmethod
    def forward(ctx, logits, g, lse, args, denom=None):
        # g: the per-sample upstream gradient (N,), or one 0-d value shared by all samples
        ctx.args, ctx.denom = args, denom
        ctx.save_for_backward(logits, g)
        return _ce_grad(logits._data, g._data, lse._data, args, denom)

    @staticmethod
    def backward(ctx, gg):
        logits, g = ctx.saved_tensors
        g = _scaled(g, ctx.denom)
        target, w, ignore_index, eps = ctx.args
        n, c = logits._data.shape
        a = _ce_coefficients(target, w, ignore_index, eps, c, logits._data.dtype)
        big_a = make(a.sum(1, keepdims=True))
        p = softmax(logits, 1)
        unit = big_a * p - make(a)
        gcol = g.unsqueeze(1) if g._data.ndim else g
        g_logits = SoftmaxBackward.apply(p, gg, 1) * (gcol * big_a)
        g_g = _scaled((gg * unit).sum(1), ctx.denom)  # (N,): the tape sums it to a 0-d g's shape
        return g_logits, g_g, None, None, None

    @staticmethod
    def jvp(ctx, tl, tg, *_):
        logits, g = ctx.saved_tensors
        g = _scaled(g, ctx.denom)
        tg = None if tg is None else _scaled(tg, ctx.denom)
        target, w, ignore_index, eps = ctx.args
        n, c = logits._data.shape
        a = _ce_coefficients(target, w, ignore_index, eps, c, logits._data.dtype)
        big_a = make(a.sum(1, keepdims=True))
        p = softmax(logits, 1)
        gcol = g.unsqueeze(1) if g._data.ndim else g
        out = None if tl is None else SoftmaxBackward.apply(p, tl, 1) * (gcol * big_a)
        if tg is not None:
            t2 = (tg.unsqueeze(1) if tg._data.ndim else tg) * (big_a * p - make(a))
            out = t2 if out is None else out + t2
        return out


# --------------------------------------------------------------------------- public functions
def linear(input, weight, bias=None):
    if input.is_nested:  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("linear", input, weight, bias)
    x, w = input._data, weight._data
    ws = w.shape
    if (len(ws) == 2 and x.ndim and x.shape[-1] == ws[1] and x.dtype is w.dtype and x.dtype not in _BARE
            and (bias is None or (bias._data.shape == ws[:1] and bias._data.dtype is w.dtype))):
        return Linear.apply(input, weight, bias)  # the usual case, checked in few steps
    _check_linear(x, w, bias)
    return Linear.apply(input, weight, bias)


_BARE = _dtype.BAREBONES


def _check_linear(x, w, bias):
    """linear's argument errors, worded as PyTorch's (uint16/32/64: its product kernel's)."""
    if x.dtype is w.dtype and w.ndim == 2 and x.ndim:
        _dtype.refuse_barebones("addmm_impl_cpu_", x.dtype)
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        a = x.reshape(_lead(x), x.shape[-1]) if x.ndim else x.reshape(1, 1)
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)"
                           % (a.shape[0], a.shape[1], w.shape[-1], w.shape[0]))
    if x.dtype != w.dtype:
        raise RuntimeError("mat1 and mat2 must have the same dtype, but got %s and %s"
                           % (scalar_type_name(x.dtype), scalar_type_name(w.dtype)))
    if bias is not None and bias._data.shape not in ((w.shape[0],), ()):
        raise RuntimeError("linear: bias must have shape %s, got %s" % (shape_str((w.shape[0],)),
                                                                       shape_str(bias._data.shape)))
    if bias is not None and bias._data.dtype != w.dtype and (bias._data.ndim or x.ndim == 2):
        raise RuntimeError("self and mat2 must have the same dtype, but got %s and %s"  # addmm's
                           % (scalar_type_name(bias._data.dtype), scalar_type_name(w.dtype)))


def _float_input(name, x):
    if x._data.dtype.kind != "f" and x._data.dtype is not _dtype.BF16:
        raise RuntimeError('"%s" not implemented for \'%s\'' % (name, _dtype.scalar_name(x._data.dtype)))


def _softmax_dim(x, dim, dtype):
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f" and x._data.dtype is not _dtype.BF16:
        raise RuntimeError('"softmax" not implemented for \'%s\'' % _dtype.scalar_name(x._data.dtype))
    if dim is None:
        dim = 0 if x._data.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    return x, norm_dim(dim, x._data.ndim)


@U.refuses_softmax("log_softmax")
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if input.is_nested:  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("log_softmax", input, dim, dtype=dtype)
    x, d = _softmax_dim(input, dim, dtype)
    return LogSoftmax.apply(x, d)


@U.refuses_softmax("softmax")
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if input.is_nested:  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("softmax", input, dim, dtype=dtype)
    x, d = _softmax_dim(input, dim, dtype)
    return Softmax.apply(x, d)


def _reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / denom if denom is not None else loss.mean()
    raise ValueError("%s is not a valid value for reduction" % reduction)


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "none" if not reduce else ("mean" if size_average else "sum")
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='%s' instead." % ret,
                  stacklevel=3)
    return ret


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def _cross_entropy_probs(x, target, weight, label_smoothing, reduction, squeeze):
    """cross_entropy with class probabilities as target (x: (N, C, ...))."""
    c = x._data.shape[1]
    logp = log_softmax(x, 1)
    if label_smoothing and c:
        target = target * (1.0 - label_smoothing) + label_smoothing / c
    if weight is not None:
        logp = logp * weight.reshape((1, c) + (1,) * (x._data.ndim - 2))
    loss = -(logp * target).sum(1)
    if squeeze:
        loss = loss.squeeze(0)
    count = (loss._data.size if loss._data.ndim else 1) if c else float("nan")  # torch: numel / C
    return _reduce(loss, reduction, None if reduction != "mean" else make(np.asarray(count, x._data.dtype)))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    dt = input._data.dtype
    if dt is not _dtype.F32 and dt is not _dtype.F64:  # (the float32 / float64 way pays one test)
        if dt.kind != "f" and dt is not _dtype.BF16:
            _float_input("cross_entropy", input)
        if label_smoothing == 0 and target._data.dtype.kind in "iu":  # float16 / bfloat16
            # PyTorch's cross_entropy is log_softmax then nll_loss: the log-probabilities are
            # rounded to the half dtype in between (and so is their gradient)
            return nll_loss(log_softmax(input, 1 if input._data.ndim > 1 else 0), target, weight,
                            ignore_index=ignore_index, reduction=reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError("label_smoothing must be between 0.0 and 1.0. Got: %s" % label_smoothing)
    x = input
    if x._data.ndim == 1:
        x = x.unsqueeze(0)
        target = target.unsqueeze(0)
        squeeze = True
    else:
        squeeze = False
    if target._data.dtype.kind == "f" or target._data.dtype is _dtype.BF16:  # class probabilities
        if target._data.shape != x._data.shape:
            raise RuntimeError("cross_entropy: probability target of shape %s does not match input %s"
                               % (shape_str(target._data.shape), shape_str(x._data.shape)))
        return _cross_entropy_probs(x, target, weight, label_smoothing, reduction, squeeze)
    if target._data.dtype.kind not in "iu":
        raise RuntimeError("expected scalar type Long but found %s" % target.dtype.name.capitalize())
    if x._data.ndim > 2:  # (N, C, d1, ...) -> (N*d1*..., C)
        c = x._data.shape[1]
        _no_classes(x, target)
        if target._data.shape != (x._data.shape[0],) + x._data.shape[2:]:
            raise RuntimeError("Expected target size %s, got %s" % (
                shape_str((x._data.shape[0],) + x._data.shape[2:]), shape_str(target._data.shape)))
        spatial = target._data.shape
        x = x.movedim(1, -1).reshape(x._data.shape[0] * int(np.prod(x._data.shape[2:])), c)
        target = target.reshape(-1)
    else:
        spatial = None
        if target._data.shape != (x._data.shape[0],):
            raise ValueError("Expected input batch_size (%d) to match target batch_size (%d)."
                             % (x._data.shape[0], target._data.shape[0] if target._data.ndim else 1))
    c = x._data.shape[1]
    t = target._data.astype(np.int64, copy=False)  # the kernel checks every index is in range
    if weight is not None and weight._data.shape != (c,):
        raise RuntimeError("weight tensor should be defined either for all %d classes or no classes but "
                           "got weight tensor of shape: %s" % (c, shape_str(weight._data.shape)))
    if weight is not None and weight._data.dtype != x._data.dtype:
        weight = weight.to(x.dtype)
    if reduction == "none":
        loss = CrossEntropy.apply(x, make(t), weight, ignore_index, float(label_smoothing))
        if spatial is not None:
            return loss.reshape(spatial)
        return loss.squeeze(0) if squeeze else loss
    if reduction != "sum" and reduction != "mean":
        raise ValueError("%s is not a valid value for reduction" % reduction)
    return CrossEntropy.apply(x, make(t), weight, ignore_index, float(label_smoothing), reduction)


def _no_classes(x, target):
    """torch's error for (N, 0, d1, ...) inputs, whose view as (N, 0, 1, -1) loses the spatial size."""
    if x._data.shape[1] == 0:
        t = target._data.shape
        raise RuntimeError("size mismatch (got input: %s , target: %s" % (
            shape_str((x._data.shape[0], 0, 0, 0)), shape_str((t[0] if t else 0, 1, int(np.prod(t[1:]))))))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    dt = input._data.dtype
    if dt is _dtype.F16 or dt is _dtype.BF16:
        return _nll_loss(input, target, weight, ignore_index, reduction, True)
    return _nll_loss(input, target, weight, ignore_index, reduction, False)


def _nll_loss(input, target, weight, ignore_index, reduction, half):
    x = input if input._data.ndim > 1 else input.unsqueeze(0)
    t = target if input._data.ndim > 1 else target.unsqueeze(0)
    if x._data.ndim > 2:
        c = x._data.shape[1]
        _no_classes(x, t)
        spatial = t._data.shape
        x = x.movedim(1, -1).reshape(x._data.shape[0] * int(np.prod(x._data.shape[2:])), c)
        t = t.reshape(-1)
    else:
        spatial = None
    c = x._data.shape[1]
    if weight is not None and weight._data.shape != (c,):
        raise RuntimeError("weight tensor should be defined either for all %d classes or no classes but got weight "
                           "tensor of shape: %s" % (c, shape_str(weight._data.shape)))
    td = t._data.astype(np.int64)
    valid = td != ignore_index
    bad = valid & ((td < 0) | (td >= c))
    if bad.any():
        raise IndexError("Target %d is out of bounds." % int(td[bad][0]))
    if half and spatial is None and (reduction == "mean" or reduction == "sum"):
        # a float16/bfloat16 (N, C) input: PyTorch's kernel sums in the half dtype (_ops/half.py)
        rows = np.flatnonzero(valid)
        return H.NllLossHalf.apply(x, rows, td[rows], weight, reduction == "mean")
    safe = np.where(valid, td, 0)
    if half:  # other reductions and shapes: in float32, rounded once
        return _nll_loss_float32(x, input._data.ndim, weight, valid, safe, spatial, reduction)
    return _nll_loss_float32.__wrapped__(x, input._data.ndim, weight, valid, safe, spatial, reduction)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def _nll_loss_float32(x, ndim, weight, valid, safe, spatial, reduction):
    picked = x.gather(1, make(safe[:, None])).squeeze(1)
    w = np.where(valid, 1.0 if weight is None else weight._data[safe], 0.0).astype(x._data.dtype)
    loss = -picked * make(w)
    if not valid.all():  # an ignored row adds exactly 0 (its log-probability may be -inf or nan)
        from fastgrad._ops.elementwise import where

        loss = where(make(valid), loss, make(np.zeros((), loss._data.dtype)))
    if reduction == "none":
        loss = loss.reshape(spatial) if spatial is not None else loss
        return loss if ndim > 1 else loss.squeeze(0)
    with np.errstate(all="ignore"):  # (weights inf and -inf: a NaN total, silently as PyTorch)
        total = np.asarray(w.sum(), x._data.dtype)
    return _reduce(loss, reduction, make(total))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input._data.shape != target._data.shape:
        import warnings

        warnings.warn("Using a target size (%s) that is different to the input size (%s). This will "
                      "likely lead to incorrect results due to broadcasting. Please ensure they have "
                      "the same size." % (shape_str(target._data.shape), shape_str(input._data.shape)),
                      stacklevel=2)
    diff = input - target
    return _reduce(diff * diff, reduction)
