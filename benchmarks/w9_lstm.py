"""W9: a 2-layer LSTM's training step (hidden 200, batch 32, 35 time steps: the recurrent
issue's layer), fastgrad against PyTorch in one process (the shared harness: models.py): the
LSTM on a (35, 32, 200) input, a linear layer 200-200 on its output, MSE to a target, SGD
(lr 0.1). benchmarks/rnn.py times the whole word-language-model step (10k vocabulary).

    python benchmarks/w9_lstm.py [--threads 1 2] [--rounds 9] [--profile] [--memory]
"""
import os
import sys

import numpy as np

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
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    x, y = inputs["x"], inputs["y"]

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import models
    models.main(sys.modules[__name__])
