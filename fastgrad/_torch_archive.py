"""Reading PyTorch's own checkpoint format (what ``torch.save`` writes, a zip archive) in ``fastgrad.load``.

A torch .pt file is a zip archive ``<name>/data.pkl`` + ``<name>/data/<key>`` + ``<name>/byteorder``:
the pickle describes the object; every tensor in it is a call of a torch rebuild function
(``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``, ``_v3`` with
a dtype, ``_rebuild_parameter``) on a storage named by a persistent id ``('storage', torch.FloatStorage,
key, location, numel)`` whose raw bytes are the record ``data/<key>``. Here the storages become NumPy
buffers (tensors that share a storage in torch share memory here too), the rebuild functions build
fastgrad tensors over them, and torch's names of tensors, parameters, sizes, devices and dtypes resolve
to fastgrad's.

With ``weights_only=True`` (the default) the pickle runs through fastgrad's weights-only unpickler with
those torch names added to its allow list (PyTorch's own list); anything else is refused before it is
imported or called. With ``weights_only=False`` other ``torch.*`` globals (a pickled nn.Module) resolve
to fastgrad's object of the same path, and other globals load as pickle does.

Every storage size, offset and stride is checked against the record's length before a view is made.
Sparse, quantized and nested tensors and dtypes fastgrad lacks are not supported (a RuntimeError says
so); a malformed archive raises ValueError; a global outside the allow list, UnpicklingError.
"""
import importlib
import io
import pickle
import stat
import zipfile
import zlib

import numpy as np

from fastgrad import _dtype
from fastgrad import _weights_only_unpickler as _wo
from fastgrad._backend import engine

MAGIC = b"PK\x03\x04"
_INT64_MAX = (1 << 63) - 1
# deflate expands at most ~1032-fold (a 258-byte match per ~2 bits): a member claiming more is a lie / zip bomb
_DEFLATE_MAX_RATIO = 1032
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, OverflowError)

# torch's storage classes -> dtype names (UntypedStorage: bytes)
_STORAGE_DTYPES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
                   "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                   "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
                   "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
                   "UntypedStorage": "uint8"}
# every dtype name torch may pickle (str(torch.<dtype>) without 'torch.')
_TORCH_DTYPES = ("float32", "float64", "float16", "bfloat16", "complex32", "complex64", "complex128", "uint8",
                 "int8", "int16", "int32", "int64", "bool", "uint16", "uint32", "uint64", "float8_e4m3fn",
                 "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
                 "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8",
                 "bits16", "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3",
                 "uint4", "uint5", "uint6", "uint7")
_UNSUPPORTED_REBUILDS = ("_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
                         "_rebuild_nested_tensor", "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
                         "_rebuild_device_tensor_from_cpu_tensor")


class _StorageType:
    """What a pickled torch storage class (torch.FloatStorage, torch.storage.UntypedStorage) loads as."""

    def __init__(self, name):
        self.name = name
        self.dtype_name = _STORAGE_DTYPES[name]


class _Storage:
    """One storage of the archive: its bytes in an aligned, writeable NumPy buffer."""

    def __init__(self, raw, dtype_name, byteorder):
        self.bytes = np.frombuffer(raw, np.uint8).copy()
        self.dtype_name = dtype_name
        self.byteorder = byteorder
        self._views = {}

    def typed(self, dtype_name):
        """The buffer as a 1-D array of dtype_name (native byte order; shared between tensors)."""
        if dtype_name not in self._views:
            dt = _fg_dtype(dtype_name).np
            if self.bytes.size % dt.itemsize:
                raise _bad("a storage of %d bytes is not a whole number of %s elements" % (self.bytes.size,
                                                                                          dtype_name))
            arr = self.bytes.view(dt)
            if self.byteorder == "big" and dt.itemsize > 1:
                arr = self.bytes.view(dt.newbyteorder(">")).astype(dt)  # a native copy (unshared)
            self._views[dtype_name] = arr
        return self._views[dtype_name]


def _bad(msg):
    return ValueError("fastgrad.load: not a valid fastgrad/safetensors file or PyTorch checkpoint: " + msg)


def _fg_dtype(name):
    d = _dtype._BY_NAME.get(name)
    if d is None:
        raise RuntimeError("fastgrad.load: the checkpoint holds a tensor of dtype torch.%s, which fastgrad does "
                           "not have" % name)
    return d


def _check_int(x, what):
    if type(x) is not int or x < 0 or x > _INT64_MAX:
        raise _bad("invalid tensor %s %r" % (what, x))


def _numel(size):
    """torch's numel check (c10::safe_multiplies_u64): an overflow of the running uint64 product, or a product
    past int64, is torch's RuntimeError, before anything is allocated."""
    p, overflow = 1, False
    for n in size:
        p *= n
        if p >> 64:
            overflow, p = True, p & ((1 << 64) - 1)
    if overflow or p > _INT64_MAX:
        raise RuntimeError("numel: integer multiplication overflow")
    return p


def _make(arr, requires_grad):
    t = engine.make_tensor(arr)
    if requires_grad and arr.dtype.kind in "fc":
        t.requires_grad_(True)
    return t


def _view(storage, offset, size, stride, dtype_name):
    if not isinstance(storage, _Storage):
        raise _bad("a tensor's storage is not a storage of the archive")
    _check_int(offset, "storage offset")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)):
        raise _bad("invalid tensor size %r / stride %r" % (size, stride))
    for s in size:
        _check_int(s, "size")
    for s in stride:
        _check_int(s, "stride")
    numel = _numel(size)
    flat = storage.typed(dtype_name)
    try:  # numpy's own limit (bytes of the view's extent < 2**63) is stricter than torch's
        if numel == 0:
            return np.zeros(size, flat.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:
            raise _bad("a tensor of size %r, stride %r at offset %d does not fit in its storage of %d elements"
                       % (size, stride, offset, flat.size))
        item = flat.dtype.itemsize
        return np.lib.stride_tricks.as_strided(flat[offset:], size, tuple(s * item for s in stride), writeable=True)
    except ValueError as e:
        if str(e).startswith("fastgrad.load:"):
            raise
        raise _bad("a tensor of size %r, stride %r cannot be represented (%s)" % (size, stride, e)) from None


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _make(_view(storage, storage_offset, size, stride, storage.dtype_name), False)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _make(_view(storage, storage_offset, size, stride, storage.dtype_name), bool(requires_grad))


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    if isinstance(dtype, _MissingDtype):
        _fg_dtype(dtype.name)  # raises: fastgrad does not have it
    if not isinstance(dtype, _dtype.dtype):
        raise _bad("invalid tensor dtype %r" % (dtype,))
    return _make(_view(storage, storage_offset, size, stride, dtype.name), bool(requires_grad))


def _set_state(obj, state):
    """torch._utils._set_obj_state: a dict of attributes, or (dict, slots) ."""
    if isinstance(state, tuple):
        if len(state) != 2:
            raise _bad("invalid serialized state %r" % (state,))
        dict_state, slots_state = state
    else:
        dict_state, slots_state = state, None
    for k, v in list((dict_state or {}).items()) + list((slots_state or {}).items()):
        setattr(obj, k, v)
    return obj


def _parameter(data, requires_grad):
    from fastgrad.nn.parameter import Parameter

    if not isinstance(data, engine.TensorBase):
        raise _bad("a Parameter's data is not a tensor")
    return Parameter(data, bool(requires_grad))


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return _parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_state(_parameter(data, requires_grad), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    from fastgrad import _tensor
    from fastgrad.nn.parameter import Parameter

    ret = func(*args)
    if new_type is Parameter and not isinstance(ret, Parameter):
        ret = _parameter(ret, ret.requires_grad)
    elif new_type is not _tensor.Tensor and new_type is not Parameter:
        raise RuntimeError("fastgrad.load: tensor subclass %r is not supported" % (new_type,))
    return _set_state(ret, state) if state else ret


def _get_layout(name):
    import fastgrad

    layout = getattr(fastgrad, name.split(".")[-1], None) if isinstance(name, str) else None
    if layout is None:
        raise _bad("unknown layout %r" % (name,))
    return layout


def _unsupported(name):
    def f(*args, **kwargs):
        raise RuntimeError("fastgrad.load: the checkpoint holds a tensor torch rebuilds with torch._utils.%s "
                           "(sparse, quantized, nested, meta or subclass tensors), which fastgrad cannot load" % name)
    return f


def torch_globals():
    """torch's weights-only allow list, as the fastgrad objects those names load as."""
    from fastgrad import _tensor, _types
    from fastgrad.nn.parameter import Parameter

    rc = {"torch.nn.parameter.Parameter": Parameter, "torch.Tensor": _tensor.Tensor, "torch.Size": _types.Size,
          "torch.device": _types.device, "torch.serialization._get_layout": _get_layout,
          "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2}
    for f in (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
              _rebuild_parameter_with_state):
        rc["torch._utils." + f.__name__] = f
    for name in _UNSUPPORTED_REBUILDS:
        rc["torch._utils." + name] = _unsupported(name)
    for name in _STORAGE_DTYPES:
        rc[("torch.storage." if name == "UntypedStorage" else "torch.") + name] = _StorageType(name)
    for name in _TORCH_DTYPES:
        d = _dtype._BY_NAME.get(name)
        rc["torch." + name] = d if d is not None else _MissingDtype(name)
    return rc


class _MissingDtype:
    """A torch dtype fastgrad lacks: loading fails only if a tensor uses it."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name


class _TorchWeightsUnpickler(_wo.WeightsUnpickler):
    def __init__(self, file, persistent_load, **kw):
        super().__init__(file, persistent_load, **kw)
        self._torch = torch_globals()
        self._types = self._types | {v for v in self._torch.values() if isinstance(v, type)}

    def find_class(self, module, name):
        obj = self._torch.get(f"{module}.{name}")
        return obj if obj is not None else super().find_class(module, name)


def _full_unpickler(pickle_module):
    torch_names = torch_globals()

    class _TorchUnpickler((pickle_module or pickle).Unpickler):
        def find_class(self, module, name):
            obj = torch_names.get(f"{module}.{name}")
            if obj is not None:
                return obj
            if module == "torch" or module.startswith("torch."):
                fg_module = "fastgrad" + module[len("torch"):]
                try:
                    return getattr(importlib.import_module(fg_module), name)
                except (ImportError, AttributeError):
                    raise pickle.UnpicklingError("fastgrad.load: the checkpoint names %s.%s, which fastgrad does "
                                                 "not have (as %s.%s)" % (module, name, fg_module, name)) from None
            return super().find_class(module, name)

    return _TorchUnpickler


def _open(data):
    """The zip archive, its members checked before any is read: no duplicate names, no names that leave
    the archive, no symlinks, only stored or deflated members (PyTorch's reader), and no member claiming
    more uncompressed bytes than its compressed bytes can hold (a zip bomb)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _ZIP_ERRORS as e:
        raise _bad("%s" % e) from None
    seen = set()
    for info in infos:
        name = info.filename
        if name in seen:
            raise _bad("duplicate member %r" % name)
        seen.add(name)
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            raise _bad("member name %r leaves the archive" % name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _bad("member %r is a symlink" % name)
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise _bad("stored member %r has %d bytes but claims %d uncompressed" % (name, info.compress_size,
                                                                                         info.file_size))
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            if info.file_size > _DEFLATE_MAX_RATIO * info.compress_size + 1024:
                raise _bad("member %r claims %d uncompressed bytes from %d compressed: more than deflate expands to"
                           % (name, info.file_size, info.compress_size))
        else:
            raise _bad("member %r uses zip compression method %d (PyTorch reads stored and deflated members only)"
                       % (name, info.compress_type))
    return zf, list(seen)


def _read(zf, name):
    """A member's bytes; a corrupt member (bad CRC, broken deflate stream, wrong size) is a ValueError."""
    try:
        raw = zf.read(name)
    except _ZIP_ERRORS as e:
        raise _bad("member %r cannot be read (%s)" % (name, e)) from None
    if len(raw) != zf.getinfo(name).file_size:
        raise _bad("member %r has %d bytes, its directory entry %d" % (name, len(raw), zf.getinfo(name).file_size))
    return raw


def load(data, map_location, weights_only, pickle_module, pickle_load_args):
    """The object a torch.save zip archive (bytes) holds."""
    zf, names = _open(data)
    pkl = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pkl) != 1:
        raise _bad("no single <name>/data.pkl record (a TorchScript archive or another zip file?)")
    prefix = pkl[0][:-len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = _read(zf, prefix + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise _bad("unknown byteorder %r" % byteorder)
    storages = {}

    def persistent_load(pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)
                and type(pid[2]) is str and type(pid[4]) is int and pid[4] >= 0):
            raise pickle.UnpicklingError("unsupported persistent id encountered")
        _, stype, key, location, numel = pid
        if not key or "/" in key or "\\" in key or ".." in key or "\0" in key or numel > _INT64_MAX:
            raise _bad("invalid storage key %r or size %d" % (key, numel))
        if key in storages:
            return storages[key]
        if map_location is None and isinstance(location, str) and not location.startswith("cpu"):
            if location.startswith("cuda"):
                raise RuntimeError("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
                                   "is False. If you are running on a CPU-only machine, please use torch.load with "
                                   "map_location=torch.device('cpu') to map your storages to the CPU.")
            raise RuntimeError("don't know how to restore data location of torch.storage.UntypedStorage (tagged "
                               "with %s)" % (location,))
        rec = prefix + "data/" + key
        item = 1 if stype.name == "UntypedStorage" else _fg_dtype(stype.dtype_name).itemsize
        try:
            info = zf.getinfo(rec)
        except KeyError:
            raise _bad("no record %s" % rec) from None
        if info.file_size != numel * item:
            raise _bad("record %s has %d bytes, its storage %d" % (rec, info.file_size, numel * item))
        storages[key] = _Storage(_read(zf, rec), stype.dtype_name, byteorder)
        return storages[key]

    buf = io.BytesIO(_read(zf, pkl[0]))
    encoding = pickle_load_args.get("encoding", "utf-8")
    if weights_only:
        return _TorchWeightsUnpickler(buf, persistent_load, encoding=encoding).load()
    args = dict(pickle_load_args)
    args.setdefault("encoding", encoding)
    unpickler = _full_unpickler(pickle_module)(buf, **args)
    unpickler.persistent_load = persistent_load
    return unpickler.load()
