"""Functional higher-level autograd (PyTorch's torch.autograd.functional).

vjp, jacobian (reverse mode) and vhp use the reverse-mode engine; jvp, jacobian with
``strategy="forward-mode"`` and hvp use real forward mode (fastgrad.autograd.forward_ad:
each op's jvp rule), not the double-backward trick. Inputs and results follow PyTorch:
a Tensor in gives a Tensor out, a tuple gives a tuple. ``vectorize=True`` (reverse mode) computes
the whole Jacobian as one batched vjp, ``autograd.grad(..., is_grads_batched=True)`` over the rows
of the identity (PyTorch's structure); it is as fast as that batched grad is.
"""
import numpy as np

from fastgrad._backend import engine
from fastgrad.autograd import forward_ad as fwAD
from fastgrad.autograd.grad_mode import enable_grad, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# --------------------------------------------------------------------------- helpers (as in PyTorch)
def _as_tuple(inp, arg_name=None, fn_name=None):
    """(was it a tuple, the tuple of Tensors)."""
    if arg_name is None:
        return isinstance(inp, tuple), inp if isinstance(inp, tuple) else (inp,)
    is_tuple = isinstance(inp, tuple)
    inp = inp if is_tuple else (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, engine.TensorBase):
            where = "value at index %d" % i if is_tuple else "given %s" % arg_name
            raise TypeError("The %s given to %s must be either a Tensor or a tuple of Tensors but the %s "
                            "has type %s." % (arg_name, fn_name, where, type(el)))
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """New tensor objects for the inputs: views keeping history when create_graph, else detached."""
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs, create_graph):
    if len(inputs) and isinstance(inputs[0], engine.TensorBase):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError("v is a tuple of invalid length: should be %d but got %d." % (len(other), len(v)))
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = "Entry %d in " % idx if is_other_tuple else ""
            raise RuntimeError("%sv has invalid size: should be %s but got %s."
                               % (prepend, el_other.size(), el_v.size()))


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError("The output of the user-provided function is independent of input %d. "
                               "This is not allowed in strict mode." % i)
        if not inp.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(
                    "The hessian of the user-provided function with respect to input %d is independent of "
                    "the input. This is not allowed in strict mode. You should ensure that your function is "
                    "thrice differentiable and that the hessian depends on the inputs." % i)
            if input_type == "jacobian":
                raise RuntimeError(
                    "While computing the hessian, found that the jacobian of the user-provided function with "
                    "respect to input %d is independent of the input. This is not allowed in strict mode. You "
                    "should ensure that your function is twice differentiable and that the jacobian depends "
                    "on the inputs (this would be violated by a linear function for example)." % i)
            raise RuntimeError(
                "Output %d of the user-provided function does not require gradients. The outputs must be "
                "computed in a differentiable manner from the input when running in strict mode." % i)


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """autograd.grad over the outputs that require grad; None for inputs not reached."""
    from fastgrad.autograd import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    new_outputs, new_grads = [], []
    for out, g in zip(outputs, grad_outputs):
        if out is not None and out.requires_grad:
            new_outputs.append(out)
            new_grads.append(g)
    if not new_outputs:
        return (None,) * len(inputs)
    return grad(tuple(new_outputs), inputs, tuple(new_grads), allow_unused=True, create_graph=create_graph,
                retain_graph=retain_graph)


def _zeros_like(t):
    return engine.make_tensor(np.zeros(t._data.shape, t._data.dtype))


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                if stage == "back":
                    raise RuntimeError("The output of the user-provided function is independent of input %d. "
                                       "This is not allowed in strict mode." % i)
                raise RuntimeError("The jacobian of the user-provided function is independent of input %d. "
                                   "This is not allowed in strict mode." % i)
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError("The %s of the user-provided function is independent of input %d. This is not "
                               "allowed in strict mode when create_graph=True." % (what, i))
        res.append(g)
    return tuple(res)


def _stack(tensors):
    """Differentiable stack along a new dim 0."""
    import fastgrad

    if hasattr(fastgrad, "stack"):
        return fastgrad.stack(tensors)
    n = len(tensors)
    out = None
    for k, t in enumerate(tensors):  # sum_k e_k (x) t_k: differentiable with the ops we have
        e = np.zeros((n,) + (1,) * t._data.ndim, t._data.dtype)
        e[k] = 1
        term = t.unsqueeze(0) * engine.make_tensor(e)
        out = term if out is None else out + term
    return out


def _one_hot(t, j):
    e = np.zeros(t._data.size, t._data.dtype)
    e[j] = 1
    return engine.make_tensor(e.reshape(t._data.shape))


# --------------------------------------------------------------------------- vjp / jvp
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product by reverse mode."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                               "Tensor with a single element.")
    # twin of vhp: torch's vjp/vhp: the same checks, different products
    with set_grad_enabled(True if create_graph else engine.is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_inputs_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product by forward mode (one dual pass)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
            _validate_v(v, inputs, is_inputs_tuple)
        else:
            if len(inputs) != 1 or inputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function "
                                   "is a single Tensor with a single element.")
            v = (engine.make_tensor(np.ones(inputs[0]._data.shape, inputs[0]._data.dtype)),)
        with fwAD.dual_level():
            duals = tuple(fwAD.make_dual(x, t) for x, t in zip(inputs, v))
            outputs = func(*duals)
            is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jvp")
            primals, tangents = [], []
            for i, out in enumerate(outputs):
                p, t = fwAD.unpack_dual(out)
                if t is None:
                    if strict:
                        raise RuntimeError("The output of the user-provided function is independent of the "
                                           "inputs (output %d has no tangent). This is not allowed in strict "
                                           "mode." % i)
                    t = _zeros_like(p)
                primals.append(p)
                tangents.append(t)
    outputs = _grad_postprocess(tuple(primals), create_graph)
    result = _grad_postprocess(tuple(tangents), create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(result, is_outputs_tuple)


# --------------------------------------------------------------------------- jacobian / hessian
def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: J[i][j] has shape outputs[i].shape + inputs[j].shape.

    reverse-mode: one backward per output element; forward-mode: one dual forward pass per
    input element (better when there are more outputs than inputs). vectorize=True (reverse
    mode) asks for all the rows in one batched vjp, autograd.grad(..., is_grads_batched=True);
    like PyTorch it refuses strict=True. forward-mode works with or without vectorize (PyTorch
    requires vectorize=True there)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more '
                             'performant. Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        return _jacfwd(func, inputs, create_graph, strict)
    if vectorize:
        if strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        return _jacrev_vectorized(func, inputs, create_graph)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        jac = []
        for i, out in enumerate(outputs):
            rows = tuple([] for _ in inputs)
            for j in range(out.numel()):
                vj = _autograd_grad((out,), inputs, (_one_hot(out, j),), retain_graph=True,
                                    create_graph=create_graph)
                for k, (g, inp) in enumerate(zip(vj, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError("Output %d of the user-provided function is independent of input "
                                               "%d. This is not allowed in strict mode." % (i, k))
                        g = _zeros_like(inp)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError("The jacobian of the user-provided function is independent of input "
                                           "%d. This is not allowed in strict mode when create_graph=True." % i)
                    rows[k].append(g)
            jac.append(tuple(_assemble(rows[k], out.shape, inp.shape, inp._data.dtype)
                             for k, inp in enumerate(inputs)))
        jac = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _jacrev_vectorized(func, inputs, create_graph):
    """Reverse-mode Jacobian as one batched vjp (PyTorch's vectorize=True): the cotangents are the
    rows of the identity over all outputs' elements, passed at once with is_grads_batched=True."""
    from fastgrad.autograd import grad

    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        sizes = [o._data.size for o in outputs]
        total = int(np.sum(sizes)) if sizes else 0
        diff = [i for i, o in enumerate(outputs) if o.requires_grad and sizes[i] > 0]
        batched = [None] * len(inputs)
        if diff and total:
            offsets = np.concatenate([[0], np.cumsum(sizes)])
            cotangents = []
            for i in diff:  # output i's block of the identity, shaped (total, *out_i.shape)
                e = np.zeros((total, sizes[i]), outputs[i]._data.dtype)
                e[offsets[i] + np.arange(sizes[i]), np.arange(sizes[i])] = 1
                cotangents.append(engine.make_tensor(e.reshape((total,) + outputs[i]._data.shape)))
            batched = grad(tuple(outputs[i] for i in diff), inputs, tuple(cotangents), retain_graph=True,
                           create_graph=create_graph, allow_unused=True, is_grads_batched=True)
        jac = []
        start = 0
        for i, out in enumerate(outputs):
            row = []
            for k, inp in enumerate(inputs):
                shape = tuple(out.shape) + tuple(inp.shape)
                g = batched[k]
                if g is None or sizes[i] == 0:
                    row.append(engine.make_tensor(np.zeros(shape, inp._data.dtype)))
                else:
                    row.append(g[start:start + sizes[i]].reshape(*shape))
            start += sizes[i]
            jac.append(tuple(row))
        jac = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _assemble(pieces, lead_shape, tail_shape, dtype):
    """Stack per-element derivatives into a tensor of shape lead_shape + tail_shape."""
    shape = tuple(lead_shape) + tuple(tail_shape)
    if not pieces:  # an empty output
        return engine.make_tensor(np.zeros(shape, dtype))
    return _stack(pieces).reshape(*shape)


def _jacfwd(func, inputs, create_graph, strict):
    """Forward-mode Jacobian: a dual pass with tangent e_j per input element j."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=create_graph)
        cols = None  # cols[i][k]: list of tangents of output i for basis vectors of input k
        is_outputs_tuple, out_shapes = False, None
        for k, inp in enumerate(inputs):
            for j in range(inp.numel()):
                with fwAD.dual_level():
                    args = list(inputs)
                    args[k] = fwAD.make_dual(inp, _one_hot(inp, j))
                    is_outputs_tuple, outs = _as_tuple(func(*args), "outputs of the user-provided function",
                                                       "jacobian")
                    if cols is None:
                        cols = [[[] for _ in inputs] for _ in outs]
                        out_shapes = [o.shape for o in outs]
                    for i, o in enumerate(outs):
                        t = fwAD.unpack_dual(o).tangent
                        if t is None:
                            if strict:
                                raise RuntimeError("Output %d of the user-provided function is independent of "
                                                   "input %d. This is not allowed in strict mode." % (i, k))
                            t = _zeros_like(o)
                        cols[i][k].append(t)
        if cols is None:  # every input is empty: one plain call for the output shapes
            is_outputs_tuple, outs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
            cols = [[[] for _ in inputs] for _ in outs]
            out_shapes = [o.shape for o in outs]
        jac = []
        for i, shape in enumerate(out_shapes):
            row = []
            for k, inp in enumerate(inputs):
                if cols[i][k]:
                    j = _stack(cols[i][k])  # (numel(inp), *out_shape): move the input dims last
                    nd = len(shape)
                    j = j.permute(*(list(range(1, nd + 1)) + [0])) if nd else j
                    row.append(j.reshape(*(tuple(shape) + tuple(inp.shape))))
                else:
                    row.append(engine.make_tensor(np.zeros(tuple(shape) + tuple(inp.shape), inp._data.dtype)))
            jac.append(tuple(row))
        jac = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _single_output(func, strict, name):
    def wrapped(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", name)
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, engine.TensorBase):
            raise RuntimeError("The function given to %s should return a single Tensor" % name)
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to %s should contain a single element"
                               % name)
        return out.reshape(())
    return wrapped


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function: the Jacobian (outer strategy) of its gradient."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    scalar_func = _single_output(func, strict, "hessian")

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) if t.is_leaf else t for t in inp)
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


# --------------------------------------------------------------------------- vhp / hvp
def _scalar_and_grad(func, inputs, create_graph, strict, name):
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    if is_outputs_tuple or not isinstance(outputs[0], engine.TensorBase):
        raise RuntimeError("The function given to %s should return a single Tensor" % name)
    if outputs[0].numel() != 1:
        raise RuntimeError("The Tensor returned by the function given to %s should contain a single element"
                           % name)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return outputs, jac


def _vector_arg(v, inputs, is_inputs_tuple, create_graph, name):
    if v is not None:
        _, v = _as_tuple(v, "v", name)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
        return v
    if len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                           "Tensor with a single element.")
    return (engine.make_tensor(np.ones(inputs[0]._data.shape, inputs[0]._data.dtype)),)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): reverse over reverse."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _vector_arg(v, inputs, is_inputs_tuple, create_graph, "vhp")
        outputs, jac = _scalar_and_grad(func, inputs, create_graph, strict, "vhp")
    # twin of vjp: torch's vjp/vhp: the same checks, different products
    with set_grad_enabled(True if create_graph else engine.is_grad_enabled()):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _tuple_postprocess(outputs, False), _tuple_postprocess(result, is_inputs_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): forward over reverse (the tangent of the gradient along v)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _vector_arg(v, inputs, is_inputs_tuple, create_graph, "hvp")
        with fwAD.dual_level():
            duals = tuple(fwAD.make_dual(x, t) for x, t in zip(inputs, v))
            outputs, jac = _scalar_and_grad(func, duals, create_graph, strict, "hvp")
            result = []
            for i, g in enumerate(jac):
                t = None if g is None else fwAD.unpack_dual(g).tangent
                if t is None:
                    if strict:
                        raise RuntimeError("The jacobian of the user-provided function is independent of input "
                                           "%d. This is not allowed in strict mode." % i)
                    t = _zeros_like(inputs[i])
                result.append(t)
            outputs = tuple(fwAD.unpack_dual(o).primal for o in outputs)
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(tuple(result), create_graph)
    return _tuple_postprocess(outputs, False), _tuple_postprocess(result, is_inputs_tuple)
