"""DataLoader with worker processes: same batches as num_workers=0, torch's seeding and sharding, shared-memory
batches, and failures that end promptly with torch's errors and leave no child process."""
import gc
import multiprocessing
import os
import random
import signal
import time

import numpy as np
import pytest

import fastgrad
from fastgrad.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info


class Items(Dataset):
    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, np.float32), "y": i, "name": f"item{i}"}


class Sharded(IterableDataset):
    """torch's documented pattern: each worker yields its own slice of range(start, end)."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per_worker = int(np.ceil((self.end - self.start) / info.num_workers))
        lo = self.start + info.id * per_worker
        return iter(range(lo, min(lo + per_worker, self.end)))


class Failing(Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"no item {i}")
        return i


class Suicidal(Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        if i == 6:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Sleepy(Dataset):
    def __init__(self, seconds):
        self.seconds = seconds

    def __len__(self):
        return 40

    def __getitem__(self, i):
        time.sleep(self.seconds)
        return i


class Seeds(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return [info.id, info.seed, info.num_workers, random.random(), fastgrad.rand(()).item(),
                float(np.random.rand()), type(info.dataset).__name__]


def _values(loader):
    out = []
    for b in loader:
        out.append({k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in b.items()})
    return out


def _no_children():
    deadline = time.monotonic() + 5
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return multiprocessing.active_children() == []


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_map_style_batches_identical_for_0_1_2_workers(ctx):
    def run(workers, **kw):
        g = fastgrad.Generator().manual_seed(3)
        if workers:
            kw.update(num_workers=workers, multiprocessing_context=ctx)
        return _values(DataLoader(Items(), batch_size=4, shuffle=True, generator=g, drop_last=False, **kw))

    ref = run(0)
    assert sorted(sum((b["y"] for b in ref), [])) == list(range(23)) and ref[0]["name"][0].startswith("item")
    assert run(2) == ref
    if ctx == "fork":
        assert run(1) == ref
        assert run(2, prefetch_factor=1) == ref


def test_default_generator_draws_are_the_same_with_and_without_workers():
    fastgrad.manual_seed(11)
    a = [b.tolist() for b in DataLoader(list(range(10)), batch_size=3, shuffle=True)]
    after_a = fastgrad.rand(()).item()
    fastgrad.manual_seed(11)
    b = [b.tolist() for b in DataLoader(list(range(10)), batch_size=3, shuffle=True, num_workers=2)]
    assert a == b and fastgrad.rand(()).item() == after_a


@pytest.mark.parametrize("ctx", ["fork", "spawn"])
def test_sharded_iterable_dataset_as_torch(ctx):
    torch = pytest.importorskip("torch")
    for batch_size in (None, 3):
        ours = [b if batch_size is None else b.tolist()
                for b in DataLoader(Sharded(3, 14), batch_size=batch_size, num_workers=2, multiprocessing_context=ctx)]
        ref = [b if batch_size is None else b.tolist()
               for b in torch.utils.data.DataLoader(_TorchSharded(3, 14), batch_size=batch_size, num_workers=2,
                                                    multiprocessing_context="fork")]
        assert ours == ref
    assert sorted(ours[0] + ours[1] + ours[2] + ours[3]) == list(range(3, 14))


def _torch_sharded_class():
    torch = pytest.importorskip("torch")

    class TorchSharded(torch.utils.data.IterableDataset):
        __init__ = Sharded.__init__

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            per_worker = int(np.ceil((self.end - self.start) / info.num_workers))
            lo = self.start + info.id * per_worker
            return iter(range(lo, min(lo + per_worker, self.end)))

    return TorchSharded


def _TorchSharded(*args):  # noqa: N802
    return _torch_sharded_class()(*args)


def test_worker_seeds_as_torch():
    g = fastgrad.Generator().manual_seed(5)
    loader = DataLoader(Seeds(), batch_size=None, num_workers=2, generator=g)
    rows = list(loader)
    # the iterator's one draw, torch's: empty((), int64).random_(generator) (checked against torch in
    # tests/test_random_stream.py)
    base_seed = int(fastgrad.empty((), dtype=fastgrad.int64).random_(generator=fastgrad.Generator().manual_seed(5)))
    from fastgrad.utils.data._utils.worker import _generate_state

    streams = {w: (random.Random(base_seed + w), fastgrad.Generator().manual_seed(base_seed + w),
                   np.random.RandomState(_generate_state(base_seed, w))) for w in (0, 1)}
    for worker, row in zip([0, 1, 0, 1], rows):  # items go to the workers in turn
        wid, seed, n, py_rand, fg_rand, np_rand, ds_name = row
        assert (wid, seed, n, ds_name) == (worker, base_seed + worker, 2, "Seeds")
        py, fg, npr = streams[worker]
        assert py_rand == py.random()
        assert fg_rand == fastgrad.rand((), generator=fg).item()
        assert np_rand == npr.rand()
    assert rows[0][3] != rows[1][3]
    info_type = pytest.importorskip("torch").utils.data._utils.worker.WorkerInfo
    from fastgrad.utils.data._utils.worker import WorkerInfo

    assert [f for f in WorkerInfo.__dataclass_fields__] == [f for f in info_type.__dataclass_fields__]
    assert get_worker_info() is None


def test_worker_init_fn_and_persistent_workers():
    loader = DataLoader(Sharded(0, 6), batch_size=2, num_workers=2, persistent_workers=True,
                        worker_init_fn=_init_fn)
    first = [b.tolist() for b in loader]
    it = loader._iterator
    pids = [w.pid for w in it._workers]
    second = [b.tolist() for b in loader]
    assert first == second == [[0, 1], [3, 4], [2], [5]]
    assert loader._iterator is it and [w.pid for w in it._workers] == pids and all(w.is_alive() for w in it._workers)
    del loader, it
    gc.collect()
    assert _no_children()


def _init_fn(worker_id):
    assert get_worker_info().id == worker_id


def test_batches_are_in_shared_memory():
    batch = next(iter(DataLoader(Items(), batch_size=4, num_workers=1)))
    assert batch["x"].is_shared() and batch["y"].is_shared() and batch["x"].shape == (4, 2, 3)
    xs, ys = next(iter(DataLoader(TensorDataset(fastgrad.randn(10, 3), fastgrad.arange(10)), batch_size=4,
                                  num_workers=1)))
    assert xs.is_shared() and ys.tolist() == [0, 1, 2, 3]
    assert not next(iter(DataLoader(Items(), batch_size=4)))["x"].is_shared()


def test_in_order_false_gives_every_batch():
    loader = DataLoader(Items(), batch_size=3, num_workers=2, in_order=False)
    assert sorted(sum((b["y"].tolist() for b in loader), [])) == list(range(23))


def test_worker_exception_is_reraised_with_traceback():
    torch = pytest.importorskip("torch")
    with pytest.raises(KeyError) as ours:
        list(DataLoader(Failing(), batch_size=2, num_workers=2))
    with pytest.raises(KeyError) as ref:
        list(torch.utils.data.DataLoader(Failing(), batch_size=2, num_workers=2))
    for info in (ours, ref):
        text = str(info.value)
        assert text.startswith("Caught KeyError in DataLoader worker process 0.\nOriginal Traceback (most recent "
                               "call last):\n") and "KeyError: 'no item 5'" in text and "__getitem__" in text
    del ours, ref, info  # (pytest's ExceptionInfo keeps the tracebacks, and so the iterators, alive)
    gc.collect()
    assert _no_children()


def test_killed_worker_raises_promptly():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly") as info:
        list(DataLoader(Suicidal(), batch_size=2, num_workers=2))
    assert time.monotonic() - t0 < 5
    assert "is killed by signal: Killed" in str(info.value.__cause__)
    del info
    assert _no_children()


def test_timeout():
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.2 seconds$"):
        list(DataLoader(Sleepy(1.0), batch_size=2, num_workers=1, timeout=0.2))
    gc.collect()
    assert _no_children()
    assert len(list(DataLoader(Sleepy(0.0), batch_size=8, num_workers=2, timeout=5))) == 5


def test_early_break_and_garbage_collection_leave_no_child():
    # the bound times the shutdown (break, then collection), not the workers' start-up, which
    # on a loaded machine can take longer than the bound by itself
    for i, _ in enumerate(DataLoader(Sleepy(0.02), batch_size=2, num_workers=2)):
        if i == 1:
            t0 = time.monotonic()
            break
    gc.collect()
    assert _no_children() and time.monotonic() - t0 < 5
    it = iter(DataLoader(Sleepy(0.0), batch_size=2, num_workers=2))
    next(it)
    cycle = [it]
    cycle.append(cycle)
    del it, cycle
    gc.collect()
    assert _no_children()


def test_fork_after_parallel_kernels_does_not_deadlock():
    x = fastgrad.randn(2000, 2000)
    for _ in range(3):
        (x * 2 + 1).relu().sum()
    loader = DataLoader(_Kernels(), batch_size=2, num_workers=2, multiprocessing_context="fork", timeout=60)
    assert [b.tolist() for b in loader] == [[1.0, 1.0], [1.0, 1.0]]


class _Kernels(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        assert fastgrad.get_num_threads() == 1
        x = fastgrad.ones(1000, 1000)
        return float((x * 2 - 1).relu().mean().item())


def test_argument_errors_as_torch():
    torch = pytest.importorskip("torch")
    cases = [dict(num_workers=0, prefetch_factor=2), dict(num_workers=2, prefetch_factor=-1),
             dict(persistent_workers=True), dict(timeout=-1), dict(num_workers=-1),
             dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="nope"),
             dict(num_workers=1, multiprocessing_context=3)]
    for kw in cases:
        with pytest.raises(Exception) as ref:
            torch.utils.data.DataLoader(list(range(4)), **kw)
        with pytest.raises(type(ref.value)) as ours:
            DataLoader(list(range(4)), **kw)
        assert str(ours.value) == str(ref.value), kw
    loader = DataLoader(list(range(4)), num_workers=1)
    assert loader.prefetch_factor == 2 and loader.multiprocessing_context is None
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        loader.batch_size = 3
    with pytest.warns(UserWarning, match="This DataLoader will create 99 worker processes in total"):
        DataLoader(list(range(4)), num_workers=99)


def test_keyboard_interrupt_stops_the_workers():
    import threading

    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    got_interrupt = False
    try:
        timer.start()
        for _ in DataLoader(Sleepy(0.2), batch_size=2, num_workers=2):  # about 4 s of items
            pass
    except KeyboardInterrupt:
        got_interrupt = True
    finally:
        timer.cancel()
    assert got_interrupt
    gc.collect()
    assert _no_children()


def _bad_init(worker_id):
    if worker_id == 1:
        raise RuntimeError("init failed")


def test_worker_init_fn_error_and_pin_memory_warning():
    with pytest.raises(RuntimeError, match="Caught RuntimeError in DataLoader worker process 1.(.|\n)*init failed"):
        list(DataLoader(Items(), batch_size=2, num_workers=2, worker_init_fn=_bad_init))
    gc.collect()
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no accelerator is found"):
        assert len(list(DataLoader(Items(8), batch_size=4, num_workers=1, pin_memory=True))) == 2
    assert _no_children()


def test_unshuffled_batches_equal_torchs():
    torch = pytest.importorskip("torch")

    def plain(batches):
        return [{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in b.items()} for b in batches]

    for kw in (dict(batch_size=5), dict(batch_size=5, drop_last=True), dict(batch_size=None)):
        ours = list(DataLoader(Items(), num_workers=2, **kw))
        ref = list(torch.utils.data.DataLoader(Items(), num_workers=2, **kw))
        if kw["batch_size"] is None:
            assert [(o["x"].tolist(), o["y"]) for o in ours] == [(r["x"].tolist(), r["y"]) for r in ref]
            assert type(ours[0]["x"]) is fastgrad.Tensor and type(ours[0]["y"]) is int
        else:
            assert plain(ours) == plain(ref)
