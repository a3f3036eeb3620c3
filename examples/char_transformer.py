"""A character-level language model: a small nn.TransformerEncoder with a causal mask, trained
with fastgrad (PyTorch's API, one changed import) on the source text of Python's own textwrap
module, then sampled.

    python examples/char_transformer.py [--steps 300] [--torch]

Prints the model, the loss under a tqdm bar (a plain print every 50 steps without tqdm), the
final loss ("Final loss: ..."), and a sample of generated text. --torch runs the same program
on PyTorch, for comparison. FASTGRAD_EXAMPLE_STEPS overrides the step count (the test suite
uses it for a quick run). About 20-40 s on 2 cores at the default settings.
"""
import argparse
import math
import os
import sys
import textwrap
import time

import numpy as np

if "--torch" in sys.argv:
    import torch
    from torch import nn
else:
    import fastgrad as torch
    from fastgrad import nn

try:
    from tqdm import trange
except ImportError:  # tqdm is optional
    trange = None


def load_text(max_chars=40000):
    """The source of the standard library's textwrap module: English docstrings and code."""
    with open(textwrap.__file__, encoding="utf-8") as f:
        return f.read()[:max_chars]


class CharTransformer(nn.Module):
    """Token and position embeddings, a causal TransformerEncoder, a linear head."""

    def __init__(self, vocab, block, d_model=64, nhead=4, layers=2, ff=128):
        super().__init__()
        self.block = block
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(block, d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(block))

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos[:t]
        x = self.encoder(x, mask=self.mask[:t, :t], is_causal=True)
        return self.head(x)


def sample_next(logits, temperature, rng):
    """One index from softmax(logits / temperature): torch.multinomial where the library has it,
    else NumPy on the probabilities."""
    probs = torch.softmax(logits / temperature, dim=-1)
    if hasattr(torch, "multinomial"):
        return int(torch.multinomial(probs, 1).item())
    p = probs.detach().numpy().astype(np.float64)
    return int(rng.choice(len(p), p=p / p.sum()))


def generate(model, prompt_ids, n, temperature=0.8, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    model.eval()
    with torch.no_grad():
        for _ in range(n):
            ctx = torch.tensor(np.array([ids[-model.block:]], dtype=np.int64))
            logits = model(ctx)[0, -1]
            ids.append(sample_next(logits, temperature, rng))
    model.train()
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=int(os.environ.get("FASTGRAD_EXAMPLE_STEPS", 300)))
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--sample-chars", type=int, default=300)
    ap.add_argument("--torch", action="store_true", help="run on PyTorch instead of fastgrad")
    args = ap.parse_args()

    torch.manual_seed(0)
    text = load_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    print(f"{len(text)} characters of {textwrap.__file__}, vocabulary {len(chars)}")
    model = CharTransformer(len(chars), args.block)
    print(model)
    print(f"{sum(p.numel() for p in model.parameters())} parameters")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)

    def batch():
        starts = rng.integers(0, len(data) - args.block - 1, args.batch_size)
        x = np.stack([data[s:s + args.block] for s in starts])
        y = np.stack([data[s + 1:s + args.block + 1] for s in starts])
        return torch.tensor(x), torch.tensor(y)

    t0 = time.perf_counter()
    steps = trange(args.steps, desc="train") if trange else range(args.steps)
    avg = None
    for step in steps:
        x, y = batch()
        logits = model(x)
        loss = loss_fn(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        avg = value if avg is None else 0.95 * avg + 0.05 * value
        if trange:
            steps.set_postfix(loss=f"{avg:.3f}", refresh=False)
        elif step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {avg:.3f}")
    print(f"Initial loss (uniform): {math.log(len(chars)):.3f}")
    print(f"Final loss: {avg:.3f}  ({time.perf_counter() - t0:.1f} s)")
    prompt = "def "
    ids = generate(model, [stoi[c] for c in prompt], args.sample_chars)
    print("Sample:")
    print("".join(chars[i] for i in ids))


if __name__ == "__main__":
    main()
