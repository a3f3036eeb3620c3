"""The type stubs (fastgrad/*.pyi, written by tools/gen_stubs.py) name everything public, and a user's
training script passes `mypy --strict` against them (issue 21). tools/build_wheels.sh runs the mypy
check on the installed wheel too."""
import ast
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import fastgrad

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _gen_stubs():
    spec = importlib.util.spec_from_file_location("gen_stubs", ROOT / "tools" / "gen_stubs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stub_names(path, cls=None):
    """Names a stub defines at top level (or in class cls): defs, classes, annotated names, imports."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    body = tree.body
    if cls is not None:
        body = next(n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


STUBBED = [(m, p) for m, p, names in _gen_stubs().STUBS if names is None]


def test_every_stubbed_module_and_marker_exists():
    assert (ROOT / "fastgrad" / "py.typed").is_file()
    for _, path, _ in _gen_stubs().STUBS:
        assert (ROOT / path).is_file(), path


@pytest.mark.parametrize("module,path", STUBBED, ids=[m for m, _ in STUBBED])
def test_stub_has_every_public_name(module, path):
    """A public name missing from a stub is invisible to mypy and editors: rerun tools/gen_stubs.py."""
    mod = importlib.import_module(module)
    public = {n for n in dir(mod) if not n.startswith("_")}
    missing = sorted(public - _stub_names(path))
    assert missing == [], "%s: not in %s (run python tools/gen_stubs.py): %s" % (module, path, missing)


def test_tensor_stub_has_every_public_method():
    """Tensor's methods are bound at import time (setattr): the stub must list each one."""
    public = {n for n in dir(fastgrad.Tensor) if not n.startswith("_")}
    stubbed = _stub_names("fastgrad/_tensor.pyi", "Tensor") | _stub_names("fastgrad/_engine.pyi", "TensorBase")
    missing = sorted(public - stubbed)
    assert missing == [], "Tensor methods not in fastgrad/_tensor.pyi (run python tools/gen_stubs.py): %s" % missing
    assert {"backward", "grad", "requires_grad", "sum", "argmax", "view", "add_"} <= stubbed


def test_compiled_module_stubs_name_their_functions():
    if fastgrad.get_backend() != "cython":
        pytest.skip("the compiled backend is not in use")
    from fastgrad import _C, _engine

    for mod, path in ((_C, "fastgrad/_C.pyi"), (_engine, "fastgrad/_engine.pyi")):
        names = {n for n in vars(mod) if not (n.startswith("__") and n.endswith("__"))
                 and not isinstance(getattr(mod, n), type(os))}
        assert sorted(names - _stub_names(path)) == [], path


def _mypy(tmp_path, *files):
    if shutil.which("mypy") is None and importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install mypy)")
    # errors inside fastgrad's own source are not the user's, as for an installed package (and mypy then
    # skips checking its function bodies: 4 s of CPU instead of 60)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\n[mypy-fastgrad.*]\nignore_errors = True\n")
    cmd = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(config), "--no-error-summary",
           "--cache-dir", str(tmp_path / "cache"), *map(str, files)]
    env = dict(os.environ, MYPYPATH=str(ROOT))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)


def test_user_script_passes_mypy_strict_and_mypy_sees_wrong_use(tmp_path):
    """The typical training script type-checks; the stubs are not all Any: mypy rejects a wrong use."""
    bad = tmp_path / "bad.py"
    bad.write_text("import fastgrad\n"
                   "x = fastgrad.randn(3)\n"
                   "n: str = x.sum()\n"              # a Tensor is not a str
                   "x.no_such_method()\n"            # Tensor has no such attribute
                   "fastgrad.nn.functional.no_such_function(x)\n")
    res = _mypy(tmp_path, ROOT / "tests" / "typing" / "user_script.py", bad)
    out = res.stdout + res.stderr
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not [e for e in errors if "user_script.py" in e], out
    assert sorted(int(e.split(":")[1]) for e in errors if "bad.py" in e) == [3, 4, 5], out


def test_stubs_are_up_to_date(torch):
    """The checked-in stubs are what tools/gen_stubs.py writes now (return types come from torch's annotations)."""
    if fastgrad.get_backend() != "cython":
        pytest.skip("stubs are generated from the compiled backend")
    stale = [path for path, text in _gen_stubs().generate().items()
             if (ROOT / path).read_text(encoding="utf-8") != text]
    assert stale == [], "run python tools/gen_stubs.py: %s" % stale
