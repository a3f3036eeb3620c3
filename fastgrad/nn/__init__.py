"""fastgrad.nn (placeholder until the nn modules land)."""
from fastgrad.nn import functional  # noqa: F401
