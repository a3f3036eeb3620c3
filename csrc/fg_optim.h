/* Optimizer steps in C (SGD; the others are Cython loops in optim.pxi). */
#ifndef FG_FG_OPTIM_H
#define FG_FG_OPTIM_H
#include "fg_common.h"

/* SGD on p[lo:hi] (PyTorch's formula and rounding: fp-contract off, so the AVX2 and
   AVX-512 clones do not fuse lr * d into p's subtraction). sgn is -1 to maximize. The
   arrays never overlap (_state_fast checks), hence restrict. */
#define FG_SGD(T, SFX)                                                                    \
FG_CLONES FG_NO_CONTRACT                                                                  \
static void fg_sgd_##SFX(T *restrict p, const T *restrict g, T *restrict buf,             \
                         ptrdiff_t lo, ptrdiff_t hi, T lr, T mom, T damp1, T wd, T sgn,   \
                         int nesterov, int first) {                                       \
    ptrdiff_t i;                                                                          \
    if (mom == 0 && wd == 0) {  /* (sgn * lr) * g is lr * (sgn * g) exactly: sgn is +-1 */ \
        T slr = sgn * lr;                                                                 \
        _Pragma("GCC unroll 4")                                                           \
        for (i = lo; i < hi; i++) p[i] = p[i] - slr * g[i];                               \
    } else if (mom == 0) {                                                                \
        for (i = lo; i < hi; i++) { T d = sgn * g[i] + wd * p[i]; p[i] = p[i] - lr * d; } \
    } else {                                                                              \
        for (i = lo; i < hi; i++) {                                                       \
            T d = sgn * g[i];                                                             \
            if (wd != 0) d = d + wd * p[i];                                               \
            T bi = first ? d : buf[i] * mom + damp1 * d;                                  \
            buf[i] = bi;                                                                  \
            d = nesterov ? d + mom * bi : bi;                                             \
            p[i] = p[i] - lr * d;                                                         \
        }                                                                                 \
    }                                                                                     \
}
FG_SGD(float, f32)
FG_SGD(double, f64)

#endif  /* FG_FG_OPTIM_H */
