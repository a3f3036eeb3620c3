"""nn.functional for layers: conv1d, conv2d, max_pool2d, avg_pool2d, batch_norm, layer_norm, embedding,
bilinear (re-exported by fastgrad.nn.functional)."""
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import conv_nd as CN
from fastgrad._ops import half as H
from fastgrad._ops import layers as L
from fastgrad._ops import nn_functional
from fastgrad._ops.base import float32_compute, make, shape_str
from fastgrad._ops.norm_fused import NormAffine
from fastgrad.autograd.grad_mode import no_grad
from fastgrad._ops import unsigned as U

__all__ = ["conv1d", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "layer_norm", "embedding", "bilinear"]


def _pair(v, n=2):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return tuple(v) * n
        return tuple(int(a) for a in v)
    return (int(v),) * n


def _batched(name, x, ndim):
    """x with a batch dim (unbatched inputs get one), and whether it was added."""
    if x.dim() == ndim - 1:
        return x.unsqueeze(0), True
    if x.dim() != ndim:
        raise RuntimeError(f"Expected {ndim - 1}D (unbatched) or {ndim}D (batched) input to {name}, but got "
                           f"input of size: {shape_str(x.shape)}")
    return x, False


def _same_padding(k, d):
    """torch's padding='same': (the padding on both sides, the extra one on the high side) per dim;
    an even effective kernel pads one more after than before, with torch's warning."""
    pads, extra = [], []
    for ki, di in zip(k, d):
        total = di * (ki - 1)
        pads.append(total // 2)
        extra.append(total % 2)
    if any(extra):
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                      "copy of the input be created", UserWarning, stacklevel=3)
    return tuple(pads), tuple(extra)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of (N, C, H, W) input with (O, C/groups, kh, kw) weight."""
    _dtype.refuse_barebones("slow_conv2d_cpu", input._data.dtype)
    x, unbatched = _batched("conv2d", input, 4)
    if weight.dim() != 4:
        raise RuntimeError(f"weight should have at least three dimensions, got {weight.dim()}D weight"
                           if weight.dim() < 3 else f"Expected 4-dimensional weight for 4-dimensional input "
                           f"{shape_str(x.shape)}, but got {weight.dim()}-dimensional weight of size "
                           f"{shape_str(weight.shape)} instead")
    stride, dilation = _pair(stride), _pair(dilation)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            padding, extra = _same_padding(k, dilation)
            if any(extra):
                x = nn_functional.pad(x, (0, extra[1], 0, extra[0]))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    padding = _pair(padding)
    n, c, h, w = x.shape
    if weight.shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got "
                           f"weight of size {shape_str(weight.shape)} instead")
    if c != weight.shape[1] * groups or weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {shape_str(weight.shape)}, expected "
                           f"input{shape_str(x.shape)} to have {weight.shape[1] * groups} channels, but got {c} "
                           "channels instead")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({x.type()}) and weight type ({weight.type()}) should be the same")
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    ek = (dilation[0] * (k[0] - 1) + 1, dilation[1] * (k[1] - 1) + 1)
    if hp < ek[0] or wp < ek[1]:
        raise RuntimeError(f"Calculated padded input size per channel: ({hp} x {wp}). Kernel size: "
                           f"({ek[0]} x {ek[1]}). Kernel size can't be greater than actual input size")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"Given weight of size {shape_str(weight.shape)}, expected bias to be 1-dimensional "
                           f"with {weight.shape[0]} elements, but got bias of size {shape_str(bias.shape)} instead")
    geom = L._ConvGeom(tuple(x.shape), tuple(weight.shape), stride, padding, dilation, groups)
    geom.skip_padding = any(padding) and CN.skips_padding(x._data.dtype, geom)
    if c == 0:  # torch: no input channels give no output channels (not the bias)
        y = x.sum((2, 3), keepdim=True).expand(n, 0, *geom.out)
        return y.squeeze(0) if unbatched else y
    y = L.Conv2d.apply(x, weight, bias, geom)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C, L) input with (O, C/groups, k) weight (conv2d on a height-1 image)."""
    x, unbatched = _batched("conv1d", input, 3)
    if weight.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional weight for 3-dimensional input {shape_str(x.shape)}, but "
                           f"got {weight.dim()}-dimensional weight of size {shape_str(weight.shape)} instead")
    if not isinstance(padding, str):
        padding = (0, _pair(padding, 1)[0])
    y = conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, _pair(stride, 1)[0]), padding,
               (1, _pair(dilation, 1)[0]), groups)
    y = y.squeeze(2)
    return y.squeeze(0) if unbatched else y


@U.refuses("max_pool2d")
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over (kh, kw) windows of (N, C, H, W) input; with return_indices, also the flat H*W indices."""
    k, s, p, d = _pool2d_args("max_pool2d", input, kernel_size, stride, padding, dilation)
    x, unbatched = (input.unsqueeze(0), True) if input.dim() == 3 else (input, False)
    out = _pool2d_out("max_pool2d", x, k, s, p, d, ceil_mode)
    y = L.MaxPool2d.apply(x, k, s, p, d, bool(ceil_mode))
    if return_indices:
        idx = make(y.grad_fn.idx if y.grad_fn is not None else _indices(x, k, s, p, d, ceil_mode))
        if unbatched:
            return y.squeeze(0), idx.squeeze(0)
        return y, idx
    return y.squeeze(0) if unbatched else y


def _pool2d_args(name, x, kernel_size, stride, padding, dilation):
    """(kernel, stride, padding, dilation) pairs of a 2-D pooling, and the checks PyTorch makes
    before it computes the output size, with its messages, in its order."""
    def pair(v, what):
        t = tuple(v) if isinstance(v, (tuple, list)) else (v,)
        if len(t) not in (1, 2):
            raise RuntimeError(f"{name}: {what} must either be a single int, or a tuple of two ints")
        return _pair(t)

    k = pair(kernel_size, "kernel_size")
    s = pair(stride, "stride") if stride not in (None, []) and stride != () else k
    p = pair(padding, "padding")
    d = pair(dilation, "dilation")
    nd = x.dim()
    if nd not in (3, 4):
        if name == "max_pool2d":
            raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
        if nd < 3:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(nd, 1)}, "
                             f"{max(nd, 1) - 1}], but got -3)")
    for i in range(2):  # height, then width
        if s[i] == 0:
            raise RuntimeError("stride should not be zero")
        if p[i] < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p[i]}")
        ek = d[i] * (k[i] - 1) + 1
        if p[i] > (ek // 2 if ek >= 0 else -(-ek // 2)):  # C's division, which truncates
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p[i]}, "
                               f"kernel_size={k[i]} and dilation={d[i]}")
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    if min(s) < 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {d[0]} dilationW: {d[1]}")
    sh = tuple(x.shape)
    if nd not in (3, 4) or 0 in sh[-3:]:  # only the batch may be empty
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
                           f"but got:{shape_str(sh)}")
    if k[1] // 2 < p[1] or k[0] // 2 < p[0]:  # with a dilation, the check above allows more
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got padW = {p[1]}, "
                           f"padH = {p[0]}, kW = {k[1]}, kH = {k[0]}")
    return k, s, p, d


def _pool2d_out(name, x, k, s, p, d, ceil_mode):
    """The output size (oh, ow) of a 2-D pooling of the batched x; PyTorch's error below 1."""
    out = [L._out_size(x.shape[2 + i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(2)]
    if min(out) <= 0:
        raise RuntimeError(f"Given input size: ({x.shape[1]}x{x.shape[2]}x{x.shape[3]}). Calculated output "
                           f"size: ({x.shape[1]}x{out[0]}x{out[1]}). Output size is too small")
    return out


def _indices(x, k, s, p, d, ceil_mode):
    ctx = type("Ctx", (), {})()
    L.MaxPool2d.forward(ctx, x, k, s, p, d, ceil_mode)
    return ctx.idx


@U.refuses("avg_pool2d")
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over (kh, kw) windows of (N, C, H, W) input."""
    k, s, p, d = _pool2d_args("avg_pool2d", input, kernel_size, stride, padding, 1)
    x, unbatched = (input.unsqueeze(0), True) if input.dim() == 3 else (input, False)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    _pool2d_out("avg_pool2d", x, k, s, p, d, ceil_mode)
    y = L.AvgPool2d.apply(x, k, s, p, bool(ceil_mode), bool(count_include_pad), divisor_override)
    return y.squeeze(0) if unbatched else y


def _fused(x, weight, bias, pshape):
    """batch_norm / layer_norm take the fused op: a non-empty float32/float64 input and affine
    parameters of its dtype and of the parameter shape (or None)."""
    dt = x._data.dtype
    if dt not in (np.float32, np.float64) or x._data.size == 0:
        return False
    return all(p is None or (isinstance(p, engine.TensorBase) and p._data.dtype == dt and tuple(p.shape) == tuple(pshape))
               for p in (weight, bias))


def _channel_shape(x):
    return (1, -1) + (1,) * (x.dim() - 2) if x.dim() > 1 else (-1,)  # (a 1-d input: torch takes only an empty one)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-05):
    """Normalize over all dims but dim 1 (channels); in training, update the running stats in place."""
    dt = input._data.dtype
    if dt is _dtype.F16 or dt is _dtype.BF16:
        return _batch_norm_half(input, running_mean, running_var, weight, bias, training, momentum, eps)
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm_half(input, running_mean, running_var, weight, bias, training, momentum, eps):
    """batch_norm of a float16/bfloat16 input: PyTorch's kernel computes it in float32 and
    rounds once (normalization and affine map together), the running stats too."""
    if not training:
        return _batch_norm_float32(input, running_mean, running_var, weight, bias, False, momentum, eps)
    y = _batch_norm_float32(input, None, None, weight, bias, True, momentum, eps)
    H.update_running_stats(input, (0,) + tuple(range(2, input.dim())), running_mean, running_var, momentum)
    return y


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps):
    x = input
    shape = _channel_shape(x)
    if training:
        # values per channel, from the shape as torch counts them (0 channels do not divide it)
        size = x.shape[0] * int(np.prod(tuple(x.shape[2:]))) if x.dim() > 0 else 1
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape!r}")
        if size == 0:  # an empty batch: an empty result, the running statistics untouched (torch)
            y = x * 1.0
            if x.dim() == 1:  # no channel dim
                return y
            if weight is not None:
                y = y * weight.reshape(shape)
            if bias is not None:
                y = y + bias.reshape(shape)
            return y
        axes = (0,) + tuple(range(2, x.dim()))
        if _fused(x, weight, bias, (x.shape[1],)):  # one kernel with the affine map (csrc/norm.pxi)
            y = NormAffine.apply(x, weight, bias, "batch", float(eps))
            weight = bias = None
        else:
            y = L.Normalize.apply(x, axes, float(eps))
        if running_mean is not None or running_var is not None:
            with no_grad():
                L.RunningStats.apply(x, running_mean, running_var, axes, size, momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        with no_grad():
            rstd = L.InvStd.apply(running_var, eps, x._data.dtype, shape)
        y = (x - running_mean.reshape(shape).to(x.dtype)) * rstd
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


_batch_norm_float32 = float32_compute(_batch_norm)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalize over the last len(normalized_shape) dims."""
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("layer_norm", input, normalized_shape, weight, bias, eps)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    _dtype.refuse_barebones("LayerNormKernelImpl", input._data.dtype)
    nd = len(normalized_shape)
    if tuple(input.shape[input.dim() - nd:]) != normalized_shape or input.dim() < nd:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{shape_str(input.shape)}")
    axes = tuple(range(input.dim() - nd, input.dim()))
    if _fused(input, weight, bias, normalized_shape):  # one kernel with the affine map (csrc/norm.pxi)
        return NormAffine.apply(input, weight, bias, nd, float(eps))
    y = L.Normalize.apply(input, axes, float(eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight picked by the integer input; padding_idx's row gets no gradient."""
    if not isinstance(input, engine.TensorBase) or input._data.dtype.kind not in "iu":
        dt = input.dtype if isinstance(input, engine.TensorBase) else type(input).__name__
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar "
                           f"types: Long, Int; but got {dt} instead (while checking arguments for embedding)")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num or padding_idx < -num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx % num if num else padding_idx
    idx = input._data.astype(np.int64, copy=False)
    if idx.size and num == 0:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        with no_grad():
            rows = np.unique(idx)
            norms = np.linalg.norm(weight._data[rows], ord=norm_type, axis=1)
            scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight._data[rows] *= scale[:, None].astype(weight._data.dtype)
            weight._vc.value += 1
    return L.Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o]."""
    o, i1, i2 = weight.shape
    if input1.shape[-1] != i1 or input2.shape[-1] != i2:
        raise RuntimeError(f"bilinear: input sizes {shape_str(input1.shape)}, {shape_str(input2.shape)} do not "
                           f"match weight {shape_str(weight.shape)}")
    w2 = weight.permute(1, 0, 2).reshape(i1, o * i2)
    t = (input1 @ w2).reshape(tuple(input1.shape[:-1]) + (o, i2))
    y = (t * input2.unsqueeze(-2)).sum(-1)
    return y + bias if bias is not None else y
