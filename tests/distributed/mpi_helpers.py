"""Launching tests/distributed/workers/*.py on 2 MPI ranks (mpirun --oversubscribe, on this machine) and
reading what they report: one line "CASE <name> <rank> OK" or "CASE <name> <rank> FAIL <message>" per case
and rank. Skips cleanly when mpi4py or mpirun is absent (pip install "fastgrad[distributed]")."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKERS = pathlib.Path(__file__).with_name("workers")
RANKS = 2


def mpirun():
    pytest.importorskip("mpi4py")
    here = pathlib.Path(sys.executable).parent / "mpirun"
    exe = str(here) if here.exists() else shutil.which("mpirun")
    if exe is None:
        pytest.skip("mpirun not found (pip install \"fastgrad[distributed]\" brings Open MPI's)")
    return exe


def launch(script, *args, n=RANKS, timeout=300):
    """mpirun -n n python workers/script args...: the CompletedProcess (stdout, stderr, returncode)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl_tcp_if_include="lo",
               OMPI_MCA_oob_tcp_if_include="lo", PYTHONUNBUFFERED="1")
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    cmd = [mpirun(), "-n", str(n), "--oversubscribe", sys.executable, str(WORKERS / script), *args]  # script: or
    # a path from the repository's root (WORKERS / an absolute path is that path)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT))


def launch_once(tmp_path_factory, script, *args):
    """launch(script, *args), once per test session even under pytest-xdist: the first worker to ask runs it
    and leaves its output in the session's shared temporary directory, under a lock; the others read it."""
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if uid is None:  # one process: nothing to share
        return launch(script, *args)
    import fcntl
    import types

    shared = tmp_path_factory.getbasetemp().parent  # the session's directory, above each worker's
    stem = f"mpi-{uid}-{pathlib.Path(script).stem}"
    with open(shared / f"{stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / f"{stem}.json"
        if saved.exists():
            return types.SimpleNamespace(**json.loads(saved.read_text()))
        proc = launch(script, *args)
        saved.write_text(json.dumps({"stdout": proc.stdout, "stderr": proc.stderr, "returncode": proc.returncode}))
        return proc


def cases(proc):
    """{case name: {rank: "OK" or the failure message}} from a worker's output."""
    out = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"CASE (\S+) (\d+) (OK|FAIL)(.*)", line)
        if m:
            out.setdefault(m.group(1), {})[int(m.group(2))] = "OK" if m.group(3) == "OK" else m.group(4).strip()
    return out


def check(results, proc, name, n=RANKS):
    got = results.get(name)
    assert got is not None, f"case {name} not reported; return code {proc.returncode}\n{proc.stdout[-3000:]}\n" \
                            f"{proc.stderr[-3000:]}"
    assert got == {r: "OK" for r in range(n)}, f"case {name}: {got}"
