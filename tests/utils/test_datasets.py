"""StackDataset, ChainDataset, Subset, random_split (fractions), DistributedSampler: against torch's."""
import warnings

import pytest

import fastgrad
from fastgrad.utils import data

torch = pytest.importorskip("torch")


def _both(name, *args, **kwargs):
    """Build the same thing from fastgrad's and torch's utils.data (args given as functions of the library)."""
    out = []
    for lib in (fastgrad, torch):
        a = [x(lib) if callable(x) else x for x in args]
        kw = {k: (v(lib) if callable(v) else v) for k, v in kwargs.items()}
        out.append(getattr(lib.utils.data, name)(*a, **kw))
    return out


def _plain(x):
    if isinstance(x, (torch.Tensor, fastgrad.Tensor)):
        return x.tolist()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def test_torch_names_are_here():
    skip = {"DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe", "argument_validation",
            "functional_datapipe", "guaranteed_datapipes_determinism", "non_deterministic", "runtime_validation",
            "runtime_validation_disabled"}  # torchdata's DataPipes (deprecated in torch)
    assert sorted(n for n in torch.utils.data.__all__ if n not in skip and not hasattr(data, n)) == []
    from fastgrad.utils.data.dataloader import default_collate, get_worker_info  # noqa: F401  (torch's paths)


def test_stack_dataset():
    def tds(lib):
        return lib.utils.data.TensorDataset(lib.arange(6.0).reshape(3, 2))

    ours, ref = _both("StackDataset", tds, [10, 20, 30])
    assert len(ours) == len(ref) == 3 and _plain(ours[1]) == _plain(ref[1])
    assert _plain(ours.__getitems__([2, 0])) == _plain(ref.__getitems__([2, 0]))
    ours, ref = _both("StackDataset", x=tds, y=[1, 2, 3])
    assert _plain(ours[2]) == _plain(ref[2]) and _plain(ours.__getitems__([1])) == _plain(ref.__getitems__([1]))
    batch = next(iter(data.DataLoader(ours, batch_size=2)))
    assert _plain(batch) == _plain(next(iter(torch.utils.data.DataLoader(ref, batch_size=2))))
    for args, kwargs in [((), {}), (([1, 2], [1]), {}), (([1],), {"y": [1]}), ((), {"a": [1, 2], "b": [1]})]:
        with pytest.raises(ValueError) as r:
            torch.utils.data.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match=str(r.value).replace("(", r"\(").replace(")", r"\)")):
            data.StackDataset(*args, **kwargs)


class Range(data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_chain_dataset():
    chain = data.ChainDataset([Range(2), Range(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    assert list(Range(1) + Range(2)) == [0, 0, 1]
    assert [b.tolist() for b in data.DataLoader(chain, batch_size=2)] == [[0, 1], [0, 1], [2]]
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(data.ChainDataset([[1, 2]]))


def test_subset_getitems_and_override_check():
    sub = data.Subset(data.StackDataset([0, 10, 20, 30]), [3, 1])
    assert sub.__getitems__([0, 1]) == [(30,), (10,)]

    class Bad(data.Subset):
        def __getitem__(self, idx):
            return 0

    with pytest.raises(NotImplementedError) as r:
        type("Bad", (torch.utils.data.Subset,), {"__getitem__": lambda self, i: 0})([1], [0])
    with pytest.raises(NotImplementedError) as o:
        Bad([1], [0])
    assert str(o.value) == str(r.value)


def test_random_split_fractions():
    g = fastgrad.Generator().manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = data.random_split(range(10), [0.5, 0.3, 0.2, 0.0], generator=g)
        ref = torch.utils.data.random_split(range(10), [0.5, 0.3, 0.2, 0.0])
    assert [len(p) for p in parts] == [len(p) for p in ref] == [5, 3, 2, 0]
    assert any("Length of split at index 3 is 0" in str(w.message) for w in caught)
    assert sorted(sum((list(p) for p in parts), [])) == list(range(10))
    assert [len(p) for p in data.random_split(range(7), [0.34, 0.33, 0.33])] == \
        [len(p) for p in torch.utils.data.random_split(range(7), [0.34, 0.33, 0.33])] == [3, 2, 2]
    for lengths in ([0.5, 0.6], [4, 4], [1.2, -0.2]):
        with pytest.raises(ValueError) as r:
            torch.utils.data.random_split(range(10), lengths)
        with pytest.raises(ValueError) as o:
            data.random_split(range(10), lengths)
        assert str(o.value) == str(r.value)


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 4, False),
                                                   (11, 4, False)])
def test_distributed_sampler_as_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours, ref = _both("DistributedSampler", list(range(n)), num_replicas=replicas, rank=rank, shuffle=False,
                          drop_last=drop_last)
        assert list(ours) == list(ref) and len(ours) == len(ref)
    shards = [list(data.DistributedSampler(range(n), replicas, r, shuffle=True, seed=3, drop_last=drop_last))
              for r in range(replicas)]
    assert all(len(s) == len(shards[0]) for s in shards)
    if not drop_last:
        assert sorted(set(sum(shards, []))) == list(range(n))
    sampler = data.DistributedSampler(range(n), replicas, 0, seed=3)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert n < 3 or list(sampler) != first


def test_distributed_sampler_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        data.DistributedSampler(range(4), num_replicas=3, rank=3)
    import fastgrad.distributed as dist

    if dist.is_available():  # torch's: num_replicas and rank come from the default process group, not made yet
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            data.DistributedSampler(range(4))
    monkeypatch.setattr(dist, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
        data.DistributedSampler(range(4))
