"""distributions.Wishart against PyTorch: log_prob, entropy, mean, mode, variance and their
gradients (df and the scale) for each parametrization and batched df; rsample's moments
(Bartlett sampling) and differentiability; expand; the argument errors."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
R = np.random.default_rng(0)


def _spd(p, batch=()):
    A = R.standard_normal(batch + (p, p))
    return A @ np.swapaxes(A, -1, -2) + p * np.eye(p)


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
@pytest.mark.parametrize("batched", [False, True])
def test_wishart_against_torch(param, batched):
    p = 3
    C = _spd(p, (2,) if batched else ())
    arg = np.linalg.cholesky(C) if param == "scale_tril" else C
    df = np.array([4.5, 6.0]) if batched else np.array(5.0)
    V = _spd(p, (2,) if batched else ())
    res = []
    for lib in (fastgrad, torch):
        a, d = lib.tensor(arg, requires_grad=True), lib.tensor(df, requires_grad=True)
        dist = lib.distributions.Wishart(d, **{param: a})
        lp, ent = dist.log_prob(lib.tensor(V)), dist.entropy()
        (lp.sum() + ent.sum() + dist.mean.sum() + dist.variance.sum()).backward()
        res.append([lp.detach().numpy(), ent.detach().numpy(), dist.mean.detach().numpy(),
                    dist.variance.detach().numpy(), dist.mode.detach().numpy(), a.grad.numpy(), d.grad.numpy()])
    for x, y in zip(*res):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-10)


def test_wishart_rsample_moments_and_grad():
    fastgrad.manual_seed(0)
    C = _spd(2)
    df = 6.0
    scale = fastgrad.tensor(np.linalg.cholesky(C), requires_grad=True)
    dist = fastgrad.distributions.Wishart(df, scale_tril=scale)
    s = dist.rsample((20000,))
    assert tuple(s.shape) == (20000, 2, 2)
    np.testing.assert_allclose(s.mean(0).detach().numpy(), df * C, rtol=0.03)
    var = df * (C ** 2 + np.outer(np.diag(C), np.diag(C)))
    np.testing.assert_allclose(s.var(0).detach().numpy(), var, rtol=0.08)
    assert bool(dist.support.check(s).all())
    s.sum().backward()
    assert scale.grad is not None and np.isfinite(scale.grad.numpy()).all()
    e = dist.expand((3,))
    assert tuple(e.batch_shape) == (3,) and tuple(e.sample((2,)).shape) == (2, 3, 2, 2)
    np.testing.assert_allclose(e.log_prob(fastgrad.tensor(C)).detach().numpy(),
                               np.full(3, dist.log_prob(fastgrad.tensor(C)).item()))


def test_wishart_errors():
    for lib in (fastgrad, torch):
        W = lib.distributions.Wishart
        with pytest.raises(AssertionError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
            W(3.0, covariance_matrix=lib.eye(2), scale_tril=lib.eye(2))
        with pytest.raises(ValueError, match="scale_tril must be at least two-dimensional"):
            W(3.0, covariance_matrix=lib.ones(2))
        with pytest.raises(ValueError, match="expected to be greater than ndim - 1 = 2"):
            W(1.5, covariance_matrix=lib.eye(3))
        with pytest.warns(UserWarning, match="Low df values detected"):
            W(2.5, covariance_matrix=lib.eye(3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert bool(lib.isnan(W(3.5, covariance_matrix=lib.eye(3)).mode).all())
