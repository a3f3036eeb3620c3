"""Attention workloads timed side by side with PyTorch in one process, 1 thread, interleaved
rounds, medians:

  encoder: one training step of a 4-layer nn.TransformerEncoder (d_model 128, 4 heads,
           feed-forward 512, batch_first, dropout 0) on (16, 64, 128) input with a causal
           mask: forward, MSE loss, backward, Adam step.
  sdpa:    F.scaled_dot_product_attention forward + backward on (4, 8, 256, 64) q, k, v
           (causal), float32.

    python benchmarks/attention.py [encoder sdpa] [--rounds 15] [--cpu-time] [--profile]

--cpu-time times this thread's CPU time (time.thread_time) instead of the wall clock: on a
busy machine it leaves out the time the process waits for a core. --profile runs cProfile
(on CPU time) on fastgrad's encoder step and prints the top entries.
"""
import argparse
import statistics
import sys
import time

import numpy as np


def encoder_step(lib, seed=0):
    """A training step of the 4-layer encoder with library lib (fastgrad or torch)."""
    rng = np.random.default_rng(seed)
    layer = lib.nn.TransformerEncoderLayer(128, 4, 512, 0.0, batch_first=True)
    model = lib.nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
    sd = {k: lib.tensor(rng.standard_normal(tuple(v.shape)).astype(np.float32) * 0.05) for k, v in
          model.state_dict().items()}
    model.load_state_dict(sd)
    x = lib.tensor(rng.standard_normal((16, 64, 128)).astype(np.float32))
    y = lib.tensor(rng.standard_normal((16, 64, 128)).astype(np.float32))
    mask = lib.nn.Transformer.generate_square_subsequent_mask(64)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        out = model(x, mask=mask, is_causal=True)
        loss = F.mse_loss(out, y)
        loss.backward()
        opt.step()
        return loss

    return step


def sdpa_step(lib, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v = (lib.tensor(rng.standard_normal((4, 8, 256, 64)).astype(np.float32), requires_grad=True)
               for _ in range(3))
    g = lib.tensor(rng.standard_normal((4, 8, 256, 64)).astype(np.float32))
    F = lib.nn.functional

    def step():
        q.grad = k.grad = v.grad = None
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        o.backward(g)

    return step


WORKLOADS = {"encoder": encoder_step, "sdpa": sdpa_step}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--cpu-time", action="store_true")
    args = ap.parse_args()

    import fastgrad
    import torch

    torch.set_num_threads(1)
    if hasattr(fastgrad, "set_num_threads"):
        fastgrad.set_num_threads(1)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    print(f"fastgrad {fastgrad.get_backend()} backend, torch {torch.__version__}, 1 thread, {args.rounds} rounds, "
          f"{'CPU' if args.cpu_time else 'wall'} time")
    for name in args.workloads:
        steps = {"fastgrad": WORKLOADS[name](fastgrad), "torch": WORKLOADS[name](torch)}
        for s in steps.values():  # warm up
            s()
            s()
        times = {k: [] for k in steps}
        order = list(steps)
        for r in range(args.rounds):
            for lib in (order if r % 2 == 0 else order[::-1]):
                t0 = clock()
                steps[lib]()
                times[lib].append(clock() - t0)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"{name:8s} fastgrad {med['fastgrad']:8.2f} ms   torch {med['torch']:8.2f} ms   "
              f"ratio fastgrad/torch {med['fastgrad'] / med['torch']:.2f}")
        sys.stdout.flush()
    if args.profile:
        import cProfile
        import pstats

        step = encoder_step(fastgrad)
        step()
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
        for _ in range(5):
            step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
