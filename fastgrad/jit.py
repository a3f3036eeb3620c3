"""torch.jit for eager code: fastgrad has no TorchScript compiler, so script and trace return the
function or module unchanged (it runs eagerly, with the same results), the annotations and
decorators are accepted, and what needs a serialised TorchScript program (save, load, freeze)
raises a clear error. is_scripting() and is_tracing() are False, as in any eager torch code."""
__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting", "is_tracing",
           "annotate", "Final", "interface", "fork", "wait", "Future", "save", "load", "freeze",
           "optimize_for_inference", "script_if_tracing", "Attribute", "ScriptModule", "ScriptFunction", "Error",
           "TracerWarning", "ScriptWarning", "optimized_execution", "set_fusion_strategy", "enable_onednn_fusion",
           "onednn_fusion_enabled", "strict_fusion", "isinstance"]

try:
    from typing import Final  # noqa: F401
except ImportError:  # pragma: no cover
    Final = None


class Error(RuntimeError):
    pass


class TracerWarning(Warning):
    pass


class ScriptWarning(Warning):
    pass


class ScriptModule:
    """No TorchScript module exists in fastgrad: scripted modules stay ordinary nn.Modules."""


class ScriptFunction:
    """No TorchScript function exists in fastgrad: scripted functions stay Python functions."""


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns obj itself: it runs eagerly."""
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-05,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None, example_kwarg_inputs=None,
          _store_inputs=True):
    """Returns func itself (a module or function): it runs eagerly on every call."""
    return func


def trace_module(mod, inputs, **kwargs):
    return mod


def script_if_tracing(fn):
    return fn


def ignore(drop=False, **kwargs):
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn):
    return fn


def export(fn):
    return fn


def interface(obj):
    return obj


def is_scripting():
    return False


def is_tracing():
    return False


def annotate(the_type, the_value):
    return the_value


def isinstance(obj, target_type):  # noqa: A001  (torch.jit.isinstance)
    import builtins
    import typing

    origin = typing.get_origin(target_type)
    if origin is None:
        return builtins.isinstance(obj, target_type)
    if not builtins.isinstance(obj, origin):
        return False
    args = typing.get_args(target_type)
    if origin in (list, set, frozenset) and args:
        return all(isinstance(v, args[0]) for v in obj)
    if origin is dict and args:
        return all(isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items())
    if origin is tuple and args:
        return len(obj) == len(args) and all(isinstance(v, a) for v, a in zip(obj, args))
    return True


class Attribute:
    def __new__(cls, value, type=None):  # noqa: A002
        return value


class Future:
    """The result of fork(): the call already ran (fastgrad runs it at once)."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    def value(self):
        return self._value

    def done(self):
        return True


def fork(func, *args, **kwargs):
    return Future(func(*args, **kwargs))


def wait(future):
    return future.wait()


def _no_torchscript(name):
    raise RuntimeError("torch.jit.%s needs a TorchScript program, which fastgrad does not build (torch.jit.script "
                       "and trace return the eager function or module); save its state_dict with fastgrad.save "
                       "instead" % name)


def save(m, f, _extra_files=None):
    _no_torchscript("save")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    _no_torchscript("load")


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    return mod


def optimize_for_inference(mod, other_methods=None):
    return mod


class optimized_execution:  # noqa: N801
    def __init__(self, should_optimize):
        pass

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


strict_fusion = optimized_execution


def set_fusion_strategy(strategy):
    return []


def enable_onednn_fusion(enabled):
    pass


def onednn_fusion_enabled():
    return False
