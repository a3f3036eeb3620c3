"""An LSTM language model's training step, fastgrad against PyTorch in one process: embedding
(vocab 10k, 200) -> 2-layer LSTM (hidden 200) -> linear decoder (200 -> 10k) -> cross-entropy
-> SGD, batch 32 x 35 steps (the PyTorch word-language-model example's medium shapes), both
from the same initial weights and data; rounds interleaved (alternating which goes first), so
both see the same machine state. Prints each library's median and min-max, and the ratio.

    python benchmarks/rnn.py [--threads 1] [--rounds 15] [--lstm-only] [--profile]

--lstm-only times the LSTM alone (forward + backward of the sum of its output), without the
embedding and the 10k-wide decoder whose products dominate the full step.
--profile prints cProfile's top functions of fastgrad's step instead of timing.
"""
import argparse
import os
import statistics
import sys
import time

V, E, H, B, T, LAYERS = 10000, 200, 200, 32, 35, 2


def model(lib, weights):
    class LM(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = lib.nn.Embedding(V, E)
            self.rnn = lib.nn.LSTM(E, H, LAYERS)
            self.decoder = lib.nn.Linear(H, V)

        def forward(self, x, hidden=None):
            out, hidden = self.rnn(self.encoder(x), hidden)
            return self.decoder(out).view(-1, V), hidden

    m = LM()
    with lib.no_grad():
        for name, p in m.named_parameters():
            p.copy_(lib.from_numpy(weights[name].copy()))
    return m


def make_step(lib, weights, x, y, lstm_only):
    m = model(lib, weights)
    opt = lib.optim.SGD(m.parameters(), lr=0.1)
    xs, ys = lib.from_numpy(x), lib.from_numpy(y)
    if lstm_only:
        emb = lib.from_numpy(weights["encoder.weight"][x])

        def step():
            opt.zero_grad()
            out, _ = m.rnn(emb)
            out.sum().backward()
        return step

    def step():
        opt.zero_grad()
        out, _ = m(xs)
        loss = lib.nn.functional.cross_entropy(out, ys)
        loss.backward()
        opt.step()
        return loss

    return step


def setup(lstm_only):
    import numpy as np
    import torch

    torch.manual_seed(0)
    weights = {k: v.detach().numpy().copy() for k, v in model_init(torch).items()}
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (T, B)).astype(np.int64)
    y = rng.integers(0, V, T * B).astype(np.int64)
    import fastgrad

    return {"fastgrad": make_step(fastgrad, weights, x, y, lstm_only),
            "torch": make_step(torch, weights, x, y, lstm_only)}


def model_init(torch):
    """PyTorch's default initial weights of the model (its own init, seeded)."""
    class Init(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Embedding(V, E)
            self.rnn = torch.nn.LSTM(E, H, LAYERS)
            self.decoder = torch.nn.Linear(H, V)
    return dict(Init().named_parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--lstm-only", action="store_true")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):  # read when BLAS loads
        os.environ.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
                          MKL_NUM_THREADS=str(args.threads))
        os.execv(sys.executable, [sys.executable] + sys.argv)
    import torch

    torch.set_num_threads(args.threads)
    fns = setup(args.lstm_only)
    if args.profile:
        import cProfile
        import pstats

        for _ in range(3):
            fns["fastgrad"]()
        pr = cProfile.Profile(time.thread_time)  # CPU time of this thread
        pr.enable()
        for _ in range(5):
            fns["fastgrad"]()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)
        return
    losses = {k: f().detach().item() for k, f in fns.items()} if not args.lstm_only else {}  # + warm-up
    for f in fns.values():
        f()
    clocks = {"wall": time.perf_counter}
    if args.threads == 1:  # this thread's CPU time: leaves out waiting for a core on a busy machine
        clocks["cpu"] = time.thread_time
    times = {(c, k): [] for c in clocks for k in fns}
    order = list(fns.items())
    for r in range(args.rounds):
        for k, f in (order if r % 2 == 0 else order[::-1]):
            t, c = time.perf_counter(), time.thread_time()
            f()
            times[("wall", k)].append((time.perf_counter() - t) * 1e3)
            if "cpu" in clocks:
                times[("cpu", k)].append((time.thread_time() - c) * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    what = "LSTM forward+backward" if args.lstm_only else "LSTM LM training step"
    print("%s: batch %d x %d steps, %d layers, hidden %d%s; ms, median (min-max) of %d rounds, %d thread(s)"
          % (what, B, T, LAYERS, H, "" if args.lstm_only else ", vocab %d" % V, args.rounds, args.threads))
    for c in clocks:
        for k in fns:
            v = times[(c, k)]
            print("  %-4s %-9s %8.1f  (%.1f-%.1f)" % (c, k, med[(c, k)], min(v), max(v)))
        print("  %-4s fastgrad / torch %.2fx" % (c, med[(c, "fastgrad")] / med[(c, "torch")]))
    if losses:
        print("  first-step loss: fastgrad %.6f, torch %.6f" % (losses["fastgrad"], losses["torch"]))


if __name__ == "__main__":
    main()
