"""Storage and as_strided, and shape ops composed of the primitives: atleast_nd, block_diag,
cartesian_prod, combinations, constant_pad_nd, diagflat, dstack, ravel, rot90, sum_to_size,
the strided/permuted empty tensors, fill, resize_, tril/triu_indices, unravel_index.

A tensor's storage (PyTorch's term) is the memory its array lies in: the array at the end of
NumPy's chain of bases (through as_strided's DummyArray), which views of a tensor share.
storage_offset() is the element offset of the tensor's first element in it, and as_strided
makes a real view of it: a view over the same memory, whose writes change the base (views.py's
machinery). Its gradient moves through the storage (StorageMove): the output's gradient is added
at the storage elements the output reads, and each input element takes its storage element's
sum (divided by how many input elements share it, as PyTorch's as_strided_backward does)."""
import itertools
import math
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import indexing as I
from fastgrad._ops import shape as S
from fastgrad._ops import views as V
from fastgrad._ops.base import Op, engine, is_tensor, make, make_view, norm_dim, shape_str

_as_strided = np.lib.stride_tricks.as_strided


# --------------------------------------------------------------------------- storage
def _span(r):
    """A 1-D array (r's dtype) over all the memory array r reaches, lowest address first; None
    when r has no element or strides that are not whole elements."""
    s = r.itemsize
    if r.size == 0 or any(st % s for st in r.strides):
        return None
    st = [x // s for x in r.strides]
    lo, hi = V._extent(r.shape, st)
    low = r[tuple(n - 1 if k < 0 else 0 for n, k in zip(r.shape, st)) + (Ellipsis,)]
    return _as_strided(low, (hi - lo + 1,), (s,))


def storage_of(a):
    """(memory, offset, size): a 1-D array of a's dtype over the memory array a lies in (its
    storage), the element offset of a's first element in it, and the storage's size in elements."""
    root = a
    while True:
        b = root.base
        if isinstance(b, np.ndarray):
            root = b
        elif b is not None and isinstance(getattr(b, "base", None), np.ndarray):  # as_strided's DummyArray
            root = b.base
        else:
            break
    s = a.itemsize
    if root is not a and root.itemsize == s:
        mem = _span(root)
        if mem is not None:
            d = V._ptr(a) - V._ptr(mem)
            if d % s == 0 and 0 <= d // s <= mem.size:
                return (mem if mem.dtype == a.dtype else mem.view(a.dtype)), d // s, mem.size
    mem = _span(a)
    if mem is None:
        return np.zeros(0, a.dtype), 0, 0
    return mem, (V._ptr(a) - V._ptr(mem)) // s, mem.size


def storage_offset(self):
    """Tensor.storage_offset(): where the tensor's first element sits in its storage."""
    return storage_of(self._data)[1]


def check_geometry(size, stride):
    size = tuple(int(n) for n in ((size,) if isinstance(size, numbers.Integral) else size))
    stride = tuple(int(n) for n in ((stride,) if isinstance(stride, numbers.Integral) else stride))
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(n < 0 for n in size):
        raise RuntimeError("Storage size calculation overflowed with sizes=%s and strides=%s"
                           % (list(size), list(stride)))
    if any(n < 0 for n in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got strides: %s"
                           % list(stride))
    return size, stride


def check_bounds(size, stride, offset, nel, itemsize):
    """PyTorch's errors for a geometry that reaches outside a storage of nel elements."""
    if offset < 0:
        raise RuntimeError("Tensor: invalid storage offset %d" % offset)
    if all(size):
        need = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride))
        if need > nel:
            raise RuntimeError("setStorage: sizes %s, strides %s, storage offset %d, and itemsize %d requiring a "
                               "storage size of %d are out of bounds for storage of size %d"
                               % (shape_str(size), shape_str(stride), offset, itemsize, need * itemsize,
                                  nel * itemsize))


def _indices(shape, strides, offset):
    """The storage index of each element of a geometry, in its shape."""
    idx = np.full(shape, offset, np.intp)
    for k, (n, s) in enumerate(zip(shape, strides)):
        if s and n > 1:
            idx += (np.arange(n, dtype=np.intp) * s).reshape((n,) + (1,) * (len(shape) - k - 1))
    return idx


class _Geometry:
    """Where as_strided's input and output sit in their storage: storage indices per element."""

    __slots__ = ("src", "dst", "n", "scale", "src_unique")

    def __init__(self, in_shape, in_strides, in_offset, size, stride, offset):
        self.src = _indices(size, stride, offset)  # (gradient: output -> storage -> input)
        self.dst = _indices(in_shape, in_strides, in_offset)
        self.n = int(max(self.src.max(initial=-1), self.dst.max(initial=-1)) + 1)
        count = np.bincount(self.dst.reshape(-1), minlength=self.n)
        self.scale = None if count.max(initial=0) <= 1 else 1.0 / np.maximum(count, 1)
        self.src_unique = np.bincount(self.src.reshape(-1), minlength=self.n).max(initial=0) <= 1


class StorageMove(Op):
    """Zeros of a flat storage of n elements, g's elements added at the storage indices src, the
    storage scaled by scale (or not: None), read at the storage indices dst (dst's shape):
    as_strided's gradient; src and dst swapped, its adjoint and its tangent map."""

    @staticmethod
    def forward(ctx, g, src, dst, n, scale, src_unique=False):
        ctx.args = (src, dst, n, scale)
        gd = g._data
        buf = np.zeros(n, gd.dtype)
        if src_unique:
            buf[src.reshape(-1)] = np.broadcast_to(gd, src.shape).reshape(-1)
        else:
            np.add.at(buf, src.reshape(-1), np.broadcast_to(gd, src.shape).reshape(-1))
        if scale is not None:
            buf *= scale.astype(buf.dtype)
        return buf[dst]

    @staticmethod
    def backward(ctx, gg):
        src, dst, n, scale = ctx.args
        return StorageMove.apply(gg, dst, src, n, scale), None, None, None, None, None

    @staticmethod
    def jvp(ctx, t, src, dst, n, scale, src_unique=False):
        return StorageMove.apply(t, src, dst, n, scale, src_unique)


class AsStridedView(Op):
    """input.as_strided(size, stride, storage_offset): a view of input's storage."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, size, stride, offset):
        a = x._data
        mem, off, nel = storage_of(a)
        s = a.itemsize
        ctx.geom = (a.shape, tuple(k // s for k in a.strides), off, size, stride, offset)
        if not all(size):
            return np.zeros(size, a.dtype)
        return make_view(_as_strided(mem[offset:], size, tuple(k * s for k in stride)), x)

    @staticmethod
    def backward(ctx, g):
        geo = _Geometry(*ctx.geom)
        return StorageMove.apply(g, geo.src, geo.dst, geo.n, geo.scale, geo.src_unique), None, None, None

    @staticmethod
    def jvp(ctx, t, size, stride, offset):
        geo = _Geometry(*ctx.geom)
        return StorageMove.apply(t, geo.dst, geo.src, geo.n, geo.scale)


def _as_strided_args(input, size, stride, storage_offset):
    size, stride = check_geometry(size, stride)
    _, off, nel = storage_of(input._data)
    offset = off if storage_offset is None else int(storage_offset)
    check_bounds(size, stride, offset, nel, input._data.itemsize)
    return size, stride, offset


def as_strided(input, size, stride, storage_offset=None):
    return AsStridedView.apply(input, *_as_strided_args(input, size, stride, storage_offset))


def as_strided_(input, size, stride, storage_offset=None):
    """In place: input becomes the view as_strided(size, stride, storage_offset) of its storage."""
    size, stride, offset = _as_strided_args(input, size, stride, storage_offset)
    if engine.is_grad_enabled() and V.view_requires_grad(input):
        V.check_inplace(input)
        r = AsStridedView.apply(input, size, stride, offset)
        input._data = r._data
        input._grad_fn, input._output_nr, input._requires_grad = r._grad_fn, r._output_nr, r._requires_grad
        return input
    mem, _, _ = storage_of(input._data)
    s = input._data.itemsize
    input._data = (_as_strided(mem[offset:], size, tuple(k * s for k in stride)) if all(size)
                   else np.zeros(size, input._data.dtype))
    return input


TENSOR_METHODS = {"as_strided": as_strided, "as_strided_": as_strided_, "storage_offset": storage_offset}
__all__ = ["as_strided", "as_strided_"]
