"""fastgrad.distributions against torch.distributions: log_prob, entropy, moments, cdf/icdf and
their gradients in float64, KL divergences, sample shapes and sample moments, expand,
enumerate_support and argument validation."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
LOC = RNG.standard_normal((2, 3))
SCALE = np.abs(RNG.standard_normal((2, 3))) + 0.5
PROBS = RNG.uniform(0.1, 0.9, (2, 3))
LOGITS = RNG.standard_normal((2, 4))
A = RNG.standard_normal((3, 3))
COV = A @ A.T + 3 * np.eye(3)


def _params(lib, name, leaves=None):
    leaves = [] if leaves is None else leaves

    def t(a):
        x = lib.tensor(a, requires_grad=True)
        leaves.append(x)
        return x
    D = lib.distributions
    return {
        "Normal": lambda: (D.Normal(t(LOC), t(SCALE)), LOC + 0.3),
        "Uniform": lambda: (D.Uniform(t(LOC - SCALE), t(LOC + SCALE)), LOC + 0.1 * SCALE),
        "Exponential": lambda: (D.Exponential(t(SCALE)), np.abs(LOC)),
        "Laplace": lambda: (D.Laplace(t(LOC), t(SCALE)), LOC - 0.4),
        "Bernoulli-probs": lambda: (D.Bernoulli(probs=t(PROBS)), (PROBS > 0.5).astype(float)),
        "Bernoulli-logits": lambda: (D.Bernoulli(logits=t(LOC)), (LOC > 0).astype(float)),
        "Categorical-logits": lambda: (D.Categorical(logits=t(LOGITS)), np.array([1.0, 3.0])),
        "Categorical-probs": lambda: (D.Categorical(probs=t(np.abs(LOGITS) + 0.1)), np.array([0.0, 2.0])),
        "OneHotCategorical": lambda: (D.OneHotCategorical(logits=t(LOGITS)), np.eye(4)[[2, 0]]),
        "Independent": lambda: (D.Independent(D.Normal(t(LOC), t(SCALE)), 1), LOC * 0.5),
        "MVN-cov": lambda: (D.MultivariateNormal(t(LOC), covariance_matrix=t(COV)), LOC * 0.7),
        "MVN-tril": lambda: (D.MultivariateNormal(t(LOC[0]), scale_tril=t(np.linalg.cholesky(COV))), LOC),
        "MVN-precision": lambda: (D.MultivariateNormal(t(LOC[0]), precision_matrix=t(np.linalg.inv(COV))), LOC),
    }[name]()


NAMES = ["Normal", "Uniform", "Exponential", "Laplace", "Bernoulli-probs", "Bernoulli-logits", "Categorical-logits",
         "Categorical-probs", "OneHotCategorical", "Independent", "MVN-cov", "MVN-tril", "MVN-precision"]


def _eval(lib, name):
    params = []
    d, value = _params(lib, name, params)
    out = {"batch": tuple(d.batch_shape), "event": tuple(d.event_shape)}
    lp = d.log_prob(lib.tensor(value))
    out["log_prob"] = lp
    for attr in ("entropy", "mean", "variance", "stddev", "mode"):
        try:
            out[attr] = getattr(d, attr)() if attr == "entropy" else getattr(d, attr)
        except NotImplementedError:
            out[attr] = None
    if name in ("Normal", "Uniform", "Exponential", "Laplace"):
        out["cdf"] = d.cdf(lib.tensor(value))
        if name != "Normal" or hasattr(fastgrad, "erfinv"):
            out["icdf"] = d.icdf(lib.tensor(np.full(value.shape, 0.3)))
    total = lp.sum() + (out["entropy"].sum() if out["entropy"] is not None else 0)
    out["grads"] = lib.autograd.grad(total, params, allow_unused=True)
    return out


def _np(x):
    return None if x is None else x.detach().numpy()


@pytest.mark.parametrize("name", NAMES)
def test_distribution_matches_torch(name):
    t, f = _eval(torch, name), _eval(fastgrad, name)
    assert t["batch"] == f["batch"] and t["event"] == f["event"]
    for key in ("log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "icdf"):
        if key in t and t[key] is not None:
            np.testing.assert_allclose(_np(f[key]), _np(t[key]), rtol=1e-10, atol=1e-12, equal_nan=True,
                                       err_msg=key)
    assert len(t["grads"]) == len(f["grads"])
    for a, b in zip(f["grads"], t["grads"]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12)


KL_PAIRS = [("Normal", "Normal"), ("Exponential", "Exponential"), ("Laplace", "Laplace"),
            ("Bernoulli-probs", "Bernoulli-logits"), ("Categorical-logits", "Categorical-probs"),
            ("Uniform", "Normal"), ("Normal", "Laplace"), ("Independent", "Independent"), ("MVN-cov", "MVN-tril"),
            ("MVN-precision", "MVN-cov")]


@pytest.mark.parametrize("pair", KL_PAIRS, ids=["-".join(p) for p in KL_PAIRS])
def test_kl_divergence_matches_torch(pair):
    res = {}
    for lib in (torch, fastgrad):
        leaves = []
        p, _ = _params(lib, pair[0], leaves)
        q, _ = _params(lib, pair[1])
        if pair == ("Independent", "Independent"):
            q = lib.distributions.Independent(lib.distributions.Normal(lib.tensor(LOC * 0.3), lib.tensor(SCALE * 2)), 1)
        kl = lib.distributions.kl_divergence(p, q)
        res[lib.__name__] = (kl, lib.autograd.grad(kl.sum(), leaves, allow_unused=True))
    np.testing.assert_allclose(_np(res["fastgrad"][0]), _np(res["torch"][0]), rtol=1e-10, atol=1e-12)
    for a, b in zip(res["fastgrad"][1], res["torch"][1]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12)


def test_sampling_shapes_and_moments():
    fastgrad.manual_seed(0)
    D = fastgrad.distributions
    n = D.Normal(fastgrad.tensor([1.0, -2.0]), fastgrad.tensor([0.5, 2.0]))
    s = n.sample((20000,))
    assert tuple(s.shape) == (20000, 2) and not s.requires_grad
    np.testing.assert_allclose(s.mean(0).numpy(), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(s.std(0).numpy(), [0.5, 2.0], rtol=0.03)
    c = D.Categorical(probs=fastgrad.tensor([0.2, 0.5, 0.3]))
    draws = c.sample((30000,)).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 30000, [0.2, 0.5, 0.3], atol=0.015)
    assert tuple(D.Categorical(logits=fastgrad.zeros(4, 5)).sample((2, 3)).shape) == (2, 3, 4)
    loc = fastgrad.zeros(2, requires_grad=True)
    r = D.Normal(loc, fastgrad.ones(2)).rsample((5,))
    r.sum().backward()
    np.testing.assert_array_equal(loc.grad.numpy(), [5.0, 5.0])
    m = D.MultivariateNormal(fastgrad.zeros(3, dtype=fastgrad.float64), fastgrad.tensor(COV))
    x = m.sample((40000,)).numpy()
    np.testing.assert_allclose(np.cov(x.T), COV, atol=0.15)
    for dist in (D.Exponential(fastgrad.tensor([2.0])), D.Laplace(fastgrad.tensor([0.0]), fastgrad.tensor([1.0])),
                 D.Uniform(fastgrad.tensor([0.0]), fastgrad.tensor([2.0])), D.Bernoulli(fastgrad.tensor([0.3]))):
        v = dist.sample((20000,))
        np.testing.assert_allclose(v.mean().item(), dist.mean.item(), atol=0.05)
    oh = D.OneHotCategorical(probs=fastgrad.tensor([0.1, 0.9])).sample((5,))
    assert tuple(oh.shape) == (5, 2) and (oh.sum(-1).numpy() == 1).all()


def test_expand_support_and_validation():
    D = fastgrad.distributions
    n = D.Normal(fastgrad.tensor(0.0), fastgrad.tensor(1.0)).expand((3, 2))
    assert tuple(n.batch_shape) == (3, 2) and tuple(n.log_prob(fastgrad.zeros(3, 2)).shape) == (3, 2)
    c = D.Categorical(logits=fastgrad.zeros(2, 3))
    np.testing.assert_array_equal(c.enumerate_support().numpy(),
                                  torch.distributions.Categorical(logits=torch.zeros(2, 3)).enumerate_support().numpy())
    b = D.Bernoulli(probs=fastgrad.tensor([0.2, 0.7]))
    np.testing.assert_array_equal(b.enumerate_support().numpy(), [[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="Expected parameter scale"):
        D.Normal(fastgrad.tensor([0.0]), fastgrad.tensor([-1.0]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both"):
        D.Categorical()
    with pytest.raises(ValueError, match="Expected value argument"):
        D.Categorical(logits=fastgrad.zeros(3)).log_prob(fastgrad.tensor(5))
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(logits=fastgrad.zeros(3)))
    assert repr(D.Normal(fastgrad.tensor(0.0), fastgrad.tensor(1.0))) == \
        repr(torch.distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))).replace("torch", "fastgrad")
