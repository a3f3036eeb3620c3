"""The *_copy variants of the view ops (torch.view_copy, permute_copy, ...: the view's values in
memory of their own, with the view's gradient), the splits beyond split/chunk (split_with_sizes,
unsafe_split/unsafe_chunk, hsplit/vsplit/dsplit), slice as torch.ops.aten.slice does it, and the
*_scatter ops (select/slice/diagonal/as_strided_scatter: the input with one view's elements
replaced by src, out of place).

All compose the view ops (shape.py, views.py, indexing.py) with Clone, and the scatters are one
IndexPut on the flattened input at the view's element numbers, so forward, gradient and jvp are
those ops' own."""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import indexing as I
from fastgrad._ops import shape_more as SM
from fastgrad._ops import shape as S
from fastgrad._ops import views as V
from fastgrad._ops.base import engine, is_tensor, make, norm_dim, shape_str
from fastgrad._ops.gather_scatter import NotDifferentiable

_as_strided = np.lib.stride_tricks.as_strided


# --------------------------------------------------------------------------- out=
_CPP_NAMES = {"float32": "float", "float64": "double", "int64": "long", "int32": "int", "int16": "short",
              "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
              "bfloat16": "c10::BFloat16", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>",
              "uint16": "unsigned short", "uint32": "unsigned int", "uint64": "unsigned long"}


def write_out(name, res, out):
    """res written into out (torch's out= of these ops: out is resized to res's shape, must have
    its dtype, and requires grad when res does; its backward raises torch's error)."""
    if out is None:
        return res
    if isinstance(res, (tuple, list)):
        if is_tensor(out):
            raise TypeError("%s(): argument 'out' must be tuple of Tensors, not Tensor" % name)
        if len(out) != len(res):
            raise RuntimeError("%s expects out to have %d tensors, but got %d" % (name, len(res), len(out)))
        for r, o in zip(res, out):
            write_out(name, r, o)
        return None
    if out._data.dtype != res._data.dtype:
        raise RuntimeError("Expected out tensor to have dtype %s, but got %s instead"
                           % (_CPP_NAMES.get(res._data.dtype.name, res._data.dtype.name),
                              _CPP_NAMES.get(out._data.dtype.name, out._data.dtype.name)))
    if out._data.shape != res._data.shape:
        out._data = np.empty(res._data.shape, out._data.dtype)
    np.copyto(out._data, res._data)
    out._vc.value += 1
    if res._requires_grad and engine.is_grad_enabled():  # (a node whose backward raises, as torch's)
        node = NotDifferentiable.apply(res, "derivative for aten::%s is not implemented" % name)
        out._grad_fn, out._output_nr, out._requires_grad = node._grad_fn, node._output_nr, True
    return out


def _copy(t):
    """A view's values in new memory, with the view's gradient (the Clone of the view)."""
    return S.Clone.apply(t)


# --------------------------------------------------------------------------- *_copy
def alias_copy(input, *, out=None):
    return write_out("alias_copy", _copy(input), out)


def detach_copy(input, *, out=None):
    return write_out("detach_copy", _copy(S.detach(input)), out)


def expand_copy(input, size, *, implicit=False, out=None):
    size = S._shape_args((size,) if isinstance(size, numbers.Integral) else tuple(size))
    return write_out("expand_copy", _copy(S.expand(input, *size)), out)


def diagonal_copy(input, offset=0, dim1=0, dim2=1, *, out=None):
    return write_out("diagonal_copy", _copy(V.diagonal(input, offset, dim1, dim2)), out)


def narrow_copy(input, dim, start, length, *, out=None):
    return write_out("narrow_copy", _copy(I.narrow(input, dim, start, length)), out)


def view_copy(input, size, *, out=None):
    if isinstance(size, _dtype.dtype):
        return S.view(input, size)  # (fastgrad's error for view(dtype))
    size = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    return write_out("view_copy", _copy(S.reshape(input, *size)), out)


def permute_copy(input, dims, *, out=None):
    return write_out("permute_copy", _copy(S.permute(input, *dims)), out)


def squeeze_copy(input, dim=None, *, out=None):
    return write_out("squeeze_copy", _copy(S.squeeze(input, dim)), out)


def unsqueeze_copy(input, dim, *, out=None):
    return write_out("unsqueeze_copy", _copy(S.unsqueeze(input, dim)), out)


def transpose_copy(input, dim0, dim1, *, out=None):
    nd = input._data.ndim
    if nd == 0:  # (torch checks the dims of a 0-d tensor as of a 1-d one)
        norm_dim(dim0, 0), norm_dim(dim1, 0)
    return write_out("transpose_copy", _copy(S.transpose(input, dim0, dim1)), out)


def as_strided_copy(input, size, stride, storage_offset=None, *, out=None):
    return write_out("as_strided_copy", _copy(SM.as_strided(input, size, stride, storage_offset)), out)


def t_copy(input, *, out=None):
    return write_out("t_copy", _copy(S.t(input)), out)


def select_copy(input, dim, index, *, out=None):
    return write_out("select_copy", _copy(I.select(input, dim, index)), out)


def slice_copy(input, dim=0, start=None, end=None, step=1, *, out=None):
    return write_out("slice_copy", _copy(slice_view(input, dim, start, end, step)), out)


def unfold_copy(input, dimension, size, step, *, out=None):
    return write_out("unfold_copy", _copy(input.unfold(dimension, size, step)), out)


def unbind_copy(input, dim=0, *, out=None):
    return write_out("unbind_copy", tuple(_copy(t) for t in I.unbind(input, dim)), out)


def split_copy(input, split_size, dim=0, *, out=None):
    return write_out("split_copy", tuple(_copy(t) for t in I._split(input, split_size, dim)), out)


def split_with_sizes_copy(input, split_sizes, dim=0, *, out=None):
    return write_out("split_with_sizes_copy", tuple(_copy(t) for t in _split_with_sizes(input, split_sizes, dim)), out)


# --------------------------------------------------------------------------- slice (aten.slice)
def _slice_bounds(n, start, end, step):
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    start = 0 if start is None else int(start)
    end = n if end is None else int(end)
    if start < 0:
        start += n
    if end < 0:
        end += n
    start = min(max(start, 0), n)
    end = min(max(end, start), n)
    return start, end


def slice_view(input, dim=0, start=None, end=None, step=1):
    """input's elements start:end:step along dim, as a view (torch.ops.aten.slice.Tensor)."""
    d = norm_dim(dim, max(input._data.ndim, 1))
    if input._data.ndim == 0:
        raise RuntimeError("slice() cannot be applied to a 0-dim tensor.")
    start, end = _slice_bounds(input._data.shape[d], start, end, int(step))
    return S.getitem(input, (slice(None),) * d + (slice(start, end, int(step)),))


# --------------------------------------------------------------------------- splits
def _split_with_sizes(input, split_sizes, dim):
    sizes = [int(s) for s in split_sizes]
    if any(s < 0 for s in sizes):
        raise RuntimeError("split_with_sizes expects split_sizes have only non-negative entries, but got "
                           "split_sizes=%s" % sizes)
    return I._split(input, sizes, dim)


def split_with_sizes(input, split_sizes, dim=0):
    return V.mark_multi_output(_split_with_sizes(input, split_sizes, dim), "SplitWithSizesBackward")


def _unsafe(outs):
    """Outputs that in-place ops may change: not views to autograd (torch's unsafe_split)."""
    for t in outs:
        t._base = None
        t._view_meta = None
        t._vc = engine.Version()
    return outs


def unsafe_split(input, split_size, dim=0):
    if not isinstance(split_size, numbers.Integral):
        raise TypeError("unsafe_split(): argument 'split_size' (position 2) must be int, not %s"
                        % type(split_size).__name__)
    return _unsafe(I._split(input, split_size, dim))


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return _unsafe(_split_with_sizes(input, split_sizes, dim))


def unsafe_chunk(input, chunks, dim=0):
    return _unsafe(I.chunk(input, chunks, dim))


def _hvd_split(name, input, indices_or_sections, need, dim):
    nd = input._data.ndim
    if nd < need:
        raise RuntimeError("torch.%s requires a tensor with at least %d dimension, but got a tensor with %d "
                           "dimensions!" % (name, need, nd))
    if is_tensor(indices_or_sections) or not isinstance(indices_or_sections, (numbers.Integral, list, tuple)):
        raise TypeError("%s() received an invalid combination of arguments - got (Tensor, %s), but expected one "
                        "of:\n * (Tensor input, int sections)\n * (Tensor input, tuple of ints indices)"
                        % (name, type(indices_or_sections).__name__))
    if isinstance(indices_or_sections, numbers.Integral):
        k, n = int(indices_or_sections), input._data.shape[dim]
        if k == 0 or n % k:
            raise RuntimeError("torch.%s attempted to split along dimension %d, but the size of the dimension %d is "
                               "not divisible by the split_size %d!" % (name, dim, n, k))
    return I.tensor_split(input, indices_or_sections, dim)


def hsplit(input, indices_or_sections):
    return _hvd_split("hsplit", input, indices_or_sections, 1, 0 if input._data.ndim == 1 else 1)


def vsplit(input, indices_or_sections):
    return _hvd_split("vsplit", input, indices_or_sections, 2, 0)


def dsplit(input, indices_or_sections):
    return _hvd_split("dsplit", input, indices_or_sections, 3, 2)


# --------------------------------------------------------------------------- *_scatter
def _numbers(shape):
    return np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape)


def _scatter_at(input, src, where):
    """input with its elements numbered `where` (C order; -1: none) replaced by src, out of place."""
    if src._data.dtype != input._data.dtype:
        src = src.to(input.dtype)
    keep = where >= 0
    if not keep.all():
        where = where[keep]
        src = S.getitem(src, make(np.ascontiguousarray(keep)))
    flat = S.reshape(input, -1)
    return S.IndexPut.apply(flat, src, (where,), False).reshape(input._data.shape)


def _check_src(src, shape):
    if tuple(src._data.shape) != tuple(shape):
        raise RuntimeError("expected src to have a size equal to the slice of self. src size = %s, slice size = %s"
                           % (shape_str(src._data.shape), shape_str(shape)))


def select_scatter(input, src, dim, index):
    nd = input._data.ndim
    d = norm_dim(dim, nd)
    n = input._data.shape[d] if nd else 1
    if index < -n or index >= n:
        raise IndexError("select(): index %d out of range for tensor of size %s at dimension %d"
                         % (index, shape_str(input._data.shape), d))
    where = np.asarray(_numbers(input._data.shape)[(slice(None),) * d + (int(index) % n,)])
    _check_src(src, where.shape)
    return _scatter_at(input, src, where)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    d = norm_dim(dim, input._data.ndim)
    start, end = _slice_bounds(input._data.shape[d], start, end, int(step))
    where = _numbers(input._data.shape)[(slice(None),) * d + (slice(start, end, int(step)),)]
    _check_src(src, where.shape)
    return _scatter_at(input, src, where)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = norm_dim(dim1, nd), norm_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError("diagonal dimensions cannot be identical %d, %d" % (dim1, dim2))
    where = np.ascontiguousarray(V._diagonal_view(_numbers(input._data.shape), int(offset), d1, d2))
    _check_src(src, where.shape)
    return _scatter_at(input, src, where)


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """input's values in a new storage laid out as input's (its strides and storage offset), the
    elements as_strided(size, stride, storage_offset) picks of it replaced by src."""
    size, stride = SM.check_geometry(size, stride)
    a = input._data
    _, off, nel = SM.storage_of(a)
    off0 = off if storage_offset is None else int(storage_offset)
    SM.check_bounds(size, stride, off0, nel, a.itemsize)
    _check_src(src, size)
    num = np.full(max(nel, 1), -1, np.intp)  # the storage, numbered by input's elements (-1: none)
    ast = tuple(s // a.itemsize for s in a.strides) if a.size else (0,) * a.ndim
    if a.size:
        _as_strided(num[off:], a.shape, tuple(s * num.itemsize for s in ast))[...] = _numbers(a.shape)
    if not all(size):
        where = np.zeros(size, np.intp)
    else:
        where = _as_strided(num[off0:], size, tuple(s * num.itemsize for s in stride)).copy()
    return _scatter_at(input, src, where)


__all__ = ["alias_copy", "as_strided_copy", "detach_copy", "expand_copy", "diagonal_copy", "narrow_copy", "view_copy",
           "permute_copy", "squeeze_copy", "unsqueeze_copy", "transpose_copy", "t_copy", "select_copy", "slice_copy",
           "unfold_copy", "unbind_copy", "split_copy", "split_with_sizes_copy", "split_with_sizes", "unsafe_split",
           "unsafe_chunk", "unsafe_split_with_sizes", "hsplit", "vsplit", "dsplit", "select_scatter", "slice_scatter",
           "diagonal_scatter", "as_strided_scatter"]
