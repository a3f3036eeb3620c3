"""K.mm, the matrix product of linear / matmul / conv2d, and fastgrad._blas, which loads MKL for it.

The compiled K.mm passes what CBLAS can read in place to a gemm function pointer. Most tests
here install a reference gemm written with ctypes and NumPy in its place: it records each call
(transpose flags, sizes, leading dimensions) and computes the product from the raw pointers,
so the C path, which products take it and how they are described to BLAS are all checked
without MKL. Tests of MKL itself skip when it is not loaded (the `mkl` extra)."""
import ctypes
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastgrad
from fastgrad import _backend, _blas
from fastgrad._ops import nn as nn_ops

K = _backend.K
compiled = pytest.mark.skipif(not hasattr(K, "_blas_use"), reason="compiled backend only")
needs_mkl = pytest.mark.skipif(_backend.BLAS != "mkl", reason="MKL not loaded (pip install fastgrad[mkl])")
NO_TRANS, TRANS = 111, 112


def _gemm_type(ctype):
    c_int = ctypes.c_int
    return ctypes.CFUNCTYPE(None, c_int, c_int, c_int, c_int, c_int, c_int, ctype, ctypes.c_void_p,
                            c_int, ctypes.c_void_p, c_int, ctype, ctypes.c_void_p, c_int)


def _matrix(ptr, rows, cols, ld, dtype):
    """The rows x cols matrix at address ptr, rows ld elements apart (a view, no copy)."""
    item = np.dtype(dtype).itemsize
    buf = (ctypes.c_char * (((rows - 1) * ld + cols) * item)).from_address(ptr)
    flat = np.frombuffer(buf, dtype)
    return np.lib.stride_tricks.as_strided(flat, (rows, cols), (ld * item, item))


class ReferenceGemm:
    """cblas_sgemm / cblas_dgemm in NumPy (row-major, beta = 0), recording each call."""

    def __init__(self, wrong=False):
        self.calls, self.wrong, self.bad = [], wrong, []  # bad: calls with other order/alpha/beta
        self.fns = [_gemm_type(c)(self._make(d)) for c, d in ((ctypes.c_float, np.float32),
                                                              (ctypes.c_double, np.float64))]

    def _make(self, dtype):
        def gemm(order, ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc):
            self.calls.append((np.dtype(dtype).char, ta, tb, m, n, k, lda, ldb, ldc))
            if (order, alpha, beta) != (101, 1, 0):  # (an assert here would only be printed)
                self.bad.append((order, alpha, beta))
            a = _matrix(pa, k, m, lda, dtype).T if ta == TRANS else _matrix(pa, m, k, lda, dtype)
            b = _matrix(pb, n, k, ldb, dtype).T if tb == TRANS else _matrix(pb, k, n, ldb, dtype)
            c = _matrix(pc, m, n, ldc, dtype)
            c[...] = 0 if self.wrong else np.matmul(a, b)
        return gemm

    def addresses(self):
        return tuple(ctypes.cast(f, ctypes.c_void_p).value for f in self.fns)


@pytest.fixture
def ref_gemm():
    """K.mm on a ReferenceGemm for the test; the real setting (MKL or none) afterwards."""
    ref = ReferenceGemm()
    K._blas_use(*ref.addresses())
    yield ref
    K._blas_use(*_blas.ADDRESSES)
    assert ref.bad == []


def _ints(rng, shape, dtype):
    """Small integers as floats: every product and sum is exact, whatever the order."""
    return rng.integers(-4, 5, shape).astype(dtype)


# --------------------------------------------------------------------------- which calls, how
@compiled
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mm_describes_each_layout_to_blas(ref_gemm, dtype):
    rng = np.random.default_rng(0)
    a, w = _ints(rng, (6, 5), dtype), _ints(rng, (4, 5), dtype)
    big = _ints(rng, (9, 12), dtype)
    stack, one = _ints(rng, (3, 6, 5), dtype), _ints(rng, (5, 4), dtype)
    tall, wide = _ints(rng, (3, 64, 48), dtype), _ints(rng, (48, 64), dtype)  # 64 * 64 * 48 each
    c = np.dtype(dtype).char
    cases = [  # (a, b, expected calls)
        (a, w.T, [(c, NO_TRANS, TRANS, 6, 4, 5, 5, 5, 4)]),               # x @ w.T (linear)
        (a.T, a, [(c, TRANS, NO_TRANS, 5, 5, 6, 5, 5, 5)]),               # g.T @ x
        (big[:6, 2:7], w.T, [(c, NO_TRANS, TRANS, 6, 4, 5, 12, 5, 4)]),   # rows 12 apart
        (big[2:7, :6].T, big[:5, 3:7], [(c, TRANS, NO_TRANS, 6, 4, 5, 12, 12, 4)]),
        (a[:1], w.T, [(c, NO_TRANS, TRANS, 1, 4, 5, 5, 5, 4)]),           # one row
        (tall, wide, [(c, NO_TRANS, NO_TRANS, 64, 64, 48, 48, 64, 64)] * 3),  # stack @ matrix
        (wide.T, np.stack([wide] * 2), [(c, TRANS, NO_TRANS, 64, 64, 48, 64, 64, 64)] * 2),
        (stack[:1], one, [(c, NO_TRANS, NO_TRANS, 6, 4, 5, 5, 4, 4)]),        # a stack of one
        (stack, one, []),                       # stacks of small matrices: NumPy's loop
        (tall[:, ::-1], wide, []),              # reversed rows: NumPy
    ]
    for x, y, calls in cases:
        del ref_gemm.calls[:]
        got = K.mm(x, y)
        assert ref_gemm.calls == calls, (x.shape, x.strides, y.shape, y.strides)
        want = np.matmul(x, y)
        assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
    # the stack's matrices are read at their own addresses: broadcast a is read for each
    del ref_gemm.calls[:]
    np.testing.assert_array_equal(K.mm(tall[:1], np.stack([wide, 2 * wide])),
                                  np.matmul(tall[:1], np.stack([wide, 2 * wide])))
    assert len(ref_gemm.calls) == 2


@compiled
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_mm_leaves_to_numpy_what_blas_cannot_take(ref_gemm):
    rng = np.random.default_rng(1)
    a, b = _ints(rng, (6, 5), np.float32), _ints(rng, (5, 4), np.float32)
    buf = np.zeros(6 * 5 * 4 + 1, np.uint8)
    unaligned = np.frombuffer(buf[1:].data, np.float32).reshape(6, 5)
    unaligned[...] = a
    cases = [
        (a.astype(np.int64), b.astype(np.int64)), (a, b.astype(np.float64)), (a.astype(np.float16), b),
        (a[0], b), (a, b[:, 0]), (a[None, None], b), (a.astype(">f4"), b), (unaligned, b),
        (a[::-1], b), (a[:, ::2], b[::2]), (np.broadcast_to(a[:1], (6, 5)), b),
        (a[:0], b), (a[:, :0], b[:0]), (a, b[:, :0]), (np.matrix(a), np.matrix(b)),
        (a.astype(object), b.astype(object)), (a.astype(np.complex64), b),
        (np.zeros((0, 6, 5), np.float32), b),
    ]
    for x, y in cases:
        want = np.matmul(x, y)
        got = K.mm(x, y)
        assert ref_gemm.calls == [], (x.dtype, x.shape, x.strides)
        assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    for x, y in [(a, a), (a, b.T), (np.stack([a] * 2), np.stack([b] * 3)), (a, 2.0)]:
        with pytest.raises(ValueError) as want:
            np.matmul(x, y)
        with pytest.raises(ValueError) as got:
            K.mm(x, y)
        assert str(got.value) == str(want.value)
    assert ref_gemm.calls == []


@compiled
def test_mm_fuzz_against_matmul(ref_gemm):
    """Random shapes, stacks (broadcast or not), layouts and slices: K.mm is np.matmul bit for
    bit on integer-valued floats, and most of the cases go through the gemm."""
    rng = np.random.default_rng(2)

    def make(shape, dtype):
        kind = rng.integers(6)
        if kind == 1:  # transposed C array
            return np.swapaxes(_ints(rng, shape[:-2] + shape[-2:][::-1], dtype), -1, -2)
        if kind == 2:  # every other column
            return _ints(rng, shape[:-1] + (2 * shape[-1],), dtype)[..., ::2]
        if kind == 3:  # a column slice of wider rows
            return _ints(rng, shape[:-1] + (shape[-1] + 3,), dtype)[..., 1:shape[-1] + 1]
        if kind == 4:  # a row slice of a transposed array
            wide = _ints(rng, shape[:-2] + (shape[-1], shape[-2] + 2), dtype)
            return np.swapaxes(wide[..., :shape[-2]], -1, -2)
        x = _ints(rng, shape, dtype)
        return x[::-1] if kind == 5 else x

    taken = stacks = 0
    for i in range(3000):
        dtype = [np.float32, np.float64][rng.integers(2)]
        sizes = [52, 64, 70] if i % 5 == 0 else [1, 2, 3, 7, 16]  # stacks of >= 52^3 take BLAS too
        m, k, n = (int(rng.choice(sizes)) for _ in range(3))
        batch = int(rng.choice([1, 2, 3]))
        sa = tuple(int(rng.choice([1, batch])) for _ in range(rng.integers(0, 2)))
        sb = tuple(int(rng.choice([1, batch])) for _ in range(rng.integers(0, 2)))
        x, y = make(sa + (m, k), dtype), make(sb + (k, n), dtype)
        del ref_gemm.calls[:]
        got, want = K.mm(x, y), np.matmul(x, y)
        taken += bool(ref_gemm.calls)
        stacks += len(ref_gemm.calls) > 1
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert taken > 1000 and stacks > 50


# --------------------------------------------------------------------------- the real BLAS
@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mkl_products_match_numpy_and_propagate_nan_inf(dtype):
    rng = np.random.default_rng(3)
    for m, k, n in [(1, 1, 1), (64, 784, 100), (256, 100, 10), (33, 7, 65)]:
        a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
        want = a.astype(np.float64) @ b.T.astype(np.float64)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(K.mm(a, b.T), want, rtol=tol, atol=tol * np.sqrt(k) * 4)
    a = np.ones((4, 3), dtype)
    b = np.ones((3, 5), dtype)
    a[1, 2], a[2, 0], b[0, 4] = np.nan, np.inf, 0
    with np.errstate(invalid="ignore"):
        want = np.matmul(a, b)  # row 1 nan, row 2 inf except inf * 0 = nan in column 4
    got = K.mm(a, b)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


@needs_mkl
def test_mkl_product_releases_the_gil_and_keeps_references():
    """With a long switch interval, another thread runs only while the GIL is released."""
    a = np.ones((1000, 1000), np.float32)
    ticks, done = [], threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    t = threading.Thread(target=count)
    t.start()
    try:
        before = len(ticks)
        K.mm(a, a)
        during = len(ticks) - before
    finally:
        done.set()
        t.join()
        sys.setswitchinterval(interval)
    assert during > 0
    refs = sys.getrefcount(a)
    for _ in range(1000):
        out = K.mm(a[:3], a[:, :2])
    assert sys.getrefcount(a) == refs and sys.getrefcount(out) == 2


def test_the_blas_in_use_is_reported():
    assert fastgrad.backends.mkl.is_available() == (_backend.BLAS == "mkl")
    assert _backend.BLAS in (("mkl", "numpy") if _backend.get_backend() == "cython" else ("numpy",))
    if _backend.BLAS == "mkl":  # linear computes x @ w.T on MKL (faster than (w @ x.T).T)
        assert nn_ops._linear_out is None and _blas.ADDRESSES[0] != 0
    else:
        assert nn_ops._linear_out is getattr(K, "_linear_out", None) and _blas.ADDRESSES == (0, 0)


# --------------------------------------------------------------------------- loading MKL
@compiled
def test_setup_falls_back_or_raises_when_mkl_is_missing(monkeypatch):
    monkeypatch.setattr(_blas, "_mkl_path", lambda: None)
    monkeypatch.setattr(_blas, "ADDRESSES", _blas.ADDRESSES)  # both restored after the test
    monkeypatch.setattr(_blas, "_lib", _blas._lib)
    before = _blas.ADDRESSES
    with pytest.raises(OSError, match="`mkl` package is not installed"):
        _blas._load_mkl(K)
    try:
        monkeypatch.setenv("FASTGRAD_BLAS", "mkl")
        with pytest.raises(ImportError, match="FASTGRAD_BLAS=mkl: the `mkl` package is not installed"):
            _blas.setup(K)
        monkeypatch.setenv("FASTGRAD_BLAS", "auto")
        assert _blas.setup(K) == "numpy" and _blas.ADDRESSES == (0, 0) and _blas._lib is None
        rng = np.random.default_rng(5)
        a = rng.standard_normal((7, 9)).astype(np.float32)
        np.testing.assert_array_equal(K.mm(a, a.T), np.matmul(a, a.T))  # NumPy's own again
        monkeypatch.setenv("FASTGRAD_BLAS", "openblas")
        with pytest.raises(ImportError, match="FASTGRAD_BLAS must be 'auto', 'mkl' or 'numpy', got 'openblas'"):
            _blas.setup(K)
    finally:
        K._blas_use(*before)


@compiled
def test_auto_takes_mkl_on_intel_cpus_only(monkeypatch):
    monkeypatch.setattr(_blas, "ADDRESSES", _blas.ADDRESSES)  # both restored after the test
    monkeypatch.setattr(_blas, "_lib", _blas._lib)
    before, vendor = _blas.ADDRESSES, _blas._cpu_vendor
    try:
        monkeypatch.setattr(_blas, "_cpu_vendor", lambda: "AuthenticAMD")
        monkeypatch.setenv("FASTGRAD_BLAS", "auto")
        assert _blas.setup(K) == "numpy" and _blas.ADDRESSES == (0, 0)
        if _blas._mkl_path() is not None:  # asked for, MKL runs on any x86-64
            monkeypatch.setenv("FASTGRAD_BLAS", "mkl")
            assert _blas.setup(K) == "mkl" and _blas.ADDRESSES != (0, 0)
            monkeypatch.setattr(_blas, "_cpu_vendor", lambda: "GenuineIntel")
            monkeypatch.setenv("FASTGRAD_BLAS", "auto")
            assert _blas.setup(K) == "mkl"
    finally:
        K._blas_use(*before)
    assert vendor() in open("/proc/cpuinfo").read()


@compiled
def test_self_test_rejects_a_wrong_gemm():
    wrong = ReferenceGemm(wrong=True)
    K._blas_use(*wrong.addresses())
    try:
        with pytest.raises(OSError, match="disagrees with np.matmul"):
            _blas._self_test(K)
    finally:
        K._blas_use(*_blas.ADDRESSES)
    _blas._self_test(K)  # the BLAS in use passes
    with pytest.raises(ValueError, match="both functions or neither"):
        K._blas_use(wrong.addresses()[0], 0)


@compiled
@pytest.mark.parametrize("want", ["numpy", "auto", "mkl", "bogus"])
def test_fastgrad_blas_variable(want):
    code = ("import fastgrad, numpy as np; from fastgrad import _backend; from fastgrad._ops import nn;"
            "x = fastgrad.randn(64, 784); w = fastgrad.randn(100, 784);"
            "y = fastgrad.nn.functional.linear(x, w); d = np.abs(y.numpy() - x.numpy() @ w.numpy().T).max();"
            "print(_backend.BLAS, nn._linear_out is None, fastgrad.backends.mkl.is_available(), d < 1e-3)")
    env = dict(__import__("os").environ, FASTGRAD_BLAS=want)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    have_mkl = _blas._mkl_path() is not None
    if want == "bogus" or (want == "mkl" and not have_mkl):
        assert res.returncode != 0 and "FASTGRAD_BLAS" in res.stderr
        return
    assert res.returncode == 0, res.stderr
    mkl = have_mkl and (want == "mkl" or (want == "auto" and _blas._cpu_vendor() == "GenuineIntel"))
    assert res.stdout.split() == (["mkl", "True", "True", "True"] if mkl else ["numpy", "False", "False", "True"])


@compiled
@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_runs_parallel_kernels_and_products():
    """libgomp's pool does not survive fork: without after_fork_in_child the child hangs."""
    code = """if 1:
        import os, time, numpy as np, fastgrad
        from fastgrad._backend import K
        a = np.ones((600, 600), np.float32)
        K.mm(a, a); K.sigmoid_fwd(a)              # the parent starts OpenMP (and MKL) threads
        pid = os.fork()
        if pid == 0:
            ok = K.mm(a, a)[0, 0] == 600 and K.sigmoid_fwd(a).shape == a.shape
            os._exit(0 if ok else 3)
        for _ in range(300):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise SystemExit(os.waitstatus_to_exitcode(status))
            time.sleep(0.05)
        os.kill(pid, 9)
        raise SystemExit("the child hung")
    """
    env = dict(__import__("os").environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("bad, message", [(0, "set_num_threads expects a positive integer"),
                                          (-1, "set_num_threads expects a positive integer"),
                                          (2.5, "set_num_threads expects an int, but got float"),
                                          ("2", "set_num_threads expects an int, but got str")])
def test_set_num_threads_errors_as_torch(bad, message):
    with pytest.raises(RuntimeError, match="^%s$" % message):
        fastgrad.set_num_threads(bad)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="^%s$" % message):
        torch.set_num_threads(bad)


def test_set_num_threads_reaches_openmp_mkl_and_numpys_openblas():
    before = fastgrad.get_num_threads()
    assert before >= 1
    getter = _blas.openblas_threads()[0]
    openblas_threads = ctypes.CFUNCTYPE(ctypes.c_int)(getter) if getter else None
    try:
        for n in (1, 3, np.int64(2)):
            fastgrad.set_num_threads(n)
            assert fastgrad.get_num_threads() == n
            if _blas._lib is not None and n <= __import__("os").cpu_count():  # MKL caps at the cores
                assert _blas._lib.MKL_Get_Max_Threads() == n
            if openblas_threads is not None:  # np.matmul inside fastgrad's ops follows it, as torch's BLAS does
                assert openblas_threads() == n
    finally:
        fastgrad.set_num_threads(before)
    assert fastgrad.get_num_threads() == before


# --------------------------------------------------------------------------- one thread for small products
class FakeThreads:
    """openblas_get/set_num_threads and MKL_Set_Num_Threads_Local as ctypes callbacks that
    record each call (the setting starts at `threads`)."""

    def __init__(self, threads=2):
        self.threads, self.local, self.calls = threads, 0, []
        self._get = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: self.threads)
        self._set = ctypes.CFUNCTYPE(None, ctypes.c_int)(self._put)
        self._local = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(self._put_local)

    def _put(self, n):
        self.calls.append(("set", n))
        self.threads = n

    def _put_local(self, n):
        self.calls.append(("local", n))
        prev, self.local = self.local, n
        return prev

    def addresses(self, mkl=True):
        return tuple(ctypes.cast(f, ctypes.c_void_p).value if f is not None else 0
                     for f in (self._get, self._set, self._local if mkl else None))


@pytest.fixture
def fake_threads():
    fake = FakeThreads()
    K._blas_threads(*fake.addresses())
    yield fake
    K._blas_threads(*_blas.THREAD_FUNCS)


# (m, k, n): fewer than 8192 multiply-adds (OpenBLAS runs them on one thread itself), between
# that and 2**21 (one thread), 2**21 and more (its threads).
SMALL, MID, LARGE = (16, 16, 16), (97, 51, 204), (128, 128, 128)


@compiled
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_blas_runs_products_below_2_21_on_one_thread(fake_threads, dtype):
    if _blas.ADDRESSES != (0, 0):
        K._blas_use(0, 0)  # NumPy's BLAS for this test
    try:
        rng = np.random.default_rng(6)
        for (m, k, n), calls in ((SMALL, []), (MID, [("set", 1), ("set", 2)]), (LARGE, [])):
            a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((n, k)).astype(dtype)
            for x, y in ((a, b.T), (a[None], b.T), (np.stack([a] * 2), np.stack([b.T] * 2))):
                del fake_threads.calls[:]
                np.testing.assert_array_equal(K.mm(x, y), np.matmul(x, y))
                assert fake_threads.calls == calls and fake_threads.threads == 2, ((m, k, n), x.shape)
        for x, y in ((np.ones((1, 32768), dtype), np.ones((32768, 1), dtype)),   # dot and gemv shapes
                     (np.ones((1, 4096), dtype), np.ones((4096, 8), dtype))):
            del fake_threads.calls[:]
            np.testing.assert_array_equal(K.mm(x, y), np.matmul(x, y))
            assert fake_threads.calls == [("set", 1), ("set", 2)]
        fake_threads.threads = 1  # already one thread: left alone
        del fake_threads.calls[:]
        K.mm(*(np.ones(s, dtype) for s in ((97, 51), (51, 204))))
        assert fake_threads.calls == [] and fake_threads.threads == 1
        fake_threads.threads = 2
        with pytest.raises(ValueError) as got:  # errors: the setting is restored
            K.mm(np.ones((97, 51), dtype), np.ones((52, 204), dtype))
        with pytest.raises(ValueError) as want:
            np.matmul(np.ones((97, 51), dtype), np.ones((52, 204), dtype))
        assert str(got.value) == str(want.value) and fake_threads.threads == 2
    finally:
        K._blas_use(*_blas.ADDRESSES)


@compiled
def test_external_blas_runs_products_below_2_21_on_one_thread(ref_gemm, fake_threads):
    """Through the gemm pointer (MKL): its thread-local setting is 1 around each product
    below 2**21, then back; NumPy's fallbacks switch OpenBLAS's as above."""
    rng = np.random.default_rng(7)
    for (m, k, n), calls in ((SMALL, [("local", 1), ("local", 0)]), (MID, [("local", 1), ("local", 0)]),
                             (LARGE, [])):
        a, b = rng.standard_normal((m, k)), rng.standard_normal((n, k))
        del fake_threads.calls[:], ref_gemm.calls[:]
        np.testing.assert_allclose(K.mm(a, b.T), a @ b.T, rtol=1e-12)
        assert fake_threads.calls == calls and len(ref_gemm.calls) == 1
    a = rng.standard_normal((97, 51 * 2))[:, ::2]  # columns 2 apart: CBLAS cannot read it
    del fake_threads.calls[:], ref_gemm.calls[:]
    np.testing.assert_array_equal(K.mm(a, rng.standard_normal((51, 204))).shape, (97, 204))
    assert fake_threads.calls == [("set", 1), ("set", 2)] and ref_gemm.calls == []


@compiled
def test_blas_threads_arguments():
    with pytest.raises(ValueError, match="both OpenBLAS functions or neither"):
        K._blas_threads(1, 0, 0)
    assert len(_blas.THREAD_FUNCS) == 3


@compiled
def test_numpy_openblas_is_found_when_numpy_uses_it():
    """The functions found are NumPy's OpenBLAS's own: setting through them is what
    NumPy's configuration reports (threadpoolctl, when installed, reads the same setting)."""
    path = _blas._numpy_openblas_path()
    if path is None:
        pytest.skip("NumPy does not run on an OpenBLAS here")
    get, put = _blas.openblas_threads()
    assert get and put and _blas.THREAD_FUNCS[:2] == (get, put)
    get = ctypes.CFUNCTYPE(ctypes.c_int)(get)
    put = ctypes.CFUNCTYPE(None, ctypes.c_int)(put)
    before = get()
    try:
        put(1)
        assert get() == 1
        threadpoolctl = pytest.importorskip("threadpoolctl")
        info = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
        assert any(i["filepath"] == path and i["num_threads"] == 1 for i in info), info
    finally:
        put(before)
    assert get() == before


@compiled
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lbfgs_dot_products_run_on_one_thread(fake_threads, dtype):
    """LBFGS's flat-vector dot products (32k parameters in time_sequence_prediction) go
    through K.mm, on one thread, with np.dot's value (to rounding) and dtype."""
    from fastgrad.optim import lbfgs

    if _blas.ADDRESSES != (0, 0):
        K._blas_use(0, 0)
    try:
        rng = np.random.default_rng(8)
        a, b = rng.standard_normal((2, 32768)).astype(dtype)
        del fake_threads.calls[:]
        got = lbfgs._dot(a, b)
        assert fake_threads.calls == [("set", 1), ("set", 2)]
        want = np.dot(a, b)
        assert type(got) is type(want)
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-12)
        assert lbfgs._dot(a[:0], b[:0]) == 0
    finally:
        K._blas_use(*_blas.ADDRESSES)
