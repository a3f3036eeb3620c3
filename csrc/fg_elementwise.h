/* Elementwise kernels in C: the float32 GELU (scalar and AVX-512), the fg_op loop, IEEE arithmetic. */
#ifndef FG_FG_ELEMENTWISE_H
#define FG_FG_ELEMENTWISE_H
#include "fg_common.h"

/* GELU for float32 in float32 arithmetic (16 lanes with AVX-512, vs 8 in double),
   max error 9 ulp against the exact function (tests: float32 rtol 1e-5), with no
   cancellation anywhere: Phi(x) for x < 0 and the tails are relatively accurate. */

/* fg_expf with results below 2^-125 flushed to 0 (one scale factor instead of two:
   ~10% off GELU; its results there are < 1e-37 and rounded away anyway). Its results
   are never subnormal: one subnormal operand costs ~100 cycles. */
static inline float fg_expf_ftz(float x) {
    /* fg_expf's reduction and P(r) (as fg_tanhf in fg_common.h), written out: one scale factor, flushed, in the GELU loop */
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
/* FG_PHI_C0..C6: generated tables (csrc/phi_table.py) of one shape, one per polynomial coefficient */
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


#endif  /* FG_FG_ELEMENTWISE_H */
