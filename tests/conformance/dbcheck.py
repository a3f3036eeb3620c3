"""The adapter between PyTorch's test databases and fastgrad, shared by test_op_db.py,
test_module_db.py and ``benchmarks/conformance.py``.

It converts torch's sample inputs to fastgrad (tensors keep their dtype, values and
requires_grad; lists, tuples and dicts are walked; dtypes, layouts and memory formats map to
fastgrad's by name), calls both libraries, and compares outputs and the gradients of the sum of
the outputs. A check gives one of the statuses below; the status files (``*_status.txt`` next to
this file, one ``key status`` line per entry, sorted) are the ratchet the tests hold fastgrad to.

Imports torch and expecttest; the tests import it only after ``pytest.importorskip``.
"""
import contextlib
import functools
import inspect
import itertools
import pathlib
import sys
import types
import warnings

import numpy as np
import torch

import fastgrad

HERE = pathlib.Path(__file__).resolve().parent
AGREE, DIFFER, RAISE, MISSING, OUT_OF_SCOPE = "agree", "differ", "raise", "missing", "out_of_scope"
STATUSES = (AGREE, DIFFER, RAISE, MISSING, OUT_OF_SCOPE)
DTYPES = (torch.float32, torch.float64)
# an op that takes neither float32 nor float64 is run in the first of these it takes
FALLBACK_DTYPES = (torch.int64, torch.bool, torch.complex64, torch.int32, torch.uint8)
# torch.testing.assert_close's tolerances are for one library against itself; two libraries'
# float32 kernels (and BLAS builds) differ by a few ulp more, summed over reductions
BASE_TOLERANCE = {torch.float32: (1e-5, 1e-4), torch.float64: (1e-7, 1e-7),
                  torch.complex64: (1e-5, 1e-4), torch.complex128: (1e-7, 1e-7)}  # (atol, rtol)
# float32 gradients go through longer chains (an SVD's gradient divides by gaps between singular
# values): compared 10x looser than outputs; float64 ones as tightly as outputs
GRAD_LOOSENING = {torch.float32: 10.0, torch.complex64: 10.0}
TESTING_PACKAGE = "torch.testing._internal"
# samples per dtype an entry is held to (the status files and --conformance=full): op_db's
# generators give up to ~1,000 per entry (max_pool*: every combination of its arguments), which
# would take the census past an hour; the first 40 cover the shapes, 0-d and empty cases
FULL_LIMIT = 40


class Mismatch(Exception):
    """fastgrad's result disagrees with torch's (the message says how)."""


class Missing(Exception):
    """fastgrad lacks the callable (or an attribute the OpInfo's wrapper uses)."""


# ---------------------------------------------------------------------------------------------
# status files

def read_status(path):
    """{key: status} from a status file (lines ``key status``; ``#`` starts a comment line)."""
    result = {}
    for line in pathlib.Path(path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, status = line.split(" ", 1)
            result[key] = status
    return result


def write_status(path, statuses, header):
    lines = ["# " + h for h in header.splitlines()]
    lines += ["%s %s" % (key, statuses[key]) for key in sorted(statuses)]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")


def status_kind(status):
    """'out_of_scope(reason)' -> 'out_of_scope'."""
    return status.split("(", 1)[0]


# ---------------------------------------------------------------------------------------------
# conversion

def fastgrad_dtype(dtype):
    return getattr(fastgrad, str(dtype).replace("torch.", ""))


def to_fastgrad(value, memo, leaves):
    """torch values -> fastgrad's. ``memo`` keeps identity (a tensor given twice stays one
    tensor); ``leaves`` collects (torch tensor, fastgrad tensor) for each tensor that requires grad."""
    if isinstance(value, torch.Tensor):
        if id(value) in memo:
            return memo[id(value)]
        if value.layout != torch.strided:
            raise Missing("a %s tensor" % value.layout)
        if value.dtype in (torch.bfloat16, torch.float16):
            t = fastgrad.tensor(value.detach().float().numpy().copy()).to(fastgrad_dtype(value.dtype))
        elif STORAGE_OPS and _partial_view(value):
            t = _with_storage(value)
        else:
            t = fastgrad.tensor(value.detach().resolve_conj().resolve_neg().numpy().copy())
            if str(t.dtype) != str(value.dtype).replace("torch", "fastgrad"):
                t = t.to(fastgrad_dtype(value.dtype))
        if value.requires_grad:
            t.requires_grad_(True)
            leaves.append((value, t))
        memo[id(value)] = t
        return t
    if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
        name = str(value).replace("torch.", "")
        if not hasattr(fastgrad, name):
            raise Missing("fastgrad.%s" % name)
        return getattr(fastgrad, name)
    if isinstance(value, torch.device):
        return fastgrad.device(str(value))
    if isinstance(value, torch.Size):
        return fastgrad.Size(value)
    if isinstance(value, torch.nn.Module):
        return _module_to_fastgrad(value, memo)
    if isinstance(value, torch.Generator):
        raise Missing("a torch.Generator argument")
    if callable(value) and getattr(value, "__module__", None) in ("torch.nn.functional", "torch._C._nn"):
        # a functional passed as an argument (TransformerEncoderLayer(activation=F.gelu))
        fn = getattr(fastgrad.nn.functional, value.__name__, None)
        if fn is None:
            raise Missing("fastgrad.nn.functional.%s" % value.__name__)
        return fn
    if isinstance(value, list):
        return [to_fastgrad(v, memo, leaves) for v in value]
    if isinstance(value, tuple):
        return tuple(to_fastgrad(v, memo, leaves) for v in value)
    if isinstance(value, dict):
        return {k: to_fastgrad(v, memo, leaves) for k, v in value.items()}
    return value


# set while an op whose meaning is its input's storage (as_strided: offsets count from the
# storage's start) is checked: a view converts with the whole storage it lies in
STORAGE_OPS = False


def _partial_view(value):
    n = value.untyped_storage().nbytes() // value.element_size()
    return not (value.is_conj() or value.is_neg()) and (value.storage_offset() != 0 or n != value.numel())


def _with_storage(value):
    """A fastgrad view of the same geometry into a copy of value's whole storage."""
    n = value.untyped_storage().nbytes() // value.element_size()
    whole = torch.as_strided(value.detach(), (n,), (1,), 0).numpy().copy()
    return fastgrad.tensor(whole).as_strided(tuple(value.shape), value.stride(), value.storage_offset()).detach()


def _module_to_fastgrad(module, memo):
    """A torch module given as an argument (TransformerEncoder(encoder_layer), a loss's
    distance_function=PairwiseDistance()) -> fastgrad's same-named module with the same attributes,
    parameters, buffers and submodules (fastgrad's Module keeps torch's _parameters/_buffers/_modules)."""
    # the nearest class fastgrad has (MultiheadAttention's NonDynamicallyQuantizableLinear: Linear)
    cls = next((getattr(fastgrad.nn, c.__name__) for c in type(module).__mro__[:-1]
                if hasattr(fastgrad.nn, c.__name__)), None)
    if cls in (None, fastgrad.nn.Module):
        raise Missing("fastgrad.nn.%s" % type(module).__name__)
    new = cls.__new__(cls)
    fastgrad.nn.Module.__init__(new)
    own = set(new.__dict__)
    for name, value in module.__dict__.items():
        if name == "_parameters":
            new._parameters.update({k: None if p is None else fastgrad.nn.Parameter(
                to_fastgrad(p.detach(), {}, []), requires_grad=p.requires_grad) for k, p in value.items()})
        elif name == "_buffers":
            new._buffers.update({k: to_fastgrad(b, memo, []) for k, b in value.items()})
        elif name == "_modules":
            new._modules.update({k: None if m is None else _module_to_fastgrad(m, memo) for k, m in value.items()})
        elif name not in own or name == "training":
            new.__dict__[name] = to_fastgrad(value, memo, [])
    return new


def _wrapper_set_seed(op, *args, **kwargs):
    return op(*args, **kwargs)


def rebind(fn, _seen=None):
    """A copy of a wrapper written in torch's testing package (an OpInfo's ``lambda x:
    torch.where(...)``) that calls fastgrad where it called torch."""
    if not (inspect.isfunction(fn) and (fn.__module__ or "").startswith(TESTING_PACKAGE)):
        return fn
    glob = dict(fn.__globals__)
    glob.update(torch=fastgrad, wrapper_set_seed=_wrapper_set_seed)
    closure = None
    if fn.__closure__:
        closure = tuple(types.CellType(rebind(c.cell_contents)) if _filled(c) else c for c in fn.__closure__)
    new = types.FunctionType(fn.__code__, glob, fn.__name__, fn.__defaults__, closure)
    new.__kwdefaults__ = fn.__kwdefaults__
    return new


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def resolve_name(name):
    """fastgrad's callable for a torch name (``linalg.norm``, ``nn.functional.relu``, ``__radd__``),
    or None."""
    obj = fastgrad
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if obj is None and "." not in name:
        obj = getattr(fastgrad.Tensor, name, None)
    return obj


def resolve_method(torch_method):
    """fastgrad's counterpart of a Tensor method variant (``torch.Tensor.abs_``, a partial of one),
    a wrapper written in torch's testing package, or None."""
    if isinstance(torch_method, functools.partial):
        method = resolve_method(torch_method.func)
        return None if method is None else functools.partial(method, *torch_method.args, **torch_method.keywords)
    module = getattr(torch_method, "__module__", None) or ""
    if inspect.isfunction(torch_method) and module.startswith(TESTING_PACKAGE):
        return rebind(torch_method)
    if module == "torch.nn.functional":  # F.hardsigmoid(inplace=True) as an in-place variant
        return getattr(fastgrad.nn.functional, torch_method.__name__, None)
    return getattr(fastgrad.Tensor, getattr(torch_method, "__name__", ""), None)


def is_missing_attribute(error):
    """An AttributeError raised where an OpInfo's wrapper (or this adapter) looked up a fastgrad
    attribute that does not exist, rather than inside fastgrad."""
    if not isinstance(error, AttributeError):
        return False
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    return "torch/testing/_internal" in filename or filename == __file__


# ---------------------------------------------------------------------------------------------
# comparison

def to_numpy(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().resolve_conj().resolve_neg()
        if value._is_zerotensor():  # torch's zero gradient (sgn of a real tensor)
            value = torch.zeros(value.shape, dtype=value.dtype)
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()
        return value.numpy()
    if isinstance(value, fastgrad.Tensor):
        value = value.detach()
        if str(value.dtype) in ("fastgrad.bfloat16", "fastgrad.float16"):
            value = value.float()
        return np.asarray(value.numpy())
    return np.asarray(value)


def tolerance(opinfo_or_none, dtype, grad=False):
    """(atol, rtol): the base, loosened by the OpInfo's CPU tolerance and precision overrides
    (the loosest of them: they are per test in torch, a bound for two implementations here),
    and for gradients by GRAD_LOOSENING."""
    atol, rtol = BASE_TOLERANCE.get(dtype, (0.0, 0.0))
    if grad:
        atol, rtol = atol * GRAD_LOOSENING.get(dtype, 1.0), rtol * GRAD_LOOSENING.get(dtype, 1.0)
    from torch.testing._internal.common_device_type import precisionOverride, toleranceOverride
    for info in getattr(opinfo_or_none, "decorators", ()) or ():
        if getattr(info, "device_type", None) not in (None, "cpu"):
            continue
        for dec in getattr(info, "decorators", ()):
            if isinstance(dec, toleranceOverride) and dtype in dec.d:
                atol, rtol = max(atol, dec.d[dtype].atol), max(rtol, dec.d[dtype].rtol)
            elif isinstance(dec, precisionOverride) and dtype in dec.d:
                atol = max(atol, dec.d[dtype])
    return atol, rtol


def compare(expected, actual, tol, what, values=True):
    """Raise Mismatch unless fastgrad's ``actual`` matches torch's ``expected`` (same structure;
    tensors: same shape and dtype, values within ``tol``; with values=False shape and dtype only)."""
    if isinstance(expected, torch.Tensor) and expected.layout != torch.strided:
        # a sparse result (to_sparse): the same layout, then the dense values
        if str(getattr(actual, "layout", None)) != str(expected.layout).replace("torch", "fastgrad"):
            raise Mismatch("%s: layout %s, torch %s" % (what, getattr(actual, "layout", None), expected.layout))
        compare(expected.to_dense(), actual.to_dense(), tol, what + " (dense)", values)
    elif isinstance(expected, torch.Tensor):
        if not isinstance(actual, fastgrad.Tensor):
            raise Mismatch("%s: %s where torch gives a tensor" % (what, type(actual).__name__))
        if tuple(actual.shape) != tuple(expected.shape):
            raise Mismatch("%s: shape %s, torch %s" % (what, tuple(actual.shape), tuple(expected.shape)))
        if str(actual.dtype).replace("fastgrad.", "") != str(expected.dtype).replace("torch.", ""):
            raise Mismatch("%s: dtype %s, torch %s" % (what, actual.dtype, expected.dtype))
        if values:
            _compare_arrays(to_numpy(expected), to_numpy(actual), tol, what)
    elif isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            raise Mismatch("%s: %r where torch gives %d values" % (what, type(actual).__name__, len(expected)))
        for i, (e, a) in enumerate(zip(expected, actual)):
            compare(e, a, tol, "%s[%d]" % (what, i), values)
    elif isinstance(expected, (bool, int, float, complex)) and not isinstance(expected, torch.Tensor):
        if isinstance(actual, fastgrad.Tensor) or not isinstance(actual, (bool, int, float, complex, np.generic)):
            raise Mismatch("%s: %s where torch gives %s" % (what, type(actual).__name__, type(expected).__name__))
        if values:
            _compare_arrays(np.asarray(expected), np.asarray(actual), tol, what)
    elif expected is None:
        if actual is not None:
            raise Mismatch("%s: %s where torch gives None" % (what, type(actual).__name__))
    elif isinstance(expected, torch.dtype):
        if str(actual) != str(expected).replace("torch", "fastgrad"):
            raise Mismatch("%s: %s, torch %s" % (what, actual, expected))
    elif values and expected != actual:
        raise Mismatch("%s: %r, torch %r" % (what, actual, expected))


def _compare_arrays(expected, actual, tol, what):
    atol, rtol = tol
    if expected.dtype.kind in "fc" or actual.dtype.kind in "fc":
        e, a = expected.astype(np.complex128), actual.astype(np.complex128)
        ok = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        # same infinities (isclose takes inf == inf; complex infs compare by parts)
        if not ok.all():
            bad = ~ok
            diff = np.abs(a[bad] - e[bad])
            raise Mismatch("%s: %d of %d values differ (max abs diff %.3g, torch %r, fastgrad %r)" % (
                what, bad.sum(), e.size, np.nanmax(diff) if diff.size else 0, e[bad][:1], a[bad][:1]))
    elif not np.array_equal(expected, actual):
        raise Mismatch("%s: values differ" % what)


def flatten(value):
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in flatten(item)]
    return [value]


def grad_total(outputs, lib):
    """The sum of every output that requires grad (complex ones through abs), as one scalar."""
    total = None
    for out in outputs:
        part = out.abs().sum() if out.is_complex() else out.sum()
        total = part if total is None else total + part
    return total


@contextlib.contextmanager
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def print_progress(message):
    print(message, file=sys.stderr, flush=True)


def limited(iterable, limit):
    return iterable if limit is None else itertools.islice(iterable, limit)


def ratchet_holds(recorded, status):
    """Whether a fresh ``status`` keeps the status file's ``recorded`` one: the same status (an
    out-of-scope entry with the same reason), except that differ and raise may trade places (what
    a disagreeing op does wrong first may depend on the backend)."""
    if recorded == status:
        return True
    return {status_kind(recorded), status_kind(status)} <= {DIFFER, RAISE}


def ratchet_message(database, key, recorded, status, detail):
    return ("%s entry %s: the status file says %s, fastgrad now gives %s (%s). If that is progress, record it: "
            "python benchmarks/conformance.py --update %s" % (database, key, recorded, status, detail, key))
