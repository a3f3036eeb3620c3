"""fastgrad.autograd.Function: user-defined ops with forward/backward (and jvp) static methods.

Built-in ops use the same class (with ``_builtin = True``: their forward takes tensors and
returns ndarrays, wrapped by the tape), so there is one mechanism for both.
"""
import functools

from fastgrad._backend import engine


class FunctionCtx:
    """Type of ``ctx`` for documentation; at run time ctx is the graph node itself.

    ctx API (see fastgrad._engine.FunctionNode): save_for_backward, saved_tensors (checked
    against in-place modification), needs_input_grad, mark_non_differentiable, mark_dirty,
    set_materialize_grads, and save_for_forward (what a jvp reads as saved_tensors).
    """


def _save_for_forward(ctx, *tensors):
    """Tensors the jvp reads back from ctx.saved_tensors (PyTorch's ctx.save_for_forward)."""
    ctx._saved_for_forward = tuple(tensors)


class _SetupContextStyle:
    """Adapter for PyTorch 2's style: forward(*args) without ctx, then
    setup_context(ctx, inputs, output) fills the ctx. The tape sees a classic Function."""

    _builtin = False
    _array_backward = None
    _grad_op = None

    def __init__(self, cls):
        self.cls = cls
        self.__name__ = cls.__name__
        self._backward_cls = cls._backward_cls
        self._info = engine.op_info(self)

    def forward(self, ctx, *args, **kwargs):
        output = self.cls.forward(*args, **kwargs)
        self.cls.setup_context(ctx, args, output)
        return output

    def backward(self, ctx, *grad_outputs):
        return self.cls.backward(ctx, *grad_outputs)

    def jvp(self, ctx, *tangents):
        return self.cls.jvp(ctx, *tangents)


class Function:
    """Base class of custom autograd Functions (PyTorch's torch.autograd.Function).

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as
    static methods, optionally ``jvp(ctx, *tangents)``, and are called with ``.apply``.
    PyTorch 2's style also works: ``forward(*args)`` without ctx plus
    ``setup_context(ctx, inputs, output)``.
    """

    _builtin = False
    _plain = False  # built-in ops only (fastgrad._ops.base.Op)
    _array_backward = None  # built-in ops only (fastgrad._ops.base.Op)
    _grad_op = None  # built-in ops only (fastgrad._ops.base.Op)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(cls.__name__ + "Backward", (engine.FunctionNode,),
                                 {"__module__": cls.__module__, "__qualname__": cls.__name__ + "Backward",
                                  "save_for_forward": _save_for_forward})
        if cls.setup_context is not Function.setup_context:
            style = _SetupContextStyle(cls)
            cls.apply = classmethod(lambda c, *args, **kwargs: engine.function_apply(style, args, kwargs))
        cls._info = engine.op_info(cls)  # the tape reads the class attributes from here

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method, and call it with .apply()."
        )

    apply = classmethod(engine.apply_op)  # apply(*args, **kwargs): run forward, record a node

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override (with a ctx-less forward) to use PyTorch 2's setup_context style."""
        raise NotImplementedError("setup_context is not overridden")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD.")

    @classmethod
    def vjp(cls, ctx, *grad_outputs):
        return cls.backward(ctx, *grad_outputs)

    @classmethod
    def jvp(cls, ctx, *tangents):
        """Forward mode: the outputs' tangents from the inputs' (one per forward input;
        zeros for tensors without a tangent, None for non-tensors)."""
        if cls._builtin:
            raise RuntimeError("%s has no forward-mode (jvp) rule" % cls.__name__)
        raise RuntimeError("You must implement the jvp function for custom autograd.Function to use it "
                           "with forward mode AD (%s)." % cls.__name__)


def once_differentiable(fn):
    """Mark a backward as not differentiable: it runs under no_grad, and a double backward
    through it raises instead of being silently wrong."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from fastgrad.autograd.grad_mode import no_grad

        with no_grad():
            outputs = fn(ctx, *args)
        if not engine.is_grad_enabled():
            return outputs
        if not any(isinstance(a, engine.TensorBase) and a.requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        res = tuple(_NotDifferentiable.apply(o, *args) if isinstance(o, engine.TensorBase) else o
                    for o in outs)
        return res[0] if single else res

    return wrapper


class _NotDifferentiable(Function):
    @staticmethod
    def forward(ctx, out, *inputs):
        return out.detach()

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            "trying to differentiate twice a function that was marked with @once_differentiable"
        )
