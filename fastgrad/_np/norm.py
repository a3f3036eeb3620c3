"""Batch norm and layer norm kernels (NumPy twin of csrc/norm.pxi): normalization with its affine
map in one pass forward, and the three gradients in one pass backward.

    batch_norm_fwd(x, weight, bias, eps, y, mean, var)
        x (N, C, S): statistics per channel c over N and S; mean, var (C,) float64 <- the mean
        and the biased variance; y (N, C, S) <- (x - mean) / sqrt(var + eps) * weight + bias
        (weight, bias: (C,) or None). Returns y.
    batch_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb)
        with xhat = (x - mean) * rstd, rstd = 1 / sqrt(var + eps), M = N * S:
        gb (C,) <- sum of g; gw (C,) <- sum of g * xhat;
        gx <- rstd * weight * (g - gb / M - xhat * gw / M). gx, gw, gb may be None.
        Returns gx.
    layer_norm_fwd(x, weight, bias, eps, y, mean, var)
    layer_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb)
        the same with x (R, D), statistics per row over D (mean, var (R,) float64), weight and
        bias (D,) per column, gw and gb summed over the rows.

float32 or float64 (x, g, weight, bias, y, gx, gw, gb of one dtype); sums in float64.
"""
import numpy as np

__all__ = ["batch_norm_fwd", "batch_norm_bwd", "layer_norm_fwd", "layer_norm_bwd"]


def _check(name, x, g, mean, var, weight, bias, outs, nd):
    arrays = [a for a in (x, g, weight, bias) + tuple(outs) if a is not None]
    if not all(isinstance(a, np.ndarray) for a in arrays + [mean, var]):
        raise TypeError("%s: arrays must be ndarrays" % name)
    dt = x.dtype
    if dt not in (np.float32, np.float64) or any(a.dtype != dt for a in arrays):
        raise TypeError("%s: arrays must be float32 or float64, of one dtype" % name)
    if mean.dtype != np.float64 or var.dtype != np.float64:
        raise TypeError("%s: mean and var must be float64" % name)
    if x.ndim != nd or (g is not None and g.shape != x.shape):
        raise ValueError("%s: x must be %d-D (and g of its shape)" % (name, nd))
    c = x.shape[1]
    stats = x.shape[1] if nd == 3 else x.shape[0]
    if mean.shape != (stats,) or var.shape != (stats,):
        raise ValueError("%s: mean and var must have shape (%d,)" % (name, stats))
    for a in (weight, bias):
        if a is not None and a.shape != (c,):
            raise ValueError("%s: weight and bias must have shape (%d,)" % (name, c))
    for o in outs:
        if o is not None and not o.flags.writeable:
            raise ValueError("%s: outputs must be writeable" % name)


def _fwd(x, weight, bias, eps, y, mean, var, axes, pshape, sshape):
    a = x.astype(np.float64)
    m = a.mean(axes)
    xc = a - m.reshape(sshape)
    v = (xc * xc).mean(axes)
    mean[...], var[...] = m, v
    r = xc / np.sqrt(v + eps).reshape(sshape)
    if weight is not None:
        r *= weight.reshape(pshape)
    if bias is not None:
        r += bias.reshape(pshape)
    y[...] = r
    return y


def _bwd(x, g, mean, var, weight, eps, gx, gw, gb, axes, pshape, sshape, paxes, count):
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x.astype(np.float64) - mean.reshape(sshape)) * rstd.reshape(sshape)
    g64 = g.astype(np.float64)
    if gb is not None:
        gb[...] = g64.sum(paxes)
    if gw is not None:
        gw[...] = (g64 * xhat).sum(paxes)
    if gx is not None:
        gh = g64 * weight.reshape(pshape) if weight is not None else g64
        s1 = gh.sum(axes).reshape(sshape) / count
        s2 = (gh * xhat).sum(axes).reshape(sshape) / count
        gx[...] = rstd.reshape(sshape) * (gh - s1 - xhat * s2)
    return gx


def batch_norm_fwd(x, weight, bias, eps, y, mean, var):
    _check("batch_norm_fwd", x, None, mean, var, weight, bias, (y,), 3)
    if y.shape != x.shape:
        raise ValueError("batch_norm_fwd: y must have x's shape")
    return _fwd(x, weight, bias, float(eps), y, mean, var, (0, 2), (1, -1, 1), (1, -1, 1))


def batch_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb):
    _check("batch_norm_bwd", x, g, mean, var, weight, None, (gx, gw, gb), 3)
    return _bwd(x, g, mean, var, weight, float(eps), gx, gw, gb, (0, 2), (1, -1, 1), (1, -1, 1), (0, 2),
                x.shape[0] * x.shape[2])


def layer_norm_fwd(x, weight, bias, eps, y, mean, var):
    _check("layer_norm_fwd", x, None, mean, var, weight, bias, (y,), 2)
    if y.shape != x.shape:
        raise ValueError("layer_norm_fwd: y must have x's shape")
    return _fwd(x, weight, bias, float(eps), y, mean, var, 1, (1, -1), (-1, 1))


def layer_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb):
    _check("layer_norm_bwd", x, g, mean, var, weight, None, (gx, gw, gb), 2)
    return _bwd(x, g, mean, var, weight, float(eps), gx, gw, gb, 1, (1, -1), (-1, 1), 0, x.shape[1])
