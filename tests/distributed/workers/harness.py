"""What every worker shares: init on MPI with a short timeout (a broken case fails instead of hanging), and
run(name, fn) which reports "CASE name rank OK|FAIL message" on stdout."""
import datetime
import traceback

import fastgrad.distributed as dist


def init(seconds=60):
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=seconds))
    return dist.get_rank(), dist.get_world_size()


def run(name, fn, *args, **kw):
    rank = dist.get_rank()
    try:
        fn(*args, **kw)
    except Exception as e:  # noqa: BLE001  (reported to pytest, which fails the case)
        msg = (type(e).__name__ + ": " + str(e)).replace("\n", " | ")[:800]
        print(f"CASE {name} {rank} FAIL {msg}", flush=True)
        traceback.print_exc()
    else:
        print(f"CASE {name} {rank} OK", flush=True)
