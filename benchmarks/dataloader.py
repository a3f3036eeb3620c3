"""DataLoader throughput: a training loop fed by a dataset whose items cost about 2 ms each, with 0 and 2
worker processes, fastgrad's DataLoader side by side with torch's (the same dataset class, the same model).

  io:  each item sleeps 2 ms (reading a file, decoding elsewhere) then builds a 3x32x32 float32 image
  cpu: each item runs about 2 ms of NumPy/Python work (a random crop of a padded image, a flip, a
       normalization and a few 3x3 box blurs, repeated to reach 2 ms on this machine)

Batch 64, 512 items a run (8 batches), a small MLP (3072-256-10, SGD) trained on each batch. Every
configuration runs in its own subprocess (so each process's peak memory is its own), rounds interleaved,
median epoch time over rounds. Reported: epoch time, the ratio 0 workers / 2 workers (speed-up), fastgrad /
torch at 2 workers, peak RSS of the main process and of the largest worker, and the bytes that cross the pipe
per batch (the shared-memory handles) against the batch's own size.

    python benchmarks/dataloader.py [--rounds 3] [--modes io cpu] [--items 512] [--threads 1]
"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
BATCH = 64


class Items:
    """Map-style dataset (no base class: the same object works with both libraries' DataLoaders)."""

    def __init__(self, n, mode, reps):
        self.n, self.mode, self.reps = n, mode, reps
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (16, 3, 40, 40), dtype=np.uint8)  # padded sources

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.mode == "io":
            time.sleep(0.002)
            img = self.images[i % 16, :, 4:36, 4:36].astype(np.float32) / 255.0
            return img, i % 10
        return augment(self.images[i % 16], np.random.default_rng(i), self.reps), i % 10


def augment(src, rng, reps):
    """A crop/flip/normalize/blur augmentation, repeated reps times (the cost knob)."""
    out = None
    for _ in range(reps):
        y, x = rng.integers(0, 9, 2)
        img = src[:, y:y + 32, x:x + 32].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            img = img[:, :, ::-1]
        img = (img - img.mean(axis=(1, 2), keepdims=True)) / (img.std(axis=(1, 2), keepdims=True) + 1e-5)
        for _ in range(3):
            pad = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="edge")
            img = sum(pad[:, dy:dy + 32, dx:dx + 32] for dy in range(3) for dx in range(3)) / 9.0
        out = np.ascontiguousarray(img, dtype=np.float32)
    return out


def calibrate(target=0.002):
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (3, 40, 40), dtype=np.uint8)
    augment(src, rng, 3)
    t0 = time.perf_counter()
    augment(src, rng, 20)
    per = (time.perf_counter() - t0) / 20
    return max(1, round(target / per))


def run_config(lib_name, workers, mode, reps, items, epochs, threads):
    """One configuration in this process: epochs of training; returns epoch times and peak memory."""
    if lib_name == "torch":
        import torch as lib
    else:
        sys.path.insert(0, str(ROOT))
        import fastgrad as lib
    lib.set_num_threads(threads)  # the training loop's threads (workers always run 1, in both libraries)
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(3 * 32 * 32, 256), lib.nn.ReLU(), lib.nn.Linear(256, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = lib.nn.CrossEntropyLoss()
    loader = lib.utils.data.DataLoader(Items(items, mode, reps), batch_size=BATCH, shuffle=True,
                                       num_workers=workers, multiprocessing_context="fork" if workers else None)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        n = 0
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            n += len(y)
        times.append(time.perf_counter() - t0)
        assert n == items
    return {"times": times, "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def pipe_bytes():
    """Bytes that cross the pipe for one collated batch (64 x 3x32x32 float32 + labels) with each library."""
    from multiprocessing.reduction import ForkingPickler

    sys.path.insert(0, str(ROOT))
    import fastgrad
    import fastgrad.multiprocessing  # noqa: F401  (registers the reducers)
    samples = [(np.ones((3, 32, 32), np.float32), i) for i in range(BATCH)]
    out = {"batch_bytes": BATCH * 3 * 32 * 32 * 4 + BATCH * 8,
           "fastgrad": len(ForkingPickler.dumps(fastgrad.utils.data.default_collate(samples)))}
    try:
        import torch
        import torch.multiprocessing  # noqa: F401
        out["torch"] = len(ForkingPickler.dumps(torch.utils.data.default_collate(samples)))
    except ImportError:
        pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["io", "cpu"])
    ap.add_argument("--items", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=2, help="epochs per subprocess (the first is a warm-up)")
    ap.add_argument("--threads", type=int, default=1, help="threads of the training loop (set_num_threads)")
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.config:  # a worker subprocess: lib,workers,mode,reps
        lib_name, workers, mode, reps = args.config.split(",")
        print(json.dumps(run_config(lib_name, int(workers), mode, int(reps), args.items, args.epochs, args.threads)))
        return
    try:
        import torch  # noqa: F401
        libs = ["fastgrad", "torch"]
    except ImportError:
        libs = ["fastgrad"]
    reps = calibrate()
    print(f"cpu items: augmentation x{reps} (about 2 ms each here); {args.items} items, batch {BATCH}, "
          f"{os.cpu_count()} cpus, training loop on {args.threads} thread(s), {args.rounds} rounds, median of each "
          f"run's epochs after the first; "
          f"load average {os.getloadavg()[0]:.1f} (the speed-ups need idle cores)")
    configs = [(lib, w, mode) for mode in args.modes for lib in libs for w in (0, 2)]
    results = {c: [] for c in configs}
    rss = {c: (0, 0) for c in configs}
    for r in range(args.rounds):
        order = configs[r % len(configs):] + configs[:r % len(configs)]
        for lib, w, mode in order:
            cmd = [sys.executable, __file__, "--config", f"{lib},{w},{mode},{reps}", "--items", str(args.items),
                   "--epochs", str(args.epochs), "--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results[(lib, w, mode)].extend(res["times"][1:])
            rss[(lib, w, mode)] = (max(rss[(lib, w, mode)][0], res["rss_main_mb"]),
                                   max(rss[(lib, w, mode)][1], res["rss_worker_mb"]))
    med = {c: statistics.median(v) for c, v in results.items()}
    print(f"{'mode':5} {'library':9} {'workers':>7} {'epoch s':>8} {'min-max':>13} {'peak RSS main/worker MB':>24}")
    for c in configs:
        lib, w, mode = c
        print(f"{mode:5} {lib:9} {w:7d} {med[c]:8.3f} {min(results[c]):6.3f}-{max(results[c]):6.3f} "
              f"{rss[c][0]:12.0f} / {rss[c][1]:.0f}")
    for mode in args.modes:
        line = f"{mode}: fastgrad 0/2 workers speed-up {med[('fastgrad', 0, mode)] / med[('fastgrad', 2, mode)]:.2f}x"
        if "torch" in libs:
            line += (f"; torch {med[('torch', 0, mode)] / med[('torch', 2, mode)]:.2f}x; fastgrad/torch at 2 workers "
                     f"{med[('fastgrad', 2, mode)] / med[('torch', 2, mode)]:.2f}, at 0 workers "
                     f"{med[('fastgrad', 0, mode)] / med[('torch', 0, mode)]:.2f}")
        print(line)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    pb = pipe_bytes()
    print(f"pipe bytes per batch (a {pb['batch_bytes']} B batch): fastgrad {pb['fastgrad']} B"
          + (f", torch {pb['torch']} B" if "torch" in pb else ""))


if __name__ == "__main__":
    main()
