"""The backend switch: one place, both engines/kernels expose the same interface."""
import importlib.util
import inspect
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import fastgrad
from fastgrad import _backend

PKG = pathlib.Path(fastgrad.__file__).parent


def test_get_backend_matches_env():
    want = os.environ.get("FASTGRAD_BACKEND", "cython")
    if want == "cython" and fastgrad.get_backend() == "numpy":
        pytest.skip("compiled extension not built")
    assert fastgrad.get_backend() == want


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _public(mod):
    return {n for n in dir(mod) if not n.startswith("__")}


def test_compiled_engine_is_the_same_source():
    """The compiled tape is built from _engine.py: same names as the pure-Python run of it."""
    compiled = list(PKG.glob("_engine.*.so")) + list(PKG.glob("_engine.*.pyd"))
    if not compiled:
        pytest.skip("compiled engine not built")
    pure = _load(PKG / "_engine.py", "fastgrad._engine_check")
    import fastgrad._engine as cy

    missing = {n for n in _public(pure) if not n.startswith("_") or n in ("_state",)} - _public(cy)
    assert not missing, missing


def test_kernel_interfaces_match():
    compiled = list(PKG.glob("_C.*.so")) + list(PKG.glob("_C.*.pyd"))
    if not compiled:
        pytest.skip("compiled kernels not built")
    import fastgrad._C as cy

    pure = _load(PKG / "_kernels_np.py", "fastgrad._kernels_check")
    names = set(pure.__all__)  # each fastgrad/_np/<family>.py lists its kernels
    assert len(names) > 20 and names == set(cy.__all__), names ^ set(cy.__all__)
    for n in sorted(names):
        if isinstance(getattr(pure, n), np.ufunc):  # + - * / are NumPy's ufuncs in the twin
            continue
        assert hasattr(cy, n), n
        assert str(inspect.signature(getattr(cy, n))) == str(inspect.signature(getattr(pure, n))), n


def test_bad_backend_name_is_a_clear_error():
    env = dict(os.environ, FASTGRAD_BACKEND="cuda")
    res = subprocess.run([sys.executable, "-c", "import fastgrad"], env=env, capture_output=True, text=True)
    assert res.returncode != 0 and "FASTGRAD_BACKEND must be" in res.stderr


def test_numpy_backend_selected_by_env():
    env = dict(os.environ, FASTGRAD_BACKEND="numpy")
    res = subprocess.run([sys.executable, "-W", "error", "-c",
                          "import fastgrad; print(fastgrad.get_backend(), fastgrad._backend.engine.__file__)"],
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    backend, path = res.stdout.split()
    assert backend == "numpy" and path.endswith("_engine.py")


def test_backend_chosen_in_one_module():
    """Only _backend.py reads FASTGRAD_BACKEND or imports the compiled modules by name."""
    offenders = []
    for p in PKG.rglob("*.py"):
        if p.name == "_backend.py":
            continue
        text = p.read_text()
        if re.search(r"environ.*FASTGRAD_BACKEND|^\s*(from fastgrad import _C|import fastgrad\._C|from fastgrad\._C)",
                     text, re.M):
            offenders.append(p.name)
    assert not offenders, offenders
    assert _backend.BACKEND in ("cython", "numpy")
