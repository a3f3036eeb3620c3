"""The tape: grad mode, the autograd fields of a tensor, graph nodes, Function.apply and backward.

One source, two builds. With a compiler, setup.py compiles this file with Cython
(``_engine.pxd`` beside it declares the C types: nodes and tensors become C structs, the
graph walk a C loop). Without one, or when the NumPy backend is asked for, the same file runs
as plain Python (``fastgrad/_backend.py`` picks which). So the engine logic exists once.

Graph shape (no reference cycles, so a graph dies with its last output tensor):
    output tensor --_grad_fn--> node --next_functions--> (input node, output index)
    node --_saved--> saved input tensors; saved *outputs* are kept as raw arrays
    leaf tensor --_acc--> AccumulateGrad --weakref--> leaf tensor
"""
import inspect
import os
import threading
import traceback
from _thread import get_ident as _get_ident
from types import MethodType as _MethodType
import weakref

import ml_dtypes
import numpy as np

try:
    import cython as _cython

    _COMPILED = _cython.compiled  # a C constant when compiled (_engine.pxd)
except ImportError:  # the pure-NumPy backend runs this file as plain Python, maybe without Cython
    _COMPILED = False
if _COMPILED:
    _c_import_array()  # noqa: F821  (NumPy's C API, for _dtype and friends below)

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Modes:
    """One thread's autograd modes (C fields when compiled; read once per op as state())."""

    def __init__(self):
        self.grad_enabled = True
        self.fw_level = 0  # number of open forward-AD dual levels (0 or 1: levels do not nest)
        self.fw_tensors = []  # weakrefs to the tensors given a tangent in the open level
        self.fw_generation = 0  # counts dual levels entered: tangents kept in SavedOutput carry it
        self.anomaly = False
        self.half = None  # the NumPy half dtype while _half_apply runs an op in float32 (else None)


class _Local(threading.local):
    def __init__(self):
        self.modes = Modes()
        self.end = _ThreadEnd(self.modes)


class _ThreadEnd:
    """Freed with its thread's locals when the thread ends: state()'s cache then forgets
    that thread's Modes (a new thread may get the same id, and must start with its own)."""

    def __init__(self, modes):
        self.modes = modes

    def __del__(self):
        global _last_tid, _last_modes
        if _last_modes is self.modes:
            _last_modes = None
        if _last[0][1] is self.modes:
            _last[0] = (-1, None)


_local = _Local()


def is_grad_enabled():
    return state().grad_enabled


def set_grad_enabled(mode):
    """Set grad mode for this thread; return the previous mode."""
    prev = state().grad_enabled
    state().grad_enabled = bool(mode)
    return prev


_last = [(-1, None)]  # (thread id, Modes) of the last thread that asked: one tuple, so
# reading it is atomic under the GIL
_last_tid = 0  # compiled, the same in two C globals: no other thread runs between C statements
_last_modes = None


def state():
    """This thread's Modes."""
    global _last_tid, _last_modes
    if _COMPILED:  # the thread id from C (no Python call), the last Modes from C globals
        ctid = _c_thread_ident()  # noqa: F821  (a C function declared in _engine.pxd)
        if ctid == _last_tid and _last_modes is not None:
            return _last_modes
        m = _local.modes
        _last_tid = ctid
        _last_modes = m
        return m
    tid = _get_ident()
    last = _last[0]
    if last[0] == tid:
        return last[1]
    m = _local.modes
    _last[0] = (tid, m)
    return m


# --------------------------------------------------------------------------- tensors
class Version:
    """Version counter shared by a tensor and its views; in-place ops bump it."""

    def __init__(self):
        self.value = 0


class TensorBase:
    """The fields autograd needs, and + - * / (compiled, these are the type's C number
    slots, so `a + b` reaches binary() without a Python-level method lookup); fastgrad.Tensor
    adds the user-facing methods."""

    @property
    def _version(self):
        return self._vc.value

    @property
    def grad(self):
        """The gradient accumulated by backward (None until then); a C getter when compiled."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, TensorBase):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of type %s"
                                % type(value).__name__)
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    "attempting to assign a gradient of size '%s' to a tensor of size '%s'. Please "
                    "ensure that the gradient and the tensor are the same size"
                    % (list(value._data.shape), list(self._data.shape)))
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    "attempting to assign a gradient with dtype '%s' to a tensor with dtype '%s'. "
                    "The gradient must match the tensor's dtype" % (value._data.dtype, self._data.dtype))
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None  # del t.grad, as in PyTorch

    def __add__(self, other):
        return binary(_binops[0], self, other)

    def __radd__(self, other):
        return binary(_binops[0], other, self)

    def __sub__(self, other):
        return binary(_binops[1], self, other)

    def __rsub__(self, other):
        return binary(_binops[1], other, self)

    def __mul__(self, other):
        return binary(_binops[2], self, other)

    def __rmul__(self, other):
        return binary(_binops[2], other, self)

    def __truediv__(self, other):
        return binary(_binops[3], self, other)

    def __rtruediv__(self, other):
        return binary(_binops[3], other, self)

    def __pow__(self, exponent, modulo=None):
        """x ** 2 of a float tensor is Square, run by apply1 (no Python frame); anything else
        is fastgrad.pow (registered by the op layer)."""
        if modulo is not None:
            return NotImplemented
        if (type(exponent) is int or type(exponent) is float) and exponent == 2 and _is_float(self):
            return apply1(_pow_ops[1], self)
        return _pow_ops[0](self, exponent)

    def __rpow__(self, base, modulo=None):
        if modulo is not None:
            return NotImplemented
        return _pow_ops[2](self, base)


_ops = {}  # callbacks registered by the op layer: "tensor", "sum_to", "dtype_of",
# "autograd_backward", ...


_tensor_type = None  # fastgrad.Tensor, registered by fastgrad._tensor
_ndarray = np.ndarray


# An array's dtype, base and metadata: compiled, read from the array's C struct (an
# attribute lookup on an ndarray costs ~250 instructions; the tape makes dozens per step).
def _dtype(a):
    """a.dtype."""
    if _COMPILED:
        return _c_dtype(a)  # noqa: F821  (C functions declared in _engine.pxd)
    return a.dtype


def _has_base(a):
    """a.base is not None (a view of another array's memory)."""
    if _COMPILED:
        return _c_has_base(a)  # noqa: F821
    return a.base is not None


def _same_meta(a, b):
    """Whether arrays a and b have one shape and one dtype."""
    if _COMPILED:
        return _c_same_meta(a, b)  # noqa: F821
    return a.shape == b.shape and a.dtype == b.dtype


def node_meta(out, a, b):
    """What the tape records of a node's arrays: ((out's shape, dtype),) and one such pair
    per input array a, b (b None: one input). An input of out's shape and dtype shares
    out's pair, and a lone input sharing it gets out's very tuple (the common case)."""
    if _COMPILED:
        return _c_node_meta(out, a, b)  # noqa: F821
    if not (isinstance(out, np.ndarray) and isinstance(a, np.ndarray)
            and (b is None or isinstance(b, np.ndarray))):
        raise TypeError("node_meta: out and a must be ndarrays, b an ndarray or None")
    meta = (out.shape, out.dtype)
    om = (meta,)
    ma = meta if a.dtype is out.dtype and a.shape == out.shape else (a.shape, a.dtype)
    if b is None:
        return om, (om if ma is meta else (ma,))
    mb = meta if b.dtype is out.dtype and b.shape == out.shape else (b.shape, b.dtype)
    return om, (ma, mb)


def meta_is(a, meta):
    """Whether array a has the (shape, dtype) pair meta a node recorded (the tape's check of
    each gradient); False for anything but an ndarray."""
    if _COMPILED:
        return _c_meta_is(a, meta)  # noqa: F821
    if not (type(meta) is tuple and len(meta) == 2 and type(meta[0]) is tuple):
        raise TypeError("meta_is: meta must be a (shape tuple, dtype) pair")
    return isinstance(a, np.ndarray) and a.shape == meta[0] and (a.dtype is meta[1] or a.dtype == meta[1])


def _new(cls):
    """A new instance of cls, a Python subclass without __new__ of a compiled class
    (fastgrad.Tensor, an op's FunctionNode class), as TensorBase.__new__(cls) makes it.
    Compiled, cls's tp_new slot is called directly (_c_tp_new, in _engine.pxd): Cython
    calls X.__new__(cls) by name, through type.__new__'s checks (~800 instructions)."""
    if _COMPILED:
        return _c_tp_new(cls)  # noqa: F821  (a C function declared in _engine.pxd)
    return object.__new__(cls)


_acc_add = [np.add]  # add(a, b, out): the backend's K.add, registered by fastgrad._backend


def register(name, obj):
    global _tensor_type
    _ops[name] = obj
    if name == "tensor":
        _tensor_type = obj
    elif name == "binops":
        _binops[:] = obj
    elif name == "pow":
        _pow_ops[:] = obj
    elif name == "add":
        _acc_add[0] = obj
    elif name == "sum":
        _sum_ops[:] = obj


def make_tensor(data, requires_grad=False):
    """Wrap an ndarray (no copy) in a new fastgrad.Tensor."""
    t = _new(_tensor_type)
    if type(data) is not _ndarray:
        data = np.asarray(data)
    t._data = data
    t._vc = Version.__new__(Version)
    t._requires_grad = requires_grad
    return t


# A view's creation meta (PyTorch's CreationMeta), kept in _view_meta: None for a view made in
# grad mode; (kind, node name or None, output index) otherwise. In-place on such a view (or on
# its base, seen from the view) raises PyTorch's errors (fastgrad._ops.views).
VIEW_NO_GRAD = 1  # made in no_grad mode
VIEW_MULTI = 2  # an output of a function returning several views (unbind, split, chunk)
_NO_GRAD_VIEW = (VIEW_NO_GRAD, None, 0)


def make_view(data, base):
    """A tensor over (part of) base's storage: it shares base's version counter, and records
    base's version (its grad_fn is regenerated when that moves: view_fresh)."""
    t = make_tensor(data)
    t._vc = base._vc
    t._view_ver = base._vc.value
    t._base = base if base._base is None else base._base
    if not state().grad_enabled:
        t._view_meta = _NO_GRAD_VIEW
    else:
        meta = base._view_meta  # a view of a view inherits its creation meta (not its name)
        if meta is not None:
            t._view_meta = (meta[0], None, 0)
    return t


def view_fresh(t):
    """Bring a view's grad_fn (and requires_grad) up to date: when its base or another view
    of the base was changed in place since the view's grad_fn was made, it becomes an
    AsStrided node on the base's new history (PyTorch regenerates it on access)."""
    if t._base is not None and t._vc.value != t._view_ver:
        _ops["view_refresh"](t)


def may_alias(d, items, full_ok):
    """Whether a tensor among items may share memory with array d, the one an in-place op
    writes: d itself when full_ok is False, or any array when one of the two is a view of
    memory (an array that owns its memory shares it with none that owns its own). False:
    nothing to check; True: fastgrad._ops.views.check_overlap decides (a C loop compiled,
    so the in-place ops' common case costs no Python call)."""
    owner = not _has_base(d)
    for a in items:
        if isinstance(a, TensorBase):
            t = a
            ad = t._data
            if ad is d:
                if not full_ok:
                    return True
            elif not owner or _has_base(ad):
                return True
    return False


def grad_edge(t):
    """The (node, output index) a gradient for tensor t flows into."""
    if t._base is not None and t._vc.value != t._view_ver:
        _ops["view_refresh"](t)  # a view whose base changed in place: its grad_fn anew
    if t._grad_fn is not None:
        return (t._grad_fn, t._output_nr)
    if t._requires_grad:
        edge = t._acc  # a leaf's edge, made once: (its AccumulateGrad node, 0)
        if edge is None:
            edge = (AccumulateGrad(t), 0)
            t._acc = edge
        return edge
    return (None, 0)


# --------------------------------------------------------------------------- nodes
class Node:
    """A backward function in the graph."""

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return "<%s object at %#x>" % (type(self).__name__, id(self))

    def apply(self, grads):
        return self._apply_grads(list(grads))

    def __call__(self, *grads):
        return self._apply_grads(list(grads))

    def _apply_grads(self, grads):
        """The backward of this node: one gradient (or None) per next_functions entry.
        (A C method when compiled: the graph walk calls it without attribute lookups.)"""
        raise NotImplementedError

    def _apply_arrays(self, grads):
        """The backward on arrays, or None: then the walk calls _apply_grads on tensors."""
        return None

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after this node; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node; may return new grad_outputs."""
        return self._add_pre_hook(-1, fn)

    def _add_pre_hook(self, idx, fn):
        if self._pre_hooks is None:
            self._pre_hooks = []
        entry = (idx, fn)
        self._pre_hooks.append(entry)
        return _RemovableHandle(self._pre_hooks, entry)

    def _release(self):
        pass


class _RemovableHandle:
    def __init__(self, container, item):
        self._container = container
        self._item = item

    def remove(self):
        try:
            self._container.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds incoming gradients into leaf.grad."""

    def __init__(self, leaf):
        self._leaf = weakref.ref(leaf)
        self.next_functions = ()
        self._n_out = 1

    @property
    def variable(self):
        return self._leaf()


class SavedOutput:
    """An output saved for backward, kept as its array (holding the tensor would be a cycle)."""


def _saved_output(t, idx):
    """Output idx, tensor t, saved at its current version (no __init__: no argument parsing)."""
    so = SavedOutput.__new__(SavedOutput)
    so.data = t._data
    so.idx = idx
    so.vc = t._vc
    so.version = t._vc.value
    so.fw_grad = None  # (dual-level generation, tangent) of the output, for forward-over-reverse
    return so


def _describe(t):
    return "[%s [%s]]" % (t.type(), ", ".join(str(s) for s in t._data.shape))


class FunctionNode(Node):
    """The node (and ctx) of one call of a Function. Built-in ops and user Functions alike."""

    # --- ctx API used inside forward ---
    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tensors

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        return self._saved_items(False)

    @property
    def saved_arrays(self):
        """The saved tensors' arrays (an op's _array_backward reads these), same checks."""
        return self._saved_items(True)

    def _saved_items(self, arrays):
        if self._released:
            raise RuntimeError(FREED_MSG)
        saved = self._saved
        if saved is None:
            return ()
        out = []
        for i in range(len(saved)):
            out.append(self._saved_item(saved, i, arrays))
        return tuple(out)

    def _saved_item(self, saved, i, arrays):
        """Saved item i (of tuple saved: self._saved), version-checked: its array or its tensor."""
        item = saved[i]
        if item is None:
            return None
        if isinstance(item, TensorBase):
            ti = item  # (typed: C field reads when compiled)
            sv = self._saved_versions
            expected = 0 if sv is None else sv[i]
            if ti._vc.value != expected:
                raise RuntimeError(self._inplace_msg(ti, ti._vc.value, expected))
            return ti._data if arrays else ti
        if isinstance(item, SavedOutput):
            so = item
            if so.vc.value != so.version:
                t = make_tensor(so.data)
                raise RuntimeError(self._inplace_msg(t, so.vc.value, so.version, so.idx))
            if arrays:
                return so.data
            t = make_tensor(so.data, True)
            t._vc = so.vc
            t._grad_fn = self
            t._output_nr = so.idx
            if so.fw_grad is not None and state().fw_level > 0 and so.fw_grad[0] == state().fw_generation:
                t._fw_grad = so.fw_grad[1]
                state().fw_tensors.append(weakref.ref(t))
            return t
        return item if arrays else make_tensor(item)

    def _inplace_msg(self, t, now, expected, out_idx=-1):
        """PyTorch's message: a saved output names this node, a saved input the node that
        made it (its grad_fn now: after an in-place change of a view, CopySlices)."""
        if out_idx >= 0:
            where = ", which is output %d of %s," % (out_idx, self.name())
        else:
            try:
                view_fresh(t)
            except RuntimeError:
                pass  # (a view whose creation forbids it: name the node it had)
            fn = t._grad_fn
            where = "" if fn is None else ", which is output %d of %s," % (t._output_nr, fn.name())
        if state().anomaly:
            hint = ("the backtrace further above shows the operation that failed to compute its "
                    "gradient. The variable in question was changed in there or anywhere later. Good luck!")
        else:
            hint = ("enable anomaly detection to find the operation that failed to compute its "
                    "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")  # (PyTorch's
            # words: programs write `import fastgrad as torch`, and Tensor.type() says torch.FloatTensor)
        return (
            "one of the variables needed for gradient computation has been modified by an "
            "inplace operation: %s%s is at version %d; expected version %d instead. Hint: %s"
            % (_describe(t), where, now, expected, hint)
        )

    def _release(self):
        self._saved = None
        self._saved_versions = None
        self._released = True

    # --- backward ---
    def _apply_grads(self, grads):
        """The backward on tensors: fn.backward, differentiable (create_graph records it)."""
        if self.materialize_grads:
            self._zeros_for_none(grads, True)
        result = self._fn.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        out = self._check_count(list(result))
        for i in range(len(out)):
            g = out[i]
            if g is None:
                continue
            if self.next_functions[i][0] is None:
                out[i] = None  # this input does not need a gradient
                continue
            if not isinstance(g, TensorBase):
                raise TypeError(
                    "function %s returned a gradient of type %s at index %d; expected a Tensor or None"
                    % (self.name(), type(g).__name__, i)
                )
            gt = g
            meta = self._in_meta[i]
            if not meta_is(gt._data, meta):
                out[i] = self._fix_grad(gt, meta, i)
        return out

    def _apply_arrays(self, grads):
        """The backward on arrays, when no graph of it is wanted (the walk without
        create_graph): the op's array formulas (_array_grads) or _array_backward. None: the
        op has neither (or they do not apply), so the walk takes _apply_grads on tensors."""
        info = self._info
        if info is None or (info.array_grads is None and info.array_backward is None):
            return None
        if self.materialize_grads:
            self._zeros_for_none(grads, False)
        specs = info.array_grads
        if specs is not None:  # one formula per input, evaluated here: no Python frame
            g = grads[0]
            if g is None or _dtype(g) is not self._out_meta[0][1]:
                return None  # a hook's gradient of another dtype: the tensor route casts it
            out = [None] * len(specs)
            for i in range(len(specs)):
                if i < len(self.next_functions) and self.next_functions[i][0] is not None:
                    out[i] = self._array_grad(specs[i], g)
        elif len(grads) == 1:
            out = list(info.array_backward(self, grads[0]))
        else:
            out = list(info.array_backward(self, *grads))
        out = self._check_count(out)
        for i in range(len(out)):
            r = out[i]
            if r is None:
                continue
            if self.next_functions[i][0] is None:
                out[i] = None  # this input does not need a gradient
                continue
            if type(r) is not _ndarray:
                r = np.asarray(r)  # a ufunc on 0-d arrays returns a NumPy scalar
                out[i] = r
            meta = self._in_meta[i]
            if not meta_is(r, meta):
                out[i] = self._fix_grad(make_tensor(r), meta, i)._data  # rare: broadcast, cast
        return out

    def _array_grad(self, spec, g):
        """One entry of the op's _array_grads on output gradient g: an operand (GRAD,
        SAVED0, SAVED1, IN0_SHAPE) or a call (kernel, formula[, formula]), operands first."""
        if type(spec) is tuple:
            f = spec[0]
            if len(spec) == 2:
                return f(self._array_grad(spec[1], g))
            return f(self._array_grad(spec[1], g), self._array_grad(spec[2], g))
        if spec == GRAD:
            return g
        if spec == IN0_SHAPE:
            return self._in_meta[0][0]
        if self._released:
            raise RuntimeError(FREED_MSG)
        saved = self._saved
        i = spec - SAVED0
        if saved is None or i >= len(saved):
            raise RuntimeError("%s's _array_grads read saved array %d; it saved %d"
                               % (self.name(), i, 0 if saved is None else len(saved)))
        return self._saved_item(saved, i, True)

    def _zeros_for_none(self, grads, tensors):
        """Missing output gradients as zeros (ctx.set_materialize_grads, on by default)."""
        for i in range(len(grads)):
            if grads[i] is None:
                shape, dtype = self._out_meta[i]
                z = np.zeros(shape, dtype)
                grads[i] = make_tensor(z) if tensors else z

    def _fix_grad(self, gt, meta, i):
        """Input i's gradient to the input's shape (undo broadcasting) and dtype."""
        if gt._data.shape != meta[0]:
            gt = _ops["sum_to"](gt, meta[0], self.name(), i)
        if gt._data.dtype is not meta[1] and gt._data.dtype != meta[1]:
            gt = gt.to(_ops["dtype_of"](meta[1]))
        return gt

    def _check_count(self, result):
        """One gradient per input; extra trailing Nones are dropped (PyTorch)."""
        n = len(self.next_functions)
        if len(result) != n:
            if len(result) > n and not _any_not_none(result[n:]):
                return result[:n]
            raise RuntimeError(
                "function %s returned an incorrect number of gradients (expected %d, got %d)"
                % (self.name(), n, len(result))
            )
        return result


# --------------------------------------------------------------------------- op metadata
class OpInfo:
    """What the tape reads from an op's class, read once when the class is made
    (Function.__init_subclass__): C fields here, instead of class attribute lookups
    (each through the MRO) in every forward and every backward of the op."""


def op_info(fn):
    """The OpInfo of a Function class (or of the adapter of a setup_context-style one)."""
    info = OpInfo.__new__(OpInfo)
    info.backward_cls = fn._backward_cls
    info.kernel = getattr(fn, "_kernel", None)
    info.saves = getattr(fn, "_saves", ())
    info.array_backward = fn._array_backward
    # a built-in op computes float16/bfloat16 in float32 (_half_apply) unless it only moves data
    info.upcast_half = bool(getattr(fn, "_builtin", False)) and not getattr(fn, "_half_native", False)
    grads = getattr(fn, "_array_grads", None)
    if fn._grad_op is not None:
        grads = ((fn._grad_op._kernel, SAVED0, GRAD),)  # its kernel on (the saved array, g)
    if grads is not None:
        _check_array_grads(fn, grads)
    info.array_grads = grads
    return info


# Operands of an op's array gradient formulas (Op._array_grads).
GRAD = 0  # the gradient of the op's (one) output
SAVED0 = 1  # the arrays it saved, in _saves' order
SAVED1 = 2
IN0_SHAPE = 3  # the shape of its first input


def _check_array_grads(fn, grads):
    """Op._array_grads must be a tuple of formulas: operands or (callable, formula[, formula])."""
    if type(grads) is not tuple:
        raise TypeError("%s._array_grads must be a tuple (one formula per input)" % fn.__name__)
    todo = list(grads)
    while todo:
        f = todo.pop()
        if type(f) is tuple and len(f) in (2, 3) and callable(f[0]):
            todo.extend(f[1:])
        elif type(f) is not int or not GRAD <= f <= IN0_SHAPE:
            raise TypeError("%s._array_grads: %r is neither an operand (GRAD, SAVED0, SAVED1, "
                            "IN0_SHAPE) nor a (callable, formula[, formula]) call" % (fn.__name__, f))


# --------------------------------------------------------------------------- Function.apply
def function_apply(fn, args, kwargs):
    """Run fn.forward and, when grad mode is on and an input requires grad, record a node.

    Built-in ops (fn._builtin) take tensors and return ndarrays, which are wrapped here;
    user Functions return tensors and run their forward with grad mode off.
    """
    info = fn._info
    if info.upcast_half and _has_half(args, kwargs):
        return _half_apply(fn, args, kwargs)
    record = False
    st = state()
    if st.grad_enabled:
        for a in args:
            if isinstance(a, TensorBase):
                view_fresh(a)
                if a._requires_grad:
                    record = True
    fw = False
    if st.fw_level > 0:
        for a in args:
            if isinstance(a, TensorBase) and a._fw_grad is not None:
                fw = True
                break
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    builtin = fn._builtin
    if record or fw or not builtin:
        # built-in ops also save what their jvp needs when an input has a tangent
        need = []
        for a in args:
            if not isinstance(a, TensorBase):
                need.append(False)
            elif record and a._requires_grad:
                need.append(True)
            elif fw and builtin and a._fw_grad is not None:
                need.append(True)
            else:
                need.append(False)
        ctx.needs_input_grad = tuple(need)
    if builtin:
        out = fn.forward(ctx, *args, **kwargs) if kwargs else fn.forward(ctx, *args)
    else:
        prev = state().grad_enabled
        prev_fw = st.fw_level
        state().grad_enabled = False
        st.fw_level = 0  # a user forward is neither recorded nor dual: its jvp gives the tangents
        try:
            out = fn.forward(ctx, *args, **kwargs)
        finally:
            state().grad_enabled = prev
            st.fw_level = prev_fw
    single = not isinstance(out, tuple)
    raw = (out,) if single else out
    outs = []
    for o in raw:
        if isinstance(o, TensorBase):
            if not builtin and (record or fw) and _is_input(o, args) and not _in(o, ctx._dirty):
                v = make_tensor(o._data)  # an input returned as is: alias it, keep the input's history
                v._vc = o._vc
                o = v
            outs.append(o)
        elif isinstance(o, np.ndarray) or isinstance(o, np.generic):
            outs.append(make_tensor(o))
        else:
            outs.append(o)
    if record:
        _record(ctx, args, raw, outs)
        if st.anomaly:
            ctx._anomaly_trace = _caller_stack()  # anomaly mode: where this op was called
    if fw:
        _forward_ad(fn, ctx, args, outs, record)
    if single:
        return outs[0]
    return tuple(outs)


# --------------------------------------------------------------------------- half precision
# float16 and bfloat16 tensors are stored in 16 bits and computed in float32, as PyTorch's CPU
# kernels compute them (the compiled kernels take float32 and float64 only). A built-in op on
# them reaches function_apply (the fast paths apply1/2/3, unary, binary and sum take float32
# and float64 only, so this costs them nothing), which runs it in float32 (_half_apply). An
# op that only moves data (Op._half_native) runs on the 16-bit arrays as they are.
def _inexact(dt):
    """Whether NumPy dtype dt is a floating or complex one (bfloat16's NumPy kind is 'V')."""
    return dt.kind in "fc" or dt is _BF16  # (float32/float64 decided by the first test)


def _is_half(a):
    """Whether a is a float16 or bfloat16 tensor."""
    if isinstance(a, TensorBase):
        t = a
        dt = _dtype(t._data)
        return dt is _F16 or dt is _BF16
    return False


def _has_half(args, kwargs):
    for a in args:
        if _is_half(a):
            return True
    if kwargs:
        for a in kwargs.values():
            if _is_half(a):
                return True
    return False


def _half_dtype(args, kwargs):
    """The one half dtype of the tensor arguments, or float32 when they mix float16 with
    bfloat16 or a half dtype with float32/float64 (the op's promoted result is then kept)."""
    half = None
    for a in list(args) + (list(kwargs.values()) if kwargs else []):
        if isinstance(a, TensorBase):
            t = a
            dt = _dtype(t._data)
            if dt is _F16 or dt is _BF16:
                if half is None:
                    half = dt
                elif dt is not half:
                    return _F32
            elif _inexact(dt):
                return _F32
    return half


def _half_apply(fn, args, kwargs):
    """fn.apply with float16/bfloat16 tensor arguments: each cast to float32, the op run on
    those, its float32 outputs rounded back to the half dtype. The casts are the differentiable
    cast op, so the op's backward runs in float32 too and a gradient is rounded once, when it
    reaches a half tensor (coming out in that tensor's dtype, as PyTorch's). A cast shares its
    source's version counter, so an in-place change of a half input or output that the op
    saved is still caught. Inputs of two half dtypes, or half with float32/float64, keep the
    op's promoted result (float32 or wider)."""
    half = _half_dtype(args, kwargs)
    cast = _ops["cast"]
    up = tuple([_widen(a, cast) for a in args])
    if kwargs:
        kwargs = {k: _widen(v, cast) for k, v in kwargs.items()}
    st = state()
    prev = st.half
    st.half = half  # an op may ask, to round an intermediate as PyTorch's half kernel does
    try:
        out = function_apply(fn, up, kwargs)
    finally:
        st.half = prev
    if half is _F32:
        return out
    if isinstance(out, tuple):
        return tuple([_narrow(o, half, cast, fn) for o in out])
    return _narrow(out, half, cast, fn)


def _widen(a, cast):
    """A half tensor argument cast to float32 (a half NumPy dtype argument, as a reduction's
    accumulation dtype, becomes float32 too); anything else as it is."""
    if _is_half(a):
        t = a
        w = cast.apply(t, _F32)
        w._vc = t._vc
        return w
    if a is _F16 or a is _BF16:
        return _F32
    return a


_half_nodes = {}  # op class -> its half outputs' cast node class, named as the op's own nodes


def _half_node_class(fn, node_cls):
    """The cast node class a half output of op fn gets: a subclass of the cast's node class
    under the op's node name, so the output's grad_fn reads as it would in float32."""
    cls = _half_nodes.get(fn)
    if cls is None:
        name = fn._backward_cls.__name__
        cls = type(name, (node_cls,), {"__module__": node_cls.__module__, "__qualname__": name})
        _half_nodes[fn] = cls
    return cls


def _narrow(o, half, cast, fn):
    """A float32 output of _half_apply's run rounded to the half dtype (others as they are).
    The float32 output itself is rounded first, in place: what the op saved of its output for
    backward then holds the half values, as PyTorch's kernels see their saved half output."""
    if isinstance(o, TensorBase) and _dtype(o._data) is _F32:
        t = o
        d = t._data
        if d.flags.writeable:
            d[...] = d.astype(half)
        h = cast.apply(t, half)
        h._vc = t._vc
        if h._grad_fn is not None:
            h._grad_fn.__class__ = _half_node_class(fn, type(h._grad_fn))
        return h
    return o


_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_stack():
    """The formatted stack of the code that called into fastgrad: fastgrad's own frames at
    its top are dropped (how many there are depends on the backend and the op)."""
    stack = traceback.extract_stack()
    while stack and stack[len(stack) - 1].filename.startswith(_PKG_DIR):  # (no [-1]: compiled
        # without wraparound)
        stack.pop()
    return "".join(traceback.format_list(stack))


def apply_op(cls, *args, **kwargs):
    """Function.apply (a classmethod): compiled, so an op call costs no Python frame here.
    A plain built-in op (Op._plain) on float tensors of one dtype takes apply1/apply2, and a
    kernel op on two such tensors and an optional third (None) takes apply3."""
    if cls._plain and not kwargs:
        n = len(args)
        if n == 1:
            a = args[0]
            if isinstance(a, TensorBase) and _is_float(a):
                return apply1(cls, a)
        elif n == 2:
            a = args[0]
            b = args[1]
            if (isinstance(a, TensorBase) and isinstance(b, TensorBase) and _is_float(a)
                    and _dtype(b._data) is _dtype(a._data)):
                return apply2(cls, a, b)
        elif n == 3 and cls._kernel is not None:
            a = args[0]
            b = args[1]
            c = args[2]
            if (isinstance(a, TensorBase) and isinstance(b, TensorBase) and _is_float(a)
                    and _dtype(b._data) is _dtype(a._data)
                    and (c is None or isinstance(c, TensorBase) and _dtype(c._data) is _dtype(a._data))):
                return apply3(cls, a, b, c)
    return function_apply(cls, args, kwargs)


# --------------------------------------------------------------------------- fast paths
# function_apply handles every case (user Functions, kwargs, many outputs, forward AD,
# anomaly mode). Most calls are a built-in op on one or two float tensors of one dtype:
# these run here, with the same node layout and far less work (issue 6, benchmarks/NOTES.md).
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_F16 = np.dtype(np.float16)
_BF16 = np.dtype(ml_dtypes.bfloat16)  # NumPy kind 'V': _inexact says it is floating
_binops = [None, None, None, None]  # Add, Sub, Mul, Div: registered by the op layer
_pow_ops = [None, None, None]  # fastgrad.pow, Square, rpow: registered by the op layer
_sum_ops = [None, None]  # the op layer's sum, SumAll: registered by the op layer


_scratch = [None]  # the ctx handed to a built-in forward that records nothing (set below);
# so apply1/apply2 serve ops whose forward keeps state only through save_for_backward
# (the arithmetic ops and the unary float ops of _ops/elementwise.py), not ops that set
# their own ctx attributes, which would stay alive on the shared ctx


# What the forward of an op declared by its kernel saves for backward (Op._saves: a tuple
# of these, in the order backward reads ctx.saved_tensors); the *_IF_* entries save None
# when the other input needs no gradient (x * 3 keeps only the 3).
SAVE_IN0 = 0
SAVE_IN1 = 1
SAVE_OUT = 2
SAVE_IN0_IF_GRAD1 = 3
SAVE_IN1_IF_GRAD0 = 4


def kernel_forward(ctx, args):
    """The forward of an op declared by fn._kernel and fn._saves (Op.forward's default)."""
    fn = ctx._fn
    u = fn._kernel
    if u is None:
        raise NotImplementedError("%s defines neither forward nor _kernel" % fn.__name__)
    if len(args) == 1:
        raw = u(args[0]._data)
        b = None
    elif len(args) == 2:
        raw = u(args[0]._data, args[1]._data)
        b = args[1]
    else:  # a third, optional tensor (apply3)
        c = args[2]
        raw = u(args[0]._data, args[1]._data, None if c is None else c._data)
        b = args[1]
    if ctx.needs_input_grad is not None:
        _declared_saves(ctx, fn._saves, args[0], b, raw)
    return raw


def _declared_saves(ctx, saves, a, b, raw):
    """ctx.save_for_backward as fn._saves declares (codes SAVE_* above): function_apply's
    route (kernel_forward); apply1/2/3 save directly (_save_declared)."""
    n = len(saves)
    if n == 0:
        return
    items = []
    for i in range(n):
        t = _declared_input(ctx, saves[i], a, b)
        items.append(raw if t is _OUT else t)
    ctx._to_save = tuple(items)


_OUT = object()  # _declared_input's answer for SAVE_OUT


def _declared_input(ctx, code, a, b):
    """The input tensor (or None) save code `code` names, or _OUT for the output."""
    if code == SAVE_IN0:
        return a
    if code == SAVE_IN1:
        return b
    if code == SAVE_OUT:
        return _OUT
    if code == SAVE_IN0_IF_GRAD1:
        return a if ctx.needs_input_grad[1] else None
    if code == SAVE_IN1_IF_GRAD0:
        return b if ctx.needs_input_grad[0] else None
    raise ValueError("unknown save code %r in %s._saves" % (code, ctx._fn.__name__))


def _save_declared(ctx, saves, a, b, out):
    """_save for the saves fn._saves declares, made at once on the fast paths: the input
    tensors with their versions, the output as a SavedOutput (never its tensor: a cycle).
    One or two saves (every op so far) make their tuples directly; versions all 0 (tensors
    never changed in place, the common case) are kept as None."""
    n = len(saves)
    if n == 1:
        s0 = _declared_item(ctx, saves[0], a, b, out)
        ctx._saved = (s0,)
        v0 = _version_of(s0)
        ctx._saved_versions = None if v0 == 0 else (v0,)
    elif n == 2:
        s0 = _declared_item(ctx, saves[0], a, b, out)
        s1 = _declared_item(ctx, saves[1], a, b, out)
        ctx._saved = (s0, s1)
        v0 = _version_of(s0)
        v1 = _version_of(s1)
        ctx._saved_versions = None if v0 == 0 and v1 == 0 else (v0, v1)
    else:
        saved = [_declared_item(ctx, code, a, b, out) for code in saves]
        ctx._saved = tuple(saved)
        ctx._saved_versions = tuple([_version_of(item) for item in saved])


def _declared_item(ctx, code, a, b, out):
    """What save code `code` saves: an input tensor, None, or the output as a SavedOutput."""
    t = _declared_input(ctx, code, a, b)
    return _saved_output(out, 0) if t is _OUT else t


def _version_of(item):
    """The version a saved item is checked against: an input tensor's at save time (a
    SavedOutput keeps its own; None has none)."""
    if isinstance(item, TensorBase):
        t = item
        return t._vc.value
    return 0


def apply1(fn, x):
    """fn.apply(x) for a built-in op with one tensor argument (its _kernel, when the op has
    one, is its forward as one call on x's array: made here, with its _saves, no Python frame)."""
    st = state()
    if st.fw_level > 0 or st.anomaly:
        return function_apply(fn, (x,), None)
    info = fn._info
    u = info.kernel
    if x._base is not None and st.grad_enabled:
        view_fresh(x)
    if not (st.grad_enabled and x._requires_grad):
        if u is not None:
            return make_tensor(u(x._data))
        return make_tensor(_unrecorded(fn.forward(_scratch[0], x)))
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    ctx.needs_input_grad = (True,)
    raw = u(x._data) if u is not None else fn.forward(ctx, x)  # forward may return a NumPy
    # scalar (0-d): save_for_backward got that object
    out = make_tensor(raw)
    ctx.next_functions = (grad_edge(x),)
    _record_out(ctx, raw, out, x, None)
    if u is not None and len(info.saves):
        _save_declared(ctx, info.saves, x, None, out)
    return out


_NEEDS = (((False, False), (False, True)), ((True, False), (True, True)))  # [a needs][b needs]


def apply2(fn, a, b):
    """fn.apply(a, b) for a built-in op with two tensor arguments of one dtype."""
    st = state()
    if st.fw_level > 0 or st.anomaly:
        return function_apply(fn, (a, b), None)
    info = fn._info
    u = info.kernel
    if (a._base is not None or b._base is not None) and st.grad_enabled:
        view_fresh(a)
        view_fresh(b)
    if not (st.grad_enabled and (a._requires_grad or b._requires_grad)):
        if u is not None:
            return make_tensor(u(a._data, b._data))
        return make_tensor(_unrecorded(fn.forward(_scratch[0], a, b)))
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    ctx.needs_input_grad = _NEEDS[a._requires_grad][b._requires_grad]
    raw = u(a._data, b._data) if u is not None else fn.forward(ctx, a, b)  # (as in apply1)
    out = make_tensor(raw)
    ctx.next_functions = (grad_edge(a), grad_edge(b))
    _record_out(ctx, raw, out, a, b)
    if u is not None and len(info.saves):
        _save_declared(ctx, info.saves, a, b, out)
    return out


def apply3(fn, a, b, c):
    """fn.apply(a, b, c) for an op declared by its kernel whose third argument is an
    optional tensor (None: not given), as linear's bias; a, b and c of one float dtype."""
    st = state()
    if st.fw_level > 0 or st.anomaly:
        return function_apply(fn, (a, b, c), None)
    info = fn._info
    u = info.kernel
    cd = None if c is None else c._data
    if st.grad_enabled:
        view_fresh(a)
        view_fresh(b)
        if c is not None:
            view_fresh(c)
    gc = c is not None and c._requires_grad
    if not (st.grad_enabled and (a._requires_grad or b._requires_grad or gc)):
        return make_tensor(u(a._data, b._data, cd))
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    ctx.needs_input_grad = (a._requires_grad, b._requires_grad, gc)
    raw = u(a._data, b._data, cd)
    out = make_tensor(raw)
    ctx.next_functions = (grad_edge(a), grad_edge(b), (None, 0) if c is None else grad_edge(c))
    _record_out(ctx, raw, out, a, b)
    if len(info.saves):
        _save_declared(ctx, info.saves, a, b, out)
    ctx._in_meta = ctx._in_meta + (None if c is None else (cd.shape, cd.dtype),)
    return out


def _unrecorded(raw):
    """A forward that records nothing got the shared scratch ctx (needs_input_grad None, so
    it saves nothing); drop anything it saved anyway, so no tensor stays alive there."""
    ctx = _scratch[0]
    ctx._to_save = None
    return raw


def _record_out(ctx, raw, out, a, b):
    """_record's second half for an op with one float output (raw: what forward returned)
    and tensor inputs a and b (None for a unary op); node_meta shares the output's
    (shape, dtype) pair with inputs like it, the common elementwise case."""
    metas = node_meta(out._data, a._data, None if b is None else b._data)
    ctx._out_meta = metas[0]
    ctx._in_meta = metas[1]
    ctx._n_out = 1
    out._grad_fn = ctx
    out._output_nr = 0
    out._requires_grad = True
    if ctx._to_save is not None:
        _save(ctx, (raw,), [out])


def sum(input, dim=None, keepdim=False, *, dtype=None, **kwargs):  # noqa: A001
    """fastgrad.sum and Tensor.sum (compiled): the sum of all the elements of a float32 or
    float64 tensor goes straight to SumAll's fast path; anything else to the op layer's sum."""
    if (dim is None and not keepdim and dtype is None and not kwargs
            and isinstance(input, TensorBase) and _is_float(input)):
        return apply1(_sum_ops[1], input)
    return _sum_ops[0](input, dim, keepdim, dtype=dtype, **kwargs)


def _is_float(x):
    dt = _dtype(x._data)
    return dt is _F32 or dt is _F64


def unary(fn, x):
    """A float unary op's entry: float tensors go the fast way, anything else to fn._general."""
    if isinstance(x, TensorBase) and _is_float(x):
        return apply1(fn, x)
    return fn._general(x)


_SIGNATURE_INPUT = inspect.Signature([inspect.Parameter("input", inspect.Parameter.POSITIONAL_OR_KEYWORD)])


class UnaryFunction:
    """fastgrad.sin, exp, ... and the Tensor methods of the same names: a float unary op as
    a function object whose call is unary(op, input), without a Python frame (issue 6). A
    non-data descriptor, so as a Tensor class attribute it binds as a function does
    (t.sin() is sin(t)); pickled by name, as functions are."""

    def __init__(self, op, name, doc):
        self.op = op
        self.__name__ = name
        self.__qualname__ = name
        self.__doc__ = doc
        self.__module__ = "fastgrad"
        self.__signature__ = _SIGNATURE_INPUT  # inspect.signature(fastgrad.sin): (input)

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and not kwargs:
            return unary(self.op, args[0])
        if not args and len(kwargs) == 1 and "input" in kwargs:
            return unary(self.op, kwargs["input"])
        if len(args) + len(kwargs) == 1:
            raise TypeError("%s() got an unexpected keyword argument '%s'" % (self.__name__, list(kwargs)[0]))
        raise TypeError("%s() takes 1 positional argument but %d were given"
                        % (self.__name__, len(args) + len(kwargs)))

    def __get__(self, obj, owner):
        if obj is None:
            return self
        return _MethodType(self, obj)

    def __repr__(self):
        return "<function %s>" % self.__name__

    def __reduce__(self):
        return self.__name__


def binary(fn, a, b):
    """+ - * / on a float tensor and a tensor of the same dtype or a Python number; anything
    else (promotion, broadcasting errors, other types) goes to fn._general."""
    if isinstance(a, TensorBase):
        dt = _dtype(a._data)
        if dt is _F32 or dt is _F64:
            if isinstance(b, TensorBase):
                if _dtype(b._data) is dt:
                    try:
                        return apply2(fn, a, b)
                    except ValueError:  # NumPy's broadcasting error: say it PyTorch's way
                        return fn._general(a, b)
            elif type(b) is float or type(b) is int:
                return apply2(fn, a, make_tensor(np.asarray(b, dt)))
    elif isinstance(b, TensorBase) and (type(a) is float or type(a) is int) and _is_float(b):
        return apply2(fn, make_tensor(np.asarray(a, b._data.dtype)), b)
    return fn._general(a, b)


def _is_input(o, args):
    for a in args:
        if a is o:
            return True
    return False


def _in(o, seq):
    if seq is None:
        return False
    for a in seq:
        if a is o:
            return True
    return False


def _record(ctx, args, raw, outs):
    edges = []
    in_meta = []
    for a in args:
        if isinstance(a, TensorBase):
            edges.append(grad_edge(a))
            in_meta.append((a._data.shape, a._data.dtype))
        else:
            edges.append((None, 0))
            in_meta.append(None)
    ctx.next_functions = tuple(edges)
    ctx._in_meta = tuple(in_meta)
    out_meta = []
    for i in range(len(outs)):
        t = outs[i]
        if isinstance(t, TensorBase):
            out_meta.append((t._data.shape, t._data.dtype))
            if _in(t, ctx._non_diff) or not _inexact(_dtype(t._data)):
                continue
            if _in(t, ctx._dirty):
                t._vc.value += 1
            t._grad_fn = ctx
            t._output_nr = i
            t._requires_grad = True
        else:
            out_meta.append(((), np.dtype(np.float32)))
    ctx._out_meta = tuple(out_meta)
    ctx._n_out = len(outs)
    if ctx._to_save is not None:
        _save(ctx, raw, outs)


def _save(ctx, raw, outs):
    """Turn ctx.save_for_backward's request into saved inputs (with their versions) and
    saved outputs (raw arrays: a node must not hold its own output tensor, a cycle)."""
    to_save = ctx._to_save
    saved = []
    versions = []
    for item in to_save:
        idx = _output_index(item, raw, outs)
        if idx >= 0:
            t = outs[idx]
            saved.append(_saved_output(t, idx))
            versions.append(0)
        elif isinstance(item, TensorBase):
            t = item
            saved.append(t)
            versions.append(t._vc.value)
        else:
            saved.append(item)
            versions.append(0)
    ctx._saved = tuple(saved)
    ctx._saved_versions = tuple(versions)
    ctx._to_save = None


def _output_index(item, raw, outs):
    if item is None:
        return -1
    for i in range(len(outs)):
        if raw[i] is item or outs[i] is item:
            if isinstance(outs[i], TensorBase) and outs[i]._grad_fn is not None:
                return i
    return -1


def _forward_ad(fn, ctx, args, outs, record):
    """Forward-mode AD: push the inputs' tangents through fn.jvp onto the outputs' _fw_grad."""
    # jvp(ctx, *tangents): a tensor input gives its tangent or None (a user Function gets zeros,
    # like PyTorch); any other argument is passed as is to a built-in op, as None to a user Function
    builtin = fn._builtin
    tangents = []
    for a in args:
        if isinstance(a, TensorBase):
            tan = a._fw_grad
            if tan is None and not builtin and _inexact(_dtype(a._data)):
                tan = make_tensor(np.zeros(a._data.shape, a._data.dtype))
        else:
            tan = a if builtin else None
        tangents.append(tan)
    saved_fw = None if builtin else getattr(ctx, "_saved_for_forward", None)
    kept = (ctx._saved, ctx._saved_versions)
    if saved_fw is not None:  # ctx.save_for_forward: what jvp sees as ctx.saved_tensors
        ctx._saved = saved_fw
        ctx._saved_versions = tuple([s._vc.value if isinstance(s, TensorBase) else 0 for s in saved_fw])
    elif ctx._saved is None and ctx._to_save is not None:
        _keep_saved(ctx, args, outs)
    st = state()
    st.fw_level -= 1  # tangent arithmetic itself is not dual
    try:
        res = fn.jvp(ctx, *tangents)
    finally:
        st.fw_level += 1
        if saved_fw is not None:
            ctx._saved, ctx._saved_versions = kept
    if not isinstance(res, tuple):
        res = (res,)
    if len(res) != len(outs) and not builtin:
        raise RuntimeError("function %s's jvp returned an incorrect number of forward gradients "
                           "(expected %d, got %d)" % (fn.__name__, len(outs), len(res)))
    for i in range(len(outs)):
        o = outs[i]
        if i >= len(res) or res[i] is None or not isinstance(o, TensorBase):
            continue
        if not _inexact(_dtype(o._data)) or _in(o, ctx._non_diff):
            continue
        tan = res[i]
        if not isinstance(tan, TensorBase):
            raise TypeError("function %s's jvp returned a %s for output %d; expected a Tensor or None"
                            % (fn.__name__, type(tan).__name__, i))
        if tan._data.shape != o._data.shape:
            if not builtin:
                raise RuntimeError(
                    "function %s's jvp returned an invalid tangent for output %d - got %s but expected "
                    "shape %s" % (fn.__name__, i, list(tan._data.shape), list(o._data.shape)))
            tan = tan.expand(o._data.shape).contiguous()
        if tan._data.dtype != o._data.dtype:
            tan = tan.to(_ops["dtype_of"](o._data.dtype))
        o._fw_grad = tan
        state().fw_tensors.append(weakref.ref(o))
    if record:  # saved outputs keep their tangent for a backward run inside this level
        for item in ctx._saved or ():
            if isinstance(item, SavedOutput) and outs[item.idx]._fw_grad is not None:
                item.fw_grad = (state().fw_generation, outs[item.idx]._fw_grad)


def _keep_saved(ctx, args, outs):
    """Saved values for jvp when nothing was recorded for reverse mode."""
    saved = []
    for item in ctx._to_save:
        idx = _output_index_any(item, outs)
        saved.append(outs[idx].detach() if idx >= 0 else item)
    ctx._saved = tuple(saved)
    ctx._saved_versions = tuple([s._vc.value if isinstance(s, TensorBase) else 0 for s in saved])


def _output_index_any(item, outs):
    for i in range(len(outs)):
        if outs[i] is item or (isinstance(outs[i], TensorBase) and outs[i]._data is item):
            return i
    return -1


# --------------------------------------------------------------------------- backward
_ONE32 = np.ones((), np.float32)
_ONE64 = np.ones((), np.float64)


def tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Tensor.backward (compiled, so loss.backward() costs no Python frame). A 0-d float
    tensor that requires grad, with nothing else asked, is seeded here with a new 0-d one
    array (what autograd.backward would check holds); anything else goes to autograd.backward."""
    d = self._data
    if (gradient is None and inputs is None and not create_graph and self._requires_grad
            and d.ndim == 0 and state().fw_level == 0):
        dt = _dtype(d)
        if dt is _F32 or dt is _F64:
            run_backward((self,), ((_ONE32 if dt is _F32 else _ONE64).copy(),), bool(retain_graph),
                         False, None, True)
            return
    _ops["autograd_backward"](self, gradient, retain_graph, create_graph, inputs=inputs)


def run_backward(roots, root_grads, keep_graph, create_graph, inputs=None, accumulate=True):
    """Backpropagate root_grads from roots through the graph.

    Iterative: dependency counts, then a ready stack (no recursion, any depth).
    accumulate=True adds into leaves' .grad (restricted to `inputs` when given);
    accumulate=False (autograd.grad) returns the gradients of `inputs` instead.
    root_grads are tensors, or arrays when no graph of the backward is made (create_graph
    off, no dual level: tensor_backward's seed).
    """
    prev = state().grad_enabled
    state().grad_enabled = bool(create_graph)
    try:
        # inside a dual level, gradients are summed with ops (not in place) so they carry tangents
        return _run_backward(roots, root_grads, keep_graph, bool(create_graph) or state().fw_level > 0,
                             inputs, accumulate)
    finally:
        state().grad_enabled = prev


class _Pending:
    """One node's state during one backward walk (PyTorch's InputBuffer and dependency
    count in one object): the edges still to arrive, and the gradients summed so far with,
    per output, whether the walk owns that array (so it may add into it in place): bit nr
    of `owned` (outputs past the 64th are never owned: summed into new arrays)."""


def _pending(node):
    rec = _Pending.__new__(_Pending)
    rec.node = node
    rec.deps = 0
    rec.buf = None
    rec.owned = 0
    rec.first = 0
    return rec


def _run_backward(roots, root_grads, keep_graph, create_graph, inputs, accumulate):
    # Without create_graph the walk moves arrays, not tensors: a node's array formula
    # (FunctionNode._apply_arrays) takes and returns arrays; anything that needs tensors
    # (hooks, user Functions, ops without one, captured results, leaves) gets them wrapped.
    arrays = not create_graph

    # 1. discover the graph: one _Pending per node, counting the edges into it; the records
    # the edges lead to, node by node (kids[rec.first + j]: edge j's, None for no node)
    pending = {}
    found = []  # in the order found (a list only appended to: no reallocation per node)
    kids = []
    for t in roots:
        node = grad_edge(t)[0]
        if node is not None and node not in pending:
            rec = _pending(node)
            pending[node] = rec
            found.append(rec)
    i = 0
    while i < len(found):
        rec = found[i]
        i += 1
        rec.first = len(kids)
        for edge in rec.node.next_functions:
            nxt = edge[0]
            if nxt is None:
                kids.append(None)
                continue
            nrec = pending.get(nxt)
            if nrec is None:
                nrec = _pending(nxt)
                pending[nxt] = nrec
                found.append(nrec)
            nrec.deps += 1
            kids.append(nrec)

    # 2. what to capture (autograd.grad) or where to accumulate (backward(inputs=...))
    capture = None
    results = None
    only = None
    if inputs is not None:
        results = [None] * len(inputs)
        capture = {}
        for k in range(len(inputs)):
            node, nr = grad_edge(inputs[k])
            if node is not None:
                capture.setdefault(node, []).append((nr, k))
        if accumulate:
            only = set()
            for t in inputs:
                only.add(id(t))
        needed = _needed_nodes(pending, capture)
    else:
        needed = None

    # 3. seed the root gradients
    for i in range(len(roots)):
        node, nr = grad_edge(roots[i])
        if node is None:
            continue
        g = root_grads[i]
        if type(g) is not _ndarray:
            g = g._data if arrays else g
        _buffer_add(pending[node], nr, g, False, create_graph)
    ready = [None] * len(found)  # a stack; each node is pushed once
    top = 0
    for rec in found:
        if rec.deps == 0:
            ready[top] = rec
            top += 1

    # 4. run nodes whose gradients are complete
    anomaly = state().anomaly
    while top > 0:
        top -= 1
        rec = ready[top]
        ready[top] = None
        node = rec.node
        buf = rec.buf
        owned_in = rec.owned
        rec.buf = None  # the walk's last reference: freed as soon as the node has run
        if needed is not None and node not in needed:
            buf = None
        if buf is not None and node._pre_hooks is not None:
            buf = _run_pre_hooks(node, buf, arrays)
            owned_in = 0  # a hook may have kept or returned any of them
        if buf is not None and capture is not None and node in capture:
            for nr, k in capture[node]:
                results[k] = _wrap(buf[nr]) if arrays else buf[nr]
        outs = None
        owned = False  # whether the walk may add into outs' arrays in place
        if buf is not None and _any_not_none(buf):
            if isinstance(node, AccumulateGrad):
                if accumulate:
                    leaf = node._leaf()
                    if leaf is not None and (only is None or id(leaf) in only):
                        _accumulate(leaf, _wrap(buf[0]) if arrays else buf[0], owned_in & 1, create_graph)
            else:
                if arrays and not anomaly and node._post_hooks is None:
                    outs = node._apply_arrays(buf)  # a built-in op's array formula
                    owned = True
                if outs is None:
                    outs = _run_node(node, _wrap_all(buf) if arrays else buf, anomaly)
                    if arrays:
                        outs = _unwrap_all(outs)
                        owned = node._fn._builtin  # a user Function's results may be anything
                if not keep_graph:
                    node._release()
        edges = node.next_functions
        for j in range(len(edges)):
            nrec = kids[rec.first + j]
            if nrec is None:
                continue
            if outs is not None and outs[j] is not None:
                g = outs[j]
                is_fresh = owned and _owns(g, buf, outs, j)
                _buffer_add(nrec, edges[j][1], g, is_fresh, create_graph)
            nrec.deps -= 1
            if nrec.deps == 0:
                ready[top] = nrec
                top += 1
    return results


def _run_node(node, buf, anomaly):
    """A node's backward on tensors, then its post hooks."""
    if anomaly:
        outs = _apply_checked(node, buf)
    else:
        outs = node._apply_grads(buf)
    if node._post_hooks is not None:
        for hook in node._post_hooks:
            r = hook(tuple(outs), tuple(buf))
            if r is not None:
                outs = [_hook_result(x) for x in r]
    return outs


def _wrap(a):
    return None if a is None else make_tensor(a)


def _wrap_all(arrays):
    out = []
    for a in arrays:
        out.append(None if a is None else make_tensor(a))
    return out


def _unwrap_all(tensors):
    out = []
    for t in tensors:
        out.append(None if t is None else t._data)
    return out


def _any_not_none(buf):
    for g in buf:
        if g is not None:
            return True
    return False


def _owns(d, buf, outs, j):
    """True when gradient array d (outs[j]) is a new array nobody else holds, so the walk
    may add into it in place and a leaf may keep it."""
    if _has_base(d):
        return False
    for b in buf:
        if b is d:
            return False
    for k in range(len(outs)):
        if k != j and outs[k] is d:
            return False
    return True


def _buffer_add(rec, nr, g, is_fresh, create_graph):
    """Add gradient g (a tensor with create_graph, else an array) into rec's buffer."""
    buf = rec.buf
    if buf is None:
        buf = [None] * rec.node._n_out
        rec.buf = buf
    bit = _owned_bit(nr)
    cur = buf[nr]
    if cur is None:
        buf[nr] = g
        if is_fresh:
            rec.owned |= bit
    elif create_graph:
        buf[nr] = cur + g
    elif rec.owned & bit and _same_meta(cur, g):
        _acc_add[0](cur, g, cur)  # we own cur: accumulate in place
    else:
        s = cur + g
        buf[nr] = s if type(s) is _ndarray else np.asarray(s)
        rec.owned |= bit


def _owned_bit(nr):
    """Output nr's bit in _Pending.owned (0 past the 64th output: never owned)."""
    return (1 << nr) if nr < 64 else 0


_ACC_LOCK = threading.Lock()  # held around the add into a leaf's .grad: backward runs in
# several threads at once (Hogwild-style, a shared module) lose no update (PyTorch locks its
# AccumulateGrad node); hooks run outside it


def _accumulate(leaf, g, is_fresh, create_graph):
    if leaf._hooks is not None:
        is_fresh = False  # a hook may keep the gradient it saw: .grad must not be that tensor
        for hook in leaf._hooks:
            r = _hook_result(hook(g))
            if r is not None:
                g = r
    if _COMPILED:  # the same lock in C (no Python call)
        _c_acc_acquire()  # noqa: F821  (C functions declared in _engine.pxd)
        try:
            _accumulate_locked(leaf, g, is_fresh, create_graph)
        finally:
            _c_acc_release()  # noqa: F821
    else:
        with _ACC_LOCK:
            _accumulate_locked(leaf, g, is_fresh, create_graph)
    if leaf._post_acc_hooks is not None:
        for hook in leaf._post_acc_hooks:
            hook(leaf)


def _accumulate_locked(leaf, g, is_fresh, create_graph):
    cur = leaf._grad
    if cur is None:
        if create_graph:
            leaf._grad = g
        elif is_fresh and not g._requires_grad:
            leaf._grad = g
        else:
            leaf._grad = make_tensor(np.array(g._data, copy=True))
    elif create_graph or state().grad_enabled or cur._requires_grad:
        leaf._grad = cur + g
    elif cur._data.shape == g._data.shape and cur._data.flags.writeable:
        np.add(cur._data, g._data, out=cur._data, casting="unsafe")
        cur._vc.value += 1
    else:
        leaf._grad = make_tensor(cur._data + g._data)


def _run_pre_hooks(node, buf, arrays):
    """Tensor hooks (per output index) and node pre-hooks; retain_grad's hooks run last
    (PyTorch). They get and return tensors; with arrays, buf holds arrays both ways."""
    buf = _wrap_all(buf) if arrays else list(buf)
    entries = [e for e in node._pre_hooks if not getattr(e[1], "_retains_grad", False)]
    entries += [e for e in node._pre_hooks if getattr(e[1], "_retains_grad", False)]
    for entry in entries:
        idx, fn = entry
        if idx < 0:
            r = fn(tuple(buf))
            if r is not None:
                buf = [_hook_result(x) for x in r]
        elif buf[idx] is not None:
            r = _hook_result(fn(buf[idx]))
            if r is not None:
                buf[idx] = r
    return _unwrap_all(buf) if arrays else buf


def _hook_result(r):
    """What a hook returned, if it is a tensor or None (PyTorch's TypeError otherwise)."""
    if r is None or isinstance(r, TensorBase):
        return r
    raise TypeError("expected Variable, but hook returned '%s.%s'" % (type(r).__module__, type(r).__qualname__))


def _needed_nodes(deps, capture):
    """Nodes from which a captured node is reachable: only those need to run."""
    parents = {}
    for node in deps:
        for edge in node.next_functions:
            if edge[0] is not None:
                parents.setdefault(edge[0], []).append(node)
    needed = set()
    stack = [n for n in capture if n in deps]
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        for p in parents.get(n, ()):
            if p not in needed:
                stack.append(p)
    return needed


def _apply_checked(node, buf):
    """Anomaly mode: name the forward op whose backward produced NaN."""
    outs = node._apply_grads(buf)
    for j in range(len(outs)):
        g = outs[j]
        if g is not None and _inexact(_dtype(g._data)) and np.isnan(g._data).any():
            trace = node._anomaly_trace
            raise RuntimeError(
                "Function '%s' returned nan values in its %dth output.%s" % (
                    node.name(), j, "" if trace is None else
                    "\nTraceback of forward call that caused the error:\n" + trace)
            )
    return outs


class _ScratchCtx(FunctionNode):
    """The ctx of forwards that record nothing (it has a __dict__, like every op's ctx)."""


_scratch[0] = _ScratchCtx()


# --------------------------------------------------------------------------- nn.Module attributes
class ModuleSlot:
    """`module.weight` without Module.__getattr__ (issue 6): nn.Module puts one of these on a
    module's class for each parameter, buffer or submodule name it registers. It is a non-data
    descriptor, so an instance attribute of that name still wins; otherwise it looks the name
    up as Module.__getattr__ does (_parameters, _buffers, _modules), and when the instance has
    none of them it raises AttributeError, so Python falls back to __getattr__ and its message."""

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner):
        if obj is None:
            raise AttributeError("type object '%s' has no attribute '%s'" % (owner.__name__, self.name))
        return _module_attr(self.name, obj.__dict__)


def _module_attr(name, d):
    for key in ("_parameters", "_buffers", "_modules"):
        sub = d.get(key)
        if sub is not None and name in sub:
            return sub[name]
    raise AttributeError(name)


# --------------------------------------------------------------------------- pure-Python build
# Compiled, the C fields of these classes start as None/0; run as Python they need defaults.
if __file__.endswith(".py"):
    for _cls, _fields in (
        (Version, {"value": 0}),
        (TensorBase, {"_data": None, "_grad": None, "_grad_fn": None, "_requires_grad": False,
                      "_vc": None, "_output_nr": 0, "_acc": None, "_hooks": None,
                      "_post_acc_hooks": None, "_fw_grad": None, "_base": None, "_view_ver": 0,
                      "_view_meta": None}),
        (Node, {"next_functions": (), "_n_out": 0, "_pre_hooks": None, "_post_hooks": None}),
        (FunctionNode, {"_fn": None, "_saved": None, "_saved_versions": None, "_in_meta": None,
                        "_out_meta": None, "needs_input_grad": None, "materialize_grads": True,
                        "_released": False, "_to_save": None, "_non_diff": None, "_dirty": None,
                        "_anomaly_trace": None}),
    ):
        for _name, _value in _fields.items():
            setattr(_cls, _name, _value)
