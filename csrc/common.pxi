# Scalar math, the C fast argument checks and the NumPy-twin fallback shared by every family.
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

cdef extern from "fg_common.h":
    float fg_expf(float x) noexcept nogil
    float fg_tanhf(float x) noexcept nogil
    float fg_sigmoidf(float x) noexcept nogil
    double fg_exp_f64(double x) noexcept nogil
    double fg_tanh_f64(double x) noexcept nogil
    double fg_sigmoid_f64(double x) noexcept nogil


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
        return fg_tanh_f64(x)   # branch-free (vectorises; 2 ulp): the LSTM cells' own, bit for bit


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
        return fg_sigmoid_f64(x)   # the same form with a branch-free exp (2.5 ulp): as the cells'


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


cdef object _quiet_call(object f, tuple args):
    """f(*args) with NumPy's floating-point errors ignored (fastgrad/_quiet.py): the NumPy fallbacks
    of the kernels the engine runs without setting that state itself (QUIET_KERNELS in _C.pyx), which
    warn no more than their C loops do (PyTorch warns for none)."""
    tok = _quiet_set(_NP_QUIET)
    try:
        return f(*args)
    finally:
        _quiet_reset(tok)


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
