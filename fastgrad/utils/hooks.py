"""torch.utils.hooks: RemovableHandle (the handle register_*_hook returns)."""
from fastgrad.nn.modules.module import RemovableHandle  # noqa: F401

__all__ = ["RemovableHandle"]
