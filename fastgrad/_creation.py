"""Tensor creation: tensor, as_tensor, from_numpy, zeros/ones/full/empty/eye/arange/linspace,
random tensors, and the *_like forms."""
import builtins
import numbers

import numpy as np

from fastgrad import _dtype
from fastgrad import _random as _r
from fastgrad import _random_ops as _ro
from fastgrad._backend import engine
from fastgrad._quiet import quiet
from fastgrad._types import check_device
from fastgrad._ops import shape as S
from fastgrad._ops import unsigned as U

make = engine.make_tensor


@quiet  # a value past the dtype's range becomes inf silently, as in PyTorch (fastgrad/_quiet.py)
def _to_array(data, dtype=None):
    """Nested Python data / arrays / tensors -> ndarray with PyTorch's dtype inference."""
    if dtype is not None and not isinstance(data, (engine.TensorBase, np.ndarray)):
        if isinstance(data, (list, tuple)):
            data = _unwrap_nested(data)
        npd = _dtype.to_dtype(dtype).np
        if npd.kind == "u" and not isinstance(data, np.generic):
            data = _dtype.wrap_unsigned(data, npd)
        return np.array(data, dtype=npd)
    if isinstance(data, engine.TensorBase):
        return np.array(data._data, copy=True)
    if isinstance(data, np.ndarray):
        _dtype.check_numpy_input(data.dtype)  # unsupported dtypes raise here
        return np.array(data, copy=True)
    if isinstance(data, np.generic):
        return np.array(data)
    if isinstance(data, (list, tuple)):
        data = _unwrap_nested(data)
    arr = np.array(data)
    if arr.dtype == object:
        raise TypeError("Could not infer dtype of %s" % type(data).__name__)
    if (arr.dtype.kind == "f" or arr.dtype is _dtype.BF16) and not _has_numpy_float(data):
        arr = arr.astype(_dtype.get_default_dtype().np)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "c":
        arr = arr.astype(np.complex64)
    elif arr.dtype.kind in "US":
        raise TypeError("new(): invalid data type 'str'")
    return arr


def _unwrap_nested(data):
    out = []
    for d in data:
        if isinstance(d, engine.TensorBase):
            out.append(d._data)
        elif isinstance(d, (list, tuple)):
            out.append(_unwrap_nested(d))
        else:
            out.append(d)
    return out


def _has_numpy_float(data):
    if isinstance(data, (np.ndarray, np.floating)):
        return data.dtype == np.float64 if isinstance(data, np.ndarray) else isinstance(data, np.float64)
    if isinstance(data, list):
        return builtins.any(_has_numpy_float(d) for d in data[:1])
    return False


def _finish(arr, dtype, requires_grad, device):
    check_device(device)
    if dtype is not None:
        arr = arr.astype(_dtype.to_dtype(dtype).np, copy=False)
    t = make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of data (float64 NumPy arrays stay float64)."""
    return _finish(_to_array(data, dtype), dtype, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, engine.TensorBase):
        check_device(device)
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        _dtype.check_numpy_input(data.dtype)
        arr = data if dtype is None else data.astype(_dtype.to_dtype(dtype).np, copy=False)
        return _finish(arr, None, False, device)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor sharing memory with ndarray."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError("expected np.ndarray (got %s)" % type(ndarray).__name__)
    _dtype.check_numpy_input(ndarray.dtype)
    return make(ndarray)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError("size must be a tuple of ints, but got %s" % type(s).__name__)
        if s < 0:
            raise RuntimeError("Trying to create tensor with negative dimension %d: %s" % (s, list(size)))
    return tuple(int(s) for s in size)


def _np_dtype(dtype, default=None):
    if dtype is None:
        return (default or _dtype.get_default_dtype()).np
    return _dtype.to_dtype(dtype).np


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _finish(np.zeros(_size(S._sizes_or_keyword(args, size, "zeros", "size")), _np_dtype(dtype)), None, requires_grad, device)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    return _finish(np.ones(_size(S._sizes_or_keyword(args, size, "ones", "size")), _np_dtype(dtype)), None, requires_grad, device)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None):
    return _finish(np.empty(_size(S._sizes_or_keyword(args, size, "empty", "size")), _np_dtype(dtype)), None, requires_grad, device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    if dtype is None:
        dtype = (_dtype.bool_ if isinstance(fill_value, bool) else _dtype.int64
                 if isinstance(fill_value, numbers.Integral) else _dtype.get_default_dtype())
    npd = _np_dtype(dtype)
    if npd.kind == "u" and isinstance(fill_value, numbers.Integral) and not isinstance(fill_value, bool):
        fill_value = _dtype.unsigned_int(int(fill_value), npd, npd.name + "_t")
    return _finish(np.full(_size((size,)), fill_value, npd), None, requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    _dtype.refuse_barebones("eye", _np_dtype(dtype))
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype)), None, requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, engine.TensorBase) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    is_int = builtins.all(isinstance(v, numbers.Integral) for v in vals)
    d = _np_dtype(dtype, _dtype.int64 if is_int else None)
    _dtype.refuse_barebones("arange_cpu", d)
    return _finish(np.arange(*vals).astype(d), None, requires_grad, device)


def _range_ends(name, start, end):
    """start and end as Python numbers: a 0-d tensor gives its value (in float64 arithmetic
    from there, as torch's), a tensor of more dims torch's error."""
    ends = []
    for which, v in (("start", start), ("end", end)):
        if isinstance(v, engine.TensorBase):
            if v._data.ndim:
                raise RuntimeError("%s only supports 0-dimensional start and end tensors, but got %s with %d "
                                   "dimension(s)." % (name, which, v._data.ndim))
            v = v._data.item()
        ends.append(v)
    return ends


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    start, end = _range_ends("linspace", start, end)
    _dtype.refuse_barebones("linspace_cpu", _np_dtype(dtype))
    return _finish(np.linspace(start, end, steps).astype(_np_dtype(dtype)), None, requires_grad, device)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    start, end = _range_ends("logspace", start, end)
    _dtype.refuse_barebones("logspace_cpu", _np_dtype(dtype))
    return _finish(np.logspace(start, end, steps, base=base).astype(_np_dtype(dtype)), None, requires_grad, device)


def _like(x, dtype):
    return x._data.dtype if dtype is None else _dtype.to_dtype(dtype).np


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("zeros_like", input, dtype=dtype, requires_grad=requires_grad)
    return _finish(np.zeros(input._data.shape, _like(input, dtype)), None, requires_grad, device)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("ones_like", input, dtype=dtype, requires_grad=requires_grad)
    return _finish(np.ones(input._data.shape, _like(input, dtype)), None, requires_grad, device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("empty_like", input, dtype=dtype, requires_grad=requires_grad)
    return _finish(np.empty(input._data.shape, _like(input, dtype)), None, requires_grad, device)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("full_like", input, fill_value, dtype=dtype, requires_grad=requires_grad)
    npd = _like(input, dtype)
    if npd.kind == "u" and isinstance(fill_value, numbers.Integral) and not isinstance(fill_value, bool):
        fill_value = _dtype.unsigned_int(int(fill_value), npd, npd.name + "_t")
    return _finish(np.full(input._data.shape, fill_value, npd), None, requires_grad, device)


# --------------------------------------------------------------------------- random
def rand(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """empty(size).uniform_(0, 1) on torch's generator."""
    out = np.empty(_size(S._sizes_or_keyword(args, size, "rand", "size")), _r._float_dtype(dtype, "check_uniform_bounds"))
    return _finish(_r.uniform_(out, 0.0, 1.0, generator), None, requires_grad, device)


def randn(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """empty(size).normal_(0, 1) on torch's generator."""
    out = np.empty(_size(S._sizes_or_keyword(args, size, "randn", "size")), _r._float_dtype(dtype))
    return _finish(_r.normal_(out, 0.0, 1.0, generator), None, requires_grad, device)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False,
            layout=None, pin_memory=False):
    """empty(size, dtype).random_(low, high) (int64 unless dtype says otherwise)."""
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    out = np.empty(_size((size,)), _np_dtype(dtype, _dtype.int64))
    return _finish(_ro.random_(out, int(low), int(high), generator), None, requires_grad, device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    if n < 0:
        raise RuntimeError("n must be non-negative, got%d" % n)
    _dtype.refuse_barebones("randperm", _np_dtype(dtype, _dtype.int64))
    return _finish(_ro.randperm(int(n), _np_dtype(dtype, _dtype.int64), generator), None, requires_grad, device)


@U.refuses("normal_kernel_cpu")
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False,
           layout=None, pin_memory=False, out=None):
    """torch.normal's overloads: (float, float, size) fills normal_(mean, std); a tensor mean
    and a float std: normal_(0, std) + mean; a tensor std: normal_(0, 1) * std + mean."""
    mt, st = isinstance(mean, engine.TensorBase), isinstance(std, engine.TensorBase)
    if not mt and not st:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments")
        if not std >= 0.0:
            raise RuntimeError("normal expects std >= 0.0, but found std %s" % std)
        res = np.empty(_size((size,)), _r._float_dtype(dtype))
        _r.normal_(res, float(mean), float(std), generator)
    else:
        if st and std._data.size and not (std._data.min() >= 0):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        if not st and not std >= 0.0:
            raise RuntimeError("normal expects std >= 0.0, but found std %s" % std)
        m = mean._data if mt else None
        s = std._data if st else None
        dt = (m if mt else s).dtype
        shape = np.broadcast_shapes(*(x.shape for x in (m, s) if x is not None))
        res = np.empty(shape, dt)
        if mt and not st:
            _r.normal_(res, 0.0, float(std), generator)
            eps = res / std if std else np.zeros_like(res)
            res = (res + m).astype(dt, copy=False)
        else:
            _r.normal_(res, 0.0, 1.0, generator)
            eps = res.copy()
            res = (res * s).astype(dt, copy=False)
            res = (res + (m if mt else dt.type(mean))).astype(dt, copy=False)
        if engine.is_grad_enabled() and ((mt and mean.requires_grad) or (st and std.requires_grad)):
            from fastgrad._ops.random_grad import Normal

            res = Normal.apply(mean, std, res, eps)
            return res if out is None else out.copy_(res)
    if out is not None:
        out._data[...] = res
        out._vc.value += 1
        return out
    return _finish(res, None, requires_grad, device)


def rand_like(input, *, dtype=None, generator=None, requires_grad=False, device=None, layout=None,
              memory_format=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("rand_like", input, dtype=dtype, requires_grad=requires_grad)
    return rand(*input._data.shape, dtype=dtype or input.dtype, generator=generator, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, generator=None, requires_grad=False, device=None, layout=None,
               memory_format=None):
    if getattr(input, "is_nested", False):  # torch.nested (fastgrad.nested._ops)
        return input._nested_call("randn_like", input, dtype=dtype, requires_grad=requires_grad)
    return randn(*input._data.shape, dtype=dtype or input.dtype, generator=generator, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, requires_grad=False, device=None,
                 layout=None, memory_format=None):
    return randint(low, high, input._data.shape, dtype=dtype or input.dtype, generator=generator)


@U.refuses("bernoulli_scalar_cpu_")
def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 draws: probability input (bernoulli_tensor), or the float p for every element."""
    res = np.empty(input._data.shape, input._data.dtype)
    if p is None:
        _ro.bernoulli_tensor_(res, input._data, generator)
    else:
        if not 0 <= p <= 1:
            raise RuntimeError("bernoulli_ expects p to be in [0, 1], but got p=%s" % p)
        _ro.bernoulli_scalar_(res, p, generator)
    if p is None and engine.is_grad_enabled() and input.requires_grad:  # torch's: zero gradient
        from fastgrad._ops.random_grad import Bernoulli

        res = Bernoulli.apply(input, res)
        return res if out is None else out.copy_(res)
    if out is not None:
        out._data[...] = res
        out._vc.value += 1
        return out
    return make(res)


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from each row of input (non-negative weights), as torch.multinomial: without
    replacement the top num_samples of p / q with q ~ Exp(1) (sequential sampling without
    replacement), with replacement one uniform draw per sample through the row's cumulative sums."""
    if not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, builtins.bool):
        raise TypeError("multinomial(): argument 'num_samples' (position 2) must be int, not %s"
                        % type(num_samples).__name__)
    if not isinstance(replacement, builtins.bool):
        raise TypeError("multinomial(): argument 'replacement' must be bool, not %s" % type(replacement).__name__)
    p = input._data
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if p.dtype.kind != "f" and p.dtype is not _dtype.BF16:
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: %s"
                           % _SCALAR_NAMES.get(p.dtype.name, p.dtype.name))
    n = int(num_samples)
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    k = p.shape[-1]
    if not replacement and n > k:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if k > 2 ** 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = p.reshape(p.shape[0] if p.ndim == 2 else 1, k).astype(np.float64)
    res = np.zeros((rows.shape[0], n), np.int64)
    if res.size == 0:
        return _finish(res.reshape(p.shape[:-1] + (n,)), None, False, None)
    if not replacement or n == 1:
        if rows.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation "
                               "has no identity.")
        if not (np.all(rows >= 0) and np.all(rows < np.inf)):  # NaN fails both
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if np.any(rows.sum(1) == 0):
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    else:
        for row in rows:
            bad = ~((row >= 0) & np.isfinite(row))
            if bad.any():
                j = int(np.argmax(bad))
                raise RuntimeError("invalid multinomial distribution (encountering probability entry %s)"
                                   % ("< 0" if not row[j] >= 0 else "= infinity or NaN"))
            if not (k and row.sum() > 0):
                raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    res = _ro.multinomial_rows(p.reshape(rows.shape), n, replacement, generator)
    res = res.reshape(p.shape[:-1] + (n,))
    if out is not None:
        out._data = res
        return out
    return _finish(res, None, False, None)


_SCALAR_NAMES = _dtype._SCALAR_NAMES
