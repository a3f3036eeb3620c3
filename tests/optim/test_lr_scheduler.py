"""lr schedulers: the learning-rate sequence equals PyTorch's; state dicts round-trip."""
import math

import pytest

import fastgrad
from fastgrad import nn, optim
from fastgrad.optim import lr_scheduler as S


def _opt(lib, name="SGD", groups=1, **kw):
    if lib is fastgrad:
        params = [nn.Parameter(fastgrad.ones(2)) for _ in range(groups)]
        return getattr(optim, name)([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], **kw)
    params = [lib.nn.Parameter(lib.ones(2)) for _ in range(groups)]
    return getattr(lib.optim, name)([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(params)], **kw)


def _sequence(lib, sched_mod, make, steps=30, name="SGD", groups=2, metrics=None, **okw):
    opt = _opt(lib, name, groups, **okw)
    sched = make(sched_mod, opt)
    seq = [list(sched.get_last_lr())]
    for i in range(steps):
        opt.step()
        if metrics is not None:
            sched.step(metrics[i])
        else:
            sched.step()
        seq.append(list(sched.get_last_lr()))
        if name == "SGD" and "momentum" in opt.param_groups[0]:
            seq[-1].append(opt.param_groups[0]["momentum"])
    return seq


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (e + 1)),
    "LambdaLR-list": lambda m, o: m.LambdaLR(o, [lambda e: 0.95 ** e, lambda e: 1 + e]),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.9),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=8, power=2.0),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=31),
    "OneCycleLR-3phase-linear": lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=4, steps_per_epoch=8,
                                                          three_phase=True, anneal_strategy="linear"),
    "SequentialLR": lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=5),
                                                    m.ExponentialLR(o, gamma=0.8)], milestones=[5]),
    "SequentialLR-3": lambda m, o: m.SequentialLR(o, [m.ConstantLR(o, 0.5, total_iters=3),
                                                      m.CosineAnnealingLR(o, T_max=6), m.StepLR(o, 2)],
                                                  milestones=[4, 12]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.ExponentialLR(o, 0.9), m.StepLR(o, 3, 0.5)]),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_sequence_matches_torch(torch, name):
    make = SCHEDULERS[name]
    kw = {"momentum": 0.9} if name.startswith("OneCycle") else {}
    fs = _sequence(fastgrad, S, make, **kw)
    ts = _sequence(torch, torch.optim.lr_scheduler, make, **kw)
    assert len(fs) == len(ts)
    for a, b in zip(fs, ts):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


def test_onecycle_adam_betas(torch):
    make = lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=20)  # noqa: E731
    fo, to = _opt(fastgrad, "Adam"), _opt(torch, "Adam")
    fsch, tsch = make(S, fo), make(torch.optim.lr_scheduler, to)
    for _ in range(19):
        fo.step()
        to.step()
        fsch.step()
        tsch.step()
        assert fo.param_groups[0]["betas"] == pytest.approx(to.param_groups[0]["betas"])
        assert fsch.get_last_lr() == pytest.approx(tsch.get_last_lr())


@pytest.mark.parametrize("kw", [{}, {"mode": "max", "factor": 0.5, "patience": 2, "threshold_mode": "abs",
                                   "cooldown": 2, "min_lr": 0.01}])
def test_reduce_lr_on_plateau(torch, kw):
    metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.89, 0.9, 0.9, 0.9, 0.9, 0.95, 0.96, 0.5, 0.5, 0.5, 0.5] * 2
    if kw.get("mode") == "max":
        metrics = [-m for m in metrics]
    kw = dict(kw) if kw else {"patience": 1}
    make = lambda m, o: m.ReduceLROnPlateau(o, **kw)  # noqa: E731
    fs = _sequence(fastgrad, S, make, steps=len(metrics), metrics=metrics)
    ts = _sequence(torch, torch.optim.lr_scheduler, make, steps=len(metrics), metrics=metrics)
    assert len(fs) == len(ts) and len({tuple(a) for a in fs}) > 2
    for a, b in zip(fs, ts):
        assert a == pytest.approx(b)


def test_state_dict_round_trip():
    opt = _opt(fastgrad)
    sched = S.StepLR(opt, step_size=3, gamma=0.5)
    for _ in range(4):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 4
    opt2 = _opt(fastgrad)
    opt2.load_state_dict(opt.state_dict())
    sched2 = S.StepLR(opt2, step_size=1, gamma=0.9)
    sched2.load_state_dict(sd)
    for _ in range(5):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched.get_last_lr() == sched2.get_last_lr()
    seq = S.SequentialLR(opt, [S.ConstantLR(opt, 0.5), S.ExponentialLR(opt, 0.9)], milestones=[2])
    seq2 = S.SequentialLR(opt2, [S.ConstantLR(opt2, 0.5), S.ExponentialLR(opt2, 0.9)], milestones=[2])
    seq.step()
    seq2.load_state_dict(seq.state_dict())
    assert seq2.last_epoch == seq.last_epoch and seq2._schedulers[0].last_epoch == seq._schedulers[0].last_epoch
    lam = S.LambdaLR(opt, lambda e: 0.5)
    assert lam.state_dict()["lr_lambdas"] == [None]
    plateau = S.ReduceLROnPlateau(opt, patience=0)
    plateau.step(1.0)
    plateau.step(2.0)
    p2 = S.ReduceLROnPlateau(_opt(fastgrad))
    p2.load_state_dict(plateau.state_dict())
    assert p2.best == 1.0 and p2.patience == 0


def test_errors_match_torch(torch):
    cases = [lambda m, o: m.LinearLR(o, start_factor=0), lambda m, o: m.ReduceLROnPlateau(o, factor=1.5),
             lambda m, o: m.OneCycleLR(o, max_lr=1.0), lambda m, o: m.LambdaLR(o, [lambda e: 1, lambda e: 2]),
             lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2)], milestones=[3])]
    for make in cases:
        with pytest.raises(ValueError) as t_err:
            make(torch.optim.lr_scheduler, _opt(torch))
        with pytest.raises(ValueError) as f_err:
            make(S, _opt(fastgrad))
        assert str(f_err.value) == str(t_err.value)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), 2)


def test_cosine_closed_form_with_epoch_arg():
    opt = _opt(fastgrad)
    sched = S.CosineAnnealingLR(opt, T_max=10)
    with pytest.warns(UserWarning):
        sched.step(5)
    assert sched.get_last_lr()[0] == pytest.approx(0.1 * (1 + math.cos(math.pi * 5 / 10)) / 2)


@pytest.mark.parametrize("name", [n for n in SCHEDULERS if not n.startswith(("SequentialLR", "ChainedScheduler"))])
def test_state_dict_keys_match_torch(torch, name):
    make = SCHEDULERS[name]
    kw = {"momentum": 0.9} if name.startswith("OneCycle") else {}
    fo, to = _opt(fastgrad, groups=2, **kw), _opt(torch, groups=2, **kw)
    fs, ts = make(S, fo), make(torch.optim.lr_scheduler, to)
    for _ in range(3):
        fo.step()
        to.step()
        fs.step()
        ts.step()
    fsd, tsd = fs.state_dict(), ts.state_dict()
    assert list(fsd) == list(tsd)
    for key in ("last_epoch", "_step_count", "_is_initial", "_get_lr_called_within_step", "base_lrs"):
        assert fsd[key] == tsd[key]


def test_step_order_and_get_lr_warnings_match_torch(torch):
    import warnings

    def messages(lib, mod, order):
        opt = _opt(lib, groups=1)
        sched = mod.StepLR(opt, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for call in order:
                opt.step() if call == "opt" else sched.step()
            sched.get_lr()  # outside step(): PyTorch points to get_last_lr()
        return [str(x.message) for x in w]

    for order in (["sched", "opt"], ["opt", "sched"], ["opt", "sched", "sched"]):
        f = messages(fastgrad, S, order)
        t = messages(torch, torch.optim.lr_scheduler, order)
        assert f == t and t[-1].startswith("To get the last learning rate")
    assert any("before `optimizer.step()`" in m for m in messages(fastgrad, S, ["sched"]))


def test_resume_without_initial_lr_matches_torch(torch):
    with pytest.raises(KeyError) as t_err:
        torch.optim.lr_scheduler.StepLR(_opt(torch), 2, last_epoch=3)
    with pytest.raises(KeyError) as f_err:
        S.StepLR(_opt(fastgrad), 2, last_epoch=3)
    assert str(f_err.value) == str(t_err.value)
