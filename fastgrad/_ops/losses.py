"""Loss functions (torch.nn.functional) other than the fused cross_entropy / nll_loss / mse_loss
in nn.py. Each follows PyTorch's ATen definition term for term (so values, gradients, and the
places where they are inf or NaN agree): BCE as an op with PyTorch's clamped logs and clamped
denominator, the rest compositions of differentiable ops."""
import math
import warnings

import numpy as np

from fastgrad._ops.activations import Softplus
from fastgrad import _dtype
from fastgrad._ops.base import float32_compute, Op, engine, is_tensor, make, scalar_type_name, shape_str
from fastgrad._ops.elementwise import abs, clamp, exp, log, minimum, where
from fastgrad._ops.math import log1p
from fastgrad._ops.nn import _legacy_reduction, _reduce
from fastgrad._ops.nn_functional import _clamp_min_no_grad, pairwise_distance
from fastgrad._ops import unsigned as U

_REDUCTIONS = ("none", "mean", "sum")


def _size(shape):
    return "fastgrad.Size([%s])" % ", ".join(str(s) for s in shape)


def _warn_shapes(input, target):
    if input._data.shape != target._data.shape:
        warnings.warn("Using a target size (%s) that is different to the input size (%s). This will likely lead "
                      "to incorrect results due to broadcasting. Please ensure they have the same size."
                      % (_size(target._data.shape), _size(input._data.shape)), stacklevel=3)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError("%s is not a valid value for reduction" % reduction)
    return reduction


def _not_differentiable(fname, argname, t):
    """PyTorch's error for an argument its derivative formula does not cover."""
    if is_tensor(t) and t._requires_grad and engine.is_grad_enabled():
        raise RuntimeError("The function '%s' is not differentiable with respect to argument '%s'. This input "
                           "cannot have requires_grad True." % (fname, argname))


def _zero(x):
    return make(np.zeros((), x._data.dtype))


class _XLogYSelf(Op):
    """xlogy(t, t) with PyTorch's xlogy derivatives: d/dx = xlogy(x != 0, y), d/dy = x / y
    (so NaN at t == 0, as kl_div's target gradient is in PyTorch)."""

    @staticmethod
    def forward(ctx, t):
        ctx.save_for_backward(t)
        d = t._data
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d == 0, np.zeros((), d.dtype), d * np.log(d))

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_tensors
        return g * _XLogYSelf.derivative(t)

    @staticmethod
    def jvp(ctx, tt):
        (t,) = ctx.saved_tensors
        return tt * _XLogYSelf.derivative(t)

    @staticmethod
    def derivative(t):
        """xlogy(t != 0, t) + t / t, the last term 1 (NaN at 0) as a constant: its derivative is 0."""
        d = t._data
        nz = make(d != 0)
        one_or_nan = make(np.where(d != 0, d.dtype.type(1), d.dtype.type(np.nan)))
        return where(nz, log(where(nz, t, make(np.ones((), d.dtype)))), _zero(t)) + one_or_nan


# --------------------------------------------------------------------------- regression losses
@U.refuses("add_stub")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    _warn_shapes(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        if weight._data.shape != input._data.shape:
            raise ValueError("Weights and input must have the same size.")
        err = abs(input - target) * weight
        if reduction == "none":
            return err
        if reduction == "sum":
            return err.sum()
        if reduction == "mean":
            return err.sum() / weight.sum()
        raise ValueError("Invalid reduction mode: %s. Expected one of 'none', 'mean', 'sum'." % reduction)
    return _reduce(abs(input - target), _check_reduction(reduction))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _warn_shapes(input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = abs(input - target)
    if beta == 0:
        return _reduce(d, reduction)
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _warn_shapes(input, target)
    if weight is None:
        _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = abs(input - target)
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        if weight._data.shape != input._data.shape:
            raise ValueError("Weights and input must have the same size.")
        loss = loss * weight
        if reduction not in _REDUCTIONS:
            raise ValueError("Invalid reduction mode: %s. Expected one of 'none', 'mean', 'sum'." % reduction)
    return _reduce(loss, reduction)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = target * log(target) - target + 0.5 * log(2 * math.pi * target)
        loss = loss + stirling.masked_fill(make(target._data <= 1), 0)
    return _reduce(loss, reduction)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = make(np.full(input._data.shape, var, input._data.dtype))
    elif (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    vs, xs = var._data.shape, input._data.shape
    if vs != xs:
        if xs[:-1] == vs:
            var = var.unsqueeze(-1)
        elif not (len(xs) == len(vs) and sum(y for x, y in zip(xs, vs) if x != y) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = _clamp_min_no_grad(var, eps)
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)



# --------------------------------------------------------------------------- probabilistic losses
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's EPSILON is a float constant


class BinaryCrossEntropy(Op):
    """PyTorch's binary_cross_entropy: each log clamped at -100 (so 0 and 1 give finite values);
    d/dx = (x - t) / max(x (1 - x), float32(1e-12)), d/dt = -logit(x), both times the weight."""

    @staticmethod
    def forward(ctx, x, t, w):
        a, b = x._data, t._data
        ctx.save_for_backward(x, t)
        ctx.w = w
        with np.errstate(divide="ignore"):
            loss = (b - 1) * np.maximum(np.log1p(-a), -100) - b * np.maximum(np.log(a), -100)
        if w is not None:
            loss = loss * w._data
        return loss.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        need = ctx.needs_input_grad
        if ctx.w is not None:
            g = g * ctx.w
        gx = g * (x - t) / clamp((1.0 - x) * x, min=_BCE_EPS) if need[0] else None
        gt = -log(x / (1.0 - x)) * g if need[1] else None
        return gx, gt, None

    @staticmethod
    def jvp(ctx, tx, tt, tw):
        x, t = ctx.saved_tensors
        w = 1.0 if ctx.w is None else ctx.w
        out = None
        if tx is not None:
            out = tx * (x - t) / clamp((1.0 - x) * x, min=_BCE_EPS) * w
        if tt is not None:
            o2 = -log(x / (1.0 - x)) * tt * w
            out = o2 if out is None else out + o2
        return out


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if target._data.shape != input._data.shape:
        raise ValueError("Using a target size (%s) that is different to the input size (%s) is deprecated. "
                         "Please ensure they have the same size." % (_size(target._data.shape),
                                                                    _size(input._data.shape)))
    _not_differentiable("binary_cross_entropy", "weight", weight)
    if weight is not None:
        try:
            shape = np.broadcast_shapes(target._data.shape, weight._data.shape)
        except ValueError:
            raise RuntimeError("The size of tensor a (%s) must match the size of tensor b (%s)"
                               % (shape_str(target._data.shape), shape_str(weight._data.shape))) from None
        if shape != input._data.shape:
            raise RuntimeError("output with shape %s doesn't match the broadcast shape %s"
                               % (shape_str(input._data.shape), shape_str(shape)))
        if weight._data.dtype != input._data.dtype:
            weight = weight.to(input.dtype)
    x, t = input._data, target._data
    with np.errstate(all="ignore"):  # (bfloat16's comparisons with NaN warn; PyTorch raises only the error)
        x_ok = not x.size or ((x >= 0) & (x <= 1)).all()
        t_ok = not t.size or ((t >= 0) & (t <= 1)).all()
    if not x_ok:
        raise RuntimeError("all elements of input should be between 0 and 1")
    if not t_ok:
        raise RuntimeError("all elements of target should be between 0 and 1")
    return _reduce(BinaryCrossEntropy.apply(input, target, weight), reduction)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """(1 - t) x + (1 + (pw - 1) t) softplus(-x): no exp of a large number anywhere."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if target._data.shape != input._data.shape:
        raise ValueError("Target size (%s) must be the same as input size (%s)"
                         % (_size(target._data.shape), _size(input._data.shape)))
    _not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    _not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    sp = Softplus.apply(-input, 1.0, float("inf"))
    if pos_weight is not None:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * sp
    else:
        loss = (1.0 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


_KL_MEAN_WARNING = ("reduction: 'mean' divides the total loss by both the batch size and the support size."
                    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    else:
        if reduction == "mean":
            warnings.warn(_KL_MEAN_WARNING, stacklevel=2)
        if reduction != "batchmean":
            _check_reduction(reduction)
    if input._data.dtype.kind == "c" or target._data.dtype.kind == "c":
        raise RuntimeError("kl_div: Complex inputs not supported.")
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = _XLogYSelf.apply(target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input._data.shape[0] if input._data.ndim else total
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- margin losses
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if not (input1._data.ndim == input2._data.ndim == target._data.ndim):
        raise RuntimeError("margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           "input1: %s, input2: %s, target: %s " % (_size(input1._data.shape),
                                                                     _size(input2._data.shape),
                                                                     _size(target._data.shape)))
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    zero = _zero(input)
    margin_clamp = clamp(margin - input, min=0)
    out = where(target != 1, margin_clamp, zero) + where(target != -1, input, zero)
    return _reduce(out, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _not_differentiable("soft_margin_loss", "target", target)
    return _reduce(log1p(exp(-input * target)), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    from fastgrad._ops.activations import logsigmoid

    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input._data.ndim - 1
    loss = loss.sum(class_dim) / input._data.shape[class_dim]
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


_EPSILON = 1e-12


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    tdim = target._data.ndim
    if tdim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if tdim == 1 else 1
    if input1._data.ndim != want or input2._data.ndim != want:
        raise RuntimeError("%dD target tensor expects %dD input tensors, but found inputs with sizes %s and %s."
                           % (tdim, want, shape_str(input1._data.shape), shape_str(input2._data.shape)))
    prod_sum = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + _EPSILON
    mag2 = (input2 * input2).sum(tdim) + _EPSILON
    cos = prod_sum / (mag1 * mag2).sqrt()
    zero = _zero(cos)
    out = where(target == 1, 1 - cos, zero) + where(target == -1, clamp(cos - margin, min=0), zero)
    return _reduce(out, reduction)


def _margin_check(name, input, target):
    """(input as (N, C), target as (N,), batched?) after PyTorch's shape checks."""
    nd = input._data.ndim
    if target._data.dtype != np.int64:
        raise RuntimeError("expected scalar type Long but found %s" % scalar_type_name(target._data.dtype))
    if not ((nd != 0 and input._data.size > 0) or nd <= 2) or nd > 2:
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch size, but got: %s"
                           % shape_str(input._data.shape))
    return nd


def _no_half_kernel(kernel, x):
    """PyTorch's CPU kernel of these losses has no float16/bfloat16 version."""
    if _dtype.is_half(x._data.dtype):
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, scalar_type_name(x._data.dtype)))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight._data.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    nd = _margin_check("multi_margin_loss", input, target)
    nframe = 1 if nd <= 1 else input._data.shape[0]
    dim = 1 if nd == 0 else input._data.shape[-1]
    if target._data.ndim > 1 or target._data.size != nframe:
        raise RuntimeError("multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           "samples (batch size). Expected target size [%d], but got %s. Input has shape %s."
                           % (nframe, shape_str(target._data.shape), shape_str(input._data.shape)))
    if weight is not None and weight._data.size != dim:
        raise RuntimeError("inconsistent weight size, expected %d but got %s" % (dim, shape_str(weight._data.shape)))
    _not_differentiable("multi_margin_loss", "weight", weight)
    _no_half_kernel("multi_margin_loss_cpu_kernel", input)
    y = target._data.reshape(nframe)
    if y.size and (y.min() < 0 or y.max() >= dim):
        raise RuntimeError("target out of range")
    x = input.reshape(nframe, dim)
    xy = x.gather(1, make(y[:, None]))
    z = (margin - xy) + x
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * weight.to(input.dtype)[make(y)].unsqueeze(1)
    keep = (z._data > 0) & (np.arange(dim)[None, :] != y[:, None])
    per = where(make(keep), h, _zero(h)).sum(1) / dim
    if reduction == "none":
        return per.reshape(input._data.shape[:1] if nd == 2 else ())
    if reduction == "mean" and nframe == 0:
        return per.sum()
    return _reduce(per, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    nd = _margin_check("multilabel_margin_loss", input, target)
    ts = target._data.shape
    if nd <= 1:
        dim = 1 if nd == 0 else input._data.shape[0]
        ok = target._data.ndim <= 1 and target._data.size == dim
        nframe = 1
    else:
        nframe, dim = input._data.shape
        ok = target._data.ndim == 2 and ts == (nframe, dim)
    if not ok:
        raise RuntimeError("inconsistent target size: %s for input of size: %s"
                           % (shape_str(ts), shape_str(input._data.shape)))
    y = target._data.reshape(nframe, dim)
    if y.size and (y.min() < -1 or y.max() >= dim):
        raise RuntimeError("argument #2 'target' is out of range")
    _no_half_kernel("multilabel_margin_loss_forward_out_frame", input)
    listed = np.cumprod(y != -1, axis=1).astype(bool)  # positions before the first -1
    idx = np.where(listed, y, 0)
    is_target = np.zeros((nframe, dim), bool)
    rows = np.nonzero(listed)
    is_target[rows[0], y[rows]] = True
    x = input.reshape(nframe, dim)
    xt = x.gather(1, make(idx))  # (N, C): the value at each listed target
    z = 1 - xt.unsqueeze(2) + x.unsqueeze(1)  # (N, j, k)
    keep = listed[:, :, None] & ~is_target[:, None, :] & (z._data > 0)
    per = where(make(keep), z, _zero(z)).sum((1, 2)) / dim
    if reduction == "none":
        return per.reshape(input._data.shape[:1] if nd == 2 else ())
    return _reduce(per, reduction)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if margin <= 0:
        raise ValueError("margin must be greater than 0, got %s" % margin)
    a, pp, n = anchor._data.ndim, positive._data.ndim, negative._data.ndim
    if not (a == pp == n):
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the same number of "
                           "dimensions, but got: anchor %dD, positive %dD, and negative %dD inputs" % (a, pp, n))
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp(margin + d_pos - d_neg, min=0), reduction)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError("margin must be greater than 0, got %s" % margin)
    a, pp, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == pp == n):
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the same number of "
                           "dimensions, but got: anchor %dD, positive %dD, and negative %dD inputs" % (a, pp, n))
    if distance_function is None:
        distance_function = pairwise_distance
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, distance_function(positive, negative))
    loss = clamp(margin + d_pos - d_neg, min=0)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


__all__ = ["l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "kl_div", "poisson_nll_loss", "gaussian_nll_loss", "margin_ranking_loss", "hinge_embedding_loss",
           "soft_margin_loss", "cosine_embedding_loss", "triplet_margin_loss", "multilabel_soft_margin_loss",
           "multi_margin_loss", "multilabel_margin_loss", "triplet_margin_with_distance_loss"]
