/* Batch norm's per-channel sums (csrc/norm.pxi; twin fastgrad/_np/norm.py). A float64 sum in
   one accumulator is a chain of dependent adds that GCC may not reorder (4 cycles each: ~1.5 ms
   for W7b's (32, 32, 32, 32) map, forward and backward); FG_LANES accumulators side by side
   vectorise, summed pairwise at the end. The order of the additions differs from one
   accumulator's (float64 sums of float32 or float64 values: rounding of the last bits), the
   same on every CPU (no FMA contraction: FG_NO_CONTRACT). */
#ifndef FG_FG_NORM_H
#define FG_FG_NORM_H
#include <stddef.h>
#include "fg_common.h"

#define FG_LANES 16

static inline double fg_lanes_total(const double *acc) {
    double t[FG_LANES / 2];
    for (int l = 0; l < FG_LANES / 2; l++) t[l] = acc[l] + acc[l + FG_LANES / 2];
    for (int w = FG_LANES / 4; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
    return t[0];
}

/* sum of p[0:n]; sum of (p[k] - m)^2 */
#define FG_NORM_SUMS(T, SFX)                                                                  \
FG_CLONES FG_NO_CONTRACT static double fg_sum_##SFX(const T *p, ptrdiff_t n) {                \
    double acc[FG_LANES] = {0};                                                               \
    ptrdiff_t k = 0;                                                                          \
    for (; k + FG_LANES <= n; k += FG_LANES)                                                  \
        for (int l = 0; l < FG_LANES; l++) acc[l] += (double)p[k + l];                        \
    for (int l = 0; k < n; k++, l++) acc[l] += (double)p[k];                                  \
    return fg_lanes_total(acc);                                                               \
}                                                                                             \
FG_CLONES FG_NO_CONTRACT static double fg_sqdev_##SFX(const T *p, ptrdiff_t n, double m) {    \
    double acc[FG_LANES] = {0};                                                               \
    ptrdiff_t k = 0;                                                                          \
    for (; k + FG_LANES <= n; k += FG_LANES)                                                  \
        for (int l = 0; l < FG_LANES; l++) {                                                  \
            double d = (double)p[k + l] - m;                                                  \
            acc[l] += d * d;                                                                  \
        }                                                                                     \
    for (int l = 0; k < n; k++, l++) {                                                        \
        double d = (double)p[k] - m;                                                          \
        acc[l] += d * d;                                                                      \
    }                                                                                         \
    return fg_lanes_total(acc);                                                               \
}                                                                                             \
/* sg += sum q; sgx += sum q * (p - m): two loops (GCC did not vectorise one loop        \
   carrying both lane arrays) */                                                             \
FG_CLONES FG_NO_CONTRACT static void fg_gsums_##SFX(const T *q, const T *p, ptrdiff_t n,      \
                                                    double m, double *sg, double *sgx) {      \
    double b[FG_LANES] = {0};                                                                 \
    ptrdiff_t k = 0;                                                                          \
    for (; k + FG_LANES <= n; k += FG_LANES)                                                  \
        for (int l = 0; l < FG_LANES; l++)                                                    \
            b[l] += (double)q[k + l] * ((double)p[k + l] - m);                                \
    for (int l = 0; k < n; k++, l++)                                                          \
        b[l] += (double)q[k] * ((double)p[k] - m);                                            \
    *sg += fg_sum_##SFX(q, n);                                                                \
    *sgx += fg_lanes_total(b);                                                                \
}

/* The two elementwise passes in the same arithmetic as before (double, no contraction),
   in the AVX2 / AVX-512 clones: y = x * sc + sh; gx = a * (g - c1 - (x - m) * c2). */
#define FG_NORM_MAPS(T, SFX)                                                                  \
FG_CLONES FG_NO_CONTRACT static void fg_affine_##SFX(const T *restrict p, T *restrict q,      \
                                                     ptrdiff_t n, double sc, double sh) {     \
    for (ptrdiff_t k = 0; k < n; k++) q[k] = (T)((double)p[k] * sc + sh);                     \
}                                                                                             \
FG_CLONES FG_NO_CONTRACT static void fg_bn_gx_##SFX(const T *restrict q, const T *restrict p, \
                                                    T *restrict o, ptrdiff_t n, double a,     \
                                                    double c1, double m, double c2) {         \
    for (ptrdiff_t k = 0; k < n; k++)                                                         \
        o[k] = (T)(a * ((double)q[k] - c1 - ((double)p[k] - m) * c2));                        \
}

FG_NORM_SUMS(float, f32)
FG_NORM_SUMS(double, f64)
FG_NORM_MAPS(float, f32)
FG_NORM_MAPS(double, f64)

#endif  /* FG_FG_NORM_H */
