# fastgrad._engine, part 1 of 7 (first): Grad mode and the other per-thread modes (state()). The parts in this
# folder run in one namespace, in fastgrad._engine._PARTS' order: fastgrad/_engine.py executes them as Python,
# setup.py compiles them as one Cython module (with fastgrad/_engine.pxd). Names from earlier parts are used
# without an import.

import threading
from _thread import get_ident as _get_ident

try:
    import cython as _cython

    _COMPILED = _cython.compiled  # a C constant when compiled (_engine.pxd)
except ImportError:  # the pure-NumPy backend runs this file as plain Python, maybe without Cython
    _COMPILED = False
if _COMPILED:
    _c_import_array()  # noqa: F821  (NumPy's C API, for _dtype and friends below)

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Modes:
    """One thread's autograd modes (C fields when compiled; read once per op as state())."""

    def __init__(self):
        self.grad_enabled = True
        self.fw_level = 0  # number of open forward-AD dual levels (0 or 1: levels do not nest)
        self.fw_tensors = []  # weakrefs to the tensors given a tangent in the open level
        self.fw_generation = 0  # counts dual levels entered: tangents kept in SavedOutput carry it
        self.anomaly = False
        self.half = None  # the NumPy half dtype while _half_apply runs an op in float32 (else None)


class _Local(threading.local):
    def __init__(self):
        self.modes = Modes()
        self.end = _ThreadEnd(self.modes)


class _ThreadEnd:
    """Freed with its thread's locals when the thread ends: state()'s cache then forgets
    that thread's Modes (a new thread may get the same id, and must start with its own)."""

    def __init__(self, modes):
        self.modes = modes

    def __del__(self):
        global _last_tid, _last_modes
        if _last_modes is self.modes:
            _last_modes = None
        if _last[0][1] is self.modes:
            _last[0] = (-1, None)


_local = _Local()


def is_grad_enabled():
    return state().grad_enabled


def set_grad_enabled(mode):
    """Set grad mode for this thread; return the previous mode."""
    prev = state().grad_enabled
    state().grad_enabled = bool(mode)
    return prev


_last = [(-1, None)]  # (thread id, Modes) of the last thread that asked: one tuple, so
# reading it is atomic under the GIL
_last_tid = 0  # compiled, the same in two C globals: no other thread runs between C statements
_last_modes = None


def state():
    """This thread's Modes."""
    global _last_tid, _last_modes
    if _COMPILED:  # the thread id from C (no Python call), the last Modes from C globals
        ctid = _c_thread_ident()  # noqa: F821  (a C function declared in _engine.pxd)
        if ctid == _last_tid and _last_modes is not None:
            return _last_modes
        m = _local.modes
        _last_tid = ctid
        _last_modes = m
        return m
    tid = _get_ident()
    last = _last[0]
    if last[0] == tid:
        return last[1]
    m = _local.modes
    _last[0] = (tid, m)
    return m



# NumPy's floating-point errors: every built-in op's forward (apply1/2/3, function_apply) and every backward
# walk (run_backward) runs with them ignored, as PyTorch computes inf, NaN and 0 silently (fastgrad/_quiet.py).
from fastgrad._quiet import NP_QUIET as _NP_QUIET, quiet_reset as _quiet_reset, quiet_set as _quiet_set  # noqa: E402
