"""W12: inference under no_grad of the 784-100-10 MLP (Linear, ReLU, Linear) at batch 1 (per-call
overhead) and batch 1024, fastgrad against PyTorch in one process (the shared harness:
models.py); the output is checked against torch's.

    python benchmarks/w12_infer.py [W12a W12b] [--threads 1 2] [--rounds 9] [--profile]
"""
import sys

import numpy as np

import models  # (the shared harness; benchmarks/ is the script's folder, sys.path[0])

WORKLOADS = {"W12a": "MLP 784-100-10 inference under no_grad, batch 1",
             "W12b": "MLP 784-100-10 inference under no_grad, batch 1024"}


def build(lib, name):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))


def data(name):
    rng = np.random.default_rng(12)
    return {"x": rng.standard_normal((1 if name == "W12a" else 1024, 784)).astype(np.float32)}


def make_step(lib, name, model, inputs):
    x = inputs["x"]
    model.eval()

    def step():
        with lib.no_grad():
            return model(x)

    return step


if __name__ == "__main__":
    models.main(sys.modules[__name__])
