"""Optimizer base: param_groups with per-group options, per-parameter state, state dicts.

Subclasses update each parameter in place with one fused kernel call (K.<name>_step) and
bump the parameter's version counter."""
import copy
import warnings
from collections import defaultdict
from itertools import chain

import numpy as np

from fastgrad._backend import engine
from fastgrad._quiet import NP_QUIET, quiet_reset, quiet_set
from fastgrad._dtype import BF16 as _BF16, F16 as _F16, get_default_dtype
from fastgrad._tensor import zero_grads
from fastgrad.autograd.grad_mode import enable_grad


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    if isinstance(obj, engine.TensorBase):
        return obj.type()
    return type(obj).__module__ + "." + type(obj).__qualname__


def _zeros_like(p):
    return engine.make_tensor(np.zeros(p._data.shape, p._data.dtype))


def _get_scalar_dtype():
    """The dtype of per-parameter scalar state ('step', 'mu_product', 'eta', ...): float64
    when the default dtype is float64, float32 otherwise (torch.optim's _get_scalar_dtype)."""
    return np.float64 if get_default_dtype().np == np.float64 else np.float32


def _scalar(value):
    return engine.make_tensor(np.asarray(value, _get_scalar_dtype()))


def _to_scalar(x):
    """A hyperparameter as a number: a 1-element Tensor (lr, betas) gives a NumPy scalar of its
    dtype, which combines with Python floats and arrays as torch's 0-d tensor does (NumPy 2's
    promotion), e.g. lr * weight_decay stays float32 for a float32 lr."""
    if isinstance(x, engine.TensorBase):
        return x._data.reshape(())[()]
    return x


def _check_tensor_lr(lr):
    if isinstance(lr, engine.TensorBase) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def _check_adam_args(lr, eps, betas, weight_decay):
    """The Adam family's argument errors (Adam, Adamax, NAdam, RAdam), worded as torch's."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _check_fused(fused, differentiable, foreach):
    """torch's refusals of fused=True with differentiable or foreach (SGD, Adagrad, Adam)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _lerp_(a, b, weight):
    """a = lerp(a, b, weight) in place with PyTorch's two-sided formula (NumPy arrays)."""
    if abs(weight) < 0.5:
        a += weight * (b - a)
    else:
        np.subtract(b, (b - a) * (1 - weight), out=a)


class Optimizer:
    """Base class of all optimizers (like torch.optim.Optimizer)."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, engine.TensorBase):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            "dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with 'params' and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, engine.TensorBase):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):  # named parameters
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for param in param_group["params"]:
            if not isinstance(param, engine.TensorBase):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this "
                          "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        param_set = set()
        for group in self.param_groups:
            param_set.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {current} to the optimizer")
        if not param_set.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        groups = self.param_groups
        if len(groups) == 1:  # the usual case, without the chain's generator frames
            zero_grads(groups[0]["params"], set_to_none)
        else:
            zero_grads(chain.from_iterable(g["params"] for g in groups), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns closure() (evaluated with grad) if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        st = engine.state()  # no_grad() without its three Python calls
        prev, st.grad_enabled = st.grad_enabled, False
        tok = quiet_set(NP_QUIET)  # inf and NaN gradients update silently, as PyTorch's (fastgrad/_quiet.py)
        try:
            for group in self.param_groups:
                params = [p for p in group["params"] if p._grad is not None]  # no sparse layout to refuse
                if params:
                    self._step_group(group, params)
        finally:
            quiet_reset(tok)
            st.grad_enabled = prev
        return loss

    def _step_group(self, group, params):
        """Update the parameters of one group that have a gradient (subclasses with a
        multi-tensor kernel override this; the default updates one parameter at a time)."""
        state = self.state
        for p in params:
            self._update(p, group, state[p])

    def _update(self, p, group, state):
        raise NotImplementedError

    @staticmethod
    def _run(kernel, p, *args):
        """Call kernel(p_array, g_array, *buffers_and_options) in place; bump p's version."""
        a = p._data
        g = p._grad._data
        dt = a.dtype
        if dt is _F16 or dt is _BF16:
            return Optimizer._run_half(kernel, p, args)
        if g.dtype is not dt or not g.flags.c_contiguous:
            g = np.ascontiguousarray(g, dtype=dt)
        flags = a.flags
        if flags.c_contiguous and flags.writeable:
            kernel(a, g, *args)
        else:  # a view (e.g. after vector_to_parameters): update a contiguous copy, write it back
            c = np.ascontiguousarray(a).copy()
            kernel(c, g, *args)
            a[...] = c
        p._vc.value += 1

    @staticmethod
    def _run_half(kernel, p, args):
        """_run for a float16/bfloat16 parameter: the kernel (float32/float64 only) updates
        float32 copies of the parameter and of its state buffers (the arrays of its dtype),
        which are then rounded back in place, as PyTorch's CPU kernels compute half precision."""
        from fastgrad.optim import _half

        emulated = getattr(_half, getattr(kernel, "__name__", ""), None)
        if emulated is not None:  # SGD, Adam, AdamW, Adamax: PyTorch's op-by-op rounding (optim/_half.py)
            emulated(p._data, p._grad._data, *args)
            p._vc.value += 1
            return
        a = p._data
        dt = a.dtype
        wide = [np.array(x, np.float32) if isinstance(x, np.ndarray) and x.dtype is dt else x for x in args]
        p32 = np.array(a, np.float32)
        kernel(p32, np.ascontiguousarray(p._grad._data, dtype=np.float32), *wide)
        a[...] = p32
        for x, w in zip(args, wide):
            if w is not x:
                x[...] = w
        p._vc.value += 1

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{options..., 'params': [indices]}]} (PyTorch's layout)."""
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, engine.TensorBase) else k): v
                        for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, key=None):
            if isinstance(value, engine.TensorBase):
                if key != "step" and param.is_floating_point() and value.is_floating_point():
                    return engine.make_tensor(np.array(value._data, dtype=param._data.dtype, order="C"))
                return engine.make_tensor(np.array(value._data, order="C"))
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            k = int(k) if isinstance(k, str) and k.isdigit() else k  # keys come back as str from files
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v)
            else:
                state[k] = v
        new_groups = []
        for group, new_group in zip(groups, saved_groups):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            if isinstance(new_group.get("betas"), list):
                new_group["betas"] = tuple(new_group["betas"])
            new_groups.append(new_group)
        self.__setstate__({"state": state, "param_groups": new_groups})


def _real(a):
    """A complex array as the float array of its (real, imag) pairs, sharing memory
    (torch.view_as_real, flattened: the optimizers' updates are elementwise)."""
    if a is not None and a.dtype.kind == "c":
        return a.reshape(-1).view(a.real.dtype)
    return a
