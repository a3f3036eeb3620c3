"""The W2 step on one fixed batch, for benchmarks/instructions.sh (NOTES.md E6):
64-50-10 tanh MLP, F.cross_entropy (mean), SGD lr 0.1, batch 32. (Timed against hand
NumPy and torch in one process by `python benchmarks/inprocess.py W2`.)"""
import numpy as np

import fastgrad as fg

F = fg.nn.functional
rng = np.random.default_rng(0)
X = rng.standard_normal((32, 64)).astype(np.float32)
Y = rng.integers(0, 10, 32)
model = fg.nn.Sequential(fg.nn.Linear(64, 50), fg.nn.Tanh(), fg.nn.Linear(50, 10))
opt = fg.optim.SGD(model.parameters(), lr=0.1)
xb, yb = fg.from_numpy(X), fg.from_numpy(Y)


def fwd():
    return F.cross_entropy(model(xb), yb)


def fb():
    opt.zero_grad()
    fwd().backward()


def step():
    opt.zero_grad()
    loss = fwd()
    loss.backward()
    opt.step()
