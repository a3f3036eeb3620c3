"""W2: the digits MLP (64-50-10 tanh, cross-entropy, SGD), 450 steps.

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
    "W2": {"title": "W2 digits 64-50-10 tanh, CE, 450 steps", "unit": "ms",
           "n": 1, "warmup": 10, "steps": 450},
}


@cached
def data(workload, digits_path=None):
    """W2's inputs: a dict of NumPy arrays (cached per worker)."""
    import numpy as np
    rng = np.random.default_rng(1234)
    if workload == "W2":
        X, y = load_digits(digits_path)
        steps, batch = WORKLOADS["W2"]["steps"], 32
        order = np.concatenate([rng.permutation(len(X)) for _ in range(steps * batch // len(X) + 1)])
        batches = [order[i * batch:(i + 1) * batch] for i in range(steps)]
        d = {"X": X, "Y": y, "batches": batches, "params": make_mlp_params([64, 50, 10], 2), "lr": 0.1}
    else:
        raise KeyError(workload)
    return d


def lib_W2(ctx, spec):
    lib, d = ctx.lib, data("W2", ctx.digits_path)
    X, Y, F = d["X"], d["Y"], lib.nn.functional

    def train(steps):
        model = lib_mlp(lib, d["params"], lib.nn.Tanh)
        opt = lib.optim.SGD(model.parameters(), lr=d["lr"])
        loss = None
        for idx in d["batches"][:steps]:
            xb, yb = lib.from_numpy(X[idx]), lib.from_numpy(Y[idx])
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        return loss.item()

    train(spec["warmup"])                      # warm-up: a few steps on a throwaway model
    times, loss = timed(lambda: train(spec["steps"]), spec["n"], 0)
    return times, [loss]


def np_W2(ctx, spec):
    d = data("W2", ctx.digits_path)

    def train(steps):
        params = [p.copy() for p in d["params"]]
        for idx in d["batches"][:steps]:
            loss = np_mlp_step(params, d["X"][idx], d["Y"][idx], "tanh", "ce", d["lr"])
        return loss

    train(spec["warmup"])
    times, loss = timed(lambda: train(spec["steps"]), spec["n"], 0)
    return times, [loss]


def ag_W2(ctx, spec):
    from autograd import value_and_grad
    d = data("W2", ctx.digits_path)
    vg = value_and_grad(lambda ps, xb, yb: ag_mlp_loss(ps, xb, yb, "tanh", "ce"))

    def train(steps):
        params = [p.copy() for p in d["params"]]
        for idx in d["batches"][:steps]:
            loss, grads = vg(params, d["X"][idx], d["Y"][idx])
            for p, g in zip(params, grads):
                p -= d["lr"] * g
        return float(loss)

    train(spec["warmup"])
    times, loss = timed(lambda: train(spec["steps"]), spec["n"], 0)
    return times, [loss]
