"""Layer ops: conv2d (im2col + one BLAS matmul), max/avg pooling, normalization, embedding, cat.

Each backward is itself an op whose backward is written with these ops again (the adjoint of
a linear map is linear), so double backward works while the first-order path stays one op.
conv1d is conv2d on a height-1 image."""
import weakref

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import conv_nd as CN
from fastgrad._ops.base import K, Op, make

_as_strided = np.lib.stride_tricks.as_strided


# --------------------------------------------------------------------------- im2col helpers
def _out_size(size, k, s, p, d, ceil_mode=False):
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
            out -= 1
        return out
    return span // s + 1


def _windows(xp, k, s, d, out):
    """Read-only (N, C, kh, kw, oh, ow) view of the padded input xp."""
    n, c, _, _ = xp.shape
    st = xp.strides
    return _as_strided(xp, (n, c, k[0], k[1], out[0], out[1]),
                       (st[0], st[1], st[2] * d[0], st[3] * d[1], st[2] * s[0], st[3] * s[1]), writeable=False)


def _pad(x, p, value=0.0, extra=(0, 0)):
    if not (p[0] or p[1] or extra[0] or extra[1]):
        return x
    return np.pad(x, ((0, 0), (0, 0), (p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])), constant_values=value)


def _scatter_windows(cols, shape, k, s, p, d, out):
    """Adjoint of _windows: add each (N, C, kh, kw, oh, ow) entry back into an (N, C, H, W) array."""
    n, c, h, w = shape
    hp, wp = h + 2 * p[0], w + 2 * p[1]
    hp = max(hp, d[0] * (k[0] - 1) + s[0] * (out[0] - 1) + 1)
    wp = max(wp, d[1] * (k[1] - 1) + s[1] * (out[1] - 1) + 1)
    gx = np.zeros((n, c, hp, wp), cols.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            gx[:, :, i * d[0]:i * d[0] + s[0] * (out[0] - 1) + 1:s[0],
               j * d[1]:j * d[1] + s[1] * (out[1] - 1) + 1:s[1]] += cols[:, :, i, j]
    return gx[:, :, p[0]:p[0] + h, p[1]:p[1] + w]


class _ConvGeom:
    """The geometry of one 2-D convolution and its three products. float32/float64 go through the
    kernels K.im2col / K.col2im (csrc/conv.pxi) and per-image matrix products laid out so that
    no transposed copy of the output is made: y[n] = W (O, C*kh*kw) @ cols[n] (C*kh*kw, L);
    other dtypes (and conv_transpose's shortened output) through NumPy's strided windows."""

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        self.x_shape, self.w_shape = x_shape, w_shape
        self.s, self.p, self.d, self.g = stride, padding, dilation, groups
        self.k = w_shape[2:]
        self.out = (_out_size(x_shape[2], self.k[0], stride[0], padding[0], dilation[0]),
                    _out_size(x_shape[3], self.k[1], stride[1], padding[1], dilation[1]))
        self.full_out = self.out
        self.n = 2

    def _kernels(self, a):
        return (self.out == self.full_out and a.dtype in (np.float32, np.float64) and 0 not in self.x_shape
                and 0 not in self.w_shape)

    def _im2col(self, x, transposed=False):
        """(N, C*kh*kw, L) patches of x, laid out (C*kh*kw, N, L) in memory when transposed."""
        n, c = x.shape[:2]
        ckk, L = c * self.k[0] * self.k[1], self.out[0] * self.out[1]
        if transposed:
            buf = np.empty((ckk, n, L), x.dtype)
            K.im2col(np.ascontiguousarray(x), self.k, self.s, self.p, self.d, buf.transpose(1, 0, 2))
            return buf
        return K.im2col(np.ascontiguousarray(x), self.k, self.s, self.p, self.d, np.empty((n, ckk, L), x.dtype))

    def cols(self, x):
        """(g, C/g*kh*kw, N*oh*ow) patch matrix of x (one copy)."""
        n, c = x.shape[:2]
        win = _windows(_pad(x, self.p), self.k, self.s, self.d, self.out)  # N C kh kw oh ow
        cols = np.ascontiguousarray(win.transpose(1, 2, 3, 0, 4, 5))  # C kh kw N oh ow
        return cols.reshape(self.g, c // self.g * self.k[0] * self.k[1], n * self.out[0] * self.out[1])

    def conv(self, x, w):
        n = x.shape[0]
        o = w.shape[0]
        if self._kernels(x):
            cols = self._im2col(x)  # N, CKK, L
            if self.g == 1:
                y = K.mm(w.reshape(o, -1), cols)  # N, O, L
            else:
                y = np.matmul(w.reshape(self.g, o // self.g, -1), cols.reshape(n, self.g, -1, cols.shape[2]))
            return y.reshape(n, o, *self.out)
        w3 = w.reshape(self.g, o // self.g, int(np.prod(w.shape[1:])))
        y = K.mm(w3, self.cols(x))  # g, O/g, N*L
        return np.ascontiguousarray(y.reshape(o, n, *self.out).transpose(1, 0, 2, 3))

    def grad_rows(self, g):
        o = self.w_shape[0]
        return np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(self.g, o // self.g, int(np.prod(g.shape)) // max(o, 1))

    def grad_input(self, g, w):
        n, c = self.x_shape[:2]
        if self._kernels(g):
            o, L = w.shape[0], self.out[0] * self.out[1]
            if self.g == 1:
                gcols = K.mm(w.reshape(o, -1).T, g.reshape(n, o, L))  # N, CKK, L
            else:
                w3 = w.reshape(self.g, o // self.g, -1).transpose(0, 2, 1)
                gcols = np.matmul(w3, g.reshape(n, self.g, o // self.g, L)).reshape(n, -1, L)
            return K.col2im(gcols, self.k, self.s, self.p, self.d, np.empty(self.x_shape, g.dtype))
        w3 = w.reshape(self.g, w.shape[0] // self.g, int(np.prod(w.shape[1:])))
        gcols = K.mm(w3.transpose(0, 2, 1), self.grad_rows(g))  # g, C/g*kh*kw, N*L
        gcols = gcols.reshape(c, self.k[0], self.k[1], n, *self.out).transpose(3, 0, 1, 2, 4, 5)
        return _scatter_windows(gcols, self.x_shape, self.k, self.s, self.p, self.d, self.out)

    def grad_weight(self, x, g):
        if self._kernels(x):  # one product over N*L: (O, N*L) @ (N*L, C*kh*kw)
            cols = self._im2col(x, transposed=True).reshape(self.g, -1, g.size // max(g.shape[1], 1))
            return K.mm(self.grad_rows(g), cols.transpose(0, 2, 1)).reshape(self.w_shape)
        return K.mm(self.grad_rows(g), self.cols(x).transpose(0, 2, 1)).reshape(self.w_shape)


class Conv2d(CN.ConvNd):
    """y = conv2d(x, w) + b for x (N, C, H, W), w (O, C/groups, kh, kw): ConvNd's op on _ConvGeom."""


class Conv2dBackward(CN.ConvNdBackward):
    """(gx, gw) of conv2d: gx = conv_transpose(g, w), gw = correlate(x, g); both linear."""


Conv2d._grad, Conv2dBackward._conv = Conv2dBackward, Conv2d


# --------------------------------------------------------------------------- pooling
class MaxPool2d(Op):
    """Max over windows; saves the flat index of each maximum in the (H*W) plane."""

    @staticmethod
    def forward(ctx, x, k, s, p, d, ceil_mode):
        a = x._data
        n, c, h, w = a.shape
        out = (_out_size(h, k[0], s[0], p[0], d[0], ceil_mode), _out_size(w, k[1], s[1], p[1], d[1], ceil_mode))
        extra = tuple(max(0, d[i] * (k[i] - 1) + s[i] * (out[i] - 1) + 1 - (a.shape[2 + i] + 2 * p[i]))
                      for i in range(2))
        ctx.x_shape = a.shape
        if a.dtype in (np.float32, np.float64):  # the kernel (csrc/conv.pxi)
            y, ctx.idx = np.empty((n, c) + out, a.dtype), np.empty((n, c) + out, np.int64)
            return K.max_pool2d_fwd(np.ascontiguousarray(a), k, s, p, d, y, ctx.idx)
        neg = -np.inf if _dtype.kind(a.dtype) == "f" else np.iinfo(a.dtype).min
        win = _windows(_pad(a, p, neg, extra), k, s, d, out)  # N C kh kw oh ow
        flat = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c, out[0], out[1], k[0] * k[1])
        arg = flat.argmax(-1)
        y = np.take_along_axis(flat, arg[..., None], -1)[..., 0]
        ki, kj = np.divmod(arg, k[1])
        rows = np.arange(out[0]).reshape(-1, 1) * s[0] + ki * d[0] - p[0]
        cols = np.arange(out[1]) * s[1] + kj * d[1] - p[1]
        idx = (rows * w + cols).astype(np.int64)
        if _dtype.kind(a.dtype) == "f" and y.size:
            idx = _torch_max_indices(flat, y, idx, a.shape, k, s, p, d, out)
        ctx.x_shape = a.shape
        ctx.idx = idx
        return y

    @staticmethod
    def backward(ctx, g):
        return MaxPoolBackward.apply(g, ctx.idx, ctx.x_shape), None, None, None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        return _gather_plane(t, ctx.idx)


def _torch_max_indices(flat, y, idx, shape, k, s, p, d, out):
    """PyTorch's choice where the maximum is not unique in a simple way: the last NaN of a window
    (its loop takes `val > max || isnan(val)`), and, where the maximum is -inf, the window's first
    position on the grid at or after (0, 0), which for a window of padding only may be outside the
    plane (no gradient flows there)."""
    nan = np.isnan(y)
    if nan.any():
        kk = flat.shape[-1]
        last = kk - 1 - np.isnan(flat[..., ::-1]).argmax(-1)
        ki, kj = np.divmod(last, k[1])
        rows = np.arange(out[0]).reshape(-1, 1) * s[0] + ki * d[0] - p[0]
        cols = np.arange(out[1]) * s[1] + kj * d[1] - p[1]
        idx = np.where(nan, rows * shape[3] + cols, idx)
    low = y == -np.inf
    if low.any():
        start = []
        for i in range(2):
            b = np.arange(out[i]) * s[i] - p[i]
            start.append(np.where(b < 0, b + (-b + d[i] - 1) // d[i] * d[i], b))
        first = start[0].reshape(-1, 1) * shape[3] + start[1]
        idx = np.where(low, first, idx)
    return idx.astype(np.int64, copy=False)


def _gather_plane(t, idx):
    """t (N, C, H, W) -> t at flat plane indices idx (N, C, oh, ow), differentiably (0 where an
    index is outside the plane: a window of padding only)."""
    n, c = idx.shape[:2]
    size = t._data.shape[2] * t._data.shape[3]
    inside = (idx >= 0) & (idx < size)
    if not inside.all():
        v = t.reshape(n, c, -1).gather(2, make(np.where(inside, idx, 0).reshape(n, c, -1))).reshape(idx.shape)
        return v * make(inside.astype(t._data.dtype))
    return t.reshape(n, c, -1).gather(2, make(idx.reshape(n, c, -1))).reshape(idx.shape)


class MaxPoolBackward(Op):
    """Scatter-add g into the positions of the maxima."""

    @staticmethod
    def forward(ctx, g, idx, x_shape):
        ctx.idx = idx
        n, c, h, w = x_shape
        base = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
        gd = g._data
        if gd.dtype in (np.float32, np.float64):  # the kernel (csrc/conv.pxi)
            return K.max_pool2d_bwd(np.ascontiguousarray(gd), idx, np.empty(x_shape, gd.dtype))
        inside = (idx >= 0) & (idx < h * w)
        if not inside.all():  # a window of padding only: its gradient goes nowhere
            idx, gd = np.where(inside, idx, 0), np.where(inside, gd, 0)
        gx = np.bincount((idx + base).ravel(), weights=gd.ravel(), minlength=n * c * h * w)
        return gx.astype(g._data.dtype, copy=False).reshape(x_shape)

    @staticmethod
    def backward(ctx, gg):
        return _gather_plane(gg, ctx.idx), None, None

    @staticmethod
    def jvp(ctx, t, idx, x_shape):
        return MaxPoolBackward.apply(t, idx, x_shape)


def _avg_divisor(shape, k, s, p, out, extra, count_include_pad, divisor_override, dtype):
    if divisor_override:
        return np.asarray(divisor_override, dtype)
    h, w = shape[2:]
    if count_include_pad:  # windows count the zero padding but not the ceil_mode overhang
        ones = np.pad(np.ones((1, 1, h + 2 * p[0], w + 2 * p[1]), dtype), ((0, 0), (0, 0), (0, extra[0]),
                                                                          (0, extra[1])))
    else:
        ones = _pad(np.ones((1, 1, h, w), dtype), p, 0.0, extra)
    return _windows(ones, k, s, (1, 1), out).sum((2, 3))[0, 0]


class AvgPool2d(Op):
    @staticmethod
    def forward(ctx, x, k, s, p, ceil_mode, count_include_pad, divisor_override):
        a = x._data
        out = (_out_size(a.shape[2], k[0], s[0], p[0], 1, ceil_mode),
               _out_size(a.shape[3], k[1], s[1], p[1], 1, ceil_mode))
        extra = tuple(max(0, k[i] + s[i] * (out[i] - 1) - (a.shape[2 + i] + 2 * p[i])) for i in range(2))
        div = _avg_divisor(a.shape, k, s, p, out, extra, count_include_pad, divisor_override, a.dtype)
        ctx.args = (a.shape, k, s, p, out, div)
        win = _windows(_pad(a, p, 0.0, extra), k, s, (1, 1), out)
        return (win.sum((2, 3)) / div).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolBackward.apply(g, ctx.args), None, None, None, None, None, None

    @staticmethod
    def jvp(ctx, t, *args):
        return AvgPool2d.apply(t, *args)


# AvgPoolBackward/_AvgPoolAdjoint: each the other's adjoint (as spatial.Im2Col/Col2Im)
class AvgPoolBackward(Op):
    @staticmethod
    def forward(ctx, g, args):
        shape, k, s, p, out, div = args
        ctx.args = args
        gd = g._data / div
        cols = np.broadcast_to(gd[:, :, None, None], gd.shape[:2] + tuple(k) + tuple(out))
        return _scatter_windows(cols, shape, k, s, p, (1, 1), out).astype(g._data.dtype, copy=False)

    @staticmethod
    def backward(ctx, gg):
        return _AvgPoolAdjoint.apply(gg, ctx.args), None

    @staticmethod
    def jvp(ctx, t, args):
        return AvgPoolBackward.apply(t, args)


class _AvgPoolAdjoint(Op):
    """The forward of avg pooling with a fixed geometry (the adjoint of AvgPoolBackward)."""

    @staticmethod
    def forward(ctx, x, args):
        shape, k, s, p, out, div = args
        ctx.args = args
        a = x._data
        extra = tuple(max(0, k[i] + s[i] * (out[i] - 1) - (shape[2 + i] + 2 * p[i])) for i in range(2))
        win = _windows(_pad(a, p, 0.0, extra), k, s, (1, 1), out)
        return (win.sum((2, 3)) / div).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolBackward.apply(g, ctx.args), None

    @staticmethod
    def jvp(ctx, t, args):
        return _AvgPoolAdjoint.apply(t, args)


# --------------------------------------------------------------------------- normalization
def _normalize_composed(x, axes, eps):
    mu = x.mean(axes, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(axes, keepdim=True)
    return xc * (var + eps) ** -0.5, (var + eps) ** -0.5


class Normalize(Op):
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance): the core of batch and layer norm.
    Its Jacobian is symmetric, so backward and jvp are the same map."""

    @staticmethod
    def forward(ctx, x, axes, eps):
        a = x._data
        mu = a.mean(axes, keepdims=True)
        xc = a - mu
        var = np.mean(xc * xc, axes, keepdims=True)
        ctx.axes, ctx.eps = axes, eps
        ctx.save_for_backward(x)
        return xc / np.sqrt(var + eps)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Normalize._vjp(x, g, ctx.axes, ctx.eps), None, None

    @staticmethod
    def _vjp(x, g, axes, eps):
        xhat, rstd = _normalize_composed(x, axes, eps)
        return rstd * (g - g.mean(axes, keepdim=True) - xhat * (g * xhat).mean(axes, keepdim=True))

    @staticmethod
    def jvp(ctx, t, axes, eps):
        (x,) = ctx.saved_tensors
        return Normalize._vjp(x, t, axes, eps)


# --------------------------------------------------------------------------- embedding, cat
class Embedding(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        ctx.args = (idx, weight._data.shape[0], padding_idx, scale_grad_by_freq)
        return weight._data[idx]

    @staticmethod
    def backward(ctx, g):
        return EmbeddingBackward.apply(g, ctx.args), None, None, None

    @staticmethod
    def jvp(ctx, t, *_):
        return t[make(ctx.args[0])]


def _scatter_add_rows(num, idx, rows):
    """zeros((num, dim)) with rows[i] added into row idx[i], in index order (torch's embedding_dense_backward
    adds the rows one by one). One 1-D np.add.at over flat element indices: the same sums as np.add.at over
    rows, several times faster (NumPy's fast path is 1-D only)."""
    dim = rows.shape[-1]
    out = np.zeros(num * dim, rows.dtype)
    if idx.size and dim:
        np.add.at(out, (idx[:, None] * dim + np.arange(dim)).reshape(-1), rows.reshape(-1))
    return out.reshape(num, dim)


class EmbeddingBackward(Op):
    """Sum the rows of g into the rows of the weight they came from (padding row gets none)."""

    @staticmethod
    def forward(ctx, g, args):
        idx, num, padding_idx, scale = args
        ctx.args = args
        dim = g._data.shape[-1]
        flat_idx = idx.reshape(-1)
        g2 = g._data.reshape(flat_idx.size, dim)
        coef = np.ones(flat_idx.shape, g2.dtype)
        if padding_idx is not None:
            coef[flat_idx == padding_idx] = 0
        if scale:
            counts = np.bincount(flat_idx, minlength=num)
            coef = coef / counts[flat_idx]
        ctx.coef = coef
        return _scatter_add_rows(num, flat_idx, g2 * coef[:, None])

    @staticmethod
    def backward(ctx, gg):
        idx = ctx.args[0]
        rows = gg[make(idx)]
        return rows * make(ctx.coef.reshape(idx.shape + (1,))), None

    @staticmethod
    def jvp(ctx, t, args):
        return EmbeddingBackward.apply(t, args)


# twin of indexing.Cat (which checks torch.cat's arguments and splits in backward); layers' internal cat
class Cat(Op):
    """Concatenate tensors along dim."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        ctx.shapes = [t._data.shape for t in tensors]
        return np.concatenate([t._data for t in tensors], dim)

    @staticmethod
    def backward(ctx, g):
        out, start = [None], 0
        for shape in ctx.shapes:
            n = shape[ctx.dim]
            out.append(g[(slice(None),) * ctx.dim + (slice(start, start + n),)])
            start += n
        return tuple(out)

    @staticmethod
    def jvp(ctx, _, *tangents):
        if all(t is None for t in tangents):
            return None
        dtype = next(t for t in tangents if t is not None)._data.dtype
        return Cat.apply(ctx.dim, *[t if t is not None else make(np.zeros(shape, dtype))
                                    for t, shape in zip(tangents, ctx.shapes)])


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    return Cat.apply(dim, *tensors)


# (weakref to an input array, its (mean, biased var) per channel): the last fused batch norm's
# statistics (norm_fused.NormAffine), which RunningStats uses instead of computing them again
# when its input is that same array; one entry, replaced as a whole (a replay of
# fastgrad.compile runs NormAffine again first, so the check by identity stays right).
_BATCH_STATS = [(None, None)]


def remember_batch_stats(a, mean, var):
    _BATCH_STATS[0] = (weakref.ref(a), (mean, var))


class RunningStats(Op):
    """Batch norm's running-statistics update in training, in place: buf = (1 - momentum) * buf
    + momentum * stat for the batch mean and the unbiased variance over axes (size values per
    channel). An op of its own (it returns nothing of use: a 0-d zero), so a replay of
    fastgrad.compile updates them again."""

    @staticmethod
    def forward(ctx, x, running_mean, running_var, axes, size, momentum):
        a = x._data
        src, stats = _BATCH_STATS[0]
        if src is not None and src() is a:  # the fused batch norm's float64 statistics of this very array
            _BATCH_STATS[0] = (None, None)
            mean, var = stats[0], stats[1] * (size / (size - 1))
        else:
            mean = a.mean(axes)
            var = a.var(axes) * (size / (size - 1))
        for buf, stat in ((running_mean, mean), (running_var, var)):
            if buf is not None:
                buf._data *= 1 - momentum
                buf._data += (momentum * stat).astype(buf._data.dtype)
                buf._vc.value += 1
        return np.zeros((), a.dtype)

    @staticmethod
    def jvp(ctx, *tangents):  # a buffer update: no tangent
        return None


class InvStd(Op):
    """1 / sqrt(running_var + eps) in dtype, reshaped (batch norm in evaluation): no gradient
    (batch norm's running statistics are buffers), an op so fastgrad.compile reads them anew."""

    @staticmethod
    def forward(ctx, running_var, eps, dtype, shape):
        return (1.0 / np.sqrt(running_var._data + eps)).astype(dtype).reshape(shape)

    @staticmethod
    def jvp(ctx, *tangents):  # read from buffers: no tangent
        return None


class CountUp(Op):
    """t += 1 in place (batch norm's num_batches_tracked), as an op so a replay of
    fastgrad.compile counts too; returns a 0-d zero."""

    @staticmethod
    def forward(ctx, t):
        t._data += 1
        t._vc.value += 1
        return np.zeros((), t._data.dtype)

    @staticmethod
    def jvp(ctx, *tangents):  # a counter update: no tangent
        return None
