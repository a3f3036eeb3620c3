"""fastgrad.compile: a recorded training step replayed equals eager bit for bit (MLP, CNN with
batch norm, dropout, layer norm, SGD/momentum/Adam/AdamW, gradient clipping); guards record
again; what cannot be recorded warns once and runs eagerly (fullgraph=True raises)."""
import inspect
import warnings

import numpy as np
import pytest

import fastgrad as fg
from fastgrad._compile import OptimizedModule, Unsupported

nn = fg.nn
F = fg.nn.functional


def _programs(c):
    """The compiled callable's cache: replayable programs (generated functions), not eager marks."""
    c = getattr(c, "_compiled", c)
    return [p for p in c._cache.values() if callable(p)]


def _data(n_batches, batch, shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    xs = [fg.from_numpy(rng.standard_normal((batch,) + shape).astype(np.float32)) for _ in range(n_batches)]
    ys = [fg.from_numpy(rng.integers(0, classes, batch)) for _ in range(n_batches)]
    return xs, ys


def _twins(make_model, make_opt, loss_fn=F.cross_entropy, clip=None):
    """Two identical (model, step) pairs from the same seed."""
    out = []
    for _ in range(2):
        fg.manual_seed(0)
        model = make_model()
        opt = make_opt(model.parameters())

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            return loss
        out.append((model, step))
    return out


def _same(a, b):
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _run_lockstep(make_model, make_opt, steps=100, shape=(64,), classes=10, seed_each=False, y_float=False,
                  **kw):
    (m1, s1), (m2, s2) = _twins(make_model, make_opt, **kw)
    c2 = fg.compile(s2)
    xs, ys = _data(5, 16, shape, classes)
    if y_float:
        ys = [fg.from_numpy(np.random.default_rng(i).standard_normal((16, classes)).astype(np.float32))
              for i in range(5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: everything was recorded
        for i in range(steps):
            if seed_each:
                fg.manual_seed(100 + i)
            l1 = s1(xs[i % 5], ys[i % 5])
            if seed_each:
                fg.manual_seed(100 + i)
            l2 = c2(xs[i % 5], ys[i % 5])
            _same(l1, l2)
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)
        _same(p.grad, q.grad)
    for b1, b2 in zip(m1.buffers(), m2.buffers()):
        _same(b1, b2)
    assert len(_programs(c2)) == 1
    return m1, m2, c2


def _mlp():
    return nn.Sequential(nn.Linear(64, 50), nn.Tanh(), nn.Linear(50, 10))


@pytest.mark.parametrize("opt", [
    lambda p: fg.optim.SGD(p, lr=0.1),
    lambda p: fg.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda p: fg.optim.Adam(p, lr=1e-3),
    lambda p: fg.optim.AdamW(p, lr=1e-3, weight_decay=0.01),
], ids=["sgd", "sgd-momentum", "adam", "adamw"])
def test_mlp_replay_equals_eager(opt):
    _run_lockstep(_mlp, opt)


def test_mlp_relu_mse_and_clipping():
    def model():
        return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def mse(out, y):
        return F.mse_loss(out, y * 0.1)  # (F.one_hot here would fall back: see below)
    _run_lockstep(model, lambda p: fg.optim.SGD(p, lr=0.5), loss_fn=mse, clip=0.05, y_float=True)


def test_tensor_made_from_data_outside_ops_falls_back():
    """F.one_hot computes on the array and makes a new tensor: a replay would freeze it."""
    fg.manual_seed(0)
    lin = nn.Linear(3, 4)
    f = lambda x, y: F.mse_loss(lin(x), F.one_hot(y, 4).float())  # noqa: E731
    c = fg.compile(f)
    x = fg.ones(2, 3)
    with pytest.warns(UserWarning, match="outside any op"):
        c(x, fg.tensor([0, 1]))
    for y in ([1, 2], [3, 0]):
        _same(c(x, fg.tensor(y)), f(x, fg.tensor(y)))


def test_layer_norm_gelu_dropout():
    def model():
        return nn.Sequential(nn.Linear(64, 48), nn.LayerNorm(48), nn.GELU(), nn.Dropout(0.3), nn.Linear(48, 10))
    _run_lockstep(model, lambda p: fg.optim.Adam(p, lr=1e-3), steps=50, seed_each=True)


def test_dropout_draws_new_numbers_each_replay():
    fg.manual_seed(0)
    drop = fg.compile(lambda x: F.dropout(x, 0.5, training=True) * 1.0)
    x = fg.ones(1000)
    masks = [drop(x).numpy().copy() for _ in range(5)]
    assert len(_programs(drop)) == 1
    for m in masks:
        assert set(np.unique(m)) <= {0.0, 2.0}
        assert 400 < np.count_nonzero(m) < 600  # Bernoulli(0.5) over 1000 elements
    assert all(not np.array_equal(masks[0], m) for m in masks[1:])


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def test_cnn_batchnorm_train_and_eval():
    m1, m2, c2 = _run_lockstep(_cnn, lambda p: fg.optim.SGD(p, lr=0.05, momentum=0.9), steps=30,
                               shape=(1, 8, 8))
    xs, _ = _data(3, 16, (1, 8, 8), 10, seed=1)
    m1.eval()
    m2.eval()
    f2 = fg.compile(m2)
    with fg.no_grad():
        for i in range(6):
            _same(m1(xs[i % 3]), f2(xs[i % 3]))
    assert len(_programs(f2)) == 1


def test_guards_record_again():
    fg.manual_seed(0)
    lin = nn.Linear(4, 3)
    f = fg.compile(lambda x: (lin(x).tanh() * 2).sum())
    x = fg.randn(5, 4)
    with fg.no_grad():
        ref = [(lin(a).tanh() * 2).sum() for a in (x, x[:2], x.double().float())]
        _same(f(x), ref[0])
        _same(f(x), ref[0])
        assert len(_programs(f)) == 1
        _same(f(x[:2]), ref[1])  # batch size: a second program
        assert len(_programs(f)) == 2
        with pytest.raises(RuntimeError, match="same dtype"):  # dtype: recorded again (eager's error)
            f(x.double())
        lin.double()  # a parameter's dtype: the guard fails, recorded again
        _same(f(x.double()), (lin(x.double()).tanh() * 2).sum())
        assert len(_programs(f)) == 3
    xd = x.double().requires_grad_()  # requires_grad and grad mode: again, its output's backward recorded too
    out = f(xd)
    assert out.grad_fn is not None
    assert len(_programs(f)) == 4
    out.backward()
    ref = x.double().requires_grad_()
    (lin(ref).tanh() * 2).sum().backward()
    _same(xd.grad, ref.grad)
    with pytest.warns(UserWarning, match="made outside the compiled call"):
        f(xd * 1.0)  # an input with a history: its backward would leave the call's graph


def test_batch_size_change_rerecords_and_stays_exact():
    (m1, s1), (m2, s2) = _twins(_mlp, lambda p: fg.optim.SGD(p, lr=0.1))
    c2 = fg.compile(s2)
    xs, ys = _data(4, 16, (64,), 10)
    xs2, ys2 = _data(4, 7, (64,), 10, seed=3)
    for i in range(12):
        x, y = (xs[i % 4], ys[i % 4]) if i % 3 else (xs2[i % 4], ys2[i % 4])
        _same(s1(x, y), c2(x, y))
    assert len(_programs(c2)) == 2
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)


def test_item_branch_falls_back_with_one_warning():
    fg.manual_seed(0)
    lin = nn.Linear(3, 1)

    def f(x):
        y = lin(x).sum()
        return y * 2 if y.item() > 0 else y * 3
    c = fg.compile(f)
    with pytest.warns(UserWarning, match="item"):
        c(fg.ones(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s in (1.0, -1.0, 1.0):
            x = fg.full((2, 3), s)
            _same(c(x), f(x))
    assert _programs(c) == []
    with pytest.raises(Unsupported, match="item"):
        fg.compile(f, fullgraph=True)(fg.ones(2, 3))


def test_hooks_and_user_functions_fall_back():
    fg.manual_seed(0)
    lin = nn.Linear(3, 2)
    lin.register_forward_hook(lambda m, i, o: None)
    c = fg.compile(lambda x: lin(x))
    with pytest.warns(UserWarning, match="hooks"):
        c(fg.ones(1, 3))

    class Double(fg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    c = fg.compile(lambda x: Double.apply(x).sum())
    with pytest.warns(UserWarning, match="Function"):
        c(fg.ones(3, requires_grad=True))
    with pytest.raises(Unsupported):
        fg.compile(lambda x: Double.apply(x).sum(), fullgraph=True)(fg.ones(3, requires_grad=True))


def test_grad_hook_falls_back():
    w = fg.ones(3, requires_grad=True)

    def f(x):
        y = x * w
        y.register_hook(lambda g: g * 2)
        y.sum().backward()
    c = fg.compile(f)
    with pytest.warns(UserWarning, match="hooks"):
        c(fg.ones(3))
    c(fg.ones(3))
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 4.0, 4.0])


def test_anomaly_mode_runs_eagerly():
    f = fg.compile(lambda x: (x * 2).sum())
    f(fg.ones(3))
    with fg.autograd.detect_anomaly():
        with pytest.warns(UserWarning, match="anomaly"):
            assert f(fg.ones(3)).item() == 6.0


def test_compiled_module_backward_outside():
    """A compiled module's outputs carry one node: the backward after the call runs the
    recorded backward and the engine accumulates the leaves' gradients, as eager."""
    def mk():
        fg.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 6), nn.LayerNorm(6), nn.Tanh(), nn.Linear(6, 3))
    m1, m2 = mk(), mk()
    c = fg.compile(m2)
    o1, o2 = fg.optim.Adam(m1.parameters()), fg.optim.Adam(m2.parameters())
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(20):
            x = fg.from_numpy(rng.standard_normal((4, 8)).astype(np.float32))
            x2 = fg.from_numpy(rng.standard_normal((4, 8)).astype(np.float32))
            for o, f in ((o1, m1), (o2, c)):
                o.zero_grad()
                a, b = f(x), f(x2)  # two runs before one backward: each keeps its own values
                assert a.requires_grad and a.grad_fn is not None
                ((a * b).mean() + (b * b).sum()).backward()
                o.step()
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)
        _same(p.grad, q.grad)
    assert len(_programs(c)) == 1
    xg = fg.ones(2, 8, requires_grad=True)  # an input that requires grad gets its gradient too
    xg2 = fg.ones(2, 8, requires_grad=True)
    for _ in range(2):
        xg.grad = xg2.grad = None
        c(xg).sum().backward()
        m1(xg2).sum().backward()
        _same(xg.grad, xg2.grad)


def test_optimized_module_interface():
    fg.manual_seed(0)
    m = _mlp()
    c = fg.compile(m)
    assert isinstance(c, OptimizedModule) and isinstance(c, nn.Module)
    assert c._orig_mod is m
    assert list(c.state_dict()) == ["_orig_mod." + k for k in m.state_dict()]
    assert [id(p) for p in c.parameters()] == [id(p) for p in m.parameters()]
    m.extra = 5
    assert c.extra == 5  # attributes read through
    c.eval()
    assert not m.training
    with fg.no_grad():
        x = fg.randn(2, 64)
        _same(c(x), m(x))
        _same(c(x), m(x))
    assert len(_programs(c)) == 1


def test_signature_and_options():
    torch = pytest.importorskip("torch")
    ours = inspect.signature(fg.compile).parameters
    theirs = inspect.signature(torch.compile).parameters
    for name, p in theirs.items():
        assert name in ours
        assert ours[name].kind == p.kind
    assert fg.compile(_mlp, disable=True) is _mlp
    with pytest.raises(RuntimeError, match="Either mode or options"):
        fg.compile(_mlp, mode="max-autotune", options={"a": 1})
    with pytest.warns(UserWarning, match="ignores"):
        f = fg.compile(lambda x: x * 2, options={"triton.cudagraphs": True})
    assert f(fg.ones(2)).tolist() == [2.0, 2.0]
    dec = fg.compile(fullgraph=True)(lambda x: x + 1)
    assert dec(fg.ones(1)).tolist() == [2.0]
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        fg.compile(_mlp, mode="fastest")


def test_inputs_requiring_grad_accumulate():
    w = fg.randn(4, 3, requires_grad=True)

    def f(x):
        (x @ w).tanh().sum().backward()
    c = fg.compile(f)
    for _ in range(3):
        x = fg.randn(2, 4, requires_grad=True)
        x2 = x.detach().clone().requires_grad_()
        w_grad = None if w.grad is None else w.grad.clone()
        c(x)
        if w_grad is not None:
            w.grad = w_grad
        else:
            w.grad = None
        f(x2)
        _same(x.grad, x2.grad)
    assert len(_programs(c)) == 1


def test_replay_memory_is_flat():
    import gc
    (_, _), (m2, s2) = _twins(_mlp, lambda p: fg.optim.SGD(p, lr=0.1))
    c = fg.compile(s2)
    x, y = _data(1, 16, (64,), 10)
    for _ in range(50):
        c(x[0], y[0])
    gc.collect()
    n0 = len(gc.get_objects())
    for _ in range(1000):
        c(x[0], y[0])
    gc.collect()
    assert len(gc.get_objects()) <= n0 + 10


def test_hyperparameter_change_applies_without_recording_again():
    """The optimizer's step is called as eager calls it: a new learning rate (a scheduler's)
    is read by the replay, which stays equal to eager."""
    (m1, s1), (m2, s2) = _twins(_mlp, lambda p: fg.optim.SGD(p, lr=0.1, momentum=0.5))
    c2 = fg.compile(s2)
    opts = [s1.__defaults__[1], s2.__defaults__[1]]
    scheds = [fg.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5) for o in opts]
    xs, ys = _data(3, 16, (64,), 10)
    for i in range(12):
        _same(s1(xs[i % 3], ys[i % 3]), c2(xs[i % 3], ys[i % 3]))
        for s in scheds:
            s.step()
    assert opts[1].param_groups[0]["lr"] < 0.1
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)
    assert len(_programs(c2)) == 1


def test_recompile_limit():
    f = fg.compile(lambda x: x * 2, recompile_limit=2)
    f(fg.ones(1))
    f(fg.ones(2))
    with pytest.warns(UserWarning, match="recompile_limit"):
        assert f(fg.ones(3)).tolist() == [2.0, 2.0, 2.0]
    assert len(_programs(f)) == 2


def test_same_tensor_twice_and_nested_compiled_calls():
    f = fg.compile(lambda a, b: (a * 2 + b).sum())
    x, y = fg.ones(3), fg.full((3,), 5.0)
    assert f(x, x).item() == 9.0
    assert f(x, y).item() == 21.0  # another aliasing pattern: recorded again, not x's program
    assert f(y, y).item() == 45.0
    inner = fg.compile(lambda a: a.tanh() * 3)
    outer = fg.compile(lambda a: inner(a).sum() + 1)
    for v in (0.5, 1.0, 2.0):
        a = fg.full((4,), v)
        _same(outer(a), (a.tanh() * 3).sum() + 1)


# --------------------------------------------------------------------------- the compiled loop
def _replay_class():
    return getattr(fg._backend.K, "_Replay", None)


@pytest.mark.parametrize("case", ["tanh-mean", "relu-sum-wd", "sigmoid-f64-maximize", "relu-mse-sum",
                                  "tanh-momentum"])
def test_compiled_loop_equals_eager(case):
    """The steps the compiled loop (csrc/replay.pxi) expresses run there, bit for bit eager's:
    the program is a Replay on the compiled backend (the Python replay on NumPy's)."""
    act = {"tanh-mean": nn.Tanh, "relu-sum-wd": nn.ReLU, "sigmoid-f64-maximize": nn.Sigmoid,
           "relu-mse-sum": nn.ReLU, "tanh-momentum": nn.Tanh}[case]
    f64 = case.endswith("maximize")
    opt = {"tanh-mean": lambda p: fg.optim.SGD(p, lr=0.1),
           "relu-sum-wd": lambda p: fg.optim.SGD(p, lr=0.01, weight_decay=1e-3),
           "sigmoid-f64-maximize": lambda p: fg.optim.SGD(p, lr=0.1, maximize=True),
           "relu-mse-sum": lambda p: fg.optim.SGD(p, lr=1e-3),
           "tanh-momentum": lambda p: fg.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)}[case]

    def model():
        m = nn.Sequential(nn.Linear(64, 50), act(), nn.Linear(50, 10))
        return m.double() if f64 else m
    reduction = "sum" if "sum" in case else "mean"

    def loss_fn(out, y):
        if case == "relu-mse-sum":  # sub, mul (a gradient summed from two uses), sum
            return F.mse_loss(out, y, reduction="sum")
        return F.cross_entropy(out, y, reduction=reduction)
    if f64:
        (m1, s1), (m2, s2) = _twins(model, opt, loss_fn=loss_fn)
        c2 = fg.compile(s2)
        xs, ys = _data(3, 16, (64,), 10)
        xs = [x.double() for x in xs]
        for i in range(30):
            _same(s1(xs[i % 3], ys[i % 3]), c2(xs[i % 3], ys[i % 3]))
        for p, q in zip(m1.parameters(), m2.parameters()):
            _same(p, q)
            _same(p.grad, q.grad)
    else:
        _, _, c2 = _run_lockstep(model, opt, loss_fn=loss_fn, y_float=case == "relu-mse-sum")
    progs = _programs(c2)
    if _replay_class() is not None:
        assert isinstance(progs[0], _replay_class())


def test_compiled_loop_leaves_a_held_grad_alone():
    """A .grad someone still holds is not overwritten by the next replay (eager gives each step
    new gradient arrays); an unheld one is reused."""
    (m1, s1), (m2, s2) = _twins(_mlp, lambda p: fg.optim.SGD(p, lr=0.1))
    c2 = fg.compile(s2)
    xs, ys = _data(3, 16, (64,), 10)
    for i in range(3):
        s1(xs[i], ys[i])
        c2(xs[i], ys[i])
    w1, w2 = next(m1.parameters()), next(m2.parameters())
    held, held_array = w2.grad, w2.grad.numpy()
    kept = held_array.copy()
    _same(w1.grad, held)
    s1(xs[0], ys[0])
    c2(xs[0], ys[0])
    np.testing.assert_array_equal(held.numpy(), kept)
    np.testing.assert_array_equal(held_array, kept)
    assert w2.grad is not held
    _same(w1.grad, w2.grad)
    del held, held_array
    for i in range(5):
        s1(xs[i % 3], ys[i % 3])
        c2(xs[i % 3], ys[i % 3])
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)
        _same(p.grad, q.grad)


def test_compiled_loop_falls_back_per_call():
    """What the loop's checks refuse at a call (momentum turned on after recording, a target
    out of range) runs the Python replay for that call: eager's results, eager's error."""
    (m1, s1), (m2, s2) = _twins(_mlp, lambda p: fg.optim.SGD(p, lr=0.1))
    c2 = fg.compile(s2)
    xs, ys = _data(3, 16, (64,), 10)
    opts = [s1.__defaults__[1], s2.__defaults__[1]]
    _same(s1(xs[0], ys[0]), c2(xs[0], ys[0]))
    prog, slow_calls = _programs(c2)[0], []
    if _replay_class() is not None:
        slow = prog.slow
        prog.slow = lambda inputs: slow_calls.append(1) or slow(inputs)
    for i in range(1, 9):
        if i == 4:  # the first step with momentum makes its buffers: the Python replay's call
            for o in opts:
                o.param_groups[0]["momentum"] = 0.9
        _same(s1(xs[i % 3], ys[i % 3]), c2(xs[i % 3], ys[i % 3]))
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)
    bad = fg.from_numpy(np.full(16, 10, np.int64))
    with pytest.raises(Exception) as e1:
        s1(xs[0], bad)
    with pytest.raises(type(e1.value)):
        c2(xs[0], bad)
    assert len(_programs(c2)) == 1
    if _replay_class() is not None:
        assert len(slow_calls) == 2


class _ResidualShared(nn.Module):
    """A residual sum (x + h: a gradient through add) and one Linear used twice (its weight's
    gradient summed from two nodes before it is accumulated)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 64)
        self.b = nn.Linear(64, 10)

    def forward(self, x):
        return self.b(self.a(self.a(x).tanh()) + x)


def test_compiled_loop_sums_gradients_as_eager():
    _, _, c2 = _run_lockstep(_ResidualShared, lambda p: fg.optim.SGD(p, lr=0.05))
    if _replay_class() is not None:
        assert isinstance(_programs(c2)[0], _replay_class())


def test_compiled_loop_guards_record_again():
    """The compiled loop's guards (checked in C): a module's training flag or a parameter
    object replaced records again; results stay eager's."""
    (m1, s1), (m2, s2) = _twins(_mlp, lambda p: fg.optim.SGD(p, lr=0.1))
    c2 = fg.compile(s2)
    xs, ys = _data(3, 16, (64,), 10)

    def steps(n):
        for i in range(n):
            _same(s1(xs[i % 3], ys[i % 3]), c2(xs[i % 3], ys[i % 3]))
    steps(3)
    first = _programs(c2)
    assert len(first) == 1 and first[0].guards_hold()
    for m in (m1, m2):
        m[2].eval()
    assert not first[0].guards_hold()
    steps(3)
    second = _programs(c2)
    assert len(second) == 1 and second[0] is not first[0]  # (a failed guard's program is replaced)
    for m in (m1, m2):
        m[2].bias = nn.Parameter(m[2].bias.detach().clone())  # (not in the optimizer: it stays as it is)
    assert not second[0].guards_hold()
    steps(3)
    assert _programs(c2)[0] is not second[0]
    for p, q in zip(m1.parameters(), m2.parameters()):
        _same(p, q)
