"""torch.* names that spell what fastgrad already has: constants, aliases, the function forms of
in-place methods (torch.exp_(x) is x.exp_()), dtype queries, memory formats and global switches.
Bound into the fastgrad namespace by fastgrad/__init__.py (``from fastgrad._torch_functions import *``)."""
import math as _math

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._tensor import Tensor
from fastgrad._types import CPU, check_device
from fastgrad.sparse import _Layout as layout  # noqa: F401  (torch.layout: the type of torch.strided)

__all__ = ["pi", "e", "inf", "nan", "newaxis", "memory_format", "contiguous_format", "channels_last",
           "channels_last_3d", "preserve_format", "promote_types", "result_type", "can_cast", "is_complex",
           "is_signed", "is_nonzero", "is_same_size", "is_inference", "typename",
           "get_default_device", "set_default_device", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode", "get_deterministic_debug_mode", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "set_flush_denormal", "set_warn_always", "is_warn_always_enabled",
           "set_anomaly_enabled", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "get_num_interop_threads", "set_num_interop_threads", "init_num_threads", "set_default_tensor_type",
           "absolute", "multiply", "divide", "subtract", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "adjoint", "range", "frombuffer", "has_lapack", "has_mkl", "has_openmp",
           "has_spectral", "is_storage", "get_device", "is_vulkan_available", "is_distributed", "layout",
           "binomial", "poisson", "get_device_module"]

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan
newaxis = None


class memory_format:  # noqa: N801  (PyTorch's name)
    """torch.memory_format: fastgrad keeps every tensor in NumPy's row-major (contiguous) layout,
    so ``.to(memory_format=...)``, ``contiguous(memory_format=...)`` accept these and keep it."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return "torch." + self._name

    def __reduce__(self):
        return self._name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


# ------------------------------------------------------------------ dtypes and tensor queries
def promote_types(type1, type2):
    """The dtype both promote to (torch's table: bfloat16 with float16 gives float32)."""
    return _dtype.from_numpy_dtype(_dtype._promote2(_dtype.to_dtype(type1).np, _dtype.to_dtype(type2).np))


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on these two operands gives (tensors, numbers)."""
    for t in (tensor1, tensor2):
        if not isinstance(t, (engine.TensorBase, bool, int, float, complex)):
            raise TypeError("result_type() received an invalid combination of arguments - got (%s, %s)"
                            % (type(tensor1).__name__, type(tensor2).__name__))
    return _dtype.from_numpy_dtype(_dtype.result_type(tensor1, tensor2))


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def can_cast(from_, to):
    """Whether torch's type promotion allows casting from_ to `to` (no lower category: float
    to integer, complex to float, non-bool to bool are refused)."""
    a, b = _dtype.to_dtype(from_), _dtype.to_dtype(to)
    return _CATEGORY[_dtype.kind(a.np)] <= _CATEGORY[_dtype.kind(b.np)]


def _tensor_arg(name, x):
    if not isinstance(x, engine.TensorBase):
        raise TypeError("%s(): argument 'input' (position 1) must be Tensor, not %s" % (name, type(x).__name__))
    return x


def is_complex(input):
    return _tensor_arg("is_complex", input)._data.dtype.kind == "c"


def is_signed(input):
    return _tensor_arg("is_signed", input).is_signed()


def is_nonzero(input):
    return _tensor_arg("is_nonzero", input).is_nonzero()


def is_same_size(input, other):
    return _tensor_arg("is_same_size", input).is_same_size(other)


def is_inference(input):
    return _tensor_arg("is_inference", input).is_inference()


def is_storage(obj):
    return False  # fastgrad has no separate Storage objects


def get_device(input):
    return -1  # the CPU, as torch numbers it


def typename(obj, /):
    """'torch.FloatTensor' for a float32 tensor, the qualified class name for anything else."""
    if isinstance(obj, engine.TensorBase):
        return obj.type()
    module = getattr(type(obj), "__module__", "") or ""
    qual = type(obj).__qualname__
    return qual if module in ("", "builtins") else module + "." + qual


# ------------------------------------------------------------------ global switches
_state = {"deterministic": False, "warn_only": False, "matmul_precision": "highest", "warn_always": False,
          "interop_threads": 1, "interop_set": False}


def get_default_device():
    return CPU


def set_default_device(device):
    """Only the CPU (or None) is accepted: fastgrad has no other device."""
    check_device(device)


def use_deterministic_algorithms(mode, *, warn_only=False):
    if not isinstance(mode, bool):
        raise RuntimeError("use_deterministic_algorithms expects a bool, but got %s" % type(mode).__name__)
    _state["deterministic"], _state["warn_only"] = mode, bool(warn_only)  # (every fastgrad kernel is)


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["warn_only"]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode):
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got "
                               + debug_mode)
        debug_mode = _DEBUG_MODES[debug_mode]
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError("debug_mode must be str or int, but got %s" % type(debug_mode).__name__)
    if debug_mode not in (0, 1, 2):
        raise RuntimeError("invalid value of debug_mode, expected 0, 1, or 2, but got %d" % debug_mode)
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    if not _state["deterministic"]:
        return 0
    return 1 if _state["warn_only"] else 2


def set_float32_matmul_precision(precision):
    """'highest', 'high' or 'medium': recorded; fastgrad's float32 products always use full float32."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError("Invalid precision: %s. Valid precisions are: highest, high, medium" % precision)
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _state["matmul_precision"]


def set_flush_denormal(mode):
    """torch returns whether the CPU supports flushing denormals; NumPy gives no control: False."""
    return False


def set_warn_always(b, /):
    _state["warn_always"] = bool(b)


def is_warn_always_enabled():
    return _state["warn_always"]


def set_anomaly_enabled(enabled, check_nan=True):
    from fastgrad.autograd import set_detect_anomaly

    set_detect_anomaly(enabled, check_nan)


def is_anomaly_enabled():
    return engine.state().anomaly


def is_anomaly_check_nan_enabled():
    return engine.state().anomaly


def get_num_interop_threads():
    return _state["interop_threads"]


def set_num_interop_threads(num):
    """Accepted once, before any parallel work, as torch; fastgrad runs no inter-op thread pool."""
    if not isinstance(num, int) or isinstance(num, bool) or num <= 0:
        raise RuntimeError("Expected positive number of threads")
    if _state["interop_set"]:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _state["interop_threads"], _state["interop_set"] = num, True


def init_num_threads():
    pass


def set_default_tensor_type(t, /):
    """torch.set_default_tensor_type(torch.DoubleTensor) (or its name): sets the default float dtype."""
    from fastgrad import _tensor_types

    if isinstance(t, str):
        name = t.split(".")[-1]
        t = getattr(_tensor_types, name, None)
        if t is None:
            raise TypeError("invalid type: '%s'" % name)
    d = getattr(t, "dtype", None)
    if not isinstance(d, _dtype.dtype):
        raise TypeError("invalid type: '%s'" % getattr(t, "__name__", t))
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _dtype.set_default_dtype(d)


has_lapack = True
has_mkl = False
has_openmp = True
has_spectral = True


def is_vulkan_available():
    return False


def is_distributed(input):
    return False


def get_device_module(device=None):
    """The module of a device type: fastgrad.cpu for 'cpu' (and None); other devices are refused."""
    import fastgrad

    check_device(device)
    return fastgrad.cpu


# ------------------------------------------------------------------ random draws
def _float_input(name, x, what):
    if not isinstance(x, engine.TensorBase):
        raise TypeError("%s(): argument '%s' must be Tensor, not %s" % (name, what, type(x).__name__))
    if x._data.dtype.kind != "f" and x._data.dtype is not _dtype.BF16:
        raise RuntimeError("%s only supports floating-point dtypes for %s, got: %s"
                           % (name, what, x.dtype.name.capitalize() if hasattr(x.dtype, "name") else x.dtype))
    return x


def binomial(count, prob, generator=None):
    """Draws of Binomial(count, prob), elementwise, in count's dtype (not differentiable)."""
    from fastgrad import _random

    c, p = _float_input("binomial", count, "count"), _float_input("binomial", prob, "prob")
    n, q = np.broadcast_arrays(c._data.astype(np.float64), p._data.astype(np.float64))
    draws = _random.rng(generator).binomial(n.astype(np.int64), np.clip(q, 0.0, 1.0))
    return engine.make_tensor(draws.astype(c._data.dtype))


def poisson(input, generator=None):
    """Draws of Poisson(input), elementwise, in input's dtype (not differentiable): torch's sampler."""
    from fastgrad import _random_ops

    x = _float_input("poisson", input, "input")
    rate = x._data.astype(np.float64)
    if (rate < 0).any() or np.isnan(rate).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return engine.make_tensor(_random_ops.poisson(rate, generator).astype(x._data.dtype))


# ------------------------------------------------------------------ aliases
def _alias(name, target):
    def fn(*args, **kwargs):
        return getattr(Tensor, target)(*args, **kwargs) if target.endswith("_") else _target(target)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = "Alias of torch.%s." % target
    return fn


def _target(name):
    import fastgrad

    return getattr(fastgrad, name)


absolute = _alias("absolute", "abs")
multiply = _alias("multiply", "mul")
divide = _alias("divide", "div")
subtract = _alias("subtract", "sub")
greater = _alias("greater", "gt")
greater_equal = _alias("greater_equal", "ge")
less = _alias("less", "lt")
less_equal = _alias("less_equal", "le")
not_equal = _alias("not_equal", "ne")


def adjoint(input):
    """The conjugate transpose of the last two dimensions, as a view."""
    return _tensor_arg("adjoint", input).adjoint()


def range(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,  # noqa: A001
          requires_grad=False):
    """Deprecated torch.range: like arange but including `end`; float dtype by default."""
    import warnings

    import fastgrad

    if end is None:
        raise TypeError('range() missing 1 required positional arguments: "end"')
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    check_device(device)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    n = int(_math.floor((float(end) - float(start)) / float(step))) + 1
    data = (np.float64(start) + np.arange(n, dtype=np.float64) * np.float64(step)).astype(d.np)
    t = fastgrad.from_numpy(data)
    if requires_grad:
        t.requires_grad_(True)
    if out is not None:
        out.resize_(t.shape) if tuple(out.shape) != tuple(t.shape) else None
        out.copy_(t)
        return out
    return t


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A tensor sharing the memory of a Python buffer (bytes, bytearray, array.array, mmap...)."""
    import fastgrad

    d = _dtype.to_dtype(dtype)
    mv = memoryview(buffer)
    nbytes = mv.nbytes
    if offset < 0 or offset > nbytes:
        raise ValueError("both buffer length (%d) and offset (%d) must be greater than 0 and less than buffer "
                         "length" % (nbytes, offset))  # (torch's text)
    if count == 0 or (count < 0 and nbytes - offset < d.itemsize):
        raise ValueError("both buffer length (%d) and count (%d) must not be 0" % (nbytes, count))
    if count < 0:
        if (nbytes - offset) % d.itemsize:
            raise ValueError("buffer length (%d bytes) after offset (%d bytes) must be a multiple of element size "
                             "(%d)" % (nbytes - offset, offset, d.itemsize))
        count = (nbytes - offset) // d.itemsize
    elif offset + count * d.itemsize > nbytes:
        raise ValueError("requested buffer length (%d * %d bytes) after offset (%d bytes) must not be greater "
                         "than actual buffer length (%d bytes)" % (count, d.itemsize, offset, nbytes))
    arr = np.frombuffer(buffer, dtype=d.np, count=count, offset=offset)
    if not arr.flags.writeable:  # (bytes and other read-only buffers: torch shares and warns; NumPy
        # cannot write through them, so fastgrad copies)
        import warnings

        warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors. This "
                      "means you can write to the underlying (supposedly non-writable) buffer using the tensor. "
                      "You may want to copy the buffer to protect its data or make it writable before converting it "
                      "to a tensor. This type of warning will be suppressed for the rest of this program.",
                      UserWarning, stacklevel=2)
        arr = arr.copy()
    t = fastgrad.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


# ------------------------------------------------------------------ torch.<op>_(input, ...): x.<op>_(...)
_INPLACE_FUNCTIONS = ("abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
                      "arctanh_", "as_strided_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
                      "clamp_max_", "clamp_min_", "clip_", "conj_physical_", "cos_", "cosh_", "deg2rad_", "detach_",
                      "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_",
                      "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_",
                      "negative_", "rad2deg_", "reciprocal_", "resize_as_", "round_", "rsqrt_", "sigmoid_",
                      "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")


def _inplace_function(name):
    method = getattr(Tensor, name)

    def fn(input, *args, **kwargs):
        return method(_tensor_arg(name, input), *args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = "In-place version of torch.%s: input.%s(...)." % (name[:-1], name)
    return fn


for _name in _INPLACE_FUNCTIONS:
    if hasattr(Tensor, _name):  # (methods other op families add bind their torch.<op>_ too)
        globals()[_name] = _inplace_function(_name)
        __all__.append(_name)
del _name


# ------------------------------------------------------------------ autocast state (fastgrad/amp)
def _amp():
    from fastgrad.amp import autocast_mode

    return autocast_mode


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for device_type (no argument: CUDA's, always False here)."""
    return device_type == "cpu" and _amp()._state.enabled


def get_autocast_dtype(device_type):
    return _amp()._state.dtype if device_type == "cpu" else _amp()._GPU_DTYPE["dtype"]


def set_autocast_enabled(device_type, enabled=None):
    if enabled is None:  # the legacy one-argument form is CUDA's
        return
    _amp().set_enabled(device_type, enabled)


def set_autocast_dtype(device_type, dtype):
    if device_type == "cpu":
        _amp()._state.dtype = _dtype.to_dtype(dtype)
    else:
        _amp()._GPU_DTYPE["dtype"] = _dtype.to_dtype(dtype)


def is_autocast_cpu_enabled():
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype):
    set_autocast_dtype("cuda", dtype)


def is_autocast_cache_enabled():
    return _amp()._state.cache_enabled


def set_autocast_cache_enabled(enabled):
    _amp()._state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    pass  # fastgrad keeps no cast cache


def autocast_increment_nesting():
    _amp()._state.nesting += 1
    return _amp()._state.nesting


def autocast_decrement_nesting():
    _amp()._state.nesting -= 1
    return _amp()._state.nesting


__all__ += ["is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled", "set_autocast_dtype",
            "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "get_autocast_cpu_dtype", "set_autocast_cpu_dtype",
            "get_autocast_gpu_dtype", "set_autocast_gpu_dtype", "is_autocast_cache_enabled",
            "set_autocast_cache_enabled", "clear_autocast_cache", "autocast_increment_nesting",
            "autocast_decrement_nesting"]
