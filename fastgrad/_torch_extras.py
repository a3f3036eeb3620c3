"""torch-level functions of no op family of their own: the recurrent-network entry points of
torch._VF (torch.lstm, torch.gru, torch.rnn_tanh, torch.rnn_relu and their *_cell steps, on
fastgrad's RNN kernels), torch.vander, view_as_real_copy / view_as_complex_copy, torch.cond
(eager)."""
import numbers

from fastgrad._backend import engine

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
           "vander", "view_as_real_copy", "view_as_complex_copy", "cond", "embedding_bag"]


# ------------------------------------------------------------------ recurrent networks (torch._VF)
def _rnn_call(mode, args):
    """torch.<rnn>(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
    or the packed form (data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)."""
    from fastgrad._ops import rnn as _rnn

    if len(args) == 9 and isinstance(args[3], (list, tuple)):  # (data, batch_sizes, hx, params, ...)
        data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional = args
        batch_first = False
    elif len(args) == 9:
        data, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = args
        batch_sizes = None
    else:
        raise TypeError("%s() takes 9 positional arguments but %d were given" % (mode.lower(), len(args)))
    if mode == "LSTM":
        h0, c0 = hx
    else:
        h0, c0 = hx, None
    if batch_sizes is None:
        x = data.transpose(0, 1) if batch_first else data
        steps, batch = x.shape[0], x.shape[1]
        sizes = [batch] * steps
        rows = x.reshape(steps * batch, x.shape[2])
    else:
        sizes = [int(s) for s in batch_sizes._data.tolist()]
        rows = data
    out, h, c = _rnn.rnn_rows(mode, rows, sizes, h0, c0, list(params), bool(has_biases), int(num_layers),
                              float(dropout), bool(train), bool(bidirectional),
                              batch_sizes is None and not x.is_contiguous())
    if batch_sizes is None:
        out = out.reshape(steps, batch, out.shape[-1])
        if batch_first:
            out = out.transpose(0, 1)
    return (out, h, c) if mode == "LSTM" else (out, h)


def lstm(*args):
    """torch.lstm: (output, h_n, c_n) of a multi-layer LSTM whose weights are `params`."""
    return _rnn_call("LSTM", args)


def gru(*args):
    """torch.gru: (output, h_n) of a multi-layer GRU whose weights are `params`."""
    return _rnn_call("GRU", args)


def rnn_tanh(*args):
    """torch.rnn_tanh: (output, h_n) of a multi-layer tanh RNN."""
    return _rnn_call("RNN_TANH", args)


def rnn_relu(*args):
    """torch.rnn_relu: (output, h_n) of a multi-layer ReLU RNN."""
    return _rnn_call("RNN_RELU", args)


def _gx(input, w_ih, b_ih):
    from fastgrad.nn.functional import linear

    return linear(input, w_ih, b_ih)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: (h', c') from input and hx = (h, c)."""
    from fastgrad._ops import rnn as _rnn

    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    return _rnn.lstm_cell(_gx(input, w_ih, b_ih), hx[0], hx[1], w_hh, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: h' from input and h."""
    from fastgrad._ops import rnn as _rnn

    return _rnn.gru_cell(_gx(input, w_ih, b_ih), hx, w_hh, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One tanh RNN step: tanh(input W_ih^T + b_ih + h W_hh^T + b_hh)."""
    from fastgrad._ops import rnn as _rnn

    return _rnn.rnn_cell(_gx(input, w_ih, b_ih), hx, w_hh, b_hh, "tanh")


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One ReLU RNN step: relu(input W_ih^T + b_ih + h W_hh^T + b_hh)."""
    from fastgrad._ops import rnn as _rnn

    return _rnn.rnn_cell(_gx(input, w_ih, b_ih), hx, w_hh, b_hh, "relu")


# ------------------------------------------------------------------ vander, *_copy
def vander(x, N=None, increasing=False):  # noqa: N803
    """The Vandermonde matrix of 1-D x: columns x^(N-1), ..., x^0 (x^0 first when increasing),
    built as a cumulative product (so its gradient is finite at 0, as torch's)."""
    import fastgrad

    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    if N is None:
        N = x.size(0)  # noqa: N806
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    dt = x.dtype
    if not (dt.is_floating_point or dt.is_complex):
        dt = fastgrad.int64
    if N == 0:
        return fastgrad.empty((x.size(0), 0), dtype=dt)
    ones = fastgrad.ones((x.size(0), 1), dtype=dt)
    if N == 1:
        res = ones
    else:
        res = fastgrad.cat([ones, x.to(dt).unsqueeze(1).expand(x.size(0), N - 1)], dim=1).cumprod(dim=1)
    return res if increasing else res.flip(1)


def view_as_real_copy(input, *, out=None):  # noqa: A002
    """A copy of view_as_real(input)."""
    from fastgrad._ops.complex import view_as_real

    res = view_as_real(input).clone()
    return res if out is None else out.copy_(res)


def view_as_complex_copy(input, *, out=None):  # noqa: A002
    """A copy of view_as_complex(input)."""
    from fastgrad._ops.complex import view_as_complex

    res = view_as_complex(input).clone()
    return res if out is None else out.copy_(res)


# ------------------------------------------------------------------ control flow
def cond(pred, true_fn, false_fn, operands=()):
    """true_fn(*operands) if pred else false_fn(*operands) (torch.cond, run eagerly)."""
    if isinstance(pred, engine.TensorBase):
        if pred.numel() != 1:
            raise RuntimeError("Expected pred to be bool or single-element tensor, but got %s." % (pred,))
        pred = bool(pred.item())
    elif not isinstance(pred, (bool, numbers.Number)):
        raise RuntimeError("Expected pred to be bool or tensor, but got %s." % (pred,))
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only consists "
                           "of tensor leaves, but got %s." % (operands,))
    return true_fn(*operands) if pred else false_fn(*operands)


# ------------------------------------------------------------------ torch.embedding_bag (ATen's entry)
def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """torch.embedding_bag: (output, offset2bag, bag_size, max_indices), mode 0 sum, 1 mean,
    2 max; output as F.embedding_bag's, the other three as torch's CPU kernel gives them (sum:
    offset2bag empty, bag_size and max_indices zeros; mean: max_indices repeats bag_size; max:
    the weight row of each bag's maximum, per column)."""
    import numpy as np

    from fastgrad._ops.base import make
    from fastgrad.nn.functional import embedding_bag as _embedding_bag

    if mode not in (0, 1, 2):
        raise RuntimeError("embedding_bag: mode must be 0 (sum), 1 (mean) or 2 (max), got %s" % (mode,))
    if indices.dim() != 1:
        raise RuntimeError("input has to be a 1D or 2D Tensor, but got Tensor of dimension %d" % indices.dim())
    out = _embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                         mode=("sum", "mean", "max")[mode], sparse=sparse, per_sample_weights=per_sample_weights,
                         include_last_offset=include_last_offset, padding_idx=padding_idx)
    idx = indices._data.astype(np.int64)
    off = offsets._data.astype(np.int64)
    nbags = out.shape[0]
    itype = indices._data.dtype
    bag_of = np.clip(np.searchsorted(off, np.arange(idx.shape[0]), side="right") - 1, 0, max(nbags - 1, 0))
    if mode == 0:  # torch's float32/half fast path leaves offset2bag empty, its other kernels fill it
        fast = weight._data.dtype.itemsize <= 4
        zeros = make(np.zeros(nbags, itype))
        return out, make(np.zeros(0, itype) if fast else bag_of.astype(itype)), zeros, make(np.zeros(nbags, itype))
    keep = idx != padding_idx if padding_idx is not None else np.ones(idx.shape[0], bool)
    bag_size = np.bincount(bag_of[keep], minlength=nbags).astype(itype)
    if mode == 1:
        return out, make(bag_of.astype(itype)), make(bag_size), make(bag_size.copy())
    w = weight._data
    max_idx = np.full((nbags, w.shape[1]), -1, itype)
    best = np.full((nbags, w.shape[1]), -np.inf)
    for p in np.nonzero(keep)[0]:
        b, row = bag_of[p], idx[p]
        better = w[row] > best[b]
        best[b] = np.where(better, w[row], best[b])
        max_idx[b] = np.where(better, row, max_idx[b])
    return out, make(bag_of.astype(itype)), make(bag_size), make(max_idx)
