"""Rprop (torch.optim.Rprop): resilient backpropagation; state 'step', 'prev', 'step_size'."""
import numpy as np

from fastgrad._backend import engine
from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _real, _scalar, _to_scalar, _zeros_like

__all__ = ["Rprop"]


def _sign(x):
    """torch.sign: 0 for NaN (np.sign gives NaN, which would poison step_size for good)."""
    s = np.sign(x)
    s[np.isnan(s)] = 0
    return s


def _rprop_step(p, g, prev, step_size, etaminus, etaplus, step_size_min, step_size_max, maximize):
    """One parameter's update, in place on NumPy arrays (torch's _single_tensor_rprop)."""
    if maximize:
        g = -g
    p, g, prev, step_size = _real(p), _real(g), _real(prev), _real(step_size)
    sign = _sign(g * prev)
    sign[sign > 0] = etaplus
    sign[sign < 0] = etaminus
    sign[sign == 0] = 1
    step_size *= sign
    np.clip(step_size, step_size_min, step_size_max, out=step_size)
    g = g.copy()
    g[sign == sign.dtype.type(etaminus)] = 0  # for dir < 0, dfdx = 0
    p += -1 * _sign(g) * step_size
    np.copyto(prev, g)


# twin of optim/adamax.py Adamax.__init__: torch's checks per optimizer
class Rprop(Optimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["prev"] = _zeros_like(p)
            lr = _to_scalar(group["lr"])
            dtype = p._grad._data.dtype
            fill = complex(lr, lr) if dtype.kind == "c" else lr
            state["step_size"] = engine.make_tensor(np.full(p._grad._data.shape, fill, dtype))
        state["step"]._data[...] += 1
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        self._run(_rprop_step, p, state["prev"]._data, state["step_size"]._data, etaminus, etaplus, step_size_min,
                  step_size_max, group["maximize"])
