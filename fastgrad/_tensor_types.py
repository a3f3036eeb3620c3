"""The legacy typed tensor constructors: fastgrad.FloatTensor, LongTensor, ... (torch.FloatTensor ...).

As in PyTorch they are not subclasses of Tensor but constructors with a dtype: ``LongTensor([1, 2])``
copies data into an int64 tensor, ``FloatTensor(2, 3)`` makes a float32 tensor of that shape (zero
filled here; PyTorch leaves it uninitialised), ``FloatTensor()`` is empty, and
``isinstance(t, fastgrad.LongTensor)`` is True exactly when t is a dense int64 tensor.
"""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._types import _TYPE_NAMES, Size, check_device

TYPE_NAMES = _TYPE_NAMES  # dtype name -> the type's name (Tensor.type() gives "torch." + this)
_CONSTRUCTORS = ("FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
                 "CharTensor", "ByteTensor", "BoolTensor", "BFloat16Tensor")


def _signature_error(args, kwargs):
    def tname(v):
        if isinstance(v, _dtype.dtype):
            return "torch.dtype"
        if isinstance(v, engine.TensorBase):
            return "Tensor"
        return type(v).__name__

    got = [tname(a) for a in args] + ["%s=%s" % (k, tname(v)) for k, v in kwargs.items()]
    bad = [k for k in kwargs if k != "device"]
    return TypeError(
        "new() received an invalid combination of arguments - got (%s), but expected one of:\n"
        " * (*, torch.device device = None)\n"
        "      didn't match because some of the keywords were incorrect: %s\n"
        " * (torch.Storage storage)\n"
        " * (Tensor other)\n"
        " * (tuple of ints size, *, torch.device device = None)\n"
        " * (object data, *, torch.device device = None)\n" % (", ".join(got), ", ".join(bad)))


def _sizes(args):
    for pos, a in enumerate(args):
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise TypeError("new(): argument 'size' failed to unpack the object at pos %d with error "
                            "\"type must be tuple of ints,but got %s\"" % (pos + 1, type(a).__name__))
    shape = tuple(int(a) for a in args)
    for s in shape:
        if s < 0:
            raise RuntimeError("Trying to create tensor with negative dimension %d: %s" % (s, list(shape)))
    return shape


class _TensorType(type):
    """The metaclass of the typed constructors (PyTorch's torch.tensortype)."""

    def __instancecheck__(cls, obj):
        return (isinstance(obj, engine.TensorBase) and not getattr(obj, "is_sparse", False)
                and cls.dtype is not None and obj._data.dtype == cls.dtype.np)

    def __subclasscheck__(cls, sub):
        return type.__subclasscheck__(cls, sub)

    def __call__(cls, *args, **kwargs):
        if set(kwargs) - {"device"}:
            raise _signature_error(args, kwargs)
        check_device(kwargs.get("device"))
        d = cls.dtype
        if d is None:
            raise TypeError("fastgrad has no %s dtype: type %s is not available" % (cls._dtype_name, cls.__name__))
        make = engine.make_tensor
        if not args:
            return make(np.zeros((0,), d.np))
        if len(args) == 1 and isinstance(args[0], Size):
            return make(np.zeros(_sizes(tuple(args[0])), d.np))
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            src = args[0]
            if isinstance(src, engine.TensorBase):
                if src._data.dtype != d.np:
                    raise TypeError("expected %s (got %s)" % (_options(d), _options(src.dtype)))
                return src.detach()  # PyTorch: an alias of other's storage
            if isinstance(src, (numbers.Number, np.generic)):
                raise TypeError("new(): data must be a sequence (got %s)" % type(src).__name__)
            from fastgrad._creation import _unwrap_nested

            arr = np.asarray(_unwrap_nested(src) if isinstance(src, (list, tuple)) else src)
            if arr.dtype.kind in "USO":
                raise TypeError("new(): invalid data type 'str'")
            if d.np.kind in "iu" and arr.dtype.kind in "iuf" and arr.size:
                info = np.iinfo(d.np)
                lo, hi = arr.min(), arr.max()
                if not (lo >= info.min and hi <= info.max):  # NaN overflows too
                    raise RuntimeError("value cannot be converted to type %s without overflow" % d.name)
            return make(arr.astype(d.np))  # a copy
        return make(np.zeros(_sizes(args), d.np))


_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
              "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
              "bool": "bool", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
              "bfloat16": "c10::BFloat16", "uint16": "unsigned short", "uint32": "unsigned int",
              "uint64": "unsigned long"}


def _options(d):
    return ("TensorOptions(dtype=%s, device=cpu, layout=Strided, requires_grad=false (default), "
            "pinned_memory=false (default), memory_format=(nullopt))" % _CPP_NAMES[d.name])


def _make_type(name, dtype_name):
    d = _dtype._BY_NAME.get(dtype_name)
    return _TensorType(name, (), {"dtype": d, "_dtype_name": dtype_name, "is_sparse": False, "is_cuda": False,
                                  "__module__": "fastgrad",
                                  "__doc__": "Legacy constructor of %s tensors (torch.%s)." % (dtype_name, name)})


TYPES = {n: _make_type(n, dn) for dn, n in TYPE_NAMES.items() if n in _CONSTRUCTORS}
FloatTensor, DoubleTensor, HalfTensor = TYPES["FloatTensor"], TYPES["DoubleTensor"], TYPES["HalfTensor"]
LongTensor, IntTensor, ShortTensor = TYPES["LongTensor"], TYPES["IntTensor"], TYPES["ShortTensor"]
CharTensor, ByteTensor, BoolTensor = TYPES["CharTensor"], TYPES["ByteTensor"], TYPES["BoolTensor"]
BFloat16Tensor = TYPES["BFloat16Tensor"]


class TypeName(str):
    """Tensor.type()'s string, PyTorch's 'torch.FloatTensor' (what PyTorch programs run with
    `import fastgrad as torch` compare against and print), which also compares equal to the
    fastgrad spelling 'fastgrad.FloatTensor' that fastgrad code (the seed notebooks) tests for.
    Hashing follows the torch spelling."""

    __slots__ = ()

    def __eq__(self, other):
        if str.__eq__(self, other):
            return True
        return isinstance(other, str) and other.startswith("fastgrad.") and str.__eq__(
            self, "torch." + other[len("fastgrad."):])

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


def type_name(t):
    """Tensor.type()'s string: 'torch.FloatTensor' (== 'fastgrad.FloatTensor'), 'torch.sparse.LongTensor', ..."""
    return TypeName(("torch.sparse." if getattr(t, "is_sparse", False) else "torch.") + TYPE_NAMES[t._data.dtype.name])


def parse_type(dtype):
    """The fastgrad dtype Tensor.type(dtype) converts to: a typed constructor, a dtype, or a type name
    ('torch.LongTensor'; 'fastgrad.LongTensor' is accepted too)."""
    if isinstance(dtype, _TensorType):
        if dtype.dtype is None:
            raise TypeError("fastgrad has no %s dtype" % dtype._dtype_name)
        return dtype.dtype
    if isinstance(dtype, str):
        prefix, _, name = dtype.rpartition(".")
        rev = {v: k for k, v in TYPE_NAMES.items()}
        if prefix not in ("torch", "fastgrad") or name not in rev:
            raise ValueError("invalid type: '%s'" % dtype)
        return _dtype._BY_NAME[rev[name]]
    return _dtype.to_dtype(dtype)
