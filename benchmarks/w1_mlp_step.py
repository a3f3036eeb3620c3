"""W1: the seed MLP step (64x784-100-10, MSE sum, SGD).

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
    "W1": {"title": "W1 MLP step 64x784-100-10, MSE-sum, SGD", "unit": "ms",
           "n": 30, "warmup": 3, "quick": {"n": 10}},
}


@cached
def data(workload, digits_path=None):
    """W1's inputs: a dict of NumPy arrays (cached per worker)."""
    import numpy as np
    rng = np.random.default_rng(1234)
    if workload == "W1":
        d = {"x": rng.standard_normal((64, 784), dtype=np.float32),
             "y": rng.standard_normal((64, 10), dtype=np.float32),
             "params": make_mlp_params([784, 100, 10], 1), "lr": 1e-4}
    else:
        raise KeyError(workload)
    return d


def lib_W1(ctx, spec):
    lib, d = ctx.lib, data("W1")
    model = lib_mlp(lib, d["params"], lib.nn.ReLU)
    opt = lib.optim.SGD(model.parameters(), lr=d["lr"])
    x, y = lib.from_numpy(d["x"]), lib.from_numpy(d["y"])

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y, reduction="sum")
        loss.backward()
        opt.step()
        return loss

    times, loss = timed(step, spec["n"], spec["warmup"])
    return times, [loss.item()]


def np_W1(ctx, spec):
    d = data("W1")
    params = [p.copy() for p in d["params"]]
    times, loss = timed(lambda: np_mlp_step(params, d["x"], d["y"], "relu", "mse_sum", d["lr"]),
                        spec["n"], spec["warmup"])
    return times, [loss]


def ag_W1(ctx, spec):
    d = data("W1")
    params = [p.copy() for p in d["params"]]
    step = ag_sgd_stepper(d["x"], d["y"], "relu", "mse_sum", d["lr"])
    times, loss = timed(lambda: step(params), spec["n"], spec["warmup"])
    return times, [loss]
