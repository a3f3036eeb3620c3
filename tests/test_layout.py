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
