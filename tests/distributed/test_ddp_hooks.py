"""DistributedDataParallel's communication hooks, static_graph and all_to_all on 2 MPI ranks
(workers/ddp_hooks.py), and uneven inputs under join() (workers/ddp_join.py), one mpirun each."""
import pytest
from mpi_helpers import cases, check, launch_once

HOOKS = ["bucket_caps_and_buffer_flags", "allreduce_hook", "fp16_compress_hook", "bf16_compress_hook", "fp16_one_step_gradients",
         "custom_hook_grad_buckets", "noop_hook", "hook_errors", "static_graph", "all_to_all",
         "get_node_local_rank"]


@pytest.fixture(scope="module")
def hooks(tmp_path_factory):
    proc = launch_once(tmp_path_factory, "ddp_hooks.py")
    return proc, cases(proc)


@pytest.mark.parametrize("name", HOOKS)
def test_comm_hooks(hooks, name):
    proc, results = hooks
    check(results, proc, name)


def test_hooks_worker_exit_status(hooks):
    proc, _ = hooks
    assert proc.returncode == 0, proc.stderr[-3000:]


JOIN = ["uneven_divide_by_initial", "uneven_divide_by_effective", "uneven_allreduce_hook", "uneven_find_unused",
        "uneven_buffers", "uneven_no_sync", "no_batches_plain", "no_batches_static_graph", "no_batches_find_unused",
        "no_batches_small_buckets", "even_inputs", "throw_on_early_termination", "join_api"]


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    proc = launch_once(tmp_path_factory, "ddp_join.py")
    return proc, cases(proc)


@pytest.mark.parametrize("name", JOIN)
def test_join_uneven_inputs(joined, name):
    proc, results = joined
    check(results, proc, name)


def test_join_worker_exit_status(joined):
    proc, _ = joined
    assert proc.returncode == 0, proc.stderr[-3000:]
