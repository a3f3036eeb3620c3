"""The W2 step on one fixed batch, for benchmarks/instructions.sh (NOTES.md E6):
64-50-10 tanh MLP, F.cross_entropy (mean), SGD lr 0.1, batch 32.

`python benchmarks/w2_step.py` times step() against run.py's hand-written NumPy step on the
same batch and weights, interleaved in one process at 1 thread (NOTES.md E13): instruction
counts understate the interpreter's share of the time."""
import numpy as np

import fastgrad as fg

F = fg.nn.functional
rng = np.random.default_rng(0)
X = rng.standard_normal((32, 64)).astype(np.float32)
Y = rng.integers(0, 10, 32)
model = fg.nn.Sequential(fg.nn.Linear(64, 50), fg.nn.Tanh(), fg.nn.Linear(50, 10))
opt = fg.optim.SGD(model.parameters(), lr=0.1)
xb, yb = fg.from_numpy(X), fg.from_numpy(Y)


def fwd():
    return F.cross_entropy(model(xb), yb)


def fb():
    opt.zero_grad()
    fwd().backward()


def step():
    opt.zero_grad()
    loss = fwd()
    loss.backward()
    opt.step()


def np_step_fn():
    """run.py's hand-written NumPy step on this batch, from this model's weights."""
    from run import np_mlp_step
    params = [p.detach().numpy().copy() for p in model.parameters()]
    return lambda: np_mlp_step(params, X, Y, "tanh", "ce", 0.1)


def main(rounds=30, inner=200):
    import time
    np_step = np_step_fn()
    for f in (step, np_step):
        for _ in range(300):  # warm-up
            f()
    times = {"fastgrad": [], "numpy": []}
    for _ in range(rounds):
        for name, f in (("fastgrad", step), ("numpy", np_step)):
            t = time.perf_counter()
            for _ in range(inner):
                f()
            times[name].append((time.perf_counter() - t) / inner * 1e6)
    for name, v in times.items():
        print("%-8s  min %6.1f us  median %6.1f us" % (name, min(v), float(np.median(v))))
    print("fastgrad / numpy: min %.2fx, median %.2fx" % (
        min(times["fastgrad"]) / min(times["numpy"]),
        float(np.median(times["fastgrad"])) / float(np.median(times["numpy"]))))


if __name__ == "__main__":
    import os
    import sys
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # 1 thread, set before NumPy loads BLAS
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        os.execv(sys.executable, [sys.executable] + sys.argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
