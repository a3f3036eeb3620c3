"""torch.signal: window functions (torch.signal.windows)."""
from fastgrad.signal import windows  # noqa: F401

__all__ = ["windows"]
