# Optimizer steps, in place (twin: fastgrad/_np/optim.py).
# Included by csrc/_C.pyx (one extension module, so calls between families stay C calls).

__all__ += ["adagrad_step", "adam_step", "rmsprop_step", "sgd_foreach", "sgd_step"]

cdef extern from "fg_optim.h":
    void fg_sgd_f32(float* p, const float* g, float* buf, Py_ssize_t lo, Py_ssize_t hi,
                    float lr, float mom, float damp1, float wd, float sgn, int nesterov,
                    int first) noexcept nogil
    void fg_sgd_f64(double* p, const double* g, double* buf, Py_ssize_t lo, Py_ssize_t hi,
                    double lr, double mom, double damp1, double wd, double sgn, int nesterov,
                    int first) noexcept nogil


# --------------------------------------------------------------------------- optimizers
cdef struct Opt:
    # the arrays (p and g always; the rest as the optimizer and its options need)
    void* p
    const void* g
    void* s1                  # sgd: momentum buf; adam: m; rmsprop: square_avg; adagrad: sum
    void* s2                  # adam: v; rmsprop: grad_avg
    void* s3                  # adam: vmax; rmsprop: momentum buf
    # scalar factors, in double as PyTorch computes them in Python; cast once per range
    double k[10]
    bint f[4]                 # boolean options


cdef enum Kind:
    SGD, ADAM, RMSPROP, ADAGRAD


cdef inline floating _lerp(floating a, floating b, floating weight, floating one_minus_weight,
                           bint small) noexcept nogil:
    """PyTorch's lerp: a + w (b - a) for |w| < 0.5 (small), else b - (b - a)(1 - w); the
    test is hoisted out of the loop, so this is a select GCC can vectorise."""
    return a + weight * (b - a) if small else b - (b - a) * one_minus_weight


cdef void _sgd_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """The loop is C (fg_sgd_*): CPU-dispatched clones, vectorised 8 or 16 wide."""
    if floating is float:
        fg_sgd_f32(<float*>o.p, <const float*>o.g, <float*>o.s1, lo, hi, <float>o.k[0],
                   <float>o.k[1], <float>o.k[2], <float>o.k[3], -1 if o.f[1] else 1, o.f[0],
                   o.f[2])
    else:
        fg_sgd_f64(<double*>o.p, <const double*>o.g, <double*>o.s1, lo, hi, o.k[0], o.k[1],
                   o.k[2], o.k[3], -1 if o.f[1] else 1, o.f[0], o.f[2])


cdef void _adam_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """One pass: each array is loaded and stored once. The bias corrections are hoisted
    (k: decay, wd, w1, 1 - w1, beta2, 1 - beta2, 1 / sqrt(bc2), eps, -lr / bc1), so per
    element there is one sqrt and one division; the amsgrad loop is separate so that the
    common one has no conditional store."""
    cdef floating* p = <floating*>o.p
    cdef const floating* g = <const floating*>o.g
    cdef floating* m = <floating*>o.s1
    cdef floating* v = <floating*>o.s2
    cdef floating* vmax = <floating*>o.s3
    cdef floating decay = <floating>o.k[0], wd = <floating>o.k[1], w1 = <floating>o.k[2]
    cdef floating omw1 = <floating>o.k[3], beta2 = <floating>o.k[4], omb2 = <floating>o.k[5]
    cdef floating inv_bc2 = <floating>o.k[6], eps = <floating>o.k[7]
    cdef floating neg_step = <floating>o.k[8], sgn = -1 if o.f[2] else 1
    cdef bint amsgrad = o.f[0], coupled = not o.f[1] and wd != 0, small = fabs(w1) < 0.5
    cdef floating gi, pi, mi, vi, vm
    cdef Py_ssize_t i
    if not o.f[1]:
        decay = 1                                    # p * 1 == p exactly (inf, nan too)
    if not amsgrad:
        for i in range(lo, hi):
            gi = sgn * g[i]
            pi = p[i] * decay                        # AdamW's decoupled decay
            if coupled:
                gi = gi + wd * pi
            mi = _lerp(m[i], gi, w1, omw1, small)
            vi = v[i] * beta2 + omb2 * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] = pi + neg_step * mi / (_sqrt(vi) * inv_bc2 + eps)
    else:
        for i in range(lo, hi):
            gi = sgn * g[i]
            pi = p[i] * decay
            if coupled:
                gi = gi + wd * pi
            mi = _lerp(m[i], gi, w1, omw1, small)
            vi = v[i] * beta2 + omb2 * gi * gi
            m[i] = mi
            v[i] = vi
            vm = vmax[i]
            vm = vi if (vi > vm or vi != vi) else vm     # nan propagates, like torch.maximum
            vmax[i] = vm
            p[i] = pi + neg_step * mi / (_sqrt(vm) * inv_bc2 + eps)


cdef void _rmsprop_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef floating* p = <floating*>o.p
    cdef const floating* g = <const floating*>o.g
    cdef floating* sq = <floating*>o.s1
    cdef floating* gavg = <floating*>o.s2
    cdef floating* buf = <floating*>o.s3
    cdef floating neg_lr = <floating>o.k[0], alpha = <floating>o.k[1], oma = <floating>o.k[2]
    cdef floating alpha1 = <floating>o.k[3], eps = <floating>o.k[4], wd = <floating>o.k[5]
    cdef floating mom = <floating>o.k[6], sgn = -1 if o.f[1] else 1
    cdef bint centered = o.f[0], small = fabs(oma) < 0.5
    cdef floating gi, si, ga, avg, bi
    cdef Py_ssize_t i
    for i in range(lo, hi):
        gi = sgn * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        si = sq[i] * alpha + oma * gi * gi
        sq[i] = si
        if centered:
            ga = _lerp(gavg[i], gi, oma, alpha1, small)
            gavg[i] = ga
            avg = _sqrt(si - ga * ga) + eps
        else:
            avg = _sqrt(si) + eps
        if mom > 0:
            bi = buf[i] * mom + gi / avg
            buf[i] = bi
            p[i] = p[i] + neg_lr * bi
        else:
            p[i] = p[i] + neg_lr * gi / avg


cdef void _adagrad_range(floating tag, const Opt* o, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef floating* p = <floating*>o.p
    cdef const floating* g = <const floating*>o.g
    cdef floating* ssum = <floating*>o.s1
    cdef floating neg_clr = <floating>o.k[0], wd = <floating>o.k[1], eps = <floating>o.k[2]
    cdef floating sgn = -1 if o.f[0] else 1, gi, si
    cdef Py_ssize_t i
    for i in range(lo, hi):
        gi = sgn * g[i]
        if wd != 0:
            gi = gi + wd * p[i]
        si = ssum[i] + gi * gi
        ssum[i] = si
        p[i] = p[i] + neg_clr * gi / (_sqrt(si) + eps)


cdef inline void _opt_range(Kind kind, floating tag, const Opt* o, Py_ssize_t lo,
                            Py_ssize_t hi) noexcept nogil:
    if kind == SGD:
        _sgd_range(tag, o, lo, hi)
    elif kind == ADAM:
        _adam_range(tag, o, lo, hi)
    elif kind == RMSPROP:
        _rmsprop_range(tag, o, lo, hi)
    else:
        _adagrad_range(tag, o, lo, hi)


cdef void _opt_loop(Kind kind, floating tag, const Opt* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    if n < PAR_MIN:
        _opt_range(kind, tag, o, 0, n)
        return
    for k in prange((n + BLOCK - 1) // BLOCK, schedule="static"):
        _opt_range(kind, tag, o, k * BLOCK, min(n, (k + 1) * BLOCK))


cdef int _state_fast(object p, object g, tuple buffers):
    """Fast path of _state: p, g and the needed buffers (none of them None) exactly as the
    loops need them, none overlapping another in memory; returns the dtype, else -1."""
    cdef int t = _ftype(p, OUT_OK)
    cdef Py_ssize_t nbytes, i, j, k = 2
    cdef char* ptrs[5]
    if t < 0 or not _like(g, p, t, IN_OK):
        return -1
    for b in buffers:
        if b is None or not _like(b, p, t, OUT_OK):
            return -1
    # all contiguous with p's size: two overlap iff their starts are closer than nbytes
    nbytes = cnp.PyArray_NBYTES(<cnp.ndarray>p)
    ptrs[0] = <char*>cnp.PyArray_DATA(<cnp.ndarray>p)
    ptrs[1] = <char*>cnp.PyArray_DATA(<cnp.ndarray>g)
    for b in buffers:
        if k == 5:
            return -1
        ptrs[k] = <char*>cnp.PyArray_DATA(<cnp.ndarray>b)
        k += 1
    if nbytes:
        for i in range(k):
            for j in range(i + 1, k):
                if (ptrs[i] - ptrs[j] if ptrs[i] >= ptrs[j] else ptrs[j] - ptrs[i]) < nbytes:
                    return -1
    return t


cdef object _opt_run(Kind kind, Opt* o, object p, object g, object s1, object s2, object s3):
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>p)
    o.p = _ptr(p)
    o.g = _ptr(g)
    o.s1 = _ptr(s1)
    o.s2 = _ptr(s2)
    o.s3 = _ptr(s3)
    if n == 0:
        return p
    if cnp.PyArray_TYPE(<cnp.ndarray>p) == cnp.NPY_FLOAT:
        if n >= NOGIL_MIN:
            with nogil:
                _opt_loop[float](kind, 0, o, n)
        else:
            _opt_loop[float](kind, 0, o, n)
    else:
        if n >= NOGIL_MIN:
            with nogil:
                _opt_loop[double](kind, 0, o, n)
        else:
            _opt_loop[double](kind, 0, o, n)
    return p


cdef void _sgd_opts(Opt* o, double lr, double mom, double dampening, double weight_decay,
                    bint nesterov, bint maximize) noexcept:
    """SGD's factors and flags in o (first_step, o.f[2], is per parameter)."""
    o.k[0] = lr
    o.k[1] = mom
    o.k[2] = 1 - dampening
    o.k[3] = weight_decay
    o.f[0] = nesterov
    o.f[1] = maximize


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """torch.optim.SGD, one tensor, in place; buf is the momentum buffer (None when
    momentum == 0); first_step copies the update into buf."""
    if _state_fast(p, g, (buf,) if momentum != 0 else ()) < 0:
        g = _state("sgd_step", p, g, [("buf", buf, momentum != 0)])
        if not _aligned((p, g, buf if momentum != 0 else None)):
            return _numpy_twin().sgd_step(p, g, buf, lr, momentum, dampening, weight_decay,
                                          nesterov, maximize, first_step)
    cdef Opt o
    cdef double mom = momentum
    _sgd_opts(&o, lr, mom, dampening, weight_decay, nesterov, maximize)
    o.f[2] = first_step
    return _opt_run(SGD, &o, p, g, buf if mom != 0 else None, None, None)


def sgd_foreach(list ps, list gs, object bufs, lr, momentum, dampening, weight_decay, nesterov,
                maximize, object firsts):
    """sgd_step over a parameter group in one call: ps, gs (and bufs, firsts when momentum
    != 0) are lists of one length. Updates every parameter whose arrays are exactly as the
    loop needs them (sgd_step's fast case) and returns the indices of the others, which the
    caller passes to sgd_step one by one (it validates, converts or raises)."""
    cdef Opt o
    cdef double mom = momentum
    cdef Py_ssize_t i, n = len(ps)
    cdef list rest = []
    cdef list bl = None, fl = None
    if len(gs) != n:
        raise ValueError("sgd_foreach: %d parameters but %d gradients" % (n, len(gs)))
    if mom != 0:
        bl, fl = bufs, firsts
        if len(bl) != n or len(fl) != n:
            raise ValueError("sgd_foreach: bufs and firsts must have one entry per parameter")
    _sgd_opts(&o, lr, mom, dampening, weight_decay, nesterov, maximize)
    for i in range(n):
        p, g = ps[i], gs[i]
        if mom == 0:
            if _state_fast(p, g, ()) < 0:
                rest.append(i)
                continue
            o.f[2] = False
            _opt_run(SGD, &o, p, g, None, None, None)
        else:
            b = bl[i]
            if _state_fast(p, g, (b,)) < 0:
                rest.append(i)
                continue
            o.f[2] = bool(fl[i])
            _opt_run(SGD, &o, p, g, b, None, None)
    return rest


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
              decoupled):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), one tensor, in place;
    step is the 1-based step count; vmax is the amsgrad buffer (None unless amsgrad)."""
    if _state_fast(p, g, (m, v, vmax) if amsgrad else (m, v)) < 0:
        g = _state("adam_step", p, g, [("m", m, True), ("v", v, True),
                                       ("vmax", vmax, bool(amsgrad))])
        if not _aligned((p, g, m, v, vmax if amsgrad else None)):
            return _numpy_twin().adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps,
                                           weight_decay, step, amsgrad, maximize, decoupled)
    cdef bint ams = amsgrad, maxi = maximize, dec = decoupled
    cdef double lr_ = lr, b1 = beta1, b2 = beta2, wd = weight_decay, step_ = step, e = eps
    cdef Opt o
    # Scalar factors in double, as PyTorch computes them in Python.
    o.k[0] = 1 - lr_ * wd                            # decoupled decay
    o.k[1] = wd
    o.k[2] = 1 - b1                                  # lerp weight
    o.k[3] = 1 - (1 - b1)
    o.k[4] = b2
    o.k[5] = 1 - b2
    o.k[6] = 1 / sqrt(1 - b2 ** step_)               # 1 / sqrt(bias correction 2)
    o.k[7] = e
    o.k[8] = -(lr_ / (1 - b1 ** step_))              # -step size
    o.f[0] = ams
    o.f[1] = dec
    o.f[2] = maxi
    return _opt_run(ADAM, &o, p, g, m, v, vmax if ams else None)


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, maximize):
    """torch.optim.RMSprop, one tensor, in place; grad_avg is needed when centered,
    momentum_buf when momentum > 0 (both None otherwise)."""
    if _state_fast(p, g, (square_avg,) + ((grad_avg,) if centered else ())
                   + ((momentum_buf,) if momentum > 0 else ())) < 0:
        g = _state("rmsprop_step", p, g, [("square_avg", square_avg, True),
                                          ("grad_avg", grad_avg, bool(centered)),
                                          ("momentum_buf", momentum_buf, momentum > 0)])
        if not _aligned((p, g, square_avg, grad_avg if centered else None,
                         momentum_buf if momentum > 0 else None)):
            return _numpy_twin().rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr,
                                              alpha, eps, weight_decay, momentum, centered,
                                              maximize)
    cdef bint cen = centered, maxi = maximize
    cdef double lr_ = lr, a = alpha, e = eps, wd = weight_decay, mom = momentum
    cdef Opt o
    o.k[0] = -lr_
    o.k[1] = a
    o.k[2] = 1 - a
    o.k[3] = 1 - (1 - a)
    o.k[4] = e
    o.k[5] = wd
    o.k[6] = mom
    o.f[0] = cen
    o.f[1] = maxi
    return _opt_run(RMSPROP, &o, p, g, square_avg, grad_avg if cen else None,
                    momentum_buf if mom > 0 else None)


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, maximize):
    """torch.optim.Adagrad (dense), one tensor, in place; step is the 1-based step count."""
    if _state_fast(p, g, (state_sum,)) < 0:
        g = _state("adagrad_step", p, g, [("state_sum", state_sum, True)])
        if not _aligned((p, g, state_sum)):
            return _numpy_twin().adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps,
                                              step, maximize)
    cdef bint maxi = maximize
    cdef double lr_ = lr, decay = lr_decay, wd = weight_decay, e = eps, step_ = step
    cdef Opt o
    o.k[0] = -(lr_ / (1 + (step_ - 1) * decay))
    o.k[1] = wd
    o.k[2] = e
    o.f[0] = maxi
    return _opt_run(ADAGRAD, &o, p, g, state_sum, None, None)
