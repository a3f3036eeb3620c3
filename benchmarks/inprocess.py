"""W1, W2, W3 and W4b timed in one process: fastgrad against run.py's hand-written NumPy and
PyTorch (when installed), in rotating order, so all see the same machine state. On a
shared machine this is steadier than run.py's separate workers for the small workloads.

    python benchmarks/inprocess.py [W1 W2 W3 W4b] [--threads 1] [--rounds 30] [--cpu-time]

--cpu-time times this thread's CPU time (time.thread_time) instead of the wall clock: on a
busy machine it leaves out the time the process waits for a core (1 thread only).

W1: the seed MLP step (64x784-100-10, MSE sum, SGD). W2: one step of run.py's digits MLP on
its first batch of 32 (64-50-10 tanh, cross-entropy, SGD). W3: the 256x784-1024-1024-10
ReLU step (cross-entropy, SGD). W4b: the 10-op graph on 10 elements, forward and backward.
When fastgrad runs its matrix products on MKL (fastgrad._blas), the MLP workloads also time
"fg-npblas": the same fastgrad step on NumPy's BLAS, switched over in the same process.
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def mlp_steps(lib, name, act):
    """The W1, W2 or W3 training step with library lib (fastgrad or torch), on fixed data
    (W2: its first batch); act is the activation's nn class name."""
    from mlp import lib_mlp
    from run import data

    d = data(name)
    xa, ya = (d["X"][d["batches"][0]], d["Y"][d["batches"][0]]) if name == "W2" else (d["x"], d["y"])
    model = lib_mlp(lib, d["params"], getattr(lib.nn, act))
    opt = lib.optim.SGD(model.parameters(), lr=d["lr"])
    x, y = lib.from_numpy(xa), lib.from_numpy(ya)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        out = model(x)
        loss = F.mse_loss(out, y, reduction="sum") if name == "W1" else F.cross_entropy(out, y)
        loss.backward()
        opt.step()

    return step


def numpy_mlp_step(name):
    from mlp import np_mlp_step
    from run import data

    d = data(name)
    xa, ya = (d["X"][d["batches"][0]], d["Y"][d["batches"][0]]) if name == "W2" else (d["x"], d["y"])
    params = [p.copy() for p in d["params"]]
    act, loss = {"W1": ("relu", "mse_sum"), "W2": ("tanh", "ce"), "W3": ("relu", "ce")}[name]
    return lambda: np_mlp_step(params, xa, ya, act, loss, d["lr"])


def graph10_step(lib):
    from run import data
    from w4_overhead import graph10

    d = data("W4b")
    a = lib.tensor(d["a"], requires_grad=True)
    b = lib.tensor(d["b"], requires_grad=True)

    def step():
        a.grad = None
        b.grad = None
        graph10(lib, a, b).backward()

    return step


def on_numpy_blas(step):
    """step, timed with fastgrad's matrix products on NumPy's BLAS instead of MKL: its
    `enter` switches K.mm and linear's layout rule over, `leave` switches them back."""
    from fastgrad import _blas, _backend
    from fastgrad._ops import nn

    K, lin = _backend.K, nn._linear_out

    def enter():
        K._blas_use(0, 0)
        nn._linear_out = K._linear_out

    def leave():
        K._blas_use(*_blas.ADDRESSES)
        nn._linear_out = lin

    step.enter, step.leave = enter, leave
    return step


def steps(name):
    """{implementation: step function} for workload name."""
    import fastgrad as fg
    from run import data
    from w4_overhead import np_graph10_grad

    if name == "W4b":
        d = data("W4b")
        out = {"fastgrad": graph10_step(fg), "numpy": lambda: np_graph10_grad(d["a"], d["b"])}
    else:
        act = "Tanh" if name == "W2" else "ReLU"
        out = {"fastgrad": mlp_steps(fg, name, act), "numpy": numpy_mlp_step(name)}
        if fg._backend.BLAS != "numpy":  # the same step on NumPy's BLAS (fastgrad._blas)
            out["fg-npblas"] = on_numpy_blas(mlp_steps(fg, name, act))
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    out["torch"] = graph10_step(torch) if name == "W4b" else mlp_steps(torch, name, act)
    return out


def time_workload(name, rounds, clock):
    time_steps(name, steps(name), rounds, clock)


def time_steps(name, impls, rounds, clock, ratios=True):
    """Time {implementation: step} in rotating order (the first sets the step count per
    measurement); print each one's median and min-max over rounds; returns the medians."""
    fns = list(impls.items())
    t0 = time.perf_counter()
    for _ in range(20):
        fns[0][1]()
    inner = max(5, int(0.004 / ((time.perf_counter() - t0) / 20)))  # ~4 ms per measurement
    for _, f in fns:
        getattr(f, "enter", lambda: None)()
        for _ in range(inner):  # warm-up
            f()
        getattr(f, "leave", lambda: None)()
    times = {k: [] for k, _ in fns}
    for r in range(rounds):
        for k, f in fns[r % len(fns):] + fns[:r % len(fns)]:
            getattr(f, "enter", lambda: None)()
            t = clock()
            for _ in range(inner):
                f()
            times[k].append((clock() - t) / inner * 1e6)
            getattr(f, "leave", lambda: None)()
    med = {k: statistics.median(v) for k, v in times.items()}
    print("%s (us%s; median, min-max over %d rounds of %d steps)"
          % (name, ", CPU time" if clock is time.thread_time else "", rounds, inner))
    for k, v in times.items():
        print("  %-8s %9.1f  (%.1f-%.1f)" % (k, med[k], min(v), max(v)))
    if not ratios:
        return med
    if "fg-npblas" in med:
        print("  fg-npblas / numpy %.2fx%s" % (med["fg-npblas"] / med["numpy"], "" if "torch" not in med else
                                               ", fg-npblas / torch %.2fx" % (med["fg-npblas"] / med["torch"])))
    print("  fastgrad / numpy %.2fx%s" % (med["fastgrad"] / med["numpy"], "" if "torch" not in med else
                                          ", fastgrad / torch %.2fx" % (med["fastgrad"] / med["torch"])))
    return med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", help="W1, W2, W3 and/or W4b (default: W1 W2 W4b)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--cpu-time", action="store_true", help="thread CPU time, not wall time")
    ap.add_argument("--build", metavar="DIR", help="time the fastgrad built in place in DIR (e.g. a "
                    "git worktree of an older commit) instead of the installed one")
    args = ap.parse_args()
    for name in args.workloads:
        if name not in ("W1", "W2", "W3", "W4b"):
            ap.error("unknown workload %r (W1, W2, W3, W4b)" % name)
    if args.cpu_time and args.threads != 1:
        ap.error("--cpu-time measures one thread: use it with --threads 1")
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):  # read when BLAS loads
        os.environ.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
        os.execv(sys.executable, [sys.executable] + sys.argv)
    sys.path.insert(0, HERE)
    if args.build:  # an editable install's import hook outranks PYTHONPATH: drop it
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, os.path.abspath(args.build))
        import fastgrad
        if not fastgrad.__file__.startswith(os.path.abspath(args.build)):
            ap.error("--build: fastgrad was imported from %s" % fastgrad.__file__)
        print("fastgrad from %s" % os.path.dirname(fastgrad.__file__))
    for name in args.workloads or ["W1", "W2", "W4b"]:
        time_workload(name, args.rounds, time.thread_time if args.cpu_time else time.perf_counter)


if __name__ == "__main__":
    main()
