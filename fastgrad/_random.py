"""fastgrad's random generator: torch's CPU generator (mt19937, torch's seeding, its state
layout) and the draws of torch's CPU kernels, bit for bit, so that a program that calls
manual_seed gets torch's numbers.

The engine is a uint32[626] array (mt19937's words, torch's `left` and `next`) advanced by
the backend's kernels (K.rng_*: csrc/random.pxi, twin fastgrad/_np/random.py). The fills
here follow torch's CPU kernels (aten/src/ATen/native/cpu/DistributionTemplates.h):
element order is TensorIterator's (memory order), float32/float64 uniform and normal fills
run in the kernels, the per-element double-precision distributions (the normal of tensors
under 16 elements or not contiguous, exponential, cauchy, ...) in NumPy with libm's math.
"""
import math
import os
import struct

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import K, engine

_N = 624
_STATE_BYTES = 5056  # sizeof(CPUGeneratorImplState)
_DEFAULT_SEED = 67280421310721


def _to_u64(seed):
    seed = int(seed)
    if seed < 0:
        if seed < -0x8000_0000_0000_0000:
            raise RuntimeError("Overflow when unpacking long long")
        seed += 1 << 64
    if seed > 0xFFFF_FFFF_FFFF_FFFF:
        raise RuntimeError("Overflow when unpacking long long")
    return seed


class _Engine:
    """The generator's state array behind one attribute, `st`: every draw reads it through
    Generator._rng (fastgrad.compile swaps _rng for a spy to catch draws outside ops)."""

    __slots__ = ("st",)

    def __init__(self, st):
        self.st = st


class Generator:
    """torch.Generator for the CPU: mt19937 seeded as torch seeds it."""

    def __init__(self, device="cpu"):
        self._device = device
        self._rng = _Engine(np.zeros(_N + 2, np.uint32))
        self._next_double = None  # torch's cached second Box-Muller sample (double)
        self._next_float = None
        self._seed = 0
        self.manual_seed(_DEFAULT_SEED)

    @property
    def _st(self):
        return self._rng.st

    def manual_seed(self, seed):
        seed = _to_u64(seed)
        self._seed = seed
        self._next_double = self._next_float = None
        K.rng_seed(self._st, seed)
        return self

    def seed(self):
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 53) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """torch's state tensor: CPUGeneratorImplState's bytes (uint8, 5056)."""
        buf = bytearray(_STATE_BYTES)
        left, nxt = int(self._st[_N]), int(self._st[_N + 1])
        struct.pack_into("<QiiQ", buf, 0, self._seed, left, 1, nxt)
        buf[24:24 + 8 * _N] = self._st[:_N].astype("<u8").tobytes()
        if self._next_double is not None:
            struct.pack_into("<d", buf, 5024, self._next_double)
            struct.pack_into("<i", buf, 5040, 1)
        if self._next_float is not None:
            struct.pack_into("<f?", buf, 5048, self._next_float, True)
        return engine.make_tensor(np.frombuffer(bytes(buf), np.uint8).copy())

    def set_state(self, new_state):
        data = getattr(new_state, "_data", None)
        if data is None or data.dtype != np.uint8:
            raise TypeError("expected a torch.ByteTensor, but got %s" % type(new_state).__name__)
        if data.size != _STATE_BYTES:
            raise RuntimeError("Expected a CPUGeneratorImplState of size %d but found the input RNG state size "
                               "to be %d" % (_STATE_BYTES, data.size))
        raw = np.ascontiguousarray(data).reshape(-1).tobytes()
        seed, left, seeded, nxt = struct.unpack_from("<QiiQ", raw, 0)
        if not (seeded and 0 < left <= _N and (nxt & 0xFFFFFFFF) <= _N):
            raise RuntimeError("Invalid mt19937 state")
        words = np.frombuffer(raw, "<u8", _N, 24)
        self._st[:_N] = words.astype(np.uint32)
        self._st[_N], self._st[_N + 1] = left, nxt & 0xFFFFFFFF
        self._seed = seed
        (ny,) = struct.unpack_from("<d", raw, 5024)
        (valid,) = struct.unpack_from("<i", raw, 5040)
        self._next_double = ny if valid else None
        fv, fvalid = struct.unpack_from("<f?", raw, 5048)
        self._next_float = fv if fvalid else None
        return self

    @property
    def device(self):
        from fastgrad import device as _dev

        d = self._device
        return d if isinstance(d, _dev) else _dev(d if d is not None else "cpu")

    def clone_state(self):
        g = Generator(self._device)
        g._st[...] = self._st
        g._seed, g._next_double, g._next_float = self._seed, self._next_double, self._next_float
        return g

    graphsafe_get_state = clone_state

    def graphsafe_set_state(self, other):
        self._st[...] = other._st
        self._seed, self._next_double, self._next_float = other._seed, other._next_double, other._next_float
        return self

    def __repr__(self):
        return "<torch._C.Generator object at 0x%x>" % id(self)

    # ------------------------------------------------------------------ raw draws
    def _raw32(self, n):
        return K.rng_raw32(self._st, np.empty(n, np.uint32))

    def _raw64(self, n):
        return K.rng_raw64(self._st, np.empty(n, np.uint64))

    def _uniform(self, n, dtype=np.float64, lo=0.0, hi=1.0):
        """n draws of uniform_real_distribution<dtype>(lo, hi) (float32: 24 bits of random(),
        float64: 53 bits of random64())."""
        return K.rng_uniform(self._st, np.empty(n, dtype), lo, hi)

    def _normal_double(self, n, mean=0.0, std=1.0):
        """n draws of normal_distribution<double>(mean, std), torch's Box-Muller with the
        second sample of each pair cached on the generator (as torch caches it)."""
        out = np.empty(n, np.float64)
        i = 0
        if n and self._next_double is not None:
            out[0] = self._next_double
            self._next_double = None
            i = 1
        pairs = (n - i + 1) // 2
        if pairs:
            u = self._uniform(2 * pairs).reshape(pairs, 2)
            r = np.sqrt(-2.0 * _libm_log1p(-u[:, 1]))
            theta = 2.0 * math.pi * u[:, 0]
            both = np.empty((pairs, 2))
            both[:, 0] = r * _libm_cos(theta)
            both[:, 1] = r * _libm_sin(theta)
            vals = both.reshape(-1)
            out[i:] = vals[:n - i]
            if (n - i) % 2:
                self._next_double = float(vals[-1])
        return _fma64(out, std, mean) if (mean != 0.0 or std != 1.0) else out


def _libm_fn(name, lo, hi):
    from fastgrad._np.random import _libm

    return _libm(name, lo, hi)


# each probed on the range its sampler calls it on
_libm_log1p = _libm_fn("log1p", -1.0, 0.0)
_libm_cos = _libm_fn("cos", 0.0, 2 * math.pi)
_libm_sin = _libm_fn("sin", 0.0, 2 * math.pi)
_libm_log = _libm_fn("log", 1e-12, 1.0)
_libm_exp = _libm_fn("exp", -10.0, 10.0)
_libm_tan = _libm_fn("tan", -1.5707, 1.5707)


def _fma64(a, b, c):
    from fastgrad._np.random import fma64

    return fma64(a, b, c)


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


def gen(generator=None):
    """The generator to draw from: the one given, else the default."""
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError("expected a torch.Generator, but got %s" % type(generator).__name__)
    return generator


def rng(generator=None):
    """A NumPy generator seeded from one random64() draw of fastgrad's generator, for the few
    samplers that do not follow torch's draws (gamma, von Mises, binomial): reproducible under
    manual_seed, correct in distribution, not torch's numbers."""
    return np.random.Generator(np.random.PCG64(int(gen(generator)._raw64(1)[0])))


# --------------------------------------------------------------------------- element order
def _iter_view(a):
    """A view of `a` whose C order is TensorIterator's order for a nullary kernel: dimensions
    sorted by stride, the largest outermost (memory order of a permuted view)."""
    if a.flags.c_contiguous or a.ndim < 2:
        return a
    perm = sorted(range(a.ndim), key=lambda d: (-abs(a.strides[d]), d))
    return a.transpose(perm)


def _write(a, vals):
    """Store vals (in TensorIterator order) into a, converting as torch's static_cast."""
    v = _iter_view(a)
    v[...] = _cast(vals, a.dtype).reshape(v.shape)


def _cast(vals, dt):
    if dt == vals.dtype:
        return vals
    if vals.dtype == np.float64 and (dt == _dtype.F16 or dt is _dtype.BF16):
        vals = vals.astype(np.float32)  # c10::Half / BFloat16 are constructed from float
    return vals.astype(dt)


def _real_view(a):
    """view_as_real of a complex array (torch fills complex tensors through it)."""
    return a.view(np.float32 if a.dtype == np.complex64 else np.float64).reshape(a.shape + (2,))


# --------------------------------------------------------------------------- fills
def uniform_(a, lo, hi, generator=None):
    """torch's uniform_ kernel on the array a (float16/bfloat16 through float32, as torch's opmath)."""
    g = gen(generator)
    if a.dtype.kind == "c":
        uniform_(_real_view(a), lo, hi, g)
        return a
    if a.size == 0:
        return a
    dt = a.dtype
    work = np.float64 if dt == np.float64 else np.float32
    vals = g._uniform(a.size, work, lo, hi)
    if work != dt:
        hv, lv = np.array([hi, lo], np.float32).astype(dt)
        vals = vals.astype(dt)
        vals[vals == hv] = lv
    _write(a, vals)
    return a


def normal_(a, mean, std, generator=None):
    """torch's normal kernel on the array a: the Box-Muller fill on a C-contiguous array of at
    least 16 elements, else normal_distribution<double> element by element."""
    g = gen(generator)
    if a.dtype.kind == "c":
        normal_(_real_view(a), mean, std / math.sqrt(2), g)
        return a
    n = a.size
    if n == 0:
        return a
    if n >= 16 and a.flags.c_contiguous:
        flat = a.reshape(-1)
        if a.dtype in (np.float32, np.float64):
            K.rng_normal(g._st, flat, mean, std)
        else:  # half / bfloat16: float32 blocks of 16, cast down
            m = n // 16 * 16
            flat[:m] = K.rng_normal(g._st, np.empty(m, np.float32), mean, std).astype(a.dtype)
            if n % 16:
                flat[n - 16:] = K.rng_normal(g._st, np.empty(16, np.float32), mean, std).astype(a.dtype)
        return a
    _write(a, g._normal_double(n, float(mean), float(std)))
    return a


def fill_(t, kind, a, b, generator=None, **kwargs):
    """In-place uniform/normal fill of a tensor (Tensor.uniform_/normal_, nn.init)."""
    if kwargs:
        raise TypeError("%s_() got an unexpected keyword argument '%s'" % (kind, next(iter(kwargs))))
    if kind == "uniform" and not a <= b:
        raise RuntimeError("uniform_ expects to return a [from, to) range, but found from=%s > to=%s" % (a, b))
    if kind == "normal" and not b >= 0.0:
        raise RuntimeError("normal expects std >= 0.0, but found std %s" % b)
    (uniform_ if kind == "uniform" else normal_)(t._data, a, b, generator)
    t._vc.value += 1
    return t


def _float_dtype(dtype, kernel="normal_kernel_cpu"):
    """The NumPy dtype of a random floating fill; torch's kernel error for any other dtype."""
    d = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    if not d.is_floating_point:
        raise NotImplementedError('"%s" not implemented for \'%s\'' % (kernel, _dtype.scalar_name(d.np)))
    return d.np


def _make(data, requires_grad):
    t = engine.make_tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t
