"""torch's CPU generator in NumPy: the twin of csrc/random.pxi + csrc/fg_random.h, bit for bit.

The state is a uint32[626] array: mt19937's 624 words, then torch's `left` and `next`
(seeding sets left = 1, next = 0, so the first draw regenerates the words). The draws
themselves come from NumPy's MT19937 bit generator (the same recurrence and tempering),
loaded with these words and position and read back after.

The transforms are torch's CPU kernels': uniform (val & mask) * 2^-digits, then
x * (to - from) + from as one fused multiply-add (emulated exactly: fma32, fma64), and
the Box-Muller fill of torch's AVX2 NormalFill16 (Cephes log and sincos in float32 with
the multiply-adds fused where torch's build fused them), libm's log/cos/sin for float64.
"""
import math

import numpy as np

__all__ = ["rng_seed", "rng_raw32", "rng_raw64", "rng_uniform", "rng_normal"]

_N, _M = 624, 397
_U = np.uint32
_KINDS = {"I": np.dtype(np.uint32), "Q": np.dtype(np.uint64), "f": np.dtype(np.float32), "d": np.dtype(np.float64)}


def _check(st, out, kinds):
    """The generator's state array and a C-contiguous writeable out of one of `kinds`."""
    if not (isinstance(st, np.ndarray) and st.dtype == np.uint32 and st.shape == (_N + 2,)
            and st.flags.c_contiguous and st.flags.writeable):
        raise TypeError("rng: the state must be a writeable uint32 array of 626 words")
    if out is None:
        return
    allowed = [_KINDS[k] for k in kinds]
    if not (isinstance(out, np.ndarray) and out.dtype in allowed and out.flags.c_contiguous
            and out.flags.writeable):
        raise TypeError("rng: out must be a writeable C-contiguous array of dtype %s, got %s"
                        % ("/".join(d.name for d in allowed),
                           getattr(out, "dtype", type(out).__name__)))


def rng_seed(st, seed):
    """torch's mt19937 seeding (init_genrand on the low 32 bits); next draw regenerates."""
    _check(st, None, "")
    x = int(seed) & 0xFFFFFFFF
    words = [x]
    for j in range(1, _N):
        x = (1812433253 * (x ^ (x >> 30)) + j) & 0xFFFFFFFF
        words.append(x)
    st[:_N] = words
    st[_N] = 1
    st[_N + 1] = 0
    return st


_BITGEN = np.random.MT19937(0)  # NumPy's mt19937: the same recurrence and tempering as torch's


def _draw(st, n):
    """n tempered 32-bit draws, advancing torch's (left, next) bookkeeping. NumPy's MT19937 runs
    the recurrence: its `pos` is 625 - left (pos 624 regenerates on the next draw)."""
    out = np.empty(n, np.uint32)
    if n == 0:
        return out
    _BITGEN.state = {"bit_generator": "MT19937", "state": {"key": st[:_N], "pos": _N + 1 - int(st[_N])}}
    out[...] = _BITGEN.random_raw(n)
    state = _BITGEN.state["state"]
    st[:_N] = state["key"]
    st[_N] = _N + 1 - state["pos"]
    st[_N + 1] = state["pos"]
    return out


def rng_raw32(st, out):
    """out.size successive 32-bit draws (torch's random())."""
    _check(st, out, "I")
    out.reshape(-1)[...] = _draw(st, out.size)
    return out


def rng_raw64(st, out):
    """out.size draws of torch's random64(): two 32-bit draws, the first the high word."""
    _check(st, out, "Q")
    r = _draw(st, 2 * out.size).astype(np.uint64)
    out.reshape(-1)[...] = (r[0::2] << np.uint64(32)) | r[1::2]
    return out


# --------------------------------------------------------------------------- exact FMA
def fma32(a, b, c):
    """float32 a * b + c rounded once. a * b is exact in float64; rounding the float64 sum
    to float32 rounds twice, which errs only where that sum lies exactly halfway between
    two floats and was itself rounded: there the sum is redone rounded to odd."""
    a = np.asarray(a, np.float32).astype(np.float64)
    b = np.asarray(b, np.float32).astype(np.float64)
    c = np.asarray(c, np.float32).astype(np.float64)
    p = a * b
    s = p + c
    mid = (s.view(np.int64) & 0x1FFFFFFF) == 0x10000000
    if np.any(mid):
        p, c = np.broadcast_arrays(p, c)
        s = s.copy()
        s[mid] = _round_odd_sum(p[mid], c[mid])
    return s.astype(np.float32)


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_odd_sum(x, y):
    s, e = _two_sum(x, y)
    need = (e != 0) & ((s.view(np.int64) & 1) == 0)
    if np.any(need):
        s = np.where(need, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return s


def _split(a):
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def fma64(a, b, c):
    """float64 a * b + c rounded once (Boldo and Melquiond's emulation through rounding to odd)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    c = np.asarray(c, np.float64)
    uh = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    ul = ((ah * bh - uh) + ah * bl + al * bh) + al * bl
    th, tl = _two_sum(c, uh)
    return th + _round_odd_sum(tl, ul)


# --------------------------------------------------------------------------- uniform
def _uniform32(st, n, lo, hi):
    x = (_draw(st, n) & _U(0xFFFFFF)).astype(np.float32) * np.float32(2.0 ** -24)
    lo, hi = np.float32(lo), np.float32(hi)
    if lo == 0 and hi == 1:
        return x
    v = fma32(x, hi - lo, lo)
    return np.where(v == hi, lo, v)


def _uniform64(st, n, lo, hi):
    r = _draw(st, 2 * n)
    r64 = ((r[0::2].astype(np.uint64) & np.uint64(0x1FFFFF)) << np.uint64(32)) | r[1::2]
    x = r64.astype(np.float64) * 2.0 ** -53
    if lo == 0 and hi == 1:
        return x
    v = fma64(x, float(hi) - float(lo), float(lo))
    return np.where(v == hi, float(lo), v)


def rng_uniform(st, out, lo, hi):
    """torch's uniform_real_distribution(lo, hi) into a float32 or float64 out (a value that
    rounds up to hi becomes lo, as torch's uniform kernel does)."""
    _check(st, out, "fd")
    flat = out.reshape(-1)
    if out.dtype == np.float32:
        lo32, hi32 = np.float32(lo), np.float32(hi)
        flat[...] = _uniform32(st, out.size, lo32, hi32)
    else:
        flat[...] = _uniform64(st, out.size, float(lo), float(hi))
    return out


# --------------------------------------------------------------------------- normal
_F = np.float32
_MINNORM = np.array([0x00800000], np.uint32).view(np.float32)[0]
_LOGP = [_F(c) for c in (7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
                         1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1,
                         3.3333331174E-1)]


def _logf(x):
    """avx_mathfun's log256_ps (Cephes), with torch's build's fused multiply-adds."""
    invalid = x <= 0
    x = np.maximum(x, _MINNORM)
    bits = x.view(np.uint32)
    e = ((bits >> _U(23)).astype(np.int32) - 127).astype(np.float32) + _F(1)
    x = ((bits & _U(0x807FFFFF)) | _U(0x3F000000)).view(np.float32)
    lt = x < _F(0.707106781186547524)
    e = e - np.where(lt, _F(1), _F(0))
    x = (x + _F(-1)) + np.where(lt, x, _F(0))
    z = x * x
    y = fma32(_LOGP[0], x, _LOGP[1])
    for c in _LOGP[2:]:
        y = fma32(y, x, c)
    y = fma32(y * x, z, e * _F(-2.12194440e-4))
    y = fma32(-z, _F(0.5), y)
    x = x + y
    x = fma32(e, _F(0.693359375), x)
    return np.where(invalid, _F(np.nan), x)


def _sincosf(x):
    """avx_mathfun's sincos256_ps (Cephes), with torch's build's fused multiply-adds."""
    sign_sin = np.signbit(x)
    ax = np.abs(x)
    q = (ax * _F(1.27323954473516)).astype(np.int32)
    q = (q + 1) & ~1
    y = q.astype(np.float32)
    sign_sin = sign_sin ^ ((q & 4) != 0)
    poly = (q & 2) == 0
    sign_cos = (~(q - 2) & 4) != 0
    r = fma32(y, _F(-0.78515625), ax)
    r = fma32(y, _F(-2.4187564849853515625e-4), r)
    r = fma32(y, _F(-3.77489497744594108e-8), r)
    z = r * r
    yc = fma32(_F(2.443315711809948E-005), z, _F(-1.388731625493765E-003))
    yc = fma32(yc, z, _F(4.166664568298827E-002))
    yc = fma32(z, z * yc, -(z * _F(0.5)))
    yc = yc + _F(1)
    ys = fma32(_F(-1.9515295891E-4), z, _F(8.3321608736E-3))
    ys = fma32(ys, z, _F(-1.6666654611E-1))
    ys = fma32(r, z * ys, r)
    ysin2 = np.where(poly, ys, _F(0))
    ysin1 = np.where(poly, _F(0), yc)
    s = ysin1 + ysin2
    c = (yc - ysin1) + (ys - ysin2)
    return np.where(sign_sin, -s, s), np.where(sign_cos, -c, c)


def _libm(name, lo, hi):
    """NumPy's float64 ufunc when it agrees with libm (Python's math) on a probe of (lo, hi), the range its
    sampler calls it on, else libm element by element: torch's float64 kernels call libm (NumPy's
    AVX-512 loops, taken on such CPUs, can differ from it in the last bit: log did on an AMD EPYC)."""
    f, g = getattr(np, name), getattr(math, name)
    probe = np.random.default_rng(0).uniform(lo, hi, 4096)
    if np.array_equal(f(probe), np.array([g(v) for v in probe])):
        return f
    vec = np.frompyfunc(g, 1, 1)
    return lambda a: vec(a).astype(np.float64)


_log, _cos, _sin = _libm("log", 1e-6, 1.0), _libm("cos", 0.0, 2 * math.pi), _libm("sin", 0.0, 2 * math.pi)


def _normal16(d, mean, std):
    """Box-Muller on rows of 16 uniforms (d: (k, 16)), in place."""
    if d.dtype == np.float32:
        radius = np.sqrt(_logf(_F(1) - d[:, :8]) * _F(-2))
        s, c = _sincosf(_F(2.0 * math.pi) * d[:, 8:])
        d[:, :8] = fma32(radius * c, _F(std), _F(mean))
        d[:, 8:] = fma32(radius * s, _F(std), _F(mean))
    else:
        radius = np.sqrt(-2 * _log(1 - d[:, :8]))
        theta = (2.0 * math.pi) * d[:, 8:]
        d[:, :8] = fma64(radius * _cos(theta), std, mean)
        d[:, 8:] = fma64(radius * _sin(theta), std, mean)


def rng_normal(st, out, mean, std):
    """torch's normal_fill into a C-contiguous float32/float64 out of at least 16 elements:
    out.size uniforms, Box-Muller on each whole block of 16, then 16 fresh uniforms for the
    last 16 slots when the size is not a multiple of 16."""
    _check(st, out, "fd")
    n = out.size
    if n < 16:
        raise ValueError("rng_normal needs at least 16 elements, got %d" % n)
    flat = out.reshape(-1)
    unif = _uniform32 if out.dtype == np.float32 else _uniform64
    flat[...] = unif(st, n, 0, 1)
    m = n // 16 * 16
    _normal16(flat[:m].reshape(-1, 16), mean, std)
    if n % 16:
        tail = unif(st, 16, 0, 1).reshape(1, 16)
        _normal16(tail, mean, std)
        flat[n - 16:] = tail[0]
    return out
