"""Forward-mode AD (PyTorch's torch.autograd.forward_ad).

A dual tensor is an ordinary tensor whose ``_fw_grad`` field holds its tangent. While a
dual level is open, every op whose inputs carry tangents pushes them through its ``jvp``
rule (see ``_forward_ad`` in the tape), so a directional derivative costs about one extra
forward pass::

    with fwAD.dual_level():
        x = fwAD.make_dual(x0, v)
        y = f(x)
        jvp = fwAD.unpack_dual(y).tangent

Like PyTorch, one level is open at a time (nesting raises). Leaving the level clears the
tangents of every tensor that got one inside it. Tangent arithmetic is not itself dual,
but it is recorded for reverse mode when the primal requires grad (reverse-over-forward).
"""
import collections
import weakref

from fastgrad import _dtype
from fastgrad._backend import engine

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])


def _state():
    return engine.state()


def enter_dual_level():
    """Open a dual level and return its index (always 0: levels do not nest)."""
    st = _state()
    if st.fw_level > 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    st.fw_level = 1
    st.fw_tensors = []
    st.fw_generation += 1
    return 0


def exit_dual_level(*, level=None):
    """Close the current dual level: every tangent created inside it is dropped."""
    st = _state()
    if st.fw_level == 0 or level not in (None, 0):
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was "
                           "created. This is not supported.")
    for ref in st.fw_tensors:
        t = ref()
        if t is not None:
            t._fw_grad = None
    st.fw_tensors = []
    st.fw_level = 0


class dual_level:  # noqa: N801
    """Context manager that opens a dual level: ``with dual_level(): ...``."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _check_level(level):
    if _state().fw_level == 0:
        return False
    if level not in (None, 0):
        raise RuntimeError("Invalid level %r: only the current level (0) exists" % (level,))
    return True


def _alias(tensor):
    """A view of tensor with the same autograd history and no tangent."""
    st = _state()
    prev = st.fw_level
    st.fw_level = 0
    try:
        return tensor.view_as(tensor)
    finally:
        st.fw_level = prev


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` (same values and autograd history) carrying ``tangent``."""
    if not _check_level(level):
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make "
                           "sure to enter_dual_level() first.")
    if not isinstance(tensor, engine.TensorBase) or not isinstance(tangent, engine.TensorBase):
        raise TypeError("make_dual(): expected Tensors for the primal and the tangent")
    if _dtype.kind(tensor._data.dtype) not in "fc":
        raise ValueError("Expected primal to be floating point or complex, but got: %s" % tensor.dtype)
    if _dtype.kind(tangent._data.dtype) not in "fc":
        raise ValueError("Expected tangent to be floating point or complex, but got: %s" % tangent.dtype)
    if tangent._data.shape != tensor._data.shape:
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the original "
            "Tensor, this is not supported. Tensor is of size %s while the given forward gradient is "
            "of size %s." % (_shape(tensor), _shape(tangent)))
    if tangent._data.dtype != tensor._data.dtype:
        tangent = tangent.to(tensor.dtype)
    out = _alias(tensor)
    out._fw_grad = tangent
    _state().fw_tensors.append(weakref.ref(out))
    return out


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): primal is a view of tensor without its tangent; tangent may be None."""
    if not isinstance(tensor, engine.TensorBase):
        raise TypeError("unpack_dual(): expected a Tensor, got %s" % type(tensor).__name__)
    if not _check_level(level) or tensor._fw_grad is None:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_alias(tensor), tensor._fw_grad)


def _set_tangent(t, tangent):
    """Give t a tangent in the open level (in-place ops on dual tensors use this)."""
    t._fw_grad = tangent
    if tangent is not None:
        _state().fw_tensors.append(weakref.ref(t))


def _shape(t):
    return "[" + ", ".join(str(s) for s in t._data.shape) + "]"

