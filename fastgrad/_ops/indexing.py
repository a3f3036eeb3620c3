"""Joining, splitting, reordering and indexing: cat/stack/split/chunk/unbind, flip/roll,
repeat/tile/repeat_interleave, narrow/select, masked ops, nonzero, tril/triu,
diag/diagonal/trace, movedim/unflatten; and gather_scatter.py's ops re-exported (index_select,
take, take_along_dim, gather, scatter, scatter_add, scatter_reduce, index_add/fill/copy).

Most are compositions of the view/index ops in shape.py (their gradients accumulate repeated
indices with np.add.at); Cat, Flip and Roll are ops of their own."""
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import shape as S
from fastgrad._ops.base import Op, as_tensor_of, check_broadcast, is_tensor, make, norm_dim, norm_dims, shape_str
from fastgrad._ops.elementwise import where
# gather and scatter live in gather_scatter.py; this module re-exports them (torch.gather etc. via __all__)
from fastgrad._ops.gather_scatter import (gather, index_add, index_copy, index_fill, index_select, scatter,  # noqa: F401
                                          scatter_add, scatter_reduce, take, take_along_dim)
from fastgrad._ops.views import diagonal as views_diagonal, mark_multi_output
from fastgrad._ops import unsigned as U


def _tensors_arg(name, tensors):
    if is_tensor(tensors):
        raise TypeError("%s(): argument 'tensors' must be tuple of Tensors, not Tensor" % name)
    tensors = list(tensors)
    if not tensors:
        if name == "stack":
            raise RuntimeError("stack expects a non-empty TensorList")
        raise ValueError("torch.%s(): expected a non-empty list of Tensors" % name)
    for i, t in enumerate(tensors):
        if not is_tensor(t):
            raise TypeError("%s(): expected Tensor as element %d in argument 0, but got %s"
                            % (name, i, type(t).__name__))
    return tensors


# --------------------------------------------------------------------------- cat
# twin of layers.Cat (no argument checks, slices in backward): kept apart so layers' graphs stay as they are
class Cat(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.shapes = [x._data.shape for x in xs]
        return np.concatenate([x._data for x in xs], axis=dim)

    @staticmethod
    def backward(ctx, g):
        sizes = [s[ctx.dim] for s in ctx.shapes]
        return (None,) + tuple(split(g, sizes, ctx.dim))

    @staticmethod
    def jvp(ctx, dim, *ts):
        dt = next(t for t in ts if t is not None)._data.dtype
        ts = [t if t is not None else make(np.zeros(s, dt)) for t, s in zip(ts, ctx.shapes)]
        return Cat.apply(dim, *ts)


def cat(tensors, dim=0, *, out=None, axis=None):
    if axis is not None:  # NumPy's spelling, which torch.cat accepts too
        dim = axis
    if isinstance(tensors, (list, tuple)) and tensors and getattr(tensors[0], "is_nested", False):  # torch.nested
        return tensors[0]._nested_call("cat", tensors, dim)
    tensors = _tensors_arg("cat", tensors)
    # PyTorch's legacy rule: 1-D empty tensors are skipped
    kept = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = kept[0]
    for i, t in enumerate(kept):
        if t._data.ndim == 0:
            raise RuntimeError("zero-dimensional tensor (at position %d) cannot be concatenated" % i)
    d = norm_dim(dim, ref._data.ndim)
    for i, t in enumerate(kept):
        if t._data.ndim != ref._data.ndim:
            raise RuntimeError("Tensors must have same number of dimensions: got %d and %d"
                               % (ref._data.ndim, t._data.ndim))
        for a in range(ref._data.ndim):
            if a != d and t._data.shape[a] != ref._data.shape[a]:
                raise RuntimeError("Sizes of tensors must match except in dimension %d. Expected size %d "
                                   "but got size %d for tensor number %d in the list."
                                   % (d, ref._data.shape[a], t._data.shape[a], i))
    dt = _dtype.result_type(*kept)
    kept = [as_tensor_of(t, dt) for t in kept]
    if len(kept) == 1:
        return kept[0].clone()
    return Cat.apply(d, *kept)


concatenate = concat = cat


def stack(tensors, dim=0, *, out=None):
    if isinstance(tensors, (list, tuple)) and tensors and getattr(tensors[0], "is_nested", False):  # torch.nested
        return tensors[0]._nested_call("stack", tensors, dim)
    tensors = _tensors_arg("stack", tensors)
    shp = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shp:
            raise RuntimeError("stack expects each tensor to be equal size, but got %s at entry 0 and %s "
                               "at entry %d" % (shape_str(shp), shape_str(t._data.shape), i))
    d = norm_dim(dim, len(shp) + 1)
    return cat([S.unsqueeze(t, d) for t in tensors], d)


def hstack(tensors):
    tensors = _tensors_arg("hstack", tensors)
    tensors = [t.reshape(1) if t._data.ndim == 0 else t for t in tensors]
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    tensors = _tensors_arg("vstack", tensors)
    return cat([t.reshape(1, -1) if t._data.ndim < 2 else t for t in tensors], 0)


row_stack = vstack


def column_stack(tensors):
    tensors = _tensors_arg("column_stack", tensors)
    return cat([t.reshape(-1, 1) if t._data.ndim < 2 else t for t in tensors], 1)


# --------------------------------------------------------------------------- split
def narrow(input, dim, start, length):
    d = norm_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    start = int(start)
    if start < -n or start > n:
        raise IndexError("start out of range (expected to be in range of [%d, %d], but got %d)" % (-n, n, start))
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError("start (%d) + length (%d) exceeds dimension size (%d)." % (start, length, n))
    idx = (slice(None),) * d + (slice(start, start + length),)
    return S.getitem(input, idx)


def select(input, dim, index):
    d = norm_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if index < -n or index >= n:
        raise IndexError("select(): index %d out of range for tensor of size %s at dimension %d"
                         % (index, shape_str(input._data.shape), d))
    return S.getitem(input, (slice(None),) * d + (int(index),))


def split(tensor, split_size_or_sections=None, dim=0, *, split_size=None):
    if getattr(tensor, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return tensor._nested_call("split", tensor, split_size_or_sections if split_size is None else split_size, dim)
    if split_size is not None:  # Tensor.split(split_size, dim): torch's method names it so
        if split_size_or_sections is not None:
            raise TypeError("split() got multiple values for argument 'split_size'")
        split_size_or_sections = split_size
    elif split_size_or_sections is None:
        raise TypeError("split() missing 1 required positional argument: 'split_size_or_sections'")
    name = "SplitBackward" if isinstance(split_size_or_sections, (int, np.integer)) else "SplitWithSizesBackward"
    return mark_multi_output(_split(tensor, split_size_or_sections, dim), name)


def _split(tensor, split_size_or_sections, dim=0):
    d = norm_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError("split_size can only be 0 if dimension size is 0, but got dimension size of %d" % n)
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError("split_with_sizes expects split_sizes to sum exactly to %d (input tensor's "
                               "size at dimension %d), but got split_sizes=%s" % (n, d, list(sizes)))
    out, start = [], 0
    for s in sizes:
        out.append(narrow(tensor, d, start, s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("chunk", input, chunks, dim)
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: %d" % chunks)
    d = norm_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if n == 0:  # torch: `chunks` empty pieces
        return tuple(narrow(input, d, 0, 0) for _ in range(chunks))
    return split(input, max(math.ceil(n / chunks), 1), d)


def tensor_split(input, indices_or_sections, dim=0):
    d = norm_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if is_tensor(indices_or_sections) and indices_or_sections._data.ndim == 0:
        indices_or_sections = int(indices_or_sections._data)  # a 0-d tensor: a number of sections
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise RuntimeError("number of sections must be larger than 0, got %d" % k)
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    else:
        cuts = [min(max(int(i), 0), n) for i in indices_or_sections]
        bounds = [0] + cuts + [n]
        sizes = [max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])]
        starts = bounds[:-1]
        return tuple(narrow(input, d, min(s, n), sz) for s, sz in zip(starts, sizes))
    return _split(input, sizes, d)


def unbind(input, dim=0):
    d = norm_dim(dim, input._data.ndim)
    return mark_multi_output(tuple(select(input, d, i) for i in range(input._data.shape[d])), "UnbindBackward")


# --------------------------------------------------------------------------- reorder
class Roll(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x._data, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        neg = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(g, neg, ctx.axes), None, None

    @staticmethod
    def jvp(ctx, t, shifts, axes):
        return Roll.apply(t, shifts, axes)


@U.refuses("flip_cpu", skip=U.SKIPS["flip"])
def flip(input, *dims, **kwargs):
    if "dims" in kwargs:  # flip(input, dims=[...]), torch's keyword
        dims = (kwargs.pop("dims"),)
    if kwargs:
        raise TypeError("flip() got an unexpected keyword argument '%s'" % next(iter(kwargs)))
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = tuple(norm_dim(d, input._data.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("dims has duplicates, original flip dims size=%d, but unique flip dims size=%d"
                           % (len(axes), len(set(axes))))
    return _flip(input, axes)


def _flip(x, axes):
    if not axes or x._data.ndim == 0:
        return x.clone()
    return Flip.apply(x, axes)


class Flip(Op):
    """np.flip as a copy (PyTorch's flip copies); its own adjoint."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x._data, axes).copy()

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, ctx.axes), None

    @staticmethod
    def jvp(ctx, t, axes):
        return Flip.apply(t, axes)


@U.refuses("flip_cpu", skip=U.SKIPS["fliplr"])
def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


@U.refuses("flip_cpu", skip=U.SKIPS["flipud"])
def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def roll(input, shifts, dims=None):
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            if len(shifts) != 1:
                raise RuntimeError("roll: shifts must be an int when dims is not given")
            shifts = shifts[0]
        return Roll.apply(input, int(shifts), None)
    if isinstance(shifts, (tuple, list)) or isinstance(dims, (tuple, list)):
        shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if len(shifts) != len(dims):
            raise RuntimeError("shifts and dimensions must align. shifts: %d, dims:%d" % (len(shifts), len(dims)))
        return Roll.apply(input, tuple(int(s) for s in shifts),
                          tuple(norm_dim(d, input._data.ndim) for d in dims))
    return Roll.apply(input, int(shifts), norm_dim(dims, input._data.ndim))


def movedim(input, source, destination):
    nd = input._data.ndim
    src = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    dst = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise RuntimeError("movedim: Invalid source or destination dims: source (%s dims) should contain "
                           "the same number of dims as destination (%s dims)" % (list(src), list(dst)))
    src = [norm_dim(d, nd) for d in src]
    dst = [norm_dim(d, nd) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError("movedim: repeated dim in `source` or `destination`")
    order = [d for d in range(nd) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    if order == list(range(nd)):
        return input
    return S.permute(input, *order)


moveaxis = movedim


def unflatten(input, dim, sizes):
    d = norm_dim(dim, input._data.ndim)
    shp = input._data.shape
    sizes = tuple(int(s) for s in sizes)
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten: only one dimension can be inferred")
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes:
        sizes = tuple(shp[d] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != shp[d]:
        raise RuntimeError("unflatten: Provided sizes %s don't multiply up to the size of dim %d (%d) in the "
                           "input tensor" % (list(sizes), d, shp[d]))
    return S.reshape(input, shp[:d] + sizes + shp[d + 1:])


# --------------------------------------------------------------------------- repeat
def repeat(input, *sizes, repeats=None):
    """np.tile semantics: expand interleaved singleton axes, then merge (no op of its own)."""
    sizes = S._shape_args(S._sizes_or_keyword(sizes, repeats, "repeat", "repeats"))
    nd = input._data.ndim
    if len(sizes) < nd:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           "of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError("Trying to create tensor with negative dimension %d: %s" % (min(sizes), list(sizes)))
    shp = (1,) * (len(sizes) - nd) + input._data.shape
    inter = []
    big = []
    for r, s in zip(sizes, shp):
        inter += [1, s]
        big += [r, s]
    x = S.reshape(input, tuple(inter))
    x = S.expand(x, *big)
    return S.reshape(x, tuple(r * s for r, s in zip(sizes, shp)))


def tile(input, dims):
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats): indices repeated
        r = input._data
        return make(np.repeat(np.arange(r.shape[0], dtype=np.int64), r))
    x = input
    if dim is None:
        x = S.reshape(x, -1)
        dim = 0
    d = norm_dim(dim, x._data.ndim)
    r = repeats._data if is_tensor(repeats) else repeats
    if np.ndim(r) > 0 and np.size(r) not in (1, x._data.shape[d]):
        raise RuntimeError("repeats must have the same size as input along dim, but got repeats.size(0) = %d "
                           "and input.size(%d) = %d" % (np.size(r), d, x._data.shape[d]))
    if np.any(np.asarray(r) < 0):
        raise RuntimeError("repeats can not be negative")
    idx = np.repeat(np.arange(x._data.shape[d]), np.asarray(r).reshape(-1) if np.ndim(r) else int(r))
    return S.getitem(x, (slice(None),) * d + (idx,))


# --------------------------------------------------------------------------- masks
def _bool_mask(name, mask):
    if not is_tensor(mask) or mask._data.dtype != np.bool_:
        dt = mask.dtype.name if is_tensor(mask) else type(mask).__name__
        raise RuntimeError("%s only supports boolean masks, but got mask with dtype %s" % (name, dt))
    return mask


@U.refuses("masked_fill")
def masked_fill(input, mask, value):
    _bool_mask("masked_fill_", mask)
    if is_tensor(value):
        if value._data.ndim != 0:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               "%d dimension(s)." % value._data.ndim)
        v = value if value._data.dtype == input._data.dtype else value.to(input.dtype)
    else:
        v = make(np.asarray(value, input._data.dtype))
    return where(mask, v, input)


@U.refuses("masked_select")
def masked_select(input, mask):
    _bool_mask("masked_select", mask)
    check_broadcast(mask._data.shape, input._data.shape)
    shp = np.broadcast_shapes(input._data.shape, mask._data.shape) or (1,)  # 0-d: one element
    x = S.expand(input, *shp) if input._data.shape != shp else input
    m = np.broadcast_to(mask._data, shp)
    return S.getitem(x, make(np.ascontiguousarray(m)))


@U.refuses("masked_scatter")
def masked_scatter(input, mask, source):
    _bool_mask("masked_scatter_", mask)
    check_broadcast(mask._data.shape, input._data.shape)
    shp = np.broadcast_shapes(input._data.shape, mask._data.shape)  # out of place, input broadcasts too
    if input._data.shape != shp:
        input = S.expand(input, *shp)
    m = np.broadcast_to(mask._data, shp)
    n = int(m.sum())
    src = S.reshape(source, -1)[:n] if n else S.reshape(source, -1)[:0]
    return S.IndexPut.apply(input, src, np.ascontiguousarray(m), False)


@U.refuses("nonzero_count_cpu")
def nonzero(input, *, as_tuple=False):
    d = input._data
    if as_tuple:
        if d.ndim == 0:
            return (make(np.zeros(int(d != 0), np.int64)),)
        return tuple(make(i.astype(np.int64)) for i in np.nonzero(d))
    return make(np.argwhere(d).astype(np.int64))


@U.refuses("nonzero_count_cpu")
def argwhere(input):
    return nonzero(input)


@U.refuses("nonzero_count_cpu", skip=U.SKIPS["count_nonzero"])
def count_nonzero(input, dim=None):
    d = input._data
    if dim is None:
        return make(np.asarray(np.count_nonzero(d), np.int64))
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None  # dim=() counts over all dims, as torch
    axes = norm_dims(list(dim) if isinstance(dim, (tuple, list)) else dim, d.ndim)
    return make(np.asarray(np.count_nonzero(d, axis=axes) if axes else d != 0, np.int64))


# --------------------------------------------------------------------------- triangles and diagonals
def _tri(input, diagonal, lower, name):
    if input._data.ndim < 2:
        raise RuntimeError("%s: input tensor must have at least 2 dimensions" % name)
    n, m = input._data.shape[-2:]
    keep = np.tri(n, m, diagonal, dtype=bool) if lower else ~np.tri(n, m, diagonal - 1, dtype=bool)
    return where(make(keep), input, make(np.zeros((), input._data.dtype)))


@U.refuses("tril", skip=U.SKIPS["tril"])
def tril(input, diagonal=0):
    return _tri(input, diagonal, True, "tril")


@U.refuses("triu", skip=U.SKIPS["triu"])
def triu(input, diagonal=0):
    return _tri(input, diagonal, False, "triu")


diagonal = views_diagonal  # a view (fastgrad._ops.views)


def _diagonal_copy(input, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = norm_dim(dim1, nd), norm_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError("diagonal dimensions cannot be identical %d, %d" % (dim1, dim2))
    x = movedim(input, (d1, d2), (-2, -1))
    n, m = x._data.shape[-2:]
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = max(min(n - r0, m - c0), 0)
    rows, cols = np.arange(k) + r0, np.arange(k) + c0
    return S.getitem(x, (Ellipsis, rows, cols))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    k = input._data.shape[-1]
    n = k + abs(offset)
    rows, cols = np.arange(k) + max(-offset, 0), np.arange(k) + max(offset, 0)
    zeros = make(np.zeros(input._data.shape[:-1] + (n, n), input._data.dtype))
    out = S.IndexPut.apply(zeros, input, (Ellipsis, rows, cols), False)
    nd = out._data.ndim
    if (norm_dim(dim1, nd), norm_dim(dim2, nd)) != (nd - 2, nd - 1):
        out = movedim(out, (-2, -1), (dim1, dim2))
    return out


def diag(input, diagonal=0):
    nd = input._data.ndim
    if nd == 1:
        return diag_embed(input, diagonal)
    if nd == 2:
        return _diagonal_copy(input, diagonal)
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got %dD" % nd)


@U.refuses("trace")
def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim %d" % input._data.ndim)
    return diagonal(input).sum()


# --------------------------------------------------------------------------- broadcasting
def broadcast_shapes(*shapes):
    from fastgrad._types import Size

    try:
        return Size(np.broadcast_shapes(*[tuple(s) if isinstance(s, (tuple, list)) else (s,) for s in shapes]))
    except ValueError:
        raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape") from None


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    shp = tuple(broadcast_shapes(*[t._data.shape for t in tensors]))
    return tuple(S.expand(t, *shp) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError("torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: %s" % indexing)
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shp = tuple(t._data.size for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = t._data.size
        out.append(S.expand(S.reshape(t, tuple(view)), *shp))
    if swap:  # 'xy' is 'ij' on the first two swapped, outputs swapped back (torch's rule)
        out[0], out[1] = out[1], out[0]
    return tuple(out)


__all__ = ["cat", "concatenate", "concat", "stack", "hstack", "vstack", "row_stack", "column_stack", "narrow",
           "select", "split", "chunk", "tensor_split", "unbind", "flip", "fliplr", "flipud", "roll", "movedim",
           "moveaxis", "unflatten", "repeat_interleave", "tile", "index_select", "take", "take_along_dim",
           "gather", "scatter", "scatter_add", "scatter_reduce", "index_add", "index_fill", "index_copy", "masked_fill",
           "masked_select", "masked_scatter", "nonzero", "argwhere", "count_nonzero", "tril", "triu",
           "diagonal", "diag_embed", "diag", "trace", "broadcast_shapes", "broadcast_tensors", "meshgrid"]
