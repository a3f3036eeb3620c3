"""torch.distributed.algorithms.ddp_comm_hooks: communication hooks for
DistributedDataParallel.register_comm_hook (default_hooks: allreduce_hook, fp16_compress_hook,
bf16_compress_hook and their wrappers)."""
from fastgrad.distributed.algorithms.ddp_comm_hooks import default_hooks  # noqa: F401

__all__ = ["default_hooks"]
