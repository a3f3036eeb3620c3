"""Convolution in any number of spatial dims (conv3d, conv_transpose3d): im2col + one BLAS
matmul per group, as layers.Conv2d does for two dims, with the padding allowed to differ
before and after each dim (torch's padding='same' with an even kernel).

ConvNd's backward is ConvNdBackward (gx = the transposed convolution of g, gw = the
correlation of x and g), whose own backward is written with these two ops again (both are
linear in each argument), so double backward works. ConvTransposeNd is ConvNdBackward's
input gradient as a forward: its backward is a convolution."""
import numpy as np

from fastgrad._ops.base import K, Op, sum_terms

_as_strided = np.lib.stride_tricks.as_strided


def pad_nd(a, lo, hi, value=0.0):
    """a with its trailing len(lo) dims padded by lo before and hi after (constant value)."""
    if not any(lo) and not any(hi):
        return a
    return np.pad(a, [(0, 0)] * (a.ndim - len(lo)) + list(zip(lo, hi)), constant_values=value)


def windows(xp, k, s, d, out):
    """Read-only (*lead, *k, *out) view of xp (*lead, *spatial)."""
    n = len(k)
    lead = xp.ndim - n
    st = xp.strides
    return _as_strided(xp, xp.shape[:lead] + tuple(k) + tuple(out),
                       st[:lead] + tuple(a * b for a, b in zip(st[lead:], d))
                       + tuple(a * b for a, b in zip(st[lead:], s)), writeable=False)


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


class ConvGeom:
    """A convolution of x (N, C, *sp) with w (O, C/g, *k): stride s, dilation d, padding lo
    before and hi after each spatial dim, g groups; out is the output's spatial size."""

    def __init__(self, x_shape, w_shape, stride, lo, hi, dilation, groups, out=None):
        self.x_shape, self.w_shape = tuple(x_shape), tuple(w_shape)
        self.s, self.lo, self.hi, self.d, self.g = tuple(stride), tuple(lo), tuple(hi), tuple(dilation), groups
        self.k = self.w_shape[2:]
        sp = self.x_shape[2:]
        self.out = tuple(out) if out is not None else tuple(
            (sp[i] + self.lo[i] + self.hi[i] - self.d[i] * (self.k[i] - 1) - 1) // self.s[i] + 1
            for i in range(len(self.k)))
        self.n = len(self.k)

    def _span_hi(self):
        """The high padding the windows read (the output may be one window short of the input's end)."""
        sp = self.x_shape[2:]
        return tuple(max(0, self.d[i] * (self.k[i] - 1) + self.s[i] * (self.out[i] - 1) + 1 - sp[i] - self.lo[i])
                     for i in range(self.n))

    def cols(self, x):
        """(g, C/g * prod(k), N * prod(out)) patch matrix of x (one copy)."""
        n, nd = x.shape[0], self.n
        win = windows(pad_nd(x, self.lo, self._span_hi()), self.k, self.s, self.d, self.out)  # N C *k *out
        order = (1,) + tuple(range(2, 2 + nd)) + (0,) + tuple(range(2 + nd, 2 + 2 * nd))
        cols = np.ascontiguousarray(win.transpose(order))  # C *k N *out
        return cols.reshape(self.g, -1, n * int(np.prod(self.out, dtype=np.int64)))

    def conv(self, x, w):
        n, o = x.shape[0], w.shape[0]
        w3 = w.reshape(self.g, o // self.g, -1)
        y = K.mm(w3, self.cols(x))  # g, O/g, N * L
        return np.ascontiguousarray(np.moveaxis(y.reshape((o, n) + self.out), 0, 1))

    def grad_rows(self, g):
        o = self.w_shape[0]
        return np.ascontiguousarray(np.moveaxis(g, 1, 0)).reshape(self.g, o // self.g, -1)

    def grad_input(self, g, w):
        n, c = self.x_shape[:2]
        nd = self.n
        w3 = w.reshape(self.g, w.shape[0] // self.g, -1)
        gcols = K.mm(w3.transpose(0, 2, 1), self.grad_rows(g))  # g, C/g * prod(k), N * L
        gcols = gcols.reshape((c,) + self.k + (n,) + self.out)
        order = (1 + nd, 0) + tuple(range(1, 1 + nd)) + tuple(range(2 + nd, 2 + 2 * nd))
        return scatter_windows(gcols.transpose(order), self.x_shape[2:], self.k, self.s, self.lo, self.d, self.out)

    def grad_weight(self, x, g):
        return K.mm(self.grad_rows(g), self.cols(x).transpose(0, 2, 1)).reshape(self.w_shape)


def _cpu_has(*features):
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as f
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__ as f
    return all(f.get(name, False) for name in features)


def _direct_grouped(geom, name):
    """Whether oneDNN runs a grouped convolution with a direct (jit) kernel, which skips the padding,
    not its gemm-based one (as measured with torch 2.13 on an AVX-512 CPU): depthwise with one output
    channel per group, channels per group a multiple of 4 both ways, or (float32) fewer than 8 input
    channels with a multiple of 8 output channels per group."""
    cig, cog = geom.w_shape[1], geom.w_shape[0] // geom.g
    return ((cig == 1 and cog == 1) or (cig % 4 == 0 and cog % 4 == 0)
            or (name == "float32" and geom.x_shape[1] < 8 and cog % 8 == 0))


def skips_padding(dtype, geom):
    """Whether torch's CPU convolution of this dtype and geometry skips the padded taps (its oneDNN
    path, which adds no tap outside the input: a NaN or inf weight meeting padding adds nothing), or
    multiplies the padding zeros (its im2col path: NaN * 0 is NaN). torch's use_mkldnn: float32 as
    its heuristic picks (on a 2-D view of a 1-D convolution), bfloat16 on CPUs with AVX-512 BW/VL/DQ,
    float16 on CPUs with AVX-512 FP16, float64 never; a 1x1 kernel never (oneDNN's 1x1 kernels multiply
    the padding). The gradients keep the padding's products: the input gradient has no padded tap, and
    which oneDNN weight-gradient kernel skips them (for a NaN or inf upstream gradient) depends on
    groups, dilation and padding in ways its kernel choice decides."""
    from fastgrad import backends

    mk = getattr(backends, "mkldnn", None)
    if mk is not None and not getattr(mk, "enabled", True):
        return False
    k = geom.w_shape[2:]
    if all(v == 1 for v in k):  # oneDNN's 1x1 kernels read the padding as zeros
        return False
    name = np.dtype(dtype).name
    if geom.g > 1 and not _direct_grouped(geom, name):  # oneDNN's gemm-based grouped kernel: im2col, zeros read
        return False
    if name == "bfloat16":
        return _cpu_has("AVX512BW", "AVX512VL", "AVX512DQ")
    if name == "float16":
        return _cpu_has("AVX512FP16")
    if name != "float32":
        return False
    n, c, sp = geom.x_shape[0], geom.x_shape[1], geom.x_shape[2:]
    kh, kw = (k[-2] if len(k) > 1 else 1), k[-1]
    lead = n * c * int(np.prod(sp[:2], dtype=np.int64))  # input.size(0) * ... * input.size(3)
    # (use_mkldnn's other clause -- strided, dilated, n >= 16, a kernel other than 1x1 or threads > 1 --
    # holds for every kernel but 1x1)
    return geom.g > 1 or (kw > 3 and kh > 3) or n > 1 or lead > 20480


def _padded_taps(geom):
    """(*out, *k) booleans: the output positions whose tap reads padding, and which taps."""
    lo = getattr(geom, "lo", None) or geom.p
    sp = geom.x_shape[2:]
    nd = len(geom.k)
    res = np.zeros(tuple(geom.out) + tuple(geom.k), bool)
    for i in range(nd):
        pos = (np.arange(geom.out[i])[:, None] * geom.s[i] + np.arange(geom.k[i])[None, :] * geom.d[i] - lo[i])
        pad = (pos < 0) | (pos >= sp[i])  # (out_i, k_i)
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = geom.out[i], geom.k[i]
        res |= pad.reshape(shape)
    return res


def _real_windows(geom, x):
    """(N, C, *k, *out) windows of x over zero padding, and the (*k, *out) taps that read x itself."""
    nd = len(geom.k)
    lo = getattr(geom, "lo", None) or geom.p
    hi = tuple(max(0, geom.d[i] * (geom.k[i] - 1) + geom.s[i] * (geom.out[i] - 1) + 1 - geom.x_shape[2 + i] - lo[i])
               for i in range(nd))
    win = windows(pad_nd(x, lo, hi), geom.k, geom.s, geom.d, geom.out)
    K_, L = int(np.prod(geom.k, dtype=np.int64)), int(np.prod(geom.out, dtype=np.int64))
    real = ~_padded_taps(geom).reshape(L, K_).T  # (K, L)
    return win.reshape(x.shape[:2] + (K_, L)), real


def padded_taps_skipped(geom, conv, x, w, y):
    """y (conv(x, w) over zero padding) with the outputs where a NaN or inf weight meets padding
    recomputed without those taps, as torch's oneDNN convolution does: the finite weights' sum over
    the padded input, plus the non-finite weights' products with the input's own elements."""
    bad = ~np.isfinite(w)
    if not bad.any() or y.size == 0:
        return y
    o, cg = w.shape[:2]
    win, real = _real_windows(geom, x)  # (N, C, K, L), (K, L)
    K_ = real.shape[0]
    bad2 = bad.reshape(o, cg, K_)
    hit = (bad2.any(axis=1).astype(np.float64) @ (~real).astype(np.float64)) > 0  # (O, L)
    if not hit.any():
        return y
    fixed = conv(x, np.where(bad, np.zeros((), w.dtype), w)).reshape(y.shape[:2] + (-1,))
    w2 = w.reshape(o, cg, K_)
    for oc in np.nonzero(bad2.any(axis=(1, 2)))[0]:  # the non-finite weights' products at real taps only
        ci, kk = np.nonzero(bad2[oc])
        c = (oc // (o // geom.g)) * cg + ci
        prod = w2[oc, ci, kk][None, :, None] * win[:, c, kk]  # (N, m, L)
        fixed[:, oc] += np.where(real[kk][None], prod, np.zeros((), prod.dtype)).sum(axis=1)
    return np.where(hit.reshape((o,) + tuple(geom.out)), fixed.reshape(y.shape), y)


def _bias_shape(nd):
    return (1, -1) + (1,) * nd


# twin of ConvTransposeNd below: the same op with geom.conv and geom.grad_input swapped (torch's own pairing)
class ConvNd(Op):
    """y = conv(x, w) + b for x (N, C, *sp), w (O, C/groups, *k), in geom's geometry (any object
    with conv, grad_input, grad_weight and n: ConvGeom here, layers._ConvGeom for conv2d's
    kernels). Its gradient op is cls._grad: subclasses (layers.Conv2d) name their own."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        y = geom.conv(x._data, w._data)
        if getattr(geom, "skip_padding", False):  # (torch's oneDNN path: padded taps add nothing)
            y = padded_taps_skipped(geom, geom.conv, x._data, w._data, y)
        if b is not None:
            y += b._data.reshape(_bias_shape(geom.n))
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx, gw = cls._grad.apply(x, w, g, ctx.geom, (need[0], need[1]))
        gb = g.sum((0,) + tuple(range(2, 2 + ctx.geom.n))) if need[2] else None
        return gx, gw, gb, None

    @classmethod
    def jvp(cls, ctx, tx, tw, tb, geom):
        x, w = ctx.saved_tensors
        return sum_terms(None if tx is None else cls.apply(tx, w, None, geom),
                          None if tw is None else cls.apply(x, tw, None, geom),
                          None if tb is None else tb.reshape(_bias_shape(geom.n)))


class ConvNdBackward(Op):
    """(gx, gw) of ConvNd: gx = conv_transpose(g, w), gw = correlate(x, g); both bilinear.
    cls._conv is the convolution op it is the gradient of."""

    @staticmethod
    def forward(ctx, x, w, g, geom, need):
        ctx.geom = geom
        ctx.save_for_backward(x, w, g)
        ctx.set_materialize_grads(False)
        gx = geom.grad_input(g._data, w._data) if need[0] else None
        gw = geom.grad_weight(x._data, g._data) if need[1] else None
        return gx, gw

    @classmethod
    def backward(cls, ctx, ax, aw):
        x, w, g = ctx.saved_tensors
        geom = ctx.geom
        need = ctx.needs_input_grad
        gx = gw = gg = None
        if need[0] and aw is not None:  # <aw, corr(x, g)> = <x, conv_T(g, aw)>
            gx = cls.apply(x, aw, g, geom, (True, False))[0]
        if need[1] and ax is not None:  # <ax, conv_T(g, w)> = <corr(ax, g), w>
            gw = cls.apply(ax, w, g, geom, (False, True))[1]
        if need[2]:
            gg = sum_terms(None if ax is None else cls._conv.apply(ax, w, None, geom),
                            None if aw is None else cls._conv.apply(x, aw, None, geom))
        return gx, gw, gg, None, None

    @classmethod
    def jvp(cls, ctx, tx, tw, tg, geom, need):
        x, w, g = ctx.saved_tensors
        gx = gw = None
        for t in ((None if tg is None else cls.apply(x, w, tg, geom, need)),
                  (None if tw is None else cls.apply(x, tw, g, geom, (need[0], False))),
                  (None if tx is None else cls.apply(tx, w, g, geom, (False, need[1])))):
            if t is not None:
                gx = sum_terms(gx, t[0])
                gw = sum_terms(gw, t[1])
        return gx, gw


# twin of ConvNd above: the same op with geom.conv and geom.grad_input swapped (torch's own pairing)
class ConvTransposeNd(Op):
    """y = conv_transpose(x, w) + b: the input gradient of the convolution whose geometry is
    geom (its input has y's shape, its output x's); w is (C_in, C_out / groups, *k). Its
    backward is cls._conv and cls._grad (spatial.ConvTranspose2d: conv2d's)."""

    @staticmethod
    def forward(ctx, x, w, b, geom):
        ctx.geom = geom
        ctx.save_for_backward(x, w)
        y = geom.grad_input(x._data, w._data)
        if b is not None:
            y += b._data.reshape(_bias_shape(geom.n))
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = cls._conv.apply(g, w, None, ctx.geom) if need[0] else None  # the adjoint: a convolution
        gw = cls._grad.apply(g, w, x, ctx.geom, (False, True))[1] if need[1] else None
        gb = g.sum((0,) + tuple(range(2, 2 + ctx.geom.n))) if need[2] else None
        return gx, gw, gb, None

    @classmethod
    def jvp(cls, ctx, tx, tw, tb, geom):
        x, w = ctx.saved_tensors
        return sum_terms(None if tx is None else cls.apply(tx, w, None, geom),
                          None if tw is None else cls.apply(x, tw, None, geom),
                          None if tb is None else tb.reshape(_bias_shape(geom.n)))


ConvNd._grad = ConvTransposeNd._grad = ConvNdBackward
ConvNdBackward._conv = ConvTransposeNd._conv = ConvNd
