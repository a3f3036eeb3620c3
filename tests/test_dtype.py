"""dtypes against PyTorch: bfloat16 as a fastgrad dtype (NumPy's ml_dtypes.bfloat16 underneath),
type promotion with the half dtypes, finfo / iinfo, printing, the typed constructor, creation
functions, NumPy conversions (PyTorch converts no bfloat16 array) and saving."""
import io

import numpy as np
import pytest

import fastgrad

DTYPES = ["float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool",
          "complex64", "complex128"]


def _name(d):
    return str(d).split(".")[-1]


# float16 with a complex dtype is complex32 in PyTorch, a dtype fastgrad does not have
NO_COMPLEX32 = [("float16", "complex64"), ("float16", "complex128")]


@pytest.mark.parametrize("b", DTYPES)
@pytest.mark.parametrize("a", ["float16", "bfloat16"])
def test_promotion_of_half_dtypes_matches_torch(torch, a, b):
    ta, tb = getattr(torch, a), getattr(torch, b)
    fa, fb = getattr(fastgrad, a), getattr(fastgrad, b)
    want = _name(torch.promote_types(ta, tb))
    assert _name((fastgrad.ones(2, dtype=fa) + fastgrad.ones(2, dtype=fb)).dtype) == want
    assert _name((fastgrad.ones(2, dtype=fb) * fastgrad.ones(2, dtype=fa)).dtype) == want
    if "complex" not in b:  # a 0-d tensor of the other dtype: only a higher category wins
        got = (fastgrad.ones(2, dtype=fa) + fastgrad.ones((), dtype=fb)).dtype
        assert _name(got) == _name((torch.ones(2, dtype=ta) + torch.ones((), dtype=tb)).dtype)


@pytest.mark.parametrize("a", ["float16", "bfloat16"])
def test_half_with_python_numbers_matches_torch(torch, a):
    for scalar in (1.5, 2, True) + ((1j,) if a == "bfloat16" else ()):  # (float16 + 1j: complex32)
        f = fastgrad.ones(2, dtype=getattr(fastgrad, a)) + scalar
        t = torch.ones(2, dtype=getattr(torch, a)) + scalar
        assert _name(f.dtype) == _name(t.dtype), scalar
        np.testing.assert_array_equal(f.to(fastgrad.complex64 if f.is_complex() else fastgrad.float32).numpy(),
                                      t.to(torch.complex64 if t.is_complex() else torch.float32).numpy())
    i = fastgrad.ones(2, dtype=fastgrad.int64) * fastgrad.tensor(1.5, dtype=getattr(fastgrad, a))
    assert i.dtype == getattr(fastgrad, a)


def test_bfloat16_dtype_object_matches_torch(torch):
    f, t = fastgrad.bfloat16, torch.bfloat16
    assert repr(f) == "fastgrad.bfloat16" and f.itemsize == t.itemsize == 2
    assert (f.is_floating_point, f.is_complex, f.is_signed) == (t.is_floating_point, t.is_complex, t.is_signed)
    x = fastgrad.ones(3).bfloat16()
    assert x.dtype is fastgrad.bfloat16 and x.is_floating_point() and x.element_size() == 2
    assert x.type() == torch.ones(3).bfloat16().type() == "torch.BFloat16Tensor"
    assert fastgrad.ones(3).to(fastgrad.bfloat16).dtype is fastgrad.bfloat16
    assert fastgrad.ones(3).type(fastgrad.BFloat16Tensor).dtype is fastgrad.bfloat16
    assert fastgrad.half is fastgrad.float16 and fastgrad.ones(2).half().dtype is fastgrad.float16


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64", "complex64", "complex128", None])
def test_finfo_matches_torch(torch, name):
    f = fastgrad.finfo() if name is None else fastgrad.finfo(getattr(fastgrad, name))
    t = torch.finfo() if name is None else torch.finfo(getattr(torch, name))
    assert repr(f) == repr(t)
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(f, attr) == getattr(t, attr), attr


@pytest.mark.parametrize("name", ["int64", "int32", "int16", "int8", "uint8"])
def test_iinfo_matches_torch(torch, name):
    f, t = fastgrad.iinfo(getattr(fastgrad, name)), torch.iinfo(getattr(torch, name))
    assert (f.bits, f.min, f.max, f.dtype) == (t.bits, t.min, t.max, t.dtype) and repr(f) == repr(t)


def test_finfo_iinfo_errors_match_torch(torch):
    for f, args in ((fastgrad.finfo, (fastgrad.int32,)), (fastgrad.iinfo, (fastgrad.float32,)),
                    (fastgrad.iinfo, (fastgrad.bfloat16,)), (fastgrad.iinfo, (fastgrad.bool,))):
        targs = tuple(getattr(torch, _name(a)) for a in args)
        with pytest.raises(TypeError) as te:
            getattr(torch, f.__name__)(*targs)
        with pytest.raises(TypeError, match=None) as fe:
            f(*args)
        assert str(fe.value) == str(te.value)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_printing_matches_torch(torch, name):
    data = [[0.1, -2.5, 300.0], [1.5e-3, 7.0, -0.0]]
    f = fastgrad.tensor(data, dtype=getattr(fastgrad, name))
    t = torch.tensor(data, dtype=getattr(torch, name))
    assert repr(f) == repr(t).replace("torch.", "fastgrad.")
    data = [[0.1, -2.5], [3.0, 7.0]]  # (one line: the longer "fastgrad." would wrap elsewhere)
    f = fastgrad.tensor(data, dtype=getattr(fastgrad, name))
    t = torch.tensor(data, dtype=getattr(torch, name))
    f.requires_grad_()
    t.requires_grad_()
    assert repr(f * 2) == repr(t * 2).replace("torch.", "fastgrad.").replace("MulBackward0", "MulBackward")


def test_bfloat16_creation_matches_torch(torch):
    for make in (lambda L: L.arange(5, dtype=L.bfloat16), lambda L: L.linspace(0, 1, 3, dtype=L.bfloat16),
                 lambda L: L.full((2,), 3.3, dtype=L.bfloat16), lambda L: L.zeros(2, 3, dtype=L.bfloat16),
                 lambda L: L.tensor([1.1, 2.2], dtype=L.bfloat16), lambda L: L.ones(2).bfloat16().new_zeros(3),
                 lambda L: L.tensor([1.7, -2.6], dtype=L.bfloat16).to(L.int64),
                 lambda L: L.BFloat16Tensor([1, 2.5]), lambda L: L.empty(2, dtype=L.bfloat16).fill_(0.3)):
        f, t = make(fastgrad), make(torch)
        assert _name(f.dtype) == _name(t.dtype)
        np.testing.assert_array_equal(f.double().numpy(), t.double().numpy())
    for fn in ("randn", "rand"):
        for d in ("float16", "bfloat16"):
            assert getattr(fastgrad, fn)(3, dtype=getattr(fastgrad, d)).dtype is getattr(fastgrad, d)


def test_bfloat16_numpy_conversions_raise_as_torch(torch):
    import ml_dtypes

    f, t = fastgrad.ones(2, dtype=fastgrad.bfloat16), torch.ones(2, dtype=torch.bfloat16)
    for call in (lambda x: x.numpy(), lambda x: np.asarray(x)):
        with pytest.raises(TypeError) as te:
            call(t)
        with pytest.raises(TypeError) as fe:
            call(f)
        assert str(fe.value) == str(te.value)
    a = np.ones(2, ml_dtypes.bfloat16)
    for name in ("from_numpy", "tensor", "as_tensor"):
        with pytest.raises(TypeError) as te:
            getattr(torch, name)(a)
        with pytest.raises(TypeError) as fe:
            getattr(fastgrad, name)(a)
        assert str(fe.value) == str(te.value)
    assert f.tolist() == t.tolist() and f[0].item() == t[0].item() and float(f[1]) == 1.0


def test_half_tensors_save_and_load():
    for d in (fastgrad.float16, fastgrad.bfloat16):
        x = fastgrad.tensor([1.5, -2.25, 3e-3], dtype=d)
        buf = io.BytesIO()
        fastgrad.save({"x": x}, buf)
        buf.seek(0)
        y = fastgrad.load(buf)["x"]
        assert y.dtype is d and y.float().tolist() == x.float().tolist()
