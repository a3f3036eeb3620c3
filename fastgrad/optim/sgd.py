"""SGD with momentum, dampening, Nesterov, weight decay and maximize."""
from fastgrad._backend import K
from fastgrad.optim.optimizer import Optimizer, _zeros_like


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        momentum = group["momentum"]
        buf = state.get("momentum_buffer")
        first = buf is None
        if momentum != 0 and first:
            buf = state["momentum_buffer"] = _zeros_like(p)
        elif momentum == 0 and not state:
            self.state.pop(p, None)  # PyTorch keeps no state for plain SGD (state_dict()["state"] == {})
        self._run(K.sgd_step, p, None if momentum == 0 else buf._data, group["lr"], momentum,
                  group["dampening"], group["weight_decay"], group["nesterov"], group["maximize"], first)
        if buf is not None:
            buf._vc.value += 1
