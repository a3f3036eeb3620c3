"""Convolution and pooling kernels (NumPy twin of csrc/conv.pxi): the patch matrix of a
convolution and its adjoint, max pooling forward and backward, on (N, C, H, W) images.

    im2col(x, kernel, stride, padding, dilation, out)
        x (N, C, H, W); out (N, C*kh*kw, oh*ow) <- out[n, (c*kh + i)*kw + j, y*ow + z] =
        x[n, c, y*sh - ph + i*dh, z*sw - pw + j*dw] (0 outside the image), with
        oh = (H + 2ph - dh(kh-1) - 1) // sh + 1 (same for ow). out may be any view whose last
        axis has unit stride (e.g. the (N, CKK, L) transpose of a C-contiguous (CKK, N, L)).
    col2im(cols, kernel, stride, padding, dilation, out)
        the adjoint: out (N, C, H, W) <- the sum of the cols entries that read each pixel.
    max_pool2d_fwd(x, kernel, stride, padding, dilation, y, idx)
        y (N, C, oh, ow) <- the maximum over each window (padding never wins), idx (int64) <-
        its flat index in the (H*W) plane; PyTorch's choice: the first maximum, the last NaN;
        a window with nothing above -inf takes its first position on the grid at or after
        (0, 0) (outside the plane for a window of padding only). oh, ow are y's (ceil_mode is
        the caller's). Returns y.
    max_pool2d_bwd(g, idx, out)
        out (N, C, H, W) <- g added at the positions idx (indices outside the plane dropped).

float32 or float64, one dtype; kernel, stride, padding, dilation are pairs of ints; outputs
are overwritten and returned.
"""
import numpy as np

__all__ = ["im2col", "col2im", "max_pool2d_fwd", "max_pool2d_bwd"]

_as_strided = np.lib.stride_tricks.as_strided


def _pairs(name, *pairs):
    for p in pairs:
        if len(p) != 2 or not all(isinstance(v, (int, np.integer)) for v in p):
            raise TypeError("%s: kernel, stride, padding, dilation must be pairs of ints" % name)
    k, s, p, d = pairs
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError("%s: kernel, stride, dilation must be positive, padding non-negative" % name)


def _float(name, *arrays):
    if not all(isinstance(a, np.ndarray) for a in arrays):
        raise TypeError("%s: arrays must be ndarrays; got %s" % (name, ", ".join(type(a).__name__ for a in arrays)))
    dt = arrays[0].dtype
    if dt not in (np.float32, np.float64) or any(a.dtype != dt for a in arrays):
        raise TypeError("%s: arrays must be float32 or float64, of one dtype; got %s"
                        % (name, ", ".join(str(a.dtype) for a in arrays)))


def _out_writeable(name, out):
    if not isinstance(out, np.ndarray) or not out.flags.writeable:
        raise ValueError("%s: out must be a writeable ndarray" % name)


def conv_out_size(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def _view(a, shape):
    """a viewed as shape without a copy (ValueError if its strides do not allow it)."""
    v = a.view()
    v.shape = shape
    return v


def _geometry(name, x4, cols, kernel, stride, padding, dilation):
    _pairs(name, kernel, stride, padding, dilation)
    _float(name, x4, cols)
    if x4.ndim != 4 or cols.ndim != 3:
        raise ValueError("%s: image must be 4-D (N, C, H, W) and cols 3-D (N, C*kh*kw, oh*ow)" % name)
    n, c, h, w = x4.shape
    oh, ow = (conv_out_size(h, kernel[0], stride[0], padding[0], dilation[0]),
              conv_out_size(w, kernel[1], stride[1], padding[1], dilation[1]))
    if oh < 1 or ow < 1 or cols.shape != (n, c * kernel[0] * kernel[1], oh * ow):
        raise ValueError("%s: cols of shape %s do not match the image %s (expected (%d, %d, %d))"
                         % (name, cols.shape, x4.shape, n, c * kernel[0] * kernel[1], oh * ow))
    return oh, ow


def _windows(xp, k, s, d, out):
    n, c = xp.shape[:2]
    st = xp.strides
    return _as_strided(xp, (n, c, k[0], k[1], out[0], out[1]),
                       (st[0], st[1], st[2] * d[0], st[3] * d[1], st[2] * s[0], st[3] * s[1]), writeable=False)


def im2col(x, kernel, stride, padding, dilation, out):
    _float("im2col", x, out)
    _out_writeable("im2col", out)
    oh, ow = _geometry("im2col", x, out, kernel, stride, padding, dilation)
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2)) if padding[0] or padding[1] else x
    _view(out, (n, c, kernel[0], kernel[1], oh, ow))[...] = _windows(xp, kernel, stride, dilation, (oh, ow))
    return out


def col2im(cols, kernel, stride, padding, dilation, out):
    _float("col2im", cols, out)
    _out_writeable("col2im", out)
    oh, ow = _geometry("col2im", out, cols, kernel, stride, padding, dilation)
    n, c, h, w = out.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    hp = max(h + 2 * ph, dh * (kh - 1) + sh * (oh - 1) + 1)
    wp = max(w + 2 * pw, dw * (kw - 1) + sw * (ow - 1) + 1)
    gx = np.zeros((n, c, hp, wp), out.dtype)
    c6 = cols.reshape(n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += c6[:, :, i, j]
    out[...] = gx[:, :, ph:ph + h, pw:pw + w]
    return out


def _pool_check(name, x, y, idx, kernel, stride, padding, dilation):
    _pairs(name, kernel, stride, padding, dilation)
    _float(name, x, y)
    if not isinstance(idx, np.ndarray):
        raise TypeError("%s: idx must be an ndarray" % name)
    _out_writeable(name, y)
    _out_writeable(name, idx)
    if x.ndim != 4 or y.ndim != 4 or y.shape[:2] != x.shape[:2] or idx.shape != y.shape or idx.dtype != np.int64:
        raise ValueError("%s: x (N, C, H, W), y and idx (int64) of one shape (N, C, oh, ow)" % name)


def max_pool2d_fwd(x, kernel, stride, padding, dilation, y, idx):
    _pool_check("max_pool2d_fwd", x, y, idx, kernel, stride, padding, dilation)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = x.shape
    oh, ow = y.shape[2:]
    if y.size == 0:
        return y
    # padded so that every window lies inside (the ceil_mode overhang included)
    eh = max(0, dh * (kh - 1) + sh * (oh - 1) + 1 - (h + 2 * ph))
    ew = max(0, dw * (kw - 1) + sw * (ow - 1) + 1 - (w + 2 * pw))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew)), constant_values=-np.inf)
    flat = _windows(xp, kernel, stride, dilation, (oh, ow)).transpose(0, 1, 4, 5, 2, 3).reshape(n, c, oh, ow, kh * kw)
    nan = np.isnan(flat)
    arg = np.where(nan.any(-1), kh * kw - 1 - nan[..., ::-1].argmax(-1), flat.argmax(-1))
    y[...] = np.take_along_axis(flat, arg[..., None], -1)[..., 0]
    ki, kj = np.divmod(arg, kw)
    rows = np.arange(oh).reshape(-1, 1) * sh + ki * dh - ph
    cols = np.arange(ow) * sw + kj * dw - pw
    pos = rows * w + cols
    low = y == -np.inf
    if low.any():  # nothing above -inf: the window's first position at or after (0, 0)
        start = []
        for b0, s0, p0, d0 in ((np.arange(oh), sh, ph, dh), (np.arange(ow), sw, pw, dw)):
            b = b0 * s0 - p0
            start.append(np.where(b < 0, b + (-b + d0 - 1) // d0 * d0, b))
        pos = np.where(low, start[0].reshape(-1, 1) * w + start[1], pos)
    idx[...] = pos
    return y


def max_pool2d_bwd(g, idx, out):
    _float("max_pool2d_bwd", g, out)
    if not isinstance(idx, np.ndarray):
        raise TypeError("max_pool2d_bwd: idx must be an ndarray")
    _out_writeable("max_pool2d_bwd", out)
    if (g.ndim != 4 or out.ndim != 4 or idx.shape != g.shape or g.shape[:2] != out.shape[:2]
            or idx.dtype != np.int64):
        raise ValueError("max_pool2d_bwd: g and idx (int64) (N, C, oh, ow), out (N, C, H, W)")
    n, c, h, w = out.shape
    plane = h * w
    inside = (idx >= 0) & (idx < plane)
    base = (np.arange(n * c, dtype=np.int64) * plane).reshape(n, c, 1, 1)
    gd = g if inside.all() else np.where(inside, g, 0)
    out[...] = np.bincount((np.where(inside, idx, 0) + base).ravel(), weights=gd.ravel(),
                           minlength=n * c * plane).reshape(out.shape)
    return out
