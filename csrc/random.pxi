# torch's CPU generator: mt19937 draws and the uniform / normal fills (twin:
# fastgrad/_np/random.py; the C is csrc/fg_random.h). The state is a uint32[626] array
# (the 624 words, then torch's `left` and `next`), owned by fastgrad._random.Generator.

__all__ += ["rng_seed", "rng_raw32", "rng_raw64", "rng_uniform", "rng_normal"]

from libc.stdint cimport uint32_t, uint64_t

cdef extern from "fg_random.h":
    void fg_mt_seed(uint32_t* st, uint64_t seed) noexcept nogil
    void fg_mt_fill32(uint32_t* st, uint32_t* out, Py_ssize_t n) noexcept nogil
    void fg_mt_fill64(uint32_t* st, uint64_t* out, Py_ssize_t n) noexcept nogil
    void fg_uniform_f32(uint32_t* st, float* out, Py_ssize_t n, float lo, float hi) noexcept nogil
    void fg_uniform_f64(uint32_t* st, double* out, Py_ssize_t n, double lo, double hi) noexcept nogil
    void fg_normal_f32(uint32_t* st, float* out, Py_ssize_t n, float mean, float std) noexcept nogil
    void fg_normal_f64(uint32_t* st, double* out, Py_ssize_t n, double mean, double std) noexcept nogil

from fastgrad._np.random import _check as _rng_check


cdef inline uint32_t* _rng_state(object st) except NULL:
    _rng_check(st, None, "")
    return <uint32_t*>cnp.PyArray_DATA(<cnp.ndarray>st)


def rng_seed(st, seed):
    """torch's mt19937 seeding (init_genrand on the low 32 bits); next draw regenerates."""
    cdef uint32_t* s = _rng_state(st)
    fg_mt_seed(s, <uint64_t>(int(seed) & 0xFFFFFFFFFFFFFFFF))
    return st


def rng_raw32(st, out):
    """out.size successive 32-bit draws (torch's random())."""
    _rng_check(st, out, "I")
    cdef uint32_t* s = <uint32_t*>cnp.PyArray_DATA(<cnp.ndarray>st)
    cdef uint32_t* o = <uint32_t*>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef Py_ssize_t n = out.size
    with nogil:
        fg_mt_fill32(s, o, n)
    return out


def rng_raw64(st, out):
    """out.size draws of torch's random64(): two 32-bit draws, the first the high word."""
    _rng_check(st, out, "Q")
    cdef uint32_t* s = <uint32_t*>cnp.PyArray_DATA(<cnp.ndarray>st)
    cdef uint64_t* o = <uint64_t*>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef Py_ssize_t n = out.size
    with nogil:
        fg_mt_fill64(s, o, n)
    return out


def rng_uniform(st, out, lo, hi):
    """torch's uniform_real_distribution(lo, hi) into a float32 or float64 out (a value that
    rounds up to hi becomes lo, as torch's uniform kernel does)."""
    _rng_check(st, out, "fd")
    cdef uint32_t* s = <uint32_t*>cnp.PyArray_DATA(<cnp.ndarray>st)
    cdef void* o = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef Py_ssize_t n = out.size
    cdef float lo32 = lo, hi32 = hi
    cdef double lo64 = lo, hi64 = hi
    if out.dtype == np.float32:
        with nogil:
            fg_uniform_f32(s, <float*>o, n, lo32, hi32)
    else:
        with nogil:
            fg_uniform_f64(s, <double*>o, n, lo64, hi64)
    return out


def rng_normal(st, out, mean, std):
    """torch's normal_fill into a C-contiguous float32/float64 out of at least 16 elements:
    out.size uniforms, Box-Muller on each whole block of 16, then 16 fresh uniforms for the
    last 16 slots when the size is not a multiple of 16."""
    _rng_check(st, out, "fd")
    cdef Py_ssize_t n = out.size
    if n < 16:
        raise ValueError("rng_normal needs at least 16 elements, got %d" % n)
    cdef uint32_t* s = <uint32_t*>cnp.PyArray_DATA(<cnp.ndarray>st)
    cdef void* o = cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef float m32 = mean, s32 = std
    cdef double m64 = mean, s64 = std
    if out.dtype == np.float32:
        with nogil:
            fg_normal_f32(s, <float*>o, n, m32, s32)
    else:
        with nogil:
            fg_normal_f64(s, <double*>o, n, m64, s64)
    return out
