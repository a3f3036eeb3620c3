"""torch.functional: the functions torch defines in torch/functional.py, re-exported from fastgrad
(looked up when first used, so ops other modules define are found)."""
__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "cartesian_prod",
           "block_diag", "cdist", "chain_matmul", "einsum", "istft", "lu", "norm", "meshgrid", "pca_lowrank", "split",
           "stft", "svd_lowrank", "tensordot", "unique", "unique_consecutive", "unravel_index"]


def __getattr__(name):
    if name in __all__:
        import fastgrad

        if hasattr(fastgrad, name):
            return getattr(fastgrad, name)
    raise AttributeError("module 'fastgrad.functional' has no attribute '%s'" % name)
