"""fastgrad.amp against torch.amp on the CPU: GradScaler's scale/unscale/skip/backoff/growth
trajectory and errors, autocast's dtypes (bfloat16/float16 matrix products, float32 losses,
float64 untouched) with values and gradients within half-precision rounding of torch's."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def _model(lib):
    rng = np.random.default_rng(0)
    m = lib.nn.Sequential(lib.nn.Linear(6, 16), lib.nn.ReLU(), lib.nn.Linear(16, 4))
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    return m


def _scaler_run(lib, steps=6, inf_at=(2,)):
    m = _model(lib)
    opt = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    rng = np.random.default_rng(1)
    trace = []
    for step in range(steps):
        x = lib.tensor(rng.standard_normal((8, 6)).astype(np.float32))
        y = lib.tensor(rng.integers(0, 4, 8))
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(m(x), y)
        scaler.scale(loss).backward()
        if step in inf_at:
            with lib.no_grad():
                m[0].weight.grad[0, 0] = float("inf")
        scaler.unscale_(opt)
        norm = lib.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), float(norm), [p.detach().numpy().copy() for p in m.parameters()]))
    return trace, scaler


def test_grad_scaler_matches_torch():
    t, ts = _scaler_run(torch)
    f, fs = _scaler_run(fastgrad)
    for (ts_, tn, tp), (fs_, fn, fp) in zip(t, f):
        assert ts_ == fs_
        if np.isfinite(tn):
            np.testing.assert_allclose(fn, tn, rtol=1e-5)
        for a, b in zip(fp, tp):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert fs.state_dict() == ts.state_dict()


def test_grad_scaler_errors_and_disabled():
    m = fastgrad.nn.Linear(2, 1)
    opt = fastgrad.optim.SGD(m.parameters(), lr=0.1)
    s = fastgrad.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="Attempted unscale_ but _scale is None"):
        s.unscale_(opt)
    s.scale(m(fastgrad.ones(1, 2)).sum()).backward()
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last update"):
        s.step(opt)
    s.update()
    with pytest.warns(FutureWarning, match="torch.cuda.amp.GradScaler\\(args...\\)` is deprecated"):
        off = fastgrad.cuda.amp.GradScaler(enabled=False)
    loss = m(fastgrad.ones(1, 2)).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        assert not fastgrad.amp.GradScaler("cuda").is_enabled()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_matches_torch(dtype):
    x = np.random.default_rng(2).standard_normal((8, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    out = {}
    for lib in (torch, fastgrad):
        m = _model(lib)
        with lib.autocast("cpu", dtype=getattr(lib, dtype)):
            logits = m(lib.tensor(x))
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(y))
            mm = lib.tensor(x) @ lib.tensor(x).t()
            wide = lib.tensor(x.astype(np.float64)) @ lib.tensor(x.astype(np.float64)).t()
            cat = lib.cat([logits, lib.tensor(x[:, :4])])
        loss.backward()
        out[lib.__name__] = dict(
            dtypes=[str(t.dtype).split(".")[-1] for t in (logits, loss, mm, wide, cat)],
            logits=logits.detach().float().numpy(), loss=loss.item(),
            grads=[p.grad.numpy() for p in m.parameters()], gdt=[str(p.grad.dtype) for p in m.parameters()])
    t, f = out["torch"], out["fastgrad"]
    assert f["dtypes"] == t["dtypes"] == [dtype, "float32", dtype, "float64", "float32"]
    tol = 2e-2 if dtype == "bfloat16" else 3e-3
    np.testing.assert_allclose(f["logits"], t["logits"], rtol=tol, atol=tol)
    np.testing.assert_allclose(f["loss"], t["loss"], rtol=tol)
    for a, b in zip(f["grads"], t["grads"]):
        np.testing.assert_allclose(a, b, rtol=5 * tol, atol=tol)
    assert [d.split(".")[-1] for d in f["gdt"]] == ["float32"] * 4


def test_autocast_state_nesting_and_warnings():
    assert not fastgrad.is_autocast_enabled("cpu") and not fastgrad.is_autocast_enabled()
    with fastgrad.autocast("cpu"):
        assert fastgrad.is_autocast_enabled("cpu") and fastgrad.get_autocast_dtype("cpu") == fastgrad.bfloat16
        with fastgrad.autocast("cpu", enabled=False):
            assert not fastgrad.is_autocast_enabled("cpu")
            assert fastgrad.nn.functional.linear(fastgrad.ones(1, 2), fastgrad.ones(3, 2)).dtype == fastgrad.float32
        assert fastgrad.is_autocast_enabled("cpu")
    assert not fastgrad.is_autocast_enabled("cpu")

    @fastgrad.autocast("cpu", dtype=fastgrad.float16)
    def f(a):
        return a @ a

    assert f(fastgrad.ones(2, 2)).dtype == fastgrad.float16
    with pytest.warns(UserWarning, match="CUDA is not available"):
        with fastgrad.autocast("cuda"):
            assert not fastgrad.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="CPU Autocast only supports dtypes of torch.bfloat16, torch.float16"):
        with fastgrad.autocast("cpu", dtype=fastgrad.float32):
            assert not fastgrad.is_autocast_enabled("cpu")
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        fastgrad.autocast("tpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fastgrad.cpu.amp.autocast():
            assert fastgrad.is_autocast_cpu_enabled()
