"""W9: a 2-layer LSTM's training step (hidden 200, batch 32, 35 time steps: the recurrent
issue's layer), fastgrad against PyTorch in one process (the shared harness: models.py): the
LSTM on a (35, 32, 200) input, a linear layer 200-200 on its output, MSE to a target, SGD
(lr 0.1). benchmarks/rnn.py times the whole word-language-model step (10k vocabulary).

    python benchmarks/w9_lstm.py [--threads 1 2] [--rounds 9] [--profile] [--memory]
"""
import sys

import numpy as np

import models  # (the shared harness; benchmarks/ is the script's folder, sys.path[0])

WORKLOADS = {"W9": "LSTM 2 layers, hidden 200, batch 32 x 35 steps, MSE, SGD"}
T, B, H = 35, 32, 200


def build(lib, name):
    nn = lib.nn

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(H, H, 2)
            self.out = nn.Linear(H, H)

        def forward(self, x):
            return self.out(self.rnn(x)[0])

    return Seq()


def data(name):
    rng = np.random.default_rng(9)
    return {"x": rng.standard_normal((T, B, H)).astype(np.float32),
            "y": rng.standard_normal((T, B, H)).astype(np.float32)}


def make_step(lib, name, model, inputs):
    return models.training_step(lib, model, lib.optim.SGD(model.parameters(), lr=0.1), inputs,
                                lib.nn.functional.mse_loss)


if __name__ == "__main__":
    models.main(sys.modules[__name__])
