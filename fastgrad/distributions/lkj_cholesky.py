"""LKJCholesky: the Cholesky factor of an LKJ-distributed correlation matrix (onion-method
sampling from a Beta, torch's normalising constant)."""
import math

import fastgrad
from fastgrad.distributions import constraints
from fastgrad.distributions._special import lgamma
from fastgrad.distributions.distribution import Distribution
from fastgrad.distributions.gamma import Beta
from fastgrad.distributions.utils import broadcast_all

__all__ = ["LKJCholesky"]


def _mvlgamma(a, p):
    """The multivariate log-gamma function of dimension p."""
    out = p * (p - 1) / 4 * math.log(math.pi)
    for i in range(p):
        out = out + lgamma(a - i / 2)
    return out


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        marginal_conc = self.concentration + 0.5 * (self.dim - 2)
        offset = fastgrad.arange(self.dim - 1, dtype=self.concentration.dtype)
        offset = fastgrad.cat([offset.new_zeros((1,)), offset])
        self._beta = Beta(offset + 0.5, marginal_conc.unsqueeze(-1) - 0.5 * offset)
        super().__init__(self.concentration.size(), fastgrad.Size((dim, dim)), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = fastgrad.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(tuple(batch_shape) + (self.dim,))
        return self._finish_expand(new, batch_shape, self.event_shape)

    def sample(self, sample_shape=()):
        with fastgrad.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u_normal = fastgrad.randn(*self._extended_shape(sample_shape), dtype=y.dtype).tril(-1)
            first_row = fastgrad.arange(self.dim).unsqueeze(-1) == 0  # the first row is all zeros below the diagonal
            norm = fastgrad.where(first_row, fastgrad.ones_like(u_normal[..., :1]), u_normal.norm(dim=-1, keepdim=True))
            u_hypersphere = u_normal / norm
            w = fastgrad.sqrt(y) * u_hypersphere
            diag = fastgrad.clamp(1 - fastgrad.sum(w ** 2, dim=-1), min=fastgrad.finfo(w.dtype).tiny).sqrt()
            return w + fastgrad.diag_embed(diag)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diag_elems = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = fastgrad.arange(2, self.dim + 1)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized_log_pdf = fastgrad.sum(order * diag_elems.log(), dim=-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normalize_term = 0.5 * dm1 * math.log(math.pi) + _mvlgamma(alpha - 0.5, dm1) - lgamma(alpha) * dm1
        return unnormalized_log_pdf - normalize_term
