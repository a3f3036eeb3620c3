"""W8: a GPT-style language model's training step, fastgrad against PyTorch in one process (the
shared harness: models.py): token + position Embedding, 4 blocks (LayerNorm, causal
self-attention with 4 heads through F.scaled_dot_product_attention, LayerNorm, MLP 128-512-128
with GELU), final LayerNorm, linear head to the 65-token vocabulary; width 128, context 64,
batch 16; cross-entropy, clip_grad_norm_(1.0), AdamW (lr 3e-4, weight decay 0.1).

    python benchmarks/w8_gpt.py [--threads 1 2] [--rounds 9] [--profile] [--memory]
"""
import sys

import numpy as np

import models  # (the shared harness; benchmarks/ is the script's folder, sys.path[0])

WORKLOADS = {"W8": "GPT 4 layers x 4 heads, width 128, context 64, batch 16, vocab 65, AdamW + clip"}
V, D, HEADS, LAYERS, T, B = 65, 128, 4, 4, 64, 16


def build(lib, name):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.fc, self.out = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
            q, k, v = (a.view(b, t, HEADS, d // HEADS).transpose(1, 2) for a in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, d))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(V, D), nn.Embedding(T, D)
            self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln, self.head = nn.LayerNorm(D), nn.Linear(D, V)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1]))
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x))

    return GPT()


def data(name):
    rng = np.random.default_rng(8)
    return {"x": rng.integers(0, V, (B, T)), "y": rng.integers(0, V, (B, T))}


def make_step(lib, name, model, inputs):
    return models.training_step(lib, model, lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1), inputs,
                                lambda out, y: lib.nn.functional.cross_entropy(out.view(-1, V), y.view(-1)), clip=1.0)


if __name__ == "__main__":
    models.main(sys.modules[__name__])
