"""torch.distributions.relaxed_categorical: ExpRelaxedCategorical and RelaxedOneHotCategorical."""
from fastgrad.distributions.relaxed import ExpRelaxedCategorical, RelaxedOneHotCategorical  # noqa: F401

__all__ = ["RelaxedOneHotCategorical"]
