"""torch.distributed.algorithms: the generic Join context manager (uneven inputs across ranks) and DDP's
communication hooks (ddp_comm_hooks)."""
from fastgrad.distributed.algorithms.join import Join, Joinable, JoinHook  # noqa: F401

__all__ = ["Join", "Joinable", "JoinHook"]
