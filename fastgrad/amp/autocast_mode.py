"""Automatic mixed precision on the CPU (torch.autocast / torch.amp.autocast): inside the region,
the matrix-product family (linear, matmul, mm, bmm, addmm, baddbmm, addbmm, the convolutions,
prelu, scaled_dot_product_attention) runs in the autocast dtype (bfloat16 by default, or float16),
and the losses and other precision-sensitive ops run in float32, as torch's CPU autocast lists
them; float64 inputs are left alone. The casts are differentiable, so gradients flow back to the
float32 parameters in float32. The state is per thread, as torch's."""
import functools
import threading
import warnings

from fastgrad import _dtype
from fastgrad._backend import engine

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]


class _State(threading.local):
    def __init__(self):
        self.enabled = False
        self.dtype = _dtype.bfloat16
        self.cache_enabled = True
        self.nesting = 0


_state = _State()
_GPU_DTYPE = {"dtype": _dtype.float16}
_CUDA_LIKE = ("cuda", "xpu", "ipu", "hpu", "xla", "mps", "mtia", "maia", "privateuseone")
_KNOWN = ("cpu",) + _CUDA_LIKE + ("mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "lazy", "vulkan",
                                  "meta")


def is_autocast_available(device_type):
    return device_type == "cpu"


def _check_device_type(device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _KNOWN:
        raise RuntimeError("Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, "
                           "xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device "
                           "string: " + device_type)


def set_enabled(device_type, enabled):
    if device_type == "cpu":
        if enabled and not _installed:
            install()
        _state.enabled = bool(enabled)


class autocast:  # noqa: N801
    """Context manager and decorator: autocast(device_type, dtype=None, enabled=True, cache_enabled=None)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device_type(device_type)
        self.device = device_type
        self._enabled = bool(enabled)
        self.fast_dtype = _state.dtype if dtype is None else _dtype.to_dtype(dtype)
        self._cache_enabled = _state.cache_enabled if cache_enabled is None else cache_enabled
        if device_type != "cpu":
            if self._enabled:
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast." if device_type ==
                              "cuda" else f"User provided device_type of '{device_type}', but it is not available. "
                              "Disabling", stacklevel=2)
            self._enabled = False
        elif self._enabled and self.fast_dtype not in (_dtype.bfloat16, _dtype.float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\nCPU Autocast "
                          "only supports dtypes of torch.bfloat16, torch.float16 currently.", stacklevel=2)
            self._enabled = False

    def __enter__(self):
        if self.device != "cpu":
            return None
        if self._enabled and not _installed:
            install()
        self._prev = (_state.enabled, _state.dtype, _state.cache_enabled)
        _state.enabled, _state.cache_enabled = self._enabled, self._cache_enabled
        if self._enabled:
            _state.dtype = self.fast_dtype
        _state.nesting += 1
        return None

    def __exit__(self, *exc):
        if self.device != "cpu":
            return False
        _state.nesting -= 1
        _state.enabled, _state.dtype, _state.cache_enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with autocast(self.device, dtype=self.fast_dtype, enabled=self._enabled,
                          cache_enabled=self._cache_enabled):
                return func(*args, **kwargs)
        return wrapper


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """For a custom Function's forward: with cast_inputs, run it with floating inputs cast to that
    dtype and autocast off; otherwise run it under the surrounding autocast state."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    _check_device_type(device_type)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0] if args else None
        if ctx is not None:
            ctx._fwd_used_autocast = _state.enabled and device_type == "cpu"
            ctx._dtype = _state.dtype
        if cast_inputs is None or not (_state.enabled and device_type == "cpu"):
            return fwd(*args, **kwargs)
        target = _dtype.to_dtype(cast_inputs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast_all(args, target), **_cast_all(kwargs, target))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """For a custom Function's backward: run it under the autocast state its forward saw."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    _check_device_type(device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)
    return decorate_bwd


# ------------------------------------------------------------------ the casts
def _eligible(x):
    return isinstance(x, engine.TensorBase) and _dtype.kind(x._data.dtype) == "f" and x._data.dtype.name != "float64"


def _cast_all(value, target):
    if _eligible(value):
        return value if value._data.dtype == target.np else value.to(target)
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_all(v, target) for v in value)
    if isinstance(value, dict):
        return {k: _cast_all(v, target) for k, v in value.items()}
    return value


def lower_precision(fn):
    """Wrap an op of torch's CPU lower-precision list: floating inputs cast to the autocast dtype."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _state.enabled:
            target = _state.dtype
            args = tuple(_cast_all(a, target) for a in args)
            kwargs = {k: _cast_all(v, target) for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    wrapper.__wrapped_autocast__ = True
    return wrapper


def float32(fn):
    """Wrap an op of torch's CPU float32 list: floating inputs cast to float32."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _state.enabled:
            args = tuple(_cast_all(a, _dtype.float32) for a in args)
            kwargs = {k: _cast_all(v, _dtype.float32) for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    wrapper.__wrapped_autocast__ = True
    return wrapper


def promote(fn):
    """Wrap an op of torch's promote list (cat, stack, index_copy): inputs to their widest float dtype."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _state.enabled:
            tensors = [t for t in _flat(args) + _flat(list(kwargs.values())) if _eligible(t)]
            if len({t._data.dtype for t in tensors}) > 1:
                widest = _dtype.float32 if any(t._data.dtype.name == "float32" for t in tensors) else _state.dtype
                args = tuple(_cast_all(a, widest) for a in args)
                kwargs = {k: _cast_all(v, widest) for k, v in kwargs.items()}
        return fn(*args, **kwargs)
    wrapper.__wrapped_autocast__ = True
    return wrapper


def _flat(items):
    out = []
    for x in items:
        if isinstance(x, (list, tuple)):
            out += _flat(x)
        else:
            out.append(x)
    return out


LOWER_PRECISION = ("linear", "matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "conv1d", "conv2d", "conv3d",
                   "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu", "scaled_dot_product_attention")
FLOAT32 = ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss", "multi_margin_loss",
           "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "ctc_loss", "avg_pool3d",
           "max_pool3d", "adaptive_avg_pool3d", "grid_sample", "prod", "quantile", "nanquantile", "cdist", "trace",
           "inverse", "pinverse", "cholesky", "cholesky_inverse", "cholesky_solve", "polar", "stft")
PROMOTE = ("cat", "stack", "index_copy")


_installed = False


def install():
    """Wrap the listed ops where user code and modules look them up: fastgrad.<op>,
    fastgrad.nn.functional.<op> and Tensor.<op> (and @). Done once, when autocast is first
    enabled, so programs that never use it pay nothing per call."""
    global _installed
    _installed = True
    import fastgrad
    from fastgrad.nn import functional as F

    for names, wrap in ((LOWER_PRECISION, lower_precision), (FLOAT32, float32), (PROMOTE, promote)):
        for name in names:
            for owner in (fastgrad, F, fastgrad.Tensor):
                fn = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
                if fn is not None and not getattr(fn, "__wrapped_autocast__", False):
                    setattr(owner, name, wrap(fn))
    T = fastgrad.Tensor
    T.__matmul__ = lower_precision(T.__matmul__)
