"""Packed and padded sequences (PyTorch's torch.nn.utils.rnn): PackedSequence, pad_sequence,
pack_padded_sequence, pad_packed_sequence, pack_sequence, unpack_sequence, unpad_sequence,
invert_permutation.

A PackedSequence holds the steps' rows one after another (data: (sum(batch_sizes), *)), step t
holding the batch_sizes[t] sequences still running, longest first. Packing and unpadding move
rows by an index (one op each way, fastgrad/_ops/rnn.py's _RowGather / _RowScatter, each the
other's gradient), with the sorting permutation folded into that index.
"""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

import fastgrad
from fastgrad._ops.base import is_tensor, make
from fastgrad._ops.rnn import _Pad, _RowGather, _RowScatter

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


# --------------------------------------------------------------------------- PackedSequence
PackedSequence_ = namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


def bind(optional, fn):
    if optional is None:
        return None
    return fn(optional)


class PackedSequence(PackedSequence_):
    """Holds the data and list of batch_sizes of a packed sequence (see the module docstring).
    Instances are made by pack_padded_sequence / pack_sequence, not by hand."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        return super().__new__(cls, *_packed_sequence_init_args(data, batch_sizes, sorted_indices,
                                                                unsorted_indices))

    def pin_memory(self):
        return self

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cuda(self, *args, **kwargs):
        kwargs["device"] = "cuda"
        return self.to(*args, **kwargs)

    def cpu(self, *args, **kwargs):
        return self.to(*args, **kwargs)

    def double(self):
        return self.to(dtype=fastgrad.double)

    def float(self):
        return self.to(dtype=fastgrad.float)

    def half(self):
        return self.to(dtype=fastgrad.half)

    def long(self):
        return self.to(dtype=fastgrad.long)

    def int(self):
        return self.to(dtype=fastgrad.int)

    def short(self):
        return self.to(dtype=fastgrad.short)

    def char(self):
        return self.to(dtype=fastgrad.int8)

    def byte(self):
        return self.to(dtype=fastgrad.uint8)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def _packed_sequence_init_args(data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
    if unsorted_indices is None:
        unsorted_indices = invert_permutation(sorted_indices)
    if batch_sizes is not None:
        return data, batch_sizes, sorted_indices, unsorted_indices
    if not (isinstance(data, (list, tuple)) and len(data) == 2):
        raise AssertionError("Expected data to be a list or tuple of length 2")
    return data[0], data[1], sorted_indices, unsorted_indices


def _packed_sequence_init(data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
    data, batch_sizes, sorted_indices, unsorted_indices = _packed_sequence_init_args(
        data, batch_sizes, sorted_indices, unsorted_indices)
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def invert_permutation(permutation):
    """The inverse permutation (output[permutation[i]] = i), or None for None."""
    if permutation is None:
        return None
    p = permutation._data
    out = np.empty_like(p)
    out[p] = np.arange(p.size, dtype=p.dtype)
    return make(out)


# --------------------------------------------------------------------------- packing
def _batch_sizes(lengths, n_steps):
    """Each step's count of sequences longer than it (lengths sorted decreasing)."""
    steps = np.arange(n_steps)
    return (lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences of `lengths`."""
    if not is_tensor(lengths):
        lengths = np.asarray(lengths, dtype=np.int64)
    else:
        lengths = lengths._data.astype(np.int64)
    sorted_indices = None
    if not enforce_sorted:
        if lengths.ndim == 1:
            order = np.argsort(-lengths, kind="stable")
            lengths = lengths[order]
            sorted_indices = make(order.astype(np.int64))
    if lengths.ndim != 1:
        raise RuntimeError("'lengths' argument should be a 1D CPU int64 tensor, but got %dD cpu Long tensor"
                           % lengths.ndim)
    shape = input.shape
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    n_steps, batch = (shape[1], shape[0]) if batch_first else (shape[0], shape[1])
    if lengths.shape[0] != batch:
        raise RuntimeError("Expected `len(lengths)` to be equal to batch_size, but got %d (batch_size=%d)"
                           % (lengths.shape[0], batch))
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                           "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    if lengths[0] > n_steps:
        raise RuntimeError("pack_padded_sequence: a length (%d) exceeds the padded length %d"
                           % (lengths[0], n_steps))
    bs = _batch_sizes(lengths, int(lengths[0]))
    cols = np.arange(batch) if sorted_indices is None else sorted_indices._data
    t_idx = np.repeat(np.arange(bs.size), bs)
    j_idx = np.concatenate([cols[:b] for b in bs])
    # rows of input flattened to (T * B, *) or (B * T, *)
    idx = j_idx * n_steps + t_idx if batch_first else t_idx * batch + j_idx
    flat = input.reshape((shape[0] * shape[1],) + tuple(shape[2:]))
    data = _RowGather.apply(flat, idx)
    return _packed_sequence_init(data, make(bs), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded tensor, lengths tensor)."""
    bs = sequence.batch_sizes._data.astype(np.int64)
    max_seq_length = bs.shape[0]
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             "but got total_length=%d and max sequence length being %d"
                             % (total_length, max_seq_length))
        max_seq_length = total_length
    batch = int(bs[0])
    lengths = (bs[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)  # sorted order
    cols = np.arange(batch) if sequence.sorted_indices is None else sequence.sorted_indices._data
    t_idx = np.repeat(np.arange(bs.size), bs)
    j_idx = np.concatenate([cols[:b] for b in bs])
    idx = j_idx * max_seq_length + t_idx if batch_first else t_idx * batch + j_idx
    data = sequence.data
    rest = tuple(data.shape[1:])
    padded = _RowScatter.apply(data, idx, max_seq_length * batch, float(padding_value))
    padded = padded.reshape(((batch, max_seq_length) if batch_first else (max_seq_length, batch)) + rest)
    if sequence.unsorted_indices is not None:
        lengths = lengths[sequence.unsorted_indices._data]
    return padded, make(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length sequences (L_i, *) into (max L, B, *) ((B, max L, *) with batch_first)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of type: %s"
                           % type(sequences))
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError("Expected padding_side to be one of left or right, but got %s." % padding_side)
    rest = tuple(sequences[0].shape[1:])
    for s in sequences:  # each is copied into a (L_i, *rest) block: broadcasting rules
        src = tuple(s.shape)
        for d in range(1, min(len(src), len(rest) + 1)):
            a, b = rest[-d], src[-d]
            if b != a and b != 1:
                raise RuntimeError("The size of tensor a (%d) must match the size of tensor b (%d) at "
                                   "non-singleton dimension %d" % (a, b, len(rest) + 1 - d))
    max_len = max(s.shape[0] for s in sequences)
    places = []
    for j, s in enumerate(sequences):
        n = s.shape[0]
        rows = slice(0, n) if padding_side == "right" else slice(max_len - n, max_len)
        places.append((j, rows) if batch_first else (rows, j))
    shape = ((len(sequences), max_len) if batch_first else (max_len, len(sequences))) + rest
    return _Pad.apply(places, shape, float(padding_value), *sequences)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences padded_sequences holds ((T, B, *) or (B, T, *)), cut at lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lens = lengths._data.tolist() if is_tensor(lengths) else list(lengths)
    if len(lens) != padded_sequences.shape[0]:
        raise ValueError("zip() argument 2 is %s than argument 1"
                         % ("shorter" if len(lens) < padded_sequences.shape[0] else "longer"))
    return [padded_sequences[j, :int(n)] for j, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of variable-length sequences (L_i, *)."""
    lengths = fastgrad.as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences a PackedSequence holds."""
    padded_sequences, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded_sequences, lengths, batch_first=True)
