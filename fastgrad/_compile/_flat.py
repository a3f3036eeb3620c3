"""fastgrad.compile's compiled loop: a recording as a flat list of instructions over arrays
allocated once, run by csrc/replay.pxi's _Replay (one C loop, no Python frame per op).

`flatten` translates what it knows, each step as the eager op computes it (the same C loops,
the same BLAS calls with the same arguments, so results equal eager's bit for bit): linear
(forward, and its backward's products and bias sum), the activations with a fused kernel
(tanh, sigmoid, ReLU), cross-entropy ('mean' or 'sum', no class weights) forward and
backward, elementwise add/sub/mul/neg and sum (a sum of squares), the backward walk
(gradients summed as the engine sums them), leaf accumulation into a .grad that the step
set to None before, Optimizer.zero_grad() and SGD (momentum: once its buffer exists).
Anything else (another op or event, a layout eager would take a different path for) leaves
the call to the generated Python replay (fastgrad/_compile/_codegen.py), as does any failed
check at run time (_Replay falls back to it per call). NumPy backend: no _Replay, the Python replay.
"""
import ctypes
import os

import numpy as np

from fastgrad._backend import K, engine
from fastgrad._compile._record import IN, LIVE, OP, OpRecord, Ref
from fastgrad.optim.optimizer import Optimizer

GEMM, TADD, ROWS_ADD, ROWS_SUM, EW, CE_FWD, CE_BWD, ZERO, ACC, SGD, ARITH, SUM, FILL = range(1, 14)
NO_TRANS, TRANS = 111, 112
_SAVED0 = engine.SAVED0
_ROWS_MAX = 4096 * 16  # blas.pxi's _rows_sum limit (NOGIL_MIN * 16): beyond it eager sums with NumPy
_blas_state = []


class _No(Exception):
    """The recording has a step the compiled loop does not express."""


def _np_gemm():
    """Give Replay NumPy's own cblas_sgemm/dgemm (the ones np.matmul calls); False if not found."""
    if _blas_state:
        return _blas_state[0]
    ok = False
    try:
        from fastgrad import _blas
        path = _blas._numpy_openblas_path()
        lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD) if path else None
    except OSError:
        lib = None
    if lib is not None:
        for prefix, suffix, ilp64 in (("scipy_", "64_", True), ("", "64_", True), ("", "_64", True),
                                      ("scipy_", "", False), ("", "", False)):
            s = getattr(lib, "%scblas_sgemm%s" % (prefix, suffix), None)
            d = getattr(lib, "%scblas_dgemm%s" % (prefix, suffix), None)
            if s is not None and d is not None:
                # an OpenBLAS built with 64-bit integers names them so; a plain name is LP64
                # unless the build says otherwise (then we do not guess)
                if not ilp64 and "64" in os.path.basename(path):
                    break
                K._replay_blas(ctypes.cast(s, ctypes.c_void_p).value, ctypes.cast(d, ctypes.c_void_p).value, ilp64)
                ok = True
                break
    _blas_state.append(ok)
    return ok


def flatten(rec, result, slow):
    """A Replay of recording rec (slow: its Python replay, the fallback), or None."""
    if getattr(K, "_Replay", None) is None or rec.outside is not None:
        return None
    try:
        b = _Builder(rec)
        b.build(result)
    except _No as e:
        if os.environ.get("FASTGRAD_COMPILE_DEBUG"):
            print("fastgrad.compile: Python replay:", e)
        return None
    from fastgrad._ops import nn
    if b.np_gemm:
        _np_gemm()  # (not found: each call checks for an external BLAS, else runs the Python replay)
    prog = K._Replay(slow, b.tensors, b.bufs, b.code, b.objs, b.groups, b.leaves, b.gacc, b.result,
                     nn, b.np_gemm, b.moms)
    prog.source = getattr(slow, "source", None)
    return prog


def _gemm_args(a_shape, a_trans, b_shape, b_trans):
    """(ta, tb, m, n, k, lda, ldb) of op(a) @ op(b) for C-contiguous a, b, each used as is
    (NO_TRANS) or transposed (TRANS): np.matmul's and mm's CBLAS call for those layouts."""
    m, k = (a_shape[1], a_shape[0]) if a_trans else a_shape
    k2, n = (b_shape[1], b_shape[0]) if b_trans else b_shape
    if k != k2 or min(m, n, k) < 2:  # a dimension of 1: np.matmul takes gemv or its own loop
        raise _No("product shape")
    return (TRANS if a_trans else NO_TRANS, TRANS if b_trans else NO_TRANS, m, n, k, a_shape[1], b_shape[1])


class _Builder:
    def __init__(self, rec):
        self.rec = rec
        self.tensors = []  # (input position or -1, tensor or None, dtype num, shape, writeable)
        self.bufs = []
        self.code = []
        self.objs = []
        self.groups = []
        self.leaves = []
        self.gacc = []
        self.result = None
        self.np_gemm = False
        self.table = {}  # recording slot -> table slot
        self.grad_state = {}  # id(param) -> None (set to None in this call) or the table slot of its .grad
        self.ce = {}  # op index -> (lse slot, scal index, reduction_mean, ignore, eps, target slot)
        self.written = set()  # table slots of tensors an instruction writes (SGD's params)
        self.moms = []
        self.ts = {}

    # ------------------------------------------------------------------ slots
    def slot(self, s):
        """The table slot of recording slot s (a tensor of the call read when it runs, or an
        op's output buffer)."""
        if s in self.table:
            return self.table[s]
        src = self.rec.slots[s]
        if src[0] not in (IN, LIVE):
            raise _No("slot source")
        t = self.rec.tensor_of[s]
        d = t._data
        if (type(d) is not np.ndarray or not (d.dtype.char in "fd" or d.dtype == np.int64)
                or not d.dtype.isnative or not d.flags.c_contiguous):
            raise _No("tensor layout")
        self.table[s] = len(self.tensors)
        self.ts[s] = t
        self.tensors.append([src[1] if src[0] == IN else -1, None if src[0] == IN else t,
                             d.dtype.num, d.shape, False])
        return self.table[s]

    def buf(self, shape, dtype, fill=None):
        a = np.empty(shape, dtype)
        if fill is not None:
            a.fill(fill)
        self.bufs.append(a)
        return -1 - len(self.bufs)  # -2, -3, ... (-1 is no slot): table slots after build()

    def out(self, op):
        if len(op.outs) != 1 or type(op.outs[0]) is not int:
            raise _No("outputs")
        s = op.outs[0]
        d = self.rec.tensor_of[s]._data
        if d.dtype.char not in "fd":
            raise _No("output dtype")
        self.table[s] = self.buf(d.shape, d.dtype)
        return self.table[s]

    def arr(self, slot):
        """The recorded array of a table slot (a tensor's, or a buffer)."""
        if slot < 0:
            return self.bufs[-slot - 2]
        return [self.ts[s] for s, t in self.table.items() if t == slot][0]._data

    def emit(self, code, a=-1, b=-1, c=-1, d=-1, e=-1, g=-1, i0=0, i1=0, f32=1, m=0, n=0, k=0, lda=0, ldb=0,
             x0=0.0):
        self.code.append([code, a, b, c, d, e, g, i0, i1, f32, m, n, k, lda, ldb, float(x0)])

    def arith(self, code, a, b, out):
        A, B, O = self.arr(a), self.arr(b), self.arr(out)
        if A.shape != B.shape or A.shape != O.shape or not A.dtype == B.dtype == O.dtype or A.dtype.char not in "fd":
            raise _No("arithmetic shapes")  # (broadcasting: NumPy's loop in eager)
        self.emit(ARITH, a, b, out, i0=code, f32=A.dtype.char == "f", n=A.size)

    def gemm(self, a, ta, b, tb, out):
        A, B = self.arr(a), self.arr(b)
        args = _gemm_args(A.shape, ta, B.shape, tb)
        self.np_gemm = True
        self.emit(GEMM, a, b, out, i0=args[0], i1=args[1], f32=A.dtype.char == "f", m=args[2], n=args[3],
                  k=args[4], lda=args[5], ldb=args[6])

    # ------------------------------------------------------------------ build
    def build(self, result):
        rec = self.rec
        for st in rec.steps:
            if isinstance(st, OpRecord):
                self.op(st)
            else:
                getattr(self, "ev_" + st.what, self.ev_other)(st.payload)
        if result is not None:
            s = rec.slot_of.get(id(result))
            if (not isinstance(result, engine.TensorBase) or s is None or rec.tensor_of[s] is not result
                    or rec.slots[s][0] != OP or self.table.get(s, 0) >= 0):
                raise _No("result")
            self.result = s
        nt = len(self.tensors)

        def fix(x):  # buffer -2, -3, ... -> its table slot after the tensors'
            return nt + (-x - 2) if x <= -2 else x
        for c in self.code:
            for i in range(1, 7):
                c[i] = fix(c[i])
        self.code = [tuple(c) for c in self.code]
        self.gacc = [(fix(s), li) for s, li in self.gacc]
        if self.result is not None:
            self.result = fix(self.table[self.result])
        for i in self.written:
            self.tensors[i][4] = True
        self.tensors = [tuple(t) for t in self.tensors]

    # ------------------------------------------------------------------ forward ops
    def op(self, op):
        from fastgrad._ops import nn
        info = getattr(op.fn, "_info", None)
        kernel = info.kernel if (op.kind and info is not None) else None
        if op.kwargs:
            raise _No("kwargs")
        if kernel is nn._linear_fwd:
            return self.linear(op, nn)
        if kernel is not None and kernel in _EW_FWD:
            (x,) = op.args
            xs = self.slot(x.slot)
            X = self.arr(xs)
            out = self.out(op)
            self.emit(EW, xs, -1, out, i0=_EW_FWD[kernel], f32=X.dtype.char == "f", n=X.size)
            if X.size == 0:
                raise _No("empty")
            return
        if op.fn is nn.CrossEntropy and op.kind == 0:
            return self.cross_entropy(op)
        if kernel is not None and kernel in _ARITH and all(type(a) is Ref for a in op.args):
            ins = [self.slot(a.slot) for a in op.args]
            if len(ins) != (1 if _ARITH[kernel] == 4 else 2):
                raise _No("arity")
            out = self.out(op)
            self.arith(_ARITH[kernel], ins[0], ins[-1], out)
            return
        if kernel is not None and kernel is K.sum_all:
            (x,) = op.args
            xs = self.slot(x.slot)
            X = self.arr(xs)
            out = self.out(op)
            if X.dtype != self.arr(out).dtype:
                raise _No("sum dtype")
            self.emit(SUM, xs, -1, out, f32=X.dtype.char == "f", n=X.size)
            return
        raise _No("op %s" % getattr(op.fn, "__name__", op.fn))

    def linear(self, op, nn):
        x, w, bias = op.args
        xs, ws = self.slot(x.slot), self.slot(w.slot)
        bs = None if bias is None else self.slot(bias.slot)
        X, W = self.arr(xs), self.arr(ws)
        if X.ndim != 2 or W.ndim != 2 or X.dtype != W.dtype or X.dtype.char not in "fd":
            raise _No("linear shapes")
        if bs is not None:
            B = self.arr(bs)
            if B.ndim != 1 or B.dtype != X.dtype:
                raise _No("linear bias")
        out = self.out(op)
        f32 = X.dtype.char == "f"
        n, n_in = X.shape
        n_out = W.shape[0]
        if (nn._linear_out is not None and f32 and 2 <= n <= 256 and n_in >= 100
                and 2 * n_out >= 3 * n and n * n_out >= 1024):
            yt = self.buf((n_out, n), X.dtype)
            self.gemm(ws, False, xs, True, yt)
            self.emit(TADD, yt, -1 if bs is None else bs, out, f32=f32, m=n, n=n_out)
            return
        self.gemm(xs, False, ws, True, out)
        if bs is not None:
            self.emit(ROWS_ADD, out, bs, f32=f32, m=n, n=n_out)

    def cross_entropy(self, op):
        logits, target, weight, ignore, eps, reduction = op.args
        if (weight is not None or type(ignore) is not int or not -2 ** 31 <= ignore < 2 ** 31
                or type(eps) is not float or reduction not in ("mean", "sum")):
            raise _No("cross_entropy options")
        ls, ts = self.slot(logits.slot), self.slot(target.slot)
        L, T = self.arr(ls), self.arr(ts)
        if L.ndim != 2 or T.dtype != np.int64 or T.shape != L.shape[:1] or 0 in L.shape:
            raise _No("cross_entropy shapes")
        if L.dtype.char == "f" and (np.ones((), np.float32) / 3.0).dtype != np.float32:
            raise _No("NumPy's promotion")  # (before NumPy 2, g / denom was float64)
        n, c = L.shape
        lse, loss = self.buf((n,), L.dtype), self.buf((n,), L.dtype)
        out = self.out(op)
        k = len(self.ce)
        if k >= 8:
            raise _No("too many losses")
        self.ce[op.index] = (ls, ts, lse, k, reduction == "mean", ignore, eps)
        self.emit(CE_FWD, ls, ts, lse, loss, out, i0=ignore, i1=reduction == "mean", f32=L.dtype.char == "f",
                  m=n, n=c, k=k, x0=eps)

    # ------------------------------------------------------------------ events
    def ev_other(self, payload):
        raise _No("event")

    def ev_call(self, p):
        fn, args, kwargs, out = p
        opt = args[0] if args else None
        if fn is Optimizer.zero_grad and isinstance(opt, Optimizer):
            if not (args[1:] in ((), (True,)) and (not kwargs or kwargs == {"set_to_none": True})):
                raise _No("zero_grad(set_to_none=False)")
            glist = [(g, tuple(g["params"])) for g in opt.param_groups]
            self.groups.append((opt, glist, -1))
            params = [p for _, ps in glist for p in ps]
            for q in params:
                self.grad_state[id(q)] = None
            self.objs.append(params)
            self.emit(ZERO, len(self.objs) - 1)
            return
        from fastgrad.optim.sgd import SGD as SGDClass
        if fn is Optimizer.step and type(opt) is SGDClass and args[1:] in ((), (None,)) and not kwargs:
            return self.sgd(opt)
        raise _No("call %s" % getattr(fn, "__name__", fn))

    def sgd(self, opt):
        glist = [(g, tuple(g["params"])) for g in opt.param_groups]
        h = sum(len(x[1]) for x in self.groups if x[2] >= 0)
        self.groups.append((opt, glist, h))
        for j, (g, params) in enumerate(glist):
            for p in params:
                if id(p) not in self.grad_state:
                    raise _No("a .grad the call did not set")
                gs = self.grad_state[id(p)]
                if gs is None:
                    continue
                s = self.rec.slot_of.get(id(p))
                if s is None or self.rec.tensor_of[s] is not p:
                    raise _No("parameter")
                ps = self.slot(s)
                if ps < 0:
                    raise _No("parameter")
                P = p._data
                if P.dtype.char not in "fd" or self.arr(gs).shape != P.shape:
                    raise _No("parameter dtype")
                self.written.add(ps)
                self.objs.append(p)
                self.moms.append((opt, p))  # (its momentum buffer, when the group has momentum)
                self.emit(SGD, ps, gs, len(self.objs) - 1, len(self.moms) - 1, f32=P.dtype.char == "f", n=P.size,
                          k=h + j)

    def ev_backward(self, p):
        root, grad, (n_outs, roots, plans) = p[:3]
        if grad is not None or len(roots) != 1:
            raise _No("backward(gradient)")
        root_arr = self.rec.tensor_of[root]._data
        seed = self.buf((), root_arr.dtype, 1)
        grads = {roots[0]: seed}  # (node, output nr) -> table slot of its gradient
        counts = {}
        for p_ in plans:
            if p_.leaf is None:
                for j, kid, knr in p_.edges:
                    counts[(kid, knr)] = counts.get((kid, knr), 0) + 1
        if counts.get(roots[0], 0):
            raise _No("a gradient into the root")
        got = {}  # (node, output nr) -> the gradients it received, in the walk's order
        for p_ in plans:
            for nr in range(n_outs[p_.idx]):
                parts = got.pop((p_.idx, nr), None)
                if parts:  # engine._buffer_add's sum, in arrival order (in place or not: the same values)
                    acc = parts[0]
                    for x in parts[1:]:
                        out = self.buf(self.arr(acc).shape, self.arr(acc).dtype)
                        self.arith(0, acc, x, out)
                        acc = out
                    grads[(p_.idx, nr)] = acc
            g = grads.get((p_.idx, 0))
            if n_outs[p_.idx] != 1 or g is None:
                if any(grads.get((p_.idx, nr)) is not None for nr in range(n_outs[p_.idx])):
                    raise _No("several outputs")
                continue
            if p_.leaf is not None:
                self.acc(p_.leaf, g)
                continue
            outs = self.node(p_, g)
            for j, kid, knr in p_.edges:
                if p_.has_edge[j] and outs.get(j) is not None:
                    got.setdefault((kid, knr), []).append(outs[j])

    def acc(self, ref, g):
        t = self.rec.tensor_of[ref.slot]
        if self.grad_state.get(id(t), 0) is not None or not ref.requires_grad:
            raise _No("accumulation into a .grad the call did not set to None")
        if self.arr(g).shape != t._data.shape or self.arr(g).dtype != t._data.dtype or g >= 0:
            raise _No("gradient meta")
        if any(g == s for s, _ in self.gacc):
            raise _No("gradient shared")
        self.grad_state[id(t)] = g
        self.objs.append(t)
        self.leaves.append(t)
        self.gacc.append((g, len(self.objs) - 1))
        self.emit(ACC, len(self.objs) - 1, g, k=len(self.gacc) - 1)

    def node(self, p, g):
        """Instructions of one backward node for upstream gradient slot g: {input j: slot}."""
        from fastgrad._ops import nn
        rec = self.rec
        op = rec.ops[p.op]
        if p.tensor_backward:
            raise _No("tensor backward")
        if op.fn is nn.CrossEntropy:
            ls, ts, lse, k, mean, ignore, eps = self.ce[p.op]
            L = self.arr(ls)
            out = self.buf(L.shape, L.dtype)
            gd = self.buf(L.shape[:1], L.dtype)
            self._meta(op.node._in_meta[0], L)
            self.emit(CE_BWD, ls, ts, lse, gd, out, g, i0=ignore, i1=mean, f32=L.dtype.char == "f", m=L.shape[0],
                      n=L.shape[1], k=k, x0=eps)
            return {0: out}
        if p.kernel and op.fn._info.kernel is nn._linear_fwd:
            if len(p.saved) != 2 or None in p.saved:
                raise _No("linear saved")
            xs, ws = (self.table[s] for s in p.saved)
            X, W, G = self.arr(xs), self.arr(ws), self.arr(g)
            need = p.needs
            res = {}
            edge = {j for j, kid, knr in p.edges if p.has_edge[j]}
            if need[0] and 0 in edge:
                res[0] = self.buf(X.shape, X.dtype)
                self.gemm(g, False, ws, False, res[0])
            if need[1] and 1 in edge:
                res[1] = self.buf(W.shape, W.dtype)
                self.gemm(g, True, xs, False, res[1])
            if len(need) > 2 and need[2] and 2 in edge:
                if G.size >= _ROWS_MAX:
                    raise _No("large bias gradient")
                res[2] = self.buf(G.shape[1:], G.dtype)
                self.emit(ROWS_SUM, g, -1, res[2], f32=G.dtype.char == "f", m=G.shape[0], n=G.shape[1])
            for j, s in res.items():
                self._meta(p.in_meta[j], self.arr(s))
            return res
        if p.kernel and p.specs is not None:
            res = {}
            edge = {j for j, kid, knr in p.edges if p.has_edge[j]}
            for j, spec in enumerate(p.specs):
                if j < len(p.has_edge) and p.has_edge[j] and j in edge:
                    res[j] = self.spec(spec, p, g)
                    self._meta(p.in_meta[j], self.arr(res[j]))
            return res
        raise _No("backward of %s" % p.name)

    def spec(self, spec, p, g):
        """The slot of an array formula's value (engine: FunctionNode._array_grad's cases)."""
        if spec == engine.GRAD:
            return g
        if type(spec) is not tuple:
            if type(spec) is int and 0 <= spec - _SAVED0 < len(p.saved) and p.saved[spec - _SAVED0] is not None:
                return self.table[p.saved[spec - _SAVED0]]
            raise _No("formula")
        fn, args = spec[0], spec[1:]
        if fn is K.fill and len(args) == 2 and args[0] == engine.IN0_SHAPE:
            v = self.spec(args[1], p, g)
            V = self.arr(v)
            if V.ndim != 0 or V.dtype.char not in "fd":
                raise _No("fill")
            shape = tuple(p.in_meta[0][0])
            out = self.buf(shape, V.dtype)
            self.emit(FILL, v, -1, out, f32=V.dtype.char == "f", n=int(np.prod(shape)))
            return out
        ins = [self.spec(a, p, g) for a in args]
        A = self.arr(ins[0])
        out = self.buf(A.shape, A.dtype)
        if fn in _EW_BWD and len(ins) == 2:
            if A.shape != self.arr(ins[1]).shape or A.dtype != self.arr(ins[1]).dtype:
                raise _No("activation gradient shape")
            self.emit(EW, ins[0], ins[1], out, i0=_EW_BWD[fn], f32=A.dtype.char == "f", n=A.size)
            return out
        if fn in _ARITH and len(ins) == (1 if _ARITH[fn] == 4 else 2):
            self.arith(_ARITH[fn], ins[0], ins[-1], out)
            return out
        raise _No("formula %s" % getattr(fn, "__name__", fn))

    @staticmethod
    def _meta(meta, a):
        if tuple(meta[0]) != a.shape or meta[1] != a.dtype:
            raise _No("gradient meta")


def _ew_table():
    names = {"tanh_fwd": 2, "sigmoid_fwd": 0, "relu_fwd": 4}  # csrc/fg_elementwise.h's enum fg_op
    fwd, bwd = {}, {}
    codes = getattr(K, "_OP", None)
    if codes is None:
        return fwd, bwd
    for name in names:
        fwd[getattr(K, name)] = codes[name]
        b = name.replace("_fwd", "_bwd")
        bwd[getattr(K, b)] = codes[b]
    return fwd, bwd


_EW_FWD, _EW_BWD = _ew_table()
# elementwise.pxi's _arith / _unary_arith op numbers
_ARITH = {} if _EW_FWD == {} else {K.add: 0, K.sub: 1, K.mul: 2, K.neg: 4}
