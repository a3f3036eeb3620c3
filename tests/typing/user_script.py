"""A user's training script, type-checked with `mypy --strict` against fastgrad's stubs
(tests/test_typing.py, tools/build_wheels.sh). It also runs: `python tests/typing/user_script.py`."""
from __future__ import annotations

import fastgrad
import fastgrad.nn.functional as F
from fastgrad import Tensor, nn, optim
from fastgrad.utils.data import DataLoader, TensorDataset


class Model(nn.Module):
    def __init__(self, n_in: int, n_hidden: int, n_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x: Tensor) -> Tensor:
        h: Tensor = fastgrad.relu(self.fc1(x))
        out: Tensor = self.fc2(h)
        return out


def accuracy(logits: Tensor, target: Tensor) -> float:
    return float((logits.argmax(dim=1) == target).float().mean().item())


def train(epochs: int = 3) -> float:
    fastgrad.manual_seed(0)
    x = fastgrad.randn(64, 8)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = Model(8, 16, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = fastgrad.zeros(())
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    with fastgrad.no_grad():
        acc = accuracy(model(x), y)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) == 4 and loss.dim() == 0 and loss.requires_grad
    print("loss %.4f accuracy %.3f" % (loss.item(), acc))
    return acc


if __name__ == "__main__":
    train()
