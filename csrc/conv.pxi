# Convolution and pooling on (N, C, H, W) images: the patch matrix of a convolution (im2col)
# and its adjoint (col2im), max pooling forward and backward (twin: fastgrad/_np/conv.py,
# whose docstring gives the shapes and PyTorch's choice of index). One image (im2col, col2im)
# or one (n, c) plane (pooling) per loop iteration, across the OpenMP threads above PAR_MIN
# elements. Included by csrc/_C.pyx.

__all__ += ["im2col", "col2im", "max_pool2d_fwd", "max_pool2d_bwd"]

cdef extern from "fg_conv.h":
    void fg_maxpool2x2_f32(const float* x, float* y, int64_t* idx, Py_ssize_t W, Py_ssize_t oh,
                           Py_ssize_t ow) noexcept nogil
    void fg_maxpool2x2_f64(const double* x, double* y, int64_t* idx, Py_ssize_t W, Py_ssize_t oh,
                           Py_ssize_t ow) noexcept nogil
    void fg_im2col_same_f32(const float* x, float* o, Py_ssize_t srow, Py_ssize_t C, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t ph, Py_ssize_t pw,
                            Py_ssize_t dh, Py_ssize_t oh) noexcept nogil
    void fg_im2col_same_f64(const double* x, double* o, Py_ssize_t srow, Py_ssize_t C, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t ph, Py_ssize_t pw,
                            Py_ssize_t dh, Py_ssize_t oh) noexcept nogil


cdef inline void _valid_range(Py_ssize_t off, Py_ssize_t s, Py_ssize_t size, Py_ssize_t n,
                              Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the z in [0, n) with 0 <= z*s + off < size."""
    lo[0] = 0 if off >= 0 else (-off + s - 1) // s
    hi[0] = 0 if size - 1 - off < 0 else min(n, (size - 1 - off) // s + 1)
    if hi[0] < lo[0]:
        hi[0] = lo[0]


cdef void _im2col_one(const floating* x, floating* o, Py_ssize_t srow, Py_ssize_t C, Py_ssize_t H,
                      Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw,
                      Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t oh,
                      Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t c, i, j, y, z, iy, lo, hi, off
    cdef floating* d
    cdef const floating* src
    if sh == 1 and sw == 1 and dw == 1 and ow == W:  # a 'same'-width convolution (fg_conv.h)
        if floating is float:
            fg_im2col_same_f32(x, o, srow, C, H, W, kh, kw, ph, pw, dh, oh)
        else:
            fg_im2col_same_f64(x, o, srow, C, H, W, kh, kw, ph, pw, dh, oh)
        return
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                off = j * dw - pw
                _valid_range(off, sw, W, ow, &lo, &hi)
                d = o + ((c * kh + i) * kw + j) * srow
                for y in range(oh):
                    iy = y * sh - ph + i * dh
                    if iy < 0 or iy >= H:
                        for z in range(ow):
                            d[z] = 0
                    else:
                        src = x + (c * H + iy) * W + off
                        for z in range(lo):
                            d[z] = 0
                        if sw == 1:
                            for z in range(lo, hi):
                                d[z] = src[z]
                        else:
                            for z in range(lo, hi):
                                d[z] = src[z * sw]
                        for z in range(hi, ow):
                            d[z] = 0
                    d += ow


cdef void _col2im_one(const floating* cols, floating* x, Py_ssize_t srow, Py_ssize_t C,
                      Py_ssize_t H, Py_ssize_t W, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                      Py_ssize_t sw, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw,
                      Py_ssize_t oh, Py_ssize_t ow) noexcept nogil:
    cdef Py_ssize_t c, i, j, y, z, iy, lo, hi, off
    cdef const floating* s
    cdef floating* dst
    for z in range(C * H * W):
        x[z] = 0
    for c in range(C):
        for i in range(kh):
            for j in range(kw):
                off = j * dw - pw
                _valid_range(off, sw, W, ow, &lo, &hi)
                s = cols + ((c * kh + i) * kw + j) * srow
                for y in range(oh):
                    iy = y * sh - ph + i * dh
                    if iy >= 0 and iy < H:
                        dst = x + (c * H + iy) * W + off
                        if sw == 1:
                            for z in range(lo, hi):
                                dst[z] += s[z]
                        else:
                            for z in range(lo, hi):
                                dst[z * sw] += s[z]
                    s += ow


cdef void _maxpool_plane(const floating* x, floating* y, int64_t* idx, Py_ssize_t H, Py_ssize_t W,
                         Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                         Py_ssize_t pw, Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t oh,
                         Py_ssize_t ow) noexcept nogil:
    """One plane. Each window's rows and columns inside the image are counted first (ni, nj
    steps from the first inside, hs / ws), so the inner loops are plain counted loops."""
    cdef Py_ssize_t a, b, i, j, hs, ws, ni, nj, mi, pos
    cdef floating m, v
    cdef bint take
    cdef const floating* row
    if (kh == 2 and kw == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0 and dh == 1 and dw == 1
            and 2 * oh <= H and 2 * ow <= W):  # the common 2x2 pooling: branch-free, vectorised (fg_conv.h)
        if floating is float:
            fg_maxpool2x2_f32(x, y, idx, W, oh, ow)
        else:
            fg_maxpool2x2_f64(x, y, idx, W, oh, ow)
        return
    for a in range(oh):
        hs = a * sh - ph
        ni = kh
        while hs < 0:  # torch's first index: the first grid position at or after 0, even past the window
            hs = hs + dh
            ni = ni - 1
        ni = max(ni, 0)
        while ni > 0 and hs + (ni - 1) * dh >= H:
            ni = ni - 1
        for b in range(ow):
            ws = b * sw - pw
            nj = kw
            while ws < 0:  # torch's first index: the first grid position at or after 0, even past the window
                ws = ws + dw
                nj = nj - 1
            nj = max(nj, 0)
            while nj > 0 and ws + (nj - 1) * dw >= W:
                nj = nj - 1
            m = -INFINITY
            mi = hs * W + ws
            for i in range(ni):
                row = x + (hs + i * dh) * W + ws
                pos = (hs + i * dh) * W + ws
                for j in range(nj):  # branch-free (selects): the maxima of random data mispredict
                    v = row[j * dw]
                    take = (v > m) | (v != v)
                    m = v if take else m
                    mi = pos + j * dw if take else mi
            y[a * ow + b] = m
            idx[a * ow + b] = mi


cdef void _maxpool_bwd_plane(const floating* g, const int64_t* idx, floating* out, Py_ssize_t plane,
                             Py_ssize_t L) noexcept nogil:
    cdef Py_ssize_t k
    cdef int64_t i
    for k in range(plane):
        out[k] = 0
    for k in range(L):
        i = idx[k]
        if i >= 0 and i < plane:
            out[i] += g[k]


cdef bint _geom(object kernel, object stride, object padding, object dilation, Py_ssize_t* p) noexcept:
    """p[0:8] <- kh kw sh sw ph pw dh dw when all are pairs of valid ints, else False."""
    cdef int k
    try:
        for k, pair in enumerate((kernel, stride, padding, dilation)):
            if type(pair) is not tuple or len(pair) != 2 or type(pair[0]) is not int or type(pair[1]) is not int:
                return False
            p[2 * k] = pair[0]
            p[2 * k + 1] = pair[1]
    except Exception:
        return False
    return min(p[0], p[1], p[2], p[3], p[6], p[7]) >= 1 and min(p[4], p[5]) >= 0


cdef inline bint _rows_unit(object a, int t, Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t n2) noexcept:
    """a: an aligned writeable-or-not 3-D ndarray of dtype t and shape (n0, n1, n2) whose last
    axis has unit stride (its other strides multiples of the item size)."""
    cdef cnp.ndarray arr
    cdef Py_ssize_t item
    if type(a) is not cnp.ndarray:
        return False
    arr = <cnp.ndarray>a
    if (cnp.PyArray_TYPE(arr) != t or not cnp.PyArray_ISNOTSWAPPED(arr) or not cnp.PyArray_ISALIGNED(arr)
            or cnp.PyArray_NDIM(arr) != 3):
        return False
    item = cnp.PyArray_ITEMSIZE(arr)
    return (cnp.PyArray_DIM(arr, 0) == n0 and cnp.PyArray_DIM(arr, 1) == n1 and cnp.PyArray_DIM(arr, 2) == n2
            and (n2 <= 1 or cnp.PyArray_STRIDE(arr, 2) == item)
            and cnp.PyArray_STRIDE(arr, 0) % item == 0 and cnp.PyArray_STRIDE(arr, 1) % item == 0)


cdef int _cols_fast(object img, int img_flags, object cols, int cols_writeable, Py_ssize_t* p,
                    Py_ssize_t* dims) noexcept:
    """dtype when img (N, C, H, W) passes _ftype and cols is its (N, C*kh*kw, oh*ow) patch matrix
    with unit stride along its last axis; dims[0:6] <- N C H W oh ow. Else -1."""
    cdef int t = _ftype(img, img_flags), k
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>img) != 4:
        return -1
    for k in range(4):
        dims[k] = cnp.PyArray_DIM(<cnp.ndarray>img, k)
    dims[4] = (dims[2] + 2 * p[4] - p[6] * (p[0] - 1) - 1) // p[2] + 1
    dims[5] = (dims[3] + 2 * p[5] - p[7] * (p[1] - 1) - 1) // p[3] + 1
    if dims[2] + 2 * p[4] - p[6] * (p[0] - 1) - 1 < 0 or dims[3] + 2 * p[5] - p[7] * (p[1] - 1) - 1 < 0:
        return -1
    if not _rows_unit(cols, t, dims[0], dims[1] * p[0] * p[1], dims[4] * dims[5]):
        return -1
    if cols_writeable and not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>cols):
        return -1
    return t


def im2col(x, kernel, stride, padding, dilation, out):
    """out (N, C*kh*kw, oh*ow) <- the patches of x (N, C, H, W); fastgrad/_np/conv.py."""
    cdef Py_ssize_t p[8]
    cdef Py_ssize_t d[6]
    cdef Py_ssize_t n, s0, s1, item
    cdef int t = -1
    cdef char* px
    cdef char* po
    if _geom(kernel, stride, padding, dilation, p):
        t = _cols_fast(x, IN_OK, out, 1, p, d)
    if t < 0 or _overlap_any(x, out):
        return _numpy_twin().im2col(x, kernel, stride, padding, dilation, out)
    item = cnp.PyArray_ITEMSIZE(<cnp.ndarray>out)
    s0 = cnp.PyArray_STRIDE(<cnp.ndarray>out, 0) // item
    s1 = cnp.PyArray_STRIDE(<cnp.ndarray>out, 1) // item
    px = <char*>cnp.PyArray_DATA(<cnp.ndarray>x)
    po = <char*>cnp.PyArray_DATA(<cnp.ndarray>out)
    if d[0] * d[1] * p[0] * p[1] * d[4] * d[5] == 0:
        return out
    if t == cnp.NPY_FLOAT:
        if d[0] > 1 and d[1] * p[0] * p[1] * d[4] * d[5] * d[0] >= PAR_MIN:
            for n in prange(d[0], nogil=True, schedule="static"):
                _im2col_one((<float*>px) + n * d[1] * d[2] * d[3], (<float*>po) + n * s0, s1, d[1], d[2], d[3],
                            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
        else:
            with nogil:
                for n in range(d[0]):
                    _im2col_one((<float*>px) + n * d[1] * d[2] * d[3], (<float*>po) + n * s0, s1, d[1], d[2],
                                d[3], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
    else:
        if d[0] > 1 and d[1] * p[0] * p[1] * d[4] * d[5] * d[0] >= PAR_MIN:
            for n in prange(d[0], nogil=True, schedule="static"):
                _im2col_one((<double*>px) + n * d[1] * d[2] * d[3], (<double*>po) + n * s0, s1, d[1], d[2], d[3],
                            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
        else:
            with nogil:
                for n in range(d[0]):
                    _im2col_one((<double*>px) + n * d[1] * d[2] * d[3], (<double*>po) + n * s0, s1, d[1], d[2],
                                d[3], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
    return out


def col2im(cols, kernel, stride, padding, dilation, out):
    """out (N, C, H, W) <- the adjoint of im2col applied to cols; fastgrad/_np/conv.py."""
    cdef Py_ssize_t p[8]
    cdef Py_ssize_t d[6]
    cdef Py_ssize_t n, s0, s1, item, img
    cdef int t = -1
    cdef char* pc
    cdef char* po
    if _geom(kernel, stride, padding, dilation, p):
        t = _cols_fast(out, OUT_OK, cols, 0, p, d)
    if t < 0 or _overlap_any(cols, out):
        return _numpy_twin().col2im(cols, kernel, stride, padding, dilation, out)
    item = cnp.PyArray_ITEMSIZE(<cnp.ndarray>cols)
    s0 = cnp.PyArray_STRIDE(<cnp.ndarray>cols, 0) // item
    s1 = cnp.PyArray_STRIDE(<cnp.ndarray>cols, 1) // item
    pc = <char*>cnp.PyArray_DATA(<cnp.ndarray>cols)
    po = <char*>cnp.PyArray_DATA(<cnp.ndarray>out)
    img = d[1] * d[2] * d[3]
    if t == cnp.NPY_FLOAT:
        if d[0] > 1 and d[1] * p[0] * p[1] * d[4] * d[5] * d[0] >= PAR_MIN:
            for n in prange(d[0], nogil=True, schedule="static"):
                _col2im_one((<float*>pc) + n * s0, (<float*>po) + n * img, s1, d[1], d[2], d[3],
                            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
        else:
            with nogil:
                for n in range(d[0]):
                    _col2im_one((<float*>pc) + n * s0, (<float*>po) + n * img, s1, d[1], d[2], d[3],
                                p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
    else:
        if d[0] > 1 and d[1] * p[0] * p[1] * d[4] * d[5] * d[0] >= PAR_MIN:
            for n in prange(d[0], nogil=True, schedule="static"):
                _col2im_one((<double*>pc) + n * s0, (<double*>po) + n * img, s1, d[1], d[2], d[3],
                            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
        else:
            with nogil:
                for n in range(d[0]):
                    _col2im_one((<double*>pc) + n * s0, (<double*>po) + n * img, s1, d[1], d[2], d[3],
                                p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], d[4], d[5])
    return out


cdef bint _overlap_any(object a, object b) noexcept:
    """a and b share memory anywhere (bounds of their data; strided views included)."""
    return bool(np.may_share_memory(a, b))


cdef bint _idx_like(object idx, object y) noexcept:
    return (type(idx) is cnp.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>idx) == cnp.NPY_INT64
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>idx) and cnp.PyArray_CHKFLAGS(<cnp.ndarray>idx, OUT_OK)
            and _same_dims(idx, y))


def max_pool2d_fwd(x, kernel, stride, padding, dilation, y, idx):
    """y, idx (N, C, oh, ow) <- max pooling of x (N, C, H, W); fastgrad/_np/conv.py."""
    cdef Py_ssize_t p[8]
    cdef Py_ssize_t k, planes, H, W, oh, ow
    cdef int t = -1
    cdef char* px
    cdef char* py
    cdef int64_t* pi
    if _geom(kernel, stride, padding, dilation, p):
        t = _ftype(x, IN_OK)
        if (t < 0 or _ftype(y, OUT_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>x) != 4
                or cnp.PyArray_NDIM(<cnp.ndarray>y) != 4 or not _idx_like(idx, y)
                or cnp.PyArray_DIM(<cnp.ndarray>x, 0) != cnp.PyArray_DIM(<cnp.ndarray>y, 0)
                or cnp.PyArray_DIM(<cnp.ndarray>x, 1) != cnp.PyArray_DIM(<cnp.ndarray>y, 1)
                or _overlap(x, y, False) or _overlap(x, idx, False) or _overlap(y, idx, False)):
            t = -1
    if t < 0:
        return _numpy_twin().max_pool2d_fwd(x, kernel, stride, padding, dilation, y, idx)
    planes = cnp.PyArray_DIM(<cnp.ndarray>x, 0) * cnp.PyArray_DIM(<cnp.ndarray>x, 1)
    H, W = cnp.PyArray_DIM(<cnp.ndarray>x, 2), cnp.PyArray_DIM(<cnp.ndarray>x, 3)
    oh, ow = cnp.PyArray_DIM(<cnp.ndarray>y, 2), cnp.PyArray_DIM(<cnp.ndarray>y, 3)
    px, py = <char*>_ptr(x), <char*>_ptr(y)
    pi = <int64_t*>_ptr(idx)
    if t == cnp.NPY_FLOAT:
        if planes > 1 and planes * oh * ow * p[0] * p[1] >= PAR_MIN:
            for k in prange(planes, nogil=True, schedule="static"):
                _maxpool_plane((<float*>px) + k * H * W, (<float*>py) + k * oh * ow, pi + k * oh * ow, H, W,
                               p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], oh, ow)
        else:
            with nogil:
                for k in range(planes):
                    _maxpool_plane((<float*>px) + k * H * W, (<float*>py) + k * oh * ow, pi + k * oh * ow, H, W,
                                   p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], oh, ow)
    else:
        if planes > 1 and planes * oh * ow * p[0] * p[1] >= PAR_MIN:
            for k in prange(planes, nogil=True, schedule="static"):
                _maxpool_plane((<double*>px) + k * H * W, (<double*>py) + k * oh * ow, pi + k * oh * ow, H, W,
                               p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], oh, ow)
        else:
            with nogil:
                for k in range(planes):
                    _maxpool_plane((<double*>px) + k * H * W, (<double*>py) + k * oh * ow, pi + k * oh * ow, H, W,
                                   p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], oh, ow)
    return y


def max_pool2d_bwd(g, idx, out):
    """out (N, C, H, W) <- g (N, C, oh, ow) added at the plane indices idx; fastgrad/_np/conv.py."""
    cdef Py_ssize_t k, planes, plane, L
    cdef int t = _ftype(g, IN_OK)
    cdef char* pg
    cdef char* po
    cdef int64_t* pi
    if (t < 0 or _ftype(out, OUT_OK) != t or cnp.PyArray_NDIM(<cnp.ndarray>g) != 4
            or cnp.PyArray_NDIM(<cnp.ndarray>out) != 4 or type(idx) is not cnp.ndarray
            or cnp.PyArray_TYPE(<cnp.ndarray>idx) != cnp.NPY_INT64 or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>idx)
            or not cnp.PyArray_CHKFLAGS(<cnp.ndarray>idx, IN_OK) or not _same_dims(idx, g)
            or cnp.PyArray_DIM(<cnp.ndarray>g, 0) != cnp.PyArray_DIM(<cnp.ndarray>out, 0)
            or cnp.PyArray_DIM(<cnp.ndarray>g, 1) != cnp.PyArray_DIM(<cnp.ndarray>out, 1)
            or _overlap(g, out, False) or _overlap(idx, out, False)):
        return _numpy_twin().max_pool2d_bwd(g, idx, out)
    planes = cnp.PyArray_DIM(<cnp.ndarray>g, 0) * cnp.PyArray_DIM(<cnp.ndarray>g, 1)
    plane = cnp.PyArray_DIM(<cnp.ndarray>out, 2) * cnp.PyArray_DIM(<cnp.ndarray>out, 3)
    L = cnp.PyArray_DIM(<cnp.ndarray>g, 2) * cnp.PyArray_DIM(<cnp.ndarray>g, 3)
    pg, po = <char*>_ptr(g), <char*>_ptr(out)
    pi = <int64_t*>_ptr(idx)
    if t == cnp.NPY_FLOAT:
        if planes > 1 and planes * (plane + L) >= PAR_MIN:
            for k in prange(planes, nogil=True, schedule="static"):
                _maxpool_bwd_plane((<float*>pg) + k * L, pi + k * L, (<float*>po) + k * plane, plane, L)
        else:
            with nogil:
                for k in range(planes):
                    _maxpool_bwd_plane((<float*>pg) + k * L, pi + k * L, (<float*>po) + k * plane, plane, L)
    else:
        if planes > 1 and planes * (plane + L) >= PAR_MIN:
            for k in prange(planes, nogil=True, schedule="static"):
                _maxpool_bwd_plane((<double*>pg) + k * L, pi + k * L, (<double*>po) + k * plane, plane, L)
        else:
            with nogil:
                for k in range(planes):
                    _maxpool_bwd_plane((<double*>pg) + k * L, pi + k * L, (<double*>po) + k * plane, plane, L)
    return out
