"""Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention) as one op.

softmax(q @ k.T * scale + bias) @ v for stacks of heads, with bias built once from a bool or
float attn_mask and is_causal. The forward runs in chunks of heads: per chunk one product for
the scores, the bias added in place, one row-wise softmax kernel (K.softmax_fwd) written
straight into the saved probabilities P, one product with v. So at most one chunk of raw
scores lives beside P (and, without grad, no P at all beyond the chunk).

The first-order backward (_array_backward) is fused the same way, per chunk: dV = P.T @ dO,
dP = dO @ V.T, dS = P * (dP - rowsum(dP * P)) (K.softmax_bwd, one kernel), dQ = dS @ K * scale,
dK = dS.T @ (Q * scale), and dS itself for a float mask that requires grad. backward is the same
formula written with differentiable fastgrad ops (P recomputed from q and k), so double
backward works; jvp likewise.

Grouped-query attention (enable_gqa, key/value with Hk heads dividing the query's Hq) costs
nothing extra: query head h reads key head h // G (G = Hq / Hk), so (..., Hq, L, E) is viewed
as (..., Hk, G * L, E) and multiplied with the Hk key heads directly.

Rows whose every key is masked give zeros (as torch 2.13's CPU kernels): their bias row is
replaced by zeros and their probabilities by 0 (rowkeep), so no NaN enters the softmax.

is_causal on the inputs torch runs on its CPU flash kernel (_fused_ok) writes -inf over the
scores above the diagonal (spec.fill) instead of adding it, as that kernel does: a NaN key
there then contributes nothing (torch's output is finite); on its math fallback, and for an
explicit mask, -inf is added, so NaN + -inf stays NaN as there.
"""
import math

import numpy as np

from fastgrad import _dtype
from fastgrad import _random_ops
from fastgrad._ops.base import K, Op, check_broadcast, engine, is_tensor, make, shape_str
from fastgrad._ops.elementwise import where
from fastgrad._ops.linalg import matmul
from fastgrad._ops.nn import Softmax, SoftmaxBackward
from fastgrad.backends.cuda import _SDP  # the scaled-dot-product backend switches (torch.nn.attention.sdpa_kernel)

_CHUNK = 1 << 16  # score elements per chunk (256 kB of float32): each chunk's steps run in cache
_BLOCKS_MIN = 128 * 128  # causal attention with at least this many scores per head runs in row blocks
_causal_cache = {}  # (L, S, dtype char) -> the additive causal bias (read-only)

_CPP_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
              "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16",
              "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
              "uint16": "unsigned short", "uint32": "unsigned int", "uint64": "unsigned long"}


def _cpp(dt):
    return _CPP_NAMES.get(np.dtype(dt).name, np.dtype(dt).name)


class _Spec:
    """What one call's shapes resolve to (made by scaled_dot_product_attention).

    full: the broadcast batch shape of the output (heads in query heads), lead: full with
    the dim to chunk over first, G: query heads per key head (1 without GQA), n: the number
    of (Lg, S) score matrices, Lg = G * L rows each."""

    __slots__ = ("full", "lead", "G", "L", "S", "E", "Ev", "n", "scale", "const", "rowkeep", "drop", "kv_full",
                 "blocks", "fill")


def _causal(L, S, dt):
    key = (L, S, np.dtype(dt).char)
    b = _causal_cache.get(key)
    if b is None:
        b = np.triu(np.full((L, S), -np.inf, dt), 1)
        b.flags.writeable = False
        if len(_causal_cache) > 64:
            _causal_cache.clear()
        _causal_cache[key] = b
    return b


def _to3(a, shape, n, rows, cols):
    """Array a broadcast to `shape` as an (n, rows, cols) C-contiguous stack (no copy when it
    already is one)."""
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    return np.ascontiguousarray(a).reshape(n, rows, cols)


def _layout(spec, q, k, v):
    """q, k, v arrays as (n, Lg, E), (n, S, E), (n, S, Ev) stacks."""
    s = spec
    q3 = _to3(q, s.full + (s.L, s.E), s.n, s.G * s.L, s.E)
    k3 = _to3(k, s.kv_full + (s.S, s.E), s.n, s.S, s.E)
    v3 = _to3(v, s.kv_full + (s.S, s.Ev), s.n, s.S, s.Ev)
    return q3, k3, v3


def _chunks(spec):
    """(idx, vshape, a, b): a chunk of the score stacks a:b, idx its slices of the lead-shaped
    view (lead[0], or one lead[0] index and a range of lead[1] when one lead[0] index holds
    more than _CHUNK scores) and vshape that view's leading shape."""
    lead, n = spec.lead, spec.n
    rows = max((r1 - r0) * c1 for r0, r1, c1 in spec.blocks)  # scores per stack matrix and piece
    n0 = lead[0]
    per = n // n0 if n0 else 0
    if per * rows <= _CHUNK or len(lead) < 2 or (spec.G > 1 and len(lead) == 2):
        step = max(1, _CHUNK // max(per * rows, 1))
        for i in range(0, n0, step):
            j = min(n0, i + step)
            yield (slice(i, j),), (j - i,) + lead[1:], i * per, j * per
        return
    n1 = lead[1]
    per1 = per // n1
    step = max(1, _CHUNK // max(per1 * rows, 1))
    for i in range(n0):
        for j0 in range(0, n1, step):
            j1 = min(n1, j0 + step)
            yield (slice(i, i + 1), slice(j0, j1)), (1, j1 - j0) + lead[2:], (i * n1 + j0) * per1, (i * n1 + j1) * per1


def _bias(spec, mask):
    """The additive bias array (const plus a differentiable float mask's values), or None."""
    b = spec.const
    if mask is not None:
        m = mask._data
        b = m if b is None else b + m
        if spec.rowkeep is not None:
            b = np.where(spec.rowkeep == 0, 0, b).astype(m.dtype, copy=False)
    return b


def _pieces(spec):
    """(idx, vshape, a, b, r0, r1, c1, off): a chunk (see _chunks), score rows r0:r1 of the
    Lg, key columns :c1, and the piece's offset in the flat saved P (pieces are stored one after
    another, each C-contiguous of shape (b - a, r1 - r0, c1))."""
    off = 0
    for idx, vshape, a, b in _chunks(spec):
        for r0, r1, c1 in spec.blocks:
            yield idx, vshape, a, b, r0, r1, c1, off
            off += (b - a) * (r1 - r0) * c1


def _causal_blocks(L, S, G, n_blocks):
    """Row blocks of a causal attention: rows r0:r1 see keys :min(r1, S) only, so the scores
    above the diagonal blocks are never computed (about half of them for long sequences)."""
    if G != 1 or n_blocks < 2:
        return [(0, G * L, S)]
    step = -(-L // n_blocks)
    return [(r0, min(L, r0 + step), min(min(L, r0 + step), S)) for r0 in range(0, L, step)]


def _attn_fwd(spec, q3, k3, v3, bias, save):
    """O (n, Lg, Ev) and, when save, the probabilities P (flat, in _pieces' layout)."""
    s = spec
    S, G = s.S, s.G
    dt = q3.dtype
    o = np.empty((s.n, G * s.L, s.Ev), dt)
    p_all = np.empty(s.n * sum((r1 - r0) * c1 for r0, r1, c1 in s.blocks), dt) if save else None
    kT = k3.transpose(0, 2, 1)
    bias_l = None if bias is None else np.broadcast_to(bias, s.lead + (s.L, S))
    keep_l = None if s.rowkeep is None else np.broadcast_to(s.rowkeep, s.lead + (s.L, 1))
    fill_l = None if s.fill is None else np.broadcast_to(s.fill, s.lead + (s.L, S))
    for idx, vshape, a, b, r0, r1, c1, off in _pieces(s):
        sc = K.mm(q3[a:b, r0:r1], kT[a:b, :, :c1])
        lv = vshape + ((r1 - r0) // G, c1)  # the piece in the lead-shaped view
        if bias_l is not None:
            sv = sc.reshape(lv)
            sv += bias_l[idx][..., r0 // G:r1 // G, :c1]
        if fill_l is not None:
            np.copyto(sc.reshape(lv), -np.inf, where=fill_l[idx][..., r0 // G:r1 // G, :c1])
        p = p_all[off:off + sc.size].reshape(sc.shape) if save else np.empty(sc.shape, dt)
        K.softmax_fwd(sc.reshape(-1, c1), p.reshape(-1, c1))
        if keep_l is not None:
            pv = p.reshape(lv)
            pv *= keep_l[idx][..., r0 // G:r1 // G, :]
        if s.drop is not None:
            p = p * s.drop[a:b, r0:r1, :c1]
        o[a:b, r0:r1] = K.mm(p, v3[a:b, :c1])
    return o, p_all


def _put(out, a, b, c1, r, r0):
    """out[a:b, :c1] = r for the first row block (r0 == 0), += for the others."""
    if r0 == 0:
        out[a:b, :c1] = r
    else:
        out[a:b, :c1] += r


def _attn_bwd(spec, qs3, k3, v3, p_all, g3, need):
    """(dq3, dk3, dv3, dbias) arrays for output gradient g3 (n, Lg, Ev); None where not needed."""
    s = spec
    S = s.S
    dt = qs3.dtype
    dq = np.empty(qs3.shape, dt) if need[0] else None
    # blocks add up into dk and dv: the first (r0 == 0) sees keys :c1, later ones more
    dk = (np.empty if len(s.blocks) == 1 else np.zeros)(k3.shape, dt) if need[1] else None
    dv = (np.empty if len(s.blocks) == 1 else np.zeros)(v3.shape, dt) if need[2] else None
    db = (np.empty if len(s.blocks) == 1 else np.zeros)((s.n, s.G * s.L, S), dt) if need[3] else None
    vT = v3.transpose(0, 2, 1)
    for _, _, a, b, r0, r1, c1, off in _pieces(s):
        shape = (b - a, r1 - r0, c1)
        p = p_all[off:off + shape[0] * shape[1] * c1].reshape(shape)
        gc = g3[a:b, r0:r1]
        if dv is not None:
            pd = p if s.drop is None else p * s.drop[a:b, r0:r1, :c1]
            _put(dv, a, b, c1, K.mm(pd.transpose(0, 2, 1), gc), r0)
        if dq is None and dk is None and db is None:
            continue
        dp = K.mm(gc, vT[a:b, :, :c1])
        if s.drop is not None:
            dp *= s.drop[a:b, r0:r1, :c1]
        ds = np.empty(shape, dt)
        K.softmax_bwd(p.reshape(-1, c1), dp.reshape(-1, c1), ds.reshape(-1, c1))
        if db is not None:
            db[a:b, r0:r1, :c1] = ds
        if dq is not None:
            r = K.mm(ds, k3[a:b, :c1])
            r *= s.scale
            dq[a:b, r0:r1] = r
        if dk is not None:
            _put(dk, a, b, c1, K.mm(ds.transpose(0, 2, 1), qs3[a:b, r0:r1]), r0)
    return dq, dk, dv, db


def _out_shape(spec, last):
    return spec.full + (spec.L, last)


class ScaledDotProductAttention(Op):
    """softmax(q @ k.T * scale + bias) @ v; inputs q, k, v, an optional float mask that
    requires grad (its values are part of the bias), and the call's _Spec."""

    @staticmethod
    def forward(ctx, q, k, v, mask, spec):
        ctx.spec = spec
        q3, k3, v3 = _layout(spec, q._data, k._data, v._data)
        qs3 = q3 * q3.dtype.type(spec.scale)
        save = ctx.needs_input_grad is not None and any(ctx.needs_input_grad)
        o, p = _attn_fwd(spec, qs3, k3, v3, _bias(spec, mask), save)
        if save:
            ctx.save_for_backward(q, k, v, mask, qs3, k3, v3, p)
        return o.reshape(_out_shape(spec, spec.Ev))

    @staticmethod
    def _array_backward(ctx, g):
        s = ctx.spec
        _, _, _, mask, qs3, k3, v3, p = ctx.saved_arrays
        need = ctx.needs_input_grad
        g3 = np.ascontiguousarray(g).reshape(s.n, s.G * s.L, s.Ev)
        dq, dk, dv, db = _attn_bwd(s, qs3, k3, v3, p, g3, need[:4])
        return (None if dq is None else dq.reshape(_out_shape(s, s.E)),
                None if dk is None else dk.reshape(s.kv_full + (s.S, s.E)),
                None if dv is None else dv.reshape(s.kv_full + (s.S, s.Ev)),
                None if db is None else _sum_to(db.reshape(s.lead + (s.L, s.S)), mask.shape), None)

    @staticmethod
    def backward(ctx, g):
        q, k, v, mask = ctx.saved_tensors[:4]
        return _grads(ctx.spec, q, k, v, mask, g, ctx.needs_input_grad) + (None,)

    @staticmethod
    def jvp(ctx, tq, tk, tv, tm, _):
        q, k, v, mask = ctx.saved_tensors[:4]
        return _tangent(ctx.spec, q, k, v, mask, tq, tk, tv, tm)


class PackedAttention(Op):
    """ScaledDotProductAttention of (qkv[0], qkv[1], qkv[2]) for one (3, ...) tensor qkv, as
    multi-head self-attention's packed projection gives them: one node where three selects
    (each with a full-size zero-filled gradient) would be; its gradient is one array."""

    @staticmethod
    def forward(ctx, qkv, mask, spec):
        ctx.spec = spec
        a = qkv._data
        q3, k3, v3 = _layout(spec, a[0], a[1], a[2])
        qs3 = q3 * q3.dtype.type(spec.scale)
        save = ctx.needs_input_grad is not None and any(ctx.needs_input_grad)
        o, p = _attn_fwd(spec, qs3, k3, v3, _bias(spec, mask), save)
        if save:
            ctx.save_for_backward(qkv, mask, qs3, k3, v3, p)
        return o.reshape(_out_shape(spec, spec.Ev))

    @staticmethod
    def _array_backward(ctx, g):
        s = ctx.spec
        qkv, mask, qs3, k3, v3, p = ctx.saved_arrays
        need = ctx.needs_input_grad
        g3 = np.ascontiguousarray(g).reshape(s.n, s.G * s.L, s.Ev)
        dq, dk, dv, db = _attn_bwd(s, qs3, k3, v3, p, g3, (need[0], need[0], need[0], need[1]))
        dqkv = None
        if need[0]:
            dqkv = np.empty(qkv.shape, qkv.dtype)
            dqkv[0] = dq.reshape(qkv.shape[1:])
            dqkv[1] = dk.reshape(qkv.shape[1:])
            dqkv[2] = dv.reshape(qkv.shape[1:])
        return dqkv, None if db is None else _sum_to(db.reshape(s.lead + (s.L, s.S)), mask.shape), None

    @staticmethod
    def backward(ctx, g):
        from fastgrad._ops.indexing import stack

        qkv, mask = ctx.saved_tensors[:2]
        need = ctx.needs_input_grad
        dq, dk, dv, dm = _grads(ctx.spec, qkv[0], qkv[1], qkv[2], mask, g, (need[0], need[0], need[0], need[1]))
        return (stack([dq, dk, dv]) if need[0] else None), dm, None

    @staticmethod
    def jvp(ctx, tqkv, tm, _):
        qkv, mask = ctx.saved_tensors[:2]
        t = (None, None, None) if tqkv is None else (tqkv[0], tqkv[1], tqkv[2])
        return _tangent(ctx.spec, qkv[0], qkv[1], qkv[2], mask, *t, tm)


def _grads(s, q, k, v, mask, g, need):
    """(dq, dk, dv, dmask) as differentiable tensors (the backward of the backward works)."""
    q3, k3, v3, p, pd = _recompute(s, q, k, v, mask)
    g3 = g.reshape(s.n, s.G * s.L, s.Ev)
    dv = matmul(pd.mT, g3).reshape(s.kv_full + (s.S, s.Ev)) if need[2] else None
    dq = dk = dm = None
    if need[0] or need[1] or need[3]:
        dp = matmul(g3, v3.mT)
        if s.drop is not None:
            dp = dp * make(s.drop)
        ds = SoftmaxBackward.apply(p, dp, 2)
        if need[0]:
            dq = (matmul(ds, k3) * s.scale).reshape(_out_shape(s, s.E))
        if need[1]:
            dk = matmul(ds.mT, q3 * s.scale).reshape(s.kv_full + (s.S, s.E))
        if need[3]:
            dm = ds.reshape(s.lead + (s.L, s.S)).reshape(s.full + (s.L, s.S))
    return dq, dk, dv, dm


def _tangent(s, q, k, v, mask, tq, tk, tv, tm):
    """The output's tangent for input tangents tq, tk, tv, tm (None: zero)."""
    q3, k3, v3, p, pd = _recompute(s, q, k, v, mask)
    ts = None
    if tq is not None:
        ts = matmul(_to3t(tq, s.full + (s.L, s.E), s.n, s.G * s.L, s.E) * s.scale, k3.mT)
    if tk is not None:
        t2 = matmul(q3 * s.scale, _to3t(tk, s.kv_full + (s.S, s.E), s.n, s.S, s.E).mT)
        ts = t2 if ts is None else ts + t2
    if tm is not None:
        t2 = tm.expand(s.full + (s.L, s.S)).reshape(s.lead + (s.L, s.S)).reshape(s.n, s.G * s.L, s.S)
        ts = t2 if ts is None else ts + t2
    out = None
    if ts is not None:
        tp = SoftmaxBackward.apply(p, ts, 2)
        if s.drop is not None:
            tp = tp * make(s.drop)
        out = matmul(tp, v3)
    if tv is not None:
        t2 = matmul(pd, _to3t(tv, s.kv_full + (s.S, s.Ev), s.n, s.S, s.Ev))
        out = t2 if out is None else out + t2
    return None if out is None else out.reshape(_out_shape(s, s.Ev))


def _sum_to(a, shape):
    """Array a summed down to broadcastable `shape`."""
    if a.shape == tuple(shape):
        return a
    lead = a.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(shape) if d == 1 and a.shape[lead + i] != 1)
    r = a.sum(axis=axes, keepdims=True) if axes else a
    return r.reshape(shape)


def _to3t(t, shape, n, rows, cols):
    """Tensor t broadcast to `shape` as an (n, rows, cols) stack, differentiably."""
    if tuple(t.shape) != shape:
        t = t.expand(shape)
    return t.reshape(n, rows, cols)


def _recompute(s, q, k, v, mask):
    """q3, k3, v3 stacks, P and P after dropout, as differentiable tensors."""
    q3 = _to3t(q, s.full + (s.L, s.E), s.n, s.G * s.L, s.E)
    k3 = _to3t(k, s.kv_full + (s.S, s.E), s.n, s.S, s.E)
    v3 = _to3t(v, s.kv_full + (s.S, s.Ev), s.n, s.S, s.Ev)
    sc = matmul(q3 * s.scale, k3.mT)
    bias = None
    if mask is not None:
        bias = mask if s.const is None else mask + make(s.const)
        if s.rowkeep is not None:
            bias = where(make(s.rowkeep == 0), make(np.zeros((), q._data.dtype)), bias)
    elif s.const is not None:
        bias = make(s.const)
    if bias is not None:
        sc = (sc.reshape(s.lead + (s.L, s.S)) + bias).reshape(s.n, s.G * s.L, s.S)
    if s.fill is not None:
        fill = np.ascontiguousarray(np.broadcast_to(s.fill, s.lead + (s.L, s.S))).reshape(s.n, s.G * s.L, s.S)
        sc = where(make(fill), make(np.full((), -np.inf, q._data.dtype)), sc)
    p = Softmax.apply(sc, 2)
    if s.rowkeep is not None:
        keep = np.broadcast_to(s.rowkeep, s.lead + (s.L, 1)).reshape(s.n, s.G * s.L, 1)
        p = p * make(np.ascontiguousarray(keep))
    pd = p if s.drop is None else p * make(s.drop)
    return q3, k3, v3, p, pd


# --------------------------------------------------------------------------- public function
def _check_inputs(query, key, value, attn_mask):
    q, k, v = query._data, key._data, value._data
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError("Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           "%d key.dim: %d and value.dim: %d instead." % (q.ndim, k.ndim, v.ndim))
    if not (q.dtype == k.dtype == v.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got query.dtype: %s key.dtype: "
                           "%s and value.dtype: %s instead." % (_cpp(q.dtype), _cpp(k.dtype), _cpp(v.dtype)))
    if attn_mask is not None:
        md = attn_mask._data.dtype
        if md != np.bool_ and md != q.dtype:
            raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               "attn_mask.dtype: %s and  query.dtype: %s instead." % (_cpp(md), _cpp(q.dtype)))
    if _dtype.kind(q.dtype) != "f":
        if q.dtype == np.int64:
            raise RuntimeError("expected m1 and m2 to have the same dtype, but got: float != long int")
        raise RuntimeError("expected scalar type Float but found %s" % query.dtype.name.capitalize())


def _heads(query, key, value, enable_gqa):
    """(G, key heads) for GQA (G = 1: plain broadcasting); errors as torch's."""
    q, k, v = query._data, key._data, value._data
    if not enable_gqa:
        return 1, None
    for t in (q, k, v):
        if t.ndim < 3:
            raise IndexError("Dimension out of range (expected to be in range of [-%d, %d], but got -3)"
                             % (t.ndim, t.ndim - 1))
    hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
    if hk == 0 or hv == 0 or hq % hk or hq % hv:
        raise RuntimeError("Number of heads in key and value must divide the number of heads in ")
    return hq // hk, (hk, hv)


def _bmm_error(n, want, got, two_d):
    if two_d:
        return RuntimeError("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)" % (want + got))
    return RuntimeError("Expected size for first two dimensions of batch2 tensor to be: [%d, %d] but got: [%d, %d]."
                        % (n, want[1], n, got[0]))


def _fused_ok(q, k, v, mask, dropout_p, G):
    """Whether torch 2.13 runs this call on its CPU flash kernel (else its math fallback)."""
    return (q.ndim == k.ndim == v.ndim == 4 and q.shape[0] == k.shape[0] == v.shape[0]
            and k.shape[1] == v.shape[1] and (q.shape[1] == k.shape[1] or G > 1) and q.shape[-1] == v.shape[-1]
            and dropout_p <= 0.0 and (mask is None or not mask.requires_grad)
            and all(t.shape[-1] == 1 or t.strides[-1] == t.itemsize for t in (q, k, v)))  # (its last-dim stride check)


def _bool_bias(m, dt):
    b = np.zeros(m.shape, dt)
    b[~m] = -np.inf
    return b


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    if getattr(query, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return query._nested_call("scaled_dot_product_attention", query, key, value, attn_mask, dropout_p, is_causal,
                                  scale, enable_gqa)
    r = _prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if is_tensor(r):
        return r
    return ScaledDotProductAttention.apply(query, key, value, *r)


def packed_attention(qkv, attn_mask=None, dropout_p=0.0, is_causal=False):
    """scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], ...) as one op (see PackedAttention)."""
    a = qkv._data
    q, k, v = make(a[0]), make(a[1]), make(a[2])
    if min(a.shape[1:]) == 0:
        return scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask, dropout_p, is_causal)
    mask_t, spec = _prepare(q, k, v, attn_mask, dropout_p, is_causal, None, False)
    return PackedAttention.apply(qkv, mask_t, spec)


def _prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """(mask tensor or None, _Spec) for the op, after torch's checks; or the result itself
    (empty inputs; key and value with different head counts, repeated)."""
    if not (is_tensor(query) and is_tensor(key) and is_tensor(value)):
        bad = next(n for n, t in (("query", query), ("key", key), ("value", value)) if not is_tensor(t))
        raise TypeError("scaled_dot_product_attention(): argument '%s' must be Tensor, not %s"
                        % (bad, type({"query": query, "key": key, "value": value}[bad]).__name__))
    if attn_mask is not None and not is_tensor(attn_mask):
        raise TypeError("scaled_dot_product_attention(): argument 'attn_mask' must be Tensor, not %s"
                        % type(attn_mask).__name__)
    if not (_SDP["math"] or _SDP["flash"]):  # sdpa_kernel() left none of the CPU's backends (math, flash)
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. This is likely due to "
                           "turning off both the math kernel and the fused kernels.")
    _check_inputs(query, key, value, attn_mask)
    q, k, v = query._data, key._data, value._data
    dt = q.dtype
    G, kv_heads = _heads(query, key, value, enable_gqa)
    if kv_heads is not None and kv_heads[0] != kv_heads[1]:  # key and value heads differ: repeat them
        from fastgrad._ops.indexing import repeat_interleave

        hq = q.shape[-3]
        key = repeat_interleave(key, hq // kv_heads[0], -3) if kv_heads[0] != hq else key
        value = repeat_interleave(value, hq // kv_heads[1], -3) if kv_heads[1] != hq else value
        return scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)
    L, E = q.shape[-2:]
    S, Ek = k.shape[-2:]
    Sv, Ev = v.shape[-2:]
    # batch shapes in query heads: a key head stands for G query heads
    qb, kb, vb = q.shape[:-2], k.shape[:-2], v.shape[:-2]
    if G > 1:
        kb = kb[:-1] + (kb[-1] * G,)
        vb = vb[:-1] + (vb[-1] * G,)
    check_broadcast(qb, kb)
    full = np.broadcast_shapes(qb, kb)
    two_d = len(full) == 0
    n_flat = int(np.prod(full)) if full else 1
    if Ek != E:
        raise _bmm_error(n_flat, (L, E), (Ek, S), two_d)
    if Sv != S:
        raise _bmm_error(n_flat, (L, S), (Sv, Ev), two_d)
    check_broadcast(full, vb)
    full2 = np.broadcast_shapes(full, vb)
    if full2 != full:
        raise RuntimeError("The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension 0"
                           % (full[0] if full else 1, full2[0]))
    score_shape = full + (L, S)
    # --- the bias: bool/float mask, is_causal
    const = None
    mask_t = None
    if attn_mask is not None:
        m = attn_mask._data
        if m.ndim < 2:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
        check_broadcast(score_shape, m.shape)
        if np.broadcast_shapes(score_shape, m.shape) != score_shape:
            raise RuntimeError("output with shape %s doesn't match the broadcast shape %s"
                               % (shape_str(score_shape), shape_str(np.broadcast_shapes(score_shape, m.shape))))
        if is_causal and not _fused_ok(q, k, v, attn_mask, dropout_p, G):
            # torch's CPU flash kernel applies both; its math fallback refuses the pair
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        if m.dtype == np.bool_:
            const = _bool_bias(m, dt)
        elif attn_mask.requires_grad and engine.state().grad_enabled or attn_mask._fw_grad is not None:
            mask_t = attn_mask
        else:
            const = m
    if dropout_p > 1.0:
        raise RuntimeError("dropout probability has to be between 0 and 1, but got %s" % dropout_p)
    fill = None
    if is_causal:
        if _fused_ok(q, k, v, attn_mask, dropout_p, G):  # torch's flash kernel writes -inf (see the top)
            fill = _causal(L, S, np.bool_)  # True above the diagonal
        c = _causal(L, S, dt)
        if fill is None or const is not None:  # the mask's dead rows are found with the causal part
            const = c if const is None else const + c
    rowkeep = None
    if attn_mask is not None and S > 0:
        total = const if mask_t is None else (mask_t._data if const is None else const + mask_t._data)
        dead = np.isneginf(total).all(axis=-1, keepdims=True)
        if dead.any():
            rowkeep = (~dead).astype(dt)
            if const is not None:
                const = np.where(dead, 0, const).astype(dt, copy=False)
    if const is not None and (const.dtype != dt or not const.flags.c_contiguous):
        const = np.ascontiguousarray(const, dt)
    # --- layout
    spec = _Spec()
    spec.full, spec.G, spec.L, spec.S, spec.E, spec.Ev = tuple(full), G, L, S, E, Ev
    spec.kv_full = spec.full if G == 1 else spec.full[:-1] + (spec.full[-1] // G,)
    spec.lead = spec.full if (len(spec.full) >= 2 or (spec.full and G == 1)) else (1,) + spec.full
    spec.n = int(np.prod(spec.kv_full)) if spec.kv_full else 1
    spec.scale = (1.0 / math.sqrt(E) if E else math.inf) if scale is None else float(scale)
    spec.const, spec.rowkeep, spec.fill = const, rowkeep, fill
    spec.blocks = [(0, G * L, S)]
    if is_causal and attn_mask is None and L * S >= _BLOCKS_MIN:
        spec.blocks = _causal_blocks(L, S, G, min(4, L // 64))
    spec.drop = None
    if dropout_p > 0.0:
        shape = (spec.n, G * L, S)
        if dropout_p >= 1.0:
            spec.drop = np.zeros(shape, dt)
        else:
            keep = _random_ops.bernoulli_scalar_(np.empty(shape, dt), 1.0 - dropout_p)  # at::dropout's noise
            spec.drop = (keep / dt.type(1.0 - dropout_p)).astype(dt)
    if L == 0 or S == 0 or Ev == 0 or spec.n == 0:
        out = make(np.zeros(full + (L, Ev), dt))
        if any(t.requires_grad for t in (query, key, value)) and engine.state().grad_enabled:
            return out + (query.sum() + key.sum() + value.sum()) * 0.0
        return out
    return mask_t, spec


__all__ = ["scaled_dot_product_attention"]
