"""RAdam (torch.optim.RAdam): rectified Adam; state 'step', 'exp_avg', 'exp_avg_sq'."""
import numpy as np

from fastgrad.optim.optimizer import (_check_adam_args, Optimizer, _check_tensor_lr, _lerp_, _real, _scalar, _to_scalar,
                                      _zeros_like)

__all__ = ["RAdam"]


def _radam_step(p, g, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step, decoupled_weight_decay,
                maximize):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_radam)."""
    if maximize:
        g = -g
    p, g, exp_avg, exp_avg_sq = _real(p), _real(g), _real(exp_avg), _real(exp_avg_sq)
    # twin of _np/optim.py adam_step: the NumPy backend's copy of a compiled kernel
    if weight_decay != 0:
        if decoupled_weight_decay:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    bias_corrected_exp_avg = exp_avg / bias_correction1
    rho_inf = 2 / (1 - beta2) - 1  # the maximum length of the approximated SMA
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        exp_avg_sq_sqrt = np.sqrt(exp_avg_sq)
        exp_avg_sq_sqrt += eps
        adaptive_lr = np.reciprocal(exp_avg_sq_sqrt) * (bias_correction2 ** 0.5)  # torch's scalar / tensor
        p += -1.0 * (bias_corrected_exp_avg * lr * adaptive_lr * rect)
    else:
        p += -1.0 * (bias_corrected_exp_avg * lr)


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_tensor_lr(lr)
        _check_adam_args(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        state["step"]._data[...] += 1
        beta1, beta2 = group["betas"]
        self._run(_radam_step, p, state["exp_avg"]._data, state["exp_avg_sq"]._data, _to_scalar(group["lr"]), beta1,
                  beta2, group["eps"], group["weight_decay"], float(state["step"]._data),
                  group["decoupled_weight_decay"], group["maximize"])
