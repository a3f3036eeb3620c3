"""fastgrad.distributed: torch.distributed's process groups, collectives and point-to-point messages on MPI
(mpi4py), for data-parallel training across processes and machines (fastgrad.nn.parallel
.DistributedDataParallel). Launch with `mpirun -n N python script.py`; `pip install "fastgrad[distributed]"`
brings mpi4py and Open MPI. Nothing of MPI is loaded before init_process_group."""
import importlib.util


def is_available():
    """True when mpi4py (and so an MPI library) can be imported; without it every function here raises a
    RuntimeError saying how to install it."""
    return importlib.util.find_spec("mpi4py") is not None


from fastgrad.distributed._work import (  # noqa: E402
    Backend, DistBackendError, DistError, GradBucket, ReduceOp, Work, default_pg_timeout)
from fastgrad.distributed.distributed_c10d import *  # noqa: E402,F401,F403
from fastgrad.distributed.distributed_c10d import __all__ as _c10d_all  # noqa: E402

__all__ = ["is_available", "Backend", "DistBackendError", "DistError", "ReduceOp", "Work", "GradBucket",
           "default_pg_timeout"] + list(_c10d_all)
