"""A character-level LSTM language model with fastgrad (PyTorch's API, one changed import),
trained on the source of a Python standard-library module, then sampled.

    python examples/char_lstm.py [--iters 300] [--module argparse] [--sample 400]

Embedding -> LSTM -> linear decoder over the text's characters, trained on random windows
with truncated backpropagation (cross-entropy, Adam, gradient clipping), a tqdm progress bar
(when tqdm is installed) with the loss, bits per character on a held-out tail of the text at
the end, then --sample characters generated from a prompt at temperature --temperature.
FASTGRAD_EXAMPLE_ITERS overrides the iteration count (for a quick run). About 30 s on 2 cores.
"""
import argparse
import importlib
import math
import os
import time

import numpy as np

import fastgrad as torch
from fastgrad import nn

try:
    from tqdm import tqdm
except ImportError:  # a plain counter instead of the progress bar
    def tqdm(iterable, **kwargs):
        return _Plain(iterable)


class _Plain:
    def __init__(self, iterable):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix(self, **kwargs):
        pass


class CharLM(nn.Module):
    def __init__(self, vocab, embed=32, hidden=128, layers=1, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def load_text(module):
    """The source file of a standard-library module: plain text shipped with Python."""
    path = importlib.import_module(module).__file__
    with open(path, encoding="utf-8") as f:
        return f.read()


def batches(data, batch, seq, rng):
    """Random windows: inputs (batch, seq) and next-character targets."""
    starts = rng.integers(0, len(data) - seq - 1, batch)
    x = np.stack([data[s:s + seq] for s in starts])
    y = np.stack([data[s + 1:s + seq + 1] for s in starts])
    return torch.from_numpy(x), torch.from_numpy(y)


def evaluate(model, data, seq=128):
    """Bits per character of the model on data, read in windows of seq with state carried on."""
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for s in range(0, len(data) - 1, seq):
            x = torch.from_numpy(data[s:s + seq][None])
            y = torch.from_numpy(data[s + 1:s + seq + 1][None])
            x = x[:, :y.shape[1]]
            logits, state = model(x, state)
            total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                                 reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count / math.log(2)


def draw(probs, rng):
    """One index drawn from the probabilities (fastgrad.multinomial when fastgrad has it)."""
    if hasattr(torch, "multinomial"):
        return int(torch.multinomial(probs, 1).item())
    p = probs.numpy().astype(np.float64)
    return int(rng.choice(p.size, p=p / p.sum()))


def sample(model, prompt, n, stoi, itos, temperature, rng):
    model.eval()
    out = list(prompt)
    with torch.no_grad():
        x = torch.tensor([[stoi[c] for c in prompt]])
        logits, state = model(x)
        for _ in range(n):
            probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
            i = draw(probs, rng)
            out.append(itos[i])
            logits, state = model(torch.tensor([[i]]), state)
    model.train()
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default="argparse", help="standard-library module whose source is the text")
    ap.add_argument("--iters", type=int, default=int(os.environ.get("FASTGRAD_EXAMPLE_ITERS", 300)))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--prompt", default="def ")
    args = ap.parse_args()

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    text = load_text(args.module)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    cut = int(len(data) * 0.95)
    train, held_out = data[:cut], data[cut:]
    print("text: %s.py, %d characters, %d distinct; %d for training" % (args.module, len(text), len(chars), cut))

    model = CharLM(len(chars))
    print(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    bar = tqdm(range(args.iters), desc="training", unit="it")
    smooth = None
    for it in bar:
        x, y = batches(train, args.batch_size, args.seq, rng)
        logits, _ = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        smooth = loss.item() if smooth is None else 0.95 * smooth + 0.05 * loss.item()
        if it % 10 == 0:
            bar.set_postfix(loss="%.3f" % smooth)
    print("trained %d iterations in %.1f s; final loss %.3f" % (args.iters, time.perf_counter() - t0, smooth))
    print("held-out bits per character: %.3f (uniform: %.3f)" % (evaluate(model, held_out), math.log2(len(chars))))
    print("--- sample (temperature %.2f) ---" % args.temperature)
    print(sample(model, args.prompt, args.sample, stoi, chars, args.temperature, rng))


if __name__ == "__main__":
    main()
