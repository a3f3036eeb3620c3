"""Views written in place (PyTorch's CopySlices), view nodes regenerated after an in-place
change, diagonal as a view, and the memory-overlap checks of in-place writes.

A view (made by engine.make_view) keeps its root base (_base), shares the base's version
counter, and records the version its grad_fn was made at (_view_ver). An in-place op on a
view that autograd records (shape.inplace, shape.setitem):
  1. runs the out-of-place op on the view's values, with the view's history: r = f(v);
  2. writes r into the view's elements, and gives the base a CopySlices node: the gradient
     goes to the base's old history for the elements outside the view, to r for the view's;
  3. the view's grad_fn becomes AsStrided(base): the view's elements of the base's new history.
Any other view of that base sees the version move and regenerates its grad_fn the same way
when it is next used (engine.view_fresh calls refresh below), as PyTorch does.

Where a view's elements sit in its base is read off the two arrays (ViewGeom), so making a
view records nothing beyond make_view's fields.
"""
import numpy as np

from fastgrad._ops.base import Op, TensorBase, engine, make_view, norm_dim, shape_str

_as_strided = np.lib.stride_tricks.as_strided


# --------------------------------------------------------------------------- geometry
class ViewGeom:
    """Where a view's elements sit among its base's elements (C order): element i of the view
    is base element offset + sum(i_k * strides[k]) (strided form, flat None), or flat[i]
    (index form: a base that is not C-contiguous). overlap: some base element is seen twice
    (an expanded view)."""

    __slots__ = ("base_shape", "shape", "strides", "offset", "flat", "overlap")

    def __init__(self, base_shape, shape, strides, offset, flat, overlap):
        self.base_shape = base_shape
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.flat = flat
        self.overlap = overlap

    def take(self, g):
        """The view's elements of array g (of the base's shape): a view of g when it is
        C-contiguous and the geometry strided, else a new array."""
        if self.flat is not None:
            return np.ravel(g)[self.flat]
        g = np.ascontiguousarray(g)
        flat = g.reshape(-1)
        return _as_strided(flat[self.offset:], self.shape, tuple(s * g.itemsize for s in self.strides))

    def fill(self, out, value):
        """Set the view's elements of out (a C-contiguous array of the base's shape we own)."""
        if self.flat is not None:
            out.reshape(-1)[self.flat] = value
        else:
            self.take(out)[...] = value

    def scatter_add(self, g):
        """Zeros of the base's shape with g added at the view's elements (repeats add up)."""
        out = np.zeros(self.base_shape, g.dtype)
        if not self.overlap:
            self.fill(out, g)
        else:
            np.add.at(out.reshape(-1), self.indices(), g)
        return out

    def indices(self):
        """The base's (C-order) index of each view element."""
        if self.flat is not None:
            return self.flat
        n = int(np.prod(self.base_shape))
        idx = np.arange(max(n, 1), dtype=np.intp)
        return _as_strided(idx[self.offset:], self.shape, tuple(s * idx.itemsize for s in self.strides)).copy()


def _extent(shape, strides):
    """(lowest, highest) offset, in elements, that an array of this shape and these element
    strides reaches from its first element."""
    lo = hi = 0
    for n, s in zip(shape, strides):
        if n > 1:
            if s < 0:
                lo += (n - 1) * s
            else:
                hi += (n - 1) * s
    return lo, hi


def _ptr(a):
    return a.__array_interface__["data"][0]


def view_geom(base, view):
    """The ViewGeom of array view over array base (both ndarrays), or None when view does not
    lie in base's elements (base's array was replaced, another dtype)."""
    s = base.itemsize
    if view.dtype != base.dtype:
        return None
    overlap = any(st == 0 and n > 1 for n, st in zip(view.shape, view.strides))
    if view.size == 0 or base.size == 0:
        return ViewGeom(base.shape, view.shape, (0,) * view.ndim, 0, None, False)
    d = _ptr(view) - _ptr(base)
    if d % s or any(st % s for st in view.strides):
        return None
    vst = tuple(st // s for st in view.strides)
    if base.flags.c_contiguous:
        off = d // s
        lo, hi = _extent(view.shape, vst)
        if off + lo < 0 or off + hi >= base.size:
            return None
        return ViewGeom(base.shape, view.shape, vst, off, None, overlap)
    # any other layout: number the base's elements in its own memory, read the view's numbers
    if any(st % s for st in base.strides):
        return None
    bst = tuple(st // s for st in base.strides)
    blo, bhi = _extent(base.shape, bst)
    buf = np.full(bhi - blo + 1, -1, np.intp)
    w = buf.itemsize
    _as_strided(buf[-blo:], base.shape, tuple(st * w for st in bst))[...] = (
        np.arange(base.size, dtype=np.intp).reshape(base.shape))
    start = d // s - blo
    lo, hi = _extent(view.shape, vst)
    if start + lo < 0 or start + hi >= len(buf):
        return None
    flat = _as_strided(buf[start:], view.shape, tuple(st * w for st in vst)).copy()
    if flat.min() < 0:
        return None
    return ViewGeom(base.shape, view.shape, None, None, flat, overlap)


# --------------------------------------------------------------------------- ops
class AsStrided(Op):
    """A view's elements of its base (PyTorch's AsStridedBackward0): the grad_fn of a view
    whose base was changed in place. data, when given, is the view's own array (the node is
    made for its history: refresh)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, base, geom, data=None):
        ctx.geom = geom
        return data if data is not None else geom.take(base._data)

    @staticmethod
    def backward(ctx, g):
        return AsStridedScatter.apply(g, ctx.geom), None, None

    @staticmethod
    def jvp(ctx, t, geom, data=None):
        return AsStrided.apply(t, geom)


# the adjoint of AsStrided above (same shape as spatial.Col2Im): the maths differ
class AsStridedScatter(Op):
    """Zeros of the base's shape with g added at a view's elements (AsStrided's adjoint)."""

    @staticmethod
    def forward(ctx, g, geom):
        ctx.geom = geom
        return geom.scatter_add(g._data)

    @staticmethod
    def backward(ctx, gg):
        return AsStrided.apply(gg, ctx.geom), None

    @staticmethod
    def jvp(ctx, t, geom):
        return AsStridedScatter.apply(t, geom)


# same linear-op shape as complex.MaskZero and fft.Resize: the maths differ
class ViewFill(Op):
    """g with a view's elements set to zero: the gradient CopySlices sends to the base's old
    history (those elements were overwritten). Its own adjoint."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, g, geom):
        ctx.geom = geom
        out = np.array(g._data, order="C", copy=True)
        geom.fill(out, 0)
        return out

    @staticmethod
    def backward(ctx, gg):
        return ViewFill.apply(gg, ctx.geom), None

    @staticmethod
    def jvp(ctx, t, geom):
        return ViewFill.apply(t, geom)


class CopySlices(Op):
    """The base after an in-place op on its view: src (the op's result, of the view's shape)
    written into the view's elements (dst: the view's array, a part of base's) in place.
    Gradient: to the base's old history outside the view, to src inside it (PyTorch's
    CopySlices node, which wraps the op's node; here src's own node is the op's)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, base, src, geom, dst):
        ctx.geom = geom
        np.copyto(dst, src._data, casting="unsafe")
        return base._data

    @staticmethod
    def backward(ctx, g):
        if ctx.geom.overlap:  # (PyTorch's CopySlices writes the view's gradient into it)
            raise RuntimeError(_INTERNAL_MSG)
        return ViewFill.apply(g, ctx.geom), AsStrided.apply(g, ctx.geom), None, None

    @staticmethod
    def jvp(ctx, tb, ts, geom, dst):
        out = None if tb is None else ViewFill.apply(tb, geom)
        if ts is not None:
            if ts._data.shape != geom.shape:
                ts = ts.expand(*geom.shape)
            s = AsStridedScatter.apply(ts, geom)
            out = s if out is None else out + s
        return out


CopySlices._backward_cls.__name__ = CopySlices._backward_cls.__qualname__ = "CopySlices"


def _diagonal_view(a, offset, d1, d2):
    """np.diagonal(a, offset, d1, d2) as a writable view of a."""
    n, m = a.shape[d1], a.shape[d2]
    r0, c0 = max(-offset, 0), max(offset, 0)
    k = max(min(n - r0, m - c0), 0)
    keep = [i for i in range(a.ndim) if i not in (d1, d2)]
    shape = tuple(a.shape[i] for i in keep) + (k,)
    strides = tuple(a.strides[i] for i in keep) + (a.strides[d1] + a.strides[d2],)
    if k == 0:
        return np.empty(shape, a.dtype)[...]  # (no element: nothing to share)
    start = [slice(None)] * a.ndim
    start[d1] = slice(r0, None)
    start[d2] = slice(c0, None)
    return _as_strided(a[tuple(start)], shape, strides)


class Diagonal(Op):
    """x.diagonal(offset, dim1, dim2): a view of x (the diagonal as the last dim)."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        ctx.in_shape, ctx.args = x._data.shape, (offset, d1, d2)
        d = _diagonal_view(x._data, offset, d1, d2)
        return make_view(d, x) if d.size else d

    @staticmethod
    def backward(ctx, g):
        return DiagonalBackward.apply(g, ctx.in_shape, *ctx.args), None, None, None

    @staticmethod
    def jvp(ctx, t, offset, d1, d2):
        return Diagonal.apply(t, offset, d1, d2)


class DiagonalBackward(Op):
    """Zeros of shape with g on the (offset, d1, d2) diagonal: Diagonal's adjoint."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, g, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        out = np.zeros(shape, g._data.dtype)
        _diagonal_view(out, offset, d1, d2)[...] = g._data
        return out

    @staticmethod
    def backward(ctx, gg):
        return (Diagonal.apply(gg, *ctx.args),) + (None,) * 4

    @staticmethod
    def jvp(ctx, t, shape, offset, d1, d2):
        return DiagonalBackward.apply(t, shape, offset, d1, d2)


def diagonal(input, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = norm_dim(dim1, nd), norm_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError("diagonal dimensions cannot be identical %d, %d" % (dim1, dim2))
    return Diagonal.apply(input, int(offset), d1, d2)


# --------------------------------------------------------------------------- in-place on views
_NO_GRAD_TAIL = (" Given that this use case is ambiguous and error-prone, it is forbidden. You can "
                 "clarify your code by moving both the view and the inplace either both inside the "
                 "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
                 "want the inplace to be tracked).")
_MULTI_TAIL = (" This view is the output of a function that returns multiple views. Such functions do "
               "not allow the output views to be modified inplace. You should replace the inplace "
               "operation by an out-of-place one.")


def _meta_msg(t, meta, indirect):
    """PyTorch's error for an in-place change of a view whose creation forbids it."""
    kind, name, nr = meta
    fn = t._grad_fn
    if name is None and fn is not None:
        name, nr = fn.name(), t._output_nr
    modified = "its base or another view of its base has been" if indirect else "is being"
    if kind == engine.VIEW_NO_GRAD or fn is None:
        prefix = ("Output %d of %s is a view of a view which was created in" % (nr, name)
                  if fn is not None else "A view was created in")
        msg = "%s no_grad mode and %s modified inplace with grad mode enabled." % (prefix, modified)
    else:
        msg = "Output %d of %s is a view and %s modified inplace." % (nr, name, modified)
    return msg + (_MULTI_TAIL if kind == engine.VIEW_MULTI else _NO_GRAD_TAIL)


def mark_multi_output(outs, name):
    """unbind, split, chunk: their outputs are views that in-place ops may not change."""
    if engine.is_grad_enabled():
        for i, t in enumerate(outs):
            if t._base is not None:
                t._view_meta = (engine.VIEW_MULTI, name, i)
    return outs


def is_view(x):
    """Whether x is a view of another tensor's elements (its base)."""
    return x._base is not None


def view_requires_grad(x):
    """PyTorch's requires_grad of a tensor about to be written in place: a view's counts its base's."""
    return x._requires_grad or (x._base is not None and x._base._requires_grad)


def check_inplace(x):
    """PyTorch's checks before autograd records an in-place op on x."""
    base = x._base
    if base is not None:
        meta = x._view_meta
        if meta is not None:
            raise RuntimeError(_meta_msg(x, meta, False))
        if base._grad_fn is None and view_requires_grad(x):  # (the base need not require grad)
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if x._grad_fn is None and x._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def refresh(t):
    """engine.view_fresh's work: view t's base (or another view of it) changed in place since
    t's grad_fn was made, so t's grad_fn becomes AsStrided on the base's history now."""
    base = t._base
    ver = t._vc.value
    if t._grad_fn is None and not base._requires_grad:
        t._view_ver = ver
        return
    meta = t._view_meta
    if meta is not None:
        raise RuntimeError(_meta_msg(t, meta, True))
    geom = view_geom(base._data, t._data)
    if geom is None:  # no longer over its base's elements (the base's array was replaced)
        t._view_ver = ver
        return
    st = engine.state()
    prev = st.grad_enabled
    st.grad_enabled = True  # (the node is made in no_grad mode too, as PyTorch's)
    try:
        node = AsStrided.apply(base, geom, t._data)._grad_fn
    finally:
        st.grad_enabled = prev
    t._grad_fn = node
    t._output_nr = 0
    t._requires_grad = node is not None
    t._view_ver = ver


engine.register("view_refresh", refresh)


def commit_view(x, new):
    """Write new (the result of an in-place op on view x, with its history) into x: x's base
    gets a CopySlices node, x an AsStrided one. False when x is not over its base's elements
    any more (the caller then treats x as a tensor of its own)."""
    base = x._base
    geom = view_geom(base._data, x._data)
    if geom is None:
        return False
    if new._data.shape != x._data.shape:
        raise RuntimeError("output with shape %s doesn't match the broadcast shape %s"
                           % (shape_str(x._data.shape), shape_str(new._data.shape)))
    out = CopySlices.apply(base, new, geom, x._data)
    base._vc.value += 1
    base._grad_fn = out._grad_fn
    base._output_nr = 0
    base._requires_grad = out._requires_grad
    if out._fw_grad is not None or new._fw_grad is not None:
        from fastgrad.autograd.forward_ad import _set_tangent

        _set_tangent(base, out._fw_grad)
        _set_tangent(x, new._fw_grad)
    engine.view_fresh(x)
    return True


def write_tangent(x, tan):
    """Forward AD, an in-place op nothing records: view x took tangent tan (None: zero), so
    its base's tangent takes it at the view's elements."""
    base = x._base
    geom = None if base is None else view_geom(base._data, x._data)
    if geom is None:
        return
    from fastgrad.autograd.forward_ad import _set_tangent

    bt = base._fw_grad
    new = np.zeros(base._data.shape, base._data.dtype) if bt is None else np.array(bt._data, order="C", copy=True)
    geom.fill(new, 0 if tan is None else np.broadcast_to(tan._data, geom.shape))
    _set_tangent(base, engine.make_tensor(new))


# --------------------------------------------------------------------------- memory overlap
_INTERNAL_MSG = ("unsupported operation: more than one element of the written-to tensor refers to a "
                 "single memory location. Please clone() the tensor before performing the operation.")
_PARTIAL_MSG = ("unsupported operation: some elements of the input tensor and the written-to tensor "
                "refer to a single memory location. Please clone() the tensor before performing the "
                "operation.")
NO, FULL, PARTIAL, TOO_HARD = 0, 1, 2, 3


def _dense(a):
    """PyTorch's is_non_overlapping_and_dense on an array: its elements fill one block of memory."""
    dims = sorted((st, n) for n, st in zip(a.shape, a.strides) if n > 1)
    need = a.itemsize
    for st, n in dims:
        if st != need:
            return False
        need *= n
    return True


def overlap_status(a, b):
    """PyTorch's get_overlap_status of arrays a and b: NO, FULL (same elements, same strides),
    PARTIAL, or TOO_HARD (either is not dense: not decided, no error)."""
    if a.size == 0 or b.size == 0:
        return NO
    if not _dense(a) or not _dense(b):
        return TOO_HARD
    pa, pb = _ptr(a), _ptr(b)
    ea, eb = pa + a.size * a.itemsize, pb + b.size * b.itemsize
    if pa == pb and ea == eb:
        return FULL if a.strides == b.strides else PARTIAL
    if pa < eb and pb < ea:
        return PARTIAL
    return NO


def check_internal_overlap(d):
    """The written-to array d must not see one element twice (an expanded view)."""
    if not d.flags.c_contiguous:
        for n, st in zip(d.shape, d.strides):
            if st == 0 and n > 1:
                raise RuntimeError(_INTERNAL_MSG)


def check_overlap(d, others, full_ok=True):
    """No input of an in-place write into array d may share some, but not all, of its elements
    (full_ok False: nor all of them), as PyTorch's TensorIterator (index ops) checks. Cheap
    when nothing is shared: two arrays that own their memory are told apart without a call,
    np.may_share_memory compares bounds, and only then are the layouts compared."""
    owner = d.base is None
    for a in others:
        if not isinstance(a, TensorBase):
            continue
        ad = a._data
        if ad is d:
            if full_ok:
                continue
            raise RuntimeError(_PARTIAL_MSG)
        if owner and ad.base is None:
            continue
        if np.may_share_memory(d, ad):
            st = overlap_status(d, ad)
            if st == PARTIAL or (st == FULL and not full_ok):
                raise RuntimeError(_PARTIAL_MSG)
