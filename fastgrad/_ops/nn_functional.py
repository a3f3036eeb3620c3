"""nn.functional helpers that are not activations or losses: dropout, one_hot, pad, normalize,
cosine_similarity, pairwise_distance, embedding."""
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad import _random_ops
from fastgrad._ops import shape as S
from fastgrad._ops.base import TensorBase, float32_compute, Op, engine, make, norm_dim, shape_str
from fastgrad._ops.elementwise import _dtype_round, clamp, where
from fastgrad._ops.indexing import broadcast_tensors, index_select
from fastgrad._ops.reduction import sum
from fastgrad._ops.reduction_ext import vector_norm


# --------------------------------------------------------------------------- dropout
_ALPHA = 1.7580993408473766  # SELU's -alpha * scale: alpha dropout's value for a dropped unit, negated


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)


def _feature_shape(shape):
    """The noise shape of PyTorch's feature dropout: (N, C, 1, 1, ...)."""
    if len(shape) < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return tuple(shape[:2]) + (1,) * (len(shape) - 2)


def _dropout_impl(input, p, train, inplace, feature=False, alpha=False, unbatched=False):
    """PyTorch's _dropout_impl: identity when p == 0, not training or empty; zeros when p == 1;
    else a Bernoulli(1 - p) keep mask (per (N, C) channel for feature dropout) scaled by 1 / (1 - p),
    or, for alpha dropout, the affine map that keeps SELU's mean and variance."""
    _check_p(p)
    if p == 0 or not train or input._data.size == 0:
        return input
    dt = input._data.dtype
    if p == 1:
        zero = make(np.zeros((), dt))
        return S.inplace(input, lambda a: a * zero, name="dropout_") if inplace else input * zero
    if unbatched:  # dropout1d/3d's unsqueeze(0) ... squeeze(0) around feature dropout
        noise_shape = _feature_shape((1,) + input._data.shape)[1:]
    else:
        noise_shape = _feature_shape(input._data.shape) if feature else input._data.shape
    if alpha:
        mul, b = DropoutNoise.apply(noise_shape, dt, p, True)
        fn = lambda x: x * mul + b  # noqa: E731
    else:
        mul = DropoutNoise.apply(noise_shape, dt, p, False)
        fn = lambda x: x * mul  # noqa: E731
    return S.inplace(input, fn, name="dropout_") if inplace else fn(input)


class DropoutNoise(Op):
    """Dropout's multiplier (a Bernoulli(1 - p) keep mask scaled by 1 / (1 - p)), or alpha
    dropout's (multiplier, offset) pair, drawn from the default generator: an op of its own
    (no gradient: it takes no tensor), so a replay of fastgrad.compile draws new numbers."""

    @staticmethod
    def forward(ctx, noise_shape, dt, p, alpha):
        noise = _random_ops.bernoulli_scalar_(np.empty(noise_shape, dt), 1 - p)  # torch: noise.bernoulli_(1 - p)
        if not alpha:
            return noise / dt.type(1 - p)
        c = dt.type
        a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        return noise * c(a), (noise - c(1)) * c(_ALPHA * a) + c(_ALPHA * a * p)

    @staticmethod
    def jvp(ctx, *tangents):  # a draw from no tensor: no tangent
        return None


def dropout(input, p=0.5, training=True, inplace=False):
    if getattr(input, "is_nested", False):  # torch.nested: the op per component (fastgrad.nested._ops)
        return input._nested_call("dropout", input, p, training)
    _check_p(p)
    if training and p:
        _dtype.refuse_barebones("bernoulli_scalar_cpu_", input._data.dtype)
    return _dropout_impl(input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def _unbatched_feature_dropout(input, p, training, inplace, unbatched):
    """dropout1d/3d: PyTorch wraps an unbatched input in unsqueeze(0) ... squeeze(0), so the result
    is a new tensor even when nothing is dropped, and inplace=True on a leaf that requires grad
    fails (unsqueeze_ is in place) even in eval mode."""
    if not unbatched:
        return _dropout_impl(input, p, training, inplace, feature=True)
    if inplace and engine.is_grad_enabled():
        S.check_inplace(input, "unsqueeze_")
    out = _dropout_impl(input, p, training, inplace, feature=True, unbatched=True)
    return S.unsqueeze(input, 0).squeeze(0) if out is input and not inplace else out


def dropout1d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input._data.ndim
    if nd not in (2, 3):
        raise RuntimeError("dropout1d: Expected 2D or 3D input, but received a %dD input. Note that dropout1d exists "
                           "to provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, "
                           "and an optional batch dimension (i.e. 2D or 3D inputs)." % nd)
    return _unbatched_feature_dropout(input, p, training, inplace, nd != 3)


# twin of dropout3d below: torch's warnings name the dims each takes, word for word
def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input._data.ndim
    if nd not in (3, 4):
        warnings.warn("dropout2d: Received a %d-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs)." % nd, stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    return _dropout_impl(input, p, training, inplace, feature=True)


# twin of dropout2d above: torch's warnings name the dims each takes, word for word
def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    nd = input._data.ndim
    if nd not in (4, 5):
        warnings.warn("dropout3d: Received a %d-D input to dropout3d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                      "inputs)." % nd, stacklevel=2)
    return _unbatched_feature_dropout(input, p, training, inplace, nd != 5)


# torch.dropout & co. (input, p, train): the ATen functions behind nn.functional's (RuntimeError for p)
def _vf(inplace, feature, alpha, name):
    def fn(input, p, train):
        if p < 0 or p > 1:
            raise RuntimeError("dropout probability has to be between 0 and 1, but got %s" % p)
        return _dropout_impl(input, p, train, inplace, feature=feature, alpha=alpha)
    fn.__name__ = fn.__qualname__ = name
    return fn


_vf_dropout, _vf_dropout_ = _vf(False, False, False, "dropout"), _vf(True, False, False, "dropout_")
_vf_feature_dropout = _vf(False, True, False, "feature_dropout")
_vf_feature_dropout_ = _vf(True, True, False, "feature_dropout_")
_vf_alpha_dropout, _vf_alpha_dropout_ = _vf(False, False, True, "alpha_dropout"), _vf(True, False, True, "alpha_dropout_")
_vf_feature_alpha_dropout = _vf(False, True, True, "feature_alpha_dropout")
_vf_feature_alpha_dropout_ = _vf(True, True, True, "feature_alpha_dropout_")


# --------------------------------------------------------------------------- encoding / padding
def one_hot(tensor, num_classes=-1):
    t = tensor._data
    if t.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if t.size and t.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    elif t.size and t.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return make((t[..., None] == np.arange(num_classes)).astype(np.int64))


class ConstantPad(Op):
    """np.pad with a constant; the gradient is the un-padded slice."""

    _half_native = True  # moves data: float16/bfloat16 arrays as they are

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.widths = widths
        return np.pad(x._data, widths, constant_values=value)

    @staticmethod
    def backward(ctx, g):
        idx = tuple(slice(lo, g._data.shape[i] - hi) for i, (lo, hi) in enumerate(ctx.widths))
        return S.getitem(g, idx), None, None

    @staticmethod
    def jvp(ctx, t, widths, value):
        return ConstantPad.apply(t, widths, 0)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_source(mode, n, lo, hi):
    """Source index of each output position along a dim of size n padded by lo / hi (either may be
    negative: a crop): reflect mirrors about the edges, replicate repeats them, circular wraps."""
    if mode == "circular":
        start, m = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)  # crop first, then wrap what is left
        return start + np.arange(-max(lo, 0), m + max(hi, 0)) % max(m, 1)
    u = np.arange(-lo, n + hi)
    if mode == "reflect":
        u = np.abs(u)
        return np.where(u >= n, 2 * (n - 1) - u, u)
    return np.clip(u, 0, n - 1)  # replicate


def _check_pad_mode(mode, input, pairs, nd):
    """torch's checks of reflection / replication / circular padding; pairs: (lo, hi), last dim first."""
    k = len(pairs)
    if not (1 <= k <= 3 and nd in (k + 1, k + 2)):
        raise NotImplementedError("Padding size %d is not supported for %dD input tensor." % (2 * k, nd))
    shape = input._data.shape
    if mode != "circular":
        if input._data.dtype == np.bool_:
            raise NotImplementedError('"%s_pad%dd" not implemented for \'Bool\''
                                      % ("reflection" if mode == "reflect" else "replication", k))
        if any(n == 0 for n in shape[nd - k - 1 if nd == k + 2 else 0:]):
            raise RuntimeError("Expected %dD or %dD (batch mode) tensor with possibly 0 batch size and other non-zero "
                               "dimensions for input, but got: %s" % (k + 1, k + 2, shape_str(shape)))
    for i, (lo, hi) in enumerate(pairs):
        d = nd - 1 - i
        n = shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError("Argument #%d: Padding size should be less than the corresponding input dimension, but "
                               "got: padding (%d, %d) at dimension %d of input %s" % (4 + 2 * i, lo, hi, d,
                                                                                      shape_str(shape)))
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if n + lo + hi < (1 if i == 0 else 0) or mode == "circular" and n + min(lo, 0) + min(hi, 0) <= 0:
            if mode == "circular":
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
            raise RuntimeError("input (W: %d) is too small. Calculated output W: %d" % (n, n + lo + hi))


def pad(input, pad, mode="constant", value=None):
    if mode not in _PAD_MODES:
        raise NotImplementedError("Unrecognised padding mode %s" % mode)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = input._data.ndim
    if len(pad) // 2 > nd:
        raise RuntimeError("Padding length should be less than or equal to two times the input dimension but got "
                           "padding length %d and input of dimension %d" % (len(pad), nd))
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]  # last dim first
    widths = [(0, 0)] * nd
    for i, pr in enumerate(pairs):
        widths[nd - 1 - i] = pr
    if mode == "constant":
        x = input
        if any(n + min(lo, 0) + min(hi, 0) < 0 for n, (lo, hi) in zip(x._data.shape, widths)):
            raise RuntimeError("narrow(): length must be non-negative.")  # cropping more than there is
        if any(lo < 0 or hi < 0 for lo, hi in widths):  # negative padding crops
            if any(x._data.shape[d] + min(lo, 0) + min(hi, 0) < 0 for d, (lo, hi) in enumerate(widths)):
                raise RuntimeError("narrow(): length must be non-negative.")
            crop = tuple(slice(max(-lo, 0), x._data.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
            x = S.getitem(x, crop)
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        if nd == 0:
            return S.clone(x)
        return ConstantPad.apply(x, tuple(widths), 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError("Padding mode \"%s\" doesn't take in value argument" % mode)
    _check_pad_mode(mode, input, pairs, nd)
    out = input
    for d, (lo, hi) in enumerate(widths):
        if lo or hi:
            out = index_select(out, d, make(_pad_source(mode, input._data.shape[d], lo, hi)))
    return out


# --------------------------------------------------------------------------- similarity
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(norm, eps). A half input's eps is rounded to its dtype, as torch's clamp_min
    (float16: 1e-12 is 0, so a zero row gives 0 / 0 = NaN and its gradient NaN, as torch's); the
    rest is computed in float32 and rounded once (closer to torch's own float64 result than
    rounding each op)."""
    if isinstance(input, TensorBase) and _dtype.is_half(input._data.dtype) and isinstance(eps, (int, float)):
        eps = _dtype_round(eps, input._data.dtype)
    return _normalize(input, p, dim, eps, out)


@float32_compute  # float16/bfloat16 computed in float32, rounded once
def _normalize(input, p, dim, eps, out):
    denom = clamp(vector_norm(input, p, dim, True), min=eps)
    if out is not None:  # torch: div(input, denom.expand_as(input), out=out)
        from fastgrad._ops.math_more import _write_out

        return _write_out("div", input / denom.expand_as(input), out)
    return input / denom


def _clamp_min_no_grad(x, eps):
    d = x._data
    return S.WithValues.apply(x, np.maximum(d, np.asarray(eps, d.dtype))) if (d < eps).any() else x


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """PyTorch's: each input divided by its norm (clamped at eps outside autograd), then summed."""
    from fastgrad import _dtype
    from fastgrad._ops.base import check_broadcast, scalar_type_name

    dt = _dtype.result_type(x1, x2)
    if _dtype.kind(dt) not in "fc":
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is %s"
                           % scalar_type_name(dt))
    if _dtype.kind(x1._data.dtype) not in "fc" or x1._data.dtype != dt:
        x1 = x1.to(_dtype.from_numpy_dtype(dt))
    if _dtype.kind(x2._data.dtype) not in "fc" or x2._data.dtype != dt:
        x2 = x2.to(_dtype.from_numpy_dtype(dt))
    if x1._data.shape != x2._data.shape:
        check_broadcast(x1._data.shape, x2._data.shape)
        x1, x2 = broadcast_tensors(x1, x2)
    d = norm_dim(dim, x1._data.ndim)
    n1 = _clamp_min_no_grad(vector_norm(x1, 2, d, True), eps)
    n2 = _clamp_min_no_grad(vector_norm(x2, 2, d, True), eps)
    return sum((x1 / n1) * (x2 / n2), d)


@float32_compute  # one kernel in PyTorch: float16/bfloat16 computed in float32, rounded once
def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    nd = max(x1._data.ndim, x2._data.ndim)
    return vector_norm(x1 - x2 + eps, p, nd - 1 if nd else None, keepdim)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    if input._data.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           "Long, Int; but got %s instead" % input.type())
    n = weight._data.shape[0]
    idx = input._data
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError("index out of range in self")
    out = S.getitem(weight, input)
    if padding_idx is not None:
        pad_i = padding_idx + n if padding_idx < 0 else padding_idx
        hit = make((idx == pad_i)[..., None])
        out = where(hit, out.detach(), out)  # no gradient flows into the padding row
    return out


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "one_hot", "pad", "normalize",
           "cosine_similarity", "pairwise_distance", "embedding"]
