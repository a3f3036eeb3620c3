"""fastgrad.linalg (PyTorch's torch.linalg)."""
from fastgrad._ops.linalg import inv  # noqa: F401
