"""utils.checkpoint: outputs and gradients equal an ordinary call's (and torch's), RNG replayed in
the recomputation, checkpoint_sequential, torch's warnings and errors."""
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad.utils.checkpoint import checkpoint, checkpoint_sequential

torch = pytest.importorskip("torch")


def _mlp(lib, seed=0):
    rng = np.random.default_rng(seed)
    m = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 8), lib.nn.GELU(), lib.nn.Linear(8, 3))
    m = m.double()
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return m


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_matches_torch(use_reentrant):
    x = np.random.default_rng(1).standard_normal((5, 4))
    grads = {}
    for lib, ck in ((torch, torch.utils.checkpoint.checkpoint), (fastgrad, checkpoint)):
        m = _mlp(lib)
        xt = lib.tensor(x, requires_grad=True)
        out = ck(lambda a, scale: m(a) * scale, xt, 2.0, use_reentrant=use_reentrant)
        (out ** 2).sum().backward()
        grads[lib.__name__] = [out.detach().numpy(), xt.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]
    for a, b in zip(grads["fastgrad"], grads["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_checkpoint_replays_the_rng():
    x = fastgrad.randn(16, 4, dtype=fastgrad.float64, requires_grad=True)
    m = fastgrad.nn.Sequential(fastgrad.nn.Linear(4, 16), fastgrad.nn.Dropout(0.5), fastgrad.nn.Linear(16, 1)).double()
    fastgrad.manual_seed(7)
    plain = m(x).sum()
    plain.backward()
    expected = [x.grad.clone()] + [p.grad.clone() for p in m.parameters()]
    x.grad = None
    m.zero_grad()
    fastgrad.manual_seed(7)
    ck = checkpoint(m, x, use_reentrant=True).sum()
    ck.backward()
    assert ck.item() == plain.item()
    for a, b in zip([x.grad] + [p.grad for p in m.parameters()], expected):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_checkpoint_sequential_matches_plain():
    m = _mlp(fastgrad)
    x = fastgrad.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    m(x).sum().backward()
    expected = [x.grad.clone()] + [p.grad.clone() for p in m.parameters()]
    x.grad = None
    m.zero_grad()
    out = checkpoint_sequential(m, 2, x, use_reentrant=True)
    out.sum().backward()
    for a, b in zip([x.grad] + [p.grad for p in m.parameters()], expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14)


def test_checkpoint_warnings_and_errors():
    x = fastgrad.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda a: a * 2, x)
    with pytest.raises(ValueError, match="Unexpected keyword arguments"):
        checkpoint(lambda a, k=1: a * k, x, use_reentrant=True, k=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = checkpoint(lambda a, k=1: a * k, x, use_reentrant=False, k=3)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
