"""Comparisons and predicates (no gradient): eq/ne/lt/le/gt/ge, the logical ops, isnan/isinf/isfinite,
equal/allclose/isclose, bitwise_not. Re-exported by fastgrad._ops.elementwise."""
import numpy as np

from fastgrad import _dtype
from fastgrad._ops.base import is_tensor, make
from fastgrad._quiet import quiet
from fastgrad._ops import unsigned as U


# --------------------------------------------------------------------------- comparisons (no grad)
def _compare(ufunc, kernel=None, name=None):
    """The comparison ufunc as an op. kernel: torch's CPU kernel, which refuses uint16/32/64 (== and !=
    take them); checked here, on the arrays at hand, not by a wrapper (x < y is on the hot path)."""
    def fn(input, other):
        a = input._data if is_tensor(input) else input
        if a is input and name is not None:  # torch.lt(2, x): torch's invalid combination (a method's self is a tensor)
            from fastgrad._ops.tensor_args import invalid_binary

            raise invalid_binary(fn.__name__, input, other)
        b = other._data if is_tensor(other) else other
        if kernel is not None and ((a is not input and a.dtype in _BARE) or (b is not other and b.dtype in _BARE)):
            U.refuse_promoted(kernel, input, other)
        return make(np.asarray(ufunc(a, b)))
    fn.__name__ = name or ufunc.__name__
    return quiet(fn)  # (bfloat16's comparisons with NaN warn: fastgrad/_quiet.py)


_BARE = _dtype.BAREBONES


eq = _compare(np.equal, None, name="eq")
ne = _compare(np.not_equal, None, name="ne")
lt = _compare(np.less, "lt_cpu", name="lt")
le = _compare(np.less_equal, "le_cpu", name="le")
gt = _compare(np.greater, "gt_cpu", name="gt")
ge = _compare(np.greater_equal, "ge_cpu", name="ge")
logical_and = _compare(np.logical_and, "logical_and_cpu")
logical_or = _compare(np.logical_or, "logical_or_cpu")
logical_xor = _compare(np.logical_xor, "logical_xor_cpu")


@U.refuses("logical_not_cpu")
def logical_not(input):
    return make(np.logical_not(input._data))


def isnan(input):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("isnan", input)
    return make(np.isnan(input._data))


def isinf(input):
    return make(np.isinf(input._data))


def isfinite(input):
    return make(np.isfinite(input._data))


def equal(input, other):
    return input._data.shape == other._data.shape and bool(np.all(input._data == other._data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return make(np.isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


@U.refuses("bitwise_not_cpu")
def bitwise_not(input):
    return make(np.invert(input._data))
