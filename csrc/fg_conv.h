/* Convolution and pooling loops that GCC vectorises only when written out in C
   (csrc/conv.pxi; twin fastgrad/_np/conv.py, whose docstring gives PyTorch's index rules). */
#ifndef FG_FG_CONV_H
#define FG_FG_CONV_H
#include <stddef.h>
#include <stdint.h>
#include "fg_common.h"

/* Max pooling with a 2x2 window, stride 2, no padding, dilation 1, on one plane of width W
   (oh, ow: the output's; 2*oh <= H, 2*ow <= W). The four taps in PyTorch's order, each taken
   when `v > m || isnan(v)` (the first maximum, the last NaN; the first tap stands for the
   window's start, which is also PyTorch's index when nothing is above -inf), as selects:
   no branch per element, so the loop over b vectorises (~25x the general window loop, whose
   compare-and-branch mispredicts on random maxima). */
#define FG_MAXPOOL2X2(T, SFX)                                                                 \
FG_CLONES static void fg_maxpool2x2_##SFX(const T *restrict x, T *restrict y,                 \
                                          int64_t *restrict idx, ptrdiff_t W, ptrdiff_t oh,   \
                                          ptrdiff_t ow) {                                     \
    for (ptrdiff_t a = 0; a < oh; a++) {                                                      \
        const T *r0 = x + 2 * a * W, *r1 = r0 + W;                                            \
        T *ya = y + a * ow;                                                                   \
        int64_t *ia = idx + a * ow;                                                           \
        int64_t base = 2 * a * W;                                                             \
        for (ptrdiff_t b = 0; b < ow; b++) {                                                  \
            T m = r0[2 * b], v;                                                               \
            int64_t k = base + 2 * b;                                                         \
            int t;                                                                            \
            v = r0[2 * b + 1];                                                                \
            t = (v > m) | (v != v);                                                           \
            m = t ? v : m;                                                                    \
            k = t ? base + 2 * b + 1 : k;                                                     \
            v = r1[2 * b];                                                                    \
            t = (v > m) | (v != v);                                                           \
            m = t ? v : m;                                                                    \
            k = t ? base + W + 2 * b : k;                                                     \
            v = r1[2 * b + 1];                                                                \
            t = (v > m) | (v != v);                                                           \
            m = t ? v : m;                                                                    \
            k = t ? base + W + 2 * b + 1 : k;                                                 \
            ya[b] = m;                                                                        \
            ia[b] = k;                                                                        \
        }                                                                                     \
    }                                                                                         \
}

FG_MAXPOOL2X2(float, f32)
FG_MAXPOOL2X2(double, f64)

#endif  /* FG_FG_CONV_H */
