"""F.fractional_max_pool3d(_with_indices): max pooling over pseudo-random 3-d windows whose
starts step by a fractional stride (Graham's fractional max-pooling), as torch's CPU kernel:
one random sample per (batch, channel) and dimension (T, H, W), the first maximum of each window
in (t, h, w) order, indices flat in the T*H*W plane."""
import numpy as np

from fastgrad import _random
from fastgrad._ops.base import make

__all__ = ["fractional_max_pool3d", "fractional_max_pool3d_with_indices"]


def _triple(v):
    if isinstance(v, (tuple, list)):
        return tuple(v) * 3 if len(v) == 1 else tuple(v)
    return (v, v, v)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                                       return_indices=False, _random_samples=None):
    """(output, indices) of 3-d fractional max pooling; output_size or output_ratio."""
    from fastgrad.nn._functional_more import _intervals

    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool3d requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = _triple(output_ratio)
        output_size = [int(input.size(-3) * ratio[0]), int(input.size(-2) * ratio[1]),
                       int(input.size(-1) * ratio[2])]
    if _random_samples is None:
        n_batch = 1 if input.dim() == 4 else input.size(0)
        _random_samples = make(_random.rng(None).random((n_batch, input.size(-4), 3)).astype(input._data.dtype))
    k, out = _triple(kernel_size), _triple(output_size)
    if input.dim() not in (4, 5):
        raise RuntimeError("fractional_max_pool3d_out(): Expected 4D or 5D tensor, but got: %s" % list(input.shape))
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError("fractional_max_pool3d_out(): Expected input to have non-zero size for non-batch "
                               "dimensions, but got%s with dimension %d being empty." % (list(input.shape), i))
    unbatched = input.dim() == 4
    x = input.unsqueeze(0) if unbatched else input
    n, c, t, h, w = x.shape
    for o, kk, size, what in ((out[0], k[0], t, "time"), (out[1], k[1], h, "height"), (out[2], k[2], w, "width")):
        if o + kk - 1 > size:
            raise RuntimeError("fractional_max_pool3d_out(): pool %s %d too large relative to input %s %d"
                               % (what, kk, what, size))
    rs = _random_samples
    if rs._data.dtype != x._data.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if rs.dim() != 3 or rs.shape[0] < n or rs.shape[1] != c or rs.shape[2] != 3:
        raise RuntimeError("Expect _random_samples of shape (N >= %d, %d, 3), got %s" % (n, c, list(rs.shape)))
    a = x._data
    idx = np.empty((n, c) + tuple(out), np.int64)
    kt, kh, kw = (np.arange(kk) for kk in k)
    for b in range(n):
        for ch in range(c):
            st, sh, sw = rs._data[b, ch]
            ts = _intervals(st, t, out[0], k[0])[:, None] + kt  # (ot, kt)
            hs = _intervals(sh, h, out[1], k[1])[:, None] + kh
            ws = _intervals(sw, w, out[2], k[2])[:, None] + kw
            win = a[b, ch][ts[:, None, None, :, None, None], hs[None, :, None, None, :, None],
                           ws[None, None, :, None, None, :]].reshape(out[0], out[1], out[2], -1)
            arg = win.argmax(-1)  # the first maximum in (t, h, w) window order
            at, rem = np.divmod(arg, k[1] * k[2])
            ah, aw = np.divmod(rem, k[2])
            oi, oj, ok = np.meshgrid(np.arange(out[0]), np.arange(out[1]), np.arange(out[2]), indexing="ij")
            idx[b, ch] = (ts[oi, at] * h + hs[oj, ah]) * w + ws[ok, aw]
    y = x.reshape(n, c, -1).gather(2, make(idx.reshape(n, c, -1))).reshape(idx.shape)
    ind = make(idx)
    if unbatched:
        y, ind = y.squeeze(0), ind.squeeze(0)
    return y, ind


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,  # noqa: A002
                          _random_samples=None):
    y, ind = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio, return_indices,
                                                _random_samples)
    return (y, ind) if return_indices else y
