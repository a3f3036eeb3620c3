"""torch.amp: autocast (CPU mixed precision) and GradScaler."""
from fastgrad.amp.autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available  # noqa: F401
from fastgrad.amp.grad_scaler import GradScaler  # noqa: F401

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
