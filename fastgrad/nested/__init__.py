"""torch.nested: nested tensors (a batch of tensors whose sizes differ in one or more dims), strided and jagged
layouts, on the CPU. See fastgrad.nested._tensor for the representation (a list of component tensors)."""
import numbers

from fastgrad import _dtype
from fastgrad._creation import arange, as_tensor
from fastgrad._ops import indexing as _I
from fastgrad._tensor import Tensor
from fastgrad.nested import _ops
from fastgrad.nested._tensor import NestedTensor, jagged
from fastgrad.sparse import strided

__all__ = ["to_padded_tensor", "as_nested_tensor", "nested_tensor", "nested_tensor_from_jagged", "narrow",
           "masked_select"]

_ops.bind(NestedTensor)
to_padded_tensor = _ops.to_padded_tensor


def _check_layout(layout, what="nested tensors"):
    if layout not in (strided, jagged):
        raise RuntimeError("Specified layout is unsupported for %s: %r" % (what, layout))


def _from_list(ts, layout, dtype):
    """The nested tensor of the tensors ts (already copies), after torch's checks for the layout."""
    if layout == jagged:
        if not ts:
            raise RuntimeError("Cannot construct a nested tensor from an empty tensor list")
        if any(t.dim() != ts[0].dim() for t in ts):
            raise RuntimeError("When constructing a nested tensor, all tensors in list must have the same dim")
        if ts[0].dim() == 0:
            raise RuntimeError("Cannot construct a nested tensor from a list of zero-dim tensors")
        if any(t.dtype != ts[0].dtype for t in ts):
            raise RuntimeError("When constructing a nested tensor, all tensors in list must have the same dtype")
        if any(t.shape[1:] != ts[0].shape[1:] for t in ts):
            raise RuntimeError("Cannot represent given tensor list as a nested tensor with the jagged layout. Note "
                               "that the jagged layout only allows for a single ragged dimension. For example: (B, "
                               "*, D_0, D_1, ..., D_N), with ragged * dim.")
        return NestedTensor._new(ts, jagged, ragged=1)
    for i, t in enumerate(ts):
        if t.dim() != ts[0].dim():
            raise RuntimeError("All Tensors given to nested_tensor must have the same dimension. Found dimension %d "
                               "for Tensor at index %d and dimension %d for Tensor at index 0."
                               % (t.dim(), i, ts[0].dim()))
    target = _dtype.to_dtype(dtype) if dtype is not None else ts[0].dtype if ts else _dtype.get_default_dtype()
    return NestedTensor._new([t if t.dtype == target else t.to(target) for t in ts], strided, dtype=target)


def nested_tensor(tensor_list, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A nested tensor with no autograd history (a leaf) from a list of tensors or of anything
    fastgrad.tensor takes; each component is a copy."""
    layout = strided if layout is None else layout
    _check_layout(layout)
    comps = []
    for t in tensor_list:
        if isinstance(t, Tensor):
            c = t.detach().clone()
            if dtype is not None and layout == jagged:
                c = c.to(dtype)
        else:
            c = as_tensor(t, dtype=dtype if layout == jagged else None).clone()
        comps.append(c)
    nt = _from_list(comps, layout, dtype)
    if requires_grad:
        nt.requires_grad_(True)
    return nt


def as_nested_tensor(ts, dtype=None, device=None, layout=None):
    """A nested tensor keeping autograd history: from a list/tuple of tensors (copied, differentiably), or a
    tensor of dim >= 2 (its rows); a nested tensor is returned as is (converted to dtype)."""
    is_list = isinstance(ts, (list, tuple)) and all(isinstance(t, Tensor) for t in ts)
    if not isinstance(ts, Tensor) and not is_list:
        raise TypeError("as_nested_tensor(): Expected first argument to be a tensor or a list / tuple of tensors ")
    if isinstance(ts, Tensor) and ts.dim() < 2:
        raise RuntimeError("as_nested_tensor(): Expected tensor argument to have dim() > 1")
    if isinstance(ts, NestedTensor):
        if layout == ts.layout:
            return ts if dtype is None else ts.to(dtype=dtype)
        raise RuntimeError("as_nested_tensor(): Converting between nested tensor layouts is not supported")
    layout = strided if layout is None else layout
    _check_layout(layout)
    if isinstance(ts, Tensor):
        src = ts if dtype is None else ts.to(dtype)
        comps = list(_I.unbind(src, 0))
        if layout == jagged:
            n, t = src.shape[0], src.shape[1]
            return NestedTensor._new(comps, jagged, ragged=1, values=src.flatten(0, 1),
                                     offsets=arange(0, n * t + 1, t, dtype=_dtype.int64) if t else
                                     as_tensor([0] * (n + 1), dtype=_dtype.int64))
        return NestedTensor._new(comps, strided)
    comps = [t.clone() if dtype is None or t.dtype == _dtype.to_dtype(dtype) else t.to(dtype) for t in ts]
    return _from_list(comps, layout, dtype)


def narrow(tensor, dim, start, length, layout=strided):
    """A nested tensor of tensor[i] narrowed to [start, start + length) in dim (start and length may be
    tensors of one entry per row: jagged layout, dim 1 only)."""
    if not isinstance(start, (numbers.Integral, Tensor)):
        raise RuntimeError("start must be an integer or a tensor")
    if not isinstance(length, (numbers.Integral, Tensor)):
        raise RuntimeError("length must be an integer or a tensor")
    if layout == strided:
        if isinstance(start, Tensor) or isinstance(length, Tensor):
            raise RuntimeError("start and length must be integers for the strided layout NT impl")
        return as_nested_tensor(list(_I.unbind(tensor, 0)), layout=strided).narrow(dim, start, length)
    if layout != jagged:
        raise RuntimeError("Specified layout is unsupported for nested narrow: %r" % (layout,))
    if dim != 1:
        raise RuntimeError("jagged layout only supports dim=1")
    n, t = tensor.shape[0], tensor.shape[1]
    starts = [int(s) for s in (start.reshape(-1).tolist() if isinstance(start, Tensor) else [start])]
    lens = [int(s) for s in (length.reshape(-1).tolist() if isinstance(length, Tensor) else [length])]
    starts = starts * n if len(starts) == 1 else starts
    lens = lens * n if len(lens) == 1 else lens
    comps = [_I.narrow(tensor[i], 0, starts[i], lens[i]) for i in range(n)]
    offs = [i * t + starts[i] for i in range(n)]
    offs.append(offs[-1] + lens[-1] if n else 0)
    return NestedTensor._new(comps, jagged, ragged=1, values=tensor.flatten(0, 1),
                             offsets=as_tensor(offs, dtype=_dtype.int64),
                             lengths=as_tensor(lens, dtype=_dtype.int64))


def nested_tensor_from_jagged(values, offsets=None, lengths=None, jagged_dim=None, min_seqlen=None,
                              max_seqlen=None):
    """The jagged nested tensor whose component i is values[offsets[i] : offsets[i] + length_i] along
    jagged_dim - 1 (length_i = lengths[i], else offsets[i + 1] - offsets[i]); a view of values."""
    if offsets is None:
        if lengths is None:
            raise RuntimeError("nested_tensor_from_jagged(): At least one of offsets or lengths is required.")
        from fastgrad._ops import nn_functional as NF
        offsets = NF.pad(lengths.cumsum(0), (1, 0))
        lengths = None
    if jagged_dim is None:
        jagged_dim = 1
    elif jagged_dim < 1:
        raise ValueError("Expected jagged_dim >=1, but got %d." % jagged_dim)
    offs = [int(o) for o in offsets.tolist()]
    lens = [int(x) for x in lengths.tolist()] if lengths is not None else [b - a for a, b in zip(offs, offs[1:])]
    comps = [_I.narrow(values, jagged_dim - 1, offs[i], lens[i]) for i in range(len(lens))]
    return NestedTensor._new(comps, jagged, dtype=values.dtype, ragged=jagged_dim, values=values, offsets=offsets,
                             lengths=lengths)


def masked_select(tensor, mask):
    """The jagged nested tensor of tensor's elements where mask is True, one component per row of the last dim."""
    if getattr(tensor, "layout", strided) != strided:
        raise RuntimeError("torch.nested.masked_select requires a strided tensor, given %r" % (tensor.layout,))
    if getattr(mask, "layout", strided) != strided:
        raise RuntimeError("torch.nested.masked_select requires a strided mask, given: %r" % (mask.layout,))
    from fastgrad._ops import nn_functional as NF
    res_values = tensor.masked_select(mask)
    res_lengths = mask.expand(tensor.shape).sum(dim=tensor.dim() - 1).view(-1)
    return nested_tensor_from_jagged(res_values, NF.pad(res_lengths.cumsum(dim=0), (1, 0)))
