"""Helpers of the DataLoader (torch.utils.data._utils): collation, fetchers, the worker loop."""
import atexit
import sys
from dataclasses import dataclass

IS_WINDOWS = sys.platform == "win32"

MP_STATUS_CHECK_INTERVAL = 5.0
"""Seconds between a waiting process's checks that its peer is still alive (worker: the main process)."""

python_exit_status = False
"""Set at interpreter exit: iterators deleted then skip joining workers (multiprocessing is tearing down)."""


class KeyErrorMessage(str):
    """str subclass that returns itself in repr (a KeyError's message keeps its line breaks)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker with its traceback text, re-raised in the main process (torch._utils)."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        import traceback

        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:  # no cycle exception -> traceback -> this frame -> exception: the DataLoader iterator in the
            del exception  # traceback is freed (and its workers stopped) as soon as the exception is handled


_worker_info = None  # set by the worker loop (worker.py) in a worker process


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """Information about the current DataLoader worker process.

    Attributes:
        id: the worker's id (0 to num_workers - 1)
        num_workers: the number of workers
        seed: the random seed of this worker (fastgrad's and Python's ``random`` generators were seeded with it)
        dataset: this worker's copy of the dataset
    """

    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: str = "multiprocessing"


def get_worker_info():
    """The WorkerInfo of the current DataLoader worker process, or None in the main process.

    An IterableDataset reads it in ``__iter__`` to shard itself (each worker yields a different part), and a
    ``worker_init_fn`` to configure each worker's copy of the dataset."""
    return _worker_info


def _set_python_exit_flag():
    global python_exit_status
    python_exit_status = True


atexit.register(_set_python_exit_flag)
