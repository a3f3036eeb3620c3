"""Activation functions (torch.nn.functional). gelu, silu and softplus run one fused kernel
each way (K.*_fwd / K.*_bwd) as an op pair, the backward op with its own backward (the
second derivative) so double backward works. The piecewise ones (elu family, hardtanh,
hardsigmoid, hardswish, threshold, leaky_relu) are Pointwise ops: PyTorch's forward on the
array, and PyTorch's backward formula (its masks at the breakpoints, its float constants)
written with differentiable ops. `inplace=True` writes the result into the input through
shape.inplace, as Tensor.add_ does (the same autograd rules)."""
import math
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad import _random
from fastgrad._ops import shape as S
from fastgrad._ops.base import K, Op, engine, float32_compute, make, norm_dim, scalar_type_name
from fastgrad._ops.elementwise import abs, clamp, exp, relu as _relu, sigmoid, tanh, where
from fastgrad._ops import unsigned as U


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


class Pointwise(Op):
    """y = f(x; params) computed by cls.f on the array; dy = cls.df(x, g, *params), written with
    differentiable ops (so double backward and jvp come from the same formula)."""

    @classmethod
    def forward(cls, ctx, x, *params):
        ctx.params = params
        ctx.save_for_backward(x)
        with np.errstate(over="ignore", invalid="ignore"):
            return cls.f(x._data, *params)

    @classmethod
    def backward(cls, ctx, g):
        (x,) = ctx.saved_tensors
        return (cls.df(x, g, *ctx.params),) + (None,) * len(ctx.params)

    @classmethod
    def jvp(cls, ctx, t, *params):
        (x,) = ctx.saved_tensors
        return cls.df(x, t, *params)


def _mask(cond):
    return make(np.asarray(cond))


def _zero_like(g):
    return make(np.zeros((), g._data.dtype))


class Elu(Pointwise):
    """PyTorch's elu(x, alpha, scale, input_scale): x > 0 ? x scale : expm1(x input_scale) alpha scale;
    the gradient for x <= 0 is g * gscale * alpha scale * exp(x gscale), gscale = input_scale except
    for celu, whose derivative formula uses 1 / float(alpha)."""

    @staticmethod
    def f(d, alpha, scale, input_scale, grad_scale):
        c = d.dtype.type
        neg = np.expm1(d * c(input_scale)) * (c(alpha) * c(scale))
        return np.where(d > 0, d * c(scale) if scale != 1 else d, neg).astype(d.dtype, copy=False)

    @staticmethod
    def df(x, g, alpha, scale, input_scale, grad_scale):
        c = x._data.dtype.type
        negcoef = c(alpha) * c(scale)
        neg = g * (c(grad_scale) * negcoef) * exp(clamp(x, max=0.0) * c(grad_scale))  # no inf*0 at large x
        return where(_mask(x._data > 0), g * float(c(scale)) if scale != 1 else g, neg)


class LeakyRelu(Pointwise):
    @staticmethod
    def f(d, slope):
        return np.where(d > 0, d, d * d.dtype.type(slope))

    @staticmethod
    def df(x, g, slope):
        return where(_mask(x._data > 0), g, g * slope)


# At NaN, PyTorch's gradients of hardtanh, relu6, the shrinks, elu / celu / selu and hardswish
# depend on where the element sits: its vectorized loops (every full vector: all but the last
# n % 16 float32 or n % 8 float64 elements of a contiguous tensor) give 0 (hardtanh, relu6, the
# shrinks) or NaN (the elus, hardswish), its scalar tail loop passes g. These ops follow the
# vectorized loops, PyTorch's answer for the bulk of any tensor; relu, threshold and leaky_relu,
# the same in both loops, pass g (leaky_relu: g * slope). The masks below are written so that a
# NaN falls on the vectorized loops' side.
class Hardtanh(Pointwise):
    """clamp(x, lo, hi) (NaN stays NaN); the gradient is g strictly inside (lo, hi), else 0, NaN
    included (PyTorch's hardtanh_backward, vectorized; relu6 is hardtanh(0, 6))."""

    @staticmethod
    def f(d, lo, hi):
        return np.minimum(np.maximum(d, d.dtype.type(lo)), d.dtype.type(hi))

    @staticmethod
    def df(x, g, lo, hi):
        d = x._data
        return where(_mask((d > lo) & (d < hi)), g, _zero_like(g))


_ONE_SIXTH = float(np.float32(1.0) / np.float32(6.0))  # PyTorch's constant, in float in every dtype


class Hardsigmoid(Pointwise):
    @staticmethod
    def f(d):
        c = d.dtype.type
        return np.minimum(np.maximum(d + c(3), c(0)), c(6)) / c(6)

    @staticmethod
    def df(x, g):
        d = x._data
        return where(_mask((d > -3) & (d < 3)), g * _ONE_SIXTH, _zero_like(g))


class Hardswish(Pointwise):
    @staticmethod
    def f(d):
        c = d.dtype.type
        return d * np.minimum(np.maximum(d + c(3), c(0)), c(6)) / c(6)

    @staticmethod
    def df(x, g):
        d = x._data
        mid = g * (x / 3.0 + 0.5)
        return where(_mask(d <= -3), _zero_like(g), where(_mask(~(d >= 3)), mid, g))  # NaN: mid, NaN


class Threshold(Pointwise):
    @staticmethod
    def f(d, threshold, value):
        return np.where(d <= threshold, np.asarray(value).astype(d.dtype), d)

    @staticmethod
    def df(x, g, threshold, value):
        return where(_mask(x._data <= threshold), _zero_like(g), g)


class Shrink(Pointwise):
    """hardshrink (soft=False) and softshrink: 0 on [-lambd, lambd], NaN stays NaN; the gradient
    is g outside [-lambd, lambd], 0 on it and at NaN (the dead zone's, PyTorch's vectorized loop)."""

    @staticmethod
    def f(d, lambd, soft):
        dead = ~((d < -lambd) | (d > lambd))  # NaN included
        zeros = d * d.dtype.type(0)  # zeros, and NaN for NaN (no inf: inf is never dead)
        if not soft:
            return np.where(dead, zeros, d)
        c = d.dtype.type(lambd)
        return np.where(dead, zeros, np.where(d > lambd, d - c, d + c))

    @staticmethod
    def df(x, g, lambd, soft):
        d = x._data
        return where(_mask((d < -lambd) | (d > lambd)), g, _zero_like(g))


class _NoBackward(Op):
    """Passes its input through; its backward raises (PyTorch's in-place leaky_relu_/elu_ with a
    negative slope record a backward that refuses to run)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, message):
        ctx.message = message
        return x._data

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(ctx.message)

    @staticmethod
    def jvp(ctx, t, message):
        return t


_NEG_SLOPE = ("In-place %s backward calculation is triggered with a negative slope which is not supported. This "
              "is caused by calling in-place forward function with a negative slope, please call out-of-place "
              "version instead.")


# --------------------------------------------------------------------------- helpers
def _float_only(kernel, x):
    if x._data.dtype.kind not in "fc" and x._data.dtype is not _dtype.BF16:
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, scalar_type_name(x._data.dtype)))
    return x


def _maybe_inplace(input, inplace, name, fn, *args):
    """fn(input, *args), or its result written into input (PyTorch's name_ variant)."""
    if inplace:
        return S.inplace(input, lambda a: fn(a, *args), name=name)
    return fn(input, *args)


# --------------------------------------------------------------------------- public functions
def relu(input, inplace=False):
    if inplace and getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input.relu_()
    if inplace:
        return S.inplace(input, _relu, name="relu_")
    return _relu(input)


def relu_(input):
    return S.inplace(input, _relu, name="relu_")


def gelu(input, approximate="none"):
    if getattr(input, "is_nested", False):  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("gelu", input, approximate)
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(_float_only("GeluKernelImpl", input), approximate == "tanh")


def _silu(x):
    if x._data.dtype.kind == "c":  # x / (1 + exp(-x)); torch has no complex gradient for it
        if x.requires_grad and engine.is_grad_enabled():
            raise RuntimeError("silu does not support automatic differentiation for outputs with complex dtype.")
        return x / ((-x).exp() + 1)
    return Silu.apply(_float_only("silu_cpu", x))


def silu(input, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("silu", input)
    return _maybe_inplace(input, inplace, "silu_", _silu)


def softplus(input, beta=1.0, threshold=20.0):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("softplus", input, beta, threshold)
    return Softplus.apply(_float_only("softplus_cpu", input), float(beta), float(threshold))


def _leaky_relu(x, slope):
    return LeakyRelu.apply(_float_only("leaky_relu_cpu", x), float(slope))


def _leaky_relu_negative_inplace(x, slope):
    return _NoBackward.apply(_leaky_relu(x, slope), _NEG_SLOPE % "leakyReLu" + " File an issue at https://github.com/"
                             "pytorch/pytorch if you do require supporting in-place leakRelu backward calculation "
                             "with negative slope")


# twin of elu below (the in-place form with a negative slope/alpha needs its own kernel); torch's parameters differ
@U.refuses("leaky_relu_cpu")
def leaky_relu(input, negative_slope=0.01, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("leaky_relu", input, negative_slope, inplace=inplace)
    if inplace and negative_slope < 0:
        return _maybe_inplace(input, True, "leaky_relu_", _leaky_relu_negative_inplace, negative_slope)
    return _maybe_inplace(input, inplace, "leaky_relu_", _leaky_relu, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def _elu(x, alpha, scale=1.0, input_scale=1.0, grad_scale=None):
    _float_only("elu_cpu", x)
    return Elu.apply(x, float(alpha), float(scale), float(input_scale),
                     float(input_scale if grad_scale is None else grad_scale))


def _elu_negative_inplace(x, alpha, fn=_elu):
    return _NoBackward.apply(fn(x, alpha), _NEG_SLOPE % "elu")


# twin of leaky_relu above; torch's parameters differ
@U.refuses("elu_cpu")
def elu(input, alpha=1.0, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("elu", input, alpha, inplace=inplace)
    if inplace and alpha < 0:
        return _maybe_inplace(input, True, "elu_", _elu_negative_inplace, alpha)
    return _maybe_inplace(input, inplace, "elu_", _elu, alpha)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def _celu(x, alpha):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elu(x, alpha, 1.0, 1.0 / alpha, 1.0 / float(np.float32(alpha)))


def celu(input, alpha=1.0, inplace=False):
    if inplace and alpha < 0:
        return _maybe_inplace(input, True, "celu_", _elu_negative_inplace, alpha, _celu)
    return _maybe_inplace(input, inplace, "celu_", _celu, alpha)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _selu(x):
    return _elu(x, _SELU_ALPHA, _SELU_SCALE)


def selu(input, inplace=False):
    return _maybe_inplace(input, inplace, "selu_", _selu)


def selu_(input):
    return selu(input, True)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def softsign(input):
    return input / (abs(input) + 1)


def _hardtanh(x, lo, hi):
    d = x._data
    if d.dtype == np.bool_:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if d.dtype.kind not in "fc" and d.dtype is not _dtype.BF16:  # integers stay integers (the bounds cast to them)
        return make(np.clip(d, d.dtype.type(lo), d.dtype.type(hi)))
    return Hardtanh.apply(x, float(lo), float(hi))


@U.refuses("clamp_scalar_cpu")
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("hardtanh", input, min_val, max_val, inplace=inplace)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, "hardtanh_", _hardtanh, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, True)


@U.refuses("clamp_scalar_cpu")
def relu6(input, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("relu6", input, inplace=inplace)
    return _maybe_inplace(input, inplace, "relu6_", _hardtanh, 0.0, 6.0)


def _hardsigmoid(x):
    return Hardsigmoid.apply(_float_only("hardsigmoid_cpu", x))


def hardsigmoid(input, inplace=False):
    return _maybe_inplace(input, inplace, "hardsigmoid_", _hardsigmoid)


def _hardswish(x):
    return Hardswish.apply(_float_only("hardswish_cpu", x))


def hardswish(input, inplace=False):
    return _maybe_inplace(input, inplace, "hardswish_", _hardswish)


@U.refuses("log_sigmoid_cpu")
def logsigmoid(input):
    return -Softplus.apply(-_float_only("log_sigmoid_cpu", input), 1.0, float("inf"))


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def _mish(x):
    _float_only("mish_cpu", x)
    return x * tanh(softplus(x))


def mish(input, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("mish", input, inplace=inplace)
    return _maybe_inplace(input, inplace, "mish_", _mish)


def tanhshrink(input):
    return input - tanh(input)


# The shrinks and threshold choose their branch by a constant mask, as torch's kernels: a nan
# stays nan; its gradient is 0 in the shrinks (the dead zone's, torch's vectorized loop) and g
# in threshold (as relu).
def softshrink(input, lambd=0.5):
    _float_only("softshrink_check", input)
    if lambd < 0:
        raise RuntimeError("lambda must be in range [0, %g] for input dtype %s, but found %g"
                           % (_dtype.np_finfo(input._data.dtype).max, scalar_type_name(input._data.dtype), lambd))
    return Shrink.apply(input, float(lambd), True)


@U.refuses("hardshrink_cpu")
def hardshrink(input, lambd=0.5):
    return Shrink.apply(_float_only("hardshrink_cpu", input), float(lambd), False)


def _threshold(x, threshold, value):
    if x._data.dtype == np.bool_:
        raise NotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    if x._data.dtype.kind not in "fc" and x._data.dtype is not _dtype.BF16:
        return make(np.where(x._data <= threshold, np.asarray(value).astype(x._data.dtype), x._data))
    return Threshold.apply(x, threshold, value)


@U.refuses("threshold_cpu")
def threshold(input, threshold, value, inplace=False):
    return _maybe_inplace(input, inplace, "threshold_", _threshold, threshold, value)


def threshold_(input, threshold, value):
    return _maybe_inplace(input, True, "threshold_", _threshold, threshold, value)


def _rrelu(x, lower, upper, training, generator=None):
    _float_only("leaky_relu_cpu", x)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return LeakyRelu.apply(x, (lower + upper) / 2)
    d = x._data
    noise = np.ones(d.shape, d.dtype)
    neg = np.ascontiguousarray(d).reshape(-1) <= 0
    if neg.any():  # torch: one uniform_real_distribution<double>(lower, upper) draw per x <= 0, in order
        op = np.float64 if d.dtype == np.float64 else np.float32  # opmath
        lo, hi = float(op(lower)), float(op(upper))
        u = _random.gen(generator)._uniform(int(neg.sum()))
        noise.reshape(-1)[neg] = (u * (hi - lo) + lo).astype(op).astype(d.dtype)
    return x * make(noise)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    return _maybe_inplace(input, inplace, "rrelu_", _rrelu, lower, upper, training)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def glu(input, dim=-1):
    from fastgrad._ops.indexing import chunk

    if input._data.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _float_only("glu_cpu", input)
    d = norm_dim(dim, input._data.ndim)
    if input._data.shape[d] % 2:
        raise RuntimeError("Halving dimension must be even, but dimension %d is size %d" % (d, input._data.shape[d]))
    a, b = chunk(input, 2, d)
    return a * sigmoid(b)


def prelu(input, weight):
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError("prelu: Type promoting not supported. Got %s and %s"
                           % (scalar_type_name(input._data.dtype), scalar_type_name(weight._data.dtype)))
    nd = input._data.ndim
    if weight._data.size != 1:
        if nd == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input._data.shape[1] if nd > 1 else 1
        if channels != weight._data.size:
            raise RuntimeError("Mismatch of parameter numbers and input channel size. Found parameter numbers = %d "
                               "and channel size = %d." % (weight._data.size, channels))
    if weight._data.ndim > 1:
        raise RuntimeError("prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = %d"
                           % weight._data.ndim)
    w = weight
    if nd != weight._data.ndim:
        w = weight.reshape(tuple(weight._data.size if i == 1 else 1 for i in range(nd)))
    with np.errstate(all="ignore"):  # (bfloat16's NaN comparisons warn)
        positive = input._data > 0
    return where(_mask(positive), input, input * w)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    from fastgrad._ops.nn import softmax

    if dim is None:
        warnings.warn("Implicit dimension choice for softmin has been deprecated. Change the call to include "
                      "dim=X as an argument.", stacklevel=_stacklevel)
        dim = 0 if input._data.ndim in (0, 1, 3) else 1
    return softmax(-input, dim, dtype=dtype)


__all__ = ["gelu", "silu", "softplus", "leaky_relu", "elu", "celu", "selu", "softsign", "hardtanh", "relu6",
           "hardsigmoid", "hardswish", "logsigmoid", "mish", "tanhshrink", "softshrink", "hardshrink", "threshold",
           "glu", "prelu", "softmin", "relu", "relu_", "leaky_relu_", "elu_", "celu_", "selu_", "hardtanh_",
           "threshold_", "rrelu", "rrelu_"]
