"""Build the compiled backend: csrc/*.pyx (kernels) and the tape (fastgrad/_engine.py,
compiled in Cython's pure-Python mode with fastgrad/_engine.pxd).

FASTGRAD_DEBUG=1 builds with bounds checks and wraparound on, for debugging.
FASTGRAD_NO_OPENMP=1 builds without OpenMP (it is detected and used when it works).
"""
import os
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

DEBUG = os.environ.get("FASTGRAD_DEBUG", "0") not in ("", "0")
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "embedsignature": True,
}


def openmp_flags():
    """-fopenmp when the compiler accepts it (a tiny test program), else nothing."""
    if os.environ.get("FASTGRAD_NO_OPENMP", "0") not in ("", "0") or sys.platform == "win32":
        return []
    cc = sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            res = subprocess.run(cc.split() + ["-fopenmp", src, "-o", os.path.join(tmp, "t")],
                                 capture_output=True)
        except OSError:
            return []
    return ["-fopenmp"] if res.returncode == 0 else []


omp = openmp_flags()
opt = ["-O0", "-g"] if DEBUG else ["-O3"]
# Kernels only: value-preserving subsets of -ffast-math (nan/inf results unchanged).
# -fno-math-errno: sqrt/sqrtf become one instruction (no errno branch), so loops using
# them vectorise; -fno-trapping-math: GCC may evaluate both sides of a select (FP
# exception flags are not observed anywhere), which lets loops with options vectorise.
kernel_opt = opt + ([] if DEBUG else ["-fno-math-errno", "-fno-trapping-math"])
extensions = [
    Extension("fastgrad._C", ["csrc/_C.pyx"], include_dirs=[np.get_include(), "csrc"],
              extra_compile_args=kernel_opt + omp, extra_link_args=omp,
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
    Extension("fastgrad._engine", ["fastgrad/_engine.py"], include_dirs=[np.get_include()],
              extra_compile_args=opt,
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
]


class build_ext(_build_ext):
    """Installs (pip, python -m build) without a working C compiler still succeed: a failed extension is
    skipped with a warning, and fastgrad imports its pure-NumPy backend (warning once at import).
    In-place developer builds (build_ext --inplace) still fail loudly."""

    def build_extensions(self):
        if not self.inplace:
            for ext in self.extensions:
                ext.optional = True
        super().build_extensions()


setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES,
                            compile_time_env={"FASTGRAD_OPENMP": bool(omp)}),
      cmdclass={"build_ext": build_ext})
