/* Linear's glue in C: transposed add, bias rows add and sum. */
#ifndef FG_FG_LINEAR_H
#define FG_FG_LINEAR_H
#include "fg_common.h"

/* out[i, j] = a[j, i] (+ b[j]) for the rows i in [i0, i1) of out (m x n; a is n x m,
   both C order): 32 x 32 tiles, so that both sides stay in cache lines (NumPy's
   strided copy of a transposed matrix is ~6x slower). */
#define FG_T_ADD(NAME, T)                                                                 \
FG_CLONES static void NAME(const T *a, const T *b, T *out, ptrdiff_t m, ptrdiff_t n,     \
                           ptrdiff_t i0, ptrdiff_t i1) {                                  \
    for (ptrdiff_t ib = i0; ib < i1; ib += 32) {                                          \
        ptrdiff_t ie = ib + 32 < i1 ? ib + 32 : i1;                                       \
        for (ptrdiff_t jb = 0; jb < n; jb += 32) {                                        \
            ptrdiff_t je = jb + 32 < n ? jb + 32 : n;                                     \
            for (ptrdiff_t i = ib; i < ie; i++) {                                         \
                T *o = out + i * n;                                                       \
                if (b) { for (ptrdiff_t j = jb; j < je; j++) o[j] = a[j * m + i] + b[j]; } \
                else { for (ptrdiff_t j = jb; j < je; j++) o[j] = a[j * m + i]; }         \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}
FG_T_ADD(fg_t_add_f32, float)
FG_T_ADD(fg_t_add_f64, double)


/* Linear's bias: y[i, :] += b (m x n, C order), and its gradient out = sum of g's rows,
   summed row by row from 0 as NumPy's axis-0 reduction of a C-contiguous array does
   (each lane of a vector is one column: the order of the additions is unchanged). */
#define FG_ROWS(T, SFX)                                                                   \
FG_CLONES static void fg_rows_add_##SFX(T *restrict y, const T *restrict b,               \
                                        ptrdiff_t m, ptrdiff_t n) {                       \
    for (ptrdiff_t i = 0; i < m; i++) {                                                   \
        T *row = y + i * n;                                                               \
        for (ptrdiff_t j = 0; j < n; j++) row[j] = row[j] + b[j];                         \
    }                                                                                     \
}                                                                                         \
FG_CLONES static void fg_rows_sum_##SFX(const T *restrict g, T *restrict out,             \
                                        ptrdiff_t m, ptrdiff_t n) {                       \
    for (ptrdiff_t j = 0; j < n; j++) out[j] = 0;                                         \
    for (ptrdiff_t i = 0; i < m; i++) {                                                   \
        const T *row = g + i * n;                                                         \
        for (ptrdiff_t j = 0; j < n; j++) out[j] = out[j] + row[j];                       \
    }                                                                                     \
}
FG_ROWS(float, f32)
FG_ROWS(double, f64)


/* Linear of one row: y[j] = sum_k w[j, k] x[k] (+ b[j]) for w (n x k, C order), four rows of
   w at a time against one pass over x. Each dot product keeps 16 partial sums (lane l takes
   the terms k = l mod 16) added in a fixed tree at the end; written without FMA contraction
   (FG_NO_CONTRACT) so every CPU-dispatch clone gives the same result. The product is
   memory-bound (w read once): at batch 1 this is 1.2-1.4x NumPy's OpenBLAS sgemv on its AVX2
   kernels, without its call overhead (benchmarks/NOTES_models.md M9). */
#define FG_LANES 16
#define FG_VEC(T, SFX)                                                                    \
static inline T fg_lanes_sum_##SFX(const T *a) {                                          \
    T t[8];                                                                               \
    for (int l = 0; l < 8; l++) t[l] = a[l] + a[l + 8];                                   \
    for (int l = 0; l < 4; l++) t[l] = t[l] + t[l + 4];                                   \
    return (t[0] + t[2]) + (t[1] + t[3]);                                                 \
}                                                                                         \
FG_CLONES FG_NO_CONTRACT static void fg_linear_vec_##SFX(                                 \
        const T *restrict w, const T *restrict x, const T *restrict b, T *restrict y,     \
        ptrdiff_t n, ptrdiff_t k) {                                                       \
    ptrdiff_t kb = k - k % FG_LANES, j = 0;                                               \
    for (; j + 4 <= n; j += 4) {                                                          \
        T a0[FG_LANES] = {0}, a1[FG_LANES] = {0}, a2[FG_LANES] = {0}, a3[FG_LANES] = {0}; \
        const T *r0 = w + j * k, *r1 = r0 + k, *r2 = r1 + k, *r3 = r2 + k;                \
        for (ptrdiff_t i = 0; i < kb; i += FG_LANES)                                      \
            for (int l = 0; l < FG_LANES; l++) {                                          \
                T xv = x[i + l];                                                          \
                a0[l] = a0[l] + r0[i + l] * xv;                                           \
                a1[l] = a1[l] + r1[i + l] * xv;                                           \
                a2[l] = a2[l] + r2[i + l] * xv;                                           \
                a3[l] = a3[l] + r3[i + l] * xv;                                           \
            }                                                                             \
        for (ptrdiff_t i = kb; i < k; i++) {                                              \
            T xv = x[i];                                                                  \
            a0[i - kb] = a0[i - kb] + r0[i] * xv;                                         \
            a1[i - kb] = a1[i - kb] + r1[i] * xv;                                         \
            a2[i - kb] = a2[i - kb] + r2[i] * xv;                                         \
            a3[i - kb] = a3[i - kb] + r3[i] * xv;                                         \
        }                                                                                 \
        y[j] = fg_lanes_sum_##SFX(a0);                                                    \
        y[j + 1] = fg_lanes_sum_##SFX(a1);                                                \
        y[j + 2] = fg_lanes_sum_##SFX(a2);                                                \
        y[j + 3] = fg_lanes_sum_##SFX(a3);                                                \
    }                                                                                     \
    for (; j < n; j++) {                                                                  \
        T a0[FG_LANES] = {0};                                                             \
        const T *r0 = w + j * k;                                                          \
        for (ptrdiff_t i = 0; i < kb; i += FG_LANES)                                      \
            for (int l = 0; l < FG_LANES; l++) a0[l] = a0[l] + r0[i + l] * x[i + l];      \
        for (ptrdiff_t i = kb; i < k; i++) a0[i - kb] = a0[i - kb] + r0[i] * x[i];        \
        y[j] = fg_lanes_sum_##SFX(a0);                                                    \
    }                                                                                     \
    if (b)                                                                                \
        for (j = 0; j < n; j++) y[j] = y[j] + b[j];                                       \
}
FG_VEC(float, f32)
FG_VEC(double, f64)


#endif  /* FG_FG_LINEAR_H */
