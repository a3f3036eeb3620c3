"""fastgrad's random generator (reproducible with manual_seed) and the random creation ops."""
import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine


class Generator:
    """A seeded NumPy PCG64 generator, like torch.Generator."""

    def __init__(self, device="cpu"):
        self._seed = 67280421310721
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed fastgrad's default generator (rand, randn, randint, randperm, dropout, nn.init, shuffling)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def rng(generator=None):
    return (generator or default_generator)._rng


def fill_(t, kind, a, b, generator=None):
    """In-place uniform/normal fill used by Tensor.uniform_/normal_ and nn.init."""
    r = rng(generator)
    shape = t._data.shape
    vals = r.uniform(a, b, shape) if kind == "uniform" else r.normal(a, b, shape)
    t._data[...] = vals.astype(t._data.dtype, copy=False)
    t._vc.value += 1
    return t


def _float_dtype(dtype):
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError('"normal_kernel_cpu" not implemented for \'%s\'' % d.name.capitalize())
    return d.np


def _make(data, requires_grad):
    t = engine.make_tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t
