"""The unpickler behind ``fastgrad.load(..., weights_only=True)`` (PyTorch's torch/_weights_only_unpickler.py).

It loads a pickled object only when every global it names is on the allow list (fastgrad's tensor,
Parameter, Size, device and dtype rebuilders, OrderedDict, Counter, set, frozenset, complex,
bytearray, bytes) or was added with ``fastgrad.serialization.add_safe_globals`` / ``safe_globals``.
Anything else raises ``pickle.UnpicklingError`` before any of it is imported or called, so loading
an untrusted file runs no code of the file's choosing. On top of the globals check it refuses, as
PyTorch does, to BUILD (set the state of) objects of types that are not allow-listed and to append
to / set items of anything but lists, dicts and sets.

It is the pure-Python ``pickle._Unpickler`` with those opcodes replaced; tensors are not in the
pickle (they come from the file's tensor section through persistent ids), so it stays fast.
"""
import _codecs
import _compat_pickle
import collections
import pickle
import struct

__all__ = ["WeightsUnpickler", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "remove_safe_globals"]

_marked_safe_globals = set()


def add_safe_globals(safe_globals):
    global _marked_safe_globals
    _marked_safe_globals = _marked_safe_globals.union(set(safe_globals))


def get_safe_globals():
    return list(_marked_safe_globals)


def clear_safe_globals():
    global _marked_safe_globals
    _marked_safe_globals = set()


def remove_safe_globals(globals_to_remove):
    global _marked_safe_globals
    _marked_safe_globals = _marked_safe_globals - set(globals_to_remove)


def _user_allowed_globals():
    rc = {}
    for f in _marked_safe_globals:
        if isinstance(f, tuple):
            if len(f) != 2 or not isinstance(f[1], str):
                raise ValueError("Expected tuple of length 2 (global, str of callable full path), but got "
                                 f"{type(f)} of length {len(f)}")
            rc[f[1]] = f[0]
        else:
            rc[f"{f.__module__}.{f.__qualname__}"] = f
    return rc


def _bytearray(*args):
    """builtins.bytearray for weights-only loads: a pickled bytearray (bytearray(bytes) or (str, encoding));
    bytearray(<int>) would allocate that many bytes of the file's choosing, which no pickler writes."""
    if args and isinstance(args[0], int):
        raise pickle.UnpicklingError("bytearray(%d) is not a pickled bytearray: refused (it would allocate %d "
                                     "bytes)" % (args[0], args[0]))
    return bytearray(*args)


def _allowed_globals():
    """The globals a weights-only load accepts by default: what tensors, parameters, sizes, devices,
    dtypes and plain containers need (PyTorch's list, with fastgrad's classes)."""
    from fastgrad import _dtype, _tensor, _types, sparse
    from fastgrad.nn.parameter import Parameter

    rc = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "_codecs.encode": _codecs.encode,  # bytes (protocol 2)
        "builtins.bytearray": _bytearray,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
    }
    for obj in (Parameter, _tensor.Tensor, _types.Size, _types.device, _tensor._rebuild, _dtype._from_name,
                sparse._rebuild_sparse):  # named where they live, as pickle names them
        rc[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return rc


def unsupported_global_message(full_path):
    if full_path.startswith("builtins."):
        full_path = full_path[len("builtins."):]
    return (f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. "
            f"Please use `fastgrad.serialization.add_safe_globals([{full_path}])` or the "
            f"`fastgrad.serialization.safe_globals([{full_path}])` context manager to allowlist this global "
            "if you trust this class/function.")


class WeightsUnpickler(pickle._Unpickler):
    """pickle._Unpickler restricted to allow-listed globals; persistent ids resolve through persistent_load."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, persistent_load, *, encoding="utf-8"):
        super().__init__(file, encoding=encoding)
        self._nbytes = file.getbuffer().nbytes if hasattr(file, "getbuffer") else None
        self._persistent_load = persistent_load
        self._allowed = _allowed_globals()
        self._user = _user_allowed_globals()
        self._types = {v for v in list(self._allowed.values()) + list(self._user.values()) if isinstance(v, type)}

    def persistent_load(self, pid):
        return self._persistent_load(pid)

    def find_class(self, module, name):
        # protocol 2 pickles (torch.save's default) name Python 2 modules: map them as torch does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        full_path = f"{module}.{name}"
        if full_path in self._allowed:
            return self._allowed[full_path]
        if full_path in self._user:
            return self._user[full_path]
        raise pickle.UnpicklingError(unsupported_global_message(full_path))

    def load(self):
        try:
            return super().load()
        except KeyError as e:  # an opcode the dispatch table does not know
            raise pickle.UnpicklingError(f"Unsupported operand {e.args[0] if e.args else '?'}") from None
        except (EOFError, struct.error):  # the pure-Python unpickler's words for a short read
            raise pickle.UnpicklingError("pickle data was truncated") from None
        except IndexError:  # an opcode popping an empty stack
            raise pickle.UnpicklingError("unpickling stack underflow") from None

    # ------------------------------------------------------------------ the restricted opcodes
    def _load_build(self):
        inst = self.stack[-2]
        from fastgrad._backend import engine

        if type(inst) not in self._types or isinstance(inst, engine.TensorBase):  # tensors need no BUILD
            raise pickle.UnpicklingError("Can only build Tensor, Parameter, OrderedDict or types allowlisted via "
                                         f"`add_safe_globals`, but got {type(inst)}")
        pickle._Unpickler.load_build(self)

    def _check_target(self, kinds, opcode, what):
        if type(self.stack[-1]) not in kinds:
            raise pickle.UnpicklingError(f"Can only {opcode} {what}, but got {type(self.stack[-1])}")

    def _load_bytearray8(self):
        n = int.from_bytes(self.read(8), "little")
        if self._nbytes is not None and n > self._nbytes:  # pickle allocates the claimed length before reading
            raise pickle.UnpicklingError("BYTEARRAY8 claims %d bytes in a pickle of %d: pickle data was truncated"
                                         % (n, self._nbytes))
        b = bytearray(n)
        if self.readinto(b) != n:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(b)

    def _load_append(self):
        if type(self.stack[-2]) is not list:
            raise pickle.UnpicklingError(f"Can only append to lists, but got {type(self.stack[-2])}")
        pickle._Unpickler.load_append(self)

    def _load_appends(self):
        items = self.pop_mark()
        self._check_target((list,), "extend", "lists")
        self.stack[-1].extend(items)

    def _load_setitem(self):
        if type(self.stack[-3]) not in (dict, collections.OrderedDict, collections.Counter):
            raise pickle.UnpicklingError("Can only SETITEM for dict, collections.OrderedDict, collections.Counter, "
                                         f"but got {type(self.stack[-3])}")
        pickle._Unpickler.load_setitem(self)

    def _load_setitems(self):
        items = self.pop_mark()
        self._check_target((dict, collections.OrderedDict, collections.Counter), "SETITEMS for",
                           "dict, collections.OrderedDict, collections.Counter")
        d = self.stack[-1]
        for i in range(0, len(items), 2):
            d[items[i]] = items[i + 1]

    def _load_additems(self):
        items = self.pop_mark()
        self._check_target((set,), "add to", "sets")
        self.stack[-1].update(items)

    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.ADDITEMS[0]] = _load_additems
