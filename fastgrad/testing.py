"""torch.testing: assert_close (torch's default tolerances per dtype, its messages), make_tensor."""
import collections.abc
import math
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# dtype name -> (rtol, atol), torch's defaults; other dtypes compare exactly
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def _tolerances(dtype_name, rtol, atol):
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got no %s."
                         % ("rtol" if rtol is None else "atol"))
    if rtol is not None:
        return rtol, atol
    return _TOLERANCES.get(dtype_name, (0.0, 0.0))


def _is_tensor_like(x):
    return isinstance(x, (engine.TensorBase, np.ndarray))


def _array(x):
    a = x._data if isinstance(x, engine.TensorBase) else x
    return np.asarray(a)


def _dtype_name(a):
    return "bfloat16" if a.dtype is _dtype.BF16 else a.dtype.name


def _fmt(v):
    if isinstance(v, float) and v == int(v) and abs(v) < 1e16 and not isinstance(v, bool):
        return repr(v)
    return repr(v)


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype, msg):
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape:
        return "The values for attribute 'shape' do not match: %s != %s." % (_size(a.shape), _size(e.shape))
    if check_dtype and a.dtype != e.dtype:
        return "The values for attribute 'dtype' do not match: torch.%s != torch.%s." % (_dtype_name(a),
                                                                                      _dtype_name(e))
    rtol, atol = _tolerances(_dtype_name(e) if e.dtype == a.dtype else np.promote_types(
        a.dtype if a.dtype is not _dtype.BF16 else np.float32, e.dtype if e.dtype is not _dtype.BF16 else np.float32
    ).name, rtol, atol)
    af, ef = _upcast(a, e)
    exact = rtol == 0 and atol == 0
    if exact and a.dtype.kind in "biu" and e.dtype.kind in "biu":
        ok = a == e
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.abs(af - ef) <= atol + rtol * np.abs(ef)
            ok |= af == ef
            if equal_nan:
                ok |= np.isnan(af) & np.isnan(ef)
    if ok.all():
        return None
    if msg is not None:
        return msg
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(af - ef)
        rel_diff = abs_diff / np.abs(ef)
    abs_diff = np.where(ok, 0, abs_diff)
    rel_diff = np.where(ok, 0, rel_diff)
    kind = "equal" if exact else "close"
    if a.size == 1:  # (torch compares single elements as Python scalars: in double precision)
        wide = np.complex128 if af.dtype.kind == "c" else np.float64
        av, ev = a.astype(wide).reshape(-1)[0], e.astype(wide).reshape(-1)[0]
        abs_diff = np.abs(av - ev)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_diff = abs_diff / np.abs(ev)
        text = "Scalars are not %s!\n\nExpected %s but got %s.\n" % (kind, _scalar(ev, e), _scalar(av, a))
        text += "Absolute difference: %s%s\n" % (_num(abs_diff.reshape(-1)[0]), _allowed(atol, exact))
        text += "Relative difference: %s%s" % (_num(rel_diff.reshape(-1)[0]), _allowed(rtol, exact))
        return text
    n_bad = int((~ok).sum())
    text = "Tensor-likes are not %s!\n\nMismatched elements: %d / %d (%.1f%%)\n" % (
        kind, n_bad, ok.size, math.floor(1000 * n_bad / ok.size) / 10)
    for label, diff, tol in (("absolute", abs_diff, atol), ("relative", rel_diff, rtol)):
        flat = diff.reshape(-1)
        i = int(np.nanargmax(flat)) if not np.isnan(flat).any() else int(np.argmax(np.isnan(flat)))
        text += "Greatest %s difference: %s at index %s%s\n" % (label, _num(flat[i], a.dtype.kind in "biu" and
                                                                           label == "absolute"),
                                                               tuple(int(k) for k in np.unravel_index(i, diff.shape)),
                                                               _allowed(tol, exact))
    return text.rstrip("\n")


def _upcast(a, e):
    """Both as the float type torch compares in: float64/complex128 stay, all else float32/complex64."""
    names = {a.dtype.name, e.dtype.name} if a.dtype is not _dtype.BF16 and e.dtype is not _dtype.BF16 else set()
    if a.dtype.kind == "c" or e.dtype.kind == "c":
        t = np.complex128 if names & {"complex128", "float64"} else np.complex64
    else:
        t = np.float64 if "float64" in names else np.float32
    return a.astype(t), e.astype(t)


def _size(shape):
    return "torch.Size([%s])" % ", ".join(str(s) for s in shape)


def _scalar(v, arr):
    if arr.dtype.kind in "biu":
        return str(int(v.real))
    return repr(float(v.real)) if not np.iscomplexobj(v) or v.imag == 0 else repr(complex(v))


def _num(v, integer=False):
    if integer and np.isfinite(v):
        return str(int(v))
    return repr(float(v))


def _allowed(tol, exact):
    return "" if exact else " (up to %s allowed)" % tol


def _compare(actual, expected, rtol, atol, equal_nan, check_dtype, msg, path):
    if _is_tensor_like(actual) and _is_tensor_like(expected):
        if type(actual) is not type(expected) and not (isinstance(actual, engine.TensorBase)
                                                       and isinstance(expected, engine.TensorBase)):
            raise TypeError("No comparison pair was able to handle inputs of type %s and %s."
                            % (type(actual), type(expected)))
        return _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype, msg), path
    if isinstance(actual, numbers.Number) and isinstance(expected, numbers.Number) \
            and not _is_tensor_like(actual) and not _is_tensor_like(expected):
        if check_dtype and type(actual) is not type(expected) and not (isinstance(actual, bool) is isinstance(
                expected, bool) and isinstance(actual, int) and isinstance(expected, int)):
            return ("The values for attribute 'dtype' do not match: %s != %s." % (_py_dtype(actual),
                                                                               _py_dtype(expected))), path
        a = np.asarray(actual, dtype=np.complex128 if isinstance(actual, complex) or isinstance(expected, complex)
                       else np.float64 if isinstance(actual, float) or isinstance(expected, float) else np.int64)
        e = np.asarray(expected, dtype=a.dtype)
        name = {"complex128": "complex128", "float64": "float64"}.get(a.dtype.name, "int64")
        return _compare_tensors(a, e, *_tolerances(name, rtol, atol), equal_nan, False, msg), path
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        if set(actual) != set(expected):
            return ("The keys of the mappings do not match:\nMissing keys in the actual mapping: %s\nAdditional "
                    "keys in the actual mapping: %s" % (sorted(set(expected) - set(actual), key=repr),
                                                         sorted(set(actual) - set(expected), key=repr))), path
        for k in expected:
            r = _compare(actual[k], expected[k], rtol, atol, equal_nan, check_dtype, msg, path + [k])
            if r[0] is not None:
                return r
        return None, path
    if isinstance(actual, collections.abc.Sequence) and isinstance(expected, collections.abc.Sequence) \
            and not isinstance(actual, str) and not isinstance(expected, str):
        if len(actual) != len(expected):
            return "The length of the sequences mismatch: %d != %d" % (len(actual), len(expected)), path
        for i, (a, e) in enumerate(zip(actual, expected)):
            r = _compare(a, e, rtol, atol, equal_nan, check_dtype, msg, path + [i])
            if r[0] is not None:
                return r
        return None, path
    if actual is None and expected is None:
        return None, path
    raise TypeError("No comparison pair was able to handle inputs of type %s and %s."
                    % (type(actual), type(expected)))


def _py_dtype(x):
    return {bool: "torch.bool", int: "torch.int64", float: "torch.float64", complex: "torch.complex128"}.get(
        type(x), type(x).__name__)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError unless actual and expected (tensors, arrays, numbers, or sequences and
    mappings of them) are close: |actual - expected| <= atol + rtol * |expected| elementwise, with
    torch's default rtol/atol per dtype, equal shapes and (check_dtype) equal dtypes."""
    _tolerances("float32", rtol, atol)  # both or neither
    message, path = _compare(actual, expected, rtol, atol, equal_nan, check_dtype,
                             None if callable(msg) else msg, [])
    if message is None:
        return
    if callable(msg):
        message = msg(message)
    elif msg is None and path:
        message += "\n\nThe failure occurred for item %s" % "".join("[%r]" % p for p in path)
    raise AssertionError(message)


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated: assert_close with equal_nan=True and no dtype check."""
    import warnings

    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a future "
                  "release. Please use `torch.testing.assert_close()` instead.", FutureWarning, stacklevel=2)
    from fastgrad import tensor

    actual = actual if isinstance(actual, engine.TensorBase) else tensor(actual)
    expected = expected if isinstance(expected, engine.TensorBase) else tensor(expected, dtype=actual.dtype)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=False, msg=msg or None)


def make_tensor(*shape, dtype, device=None, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A random tensor of shape and dtype: floats uniform in [low, high) (default [-9, 9)),
    integers in [low, high) (default [-9, 10), clamped to the dtype), bools random."""
    from fastgrad import _random, from_numpy
    from fastgrad._types import check_device

    check_device(device)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    d = _dtype.to_dtype(dtype)
    if low is not None and high is not None and low >= high:
        raise ValueError("`low` must be less than `high`, but got %s >= %s" % (low, high))
    for name, v in (("low", low), ("high", high)):
        if v is not None and isinstance(v, float) and math.isnan(v):
            raise ValueError("`%s` cannot be NaN, but got %s=nan" % (name, name))
    from fastgrad import _random_ops

    kind = _dtype.kind(d.np)
    if kind == "b":
        data = _random_ops.random_(np.empty(shape, np.bool_), 0, 2)
    elif kind in "iu":
        info = np.iinfo(d.np)
        lo = max(info.min, -9 if low is None else math.ceil(low))
        hi = min(info.max + 1, 10 if high is None else math.ceil(high))
        if kind == "u":
            lo = max(lo, 0)
        data = _random_ops.random_(np.empty(shape, d.np), lo, hi)
        if exclude_zero and (data == 0).any():
            data[data == 0] = 1 if hi > 1 else -1
    else:
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        data = _random.uniform_(np.empty(shape, d.np), lo, hi)
        if exclude_zero:
            tiny = np.finfo(np.float32 if d.np is _dtype.BF16 else d.np).tiny
            data[data == 0] = tiny
    if noncontiguous and data.size > 1:
        wide = np.repeat(data[..., None], 2, axis=-1)
        data = wide[..., 0]
    t = from_numpy(np.asarray(data)) if noncontiguous and data.size > 1 else from_numpy(np.ascontiguousarray(data))
    if requires_grad:
        t.requires_grad_(True)
    return t
