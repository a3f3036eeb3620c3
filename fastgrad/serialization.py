"""fastgrad.save / fastgrad.load in the safetensors layout (never pickle, so loading cannot run code).

File layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
N bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``,
then the raw little-endian tensor bytes. A flat ``{str: Tensor}`` dict (a module's state dict) is
stored under its own keys, so PyTorch's ``safetensors.torch.load_file`` reads it back. Anything
else (a tensor, nested dicts/lists/tuples of tensors and plain scalars, e.g. an optimizer state
dict) is stored as tensors plus a JSON description of the structure in the metadata entry
``fastgrad.structure``.

Whole objects (a Module, an optimizer, any picklable Python object holding tensors) are pickled:
the tensors still go to the tensor section (persistent ids in the pickle name them) and the pickle
itself is one more entry, a uint8 array named ``fastgrad.pickle``. ``load`` reads such a file only
with ``weights_only=False``, or with the default ``weights_only=True`` when every global the pickle
names is allow-listed (``safe_globals`` / ``add_safe_globals``, see fastgrad/_weights_only_unpickler.py);
otherwise it raises PyTorch's "Weights only load failed..." UnpicklingError without running any of it.
"""
import io
import json
import math
import os
import pickle
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine

from fastgrad import _torch_archive
from fastgrad import _weights_only_unpickler as _wo

__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals", "safe_globals"]

DEFAULT_PROTOCOL = 2

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?", "C64": "<c8",
           "BF16": _dtype.BF16}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_STRUCT_KEY = "fastgrad.structure"
_PICKLE_KEY = "fastgrad.pickle"  # metadata entry naming the uint8 tensor that holds the pickle
_MAX_HEADER = 100_000_000
_MEMO = object()


def _is_tensor(x):
    return isinstance(x, engine.TensorBase)


class _NotPlain(TypeError):
    """obj holds something the plain (JSON + tensors) format cannot: it is pickled instead."""


# --------------------------------------------------------------------------- save
def _encode(obj, path, tensors, names_by_id):
    """JSON-able description of obj; tensors are collected into `tensors` (name -> ndarray)."""
    if getattr(obj, "is_sparse", False):
        raise _NotPlain("a sparse tensor")
    if _is_tensor(obj) or isinstance(obj, np.ndarray):
        arr = obj._data if _is_tensor(obj) else obj
        key = names_by_id.get(id(obj))
        if key is None:
            key = path or "tensor"
            while key in tensors:
                key += "_"
            tensors[key] = arr
            names_by_id[id(obj)] = key
        node = {"T": key}
        if isinstance(obj, np.ndarray):
            node["np"] = True
        else:
            from fastgrad.nn.parameter import Parameter

            if isinstance(obj, Parameter):
                node["param"] = True
            if obj.requires_grad:
                node["rg"] = True
        return node
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, np.generic):
                k = k.item()
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise _NotPlain("fastgrad.save: dict keys must be str, int, float, bool or None, got %s"
                                % type(k).__name__)
            items.append([k, _encode(v, "%s.%s" % (path, k) if path else str(k), tensors, names_by_id)])
        return {"D": items}
    if isinstance(obj, (list, tuple)):
        enc = [_encode(v, "%s.%d" % (path, i) if path else str(i), tensors, names_by_id) for i, v in enumerate(obj)]
        return {"U" if isinstance(obj, tuple) else "L": enc}
    raise _NotPlain("fastgrad.save: the plain format holds only tensors, arrays, dicts, lists, tuples, numbers, "
                    "strings and None, not %s" % type(obj).__name__)


def _to_bytes(tensors, metadata):
    header = {}
    offset = 0
    chunks = []
    for name, arr in tensors.items():
        dt = np.dtype(arr.dtype).newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        if dt not in _CODES:
            raise TypeError("fastgrad.save: dtype %s cannot be stored in the safetensors format" % arr.dtype)
        data = np.ascontiguousarray(arr, dtype=dt).tobytes()
        header[name] = {"dtype": _CODES[dt], "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # align the data section to 8 bytes, like safetensors
    return len(raw).to_bytes(8, "little") + raw + b"".join(chunks)


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save obj to a path or binary file: tensors and (nested) dicts/lists/tuples of tensors and plain
    values in the safetensors layout; any other picklable object (a Module, an optimizer) pickled,
    its tensors still stored as raw arrays."""
    tensors, names_by_id = {}, {}
    metadata = {"format": "pt"}
    try:
        if (isinstance(obj, dict) and obj and all(isinstance(k, str) and _is_tensor(v) and not getattr(v, "is_sparse", False)
                                                  for k, v in obj.items())):
            for k, v in obj.items():  # a flat state dict: the tensor names are its keys
                tensors[k] = v._data
            structure = {"D": [[k, _flat_node(v, k)] for k, v in obj.items()]}
        else:
            structure = _encode(obj, "", tensors, names_by_id)
        metadata[_STRUCT_KEY] = json.dumps(structure, separators=(",", ":"))
    except _NotPlain:
        tensors = {}
        metadata = {"format": "pt", _PICKLE_KEY: _PICKLE_KEY}
        tensors[_PICKLE_KEY] = np.frombuffer(_pickle(obj, tensors, pickle_module, pickle_protocol), np.uint8)
    data = _to_bytes(tensors, metadata)
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(os.fspath(f), "wb") as fh:
            fh.write(data)


def _pickle(obj, tensors, pickle_module, protocol):
    """The pickle of obj; its tensors and arrays go into `tensors`, named by persistent ids."""
    from fastgrad._tensor import Tensor
    from fastgrad.nn.parameter import Parameter

    keys, keep = {}, []

    class _Pickler((pickle_module or pickle).Pickler):
        def persistent_id(self, o):
            t = type(o)
            if t is not Tensor and t is not Parameter and t is not np.ndarray:
                return None
            key = keys.get(id(o))
            if key is None:
                key = "%d" % len(keys)
                keys[id(o)] = key
                keep.append(o)  # alive until the dump ends: ids stay unique
                tensors[key] = o if t is np.ndarray else o._data
            if t is np.ndarray:
                return ("N", key)
            return ("T", key, bool(o._requires_grad), t is Parameter)

    buf = io.BytesIO()
    _Pickler(buf, protocol=4 if protocol is None else protocol).dump(obj)
    return buf.getvalue()


def _flat_node(v, key):
    from fastgrad.nn.parameter import Parameter

    node = {"T": key}
    if isinstance(v, Parameter):
        node["param"] = True
    if v.requires_grad:
        node["rg"] = True
    return node


# --------------------------------------------------------------------------- load
def _bad(msg):
    return ValueError("fastgrad.load: not a valid fastgrad/safetensors file: " + msg)


def _no_duplicates(pairs):
    """json object_pairs_hook: a key given twice is an error (json keeps the last one silently)."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise _bad("duplicate key %r" % (k,))
        out[k] = v
    return out


def _parse(data):
    """Header dict and the data section; every field is checked before anything is built."""
    if len(data) < 8:
        raise _bad("the file is shorter than its 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n > _MAX_HEADER:
        raise _bad("header length %d does not fit in a file of %d bytes" % (n, len(data)))
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
        if str(e).startswith("fastgrad.load:"):
            raise
        raise _bad("the header is not JSON (%s)" % e) from None
    if not isinstance(header, dict):
        raise _bad("the header is not a JSON object")
    buf = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad("__metadata__ must map strings to strings")
    arrays = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) - {"dtype", "shape", "data_offsets"}:
            raise _bad("entry %r is not {dtype, shape, data_offsets}" % name)
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise _bad("entry %r has unknown dtype %r" % (name, dtype))
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise _bad("entry %r has an invalid shape %r" % (name, shape))
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= len(buf)):
            raise _bad("entry %r has invalid data_offsets %r" % (name, offsets))
        dt = np.dtype(_DTYPES[dtype])
        count = math.prod(shape)  # Python ints: a huge shape cannot wrap around to a small byte count
        if offsets[1] - offsets[0] != count * dt.itemsize:
            raise _bad("entry %r: %d bytes for shape %s of %s" % (name, offsets[1] - offsets[0], shape, dtype))
        try:  # an empty array can still have a dimension numpy cannot represent
            arr = np.frombuffer(buf, dt, count, offsets[0]).reshape(shape)
        except ValueError as e:
            raise _bad("entry %r has shape %s (%s)" % (name, shape, e)) from None
        arrays[name] = arr.astype(dt.newbyteorder("="), copy=True)  # a private, writeable, native copy
    return arrays, metadata


def _decode(node, arrays, make_tensor):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) < 1:
        raise _bad("malformed structure entry %r" % (node,))
    if "T" in node:
        key = node["T"]
        if not isinstance(key, str) or key not in arrays:
            raise _bad("the structure names a missing tensor %r" % (key,))
        if node.get("np"):
            return arrays[key]
        memo = arrays.setdefault(_MEMO, {})  # a tensor saved twice comes back as one object
        if key not in memo:
            memo[key] = make_tensor(arrays[key], bool(node.get("rg")), bool(node.get("param")))
        return memo[key]
    if "D" in node and isinstance(node["D"], list):
        out = {}
        for item in node["D"]:
            if not (isinstance(item, list) and len(item) == 2
                    and (item[0] is None or isinstance(item[0], (bool, int, float, str)))):
                raise _bad("malformed dict entry")
            out[item[0]] = _decode(item[1], arrays, make_tensor)
        return out
    if "L" in node and isinstance(node["L"], list):
        return [_decode(v, arrays, make_tensor) for v in node["L"]]
    if "U" in node and isinstance(node["U"], list):
        return tuple(_decode(v, arrays, make_tensor) for v in node["U"])
    raise _bad("malformed structure entry %r" % (node,))


def _make_tensor(arr, requires_grad, param):
    t = engine.make_tensor(arr)
    if param:
        from fastgrad.nn.parameter import Parameter

        return Parameter(t, requires_grad)
    if requires_grad and _dtype.kind(arr.dtype) in "fc":
        t.requires_grad_(True)
    return t


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load what fastgrad.save wrote (or any safetensors file: a dict of tensors, or a checkpoint torch.save
    wrote, see fastgrad/_torch_archive.py). Tensors and plain
    structures never run code; a pickled object loads with weights_only=False, or with
    weights_only=True (the default) when all the globals it names are allow-listed.
    map_location and mmap are accepted (everything lives in CPU memory)."""
    weights_only_not_set = weights_only is None
    if weights_only_not_set:
        weights_only = pickle_module is None
    true_values = ["1", "y", "yes", "true"]
    force_wo = os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    force_no_wo = os.getenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    if force_wo and force_no_wo:
        raise RuntimeError("Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` "
                           "should be set, but both were set.")
    elif force_wo:
        weights_only = True
    elif force_no_wo and weights_only_not_set:
        warnings.warn("Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected, since the`weights_only` "
                      "argument was not explicitly passed to `torch.load`, forcing weights_only=False.",
                      UserWarning, stacklevel=2)
        weights_only = False
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.")
    if hasattr(f, "read"):
        data = f.read()
    else:
        with open(os.fspath(f), "rb") as fh:
            data = fh.read()
    if isinstance(data, str):
        raise TypeError("fastgrad.load: open the file in binary mode")
    if bytes(data[:4]) == _torch_archive.MAGIC:  # what torch.save writes (a zip archive)
        try:
            return _torch_archive.load(data, map_location, weights_only, pickle_module, pickle_load_args)
        except pickle.UnpicklingError as e:
            if not weights_only:
                raise
            raise pickle.UnpicklingError(_weights_only_message(str(e))) from None
    arrays, metadata = _parse(data)
    if _PICKLE_KEY in metadata:
        return _unpickle(arrays, metadata[_PICKLE_KEY], weights_only, pickle_module, pickle_load_args)
    if _STRUCT_KEY in metadata:
        try:
            structure = json.loads(metadata[_STRUCT_KEY], object_pairs_hook=_no_duplicates)
            return _decode(structure, arrays, _make_tensor)
        except (ValueError, RecursionError) as e:  # _bad() is a ValueError
            if isinstance(e, ValueError) and str(e).startswith("fastgrad.load:"):
                raise
            raise _bad("the structure entry is not valid (%s)" % e) from None
    return {name: engine.make_tensor(arr) for name, arr in arrays.items()}


# --------------------------------------------------------------------------- pickled objects
_UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `fastgrad.load` "
    "from `False` to `True`. Re-running `fastgrad.load` with `weights_only` set to `False` will likely succeed, "
    "but it can result in arbitrary code execution. Do it only if you got the file from a "
    "trusted source."
)
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of fastgrad.load to learn more about types accepted by default with "
    "weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
)


def _weights_only_message(message):
    """PyTorch's wording of a refused weights-only load."""
    if "was not an allowed global by default." in message:
        updated = ("Weights only load failed. This file can still be loaded, to do so you have two options, "
                   "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
                   f"\n\t(1) {_UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check "
                   "the recommended steps in the following error message.\n\tWeightsUnpickler error: " + message)
    else:
        updated = (f"Weights only load failed. {_UNSAFE_MESSAGE}\n"
                   "Please file an issue with the following so that we can make "
                   "`weights_only=True` compatible with your use case: WeightsUnpickler error: ")
        updated += "\n\n" + message
    return updated + _DOCS_MESSAGE


def _unpickle(arrays, entry, weights_only, pickle_module, pickle_load_args):
    if entry not in arrays or arrays[entry].dtype != np.uint8 or arrays[entry].ndim != 1:
        raise _bad("the pickle entry %r is missing or not a uint8 vector" % (entry,))
    memo = {}

    def persistent_load(pid):
        if not (type(pid) is tuple and len(pid) in (2, 4) and pid[0] in ("T", "N") and type(pid[1]) is str
                and pid[1] in arrays and pid[1] != entry):
            raise pickle.UnpicklingError("unsupported persistent id encountered")
        if pid[0] == "N":
            return arrays[pid[1]]
        if pid[1] not in memo:
            memo[pid[1]] = _make_tensor(arrays[pid[1]], bool(pid[2]), bool(pid[3]))
        return memo[pid[1]]

    buf = io.BytesIO(arrays[entry].tobytes())
    if weights_only:
        try:
            return _wo.WeightsUnpickler(buf, persistent_load, encoding=pickle_load_args.get("encoding", "utf-8")).load()
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(_weights_only_message(str(e))) from None

    class _Unpickler((pickle_module or pickle).Unpickler):
        def persistent_load(self, pid):
            return persistent_load(pid)

    args = dict(pickle_load_args)
    args.setdefault("encoding", "utf-8")
    return _Unpickler(buf, **args).load()


class safe_globals(object):  # noqa: N801  (PyTorch's name)
    """Context manager: the given globals are allowed in weights-only loads inside the block."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        _wo.add_safe_globals(self.safe_globals)

    def __exit__(self, type, value, tb):  # noqa: A002
        _wo.remove_safe_globals(self.safe_globals)


def add_safe_globals(safe_globals):
    """Mark globals (classes, functions, or (global, "module.qualname") pairs) safe for weights-only loads."""
    _wo.add_safe_globals(safe_globals)


def get_safe_globals():
    """The globals added with add_safe_globals (or an enclosing safe_globals block)."""
    return _wo.get_safe_globals()


def clear_safe_globals():
    """Forget every global add_safe_globals added."""
    _wo.clear_safe_globals()
