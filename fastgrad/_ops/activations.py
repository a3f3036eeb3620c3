"""Activation functions (torch.nn.functional). gelu, silu and softplus run one fused kernel
each way (K.*_fwd / K.*_bwd) as an op pair, the backward op with its own backward (the
second derivative) so double backward works; the rest are compositions of elementwise ops."""
import math

import numpy as np

from fastgrad._ops.base import K, Op, check_float, make, norm_dim
from fastgrad._ops.elementwise import abs, clamp, sigmoid, tanh, where
from fastgrad._ops.elementwise import relu as _relu
from fastgrad._ops.math import expm1


class Fused(Op):
    """y = f(x, *params) by kernel K.<kernel>_fwd; backward through the matching Backward op."""

    kernel = None
    Backward = None

    @classmethod
    def forward(cls, ctx, x, *params):
        ctx.params = params
        ctx.save_for_backward(x)
        return getattr(K, cls.kernel + "_fwd")(x._data, np.empty(x._data.shape, x._data.dtype), *params)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        return (cls.Backward.apply(x, g, *ctx.params),) + (None,) * len(ctx.params)

    @classmethod
    def jvp(cls, ctx, t, *params):
        (x,) = ctx.saved_tensors
        return cls.Backward.apply(x, t, *params)


class FusedBackward(Op):
    """g * f'(x, *params) by kernel K.<kernel>_bwd; its own derivative uses d2 = f''(x)."""

    kernel = None

    @classmethod
    def forward(cls, ctx, x, g, *params):
        ctx.params = params
        ctx.save_for_backward(x, g)
        return getattr(K, cls.kernel + "_bwd")(x._data, g._data, np.empty(x._data.shape, x._data.dtype), *params)

    @classmethod
    def backward(cls, ctx, gg):
        x, g = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = gg * g * cls.d2(x, *ctx.params) if need[0] else None
        gg_ = cls.apply(x, gg, *ctx.params) if need[1] else None
        return (gx, gg_) + (None,) * len(ctx.params)

    @classmethod
    def jvp(cls, ctx, tx, tg, *params):
        x, g = ctx.saved_tensors
        out = None if tx is None else tx * g * cls.d2(x, *params)
        if tg is not None:
            t2 = cls.apply(x, tg, *params)
            out = t2 if out is None else out + t2
        return out


_BETA = math.sqrt(2.0 / math.pi)
_KAPPA = 0.044715


class GeluBackward(FusedBackward):
    kernel = "gelu"

    @staticmethod
    def d2(x, approximate):
        if approximate:
            u = (x + x * x * x * _KAPPA) * _BETA
            du = (x * x * (3 * _KAPPA) + 1.0) * _BETA
            t = tanh(u)
            sech2 = 1.0 - t * t
            return sech2 * (du - x * t * du * du + x * x * (3 * _KAPPA * _BETA))
        pdf = (x * x * -0.5).exp() * (1.0 / math.sqrt(2 * math.pi))
        return pdf * (2.0 - x * x)


class Gelu(Fused):
    kernel, Backward = "gelu", GeluBackward


class SiluBackward(FusedBackward):
    kernel = "silu"

    @staticmethod
    def d2(x):
        s = sigmoid(x)
        return s * (1.0 - s) * (2.0 + x * (1.0 - s * 2.0))


class Silu(Fused):
    kernel, Backward = "silu", SiluBackward


class SoftplusBackward(FusedBackward):
    kernel = "softplus"

    @staticmethod
    def d2(x, beta, threshold):
        z = x * beta
        s = sigmoid(z)
        return where(make(z._data > threshold), make(np.zeros((), x._data.dtype)), s * (1.0 - s) * beta)


class Softplus(Fused):
    kernel, Backward = "softplus", SoftplusBackward


def _float(name, x):
    check_float(name, x)
    return x


# --------------------------------------------------------------------------- public functions
def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(_float("GeluKernelImpl", input), approximate == "tanh")


def silu(input, inplace=False):
    return _act(input, inplace, lambda a: Silu.apply(_float("silu", a)), "silu_")


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(_float("softplus", input), float(beta), float(threshold))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _act(input, inplace, lambda a: where(a > 0, a, a * negative_slope), "leaky_relu_")


def elu(input, alpha=1.0, inplace=False):
    return _act(input, inplace, lambda a: where(a > 0, a, expm1(clamp(a, max=0.0)) * alpha), "elu_")


def celu(input, alpha=1.0, inplace=False):
    return _act(input, inplace, lambda a: where(a > 0, a, expm1(clamp(a, max=0.0) / alpha) * alpha), "celu_")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    return _act(input, inplace, lambda a: elu(a, _SELU_ALPHA) * _SELU_SCALE, "selu_")


def softsign(input):
    return input / (abs(input) + 1.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _act(input, inplace, lambda a: clamp(a, min_val, max_val), "hardtanh_")


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input, inplace=False):
    return _act(input, inplace, lambda a: relu6(a + 3.0) / 6.0, "hardsigmoid_")


def hardswish(input, inplace=False):
    return _act(input, inplace, lambda a: a * hardsigmoid(a), "hardswish_")


def logsigmoid(input):
    return -Softplus.apply(_float("log_sigmoid_forward", -input), 1.0, float("inf"))


def mish(input, inplace=False):
    return _act(input, inplace, lambda a: a * tanh(softplus(a)), "mish_")


def tanhshrink(input):
    return input - tanh(input)


def softshrink(input, lambd=0.5):
    zero = make(np.zeros((), input._data.dtype))
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, zero))


def hardshrink(input, lambd=0.5):
    return where((input > lambd) | (input < -lambd), input, make(np.zeros((), input._data.dtype)))


def threshold(input, threshold, value, inplace=False):
    return _act(input, inplace, lambda a: where(a > threshold, a, make(np.asarray(value, a._data.dtype))),
                "threshold_")


def relu(input, inplace=False):
    """F.relu (torch.relu takes no inplace: fastgrad.relu is the elementwise op's)."""
    return input.relu_() if inplace else _relu(input)


def _act(input, inplace, fn, name):
    """fn(input), or with inplace its result written into input (PyTorch's inplace=True)."""
    if inplace:
        from fastgrad._ops.shape import inplace as write

        return write(input, fn, name=name)
    return fn(input)


def glu(input, dim=-1):
    from fastgrad._ops.indexing import chunk

    d = norm_dim(dim, input._data.ndim)
    if input._data.shape[d] % 2:
        raise RuntimeError("Halving dimension must be even, but dimension %d is size %d" % (d, input._data.shape[d]))
    a, b = chunk(input, 2, d)
    return a * sigmoid(b)


def prelu(input, weight):
    w = weight
    if weight._data.size > 1 and input._data.ndim > 1:
        w = weight.reshape((1, -1) + (1,) * (input._data.ndim - 2))
    return where(input > 0, input, input * w)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    from fastgrad._ops.nn import softmax

    return softmax(-input, dim, dtype=dtype)


__all__ = ["gelu", "silu", "softplus", "leaky_relu", "elu", "celu", "selu", "softsign", "hardtanh", "relu6",
           "hardsigmoid", "hardswish", "logsigmoid", "mish", "tanhshrink", "softshrink", "hardshrink", "threshold",
           "glu", "prelu", "softmin", "relu"]
