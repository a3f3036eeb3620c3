"""fastgrad.compile's recorder: one eager call of the compiled function, watched.

While it runs, the engine hands every op application to `Recorder.op` (engine.set_trace_hook),
which runs the op unchanged (engine.run_traced) and notes it: which op, which values it read
(slots: the call's input tensors, tensors from outside the call such as parameters, the results
of earlier ops) and which it made. `Tensor.backward`, the optimizers' `step` and `zero_grad`,
`Module.zero_grad` and `Tensor.grad = None` are patched for the call's duration and noted as
events; anything the program could not repeat (a tensor's value read in Python, hooks, a
random draw outside an op, an in-place change no op made, a user autograd.Function, ...) makes
the recording fail with its reason (Unsupported) while the eager call runs on to its end.
"""
from threading import get_ident

import numpy as np

from fastgrad._backend import engine
from fastgrad import _random
TensorBase = engine.TensorBase


class Unsupported(Exception):
    """The call cannot be replayed; the message says why."""


# slot sources: the call's input k, a tensor from outside the call (its array read when the
# program runs), op i's output, a leaf's .grad read (readgrad event), an event's result
IN, LIVE, OP, GRAD, EV = 0, 1, 2, 3, 4


class OpRecord:
    """One op application: kind (0: function_apply, 1-3: apply1-apply3), the op class, its
    arguments as a template (Ref for tensors), its output slots, and its node (or None)."""

    __slots__ = ("kind", "fn", "args", "kwargs", "outs", "single", "node", "index", "ref_args")

    def __init__(self, kind, fn, args, kwargs, index):
        self.kind, self.fn, self.args, self.kwargs, self.index = kind, fn, args, kwargs, index
        self.outs, self.single, self.node, self.ref_args = [], True, None, []


class Ref:
    """A tensor argument: its slot and whether the tensor required grad when recorded."""

    __slots__ = ("slot", "requires_grad")

    def __init__(self, slot, requires_grad):
        self.slot, self.requires_grad = slot, requires_grad


class Event:
    """A recorded call that is not an op: ("call", function, self, args, kwargs),
    ("backward", root slot, gradient Ref or None, graph info), ("setgrad", leaf Ref)."""

    __slots__ = ("what", "payload")

    def __init__(self, what, payload):
        self.what, self.payload = what, payload


class Recorder:
    def __init__(self, inputs):
        self.slots = []  # per slot: (IN, input position) | (LIVE, tensor) | (OP, op index)
        self.slot_of = {}  # id(tensor) -> slot
        self.arr_slot = {}  # id(array) -> slot (a new tensor on an array we know: the same value)
        self.keep = []  # everything whose id is a key above stays alive while recording
        self.versions = {}  # slot -> the version its tensor had when last seen
        self.tensor_of = {}  # slot -> its tensor while recording
        self.steps = []  # OpRecords and Events, in call order
        self.ops = []
        self.node_op = {}  # id(node) -> (op index, output nr)
        self.failed = None  # the first reason the call cannot be replayed
        self.watched, self.watched_v, self.known_arrays = [], [], {}
        self.quiet = 0  # > 0 inside an op or an event: what runs there is theirs
        self.thread = get_ident()
        self.fullgraph = False
        for k, t in enumerate(inputs):
            if id(t) not in self.slot_of:  # (a tensor passed twice: its first position, in the key)
                self._new_slot(t, (IN, k))

    # ------------------------------------------------------------------ slots
    def _new_slot(self, t, source):
        s = len(self.slots)
        self.slots.append(source)
        self.slot_of[id(t)] = s
        self.arr_slot[id(t._data)] = s
        self.keep.append(t)
        self.keep.append(t._data)
        self.versions[s] = t._vc.value
        self.tensor_of[s] = t
        return s

    def slot(self, t):
        """The slot of tensor t read by an op (a tensor first seen here comes from outside the
        call, or is a new tensor on a known array), checked against in-place changes."""
        s = self.slot_of.get(id(t))
        if s is None:
            s = self.arr_slot.get(id(t._data))
            if s is not None and self.tensor_of[s]._data is t._data:
                self.slot_of[id(t)] = s
                self.keep.append(t)
            else:
                owner = self.known_arrays.get(id(t._data))
                if owner is not None and owner._data is t._data and owner is not t:
                    # a new tensor on the array of one from outside the call (cross_entropy's
                    # make(target array)): that tensor's array, read when the program runs
                    s = self.slot(owner)
                    self.slot_of[id(t)] = s
                    self.keep.append(t)
                    return s
                return self._new_slot(t, (LIVE, t))
        st = self.tensor_of[s]
        if st._data is not t._data or self.versions[s] != t._vc.value:
            self.fail("a tensor was changed in place outside an op the compiled call records "
                      "(an in-place op, or an assignment to its data)")
        return s

    def refresh(self):
        """After an event (optimizer step, zero_grad, backward): its in-place changes are
        its own, replayed with it."""
        for s, t in self.tensor_of.items():
            self.versions[s] = t._vc.value
        self.rebase()

    def watch(self, tensors):
        """Tensors reachable before the call: an in-place change of one between ops and events
        (num_batches_tracked += 1 in Python) is not replayed, so it fails the recording."""
        self.watched = list(tensors)
        self.known_arrays = {id(t._data): t for t in self.watched}
        self.rebase()

    def rebase(self):
        self.watched_v = [t._vc.value for t in self.watched]

    def check_watched(self):
        for t, v in zip(self.watched, self.watched_v):
            if t._vc.value != v:
                self.fail("a tensor was changed in place outside an op the compiled call records "
                          "(Python code on its array)")
                return

    def check_unchanged(self):
        self.check_watched()
        for s, t in self.tensor_of.items():
            if self.versions[s] != t._vc.value and self.slots[s][0] != LIVE:
                self.fail("a tensor of the call was changed in place outside an op the compiled call records")

    # ------------------------------------------------------------------ failure
    def fail(self, reason):
        if self.failed is None:
            self.failed = reason
            engine.set_trace_hook(None)  # the rest of the call runs unwatched
            if self.fullgraph:
                raise Unsupported(reason)

    # ------------------------------------------------------------------ ops
    def active(self):
        """Whether what runs now is the recorded call's own (not inside an op or an event,
        and in the recording thread: the hook and the patches are process-wide)."""
        return not self.quiet and get_ident() == self.thread

    def op(self, kind, fn, args, kwargs):
        if self.failed is not None or self.quiet or get_ident() != self.thread:
            return engine.run_traced(kind, fn, args, kwargs)
        name = getattr(fn, "__name__", "op")
        if not getattr(fn, "_builtin", False):
            self.fail("autograd.Function %s (its backward is Python code on tensors)" % name)
            return engine.run_traced(kind, fn, args, kwargs)
        if fn._info.upcast_half and engine._has_half(tuple(args), kwargs or {}):
            self.fail("%s on float16/bfloat16 (computed through float32 copies)" % name)
            return engine.run_traced(kind, fn, args, kwargs)
        self.check_watched()
        if self.failed is not None:
            return engine.run_traced(kind, fn, args, kwargs)
        rec = OpRecord(kind, fn, None, None, len(self.ops))
        rec.args = self._template(args, rec)
        rec.kwargs = None if not kwargs else {k: self._template(v, rec) for k, v in kwargs.items()}
        self.quiet += 1
        try:
            out = engine.run_traced(kind, fn, args, kwargs)
        finally:
            self.quiet -= 1
        if self.failed is not None:
            return out
        self.ops.append(rec)
        self.steps.append(rec)
        rec.single = not isinstance(out, tuple)
        for nr, o in enumerate((out,) if rec.single else out):
            if isinstance(o, TensorBase):
                s = self._new_slot(o, (OP, rec.index))
                rec.outs.append(s)
                node = o._grad_fn
                if node is not None and nr == 0:
                    rec.node = node
                    self.node_op[id(node)] = rec.index
                    self.keep.append(node)
            else:
                rec.outs.append(("value", o))
        for r in rec.ref_args:  # an op's own in-place effects (batch norm's running stats) replay with it
            self.versions[r.slot] = self.tensor_of[r.slot]._vc.value
        self.rebase()
        return out

    def _template(self, v, rec):
        if isinstance(v, TensorBase):
            r = Ref(self.slot(v), v._requires_grad)
            rec.ref_args.append(r)
            return r
        if type(v) is tuple:
            return tuple(self._template(x, rec) for x in v)
        if type(v) is list:
            return [self._template(x, rec) for x in v]
        if isinstance(v, np.ndarray) and id(v) in self.arr_slot:
            self.fail("an op read the array of a tensor of the call directly")
        return v

    # ------------------------------------------------------------------ events
    def event(self, what, payload):
        self.steps.append(Event(what, payload))


class RngSpy:
    """Stands in for the default generator's NumPy Generator while recording: a draw outside
    an op would be frozen into the program, so it fails the recording."""

    def __init__(self, real, rec):
        self._real, self._rec = real, rec

    def __getattr__(self, name):
        if self._rec.active():
            self._rec.fail("random numbers drawn outside an op (they would be the same on every replay)")
        return getattr(self._real, name)


def gen_swap(rec):
    g = _random.default_generator
    real = g._rng
    g._rng = RngSpy(real, rec)
    return g, real


def reachable_tensors(fn, inputs):
    """{id: tensor} of the tensors the compiled function can reach without running: its inputs, and
    the parameters, buffers, optimizer state and tensors held by its module, closure, globals
    it names, defaults and bound self (a few levels deep). A tensor an op reads that is none
    of these and no op's result was made during the call outside the ops: from the call's data
    perhaps (F.one_hot, a NumPy computation), which a replay would not recompute."""
    from fastgrad.nn.modules.module import Module
    from fastgrad.optim.optimizer import Optimizer
    import types
    known = {id(t): t for t in inputs}
    optimizers = known[None] = []  # (the optimizers met, for _watch: an instance's own step)
    seen = set()
    todo = [(fn, 0)]
    while todo:
        obj, depth = todo.pop()
        if id(obj) in seen or depth > 4:
            continue
        seen.add(id(obj))
        if isinstance(obj, TensorBase):
            known[id(obj)] = obj
            if obj._grad is not None:
                known[id(obj._grad)] = obj._grad
        elif isinstance(obj, Module):
            for m in obj.modules():
                for t in list(m._parameters.values()) + list(m._buffers.values()):
                    if t is not None:
                        todo.append((t, depth))
                todo.extend((v, depth + 1) for v in m.__dict__.values()
                            if not isinstance(v, (dict, Module)) or type(v) is dict and len(v) < 64)
        elif isinstance(obj, Optimizer):
            optimizers.append(obj)
            for g in obj.param_groups:
                todo.extend((p, depth) for p in g["params"])
            for st in obj.state.values():
                todo.extend((v, depth) for v in st.values() if isinstance(v, TensorBase))
        elif isinstance(obj, (list, tuple, set, frozenset)) and len(obj) < 1000:
            todo.extend((v, depth + 1) for v in obj)
        elif type(obj) is dict and len(obj) < 1000:
            todo.extend((v, depth + 1) for v in obj.values())
        elif isinstance(obj, types.FunctionType):
            code = obj.__code__
            todo.extend((c.cell_contents, depth + 1) for c in (obj.__closure__ or ()) if _has_contents(c))
            todo.extend((v, depth + 1) for v in (obj.__defaults__ or ()))
            todo.extend((v, depth + 1) for v in (obj.__kwdefaults__ or {}).values())
            g = obj.__globals__
            for name in _names(code):
                if name in g:
                    todo.append((g[name], depth + 1))
        elif isinstance(obj, types.MethodType):
            todo.append((obj.__self__, depth))
            todo.append((obj.__func__, depth))
        elif hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType)):
            if hasattr(obj, "func") and hasattr(obj, "args"):  # functools.partial
                todo.extend((v, depth + 1) for v in (obj.func,) + tuple(obj.args))
            todo.extend((v, depth + 1) for v in vars(obj).values())
    return known


def _has_contents(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _names(code):
    out = list(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            out.extend(_names(c))
    return out
