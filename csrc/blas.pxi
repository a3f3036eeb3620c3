# Linear algebra: linear's bias glue and mm on BLAS (twin: fastgrad/_np/blas.py).
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

__all__ += ["mm"]

cdef extern from "fg_linear.h":
    void fg_t_add_f32(const float* a, const float* b, float* out, Py_ssize_t m, Py_ssize_t n,
                      Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fg_t_add_f64(const double* a, const double* b, double* out, Py_ssize_t m,
                      Py_ssize_t n, Py_ssize_t i0, Py_ssize_t i1) noexcept nogil
    void fg_rows_add_f32(float* y, const float* b, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_rows_add_f64(double* y, const double* b, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_rows_sum_f32(const float* g, float* out, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_rows_sum_f64(const double* g, double* out, Py_ssize_t m, Py_ssize_t n) noexcept nogil
    void fg_linear_vec_f32(const float* w, const float* x, const float* b, float* y, Py_ssize_t n,
                           Py_ssize_t k) noexcept nogil
    void fg_linear_vec_f64(const double* w, const double* x, const double* b, double* y, Py_ssize_t n,
                           Py_ssize_t k) noexcept nogil


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


def _linear_vec(x, w, b):
    """x @ w.T (+ b) for one row x: x of shape (k,) or (1, k), w (n, k), b None or (n,); a new
    array of x's leading shape + (n,). Private helper of fastgrad._ops.nn (no NumPy twin: it
    is np.matmul(x, w.T) + b to float rounding): returns None (the caller takes np.matmul)
    unless all are C-contiguous aligned float32/float64 of one dtype and n * k is below
    MM_SERIAL_MAX (larger products: BLAS's threads)."""
    cdef int t = _ftype(x, IN_OK)
    cdef int nd
    cdef Py_ssize_t n, k
    cdef cnp.npy_intp dims[2]
    if t < 0 or _ftype(w, IN_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>w) != 2:
        return None
    nd = cnp.PyArray_NDIM(<cnp.ndarray>x)
    if nd < 1 or nd > 2 or (nd == 2 and cnp.PyArray_DIM(<cnp.ndarray>x, 0) != 1):
        return None
    n = cnp.PyArray_DIM(<cnp.ndarray>w, 0)
    k = cnp.PyArray_DIM(<cnp.ndarray>w, 1)
    if cnp.PyArray_DIM(<cnp.ndarray>x, nd - 1) != k or n == 0 or k == 0 or <double>n * k >= MM_SERIAL_MAX:
        return None
    if b is not None and (_ftype(b, IN_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>b) != 1
                          or cnp.PyArray_DIM(<cnp.ndarray>b, 0) != n):
        return None
    dims[0], dims[1] = 1, n
    out = cnp.PyArray_EMPTY(nd, &dims[2 - nd], t, 0)
    if t == cnp.NPY_FLOAT:
        fg_linear_vec_f32(<const float*>_ptr(w), <const float*>_ptr(x), <const float*>_ptr(b),
                          <float*>_ptr(out), n, k)
    else:
        fg_linear_vec_f64(<const double*>_ptr(w), <const double*>_ptr(x), <const double*>_ptr(b),
                          <double*>_ptr(out), n, k)
    return out


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
# Products (m * n * k per matrix) below MM_SERIAL_MAX run on one thread: on the 2 shared
# cores of benchmarks/NOTES.md, OpenBLAS's 2 threads took 2.1 ms for a 97x51x204 float64
# product that one thread computes in 0.16 ms (LSTMCell's step in time_sequence_prediction),
# and MKL's 2 threads 0.11 ms against 0.07. OpenBLAS itself keeps products below
# MM_SERIAL_MIN on one thread in every routine np.matmul calls (gemm up to 2**18, gemv below
# 9216, dot up to 10000 multiply-adds): nothing to switch there.
cdef double MM_SERIAL_MIN = 8192
cdef double MM_SERIAL_MAX = 2097152
# NumPy's OpenBLAS: its openblas_get_num_threads / openblas_set_num_threads (a process-wide
# setting: set to 1 around the product, then back), and MKL's MKL_Set_Num_Threads_Local (this
# thread's setting only); NULL when absent. Set by fastgrad._blas through _blas_threads.
ctypedef int (*get_threads_fn)() noexcept nogil
ctypedef void (*set_threads_fn)(int) noexcept nogil
ctypedef int (*set_local_fn)(int) noexcept nogil
cdef get_threads_fn _ob_get_threads = NULL
cdef set_threads_fn _ob_set_threads = NULL
cdef set_local_fn _mkl_local_threads = NULL


def _blas_threads(size_t ob_get, size_t ob_set, size_t mkl_local):
    """The functions mm switches threads with (module comment above MM_SERIAL_MAX):
    NumPy's OpenBLAS getter and setter (both or neither), MKL's MKL_Set_Num_Threads_Local;
    0 for none. Private to fastgrad._blas, which resolves them."""
    global _ob_get_threads, _ob_set_threads, _mkl_local_threads
    if (ob_get == 0) != (ob_set == 0):
        raise ValueError("_blas_threads: both OpenBLAS functions or neither")
    _ob_get_threads = <get_threads_fn>ob_get
    _ob_set_threads = <set_threads_fn>ob_set
    _mkl_local_threads = <set_local_fn>mkl_local


cdef object _matmul_one_thread(a, b):
    """np.matmul(a, b) with NumPy's OpenBLAS on one thread. Its setting is process-wide:
    another thread's product that starts meanwhile may run on one thread too (only its speed
    changes); the setting read here is restored, unless it was 1 already."""
    cdef int prev = _ob_get_threads()
    if prev <= 1:
        return np.matmul(a, b)
    _ob_set_threads(1)
    try:
        return np.matmul(a, b)
    finally:
        _ob_set_threads(prev)


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
    per matrix, without the GIL; everything else is np.matmul's. Products of fewer than
    MM_SERIAL_MAX multiply-adds (per matrix) run on one BLAS thread."""
    cdef int t = _ftype(a, MM_OK), ta, tb, lda, ldb, nda, ndb
    cdef cnp.npy_intp dims[3]
    cdef Py_ssize_t m, n, k, ba, bb, batch, sa, sb, i, item
    cdef char* pa
    cdef char* pb
    cdef char* po
    cdef bint serial
    cdef int prev = 0
    cdef double mnk
    if t < 0 or _ftype(b, MM_OK) != t:
        return np.matmul(a, b)
    nda = cnp.PyArray_NDIM(<cnp.ndarray>a)
    ndb = cnp.PyArray_NDIM(<cnp.ndarray>b)
    if nda < 2 or ndb < 2:
        return np.matmul(a, b)
    m = cnp.PyArray_DIM(<cnp.ndarray>a, nda - 2)
    k = cnp.PyArray_DIM(<cnp.ndarray>a, nda - 1)
    n = cnp.PyArray_DIM(<cnp.ndarray>b, ndb - 1)
    mnk = <double>m * n * k
    serial = mnk < MM_SERIAL_MAX
    if _sgemm == NULL or nda > 3 or ndb > 3:
        if (serial and mnk > MM_SERIAL_MIN and _ob_set_threads != NULL
                and cnp.PyArray_DIM(<cnp.ndarray>b, ndb - 2) == k):
            return _matmul_one_thread(a, b)
        return np.matmul(a, b)
    ba = cnp.PyArray_DIM(<cnp.ndarray>a, 0) if nda == 3 else 1
    bb = cnp.PyArray_DIM(<cnp.ndarray>b, 0) if ndb == 3 else 1
    batch = max(ba, bb)
    item = cnp.PyArray_ITEMSIZE(<cnp.ndarray>a)
    if (cnp.PyArray_DIM(<cnp.ndarray>b, ndb - 2) != k or (ba != bb and ba != 1 and bb != 1)
            or m == 0 or n == 0 or k == 0 or batch == 0 or m > INT_MAX or n > INT_MAX
            or k > INT_MAX or (batch > 1 and <double>m * n * k < MM_STACK_MIN)
            or not _gemm_operand(<cnp.ndarray>a, item, &ta, &lda, &sa)
            or not _gemm_operand(<cnp.ndarray>b, item, &tb, &ldb, &sb)):
        if serial and mnk > MM_SERIAL_MIN and _ob_set_threads != NULL:
            return _matmul_one_thread(a, b)  # (a CBLAS layout MKL cannot read)
        return np.matmul(a, b)  # its errors, empty products, and what CBLAS cannot read
    dims[0], dims[1], dims[2] = batch, m, n
    if nda == 3 or ndb == 3:
        out = cnp.PyArray_EMPTY(3, dims, t, 0)
    else:
        out = cnp.PyArray_EMPTY(2, &dims[1], t, 0)
    pa, pb, po = <char*>_ptr(a), <char*>_ptr(b), <char*>_ptr(out)
    with nogil:
        if serial and _mkl_local_threads != NULL:
            prev = _mkl_local_threads(1)
        for i in range(batch):
            if t == cnp.NPY_FLOAT:
                _sgemm(CBLAS_ROW_MAJOR, ta, tb, <int>m, <int>n, <int>k, 1.0,
                       <const float*>pa + i * sa, lda, <const float*>pb + i * sb, ldb, 0.0,
                       <float*>po + i * m * n, <int>n)
            else:
                _dgemm(CBLAS_ROW_MAJOR, ta, tb, <int>m, <int>n, <int>k, 1.0,
                       <const double*>pa + i * sa, lda, <const double*>pb + i * sb, ldb, 0.0,
                       <double*>po + i * m * n, <int>n)
        if serial and _mkl_local_threads != NULL:
            _mkl_local_threads(prev)
    return out
