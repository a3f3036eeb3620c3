"""Compiled kernels (module ``fastgrad._C``); fastgrad/_np/ is the pure-NumPy twin, file for file.

Both modules expose the same functions with the same signatures, argument checks
(exception types and messages) and results to rounding. Every kernel takes its inputs
first and ``out`` last, writes into ``out`` and returns it; the optimizer steps update
their parameter and state arrays in place and return the parameter.

Layout: this file holds the shared imports and constants and includes one ``.pxi`` per
kernel family (csrc/README.md maps each to its ops and its twin); the C they call is in
``fg_<family>.h`` headers.

* Argument checks. A C fast path accepts exactly the common case (base-class ndarrays
  of one native float dtype and shape, C-contiguous, aligned, outputs writeable) with a
  few field reads of the array structs; anything else goes through the shared Python
  checks (fastgrad/_kernel_checks.py), so errors and their messages are the twin's.
* Loops: ``cdef ... noexcept nogil`` functions on raw pointers + lengths, specialised by
  dtype (fused type ``floating``). No typed memoryviews: acquiring one per array per call
  cost ~1 us, more than the whole kernel on small arrays.
* Each loop family (elementwise, row-wise, cross-entropy, each optimizer) has a range
  function ``f(..., lo, hi)`` and a driver that calls it once on [0, n) below PAR_MIN
  elements (no OpenMP region at all) or on blocks of BLOCK elements across the OpenMP
  threads (``prange``, static schedule: one contiguous stretch per thread).
* The float32 exp/tanh/sigmoid and the float64 tanh/sigmoid are branch-free C
  (fg_common.h) so GCC vectorises the loops that call them (glibc's are an opaque call
  per element); the other float64 math (exp in softmax, losses, ...) keeps libm. Loops are written to be vectorisable: loop-invariant options as selects, one
  load and one store per array, no per-element pow or division by a constant.
* Row sums accumulate in double.
"""
cimport cython
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, erfc, exp, fabs, log, log1p, log1pf, sqrt, sqrtf, tanh
from libc.stdint cimport int64_t
from libc.string cimport memcmp
from cpython.long cimport PyLong_AsLongLongAndOverflow

import numpy as np

cnp.import_array()

__all__ = []  # each family's .pxi adds its public kernels

# Loops over at least this many elements run on all OpenMP threads, in blocks of BLOCK.
cdef Py_ssize_t PAR_MIN = 32768
cdef Py_ssize_t BLOCK = 8192
# Below this many elements the GIL is kept: releasing and retaking it costs more.
cdef Py_ssize_t NOGIL_MIN = 4096

cdef double SQRT1_2 = 0.7071067811865476            # 1/sqrt(2)
cdef double INV_SQRT_2PI = 0.3989422804014327       # 1/sqrt(2*pi)
cdef double GELU_BETA = 0.7978845608028654          # sqrt(2/pi)
cdef double GELU_KAPPA = 0.044715

# Argument checks: plain Python shared with the NumPy twin (the slow path here).
from fastgrad._kernel_checks import (
    _describe, _dtype, _new_out, _same_shape, _writeable, _rows, _elementwise, _rowwise, _targets,
    _ce_args, _state, _floats)
from fastgrad._quiet import NP_QUIET as _NP_QUIET, quiet_reset as _quiet_reset, quiet_set as _quiet_set



include "common.pxi"
include "elementwise.pxi"
include "reduction.pxi"
include "blas.pxi"
include "loss.pxi"
include "optim.pxi"
include "rnn.pxi"
include "random.pxi"
include "conv.pxi"
include "norm.pxi"
include "replay.pxi"


# The kernels the ops give the engine as their whole forward (Op._kernel) that never warn: their C
# loops raise no NumPy warning and their NumPy fallbacks run with its floating-point errors ignored
# (_quiet_call). The engine runs these without setting NumPy's error state (fastgrad/_quiet.py), which
# would cost ~0.15 us an op (benchmark W4); every other forward runs with it set.
QUIET_KERNELS = (add, sub, mul, div, neg, square, sum_all, sigmoid_fwd, sigmoid_bwd, tanh_fwd, tanh_bwd,
                 relu_fwd, relu_bwd)
