"""utils.data: datasets, collation, DataLoader batching, shuffling determinism, random_split."""
import warnings
from collections import namedtuple

import numpy as np
import pytest

import fastgrad
from fastgrad.utils import data
from fastgrad.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler,
                                 SequentialSampler, Subset, TensorDataset, default_collate, random_split)


def _ds(n=10):
    return TensorDataset(fastgrad.arange(n * 2).reshape(n, 2).float(), fastgrad.arange(n))


def test_tensor_dataset():
    ds = _ds()
    assert len(ds) == 10
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(fastgrad.ones(3), fastgrad.ones(4))


def test_batches_in_order_and_drop_last():
    loader = DataLoader(_ds(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].shape == (4, 2) and batches[0][0].dtype == fastgrad.float32
    assert isinstance(batches[0], list)
    loader = DataLoader(_ds(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(b[1]) for b in loader] == [4, 4]


def test_shuffle_is_deterministic_with_generator_and_seed():
    g = fastgrad.Generator().manual_seed(7)
    a = [b[1].tolist() for b in DataLoader(_ds(), batch_size=3, shuffle=True, generator=g)]
    g = fastgrad.Generator().manual_seed(7)
    b = [b[1].tolist() for b in DataLoader(_ds(), batch_size=3, shuffle=True, generator=g)]
    assert a == b and sorted(sum(a, [])) == list(range(10)) and sum(a, []) != list(range(10))
    fastgrad.manual_seed(0)
    loader = DataLoader(_ds(), batch_size=5, shuffle=True)
    e1, e2 = [[b[1].tolist() for b in loader] for _ in range(2)]
    assert e1 != e2  # a new order every epoch
    fastgrad.manual_seed(0)
    assert [[b[1].tolist() for b in loader] for _ in range(2)] == [e1, e2]


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "y": i * i, "name": f"s{i}", "pair": (float(i), fastgrad.tensor(i))}


def test_default_collate_structures():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert set(batch) == {"x", "y", "name", "pair"}
    assert batch["x"].shape == (3, 2) and batch["x"].dtype == fastgrad.float32
    assert batch["y"].tolist() == [0, 1, 4] and batch["y"].dtype == fastgrad.int64
    assert batch["name"] == ["s0", "s1", "s2"]
    assert batch["pair"][0].dtype == fastgrad.float64 and batch["pair"][1].tolist() == [0, 1, 2]
    Point = namedtuple("Point", "a b")
    out = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(out, Point) and out.a.tolist() == [1, 3]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError):
        default_collate([object()])


def test_collate_fn_and_no_batching():
    loader = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: len(b))
    assert list(loader) == [2, 2, 2, 1]
    loader = DataLoader(_ds(3), batch_size=None)
    items = list(loader)
    assert len(items) == 3 and items[0][1].item() == 0


def test_matches_torch_dataloader_batching(torch):
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    fl = DataLoader(TensorDataset(fastgrad.tensor(x)), batch_size=6, drop_last=False)
    tl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x)), batch_size=6)
    assert len(fl) == len(tl)
    for (fb,), (tb,) in zip(fl, tl):
        np.testing.assert_array_equal(fb.numpy(), tb.numpy())


def test_iterable_dataset():
    class Count(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Count(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError):
        DataLoader(Count(), shuffle=True)


def test_samplers_and_errors():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, True)) == 2
    r = list(RandomSampler(range(6), generator=fastgrad.Generator().manual_seed(1)))
    assert sorted(r) == list(range(6))
    assert len(list(RandomSampler(range(6), replacement=True, num_samples=10))) == 10
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(_ds(), sampler=SequentialSampler(_ds()), shuffle=True)
    loader = DataLoader(_ds(), batch_sampler=BatchSampler(range(10), 5, False))
    assert [b[1].tolist() for b in loader] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_random_split_and_subset():
    ds = _ds(10)
    g = fastgrad.Generator().manual_seed(42)
    a, b = random_split(ds, [7, 3], generator=g)
    assert isinstance(a, Subset) and len(a) == 7 and len(b) == 3
    assert sorted(a.indices + b.indices) == list(range(10))
    g = fastgrad.Generator().manual_seed(42)
    a2, _ = random_split(ds, [7, 3], generator=g)
    assert a2.indices == a.indices
    parts = random_split(range(10), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    assert [len(p) for p in random_split(range(11), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        random_split(ds, [3, 3])
    sub = Subset(ds, [4, 2])
    assert sub[0][1].item() == 4 and len(sub) == 2
    cat = ConcatDataset([Subset(ds, [0, 1]), Subset(ds, [9])])
    assert len(cat) == 3 and cat[2][1].item() == 9 and cat[-1][1].item() == 9
    assert len(ds + ds) == 20


def test_default_convert_and_collate_errors_match_torch(torch):
    import torch.utils.data as tdata

    def sample(lib, i):
        return {"x": lib.ones(2) * i, "y": i, "z": float(i), "n": np.float32(i), "t": (i, "s%d" % i)}

    for i in range(2):  # batch_size=None: samples are converted, not collated
        f = data.default_convert(sample(fastgrad, i))
        t = tdata.default_convert(sample(torch, i))
        assert type(f["t"]) is type(t["t"]) is list and f["t"] == t["t"]
        assert isinstance(f["n"], fastgrad.Tensor) and f["n"].dtype == fastgrad.float32 and f["n"].item() == i
        assert f["y"] == t["y"] and f["z"] == t["z"]
    with pytest.raises(RuntimeError) as t_err:
        tdata.default_collate([torch.ones(2), torch.ones(2), torch.ones(3)])
    with pytest.raises(RuntimeError) as f_err:
        data.default_collate([fastgrad.ones(2), fastgrad.ones(2), fastgrad.ones(3)])
    assert str(f_err.value) == str(t_err.value)


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, [(x.category, str(x.message)) for x in w]


@pytest.mark.parametrize("kw", [{}, {"pin_memory": True}, {"pin_memory": True, "pin_memory_device": "cuda"},
                                {"pin_memory": False, "pin_memory_device": "cuda"}])
def test_pin_memory_warnings_match_torch(torch, kw):
    """No accelerator: torch warns when an iterator is created (not at construction) that pinned memory
    will not be used (and that pin_memory_device is deprecated); the batches are the same."""
    res = {}
    for lib in (fastgrad, torch):
        ds = lib.utils.data.TensorDataset(lib.arange(10))
        dl, w_init = _warnings_of(lambda: lib.utils.data.DataLoader(ds, batch_size=4, **kw))
        it, w_iter = _warnings_of(lambda: iter(dl))
        batches = [b[0].tolist() for b in it]
        _, w_again = _warnings_of(lambda: iter(dl))
        res[lib.__name__] = (w_init, w_iter, w_again, batches, dl.pin_memory, dl.pin_memory_device)
    assert res["fastgrad"] == res["torch"]
    assert res["torch"][1] == res["torch"][2]  # every new iterator warns again
    if kw.get("pin_memory"):
        assert res["torch"][1]
