"""fastgrad.nn.parallel: DataParallel (CPU only: the wrapped module runs as is)."""
from fastgrad.nn.parallel.data_parallel import DataParallel, data_parallel  # noqa: F401

__all__ = ["DataParallel", "data_parallel"]
