"""nn.functional conv3d and conv_transpose3d (re-exported by fastgrad.nn.functional), on the
N-d convolution ops of fastgrad._ops.conv_nd. Errors are torch's, raised before any kernel,
in torch's order (batchify, padding string, weight and parameter checks, shapes, dtypes)."""
import warnings

from fastgrad._ops import conv_nd as CN
from fastgrad._ops.base import scalar_type_name, shape_str
from fastgrad._ops import unsigned as U

__all__ = ["conv3d", "conv_transpose3d"]


def _as_list(v, n):
    """torch's int[n] argument parsing: an int is repeated n times, a sequence is kept as given."""
    if isinstance(v, (tuple, list)):
        return [int(a) for a in v]
    return [int(v)] * n


def _expand(v, name, dim):
    """torch's expand_param_if_needed."""
    if len(v) == 1:
        return v * dim
    if len(v) != dim:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} values to match the "
                           f"convolution dimensions, but got {name}={shape_str(v)}")
    return list(v)


def _batchify(x, nd, name):
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
                           f"of size: {shape_str(x.shape)}")
    return (x.unsqueeze(0), True) if x.dim() == nd + 1 else (x, False)


def _check_common(x, weight, groups):
    dim = weight.dim() - 2
    if dim <= 0:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    return dim


def _check_weight_groups(x, weight, groups):
    ws = tuple(weight.shape)
    if weight.dim() != x.dim():
        raise RuntimeError(f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight "
                           f"{shape_str(ws)}, but got {x.dim()}-dimensional input of size {shape_str(x.shape)} "
                           "instead")
    # twin of nn/_functional_spatial.py _check_transposed_shapes: torch's messages differ
    if ws[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got "
                           f"weight of size {shape_str(ws)} instead")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{shape_str(ws)}] instead")


def _check_dtypes(x, weight, bias):
    if x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x._data.dtype)} but found "
                           f"{scalar_type_name(weight._data.dtype)}")
    if bias is not None and bias._data.dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x._data.dtype)} but found "
                           f"{scalar_type_name(bias._data.dtype)}")


# twin of conv_transpose3d: torch's own pairing; the products differ
def _convolution(x, weight, bias, stride, lo, hi, dilation, groups):
    """The checks of torch's check_shape_forward for a convolution, then the op (batched x)."""
    nd = weight.dim() - 2
    s = _expand(stride, "stride", nd)
    lo = _expand(lo, "padding", nd)
    hi = _expand(hi, "padding", nd)
    d = _expand(dilation, "dilation", nd)
    if min(lo) < 0 or min(hi) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(s) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(d) <= 0:
        raise RuntimeError("non-positive dilation is not supported")
    _check_weight_groups(x, weight, groups)
    ws = tuple(weight.shape)
    if x.shape[1] != ws[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {shape_str(ws)}, expected input"
                           f"{shape_str(x.shape)} to have {ws[1] * groups} channels, but got {x.shape[1]} channels "
                           "instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != ws[0]):
        raise RuntimeError(f"Given weight of size {shape_str(ws)}, expected bias to be 1-dimensional with {ws[0]} "
                           f"elements, but got bias of size {shape_str(bias.shape)} instead")
    padded = [x.shape[2 + i] + lo[i] + hi[i] for i in range(nd)]
    ek = [d[i] * (ws[2 + i] - 1) + 1 for i in range(nd)]
    if any(p < k for p, k in zip(padded, ek)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
                           f"size: ({' x '.join(map(str, ek))}). Kernel size can't be greater than actual input size")
    _check_dtypes(x, weight, bias)
    geom = CN.ConvGeom(tuple(x.shape), ws, s, lo, hi, d, groups)
    geom.skip_padding = (any(lo) or any(hi)) and CN.skips_padding(x._data.dtype, geom)
    return CN.ConvNd.apply(x, weight, bias, geom)


def _same_padding(x, weight, stride, dilation):
    """torch's _convolution_same: (lo, hi) per dim, warning when they differ."""
    k = weight.dim()
    if k <= 2:
        raise RuntimeError("weight should have at least three dimensions")
    nd = k - 2
    if k != x.dim():
        raise RuntimeError(f"Expected {k}-dimensional input for {k}-dimensional weight{shape_str(weight.shape)}, "
                           f"but got {x.dim()}-dimensional input of size {shape_str(x.shape)} instead")
    if len(stride) not in (1, nd):
        raise RuntimeError(f"stride cannot broadcast to {nd} dimensions")
    if len(dilation) not in (1, nd):
        raise RuntimeError(f"dilation cannot broadcast to {nd} dimensions")
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    lo, hi = [], []
    for i in range(nd):
        d = dilation[0] if len(dilation) == 1 else dilation[i]
        total = d * (weight.shape[2 + i] - 1)
        lo.append(total // 2)
        hi.append(total - total // 2)
    if lo != hi:
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                      "copy of the input be created", UserWarning, stacklevel=3)
    return lo, hi


@U.refuses("compute_columns3d")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) of (N, C, D, H, W) input with (O, C/groups, kd, kh, kw) weight."""
    x, unbatched = _batchify(input, 3, "conv3d")
    s, d = _as_list(stride, 3), _as_list(dilation, 3)
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = [0]
        elif padding == "same":
            if groups <= 0:
                raise RuntimeError("non-positive groups is not supported")
            lo, hi = _same_padding(x, weight, s, d)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        lo = hi = _as_list(padding, 3)
    _check_common(x, weight, groups)
    y = _convolution(x, weight, bias, s, lo, hi, d, groups)
    return y.squeeze(0) if unbatched else y


# twin of _convolution (torch's own pairing; the products differ) and of _functional_spatial._conv_transpose's checks
@U.refuses("slow_conv_transpose3d_out_cpu")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution of (N, C_in, D, H, W) input with (C_in, C_out / groups, kd, kh, kw) weight."""
    if isinstance(padding, str):
        raise TypeError("conv_transpose3d(): argument 'padding' must be tuple of ints, not str")
    x, unbatched = _batchify(input, 3, "conv_transpose3d")
    nd = _check_common(x, weight, groups)
    s = _expand(_as_list(stride, 3), "stride", nd)
    p = _expand(_as_list(padding, 3), "padding", nd)
    d = _expand(_as_list(dilation, 3), "dilation", nd)
    op = _expand(_as_list(output_padding, 3), "output_padding", nd)
    if min(p) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(op) < 0:
        raise RuntimeError("negative output_padding is not supported")
    if min(s) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(d) <= 0:
        raise RuntimeError("non-positive dilation is not supported")
    _check_weight_groups(x, weight, groups)
    ws = tuple(weight.shape)
    if x.shape[1] != ws[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(ws)}, expected input{shape_str(x.shape)} "
                           f"to have {ws[0]} channels, but got {x.shape[1]} channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != ws[1] * groups):
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(ws)}, expected bias to be 1-dimensional "
                           f"with {ws[1] * groups} elements, but got bias of size {shape_str(bias.shape)} instead")
    if not all(op[i] < s[i] or op[i] < d[i] for i in range(nd)):
        names = ("depth", "height", "width")[3 - nd:] if nd <= 3 else [str(i) for i in range(nd)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                           + " ".join(f"output_padding_{n}: {v}" for n, v in zip(names, op)) + " "
                           + " ".join(f"stride_{n}: {v}" for n, v in zip(names, s)) + " "
                           + " ".join(f"dilation_{n}: {v}" for n, v in zip(names, d)))
    _check_dtypes(x, weight, bias)
    sp = x.shape[2:]
    out = [(sp[i] - 1) * s[i] - 2 * p[i] + d[i] * (ws[2 + i] - 1) + op[i] + 1 for i in range(nd)]
    if min(out) < 1:
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, sp))}). Calculated output size per "
                           f"channel: ({' x '.join(map(str, out))}). Output size is too small")
    y_shape = (x.shape[0], ws[1] * groups) + tuple(out)
    geom = CN.ConvGeom(y_shape, ws, s, p, p, d, groups, out=tuple(sp))  # the convolution of y-shaped inputs
    y = CN.ConvTransposeNd.apply(x, weight, bias, geom)
    return y.squeeze(0) if unbatched else y
