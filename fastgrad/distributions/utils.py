"""Helpers of torch.distributions.utils: broadcast_all, logits/probs conversions, lazy_property."""
import numbers
from functools import update_wrapper

import fastgrad
from fastgrad._backend import engine

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]


def broadcast_all(*values):
    """Tensors and numbers broadcast to one shape; numbers become tensors of the tensors' dtype
    (the default dtype when there are none)."""
    if not all(isinstance(v, (engine.TensorBase, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                         "implementing __torch_function__.")
    if not all(isinstance(v, engine.TensorBase) for v in values):
        dtype = fastgrad.get_default_dtype()
        for v in values:
            if isinstance(v, engine.TensorBase):
                dtype = v.dtype
                break
        values = [v if isinstance(v, engine.TensorBase) else fastgrad.tensor(v, dtype=dtype) for v in values]
    return fastgrad.broadcast_tensors(*values)


def _finfo(t):
    return fastgrad.finfo(t.dtype)


def clamp_probs(probs):
    eps = _finfo(probs).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return fastgrad.sigmoid(logits)
    return fastgrad.nn.functional.softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return fastgrad.log(ps_clamped) - fastgrad.log1p(-ps_clamped)
    return fastgrad.log(ps_clamped)


class lazy_property:  # noqa: N801
    """A property computed on first access and then stored on the instance."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with fastgrad.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _tril_indices(n, diag):
    if hasattr(fastgrad, "tril_indices"):
        return fastgrad.tril_indices(n, n, offset=diag)
    import numpy as np

    rows, cols = np.tril_indices(n, k=diag)
    return fastgrad.tensor(rows), fastgrad.tensor(cols)


def tril_matrix_to_vec(mat, diag=0):
    n = mat.shape[-1]
    if not (-n <= diag < n):
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = _tril_indices(n, diag)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec, diag=0):
    import math

    n = int((-(1 + 2 * diag) + math.sqrt((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1))) / 2
            + 1e-6)
    rows, cols = _tril_indices(n, diag)
    flat = (rows * n + cols).tolist()
    # scatter the vector into the flattened matrix without an in-place write, so gradients flow
    onehot = fastgrad.zeros(len(flat), n * n, dtype=vec.dtype)
    onehot[list(range(len(flat))), flat] = 1.0
    return fastgrad.matmul(vec, onehot).reshape(tuple(vec.shape[:-1]) + (n, n))


class BinaryProbsLogits:
    """probs/logits of a distribution with one binary parameter (Bernoulli, LogitRelaxedBernoulli,
    Binomial, Geometric, NegativeBinomial): either given, the other derived on first use."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.size()

    def _new(self, *args, **kwargs):
        return self._param.new(*args, **kwargs)
