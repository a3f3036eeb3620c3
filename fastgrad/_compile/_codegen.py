"""fastgrad.compile's code generator: a recorded call as one straight-line Python function.

Every slot is a local variable (v<slot>: an array); a kernel op is one line, its kernel called
on its inputs' arrays; any other op one call of the engine (engine.run_traced) on tensors made
around its inputs; a backward is unrolled node by node in the engine's walk order, each node's
array formula called as the walk calls it, gradients summed as the walk sums them (in place
into an array the walk owns) and leaves accumulated by the engine's own _accumulate; events
(optimizer steps, zero_grad, gradient clipping, .grad reads and assignments) are calls of
what eager called. One Python frame for the whole step: what is left per op is the kernel call.
"""
import numpy as np

from fastgrad._backend import engine
from fastgrad._compile._record import EV, GRAD, IN, LIVE, OP, OpRecord, Ref

TensorBase = engine.TensorBase


class _Gen:
    def __init__(self, rec):
        self.rec = rec
        self.ns = {"np": np, "mk": engine.make_tensor, "meta_is": engine.meta_is, "nd": np.ndarray,
                   "run_traced": engine.run_traced, "acc": engine._accumulate, "state": engine.state,
                   "fix": _fix, "acc_add": engine._acc_add, "ones": np.ones,
                   "asarray": np.asarray, "RuntimeError": RuntimeError, "_count": _count,
                   "_tensors_out": _tensors_out, "TB": TensorBase}
        self.lines = []
        self.n = 0
        self.base = 0  # extra indentation (the body of a nested backward function)
        self.leaf_out = None  # outside backward: leaf slot -> its index among the gradients returned
        self.root_out = {}  # outside backward: root slot -> index among the replayed outputs
        self.live = [(s, src[1]) for s, src in enumerate(rec.slots) if src[0] == LIVE]
        self.live_names = {}

    def const(self, obj, prefix="c"):
        self.n += 1
        name = "%s%d" % (prefix, self.n)
        self.ns[name] = obj
        return name

    def emit(self, line, depth=1):
        self.lines.append("    " * (depth + self.base) + line)

    # ------------------------------------------------------------------ values
    def tensor(self, ref):
        """An expression for the tensor of Ref ref."""
        src = self.rec.slots[ref.slot]
        if src[0] == IN:
            return "inputs[%d]" % src[1]
        if src[0] == LIVE:
            name = self.live_names.get(ref.slot)
            if name is None:
                name = self.live_names[ref.slot] = self.const(src[1], "L")
            return name
        return "mk(v%d, %s)" % (ref.slot, bool(ref.requires_grad))

    def template(self, v):
        if isinstance(v, Ref):
            return self.tensor(v)
        if type(v) is tuple:
            return "(" + "".join(self.template(x) + ", " for x in v) + ")"
        if type(v) is list:
            return "[" + ", ".join(self.template(x) for x in v) + "]"
        if v is None or type(v) in (bool, int) or (type(v) is float and np.isfinite(v)) or type(v) is str:
            return repr(v)
        return self.const(v)

    def refresh_live(self):
        for s, t in self.live:
            self.emit("v%d = %s._data" % (s, self.tensor(Ref(s, False))))

    # ------------------------------------------------------------------ steps
    def build(self, result):
        rec = self.rec
        for s, src in enumerate(rec.slots):
            if src[0] == IN:
                self.emit("v%d = inputs[%d]._data" % (s, src[1]))
        self.refresh_live()
        for st in rec.steps:
            if isinstance(st, OpRecord):
                self.op(st)
            else:
                getattr(self, "ev_" + st.what)(st.payload)
        if self.rec.outside is not None:
            self.outside(*self.rec.outside)
        self.emit("return " + self.result(result))
        src = "def run(inputs):\n" + "\n".join(self.lines) + "\n"
        code = compile(src, "<fastgrad.compile>", "exec")
        exec(code, self.ns)  # noqa: S102  (our own generated source)
        fn = self.ns["run"]
        fn.source = src
        return fn

    def op(self, op):
        if op.kind and op.fn._info.kernel is not None and len(op.outs) == 1 and type(op.outs[0]) is int:
            u = self.const(op.fn._info.kernel, "K")
            args = ", ".join("None" if a is None else "v%d" % a.slot for a in op.args)
            self.emit("v%d = %s(%s)" % (op.outs[0], u, args))
            return
        fn = self.const(op.fn, "F")
        args = self.template(tuple(op.args))
        kw = "None" if op.kwargs is None else "{%s}" % ", ".join(
            "%r: %s" % (k, self.template(v)) for k, v in op.kwargs.items())
        node = op.node
        if node is None or getattr(node, "_dirty", None) is None:
            # a built-in op's forward on a ctx of our own (no node, no edges: the backward
            # below reads what it saved); its outputs' arrays are the slots
            attrs = {} if node is None else {"needs_input_grad": node.needs_input_grad, "_in_meta": node._in_meta,
                                             "_out_meta": node._out_meta}
            cls = self.const(type("GCtx", (_GCtx,), attrs), "GCT")
            ctx = "gc%d" % op.index  # a new one per run: a later run must not overwrite what this one saved
            self.emit("%s = %s()" % (ctx, cls))
            call = "%s.forward(%s, *%s%s)" % (fn, ctx, args, "" if op.kwargs is None else ", **" + kw)
            self.emit("o = " + call)
            if op.single:
                self.emit("v%d = o._data if isinstance(o, TB) else o" % op.outs[0])
            else:
                for nr, s in enumerate(op.outs):
                    if type(s) is int:
                        self.emit("v%d = o[%d]._data if isinstance(o[%d], TB) else o[%d]" % (s, nr, nr, nr))
            self.emit("n%d = %s" % (op.index, ctx))
            return
        self.emit("o = run_traced(%d, %s, %s, %s)" % (op.kind, fn, args, kw))
        if op.single:
            self.emit("v%d = o._data" % op.outs[0])
            self.emit("n%d = o._grad_fn" % op.index)
        else:
            for nr, s in enumerate(op.outs):
                if type(s) is int:
                    self.emit("v%d = o[%d]._data" % (s, nr))
            self.emit("n%d = o[0]._grad_fn" % op.index)

    def ev_call(self, p):
        fn, args, kwargs, out = p
        call = "%s(*%s, **%s)" % (self.const(fn, "E"), self.const(tuple(args)), self.const(dict(kwargs)))
        self.emit(("v%d = %s._data" % (out, call)) if out is not None else call)
        self.refresh_live()

    def ev_readgrad(self, p):
        s, leaf = p
        self.emit("o = %s._grad" % self.tensor(leaf))
        self.emit("if o is None:")
        self.emit("raise RuntimeError('fastgrad.compile: a .grad the recorded call read is None on replay')", 2)
        self.emit("v%d = o._data" % s)

    def ev_setgrad(self, leaf):
        self.emit("%s._grad = None" % self.tensor(leaf))

    def ev_backward(self, p):
        root, grad, (n_outs, roots, plans) = p[:3]
        self.emit("st = state()")
        self.emit("prev = st.grad_enabled")
        self.emit("st.grad_enabled = False")
        self.emit("try:")
        d = 2
        contrib = {}  # (node, nr) -> number of gradients summed into it
        for k, nr in roots:
            contrib[(k, nr)] = contrib.get((k, nr), 0) + 1
        for p_ in plans:
            if p_.leaf is None:
                for j, kid, knr in p_.edges:
                    contrib[(kid, knr)] = contrib.get((kid, knr), 0) + 1
        for key in contrib:
            self.emit("g%d_%d = None" % key, d)
            self.emit("w%d_%d = 0" % key, d)
        # tensor_backward's seed: a new 0-d one of the root's dtype
        if root is None:  # outside backward: the upstream gradients gr (arrays)
            for i, (k, nr) in enumerate(roots):
                self.add(k, nr, "gr[%d]" % i, "0", contrib, d)
        else:
            seed = ("%s.copy()" % self.const(np.ones((), self.rec.tensor_of[root]._data.dtype), "ONE")
                    if grad is None else "%s._data" % self.tensor(grad))
            for k, nr in roots:
                self.add(k, nr, seed, "0", contrib, d)
        for p_ in plans:
            self.node(p_, n_outs, contrib, d)
        self.emit("finally:")
        self.emit("st.grad_enabled = prev", 2)

    def outside(self, root_slots, plan):
        """Outputs whose backward runs after the call: one autograd.Function node over the
        leaves, whose backward is the plan on arrays, nested here (it reads the forward's locals)."""
        leaves = []
        for p in plan[2]:
            if p.leaf is not None and p.leaf.slot not in [x.slot for x in leaves]:
                leaves.append(p.leaf)
        self.leaf_out = {ref.slot: i for i, ref in enumerate(leaves)}
        self.emit("def bw(gr):")
        self.emit("res = [None] * %d" % len(leaves), 2)
        self.base = 1
        self.ev_backward((None, None, plan))
        self.base = 0
        self.emit("return res", 2)
        self.emit("ro = %s.apply(bw, (%s), %s)" % (self.const(_Outside, "RF"), "".join("v%d, " % s for s in root_slots),
                                                  "".join(self.tensor(ref) + ", " for ref in leaves)))
        self.root_out = {s: i for i, s in enumerate(root_slots)}

    def add(self, k, nr, x, fresh, contrib, d):
        """engine._buffer_add of x into node k's output nr's gradient."""
        g, w = "g%d_%d" % (k, nr), "w%d_%d" % (k, nr)
        if contrib[(k, nr)] == 1:
            self.emit("%s = %s" % (g, x), d)
            self.emit("%s = %s" % (w, fresh), d)
            return
        self.emit("if %s is None:" % g, d)
        self.emit("%s = %s" % (g, x), d + 1)
        self.emit("%s = %s" % (w, fresh), d + 1)
        self.emit("elif %s and %s.shape == %s.shape and %s.dtype == %s.dtype:" % (w, g, x, g, x), d)
        self.emit("acc_add[0](%s, %s, %s)" % (g, x, g), d + 1)
        self.emit("else:", d)
        self.emit("%s = asarray(%s + %s)" % (g, g, x), d + 1)
        self.emit("%s = 1" % w, d + 1)

    def node(self, p, n_outs, contrib, d):
        k = p.idx
        grads = ["g%d_%d" % (k, nr) if (k, nr) in contrib else "None" for nr in range(n_outs[k])]
        live = [g for g in grads if g != "None"]
        if not live:
            return
        self.emit("if %s:" % " or ".join("%s is not None" % g for g in live), d)
        d += 1
        if p.leaf is not None:
            if self.leaf_out is not None:  # outside backward: returned, the engine accumulates it
                self.emit("res[%d] = g%d_0" % (self.leaf_out[p.leaf.slot], k), d)
            else:
                self.emit("acc(%s, mk(g%d_0), w%d_0, False)" % (self.tensor(p.leaf), k, k), d)
            return
        n = len(p.has_edge)
        buf = "[%s]" % ", ".join(grads)
        if len(grads) > 1:  # materialize: missing output gradients as zeros
            self.emit("b = %s" % buf, d)
            meta = "M%d" % k if p.kernel else "n%d._out_meta" % p.op
            if p.kernel:
                self.ns[meta] = p.out_meta
            self.emit("b = [np.zeros(*%s[i]) if x is None else x for i, x in enumerate(b)]" % meta, d)
        else:
            self.emit("b = %s" % buf, d)
        if p.kernel:
            saved = ["None" if s is None else "v%d" % s for s in p.saved]
            in_meta = self.const(p.in_meta, "IM")
        else:
            self.emit("c = n%d" % p.op, d)
            in_meta = "c._in_meta"
        if p.tensor_backward:  # engine: _run_node on tensors, then _unwrap_all
            if p.kernel:
                kc = _KCtx()
                kc.needs_input_grad, kc._in_meta, kc._out_meta, kc.materialize_grads = p.needs, p.in_meta, p.out_meta, True
                ctx = self.const(kc, "KC")
                self.emit("%s.saved_tensors = (%s)" % (ctx, "".join(("None" if x == "None" else "mk(%s)" % x) + ", "
                                                                    for x in saved)), d)
            else:
                ctx = "c"
            bw = self.const(self.rec.ops[p.op].fn.backward, "BW")
            self.emit("o = %s(%s, *[None if x is None else mk(x) for x in b])" % (bw, ctx), d)
            self.emit("o = _tensors_out(o, %r)" % p.name, d)
        elif p.specs is not None:
            if not p.kernel:
                self.emit("sv = c.saved_arrays", d)
                saved = ["sv[%d]" % i for i in range(2)]
            outs = [self.spec(p.specs[i], saved, in_meta) if i < n and p.has_edge[i] else "None"
                    for i in range(len(p.specs))]
            self.emit("o = [%s]" % ", ".join(outs), d)
        else:
            if p.kernel:
                kc = _KCtx()
                kc.needs_input_grad, kc._in_meta, kc._out_meta, kc.materialize_grads = p.needs, p.in_meta, p.out_meta, True
                ctx = self.const(kc, "KC")
                self.emit("%s.saved_arrays = (%s)" % (ctx, "".join(s + ", " for s in saved)), d)
            else:
                ctx = "c"
            self.emit("o = list(%s(%s, *b))" % (self.const(p.array_backward, "AB"), ctx), d)
        self.emit("if len(o) != %d:" % n, d)
        self.emit("o = _count(o, %d, %r)" % (n, p.name), d + 1)
        targets = {}
        for j, kid, knr in p.edges:
            targets.setdefault(j, []).append((kid, knr))
        for i in range(n):
            if not p.has_edge[i] or i not in targets:
                continue
            self.emit("x = o[%d]" % i, d)
            self.emit("if x is not None:", d)
            self.emit("if type(x) is not nd:", d + 1)
            self.emit("x = o[%d] = asarray(x)" % i, d + 2)
            self.emit("if not meta_is(x, %s[%d]):" % (in_meta, i), d + 1)
            self.emit("x = o[%d] = fix(x, %s[%d], %r, %d)" % (i, in_meta, i, p.name, i), d + 2)
        for j, kid, knr in p.edges:
            if not p.has_edge[j]:
                continue
            self.emit("x = o[%d]" % j, d)
            self.emit("if x is not None:", d)
            others = "".join(" and x is not o[%d]" % i for i in range(n) if i != j)
            mine = "".join(" and x is not %s" % g for g in grads if g != "None")
            self.add(kid, knr, "x", "x.base is None%s%s" % (mine, others), contrib, d + 1)

    def spec(self, spec, saved, in_meta):
        if type(spec) is tuple:
            f = self.const(spec[0], "S")
            return "%s(%s)" % (f, ", ".join(self.spec(s, saved, in_meta) for s in spec[1:]))
        if spec == engine.GRAD:
            return "b[0]"
        if spec == engine.IN0_SHAPE:
            return "%s[0][0]" % in_meta
        return saved[spec - engine.SAVED0]

    def result(self, v):
        rec = self.rec
        if isinstance(v, TensorBase):
            s = rec.slot_of.get(id(v))
            if s is None or rec.tensor_of[s] is not v:
                return self.const(v)
            src = rec.slots[s]
            if src[0] in (IN, LIVE):
                return self.tensor(Ref(s, False))
            if s in self.root_out:
                return "ro[%d]" % self.root_out[s]
            return "mk(v%d)" % s
        if type(v) is tuple:
            return "(" + "".join(self.result(x) + ", " for x in v) + ")"
        if type(v) is list:
            return "[" + ", ".join(self.result(x) for x in v) + "]"
        if type(v) is dict:
            return "{" + ", ".join("%s: %s" % (self.const(k), self.result(x)) for k, x in v.items()) + "}"
        return self.template(v)


class _KCtx:
    """The ctx a kernel op's backward reads on replay (no node is made for it)."""

    __slots__ = ("saved_arrays", "saved_tensors", "needs_input_grad", "_in_meta", "_out_meta",
                 "materialize_grads")


def _outside_class():
    from fastgrad.autograd import Function

    class _Outside(Function):
        """The replayed outputs' node: backward runs the recorded backward on arrays and
        gives each leaf its gradient (the engine accumulates it, as eager's walk would)."""

        @staticmethod
        def forward(ctx, bw, arrays, *leaves):
            ctx.bw = bw
            ctx.n = len(leaves)
            return tuple(engine.make_tensor(a) for a in arrays)

        @staticmethod
        def backward(ctx, *grads):
            if engine.state().grad_enabled:
                raise RuntimeError("fastgrad.compile: a backward with create_graph=True through a compiled "
                                   "call is not supported")
            res = ctx.bw([None if g is None else g._data for g in grads])
            return (None, None) + tuple(None if r is None else engine.make_tensor(r) for r in res)
    return _Outside


class _GCtx:
    """The ctx a general built-in op's forward gets on replay (no node): what it saves is
    kept as given (no version checks: the recording checked); its backward reads it."""

    needs_input_grad = None
    _in_meta = _out_meta = None
    materialize_grads = True
    _to_save = None

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        pass

    def mark_dirty(self, *tensors):
        raise RuntimeError("fastgrad.compile: an op marked an input dirty on replay")

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_arrays(self):
        return tuple([x._data if isinstance(x, TensorBase) else x for x in self._to_save or ()])

    @property
    def saved_tensors(self):
        return tuple([x if x is None or isinstance(x, TensorBase) else engine.make_tensor(x)
                      for x in self._to_save or ()])


def _tensors_out(result, name):
    """A backward's tensors as arrays (engine: FunctionNode._apply_grads, then _unwrap_all)."""
    if not isinstance(result, tuple):
        result = (result,)
    out = []
    for i, g in enumerate(result):
        if g is None:
            out.append(None)
        elif isinstance(g, TensorBase):
            out.append(g._data)
        else:
            raise TypeError("function %s returned a gradient of type %s at index %d; expected a Tensor or None"
                            % (name, type(g).__name__, i))
    return out


def _fix(x, meta, name, i):
    """engine.FunctionNode._fix_grad on an array: summed to the input's shape, cast to its dtype."""
    t = engine.make_tensor(x)
    if t._data.shape != meta[0]:
        t = engine._ops["sum_to"](t, meta[0], name, i)
    if t._data.dtype is not meta[1] and t._data.dtype != meta[1]:
        t = t.to(engine._ops["dtype_of"](meta[1]))
    return t._data


def _count(out, n, name):
    """engine.FunctionNode._check_count: extra trailing Nones dropped."""
    if len(out) > n and not any(x is not None for x in out[n:]):
        return out[:n]
    raise RuntimeError("function %s returned an incorrect number of gradients (expected %d, got %d)"
                       % (name, n, len(out)))


_Outside = _outside_class()


def generate(rec, result):
    return _Gen(rec).build(result)


__all__ = ["generate", "EV", "GRAD", "OP"]
