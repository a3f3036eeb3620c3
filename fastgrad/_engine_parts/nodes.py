# fastgrad._engine, part 3 of 7 (after tensors.py): Node, AccumulateGrad, SavedOutput, FunctionNode (the ctx
# and backward node of an op), OpInfo. The parts in this folder run in one namespace, in
# fastgrad._engine._PARTS' order: fastgrad/_engine.py executes them as Python, setup.py compiles them as one
# Cython module (with fastgrad/_engine.pxd). Names from earlier parts are used without an import.

import weakref

import numpy as np


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


# saved_tensors_hooks (torch.autograd.graph): the (pack, unpack) pairs in force, innermost last
# (process-wide). While one is, each tensor an op saves for backward is stored as what pack
# returned (a PackedSaved) and read back through unpack.
_SAVED_HOOKS = []


def push_saved_tensors_hooks(pack_hook, unpack_hook):
    _SAVED_HOOKS.append((pack_hook, unpack_hook))


def pop_saved_tensors_hooks():
    _SAVED_HOOKS.pop()


class PackedSaved:
    """A saved tensor as the pack hook returned it, with the unpack hook to read it back."""

    def __init__(self, packed, unpack, out_idx, grad_fn, output_nr):
        self.packed = packed
        self.unpack = unpack
        self.out_idx = out_idx  # >= 0: output out_idx of the node that saved it
        self.grad_fn = grad_fn  # an input's grad_fn at save time (given back to a fresh unpacked tensor)
        self.output_nr = output_nr


def _pack_saved(ctx):
    """Run the innermost pack hook on each tensor ctx saved (inputs as they are, outputs as the
    output tensor), keeping what it returns. The hook runs with grad mode off (as torch's): an op in
    it (t * 1, t.to(...)) on the output, whose grad_fn is ctx, would otherwise be a node holding ctx,
    kept by ctx itself -- a reference cycle."""
    pack, unpack = _SAVED_HOOKS[len(_SAVED_HOOKS) - 1]
    saved = list(ctx._saved)
    st = state()
    prev = st.grad_enabled
    st.grad_enabled = False
    try:
        for i in range(len(saved)):
            item = saved[i]
            if isinstance(item, TensorBase):
                t = item
                saved[i] = PackedSaved(pack(t), unpack, -1, t._grad_fn, t._output_nr)
            elif isinstance(item, SavedOutput):
                so = item
                t = make_tensor(so.data, True)
                t._vc = so.vc
                t._grad_fn = ctx
                t._output_nr = so.idx
                saved[i] = PackedSaved(pack(t), unpack, so.idx, None, 0)
                # t holds ctx only while the hook runs: kept by what the hook returned (t itself, as
                # an identity pack or save_on_cpu's (device, t.cpu()) do), it would make the cycle
                # ctx -> packed -> t -> ctx, and a graph dropped without backward would wait for the
                # cyclic GC. _unpack_saved gives the unpacked tensor this node again.
                t._grad_fn = None
    finally:
        st.grad_enabled = prev
    ctx._saved = tuple(saved)


def _unpack_saved(node, p, arrays):
    t = p.unpack(p.packed)
    if not isinstance(t, TensorBase):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of type %s"
                        % type(t).__name__)
    if arrays:
        return t._data
    if p.out_idx >= 0 and t._grad_fn is not node:
        r = make_tensor(t._data, True)
        r._vc = t._vc
        r._grad_fn = node
        r._output_nr = p.out_idx
        return r
    if p.grad_fn is not None and t._grad_fn is None:
        r = make_tensor(t._data, True)
        r._vc = t._vc
        r._grad_fn = p.grad_fn
        r._output_nr = p.output_nr
        return r
    return t


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
        if isinstance(item, PackedSaved):
            return _unpack_saved(self, item, arrays)
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
        # twin of FunctionNode._apply_arrays: tensors vs arrays, apart on the hot path
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
        # twin of FunctionNode._apply_grads: tensors vs arrays, apart on the hot path
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
    info.quiet = _is_quiet_kernel(info.kernel)
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


_quiet_kernels = []  # the backend's kernels that never warn (fastgrad._C.QUIET_KERNELS): set_quiet_kernels


def set_quiet_kernels(kernels):
    """Declare the kernels that raise no NumPy warning (called by fastgrad._backend before any op
    class is made): an op whose _kernel is one of them runs without NumPy's error state set."""
    _quiet_kernels[:] = list(kernels)


def _is_quiet_kernel(kernel):
    if kernel is None:
        return False
    for k in _quiet_kernels:
        if k is kernel:
            return True
    return False


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
