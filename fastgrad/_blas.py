"""The compiled backend's BLAS for float matrix products (``K.mm``: linear, matmul, bmm, conv2d).

``FASTGRAD_BLAS`` chooses, read once at import:

* ``auto`` (default): Intel MKL when the ``mkl`` package is installed
  (``pip install "fastgrad[mkl]"``, Linux) and the CPU is Intel's, else NumPy's own BLAS
  (MKL was measured on Intel only; on the AMD EPYC of benchmarks/NOTES.md entries 1-4,
  torch with MKL was no faster than NumPy's OpenBLAS on W3);
* ``numpy``: NumPy's BLAS (``np.matmul``) always;
* ``mkl``: MKL, or ImportError saying why not.

Why: on the Xeon these benchmarks run on, MKL's sgemm takes 0.78-0.88x the time of the
OpenBLAS that NumPy wheels ship, on every product of linear layers from 64 x 784 -> 100 up
(benchmarks/NOTES.md B1); PyTorch's CPU wheels link MKL too. The pure-NumPy backend always
uses NumPy's BLAS.

MKL is loaded with ctypes: LP64 integers, and the GNU threading layer on the same libgomp
as fastgrad's own OpenMP kernels (one thread pool; MKL takes its thread count from
MKL_NUM_THREADS or OMP_NUM_THREADS), or its sequential layer in a build without OpenMP.
Its functions are checked on a few products against np.matmul before they are used.

Products of fewer than 2**21 multiply-adds run on one BLAS thread (csrc/blas.pxi, MM_SERIAL_MAX):
NumPy's OpenBLAS through its openblas_set_num_threads (found in the process's loaded libraries,
openblas_threads), MKL through its thread-local MKL_Set_Num_Threads_Local.

Also here, as they concern the same runtimes: fastgrad.get_num_threads / set_num_threads
(OpenMP and MKL), and single-threaded children after os.fork() (after_fork_in_child).
"""
import ctypes
import os
import sys

import numpy as np

ADDRESSES = (0, 0)  # K._blas_use's arguments now: MKL's gemms, or none (tests swap and restore them)
THREAD_FUNCS = (0, 0, 0)  # K._blas_threads's arguments now (OpenBLAS get/set, MKL's local set)

_MKL_INTERFACE_LP64 = 0
_MKL_THREADING_SEQUENTIAL, _MKL_THREADING_GNU = 1, 3
_lib = None  # the loaded libmkl_rt (kept referenced; never unloaded)
_gomp = None  # fastgrad._C, through which its libgomp's omp_* functions are called


def _mkl_path():
    """libmkl_rt's path in the installed `mkl` package, or None."""
    from importlib import metadata

    try:
        files = metadata.distribution("mkl").files or ()
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith("libmkl_rt.so"):
            path = os.path.realpath(f.locate())
            if os.path.exists(path):
                return path
    return None


def _cpu_vendor():
    """The CPU's vendor_id from /proc/cpuinfo ("GenuineIntel", "AuthenticAMD", ...), or ""."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _openmp(K, mode=0):
    """fastgrad._C (module K) opened again with dlopen `mode`: the omp_* functions resolve
    through it to the libgomp it was linked with. None when it was built without OpenMP."""
    try:
        lib = ctypes.CDLL(K.__file__, mode=os.RTLD_NOLOAD | mode)
        lib.omp_set_num_threads
    except (OSError, AttributeError):
        return None
    return lib


def _load_mkl(K):
    """(cblas_sgemm, cblas_dgemm) addresses from MKL, set up as the module docstring says;
    OSError with the reason when MKL is absent or unusable."""
    global _lib
    if not sys.platform.startswith("linux"):
        raise OSError("fastgrad loads MKL on Linux only")
    path = _mkl_path()
    if path is None:
        raise OSError("the `mkl` package is not installed (pip install \"fastgrad[mkl]\")")
    lib = ctypes.CDLL(path)
    if lib.MKL_Set_Interface_Layer(_MKL_INTERFACE_LP64) != _MKL_INTERFACE_LP64:
        raise OSError("%s: its interface layer is not LP64 (MKL_INTERFACE_LAYER?)" % path)
    # MKL's GNU layer finds omp_* in the global scope: put _C and its libgomp there
    gomp = _openmp(K, os.RTLD_GLOBAL)
    layer = _MKL_THREADING_SEQUENTIAL if gomp is None else _MKL_THREADING_GNU
    if lib.MKL_Set_Threading_Layer(layer) != layer:
        raise OSError("%s: MKL's threading layer is already set to another runtime" % path)
    _lib = lib
    return (ctypes.cast(lib.cblas_sgemm, ctypes.c_void_p).value,
            ctypes.cast(lib.cblas_dgemm, ctypes.c_void_p).value)


def _numpy_openblas_path():
    """The path of the OpenBLAS that NumPy loaded (in NumPy's wheel: numpy.libs/ or
    numpy/.dylibs/; else the only OpenBLAS in the process), from /proc/self/maps; None when
    there is none (another BLAS, or not Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            fields = [line.split(None, 5) for line in maps]
    except OSError:
        return None
    paths = {f[5].strip() for f in fields if len(f) == 6}
    found = sorted(p for p in paths if "openblas" in os.path.basename(p).lower() and ".so" in p)
    root = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    mine = [p for p in found if p.startswith(os.path.join(root, "numpy"))]
    if len(mine) == 1:
        return mine[0]
    return found[0] if len(found) == 1 else None


def openblas_threads():
    """(openblas_get_num_threads, openblas_set_num_threads) addresses of NumPy's OpenBLAS,
    under any of the symbol prefixes/suffixes its builds use (scipy-openblas: scipy_..64_), or
    (0, 0)."""
    path = _numpy_openblas_path()
    if path is None:
        return (0, 0)
    try:
        lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD)
    except OSError:
        return (0, 0)
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            get = getattr(lib, "%sopenblas_get_num_threads%s" % (prefix, suffix), None)
            put = getattr(lib, "%sopenblas_set_num_threads%s" % (prefix, suffix), None)
            if get is not None and put is not None:
                return (ctypes.cast(get, ctypes.c_void_p).value, ctypes.cast(put, ctypes.c_void_p).value)
    return (0, 0)


_threads = None  # set_num_threads's value where there is no libgomp to hold it


def get_num_threads():
    """fastgrad.get_num_threads(): libgomp's setting for this thread, else set_num_threads's
    value or OMP_NUM_THREADS's (first) number or the CPU count."""
    if _gomp is not None:
        return _gomp.omp_get_max_threads()
    if _threads is not None:
        return _threads
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else (os.cpu_count() or 1)


def set_num_threads(n):
    """fastgrad.set_num_threads(n) for n >= 1: OpenMP (this thread's parallel regions), MKL, and
    NumPy's OpenBLAS (process-wide, as torch's intra-op setting is): every product fastgrad runs
    through np.matmul uses it, so a script that asks torch for one thread gets one thread."""
    global _threads
    _threads = int(n)
    if _gomp is not None:
        _gomp.omp_set_num_threads(_threads)
    if _lib is not None:
        _lib.MKL_Set_Num_Threads(_threads)
    setter = _openblas_setter()
    if setter is not None:
        setter(_threads)


_ob_setter = False  # NumPy's openblas_set_num_threads as a ctypes function once resolved (None: absent)


def _openblas_setter():
    global _ob_setter
    if _ob_setter is False:
        address = openblas_threads()[1]
        _ob_setter = ctypes.CFUNCTYPE(None, ctypes.c_int)(address) if address else None
    return _ob_setter


def after_fork_in_child():
    """os.fork()'s child runs fastgrad's OpenMP kernels and MKL on one thread: libgomp's thread
    pool does not survive fork, and a child entering a parallel region after its parent used
    one waits forever. (PyTorch's DataLoader workers run on one thread too.)"""
    if _gomp is not None:
        _gomp.omp_set_num_threads(1)
    if _lib is not None:
        _lib.MKL_Set_Num_Threads(1)


def _self_test(K):
    """K.mm against np.matmul on small products of every layout and both dtypes."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a, b = rng.standard_normal((2, 5, 3)).astype(dtype)
        for x, y in ((a.T.copy(), b), (a, b.T), (a.T, b), (a.T, b.T.copy().T)):  # NN NT TN TT
            if not np.allclose(K.mm(x, y), np.matmul(x, y), rtol=1e-5, atol=1e-6):
                raise OSError("MKL's gemm disagrees with np.matmul")


def setup(K):
    """Choose K.mm's BLAS from FASTGRAD_BLAS (compiled backend) and make forked children
    single-threaded (after_fork_in_child); returns the BLAS's name."""
    global ADDRESSES, THREAD_FUNCS, _gomp, _lib
    if _gomp is None:
        _gomp = _openmp(K)
        if _gomp is not None:
            os.register_at_fork(after_in_child=after_fork_in_child)
    want = os.environ.get("FASTGRAD_BLAS", "auto").strip().lower() or "auto"
    if want not in ("auto", "mkl", "numpy"):
        raise ImportError("FASTGRAD_BLAS must be 'auto', 'mkl' or 'numpy', got %r" % want)
    ADDRESSES = (0, 0)
    K._blas_use(*ADDRESSES)
    openblas = openblas_threads()
    THREAD_FUNCS = openblas + (0,)
    K._blas_threads(*THREAD_FUNCS)
    if want == "numpy" or (want == "auto" and _cpu_vendor() != "GenuineIntel"):
        return "numpy"
    try:
        sgemm, dgemm = _load_mkl(K)
        K._blas_use(sgemm, dgemm)
        _self_test(K)
    except OSError as exc:
        K._blas_use(*ADDRESSES)
        _lib = None
        if want == "mkl":
            raise ImportError("FASTGRAD_BLAS=mkl: %s" % exc) from None
        return "numpy"
    ADDRESSES = (sgemm, dgemm)
    THREAD_FUNCS = openblas + (ctypes.cast(_lib.MKL_Set_Num_Threads_Local, ctypes.c_void_p).value,)
    K._blas_threads(*THREAD_FUNCS)
    return "mkl"
