"""The shared harness of the model workloads (W7 LeNet-5, W7b CNN with BatchNorm, W8 GPT, W9 LSTM,
W11 embedding + 50k-way cross-entropy, W12 MLP inference): fastgrad against PyTorch in one process.

Each workload is a module beside this file (w7_lenet.py, w7b_cnn.py, w8_gpt.py, w9_lstm.py,
w11_embed_ce.py, w12_infer.py) with
  WORKLOADS = {name: title}, build(lib, name) -> nn.Module (one model code for every library),
  data(name) -> dict of NumPy inputs, make_step(lib, name, model, inputs) -> step() -> output,
and runs this harness when started as a script:

    python benchmarks/w7_lenet.py [--threads 1 2] [--rounds 9] [--profile] [--memory]

Method:
- Initial weights: torch's default init (torch.manual_seed(0)) read as the state_dict and loaded
  into every copy of the model (load_state_dict), so every library starts from the same weights.
- Check, every run: a fresh copy of each model takes one step; the step's output, every
  parameter's gradient and the state_dict after the step (parameters, BatchNorm statistics) must
  equal torch's (float32 tolerances; MISMATCH and exit status 2 otherwise).
- Timing: one child process per thread setting (OMP/OPENBLAS/MKL_NUM_THREADS set before any
  import; torch.set_num_threads, fastgrad.set_num_threads). In it, the implementations take turns
  in rounds (order rotating), each round `inner` steps of each; the table gives the median and
  the minimum over rounds of the time per step. Columns: `fastgrad` on NumPy's BLAS (the default
  install, FASTGRAD_BLAS=numpy; the headline), `fg-mkl` (the same process's fastgrad switched to
  MKL, when the `mkl` package is installed) and `torch`.
- --memory: VmHWM of separate processes (one library each, no torch in fastgrad's): the process
  peak and the peak of one training step above the memory in use before it (peak reset with
  /proc/self/clear_refs).
- --profile: cProfile (thread CPU time) of fastgrad's step, top 25 by own time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RTOL, ATOL = 2e-3, 1e-4


def _lib(name):
    if name == "torch":
        import torch
        return torch
    import fastgrad
    return fastgrad


def torch_weights(mod, name):
    import torch
    torch.manual_seed(0)
    return {k: v.detach().numpy().copy() for k, v in mod.build(torch, name).state_dict().items()}


def instance(mod, name, lib, weights):
    """A fresh model from the weights, its step function."""
    model = mod.build(lib, name)
    model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in weights.items()})
    inputs = {k: lib.from_numpy(v.copy()) for k, v in mod.data(name).items()}
    return model, mod.make_step(lib, name, model, inputs)


def _np(t):
    if isinstance(t, (tuple, list)):
        t = t[0]
    return t.detach().numpy().astype("float64")


def check(mod, name, weights, libs):
    """One step of a fresh copy in each library; (worst relative error, what) against torch."""
    import numpy as np
    res = {}
    for ln in libs:
        lib = _lib(ln)
        model, step = instance(mod, name, lib, weights)
        out = _np(step())
        grads = {n: p.grad.numpy().astype("float64") for n, p in model.named_parameters() if p.grad is not None}
        state = {k: v.numpy().astype("float64") for k, v in model.state_dict().items()}
        res[ln] = (out, grads, state)
    ref = res.pop("torch")
    bad = []
    for ln, got in res.items():
        for what, a, b in ([("output", got[0], ref[0])] + [("grad " + k, got[1].get(k), v) for k, v in ref[1].items()]
                           + [("state " + k, got[2].get(k), v) for k, v in ref[2].items()]):
            if a is None or a.shape != b.shape:
                bad.append("%s %s: missing or shape %s vs %s" % (ln, what, None if a is None else a.shape, b.shape))
                continue
            scale = max(1.0, float(np.abs(b).max(initial=0)))
            if not np.allclose(a, b, rtol=RTOL, atol=ATOL * scale):
                bad.append("%s %s: max |diff| %.3g (max |ref| %.3g)" % (ln, what, float(np.abs(a - b).max()), scale))
    return bad


def training_step(lib, model, opt, inputs, loss, clip=None):
    """The training workloads' step(): zero_grad, loss(model(x), y), backward,
    lib.nn.utils.clip_grad_norm_(clip) when given, opt.step(); returns the loss."""
    x, y = inputs["x"], inputs["y"]
    clip_grad_norm_ = lib.nn.utils.clip_grad_norm_

    def step():
        opt.zero_grad()
        out = loss(model(x), y)
        out.backward()
        if clip is not None:
            clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return out

    return step


def on_numpy_blas(step):
    """The step run with fastgrad's products on NumPy's BLAS in a process that loaded MKL."""
    from inprocess import on_numpy_blas as onb
    return onb(step)


def child(mod, names, threads, rounds, target_ms, clock=time.perf_counter):
    """Times the workloads at `threads`; prints one JSON line {name: {impl: [ms per step per round]}}."""
    import fastgrad
    import torch
    torch.set_num_threads(threads)
    fastgrad.set_num_threads(threads)
    from fastgrad import _backend
    out = {}
    for name in names:
        w = torch_weights(mod, name)
        bad = check(mod, name, w, ["fastgrad", "torch"])
        steps = {}
        if _backend.BLAS != "numpy":
            steps["fastgrad"] = on_numpy_blas(instance(mod, name, fastgrad, w)[1])
            steps["fg-mkl"] = instance(mod, name, fastgrad, w)[1]
        else:
            steps["fastgrad"] = instance(mod, name, fastgrad, w)[1]
        steps["torch"] = instance(mod, name, torch, w)[1]
        noop = lambda: None  # noqa: E731
        t0 = clock()
        for f in steps.values():
            getattr(f, "enter", noop)()
            f()
            f()
            getattr(f, "leave", noop)()
        per = (clock() - t0) / (2 * len(steps))
        inner = max(1, int(target_ms / 1e3 / max(per, 1e-7)))
        times = {k: [] for k in steps}
        order = list(steps.items())
        for r in range(rounds):
            for k, f in order[r % len(order):] + order[:r % len(order)]:
                getattr(f, "enter", noop)()
                t = clock()
                for _ in range(inner):
                    f()
                times[k].append((clock() - t) / inner * 1e3)
                getattr(f, "leave", noop)()
        out[name] = {"times": times, "inner": inner, "bad": bad}
    print(json.dumps(out))


def memory_child(mod, name, lib_name, wpath, steps=3):
    """VmHWM of this process and of one step above the memory in use before it (kB)."""
    import numpy as np
    lib = _lib(lib_name)
    lib.set_num_threads(1)
    w = dict(np.load(wpath))
    model, step = instance(mod, name, lib, w)
    for _ in range(steps):
        step()

    def status(key):
        with open("/proc/self/status") as f:
            return int(next(ln for ln in f if ln.startswith(key)).split()[1])
    before = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    print(json.dumps({"hwm": status("VmHWM:"), "step": status("VmHWM:") - before}))


def _env(threads, blas):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), FASTGRAD_BLAS=blas)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return env


def _has_mkl():
    from importlib import metadata
    try:
        metadata.distribution("mkl")
        return True
    except metadata.PackageNotFoundError:
        return False


def main(mod):
    ap = argparse.ArgumentParser(description=(mod.__doc__ or "").split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", default=list(mod.WORKLOADS))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--target-ms", type=float, default=60.0, help="time of one round's steps per implementation")
    ap.add_argument("--cpu-time", action="store_true", help="this thread's CPU time (time.thread_time), not "
                    "the wall clock: leaves out waiting for a core on a loaded machine; 1 thread only")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--blas", default="mkl" if _has_mkl() else "numpy",
                    help="FASTGRAD_BLAS of the timing process (mkl: both columns; numpy: fastgrad alone)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    sys.path.insert(0, ROOT)  # this checkout's fastgrad
    script = os.path.abspath(sys.modules[mod.__name__].__file__ if mod.__name__ != "__main__" else sys.argv[0])
    if args.cpu_time and args.threads != [1]:
        ap.error("--cpu-time measures one thread: use it with --threads 1")
    if args.child:
        kind, *rest = args.child.split(":")
        if kind == "time":
            child(mod, args.workloads, args.threads[0], args.rounds, args.target_ms,
                  time.thread_time if args.cpu_time else time.perf_counter)
        else:
            memory_child(mod, args.workloads[0], rest[0], rest[1])
        return
    if args.profile:
        if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # read when BLAS loads: start again with it
            os.execve(sys.executable, [sys.executable, script] + sys.argv[1:], _env(1, "numpy"))
        import cProfile
        import pstats
        import fastgrad
        for name in args.workloads:
            step = instance(mod, name, fastgrad, torch_weights(mod, name))[1]
            for _ in range(2):
                step()
            pr = cProfile.Profile(time.thread_time)
            pr.enable()
            for _ in range(5):
                step()
            pr.disable()
            print("== %s: fastgrad step, 5 steps, thread CPU time" % name)
            pstats.Stats(pr).sort_stats("tottime").print_stats(25)
        return
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    if args.memory:
        import numpy as np
        for name in args.workloads:
            with tempfile.NamedTemporaryFile(suffix=".npz") as f:
                np.savez(f.name, **torch_weights(mod, name))
                row = {}
                for ln in ("fastgrad", "torch"):
                    p = subprocess.run([sys.executable, script, name, "--child", "mem:%s:%s" % (ln, f.name)],
                                       env=_env(1, "numpy"), capture_output=True, text=True)
                    if p.returncode:
                        sys.exit(p.stderr)
                    row[ln] = json.loads(p.stdout.strip().splitlines()[-1])
            print("%-4s %s  peak MB: process fastgrad %.1f / torch %.1f; one step fastgrad %.1f / torch %.1f (%.2fx)"
                  % (name, mod.WORKLOADS[name], row["fastgrad"]["hwm"] / 1e3, row["torch"]["hwm"] / 1e3,
                     row["fastgrad"]["step"] / 1e3, row["torch"]["step"] / 1e3,
                     row["fastgrad"]["step"] / max(row["torch"]["step"], 1)))
        return
    status = 0
    for t in args.threads:
        cmd = [sys.executable, script, *args.workloads, "--threads", str(t), "--rounds", str(args.rounds),
               "--target-ms", str(args.target_ms), "--child", "time"] + (["--cpu-time"] if args.cpu_time else [])
        p = subprocess.run(cmd, env=_env(t, args.blas), capture_output=True, text=True)
        if p.returncode:
            sys.exit(p.stderr)
        res = json.loads(p.stdout.strip().splitlines()[-1])
        for name, r in res.items():
            tm = r["times"]
            med = {k: statistics.median(v) for k, v in tm.items()}
            print("%s %s, %d thread(s): ms/step%s, median (min) of %d rounds x %d steps"
                  % (name, mod.WORKLOADS[name], t, " (CPU time)" if args.cpu_time else "", args.rounds, r["inner"]))
            print("   " + "   ".join("%s %.3f (%.3f)" % (k, med[k], min(v)) for k, v in tm.items()))
            print("   " + "   ".join("%s/torch %.2fx (min %.2fx)" % (k, med[k] / med["torch"], min(tm[k]) / min(tm["torch"]))
                                    for k in tm if k != "torch"))
            for b in r["bad"]:
                print("   MISMATCH " + b)
                status = 2
    print("load average %.2f %.2f %.2f" % os.getloadavg())
    sys.exit(status)
