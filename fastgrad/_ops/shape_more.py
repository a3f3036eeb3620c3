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
from fastgrad._ops import unsigned as U

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


# --------------------------------------------------------------------------- empty tensors with a layout
def _factory_dtype(dtype):
    return (_dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()).np


def _strided_zeros(size, stride, np_dtype):
    """Zeros laid out with these element strides over a storage of their own (as torch's
    empty_strided: the storage holds what the geometry reaches)."""
    size = tuple(int(n) for n in size)
    stride = tuple(int(n) for n in stride)
    if len(size) != len(stride):
        raise RuntimeError("dimensionality of sizes (%d) must match dimensionality of strides (%d)"
                           % (len(size), len(stride)))
    if any(n < 0 for n in size) or any(n < 0 for n in stride):
        raise RuntimeError("Storage size calculation overflowed with sizes=%s and strides=%s"
                           % (list(size), list(stride)))
    n = 1 + sum((a - 1) * b for a, b in zip(size, stride)) if all(size) else 0
    buf = np.zeros(max(n, 1), np_dtype)
    return _as_strided(buf, size, tuple(k * buf.itemsize for k in stride))


def _factory(data, requires_grad):
    t = make(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """Zeros (torch leaves the memory uninitialised) with the given strides."""
    return _factory(_strided_zeros(size, stride, _factory_dtype(dtype)), requires_grad)


def new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                      pin_memory=False):
    d = _dtype.to_dtype(dtype).np if dtype is not None else self._data.dtype
    return _factory(_strided_zeros(size, stride, d), requires_grad)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """Zeros of shape size whose dims lie in memory in the order physical_layout (outermost first)."""
    size = tuple(int(n) for n in size)
    order = tuple(int(d) for d in physical_layout)
    if len(size) != len(order):
        raise RuntimeError("Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           "len(size) = %d is not equal to len(physical_layout) = %d" % (len(size), len(order)))
    for i, d in enumerate(order):
        if not 0 <= d < len(size):
            raise RuntimeError("Dimension out of range (expected to be between 0 and %d, but got %d at index %d).  NB: "
                               "negative dims not currently supported; file an issue if you want it."
                               % (len(size) - 1, d, i))
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    stride, k = [0] * len(size), 1
    for d in order[::-1]:  # (torch's contiguous strides: a 0-size dim counts as 1)
        stride[d] = k
        k *= max(size[d], 1)
    return _factory(_strided_zeros(size, stride, _factory_dtype(dtype)), requires_grad)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    d = _factory_dtype(dtype)
    if isinstance(s, complex) and d.kind != "c":
        raise RuntimeError("value cannot be converted to type %s without overflow" % ("float" if d.kind == "f" else d.name))
    v = np.asarray(s)
    return _factory(v.astype(d) if v.dtype.kind in "biu" and d.kind in "iu" else np.asarray(s, d), requires_grad)


# --------------------------------------------------------------------------- resizing
def resize_(self, *sizes, memory_format=None, size=None):
    """self takes shape sizes, C-contiguous from its storage offset; the storage grows (a new
    one, holding the old elements first) when it is too small."""
    size = S._shape_args(S._sizes_or_keyword(sizes, size, "resize_", "size"))
    if any(n < 0 for n in size):
        raise RuntimeError("numel: integer multiplication overflow")
    if self._requires_grad or (self._base is not None and self._base._requires_grad):
        raise RuntimeError("cannot resize variables that require grad")
    a = self._data
    if a.shape == size and a.flags.c_contiguous:
        return self
    mem, off, nel = storage_of(a)
    n = math.prod(size)
    if off + n > nel:  # a larger storage, the old one's elements copied first
        new = np.zeros(off + n, a.dtype)
        new[:nel] = mem
        mem = new
    self._data = mem[off:off + n].reshape(size)
    self._vc.value += 1
    return self


def resize_as_(self, the_template, *, memory_format=None):
    return resize_(self, the_template._data.shape)


# --------------------------------------------------------------------------- fill
def fill(input, value):
    """A tensor of input's shape and dtype holding value (a number or a 0-d tensor): the
    gradient goes to value (summed), none to input."""
    if is_tensor(value):
        if value._data.ndim:
            raise RuntimeError("fill_ only supports 0-dimension value tensor but got tensor with %d dimensions."
                               % value._data.ndim)
        v = value if value._data.dtype == input._data.dtype else value.to(input.dtype)
    else:
        v = make(np.asarray(value).astype(input._data.dtype))
    from fastgrad._ops.elementwise import where

    return where(make(np.ones(input._data.shape, np.bool_)), v, input)


def fill_(input, value):
    return input.fill_(value)


# --------------------------------------------------------------------------- composed shape ops
def _tensors(name, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0]), True
    for t in tensors:
        if not is_tensor(t):
            raise TypeError("%s() received an invalid combination of arguments - got (%s), but expected one of:\n"
                            " * (Tensor input)\n * (tuple of Tensors tensors)" % (name, type(t).__name__))
    return list(tensors), len(tensors) != 1


def _atleast(name, tensors, fix):
    ts, many = _tensors(name, tensors)
    out = tuple(fix(t) for t in ts)
    return out if many else out[0]


def atleast_1d(*tensors):
    return _atleast("atleast_1d", tensors, lambda t: S.reshape(t, 1) if t._data.ndim == 0 else t)


def atleast_2d(*tensors):
    return _atleast("atleast_2d", tensors, lambda t: S.reshape(t, 1, 1) if t._data.ndim == 0 else
                    S.unsqueeze(t, 0) if t._data.ndim == 1 else t)


def _to3d(t):
    nd = t._data.ndim
    if nd == 0:
        return S.reshape(t, 1, 1, 1)
    if nd == 1:
        return S.reshape(t, 1, t._data.shape[0], 1)
    return S.unsqueeze(t, -1) if nd == 2 else t


def atleast_3d(*tensors):
    return _atleast("atleast_3d", tensors, _to3d)


def dstack(tensors):
    if not list(tensors):
        raise RuntimeError("dstack expects a non-empty TensorList")
    return I.cat([_to3d(t) for t in I._tensors_arg("dstack", tensors)], 2)


def ravel(input):
    return S.reshape(input, -1)


def block_diag(*tensors):
    from fastgrad._ops.nn_functional import ConstantPad

    blocks = []
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if nd > 2:
            raise RuntimeError("torch.block_diag: Input tensors must have 2 or fewer dimensions. Input %d has %d "
                               "dimensions" % (i, nd))
        blocks.append(S.reshape(t, 1, 1) if nd == 0 else S.unsqueeze(t, 0) if nd == 1 else t)
    dt = _dtype.result_type(*blocks) if blocks else _dtype.get_default_dtype().np
    cols = sum(b._data.shape[1] for b in blocks)
    if not blocks:
        return make(np.zeros((1, 0), dt))
    rows, left = [], 0
    for b in blocks:
        b = b if b._data.dtype == dt else b.to(_dtype.from_numpy_dtype(dt))
        w = b._data.shape[1]
        rows.append(ConstantPad.apply(b, ((0, 0), (left, cols - left - w)), 0))
        left += w
    return I.cat(rows, 0)


def _vector(name, t):
    if t._data.ndim != 1:
        raise RuntimeError("Expect a 1D vector, but got shape %s" % shape_str(t._data.shape))
    return t


def cartesian_prod(*tensors):
    ts = [_vector("cartesian_prod", t) for t in tensors]
    if len(ts) == 1:
        return ts[0]
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if len({t._data.dtype for t in ts}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    return I.stack([S.reshape(g, -1) for g in I.meshgrid(*ts, indexing="ij")], 1)


@U.refuses("masked_select", skip=U.SKIPS["combinations"])
def combinations(input, r=2, with_replacement=False):
    _vector("combinations", input)
    r = int(r)
    if r < 0:
        raise RuntimeError("Expect a non-negative number, but got %d" % r)
    if r == 0:
        return make(np.zeros(0, input._data.dtype))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(pick(range(input._data.shape[0]), r)), np.int64).reshape(-1, r)
    return S.getitem(input, make(idx))


def constant_pad_nd(input, pad, value=0):
    from fastgrad._ops.nn_functional import pad as F_pad

    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Length of pad must be even but instead it equals %d" % len(pad))
    if len(pad) // 2 > input._data.ndim:
        raise RuntimeError("Length of pad should be no more than twice the number of dimensions of the input. Pad "
                           "length is %dwhile the input has %ddimensions." % (len(pad), input._data.ndim))
    return F_pad(input, pad, "constant", value)


def diagflat(input, offset=0):
    return I.diag_embed(S.reshape(input, -1), int(offset))


@U.refuses("flip_cpu", skip=U.SKIPS["rot90"])
def rot90(input, k=1, dims=(0, 1)):
    dims = list(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError("expected total rotation dims == 2, but got dims = %d" % len(dims))
    if nd < 2:
        raise RuntimeError("expected total dims >= 2, but got total dims = %d" % nd)
    if dims[0] == dims[1] or abs(dims[0] - dims[1]) == nd:
        raise RuntimeError("expected rotation dims to be different, but got dim0 = %d and dim1 = %d" % tuple(dims))
    d0, d1 = norm_dim(dims[0], nd), norm_dim(dims[1], nd)
    k = int(k) % 4
    if k == 1:
        return S.transpose(I.flip(input, d1), d0, d1)
    if k == 2:
        return I.flip(input, d0, d1)
    if k == 3:
        return S.transpose(I.flip(input, d0), d0, d1)
    return S.Clone.apply(input)


def sum_to_size(input, *size):
    if not size:
        raise TypeError('sum_to_size() missing 1 required positional arguments: "size"')
    size = S._shape_args(size)
    shp = input._data.shape
    ok = len(size) <= len(shp) and all(s == t or s == 1 for s, t in zip(size[::-1], shp[::-1]))
    if not ok:
        raise RuntimeError("size {%s} is not expandable to size {%s}." % (shape_str(size), shape_str(shp)))
    if not size:  # (torch's sum_to: a 0-d size is the sum, of a 0-d input too: bool/int -> int64)
        from fastgrad._ops.reduction import sum as sum_all

        return sum_all(input)
    if tuple(size) == shp:
        return input
    if input._data.dtype.kind in "biu":  # (sums of bool and integers are int64)
        input = input.to(_dtype.int64)
    return engine._ops["sum_to"](input, size)


__all__ = ["as_strided", "as_strided_", "empty_strided", "empty_permuted", "scalar_tensor", "resize_as_", "fill",
           "fill_", "atleast_1d", "atleast_2d", "atleast_3d", "dstack", "ravel", "block_diag", "cartesian_prod",
           "combinations", "constant_pad_nd", "diagflat", "rot90"]
