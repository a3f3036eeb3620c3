"""fastgrad.compile against eager and hand-written NumPy (issue 19), in one process, 1 thread:
the digits step (W2: batch 32, Linear 64-50, tanh, Linear 50-10, cross-entropy, SGD) and the
seed MLP step (W1: 64x784-100-10, ReLU, MSE sum, SGD), each as hand NumPy (forward, manual
backward, update), fastgrad eager, fastgrad.compile (the same step function, compiled) and
torch eager (and torch.compile with --torch-compile), timed by inprocess.py's rotating rounds.

    python benchmarks/compile_step.py [W2 W1] [--rounds 30] [--cpu-time] [--torch-compile] [--plot FILE.png]

Before timing, the compiled step is checked against eager: both run 20 steps from the same
weights and must agree bit for bit (loss and parameters)."""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def check_exact(fg, name, act):
    import numpy as np
    from inprocess import mlp_steps
    a, b = mlp_steps(fg, name, act), fg.compile(mlp_steps(fg, name, act))
    for _ in range(20):
        a()
        b()
    pa = [p for c in a.__closure__ if hasattr(c.cell_contents, "parameters") for p in c.cell_contents.parameters()]
    pb = [p for c in b._fn.__closure__ if hasattr(c.cell_contents, "parameters") for p in c.cell_contents.parameters()]
    return all(np.array_equal(p.detach().numpy(), q.detach().numpy()) for p, q in zip(pa, pb))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", default=["W2", "W1"])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--cpu-time", action="store_true", help="thread CPU time, not wall time")
    ap.add_argument("--torch-compile", action="store_true", help="also time torch.compile (slow to compile)")
    ap.add_argument("--plot", help="write a bar chart of the medians relative to hand NumPy (matplotlib) to this file")
    args = ap.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # read when BLAS loads
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        os.execv(sys.executable, [sys.executable] + sys.argv)
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.dirname(HERE))
    import fastgrad as fg
    from inprocess import mlp_steps, numpy_mlp_step, time_steps

    fg.set_num_threads(1)
    print("fastgrad %s backend, BLAS %s, from %s" % (fg._backend.BACKEND, fg._backend.BLAS,
                                                    os.path.dirname(fg.__file__)))
    clock = time.thread_time if args.cpu_time else time.perf_counter
    results = {}
    for name in args.workloads:
        act = "Tanh" if name == "W2" else "ReLU"
        wrapped = fg.compile(mlp_steps(fg, name, act))
        impls = {"numpy": numpy_mlp_step(name), "fastgrad": mlp_steps(fg, name, act),
                 "fg.compile": lambda f=wrapped: f()}
        try:
            import torch
            torch.set_num_threads(1)
            impls["torch"] = mlp_steps(torch, name, act)
            if args.torch_compile:
                impls["torch.compile"] = torch.compile(mlp_steps(torch, name, act))
        except ImportError:
            pass
        print("%s: compiled step equals eager bit for bit over 20 steps: %s" % (name, check_exact(fg, name, act)))
        med = time_steps(name, impls, args.rounds, clock, ratios=False)
        for k in impls:
            if k != "numpy":
                print("  %-13s / numpy %.2fx" % (k, med[k] / med["numpy"]))
        print("  fg.compile / fastgrad eager %.2fx" % (med["fg.compile"] / med["fastgrad"]))
        results[name] = med
    if args.plot:
        plot(results, args.plot, "CPU time" if args.cpu_time else "wall time")


def plot(results, path, clock_name):
    """One group of bars per workload: each implementation's median time per step relative to hand NumPy
    (log scale, below 1 is faster), with the microseconds written on each bar."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    impls = [k for k in results[names[0]]]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(impls)
    for j, impl in enumerate(impls):
        xs = [i + (j - (len(impls) - 1) / 2) * width for i in range(len(names))]
        rel = [results[n][impl] / results[n]["numpy"] for n in names]
        bars = ax.bar(xs, rel, width, label=impl)
        for bar, n in zip(bars, names):
            ax.annotate("%.0f" % results[n][impl], (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="gray", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels({"W2": "digits step (64-50-10, CE)", "W1": "MLP step (784-100-10, MSE)"}.get(n, n) for n in names)
    ax.set_ylabel("time per step / hand NumPy")
    ax.set_title("fastgrad.compile, 1 thread, %s (us on the bars)" % clock_name, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("wrote", path)


if __name__ == "__main__":
    main()
