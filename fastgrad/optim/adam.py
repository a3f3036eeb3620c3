"""Adam (with amsgrad, weight decay; decoupled weight decay is AdamW)."""
from fastgrad._backend import K, engine
from fastgrad.optim.optimizer import _check_adam_args, _check_fused, Optimizer, _scalar, _to_scalar, _zeros_like


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        if isinstance(lr, engine.TensorBase):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        _check_adam_args(lr, eps, betas, weight_decay)
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], engine.TensorBase) and isinstance(betas[1], engine.TensorBase))):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], engine.TensorBase):
                if not capturable and foreach:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False and foreach=True")
                if betas[i].numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        betas = tuple(b.squeeze() if isinstance(b, engine.TensorBase) and b.dim() != 0 else b for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        _check_fused(fused, differentiable, foreach)

    def _update(self, p, group, state):
        if len(state) == 0:
            state["step"] = _scalar(0.0)
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _zeros_like(p)
        state["step"]._data[...] += 1
        step = float(state["step"]._data)
        beta1, beta2 = (_to_scalar(b) for b in group["betas"])
        vmax = state["max_exp_avg_sq"]._data if group["amsgrad"] else None
        self._run(K.adam_step, p, state["exp_avg"]._data, state["exp_avg_sq"]._data, vmax, _to_scalar(group["lr"]),
                  beta1, beta2, group["eps"], group["weight_decay"], step, group["amsgrad"], group["maximize"],
                  group["decoupled_weight_decay"])
