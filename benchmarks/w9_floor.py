"""W9's matrix products alone (the shapes of fastgrad's LSTM step, on fastgrad's BLAS, 1 thread)
against the whole fastgrad and torch steps: interleaved rounds of 3 steps each, thread CPU time.
The products are the floor of fastgrad's step on that BLAS (benchmarks/NOTES_models.md M8).

    python benchmarks/w9_floor.py [rounds]
    OPENBLAS_CORETYPE=SkylakeX python benchmarks/w9_floor.py    (NumPy's OpenBLAS on AVX-512 kernels)
"""
import os
import sys
import time

import numpy as np

import models  # the shared harness (benchmarks/ is the script's folder, sys.path[0])
import w9_lstm as mod

sys.path.insert(0, models.ROOT)
import fastgrad  # noqa: E402
import torch  # noqa: E402
from fastgrad._backend import K  # noqa: E402

T, B, H = mod.T, mod.B, mod.H


def products_step():
    """One step's products, in fastgrad's shapes and layouts (fastgrad/_ops/rnn.py LSTMLayer,
    fastgrad/_ops/nn.py linear): per layer the input projection, T recurrent products forward
    and T backward, the weight gradients as one product each; the output layer's three."""
    rng = np.random.default_rng(0)

    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    x, g, w_ih, w_hh, w_out, h, dg, y = (f(T * B, H), f(T * B, 4 * H), f(4 * H, H), f(4 * H, H), f(H, H),
                                         f(B, H), f(B, 4 * H), f(T * B, H))
    w_hh_t = np.ascontiguousarray(w_hh.T)

    def step():
        for _ in range(2):
            K.mm(x, w_ih.T)
            for _ in range(T):
                K.mm(h, w_hh_t)
        K.mm(x, w_out.T)
        K.mm(y.T, x)
        K.mm(y, w_out)
        for layer in range(2):
            for _ in range(T):
                K.mm(dg, w_hh)
            K.mm(g.T, x)  # weight_hh's gradient
            K.mm(g.T, x)  # weight_ih's gradient
            if layer == 1:
                K.mm(g, w_ih)  # the gradient of the first layer's output
    return step


def main(rounds):
    torch.set_num_threads(1)
    fastgrad.set_num_threads(1)
    weights = models.torch_weights(mod, "W9")
    steps = {"fastgrad": models.instance(mod, "W9", fastgrad, weights)[1],
             "torch": models.instance(mod, "W9", torch, weights)[1], "products only": products_step()}
    for s in steps.values():
        s()
        s()
    times = {k: [] for k in steps}
    for _ in range(rounds):
        for k, s in steps.items():
            t = time.thread_time()
            for _ in range(3):
                s()
            times[k].append((time.thread_time() - t) / 3 * 1e3)
    print("W9, 1 thread, OPENBLAS_CORETYPE=%s: ms per step (thread CPU time), median (min) of %d rounds"
          % (os.environ.get("OPENBLAS_CORETYPE", "(unset)"), rounds))
    for k, v in times.items():
        print("   %-14s %.1f (%.1f)" % (k, np.median(v), min(v)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
