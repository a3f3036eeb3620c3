"""torch.backends.mkldnn: fastgrad has no oneDNN; the flags scripts set are kept."""
import sys

from fastgrad.backends._flags import flag_context

enabled = True
deterministic = False
allow_tf32 = True
VERBOSE_OFF, VERBOSE_ON, VERBOSE_ON_CREATION = 0, 1, 2


def is_available():
    return False


def set_flags(_enabled=None, _deterministic=None, _allow_tf32=None, _fp32_precision="none"):
    mod = sys.modules[__name__]
    orig = (mod.enabled, mod.deterministic, mod.allow_tf32)
    for name, value in (("enabled", _enabled), ("deterministic", _deterministic), ("allow_tf32", _allow_tf32)):
        if value is not None:
            setattr(mod, name, value)
    return orig


flags = flag_context(sys.modules[__name__], ("enabled", "deterministic", "allow_tf32"))


class verbose:
    """Context manager accepted for torch's API; fastgrad has no oneDNN to make verbose."""

    def __init__(self, level):
        self.level = level

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
