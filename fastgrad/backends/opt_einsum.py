"""torch.backends.opt_einsum: whether einsum orders its contractions with the opt_einsum package."""
import importlib.util
import sys

from fastgrad.backends._flags import flag_context

enabled = True
strategy = "auto"


def is_available():
    return importlib.util.find_spec("opt_einsum") is not None


def get_opt_einsum():
    return importlib.import_module("opt_einsum") if is_available() else None


def set_flags(_enabled=None, _strategy=None):
    mod = sys.modules[__name__]
    orig = (mod.enabled, mod.strategy)
    if _enabled is not None:
        mod.enabled = _enabled
    if _strategy is not None:
        mod.strategy = _strategy
    return orig


flags = flag_context(sys.modules[__name__], ("enabled", "strategy"))
