/* Shared C for the kernels of fastgrad._C: branch-free float32 exp/tanh/sigmoid, the CPU-dispatch macros (csrc/README.md). */
#ifndef FG_FG_COMMON_H
#define FG_FG_COMMON_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bit casts: memcpy is the UB-free spelling; GCC makes it a register move. */
static inline float fg_as_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t fg_as_uint(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* exp for float32 without branches or calls, so loops calling it vectorise.
   Max error 1.3 ulp (8M points against double exp), subnormal results included;
   nan -> nan, overflow -> inf, underflow -> 0 (no errno, no traps). */
static inline float fg_expf(float x) {
    const float shift = 12582912.0f;        /* 1.5 * 2^23: x + shift rounds x to an int */
    x = x > 89.0f ? 89.0f : x;              /* nan passes both clamps */
    x = x < -104.0f ? -104.0f : x;          /* exp(89) still overflows, exp(-104) -> 0 */
    float k = x * 1.44269504f + shift;      /* round(x / ln 2), in the low mantissa bits */
    int32_t n = (int32_t)(fg_as_uint(k) - fg_as_uint(shift));
    k -= shift;
    float r = x - k * 0.693359375f;         /* Cody-Waite: ln 2 = hi + lo, k * hi exact */
    r = r - k * -2.12194440e-4f;            /* |r| <= ln(2) / 2 */
    float p = 1.38146128e-3f;               /* exp(r) = 1 + r + r^2 P(r), P minimax deg 4 */
    p = p * r + 8.36871006e-3f;
    p = p * r + 4.16683890e-2f;
    p = p * r + 1.66665211e-1f;
    p = p * r + 4.99999940e-1f;
    p = 1.0f + r + (r * r) * p;
    /* times 2^n as 2^n1 * 2^(n - n1): both factors normal for n in [-150, 128], so
       results that overflow or are subnormal round once, correctly. */
    int32_t n1 = n >> 1;
    return p * fg_as_float((uint32_t)(n1 + 127) << 23)
             * fg_as_float((uint32_t)(n - n1 + 127) << 23);
}

/* tanh for float32, branch-free: e / (e + 2) with e = expm1(2|x|) and the sign of x.
   expm1 from fg_expf's reduction 2|x| = k ln 2 + r: 2^k expm1(r) + (2^k - 1), with
   expm1(r) = r + r^2 P(r) (relatively accurate near 0, so no separate small-|x| branch:
   ~24 vector ops instead of ~38, memory-bound with AVX-512). Max error 2.4 ulp (8M
   points against double tanh); |x| >= 9 gives +-1, +-inf -> +-1, nan -> nan. */
static inline float fg_tanhf(float x) {
    float a = fabsf(x);
    a = a > 9.0f ? 9.0f : a;                /* tanh(9) rounds to 1; nan stays nan */
    float y = a + a;
    const float shift = 12582912.0f;
    float kf = y * 1.44269504f + shift;
    int32_t k = (int32_t)(fg_as_uint(kf) - fg_as_uint(shift));     /* 0 <= k <= 26 */
    kf -= shift;
    float r = y - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = 1.38146128e-3f;
    p = p * r + 8.36871006e-3f;
    p = p * r + 4.16683890e-2f;
    p = p * r + 1.66665211e-1f;
    p = p * r + 4.99999940e-1f;
    float em = r + (r * r) * p;             /* expm1(r) */
    float s = fg_as_float((uint32_t)(k + 127) << 23);
    float e = s * em + (s - 1.0f);          /* expm1(2|x|) */
    return copysignf(e / (e + 2.0f), x);    /* tanh(-0) = -0 */
}

/* 1 / (1 + exp(-x)) in float32: x << 0 gives 1 / inf = 0, never nan. Max 3 ulp. */
static inline float fg_sigmoidf(float x) { return 1.0f / (1.0f + fg_expf(-x)); }


/* Runtime CPU dispatch: GCC compiles a function marked FG_CLONES three times, for
   baseline x86-64 (SSE2), x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512), and the
   dynamic loader picks one (an ifunc), as PyTorch does. On AMD EPYC the exp-based loops
   run ~3x faster with AVX2 + FMA, which is what it takes to match torch.sigmoid; on an
   AVX-512 Xeon, torch uses 16 lanes and so must we (benchmarks/NOTES.md, A4). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) \
    && defined(__linux__) && defined(__GLIBC__)
#define FG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FG_NO_CONTRACT __attribute__((optimize("fp-contract=off")))  /* no a * b + c FMA */
#define FG_AVX512_GELU 1
#else
#define FG_CLONES
#define FG_NO_CONTRACT
#endif


#endif  /* FG_FG_COMMON_H */
