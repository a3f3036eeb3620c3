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
