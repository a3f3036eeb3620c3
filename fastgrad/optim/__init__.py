"""fastgrad.optim (placeholder until the optimizers land)."""
