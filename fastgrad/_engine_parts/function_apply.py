# fastgrad._engine, part 4 of 7 (after nodes.py): Function.apply's general path (function_apply), half
# precision, apply_op. The parts in this folder run in one namespace, in fastgrad._engine._PARTS' order:
# fastgrad/_engine.py executes them as Python, setup.py compiles them as one Cython module (with
# fastgrad/_engine.pxd). Names from earlier parts are used without an import.

import os
import traceback

import numpy as np


# --------------------------------------------------------------------------- capture
# fastgrad.compile records the ops of a call (fastgrad/_compile): while a hook is set, every
# op application reaches it first as hook(kind, fn, args, kwargs) (kind 0: function_apply,
# 1-3: apply1-apply3), which runs the op itself through run_traced. None: no cost but a test.
_trace_hook = None


def set_trace_hook(hook):
    """Set (or clear, None) the op-recording hook; returns the previous one."""
    global _trace_hook
    prev = _trace_hook
    _trace_hook = hook
    return prev


def run_traced(kind, fn, args, kwargs):
    """Run one op application as it would have run without the hook (the hook is cleared
    meanwhile, so the ops the op itself calls are not seen)."""
    global _trace_hook
    prev = _trace_hook
    _trace_hook = None
    try:
        if kind == 1:
            return apply1(fn, args[0])
        if kind == 2:
            return apply2(fn, args[0], args[1])
        if kind == 3:
            return apply3(fn, args[0], args[1], args[2])
        return function_apply(fn, args, kwargs)
    finally:
        _trace_hook = prev


# --------------------------------------------------------------------------- Function.apply
# torch.profiler: while a profile records, each op call (apply1/2/3, function_apply) goes
# through _PROFILER.run(fn, the apply function, its arguments, the op's inputs), which times it
# (active_fn: the op being timed, so its own re-entry is not recorded twice).
_PROFILER = None


def set_profiler(recorder):
    global _PROFILER
    _PROFILER = recorder


def function_apply(fn, args, kwargs):
    """Run fn.forward and, when grad mode is on and an input requires grad, record a node.

    Built-in ops (fn._builtin) take tensors and return ndarrays, which are wrapped here;
    user Functions return tensors and run their forward with grad mode off.
    """
    if _PROFILER is not None and _PROFILER.active_fn is not fn:
        return _PROFILER.run(fn, function_apply, (fn, args, kwargs), args)
    if _trace_hook is not None:
        return _trace_hook(0, fn, args, kwargs)
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
        tok = _quiet_set(_NP_QUIET)  # (NumPy's floating-point errors ignored: fastgrad/_quiet.py)
        try:
            out = fn.forward(ctx, *args, **kwargs) if kwargs else fn.forward(ctx, *args)
        finally:
            _quiet_reset(tok)
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
    tok = _quiet_set(_NP_QUIET)  # (the rounding to half overflows to inf silently, as PyTorch's)
    try:
        out = function_apply(fn, up, kwargs)
        if half is _F32:
            return out
        if isinstance(out, tuple):
            return tuple([_narrow(o, half, cast, fn) for o in out])
        return _narrow(out, half, cast, fn)
    finally:
        _quiet_reset(tok)
        st.half = prev


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
