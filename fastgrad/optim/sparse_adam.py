"""SparseAdam (torch.optim.SparseAdam): Adam restricted to the gradient's materialized entries;
state 'step' (an int), 'exp_avg', 'exp_avg_sq'.

fastgrad has no sparse layout, so the gradient is dense here and its nonzero entries play the
part of a sparse gradient's values: the result equals torch's SparseAdam given
``grad.to_sparse()`` (a stored value that is exactly zero would be updated by torch and is
skipped here)."""
import math

import numpy as np

from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _to_scalar, _zeros_like

__all__ = ["SparseAdam"]


def _sparse_adam_step(p, g, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, step, maximize):
    """One parameter's update, in place on NumPy arrays (torch.optim._functional.sparse_adam)."""
    if maximize:
        g = -g
    mask = g != 0
    values = g[mask]
    if values.size == 0:
        return
    old_exp_avg = exp_avg[mask]
    exp_avg_update = (values - old_exp_avg) * (1 - beta1)
    exp_avg[mask] += exp_avg_update
    old_exp_avg_sq = exp_avg_sq[mask]
    exp_avg_sq_update = (values ** 2 - old_exp_avg_sq) * (1 - beta2)
    exp_avg_sq[mask] += exp_avg_sq_update
    numer = exp_avg_update + old_exp_avg
    exp_avg_sq_update += old_exp_avg_sq
    denom = np.sqrt(exp_avg_sq_update)
    denom += eps
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr * math.sqrt(bias_correction2) / bias_correction1
    numer /= denom
    p[mask] += -step_size * numer


class SparseAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        _check_tensor_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        complex_params = [[i, j] for i, group in enumerate(self.param_groups)
                          for j, p in enumerate(group["params"]) if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not support complex "
                             "parameters")

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        self._run(_sparse_adam_step, p, state["exp_avg"]._data, state["exp_avg_sq"]._data, _to_scalar(group["lr"]),
                  beta1, beta2, group["eps"], state["step"], group.get("maximize", False))
