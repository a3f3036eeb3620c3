"""Pure-NumPy kernels: the twin of the compiled ``fastgrad._C`` (csrc/_C.pyx), gathered from
fastgrad/_np/, one module per kernel family as in csrc/ (csrc/README.md).

Both modules expose the same functions with the same signatures, the same argument
checks (same exception types and messages) and the same results to rounding. Every
kernel takes its inputs first and ``out`` last, writes into ``out`` and returns it (the
elementwise kernels without options allocate it when it is None: the ops pass them to the
engine as their whole forward, Op._kernel); ``add``/``sub``/``mul``/``div`` are NumPy's
ufuncs here, same-shape loops in the compiled module; the optimizer steps update their parameter and state arrays in place and return the
parameter. Arrays are float32 or float64 (all of one dtype); elementwise kernels treat
their arrays as flat, row-wise kernels work on the last axis of a 2-D (N, C) array.
Inputs that are not C-contiguous are copied; outputs and updated buffers must be
C-contiguous and writeable.

The formulas follow PyTorch's CPU kernels, rearranged where that avoids overflow or
cancellation (softplus and GELU go through sigmoid / log1p(exp(-|z|)) / erfc),
so large |x| never warns and never turns into nan. Row sums are accumulated in float64.
"""
from fastgrad._np import blas, conv, elementwise, loss, norm, optim, random, reduction, rnn
from fastgrad._np.blas import *  # noqa: F401,F403
from fastgrad._np.conv import *  # noqa: F401,F403
from fastgrad._np.elementwise import *  # noqa: F401,F403
from fastgrad._np.loss import *  # noqa: F401,F403
from fastgrad._np.norm import *  # noqa: F401,F403
from fastgrad._np.optim import *  # noqa: F401,F403
from fastgrad._np.random import *  # noqa: F401,F403
from fastgrad._np.reduction import *  # noqa: F401,F403
from fastgrad._np.rnn import *  # noqa: F401,F403

__all__ = (elementwise.__all__ + reduction.__all__ + blas.__all__ + loss.__all__ + optim.__all__ + rnn.__all__
           + random.__all__ + conv.__all__ + norm.__all__)
