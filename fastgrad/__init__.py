"""fastgrad: PyTorch's eager autograd API on NumPy arrays, with a compiled tape and kernels.

    import fastgrad as torch

The backend (compiled Cython or pure NumPy) is chosen once, in fastgrad/_backend.py.
"""
from fastgrad._backend import get_backend
from fastgrad._dtype import (bool_ as bool, complex64, complex128, dtype, float16, float32,  # noqa: A004
                             float64, get_default_dtype, int8, int16, int32, int64, set_default_dtype,
                             uint8, uint16, uint32, uint64)
from fastgrad._dtype import bfloat16  # noqa: F401
from fastgrad._finfo import finfo, iinfo  # noqa: F401
from fastgrad._tensor import Size, Tensor, device
from fastgrad._creation import (arange, as_tensor, asarray, bernoulli, empty, empty_like, eye,  # noqa: F401
                                from_numpy, full, full_like, linspace, logspace, normal, ones, ones_like,
                                rand, rand_like, randint, randint_like, randn, randn_like, randperm,
                                tensor, zeros, zeros_like, multinomial)
from fastgrad._random import (Generator, default_generator, get_rng_state, initial_seed,  # noqa: F401
                              manual_seed, seed, set_rng_state)
from fastgrad._ops.elementwise import (abs, add, allclose, bitwise_not, clamp, clip, cos, div, eq,  # noqa: F401,A004
                                       equal, exp, floor_divide, ge, gt, isclose, isfinite, isinf, isnan,
                                       le, log, logical_and, logical_not, logical_or, logical_xor, lt,
                                       maximum, minimum, mul, ne, neg, negative, pow, relu,
                                       rsub, sigmoid, sign, sin, sqrt, square, sub, tanh, true_divide,
                                       where)
from fastgrad._ops.reduction import argmax, argmin, max, mean, min, sum  # noqa: F401,A004
from fastgrad._ops.shape import (broadcast_to, clone, contiguous, detach, expand, flatten,  # noqa: F401
                                 permute, reshape, squeeze, swapaxes, swapdims, t, transpose,
                                 unsqueeze)
from fastgrad._ops.linalg import bmm, dot, ger, inner, inverse, matmul, mm, mv, outer, vdot  # noqa: F401
from fastgrad._ops.nn import log_softmax, softmax  # noqa: F401
from fastgrad._ops.math import *  # noqa: F401,F403,A004
from fastgrad._ops.indexing import *  # noqa: F401,F403
from fastgrad._ops.reduction_ext import *  # noqa: F401,F403,A004
from fastgrad._ops.sorting import *  # noqa: F401,F403
from fastgrad._ops.linalg_ext import (addbmm, addmm, addmv, addr, baddbmm, cdist, chain_matmul, norm,  # noqa: F401
                                      cross, det, einsum, kron, logdet, matrix_power, slogdet, tensordot)
from fastgrad._ops.linalg_ext import cholesky_legacy as cholesky, svd_legacy as svd  # noqa: F401
from fastgrad._ops.activations import celu, hardshrink, prelu, selu, threshold  # noqa: F401
from fastgrad._ops.activations import celu_, relu_, rrelu, rrelu_, selu_, threshold_  # noqa: F401
from fastgrad._ops.nn_functional import pairwise_distance, cosine_similarity  # noqa: F401
from fastgrad._ops.nn_functional import (_vf_alpha_dropout as alpha_dropout,  # noqa: F401
                                         _vf_alpha_dropout_ as alpha_dropout_, _vf_dropout as dropout,
                                         _vf_dropout_ as dropout_, _vf_feature_alpha_dropout as feature_alpha_dropout,
                                         _vf_feature_alpha_dropout_ as feature_alpha_dropout_,
                                         _vf_feature_dropout as feature_dropout,
                                         _vf_feature_dropout_ as feature_dropout_)
from fastgrad._ops.minmax import fmax, fmin  # noqa: F401
from fastgrad._ops.pointwise import addcdiv, addcmul  # noqa: F401
from fastgrad._ops.index_put import index_put, index_put_  # noqa: F401
from fastgrad.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                                         is_inference_mode_enabled, no_grad, set_grad_enabled)
from fastgrad import autograd, backends, cuda, linalg  # noqa: F401,E402
from fastgrad import nn, optim  # noqa: F401,E402
from fastgrad import utils  # noqa: F401

float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
cfloat = complex64
cdouble = complex128

from fastgrad._tensor_types import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor,  # noqa: E402,F401
                                    FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)
__version__ = "0.1.0"


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def numel(input):
    return input.numel()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    pass


def get_num_threads():
    """Threads of the compiled backend's OpenMP kernels and of the BLAS products (MKL's, NumPy's
    OpenBLAS): OMP_NUM_THREADS (or all cores) until set_num_threads."""
    from fastgrad import _blas

    return _blas.get_num_threads()


def set_num_threads(n):
    """Set get_num_threads(): the OpenMP kernels, MKL's products and NumPy's OpenBLAS (torch's
    set_num_threads covers all of its intra-op parallelism, BLAS included)."""
    import numbers

    from fastgrad import _blas

    if not isinstance(n, numbers.Integral):
        raise RuntimeError("set_num_threads expects an int, but got %s" % type(n).__name__)
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _blas.set_num_threads(n)
from fastgrad.serialization import load, save  # noqa: E402,F401
from fastgrad import sparse  # noqa: E402,F401
from fastgrad import accelerator, amp, cpu, functional, jit, onnx, random, testing, version  # noqa: E402,F401
from fastgrad import profiler  # noqa: E402,F401
from fastgrad import futures, hub, overrides, quasirandom  # noqa: E402,F401
from fastgrad.amp import autocast  # noqa: E402,F401
from fastgrad import distributions, func  # noqa: E402,F401
from fastgrad.func import vmap  # noqa: E402,F401
from fastgrad.cpu import amp as _cpu_amp  # noqa: E402,F401
from fastgrad.cuda import amp as _cuda_amp  # noqa: E402,F401
from fastgrad.sparse import sparse_coo, sparse_coo_tensor, spmm, strided  # noqa: E402,F401
from fastgrad.nn._torch_namespace import *  # noqa: E402,F401,F403  (torch.max_pool1d, torch.pixel_shuffle, ...)
from fastgrad._ops.nn_more import pdist  # noqa: E402,F401
from fastgrad import signal  # noqa: E402,F401
from fastgrad.signal.windows.windows import (bartlett_window, blackman_window, hamming_window,  # noqa: E402,F401
                                             hann_window, kaiser_window)
from fastgrad import fft  # noqa: E402,F401
from fastgrad._ops.complex import (angle, complex, conj, conj_physical, imag, is_conj, is_neg,  # noqa: E402,F401,A004
                                   isreal, polar, real, resolve_conj, resolve_neg, sgn, view_as_real,
                                   view_as_complex)
from fastgrad._ops.special import *  # noqa: E402,F401,F403  (lgamma, digamma, polygamma, erfinv, i0, igamma, logit, ...)
from fastgrad import special  # noqa: E402,F401
from fastgrad._ops.special import xlogy  # noqa: E402,F401  (torch.xlogy is torch.special.xlogy)
from fastgrad._ops.linalg_lu import lu_legacy as lu, lu_solve_legacy as lu_solve, lu_unpack, triangular_solve  # noqa: E402,F401,E501
from fastgrad._ops.linalg_more import cholesky_inverse, cholesky_solve, matrix_exp  # noqa: E402,F401
from fastgrad._ops.copies import *  # noqa: E402,F401,F403  (*_copy, *_scatter, split_with_sizes, hsplit, ...)
from fastgrad._ops.shape_more import *  # noqa: E402,F401,F403  (as_strided, atleast_nd, rot90, ...)
from fastgrad._ops.math_more import *  # noqa: E402,F401,F403  (bitwise ops, exp2, frexp, diff, trapezoid, gradient, ...)
from fastgrad import multiprocessing  # noqa: E402,F401  (torch.multiprocessing: shared-memory tensors, spawn)
from fastgrad import distributed  # noqa: E402,F401  (torch.distributed on MPI; MPI loads at init_process_group)
from fastgrad._ops.stft import istft, stft  # noqa: E402,F401
from fastgrad._ops.linalg_more import geqrf, orgqr, ormqr, pca_lowrank, qr_legacy as qr, svd_lowrank  # noqa: E402,F401
from fastgrad._ops.linalg_more import pinverse  # noqa: E402,F401
from fastgrad._ops.index_more import *  # noqa: E402,F401,F403  (put, index_reduce, tril_indices, isin, ...)
from fastgrad._ops.statistics import *  # noqa: E402,F401,F403  (cov, corrcoef, quantile, nanmedian, mode, histograms)
from fastgrad import masked  # noqa: E402,F401
from fastgrad._compile import compile  # noqa: E402,F401,A004  (torch.compile: capture and replay)
from fastgrad._torch_extras import *  # noqa: E402,F401,F403,A004  (torch.lstm/gru/..., vander, cond, compile)
from fastgrad.signal import windows  # noqa: E402,F401  (torch.windows is torch.signal.windows)
# Tensor's op methods: one table (fastgrad/_tensor_methods.py, which imports the op modules it names),
# bound in one pass; before _torch_functions, whose torch.<op>_ functions call the in-place methods
from fastgrad import _tensor_methods  # noqa: E402
_tensor_methods.bind()
from fastgrad._torch_functions import *  # noqa: E402,F401,F403  (constants, aliases, torch.<op>_ functions)
from fastgrad._torch_functions import memory_format  # noqa: E402,F401
from fastgrad import nested  # noqa: E402,F401  (torch.nested; last: it stubs the Tensor methods it lacks)
from fastgrad.nested import jagged  # noqa: E402,F401
from fastgrad._ops import tensor_args as _tensor_args  # noqa: E402

_tensor_args.install(__import__(__name__))  # torch's TypeError for a number where a signature takes Tensors only
