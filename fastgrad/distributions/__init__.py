"""torch.distributions: parameterised probability distributions with torch's formulas for
log_prob, entropy, moments, cdf/icdf and reparameterised sampling (rsample), sampling from
fastgrad's generator, and kl_divergence with closed forms.

Included: Normal, Uniform, Exponential, Laplace, Bernoulli, Categorical, OneHotCategorical,
Independent, MultivariateNormal, Gamma, Chi2, Beta, Dirichlet, Poisson, Binomial, Geometric,
NegativeBinomial, Multinomial, TransformedDistribution and the transforms, LogNormal, HalfNormal,
Cauchy, HalfCauchy, Gumbel, Pareto, Weibull, InverseGamma, StudentT, LogisticNormal; constraints; kl_divergence / register_kl."""
from fastgrad.distributions import constraints  # noqa: F401
from fastgrad.distributions.categorical import (Categorical, OneHotCategorical,  # noqa: F401
                                                OneHotCategoricalStraightThrough)
from fastgrad.distributions.discrete import Binomial, Geometric, Multinomial, NegativeBinomial, Poisson  # noqa: F401
from fastgrad.distributions.distribution import Distribution  # noqa: F401
from fastgrad.distributions.gamma import Beta, Chi2, Dirichlet, Gamma  # noqa: F401
from fastgrad.distributions.independent import Independent  # noqa: F401
from fastgrad.distributions import transforms  # noqa: F401
from fastgrad.distributions.constraint_registry import biject_to, transform_to  # noqa: F401
from fastgrad.distributions.transformed import (Cauchy, Gumbel, HalfCauchy, HalfNormal, InverseGamma,  # noqa: F401
                                                LogisticNormal, LogNormal, Pareto, StudentT, TransformedDistribution,
                                                Weibull)
from fastgrad.distributions.transforms import *  # noqa: F401,F403
from fastgrad.distributions.relaxed import (FisherSnedecor, Kumaraswamy, MixtureSameFamily,  # noqa: F401
                                            RelaxedBernoulli, RelaxedOneHotCategorical)
from fastgrad.distributions import relaxed_bernoulli, relaxed_categorical  # noqa: F401
from fastgrad.distributions.continuous import ContinuousBernoulli, GeneralizedPareto, VonMises  # noqa: F401
from fastgrad.distributions.lowrank_multivariate_normal import LowRankMultivariateNormal  # noqa: F401
from fastgrad.distributions.exp_family import ExponentialFamily  # noqa: F401
from fastgrad.distributions.lkj_cholesky import LKJCholesky  # noqa: F401
from fastgrad.distributions.kl import kl_divergence, register_kl  # noqa: F401
from fastgrad.distributions import kl_more  # noqa: F401,E402  (registers more closed forms)
from fastgrad.distributions.multivariate_normal import MultivariateNormal  # noqa: F401
from fastgrad.distributions.simple import Bernoulli, Exponential, Laplace, Normal, Uniform  # noqa: F401
from fastgrad.distributions.wishart import Wishart  # noqa: F401,E402

__all__ = ["Wishart", "LKJCholesky", "GeneralizedPareto", "OneHotCategoricalStraightThrough", "ExponentialFamily", "LowRankMultivariateNormal", "ContinuousBernoulli", "VonMises", "FisherSnedecor", "Kumaraswamy", "MixtureSameFamily", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "Cauchy", "Gumbel", "HalfCauchy", "HalfNormal", "InverseGamma", "LogisticNormal", "LogNormal", "Pareto",
           "StudentT", "TransformedDistribution", "Weibull", "biject_to", "transform_to", "transforms"] + transforms.__all__ + ["Bernoulli", "Beta", "Binomial", "Categorical", "Chi2", "Dirichlet", "Distribution", "Exponential", "Gamma",
           "Geometric", "Independent", "Laplace", "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal",
           "OneHotCategorical", "Poisson", "Uniform", "constraints", "kl_divergence", "register_kl"]
