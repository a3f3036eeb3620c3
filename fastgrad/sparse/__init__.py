"""Sparse COO tensors (torch.sparse_coo_tensor, Tensor.to_sparse, torch.sparse.mm) over dense storage.

A sparse tensor here is a Tensor whose array is the dense equivalent (zeros outside the pattern) and
which also keeps its pattern: ``indices`` (sparse_dim x nnz, int64, possibly with repeats until
coalesced) and, while uncoalesced, the values it was built from. Every result equals PyTorch's and
gradients flow as PyTorch's do, composed from dense ops:

- building one scatters the values (IndexAdd: repeated indices add up), so the values get the
  gradient gathered at their indices;
- ``to_dense()`` and ``torch.sparse.mm`` see the tensor through its pattern (a multiply by the 0/1
  mask), so a sparse leaf's gradient is zero off the pattern and its ``.grad`` is a sparse tensor,
  as PyTorch's; ``torch.mm`` / ``torch.spmm`` / ``@`` use the plain storage and give a dense
  gradient, again as PyTorch's;
- ``values()`` and ``coalesce()`` gather from the storage.

Ops other than these see a dense tensor and return dense results (PyTorch would keep some sparse).
"""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import elementwise as _E
from fastgrad._ops import linalg as _L
from fastgrad._ops import shape as _S
from fastgrad._tensor import Tensor
from fastgrad._tensor_str import format_data

__all__ = ["addmm", "mm", "sum"]

make = engine.make_tensor


class _Layout(str):
    """A layout (torch.strided, torch.sparse_coo); equal to its name, as Tensor.layout is."""

    def __repr__(self):
        return "fastgrad." + str.__str__(self)

    __str__ = __repr__


strided = _Layout("strided")
sparse_coo = _Layout("sparse_coo")


class SparseCOOTensor(Tensor):
    """A Tensor with layout sparse_coo (type(t) is a Tensor subclass here; PyTorch's is Tensor)."""

    is_sparse = True
    layout = sparse_coo

    # ---------------------------------------------------------------- structure
    def sparse_dim(self):
        return int(self._sp_idx.shape[0])

    def dense_dim(self):
        return self._data.ndim - self._sp_idx.shape[0]

    def _nnz(self):
        return int(self._sp_idx.shape[1])

    def is_coalesced(self):
        return self._sp_coal

    def _indices(self):
        return make(self._sp_idx.copy())

    def indices(self):
        if not self._sp_coal:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._indices()

    def _values(self):
        """The stored values, without autograd history (PyTorch's _values() does not support backward)."""
        if self._sp_coal:
            return _gather(self, self._sp_idx).detach()
        return self._sp_vals.detach()

    def values(self):
        if not self._sp_coal:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return _gather(self, self._sp_idx)

    def coalesce(self):
        """Repeated indices summed, indices sorted (a new tensor; self when already coalesced)."""
        if self._sp_coal:
            return self
        idx = _unique_pattern(self._sp_idx, self._data.shape)
        return _build(idx, _gather(self, idx), self._data.shape, True)

    def to_dense(self, dtype=None, *, masked_grad=None):
        out = _masked(self)
        return out if dtype is None else out.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        return self

    def t(self):
        sd, dd = self.sparse_dim(), self.dense_dim()
        if sd > 2 or dd:
            raise RuntimeError("t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got %d sparse "
                               "and %d dense dimensions" % (sd, dd))
        if sd < 2:
            return self
        out = _S.t(self)  # the storage transposed (differentiable); the pattern's rows swapped
        raw = self._values()
        return _wrap(out, self._sp_idx[::-1].copy(), raw, self._nnz() < 2)

    def requires_grad_(self, requires_grad=True):
        Tensor.requires_grad_(self, requires_grad)
        if requires_grad and self._grad_fn is None:
            _sparse_grad_hook(self)
        return self

    # ---------------------------------------------------------------- printing (PyTorch's layout)
    def __repr__(self, *, tensor_contents=None):
        indent = 7
        ip, vp = "indices=tensor(", "values=tensor("
        istr = _inner(self._sp_idx, indent + len(ip))
        vstr = _inner(self._values()._data, indent + len(vp))
        body = "tensor(" + ip + istr + "),\n" + " " * indent + vp + vstr + ")"
        suffixes = ["size=" + str(tuple(self._data.shape)), "nnz=%d" % self._nnz()]
        if not _default_dtype(self._data.dtype):
            suffixes.append("dtype=%r" % _dtype.from_numpy_dtype(self._data.dtype))
        suffixes.append("layout=%r" % sparse_coo)
        if self._grad_fn is not None:
            suffixes.append("grad_fn=<%s>" % self._grad_fn.name())
        elif self._requires_grad:
            suffixes.append("requires_grad=True")
        return _add_suffixes(body, suffixes, indent, True)


def _inner(a, indent):
    s = format_data(a, " " * indent)
    if a.size == 0:
        s += ", size=" + str(tuple(a.shape))
    return s


def _default_dtype(d):
    return d in (_dtype.get_default_dtype().np, np.dtype(np.int64), np.dtype(np.bool_))


def _add_suffixes(tensor_str, suffixes, indent, force_newline):
    """torch._tensor_str._add_suffixes."""
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line_len + len(suffix) + 2 > 80:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
            force_newline = False
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _gather(t, idx):
    """t's entries (slabs) at the columns of idx, stacked: differentiable (a gather from the storage)."""
    if idx.shape[0] == 0:
        return _S.reshape(t, (1,) + t._data.shape)
    return _S.Index.apply(t, tuple(idx), False)


def _unique_pattern(idx, shape):
    """The sorted distinct columns of idx (sparse_dim x nnz) within shape's leading sparse_dim sizes."""
    sd = idx.shape[0]
    if idx.shape[1] == 0 or sd == 0:
        return idx[:, :min(idx.shape[1], 1)].copy()
    lin = np.unique(np.ravel_multi_index(tuple(idx), shape[:sd]))
    return np.array(np.unravel_index(lin, shape[:sd]), dtype=np.int64).reshape(sd, -1)


def _wrap(t, idx, vals, coalesced):
    """Turn the tensor t (its array: the dense equivalent) into a sparse tensor with pattern idx."""
    t.__class__ = SparseCOOTensor
    t.__dict__.update(_sp_idx=idx, _sp_vals=None if coalesced else vals, _sp_coal=coalesced)
    return t


def _build(idx, values, shape, coalesced):
    """The sparse tensor with indices idx (int64 array) and values (a tensor: its history is kept)."""
    if idx.shape[0] == 0:  # no sparse dims: the values add up into the one dense block
        from fastgrad._ops import reduction as _R

        return _wrap(_R.sum(values, 0), idx, values, coalesced)
    return _wrap(_S.IndexAdd.apply(values, tuple(idx), False, tuple(shape)), idx, values, coalesced)


def _mask(t):
    sd = t._sp_idx.shape[0]
    m = np.zeros(t._data.shape[:sd], t._data.dtype)
    m[tuple(t._sp_idx)] = 1
    return m.reshape(m.shape + (1,) * (t._data.ndim - sd))


def _masked(t):
    """t as a dense tensor seen through its pattern: its gradient is zero off the pattern."""
    if t._requires_grad or t._fw_grad is not None:
        return _E.mul(t, make(_mask(t)))
    return make(np.array(t._data, copy=True))


def _sparse_grad_hook(leaf):
    """A sparse leaf's .grad becomes a sparse tensor with the leaf's (coalesced) pattern when it is
    zero off that pattern (to_dense, sparse.mm, values); a dense gradient (torch.mm) stays dense."""
    if leaf.__dict__.get("_sp_hooked"):
        return
    leaf.__dict__["_sp_hooked"] = True

    def hook(t):
        g = t._grad
        if g is None or g.is_sparse or g._data.shape != t._data.shape:
            return
        if np.any(g._data * (_mask(t) == 0)):
            return
        t._grad = _wrap(g, _unique_pattern(t._sp_idx, t._data.shape), None, True)

    leaf.register_post_accumulate_grad_hook(hook)


# -------------------------------------------------------------------- constructors
def _index_array(indices):
    if isinstance(indices, engine.TensorBase):
        return np.array(indices._data, dtype=np.int64)
    return np.array(indices._data if isinstance(indices, engine.TensorBase) else
                    [i._data if isinstance(i, engine.TensorBase) else i for i in indices]
                    if isinstance(indices, (list, tuple)) else indices, dtype=np.int64)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """torch.sparse_coo_tensor: indices (sparse_dim x nnz) and values (nnz x dense sizes). The
    indices are always checked against size (the storage here is dense)."""
    from fastgrad._creation import tensor as _tensor
    from fastgrad._tensor import check_device

    check_device(device)
    idx = _index_array(indices)
    if isinstance(values, engine.TensorBase):
        vals = values if dtype is None or values.dtype == _dtype.to_dtype(dtype) else values.to(dtype)
    else:
        vals = _tensor(values, dtype=dtype)
    if vals._data.ndim == 0:
        raise RuntimeError("values has incorrect size, expected [nnz, ...], got a 0-dim tensor")
    sd = idx.shape[0] if idx.ndim else 0
    dd = vals._data.ndim - 1
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != sd + dd:
            raise RuntimeError("'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = %d, "
                               "sparse_dim = %d, dense_dim = %d" % (len(size), sd, dd))
    if idx.ndim != 2:
        raise RuntimeError("indices must be sparse_dim x nnz, but got: %s" % list(idx.shape))
    nnz = idx.shape[1]
    if nnz != vals._data.shape[0]:
        raise RuntimeError("indices and values must have same nnz, but got nnz from indices: %d, nnz from "
                           "values: %d" % (nnz, vals._data.shape[0]))
    if size is None:
        size = tuple(int(m) + 1 for m in idx.max(1)) if nnz else (0,) * sd
        size += tuple(vals._data.shape[1:])
    elif tuple(size[sd:]) != tuple(vals._data.shape[1:]):
        raise RuntimeError("values has incorrect size, expected [%s], got [%s]" % (
            ", ".join(str(s) for s in (nnz,) + size[sd:]), ", ".join(str(s) for s in vals._data.shape)))
    for d in range(sd):
        if nnz and idx[d].min() < 0:
            raise RuntimeError("found negative index %d for dim %d" % (idx[d].min(), d))
        if nnz and idx[d].max() >= size[d]:
            raise RuntimeError("size is inconsistent with indices: for dim %d, size is %d but found index %d"
                               % (d, size[d], idx[d].max()))
    coalesced = nnz < 2 if is_coalesced is None else bool(is_coalesced)
    out = _build(idx, vals, size, coalesced)
    if requires_grad:
        out.requires_grad_(True)
    return out


def to_sparse(x, sparse_dim=None):
    """Tensor.to_sparse: the nonzero entries (slabs, for sparse_dim < ndim) of a dense tensor, coalesced."""
    if getattr(x, "is_sparse", False):
        return x
    nd = x._data.ndim
    sd = nd if sparse_dim is None else int(sparse_dim)
    if not 0 <= sd <= nd:
        raise RuntimeError("sparse_dim must be in [0, %d], but got %d" % (nd, sd))
    a = x._data
    if sd == 0:  # one value: the whole tensor
        return _build(np.zeros((0, 1), np.int64), _S.reshape(x, (1,) + a.shape), a.shape, True)
    nz = a != 0 if sd == nd else np.any(a != 0, axis=tuple(range(sd, nd)))
    idx = np.array(np.nonzero(nz), dtype=np.int64).reshape(sd, -1)
    return _build(idx, _gather(x, idx), a.shape, True)


# -------------------------------------------------------------------- torch.sparse functions
def mm(mat1, mat2, reduce=None):
    """torch.sparse.mm: sparse @ dense is dense (the sparse operand's gradient keeps its pattern);
    sparse @ sparse is sparse."""
    if reduce not in (None, "sum"):
        raise NotImplementedError("fastgrad.sparse.mm: reduce=%r is not supported" % (reduce,))
    s1, s2 = getattr(mat1, "is_sparse", False), getattr(mat2, "is_sparse", False)
    if s1 and mat1._data.ndim == 2 and mat2._data.ndim == 2 and mat1._data.shape[1] != mat2._data.shape[0]:
        raise RuntimeError("addmm: Argument #3 (dense): Expected dim 0 size %d, got %d"
                           % (mat1._data.shape[1], mat2._data.shape[0]))
    out = _L.mm(_masked(mat1) if s1 else mat1, _masked(mat2) if s2 else mat2)
    return to_sparse(out) if s1 and s2 else out


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """torch.sparse.addmm: beta * mat + alpha * (mat1 @ mat2), mat1 sparse."""
    prod = mm(mat1, mat2)
    return _E.add(_E.mul(mat, beta) if beta != 1 else mat, _E.mul(prod, alpha) if alpha != 1 else prod)


def sum(input, dim=None, dtype=None):  # noqa: A001
    """torch.sparse.sum: over all entries (a dense 0-d tensor) or over dims (sparse while sparse dims
    remain, else dense)."""
    from fastgrad._ops import reduction as _R

    x = _masked(input) if getattr(input, "is_sparse", False) else input
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        return _R.sum(x)
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    dims = tuple(d % x._data.ndim for d in dims)
    out = _R.sum(x, dims)
    if not getattr(input, "is_sparse", False):
        return out
    sd = input.sparse_dim()
    keep = [d for d in range(sd) if d not in dims]
    if not keep:
        return out
    shape = tuple(input._data.shape[d] for d in keep)
    idx = _unique_pattern(input._sp_idx[keep], shape)
    return _build(idx, _gather(out, idx), out._data.shape, True)


def spmm(input, mat2):
    """torch.spmm: a matrix product (the sparse operand's gradient is dense, as PyTorch's MmBackward)."""
    return _L.mm(input, mat2)


def _rebuild_sparse(indices, values, size, coalesced, requires_grad):
    """Unpickling a sparse tensor (allow-listed for weights-only loads)."""
    if not isinstance(indices, engine.TensorBase) or not isinstance(values, engine.TensorBase):
        raise TypeError("_rebuild_sparse expects index and value tensors")
    out = sparse_coo_tensor(indices, values.detach(), tuple(int(s) for s in size), is_coalesced=bool(coalesced))
    if requires_grad:
        out.requires_grad_(True)
    return out


def _reduce_sparse(self, protocol):
    return (_rebuild_sparse, (self._indices(), self._values(), tuple(self._data.shape), self._sp_coal,
                              self._requires_grad))


SparseCOOTensor.__reduce_ex__ = _reduce_sparse


def tensor_to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    return to_sparse(self, sparse_dim)

