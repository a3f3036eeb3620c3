"""gradcheck / gradgradcheck (PyTorch's signatures): analytical derivatives against central
finite differences.

The analytical Jacobian comes from reverse mode (one vjp per output element,
check_backward_ad) and, with check_forward_ad=True, from forward mode (one dual pass per
input element). fast_mode=True compares the scalars v^T J u for random u, v instead of
whole Jacobians (one finite difference and one vjp/jvp per input/output pair).
check_batched_grad / check_batched_forward_grad / masked are accepted and ignored (there is
no vmap); undefined output gradients are always exercised, since each output is
differentiated alone and the others get None.
"""
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine


class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when raise_exception=True and a check fails."""


def _as_tuple(x):
    if isinstance(x, engine.TensorBase):
        return (x,)
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _outputs(out):
    """The differentiable (floating point) outputs of func, as a tuple."""
    return tuple(o for o in _as_tuple(out) if isinstance(o, engine.TensorBase) and _dtype.kind(o._data.dtype) in "fc")


def _diff_inputs(inputs):
    return [i for i, x in enumerate(inputs) if isinstance(x, engine.TensorBase) and x._requires_grad]


def _eval(func, inputs):
    return [o._data.astype(np.float64).reshape(-1) for o in _outputs(func(*inputs))]


def _numerical_jacobian(func, inputs, idx, eps):
    """J[k] of shape (numel(out_k), numel(inputs[idx])) by central differences."""
    x = inputs[idx]
    data = x._data
    n = data.size
    cols = None
    for j, pos in enumerate(np.ndindex(*data.shape)):
        orig = data[pos].copy()
        data[pos] = orig + eps
        plus = _eval(func, inputs)
        data[pos] = orig - eps
        minus = _eval(func, inputs)
        data[pos] = orig
        if cols is None:
            cols = [np.zeros((p.size, n)) for p in plus]
        for k in range(len(plus)):
            cols[k][:, j] = (plus[k] - minus[k]) / (2 * eps)
    if cols is None:  # an empty input
        cols = [np.zeros((o.size, 0)) for o in _eval(func, inputs)]
    return cols


def _numerical_directional(func, inputs, idx, u, eps):
    """(f(x + eps u) - f(x - eps u)) / 2 eps for input idx, per output."""
    data = inputs[idx]._data
    orig = data.copy()
    data[...] = orig + eps * u
    plus = _eval(func, inputs)
    data[...] = orig - eps * u
    minus = _eval(func, inputs)
    data[...] = orig
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus)]


def _vjp(out, inp, v, retain=True):
    """v^T d out / d inp as a flat float64 array (zeros when unreachable)."""
    from fastgrad.autograd import grad

    if not out._requires_grad:
        return np.zeros(inp._data.size), None
    (g,) = grad(out, inp, engine.make_tensor(v.reshape(out._data.shape)), retain_graph=retain, allow_unused=True)
    if g is None:
        return np.zeros(inp._data.size), None
    return g._data.astype(np.float64).reshape(-1), g


def _analytical_jacobian(func, inputs, idx, nondet_tol, check_grad_dtypes):
    """Rows by reverse mode: J[k][r] = e_r^T d out_k / d input; also checks reentrancy and dtypes."""
    outs = _outputs(func(*inputs))
    x = inputs[idx]
    jacs = []
    for k, o in enumerate(outs):
        jac = np.zeros((o._data.size, x._data.size))
        for r in range(o._data.size):
            e = np.zeros(o._data.size, o._data.dtype)
            e[r] = 1
            jac[r], g = _vjp(o, x, e)
            if g is not None:
                if check_grad_dtypes and g._data.dtype != x._data.dtype:
                    raise GradcheckError("Gradient has dtype mismatch: input %d is %s, its gradient is %s"
                                         % (idx, x.dtype, g.dtype))
                if g._data.shape != x._data.shape:
                    raise GradcheckError("Gradient has shape mismatch: input %d has shape %s, its gradient %s"
                                         % (idx, list(x._data.shape), list(g._data.shape)))
            again, _ = _vjp(o, x, e)
            if np.max(np.abs(again - jac[r]), initial=0.0) > nondet_tol:
                raise GradcheckError(
                    "Backward is not reentrant, i.e., running backward with same input and grad_output "
                    "multiple times gives different values, although analytical gradient matches numerical "
                    "gradient. The tolerance for nondeterminism was %s." % nondet_tol)
        jacs.append(jac)
    return jacs


def _forward_jacobian(func, inputs, idx):
    """Columns by forward mode: J[k][:, j] = tangent of out_k for the tangent e_j on input idx."""
    from fastgrad.autograd import forward_ad as fwAD

    x = inputs[idx]
    n = x._data.size
    jacs = None
    for j in range(n):
        e = np.zeros(n, x._data.dtype)
        e[j] = 1
        with fwAD.dual_level():
            args = list(inputs)
            args[idx] = fwAD.make_dual(x, engine.make_tensor(e.reshape(x._data.shape)))
            outs = _outputs(func(*args))
            if jacs is None:
                jacs = [np.zeros((o._data.size, n)) for o in outs]
            for k, o in enumerate(outs):
                t = fwAD.unpack_dual(o).tangent
                if t is not None:
                    jacs[k][:, j] = t._data.astype(np.float64).reshape(-1)
    if jacs is None:
        jacs = [np.zeros((o._data.size, 0)) for o in _outputs(func(*inputs))]
    return jacs


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def _mismatch(kind, k, i, num, ana):
    return ("%s mismatch for output %d with respect to input %d,\nnumerical:%s\nanalytical:%s\n"
            % (kind, k, i, num, ana))


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Check the derivatives of func at inputs against central differences (use float64 inputs).

    Returns True, or raises GradcheckError (returns False with raise_exception=False)."""
    inputs = _as_tuple(inputs)
    diff = _diff_inputs(inputs)
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the "
                         "them have requires_grad=True.")
    for i in diff:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn("Input #%d requires gradient and is not a double precision floating point. This "
                          "check will likely fail if all the inputs are not of double precision floating point."
                          % i, stacklevel=2)
    try:
        if fast_mode:
            return _fast_gradcheck(func, inputs, diff, eps, atol, rtol, nondet_tol, check_forward_ad,
                                   check_backward_ad, raise_exception)
        for i in diff:
            num = _numerical_jacobian(func, inputs, i, eps)
            if check_backward_ad:
                ana = _analytical_jacobian(func, inputs, i, nondet_tol, check_grad_dtypes)
                for k, (n, a) in enumerate(zip(num, ana)):
                    if not np.allclose(a, n, rtol=rtol, atol=atol):
                        return _fail(_mismatch("Jacobian", k, i, n, a), raise_exception)
            if check_forward_ad:
                fwd = _forward_jacobian(func, inputs, i)
                for k, (n, a) in enumerate(zip(num, fwd)):
                    if not np.allclose(a, n, rtol=rtol, atol=atol):
                        return _fail(_mismatch("Jacobian computed with forward mode", k, i, n, a),
                                     raise_exception)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


_FAST_NOTE = ("\nThe above quantities relating the numerical and analytical jacobians are computed in fast "
              "mode (v^T J u for random unit vectors u, v). Rerun with fast_mode=False to see the full "
              "Jacobians.\n")


def _fast_gradcheck(func, inputs, diff, eps, atol, rtol, nondet_tol, check_forward_ad, check_backward_ad,
                    raise_exception):
    """Compare v^T J u (random unit u per input, v per output) analytically and numerically."""
    from fastgrad.autograd import forward_ad as fwAD

    rs = np.random.RandomState(0)
    outs = _outputs(func(*inputs))
    vs = [rs.standard_normal(o._data.size) for o in outs]
    vs = [v / max(np.linalg.norm(v), 1e-12) for v in vs]
    for i in diff:
        x = inputs[i]
        u = rs.standard_normal(x._data.shape)
        u = u / max(np.linalg.norm(u), 1e-12)
        num = _numerical_directional(func, inputs, i, u, eps)
        if check_backward_ad:
            outs = _outputs(func(*inputs))
            for k, o in enumerate(outs):
                g, _ = _vjp(o, x, vs[k].astype(o._data.dtype))
                again, _ = _vjp(o, x, vs[k].astype(o._data.dtype))
                if np.max(np.abs(again - g), initial=0.0) > nondet_tol:
                    return _fail("Backward is not reentrant (fast mode), tolerance %s." % nondet_tol,
                                 raise_exception)
                a, n = float(g @ u.reshape(-1)), float(vs[k] @ num[k])
                if not np.isclose(a, n, rtol=rtol, atol=atol):
                    return _fail(_mismatch("Jacobian", k, i, n, a) + _FAST_NOTE, raise_exception)
        if check_forward_ad:
            with fwAD.dual_level():
                args = list(inputs)
                args[i] = fwAD.make_dual(x, engine.make_tensor(u.astype(x._data.dtype)))
                fouts = _outputs(func(*args))
                for k, o in enumerate(fouts):
                    t = fwAD.unpack_dual(o).tangent
                    a = 0.0 if t is None else float(vs[k] @ t._data.astype(np.float64).reshape(-1))
                    n = float(vs[k] @ num[k])
                    if not np.isclose(a, n, rtol=rtol, atol=atol):
                        return _fail(_mismatch("Jacobian computed with forward mode", k, i, n, a) + _FAST_NOTE,
                                     raise_exception)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False, masked=False):
    """gradcheck of (inputs, grad_outputs) -> input gradients of func (second derivatives).

    check_rev_over_rev checks them by reverse mode, check_fwd_over_rev by forward mode."""
    from fastgrad.autograd import grad

    inputs = _as_tuple(inputs)
    outs = _outputs(func(*inputs))
    if grad_outputs is None:
        rs = np.random.RandomState(0)
        grad_outputs = tuple(
            engine.make_tensor(rs.standard_normal(o._data.shape).astype(o._data.dtype), True) for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    if gen_non_contig_grad_outputs:  # same values, non-contiguous storage
        grad_outputs = tuple(_non_contiguous(g) for g in grad_outputs)
    n_in = len(inputs)

    def first_grads(*args):
        ins, gos = args[:n_in], args[n_in:]
        o = _outputs(func(*ins))
        dif = [x for x in ins if isinstance(x, engine.TensorBase) and x._requires_grad]
        keep = [k for k in range(len(o)) if o[k]._requires_grad]
        if not keep:
            return ()
        gs = grad(tuple(o[k] for k in keep), dif, tuple(gos[k] for k in keep), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grads, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol, check_grad_dtypes=check_grad_dtypes,
                     check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev,
                     fast_mode=fast_mode)


def _non_contiguous(t):
    data = np.repeat(t._data[..., None], 2, axis=-1)[..., 0]
    out = engine.make_tensor(data, t._requires_grad)
    return out
