"""W7 / W7b: convolutional networks' training steps, fastgrad against PyTorch in one process
(the shared harness: models.py).

  W7:  LeNet-5 on a batch of 64 1x28x28 images: conv 6@5x5, relu, maxpool 2, conv 16@5x5, relu,
       maxpool 2, linear 256-120-84-10 (relu), cross-entropy, SGD (lr 0.01, momentum 0.9).
  W7b: a batch of 32 3x32x32 images: three blocks conv 3x3 pad 1 (32, 64, 128 channels) +
       BatchNorm2d + relu + maxpool 2, linear 2048-10, cross-entropy, SGD (lr 0.01, momentum 0.9).

    python benchmarks/w7_lenet.py [W7 W7b] [--threads 1 2] [--rounds 9] [--profile] [--memory]
"""
import sys

import numpy as np

import models  # (the shared harness; benchmarks/ is the script's folder, sys.path[0])

WORKLOADS = {"W7": "LeNet-5 step, batch 64 x 1x28x28, SGD momentum",
             "W7b": "conv 32/64/128 3x3 + BatchNorm2d step, batch 32 x 3x32x32, SGD momentum"}


def build(lib, name):
    nn, F = lib.nn, lib.nn.functional

    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(256, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    class ConvBN(nn.Module):
        def __init__(self):
            super().__init__()
            chans = [3, 32, 64, 128]
            self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))
            self.bns = nn.ModuleList(nn.BatchNorm2d(b) for b in chans[1:])
            self.head = nn.Linear(128 * 4 * 4, 10)

        def forward(self, x):
            for conv, bn in zip(self.convs, self.bns):
                x = F.max_pool2d(F.relu(bn(conv(x))), 2)
            return self.head(x.flatten(1))

    return LeNet5() if name == "W7" else ConvBN()


def data(name):
    rng = np.random.default_rng(7)
    n, shape = (64, (1, 28, 28)) if name == "W7" else (32, (3, 32, 32))
    return {"x": rng.standard_normal((n,) + shape).astype(np.float32), "y": rng.integers(0, 10, n)}


def make_step(lib, name, model, inputs):
    return models.training_step(lib, model, lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), inputs,
                                lib.nn.functional.cross_entropy)


if __name__ == "__main__":
    models.main(sys.modules[__name__])
