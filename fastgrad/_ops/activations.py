"""Activation functions (torch.nn.functional). gelu, silu and softplus run one fused kernel
each way (K.*_fwd / K.*_bwd) as an op pair, the backward op with its own backward (the
second derivative) so double backward works; the rest are compositions of elementwise ops."""
import math

import numpy as np

from fastgrad._ops.base import K, Op, make, norm_dim, scalar_type_name
from fastgrad._ops.elementwise import abs, clamp, relu, sigmoid, tanh, where
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


def _zero(x):
    return make(np.zeros((), x._data.dtype))


def _select(g, mask):
    """g where mask else 0 (torch's masked gradients: 0, not inf * 0 = nan)."""
    return where(make(mask), g, _zero(g))


# At nan, torch's gradients of hardtanh, relu6, the shrinks, elu / celu / selu and hardswish
# depend on where the element sits: its vectorized loops (every full vector: all but the last
# n % 16 float32 or n % 8 float64 elements of a contiguous tensor) give 0 (hardtanh, relu6,
# shrinks) or nan (the elus, hardswish), its scalar tail loop passes g. These ops follow the
# vectorized loops, torch's answer for the bulk of any tensor; relu, threshold and leaky_relu,
# the same in both of torch's loops, pass g (leaky_relu: g * slope). The one-sided choices at
# the kinks agree in both loops and are taken from them.
class Hardtanh(Op):
    """clamp(x, lo, hi) (nan stays nan); the gradient is g strictly inside (lo, hi), else 0,
    nan included (torch's hardtanh_backward, vectorized; relu6 is hardtanh(0, 6))."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        d = x._data
        with np.errstate(invalid="ignore"):
            ctx.mask = (d > lo) & (d < hi)
        return np.minimum(np.maximum(d, d.dtype.type(lo)), d.dtype.type(hi))

    @staticmethod
    def backward(ctx, g):
        return _select(g, ctx.mask), None, None

    @staticmethod
    def jvp(ctx, t, *_):
        return _select(t, ctx.mask)


class Hardsigmoid(Op):
    """min(max(x + 3, 0), 6) / 6; the gradient g / 6 strictly inside (-3, 3), 0 elsewhere and
    at nan (torch's hardsigmoid_backward)."""

    @staticmethod
    def forward(ctx, x):
        d = x._data
        t = d.dtype.type
        with np.errstate(invalid="ignore"):
            ctx.mask = (d > -3) & (d < 3)
        return np.minimum(np.maximum(d + t(3), t(0)), t(6)) / t(6)

    @staticmethod
    def backward(ctx, g):
        return _select(g * _ONE_SIXTH, ctx.mask)

    @staticmethod
    def jvp(ctx, t):
        return _select(t * _ONE_SIXTH, ctx.mask)


_ONE_SIXTH = float(np.float32(1.0) / np.float32(6.0))  # torch's constant, 1.0f / 6.0f, in both dtypes


class Hardswish(Op):
    """x * min(max(x + 3, 0), 6) / 6; the gradient (torch's hardswish_backward): 0 where
    x <= -3, g where x >= 3, g * (x / 3 + 1/2) elsewhere (nan: nan)."""

    @staticmethod
    def forward(ctx, x):
        d = x._data
        t = d.dtype.type
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            ctx.masks = (d <= -3, ~(d >= 3))
        return d * np.minimum(np.maximum(d + t(3), t(0)), t(6)) / t(6)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Hardswish._times_derivative(x, g, ctx.masks)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return Hardswish._times_derivative(x, t, ctx.masks)

    @staticmethod
    def _times_derivative(x, g, masks):
        low, mid = masks
        return where(make(low), _zero(g), where(make(mid), g * (x / 3.0 + 0.5), g))


def _elu(x, alpha, scale, input_scale):
    """torch's elu: x > 0 ? x * scale : alpha * scale * expm1(x * input_scale). The branch is
    chosen by a constant mask (nan takes the exponential: nan, as torch's vectorized loop), and
    the exponential never sees a positive input (no inf * 0 in its gradient)."""
    with np.errstate(invalid="ignore"):
        neg = make(~(x._data > 0))
    xn = where(neg, x, _zero(x))
    if input_scale != 1.0:
        xn = xn * input_scale
    pos = x * scale if scale != 1.0 else x
    return where(neg, expm1(xn) * (alpha * scale), pos)


def _float(name, x):
    """x, if floating; else torch's NotImplementedError naming its CPU kernel."""
    if x._data.dtype.kind not in "fc":
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (name, scalar_type_name(x._data.dtype)))
    return x


# --------------------------------------------------------------------------- public functions
def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(_float("GeluKernelImpl", input), approximate == "tanh")


def silu(input, inplace=False):
    return Silu.apply(_float("silu_cpu", input))


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(_float("softplus_cpu", input), float(beta), float(threshold))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    _float("leaky_relu_cpu", input)
    return where(input > 0, input, input * negative_slope)


def elu(input, alpha=1.0, inplace=False):
    return _elu(_float("elu_cpu", input), alpha, 1.0, 1.0)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elu(_float("elu_cpu", input), alpha, 1.0, 1.0 / alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    return _elu(_float("elu_cpu", input), _SELU_ALPHA, _SELU_SCALE, 1.0)


def softsign(input):
    return input / (abs(input) + 1.0)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    d = input._data
    if d.dtype == np.bool_:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if d.dtype.kind not in "fc":  # integers stay integers (the bounds cast to them, as torch)
        return make(np.clip(d, d.dtype.type(min_val), d.dtype.type(max_val)))
    return Hardtanh.apply(input, min_val, max_val)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    return Hardsigmoid.apply(_float("hardsigmoid_cpu", input))


def hardswish(input, inplace=False):
    return Hardswish.apply(_float("hardswish_cpu", input))


def logsigmoid(input):
    return -Softplus.apply(-_float("log_sigmoid_cpu", input), 1.0, float("inf"))


def mish(input, inplace=False):
    _float("mish_cpu", input)
    return input * tanh(softplus(input))


def tanhshrink(input):
    return input - tanh(input)


# The shrinks and threshold choose their branch by a constant mask, as torch's kernels: a nan
# stays nan; its gradient is 0 in the shrinks (the dead zone's, torch's vectorized loop) and g
# in threshold (as relu).
def softshrink(input, lambd=0.5):
    d = _float("softshrink_check", input)._data
    with np.errstate(invalid="ignore"):
        dead = ~((d < -lambd) | (d > lambd))
        above = d > lambd
        zeros = d * 0  # zeros, and nan for nan
    shifted = where(make(above), input - lambd, input + lambd)
    return where(make(dead), make(zeros), shifted)


def hardshrink(input, lambd=0.5):
    d = _float("hardshrink_cpu", input)._data
    with np.errstate(invalid="ignore"):
        dead = ~((d < -lambd) | (d > lambd))
    return where(make(dead), make(np.where(np.isnan(d), d, d.dtype.type(0))), input)


def threshold(input, threshold, value, inplace=False):
    if input._data.dtype == np.bool_:
        raise NotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    with np.errstate(invalid="ignore"):
        below = input._data <= threshold
    return where(make(below), make(np.asarray(value, input._data.dtype)), input)


def glu(input, dim=-1):
    from fastgrad._ops.indexing import chunk

    _float("glu_cpu", input)
    d = norm_dim(dim, input._data.ndim)
    if input._data.shape[d] % 2:
        raise RuntimeError("Halving dimension must be even, but dimension %d is size %d" % (d, input._data.shape[d]))
    a, b = chunk(input, 2, d)
    return a * sigmoid(b)


def prelu(input, weight):
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError("prelu: Type promoting not supported. Got %s and %s"
                           % (scalar_type_name(input._data.dtype), scalar_type_name(weight._data.dtype)))
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
