"""parameters_to_vector / vector_to_parameters."""
from fastgrad._backend import engine


def parameters_to_vector(parameters):
    """All parameters flattened into one 1-D tensor (differentiable)."""
    from fastgrad._ops.layers import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy slices of a 1-D vector into the parameters' data, in order."""
    if not isinstance(vec, engine.TensorBase):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
