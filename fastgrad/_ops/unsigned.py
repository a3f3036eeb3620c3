"""uint16, uint32, uint64: the ops torch 2.13's CPU kernels refuse for them.

torch builds these "barebones" unsigned dtypes into some kernels only: creation and fills, copies
and casts, views and shape ops, indexing by slices, cat/stack, ``==``/``!=``, ``*``, ``&``/``|``/``^``,
sum/prod/cumsum (int64 results), sort, unique, where, and every op that computes in floating point
(exp, sqrt, ``/``, ...). Every other kernel raises ``NotImplementedError: "<kernel>" not implemented
for 'UInt16'``. fastgrad's NumPy code would compute those silently, so each such op declares it where
it is defined, with a decorator from here naming torch's kernel::

    @U.refuses_promoted("lt_cpu")   # two operands: refused when their promoted dtype is uint16/32/64
    def lt(input, other): ...
    @U.refuses("topk_cpu", skip=U.SKIPS["topk"])   # refused when one of the first two arguments is one
    def topk(input, k, dim=-1, ...): ...

The decorated function is the public one (``fastgrad.<name>``) and the one the method table
(fastgrad/_tensor_methods.py) binds as ``Tensor.<name>``, its operator and (through the in-place
wrapper) ``<name>_``; the class body's methods (Tensor.add, .max, .softmax, ...) call it; + - **
reach it through the engine's hooks for non-float tensors. So the refusal is applied once, in one
place, and nothing is wrapped after binding. The kernel names were read off torch 2.13
(tests/test_dtype_unsigned.py calls both and compares), and so were torch's short cuts that reach no
kernel (SKIPS: 0-d and empty inputs, flips of outer dims, isin's sorting path, ...). Float tensors pay
a type test and one frozenset look-up per argument checked; the functions on the float hot path
(matmul, linear, conv, layer_norm, dropout, the activations) are not decorated but check in their own
code."""
import functools

from fastgrad import _dtype
from fastgrad._backend import engine

_BARE = _dtype.BAREBONES
_TB = engine.TensorBase


def _bare(x):
    """x is a uint16/32/64 tensor (a nested tensor has no dense array to look at: its components are checked
    by the op it runs per component)."""
    return isinstance(x, _TB) and not x.is_nested and x._data.dtype in _BARE


def refuse(kernel, x):
    """torch's NotImplementedError when x is a uint16/32/64 tensor."""
    if _bare(x):
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(x._data.dtype)))


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _n(x):
    return x._data.size if isinstance(x, _TB) else 1


def _zero_d(args, kwargs):
    return args[0]._data.ndim == 0


def _flipped(args, kwargs, name):
    """The dims flip/fliplr/flipud/rot90 flip (torch's rot90 is flips and a transpose)."""
    if name == "fliplr":
        return (1,)
    if name == "flipud":
        return (0,)
    if name == "rot90":
        k, dims = _arg(args, kwargs, 1, "k", 1) % 4, list(_arg(args, kwargs, 2, "dims", (0, 1)))
        return {0: (), 1: (dims[1],), 2: tuple(dims), 3: (dims[0],)}[k]
    dims = _arg(args, kwargs, 1, "dims", ())
    return tuple(dims) if isinstance(dims, (list, tuple)) else (dims,) + tuple(args[2:])


def _flip_copies(args, kwargs, name):
    """torch flips with a dtype-free copy unless the innermost dim longer than 1 is flipped."""
    shape = args[0]._data.shape
    inner = [i for i, n in enumerate(shape) if n > 1]
    return not inner or inner[-1] not in {d % len(shape) for d in _flipped(args, kwargs, name)}


def _isin_sorts(args, kwargs):
    """torch's isin sorts (a dtype-free path) unless test_elements is small against elements."""
    elements, test = _arg(args, kwargs, 0, "elements"), _arg(args, kwargs, 1, "test_elements")
    return not _n(test) < int(10.0 * float(_n(elements)) ** 0.145)


# op -> when torch's call never reaches the kernel (0-d and empty short cuts, dtype-free paths)
SKIPS = {
    "topk": _zero_d, "kthvalue": _zero_d, "mode": _zero_d,
    "cummax": lambda a, k: a[0]._data.ndim == 0 or a[0]._data.size == 0,
    "cummin": lambda a, k: a[0]._data.ndim == 0 or a[0]._data.size == 0,
    "count_nonzero": lambda a, k: a[0]._data.ndim == 0 and _arg(a, k, 1, "dim") is not None,
    "aminmax": lambda a, k: a[0]._data.ndim == 0 and k.get("dim") is not None,
    "amax": lambda a, k: a[0]._data.size == 0, "amin": lambda a, k: a[0]._data.size == 0,
    "gather": lambda a, k: _n(_arg(a, k, 2, "index")) == 0, "take": lambda a, k: _n(_arg(a, k, 1, "index")) == 0,
    "tril": lambda a, k: a[0]._data.size == 0, "triu": lambda a, k: a[0]._data.size == 0,
    "searchsorted": lambda a, k: _n(a[0]) == 0 or _n(_arg(a, k, 1, "input")) == 0,
    "isin": _isin_sorts, "index_select": lambda a, k: a[0]._data.ndim > 1,
    "combinations": lambda a, k: a[0]._data.size < _arg(a, k, 1, "r", 2),
    "diff": lambda a, k: a[0]._data.ndim == 0 or a[0]._data.shape[_arg(a, k, 2, "dim", -1)] <= _arg(a, k, 1, "n", 1),
    "flip": lambda a, k: _flip_copies(a, k, "flip"), "fliplr": lambda a, k: _flip_copies(a, k, "fliplr"),
    "flipud": lambda a, k: _flip_copies(a, k, "flipud"), "rot90": lambda a, k: _flip_copies(a, k, "rot90"),
    "round": lambda a, k: not k.get("decimals"),  # decimals=0 rounds an integer as it is
}


def refuses(kernel, skip=None):
    """Decorator: the op raises torch's error first when one of its first two positional arguments is a
    uint16/32/64 tensor (unless skip(args, kwargs) says torch's call does not reach the kernel)."""
    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            for a in args[:2]:
                if isinstance(a, _TB) and not a.is_nested and a._data.dtype in _BARE \
                        and not (skip is not None and skip(args, kwargs)):
                    refuse(kernel, a)
            return fn(*args, **kwargs)
        return op
    return decorate


def refuse_promoted(kernel, a, b, pow_like=False):
    """torch's NotImplementedError when a and b (one a uint16/32/64 tensor) promote to uint16/32/64
    (a uint16 tensor with a float one computes in float; with an int64 one, torch's promotion error).
    pow_like: a Python exponent of 0 or 1 needs no kernel (x ** 1 is a copy, x ** 0 ones), as torch's."""
    if not (pow_like and type(b) in (int, float) and b in (0, 1) and isinstance(a, _TB)):
        rt = _dtype.result_type(a, b) if b is not None else a._data.dtype
        if rt in _BARE:
            raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(rt)))


def refuses_promoted(kernel, pow_like=False):
    """Decorator for an op on two operands (input, other or exponent): refuse_promoted first. The test
    is written out (no call) for a float tensor's sake: this is on the path of x.add(y), x < y, x.pow(2)."""
    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if len(args) > 1:
                a, b = args[0], args[1]
            else:
                a = args[0] if args else kwargs.get("input", kwargs.get("self"))
                b = kwargs.get("other", kwargs.get("exponent"))
            if (isinstance(a, _TB) and not a.is_nested and a._data.dtype in _BARE) or (
                    isinstance(b, _TB) and not b.is_nested and b._data.dtype in _BARE):
                refuse_promoted(kernel, a, b, pow_like)
            return fn(*args, **kwargs)
        return op
    return decorate


def refuses_scatter(fn):
    """scatter: 'scatter_gather_tensor_cpu' with a src tensor, 'scatter_gather_scalar_cpu' with a value."""
    @functools.wraps(fn)
    def op(input, *args, **kwargs):
        if _bare(input):
            src = args[2] if len(args) > 2 else kwargs.get("src", kwargs.get("value"))
            refuse("scatter_gather_%s_cpu" % ("tensor" if isinstance(src, _TB) else "scalar"), input)
        return fn(input, *args, **kwargs)
    return op


def refuses_minmax(which):
    """max/min: the whole tensor ('max_all'), along a dim ('max_cpu'), of two tensors ('maximum_cpu')."""
    def decorate(fn):
        @functools.wraps(fn)
        def op(input, *args, **kwargs):
            if _bare(input):
                other = args[0] if args else kwargs.get("other", kwargs.get("dim"))
                if other is None:
                    refuse("%s_all" % which, input)
                elif isinstance(other, _TB):
                    refuse("%simum_cpu" % which, input)
                elif input._data.ndim and input._data.size:  # along a dim: 0-d and empty inputs need no kernel
                    refuse("%s_cpu" % which, input)
            return fn(input, *args, **kwargs)
        return op
    return decorate


def refuses_clamp(fn):
    """clamp: 'clamp_scalar_cpu', one-sided 'clamp_min_scalar_cpu' / 'clamp_max_scalar_cpu', tensor
    bounds 'clamp_cpu'."""
    @functools.wraps(fn)
    def op(input, min=None, max=None, **kwargs):  # noqa: A002  (torch's names)
        if _bare(input):
            if isinstance(min, _TB) or isinstance(max, _TB):
                kernel = "clamp_cpu"
            else:
                kernel = "clamp_scalar_cpu" if min is not None and max is not None else (
                    "clamp_min_scalar_cpu" if min is not None else "clamp_max_scalar_cpu")
            refuse(kernel, input)
        return fn(input, min, max, **kwargs)
    return op


def refuses_rounding(fn):
    """div (and true_divide): only a rounding_mode refuses ('div_floor_cpu', 'div_trunc_cpu')."""
    @functools.wraps(fn)
    def op(input, other, *args, rounding_mode=None, **kwargs):
        if rounding_mode is not None:
            for a in (input, other):
                refuse("div_%s_cpu" % rounding_mode, a)
        return fn(input, other, *args, rounding_mode=rounding_mode, **kwargs)
    return op


def refuses_softmax(name):
    """softmax/log_softmax: torch's kernel along the last dim is '<name>_lastdim_kernel_impl'."""
    def decorate(fn):
        @functools.wraps(fn)
        def op(input, dim=None, *args, **kwargs):
            cast = kwargs.get("dtype") is not None or any(isinstance(v, _dtype.dtype) for v in args)  # computes in it
            if _bare(input) and not cast:
                last = dim is None or dim in (-1, input._data.ndim - 1)
                refuse("%s_%skernel_impl" % (name, "lastdim_" if last else ""), input)
            return fn(input, dim, *args, **kwargs)
        return op
    return decorate
