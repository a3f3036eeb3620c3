"""Tensor methods that are no op's public function: the in-place and in-place-view method makers,
device and layout queries, the legacy constructor and per-element callbacks (new, apply_, map_), the
random fills, complex parts' setters and the deprecated resize. fastgrad/_tensor_methods.py binds
them (METHODS below) with the ops' methods, in its one pass."""
import inspect
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import linalg_ext as LX
from fastgrad._ops import shape as S
from fastgrad._ops import views as V
from fastgrad._tensor import Tensor, make
from fastgrad._ops import unsigned as U


def _functions():
    import fastgrad

    return fastgrad


# ------------------------------------------------------------------ method makers
_NO_ALIAS = ("index_add_", "index_copy_", "scatter_", "scatter_add_", "scatter_reduce_")  # PyTorch:
# their source may not share any element with the written tensor; nor checked at all:
_NO_OVERLAP_CHECK = ("masked_scatter_", "index_fill_")


def inplace_method(fn, name):
    """x.name_(*args): the out-of-place op fn written into x (see shape.inplace). The common calls
    (no keywords, up to one argument) pass their arguments straight on: as fast as a hand-written
    method."""
    inplace = S.inplace
    checks = {} if name not in _NO_ALIAS and name not in _NO_OVERLAP_CHECK else {
        "full_ok": name not in _NO_ALIAS, "overlap": name not in _NO_OVERLAP_CHECK}

    def method(self, *args, **kwargs):
        if kwargs:
            return inplace(self, lambda a, *rest: fn(a, *rest, **kwargs), *args, name=name,
                           others=tuple(kwargs.values()), **checks)
        if checks:
            return inplace(self, fn, *args, name=name, **checks)
        if not args:
            return inplace(self, fn, name=name)
        if len(args) == 1:
            return inplace(self, fn, args[0], name=name)
        return inplace(self, fn, *args, name=name)
    method.__name__ = name
    method.__signature__ = _method_signature(fn)
    return method


def _method_signature(fn):
    """fn's signature as a method's (self first, no out=): what inspect, editors and the stubs show."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.name != "out"]
    if not params or params[0].kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return None
    return sig.replace(parameters=[params[0].replace(name="self")] + params[1:])


def view_inplace(name, fn):
    """x.t_(), x.squeeze_(dim), ...: x itself takes the view's shape and strides (same memory);
    under autograd x takes the view op's history, as torch (a leaf, or a view of a leaf, that
    requires grad is refused with torch's error)."""
    def method(self, *args, **kwargs):
        new = fn(self, *args, **kwargs)
        if engine.is_grad_enabled() and (self._requires_grad or (self._base is not None and self._base._requires_grad)):
            V.check_inplace(self)
            self._grad_fn, self._output_nr = new._grad_fn, new._output_nr
        self._data = new._data
        return self
    method.__name__ = method.__qualname__ = name
    return method


# ------------------------------------------------------------------ methods
def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
    """torch's addbmm_ writes through addbmm's out= path: a self that only broadcasts to the
    product's shape (and is no view) is resized to it and takes the result, history included."""
    plain = inplace_method(LX.addbmm, "addbmm_")
    if batch1.dim() != 3 or batch2.dim() != 3 or self._base is not None:
        return plain(self, batch1, batch2, beta=beta, alpha=alpha)
    shape = (batch1.shape[1], batch2.shape[2])
    if tuple(self.shape) == shape or np.broadcast_shapes(tuple(self.shape), shape) != shape:
        return plain(self, batch1, batch2, beta=beta, alpha=alpha)
    if engine.is_grad_enabled() and self._requires_grad and self._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    result = LX.addbmm(self.detach() if self._grad_fn is None else S.detached_history(self), batch1,
                                 batch2, beta=beta, alpha=alpha)
    self._data = np.array(result._data)
    self._vc.value += 1
    self._grad_fn, self._output_nr, self._requires_grad = result._grad_fn, result._output_nr, result._requires_grad
    return self
# ------------------------------------------------------------------ queries and legacy methods
def is_signed(self):
    k = self._data.dtype.kind
    return k in "ifc" or self._data.dtype is _dtype.BF16


def is_nonzero(self):
    n = self._data.size
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(self._data.reshape(()) != 0)


def is_same_size(self, other):
    return self._data.shape == other._data.shape


def is_inference(self):
    return False  # inference_mode makes ordinary tensors in fastgrad


def get_device(self):
    return -1


def is_pinned(self, device=None):
    return False


def pin_memory(self, device=None):
    raise RuntimeError("Cannot access accelerator device when none is available.")


def positive(self):
    if self._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


def adjoint(self):
    v = S.transpose(self, -2, -1)
    return v.conj() if self._data.dtype.kind == "c" else v


def dim_order(self, *, ambiguity_check=False):
    """The dimensions from outermost to innermost in memory (by stride, stable)."""
    strides = self._data.strides
    return tuple(sorted(range(self._data.ndim), key=lambda i: -abs(strides[i])))


def new(self, *args, **kwargs):
    """Legacy constructor: x.new(*sizes) uninitialised, x.new(data) from data, x.new() empty;
    x's dtype unless dtype= is given."""
    dtype = kwargs.pop("dtype", None) or self.dtype
    kwargs.pop("device", None)
    if kwargs:
        raise TypeError("new() received an invalid combination of arguments: %s" % sorted(kwargs))
    fg = _functions()
    if not args:
        return fg.empty(0, dtype=dtype)
    if len(args) == 1 and isinstance(args[0], Tensor):
        return make(np.asarray(args[0]._data, dtype.np).copy())
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        return fg.empty(*args, dtype=dtype)
    if len(args) == 1 and isinstance(args[0], fg.Size):
        return fg.empty(args[0], dtype=dtype)
    if len(args) == 1:
        return fg.tensor(args[0], dtype=dtype)
    raise TypeError("new() received an invalid combination of arguments")


def apply_(self, callable):
    """Apply a Python callable to each element in place (CPU only, not differentiable; slow)."""
    if self._requires_grad and engine.is_grad_enabled():
        raise RuntimeError("apply_ is only implemented on CPU tensors that do not require grad")  # (torch's text
    # for a leaf requiring grad is the in-place leaf error; any non-differentiable refusal is as good)
    flat = self._data.reshape(-1) if self._data.flags.c_contiguous else None
    out = np.array([callable(v.item()) for v in np.nditer(self._data, order="C")], dtype=self._data.dtype)
    if flat is not None:
        flat[...] = out
    else:
        self._data[...] = out.reshape(self._data.shape)
    self._vc.value += 1
    return self


def map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]) for every element (tensor broadcast to self's shape)."""
    if self._requires_grad and engine.is_grad_enabled():
        raise RuntimeError("map_ is only implemented on CPU tensors that do not require grad")
    other = np.broadcast_to(tensor._data, self._data.shape)
    out = [callable(a.item(), b.item()) for a, b in zip(self._data.reshape(-1), other.reshape(-1))]
    self._data[...] = np.array(out, dtype=self._data.dtype).reshape(self._data.shape)
    self._vc.value += 1
    return self


def map2_(self, x, y, callable):
    if self._requires_grad and engine.is_grad_enabled():
        raise RuntimeError("map2_ is only implemented on CPU tensors that do not require grad")
    bx, by = np.broadcast_to(x._data, self._data.shape), np.broadcast_to(y._data, self._data.shape)
    out = [callable(a.item(), b.item(), c.item())
           for a, b, c in zip(self._data.reshape(-1), bx.reshape(-1), by.reshape(-1))]
    self._data[...] = np.array(out, dtype=self._data.dtype).reshape(self._data.shape)
    self._vc.value += 1
    return self


def fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal of a 2-d (or all-equal-sized n-d) tensor; wrap restarts the
    diagonal every ncols + 1 rows of a tall matrix, as torch (and NumPy)."""
    d = self._data
    if d.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if d.ndim > 2 and len(set(d.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if engine.is_grad_enabled() and (self._requires_grad or (self._base is not None and self._base._requires_grad)):
        mask = np.zeros(d.shape, dtype=np.bool_)
        np.fill_diagonal(mask, True, wrap=wrap)
        m = make(mask)
        return S.inplace(self, lambda a: _functions().masked_fill(a, m, fill_value), name="fill_diagonal_")
    np.fill_diagonal(d, fill_value, wrap=wrap)
    self._vc.value += 1
    return self


@U.refuses("bernoulli_scalar_cpu_")
def bernoulli(self, p=None, *, generator=None):
    """0/1 draws with probability self (or p), in self's dtype."""
    return _functions().bernoulli(self, p, generator=generator)


_NO_TO = object()


@U.refuses("bernoulli_scalar_cpu_")
def bernoulli_(self, p=0.5, *, generator=None):
    from fastgrad import _random_ops

    if isinstance(p, Tensor):
        _random_ops.bernoulli_tensor_(self._data, p._data, generator)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError("bernoulli_ expects p to be in [0, 1], but got p=%s" % p)
        _random_ops.bernoulli_scalar_(self._data, p, generator)
    self._vc.value += 1
    return self


def random_(self, from_=None, to=_NO_TO, *, generator=None, **kwargs):
    """Integers drawn uniformly from [from, to - 1]; random_(to) is [0, to); with no bounds, up to
    2**mantissa for floats (2**24 for float32, 2**53 for float64) or the dtype's maximum for
    integers; from int64's minimum with no `to`, all 64 bits: torch's draws."""
    from fastgrad import _random_ops

    from_keyword = "from" in kwargs
    if from_keyword:
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError("random_() got an unexpected keyword argument '%s'" % next(iter(kwargs)))
    if to is _NO_TO:
        to = None
        if from_ is not None and not from_keyword:  # random_(to)
            from_, to = 0, from_
    _random_ops.random_(self._data, from_, to, generator)
    self._vc.value += 1
    return self


def cfloat(self, memory_format=None):
    return self.to(_dtype.complex64)


def cdouble(self, memory_format=None):
    return self.to(_dtype.complex128)


def is_distributed(self):
    return False


def _set_part(self, value, part):
    if self._data.dtype.kind != "c":
        raise RuntimeError("%s is not implemented for tensors with non-complex dtypes." % part)
    getattr(self._data, part)[...] = value._data if isinstance(value, engine.TensorBase) else value
    self._vc.value += 1


def set_real(self, value):
    """x.real = value: into a complex x's real parts; a real x takes value whole (copy_)."""
    return _set_part(self, value, "real") if self._data.dtype.kind == "c" else self.copy_(value)


def set_imag(self, value):
    return _set_part(self, value, "imag")


# the deprecated out-of-place resize / resize_as (torch's autograd Resize: a reshaped copy of the
# same number of elements, its gradient reshaped back)
def resize(self, *sizes):
    import warnings

    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) or sizes and hasattr(sizes[0], "__len__"):
        sizes = tuple(sizes[0])
    numel = 1
    for s in sizes:
        numel *= int(s)
    if self.numel() != numel:
        raise RuntimeError("requested resize to %s (%d elements in total), but the given tensor has a size of %s "
                           "(%d elements). autograd's resize can only change the shape of a given tensor, while "
                           "preserving the number of elements. " % ("x".join(map(str, sizes)), numel,
                                                                    "x".join(map(str, self.size())), self.numel()))
    return self.contiguous().clone().view(*sizes)


def resize_as(self, tensor):
    import warnings

    warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resize(self, tuple(tensor.size()))


# (fastgrad/_tensor_methods.py binds these with the ops' methods)
METHODS = {"addbmm_": addbmm_, "cfloat": cfloat, "cdouble": cdouble, "is_signed": is_signed, "is_nonzero": is_nonzero,
           "is_same_size": is_same_size, "is_inference": is_inference, "get_device": get_device,
           "is_pinned": is_pinned, "pin_memory": pin_memory, "positive": positive, "adjoint": adjoint,
           "dim_order": dim_order, "new": new, "apply_": apply_, "map_": map_, "map2_": map2_,
           "fill_diagonal_": fill_diagonal_, "bernoulli": bernoulli, "bernoulli_": bernoulli_, "random_": random_,
           "is_distributed": is_distributed, "resize": resize, "resize_as": resize_as}
