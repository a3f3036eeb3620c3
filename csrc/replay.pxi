# fastgrad.compile's compiled loop (issue 19): a recorded training step as a flat list of
# instructions over preallocated arrays, run by one C loop with no Python frame per op.
# Built by fastgrad/_compile/_flat.py, which falls back to the generated Python replay for
# anything it cannot express (no NumPy twin: on the NumPy backend the Python replay runs).
# Each instruction calls the loop the eager op calls (the same C code, the same BLAS call
# with the same arguments), so a replay equals eager bit for bit.
# Included by csrc/_C.pyx (one extension module, so the kernels' loops are C calls here).
from cpython.ref cimport Py_REFCNT
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport NAN

# (private: _Replay and _replay_blas have no NumPy twin, so they stay out of __all__)

# instruction codes (fastgrad/_compile/_flat.py names them the same)
cdef enum RCode:
    R_GEMM = 1       # c = op(a) @ op(b): i0 ta, i1 tb, (m, n, k, lda, ldb)
    R_TADD = 2       # c = a.T (+ b): out (m x n), a (n x m)
    R_ROWS_ADD = 3   # a[i, :] += b (m x n)
    R_ROWS_SUM = 4   # c = sum of a's rows (m x n)
    R_EW = 5         # c = op i0 (a[, b]) over n elements
    R_CE_FWD = 6     # a logits (m x n), b target, c lse, d loss, e 0-d out; i0 ignore, x0 eps,
                     # i1: 1 mean, 0 sum; the denominator kept in scal[k]
    R_CE_BWD = 7     # a logits, b target, c lse, d (m,) scaled upstream, e out; g 0-d upstream;
                     # i0 ignore, x0 eps, denominator scal[k] (i1: 1 mean, 0 sum)
    R_ZERO = 8       # objs[a]: the params whose .grad becomes None
    R_ACC = 9        # objs[a] leaf's .grad = the tensor on buffer slot b (grad tensor k)
    R_SGD = 10       # p slot a, g slot b, n elements, hyperparameters hyp[k], objs[c]: p, momentum
                     # buffer d (moms[d]: (optimizer, p); its array read per call)
    R_ARITH = 11     # c = a op b (i0: 0 add, 1 sub, 2 mul, 4 neg of a) over n elements
    R_SUM = 12       # c (0-d) = sum_all(a), n elements
    R_FILL = 13      # c[:n] = a (0-d)


cdef struct RInstr:
    int code
    int a, b, c, d, e, g
    int i0, i1, f32
    Py_ssize_t m, n, k, lda, ldb
    double x0


# NumPy's own CBLAS gemm (its OpenBLAS; int64 integers when ilp64), for the products np.matmul
# makes when no external BLAS is set: the same call with the same arguments as np.matmul's.
ctypedef void (*sgemm64_fn)(int order, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                            const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                            float* c, int64_t ldc) noexcept nogil
ctypedef void (*dgemm64_fn)(int order, int ta, int tb, int64_t m, int64_t n, int64_t k, double alpha,
                            const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                            double* c, int64_t ldc) noexcept nogil
cdef sgemm64_fn _np_sgemm64 = NULL
cdef dgemm64_fn _np_dgemm64 = NULL
cdef sgemm_fn _np_sgemm32 = NULL
cdef dgemm_fn _np_dgemm32 = NULL


def _replay_blas(size_t sgemm, size_t dgemm, bint ilp64):
    """NumPy's cblas_sgemm / cblas_dgemm (int64 integers when ilp64), for Replay's products
    on NumPy's BLAS. Private to fastgrad._compile._flat, which resolves them."""
    global _np_sgemm64, _np_dgemm64, _np_sgemm32, _np_dgemm32
    _np_sgemm64, _np_dgemm64, _np_sgemm32, _np_dgemm32 = NULL, NULL, NULL, NULL
    if ilp64:
        _np_sgemm64 = <sgemm64_fn>sgemm
        _np_dgemm64 = <dgemm64_fn>dgemm
    else:
        _np_sgemm32 = <sgemm_fn>sgemm
        _np_dgemm32 = <dgemm_fn>dgemm


cdef inline bint _np_gemm_set() noexcept nogil:
    return _np_sgemm64 != NULL or _np_sgemm32 != NULL


cdef void _r_gemm(const RInstr* r, void** p) noexcept nogil:
    """mm's product (blas.pxi): the external BLAS when set, else NumPy's gemm as np.matmul calls
    it (on one OpenBLAS thread where mm's _matmul_one_thread would)."""
    cdef double mnk = <double>r.m * r.n * r.k
    cdef bint serial = mnk < MM_SERIAL_MAX
    cdef int prev = 0
    cdef Py_ssize_t ldc = r.n
    if _sgemm != NULL:
        if serial and _mkl_local_threads != NULL:
            prev = _mkl_local_threads(1)
        if r.f32:
            _sgemm(CBLAS_ROW_MAJOR, r.i0, r.i1, <int>r.m, <int>r.n, <int>r.k, 1.0, <const float*>p[r.a],
                   <int>r.lda, <const float*>p[r.b], <int>r.ldb, 0.0, <float*>p[r.c], <int>ldc)
        else:
            _dgemm(CBLAS_ROW_MAJOR, r.i0, r.i1, <int>r.m, <int>r.n, <int>r.k, 1.0, <const double*>p[r.a],
                   <int>r.lda, <const double*>p[r.b], <int>r.ldb, 0.0, <double*>p[r.c], <int>ldc)
        if serial and _mkl_local_threads != NULL:
            _mkl_local_threads(prev)
        return
    if serial and mnk > MM_SERIAL_MIN and _ob_set_threads != NULL:
        prev = _ob_get_threads()
        if prev > 1:
            _ob_set_threads(1)
    if _np_sgemm64 != NULL:
        if r.f32:
            _np_sgemm64(CBLAS_ROW_MAJOR, r.i0, r.i1, r.m, r.n, r.k, 1.0, <const float*>p[r.a], r.lda,
                        <const float*>p[r.b], r.ldb, 0.0, <float*>p[r.c], ldc)
        else:
            _np_dgemm64(CBLAS_ROW_MAJOR, r.i0, r.i1, r.m, r.n, r.k, 1.0, <const double*>p[r.a], r.lda,
                        <const double*>p[r.b], r.ldb, 0.0, <double*>p[r.c], ldc)
    elif r.f32:
        _np_sgemm32(CBLAS_ROW_MAJOR, r.i0, r.i1, <int>r.m, <int>r.n, <int>r.k, 1.0, <const float*>p[r.a],
                    <int>r.lda, <const float*>p[r.b], <int>r.ldb, 0.0, <float*>p[r.c], <int>ldc)
    else:
        _np_dgemm32(CBLAS_ROW_MAJOR, r.i0, r.i1, <int>r.m, <int>r.n, <int>r.k, 1.0, <const double*>p[r.a],
                    <int>r.lda, <const double*>p[r.b], <int>r.ldb, 0.0, <double*>p[r.c], <int>ldc)
    if serial and mnk > MM_SERIAL_MIN and _ob_set_threads != NULL and prev > 1:
        _ob_set_threads(prev)


cdef void _r_ce(const RInstr* r, void** p, double* scal, bint bwd) noexcept nogil:
    """cross_entropy_fwd + _ce_reduce + the 'mean'/'sum' value (nn.CrossEntropy.forward), or
    _ce_grad + cross_entropy_bwd (CrossEntropy._array_backward) with weight None."""
    cdef CE a
    cdef Py_ssize_t i, n = r.m
    cdef double total = 0, denom = 0, v
    cdef float g32
    cdef const int64_t* tp = <const int64_t*>p[r.b]
    a.ignore_index = r.i0
    a.eps = r.x0
    a.c = r.n
    a.x = p[r.a]
    a.target = tp
    a.w = NULL
    a.lse = p[r.c]
    a.loss = p[r.d]
    a.out = p[r.e]
    a.wsum = a.c
    if not bwd:
        _ce_dispatch(False, r.f32, &a, n)
        for i in range(n):
            total += (<const float*>a.loss)[i] if r.f32 else (<const double*>a.loss)[i]
            if tp[i] != a.ignore_index:
                denom += 1
        if r.i1:
            v = total / denom if denom else NAN
        else:
            v, denom = total, 1.0
        scal[r.k] = denom
        if r.f32:
            (<float*>p[r.e])[0] = <float>v
        else:
            (<double*>p[r.e])[0] = v
        return
    denom = scal[r.k]
    # nn._scaled(g, denom) on a 0-d array g and a Python float (NumPy 2: the float is taken in
    # g's dtype)
    if r.f32:
        g32 = (<const float*>p[r.g])[0]
        if denom == 0:
            g32 = g32 * <float>0.0
        elif denom != 1:
            g32 = g32 / <float>denom
        for i in range(n):
            (<float*>a.loss)[i] = g32
    else:
        v = (<const double*>p[r.g])[0]
        if denom == 0:
            v = v * 0.0
        elif denom != 1:
            v = v / denom
        for i in range(n):
            (<double*>a.loss)[i] = v
    _ce_dispatch(True, r.f32, &a, n)


cdef void _r_sgd(const RInstr* r, void** p, const double* hyp, void* buf) noexcept nogil:
    """sgd_foreach's update of one parameter (hyp: lr, dampening, weight_decay, nesterov,
    maximize, momentum; buf: the momentum buffer, an earlier step's)."""
    cdef Opt o
    o.k[0] = hyp[0]
    o.k[1] = hyp[5]
    o.k[2] = 1 - hyp[1]
    o.k[3] = hyp[2]
    o.f[0] = hyp[3] != 0
    o.f[1] = hyp[4] != 0
    o.f[2] = False
    o.p = p[r.a]
    o.g = p[r.b]
    o.s1 = buf if hyp[5] != 0 else NULL
    o.s2 = NULL
    o.s3 = NULL
    if r.f32:
        _opt_loop[float](SGD, 0, &o, r.n)
    else:
        _opt_loop[double](SGD, 0, &o, r.n)


cdef bint _dims_are(cnp.ndarray a, tuple shape):
    cdef Py_ssize_t j, nd = cnp.PyArray_NDIM(a)
    if nd != len(shape):
        return False
    for j in range(nd):
        if cnp.PyArray_DIM(a, j) != <Py_ssize_t>shape[j]:
            return False
    return True


cdef class _Replay:
    """A recorded step as instructions (see the codes above). Calling it with the call's input
    tensors checks what the instructions assume (the arrays' dtypes, shapes and layout, the
    targets' range, the optimizers' parameter lists and hyperparameters, no hooks on the
    leaves, the BLAS set-up), then runs them; when a check fails it calls `slow(inputs)`
    (the Python replay) instead."""

    cdef RInstr* code
    cdef Py_ssize_t ncode
    cdef void** ptr
    cdef list bufs, tensors, objs, groups, leaves, gten, gacc, moms, mten
    cdef void** mptr
    cdef Py_ssize_t nt
    cdef double scal[8]
    cdef double* hyp
    cdef object result_slot, nn_mod, lin_out
    cdef bint need_np_gemm
    cdef public object slow, guards_hold, source
    cdef list g_live, g_mods

    def __cinit__(self):
        self.code = NULL
        self.ptr = NULL
        self.mptr = NULL
        self.hyp = NULL

    def __dealloc__(self):
        PyMem_Free(self.code)
        PyMem_Free(self.ptr)
        PyMem_Free(self.mptr)
        PyMem_Free(self.hyp)

    def __init__(self, slow, list tensors, list bufs, list code, list objs, list groups, list leaves,
                 list gacc, object result_slot, object nn_mod, bint need_np_gemm, list moms):
        """tensors: per table slot below len(tensors), (input position or -1, tensor or None,
        dtype number, shape, writeable); bufs: the arrays of the slots after them; code: tuples
        (code, a, b, c, d, e, g, i0, i1, f32, m, n, k, lda, ldb, x0); groups: (optimizer, [(group,
        params tuple)], first hyp index or -1); leaves: tensors whose hooks are checked; gacc:
        per ACC, (its buffer slot, its leaf's index in objs): the tensor made on it is reused
        while nothing else holds it; moms: per SGD instruction, (optimizer, parameter)."""
        cdef Py_ssize_t i
        cdef RInstr* r
        self.slow = slow
        self.tensors, self.bufs, self.objs, self.groups, self.leaves = tensors, bufs, objs, groups, leaves
        self.gacc = gacc
        self.gten = [None] * len(gacc)
        self.moms = moms
        self.mten = [None] * len(moms)
        self.mptr = <void**>PyMem_Malloc(max(1, len(moms)) * sizeof(void*))
        self.result_slot, self.nn_mod, self.need_np_gemm = result_slot, nn_mod, need_np_gemm
        self.lin_out = nn_mod._linear_out
        self.nt = len(tensors)
        self.ncode = len(code)
        self.code = <RInstr*>PyMem_Malloc(max(1, self.ncode) * sizeof(RInstr))
        self.ptr = <void**>PyMem_Malloc(max(1, self.nt + len(bufs)) * sizeof(void*))
        self.hyp = <double*>PyMem_Malloc(6 * (1 + sum([len(g[1]) for g in groups])) * sizeof(double))
        if self.code == NULL or self.ptr == NULL or self.hyp == NULL or self.mptr == NULL:
            raise MemoryError()
        for i in range(len(bufs)):
            self.ptr[self.nt + i] = _ptr(bufs[i])
        for i in range(self.ncode):
            t = code[i]
            r = &self.code[i]
            (r.code, r.a, r.b, r.c, r.d, r.e, r.g, r.i0, r.i1, r.f32, r.m, r.n, r.k, r.lda, r.ldb,
             r.x0) = t
            if not R_GEMM <= r.code <= R_FILL:
                raise ValueError("_Replay: unknown instruction %d" % r.code)
            if r.code != R_ZERO and r.code != R_ACC:  # (their a is an index into objs)
                for j in (r.a, r.b, r.c if r.code != R_SGD else -1, r.d if r.code != R_SGD else -1, r.e, r.g):
                    if not -1 <= j < self.nt + len(bufs):
                        raise ValueError("_Replay: instruction %d reads slot %d of %d" % (i, j, self.nt + len(bufs)))

    cdef bint _check(self, inputs) except -1:
        """Load the tensors' arrays into the table and check everything the code assumes."""
        cdef Py_ssize_t i, j, hi
        cdef cnp.ndarray arr
        cdef int want
        for i in range(self.nt):
            pos, t, want, shape, writeable = <tuple>self.tensors[i]
            if pos >= 0:
                t = inputs[pos]
            a = t._data
            if type(a) is not cnp.ndarray:
                return False
            arr = <cnp.ndarray>a
            if (cnp.PyArray_TYPE(arr) != want or not cnp.PyArray_ISNOTSWAPPED(arr)
                    or not cnp.PyArray_CHKFLAGS(arr, OUT_OK if writeable else IN_OK) or not _dims_are(arr, shape)):
                return False
            self.ptr[i] = cnp.PyArray_DATA(arr)
        if self.nn_mod._linear_out is not self.lin_out:
            return False
        if self.need_np_gemm and _sgemm == NULL and not _np_gemm_set():
            return False
        for leaf in self.leaves:
            if leaf._hooks is not None or leaf._post_acc_hooks is not None:
                return False
        for opt, glist, h in self.groups:
            pg = opt.param_groups
            if len(pg) != len(glist) or "step" in opt.__dict__:
                return False
            for j in range(len(glist)):
                group, params = glist[j]
                if pg[j] is not group:
                    return False
                ps = group["params"]
                if len(ps) != len(params):
                    return False
                for k in range(len(params)):
                    if ps[k] is not params[k]:
                        return False
                if h >= 0:
                    lr, wd = group["lr"], group["weight_decay"]
                    mom, damp = group["momentum"], group["dampening"]
                    if (type(lr) is not float and type(lr) is not int or type(wd) is not float and type(wd)
                            is not int or type(damp) is not float and type(damp) is not int
                            or type(mom) is not float and type(mom) is not int):
                        return False
                    hi = 6 * (h + j)
                    self.hyp[hi + 5] = mom
                    self.hyp[hi] = lr
                    self.hyp[hi + 1] = damp
                    self.hyp[hi + 2] = wd
                    self.hyp[hi + 3] = 1 if group["nesterov"] else 0
                    self.hyp[hi + 4] = 1 if group["maximize"] else 0
        for i in range(self.ncode):
            r = &self.code[i]
            if r.code == R_CE_FWD:
                if not _targets_fast(self.tensor_array(r.b, inputs), r.m, r.n, r.i0):
                    return False
            elif r.code == R_SGD and self.hyp[6 * r.k + 5] != 0:
                opt, p = self.moms[r.d]
                st = opt.state.get(p)
                buf = None if st is None else st.get("momentum_buffer")
                if buf is None:
                    return False  # (the first step with momentum: the Python replay makes it)
                a = buf._data
                if not _like(a, self.bufs[r.b - self.nt], _ftype(self.bufs[r.b - self.nt], IN_OK), OUT_OK):
                    return False
                self.mptr[r.d] = _ptr(a)
                self.mten[r.d] = buf
            elif r.code == R_GEMM and r.a < self.nt and r.b < self.nt and self.ptr[r.a] == self.ptr[r.b]:
                return False  # (np.matmul may take a product with itself to syrk)
        return True

    def set_guards(self, list live, list modules):
        """fastgrad/_compile/__init__.py's _guards as data, checked by check_guards: live
        [(tensor, shape, dtype, requires_grad)], modules [(module __dict__, training, ((name,
        parameter), ...))]."""
        self.g_live, self.g_mods = live, modules

    def check_guards(self):
        """_guards' generated `hold()`, the same checks without a Python frame."""
        for t, shape, dtype, rg in self.g_live:
            d = t._data
            if d.shape != shape or d.dtype != dtype or t._requires_grad is not rg:
                return False
        for md, training, params in self.g_mods:
            if md["training"] is not training or md["_forward_hooks"] or md["_forward_pre_hooks"]:
                return False
            p = md["_parameters"]
            if len(p) != len(params):
                return False
            for k, v in params:
                if p.get(k) is not v:
                    return False
        return True

    cdef object tensor_array(self, int slot, inputs):
        pos, t, _, _, _ = <tuple>self.tensors[slot]
        return (t if pos < 0 else inputs[pos])._data

    cdef void _fresh_grads(self, inputs):
        """A .grad tensor made by an earlier call is reused (its array overwritten) only while
        nothing but its parameter holds it or its array; else this call's gradient goes to a
        new array (as eager's is), left to whoever holds the old one."""
        cdef Py_ssize_t i, s
        for i in range(len(self.gacc)):
            s, li = self.gacc[i]
            t = self.gten[i]
            arr = self.bufs[s - self.nt]
            if t is not None:
                leaf = self.objs[li]
                held = 1 if leaf._grad is t else 0
                # references: self.gten, the local t, the parameter (held); self.bufs, t._data, arr
                if Py_REFCNT(t) == 2 + held and Py_REFCNT(arr) == 3:
                    continue
            arr = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(<cnp.ndarray>arr), cnp.PyArray_DIMS(<cnp.ndarray>arr),
                                    cnp.PyArray_TYPE(<cnp.ndarray>arr), 0)
            self.bufs[s - self.nt] = arr
            self.ptr[s] = _ptr(arr)
            self.gten[i] = _engine_make_tensor(arr)

    def __call__(self, inputs):
        cdef Py_ssize_t i
        cdef RInstr* r
        if not self._check(inputs):
            return self.slow(inputs)
        self._fresh_grads(inputs)
        for i in range(self.ncode):
            r = &self.code[i]
            if r.code == R_GEMM:
                _r_gemm(r, self.ptr)
            elif r.code == R_TADD:
                _t_add_loop(r.f32, self.ptr[r.a], self.ptr[r.b] if r.b >= 0 else NULL, self.ptr[r.c], r.m, r.n)
            elif r.code == R_ROWS_ADD:
                if r.f32:
                    fg_rows_add_f32(<float*>self.ptr[r.a], <const float*>self.ptr[r.b], r.m, r.n)
                else:
                    fg_rows_add_f64(<double*>self.ptr[r.a], <const double*>self.ptr[r.b], r.m, r.n)
            elif r.code == R_ROWS_SUM:
                if r.f32:
                    fg_rows_sum_f32(<const float*>self.ptr[r.a], <float*>self.ptr[r.c], r.m, r.n)
                else:
                    fg_rows_sum_f64(<const double*>self.ptr[r.a], <double*>self.ptr[r.c], r.m, r.n)
            elif r.code == R_EW:
                _ew_dispatch(cnp.NPY_FLOAT if r.f32 else cnp.NPY_DOUBLE, <Op>r.i0, self.ptr[r.a],
                             self.ptr[r.b] if r.b >= 0 else NULL, self.ptr[r.c], r.n, 0, 0)
            elif r.code == R_CE_FWD or r.code == R_CE_BWD:
                _r_ce(r, self.ptr, self.scal, r.code == R_CE_BWD)
            elif r.code == R_ARITH:
                if r.f32:
                    fg_arith_f32(r.i0, <const float*>self.ptr[r.a], 1, <const float*>self.ptr[r.b], 1,
                                 <float*>self.ptr[r.c], r.n)
                else:
                    fg_arith_f64(r.i0, <const double*>self.ptr[r.a], 1, <const double*>self.ptr[r.b], 1,
                                 <double*>self.ptr[r.c], r.n)
            elif r.code == R_SUM:
                _sum_loop(cnp.NPY_FLOAT if r.f32 else cnp.NPY_DOUBLE, self.ptr[r.a], r.n, self.ptr[r.c])
            elif r.code == R_FILL:
                _fill_loop(cnp.NPY_FLOAT if r.f32 else cnp.NPY_DOUBLE, self.ptr[r.a], r.n, self.ptr[r.c])
            elif r.code == R_ZERO:
                for p in self.objs[r.a]:
                    if p._grad is not None:
                        p._grad = None
            elif r.code == R_ACC:
                self.objs[r.a]._grad = self.gten[r.k]
            elif r.code == R_SGD:
                _r_sgd(r, self.ptr, self.hyp + 6 * r.k, self.mptr[r.d])
                self.objs[r.c]._vc.value += 1
                if self.hyp[6 * r.k + 5] != 0:
                    self.mten[r.d]._vc.value += 1
        if self.result_slot is None:
            return None
        return _engine_make_tensor(cnp.PyArray_NewCopy(<cnp.ndarray>self.bufs[<Py_ssize_t>self.result_slot
                                                                              - self.nt], cnp.NPY_CORDER))


cdef object _make_tensor_fn = None


cdef object _engine_make_tensor(arr):
    global _make_tensor_fn
    if _make_tensor_fn is None:
        from fastgrad._backend import engine
        _make_tensor_fn = engine.make_tensor
    return _make_tensor_fn(arr)
