# fastgrad._engine, part 2 of 7 (after modes.py): Version, TensorBase (the autograd fields of a tensor, + - *
# /), array metadata, make_tensor, views' bookkeeping, grad_edge. The parts in this folder run in one
# namespace, in fastgrad._engine._PARTS' order: fastgrad/_engine.py executes them as Python, setup.py compiles
# them as one Cython module (with fastgrad/_engine.pxd). Names from earlier parts are used without an import.

import numpy as np


# --------------------------------------------------------------------------- tensors
class Version:
    """Version counter shared by a tensor and its views; in-place ops bump it."""

    def __init__(self):
        self.value = 0


class TensorBase:
    """The fields autograd needs, and + - * / (compiled, these are the type's C number
    slots, so `a + b` reaches binary() without a Python-level method lookup); fastgrad.Tensor
    adds the user-facing methods."""

    @property
    def _version(self):
        return self._vc.value

    @property
    def grad(self):
        """The gradient accumulated by backward (None until then); a C getter when compiled."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, TensorBase):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of type %s"
                                % type(value).__name__)
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    "attempting to assign a gradient of size '%s' to a tensor of size '%s'. Please "
                    "ensure that the gradient and the tensor are the same size"
                    % (list(value._data.shape), list(self._data.shape)))
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    "attempting to assign a gradient with dtype '%s' to a tensor with dtype '%s'. "
                    "The gradient must match the tensor's dtype" % (value._data.dtype, self._data.dtype))
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None  # del t.grad, as in PyTorch

    def __add__(self, other):
        return binary(_binops[0], self, other)

    def __radd__(self, other):
        return binary(_binops[0], other, self)

    def __sub__(self, other):
        return binary(_binops[1], self, other)

    def __rsub__(self, other):
        return binary(_binops[1], other, self)

    def __mul__(self, other):
        return binary(_binops[2], self, other)

    def __rmul__(self, other):
        return binary(_binops[2], other, self)

    def __truediv__(self, other):
        return binary(_binops[3], self, other)

    def __rtruediv__(self, other):
        return binary(_binops[3], other, self)

    def __pow__(self, exponent, modulo=None):
        """x ** 2 of a float tensor is Square, run by apply1 (no Python frame); anything else
        is fastgrad.pow (registered by the op layer)."""
        if modulo is not None:
            return NotImplemented
        if (type(exponent) is int or type(exponent) is float) and exponent == 2 and _is_float(self):
            return apply1(_pow_ops[1], self)
        return _pow_ops[0](self, exponent)

    def __rpow__(self, base, modulo=None):
        if modulo is not None:
            return NotImplemented
        return _pow_ops[2](self, base)


_ops = {}  # callbacks registered by the op layer: "tensor", "sum_to", "dtype_of",
# "autograd_backward", ...


_tensor_type = None  # fastgrad.Tensor, registered by fastgrad._tensor
_ndarray = np.ndarray


# An array's dtype, base and metadata: compiled, read from the array's C struct (an
# attribute lookup on an ndarray costs ~250 instructions; the tape makes dozens per step).
def _dtype(a):
    """a.dtype."""
    if _COMPILED:
        return _c_dtype(a)  # noqa: F821  (C functions declared in _engine.pxd)
    return a.dtype


def _has_base(a):
    """a.base is not None (a view of another array's memory)."""
    if _COMPILED:
        return _c_has_base(a)  # noqa: F821
    return a.base is not None


def _same_meta(a, b):
    """Whether arrays a and b have one shape and one dtype."""
    if _COMPILED:
        return _c_same_meta(a, b)  # noqa: F821
    return a.shape == b.shape and a.dtype == b.dtype


def node_meta(out, a, b):
    """What the tape records of a node's arrays: ((out's shape, dtype),) and one such pair
    per input array a, b (b None: one input). An input of out's shape and dtype shares
    out's pair, and a lone input sharing it gets out's very tuple (the common case)."""
    if _COMPILED:
        return _c_node_meta(out, a, b)  # noqa: F821
    if not (isinstance(out, np.ndarray) and isinstance(a, np.ndarray)
            and (b is None or isinstance(b, np.ndarray))):
        raise TypeError("node_meta: out and a must be ndarrays, b an ndarray or None")
    meta = (out.shape, out.dtype)
    om = (meta,)
    ma = meta if a.dtype is out.dtype and a.shape == out.shape else (a.shape, a.dtype)
    if b is None:
        return om, (om if ma is meta else (ma,))
    mb = meta if b.dtype is out.dtype and b.shape == out.shape else (b.shape, b.dtype)
    return om, (ma, mb)


def meta_is(a, meta):
    """Whether array a has the (shape, dtype) pair meta a node recorded (the tape's check of
    each gradient); False for anything but an ndarray."""
    if _COMPILED:
        return _c_meta_is(a, meta)  # noqa: F821
    if not (type(meta) is tuple and len(meta) == 2 and type(meta[0]) is tuple):
        raise TypeError("meta_is: meta must be a (shape tuple, dtype) pair")
    return isinstance(a, np.ndarray) and a.shape == meta[0] and (a.dtype is meta[1] or a.dtype == meta[1])


def _new(cls):
    """A new instance of cls, a Python subclass without __new__ of a compiled class
    (fastgrad.Tensor, an op's FunctionNode class), as TensorBase.__new__(cls) makes it.
    Compiled, cls's tp_new slot is called directly (_c_tp_new, in _engine.pxd): Cython
    calls X.__new__(cls) by name, through type.__new__'s checks (~800 instructions)."""
    if _COMPILED:
        return _c_tp_new(cls)  # noqa: F821  (a C function declared in _engine.pxd)
    return object.__new__(cls)


_acc_add = [np.add]  # add(a, b, out): the backend's K.add, registered by fastgrad._backend


def register(name, obj):
    global _tensor_type
    _ops[name] = obj
    if name == "tensor":
        _tensor_type = obj
    elif name == "binops":
        _binops[:] = obj
    elif name == "pow":
        _pow_ops[:] = obj
    elif name == "add":
        _acc_add[0] = obj
    elif name == "sum":
        _sum_ops[:] = obj


def make_tensor(data, requires_grad=False):
    """Wrap an ndarray (no copy) in a new fastgrad.Tensor."""
    t = _new(_tensor_type)
    if type(data) is not _ndarray:
        data = np.asarray(data)
    t._data = data
    t._vc = Version.__new__(Version)
    t._requires_grad = requires_grad
    return t


# A view's creation meta (PyTorch's CreationMeta), kept in _view_meta: None for a view made in
# grad mode; (kind, node name or None, output index) otherwise. In-place on such a view (or on
# its base, seen from the view) raises PyTorch's errors (fastgrad._ops.views).
VIEW_NO_GRAD = 1  # made in no_grad mode
VIEW_MULTI = 2  # an output of a function returning several views (unbind, split, chunk)
_NO_GRAD_VIEW = (VIEW_NO_GRAD, None, 0)


def make_view(data, base):
    """A tensor over (part of) base's storage: it shares base's version counter, and records
    base's version (its grad_fn is regenerated when that moves: view_fresh)."""
    t = make_tensor(data)
    t._vc = base._vc
    t._view_ver = base._vc.value
    t._base = base if base._base is None else base._base
    if not state().grad_enabled:
        t._view_meta = _NO_GRAD_VIEW
    else:
        meta = base._view_meta  # a view of a view inherits its creation meta (not its name)
        if meta is not None:
            t._view_meta = (meta[0], None, 0)
    return t


def view_fresh(t):
    """Bring a view's grad_fn (and requires_grad) up to date: when its base or another view
    of the base was changed in place since the view's grad_fn was made, it becomes an
    AsStrided node on the base's new history (PyTorch regenerates it on access)."""
    if t._base is not None and t._vc.value != t._view_ver:
        _ops["view_refresh"](t)


def may_alias(d, items, full_ok):
    """Whether a tensor among items may share memory with array d, the one an in-place op
    writes: d itself when full_ok is False, or any array when one of the two is a view of
    memory (an array that owns its memory shares it with none that owns its own). False:
    nothing to check; True: fastgrad._ops.views.check_overlap decides (a C loop compiled,
    so the in-place ops' common case costs no Python call)."""
    owner = not _has_base(d)
    for a in items:
        if isinstance(a, TensorBase):
            t = a
            ad = t._data
            if ad is d:
                if not full_ok:
                    return True
            elif not owner or _has_base(ad):
                return True
    return False


def grad_edge(t):
    """The (node, output index) a gradient for tensor t flows into."""
    if t._base is not None and t._vc.value != t._view_ver:
        _ops["view_refresh"](t)  # a view whose base changed in place: its grad_fn anew
    if t._grad_fn is not None:
        return (t._grad_fn, t._output_nr)
    if t._requires_grad:
        edge = t._acc  # a leaf's edge, made once: (its AccumulateGrad node, 0)
        if edge is None:
            edge = (AccumulateGrad(t), 0)
            t._acc = edge
        return edge
    return (None, 0)
