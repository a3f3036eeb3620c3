"""torch.backends: the queries and flags scripts read and set (``torch.backends.cudnn.benchmark = True``,
``torch.backends.cuda.matmul.allow_tf32 = True``, ``torch.backends.mps.is_available()``). fastgrad runs on
the CPU: the accelerator backends report unavailable, as torch's CPU build does, and keep the flags set."""
from fastgrad.backends import (cpu, cuda, cudnn, mha, mkl, mkldnn, mps, nnpack, openmp, opt_einsum,  # noqa: F401
                               quantized, xnnpack)
