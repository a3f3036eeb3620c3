"""The torch.* spellings of the spatial functional ops (torch.max_pool1d, torch.pixel_shuffle,
torch.group_norm, ...), bound in fastgrad/__init__.py: ATen's signatures (stride=() means the
kernel size, adaptive_max_pool1d returns indices too, instance_norm takes its stats positionally)."""
from fastgrad._ops.normalization_ext import group_norm as _group_norm
from fastgrad._ops.normalization_ext import instance_norm as _instance_norm
from fastgrad._ops.normalization_ext import rms_norm  # noqa: F401
from fastgrad.nn import _functional_pooling as _P
from fastgrad.nn._functional_layers import max_pool2d as _max_pool2d
from fastgrad.nn._functional_pooling import adaptive_avg_pool1d, avg_pool1d  # noqa: F401
from fastgrad.nn._functional_spatial import (channel_shuffle, conv_transpose1d, conv_transpose2d,  # noqa: F401
                                             native_channel_shuffle, pixel_shuffle, pixel_unshuffle)

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d",
           "adaptive_max_pool1d", "conv_transpose1d", "conv_transpose2d", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle", "group_norm", "instance_norm", "rms_norm"]


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
