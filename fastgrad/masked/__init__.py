"""fastgrad.masked: torch.masked's operations with a mask= argument, on strided tensors
(fastgrad/_ops/masked.py). MaskedTensor and sparse layouts are not provided."""
from fastgrad._ops import masked as _ops  # noqa: F401  (torch.masked._ops.logaddexp, ...)
from fastgrad._ops.masked import *  # noqa: F401,F403,A004
from fastgrad._ops.masked import __all__  # noqa: F401
