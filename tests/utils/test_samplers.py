"""fastgrad.utils.data samplers: PyTorch's classes, signatures, errors and drawing scheme
(RandomSampler draws lazily, 32 at a time, so num_samples=10**10 costs nothing up front)."""
import inspect
import itertools

import numpy as np
import pytest

import fastgrad
from fastgrad.utils.data import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler,
                                 SubsetRandomSampler, TensorDataset, WeightedRandomSampler)

NAMES = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
         "BatchSampler"]


@pytest.mark.parametrize("name", NAMES)
def test_signatures_match_torch(torch, name):
    import fastgrad.utils.data.sampler as fs

    ts = getattr(torch.utils.data.sampler, name)
    f = getattr(fs, name)
    assert getattr(fastgrad.utils.data, name) is f
    if name == "Sampler":
        return  # (fastgrad's base still takes PyTorch's old optional data_source)
    tp = [(p.name, p.default, p.kind) for p in inspect.signature(ts.__init__).parameters.values()]
    fp = [(p.name, p.default, p.kind) for p in inspect.signature(f.__init__).parameters.values()]
    assert fp == tp
    assert issubclass(f, Sampler)


def test_random_sampler_with_replacement_is_lazy():
    s = RandomSampler(range(10), replacement=True, num_samples=10**10)
    assert len(s) == 10**10
    first = list(itertools.islice(iter(s), 100))  # would need 80 GB if the indices were made up front
    assert len(first) == 100 and all(0 <= i < 10 for i in first)
    loader = DataLoader(TensorDataset(fastgrad.arange(10.0)), batch_size=4, sampler=s)
    assert len(loader) == 10**10 // 4
    batch = next(iter(loader))[0]
    assert batch.shape == (4,)


def test_random_sampler_draws_like_torch_32_at_a_time():
    """The same calls, in the same order, as PyTorch's RandomSampler: randint(high=n, size=(32,)) per
    chunk, then one of size num_samples % 32; randperm(n) per pass without replacement."""
    for num_samples in (5, 32, 70, 96):
        got = list(RandomSampler(range(7), True, num_samples, generator=fastgrad.Generator().manual_seed(3)))
        g = fastgrad.Generator().manual_seed(3)
        want = []
        for _ in range(num_samples // 32):
            want += fastgrad.randint(high=7, size=(32,), generator=g).tolist()
        want += fastgrad.randint(high=7, size=(num_samples % 32,), generator=g).tolist()
        assert got == want
    got = list(RandomSampler(range(5), num_samples=12, generator=fastgrad.Generator().manual_seed(4)))
    g = fastgrad.Generator().manual_seed(4)
    want = fastgrad.randperm(5, generator=g).tolist() + fastgrad.randperm(5, generator=g).tolist()
    want += fastgrad.randperm(5, generator=g).tolist()[:2]
    assert got == want
    for block in (got[:5], got[5:10]):
        assert sorted(block) == list(range(5))
    assert len(set(got[10:])) == 2


def test_random_sampler_default_generator():
    s = RandomSampler(range(20))
    fastgrad.manual_seed(0)
    a, b = list(s), list(s)
    fastgrad.manual_seed(0)
    assert list(s) == a and list(s) == b and a != b  # a fresh generator per epoch, seeded from the default
    assert sorted(a) == list(range(20))
    g = fastgrad.Generator().manual_seed(1)
    s = RandomSampler(range(20), generator=g)
    c, d = list(s), list(s)
    assert c != d  # the sampler's generator moves on


def test_sampler_errors_match_torch(torch):
    cases = [
        lambda D: D.RandomSampler(range(3), replacement=1),
        lambda D: D.RandomSampler(range(3), num_samples=0),
        lambda D: D.RandomSampler(range(3), num_samples=-1),
        lambda D: D.RandomSampler(range(3), True, num_samples=1.5),
        lambda D: D.RandomSampler(range(3), True, num_samples="3"),
        lambda D: D.RandomSampler([]),
        lambda D: list(D.RandomSampler([], True, num_samples=3)),
        lambda D: D.WeightedRandomSampler([0.5, 0.5], 0),
        lambda D: D.WeightedRandomSampler([0.5, 0.5], True),
        lambda D: D.WeightedRandomSampler([0.5, 0.5], 2, replacement=0),
        lambda D: D.WeightedRandomSampler([[0.5, 0.5]], 2),
        lambda D: list(D.WeightedRandomSampler([0.5, 0.5], 3, replacement=False)),
        lambda D: list(D.WeightedRandomSampler([0.5, -0.5], 3)),
        lambda D: list(D.WeightedRandomSampler([0.0, 0.0], 3)),
        lambda D: D.BatchSampler(range(3), 0, False),
        lambda D: D.BatchSampler(range(3), True, False),
        lambda D: D.BatchSampler(range(3), 2.0, False),
        lambda D: D.BatchSampler(range(3), np.int64(2), False),
        lambda D: D.BatchSampler(range(3), 2, 1),
    ]
    for i, c in enumerate(cases):
        want = got = None
        try:
            c(torch.utils.data)
        except Exception as e:  # noqa: BLE001
            want = (type(e), str(e))
        try:
            c(fastgrad.utils.data)
        except Exception as e:  # noqa: BLE001
            got = (type(e), str(e))
        assert want is not None and got == want, i


def test_deterministic_samplers_match_torch(torch):
    TD = torch.utils.data
    for n in (0, 1, 7, 10):
        assert list(SequentialSampler(range(n))) == list(TD.SequentialSampler(range(n)))
        assert len(SequentialSampler(range(n))) == n
        for bs in (1, 3, 4, 10, 11):
            for drop_last in (False, True):
                f = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
                t = TD.BatchSampler(TD.SequentialSampler(range(n)), bs, drop_last)
                assert list(f) == list(t) and len(f) == len(t)
    assert list(BatchSampler(iter(range(5)), 2, False)) == [[0, 1], [2, 3], [4]]  # any iterable


def test_subset_random_sampler():
    idx = [10, 20, 30, 40, 50]
    s = SubsetRandomSampler(idx)
    assert len(s) == 5 and sorted(s) == idx
    fastgrad.manual_seed(5)
    a = list(s)
    fastgrad.manual_seed(5)
    assert list(s) == a  # PyTorch: randperm on the default generator when none is given
    g1, g2 = fastgrad.Generator().manual_seed(2), fastgrad.Generator().manual_seed(2)
    assert list(SubsetRandomSampler(idx, g1)) == list(SubsetRandomSampler(idx, generator=g2))
    assert list(SubsetRandomSampler(range(0))) == []


def test_weighted_random_sampler():
    w = [0.0, 1.0, 0.0, 3.0]
    s = WeightedRandomSampler(w, 8000, generator=fastgrad.Generator().manual_seed(0))
    assert len(s) == 8000 and s.weights.dtype == fastgrad.float64 and s.replacement is True
    draws = np.array(list(s))
    assert set(draws.tolist()) == {1, 3}
    assert abs((draws == 3).mean() - 0.75) < 0.03
    s = WeightedRandomSampler(fastgrad.tensor([0.9, 0.4, 0.05, 0.2, 0.3, 0.1]), 5, replacement=False)
    for _ in range(20):
        out = list(s)
        assert len(out) == 5 and len(set(out)) == 5 and all(0 <= i < 6 for i in out)
    g1, g2 = fastgrad.Generator().manual_seed(9), fastgrad.Generator().manual_seed(9)
    assert list(WeightedRandomSampler(w, 10, generator=g1)) == list(WeightedRandomSampler(w, 10, generator=g2))
    loader = DataLoader(TensorDataset(fastgrad.arange(4.0)), batch_size=5,
                        sampler=WeightedRandomSampler(w, 10, generator=fastgrad.Generator().manual_seed(1)))
    batches = [b[0].tolist() for b in loader]
    assert [len(b) for b in batches] == [5, 5] and set(sum(batches, [])) <= {1.0, 3.0}
