"""nn.Module and nn.Parameter: registration, iteration, modes, state dicts, hooks, reprs (vs PyTorch)."""
import copy
from collections import OrderedDict

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch, fg_repr

import fastgrad
from fastgrad import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2, bias=False)
        self.scale = nn.Parameter(fastgrad.ones(2))
        self.register_buffer("count", fastgrad.zeros(1))
        self.register_buffer("tmp", fastgrad.zeros(1), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_parameter_basics():
    p = nn.Parameter(fastgrad.ones(2, 3))
    assert isinstance(p, fastgrad.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(fastgrad.ones(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor([[1., 1., 1.],")
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    q.data.fill_(3.0)
    assert p.sum().item() == 6.0
    assert nn.Parameter().shape == (0,)


def test_parameter_repr_matches_torch(torch):
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert repr(nn.Parameter(fastgrad.tensor(data))) == fg_repr(torch.nn.Parameter(torch.tensor(data)))


def test_parameter_shares_storage():
    t = fastgrad.zeros(3)
    p = nn.Parameter(t)
    t._data[0] = 5
    assert p[0].item() == 5


def test_registration_and_iteration():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in net.named_buffers()] == ["count", "tmp"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [n for n, _ in net.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert len(list(net.parameters())) == 4 and len(list(net.modules())) == 4
    assert set(dir(net)) >= {"fc1", "scale", "count", "forward"}


def test_no_duplicates_with_shared_module():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_modules())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4


def test_setattr_rules():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' as parameter 'scale'"):
        net.scale = fastgrad.ones(2)
    net.scale = None
    assert net.scale is None and "scale" in net._parameters
    with pytest.raises(TypeError, match="as child module 'fc1'"):
        net.fc1 = 3
    net.count = fastgrad.ones(1)
    assert net._buffers["count"].item() == 1
    with pytest.raises(TypeError, match="as buffer 'count'"):
        net.count = 3
    with pytest.raises(KeyError, match="attribute 'fc1' already exists"):
        net.register_buffer("fc1", fastgrad.ones(1))
    with pytest.raises(KeyError, match='contain'):
        net.register_parameter("a.b", None)
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope
    del net.fc1
    assert "fc1" not in net._modules

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(fastgrad.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()


def test_train_eval_zero_grad_requires_grad_apply():
    net = Net()
    assert net.training and net.eval() is net and not net.fc1.training
    assert net.train() is net and net.fc2.training
    with pytest.raises(ValueError):
        net.train("yes")
    net(fastgrad.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]


def test_to_double_float():
    net = Net()
    p = net.fc1.weight
    assert net.double() is net
    assert net.fc1.weight is p and p.dtype == fastgrad.float64 and net.count.dtype == fastgrad.float64
    assert net(fastgrad.randn(2, 4, dtype=fastgrad.float64)).dtype == fastgrad.float64
    net.to(fastgrad.float32)
    assert p.dtype == fastgrad.float32
    assert net.to("cpu") is net
    with pytest.raises(RuntimeError):
        net.to("cuda")
    with pytest.raises(TypeError, match="floating point"):
        net.to(fastgrad.int64)


def test_state_dict_round_trip():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == ["scale", "count", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert isinstance(sd, OrderedDict) and not sd["fc1.weight"].requires_grad
    assert a.state_dict(keep_vars=True)["fc1.weight"] is a.fc1.weight
    result = b.load_state_dict(sd)
    assert repr(result) == "<All keys matched successfully>"
    for k in sd:
        assert_close(b.state_dict()[k], sd[k])
    sd["fc1.weight"]._data[0, 0] = 123.0  # state dict tensors share storage (like PyTorch)
    assert a.fc1.weight[0, 0].item() == 123.0


def test_load_state_dict_errors_match_torch(torch):
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["extra"] = fastgrad.ones(1)
    sd["fc2.weight"] = fastgrad.ones(5, 5)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "fc1.bias". ' in msg
    assert 'Unexpected key(s) in state_dict: "extra". ' in msg
    assert ("size mismatch for fc2.weight: copying a param with shape fastgrad.Size([5, 5]) from checkpoint, "
            "the shape in current model is fastgrad.Size([2, 3]).") in msg
    del sd["fc2.weight"]
    res = net.load_state_dict(sd, strict=False)  # reported, not raised (like PyTorch)
    assert res.missing_keys == ["fc1.bias", "fc2.weight"] and res.unexpected_keys == ["extra"]

    tl = torch.nn.Linear(2, 2)
    fl = nn.Linear(2, 2)
    t_sd = {"weight": torch.ones(2, 2), "bogus": torch.ones(1)}
    f_sd = {"weight": fastgrad.ones(2, 2), "bogus": fastgrad.ones(1)}
    with pytest.raises(RuntimeError) as t_err:
        tl.load_state_dict(t_sd)
    with pytest.raises(RuntimeError) as f_err:
        fl.load_state_dict(f_sd)
    assert str(f_err.value) == str(t_err.value)
    t_res = tl.load_state_dict(t_sd, strict=False)
    f_res = fl.load_state_dict(f_sd, strict=False)
    assert (f_res.missing_keys, f_res.unexpected_keys) == (t_res.missing_keys, t_res.unexpected_keys)


def test_load_state_dict_assign():
    net = nn.Linear(2, 2)
    w = nn.Parameter(fastgrad.ones(2, 2))
    net.load_state_dict({"weight": w, "bias": fastgrad.zeros(2)}, assign=True)
    assert net.weight is w and isinstance(net.bias, nn.Parameter)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out) or out + 1)
    out = lin(fastgrad.ones(1, 2))
    assert_close(out, lin.bias.detach().reshape(1, 2) + 1)
    assert len(calls) == 1
    h1.remove()
    h2.remove()
    assert_close(lin(fastgrad.zeros(1, 2)), lin.bias.detach().reshape(1, 2))
    with lin.register_forward_pre_hook(lambda m, a, kw: ((a[0] + 1,), kw), with_kwargs=True):
        assert_close(lin(fastgrad.zeros(1, 2)), nn.functional.linear(fastgrad.ones(1, 2), lin.weight, lin.bias))


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


def test_repr_matches_torch(torch):
    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 3)
            self.block = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 2, bias=False),
                                             torch.nn.Sequential(torch.nn.Tanh()))
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.Sigmoid()])
            self.d = torch.nn.ModuleDict({"a": torch.nn.Identity(), "b": torch.nn.Flatten(0, 1)})

    class FNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 3)
            self.block = nn.Sequential(nn.ReLU(), nn.Linear(3, 2, bias=False), nn.Sequential(nn.Tanh()))
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Sigmoid()])
            self.d = nn.ModuleDict({"a": nn.Identity(), "b": nn.Flatten(0, 1)})

    FNet.__name__ = TNet.__name__ = "Net"
    assert repr(FNet()) == repr(TNet())
    assert repr(nn.Module()) == "Module()"


def test_same_outputs_and_grads_as_torch(torch):
    fnet = Net()
    tnet = torch.nn.Module()
    tnet.register_buffer("count", torch.zeros(1))
    tnet.register_buffer("tmp", torch.zeros(1), persistent=False)
    tnet.fc1, tnet.act, tnet.fc2 = torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2, bias=False)
    tnet.scale = torch.nn.Parameter(torch.ones(2))
    copy_to_torch(torch, fnet, tnet)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    fo = fnet(fastgrad.tensor(x))
    to = tnet.fc2(tnet.act(tnet.fc1(torch.tensor(x)))) * tnet.scale
    assert_close(fo, to)
    fo.pow(2).sum().backward()
    to.pow(2).sum().backward()
    for name, p in fnet.named_parameters():
        assert_close(p.grad, tnet.get_parameter(name).grad)


def test_get_submodule_and_parameter():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 1)))
    assert net.get_submodule("1.0") is net[1][0]
    assert net.get_parameter("1.0.bias") is net[1][0].bias
    with pytest.raises(AttributeError):
        net.get_submodule("1.5")


def test_get_buffer_errors_match_torch(torch):
    f, t = nn.Sequential(nn.BatchNorm1d(2)), torch.nn.Sequential(torch.nn.BatchNorm1d(2))
    for target in ("0.nope", "0.weight"):
        with pytest.raises(AttributeError) as t_err:
            t.get_buffer(target)
        with pytest.raises(AttributeError) as f_err:
            f.get_buffer(target)
        assert str(f_err.value) == str(t_err.value)
    assert f.get_buffer("0.running_mean") is f[0].running_mean


def test_state_dict_metadata_and_batchnorm_version(torch):
    """state_dict() carries PyTorch's _metadata (module versions); BatchNorm fills a missing
    num_batches_tracked only for unversioned state dicts, exactly like PyTorch."""
    f = nn.Sequential(nn.Linear(1, 1), nn.BatchNorm1d(1))
    t = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.BatchNorm1d(1))
    fsd, tsd = f.state_dict(), t.state_dict()
    assert dict(fsd._metadata) == dict(tsd._metadata) == {"": {"version": 1}, "0": {"version": 1},
                                                          "1": {"version": 2}}
    assert copy.deepcopy(fsd)._metadata == fsd._metadata
    del fsd["1.num_batches_tracked"], tsd["1.num_batches_tracked"]
    with pytest.raises(RuntimeError) as t_err:
        t.load_state_dict(tsd)
    with pytest.raises(RuntimeError) as f_err:
        f.load_state_dict(fsd)
    assert str(f_err.value) == str(t_err.value)
    assert '"1.num_batches_tracked"' in str(f_err.value)
    # a plain dict has no version: the missing counter is tolerated (PyTorch's backward compatibility)
    f_plain = {k: v for k, v in fsd.items()}
    t_plain = {k: v for k, v in tsd.items()}
    f_res, t_res = f.load_state_dict(f_plain), t.load_state_dict(t_plain)
    assert (f_res.missing_keys, f_res.unexpected_keys) == (t_res.missing_keys, t_res.unexpected_keys) == ([], [])
    fs = nn.Sequential(nn.Linear(1, 1), nn.BatchNorm1d(1))
    ts = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.BatchNorm1d(1))
    f_sd = {"0.weight": fastgrad.ones(1, 1), "1.foo": fastgrad.ones(1), "2.x": fastgrad.ones(1)}
    t_sd = {"0.weight": torch.ones(1, 1), "1.foo": torch.ones(1), "2.x": torch.ones(1)}
    with pytest.raises(RuntimeError) as t_err:
        ts.load_state_dict(t_sd)
    with pytest.raises(RuntimeError) as f_err:
        fs.load_state_dict(f_sd)
    assert str(f_err.value) == str(t_err.value)


def test_setattr_and_registration_errors_match_torch(torch):
    def cases(lib):
        m = lib.nn
        yield lambda: setattr(m.Linear(2, 3), "weight", lib.ones(2))
        yield lambda: setattr(m.Linear(2, 3), "weight", m.ReLU()) or m.Linear(2, 3).weight
        yield lambda: m.Module().register_buffer("a.b", lib.ones(1))
        yield lambda: m.Module().register_buffer("", lib.ones(1))
        yield lambda: m.Module().register_parameter("x", m.Parameter(lib.ones(1)) * 2)
        yield lambda: m.Linear(2, 3).foo
        yield lambda: m.Linear(2, 3).train("x")
        yield lambda: m.Linear(2, 3).to(lib.int64)
        yield lambda: m.Linear(2, 3).load_state_dict([])
        yield lambda: m.Module()(1)
        yield lambda: m.Sequential(m.Linear(2, 3)).get_submodule("0.x")
        yield lambda: m.Sequential(m.Linear(2, 3)).get_parameter("0.x")
        yield lambda: m.Linear(2, 3)(lib.ones(4, 5))
        yield lambda: m.Linear(2, 3)(lib.ones(4, 2, dtype=lib.float64))

    for f_case, t_case in zip(cases(fastgrad), cases(torch)):
        with pytest.raises(Exception) as t_err:
            t_case()
        with pytest.raises(Exception) as f_err:
            f_case()
        assert type(f_err.value) is type(t_err.value)
        assert str(f_err.value).replace("fastgrad", "torch") == str(t_err.value), str(t_err.value)


def test_attribute_lookup_matches_torch(torch):
    """`module.name` for registered names (served by engine.ModuleSlot on the class, issue 6)
    after the mutations users make: same values and same errors as PyTorch."""
    def cases(lib):
        m = lib.nn
        lin = m.Linear(2, 3)
        yield lambda: type(lin.weight).__name__
        yield lambda: m.Linear.weight
        yield lambda: hasattr(m.Linear, "bias")
        yield lambda: getattr(m.Linear, "weight", "absent")
        del lin.weight
        yield lambda: lin.weight
        yield lambda: ("weight" in dir(lin), "bias" in dir(lin))
        yield lambda: type(m.Linear(2, 3).weight).__name__  # other instances keep theirs
        lin.weight = lib.ones(2)  # a plain attribute now
        yield lambda: (type(lin.weight).__name__, "weight" in lin._parameters, lin.weight.tolist())
        lin.bias = None
        yield lambda: lin.bias
        lin._parameters["extra"] = m.Parameter(lib.ones(1))  # bypasses registration
        yield lambda: lin.extra.tolist()
        lin.register_buffer("running", lib.zeros(2))
        yield lambda: lin.running.tolist()
        lin.running = None
        yield lambda: lin.running
        yield lambda: m.Linear(2, 3).running
        bare = m.Module()
        bare.register_parameter("w", m.Parameter(lib.ones(1)))
        yield lambda: bare.w.tolist()
        yield lambda: m.Module().w
        yield lambda: m.ReLU().w
        yield lambda: m.Linear(2, 3).register_parameter("w", None)

        class WithProp(m.Module):
            @property
            def weight(self):
                return "prop"

        yield lambda: WithProp().register_parameter("weight", m.Parameter(lib.ones(1)))

        class Sub(m.Linear):
            pass

        sub = Sub(2, 3)
        yield lambda: (type(sub.weight).__name__, sub.weight.shape == (3, 2))
        yield lambda: copy.deepcopy(sub).bias.shape == (3,)
        seq = m.Sequential(m.Linear(2, 3))
        seq.add_module("head", m.Linear(3, 1))
        yield lambda: type(seq.head).__name__
        del seq.head
        yield lambda: seq.head

    for f_case, t_case in zip(cases(fastgrad), cases(torch)):
        try:
            want = ("ok", t_case())
        except Exception as e:
            want = (type(e).__name__, str(e))
        try:
            got = ("ok", f_case())
        except Exception as e:
            got = (type(e).__name__, str(e).replace("fastgrad", "torch"))
        assert got == want
