"""W3: a large MLP step (256x784-1024-1024-10, cross-entropy, SGD).

A workload module of benchmarks/run.py (harness.py runs it): WORKLOADS gives each row's
title, unit and iteration counts; data() its seeded inputs; lib_<W> runs it with a
PyTorch-API library (torch or fastgrad, ctx.lib), np_<W> in hand-written NumPy (the
reference the others are checked against), ag_<W> with HIPS autograd."""
import gc  # noqa: F401
import math  # noqa: F401
import time  # noqa: F401

from common import cached, f64, load_digits, make_mlp_params, timed  # noqa: F401
from mlp import ag_mlp_loss, ag_sgd_stepper, lib_mlp, np_mlp_step  # noqa: F401

WORKLOADS = {
    "W3": {"title": "W3 MLP step 256x784-1024-1024-10, CE, SGD", "unit": "ms",
           "n": 3, "warmup": 1, "quick": {"n": 2}},
}


@cached
def data(workload, digits_path=None):
    """W3's inputs: a dict of NumPy arrays (cached per worker)."""
    import numpy as np
    rng = np.random.default_rng(1234)
    if workload == "W3":
        d = {"x": rng.standard_normal((256, 784), dtype=np.float32),
             "y": rng.integers(0, 10, 256).astype(np.int64),
             "params": make_mlp_params([784, 1024, 1024, 10], 3), "lr": 0.01}
    else:
        raise KeyError(workload)
    return d


def lib_W3(ctx, spec):
    lib, d = ctx.lib, data("W3")
    model = lib_mlp(lib, d["params"], lib.nn.ReLU)
    opt = lib.optim.SGD(model.parameters(), lr=d["lr"])
    x, y = lib.from_numpy(d["x"]), lib.from_numpy(d["y"])

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    times, loss = timed(step, spec["n"], spec["warmup"])
    return times, [loss.item()]


def np_W3(ctx, spec):
    d = data("W3")
    params = [p.copy() for p in d["params"]]
    times, loss = timed(lambda: np_mlp_step(params, d["x"], d["y"], "relu", "ce", d["lr"]),
                        spec["n"], spec["warmup"])
    return times, [loss]


def ag_W3(ctx, spec):
    d = data("W3")
    params = [p.copy() for p in d["params"]]
    step = ag_sgd_stepper(d["x"], d["y"], "relu", "ce", d["lr"])
    times, loss = timed(lambda: step(params), spec["n"], spec["warmup"])
    return times, [loss]
