"""Recurrent ops: one time step of an LSTM / GRU / Elman RNN cell as one op each, and the
multi-layer, bidirectional, packed-sequence drivers the nn.RNN / LSTM / GRU modules call
(PyTorch's _VF.lstm / gru / rnn_tanh / rnn_relu).

A layer's input projection is one matrix product for all its time steps (F.linear on the
(N, features) rows); each step is then one op whose forward runs the hidden-to-hidden product
and the pointwise gate math (kernels lstm_cell_fwd / gru_cell_fwd), and whose backward runs the
pointwise gate gradients in one kernel call plus the two products (_array_backward, when no
graph of the backward is wanted). Its differentiable backward recomputes the gates with
fastgrad ops, so double backward works.

An LSTM layer direction over equal batches without projection (float32/float64: nn.LSTM's usual
case) is instead one op for all its steps, LSTMLayer: per-step products and gate kernels into
preallocated buffers, and in its array backward the weight gradient as one product over all steps.

Rows: a sequence of T steps of batch B is handled as N = T * B rows (step-major), a packed
sequence as its sum(batch_sizes) rows; _Split cuts the rows into steps, _Join puts them back.
nn.utils.rnn's packing and padding move rows with _RowGather / _RowScatter / _Pad.
"""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import K, Op, make, make_view
from fastgrad._ops.half import SigmoidFloat16
from fastgrad._ops.elementwise import relu, sigmoid, tanh
from fastgrad._ops.indexing import cat
from fastgrad._ops.linalg import matmul
from fastgrad._ops.nn import linear



def _sum(*terms):
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def _tangent(terms, shape, dtype):
    """The sum of the tangent terms (None: absent) as a (B, G) tensor, zeros when all are absent
    (a bias's tangent alone is (G,): expanded)."""
    t = _sum(*terms)
    if t is None:
        return make(np.zeros(shape, dtype))
    return t.expand(shape) if t.shape != shape else t


# --------------------------------------------------------------------------- rows
class _Split(Op):
    """x (N, ...) -> its consecutive row blocks of the given sizes (views), one node."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, sizes):
        ctx.shape = x._data.shape
        ctx.sizes = sizes
        out, start = [], 0
        for s in sizes:
            out.append(make_view(x._data[start:start + s], x))
            start += s
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads):
        return (_Join.apply(*_filled(grads, ctx.shape, ctx.sizes)), None)

    @staticmethod
    def _array_backward(ctx, *grads):
        return (_join_arrays(grads, ctx.shape, ctx.sizes), None)

    @staticmethod
    def jvp(ctx, t, sizes):
        return _Split.apply(t, sizes)


def _filled(grads, shape, sizes):
    """Gradient tensors, zeros where None (of the block's shape)."""
    return [make(np.zeros((s,) + shape[1:], _dtype_of(grads))) if g is None else g
            for g, s in zip(grads, sizes)]


def _dtype_of(grads):
    for g in grads:
        if g is not None:
            return (g._data if hasattr(g, "_data") else g).dtype
    return np.float32


def _join_arrays(grads, shape, sizes):
    out = np.empty(shape, _dtype_of(grads))
    start = 0
    for g, s in zip(grads, sizes):
        if g is None:
            out[start:start + s] = 0
        else:
            out[start:start + s] = g
        start += s
    return out


class _Join(Op):
    """Tensors' rows, joined (np.concatenate on dim 0), one node."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, *xs):
        ctx.sizes = [x._data.shape[0] for x in xs]
        ctx.shape_rest = xs[0]._data.shape[1:]
        return np.concatenate([x._data for x in xs], axis=0)

    @staticmethod
    def backward(ctx, g):
        return _Split.apply(g, ctx.sizes)

    @staticmethod
    def _array_backward(ctx, g):
        out, start = [], 0
        for s in ctx.sizes:
            out.append(g[start:start + s])
            start += s
        return out

    @staticmethod
    def jvp(ctx, *ts):
        dt = _dtype_of(ts)
        return _Join.apply(*[make(np.zeros((s,) + ctx.shape_rest, dt)) if t is None else t
                             for t, s in zip(ts, ctx.sizes)])


def split_rows(x, sizes):
    """x's row blocks of `sizes` (a list of ints summing to x.shape[0])."""
    if len(sizes) == 1:
        return (x,)
    return _Split.apply(x, list(sizes))


def join_rows(xs):
    if len(xs) == 1:
        return xs[0]
    return _Join.apply(*xs)


# --------------------------------------------------------------------------- packing (nn.utils.rnn)
class _RowGather(Op):
    """x[idx] for rows idx, all distinct; the gradient scatters back (_RowScatter)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, idx):
        ctx.n = x._data.shape[0]
        ctx.idx = idx
        return x._data[idx]

    @staticmethod
    def backward(ctx, g):
        return _RowScatter.apply(g, ctx.idx, ctx.n, 0.0), None

    @staticmethod
    def _array_backward(ctx, g):
        return _scatter(g, ctx.idx, ctx.n, 0.0), None

    @staticmethod
    def jvp(ctx, t, idx):
        return _RowGather.apply(t, idx)


def _scatter(x, idx, n, fill):
    out = np.empty((n,) + x.shape[1:], x.dtype)
    out[...] = fill
    out[idx] = x
    return out


class _RowScatter(Op):
    """n rows of `fill`, x's rows at rows idx (distinct); the gradient gathers (_RowGather)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, idx, n, fill):
        ctx.idx = idx
        return _scatter(x._data, idx, n, fill)

    @staticmethod
    def backward(ctx, g):
        return _RowGather.apply(g, ctx.idx), None, None, None

    @staticmethod
    def _array_backward(ctx, g):
        return g[ctx.idx], None, None, None

    @staticmethod
    def jvp(ctx, t, idx, n, fill):
        return _RowScatter.apply(t, idx, n, 0.0)


class _Pad(Op):
    """pad_sequence's forward: each sequence's rows placed in one padded (T, B, *) array."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, places, shape, fill, *seqs):
        out = np.empty(shape, seqs[0]._data.dtype)
        out[...] = fill
        for p, s in zip(places, seqs):
            out[p] = s._data
        ctx.places = places
        ctx.seq_shapes = [s._data.shape for s in seqs]
        return out

    @staticmethod
    def backward(ctx, g):
        return (None, None, None) + tuple(g[p] for p in ctx.places)

    @staticmethod
    def _array_backward(ctx, g):
        return (None, None, None) + tuple(g[p] for p in ctx.places)

    @staticmethod
    def jvp(ctx, places, shape, fill, *ts):
        dt = next(t for t in ts if t is not None)._data.dtype
        ts = [make(np.zeros(s, dt)) if t is None else t for t, s in zip(ts, ctx.seq_shapes)]
        return _Pad.apply(places, shape, 0.0, *ts)


# --------------------------------------------------------------------------- cells
def _hh(h, w, b):
    """h @ w.T (+ b) on arrays: a fresh (B, G) array."""
    out = K.mm(h, w.T)
    if b is not None:
        out += b
    return out


class LSTMStep(Op):
    """(h, c) of one LSTM step: gates = gx + h_prev @ w_hh.T (+ b), i f g o = sigmoid, sigmoid,
    tanh, sigmoid of its four blocks, c = f * c_prev + i * g, h = o * tanh(c)."""

    @staticmethod
    def forward(ctx, gx, h, c, w, b):
        gates = _hh(h._data, w._data, None if b is None else b._data)
        gates += gx._data
        act = np.empty(gates.shape, gates.dtype)  # (not in place over gates: that loop is scalar)
        cn = np.empty(c._data.shape, gates.dtype)
        hn = np.empty(c._data.shape, gates.dtype)
        K.lstm_cell_fwd(gates, c._data, act, cn, hn)
        ctx.save_for_backward(gx, h, c, w, b, act, cn)
        return hn, cn

    @staticmethod
    def _array_backward(ctx, gh, gc):
        gx, h, c, w, b, act, cn = ctx.saved_arrays
        need = ctx.needs_input_grad
        dgates = np.empty(act.shape, act.dtype)
        dc = np.empty(c.shape, act.dtype)
        K.lstm_cell_bwd(act, c, cn, gh, gc, dgates, dc)
        return (dgates if need[0] else None, K.mm(dgates, w) if need[1] else None, dc if need[2] else None,
                K.mm(dgates.T, h) if need[3] else None, dgates.sum(0) if need[4] else None)

    @staticmethod
    def backward(ctx, gh, gc):
        gx, h, c, w, b = ctx.saved_tensors[:5]
        i, f, g, o, cn = _lstm_gates(gx, h, c, w, b)
        dgates, dc = _lstm_dgates(gh, gc, i, f, g, o, c, tanh(cn))  # (the same gradients bit for bit)
        need = ctx.needs_input_grad
        return (dgates, matmul(dgates, w) if need[1] else None, dc * f if need[2] else None,
                matmul(dgates.mT, h) if need[3] else None, dgates.sum(0) if need[4] else None)

    @staticmethod
    def jvp(ctx, tgx, th, tc, tw, tb):
        gx, h, c, w, b, act, cn = ctx.saved_tensors
        return _lstm_jvp(act, h, c, cn, w, tgx, th, tc, tw, tb)


def _lstm_dgates(gh, gc, i, f, g, o, c, tc):
    """One LSTM step's backward in fastgrad ops (differentiable), the kernel's order of
    operations: (the gates' gradient (B, 4H), the total gradient of the new c)."""
    dc = gh * o * (1.0 - tc * tc) + gc
    return cat([dc * g * (i * (1.0 - i)), dc * c * (f * (1.0 - f)), dc * i * (1.0 - g * g),
                gh * tc * (o * (1.0 - o))], 1), dc


def _lstm_jvp(act, h, c, cn, w, tgx, th, tc, tw, tb):
    """One LSTM step's tangents (h, c) from its saved activations act, h_prev, c_prev, c and the
    tangents of gx, h_prev, c_prev, w_hh, b (None: absent)."""
    hid = c.shape[1]
    dgates = _tangent((tgx, None if th is None else matmul(th, w.mT), None if tw is None else matmul(h, tw.mT),
                       tb), act.shape, act._data.dtype)
    i, f, g, o = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:3 * hid], act[:, 3 * hid:]
    di = dgates[:, :hid] * i * (1.0 - i)
    df = dgates[:, hid:2 * hid] * f * (1.0 - f)
    dg = dgates[:, 2 * hid:3 * hid] * (1.0 - g * g)
    do = dgates[:, 3 * hid:] * o * (1.0 - o)
    dcn = _sum(df * c, None if tc is None else f * tc, di * g, i * dg)
    tcn = tanh(cn)
    return do * tcn + o * (1.0 - tcn * tcn) * dcn, dcn


def _lstm_gates(gx, h, c, w, b):
    """The LSTM step's forward in fastgrad ops (differentiable): i, f, g, o, c."""
    gates = _sum(matmul(h, w.mT), b) + gx  # (the forward's order of additions)
    hid = c.shape[1]
    i = sigmoid(gates[:, :hid])
    f = sigmoid(gates[:, hid:2 * hid])
    g = tanh(gates[:, 2 * hid:3 * hid])
    o = sigmoid(gates[:, 3 * hid:])
    return i, f, g, o, f * c + i * g


# same step-Op shape as RNNStep below (saved arrays, _array_backward): the gate maths differ
class GRUStep(Op):
    """h of one GRU step: gh = h_prev @ w_hh.T (+ b), r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z +
    gh_z), n = tanh(gx_n + r * gh_n), h = (h_prev - n) * z + n."""

    @staticmethod
    def forward(ctx, gx, h, w, b):
        gh = _hh(h._data, w._data, None if b is None else b._data)
        hid = h._data.shape[1]
        act = np.empty((gh.shape[0], 4 * hid), gh.dtype)
        hn = np.empty(h._data.shape, gh.dtype)
        K.gru_cell_fwd(gx._data, gh, h._data, act, hn)
        ctx.save_for_backward(gx, h, w, b, act)
        return hn

    @staticmethod
    def _array_backward(ctx, gy):
        gx, h, w, b, act = ctx.saved_arrays
        need = ctx.needs_input_grad
        dgx = np.empty(gx.shape, act.dtype)
        dgh = np.empty(gx.shape, act.dtype)
        dh = np.empty(h.shape, act.dtype)
        K.gru_cell_bwd(act, h, gy, dgx, dgh, dh)
        if need[1]:
            dh += K.mm(dgh, w)
        return (dgx if need[0] else None, dh if need[1] else None, K.mm(dgh.T, h) if need[2] else None,
                dgh.sum(0) if need[3] else None)

    @staticmethod
    def backward(ctx, gy):
        gx, h, w, b = ctx.saved_tensors[:4]
        r, z, n, ghn = _gru_gates(gx, h, w, b)
        dn = (1.0 - z) * gy * (1.0 - n * n)  # (the kernel's order of operations)
        dz = (h - n) * gy * (z * (1.0 - z))
        dr = dn * ghn * (r * (1.0 - r))
        dgx = cat([dr, dz, dn], 1)
        dgh = cat([dr, dz, dn * r], 1)
        need = ctx.needs_input_grad
        return (dgx, gy * z + matmul(dgh, w) if need[1] else None, matmul(dgh.mT, h) if need[2] else None,
                dgh.sum(0) if need[3] else None)

    @staticmethod
    def jvp(ctx, tgx, th, tw, tb):
        gx, h, w, b, act = ctx.saved_tensors
        hid = h.shape[1]
        r, z, n, ghn = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:3 * hid], act[:, 3 * hid:]
        dgh = _tangent((None if th is None else matmul(th, w.mT), None if tw is None else matmul(h, tw.mT), tb),
                       gx.shape, gx._data.dtype)
        dgx = _tangent((tgx,), gx.shape, gx._data.dtype)
        dr = (dgx[:, :hid] + dgh[:, :hid]) * r * (1.0 - r)
        dz = (dgx[:, hid:2 * hid] + dgh[:, hid:2 * hid]) * z * (1.0 - z)
        dn = (dgx[:, 2 * hid:] + dr * ghn + r * dgh[:, 2 * hid:]) * (1.0 - n * n)
        out = (h - n) * dz + dn * (1.0 - z)
        return out if th is None else out + th * z


def _gru_gates(gx, h, w, b):
    """The GRU step's forward in fastgrad ops (differentiable): r, z, n, gh_n."""
    gh = _sum(matmul(h, w.mT), b)
    hid = h.shape[1]
    r = sigmoid(gx[:, :hid] + gh[:, :hid])
    z = sigmoid(gx[:, hid:2 * hid] + gh[:, hid:2 * hid])
    ghn = gh[:, 2 * hid:]
    return r, z, tanh(gx[:, 2 * hid:] + r * ghn), ghn


# same step-Op shape as GRUStep above: the maths differ
class RNNStep(Op):
    """h of one Elman RNN step: act(gx + h_prev @ w_hh.T (+ b)), act tanh or relu."""

    @staticmethod
    def forward(ctx, gx, h, w, b, use_relu):
        pre = _hh(h._data, w._data, None if b is None else b._data)
        pre += gx._data
        hn = np.empty(pre.shape, pre.dtype)
        (K.relu_fwd if use_relu else K.tanh_fwd)(pre, hn)
        ctx.use_relu = use_relu
        ctx.save_for_backward(gx, h, w, b, hn)
        return hn

    @staticmethod
    def _array_backward(ctx, gy):
        gx, h, w, b, hn = ctx.saved_arrays
        need = ctx.needs_input_grad
        d = (K.relu_bwd if ctx.use_relu else K.tanh_bwd)(hn, gy, np.empty(hn.shape, hn.dtype))
        return (d if need[0] else None, K.mm(d, w) if need[1] else None, K.mm(d.T, h) if need[2] else None,
                d.sum(0) if need[3] else None, None)

    @staticmethod
    def backward(ctx, gy):
        gx, h, w, b = ctx.saved_tensors[:4]
        pre = _sum(matmul(h, w.mT), b) + gx  # (the forward's order of additions)
        if ctx.use_relu:
            d = gy * (pre > 0).to(gy.dtype)
        else:
            t = tanh(pre)
            d = gy * (1.0 - t * t)
        need = ctx.needs_input_grad
        return (d, matmul(d, w) if need[1] else None, matmul(d.mT, h) if need[2] else None,
                d.sum(0) if need[3] else None, None)

    @staticmethod
    def jvp(ctx, tgx, th, tw, tb, use_relu):
        gx, h, w, b, hn = ctx.saved_tensors
        d = _tangent((tgx, None if th is None else matmul(th, w.mT), None if tw is None else matmul(h, tw.mT), tb),
                     hn.shape, hn._data.dtype)
        if use_relu:
            return d * (hn > 0).to(d.dtype)
        return d * (1.0 - hn * hn)


class LSTMLayer(Op):
    """A whole LSTM layer in one direction over `steps` steps of B rows each (equal batches, no
    projection, float32/float64): (output rows (T * B, H) in time order, h_n, c_n), one node.
    Forward: per step one product h_prev @ w_hh.T and the gate kernel, into preallocated
    buffers. Array backward: per step the gate kernel and dgates @ w_hh; then the weight
    gradient as ONE product over all steps, dgates (T * B, 4H).T @ h_prev rows (as PyTorch's
    CPU LSTM), and the gradient of gx is the dgates buffer itself. The differentiable backward
    recomputes the steps with fastgrad ops (double backward)."""

    @staticmethod
    def forward(ctx, gx, h0, c0, w, b, steps, reverse):
        wt = np.ascontiguousarray(w._data.T)  # (4H, H) -> (H, 4H): OpenBLAS's fastest layout for h @ wt
        ba = None if b is None else b._data
        bsz, hid = h0._data.shape
        dt = h0._data.dtype
        gx3 = gx._data.reshape(steps, bsz, 4 * hid)
        act = np.empty((steps, bsz, 4 * hid), dt)
        hs = np.empty((steps + 1, bsz, hid), dt)  # hs[k], cs[k]: the state before the k-th step run
        cs = np.empty((steps + 1, bsz, hid), dt)
        hs[0] = h0._data
        cs[0] = c0._data
        for k in range(steps):
            gates = K.mm(hs[k], wt)  # (the step op's order of additions: the same values)
            if ba is not None:
                gates += ba
            gates += gx3[steps - 1 - k if reverse else k]
            K.lstm_cell_fwd(gates, cs[k], act[k], cs[k + 1], hs[k + 1])
        ctx.steps, ctx.reverse = steps, reverse
        ctx.save_for_backward(gx, h0, c0, w, b, act, hs, cs)
        out = np.array(hs[:0:-1] if reverse else hs[1:])  # (a copy: hs stays private)
        return out.reshape(steps * bsz, hid), hs[steps].copy(), cs[steps].copy()

    @staticmethod
    def _array_backward(ctx, gout, ghn, gcn):
        gx, h0, c0, w, b, act, hs, cs = ctx.saved_arrays
        need = ctx.needs_input_grad
        steps, reverse = ctx.steps, ctx.reverse
        bsz, hid = h0.shape
        g3 = gout.reshape(steps, bsz, hid)
        dg = np.empty((steps, bsz, 4 * hid), act.dtype)  # in time order: gx's gradient
        bufs = (np.empty((bsz, hid), act.dtype), np.empty((bsz, hid), act.dtype))
        dhs = (np.empty((bsz, hid), act.dtype), np.empty((bsz, hid), act.dtype))
        dh, dc = ghn, gcn
        for k in range(steps - 1, -1, -1):
            t = steps - 1 - k if reverse else k
            dh = np.add(dh, g3[t], out=dhs[k & 1])
            dcp = bufs[k & 1]
            K.lstm_cell_bwd(act[k], cs[k], cs[k + 1], dh, dc, dg[t], dcp)
            dc = dcp
            if k or need[1]:
                dh = K.mm(dg[t], w)
        dg2 = dg.reshape(steps * bsz, 4 * hid)
        dw = None
        if need[3]:
            hp = np.ascontiguousarray(hs[steps - 1::-1]) if reverse else hs[:steps]
            dw = K.mm(dg2.T, hp.reshape(steps * bsz, hid))
        return (dg2 if need[0] else None, dh if need[1] else None, dc if need[2] else None, dw,
                dg2.sum(0) if need[4] else None, None, None)

    @staticmethod
    def backward(ctx, gout, ghn, gcn):
        gx, h0, c0, w, b = ctx.saved_tensors[:5]
        steps, reverse = ctx.steps, ctx.reverse
        sizes = [h0.shape[0]] * steps
        gxs, gouts = split_rows(gx, sizes), split_rows(gout, sizes)
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        saved = [None] * steps
        h, c = h0, c0
        for t in order:  # the forward again, in ops
            i, f, g, o, cn = _lstm_gates(gxs[t], h, c, w, b)
            tc = tanh(cn)
            saved[t] = (i, f, g, o, c, tc, h)
            h, c = o * tc, cn
        dgs = [None] * steps
        dh, dc = ghn, gcn
        for t in reversed(order):
            i, f, g, o, cp, tc, hp = saved[t]
            dgs[t], dc = _lstm_dgates(dh + gouts[t], dc, i, f, g, o, cp, tc)
            dc = dc * f
            dh = matmul(dgs[t], w)
        dgx = join_rows(dgs)
        need = ctx.needs_input_grad
        dw = matmul(dgx.mT, join_rows([s[6] for s in saved])) if need[3] else None
        return (dgx, dh, dc, dw, dgx.sum(0) if need[4] else None, None, None)

    @staticmethod
    def jvp(ctx, tgx, th, tc, tw, tb, steps, reverse):
        gx, h0, c0, w, b, act, hs, cs = ctx.saved_tensors
        sizes = [h0.shape[0]] * steps
        tgs = [None] * steps if tgx is None else split_rows(tgx, sizes)
        outs = [None] * steps
        for k in range(steps):
            t = steps - 1 - k if reverse else k
            th, tc = _lstm_jvp(act[k], hs[k], cs[k], cs[k + 1], w, tgs[t], th, tc, tw, tb)
            outs[t] = th
        return join_rows(outs), th, tc


def _fused_lstm(gx, h0, c0, w_hh, b, w_hr, sizes):
    """Whether one layer direction runs as LSTMLayer: equal batches, no projection, one
    float32/float64 dtype throughout."""
    if w_hr is not None or sizes[0] != sizes[-1]:
        return False
    dt = gx._data.dtype
    return ((dt is _dtype.F32 or dt is _dtype.F64) and h0._data.dtype is dt and c0._data.dtype is dt
            and w_hh._data.dtype is dt and (b is None or b._data.dtype is dt))


def lstm_cell(gx, h, c, w_hh, b_hh):
    return _step("LSTM", gx, h, c, w_hh, b_hh, None)


def gru_cell(gx, h, w_hh, b_hh):
    return _step("GRU", gx, h, None, w_hh, b_hh, None)[0]


def rnn_cell(gx, h, w_hh, b_hh, nonlinearity):
    return _step("RNN_RELU" if nonlinearity == "relu" else "RNN_TANH", gx, h, None, w_hh, b_hh, None)[0]


# --------------------------------------------------------------------------- sequences
def _direction(mode, gx, sizes, h0, c0, w_hh, b_hh, w_hr, reverse):
    """One layer, one direction over the steps' row blocks: (output rows (N, H), h_n, c_n).
    sizes: each step's batch (non-increasing); h0, c0: (sizes[0], H) tensors."""
    steps = split_rows(gx, sizes)
    n_steps = len(sizes)
    outs = [None] * n_steps
    h, c = h0, c0
    variable = sizes[0] != sizes[-1]
    if not reverse:
        finals_h, finals_c = [], []
        cur = sizes[0]
        for t in range(n_steps):
            s = sizes[t]
            if s < cur:  # sequences ended at step t - 1: their rows hold their final state
                h, hf = _Split.apply(h, [s, cur - s])
                finals_h.append(hf)
                if c is not None:
                    c, cf = _Split.apply(c, [s, cur - s])
                    finals_c.append(cf)
                cur = s
            h, c = _step(mode, steps[t], h, c, w_hh, b_hh, w_hr)
            outs[t] = h
        if variable:
            h = join_rows([h] + finals_h[::-1])
            c = None if c is None else join_rows([c] + finals_c[::-1])
    else:
        if variable:  # rows join as their sequences start (from the end)
            grow = [sizes[-1]]
            for t in range(n_steps - 2, -1, -1):
                if sizes[t] > sizes[t + 1]:
                    grow.append(sizes[t] - sizes[t + 1])
            h_parts = list(split_rows(h0, grow))
            c_parts = None if c0 is None else list(split_rows(c0, grow))
            h = h_parts[0]
            c = None if c0 is None else c_parts[0]
            k = 1
        for t in range(n_steps - 1, -1, -1):
            if variable and t < n_steps - 1 and sizes[t] > sizes[t + 1]:
                h = join_rows([h, h_parts[k]])
                if c is not None:
                    c = join_rows([c, c_parts[k]])
                k += 1
            h, c = _step(mode, steps[t], h, c, w_hh, b_hh, w_hr)
            outs[t] = h
    return join_rows(outs), h, c


def _step_half(mode, gx, h, c, w_hh, b_hh):
    """One float16/bfloat16 step as PyTorch's CPU cells take it: one op after another (each
    rounded to the half dtype), not one fused kernel (h, c: the new state; c None but for LSTM)."""
    hg = linear(h, w_hh, b_hh)
    hid = h.shape[1]
    if mode == "LSTM":
        gates = hg + gx
        i, f = sigmoid(gates[:, :hid]), sigmoid(gates[:, hid:2 * hid])
        g, o = tanh(gates[:, 2 * hid:3 * hid]), sigmoid(gates[:, 3 * hid:])
        c = f * c + i * g
        return o * tanh(c), c
    if mode == "GRU":
        sig = SigmoidFloat16.apply if gx._data.dtype is _dtype.F16 else sigmoid  # PyTorch's float16 gradient
        r = sig(hg[:, :hid] + gx[:, :hid])
        z = sig(hg[:, hid:2 * hid] + gx[:, hid:2 * hid])
        n = tanh(gx[:, 2 * hid:] + hg[:, 2 * hid:] * r)
        # h - n, written -n + h (the same rounded values): the backward walk then hands h its gradient from
        # here before the one from the next step's product h W_hh^T, the order PyTorch's engine adds them in
        # (its later-made node first); in float16/bfloat16 the order of those roundings shows
        return (-n + h) * z + n, None
    pre = hg + gx
    return (relu(pre) if mode == "RNN_RELU" else tanh(pre)), None


def _step(mode, gx, h, c, w_hh, b_hh, w_hr):
    if gx._data.dtype is _dtype.F16 or gx._data.dtype is _dtype.BF16:
        h, c = _step_half(mode, gx, h, c, w_hh, b_hh)
        return (linear(h, w_hr) if w_hr is not None else h), c
    if mode == "LSTM":
        h, c = LSTMStep.apply(gx, h, c, w_hh, b_hh)
        if w_hr is not None:
            h = linear(h, w_hr)
        return h, c
    if mode == "GRU":
        return GRUStep.apply(gx, h, w_hh, b_hh), None
    return RNNStep.apply(gx, h, w_hh, b_hh, mode == "RNN_RELU"), None


def rnn_rows(mode, x, sizes, hx, cx, weights, has_biases, num_layers, dropout, train, bidirectional,
             strided_input=False):
    """The multi-layer recurrent net on rows x (N, input_size) grouped in steps of `sizes` rows.
    hx (and cx for LSTM): (num_layers * num_directions, sizes[0], H) tensors. weights: the
    module's _flat_weights. Returns (output rows (N, D * H), h_n, c_n or None).

    strided_input: the (T, B, F) input the rows came from was not contiguous (batch_first): PyTorch's
    linear then takes matmul + bias (two roundings in float16/bfloat16) for GRU/RNN's first-layer input
    projection, instead of one fused addmm (one rounding)."""
    from fastgrad._ops.nn_functional import dropout as _dropout

    n_dir = 2 if bidirectional else 1
    per = len(weights) // (num_layers * n_dir)
    batch = sizes[0]
    h_rows = split_rows(hx.reshape(-1, hx.shape[-1]), [batch] * (num_layers * n_dir))
    c_rows = None if cx is None else split_rows(cx.reshape(-1, cx.shape[-1]), [batch] * (num_layers * n_dir))
    h_n, c_n = [], []
    inp = x
    for layer in range(num_layers):
        outs = []
        for d in range(n_dir):
            k = layer * n_dir + d
            p = weights[k * per:(k + 1) * per]
            w_ih, w_hh = p[0], p[1]
            b_ih = p[2] if has_biases else None
            b_hh = p[3] if has_biases else None
            w_hr = p[-1] if per in (3, 5) else None
            half = inp._data.dtype is _dtype.F16 or inp._data.dtype is _dtype.BF16
            if has_biases and mode != "GRU" and not half:  # b_hh folds into the input projection
                # (not in half precision: PyTorch adds it in the step's own product, rounded there)
                gx, b_step = linear(inp, w_ih, b_ih + b_hh), None
            elif half and strided_input and layer == 0 and b_ih is not None and mode != "LSTM":
                gx, b_step = linear(inp, w_ih) + b_ih, b_hh  # torch's linear of a non-contiguous input
            else:
                gx, b_step = linear(inp, w_ih, b_ih), b_hh
            if mode == "LSTM" and _fused_lstm(gx, h_rows[k], c_rows[k], w_hh, b_step, w_hr, sizes):
                out, h, c = LSTMLayer.apply(gx, h_rows[k], c_rows[k], w_hh, b_step, len(sizes), d == 1)
            else:
                out, h, c = _direction(mode, gx, sizes, h_rows[k], None if c_rows is None else c_rows[k],
                                       w_hh, b_step, w_hr, d == 1)
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        inp = outs[0] if n_dir == 1 else cat(outs, 1)
        if dropout > 0 and train and layer < num_layers - 1:
            inp = _dropout(inp, dropout, True)
    shape = (num_layers * n_dir, batch, h_n[0].shape[-1])
    hn = join_rows(h_n).reshape(shape)
    cn = None if cx is None else join_rows(c_n).reshape((shape[0], batch, c_n[0].shape[-1]))
    return inp, hn, cn


__all__ = ["lstm_cell", "gru_cell", "rnn_cell", "rnn_rows", "split_rows", "join_rows"]
