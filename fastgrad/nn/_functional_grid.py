"""nn.functional affine_grid and grid_sample (2-D and 3-D; bilinear, nearest, and bicubic in 2-D;
padding zeros / border / reflection; align_corners), composed of differentiable ops: the source
coordinates are affine in the grid (torch's clip and reflection rules give each coordinate its
derivative, 0 or +-1), the taps are gathered from the input and weighted by polynomials of the
coordinates. So input and grid get torch's gradients, and double backward works."""
import itertools
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import nn_more as NM
from fastgrad._ops.base import float32_compute, make, scalar_type_name, shape_str
from fastgrad._ops.elementwise import where

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. Please "
                  "specify align_corners=True if the old behavior is desired. See the documentation of grid_sample "
                  "for details.")


# --------------------------------------------------------------------------- affine_grid
def _linspace_from_neg_one(n, align_corners, dtype):
    if n <= 1:
        return np.zeros(1, dtype)
    r = np.linspace(-1.0, 1.0, n).astype(dtype)
    if not align_corners:
        r = r * dtype.type(n - 1) / dtype.type(n)
    return r


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, H, W, 2) or (N, D, H, W, 3) of the affine maps theta (N, 2, 3) or (N, 3, 4)."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if _dtype.kind(theta._data.dtype) != "f":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = list(size)
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{theta.shape}.")
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{theta.shape}.")
        spatial = size[-3:]
    else:
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                      "of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    nd = len(spatial)
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{size[0]}, {nd + 1}] but "
                           f"got: [{theta.shape[0]}, {nd + 1}].")
    dt = theta._data.dtype
    base = np.ones(tuple(spatial) + (nd + 1,), dt)  # (..., [x, y(, z), 1]): x runs along the last dim
    for k in range(nd):
        shape = [1] * nd
        shape[nd - 1 - k] = spatial[nd - 1 - k]
        base[..., k] = _linspace_from_neg_one(spatial[nd - 1 - k], align_corners, dt).reshape(shape)
    grid = make(base.reshape(-1, nd + 1)).matmul(theta.transpose(1, 2))  # (N, prod(spatial), nd)
    return grid.reshape([size[0]] + list(spatial) + [nd])


# --------------------------------------------------------------------------- grid_sample
def _unnormalize(c, size, align_corners):
    if align_corners:
        return (c + 1) / 2 * (size - 1)
    return ((c + 1) * size - 1) / 2


def _clip(a, size):
    """torch's clip_coordinates_set_grad on an array: the clipped values and their derivative."""
    limit = a.dtype.type(size - 1)
    inside = (a > 0) & (a < limit)
    return np.where(a <= 0, a.dtype.type(0), np.where(a >= limit, limit, a)), inside.astype(a.dtype)


def _reflect(a, twice_low, twice_high):
    """torch's reflect_coordinates_set_grad on an array: the reflected values and their derivative."""
    ft = a.dtype.type
    if twice_low == twice_high:
        return np.zeros_like(a), np.zeros_like(a)
    lo, span = ft(twice_low / 2), ft((twice_high - twice_low) / 2)
    x = a - lo
    mult = np.where(x < 0, ft(-1), ft(1))
    x = np.abs(x)
    extra = np.fmod(x, span)
    even = np.floor(x / span) % 2 == 0
    return np.where(even, extra + lo, span - extra + lo), np.where(even, mult, -mult)


def _pad_coordinates(a, size, padding_mode, align_corners):
    """Coordinates after border clipping or reflection, and their derivative (arrays)."""
    if padding_mode == "border":
        return _clip(a, size)
    if padding_mode == "reflection":
        r, m = _reflect(a, 0, 2 * (size - 1)) if align_corners else _reflect(a, -1, 2 * size - 1)
        c, m2 = _clip(r, size)
        return c, m * m2
    return a, np.ones_like(a)


def _source_index(c, size, padding_mode, align_corners):
    """torch's grid_sampler_compute_source_index, differentiable in c (a tensor)."""
    x = _unnormalize(c, size, align_corners)
    if padding_mode == "zeros":
        return x
    v, m = _pad_coordinates(x._data, size, padding_mode, align_corners)
    return x * make(m) + make(v - x._data * m)  # the value v with derivative m


class _Taps:
    """Gathers input values (N, C, *sizes) at integer coordinates (arrays of the grid's shape)."""

    def __init__(self, input, sizes):
        self.n, self.c = input.shape[:2]
        self.sizes = sizes
        self.flat = input.reshape(self.n, self.c, -1)
        self.strides = [int(np.prod(sizes[d + 1:], dtype=np.int64)) for d in range(len(sizes))]

    def __call__(self, idx):
        """input at the coordinates idx (one int array per spatial dim), 0 outside: (N, C, L)."""
        valid = np.ones(idx[0].shape, bool)
        flat = np.zeros(idx[0].shape, np.int64)
        for d, (i, s) in enumerate(zip(idx, self.sizes)):
            valid &= (i >= 0) & (i < s)
            flat += np.clip(i, 0, s - 1) * self.strides[d]
        flat = flat.reshape(self.n, 1, -1)
        vals = self.flat.gather(2, make(np.ascontiguousarray(np.broadcast_to(flat, (self.n, self.c, flat.shape[2])))))
        if valid.all():
            return vals
        return where(make(valid.reshape(self.n, 1, -1)), vals, make(np.zeros((), vals._data.dtype)))


def _as_int(a):
    """Float coordinates as int64 (out-of-range and non-finite values land outside any input)."""
    return np.where(np.isfinite(a), np.clip(a, -2.0 ** 40, 2.0 ** 40), -1).astype(np.int64)


def _linear(taps, src, nd):
    fl = [np.floor(s._data) for s in src]
    out = None
    for corner in itertools.product((0, 1), repeat=nd):  # z (t, b) outer, x innermost: torch's sum order
        w = None
        for d in reversed(range(nd)):  # torch's weights: x factor * y factor (* z factor)
            f = (make(fl[d] + 1) - src[d]) if corner[d] == 0 else (src[d] - make(fl[d]))
            w = f if w is None else w * f
        v = taps([_as_int(fl[d] + corner[d]) for d in range(nd)]) * w.reshape(taps.n, 1, -1)
        out = v if out is None else out + v
    return out


_A = -0.75


def _cubic_coefficients(t):
    def conv1(x):
        return ((_A + 2) * x - (_A + 3)) * x * x + 1

    def conv2(x):
        return ((_A * x - 5 * _A) * x + 8 * _A) * x - 4 * _A

    x2 = 1.0 - t
    return [conv2(t + 1.0), conv1(t), conv1(x2), conv2(x2 + 1.0)]


def _bicubic(taps, input, grid, sizes, padding_mode, align_corners):
    h, w = sizes
    ix = _unnormalize(grid[..., 0], w, align_corners).reshape(taps.n, -1)
    iy = _unnormalize(grid[..., 1], h, align_corners).reshape(taps.n, -1)
    fx, fy = np.floor(ix._data), np.floor(iy._data)
    cx = _cubic_coefficients(ix - make(fx))
    cy = _cubic_coefficients(iy - make(fy))

    def bounded(a, size):
        return _as_int(_pad_coordinates(a, size, padding_mode, align_corners)[0])

    out = None
    for i in range(4):
        row = None
        yi = bounded(fy - 1 + i, h)
        for j in range(4):
            v = taps([yi, bounded(fx - 1 + j, w)]) * cx[j].unsqueeze(1)
            row = v if row is None else row + v
        v = row * cy[i].unsqueeze(1)
        out = v if out is None else out + v
    return out


def _grid_checks(input, grid, mode):
    if input._data.dtype != grid._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._data.dtype)} but found "
                           f"{scalar_type_name(grid._data.dtype)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
                           f"{shape_str(input.shape)} and grid with sizes {shape_str(grid.shape)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in last dimension, but got "
                           f"grid with sizes {shape_str(grid.shape)}")
    for i in range(2, input.dim()):
        if input.shape[i] <= 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               f"sizes {shape_str(input.shape)} with dimension {i} being empty")
    nd = 2 if input.dim() == 4 else 3
    if input.dim() != nd + 2 or grid.dim() != nd + 2:
        raise RuntimeError(f"grid_sampler(): expected {nd + 2}D input and grid with same number of dimensions, but "
                           f"got input with sizes {shape_str(input.shape)} and grid with sizes {shape_str(grid.shape)}")
    if nd == 3 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if _dtype.kind(input._data.dtype) != "f":
        raise NotImplementedError(f"\"grid_sampler_{nd}d_cpu_kernel_impl\" not implemented for "
                                  f"'{scalar_type_name(input._data.dtype)}'")
    return nd


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) or (N, C, D, H, W) at the normalized locations grid (N, H', W', 2) or
    (N, D', H', W', 3) in [-1, 1] (x first); output (N, C, H', W') or (N, C, D', H', W')."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    return _grid_sample(input, grid, mode, padding_mode, align_corners, _grid_checks(input, grid, mode))


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def _grid_sample(input, grid, mode, padding_mode, align_corners, nd):
    sizes = tuple(input.shape[2:])
    taps = _Taps(input, sizes)
    out_shape = (taps.n, taps.c) + tuple(grid.shape[1:-1])
    if mode == "bicubic":
        return _bicubic(taps, input, grid, sizes, padding_mode, align_corners).reshape(out_shape)
    # per spatial dim d (input order), its coordinate is grid[..., nd - 1 - d]
    src = [_source_index(grid[..., nd - 1 - d], sizes[d], padding_mode, align_corners).reshape(taps.n, -1)
           for d in range(nd)]
    if mode == "nearest":
        out = taps([_as_int(np.rint(s._data)) for s in src])
        if grid.requires_grad:
            out = out + NM.ZeroGradLink.apply(grid)  # torch gives the grid a zero gradient
        return out.reshape(out_shape)
    return _linear(taps, src, nd).reshape(out_shape)


_INTERPOLATION, _PADDING = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")


def _grid_sampler(nd):
    def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
        """torch.grid_sampler_%dd: grid_sample with ATen's integer modes (interpolation 0 bilinear,
        1 nearest, 2 bicubic; padding 0 zeros, 1 border, 2 reflection), align_corners required."""
        mode, padding = _INTERPOLATION[interpolation_mode], _PADDING[padding_mode]
        if input.dim() != nd + 2:
            raise RuntimeError(f"grid_sampler(): expected {nd + 2}D input and grid with same number of dimensions, "
                               f"but got input with sizes {shape_str(input.shape)} and grid with sizes "
                               f"{shape_str(grid.shape)}")
        return _grid_sample(input, grid, mode, padding, bool(align_corners), _grid_checks(input, grid, mode))
    grid_sampler.__name__ = grid_sampler.__qualname__ = "grid_sampler_%dd" % nd
    grid_sampler.__doc__ %= nd
    return grid_sampler


grid_sampler_2d, grid_sampler_3d = _grid_sampler(2), _grid_sampler(3)
