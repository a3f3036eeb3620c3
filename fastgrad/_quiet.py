"""NumPy's floating-point error state, set to ignore while fastgrad computes.

PyTorch computes inf, -inf, NaN and 0 silently: exp(1000.) is inf, log(-1.) NaN, 1/0 inf, with no
message. NumPy warns instead ("overflow encountered in exp", "invalid value encountered in log", ...)
unless its error state says ignore. So fastgrad ignores NumPy's floating-point errors while it
computes: the engine around every built-in op's forward (apply1/2/3, function_apply) and every
backward walk (run_backward); the code outside the engine that runs NumPy on tensors' arrays (the
optimizers' steps, clip_grad_norm_, tensor creation, ...) through ``quiet`` / ``errstate`` below.

The state is NumPy's own (np.errstate's), set and reset for the running thread and context only:
the user's NumPy code keeps its settings (np.seterr would change them process-wide, and a user's
np.seterr(all="raise") must not make fastgrad raise FloatingPointError where PyTorch computes).
With NumPy 2 it is one ContextVar, set and reset directly: ~0.05 us a pair, where entering and
leaving an ``np.errstate`` costs ~1.5 us (about twice the per-op overhead, benchmark W4a).
"""
import functools

import numpy as np

try:
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE  # NumPy >= 2

    with np.errstate(all="ignore"):
        NP_QUIET = _ERRSTATE.get()
    quiet_set = _ERRSTATE.set  # token = quiet_set(NP_QUIET); try: ... finally: quiet_reset(token)
    quiet_reset = _ERRSTATE.reset
except (ImportError, AttributeError):  # NumPy 1.x: a per-thread error object
    NP_QUIET = None

    def quiet_set(_quiet):
        prev = np.geterrobj()
        np.seterr(all="ignore")
        return prev

    quiet_reset = np.seterrobj


def errstate():
    """A context manager: NumPy's floating-point errors ignored inside (np.errstate(all="ignore"))."""
    return np.errstate(all="ignore")


def quiet(fn):
    """fn run with NumPy's floating-point errors ignored (a decorator)."""

    @functools.wraps(fn)
    def run_quiet(*args, **kwargs):
        token = quiet_set(NP_QUIET)
        try:
            return fn(*args, **kwargs)
        finally:
            quiet_reset(token)

    return run_quiet
