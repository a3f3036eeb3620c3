"""torch.backends.cuda on a CPU-only build: not built; the matmul precision flags and the
scaled-dot-product-attention backend switches are kept (torch.nn.attention.sdpa_kernel sets them)."""
import contextlib
import enum
import warnings


def is_built():
    return False


class cuBLASModule:
    """torch.backends.cuda.matmul: allow_tf32, allow_fp16/bf16 reduced-precision reductions (recorded)."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self.allow_fp16_accumulation = False
        self.fp32_precision = "none"


matmul = cuBLASModule()

_SDP = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}
_fp16_bf16_reduction_math_sdp = False


def flash_sdp_enabled():
    return _SDP["flash"]


def mem_efficient_sdp_enabled():
    return _SDP["mem_efficient"]


def math_sdp_enabled():
    return _SDP["math"]


def cudnn_sdp_enabled():
    return _SDP["cudnn"]


def enable_flash_sdp(enabled):
    _SDP["flash"] = bool(enabled)


def enable_mem_efficient_sdp(enabled):
    _SDP["mem_efficient"] = bool(enabled)


def enable_math_sdp(enabled):
    _SDP["math"] = bool(enabled)


def enable_cudnn_sdp(enabled):
    _SDP["cudnn"] = bool(enabled)


def allow_fp16_bf16_reduction_math_sdp(enabled):
    global _fp16_bf16_reduction_math_sdp
    _fp16_bf16_reduction_math_sdp = bool(enabled)


def fp16_bf16_reduction_math_sdp_allowed():
    return _fp16_bf16_reduction_math_sdp


def is_flash_attention_available():
    return False


def can_use_flash_attention(params, debug=False):
    return False


def can_use_efficient_attention(params, debug=False):
    return False


def can_use_cudnn_attention(params, debug=False):
    return False


@contextlib.contextmanager
def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
    """Deprecated in torch for torch.nn.attention.sdpa_kernel; sets the four switches for the block."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will "
                  "be removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    saved = dict(_SDP)
    _SDP.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient, cudnn=enable_cudnn)
    try:
        yield
    finally:
        _SDP.update(saved)


class _LinalgBackend(enum.Enum):
    Default = 0
    Cusolver = 1
    Magma = 2


def preferred_linalg_library(backend=None):
    return _LinalgBackend.Default


def preferred_blas_library(backend=None):
    return "Cublas"
