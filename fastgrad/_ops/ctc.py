"""Connectionist temporal classification loss (torch.nn.functional.ctc_loss).

The op returns each sample's negative log likelihood from the forward (alpha) recursion over
the blank-extended target, in log space, in the input's dtype. Its backward is PyTorch's:
grad = exp(log_probs) - exp(log(sum of alpha * beta over the positions of each class) + nll -
log_probs), the form that assumes log_probs came from log_softmax (so log_probs.grad equals
PyTorch's, not the plain derivative; the logits' gradient is the same either way). Like
PyTorch's, that backward is not itself differentiable. The reductions are ops on the result."""
import numpy as np

from fastgrad._ops.base import Op, engine, is_tensor, make


def _lse(*arrays):
    """logsumexp of same-shape arrays, elementwise; -inf where all are -inf."""
    m = arrays[0]
    for a in arrays[1:]:
        m = np.maximum(m, a)
    safe = np.where(np.isneginf(m), 0, m)
    with np.errstate(divide="ignore"):
        return np.log(sum(np.exp(a - safe) for a in arrays)) + safe


def _extended(target, blank):
    ext = np.full(2 * len(target) + 1, blank, np.int64)
    ext[1::2] = target
    return ext


def _alpha_beta(lp, ext):
    """log_alpha and log_beta (T, 2S+1) of one sample (lp: (T, C), its first input_length steps);
    ext[0] is the blank."""
    T, L = lp.shape[0], len(ext)
    ninf = lp.dtype.type(-np.inf)
    emit = lp[:, ext]  # (T, L)
    skip = np.zeros(L, bool)  # s - 2 -> s is allowed onto a label that differs from the one two back
    skip[2:] = (ext[2:] != ext[0]) & (ext[2:] != ext[:-2])
    alpha = np.full((T, L), ninf, lp.dtype)
    alpha[0, 0] = emit[0, 0]
    if L > 1:
        alpha[0, 1] = emit[0, 1]
    for t in range(1, T):
        a = alpha[t - 1]
        s1 = np.concatenate(([ninf], a[:-1]))
        s2 = np.where(skip, np.concatenate(([ninf, ninf], a[:-2]))[:L], ninf)
        alpha[t] = _lse(a, s1, s2) + emit[t]
    beta = np.full((T, L), ninf, lp.dtype)
    beta[T - 1, L - 1] = emit[T - 1, L - 1]
    if L > 1:
        beta[T - 1, L - 2] = emit[T - 1, L - 2]
    skip_next = np.zeros(L, bool)  # s -> s + 2 is allowed when s + 2 may come from s
    skip_next[:-2] = skip[2:]
    for t in range(T - 2, -1, -1):
        b = beta[t + 1]
        s1 = np.concatenate((b[1:], [ninf]))
        s2 = np.where(skip_next, np.concatenate((b[2:], [ninf, ninf]))[:L], ninf)
        beta[t] = _lse(b, s1, s2) + emit[t]
    return alpha, beta


class CTCLoss(Op):
    """(T, N, C) log_probs -> (N,) negative log likelihoods."""

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        lp = log_probs._data
        T, N, C = lp.shape
        nll = np.empty(N, lp.dtype)
        ctx.cache = []
        for n in range(N):
            ext = _extended(targets[n], blank)
            alpha, beta = _alpha_beta(lp[:input_lengths[n], n], ext)
            L = len(ext)
            last = alpha[-1, L - 1] if L == 1 else _lse(alpha[-1, L - 1:L], alpha[-1, L - 2:L - 1])[0]
            nll[n] = -last
            ctx.cache.append((ext, alpha, beta))
        ctx.in_lens, ctx.zero_infinity = input_lengths, zero_infinity
        ctx.save_for_backward(log_probs)
        ctx.nll = nll
        if zero_infinity:
            return np.where(np.isposinf(nll), lp.dtype.type(0), nll)
        return nll

    @staticmethod
    def derivative(ctx, lp):
        """d nll / d log_probs as PyTorch's backward has it, (T, N, C); 0 past each input length
        and for the samples zero_infinity zeroes."""
        T, N, C = lp.shape
        out = np.zeros_like(lp)
        for n in range(N):
            ext, alpha, beta = ctx.cache[n]
            Tn, nll = ctx.in_lens[n], ctx.nll[n]
            if ctx.zero_infinity and np.isposinf(nll):
                continue
            ab = alpha + beta  # (Tn, L)
            lcab = np.full((Tn, C), -np.inf, lp.dtype)
            for c in np.unique(ext):
                lcab[:, c] = _lse(*[ab[:, s] for s in np.nonzero(ext == c)[0]])
            x = lp[:Tn, n]
            with np.errstate(over="ignore", invalid="ignore"):
                out[:Tn, n] = np.exp(x) - np.exp(lcab + nll - x)
        return out

    @staticmethod
    def backward(ctx, g):
        (log_probs,) = ctx.saved_tensors
        grad = make(CTCLoss.derivative(ctx, log_probs._data) * g._data[None, :, None])
        if engine.is_grad_enabled() and (g._requires_grad or log_probs._requires_grad):
            grad = _NoDerivative.apply(grad, g, log_probs)  # create_graph=True: a double backward raises
        return grad, None, None, None, None, None

    @staticmethod
    def jvp(ctx, t, *args):
        (log_probs,) = ctx.saved_tensors
        d = CTCLoss.derivative(ctx, log_probs._data)
        return (t * make(d)).sum((0, 2))


class _NoDerivative(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, value, *inputs):
        return value._data

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")

    @staticmethod
    def jvp(ctx, *tangents):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


def _lengths(name, v, n):
    if is_tensor(v):
        v = v._data
    a = np.asarray(v).astype(np.int64).reshape(-1)
    if a.size != n:
        raise RuntimeError("%s must be of size batch_size" % name)
    return a


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("%s is not a valid value for reduction" % reduction)
    unbatched = log_probs._data.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp._data.shape
    tg = targets._data.astype(np.int64)
    if unbatched:
        tg = tg.reshape(1, -1)
    in_lens = _lengths("input_lengths", input_lengths, N)
    tg_lens = _lengths("target_lengths", target_lengths, N)
    if blank < 0 or blank >= C:
        raise RuntimeError("blank must be in label range")
    for n in range(N):
        if in_lens[n] > T:
            raise RuntimeError("Expected input_lengths to have value at most %d, but got value %d (while checking "
                               "arguments for ctc_loss_allocate_outputs)" % (T, in_lens[n]))
    if tg.ndim == 1:  # concatenated targets
        offsets = np.concatenate(([0], np.cumsum(tg_lens)))
        seqs = [tg[offsets[n]:offsets[n + 1]] for n in range(N)]
    else:
        if tg_lens.size and tg_lens.max() > tg.shape[1]:
            raise RuntimeError("Expected tensor to have size at least %d at dimension 1, but got size %d for "
                               "argument #2 'targets' (while checking arguments for ctc_loss_allocate_outputs)"
                               % (tg_lens.max(), tg.shape[1]))
        seqs = [tg[n, :tg_lens[n]] for n in range(N)]
    nll = CTCLoss.apply(lp, seqs, in_lens, tg_lens, int(blank), bool(zero_infinity))
    if unbatched:
        nll = nll.squeeze(0)
    if reduction == "mean":
        denom = make(np.maximum(tg_lens, 1).astype(nll._data.dtype).reshape(nll._data.shape))
        return (nll / denom).mean()
    if reduction == "sum":
        return nll.sum()
    return nll


__all__ = ["ctc_loss"]
