"""torch.cpu.amp: the deprecated CPU spellings of torch.amp.autocast('cpu') and GradScaler('cpu')."""
import warnings

from fastgrad.amp import autocast as _autocast
from fastgrad.amp.grad_scaler import GradScaler as _GradScaler

__all__ = ["autocast", "GradScaler"]


# twin of cuda/amp.py autocast: torch.cpu.amp and torch.cuda.amp each define their autocast (device types differ)
class autocast(_autocast):  # noqa: N801
    def __init__(self, enabled=True, dtype=None, cache_enabled=True):
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cpu', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        from fastgrad import bfloat16

        super().__init__("cpu", dtype=bfloat16 if dtype is None else dtype, enabled=enabled,
                         cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`torch.cpu.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cpu', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
