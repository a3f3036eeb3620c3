"""What fastgrad.compile patches while it records a call (restored after it): the calls that
change state without an op (backward, optimizer steps, zero_grad, gradient clipping, .grad
reads and assignments) become events of the program; reading a tensor's value in Python,
autograd.grad and module hooks fail the recording."""
import contextlib

from fastgrad._backend import engine
from fastgrad._compile._record import GRAD, EV, Ref, gen_swap
from fastgrad._compile._graph import plan_backward
TensorBase = engine.TensorBase

_MISSING = object()


def _subclasses(cls):
    out, todo = [cls], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.append(sub)
                todo.append(sub)
    return out


@contextlib.contextmanager
def watching(rec):
    import fastgrad
    from fastgrad import autograd
    from fastgrad.nn.modules.module import Module
    from fastgrad.nn.utils import clip_grad
    import fastgrad.nn.utils as nn_utils
    from fastgrad.optim.optimizer import Optimizer

    saved = []

    def patch(obj, name, new):
        saved.append((obj, name, obj.__dict__.get(name, _MISSING)))
        setattr(obj, name, new)

    Tensor = fastgrad.Tensor
    orig_backward = Tensor.backward

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if rec.failed is None and rec.active():
            rec.check_watched()
            _record_backward(rec, self, gradient, create_graph, inputs)
        with _quiet(rec):
            return orig_backward(self, gradient, retain_graph, create_graph, inputs)

    patch(Tensor, "backward", backward)

    grad_prop = engine.TensorBase.grad

    def grad_get(self):
        g = grad_prop.__get__(self)
        if g is not None and rec.failed is None and rec.active():
            leaf = _leaf_ref(rec, self)
            if leaf is not None:
                s = rec._new_slot(g, (GRAD, leaf))
                rec.event("readgrad", (s, leaf))
        return g

    def grad_set(self, value):
        if rec.failed is None and rec.active():
            if value is not None:
                rec.fail("a tensor assigned to .grad")
            else:
                leaf = _leaf_ref(rec, self)
                if leaf is not None:
                    rec.event("setgrad", leaf)
        grad_prop.__set__(self, value)

    def grad_del(self):
        grad_set(self, None)

    patch(Tensor, "grad", property(grad_get, grad_set, grad_del, grad_prop.__doc__))

    def reader(name):
        orig = getattr(Tensor, name)

        def read(self, *a, **k):
            if rec.active() and rec.failed is None:
                rec.fail("Tensor.%s() reads a tensor's value in Python (data-dependent control flow "
                         "cannot be replayed)" % name.strip("_"))
            return orig(self, *a, **k)

        patch(Tensor, name, read)

    for name in ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__"):
        reader(name)

    def refusing(mod, name, why):
        orig = getattr(mod, name)

        def refuse(*a, **k):
            if rec.active():
                rec.fail(why)
            return orig(*a, **k)

        patch(mod, name, refuse)

    refusing(autograd, "grad", "autograd.grad inside the compiled call")
    refusing(autograd, "backward", "autograd.backward inside the compiled call (use loss.backward())")

    def event_method(orig, what):
        def call(self, *a, **k):
            if rec.failed is None and rec.active():
                if what == "step" and (a and a[0] is not None or k.get("closure") is not None):
                    rec.fail("an optimizer step with a closure")
                else:
                    rec.check_watched()
                    rec.event("call", (orig, (self,) + a, k, None))
            with _quiet(rec):
                return orig(self, *a, **k)
        return call

    for cls in _subclasses(Optimizer):
        for what in ("step", "zero_grad"):
            if what in cls.__dict__:
                patch(cls, what, event_method(cls.__dict__[what], what))
    patch(Module, "zero_grad", event_method(Module.__dict__["zero_grad"], "zero_grad"))
    for opt in getattr(rec, "optimizers", ()):  # an instance's own step (an LR scheduler's wrapper)
        if "step" in opt.__dict__:
            patch(opt, "step", _instance_event(rec, opt.__dict__["step"]))

    def event_function(orig):
        def call(parameters, *a, **k):
            params = [parameters] if isinstance(parameters, TensorBase) else list(parameters)
            if rec.failed is None and rec.active():
                rec.check_watched()
                ev = [orig, (params,) + a, k, None]
                rec.event("call", ev)
            with _quiet(rec):
                out = orig(params, *a, **k)
            if rec.failed is None and rec.active() and isinstance(out, TensorBase):
                ev[3] = rec._new_slot(out, (EV, len(rec.steps) - 1))
            return out
        return call

    for name in ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"):
        f = event_function(getattr(clip_grad, name))
        patch(clip_grad, name, f)
        patch(nn_utils, name, f)

    orig_call = Module.__call__

    def module_call(self, *a, **k):
        if rec.active():
            rec.modules[id(self)] = self
        if (self._forward_pre_hooks or self._forward_hooks) and rec.active():
            rec.fail("forward hooks on %s" % type(self).__name__)
        return orig_call(self, *a, **k)

    patch(Module, "__call__", module_call)
    gen, real_rng = gen_swap(rec)
    engine.set_trace_hook(rec.op)
    try:
        yield
    finally:
        engine.set_trace_hook(None)
        if getattr(gen._rng, "_real", None) is real_rng:
            gen._rng = real_rng
        for obj, name, old in reversed(saved):
            if old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)


def _instance_event(rec, orig):
    def call(*a, **k):
        if rec.failed is None and rec.active():
            rec.check_watched()
            rec.event("call", (orig, a, k, None))
        with _quiet(rec):
            return orig(*a, **k)
    return call


@contextlib.contextmanager
def _quiet(rec):
    rec.quiet += 1
    try:
        yield
    finally:
        rec.quiet -= 1
        if rec.active():
            rec.refresh()


def _leaf_ref(rec, t):
    """A Ref to leaf tensor t: the call's input, or a tensor from outside it (LIVE)."""
    s = rec.slot_of.get(id(t))
    if s is None:
        s = rec.slot(t)
    return Ref(s, t._requires_grad)


def _record_backward(rec, root, gradient, create_graph, inputs):
    if create_graph:
        return rec.fail("backward(create_graph=True) inside the compiled call")
    if inputs is not None:
        return rec.fail("backward(inputs=...) inside the compiled call")
    s = rec.slot_of.get(id(root))
    if s is None or root._grad_fn is None:
        return rec.fail("backward of a tensor the compiled call did not make")
    g = None
    if gradient is not None:
        if not isinstance(gradient, TensorBase):
            return rec.fail("backward with a gradient that is not a tensor")
        g = Ref(rec.slot(gradient), False)
    elif root._data.ndim != 0 or root._data.dtype.kind != "f":
        return  # the eager call raises torch's error
    try:
        plan = plan_backward(rec, [root._grad_fn], [root._output_nr], accumulate=True)
    except Exception as e:  # noqa: BLE001  (Unsupported, or what the graph walk met)
        return rec.fail(str(e))
    rec.event("backward", (s, g, plan))
