"""fastgrad.Tensor: the user-facing methods. Autograd fields live in the compiled TensorBase;
every op method is a one-liner into the op modules."""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import activations as A
from fastgrad._ops import elementwise as E
from fastgrad._ops import indexing as I
from fastgrad._ops import linalg as L
from fastgrad._ops import linalg_ext as LX
from fastgrad._ops import math as M
from fastgrad._ops import nn as N
from fastgrad._ops import reduction as R
from fastgrad._ops import reduction_ext as RX
from fastgrad._ops import shape as S
from fastgrad._ops import sorting as SO
from fastgrad._ops import spatial as SP
from fastgrad._ops import index_put as IP, minmax as MM, pointwise as PW
from fastgrad._tensor_str import tensor_repr
from fastgrad._types import _TYPE_NAMES, CPU, Size, check_device, device  # noqa: F401 (re-exported)


make = engine.make_tensor
_ENGINE_FIELDS = frozenset(("_data", "_grad", "_grad_fn", "_requires_grad", "_vc", "_output_nr", "_acc", "_hooks",
                            "_post_acc_hooks", "_fw_grad", "_base", "_view_ver", "_view_meta", "_retains_grad"))


class Tensor(engine.TensorBase):
    """A NumPy array with autograd (PyTorch's Tensor API)."""

    __array_priority__ = 1000  # numpy scalars/arrays defer to our reflected operators

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        check_device(device)
        d = _dtype.to_dtype(dtype).np if dtype is not None else _dtype.get_default_dtype().np
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            src = args[0]
            data = np.array(src._data if isinstance(src, engine.TensorBase) else src, dtype=d)
        elif all(isinstance(a, numbers.Integral) for a in args) or (
                len(args) == 1 and isinstance(args[0], (tuple, list))):
            shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            data = np.zeros(shape, d)
        else:
            raise TypeError("Tensor(): invalid arguments %r" % (args,))
        self._data = data
        self._vc = engine.Version()
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _make_subclass(cls, data, require_grad=False):
        """A new instance of cls sharing data's storage (used by nn.Parameter)."""
        t = engine.TensorBase.__new__(cls)  # not cls.__new__: Parameter.__new__ would recurse
        t._data = data._data
        t._vc = data._vc
        t._requires_grad = False
        if require_grad:
            t.requires_grad_(True)
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[S.norm_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return CPU

    is_cuda = False
    is_sparse = False
    is_quantized = False
    is_meta = False
    layout = "strided"

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def is_floating_point(self):
        return self._data.dtype.kind == "f" or self._data.dtype is _dtype.BF16

    def is_complex(self):
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[S.norm_dim(dim, self._data.ndim)]

    def data_ptr(self):
        return self._data.ctypes.data

    def storage_offset(self):
        return 0

    def share_memory_(self):
        """Move the data into shared memory, in place (a no-op when it is there already): processes that
        receive this tensor (fastgrad.multiprocessing queues, pipes, Process arguments) or are forked after
        this call see and update the same memory. A view moves its base with it; other views taken before the
        call keep the old memory (unlike torch, whose storages move under their views): share first."""
        from fastgrad.multiprocessing import _shared_memory as shm

        if not shm.is_shared(self._data):
            base = self._base
            if base is not None and not shm.is_shared(base._data) and \
                    np.shares_memory(self._data, base._data) and base._data.flags.c_contiguous:
                old = base._data
                base._data = shm.share(old)
                offset = self._data.__array_interface__["data"][0] - old.__array_interface__["data"][0]
                self._data = np.ndarray(self._data.shape, self._data.dtype, buffer=base._data.base,
                                        offset=offset, strides=self._data.strides)
            else:
                self._data = shm.share(self._data)
        return self

    def is_shared(self):
        """Whether the data lies in shared memory (share_memory_, or received from another process)."""
        from fastgrad.multiprocessing import _shared_memory as shm

        return shm.is_shared(self._data)

    @property
    def requires_grad(self):
        return self._requires_grad or (self._base is not None and self._base._requires_grad)  # (a
        # view's is its base's too, as PyTorch's: one made in no_grad mode, or before its base
        # took a gradient history through another view)

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, bool):
            raise TypeError("requires_grad must be a bool")
        if self._grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want "
                               "to use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        if value and self._data.dtype.kind not in "fc" and self._data.dtype is not _dtype.BF16:
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    # grad (a property with the setter's checks) is TensorBase's: engine.py

    @property
    def grad_fn(self):
        if self._base is not None:
            engine.view_fresh(self)
        return self._grad_fn

    @property
    def is_leaf(self):
        if self._base is not None:
            engine.view_fresh(self)
        return self._grad_fn is None

    @property
    def output_nr(self):
        return self._output_nr

    @property
    def data(self):
        t = make(self._data)
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, engine.TensorBase):
            raise TypeError("data must be a Tensor")
        self._data = value._data

    @property
    def T(self):  # noqa: N802
        return self.permute(*range(self._data.ndim - 1, -1, -1))

    @property
    def mT(self):  # noqa: N802
        if self._data.ndim < 2:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got %d-D tensor."
                               % self._data.ndim)
        return S.transpose(self, -2, -1)

    @property
    def H(self):  # noqa: N802
        return self.T

    @property
    def mH(self):  # noqa: N802
        return self.mT

    def retain_grad(self):
        if self._grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if getattr(self, "_retains_grad", False):
            return
        import weakref

        ref = weakref.ref(self)

        def hook(g):
            t = ref()
            if t is not None:
                if t._grad is None:
                    t._grad = g.detach().clone() if not engine.is_grad_enabled() else g
                else:
                    t._grad = t._grad + g
            return None

        hook._retains_grad = True
        self._grad_fn._add_pre_hook(self._output_nr, hook)
        self.__dict__["_retains_grad"] = True

    @property
    def retains_grad(self):
        return bool(self.__dict__.get("_retains_grad", False))

    def register_hook(self, hook):
        """hook(grad) -> new grad or None, run when the gradient for this tensor is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn._add_pre_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return engine._RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        return engine._RemovableHandle(self._post_acc_hooks, hook)

    backward = engine.tensor_backward  # (gradient=None, retain_graph=None, create_graph=False,
    # inputs=None): compiled; anything but loss.backward() goes to autograd.backward

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ conversions
    def numpy(self, *, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self._data.dtype is _dtype.BF16:  # NumPy has no bfloat16 of its own: PyTorch refuses
            raise TypeError("Got unsupported ScalarType BFloat16")
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data
        if a.dtype is _dtype.BF16:
            raise TypeError("Got unsupported ScalarType BFloat16")
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return np.array(a, copy=True) if copy else a

    def item(self):
        if self._data.size != 1:
            raise RuntimeError("a Tensor with %d elements cannot be converted to Scalar" % self._data.size)
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __complex__(self):
        return complex(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._data.shape[0]):
            yield self[i]

    __hash__ = object.__hash__  # identity, as a C slot (Tensor defines __eq__ elementwise)

    def __repr__(self, *, tensor_contents=None):
        return tensor_repr(self)

    def __format__(self, spec):
        """f"{t}" of a 0-d tensor formats its value (f"loss {loss}" prints the number), as torch."""
        if self._data.ndim == 0 and type(self) is Tensor:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __reduce_ex__(self, protocol):
        return (_rebuild, (np.array(self._data), self._requires_grad))

    def __deepcopy__(self, memo):
        if self._grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.")
        new = type(self).__new__(type(self))
        new._data = np.array(self._data, copy=True)
        new._vc = engine.Version()
        new._requires_grad = self._requires_grad
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        # Python attributes a user set on the tensor; not the autograd fields (in the pure-NumPy
        # backend those live in __dict__ too: sharing _data or _acc would tie the copy to self)
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k not in _ENGINE_FIELDS})
        memo[id(self)] = new
        return new

    def to(self, *args, **kwargs):
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError("to() got unexpected keyword arguments %s" % list(kwargs))
        flags = [a for a in args if isinstance(a, bool)]  # to(..., non_blocking, copy) positionally
        copy = copy or (len(flags) > 1 and flags[1])
        for a in (a for a in args if not isinstance(a, bool)):
            if isinstance(a, (_dtype.dtype, type)) and not isinstance(a, device):
                dtype = a
            elif isinstance(a, engine.TensorBase):
                dtype = a.dtype
            elif isinstance(a, (str, device, int)):
                dev = a
        check_device(dev)
        if dtype is None:
            return self.clone() if copy else self
        return S.to_dtype(self, dtype, copy=copy)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        check_device("cuda")

    def float(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.float32)

    def double(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.float64)

    def half(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.float16)

    def bfloat16(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.bfloat16)

    def long(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.int64)

    def int(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.int32)

    def short(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.int16)

    def bool(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.bool_)

    def byte(self, *, memory_format=None):
        return self.to(memory_format=memory_format, dtype=_dtype.uint8)

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """'torch.FloatTensor' (PyTorch's type names, which programs compare against), or self
        converted to a typed constructor / dtype / type name."""
        from fastgrad import _tensor_types

        if dtype is None:
            return _tensor_types.type_name(self)
        d = _tensor_types.parse_type(dtype)
        return self if d.np == self._data.dtype else self.to(d)

    def type_as(self, other):
        return self.to(other.dtype)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        from fastgrad._creation import tensor

        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False, device=None):
        return make(np.zeros(S._shape_args(size), (dtype and _dtype.to_dtype(dtype).np) or self._data.dtype), requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False, device=None):
        return make(np.ones(S._shape_args(size), (dtype and _dtype.to_dtype(dtype).np) or self._data.dtype), requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False, device=None):
        return make(np.full(tuple(size), fill_value, (dtype and _dtype.to_dtype(dtype).np) or self._data.dtype), requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False, device=None):
        return self.new_zeros(*size, dtype=dtype, requires_grad=requires_grad)

    # ------------------------------------------------------------------ arithmetic
    # + - * / are TensorBase's (fastgrad/_engine.py): float operands of one dtype skip the
    # Python layers (E.add, ...), and compiled they are C slots

    def __rfloordiv__(self, other):
        return E.floor_divide(other, self)

    def __rmod__(self, other):
        return M.remainder(other, self)

    def __imod__(self, other):
        return self.remainder_(other)

    # __pow__ and __rpow__ are TensorBase's (compiled: x ** 2 without a Python frame)

    def __pos__(self):
        return self

    def __rmatmul__(self, other):
        return L.matmul(other, self)

    def __and__(self, other):
        return E.logical_and(self, other) if self._data.dtype == np.bool_ else make(self._data & _raw(other))

    def __or__(self, other):
        return E.logical_or(self, other) if self._data.dtype == np.bool_ else make(self._data | _raw(other))

    def __xor__(self, other):
        return E.logical_xor(self, other) if self._data.dtype == np.bool_ else make(self._data ^ _raw(other))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    # in place: x += y is x.add_(y)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def add_(self, other, *, alpha=1):
        return S.inplace(self, E.add, other, name="add_") if alpha == 1 else S.inplace(self, lambda a, b: E.add(a, b, alpha=alpha), other, name="add_")

    def sub_(self, other, *, alpha=1):
        return S.inplace(self, E.sub, other, name="sub_") if alpha == 1 else S.inplace(self, lambda a, b: E.sub(a, b, alpha=alpha), other, name="sub_")

    def mul_(self, other):
        return S.inplace(self, E.mul, other, name="mul_")

    def div_(self, other, *, rounding_mode=None):
        return S.inplace(self, lambda a, b: E.div(a, b, rounding_mode=rounding_mode), other, name="div_")

    def pow_(self, exponent):
        return S.inplace(self, E.pow, exponent, name="pow_")

    def clamp_(self, min=None, max=None):  # noqa: A002
        return S.inplace(self, lambda a: E.clamp(a, min, max), name="clamp_", others=(min, max))

    clip_ = clamp_

    def neg_(self):
        return S.inplace(self, E.neg, name="neg_")

    def exp_(self):
        return S.inplace(self, E.exp, name="exp_")

    def sqrt_(self):
        return S.inplace(self, E.sqrt, name="sqrt_")

    def relu_(self):
        return S.inplace(self, E.relu, name="relu_")

    def sigmoid_(self):
        return S.inplace(self, E.sigmoid, name="sigmoid_")

    def tanh_(self):
        return S.inplace(self, E.tanh, name="tanh_")

    def abs_(self):
        return S.inplace(self, E.abs, name="abs_")

    def copy_(self, src, non_blocking=False):
        src = src if isinstance(src, engine.TensorBase) else make(np.asarray(src))
        return S.inplace(self, _copy_like, src, name="copy_")

    def zero_(self):
        if engine.is_grad_enabled() and S.V.view_requires_grad(self):
            return S.inplace(self, lambda a: a * 0, name="zero_", internal_ok=True)
        self._data[...] = 0
        self._vc.value += 1
        return self

    def fill_(self, value):
        if engine.is_grad_enabled() and (S.V.view_requires_grad(self) or (isinstance(value, engine.TensorBase) and value._requires_grad)):
            return S.inplace(self, lambda a: a * 0 + value, name="fill_", others=(value,),
                             internal_ok=not isinstance(value, engine.TensorBase), overlap=False)
        if isinstance(value, engine.TensorBase):  # (a number may fill an expanded tensor, a tensor not)
            S.V.check_internal_overlap(self._data)
        self._data[...] = value._data if isinstance(value, engine.TensorBase) else value
        self._vc.value += 1
        return self

    def masked_fill_(self, mask, value):
        return S.inplace(self, lambda a: a.masked_fill(mask, value), name="masked_fill_", internal_ok=True,
                         overlap=False)

    def uniform_(self, a=0.0, b=1.0, generator=None, **kwargs):
        from fastgrad import _random

        return _random.fill_(self, "uniform", kwargs.pop("from", a), kwargs.pop("to", b), generator, **kwargs)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from fastgrad import _random

        return _random.fill_(self, "normal", mean, std, generator)

    def __setitem__(self, idx, value):
        S.setitem(self, idx, value)

    # ------------------------------------------------------------------ math
    def add(self, other, *, alpha=1):
        return E.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return E.sub(self, other, alpha=alpha)

    subtract = sub

    def div(self, other, *, rounding_mode=None):
        return E.div(self, other, rounding_mode=rounding_mode)

    divide = true_divide = div

    def where(self, condition, other):
        return E.where(condition, self, other)

    # ------------------------------------------------------------------ reductions
    def max(self, dim=None, keepdim=False, **kwargs):
        return R.max(self, dim, keepdim, **kwargs)

    def min(self, dim=None, keepdim=False, **kwargs):
        return R.min(self, dim, keepdim, **kwargs)

    def argmax(self, dim=None, keepdim=False, **kwargs):
        return R.argmax(self, dim, keepdim, **kwargs)

    def argmin(self, dim=None, keepdim=False, **kwargs):
        return R.argmin(self, dim, keepdim, **kwargs)

    def softmax(self, dim=None, dtype=None):
        return N.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim=None, dtype=None):
        return N.log_softmax(self, dim, dtype=dtype)

    # ------------------------------------------------------------------ shape
    def view(self, *shape):
        return S.view(self, *shape)

    def view_as(self, other):
        return S.view(self, other._data.shape)

    def reshape(self, *shape):
        return S.reshape(self, *shape)

    def reshape_as(self, other):
        return S.reshape(self, other._data.shape)

    def permute(self, *dims):
        return S.permute(self, *dims)

    def expand(self, *sizes):
        return S.expand(self, *sizes)

    def expand_as(self, other):
        return S.expand(self, *other._data.shape)

    def clone(self, *, memory_format=None):
        return S.clone(self)

    def contiguous(self, memory_format=None):
        return S.contiguous(self)

    def tile(self, *dims):
        return I.tile(self, S._shape_args(dims))

    def broadcast_to(self, size):
        return S.broadcast_to(self, size)

    def true_divide_(self, other):
        return self.div_(other)

    def to_dense(self, dtype=None, *, masked_grad=None):
        return self if dtype is None else self.to(dtype)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from fastgrad._creation import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)


# Tensor methods that are an op's public function itself, bound here in one place (the op
# modules never import this one). Each function takes the tensor as its first argument, with
# the parameter names and defaults of torch's method; methods that need more than that are
# defined in the class above. exp, log, sqrt, sin, cos, sigmoid, tanh are engine.UnaryFunction
# objects: they bind as methods, and a call runs no Python frame.
_OP_METHODS = {
    # elementwise
    "__floordiv__": E.floor_divide, "__neg__": E.neg, "__abs__": E.abs, "__invert__": E.bitwise_not,
    "__eq__": E.eq, "__ne__": E.ne, "__lt__": E.lt, "__le__": E.le, "__gt__": E.gt, "__ge__": E.ge,
    "mul": E.mul, "multiply": E.mul, "pow": E.pow, "neg": E.neg, "negative": E.neg, "exp": E.exp,
    "log": E.log, "sqrt": E.sqrt, "abs": E.abs, "sin": E.sin, "cos": E.cos, "sigmoid": E.sigmoid,
    "tanh": E.tanh, "relu": E.relu, "sign": E.sign, "square": E.square, "clamp": E.clamp,
    "clip": E.clamp, "maximum": E.maximum, "minimum": E.minimum, "eq": E.eq, "ne": E.ne, "lt": E.lt,
    "le": E.le, "gt": E.gt, "ge": E.ge, "logical_not": E.logical_not, "logical_and": E.logical_and,
    "logical_or": E.logical_or, "isnan": E.isnan, "isinf": E.isinf, "isfinite": E.isfinite,
    "equal": E.equal, "allclose": E.allclose, "logical_xor": E.logical_xor,
    # math
    "__mod__": M.remainder, "expm1": M.expm1, "log1p": M.log1p, "log2": M.log2, "log10": M.log10,
    "rsqrt": M.rsqrt, "reciprocal": M.reciprocal, "tan": M.tan, "asin": M.asin, "acos": M.acos,
    "atan": M.atan, "sinh": M.sinh, "cosh": M.cosh, "asinh": M.asinh, "acosh": M.acosh,
    "atanh": M.atanh, "arcsin": M.asin, "arccos": M.acos, "arctan": M.atan, "arcsinh": M.asinh,
    "arccosh": M.acosh, "arctanh": M.atanh, "erf": M.erf, "erfc": M.erfc, "atan2": M.atan2,
    "arctan2": M.atan2, "lerp": M.lerp, "hypot": M.hypot, "logaddexp": M.logaddexp,
    "floor": M.floor, "ceil": M.ceil, "trunc": M.trunc, "fix": M.trunc,
    "round": M.round, "frac": M.frac, "nan_to_num": M.nan_to_num, "deg2rad": M.deg2rad,
    "rad2deg": M.rad2deg, "sinc": M.sinc, "signbit": M.signbit, "copysign": M.copysign,
    "remainder": M.remainder, "fmod": M.fmod,
    # activations
    "softplus": A.softplus, "hardshrink": A.hardshrink, "prelu": A.prelu,
    # reduction
    "sum": R.sum, "mean": R.mean,
    # reduction_ext
    "amax": RX.amax, "amin": RX.amin, "aminmax": RX.aminmax, "prod": RX.prod, "cumsum": RX.cumsum,
    "cumprod": RX.cumprod, "cummax": RX.cummax, "cummin": RX.cummin, "logsumexp": RX.logsumexp,
    "logcumsumexp": RX.logcumsumexp, "var": RX.var, "std": RX.std, "all": RX.all, "any": RX.any,
    "nansum": RX.nansum, "nanmean": RX.nanmean,
    # linalg
    "__matmul__": L.matmul, "matmul": L.matmul, "mm": L.mm, "mv": L.mv, "dot": L.dot,
    "outer": L.outer, "bmm": L.bmm, "inverse": L.inv, "inner": L.inner,
    # linalg_ext
    "norm": LX.norm, "det": LX.det, "slogdet": LX.slogdet, "logdet": LX.logdet, "kron": LX.kron,
    "cross": LX.cross, "matrix_power": LX.matrix_power, "addmm": LX.addmm,
    "addmv": LX.addmv, "baddbmm": LX.baddbmm, "addbmm": LX.addbmm, "addr": LX.addr,
    "cholesky": LX.cholesky_legacy, "svd": LX.svd_legacy,
    # shape
    "detach": S.detach, "__getitem__": S.getitem, "flatten": S.flatten, "squeeze": S.squeeze,
    "unsqueeze": S.unsqueeze, "transpose": S.transpose, "swapaxes": S.transpose,
    "swapdims": S.transpose, "t": S.t,
    # indexing
    "masked_fill": I.masked_fill, "gather": I.gather, "movedim": I.movedim, "moveaxis": I.movedim,
    "narrow": I.narrow, "select": I.select, "split": I.split, "chunk": I.chunk,
    "tensor_split": I.tensor_split, "unbind": I.unbind, "flip": I.flip, "fliplr": I.fliplr,
    "flipud": I.flipud, "roll": I.roll, "unflatten": I.unflatten, "repeat": I.repeat,
    "repeat_interleave": I.repeat_interleave, "index_select": I.index_select, "take": I.take,
    "take_along_dim": I.take_along_dim, "scatter": I.scatter, "scatter_add": I.scatter_add,
    "index_add": I.index_add, "index_fill": I.index_fill, "index_copy": I.index_copy,
    "scatter_reduce": I.scatter_reduce, "masked_select": I.masked_select,
    "masked_scatter": I.masked_scatter, "nonzero": I.nonzero, "argwhere": I.argwhere,
    "count_nonzero": I.count_nonzero, "tril": I.tril, "triu": I.triu, "diagonal": I.diagonal,
    "diag": I.diag, "diag_embed": I.diag_embed, "trace": I.trace,
    # sorting
    "sort": SO.sort, "argsort": SO.argsort, "msort": SO.msort, "topk": SO.topk,
    "kthvalue": SO.kthvalue, "median": SO.median, "unique": SO.unique,
    "unique_consecutive": SO.unique_consecutive, "bincount": SO.bincount,
    # spatial
    "unfold": SP.tensor_unfold,
    # minmax, pointwise, index_put
    "fmax": MM.fmax, "fmin": MM.fmin, "addcmul": PW.addcmul_method, "addcdiv": PW.addcdiv_method,
    "index_put": IP.index_put, "index_put_": IP.index_put_,
}
for _name, _fn in _OP_METHODS.items():
    setattr(Tensor, _name, _fn)


_NO_ALIAS = ("index_add_", "index_copy_", "scatter_", "scatter_add_", "scatter_reduce_")  # PyTorch:
# their source may not share any element with the written tensor; nor checked at all:
_NO_OVERLAP_CHECK = ("masked_scatter_", "index_fill_")


def _inplace_method(fn, name):
    """x.name_(*args): the out-of-place op written into x (see shape.inplace)."""
    full_ok, overlap = name not in _NO_ALIAS, name not in _NO_OVERLAP_CHECK

    def method(self, *args, **kwargs):
        return S.inplace(self, lambda a, *rest: fn(a, *rest, **kwargs), *args, name=name,
                         others=tuple(kwargs.values()), full_ok=full_ok, overlap=overlap)
    method.__name__ = name
    return method


for _name, _fn in (("floor_", M.floor), ("ceil_", M.ceil), ("trunc_", M.trunc), ("round_", M.round),
                   ("frac_", M.frac), ("log_", E.log), ("log1p_", M.log1p), ("log2_", M.log2),
                   ("log10_", M.log10), ("expm1_", M.expm1), ("reciprocal_", M.reciprocal), ("rsqrt_", M.rsqrt),
                   ("square_", E.square), ("sin_", E.sin), ("cos_", E.cos), ("tan_", M.tan), ("atan2_", M.atan2),
                   ("lerp_", M.lerp), ("nan_to_num_", M.nan_to_num), ("erf_", M.erf), ("sign_", E.sign),
                   ("tril_", I.tril), ("triu_", I.triu), ("scatter_", I.scatter), ("scatter_add_", I.scatter_add),
                   ("scatter_reduce_", I.scatter_reduce),
                   ("index_add_", I.index_add), ("index_fill_", I.index_fill), ("index_copy_", I.index_copy),
                   ("masked_scatter_", I.masked_scatter), ("cumsum_", RX.cumsum), ("remainder_", M.remainder),
                   ("fmod_", M.fmod), ("addcmul_", PW.addcmul_method), ("addcdiv_", PW.addcdiv_method)):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _inplace_method(_fn, _name))


def _copy_like(a, s):
    s = s if s._data.dtype == a._data.dtype else s.to(a.dtype)
    return S.expand(s, *a._data.shape) if s._data.shape != a._data.shape else s.clone() if not s._requires_grad else s


def _raw(x):
    return x._data if isinstance(x, engine.TensorBase) else x


def _rebuild(data, requires_grad):
    t = make(data)
    t._requires_grad = requires_grad
    return t


engine.register("tensor", Tensor)
engine.register("dtype_of", _dtype.from_numpy_dtype)


def zero_grads(params, set_to_none=True):
    """Module.zero_grad and Optimizer.zero_grad: drop each .grad, or zero it in place
    (detached from any graph first), as PyTorch does."""
    for p in params:
        g = p._grad
        if g is None:
            continue
        if set_to_none:
            p._grad = None
        else:
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            g.zero_()
