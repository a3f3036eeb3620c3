"""Adamax (torch.optim.Adamax): Adam with the infinity norm; state 'step', 'exp_avg', 'exp_inf'."""
import numpy as np

from fastgrad.optim.optimizer import (_check_adam_args, Optimizer, _check_tensor_lr, _lerp_, _real, _scalar, _to_scalar,
                                      _zeros_like)

__all__ = ["Adamax"]


def _adamax_step(p, g, exp_avg, exp_inf, lr, beta1, beta2, eps, weight_decay, step, maximize, foreach=False):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_adamax; foreach
    matters only to half parameters: optim/_half.py)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    p, g, exp_avg, exp_inf = _real(p), _real(g), _real(exp_avg), _real(exp_inf)
    _lerp_(exp_avg, g, 1 - beta1)
    exp_inf *= beta2
    norm = np.abs(g)
    norm += eps
    np.maximum(exp_inf, norm, out=exp_inf)
    clr = lr / (1 - beta1 ** step)
    p += -clr * exp_avg / exp_inf


# twin of optim/rprop.py Rprop.__init__: torch's checks per optimizer
class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_tensor_lr(lr)
        _check_adam_args(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["exp_avg"] = _zeros_like(p)
            state["exp_inf"] = _zeros_like(p)
        state["step"]._data[...] += 1
        beta1, beta2 = group["betas"]
        self._run(_adamax_step, p, state["exp_avg"]._data, state["exp_inf"]._data, _to_scalar(group["lr"]), beta1,
                  beta2, group["eps"], group["weight_decay"], float(state["step"]._data), group["maximize"],
                  bool(group["foreach"]))
