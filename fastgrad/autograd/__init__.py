"""fastgrad.autograd: backward, grad, Function, grad modes (PyTorch's torch.autograd)."""
import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: F401
from fastgrad.autograd import graph, profiler  # noqa: F401,E402
from fastgrad.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                                         no_grad, set_grad_enabled)

__all__ = ["Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "gradcheck", "gradgradcheck", "detect_anomaly", "set_detect_anomaly"]


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, engine.TensorBase):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grads, is_grads_batched=False):
    grads = (None,) * len(outputs) if grads is None else _as_tuple(grads)
    if len(grads) != len(outputs):
        raise RuntimeError("grad can be implicitly created only for scalar outputs" if not grads else
                           "got %d tensors and %d gradients" % (len(outputs), len(grads)))
    out = []
    for i, (t, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if t._requires_grad and t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if _dtype.kind(t._data.dtype) not in "fc":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs but got %s"
                                   % t.dtype)
            shape = t._data.shape  # () in the usual case: np.array is a C call, np.ones Python
            g = engine.make_tensor(np.array(1, t._data.dtype) if shape == () else np.ones(shape, t._data.dtype))
        else:
            if not isinstance(g, engine.TensorBase):
                g = engine.make_tensor(np.asarray(g, dtype=t._data.dtype))
            if g._data.shape != t._data.shape:
                raise RuntimeError("Mismatch in shape: grad_output[%d] has a shape of %r and output[%d] "
                                   "has a shape of %r." % (i, g.shape, i, t.shape))
            if g._data.dtype != t._data.dtype:
                g = g.to(t.dtype)
        out.append(g)
    return tuple(out)


def _check_outputs(outputs):
    for i, t in enumerate(outputs):
        if not isinstance(t, engine.TensorBase):
            raise TypeError("backward(): expected Tensors, got %s" % type(t).__name__)
        if not t._requires_grad:
            raise RuntimeError("element %d of tensors does not require grad and does not have a grad_fn" % i)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None,
             inputs=None):
    """Accumulate the gradients of tensors w.r.t. graph leaves into their .grad."""
    outputs = _as_tuple(tensors)
    if grad_variables is not None:
        grad_tensors = grad_variables
    _check_outputs(outputs)
    grads = _make_grads(outputs, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    inputs = _as_tuple(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    engine.run_backward(outputs, grads, bool(retain_graph), bool(create_graph), inputs, True)


engine.register("autograd_backward", backward)  # Tensor.backward's general case


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of outputs w.r.t. inputs, returned as a tuple (.grad is not touched).

    is_grads_batched=True: grad_outputs carry a leading batch dimension; the result is the
    stack of one vjp per batch entry (a loop here, vmap in PyTorch)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if is_grads_batched:
        return _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                             materialize_grads)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    for t in inputs:
        if not isinstance(t, engine.TensorBase):
            raise TypeError("grad(): inputs must be Tensors")
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    _check_outputs(outputs)
    grads = _make_grads(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    results = engine.run_backward(outputs, grads, bool(retain_graph), bool(create_graph), inputs, False)
    out = []
    for t, g in zip(inputs, results):
        if g is None:
            if materialize_grads:
                g = engine.make_tensor(np.zeros(t._data.shape, t._data.dtype))
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the "
                                   "graph. Set allow_unused=True if this is the desired behavior.")
        elif g._data.shape != t._data.shape:
            g = g.expand(t._data.shape)
        out.append(g)
    return tuple(out)


def _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused, materialize_grads):
    from fastgrad.autograd.functional import _stack

    gos = _as_tuple(grad_outputs)
    n = gos[0].shape[0]
    per = []
    for b in range(n):
        keep = True if b < n - 1 else retain_graph
        per.append(grad(outputs, inputs, tuple(g[b] for g in gos), retain_graph=keep, create_graph=create_graph,
                        allow_unused=allow_unused, materialize_grads=materialize_grads))
    out = []
    for k in range(len(inputs)):
        col = [p[k] for p in per]
        out.append(None if all(c is None for c in col) else
                   _stack([c if c is not None else engine.make_tensor(np.zeros(inputs[k]._data.shape,
                                                                               inputs[k]._data.dtype))
                           for c in col]))
    return tuple(out)


class set_detect_anomaly:  # noqa: N801
    """Anomaly detection on or off, as a call or a context manager (restores on exit).

    When on, each recorded op keeps the stack of its forward call, and a backward that
    produces NaN raises naming that op (e.g. 'DivBackward') with the forward traceback."""

    def __init__(self, mode, check_nan=True):
        self._prev = engine.state().anomaly
        engine.state().anomaly = bool(mode) and bool(check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        engine.state().anomaly = self._prev
        return False


class detect_anomaly:  # noqa: N801
    """Context manager (and decorator) enabling anomaly detection: see set_detect_anomaly."""

    def __init__(self, check_nan=True):
        self._check_nan = check_nan

    def __enter__(self):
        self._prev = engine.state().anomaly
        engine.state().anomaly = bool(self._check_nan)

    def __exit__(self, *exc):
        engine.state().anomaly = self._prev
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__(self._check_nan):
                return func(*args, **kwargs)
        return wrapper


def is_anomaly_enabled():
    return engine.state().anomaly


def variable(*args, **kwargs):
    raise RuntimeError("torch.autograd.variable(...) is deprecated, use torch.tensor(...) instead")


class set_multithreading_enabled:  # noqa: N801
    """Context manager (and call) for multithreaded backward: fastgrad's backward runs on the calling
    thread, so the setting is recorded and has no effect."""

    _enabled = True

    def __init__(self, mode):
        self._prev, set_multithreading_enabled._enabled = set_multithreading_enabled._enabled, bool(mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        set_multithreading_enabled._enabled = self._prev
        return False

    def clone(self):
        return self.__class__(set_multithreading_enabled._enabled)


from fastgrad.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
from fastgrad.autograd import forward_ad, functional  # noqa: E402,F401
from fastgrad.autograd._variable import Variable  # noqa: E402,F401
