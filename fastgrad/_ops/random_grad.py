"""The differentiable random ops: torch.normal with tensor mean or std (value = mean + std * eps,
both drawn by the caller on torch's stream) and torch.bernoulli (its draws depend on no gradient of the
probabilities: PyTorch's derivative of bernoulli is zero, and its output still requires grad)."""
import numpy as np

from fastgrad._ops.base import Op, make


class Normal(Op):
    """value = mean + std * eps (drawn by the caller); d/dmean = 1, d/dstd = eps (the tape sums
    broadcast gradients back)."""

    @staticmethod
    def forward(ctx, mean, std, value, eps):
        ctx.eps = eps
        return value

    @staticmethod
    def backward(ctx, g):
        return g, g * _const(g, ctx.eps), None, None

    @staticmethod
    def jvp(ctx, t_mean, t_std, value, eps):
        out = None
        if t_mean is not None:
            out = t_mean
        if t_std is not None:
            part = t_std * _const(t_std, ctx.eps)
            out = part if out is None else out + part
        return out


class Bernoulli(Op):
    """draws (0/1 in p's dtype) with probability p; the gradient of p is zero."""

    @staticmethod
    def forward(ctx, p, draws):
        return draws

    @staticmethod
    def backward(ctx, g):
        return g * 0, None

    @staticmethod
    def jvp(ctx, t, draws):
        return t * 0


def _const(like, arr):
    """arr as a constant tensor of like's dtype."""
    return make(np.asarray(arr, dtype=like._data.dtype))
