/* NumPy's pairwise summation in C, so sum() is NumPy's bit for bit. */
#ifndef FG_FG_REDUCE_H
#define FG_FG_REDUCE_H
#include "fg_common.h"

/* NumPy's pairwise summation (loops_utils.h.src), so sum() is NumPy's bit for bit:
   fewer than 8 values one by one from -0; up to 128 with 8 accumulators, folded as
   ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest one by one; more,
   split in two halves (the first a multiple of 8) summed the same way. Not cloned per
   CPU (FG_CLONES): for the small arrays sum() meets in a graph the call is the cost. */
#define FG_PAIRWISE(T, SFX)                                                               \
static T fg_pairwise_##SFX(const T *a, ptrdiff_t n) {                                     \
    if (n < 8) {                                                                          \
        T res = -0.0;                                                                     \
        for (ptrdiff_t i = 0; i < n; i++) res += a[i];                                    \
        return res;                                                                       \
    }                                                                                     \
    if (n <= 128) {                                                                       \
        T r[8];                                                                           \
        ptrdiff_t i;                                                                      \
        for (int j = 0; j < 8; j++) r[j] = a[j];                                          \
        for (i = 8; i < n - (n % 8); i += 8)                                              \
            for (int j = 0; j < 8; j++) r[j] += a[i + j];                                 \
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));        \
        for (; i < n; i++) res += a[i];                                                   \
        return res;                                                                       \
    }                                                                                     \
    ptrdiff_t n2 = n / 2;                                                                 \
    n2 -= n2 % 8;                                                                         \
    return fg_pairwise_##SFX(a, n2) + fg_pairwise_##SFX(a + n2, n - n2);                  \
}
FG_PAIRWISE(float, f32)
FG_PAIRWISE(double, f64)


#endif  /* FG_FG_REDUCE_H */
