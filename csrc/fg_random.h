/* torch's CPU generator in C: the 32-bit Mersenne Twister with torch's seeding and
   (left, next) bookkeeping, and the two hot transforms of its CPU kernels (the uniform
   fill and the Box-Muller normal fill). The pure-NumPy twin is fastgrad/_np/random.py.

   The generator state is a uint32[626] array: the 624 words of mt19937, then `left`
   and `next` as torch's mt19937_data_pod keeps them (seeding sets left = 1, next = 0,
   so the first draw twists).

   Bit-exactness: the uniform transform is torch's (val & mask) * 2^-digits, then
   x * (to - from) + from, which torch's compiler fuses into one FMA; the normal fill
   follows the AVX2 kernel of torch's NormalFill16<float> (Cephes log and sincos as in
   avx_mathfun.h) including the multiply-adds GCC fused in torch's build (read off its
   machine code), and only those: the functions here are compiled with fp-contract off
   and every fused step is an explicit fmaf / fma. The float64 fill calls libm's log,
   cos and sin as torch's scalar code does. */
#ifndef FG_FG_RANDOM_H
#define FG_FG_RANDOM_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "fg_common.h"

#define FG_MT_N 624
#define FG_MT_M 397

static void fg_mt_seed(uint32_t *st, uint64_t seed) {
    st[0] = (uint32_t)(seed & 0xffffffffu);
    for (uint32_t j = 1; j < FG_MT_N; j++)
        st[j] = 1812433253u * (st[j - 1] ^ (st[j - 1] >> 30)) + j;
    st[FG_MT_N] = 1;      /* left */
    st[FG_MT_N + 1] = 0;  /* next */
}

static inline uint32_t fg_mt_twist1(uint32_t u, uint32_t v) {
    return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
}

static void fg_mt_regen(uint32_t *p) {
    int j;
    for (j = 0; j < FG_MT_N - FG_MT_M; j++) p[j] = p[j + FG_MT_M] ^ fg_mt_twist1(p[j], p[j + 1]);
    for (; j < FG_MT_N - 1; j++) p[j] = p[j + FG_MT_M - FG_MT_N] ^ fg_mt_twist1(p[j], p[j + 1]);
    p[FG_MT_N - 1] = p[FG_MT_M - 1] ^ fg_mt_twist1(p[FG_MT_N - 1], p[0]);
}

static inline uint32_t fg_temper(uint32_t y) {
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

/* n successive 32-bit draws (torch's CPUGeneratorImpl::random()) into out. */
static void fg_mt_fill32(uint32_t *st, uint32_t *out, ptrdiff_t n) {
    while (n > 0) {
        if (st[FG_MT_N] == 1) {
            fg_mt_regen(st);
            st[FG_MT_N] = FG_MT_N + 1;
            st[FG_MT_N + 1] = 0;
        }
        ptrdiff_t take = (ptrdiff_t)st[FG_MT_N] - 1;
        if (take > n) take = n;
        const uint32_t *src = st + st[FG_MT_N + 1];
        for (ptrdiff_t i = 0; i < take; i++) out[i] = fg_temper(src[i]);
        st[FG_MT_N + 1] += (uint32_t)take;
        st[FG_MT_N] -= (uint32_t)take;
        out += take;
        n -= take;
    }
}

/* n draws of random64(): the first 32-bit draw is the high word. */
static void fg_mt_fill64(uint32_t *st, uint64_t *out, ptrdiff_t n) {
    uint32_t buf[512];
    while (n > 0) {
        ptrdiff_t k = n < 256 ? n : 256;
        fg_mt_fill32(st, buf, 2 * k);
        for (ptrdiff_t i = 0; i < k; i++) out[i] = ((uint64_t)buf[2 * i] << 32) | buf[2 * i + 1];
        out += k;
        n -= k;
    }
}

/* uniform_real_distribution<float>(lo, hi) per element; torch's kernel then maps a value
   that rounded up to `hi` back to `lo`. */
/* twin of fg_uniform_f64 below: torch's float and double kernels differ (24 vs 53 random bits, fmaf vs fma) */
FG_CLONES FG_NO_CONTRACT
static void fg_uniform_f32(uint32_t *st, float *out, ptrdiff_t n, float lo, float hi) {
    fg_mt_fill32(st, (uint32_t *)out, n);
    const float span = hi - lo;
    for (ptrdiff_t i = 0; i < n; i++) {
        uint32_t r;
        memcpy(&r, out + i, 4);
        float x = (float)(r & 0xffffffu) * 0x1p-24f;
        float v = fmaf(x, span, lo);
        out[i] = v == hi ? lo : v;
    }
}

/* twin of fg_uniform_f32 above, in double: kept apart so each loop vectorizes in its own type */
FG_CLONES FG_NO_CONTRACT
static void fg_uniform_f64(uint32_t *st, double *out, ptrdiff_t n, double lo, double hi) {
    fg_mt_fill64(st, (uint64_t *)out, n);
    const double span = hi - lo;
    for (ptrdiff_t i = 0; i < n; i++) {
        uint64_t r;
        memcpy(&r, out + i, 8);
        double x = (double)(r & 0x1fffffffffffffull) * 0x1p-53;
        double v = fma(x, span, lo);
        out[i] = v == hi ? lo : v;
    }
}

static inline float fg_f32_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t fg_u32_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Box-Muller on 16 uniforms in place: d[0:8] -> u1 (through 1 - u), d[8:16] -> theta. */
FG_CLONES FG_NO_CONTRACT
static void fg_normal16_f32(float *restrict d, float mean, float std) {
    const float P[9] = {(float)7.0376836292E-2, (float)-1.1514610310E-1, (float)1.1676998740E-1,
                        (float)-1.2420140846E-1, (float)1.4249322787E-1, (float)-1.6668057665E-1,
                        (float)2.0000714765E-1, (float)-2.4999993993E-1, (float)3.3333331174E-1};
    const float Q1 = (float)-2.12194440e-4, Q2 = (float)0.693359375;
    const float SQRTHF = (float)0.707106781186547524, MINNORM = 1.17549435e-38f;
    const float FOPI = (float)1.27323954473516, TWO_PI = (float)(2.0 * 3.14159265358979323846);
    const float DP1 = (float)-0.78515625, DP2 = (float)-2.4187564849853515625e-4,
                DP3 = (float)-3.77489497744594108e-8;
    const float S0 = (float)-1.9515295891E-4, S1 = (float)8.3321608736E-3, S2 = (float)-1.6666654611E-1;
    const float C0 = (float)2.443315711809948E-005, C1 = (float)-1.388731625493765E-003,
                C2 = (float)4.166664568298827E-002;
    float res_c[8], res_s[8];
    for (int j = 0; j < 8; j++) {
        /* log(1 - u) */
        float x = 1.0f - d[j];
        uint32_t invalid = x <= 0.0f;
        x = x < MINNORM ? MINNORM : x;
        uint32_t bits = fg_u32_of(x);
        float e = (float)((int32_t)(bits >> 23) - 127) + 1.0f;
        x = fg_f32_of((bits & ~0x7f800000u) | 0x3f000000u);
        uint32_t lt = x < SQRTHF;
        e = e - (lt ? 1.0f : 0.0f);
        x = (x + -1.0f) + (lt ? x : 0.0f);
        float z = x * x;
        float y = fmaf(P[0], x, P[1]);
        for (int k = 2; k < 9; k++) y = fmaf(y, x, P[k]);
        y = fmaf(y * x, z, e * Q1);
        y = fmaf(-z, 0.5f, y);
        x = x + y;
        x = fmaf(e, Q2, x);
        float lg = invalid ? NAN : x;
        float radius = sqrtf(lg * -2.0f);
        /* sincos(2 pi u2) */
        float th = TWO_PI * d[j + 8];
        uint32_t sign_sin = fg_u32_of(th) & 0x80000000u;
        float ax = fabsf(th);
        int32_t q = (int32_t)(ax * FOPI);
        q = (q + 1) & ~1;
        float yq = (float)q;
        sign_sin ^= ((uint32_t)q & 4u) << 29;
        uint32_t poly = (q & 2) == 0;
        uint32_t sign_cos = ((~(uint32_t)(q - 2)) & 4u) << 29;
        float r = fmaf(yq, DP1, ax);
        r = fmaf(yq, DP2, r);
        r = fmaf(yq, DP3, r);
        float zz = r * r;
        float yc = fmaf(C0, zz, C1);
        yc = fmaf(yc, zz, C2);
        yc = zz * yc;
        yc = fmaf(zz, yc, -(zz * 0.5f));
        yc = yc + 1.0f;
        float ys = fmaf(S0, zz, S1);
        ys = fmaf(ys, zz, S2);
        ys = zz * ys;
        ys = fmaf(r, ys, r);
        float ysin2 = poly ? ys : 0.0f, ysin1 = poly ? 0.0f : yc;
        float sn = ysin1 + ysin2;
        float cs = (yc - ysin1) + (ys - ysin2);
        sn = fg_f32_of(fg_u32_of(sn) ^ sign_sin);
        cs = fg_f32_of(fg_u32_of(cs) ^ sign_cos);
        res_c[j] = radius * cs;
        res_s[j] = radius * sn;
    }
    for (int j = 0; j < 8; j++) {
        d[j] = fmaf(res_c[j], std, mean);
        d[j + 8] = fmaf(res_s[j], std, mean);
    }
}

FG_CLONES FG_NO_CONTRACT
static void fg_normal16_f64(double *restrict d, double mean, double std) {
    for (int j = 0; j < 8; j++) {
        double u1 = 1 - d[j];
        double radius = sqrt(-2 * log(u1));
        double theta = (2.0 * 3.14159265358979323846) * d[j + 8];
        double c = cos(theta), s = sin(theta);
        d[j] = fma(radius * c, std, mean);
        d[j + 8] = fma(radius * s, std, mean);
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define FG_RANDOM_AVX2 1
/* The same 16-element Box-Muller as fg_normal16_f32, 8 lanes at a time with AVX2 + FMA
   (what torch runs): every step as above, the fused ones as _mm256_fmadd_ps. */
__attribute__((target("avx2,fma"))) FG_NO_CONTRACT
static void fg_normal16_f32_avx2(float *d, float mean, float std) {
#define B(x) _mm256_set1_ps((float)(x))
    const __m256 one = B(1.0), half = B(0.5);
    __m256 x = _mm256_sub_ps(one, _mm256_loadu_ps(d));
    __m256 invalid = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OS);
    x = _mm256_max_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000)));
    __m256i bits = _mm256_castps_si256(x);
    __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127))), one);
    x = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(~0x7f800000)),
                                            _mm256_set1_epi32(0x3f000000)));
    __m256 lt = _mm256_cmp_ps(x, B(0.707106781186547524), _CMP_LT_OS);
    e = _mm256_sub_ps(e, _mm256_and_ps(one, lt));
    x = _mm256_add_ps(_mm256_add_ps(x, B(-1.0)), _mm256_and_ps(x, lt));
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_fmadd_ps(B(7.0376836292E-2), x, B(-1.1514610310E-1));
    y = _mm256_fmadd_ps(y, x, B(1.1676998740E-1));
    y = _mm256_fmadd_ps(y, x, B(-1.2420140846E-1));
    y = _mm256_fmadd_ps(y, x, B(1.4249322787E-1));
    y = _mm256_fmadd_ps(y, x, B(-1.6668057665E-1));
    y = _mm256_fmadd_ps(y, x, B(2.0000714765E-1));
    y = _mm256_fmadd_ps(y, x, B(-2.4999993993E-1));
    y = _mm256_fmadd_ps(y, x, B(3.3333331174E-1));
    y = _mm256_fmadd_ps(_mm256_mul_ps(y, x), z, _mm256_mul_ps(e, B(-2.12194440e-4)));
    y = _mm256_fnmadd_ps(z, half, y);
    x = _mm256_add_ps(x, y);
    x = _mm256_fmadd_ps(e, B(0.693359375), x);
    x = _mm256_or_ps(x, invalid);
    __m256 radius = _mm256_sqrt_ps(_mm256_mul_ps(x, B(-2.0)));
    __m256 th = _mm256_mul_ps(B(2.0 * 3.14159265358979323846), _mm256_loadu_ps(d + 8));
    __m256 sign_sin = _mm256_and_ps(th, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000)));
    __m256 ax = _mm256_and_ps(th, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
    __m256i q = _mm256_cvttps_epi32(_mm256_mul_ps(ax, B(1.27323954473516)));
    q = _mm256_and_si256(_mm256_add_epi32(q, _mm256_set1_epi32(1)), _mm256_set1_epi32(~1));
    __m256 yq = _mm256_cvtepi32_ps(q);
    sign_sin = _mm256_xor_ps(sign_sin, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(q, _mm256_set1_epi32(4)), 29)));
    __m256 poly = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(q, _mm256_set1_epi32(2)), _mm256_setzero_si256()));
    __m256 sign_cos = _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_andnot_si256(_mm256_sub_epi32(q, _mm256_set1_epi32(2)), _mm256_set1_epi32(4)), 29));
    __m256 r = _mm256_fmadd_ps(yq, B(-0.78515625), ax);
    r = _mm256_fmadd_ps(yq, B(-2.4187564849853515625e-4), r);
    r = _mm256_fmadd_ps(yq, B(-3.77489497744594108e-8), r);
    __m256 zz = _mm256_mul_ps(r, r);
    __m256 yc = _mm256_fmadd_ps(B(2.443315711809948E-005), zz, B(-1.388731625493765E-003));
    yc = _mm256_fmadd_ps(yc, zz, B(4.166664568298827E-002));
    yc = _mm256_mul_ps(zz, yc);
    yc = _mm256_fmsub_ps(zz, yc, _mm256_mul_ps(zz, half));
    yc = _mm256_add_ps(yc, one);
    __m256 ys = _mm256_fmadd_ps(B(-1.9515295891E-4), zz, B(8.3321608736E-3));
    ys = _mm256_fmadd_ps(ys, zz, B(-1.6666654611E-1));
    ys = _mm256_mul_ps(zz, ys);
    ys = _mm256_fmadd_ps(r, ys, r);
    __m256 ysin2 = _mm256_and_ps(poly, ys), ysin1 = _mm256_andnot_ps(poly, yc);
    __m256 sn = _mm256_xor_ps(_mm256_add_ps(ysin1, ysin2), sign_sin);
    __m256 cs = _mm256_xor_ps(_mm256_add_ps(_mm256_sub_ps(yc, ysin1), _mm256_sub_ps(ys, ysin2)), sign_cos);
    __m256 m = _mm256_set1_ps(mean), sd = _mm256_set1_ps(std);
    _mm256_storeu_ps(d, _mm256_fmadd_ps(_mm256_mul_ps(radius, cs), sd, m));
    _mm256_storeu_ps(d + 8, _mm256_fmadd_ps(_mm256_mul_ps(radius, sn), sd, m));
#undef B
}
#endif

/* torch's normal_fill on a contiguous float32 buffer of n >= 16: n uniforms, Box-Muller
   on each whole block of 16, then 16 fresh uniforms for the last 16 slots when n is not
   a multiple of 16. */
static void fg_normal_f32(uint32_t *st, float *out, ptrdiff_t n, float mean, float std) {
    void (*block)(float *, float, float) = fg_normal16_f32;
#ifdef FG_RANDOM_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) block = fg_normal16_f32_avx2;
#endif
    fg_uniform_f32(st, out, n, 0.0f, 1.0f);
    for (ptrdiff_t i = 0; i + 16 <= n; i += 16) block(out + i, mean, std);
    if (n % 16) {
        fg_uniform_f32(st, out + n - 16, 16, 0.0f, 1.0f);
        block(out + n - 16, mean, std);
    }
}

static void fg_normal_f64(uint32_t *st, double *out, ptrdiff_t n, double mean, double std) {
    fg_uniform_f64(st, out, n, 0.0, 1.0);
    for (ptrdiff_t i = 0; i + 16 <= n; i += 16) fg_normal16_f64(out + i, mean, std);
    if (n % 16) {
        fg_uniform_f64(st, out + n - 16, 16, 0.0, 1.0);
        fg_normal16_f64(out + n - 16, mean, std);
    }
}

#endif  /* FG_FG_RANDOM_H */
