"""Losses: cross-entropy forward and backward (twin of csrc/loss.pxi).

The conventions of every kernel are in fastgrad/_kernels_np.py's docstring."""
import operator

import numpy as np

from fastgrad._kernel_checks import _ce_args, _floats, _writeable
from fastgrad._np.reduction import _row_max, _row_sum

__all__ = ["cross_entropy_bwd", "cross_entropy_fwd"]


# --------------------------------------------------------------------------- cross-entropy
def _ce_coefficients(target, w, ignore_index, eps, n_cls, dtype):
    """a[i, c] = (1 - eps) w[y_i] [c == y_i] + eps/C w[c]; zero rows for ignored targets;
    A[i] = sum_c a[i, c]."""
    n = target.shape[0]
    valid = target != ignore_index
    rows = np.nonzero(valid)[0]
    ys = target[rows]
    a = np.zeros((n, n_cls), np.float64)
    big_a = np.zeros(n, np.float64)
    wy = np.ones(len(rows)) if w is None else w[ys].astype(np.float64)
    a[rows, ys] = (1.0 - eps) * wy
    big_a[rows] = (1.0 - eps) * wy
    if eps and n_cls:
        wc = np.ones(n_cls) if w is None else w.astype(np.float64)
        a[rows] += (eps / n_cls) * wc
        big_a[rows] += (eps / n_cls) * float(np.sum(wc, dtype=np.float64))
    return a, big_a, valid


def cross_entropy_fwd(logits, target, weight, ignore_index, label_smoothing, lse_out, loss_out):
    """lse_out[i] = logsumexp(logits[i]); loss_out[i] = sum_c a[i, c] (lse_i - logits[i, c])
    as F.cross_entropy(reduction='none', weight, ignore_index, label_smoothing)."""
    name = "cross_entropy_fwd"
    x, target, w = _ce_args(name, logits, target, weight, ignore_index, (lse_out, loss_out), ())
    _writeable(name, lse_out, "lse_out")
    _writeable(name, loss_out, "loss_out")
    ignore_index, (label_smoothing,) = operator.index(ignore_index), _floats(label_smoothing)
    n, n_cls = x.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        m = _row_max(x)
        shifted = x - m
        logs = np.log(_row_sum(np.exp(shifted)))                     # float64 (N, 1)
        lse_out[...] = (m + logs)[:, 0]
        nlp = logs - shifted                                         # -log p, float64
        # as the compiled loop (and PyTorch): the one-hot term reads only -log p[y], and the smoothing
        # term is added only when label_smoothing != 0, so a -inf logit elsewhere cannot give 0 * inf
        valid = target != ignore_index
        rows = np.nonzero(valid)[0]
        ys = target[rows]
        wy = 1.0 if w is None else w[ys].astype(np.float64)
        loss = np.zeros(n, np.float64)
        if label_smoothing != 0 and len(rows):
            wc = np.ones(n_cls) if w is None else w.astype(np.float64)
            loss[rows] = (label_smoothing / n_cls) * (nlp[rows] * wc).sum(axis=1)
        loss[rows] += (1.0 - label_smoothing) * wy * nlp[rows, ys]
    loss_out[...] = loss
    return loss_out


def cross_entropy_bwd(logits, target, weight, ignore_index, label_smoothing, lse, gloss, out):
    """out[i, j] = gloss[i] * (A_i softmax(logits)[i, j] - a[i, j])."""
    name = "cross_entropy_bwd"
    x, target, w = _ce_args(name, logits, target, weight, ignore_index, (lse, gloss), (out,))
    _writeable(name, out)
    ignore_index, (label_smoothing,) = operator.index(ignore_index), _floats(label_smoothing)
    n, n_cls = x.shape
    lse = np.asarray(lse, order="C").astype(np.float64)
    gloss = np.asarray(gloss, order="C").astype(np.float64)
    a, big_a, valid = _ce_coefficients(target, w, ignore_index, label_smoothing, n_cls, x.dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        # p = q / sum(q), q = exp(x - lse), in float64: lse's rounding (float32: ~5e-4 at logits of
        # 1e4) cancels out, as in the compiled kernel
        q = np.exp(x.astype(np.float64) - lse[:, None])
        p = q / q.sum(axis=1, keepdims=True)
        g = gloss[:, None] * (big_a[:, None] * p - a)
    g[~valid] = 0
    out[...] = g
    return out
