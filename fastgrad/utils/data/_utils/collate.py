"""default_collate / default_convert (torch.utils.data._utils.collate): a list of samples becomes a batch.

``collate`` dispatches on the type of the first sample through ``collate_fn_map`` (exact type first, then
isinstance), and recurses into Mappings, namedtuples and Sequences. In a DataLoader worker, tensors are
stacked straight into shared memory, so the batch crosses to the main process as a handle, not a copy.
"""
import collections.abc
import copy
import re

import numpy as np

from fastgrad._backend import engine

__all__ = ["collate", "collate_float_fn", "collate_int_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_str_fn", "collate_tensor_fn", "default_collate", "default_collate_err_msg_format",
           "default_collate_fn_map", "default_convert"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                                  "dicts or lists; found {}")


def default_convert(data):
    """NumPy arrays and scalars become tensors, recursively through Mappings, namedtuples and Sequences
    (tuples become lists); used instead of collation when batch_size is None."""
    from fastgrad._creation import as_tensor

    elem_type = type(data)
    if isinstance(data, engine.TensorBase):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_"):
        if elem_type.__name__ == "ndarray" and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # backwards compatibility (torch's)
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate(batch, *, collate_fn_map=None):
    """Collate a batch by the type of its first element (collate_fn_map), recursing into containers."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for collate_type in collate_fn_map:
            if isinstance(elem, collate_type):
                return collate_fn_map[collate_type](batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
                return clone
            return elem_type({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem})
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(samples, collate_fn_map=collate_fn_map) for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Stack tensors along a new dim 0; in a DataLoader worker the result lies in shared memory."""
    from fastgrad._ops.indexing import stack
    from fastgrad.utils.data._utils import get_worker_info

    elem = batch[0]
    if getattr(elem, "is_sparse", False):
        raise RuntimeError("Batches of sparse tensors are not currently supported by the default collate_fn; "
                           "please provide a custom collate_fn to handle them appropriately.")
    arrays = [b._data for b in batch]
    shape, dtype = arrays[0].shape, arrays[0].dtype
    uniform = all(a.shape == shape and a.dtype == dtype for a in arrays)
    if get_worker_info() is None or not uniform:
        out = stack(batch, 0)  # fastgrad.stack: torch's promotion and errors
        if get_worker_info() is None:
            return out
        from fastgrad.multiprocessing import _shared_memory

        return engine.make_tensor(_shared_memory.share(out._data))
    from fastgrad.multiprocessing import _shared_memory

    out = _shared_memory.empty((len(arrays),) + shape, dtype)
    np.stack(arrays, out=out)
    return engine.make_tensor(out)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    from fastgrad._creation import as_tensor

    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    from fastgrad._creation import as_tensor

    return as_tensor(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    from fastgrad import _dtype
    from fastgrad._creation import tensor

    return tensor(batch, dtype=_dtype.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    from fastgrad._creation import tensor

    return tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map = {engine.TensorBase: collate_tensor_fn, np.ndarray: collate_numpy_array_fn,
                          (np.bool_, np.number, np.object_): collate_numpy_scalar_fn, float: collate_float_fn,
                          int: collate_int_fn, str: collate_str_fn, bytes: collate_str_fn}


def default_collate(batch):
    """Stack a list of samples into a batch (torch's rules): tensors, NumPy arrays and scalars stacked into a
    tensor with a new dim 0, floats into float64, ints into int64 (bools into bool), str and bytes kept as a
    list; Mappings, namedtuples and Sequences collated per field (a tuple of fields becomes a list)."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
