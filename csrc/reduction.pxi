# Reductions and row-wise kernels: sum_all, fill, softmax/log_softmax (twin: fastgrad/_np/reduction.py).
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

__all__ += ["fill", "log_softmax_bwd", "log_softmax_fwd", "softmax_bwd", "softmax_fwd", "sum_all"]

cdef extern from "fg_reduce.h":
    float fg_pairwise_f32(const float* a, Py_ssize_t n) noexcept nogil
    double fg_pairwise_f64(const double* a, Py_ssize_t n) noexcept nogil


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


def _reduce_all(x):
    return np.add.reduce(x, axis=None)


def sum_all(x):
    """np.add.reduce(x, axis=None) as a 0-d array. A C-contiguous aligned float32/float64
    array is summed by NumPy's pairwise summation in one C call, from 0.0 as NumPy's
    reduction starts, bit for bit (NumPy's reduction set-up costs ~8k instructions, 10
    values ~50); anything else is NumPy's call."""
    cdef int t = _ftype(x, IN_OK)
    cdef Py_ssize_t n
    if t < 0:
        return np.asarray(_quiet_call(_reduce_all, (x,)))
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
