"""Argument checks shared by the compiled kernels (csrc/_C.pyx) and their NumPy twin
(fastgrad/_kernels_np.py): plain Python, run before any unchecked loop, so both raise the
same exception types with the same messages."""
import operator

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _describe(arrays):
    return ", ".join(str(a.dtype) if isinstance(a, np.ndarray)
                     else "%s (not an array)" % type(a).__name__ for a in arrays)


def _dtype(name, *arrays):
    """The common float dtype of `arrays`, or TypeError."""
    dt = None
    for a in arrays:
        if (not isinstance(a, np.ndarray) or a.dtype not in _FLOATS
                or (dt is not None and a.dtype != dt)):
            raise TypeError("%s: expected float32 or float64 arrays of one dtype, got %s"
                            % (name, _describe(arrays)))
        dt = a.dtype
    return dt


def _new_out(name, x):
    """The output of an elementwise kernel called without out: x's shape and dtype."""
    _dtype(name, x)
    return np.empty(x.shape, x.dtype)


def _same_shape(name, *arrays):
    shape = arrays[0].shape
    for a in arrays:
        if a.shape != shape:
            raise ValueError("%s: shape mismatch: %s"
                             % (name, ", ".join(str(b.shape) for b in arrays)))


def _writeable(name, a, what="out"):
    if not (a.flags.c_contiguous and a.flags.writeable):
        raise ValueError("%s: %s must be a C-contiguous writeable array" % (name, what))


def _rows(name, a):
    if a.ndim != 2:
        raise ValueError("%s: expected a 2-D (N, C) array, got shape %s" % (name, a.shape))


def _shares(a, b):
    """a and b (arrays or None) may share memory (bounds check, as the compiled side's)."""
    if a is None or b is None or a.size == 0 or b.size == 0:
        return False
    if a is b:
        return True
    if a.base is None and b.base is None:  # each owns its memory
        return False
    return bool(np.may_share_memory(a, b))


def _same_memory(a, b):
    ia, ib = a.__array_interface__, b.__array_interface__
    return ia["data"][0] == ib["data"][0] and a.shape == b.shape and a.strides == b.strides


def _no_overlap(name, outs, others, inplace=()):
    """The loops write each output in one pass, reading the inputs as they go: an output may be
    exactly one of `inplace` (the kernel then runs in place) but must not otherwise share memory
    with another argument (PyTorch refuses such partial overlaps too)."""
    for k, o in enumerate(outs):
        for a in list(others) + list(outs[k + 1:]):
            if _shares(a, o) and not (any(a is x for x in inplace) and _same_memory(a, o)):
                raise ValueError("%s: an output overlaps another argument in memory (only writing an "
                                 "elementwise or row-wise result over its own input is supported)" % name)


def _elementwise(name, inputs, out):
    """Checked inputs (made contiguous) for an elementwise kernel writing `out`."""
    if type(out) is np.ndarray and out.dtype in _FLOATS and out.flags.c_contiguous and out.flags.writeable:
        for a in inputs:  # fast path: everything already as the loops need it
            if not (type(a) is np.ndarray and a.dtype == out.dtype and a.shape == out.shape
                    and a.flags.c_contiguous):
                break
        else:
            _no_overlap(name, (out,), inputs, inputs)
            return inputs
    _dtype(name, *inputs, out)
    _same_shape(name, *inputs, out)
    _writeable(name, out)
    inputs = [np.asarray(a, order="C") for a in inputs]
    _no_overlap(name, (out,), inputs, inputs)
    return inputs


def _rowwise(name, inputs, out):
    _dtype(name, *inputs, out)
    _rows(name, inputs[0])
    _same_shape(name, *inputs, out)
    _writeable(name, out)
    inputs = [np.asarray(a, order="C") for a in inputs]
    _no_overlap(name, (out,), inputs, inputs)
    return inputs


def _targets(name, target, n, n_cls, ignore_index):
    """int64 class indices of shape (n,), all in [0, n_cls) or == ignore_index."""
    if not hasattr(type(ignore_index), "__index__"):
        raise TypeError("%s: ignore_index must be an integer, got %s" % (name, type(ignore_index).__name__))
    if not -2 ** 63 <= operator.index(ignore_index) < 2 ** 63:  # the compiled side holds it in an int64
        raise ValueError("%s: ignore_index %d is out of the int64 range" % (name, operator.index(ignore_index)))
    if not isinstance(target, np.ndarray) or target.dtype.kind not in "iu":
        raise TypeError("%s: target must be an integer array, got %s"
                        % (name, _describe((target,))))
    if target.shape != (n,):
        raise ValueError("%s: target shape %s does not match %d rows" % (name, target.shape, n))
    target = np.asarray(target, dtype=np.int64, order="C")
    bad = (target != ignore_index) & ((target < 0) | (target >= n_cls))
    if bad.any():
        raise IndexError("Target %d is out of bounds." % target[np.argmax(bad)])
    return target


def _ce_args(name, logits, target, weight, ignore_index, vectors, grads):
    """Checks shared by cross_entropy_fwd/bwd: `vectors` are the (N,) float arrays, `grads`
    the (N, C) ones (bwd: (out,); fwd: ())."""
    floats = (logits,) + tuple(vectors) + tuple(grads) + (() if weight is None else (weight,))
    _dtype(name, *floats)
    _rows(name, logits)
    n, n_cls = logits.shape
    for v in vectors:
        if v.shape != (n,):
            raise ValueError("%s: shape mismatch: %s, %s" % (name, logits.shape, v.shape))
    if weight is not None and weight.shape != (n_cls,):
        raise ValueError("%s: shape mismatch: %s, weight %s" % (name, logits.shape, weight.shape))
    for out in grads:
        if out.shape != logits.shape:
            raise ValueError("%s: shape mismatch: %s, out %s" % (name, logits.shape, out.shape))
    target = _targets(name, target, n, n_cls, ignore_index)
    w = None if weight is None else np.asarray(weight, order="C")
    x = np.asarray(logits, order="C")
    if grads:  # bwd: out may be the logits themselves
        _no_overlap(name, grads, (x, target, w) + tuple(vectors), (x,))
    else:      # fwd: lse_out and loss_out
        _no_overlap(name, vectors, (x, target, w))
    return x, target, w


def _state(name, p, g, buffers):
    """Checks for an optimizer step: buffers is a list of (label, array-or-None, needed)."""
    for label, b, needed in buffers:
        if needed and b is None:
            raise ValueError("%s: %s is required with these options" % (name, label))
    used = [b for label, b, needed in buffers if needed]
    _dtype(name, p, g, *used)
    _same_shape(name, p, g, *used)
    _writeable(name, p, "p")
    for label, b, needed in buffers:
        if needed:
            _writeable(name, b, label)
    arrays = [p, g] + used
    if any(_shares(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:]):
        raise ValueError("%s: p, g and the state buffers must not overlap in memory" % name)
    return np.asarray(g, order="C")


def _floats(*values):
    """Python floats, converted as the compiled side converts its C doubles (PyFloat_AsDouble):
    the same TypeError, with the same message, for None, strings, complex numbers..."""
    for v in values:
        if not (hasattr(type(v), "__float__") or hasattr(type(v), "__index__")):
            raise TypeError("must be real number, not %s" % type(v).__name__)
    return [float(v) for v in values]
