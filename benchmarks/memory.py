"""Memory of a training step: fastgrad against the hand-written NumPy step of run.py.

For W1, W2 (one step, batch 32) and W3, measures with tracemalloc (NumPy reports its array
data to it) the peak memory allocated during one step, counting what the step leaves
alive (gradients, optimizer state), and the growth over the next 200 steps (W3: 20). The
model, data and a few warm-up steps come first and are not counted. Ratios < 1: fastgrad
uses less. The backend is the one fastgrad picks (FASTGRAD_BACKEND=numpy for the other).

    python benchmarks/memory.py
"""
import gc
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fastgrad as fg  # noqa: E402
from inprocess import mlp_steps, numpy_mlp_step  # noqa: E402

# workload: (activation, steps for the growth check)
WORKLOADS = {"W1": ("ReLU", 200), "W2": ("Tanh", 200), "W3": ("ReLU", 20)}


def measure(step, n):
    """(peak bytes during one step, bytes still allocated n steps later minus after it)."""
    for _ in range(3):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        step()
        peak = tracemalloc.get_traced_memory()[1]
        after = tracemalloc.get_traced_memory()[0]
        for _ in range(n):
            step()
        gc.collect()
        return peak, tracemalloc.get_traced_memory()[0] - after
    finally:
        tracemalloc.stop()


def main():
    print("fastgrad backend: %s" % fg._backend.get_backend())
    print("%-4s %26s %26s %12s" % ("", "fastgrad peak / growth", "hand NumPy peak / growth", "peak ratio"))
    for name, (act, n) in WORKLOADS.items():
        fp, fgrow = measure(mlp_steps(fg, name, act), n)
        npk, ngrow = measure(numpy_mlp_step(name), n)
        print("%-4s %14.1f KB / %+6.1f KB %14.1f KB / %+6.1f KB %11.2fx"
              % (name, fp / 1e3, fgrow / 1e3, npk / 1e3, ngrow / 1e3, fp / npk))


if __name__ == "__main__":
    main()
