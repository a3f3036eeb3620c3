"""ASGD (torch.optim.ASGD): averaged SGD; state 'step', 'eta', 'mu', 'ax'."""
import numpy as np

from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _real, _scalar, _to_scalar, _zeros_like

__all__ = ["ASGD"]


def _asgd_step(p, g, ax, eta, mu, step, lr, lambd, alpha, t0, weight_decay, maximize):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_asgd); eta, mu
    and step are the 0-d arrays of the parameter's state."""
    if maximize:
        g = -g
    p, g, ax = _real(p), _real(g), _real(ax)
    if weight_decay != 0:
        g = g + weight_decay * p
    eta_value = float(eta)
    p *= 1 - lambd * eta_value
    p += -eta_value * g
    if float(mu) != 1:
        ax += (p - ax) * np.asarray(mu, p.dtype)
    else:
        np.copyto(ax, p)
    step = float(step)
    eta[...] = lr / ((1 + lambd * lr * step) ** alpha)
    mu[...] = 1 / max(1, step - t0)


def _asgd_step_foreach(p, g, ax, eta, mu, step, lr, lambd, alpha, t0, weight_decay, maximize):
    """_asgd_step with torch's _multi_tensor_asgd arithmetic (foreach=True): the decay folded into
    the gradient, p -= eta * (g + lambd * p), and ax += (p - ax) * mu even when mu is 1. Rounding
    differs a little, and after an infinite gradient p = -inf gives -inf + inf = NaN on the next
    step (and ax inf - inf), where the single-tensor form keeps +-inf, as torch's two paths do."""
    if maximize:
        g = -g
    p, g, ax = _real(p), _real(g), _real(ax)
    inter = g + weight_decay * p if weight_decay != 0 else g
    inter = inter + lambd * p
    p -= inter * p.dtype.type(eta)
    ax += (p - ax) * p.dtype.type(mu)
    # eta from the step Tensor, in its dtype: lr / ((1 + lambd * lr * step) ** alpha) as torch's
    # tensor ops (step's float32, and x.__rtruediv__ is reciprocal(x) * lr)
    st = step.dtype.type
    x = (st(1) + st(lambd * lr) * step[()]) ** st(alpha)
    eta[...] = (st(1) / x) * st(lr)
    mu[...] = 1 / max(1, float(step) - t0)


class ASGD(Optimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        lr = _to_scalar(group["lr"])
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["eta"] = _scalar(lr)
            state["mu"] = _scalar(1.0)
            state["ax"] = _zeros_like(p)
        state["step"]._data[...] += 1
        kernel = _asgd_step_foreach if group["foreach"] else _asgd_step  # torch's CPU default: single-tensor
        self._run(kernel, p, state["ax"]._data, state["eta"]._data, state["mu"]._data, state["step"]._data, lr,
                  group["lambd"], group["alpha"], group["t0"], group["weight_decay"], group["maximize"])
