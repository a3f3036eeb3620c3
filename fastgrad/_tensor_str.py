"""PyTorch-style printing of tensors: tensor([1., 2.], requires_grad=True)."""
import numpy as np

from fastgrad import _dtype


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    nonzero = np.abs(finite[finite != 0])
    if finite.size and np.all(finite == np.round(finite)) and (nonzero.size == 0 or nonzero.max() < 1e8):
        fmt = lambda v: _special(v) or "%.0f." % v  # noqa: E731
    elif nonzero.size and (nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8 or nonzero.min() < 1e-4):
        fmt = lambda v: _special(v) or "%.4e" % v  # noqa: E731
    else:
        fmt = lambda v: _special(v) or "%.4f" % v  # noqa: E731
    width = max((len(fmt(v)) for v in finite.flat), default=1)  # PyTorch: finite values only
    return lambda v: fmt(v).rjust(width)


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _int_formatter(values):
    width = max((len(str(int(v))) for v in values.flat), default=1)
    return lambda v: str(int(v)).rjust(width)


def _summary_values(a):
    """The values that will be shown (the edges when the tensor is summarized)."""
    if a.size <= 1000:
        return a.reshape(-1)
    parts = [a]
    for axis in range(a.ndim):
        if a.shape[axis] > 6:
            parts = [np.concatenate([np.take(p, range(3), axis), np.take(p, range(-3, 0), axis)], axis) for p in parts]
    return parts[0].reshape(-1)


def format_data(a, prefix="tensor("):
    if a.dtype is _dtype.BF16:
        a = a.astype(np.float32)  # exact; NumPy formats ml_dtypes' bfloat16 as no float kind
    kind = a.dtype.kind
    if a.size == 0:
        return "[]"
    shown = _summary_values(a)
    if kind == "f":
        formatter = {"float_kind": _float_formatter(shown.astype(np.float64))}
    elif kind in "iu":
        formatter = {"int": _int_formatter(shown)}
    elif kind == "b":
        width = 5 if not shown.all() else 4
        formatter = {"bool": lambda v: ("True" if v else "False").rjust(width)}
    else:
        formatter = None
    return np.array2string(a, separator=", ", prefix=prefix, formatter=formatter, threshold=1000,
                           edgeitems=3, max_line_width=80)


def _default_dtype_for(a):
    kind = _dtype.kind(a.dtype)
    if kind == "f":
        return a.dtype == _dtype.get_default_dtype().np
    if kind == "b" or a.dtype == np.int64:
        return True
    return False


def tensor_repr(t, prefix="tensor("):
    a = t._data
    body = format_data(a, prefix)
    suffix = []
    if a.size == 0 and a.shape != (0,):
        suffix.append("size=(%s)" % ", ".join(str(s) for s in a.shape) + ("," if a.ndim == 1 else ""))
    if not _default_dtype_for(a):
        suffix.append("dtype=%r" % _dtype.from_numpy_dtype(a.dtype))
    if t._grad_fn is not None:
        suffix.append("grad_fn=<%s>" % t._grad_fn.name())
    elif t._requires_grad:
        suffix.append("requires_grad=True")
    if suffix:
        joined = ", ".join(suffix)
        last_line = (prefix + body).splitlines()[-1]
        if len(last_line) + len(joined) + 3 > 80:
            body += ",\n" + " " * len(prefix) + joined
        else:
            body += ", " + joined
    return prefix + body + ")"
