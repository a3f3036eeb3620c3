"""nn.functional helpers that are not activations or losses: dropout, one_hot, pad, normalize,
cosine_similarity, pairwise_distance, embedding."""
import numpy as np

from fastgrad import _random
from fastgrad._ops import shape as S
from fastgrad._ops.base import Op, make, norm_dim, shape_str
from fastgrad._ops.elementwise import clamp, where
from fastgrad._ops.indexing import broadcast_tensors, index_select
from fastgrad._ops.reduction import sum
from fastgrad._ops.reduction_ext import vector_norm


# --------------------------------------------------------------------------- dropout
def _dropout_mask(input, p, mask_shape):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)
    if p == 1.0:
        return make(np.zeros(mask_shape, input._data.dtype))
    keep = _random.rng(None).random(mask_shape) >= p
    return make((keep / (1.0 - p)).astype(input._data.dtype))


def _apply_mask(input, mask, inplace):
    if inplace:
        return S.inplace(input, lambda a: a * mask, name="dropout_")
    return input * mask


def dropout(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, _dropout_mask(input, p, input._data.shape), inplace)


def _feature_dropout(input, p, training, inplace, n_feature_dims, name):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)
    nd = input._data.ndim
    if nd not in (n_feature_dims + 1, n_feature_dims + 2):
        raise RuntimeError("%s: Expected %dD or %dD input, but received a %dD input"
                           % (name, n_feature_dims + 1, n_feature_dims + 2, nd))
    if not training or p == 0.0:
        return input
    shp = input._data.shape
    mask_shape = shp[:nd - n_feature_dims] + (1,) * n_feature_dims
    return _apply_mask(input, _dropout_mask(input, p, mask_shape), inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout(input, p, training, inplace, 3, "dropout3d")


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)
    if not training or p == 0.0:
        return input
    alpha_p = -1.7580993408473766
    keep = _random.rng(None).random(input._data.shape) >= p
    a = ((1 - p) * (1 + p * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * p
    k = make(keep.astype(input._data.dtype))
    return (input * k + make(np.asarray(alpha_p, input._data.dtype)) * (1.0 - k)) * a + b


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


_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode="constant", value=None):
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
            crop = tuple(slice(max(-lo, 0), x._data.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
            x = S.getitem(x, crop)
            widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        return ConstantPad.apply(x, tuple(widths), 0 if value is None else value)
    if mode not in _NP_MODES:
        raise NotImplementedError("Unsupported padding mode: %s" % mode)
    if value not in (None, 0):
        raise RuntimeError("Padding mode \"%s\" doesn't take in value argument." % mode)
    k = len(pairs)
    checked = input._data.shape[1:] if nd == k + 2 else input._data.shape  # all but a batch dim
    if mode in ("reflect", "replicate") and nd in (k + 1, k + 2) and 0 in checked:
        raise RuntimeError("Expected %dD or %dD (batch mode) tensor with possibly 0 batch size and other non-zero "
                           "dimensions for input, but got: %s" % (k + 1, k + 2, shape_str(input._data.shape)))
    if mode == "circular" and any(lo > n or hi > n for n, (lo, hi) in zip(input._data.shape, widths)):
        raise RuntimeError("Padding value causes wrapping around more than once.")
    out = input
    for d, (lo, hi) in enumerate(widths):
        if lo or hi:
            n = out._data.shape[d]
            if mode == "reflect" and (lo >= n or hi >= n):
                raise RuntimeError("Argument #4: Padding size should be less than the corresponding input dimension, "
                                   "but got: padding (%d, %d) at dimension %d of input %s"
                                   % (lo, hi, d, shape_str(input._data.shape)))
            idx = np.pad(np.arange(n), (lo, hi), mode=_NP_MODES[mode])
            out = index_select(out, d, make(idx))
    return out


# --------------------------------------------------------------------------- similarity
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = clamp(vector_norm(input, p, dim, True), min=eps)
    return input / denom


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    if x1._data.shape != x2._data.shape:
        x1, x2 = broadcast_tensors(x1, x2)
    d = norm_dim(dim, x1._data.ndim)
    n1 = clamp(vector_norm(x1, 2, d, True), min=eps)
    n2 = clamp(vector_norm(x2, 2, d, True), min=eps)
    return sum((x1 / n1) * (x2 / n2), d)


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


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "one_hot", "pad", "normalize",
           "cosine_similarity", "pairwise_distance", "embedding"]
