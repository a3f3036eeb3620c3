"""Train an MLP on scikit-learn's 8x8 digits with fastgrad (PyTorch's API, one changed import).

    python examples/train_digits_mlp.py [--epochs 30] [--out digits_mlp.png]

Held-out test split, a tqdm progress bar per epoch with loss and accuracy, the final test
accuracy printed, and a loss/accuracy plot saved as a PNG. FASTGRAD_EXAMPLE_EPOCHS overrides
the epoch count (the test suite uses it for a quick run).
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from tqdm import tqdm  # noqa: E402

import fastgrad as torch  # noqa: E402
from fastgrad import nn  # noqa: E402
from fastgrad.utils.data import DataLoader, TensorDataset  # noqa: E402


def load_data(seed=0):
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return (torch.tensor(x_tr), torch.tensor(y_tr)), (torch.tensor(x_te), torch.tensor(y_te))


def evaluate(model, x, y, loss_fn):
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = loss_fn(logits, y).item()
        acc = (logits.argmax(dim=1) == y).float().mean().item()
    model.train()
    return loss, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("FASTGRAD_EXAMPLE_EPOCHS", 30)))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", default="digits_mlp.png")
    ap.add_argument("--save", default=None, help="optional path for the trained weights (safetensors)")
    args = ap.parse_args()

    torch.manual_seed(0)
    (x_tr, y_tr), (x_te, y_te) = load_data()
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1))

    history = {"train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []}
    for epoch in range(1, args.epochs + 1):
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(loader, desc=f"epoch {epoch:2d}/{args.epochs}", leave=False)
        for xb, yb in bar:
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n = len(yb)
            total += n
            loss_sum += loss.item() * n
            correct += (logits.argmax(dim=1) == yb).sum().item()
            bar.set_postfix(loss=f"{loss_sum / total:.4f}", acc=f"{correct / total:.3f}", refresh=False)
        scheduler.step()
        test_loss, test_acc = evaluate(model, x_te, y_te, loss_fn)
        history["train_loss"].append(loss_sum / total)
        history["train_acc"].append(correct / total)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        tqdm.write(f"epoch {epoch:2d}: train loss {loss_sum / total:.4f} acc {correct / total:.4f} | "
                   f"test loss {test_loss:.4f} acc {test_acc:.4f}")

    _, test_acc = evaluate(model, x_te, y_te, loss_fn)
    print(f"Final test accuracy: {test_acc:.4f} ({len(y_te)} held-out digits, backend {torch.get_backend()})")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = range(1, args.epochs + 1)
    ax1.plot(epochs, history["train_loss"], label="train")
    ax1.plot(epochs, history["test_loss"], label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy loss")
    ax1.legend()
    ax2.plot(epochs, history["train_acc"], label="train")
    ax2.plot(epochs, history["test_acc"], label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    fig.suptitle("MLP on scikit-learn digits (fastgrad)")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"Saved the loss/accuracy plot to {args.out}")
    if args.save:
        torch.save(model.state_dict(), args.save)
        print(f"Saved the weights to {args.save}")
    return test_acc


if __name__ == "__main__":
    main()
