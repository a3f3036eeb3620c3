"""Time the kernels side by side: compiled (fastgrad._C), NumPy twin (fastgrad._kernels_np)
and PyTorch (when installed), at 1 and 2 OpenMP threads.

    python benchmarks/kernels.py                 # everything, 1 and 2 threads
    python benchmarks/kernels.py --threads 2 --only small
    python benchmarks/kernels.py --root /path    # time another checkout's fastgrad/
    python benchmarks/kernels.py --threads 1 --cpu-time --only large   # on a busy machine

Each thread count runs in its own subprocess (OMP_NUM_THREADS must be set before the
OpenMP runtime starts; torch.set_num_threads too). Within one process the implementations
are timed round-robin, so machine noise hits them alike; the table shows the median time
per call and the ratio compiled / torch. Kept short: the machine is shared.
"""
import argparse
import functools
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- cases
def _cases(C, NP, torch, only):
    """(group, label, {impl: zero-argument callable}) for every benchmark. The callables
    are functools.partial objects, so the harness adds the same small cost to each."""
    import numpy as np

    P = functools.partial

    rng = np.random.default_rng(0)
    cases = []

    def arr(n, dt=np.float32, scale=3.0):
        return (rng.standard_normal(n) * scale).astype(dt)

    def t(a):
        return torch.from_numpy(a) if torch is not None else None

    aten = torch.ops.aten if torch is not None else None

    def unary(group, n, name, x, y, gy, tfwd, tbwd, extra=(), bwd_first=None):
        out = np.empty_like(x)
        first = y if bwd_first == "y" else x
        tx, ty, tgy, tout, tfirst = t(x), t(y), t(gy), t(out), t(first)
        kernel = name.split("(")[0]                  # "gelu(tanh)" runs the gelu kernels
        fwd = {"compiled": P(getattr(C, kernel + "_fwd"), x, out, *extra),
               "numpy": P(getattr(NP, kernel + "_fwd"), x, out, *extra)}
        bwd = {"compiled": P(getattr(C, kernel + "_bwd"), first, gy, out, *extra),
               "numpy": P(getattr(NP, kernel + "_bwd"), first, gy, out, *extra)}
        if torch is not None:
            fwd["torch"] = tfwd(tx, tout)
            bwd["torch"] = tbwd(tgy, tfirst, tout)
        suffix = name[len(kernel):]
        cases.append((group, "%s_fwd%s %s" % (kernel, suffix, n), fwd))
        cases.append((group, "%s_bwd%s %s" % (kernel, suffix, n), bwd))

    def activations(group, n, names):
        x = arr(n)
        gy = arr(n, scale=1.0)
        sig = (1 / (1 + np.exp(-x.astype(np.float64)))).astype(np.float32)
        th = np.tanh(x)
        # torch: the same ATen kernels autograd runs, writing into preallocated outputs
        table = {
            "sigmoid": (sig, lambda a, o: P(torch.sigmoid, a, out=o),
                        lambda g, y, o: P(aten.sigmoid_backward.grad_input, g, y, grad_input=o),
                        (), "y"),
            "tanh": (th, lambda a, o: P(torch.tanh, a, out=o),
                     lambda g, y, o: P(aten.tanh_backward.grad_input, g, y, grad_input=o),
                     (), "y"),
            "relu": (x, lambda a, o: P(torch.clamp_min, a, 0, out=o),
                     lambda g, a, o: P(aten.threshold_backward.grad_input, g, a, 0,
                                       grad_input=o), (), "x"),
            "gelu": (x, lambda a, o: P(aten.gelu.out, a, out=o),
                     lambda g, a, o: P(aten.gelu_backward.grad_input, g, a, grad_input=o),
                     (False,), "x"),
            "gelu(tanh)": (x, lambda a, o: P(aten.gelu.out, a, approximate="tanh", out=o),
                           lambda g, a, o: P(aten.gelu_backward.grad_input, g, a,
                                             approximate="tanh", grad_input=o),
                           (True,), "x"),
            "silu": (x, lambda a, o: P(aten.silu.out, a, out=o),
                     lambda g, a, o: P(aten.silu_backward.grad_input, g, a, grad_input=o),
                     (), "x"),
        }
        for name in names:
            y, tf, tb, extra, first = table[name]
            unary(group, n, name, x, y, gy, tf, tb, extra, first)

    # call overhead: 16 float32 elements
    if only in (None, "small"):
        activations("small", 16, ["sigmoid", "tanh", "relu"])
        xs = arr((4, 16))
        outs = np.empty_like(xs)
        txs, touts = t(xs), t(outs)
        d = {"compiled": P(C.softmax_fwd, xs, outs), "numpy": P(NP.softmax_fwd, xs, outs)}
        if torch is not None:
            d["torch"] = P(torch.softmax, txs, 1, out=touts)
        cases.append(("small", "softmax_fwd (4,16)", d))
        tgt = rng.integers(0, 16, 4)
        lse, loss = np.empty(4, np.float32), np.empty(4, np.float32)
        d = {"compiled": P(C.cross_entropy_fwd, xs, tgt, None, -100, 0.0, lse, loss),
             "numpy": P(NP.cross_entropy_fwd, xs, tgt, None, -100, 0.0, lse, loss)}
        if torch is not None:
            d["torch"] = P(torch.nn.functional.cross_entropy, txs, torch.from_numpy(tgt),
                           reduction="none")
        cases.append(("small", "cross_entropy_fwd (4,16)", d))
        cases.append(("small", "adam_step 16", _adam(C, NP, torch, 16, np)))

    # large arrays: 4M float32 activations, 1M float32 Adam
    if only in (None, "large"):
        activations("large", 1 << 22, ["sigmoid", "tanh", "relu", "gelu", "gelu(tanh)", "silu"])
        if getattr(C, "_avx512_gelu", lambda: False)():
            # the portable loop that the AVX-512 GELU replaced (NOTES.md, B5), same data kind
            def portable(x, out):
                C._avx512_gelu(False)
                try:
                    return C.gelu_fwd(x, out, False)
                finally:
                    C._avx512_gelu(True)
            x = arr(1 << 22)
            d = {"compiled": P(portable, x, np.empty_like(x))}
            if torch is not None:
                d["torch"] = P(aten.gelu.out, t(x), out=t(np.empty_like(x)))
            cases.append(("large", "gelu_fwd(portable) 4194304", d))
        # |x| in [12.5, 13.5], where exp(-x^2 / 2) nears the smallest normal float: a guard
        # against subnormal arithmetic (~100 cycles an operation; NOTES.md, B6)
        x = (rng.uniform(12.5, 13.5, 1 << 20) * rng.choice([-1, 1], 1 << 20)).astype(np.float32)
        g, o = np.ones_like(x), np.empty_like(x)
        d = {"compiled": P(C.gelu_fwd, x, o, False)}
        b = {"compiled": P(C.gelu_bwd, x, g, o, False)}
        if torch is not None:
            d["torch"] = P(aten.gelu.out, t(x), out=t(o))
            b["torch"] = P(aten.gelu_backward.grad_input, t(g), t(x), grad_input=t(o))
        cases.append(("large", "gelu_fwd |x|~13 1048576", d))
        cases.append(("large", "gelu_bwd |x|~13 1048576", b))
        cases.append(("large", "adam_step 1M", _adam(C, NP, torch, 1 << 20, np)))
    return cases


def _adam(C, NP, torch, n, np):
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    st = {k: [p.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)] for k in ("c", "n")}
    args = (None, 1e-3, 0.9, 0.999, 1e-8, 0.0, 10, False, False, False)
    d = {"compiled": functools.partial(C.adam_step, st["c"][0], g, st["c"][1], st["c"][2], *args),
         "numpy": functools.partial(NP.adam_step, st["n"][0], g, st["n"][1], st["n"][2], *args)}
    if torch is not None:
        for kind in ("fused", "foreach"):
            tp = torch.nn.Parameter(torch.from_numpy(p.copy()))
            tp.grad = torch.from_numpy(g)
            opt = torch.optim.Adam([tp], lr=1e-3, **{kind: True})
            d["torch " + kind] = opt.step
    return d


# --------------------------------------------------------------------------- timing
def _time(fn, budget):
    """Calls per timed sample so that one sample takes about `budget` seconds."""
    fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= budget or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * budget / max(dt, 1e-9)))


def worker(args):
    root = pathlib.Path(args.root).resolve()
    sys.path.insert(0, str(root))
    from fastgrad import _C as C  # noqa: N812
    spec = importlib.util.spec_from_file_location("kernels_np", root / "fastgrad" / "_kernels_np.py")
    NP = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(NP)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    # --cpu-time (1 thread only): this thread's CPU time, which other jobs on a shared
    # machine inflate far less than wall time (they still share caches and memory bandwidth)
    clock = time.thread_time if args.cpu_time and args.threads == 1 else time.perf_counter
    rows = []
    for group, label, impls in _cases(C, NP, torch, args.only):
        budget = 0.01 if group == "small" else 0.03
        numbers = {k: _time(f, budget) for k, f in impls.items()}
        samples = {k: [] for k in impls}
        for _ in range(args.repeat):                 # round-robin: noise hits all alike
            for k, f in impls.items():
                n = numbers[k]
                t0 = clock()
                for _ in range(n):
                    f()
                samples[k].append((clock() - t0) / n)
        med = {k: sorted(v)[len(v) // 2] for k, v in samples.items()}
        rows.append((group, label, med))
    json.dump(rows, sys.stdout)


def _fmt(sec):
    return "%8.2f us" % (sec * 1e6) if sec < 1e-3 else "%8.3f ms" % (sec * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--only", choices=["small", "large"])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by thread CPU time (1 thread only; wall time otherwise)")
    ap.add_argument("--root", default=str(ROOT), help="checkout whose fastgrad/ to time")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.threads = args.threads[0]
        return worker(args)
    for th in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(th), MKL_NUM_THREADS=str(th),
                   OPENBLAS_NUM_THREADS=str(th))
        cmd = [sys.executable, __file__, "--worker", "--threads", str(th), "--root", args.root,
               "--repeat", str(args.repeat)] + (["--only", args.only] if args.only else []) + (
                   ["--cpu-time"] if args.cpu_time else [])
        rows = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True,
                                         text=True).stdout)
        print("\n%d thread%s (median of %d%s)" % (th, "" if th == 1 else "s", args.repeat,
                                                 ", CPU time" if args.cpu_time and th == 1 else ""))
        print("%-26s %11s %11s %11s %11s  %s" % ("kernel", "compiled", "numpy", "torch",
                                                 "torch(2)", "compiled/torch"))
        for group, label, med in rows:
            torches = [k for k in med if k.startswith("torch")]
            ts = [med[k] for k in torches] + [None] * (2 - len(torches))
            cells = [_fmt(med[k]) if k in med else "%11s" % "-" for k in ("compiled", "numpy")]
            cells += [_fmt(v) if v is not None else "%11s" % "-" for v in ts]
            ratio = "%.2f" % (med["compiled"] / ts[0]) if ts[0] else "-"
            if len(torches) == 2:
                ratio += "  (%s / %s)" % tuple(k.split()[-1] for k in torches)
            print("%-26s %s %s %s %s  %s" % ((label,) + tuple(cells) + (ratio,)))


if __name__ == "__main__":
    main()
