"""nn.functional spatial rearrangements: conv_transpose1d / 2d, unfold / fold (im2col / col2im),
pixel_shuffle / pixel_unshuffle and channel_shuffle (re-exported by fastgrad.nn.functional).
Errors are torch's, raised before any computation."""
from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import layers as L
from fastgrad._ops import spatial as SP
from fastgrad._ops.base import scalar_type_name, shape_str
from fastgrad.nn._functional_conv3d import _as_list, _expand as _expand_param  # (torch's int[n] parsing)
from fastgrad._ops import unsigned as U

__all__ = ["conv_transpose1d", "conv_transpose2d", "unfold", "fold", "pixel_shuffle", "pixel_unshuffle",
           "channel_shuffle", "native_channel_shuffle"]


# --------------------------------------------------------------------------- transposed convolution
def _check_transposed_shapes(x, weight, bias, groups):
    """torch's check_shape_forward for a transposed convolution (on the shapes as given)."""
    ws = tuple(weight.shape)
    # twin of nn/_functional_conv3d.py _check_weight_groups: torch's messages differ
    if ws[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got "
                           f"weight of size {shape_str(ws)} instead")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{shape_str(ws)}] instead")
    if x.shape[1] != ws[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(ws)}, expected input{shape_str(x.shape)} "
                           f"to have {ws[0]} channels, but got {x.shape[1]} channels instead")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != ws[1] * groups):
        raise RuntimeError(f"Given transposed=1, weight of size {shape_str(ws)}, expected bias to be 1-dimensional "
                           f"with {ws[1] * groups} elements, but got bias of size {shape_str(bias.shape)} instead")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x._data.dtype)} but found "
                           f"{scalar_type_name(weight._data.dtype)}")


def _conv_transpose_2d(x, weight, bias, s, p, op, groups, d):
    """The 2-D core on batched (N, C, H, W) input; 1-D runs here on height-1 images."""
    ws = tuple(weight.shape)
    if x.shape[0] and x.shape[1] and not all(x.shape[2:]):  # torch's backend selection, before the kernel's checks
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input shape: "
                           f"{shape_str(x.shape)}")
    if d[0] <= 0 or d[1] <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {d[0]}, dilation_width: "
                           f"{d[1]}")
    if not all(op[i] < s[i] or op[i] < d[i] for i in range(2)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                           f"output_padding_height: {op[0]} output_padding_width: {op[1]} stride_height: {s[0]} "
                           f"stride_width: {s[1]} dilation_height: {d[0]} dilation_width: {d[1]}")
    k = ws[2:]
    out = [(x.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(2)]
    if min(out) < 1:
        raise RuntimeError(f"Given input size per channel: ({x.shape[2]} x {x.shape[3]}). Calculated output size per "
                           f"channel: ({out[0]} x {out[1]}). Output size is too small")
    y_shape = (x.shape[0], ws[1] * groups) + tuple(out)
    geom = L._ConvGeom(y_shape, ws, tuple(s), tuple(p), tuple(d), groups)
    geom.out = tuple(x.shape[2:])  # output_padding may leave the convolution of y one window longer
    return SP.ConvTranspose2d.apply(x, weight, bias, geom)


# twin of _functional_conv3d.conv_transpose3d's argument checks: that one expands its own 3-D geometry
def _conv_transpose(nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    name = f"conv_transpose{nd}d"
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input of "
                           f"size: {shape_str(input.shape)}")
    dim = weight.dim() - 2
    if dim <= 0:
        raise RuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    s = _expand_param(_as_list(stride, nd), "stride", dim)
    p = _expand_param(_as_list(padding, nd), "padding", dim)
    d = _expand_param(_as_list(dilation, nd), "dilation", dim)
    op = _expand_param(_as_list(output_padding, nd), "output_padding", dim)
    if min(p) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(op) < 0:
        raise RuntimeError("negative output_padding is not supported")
    if min(s) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    unbatched = input.dim() == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if weight.dim() != nd + 2:
        raise RuntimeError(f"Expected {weight.dim()}-dimensional input for {weight.dim()}-dimensional weight "
                           f"{shape_str(weight.shape)}, but got {x.dim()}-dimensional input of size "
                           f"{shape_str(x.shape)} instead")
    _check_transposed_shapes(x, weight, bias, groups)
    if nd == 1:
        y = _conv_transpose_2d(x.unsqueeze(2), weight.unsqueeze(2), bias, [1] + s, [0] + p, [0] + op, groups,
                               [1] + d).squeeze(2)
    else:
        y = _conv_transpose_2d(x, weight, bias, s, p, op, groups, d)
    return y.squeeze(0) if unbatched else y


@U.refuses("slow_conv_transpose2d_out_cpu")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution of (N, C_in, L) input with (C_in, C_out / groups, k) weight."""
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


@U.refuses("slow_conv_transpose2d_out_cpu")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution of (N, C_in, H, W) input with (C_in, C_out / groups, kh, kw) weight."""
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


# --------------------------------------------------------------------------- unfold / fold
def _pair_arg(name, v):
    v = _as_list(v, 2)
    if len(v) == 1:
        v = v * 2
    if len(v) != 2:
        raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(v)}")
    return v


def _window_checks(k, d, p, s, order):
    msgs = {"k": (k, "kernel size should be greater than zero, but got kernel_height: %d kernel_width: %d"),
            "d": (d, "dilation should be greater than zero, but got dilation_height: %d dilation_width: %d"),
            "p": (p, "padding should be non-negative, but got pad_height: %d pad_width: %d"),
            "s": (s, "stride should be greater than zero, but got stride_height: %d stride_width: %d")}
    for key in order:
        v, msg = msgs[key]
        if (min(v) < 0) if key == "p" else (min(v) <= 0):
            raise RuntimeError(msg % tuple(v))


@U.refuses("im2col_out_cpu")
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of (N, C, H, W) input as columns: (N, C * kh * kw, L) (torch's im2col)."""
    k, d = _pair_arg("kernel_size", kernel_size), _pair_arg("dilation", dilation)
    p, s = _pair_arg("padding", padding), _pair_arg("stride", stride)
    _window_checks(k, d, p, s, "kdps")
    nd = input.dim()
    if nd < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(nd, 1)}, {max(nd, 1) - 1}], but "
                         f"got {nd})")
    if nd not in (3, 4) or any(n == 0 for n in input.shape[nd - 3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           f"dimensions for input, but got: {shape_str(input.shape)}")
    h, w = input.shape[-2:]
    out = [(n + 2 * p[i] - (d[i] * (k[i] - 1) + 1)) // s[i] + 1 for i, n in enumerate((h, w))]
    if min(out) < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of sliding blocks as "
                           f"({out[0]}, {out[1]}), but its components must be at least one.")
    if _dtype.kind(input._data.dtype) not in "fc":
        raise NotImplementedError(f"\"im2col_out_cpu\" not implemented for '{scalar_type_name(input._data.dtype)}'")
    x = input.unsqueeze(0) if nd == 3 else input
    y = SP.Im2Col.apply(x, SP.WinGeom((h, w), k, s, d, p))
    return y.squeeze(0) if nd == 3 else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns (N, C * kh * kw, L) summed back into an (N, C, *output_size) image (torch's col2im)."""
    o = _pair_arg("output_size", output_size)
    k, d = _pair_arg("kernel_size", kernel_size), _pair_arg("dilation", dilation)
    p, s = _pair_arg("padding", padding), _pair_arg("stride", stride)
    _window_checks(k, d, p, s, "ksdp")
    nd = input.dim()
    if nd not in (2, 3) or any(n == 0 for n in input.shape[nd - 2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {shape_str(input.shape)}")
    planes, length = input.shape[-2:]
    if planes % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={planes} and kernel_size=({k[0]}, {k[1]}).")
    blocks = [(o[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    desc = (f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, {d[1]}), "
            f"padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), ")
    if length != blocks[0] * blocks[1]:
        raise RuntimeError(desc + "expected size of input's dimension 2 to match the calculated number of sliding "
                           f"blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={length}.")
    if min(blocks) < 1:
        raise RuntimeError(desc + f"calculated shape of the array of sliding blocks as ({blocks[0]}, {blocks[1]}), "
                           "which is too small (non-positive)")
    if _dtype.kind(input._data.dtype) not in "fc":
        raise NotImplementedError(f"\"col2im_out_cpu\" not implemented for '{scalar_type_name(input._data.dtype)}'")
    x = input.unsqueeze(0) if nd == 2 else input
    y = SP.Col2Im.apply(x, SP.WinGeom(o, k, s, d, p))
    return y.squeeze(0) if nd == 2 else y


# --------------------------------------------------------------------------- shuffles
# twin of other entries in this file: torch's functional wrappers per rank; the ranks differ
@U.refuses("pixel_shuffle")
def pixel_shuffle(input, upscale_factor):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r)."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c, h, w = input.shape[-3:]
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    lead = tuple(input.shape[:-3])
    nb = len(lead)
    x = input.reshape(lead + (c // (r * r), r, r, h, w))
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(lead + (c // (r * r), h * r, w * r))


# twin of other entries in this file: torch's functional wrappers per rank; the ranks differ
@U.refuses("pixel_unshuffle")
def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W)."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    c, h, w = input.shape[-3:]
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h}"
                           f" is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w} "
                           f"is not divisible by {r}")
    if input.numel() == 0:  # torch 2.13 returns a copy of an empty input, in the input's shape
        return input.clone()
    lead = tuple(input.shape[:-3])
    nb = len(lead)
    x = input.reshape(lead + (c, h // r, r, w // r, r))
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(lead + (c * r * r, h // r, w // r))


@U.refuses("channel_shuffle")
def channel_shuffle(input, groups):
    """(N, C, *) with its C channels read as (groups, C / groups) and transposed."""
    if not isinstance(input, engine.TensorBase) or input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes "
                           f"{shape_str(input.shape)}")
    g = int(groups)
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{g}")
    n, c = input.shape[:2]
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {g} groups.")
    rest = tuple(input.shape[2:])
    return input.reshape((n, g, c // g) + rest).transpose(1, 2).reshape((n, c) + rest)


native_channel_shuffle = channel_shuffle
