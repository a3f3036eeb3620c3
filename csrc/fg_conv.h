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

/* im2col of one image for stride 1, width dilation 1 and ow == W (a 'same'-width
   convolution: kw - 1 == 2 pw, as 3x3 with padding 1): row (c, i, j) of the patch matrix
   (o + ((c*kh + i)*kw + j)*srow, oh*ow long) is the plane shifted by rows and one column
   offset. One contiguous copy of its rows inside the image, then the column(s) that
   wrapped around from the neighbouring row and the rows above/below the image set to 0:
   no per-row loop of ow elements (W7b's 8- and 16-wide planes). */
#define FG_IM2COL_SAME(T, SFX)                                                                \
static void fg_im2col_same_##SFX(const T *restrict x, T *restrict o, ptrdiff_t srow,          \
                                 ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t kh,         \
                                 ptrdiff_t kw, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t dh,      \
                                 ptrdiff_t oh) {                                              \
    for (ptrdiff_t c = 0; c < C; c++)                                                         \
        for (ptrdiff_t i = 0; i < kh; i++) {                                                  \
            ptrdiff_t ylo_i = ph - i * dh, yhi_i = H + ph - i * dh;                           \
            ylo_i = ylo_i < 0 ? 0 : (ylo_i > oh ? oh : ylo_i);                                \
            yhi_i = yhi_i > oh ? oh : yhi_i;                                                  \
            if (yhi_i < ylo_i) yhi_i = ylo_i;                                                 \
            for (ptrdiff_t j = 0; j < kw; j++) {                                              \
                ptrdiff_t ylo = ylo_i, yhi = yhi_i;                                           \
                ptrdiff_t off = j - pw;                                                       \
                ptrdiff_t lo = off < 0 ? -off : 0, hi = off > 0 ? W - off : W;                \
                T *d = o + ((c * kh + i) * kw + j) * srow;                                    \
                if (hi <= lo) ylo = yhi = oh;  /* the tap reads padding only */               \
                for (ptrdiff_t t = 0; t < ylo * W; t++) d[t] = 0;                             \
                for (ptrdiff_t t = yhi * W; t < oh * W; t++) d[t] = 0;                        \
                if (yhi == ylo) continue;                                                     \
                const T *src = x + (c * H + ylo - ph + i * dh) * W;                           \
                T *dd = d + ylo * W;                                                          \
                ptrdiff_t count = (yhi - ylo) * W;                                            \
                for (ptrdiff_t t = lo; t < count - (W - hi); t++) dd[t] = src[t + off];       \
                for (ptrdiff_t y = 0; y < yhi - ylo; y++) {                                   \
                    for (ptrdiff_t z = 0; z < lo; z++) dd[y * W + z] = 0;                     \
                    for (ptrdiff_t z = hi; z < W; z++) dd[y * W + z] = 0;                     \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
}

FG_IM2COL_SAME(float, f32)
FG_IM2COL_SAME(double, f64)

#endif  /* FG_FG_CONV_H */
