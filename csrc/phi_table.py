"""Fit the table behind the AVX-512 GELU forward in _C.pyx and print it as C.

Phi(-u), the normal CDF at -u, for u in [0, 10) on 32 intervals, each with a polynomial of
degree 7 in s = u - c (c: the interval's midpoint, rounded to float32). Phi(-u) falls like
exp(-u^2 / 2), so an interval must be narrower the larger u is for the same degree: the
kernel picks k = round(g(u)) with g(u) = (u^2 + 2 U0 u) / (2 C) (two FMAs), which makes the
intervals 1.4 wide at 0 and 0.175 wide at 10. The coefficients minimise the maximum relative
error per interval (Lawson's iteration on weighted least squares at Chebyshev nodes, in
float64, on s scaled to [-1, 1]); each interval is fitted 3% wider than it is. The script
then evaluates the float32 coefficients by Horner in float32 and prints the worst relative
error it finds (3.2e-7, 5.4 ulp of Phi).

    python csrc/phi_table.py        # needs scipy; paste its output into _C.pyx
"""
import numpy as np
from scipy.special import ndtr

INTERVALS, DEGREE = 32, 7
UMAX, U0 = 10.0, 1.0                              # g(UMAX) = 31.5: k <= 31 below UMAX
C = (UMAX * UMAX + 2 * U0 * UMAX) / (2 * (INTERVALS - 0.5))
ALPHA, BETA = np.float32(1 / (2 * C)), np.float32(U0 / C)      # g(u) = (ALPHA u + BETA) u


def g_inverse(g):
    return -U0 + np.sqrt(U0 * U0 + 2 * C * g)


def fit(k):
    a, b = g_inverse(max(k - 0.5, 0.0)), g_inverse(k + 0.5)
    c, half = np.float32((a + b) / 2), (b - a) / 2 * 1.03
    lo, hi = max(float(c) - half, 0.0), float(c) + half
    u = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (np.arange(400) + 0.5) / 400)
    y = ndtr(-u)
    v = np.vander((u - float(c)) / half, DEGREE + 1) / y[:, None]   # relative error
    w = np.ones_like(u)
    for _ in range(200):                                  # Lawson: reweight toward the max
        coef = np.linalg.lstsq(v * np.sqrt(w)[:, None], np.sqrt(w), rcond=None)[0]
        w *= np.abs(v @ coef - 1) + 1e-12
        w /= w.sum()
    coef = (coef / half ** np.arange(DEGREE, -1, -1)).astype(np.float32)  # in s = u - c
    uu = np.linspace(lo, hi, 40001).astype(np.float32)
    s = (uu - c).astype(np.float64)
    p = np.full_like(s, coef[0])
    for ci in coef[1:]:                                   # float32 Horner; FMA as in the kernel
        p = (p * s + ci).astype(np.float32).astype(np.float64)
    ref = ndtr(-uu.astype(np.float64))
    return c, coef, np.max(np.abs(p - ref) / ref)


def main():
    fits = [fit(k) for k in range(INTERVALS)]
    table = np.array([f[1] for f in fits])
    print("/* csrc/phi_table.py: worst relative error %.2g */" % max(f[2] for f in fits))
    print("#define FG_PHI_UMAX %.9gf\n#define FG_PHI_ALPHA %.9gf\n#define FG_PHI_BETA %.9gf"
          % (np.nextafter(np.float32(UMAX), np.float32(0)), ALPHA, BETA))
    columns = [("FG_PHI_MID", np.array([f[0] for f in fits]))]
    columns += [("FG_PHI_C%d" % j, table[:, DEGREE - j]) for j in range(DEGREE + 1)]
    for name, col in columns:
        vals = ["%.9gf" % v for v in col]
        rows = [", ".join(vals[i:i + 6]) for i in range(0, INTERVALS, 6)]
        print("static const float %s[32] __attribute__((aligned(64))) = {\n    %s};"
              % (name, ",\n    ".join(rows)))


if __name__ == "__main__":
    main()
