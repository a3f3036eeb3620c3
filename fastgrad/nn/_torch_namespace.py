"""The torch.* spellings of the spatial functional ops (torch.max_pool1d, torch.pixel_shuffle,
torch.group_norm, ...), bound in fastgrad/__init__.py: ATen's signatures (stride=() means the
kernel size, adaptive_max_pool1d returns indices too, instance_norm takes its stats positionally)."""
from fastgrad._ops.normalization_ext import group_norm as _group_norm
from fastgrad._ops.normalization_ext import instance_norm as _instance_norm
from fastgrad._ops.normalization_ext import rms_norm  # noqa: F401
from fastgrad.nn import _functional_pooling as _P
from fastgrad.nn._functional_layers import max_pool2d as _max_pool2d
from fastgrad.nn._functional_pooling import adaptive_avg_pool1d, avg_pool1d  # noqa: F401
from fastgrad.nn._functional_grid import grid_sampler_2d, grid_sampler_3d  # noqa: F401
from fastgrad.nn._native_norm import native_batch_norm, native_group_norm, native_layer_norm  # noqa: F401
from fastgrad.nn._functional_spatial import (channel_shuffle, conv_transpose1d, conv_transpose2d,  # noqa: F401
                                             native_channel_shuffle, pixel_shuffle, pixel_unshuffle)

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d",
           "adaptive_max_pool1d", "conv_transpose1d", "conv_transpose2d", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle", "group_norm", "instance_norm", "rms_norm",
           "conv1d", "conv2d", "conv3d", "conv_transpose3d", "bilinear", "layer_norm", "batch_norm", "embedding",
           "kl_div", "binary_cross_entropy_with_logits", "hinge_embedding_loss", "margin_ranking_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "poisson_nll_loss", "ctc_loss", "frobenius_norm",
           "nuclear_norm", "native_layer_norm", "native_group_norm", "native_batch_norm",
           "grid_sampler_2d", "grid_sampler_3d"]


def _stride(stride):
    return None if stride is None or (isinstance(stride, (tuple, list)) and not stride) else stride


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _P.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _P.max_pool1d_with_indices(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _P.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def adaptive_max_pool1d(input, output_size):
    """The pooled values and their indices."""
    return _P.adaptive_max_pool1d_with_indices(input, output_size)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return _group_norm(input, num_groups, weight, bias, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled):
    return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


# ATen's spellings of nn.functional ops: positional stats and flags, `reduction` as ATen's int
# (0 none, 1 mean, 2 sum; torch's Python bindings default it to 0), embedding(weight, indices).
from fastgrad.nn import functional as _F  # noqa: E402
from fastgrad.nn._functional_conv3d import conv3d, conv_transpose3d  # noqa: E402,F401
from fastgrad.nn._functional_layers import bilinear, conv1d, conv2d  # noqa: E402,F401

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(r):
    if isinstance(r, bool) or not isinstance(r, int) or r not in (0, 1, 2):
        raise RuntimeError("%s is not a valid value for reduction" % (r,))
    return _REDUCTIONS[r]


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return _F.layer_norm(input, normalized_shape, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled):
    return _F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    return _F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                        scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def kl_div(input, target, reduction=0, *, log_target=False):
    return _F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return _F.binary_cross_entropy_with_logits(input, target, weight, reduction=_reduction(reduction),
                                               pos_weight=pos_weight)


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return _F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F.margin_ranking_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return _F.cosine_embedding_loss(input1, input2, target, margin, reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-06, swap=False, reduction=0):
    return _F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return _F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=_reduction(reduction))


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    return _F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _reduction(reduction),
                       zero_infinity)


def _deprecated_norm(name, replacement):
    import warnings

    warnings.warn("at::%s is deprecated and it is just left for JIT compatibility. It will be removed in a future "
                  "PyTorch release. Please use `%s` instead" % (name, replacement), UserWarning, stacklevel=3)


def frobenius_norm(input, dim=(), keepdim=False):
    """Deprecated: linalg.vector_norm(input, 2, dim, keepdim)."""
    from fastgrad import linalg

    _deprecated_norm("frobenius_norm", "linalg.vector_norm(A, 2., dim, keepdim)")
    return linalg.vector_norm(input, 2, dim=tuple(dim) if dim else None, keepdim=keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """Deprecated: linalg.matrix_norm(input, 'nuc', dim, keepdim); dim may also be the keepdim flag."""
    from fastgrad import linalg

    if isinstance(dim, bool):
        dim, keepdim = None, dim
    _deprecated_norm("nuclear_norm", "linalg.matrix_norm(A, 'nuc', dim, keepdim)")
    return linalg.matrix_norm(input, "nuc", dim=tuple(dim) if dim is not None else (-2, -1), keepdim=keepdim)
