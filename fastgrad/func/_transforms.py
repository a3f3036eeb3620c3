"""grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, linearize."""
import functools

from fastgrad._backend import engine
from fastgrad.autograd import forward_ad as fwAD
from fastgrad.autograd import grad as _autograd_grad
from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.func._pytree import flatten, unflatten


def _is_tensor(x):
    return isinstance(x, engine.TensorBase)


def _argnums_tuple(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{name}: argnums must be non-empty")
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"{name}: argnums must be int or Tuple[int, ...], got: {type(argnums)}")
        if not -nargs <= n < nargs:
            raise RuntimeError(f"Got argnums={n}, but only {nargs} positional inputs")
    return tuple(n % nargs for n in nums)


def _prepare(value):
    """A leaf to differentiate against: the tensor itself when an outer transform tracks it
    (so transforms nest), else a detached copy that requires grad."""
    leaves, spec = flatten(value)
    made = []
    for t in leaves:
        if not _is_tensor(t):
            made.append(t)
        elif t.requires_grad:
            made.append(t.view_as(t))
        else:
            made.append(t.detach().requires_grad_(True))
    return unflatten(made, spec), made


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{name}(f, ...): output of function f should be a tuple: (output, aux) if has_aux is "
                           "True")
    return out


def _grad_and_value(func, argnums, has_aux, name, args, kwargs):
    nums = _argnums_tuple(argnums, len(args), name)
    args = list(args)
    diff_leaves = []
    for n in nums:
        args[n], made = _prepare(args[n])
        diff_leaves.append(made)
    nested = any(t.requires_grad for n in nums for t in flatten(args[n])[0] if _is_tensor(t)) and \
        engine.is_grad_enabled()
    with enable_grad():
        out = func(*args, **kwargs)
        value, aux = _split_aux(out, has_aux, name)
        if not _is_tensor(value):
            raise RuntimeError(f"{name}(f)(*args): Expected f(*args) to return a Tensor, got {type(value)}")
        if value.numel() != 1:
            raise RuntimeError(f"{name}(f)(*args): Expected f(*args) to return a scalar Tensor, got tensor with "
                               f"{value.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
        flat = [t for leaves in diff_leaves for t in leaves if _is_tensor(t)]
        grads = _autograd_grad(value, flat, allow_unused=True, create_graph=nested, materialize_grads=True)
    grads = list(grads)
    results = []
    for leaves, n in zip(diff_leaves, nums):
        _, spec = flatten(args[n])
        mine = [grads.pop(0) if _is_tensor(t) else None for t in leaves]
        results.append(unflatten(mine, spec))
    g = results[0] if isinstance(argnums, int) else tuple(results)
    if not nested:
        value = value.detach()
    return g, value, aux


def grad(func, argnums=0, has_aux=False):
    """The gradient of a scalar-valued func with respect to its argnums inputs."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, _, aux = _grad_and_value(func, argnums, has_aux, "grad", args, kwargs)
        return (g, aux) if has_aux else g
    return wrapper


def grad_and_value(func, argnums=0, has_aux=False):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value, aux = _grad_and_value(func, argnums, has_aux, "grad_and_value", args, kwargs)
        return (g, (value, aux)) if has_aux else (g, value)
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): vjp_fn(cotangents) gives the cotangents of the primals."""
    prepared, made = zip(*[_prepare(p) for p in primals]) if primals else ((), ())
    nested = any(_is_tensor(p) and p.requires_grad for p in flatten(list(primals))[0]) and engine.is_grad_enabled()
    with enable_grad():
        out = func(*prepared)
    out, aux = _split_aux(out, has_aux, "vjp")
    out_leaves, out_spec = flatten(out)
    in_leaves = [t for leaves in made for t in leaves if _is_tensor(t)]

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        ct_leaves, ct_spec = flatten(cotangents)
        if len(ct_leaves) != len(out_leaves):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree structure of "
                               "outputs to the function")
        pairs = [(o, c) for o, c in zip(out_leaves, ct_leaves) if _is_tensor(o) and o.requires_grad]
        grads = list(_autograd_grad([o for o, _ in pairs], in_leaves, [c for _, c in pairs], retain_graph=True,
                                    create_graph=nested if create_graph is None else create_graph,
                                    allow_unused=True, materialize_grads=True)) if pairs else \
            [t.new_zeros(t.shape) for t in in_leaves]
        res = []
        for p, leaves in zip(primals, made):
            _, spec = flatten(p)
            res.append(unflatten([grads.pop(0) if _is_tensor(t) else None for t in leaves], spec))
        return tuple(res)
    out_detached = out if nested else unflatten([o.detach() if _is_tensor(o) else o for o in out_leaves], out_spec)
    return (out_detached, vjp_fn, aux) if has_aux else (out_detached, vjp_fn)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the directional derivative along tangents), by forward-mode AD."""
    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it should be valid to "
                           "call f(*primals).")
    if not isinstance(tangents, tuple) or len(tangents) != len(primals):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have the same python "
                           "structure. For example, if primals is a tuple of 3 tensors, tangents also must be. Got "
                           f"primals with structure {primals} and tangents with structure {tangents}")
    with fwAD.dual_level():
        duals = []
        for p, t in zip(primals, tangents):
            pl, spec = flatten(p)
            tl, _ = flatten(t)
            duals.append(unflatten([fwAD.make_dual(a, b) if _is_tensor(a) else a for a, b in zip(pl, tl)], spec))
        out = func(*duals)
        out, aux = _split_aux(out, has_aux, "jvp")
        leaves, spec = flatten(out)
        primal_out, tangent_out = [], []
        for o in leaves:
            up = fwAD.unpack_dual(o)
            primal_out.append(up.primal)
            tangent_out.append(up.tangent if up.tangent is not None else up.primal.new_zeros(up.primal.shape))
    res = (unflatten(primal_out, spec), unflatten(tangent_out, spec))
    return res + (aux,) if has_aux else res


def _jac_from_rows(rows, out, inp):
    """Stack per-output-element gradients into out.shape + inp.shape."""
    from fastgrad import stack

    return stack(rows).reshape(tuple(out.shape) + tuple(inp.shape))


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian by reverse mode: one vjp per output element."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums_tuple(argnums, len(args), "jacrev")
        args = list(args)
        nested = engine.is_grad_enabled() and any(_is_tensor(args[n]) and args[n].requires_grad for n in nums)
        leaves = []
        for n in nums:
            if not _is_tensor(args[n]):
                raise RuntimeError("jacrev: only Tensor inputs are differentiated (pytrees of argnums: not supported)")
            args[n], made = _prepare(args[n])
            leaves.append(made[0])
        with enable_grad():
            out = func(*args)
        out, aux = _split_aux(out, has_aux, "jacrev")
        outs, spec = flatten(out)
        jac_per_out = []
        for o in outs:
            flat_o = o.reshape(-1)
            rows = [[] for _ in leaves]
            for k in range(flat_o.numel()):
                gs = _autograd_grad(flat_o[k], leaves, retain_graph=True, create_graph=nested, allow_unused=True,
                                    materialize_grads=True)
                for r, g in zip(rows, gs):
                    r.append(g)
            jacs = [_jac_from_rows(r, o, x) if r else x.new_zeros(tuple(o.shape) + tuple(x.shape))
                    for r, x in zip(rows, leaves)]
            jac_per_out.append(jacs[0] if isinstance(argnums, int) else tuple(jacs))
        res = unflatten(jac_per_out, spec)
        return (res, aux) if has_aux else res
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian by forward mode: one jvp per input element."""
    @functools.wraps(func)
    def wrapper(*args):
        from fastgrad import stack

        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        per_input = []
        aux = None
        outs_spec = None
        for n in nums:
            x = args[n]
            cols = []
            for k in range(x.numel()):
                e = x.new_zeros(x.numel())
                e[k] = 1.0
                tangents = tuple(e.reshape(x.shape) if i == n else (a.new_zeros(a.shape) if _is_tensor(a) else a)
                                 for i, a in enumerate(args))
                res = jvp(func, tuple(args), tangents, has_aux=has_aux)
                out, tan = res[0], res[1]
                if has_aux:
                    aux = res[2]
                tl, outs_spec = flatten(tan)
                cols.append(tl)
            outs = flatten(out)[0]
            jac = [stack([c[j] for c in cols], dim=-1).reshape(tuple(outs[j].shape) + tuple(x.shape))
                   for j in range(len(outs))]
            per_input.append(jac)
        jac_per_out = [per_input[0][j] if isinstance(argnums, int) else tuple(p[j] for p in per_input)
                       for j in range(len(per_input[0]))]
        res = unflatten(jac_per_out, outs_spec)
        return (res, aux) if has_aux else res
    return wrapper


def hessian(func, argnums=0):
    """jacfwd(jacrev(func)) as torch composes it (here: jacrev of jacrev, with the same values)."""
    return jacrev(jacrev(func, argnums), argnums)


def linearize(func, *primals):
    """(func(*primals), jvp_fn) with jvp_fn(*tangents) the derivative along tangents at primals."""
    out = func(*primals)

    def jvp_fn(*tangents):
        return jvp(func, primals, tangents)[1]
    return out, jvp_fn
