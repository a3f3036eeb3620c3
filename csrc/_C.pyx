"""Compiled kernels (module ``fastgrad._C``); fastgrad/_kernels_np.py is the pure-NumPy twin.

Both modules expose the same functions with the same signatures, argument checks
(exception types and messages) and results to rounding. Every kernel takes its inputs
first and ``out`` last, writes into ``out`` and returns it; the optimizer steps update
their parameter and state arrays in place and return the parameter.

Layout of this file:

* Argument checks. A C fast path accepts exactly the common case (base-class ndarrays
  of one native float dtype and shape, C-contiguous, aligned, outputs writeable) with a
  few field reads of the array structs; anything else goes through the shared Python
  checks (fastgrad/_kernel_checks.py), so errors and their messages are the twin's.
* Loops: ``cdef ... noexcept nogil`` functions on raw pointers + lengths, specialised by
  dtype (fused type ``floating``). No typed memoryviews: acquiring one per array per call
  cost ~1 us, more than the whole kernel on small arrays.
* Each loop family (elementwise, row-wise, cross-entropy, each optimizer) has a range
  function ``f(..., lo, hi)`` and a driver that calls it once on [0, n) below PAR_MIN
  elements (no OpenMP region at all) or on blocks of BLOCK elements across the OpenMP
  threads (``prange``, static schedule: one contiguous stretch per thread).
* The float32 exp/tanh/sigmoid are branch-free C (below) so GCC vectorises the loops
  that call them (glibc's expf/tanhf are an opaque call per element); float64 keeps
  libm. Loops are written to be vectorisable: loop-invariant options as selects, one
  load and one store per array, no per-element pow or division by a constant.
* Row sums accumulate in double.
"""
cimport cython
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, erfc, exp, fabs, log, log1p, log1pf, sqrt, sqrtf, tanh
from libc.stdint cimport int64_t
from libc.string cimport memcmp
from cpython.long cimport PyLong_AsLongLongAndOverflow

import numpy as np

cnp.import_array()

__all__ = [
    "add", "sub", "mul", "div", "neg", "square", "sum_all", "fill", "mm",
    "sigmoid_fwd", "sigmoid_bwd", "tanh_fwd", "tanh_bwd", "relu_fwd", "relu_bwd",
    "gelu_fwd", "gelu_bwd", "silu_fwd", "silu_bwd", "softplus_fwd", "softplus_bwd",
    "softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd",
    "cross_entropy_fwd", "cross_entropy_bwd",
    "sgd_step", "sgd_foreach", "adam_step", "rmsprop_step", "adagrad_step",
]

# Loops over at least this many elements run on all OpenMP threads, in blocks of BLOCK.
cdef Py_ssize_t PAR_MIN = 32768
cdef Py_ssize_t BLOCK = 8192
# Below this many elements the GIL is kept: releasing and retaking it costs more.
cdef Py_ssize_t NOGIL_MIN = 4096

cdef double SQRT1_2 = 0.7071067811865476            # 1/sqrt(2)
cdef double INV_SQRT_2PI = 0.3989422804014327       # 1/sqrt(2*pi)
cdef double GELU_BETA = 0.7978845608028654          # sqrt(2/pi)
cdef double GELU_KAPPA = 0.044715

# Argument checks: plain Python shared with the NumPy twin (the slow path here).
from fastgrad._kernel_checks import (
    _describe, _dtype, _new_out, _same_shape, _writeable, _rows, _elementwise, _rowwise, _targets,
    _ce_args, _state, _floats)


# --------------------------------------------------------------------------- float32 math in C
cdef extern from *:
    """
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

    /* GELU for float32 in float32 arithmetic (16 lanes with AVX-512, vs 8 in double),
       max error 9 ulp against the exact function (tests: float32 rtol 1e-5), with no
       cancellation anywhere: Phi(x) for x < 0 and the tails are relatively accurate. */

    /* fg_expf with results below 2^-125 flushed to 0 (one scale factor instead of two:
       ~10% off GELU; its results there are < 1e-37 and rounded away anyway). Its results
       are never subnormal: one subnormal operand costs ~100 cycles. */
    static inline float fg_expf_ftz(float x) {
        const float shift = 12582912.0f;
        x = x > 89.0f ? 89.0f : x;
        x = x < -104.0f ? -104.0f : x;
        float k = x * 1.44269504f + shift;
        int32_t n = (int32_t)(fg_as_uint(k) - fg_as_uint(shift));
        k -= shift;
        float r = x - k * 0.693359375f;
        r = r - k * -2.12194440e-4f;
        float p = 1.38146128e-3f;
        p = p * r + 8.36871006e-3f;
        p = p * r + 4.16683890e-2f;
        p = p * r + 1.66665211e-1f;
        p = p * r + 4.99999940e-1f;
        p = 1.0f + r + (r * r) * p;
        int32_t e = n + 127;                    /* 255 at x = 89: inf; <= 1: flush to 0 */
        e = e > 1 ? e : 0;
        return p * fg_as_float((uint32_t)e << 23);
    }

    /* exp(-(a + b)) for a float a and a tiny correction b (|b| <= ulp(a)): a sum that is
       not a float would otherwise lose |a| * 6e-8 of relative accuracy (7 ulp at a = 16). */
    static inline float fg_exp_neg2(float a, float b) { return fg_expf_ftz(-a) * (1.0f - b); }

    /* Phi(-|x|) = erfc(z) / 2 = H exp(-x^2 / 2), z = |x| / sqrt 2: returns H and puts
       exp(-x^2 / 2) in *ez2 (the normal pdf reuses it): erfc(z) = t exp(-z^2) Q(t),
       t = 2 / (2 + z), Q a degree-9 polynomial fitted here (Lawson, relative error 2e-8 for
       z in [0, 10.5]; beyond, exp(-z^2) is 0). x^2 = hi + lo exactly (Dekker's product: a
       12-bit split, no FMA needed). The callers multiply H by |x| or the pdf's factor
       before exp(-x^2 / 2): H exp(-x^2 / 2) itself is subnormal for |x| > 12.9, and a
       subnormal operand costs ~100 cycles (a 10-20x slower kernel on inputs near +-13). */
    static const float FG_PHI_Q[10] = {0.01081355f, -0.11545905f, 0.41110285f, -0.64701534f,
                                       0.40285848f, -0.08886748f, 0.22244295f, 0.2392691f,
                                       0.28278712f, 0.28206781f};   /* Q, highest power first */
    static inline float fg_phi_tailf(float x, float *ez2) {
        float z = fabsf(x) * 0.70710678f;
        float t = 2.0f / (2.0f + z);
        float q = FG_PHI_Q[0];
        for (int j = 1; j < 10; j++) q = q * t + FG_PHI_Q[j];
        float xh = fg_as_float(fg_as_uint(x) & 0xFFFFF000u), xl = x - xh;
        float hi = x * x;
        float lo = ((xh * xh - hi) + 2.0f * xh * xl) + xl * xl;
        lo = hi < 512.0f ? lo : 0.0f;                   /* exp(-hi / 2) is 0 there anyway */
        float e = fg_exp_neg2(0.5f * hi, 0.5f * lo);
        *ez2 = e;
        return 0.5f * t * q;
    }

    /* x Phi(x) = max(x, 0) - |x| Phi(-|x|) (x < 0: x * 0, so that -inf gives nan as
       before; |x| <= 1e30, so that +inf gives inf). Results below 2^-126 (x < -13.146) are
       -0, as in fg_gelu_tail16, rather than subnormal (slow). */
    static inline float fg_geluf(float x) {
        float e, h = fg_phi_tailf(x, &e);
        float u = fabsf(x);
        e = x * x < 172.83f ? e : 0.0f;
        u = u < 1e30f ? u : 1e30f;
        return (x < 0.0f ? x * 0.0f : x) - (u * h) * e;
    }

    /* Phi(x) + x pdf(x) = d or 1 - d, d = Phi(-|x|) - |x| pdf(x) (+-inf: nan, as torch) */
    static inline float fg_gelu_gradf(float x) {
        float e, h = fg_phi_tailf(x, &e);
        float d = (h - fabsf(x) * 0.39894228f) * e;
        return x < 0.0f ? d : 1.0f - d;
    }

    /* exp(-2u), u = sqrt(2/pi) (x + 0.044715 x^3) (tanh form): 2u in double (exact enough),
       then as float hi + lo for fg_exp_neg2. */
    static inline float fg_exp_m2uf(float x) {
        double xd = x;
        double u2 = 1.5957691216057308 * (xd + 0.044715 * (xd * xd * xd));
        float hi = (float)u2;
        float lo = (float)(u2 - (double)hi);
        lo = fabsf(hi) < 128.0f ? lo : 0.0f;            /* exp saturates (and no inf - inf) */
        return fg_exp_neg2(hi, lo);
    }

    /* x sigmoid(2u) = 0.5 x (1 + tanh u) */
    static inline float fg_gelu_tanhf(float x) { return x * (1.0f / (1.0f + fg_exp_m2uf(x))); }

    /* d/dx of the tanh form, as _gelu_grad below: s + 2 x s (1 - s) u' with s = sigmoid(2u) */
    static inline float fg_gelu_tanh_gradf(float x) {
        float e = fg_exp_m2uf(x);
        float s = 1.0f / (1.0f + e);
        float q = e < INFINITY ? s * (s * e) : 0.0f;    /* s (1 - s) without cancellation */
        float du = 0.7978846f * (1.0f + 0.134145f * (x * x));
        return q == 0.0f ? s : s + 2.0f * x * q * du;   /* |x| huge: avoid 0 * inf */
    }

    enum fg_op {            /* the elementwise kernels (Op in Cython) */
        FG_SIGMOID_FWD, FG_SIGMOID_BWD, FG_TANH_FWD, FG_TANH_BWD, FG_RELU_FWD, FG_RELU_BWD,
        FG_GELU_FWD, FG_GELU_BWD, FG_SILU_FWD, FG_SILU_BWD, FG_SOFTPLUS_FWD, FG_SOFTPLUS_BWD
    };

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

    /* The exact GELU forward with AVX-512 (benchmarks/NOTES.md, B5): gelu(x) = x Phi(x) =
       max(x, 0) - |x| Phi(-|x|), with Phi(-u) for u = |x| < 10 from a table of 32
       polynomials of degree 7 (csrc/phi_table.py fits them; vpermt2ps picks a coefficient
       for 16 lanes at once). The intervals narrow as Phi(-u) falls faster, from 1.4 wide
       at 0 to 0.175 at 10: k = round((ALPHA u + BETA) u). No exp and no division: ~24
       vector operations per 16 floats, against ~55 in fg_geluf's loop. Max error 4.7 ulp
       over [-10, inf) (fg_geluf: 7). Below -10 (Phi < 8e-24) the table would lose relative
       accuracy: those lanes take fg_gelu_tail16, fg_geluf's formula, so a vector with such
       a lane costs ~70 operations (0.7% of vectors for randn * 3). Each element's result
       depends on its value only, never on its neighbours. */
    #ifdef FG_AVX512_GELU
    #include <immintrin.h>
    /* csrc/phi_table.py: worst relative error 3.2e-07 */
    #define FG_PHI_UMAX 9.99999905f
    #define FG_PHI_ALPHA 0.262499988f
    #define FG_PHI_BETA 0.524999976f
    static const float FG_PHI_MID[32] __attribute__((aligned(64))) = {
        0.352168113f, 1.14776504f, 1.91761804f, 2.51499057f, 3.02269101f, 3.47238994f,
        3.88047767f, 4.25679016f, 4.60779333f, 4.93801212f, 5.25076199f, 5.54855776f,
        5.83336401f, 6.10674667f, 6.36998177f, 6.6241231f, 6.87005329f, 7.10852098f,
        7.34016705f, 7.56554651f, 7.78514242f, 7.99937773f, 8.2086277f, 8.41322517f,
        8.61346722f, 8.80962086f, 9.00192738f, 9.19060421f, 9.37584877f, 9.55784321f,
        9.73675251f, 9.91272736f};
    static const float FG_PHI_C0[32] __attribute__((aligned(64))) = {
        0.362356097f, 0.125532791f, 0.0275797304f, 0.0059517785f, 0.00125268952f, 0.000257923239f,
        5.21257607e-05f, 1.03691418e-05f, 2.03482432e-06f, 3.94614688e-07f, 7.57356489e-08f, 1.44017864e-08f,
        2.71604406e-09f, 5.08412146e-10f, 9.45253389e-11f, 1.74657788e-11f, 3.20889626e-12f, 5.86465338e-13f,
        1.06663715e-13f, 1.93118633e-14f, 3.48173592e-15f, 6.25247746e-16f, 1.11865378e-16f, 1.99444082e-17f,
        3.54417486e-18f, 6.27849162e-19f, 1.10894625e-19f, 1.95320446e-20f, 3.43107006e-21f, 6.01181026e-22f,
        1.05081675e-22f, 1.83251095e-23f};
    static const float FG_PHI_C1[32] __attribute__((aligned(64))) = {
        -0.37495482f, -0.206465736f, -0.063445881f, -0.0168816615f, -0.0041391328f, -0.000960857491f,
        -0.000214330357f, -4.63601755e-05f, -9.78345179e-06f, -2.02301749e-06f, -4.11198755e-07f, -8.2358433e-08f,
        -1.62852469e-08f, -3.18403726e-09f, -6.16309281e-10f, -1.18223792e-10f, -2.24944056e-11f, -4.24842149e-12f,
        -7.96965955e-13f, -1.48575176e-13f, -2.75393755e-14f, -5.07748522e-15f, -9.3151199e-16f, -1.7010477e-16f,
        -3.09287033e-17f, -5.60065547e-18f, -1.01029782e-18f, -1.81588995e-19f, -3.25272652e-20f, -5.80758823e-21f,
        -1.0337304e-21f, -1.83464687e-22f};
    static const float FG_PHI_C2[32] __attribute__((aligned(64))) = {
        0.0660234243f, 0.118487053f, 0.0608325265f, 0.0212286077f, 0.00625565788f, 0.00166823564f,
        0.000415852119f, 9.86728046e-05f, 2.25400763e-05f, 4.99484668e-06f, 1.07955452e-06f, 2.28485561e-07f,
        4.74989577e-08f, 9.72207115e-09f, 1.96294314e-09f, 3.9156528e-10f, 7.72690592e-11f, 1.51000323e-11f,
        2.92493894e-12f, 5.62027692e-13f, 1.07199277e-13f, 2.03084196e-14f, 3.8232289e-15f, 7.15567028e-16f,
        1.33202112e-16f, 2.46699057e-17f, 4.54732905e-18f, 8.3445913e-19f, 1.52485886e-19f, 2.77541067e-20f,
        5.03260683e-21f, 9.09321101e-22f};
    static const float FG_PHI_C3[32] __attribute__((aligned(64))) = {
        0.0547415204f, -0.010920478f, -0.0283100121f, -0.0149829965f, -0.00561313098f, -0.00177078054f,
        -0.000502179493f, -0.000132282745f, -3.29892719e-05f, -7.88431771e-06f, -1.82094675e-06f, -4.08858085e-07f,
        -8.96443737e-08f, -1.92591649e-08f, -4.06519751e-09f, -8.44875891e-10f, -1.73195736e-10f, -3.50709808e-11f,
        -7.02356315e-12f, -1.39256087e-12f, -2.73592103e-13f, -5.33042713e-14f, -1.03056915e-14f, -1.97834963e-15f,
        -3.77281021e-16f, -7.15091353e-17f, -1.34762181e-17f, -2.52607062e-18f, -4.71129093e-19f, -8.74530757e-20f,
        -1.61610606e-20f, -2.97396492e-21f};
    static const float FG_PHI_C4[32] __attribute__((aligned(64))) = {
        -0.0158177558f, -0.0166136846f, 0.00343120075f, 0.00588259986f, 0.00319924136f, 0.00125920039f,
        0.000417861098f, 0.000124324171f, 3.42427775e-05f, 8.8998604e-06f, 2.21014375e-06f, 5.28986618e-07f,
        1.22795726e-07f, 2.77774124e-08f, 6.14546281e-09f, 1.33360345e-09f, 2.8452532e-10f, 5.97952174e-11f,
        1.2398047e-11f, 2.53956166e-12f, 5.14487975e-13f, 1.03187797e-13f, 2.05060239e-14f, 4.04066818e-15f,
        7.89994649e-16f, 1.5333492e-16f, 2.95611455e-17f, 5.66320521e-18f, 1.07855594e-18f, 2.04274863e-19f,
        3.84878318e-20f, 7.21610314e-21f};
    static const float FG_PHI_C5[32] __attribute__((aligned(64))) = {
        -0.00708807167f, 0.00544600328f, 0.00292716362f, -0.000710747321f, -0.00109162286f, -0.000608794624f,
        -0.000248997647f, -8.60252258e-05f, -2.66192237e-05f, -7.61086267e-06f, -2.04911839e-06f, -5.26064525e-07f,
        -1.29916799e-07f, -3.10631982e-08f, -7.22601401e-09f, -1.6416194e-09f, -3.65325631e-10f, -7.98334038e-11f,
        -1.71657098e-11f, -3.63779905e-12f, -7.60905336e-13f, -1.57276942e-13f, -3.2158131e-14f, -6.5102677e-15f,
        -1.30596535e-15f, -2.59770129e-16f, -5.12666526e-17f, -1.00440042e-17f, -1.95442389e-18f, -3.77880506e-19f,
        -7.26250038e-20f, -1.38794703e-20f};
    static const float FG_PHI_C6[32] __attribute__((aligned(64))) = {
        0.00245195278f, 0.00116889155f, -0.00136333553f, -0.000490389997f, 0.000118764678f, 0.000183393451f,
        0.000105509578f, 4.47191414e-05f, 1.60164673e-05f, 5.132551e-06f, 1.51742972e-06f, 4.21758131e-07f,
        1.11595341e-07f, 2.83604145e-08f, 6.96792579e-09f, 1.66335767e-09f, 3.87306714e-10f, 8.82401999e-11f,
        1.97207424e-11f, 4.33244933e-12f, 9.37256566e-13f, 1.99961155e-13f, 4.21253202e-14f, 8.77254829e-15f,
        1.80761744e-15f, 3.6884677e-16f, 7.45864258e-17f, 1.49565438e-17f, 2.97586725e-18f, 5.87794388e-19f,
        1.15310722e-19f, 2.24767041e-20f};
    static const float FG_PHI_C7[32] __attribute__((aligned(64))) = {
        0.00066737883f, -0.000802999944f, 4.1758758e-05f, 0.000252841855f, 7.3533738e-05f, -1.92897951e-05f,
        -2.83526442e-05f, -1.64936737e-05f, -7.13998543e-06f, -2.62074627e-06f, -8.6159514e-07f, -2.61337618e-07f,
        -7.44861381e-08f, -2.01964774e-08f, -5.25543831e-09f, -1.32100064e-09f, -3.22349369e-10f, -7.6662926e-11f,
        -1.78257981e-11f, -4.06288198e-12f, -9.09637274e-13f, -2.00416073e-13f, -4.35196821e-14f, -9.32596573e-15f,
        -1.97445455e-15f, -4.13400994e-16f, -8.56719563e-17f, -1.75865265e-17f, -3.57841724e-18f, -7.22148941e-19f,
        -1.44618119e-19f, -2.87536802e-20f};
    static int fg_avx512_gelu = 0;            /* set by fg_simd_init; tests switch it */

    __attribute__((target("avx512f"))) static inline __m512 fg_gelu16(__m512 x) {
        __m512 u = _mm512_min_ps(_mm512_abs_ps(x), _mm512_set1_ps(FG_PHI_UMAX));
        /* m = 2^23 + k, k = round((ALPHA u + BETA) u) in its low bits; s = u - mid[k] */
        __m512 g = _mm512_fmadd_ps(u, _mm512_set1_ps(FG_PHI_ALPHA), _mm512_set1_ps(FG_PHI_BETA));
        __m512 m = _mm512_fmadd_ps(g, u, _mm512_set1_ps(8388608.0f));
        __m512i k = _mm512_castps_si512(m);
    #define FG_PHI_C(C) _mm512_permutex2var_ps(_mm512_load_ps(C), k, _mm512_load_ps(C + 16))
        __m512 s = _mm512_sub_ps(u, FG_PHI_C(FG_PHI_MID));
        __m512 h = FG_PHI_C(FG_PHI_C7);
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C6));
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C5));
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C4));
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C3));
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C2));
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C1));
        h = _mm512_fmadd_ps(h, s, FG_PHI_C(FG_PHI_C0));              /* Phi(-u) */
    #undef FG_PHI_C
        /* x Phi(x) = max(x, 0) - |x| Phi(-|x|), one rounding (u = UMAX for x > UMAX: the
           product there is < 1e-22); max(0, x) keeps a nan x, and -0 */
        return _mm512_fnmadd_ps(u, h, _mm512_max_ps(_mm512_setzero_ps(), x));
    }

    /* gelu(x) for the lanes below -10, by fg_phi_tailf's formula: t = 2 / (2 + z) by
       vrcp14ps and one Newton step, Q(t) with its coefficients scaled by 2^i so that it
       runs on t / 2, exp(-x^2 / 2) by vscalefps with x^2 = hi + lo by FMA; 6.1 ulp. The
       product is taken as ((x t / 2) Q) exp(-x^2 / 2), whose factors stay normal floats:
       one subnormal operand or result costs ~100 cycles (an 8x slower kernel on inputs
       around -13). So results below 2^-126 (x < -13.146) are -0, as torch gives below -8;
       -inf gives nan (-inf * 0), as fg_geluf does. */
    __attribute__((target("avx512f"))) static inline __m512 fg_gelu_tail16(__m512 x) {
        const __m512 two = _mm512_set1_ps(2.0f);
        __m512 z = _mm512_min_ps(_mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678f)),
                                 _mm512_set1_ps(1e30f));          /* inf: no 0 * inf */
        __m512 d = _mm512_add_ps(z, two);
        __m512 r = _mm512_rcp14_ps(d);
        r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, two));       /* 1 / d = t / 2 */
        __m512 p = _mm512_set1_ps(FG_PHI_Q[0] * 512.0f);          /* Q_j 2^(9-j): exact */
        for (int j = 1; j < 10; j++)
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(FG_PHI_Q[j] * (float)(1 << (9 - j))));
        __m512 hi = _mm512_mul_ps(x, x);
        __mmask16 fin = _mm512_cmp_ps_mask(hi, _mm512_set1_ps(172.83f), _CMP_LT_OQ);
        __m512 lo = _mm512_maskz_fmsub_ps(fin, x, x, hi);         /* x^2 = hi + lo */
        __m512 y = _mm512_max_ps(_mm512_mul_ps(hi, _mm512_set1_ps(-0.5f)),
                                 _mm512_set1_ps(-87.3f));
        __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(1.44269504f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 e = _mm512_fmadd_ps(k, _mm512_set1_ps(-0.693359375f), y);
        e = _mm512_fmadd_ps(k, _mm512_set1_ps(2.12194440e-4f), e);   /* y - k ln 2 */
        __m512 c = _mm512_set1_ps(1.38146128e-3f);
        c = _mm512_fmadd_ps(c, e, _mm512_set1_ps(8.36871006e-3f));
        c = _mm512_fmadd_ps(c, e, _mm512_set1_ps(4.16683890e-2f));
        c = _mm512_fmadd_ps(c, e, _mm512_set1_ps(1.66665211e-1f));
        c = _mm512_fmadd_ps(c, e, _mm512_set1_ps(4.99999940e-1f));
        c = _mm512_fmadd_ps(_mm512_mul_ps(e, e), c, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
        e = _mm512_scalef_ps(c, k);                               /* exp(-hi / 2) */
        e = _mm512_fmadd_ps(e, _mm512_mul_ps(lo, _mm512_set1_ps(-0.5f)), e);
        return _mm512_mask_mul_ps(_mm512_mul_ps(x, _mm512_setzero_ps()), fin,
                                  _mm512_mul_ps(_mm512_mul_ps(x, r), p), e);
    }

    /* gelu for the 16 lanes of x; the lanes below -10 also run fg_gelu_tail16 */
    __attribute__((target("avx512f"))) static inline __m512 fg_gelu16_all(__m512 x) {
        __m512 y = fg_gelu16(x);
        __mmask16 tail = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-FG_PHI_UMAX), _CMP_LT_OQ);
        if (tail) y = _mm512_mask_mov_ps(y, tail, fg_gelu_tail16(x));
        return y;
    }

    /* out[lo:hi] = gelu(a[lo:hi]) (out may be a) */
    __attribute__((target("avx512f"), noinline))
    static void fg_gelu_f32_avx512(const float *a, float *out, ptrdiff_t lo, ptrdiff_t hi) {
        ptrdiff_t i = lo;
        for (; i + 16 <= hi; i += 16)
            _mm512_storeu_ps(out + i, fg_gelu16_all(_mm512_loadu_ps(a + i)));
        if (i < hi) {                                 /* the last 1-15: masked */
            __mmask16 mk = (__mmask16)((1u << (hi - i)) - 1);
            _mm512_mask_storeu_ps(out + i, mk, fg_gelu16_all(_mm512_maskz_loadu_ps(mk, a + i)));
        }
    }
    #endif

    static void fg_simd_init(void) {
    #ifdef FG_AVX512_GELU
        fg_avx512_gelu = __builtin_cpu_supports("avx512f");
    #endif
    }

    /* 1: the AVX-512 GELU is on; flag 0 / 1 switches it (only on where the CPU has it) */
    static int fg_avx512_gelu_switch(int flag) {
    #ifdef FG_AVX512_GELU
        if (flag >= 0) fg_avx512_gelu = flag && __builtin_cpu_supports("avx512f");
        return fg_avx512_gelu;
    #else
        (void)flag;
        return 0;
    #endif
    }

    /* out[lo:hi] = op(a, b) for the float32 kernels without libm calls (the same formulas
       as the Cython loops, which serve float64 and softplus): returns 0 for the others.
       The AVX2 clone contracts a * b + c into one FMA (more accurate); tanh_bwd's
       1 - y * y stays in Cython so that it rounds as the NumPy twin's does. */
    FG_CLONES static int fg_ew_f32(int op, const float *a, const float *b, float *out,
                                   ptrdiff_t lo, ptrdiff_t hi, int approximate) {
        ptrdiff_t i;
        switch (op) {
        case FG_GELU_FWD:
            if (approximate) {
                for (i = lo; i < hi; i++) out[i] = fg_gelu_tanhf(a[i]);
            } else {
    #ifdef FG_AVX512_GELU
                if (fg_avx512_gelu) {
                    fg_gelu_f32_avx512(a, out, lo, hi);
                    return 1;
                }
    #endif
                for (i = lo; i < hi; i++) out[i] = fg_geluf(a[i]);
            }
            return 1;
        case FG_GELU_BWD:
            if (approximate) {
                for (i = lo; i < hi; i++) out[i] = b[i] * fg_gelu_tanh_gradf(a[i]);
            } else {
                for (i = lo; i < hi; i++) out[i] = b[i] * fg_gelu_gradf(a[i]);
            }
            return 1;
        case FG_SIGMOID_FWD:
            for (i = lo; i < hi; i++) out[i] = fg_sigmoidf(a[i]);
            return 1;
        case FG_SIGMOID_BWD:                                   /* a = y, b = gy */
            for (i = lo; i < hi; i++) out[i] = b[i] * (1.0f - a[i]) * a[i];
            return 1;
        case FG_TANH_FWD:
            for (i = lo; i < hi; i++) out[i] = fg_tanhf(a[i]);
            return 1;
        case FG_RELU_FWD:                                      /* nan stays nan */
            for (i = lo; i < hi; i++) out[i] = a[i] <= 0.0f ? 0.0f : a[i];
            return 1;
        case FG_RELU_BWD:                    /* a select, not a branch; nan passes g (torch) */
            for (i = lo; i < hi; i++) { float g = b[i]; out[i] = a[i] <= 0.0f ? 0.0f : g; }
            return 1;
        case FG_SILU_FWD:
            for (i = lo; i < hi; i++) out[i] = a[i] * fg_sigmoidf(a[i]);
            return 1;
        case FG_SILU_BWD:
            for (i = lo; i < hi; i++) {
                float v = a[i], s = fg_sigmoidf(v);
                out[i] = b[i] * s * (1.0f + v * (1.0f - s));
            }
            return 1;
        default:
            return 0;
        }
    }

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

    /* out = a op b for op in + - * / (0..3), and -a, a * a (4, 5: b is a), one IEEE
       operation per element, so every clone rounds exactly as NumPy's loops do. sa, sb: 1
       for an array of n elements, 0 for a single value (a 0-d operand) used for every
       element. out may be a (or b) itself: each element is read before it is written. */
    #define FG_ARITH_LOOP(T, EXPR)                                                            \
        if (sa && sb) { for (i = 0; i < n; i++) { T x = a[i], y = b[i]; out[i] = EXPR; } }     \
        else if (sa) { T y = b[0]; for (i = 0; i < n; i++) { T x = a[i]; out[i] = EXPR; } }   \
        else if (sb) { T x = a[0]; for (i = 0; i < n; i++) { T y = b[i]; out[i] = EXPR; } }   \
        else { T x = a[0], y = b[0]; for (i = 0; i < n; i++) out[i] = EXPR; }
    #define FG_ARITH(NAME, T)                                                                 \
    FG_CLONES static void NAME(int op, const T *a, int sa, const T *b, int sb,               \
                               T *out, ptrdiff_t n) {                                        \
        ptrdiff_t i;                                                                          \
        switch (op) {                                                                         \
        case 0: FG_ARITH_LOOP(T, x + y) break;                                                \
        case 1: FG_ARITH_LOOP(T, x - y) break;                                                \
        case 2: FG_ARITH_LOOP(T, x * y) break;                                                \
        case 3: FG_ARITH_LOOP(T, x / y) break;                                                \
        case 4: FG_ARITH_LOOP(T, -x) break;                                                   \
        default: FG_ARITH_LOOP(T, x * x) break;                                               \
        }                                                                                     \
    }
    FG_ARITH(fg_arith_f32, float)
    FG_ARITH(fg_arith_f64, double)

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
    """
    float fg_expf(float x) noexcept nogil
    float fg_tanhf(float x) noexcept nogil
    float fg_sigmoidf(float x) noexcept nogil
    int fg_ew_f32(int op, const float* a, const float* b, float* out, Py_ssize_t lo,
                  Py_ssize_t hi, int approximate) noexcept nogil
    void fg_simd_init() noexcept nogil
    int fg_avx512_gelu_switch(int flag) noexcept nogil
    void fg_t_add_f32(const float* a, const float* b, float* out, Py_ssize_t m, Py_ssize_t n,
                      Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fg_t_add_f64(const double* a, const double* b, double* out, Py_ssize_t m,
                      Py_ssize_t n, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fg_arith_f32(int op, const float* a, int sa, const float* b, int sb, float* out,
                      Py_ssize_t n) noexcept nogil
    void fg_arith_f64(int op, const double* a, int sa, const double* b, int sb, double* out,
                      Py_ssize_t n) noexcept nogil
    float fg_pairwise_f32(const float* a, Py_ssize_t n) noexcept nogil
    double fg_pairwise_f64(const double* a, Py_ssize_t n) noexcept nogil
    void fg_rows_add_f32(float* y, const float* b, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_rows_add_f64(double* y, const double* b, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_rows_sum_f32(const float* g, float* out, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_rows_sum_f64(const double* g, double* out, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_sgd_f32(float* p, const float* g, float* buf, Py_ssize_t lo, Py_ssize_t hi,
                    float lr, float mom, float damp1, float wd, float sgn, int nesterov,
                    int first) noexcept nogil
    void fg_sgd_f64(double* p, const double* g, double* buf, Py_ssize_t lo, Py_ssize_t hi,
                    double lr, double mom, double damp1, double wd, double sgn, int nesterov,
                    int first) noexcept nogil
    ctypedef enum Op "enum fg_op":
        SIGMOID_FWD "FG_SIGMOID_FWD"
        SIGMOID_BWD "FG_SIGMOID_BWD"
        TANH_FWD "FG_TANH_FWD"
        TANH_BWD "FG_TANH_BWD"
        RELU_FWD "FG_RELU_FWD"
        RELU_BWD "FG_RELU_BWD"
        GELU_FWD "FG_GELU_FWD"
        GELU_BWD "FG_GELU_BWD"
        SILU_FWD "FG_SILU_FWD"
        SILU_BWD "FG_SILU_BWD"
        SOFTPLUS_FWD "FG_SOFTPLUS_FWD"
        SOFTPLUS_BWD "FG_SOFTPLUS_BWD"


# --------------------------------------------------------------------------- scalar math
cdef inline floating _exp(floating x) noexcept nogil:
    if floating is float:
        return fg_expf(x)
    else:
        return exp(x)


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)         # one sqrtps with -fno-math-errno (no errno branch)
    else:
        return sqrt(x)


cdef inline floating _tanh(floating x) noexcept nogil:
    if floating is float:
        return fg_tanhf(x)
    else:
        return tanh(x)


cdef inline floating _log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating _sigmoid(floating x) noexcept nogil:
    """1 / (1 + exp(-x)), PyTorch's form: for x << 0 exp(-x) overflows to inf (no trap in
    C) and the result is 0 (exact up to subnormals), never nan. Branch-free."""
    if floating is float:
        return fg_sigmoidf(x)
    else:
        return 1 / (1 + exp(-x))


cdef inline double _gelu(double x, bint approximate) noexcept nogil:
    """x * Phi(x), or x * sigmoid(2u) with u = sqrt(2/pi) (x + 0.044715 x^3) for the tanh
    form (0.5 (1 + tanh u) = sigmoid(2u), exact for large negative x)."""
    cdef double u
    if approximate:
        u = GELU_BETA * (x + GELU_KAPPA * (x * x * x))
        return x * _sigmoid(2 * u)
    return x * 0.5 * erfc(-x * SQRT1_2)


cdef inline double _gelu_grad(double x, bint approximate) noexcept nogil:
    cdef double u2, s, q, du
    if approximate:
        u2 = 2 * (GELU_BETA * (x + GELU_KAPPA * (x * x * x)))
        s = _sigmoid(u2)
        q = s * _sigmoid(-u2)                        # s (1 - s) without cancellation
        du = GELU_BETA * (1 + 3 * GELU_KAPPA * (x * x))
        if q == 0:                                   # |x| huge: avoid 0 * inf
            return s
        return s + 2 * x * q * du
    return 0.5 * erfc(-x * SQRT1_2) + x * (exp(-0.5 * (x * x)) * INV_SQRT_2PI)


cdef inline floating _softplus(floating x, floating beta, floating threshold) noexcept nogil:
    """x if beta x > threshold else log1p(exp(beta x)) / beta, overflow-free."""
    cdef floating z = x * beta, zero = 0
    if z > threshold:
        return x
    return ((z if z > zero else zero) + _log1p(_exp(-fabs(z)))) / beta


# --------------------------------------------------------------------------- fast checks
cdef int IN_OK = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
cdef int OUT_OK = IN_OK | cnp.NPY_ARRAY_WRITEABLE


cdef inline int _ftype(object a, int flags) noexcept:
    """NPY_FLOAT or NPY_DOUBLE when `a` is exactly an ndarray of that native dtype with all
    of `flags` set, else -1 (then the Python checks decide)."""
    cdef cnp.ndarray arr
    cdef int t
    if type(a) is not cnp.ndarray:
        return -1
    arr = <cnp.ndarray>a
    t = cnp.PyArray_TYPE(arr)
    if ((t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE) and cnp.PyArray_ISNOTSWAPPED(arr)
            and cnp.PyArray_CHKFLAGS(arr, flags)):
        return t
    return -1


cdef inline bint _same_dims(object a, object b) noexcept:
    """Arrays a and b have one shape."""
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>a)
    return nd == cnp.PyArray_NDIM(<cnp.ndarray>b) and memcmp(
        cnp.PyArray_DIMS(<cnp.ndarray>a), cnp.PyArray_DIMS(<cnp.ndarray>b),
        nd * sizeof(cnp.npy_intp)) == 0


cdef inline bint _like(object a, object b, int t, int flags) noexcept:
    """`a` passes _ftype with dtype t and has b's shape (b already passed _ftype)."""
    return _ftype(a, flags) == t and _same_dims(a, b)


cdef inline void* _ptr(object a) noexcept:
    return NULL if a is None else cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline bint _overlap(object a, object b, bint exact_ok) noexcept:
    """Contiguous arrays a, b (or None) share memory; with exact_ok, not when b is exactly a
    (same start and size: an in-place kernel). Otherwise the Python checks raise."""
    cdef char* pa
    cdef char* pb
    cdef Py_ssize_t na, nb
    if a is None or b is None:
        return False
    pa = <char*>cnp.PyArray_DATA(<cnp.ndarray>a)
    pb = <char*>cnp.PyArray_DATA(<cnp.ndarray>b)
    na = cnp.PyArray_NBYTES(<cnp.ndarray>a)
    nb = cnp.PyArray_NBYTES(<cnp.ndarray>b)
    if na == 0 or nb == 0 or (exact_ok and pa == pb and na == nb):
        return False
    return pa < pb + nb and pb < pa + na


cdef bint _aligned(arrays):
    """All arrays (None skipped) aligned: the vectorised loops may assume it."""
    for a in arrays:
        if a is not None and not cnp.PyArray_ISALIGNED(<cnp.ndarray>a):
            return False
    return True


cdef object _twin = None


cdef object _numpy_twin():
    """The NumPy twin, for the rare arrays the loops do not take (unaligned views)."""
    global _twin
    if _twin is None:
        from fastgrad import _kernels_np
        _twin = _kernels_np
    return _twin


fg_simd_init()


def _avx512_gelu(flag=None):
    """Whether float32 gelu_fwd (exact form) runs the AVX-512 table kernel; True / False
    switches it (on only where the CPU has AVX-512F). For tests and benchmarks."""
    return bool(fg_avx512_gelu_switch(-1 if flag is None else (1 if flag else 0)))


# --------------------------------------------------------------------------- elementwise loops
_OP = {"sigmoid_fwd": SIGMOID_FWD, "sigmoid_bwd": SIGMOID_BWD, "tanh_fwd": TANH_FWD,
       "tanh_bwd": TANH_BWD, "relu_fwd": RELU_FWD, "relu_bwd": RELU_BWD, "gelu_fwd": GELU_FWD,
       "gelu_bwd": GELU_BWD, "silu_fwd": SILU_FWD, "silu_bwd": SILU_BWD,
       "softplus_fwd": SOFTPLUS_FWD, "softplus_bwd": SOFTPLUS_BWD}


cdef void _ew_range(Op op, const floating* a, const floating* b, floating* out,
                    Py_ssize_t lo, Py_ssize_t hi, floating p0, floating p1) noexcept nogil:
    """out[lo:hi] = op(a, b)[lo:hi]: one loop per op, each vectorisable (GELU and softplus
    call libm's erfc / log1p, so theirs are not). Constants are typed locals: a bare `1`
    in Cython is a double and would turn float32 arithmetic into double."""
    cdef Py_ssize_t i
    cdef floating one = 1, zero = 0, v, s, z
    cdef bint approx = p0 != 0
    if floating is float:
        if fg_ew_f32(op, a, b, out, lo, hi, approx):            # the C loops, AVX2 when available
            return
    if op == SIGMOID_FWD:
        for i in range(lo, hi):
            out[i] = _sigmoid(a[i])
    elif op == SIGMOID_BWD:                              # a = y, b = gy
        for i in range(lo, hi):
            out[i] = b[i] * (one - a[i]) * a[i]
    elif op == TANH_FWD:
        for i in range(lo, hi):
            out[i] = _tanh(a[i])
    elif op == TANH_BWD:                                 # a = y, b = gy
        for i in range(lo, hi):
            out[i] = b[i] * (one - a[i] * a[i])
    elif op == RELU_FWD:
        for i in range(lo, hi):
            v = a[i]
            out[i] = zero if v <= zero else v            # nan stays nan, like torch.relu
    elif op == RELU_BWD:                                 # a = x, b = gy; a select, not a branch
        for i in range(lo, hi):
            v = b[i]
            out[i] = zero if a[i] <= zero else v         # nan passes gy, like torch's threshold_backward
    elif op == GELU_FWD:                                 # in double, as the twin
        for i in range(lo, hi):
            out[i] = <floating>_gelu(a[i], approx)
    elif op == GELU_BWD:
        for i in range(lo, hi):
            out[i] = <floating>(b[i] * _gelu_grad(a[i], approx))
    elif op == SILU_FWD:
        for i in range(lo, hi):
            v = a[i]
            out[i] = v * _sigmoid(v)
    elif op == SILU_BWD:
        for i in range(lo, hi):
            v = a[i]
            s = _sigmoid(v)
            out[i] = b[i] * s * (one + v * (one - s))
    elif op == SOFTPLUS_FWD:                             # p0 = beta, p1 = threshold
        for i in range(lo, hi):
            out[i] = _softplus(a[i], p0, p1)
    elif op == SOFTPLUS_BWD:
        for i in range(lo, hi):
            z = a[i] * p0
            out[i] = b[i] if z > p1 else b[i] * _sigmoid(z)


cdef void _ew_loop(Op op, const floating* a, const floating* b, floating* out, Py_ssize_t n,
                   floating p0, floating p1) noexcept nogil:
    cdef Py_ssize_t k
    if n < PAR_MIN:                                      # no OpenMP region: it costs ~1 us
        _ew_range(op, a, b, out, 0, n, p0, p1)
        return
    for k in prange((n + BLOCK - 1) // BLOCK, schedule="static"):
        _ew_range(op, a, b, out, k * BLOCK, min(n, (k + 1) * BLOCK), p0, p1)


cdef void _ew_dispatch(int t, Op op, void* a, void* b, void* out, Py_ssize_t n,
                       double p0, double p1) noexcept nogil:
    if t == cnp.NPY_FLOAT:
        _ew_loop[float](op, <const float*>a, <const float*>b, <float*>out, n,
                        <float>p0, <float>p1)
    else:
        _ew_loop[double](op, <const double*>a, <const double*>b, <double*>out, n, p0, p1)


cdef object _ew_run(str name, object a, object b, object out, object e0=None, object e1=None):
    """Check, then out = name(a[, b]) with the scalar options e0, e1 (converted after the
    checks, as the twin does); b is only used by the two-input (_bwd) kernels."""
    cdef int t = _ftype(out, OUT_OK)
    cdef Op op = _OP[name]
    cdef bint binary = op & 1                    # the _bwd ops are the odd ones
    cdef double p0 = 0, p1 = 0
    cdef Py_ssize_t n
    cdef void *pa
    cdef void *pb
    cdef void *po
    if not binary:
        b = None
    if not (t >= 0 and _like(a, out, t, IN_OK) and (not binary or _like(b, out, t, IN_OK))
            and not _overlap(a, out, True) and not (binary and _overlap(b, out, True))):
        ins = _elementwise(name, (a, b) if binary else (a,), out)      # raises, or copies
        a = ins[0]
        b = ins[1] if binary else None
        if not _aligned((a, b, out)):
            extra = () if e0 is None else ((e0,) if e1 is None else (e0, e1))
            return getattr(_numpy_twin(), name)(*((a, b) if binary else (a,)), out, *extra)
        t = cnp.PyArray_TYPE(<cnp.ndarray>out)
    if op == GELU_FWD or op == GELU_BWD:
        p0 = 1 if e0 else 0
    elif op == SOFTPLUS_FWD or op == SOFTPLUS_BWD:
        p0 = e0
        p1 = e1
    n = cnp.PyArray_SIZE(<cnp.ndarray>out)
    pa, pb, po = _ptr(a), _ptr(b), _ptr(out)
    if n >= NOGIL_MIN:
        with nogil:
            _ew_dispatch(t, op, pa, pb, po, n, p0, p1)
    elif n:
        _ew_dispatch(t, op, pa, pb, po, n, p0, p1)
    return out


# --------------------------------------------------------------------------- elementwise API
cdef inline object _out_for(str name, object x, object out):
    """out, or (None: the kernels without options may be called without it) a new array of
    x's shape and dtype."""
    if out is not None:
        return out
    if _ftype(x, IN_OK) >= 0:
        return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>x), cnp.PyArray_DIMS(<cnp.ndarray>x),
                                 cnp.PyArray_TYPE(<cnp.ndarray>x), 0)
    return _new_out(name, x)


def sigmoid_fwd(x, out=None):
    """out = 1 / (1 + exp(-x))."""
    return _ew_run("sigmoid_fwd", x, None, _out_for("sigmoid_fwd", x, out))


def sigmoid_bwd(y, gy, out=None):
    """out = gy * y * (1 - y), y = sigmoid(x)."""
    return _ew_run("sigmoid_bwd", y, gy, _out_for("sigmoid_bwd", y, out))


def tanh_fwd(x, out=None):
    """out = tanh(x)."""
    return _ew_run("tanh_fwd", x, None, _out_for("tanh_fwd", x, out))


def tanh_bwd(y, gy, out=None):
    """out = gy * (1 - y * y), y = tanh(x)."""
    return _ew_run("tanh_bwd", y, gy, _out_for("tanh_bwd", y, out))


def relu_fwd(x, out=None):
    """out = max(x, 0) (nan stays nan)."""
    return _ew_run("relu_fwd", x, None, _out_for("relu_fwd", x, out))


def relu_bwd(x, gy, out=None):
    """out = gy where x > 0 else 0."""
    return _ew_run("relu_bwd", x, gy, _out_for("relu_bwd", x, out))


def gelu_fwd(x, out, approximate):
    """out = x * Phi(x) (approximate=False) or PyTorch's tanh form; computed in double."""
    return _ew_run("gelu_fwd", x, None, out, approximate)


def gelu_bwd(x, gy, out, approximate):
    """out = gy * d gelu(x) / dx."""
    return _ew_run("gelu_bwd", x, gy, out, approximate)


def silu_fwd(x, out=None):
    """out = x * sigmoid(x)."""
    return _ew_run("silu_fwd", x, None, _out_for("silu_fwd", x, out))


def silu_bwd(x, gy, out=None):
    """out = gy * s * (1 + x * (1 - s)), s = sigmoid(x)."""
    return _ew_run("silu_bwd", x, gy, _out_for("silu_bwd", x, out))


def softplus_fwd(x, out, beta, threshold):
    """out = x where beta*x > threshold else log1p(exp(beta*x)) / beta."""
    return _ew_run("softplus_fwd", x, None, out, beta, threshold)


def softplus_bwd(x, gy, out, beta, threshold):
    """out = gy where beta*x > threshold else gy * sigmoid(beta*x)."""
    return _ew_run("softplus_bwd", x, gy, out, beta, threshold)


# --------------------------------------------------------------------------- arithmetic
cdef object _arith(int op, object a, object b, object out, object ufunc):
    """ufunc(a, b[, out]) for + - * /. Arrays of one float dtype (C-contiguous, aligned)
    with one shape, or one of them 0-d, run in one loop, into a new array or into out (of
    the result's shape and dtype; it may be a or b itself, not overlap them otherwise):
    NumPy's ufunc machinery costs ~3k instructions a call, a 100-element loop ~100
    (benchmarks/NOTES.md E10). The result is the same bit for bit; NumPy's floating-point
    warnings are not raised (PyTorch raises none). Anything else is the ufunc's call."""
    cdef int t = _ftype(a, IN_OK)
    cdef int nda, ndb
    cdef bint sa = True, sb = True
    cdef cnp.ndarray shape_of
    cdef Py_ssize_t n
    cdef void *pa
    cdef void *pb
    cdef void *po
    if t < 0 or _ftype(b, IN_OK) != t:
        return ufunc(a, b) if out is None else ufunc(a, b, out)
    nda = cnp.PyArray_NDIM(<cnp.ndarray>a)
    ndb = cnp.PyArray_NDIM(<cnp.ndarray>b)
    shape_of = <cnp.ndarray>a
    if _same_dims(a, b):
        pass
    elif ndb == 0:
        sb = False
    elif nda == 0:
        sa = False
        shape_of = <cnp.ndarray>b
    else:
        return ufunc(a, b) if out is None else ufunc(a, b, out)
    if out is None:
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(shape_of), cnp.PyArray_DIMS(shape_of), t, 0)
    elif not _like(out, shape_of, t, OUT_OK) or _overlap(a, out, True) or _overlap(b, out, True):
        return ufunc(a, b, out)
    n = cnp.PyArray_SIZE(<cnp.ndarray>out)
    pa, pb, po = _ptr(a), _ptr(b), _ptr(out)
    if n < NOGIL_MIN:
        if t == cnp.NPY_FLOAT:
            fg_arith_f32(op, <const float*>pa, sa, <const float*>pb, sb, <float*>po, n)
        else:
            fg_arith_f64(op, <const double*>pa, sa, <const double*>pb, sb, <double*>po, n)
    else:
        with nogil:
            if t == cnp.NPY_FLOAT:
                fg_arith_f32(op, <const float*>pa, sa, <const float*>pb, sb, <float*>po, n)
            else:
                fg_arith_f64(op, <const double*>pa, sa, <const double*>pb, sb, <double*>po, n)
    return out


cdef object _unary_arith(int op, object x, object out, object ufunc):
    """ufunc(x[, out]) for -x and x * x (op 4, 5 of the arithmetic loop), as _arith: one
    loop for a C-contiguous float array into a new array, or into out of its shape and
    dtype (x itself, or not overlapping it); anything else is the ufunc's call."""
    cdef int t = _ftype(x, IN_OK)
    cdef Py_ssize_t n
    cdef void *px
    cdef void *po
    if t < 0:
        return ufunc(x) if out is None else ufunc(x, out)
    if out is None:
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>x), cnp.PyArray_DIMS(<cnp.ndarray>x), t, 0)
    elif not _like(out, x, t, OUT_OK) or _overlap(x, out, True):
        return ufunc(x, out)
    n = cnp.PyArray_SIZE(<cnp.ndarray>out)
    px, po = _ptr(x), _ptr(out)
    if n < NOGIL_MIN:
        if t == cnp.NPY_FLOAT:
            fg_arith_f32(op, <const float*>px, 1, <const float*>px, 1, <float*>po, n)
        else:
            fg_arith_f64(op, <const double*>px, 1, <const double*>px, 1, <double*>po, n)
    else:
        with nogil:
            if t == cnp.NPY_FLOAT:
                fg_arith_f32(op, <const float*>px, 1, <const float*>px, 1, <float*>po, n)
            else:
                fg_arith_f64(op, <const double*>px, 1, <const double*>px, 1, <double*>po, n)
    return out


def add(a, b, out=None):
    """np.add(a, b, out); one C loop for same-shape (or 0-d) float arrays of one dtype."""
    return _arith(0, a, b, out, np.add)


def sub(a, b, out=None):
    """np.subtract(a, b, out); one C loop for same-shape (or 0-d) float arrays of one dtype."""
    return _arith(1, a, b, out, np.subtract)


def mul(a, b, out=None):
    """np.multiply(a, b, out); one C loop for same-shape (or 0-d) float arrays of one dtype."""
    return _arith(2, a, b, out, np.multiply)


def div(a, b, out=None):
    """np.true_divide(a, b, out); one C loop for same-shape (or 0-d) float arrays of one dtype."""
    return _arith(3, a, b, out, np.true_divide)


def neg(x, out=None):
    """np.negative(x, out); one C loop for a C-contiguous float array."""
    return _unary_arith(4, x, out, np.negative)


def square(x, out=None):
    """np.square(x, out); one C loop for a C-contiguous float array."""
    return _unary_arith(5, x, out, np.square)


ctypedef void (*loop_fn)(int t, const void* a, Py_ssize_t n, void* out) noexcept nogil


cdef inline void _run_loop(loop_fn f, int t, const void* a, Py_ssize_t n, void* out) noexcept:
    """f(t, a, n, out), without the GIL when n is large enough for that to pay."""
    if n < NOGIL_MIN:
        f(t, a, n, out)
    else:
        with nogil:
            f(t, a, n, out)


cdef void _sum_loop(int t, const void* px, Py_ssize_t n, void* po) noexcept nogil:
    """*po = 0.0 + pairwise sum of px[:n] (NumPy's reduction: it starts from 0.0)."""
    cdef float sf = 0.0
    cdef double sd = 0.0
    if t == cnp.NPY_FLOAT:
        (<float*>po)[0] = sf + fg_pairwise_f32(<const float*>px, n)
    else:
        (<double*>po)[0] = sd + fg_pairwise_f64(<const double*>px, n)


cdef void _fill_loop(int t, const void* pv, Py_ssize_t n, void* po) noexcept nogil:
    cdef Py_ssize_t k
    cdef float vf
    cdef double vd
    if t == cnp.NPY_FLOAT:
        vf = (<const float*>pv)[0]
        for k in range(n):
            (<float*>po)[k] = vf
    else:
        vd = (<const double*>pv)[0]
        for k in range(n):
            (<double*>po)[k] = vd


def sum_all(x):
    """np.add.reduce(x, axis=None) as a 0-d array. A C-contiguous aligned float32/float64
    array is summed by NumPy's pairwise summation in one C call, from 0.0 as NumPy's
    reduction starts, bit for bit (NumPy's reduction set-up costs ~8k instructions, 10
    values ~50); anything else is NumPy's call."""
    cdef int t = _ftype(x, IN_OK)
    cdef Py_ssize_t n
    if t < 0:
        return np.asarray(np.add.reduce(x, axis=None))
    n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    out = cnp.PyArray_EMPTY(0, NULL, t, 0)
    _run_loop(_sum_loop, t, _ptr(x), n, _ptr(out))
    return out


def fill(shape, g):
    """A new array of `shape` with every element g (a 0-d float32/float64 array: sum()'s
    gradient): np.empty and np.copyto (~4k instructions) in one C call. Another g, or a
    shape that is not a tuple of ints, goes to NumPy's empty and copyto."""
    cdef int t = _ftype(g, IN_OK)
    cdef cnp.npy_intp dims[32]
    cdef int nd, i
    cdef Py_ssize_t n
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>g) != 0 or type(shape) is not tuple or len(shape) > 32:
        return _fill_numpy(shape, g)
    nd = len(shape)
    for i in range(nd):
        d = shape[i]
        if type(d) is not int or d < 0:
            return _fill_numpy(shape, g)
        dims[i] = d
    out = cnp.PyArray_EMPTY(nd, dims, t, 0)
    n = cnp.PyArray_SIZE(<cnp.ndarray>out)
    _run_loop(_fill_loop, t, _ptr(g), n, _ptr(out))
    return out


cdef object _fill_numpy(shape, g):
    out = np.empty(shape, np.asarray(g).dtype)
    np.copyto(out, g)
    return out


# --------------------------------------------------------------------------- linear
cdef void _t_add_loop(bint f32, void* a, void* b, void* out, Py_ssize_t m,
                      Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k, nblk = (m + 31) // 32
    if m * n < PAR_MIN or nblk < 2:
        if f32:
            fg_t_add_f32(<const float*>a, <const float*>b, <float*>out, m, n, 0, m)
        else:
            fg_t_add_f64(<const double*>a, <const double*>b, <double*>out, m, n, 0, m)
        return
    for k in prange(nblk, schedule="static"):
        if f32:
            fg_t_add_f32(<const float*>a, <const float*>b, <float*>out, m, n, k * 32,
                         min(m, (k + 1) * 32))
        else:
            fg_t_add_f64(<const double*>a, <const double*>b, <double*>out, m, n, k * 32,
                         min(m, (k + 1) * 32))


def _linear_out(yt, bias, out):
    """out = yt.T + bias (bias may be None), in one tiled pass: linear's product computed
    as yt = w @ x.T (n_out x batch), which OpenBLAS runs ~10% faster than x @ w.T at W3's
    sizes, back in (batch x n_out) C order. Private helper of fastgrad._ops.nn (no NumPy
    twin): C-contiguous aligned float32/float64 arrays of one dtype, else ValueError."""
    cdef int t = _ftype(out, OUT_OK)
    cdef Py_ssize_t m, n
    cdef void *pa
    cdef void *pb
    cdef void *po
    if (t < 0 or _ftype(yt, IN_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>out) != 2
            or cnp.PyArray_NDIM(<cnp.ndarray>yt) != 2):
        raise ValueError("_linear_out: expected 2-D C-contiguous float arrays of one dtype")
    m = cnp.PyArray_DIM(<cnp.ndarray>out, 0)
    n = cnp.PyArray_DIM(<cnp.ndarray>out, 1)
    if cnp.PyArray_DIM(<cnp.ndarray>yt, 0) != n or cnp.PyArray_DIM(<cnp.ndarray>yt, 1) != m:
        raise ValueError("_linear_out: yt must have out's shape transposed")
    if bias is not None and (_ftype(bias, IN_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>bias) != 1
                             or cnp.PyArray_DIM(<cnp.ndarray>bias, 0) != n):
        raise ValueError("_linear_out: bias must be None or 1-D of out.shape[1], same dtype")
    pa, pb, po = _ptr(yt), _ptr(bias), _ptr(out)
    with nogil:
        _t_add_loop(t == cnp.NPY_FLOAT, pa, pb, po, m, n)
    return out


def _rows_add(y, b):
    """y += b for a 2-D y and a 1-D b of y.shape[1] (linear's bias) in one pass, without
    NumPy's broadcasting iterator (~6k instructions at W2's 32 x 50). Private helper of
    fastgrad._ops.nn (no NumPy twin): returns y, or None (y untouched) unless both are
    C-contiguous aligned float32/float64 of one dtype, y writeable, not sharing memory."""
    cdef int t = _ftype(y, OUT_OK)
    cdef Py_ssize_t m, n
    if (t < 0 or _ftype(b, IN_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>y) != 2
            or cnp.PyArray_NDIM(<cnp.ndarray>b) != 1 or _overlap(y, b, False)):
        return None
    m = cnp.PyArray_DIM(<cnp.ndarray>y, 0)
    n = cnp.PyArray_DIM(<cnp.ndarray>y, 1)
    if cnp.PyArray_DIM(<cnp.ndarray>b, 0) != n or m * n >= NOGIL_MIN * 16:
        return None  # large: NumPy's loop (threads would not pay for a bias add either)
    if t == cnp.NPY_FLOAT:
        fg_rows_add_f32(<float*>_ptr(y), <const float*>_ptr(b), m, n)
    else:
        fg_rows_add_f64(<double*>_ptr(y), <const double*>_ptr(b), m, n)
    return y


def _rows_sum(g):
    """np.add.reduce(g, axis=0) for a small 2-D C-contiguous aligned float32/float64 g
    (linear's bias gradient), summed in the same order and dtype; None for anything else.
    Private helper of fastgrad._ops.nn (no NumPy twin)."""
    cdef int t = _ftype(g, IN_OK)
    cdef Py_ssize_t m, n
    cdef cnp.npy_intp dim
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>g) != 2:
        return None
    m = cnp.PyArray_DIM(<cnp.ndarray>g, 0)
    n = cnp.PyArray_DIM(<cnp.ndarray>g, 1)
    if m * n >= NOGIL_MIN * 16:
        return None
    dim = n
    out = cnp.PyArray_EMPTY(1, &dim, t, 0)
    if t == cnp.NPY_FLOAT:
        fg_rows_sum_f32(<const float*>_ptr(g), <float*>_ptr(out), m, n)
    else:
        fg_rows_sum_f64(<const double*>_ptr(g), <double*>_ptr(out), m, n)
    return out


# --------------------------------------------------------------------------- matrix products
# An external CBLAS (MKL's, from the optional `mkl` package) for float matrix products, set by
# fastgrad._blas through _blas_use; until then, and for every product it does not take,
# mm is np.matmul (NumPy's own BLAS). Row-major CBLAS with LP64 (32-bit) integers.
ctypedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                          const float* a, int lda, const float* b, int ldb, float beta,
                          float* c, int ldc) noexcept nogil
ctypedef void (*dgemm_fn)(int order, int ta, int tb, int m, int n, int k, double alpha,
                          const double* a, int lda, const double* b, int ldb, double beta,
                          double* c, int ldc) noexcept nogil
cdef sgemm_fn _sgemm = NULL
cdef dgemm_fn _dgemm = NULL
cdef int CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112
cdef int64_t INT_MAX = 2147483647
cdef int MM_OK = cnp.NPY_ARRAY_ALIGNED
# A stack of matrices smaller than this (m * n * k) stays with np.matmul: its loop over small
# matrices is cheaper than a BLAS call each (10000 2x2 products: 4.5x; break-even ~40^3).
cdef double MM_STACK_MIN = 131072


def _blas_use(size_t sgemm, size_t dgemm):
    """Route mm's float32 / float64 products through the cblas_sgemm / cblas_dgemm at these
    addresses; (0, 0) goes back to np.matmul. Private to fastgrad._blas, which resolves the
    functions and checks them."""
    global _sgemm, _dgemm
    if (sgemm == 0) != (dgemm == 0):
        raise ValueError("_blas_use: both functions or neither")
    _sgemm = <sgemm_fn>sgemm
    _dgemm = <dgemm_fn>dgemm


cdef inline bint _gemm_operand(cnp.ndarray a, Py_ssize_t item, int* trans, int* ld,
                               Py_ssize_t* batch_step) noexcept:
    """How CBLAS reads each matrix (the last two dimensions) of `a` (2-D or 3-D, dimensions
    > 0, strides multiples of item bytes): rows at a positive stride ld >= columns with
    unit column stride is NO_TRANS; the mirror image (e.g. a transposed C array) is TRANS.
    batch_step: elements between a 3-D array's matrices (0 for one matrix, broadcast).
    Else False: np.matmul takes it."""
    cdef int nd = cnp.PyArray_NDIM(a)
    cdef Py_ssize_t r = cnp.PyArray_DIM(a, nd - 2), c = cnp.PyArray_DIM(a, nd - 1)
    cdef Py_ssize_t sr = cnp.PyArray_STRIDE(a, nd - 2), sc = cnp.PyArray_STRIDE(a, nd - 1), n
    if sr % item or sc % item:
        return False
    sr //= item
    sc //= item
    if (c == 1 or sc == 1) and (r == 1 or sr >= c):
        trans[0], n = CBLAS_NO_TRANS, (c if r == 1 else sr)
    elif (r == 1 or sr == 1) and (c == 1 or sc >= r):
        trans[0], n = CBLAS_TRANS, (r if c == 1 else sc)
    else:
        return False
    if n > INT_MAX:
        return False
    ld[0] = <int>n
    batch_step[0] = 0
    if nd == 3 and cnp.PyArray_DIM(a, 0) > 1:
        if cnp.PyArray_STRIDE(a, 0) % item:
            return False
        batch_step[0] = cnp.PyArray_STRIDE(a, 0) // item
    return True


def mm(a, b):
    """np.matmul(a, b). With an external BLAS set (fastgrad._blas): 2-D or 3-D ndarrays (a
    stack of matrices, the stack dimension broadcast as np.matmul does) of one native float
    dtype, aligned, whose matrices CBLAS can read in place (rows or columns at unit stride:
    C order, transposed views, row slices), with nonzero dimensions below 2**31 (and, for
    stacks of several, at least MM_STACK_MIN multiply-adds each), go to that BLAS, one call
    per matrix, without the GIL; everything else is np.matmul's."""
    cdef int t = _ftype(a, MM_OK), ta, tb, lda, ldb, nda, ndb
    cdef cnp.npy_intp dims[3]
    cdef Py_ssize_t m, n, k, ba, bb, batch, sa, sb, i, item
    cdef char* pa
    cdef char* pb
    cdef char* po
    if _sgemm == NULL or t < 0 or _ftype(b, MM_OK) != t:
        return np.matmul(a, b)
    nda = cnp.PyArray_NDIM(<cnp.ndarray>a)
    ndb = cnp.PyArray_NDIM(<cnp.ndarray>b)
    if nda < 2 or nda > 3 or ndb < 2 or ndb > 3:
        return np.matmul(a, b)
    m = cnp.PyArray_DIM(<cnp.ndarray>a, nda - 2)
    k = cnp.PyArray_DIM(<cnp.ndarray>a, nda - 1)
    n = cnp.PyArray_DIM(<cnp.ndarray>b, ndb - 1)
    ba = cnp.PyArray_DIM(<cnp.ndarray>a, 0) if nda == 3 else 1
    bb = cnp.PyArray_DIM(<cnp.ndarray>b, 0) if ndb == 3 else 1
    batch = max(ba, bb)
    item = cnp.PyArray_ITEMSIZE(<cnp.ndarray>a)
    if (cnp.PyArray_DIM(<cnp.ndarray>b, ndb - 2) != k or (ba != bb and ba != 1 and bb != 1)
            or m == 0 or n == 0 or k == 0 or batch == 0 or m > INT_MAX or n > INT_MAX
            or k > INT_MAX or (batch > 1 and <double>m * n * k < MM_STACK_MIN)
            or not _gemm_operand(<cnp.ndarray>a, item, &ta, &lda, &sa)
            or not _gemm_operand(<cnp.ndarray>b, item, &tb, &ldb, &sb)):
        return np.matmul(a, b)  # its errors, empty products, and what CBLAS cannot read
    dims[0], dims[1], dims[2] = batch, m, n
    if nda == 3 or ndb == 3:
        out = cnp.PyArray_EMPTY(3, dims, t, 0)
    else:
        out = cnp.PyArray_EMPTY(2, &dims[1], t, 0)
    pa, pb, po = <char*>_ptr(a), <char*>_ptr(b), <char*>_ptr(out)
    with nogil:
        for i in range(batch):
            if t == cnp.NPY_FLOAT:
                _sgemm(CBLAS_ROW_MAJOR, ta, tb, <int>m, <int>n, <int>k, 1.0,
                       <const float*>pa + i * sa, lda, <const float*>pb + i * sb, ldb, 0.0,
                       <float*>po + i * m * n, <int>n)
            else:
                _dgemm(CBLAS_ROW_MAJOR, ta, tb, <int>m, <int>n, <int>k, 1.0,
                       <const double*>pa + i * sa, lda, <const double*>pb + i * sb, ldb, 0.0,
                       <double*>po + i * m * n, <int>n)
    return out


# --------------------------------------------------------------------------- row-wise
cdef inline floating _row_max(const floating* x, Py_ssize_t c) noexcept nogil:
    """max of a row; -inf for an empty row; nan if any element is nan (like np.max)."""
    cdef floating m = -INFINITY
    cdef Py_ssize_t j
    for j in range(c):
        if x[j] > m or x[j] != x[j]:
            m = x[j]
            if m != m:
                break
    return m


cdef inline double _row_sum(const floating* x, Py_ssize_t c) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t j
    for j in range(c):
        s += x[j]
    return s


cdef inline void _exp_shifted(const floating* x, floating m, floating* out,
                              Py_ssize_t c) noexcept nogil:
    """out = exp(x - m): its own loop so that it vectorises (the double sum cannot)."""
    cdef Py_ssize_t j
    for j in range(c):
        out[j] = _exp(x[j] - m)


cdef inline void _softmax_row(const floating* x, floating* out, Py_ssize_t c) noexcept nogil:
    cdef floating m = _row_max(x, c)
    cdef floating inv
    cdef Py_ssize_t j
    _exp_shifted(x, m, out, c)
    inv = <floating>(1 / _row_sum(out, c))
    for j in range(c):
        out[j] = out[j] * inv


cdef inline void _log_softmax_row(const floating* x, floating* out, Py_ssize_t c) noexcept nogil:
    cdef floating m = _row_max(x, c)
    cdef floating logs
    cdef double s = 0
    cdef Py_ssize_t j
    if out + c <= x or x + c <= out:             # out as scratch for exp(x - m)
        _exp_shifted(x, m, out, c)
        s = _row_sum(out, c)
    else:                                        # in place: x is still needed below
        for j in range(c):
            s += _exp(x[j] - m)
    logs = <floating>log(s)
    for j in range(c):
        out[j] = (x[j] - m) - logs


cdef inline void _softmax_bwd_row(const floating* y, const floating* gy, floating* out,
                                  Py_ssize_t c) noexcept nogil:
    cdef double dot = 0
    cdef floating d
    cdef Py_ssize_t j
    for j in range(c):
        dot += gy[j] * y[j]
    d = <floating>dot
    for j in range(c):
        out[j] = y[j] * (gy[j] - d)


cdef inline void _log_softmax_bwd_row(const floating* y, const floating* gy, floating* out,
                                      Py_ssize_t c) noexcept nogil:
    cdef floating t = <floating>_row_sum(gy, c)
    cdef Py_ssize_t j
    for j in range(c):
        out[j] = gy[j] - _exp(y[j]) * t


cdef void _rows_range(int op, const floating* a, const floating* b, floating* out,
                      Py_ssize_t c, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1 of a (N, c) array. op: 0 softmax, 1 log_softmax, 2 and 3 their
    backward (a = y, b = gy)."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        if op == 0:
            _softmax_row(a + i * c, out + i * c, c)
        elif op == 1:
            _log_softmax_row(a + i * c, out + i * c, c)
        elif op == 2:
            _softmax_bwd_row(a + i * c, b + i * c, out + i * c, c)
        else:
            _log_softmax_bwd_row(a + i * c, b + i * c, out + i * c, c)


cdef inline Py_ssize_t _rows_per_block(Py_ssize_t c) noexcept nogil:
    return BLOCK // c if c < BLOCK else 1


cdef void _rows_loop(int op, const floating* a, const floating* b, floating* out,
                     Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t k, r = _rows_per_block(c)
    if n * c < PAR_MIN or n == 1:
        _rows_range(op, a, b, out, c, 0, n)
        return
    for k in prange((n + r - 1) // r, schedule="static"):
        _rows_range(op, a, b, out, c, k * r, min(n, (k + 1) * r))


cdef void _rows_dispatch(int t, int op, void* a, void* b, void* out, Py_ssize_t n,
                         Py_ssize_t c) noexcept nogil:
    if t == cnp.NPY_FLOAT:
        _rows_loop[float](op, <const float*>a, <const float*>b, <float*>out, n, c)
    else:
        _rows_loop[double](op, <const double*>a, <const double*>b, <double*>out, n, c)


cdef object _rows_run(str name, int op, object a, object b, object out):
    cdef int t = _ftype(out, OUT_OK)
    cdef Py_ssize_t n, c
    cdef void *pa
    cdef void *pb
    cdef void *po
    cdef bint binary = op >= 2                   # the backward ones read (y, gy)
    if not (t >= 0 and cnp.PyArray_NDIM(<cnp.ndarray>out) == 2 and _like(a, out, t, IN_OK)
            and (not binary or _like(b, out, t, IN_OK))
            and not _overlap(a, out, True) and not (binary and _overlap(b, out, True))):
        ins = _rowwise(name, (a, b) if binary else (a,), out)
        a = ins[0]
        b = ins[1] if binary else None
        if not _aligned((a, b, out)):
            return getattr(_numpy_twin(), name)(*((a, b) if binary else (a,)), out)
        t = cnp.PyArray_TYPE(<cnp.ndarray>out)
    n = cnp.PyArray_DIMS(<cnp.ndarray>out)[0]
    c = cnp.PyArray_DIMS(<cnp.ndarray>out)[1]
    if n * c == 0:
        return out
    pa, pb, po = _ptr(a), _ptr(b), _ptr(out)
    if n * c >= NOGIL_MIN:
        with nogil:
            _rows_dispatch(t, op, pa, pb, po, n, c)
    else:
        _rows_dispatch(t, op, pa, pb, po, n, c)
    return out


def softmax_fwd(x, out):
    """Row-wise softmax of a 2-D (N, C) array (max-subtracted)."""
    return _rows_run("softmax_fwd", 0, x, None, out)


def log_softmax_fwd(x, out):
    """Row-wise (x - max) - log(sum(exp(x - max)))."""
    return _rows_run("log_softmax_fwd", 1, x, None, out)


def softmax_bwd(y, gy, out):
    """out = y * (gy - sum(gy * y, row)), y = softmax(x)."""
    return _rows_run("softmax_bwd", 2, y, gy, out)


def log_softmax_bwd(y, gy, out):
    """out = gy - exp(y) * sum(gy, row), y = log_softmax(x)."""
    return _rows_run("log_softmax_bwd", 3, y, gy, out)


# --------------------------------------------------------------------------- cross-entropy
cdef struct CE:
    const void* x             # (n, c) logits
    const int64_t* target     # (n,)
    const void* w             # (c,) class weights or NULL
    Py_ssize_t c
    int64_t ignore_index
    double eps                # label smoothing
    double wsum               # sum of w (c without weights); bwd only
    void* lse                 # (n,): fwd writes it, bwd reads it
    void* loss                # fwd: (n,) per-sample loss out; bwd: (n,) upstream gradient
    void* out                 # bwd: (n, c) gradient out


cdef void _ce_fwd_range(floating tag, const CE* a, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1: lse[i] = logsumexp(x[i]), loss[i] = per-sample loss. `tag` only
    selects the dtype."""
    cdef const floating* x = <const floating*>a.x
    cdef const floating* w = <const floating*>a.w
    cdef floating* lse = <floating*>a.lse
    cdef floating* loss = <floating*>a.loss
    cdef Py_ssize_t i, j, k, c = a.c
    cdef int64_t y
    cdef floating m
    cdef floating scratch[256]
    cdef double logs, acc, wy, s, eps = a.eps, eps_c = a.eps / a.c
    cdef const floating* row
    for i in range(lo, hi):
        row = x + i * c
        m = _row_max(row, c)
        s = 0
        for j in range(0, c, 256):               # exp in vectorised chunks, summed in double
            k = min(256, c - j)
            _exp_shifted(row + j, m, scratch, k)
            s += _row_sum(scratch, k)
        logs = log(s)
        lse[i] = <floating>(m + logs)
        y = a.target[i]
        if y == a.ignore_index:
            loss[i] = 0
            continue
        acc = 0
        if eps != 0:
            for j in range(c):
                acc = acc + eps_c * (w[j] if w != NULL else 1.0) * (logs - (row[j] - m))
        wy = w[y] if w != NULL else 1.0
        acc = acc + (1 - eps) * wy * (logs - (row[y] - m))
        loss[i] = <floating>acc


cdef void _ce_bwd_range(floating tag, const CE* a, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows lo..hi-1 of out = d (gloss . loss) / d logits."""
    cdef const floating* x = <const floating*>a.x
    cdef const floating* w = <const floating*>a.w
    cdef const floating* lse = <const floating*>a.lse
    cdef const floating* gloss = <const floating*>a.loss
    cdef floating* out = <floating*>a.out
    cdef Py_ssize_t i, j, c = a.c
    cdef int64_t y
    cdef double g, big_a, wy, inv, py, eps = a.eps, eps_c = a.eps / a.c
    cdef floating ga, ge, zero = 0
    cdef floating* orow
    cdef const floating* row
    for i in range(lo, hi):
        row = x + i * c
        orow = out + i * c
        y = a.target[i]
        if y == a.ignore_index:
            for j in range(c):
                orow[j] = zero
            continue
        g = gloss[i]
        wy = w[y] if w != NULL else 1.0
        big_a = (1 - eps) * wy + eps_c * a.wsum
        # q_j = exp(x_j - lse_i) (out may alias x: each q_j is written after x_j is read), and
        # p_j = q_j / sum q in double: lse_i's rounding (float32: ~5e-4 at logits of 1e4) cancels
        _exp_shifted(row, <floating>lse[i], orow, c)
        inv = 1 / _row_sum(orow, c)
        py = orow[y] * inv
        ga = <floating>(g * big_a * inv)             # out[j] = g A p_j - g a_j
        ge = <floating>(g * eps_c)
        if w == NULL:
            for j in range(c):
                orow[j] = ga * orow[j] - ge
        else:
            for j in range(c):
                orow[j] = ga * orow[j] - ge * w[j]
        orow[y] = <floating>(g * (big_a * py - (eps_c * (w[y] if w != NULL else 1.0) + (1 - eps) * wy)))


cdef void _ce_loop(bint bwd, floating tag, const CE* a, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k, r = _rows_per_block(a.c)
    if n * a.c < PAR_MIN or n == 1:
        if bwd:
            _ce_bwd_range(tag, a, 0, n)
        else:
            _ce_fwd_range(tag, a, 0, n)
        return
    for k in prange((n + r - 1) // r, schedule="static"):
        if bwd:
            _ce_bwd_range(tag, a, k * r, min(n, (k + 1) * r))
        else:
            _ce_fwd_range(tag, a, k * r, min(n, (k + 1) * r))


cdef void _ce_dispatch(bint bwd, bint f32, const CE* a, Py_ssize_t n) noexcept nogil:
    if f32:
        _ce_loop[float](bwd, 0, a, n)
    else:
        _ce_loop[double](bwd, 0, a, n)


cdef bint _targets_fast(object target, Py_ssize_t n, Py_ssize_t c, object ignore_index):
    """target is a native int64 C-contiguous (n,) array whose entries are all in [0, c)
    or == ignore_index (an int): then no Python check or copy is needed."""
    cdef cnp.ndarray t
    cdef const int64_t* p
    cdef int64_t ign, v
    cdef int overflow
    cdef Py_ssize_t i
    if type(target) is not cnp.ndarray or type(ignore_index) is not int:
        return False
    t = <cnp.ndarray>target
    if not (cnp.PyArray_TYPE(t) == cnp.NPY_INT64 and cnp.PyArray_ISNOTSWAPPED(t)
            and cnp.PyArray_CHKFLAGS(t, IN_OK) and cnp.PyArray_NDIM(t) == 1
            and cnp.PyArray_DIMS(t)[0] == n):
        return False
    ign = PyLong_AsLongLongAndOverflow(ignore_index, &overflow)
    if overflow:
        return False
    p = <const int64_t*>cnp.PyArray_DATA(t)
    for i in range(n):
        v = p[i]
        if v != ign and (v < 0 or v >= c):
            return False
    return True


cdef bint _ce_fast(object logits, object target, object weight, object ignore_index,
                   vectors, object grad):
    """The fast path of _ce_args + _writeable: every array as the loops need it."""
    cdef int t = _ftype(logits, IN_OK)
    cdef Py_ssize_t n, c
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>logits) != 2:
        return False
    n = cnp.PyArray_DIMS(<cnp.ndarray>logits)[0]
    c = cnp.PyArray_DIMS(<cnp.ndarray>logits)[1]
    for v in vectors:                        # (n,) float arrays, written (fwd) or read (bwd)
        if not (_ftype(v, OUT_OK if grad is None else IN_OK) == t
                and cnp.PyArray_NDIM(<cnp.ndarray>v) == 1
                and cnp.PyArray_DIMS(<cnp.ndarray>v)[0] == n):
            return False
    if weight is not None and not (_ftype(weight, IN_OK) == t
                                   and cnp.PyArray_NDIM(<cnp.ndarray>weight) == 1
                                   and cnp.PyArray_DIMS(<cnp.ndarray>weight)[0] == c):
        return False
    if grad is not None and not _like(grad, logits, t, OUT_OK):
        return False
    if not _targets_fast(target, n, c, ignore_index):
        return False
    # what is written must not share memory with another argument (bwd: out may be the logits)
    cdef Py_ssize_t k, j
    if grad is None:
        for k in range(len(vectors)):
            v = vectors[k]
            if _overlap(v, logits, False) or _overlap(v, target, False) or _overlap(v, weight, False):
                return False
            for j in range(k + 1, len(vectors)):
                if _overlap(v, vectors[j], False):
                    return False
        return True
    if _overlap(grad, logits, True) or _overlap(grad, target, False) or _overlap(grad, weight, False):
        return False
    for v in vectors:
        if _overlap(grad, v, False):
            return False
    return True


cdef object _ce_run(bint bwd, object x, object target, object w, int64_t ignore_index,
                    double label_smoothing, object lse, object loss, object out):
    """Fill the CE struct and run the loops (arguments already checked)."""
    cdef CE a
    cdef Py_ssize_t n = cnp.PyArray_DIMS(<cnp.ndarray>x)[0], j
    cdef bint f32 = cnp.PyArray_TYPE(<cnp.ndarray>x) == cnp.NPY_FLOAT
    a.ignore_index = ignore_index
    a.eps = label_smoothing
    a.c = cnp.PyArray_DIMS(<cnp.ndarray>x)[1]
    a.x = _ptr(x)
    a.target = <const int64_t*>_ptr(target)
    a.w = _ptr(w)
    a.lse = _ptr(lse)
    a.loss = _ptr(loss)
    a.out = _ptr(out)
    a.wsum = a.c
    if w is not None:
        a.wsum = 0
        for j in range(a.c):
            a.wsum += (<const float*>a.w)[j] if f32 else (<const double*>a.w)[j]
    if n == 0 or a.c == 0:
        return
    if n * a.c >= NOGIL_MIN:
        with nogil:
            _ce_dispatch(bwd, f32, &a, n)
    else:
        _ce_dispatch(bwd, f32, &a, n)


def cross_entropy_fwd(logits, target, weight, ignore_index, label_smoothing, lse_out, loss_out):
    """lse_out[i] = logsumexp(logits[i]); loss_out[i] = per-sample F.cross_entropy
    (reduction='none', weight, ignore_index, label_smoothing); returns loss_out."""
    name = "cross_entropy_fwd"
    if not _ce_fast(logits, target, weight, ignore_index, (lse_out, loss_out), None):
        logits, target, weight = _ce_args(name, logits, target, weight, ignore_index,
                                          (lse_out, loss_out), ())
        _writeable(name, lse_out, "lse_out")
        _writeable(name, loss_out, "loss_out")
        if not _aligned((logits, target, weight, lse_out, loss_out)):
            return _numpy_twin().cross_entropy_fwd(logits, target, weight, ignore_index,
                                                   label_smoothing, lse_out, loss_out)
    cdef int64_t ign = ignore_index
    cdef double eps = label_smoothing
    if cnp.PyArray_DIMS(<cnp.ndarray>logits)[1] == 0:  # no classes: all targets ignored
        lse_out.fill(-np.inf)
        loss_out.fill(0)
    else:
        _ce_run(False, logits, target, weight, ign, eps, lse_out, loss_out, None)
    return loss_out


def _ce_reduce(loss, target, weight, ignore_index):
    """(sum of loss, count of the targets != ignore_index or the sum of their weights),
    both summed in double, for cross_entropy's 'sum'/'mean' after cross_entropy_fwd.
    Private helper of fastgrad._ops.nn (no NumPy twin): None unless loss is (n,) C-contiguous
    float32/float64, target (n,) int64, weight None or (c,) of loss's dtype, ignore_index
    an int, and every kept target indexes weight."""
    cdef int t = _ftype(loss, IN_OK)
    cdef Py_ssize_t i, n, c = 0
    cdef int64_t ign, y
    cdef int overflow
    cdef double total = 0, denom = 0
    cdef const int64_t* tp
    cdef bint f32 = t == cnp.NPY_FLOAT
    cdef const void* lp
    cdef const void* wp
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>loss) != 1 or type(ignore_index) is not int:
        return None
    n = cnp.PyArray_DIM(<cnp.ndarray>loss, 0)
    if (type(target) is not cnp.ndarray or cnp.PyArray_TYPE(<cnp.ndarray>target) != cnp.NPY_INT64
            or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>target)
            or not cnp.PyArray_CHKFLAGS(<cnp.ndarray>target, IN_OK)
            or cnp.PyArray_NDIM(<cnp.ndarray>target) != 1 or cnp.PyArray_DIM(<cnp.ndarray>target, 0) != n):
        return None
    if weight is not None:
        if _ftype(weight, IN_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>weight) != 1:
            return None
        c = cnp.PyArray_DIM(<cnp.ndarray>weight, 0)
    ign = PyLong_AsLongLongAndOverflow(ignore_index, &overflow)
    if overflow:
        return None
    tp = <const int64_t*>cnp.PyArray_DATA(<cnp.ndarray>target)
    lp, wp = _ptr(loss), _ptr(weight)
    for i in range(n):
        total += (<const float*>lp)[i] if f32 else (<const double*>lp)[i]
        y = tp[i]
        if y == ign:
            continue
        if wp == NULL:
            denom += 1
        elif y < 0 or y >= c:
            return None
        else:
            denom += (<const float*>wp)[y] if f32 else (<const double*>wp)[y]
    return total, denom


def cross_entropy_bwd(logits, target, weight, ignore_index, label_smoothing, lse, gloss, out):
    """out[i, j] = d (gloss[i] * loss_i) / d logits[i, j]; lse from cross_entropy_fwd."""
    name = "cross_entropy_bwd"
    # out=None would make _ce_fast check the fwd layout and the loops write through NULL
    if out is None or not _ce_fast(logits, target, weight, ignore_index, (lse, gloss), out):
        logits, target, weight = _ce_args(name, logits, target, weight, ignore_index,
                                          (lse, gloss), (out,))
        _writeable(name, out)
        lse = np.asarray(lse, order="C")
        gloss = np.asarray(gloss, order="C")
        if not _aligned((logits, target, weight, lse, gloss, out)):
            return _numpy_twin().cross_entropy_bwd(logits, target, weight, ignore_index,
                                                   label_smoothing, lse, gloss, out)
    cdef int64_t ign = ignore_index
    cdef double eps = label_smoothing
    _ce_run(True, logits, target, weight, ign, eps, lse, gloss, out)
    return out


# --------------------------------------------------------------------------- optimizers
cdef struct Opt:
    # the arrays (p and g always; the rest as the optimizer and its options need)
    void* p
    const void* g
    void* s1                  # sgd: momentum buf; adam: m; rmsprop: square_avg; adagrad: sum
    void* s2                  # adam: v; rmsprop: grad_avg
    void* s3                  # adam: vmax; rmsprop: momentum buf
    # scalar factors, in double as PyTorch computes them in Python; cast once per range
    double k[10]
    bint f[4]                 # boolean options


cdef enum Kind:
    SGD, ADAM, RMSPROP, ADAGRAD


cdef inline floating _lerp(floating a, floating b, floating weight, floating one_minus_weight,
                           bint small) noexcept nogil:
    """PyTorch's lerp: a + w (b - a) for |w| < 0.5 (small), else b - (b - a)(1 - w); the
    test is hoisted out of the loop, so this is a select GCC can vectorise."""
    return a + weight * (b - a) if small else b - (b - a) * one_minus_weight


cdef void _sgd_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """The loop is C (fg_sgd_*): CPU-dispatched clones, vectorised 8 or 16 wide."""
    if floating is float:
        fg_sgd_f32(<float*>o.p, <const float*>o.g, <float*>o.s1, lo, hi, <float>o.k[0],
                   <float>o.k[1], <float>o.k[2], <float>o.k[3], -1 if o.f[1] else 1, o.f[0],
                   o.f[2])
    else:
        fg_sgd_f64(<double*>o.p, <const double*>o.g, <double*>o.s1, lo, hi, o.k[0], o.k[1],
                   o.k[2], o.k[3], -1 if o.f[1] else 1, o.f[0], o.f[2])


cdef void _adam_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """One pass: each array is loaded and stored once. The bias corrections are hoisted
    (k: decay, wd, w1, 1 - w1, beta2, 1 - beta2, 1 / sqrt(bc2), eps, -lr / bc1), so per
    element there is one sqrt and one division; the amsgrad loop is separate so that the
    common one has no conditional store."""
    cdef floating* p = <floating*>o.p
    cdef const floating* g = <const floating*>o.g
    cdef floating* m = <floating*>o.s1
    cdef floating* v = <floating*>o.s2
    cdef floating* vmax = <floating*>o.s3
    cdef floating decay = <floating>o.k[0], wd = <floating>o.k[1], w1 = <floating>o.k[2]
    cdef floating omw1 = <floating>o.k[3], beta2 = <floating>o.k[4], omb2 = <floating>o.k[5]
    cdef floating inv_bc2 = <floating>o.k[6], eps = <floating>o.k[7]
    cdef floating neg_step = <floating>o.k[8], sgn = -1 if o.f[2] else 1
    cdef bint amsgrad = o.f[0], coupled = not o.f[1] and wd != 0, small = fabs(w1) < 0.5
    cdef floating gi, pi, mi, vi, vm
    cdef Py_ssize_t i
    if not o.f[1]:
        decay = 1                                    # p * 1 == p exactly (inf, nan too)
    if not amsgrad:
        for i in range(lo, hi):
            gi = sgn * g[i]
            pi = p[i] * decay                        # AdamW's decoupled decay
            if coupled:
                gi = gi + wd * pi
            mi = _lerp(m[i], gi, w1, omw1, small)
            vi = v[i] * beta2 + omb2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] = pi + neg_step * mi / (_sqrt(vi) * inv_bc2 + eps)
    else:
        for i in range(lo, hi):
            gi = sgn * g[i]
            pi = p[i] * decay
            if coupled:
                gi = gi + wd * pi
            mi = _lerp(m[i], gi, w1, omw1, small)
            vi = v[i] * beta2 + omb2 * gi * gi
            m[i] = mi
            v[i] = vi
            vm = vmax[i]
            vm = vi if (vi > vm or vi != vi) else vm     # nan propagates, like torch.maximum
            vmax[i] = vm
            p[i] = pi + neg_step * mi / (_sqrt(vm) * inv_bc2 + eps)


cdef void _rmsprop_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef floating* p = <floating*>o.p
    cdef const floating* g = <const floating*>o.g
    cdef floating* sq = <floating*>o.s1
    cdef floating* gavg = <floating*>o.s2
    cdef floating* buf = <floating*>o.s3
    cdef floating neg_lr = <floating>o.k[0], alpha = <floating>o.k[1], oma = <floating>o.k[2]
    cdef floating alpha1 = <floating>o.k[3], eps = <floating>o.k[4], wd = <floating>o.k[5]
    cdef floating mom = <floating>o.k[6], sgn = -1 if o.f[1] else 1
    cdef bint centered = o.f[0], small = fabs(oma) < 0.5
    cdef floating gi, si, ga, avg, bi
    cdef Py_ssize_t i
    for i in range(lo, hi):
        gi = sgn * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        si = sq[i] * alpha + oma * gi * gi
        sq[i] = si
        if centered:
            ga = _lerp(gavg[i], gi, oma, alpha1, small)
            gavg[i] = ga
            avg = _sqrt(si - ga * ga) + eps
        else:
            avg = _sqrt(si) + eps
        if mom > 0:
            bi = buf[i] * mom + gi / avg
            buf[i] = bi
            p[i] = p[i] + neg_lr * bi
        else:
            p[i] = p[i] + neg_lr * gi / avg


cdef void _adagrad_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef floating* p = <floating*>o.p
    cdef const floating* g = <const floating*>o.g
    cdef floating* ssum = <floating*>o.s1
    cdef floating neg_clr = <floating>o.k[0], wd = <floating>o.k[1], eps = <floating>o.k[2]
    cdef floating sgn = -1 if o.f[0] else 1, gi, si
    cdef Py_ssize_t i
    for i in range(lo, hi):
        gi = sgn * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        si = ssum[i] + gi * gi
        ssum[i] = si
        p[i] = p[i] + neg_clr * gi / (_sqrt(si) + eps)


cdef inline void _opt_range(Kind kind, floating tag, const Opt* o, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    if kind == SGD:
        _sgd_range(tag, o, lo, hi)
    elif kind == ADAM:
        _adam_range(tag, o, lo, hi)
    elif kind == RMSPROP:
        _rmsprop_range(tag, o, lo, hi)
    else:
        _adagrad_range(tag, o, lo, hi)


cdef void _opt_loop(Kind kind, floating tag, const Opt* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    if n < PAR_MIN:
        _opt_range(kind, tag, o, 0, n)
        return
    for k in prange((n + BLOCK - 1) // BLOCK, schedule="static"):
        _opt_range(kind, tag, o, k * BLOCK, min(n, (k + 1) * BLOCK))


cdef int _state_fast(object p, object g, tuple buffers):
    """Fast path of _state: p, g and the needed buffers (none of them None) exactly as the
    loops need them, none overlapping another in memory; returns the dtype, else -1."""
    cdef int t = _ftype(p, OUT_OK)
    cdef Py_ssize_t nbytes, i, j, k = 2
    cdef char* ptrs[5]
    if t < 0 or not _like(g, p, t, IN_OK):
        return -1
    for b in buffers:
        if b is None or not _like(b, p, t, OUT_OK):
            return -1
    # all contiguous with p's size: two overlap iff their starts are closer than nbytes
    nbytes = cnp.PyArray_NBYTES(<cnp.ndarray>p)
    ptrs[0] = <char*>cnp.PyArray_DATA(<cnp.ndarray>p)
    ptrs[1] = <char*>cnp.PyArray_DATA(<cnp.ndarray>g)
    for b in buffers:
        if k == 5:
            return -1
        ptrs[k] = <char*>cnp.PyArray_DATA(<cnp.ndarray>b)
        k += 1
    if nbytes:
        for i in range(k):
            for j in range(i + 1, k):
                if (ptrs[i] - ptrs[j] if ptrs[i] >= ptrs[j] else ptrs[j] - ptrs[i]) < nbytes:
                    return -1
    return t


cdef object _opt_run(Kind kind, Opt* o, object p, object g, object s1, object s2, object s3):
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>p)
    o.p = _ptr(p)
    o.g = _ptr(g)
    o.s1 = _ptr(s1)
    o.s2 = _ptr(s2)
    o.s3 = _ptr(s3)
    if n == 0:
        return p
    if cnp.PyArray_TYPE(<cnp.ndarray>p) == cnp.NPY_FLOAT:
        if n >= NOGIL_MIN:
            with nogil:
                _opt_loop[float](kind, 0, o, n)
        else:
            _opt_loop[float](kind, 0, o, n)
    else:
        if n >= NOGIL_MIN:
            with nogil:
                _opt_loop[double](kind, 0, o, n)
        else:
            _opt_loop[double](kind, 0, o, n)
    return p


cdef void _sgd_opts(Opt* o, double lr, double mom, double dampening, double weight_decay,
                    bint nesterov, bint maximize) noexcept:
    """SGD's factors and flags in o (first_step, o.f[2], is per parameter)."""
    o.k[0] = lr
    o.k[1] = mom
    o.k[2] = 1 - dampening
    o.k[3] = weight_decay
    o.f[0] = nesterov
    o.f[1] = maximize


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """torch.optim.SGD, one tensor, in place; buf is the momentum buffer (None when
    momentum == 0); first_step copies the update into buf."""
    if _state_fast(p, g, (buf,) if momentum != 0 else ()) < 0:
        g = _state("sgd_step", p, g, [("buf", buf, momentum != 0)])
        if not _aligned((p, g, buf if momentum != 0 else None)):
            return _numpy_twin().sgd_step(p, g, buf, lr, momentum, dampening, weight_decay,
                                          nesterov, maximize, first_step)
    cdef Opt o
    cdef double mom = momentum
    _sgd_opts(&o, lr, mom, dampening, weight_decay, nesterov, maximize)
    o.f[2] = first_step
    return _opt_run(SGD, &o, p, g, buf if mom != 0 else None, None, None)


def sgd_foreach(list ps, list gs, object bufs, lr, momentum, dampening, weight_decay, nesterov,
                maximize, object firsts):
    """sgd_step over a parameter group in one call: ps, gs (and bufs, firsts when momentum
    != 0) are lists of one length. Updates every parameter whose arrays are exactly as the
    loop needs them (sgd_step's fast case) and returns the indices of the others, which the
    caller passes to sgd_step one by one (it validates, converts or raises)."""
    cdef Opt o
    cdef double mom = momentum
    cdef Py_ssize_t i, n = len(ps)
    cdef list rest = []
    cdef list bl = None, fl = None
    if len(gs) != n:
        raise ValueError("sgd_foreach: %d parameters but %d gradients" % (n, len(gs)))
    if mom != 0:
        bl, fl = bufs, firsts
        if len(bl) != n or len(fl) != n:
            raise ValueError("sgd_foreach: bufs and firsts must have one entry per parameter")
    _sgd_opts(&o, lr, mom, dampening, weight_decay, nesterov, maximize)
    for i in range(n):
        p, g = ps[i], gs[i]
        if mom == 0:
            if _state_fast(p, g, ()) < 0:
                rest.append(i)
                continue
            o.f[2] = False
            _opt_run(SGD, &o, p, g, None, None, None)
        else:
            b = bl[i]
            if _state_fast(p, g, (b,)) < 0:
                rest.append(i)
                continue
            o.f[2] = bool(fl[i])
            _opt_run(SGD, &o, p, g, b, None, None)
    return rest


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
              decoupled):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), one tensor, in place;
    step is the 1-based step count; vmax is the amsgrad buffer (None unless amsgrad)."""
    if _state_fast(p, g, (m, v, vmax) if amsgrad else (m, v)) < 0:
        g = _state("adam_step", p, g, [("m", m, True), ("v", v, True),
                                       ("vmax", vmax, bool(amsgrad))])
        if not _aligned((p, g, m, v, vmax if amsgrad else None)):
            return _numpy_twin().adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps,
                                           weight_decay, step, amsgrad, maximize, decoupled)
    cdef bint ams = amsgrad, maxi = maximize, dec = decoupled
    cdef double lr_ = lr, b1 = beta1, b2 = beta2, wd = weight_decay, step_ = step, e = eps
    cdef Opt o
    # Scalar factors in double, as PyTorch computes them in Python.
    o.k[0] = 1 - lr_ * wd                            # decoupled decay
    o.k[1] = wd
    o.k[2] = 1 - b1                                  # lerp weight
    o.k[3] = 1 - (1 - b1)
    o.k[4] = b2
    o.k[5] = 1 - b2
    o.k[6] = 1 / sqrt(1 - b2 ** step_)               # 1 / sqrt(bias correction 2)
    o.k[7] = e
    o.k[8] = -(lr_ / (1 - b1 ** step_))              # -step size
    o.f[0] = ams
    o.f[1] = dec
    o.f[2] = maxi
    return _opt_run(ADAM, &o, p, g, m, v, vmax if ams else None)


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, maximize):
    """torch.optim.RMSprop, one tensor, in place; grad_avg is needed when centered,
    momentum_buf when momentum > 0 (both None otherwise)."""
    if _state_fast(p, g, (square_avg,) + ((grad_avg,) if centered else ())
                   + ((momentum_buf,) if momentum > 0 else ())) < 0:
        g = _state("rmsprop_step", p, g, [("square_avg", square_avg, True),
                                          ("grad_avg", grad_avg, bool(centered)),
                                          ("momentum_buf", momentum_buf, momentum > 0)])
        if not _aligned((p, g, square_avg, grad_avg if centered else None,
                         momentum_buf if momentum > 0 else None)):
            return _numpy_twin().rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr,
                                              alpha, eps, weight_decay, momentum, centered,
                                              maximize)
    cdef bint cen = centered, maxi = maximize
    cdef double lr_ = lr, a = alpha, e = eps, wd = weight_decay, mom = momentum
    cdef Opt o
    o.k[0] = -lr_
    o.k[1] = a
    o.k[2] = 1 - a
    o.k[3] = 1 - (1 - a)
    o.k[4] = e
    o.k[5] = wd
    o.k[6] = mom
    o.f[0] = cen
    o.f[1] = maxi
    return _opt_run(RMSPROP, &o, p, g, square_avg, grad_avg if cen else None,
                    momentum_buf if mom > 0 else None)


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, maximize):
    """torch.optim.Adagrad (dense), one tensor, in place; step is the 1-based step count."""
    if _state_fast(p, g, (state_sum,)) < 0:
        g = _state("adagrad_step", p, g, [("state_sum", state_sum, True)])
        if not _aligned((p, g, state_sum)):
            return _numpy_twin().adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps,
                                              step, maximize)
    cdef bint maxi = maximize
    cdef double lr_ = lr, decay = lr_decay, wd = weight_decay, e = eps, step_ = step
    cdef Opt o
    o.k[0] = -(lr_ / (1 + (step_ - 1) * decay))
    o.k[1] = wd
    o.k[2] = e
    o.f[0] = maxi
    return _opt_run(ADAGRAD, &o, p, g, state_sum, None, None)
