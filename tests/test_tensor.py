"""Tensor: dtypes and promotion, creation, attributes, conversions, repr, errors (vs PyTorch)."""
import numpy as np
import pytest

import fastgrad as fg


def _rename(s):
    return s.replace("torch.", "fastgrad.")


# ----------------------------------------------------------------------------- dtypes
def test_dtype_aliases():
    assert fg.float is fg.float32 and fg.double is fg.float64 and fg.long is fg.int64
    assert fg.bool.name == "bool" and fg.int is fg.int32
    assert repr(fg.float32) == "fastgrad.float32"


def test_tensor_dtype_inference(torch):
    cases = [1, 1.5, True, [1, 2], [1.0, 2], [[True, False]], np.float64(2.0), np.array([1.0, 2.0]),
             np.array([1, 2], dtype=np.int32), np.array([1.0], dtype=np.float32), np.array(3)]
    for data in cases:
        assert fg.tensor(data).dtype.name == str(torch.tensor(data).dtype).split(".")[1], data
    assert fg.Tensor(np.array([3, 1, 4])).dtype == fg.float32
    assert fg.tensor(np.random.randn(3)).dtype == fg.float64


PROMO_OPERANDS = {
    "f32": lambda lib: lib.ones(2, dtype=lib.float32),
    "f64": lambda lib: lib.ones(2, dtype=lib.float64),
    "i64": lambda lib: lib.ones(2, dtype=lib.int64),
    "i32": lambda lib: lib.ones(2, dtype=lib.int32),
    "b": lambda lib: lib.ones(2, dtype=lib.bool),
    "f64_0d": lambda lib: lib.tensor(1.0, dtype=lib.float64),
    "i64_0d": lambda lib: lib.tensor(1),
    "int": lambda lib: 2,
    "float": lambda lib: 2.5,
    "bool": lambda lib: True,
}


@pytest.mark.parametrize("left", list(PROMO_OPERANDS))
@pytest.mark.parametrize("right", list(PROMO_OPERANDS))
def test_type_promotion_matches_torch(torch, left, right):
    a_f, b_f = PROMO_OPERANDS[left](fg), PROMO_OPERANDS[right](fg)
    a_t, b_t = PROMO_OPERANDS[left](torch), PROMO_OPERANDS[right](torch)
    if not isinstance(a_t, torch.Tensor) and not isinstance(b_t, torch.Tensor):
        return
    for op in ("__add__", "__mul__"):
        try:
            expected = getattr(a_t, op)(b_t) if isinstance(a_t, torch.Tensor) else getattr(b_t, op)(a_t)
        except RuntimeError:
            continue
        got = getattr(a_f, op)(b_f) if isinstance(a_f, fg.Tensor) else getattr(b_f, op)(a_f)
        assert got.dtype.name == str(expected.dtype).split(".")[1], (left, right, op)
    # true division always gives a float
    if isinstance(a_t, torch.Tensor):
        assert (a_f / b_f).dtype.name == str((a_t / b_t).dtype).split(".")[1]


def test_scalar_does_not_upcast_float32():
    x = fg.ones(3)
    assert (x * 2.5).dtype == fg.float32 and (2 ** x).dtype == fg.float32 and (x / 3).dtype == fg.float32


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        fg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        fg.arange(3).requires_grad_()


# ----------------------------------------------------------------------------- creation
def test_creation_functions(torch):
    for name, args in [("zeros", (2, 3)), ("ones", ((2, 3),)), ("eye", (3,)), ("arange", (5,)),
                       ("arange", (1, 4, 0.5)), ("linspace", (0, 1, 5)), ("full", ((2,), 7))]:
        a, b = getattr(fg, name)(*args), getattr(torch, name)(*args)
        assert a.dtype.name == str(b.dtype).split(".")[1], name
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, err_msg=name)
    x = fg.randn(3, 4, dtype=fg.float64, requires_grad=True)
    assert x.shape == (3, 4) and x.dtype == fg.float64 and x.requires_grad and x.is_leaf
    for like in (fg.zeros_like, fg.ones_like, fg.rand_like, fg.randn_like, fg.empty_like):
        y = like(x)
        assert y.shape == x.shape and y.dtype == fg.float64 and not y.requires_grad
    r = fg.randint(0, 10, (100,))
    assert r.dtype == fg.int64 and 0 <= r.min().item() and r.max().item() < 10


def test_manual_seed_reproducible():
    fg.manual_seed(3)
    a = fg.randn(5)
    fg.manual_seed(3)
    b = fg.randn(5)
    assert a.tolist() == b.tolist()
    g = fg.Generator().manual_seed(1)
    assert fg.rand(3, generator=g).tolist() == fg.rand(3, generator=fg.Generator().manual_seed(1)).tolist()


def test_from_numpy_shares_memory_and_tensor_copies():
    a = np.zeros(3)
    t = fg.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 5
    c = fg.tensor(a)
    a[1] = 7
    assert c[1].item() == 0
    assert fg.as_tensor(a).numpy() is a


def test_device_and_cuda():
    assert not fg.cuda.is_available()
    assert fg.device("cpu") == "cpu" and repr(fg.device("cpu")) == "device(type='cpu')"
    x = fg.ones(2, device="cpu").to("cpu")
    assert x.device.type == "cpu"
    with pytest.raises(RuntimeError, match="CPU only"):
        fg.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


# ----------------------------------------------------------------------------- attributes, conversions
def test_attributes():
    x = fg.zeros(2, 3, 4)
    assert isinstance(x.shape, tuple) and x.shape == fg.Size([2, 3, 4]) and repr(x.shape) == "fastgrad.Size([2, 3, 4])"
    assert x.size() == x.shape and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.double().dtype == fg.float64 and x.to(fg.int32).dtype == fg.int32 and x.bool().dtype == fg.bool
    assert x.to(dtype=fg.float64).dtype == fg.float64 and x.to(fg.ones(1, dtype=fg.int64)).dtype == fg.int64


def test_conversions_work_for_tensors_that_require_grad():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(x).tolist() == [1.0, 2.0]
    s = (x * x).sum()
    assert float(s) == 5.0 and int(s) == 5 and bool(s) and s.item() == 5.0
    assert f"{s:.2f}" == "5.00" and x.tolist() == [1.0, 2.0]
    assert [float(v) for v in x] == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="Use tensor.detach"):
        x.numpy()
    assert x.detach().numpy().dtype == np.float32
    with pytest.raises(RuntimeError, match="elements cannot be converted to Scalar"):
        x.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(TypeError, match="0-d"):
        len(s)


def test_plot_list_of_tensors():
    plt = pytest.importorskip("matplotlib.pyplot")
    losses = [fg.tensor(1.0, requires_grad=True) * 2, fg.tensor(0.5)]
    line, = plt.plot(losses)
    assert list(line.get_ydata()) == [2.0, 0.5]
    plt.close()


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.0, 2.0]),
    lambda lib: lib.tensor([1.5, -2.25, 3.0]),
    lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64),
    lambda lib: lib.tensor([1, 2, 3]),
    lambda lib: lib.tensor([True, False]),
    lambda lib: lib.tensor(3.0),
    lambda lib: lib.tensor(7),
    lambda lib: lib.tensor([1e-5, 1.0, 100.0]),
    lambda lib: lib.tensor([1e10, 1.0]),
    lambda lib: lib.zeros(0),
    lambda lib: lib.zeros(2, 0),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    lambda lib: lib.arange(12.0).reshape(3, 4) / 7,
    lambda lib: lib.tensor([float("nan"), float("inf"), 1.0]),
])
def test_repr_matches_torch(torch, make):
    got = repr(make(fg))
    want = _rename(repr(make(torch)))
    want = want.replace("grad_fn=<MulBackward0>", "grad_fn=<MulBackward>").replace("DivBackward0", "DivBackward")
    assert got == want


# ----------------------------------------------------------------------------- errors
def test_matmul_shape_error_names_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(64x784 and 100x10\)"):
        fg.ones(64, 784) @ fg.ones(100, 10)
    with pytest.raises(RuntimeError, match="same dtype"):
        fg.ones(2, 2) @ fg.ones(2, 2, dtype=fg.float64)


def test_dim_out_of_range():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"):
        fg.ones(2, 3).sum(dim=2)


def test_view_errors_and_reshape_copy():
    x = fg.arange(6.0).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(6)
    assert x.reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(RuntimeError, match=r"shape '\[4\]' is invalid for input of size 6"):
        x.reshape(4)


def test_index_errors_are_clean():
    x = fg.ones(3)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(IndexError):
        x[fg.tensor([0, 7])]
    with pytest.raises(IndexError, match="tensors used as indices"):
        x[fg.tensor([0.0])]


def test_max_with_dim_returns_named_tuple():
    x = fg.tensor([[1.0, 5.0], [7.0, 2.0]])
    r = x.max(dim=1, keepdims=True)
    assert r.values.tolist() == [[5.0], [7.0]] and r.indices.tolist() == [[1], [0]] and r[0] is r.values
    assert x.argmax(dim=1).tolist() == [1, 0] and x.argmax().item() == 2


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "sigmoid", "tanh"])
def test_unary_functions_are_functions(torch, name):
    """fastgrad.sin etc. (compiled function objects) call, bind as Tensor methods, take
    input= and pickle as torch's functions do; the values and gradients are torch's."""
    import inspect
    import pickle

    f, tf = getattr(fg, name), getattr(torch, name)
    x = fg.tensor([0.5, 1.5, 2.0], requires_grad=True)
    tx = torch.tensor([0.5, 1.5, 2.0], requires_grad=True)
    want = tf(tx)
    for got in (f(x), f(input=x), getattr(x, name)(), getattr(fg.Tensor, name)(x)):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)
        assert got.grad_fn is not None
    f(x).sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    assert pickle.loads(pickle.dumps(f)) is f and pickle.loads(pickle.dumps(tf)) is tf
    assert f.__name__ == name and name in repr(f) and f.__doc__
    assert list(inspect.signature(f).parameters) == ["input"]
    for bad in [lambda m: getattr(m, name)(m.ones(2), m.ones(2)), lambda m: getattr(m.ones(2), name)(1)]:
        with pytest.raises(TypeError, match=r"%s\(\) takes 1 positional argument but 2 were given" % name):
            bad(fg)
        with pytest.raises(TypeError):
            bad(torch)


def test_pow_fast_path_matches_torch(torch):
    """x ** 2 of a float tensor is the compiled Square; other exponents, dtypes and the
    reflected and 3-argument forms behave as torch's."""
    for dtype in ("float32", "float64", "float16", "int64"):
        x = fg.tensor([-1.5, 0.0, 2.0]).to(getattr(fg, dtype))
        tx = torch.tensor([-1.5, 0.0, 2.0]).to(getattr(torch, dtype))
        for e in (2, 2.0, 3, 0.5, -1.0):
            if dtype == "int64" and (isinstance(e, float) or e < 0):
                continue
            got, want = x ** e, tx ** e
            assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1], (dtype, e)
            np.testing.assert_allclose(got.numpy().astype(float), want.numpy().astype(float), rtol=1e-3)
        for base in (2, 2.5):
            got, want = base ** x, base ** tx
            assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1], (dtype, base)
            np.testing.assert_allclose(got.numpy().astype(float), want.numpy().astype(float), rtol=1e-3)
    e, te = fg.tensor([-2, -1, 0, 1, 3]), torch.tensor([-2, -1, 0, 1, 3])
    for base in (2, 1, -1, 0, -2):  # integer powers, negative exponents as torch has them
        assert (base ** e).dtype == fg.int64
        np.testing.assert_array_equal((base ** e).numpy(), (base ** te).numpy())
    x = fg.tensor([0.5, -2.0], requires_grad=True)
    y = x ** 2
    assert type(y.grad_fn).__name__.startswith("Square")
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -4.0])
    for lib in (fg, torch):
        with pytest.raises(TypeError, match="unsupported operand"):
            pow(lib.ones(2), 2, 3)
