"""A rank that fails must not leave the others waiting forever. `raise`: rank 1 raises before a collective
rank 0 has entered (the uncaught exception aborts the MPI job). `timeout`: rank 1 stays alive but never joins
the collective; rank 0's wait ends after the group's timeout with a DistBackendError."""
import sys
import time

from harness import init

import fastgrad as torch
import fastgrad.distributed as dist

mode = sys.argv[1]
RANK, N = init(seconds=3)
if RANK == 1:
    if mode == "raise":
        raise ValueError("boom on rank 1")
    time.sleep(120)
else:
    dist.all_reduce(torch.ones(3))
    print("rank 0 finished the all_reduce alone", flush=True)
