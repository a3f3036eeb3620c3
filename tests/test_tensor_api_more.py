"""More of the Tensor API real programs use: multinomial, indexing with ranges and other sequences,
the typed constructors (LongTensor, ...) with Tensor.type(). Against PyTorch where deterministic."""
import warnings

import numpy as np
import pytest

import fastgrad


def _err(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e), str(e)
    return None


# ----------------------------------------------------------------------------- multinomial
MULTINOMIAL_ERRORS = [
    lambda L: L.multinomial(L.tensor([0.1, -0.2]), 1),
    lambda L: L.multinomial(L.tensor([0.1, float("inf")]), 1),
    lambda L: L.multinomial(L.tensor([0.1, float("nan")]), 1),
    lambda L: L.multinomial(L.tensor([0.0, 0.0]), 1),
    lambda L: L.multinomial(L.tensor([[0.0, 0.0], [1.0, 1.0]]), 1),
    lambda L: L.multinomial(L.tensor([[1.0, 1.0], [0.5, -1.0]]), 2),
    lambda L: L.multinomial(L.tensor([1.0, 1.0]), 3),
    lambda L: L.multinomial(L.tensor([1.0, 1.0]), 0),
    lambda L: L.multinomial(L.tensor([1.0, 1.0]), -1),
    lambda L: L.multinomial(L.tensor([1, 1]), 1),
    lambda L: L.multinomial(L.ones(2, 2, 2), 1),
    lambda L: L.multinomial(L.tensor(1.0), 1),
    lambda L: L.multinomial(L.ones(0), 1),
    lambda L: L.multinomial(L.tensor([1.0, 0.0]), 1.5),
    lambda L: L.multinomial(L.tensor([1.0, 0.0]), 1, replacement=1),
    lambda L: L.multinomial(L.tensor([0.1, -0.2]), 2, True),
    lambda L: L.multinomial(L.tensor([0.1, float("inf")]), 2, True),
    lambda L: L.multinomial(L.tensor([0.1, float("nan")]), 2, True),
    lambda L: L.multinomial(L.tensor([[1.0, 2.0], [0.0, 0.0]]), 2, True),
    lambda L: L.multinomial(L.ones(0), 2, True),
    lambda L: L.multinomial(L.ones(3, 0), 2, True),
    lambda L: L.ones(3).multinomial(4),
]


@pytest.mark.parametrize("i", range(len(MULTINOMIAL_ERRORS)))
def test_multinomial_errors_match_torch(torch, i):
    want = _err(lambda: MULTINOMIAL_ERRORS[i](torch))
    got = _err(lambda: MULTINOMIAL_ERRORS[i](fastgrad))
    assert want is not None and got == want


def test_multinomial_shapes_and_structure():
    fastgrad.manual_seed(0)
    p = fastgrad.rand(5, 10) + 0.01
    for replacement in (False, True):
        for n in (1, 4, 10):
            out = fastgrad.multinomial(p, n, replacement)
            assert out.shape == (5, n) and out.dtype == fastgrad.int64 and not out.requires_grad
            assert out.min().item() >= 0 and out.max().item() < 10
            if not replacement:
                assert all(len(set(row)) == n for row in out.tolist())  # no repeats
    one = fastgrad.tensor([0.2, 0.3, 0.5], requires_grad=True).multinomial(2)
    assert one.shape == (2,) and len(set(one.tolist())) == 2
    assert fastgrad.multinomial(fastgrad.ones(0, 3), 1).shape == (0, 1)
    # every category is drawn once when all are asked for, zero-weight ones last (PyTorch: [0, 1])
    assert sorted(fastgrad.multinomial(fastgrad.ones(7), 7).tolist()) == list(range(7))
    assert fastgrad.multinomial(fastgrad.tensor([1.0, 0.0]), 2).tolist() == [0, 1]
    # with replacement a zero-weight category is never drawn
    w = fastgrad.tensor([0.0, 1.0, 0.0, 2.0, 0.0])
    draws = fastgrad.multinomial(w, 5000, True).numpy()
    assert set(np.unique(draws)) == {1, 3}
    assert fastgrad.multinomial(fastgrad.tensor([[0.0, 0.0, 3.0]]), 1).tolist() == [[2]]


def test_multinomial_distribution():
    g = fastgrad.Generator().manual_seed(1234)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    n = 40000
    draws = fastgrad.multinomial(fastgrad.tensor(p * 7.0), n, True, generator=g).numpy()
    freq = np.bincount(draws, minlength=4) / n
    assert np.abs(freq - p).max() < 0.01
    # without replacement: ordered pairs (i, j) with probability p_i p_j / (1 - p_i)
    rows = fastgrad.tensor(np.tile(p, (20000, 1)))
    pairs = fastgrad.multinomial(rows, 2, generator=g).numpy()
    counts = np.zeros((4, 4))
    np.add.at(counts, (pairs[:, 0], pairs[:, 1]), 1)
    exact = p[:, None] * p[None, :] / (1 - p[:, None])
    np.fill_diagonal(exact, 0)
    assert np.abs(counts / len(pairs) - exact).max() < 0.01
    assert np.all(np.diag(counts) == 0)


def test_multinomial_generator_and_seed():
    p = fastgrad.tensor([[0.3, 0.2, 0.5], [1.0, 1.0, 1.0]])
    fastgrad.manual_seed(7)
    a = fastgrad.multinomial(p, 3, True)
    fastgrad.manual_seed(7)
    b = p.multinomial(3, replacement=True)
    assert a.tolist() == b.tolist()
    g1, g2 = fastgrad.Generator().manual_seed(3), fastgrad.Generator().manual_seed(3)
    assert fastgrad.multinomial(p, 2, generator=g1).tolist() == fastgrad.multinomial(p, 2, generator=g2).tolist()
    out = fastgrad.multinomial(fastgrad.tensor([1.0, 2.0]), 1, generator=fastgrad.Generator().manual_seed(0))
    assert out.shape == (1,)


# ----------------------------------------------------------------------------- indexing with sequences
GET_CASES = [
    "x[range(2)]", "x[range(2), range(1, 3)]", "x[(0, 1),]", "x[[[0, 1], [1, 2]]]", "x[[0, 1], [1, 2]]",
    "x[(0, 1), :]", "x[[0, slice(None)]]", "x[range(0, 3, 2), 1:]", "x[:, range(3)]", "x[[True, False, True]]",
    "x[(True, False, True),]", "x[range(0)]", "x[[]]", "x[[L.tensor(0), L.tensor(1)]]", "x[(range(2), range(2))]",
    "x[[range(2), range(2)]]", "x[((0, 1), (1, 2)),]", "x[[1.0]]", "x[[0, 1.0]]", "x[[True, 1]]",
    "x[range(-1, -3, -1)]", "x[:, [[0], [1]]]", "x[[None]]", "x[[0] * 40]", "x[[[0] * 40]]",
    "x[np.array([[0, 1], [1, 2]])]", "x[..., range(2)]", "x[range(2), None, [1, 2]]", "x[range(3)][range(1, 3)]",
]


@pytest.mark.parametrize("expr", GET_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_getitem_sequences_match_torch(torch, expr, dtype):
    results = []
    for L in (torch, fastgrad):
        x = L.arange(12.0, dtype=getattr(L, dtype)).reshape(3, 4).requires_grad_()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = eval(expr, {"x": x, "L": L, "np": np})
        g = np.arange(y.numel(), dtype=dtype).reshape(tuple(y.shape)) + 1
        y.backward(L.tensor(g))
        results.append((tuple(y.shape), y.detach().numpy().copy(), x.grad.numpy().copy()))
    (ts, ty, tg), (fs, fy, fg) = results
    assert ts == fs and ty.dtype == fy.dtype
    np.testing.assert_array_equal(fy, ty)
    np.testing.assert_array_equal(fg, tg)


SET_CASES = [("x[range(2)]", "0."), ("x[range(2), range(2)]", "L.tensor([7., 8.])"), ("x[(0, 2),]", "L.ones(4)"),
             ("x[[0, 1], [1, 2]]", "5."), ("x[range(1, 3), 1:]", "L.ones(2, 3) * 2"),
             ("x[[True, False, True]]", "-1."), ("x[:, range(0, 4, 3)]", "L.tensor([[1.], [2.], [3.]])"),
             ("x[(range(3), (0, 1, 0))]", "L.tensor([9., 8., 7.])")]


@pytest.mark.parametrize("target, value", SET_CASES)
def test_setitem_sequences_match_torch(torch, target, value):
    res = []
    for L in (torch, fastgrad):
        base = L.arange(12.0).reshape(3, 4).requires_grad_()
        val = eval(value, {"L": L})
        if isinstance(val, L.Tensor):
            val = val.clone().requires_grad_()
        x = base * 1
        exec(target + " = val", {"x": x, "val": val})
        (x * L.arange(12.0).reshape(3, 4)).sum().backward()
        res.append((x.detach().numpy().copy(), base.grad.numpy().copy(),
                    val.grad.numpy().copy() if isinstance(val, L.Tensor) else None))
    for t, f in zip(*res):
        if t is None:
            assert f is None
        else:
            np.testing.assert_array_equal(f, t)
    # the same write without autograd
    tx, fx = torch.zeros(3, 4), fastgrad.zeros(3, 4)
    tx[range(1, 3), range(2)] = 1.0
    fx[range(1, 3), range(2)] = 1.0
    np.testing.assert_array_equal(fx.numpy(), tx.numpy())


def test_list_as_tuple_warns_like_torch(torch):
    for L in (torch, fastgrad):
        x = L.arange(12.0).reshape(3, 4)
        with pytest.warns(UserWarning, match="Using a non-tuple sequence for multidimensional indexing is deprecated"):
            x[[[0, 1], [1, 2]]]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            x[[0, 1]]
            x[range(2)]


def test_sequence_index_errors_match_torch(torch):
    for expr in ("x['a']", "x[1.0]", "x[(1.0,)]", "x[range(5)]", "x[L.tensor([0.5])]", "x[[0, 5]]"):
        want = _err(lambda: eval(expr, {"x": torch.arange(12.0).reshape(3, 4), "L": torch}))
        got = _err(lambda: eval(expr, {"x": fastgrad.arange(12.0).reshape(3, 4), "L": fastgrad}))
        assert want is not None and got is not None and got[0] is want[0], expr
        if "only integers" in want[1] or "invalid data type" in want[1]:
            assert got[1] == want[1]


# ----------------------------------------------------------------------------- typed constructors, type()
TYPED = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
         "ByteTensor", "BoolTensor"]


@pytest.mark.parametrize("name", TYPED)
def test_typed_constructors_match_torch(torch, name):
    T, F = getattr(torch, name), getattr(fastgrad, name)
    assert repr(F.dtype) == repr(T.dtype).replace("torch.", "fastgrad.") and F.__name__ == name
    for args in ([[1, 2, 3]], [[1.7, -2.5]], [[[1, 0], [2, 3]]], [np.array([1, 2])], [(2, 3)], []):
        try:
            t = T(*args)
        except RuntimeError as e:  # e.g. -2.5 as uint8: PyTorch's overflow error
            assert _err(lambda: F(*args)) == (RuntimeError, str(e))
            continue
        f = F(*args)
        assert repr(f.dtype) == repr(t.dtype).replace("torch.", "fastgrad.") and f.shape == t.shape, args
        np.testing.assert_array_equal(f.numpy(), t.numpy())
    for size in ([2, 3], [4], [0, 2], [torch.Size([2, 3])]):
        f = F(*[fastgrad.Size(s) if isinstance(s, torch.Size) else s for s in size])
        assert tuple(f.shape) == tuple(T(*size).shape) and f.dtype == F.dtype
    for L, K in ((torch, T), (fastgrad, F)):
        for d in ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"):
            x = L.zeros(2, dtype=getattr(L, d))
            assert isinstance(x, K) == (x.dtype == K.dtype)
        assert isinstance(L.ones(2), L.Tensor)
    assert isinstance(fastgrad.nn.Parameter(fastgrad.zeros(2)), fastgrad.FloatTensor)
    assert not issubclass(F, fastgrad.Tensor) and not issubclass(T, torch.Tensor)


def test_typed_constructor_errors_match_torch(torch):
    cases = [lambda L: L.FloatTensor(2.5), lambda L: L.FloatTensor(2, 3.0), lambda L: L.FloatTensor(-1),
             lambda L: L.FloatTensor([1, 2], requires_grad=True), lambda L: L.FloatTensor([1, 2], dtype=L.float64),
             lambda L: L.FloatTensor(L.tensor([1, 2])), lambda L: L.LongTensor(L.tensor([1.0]))]
    for c in cases:
        want, got = _err(lambda: c(torch)), _err(lambda: c(fastgrad))
        assert want is not None and got == want


def test_typed_constructor_shares_a_same_dtype_tensor():
    x = fastgrad.tensor([1.0, 2.0])
    y = fastgrad.FloatTensor(x)
    y[0] = 5.0
    assert x[0].item() == 5.0 and fastgrad.FloatTensor(2, 3, device="cpu").shape == (2, 3)
    assert fastgrad.FloatTensor().shape == (0,)
    b = fastgrad.BFloat16Tensor([1.0, 2.5])  # bfloat16 is a fastgrad dtype (ml_dtypes.bfloat16)
    assert b.dtype == fastgrad.bfloat16 and b.tolist() == [1.0, 2.5] and isinstance(b, fastgrad.BFloat16Tensor)
    assert not isinstance(fastgrad.ones(2), fastgrad.BFloat16Tensor)


def test_type_strings_and_conversions_match_torch(torch):
    for d in ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
              "complex64"):
        assert fastgrad.zeros(2, dtype=getattr(fastgrad, d)).type() == torch.zeros(2, dtype=getattr(torch, d)).type()
    for L in (torch, fastgrad):
        x = L.tensor([1.5, -2.5])
        assert x.type(L.LongTensor).tolist() == [1, -2] and x.type(L.LongTensor).dtype == L.int64
        assert x.type("torch.LongTensor").dtype == L.int64 and x.type(dtype=L.DoubleTensor).dtype == L.float64
        assert x.type(L.int32).dtype == L.int32 and x.type(L.FloatTensor) is x
    assert fastgrad.ones(1).type("fastgrad.IntTensor").dtype == fastgrad.int32
    for bad in ("torch.int32", "torch.Foo", "LongTensor"):
        assert _err(lambda: fastgrad.ones(1).type(bad)) == _err(lambda: torch.ones(1).type(bad))
    a, ta = fastgrad.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    (a.type(fastgrad.DoubleTensor) * 3).sum().backward()
    (ta.type(torch.DoubleTensor) * 3).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    assert a.grad.dtype == fastgrad.float32
