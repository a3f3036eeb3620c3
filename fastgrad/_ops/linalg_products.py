"""Matrix products beyond matmul: addmm/addmv/baddbmm/addbmm/addr, tensordot, kron, multi_dot,
chain_matmul, matrix_power, cross, cdist, einsum (re-exported by linalg_ext.py)."""
import collections
import string

import numpy as np

from fastgrad import _dtype
from fastgrad._ops import shape as S
from fastgrad._ops.base import engine, float32_compute, Op, make, norm_dim
from fastgrad._ops.indexing import broadcast_tensors, diagonal, index_select
from fastgrad._ops.linalg import inv, matmul, no_half
from fastgrad._ops.reduction_ext import vector_norm


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    if mat1._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError("addmm: expected 2D tensors, got %dD and %dD" % (mat1._data.ndim, mat2._data.ndim))
    return _add_scaled(input, matmul(mat1, mat2), beta, alpha)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def addmv(input, mat, vec, *, beta=1, alpha=1):
    if mat._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got %d, %d, %d"
                           % (input._data.ndim, mat._data.ndim, vec._data.ndim))
    return _add_scaled(input, matmul(mat, vec), beta, alpha)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if batch1._data.ndim != 3 or batch2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if batch1._data.ndim != 3 else "batch2 must be a 3D tensor")
    return _add_scaled(input, matmul(batch1, batch2), beta, alpha)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return _add_scaled(input, matmul(batch1, batch2).sum(0), beta, alpha)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    return _add_scaled(input, vec1.unsqueeze(1) * vec2.unsqueeze(0), beta, alpha)


def _add_scaled(input, prod, beta, alpha):
    """beta * input + alpha * prod; beta == 0 ignores input (NaN included), like PyTorch."""
    out = prod if alpha == 1 else prod * alpha
    if beta == 0:
        return out + make(np.zeros(input._data.shape, out._data.dtype)) if input._data.shape != out._data.shape else out
    return out + (input if beta == 1 else input * beta)


def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError("tensordot expects dims >= 0, but got dims=%d" % dims)
        da = list(range(a._data.ndim - dims, a._data.ndim))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [norm_dim(d, a._data.ndim) for d in da]
    db = [norm_dim(d, b._data.ndim) for d in db]
    for i, j in zip(da, db):  # a size-1 dim against another size: the other side summed over it (torch)
        if b._data.shape[j] == 1 and a._data.shape[i] != 1:
            a = a.sum(i, keepdim=True)
        elif a._data.shape[i] == 1 and b._data.shape[j] != 1:
            b = b.sum(j, keepdim=True)
        elif a._data.shape[i] != b._data.shape[j]:
            raise RuntimeError("contracted dimensions need to match, but first has size %d in dim %d and second "
                               "has size %d in dim %d" % (a._data.shape[i], i, b._data.shape[j], j))
    fa = [d for d in range(a._data.ndim) if d not in da]
    fb = [d for d in range(b._data.ndim) if d not in db]
    k = int(np.prod([a._data.shape[d] for d in da]))
    am = a.permute(*(fa + da)).reshape(-1, k)
    bm = b.permute(*(db + fb)).reshape(k, -1)
    return matmul(am, bm).reshape(tuple(a._data.shape[d] for d in fa) + tuple(b._data.shape[d] for d in fb))


def kron(input, other):
    nd = max(input._data.ndim, other._data.ndim)
    a = input.reshape((1,) * (nd - input._data.ndim) + input._data.shape)
    b = other.reshape((1,) * (nd - other._data.ndim) + other._data.shape)
    sa, sb = a._data.shape, b._data.shape
    a = a.reshape(tuple(x for s in sa for x in (s, 1)))
    b = b.reshape(tuple(x for s in sb for x in (1, s)))
    return (a * b).reshape(tuple(x * y for x, y in zip(sa, sb)))


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def multi_dot(tensors):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got %d" % len(tensors))
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def chain_matmul(*matrices):
    return multi_dot(matrices)


def matrix_power(A, n):
    if A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError("linalg.matrix_power: A must be batches of square matrices")
    if n == 0:  # the identity, still connected to A (zero gradient), like PyTorch
        return A * 0.0 + make(np.eye(A._data.shape[-1], dtype=A._data.dtype))
    if n < 0:
        A, n = inv(A), -n
    out = A
    for _ in range(n - 1):
        out = matmul(out, A)
    return out


def cross(input, other, dim=None):
    if dim is None:
        dims = [i for i, s in enumerate(np.broadcast_shapes(input._data.shape, other._data.shape)) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        dim = dims[0]
    d = norm_dim(dim, max(input._data.ndim, other._data.ndim))
    if input._data.shape != other._data.shape:
        input, other = broadcast_tensors(input, other)
    if input._data.shape[d] != 3 or other._data.shape[d] != 3:
        raise RuntimeError("linalg.cross: inputs dimension %d must have length 3. Got %d and %d"
                           % (d, input._data.shape[d], other._data.shape[d]))
    i1, i2 = make(np.array([1, 2, 0])), make(np.array([2, 0, 1]))
    return (index_select(input, d, i1) * index_select(other, d, i2)
            - index_select(input, d, i2) * index_select(other, d, i1))


def linalg_cross(input, other, *, dim=-1):
    return cross(input, other, dim)


def cdist(x1, x2, p=2.0, compute_mode=None):
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError("X1 and X2 must have the same number of columns. X1: %d X2: %d"
                           % (x1._data.shape[-1], x2._data.shape[-1]))
    no_half("cdist", x1, True)
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return vector_norm(diff, p, -1)


# --------------------------------------------------------------------------- einsum
class Einsum(Op):
    """np.einsum over operands whose subscripts have no repeated letter (see einsum())."""

    @staticmethod
    def forward(ctx, spec, *xs):
        ctx.spec = spec
        ctx.save_for_backward(*xs)
        return np.einsum(_spec_str(spec), *[x._data for x in xs], optimize=len(xs) > 2)

    @staticmethod
    def backward(ctx, g):
        xs = ctx.saved_tensors
        ins, out = ctx.spec
        grads = [None]
        for i, x in enumerate(xs):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            grads.append(_einsum_grad(ins, out, xs, i, g))
        return tuple(grads)

    @staticmethod
    def jvp(ctx, spec, *ts):
        xs = ctx.saved_tensors
        ins, out = spec
        res = None
        for i, t in enumerate(ts):
            if t is None:
                continue
            term = Einsum.apply(spec, *(xs[:i] + (t,) + xs[i + 1:]))
            res = term if res is None else res + term
        return res


def _spec_str(spec):
    ins, out = spec
    return ",".join(ins) + "->" + out


def _einsum_grad(ins, out, xs, i, g):
    """Gradient for operand i: contract g with the other operands onto operand i's letters;
    letters summed away inside operand i alone come back by broadcasting."""
    mine = ins[i]
    others = [ins[j] for j in range(len(ins)) if j != i]
    present = set(out).union(*others) if others else set(out)
    kept = "".join(c for c in mine if c in present)
    spec = ((out,) + tuple(others), kept)
    gi = Einsum.apply(spec, g, *[xs[j] for j in range(len(xs)) if j != i])
    if kept != mine:
        shape = tuple(xs[i]._data.shape[k] if c in present else 1 for k, c in enumerate(mine))
        gi = S.expand(gi.reshape(shape), *xs[i]._data.shape)
    return gi


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if len(operands) > 1:  # torch contracts through bmm, which has no uint16/32/64 kernel
        _dtype.refuse_barebones("bmm", *(x._data.dtype for x in operands if isinstance(x, engine.TensorBase)))
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation"
                           if len(operands) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the equation")
    # ellipses become fresh upper-case letters, right-aligned per operand
    free = [c for c in string.ascii_uppercase if c not in eq]
    n_ell = 0
    for t, x in zip(terms, operands):
        if "..." in t:
            n_ell = max(n_ell, x._data.ndim - (len(t) - 3))
    ell = "".join(free[:n_ell])
    ins = []
    for t, x in zip(terms, operands):
        if "..." in t:
            k = x._data.ndim - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:])
        if len(t) != x._data.ndim:
            raise RuntimeError("einsum(): the number of subscripts in the equation (%d) does not match the number "
                               "of dimensions (%d) for operand %d%s"
                               % (len(t), x._data.ndim, len(ins), "" if "..." in eq else " and no ellipsis was given"))
        ins.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = collections.Counter("".join(ins))
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    sizes = {}
    for t, x in zip(ins, operands):
        for c, s in zip(t, x._data.shape):
            if sizes.setdefault(c, s) != s and s != 1 and sizes[c] != 1:
                raise RuntimeError("einsum(): operands do not broadcast with remapped shapes (original->remapped)")
    xs = list(operands)
    for k in range(len(xs)):  # repeated letters in one operand: take the diagonal first
        t = ins[k]
        while len(set(t)) != len(t):
            c = next(c for c in t if t.count(c) > 1)
            p1 = t.index(c)
            p2 = t.index(c, p1 + 1)
            xs[k] = diagonal(xs[k], 0, p1, p2)
            t = t[:p1] + t[p1 + 1:p2] + t[p2 + 1:] + c
        ins[k] = t
    dt = xs[0]._data.dtype
    for x in xs[1:]:
        if x._data.dtype != dt:
            raise RuntimeError("einsum(): expected scalar type %s but found %s" % (xs[0].dtype, x.dtype))
    return Einsum.apply((tuple(ins), out), *xs)
