"""What every op module needs: the Op base class and operand handling."""
import functools

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import K, engine  # noqa: F401  (K re-exported for op modules)
from fastgrad.autograd.function import Function

make = engine.make_tensor
GRAD, SAVED0, SAVED1, IN0_SHAPE = engine.GRAD, engine.SAVED0, engine.SAVED1, engine.IN0_SHAPE
make_view = engine.make_view
TensorBase = engine.TensorBase


class Op(Function):
    """A built-in op: forward(ctx, *tensors) returns ndarray(s) (wrapped by the tape);
    backward(ctx, *grads) returns tensors; gradient shapes are un-broadcast by the tape.
    jvp(ctx, *tangents) gets one argument per forward argument: a tensor's tangent (None
    when it has none) and every non-tensor argument as passed to forward; it returns the
    outputs' tangents (a broadcastable shape is expanded by the tape). In forward-only mode
    ctx.needs_input_grad marks the inputs that carry a tangent, so forward saves what jvp needs."""

    _builtin = True
    _plain = False  # True for ops whose forward takes one or two tensors, returns one float
    # array and keeps state only through save_for_backward: Op.apply on float tensors of one
    # dtype then takes the engine's fast path (engine.apply1/apply2), not function_apply
    _kernel = None  # an op whose forward is one call on its inputs' arrays declares it here
    _saves = ()  # and what it saves for backward (engine.SAVE_* codes), and defines no
    # forward: the engine runs it without a Python frame (engine.apply1/apply2, and apply3
    # for two tensors and an optional third, as linear's bias); such an op is plain

    _array_grads = None  # optionally, backward's formula on arrays, one per input, for an
    # op with one output: an operand (GRAD: the output's gradient; SAVED0, SAVED1: the
    # arrays _saves names; IN0_SHAPE) or a call (kernel, formula[, formula]). Mul's is
    # ((K.mul, GRAD, SAVED1), (K.mul, GRAD, SAVED0)). The tape evaluates them instead of
    # backward when no graph of the backward is wanted (grad mode off, no dual level),
    # without a Python frame, and only for the inputs that need a gradient. backward stays
    # the differentiable definition; a test holds the two equal bit for bit.
    _array_backward = None  # the same as a function, where formulas do not suffice:
    # (ctx, *grad arrays) -> one array or None per input, reading ctx.saved_arrays

    _grad_op = None  # an op whose gradient is another op applied to (its one saved tensor,
    # g) declares that op here (Tanh: TanhBackward) and defines no backward: Op.backward
    # applies it, differentiably; its array formula is that op's _kernel on (SAVED0, GRAD)

    _half_native = False  # True for an op that only moves data (views, indexing, cat, casts):
    # it runs on float16/bfloat16 arrays as they are; any other op gets them in float32 and
    # rounds its outputs (engine._half_apply), as PyTorch's CPU kernels compute half precision

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls._kernel is not None:
            cls._plain = True

    @staticmethod
    def forward(ctx, *tensors):
        """The forward an op declares by _kernel and _saves."""
        return engine.kernel_forward(ctx, tensors)

    @classmethod
    def backward(cls, ctx, *grads):
        """The backward an op declares by _grad_op."""
        if cls._grad_op is None:
            return Function.backward(ctx, *grads)
        return cls._grad_op.apply(ctx.saved_tensors[0], grads[0])


def _tensors_in(items):
    for a in items:
        if isinstance(a, TensorBase):
            yield a
        elif isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, TensorBase):
                    yield b


def _half_of(items):
    """None when no tensor among items (or in a list/tuple there) is float16/bfloat16; else
    that half dtype when every floating tensor is of it, or float32 when they mix dtypes."""
    half = None
    other = False
    for t in _tensors_in(items):
        dt = t._data.dtype
        if dt is _dtype.F16 or dt is _dtype.BF16:
            if half is not None and dt is not half:
                other = True
            half = dt
        elif dt.kind in "fc" or dt is _dtype.BF16:
            other = True
    if half is None:
        return None
    return _dtype.float32 if other else _dtype.from_numpy_dtype(half)


def _widen(a):
    if isinstance(a, TensorBase) and (a._data.dtype is _dtype.F16 or a._data.dtype is _dtype.BF16):
        return a.to(_dtype.float32)
    if isinstance(a, (list, tuple)) and any(isinstance(b, TensorBase) for b in a):
        return type(a)(_widen(b) for b in a)
    return a


def _narrow(o, half):
    if isinstance(o, TensorBase):
        return o.to(half) if o._data.dtype is _dtype.F32 else o
    if isinstance(o, tuple):
        items = [_narrow(b, half) for b in o]
        return type(o)(*items) if hasattr(o, "_fields") else tuple(items)
    if isinstance(o, list):
        return [_narrow(b, half) for b in o]
    return o


def float32_compute(fn):
    """For a function composed of several ops that is one kernel in PyTorch: float16/bfloat16
    tensor arguments are cast to float32 (differentiably), the function runs in float32, and
    its float32 results are rounded once to the half dtype, as PyTorch's kernel computes and
    rounds them (its backward too: the gradient is rounded once, by the cast's backward).
    Other dtypes call fn as it is. Not for in-place functions (the cast is a copy)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if args and isinstance(args[0], TensorBase):
            dt = args[0]._data.dtype
            if dt is _dtype.F32 or dt is _dtype.F64:  # the common case: fn as it is (half
                return fn(*args, **kwargs)  # arguments mixed in: promoted by fn's own rules)
        half = _half_of(args) if not kwargs else _half_of(list(args) + list(kwargs.values()))
        if half is None or half is _dtype.float32:  # mixed dtypes: fn's own checks and promotion
            return fn(*args, **kwargs)
        return _narrow(fn(*[_widen(a) for a in args], **{k: _widen(v) for k, v in kwargs.items()}), half)
    return wrapper


def sum_terms(*terms):
    """The sum of the terms that are not None (None if all are): a gradient or tangent assembled from
    the parts that exist."""
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out


def is_tensor(x):
    return isinstance(x, TensorBase)


def shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def as_tensor_of(x, np_dtype):
    """x (tensor or scalar or array) as a tensor of np_dtype; tensors are cast differentiably."""
    if isinstance(x, TensorBase):
        if x._data.dtype == np_dtype:
            return x
        return x.to(_dtype.from_numpy_dtype(np_dtype))
    if type(x) is int and np.dtype(np_dtype).kind == "u":  # a Python int operand wraps, as torch's C cast
        x = _dtype.unsigned_int(x, np_dtype)
    return make(np.asarray(x, dtype=np_dtype))


def check_broadcast(sa, sb):
    """RuntimeError like PyTorch's when shapes sa and sb do not broadcast."""
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            raise RuntimeError("The size of tensor a (%d) must match the size of tensor b (%d) at "
                               "non-singleton dimension %d" % (sa[-i], sb[-i], max(len(sa), len(sb)) - i))


def binary_operands(a, b):
    """Promote a binary op's operands to their common dtype (PyTorch's rules)."""
    if isinstance(a, TensorBase):
        if isinstance(b, TensorBase):
            if a._data.shape != b._data.shape:
                check_broadcast(a._data.shape, b._data.shape)
            if a._data.dtype == b._data.dtype:
                return a, b
        elif (type(b) is float and (a._data.dtype.kind == "f" or a._data.dtype is _dtype.BF16)
              or type(b) is int and (a._data.dtype.kind in "fc" or a._data.dtype is _dtype.BF16)):
            return a, make(np.asarray(b, a._data.dtype))  # a Python number keeps a float tensor's dtype
    elif isinstance(b, TensorBase):
        if (type(a) is float and (b._data.dtype.kind == "f" or b._data.dtype is _dtype.BF16)
                or type(a) is int and (b._data.dtype.kind in "fc" or b._data.dtype is _dtype.BF16)):
            return make(np.asarray(a, b._data.dtype)), b
    dt = _dtype.result_type(a, b)
    if dt is None:
        raise TypeError("unsupported operand types: %s and %s" % (type(a).__name__, type(b).__name__))
    return as_tensor_of(a, dt), as_tensor_of(b, dt)


def float_operand(x):
    """Integer/bool tensors are promoted to the default float dtype (exp, log, sqrt, ...)."""
    if not isinstance(x, TensorBase):
        x = make(np.asarray(x, dtype=_dtype.result_type(x) if not isinstance(x, (bool, int)) else None))
    if x._data.dtype.kind in "fc" or x._data.dtype is _dtype.BF16:
        return x
    return x.to(_dtype.get_default_dtype())


_SCALAR_TYPE = _dtype._SCALAR_NAMES


def scalar_type_name(np_dtype):
    """PyTorch's name for a dtype in error messages: 'Long', 'Float', ..."""
    return _SCALAR_TYPE.get(np.dtype(np_dtype).name, np.dtype(np_dtype).name)


def check_float(name, x):
    if x._data.dtype.kind not in "fc" and x._data.dtype is not _dtype.BF16:
        raise RuntimeError('"%s" not implemented for \'%s\'' % (name, scalar_type_name(x._data.dtype)))


def norm_dim(dim, ndim, name="dim"):
    """Wrap a possibly negative dim; IndexError like PyTorch when out of range."""
    lo, hi = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError("%s must be an int, got %s" % (name, type(dim).__name__))
    if dim < lo or dim > hi:
        raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got %d)" % (lo, hi, dim))
    return int(dim) % max(ndim, 1)


def norm_dims(dim, ndim):
    """dim as a sorted tuple of non-negative axes (None -> all). A 0-d tensor takes dim 0 and -1
    as torch does, and has no axis to reduce: ()."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted(set(norm_dim(d, ndim) for d in dim)))
        if len(axes) != len(dim):
            raise RuntimeError("dim appears multiple times in the list of dims")
        return axes if ndim else ()
    axis = norm_dim(dim, ndim)
    return (axis,) if ndim else ()


def out_dtype_of_reduction(x, dtype):
    if dtype is not None:
        return _dtype.to_dtype(dtype).np
    if x._data.dtype.kind in "biu":
        return np.dtype(np.int64)
    return x._data.dtype
