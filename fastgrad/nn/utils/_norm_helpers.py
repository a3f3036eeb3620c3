"""ATen's norm_except_dim and _weight_norm (torch's building blocks of weight normalization),
written with fastgrad ops so gradients flow to both g and v."""
from fastgrad import linalg


def norm_except_dim(v, pow=2, dim=0):  # noqa: A002
    """The p-norm of v over every dimension but dim (kept, others size 1); dim=-1: the norm of all of v."""
    if dim == -1:
        return linalg.vector_norm(v, pow)
    nd = v.dim()
    d = dim + nd if dim < 0 else dim
    return linalg.vector_norm(v, pow, dim=tuple(i for i in range(nd) if i != d), keepdim=True)


def weight_norm(v, g, dim=0):
    """torch._weight_norm: v * (g / norm_except_dim(v, 2, dim))."""
    return v * (g / norm_except_dim(v, 2, dim))
