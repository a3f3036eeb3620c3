"""Muon (torch.optim.Muon): momentum SGD whose update is orthogonalized by a Newton-Schulz
iteration (run in bfloat16, as torch runs it: every intermediate rounded to bfloat16, which
NumPy lacks, so values are float arrays rounded to bfloat16's 8 significant bits); state
'momentum_buffer'."""
import math

import numpy as np

from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _lerp_, _to_scalar, _zeros_like

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _bf16(x):
    """x rounded to the nearest bfloat16 value (ties to even), kept in float32 or float64."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        u = np.ascontiguousarray(x).view(np.uint64)
        r = (u + np.uint64(0xFFFFFFFFFFF) + ((u >> np.uint64(45)) & np.uint64(1))) & np.uint64(0xFFFFE00000000000)
        out = r.view(np.float64).astype(np.float32)
    else:
        x = np.ascontiguousarray(x, np.float32)
        u = x.view(np.uint32).astype(np.uint64)
        out = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), out).astype(np.float32)


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """Newton-Schulz iteration orthogonalizing the 2-D array grad (torch.optim._muon's, in
    bfloat16): returns a float32 array of bfloat16 values."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    x = _bf16(grad)
    transposed = grad.shape[0] > grad.shape[1]
    if transposed:
        x = x.T
    norm = _bf16(np.sqrt(np.sum(x * x, dtype=np.float32)))
    x = _bf16(x / max(norm, _bf16(np.float32(eps))))
    for _ in range(ns_steps):
        gram = _bf16(x @ x.T)
        update = _bf16(b * gram + c * (gram @ gram))
        x = _bf16(a * x + update @ x)
    return x.T if transposed else x


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """Default learning rate adjustment used by Muon."""
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        adjusted_ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        adjusted_ratio = 0.2 * math.sqrt(max(A, B))
    else:
        adjusted_ratio = 1.0
    return lr * adjusted_ratio


def _lerp(a, b, weight):
    out = a.copy()
    _lerp_(out, b, weight)
    return out


def _muon_step(p, g, buf, lr, weight_decay, momentum, nesterov, ns_coefficients, ns_steps, eps, adjust_lr_fn):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_muon)."""
    if g.ndim != 2:
        raise ValueError("Param gradient must be a 2D matrix")
    _lerp_(buf, g, 1 - momentum)
    update = _lerp(g, buf, momentum) if nesterov else buf
    update = _zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
    adjusted_lr = _adjust_lr(lr, adjust_lr_fn, p.shape)
    p *= 1 - lr * weight_decay
    p += -adjusted_lr * update.astype(p.dtype, copy=False)


class Muon(Optimizer):
    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _step_group(self, group, params):
        for p in params:
            if p.is_complex():
                raise RuntimeError("Muon does not support complex parameters")
        state = self.state
        for p in params:
            st = state[p]
            if "momentum_buffer" not in st:
                st["momentum_buffer"] = _zeros_like(p._grad)
            self._run(_muon_step, p, st["momentum_buffer"]._data, _to_scalar(group["lr"]), group["weight_decay"],
                      group["momentum"], group["nesterov"], group["ns_coefficients"], group["ns_steps"],
                      group["eps"], group["adjust_lr_fn"])
