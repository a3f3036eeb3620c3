"""fastgrad.multiprocessing: Python's multiprocessing, with tensors that travel through shared memory
(torch.multiprocessing).

Everything of ``multiprocessing`` is re-exported (Process, Queue, Pipe, get_context, set_start_method, ...).
Importing this module registers reducers with multiprocessing's ForkingPickler (reductions.py), so a tensor
put on any multiprocessing Queue or Pipe, or passed to a Process, is moved into shared memory and sent as a
handle: the receiver sees the same memory (Hogwild: ``model.share_memory()``, then several processes update
the same parameters). ``spawn`` / ``start_processes`` run ``fn(i, *args)`` in N processes.
"""
import multiprocessing
from multiprocessing import *  # noqa: F401,F403

from fastgrad.multiprocessing.reductions import init_reductions
from fastgrad.multiprocessing.spawn import (ProcessContext, ProcessException, ProcessExitedException,  # noqa: F401
                                            ProcessRaisedException, SpawnContext, spawn, start_processes)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies"]
__all__ += multiprocessing.__all__
__all__ += ["ProcessContext", "ProcessException", "ProcessExitedException", "ProcessRaisedException", "spawn",
            "start_processes"]

_sharing_strategy = "file_descriptor"
_all_sharing_strategies = {"file_descriptor"}


def set_sharing_strategy(new_strategy):
    """Set the strategy for sharing CPU tensors; fastgrad has torch's Linux default, 'file_descriptor'
    (a memory file whose descriptor is passed to the receiver; freed when the last user closes it)."""
    assert new_strategy in _all_sharing_strategies
    global _sharing_strategy
    _sharing_strategy = new_strategy


def get_sharing_strategy():
    return _sharing_strategy


def get_all_sharing_strategies():
    return _all_sharing_strategies


init_reductions()
