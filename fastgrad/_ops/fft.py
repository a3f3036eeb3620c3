"""Discrete Fourier transforms (torch.fft) on pocketfft: scipy.fft when SciPy is installed, else
numpy.fft. Three primitive ops, as PyTorch's: C2C (complex to complex, either direction), R2C
(real to complex, forward, one-sided or full) and C2R (one-sided complex to real, inverse), plus
Resize (zero-pad or trim the signal) and the conjugate (complex.py). Every public transform
composes them as torch's ATen does (hfft = C2R of the conjugate, ihfft = conj of R2C, ...).

The scaling of a transform is a code: NONE (no factor), SQRT (1/sqrt(n)), N (1/n); torch's norm
strings map to it by direction (_scale). The adjoint of C2C with scale s is C2C with the same s in
the other direction; R2C's and C2R's adjoints add the one-sided halving (torch's
fft_r2c_backward / fft_c2r_backward)."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops import complex as C
from fastgrad._ops.base import Op, make, norm_dim, scalar_type_name

try:  # SciPy's pocketfft computes float32 in float32, threads, and takes any axes
    import scipy.fft as _lib
except ImportError:  # pragma: no cover - NumPy's pocketfft (float32 natively since NumPy 2.0)
    import numpy.fft as _lib

NONE, SQRT, N = 0, 1, 2
_FWD_NORM = {NONE: "backward", SQRT: "ortho", N: "forward"}  # numpy/scipy's norm for a forward
_INV_NORM = {NONE: "forward", SQRT: "ortho", N: "backward"}  # transform / an inverse one of scale s


def _c2c(a, dims, scale, forward):
    if not dims:
        return a.copy()
    f = _lib.fftn if forward else _lib.ifftn
    return np.asarray(f(a, axes=dims, norm=(_FWD_NORM if forward else _INV_NORM)[scale]), a.dtype)


class FftC2C(Op):
    """The DFT of a complex tensor over dims (forward: e^{-2 pi i jk/n}; else e^{+...})."""

    @staticmethod
    def forward(ctx, x, dims, scale, forward):
        ctx.dims, ctx.scale, ctx.fwd = dims, scale, forward
        return _c2c(x._data, dims, scale, forward)

    @staticmethod
    def backward(ctx, g):
        return FftC2C.apply(g, ctx.dims, ctx.scale, not ctx.fwd), None, None, None

    @staticmethod
    def jvp(ctx, t, dims, scale, forward):
        return FftC2C.apply(t, dims, scale, forward)


class FftR2C(Op):
    """The forward DFT of a real tensor over dims; onesided keeps the last dim's n // 2 + 1
    non-redundant frequencies."""

    @staticmethod
    def forward(ctx, x, dims, scale, onesided):
        d = x._data
        ctx.dims, ctx.scale, ctx.onesided, ctx.n_last = dims, scale, onesided, d.shape[dims[-1]]
        f = _lib.rfftn if onesided else _lib.fftn
        return np.asarray(f(d, axes=dims, norm=_FWD_NORM[scale]), C.complex_dtype_of(d.dtype))

    @staticmethod
    def backward(ctx, g):
        if ctx.onesided:
            sizes = list(g._data.shape)
            sizes[ctx.dims[-1]] = ctx.n_last
            g = Resize.apply(g, tuple(sizes))  # the missing half as zeros (torch's formula)
        return C.Real.apply(FftC2C.apply(g, ctx.dims, ctx.scale, False)), None, None, None

    @staticmethod
    def jvp(ctx, t, dims, scale, onesided):
        return FftR2C.apply(t, dims, scale, onesided)


class FftC2R(Op):
    """The inverse DFT over dims of a one-sided Hermitian signal (the last dim holds
    n_last // 2 + 1 frequencies), a real tensor with n_last points in the last dim."""

    @staticmethod
    def forward(ctx, x, dims, scale, n_last):
        d = x._data
        ctx.dims, ctx.scale, ctx.n_last = dims, scale, n_last
        s = [d.shape[a] for a in dims[:-1]] + [n_last]
        return np.asarray(_lib.irfftn(d, s=s, axes=dims, norm=_INV_NORM[scale]), C._REAL_OF[d.dtype])

    @staticmethod
    def backward(ctx, g):
        gi = FftR2C.apply(g, ctx.dims, ctx.scale, True)
        m = gi._data.shape[ctx.dims[-1]]
        double = ctx.n_last - m
        if double > 0:  # the frequencies that stand for two (k and n - k): twice the gradient
            w = np.ones(m, gi._data.dtype)
            w[1:1 + double] = 2
            shape = [1] * gi._data.ndim
            shape[ctx.dims[-1]] = m
            gi = C.Mul.apply(gi, make(w.reshape(shape)))
        return gi, None, None, None

    @staticmethod
    def jvp(ctx, t, dims, scale, n_last):
        return FftC2R.apply(t, dims, scale, n_last)


# same linear-op shape as complex.MaskZero and views.ViewFill: the maths differ
class Resize(Op):
    """Each dim trimmed or zero-padded at its end to sizes."""

    _half_native = True

    @staticmethod
    def forward(ctx, x, sizes):
        d = x._data
        ctx.in_shape = d.shape
        out = np.zeros(sizes, d.dtype)
        common = tuple(slice(0, min(a, b)) for a, b in zip(d.shape, sizes))
        out[common] = d[common]
        return out

    @staticmethod
    def backward(ctx, g):
        return Resize.apply(g, ctx.in_shape), None

    @staticmethod
    def jvp(ctx, t, sizes):
        return Resize.apply(t, sizes)


# --------------------------------------------------------------------------- argument handling
def _scale(norm, forward):
    """torch's norm string -> the scale code of a transform in that direction."""
    if norm is None or norm == "backward":
        return NONE if forward else N
    if norm == "forward":
        return N if forward else NONE
    if norm == "ortho":
        return SQRT
    raise RuntimeError('Invalid normalization mode: "%s"' % (norm,))


def _promote(x, fname, require_complex=False):
    """torch's promote_tensor_fft: integers to the default float dtype; half unsupported."""
    dt = x._data.dtype
    if dt.kind in "biu":
        x = x.to(_dtype.get_default_dtype())
    elif dt.kind not in "fc" or dt.itemsize < 4:
        raise RuntimeError("Unsupported dtype %s" % scalar_type_name(dt))
    if require_complex and x._data.dtype.kind != "c":
        x = C.ToComplex.apply(x, None)
    return x


def _require_real(x, fname):
    if x._data.dtype.kind == "c":
        raise RuntimeError("%s expects a real input tensor, but got %s" % (fname, scalar_type_name(x._data.dtype)))


def _wrap(dim, ndim):
    if ndim == 0:
        raise IndexError("Dimension specified as %d but tensor has no dimensions" % dim)
    return norm_dim(dim, ndim)


def _check_n(n):
    if n < 1:
        raise RuntimeError("Invalid number of data points (%d) specified" % n)


def _resize(x, dims, sizes):
    """x with dims[i] trimmed/padded to sizes[i] (x itself when nothing changes)."""
    shape = list(x._data.shape)
    for d, n in zip(dims, sizes):
        shape[d] = n
    if tuple(shape) == x._data.shape:
        return x
    return Resize.apply(x, tuple(shape))


def _shape_and_dims(x, s, dim):
    """torch's canonicalize_fft_shape_and_dim_args: (sizes, dims), dims in the order given."""
    nd = x._data.ndim
    dims = None
    if dim is not None:
        dim = [dim] if isinstance(dim, int) else list(dim)
        dims = [_wrap(d, nd) for d in dim]
        if len(set(dims)) != len(dims):
            raise RuntimeError("FFT dims must be unique")
    if s is not None:
        s = [s] if isinstance(s, int) else list(s)
        if dims is not None and len(dims) != len(s):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        if len(s) > nd:
            raise RuntimeError("Got shape with %d values but input tensor only has %d dimensions." % (len(s), nd))
        if dims is None:
            dims = list(range(nd - len(s), nd))
        sizes = [x._data.shape[d] if n == -1 else int(n) for n, d in zip(s, dims)]
    elif dims is None:
        dims = list(range(nd))
        sizes = list(x._data.shape)
    else:
        sizes = [x._data.shape[d] for d in dims]
    for n in sizes:
        _check_n(n)
    return sizes, tuple(dims)


def _c2r_shape_and_dims(fname, x, s, dim):
    sizes, dims = _shape_and_dims(x, s, dim)
    if not sizes:
        raise RuntimeError("%s must transform at least one axis" % fname)
    s_list = None if s is None else ([s] if isinstance(s, int) else list(s))
    if s_list is None or s_list[-1] == -1:
        last = 2 * (x._data.shape[dims[-1]] - 1)
    else:
        last = sizes[-1]
    _check_n(last)
    sizes[-1] = last // 2 + 1
    return sizes, dims, last


def _out(r, out):
    return C._write_out(r, out)


# --------------------------------------------------------------------------- transforms
def _c2c_or_r2c(fname, x, sizes, dims, norm, forward):
    x = _promote(x, fname)
    x = _resize(x, dims, sizes)
    scale = _scale(norm, forward)
    if x._data.dtype.kind != "c":
        if not dims:
            return C.ToComplex.apply(x, None)
        if forward:
            return FftR2C.apply(x, dims, scale, False)
        return C.Conj.apply(FftR2C.apply(x, dims, scale, False))  # the inverse DFT of real x
    return FftC2C.apply(x, dims, scale, forward)


def _one(fname, x, n, dim):
    d = _wrap(dim, x._data.ndim)
    size = x._data.shape[d] if n is None else int(n)
    _check_n(size)
    return [size], (d,)


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    sizes, dims = _one("fft", input, n, dim)
    return _out(_c2c_or_r2c("fft", input, sizes, dims, norm, True), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    sizes, dims = _one("ifft", input, n, dim)
    return _out(_c2c_or_r2c("ifft", input, sizes, dims, norm, False), out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    sizes, dims = _shape_and_dims(input, s, dim)
    return _out(_c2c_or_r2c("fftn", input, sizes, dims, norm, True), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    sizes, dims = _shape_and_dims(input, s, dim)
    return _out(_c2c_or_r2c("ifftn", input, sizes, dims, norm, False), out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return fftn(input, s, dim, norm, out=out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ifftn(input, s, dim, norm, out=out)


def _r2c(fname, x, sizes, dims, norm, forward):
    _require_real(x, fname)
    x = _resize(_promote(x, fname), dims, sizes)
    if not dims:
        raise RuntimeError("%s must transform at least one axis" % fname)
    r = FftR2C.apply(x, dims, _scale(norm, forward), True)
    return r if forward else C.Conj.apply(r)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    _require_real(input, "rfft")
    sizes, dims = _one("rfft", input, n, dim)
    return _out(_r2c("rfft", input, sizes, dims, norm, True), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    _require_real(input, "rfftn")
    sizes, dims = _shape_and_dims(input, s, dim)
    return _out(_r2c("rfftn", input, sizes, dims, norm, True), out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return rfftn(input, s, dim, norm, out=out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    _require_real(input, "ihfft")
    sizes, dims = _one("ihfft", input, n, dim)
    return _out(_r2c("ihfft", input, sizes, dims, norm, False), out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    _require_real(input, "ihfftn")
    sizes, dims = _shape_and_dims(input, s, dim)
    return _out(_r2c("ihfftn", input, sizes, dims, norm, False), out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return ihfftn(input, s, dim, norm, out=out)


def _c2r(fname, x, sizes, dims, last, norm, forward):
    x = _resize(_promote(x, fname, require_complex=True), dims, sizes)
    if forward:  # hfft: the inverse transform of the conjugate, scaled as a forward one
        x = C.Conj.apply(x)
    return FftC2R.apply(x, dims, _scale(norm, forward), last)


def _one_c2r(fname, x, n, dim):
    d = _wrap(dim, x._data.ndim)
    last = 2 * (x._data.shape[d] - 1) if n is None else int(n)
    _check_n(last)
    return [last // 2 + 1], (d,), last


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    sizes, dims, last = _one_c2r("irfft", input, n, dim)
    return _out(_c2r("irfft", input, sizes, dims, last, norm, False), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    sizes, dims, last = _c2r_shape_and_dims("irfftn", input, s, dim)
    return _out(_c2r("irfftn", input, sizes, dims, last, norm, False), out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return irfftn(input, s, dim, norm, out=out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    sizes, dims, last = _one_c2r("hfft", input, n, dim)
    return _out(_c2r("hfft", input, sizes, dims, last, norm, True), out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    sizes, dims, last = _c2r_shape_and_dims("hfftn", input, s, dim)
    return _out(_c2r("hfftn", input, sizes, dims, last, norm, True), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    return hfftn(input, s, dim, norm, out=out)


# --------------------------------------------------------------------------- helpers
def _shift_dims(input, dim):
    nd = input._data.ndim
    if dim is None:
        return tuple(range(nd))
    dims = [dim] if isinstance(dim, int) else list(dim)
    return tuple(norm_dim(d, nd) for d in dims)


def fftshift(input, dim=None):
    dims = _shift_dims(input, dim)
    if not dims:
        return input.clone()
    return input.roll([input._data.shape[d] // 2 for d in dims], list(dims))


def ifftshift(input, dim=None):
    dims = _shift_dims(input, dim)
    if not dims:
        return input.clone()
    return input.roll([(input._data.shape[d] + 1) // 2 for d in dims], list(dims))


def _freq(n, d, dtype, device, requires_grad, out, onesided):
    from fastgrad._types import check_device

    check_device(device)
    dt = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    if not dt.is_floating_point and dt not in (_dtype.complex64, _dtype.complex128):
        raise RuntimeError("fftfreq requires a floating point or complex dtype")
    k = np.arange(n // 2 + 1 if onesided else n, dtype=np.float64)
    if not onesided:
        k[(n + 1) // 2:] -= n
    with np.errstate(divide="ignore", invalid="ignore"):
        r = make((k * (np.float64(1.0) / (np.float64(n) * d))).astype(dt.np))  # n = 0: rfftfreq gives nan
    if requires_grad:
        r.requires_grad_(True)
    return _out(r, out)


def fftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _freq(n, d, dtype, device, requires_grad, out, False)


def rfftfreq(n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    return _freq(n, d, dtype, device, requires_grad, out, True)

