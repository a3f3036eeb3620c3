"""fastgrad.save / fastgrad.load: safetensors layout, nested state, PyTorch interchange, hostile files."""
import io
import json
import os
import pickle

import numpy as np
import pytest

import fastgrad
from fastgrad import nn, optim


def _round_trip(obj):
    buf = io.BytesIO()
    fastgrad.save(obj, buf)
    buf.seek(0)
    return fastgrad.load(buf)


def test_tensor_and_dtypes(tmp_path):
    for dt in (fastgrad.float32, fastgrad.float64, fastgrad.int64, fastgrad.int32, fastgrad.uint8, fastgrad.bool,
               fastgrad.float16, fastgrad.uint16, fastgrad.uint32, fastgrad.uint64):
        t = fastgrad.arange(6).reshape(2, 3).to(dt)
        out = _round_trip(t)
        assert out.dtype == dt and out.shape == (2, 3) and np.array_equal(out.numpy(), t.numpy())
    path = tmp_path / "t.safetensors"
    fastgrad.save(fastgrad.tensor(3.5, requires_grad=True), path)
    out = fastgrad.load(str(path))
    assert out.item() == 3.5 and out.requires_grad and out.dim() == 0
    out._data[...] = 1  # loaded arrays are writeable copies
    assert _round_trip(fastgrad.zeros(0, 3)).shape == (0, 3)


def test_module_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    model(fastgrad.randn(5, 4))
    path = os.path.join(tmp_path, "model.pt")
    fastgrad.save(model.state_dict(), path)
    sd = fastgrad.load(path)
    assert list(sd) == list(model.state_dict())
    other = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    other.load_state_dict(sd)
    for k, v in model.state_dict().items():
        assert np.array_equal(other.state_dict()[k].numpy(), v.numpy())
    assert other[1].num_batches_tracked.dtype == fastgrad.int64


def test_nested_structures_and_optimizer_state():
    p = nn.Parameter(fastgrad.randn(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = fastgrad.ones(3)
    opt.step()
    obj = {"epoch": 3, "loss": 0.25, "best": None, "name": "run", "flags": [True, False], "shape": (2, 3),
           "model": {"w": p}, "opt": opt.state_dict(), "arr": np.arange(3), 7: "int key", "inf": float("inf")}
    out = _round_trip(obj)
    assert out["epoch"] == 3 and out["loss"] == 0.25 and out["best"] is None and out["name"] == "run"
    assert out["flags"] == [True, False] and out["shape"] == (2, 3) and out[7] == "int key"
    assert out["inf"] == float("inf")
    assert isinstance(out["model"]["w"], nn.Parameter) and np.array_equal(out["model"]["w"].detach().numpy(), p.detach().numpy())
    assert isinstance(out["arr"], np.ndarray) and out["arr"].tolist() == [0, 1, 2]
    st = out["opt"]
    assert list(st["state"]) == [0] and st["param_groups"][0]["betas"] == (0.9, 0.999)
    assert np.array_equal(st["state"][0]["exp_avg"].numpy(), opt.state[p]["exp_avg"].numpy())
    shared = fastgrad.ones(2)
    out = _round_trip([shared, shared])
    assert out[0] is out[1]


def test_unsupported_objects():
    """What the plain format cannot hold is pickled (tests/test_serialization_objects.py): an
    unpicklable object fails as pickle (and PyTorch) fail; tuple keys round-trip, as in PyTorch."""
    with pytest.raises((AttributeError, pickle.PicklingError), match="pickle"):
        _round_trip({"f": lambda x: x})
    assert _round_trip({(1, 2): 3}) == {(1, 2): 3}


def test_file_is_safetensors_and_loads_in_torch(torch, tmp_path):
    lin = nn.Linear(3, 2)
    path = str(tmp_path / "linear.safetensors")
    fastgrad.save(lin.state_dict(), path)
    with open(path, "rb") as fh:
        data = fh.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    assert header["weight"]["dtype"] == "F32" and header["weight"]["shape"] == [2, 3]
    try:
        from safetensors.torch import load_file
    except ImportError:  # the same format read by hand
        sd = {k: torch.from_numpy(np.frombuffer(data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                                np.float32).reshape(v["shape"]).copy())
              for k, v in header.items() if k != "__metadata__"}
    else:
        sd = load_file(path)
    tl = torch.nn.Linear(3, 2)
    tl.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(tl(torch.tensor(x)).detach().numpy(), lin(fastgrad.tensor(x)).detach().numpy(),
                               rtol=1e-6)


def test_loads_files_written_by_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = str(tmp_path / "np.safetensors")
    st.save_file({"a": np.arange(4, dtype=np.float32), "b": np.eye(2, dtype=np.float64)}, path)
    out = fastgrad.load(path)
    assert out["a"].tolist() == [0, 1, 2, 3] and out["b"].dtype == fastgrad.float64


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/fastgrad_pwned",))


def _hostile_payloads():
    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    ok = len(header).to_bytes(8, "little") + header + b"\0" * 8
    yield "pickle", pickle.dumps(_Boom())
    yield "torch-zip", b"PK\x03\x04" + b"\0" * 64
    yield "empty", b""
    yield "huge-header-length", (2**62).to_bytes(8, "little") + b"{}"
    yield "not-json", (5).to_bytes(8, "little") + b"{{{{{"
    yield "not-object", (2).to_bytes(8, "little") + b"[]"
    yield "bad-dtype", ok.replace(b'"F32"', b'"X32"')
    yield "offsets-out-of-range", ok.replace(b"[0, 8]", b"[0, 99]")
    yield "size-mismatch", ok.replace(b"[2]", b"[3]")
    yield "negative-shape", ok.replace(b"[2]", b"[-2]")
    meta = json.dumps({"__metadata__": {"fastgrad.structure": '{"T": "missing"}'}}).encode()
    yield "structure-names-missing-tensor", len(meta).to_bytes(8, "little") + meta
    meta = json.dumps({"__metadata__": {"fastgrad.structure": '{"X": 1}'}}).encode()
    yield "bad-structure", len(meta).to_bytes(8, "little") + meta
    # a shape whose element count wraps to 0 in int64 must not pass the byte-count check
    yield "shape-overflow", ok.replace(b"[2]", b"[4294967296, 4294967296]").replace(b"[0, 8]", b"[0, 0]")
    yield "empty-but-huge-dim", ok.replace(b"[2]", b"[0, 4611686018427387904]").replace(b"[0, 8]", b"[0, 0]")
    deep = b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"
    yield "deeply-nested-header", len(deep).to_bytes(8, "little") + deep
    for name, struct in [("deeply-nested-structure", '{"L":[' * 5000 + "1" + "]}" * 5000),
                         ("unhashable-dict-key", '{"D": [[[1], 2]]}'), ("tensor-name-not-str", '{"T": [1]}')]:
        meta = json.dumps({"__metadata__": {"fastgrad.structure": struct}}).encode()
        yield name, len(meta).to_bytes(8, "little") + meta


@pytest.mark.parametrize("name,payload", list(_hostile_payloads()), ids=[n for n, _ in _hostile_payloads()])
def test_hostile_files_raise_and_never_execute(tmp_path, name, payload):
    if os.path.exists("/tmp/fastgrad_pwned"):
        os.remove("/tmp/fastgrad_pwned")
    path = tmp_path / "evil.pt"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="not a valid fastgrad/safetensors file"):
        fastgrad.load(path)
    assert not os.path.exists("/tmp/fastgrad_pwned")


def test_loads_a_torch_state_dict_written_by_safetensors(torch, tmp_path):
    st = pytest.importorskip("safetensors.torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tm.train()
    tm(torch.randn(8, 3))  # non-trivial running statistics and num_batches_tracked
    path = str(tmp_path / "torch.safetensors")
    st.save_file(tm.state_dict(), path)
    fm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    sd = fastgrad.load(path)
    assert sd["1.num_batches_tracked"].dtype == fastgrad.int64
    assert repr(fm.load_state_dict(sd)) == "<All keys matched successfully>"
    tm.eval()
    fm.eval()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(fm(fastgrad.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
