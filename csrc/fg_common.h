/* Shared C for the kernels of fastgrad._C: branch-free float32 and float64 exp/tanh/sigmoid, the CPU-dispatch macros (csrc/README.md). */
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
    /* fg_expf's reduction and P(r) (as fg_expf_ftz in fg_elementwise.h), written out: tanh assembles expm1, not exp */
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


/* float64 exp / tanh / sigmoid without branches or calls, so that loops calling them
   vectorise (glibc's exp and tanh are an opaque call per element: the float64 LSTM gate
   loop took 878 us for 97 x 51 with them, 200 us with these; benchmarks/NOTES.md). Written
   without FMA-dependent steps: every CPU-dispatch clone rounds alike (callers compile with
   fp-contract off, FG_NO_CONTRACT, for results independent of the CPU).
   Errors (tests/test_kernels_f64_math.py, against long double over a wide sweep):
   exp 1 ulp, tanh 2 ulp, sigmoid 2.5 ulp, subnormal results included;
   nan -> nan, exp: overflow -> inf, underflow -> 0, tanh: +-inf -> +-1, sigmoid: 0 / 1. */
static inline double fg_as_double(uint64_t u) { double f; memcpy(&f, &u, 8); return f; }
static inline uint64_t fg_as_u64(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }

/* exp(r) - 1 for |r| <= ln(2) / 2 + tiny: r + r^2 P(r), P the Taylor series to r^11
   (the remainder r^14 / 14! is < 2^-57 relative). */
static inline double fg_expm1_red(double r) {
    double p = 1.6059043836821613e-10;      /* 1/13! */
    p = p * r + 2.0876756987868100e-09;     /* 1/12! */
    p = p * r + 2.5052108385441720e-08;     /* 1/11! */
    p = p * r + 2.7557319223985893e-07;     /* 1/10! */
    p = p * r + 2.7557319223985888e-06;     /* 1/9! */
    p = p * r + 2.4801587301587302e-05;     /* 1/8! */
    p = p * r + 1.9841269841269841e-04;     /* 1/7! */
    p = p * r + 1.3888888888888889e-03;     /* 1/6! */
    p = p * r + 8.3333333333333333e-03;     /* 1/5! */
    p = p * r + 4.1666666666666667e-02;     /* 1/4! */
    p = p * r + 1.6666666666666667e-01;     /* 1/3! */
    p = p * r + 0.5;
    return r + (r * r) * p;
}

/* x = k ln 2 + r, |r| <= ln(2) / 2: returns r, k in *k (x within +-746). Cody-Waite: ln 2 =
   HI + LO with HI's low 32 bits zero, so k * HI and x - k * HI are exact. */
static inline double fg_reduce_ln2(double x, int64_t *k) {
    const double shift = 6755399441055744.0;    /* 1.5 * 2^52: x + shift rounds x to an int */
    double kf = x * 1.4426950408889634 + shift;
    *k = (int64_t)(fg_as_u64(kf) - fg_as_u64(shift));
    kf -= shift;
    double r = x - kf * 0.6931471803691238;     /* 0x3FE62E42FEE00000 */
    return r - kf * 1.9082149292705877e-10;
}

static inline double fg_exp_f64(double x) {
    x = x > 710.0 ? 710.0 : x;              /* nan passes both clamps */
    x = x < -746.0 ? -746.0 : x;            /* exp(710) still overflows, exp(-746) -> 0 */
    int64_t n;
    double r = fg_reduce_ln2(x, &n);
    double p = 1.0 + fg_expm1_red(r);
    /* times 2^n = 2^n1 * 2^(n - n1), both normal for n in [-1076, 1025] (n1 from the
       non-negative n + 1076 by a logical shift: AVX2 has no 64-bit arithmetic one), so
       results that overflow or are subnormal round once, correctly. */
    uint64_t u1 = (uint64_t)(n + 1076) >> 1;    /* n1 = u1 - 538 */
    return p * fg_as_double((u1 + 485) << 52) * fg_as_double((uint64_t)(n - (int64_t)u1 + 1561) << 52);
}

/* tanh(x) = e / (e + 2) with e = expm1(2|x|) = 2^k expm1(r) + (2^k - 1), and the sign of x:
   relatively accurate near 0 (tanh(x) = x for tiny and subnormal x); |x| >= 20 gives +-1. */
static inline double fg_tanh_f64(double x) {
    double a = fabs(x);
    a = a > 20.0 ? 20.0 : a;                /* tanh(20) rounds to 1; nan stays nan */
    int64_t k;
    double r = fg_reduce_ln2(a + a, &k);    /* 0 <= k <= 58 */
    double em = fg_expm1_red(r);
    double s = fg_as_double((uint64_t)(k + 1023) << 52);
    double e = s * em + (s - 1.0);
    return copysign(e / (e + 2.0), x);      /* tanh(-0) = -0 */
}

/* 1 / (1 + exp(-x)), PyTorch's form: x << 0 gives 1 / inf = 0, never nan. */
static inline double fg_sigmoid_f64(double x) { return 1.0 / (1.0 + fg_exp_f64(-x)); }


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
