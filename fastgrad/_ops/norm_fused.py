"""Batch norm and layer norm with their affine maps as one op each way: y = xhat * w + b with
xhat = (x - mean) / sqrt(var + eps), statistics over the normalized axes, computed by the
kernels K.batch_norm_fwd/bwd and K.layer_norm_fwd/bwd (csrc/norm.pxi, twin fastgrad/_np/norm.py).

The first-order backward without a graph (_array_backward) is the fused kernel; backward and
jvp are written with differentiable ops (Normalize's symmetric Jacobian), so double backward
and forward mode work."""
import numpy as np

from fastgrad._ops.base import K, Op
from fastgrad._ops.layers import Normalize, remember_batch_stats


def _geometry(kind, shape):
    """(normalized axes, shape the affine parameters broadcast as, axes their gradients sum over,
    the 3-D (batch) or 2-D (layer) shape the kernels see)."""
    nd = len(shape)
    if kind == "batch":
        axes = (0,) + tuple(range(2, nd))
        return axes, (1, -1) + (1,) * (nd - 2), axes, (shape[0], shape[1], int(np.prod(shape[2:])))
    k = kind  # layer: the number of normalized (last) dims
    lead = tuple(range(nd - k))
    return tuple(range(nd - k, nd)), shape[nd - k:], lead, (int(np.prod(shape[:nd - k])), int(np.prod(shape[nd - k:])))


class NormAffine(Op):
    """Batch norm (kind 'batch': statistics per channel, dim 1) or layer norm (kind k: over the
    last k dims) with optional weight and bias; ctx.stats holds the float64 (mean, biased var)."""

    @staticmethod
    def forward(ctx, x, w, b, kind, eps, sink=None):
        a = np.ascontiguousarray(x._data)
        _, _, _, shape3 = _geometry(kind, a.shape)
        ctx.kind, ctx.eps = kind, eps
        ctx.save_for_backward(x, w)
        ctx.b_shape = None if b is None else b._data.shape
        nstats = shape3[1] if kind == "batch" else shape3[0]
        mean, var = np.empty(nstats), np.empty(nstats)
        y = np.empty(a.shape, a.dtype)
        wa = None if w is None else np.ascontiguousarray(w._data).reshape(-1)
        ba = None if b is None else np.ascontiguousarray(b._data).reshape(-1)
        fwd = K.batch_norm_fwd if kind == "batch" else K.layer_norm_fwd
        fwd(a.reshape(shape3), wa, ba, float(eps), y.reshape(shape3), mean, var)
        ctx.stats = (mean, var)
        if kind == "batch":  # batch_norm's running statistics (layers.RunningStats) read them
            remember_batch_stats(x._data, mean, var)
        if sink is not None:  # the caller's running statistics
            sink.append(ctx.stats)
        return y

    @staticmethod
    def _array_backward(ctx, g):
        x, w = ctx.saved_arrays
        need = ctx.needs_input_grad
        _, _, _, shape3 = _geometry(ctx.kind, x.shape)
        gx = np.empty(x.shape, x.dtype) if need[0] else None
        pn = shape3[1]
        gw = np.empty(pn, x.dtype) if need[1] and w is not None else None
        gb = np.empty(pn, x.dtype) if need[2] and ctx.b_shape is not None else None
        bwd = K.batch_norm_bwd if ctx.kind == "batch" else K.layer_norm_bwd
        bwd(np.ascontiguousarray(x).reshape(shape3), np.ascontiguousarray(g).reshape(shape3), *ctx.stats,
            None if w is None else np.ascontiguousarray(w).reshape(-1), float(ctx.eps),
            None if gx is None else gx.reshape(shape3), gw, gb)
        return (gx, None if gw is None else gw.reshape(w.shape),
                None if gb is None else gb.reshape(ctx.b_shape), None, None, None)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        axes, pshape, paxes, _ = _geometry(ctx.kind, tuple(x.shape))
        gx = gw = gb = None
        if need[0]:
            gx = Normalize._vjp(x, g if w is None else g * w.reshape(pshape), axes, ctx.eps)
        if need[1] and w is not None:
            gw = (g * Normalize.apply(x, axes, ctx.eps)).sum(paxes).reshape(w.shape)
        if need[2] and ctx.b_shape is not None:
            gb = g.sum(paxes).reshape(ctx.b_shape)
        return gx, gw, gb, None, None, None

    @staticmethod
    def jvp(ctx, tx, tw, tb, kind, eps, sink=None):
        x, w = ctx.saved_tensors
        axes, pshape, _, _ = _geometry(kind, tuple(x.shape))
        out = None
        if tx is not None:
            t = Normalize._vjp(x, tx, axes, eps)
            out = t if w is None else t * w.reshape(pshape)
        if tw is not None:
            t = Normalize.apply(x, axes, eps) * tw.reshape(pshape)
            out = t if out is None else out + t
        if tb is not None:
            t = tb.reshape(pshape)
            out = t if out is None else out + t
        return out
