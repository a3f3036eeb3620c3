"""Generate the type stubs (.pyi) that ship in fastgrad's wheel, from the real objects.

    python tools/gen_stubs.py           # rewrite the stubs
    python tools/gen_stubs.py --check   # exit 1 when a stub differs from what would be generated

Most of fastgrad's API is bound at import time (Tensor's op methods with setattr, the compiled
modules fastgrad._C and fastgrad._engine), so a type checker reading the source sees neither
Tensor's methods nor the compiled functions. This script imports fastgrad, walks the modules in
STUBS and writes one .pyi per module: every public name, each function with its real parameter
names and defaults. Parameters are typed Any (fastgrad takes what PyTorch takes); return types
come from PyTorch's own annotations for the same name when torch is installed (Tensor,
tuple[Tensor, ...], bool, int, None, Self, ...), else Any. tests/test_typing.py checks that every
public name is in the stubs and runs mypy --strict on tests/typing/user_script.py.
Run it from the repository root with the compiled backend built (python setup.py build_ext --inplace).
"""
import argparse
import ast
import builtins
import importlib
import inspect
import os
import re
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (module, stub path, names): names None = the module's public names (no leading underscore);
# "all" = every name but dunders (private modules other stubbed or unstubbed modules import from).
STUBS = [
    ("fastgrad._engine", "fastgrad/_engine.pyi", "all"),
    ("fastgrad._C", "fastgrad/_C.pyi", "all"),
    ("fastgrad._tensor", "fastgrad/_tensor.pyi", ["Tensor", "Size", "device", "make", "CPU", "check_device"]),
    ("fastgrad", "fastgrad/__init__.pyi", None),
    ("fastgrad.nn", "fastgrad/nn/__init__.pyi", None),
    ("fastgrad.nn.functional", "fastgrad/nn/functional.pyi", None),
    ("fastgrad.optim", "fastgrad/optim/__init__.pyi", None),
    ("fastgrad.utils.data", "fastgrad/utils/data/__init__.pyi", None),
]
# the reference whose annotations give return types: fastgrad module -> torch module (+ its .pyi files)
TORCH_OF = {"fastgrad": "torch", "fastgrad.nn.functional": "torch.nn.functional"}
# dunders a class stub keeps (operators, protocols); others (__dict__, __reduce__, ...) are left out
DUNDERS = set(("__init__ __call__ __getitem__ __setitem__ __delitem__ __len__ __iter__ __next__ __contains__ "
               "__bool__ __float__ __int__ __index__ __complex__ __enter__ __exit__ __neg__ __pos__ __abs__ "
               "__invert__ __array__ __format__ __deepcopy__ __copy__ __reversed__").split())
for _op in "add sub mul matmul truediv floordiv mod pow and or xor lshift rshift".split():
    DUNDERS.update(("__%s__" % _op, "__r%s__" % _op, "__i%s__" % _op))
DUNDERS.update(("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"))
BUILTIN_NAMES = {"bool": "builtins.bool", "_bool": "builtins.bool", "int": "builtins.int", "_int": "builtins.int",
                 "float": "builtins.float", "_float": "builtins.float", "str": "builtins.str",
                 "complex": "builtins.complex", "_complex": "builtins.complex", "None": "None", "NoneType": "None",
                 "Number": "builtins.float", "list": "builtins.list[Any]"}
KNOWN_CLASSES = {"Tensor": "fastgrad._tensor", "Size": "fastgrad._tensor", "Parameter": "fastgrad.nn",
                 "Module": "fastgrad.nn"}
GENERICS = {"tuple": "builtins.tuple", "Tuple": "builtins.tuple", "list": "builtins.list", "List": "builtins.list",
            "Iterator": "Iterator", "Iterable": "Iterable", "Sequence": "builtins.tuple"}


# ---------------------------------------------------------------- return types from torch
def _torch_tables():
    """{torch module name or 'Tensor' or a torch class path: {attribute: {annotation text, ...}}}, from torch's
    .pyi files (compiled functions) and run-time annotations (Python functions)."""
    try:
        import torch
    except ImportError:
        return None
    tables = {}
    base = os.path.dirname(torch.__file__)

    def parse(path, into, cls=None):
        if not os.path.exists(path):
            return
        tree = ast.parse(open(path, encoding="utf-8").read())
        body = tree.body
        if cls is not None:
            body = next((n.body for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), [])
        for node in body:
            if isinstance(node, ast.FunctionDef):
                into.setdefault(node.name, set()).add(ast.unparse(node.returns) if node.returns else "?")
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                into.setdefault(node.target.id, set()).add("@" + ast.unparse(node.annotation))

    parse(os.path.join(base, "_C", "__init__.pyi"), tables.setdefault("Tensor", {}), "TensorBase")
    parse(os.path.join(base, "_C", "_VariableFunctions.pyi"), tables.setdefault("torch", {}))
    parse(os.path.join(base, "nn", "functional.pyi"), tables.setdefault("torch.nn.functional", {}))
    tables["torch_module"] = torch
    return tables


def _annotation_text(ann):
    if ann is inspect.Signature.empty:
        return "?"
    if ann is None or ann is type(None):
        return "None"
    if isinstance(ann, type):
        return ann.__name__
    text = ann if isinstance(ann, str) else str(ann)
    return re.sub(r"\b(?:typing|typing_extensions|collections\.abc|torch(?:\.[A-Za-z_]+)*)\.", "", text)


def _render(text, in_class, used):
    """A torch annotation as stub text, or None when it names something the stubs don't have."""
    prop = text.startswith("@")
    text = text.lstrip("@")
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None

    def go(n):
        if isinstance(n, ast.Constant) and n.value is None:
            return "None"
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            return _render(n.value, in_class, used)
        if isinstance(n, ast.Name):
            if n.id in ("Self", "T", "S") and in_class:
                used.add("Self")
                return "Self"
            if n.id in ("Self", "S"):
                used.add("Tensor")
                return "Tensor"
            if n.id in BUILTIN_NAMES:
                return BUILTIN_NAMES[n.id]
            if n.id in KNOWN_CLASSES:
                used.add(n.id)
                return n.id
            return None
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            a, b = go(n.left), go(n.right)
            return None if a is None or b is None else "%s | %s" % (a, b)
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
            args = n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]
            if n.value.id == "Optional":
                inner = go(args[0])
                return None if inner is None else inner + " | None"
            if n.value.id == "Union":
                parts = [go(a) for a in args]
                return None if None in parts else " | ".join(parts)
            if n.value.id in GENERICS:
                parts = ["..." if isinstance(a, ast.Constant) and a.value is Ellipsis else go(a) for a in args]
                if None in parts:
                    return None
                if n.value.id == "Sequence":
                    parts = parts + ["..."]
                if GENERICS[n.value.id] in ("Iterator", "Iterable"):
                    used.add(GENERICS[n.value.id])
                return "%s[%s]" % (GENERICS[n.value.id], ", ".join(parts))
        return None

    out = go(node)
    if out is not None and prop and "Self" in out:
        return None
    return out


def _returns(texts, in_class, used):
    """One return type for all of torch's overloads, or Any."""
    if not texts:
        return "Any"
    rendered = {_render(t, in_class, used) for t in texts}
    if len(rendered) != 1 or None in rendered:
        return "Any"
    return rendered.pop()


# ---------------------------------------------------------------- stub writer
class Writer:
    def __init__(self, tables):
        self.tables = tables
        self.home = {}  # id(class) -> (stub module, name): where a class's stub is defined

    def signature(self, fn, method, bound_self=True):
        """'(self, a: Any, b: Any = ...)' from the function's real parameters."""
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return "(self, *args: Any, **kwargs: Any)" if method else "(*args: Any, **kwargs: Any)"
        params, seen_star, seen_kwonly = [], False, False
        plist = list(sig.parameters.values())
        if method and bound_self:
            if plist and plist[0].kind in (plist[0].POSITIONAL_ONLY, plist[0].POSITIONAL_OR_KEYWORD):
                plist = plist[1:]
            params.append("self")
        last_posonly = max((i for i, p in enumerate(plist) if p.kind == p.POSITIONAL_ONLY), default=-1)
        for i, p in enumerate(plist):
            name = p.name if p.name.isidentifier() else "arg%d" % i
            if p.kind == p.VAR_POSITIONAL:
                params.append("*%s: Any" % name)
                seen_star = True
            elif p.kind == p.VAR_KEYWORD:
                params.append("**%s: Any" % name)
            else:
                if p.kind == p.KEYWORD_ONLY and not seen_star and not seen_kwonly:
                    params.append("*")
                    seen_kwonly = True
                params.append("%s: Any%s" % (name, "" if p.default is p.empty else " = ..."))
            if i == last_posonly:
                params.append("/")
        return "(%s)" % ", ".join(params)

    def function(self, name, fn, indent, ret, method, kind=None):
        lines = []
        if kind == "static":
            lines.append(indent + "@staticmethod")
        elif kind == "class":
            lines.append(indent + "@classmethod")
        sig = self.signature(fn, method and kind != "static", bound_self=kind is None or kind == "class")
        if kind == "class":
            sig = "(cls" + sig[5:]
        if name == "__init__":
            ret = "None"
        lines.append("%sdef %s%s -> %s: ..." % (indent, name, sig, ret))
        return lines

    def class_stub(self, mod, name, cls, used, torch_cls):
        # the nearest base with a stub (or a builtin); the classes between contribute their attributes
        mro = cls.__mro__
        base, between = "object", [cls]
        for b in mro[1:]:
            if id(b) in self.home:
                bmod, bname = self.home[id(b)]
                if bmod != mod:
                    used.add(("import", bmod, bname))
                base = bname
                break
            if b.__module__ == "builtins":
                base = {"tuple": "builtins.tuple[Any, ...]", "dict": "builtins.dict[Any, Any]",
                        "list": "builtins.list[Any]"}.get(b.__name__, "builtins." + b.__name__)
                break
            between.append(b)
        self.home[id(cls)] = (mod, name)
        lines = ["class %s(%s):" % (name, base)] if base != "builtins.object" else ["class %s:" % name]
        done = set()
        is_tensor = any(c.__name__ == "TensorBase" for c in mro)
        for c in between:
            for attr, val in sorted(c.__dict__.items()):
                if attr in done or (attr.startswith("_") and attr not in DUNDERS):
                    continue
                if type(val).__name__ == "ModuleSlot":  # the engine's per-class parameter slots, made on first use
                    continue
                done.add(attr)
                lines += self.member(attr, val, cls, used, torch_cls, is_tensor)
        if len(lines) == 1:
            lines.append("    ...")
        return lines

    def torch_returns(self, attr, torch_cls, is_tensor):
        texts = set()
        if self.tables is None:
            return texts
        if is_tensor:
            texts |= self.tables["Tensor"].get(attr, set())
        if torch_cls is not None:
            fn = torch_cls.__dict__.get(attr)
            fn = getattr(fn, "__func__", fn)
            if isinstance(fn, property):
                fn = fn.fget
            if inspect.isfunction(fn):
                text = _annotation_text(inspect.signature(fn).return_annotation)
                if text != "?":
                    texts = {text}
        return texts

    def member(self, attr, val, cls, used, torch_cls, is_tensor):
        ind = "    "
        texts = self.torch_returns(attr, torch_cls, is_tensor)
        ret = _returns({t for t in texts if t != "?" and not t.startswith("@")} or
                       {t[1:] for t in texts if t.startswith("@")}, True, used)
        if attr == "forward" and inspect.isfunction(val) and [p.kind for p in inspect.signature(val).parameters.values()][1:] == [
                inspect.Parameter.VAR_POSITIONAL]:
            # Module.forward: any signature overrides it (torch: forward: Callable[..., Any])
            return [ind + "def forward(self, *args: Any, **kwargs: Any) -> Any: ..."]
        if isinstance(val, staticmethod):
            return self.function(attr, val.__func__, ind, ret, True, "static")
        if isinstance(val, classmethod):
            return self.function(attr, val.__func__, ind, ret, True, "class")
        if isinstance(val, (property, types.GetSetDescriptorType, types.MemberDescriptorType)):
            settable = not isinstance(val, property) or val.fset is not None
            ret = ret if ret != "Self" else "Any"
            if settable:
                return ["%s%s: %s" % (ind, attr, ret)]
            return [ind + "@property", "%sdef %s(self) -> %s: ..." % (ind, attr, ret)]
        if inspect.isfunction(val) or type(val).__name__ in (
                "cython_function_or_method", "method_descriptor", "wrapper_descriptor", "builtin_function_or_method"):
            return self.function(attr, val, ind, ret, True)
        if isinstance(val, type):
            return ["%s%s: Any" % (ind, attr)]
        if isinstance(val, builtins.bool):
            return ["%s%s: builtins.bool" % (ind, attr)]
        return ["%s%s: Any" % (ind, attr)]

    def module_stub(self, modname, names):
        mod = importlib.import_module(modname)
        torch_name = TORCH_OF.get(modname)
        torch_mod = None
        if self.tables is not None:
            try:
                torch_mod = importlib.import_module(modname.replace("fastgrad", "torch", 1))
            except ImportError:
                torch_mod = None
        if names is None:
            names = sorted(n for n in dir(mod) if not n.startswith("_"))
        elif names == "all":
            names = sorted(n for n in vars(mod) if not (n.startswith("__") and n.endswith("__")))
        assert "Any" not in names and "builtins" not in names, modname
        used, body = set(), []
        objs = {n: getattr(mod, n) for n in names if hasattr(mod, n)}
        # classes first, bases before subclasses; then functions, values and submodules
        classes = sorted((n for n, o in objs.items() if isinstance(o, type)),
                         key=lambda n: (len(objs[n].__mro__), n))
        for n in classes:
            cls = objs[n]
            if id(cls) in self.home:
                hmod, hname = self.home[id(cls)]
                if hmod != modname or hname != n:
                    used.add(("import", hmod, hname, n))
                continue
            torch_cls = getattr(torch_mod, n, None) if torch_mod is not None else None
            body += self.class_stub(modname, n, cls, used, torch_cls if isinstance(torch_cls, type) else None)
            body.append("")
        for n in names:
            if n not in objs or n in classes:
                continue
            o = objs[n]
            if isinstance(o, types.ModuleType):
                if o.__name__.startswith("fastgrad.") and "." in o.__name__:
                    parent, last = o.__name__.rsplit(".", 1)
                    body.append("from %s import %s as %s" % (parent, last, n))
                continue
            if callable(o) and (inspect.isroutine(o) or type(o).__name__ == "cython_function_or_method"):
                texts = set()
                if self.tables is not None and torch_name is not None:
                    texts = {t for t in self.tables.get(torch_name, {}).get(n, set()) if t != "?"}
                    tfn = getattr(torch_mod, n, None)
                    if not texts and inspect.isfunction(tfn):
                        text = _annotation_text(inspect.signature(tfn).return_annotation)
                        texts = {text} if text != "?" else set()
                body += self.function(n, o, "", _returns(texts, False, used), False)
            elif id(type(o)) in self.home:
                tmod, tname = self.home[id(type(o))]
                if tmod != modname:
                    used.add(("import", tmod, tname, "_" + tname))
                    tname = "_" + tname
                body.append("%s: %s" % (n, tname))
            elif isinstance(o, builtins.bool):
                body.append("%s: builtins.bool" % n)
            elif isinstance(o, (builtins.int, builtins.float, builtins.str)):
                body.append("%s: builtins.%s" % (n, type(o).__name__))
            else:
                body.append("%s: Any" % n)
        head = ['"""Type stubs for %s, generated by tools/gen_stubs.py from the real objects: do not edit."""'
                % modname,
                # the stubs mirror the run-time classes, whose overrides (Tensor.__eq__ returning a Tensor,
                # Parameter.float, optimizers' step) are PyTorch's, not always compatible with their base's
                '# mypy: disable-error-code="override, misc"',
                "import builtins", "from typing import Any"]
        if {"Iterator", "Iterable"} & used:
            head.append("from typing import %s" % ", ".join(sorted({"Iterator", "Iterable"} & used)))
        if "Self" in used:
            head.append("from typing_extensions import Self")
        imports = set()
        for cname in ("Tensor", "Size", "Parameter", "Module"):
            if cname in used and KNOWN_CLASSES[cname] != modname and not any(
                    isinstance(i, tuple) and i[-1] == cname for i in used):
                imports.add("from %s import %s" % (KNOWN_CLASSES[cname], cname))
        for item in used:
            if isinstance(item, tuple):
                if len(item) == 3:
                    imports.add("from %s import %s" % item[1:])
                else:
                    imports.add("from %s import %s as %s" % item[1:])
        return "\n".join(head + sorted(imports) + [""] + body).rstrip() + "\n"


def generate():
    sys.path.insert(0, ROOT)
    os.environ.setdefault("FASTGRAD_BACKEND", "cython")
    import fastgrad
    assert fastgrad.get_backend() == "cython", "build the compiled backend first (python setup.py build_ext --inplace)"
    w = Writer(_torch_tables())
    return {path: w.module_stub(mod, names) for mod, path, names in STUBS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail when a checked-in stub is out of date")
    args = ap.parse_args()
    stale = []
    for path, text in generate().items():
        full = os.path.join(ROOT, path)
        old = open(full, encoding="utf-8").read() if os.path.exists(full) else None
        if old != text:
            stale.append(path)
            if not args.check:
                with open(full, "w", encoding="utf-8") as f:
                    f.write(text)
    if args.check and stale:
        sys.exit("stubs out of date (run python tools/gen_stubs.py): %s" % ", ".join(stale))
    print("%s: %s" % ("stale" if args.check else "written", ", ".join(stale) or "all up to date"))


if __name__ == "__main__":
    main()
