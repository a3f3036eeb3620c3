"""fastgrad.save / fastgrad.load in the safetensors layout (never pickle, so loading cannot run code).

File layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
N bytes of JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``,
then the raw little-endian tensor bytes. A flat ``{str: Tensor}`` dict (a module's state dict) is
stored under its own keys, so PyTorch's ``safetensors.torch.load_file`` reads it back. Anything
else (a tensor, nested dicts/lists/tuples of tensors and plain scalars, e.g. an optimizer state
dict) is stored as tensors plus a JSON description of the structure in the metadata entry
``fastgrad.structure``.
"""
import json
import math
import os

import numpy as np

from fastgrad._backend import engine

__all__ = ["save", "load"]

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?", "C64": "<c8"}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_STRUCT_KEY = "fastgrad.structure"
_MAX_HEADER = 100_000_000
_MEMO = object()


def _is_tensor(x):
    return isinstance(x, engine.TensorBase)


# --------------------------------------------------------------------------- save
def _encode(obj, path, tensors, names_by_id):
    """JSON-able description of obj; tensors are collected into `tensors` (name -> ndarray)."""
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
                raise TypeError("fastgrad.save: dict keys must be str, int, float, bool or None, got %s"
                                % type(k).__name__)
            items.append([k, _encode(v, "%s.%s" % (path, k) if path else str(k), tensors, names_by_id)])
        return {"D": items}
    if isinstance(obj, (list, tuple)):
        enc = [_encode(v, "%s.%d" % (path, i) if path else str(i), tensors, names_by_id) for i, v in enumerate(obj)]
        return {"U" if isinstance(obj, tuple) else "L": enc}
    raise TypeError("fastgrad.save: cannot save an object of type %s (only tensors, arrays, dicts, lists, tuples, "
                    "numbers, strings and None)" % type(obj).__name__)


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


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save a tensor or (nested) dict/list/tuple of tensors and plain values to a path or binary file."""
    tensors, names_by_id = {}, {}
    metadata = {"format": "pt"}
    if isinstance(obj, dict) and all(isinstance(k, str) and _is_tensor(v) for k, v in obj.items()) and obj:
        for k, v in obj.items():  # a flat state dict: the tensor names are its keys
            tensors[k] = v._data
        structure = {"D": [[k, _flat_node(v, k)] for k, v in obj.items()]}
    else:
        structure = _encode(obj, "", tensors, names_by_id)
    metadata[_STRUCT_KEY] = json.dumps(structure, separators=(",", ":"))
    data = _to_bytes(tensors, metadata)
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(os.fspath(f), "wb") as fh:
            fh.write(data)


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


def _parse(data):
    """Header dict and the data section; every field is checked before anything is built."""
    if len(data) < 8:
        raise _bad("the file is shorter than its 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n > _MAX_HEADER:
        raise _bad("header length %d does not fit in a file of %d bytes" % (n, len(data)))
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
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
        if dtype not in _DTYPES:
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
    if requires_grad and arr.dtype.kind in "fc":
        t.requires_grad_(True)
    return t


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args):
    """Load what fastgrad.save wrote (or any safetensors file: a dict of tensors). Never runs code."""
    if hasattr(f, "read"):
        data = f.read()
    else:
        with open(os.fspath(f), "rb") as fh:
            data = fh.read()
    if isinstance(data, str):
        raise TypeError("fastgrad.load: open the file in binary mode")
    arrays, metadata = _parse(data)
    if _STRUCT_KEY in metadata:
        try:
            structure = json.loads(metadata[_STRUCT_KEY])
            return _decode(structure, arrays, _make_tensor)
        except (ValueError, RecursionError) as e:  # _bad() is a ValueError
            if isinstance(e, ValueError) and str(e).startswith("fastgrad.load:"):
                raise
            raise _bad("the structure entry is not valid (%s)" % e) from None
    return {name: engine.make_tensor(arr) for name, arr in arrays.items()}

