"""DistributedDataParallel scaling: 2 MPI processes against 1 on an MLP whose step is compute-bound (weak scaling:
each process keeps the same batch, so 2 processes do twice the work per step; efficiency = 1-process step time
/ 2-process step time, 1.0 being perfect). Every process is pinned to one BLAS/OpenMP thread, so 1 process uses
one core and 2 processes two.

Measured inside the 2-process run (the fastest of the timed steps, rank 0's: on a shared machine the minimum is
the step that got its cores; medians are in the JSON line):
  local    the training step of the plain module (no communication), the baseline of the exposed time
  ddp      the same step through DDP (gradients all-reduced in buckets during backward)
  serial   DDP with one bucket (bucket_cap_mb large): its all-reduce can only start when backward ends
  comm     an all-reduce of all the gradients alone (the communication DDP has to hide)
  exposed  the time the last gradient hook waits for the all-reduces still in flight (the reducer's log, from
           "wait" to "finalized": communication not hidden), median over steps
  hidden   the share of the all-reduce DDP hides behind backward: 1 - exposed / comm (medians)
  latency / bandwidth: all_reduce of 8 bytes, and comm's bytes / comm (the inputs of the README's scaling model)

    python benchmarks/ddp.py [--width 1024] [--depth 4] [--batch 256] [--steps 12] [--bucket-mb 1]
    mpirun -n 2 python benchmarks/ddp.py --worker ...     (what the launcher runs; prints JSON on rank 0)

The machine's load average is printed with the results: on a shared machine other processes take the cores
the second rank needs, and the efficiency measures that too.
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
THREADS_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def worker(args):
    sys.path.insert(0, str(ROOT))
    import fastgrad as torch
    import fastgrad.distributed as dist
    from fastgrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    layers = []
    for _ in range(args.depth):
        layers += [torch.nn.Linear(args.width, args.width), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    nparams = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(args.batch, args.width, generator=g)
    y = torch.randn(args.batch, args.width, generator=g)

    nets = {"local": model, "ddp": DDP(model, bucket_cap_mb=args.bucket_mb),
            "serial": DDP(model, bucket_cap_mb=10 ** 4)}  # the DDPs act only on their own forward's backward
    opts = {k: torch.optim.SGD(model.parameters(), lr=1e-5) for k in nets}
    times = {k: [] for k in nets}
    exposed = {k: [] for k in nets}
    for i in range(args.steps + 2):
        for name, net in nets.items():  # interleaved: a drift in the machine's load hits all three alike
            dist.barrier()
            t0 = time.perf_counter()
            opts[name].zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            opts[name].step()
            if i >= 2:
                times[name].append(time.perf_counter() - t0)
                if name != "local":
                    log = {e: t for e, b, t in net.reducer.log if e in ("wait", "finalized")}
                    exposed[name].append(log["finalized"] - log["wait"])

    out = {"world": world, "params": nparams, "grad_mb": nparams * 4 / 2 ** 20}
    for name in nets:
        out[name], out[name + "_median"] = min(times[name]), statistics.median(times[name])
        if name != "local":
            out[name + "_exposed"] = statistics.median(exposed[name])
    flat = torch.zeros(nparams)
    tiny = torch.zeros(2)
    comm, lat = [], []
    for i in range(args.steps + 2):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(flat)
        comm.append(time.perf_counter() - t0)
    for i in range(200):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(tiny)
        lat.append(time.perf_counter() - t0)
    out["comm"] = min(comm[2:])
    out["latency"] = min(lat)
    out["comm_median"], out["latency_median"] = statistics.median(comm[2:]), statistics.median(lat)
    out["bandwidth_gb_s"] = nparams * 4 / max(out["comm"] - out["latency"], 1e-9) / 1e9
    if world > 1:
        out["hidden"] = min(1.0, max(0.0, 1 - out["ddp_exposed"] / out["comm_median"]))
        out["hidden_serial"] = min(1.0, max(0.0, 1 - out["serial_exposed"] / out["comm_median"]))
    if rank == 0:
        print("RESULT " + json.dumps(out), flush=True)
    dist.destroy_process_group()


def scaling_model(alpha, beta, nbytes, bucket_bytes, step, hidden, procs=(2, 8, 64)):
    """The README's model: an all-reduce of S bytes over P processes (Open MPI's ring / reduce-scatter +
    all-gather for large messages) takes T(P, S) = 2 (P - 1) alpha + 2 (P - 1) / P * S / beta; under weak scaling
    the compute per process stays `step`, and the step grows by the all-reduce time backward does not hide:
    (1 - hidden) T(P, S) with the hidden share measured at P = 2, or, with perfect overlap, at least the last
    bucket's T(P, bucket) and at least T(P, S) - backward (2/3 of the step). Rows: (P, T(P, S), step time,
    efficiency) for the measured overlap, then for perfect overlap."""
    rows = []
    for p in procs:
        t_all = 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes / beta
        t_last = 2 * (p - 1) * alpha + 2 * (p - 1) / p * min(bucket_bytes, nbytes) / beta
        measured = step + (1 - hidden) * t_all
        ideal = step + max(t_last, t_all - 2 * step / 3)
        rows.append((p, t_all, measured, step / measured, ideal, step / ideal))
    return rows


def launch(n, args):
    here = pathlib.Path(sys.executable).parent / "mpirun"
    exe = str(here) if here.exists() else shutil.which("mpirun")
    if exe is None:
        sys.exit("mpirun not found: pip install \"fastgrad[distributed]\"")
    env = dict(os.environ, **THREADS_ENV, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cmd = [exe, "-n", str(n), "--oversubscribe", "--bind-to", "none", sys.executable, __file__, "--worker",
           "--width", str(args.width), "--depth", str(args.depth), "--batch", str(args.batch), "--steps",
           str(args.steps), "--bucket-mb", str(args.bucket_mb)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    sys.exit(f"the {n}-process run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256, help="per process")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--bucket-mb", type=float, default=1.0)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    load0 = os.getloadavg()
    one = launch(1, args)
    two = launch(2, args)
    load1 = os.getloadavg()
    eff = one["local"] / two["ddp"]
    print(f"MLP {args.depth} x Linear({args.width}, {args.width}), {one['params']:,} parameters "
          f"({one['grad_mb']:.1f} MB of float32 gradients), batch {args.batch} per process, 1 thread per process, "
          f"{os.cpu_count()} cores, load average {load0[0]:.2f} before / {load1[0]:.2f} after")
    print(f"  1 process : step {one['local'] * 1e3:8.1f} ms (plain module), {one['ddp'] * 1e3:8.1f} ms (DDP)")
    print(f"  2 processes: step {two['ddp'] * 1e3:8.1f} ms with DDP ({args.bucket_mb:g} MB buckets), "
          f"{two['serial'] * 1e3:.1f} ms with one bucket, {two['local'] * 1e3:.1f} ms without communication")
    print(f"  scaling efficiency (2 vs 1 process, weak scaling): {eff:.2f}   throughput x{2 * eff:.2f}")
    print(f"  all-reduce of all gradients alone {two['comm_median'] * 1e3:.2f} ms (median); waited for after "
          f"backward: {two['ddp_exposed'] * 1e3:.2f} ms with buckets, {two['serial_exposed'] * 1e3:.2f} ms with one")
    print(f"  share of the all-reduce hidden behind backward: {two['hidden'] * 100:.0f}% with buckets, "
          f"{two['hidden_serial'] * 100:.0f}% with one bucket")
    print(f"  all-reduce latency {two['latency'] * 1e6:.1f} us, bandwidth {two['bandwidth_gb_s']:.2f} GB/s")
    alpha = two["latency"] / 2  # an all-reduce of 8 bytes on 2 processes: 2 (P - 1) = 2 latencies
    beta = one["params"] * 4 / max(two["comm_median"] - 2 * alpha, 1e-9)
    print(f"  scaling model (README): alpha {alpha * 1e6:.1f} us, beta {beta / 1e9:.3f} GB/s, compute step "
          f"{one['local'] * 1e3:.0f} ms, hidden share {two['hidden']:.2f} as measured at P = 2")
    for p, t_all, measured, eff_m, ideal, eff_i in scaling_model(alpha, beta, one["params"] * 4,
                                                                  args.bucket_mb * 2 ** 20, one["local"],
                                                                  two["hidden"]):
        print(f"    P = {p:2d}: all-reduce {t_all * 1e3:7.1f} ms; step {measured * 1e3:6.0f} ms "
              f"(efficiency {eff_m:.2f}) "
              f"with the measured overlap, {ideal * 1e3:6.0f} ms ({eff_i:.2f}) with perfect overlap")
    print("JSON " + json.dumps({"one": one, "two": two, "efficiency": eff, "load": [load0, load1], "args": vars(args)}))


if __name__ == "__main__":
    main()
