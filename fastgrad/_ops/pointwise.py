"""Fused pointwise arithmetic of three tensors: addcmul (input + value * tensor1 * tensor2) and
addcdiv (input + value * tensor1 / tensor2), with PyTorch's argument checks, dtype promotion
(the three tensors' common dtype; value cast to it) and broadcasting. They compose Add, Mul and
Div, so their gradients (and double backward) are those ops'; torch's formulas are the same
products: d/dtensor1 = g * value * tensor2, d/dtensor2 of addcdiv = -g * value * tensor1 / tensor2^2."""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import as_tensor_of, check_broadcast, is_tensor, scalar_type_name
from fastgrad._ops import unsigned as U

_ADDCDIV_INT = ("Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
                "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
                "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior "
                "is just the latter implementation: (input + value * tensor1 / tensor2), for all dtypes.")


def _check_tensors(name, args, method):
    """torch's TypeError for a non-tensor operand; a method's positions do not count self."""
    for pos, (pname, t) in enumerate(args, start=1):
        if not is_tensor(t):
            raise TypeError("%s(): argument '%s' (position %d) must be Tensor, not %s"
                            % (name, pname, pos - method, type(t).__name__))


def _operands(name, input, tensor1, tensor2, value, method):
    _check_tensors(name, (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)), method)
    if is_tensor(value):
        if value._data.ndim:
            raise TypeError("%s(): argument 'value' must be Number, not Tensor" % name)
        value = value.item()
    elif not isinstance(value, numbers.Number):
        raise TypeError("%s(): argument 'value' must be Number, not %s" % (name, type(value).__name__))
    shape = input._data.shape
    for t in (tensor1, tensor2):  # torch's message: the operands broadcast in this order
        if t._data.shape != shape:
            check_broadcast(shape, t._data.shape)
            shape = np.broadcast_shapes(shape, t._data.shape)
    dt = np.dtype(_dtype.result_type(input, tensor1, tensor2))
    if dt.kind in "iu":
        value = int(value)  # torch casts the scalar to an integer result's dtype
    elif dt.kind == "b":
        raise NotImplementedError('"%s_cpu_out" not implemented for \'%s\'' % (name, scalar_type_name(dt)))
    return as_tensor_of(input, dt), as_tensor_of(tensor1, dt), as_tensor_of(tensor2, dt), value


@U.refuses("addcmul_cpu_out")
def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2 (torch.addcmul)."""
    return _addcmul(input, tensor1, tensor2, value, False)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (torch.addcdiv; integer tensor1 and tensor2 are an error)."""
    return _addcdiv(input, tensor1, tensor2, value, False)


def _addcmul(input, tensor1, tensor2, value, method):
    a, t1, t2, value = _operands("addcmul", input, tensor1, tensor2, value, method)
    scaled = t1 if value == 1 else t1 * value  # torch: self + (value * t1) * t2
    return a + scaled * t2


def _addcdiv(input, tensor1, tensor2, value, method):
    _check_tensors("addcdiv", (("input", input), ("tensor1", tensor1), ("tensor2", tensor2)), method)
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError(_ADDCDIV_INT)
    a, t1, t2, value = _operands("addcdiv", input, tensor1, tensor2, value, method)
    scaled = t1 if value == 1 else t1 * value  # torch: self + (value * t1) / t2
    return a + scaled / t2


@U.refuses("addcmul_cpu_out")
def addcmul_method(self, tensor1, tensor2, *, value=1):
    return _addcmul(self, tensor1, tensor2, value, True)


def addcdiv_method(self, tensor1, tensor2, *, value=1):
    return _addcdiv(self, tensor1, tensor2, value, True)


__all__ = ["addcmul", "addcdiv"]
