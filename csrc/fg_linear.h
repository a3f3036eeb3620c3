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


#endif  /* FG_FG_LINEAR_H */
