"""op_db (``torch.testing._internal.common_methods_invocations``): its entries, and one check per
entry and call variant.

An entry's key is the OpInfo's name, with ``.variant_test_name`` when it has one; its call
variants are the function (key as is), the Tensor method (``key:method``) and the in-place
method (``key:inplace``) where the OpInfo has them. The in-place variant runs on a clone of the
input, as torch's own tests do.
"""
import inspect

import numpy as np

import torch
from torch.testing._internal.common_methods_invocations import op_db

import dbcheck
import fastgrad
from dbcheck import (AGREE, DIFFER, DTYPES, FALLBACK_DTYPES, HERE, MISSING, OUT_OF_SCOPE, RAISE, Mismatch, Missing,
                     compare, flatten, grad_total, is_missing_attribute, limited, quiet, rebind, resolve_method,
                     resolve_name, to_fastgrad, tolerance)

STATUS_FILE = HERE / "op_db_status.txt"
HEADER = ("op_db (torch.testing._internal.common_methods_invocations) against fastgrad: one line per OpInfo\n"
          "entry and call variant (key, key:method, key:inplace). Regenerate with\n"
          "python benchmarks/conformance.py --update (see tests/conformance/test_op_db.py).")
# deliberate exclusions beyond the name rules in scope_reason: key -> reason
OUT_OF_SCOPE_ENTRIES = {"chalf": "complex32: NumPy has no complex dtype of two float16 parts"}
# ops whose output is uninitialized memory: compared by shape and dtype, as random ops are
UNINITIALIZED = {"empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided", "empty_permuted"}
KINDS = ("", ":method", ":inplace")


def base_key(opinfo):
    return opinfo.name + ("." + opinfo.variant_test_name if opinfo.variant_test_name else "")


def entries():
    """[(key, opinfo, kind)] for every op_db entry and call variant, in op_db's order."""
    result = []
    for opinfo in op_db:
        key = base_key(opinfo)
        result.append((key, opinfo, ""))
        if opinfo.method_variant is not None:
            result.append((key + ":method", opinfo, ":method"))
        if opinfo.inplace_variant is not None:
            result.append((key + ":inplace", opinfo, ":inplace"))
    return result


def scope_reason(key, opinfo):
    """Why an entry is out of scope, or None."""
    name = opinfo.name
    if key.split(":")[0] in OUT_OF_SCOPE_ENTRIES:
        return OUT_OF_SCOPE_ENTRIES[key.split(":")[0]]
    if name.startswith("jiterator_"):
        return "CUDA jiterator"
    if name.startswith("_"):
        return "private name"
    if name.startswith(("ops.", "torch.ops.")) or _calls_aten(opinfo.op):
        return "aten operator overload"
    if name.startswith("sparse."):
        return "sparse layout"
    if not opinfo.supported_dtypes("cpu"):
        return "CUDA only"
    if not test_dtypes(opinfo):
        return "no CPU dtype but half precision"
    return None


def _calls_aten(op):
    """An entry whose op is a dispatcher overload (``slice`` is ``torch.ops.aten.slice.Tensor``:
    torch has no public ``torch.slice``) or a wrapper calling one."""
    return isinstance(op, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)) or "aten" in _code_names(op)


def test_dtypes(opinfo):
    """float32 and float64 where the op takes them, else the first fallback dtype it takes."""
    supported = opinfo.supported_dtypes("cpu")
    chosen = [d for d in DTYPES if d in supported]
    return chosen or [d for d in FALLBACK_DTYPES if d in supported][:1]


def _code_names(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return set()
    names, stack = set(), [code]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if inspect.iscode(c))
    return names


def is_random(opinfo):
    """Ops whose outputs are random (torch's wrappers seed them) or uninitialized."""
    return opinfo.name in UNINITIALIZED or "wrapper_set_seed" in _code_names(opinfo.op)


def callables(opinfo, kind):
    """(torch's callable, fastgrad's or None) for a call variant."""
    if kind == ":method":
        return opinfo.method_variant, resolve_method(opinfo.method_variant)
    if kind == ":inplace":
        return opinfo.inplace_variant, resolve_method(opinfo.inplace_variant)
    op = opinfo.op
    if getattr(op, "__objclass__", None) is torch._C.TensorBase:  # Tensor.cfloat: fastgrad.cfloat is the dtype
        return op, resolve_method(op)
    if inspect.isfunction(op) and (op.__module__ or "").startswith("torch.testing._internal"):
        return op, rebind(op)
    return op, resolve_name(opinfo.name)


def _clone(value):
    return value.clone() if isinstance(value, (torch.Tensor, fastgrad.Tensor)) else value


def check_sample(opinfo, kind, torch_fn, fastgrad_fn, sample, dtype, random):
    """Raise Mismatch (or fastgrad's exception) unless fastgrad agrees with torch on one sample."""
    tol = tolerance(opinfo, dtype)
    memo, leaves = {}, []
    dbcheck.STORAGE_OPS = opinfo.name.startswith("as_strided")
    try:
        f_input = to_fastgrad(sample.input, memo, leaves)
        f_args = to_fastgrad(tuple(sample.args), memo, leaves)
        f_kwargs = to_fastgrad(dict(sample.kwargs), memo, leaves)
    finally:
        dbcheck.STORAGE_OPS = False
    t_input = sample.input
    if kind == ":inplace":
        t_input, f_input = _clone(t_input), _clone(f_input)
    try:
        with quiet():
            expected = torch_fn(t_input, *sample.args, **sample.kwargs)
    except Exception as error:  # noqa: BLE001 - torch rejects the sample: fastgrad must too
        try:
            with quiet():
                fastgrad_fn(f_input, *f_args, **f_kwargs)
        except Exception:  # noqa: BLE001
            return
        raise Mismatch("torch raises %s (%s), fastgrad does not" % (type(error).__name__, str(error)[:120]))
    with quiet():
        actual = fastgrad_fn(f_input, *f_args, **f_kwargs)
    process = sample.output_process_fn_grad
    f_process = rebind(process)
    try:
        compare(expected, actual, tol, "output", values=not random)
    except Mismatch:
        # outputs defined up to a choice (signs of singular vectors, ...): compare what the
        # sample's output_process_fn_grad keeps
        try:
            compare(process(expected), f_process(actual), tol, "processed output", values=not random)
        except Mismatch:
            if not agrees_with_reference(opinfo, sample, actual, tol):
                raise
    if not leaves:
        return
    t_all, f_all = flatten(process(expected)), flatten(f_process(actual))
    picked = [i for i, t in enumerate(t_all) if isinstance(t, torch.Tensor) and t.requires_grad]
    if not picked:
        return
    try:
        t_grads = torch.autograd.grad(grad_total([t_all[i] for i in picked], torch), [t for t, _ in leaves],
                                      allow_unused=True)
    except RuntimeError:  # torch has no derivative (floor_divide's is "not implemented"): nothing to compare
        return
    for i in picked:
        if not (isinstance(f_all[i], fastgrad.Tensor) and f_all[i].requires_grad):
            raise Mismatch("output %d does not require grad, torch's does" % i)
    f_outs = [f_all[i] for i in picked]
    grad_tol = tolerance(opinfo, dtype, grad=True)
    with quiet():
        f_grads = fastgrad.autograd.grad(grad_total(f_outs, fastgrad), [f for _, f in leaves], allow_unused=True)
    try:
        _compare_grads(opinfo, leaves, t_grads, f_grads, grad_tol, random)
    except Mismatch:
        if not torch_gradient_known_wrong(opinfo):
            raise


def agrees_with_reference(opinfo, sample, actual, tol):
    """A unary op whose OpInfo names a NumPy/SciPy ufunc as its reference (special.bessel_j0:
    scipy.special.j0), where torch's value strays from that reference (torch's float64 j0 near
    5.4 by 2e-7) and fastgrad's matches it within the tolerance."""
    ref = getattr(opinfo, "ref", None)
    if not isinstance(ref, np.ufunc) or sample.args or sample.kwargs or not isinstance(actual, fastgrad.Tensor):
        return False
    with quiet():
        expected = ref(sample.input.detach().numpy())
    try:
        dbcheck._compare_arrays(np.asarray(expected), dbcheck.to_numpy(actual), tol, "output against the reference")
    except Mismatch:
        return False
    return True


def torch_gradient_known_wrong(opinfo):
    """torch's OpInfo expects its own gradient to fail gradcheck (TestBwdGradients.test_fn_grad is
    an expectedFailure on the CPU: as_strided_scatter's, istft's): a gradient differing from it is
    not counted against fastgrad (outputs still are)."""
    for info in list(opinfo.skips) + list(opinfo.decorators):
        if (getattr(info, "cls_name", None) == "TestBwdGradients" and getattr(info, "test_name", None) == "test_fn_grad"
                and getattr(info, "device_type", None) in (None, "cpu")
                and any(getattr(d, "__name__", "") == "expectedFailure" for d in info.decorators)):
            return True
    return False


def _compare_grads(opinfo, leaves, t_grads, f_grads, grad_tol, random):
    for i, ((leaf, _), tg, fg) in enumerate(zip(leaves, t_grads, f_grads)):
        if tg is None and fg is None:
            continue
        if fg is None:
            if tg.any():
                raise Mismatch("grad of input %d is None, torch's is not zero" % i)
            continue
        # a float32 leaf's gradient in a float64 sample (cov's aweights) is float32: its tolerance
        leaf_tol = tuple(max(a, b) for a, b in zip(grad_tol, tolerance(opinfo, leaf.dtype, grad=True)))
        compare(torch.zeros_like(leaf) if tg is None else tg, fg, leaf_tol, "grad of input %d" % i,
                values=not random)


def check(key, opinfo, kind, limit=None, first_dtype_only=False):
    """(status, detail) of one entry's call variant; ``limit`` bounds the samples per dtype,
    ``first_dtype_only`` runs float32 alone (or the fallback dtype)."""
    reason = scope_reason(key, opinfo)
    if reason is not None:
        return "%s(%s)" % (OUT_OF_SCOPE, reason), ""
    try:
        torch_fn, fastgrad_fn = callables(opinfo, kind)
    except Exception as error:  # noqa: BLE001 - an OpInfo this adapter cannot map is a bug here
        return RAISE, "adapter: %s: %s" % (type(error).__name__, error)
    if fastgrad_fn is None:
        return MISSING, "no fastgrad callable"
    random = is_random(opinfo)
    count = 0
    for dtype in test_dtypes(opinfo)[:1 if first_dtype_only else None]:
        requires_grad = bool(opinfo.supports_autograd and (dtype.is_floating_point or dtype.is_complex)
                             and (kind != ":inplace" or opinfo.supports_inplace_autograd))
        torch.manual_seed(0)
        samples = opinfo.sample_inputs("cpu", dtype, requires_grad=requires_grad)
        for i, sample in enumerate(limited(samples, limit)):
            count += 1
            where = "%s sample %d (%s)" % (str(dtype).replace("torch.", ""), i, describe(sample))
            try:
                check_sample(opinfo, kind, torch_fn, fastgrad_fn, sample, dtype, random)
            except Missing as error:
                return MISSING, "%s: %s" % (where, error)
            except Mismatch as error:
                return DIFFER, "%s: %s" % (where, error)
            except Exception as error:  # noqa: BLE001 - fastgrad raises where torch does not
                if is_missing_attribute(error):
                    return MISSING, "%s: %s" % (where, error)
                return RAISE, "%s: %s: %s" % (where, type(error).__name__, str(error)[:200])
    return AGREE, "%d samples" % count


def describe(sample):
    def short(x):
        if isinstance(x, torch.Tensor):
            return "T%s%s" % (list(x.shape), str(x.dtype).replace("torch.", ""))
        if isinstance(x, (list, tuple)):
            return "[" + ",".join(short(v) for v in x) + "]"
        return repr(x)[:30]
    kwargs = ",".join("%s=%s" % (k, short(v)) for k, v in sample.kwargs.items())
    return ", ".join(filter(None, [short(sample.input), ",".join(short(a) for a in sample.args), kwargs]))
