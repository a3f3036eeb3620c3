"""fastgrad.nn.parallel: DataParallel (CPU only: the wrapped module runs as is) and DistributedDataParallel
(several processes on MPI: fastgrad.distributed)."""
from fastgrad.nn.parallel.data_parallel import DataParallel, data_parallel  # noqa: F401
from fastgrad.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "data_parallel", "DistributedDataParallel"]
