"""torch.version: fastgrad's version; no CUDA/HIP/XPU build (None)."""
__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]
__version__ = "0.1.0"
debug = False
cuda = None
git_version = "Unknown"
hip = None
rocm = None
xpu = None
