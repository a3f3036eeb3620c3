"""Tensor methods that spell what other methods do: torch's aliases (absolute, greater, ...), the
in-place forms of existing ops (acos_, eq_, addmm_, ...), in-place view ops that change a tensor's
shape (t_, squeeze_, ...), device and layout queries, and the legacy per-element callbacks
(apply_, map_). Bound onto Tensor once, when fastgrad is imported (fastgrad/__init__.py); the op
methods themselves are bound in fastgrad/_tensor.py."""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import shape as S
from fastgrad._ops import views as V
from fastgrad._tensor import Tensor, _inplace_method, make

# ------------------------------------------------------------------ aliases: name -> existing method
_ALIASES = {"absolute": "abs", "absolute_": "abs_", "greater": "gt", "greater_equal": "ge", "less": "lt",
            "less_equal": "le", "not_equal": "ne", "divide_": "div_", "multiply_": "mul_", "subtract_": "sub_",
            "negative_": "neg_", "arccos_": "acos_", "arccosh_": "acosh_", "arcsin_": "asin_", "arcsinh_": "asinh_",
            "arctan_": "atan_", "arctanh_": "atanh_", "arctan2_": "atan2_", "fix_": "trunc_", "greater_": "gt_",
            "greater_equal_": "ge_", "less_": "lt_", "less_equal_": "le_", "not_equal_": "ne_",
            "swapaxes_": "transpose_", "swapdims_": "transpose_", "ger": "outer"}


def _functions():
    import fastgrad

    return fastgrad


# ------------------------------------------------------------------ in-place forms of out-of-place ops
def _op(name):
    def fn(*args, **kwargs):
        return getattr(_functions(), name)(*args, **kwargs)
    return fn


def _compare(name):
    """eq_, lt_, ...: the comparison's result written into self in self's dtype (1 or 0)."""
    def fn(a, other):
        return getattr(_functions(), name)(a, other).to(a.dtype)
    return fn


_INPLACE = {"acos_": _op("acos"), "acosh_": _op("acosh"), "asin_": _op("asin"), "asinh_": _op("asinh"),
            "atan_": _op("atan"), "atanh_": _op("atanh"), "cosh_": _op("cosh"), "sinh_": _op("sinh"),
            "deg2rad_": _op("deg2rad"), "rad2deg_": _op("rad2deg"), "erfc_": _op("erfc"), "sinc_": _op("sinc"),
            "hypot_": _op("hypot"), "copysign_": _op("copysign"), "xlogy_": _op("xlogy"), "cumprod_": _op("cumprod"),
            "floor_divide_": _op("floor_divide"), "logical_not_": _compare("logical_not"),
            "addmm_": _op("addmm"), "addmv_": _op("addmv"), "addr_": _op("addr"),
            "baddbmm_": _op("baddbmm"), "bitwise_not_": _op("bitwise_not"), "sgn_": _op("sgn"),
            "conj_physical_": _op("conj_physical")}
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    _INPLACE[_name + "_"] = _compare(_name)


def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
    """torch's addbmm_ writes through addbmm's out= path: a self that only broadcasts to the
    product's shape (and is no view) is resized to it and takes the result, history included."""
    plain = _inplace_method(_op("addbmm"), "addbmm_")
    if batch1.dim() != 3 or batch2.dim() != 3 or self._base is not None:
        return plain(self, batch1, batch2, beta=beta, alpha=alpha)
    shape = (batch1.shape[1], batch2.shape[2])
    if tuple(self.shape) == shape or np.broadcast_shapes(tuple(self.shape), shape) != shape:
        return plain(self, batch1, batch2, beta=beta, alpha=alpha)
    if engine.is_grad_enabled() and self._requires_grad and self._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    result = _functions().addbmm(self.detach() if self._grad_fn is None else S.detached_history(self), batch1,
                                 batch2, beta=beta, alpha=alpha)
    self._data = np.array(result._data)
    self._vc.value += 1
    self._grad_fn, self._output_nr, self._requires_grad = result._grad_fn, result._output_nr, result._requires_grad
    return self
_INPLACE["logical_not_"] = lambda a: _functions().logical_not(a).to(a.dtype)


# ------------------------------------------------------------------ in-place view ops
def _view_inplace(name, fn):
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


_VIEW_INPLACE = {"t_": lambda x: S.t(x), "transpose_": lambda x, dim0, dim1: S.transpose(x, dim0, dim1),
                 "squeeze_": lambda x, *dim: S.squeeze(x, *dim), "unsqueeze_": lambda x, dim: S.unsqueeze(x, dim)}


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


def bernoulli(self, p=None, *, generator=None):
    """0/1 draws with probability self (or p), in self's dtype."""
    return _functions().bernoulli(self, p, generator=generator)


_NO_TO = object()


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


def cfloat(self):
    return self.to(_dtype.complex64)


def cdouble(self):
    return self.to(_dtype.complex128)


_METHODS = {"addbmm_": addbmm_, "cfloat": cfloat, "cdouble": cdouble, "is_signed": is_signed, "is_nonzero": is_nonzero, "is_same_size": is_same_size,
            "is_inference": is_inference, "get_device": get_device, "is_pinned": is_pinned,
            "pin_memory": pin_memory, "positive": positive, "adjoint": adjoint, "dim_order": dim_order, "new": new,
            "apply_": apply_, "map_": map_, "map2_": map2_, "fill_diagonal_": fill_diagonal_,
            "bernoulli": bernoulli, "bernoulli_": bernoulli_, "random_": random_}
_FALSE_PROPERTIES = ("is_mps", "is_xpu", "is_ipu", "is_xla", "is_mtia", "is_maia", "is_vulkan", "is_mkldnn",
                     "is_nested", "is_sparse_csr")


def bind():
    """Bind the methods above onto Tensor (names another module already bound are kept)."""
    for name, fn in _METHODS.items():
        if not hasattr(Tensor, name):
            fn.__qualname__ = "Tensor." + name
            setattr(Tensor, name, fn)
    for name, fn in _INPLACE.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, _inplace_method(fn, name))
    for name, fn in _VIEW_INPLACE.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, _view_inplace(name, fn))
    for name, target in _ALIASES.items():
        if not hasattr(Tensor, name) and hasattr(Tensor, target):
            setattr(Tensor, name, getattr(Tensor, target))
    for name in _FALSE_PROPERTIES:
        if not hasattr(Tensor, name):
            setattr(Tensor, name, False)
    if not hasattr(Tensor, "is_cpu"):
        Tensor.is_cpu = True
    for name, fn in (("floor_divide", "floor_divide"), ("inner", "inner"), ("vdot", "vdot"),
                     ("isclose", "isclose")):
        if not hasattr(Tensor, name):
            setattr(Tensor, name, _op(fn))
