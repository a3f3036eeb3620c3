"""dtypes and PyTorch's type promotion.

bfloat16 is NumPy's ml_dtypes.bfloat16, whose dtype kind is 'V' (not 'f'): code that asks
whether an array is floating uses kind(np_dtype) below, which says 'f' for it."""
import ml_dtypes
import numpy as np

from fastgrad._backend import engine


class dtype:  # noqa: N801  (PyTorch's name)
    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_kind")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        k = kind(self.np)
        self.is_floating_point = k == "f"
        self.is_complex = k == "c"
        self.is_signed = k in "fic"
        self.itemsize = self.np.itemsize
        # category: bool < integer < floating < complex
        self._kind = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[k]

    def __repr__(self):
        return "fastgrad." + self.name

    def __reduce__(self):
        return (_from_name, (self.name,))

    def to_real(self):
        return self


BF16 = np.dtype(ml_dtypes.bfloat16)  # one object: `a.dtype is BF16` tests a bfloat16 array
F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
HALF_NP = (F16, BF16)  # the half-precision array dtypes (kernels compute them in float32)


def kind(np_dtype):
    """np_dtype.kind, with 'f' for bfloat16 (whose NumPy kind is 'V')."""
    return "f" if np_dtype is BF16 else np_dtype.kind


def is_half(np_dtype):
    """float16 or bfloat16: stored in 16 bits, computed in float32 (as PyTorch's CPU kernels)."""
    return np_dtype is F16 or np_dtype is BF16


float16 = dtype("float16", np.float16)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
complex64 = dtype("complex64", np.complex64)
complex128 = dtype("complex128", np.complex128)
uint8 = dtype("uint8", np.uint8)
uint16 = dtype("uint16", np.uint16)  # torch's "barebones" unsigned dtypes: few CPU ops take them
uint32 = dtype("uint32", np.uint32)  # (fastgrad._ops.unsigned lists which), and they promote only
uint64 = dtype("uint64", np.uint64)  # with themselves and the floating dtypes
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)

ALL = (float16, bfloat16, float32, float64, complex64, complex128, uint8, int8, int16, int32, int64, bool_,
       uint16, uint32, uint64)
BAREBONES = frozenset((uint16.np, uint32.np, uint64.np))  # NumPy dtypes of uint16/32/64
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_default_float = [float32]


def _from_name(name):
    return _BY_NAME[name]


def get_default_dtype():
    return _default_float[0]


def set_default_dtype(d):
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_float[0] = d


def from_numpy_dtype(np_dtype):
    """The fastgrad dtype of a NumPy dtype; raises TypeError for unsupported ones."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            "can't convert np.ndarray of type %s. The only supported types are: float64, "
            "float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, "
            "uint8, and bool."
            % np.dtype(np_dtype)
        ) from None


def check_numpy_input(np_dtype):
    """from_numpy / tensor(ndarray): PyTorch converts no bfloat16 NumPy array (TypeError)."""
    if np.dtype(np_dtype) is BF16:
        raise TypeError(
            "can't convert np.ndarray of type ml_dtypes.bfloat16. The only supported types are: float64, "
            "float32, float16, complex64, complex128, int64, int32, int16, int8, uint64, uint32, uint16, "
            "uint8, and bool.")
    return from_numpy_dtype(np_dtype)


def to_dtype(d):
    """Accept a fastgrad dtype, a NumPy dtype or a Python type (float, int, bool)."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return get_default_dtype()
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex64
    return from_numpy_dtype(d)


def result_type(*operands):
    """PyTorch's promotion: dimensioned tensors > zero-dim tensors > Python scalars.

    A lower tier only matters when its category (bool < int < float < complex) is higher.
    """
    tiers = [None, None, None]  # dim tensors, 0-d tensors, scalars (each: promoted dtype)
    for op in operands:
        if isinstance(op, engine.TensorBase):
            d = op._data.dtype
            tier = 0 if op._data.ndim else 1
        elif isinstance(op, bool):
            d, tier = np.dtype(np.bool_), 2
        elif isinstance(op, int):
            d, tier = np.dtype(np.int64), 2
        elif isinstance(op, float):
            d, tier = get_default_dtype().np, 2
        elif isinstance(op, complex):
            d, tier = np.dtype(np.complex64), 2
        elif isinstance(op, np.ndarray):
            d, tier = op.dtype, (0 if op.ndim else 1)
        else:
            continue
        tiers[tier] = d if tiers[tier] is None else _promote2(tiers[tier], d)
    out = None
    for d in tiers:
        if d is None:
            continue
        if out is None:
            out = d
        elif _cat(d) > _cat(out):
            # torch's combine_categories: a bool result promotes with the lower tier's dtype (which
            # refuses uint16/32/64), any other takes the lower tier's higher category as it is
            out = _promote2(out, d) if out == np.bool_ and _cat(d) < 3 else d
    return out


def _cat(d):
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[kind(d)]


_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                 "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool", "complex64": "ComplexFloat",
                 "complex128": "ComplexDouble", "bfloat16": "BFloat16", "uint16": "UInt16", "uint32": "UInt32",
                 "uint64": "UInt64"}


def scalar_name(np_dtype):
    """PyTorch's ScalarType name of a dtype, as its errors say it: 'Long', 'UInt16', ..."""
    name = "bfloat16" if np_dtype is BF16 else np.dtype(np_dtype).name
    return _SCALAR_NAMES.get(name, name)


def refuse_barebones(kernel, *np_dtypes):
    """NotImplementedError as torch's CPU kernels raise for a uint16/32/64 they were not built for."""
    for d in np_dtypes:
        if d in BAREBONES:
            raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, scalar_name(d)))


def _promote2(a, b):
    if (a in BAREBONES or b in BAREBONES) and a != b and kind(a) != "f" and kind(b) != "f":
        # torch promotes uint16/32/64 only with themselves and the floating dtypes
        raise RuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                           "%s and %s" % (scalar_name(a), scalar_name(b)))
    ca, cb = _cat(a), _cat(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if _cat(hi) == 3 and lo == np.float64:  # complex64 with float64: complex128, as torch
            return np.dtype(np.complex128)
        return hi
    if a is not b and (a is BF16 or b is BF16):  # bfloat16 with float16: float32, as PyTorch
        return np.promote_types(F32 if a is BF16 else a, F32 if b is BF16 else b)  # (ml_dtypes < 0.7: no NumPy rule)
    return np.promote_types(a, b)


def unsigned_int(v, np_dtype, ctype=None):
    """A Python int as an unsigned dtype stores it: torch's C casts wrap a negative one modulo 2**bits.
    ctype: name an overflow error as torch's factory functions do ('value cannot be converted to
    type uint16_t without overflow'); None: wrap any value (a scalar operand of a binary op)."""
    top = int(np.iinfo(np_dtype).max)
    if ctype is not None and (v > top or v < -top):
        raise RuntimeError("value cannot be converted to type %s without overflow" % ctype)
    return v % (top + 1)


def wrap_unsigned(data, np_dtype):
    """Nested Python ints for tensor(data, dtype=<unsigned>): wrapped as torch's tensor() wraps them
    (uint64 refuses a negative int, as Python's conversion to unsigned does)."""
    if isinstance(data, (list, tuple)):
        return [wrap_unsigned(d, np_dtype) for d in data]
    if isinstance(data, int) and not isinstance(data, bool) and data < 0:
        if np_dtype == np.uint64:
            raise OverflowError("can't convert negative int to unsigned")
        return unsigned_int(data, np_dtype, np.dtype(np_dtype).name)
    if isinstance(data, float) and np_dtype == np.uint64:
        raise TypeError("an integer is required")
    if isinstance(data, int) and data > int(np.iinfo(np_dtype).max) and np_dtype != np.uint64:
        if data > 2 ** 63 - 1:  # Python's conversion to a C long long, before torch's range check
            raise ValueError("Overflow when unpacking long long")
        raise RuntimeError("value cannot be converted to type %s without overflow" % np.dtype(np_dtype).name)
    return data


def np_finfo(np_dtype):
    """np.finfo of a floating NumPy dtype, bfloat16 included (NumPy's own knows it from ml_dtypes 0.7 on)."""
    return ml_dtypes.finfo(np_dtype)
