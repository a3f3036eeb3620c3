"""Train the digits MLP data-parallel over several processes with DistributedDataParallel (MPI).

    mpirun -n 2 python examples/train_digits_ddp.py [--epochs 30] [--out digits_ddp.png]
    mpirun -n 8 --hostfile hosts python examples/train_digits_ddp.py     # several machines
    python examples/train_digits_ddp.py                                  # one process works too

Each process reads its own 1/N of the training set (DistributedSampler, reshuffled per epoch), runs forward and
backward on it, and DDP averages the gradients over the processes during backward, so the N replicas take the
same optimizer steps: the same training as one process with N times the batch. Rank 0 prints the epoch
metrics (summed over the processes with all_reduce), the final test accuracy, and saves the plot and weights.
FASTGRAD_EXAMPLE_EPOCHS overrides the epoch count. Needs `pip install "fastgrad[distributed,examples]"`.
"""
import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastgrad as torch
import fastgrad.distributed as dist
from fastgrad import nn
from fastgrad.nn.parallel import DistributedDataParallel as DDP
from fastgrad.utils.data import DataLoader, DistributedSampler, TensorDataset


def load_data(seed=0):
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return (torch.tensor(x_tr), torch.tensor(y_tr)), (torch.tensor(x_te), torch.tensor(y_te))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("FASTGRAD_EXAMPLE_EPOCHS", 30)))
    ap.add_argument("--batch-size", type=int, default=16, help="per process (the global batch is N times it)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", default=None, help="optional path for the loss/accuracy plot (PNG), by rank 0")
    ap.add_argument("--save", default=None, help="optional path for the trained weights (rank 0)")
    args = ap.parse_args()

    dist.init_process_group(backend="mpi")  # rank and world size come from mpirun
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    (x_tr, y_tr), (x_te, y_te) = load_data()
    train = TensorDataset(x_tr, y_tr)
    sampler = DistributedSampler(train, shuffle=True, seed=0)  # this rank's share, from the process group
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    torch.manual_seed(rank)  # different on each rank on purpose: DDP starts everyone from rank 0's parameters
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    ddp = DDP(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(args.epochs, 1))
    if rank == 0:
        print(f"{world} process(es), {len(sampler)} training digits each, backend {torch.get_backend()}")

    history = {"train_loss": [], "train_acc": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        ddp.train()
        stats = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count on this rank
        for xb, yb in loader:
            logits = ddp(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()  # gradients are averaged over the ranks here
            optimizer.step()
            stats += torch.tensor([loss.item() * len(yb), (logits.argmax(1) == yb).sum().item(), len(yb)],
                                  dtype=torch.float64)
        scheduler.step()
        dist.all_reduce(stats)  # sums over the ranks
        ddp.eval()
        with torch.no_grad():
            test_acc = (model(x_te).argmax(1) == y_te).float().mean().item()
        history["train_loss"].append(stats[0].item() / stats[2].item())
        history["train_acc"].append(stats[1].item() / stats[2].item())
        history["test_acc"].append(test_acc)
        if rank == 0:
            print(f"epoch {epoch:2d}: train loss {history['train_loss'][-1]:.4f} acc {history['train_acc'][-1]:.4f}"
                  f" | test acc {test_acc:.4f}", flush=True)

    took = time.perf_counter() - start
    same = [None] * world
    dist.all_gather_object(same, float(sum(p.sum().item() for p in model.parameters())))
    if rank == 0:
        assert max(same) - min(same) < 1e-4, f"replicas drifted apart: {same}"
        print(f"Final test accuracy: {history['test_acc'][-1]:.4f} ({len(y_te)} held-out digits, {world} "
              f"process(es), {took:.1f} s of training; replicas identical)")
        if args.out:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6, 4))
            ax.plot(history["train_acc"], label="train")
            ax.plot(history["test_acc"], label="test")
            ax.set_xlabel("epoch")
            ax.set_ylabel("accuracy")
            ax.legend()
            ax.set_title(f"digits MLP, DistributedDataParallel on {world} processes (fastgrad)")
            fig.tight_layout()
            fig.savefig(args.out)
            print(f"Saved the accuracy plot to {args.out}")
        if args.save:
            torch.save(model.state_dict(), args.save)
            print(f"Saved the weights to {args.save}")
    dist.destroy_process_group()
    return history["test_acc"][-1]


if __name__ == "__main__":
    main()
