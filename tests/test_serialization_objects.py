"""fastgrad.save / fastgrad.load of whole objects (Modules, optimizers, any Python object holding
tensors), the weights-only allow list (safe_globals), and hostile pickles that must run no code."""
import collections
import dataclasses
import io
import json
import os
import pickle

import numpy as np
import pytest

import fastgrad
from fastgrad import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)
        self.note = "hello"

    def forward(self, x):
        return self.fc2(fastgrad.relu(self.bn(self.fc1(x))))


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


@dataclasses.dataclass
class Record:
    name: str
    weights: object
    extra: dict


def _buf(obj, **save_kwargs):
    b = io.BytesIO()
    fastgrad.save(obj, b, **save_kwargs)
    b.seek(0)
    return b


def _header(b):
    data = b.getvalue()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n])


def test_module_round_trip_weights_only_false():
    fastgrad.manual_seed(0)
    net = Net()
    x = fastgrad.randn(5, 4)
    net(x)  # running stats move
    net.eval()
    b = _buf(net)
    out = fastgrad.load(b, weights_only=False)
    assert type(out) is Net and out.note == "hello" and not out.training and not out.bn.training
    assert isinstance(out.fc1.weight, nn.Parameter) and out.fc1.weight.requires_grad
    for (k, v), (k2, v2) in zip(net.state_dict().items(), out.state_dict().items()):
        assert k == k2 and np.array_equal(v.numpy(), v2.numpy())
    np.testing.assert_array_equal(out(x).detach().numpy(), net(x).detach().numpy())
    out(x).sum().backward()
    assert out.fc1.weight.grad is not None


def test_tensors_are_stored_as_raw_arrays_not_inside_the_pickle():
    big = nn.Linear(500, 500)
    b = _buf(big)
    header = _header(b)
    pick = header["fastgrad.pickle"]
    assert pick["dtype"] == "U8"
    pickle_bytes = pick["data_offsets"][1] - pick["data_offsets"][0]
    assert pickle_bytes < 4000  # the 1 MB of weights is not in the pickle
    stored = [v for k, v in header.items() if k not in ("__metadata__", "fastgrad.pickle")]
    assert sorted(e["shape"] for e in stored) == [[500], [500, 500]]
    assert len(b.getvalue()) < 501 * 500 * 4 + 6000


def test_model_and_optimizer_round_trip_and_keep_training_identically():
    fastgrad.manual_seed(1)
    net = Net()
    opt = optim.Adam(net.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x, y = fastgrad.randn(8, 4), fastgrad.randn(8, 3)
    for _ in range(3):
        opt.zero_grad()
        ((net(x) - y) ** 2).mean().backward()
        opt.step()
        sched.step()
    ck = _buf({"model": net, "opt": opt, "sched": sched, "epoch": 3})
    ck = fastgrad.load(ck, weights_only=False)
    net2, opt2, sched2 = ck["model"], ck["opt"], ck["sched"]
    assert ck["epoch"] == 3 and type(opt2) is optim.Adam
    # the optimizer's parameters are the loaded model's (one pickle: shared objects stay shared)
    assert all(p is q for p, q in zip(opt2.param_groups[0]["params"], net2.parameters()))
    assert sched2.optimizer is opt2 and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for a, b in ((net, opt), (net2, opt2)):
        for _ in range(2):
            b.zero_grad()
            ((a(x) - y) ** 2).mean().backward()
            b.step()
    for p, q in zip(net.parameters(), net2.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_arbitrary_objects_with_tensors():
    t = fastgrad.arange(6.0).reshape(2, 3)
    rec = Record("r", [t, t, fastgrad.ones(2, dtype=fastgrad.int64)], {"pt": Point(1, t), "s": {1, 2}})
    out = fastgrad.load(_buf(rec), weights_only=False)
    assert type(out) is Record and out.name == "r"
    assert out.weights[0] is out.weights[1]  # one tensor saved twice is one tensor
    assert np.array_equal(out.weights[0].numpy(), t.numpy()) and out.weights[2].dtype == fastgrad.int64
    assert out.extra["s"] == {1, 2} and out.extra["pt"].y is out.weights[0]
    arr = np.arange(4.0)
    assert np.array_equal(fastgrad.load(_buf({"a": arr, "p": Point(arr, 1)}), weights_only=False)["p"].x, arr)


def test_weights_only_refuses_a_module_with_torchs_message(torch, tmp_path):
    class_path = "%s.%s" % (Net.__module__, Net.__qualname__)

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

    TNet.__qualname__ = "TNet"  # a module-level name, so pickle finds it
    globals()["TNet"] = TNet
    try:
        p = tmp_path / "t.pt"
        torch.save(TNet(), p)
        with pytest.raises(pickle.UnpicklingError) as te:
            torch.load(p)
    finally:
        del globals()["TNet"]
    with pytest.raises(pickle.UnpicklingError) as fe:
        fastgrad.load(_buf(Net()))
    want = str(te.value).replace("%s.TNet" % Net.__module__, class_path)
    want = want.replace("torch.serialization.", "fastgrad.serialization.").replace("`torch.load`", "`fastgrad.load`")
    want = want.replace("documentation of torch.load", "documentation of fastgrad.load")
    assert str(fe.value) == want
    assert str(fe.value).startswith("Weights only load failed. This file can still be loaded")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        fastgrad.load(_buf(Net()), weights_only=True)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _EvilSystem:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ("touch " + self.path,))


@pytest.mark.parametrize("cls", [_Evil, _EvilSystem])
def test_malicious_reduce_runs_no_code(tmp_path, cls):
    target = str(tmp_path / "pwned")
    b = _buf({"weights": fastgrad.ones(2), "payload": cls(target)})
    with pytest.raises(pickle.UnpicklingError, match="^Weights only load failed") as e:
        fastgrad.load(b)
    assert "GLOBAL " in str(e.value) and not os.path.exists(target)
    b.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        fastgrad.load(b, map_location="cpu", weights_only=True, mmap=True)
    assert not os.path.exists(target)
    b.seek(0)
    fastgrad.load(b, weights_only=False)  # the payload is real: trusting the file runs it
    assert os.path.exists(target)


def _with_pickle(payload, tensors=None):
    """A fastgrad file whose pickle entry is `payload` (hand-written opcodes)."""
    from fastgrad import serialization as S

    arrays = dict(tensors or {})
    arrays["fastgrad.pickle"] = np.frombuffer(payload, np.uint8)
    return io.BytesIO(S._to_bytes(arrays, {"format": "pt", "fastgrad.pickle": "fastgrad.pickle"}))


def test_hand_written_hostile_pickles_are_refused(tmp_path):
    target = str(tmp_path / "pwned2")
    cases = [
        # GLOBAL builtins.exec, REDUCE
        b"\x80\x02cbuiltins\nexec\nq\x00X\x15\x00\x00\x00open('/dev/null','r')q\x01\x85q\x02Rq\x03.",
        # STACK_GLOBAL os.system
        b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R.",
        # INST (protocol 0 instantiation)
        b"(S'touch " + target.encode() + b"'\nios\nsystem\n.",
        # BUILD on a tensor from the tensor section: sets attributes of an object that is not allow-listed
        b"\x80\x02(X\x01\x00\x00\x00Tq\x00X\x01\x00\x00\x00aq\x01\x89\x89tQ}X\x05\x00\x00\x00_dataK\x01sb.",
        # SETITEM on a tensor
        b"\x80\x02(X\x01\x00\x00\x00TX\x01\x00\x00\x00a\x89\x89tQK\x00K\x01s.",
        # a persistent id naming no tensor
        b"\x80\x02(X\x01\x00\x00\x00TX\x01\x00\x00\x00z\x89\x89tQ.",
        # an opcode pickle has not got
        b"\x80\x02\xff.",
    ]
    for payload in cases:
        with pytest.raises(pickle.UnpicklingError, match="^Weights only load failed"):
            fastgrad.load(_with_pickle(payload, {"a": np.ones(2, np.float32)}))
    assert not os.path.exists(target)


def test_safe_globals_api_matches_torch(torch):
    for L in (torch, fastgrad):
        L.serialization.clear_safe_globals()
        assert L.serialization.get_safe_globals() == []
        L.serialization.add_safe_globals([Point])
        assert L.serialization.get_safe_globals() == [Point]
        with L.serialization.safe_globals([Record, (Net, "some.path.Net")]):
            assert set(map(repr, L.serialization.get_safe_globals())) == {repr(Point), repr(Record),
                                                                         repr((Net, "some.path.Net"))}
        assert L.serialization.get_safe_globals() == [Point]
        L.serialization.clear_safe_globals()
        assert L.serialization.get_safe_globals() == []


def test_safe_globals_allow_a_class():
    obj = {"p": Point(fastgrad.ones(2), 3)}
    b = _buf(obj)
    with pytest.raises(pickle.UnpicklingError, match="add_safe_globals"):
        fastgrad.load(b)
    try:
        with fastgrad.serialization.safe_globals([Point]):
            b.seek(0)
            out = fastgrad.load(b)
        assert type(out["p"]) is Point and out["p"].y == 3 and out["p"].x.tolist() == [1.0, 1.0]
        b.seek(0)
        with pytest.raises(pickle.UnpicklingError):
            fastgrad.load(b)  # the block is over
        fastgrad.serialization.add_safe_globals([(Point, "%s.Point" % __name__)])
        b.seek(0)
        assert type(fastgrad.load(b)["p"]) is Point
    finally:
        fastgrad.serialization.clear_safe_globals()


def test_weights_only_loads_allowlisted_pickles():
    t = fastgrad.ones(2, 3, requires_grad=True)
    obj = {"od": collections.OrderedDict(a=t), "s": {1, 2}, "c": collections.Counter("aab"), "z": 1 + 2j,
           "b": b"raw", "size": fastgrad.Size([2, 3]), "dt": fastgrad.float64, "dev": fastgrad.device("cpu"),
           "p": nn.Parameter(fastgrad.zeros(2)), "sp": fastgrad.tensor([[0.0, 1.0], [2.0, 0.0]]).to_sparse()}
    b = _buf(obj)
    assert "fastgrad.pickle" in _header(b)  # a set needs the pickle
    out = fastgrad.load(b)
    assert type(out["od"]) is collections.OrderedDict and out["od"]["a"].requires_grad
    assert out["s"] == {1, 2} and out["c"] == collections.Counter("aab") and out["z"] == 1 + 2j
    assert out["b"] == b"raw" and out["size"] == (2, 3) and isinstance(out["size"], fastgrad.Size)
    assert out["dt"] is fastgrad.float64 and out["dev"] == fastgrad.device("cpu")
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    assert out["sp"].is_sparse and out["sp"].to_dense().tolist() == [[0.0, 1.0], [2.0, 0.0]]


def test_state_dicts_keep_the_plain_format():
    net = Net()
    for obj in (net.state_dict(), optim.SGD(net.parameters(), lr=0.1, momentum=0.9).state_dict(),
                {"model": net.state_dict(), "epoch": 2}, fastgrad.ones(3)):
        b = _buf(obj)
        meta = _header(b)["__metadata__"]
        assert "fastgrad.pickle" not in meta and "fastgrad.structure" in meta


def test_load_arguments():
    b = _buf({"p": Point(1, 2)})
    for kw in ({"map_location": "cpu"}, {"map_location": lambda s, loc: s}, {"map_location": {"cuda:0": "cpu"}},
               {"mmap": True}, {"map_location": fastgrad.device("cpu"), "mmap": False}):
        b.seek(0)
        assert fastgrad.load(b, weights_only=False, **kw)["p"].y == 2
    b.seek(0)
    assert fastgrad.load(b, pickle_module=pickle)["p"].x == 1  # an explicit pickle_module: weights_only=False
    b.seek(0)
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module is specified"):
        fastgrad.load(b, pickle_module=pickle, weights_only=True)
    b = _buf({"p": Point(1, 2)}, pickle_module=pickle, pickle_protocol=2)
    assert fastgrad.load(b, weights_only=False)["p"].x == 1


def test_whole_module_to_a_path(tmp_path):
    net = Net()
    path = tmp_path / "model.pt"
    fastgrad.save(net, path)
    out = fastgrad.load(path, weights_only=False)
    assert type(out) is Net
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL %s.Net was not an allowed global" % __name__):
        fastgrad.load(path)
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL fastgrad.nn.modules.linear.Linear was not an allowed"):
        with fastgrad.serialization.safe_globals([Net]):
            fastgrad.load(path)
    # as in PyTorch, allowing the module classes is enough for a weights-only load of a whole Module
    with fastgrad.serialization.safe_globals([Net, nn.Linear, nn.BatchNorm1d]):
        out = fastgrad.load(path)
    assert type(out) is Net and np.array_equal(out.fc2.bias.detach().numpy(), net.fc2.bias.detach().numpy())
    assert fastgrad.serialization.get_safe_globals() == []
