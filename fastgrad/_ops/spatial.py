"""Sliding windows in any number of spatial dims: im2col / col2im (F.unfold / F.fold, and
average pooling on top of them), Tensor.unfold, and the transposed convolution.

Each op's backward is its adjoint, itself an op of this file, so double backward works:
Im2Col <-> Col2Im, TensorUnfold <-> TensorUnfoldBackward; ConvTranspose2d is the input
gradient of a convolution (layers.Conv2dBackward) and its backward is a convolution."""
import numpy as np

from fastgrad._ops import conv_nd as CN
from fastgrad._ops import layers as L
from fastgrad._ops.base import Op, make_view, norm_dim
from fastgrad._ops.conv_nd import pad_nd, scatter_windows, windows  # noqa: F401  (the array helpers are
# the convolution's; pooling reads SP.windows, SP.pad_nd)

_as_strided = np.lib.stride_tricks.as_strided


class WinGeom:
    """Windows of kernel k, stride s, dilation d over spatial size sp padded by lo / hi."""

    def __init__(self, sp, k, s, d, lo, hi=None):
        self.sp, self.k, self.s, self.d, self.lo = tuple(sp), tuple(k), tuple(s), tuple(d), tuple(lo)
        self.hi = tuple(lo) if hi is None else tuple(hi)
        self.out = tuple((sp[i] + self.lo[i] + self.hi[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1
                         for i in range(len(k)))
        self.kprod = int(np.prod(self.k, dtype=np.int64))
        self.oprod = int(np.prod(self.out, dtype=np.int64))

    def im2col(self, a):
        """(N, C, *sp) -> (N, C * prod(k), prod(out)), channel-major rows as torch's im2col."""
        win = windows(pad_nd(a, self.lo, self.hi), self.k, self.s, self.d, self.out)
        return np.ascontiguousarray(win).reshape(a.shape[0], a.shape[1] * self.kprod, self.oprod)

    def col2im(self, c):
        """(N, C * prod(k), prod(out)) -> (N, C, *sp): overlapping windows add up."""
        cols = c.reshape((c.shape[0], c.shape[1] // self.kprod) + self.k + self.out)
        return scatter_windows(cols, self.sp, self.k, self.s, self.lo, self.d, self.out)


# Im2Col/Col2Im: each the other's adjoint (as views.AsStrided/AsStridedScatter); one Op each
class Im2Col(Op):
    """F.unfold in any number of spatial dims (padding may differ before and after)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom = geom
        return geom.im2col(x._data)

    @staticmethod
    def backward(ctx, g):
        return Col2Im.apply(g, ctx.geom), None

    @staticmethod
    def jvp(ctx, t, geom):
        return Im2Col.apply(t, geom)


# the adjoint of Im2Col above (same shape as views.AsStridedScatter and layers._AvgPoolAdjoint)
class Col2Im(Op):
    """F.fold: the adjoint of Im2Col."""

    @staticmethod
    def forward(ctx, c, geom):
        ctx.geom = geom
        return geom.col2im(c._data)

    @staticmethod
    def backward(ctx, g):
        return Im2Col.apply(g, ctx.geom), None

    @staticmethod
    def jvp(ctx, t, geom):
        return Col2Im.apply(t, geom)


# --------------------------------------------------------------------------- Tensor.unfold
def _unfold_view(a, dim, size, step):
    n = (a.shape[dim] - size) // step + 1
    shape = a.shape[:dim] + (n,) + a.shape[dim + 1:] + (size,)
    strides = a.strides[:dim] + (a.strides[dim] * step,) + a.strides[dim + 1:] + (a.strides[dim],)
    return _as_strided(a, shape, strides, writeable=a.flags.writeable)


class TensorUnfold(Op):
    """x.unfold(dim, size, step): a view of the windows (dim holds their count, a new last dim
    their elements)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, dim, size, step):
        ctx.args = (x._data.shape, dim, size, step)
        return make_view(_unfold_view(x._data, dim, size, step), x)

    @staticmethod
    def backward(ctx, g):
        return TensorUnfoldBackward.apply(g, *ctx.args), None, None, None

    @staticmethod
    def jvp(ctx, t, dim, size, step):
        return TensorUnfold.apply(t, dim, size, step)


class TensorUnfoldBackward(Op):
    """Each window of g added back where it came from (torch's unfold_backward)."""

    @staticmethod
    def forward(ctx, g, shape, dim, size, step):
        ctx.args = (dim, size, step)
        gx = np.zeros(shape, g._data.dtype)
        ga = np.moveaxis(g._data, -1, dim + 1)  # (..., n, size, ...)
        nwin = ga.shape[dim]
        for j in range(size):  # element j of every window: positions j, j + step, ...
            src = ga[(slice(None),) * dim + (slice(None), j)]
            gx[(slice(None),) * dim + (slice(j, j + step * (nwin - 1) + 1, step),)] += src
        return gx

    @staticmethod
    def backward(ctx, gg):
        return TensorUnfold.apply(gg, *ctx.args), None, None, None, None

    @staticmethod
    def jvp(ctx, t, shape, dim, size, step):
        return TensorUnfoldBackward.apply(t, shape, dim, size, step)


# --------------------------------------------------------------------------- transposed conv
class ConvTranspose2d(CN.ConvTransposeNd):
    """y = conv_transpose2d(x, w) + b, the input gradient of conv2d(y-shaped, w): geom is the
    convolution's geometry (its input is y, its output x); w is (C_in, C_out / groups, kh, kw)."""

    _conv, _grad = L.Conv2d, L.Conv2dBackward


def tensor_unfold(x, dimension, size, step):
    """Tensor.unfold: every window of `size` elements along `dimension`, `step` apart, as a view."""
    d = norm_dim(dimension, x._data.ndim)
    max_size = x._data.shape[d] if x._data.ndim else 1
    if size > max_size:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {max_size} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if x._data.ndim == 0:
        return TensorUnfold.apply(x.reshape(1), 0, int(size), int(step)).reshape(int(size))
    return TensorUnfold.apply(x, d, int(size), int(step))
