"""torch.backends' queries that apply to fastgrad (``fastgrad.backends.mkl.is_available()``)."""
from fastgrad.backends import mkl  # noqa: F401
