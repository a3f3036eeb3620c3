"""nn.utils.prune against PyTorch: masks (buffers <name>_mask), <name>_orig, state_dict keys,
forward values and gradients through the pruning hook, repeated pruning (PruningContainer),
importance_scores, global_unstructured, remove, is_pruned and the errors."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
import torch.nn.utils.prune  # noqa: E402  (torch does not import it with torch.nn.utils)


def _pair(kind="linear"):
    rng = np.random.default_rng(3)
    out = []
    for lib in (fastgrad, torch):
        m = lib.nn.Linear(6, 5).double() if kind == "linear" else lib.nn.Conv2d(3, 4, 3).double()
        with lib.no_grad():
            for name, p in m.named_parameters():
                p.copy_(lib.tensor(np.random.default_rng(len(name)).standard_normal(tuple(p.shape))))
        out.append(m)
    x = rng.standard_normal((4, 6) if kind == "linear" else (2, 3, 6, 6))
    return out[0], out[1], x


def _same(fm, tm, x):
    assert list(fm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(fm.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)
    fo, to = fm(fastgrad.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    (fo ** 2).sum().backward()
    (to ** 2).sum().backward()
    tp = dict(tm.named_parameters())
    for name, p in fm.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-10, atol=1e-12)


def _both(fm, tm, fn):
    fn(fastgrad.nn.utils.prune, fm)
    fn(torch.nn.utils.prune, tm)


@pytest.mark.parametrize("amount", [0.3, 0.5, 7, 0])
def test_l1_unstructured(amount):
    fm, tm, x = _pair()
    _both(fm, tm, lambda P, m: P.l1_unstructured(m, "weight", amount=amount))
    _same(fm, tm, x)
    assert fastgrad.nn.utils.prune.is_pruned(fm)


@pytest.mark.parametrize("n,dim", [(1, 0), (2, 1), (float("inf"), -1), (-float("inf"), 0), (2, 2)])
def test_ln_structured(n, dim):
    fm, tm, x = _pair("conv")
    _both(fm, tm, lambda P, m: P.ln_structured(m, "weight", amount=0.5, n=n, dim=dim))
    _same(fm, tm, x)


def test_ln_structured_fro():
    fm, tm, x = _pair()
    _both(fm, tm, lambda P, m: P.ln_structured(m, "weight", amount=2, n="fro", dim=0))
    _same(fm, tm, x)
    for lib in (fastgrad, torch):  # over three dimensions "fro" is a matrix norm: torch's error
        with pytest.raises(RuntimeError, match="linalg.matrix_norm: dim must be a 2-tuple. Got 1 2 3"):
            lib.nn.utils.prune.ln_structured(lib.nn.Conv2d(2, 3, 3), "weight", amount=1, n="fro", dim=0)


def test_combined_pruning_container_and_remove():
    fm, tm, x = _pair("conv")
    for fn in (lambda P, m: P.l1_unstructured(m, "weight", amount=0.2),
               lambda P, m: P.ln_structured(m, "weight", amount=1, n=1, dim=0),
               lambda P, m: P.l1_unstructured(m, "weight", amount=10),
               lambda P, m: P.l1_unstructured(m, "bias", amount=2)):
        _both(fm, tm, fn)
        _same(fm, tm, x)
    hooks = [h for h in fm._forward_pre_hooks.values()]
    assert isinstance(hooks[0], fastgrad.nn.utils.prune.PruningContainer) and len(hooks[0]) == 3
    _both(fm, tm, lambda P, m: P.remove(m, "weight"))
    _same(fm, tm, x)
    assert isinstance(fm.weight, fastgrad.nn.Parameter)
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        fastgrad.nn.utils.prune.remove(fm, "weight")


def test_importance_scores_custom_mask_identity():
    fm, tm, x = _pair()
    scores = np.arange(30.0).reshape(5, 6)[::-1].copy()
    fastgrad.nn.utils.prune.l1_unstructured(fm, "weight", 0.4, importance_scores=fastgrad.tensor(scores))
    torch.nn.utils.prune.l1_unstructured(tm, "weight", 0.4, importance_scores=torch.tensor(scores))
    mask = (np.arange(5) % 2 == 0).astype(np.float64)
    fastgrad.nn.utils.prune.custom_from_mask(fm, "bias", fastgrad.tensor(mask))
    torch.nn.utils.prune.custom_from_mask(tm, "bias", torch.tensor(mask))
    _same(fm, tm, x)
    fm2, tm2, _ = _pair()
    _both(fm2, tm2, lambda P, m: P.identity(m, "weight"))
    _same(fm2, tm2, x)


def test_global_unstructured():
    fa, ta, x = _pair()
    fb, tb, xb = _pair("conv")
    for P, ms in ((fastgrad.nn.utils.prune, (fa, fb)), (torch.nn.utils.prune, (ta, tb))):
        P.global_unstructured([(ms[0], "weight"), (ms[1], "weight"), (ms[1], "bias")],
                              pruning_method=P.L1Unstructured, amount=40)
    _same(fa, ta, x)
    _same(fb, tb, xb)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported'):
        fastgrad.nn.utils.prune.global_unstructured([(fa, "bias")], fastgrad.nn.utils.prune.LnStructured,
                                                    amount=1, n=1, dim=0)


def test_random_methods_prune_the_amount():
    m = fastgrad.nn.Conv2d(3, 8, 3)
    fastgrad.nn.utils.prune.random_unstructured(m, "weight", amount=0.25)
    assert int((m.weight_mask == 0).sum()) == round(0.25 * m.weight.numel())
    fastgrad.nn.utils.prune.random_structured(m, "weight", amount=3, dim=0)
    kept = m.weight_mask.sum(dim=(1, 2, 3)) != 0
    assert int(kept.sum()) == 5
    assert np.all((m.weight.detach().numpy() == 0) | (m.weight_mask.numpy() == 1))


def test_prune_errors_match_torch():
    for bad, exc in ((-1, ValueError), (1.5, ValueError), ("a", TypeError)):
        for P in (fastgrad.nn.utils.prune, torch.nn.utils.prune):
            with pytest.raises(exc) as e:
                P.L1Unstructured(bad)
            msgs = getattr(test_prune_errors_match_torch, "m", [])
            msgs.append(str(e.value))
            test_prune_errors_match_torch.m = msgs
    m = test_prune_errors_match_torch.m
    assert m[0::2] == m[1::2]
    for lib in (fastgrad, torch):
        with pytest.raises(ValueError, match="amount=40 should be smaller than the number of parameters to prune=30"):
            lib.nn.utils.prune.l1_unstructured(lib.nn.Linear(6, 5), "weight", 40)
        with pytest.raises(ValueError, match="Structured pruning can only be applied to multidimensional tensors"):
            lib.nn.utils.prune.ln_structured(lib.nn.Linear(6, 5), "bias", 1, 1, 0)
        with pytest.raises(IndexError, match="Invalid index 2 for tensor of size"):
            lib.nn.utils.prune.ln_structured(lib.nn.Linear(6, 5), "weight", 1, 1, 2)
        m = lib.nn.Linear(6, 5)
        with pytest.raises(ValueError):
            lib.nn.utils.prune.l1_unstructured(m, "weight", 40)
        assert "weight" in dict(m.named_parameters())  # restored after the failure
