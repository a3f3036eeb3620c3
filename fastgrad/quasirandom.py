"""torch.quasirandom.SobolEngine: Sobol' low-discrepancy sequences (Joe & Kuo direction numbers,
up to 21201 dimensions, 30 bits), drawn by SciPy's generator; unscrambled points are torch's
exactly. Scrambling (linear matrix scramble and digital shift, as torch's) draws its random bits
from SciPy's generator seeded with `seed`, so scrambled points differ from torch's."""
import warnings

import numpy as np

__all__ = ["SobolEngine"]


class SobolEngine:
    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError("Supported range of dimensionality for SobolEngine is [1, %d]" % self.MAXDIM)
        from scipy.stats import qmc

        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        self._engine = qmc.Sobol(dimension, scramble=scramble, bits=self.MAXBIT, seed=seed)
        self.num_generated = 0

    def draw(self, n=1, out=None, dtype=None):
        """The next n points, an (n, dimension) tensor (the default dtype unless dtype)."""
        import fastgrad

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SciPy's balance warning: torch draws any n
            pts = self._engine.random(n)
        dtype = dtype if dtype is not None else fastgrad.get_default_dtype()
        result = fastgrad.tensor(np.ascontiguousarray(pts), dtype=dtype)
        self.num_generated += n
        if out is not None:
            out.data = result
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """The next 2**m points; the total drawn must stay a power of 2."""
        n = 2 ** m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError("The balance properties of Sobol' points require n to be a power of 2. %d points have "
                             "been previously generated, then: n=%d+2**%d=%d. If you still want to do this, please "
                             "use 'SobolEngine.draw()' instead." % (self.num_generated, self.num_generated, m, total_n))
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        """Back to the first point."""
        self._engine.reset()
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip n points."""
        self._engine.fast_forward(n)
        self.num_generated += n
        return self

    def __repr__(self):
        parts = ["dimension=%d" % self.dimension]
        if self.scramble:
            parts.append("scramble=True")
        if self.seed is not None:
            parts.append("seed=%s" % self.seed)
        return "%s(%s)" % (type(self).__name__, ", ".join(parts))
