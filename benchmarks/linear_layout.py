"""Which layout of linear's forward product is faster on this machine's BLAS, and how often
fastgrad's rule (fastgrad._ops.nn._linear_fwd) picks the faster one (NOTES.md A7).

For each (batch, n_in, n_out) of a grid, times y = x @ w.T + b ("plain") against
y = (w @ x.T).T + b ("transposed", the compiled backend's _linear_out), alternating, and
prints the shapes where the rule's choice is more than 5% slower than the other layout,
then a summary: geometric-mean time of the rule's choices against always-plain and against
the best of the two per shape. The rule applies on NumPy's BLAS only (with MKL, linear
always computes x @ w.T: NOTES.md B2), so this script runs with FASTGRAD_BLAS=numpy.

    python benchmarks/linear_layout.py [--dtype float32] [--threads 1] [--quick]
"""
import argparse
import math
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a smaller grid, fewer rounds")
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # read when BLAS loads: re-exec
        if os.environ.get(var) != str(args.threads):
            os.environ.update(OPENBLAS_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
            os.execv(sys.executable, [sys.executable] + sys.argv)

    os.environ["FASTGRAD_BLAS"] = "numpy"  # the rule is for NumPy's BLAS (read at import)
    import numpy as np

    from fastgrad._ops import nn as nn_ops

    kernel = nn_ops._linear_out
    if kernel is None:
        sys.exit("the transposed layout needs the compiled backend")
    taken = []
    nn_ops._linear_out = lambda *a: taken.append(1) or kernel(*a)  # tells which route the rule takes

    def plain(x, w, b):
        y = np.matmul(x, w.T)
        if nn_ops._rows_add(y, b) is None:  # the plain route as _linear_fwd takes it
            y += b
        return y

    def transposed(x, w, b):
        return kernel(np.matmul(w, x.T), b, np.empty((x.shape[0], w.shape[0]), x.dtype))

    batches = (1, 8, 32, 64, 256) if args.quick else (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    widths = (32, 100, 784, 2048) if args.quick else (32, 100, 300, 784, 1024, 2048)
    outs = (10, 100, 512, 2048) if args.quick else (10, 50, 100, 300, 512, 1024, 2048)
    rounds = 5 if args.quick else 9
    rng = np.random.default_rng(0)
    log_rule = log_best = 0.0
    n = 0
    print("%s, %d thread(s); shapes where the rule's choice is > 5%% slower:" % (args.dtype, args.threads))
    for bt in batches:
        for ni in widths:
            for no in outs:
                if bt * ni * no > 512 * 1024 * 1024:
                    continue
                x = rng.standard_normal((bt, ni)).astype(args.dtype)
                w = rng.standard_normal((no, ni)).astype(args.dtype)
                b = rng.standard_normal(no).astype(args.dtype)
                taken.clear()
                nn_ops._linear_fwd(x, w, b)
                rule_t = bool(taken)
                reps = max(3, int(1e6 / (bt * ni * no)))
                t = {plain: [], transposed: []}
                for r in range(rounds):
                    for f in (plain, transposed) if r % 2 else (transposed, plain):
                        t0 = time.perf_counter()
                        for _ in range(reps):
                            f(x, w, b)
                        t[f].append((time.perf_counter() - t0) / reps)
                p, q = statistics.median(t[plain]), statistics.median(t[transposed])
                chosen = q if rule_t else p
                log_rule += math.log(chosen / p)
                log_best += math.log(min(p, q) / p)
                n += 1
                if chosen > 1.05 * min(p, q):
                    print("  batch %4d  %4d -> %4d: plain %8.1f us, transposed %8.1f us, rule takes %s"
                          % (bt, ni, no, p * 1e6, q * 1e6, "transposed" if rule_t else "plain"))
    print("%d shapes; geometric mean time of the rule's choices: %.3f of always-plain; "
          "best per shape: %.3f" % (n, math.exp(log_rule / n), math.exp(log_best / n)))


if __name__ == "__main__":
    main()
