"""F.interpolate (modes nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area) and the
deprecated F.upsample* (re-exported by fastgrad.nn.functional).

Every mode but area is separable: along each spatial dim an output position reads one tap
(nearest), two (linear) or four (cubic) input positions with weights, one dim after the other:
a matmul with the dim's interpolation matrix (or index_select's times weights), so gradients and
double backward come from those ops. Source positions and weights follow torch's CPU kernels
(UpSample.h), computed in the input's float type as torch's opmath does."""
import math
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops.base import float32_compute, make, scalar_type_name
from fastgrad.nn._functional_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, axis_matmul

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_CUBIC_A = -0.75


def _is_integer(x):
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return True
    return isinstance(x, engine.TensorBase) and x._data.dtype.kind in "iu"


def _scale(n_in, n_out, align_corners, scale, dt):
    """torch's area_pixel_compute_scale in the opmath type dt."""
    if align_corners:
        return dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n_in) / dt(n_out)


def _source(scale, n_out, align_corners, cubic, dt):
    """torch's area_pixel_compute_source_index for every output position."""
    i = np.arange(n_out).astype(dt)
    if align_corners:
        return scale * i
    src = scale * (i + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def _guard(src, n_in, dt):
    """torch's guard_index_and_lambda: the tap left of src (at most n_in - 1) and the fraction past it."""
    idx = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.minimum(np.maximum(src - idx.astype(dt), dt(0)), dt(1))
    return idx, lam.astype(dt)


def _cubic_weights(t, dt):
    a = dt(_CUBIC_A)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one, two = dt(1), dt(2)
    return [far(t + one), near(t), near(one - t), far(two - t)]


def _taps(mode, n_in, n_out, align_corners, scale, dt):
    """[(input index per output position, weight per output position or None)] along one dim."""
    if mode in ("nearest", "nearest-exact"):
        s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
        i = np.arange(n_out)
        if mode == "nearest":
            src = np.floor(i.astype(np.float32) * s)
        else:
            src = np.floor(((i + 0.5) * np.float64(s)).astype(np.float32))
        return [(np.minimum(src.astype(np.int64), n_in - 1), None)]
    if mode == "linear":
        if n_in == n_out:
            return [(np.arange(n_out), None)]
        src = _source(_scale(n_in, n_out, align_corners, scale, dt), n_out, align_corners, False, dt)
        i0, lam1 = _guard(src, n_in, dt)
        i1 = i0 + (i0 < n_in - 1)
        return [(i0, (dt(1) - lam1).astype(dt)), (i1, lam1)]
    src = _source(_scale(n_in, n_out, align_corners, scale, dt), n_out, align_corners, True, dt)  # cubic
    i0, t = _guard(src, n_in, dt)
    return [(np.clip(i0 - 1 + j, 0, n_in - 1), w.astype(dt)) for j, w in enumerate(_cubic_weights(t, dt))]


_DENSE_MAX = 1 << 22  # entries of a per-dim interpolation matrix applied by matmul


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def _resample(x, mode, out, align_corners, scales):
    """x (N, C, *sp) resampled to spatial size out, one dim after the other. Float inputs take each
    dim's (n_out, n_in) interpolation matrix by one matmul (its gradient is a matmul too: index_add's
    scatter is ~10x slower); non-finite inputs (0 * inf is nan) and integer ones gather the taps."""
    dt = x._data.dtype.type if _dtype.kind(x._data.dtype) == "f" else np.float32
    dense = _dtype.kind(x._data.dtype) == "f" and bool(np.isfinite(x._data).all())
    y = x
    for i, n_out in enumerate(out):
        d = 2 + i
        n_in = x.shape[d]
        taps = _taps(mode, n_in, n_out, align_corners, None if scales is None else scales[i], dt)
        if len(taps) == 1 and taps[0][1] is None and n_in == n_out and np.array_equal(taps[0][0], np.arange(n_out)):
            continue
        if dense and n_in * n_out <= _DENSE_MAX:
            m = np.zeros((n_out, n_in), dt)
            rows = np.arange(n_out)
            for idx, w in taps:
                np.add.at(m, (rows, idx), 1 if w is None else w)
            y = axis_matmul(y, m, d)
            continue
        acc = None
        with np.errstate(invalid="ignore"):  # 0 * inf is nan, as in torch's kernels, without a warning
            for idx, w in taps:
                term = y.index_select(d, make(idx))
                if w is not None:
                    term = term * make(w.astype(x._data.dtype).reshape((-1,) + (1,) * (len(out) - 1 - i)))
                acc = term if acc is None else acc + term
        y = acc
    return y


def _check_sizes(x, out, dim):
    sp = tuple(x.shape[2:])
    if min(sp) <= 0 or min(out) <= 0:
        names = ("D", "H", "W")[3 - dim:]
        if dim == 1:
            raise RuntimeError(f"Input and output sizes should be greater than 0, but got input (W: {sp[0]}) and "
                               f"output (W: {out[0]})")
        fmt = ", ".join("%s: %%d" % n for n in names)
        raise RuntimeError("Input and output sizes should be greater than 0, but got input (" + fmt % sp
                           + ") output (" + fmt % tuple(out) + ")")
    if x.shape[1] == 0:
        raise RuntimeError(f"Non-empty {dim + 2}D data tensor expected but got a tensor with sizes "
                           f"[{', '.join(str(n) for n in x.shape)}]")


_MODES_MSG = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_NEEDS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize the spatial dims of (N, C, *spatial) input to `size`, or scale them by `scale_factor`."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                             "bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    elif size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError("Input and output must have the same number of spatial dimensions, but got input with "
                                 f"spatial dimensions of {list(input.shape[2:])} and output size of {size}. Please "
                                 "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                                 "...,oK) format.")
            if not all(_is_integer(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, "
                                f"int], but got size with types {[type(x) for x in size]}")
            output_size = [int(v) for v in size]
        else:
            output_size = [int(size) for _ in range(dim)]
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError("Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(input.shape[2:])} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = [float(s) for s in scale_factor]
        else:
            scale_factors = [float(scale_factor) for _ in range(dim)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor is not None and recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor is not None and recompute_scale_factor:
        output_size = [math.floor(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    if mode == "lanczos" and input.dim() == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if mode in _NEEDS and 3 <= input.dim() <= 5 and input.dim() != _NEEDS[mode] and not (
            mode == "bicubic" and input.dim() != 4):
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {_NEEDS[mode]}D input")
    known = mode in ("nearest", "nearest-exact", "area") or _NEEDS.get(mode) == input.dim()
    if not known or not 3 <= input.dim() <= 5:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for "
                                  f"the modes: {_MODES_MSG} (got {mode})")
    if antialias or mode == "lanczos":
        raise NotImplementedError(f"interpolate: antialias=True ({mode}) is not supported")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1](input, output_size)
    if output_size is None:  # C++'s compute_output_size: the product truncated to an integer
        output_size = [int(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
    _check_sizes(input, output_size, dim)
    kind = "nearest" if mode.startswith("nearest") else ("cubic" if mode == "bicubic" else "linear")
    if kind != "nearest" and _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError(f"\"upsample_{mode}{dim}d_channels_last\" not implemented for "
                                  f"'{scalar_type_name(input._data.dtype)}'")
    return _resample(input, mode if kind == "nearest" else kind, output_size, align_corners, scale_factors)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
