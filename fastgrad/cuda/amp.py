"""torch.cuda.amp: the deprecated CUDA spellings; CUDA is never available, so autocast and
GradScaler disable themselves with torch's warnings (programs that build them with enabled=False
on the CPU, as nanoGPT does, run unchanged)."""
import warnings

from fastgrad.amp import autocast as _autocast
from fastgrad.amp import custom_bwd as _custom_bwd
from fastgrad.amp import custom_fwd as _custom_fwd
from fastgrad.amp.grad_scaler import GradScaler as _GradScaler

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


# twin of cpu/amp.py autocast: torch.cpu.amp and torch.cuda.amp each define their autocast (device types differ)
class autocast(_autocast):  # noqa: N801
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        from fastgrad import float16

        super().__init__("cuda", dtype=float16 if dtype is None else dtype, enabled=enabled,
                         cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    return _custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    return _custom_bwd(bwd, device_type="cuda")
