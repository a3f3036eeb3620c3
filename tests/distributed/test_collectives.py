"""fastgrad.distributed's collectives on 2 MPI ranks (one mpirun for the module: workers/collectives.py),
each against NumPy references for every dtype, reduction and sync/async mode."""
import pytest
from mpi_helpers import cases, check, launch_once

COLLECTIVES = ["all_reduce", "reduce", "reduce_scatter_tensor", "broadcast", "all_gather",
               "all_gather_into_tensor", "gather", "scatter", "all_to_all_single", "send_recv",
               "all_reduce_unsupported", "barrier"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    proc = launch_once(tmp_path_factory, "collectives.py")
    return proc, cases(proc)


@pytest.mark.parametrize("name", COLLECTIVES)
def test_collective_every_dtype_op_and_mode(run, name):
    proc, results = run
    mine = sorted(k for k in results if k.split("-")[0] == name)
    assert len(mine) >= 2, f"no {name} case ran: {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert {k.rsplit("-", 1)[-1] for k in mine} == {"sync", "async"}
    for k in mine:
        check(results, proc, k)


def test_all_reduce_covers_each_reduction_and_dtype(run):
    _, results = run
    ops = {k.split("-")[2] for k in results if k.startswith("all_reduce-")}
    dtypes = {k.split("-")[1] for k in results if k.startswith("all_reduce-")}
    assert {"SUM", "AVG", "MAX", "MIN", "PRODUCT"} <= ops
    assert {"float32", "float64", "float16", "bfloat16", "int64", "bool"} <= dtypes


@pytest.mark.parametrize("name", ["objects", "new_group", "errors", "world_size_mismatch", "gloo_runs_on_mpi"])
def test_objects_groups_and_errors(run, name):
    proc, results = run
    check(results, proc, name)


def test_worker_exit_status(run):
    proc, _ = run
    assert proc.returncode == 0, proc.stderr[-3000:]
