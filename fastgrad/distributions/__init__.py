"""torch.distributions: parameterised probability distributions with torch's formulas for
log_prob, entropy, moments, cdf/icdf and reparameterised sampling (rsample), sampling from
fastgrad's generator, and kl_divergence with closed forms.

Included: Normal, Uniform, Exponential, Laplace, Bernoulli, Categorical, OneHotCategorical,
Independent, MultivariateNormal; constraints; kl_divergence / register_kl. Other torch
distributions (Beta, Gamma, Dirichlet, transforms, ...) are not implemented yet."""
from fastgrad.distributions import constraints  # noqa: F401
from fastgrad.distributions.categorical import Categorical, OneHotCategorical  # noqa: F401
from fastgrad.distributions.distribution import Distribution  # noqa: F401
from fastgrad.distributions.independent import Independent  # noqa: F401
from fastgrad.distributions.kl import kl_divergence, register_kl  # noqa: F401
from fastgrad.distributions.multivariate_normal import MultivariateNormal  # noqa: F401
from fastgrad.distributions.simple import Bernoulli, Exponential, Laplace, Normal, Uniform  # noqa: F401

__all__ = ["Bernoulli", "Categorical", "Distribution", "Exponential", "Independent", "Laplace", "MultivariateNormal",
           "Normal", "OneHotCategorical", "Uniform", "constraints", "kl_divergence", "register_kl"]
