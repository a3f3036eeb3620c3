"""W4b in one process: run.py's 10-op elementwise graph on 10 elements, forward and
backward, timed for fastgrad, hand-written NumPy and PyTorch (when installed), interleaved
in rotating order at 1 thread (the per-op overhead, without run.py's worker pipes).

    python benchmarks/w4b_step.py
"""
import os
import statistics
import sys
import time

import numpy as np

import fastgrad as fg


def lib_step(lib, d):
    """graph10 forward and backward with library lib (fastgrad or torch)."""
    from run import graph10

    a = lib.tensor(d["a"], requires_grad=True)
    b = lib.tensor(d["b"], requires_grad=True)

    def step():
        a.grad = None
        b.grad = None
        graph10(lib, a, b).backward()

    return step


def steps():
    from run import data, np_graph10_grad

    d = data("W4b")
    out = {"fastgrad": lib_step(fg, d), "numpy": lambda: np_graph10_grad(d["a"], d["b"])}
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(1)
    out["torch"] = lib_step(torch, d)
    return out


def main(rounds=30, inner=500):
    fns = list(steps().items())
    for _, f in fns:
        for _ in range(inner):  # warm-up
            f()
    times = {name: [] for name, _ in fns}
    for r in range(rounds):
        for name, f in fns[r % len(fns):] + fns[:r % len(fns)]:
            t = time.perf_counter()
            for _ in range(inner):
                f()
            times[name].append((time.perf_counter() - t) / inner * 1e6)
    for name, v in times.items():
        print("%-8s  min %6.1f us  median %6.1f us" % (name, min(v), statistics.median(v)))
    med = {name: statistics.median(v) for name, v in times.items()}
    for other in ("numpy", "torch"):
        if other in med:
            print("fastgrad / %s: median %.2fx" % (other, med["fastgrad"] / med[other]))


if __name__ == "__main__":
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # 1 thread, set before NumPy loads BLAS
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        os.execv(sys.executable, [sys.executable] + sys.argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
