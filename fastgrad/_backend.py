"""The one switch between the compiled backend and the pure-NumPy backend.

``FASTGRAD_BACKEND=numpy`` selects pure NumPy; the default is the compiled one
("cython"), which falls back to NumPy with one warning when the extension is missing.
Everything else imports ``engine`` (the tape) and ``K`` (the kernels) from here and never
asks which backend it got.
"""
import importlib.util
import os
import pathlib
import warnings

_HERE = pathlib.Path(__file__).resolve().parent
_requested = os.environ.get("FASTGRAD_BACKEND", "cython").strip().lower() or "cython"
if _requested not in ("cython", "numpy"):
    raise ImportError("FASTGRAD_BACKEND must be 'cython' or 'numpy', got %r" % _requested)


def _load_pure(name, filename):
    """Import a module from its .py source even when a compiled twin sits beside it."""
    spec = importlib.util.spec_from_file_location("fastgrad." + name, _HERE / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BACKEND = _requested
if BACKEND == "cython":
    # libgomp's idle threads spin for ~ms after each parallel kernel; on 2 cores that starves
    # OpenBLAS's own threads in the matmul that follows (W1 at 2 threads: 0.4 -> 9.7 ms,
    # benchmarks/NOTES.md). Sleep at once instead, unless the user chose a policy. libgomp
    # reads this when it is loaded, i.e. when _C is imported just below.
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "0")
    try:
        from fastgrad import _C as K  # noqa: N812
        from fastgrad import _engine as engine

        if not str(engine.__file__).endswith((".so", ".pyd")):
            raise ImportError("fastgrad._engine is not compiled")
    except ImportError as exc:
        if importlib.util.find_spec("fastgrad._C") is None:  # else Python blames a "circular import"
            exc = "fastgrad._C was not built"
        warnings.warn(
            "fastgrad: the compiled extension is not available (%s); using the pure-NumPy "
            "backend. Reinstall with a C compiler for the compiled one." % exc,
            RuntimeWarning,
            stacklevel=3,
        )
        BACKEND = "numpy"

if BACKEND == "numpy":
    engine = _load_pure("_engine_py", "_engine.py")
    K = _load_pure("_kernels_py", "_kernels_np.py")
from fastgrad import _blas  # noqa: E402

if BACKEND == "cython":  # the engine sets NumPy's error state around every other kernel (fastgrad/_quiet.py)
    engine.set_quiet_kernels(K.QUIET_KERNELS)

BLAS = _blas.setup(K) if BACKEND == "cython" else "numpy"  # what K.mm's float products run on
engine.register("add", K.add)  # the tape sums a tensor's gradients with the backend's add


def get_backend():
    """'cython' (compiled tape and kernels) or 'numpy' (the same code run as pure Python)."""
    return BACKEND
