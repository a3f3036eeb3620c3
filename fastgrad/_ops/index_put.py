"""torch.index_put / Tensor.index_put / Tensor.index_put_: out[indices] = values (or +=, with
accumulate=True), indices a tuple of integer or boolean index tensors as in advanced indexing.

The op is shape.IndexPut (setitem's), so the gradients are torch's: self gets g (accumulate) or
g with zeros at the written places; values gets g[indices], summed back to values' shape."""
import warnings

import numpy as np

from fastgrad._ops.base import engine, is_tensor, make, scalar_type_name, shape_str
from fastgrad._ops.shape import IndexPut, _detached_history, check_inplace, rebase
from fastgrad.autograd.forward_ad import _set_tangent
from fastgrad._ops import unsigned as U


def _index_arrays(x, indices, name):
    """The NumPy index of a tuple of index tensors, with torch's checks and messages."""
    if is_tensor(indices) or not isinstance(indices, (tuple, list)):
        raise TypeError("%s(): argument 'indices' (position 2) must be tuple of Tensors, not %s"
                        % (name, type(indices).__name__))
    shape = x._data.shape
    out, dim = [], 0
    for k, t in enumerate(indices):
        if not is_tensor(t):
            raise TypeError("expected Tensor as element %d in argument 1, but got %s" % (k, type(t).__name__))
        a = t._data
        if a.dtype == np.uint8:
            warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool "
                          "instead.", UserWarning, stacklevel=3)
            a = a.astype(bool)
        if a.dtype.kind not in "biu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if a.dtype == np.bool_:
            if dim + a.ndim > len(shape):
                raise IndexError("too many indices for tensor of dimension %d (got %d)" % (len(shape), dim + a.ndim))
            for j, s in enumerate(a.shape):
                if s != shape[dim + j]:
                    raise IndexError("The shape of the mask %s at index %d does not match the shape of the indexed "
                                     "tensor %s at index %d" % (shape_str(a.shape), j, shape_str(shape), dim + j))
            dim += a.ndim
        else:
            if dim + 1 > len(shape):
                raise IndexError("too many indices for tensor of dimension %d (got %d)"
                                 % (len(shape), len(indices)))
            if a.size:
                lo, hi = int(a.min()), int(a.max())
                if lo < -shape[dim] or hi >= shape[dim]:
                    bad = lo if lo < -shape[dim] else hi
                    raise IndexError("index %d is out of bounds for dimension %d with size %d" % (bad, dim, shape[dim]))
            dim += 1
        out.append(a)
    return tuple(out)


def _index_put_args(x, indices, values, name):
    if not is_tensor(x):
        raise TypeError("%s(): argument 'input' (position 1) must be Tensor, not %s" % (name, type(x).__name__))
    idx = _index_arrays(x, indices, name)
    if not is_tensor(values):
        raise TypeError("%s(): argument 'values' (position 3) must be Tensor, not %s" % (name, type(values).__name__))
    if values._data.dtype != x._data.dtype:
        raise RuntimeError("Index put requires the source and destination dtypes match, got %s for the destination "
                           "and %s for the source." % (scalar_type_name(x._data.dtype),
                                                      scalar_type_name(values._data.dtype)))
    target = np.empty(x._data.shape, np.bool_)[idx].shape  # the indexing result's shape (a bool scratch)
    vs = values._data.shape
    try:
        ok = np.broadcast_shapes(vs, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError("shape mismatch: value tensor of shape %s cannot be broadcast to indexing result of "
                           "shape %s" % (shape_str(vs), shape_str(target)))
    return idx, values


def _write(a, idx, v, accumulate):
    if accumulate:
        np.add.at(a, idx, v)
    else:
        a[idx] = v


@U.refuses("index_put")
def index_put(input, indices, values, accumulate=False):
    """A copy of input with input[indices] = values (+= with accumulate=True, repeated indices adding up)."""
    idx, v = _index_put_args(input, indices, values, "index_put")
    if (input._requires_grad or v._requires_grad or input._fw_grad is not None or v._fw_grad is not None):
        return IndexPut.apply(input, v, idx, bool(accumulate))
    out = np.array(input._data, copy=True)
    _write(out, idx, v._data, accumulate)
    return make(out)


@U.refuses("index_put")
def index_put_(input, indices, values, accumulate=False):
    """input[indices] = values in place (+= with accumulate=True); returns input."""
    idx, v = _index_put_args(input, indices, values, "index_put_")
    if engine.is_grad_enabled() and (input._requires_grad or v._requires_grad):
        check_inplace(input, "index_put_")
        rebase(input, IndexPut.apply(_detached_history(input), v, idx, bool(accumulate)))
        return input
    _write(input._data, idx, v._data, accumulate)
    input._vc.value += 1
    if input._fw_grad is not None or v._fw_grad is not None:  # forward AD: the tangent gets the same write
        tan = np.array(input._fw_grad._data, copy=True) if input._fw_grad is not None else np.zeros_like(input._data)
        _write(tan, idx, v._fw_grad._data if v._fw_grad is not None else 0, accumulate)
        _set_tangent(input, make(tan))
    return input


__all__ = ["index_put", "index_put_"]
