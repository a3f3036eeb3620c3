"""W5: sigmoid forward and backward on 4M floats.

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
    "W5f": {"title": "W5 sigmoid 4M forward", "unit": "ms",
            "n": 5, "warmup": 1, "quick": {"n": 3}},
    "W5b": {"title": "W5 sigmoid 4M backward (given grad)", "unit": "ms",
            "n": 5, "warmup": 1, "quick": {"n": 3}},
}


@cached
def data(workload, digits_path=None):
    """W5f/W5b's inputs: a dict of NumPy arrays (cached per worker)."""
    import numpy as np
    rng = np.random.default_rng(1234)
    if workload in ("W5f", "W5b"):
        d = {"x": rng.standard_normal(4 * 2**20, dtype=np.float32) * 3,
             "gy": rng.standard_normal(4 * 2**20, dtype=np.float32)}
    else:
        raise KeyError(workload)
    return d


def lib_W5f(ctx, spec):
    lib, d = ctx.lib, data("W5f")
    x = lib.from_numpy(d["x"]).requires_grad_()
    times, y = timed(lambda: lib.sigmoid(x), spec["n"], spec["warmup"])
    return times, f64(y.detach().numpy())


def lib_W5b(ctx, spec):
    lib, d = ctx.lib, data("W5b")
    x = lib.from_numpy(d["x"]).requires_grad_()
    gy = lib.from_numpy(d["gy"])
    times = []
    for i in range(spec["warmup"] + spec["n"]):
        y = lib.sigmoid(x)                     # forward untimed
        x.grad = None
        gc.collect()
        t0 = time.perf_counter()
        y.backward(gy)
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - t0)
    return times, f64(x.grad.numpy())


def np_sigmoid(x):
    import numpy as np
    y = np.negative(x)
    np.exp(y, out=y)
    y += 1
    return np.reciprocal(y, out=y)


def np_W5f(ctx, spec):
    d = data("W5f")
    times, y = timed(lambda: np_sigmoid(d["x"]), spec["n"], spec["warmup"])
    return times, f64(y)


def np_W5b(ctx, spec):
    d = data("W5b")
    times = []
    for i in range(spec["warmup"] + spec["n"]):
        y = np_sigmoid(d["x"])                 # forward untimed
        gc.collect()
        t0 = time.perf_counter()
        gx = 1 - y
        gx *= y
        gx *= d["gy"]
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - t0)
    return times, f64(gx)


def ag_sigmoid(x):
    import autograd.numpy as anp
    return 0.5 * (anp.tanh(0.5 * x) + 1)      # no sigmoid primitive in autograd.numpy: 4 ops


def ag_W5f(ctx, spec):
    from autograd import make_vjp
    d = data("W5f")
    times, (_, y) = timed(lambda: make_vjp(ag_sigmoid)(d["x"]), spec["n"], spec["warmup"])
    return times, f64(y)


def ag_W5b(ctx, spec):
    from autograd import make_vjp
    d = data("W5b")
    times = []
    for i in range(spec["warmup"] + spec["n"]):
        vjp, _ = make_vjp(ag_sigmoid)(d["x"])  # forward untimed
        gc.collect()
        t0 = time.perf_counter()
        gx = vjp(d["gy"])
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - t0)
    return times, f64(gx)
