"""Adadelta (torch.optim.Adadelta): per-parameter state 'step', 'square_avg', 'acc_delta'."""
import numpy as np

from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _real, _scalar, _to_scalar, _zeros_like

__all__ = ["Adadelta"]


def _adadelta_step(p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_adadelta)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    p, g, square_avg, acc_delta = _real(p), _real(g), _real(square_avg), _real(acc_delta)
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    std = np.sqrt(square_avg + eps)
    delta = np.sqrt(acc_delta + eps)
    delta /= std
    delta *= g
    acc_delta *= rho
    acc_delta += (1 - rho) * delta * delta
    p += -lr * delta


# twin of optim/rmsprop.py RMSprop.__init__: torch's checks per optimizer
class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["square_avg"] = _zeros_like(p)
            state["acc_delta"] = _zeros_like(p)
        state["step"]._data[...] += 1
        self._run(_adadelta_step, p, state["square_avg"]._data, state["acc_delta"]._data, _to_scalar(group["lr"]),
                  group["rho"], group["eps"], group["weight_decay"], group["maximize"])
