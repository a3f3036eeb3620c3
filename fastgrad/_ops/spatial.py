"""Sliding windows in any number of spatial dims: im2col / col2im (F.unfold / F.fold, and
average pooling on top of them), Tensor.unfold, and the transposed convolution.

Each op's backward is its adjoint, itself an op of this file, so double backward works:
Im2Col <-> Col2Im, TensorUnfold <-> TensorUnfoldBackward; ConvTranspose2d is the input
gradient of a convolution (layers.Conv2dBackward) and its backward is a convolution."""
import numpy as np

from fastgrad._ops import layers as L
from fastgrad._ops.base import Op, make_view, norm_dim

_as_strided = np.lib.stride_tricks.as_strided


# --------------------------------------------------------------------------- array helpers
def pad_nd(a, lo, hi, value=0.0):
    """a with its trailing len(lo) dims padded by lo before and hi after (constant value)."""
    if not any(lo) and not any(hi):
        return a
    return np.pad(a, [(0, 0)] * (a.ndim - len(lo)) + list(zip(lo, hi)), constant_values=value)


def windows(xp, k, s, d, out):
    """Read-only (*lead, *k, *out) view of xp (*lead, *spatial) for kernel k, stride s, dilation d."""
    n = len(k)
    st = xp.strides
    sp = st[xp.ndim - n:]
    return _as_strided(xp, xp.shape[:xp.ndim - n] + tuple(k) + tuple(out),
                       st[:xp.ndim - n] + tuple(a * b for a, b in zip(sp, d)) + tuple(a * b for a, b in zip(sp, s)),
                       writeable=False)


def scatter_windows(cols, sp, k, s, lo, d, out):
    """Adjoint of windows(pad_nd(x, lo, hi), ...): cols (*lead, *k, *out) added into (*lead, *sp)."""
    n = len(k)
    lead = cols.shape[:cols.ndim - 2 * n]
    full = tuple(max(lo[i] + sp[i], d[i] * (k[i] - 1) + s[i] * (out[i] - 1) + 1) for i in range(n))
    gx = np.zeros(lead + full, cols.dtype)
    for kk in np.ndindex(*k):
        dst = tuple(slice(kk[i] * d[i], kk[i] * d[i] + s[i] * (out[i] - 1) + 1, s[i]) for i in range(n))
        gx[(Ellipsis,) + dst] += cols[(Ellipsis,) + kk + (slice(None),) * n]
    return np.ascontiguousarray(gx[(Ellipsis,) + tuple(slice(lo[i], lo[i] + sp[i]) for i in range(n))])


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
class ConvTranspose2d(Op):
    """y = conv_transpose2d(x, w) + b, the input gradient of conv2d(y-shaped, w): geom is the
    convolution's geometry (its input is y, its output x); w is (C_in, C_out / groups, kh, kw)."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        y = geom.grad_input(x._data, w._data)
        if b is not None:
            y += b._data.reshape(1, -1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = L.Conv2d.apply(g, w, None, ctx.geom) if need[0] else None  # the adjoint: a convolution
        gw = L.Conv2dBackward.apply(g, w, x, ctx.geom, (False, True))[1] if need[1] else None
        gb = g.sum((0, 2, 3)) if need[2] else None
        return gx, gw, gb, None

    @staticmethod
    def jvp(ctx, tx, tw, tb, geom):
        x, w = ctx.saved_tensors
        out = None
        for t in (None if tx is None else ConvTranspose2d.apply(tx, w, None, geom),
                  None if tw is None else ConvTranspose2d.apply(x, tw, None, geom),
                  None if tb is None else tb.reshape(1, -1, 1, 1)):
            if t is not None:
                out = t if out is None else out + t
        return out


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
