"""The ops of nested tensors: each runs the fastgrad op on every component (so autograd flows through the
components), after torch's checks for the layout (the strided layout supports fewer ops than the jagged one;
the errors are torch's). bind() puts them on NestedTensor as methods and operators."""
import numbers

from fastgrad import _dtype
from fastgrad._tensor import Tensor
from fastgrad.nested._tensor import NestedTensor, _norm, jagged, not_implemented

# unary ops torch's strided nested tensors support (the jagged layout supports every pointwise op)
_STRIDED_UNARY = frozenset(("abs", "neg", "negative", "sqrt", "sin", "cos", "tanh", "relu", "sgn", "logical_not",
                            "isnan", "isinf", "silu", "gelu", "tanhshrink", "softsign", "clone", "detach"))
_STRIDED_BINARY = frozenset(("add", "sub", "mul", "div", "true_divide"))
_STRIDED_SCALAR_ONLY = frozenset(("eq", "gt", "ge"))
_UNARY = ("abs", "neg", "negative", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
          "sign", "sgn", "floor", "ceil", "round", "trunc", "frac", "square", "reciprocal", "erf", "expm1", "log1p",
          "log2", "log10", "exp2", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "logical_not",
          "bitwise_not", "isnan", "isinf", "isfinite", "angle", "conj", "logit")
_BINARY = ("add", "sub", "mul", "div", "true_divide", "pow", "maximum", "minimum", "atan2", "remainder", "fmod",
           "floor_divide", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor")
_NAMES = {"neg": "neg", "negative": "neg", "sub": "sub.Tensor", "add": "add.Tensor", "mul": "mul.Tensor",
          "div": "div.Tensor", "true_divide": "div.Tensor", "pow": "pow.Tensor_Scalar"}


def _is_nt(x):
    return isinstance(x, NestedTensor)


def _strided(nt):
    return nt._layout != jagged


# ------------------------------------------------------------------ pointwise
def unary(name, nt, fn, *args, **kwargs):
    """fn(component, *args) for every component (torch's strided layout has a short list of them)."""
    if _strided(nt) and name not in _STRIDED_UNARY:
        raise not_implemented(_NAMES.get(name, name))
    return nt._vmap(lambda c: fn(c, *args, **kwargs))


def binary(name, a, b, fn, **kwargs):
    """fn(x, y) component-wise for nested a or b (the other nested of the same structure, a dense tensor the
    jagged layout broadcasts, or a scalar)."""
    nt = a if _is_nt(a) else b
    other = b if nt is a else a
    if _is_nt(other) and other._layout != nt._layout:
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Please file an issue.")
    if _strided(nt):
        scalar = not isinstance(other, Tensor)
        if name not in _STRIDED_BINARY and not (scalar and name in _STRIDED_SCALAR_ONLY):
            if name in _STRIDED_SCALAR_ONLY and _is_nt(other):
                raise RuntimeError("%s does not support nested tensor as other value." % name)
            raise not_implemented(_NAMES.get(name, name) if not scalar or name != "pow" else "pow.Tensor_Scalar")
        if isinstance(other, Tensor) and not _is_nt(other):
            raise RuntimeError("Expected both self and other to be nested, but got a %s self and %s other"
                               % (("nested", "non-nested") if nt is a else ("non-nested", "nested")))
        if _is_nt(other) and [c.shape for c in other._comps] != [c.shape for c in nt._comps]:
            raise RuntimeError("%s does not support broadcasting when given a NestedTensor" % name)
    if _is_nt(other):
        if nt._layout == jagged and (other._j is not nt._j or other._ragged != nt._ragged):
            raise RuntimeError("cannot call binary pointwise function %s.Tensor with inputs of shapes %s and %s"
                               % (name, _size_str(a), _size_str(b)))
        if nt._holes and other._holes:  # the same offsets and lengths (the same j): on the buffers
            return nt._on_values(fn(a._vals, b._vals, **kwargs))
        pairs = zip(nt._comps, other._comps)
    elif isinstance(other, Tensor):
        pairs = zip(nt._comps, _dense_parts(nt, other, name))
    else:
        pairs = ((c, other) for c in nt._comps)
    if nt._holes and not _is_nt(other) and (not isinstance(other, Tensor) or other.dim() < nt.dim()):
        return nt._vmap(lambda c: fn(c, other, **kwargs) if nt is a else fn(other, c, **kwargs))
    if nt is a:
        return nt._like([fn(x, y, **kwargs) for x, y in pairs])
    return nt._like([fn(y, x, **kwargs) for x, y in pairs])


def _dense_parts(nt, dense, name):
    """The dense operand's part for each component: its batch row when it has the nested tensor's dims,
    else the whole (broadcast against each component)."""
    n = len(nt._comps)
    if dense.dim() > nt.dim() or (dense.dim() == nt.dim() and (dense.shape[0] not in (1, n)
                                                                or dense.shape[nt._ragged] != 1)):
        raise RuntimeError("cannot call binary pointwise function %s.Tensor with inputs of shapes %s and %s"
                           % (name, _size_str(nt), tuple(dense.shape)))
    if dense.dim() == nt.dim():
        return [dense[i if dense.shape[0] == n else 0] for i in range(n)]
    return [dense] * n


def _not_contiguous(sig, arg):
    """torch's error for an op that needs a jagged tensor without holes."""
    return ValueError("NestedTensor %s: expected %s to be a contiguous jagged layout NestedTensor" % (sig, arg))


def _size_str(t):
    return "(%s)" % ", ".join(str(s) for s in t.size()) if _is_nt(t) else str(tuple(t.shape))


def masked_fill(nt, mask, value):
    if _is_nt(mask) and nt._holes and mask._holes and mask._j is nt._j:
        return nt._on_values(nt._vals.masked_fill(mask._vals, value))
    if _is_nt(mask):
        return nt._like([c.masked_fill(m, value) for c, m in zip(nt._comps, mask._comps)])
    return nt._like([c.masked_fill(m, value) for c, m in zip(nt._comps, _dense_parts(nt, mask, "masked_fill"))])


# ------------------------------------------------------------------ reductions
def _dims(nt, dim):
    if dim is None:
        return list(range(nt.dim()))
    dims = [dim] if isinstance(dim, numbers.Integral) else list(dim)
    return sorted({_norm(int(d), nt.dim()) for d in dims})


def _reduce(name, nt, dim, keepdim, dtype):
    if _strided(nt):
        if name == "mean" or dim is None:
            if dim is not None and nt.dim() > 3:
                raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Please file an issue.")
            raise not_implemented(name + (".dim" if dim is not None else ""))
        if not isinstance(dim, numbers.Integral) and len(dim) != 1:
            raise RuntimeError("NestedTensor only allows reduction of a single dimension for now.")
        d = _norm(int(dim if isinstance(dim, numbers.Integral) else dim[0]), nt.dim())
        if d != nt.dim() - 1:
            raise RuntimeError("NestedTensor can only be reduced across the last dimension for now got dimension "
                               "%d instead." % d)
        if not keepdim:
            raise RuntimeError("NestedTensor always requires keepdim=True for now.")
        return nt._map(lambda c: getattr(c, name)(d - 1, keepdim=True, dtype=dtype))
    dims, r = _dims(nt, dim), nt._ragged
    if r in dims and nt._lens is not None:
        raise RuntimeError("%s(): reducing across the ragged dimension is not supported for non-contiguous nested "
                           "tensors with holes" % name)
    if 0 in dims and r not in dims:
        raise RuntimeError("%s(): reducing along the batch dimension but not the ragged dimension is not "
                           "supported for nested tensors" % name)
    if r in dims and 0 not in dims and len(dims) > 1:
        raise RuntimeError("%s(): reducing along a ragged and non-batch dimension is not supported for nested "
                           "tensors" % name)
    from fastgrad import stack
    if 0 in dims:  # batch and ragged (and maybe more): a dense result, reduced over the values
        vals = nt.values()
        vd = [d - 1 for d in dims if d != 0]
        out = getattr(vals, name)(vd, keepdim=keepdim, dtype=dtype)
        return out.unsqueeze(0) if keepdim else out
    if r in dims:  # the ragged dim alone: one dense row per component
        return stack([getattr(c, name)(r - 1, keepdim=keepdim, dtype=dtype) for c in nt._comps])
    cd = [d - 1 for d in dims]
    ragged = r if keepdim else r - sum(d < r for d in dims)
    return nt._vmap(lambda c: getattr(c, name)(cd, keepdim=keepdim, dtype=dtype), ragged)


def nt_sum(nt, dim=None, keepdim=False, *, dtype=None):
    return _reduce("sum", nt, dim, keepdim, dtype)


def nt_mean(nt, dim=None, keepdim=False, *, dtype=None):
    return _reduce("mean", nt, dim, keepdim, dtype)


def softmax(nt, dim=None, _stacklevel=3, dtype=None, *, _log=False):
    from fastgrad._ops import nn as N
    d = _norm(dim, nt.dim())
    if d == 0:
        if _strided(nt):
            raise RuntimeError("Cannot apply softmax across nested dimension 0")
        raise RuntimeError("%s(): not supported when reducing across the batch dimension for NestedTensor"
                           % ("log_softmax" if _log else "softmax"))
    fn = N.log_softmax if _log else N.softmax
    if _log and _strided(nt):
        raise not_implemented("_log_softmax")
    if d == nt._ragged and nt._lens is not None:
        raise RuntimeError("%s(): not supported where lengths is not None if reducing across the ragged dimension "
                           "for NestedTensor" % ("log_softmax" if _log else "softmax"))
    return nt._vmap(lambda c: fn(c, d - 1, dtype=dtype))


def log_softmax(nt, dim=None, _stacklevel=3, dtype=None):
    return softmax(nt, dim, _stacklevel, dtype, _log=True)


# ------------------------------------------------------------------ shapes
def transpose(nt, dim0, dim1):
    d0, d1 = _norm(dim0, nt.dim()), _norm(dim1, nt.dim())
    if 0 in (d0, d1) and d0 != d1:
        if _strided(nt):
            raise RuntimeError("Nested tensor dimension 0 cannot be transposed")
        raise ValueError("Transpose is not supported on the batch dimension for jagged NT")
    r = nt._ragged
    if r is not None:
        r = d1 if r == d0 else d0 if r == d1 else r
    return nt._vmap(lambda c: c.transpose(d0 - 1, d1 - 1), r)


def _shape_args(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def reshape(nt, *shape, _name="reshape"):
    shape = _shape_args(shape)
    n = len(nt._comps)
    if _strided(nt):
        if not shape or shape[0] not in (n,):
            raise RuntimeError("reshape: For now nested reshape cannot change or infer the implicit batch "
                               "dimension")
        return nt._like([getattr(c, _name)(shape[1:]) for c in nt._comps])
    if nt._ragged != 1:
        if tuple(shape) == tuple(nt.size()):
            return nt
        raise RuntimeError("view(): does not support ragged_idx != 1 except when inp._size == size. inp._size "
                           "is (%s) and size is (%s)." % (_size_str(nt), list(shape)))
    ok = len(shape) >= 2 and shape[0] in (n, -1) and (shape[1] == -1 or shape[1] is nt._j)
    if not ok or any(s == -1 for s in shape[2:]):
        raise RuntimeError("view(): cannot view shape %s as %s" % (_size_str(nt), list(shape)))
    return nt._like([getattr(c, _name)((c.shape[0],) + tuple(shape[2:])) for c in nt._comps])


def view(nt, *shape):
    return reshape(nt, *shape, _name="view")


def unsqueeze(nt, dim):
    d = _norm(dim, nt.dim() + 1)
    if d == 0:
        raise RuntimeError("unsqueeze(): cannot unsqueeze the batch dimension of a nested tensor")
    r = nt._ragged
    return nt._vmap(lambda c: c.unsqueeze(d - 1), r + (d <= r) if r is not None else None)


def squeeze(nt, dim=None):
    if dim is None:
        raise RuntimeError("squeeze(): For nested tensors, squeeze without the dim argument is not supported")
    d = _norm(dim, nt.dim())
    if d == 0 or d == nt._ragged:
        raise RuntimeError("squeeze(): For nested tensors, squeezing dimension 0 or the ragged dimension is not "
                           "supported")
    r = nt._ragged
    if nt._comps and nt._comps[0].shape[d - 1] != 1:
        return nt
    return nt._vmap(lambda c: c.squeeze(d - 1), r - (d < r) if r is not None else None)


# ------------------------------------------------------------------ products
def matmul(a, b):
    from fastgrad._ops import linalg as L
    nt = a if _is_nt(a) else b
    other = b if nt is a else a
    if _strided(nt):
        if not _is_nt(other) and nt.dim() == 3:
            raise RuntimeError("Expected both to be nested, but got a %s self and %s other"
                               % (("nested", "non-nested") if nt is a else ("non-nested", "nested")))
    elif _is_nt(other) and (a._ragged >= a.dim() - 2 or b._ragged >= b.dim() - 2 or a._j is not b._j):
        raise RuntimeError("matmul(): not supported between inputs of shapes %s and %s" % (_size_str(a), b.size()))
    elif not _is_nt(other) and (nt is b or nt._ragged >= nt.dim() - 1 or other.dim() > 2):
        raise RuntimeError("matmul(): not supported between inputs of shapes %s and %s" % (_size_str(a), b.size()))
    if _is_nt(other):
        if len(other._comps) != len(nt._comps):
            raise RuntimeError("matmul(): expected the two nested tensors to have the same batch size, got %d "
                               "and %d" % (len(a._comps), len(b._comps)))
        return nt._like([L.matmul(x, y) for x, y in zip(a._comps, b._comps)])
    if nt is a:
        return nt._vmap(lambda c: L.matmul(c, other))
    return nt._like([L.matmul(other, c) for c in nt._comps])


def bmm(a, b):
    from fastgrad._ops import linalg as L
    for t in (a, b):
        if t.dim() != 3:
            if _is_nt(t) and t._layout == jagged:
                raise ValueError("bmm(): input must be 3D")
            raise RuntimeError("batch%d must be a 3D tensor" % (1 if t is a else 2))
    if not _is_nt(a):
        raise RuntimeError("bmm(): expected the first argument to be a nested tensor when the second is one")
    if _is_nt(b):
        return matmul(a, b)
    if b.shape[0] != len(a._comps):
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: [%d, %d] but got: "
                           "[%d, %d]." % (len(a._comps), a.size(-1), b.shape[0], b.shape[1]))
    return a._like([L.matmul(c, b[i]) for i, c in enumerate(a._comps)])


def linear(input, weight, bias=None):
    from fastgrad._ops import nn as N
    if _strided(input):
        if input.dim() != 3 or weight.dim() != 2:
            raise RuntimeError("Linear requires nested_tensor.dim == 3 and dense_matrix.dim == 2. Nested tensor "
                               "dim: %d. Dense tensor dim: %d" % (input.dim(), weight.dim()))
        if input.size(-1) != weight.shape[1]:
            raise RuntimeError("Shape mismatch for NestedTensor Linear: Expected input's (a nested tensor) "
                               "'last_dim' to equal 'weight.size(1), but got: last_dim = %d, and weight.size(1) = %d"
                               % (input.size(-1), weight.shape[1]))
    elif input._lens is not None:
        raise _not_contiguous("linear_default(input: jt, weight: t, bias: t?)", "input")
    elif input.size(-1) != weight.shape[-1]:  # torch multiplies the values: their rows in the message
        rows = input.numel() // max(input.size(-1), 1)
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)"
                           % (rows, input.size(-1), weight.shape[-1], weight.shape[0]))
    return input._map(lambda c: N.linear(c, weight, bias))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Attention within each component: softmax(q k^T * scale) v for q, k, v of the same batch."""
    from fastgrad._ops import attention as AT
    qkv = (query, key, value)
    if not all(_is_nt(t) for t in qkv):
        raise RuntimeError("scaled_dot_product_attention: expected query, key and value to be all nested "
                           "tensors or all dense tensors")
    strided = _strided(query)
    if attn_mask is not None:
        if strided:
            raise RuntimeError("Scaled_dot_product_attention: Nested tensors for query / key are not supported "
                               "when an explicit attn_mask is set")
        raise ValueError("Masks are not yet supported!")
    if is_causal:
        if strided:
            raise RuntimeError("_scaled_dot_product_attention: Nested tensors for query / key are not supported "
                               "when is_causal=True")
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found.")
    if strided and not all(t.is_contiguous() for t in qkv):
        raise RuntimeError("scaled_dot_product_attention: If inputs are nested tensors they must be contiguous")
    if len({len(t._comps) for t in qkv}) != 1:
        raise RuntimeError("scaled_dot_product_attention: expected query, key and value to have the same batch "
                           "size")
    outs = [AT.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, scale=scale, enable_gqa=enable_gqa)
            for q, k, v in zip(query._comps, key._comps, value._comps)]
    return query._like(outs)


def dropout(x, p=0.5, training=True, inplace=False):
    from fastgrad._ops import nn_functional as NF
    if x._lens is not None:  # torch's native_dropout, even in eval mode
        raise _not_contiguous("native_dropout_default(self: jt, float: any, train: any?)", "self")
    return x if not training or p == 0 else x._map(lambda c: NF.dropout(c, p, training))


# ------------------------------------------------------------------ more free functions (torch 2.13's lists)
# pointwise ops with options: the jagged layout has them all; the strided one none (NotImplementedError)
_ATEN = {"relu6": "hardtanh", "clip": "clamp", "square": "pow.Tensor_Scalar", "nan_to_num": "nan_to_num"}


def pointwise(name, fn):
    """fastgrad's fn(component, *args) as a nested op: jagged only (torch's strided layout raises)."""
    def op(x, *args, inplace=False, **kwargs):
        if _strided(x):
            raise not_implemented(_ATEN.get(name, name) + ("_" if inplace else ""))
        out = x._vmap(lambda c: fn(c, *args, **kwargs))
        return x.copy_(out) if inplace else out
    op.__name__ = name
    return op


def where(condition, input, other):
    nt = next(t for t in (condition, input, other) if _is_nt(t))
    if _strided(nt):
        raise RuntimeError("self must not be nested" if _is_nt(other) else "other must be nested")
    from fastgrad._ops import elementwise as E
    parts = []
    for t in (condition, input, other):
        if _is_nt(t):
            if t._j is not nt._j:
                raise RuntimeError("cannot call binary pointwise function where with inputs of shapes %s and %s"
                                   % (_size_str(nt), _size_str(t)))
            parts.append(t)
        else:
            parts.append(t)
    if nt._holes and all(not _is_nt(t) or t._holes for t in parts):
        return nt._on_values(E.where(*[t._vals if _is_nt(t) else t for t in parts]))
    n = len(nt._comps)
    rows = [[t._comps[i] if _is_nt(t) else t for t in parts] for i in range(n)]
    return nt._like([E.where(*r) for r in rows])


def like(name, fn):
    """zeros_like etc.: a nested tensor of the same structure (torch's strided full_like and empty_like fail)."""
    def op(x, *args, dtype=None, requires_grad=False, **kwargs):
        if _strided(x) and name == "full_like":
            raise not_implemented("full_like")
        if _strided(x) and name == "empty_like":
            raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Please file an issue.")
        out = x.detach()._vmap(lambda c: fn(c, *args, dtype=dtype, **kwargs))
        return out.requires_grad_(True) if requires_grad else out
    return op


_SIZES = "Internal error: NestedTensorImpl doesn't support sizes. Please file an issue."


def _autograd_sizes(tensors):
    """Whether torch's autograd records the op on strided nested tensors (it asks for their sizes and fails)."""
    from fastgrad._backend import engine
    return engine.state().grad_enabled and any(t.requires_grad for t in tensors)


def cat(tensors, dim=0):
    tensors = list(tensors)
    nt = tensors[0]
    if any(not _is_nt(t) or t._layout != nt._layout for t in tensors):
        raise RuntimeError("cat(): expected each tensor in given list to be nested")
    from fastgrad._ops import indexing as _I
    d = _norm(dim, nt.dim())
    if not _strided(nt):
        if d == 0:
            raise RuntimeError("cat(): not supported for NestedTensor on dim=0")
        if any(t._j is not nt._j for t in tensors):
            raise RuntimeError("cat(): expected all nested tensors to have matching ragged structures outside of "
                               "the concatenated dim")
        if all(t._holes for t in tensors):
            return nt._on_values(_I.cat([t._vals for t in tensors], d - 1))
    elif _autograd_sizes(tensors):
        raise RuntimeError(_SIZES)
    elif d == 0:
        return NestedTensor._new([c for t in tensors for c in t._comps], nt._layout, nt._dt)
    return nt._like([_I.cat([t._comps[i] for t in tensors], d - 1) for i in range(len(nt._comps))])


def stack(tensors, dim=0):
    if not _strided(tensors[0]):
        raise RuntimeError("stack(): not supported for NestedTensor on dim=0")
    raise not_implemented("stack")


def _pieces(nt, fn, what, dim):
    d = _norm(dim, nt.dim())
    if not _strided(nt):
        if nt._lens is not None:
            raise _not_contiguous(what, "self")
        if d in (0, nt._ragged):
            raise RuntimeError("%s(): not supported for NestedTensor on dim=%d" % (what.split("_")[0], d))
    elif d == 0:
        raise RuntimeError("Chunk for nested tensors is currently only supported for the last dimension.")
    parts = [fn(c, d - 1) for c in nt._comps]
    return tuple(nt._like([p[k] for p in parts]) for k in range(len(parts[0]) if parts else 0))


def chunk(nt, chunks, dim=0):
    from fastgrad._ops import indexing as _I
    return _pieces(nt, lambda c, d: _I.chunk(c, chunks, d), "chunk_default(self: jt, chunks: any, dim: any?)", dim)


def split(nt, split_size_or_sections, dim=0):
    from fastgrad._ops import indexing as _I
    if _strided(nt):
        if _autograd_sizes([nt]):
            raise RuntimeError(_SIZES)
        raise not_implemented("split.Tensor" if isinstance(split_size_or_sections, numbers.Integral)
                              else "split_with_sizes")
    return _pieces(nt, lambda c, d: _I.split(c, split_size_or_sections, d),
                   "split_tensor(self: jt, split_size: any, dim: any?)", dim)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    from fastgrad.nn import _functional_layers as FL
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if _strided(input):
        if weight is None or bias is None:
            raise ValueError("NestedTensor layer_norm requires weight and bias")
    elif input.dim() - len(shape) <= input._ragged:
        raise RuntimeError("layer_norm(): not supported for NestedTensor objects with normalized_shape including "
                           "the ragged dimension")
    return input._vmap(lambda c: FL.layer_norm(c, shape, weight, bias, eps))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    from fastgrad._ops import normalization_ext as NE
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if _strided(input):
        raise RuntimeError("Internal error: NestedTensorImpl doesn't support sizes. Please file an issue.")
    if input.dim() - len(shape) <= input._ragged:
        raise RuntimeError("rms_norm(): not supported for NestedTensor objects with normalized_shape including "
                           "the ragged dimension")
    return input._vmap(lambda c: NE.rms_norm(c, shape, weight, eps))


_RED_ATEN = {"prod": "prod.dim_int", "any": "any.dim", "max": "max.dim", "min": "min.dim"}


def dim_reduce(name):
    """amax, amin, argmax, argmin, prod, any, all, max, min of a nested tensor: over every dim (dense),
    the ragged dim (one dense row per component), or another (nested); torch's strided layout has all()."""
    from fastgrad import cat, stack

    def op(x, dim=None, keepdim=False, **kwargs):
        if dim is None or (isinstance(dim, (tuple, list)) and not dim):
            if _strided(x):
                raise not_implemented(name)
            return getattr(cat([c.reshape(-1) for c in x._comps]), name)(**kwargs)
        if isinstance(dim, Tensor):
            raise not_implemented(name)
        if isinstance(dim, (tuple, list)):
            if len(dim) != 1:
                return _reduce(name, x, dim, keepdim, None)
            dim = dim[0]
        d = _norm(int(dim), x.dim())
        if _strided(x) and name != "all":
            if name in ("max", "min") and _autograd_sizes([x]):  # torch's autograd asks for the sizes first
                raise RuntimeError(_SIZES)
            raise not_implemented(_RED_ATEN.get(name, name))
        if d == 0:
            raise RuntimeError("%s(): reducing along the batch dimension but not the ragged dimension is not "
                               "supported for nested tensors" % name)
        if d == x._ragged:
            if x._lens is not None:
                raise RuntimeError("%s(): reducing across the ragged dimension is not supported for non-contiguous "
                                   "nested tensors with holes" % name)
            parts = [getattr(c, name)(d - 1, keepdim=keepdim, **kwargs) for c in x._comps]
            if name in ("max", "min"):
                return type(parts[0])(stack([p[0] for p in parts]), stack([p[1] for p in parts]))
            return stack(parts)
        r = x._ragged
        ragged = None if r is None else r if keepdim else r - (d < r)
        if name in ("max", "min"):
            vals = x._vmap(lambda c: getattr(c, name)(d - 1, keepdim=keepdim)[0], ragged)
            idx = x._vmap(lambda c: getattr(c, name)(d - 1, keepdim=keepdim)[1], ragged)
            return type(getattr(x._comps[0], name)(d - 1))(vals, idx)
        return x._vmap(lambda c: getattr(c, name)(d - 1, keepdim=keepdim, **kwargs), ragged)
    op.__name__ = name
    return op


def full_reduce(name):
    """sum / mean over every dim (a dense 0-dim result; jagged only)."""
    def op(x, *args, dtype=None, **kwargs):
        if (args and args[0] is not None) or kwargs.get("dim") is not None:
            return _reduce(name, x, args[0] if args else kwargs["dim"], args[1] if len(args) > 1 else
                           kwargs.get("keepdim", False), dtype)
        if _strided(x):
            raise not_implemented(name)
        from fastgrad import cat
        flat = cat([c.reshape(-1) for c in x._comps])
        return getattr(flat, name)(dtype=dtype)
    return op


# ------------------------------------------------------------------ padding
def to_padded_tensor(input, padding, output_size=None, out=None):
    """A dense tensor: the components padded with padding up to the largest size in each dim (jagged: the
    ragged dim only), or up to output_size."""
    from fastgrad import stack
    from fastgrad._ops import nn_functional as NF
    if not _is_nt(input):
        raise NotImplementedError(
            "Could not run 'aten::to_padded_tensor' with arguments from the 'CPU' backend. This could be because the "
            "operator doesn't exist for this backend, or was omitted during the selective/custom build process (if "
            "using custom build).")
    if input._lens is not None:
        raise RuntimeError("to_padded_tensor(): not supported for nested tensors with holes")
    comps = input._comps
    nd = input.dim() - 1
    if input._layout == jagged:
        r = input._ragged - 1
        most = max((c.shape[r] for c in comps), default=0)
        target = list(comps[0].shape) if comps else [0] * nd
        target[r] = most if output_size is None else max(int(output_size[r + 1]), most)
    else:
        target = [max((c.shape[d] for c in comps), default=0) for d in range(nd)]
        if output_size is not None:
            output_size = [int(s) for s in output_size]
            if len(output_size) != nd + 1:
                raise RuntimeError("Length of output_size does not match NestedTensor dims. Broadcasting is not "
                                   "supported.")
            if any(o < t for o, t in zip(output_size[1:], target)) or output_size[0] < len(comps):
                raise RuntimeError("Value in output_size is less than NestedTensor padded size. Truncation is not "
                                   "supported.")
            target = output_size[1:]
    rows = []
    for c in comps:
        pads = []
        for d in reversed(range(nd)):
            pads += [0, target[d] - c.shape[d]]
        rows.append(NF.pad(c, pads, value=float(padding)) if any(pads) else c)
    res = stack(rows) if rows else input._empty(0, *target)
    if input._layout != jagged and output_size is not None and output_size[0] > len(comps):
        extra = output_size[0] - len(comps)
        res = NF.pad(res, [0, 0] * nd + [0, extra], value=float(padding))
    if out is not None:
        out.copy_(res)
        return out
    return res


# ------------------------------------------------------------------ binding
_STRIDED_INPLACE = frozenset(("copy_", "fill_", "zero_", "mul_", "add_", "relu_"))
_INPLACE_ATEN = {"sub_": "sub_.Tensor", "div_": "div_.Tensor", "masked_fill_": "masked_fill_.Scalar"}


def inplace(name):
    """An in-place method (x.mul_(2), x.copy_(y), x.sin_(), ...): on every component, or once on the values
    buffer of a tensor with holes (its holes too, as torch's); torch's strided layout has a few."""
    def method(self, *args, **kwargs):
        if _strided(self) and name not in _STRIDED_INPLACE:
            raise not_implemented(_INPLACE_ATEN.get(name, name))
        if name == "masked_fill_" and not _strided(self):
            raise NotImplementedError("aten.masked_fill_.Scalar")
        other = args[0] if args and _is_nt(args[0]) else None
        if self._holes and (other is None or other._holes):
            pairs = [(self._vals, None if other is None else other._vals)]
        else:
            pairs = [(c, None if other is None else other._comps[i]) for i, c in enumerate(self._comps)]
        for t, o in pairs:
            getattr(t, name)(*(((o,) + args[1:]) if o is not None else args), **kwargs)
        return self
    method.__name__ = name
    return method


def _nan_to_num(c, nan=0.0, posinf=None, neginf=None):
    from fastgrad._ops import math as M
    return M.nan_to_num(c, nan, posinf, neginf)


def _unsupported(name):
    def method(self, *args, **kwargs):
        raise not_implemented(name)
    method.__name__ = name
    return method


_KEEP = frozenset(("requires_grad_", "register_hook", "is_nested", "type", "dim_order", "get_device", "is_pinned",
                   "is_inference", "data_ptr", "element_size", "is_signed", "is_complex", "is_shared", "share_memory_",
                   "numpy", "cpu", "cuda", "pin_memory"))


def bind(cls):
    """Put the ops above on NestedTensor as methods and operators; any other Tensor method raises torch's error."""
    from fastgrad import _creation as C
    from fastgrad._ops import activations as A
    from fastgrad._ops import elementwise as E

    def _u(name):
        def method(self, *args, **kwargs):
            return unary(name, self, lambda c, *a, **k: getattr(c, name)(*a, **k), *args, **kwargs)
        method.__name__ = name
        return method

    def _b(name, reflected=False):
        fn = getattr(Tensor, name if name != "true_divide" else "div")

        def method(self, other, **kwargs):
            return binary(name, other, self, fn, **kwargs) if reflected else binary(name, self, other, fn, **kwargs)
        return method

    pw = {"leaky_relu": A.leaky_relu, "elu": A.elu, "softplus": A.softplus, "hardtanh": A.hardtanh,
          "relu6": A.relu6, "mish": A.mish, "clamp": E.clamp, "clip": E.clamp, "square": E.square,
          "nan_to_num": _nan_to_num}
    pointwise_ops = {n: pointwise(n, f) for n, f in pw.items()}
    reductions = {n: dim_reduce(n) for n in ("amax", "amin", "argmax", "argmin", "prod", "any", "all", "max", "min")}
    methods = {n: _u(n) for n in _UNARY if hasattr(Tensor, n)}
    methods.update({n: _b(n) for n in _BINARY if hasattr(Tensor, n)})
    methods.update(
        __add__=_b("add"), __radd__=_b("add", True), __sub__=_b("sub"), __rsub__=_b("sub", True),
        __mul__=_b("mul"), __rmul__=_b("mul", True), __truediv__=_b("div"), __rtruediv__=_b("div", True),
        __pow__=_b("pow"), __rpow__=_b("pow", True), __eq__=_b("eq"), __ne__=_b("ne"), __lt__=_b("lt"),
        __le__=_b("le"), __gt__=_b("gt"), __ge__=_b("ge"), __neg__=_u("neg"), __abs__=_u("abs"),
        __matmul__=matmul, __rmatmul__=lambda self, other: matmul(other, self), matmul=matmul, bmm=bmm,
        sum=nt_sum, mean=nt_mean, softmax=softmax, log_softmax=log_softmax, transpose=transpose,
        swapaxes=transpose, swapdims=transpose, reshape=reshape, view=view, unsqueeze=unsqueeze, squeeze=squeeze,
        masked_fill=masked_fill, to_padded_tensor=to_padded_tensor, __hash__=object.__hash__,
        **{n: inplace(n) for n in ["copy_", "fill_", "zero_", "add_", "sub_", "mul_", "div_", "clamp_",
                                   "masked_fill_"] + [u + "_" for u in _UNARY if hasattr(Tensor, u + "_")]},
        **reductions, clamp=pointwise_ops["clamp"], clip=pointwise_ops["clip"], chunk=chunk, split=split,
        nan_to_num=pointwise_ops["nan_to_num"], type_as=lambda self, other: self.to(other.dtype),
        bool=lambda self: self.to(_dtype.bool_), int=lambda self: self.to(_dtype.int32),
        long=lambda self: self.to(_dtype.int64),
        __bool__=_unsupported("is_nonzero"))
    functional = {"linear": linear, "where": where, "cat": cat, "stack": stack, "chunk": chunk, "split": split,
                  "layer_norm": layer_norm, "rms_norm": rms_norm, "mean": full_reduce("mean"),
                  "sum": full_reduce("sum"),
                  "isnan": lambda x: x.isnan(), "abs": lambda x: x.abs(), "neg": lambda x: x.neg(),
                  **pointwise_ops, **reductions,
                  **{n: like(n, getattr(C, n)) for n in ("zeros_like", "ones_like", "empty_like", "full_like",
                                                         "randn_like", "rand_like")},
                  "softmax": softmax, "log_softmax": log_softmax, "matmul": matmul, "bmm": bmm,
                  "scaled_dot_product_attention": scaled_dot_product_attention,
                  "relu": lambda x: unary("relu", x, E.relu), "gelu": lambda x, approximate="none": unary(
                      "gelu", x, A.gelu, approximate=approximate),
                  "silu": lambda x, inplace=False: unary("silu", x, A.silu),
                  "dropout": dropout}
    for n in _BINARY:
        functional[n] = (lambda name: lambda a, b, **kw: binary(name, a, b, getattr(Tensor, name if name !=
                                                                                     "true_divide" else "div"),
                                                                **kw))(n)
    for n in _UNARY:
        functional.setdefault(n, (lambda name: lambda x, *a, **k: getattr(x, name)(*a, **k))(n))
    def nested_call(name, *args, **kwargs):
        fn = functional.get(name)
        if fn is None:
            raise not_implemented(name)
        return fn(*args, **kwargs)

    cls._nested_call = staticmethod(nested_call)
    own = set(vars(cls))
    for name in dir(Tensor):
        if name.startswith("_") or name in own or name in methods or name in _KEEP:
            continue
        attr = getattr(Tensor, name, None)
        if callable(attr) and not isinstance(attr, type):
            setattr(cls, name, _unsupported(name.rstrip("_") if not name.endswith("__") else name))
    for name, fn in methods.items():
        setattr(cls, name, fn)
