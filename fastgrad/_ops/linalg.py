"""Matrix products (K.mm: float products through the chosen BLAS, transposed views passed
as flags; np.matmul for the rest) and inverse."""
import numpy as np

from fastgrad._ops.linalg_error import LinAlgError

from fastgrad import _dtype
from fastgrad._ops.base import K, Op, check_broadcast, is_tensor, scalar_type_name


# same binary Op shape as math.Atan2 (both inputs saved): the maths differ
class Matmul(Op):
    """matmul with NumPy's broadcasting rules for 1-D and batched operands."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return K.mm(a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if a._data.ndim == 1 and b._data.ndim == 1:
            ga, gb = (g * b if need[0] else None), (g * a if need[1] else None)
        elif b._data.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
            if need[0]:
                ga = g.unsqueeze(-1) * b
            if need[1]:
                gb = matmul(a.mT, g.unsqueeze(-1)).squeeze(-1)
        elif a._data.ndim == 1:  # (k,) @ (..., k, m) -> (..., m)
            if need[0]:
                ga = matmul(b, g.unsqueeze(-1)).squeeze(-1)
            if need[1]:
                gb = a.unsqueeze(-1) * g.unsqueeze(-2)
        else:
            if need[0]:
                ga = matmul(g, b.mT)
            if need[1]:
                gb = matmul(a.mT, g)
        return ga, gb  # batch broadcasting is summed away by the tape

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.saved_tensors
        out = None if ta is None else matmul(ta, b)
        if tb is not None:
            t2 = matmul(a, tb)
            out = t2 if out is None else out + t2
        return out


# same try/LinAlgError shape as linalg_ext.Cholesky: torch's messages differ per factorization
class Inverse(Op):
    @staticmethod
    def forward(ctx, a):
        try:
            y = np.linalg.inv(a._data)
        except np.linalg.LinAlgError:
            raise LinAlgError("linalg.inv: The diagonal element 1 is zero, the inversion could not "
                               "be completed because the input matrix is singular.") from None
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        yT = y.mT
        return -matmul(matmul(yT, g), yT)

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return -matmul(matmul(y, t), y)


def _dt(x):
    return {"f": "float", "d": "double"}.get(x._data.dtype.char, x.dtype.name)


def _check_dtypes(name, a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError("%s: expected m1 and m2 to have the same dtype, but got: %s != %s"
                           % (name, _dt(a), _dt(b)))


def matmul(input, other):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("matmul", input, other)
    if getattr(other, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return other._nested_call("matmul", input, other)
    if not is_tensor(input) or not is_tensor(other):
        raise TypeError("matmul(): argument 'other' must be Tensor, not %s" % type(other).__name__)
    a, b = input._data, other._data
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are %dD and %dD"
                           % (a.ndim, b.ndim))
    _check_dtypes("matmul", input, other)
    if a.dtype in _dtype.BAREBONES and a.size and b.size:  # torch has no uint16/32/64 product kernels
        kernel = ("dot" if a.ndim == 1 and b.ndim == 1 else "addmv_impl_cpu" if b.ndim == 1 and a.ndim == 2
                  else "addmm_impl_cpu_" if a.ndim <= 2 and b.ndim <= 2 else "bmm")
        _dtype.refuse_barebones(kernel, a.dtype)
    k1 = a.shape[-1]
    k2 = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k1 != k2:
        if a.ndim <= 2 and b.ndim <= 2 and a.ndim + b.ndim > 2:
            a2 = a.shape if a.ndim == 2 else (1,) + a.shape
            b2 = b.shape if b.ndim == 2 else b.shape + (1,)
            if a.ndim == 2 and b.ndim == 1:
                raise RuntimeError("size mismatch, got input (%d), mat (%dx%d), vec (%d)"
                                   % (a.shape[0], a.shape[0], a.shape[1], b.shape[0]))
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (%dx%d and %dx%d)"
                               % (a2[0], a2[1], b2[0], b2[1]))
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError("inconsistent tensor size, expected tensor [%d] and src [%d] to have the "
                               "same number of elements, but got %d and %d elements respectively"
                               % (a.shape[0], b.shape[0], a.shape[0], b.shape[0]))
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: [%s] but got: "
                           "[%s]." % (", ".join(map(str, a.shape[:-2] + (k1,))), ", ".join(map(str, b.shape[:-1]))))
    if a.ndim > 2 and b.ndim > 2 and a.shape[:-2] != b.shape[:-2]:
        check_broadcast(a.shape[:-2], b.shape[:-2])  # torch's message for the batch dims
    return Matmul.apply(input, other)


def mm(input, mat2):
    if input._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2)


def mv(input, vec):
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got %d, %d, %d"
                           % (1, input._data.ndim, vec._data.ndim))
    return matmul(input, vec)


def dot(input, other):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError("1D tensors expected, but got %dD and %dD tensors" % (input._data.ndim, other._data.ndim))
    return matmul(input, other)


vdot = dot


def inner(input, other):
    """torch.inner: the sum over the last dims of both (shape input[:-1] + other[:-1]); a 0-d
    operand scales the other."""
    a, b = input._data, other._data
    if a.ndim == 0 or b.ndim == 0:
        return input * other
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError("inner() the last dimension must match on both input tensors but got shapes %s and %s"
                           % (list(a.shape), list(b.shape)))
    if a.ndim == 1 and b.ndim == 1:
        return matmul(input, other)
    out = matmul(input.reshape(-1, a.shape[-1]), other.reshape(-1, b.shape[-1]).mT)
    return out.reshape(a.shape[:-1] + b.shape[:-1])


def outer(input, vec2):
    if input._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError("outer: expected 1D tensors")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def bmm(input, mat2):
    if input.is_nested:  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("bmm", input, mat2)
    if input._data.ndim != 3 or mat2._data.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError("batch1 and batch2 must have same number of batches, got %d and %d"
                           % (input._data.shape[0], mat2._data.shape[0]))
    return matmul(input, mat2)


def no_half(name, A, kernel=False):
    """PyTorch's CPU linear algebra takes no float16/bfloat16: its error (after the shape checks),
    a RuntimeError of the function's dtype check or a kernel's NotImplementedError."""
    dt = A._data.dtype
    if _dtype.is_half(dt):
        if kernel:
            raise NotImplementedError('"%s" not implemented for \'%s\'' % (name, scalar_type_name(dt)))
        raise RuntimeError("%s: Low precision dtypes not supported. Got %s" % (name, scalar_type_name(dt)))


def inv(A):
    if _dtype.kind(A._data.dtype) not in "fc":
        raise RuntimeError("linalg.inv: Expected a floating point or complex tensor as input. Got %s"
                           % {"i": "Long", "u": "Byte", "b": "Bool"}.get(A._data.dtype.kind, A.dtype.name))
    if A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError("linalg.inv: A must be batches of square matrices, but they are %s matrices"
                           % "x".join(map(str, A._data.shape[-2:])))
    no_half("linalg.inv", A)
    return Inverse.apply(A)


inverse = inv
