# Batch norm and layer norm: normalization and its affine map in one pass forward, the three
# gradients in one pass backward (twin: fastgrad/_np/norm.py, whose docstring gives the
# formulas). Batch norm: one channel per loop iteration (across the OpenMP threads above
# PAR_MIN elements); layer norm: one row per iteration, weight/bias gradients summed over the
# rows in float64. Included by csrc/_C.pyx.

__all__ += ["batch_norm_fwd", "batch_norm_bwd", "layer_norm_fwd", "layer_norm_bwd"]

cdef extern from "fg_norm.h":
    double fg_sum_f32(const float* p, Py_ssize_t n) noexcept nogil
    double fg_sum_f64(const double* p, Py_ssize_t n) noexcept nogil
    double fg_sqdev_f32(const float* p, Py_ssize_t n, double m) noexcept nogil
    double fg_sqdev_f64(const double* p, Py_ssize_t n, double m) noexcept nogil
    void fg_gsums_f32(const float* q, const float* p, Py_ssize_t n, double m, double* sg, double* sgx) noexcept nogil
    void fg_gsums_f64(const double* q, const double* p, Py_ssize_t n, double m, double* sg,
                      double* sgx) noexcept nogil
    void fg_affine_f32(const float* p, float* q, Py_ssize_t n, double sc, double sh) noexcept nogil
    void fg_affine_f64(const double* p, double* q, Py_ssize_t n, double sc, double sh) noexcept nogil
    void fg_bn_gx_f32(const float* q, const float* p, float* o, Py_ssize_t n, double a, double c1, double m,
                      double c2) noexcept nogil
    void fg_bn_gx_f64(const double* q, const double* p, double* o, Py_ssize_t n, double a, double c1, double m,
                      double c2) noexcept nogil


cdef void _bn_fwd_c(const floating* x, const floating* w, const floating* b, floating* y, double* mean,
                    double* var, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S, Py_ssize_t c,
                    double eps) noexcept nogil:
    cdef Py_ssize_t n, k
    cdef const floating* p
    cdef floating* q
    cdef double s = 0, ss = 0, m, d, r, sc, sh
    for n in range(N):  # (fg_norm.h: sums in 16 float64 lanes, vectorised)
        p = x + (n * C + c) * S
        if floating is float:
            s += fg_sum_f32(p, S)
        else:
            s += fg_sum_f64(p, S)
    m = s / (N * S)
    for n in range(N):
        p = x + (n * C + c) * S
        if floating is float:
            ss += fg_sqdev_f32(p, S, m)
        else:
            ss += fg_sqdev_f64(p, S, m)
    mean[c] = m
    var[c] = ss / (N * S)
    r = 1.0 / sqrt(var[c] + eps)
    sc = r * (w[c] if w != NULL else 1.0)
    sh = (b[c] if b != NULL else 0.0) - m * sc
    for n in range(N):
        p = x + (n * C + c) * S
        q = y + (n * C + c) * S
        if floating is float:
            fg_affine_f32(p, q, S, sc, sh)
        else:
            fg_affine_f64(p, q, S, sc, sh)


cdef void _bn_bwd_c(const floating* x, const floating* g, const double* mean, const double* var,
                    const floating* w, double eps, floating* gx, floating* gw, floating* gb, Py_ssize_t N,
                    Py_ssize_t C, Py_ssize_t S, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t n, k
    cdef const floating* p
    cdef const floating* q
    cdef floating* o
    cdef double m = mean[c], r = 1.0 / sqrt(var[c] + eps), sg = 0, sgx = 0, a, c1, c2
    for n in range(N):
        p = x + (n * C + c) * S
        q = g + (n * C + c) * S
        if floating is float:
            fg_gsums_f32(q, p, S, m, &sg, &sgx)
        else:
            fg_gsums_f64(q, p, S, m, &sg, &sgx)
    sgx *= r
    if gb != NULL:
        gb[c] = <floating>sg
    if gw != NULL:
        gw[c] = <floating>sgx
    if gx != NULL:
        a = r * (w[c] if w != NULL else 1.0)
        c1 = sg / (N * S)
        c2 = sgx / (N * S) * r
        for n in range(N):
            p = x + (n * C + c) * S
            q = g + (n * C + c) * S
            o = gx + (n * C + c) * S
            if floating is float:
                fg_bn_gx_f32(q, p, o, S, a, c1, m, c2)
            else:
                fg_bn_gx_f64(q, p, o, S, a, c1, m, c2)


cdef void _ln_fwd_r(const floating* x, const floating* w, const floating* b, floating* y, double* mean,
                    double* var, Py_ssize_t D, double eps) noexcept nogil:
    cdef Py_ssize_t k
    cdef double s = 0, ss = 0, m, d, r
    for k in range(D):
        s += x[k]
    m = s / D
    for k in range(D):
        d = x[k] - m
        ss += d * d
    mean[0] = m
    var[0] = ss / D
    r = 1.0 / sqrt(var[0] + eps)
    if w != NULL and b != NULL:
        for k in range(D):
            y[k] = <floating>((x[k] - m) * r * w[k] + b[k])
    elif w != NULL:
        for k in range(D):
            y[k] = <floating>((x[k] - m) * r * w[k])
    elif b != NULL:
        for k in range(D):
            y[k] = <floating>((x[k] - m) * r + b[k])
    else:
        for k in range(D):
            y[k] = <floating>((x[k] - m) * r)


cdef void _ln_bwd_r(const floating* x, const floating* g, double m, double v, const floating* w, double eps,
                    floating* gx, double* aw, double* ab, Py_ssize_t D) noexcept nogil:
    cdef Py_ssize_t k
    cdef double r = 1.0 / sqrt(v + eps), s1 = 0, s2 = 0, gh, xh
    for k in range(D):
        xh = (x[k] - m) * r
        gh = g[k] * (w[k] if w != NULL else 1.0)
        s1 += gh
        s2 += gh * xh
        if aw != NULL:
            aw[k] += g[k] * xh
        if ab != NULL:
            ab[k] += g[k]
    if gx != NULL:
        s1 /= D
        s2 /= D
        for k in range(D):
            gh = g[k] * (w[k] if w != NULL else 1.0)
            gx[k] = <floating>(r * (gh - s1 - (x[k] - m) * r * s2))


cdef bint _vec(object a, int t, Py_ssize_t n, int flags) noexcept:
    """a is None or a 1-D (n,) array passing _ftype with dtype t and flags."""
    return a is None or (_ftype(a, flags) == t and cnp.PyArray_NDIM(<cnp.ndarray>a) == 1
                         and cnp.PyArray_DIM(<cnp.ndarray>a, 0) == n)


cdef bint _stats(object a, Py_ssize_t n, int flags) noexcept:
    return _ftype(a, flags) == cnp.NPY_DOUBLE and cnp.PyArray_NDIM(<cnp.ndarray>a) == 1 and cnp.PyArray_DIM(
        <cnp.ndarray>a, 0) == n


cdef int _norm_fast(object x, object g, object mean, object var, object weight, object bias, object y,
                    object gw, object gb, int nd) noexcept:
    """The dtype when every array is as the loops need it (C-contiguous, aligned, shapes of
    fastgrad/_np/norm.py, outputs writeable and apart from the inputs), else -1."""
    cdef int t = _ftype(x, IN_OK)
    cdef Py_ssize_t c, stats
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x) != nd:
        return -1
    c = cnp.PyArray_DIM(<cnp.ndarray>x, 1)
    stats = c if nd == 3 else cnp.PyArray_DIM(<cnp.ndarray>x, 0)
    if g is not None and not _like(g, x, t, IN_OK):
        return -1
    if y is not None and (not _like(y, x, t, OUT_OK) or _overlap(x, y, False) or _overlap(g, y, False)):
        return -1
    if not (_vec(weight, t, c, IN_OK) and _vec(bias, t, c, IN_OK) and _vec(gw, t, c, OUT_OK)
            and _vec(gb, t, c, OUT_OK) and _stats(mean, stats, IN_OK) and _stats(var, stats, IN_OK)):
        return -1
    if _overlap(gw, gb, False) or _overlap(gw, x, False) or _overlap(gb, x, False):
        return -1
    if g is None and (not _stats(mean, stats, OUT_OK) or not _stats(var, stats, OUT_OK) or _overlap(mean, var, False)):
        return -1
    return t


def batch_norm_fwd(x, weight, bias, eps, y, mean, var):
    """y <- batch norm of x (N, C, S) with its affine map; mean, var (C,) float64 <- the
    statistics; fastgrad/_np/norm.py."""
    cdef int t = -1
    cdef Py_ssize_t N, C, S, c
    cdef double e
    cdef char* p_x = NULL
    cdef char* p_weight = NULL
    cdef char* p_bias = NULL
    cdef char* p_y = NULL
    cdef char* p_mean = NULL
    cdef char* p_var = NULL
    if type(eps) is float:
        t = _norm_fast(x, None, mean, var, weight, bias, y, None, None, 3)
    if t < 0:
        return _numpy_twin().batch_norm_fwd(x, weight, bias, eps, y, mean, var)
    e = eps
    p_x = <char*>_ptr(x)
    p_weight = <char*>_ptr(weight)
    p_bias = <char*>_ptr(bias)
    p_y = <char*>_ptr(y)
    p_mean = <char*>_ptr(mean)
    p_var = <char*>_ptr(var)
    N, C, S = cnp.PyArray_DIM(<cnp.ndarray>x, 0), cnp.PyArray_DIM(<cnp.ndarray>x, 1), cnp.PyArray_DIM(<cnp.ndarray>x, 2)
    if N * S == 0:
        return _numpy_twin().batch_norm_fwd(x, weight, bias, eps, y, mean, var)
    if t == cnp.NPY_FLOAT:
        if C > 1 and N * C * S >= PAR_MIN:
            for c in prange(C, nogil=True, schedule="static"):
                _bn_fwd_c(<float*>p_x, <float*>p_weight, <float*>p_bias, <float*>p_y,
                          <double*>p_mean, <double*>p_var, N, C, S, c, e)
        else:
            for c in range(C):
                _bn_fwd_c(<float*>p_x, <float*>p_weight, <float*>p_bias, <float*>p_y,
                          <double*>p_mean, <double*>p_var, N, C, S, c, e)
    else:
        if C > 1 and N * C * S >= PAR_MIN:
            for c in prange(C, nogil=True, schedule="static"):
                _bn_fwd_c(<double*>p_x, <double*>p_weight, <double*>p_bias, <double*>p_y,
                          <double*>p_mean, <double*>p_var, N, C, S, c, e)
        else:
            for c in range(C):
                _bn_fwd_c(<double*>p_x, <double*>p_weight, <double*>p_bias, <double*>p_y,
                          <double*>p_mean, <double*>p_var, N, C, S, c, e)
    return y


def batch_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb):
    """gx, gw, gb <- the gradients of batch norm with its affine map; fastgrad/_np/norm.py."""
    cdef int t = -1
    cdef Py_ssize_t N, C, S, c
    cdef double e
    cdef char* p_x = NULL
    cdef char* p_g = NULL
    cdef char* p_mean = NULL
    cdef char* p_var = NULL
    cdef char* p_weight = NULL
    cdef char* p_gx = NULL
    cdef char* p_gw = NULL
    cdef char* p_gb = NULL
    if type(eps) is float:
        t = _norm_fast(x, g, mean, var, weight, None, gx, gw, gb, 3)
    if t >= 0 and gx is not None and (_overlap(gx, gw, False) or _overlap(gx, gb, False)):
        t = -1
    if t < 0 or (gx is None and gw is None and gb is None):
        return _numpy_twin().batch_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb)
    e = eps
    p_x = <char*>_ptr(x)
    p_g = <char*>_ptr(g)
    p_mean = <char*>_ptr(mean)
    p_var = <char*>_ptr(var)
    p_weight = <char*>_ptr(weight)
    p_gx = <char*>_ptr(gx)
    p_gw = <char*>_ptr(gw)
    p_gb = <char*>_ptr(gb)
    N, C, S = cnp.PyArray_DIM(<cnp.ndarray>x, 0), cnp.PyArray_DIM(<cnp.ndarray>x, 1), cnp.PyArray_DIM(<cnp.ndarray>x, 2)
    if N * S == 0:
        return _numpy_twin().batch_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb)
    if t == cnp.NPY_FLOAT:
        if C > 1 and N * C * S >= PAR_MIN:
            for c in prange(C, nogil=True, schedule="static"):
                _bn_bwd_c(<float*>p_x, <float*>p_g, <double*>p_mean, <double*>p_var,
                          <float*>p_weight, e, <float*>p_gx, <float*>p_gw, <float*>p_gb, N, C, S, c)
        else:
            for c in range(C):
                _bn_bwd_c(<float*>p_x, <float*>p_g, <double*>p_mean, <double*>p_var,
                          <float*>p_weight, e, <float*>p_gx, <float*>p_gw, <float*>p_gb, N, C, S, c)
    else:
        if C > 1 and N * C * S >= PAR_MIN:
            for c in prange(C, nogil=True, schedule="static"):
                _bn_bwd_c(<double*>p_x, <double*>p_g, <double*>p_mean, <double*>p_var,
                          <double*>p_weight, e, <double*>p_gx, <double*>p_gw, <double*>p_gb, N, C, S,
                          c)
        else:
            for c in range(C):
                _bn_bwd_c(<double*>p_x, <double*>p_g, <double*>p_mean, <double*>p_var,
                          <double*>p_weight, e, <double*>p_gx, <double*>p_gw, <double*>p_gb, N, C, S,
                          c)
    return gx


def layer_norm_fwd(x, weight, bias, eps, y, mean, var):
    """y <- layer norm of the rows of x (R, D) with its affine map; mean, var (R,) float64 <-
    the statistics; fastgrad/_np/norm.py."""
    cdef int t = -1
    cdef Py_ssize_t R, D, r
    cdef double e
    cdef char* p_x = NULL
    cdef char* p_weight = NULL
    cdef char* p_bias = NULL
    cdef char* p_y = NULL
    cdef char* p_mean = NULL
    cdef char* p_var = NULL
    if type(eps) is float:
        t = _norm_fast(x, None, mean, var, weight, bias, y, None, None, 2)
    if t < 0:
        return _numpy_twin().layer_norm_fwd(x, weight, bias, eps, y, mean, var)
    e = eps
    p_x = <char*>_ptr(x)
    p_weight = <char*>_ptr(weight)
    p_bias = <char*>_ptr(bias)
    p_y = <char*>_ptr(y)
    p_mean = <char*>_ptr(mean)
    p_var = <char*>_ptr(var)
    R, D = cnp.PyArray_DIM(<cnp.ndarray>x, 0), cnp.PyArray_DIM(<cnp.ndarray>x, 1)
    if D == 0:
        return _numpy_twin().layer_norm_fwd(x, weight, bias, eps, y, mean, var)
    if t == cnp.NPY_FLOAT:
        if R > 1 and R * D >= PAR_MIN:
            for r in prange(R, nogil=True, schedule="static"):
                _ln_fwd_r((<float*>p_x) + r * D, <float*>p_weight, <float*>p_bias,
                          (<float*>p_y) + r * D, (<double*>p_mean) + r, (<double*>p_var) + r, D, e)
        else:
            for r in range(R):
                _ln_fwd_r((<float*>p_x) + r * D, <float*>p_weight, <float*>p_bias,
                          (<float*>p_y) + r * D, (<double*>p_mean) + r, (<double*>p_var) + r, D, e)
    else:
        if R > 1 and R * D >= PAR_MIN:
            for r in prange(R, nogil=True, schedule="static"):
                _ln_fwd_r((<double*>p_x) + r * D, <double*>p_weight, <double*>p_bias,
                          (<double*>p_y) + r * D, (<double*>p_mean) + r, (<double*>p_var) + r, D, e)
        else:
            for r in range(R):
                _ln_fwd_r((<double*>p_x) + r * D, <double*>p_weight, <double*>p_bias,
                          (<double*>p_y) + r * D, (<double*>p_mean) + r, (<double*>p_var) + r, D, e)
    return y


def layer_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb):
    """gx, gw, gb <- the gradients of layer norm with its affine map; fastgrad/_np/norm.py."""
    cdef int t = -1
    cdef Py_ssize_t R, D, r, k
    cdef double e
    cdef char* p_x = NULL
    cdef char* p_g = NULL
    cdef char* p_weight = NULL
    cdef char* p_gx = NULL
    cdef cnp.ndarray aw, ab
    cdef double* paw
    cdef double* pab
    cdef double* pm
    cdef double* pv
    if type(eps) is float:
        t = _norm_fast(x, g, mean, var, weight, None, gx, gw, gb, 2)
    if t >= 0 and gx is not None and (_overlap(gx, gw, False) or _overlap(gx, gb, False)):
        t = -1
    if t < 0 or (gx is None and gw is None and gb is None):
        return _numpy_twin().layer_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb)
    e = eps
    p_x = <char*>_ptr(x)
    p_g = <char*>_ptr(g)
    p_weight = <char*>_ptr(weight)
    p_gx = <char*>_ptr(gx)
    R, D = cnp.PyArray_DIM(<cnp.ndarray>x, 0), cnp.PyArray_DIM(<cnp.ndarray>x, 1)
    if D == 0:
        return _numpy_twin().layer_norm_bwd(x, g, mean, var, weight, eps, gx, gw, gb)
    aw, ab = np.zeros(D), np.zeros(D)
    paw = <double*>cnp.PyArray_DATA(aw) if gw is not None else NULL
    pab = <double*>cnp.PyArray_DATA(ab) if gb is not None else NULL
    pm, pv = <double*>_ptr(mean), <double*>_ptr(var)
    with nogil:
        if t == cnp.NPY_FLOAT:
            for r in range(R):
                _ln_bwd_r((<float*>p_x) + r * D, (<float*>p_g) + r * D, pm[r], pv[r], <float*>p_weight, e,
                          (<float*>p_gx) + r * D if p_gx != NULL else NULL, paw, pab, D)
        else:
            for r in range(R):
                _ln_bwd_r((<double*>p_x) + r * D, (<double*>p_g) + r * D, pm[r], pv[r], <double*>p_weight,
                          e, (<double*>p_gx) + r * D if p_gx != NULL else NULL, paw, pab, D)
    if gw is not None:
        gw[...] = aw
    if gb is not None:
        gb[...] = ab
    return gx
