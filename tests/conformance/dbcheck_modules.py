"""module_db (``torch.testing._internal.common_modules``): one check per ModuleInfo.

For each dtype (float32, float64 where the ModuleInfo takes them), training mode (train, and
eval too when ``train_and_eval_differ``) and module input: torch's module is built from the
constructor input; fastgrad's same-named module from the converted one (a Lazy module first runs
one forward to take its shapes) and gets torch's state_dict; both run the forward input, then the
outputs, the gradients (of the sum of the outputs) of the inputs and of every parameter, and the
state_dicts after the forward (running statistics) are compared. Modules whose forward is random
(dropout in training, FractionalMaxPool, ...: two torch runs with different seeds differ) are
compared by shape and dtype.
"""
import torch
from torch.testing._internal.common_modules import module_db

import fastgrad
from dbcheck import (AGREE, DIFFER, DTYPES, HERE, MISSING, OUT_OF_SCOPE, RAISE, Mismatch, Missing, compare,
                     flatten, grad_total, is_missing_attribute, limited, quiet, to_fastgrad, tolerance)

STATUS_FILE = HERE / "module_db_status.txt"
HEADER = ("module_db (torch.testing._internal.common_modules) against fastgrad: one line per ModuleInfo.\n"
          "Regenerate with python benchmarks/conformance.py --update (see tests/conformance/test_module_db.py).")
# deliberate exclusions: name -> reason
OUT_OF_SCOPE_ENTRIES = {}


def entries():
    return [(info.name, info, "") for info in module_db]


def scope_reason(key, info):
    if key in OUT_OF_SCOPE_ENTRIES:
        return OUT_OF_SCOPE_ENTRIES[key]
    if not any(d in info.dtypes for d in DTYPES):
        return "no float32 or float64"
    return None


def fastgrad_class(info):
    obj = fastgrad
    for part in info.name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _state_to_fastgrad(state):
    return {k: to_fastgrad(v.detach(), {}, []) if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def _run_torch(info, module_input, dtype, training, seed):
    args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
    torch.manual_seed(seed)
    forward = module_input.forward_input
    with quiet():
        module = info.module_cls(*args, **kwargs).to(dtype)
        module.train(training)
        out = module(*forward.args, **forward.kwargs)
    return module, out


def check_input(info, cls, module_input, dtype, training, random):
    tol, grad_tol = tolerance(None, dtype), tolerance(None, dtype, grad=True)
    t_module, expected = _run_torch(info, module_input, dtype, training, 0)
    memo, leaves = {}, []
    c_args = to_fastgrad(module_input.constructor_input.args, memo, [])
    c_kwargs = to_fastgrad(module_input.constructor_input.kwargs, memo, [])
    f_args = to_fastgrad(tuple(module_input.forward_input.args), memo, leaves)
    f_kwargs = to_fastgrad(dict(module_input.forward_input.kwargs), memo, leaves)
    with quiet():
        f_module = cls(*c_args, **c_kwargs).to(fastgrad_dtype_of(dtype))
        f_module.train(training)
        if info.name.startswith("nn.Lazy"):
            with fastgrad.no_grad():
                f_module(*f_args, **f_kwargs)
        # the state before torch's forward (running statistics move in it)
        f_module.load_state_dict(_state_to_fastgrad(_initial_state(info, module_input, dtype, training)))
        actual = f_module(*f_args, **f_kwargs)
    compare(expected, actual, tol, "output", values=not random)
    compare_state(t_module.state_dict(), f_module.state_dict(), tol, random)
    t_params = dict(t_module.named_parameters())
    f_params = dict(f_module.named_parameters())
    if sorted(t_params) != sorted(f_params):
        raise Mismatch("parameters %s, torch %s" % (sorted(f_params), sorted(t_params)))
    t_outs, f_outs = [], []
    for i, (t, f) in enumerate(zip(flatten(expected), flatten(actual))):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            if not (isinstance(f, fastgrad.Tensor) and f.requires_grad):
                raise Mismatch("output %d does not require grad, torch's does" % i)
            t_outs.append(t)
            f_outs.append(f)
    names = [n for n, p in t_params.items() if p.requires_grad]
    t_wrt = [t for t, _ in leaves] + [t_params[n] for n in names]
    f_wrt = [f for _, f in leaves] + [f_params[n] for n in names]
    if not t_outs or not t_wrt:
        return
    t_grads = torch.autograd.grad(grad_total(t_outs, torch), t_wrt, allow_unused=True)
    with quiet():
        f_grads = fastgrad.autograd.grad(grad_total(f_outs, fastgrad), f_wrt, allow_unused=True)
    labels = ["input %d" % i for i in range(len(leaves))] + names
    for label, t_leaf, tg, fg in zip(labels, t_wrt, t_grads, f_grads):
        if tg is None and fg is None:
            continue
        if fg is None:
            if tg.any():
                raise Mismatch("grad of %s is None, torch's is not zero" % label)
            continue
        compare(torch.zeros_like(t_leaf) if tg is None else tg, fg, grad_tol, "grad of %s" % label,
                values=not random)


def _initial_state(info, module_input, dtype, training):
    """torch's module's state_dict before its forward (after one for a Lazy module, which has
    no shapes before; its buffers are then those of a fresh module run once)."""
    args, kwargs = module_input.constructor_input.args, module_input.constructor_input.kwargs
    torch.manual_seed(0)
    with quiet():
        module = info.module_cls(*args, **kwargs).to(dtype)
    module.train(training)
    if info.name.startswith("nn.Lazy"):
        with torch.no_grad(), quiet():
            module(*module_input.forward_input.args, **module_input.forward_input.kwargs)
    return module.state_dict()


def fastgrad_dtype_of(dtype):
    return getattr(fastgrad, str(dtype).replace("torch.", ""))


def compare_state(t_state, f_state, tol, random):
    if list(t_state) != list(f_state):
        raise Mismatch("state_dict keys %s, torch %s" % (list(f_state), list(t_state)))
    for key, value in t_state.items():
        compare(value, f_state[key], tol, "state_dict[%r]" % key, values=not random)


def is_random(info, module_input, dtype, training):
    _, first = _run_torch(info, module_input, dtype, training, 0)
    _, second = _run_torch(info, module_input, dtype, training, 1)
    for a, b in zip(flatten(first), flatten(second)):
        if isinstance(a, torch.Tensor) and not torch.equal(a, b):
            return True
    return False


def check(key, info, kind="", limit=None):
    """(status, detail) of one ModuleInfo; ``limit`` bounds the module inputs per dtype and mode."""
    reason = scope_reason(key, info)
    if reason is not None:
        return "%s(%s)" % (OUT_OF_SCOPE, reason), ""
    cls = fastgrad_class(info)
    if cls is None:
        return MISSING, "no fastgrad module"
    count = 0
    for dtype in [d for d in DTYPES if d in info.dtypes]:
        for training in ((True, False) if info.train_and_eval_differ else (True,)):
            torch.manual_seed(0)
            inputs = info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=True, training=training)
            for i, module_input in enumerate(limited(inputs, limit)):
                count += 1
                where = "%s %s input %d (%s)" % (str(dtype).replace("torch.", ""), "train" if training else "eval",
                                                 i, module_input.desc)
                try:
                    random = is_random(info, module_input, dtype, training)
                    check_input(info, cls, module_input, dtype, training, random)
                except Missing as error:
                    return MISSING, "%s: %s" % (where, error)
                except Mismatch as error:
                    return DIFFER, "%s: %s" % (where, error)
                except Exception as error:  # noqa: BLE001
                    if is_missing_attribute(error):
                        return MISSING, "%s: %s" % (where, error)
                    return RAISE, "%s: %s: %s" % (where, type(error).__name__, str(error)[:200])
    return AGREE, "%d module inputs" % count
