"""F.linear_cross_entropy (cross_entropy of a linear layer's logits, K-dimensional when the
weight has extra output dimensions) and F.conv_tbc (1-d convolution on time-batch-channel input)."""
import math
import warnings

__all__ = ["linear_cross_entropy", "conv_tbc"]


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",  # noqa: A002
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...): linear_weight is
    (C, *out_features, in_features); the logits (*batch, C, *out_features). `options` (torch's
    chunked path) computes the same values: fastgrad evaluates the logits at once."""
    from fastgrad._ops.nn import cross_entropy, linear

    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError("expected input with dimensionality 1 or 2, got %d" % input.dim())
    if linear_weight.dim() < 2:
        raise RuntimeError("expected linear_weight with dimensionality at least 2, got %d" % linear_weight.dim())
    num_batches = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), got %d and %d, "
                           "respectively" % (input.shape[-1], linear_weight.shape[-1]))
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError("expected linear_bias shape %s, got %s" % ((num_classes, *out_features),
                                                                      tuple(linear_bias.shape)))
    if out_features and not num_batches:
        raise RuntimeError("K-dimensional loss defined by linear_weight shape %s requires batched input, (N, %d), got "
                           "unbatched input with shape %s" % (tuple(linear_weight.shape), in_features,
                                                              tuple(input.shape)))
    logits_shape = (*num_batches, num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = ignore_index if ignore_index is not None else -100
    if options is not None and (out_features or reduction not in {"mean", "sum", "none"} or label_smoothing != 0.0
                                or str(target.dtype) != "fastgrad.int64"):
        warnings.warn("linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
                      "{'mean','sum','none'}, label_smoothing == 0, target.dtype == int64, out_features == (). Got "
                      "reduction=%r, label_smoothing=%s, target.dtype=%s, out_features=%s, tracing=False, "
                      "linear_bias.shape=%s." % (reduction, label_smoothing, target.dtype, out_features,
                                                 None if linear_bias is None else tuple(linear_bias.shape)),
                      stacklevel=2)
    if out_features:
        n = math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape((n, in_features))
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(n)
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                         label_smoothing=label_smoothing)


def conv_tbc(input, weight, bias, pad=0):  # noqa: A002
    """1-d convolution of input (time, batch, in_channels) with weight (kernel, in_channels,
    out_channels) and bias (out_channels), zero-padded by `pad` steps at both ends; the result is
    (time', batch, out_channels)."""
    from fastgrad.nn._functional_layers import conv1d

    if input.dim() != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.dim() != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, out_channels.")
    if bias.dim() != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)
