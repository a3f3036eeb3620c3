# fastgrad._engine, part 6 of 7 (after fast_paths.py): The backward walk: run_backward, gradient buffers,
# accumulation into leaves, hooks, anomaly checks. The parts in this folder run in one namespace, in
# fastgrad._engine._PARTS' order: fastgrad/_engine.py executes them as Python, setup.py compiles them as one
# Cython module (with fastgrad/_engine.pxd). Names from earlier parts are used without an import.

import threading

import numpy as np


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
    tok = _quiet_set(_NP_QUIET)  # NumPy's floating-point errors ignored in the whole walk (fastgrad/_quiet.py)
    try:
        # inside a dual level, gradients are summed with ops (not in place) so they carry tangents
        return _run_backward(roots, root_grads, keep_graph, bool(create_graph) or state().fw_level > 0,
                             inputs, accumulate)
    finally:
        _quiet_reset(tok)
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
                restore = None
                if needed is not None:  # autograd.grad / backward(inputs=...)
                    restore = _restrict_needs(node, needed)
                try:
                    if arrays and not anomaly and node._post_hooks is None:
                        outs = node._apply_arrays(buf)  # a built-in op's array formula
                        owned = True
                    if outs is None:
                        outs = _run_node(node, _wrap_all(buf) if arrays else buf, anomaly)
                        if arrays:
                            outs = _unwrap_all(outs)
                            owned = node._fn._builtin  # a user Function's results may be anything
                finally:
                    if restore is not None:
                        node.needs_input_grad = restore
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


def _restrict_needs(node, needed):
    """While a built-in op's node runs in a walk for given inputs (autograd.grad, backward(inputs=)),
    its needs_input_grad says only the inputs whose edge leads to a requested one, so the op computes
    no other gradient (PyTorch's task_should_compute_output: igamma's gradient in x alone does not
    raise for the one in a it does not implement). The node's own tuple is returned, to be put back
    after the node has run; None when nothing changes. A user Function's ctx keeps its tuple, the
    inputs that required grad (as in PyTorch)."""
    nig = node.needs_input_grad
    if nig is None or not isinstance(node, FunctionNode) or not node._fn._builtin:
        return None
    edges = node.next_functions
    need = list(nig)
    changed = False
    for j in range(len(need)):
        if need[j] and (j >= len(edges) or edges[j][0] is None or edges[j][0] not in needed):
            need[j] = False
            changed = True
    if not changed:
        return None
    node.needs_input_grad = tuple(need)
    return nig


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
