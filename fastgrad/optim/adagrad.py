"""Adagrad (dense gradients)."""
import numpy as np

from fastgrad._backend import K, engine
from fastgrad.optim.optimizer import _check_fused, Optimizer, _check_tensor_lr, _scalar, _to_scalar


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _scalar(0.0)
                state["sum"] = engine.make_tensor(np.full(p._data.shape, group["initial_accumulator_value"],
                                                          p._data.dtype))

    def _update(self, p, group, state):
        state["step"]._data[...] += 1
        self._run(K.adagrad_step, p, state["sum"]._data, _to_scalar(group["lr"]), group["lr_decay"],
                  group["weight_decay"], group["eps"], float(state["step"]._data), group["maximize"])
