"""nn.LinearCrossEntropyLoss (a Linear layer followed by cross entropy, F.linear_cross_entropy)
and nn.LinearCrossEntropyOptions (torch's chunking configuration; fastgrad computes the logits at
once, so the options select nothing but are validated and kept)."""
import dataclasses
import math

from fastgrad.nn import functional as F
from fastgrad.nn.modules.linear import Linear
from fastgrad.nn.modules.loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]


@dataclasses.dataclass(slots=True, frozen=True)
class LinearCrossEntropyOptions:
    """Configuration of torch's chunked linear_cross_entropy (batch rows per chunk, accumulation)."""

    allow_retain_graph: bool = False
    batch_chunk_size: int = None
    chunking_method: str = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None


class LinearCrossEntropyLoss(_WeightedLoss):
    """cross_entropy(self.linear(input) reshaped to (N, C, *out_features), target)."""

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None, dtype=None,
                 reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, options=None):
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError("expected weight shape to be %s, got %s" % ((num_classes,), tuple(weight.shape)))
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError("expected label_smoothing to be in range [0, 1], got %s" % label_smoothing)
        super().__init__(weight=weight, size_average=None, reduce=None, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias, device=device,
                             dtype=dtype)
        self.options = options

    def forward(self, input, target):  # noqa: A002
        w = self.linear.weight.reshape((self.num_classes, *self.out_features, self.linear.in_features))
        b = (self.linear.bias.reshape((self.num_classes, *self.out_features)) if self.linear.bias is not None
             else None)
        return F.linear_cross_entropy(input, w, target, linear_bias=b, weight=self.weight, reduction=self.reduction,
                                      ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                                      options=self.options)

    def extra_repr(self):
        return ("in_features=%s, num_classes=%s, out_features=%s, bias=%s, reduction=%s, ignore_index=%s, "
                "label_smoothing=%s, options=%s" % (self.linear.in_features, self.num_classes, self.out_features,
                                                    self.linear.bias is not None, self.reduction, self.ignore_index,
                                                    self.label_smoothing, self.options))
