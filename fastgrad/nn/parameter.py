"""nn.Parameter: a Tensor subclass that a Module registers as one of its parameters."""
from fastgrad._backend import engine
from fastgrad._tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a module parameter (requires_grad=True by default); shares data's storage."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from fastgrad import empty

            data = empty(0)
        # Tensor._make_subclass would call cls.__new__ again; build the instance directly.
        t = engine.TensorBase.__new__(cls)
        # twin of _tensor.py Tensor._make_subclass: torch's two entry points
        t._data = data._data
        t._vc = data._vc
        t._requires_grad = False
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data=None, requires_grad=True):
        pass  # everything happens in __new__ (Tensor.__init__ would rebuild the data)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        import numpy as np

        result = type(self)(engine.make_tensor(np.array(self._data, copy=True)), self._requires_grad)
        if self._grad is not None:
            result._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        import numpy as np

        return (_rebuild_parameter, (np.array(self._data), self._requires_grad))


def _rebuild_parameter(data, requires_grad):
    return Parameter(engine.make_tensor(data), requires_grad)


# --------------------------------------------------------------------------- torch 2.5+ Buffer, lazy tensors
class _BufferMeta(type):
    """isinstance(t, Buffer) is true for any tensor made by Buffer(...) (it carries _is_buffer)."""

    def __instancecheck__(self, instance):
        if self is Buffer and isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False):
            return True
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """A tensor that a Module registers as a buffer when assigned as its attribute:
    `self.x = nn.Buffer(t, persistent=False)`. Buffer(t) returns t detached (keeping its
    requires_grad), marked persistent or not, as torch's."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            from fastgrad import empty

            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


class UninitializedTensorMixin:
    """A parameter or buffer whose shape is not known yet (lazy modules): materialize(shape)
    gives it data and turns it into cls_to_become."""

    def materialize(self, shape, device=None, dtype=None):
        import numpy as np

        from fastgrad import _dtype

        np_dtype = self._data.dtype if dtype is None else _dtype.to_dtype(dtype).np
        self._data = np.empty(tuple(shape), np_dtype)
        self._vc.value += 1
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually happens in "
            "`load_state_dict` when trying to load an uninitialized parameter into an initialized one. Call "
            "`forward` to initialize the parameters before accessing their attributes.")

    def share_memory_(self):
        raise RuntimeError(
            "Can't share memory on an uninitialized parameter or buffer. Call `forward` to initialize the "
            "parameters before calling `module.share_memory()`.")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

    def _converted(self, out):
        """A dtype conversion of a lazy tensor is a lazy tensor of the new dtype (as torch's)."""
        if out is self:
            return self
        kw = {"persistent": self.persistent} if hasattr(self, "persistent") else {}
        return type(self)(self.requires_grad, None, out.dtype, **kw)

    def to(self, *args, **kwargs):
        return self._converted(super().to(*args, **kwargs))

    def type(self, dtype=None, *args, **kwargs):
        out = super().type(dtype)
        return out if dtype is None else self._converted(out)

    def float(self):
        return self._converted(super().float())

    def double(self):
        return self._converted(super().double())

    def half(self):
        return self._converted(super().half())

    def __reduce_ex__(self, proto):
        return (self.__class__, (self.requires_grad,))


def is_lazy(param):
    """Whether param is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


def _empty(dtype):
    from fastgrad import empty

    return empty(0, dtype=dtype)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet; materialize() makes it a Parameter."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return Parameter.__new__(cls, _empty(dtype), requires_grad)

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, None, self.dtype)
        memo[id(self)] = result
        return result


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet; materialize() makes it a Tensor."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        ret = Tensor._make_subclass(cls, _empty(dtype), requires_grad)
        ret.persistent = persistent
        ret._is_buffer = True
        return ret

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        pass
