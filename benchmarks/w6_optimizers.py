"""W6: one optimizer step (Adam, SGD momentum) on 1M parameters.

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
    "W6a": {"title": "W6 Adam step, 1M params", "unit": "ms",
            "n": 20, "warmup": 2, "quick": {"n": 8}},
    "W6s": {"title": "W6 SGD momentum step, 1M params", "unit": "ms",
            "n": 20, "warmup": 2, "quick": {"n": 8}},
}


@cached
def data(workload, digits_path=None):
    """W6a/W6s's inputs: a dict of NumPy arrays (cached per worker)."""
    import numpy as np
    rng = np.random.default_rng(1234)
    if workload in ("W6a", "W6s"):
        d = {"p": rng.standard_normal(2**20, dtype=np.float32),
             "g": rng.standard_normal(2**20, dtype=np.float32)}
    else:
        raise KeyError(workload)
    return d


def lib_W6(ctx, spec, make_opt):
    lib, d = ctx.lib, data("W6a")
    p = lib.nn.Parameter(lib.from_numpy(d["p"].copy()))
    p.grad = lib.from_numpy(d["g"].copy())
    opt = make_opt([p])
    times, _ = timed(opt.step, spec["n"], spec["warmup"])
    return times, f64(p.detach().numpy() - d["p"])


def torch_opt_kwargs(ctx):
    return {"foreach": {"foreach": True}, "fused": {"fused": True}}.get(ctx.variant, {})


def lib_W6a(ctx, spec):
    return lib_W6(ctx, spec, lambda ps: ctx.lib.optim.Adam(ps, lr=1e-3, **torch_opt_kwargs(ctx)))


def lib_W6s(ctx, spec):
    return lib_W6(ctx, spec, lambda ps: ctx.lib.optim.SGD(ps, lr=1e-2, momentum=0.9, **torch_opt_kwargs(ctx)))


def np_W6a(ctx, spec):
    import numpy as np
    d = data("W6a")
    p, g = d["p"].copy(), d["g"]
    m, v = np.zeros_like(p), np.zeros_like(p)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    state = {"t": 0}

    def step():                                # PyTorch's Adam (no weight decay, no amsgrad)
        nonlocal p, m, v
        state["t"] += 1
        t = state["t"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2 ** t)
        denom += eps
        upd = m / denom
        upd *= lr / (1 - b1 ** t)
        p -= upd

    times, _ = timed(step, spec["n"], spec["warmup"])
    return times, f64(p - d["p"])


def np_W6s(ctx, spec):
    d = data("W6s")
    p, g = d["p"].copy(), d["g"]
    lr, mom = 1e-2, 0.9
    state = {"buf": None}

    def step():                                # PyTorch's SGD with momentum (dampening 0)
        nonlocal p
        if state["buf"] is None:
            state["buf"] = g.copy()
        else:
            state["buf"] *= mom
            state["buf"] += g
        p -= lr * state["buf"]

    times, _ = timed(step, spec["n"], spec["warmup"])
    return times, f64(p - d["p"])
