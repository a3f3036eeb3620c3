# Elementwise kernels: activations forward/backward and arithmetic
# (twin: fastgrad/_np/elementwise.py).
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

__all__ += [
    "add", "div", "gelu_bwd", "gelu_fwd", "mul", "neg", "relu_bwd", "relu_fwd", "sigmoid_bwd",
    "sigmoid_fwd", "silu_bwd", "silu_fwd", "softplus_bwd", "softplus_fwd", "square", "sub",
    "tanh_bwd", "tanh_fwd"
]

cdef extern from "fg_elementwise.h":
    int fg_ew_f32(int op, const float* a, const float* b, float* out, Py_ssize_t lo,
                  Py_ssize_t hi, int approximate) noexcept nogil
    void fg_simd_init() noexcept nogil
    int fg_avx512_gelu_switch(int flag) noexcept nogil
    void fg_arith_f32(int op, const float* a, int sa, const float* b, int sb, float* out,
                      Py_ssize_t n) noexcept nogil
    void fg_arith_f64(int op, const double* a, int sa, const double* b, int sb, double* out,
                      Py_ssize_t n) noexcept nogil
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
            return _quiet_call(getattr(_numpy_twin(), name), ((a, b) if binary else (a,)) + (out,) + extra)
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
        return _quiet_call(ufunc, (a, b) if out is None else (a, b, out))
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
        return _quiet_call(ufunc, (a, b) if out is None else (a, b, out))
    if out is None:
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(shape_of), cnp.PyArray_DIMS(shape_of), t, 0)
    elif not _like(out, shape_of, t, OUT_OK) or _overlap(a, out, True) or _overlap(b, out, True):
        return _quiet_call(ufunc, (a, b, out))
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
        return _quiet_call(ufunc, (x,) if out is None else (x, out))
    if out is None:
        out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>x), cnp.PyArray_DIMS(<cnp.ndarray>x), t, 0)
    elif not _like(out, x, t, OUT_OK) or _overlap(x, out, True):
        return _quiet_call(ufunc, (x, out))
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
