"""W11: embedding + cross-entropy over a 50k vocabulary, batch 512, fastgrad against PyTorch in
one process (the shared harness: models.py): Embedding(50000, 32) of 512 token ids, a linear
layer 32 -> 50000 (the logits: 512 x 50000), cross-entropy to 512 targets, SGD (lr 0.1). The
step's time goes to the 50k-wide softmax, the products and the embedding's index-add backward;
--memory compares peak memory.

    python benchmarks/w11_embed_ce.py [--threads 1 2] [--rounds 9] [--profile] [--memory]
"""
import sys

import numpy as np

import models  # (the shared harness; benchmarks/ is the script's folder, sys.path[0])

WORKLOADS = {"W11": "Embedding(50000, 32) -> Linear(32, 50000) -> cross-entropy, batch 512, SGD"}
V, D, B = 50000, 32, 512


def build(lib, name):
    nn = lib.nn

    class Bigram(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, D)
            self.out = nn.Linear(D, V)

        def forward(self, x):
            return self.out(self.emb(x))

    return Bigram()


def data(name):
    rng = np.random.default_rng(11)
    return {"x": rng.integers(0, V, B), "y": rng.integers(0, V, B)}


def make_step(lib, name, model, inputs):
    return models.training_step(lib, model, lib.optim.SGD(model.parameters(), lr=0.1), inputs,
                                lib.nn.functional.cross_entropy)


if __name__ == "__main__":
    models.main(sys.modules[__name__])
