"""default_collate / default_convert against torch's, for every type torch collates, with torch's errors."""
import collections
from collections import namedtuple

import numpy as np
import pytest

import fastgrad
from fastgrad.utils.data import default_collate, default_convert
from fastgrad.utils.data._utils.collate import collate, collate_tensor_fn

torch = pytest.importorskip("torch")

Point = namedtuple("Point", "x y")


class FrozenMap(collections.abc.Mapping):
    def __init__(self, d):
        self._d = dict(d)

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


class Seq(collections.abc.Sequence):
    def __init__(self, items):
        self._items = list(items)

    def __getitem__(self, i):
        return self._items[i]

    def __len__(self):
        return len(self._items)


def _samples(lib):
    t = lib.tensor
    return {
        "tensors": [t([1.0, 2.0]), t([3.0, 4.0])],
        "int tensors": [t(1), t(2)],
        "numpy": [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
        "numpy int": [np.arange(3), np.arange(3, 6)],
        "numpy scalars": [np.float32(1.5), np.float32(2.5)],
        "numpy int scalars": [np.int16(1), np.int16(2)],
        "numpy bool scalars": [np.bool_(True), np.bool_(False)],
        "floats": [1.0, 2.5],
        "ints": [1, 2],
        "bools": [True, False],
        "str": ["a", "b"],
        "bytes": [b"a", b"b"],
        "dicts": [{"a": 1, "b": [1.0, np.float64(2)]}, {"a": 2, "b": [3.0, np.float64(4)]}],
        "ordered dicts": [collections.OrderedDict(a=1, z=2.0), collections.OrderedDict(a=3, z=4.0)],
        "mappings": [FrozenMap({"k": 1}), FrozenMap({"k": 2})],
        "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
        "tuples": [(1, "x"), (2, "y")],
        "lists": [[1, 2.0], [3, 4.0]],
        "sequences": [Seq([1, 2]), Seq([3, 4])],
        "nested": [{"img": np.ones(3, np.uint8), "meta": (Point(1, [2, 3]), "s")},
                   {"img": np.zeros(3, np.uint8), "meta": (Point(4, [5, 6]), "t")}],
    }


def _plain(x):
    """A comparable structure: tensors become (dtype name, values), containers keep their type's name."""
    if isinstance(x, (torch.Tensor, fastgrad.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, collections.abc.Mapping):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, (list, tuple, Seq)):
        return (type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, np.ndarray):
        return ("ndarray", str(x.dtype), x.tolist())
    return x


@pytest.mark.parametrize("case", list(_samples(fastgrad)))
def test_default_collate_as_torch(case):
    ours = default_collate(_samples(fastgrad)[case])
    ref = torch.utils.data.default_collate(_samples(torch)[case])
    assert _plain(ours) == _plain(ref)


@pytest.mark.parametrize("case", list(_samples(fastgrad)))
def test_default_convert_as_torch(case):
    for sample in range(2):
        ours = default_convert(_samples(fastgrad)[case][sample])
        ref = torch.utils.data.default_convert(_samples(torch)[case][sample])
        assert _plain(ours) == _plain(ref)
    assert _plain(default_convert(np.array(["a", "b"]))) == ("ndarray", "<U1", ["a", "b"])


@pytest.mark.parametrize("bad", [[object(), object()], [np.array(["a"]), np.array(["b"])], [None, None],
                                 [[1, 2], [1]], [np.array([1, 2]), np.array([1, 2, 3])]])
def test_errors_as_torch(bad):
    def convert(lib, items):
        return [lib.tensor(i) if isinstance(i, np.ndarray) and i.dtype.kind == "i" else i for i in items]

    with pytest.raises(Exception) as ref:
        torch.utils.data.default_collate(convert(torch, bad))
    with pytest.raises(type(ref.value)) as ours:
        default_collate(convert(fastgrad, bad))
    assert str(ours.value) == str(ref.value)


def test_mixed_dtypes_and_custom_map():
    ours = default_collate([fastgrad.tensor([1, 2]), fastgrad.tensor([1.5, 2.5])])
    ref = torch.utils.data.default_collate([torch.tensor([1, 2]), torch.tensor([1.5, 2.5])])
    assert _plain(ours) == _plain(ref)
    custom = {fastgrad.Tensor: collate_tensor_fn, Point: lambda b, collate_fn_map: "points"}
    assert collate([Point(1, 2)], collate_fn_map=custom) == "points"
    assert default_collate([{"a": fastgrad.ones(2, requires_grad=True)}])["a"].requires_grad
