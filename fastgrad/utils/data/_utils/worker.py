"""The DataLoader worker process (torch.utils.data._utils.worker): its loop, its seeding, get_worker_info().

Each worker takes (task index, indices) from its own index queue, fetches and collates the batch (into shared
memory: collate.py) and puts (task index, batch) on the data queue shared by all workers; an exception is sent
as an ExceptionWrapper (re-raised by the main process with this traceback), an exhausted IterableDataset as
_IterableDatasetStopIteration. None on the index queue ends the loop. The worker watches its parent and exits
when the parent is gone, so a killed training process leaves no orphan.
"""
import os
import queue
import random
from dataclasses import dataclass

from fastgrad.utils.data import _utils
from fastgrad.utils.data._utils import ExceptionWrapper, WorkerInfo, get_worker_info  # noqa: F401

_POLL = 0.25  # seconds between the checks of the parent and of the done event while waiting for a task

__all__ = ["WorkerInfo", "get_worker_info"]


class ManagerWatchdog:
    """Tells whether the process that started this worker is still alive."""

    def __init__(self):
        self.manager_pid = os.getppid()
        self.manager_dead = False

    def is_alive(self):
        if not self.manager_dead:
            self.manager_dead = os.getppid() != self.manager_pid
        return not self.manager_dead


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    seed: int = None


def _generate_state(base_seed, worker_id):
    """NumPy's legacy seed for a worker: torch's hash of (worker_id, base_seed), after NumPy's SeedSequence,
    so workers' NumPy streams differ even when base seeds are consecutive."""
    INIT_A, MULT_A, INIT_B, MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED  # noqa: N806
    MIX_MULT_L, MIX_MULT_R, XSHIFT, MASK32 = 0xCA01F9DD, 0x4973F715, 4 * 8 // 2, 0xFFFFFFFF  # noqa: N806
    entropy = [worker_id, base_seed & MASK32, base_seed >> 32, 0]
    pool = [0] * 4
    hash_const_A = INIT_A  # noqa: N806

    def hash(value):
        nonlocal hash_const_A
        value = (value ^ hash_const_A) & MASK32
        hash_const_A = (hash_const_A * MULT_A) & MASK32  # noqa: N806
        value = (value * hash_const_A) & MASK32
        return (value ^ (value >> XSHIFT)) & MASK32

    def mix(x, y):
        result_x = (MIX_MULT_L * x) & MASK32
        result_y = (MIX_MULT_R * y) & MASK32
        result = (result_x - result_y) & MASK32
        return (result ^ (result >> XSHIFT)) & MASK32

    for i in range(len(pool)):
        pool[i] = hash(entropy[i])
    for i_src in range(len(pool)):
        for i_dst in range(len(pool)):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash(pool[i_src]))
    hash_const_B = INIT_B  # noqa: N806
    state = []
    for i_dst in range(4):
        data_val = pool[i_dst]
        data_val = (data_val ^ hash_const_B) & MASK32
        hash_const_B = (hash_const_B * MULT_B) & MASK32  # noqa: N806
        data_val = (data_val * hash_const_B) & MASK32
        data_val = (data_val ^ (data_val >> XSHIFT)) & MASK32
        state.append(data_val)
    return state


def _worker_loop(dataset_kind, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn, drop_last,
                 base_seed, init_fn, worker_id, num_workers, persistent_workers, shared_seed):
    from fastgrad.utils.data._utils.fetch import _DatasetKind

    try:
        import numpy as np

        import fastgrad

        # One OpenMP thread: a forked child whose parent ran parallel regions must not start libgomp's pool
        # again (libgomp is not fork-safe), and N workers each with all cores' threads would oversubscribe.
        fastgrad.set_num_threads(1)
        seed = base_seed + worker_id
        random.seed(seed)
        fastgrad.manual_seed(seed)
        np.random.seed(_generate_state(base_seed, worker_id))

        _utils._worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)

        init_exception = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

        # An IterableDataset replica can end before the others: the worker then sends
        # _IterableDatasetStopIteration once and waits for None (iteration_end).
        iteration_end = False
        watchdog = ManagerWatchdog()
        while watchdog.is_alive():
            try:
                r = index_queue.get(timeout=_POLL)
            except queue.Empty:
                if done_event.is_set():  # shutting down and None lost (the main process's queue was finalized
                    break  # by the garbage collector before the iterator): exit without it
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))  # acknowledge
                iteration_end = False
                fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)
                continue
            if r is None:
                assert done_event.is_set() or iteration_end
                break
            if done_event.is_set() or iteration_end:
                continue  # shutting down: wait for None without working
            idx, index = r
            if init_exception is not None:
                data = init_exception
                init_exception = None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and dataset_kind == _DatasetKind.Iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put((idx, data))
            del data, idx, index, r  # the batch's shared memory is freed once the main process has it
    except KeyboardInterrupt:
        pass  # the main process raises it
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
