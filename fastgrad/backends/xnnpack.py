"""torch.backends.xnnpack: fastgrad has no XNNPACK."""
enabled = False
