"""End-to-end benchmarks: fastgrad (compiled and NumPy backends) against hand-written
NumPy, PyTorch and HIPS autograd, at 1 and 2 BLAS/OpenMP threads.

    python benchmarks/run.py                  # default run (a few minutes)
    python benchmarks/run.py --quick          # smoke run (about a minute)
    python benchmarks/run.py --threads 1 --workloads W1 W4b --impls fastgrad-cython torch

Every implementation runs in its own worker subprocess (the fastgrad backend and the
thread count are fixed at import time by environment variables), started once per thread
setting and driven over a JSON-lines pipe. Timing is interleaved: in each round every
implementation runs every workload once (several timed iterations, from the same seeded
weights and data), in a rotating order, so machine noise hits them alike. A round's value
is the median of its timed iterations; the table shows the median over rounds and the
min-max over rounds. After its timed steps every implementation reports a few numbers
(loss, gradient sums, parameter deltas) that must match the hand-NumPy reference
(rtol 1e-3): a mismatch is marked WRONG in the table and the script exits with status 2.

A single worker can be run by hand for debugging; it prints one JSON line per workload:

    python benchmarks/run.py --worker fastgrad-numpy --workload W1 --threads 1

Results: benchmarks/results/latest.json and benchmarks/results/latest.png.
"""
import argparse
import importlib
import json
import os
import pathlib
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # the workload modules beside this file
from common import load_digits  # noqa: E402
RESULTS = pathlib.Path(__file__).resolve().parent / "results"

# --------------------------------------------------------------------------- configuration
# Implementations (table columns). "proc" is the worker process that runs it; the torch
# optimizer variants run in the torch worker and only apply to the W6 workloads.
IMPLS = {
    "fastgrad-cython": {"proc": "fastgrad-cython", "family": "lib"},
    "fastgrad-numpy": {"proc": "fastgrad-numpy", "family": "lib"},
    # the compiled backend on NumPy's BLAS (FASTGRAD_BLAS=numpy): what fastgrad-cython is
    # without the optional MKL (fastgrad._blas); only the workloads with matrix products
    "fastgrad-npblas": {"proc": "fastgrad-npblas", "family": "lib", "only": ("W1", "W2", "W3")},
    "numpy": {"proc": "numpy", "family": "numpy"},
    "torch": {"proc": "torch", "family": "lib"},
    "torch-foreach": {"proc": "torch", "family": "lib", "variant": "foreach", "only": ("W6a", "W6s")},
    "torch-fused": {"proc": "torch", "family": "lib", "variant": "fused", "only": ("W6a", "W6s")},
    "autograd": {"proc": "autograd", "family": "autograd", "skip": ("W6a", "W6s")},
}
FG = "fastgrad-cython"
REFERENCE = "numpy"

# Workloads (table rows). n = timed iterations per round, warmup = untimed iterations
# before them (both count as training steps for the correctness check), inner = calls per
# timed sample for the microsecond-scale workloads. "quick" overrides for --quick.
# Workloads (table rows), one module each (benchmarks/w*.py): n = timed iterations per round,
# warmup = untimed iterations before them (both count as training steps for the correctness
# check), inner = calls per timed sample for the microsecond-scale workloads. "quick"
# overrides for --quick. FUNCS[family][workload]: lib_<W> (torch and fastgrad), np_<W>, ag_<W>.
WORKLOAD_MODULES = [importlib.import_module(m) for m in (
    "w1_mlp_step", "w2_digits", "w3_mlp_large", "w4_overhead", "w5_sigmoid", "w6_optimizers")]
WORKLOADS = {w: spec for m in WORKLOAD_MODULES for w, spec in m.WORKLOADS.items()}
FUNCS = {family: {w: getattr(m, "%s_%s" % (prefix, w)) for m in WORKLOAD_MODULES for w in m.WORKLOADS
                  if hasattr(m, "%s_%s" % (prefix, w))}
         for family, prefix in (("lib", "lib"), ("numpy", "np"), ("autograd", "ag"))}


def data(workload, digits_path=None):
    """The workload's seeded inputs (its module's data(), cached per process)."""
    return next(m for m in WORKLOAD_MODULES if workload in m.WORKLOADS).data(workload, digits_path)
UNIT_SCALE = {"ms": 1e3, "us": 1e6}
ROUNDS_DEFAULT, ROUNDS_QUICK = 7, 3
PAUSE_DEFAULT, PAUSE_QUICK = 0.15, 0.1
RTOL, ATOL = 1e-3, 1e-5
REQUEST_TIMEOUT = 600.0


def spec_for(workload, quick):
    spec = {k: v for k, v in WORKLOADS[workload].items() if k != "quick"}
    if quick:
        spec.update(WORKLOADS[workload].get("quick", {}))
    return spec


def applicable(impl, workload):
    info = IMPLS[impl]
    return workload in info.get("only", (workload,)) and workload not in info.get("skip", ())


def fastgrad_env(proc):
    """The environment that makes worker `proc` (fastgrad-...) import that fastgrad."""
    backend = "numpy" if proc == "fastgrad-numpy" else "cython"
    return dict(FASTGRAD_BACKEND=backend, **({"FASTGRAD_BLAS": "numpy"} if proc == "fastgrad-npblas" else {}))


def thread_env(threads):
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n}


# =========================================================================== worker side
# Everything below up to "driver side" runs inside a worker process. Data and initial
# weights are generated from fixed seeds with NumPy, identically in every worker.


# Forward, manual backward and update written out; no autograd.


# --------------------------------------------------------------------------- worker process

class WorkerContext:
    """Imports the implementation's module(s) once; ctx.info goes back to the driver."""

    def __init__(self, proc, threads, digits_path):
        import numpy as np
        self.proc, self.threads, self.digits_path, self.variant = proc, threads, digits_path, None
        self.info = {"numpy": np.__version__}
        if proc.startswith("fastgrad"):
            if (ROOT / "fastgrad" / "__init__.py").exists() and str(ROOT) not in sys.path:
                sys.path.insert(0, str(ROOT))      # benchmark this checkout
            self.lib = importlib.import_module("fastgrad")
            want = fastgrad_env(proc)["FASTGRAD_BACKEND"]
            got = self.lib.get_backend()
            if got != want:
                raise RuntimeError("fastgrad backend is %r, expected %r" % (got, want))
            self.info.update(version=getattr(self.lib, "__version__", "?"), backend=got,
                             blas=getattr(self.lib._backend, "BLAS", "numpy"),
                             path=str(pathlib.Path(self.lib.__file__).parent))
        elif proc == "torch":
            self.lib = importlib.import_module("torch")
            self.info.update(version=self.lib.__version__)
        elif proc == "autograd":
            import autograd
            from importlib.metadata import version
            self.info.update(version=version("autograd"), path=str(pathlib.Path(autograd.__file__).parent))
        if proc == "torch" or proc.startswith("fastgrad"):
            if hasattr(self.lib, "set_num_threads"):
                self.lib.set_num_threads(threads)
            if hasattr(self.lib, "get_num_threads"):
                self.info["num_threads"] = self.lib.get_num_threads()
        self.family = "lib" if proc in ("torch",) or proc.startswith("fastgrad") else proc

    def run(self, workload, variant=None, quick=False):
        self.variant = variant
        try:
            fn = FUNCS[self.family][workload]
            times, check = fn(self, spec_for(workload, quick))
            return {"ok": True, "times": times, "check": [float(c) for c in check]}
        except Exception as e:             # a missing op etc.: report, keep serving
            return {"ok": False, "error": "%s: %s" % (type(e).__name__, e),
                    "traceback": traceback.format_exc(limit=6)}


def worker_main(args):
    threads = args.threads[0]
    os.environ.update(thread_env(threads))     # before numpy / torch / fastgrad import
    if args.worker.startswith("fastgrad"):
        os.environ.update(fastgrad_env(args.worker))
    proto = os.fdopen(os.dup(1), "w")          # protocol channel; libraries' prints go to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    try:
        ctx = WorkerContext(args.worker, threads, args.data)
    except Exception as e:
        send({"ready": False, "error": "%s: %s" % (type(e).__name__, e)})
        return 0
    if args.workload:                          # one-shot mode, for debugging by hand
        for w in args.workload:
            send(dict(workload=w, **ctx.run(w, args.variant, args.quick)))
        return 0
    send({"ready": True, "info": ctx.info})
    for line in sys.stdin:
        req = json.loads(line)
        send(ctx.run(req["workload"], req.get("variant"), req.get("quick", False)))
    return 0


# =========================================================================== driver side

class Worker:
    """One worker subprocess, driven over JSON lines; restarted if it dies."""

    def __init__(self, proc, threads, digits_path, extra_env):
        self.proc, self.threads, self.digits_path, self.extra_env = proc, threads, digits_path, extra_env
        self.p, self.error, self.info = None, None, {}

    def start(self):
        env = dict(os.environ, **thread_env(self.threads), **self.extra_env)
        if self.proc.startswith("fastgrad"):
            env.update(fastgrad_env(self.proc))
        cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", self.proc,
               "--threads", str(self.threads)]
        if self.digits_path:
            cmd += ["--data", self.digits_path]
        self.stderr = tempfile.TemporaryFile()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                  text=True, bufsize=1, env=env, cwd=str(ROOT))
        self.q = queue.Queue()
        threading.Thread(target=self._reader, args=(self.p, self.q), daemon=True).start()

    @staticmethod
    def _reader(p, q):
        for line in p.stdout:
            q.put(line)
        q.put(None)

    def wait_ready(self):
        msg = self._get(180)
        if msg.get("ready"):
            self.info = msg["info"]
        else:
            self.error = "unavailable: " + msg.get("error", "?")

    def _stderr_tail(self):
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def _get(self, timeout):
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            self.p.kill()
            self.p = None
            return {"ok": False, "error": "timed out after %.0f s" % timeout}
        if line is None:
            code = self.p.wait()
            self.p = None
            return {"ok": False, "error": "worker died (exit %s): %s" % (code, self._stderr_tail())}
        return json.loads(line)

    def request(self, workload, variant, quick):
        if self.error:
            return {"ok": False, "error": self.error}
        if self.p is None:                     # died earlier: start a fresh one
            self.start()
            self.wait_ready()
            if self.error:
                return {"ok": False, "error": self.error}
        self.p.stdin.write(json.dumps({"workload": workload, "variant": variant, "quick": quick}) + "\n")
        self.p.stdin.flush()
        return self._get(REQUEST_TIMEOUT)

    def close(self):
        if self.p is not None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()


def machine_info():
    import numpy as np
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "?"
    blas = "?"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]
        blas = "%s %s" % (deps["blas"].get("name", "?"), deps["blas"].get("version", ""))
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "numpy": np.__version__, "blas": blas.strip(),
            "platform": platform.platform()}


def run_setting(threads, workloads, impls, rounds, quick, digits_path, extra_env, pause):
    """All rounds for one thread count; returns {workload: {impl: result dict}}.

    With more than one thread, the driver pauses `pause` seconds before each request: the
    BLAS / OpenMP threads of the worker that just finished keep spinning for up to ~0.1 s
    and, on a 2-core machine, slow down whichever worker runs next (seen: hand-NumPy W3 at
    2 threads alternating between 15 and 30 ms)."""
    procs = sorted({IMPLS[i]["proc"] for i in impls})
    workers = {p: Worker(p, threads, digits_path, extra_env) for p in procs}
    for w in workers.values():                 # start them all, then wait (imports overlap)
        w.start()
    for w in workers.values():
        w.wait_ready()
    res = {w: {i: {"rounds": [], "checks": [], "errors": []} for i in impls} for w in workloads}
    try:
        for r in range(rounds):
            t_round = time.perf_counter()
            order = impls[r % len(impls):] + impls[:r % len(impls)]
            for wl in workloads:
                scale = UNIT_SCALE[WORKLOADS[wl]["unit"]]
                for impl in order:
                    if not applicable(impl, wl):
                        continue
                    if threads > 1:
                        time.sleep(pause)
                    out = workers[IMPLS[impl]["proc"]].request(wl, IMPLS[impl].get("variant"), quick)
                    cell = res[wl][impl]
                    if out.get("ok"):
                        times = sorted(out["times"])
                        cell["rounds"].append(times[len(times) // 2] * scale if len(times) % 2
                                              else 0.5 * (times[len(times) // 2 - 1] + times[len(times) // 2]) * scale)
                        cell["checks"].append(out["check"])
                    else:
                        cell["errors"].append(out.get("error", "?"))
                        if out.get("traceback"):
                            cell["traceback"] = out["traceback"]
            print("  threads=%d round %d/%d: %.1f s" % (threads, r + 1, rounds, time.perf_counter() - t_round),
                  flush=True)
    finally:
        for w in workers.values():
            w.close()
    infos = {p: (w.info if not w.error else {"error": w.error}) for p, w in workers.items()}
    return res, infos


def summarize(res, impls):
    """Medians, min-max, status (ok / WRONG / unavailable / n/a) and correctness per cell."""
    import numpy as np
    failures = []
    for wl, cells in res.items():
        ref = cells.get(REFERENCE)
        ref_checks = ref["checks"] if ref and ref["checks"] else None
        ref_name = REFERENCE
        if ref_checks is None and "torch" in cells and cells["torch"]["checks"]:
            ref_checks, ref_name = cells["torch"]["checks"], "torch"
        for impl in impls:
            c = cells[impl]
            if not applicable(impl, wl):
                c["status"] = "n/a"
                continue
            if not c["rounds"]:
                c["status"] = "unavailable"
                c["error"] = c["errors"][0] if c["errors"] else "?"
                continue
            v = np.array(c["rounds"])
            c.update(median=float(np.median(v)), min=float(v.min()), max=float(v.max()), status="ok")
            if c["errors"]:
                c["status"] = "partial"
                c["error"] = c["errors"][0]
            c["check"] = c["checks"][0]
            if ref_checks is None:
                c["correct"] = None
                continue
            bad = [k for k, chk in enumerate(c["checks"])
                   if len(chk) != len(ref_checks[0]) or not np.allclose(chk, ref_checks[0], rtol=RTOL, atol=ATOL)]
            c["correct"] = not bad
            c["reference"] = ref_name
            if bad:
                c["status"] = "WRONG"
                failures.append("%s %s: check %s != %s %s (rounds %s)" % (
                    wl, impl, c["checks"][bad[0]], ref_name, ref_checks[0], bad))
    return failures


def fmt(x):
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3f" % x


def ratio(cells, a, b):
    ca, cb = cells.get(a), cells.get(b)
    if ca and cb and ca.get("status") in ("ok", "partial") and cb.get("status") in ("ok", "partial"):
        return ca["median"] / cb["median"]
    return None


def render_table(threads, res, impls, notes):
    """The table for one thread count as a list of lines; unavailable cells get a [k] note."""
    header = ["workload", "unit"] + impls + ["fg/numpy", "fg/torch", "fg/fg-np"]
    rows = []
    for wl, cells in res.items():
        row = [WORKLOADS[wl]["title"], WORKLOADS[wl]["unit"]]
        for impl in impls:
            c = cells[impl]
            st = c["status"]
            if st == "n/a":
                row.append("-")
            elif st == "unavailable":
                err = c["error"]
                if err not in notes:
                    notes.append(err)
                row.append("unavailable [%d]" % (notes.index(err) + 1))
            else:
                cell = "%s (%s-%s)" % (fmt(c["median"]), fmt(c["min"]), fmt(c["max"]))
                if st == "WRONG":
                    cell += " WRONG!"
                elif st == "partial":
                    cell += " *"
                row.append(cell)
        for other in (REFERENCE, "torch", "fastgrad-numpy"):
            r = ratio(cells, FG, other)
            row.append("-" if r is None else "%.2fx" % r)
        rows.append(row)
    widths = [max(len(str(r[k])) for r in [header] + rows) for k in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) if k < 2 else str(v).rjust(w) for k, (v, w) in enumerate(zip(r, widths)))
    out = ["threads=%d   (median over rounds, min-max over rounds; fg = fastgrad-cython; ratio < 1: fastgrad faster)"
           % threads, line(header), "-" * len(line(header))]
    out += [line(r) for r in rows]
    return out


def plot(results, impls, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    settings = list(results)
    fig, axes = plt.subplots(len(settings), 1, figsize=(13, 4.2 * len(settings)), squeeze=False)
    for ax, th in zip(axes[:, 0], settings):
        res = results[th]
        wls = list(res)
        width = 0.8 / len(impls)
        for k, impl in enumerate(impls):
            xs, hs, lo, hi, wrong = [], [], [], [], []
            for j, wl in enumerate(wls):
                c, ref = res[wl][impl], res[wl].get(REFERENCE, {})
                if c.get("status") not in ("ok", "partial", "WRONG") or ref.get("status") not in ("ok", "partial"):
                    continue
                s = ref["median"]
                xs.append(j + (k - (len(impls) - 1) / 2) * width)
                hs.append(c["median"] / s)
                lo.append((c["median"] - c["min"]) / s)
                hi.append((c["max"] - c["median"]) / s)
                wrong.append(c["status"] == "WRONG")
            if xs:
                bars = ax.bar(xs, hs, width, yerr=[lo, hi], label=impl, capsize=2)
                for b, w in zip(bars, wrong):
                    if w:
                        b.set_hatch("xx")
                        b.set_edgecolor("red")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(wls)))
        ax.set_xticklabels(wls)
        ax.set_ylabel("time / hand NumPy (log)")
        ax.set_title("threads=%s" % th)
        ax.grid(axis="y", alpha=0.3, which="both")
    handles = {}
    for ax in axes[:, 0]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if handles:  # no bars without the hand-NumPy reference (--impls without numpy)
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=len(handles),
                   fontsize=8, bbox_to_anchor=(0.5, 0.965))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and iterations (about a minute)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    ap.add_argument("--rounds", type=int, help="repetition rounds (default %d, quick %d)" % (ROUNDS_DEFAULT, ROUNDS_QUICK))
    ap.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--impls", nargs="+", choices=list(IMPLS), default=list(IMPLS))
    ap.add_argument("--out", default=str(RESULTS), help="directory for latest.json / latest.png")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--pause", type=float,
                    help="seconds between requests when threads > 1, so spinning threads of the "
                         "previous worker go idle (default %.2f, quick %.2f)" % (PAUSE_DEFAULT, PAUSE_QUICK))
    ap.add_argument("--worker-env", nargs="+", default=[], metavar="KEY=VALUE",
                    help="extra environment for every worker, e.g. OMP_WAIT_POLICY=passive")
    ap.add_argument("--worker", choices=sorted({v["proc"] for v in IMPLS.values()}), help=argparse.SUPPRESS)
    ap.add_argument("--workload", nargs="+", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    ap.add_argument("--variant", choices=["foreach", "fused"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args)

    import numpy as np
    t_start = time.perf_counter()
    rounds = args.rounds or (ROUNDS_QUICK if args.quick else ROUNDS_DEFAULT)
    if args.pause is None:
        args.pause = PAUSE_QUICK if args.quick else PAUSE_DEFAULT
    impls = [i for i in IMPLS if i in args.impls]
    workloads = [w for w in WORKLOADS if w in args.workloads]
    machine = machine_info()
    print("machine: %s | %s cores (%s usable) | load %s" % (machine["cpu"], machine["cores"],
                                                            machine["usable_cores"], machine["loadavg_at_start"]))
    print("python %s, numpy %s, BLAS %s" % (machine["python"], machine["numpy"], machine["blas"]))
    extra_env = dict(kv.split("=", 1) for kv in args.worker_env)
    print("rounds=%d threads=%s quick=%s%s" % (rounds, args.threads, args.quick,
                                              " worker env %s" % extra_env if extra_env else ""), flush=True)

    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    digits_path = None
    if "W2" in workloads:                      # load once here, not in every worker
        X, y = load_digits()
        digits_path = str(out_dir / ".digits.npz")
        np.savez(digits_path, X=X, y=y)

    results, infos = {}, {}
    for th in args.threads:
        res, info = run_setting(th, workloads, impls, rounds, args.quick, digits_path, extra_env, args.pause)
        results[th], infos[th] = res, info
    failures = {th: summarize(results[th], impls) for th in args.threads}
    elapsed = time.perf_counter() - t_start

    print()
    for proc, info in infos[args.threads[0]].items():
        print("  %-16s %s" % (proc, ", ".join("%s=%s" % kv for kv in info.items())))
    notes = []
    for th in args.threads:
        print()
        print("\n".join(render_table(th, results[th], impls, notes)))
    if notes:
        print()
        for k, n in enumerate(notes, 1):
            print("[%d] %s" % (k, n))
    print("\ntotal %.0f s" % elapsed)

    for cell in (c for th in results for wl in results[th].values() for c in wl.values()):
        if not cell.get("errors"):
            cell.pop("errors", None)
    doc = {"created": time.strftime("%Y-%m-%d %H:%M:%S"), "elapsed_s": round(elapsed, 1), "machine": machine,
           "config": {"rounds": rounds, "worker_env": extra_env, "pause_s": args.pause, "threads": args.threads, "quick": args.quick, "rtol": RTOL, "atol": ATOL,
                      "workloads": {w: dict(spec_for(w, args.quick)) for w in workloads}},
           "workers": {str(th): infos[th] for th in infos},
           "results": {str(th): results[th] for th in results},
           "ratios": {str(th): {wl: {"fg/%s" % o: ratio(results[th][wl], FG, o)
                                     for o in (REFERENCE, "torch", "fastgrad-numpy")}
                                for wl in results[th]} for th in results},
           "failures": failures}
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=1))
    print("wrote %s" % (out_dir / "latest.json"))
    if not args.no_plot:
        try:
            plot(results, impls, out_dir / "latest.png",
                 "%s, %s cores, numpy %s (%s)" % (machine["cpu"], machine["cores"], machine["numpy"], machine["blas"]))
            print("wrote %s" % (out_dir / "latest.png"))
        except ImportError as e:
            print("no plot: %s" % e)

    all_fail = [f for th in failures for f in ("threads=%d %s" % (th, x) for x in failures[th])]
    if all_fail:
        print("\n" + "!" * 78 + "\nCORRECTNESS FAILURES (results differ from the reference):")
        for f in all_fail:
            print("  " + f)
        print("!" * 78)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
