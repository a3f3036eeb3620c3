"""torch.backends.cudnn on a CPU-only build: not available; the flags scripts set
(``torch.backends.cudnn.benchmark = True``, ``deterministic``, ``allow_tf32``) are kept and read back."""
import sys

from fastgrad.backends._flags import flag_context

enabled = True
benchmark = False
benchmark_limit = None
deterministic = False
allow_tf32 = True
fp32_precision = "none"
depthwise_kernel = "auto"


def is_available():
    return False


def version():
    return None


def is_acceptable(tensor):
    return False


_NAMES = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32", "fp32_precision", "depthwise_kernel")


def set_flags(_enabled=None, _benchmark=None, _benchmark_limit=None, _deterministic=None, _allow_tf32=None,
              _fp32_precision="none", _depthwise_kernel=None):
    """Sets the flags given (not None); returns the previous ones, as torch's."""
    mod = sys.modules[__name__]
    orig = tuple(getattr(mod, n) for n in _NAMES)
    for name, value in zip(_NAMES, (_enabled, _benchmark, _benchmark_limit, _deterministic, _allow_tf32,
                                    _fp32_precision, _depthwise_kernel)):
        if value is not None and not (name == "benchmark_limit"):  # (torch keeps the limit only with CUDA)
            setattr(mod, name, value)
    return orig


_flags = flag_context(sys.modules[__name__], _NAMES)


def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True,
          fp32_precision="none", depthwise_kernel="auto"):
    """Context manager: these flags inside the block (torch's defaults: cuDNN off), the previous ones after."""
    return _flags(enabled, benchmark, None, deterministic, allow_tf32, fp32_precision, depthwise_kernel)
