"""fastgrad/_torch_archive.py: fastgrad.load reads the checkpoints torch.save writes (zip archives).

Files are written by torch itself (or, for malformed / unusual ones, assembled here the way
torch.serialization does) and loaded by both libraries; values, dtypes, shapes, storage sharing and
errors are compared."""
import collections
import io
import pickle
import zipfile

import numpy as np
import pytest

import fastgrad
from fastgrad import nn


def _save(torch, obj, path=None):
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


def _np(t):
    return t.detach().numpy()


def _load_both(torch, data, **kw):
    return fastgrad.load(io.BytesIO(data), **kw), torch.load(io.BytesIO(data), **kw)


def test_tensors_of_every_dtype_views_and_sharing(torch):
    base = torch.arange(24.0).reshape(4, 6)
    obj = {
        "f32": torch.randn(3, 4), "f64": torch.randn(2, dtype=torch.float64), "f16": torch.randn(5).half(),
        "i64": torch.arange(5), "i32": torch.arange(5, dtype=torch.int32), "i16": torch.arange(3, dtype=torch.int16),
        "i8": torch.arange(-3, 3, dtype=torch.int8), "u8": torch.arange(4, dtype=torch.uint8),
        "u16": torch.tensor([0, 65535], dtype=torch.uint16), "u32": torch.tensor([1, 2 ** 32 - 1], dtype=torch.uint32),
        "u64": torch.tensor([2 ** 64 - 1, 5], dtype=torch.uint64),
        "bool": torch.tensor([True, False, True]), "c64": torch.randn(3, dtype=torch.complex64),
        "c128": torch.randn(2, 2, dtype=torch.complex128), "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3),
        "base": base, "t": base.t(), "slice": base[1:, 2::2], "expanded": torch.ones(1, 3).expand(4, 3),
        "grad": torch.ones(2, requires_grad=True), "param": torch.nn.Parameter(torch.randn(2, 2)),
        "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False),
        "nested": [(torch.ones(1), {"x": torch.zeros(2)})], "size": torch.Size([2, 3]), "dtype": torch.float16,
        "device": torch.device("cpu"), "plain": (1, 2.5, "s", None, b"by", {1, 2}, complex(1, 2)),
    }
    f, t = _load_both(torch, _save(torch, obj))
    assert f.keys() == t.keys()
    for k in obj:
        if isinstance(t[k], torch.Tensor):
            assert type(f[k]) is (nn.Parameter if isinstance(t[k], torch.nn.Parameter) else fastgrad.Tensor), k
            assert str(f[k].dtype).split(".")[1] == str(t[k].dtype).split(".")[1], k
            assert tuple(f[k].shape) == tuple(t[k].shape) and f[k].requires_grad == t[k].requires_grad, k
            np.testing.assert_array_equal(_np(f[k]), _np(t[k]))
    assert f["size"] == fastgrad.Size([2, 3]) and isinstance(f["size"], fastgrad.Size)
    assert f["dtype"] is fastgrad.float16 and f["device"] == fastgrad.device("cpu")
    assert f["plain"] == t["plain"]
    np.testing.assert_array_equal(_np(f["nested"][0][1]["x"]), np.zeros(2, np.float32))
    # tensors sharing a storage in torch share memory in fastgrad
    with fastgrad.no_grad():
        f["base"][1, 2] = -1.0
    t["base"][1, 2] = -1.0
    for k in ("t", "slice"):
        np.testing.assert_array_equal(_np(f[k]), _np(t[k]))


def test_same_object_twice_is_one_object(torch):
    a = torch.randn(3)
    f, _ = _load_both(torch, _save(torch, [a, a, a[1:]]))
    assert f[0] is f[1]
    with fastgrad.no_grad():
        f[0][2] = 7.0
    assert f[2][1].item() == 7.0


class _Model:
    """makemore's model types in small: the modules and parameter names their state_dicts use."""

    @staticmethod
    def build(lib):
        m = lib.nn.ModuleDict(dict(
            wte=lib.nn.Embedding(27, 8), ln=lib.nn.LayerNorm(8), fc=lib.nn.Linear(8, 16),
            head=lib.nn.Linear(16, 27, bias=False)))
        m.register_buffer("bias", lib.tril(lib.ones(4, 4)).view(1, 1, 4, 4))
        m.start = lib.nn.Parameter(lib.zeros(1, 8))
        return m

    @staticmethod
    def run(m, lib, idx):
        x = m["wte"](idx) + m.start
        return m["head"](lib.tanh(m["fc"](m["ln"](x))))


def test_state_dict_from_torch_into_fastgrad_modules(torch, tmp_path):
    """makemore --resume / --sample-only with a model.pt torch wrote."""
    torch.manual_seed(0)
    tm = _Model.build(torch)
    _save(torch, tm.state_dict(), tmp_path / "model.pt")
    sd = fastgrad.load(tmp_path / "model.pt")
    assert list(sd) == list(tm.state_dict()) and sd._metadata == tm.state_dict()._metadata
    fm = _Model.build(fastgrad)
    assert fm.load_state_dict(sd) is not None
    idx = np.random.default_rng(0).integers(0, 27, (5, 4))
    np.testing.assert_allclose(_np(_Model.run(fm, fastgrad, fastgrad.tensor(idx))),
                               _np(_Model.run(tm, torch, torch.tensor(idx))), rtol=1e-5, atol=1e-6)
    # the loaded tensors are ordinary, writeable tensors: training goes on
    opt = fastgrad.optim.AdamW(fm.parameters(), lr=1e-2)
    _Model.run(fm, fastgrad, fastgrad.tensor(idx)).square().mean().backward()
    opt.step()
    assert not np.array_equal(_np(fm["fc"].weight), _np(tm["fc"].weight))


def test_optimizer_state_dict(torch):
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.AdamW([p], lr=0.1)
    p.sum().backward()
    opt.step()
    f, t = _load_both(torch, _save(torch, opt.state_dict()))
    assert f["param_groups"] == t["param_groups"]
    for k in ("exp_avg", "exp_avg_sq", "step"):
        np.testing.assert_array_equal(_np(f["state"][0][k]), _np(t["state"][0][k]))


class Config:  # a user's class: not on the weights-only allow list
    def __init__(self, n):
        self.n = n


def test_weights_only_refuses_other_globals_as_torch(torch):
    data = _save(torch, {"cfg": Config(3), "w": torch.ones(2)})
    with pytest.raises(pickle.UnpicklingError) as te:
        torch.load(io.BytesIO(data))
    with pytest.raises(pickle.UnpicklingError) as fe:
        fastgrad.load(io.BytesIO(data))
    for msg in (str(te.value), str(fe.value)):
        assert "Weights only load failed" in msg and "Unsupported global: GLOBAL test_torch_archive.Config" in msg
    with fastgrad.serialization.safe_globals([Config]):
        f = fastgrad.load(io.BytesIO(data))
    assert isinstance(f["cfg"], Config) and f["cfg"].n == 3
    f = fastgrad.load(io.BytesIO(data), weights_only=False)
    assert f["cfg"].n == 3 and np.array_equal(_np(f["w"]), np.ones(2, np.float32))


def test_whole_module_with_weights_only_false(torch):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.LayerNorm(2))
    data = _save(torch, tm)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        fastgrad.load(io.BytesIO(data))
    fm = fastgrad.load(io.BytesIO(data), weights_only=False)
    assert isinstance(fm, nn.Sequential) and isinstance(fm[0], nn.Linear) and repr(fm) == repr(tm)
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(_np(fm(fastgrad.tensor(x))), _np(tm(torch.tensor(x))), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- archives assembled here
class _Stor:
    def __init__(self, cls, key, location, numel):
        self.pid = ("storage", cls, key, location, numel)


class _Rebuild:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Stor) else None


def _archive(torch, obj, records, byteorder="little"):
    """A zip archive laid out as torch.serialization writes it (torch's own reader accepts it)."""
    pkl = io.BytesIO()
    _Pickler(pkl, protocol=2).dump(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl.getvalue())
        z.writestr("archive/byteorder", byteorder)
        for key, raw in records.items():
            z.writestr("archive/data/" + key, raw)
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def _tensor_v2(torch, stor, offset, size, stride):
    return _Rebuild(torch._utils._rebuild_tensor_v2, (stor, offset, size, stride, False, collections.OrderedDict()))


def test_big_endian_archive(torch):
    vals = np.array([1.5, -2.0, 3.25, 4.0], ">f4")
    obj = _tensor_v2(torch, _Stor(torch.FloatStorage, "0", "cpu", 4), 1, (3,), (1,))
    f, t = _load_both(torch, _archive(torch, obj, {"0": vals.tobytes()}, "big"))
    np.testing.assert_array_equal(_np(f), _np(t))
    np.testing.assert_array_equal(_np(f), np.array([-2.0, 3.25, 4.0], np.float32))


def test_cuda_storage_location(torch):
    data = _archive(torch, _tensor_v2(torch, _Stor(torch.FloatStorage, "0", "cuda:0", 2), 0, (2,), (1,)),
                    {"0": np.ones(2, np.float32).tobytes()})
    with pytest.raises(RuntimeError) as te:
        torch.load(io.BytesIO(data))
    with pytest.raises(RuntimeError) as fe:
        fastgrad.load(io.BytesIO(data))
    assert str(fe.value) == str(te.value)
    f, t = _load_both(torch, data, map_location="cpu")
    np.testing.assert_array_equal(_np(f), _np(t))


def test_untyped_storage_and_v3(torch):
    """torch 2.x pickles dtypes without a typed storage class (uint16, ...) as _rebuild_tensor_v3 on an
    UntypedStorage; the same path works for a dtype fastgrad has."""
    raw = np.array([1, -2, 3], np.int16).tobytes()
    obj = _Rebuild(torch._utils._rebuild_tensor_v3, (_Stor(torch.UntypedStorage, "0", "cpu", len(raw)), 0, (3,),
                                                      (1,), False, collections.OrderedDict(), torch.int16))
    f, t = _load_both(torch, _archive(torch, obj, {"0": raw}))
    assert f.dtype is fastgrad.int16
    np.testing.assert_array_equal(_np(f), _np(t))


def test_dtype_fastgrad_lacks(torch):
    data = _save(torch, {"u": torch.tensor([1, 2, 3], dtype=torch.float8_e4m3fn)})
    with pytest.raises(RuntimeError, match="dtype torch.float8_e4m3fn, which fastgrad does not have"):
        fastgrad.load(io.BytesIO(data))


@pytest.mark.parametrize("case", ["size", "stride", "offset", "record", "negative"])
def test_malformed_archives_are_refused_before_any_view(torch, case):
    stor = _Stor(torch.FloatStorage, "0", "cpu", 4)
    args = {"size": (0, (5,), (1,)), "stride": (0, (2,), (4,)), "offset": (4, (1,), (1,)), "record": (0, (4,), (1,)),
            "negative": (0, (2,), (-1,))}[case]
    raw = np.arange(4, dtype=np.float32).tobytes()
    if case == "record":
        raw = raw[:12]
    data = _archive(torch, _tensor_v2(torch, stor, *args), {"0": raw})
    with pytest.raises(Exception):
        torch.load(io.BytesIO(data))
    with pytest.raises(ValueError, match="not a valid fastgrad/safetensors file or PyTorch checkpoint"):
        fastgrad.load(io.BytesIO(data))


def test_not_a_checkpoint_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="no single <name>/data.pkl"):
        fastgrad.load(io.BytesIO(buf.getvalue()))


def test_fastgrad_files_still_load(tmp_path):
    sd = nn.Linear(3, 2).state_dict()
    fastgrad.save(sd, tmp_path / "m.pt")
    back = fastgrad.load(tmp_path / "m.pt")
    for k in sd:
        np.testing.assert_array_equal(_np(back[k]), _np(sd[k]))
