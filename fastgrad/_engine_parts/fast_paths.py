# fastgrad._engine, part 5 of 7 (after function_apply.py): Apply1/apply2/apply3 and unary/binary: built-in ops
# on float tensors of one dtype; saving and recording outputs; forward AD. The parts in this folder run in one
# namespace, in fastgrad._engine._PARTS' order: fastgrad/_engine.py executes them as Python, setup.py compiles
# them as one Cython module (with fastgrad/_engine.pxd). Names from earlier parts are used without an import.

import inspect
from types import MethodType as _MethodType
import weakref

import ml_dtypes
import numpy as np


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
    if _SAVED_HOOKS:
        _pack_saved(ctx)


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
    if _PROFILER is not None and _PROFILER.active_fn is not fn:
        return _PROFILER.run(fn, apply1, (fn, x), (x,))
    if _trace_hook is not None:
        return _trace_hook(1, fn, (x,), None)
    st = state()
    if st.fw_level > 0 or st.anomaly:
        return function_apply(fn, (x,), None)
    info = fn._info
    u = info.kernel
    if x._base is not None and st.grad_enabled:
        view_fresh(x)
    if not (st.grad_enabled and x._requires_grad):
        if info.quiet:  # (a compiled kernel: no NumPy warning; else NumPy's floating-point errors are
            return make_tensor(u(x._data))  # ignored while the forward runs: _quiet1, fastgrad/_quiet.py)
        return make_tensor(_unrecorded(_quiet1(fn, _scratch[0], u, x)))
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    ctx.needs_input_grad = (True,)
    raw = u(x._data) if info.quiet else _quiet1(fn, ctx, u, x)  # forward may return a NumPy
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
    if _PROFILER is not None and _PROFILER.active_fn is not fn:
        return _PROFILER.run(fn, apply2, (fn, a, b), (a, b,))
    if _trace_hook is not None:
        return _trace_hook(2, fn, (a, b), None)
    st = state()
    if st.fw_level > 0 or st.anomaly:
        return function_apply(fn, (a, b), None)
    info = fn._info
    u = info.kernel
    if (a._base is not None or b._base is not None) and st.grad_enabled:
        view_fresh(a)
        view_fresh(b)
    if not (st.grad_enabled and (a._requires_grad or b._requires_grad)):
        if info.quiet:
            return make_tensor(u(a._data, b._data))
        return make_tensor(_unrecorded(_quiet2(fn, _scratch[0], u, a, b)))
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    ctx.needs_input_grad = _NEEDS[a._requires_grad][b._requires_grad]
    raw = u(a._data, b._data) if info.quiet else _quiet2(fn, ctx, u, a, b)  # (as in apply1)
    out = make_tensor(raw)
    ctx.next_functions = (grad_edge(a), grad_edge(b))
    _record_out(ctx, raw, out, a, b)
    if u is not None and len(info.saves):
        _save_declared(ctx, info.saves, a, b, out)
    return out


def apply3(fn, a, b, c):
    """fn.apply(a, b, c) for an op declared by its kernel whose third argument is an
    optional tensor (None: not given), as linear's bias; a, b and c of one float dtype."""
    if _PROFILER is not None and _PROFILER.active_fn is not fn:
        return _PROFILER.run(fn, apply3, (fn, a, b, c), (a, b, c,))
    if _trace_hook is not None:
        return _trace_hook(3, fn, (a, b, c), None)
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
    raw = u(a._data, b._data, cd) if info.quiet else _quiet3(u, a, b, cd)
    if not (st.grad_enabled and (a._requires_grad or b._requires_grad or gc)):
        return make_tensor(raw)
    ctx = _new(info.backward_cls)
    ctx._fn = fn
    ctx._info = info
    ctx.materialize_grads = True
    ctx.needs_input_grad = (a._requires_grad, b._requires_grad, gc)
    out = make_tensor(raw)
    ctx.next_functions = (grad_edge(a), grad_edge(b), (None, 0) if c is None else grad_edge(c))
    _record_out(ctx, raw, out, a, b)
    if len(info.saves):
        _save_declared(ctx, info.saves, a, b, out)
    ctx._in_meta = ctx._in_meta + (None if c is None else (cd.shape, cd.dtype),)
    return out


# The forwards that may warn, run with NumPy's floating-point errors ignored (fastgrad/_quiet.py): apart
# from apply1/2/3, so that their fast paths stay small (a try/finally inlined there cost ~40 ns an op).
def _quiet1(fn, ctx, u, x):
    tok = _quiet_set(_NP_QUIET)
    try:
        if u is not None:
            return u(x._data)
        return fn.forward(ctx, x)
    finally:
        _quiet_reset(tok)


def _quiet2(fn, ctx, u, a, b):
    tok = _quiet_set(_NP_QUIET)
    try:
        if u is not None:
            return u(a._data, b._data)
        return fn.forward(ctx, a, b)
    finally:
        _quiet_reset(tok)


def _quiet3(u, a, b, cd):
    tok = _quiet_set(_NP_QUIET)
    try:
        return u(a._data, b._data, cd)
    finally:
        _quiet_reset(tok)


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
    if _SAVED_HOOKS:
        _pack_saved(ctx)


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



class _ScratchCtx(FunctionNode):
    """The ctx of forwards that record nothing (it has a __dict__, like every op's ctx)."""


_scratch[0] = _ScratchCtx()
