"""torch.nn.attention: SDPBackend and the sdpa_kernel context manager (the backends fastgrad's
scaled_dot_product_attention may use: its one CPU kernel stands for MATH and FLASH_ATTENTION)."""
import contextlib
import enum

from fastgrad.backends import cuda as _cuda

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.IntEnum):
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    def __str__(self):
        return "SDPBackend." + self.name


_SWITCH = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
           SDPBackend.EFFICIENT_ATTENTION: "mem_efficient", SDPBackend.CUDNN_ATTENTION: "cudnn"}


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Only these backends inside the block (torch.backends.cuda's switches, restored after)."""
    if isinstance(backends, SDPBackend):
        backends = [backends]
    if not isinstance(backends, (list, tuple, set)) or not all(isinstance(b, SDPBackend) for b in backends):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, got %s"
                             % type(backends if not isinstance(backends, (list, tuple, set)) else
                                    next(b for b in backends if not isinstance(b, SDPBackend))).__name__)
    saved = dict(_cuda._SDP)
    for backend, switch in _SWITCH.items():
        _cuda._SDP[switch] = backend in backends
    try:
        yield {}
    finally:
        _cuda._SDP.update(saved)

