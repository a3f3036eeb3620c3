"""Train a small CNN on scikit-learn's 8x8 digits with fastgrad (Conv2d, BatchNorm2d, MaxPool2d).

The training images are augmented on the fly (a random shift of up to one pixel, a little noise) by two
DataLoader worker processes, which prepare the next batches while the model trains on the current one.

    python examples/train_digits_cnn.py [--epochs 15] [--workers 2] [--out digits_cnn.png]
"""
import argparse
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tqdm import tqdm  # noqa: E402

import fastgrad as torch  # noqa: E402
from fastgrad import nn  # noqa: E402
from fastgrad.utils.data import DataLoader, Dataset  # noqa: E402

from train_digits_mlp import evaluate, load_data  # noqa: E402


class AugmentedDigits(Dataset):
    """The training digits, each item randomly shifted by up to one pixel (zeros enter at the edge) with a little
    Gaussian noise. The random draws use fastgrad's generator, which each DataLoader worker seeds differently
    (base seed + worker id), so the augmentation is reproducible under torch.manual_seed."""

    def __init__(self, x, y, noise=0.03):
        self.images = x.numpy().reshape(-1, 8, 8)
        self.labels = y
        self.noise = noise

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        dy, dx = torch.randint(-1, 2, (2,)).tolist()
        img = np.zeros((10, 10), np.float32)
        img[1 + dy:9 + dy, 1 + dx:9 + dx] = self.images[i]
        img = img[1:9, 1:9] + self.noise * torch.randn(8, 8).numpy()
        return torch.from_numpy(np.ascontiguousarray(img.reshape(64), dtype=np.float32)), self.labels[i]


class SmallCNN(nn.Module):
    def __init__(self, n_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 16 x 4 x 4
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 2 * 2, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x.reshape(-1, 1, 8, 8)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("FASTGRAD_EXAMPLE_EPOCHS", 15)))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (0: load in this process)")
    ap.add_argument("--out", default="digits_cnn.png")
    args = ap.parse_args()

    torch.manual_seed(0)
    (x_tr, y_tr), (x_te, y_te) = load_data()
    loader = DataLoader(AugmentedDigits(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers, persistent_workers=args.workers > 0)
    model = SmallCNN()
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr * 3, epochs=max(args.epochs, 1),
                                                    steps_per_epoch=len(loader))
    losses, accs = [], []
    for epoch in range(1, args.epochs + 1):
        bar = tqdm(loader, desc=f"epoch {epoch:2d}/{args.epochs}", leave=False)
        for xb, yb in bar:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        test_loss, test_acc = evaluate(model, x_te, y_te, loss_fn)
        losses.append(test_loss)
        accs.append(test_acc)
        tqdm.write(f"epoch {epoch:2d}: test loss {test_loss:.4f} acc {test_acc:.4f}")
    print(f"Final test accuracy: {accs[-1] if accs else float('nan'):.4f}")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(range(1, args.epochs + 1), losses)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("test loss")
    ax2.plot(range(1, args.epochs + 1), accs)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("test accuracy")
    fig.suptitle("Small CNN on scikit-learn digits (fastgrad)")
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"Saved the plot to {args.out}")
    return accs[-1] if accs else None


if __name__ == "__main__":
    main()
