"""fastgrad.compile: torch.compile's interface over capture and replay (issue 19).

The first call of a compiled function (or module) with given guards runs eagerly while
fastgrad/_compile/_record.py and _watch.py record it; later calls with the same guards run the
recorded program (fastgrad/_compile/_codegen.py): kernel ops as direct kernel calls on arrays,
the backward as the tape's own array formulas in the tape's order, the optimizer's update and
zero_grad as the calls eager made. Where every step is one it knows, the program is instead a
compiled loop (fastgrad/_compile/_flat.py, csrc/replay.pxi) over arrays allocated once, which
runs the Python replay for a call its checks refuse. Results equal eager's bit for bit.

Guards: grad mode; each input tensor's shape, dtype, strides, requires_grad and whether it has
a history; the other arguments' values (numbers, strings, None) or identity; the tensors from
outside the call (parameters, buffers: identity, shape, dtype, requires_grad); the training
flag and parameters of each module called. A failed guard records again (up to
recompile_limit programs per function, 8 as torch's default; then eager). A call that cannot be
recorded (see _record.py) runs eagerly from then on with one warning naming the reason, or
raises with fullgraph=True.
"""
import builtins
import warnings

from fastgrad._backend import engine
from fastgrad._compile._record import LIVE, Recorder, Unsupported, reachable_tensors
from fastgrad._compile._watch import watching
from fastgrad._compile._codegen import generate
from fastgrad._compile._flat import flatten
from fastgrad._compile._graph import plan_backward
TensorBase = engine.TensorBase
_state = engine.state

__all__ = ["compile", "OptimizedModule", "Unsupported"]

_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_EAGER = object()
_recording = []  # the recordings under way (one at most: a compiled call inside runs eagerly)
_SCALARS = (int, float, bool, str, type(None), complex)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,  # noqa: A001
            name=None, disable=False, recompile_limit=None, isolate_recompiles=False, shapes_spec=None,
            **unknown):
    """torch.compile's signature. Returns a function that records its first call and replays
    it (a module: an OptimizedModule around it, as torch's). backend, mode and options select
    nothing here (there is one way to compile): settings torch would pass on to its backend
    are accepted and ignored with one warning."""
    if model is None:
        def wrap(m):
            if m is None:
                raise RuntimeError("Model can't be None")
            return compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, name=name, disable=disable, recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec, **unknown)
        return wrap
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError("Unrecognized mode=%s, should be one of: %s" % (mode, ", ".join(_MODES)))
    if not callable(model):
        raise RuntimeError("compile: expected a function or an nn.Module, got %s" % type(model).__name__)
    ignored = ["%s=%r" % kv for kv in sorted(unknown.items())]
    if options:
        ignored.append("options=%r" % (options,))
    if backend not in ("inductor", "eager", "aot_eager", "fastgrad", None):
        ignored.append("backend=%r" % (backend,))
    if mode not in (None, "default"):
        ignored.append("mode=%r" % mode)
    if dynamic:
        ignored.append("dynamic=True (each new shape is recorded on its own)")
    if shapes_spec is not None:
        ignored.append("shapes_spec")
    if ignored:
        warnings.warn("fastgrad.compile ignores %s" % ", ".join(ignored), UserWarning, stacklevel=2)
    if disable:
        return model
    from fastgrad.nn.modules.module import Module
    compiled = _Compiled(model, fullgraph, 8 if recompile_limit is None else int(recompile_limit))
    if isinstance(model, Module):
        return OptimizedModule(model, compiled)
    import functools
    functools.update_wrapper(compiled, model, updated=())
    return compiled


class _Compiled:
    """The compiled callable: a small cache of programs keyed by the guards."""

    def __init__(self, fn, fullgraph, limit):
        self._fn = fn
        self._fullgraph = fullgraph
        self._limit = limit
        self._cache = {}
        self._warned = set()
        self._torchdynamo_orig_callable = fn

    def __call__(self, *args, **kwargs):
        if _recording:  # inside another compiled call's recording: its ops are that call's
            return self._fn(*args, **kwargs)
        inputs = []
        st = _state()
        key = [st.grad_enabled]
        if args:
            _key(args, key, inputs)
        if kwargs:
            _key(kwargs, key, inputs)
        if len(inputs) > 1 and len({id(t) for t in inputs}) != len(inputs):  # one tensor passed twice
            key.append(tuple([next(j for j, u in enumerate(inputs) if u is t) for t in inputs]))
        key = tuple(key)
        prog = self._cache.get(key)
        if prog is not None and prog is not _EAGER and not st.anomaly and not st.fw_level and prog.guards_hold():
            return prog(inputs)
        return self._slow(key, prog, st, inputs, args, kwargs)

    def _slow(self, key, prog, st, inputs, args, kwargs):
        if prog is _EAGER:
            return self._fn(*args, **kwargs)
        if st.anomaly or st.fw_level > 0:
            self._fallback("anomaly mode" if st.anomaly else "forward-mode AD (a dual level)")
            return self._fn(*args, **kwargs)
        if prog is not None:  # a guard failed: record again
            del self._cache[key]
        if len(self._cache) >= self._limit:
            self._fallback("recompile_limit (%d) reached" % self._limit)
            return self._fn(*args, **kwargs)
        return self._record(key, inputs, args, kwargs)

    def _record(self, key, inputs, args, kwargs):
        rec = Recorder(inputs)
        rec.fullgraph = self._fullgraph
        rec.modules = {}
        rec.outside = None
        known = reachable_tensors(self._fn, inputs)
        rec.optimizers = known.pop(None)
        rec.watch(known.values())
        _recording.append(rec)
        try:
            with watching(rec):
                result = self._fn(*args, **kwargs)
        finally:
            _recording.pop()
        if rec.failed is None:
            rec.check_unchanged()
        if rec.failed is None:
            _check_made_outside(rec, known)
        if rec.failed is None:
            _check_result(rec, result)
        if rec.failed is not None:
            self._cache[key] = _EAGER
            self._fallback(rec.failed)
            return result
        prog = generate(rec, result)
        flat = flatten(rec, result, prog)  # the compiled loop, where it expresses the call
        if flat is not None:
            flat.set_guards(*_guard_data(rec))
            flat.guards_hold = flat.check_guards
            prog = flat
        else:
            prog.guards_hold = _guards(rec)
        self._cache[key] = prog
        return result

    def _fallback(self, reason):
        if self._fullgraph:
            raise Unsupported("fastgrad.compile(fullgraph=True): cannot capture %s: %s"
                              % (getattr(self._fn, "__name__", type(self._fn).__name__), reason))
        if reason not in self._warned:
            self._warned.add(reason)
            warnings.warn("fastgrad.compile: running %s eagerly: %s"
                          % (getattr(self._fn, "__qualname__", type(self._fn).__name__), reason),
                          UserWarning, stacklevel=3)


def _key(v, key, inputs):
    """Append v's guard items to key, its tensors to inputs (in order)."""
    if isinstance(v, TensorBase):
        d = v._data
        key.append((d.shape, d.dtype, d.strides, v._requires_grad, v._grad_fn is not None))
        inputs.append(v)
    elif type(v) in _SCALARS:
        key.append((type(v), v))
    elif type(v) is tuple or type(v) is list:
        key.append((type(v), len(v)))
        for x in v:
            _key(x, key, inputs)
    elif type(v) is dict:
        key.append((dict, tuple(v)))
        for x in v.values():
            _key(x, key, inputs)
    else:
        key.append(("id", id(v)))


def _check_result(rec, result):
    """Outputs that require grad, for a backward after the call (a compiled module's forward):
    the plan of that backward is laid out now, from the graph eager made (rec.outside)."""
    roots = []
    todo = [result]
    while todo:
        v = todo.pop(0)
        if isinstance(v, TensorBase):
            s = rec.slot_of.get(id(v))
            if v._grad_fn is not None and s is not None and rec.tensor_of[s] is v and s not in roots:
                roots.append(s)
        elif type(v) in (tuple, list):
            todo.extend(v)
        elif type(v) is dict:
            todo.extend(v.values())
    if not roots:
        return
    if any(getattr(s, "what", None) == "backward" for s in rec.steps):
        return  # a training step's loss, its graph walked in the call: returned as plain tensors
    nodes = [rec.tensor_of[s]._grad_fn for s in roots]
    try:
        plan = plan_backward(rec, nodes, [rec.tensor_of[s]._output_nr for s in roots])
    except Unsupported as e:
        return rec.fail(str(e))
    for p in plan[2]:
        if p.leaf is not None and not p.leaf.requires_grad:
            return rec.fail("a leaf of the graph that does not require grad")
    rec.outside = (roots, plan)


def _check_made_outside(rec, known):
    """A tensor an op read, neither reachable before the call nor an op's result, made during
    the call by Python code on arrays (F.one_hot, a creation function, NumPy): a replay would
    keep its first values. A 0-d one is a number made a tensor (x * 2.0): a constant."""
    for src in rec.slots:
        if src[0] == LIVE and id(src[1]) not in known and src[1]._data.ndim:
            t = src[1]
            rec.fail("a tensor of shape %s made during the call outside any op (a creation function, F.one_hot, "
                     "NumPy code): its values would be frozen" % (tuple(t._data.shape),))
            return


def _guard_data(rec):
    """_guards' checks as data (the compiled loop checks them in C): the tensors from outside
    the call [(tensor, shape, dtype, requires_grad)], the modules called [(module __dict__,
    training, ((name, parameter), ...))]."""
    live = []
    for src in rec.slots:
        if src[0] == LIVE:
            t = src[1]
            live.append((t, t._data.shape, t._data.dtype, bool(t._requires_grad)))
    mods = [(m.__dict__, bool(m.training), tuple(m._parameters.items())) for m in rec.modules.values()]
    return live, mods


def _guards(rec):
    """The checks beyond the key, as one generated function: the tensors from outside the call
    as recorded (shape, dtype, requires_grad), the modules called as they were (training flag,
    no forward hooks, the same parameter objects)."""
    ns, lines = {}, []

    def const(obj):
        name = "c%d" % len(ns)
        ns[name] = obj
        return name
    for src in rec.slots:
        if src[0] == LIVE:
            t = src[1]
            d = t._data
            lines.append("d = %s._data" % const(t))
            lines.append("if d.shape != %r or d.dtype != %s or %s._requires_grad is not %s: return False"
                         % (d.shape, const(d.dtype), const(t), bool(t._requires_grad)))
    for m in rec.modules.values():
        md = const(m.__dict__)
        lines.append("if %s['training'] is not %s or %s['_forward_hooks'] or %s['_forward_pre_hooks']: return False"
                     % (md, bool(m.training), md, md))
        params = m._parameters
        lines.append("p = %s['_parameters']" % md)
        lines.append("if len(p) != %d: return False" % len(params))
        for k, v in params.items():
            lines.append("if p.get(%r) is not %s: return False" % (k, const(v)))
    src = "def hold():\n" + "".join("    %s\n" % ln for ln in lines) + "    return True\n"
    exec(builtins.compile(src, "<fastgrad.compile guards>", "exec"), ns)  # noqa: S102  (our own source)
    return ns["hold"]


from fastgrad._compile._module import OptimizedModule  # noqa: E402
