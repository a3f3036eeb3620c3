"""gradcheck / gradgradcheck: analytical gradients against central finite differences."""
import numpy as np

from fastgrad._backend import engine


class GradcheckError(RuntimeError):
    pass


def _flat_outputs(out):
    return (out,) if isinstance(out, engine.TensorBase) else tuple(out)


def _numerical_jacobian(func, inputs, idx, eps):
    """J[k] for output k: (numel(out_k), numel(inputs[idx])) by central differences."""
    x = inputs[idx]
    flat = x._data.reshape(-1)
    base = [o._data.copy() for o in _flat_outputs(func(*inputs))]
    cols = [np.zeros((b.size, flat.size)) for b in base]
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = [o._data.astype(np.float64).reshape(-1) for o in _flat_outputs(func(*inputs))]
        flat[j] = orig - eps
        minus = [o._data.astype(np.float64).reshape(-1) for o in _flat_outputs(func(*inputs))]
        flat[j] = orig
        for k in range(len(base)):
            cols[k][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return cols


def _analytical_jacobian(func, inputs, idx):
    from fastgrad.autograd import grad

    outs = _flat_outputs(func(*inputs))
    x = inputs[idx]
    rows = []
    for o in outs:
        jac = np.zeros((o._data.size, x._data.size))
        if o._requires_grad:
            for r in range(o._data.size):
                go = np.zeros(o._data.size, o._data.dtype)
                go[r] = 1
                (g,) = grad(o, x, engine.make_tensor(go.reshape(o._data.shape)), retain_graph=True,
                            allow_unused=True)
                if g is not None:
                    jac[r] = g._data.reshape(-1)
        rows.append(jac)
    return rows


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Compare the gradients of func at inputs with central differences (use float64 inputs)."""
    inputs = (inputs,) if isinstance(inputs, engine.TensorBase) else tuple(inputs)
    for i, x in enumerate(inputs):
        if not (isinstance(x, engine.TensorBase) and x._requires_grad):
            continue
        if x._data.dtype != np.float64:
            import warnings

            warnings.warn("Input #%d requires gradient and is not a double precision floating point. "
                          "This check will likely fail if all the inputs are not of double precision "
                          "floating point." % i, stacklevel=2)
        num = _numerical_jacobian(func, inputs, i, eps)
        ana = _analytical_jacobian(func, inputs, i)
        for k, (n, a) in enumerate(zip(num, ana)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(
                        "Jacobian mismatch for output %d with respect to input %d,\nnumerical:%s\nanalytical:%s\n"
                        % (k, i, n, a))
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """gradcheck of the map (inputs, grad_outputs) -> gradients of func (second derivatives)."""
    from fastgrad.autograd import grad

    inputs = (inputs,) if isinstance(inputs, engine.TensorBase) else tuple(inputs)
    outs = _flat_outputs(func(*inputs))
    if grad_outputs is None:
        rs = np.random.RandomState(0)
        grad_outputs = tuple(engine.make_tensor(rs.standard_normal(o._data.shape).astype(o._data.dtype), True)
                             for o in outs)
    grad_outputs = (grad_outputs,) if isinstance(grad_outputs, engine.TensorBase) else tuple(grad_outputs)
    diff = [x for x in inputs if isinstance(x, engine.TensorBase) and x._requires_grad]
    n_in = len(inputs)

    def first_grads(*args):
        ins, gos = args[:n_in], args[n_in:]
        o = _flat_outputs(func(*ins))
        dif = [x for x in ins if isinstance(x, engine.TensorBase) and x._requires_grad]
        gs = grad(o, dif, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    del diff
    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
