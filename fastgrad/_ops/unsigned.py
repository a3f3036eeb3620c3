"""uint16, uint32, uint64: the ops torch 2.13's CPU kernels refuse for them.

torch builds these "barebones" unsigned dtypes into some kernels only: creation and fills, copies
and casts, views and shape ops, indexing by slices, cat/stack, ``==``/``!=``, ``*``, ``&``/``|``/``^``,
sum/prod/cumsum (int64 results), sort, unique, where, and every op that computes in floating point
(exp, sqrt, ``/``, ...). Every other kernel raises ``NotImplementedError: "<kernel>" not implemented
for 'UInt16'``. fastgrad's NumPy code would compute those silently, so the public function
(``fastgrad.<name>``) and the Tensor methods (``Tensor.<name>``, its in-place ``<name>_`` and the
operator) of each op below are wrapped, once, at import (``install``), to raise torch's error
naming torch's kernel when an argument is such a tensor. The kernel names were read off torch 2.13
(tests/test_dtype_unsigned.py calls both and compares), and so were torch's short cuts that reach no
kernel (SKIPS: 0-d and empty inputs, flips of outer dims, isin's sorting path, ...). + - ** reach
fastgrad.add/sub/pow through the engine's hooks for non-float tensors; those hooks get the gated
functions too. Float tensors pay one frozenset look-up per wrapped call; the functions on the float
hot path (matmul, linear, conv, layer_norm, dropout, the activations) are not wrapped but check in
their own code."""
import functools
import inspect

from fastgrad import _dtype
from fastgrad._backend import engine

_BARE = _dtype.BAREBONES


def _bare(x):
    """x is a uint16/32/64 tensor (a nested tensor has no dense array to look at: its components are checked
    by the op it runs per component)."""
    return isinstance(x, _TB) and not x.is_nested and x._data.dtype in _BARE
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
    "lerp": "lerp_kernel_scalar", "addcmul": "addcmul_cpu_out",
    "diff": "add_stub", "trapezoid": "add_stub", "trapz": "add_stub", "cumulative_trapezoid": "add_stub",
    "combinations": "masked_select", "uniform": "check_uniform_bounds", "normal": "normal_kernel_cpu",
    "bernoulli": "bernoulli_scalar_cpu_", "dist": "add_stub", "take_along_dim": "scatter_gather_tensor_cpu",
    "geometric": "geometric_cpu", "round": "round_cpu",
}
# torch.nn.functional (and the same names in torch) -> kernel
NN_KERNELS = {
    "conv3d": "compute_columns3d",
    "conv_transpose1d": "slow_conv_transpose2d_out_cpu", "conv_transpose2d": "slow_conv_transpose2d_out_cpu",
    "conv_transpose3d": "slow_conv_transpose3d_out_cpu", "avg_pool1d": "avg_pool2d", "avg_pool2d": "avg_pool2d",
    "avg_pool3d": "avg_pool3d_out_frame", "max_pool1d": "max_pool1d_impl", "max_pool2d": "max_pool2d",
    "adaptive_avg_pool2d": "adaptive_avg_pool2d", "adaptive_max_pool2d": "adaptive_max_pool2d",
    "threshold": "threshold_cpu", "hardtanh": "clamp_scalar_cpu", "relu6": "clamp_scalar_cpu",
    "pixel_shuffle": "pixel_shuffle", "pixel_unshuffle": "pixel_unshuffle",
    "channel_shuffle": "channel_shuffle", "unfold": "im2col_out_cpu", "logsigmoid": "log_sigmoid_cpu",
    "elu": "elu_cpu", "leaky_relu": "leaky_relu_cpu", "hardshrink": "hardshrink_cpu", "l1_loss": "add_stub",
}
# nn.Linear/Conv/LayerNorm/GELU/SiLU/Dropout/MSELoss's functions are not wrapped (a frame on the float
# hot path): they refuse uint16/32/64 in their own code
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
    if _bare(x):
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(x._data.dtype)))


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _n(x):
    return x._data.size if isinstance(x, _TB) else 1


def _zero_d(args, kwargs):
    return args[0]._data.ndim == 0


def _flipped(args, kwargs, name):
    """The dims flip/fliplr/flipud/rot90 flip (torch's rot90 is flips and a transpose)."""
    if name == "fliplr":
        return (1,)
    if name == "flipud":
        return (0,)
    if name == "rot90":
        k, dims = _arg(args, kwargs, 1, "k", 1) % 4, list(_arg(args, kwargs, 2, "dims", (0, 1)))
        return {0: (), 1: (dims[1],), 2: tuple(dims), 3: (dims[0],)}[k]
    dims = _arg(args, kwargs, 1, "dims", ())
    return tuple(dims) if isinstance(dims, (list, tuple)) else (dims,) + tuple(args[2:])


def _flip_copies(args, kwargs, name):
    """torch flips with a dtype-free copy unless the innermost dim longer than 1 is flipped."""
    shape = args[0]._data.shape
    inner = [i for i, n in enumerate(shape) if n > 1]
    return not inner or inner[-1] not in {d % len(shape) for d in _flipped(args, kwargs, name)}


def _isin_sorts(args, kwargs):
    """torch's isin sorts (a dtype-free path) unless test_elements is small against elements."""
    elements, test = _arg(args, kwargs, 0, "elements"), _arg(args, kwargs, 1, "test_elements")
    return not _n(test) < int(10.0 * float(_n(elements)) ** 0.145)


# op -> when torch's call never reaches the kernel (0-d and empty short cuts, dtype-free paths)
SKIPS = {
    "topk": _zero_d, "kthvalue": _zero_d, "mode": _zero_d,
    "cummax": lambda a, k: a[0]._data.ndim == 0 or a[0]._data.size == 0,
    "cummin": lambda a, k: a[0]._data.ndim == 0 or a[0]._data.size == 0,
    "count_nonzero": lambda a, k: a[0]._data.ndim == 0 and _arg(a, k, 1, "dim") is not None,
    "aminmax": lambda a, k: a[0]._data.ndim == 0 and k.get("dim") is not None,
    "amax": lambda a, k: a[0]._data.size == 0, "amin": lambda a, k: a[0]._data.size == 0,
    "gather": lambda a, k: _n(_arg(a, k, 2, "index")) == 0, "take": lambda a, k: _n(_arg(a, k, 1, "index")) == 0,
    "tril": lambda a, k: a[0]._data.size == 0, "triu": lambda a, k: a[0]._data.size == 0,
    "searchsorted": lambda a, k: _n(a[0]) == 0 or _n(_arg(a, k, 1, "input")) == 0,
    "isin": _isin_sorts, "index_select": lambda a, k: a[0]._data.ndim > 1,
    "combinations": lambda a, k: a[0]._data.size < _arg(a, k, 1, "r", 2),
    "diff": lambda a, k: a[0]._data.ndim == 0 or a[0]._data.shape[_arg(a, k, 2, "dim", -1)] <= _arg(a, k, 1, "n", 1),
    "flip": lambda a, k: _flip_copies(a, k, "flip"), "fliplr": lambda a, k: _flip_copies(a, k, "fliplr"),
    "flipud": lambda a, k: _flip_copies(a, k, "flipud"), "rot90": lambda a, k: _flip_copies(a, k, "rot90"),
    "round": lambda a, k: not k.get("decimals"),  # decimals=0 rounds an integer as it is
}


def gate(fn, kernel, skip=None):
    """fn, raising torch's error first when one of its first two arguments is a uint16/32/64 tensor
    (unless skip(args, kwargs) says torch's call does not reach the kernel)."""
    if getattr(fn, "_unsigned_gate", None) is not None:
        return fn

    @functools.wraps(fn)
    def gated(*args, **kwargs):
        for a in args[:2]:
            if _bare(a) and not (skip is not None and skip(args, kwargs)):
                refuse(kernel, a)
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
        if (_bare(a)) or (_bare(b)):
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
        if _bare(input):
            src = args[2] if len(args) > 2 else kwargs.get("src", kwargs.get("value"))
            refuse("scatter_gather_%s_cpu" % ("tensor" if isinstance(src, _TB) else "scalar"), input)
        return fn(input, *args, **kwargs)

    gated._unsigned_gate = "scatter"
    return gated


def _gate_minmax(fn, which):
    """max/min: the whole tensor ('max_all'), along a dim ('max_cpu'), of two tensors ('maximum_cpu')."""
    @functools.wraps(fn)
    def gated(input, *args, **kwargs):
        if _bare(input):
            other = args[0] if args else kwargs.get("other", kwargs.get("dim"))
            if other is None:
                refuse("%s_all" % which, input)
            elif isinstance(other, _TB):
                refuse("%simum_cpu" % which, input)
            elif input._data.ndim and input._data.size:  # along a dim: 0-d and empty inputs need no kernel
                refuse("%s_cpu" % which, input)
        return fn(input, *args, **kwargs)

    gated._unsigned_gate = which
    return gated


def _gate_clamp(fn):
    """clamp: 'clamp_scalar_cpu', one-sided 'clamp_min_scalar_cpu' / 'clamp_max_scalar_cpu', tensor
    bounds 'clamp_cpu'."""
    @functools.wraps(fn)
    def gated(input, min=None, max=None, **kwargs):  # noqa: A002  (torch's names)
        if _bare(input):
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
        cast = kwargs.get("dtype") is not None or any(isinstance(v, _dtype.dtype) for v in args)  # computes in it
        if _bare(input) and not cast:
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
        return lambda fn: gate(fn, kernel, SKIPS.get(name))

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
    for owner in (fastgrad, Tensor):
        for name in ("clamp", "clip", "clamp_", "clip_"):
            _swap(owner, name, _gate_clamp)
    for owner, names in ((fastgrad, ("div", "divide")), (Tensor, ("div", "divide", "div_", "divide_"))):
        for name in names:
            _swap(owner, name, _gate_rounding)
    for name, kernel in NN_KERNELS.items():
        for owner in (fastgrad.nn.functional, fastgrad):
            if owner is fastgrad.nn.functional or name not in ("unfold",):  # torch.unfold is not F.unfold
                _swap(owner, name, lambda fn, k=kernel, n=name: gate(fn, k, SKIPS.get(n)))
    for name in ("softmax", "log_softmax"):
        for owner in (fastgrad, Tensor, fastgrad.nn.functional, fastgrad.special):
            _swap(owner, name, lambda fn, n=name: _gate_softmax(fn, n))
    # + - reach add/sub through the engine's hook for tensors that are not float
    E.Add._general = gate_binary(E.Add._general, "add_stub")
    E.Sub._general = gate_binary(E.Sub._general, "add_stub")
    engine.register("pow", (gate_binary(E.pow, "pow", pow_like=True), E.Square,
                            gate_binary(E.rpow, "pow")))  # x ** 2, 2 ** x
