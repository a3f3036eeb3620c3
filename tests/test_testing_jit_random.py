"""fastgrad.testing (assert_close's verdicts and messages, make_tensor), fastgrad.jit (eager
stand-ins) and fastgrad.random (fork_rng), against torch where torch defines the behaviour."""
import typing

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def _outcome(lib, actual, expected, **kw):
    try:
        lib.testing.assert_close(actual, expected, **kw)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e).replace("fastgrad._tensor.Tensor", "torch.Tensor")
    return None


def _both(build):
    return build(torch), build(fastgrad)


CASES = {
    "scalars": lambda L: (1.0, 1.1, {}),
    "int-tensors": lambda L: (L.tensor([1, 2]), L.tensor([1, 3]), {}),
    "tensor-vs-float": lambda L: (L.tensor([1.0, 2.0]), 2.0, {}),
    "rtol-only": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.0]), {"rtol": 0}),
    "list-item": lambda L: ([L.tensor(1.0), L.tensor(2.0)], [L.tensor(1.0), L.tensor(2.5)], {}),
    "dict-item": lambda L: ({"a": L.tensor(1.0)}, {"a": L.tensor(3.0)}, {}),
    "nan-not-equal": lambda L: (L.tensor([[1.0, float("nan")]]), L.tensor([[1.0, float("nan")]]), {}),
    "nan-equal": lambda L: (L.tensor([[1.0, float("nan")]]), L.tensor([[1.0, float("nan")]]), {"equal_nan": True}),
    "msg": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.5]), {"msg": "custom"}),
    "msg-callable": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.5]), {"msg": lambda m: "X" + m[:10]}),
    "length": lambda L: ([1, 2], [1, 2, 3], {}),
    "zero-dim": lambda L: (L.tensor(1.0), L.tensor(1.5), {}),
    "dtype": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1, 2]), {}),
    "dtype-unchecked": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1, 2]), {"check_dtype": False}),
    "shape": lambda L: (L.ones(2), L.ones(3), {}),
    "close-float32": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.000001]), {}),
    "close-explicit": lambda L: (L.tensor([1.0, 2.0]), L.tensor([1.0, 2.05]), {"rtol": 0.1, "atol": 0.0}),
    "float64": lambda L: (L.tensor([1.0, 2.0], dtype=L.float64), L.tensor([1.0, 2.0000001], dtype=L.float64), {}),
    "numpy": lambda L: (np.array([1.0, 2.0]), np.array([1.0, 2.5]), {}),
    "bool": lambda L: (L.tensor([True, False]), L.tensor([True, True]), {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_matches_torch(name):
    ta, te, kw = CASES[name](torch)
    fa, fe, fkw = CASES[name](fastgrad)
    assert _outcome(fastgrad, fa, fe, **fkw) == _outcome(torch, ta, te, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex64", "float16"])
def test_make_tensor(dtype):
    t = fastgrad.testing.make_tensor(3, 4, dtype=getattr(fastgrad, dtype), device="cpu")
    assert tuple(t.shape) == (3, 4) and t.dtype == getattr(fastgrad, dtype)
    if dtype not in ("bool", "complex64"):
        vals = t.numpy().astype(float)
        assert vals.min() >= (-9 if dtype != "uint8" else 0) and vals.max() <= 10
    t = fastgrad.testing.make_tensor((5,), dtype=fastgrad.float32, device="cpu", low=0, high=1, requires_grad=True,
                                     exclude_zero=True, noncontiguous=True)
    assert t.requires_grad and not t.is_contiguous() and (t.detach().numpy() != 0).all()
    assert t.min().item() >= 0 and t.max().item() < 1
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 2 >= 1"):
        fastgrad.testing.make_tensor(2, dtype=fastgrad.float32, device="cpu", low=2, high=1)


def test_jit_runs_eagerly():
    @fastgrad.jit.script
    def f(x):
        return x * 2

    np.testing.assert_array_equal(f(fastgrad.ones(2)).numpy(), [2.0, 2.0])
    m = fastgrad.nn.Linear(2, 2)
    assert fastgrad.jit.trace(m, fastgrad.ones(1, 2)) is m and fastgrad.jit.script(m) is m
    assert not fastgrad.jit.is_scripting() and not fastgrad.jit.is_tracing()

    @fastgrad.jit.ignore
    def g(x):
        return x

    assert g(3) == 3 and fastgrad.jit.unused(g) is g
    fut = fastgrad.jit.fork(lambda a, b: a + b, 1, 2)
    assert fastgrad.jit.wait(fut) == 3
    assert fastgrad.jit.annotate(typing.List[int], []) == []
    assert fastgrad.jit.isinstance([1, 2], typing.List[int]) and not fastgrad.jit.isinstance([1, "a"], typing.List[int])
    assert fastgrad.jit.isinstance({"a": 1}, typing.Dict[str, int])
    with pytest.raises(RuntimeError, match="TorchScript"):
        fastgrad.jit.save(m, "x.pt")


def test_fork_rng_restores_state():
    fastgrad.manual_seed(3)
    with fastgrad.random.fork_rng():
        inside = fastgrad.rand(3)
    after = fastgrad.rand(3)
    np.testing.assert_array_equal(inside.numpy(), after.numpy())
    fastgrad.random.manual_seed(5)
    assert fastgrad.random.initial_seed() == 5
    state = fastgrad.random.get_rng_state()
    a = fastgrad.rand(2)
    fastgrad.random.set_rng_state(state)
    np.testing.assert_array_equal(fastgrad.rand(2).numpy(), a.numpy())
