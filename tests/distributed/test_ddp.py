"""DistributedDataParallel on 2 MPI ranks (workers/ddp.py, one mpirun for the module), and ranks that fail."""
import time

import pytest
from mpi_helpers import cases, check, launch, launch_once

CASES = ["mlp_float64_50_steps", "mlp_float32_50_steps", "mlp_gradient_as_bucket_view", "mlp_small_buckets",
         "cnn_batchnorm_50_steps", "cnn_sync_batchnorm_50_steps", "no_sync", "buckets_overlap_backward",
         "find_unused_parameters", "module_and_state_dict"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    proc = launch_once(tmp_path_factory, "ddp.py")
    return proc, cases(proc)


@pytest.mark.parametrize("name", CASES)
def test_ddp(run, name):
    proc, results = run
    check(results, proc, name)


@pytest.mark.parametrize("mode, message", [("raise", "boom on rank 1"), ("timeout", "timed out after 3 s")])
def test_a_failing_rank_stops_the_job(mode, message):
    start = time.monotonic()
    proc = launch("failures.py", mode, timeout=100)
    took = time.monotonic() - start
    assert proc.returncode != 0
    assert "rank 0 finished" not in proc.stdout
    assert message in proc.stderr, proc.stderr[-3000:]
    assert "aborting the MPI job" in proc.stderr
    assert took < 90  # rank 1 sleeps 120 s in "timeout": the job ended long before


def test_digits_example_on_two_processes(tmp_path, monkeypatch):
    from mpi_helpers import ROOT

    monkeypatch.setenv("FASTGRAD_EXAMPLE_EPOCHS", "3")
    proc = launch(str(ROOT / "examples" / "train_digits_ddp.py"), "--save", str(tmp_path / "w.safetensors"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 process(es)" in proc.stdout and "replicas identical" in proc.stdout
    acc = float(proc.stdout.split("Final test accuracy: ")[1].split()[0])
    assert acc > 0.8, proc.stdout
    assert (tmp_path / "w.safetensors").exists()
