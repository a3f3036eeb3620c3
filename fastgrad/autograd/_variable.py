"""The legacy torch.autograd.Variable: every Tensor is one (isinstance), and Variable(t) returns a
tensor sharing t's memory, detached, with requires_grad as asked."""
import warnings

from fastgrad._backend import engine


class _VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, engine.TensorBase)


class Variable(metaclass=_VariableMeta):
    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from fastgrad import empty

        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            return empty(0).requires_grad_(requires_grad)
        if not isinstance(data, engine.TensorBase):
            raise TypeError("Variable data has to be a tensor, but got %s" % type(data).__name__)
        return data.detach().requires_grad_(requires_grad)
