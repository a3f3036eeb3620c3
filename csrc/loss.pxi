# Losses: fused cross-entropy forward and backward (twin: fastgrad/_np/loss.py).
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

__all__ += ["cross_entropy_bwd", "cross_entropy_fwd"]

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
