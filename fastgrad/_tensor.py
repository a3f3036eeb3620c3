"""fastgrad.Tensor: the tensor's own methods (attributes, conversions, hooks, operators that are no
op's function). Autograd fields, + - * / ** live in the compiled TensorBase; the op methods (x.sum,
x.add_, ...) are bound from one table in fastgrad/_tensor_methods.py once fastgrad has loaded."""
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import elementwise as E
from fastgrad._ops import indexing as I
from fastgrad._ops import linalg as L
from fastgrad._ops import math as M
from fastgrad._ops import nn as N
from fastgrad._ops import reduction as R
from fastgrad._ops import shape as S
from fastgrad._ops import unsigned as U
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
        # twin of nn/parameter.py Parameter.__new__: torch's two entry points
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
        # twin of nn/modules/module.py Module.to: torch's two .to
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

    def new_zeros(self, *args, size=None, dtype=None, requires_grad=False, device=None):
        size = S._sizes_or_keyword(args, size, "new_zeros", "size")
        return make(np.zeros(S._shape_args(size), (dtype and _dtype.to_dtype(dtype).np) or self._data.dtype), requires_grad)

    def new_ones(self, *args, size=None, dtype=None, requires_grad=False, device=None):
        size = S._sizes_or_keyword(args, size, "new_ones", "size")
        return make(np.ones(S._shape_args(size), (dtype and _dtype.to_dtype(dtype).np) or self._data.dtype), requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False, device=None):
        return make(np.full(tuple(size), fill_value, (dtype and _dtype.to_dtype(dtype).np) or self._data.dtype), requires_grad)

    def new_empty(self, *args, size=None, dtype=None, requires_grad=False, device=None):
        return self.new_zeros(*args, size=size, dtype=dtype, requires_grad=requires_grad)

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

    # in place: x += y is x.add_(y)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

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

    @U.refuses("check_uniform_bounds")
    def uniform_(self, a=0.0, b=1.0, generator=None, **kwargs):
        from fastgrad import _random

        return _random.fill_(self, "uniform", kwargs.pop("from", a), kwargs.pop("to", b), generator, **kwargs)

    @U.refuses("normal_kernel_cpu")
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

    def div(self, other, *, rounding_mode=None):
        return E.div(self, other, rounding_mode=rounding_mode)

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
    def view(self, *shape, size=None, dtype=None):
        return S.view(self, *shape, size=size, dtype=dtype)

    def view_as(self, other):
        return S.view(self, other._data.shape)

    def reshape(self, *sizes, shape=None):
        return S.reshape(self, *sizes, shape=shape)

    def reshape_as(self, other):
        return S.reshape(self, other._data.shape)

    def permute(self, *args, dims=None):
        return S.permute(self, *args, dims=dims)

    def expand(self, *sizes, size=None, implicit=False):
        return S.expand(self, *sizes, size=size)

    def expand_as(self, other):
        return S.expand(self, *other._data.shape)

    def clone(self, *, memory_format=None):
        return S.clone(self)

    def contiguous(self, memory_format=None):
        return S.contiguous(self)

    def tile(self, *args, dims=None):
        return I.tile(self, S._shape_args(S._sizes_or_keyword(args, dims, "tile", "dims")))

    def broadcast_to(self, size):
        return S.broadcast_to(self, size)

    def true_divide_(self, other):
        return self.div_(other)

    def to_dense(self, dtype=None, *, masked_grad=None):
        return self if dtype is None else self.to(dtype)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from fastgrad._creation import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)


def _copy_like(a, s):
    if a._data.shape != s._data.shape:  # src broadcasts to self's shape (torch's messages)
        E.check_broadcast(a._data.shape, s._data.shape)
        if np.broadcast_shapes(a._data.shape, s._data.shape) != a._data.shape:
            raise RuntimeError("output with shape %s doesn't match the broadcast shape %s"
                               % (S.shape_str(a._data.shape), S.shape_str(np.broadcast_shapes(a._data.shape, s._data.shape))))
    if a._requires_grad or s._requires_grad or s._fw_grad is not None:  # recorded: PyTorch's CopyBackwards
        return S.Copy.apply(a, s)  # (a: the written tensor's history, whose gradient is zero)
    s = s if s._data.dtype == a._data.dtype else s.to(a.dtype)
    return S.expand(s, *a._data.shape) if s._data.shape != a._data.shape else s.clone()


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
