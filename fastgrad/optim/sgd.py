"""SGD with momentum, dampening, Nesterov, weight decay and maximize."""
from fastgrad._backend import K
from fastgrad.optim.optimizer import _check_fused, Optimizer, _check_tensor_lr, _to_scalar, _zeros_like


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_tensor_lr(lr)
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
        _check_fused(fused, differentiable, foreach)

    def _step_group(self, group, params):
        """All of the group's parameters in one kernel call (K.sgd_foreach); the few whose
        arrays it does not take as they are (views, mixed dtypes) go through _run."""
        momentum = group["momentum"]
        bufs = firsts = None
        if momentum != 0:
            state = self.state
            bufs, firsts = [], []
            for p in params:
                st = state[p]
                buf = st.get("momentum_buffer")
                firsts.append(buf is None)
                if buf is None:
                    buf = st["momentum_buffer"] = _zeros_like(p)
                bufs.append(buf)
        args = (_to_scalar(group["lr"]), momentum, group["dampening"], _to_scalar(group["weight_decay"]),
                group["nesterov"], group["maximize"])
        rest = K.sgd_foreach([p._data for p in params], [p._grad._data for p in params],
                             None if bufs is None else [b._data for b in bufs], *args, firsts)
        for i in rest:  # _run bumps their versions
            self._run(K.sgd_step, params[i], None if bufs is None else bufs[i]._data, *args,
                      firsts is not None and firsts[i])
        for i, p in enumerate(params):
            if not rest or i not in rest:
                p._vc.value += 1
        if bufs is not None:
            for b in bufs:
                b._vc.value += 1
