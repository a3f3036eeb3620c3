"""NestedTensor: a batch of tensors of different lengths (torch's nested tensors, strided and jagged layouts).

The representation is the list of component tensors (``unbind()`` gives them as views), each an ordinary
fastgrad Tensor with its own autograd history; every op on a nested tensor runs the fastgrad op on each
component, so gradients flow back to the components (and to whatever they were built from) through the
existing ops. The jagged layout's ``values()`` (the components concatenated along the ragged dimension) and
``offsets()`` are derived from the components, or are the buffer the nested tensor was built on
(``nested_tensor_from_jagged``, ``narrow``, ``masked_select``).

A NestedTensor has no dense array: its ``_data`` is a placeholder that raises, so a fastgrad op without a
nested implementation fails instead of computing on nothing (its dtype is object's, so the compiled fast
paths hand it to the Python ops). The ops torch supports are methods here and, for the free functions
(``F.linear``, ``F.softmax``, ``F.scaled_dot_product_attention``, ``torch.matmul``, ``torch.bmm``,
``torch.add``/``mul``/..., ``torch.tanh``/``exp``/... (fastgrad._ops.elementwise._unary), ``torch.abs``,
``clamp``, ``where``, ``cat``, ``chunk``, ``split``, ``sum``, ``mean``, ``pow``, ``*_like``, ``F.relu``,
``gelu``, ``silu``, ``leaky_relu``, ``elu``, ``softplus``, ``hardtanh``, ``relu6``, ``mish``, ``layer_norm``,
``rms_norm``, ``dropout``), a check of ``input.is_nested`` at their top that hands over to
fastgrad.nested._ops, which raises torch's errors where its layout has no kernel.

A jagged tensor with holes (lengths as well as offsets, from nested_tensor_from_jagged or narrow) keeps
them through the ops that do not mix the ragged dim (_vmap: the op on the values buffer), as torch's.
"""
import itertools
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._tensor import Tensor
from fastgrad._types import CPU, Size
from fastgrad.sparse import _Layout, strided

jagged = _Layout("jagged")

_SIZES_ERROR = "Internal error: NestedTensorImpl doesn't support sizes. Please file an issue."


def not_implemented(op):
    """torch's error for an ATen op without a nested-tensor kernel."""
    return NotImplementedError(
        "Could not run 'aten::%s' with arguments from the 'NestedTensorCPU' backend. This could be because the "
        "operator doesn't exist for this backend, or was omitted during the selective/custom build process (if "
        "using custom build)." % op)


class _NoDense:
    """A nested tensor's _data: any use by a dense op raises."""

    __slots__ = ()
    dtype = np.dtype(object)  # (no float dtype: the compiled fast paths hand a nested tensor to the Python ops)

    def __getattr__(self, name):
        raise NotImplementedError("Could not run this operator with arguments from the 'NestedTensorCPU' backend "
                                  "(a nested tensor has no dense array; see fastgrad.nested.to_padded_tensor and "
                                  "NestedTensor.unbind)")

    def __repr__(self):
        return "<nested: no dense array>"


_NO_DENSE = _NoDense()
_ids = itertools.count(1)


class NestedInt:
    """The symbolic size of a jagged dimension (torch's j1, j2, ...): equal only to itself."""

    __slots__ = ("id",)

    def __init__(self):
        self.id = next(_ids)

    def __repr__(self):
        return "j%d" % self.id

    __str__ = __repr__


def _norm(dim, ndim):
    if not -ndim <= dim < ndim:
        raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got %d)"
                         % (-ndim, ndim - 1, dim))
    return dim % ndim


class NestedTensor(Tensor):
    """A nested tensor (torch's NestedTensor; type(nt) is a Tensor subclass here, torch's is Tensor)."""

    is_nested = True

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _new(comps, layout, dtype=None, ragged=None, j=None, values=None, offsets=None, lengths=None):
        """The nested tensor of the component tensors comps (kept as given).

        Jagged: ragged is the ragged dim (in nested dims, >= 1), j its NestedInt (shared by nested tensors
        of the same structure), values/offsets/lengths the buffer and metadata it was built on, if any."""
        t = engine.TensorBase.__new__(NestedTensor)
        t._data = _NO_DENSE
        t._vc = engine.Version()
        t.__dict__.update(_comps=list(comps), _layout=layout,
                          _dt=dtype if dtype is not None or not comps else comps[0].dtype,
                          _ragged=ragged, _j=j if j is not None or layout != jagged else NestedInt(),
                          _vals=values, _offs=offsets, _lens=lengths)
        return t

    def _like(self, comps, ragged=None):
        """A nested tensor of the same layout and structure as self holding comps."""
        return NestedTensor._new(comps, self._layout, None if comps else self._dt,
                                 self._ragged if ragged is None else ragged, self._j)

    def _map(self, fn):
        return self._like([fn(c) for c in self._comps])

    @property
    def _holes(self):
        """A jagged tensor with lengths (torch's 'with holes'): its components are pieces of the
        values buffer (_vals) at _offs, of _lens; ops keep that structure as torch's do."""
        return self._lens is not None and self._vals is not None

    def _vmap(self, fn, ragged=None):
        """fn of every component, for an fn that keeps the ragged dim's positions apart (pointwise
        ops, ops over other dims): a tensor with holes applies it to its values buffer once and
        keeps offsets and lengths (torch's result); others map the components (_like)."""
        if not self._holes:
            return self._like([fn(c) for c in self._comps], ragged)
        return self._on_values(fn(self._vals), ragged)

    def _on_values(self, vals, ragged=None):
        """The tensor of self's offsets and lengths (and structure) on the buffer vals."""
        from fastgrad._ops import indexing as _I
        r = self._ragged if ragged is None else ragged
        offs, lens = self._offs.tolist(), self._lens.tolist()
        comps = [_I.narrow(vals, r - 1, int(o), int(n)) for o, n in zip(offs, lens)]
        return NestedTensor._new(comps, jagged, vals.dtype, r, self._j, vals, self._offs, self._lens)

    # ------------------------------------------------------------------ metadata
    layout = property(lambda self: self._layout)
    dtype = property(lambda self: self._dt)
    device = property(lambda self: CPU)
    is_sparse = False

    @property
    def _ragged_idx(self):
        if self._layout != jagged:
            raise AttributeError("'Tensor' object has no attribute '_ragged_idx'")
        return self._ragged

    def dim(self):
        return (self._comps[0].dim() if self._comps else 0) + 1

    ndimension = dim
    ndim = property(dim)

    def _sizes(self):
        """The sizes, None where the components differ (the batch size first)."""
        out = [len(self._comps)]
        for d in range(self.dim() - 1):
            s = {c.shape[d] for c in self._comps}
            out.append(s.pop() if len(s) == 1 else None)
        return out

    def size(self, dim=None):
        if self._layout == jagged:
            sizes = self._sizes()
            sizes[self._ragged] = self._j
            return Size(sizes) if dim is None else sizes[_norm(dim, len(sizes))]
        if dim is None:
            raise RuntimeError(_SIZES_ERROR)
        sizes = self._sizes()
        d = _norm(dim, len(sizes))
        if sizes[d] is None:
            raise RuntimeError("Given dimension %d is irregular and does not have a size." % d)
        return sizes[d]

    shape = property(lambda self: self.size())

    def __len__(self):
        if self._layout != jagged:
            raise RuntimeError(_SIZES_ERROR)
        return len(self._comps)

    def numel(self):
        return sum(c.numel() for c in self._comps)

    nelement = numel

    def element_size(self):
        return _dtype.to_dtype(self._dt).itemsize

    def is_floating_point(self):
        return self._dt.is_floating_point

    def is_contiguous(self, memory_format=None):
        if self._lens is not None:
            return False
        return all(c.is_contiguous() for c in self._comps)

    def contiguous(self, memory_format=None):
        if self._lens is not None:  # torch packs the components: new offsets, no lengths
            return NestedTensor._new([c.contiguous() for c in self._comps], jagged, self._dt, self._ragged)
        return self if self.is_contiguous() else self._map(lambda c: c.contiguous())

    def stride(self, dim=None):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support strides. Please file an issue.")

    # ------------------------------------------------------------------ jagged metadata
    def _jagged_only(self, name):
        if self._layout != jagged:
            raise AttributeError("'Tensor' object has no attribute '%s'" % name)

    def offsets(self):
        self._jagged_only("offsets")
        if self._offs is not None:
            return self._offs
        from fastgrad import tensor
        lens = [c.shape[self._ragged - 1] for c in self._comps]
        return tensor([0] + list(itertools.accumulate(lens)), dtype=_dtype.int64)

    def lengths(self):
        self._jagged_only("lengths")
        return self._lens

    def values(self):
        """Jagged: the components concatenated along the ragged dim (the buffer the tensor was built on, if
        any). Strided: all elements, flat (torch's buffer)."""
        from fastgrad import cat
        if self._layout != jagged:
            return cat([c.reshape(-1) for c in self._comps]) if self._comps else self._empty(0)
        if self._vals is not None:
            return self._vals.view(self._vals.shape)
        return cat(self._comps, self._ragged - 1)

    def _empty(self, *shape):
        from fastgrad import zeros
        return zeros(*shape, dtype=self._dt)

    # ------------------------------------------------------------------ components
    def unbind(self, dim=0):
        if dim != 0:
            if self._layout == jagged:
                raise RuntimeError("unbind(): only supported for NestedTensor on dim=0")
            raise RuntimeError("NestedTensor can only be unbound along dimension 0 got dimension %d instead." % dim)
        return tuple(c.view(c.shape) for c in self._comps)

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            c = self._comps[_norm(int(index), len(self._comps))]
            return c.view(c.shape)
        raise not_implemented("slice.Tensor")

    def __iter__(self):
        return iter(self.unbind())

    def narrow(self, dim, start, length):
        if dim != 0:
            raise RuntimeError("narrow(): only dim=0 supported for nested tensors, but got: %d" % dim)
        return self._like(self._comps[start:start + length])

    # ------------------------------------------------------------------ autograd
    @property
    def requires_grad(self):
        return any(c.requires_grad for c in self._comps)

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        for c in self._comps:
            c.requires_grad_(requires_grad)
        return self

    @property
    def is_leaf(self):
        return all(c.is_leaf for c in self._comps)

    @property
    def grad_fn(self):
        """The first component's grad_fn (each component has its own history)."""
        return next((c.grad_fn for c in self._comps if c.grad_fn is not None), None)

    @property
    def grad(self):
        gs = [c.grad for c in self._comps]
        if all(g is None for g in gs):
            return None
        return self._like([g if g is not None else c.detach() * 0 for g, c in zip(gs, self._comps)])

    @grad.setter
    def grad(self, value):
        for i, c in enumerate(self._comps):
            c.grad = None if value is None else value._comps[i]

    def retain_grad(self):
        for c in self._comps:
            c.retain_grad()

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from fastgrad import autograd
        if gradient is None:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        if not getattr(gradient, "is_nested", False) or len(gradient._comps) != len(self._comps):
            raise RuntimeError("Mismatch in shape: grad_output[0] has a shape of %s and output[0] has a shape "
                               "of %s." % (_shape_str(gradient), _shape_str(self)))
        outs = [(c, g) for c, g in zip(self._comps, gradient._comps) if c.requires_grad]
        if not outs:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
        autograd.backward([c for c, _ in outs], [g for _, g in outs], retain_graph, create_graph, inputs=inputs)

    def detach(self):
        return self._vmap(lambda c: c.detach())

    def clone(self, *, memory_format=None):
        return self._vmap(lambda c: c.clone())

    # ------------------------------------------------------------------ conversion
    def to(self, *args, **kwargs):
        return self._vmap(lambda c: c.to(*args, **kwargs))

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def bfloat16(self):
        return self.to(_dtype.bfloat16)

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return "fastgrad." + {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                                  "int32": "Int", "bool": "Bool"}.get(_dtype.to_dtype(self._dt).name, "") + "Tensor"
        return self.to(dtype)

    # ------------------------------------------------------------------ printing
    def __repr__(self, *, tensor_contents=None):
        if self._layout == jagged:
            sz = "(%s)" % ", ".join(str(s) for s in self.size())
            extra = ", requires_grad=True" if self.requires_grad and self.is_leaf else ""
            return "NestedTensor(size=%s, offsets=%r%s, contiguous=%s)" % (sz, self.offsets(), extra,
                                                                         self.is_contiguous())
        body = ",\n".join("  " + repr(c).replace("\n", "\n  ") for c in self._comps)
        rg = ", requires_grad=True" if self.requires_grad and self.is_leaf else ""
        return "nested_tensor([\n%s\n]%s)" % (body, rg) if self._comps else "nested_tensor([\n\n])"

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._comps, str(self._layout), self._ragged))

    def __deepcopy__(self, memo):
        import copy
        return self._like([copy.deepcopy(c, memo) for c in self._comps])


def _rebuild(comps, layout, ragged):
    return NestedTensor._new(comps, jagged if layout == "jagged" else strided, ragged=ragged)


def _shape_str(t):
    if getattr(t, "is_nested", False):
        try:
            return "%s" % (t.size(),)
        except RuntimeError:
            return "(nested)"
    return "%s" % (getattr(t, "shape", None),)

