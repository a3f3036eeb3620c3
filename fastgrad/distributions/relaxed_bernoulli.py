"""torch.distributions.relaxed_bernoulli: LogitRelaxedBernoulli and RelaxedBernoulli."""
from fastgrad.distributions.relaxed import LogitRelaxedBernoulli, RelaxedBernoulli  # noqa: F401

__all__ = ["RelaxedBernoulli"]
