"""The import graph of the fastgrad package and its cycles (issue: no import circle).

Every `import a.b` / `from a import b`, at module level or inside a function (a lazy import
only hides a circle), is an edge to the module it names: `a.b` when that is a module, else `a`.
An edge to an enclosing package (`from fastgrad import no_grad` inside fastgrad.nn) is not
counted: a package's __init__ always runs before its submodules, and reaching the public
facade through it is the top layer's business, as in torch. Run:
python tools/import_cycles.py  (prints each cycle, exits 1 if any; tests/test_layout.py runs it)."""
import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "fastgrad"


def modules(root=ROOT):
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = p.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _imports(tree):
    return (node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)))


def graph(mods=None):
    mods = mods or modules()
    edges = {name: set() for name in mods}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [base + "." + a.name if base + "." + a.name in mods else base
                           for a in node.names]
            edges[name].update(t for t in targets if t in mods and not (name + ".").startswith(t + "."))
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


if __name__ == "__main__":
    found = cycles(graph())
    for comp in found:
        print(len(comp), " ".join(comp))
    sys.exit(1 if found else 0)
