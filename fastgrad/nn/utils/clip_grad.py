"""Gradient clipping, in place on each parameter's .grad."""
import math

import numpy as np

from fastgrad._backend import engine


def _params(parameters):
    if isinstance(parameters, engine.TensorBase):
        return [parameters]
    return list(parameters)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients so their joint norm is at most max_norm; returns the total norm (before)."""
    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return engine.make_tensor(np.asarray(0.0, np.float32))
    dtype = grads[0]._data.dtype
    if norm_type == math.inf:
        norms = [np.abs(g._data).max() if g._data.size else 0.0 for g in grads]
        total = np.max(norms).astype(dtype)
    else:
        norms = np.array([np.linalg.norm(g._data.ravel(), norm_type) for g in grads], dtype)
        total = np.linalg.norm(norms, norm_type).astype(dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    clip_coef = min(max_norm / (float(total) + 1e-6), 1.0)
    with np.errstate(invalid="ignore", over="ignore"):  # (inf * 0 gives NaN silently, as torch)
        for g in grads:
            g._data *= g._data.dtype.type(clip_coef)
            g._vc.value += 1
    return engine.make_tensor(np.asarray(total, dtype))


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _params(parameters):
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)
            p.grad._vc.value += 1


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of tensors (torch.nn.utils.get_total_norm); tensor(0.) for none."""
    from fastgrad import linalg, stack, tensor
    from fastgrad.autograd.grad_mode import no_grad

    tensors = _params(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():
        total = linalg.vector_norm(stack([linalg.vector_norm(g, norm_type) for g in tensors]), norm_type)
    if error_if_nonfinite and not np.isfinite(total._data):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the parameters' gradients by min(max_norm / (total_norm + 1e-6), 1) in place."""
    from fastgrad import clamp
    from fastgrad.autograd.grad_mode import no_grad

    grads = [p.grad for p in _params(parameters) if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    with no_grad():
        coef = clamp(max_norm / (total_norm + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef)
