/* Recurrent cells' pointwise gate math, one time step, B rows of n hidden units
   (csrc/rnn.pxi; twin fastgrad/_np/rnn.py, whose docstring gives the formulas). Each loop
   reads and writes every element once, in the twin's order of operations and without
   contracting a * b + c into an FMA (FG_NO_CONTRACT), so float64 results are those of the
   same formulas written with fastgrad's ops (the step ops' differentiable backward) bit for
   bit given the same activations; the activations are fg_common.h's branch-free sigmoid /
   tanh, so that both dtypes vectorise (float64's within 2.5 ulp, as libm's that the ops
   use are within 1). */
#ifndef FG_FG_RNN_H
#define FG_FG_RNN_H
#include "fg_common.h"

/* The forward twice: with restrict everywhere (GCC vectorises it), and for act == gates
   (in place: each element is read before it is written, at the same index) without. */
#define FG_LSTM_FWD(T, NAME, SIG, TANH, RESTRICT)                                         \
FG_CLONES FG_NO_CONTRACT static void NAME(const T *RESTRICT gates, const T *restrict cp, T *RESTRICT act, \
                           T *restrict c, T *restrict h, ptrdiff_t b, ptrdiff_t n) {        \
    for (ptrdiff_t r = 0; r < b; r++) {                                                     \
        const T *g = gates + r * 4 * n;                                                     \
        T *a = act + r * 4 * n;                                                             \
        const T *cpr = cp + r * n;                                                          \
        T *cr = c + r * n, *hr = h + r * n;                                                 \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T i = SIG(g[j]), f = SIG(g[n + j]), gg = TANH(g[2 * n + j]),                    \
              o = SIG(g[3 * n + j]);                                                        \
            T cn = f * cpr[j] + i * gg;                                                     \
            a[j] = i;                                                                       \
            a[n + j] = f;                                                                   \
            a[2 * n + j] = gg;                                                              \
            a[3 * n + j] = o;                                                               \
            cr[j] = cn;                                                                     \
            hr[j] = o * TANH(cn);                                                           \
        }                                                                                   \
    }                                                                                       \
}

#define FG_LSTM(T, SFX, SIG, TANH)                                                        \
FG_LSTM_FWD(T, fg_lstm_fwd_restrict_##SFX, SIG, TANH, restrict)                            \
FG_LSTM_FWD(T, fg_lstm_fwd_inplace_##SFX, SIG, TANH, )                                     \
static void fg_lstm_fwd_##SFX(const T *gates, const T *cp, T *act, T *c, T *h, ptrdiff_t b, \
                              ptrdiff_t n) {                                                \
    if (act == gates)                                                                       \
        fg_lstm_fwd_inplace_##SFX(gates, cp, act, c, h, b, n);                              \
    else                                                                                    \
        fg_lstm_fwd_restrict_##SFX(gates, cp, act, c, h, b, n);                             \
}                                                                                           \
FG_CLONES FG_NO_CONTRACT static void fg_lstm_bwd_##SFX(const T *restrict act, const T *restrict cp,       \
                                        const T *restrict c, const T *restrict gh,          \
                                        const T *restrict gc, T *restrict dgates,           \
                                        T *restrict dcp, ptrdiff_t b, ptrdiff_t n) {        \
    for (ptrdiff_t r = 0; r < b; r++) {                                                     \
        const T *a = act + r * 4 * n;                                                       \
        T *d = dgates + r * 4 * n;                                                          \
        ptrdiff_t o0 = r * n;                                                               \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T i = a[j], f = a[n + j], gg = a[2 * n + j], o = a[3 * n + j];                  \
            T tc = TANH(c[o0 + j]), ghj = gh[o0 + j];                                       \
            T dc = ghj * o * ((T)1 - tc * tc) + gc[o0 + j];                                 \
            d[j] = dc * gg * (i * ((T)1 - i));                                              \
            d[n + j] = dc * cp[o0 + j] * (f * ((T)1 - f));                                  \
            d[2 * n + j] = dc * i * ((T)1 - gg * gg);                                       \
            d[3 * n + j] = ghj * tc * (o * ((T)1 - o));                                     \
            dcp[o0 + j] = dc * f;                                                           \
        }                                                                                   \
    }                                                                                       \
}
FG_LSTM(float, f32, fg_sigmoidf, fg_tanhf)
FG_LSTM(double, f64, fg_sigmoid_f64, fg_tanh_f64)

#define FG_GRU(T, SFX, SIG, TANH)                                                         \
FG_CLONES FG_NO_CONTRACT static void fg_gru_fwd_##SFX(const T *restrict gx, const T *restrict gh,         \
                                       const T *restrict hp, T *restrict act,               \
                                       T *restrict h, ptrdiff_t b, ptrdiff_t n) {           \
    for (ptrdiff_t r = 0; r < b; r++) {                                                     \
        const T *x = gx + r * 3 * n, *y = gh + r * 3 * n;                                   \
        T *a = act + r * 4 * n;                                                             \
        ptrdiff_t o0 = r * n;                                                               \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T rr = SIG(x[j] + y[j]), z = SIG(x[n + j] + y[n + j]), ghn = y[2 * n + j];      \
            T nn = TANH(ghn * rr + x[2 * n + j]);                                           \
            a[j] = rr;                                                                      \
            a[n + j] = z;                                                                   \
            a[2 * n + j] = nn;                                                              \
            a[3 * n + j] = ghn;                                                             \
            h[o0 + j] = (hp[o0 + j] - nn) * z + nn;                                         \
        }                                                                                   \
    }                                                                                       \
}                                                                                           \
FG_CLONES FG_NO_CONTRACT static void fg_gru_bwd_##SFX(const T *restrict act, const T *restrict hp,        \
                                       const T *restrict gy, T *restrict dgx,               \
                                       T *restrict dgh, T *restrict dhp, ptrdiff_t b,       \
                                       ptrdiff_t n) {                                       \
    for (ptrdiff_t r = 0; r < b; r++) {                                                     \
        const T *a = act + r * 4 * n;                                                       \
        T *dx = dgx + r * 3 * n, *dy = dgh + r * 3 * n;                                     \
        ptrdiff_t o0 = r * n;                                                               \
        for (ptrdiff_t j = 0; j < n; j++) {                                                 \
            T rr = a[j], z = a[n + j], nn = a[2 * n + j], ghn = a[3 * n + j];               \
            T g = gy[o0 + j];                                                               \
            T dn = ((T)1 - z) * g * ((T)1 - nn * nn);                                       \
            T dz = (hp[o0 + j] - nn) * g * (z * ((T)1 - z));                                \
            T dr = dn * ghn * (rr * ((T)1 - rr));                                           \
            dhp[o0 + j] = g * z;                                                            \
            dx[j] = dr;                                                                     \
            dx[n + j] = dz;                                                                 \
            dx[2 * n + j] = dn;                                                             \
            dy[j] = dr;                                                                     \
            dy[n + j] = dz;                                                                 \
            dy[2 * n + j] = dn * rr;                                                        \
        }                                                                                   \
    }                                                                                       \
}
FG_GRU(float, f32, fg_sigmoidf, fg_tanhf)
FG_GRU(double, f64, fg_sigmoid_f64, fg_tanh_f64)

#endif
