"""Lazy modules, UninitializedParameter / UninitializedBuffer and nn.Buffer against PyTorch:
reprs and state dicts before and after the first forward, materialization (shapes, dtypes,
init, cls_to_become), loading a state dict into a lazy module, outputs and gradients, errors."""
import copy

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch, fg_repr

import fastgrad
from fastgrad import nn
from fastgrad.nn.parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter, is_lazy

RNG = np.random.default_rng(0)


def _x(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _same_error(fg_call, th_call, exc):
    with pytest.raises(exc) as th_err:
        th_call()
    with pytest.raises(exc) as fg_err:
        fg_call()
    assert str(fg_err.value) == str(th_err.value).replace("torch.", "fastgrad.")


LAZY_CASES = [
    ("LazyLinear", (3,), {}, (4, 5), "Linear"),
    ("LazyLinear", (3,), dict(bias=False), (2, 6, 5), "Linear"),
    ("LazyConv1d", (4, 3), dict(stride=2, padding=1), (2, 3, 9), "Conv1d"),
    ("LazyConv1d", (4, 3), dict(groups=2, bias=False), (4, 9), "Conv1d"),
    ("LazyConv2d", (4, (3, 2)), dict(dilation=2), (2, 3, 7, 6), "Conv2d"),
    ("LazyConv3d", (4, 2), dict(padding=1, padding_mode="reflect"), (2, 3, 3, 4, 3), "Conv3d"),
    ("LazyConv3d", (2, 2), {}, (3, 3, 4, 3), "Conv3d"),
    ("LazyConvTranspose3d", (4, 2), dict(stride=2, output_padding=1, groups=2), (2, 2, 2, 3, 2),
     "ConvTranspose3d"),
    ("LazyBatchNorm1d", (), {}, (5, 3), "BatchNorm1d"),
    ("LazyBatchNorm1d", (), dict(affine=False, momentum=None), (5, 3, 4), "BatchNorm1d"),
    ("LazyBatchNorm2d", (), dict(track_running_stats=False), (2, 3, 4, 4), "BatchNorm2d"),
    ("LazyBatchNorm2d", (), dict(bias=False, eps=1e-3), (2, 3, 4, 4), "BatchNorm2d"),
    ("LazyBatchNorm3d", (), {}, (2, 3, 2, 3, 2), "BatchNorm3d"),
    ("LazyConvTranspose1d", (4, 3), dict(stride=2, output_padding=1), (2, 3, 5), "ConvTranspose1d"),
    ("LazyConvTranspose2d", (4, (2, 3)), dict(groups=3, bias=False), (3, 4, 5), "ConvTranspose2d"),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 5), "InstanceNorm1d"),
    ("LazyInstanceNorm2d", (), dict(affine=False, track_running_stats=False), (2, 3, 4, 4), "InstanceNorm2d"),
    ("LazyInstanceNorm3d", (), dict(momentum=None, bias=False), (2, 3, 2, 3, 2), "InstanceNorm3d"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,args,kw,shape,becomes", LAZY_CASES, ids=range(len(LAZY_CASES)))
def test_lazy_module_matches_torch(torch, name, args, kw, shape, becomes, dtype):
    fdt, tdt = (fastgrad.float32, torch.float32) if dtype == np.float32 else (fastgrad.float64, torch.float64)
    fm, tm = getattr(nn, name)(*args, **kw, dtype=fdt), getattr(torch.nn, name)(*args, **kw, dtype=tdt)
    assert repr(fm) == fg_repr(tm)
    assert fm.has_uninitialized_params() == tm.has_uninitialized_params()
    fsd, tsd = fm.state_dict(), tm.state_dict()
    assert list(fsd) == list(tsd)
    assert [repr(v) for v in fsd.values()] == [repr(v) for v in tsd.values()]
    assert [type(p).__name__ for p in fm.parameters()] == [type(p).__name__ for p in tm.parameters()]
    x = _x(*shape, dtype=dtype)
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    fy, ty = fm(fx), tm(tx)
    assert type(fm).__name__ == type(tm).__name__ == becomes
    assert type(fm) is getattr(nn, becomes)
    assert repr(fm) == fg_repr(tm)
    assert not fm.has_uninitialized_params() if hasattr(fm, "has_uninitialized_params") else True
    assert [(k, tuple(v.shape), str(v.dtype)) for k, v in fm.state_dict().items()] == [
        (k, tuple(v.shape), str(v.dtype).replace("torch.", "fastgrad.")) for k, v in tm.state_dict().items()]
    assert all(type(p) is Parameter for p in fm.parameters())
    assert all(type(b) is fastgrad.Tensor for b in fm.buffers())
    for k, v in tm.state_dict().items():  # the initialization is the module's own
        if k in ("running_mean", "running_var", "num_batches_tracked") or (k in ("weight", "bias") and "Norm" in name):
            assert_close(fm.state_dict()[k], v.numpy())
    # same parameters: same outputs and gradients from here on
    copy_to_torch(torch, fm, tm)
    fy, ty = fm(fx), tm(tx)
    assert_close(fy, ty, 1e-5, 1e-5)
    (fy * fy).sum().backward()
    (ty * ty).sum().backward()
    assert_close(fx.grad, tx.grad, 1e-4, 1e-4)
    for k, p in fm.named_parameters():
        assert_close(p.grad, tm.get_parameter(k).grad, 1e-4, 1e-4)


def test_lazy_linear_init_and_dtype():
    fastgrad.manual_seed(0)
    m = nn.LazyLinear(200)
    m(fastgrad.zeros(2, 300))
    bound = 1 / np.sqrt(300)
    w = m.weight.detach().numpy()
    assert w.shape == (200, 300) and np.abs(w).max() <= bound and abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    assert m.in_features == 300 and m.weight.requires_grad and m.bias.requires_grad
    m = nn.LazyLinear(2).double()  # the dtype of the uninitialized parameter is kept
    assert m.weight.dtype == fastgrad.float64
    assert m(fastgrad.zeros(1, 3, dtype=fastgrad.float64)).dtype == fastgrad.float64
    for conv in (lambda m: m.double(), lambda m: m.to(fastgrad.float64), lambda m: m.type(fastgrad.float64)):
        m = conv(nn.LazyBatchNorm1d())  # lazy buffers stay lazy through dtype conversions
        assert type(m.running_mean) is UninitializedBuffer and m.running_mean.dtype == fastgrad.float64
        m(fastgrad.zeros(4, 3, dtype=fastgrad.float64))
        assert type(m) is nn.BatchNorm1d and m.running_var.dtype == m.weight.dtype == fastgrad.float64
    b = UninitializedBuffer(persistent=False)
    assert b.float() is b and type(b.half()) is UninitializedBuffer and not b.half().persistent
    m = nn.LazyConv2d(3, 2, dtype=fastgrad.float64)
    m(fastgrad.zeros(1, 2, 3, 3, dtype=fastgrad.float64))
    assert m.weight.dtype == fastgrad.float64 and m.weight.shape == (3, 2, 2, 2)


def test_lazy_load_state_dict_materializes(torch):
    src = nn.Linear(5, 3)
    m = nn.LazyLinear(3)
    m.load_state_dict(src.state_dict())
    assert type(m) is nn.LazyLinear and m.in_features == 0 and m.weight.shape == (3, 5)
    assert_close(m.weight, src.weight)
    tm = torch.nn.LazyLinear(3)
    tm.load_state_dict(torch.nn.Linear(5, 3).state_dict())
    _same_error(lambda: m(fastgrad.zeros(2, 4)), lambda: tm(torch.zeros(2, 4)), AssertionError)
    y = m(fastgrad.ones(2, 5))
    assert type(m) is nn.Linear and m.in_features == 5
    assert_close(y, src(fastgrad.ones(2, 5)))
    # a torch checkpoint into a lazy batch norm, inside a container
    tseq = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.BatchNorm2d(4))
    tseq(torch.randn(2, 2, 5, 5))
    seq = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d())
    seq.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tseq.state_dict().items()})
    x = _x(2, 2, 5, 5)
    seq.eval(), tseq.eval()
    assert_close(seq(fastgrad.tensor(x)), tseq(torch.tensor(x)), 1e-5, 1e-5)
    assert [type(c) for c in seq] == [nn.Conv2d, nn.BatchNorm2d]


def test_lazy_errors(torch):
    _same_error(lambda: nn.LazyConv2d(4, 3)(fastgrad.zeros(3, 5)), lambda: torch.nn.LazyConv2d(4, 3)(torch.zeros(3, 5)),
                RuntimeError)
    _same_error(lambda: nn.LazyConv3d(4, 3)(fastgrad.zeros(3, 5)), lambda: torch.nn.LazyConv3d(4, 3)(torch.zeros(3, 5)),
                RuntimeError)
    _same_error(lambda: nn.LazyConv2d(4, 3, groups=2)(fastgrad.zeros(1, 3, 5, 5)),
                lambda: torch.nn.LazyConv2d(4, 3, groups=2)(torch.zeros(1, 3, 5, 5)), ValueError)
    _same_error(lambda: nn.LazyBatchNorm3d()(fastgrad.zeros(2, 3, 4, 4)),
                lambda: torch.nn.LazyBatchNorm3d()(torch.zeros(2, 3, 4, 4)), ValueError)
    _same_error(lambda: nn.LazyLinear(3).weight.shape, lambda: torch.nn.LazyLinear(3).weight.shape, RuntimeError)

    class Half(nn.modules.lazy.LazyModuleMixin, nn.Module):  # leaves a parameter uninitialized
        def __init__(self):
            super().__init__()
            self.a = UninitializedParameter()

    class THalf(torch.nn.modules.lazy.LazyModuleMixin, torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.UninitializedParameter()

    THalf.__name__ = "Half"
    _same_error(lambda: Half()(fastgrad.zeros(1)), lambda: THalf()(torch.zeros(1)), NotImplementedError)
    Half.initialize_parameters = THalf.initialize_parameters = lambda self, x: None
    _same_error(lambda: Half()(fastgrad.zeros(1)), lambda: THalf()(torch.zeros(1)), RuntimeError)


def test_custom_lazy_module():
    class LazyScale(nn.modules.lazy.LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = UninitializedParameter()
            self.register_buffer("count", UninitializedBuffer())

        def initialize_parameters(self, x):
            if self.has_uninitialized_params():
                self.scale.materialize(x.shape[1:])
                self.count.materialize(())
                with fastgrad.no_grad():
                    self.scale.fill_(2.0)
                    self.count.fill_(0.0)

        def forward(self, x):
            return x * self.scale

    m = LazyScale()
    assert "count" in m.state_dict() and is_lazy(m.count) and is_lazy(m.scale)
    y = m(fastgrad.ones(2, 3))
    assert type(m) is LazyScale  # no cls_to_become: the class stays, the hooks are gone
    assert not hasattr(m, "_initialize_hook") and not hasattr(m, "_load_hook")
    assert_close(y, np.full((2, 3), 2.0))
    assert type(m.scale) is Parameter and type(m.count) is fastgrad.Tensor and m.count.shape == ()
    assert not m.has_uninitialized_params()


def test_uninitialized_tensors(torch):
    p, tp = UninitializedParameter(), torch.nn.UninitializedParameter()
    assert repr(p) == repr(tp) == "<UninitializedParameter>"
    assert isinstance(p, Parameter) and is_lazy(p) and p.requires_grad and p.dtype == fastgrad.float32
    assert not UninitializedParameter(requires_grad=False).requires_grad
    q = copy.deepcopy(UninitializedParameter(dtype=fastgrad.float64))
    assert type(q) is UninitializedParameter and q.dtype == fastgrad.float64
    p.materialize((2, 3))
    assert type(p) is Parameter and p.shape == (2, 3) and p.requires_grad and not is_lazy(p)
    p = UninitializedParameter()
    p.materialize((4,), dtype=fastgrad.float64)
    assert p.dtype == fastgrad.float64
    b, tb = UninitializedBuffer(persistent=False), torch.nn.UninitializedBuffer(persistent=False)
    assert repr(b) == repr(tb) == "<UninitializedBuffer>"
    assert isinstance(b, Buffer) and not b.persistent and not b.requires_grad and is_lazy(b)
    b.materialize((3,))
    assert type(b) is fastgrad.Tensor and b.shape == (3,) and isinstance(b, Buffer)
    assert not is_lazy(fastgrad.zeros(1)) and not is_lazy(Parameter(fastgrad.zeros(1)))
    assert nn.parameter.UninitializedParameter is nn.UninitializedParameter
    assert nn.parameter.UninitializedBuffer is nn.UninitializedBuffer
    m = nn.LazyLinear(2)
    c = copy.deepcopy(m)
    assert type(c) is nn.LazyLinear and type(c.weight) is UninitializedParameter
    c(fastgrad.zeros(1, 4))
    assert type(c) is nn.Linear and type(m) is nn.LazyLinear


# --------------------------------------------------------------------------- nn.Buffer
def test_buffer_registers_as_torch(torch):
    def build(mod, lib):
        class M(mod.Module):
            def __init__(self):
                super().__init__()
                self.a = mod.Buffer(lib.ones(2))
                self.b = mod.Buffer(lib.zeros(3), persistent=False)
                self.plain = lib.ones(1)
        return M()

    fm, tm = build(nn, fastgrad), build(torch.nn, torch)
    assert list(fm.state_dict()) == list(tm.state_dict()) == ["a"]
    assert [k for k, _ in fm.named_buffers()] == [k for k, _ in tm.named_buffers()] == ["a", "b"]
    assert "plain" not in dict(fm.named_buffers())
    _same_error(lambda: setattr(fm, "a", 3), lambda: setattr(tm, "a", 3), TypeError)
    _same_error(lambda: setattr(fm, "plain", nn.Buffer(fastgrad.ones(1))),
                lambda: setattr(tm, "plain", torch.nn.Buffer(torch.ones(1))), KeyError)
    fm.a = nn.Buffer(fastgrad.ones(4), persistent=False)  # re-registered as non-persistent
    tm.a = torch.nn.Buffer(torch.ones(4), persistent=False)
    assert list(fm.state_dict()) == list(tm.state_dict()) == []
    fm.b = fastgrad.zeros(2)  # a plain tensor keeps the buffer's persistence
    assert "b" not in fm.state_dict() and fm.b.shape == (2,)
    fm.b = nn.Buffer(fastgrad.zeros(2))
    assert list(fm.state_dict()) == ["b"]
    fm.a = None
    assert fm.a is None and "a" in fm._buffers
    fm.to(fastgrad.float64)
    assert fm.b.dtype == fastgrad.float64


def test_buffer_object(torch):
    t = fastgrad.ones(2, requires_grad=True)
    b, tb = nn.Buffer(t), torch.nn.Buffer(torch.ones(2, requires_grad=True))
    assert type(b) is fastgrad.Tensor and type(tb) is torch.Tensor
    assert b.requires_grad and b.persistent and b is not t and b.grad_fn is None
    assert isinstance(b, nn.Buffer) and not isinstance(t, nn.Buffer) and not isinstance(fastgrad.ones(1), Buffer)
    b._data[0] = 5  # shares the data (a detached alias)
    assert t[0].item() == 5
    assert nn.Buffer().shape == (0,) and not nn.Buffer(persistent=False).persistent
    assert nn.parameter.Buffer is nn.Buffer
    m = nn.Module()
    m.register_buffer("x", nn.Buffer(fastgrad.ones(1), persistent=False))  # register_buffer's flag wins
    assert list(m.state_dict()) == ["x"]
    with pytest.raises(AttributeError, match="cannot assign buffer before Module.__init__"):
        class Early(nn.Module):
            def __init__(self):
                self.x = nn.Buffer(fastgrad.ones(1))
        Early()
