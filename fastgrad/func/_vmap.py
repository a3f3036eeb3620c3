"""vmap: func mapped over a dimension of its inputs, one call per batch element, results stacked."""
import functools

from fastgrad._backend import engine
from fastgrad.func._pytree import flatten, unflatten


def _in_dims_for(in_dims, args):
    if isinstance(in_dims, int) or in_dims is None:
        return [in_dims] * len(args)
    if not isinstance(in_dims, (tuple, list)) or len(in_dims) != len(args):
        raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the structure "
                         f"of `inputs`. in_dims has structure {in_dims} but inputs has {len(args)} elements")
    return list(in_dims)


def _leaf_dims(dim, arg):
    """The in_dim of each leaf of arg (dim may itself mirror arg's structure)."""
    leaves, _ = flatten(arg)
    if isinstance(dim, (tuple, list, dict)):
        dims, _ = flatten(dim)
        if len(dims) != len(leaves):
            raise ValueError("vmap: in_dims is not compatible with the structure of the inputs")
        return dims
    return [dim] * len(leaves)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got "
                           f"{randomness}")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from fastgrad import stack

        dims = _in_dims_for(in_dims, args)
        flat_args, specs, flat_dims, size = [], [], [], None
        for arg, dim in zip(args, dims):
            leaves, spec = flatten(arg)
            ldims = _leaf_dims(dim, arg)
            for leaf, d in zip(leaves, ldims):
                if d is None:
                    continue
                if not isinstance(leaf, engine.TensorBase):
                    raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input but "
                                     f"the input is of type {type(leaf)}. We cannot vmap over non-Tensor arguments, "
                                     "please use None as the respective in_dim")
                if not -leaf.dim() <= d < max(leaf.dim(), 1):
                    raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some input, "
                                     f"but that input is a Tensor of dimensionality {leaf.dim()} so expected in_dim "
                                     f"to satisfy -{leaf.dim()} <= in_dim < {leaf.dim()}.")
                n = leaf.shape[d]
                if size is not None and n != size:
                    raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got "
                                     f"sizes {size} and {n} for the mapped dimension")
                size = n
            flat_args.append(leaves)
            specs.append(spec)
            flat_dims.append(ldims)
        if size is None:
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): at least one input must be a Tensor mapped "
                             "over a dimension (in_dims not all None)")
        results = []
        for i in range(size):
            call = []
            for leaves, spec, ldims in zip(flat_args, specs, flat_dims):
                call.append(unflatten([leaf if d is None else leaf.select(d, i) for leaf, d in zip(leaves, ldims)],
                                      spec))
            results.append(func(*call, **kwargs))
        outs = [flatten(r)[0] for r in results]
        spec = flatten(results[0])[1]
        odims = _leaf_dims(out_dims, results[0])
        stacked = []
        for j, d in enumerate(odims):
            col = [o[j] for o in outs]
            if d is None:
                stacked.append(col[0])
            elif not isinstance(col[0], engine.TensorBase):
                raise ValueError(f"vmap(f, ...): `f` must only return Tensors, got type {type(col[0])}. Did you mean "
                                 "to set out_dims= to None for output?")
            else:
                stacked.append(stack(col, dim=d))
        return unflatten(stacked, spec)
    return wrapper
