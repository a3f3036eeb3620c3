"""The draws of torch's CPU random kernels on NumPy arrays, from fastgrad's generator
(fastgrad/_random.py): random_ in all its forms, randperm, bernoulli, the per-element
double-precision distributions (exponential, geometric, cauchy, log-normal) and
multinomial. Each follows aten/src/ATen/native (DistributionTemplates.h, TensorFactories.cpp
randperm_cpu, Distributions.cpp multinomial, cpu/MultinomialKernel.cpp): the same number of
draws in the same order, the same arithmetic. Tensor-level front ends live with the ops.
"""
import math

import numpy as np

from fastgrad import _dtype
from fastgrad._random import _iter_view, _libm_exp, _libm_log, _libm_log1p, _libm_tan, gen

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
# caffe2 TypeMeta names, as torch's messages print dtypes
_TYPE_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
               "uint8": "unsigned char", "bool": "bool", "float32": "float", "float64": "double",
               "float16": "c10::Half", "bfloat16": "c10::BFloat16", "uint16": "unsigned short",
               "uint32": "unsigned int", "uint64": "unsigned long"}


def _is_float(dt):
    return dt.kind == "f" or dt is _dtype.BF16


def _store(a, vals):
    v = _iter_view(a)
    v[...] = vals.reshape(v.shape)
    return a


def _from_int64(vals, dt):
    """static_cast<scalar_t>(int64): half and bfloat16 through float."""
    if dt == np.float16 or dt is _dtype.BF16:
        return vals.astype(np.float32).astype(dt)
    return vals.astype(dt)


def _roundtrip(x, dt):
    """static_cast<int64_t>(static_cast<scalar_t>(x)) for a floating dtype."""
    v = np.array([x], np.int64)
    return int(_from_int64(v, dt).astype(np.float64)[0])


def _update_from(frm, dt):
    fp1 = _roundtrip(frm + 1, dt)
    if fp1 < frm:
        n = abs(frm + 1).bit_length() - 1
        frm = fp1 + (1 << (n - _DIGITS[dt.name] + 1))
    return frm


def _update_to(to, dt):
    tm1 = _roundtrip(to - 1, dt)
    if tm1 >= to:
        n = abs(to - 1).bit_length() - 1
        to = tm1 - (1 << (n - _DIGITS[dt.name] + 1))
    return to


def _check_range(frm, to_inc, dt):
    name = _TYPE_NAMES.get(dt.name, dt.name)
    if _is_float(dt):
        fi = np.finfo(np.float32 if dt is _dtype.BF16 else dt)
        lo, hi = (-3.3895313892515355e38, 3.3895313892515355e38) if dt is _dtype.BF16 else (float(fi.min), float(fi.max))
    elif dt == np.bool_:
        lo, hi = 0, 1
    else:
        ii = np.iinfo(dt)
        lo, hi = int(ii.min), int(ii.max)
        if dt == np.uint64:
            lo, hi = 0, _I64_MAX
    if not lo <= frm <= hi:
        raise RuntimeError("from is out of bounds for %s" % name)
    if not lo <= to_inc <= hi:
        raise RuntimeError("to - 1 is out of bounds for %s" % name)


def _from_to_draw(a, rng, base, g):
    dt = a.dtype
    if rng >= 1 << 28:  # torch's public builds: 64-bit draws from a range of 2^28 on, any dtype
        v = g._raw64(a.size) % np.uint64(rng)
    else:
        v = g._raw32(a.size).astype(np.uint64) % np.uint64(rng)
    vals = (v + np.uint64(base % (1 << 64))).view(np.int64)
    return _store(a, _from_int64(vals, dt))


def random_(a, frm=None, to=None, generator=None):
    """Tensor.random_ on the array a: [frm, to) when to is given, [frm, dtype max] when only frm,
    torch's default range when neither (random_kernel)."""
    g = gen(generator)
    dt = a.dtype
    if frm is None and to is None:
        if a.size == 0:
            return a
        if dt == np.bool_:
            return _store(a, (g._raw32(a.size) & np.uint32(1)).astype(bool))
        if dt == np.int64 or dt == np.float64:
            mod = (1 << 63) if dt == np.int64 else (1 << 53) + 1
            return _store(a, _from_int64((g._raw64(a.size) % np.uint64(mod)).astype(np.int64), dt))
        if _is_float(dt):
            mod = (1 << _DIGITS[dt.name]) + 1
        else:
            mod = int(np.iinfo(dt).max) + 1
        return _store(a, _from_int64((g._raw32(a.size).astype(np.uint64) % np.uint64(mod)).astype(np.int64), dt))
    frm = 0 if frm is None else int(frm)
    if to is not None:
        to = int(to)
        if not frm < to:
            raise RuntimeError("random_ expects 'from' to be less than 'to', but got from=%d >= to=%d" % (frm, to))
        if _is_float(dt):
            frm, to = _update_from(frm, dt), _update_to(to, dt)
            if not frm < to:
                raise RuntimeError("random_ expects 'from' casted to dtype to be less than 'to' casted to dtype, "
                                   "but got from=%d >= to=%d" % (frm, to))
        _check_range(frm, to - 1, dt)
        if a.size == 0:
            return a
        return _from_to_draw(a, (to - frm) % (1 << 64), frm, g)
    if frm != _I64_MIN:
        if _is_float(dt):
            to_inc = min(1 << _DIGITS[dt.name], _I64_MAX)
            frm = _update_from(frm, dt)
            if not frm < to_inc:
                raise RuntimeError("random_ expects 'from' casted to dtype to be less than or equal to 'to_inc' casted "
                                   "to dtype, but got from=%d > to_inc=%d" % (frm, to_inc))
        else:
            to_inc = 1 if dt == np.bool_ else int(np.iinfo(dt).max)
        _check_range(frm, to_inc, dt)
        if a.size == 0:
            return a
        return _from_to_draw(a, (to_inc - frm + 1) % (1 << 64), frm, g)
    if a.size == 0:
        return a
    return _store(a, _from_int64(g._raw64(a.size).view(np.int64), dt))


def randperm(n, np_dtype, generator=None):
    """torch's randperm_cpu: Fisher-Yates from the front with random() % (n - i) for
    n < 2^32 / 20, else the inside-out shuffle with random64() % (i + 1)."""
    g = gen(generator)
    if n < (1 << 32) // 20:
        r = np.arange(n, dtype=np.int64)
        if n > 1:
            z = (g._raw32(n - 1).astype(np.int64) % np.arange(n, 1, -1, dtype=np.int64)) + np.arange(n - 1)
            _swap_forward(r, z)
        return r.astype(np_dtype)
    r = np.empty(n, np.int64)
    z = (g._raw64(n) % np.arange(1, n + 1, dtype=np.uint64)).astype(np.int64)
    for i in range(n):
        j = z[i]
        r[i] = r[j]
        r[j] = i
    return r.astype(np_dtype)


def _swap_forward(r, z):
    """for i in order: swap(r[i], r[z[i]]) (a sequential loop, over a Python list for speed)."""
    lst = r.tolist()
    for i, j in enumerate(z.tolist()):
        lst[i], lst[j] = lst[j], lst[i]
    r[...] = lst


# --------------------------------------------------------------------------- bernoulli
# Older torch MKL builds took another path for bernoulli_(float p) on Intel CPUs: one random()
# draw seeded MKL's MCG31 stream, whose uniforms gave the samples. torch 2.13's wheel has no such
# path (its bernoulli_scalar_kernel is the per-element one on every CPU, read off its machine
# code), so it is off; the MCG31 path stays available (and tested against MKL) for such builds.
MKL_BERNOULLI = False
_MCG_M, _MCG_A = (1 << 31) - 1, 1132489760


def mcg31_uniforms(seed, n):
    """The first n uniforms of MKL's VSL_BRNG_MCG31 stream seeded with the uint32 seed:
    x0 = seed mod (2^31 - 1) (0 -> 1), x_{i+1} = 1132489760 x_i mod (2^31 - 1), u_i = x_i / (2^31 - 1)."""
    x = np.empty(max(n, 1), np.uint64)
    x[0] = (seed % _MCG_M) or 1
    k = 1
    while k < n:
        step = min(k, n - k)
        x[k:k + step] = (x[:step] * np.uint64(pow(_MCG_A, k, _MCG_M))) % np.uint64(_MCG_M)
        k += step
    return x[:n].astype(np.float64) * (1.0 / _MCG_M)


def bernoulli_scalar_(a, p, generator=None):
    """bernoulli_(p) with a float p: u < p, u from uniform_real_distribution<double> (MKL's
    MCG31 stream seeded by one random() draw where torch takes its Intel path)."""
    g = gen(generator)
    if a.size == 0:
        return a
    if MKL_BERNOULLI:  # int samples in C order, then copied (cast) into a
        draw = mcg31_uniforms(int(g._raw32(1)[0]), a.size) < p
        a[...] = draw.astype(np.int32).reshape(a.shape).astype(a.dtype)
        return a
    return _store(a, (g._uniform(a.size) < p).astype(a.dtype))


def bernoulli_tensor_(a, p, generator=None):
    """bernoulli_(p) with a tensor p broadcast to a: bernoulli_distribution<double> for a
    float64 p, else <float> (24-bit uniforms, p through float)."""
    g = gen(generator)
    if a.size == 0:
        return a
    pv = np.broadcast_to(p, a.shape)
    v = _iter_view(a)
    if v is not a:
        pv = pv.transpose(sorted(range(a.ndim), key=lambda d: (-abs(a.strides[d]), d)))
    if p.dtype == np.float64:
        draw = g._uniform(a.size).reshape(v.shape) < pv
    else:
        draw = g._uniform(a.size, np.float32).reshape(v.shape) < pv.astype(np.float32)
    v[...] = draw.astype(a.dtype)
    return a


# --------------------------------------------------------------------------- continuous
def _per_element(a, vals):
    """Cast float64 draws to a's dtype (half/bfloat16 through float) and store them."""
    if a.dtype == np.float16 or a.dtype is _dtype.BF16:
        vals = vals.astype(np.float32)
    return _store(a, vals.astype(a.dtype))


def exponential_(a, lambd, generator=None):
    g = gen(generator)
    if a.size == 0:
        return a
    u = g._uniform(a.size)
    return _per_element(a, (-1.0 / lambd) * _libm_log1p(-u))


def geometric_(a, p, generator=None):
    g = gen(generator)
    if a.size == 0:
        return a
    u = g._uniform(a.size)
    return _per_element(a, np.ceil(_libm_log(u) / math.log(1.0 - p)))


def cauchy_(a, median, sigma, generator=None):
    g = gen(generator)
    if a.size == 0:
        return a
    u = g._uniform(a.size)
    return _per_element(a, median + sigma * _libm_tan(math.pi * (u - 0.5)))


def log_normal_(a, mean, std, generator=None):
    g = gen(generator)
    if a.size == 0:
        return a
    return _per_element(a, _libm_exp(g._normal_double(a.size, float(mean), float(std))))


# --------------------------------------------------------------------------- multinomial
def multinomial_rows(rows, n, replacement, generator=None):
    """Sample indices for each row of `rows` (2-D, validated by the caller) as torch: without
    replacement (or one sample) the top n of p / q with q ~ Exp(1) drawn into p's dtype; with
    replacement a binary search of one double uniform per sample in the row's normalised
    cumulative sums (float32 sums for float32 / half inputs, as torch's kernel)."""
    g = gen(generator)
    if not replacement or n == 1:
        q = np.empty(rows.shape, rows.dtype)
        exponential_(q, 1.0, g)
        keys = rows / q
        if n == 1:
            return np.argmax(keys, axis=1).reshape(-1, 1).astype(np.int64)
        return np.argsort(-keys.astype(np.float64), axis=1, kind="stable")[:, :n].astype(np.int64)
    acc = np.float64 if rows.dtype == np.float64 else np.float32
    res = np.empty((rows.shape[0], n), np.int64)
    for i, row in enumerate(rows.astype(acc)):
        cum = np.cumsum(row, dtype=acc)  # sequential: NumPy's cumsum adds left to right
        total = cum[-1]
        cum = cum / total
        cum[-1] = 1
        u = g._uniform(n)
        res[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
    return res


# --------------------------------------------------------------------------- poisson
def _poisson_one(lam, g):
    """torch's sample_poisson: transformed rejection (Hoermann 1993) for lambda >= 10, else the
    product of uniforms; each uniform one uniform_real_distribution<double> draw."""
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            uv = g._uniform(2)
            u, v = float(uv[0]) - 0.5, float(uv[1])
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= \
                    (-lam + k * loglam - math.lgamma(k + 1.0)):
                return k
    if lam == 0:
        return 0
    x, prod, enlam = 0, 1.0, math.exp(-lam)
    while True:
        prod *= float(g._uniform(1)[0])
        if prod > enlam:
            x += 1
        else:
            return x


def poisson(rates, generator=None):
    """torch.poisson on a float64 array of rates (C order): one sample_poisson per element."""
    g = gen(generator)
    return np.array([_poisson_one(lam, g) for lam in rates.reshape(-1).tolist()], np.float64).reshape(rates.shape)


# --------------------------------------------------------------------------- gamma
def _gamma_one(alpha, f32, g):
    """torch's sample_gamma (Marsaglia and Tsang, alpha boosted below 1) in double, with its
    float constants; for a float32 alpha the alpha arithmetic is float32, as torch's scalar_t."""
    ft = np.float32 if f32 else np.float64
    alpha = ft(alpha)
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0:
            return 0.0
        scale *= (1.0 - float(g._uniform(1)[0])) ** float(ft(1.0) / alpha)
        alpha = ft(alpha + ft(1.0))
    d = float(ft(alpha - np.float32(1.0) / np.float32(3.0)))
    c = 1.0 / math.sqrt(float(np.float32(9.0)) * d)
    k = float(np.float32(0.0331))
    while True:
        while True:
            x = float(g._normal_double(1)[0])
            y = 1.0 + c * x
            if y > 0:
                break
        v = y * y * y
        u = 1.0 - float(g._uniform(1)[0])
        xx = x * x
        if u < 1.0 - k * xx * xx:
            return scale * d * v
        if math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


def standard_gamma(alpha, generator=None):
    """torch._standard_gamma on an array of alphas (C order), clamped below at the dtype's tiny."""
    g = gen(generator)
    f32 = alpha.dtype != np.float64
    vals = np.array([_gamma_one(a, f32, g) for a in alpha.reshape(-1).tolist()], np.float64)
    out = vals.astype(alpha.dtype).reshape(alpha.shape)
    return np.maximum(out, np.finfo(np.float32 if alpha.dtype != np.float64 else np.float64).tiny).astype(alpha.dtype)
