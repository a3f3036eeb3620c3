"""Views and copies: reshape/view, permute/transpose, expand, indexing, setitem, cast, clone."""
import collections.abc
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import views as V
from fastgrad._ops.base import (Op, TensorBase, engine, is_tensor, make, make_view, norm_dim,
                                scalar_type_name, shape_str)
from fastgrad.autograd.forward_ad import _set_tangent


class Reshape(Op):
    """view/reshape/flatten/squeeze/unsqueeze: one op, the gradient is reshaped back."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._data.shape
        y = x._data.reshape(shape)
        return make_view(y, x) if np.may_share_memory(y, x._data) else y

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None

    @staticmethod
    def jvp(ctx, t, shape):
        return t.reshape(shape)


class Permute(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return make_view(np.transpose(x._data, axes), x)

    @staticmethod
    def backward(ctx, g):
        return g.permute(*np.argsort(ctx.axes).tolist()), None

    @staticmethod
    def jvp(ctx, t, axes):
        return t.permute(*axes)


class Expand(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._data.shape
        return make_view(_expanded(x._data, shape), x)

    @staticmethod
    def backward(ctx, g):
        return engine._ops["sum_to"](g, ctx.in_shape), None

    @staticmethod
    def jvp(ctx, t, shape):
        return t.expand(shape)


def _expanded(a, shape):
    """np.broadcast_to(a, shape), writable as PyTorch's expand (fill_ and zero_ may write it;
    other in-place ops raise on it: views.check_internal_overlap)."""
    b = np.broadcast_to(a, shape)
    if not a.flags.writeable:
        return b
    return np.lib.stride_tricks.as_strided(a, b.shape, b.strides)


class Cast(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, np_dtype):
        ctx.in_dtype = x._data.dtype
        if x._data.dtype.kind == "c" and np.dtype(np_dtype).kind != "c":
            return x._data.real.astype(np_dtype)  # the real part (a complex gradient to a real input)
        return x._data.astype(np_dtype)

    @staticmethod
    def backward(ctx, g):
        if ctx.in_dtype.kind not in "fc" and ctx.in_dtype is not _dtype.BF16:
            return None, None
        return g.to(_dtype.from_numpy_dtype(ctx.in_dtype)), None

    @staticmethod
    def jvp(ctx, t, np_dtype):
        return t.to(_dtype.from_numpy_dtype(np_dtype))


engine.register("cast", Cast)  # the tape's half precision route casts with it (engine._half_apply)


class Copy(Op):
    """self.copy_(src) recorded (PyTorch's CopyBackwards): src's values, cast to self's dtype and
    broadcast to its shape; the gradient is zero for the overwritten self and, for src, the output's
    gradient cast to src's dtype (the tape sums it to src's shape)."""
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, a, s):
        ctx.src_dtype, ctx.out_dtype, ctx.shape = s._data.dtype, a._data.dtype, a._data.shape
        d = s._data
        if d.dtype.kind == "c" and a._data.dtype.kind != "c":
            d = d.real  # the real part, as Cast's
        return np.array(np.broadcast_to(d, a._data.shape), dtype=a._data.dtype, copy=True)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gs = None
        if need[1]:
            gs = g if g._data.dtype == ctx.src_dtype else g.to(_dtype.from_numpy_dtype(ctx.src_dtype))
        return (make(np.zeros(g._data.shape, g._data.dtype)) if need[0] else None), gs

    @staticmethod
    def jvp(ctx, ta, ts):
        if ts is None:
            return make(np.zeros(ctx.shape, ctx.out_dtype))
        return ts if ts._data.dtype == ctx.out_dtype else ts.to(_dtype.from_numpy_dtype(ctx.out_dtype))


Copy._backward_cls.__name__ = Copy._backward_cls.__qualname__ = "CopyBackwards"  # torch's name (no 0)


class Clone(Op):
    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x):
        return np.array(x._data, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        return t


class Index(Op):
    """x[idx]; basic indexing gives a view, advanced indexing a copy."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, idx, basic):
        ctx.in_shape = x._data.shape
        ctx.idx, ctx.basic = idx, basic
        if basic:
            return make_view(basic_view(x._data, idx), x)
        return x._data[idx]

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.idx, ctx.basic, ctx.in_shape), None, None

    @staticmethod
    def jvp(ctx, t, idx, basic):
        return Index.apply(t, idx, basic)


# same linear-op shape as reduction.BroadcastCopy: the maths differ
class IndexAdd(Op):
    """zeros(shape) with g added at idx (repeated indices accumulate, like np.add.at)."""

    @staticmethod
    def forward(ctx, g, idx, basic, shape):
        ctx.idx, ctx.basic = idx, basic
        out = np.zeros(shape, g._data.dtype)
        if basic:
            out[idx] = g._data
        else:
            np.add.at(out, idx, g._data)
        return out

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, ctx.idx, ctx.basic), None, None, None

    @staticmethod
    def jvp(ctx, t, idx, basic, shape):
        return IndexAdd.apply(t, idx, basic, shape)


class IndexPut(Op):
    """out = x with out[idx] = v (out of place; in-place setitem rebases onto this)."""

    @staticmethod
    def forward(ctx, x, v, idx, accumulate):
        ctx.idx, ctx.accumulate = idx, accumulate
        ctx.v_shape, ctx.x_shape = v._data.shape, x._data.shape
        out = np.array(x._data, copy=True)
        if accumulate:
            np.add.at(out, idx, v._data)
        else:
            out[idx] = v._data
        return out

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gx = gv = None
        if need[0]:
            gx = g if ctx.accumulate else IndexPut.apply(g, make(np.zeros((), g._data.dtype)), ctx.idx, False)
        if need[1]:
            gv = g[ctx.idx] if not isinstance(ctx.idx, tuple) else Index.apply(g, ctx.idx, _is_basic(ctx.idx))
        return gx, gv, None, None

    @staticmethod
    def jvp(ctx, tx, tv, idx, accumulate):
        dt = (tx if tx is not None else tv)._data.dtype
        tx = tx if tx is not None else make(np.zeros(ctx.x_shape, dt))
        tv = tv if tv is not None else make(np.zeros(ctx.v_shape, dt))
        return IndexPut.apply(tx, tv, idx, accumulate)


class WithValues(Op):
    """x with its values replaced by values (an array of x's shape and dtype), and x's gradient passed
    on unchanged: a half precision index_reduce's values, which torch rounds after each step
    (fastgrad's float32 scatter_reduce rounds once); PyTorch's `with no_grad(): v.clamp_(min=eps)` on
    a clone, as gaussian_nll_loss and cosine_similarity write it."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, values):
        return values

    @staticmethod
    def backward(ctx, g):
        return g, None

    @staticmethod
    def jvp(ctx, t, values):
        return t


# --------------------------------------------------------------------------- index conversion
def _is_basic(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) and not isinstance(i, bool)
               for i in items)


_SEQ_AS_TUPLE_WARNING = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed in pytorch 2.9; "
    "use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted as tensor index, "
    "x[torch.tensor(seq)], which will result either in an error or a different result")


def _is_sequence(x):
    return isinstance(x, (list, tuple, range, str, bytes, np.ndarray)) or isinstance(x, collections.abc.Sequence)


def _index_items(idx):
    """The per-dimension items of an index, by torch's rule (NumPy's old one): a tuple indexes several
    dims; so does another sequence of fewer than 32 items when one of them is a tensor, a sequence,
    a slice, Ellipsis or None (with torch's deprecation warning); any other sequence is one index."""
    if isinstance(idx, tuple):
        return idx, True
    if isinstance(idx, (TensorBase, np.ndarray, str, bytes)) or not _is_sequence(idx):
        return (idx,), False
    if len(idx) < 32:
        for e in idx:
            if isinstance(e, (TensorBase, slice)) or e is None or e is Ellipsis or _is_sequence(e):
                import warnings

                warnings.warn(_SEQ_AS_TUPLE_WARNING, UserWarning, stacklevel=5)
                return tuple(idx), True
    return (idx,), False


def _sequence_index(seq):
    """torch's indexing tensor from data: a range is an arange, a bool sequence is a mask, and any
    other sequence of numbers becomes int64 (floats truncate, as in torch)."""
    if isinstance(seq, range):
        return np.arange(seq.start, seq.stop, seq.step, dtype=np.int64)
    if isinstance(seq, (str, bytes)):
        raise TypeError("new(): invalid data type 'str'")
    a = np.asarray([_sequence_index(j) if isinstance(j, range) else j._data if isinstance(j, TensorBase)
                    else j for j in seq])
    if a.dtype.kind in "USO":
        raise TypeError("new(): invalid data type '%s'" % ("str" if a.dtype.kind in "US" else "object"))
    return a if a.dtype == np.bool_ else a.astype(np.int64)


def convert_index(idx):
    """Tensors and sequences (lists, ranges, tuples inside the index) become arrays; returns
    (numpy index, is_basic)."""
    items, as_tuple = _index_items(idx)
    out = []
    for i in items:
        if isinstance(i, TensorBase):
            a = i._data
            if a.dtype.kind == "f" or a.dtype is _dtype.BF16:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            out.append(a.item() if a.ndim == 0 and a.dtype != np.bool_ else a)
        elif isinstance(i, (bool, np.bool_)):
            out.append(np.asarray(i))
        elif isinstance(i, (slice, int, np.integer, np.ndarray)) or i is None or i is Ellipsis:
            out.append(i)
        elif _is_sequence(i):
            out.append(_sequence_index(i))
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                "valid indices (got %s)" % type(i).__name__)
    np_idx = tuple(out) if as_tuple or len(out) != 1 else out[0]
    return np_idx, _is_basic(np_idx)


def basic_view(a, idx):
    """a[idx] for a basic index, always a view of a (NumPy gives a copy, a scalar, for an
    index that picks one element: an Ellipsis added keeps it a 0-d view)."""
    r = a[idx]
    if type(r) is not np.ndarray:
        r = a[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
    return r


def getitem(x, idx):
    np_idx, basic = convert_index(idx)
    return _index(x, np_idx, basic)


def _index(x, np_idx, basic):
    if basic and not x._requires_grad and x._fw_grad is None:
        return make_view(basic_view(x._data, np_idx), x)
    return Index.apply(x, np_idx, basic)


def setitem(x, idx, value):
    """x[idx] = value. A basic index writes the view x[idx] (x itself when it takes all of x) by
    copy_ (fill_ for a number or a 0-d tensor), as PyTorch does: recorded, that is CopySlices
    on x's base; an advanced index is index_put_ (IndexPut)."""
    np_idx, basic = convert_index(idx)
    if is_tensor(value):
        v = value if value._data.dtype == x._data.dtype else value.to(x.dtype)
    else:
        v = make(np.asarray(value, dtype=x._data.dtype))
    base = x._base
    grad = engine.is_grad_enabled() and (x._requires_grad or (base is not None and base._requires_grad)
                                         or v._requires_grad)
    fill = not isinstance(value, TensorBase) or value._data.ndim == 0  # (a fill: no overlap check)
    if basic:
        if grad:
            sub = x if _same_array(basic_view(x._data, np_idx), x._data) else _index(x, np_idx, True)
            if fill:
                sub.fill_(v)
            else:
                sub.copy_(value)
            return
        if not fill:
            dst = basic_view(x._data, np_idx)
            V.check_internal_overlap(dst)
            V.check_overlap(dst, (value,))
    else:
        if grad:
            V.check_inplace(x)
        if not fill:
            V.check_overlap(x._data, (value,), full_ok=False)
        if grad:
            _check_expand(x, np_idx, v)
            commit(x, IndexPut.apply(detached_history(x), v, np_idx, False))
            return
    try:
        x._data[np_idx] = v._data
    except ValueError:
        _check_expand(x, np_idx, v)
        raise
    x._vc.value += 1
    if x._fw_grad is not None or v._fw_grad is not None:  # forward AD: the tangent gets the same write
        tan = x._fw_grad.clone() if x._fw_grad is not None else make(np.zeros_like(x._data))
        tan[idx] = v._fw_grad if v._fw_grad is not None else 0.0
        _set_tangent(x, tan)
        V.write_tangent(x, tan)


def _same_array(a, b):
    """Whether arrays a and b are the same elements in the same layout."""
    return (a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _check_expand(x, np_idx, v):
    """torch's error when the value cannot be expanded to the shape of x[idx] (NumPy's otherwise)."""
    vs = v._data.shape
    if not vs:
        return
    target = np.empty(x._data.shape, np.bool_)[np_idx].shape  # a bool scratch copy: cheap
    if len(vs) > len(target):
        return
    for k in range(1, len(vs) + 1):
        if vs[-k] != target[-k] and vs[-k] != 1:
            raise RuntimeError("The expanded size of the tensor (%d) must match the existing size (%d) at "
                               "non-singleton dimension %d.  Target sizes: %s.  Tensor sizes: %s"
                               % (target[-k], vs[-k], len(target) - k, shape_str(target), shape_str(vs)))


# --------------------------------------------------------------------------- in-place support
def check_inplace(x, name=None):
    """PyTorch's rules for in-place ops that autograd records (views: fastgrad._ops.views)."""
    V.check_inplace(x)


def detached_history(x):
    """A new tensor with a copy of x's values and x's place in the graph (x will be overwritten);
    a view's place is brought up to date first (its base may have changed in place since)."""
    engine.view_fresh(x)
    t = make(np.array(x._data, copy=True))
    t._grad_fn, t._output_nr, t._requires_grad = x._grad_fn, x._output_nr, x._requires_grad
    if x._fw_grad is not None:
        _set_tangent(t, x._fw_grad)
    return t


_detached_history = detached_history


def rebase(x, new):
    """Make x hold new's values and history: the in-place op's result."""
    if x._data.shape != new._data.shape:
        raise RuntimeError("output with shape %s doesn't match the broadcast shape %s"
                           % (shape_str(x._data.shape), shape_str(new._data.shape)))
    np.copyto(x._data, new._data, casting="unsafe")
    x._vc.value += 1
    x._grad_fn, x._output_nr = new._grad_fn, new._output_nr
    x._requires_grad = new._requires_grad
    if x._fw_grad is not None or new._fw_grad is not None:
        _set_tangent(x, new._fw_grad)


def commit(x, new):
    """x takes new's values and history: a view through its base (CopySlices), else directly."""
    if x._base is None or not V.commit_view(x, new):
        rebase(x, new)


def _any_requires_grad(items):
    for a in items:
        if isinstance(a, TensorBase) and a._requires_grad:
            return True
    return False


def inplace(x, fn, *args, name="inplace", others=(), full_ok=True, internal_ok=False, overlap=True):
    """Run the out-of-place op fn(x, *args) and write the result into x.

    With no graph to record this is one NumPy pass with out=; otherwise the result and its
    history are moved onto x (PyTorch's semantics for in-place ops on non-leaves; on a view,
    onto its base: commit). The write is checked as PyTorch's kernels check it: x must not
    see one element twice (unless internal_ok: fill_, zero_), and no tensor input (args and
    others) may share part of x's elements (full_ok False: any; overlap False: no check)."""
    base = x._base
    grad = engine.is_grad_enabled() and (
        x._requires_grad or (base is not None and base._requires_grad) or _any_requires_grad(args)
        or (others and _any_requires_grad(others)))
    if grad:
        V.check_inplace(x)
    d = x._data
    if not internal_ok and d.base is not None:  # (an array owning its memory sees each element once)
        V.check_internal_overlap(d)
    if overlap:
        if args and engine.may_alias(d, args, full_ok):
            V.check_overlap(d, args, full_ok)
        if others and engine.may_alias(d, others, full_ok):
            V.check_overlap(d, others, full_ok)
    if grad:
        commit(x, fn(detached_history(x), *args))
    else:
        res = fn(x, *args)
        if res._data.shape != x._data.shape:
            raise RuntimeError("output with shape %s doesn't match the broadcast shape %s"
                               % (shape_str(x._data.shape), shape_str(res._data.shape)))
        xd = x._data.dtype
        np.copyto(x._data, res._data, casting="same_kind" if xd.kind == "f" or xd is _dtype.BF16 else "unsafe")
        x._vc.value += 1
        if x._fw_grad is not None or res._fw_grad is not None:
            _set_tangent(x, res._fw_grad)
            V.write_tangent(x, res._fw_grad)
    return x


# --------------------------------------------------------------------------- public functions
def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return shape if all(type(s) is int for s in shape) else tuple(int(s) for s in shape)


def _sizes_or_keyword(args, value, op, keyword):
    """The sizes of a varargs-size op (view(*shape), zeros(*size), ...) given either as its
    positional arguments or, as torch also accepts, as the keyword (view(size=(2, 3))), which must
    then be a sequence (torch's TypeError otherwise)."""
    if value is None:
        return args
    if args:
        raise TypeError("%s() received an invalid combination of arguments: sizes given both as positional "
                        "arguments and as %s=" % (op, keyword))
    if not isinstance(value, (tuple, list)):
        raise TypeError("%s(): argument '%s' must be tuple of ints, not %s" % (op, keyword, type(value).__name__))
    return (value,)


def _infer_shape(x, shape, name):
    n = x._data.size
    if -1 not in shape and math.prod(shape) == n:
        return shape
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod([s for s in shape if s != -1])
    if -1 in shape:
        if known == 0 or n % known:
            raise RuntimeError("shape '%s' is invalid for input of size %d" % (shape_str(shape), n))
        shape = tuple(n // known if s == -1 else s for s in shape)
    if math.prod(shape) != n:
        raise RuntimeError("shape '%s' is invalid for input of size %d" % (shape_str(shape), n))
    return shape


def reshape(x, *sizes, shape=None):
    shape = _infer_shape(x, _shape_args(_sizes_or_keyword(sizes, shape, "reshape", "shape")), "reshape")
    if shape == x._data.shape:
        return x if not x._requires_grad else Reshape.apply(x, shape)
    return Reshape.apply(x, shape)


def view(x, *shape, size=None, dtype=None):
    if dtype is not None:
        if shape or size is not None:
            raise TypeError("view() received an invalid combination of arguments: a dtype and sizes")
        return view_dtype(x, dtype)
    if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        return view_dtype(x, shape[0])
    shape = _sizes_or_keyword(shape, size, "view", "size")
    shape = _infer_shape(x, _shape_args(shape), "view")
    probe = x._data.view()
    try:
        probe.shape = shape
    except AttributeError:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension "
            "spans across two contiguous subspaces). Use .reshape(...) instead.") from None
    return Reshape.apply(x, shape)


def view_dtype(x, dtype):
    """x.view(dtype): the same memory read as another dtype (torch's rules for different element
    sizes: the last dimension contiguous and scaled, the offset and other strides divisible). Not
    differentiable: the result has no history (torch: grad_fn None), and shares x's version counter."""
    to = _dtype.to_dtype(dtype).np
    a = x._data
    if to.itemsize != a.dtype.itemsize:
        src, dst = scalar_type_name(a.dtype), scalar_type_name(to)
        what = "to view %s as %s (different element sizes)" % (src, dst)
        if a.ndim == 0:
            raise RuntimeError("self.dim() cannot be 0 " + what)
        step = a.strides[-1] // a.dtype.itemsize
        if a.shape[-1] > 1 and step != 1:
            raise RuntimeError("self.stride(-1) must be 1 %s, but got %d" % (what, step))
        if to.itemsize > a.dtype.itemsize:
            ratio = to.itemsize // a.dtype.itemsize
            if a.shape[-1] % ratio:
                raise RuntimeError("self.size(-1) must be divisible by %d %s, but got %d" % (ratio, what, a.shape[-1]))
            if x.storage_offset() % ratio:
                raise RuntimeError("self.storage_offset() must be divisible by %d %s, but got %d"
                                   % (ratio, what, x.storage_offset()))
            for d in range(a.ndim - 1):
                st = a.strides[d] // a.dtype.itemsize
                if st % ratio:
                    raise RuntimeError("self.stride(%d) must be divisible by %d %s, but got %d" % (d, ratio, what, st))
        if a.shape[-1] <= 1 and step != 1:  # NumPy wants a unit last stride even for a length-0/1 axis
            a = np.lib.stride_tricks.as_strided(a, a.shape, a.strides[:-1] + (a.dtype.itemsize,))
    t = make(a.view(to))
    t._vc = x._vc
    return t


def flatten(x, start_dim=0, end_dim=-1):
    nd = x._data.ndim
    if nd == 0:
        return reshape(x, 1)
    s, e = norm_dim(start_dim, nd), norm_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = x._data.shape
    return reshape(x, shp[:s] + (int(np.prod(shp[s:e + 1])),) + shp[e + 1:])


def squeeze(x, dim=None):
    shp = x._data.shape
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {norm_dim(d, len(shp)) for d in dims} if shp else set()
        new = tuple(s for i, s in enumerate(shp) if not (i in axes and s == 1))
    return Reshape.apply(x, new)


def unsqueeze(x, dim):
    shp = x._data.shape
    d = norm_dim(dim, len(shp) + 1)
    return Reshape.apply(x, shp[:d] + (1,) + shp[d:])


def permute(x, *args, dims=None):
    dims = _shape_args(_sizes_or_keyword(args, dims, "permute", "dims"))
    nd = x._data.ndim
    if len(dims) != nd:
        raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does not "
                           "match the length of the desired ordering of dimensions i.e. input.dim() = "
                           "%d is not equal to len(dims) = %d" % (nd, len(dims)))
    axes = tuple(norm_dim(d, nd) for d in dims)
    if len(set(axes)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(x, axes)


def transpose(x, dim0, dim1):
    nd = x._data.ndim
    if nd == 0:
        return x
    a, b = norm_dim(dim0, nd), norm_dim(dim1, nd)
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(x, tuple(axes))


swapdims = transpose


def swapaxes(x, axis0, axis1):
    return transpose(x, axis0, axis1)


def t(x):
    if x._data.ndim > 2:
        raise RuntimeError("t() expects a tensor with <= 2 dimensions, but self is %dD" % x._data.ndim)
    return transpose(x, 0, 1) if x._data.ndim == 2 else x


def expand(x, *sizes, size=None, implicit=False):
    sizes = _shape_args(_sizes_or_keyword(sizes, size, "expand", "size"))
    shp = x._data.shape
    if len(sizes) < len(shp):
        raise RuntimeError(
            "expand(%s{%s}, size=%s): the number of sizes provided (%d) must be greater or equal to "
            "the number of dimensions in the tensor (%d)" % (x.type(), shape_str(shp), shape_str(sizes),
                                                             len(sizes), len(shp)))
    lead = len(sizes) - len(shp)
    target = []
    for i, s in enumerate(sizes):
        cur = shp[i - lead] if i >= lead else 1
        if s == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = cur
        if cur != s and cur != 1:
            raise RuntimeError(
                "The expanded size of the tensor (%d) must match the existing size (%d) at non-singleton "
                "dimension %d.  Target sizes: %s.  Tensor sizes: %s" % (s, cur, i, shape_str(sizes), shape_str(shp)))
        target.append(s)
    target = tuple(target)
    if target == shp:
        return x
    return Expand.apply(x, target)


def broadcast_to(x, shape):
    return expand(x, *shape)


def to_dtype(x, dtype, copy=False):
    d = _dtype.to_dtype(dtype)
    if x._data.dtype == d.np:
        return x.clone() if copy else x
    return Cast.apply(x, d.np)


def clone(x, *, memory_format=None):
    return Clone.apply(x)


def contiguous(x, memory_format=None):
    if x._data.flags.c_contiguous:
        return x
    return Clone.apply(x)


def detach(x):
    t = make(x._data)
    t._vc = x._vc
    return t
