# Recurrent cells: one LSTM / GRU time step's pointwise gate math, forward and backward
# (twin: fastgrad/_np/rnn.py, whose docstring gives the shapes and formulas).
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

__all__ += ["lstm_cell_fwd", "lstm_cell_bwd", "gru_cell_fwd", "gru_cell_bwd"]

cdef extern from "fg_rnn.h":
    void fg_lstm_fwd_f32(const float* gates, const float* cp, float* act, float* c, float* h,
                         Py_ssize_t b, Py_ssize_t n) noexcept nogil
    void fg_lstm_fwd_f64(const double* gates, const double* cp, double* act, double* c,
                         double* h, Py_ssize_t b, Py_ssize_t n) noexcept nogil
    void fg_lstm_bwd_f32(const float* act, const float* cp, const float* c, const float* gh,
                         const float* gc, float* dgates, float* dcp, Py_ssize_t b,
                         Py_ssize_t n) noexcept nogil
    void fg_lstm_bwd_f64(const double* act, const double* cp, const double* c,
                         const double* gh, const double* gc, double* dgates, double* dcp,
                         Py_ssize_t b, Py_ssize_t n) noexcept nogil
    void fg_gru_fwd_f32(const float* gx, const float* gh, const float* hp, float* act,
                        float* h, Py_ssize_t b, Py_ssize_t n) noexcept nogil
    void fg_gru_fwd_f64(const double* gx, const double* gh, const double* hp, double* act,
                        double* h, Py_ssize_t b, Py_ssize_t n) noexcept nogil
    void fg_gru_bwd_f32(const float* act, const float* hp, const float* gy, float* dgx,
                        float* dgh, float* dhp, Py_ssize_t b, Py_ssize_t n) noexcept nogil
    void fg_gru_bwd_f64(const double* act, const double* hp, const double* gy, double* dgx,
                        double* dgh, double* dhp, Py_ssize_t b, Py_ssize_t n) noexcept nogil


def _f64_math(str name, x):
    """fg_common.h's float64 exp, tanh or sigmoid (the cells' activations) of each element
    of x, as a new array of x's shape (converted to float64). Private to the tests
    (tests/test_kernels_f64_math.py measures their error); no NumPy twin."""
    cdef cnp.ndarray a = np.ascontiguousarray(x, np.float64)
    cdef cnp.ndarray out = np.empty_like(a)
    cdef double* pa = <double*>cnp.PyArray_DATA(a)
    cdef double* po = <double*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, n = a.size
    cdef int which
    if name not in ("exp", "tanh", "sigmoid"):
        raise ValueError("_f64_math: name must be 'exp', 'tanh' or 'sigmoid', got %r" % (name,))
    which = ("exp", "tanh", "sigmoid").index(name)
    with nogil:
        if which == 0:
            for i in range(n):
                po[i] = fg_exp_f64(pa[i])
        elif which == 1:
            for i in range(n):
                po[i] = fg_tanh_f64(pa[i])
        else:
            for i in range(n):
                po[i] = fg_sigmoid_f64(pa[i])
    return out


# --------------------------------------------------------------------------- fast checks
cdef inline bint _rows_of(object a, int t, int flags, Py_ssize_t b, Py_ssize_t w) noexcept:
    """`a` passes _ftype with dtype t and flags, and is a 2-D (b, w) array."""
    return (_ftype(a, flags) == t and cnp.PyArray_NDIM(<cnp.ndarray>a) == 2
            and cnp.PyArray_DIM(<cnp.ndarray>a, 0) == b and cnp.PyArray_DIM(<cnp.ndarray>a, 1) == w)


cdef int _cell_fast(tuple ins, tuple widths_in, tuple outs, tuple widths_out, object inplace,
                    Py_ssize_t* b, Py_ssize_t* n) noexcept:
    """The dtype (NPY_FLOAT / NPY_DOUBLE) when every array is as the loops need it: 2-D of
    one dtype, C-contiguous, aligned, B rows and width * n columns (n from the first input),
    outputs writeable and not overlapping any other argument (an output may be exactly
    `inplace`). Else -1: the NumPy twin checks (and raises, or computes)."""
    cdef object a0 = ins[0]
    cdef int t = _ftype(a0, IN_OK), k, j
    cdef Py_ssize_t w0 = widths_in[0]
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>a0) != 2 or cnp.PyArray_DIM(<cnp.ndarray>a0, 1) % w0:
        return -1
    b[0] = cnp.PyArray_DIM(<cnp.ndarray>a0, 0)
    n[0] = cnp.PyArray_DIM(<cnp.ndarray>a0, 1) // w0
    for k in range(1, len(ins)):
        if not _rows_of(ins[k], t, IN_OK, b[0], <Py_ssize_t>widths_in[k] * n[0]):
            return -1
    for k in range(len(outs)):
        if not _rows_of(outs[k], t, OUT_OK, b[0], <Py_ssize_t>widths_out[k] * n[0]):
            return -1
    for k in range(len(outs)):  # all are arrays now (_overlap reads their structs)
        o = outs[k]
        for a in ins:
            if _overlap(a, o, a is inplace):
                return -1
        for j in range(k + 1, len(outs)):
            if _overlap(outs[j], o, False):
                return -1
    return t


# --------------------------------------------------------------------------- kernels
cdef enum Cell:
    LSTM_FWD, LSTM_BWD, GRU_FWD, GRU_BWD


cdef void _cell_run(Cell k, bint f32, void** p, Py_ssize_t b, Py_ssize_t n) noexcept nogil:
    """The loop of kernel k on arrays p (in the kernel's argument order)."""
    if k == LSTM_FWD:
        if f32:
            fg_lstm_fwd_f32(<float*>p[0], <float*>p[1], <float*>p[2], <float*>p[3], <float*>p[4], b, n)
        else:
            fg_lstm_fwd_f64(<double*>p[0], <double*>p[1], <double*>p[2], <double*>p[3], <double*>p[4],
                            b, n)
    elif k == LSTM_BWD:
        if f32:
            fg_lstm_bwd_f32(<float*>p[0], <float*>p[1], <float*>p[2], <float*>p[3], <float*>p[4],
                            <float*>p[5], <float*>p[6], b, n)
        else:
            fg_lstm_bwd_f64(<double*>p[0], <double*>p[1], <double*>p[2], <double*>p[3], <double*>p[4],
                            <double*>p[5], <double*>p[6], b, n)
    elif k == GRU_FWD:
        if f32:
            fg_gru_fwd_f32(<float*>p[0], <float*>p[1], <float*>p[2], <float*>p[3], <float*>p[4], b, n)
        else:
            fg_gru_fwd_f64(<double*>p[0], <double*>p[1], <double*>p[2], <double*>p[3], <double*>p[4],
                           b, n)
    else:
        if f32:
            fg_gru_bwd_f32(<float*>p[0], <float*>p[1], <float*>p[2], <float*>p[3], <float*>p[4],
                           <float*>p[5], b, n)
        else:
            fg_gru_bwd_f64(<double*>p[0], <double*>p[1], <double*>p[2], <double*>p[3], <double*>p[4],
                           <double*>p[5], b, n)


cdef object _cell(Cell k, str name, tuple ins, tuple widths_in, tuple outs, tuple widths_out,
                  object inplace, object result):
    """Run kernel k on checked arrays (the fast path), else the NumPy twin (its checks and
    errors, or its result); returns `result`."""
    cdef Py_ssize_t b, n, i
    cdef void* p[8]
    cdef int t = _cell_fast(ins, widths_in, outs, widths_out, inplace, &b, &n)
    if t < 0:
        return getattr(_numpy_twin(), name)(*(ins + outs))
    for i in range(len(ins)):
        p[i] = _ptr(ins[i])
    for i in range(len(outs)):
        p[len(ins) + i] = _ptr(outs[i])
    if b * n >= NOGIL_MIN:
        with nogil:
            _cell_run(k, t == cnp.NPY_FLOAT, p, b, n)
    else:
        _cell_run(k, t == cnp.NPY_FLOAT, p, b, n)
    return result


def lstm_cell_fwd(gates, c_prev, act, c, h):
    """act <- sigmoid, sigmoid, tanh, sigmoid of gates' four (B, H) blocks (act may be gates);
    c <- f * c_prev + i * g; h <- o * tanh(c); returns h."""
    return _cell(LSTM_FWD, "lstm_cell_fwd", (gates, c_prev), (4, 1), (act, c, h), (4, 1, 1), gates, h)


def lstm_cell_bwd(act, c_prev, c, gh, gc, dgates, dc_prev):
    """dgates <- the gradient of the gates' pre-activations and dc_prev <- that of c_prev,
    from the gradients gh, gc of h and c; returns dgates."""
    return _cell(LSTM_BWD, "lstm_cell_bwd", (act, c_prev, c, gh, gc), (4, 1, 1, 1, 1), (dgates, dc_prev),
                 (4, 1), None, dgates)


def gru_cell_fwd(gx, gh, h_prev, act, h):
    """act <- r, z, n, gh_n; h <- (h_prev - n) * z + n; returns h."""
    return _cell(GRU_FWD, "gru_cell_fwd", (gx, gh, h_prev), (3, 3, 1), (act, h), (4, 1), None, h)


def gru_cell_bwd(act, h_prev, gy, dgx, dgh, dh_prev):
    """dgx, dgh <- the gradients of gx and gh, dh_prev <- gy * z (the direct term), from the
    gradient gy of h; returns dgx."""
    return _cell(GRU_BWD, "gru_cell_bwd", (act, h_prev, gy), (4, 1, 1), (dgx, dgh, dh_prev), (3, 3, 1),
                 None, dgx)
