"""Adafactor (torch.optim.Adafactor): factored second moments; state 'step', and 'row_var' and
'col_var' for a gradient of two or more dimensions, 'variance' otherwise."""
import numpy as np

from fastgrad._backend import engine
from fastgrad._dtype import np_finfo
from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _lerp_, _scalar, _to_scalar, _zeros_like

__all__ = ["Adafactor"]


def _norm(a, axis=None, keepdims=False):
    return np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims))


def _adafactor_step(p, g, row_var, col_var, variance, step, lr, beta2_decay, eps1, eps2, d, weight_decay,
                    maximize):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_adafactor)."""
    if maximize:
        g = -g
    one_minus_beta2_t = step ** beta2_decay
    rho_t = min(lr, 1 / (step ** 0.5))
    alpha = max(eps2, float(_norm(p)) / (p.size ** 0.5)) * rho_t
    if weight_decay != 0:
        p *= 1 - lr * weight_decay
    if g.ndim > 1:
        row_mean = np.square(_norm(g, axis=-1, keepdims=True))
        row_mean /= g.shape[-1]
        _lerp_(row_var, row_mean, one_minus_beta2_t)
        col_mean = np.square(_norm(g, axis=-2, keepdims=True))
        col_mean /= g.shape[-2]
        _lerp_(col_var, col_mean, one_minus_beta2_t)
        var_estimate = row_var @ col_var
        var_estimate /= np.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
    else:
        _lerp_(variance, g * g, one_minus_beta2_t)
        var_estimate = variance.copy()
    update = 1 / np.sqrt(np.maximum(var_estimate, eps1 * eps1))
    update *= g
    denom = max(1.0, float(_norm(update)) / ((update.size ** 0.5) * d))
    p += (-alpha / denom) * update


class Adafactor(Optimizer):
    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _step_group(self, group, params):
        for p in params:
            if p.is_complex():
                raise RuntimeError("Adafactor does not support complex parameters")
        eps1, eps2 = group["eps"]
        state = self.state
        for p in params:
            st = state[p]
            g = p._grad._data
            if len(st) == 0:
                st["step"] = _scalar(0.0)
                if g.ndim > 1:
                    st["row_var"] = engine.make_tensor(np.zeros(g.shape[:-1] + (1,), g.dtype))
                    st["col_var"] = engine.make_tensor(np.zeros(g.shape[:-2] + (1,) + g.shape[-1:], g.dtype))
                else:
                    st["variance"] = _zeros_like(p._grad)
            if eps1 is None:  # torch sets it once, from the group's first parameter
                eps1 = float(np_finfo(p._data.dtype).eps)
            st["step"]._data[...] += 1
            bufs = [st[k]._data if k in st else None for k in ("row_var", "col_var", "variance")]
            self._run(_adafactor_step, p, *bufs, float(st["step"]._data), _to_scalar(group["lr"]),
                      group["beta2_decay"], eps1, eps2, group["d"], group["weight_decay"], group["maximize"])
