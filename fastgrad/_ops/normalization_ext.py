"""Normalization beyond batch / layer norm: group_norm, instance_norm, rms_norm,
local_response_norm and the cross-map LRN of nn.CrossMapLRN2d (re-exported by
fastgrad.nn.functional). Group and instance norm reshape to (N, groups, -1) and use
layers.Normalize (whose backward is written with differentiable ops); rms_norm and the LRNs
compose elementwise ops and reductions. Errors are torch's, raised before any computation."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops import half as H
from fastgrad._ops import layers as L
from fastgrad._ops.base import float32_compute, make, scalar_type_name, shape_str
from fastgrad._ops.nn_functional import pad
from fastgrad._ops.spatial import tensor_unfold

__all__ = ["group_norm", "instance_norm", "rms_norm", "local_response_norm"]


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalize each group of num_groups channel groups over its channels and spatial positions."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[:2]
    size = [n * c // num_groups, num_groups] + list(input.shape[2:])
    if int(np.prod([size[0]] + size[2:])) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {shape_str(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):  # (torch shows the weight's shape for both)
            shown = shape_str(weight.shape) if weight is not None else "[0]"
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, but "
                               f"got {name} of shape {shown} and input of shape {shape_str(input.shape)}")
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError("\"GroupNormKernelImpl\" not implemented for "
                                  f"'{scalar_type_name(input._data.dtype)}'")
    per_group = c // num_groups * int(np.prod(input.shape[2:], dtype=np.int64))
    y = L.Normalize.apply(input.reshape(n, num_groups, per_group), (2,), float(eps)).reshape(tuple(input.shape))
    if per_group == 0 and n and weight is not None:
        # torch's dgamma = sum_n (ds - db * mean) * rstd: the statistics of an empty group are NaN,
        # so the weight's gradient is NaN (the output is empty either way)
        weight = weight * make(np.array(np.nan, weight._data.dtype))
    return _affine(y, weight, bias, (1, c) + (1,) * (input.dim() - 2))


def _instance_norm_empty(input, weight, bias, n):
    """torch's batch_norm on an empty input (instance_norm runs it on (1, N * C, ...) with the
    weight and bias repeated N times): no checks, no statistics; input * weight[0] + bias[0]."""
    y = input.clone()
    for t, combine in ((weight, lambda a, b: a * b), (bias, lambda a, b: a + b)):
        if t is not None:
            rep = t.repeat(n) if t.dim() == 1 else t
            if rep.shape[0] == 0:
                raise IndexError("select(): index 0 out of range for tensor of size [0] at dimension 0")
            y = combine(y, rep[0])
    return y


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-05):
    """Normalize each (sample, channel) over its spatial positions; with running stats given and
    use_input_stats, update them in place by the batch average of the instance statistics."""
    if use_input_stats and int(np.prod(input.shape[2:])) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.size()!r}")
    n, c = input.shape[:2]
    if input.numel() == 0:
        return _instance_norm_empty(input, weight, bias, n)
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.numel() * n != n * c:
            raise RuntimeError(f"{name} should contain {n * c} elements not {t.numel() * n}")
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError(f"\"batch_norm\" not implemented for '{scalar_type_name(input._data.dtype)}'")
    if _dtype.is_half(input._data.dtype):  # PyTorch's kernel: float32, rounded once; the stats too
        if not use_input_stats:
            return _instance_norm_float32(input, running_mean, running_var, weight, bias, False, momentum, eps)
        y = _instance_norm_float32(input, None, None, weight, bias, True, momentum, eps)
        H.update_running_stats(input, tuple(range(2, input.dim())), running_mean, running_var, momentum, True)
        return y
    return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    c = input.shape[1]
    shape = (1, c) + (1,) * (input.dim() - 2)
    if use_input_stats:
        axes = tuple(range(2, input.dim()))
        y = L.Normalize.apply(input, axes, float(eps))
        a = input._data
        size = int(np.prod(a.shape[2:]))
        stats = ((running_mean, lambda: a.mean(axes)), (running_var, lambda: a.var(axes) * (size / (size - 1))))
        for buf, stat in stats:
            if buf is not None:
                buf._data *= 1 - momentum
                buf._data += (momentum * stat().mean(0)).astype(buf._data.dtype)
                buf._vc.value += 1
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        rstd = make((1.0 / np.sqrt(running_var._data + eps)).astype(input._data.dtype).reshape(shape))
        y = (input - running_mean.reshape(shape).to(input.dtype)) * rstd
    return _affine(y, weight, bias, shape)


_instance_norm_float32 = float32_compute(_instance_norm)


@float32_compute  # one kernel in PyTorch (its eps=None: float32's machine epsilon for half inputs)
def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing normalized_shape dims, times weight; eps=None is
    the machine epsilon of the input's dtype."""
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("rms_norm", input, normalized_shape, weight, eps)
    if isinstance(normalized_shape, int):
        raise TypeError("rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not int")
    shape = [int(s) for s in normalized_shape]
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if weight is not None and list(weight.shape) != shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{shape_str(weight.shape)} and normalized_shape = {shape_str(shape)}")
    nd = len(shape)
    if input.dim() < nd or list(input.shape[input.dim() - nd:]) != shape:
        raise RuntimeError(f"Given normalized_shape={shape_str(shape)}, expected input with shape "
                           f"[*{', '.join(str(s) for s in shape)}], but got input of size{shape_str(input.shape)}")
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{scalar_type_name(input._data.dtype)}'")
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    axes = tuple(range(input.dim() - nd, input.dim()))
    y = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return y * weight if weight is not None else y


def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels) ^ beta: torch's average
    pooling of the zero-padded squares over channels, here as the windows' sum / size."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    if dim > 3 and _dtype.is_half(input._data.dtype):  # torch pools with avg_pool3d, which takes no half
        name = scalar_type_name(input._data.dtype)
        raise NotImplementedError(f"\"avg_pool3d_out_frame\" not implemented for '{name}'")
    sq = input.mul(input)
    widths = [0, 0] * (dim - 2) + [size // 2, (size - 1) // 2]  # F.pad's order: last dim first
    div = tensor_unfold(pad(sq, widths), 1, size, 1).sum(-1) / size
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


def cross_map_lrn2d(input, size, alpha=0.0001, beta=0.75, k=1):
    """nn.CrossMapLRN2d's map: x * (k + alpha / size * S)^-beta, S a running sum of x^2 over
    channels, formed as torch's loop forms it (channel 0 stays in every window)."""
    if input.dim() != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.dim()}D instead.")
    c = input.shape[1]
    pre = int((size - 1) / 2 + 1)
    m = np.zeros((c, c))
    for ch in range(c):
        lo = max(1, ch - pre + 1) if ch > pre else 1
        m[ch, 0] = 1.0
        m[ch, lo:min(c, ch + pre)] = 1.0
    sq = (input * input).movedim(1, -1) @ make(m.T.astype(input._data.dtype))
    scale = sq.movedim(-1, 1) * (alpha / size) + k
    return input * scale.pow(-beta)
