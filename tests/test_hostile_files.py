"""fastgrad.load on hostile files: code-running pickles, truncated files, lying headers, huge or negative
shapes, unknown dtypes, duplicate keys, zip bombs, symlinks and path traversal inside torch-style zip archives.

Every case must end in a clear exception (ValueError / pickle.UnpicklingError / RuntimeError, torch's type
where torch has one) raised before anything is allocated beyond what the file's size justifies, with no code
of the file's choosing run (a sentinel file that the payload would create must not exist). Loads run under
tracemalloc and the peak is bounded by a small multiple of the file size."""
import builtins
import collections
import io
import json
import os
import pickle
import subprocess
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastgrad
from fastgrad import nn

CLEAR = (ValueError, pickle.UnpicklingError, RuntimeError)


def _load(data, peak_limit=None, **kw):
    """fastgrad.load(bytes); asserts the peak Python allocation stays under peak_limit (default 64x the file + 1 MB)."""
    limit = peak_limit if peak_limit is not None else 64 * len(data) + (1 << 20)
    tracemalloc.start()
    try:
        return fastgrad.load(io.BytesIO(data), **kw)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= limit, "loading a %d-byte file allocated %d bytes" % (len(data), peak)


def _refused(data, exc=CLEAR, match=None, **kw):
    with pytest.raises(exc, match=match) as e:
        _load(data, **kw)
    return e.value


# --------------------------------------------------------------------------- code-running pickles
class _Payload:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(sentinel):
    s = str(sentinel)
    return {"os.system": _Payload(os.system, ("touch %s" % s,)),
            "builtins.eval": _Payload(builtins.eval, ("open(%r, 'w').close()" % s,)),
            "builtins.exec": _Payload(builtins.exec, ("open(%r, 'w').close()" % s,)),
            "subprocess.call": _Payload(subprocess.call, (["touch", s],)),
            "subprocess.Popen": _Payload(subprocess.Popen, (["touch", s],))}


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "builtins.exec", "subprocess.call",
                                  "subprocess.Popen"])
@pytest.mark.parametrize("container", ["fastgrad", "torch_zip", "nested_in_state_dict"])
def test_code_running_pickle_is_refused_by_default(tmp_path, torch, kind, container):
    sentinel = tmp_path / "pwned"
    payload = _payloads(sentinel)[kind]
    obj = {"w": torch.ones(2), "evil": payload} if container == "nested_in_state_dict" else payload
    buf = io.BytesIO()
    if container == "fastgrad":
        fastgrad.save(payload, buf)
    else:
        torch.save(obj, buf)
    data = buf.getvalue()
    assert not sentinel.exists()
    e = _refused(data, pickle.UnpicklingError, match="Weights only load failed")
    assert "Unsupported global" in str(e)
    assert not sentinel.exists()
    if container != "fastgrad":  # torch's default refuses it too, with the same kind of error
        with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
            torch.load(io.BytesIO(data))
        assert not sentinel.exists()


def test_weights_only_false_runs_the_pickle_as_torch_does(tmp_path, torch):
    """weights_only=False is pickle: torch runs the payload, and so does fastgrad (documented, opt-in)."""
    for loader in (torch.load, fastgrad.load):
        sentinel = tmp_path / ("pwned_" + loader.__module__.split(".")[0])
        buf = io.BytesIO()
        torch.save(_Payload(builtins.eval, ("open(%r, 'w').close()" % str(sentinel),)), buf)
        loader(io.BytesIO(buf.getvalue()), weights_only=False)
        assert sentinel.exists()


def _raw_pickle_archive(pkl, records=(), version=True):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for name, raw in records:
            z.writestr(name, raw)
        if version:
            z.writestr("archive/version", "3\n")
    return buf.getvalue()


def _raw_pickle_fastgrad(pkl):
    """A fastgrad file whose pickle entry is pkl (as fastgrad.save writes whole objects)."""
    from fastgrad import serialization as S

    return S._to_bytes({S._PICKLE_KEY: np.frombuffer(pkl, np.uint8)}, {"format": "pt", S._PICKLE_KEY: S._PICKLE_KEY})


@pytest.mark.parametrize("wrap", [_raw_pickle_archive, _raw_pickle_fastgrad])
def test_hand_written_pickles_that_reach_for_code(wrap, tmp_path):
    s = str(tmp_path / "pwned")
    cases = [
        b"cposix\nsystem\n(Vtouch %s\ntR." % s.encode(),
        b"cbuiltins\ngetattr\n(cos\nsystem\ntR.",  # a global that would fetch one
        b"c__builtin__\neval\n(Vopen(%r,'w')\ntR." % s.encode(),  # protocol-2 module name, mapped first
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93.",  # STACK_GLOBAL
        b"(ios\nsystem\nVtouch %s\no." % s.encode(),  # INST
        b"(cos\nsystem\nVtouch %s\no." % s.encode(),  # OBJ
        b"\x80\x02ccollections\nOrderedDict\n)R}V__reduce__\ncos\nsystem\nsb.",  # BUILD smuggling a global
        b"\x80\x02cbuiltins\nset\n)R(cos\nsystem\n\x90.",  # ADDITEMS
        b"\x80\x02\xff.",  # an unknown opcode: still a clear error
        b"\x80\x05\x96" + (1 << 62).to_bytes(8, "little") + b".",  # BYTEARRAY8 claiming 4 EiB
        b"\x80\x02\x8e" + (1 << 62).to_bytes(8, "little") + b".",  # BINBYTES8 claiming 4 EiB
    ]
    for pkl in cases:
        _refused(wrap(pkl))
    assert not os.path.exists(s)


@pytest.mark.parametrize("wrap", [_raw_pickle_archive, _raw_pickle_fastgrad])
def test_bytearray_of_a_huge_count_is_refused_before_allocating(wrap):
    """bytearray is on the allow list (torch's too) for pickled bytearrays; bytearray(<int>) is a request to
    allocate that many bytes, which no pickler writes: refused (torch allocates it)."""
    for n in (1 << 26, 1 << 40):
        pkl = b"\x80\x02cbuiltins\nbytearray\n\x8a\x08" + n.to_bytes(8, "little") + b"\x85R."
        _refused(wrap(pkl), pickle.UnpicklingError, match="bytearray")
    ok = _load(wrap(pickle.dumps(bytearray(b"abc"), protocol=2)))
    assert ok == bytearray(b"abc")


# --------------------------------------------------------------------------- truncated files
def _small_files(torch):
    m = nn.Linear(3, 2)
    out = {}
    buf = io.BytesIO()
    fastgrad.save(m.state_dict(), buf)
    out["state_dict"] = buf.getvalue()
    buf = io.BytesIO()
    fastgrad.save({"a": [fastgrad.ones(2), (3, "x")], "b": None}, buf)
    out["structure"] = buf.getvalue()
    buf = io.BytesIO()
    fastgrad.save(collections.Counter("abc"), buf)  # a pickled object
    out["pickled"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2, dtype=torch.int64)}, buf)
    out["torch_zip"] = buf.getvalue()
    return out


def test_every_prefix_of_a_valid_file_raises_clearly(torch):
    for name, data in _small_files(torch).items():
        _load(data)  # the whole file loads
        for n in range(len(data)):
            with pytest.raises(CLEAR):
                _load(data[:n])
            if name == "torch_zip":  # torch agrees the prefix is unreadable
                with pytest.raises(Exception):
                    torch.load(io.BytesIO(data[:n]))


def test_every_single_byte_flip_of_a_small_file_loads_or_raises_clearly(torch):
    """Not only prefixes: flip each byte of the files (a sampled subset for the zip) and load."""
    for name, data in _small_files(torch).items():
        step = 1 if len(data) < 2000 else 7
        for i in range(0, len(data), step):
            bad = bytearray(data)
            bad[i] ^= 0xFF
            try:
                _load(bytes(bad))
            except CLEAR:
                pass


# --------------------------------------------------------------------------- lying safetensors headers
def _st(header, body=b""):
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return len(raw).to_bytes(8, "little") + raw + body


@pytest.mark.parametrize("header,body,msg", [
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "data_offsets"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 10 ** 12]}}, b"\0" * 8, "data_offsets"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 4]}}, b"\0" * 8, "data_offsets"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}, b"\0" * 8, "data_offsets"),
    ({"w": {"dtype": "F32", "shape": [2 ** 40], "data_offsets": [0, 8]}}, b"\0" * 8, "bytes for shape"),
    ({"w": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62, 4], "data_offsets": [0, 8]}}, b"\0" * 8, "bytes for shape"),
    ({"w": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62, 0], "data_offsets": [0, 0]}}, b"", "shape"),
    ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}}, b"\0" * 16, "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, b"\0" * 8, "invalid shape"),
    ({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4, "invalid shape"),
    ({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16, "unknown dtype"),
    ({"w": {"dtype": "object", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "unknown dtype"),
    ({"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype"),
    ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}}, b"\0" * 4, "not {dtype"),
    ({"w": [1, 2]}, b"", "not {dtype"),
    ({"__metadata__": {"a": 1}}, b"", "__metadata__"),
    ({"__metadata__": {"fastgrad.structure": "{\"T\": \"nope\"}"}}, b"", "missing tensor"),
    ({"__metadata__": {"fastgrad.structure": "[" * 100000}}, b"", "structure"),
    ({"__metadata__": {"fastgrad.pickle": "w"}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
     b"\0" * 4, "pickle entry"),
    (b"[" * 100000, b"", "not JSON"),
    (b"\xff\xfe", b"", "not JSON"),
    (b"[]", b"", "not a JSON object"),
])
def test_lying_headers(header, body, msg):
    _refused(_st(header, body), ValueError, match=msg)


def test_header_length_beyond_the_file():
    for n in (9, 2 ** 32, 2 ** 63, 2 ** 64 - 1):
        _refused(n.to_bytes(8, "little") + b"{}", ValueError, match="header length")
    _refused(b"\x01\x02", ValueError, match="shorter")


def test_duplicate_keys_are_refused():
    entry = '{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}'
    raw = ('{"w": %s, "w": %s}' % (entry, entry)).encode()
    _refused(_st(raw, b"\0" * 4), ValueError, match="duplicate key 'w'")
    raw = ('{"w": {"dtype": "F32", "dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}').encode()
    _refused(_st(raw, b"\0" * 4), ValueError, match="duplicate key 'dtype'")
    raw = b'{"__metadata__": {"format": "pt", "format": "np"}}'
    _refused(_st(raw), ValueError, match="duplicate key 'format'")
    # the structure entry's own JSON too
    meta = '{"fastgrad.structure": "{\\"D\\": [], \\"D\\": []}"}'
    _refused(_st(('{"__metadata__": %s}' % meta).encode()), ValueError, match="duplicate key 'D'")


# --------------------------------------------------------------------------- torch-style zip archives
from test_torch_archive import _Pickler, _Rebuild, _Stor  # noqa: E402  (the pickle pieces of torch's archives)


def _dump(obj):
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _v2(torch, key, numel, size, stride, offset=0, cls=None):
    stor = _Stor(cls or torch.FloatStorage, key, "cpu", numel)
    return _Rebuild(torch._utils._rebuild_tensor_v2, (stor, offset, size, stride, False, collections.OrderedDict()))


def _zip(entries, compress=zipfile.ZIP_STORED):
    """entries: (name or ZipInfo, bytes) written in order (duplicates allowed)."""
    buf = io.BytesIO()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names
        with zipfile.ZipFile(buf, "w", compress) as z:
            for name, raw in entries:
                z.writestr(name, raw)
    return buf.getvalue()


def _archive(torch, obj, records, compress=zipfile.ZIP_STORED):
    return _zip([("archive/data.pkl", _dump(obj)), ("archive/byteorder", b"little")]
                + [("archive/data/" + k, v) for k, v in records] + [("archive/version", b"3\n")], compress)


def test_huge_sizes_in_an_archive(torch):
    one = [("0", b"\0\0\0\0")]
    # a stride-0 view of 2**40 elements over one float: torch loads it as an expanded view, so does fastgrad
    # (no allocation: the peak stays that of a tiny file)
    t = _load(_archive(torch, _v2(torch, "0", 1, (2 ** 40,), (0,)), one))
    assert tuple(t.shape) == (2 ** 40,)
    for size, stride in [((2 ** 40, 2 ** 40), (0, 0)), ((2 ** 62, 2 ** 62, 0), (0, 0, 0)), ((2 ** 62, 2), (0, 0))]:
        data = _archive(torch, _v2(torch, "0", 1, size, stride), one)
        with pytest.raises(RuntimeError) as te:
            torch.load(io.BytesIO(data))
        e = _refused(data, RuntimeError)
        assert str(e) == str(te.value)  # "numel: integer multiplication overflow"
    # torch accepts these (its numel fits int64) but numpy cannot represent them: a clear ValueError
    for size, stride in [((2 ** 61,), (0,)), ((2 ** 62, 2, 0), (0, 0, 0))]:
        data = _archive(torch, _v2(torch, "0", 1, size, stride), one)
        _refused(data, ValueError, match="cannot be represented")
    # a dimension past int64 (torch: TypeError from its argument parser)
    data = _archive(torch, _v2(torch, "0", 1, (2 ** 64,), (0,)), one)
    with pytest.raises(TypeError):
        torch.load(io.BytesIO(data))
    _refused(data, ValueError, match="invalid tensor size")
    # the storage's numel claims more than its record holds
    data = _archive(torch, _v2(torch, "0", 2 ** 40, (2,), (1,)), one)
    with pytest.raises(RuntimeError):
        torch.load(io.BytesIO(data))
    _refused(data, ValueError, match="record archive/data/0 has 4 bytes")
    # negative numel / offset / size
    for args in [dict(numel=-1, size=(1,), stride=(1,)), dict(numel=1, size=(1,), stride=(1,), offset=-1),
                 dict(numel=1, size=(-1,), stride=(1,)), dict(numel=1, size=(1,), stride=(1,), offset=2 ** 70)]:
        _refused(_archive(torch, _v2(torch, "0", **args), one), CLEAR)


def test_unknown_storage_class_and_dtype(torch):
    p = _dump(_v2(torch, "0", 1, (1,), (1,))).replace(b"FloatStorage", b"EvilyStorage")
    _refused(_raw_pickle_archive(p, [("archive/data/0", b"\0" * 4)]), pickle.UnpicklingError,
             match="Unsupported global: GLOBAL torch.EvilyStorage")
    stor = _Stor(torch.UntypedStorage, "0", "cpu", 4)
    for dt in (torch.float8_e5m2, torch.quint8):
        obj = _Rebuild(torch._utils._rebuild_tensor_v3, (stor, 0, (1,), (1,), False, collections.OrderedDict(), dt))
        _refused(_archive(torch, obj, [("0", b"\0" * 4)]), RuntimeError, match="fastgrad does not have|cannot load")
    obj = _Rebuild(torch._utils._rebuild_tensor_v3, (stor, 0, (1,), (1,), False, collections.OrderedDict(), "f4"))
    _refused(_archive(torch, obj, [("0", b"\0" * 4)]), ValueError, match="invalid tensor dtype")


def test_zip_bomb_record_is_refused_before_inflating(torch):
    n = 10 ** 7  # 40 MB of zeros: deflate keeps ~1/1000 of it
    obj = _v2(torch, "0", n, (n,), (1,))
    bomb = _archive(torch, obj, [("0", bytes(4 * n))], zipfile.ZIP_DEFLATED)
    assert len(bomb) < 4 * n / 500
    t = torch.load(io.BytesIO(bomb))  # torch inflates it (deflate's ratio is bounded: it is not a lie)
    assert t.numel() == n
    # a record whose directory claims far more than deflate can expand its compressed bytes to
    data = bytearray(_archive(torch, _v2(torch, "0", 2 ** 29, (2 ** 29,), (1,)), [("0", b"\0" * 4096)],
                              zipfile.ZIP_DEFLATED))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("archive/data/0")
    # rewrite the record's uncompressed size (central directory and local header) to 2 GiB
    _patch_size(data, info, 2 ** 31)
    _refused(bytes(data), ValueError, match="more than deflate expands to")
    # compression methods other than stored/deflate (torch's reader knows only these)
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        data = _archive(torch, _v2(torch, "0", 1, (1,), (1,)), [("0", b"\0" * 4)], method)
        _refused(data, ValueError, match="compression")


def _patch_size(data, info, size):
    """Set the uncompressed size of `info`'s record in both its local header and the central directory."""
    lh = info.header_offset
    assert data[lh:lh + 4] == b"PK\x03\x04"
    data[lh + 22:lh + 26] = size.to_bytes(4, "little") if size < 2 ** 32 else b"\xff\xff\xff\xff"
    start = 0
    while True:
        i = bytes(data).index(b"PK\x01\x02", start)
        name_len = int.from_bytes(data[i + 28:i + 30], "little")
        if data[i + 46:i + 46 + name_len] == info.filename.encode():
            data[i + 24:i + 28] = min(size, 2 ** 32 - 1).to_bytes(4, "little")
            return
        start = i + 4


def test_lying_record_sizes_are_clear_errors(torch):
    """The directory's sizes disagree with the record's real bytes: a clear ValueError, never zlib/EOF errors."""
    data = bytearray(_archive(torch, _v2(torch, "0", 1024, (1024,), (1,)), [("0", bytes(4096))],
                              zipfile.ZIP_DEFLATED))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("archive/data/0")
    good = bytes(data)
    for size in (4092, 4100):
        data = bytearray(good)
        _patch_size(data, info, size)
        _refused(bytes(data), ValueError)
    # corrupt compressed bytes
    data = bytearray(good)
    start = info.header_offset + 30 + len(info.filename)
    data[start:start + 4] = b"\xff\xff\xff\xff"
    _refused(bytes(data), ValueError)


def test_path_traversal_and_symlinks_inside_the_zip(torch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"SECRETSECRET")
    rel = os.path.relpath(secret, os.getcwd())
    for key in (rel, str(secret), "../" * 30 + str(secret).lstrip("/"), "../byteorder", "..", "0/../0", "a\\..\\b"):
        data = _archive(torch, _v2(torch, key, 3, (3,), (1,)), [("0", b"\0" * 12)])
        with pytest.raises(RuntimeError):
            torch.load(io.BytesIO(data))
        _refused(data, ValueError)
    # a record that is a symlink to a file outside the archive (or any symlink): refused, not followed
    link = zipfile.ZipInfo("archive/data/0")
    link.external_attr = 0o120777 << 16
    data = _zip([("archive/data.pkl", _dump(_v2(torch, "0", 3, (3,), (1,), cls=torch.ByteStorage))),
                 (link, str(secret).encode()), ("archive/version", b"3\n")])
    _refused(data, ValueError, match="symlink")
    # member names that climb out of the archive or are absolute
    for name in ("../archive/data/0", "/abs/data/0", "archive/../../x"):
        data = _zip([("archive/data.pkl", _dump(_v2(torch, "0", 1, (1,), (1,)))), ("archive/data/0", b"\0" * 4),
                     (name, b"x"), ("archive/version", b"3\n")])
        _refused(data, ValueError, match="member name")


def test_duplicate_zip_members_are_refused(torch):
    obj = _dump(_v2(torch, "0", 1, (1,), (1,)))
    for dup in ("archive/data/0", "archive/data.pkl"):
        entries = [("archive/data.pkl", obj), ("archive/data/0", b"\0" * 4), (dup, b"\1" * 4),
                   ("archive/version", b"3\n")]
        _refused(_zip(entries), ValueError, match="duplicate member")
