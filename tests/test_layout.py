"""The package's layout rules (issue: a layout that can take the next ten thousand lines)."""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "tools" / "import_cycles.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycle():
    tool = _tool()
    edges = tool.graph()
    assert len(edges) > 50 and sum(map(len, edges.values())) > 100  # the walk saw the package
    assert tool.cycles(edges) == []


def test_cycle_finder_finds_a_cycle_through_a_lazy_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg import a\n")  # a parent edge: not counted
    (pkg / "a.py").write_text("from pkg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n")
    tool = _tool()
    assert tool.cycles(tool.graph(tool.modules(pkg))) == [["pkg.a", "pkg.b"]]


def test_ops_never_import_the_tensor_module():
    edges = _tool().graph()
    offenders = [m for m, targets in edges.items() if m.startswith("fastgrad._ops") and "fastgrad._tensor" in targets]
    assert offenders == []


MAX_LINES = 800
SOURCE_SUFFIXES = (".py", ".pyx", ".pxi", ".pxd")


def _long_files(root, folders, limit=MAX_LINES):
    """{path: lines} of the source files (.py .pyx .pxi .pxd) under root/folder over limit lines;
    generated files (Cython's .c, anything in a build/ folder) are not sources."""
    out = {}
    for folder in folders:
        for p in sorted((root / folder).rglob("*")):
            rel = p.relative_to(root)
            if p.suffix not in SOURCE_SUFFIXES or not p.is_file() or {"build", "__pycache__"} & set(rel.parts):
                continue
            n = len(p.read_text(encoding="utf-8").splitlines())
            if n > limit:
                out[rel.as_posix()] = n
    return out


def test_source_files_at_most_800_lines():
    """Room for the next ten thousand lines: new code goes into new files by family."""
    folders = ("fastgrad", "csrc", "benchmarks")
    seen = sum(1 for f in folders for p in (ROOT / f).rglob("*") if p.suffix in SOURCE_SUFFIXES)
    assert seen > 100  # the walk saw the tree
    assert _long_files(ROOT, folders) == {}


def test_long_file_finder(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "build").mkdir()
    (tmp_path / "pkg" / "sub" / "big.pxi").write_text("x = 1\n" * 801)
    (tmp_path / "pkg" / "ok.py").write_text("x = 1\n" * 800)
    (tmp_path / "pkg" / "gen.c").write_text("int x;\n" * 5000)  # generated C: not a source
    (tmp_path / "pkg" / "build" / "joined.py").write_text("x = 1\n" * 5000)  # a build product
    assert _long_files(tmp_path, ("pkg",)) == {"pkg/sub/big.pxi": 801}
