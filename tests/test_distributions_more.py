"""More fastgrad.distributions against torch.distributions (Gamma, Chi2, Beta, Dirichlet, Poisson,
Binomial, Geometric, NegativeBinomial, Multinomial): log_prob, entropy, moments, cdf and their
gradients in float64, KL pairs, the reparameterised gamma gradient, sample shapes and moments,
expand and argument validation."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(1)
POS = RNG.uniform(0.5, 3.0, (2, 3))
POS2 = RNG.uniform(0.5, 3.0, (2, 3))
PROBS = RNG.uniform(0.1, 0.9, (2, 3))
LOGITS = RNG.standard_normal((2, 3))
CONC = RNG.uniform(0.5, 3.0, (2, 4))
SIMPLEX = RNG.dirichlet(np.ones(4), 2)
LOWRANK_W = RNG.standard_normal((4, 2))
COUNTS = np.array([[1.0, 0.0, 3.0, 2.0], [0.0, 0.0, 6.0, 0.0]])


def _params(lib, name, leaves=None, requires_grad=True):
    leaves = [] if leaves is None else leaves

    def t(a):
        x = lib.tensor(a, requires_grad=requires_grad)
        leaves.append(x)
        return x
    D = lib.distributions
    return {
        "Gamma": lambda: (D.Gamma(t(POS), t(POS2)), POS2 * 0.7),
        "Gamma-b": lambda: (D.Gamma(t(POS2 + 1), t(POS)), POS * 1.3),
        "Chi2": lambda: (D.Chi2(t(POS * 2)), POS2),
        "Beta": lambda: (D.Beta(t(POS), t(POS2)), PROBS),
        "Beta-b": lambda: (D.Beta(t(POS2), t(POS + 0.5)), 1 - PROBS),
        "Dirichlet": lambda: (D.Dirichlet(t(CONC)), SIMPLEX),
        "Dirichlet-b": lambda: (D.Dirichlet(t(CONC[::-1].copy() + 0.3)), SIMPLEX),
        "Poisson": lambda: (D.Poisson(t(POS)), np.round(POS2 * 2)),
        "Poisson-b": lambda: (D.Poisson(t(POS2 + 1)), np.round(POS)),
        "Binomial-probs": lambda: (D.Binomial(5, probs=t(PROBS)), np.round(PROBS * 5)),
        "Binomial-logits": lambda: (D.Binomial(lib.tensor(5.0), logits=t(LOGITS)), np.round(PROBS * 3)),
        "Geometric-probs": lambda: (D.Geometric(probs=t(PROBS)), np.round(POS * 2)),
        "Geometric-logits": lambda: (D.Geometric(logits=t(LOGITS)), np.round(POS2)),
        "NegativeBinomial-probs": lambda: (D.NegativeBinomial(t(POS), probs=t(PROBS)), np.round(POS2 * 3)),
        "NegativeBinomial-logits": lambda: (D.NegativeBinomial(lib.tensor(3.0), logits=t(LOGITS)), np.round(POS)),
        "Multinomial-probs": lambda: (D.Multinomial(6, probs=t(SIMPLEX)), COUNTS),
        "Multinomial-logits": lambda: (D.Multinomial(6, logits=t(np.log(SIMPLEX[::-1].copy()))), COUNTS),
        "Normal": lambda: (D.Normal(t(LOGITS), t(POS)), LOGITS),
        "Exponential": lambda: (D.Exponential(t(POS)), POS),
        "Laplace": lambda: (D.Laplace(t(LOGITS), t(POS)), LOGITS),
        "Uniform": lambda: (D.Uniform(t(PROBS * 0.5), t(PROBS * 0.5 + 0.4)), PROBS * 0.5 + 0.1),
        "Bernoulli": lambda: (D.Bernoulli(probs=t(PROBS)), np.round(PROBS)),
        "LogNormal": lambda: (D.LogNormal(t(LOGITS), t(POS)), POS2),
        "LogNormal-b": lambda: (D.LogNormal(t(LOGITS * 0.5), t(POS2)), POS),
        "HalfNormal": lambda: (D.HalfNormal(t(POS)), POS2),
        "HalfNormal-b": lambda: (D.HalfNormal(t(POS2)), POS),
        "Cauchy": lambda: (D.Cauchy(t(LOGITS), t(POS)), LOGITS + 0.3),
        "Cauchy-b": lambda: (D.Cauchy(t(LOGITS * 2), t(POS2)), LOGITS),
        "HalfCauchy": lambda: (D.HalfCauchy(t(POS)), POS2),
        "Gumbel": lambda: (D.Gumbel(t(LOGITS), t(POS)), LOGITS - 0.2),
        "Gumbel-b": lambda: (D.Gumbel(t(LOGITS * 0.3), t(POS2)), LOGITS),
        "Pareto": lambda: (D.Pareto(t(POS), t(POS2 + 2)), POS * 1.5),
        "Pareto-b": lambda: (D.Pareto(t(POS * 0.5), t(POS + 1)), POS * 2),
        "Weibull": lambda: (D.Weibull(t(POS), t(POS2)), POS * 0.8),
        "InverseGamma": lambda: (D.InverseGamma(t(POS + 2), t(POS2)), POS),
        "StudentT": lambda: (D.StudentT(t(POS * 3), t(LOGITS), t(POS2)), LOGITS * 1.5),
        "LogisticNormal": lambda: (D.LogisticNormal(t(LOGITS), t(POS)), SIMPLEX[:, :4]),
        "Transformed": lambda: (D.TransformedDistribution(D.Normal(t(LOGITS), t(POS)), [
            D.AffineTransform(t(LOGITS * 0.2), -2.0), D.SigmoidTransform(), D.PowerTransform(lib.tensor(2.0))]),
            PROBS * 0.8),
        "Transformed-b": lambda: (D.TransformedDistribution(D.Normal(t(LOGITS * 0.1), t(POS2)), [
            D.AffineTransform(lib.tensor(LOGITS * 0.2), -2.0), D.SigmoidTransform(), D.PowerTransform(lib.tensor(2.0))]),
            PROBS),
        "Kumaraswamy": lambda: (D.Kumaraswamy(t(POS), t(POS2)), PROBS),
        "FisherSnedecor": lambda: (D.FisherSnedecor(t(POS * 2), t(POS2 * 4)), POS),
        "RelaxedBernoulli": lambda: (D.RelaxedBernoulli(t(np.array(0.7)), probs=t(PROBS)), 1 - PROBS),
        "LogitRelaxedBernoulli": lambda: (lib.distributions.relaxed_bernoulli.LogitRelaxedBernoulli(t(np.array(1.3)), logits=t(LOGITS)), LOGITS * 2),
        "RelaxedOneHotCategorical": lambda: (D.RelaxedOneHotCategorical(t(np.array(0.6)), logits=t(np.log(CONC))),
                                             SIMPLEX),
        "ExpRelaxedCategorical": lambda: (lib.distributions.relaxed_categorical.ExpRelaxedCategorical(t(np.array(0.9)), probs=t(SIMPLEX)),
                                          np.log(SIMPLEX[::-1].copy())),
        "MixtureSameFamily": lambda: (D.MixtureSameFamily(D.Categorical(logits=t(LOGITS)),
                                                          D.Normal(t(LOGITS * 2), t(POS))), LOGITS[:, 0] + 0.2),
        "MixtureSameFamily-event": lambda: (D.MixtureSameFamily(D.Categorical(probs=t(SIMPLEX[0])), D.Independent(
            D.Normal(t(CONC.T.copy()), t(CONC.T.copy() * 0.5)), 1)), CONC[:, :2].T.copy()),
        "ContinuousBernoulli": lambda: (D.ContinuousBernoulli(probs=t(np.array([[0.2, 0.4995, 0.7], [0.9, 0.5, 0.3]]))),
                                        PROBS),
        "ContinuousBernoulli-logits": lambda: (D.ContinuousBernoulli(logits=t(LOGITS)), 1 - PROBS),
        "VonMises": lambda: (D.VonMises(t(LOGITS), t(np.array([[0.5, 3.0, 5.0], [1.0, 3.7, 12.0]]))), LOGITS + 1.0),
        "LowRank": lambda: (D.LowRankMultivariateNormal(t(CONC), t(LOWRANK_W), t(POS2[0, :1].repeat(4) + POS[0, :4 - 3])),
                            SIMPLEX),
        "LowRank-b": lambda: (D.LowRankMultivariateNormal(t(CONC[0] * 0.5), t(LOWRANK_W[::-1].copy() * 0.3),
                                                          t(CONC[1])), SIMPLEX),
        "MVN": lambda: (D.MultivariateNormal(t(CONC[1]), scale_tril=t(np.linalg.cholesky(
            LOWRANK_W @ LOWRANK_W.T + np.eye(4)))), SIMPLEX),
    }[name]()


NAMES = ["Gamma", "Chi2", "Beta", "Dirichlet", "Poisson", "Binomial-probs", "Binomial-logits", "Geometric-probs",
         "Geometric-logits", "NegativeBinomial-probs", "NegativeBinomial-logits", "Multinomial-probs",
         "Multinomial-logits"]
NAMES += ["LogNormal", "HalfNormal", "Cauchy", "HalfCauchy", "Gumbel", "Pareto", "Weibull", "InverseGamma",
          "StudentT", "LogisticNormal", "Transformed", "Kumaraswamy", "FisherSnedecor", "RelaxedBernoulli",
          "LogitRelaxedBernoulli", "RelaxedOneHotCategorical", "ExpRelaxedCategorical", "MixtureSameFamily",
          "MixtureSameFamily-event", "ContinuousBernoulli", "ContinuousBernoulli-logits", "VonMises", "LowRank"]
CDF = {"Gamma", "Chi2", "MixtureSameFamily", "ContinuousBernoulli", "ContinuousBernoulli-logits", "LogNormal", "HalfNormal", "Cauchy", "HalfCauchy", "Pareto", "Weibull", "Transformed"}
ICDF = {"ContinuousBernoulli", "ContinuousBernoulli-logits", "LogNormal", "HalfNormal", "Cauchy", "HalfCauchy", "Pareto", "Weibull", "Transformed"}


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
    total = lp.sum() + (out["entropy"].sum() if out["entropy"] is not None else 0)
    if name in CDF:
        out["cdf"] = d.cdf(lib.tensor(value))
        if name not in ("Gamma", "Chi2"):  # gammainc has no gradient in a
            total = total + out["cdf"].sum()
    # Normal.icdf needs erfinv (fastgrad.special's branch)
    if name in ICDF and (hasattr(fastgrad, "erfinv") or name not in ("LogNormal", "HalfNormal", "Transformed")):
        out["icdf"] = d.icdf(lib.tensor(np.full(value.shape, 0.3)))
        total = total + out["icdf"].sum()
    out["grads"] = lib.autograd.grad(total, params, allow_unused=True)
    if name in CDF:
        # d cdf / d value, on the same distribution with parameters that do not require grad
        d_fixed, _ = _params(lib, name, requires_grad=False)
        x = lib.tensor(value, requires_grad=True)
        out["cdf_grad"] = lib.autograd.grad(d_fixed.cdf(x).sum(), x)[0]
        # and on d, whose parameters require grad: the walk for x alone skips the edges to them
        # (igamma has no derivative in the concentration, as in torch)
        x = lib.tensor(value, requires_grad=True)
        out["cdf_grad_x"] = lib.autograd.grad(d.cdf(x).sum(), x)[0]
    return out


def _np(x):
    return None if x is None else x.detach().numpy()


@pytest.mark.parametrize("name", NAMES)
def test_distribution_matches_torch(name):
    t, f = _eval(torch, name), _eval(fastgrad, name)
    assert t["batch"] == f["batch"] and t["event"] == f["event"]
    for key in ("log_prob", "entropy", "mean", "variance", "stddev", "mode", "cdf", "cdf_grad", "cdf_grad_x",
                "icdf"):
        if key in t and t[key] is not None:
            # Multinomial's entropy takes lgamma(n + 1) in float32 as torch does
            rtol = 1e-6 if (name.startswith("Multinomial") and key == "entropy") else 1e-10
            np.testing.assert_allclose(_np(f[key]), _np(t[key]), rtol=rtol, atol=1e-12, equal_nan=True,
                                       err_msg=key)
    assert len(t["grads"]) == len(f["grads"])
    for a, b in zip(f["grads"], t["grads"]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-8, atol=1e-9)  # torch's trigamma: ~1e-10


KL_PAIRS = [("Gamma", "Gamma-b"), ("Beta", "Beta-b"), ("Dirichlet", "Dirichlet-b"), ("Poisson", "Poisson-b"),
            ("Geometric-probs", "Geometric-logits"), ("Binomial-probs", "Binomial-logits"),
            ("Bernoulli", "Poisson"), ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"),
            ("Beta", "Uniform"), ("Exponential", "Gamma"), ("Exponential", "Normal"), ("Exponential", "Beta"),
            ("Gamma", "Exponential"), ("Gamma", "Normal"), ("Gamma", "Uniform"), ("Laplace", "Normal"),
            ("Laplace", "Gamma"), ("Normal", "Beta"), ("Poisson", "Binomial-probs"), ("Uniform", "Beta"),
            ("Uniform", "Exponential"), ("Uniform", "Gamma"), ("LogNormal", "LogNormal-b"),
            ("HalfNormal", "HalfNormal-b"), ("Cauchy", "Cauchy-b"), ("Gumbel", "Gumbel-b"), ("Pareto", "Pareto-b"),
            ("Exponential", "Gumbel"), ("Gamma", "Gumbel"), ("Uniform", "Gumbel"), ("Transformed", "Transformed-b"),
            ("ContinuousBernoulli", "ContinuousBernoulli-logits"), ("Beta", "ContinuousBernoulli"),
            ("Uniform", "ContinuousBernoulli"), ("ContinuousBernoulli", "Exponential"),
            ("ContinuousBernoulli", "Normal"), ("ContinuousBernoulli", "Uniform"), ("Normal", "ContinuousBernoulli"),
            ("Gamma", "ContinuousBernoulli"), ("Gumbel", "ContinuousBernoulli"), ("LowRank", "LowRank-b"),
            ("MVN", "LowRank"), ("LowRank", "MVN")]


@pytest.mark.parametrize("pair", KL_PAIRS, ids=["-".join(p) for p in KL_PAIRS])
def test_kl_divergence_matches_torch(pair):
    res = {}
    for lib in (torch, fastgrad):
        leaves = []
        p, _ = _params(lib, pair[0], leaves)
        q, _ = _params(lib, pair[1], leaves)
        kl = lib.distributions.kl_divergence(p, q)
        finite = lib.isfinite(kl)
        if not kl.requires_grad:  # the pairs whose divergence is infinite everywhere
            res[lib.__name__] = (kl, ())
            continue
        res[lib.__name__] = (kl, lib.autograd.grad(kl[finite].sum(), leaves, allow_unused=True))
    np.testing.assert_allclose(_np(res["fastgrad"][0]), _np(res["torch"][0]), rtol=1e-10, atol=1e-12)
    assert len(res["fastgrad"][1]) == len(res["torch"][1])
    for a, b in zip(res["fastgrad"][1], res["torch"][1]):
        if b is None:
            assert a is None or not np.any(_np(a))
        else:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-8, atol=1e-9)  # torch's trigamma: ~1e-10


def test_standard_gamma_gradient_is_the_implicit_derivative():
    scipy_special = pytest.importorskip("scipy.special")
    from fastgrad.distributions._special import standard_gamma_grad

    alpha = np.array([0.05, 0.3, 1.0, 2.5, 9.0, 40.0, 300.0])
    for q in (0.02, 0.3, 0.5, 0.8, 0.995):
        x = scipy_special.gammaincinv(alpha, q)
        h = 1e-5 * alpha
        exact = (scipy_special.gammaincinv(alpha + h, q) - scipy_special.gammaincinv(alpha - h, q)) / (2 * h)
        np.testing.assert_allclose(standard_gamma_grad(x, alpha), exact, rtol=1e-6)
        ref = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(x)).numpy()
        np.testing.assert_allclose(standard_gamma_grad(x, alpha), ref, rtol=5e-4)  # torch's is an approximation


def test_rsample_gradients_are_unbiased():
    fastgrad.manual_seed(0)
    D = fastgrad.distributions
    a = fastgrad.tensor([0.7, 2.0, 5.0], dtype=fastgrad.float64, requires_grad=True)
    b = fastgrad.tensor([1.5, 0.5, 2.0], dtype=fastgrad.float64, requires_grad=True)
    x = D.Gamma(a, b).rsample((40000,))
    assert tuple(x.shape) == (40000, 3) and x.requires_grad
    x.mean(0).sum().backward()  # d E[x] = d a/b
    np.testing.assert_allclose(a.grad.numpy(), 1 / b.detach().numpy(), rtol=0.03)
    np.testing.assert_allclose(b.grad.numpy(), -(a / b ** 2).detach().numpy(), rtol=0.03)
    c1 = fastgrad.tensor([2.0], dtype=fastgrad.float64, requires_grad=True)
    c0 = fastgrad.tensor([3.0], dtype=fastgrad.float64, requires_grad=True)
    y = D.Beta(c1, c0).rsample((40000,))
    y.mean().backward()  # E = c1 / (c1 + c0): d/dc1 = c0/(c1+c0)^2, d/dc0 = -c1/(c1+c0)^2
    np.testing.assert_allclose([c1.grad.item(), c0.grad.item()], [3 / 25, -2 / 25], rtol=0.05)
    conc = fastgrad.tensor([1.0, 2.0, 3.0], dtype=fastgrad.float64, requires_grad=True)
    z = D.Dirichlet(conc).rsample((20000,))
    np.testing.assert_allclose(z.sum(-1).detach().numpy(), 1.0, rtol=1e-12)
    z[:, 0].mean().backward()
    np.testing.assert_allclose(conc.grad.numpy(), [5 / 36, -1 / 36, -1 / 36], atol=0.01)


def test_sampling_shapes_and_moments():
    fastgrad.manual_seed(1)
    D = fastgrad.distributions
    cases = [D.Gamma(fastgrad.tensor([2.0, 0.5]), fastgrad.tensor([1.0, 3.0])), D.Chi2(fastgrad.tensor([3.0])),
             D.Beta(fastgrad.tensor([2.0]), fastgrad.tensor([5.0])), D.Poisson(fastgrad.tensor([0.5, 4.0])),
             D.Binomial(10, probs=fastgrad.tensor([0.3, 0.8])), D.Geometric(probs=fastgrad.tensor([0.3, 0.8])),
             D.NegativeBinomial(fastgrad.tensor([3.0]), probs=fastgrad.tensor([0.4])),
             D.Dirichlet(fastgrad.tensor([1.0, 2.0, 3.0])),
             D.Multinomial(7, probs=fastgrad.tensor([0.2, 0.3, 0.5]))]
    for d in cases:
        s = d.sample((30000,))
        assert tuple(s.shape) == (30000,) + tuple(d.batch_shape) + tuple(d.event_shape)
        assert not s.requires_grad
        np.testing.assert_allclose(s.double().mean(0).numpy(), d.mean.double().numpy(), rtol=0.05, atol=0.01)
        np.testing.assert_allclose(s.double().var(0).numpy(), d.variance.double().numpy(), rtol=0.08, atol=0.01)
    m = D.Multinomial(7, probs=fastgrad.tensor([0.2, 0.3, 0.5])).sample((4, 2))
    assert tuple(m.shape) == (4, 2, 3) and (m.sum(-1).numpy() == 7).all()


def test_expand_and_validation():
    D = fastgrad.distributions
    for d in (D.Gamma(1.0, 2.0), D.Chi2(fastgrad.tensor(3.0)), D.Beta(2.0, 3.0), D.Poisson(fastgrad.tensor(1.0)),
              D.Binomial(4, probs=fastgrad.tensor(0.3)), D.Geometric(fastgrad.tensor(0.3)),
              D.NegativeBinomial(2.0, logits=fastgrad.tensor(0.1))):
        e = d.expand((3, 2))
        assert tuple(e.batch_shape) == (3, 2) and type(e) is type(d)
        assert tuple(e.log_prob(fastgrad.ones(3, 2) * 0.5 if isinstance(d, D.Beta) else fastgrad.ones(3, 2)).shape) \
            == (3, 2)
    dd = D.Dirichlet(fastgrad.ones(3)).expand((2,))
    assert tuple(dd.batch_shape) == (2,) and tuple(dd.event_shape) == (3,)
    mm = D.Multinomial(3, probs=fastgrad.ones(3) / 3).expand((2,))
    assert tuple(mm.sample().shape) == (2, 3)
    errors = [
        (lambda lib: lib.distributions.Gamma(lib.tensor([-1.0]), lib.tensor([1.0])), ValueError),
        (lambda lib: lib.distributions.Dirichlet(lib.tensor(1.0)), ValueError),
        (lambda lib: lib.distributions.Geometric(probs=lib.tensor([0.0, 0.5])), ValueError),
        (lambda lib: lib.distributions.Binomial(3), ValueError),
        (lambda lib: lib.distributions.Multinomial(lib.tensor(3), probs=lib.ones(2) / 2), NotImplementedError),
        (lambda lib: lib.distributions.Poisson(lib.tensor([1.0])).log_prob(lib.tensor([0.5])), ValueError),
        (lambda lib: lib.distributions.Binomial(lib.tensor([2.0, 3.0]), probs=lib.tensor([0.5, 0.5])).entropy(),
         NotImplementedError),
        (lambda lib: lib.distributions.kl_divergence(lib.distributions.Binomial(2, probs=lib.tensor(0.5)),
                                                     lib.distributions.Binomial(3, probs=lib.tensor(0.5))),
         NotImplementedError),
    ]
    for make, exc in errors:
        with pytest.raises(exc) as want:
            make(torch)
        with pytest.raises(exc) as got:
            make(fastgrad)
        assert str(got.value).replace("fastgrad", "torch") == str(want.value), (str(got.value), str(want.value))
    b = D.Binomial(3, probs=fastgrad.tensor([0.2, 0.6]))
    np.testing.assert_array_equal(b.enumerate_support().numpy(),
                                  torch.distributions.Binomial(3, probs=torch.tensor([0.2, 0.6]))
                                  .enumerate_support().numpy())


def _transforms(lib, leaves):
    T = lib.distributions.transforms

    def t(a):
        x = lib.tensor(a, requires_grad=True)
        leaves.append(x)
        return x
    return [
        (T.ExpTransform(), LOGITS), (T.ExpTransform().inv, POS), (T.AffineTransform(t(LOGITS), t(POS)), LOGITS),
        (T.AffineTransform(1.5, -2.0), LOGITS), (T.AffineTransform(t(CONC[0]), t(CONC[1]), event_dim=1), CONC),
        (T.SigmoidTransform(), LOGITS), (T.SigmoidTransform().inv, PROBS), (T.TanhTransform(), LOGITS),
        (T.PowerTransform(t(POS2)), POS), (T.SoftplusTransform(), LOGITS), (T.StickBreakingTransform(), LOGITS),
        (T.StickBreakingTransform().inv, SIMPLEX),
        (T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform(), T.PowerTransform(lib.tensor(0.5))]),
         LOGITS),
        (T.IndependentTransform(T.SigmoidTransform(), 1), LOGITS),
        (T.CatTransform([T.ExpTransform(), T.AffineTransform(t(LOGITS[:1]), 2.0)], dim=0, lengths=[1, 1]), LOGITS),
        (T.StackTransform([T.ExpTransform(), T.SigmoidTransform(), T.TanhTransform()], dim=1), LOGITS),
        (T.CumulativeDistributionTransform(lib.distributions.Exponential(t(POS2))), POS),
        (T.CorrCholeskyTransform(), np.concatenate([LOGITS, POS], -1)),
    ]


def test_transforms_match_torch():
    got = {}
    for lib in (torch, fastgrad):
        leaves = []
        rows = []
        for tr, x in _transforms(lib, leaves):
            xv = lib.tensor(x, requires_grad=True)
            y = tr(xv)
            x_back = tr.inv(y.detach())
            ladj = tr.log_abs_det_jacobian(xv, y)
            g = lib.autograd.grad(y.sum() + ladj.sum(), [xv] + leaves, allow_unused=True)
            rows.append((y, x_back, ladj, g, tuple(tr.forward_shape(x.shape)), tuple(tr.inverse_shape(y.shape)),
                         tr.bijective, tr.domain.event_dim, tr.codomain.event_dim, repr(tr).replace("torch", "")))
        got[lib.__name__] = rows
    for i, (f, t) in enumerate(zip(got["fastgrad"], got["torch"])):
        for a, b in zip(f[:3], t[:3]):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12, err_msg=str(i))
        for a, b in zip(f[3], t[3]):
            if b is None:
                assert a is None or not np.any(_np(a))
            else:
                np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12, err_msg=str(i))
        assert f[4:] == t[4:], i
    T = fastgrad.distributions.transforms
    x = fastgrad.randn(3)
    cached = T.ExpTransform().with_cache(1)
    y = cached(x)
    assert cached.inv(y) is x and T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.TanhTransform()
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)
    low = T.LowerCholeskyTransform()
    m = fastgrad.tensor(COUNTS[:, :2].reshape(1, 2, 2) * 0.1)
    np.testing.assert_allclose(low(m).numpy(), torch.distributions.transforms.LowerCholeskyTransform()(
        torch.tensor(COUNTS[:, :2].reshape(1, 2, 2) * 0.1)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(low.inv(low(m)).numpy(), m.numpy(), rtol=1e-12, atol=1e-15)


def test_transformed_sampling():
    fastgrad.manual_seed(2)
    D = fastgrad.distributions
    cases = [D.LogNormal(fastgrad.tensor([0.0, 0.5]), fastgrad.tensor([0.3, 0.2])),
             D.HalfNormal(fastgrad.tensor([1.0, 2.0])), D.Gumbel(fastgrad.tensor([0.0]), fastgrad.tensor([2.0])),
             D.Pareto(fastgrad.tensor([1.0]), fastgrad.tensor([5.0])),
             D.Weibull(fastgrad.tensor([1.0, 2.0]), fastgrad.tensor([1.5, 3.0])),
             D.InverseGamma(fastgrad.tensor([6.0]), fastgrad.tensor([2.0])),
             D.StudentT(fastgrad.tensor([8.0]), fastgrad.tensor([1.0]), fastgrad.tensor([2.0]))]
    for d in cases:
        s = d.sample((40000,))
        assert tuple(s.shape) == (40000,) + tuple(d.batch_shape)
        np.testing.assert_allclose(s.mean(0).numpy(), d.mean.numpy(), rtol=0.05, atol=0.02)
        np.testing.assert_allclose(s.var(0).numpy(), d.variance.numpy(), rtol=0.15)
    c = D.Cauchy(fastgrad.tensor([1.0]), fastgrad.tensor([2.0])).sample((40000,))
    np.testing.assert_allclose(np.median(c.numpy()), 1.0, atol=0.05)
    ln = D.LogisticNormal(fastgrad.zeros(3), fastgrad.ones(3)).sample((5,))
    assert tuple(ln.shape) == (5, 4) and np.allclose(ln.sum(-1).numpy(), 1.0, rtol=1e-6)
    loc = fastgrad.tensor([0.2], requires_grad=True)
    D.LogNormal(loc, fastgrad.tensor([0.1])).rsample((10,)).sum().backward()
    assert loc.grad is not None and loc.grad.item() > 0
    e = D.Gumbel(0.0, 1.0).expand((2, 3))
    assert tuple(e.batch_shape) == (2, 3) and tuple(e.sample().shape) == (2, 3)
    assert tuple(D.Weibull(fastgrad.tensor(1.0), fastgrad.tensor(2.0)).expand((4,)).sample().shape) == (4,)


def test_relaxed_mixture_and_more_sampling():
    fastgrad.manual_seed(3)
    D = fastgrad.distributions
    for d in (D.Kumaraswamy(fastgrad.tensor([2.0, 0.7]), fastgrad.tensor([3.0, 1.5])),
              D.FisherSnedecor(fastgrad.tensor([6.0]), fastgrad.tensor([12.0])),
              D.ContinuousBernoulli(probs=fastgrad.tensor([0.2, 0.5, 0.9])),
              D.MixtureSameFamily(D.Categorical(probs=fastgrad.tensor([0.3, 0.7])),
                                  D.Normal(fastgrad.tensor([-2.0, 1.0]), fastgrad.tensor([0.5, 1.0])))):
        s = d.sample((40000,))
        assert tuple(s.shape) == (40000,) + tuple(d.batch_shape)
        np.testing.assert_allclose(s.mean(0).numpy(), d.mean.numpy(), rtol=0.05, atol=0.02)
        np.testing.assert_allclose(s.var(0).numpy(), d.variance.numpy(), rtol=0.15)
    vm = D.VonMises(fastgrad.tensor([0.5, -2.0]), fastgrad.tensor([2.0, 8.0]))
    v = vm.sample((40000,)).numpy()
    assert v.shape == (40000, 2) and (np.abs(v) <= np.pi).all()
    np.testing.assert_allclose(np.angle(np.exp(1j * v).mean(0)), [0.5, -2.0], atol=0.02)
    np.testing.assert_allclose(1 - np.abs(np.exp(1j * v).mean(0)), vm.variance.numpy(), rtol=0.05)
    assert tuple(vm.expand((3, 2)).batch_shape) == (3, 2)
    mix = D.MixtureSameFamily(D.Categorical(logits=fastgrad.zeros(2, 3)),
                              D.Independent(D.Normal(fastgrad.zeros(2, 3, 4), fastgrad.ones(2, 3, 4)), 1))
    assert tuple(mix.sample((5,)).shape) == (5, 2, 4) and tuple(mix.expand((6, 2)).batch_shape) == (6, 2)
    temp = fastgrad.tensor(0.5)
    logits = fastgrad.tensor([0.1, -0.3, 0.8], requires_grad=True)
    r = D.RelaxedOneHotCategorical(temp, logits=logits).rsample((7,))
    assert tuple(r.shape) == (7, 3) and np.allclose(r.sum(-1).detach().numpy(), 1.0)
    r[:, 0].sum().backward()
    assert logits.grad is not None
    b = D.RelaxedBernoulli(temp, probs=fastgrad.tensor([0.2, 0.9])).rsample((30000,))
    assert ((b.numpy() > 0) & (b.numpy() < 1)).all()
    np.testing.assert_allclose((b.numpy() > 0.5).mean(0), [0.2, 0.9], atol=0.02)
    with pytest.raises(ValueError, match="does not equal"):
        D.MixtureSameFamily(D.Categorical(logits=fastgrad.zeros(2)), D.Normal(fastgrad.zeros(3), 1.0))


def test_biject_to_and_transform_to():
    C = fastgrad.distributions.constraints
    TC = torch.distributions.constraints
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    for name, args in [("real", None), ("positive", None), ("nonnegative", None), ("unit_interval", None),
                       ("greater_than", (1.5,)), ("greater_than_eq", (-1.0,)), ("less_than", (2.0,)),
                       ("interval", (-1.0, 3.0)), ("half_open_interval", (0.0, 2.0)), ("simplex", None),
                       ("real_vector", None)]:
        for reg in ("biject_to", "transform_to"):
            fc = getattr(C, name) if args is None else getattr(C, name)(*args)
            tc = getattr(TC, name) if args is None else getattr(TC, name)(*args)
            ft = getattr(fastgrad.distributions, reg)(fc)
            tt = getattr(torch.distributions, reg)(tc)
            assert repr(ft) == repr(tt), (name, reg)
            y = ft(fastgrad.tensor(x))
            np.testing.assert_allclose(y.numpy(), tt(torch.tensor(x)).numpy(), rtol=1e-12, err_msg=name)
            assert bool(fc.check(y).all()), name
    lc = fastgrad.distributions.transform_to(C.lower_cholesky)
    assert isinstance(lc, fastgrad.distributions.transforms.LowerCholeskyTransform)
    with pytest.raises(NotImplementedError, match="Cannot transform _LowerCholesky constraints"):
        fastgrad.distributions.biject_to(C.lower_cholesky)


def test_lowrank_matrices_sampling_and_errors():
    res = {}
    for lib in (torch, fastgrad):
        d, _ = _params(lib, "LowRank")
        res[lib.__name__] = [d.covariance_matrix, d.precision_matrix, d.scale_tril, d.variance,
                             d.expand((3, 2)).log_prob(lib.tensor(SIMPLEX))]
    for a, b in zip(res["fastgrad"], res["torch"]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    fastgrad.manual_seed(4)
    D = fastgrad.distributions
    w = fastgrad.tensor(LOWRANK_W)
    d = D.LowRankMultivariateNormal(fastgrad.tensor(CONC[0]), w, fastgrad.tensor(CONC[1]))
    x = d.sample((40000,)).numpy()
    np.testing.assert_allclose(np.cov(x.T), d.covariance_matrix.numpy(), atol=0.12)
    for lib in (torch, fastgrad):
        with pytest.raises(ValueError) as err:
            lib.distributions.LowRankMultivariateNormal(lib.zeros(3), lib.zeros(2, 1), lib.ones(3))
        res[lib.__name__] = str(err.value)
    assert res["fastgrad"] == res["torch"]


@pytest.mark.parametrize("name", ["Normal", "Exponential", "Bernoulli", "Gamma", "ContinuousBernoulli"])
def test_exponential_family_bregman_entropy_and_kl(name):
    res = {}
    for lib in (torch, fastgrad):
        leaves = []
        p, _ = _params(lib, name, leaves)
        q, _ = _params(lib, {"Normal": "Normal", "Exponential": "Exponential", "Bernoulli": "Bernoulli",
                             "Gamma": "Gamma-b", "Beta": "Beta-b", "Dirichlet": "Dirichlet-b",
                             "ContinuousBernoulli": "ContinuousBernoulli-logits"}[name], leaves)
        assert isinstance(p, lib.distributions.ExponentialFamily)
        ent = lib.distributions.ExponentialFamily.entropy(p)
        kl_mod = lib.distributions.kl if lib is torch else fastgrad.distributions.kl_more
        kl = kl_mod._kl_expfamily_expfamily(p, q)
        res[lib.__name__] = [ent, kl] + list(lib.autograd.grad(ent.sum() + kl.sum(), leaves, allow_unused=True))
    for a, b in zip(res["fastgrad"], res["torch"]):
        if b is None:
            assert a is None or not np.any(_np(a))
        else:
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-7, atol=1e-10)
    msgs = []
    for lib in (torch, fastgrad):
        with pytest.raises(NotImplementedError) as err:
            lib.distributions.kl_divergence(lib.distributions.Poisson(lib.tensor([1.0])),
                                            lib.distributions.Normal(lib.tensor([0.0]), lib.tensor([1.0])))
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]


def test_one_hot_straight_through():
    fastgrad.manual_seed(5)
    probs = fastgrad.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], requires_grad=True)
    d = fastgrad.distributions.OneHotCategoricalStraightThrough(probs=probs)
    r = d.rsample((4,))
    assert tuple(r.shape) == (4, 2, 3) and (r.detach().sum(-1).numpy() == 1).all()
    (r * fastgrad.tensor([1.0, 2.0, 3.0])).sum().backward()
    tprobs = torch.tensor(probs.detach().numpy(), requires_grad=True)
    tr = torch.distributions.OneHotCategoricalStraightThrough(probs=tprobs).rsample((4,))
    (tr * torch.tensor([1.0, 2.0, 3.0])).sum().backward()  # the gradient does not depend on the draw
    np.testing.assert_allclose(probs.grad.numpy(), tprobs.grad.numpy(), rtol=1e-6)
    c = fastgrad.distributions.constraints
    v = fastgrad.tensor([[0.5, 2.0, -1.0]])
    np.testing.assert_array_equal(c.cat([c.unit_interval, c.positive], dim=1, lengths=[1, 2]).check(v).numpy(),
                                  [[True, True, False]])
    np.testing.assert_array_equal(c.stack([c.unit_interval, c.positive, c.real], dim=1).check(v).numpy(),
                                  [[True, True, True]])


def test_generalized_pareto_float32():
    # torch's log_prob compares the concentration with a float32 zero, so it only runs in float32
    conc = np.array([[0.3, 0.0, -0.2], [0.7, 0.1, 0.0]], dtype=np.float32)
    value = (LOGITS + 0.4 * POS).astype(np.float32)
    res = {}
    for lib in (torch, fastgrad):
        leaves = [lib.tensor(a.astype(np.float32), requires_grad=True) for a in (LOGITS, POS, conc)]
        d = lib.distributions.GeneralizedPareto(*leaves)
        out = [d.log_prob(lib.tensor(value)), d.cdf(lib.tensor(value)), d.icdf(lib.tensor(np.full((2, 3), 0.3,
                                                                                                  np.float32))),
               d.entropy(), d.mean, d.variance, d.log_survival_function(lib.tensor(value))]
        total = sum(o[lib.isfinite(o)].sum() for o in out)
        res[lib.__name__] = out + list(lib.autograd.grad(total, leaves))
        assert tuple(d.expand((4, 2, 3)).batch_shape) == (4, 2, 3)
    for a, b in zip(res["fastgrad"], res["torch"]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=2e-5, atol=1e-5, equal_nan=True)
    fastgrad.manual_seed(6)
    g = fastgrad.distributions.GeneralizedPareto(0.0, 1.0, 0.2)
    s = g.sample((40000,))
    np.testing.assert_allclose(s.mean().item(), g.mean.item(), rtol=0.03)


def test_lkj_cholesky():
    x = np.concatenate([LOGITS, POS], -1)
    res = {}
    for lib in (torch, fastgrad):
        conc = lib.tensor([0.5, 2.0], dtype=lib.float64, requires_grad=True)
        xv = lib.tensor(x, requires_grad=True)
        y = lib.distributions.transforms.CorrCholeskyTransform()(xv)
        d = lib.distributions.LKJCholesky(4, conc)
        lp = d.log_prob(y)
        res[lib.__name__] = [lp] + list(lib.autograd.grad(lp.sum(), [conc, xv]))
        assert tuple(d.expand((3, 2)).batch_shape) == (3, 2) and tuple(d.event_shape) == (4, 4)
        assert repr(lib.distributions.biject_to(lib.distributions.constraints.corr_cholesky)) == \
            "CorrCholeskyTransform()"
    for a, b in zip(res["fastgrad"], res["torch"]):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12)
    fastgrad.manual_seed(7)
    s = fastgrad.distributions.LKJCholesky(3, fastgrad.tensor([1.0, 4.0], dtype=fastgrad.float64)).sample((20000,))
    assert tuple(s.shape) == (20000, 2, 3, 3)
    assert bool(fastgrad.distributions.constraints.corr_cholesky.check(s).all())
    corr = (s @ s.transpose(-2, -1)).numpy()
    # LKJ(eta) in 3 dimensions: each correlation has variance 1 / (2 eta + 2)
    np.testing.assert_allclose(corr[:, :, 0, 1].var(0), [1 / 4, 1 / 10], rtol=0.06)
    with pytest.raises(ValueError, match="Expected dim to be an integer greater than or equal to 2. Found dim=1."):
        fastgrad.distributions.LKJCholesky(1)
