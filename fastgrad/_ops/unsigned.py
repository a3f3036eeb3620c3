"""uint16, uint32, uint64: the ops torch 2.13's CPU kernels refuse for them.

torch builds these "barebones" unsigned dtypes into some kernels only: creation and fills, copies
and casts, views and shape ops, indexing by slices, cat/stack, ``==``/``!=``, ``*``, ``&``/``|``/``^``,
sum/prod/cumsum (int64 results), sort, unique, where, and every op that computes in floating point
(exp, sqrt, ``/``, ...). Every other kernel raises ``NotImplementedError: "<kernel>" not implemented
for 'UInt16'``. fastgrad's NumPy code would compute those silently, so the public function
(``fastgrad.<name>``) and the Tensor methods (``Tensor.<name>``, its in-place ``<name>_`` and the
operator) of each op below are wrapped, once, at import (``install``), to raise torch's error
naming torch's kernel when an argument is such a tensor. The kernel names were read off torch 2.13
(tests/test_dtype_unsigned.py calls both and compares). + - * / reach fastgrad.add/sub/... through
the engine's ``_general`` hook for non-float tensors; that hook gets the gated function too.
Float tensors pay one frozenset look-up per wrapped call."""
import functools
import inspect

from fastgrad import _dtype
from fastgrad._backend import engine

_BARE = _dtype.BAREBONES
_TB = engine.TensorBase

# op name -> torch's CPU kernel that refuses uint16/32/64 (function, method, in-place method)
KERNELS = {
    "add": "add_stub", "sub": "add_stub", "subtract": "add_stub", "rsub": "add_stub",
    "floor_divide": "div_floor_cpu", "remainder": "remainder_cpu", "fmod": "fmod_cpu", "pow": "pow",
    "square": "pow", "neg": "neg_cpu", "negative": "neg_cpu", "abs": "abs_cpu", "absolute": "abs_cpu",
    "sign": "sign_cpu", "sgn": "sign_cpu", "frac": "frac_cpu",
    "lt": "lt_cpu", "less": "lt_cpu", "le": "le_cpu", "less_equal": "le_cpu", "gt": "gt_cpu",
    "greater": "gt_cpu", "ge": "ge_cpu", "greater_equal": "ge_cpu",
    "bitwise_not": "bitwise_not_cpu", "bitwise_left_shift": "lshift_cpu", "bitwise_right_shift": "rshift_cpu",
    "logical_and": "logical_and_cpu", "logical_or": "logical_or_cpu", "logical_xor": "logical_xor_cpu",
    "logical_not": "logical_not_cpu",
    "maximum": "maximum_cpu", "minimum": "minimum_cpu", "fmax": "maximum_cpu", "fmin": "minimum_cpu",
    "amax": "max_values_cpu", "amin": "min_values_cpu", "aminmax": "aminmax_cpu",
    "argmax": "argmax_cpu", "argmin": "argmin_cpu", "cummax": "cummax_cpu", "cummin": "cummin_cpu",
    "kthvalue": "kthvalue_cpu", "median": "median_cpu", "nanmedian": "median_cpu", "mode": "mode_cpu",
    "topk": "topk_cpu", "logcumsumexp": "logcumsumexp_out_cpu",
    "count_nonzero": "nonzero_count_cpu", "nonzero": "nonzero_count_cpu", "argwhere": "nonzero_count_cpu",
    "flip": "flip_cpu", "fliplr": "flip_cpu", "flipud": "flip_cpu", "rot90": "flip_cpu",
    "index_select": "index_select", "gather": "scatter_gather_tensor_cpu", "scatter_add": "scatter_gather_tensor_cpu",
    "scatter_reduce": "scatter_gather_tensor_cpu", "masked_fill": "masked_fill", "masked_select": "masked_select",
    "masked_scatter": "masked_scatter", "index_add": "index_add_", "index_fill": "index_fill_cpu",
    "index_copy": "index_copy_cpu", "index_put": "index_put", "take": "take_cpu", "put": "take_put_cpu",
    "tril": "tril", "triu": "triu", "trace": "trace", "bincount": "bincount_cpu", "histc": "aminmax_cpu",
    "histogram": "histogramdd", "searchsorted": "searchsorted_out_cpu", "bucketize": "searchsorted_out_cpu",
    "isin": "isin_default_cpu", "gcd": "gcd_cpu", "lcm": "lcm_cpu", "hypot": "hypot_cpu",
    "logaddexp": "logaddexp_cpu", "heaviside": "heaviside_cpu", "nextafter": "nextafter_cpu",
    "lerp": "lerp_kernel_scalar", "addcmul": "addcmul_cpu_out", "relu": "clamp_min_scalar_cpu",
    "diff": "add_stub", "trapezoid": "add_stub", "trapz": "add_stub", "cumulative_trapezoid": "add_stub",
    "combinations": "masked_select", "uniform": "check_uniform_bounds", "normal": "normal_kernel_cpu",
    "bernoulli": "bernoulli_scalar_cpu_", "dist": "add_stub",
}
# Tensor operators -> their op's kernel (the reflected forms check their tensor, self, too)
OPERATORS = {"__neg__": "neg_cpu", "__abs__": "abs_cpu", "__invert__": "bitwise_not_cpu",
             "__lt__": "lt_cpu", "__le__": "le_cpu", "__gt__": "gt_cpu", "__ge__": "ge_cpu",
             "__mod__": "remainder_cpu", "__rmod__": "remainder_cpu", "__floordiv__": "div_floor_cpu",
             "__rfloordiv__": "div_floor_cpu", "__lshift__": "lshift_cpu", "__rlshift__": "lshift_cpu",
             "__rshift__": "rshift_cpu", "__rrshift__": "rshift_cpu", "__ilshift__": "lshift_cpu",
             "__irshift__": "rshift_cpu", "__ipow__": "pow", "__iadd__": "add_stub",
             "__isub__": "add_stub", "__imod__": "remainder_cpu", "__ifloordiv__": "div_floor_cpu"}


def refuse(kernel, x):
    """torch's NotImplementedError when x is a uint16/32/64 tensor."""
    if isinstance(x, _TB) and x._data.dtype in _BARE:
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(x._data.dtype)))


def gate(fn, kernel):
    """fn, raising torch's error first when one of its first two arguments is a uint16/32/64 tensor."""
    if getattr(fn, "_unsigned_gate", None) is not None:
        return fn

    @functools.wraps(fn)
    def gated(*args, **kwargs):
        for a in args[:2]:
            if isinstance(a, _TB) and a._data.dtype in _BARE:
                raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(a._data.dtype)))
        return fn(*args, **kwargs)

    gated._unsigned_gate = kernel
    return gated


# ops that compute in their operands' promoted dtype: uint16 < float32 runs (in float32)
BINARY = frozenset(("add", "sub", "subtract", "rsub", "floor_divide", "remainder", "fmod", "pow", "lt", "less", "le",
                    "less_equal", "gt", "greater", "ge", "greater_equal", "bitwise_left_shift", "bitwise_right_shift",
                    "logical_and", "logical_or", "logical_xor", "maximum", "minimum", "fmax", "fmin", "gcd", "lcm",
                    "hypot", "logaddexp", "heaviside", "nextafter", "__lt__", "__le__", "__gt__", "__ge__", "__mod__",
                    "__rmod__", "__floordiv__", "__rfloordiv__", "__lshift__", "__rlshift__", "__rshift__",
                    "__rrshift__", "__ipow__", "__iadd__", "__isub__", "__imod__", "__ifloordiv__", "__ilshift__",
                    "__irshift__"))


def gate_binary(fn, kernel, pow_like=False):
    """gate for an op on two operands: it refuses when their promoted dtype is uint16/32/64
    (a uint16 tensor with a float one computes in float; with an int64 one, torch's promotion error).
    pow_like: a Python exponent of 0 or 1 needs no kernel (x ** 1 is a copy, x ** 0 ones), as torch's."""
    if getattr(fn, "_unsigned_gate", None) is not None:
        return fn

    @functools.wraps(fn)
    def gated(*args, **kwargs):
        a = args[0] if args else kwargs.get("input", kwargs.get("self"))
        b = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("exponent"))
        if (isinstance(a, _TB) and a._data.dtype in _BARE) or (isinstance(b, _TB) and b._data.dtype in _BARE):
            if not (pow_like and type(b) in (int, float) and b in (0, 1) and isinstance(a, _TB)):
                rt = _dtype.result_type(a, b) if b is not None else a._data.dtype
                if rt in _BARE:
                    raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(rt)))
        return fn(*args, **kwargs)

    gated._unsigned_gate = kernel
    return gated


def _gate_scatter(fn):
    """scatter: 'scatter_gather_tensor_cpu' with a src tensor, 'scatter_gather_scalar_cpu' with a value."""
    @functools.wraps(fn)
    def gated(input, *args, **kwargs):
        if isinstance(input, _TB) and input._data.dtype in _BARE:
            src = args[2] if len(args) > 2 else kwargs.get("src", kwargs.get("value"))
            refuse("scatter_gather_%s_cpu" % ("tensor" if isinstance(src, _TB) else "scalar"), input)
        return fn(input, *args, **kwargs)

    gated._unsigned_gate = "scatter"
    return gated


def _gate_minmax(fn, which):
    """max/min: the whole tensor ('max_all'), along a dim ('max_cpu'), of two tensors ('maximum_cpu')."""
    @functools.wraps(fn)
    def gated(input, *args, **kwargs):
        if isinstance(input, _TB) and input._data.dtype in _BARE:
            other = args[0] if args else kwargs.get("other", kwargs.get("dim"))
            kernel = ("%s_all" if other is None else "%s_cpu" if not isinstance(other, _TB) else "%simum_cpu") % which
            refuse(kernel, input)
        return fn(input, *args, **kwargs)

    gated._unsigned_gate = which
    return gated


def _gate_clamp(fn):
    """clamp: 'clamp_scalar_cpu', one-sided 'clamp_min_scalar_cpu' / 'clamp_max_scalar_cpu', tensor bounds 'clamp_cpu'."""
    @functools.wraps(fn)
    def gated(input, min=None, max=None, **kwargs):  # noqa: A002  (torch's names)
        if isinstance(input, _TB) and input._data.dtype in _BARE:
            if isinstance(min, _TB) or isinstance(max, _TB):
                kernel = "clamp_cpu"
            else:
                kernel = "clamp_scalar_cpu" if min is not None and max is not None else (
                    "clamp_min_scalar_cpu" if min is not None else "clamp_max_scalar_cpu")
            refuse(kernel, input)
        return fn(input, min, max, **kwargs)

    gated._unsigned_gate = "clamp"
    return gated


def _gate_rounding(fn):
    """div (and true_divide): only a rounding_mode refuses ('div_floor_cpu', 'div_trunc_cpu')."""
    @functools.wraps(fn)
    def gated(input, other, *args, rounding_mode=None, **kwargs):
        if rounding_mode is not None:
            for a in (input, other):
                refuse("div_%s_cpu" % rounding_mode, a)
        return fn(input, other, *args, rounding_mode=rounding_mode, **kwargs)

    gated._unsigned_gate = "div"
    return gated


def _gate_softmax(fn, name):
    """softmax/log_softmax: torch's kernel along the last dim is '<name>_lastdim_kernel_impl'."""
    @functools.wraps(fn)
    def gated(input, dim=None, *args, **kwargs):
        if isinstance(input, _TB) and input._data.dtype in _BARE:
            last = dim is None or dim in (-1, input._data.ndim - 1)
            refuse("%s_%skernel_impl" % (name, "lastdim_" if last else ""), input)
        return fn(input, dim, *args, **kwargs)

    gated._unsigned_gate = name
    return gated


def _swap(owner, name, make):
    static = inspect.getattr_static(owner, name, None)
    if static is None or isinstance(static, (staticmethod, classmethod, property, type)):
        return
    fn = getattr(owner, name)
    if callable(fn):
        setattr(owner, name, make(fn))


def install(fastgrad):
    """Wrap the public functions and Tensor methods named above (called once, from fastgrad/__init__)."""
    from fastgrad._ops import elementwise as E

    Tensor = fastgrad.Tensor
    def make(name, kernel):
        if name in BINARY:
            return lambda fn: gate_binary(fn, kernel, pow_like=name in ("pow", "__ipow__"))
        return lambda fn: gate(fn, kernel)

    for name, kernel in KERNELS.items():
        for owner, attr in ((fastgrad, name), (Tensor, name), (Tensor, name + "_")):
            _swap(owner, attr, make(name, kernel))
    for name, kernel in OPERATORS.items():
        _swap(Tensor, name, make(name, kernel))
    for owner, name in ((fastgrad, "scatter"), (Tensor, "scatter"), (Tensor, "scatter_")):
        _swap(owner, name, _gate_scatter)
    for which in ("max", "min"):
        for owner in (fastgrad, Tensor):
            _swap(owner, which, lambda fn, w=which: _gate_minmax(fn, w))
    for owner, names in ((fastgrad, ("clamp", "clip", "clamp_", "clip_")), (Tensor, ("clamp", "clip", "clamp_", "clip_"))):
        for name in names:
            _swap(owner, name, _gate_clamp)
    for owner, names in ((fastgrad, ("div", "divide")), (Tensor, ("div", "divide", "div_", "divide_"))):
        for name in names:
            _swap(owner, name, _gate_rounding)
    for name in ("relu", "relu_"):
        _swap(fastgrad.nn.functional, name, lambda fn: gate(fn, "clamp_min_scalar_cpu"))
    for name in ("softmax", "log_softmax"):
        for owner in (fastgrad, Tensor, fastgrad.nn.functional, fastgrad.special):
            _swap(owner, name, lambda fn, n=name: _gate_softmax(fn, n))
    # + - reach add/sub through the engine's hook for tensors that are not float
    E.Add._general = gate_binary(E.Add._general, "add_stub")
    E.Sub._general = gate_binary(E.Sub._general, "add_stub")
    engine.register("pow", (gate_binary(E.pow, "pow", pow_like=True), E.Square,
                            gate_binary(E.rpow, "pow")))  # x ** 2, 2 ** x
