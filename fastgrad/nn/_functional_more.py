"""nn.functional embedding_bag, pdist, gumbel_softmax and fractional_max_pool2d (re-exported by
fastgrad.nn.functional), composed of differentiable ops (double backward works); torch's
argument checks and messages, in torch's order."""
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad import _random, _random_ops
from fastgrad._ops import layers as L
from fastgrad._ops import nn_more as NM
from fastgrad._ops.nn_more import pdist  # noqa: F401 (torch.pdist too)
from fastgrad._ops.base import TensorBase, make, scalar_type_name
from fastgrad._ops.indexing import cat
from fastgrad._ops.nn import softmax
from fastgrad.autograd.grad_mode import no_grad

__all__ = ["embedding_bag", "pdist", "gumbel_softmax", "fractional_max_pool2d", "fractional_max_pool2d_with_indices"]


def _type_name(t):
    return f"fastgrad.{scalar_type_name(t._data.dtype)}Tensor"


def _is_float(t):
    return _dtype.kind(t._data.dtype) == "f"


# --------------------------------------------------------------------------- embedding_bag
def _renorm_(weight, idx, max_norm, norm_type):
    """torch.embedding_renorm_ without autograd: rows of weight used by idx scaled to max_norm."""
    with no_grad():
        rows = np.unique(idx)
        norms = np.linalg.norm(weight._data[rows].astype(np.float64), ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight._data[rows] *= scale[:, None].astype(weight._data.dtype)
        weight._vc.value += 1


def _bag_checks(input, weight, offsets, per_sample_weights, padding_idx, mode):
    """torch's embedding_bag kernel checks; returns (indices, offsets, padding_idx) as arrays / int."""
    for t in (input, offsets):
        if t._data.dtype not in (np.int64, np.int32):
            raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                               f"Long, Int; but got {_type_name(t)} instead (while checking arguments for "
                               "embedding_bag)")
    if not _is_float(weight):
        raise RuntimeError("Expected tensor for argument #1 'weight' to have one of the following scalar types: Half, "
                           f"BFloat16, Float, Double; but got {_type_name(weight)} instead (while checking arguments "
                           "for embedding_bag)")
    if per_sample_weights is not None and per_sample_weights._data.dtype != weight._data.dtype:
        raise RuntimeError("Expected tensor for argument #1 'weight' to have the same type as tensor for argument #1 "
                           f"'per_sample_weights'; but type {_type_name(weight)} does not equal "
                           f"{_type_name(per_sample_weights)} (while checking arguments for embedding_bag)")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, {-num} through {num - 1}, but "
                               f"got {padding_idx}")
        padding_idx %= num
    idx = input._data.astype(np.int64)
    off = offsets._data.astype(np.int64)
    n = idx.shape[0]
    if off.size:
        if off[0] != 0:
            raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                               f"position 0. However, got {off[0]}\n[ {_type_name(offsets)}{{}} ]")
        if off[-1] > n:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of "
                               f"{off[-1]}")
        if (np.diff(off) < 0).any():
            raise RuntimeError("index out of range in self")
    bad = np.nonzero((idx < 0) | (idx >= num))[0]
    if bad.size:
        k = int(bad[0])
        if weight._data.dtype == np.float32 and mode != "max" and padding_idx is None:  # torch's fbgemm path
            raise RuntimeError(f"Index {k} of input takes value {idx[k]} which is not in the valid range [0, {num})")
        raise RuntimeError(f"embedding_bag: Expected idx >= 0 && idx < num_embeddings but found idx to be {idx[k]}")
    return idx, off, padding_idx


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embeddings: bag b is input[offsets[b]:offsets[b + 1]]
    (or each row of a 2-D input); padding_idx entries are left out; empty bags give zeros."""
    if weight._data.dtype == np.int64 and _is_float(input):
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                      "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.",
                      stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and input.size() != per_sample_weights.size():
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            type_str = ("<class 'fastgrad.Tensor'>" if type(offsets).__name__ == "Tensor"
                        and isinstance(offsets, TensorBase) else str(type(offsets)))
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type_str}")
        offsets = make(np.arange(0, input._data.size, max(input.shape[1], 1), dtype=input._data.dtype)
                       [:input.shape[0]])
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    if sparse:
        raise NotImplementedError("sparse gradients are not supported")
    idx, off, padding_idx = _bag_checks(input, weight, offsets, per_sample_weights, padding_idx, mode)
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    # include_last_offset: offsets[-1] ends the last bag (documented as len(input); torch's float32
    # kernel honours it when it is not, its float64 kernel runs the last bag to the end)
    starts = off[:-1] if include_last_offset else off
    ends = off[1:] if include_last_offset else np.append(off[1:], idx.shape[0]).astype(np.int64)
    nbags, dim = starts.shape[0], weight.shape[1]
    bag = np.repeat(np.arange(nbags), ends - starts)  # the bag of entries starts[0] .. n - 1
    pos = np.arange(bag.shape[0])
    if padding_idx is not None:
        keep = idx[pos] != padding_idx
        pos, bag = pos[keep], bag[keep]
    rows = L.Embedding.apply(weight, idx[pos], None, False)  # (kept entries, dim)
    if scale_grad_by_freq and pos.size:
        rows = NM.GradScale.apply(rows, _freq_scale(idx, weight.shape[0])[pos][:, None].astype(weight._data.dtype))
    if mode == "max":
        return _bag_max(rows, bag, nbags, dim)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights[make(pos)].unsqueeze(1)
    out = make(np.zeros((nbags, dim), weight._data.dtype)).index_add(0, make(bag), rows)
    if mode == "mean":
        count = np.maximum(np.bincount(bag, minlength=nbags), 1).astype(weight._data.dtype)
        out = out / make(count[:, None])
    return out


def _freq_scale(idx, num):
    """The gradient factor of each entry under scale_grad_by_freq, as torch's CPU backward computes
    it: the entries of the i-th smallest distinct index get 1 / count(sorted(idx)[i])."""
    counts = np.bincount(idx, minlength=num)
    _, group = np.unique(idx, return_inverse=True)
    return 1.0 / counts[np.sort(idx)[group.reshape(-1)]]


def _bag_max(rows, bag, nbags, dim):
    """Per bag and column the maximum of rows (the first one on ties); empty bags give zeros."""
    a = rows._data
    n = a.shape[0]
    first = np.full((nbags, dim), n, np.int64)  # n: the zero row appended below
    if n:
        best = np.full((nbags, dim), -np.inf, a.dtype)
        np.maximum.at(best, bag, a)
        hit = a == best[bag]
        cand = np.where(hit, np.arange(n)[:, None], n)
        np.minimum.at(first, bag, cand)
    return _cat_zero(rows).gather(0, make(first))


def _cat_zero(rows):
    return cat([rows, rows.new_zeros((1, rows.shape[1]))], 0)


# --------------------------------------------------------------------------- gumbel_softmax
def _exponential(shape, dtype):
    """Exponential(1) noise from fastgrad's generator (torch's Tensor.exponential_)."""
    return make(_random_ops.exponential_(np.empty(shape, dtype), 1.0))


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); hard=True gives one-hot samples whose gradient is
    the soft sample's (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -_exponential(logits._data.shape, logits._data.dtype).log()
    gumbels = (logits + gumbels) / tau
    y_soft = softmax(gumbels, dim)
    if hard:
        index = y_soft.max(dim, keepdim=True)[1]
        y_hard = make(np.zeros(logits._data.shape, logits._data.dtype)).scatter_(dim, index, 1.0)
        return y_hard - y_soft.detach() + y_soft
    return y_soft


# --------------------------------------------------------------------------- fractional max pooling
def _intervals(sample, in_size, out_size, pool):
    """torch's generate_intervals, in the input's float type (as its kernel)."""
    ft = type(sample)
    seq = np.empty(out_size, np.int64)
    if out_size > 1:
        alpha = ft(in_size - pool) / ft(out_size - 1)
        for i in range(out_size - 1):
            seq[i] = int(ft(ft(i) + sample) * alpha) - int(ft(sample * alpha))
    if out_size > 0:
        seq[out_size - 1] = in_size - pool
    return seq


def _pair2(v):
    return tuple(v) * 2 if isinstance(v, (tuple, list)) and len(v) == 1 else (
        tuple(v) if isinstance(v, (tuple, list)) else (v, v))


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                                       _random_samples=None):
    """Max pooling over pseudo-random windows whose starts step by a fractional stride."""
    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool2d requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if len(output_ratio) > 2:
            raise ValueError("fractional_max_pool2d requires output_ratio to either be a single Int or tuple of Ints.")
        ratio = _pair2(output_ratio)
        output_size = [int(input.size(-2) * ratio[0]), int(input.size(-1) * ratio[1])]
    if _random_samples is None:
        n_batch = 1 if input.dim() == 3 else input.size(0)
        _random_samples = make(_random.uniform_(np.empty((n_batch, input.size(-3), 2), input._data.dtype), 0.0, 1.0))
    k, out = _pair2(kernel_size), _pair2(output_size)
    if input.dim() not in (3, 4):
        raise RuntimeError(f"fractional_max_pool2d(): Expected 3D or 4D tensor, but got: {list(input.shape)}")
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError("fractional_max_pool2d(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{list(input.shape)} with dimension {i} being empty.")
    unbatched = input.dim() == 3
    x = input.unsqueeze(0) if unbatched else input
    n, c, h, w = x.shape
    if out[0] + k[0] - 1 > h:
        raise RuntimeError(f"fractional_max_pool2d(): pool height {k[0]} too large relative to input height {h}")
    if out[1] + k[1] - 1 > w:
        raise RuntimeError(f"fractional_max_pool2d(): pool width {k[1]} too large relative to input width {w}")
    rs = _random_samples
    if rs._data.dtype != x._data.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if rs.dim() != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {rs.dim()}")
    if rs.shape[0] < n:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if rs.shape[1] != c:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if rs.shape[2] != 2:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to 2; got {rs.shape[2]}.")
    a = x._data
    idx = np.empty((n, c, out[0], out[1]), np.int64)
    kh, kw = np.arange(k[0]), np.arange(k[1])
    oi, oj = np.arange(out[0])[:, None], np.arange(out[1])[None, :]
    for b in range(n):
        for ch in range(c):
            sw, sh = rs._data[b, ch]  # sample 0 steps the width, sample 1 the height (torch's order)
            rows = _intervals(sh, h, out[0], k[0])[:, None] + kh  # (oh, kh)
            cols = _intervals(sw, w, out[1], k[1])[:, None] + kw  # (ow, kw)
            win = a[b, ch][rows[:, None, :, None], cols[None, :, None, :]].reshape(out[0], out[1], -1)
            arg = win.argmax(-1)  # the first maximum in row-major window order, as torch's kernel
            idx[b, ch] = rows[oi, arg // k[1]] * w + cols[oj, arg % k[1]]
    y = L._gather_plane(x, idx)
    ind = make(idx)
    if unbatched:
        y, ind = y.squeeze(0), ind.squeeze(0)
    return y, ind


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    y, ind = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio, return_indices,
                                                _random_samples)
    return (y, ind) if return_indices else y
