"""W4: per-op overhead: one add on 100 elements, a 10-op graph on 10 elements.

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
    "W4a": {"title": "W4a a+b, 100 elems, requires_grad (per op)", "unit": "us",
            "n": 7, "warmup": 1, "inner": 2000, "quick": {"n": 3}},
    "W4b": {"title": "W4b 10-op graph on 10 elems, fwd+bwd", "unit": "us",
            "n": 7, "warmup": 1, "inner": 200, "quick": {"n": 3}},
}


@cached
def data(workload, digits_path=None):
    """W4a/W4b's inputs: a dict of NumPy arrays (cached per worker)."""
    import numpy as np
    rng = np.random.default_rng(1234)
    if workload == "W4a":
        d = {"a": rng.standard_normal(100, dtype=np.float32), "b": rng.standard_normal(100, dtype=np.float32)}
    elif workload == "W4b":
        d = {"a": rng.uniform(1.0, 2.0, 10).astype(np.float32), "b": rng.uniform(0.5, 1.5, 10).astype(np.float32)}
    else:
        raise KeyError(workload)
    return d


def lib_W4a(ctx, spec):
    lib, d = ctx.lib, data("W4a")
    a = lib.tensor(d["a"], requires_grad=True)
    b = lib.tensor(d["b"], requires_grad=True)
    inner = range(spec["inner"])

    def batch():
        for _ in inner:
            c = a + b
        return c

    times, c = timed(batch, spec["n"], spec["warmup"])
    return [t / spec["inner"] for t in times], f64(c.detach().numpy())


def graph10(m, a, b):
    """10 elementwise ops; m is the module providing sin/exp/tanh."""
    c = a * b
    d = c + a
    e = m.sin(d)
    g = m.exp(e)
    h = g - b
    i = h / a
    j = i ** 2
    k = m.tanh(j)
    l = k * c
    return l.sum()


def lib_W4b(ctx, spec):
    lib, d = ctx.lib, data("W4b")
    a = lib.tensor(d["a"], requires_grad=True)
    b = lib.tensor(d["b"], requires_grad=True)
    inner = range(spec["inner"])

    def batch():
        for _ in inner:
            a.grad = None
            b.grad = None
            out = graph10(lib, a, b)
            out.backward()
        return out

    times, out = timed(batch, spec["n"], spec["warmup"])
    return [t / spec["inner"] for t in times], [out.item(), *f64(a.grad.numpy()), *f64(b.grad.numpy())]


def np_W4a(ctx, spec):
    d = data("W4a")
    a, b, inner = d["a"], d["b"], range(spec["inner"])

    def batch():
        for _ in inner:
            c = a + b
        return c

    times, c = timed(batch, spec["n"], spec["warmup"])
    return [t / spec["inner"] for t in times], f64(c)


def np_graph10_grad(a, b):
    """graph10 forward and its hand-derived backward: (out, grad_a, grad_b)."""
    import numpy as np
    c = a * b; d = c + a; e = np.sin(d); g = np.exp(e); h = g - b
    i = h / a; j = i ** 2; k = np.tanh(j); l = k * c
    out = l.sum()
    dk, dc = c, k.copy()                       # from l = k * c (dl = 1)
    dj = dk * (1 - k * k)
    di = dj * 2 * i
    dh, da = di / a, -di * h / (a * a)
    db = -dh
    dd = dh * g * np.cos(d)                    # through g = exp(e), e = sin(d)
    dc += dd
    da += dd + dc * b
    db += dc * a
    return out, da, db


def np_W4b(ctx, spec):
    d = data("W4b")
    a, b, inner = d["a"], d["b"], range(spec["inner"])

    def batch():
        for _ in inner:
            r = np_graph10_grad(a, b)
        return r

    times, (out, ga, gb) = timed(batch, spec["n"], spec["warmup"])
    return [t / spec["inner"] for t in times], [float(out), *f64(ga), *f64(gb)]


def ag_W4a(ctx, spec):
    """autograd records only while tracing: time the adds inside one traced function."""
    from autograd import make_vjp
    d = data("W4a")
    inner = range(spec["inner"])
    times = []

    def traced(ab):
        a, b = ab
        for k in range(spec["warmup"] + spec["n"]):
            t0 = time.perf_counter()
            for _ in inner:
                c = a + b
            if k >= spec["warmup"]:
                times.append((time.perf_counter() - t0) / spec["inner"])
        return c

    gc.collect()
    _, c = make_vjp(traced)((d["a"], d["b"]))
    return times, f64(c)


def ag_W4b(ctx, spec):
    import autograd.numpy as anp
    from autograd import value_and_grad
    d = data("W4b")
    vg = value_and_grad(lambda a, b: graph10(anp, a, b), argnum=(0, 1))
    inner = range(spec["inner"])

    def batch():
        for _ in inner:
            r = vg(d["a"], d["b"])
        return r

    times, (out, (ga, gb)) = timed(batch, spec["n"], spec["warmup"])
    return [t / spec["inner"] for t in times], [float(out), *f64(ga), *f64(gb)]
