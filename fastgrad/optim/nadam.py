"""NAdam (torch.optim.NAdam): Adam with Nesterov momentum; state 'step', 'mu_product', 'exp_avg',
'exp_avg_sq'."""
import numpy as np

from fastgrad.optim.optimizer import (_check_adam_args, Optimizer, _check_tensor_lr, _lerp_, _real, _scalar, _to_scalar,
                                      _zeros_like)

__all__ = ["NAdam"]


def _nadam_step(p, g, exp_avg, exp_avg_sq, mu_product, lr, beta1, beta2, eps, weight_decay, momentum_decay,
                step, decoupled_weight_decay, maximize):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_nadam);
    mu_product is the 0-d array of the running product of the momentum coefficients."""
    if maximize:
        g = -g
    p, g, exp_avg, exp_avg_sq = _real(p), _real(g), _real(exp_avg), _real(exp_avg_sq)
    bias_correction2 = 1 - beta2 ** step
    if weight_decay != 0:
        if decoupled_weight_decay:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    mu_product *= mu
    _lerp_(exp_avg, g, 1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    denom = np.sqrt(exp_avg_sq / bias_correction2)
    mu_product = float(mu_product)
    mu_product_next = mu_product * mu_next
    denom += eps
    p += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
    p += ((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg / denom


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_tensor_lr(lr)
        _check_adam_args(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["mu_product"] = _scalar(1.0)
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        state["step"]._data[...] += 1
        beta1, beta2 = group["betas"]
        self._run(_nadam_step, p, state["exp_avg"]._data, state["exp_avg_sq"]._data, state["mu_product"]._data,
                  _to_scalar(group["lr"]), beta1, beta2, group["eps"], group["weight_decay"],
                  group["momentum_decay"], float(state["step"]._data), group["decoupled_weight_decay"],
                  group["maximize"])
