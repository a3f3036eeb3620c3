"""nn.functional pooling beyond max_pool2d / avg_pool2d: 1-D and 3-D max and average pooling,
adaptive pooling, power-average (LP) pooling and max unpooling (re-exported by
fastgrad.nn.functional). Errors are torch's, raised before any computation.

Max pooling finds each window's argmax on the arrays, then gathers: the output is
``x.flatten(2).gather(2, idx)``, so its gradient (a scatter-add) and double backward come from
gather. Average pooling sums Im2Col's windows (spatial.Im2Col, whose adjoint is Col2Im).
Adaptive average pooling is separable: one averaging matrix per spatial dim."""
import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import spatial as SP
from fastgrad._ops.base import float32_compute, make, scalar_type_name, shape_str
from fastgrad.nn._functional_layers import avg_pool2d, max_pool2d
from fastgrad._ops import unsigned as U

__all__ = ["max_pool1d", "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d"]

_WORDS = {1: "one", 2: "two", 3: "three"}


def _seq(v):
    return list(v) if isinstance(v, (tuple, list)) else None


def _expand(v, n):
    """An int or a 1- / n-element sequence as an n-tuple of ints."""
    seq = _seq(v)
    if seq is None:
        return (int(v),) * n
    return tuple(int(a) for a in (seq * n if len(seq) == 1 else seq))


def _one_int(fn, name, v):
    """An argument torch's parser takes as int[1]: 'should contain one int'."""
    seq = _seq(v)
    if seq is not None and len(seq) != 1:
        raise RuntimeError(f"{fn}() argument '{name}' should contain one int (got {len(seq)})")
    return int(seq[0]) if seq is not None else int(v)


def _pool_out(size, k, p, s, d, ceil_mode):
    """torch's pooling_output_shape, with its checks."""
    if s == 0:
        raise RuntimeError("stride should not be zero")
    if p < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
    if p > ((k - 1) * d + 1) // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} "
                           f"and dilation={d}")
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool2d_check(x4, k, s, d, out):
    """torch's pool2d_shape_check on the (N, C, H, W) input 1-D pooling runs on."""
    if k[0] <= 0 or k[1] <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    if s[0] <= 0 or s[1] <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if d[0] <= 0 or d[1] <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {d[0]} dilationW: {d[1]}")
    if any(n == 0 for n in x4.shape[1:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:"
                           + shape_str(x4.shape))
    if min(out) < 1:
        c, h, w = x4.shape[1:]
        raise RuntimeError(f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{out[0]}x{out[1]}). "
                           "Output size is too small")


def _pool3d_check(fn, x5, k, s, p, d, out, check_input_size=False):
    """torch's pool3d_shape_check."""
    if min(k) <= 0:
        raise RuntimeError("kernel size should be greater than zero, but got kT: %d kH: %d kW: %d" % k)
    if min(s) <= 0:
        raise RuntimeError("stride should be greater than zero, but got dT: %d dH: %d dW: %d" % s)
    if min(d) <= 0:
        raise RuntimeError("dilation should be greater than zero, but got dilationT: %d dilationH: %d dilationW: %d"
                           % d)
    for n in x5.shape[1:]:
        if n == 0:
            raise RuntimeError(f"{fn}: Expected input's non-batch dimensions to have positive length, but input has a "
                               f"shape of {shape_str(x5.shape)} and non-batch dimension 0 has length zero!")
    sp = x5.shape[2:]
    if check_input_size and any(sp[i] < k[i] for i in range(3)):
        raise RuntimeError("input image (T: %d H: %d W: %d) smaller than kernel size (kT: %d kH: %d kW: %d)"
                           % (tuple(sp) + tuple(k)))
    if min(out) < 1:
        raise RuntimeError("Given input size: (%dx%dx%dx%d). Calculated output size: (%dx%dx%dx%d). Output size is "
                           "too small" % ((x5.shape[1],) + tuple(sp) + (x5.shape[1],) + tuple(out)))


def no_half_avg_pool3d(x):
    """torch's avg_pool3d kernel (avg_pool3d_out_frame) takes no float16/bfloat16: its error."""
    if _dtype.is_half(x._data.dtype):
        raise NotImplementedError(f"\"avg_pool3d_out_frame\" not implemented for '{scalar_type_name(x._data.dtype)}'")


def _float_only(name, x):
    if _dtype.kind(x._data.dtype) != "f":
        raise NotImplementedError(f"\"{name}\" not implemented for '{scalar_type_name(x._data.dtype)}'")


def _unbatch(y, unbatched):
    if isinstance(y, tuple):
        return tuple(t.squeeze(0) for t in y) if unbatched else y
    return y.squeeze(0) if unbatched else y


# --------------------------------------------------------------------------- max pooling core
def _plane_gather(x, idx):
    """x (N, C, *sp) at flat spatial indices idx (N, C, *out), differentiably (gather)."""
    n, c = idx.shape[:2]
    sp, so = int(np.prod(x.shape[2:], dtype=np.int64)), int(np.prod(idx.shape[2:], dtype=np.int64))
    return x.reshape(n, c, sp).gather(2, make(idx.reshape(n, c, so))).reshape(idx.shape)


def _max_indices(a, k, s, p, d, out):
    """Flat spatial index of each window's maximum (the first one, as torch) of a (N, C, *sp)."""
    n, sp = len(k), a.shape[2:]
    extra = [max(0, d[i] * (k[i] - 1) + s[i] * (out[i] - 1) + 1 - (sp[i] + 2 * p[i])) for i in range(n)]
    neg = -np.inf if _dtype.kind(a.dtype) == "f" else np.iinfo(a.dtype).min
    win = SP.windows(SP.pad_nd(a, p, [p[i] + extra[i] for i in range(n)], neg), k, s, d, out)  # N C *k *out
    order = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    flat = win.transpose(order).reshape(a.shape[:2] + tuple(out) + (int(np.prod(k, dtype=np.int64)),))
    kk = np.unravel_index(flat.argmax(-1), k) if flat.size else [np.zeros(flat.shape[:-1], np.int64)] * n
    idx = np.zeros(flat.shape[:-1], np.int64)
    for i in range(n):
        o = np.arange(out[i]).reshape((-1,) + (1,) * (n - 1 - i))
        # a window of -inf only: its first in-bound element, as torch (clip the padding away)
        pos = np.clip(o * s[i] + kk[i] * d[i] - p[i], 0, sp[i] - 1)
        idx = idx * sp[i] + pos
    return idx


def _max_pool_nd(x, k, s, p, d, out):
    idx = _max_indices(x._data, k, s, p, d, out)
    return _plane_gather(x, idx), make(idx)


# --------------------------------------------------------------------------- max_pool1d / 3d
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    k = _one_int("max_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or _seq(stride) == [] else _one_int("max_pool1d", "stride", stride)
    pd, dl = _one_int("max_pool1d", "padding", padding), _one_int("max_pool1d", "dilation", dilation)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 "
                           "'self' (while checking arguments for max_pool1d)")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    out = _pool_out(x.shape[2], k, pd, s, dl, ceil_mode)
    _pool2d_check(x.unsqueeze(2), (1, k), (1, s), (1, dl), (1, out))
    return _unbatch(_max_pool_nd(x, (k,), (s,), (pd,), (dl,), (out,)), unbatched)


@U.refuses("max_pool1d_impl")
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if return_indices:
        return max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    if input.dim() not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                           "input, but got:" + shape_str(input.shape))
    args = {}
    for name, v, msg in (("kernel_size", kernel_size, "an int, list of ints or tuple of ints"),
                         ("stride", stride, "None, an int, list of ints, or tuple of ints"),
                         ("padding", padding, "an int, list of ints, or tuple of ints"),
                         ("dilation", dilation, "an int, list of ints or tuple of ints")):
        seq = _seq(v)
        if seq is not None and len(seq) != 1 and not (name == "stride" and not seq):
            raise RuntimeError(f"max_pool1d() {name} must be {msg} of size 1 but got size {len(seq)}")
        args[name] = None if v is None or seq == [] else (seq[0] if seq else v)
    k, pd, dl = int(args["kernel_size"]), int(args["padding"]), int(args["dilation"])
    s = k if args["stride"] is None else int(args["stride"])
    for name, v in (("kernel_size", k), ("stride", s)):
        if v <= 0:
            raise RuntimeError(f"max_pool1d() {name} must be greater than zero, but got {v}")
    if pd < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {pd}")
    if pd > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got padding={pd} and "
                           f"kernel_size={k}")
    if dl <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {dl}")
    out = _pool_out(input.shape[-1], k, pd, s, dl, ceil_mode)
    if out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    _float_only("max_pool1d_impl", input)
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    return _unbatch(_max_pool_nd(x, (k,), (s,), (pd,), (dl,), (out,))[0], unbatched)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def _triple_arg(fn, name, v, msg):
    seq = _seq(v)
    if seq is not None and len(seq) not in (1, 3) and not (name == "stride" and not seq):
        raise RuntimeError(f"{fn}: {name} {msg}")
    return None if v is None or seq == [] else _expand(v, 3)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    k = _triple_arg("max_pool3d", "kernel_size", kernel_size, "must either be a single int, or a tuple of three ints")
    s = _triple_arg("max_pool3d", "stride", stride, "must either be omitted, a single int, or a tuple of three ints")
    p = _triple_arg("max_pool3d", "padding", padding, "must either be a single int, or a tuple of three ints")
    d = _triple_arg("max_pool3d", "dilation", dilation, "must be either a single int, or a tuple of three ints")
    s = k if s is None else s
    if input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    unbatched = input.dim() == 4
    x = input.unsqueeze(0) if unbatched else input
    out = tuple(_pool_out(x.shape[2 + i], k[i], p[i], s[i], d[i], ceil_mode) for i in range(3))
    _pool3d_check("max_pool3d_with_indices_out_cpu_template()", x, k, s, p, d, out)
    return _unbatch(_max_pool_nd(x, k, s, p, d, out), unbatched)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    y = max_pool3d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return y if return_indices else y[0]


# --------------------------------------------------------------------------- average pooling
def _avg_divisor(sp, k, s, p, out, count_include_pad, dtype):
    """Each window's divisor (torch's pool_size or in-bounds count), a product over the dims."""
    div = np.ones((), np.float64)
    for i in range(len(k)):
        start = np.arange(out[i]) * s[i] - p[i]
        end = np.minimum(start + k[i], sp[i] + p[i])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, sp[i])
        div = np.multiply.outer(div, np.maximum(end - start, 1))
    return div.astype(dtype)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 summed in float32, rounded once
def _avg_pool_nd(x, k, s, p, out, ceil_mode, count_include_pad, divisor_override):
    sp = tuple(x.shape[2:])
    n, c = x.shape[:2]
    hi = [max(p[i], k[i] + s[i] * (out[i] - 1) - sp[i] - p[i]) for i in range(len(k))]
    geom = SP.WinGeom(sp, k, s, (1,) * len(k), p, hi)
    if divisor_override:
        div = np.asarray(divisor_override, np.float64)
    else:
        div = _avg_divisor(sp, k, s, p, out, count_include_pad, np.float64)
    a = x._data
    if _dtype.kind(a.dtype) != "f":  # integer pooling: the sum divided with truncation, as torch
        sums = geom.im2col(a).reshape(n, c, geom.kprod, -1).sum(2, dtype=np.int64).reshape((n, c) + tuple(out))
        return make(np.fix(sums / div).astype(a.dtype))
    cols = SP.Im2Col.apply(x, geom)
    total = cols.reshape(n, c, geom.kprod, geom.oprod).sum(2).reshape((n, c) + tuple(out))
    return total / make(div.astype(a.dtype))


@U.refuses("avg_pool2d")
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    k = _one_int("avg_pool1d", "kernel_size", kernel_size)
    s = k if stride is None or _seq(stride) == [] else _one_int("avg_pool1d", "stride", stride)
    pd = _one_int("avg_pool1d", "padding", padding)
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 "
                           "'self' (while checking arguments for avg_pool1d)")
    unbatched = input.dim() == 2
    x = input.unsqueeze(0) if unbatched else input
    out = _pool_out(x.shape[2], k, pd, s, 1, ceil_mode)
    _pool2d_check(x.unsqueeze(2), (1, k), (1, s), (1, 1), (1, out))
    return _unbatch(_avg_pool_nd(x, (k,), (s,), (pd,), (out,), ceil_mode, count_include_pad, None), unbatched)


@U.refuses("avg_pool3d_out_frame")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    k = _triple_arg("avg_pool3d", "kernel_size", kernel_size, "must be a single int, or a tuple of three ints")
    s = _triple_arg("avg_pool3d", "stride", stride, "must be omitted, a single int, or a tuple of three ints")
    p = _triple_arg("avg_pool3d", "padding", padding, "must be a single int, or a tuple of three ints")
    s = k if s is None else s
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if input.dim() not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    unbatched = input.dim() == 4
    x = input.unsqueeze(0) if unbatched else input
    out = tuple(_pool_out(x.shape[2 + i], k[i], p[i], s[i], 1, ceil_mode) for i in range(3))
    _pool3d_check("avg_pool3d()", x, k, s, p, (1, 1, 1), out, check_input_size=True)
    no_half_avg_pool3d(x)
    return _unbatch(_avg_pool_nd(x, k, s, p, out, ceil_mode, count_include_pad, divisor_override), unbatched)


# --------------------------------------------------------------------------- adaptive pooling
def _adaptive_bounds(size, out):
    """torch's adaptive windows: [floor(i * size / out), ceil((i + 1) * size / out))."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _adaptive_sizes(fn, x, output_size, n):
    """output_size as an n-tuple (None keeps the input's size), with torch's checks."""
    if isinstance(output_size, (tuple, list)):
        if n == 1 and len(output_size) != 1:
            raise RuntimeError(f"{fn}() argument 'output_size' should contain one int (got {len(output_size)})")
        if x.dim() <= len(output_size):
            raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
        out = tuple(int(x.shape[x.dim() - len(output_size) + i]) if v is None else int(v)
                    for i, v in enumerate(output_size))
    else:
        out = (int(output_size),) * n
    return out


def _adaptive_input(fn, kind, x, out, n):
    """The batched input, whether it was unbatched, after torch's checks (kind: 'avg' or 'max')."""
    if n == 1:
        if x.dim() not in (2, 3):
            raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.dim()}-dimensional tensor for argument #1 "
                               f"'self' (while checking arguments for {fn})")
    elif x.dim() not in (n + 1, n + 2):
        sep = ":" if kind == "max" else ""
        raise RuntimeError(f"{fn}(): Expected {n + 1}D or {n + 2}D tensor, but got{sep} {shape_str(x.shape)}")
    if len(out) != n:
        raise RuntimeError(f"{fn}: output_size must be {n}" if kind == "avg" else
                           f"{fn}(): internal error: output_size.size() must be {n}")
    # 1-D average pooling runs as 2-D on (..., 1, L): torch's messages show that shape and name
    shown = tuple(x.shape[:-1]) + (1, x.shape[-1]) if n == 1 and kind == "avg" else tuple(x.shape)
    name = "adaptive_avg_pool2d" if n == 1 and kind == "avg" else fn
    full_out = (1,) + out if n == 1 else out
    if min(out) < 0:
        if kind == "avg":
            vals = ", ".join(str(v) for v in full_out[:2]) + "".join("," + str(v) for v in full_out[2:])
            raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                               "{" + vals + "}")
        full = tuple(x.shape[:-n]) + full_out
        raise RuntimeError(f"Trying to create tensor with negative dimension {next(v for v in full if v < 0)}: "
                           f"{shape_str(full)}")
    # torch checks every dim but the first for max pooling and 3-d average pooling (an empty
    # channel dim of an unbatched input included), only the two spatial dims for 2-d (and 1-d) average
    # pooling; an all-ones average output_size is a mean over the spatial dims, without the checks.
    if kind == "avg" and all(v == 1 for v in out):
        checked = ()
    elif kind == "avg" and n < 3:
        checked = range(len(shown) - 2, len(shown))
    else:
        checked = range(1, len(shown))
    for i in checked:
        if shown[i] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {shape_str(shown)} with dimension {i} being empty")
    if _dtype.kind(x._data.dtype) != "f":
        name2 = "adaptive_%s_pool%dd" % (kind, max(n, 2))
        raise NotImplementedError(f"\"{name2}\" not implemented for '{scalar_type_name(x._data.dtype)}'")
    unbatched = x.dim() == n + 1
    return (x.unsqueeze(0) if unbatched else x), unbatched


def axis_matmul(y, m, d):
    """The linear map m (n_out, n_in), an array, applied along dim d of y (differentiably: matmul)."""
    mt = make(np.ascontiguousarray(m.astype(y._data.dtype)))
    if d == y.dim() - 1:
        return y @ mt.mT
    if d == y.dim() - 2:
        return mt @ y
    return (y.movedim(d, -1) @ mt.mT).movedim(-1, d)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 averaged in float32, rounded once
def _adaptive_avg(x, out):
    if all(v == 1 for v in out):  # torch: a mean over the spatial dims (NaN over an empty one)
        return x.mean(tuple(range(2, 2 + len(out))), keepdim=True)
    y = x
    for i in range(len(out)):
        size = x.shape[2 + i]
        if size == out[i]:
            continue
        if out[i] == 1:  # global pooling along this dim
            y = y.mean(2 + i, keepdim=True)
            continue
        start, end = _adaptive_bounds(size, out[i])
        pos = np.arange(size)
        m = ((pos >= start[:, None]) & (pos < end[:, None])) / (end - start)[:, None].astype(np.float64)
        y = axis_matmul(y, m, 2 + i)  # (out, size): averages dim 2 + i
    return y


def _adaptive_max(x, out):
    a = x._data
    n = len(out)
    sp = a.shape[2:]
    table = np.zeros((), np.int64)  # flat index of window element (o..., j...)
    for i in range(n):
        start, end = _adaptive_bounds(sp[i], out[i])
        kmax = int((end - start).max()) if out[i] else 1
        rows = np.minimum(start[:, None] + np.arange(kmax), end[:, None] - 1)  # repeats don't change the max
        table = _outer_index(table, rows, sp[i])
    # table: (*out, *kmax) -> (prod(out), prod(kmax))
    po = int(np.prod(out, dtype=np.int64))
    table = table.reshape(po, -1) if po else np.zeros((0, 1), np.int64)
    planes = a.reshape(a.shape[0], a.shape[1], int(np.prod(sp, dtype=np.int64)))
    vals = planes[:, :, table]  # N C prod(out) K
    arg = vals.argmax(-1) if vals.size else np.zeros(vals.shape[:-1], np.int64)
    idx = table[np.arange(po)[None, None, :], arg].reshape(a.shape[:2] + tuple(out))
    return _plane_gather(x, idx), make(idx)


def _outer_index(table, rows, size):
    """Combine a (*o_prev, *k_prev) index table with one more dim's (o, k) rows."""
    nd = table.ndim // 2
    t = table.reshape(table.shape[:nd] + (1,) + table.shape[nd:] + (1,)) * size
    r = rows.reshape((1,) * nd + (rows.shape[0],) + (1,) * nd + (rows.shape[1],))
    return t + r


def adaptive_avg_pool1d(input, output_size):
    out = _adaptive_sizes("adaptive_avg_pool1d", input, output_size, 1)
    x, unbatched = _adaptive_input("adaptive_avg_pool1d", "avg", input, out, 1)
    return _unbatch(_adaptive_avg(x, out), unbatched)


@U.refuses("adaptive_avg_pool2d")
def adaptive_avg_pool2d(input, output_size):
    out = _adaptive_sizes("adaptive_avg_pool2d", input, output_size, 2)
    x, unbatched = _adaptive_input("adaptive_avg_pool2d", "avg", input, out, 2)
    return _unbatch(_adaptive_avg(x, out), unbatched)


def adaptive_avg_pool3d(input, output_size):
    out = _adaptive_sizes("adaptive_avg_pool3d", input, output_size, 3)
    x, unbatched = _adaptive_input("adaptive_avg_pool3d", "avg", input, out, 3)
    return _unbatch(_adaptive_avg(x, out), unbatched)


def _adaptive_max_nd(n, input, output_size):
    fn = "adaptive_max_pool%dd" % n
    out = _adaptive_sizes(fn, input, output_size, n)
    x, unbatched = _adaptive_input(fn, "max", input, out, n)
    return _unbatch(_adaptive_max(x, out), unbatched)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_nd(1, input, output_size)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_nd(2, input, output_size)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    return _adaptive_max_nd(3, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    y = _adaptive_max_nd(1, input, output_size)
    return y if return_indices else y[0]


@U.refuses("adaptive_max_pool2d")
def adaptive_max_pool2d(input, output_size, return_indices=False):
    y = _adaptive_max_nd(2, input, output_size)
    return y if return_indices else y[0]


def adaptive_max_pool3d(input, output_size, return_indices=False):
    y = _adaptive_max_nd(3, input, output_size)
    return y if return_indices else y[0]


# --------------------------------------------------------------------------- LP pooling
def _lp(input, norm_type, kernel_size, stride, ceil_mode, maxpool, avgpool, kprod):
    if isinstance(norm_type, (int, float)):
        if norm_type == float("inf"):
            return maxpool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -maxpool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = avgpool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avgpool(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kprod).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, max_pool1d, avg_pool1d, kernel_size)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kw, kh = _expand(kernel_size, 2)
    if input.dim() in (3, 4):  # avg_pool2d's output-size check, before avg_pool2d runs
        sw, sh = (kw, kh) if stride is None else _expand(stride, 2)
        out = tuple(_pool_out(input.shape[i - 2], k, 0, st, 1, ceil_mode) for i, k, st in ((0, kw, sw), (1, kh, sh)))
        x4 = input if input.dim() == 4 else input.unsqueeze(0)
        _pool2d_check(x4, (kw, kh), (sw, sh), (1, 1), out)
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, max_pool2d, avg_pool2d, kw * kh)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kd, kw, kh = _expand(kernel_size, 3)
    return _lp(input, norm_type, kernel_size, stride, ceil_mode, max_pool3d, avg_pool3d, kd * kw * kh)


# --------------------------------------------------------------------------- max unpooling
def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    n = len(kernel_size)
    default = [(input.shape[input.dim() - n + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(n)]
    if output_size is None:
        ret = default
    else:
        if len(output_size) == n + 2:
            output_size = output_size[2:]
        if len(output_size) != n:
            raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a "
                             f"length of '{len(output_size)}'")
        for d in range(n):
            lo, hi = default[d] - stride[d], default[d] + stride[d]
            if not lo < output_size[d] < hi:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})')
        ret = output_size
    for d in range(n):
        if ret[d] < 0:
            raise ValueError("max_unpooling: output_size must contain non-negative spatial dimensions, but got "
                             f"output_size[{d}]={ret[d]}")
    return [int(v) for v in ret]


def _max_unpool(input, indices, out, nd):
    """Scatter input into zeros of spatial size out at the flat indices (torch's max_unpooling)."""
    name = "max_unpooling%dd" % nd
    if not isinstance(indices, engine.TensorBase) or indices._data.dtype != np.int64:
        dt = scalar_type_name(indices._data.dtype) if isinstance(indices, engine.TensorBase) else "?"
        raise RuntimeError(f"elements in indices should be type int64 but got: {dt}")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Input to {name} should be a {nd + 1}d or {nd + 2}d Tensor, but got a tensor with "
                           f"{input.dim()} dimensions.")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError("Expected shape of indices to be same as that of the input tensor "
                           f"({shape_str(input.shape)}) but got indices tensor with shape: {shape_str(indices.shape)}")
    unbatched = input.dim() == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = indices._data.reshape(x.shape[0], x.shape[1], -1)
    size = int(np.prod(out, dtype=np.int64))
    bad = (idx < 0) | (idx >= size)
    if bad.any():
        raise RuntimeError("Found an invalid max index: %d (output volumes are of size %s)"
                           % (int(idx[bad][0]), "x".join(str(v) for v in out)))
    zeros = make(np.zeros((x.shape[0], x.shape[1], size), x._data.dtype))
    y = zeros.scatter(2, make(idx), x.reshape(x.shape[0], x.shape[1], -1)).reshape(tuple(x.shape[:2]) + tuple(out))
    return _unbatch(y, unbatched)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    k = _expand(kernel_size, 1)
    s = _expand(stride, 1) if stride is not None else k
    p = _expand(padding, 1)
    out = _unpool_output_size(input, k, s, p, output_size)
    if input.dim() + 1 not in (3, 4):
        raise RuntimeError(f"Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with "
                           f"{input.dim() + 1} dimensions.")
    return _max_unpool(input.unsqueeze(-1), indices.unsqueeze(-1), out + [1], 2).squeeze(-1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    k = _expand(kernel_size, 2)
    s = _expand(stride, 2) if stride is not None else k
    p = _expand(padding, 2)
    return _max_unpool(input, indices, _unpool_output_size(input, k, s, p, output_size), 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    k = _expand(kernel_size, 3)
    s = _expand(stride, 3) if stride is not None else k
    p = _expand(padding, 3)
    return _max_unpool(input, indices, _unpool_output_size(input, k, s, p, output_size), 3)
