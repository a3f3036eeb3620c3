"""optim.swa_utils against torch: AveragedModel (SWA, EMA, custom avg_fn, use_buffers), update_bn, SWALR."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def _models():
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    fm = fastgrad.nn.Sequential(fastgrad.nn.Linear(3, 4), fastgrad.nn.BatchNorm1d(4), fastgrad.nn.Linear(4, 2)).double()
    fm.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    return tm, fm


def _perturb(tm, fm, k):
    rng = np.random.default_rng(k)
    with torch.no_grad():
        for (name, tp), fp in zip(tm.named_parameters(), fm.parameters()):
            d = rng.standard_normal(tuple(tp.shape))
            tp.add_(torch.tensor(d))
            fp.data.add_(fastgrad.tensor(d))
    x = rng.standard_normal((8, 3))
    tm.train()
    fm.train()
    tm(torch.tensor(x))
    fm(fastgrad.tensor(x))


@pytest.mark.parametrize("kind", ["swa", "ema", "ema-multi", "custom", "swa-buffers"])
def test_averaged_model(kind):
    tm, fm = _models()
    kw = {}
    if kind == "ema":
        tkw, fkw = {"avg_fn": torch.optim.swa_utils.get_ema_avg_fn(0.9)}, \
            {"avg_fn": fastgrad.optim.swa_utils.get_ema_avg_fn(0.9)}
    elif kind == "ema-multi":
        tkw, fkw = {"multi_avg_fn": torch.optim.swa_utils.get_ema_multi_avg_fn(0.8)}, \
            {"multi_avg_fn": fastgrad.optim.swa_utils.get_ema_multi_avg_fn(0.8)}
    elif kind == "custom":
        tkw = {"avg_fn": lambda a, m, n: 0.5 * a + 0.5 * m}
        fkw = tkw
    else:
        tkw, fkw = dict(kw), dict(kw)
    if kind == "swa-buffers":
        tkw["use_buffers"] = fkw["use_buffers"] = True
    ta = torch.optim.swa_utils.AveragedModel(tm, **tkw)
    fa = fastgrad.optim.swa_utils.AveragedModel(fm, **fkw)
    for k in range(4):
        _perturb(tm, fm, k)
        ta.update_parameters(tm)
        fa.update_parameters(fm)
    ts, fs = ta.state_dict(), fa.state_dict()
    assert list(ts) == list(fs)
    for key in ts:
        np.testing.assert_allclose(fs[key].numpy(), ts[key].numpy(), rtol=1e-12, atol=1e-14, err_msg=key)
    x = np.random.default_rng(9).standard_normal((5, 3))
    ta.eval()
    fa.eval()
    np.testing.assert_allclose(fa(fastgrad.tensor(x)).detach().numpy(), ta(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        fastgrad.optim.swa_utils.AveragedModel(fm, avg_fn=lambda *a: a[0], multi_avg_fn=lambda *a: None)


def test_update_bn():
    tm, fm = _models()
    data = [np.random.default_rng(i).standard_normal((6, 3)) * (i + 1) for i in range(3)]
    tm.eval()
    fm.eval()
    torch.optim.swa_utils.update_bn([(torch.tensor(d), 0) for d in data], tm)
    fastgrad.optim.swa_utils.update_bn([(fastgrad.tensor(d), 0) for d in data], fm)
    assert not fm.training and fm[1].momentum == tm[1].momentum
    for key, v in tm.state_dict().items():
        np.testing.assert_allclose(fm.state_dict()[key].numpy(), v.numpy(), rtol=1e-12, err_msg=key)


@pytest.mark.parametrize("strategy,epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr(strategy, epochs):
    out = {}
    for lib in (torch, fastgrad):
        p = lib.nn.Parameter(lib.zeros(2))
        opt = lib.optim.SGD([p], lr=0.5)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=epochs, anneal_strategy=strategy)
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(7):
                opt.step()
                sched.step()
                lrs.append(sched.get_last_lr()[0])
        out[lib.__name__] = lrs
    np.testing.assert_allclose(out["fastgrad"], out["torch"], rtol=1e-12)
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        fastgrad.optim.swa_utils.SWALR(fastgrad.optim.SGD([fastgrad.nn.Parameter(fastgrad.zeros(1))], lr=0.1),
                                       0.01, anneal_strategy="exp")
