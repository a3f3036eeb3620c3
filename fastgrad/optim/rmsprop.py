"""RMSprop (with momentum and centered variants)."""
from fastgrad._backend import K
from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _scalar, _to_scalar, _zeros_like


# twin of optim/adadelta.py Adadelta.__init__: torch's checks per optimizer
class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["square_avg"] = _zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = _zeros_like(p)
        state["step"]._data[...] += 1
        grad_avg = state["grad_avg"]._data if group["centered"] else None
        mom = state["momentum_buffer"]._data if group["momentum"] > 0 else None
        self._run(K.rmsprop_step, p, state["square_avg"]._data, grad_avg, mom, _to_scalar(group["lr"]), group["alpha"],
                  group["eps"], group["weight_decay"], group["momentum"], group["centered"], group["maximize"])
