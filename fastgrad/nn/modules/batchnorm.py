"""BatchNorm3d and SyncBatchNorm (on _BatchNorm of normalization.py, with BatchNorm1d/2d)."""
from fastgrad.nn.modules.normalization import _BatchNorm


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) inputs."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")
