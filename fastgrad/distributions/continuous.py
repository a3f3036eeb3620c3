"""ContinuousBernoulli, VonMises and GeneralizedPareto (torch's formulas; von Mises draws from NumPy's sampler
through fastgrad's generator)."""
import math
import numbers

import numpy as np

import fastgrad
from fastgrad._random import rng
from fastgrad.distributions import constraints
from fastgrad.distributions.distribution import Distribution
from fastgrad.distributions.exp_family import ExponentialFamily
from fastgrad.distributions.utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["ContinuousBernoulli", "GeneralizedPareto", "VonMises"]


class ContinuousBernoulli(ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    _mean_carrier_measure = 0
    has_rsample = True

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            is_scalar = isinstance(probs, numbers.Number)
            (self.probs,) = broadcast_all(probs)
            if validate_args is not None and not bool(self.arg_constraints["probs"].check(self.probs).all()):
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(self.probs)
        else:
            is_scalar = isinstance(logits, numbers.Number)
            (self.logits,) = broadcast_all(logits)
        self._param = self.probs if probs is not None else self.logits
        self._lims = lims
        super().__init__(fastgrad.Size() if is_scalar else self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(ContinuousBernoulli, _instance)
        batch_shape = fastgrad.Size(batch_shape)
        new._lims = self._lims
        self._expand_probs_logits(new, batch_shape)
        return self._finish_expand(new, batch_shape)

    def _new(self, *args, **kwargs):
        return self._param.new(*args, **kwargs)

    def _outside_unstable_region(self):
        return fastgrad.le(self.probs, self._lims[0]) | fastgrad.gt(self.probs, self._lims[1])

    def _cut_probs(self):
        return fastgrad.where(self._outside_unstable_region(), self.probs,
                              self._lims[0] * fastgrad.ones_like(self.probs))

    def _cont_bern_log_norm(self):
        """log of the normaliser; near probs = 1/2 a Taylor expansion replaces the 0/0 form."""
        cut = self._cut_probs()
        below = fastgrad.where(fastgrad.le(cut, 0.5), cut, fastgrad.zeros_like(cut))
        above = fastgrad.where(fastgrad.ge(cut, 0.5), cut, fastgrad.ones_like(cut))
        log_norm = fastgrad.log(fastgrad.abs(fastgrad.log1p(-cut) - fastgrad.log(cut))) - fastgrad.where(
            fastgrad.le(cut, 0.5), fastgrad.log1p(-2.0 * below), fastgrad.log(2.0 * above - 1.0))
        x = fastgrad.pow(self.probs - 0.5, 2)
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return fastgrad.where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / (fastgrad.log1p(-cut) - fastgrad.log(cut))
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * fastgrad.pow(x, 2)) * x
        return fastgrad.where(self._outside_unstable_region(), mus, taylor)

    @property
    def stddev(self):
        return fastgrad.sqrt(self.variance)

    @property
    def variance(self):
        cut = self._cut_probs()
        var = cut * (cut - 1.0) / fastgrad.pow(1.0 - 2.0 * cut, 2) + 1.0 / fastgrad.pow(
            fastgrad.log1p(-cut) - fastgrad.log(cut), 2)
        x = fastgrad.pow(self.probs - 0.5, 2)
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return fastgrad.where(self._outside_unstable_region(), var, taylor)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def param_shape(self):
        return self._param.size()

    def sample(self, sample_shape=()):
        u = fastgrad.rand(*self._extended_shape(sample_shape), dtype=self.probs.dtype)
        with fastgrad.no_grad():
            return self.icdf(u)

    def rsample(self, sample_shape=()):
        return self.icdf(fastgrad.rand(*self._extended_shape(sample_shape), dtype=self.probs.dtype))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return (-fastgrad.nn.functional.binary_cross_entropy_with_logits(logits, value, reduction="none")
                + self._cont_bern_log_norm())

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (fastgrad.pow(cut, value) * fastgrad.pow(1.0 - cut, 1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = fastgrad.where(self._outside_unstable_region(), cdfs, value)
        return fastgrad.where(fastgrad.le(value, 0.0), fastgrad.zeros_like(value),
                              fastgrad.where(fastgrad.ge(value, 1.0), fastgrad.ones_like(value), unbounded))

    def icdf(self, value):
        cut = self._cut_probs()
        inside = ((fastgrad.log1p(-cut + value * (2.0 * cut - 1.0)) - fastgrad.log1p(-cut))
                  / (fastgrad.log(cut) - fastgrad.log1p(-cut)))
        return fastgrad.where(self._outside_unstable_region(), inside, value)

    def entropy(self):
        log_probs0 = fastgrad.log1p(-self.probs)
        log_probs1 = fastgrad.log(self.probs)
        return self.mean * (log_probs0 - log_probs1) - self._cont_bern_log_norm() - log_probs0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        unstable = fastgrad.le(x, self._lims[0] - 0.5) | fastgrad.gt(x, self._lims[1] - 0.5)
        cut = fastgrad.where(unstable, x, (self._lims[0] - 0.5) * fastgrad.ones_like(x))
        log_norm = fastgrad.log(fastgrad.abs(fastgrad.expm1(cut))) - fastgrad.log(fastgrad.abs(cut))
        taylor = 0.5 * x + fastgrad.pow(x, 2) / 24.0 - fastgrad.pow(x, 4) / 2880.0
        return fastgrad.where(unstable, log_norm, taylor)


# Polynomial approximations of the modified Bessel functions I0, I1 (Abramowitz & Stegun
# 9.8.1-9.8.4), the ones torch's VonMises evaluates, so log_prob agrees with it.
_I0_SMALL = [1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2]
_I0_LARGE = [0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2, -0.2057706e-1, 0.2635537e-1,
             -0.1647633e-1, 0.392377e-2]
_I1_SMALL = [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2, 0.32411e-3]
_I1_LARGE = [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1, 0.2282967e-1, -0.2895312e-1,
             0.1787654e-1, -0.420059e-2]


def _horner(y, coef):
    result = coef[-1]
    for c in reversed(coef[:-1]):
        result = c + y * result
    return result


def _log_bessel_i(x, order=0):
    """log I_order(x) for x > 0, order 0 or 1."""
    small_coef, large_coef = (_I0_SMALL, _I0_LARGE) if order == 0 else (_I1_SMALL, _I1_LARGE)
    y = (x / 3.75) * (x / 3.75)
    small = _horner(y, small_coef)
    if order == 1:
        small = x.abs() * small
    small = small.log()
    large = x - 0.5 * x.log() + _horner(3.75 / x, large_coef).log()
    return fastgrad.where(x < 3.75, small, large)


class VonMises(Distribution):
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, fastgrad.Size(), validate_args)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (self.concentration * fastgrad.cos(value - self.loc) - math.log(2 * math.pi)
                - _log_bessel_i(self.concentration, order=0))

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        loc = np.broadcast_to(self.loc.detach().numpy().astype(np.float64), shape)
        kappa = np.broadcast_to(self.concentration.detach().numpy().astype(np.float64), shape)
        draws = rng().vonmises(loc, kappa)  # in [-pi, pi]
        return fastgrad.tensor(draws, dtype=self.loc.dtype)

    def expand(self, batch_shape, _instance=None):
        validate_args = self.__dict__.get("_validate_args")
        return type(self)(self.loc.expand(batch_shape), self.concentration.expand(batch_shape),
                          validate_args=validate_args)

    # twin of distributions/simple.py Normal: torch's per-distribution structure
    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        return 1 - (_log_bessel_i(self.concentration, order=1) - _log_bessel_i(self.concentration, order=0)).exp()


class GeneralizedPareto(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive, "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        if all(isinstance(v, numbers.Number) for v in (loc, scale, concentration)):
            batch_shape = fastgrad.Size()
        else:
            batch_shape = self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = fastgrad.Size(batch_shape)
        new.loc, new.scale = self.loc.expand(batch_shape), self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        return self._finish_expand(new, batch_shape)

    def rsample(self, sample_shape=()):
        return self.icdf(fastgrad.rand(*self._extended_shape(sample_shape), dtype=self.loc.dtype))

    def _safe_concentration(self):
        """(concentration == 0 mask, concentration with those entries set to 1)."""
        eq_zero = fastgrad.isclose(self.concentration, fastgrad.zeros_like(self.concentration))
        return eq_zero, fastgrad.where(eq_zero, fastgrad.ones_like(self.concentration), self.concentration)

    def _z(self, x):
        return (x - self.loc) / self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        y = 1 / safe_conc + fastgrad.ones_like(z)
        where_nonzero = fastgrad.where(y == 0, y, y * fastgrad.log1p(safe_conc * z))
        log_scale = math.log(self.scale) if isinstance(self.scale, numbers.Real) else self.scale.log()
        return -log_scale - fastgrad.where(eq_zero, z, where_nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, safe_conc = self._safe_concentration()
        return fastgrad.where(eq_zero, -z, -fastgrad.log1p(safe_conc * z) / safe_conc)

    def log_cdf(self, value):
        return fastgrad.log1p(-fastgrad.exp(self.log_survival_function(value)))

    def cdf(self, value):
        return fastgrad.exp(self.log_cdf(value))

    def icdf(self, value):
        eq_zero, safe_conc = self._safe_concentration()
        logu = fastgrad.log1p(-value)
        where_nonzero = self.loc + self.scale / safe_conc * fastgrad.expm1(-safe_conc * logu)
        return fastgrad.where(eq_zero, self.loc - self.scale * logu, where_nonzero)

    @property
    def mean(self):
        valid = self.concentration < 1
        safe_conc = fastgrad.where(valid, self.concentration, fastgrad.full_like(self.concentration, 0.5))
        result = self.loc + self.scale / (1 - safe_conc)
        return fastgrad.where(valid, result, fastgrad.full_like(result, math.nan))

    @property
    def variance(self):
        valid = self.concentration < 0.5
        safe_conc = fastgrad.where(valid, self.concentration, fastgrad.full_like(self.concentration, 0.25))
        result = self.scale ** 2 / ((1 - safe_conc) ** 2 * (1 - 2 * safe_conc))
        return fastgrad.where(valid, result, fastgrad.full_like(result, math.nan))

    def entropy(self):
        return (fastgrad.log(self.scale) + self.concentration + 1).expand(self._batch_shape)

    @property
    def mode(self):
        return self.loc

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        lower = self.loc
        upper = fastgrad.where(self.concentration < 0, lower - self.scale / self.concentration,
                               fastgrad.full_like(lower, math.inf))
        return constraints.interval(lower, upper)
