"""Fuzz the kernel entry points: every fastgrad._C kernel and its NumPy twin (fastgrad._kernels_np)
get the same random bad (and good) arguments: wrong dtypes, mismatched shapes, wrong ranks,
non-contiguous / Fortran / misaligned / read-only / byte-swapped arrays, 0-d and empty arrays,
None, Python lists, int arrays, ndarray subclasses, outputs aliasing inputs, out-of-range class
indices for cross entropy, bad scalar options.

Each call must either raise a clean exception (TypeError, ValueError, IndexError, RuntimeError;
the message names the kernel, or is PyTorch's "Target k is out of bounds.") or return a correct
result, and the compiled kernel and its twin must agree: the same exception type and message,
or the same values in every array they write. A crash must not take pytest down, so the fuzzing
runs in a child process (this file run as a script); the tests read its JSON report.

Seeded and bounded (FASTGRAD_FUZZ_CASES cases per kernel, default 120; FASTGRAD_FUZZ_SEED).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

SEED = int(os.environ.get("FASTGRAD_FUZZ_SEED", "20261126"))
CASES = int(os.environ.get("FASTGRAD_FUZZ_CASES", "120"))
ALLOWED = (TypeError, ValueError, IndexError, RuntimeError)
# Known divergence, tested separately (xfail): with label smoothing, a non-finite upstream gradient
# gives nan in parts of the compiled cross_entropy_bwd's rows (g*A*p - g*eps/C = inf - inf) where
# the twin gives +-inf (g*(A*p - eps/C)); PyTorch 2.13 gives nan for the whole row.
FUZZ_NONFINITE_GLOSS = os.environ.get("FASTGRAD_FUZZ_NONFINITE_GLOSS", "0") == "1"

EW1 = ["sigmoid_fwd", "tanh_fwd", "relu_fwd", "silu_fwd", "gelu_fwd", "softplus_fwd"]
EW2 = ["sigmoid_bwd", "tanh_bwd", "relu_bwd", "silu_bwd", "gelu_bwd", "softplus_bwd"]
ROW1 = ["softmax_fwd", "log_softmax_fwd"]
ROW2 = ["softmax_bwd", "log_softmax_bwd"]
CE = ["cross_entropy_fwd", "cross_entropy_bwd"]
OPT = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step"]
KERNELS = EW1 + EW2 + ROW1 + ROW2 + CE + OPT

# mutations applied to a valid call; "valid", "empty", "zero_d" (elementwise), "alias",
# "noncontig_in", "fortran_in", "misaligned", "subclass", "int_target" ... are legal calls
MUTATIONS = ["valid", "valid", "dtype", "mixed_float", "shape", "rank", "noncontig_in", "noncontig_out",
             "fortran_in", "zero_d", "empty", "none", "list", "int_array", "alias", "readonly",
             "misaligned", "byteswapped", "subclass", "scalar", "big", "overlap"]
CE_MUTATIONS = ["target_neg", "target_big", "target_ignore", "target_int32", "target_uint8",
                "target_float", "target_shape", "target_2d", "ignore_big", "weight_shape", "weight_none",
                "zero_classes", "target_list"]


class _Sub(np.ndarray):
    """An ndarray subclass: fails the compiled side's exact-type fast path."""


# --------------------------------------------------------------------------- case generation
def _values(rng, shape, dtype):
    x = rng.standard_normal(shape) * 3
    if x.size and rng.random() < 0.2:  # a few special values
        flat = x.reshape(-1)
        k = rng.integers(0, flat.size, size=min(3, flat.size))
        flat[k] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 80.0, -80.0], size=len(k))
    return np.asarray(x, dtype=dtype)


def _valid(name, rng, dtype, big):
    """(args, arrays): a legal call; `arrays` lists (index, role) of array arguments."""
    if name in EW1 or name in EW2:
        shape = (int(rng.integers(40000, 70000)),) if big else tuple(
            int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 4))))
        x = _values(rng, shape, dtype)
        out = np.empty(shape, dtype)
        args = [x] + ([_values(rng, shape, dtype)] if name in EW2 else []) + [out]
        if name.startswith("gelu"):
            args.append(bool(rng.integers(0, 2)))
        elif name.startswith("softplus"):
            args += [float(rng.choice([1.0, 2.0, 0.5])), float(rng.choice([20.0, 1.0, 5.0]))]
        n_arr = 3 if name in EW2 else 2
        return args, [(i, "out" if i == n_arr - 1 else "in") for i in range(n_arr)]
    if name in ROW1 or name in ROW2:
        shape = (int(rng.integers(100, 300)), 200) if big else (int(rng.integers(1, 6)), int(rng.integers(1, 7)))
        x = _values(rng, shape, dtype)
        if name in ROW2:
            y = x - np.logaddexp.reduce(x.astype(np.float64), axis=1, keepdims=True).astype(dtype)
            if name == "softmax_bwd":
                y = np.exp(y)
            args = [np.asarray(y, dtype), _values(rng, shape, dtype), np.empty(shape, dtype)]
            return args, [(0, "in"), (1, "in"), (2, "out")]
        return [x, np.empty(shape, dtype)], [(0, "in"), (1, "out")]
    if name in CE:
        n, c = ((int(rng.integers(50, 80)), 100) if big else (int(rng.integers(1, 6)), int(rng.integers(1, 6))))
        logits = _values(rng, (n, c), dtype)
        target = rng.integers(0, c, size=n).astype(np.int64)
        ignore_index = -100
        if rng.random() < 0.3 and n:
            target[rng.integers(0, n)] = ignore_index
        weight = np.asarray(rng.random(c) + 0.1, dtype) if rng.random() < 0.5 else None
        smoothing = float(rng.choice([0.0, 0.0, 0.1, 0.5]))
        if name == "cross_entropy_fwd":
            args = [logits, target, weight, ignore_index, smoothing, np.empty(n, dtype), np.empty(n, dtype)]
            return args, [(0, "in"), (1, "target"), (2, "weight"), (5, "out"), (6, "out")]
        with np.errstate(all="ignore"):
            lse = np.logaddexp.reduce(logits.astype(np.float64), axis=1).astype(dtype)
        gloss = _values(rng, (n,), dtype)
        if not FUZZ_NONFINITE_GLOSS:  # see test_cross_entropy_bwd_nonfinite_gloss
            gloss = np.nan_to_num(gloss, nan=1.0, posinf=2.0, neginf=-2.0)
        args = [logits, target, weight, ignore_index, smoothing, lse, gloss, np.empty((n, c), dtype)]
        return args, [(0, "in"), (1, "target"), (2, "weight"), (5, "in"), (6, "in"), (7, "out")]
    # optimizers: p and the state buffers are written, g is read
    shape = (int(rng.integers(40000, 70000)),) if big else tuple(
        int(s) for s in rng.integers(1, 6, size=int(rng.integers(1, 3))))
    p = _values(rng, shape, dtype)
    g = _values(rng, shape, dtype)

    def buf(pos=False):
        v = np.abs(_values(rng, shape, dtype)) if pos else _values(rng, shape, dtype)
        return np.asarray(v, dtype)

    if name == "sgd_step":
        momentum = float(rng.choice([0.0, 0.9]))
        b = buf() if momentum else None
        args = [p, g, b, 0.1, momentum, float(rng.choice([0.0, 0.1])), float(rng.choice([0.0, 0.01])),
                bool(momentum and rng.integers(0, 2)), bool(rng.integers(0, 2)), bool(rng.integers(0, 2))]
        if args[7]:
            args[5] = 0.0
        return args, [(0, "out"), (1, "in"), (2, "opt")]
    if name == "adam_step":
        ams = bool(rng.integers(0, 2))
        args = [p, g, buf(), buf(True), buf(True) if ams else None, 1e-3, 0.9, 0.999, 1e-8,
                float(rng.choice([0.0, 0.01])), float(rng.integers(1, 5)), ams, bool(rng.integers(0, 2)),
                bool(rng.integers(0, 2))]
        return args, [(0, "out"), (1, "in"), (2, "opt"), (3, "opt"), (4, "opt")]
    if name == "rmsprop_step":
        centered = bool(rng.integers(0, 2))
        momentum = float(rng.choice([0.0, 0.5]))
        args = [p, g, buf(True), buf() if centered else None, buf() if momentum else None, 1e-2, 0.99, 1e-8,
                float(rng.choice([0.0, 0.01])), momentum, centered, bool(rng.integers(0, 2))]
        if centered:  # keep square_avg >= grad_avg**2, as a real run does
            args[2] += args[3] * args[3]
        return args, [(0, "out"), (1, "in"), (2, "opt"), (3, "opt"), (4, "opt")]
    args = [p, g, buf(True), 1e-2, float(rng.choice([0.0, 0.1])), float(rng.choice([0.0, 0.01])), 1e-10,
            float(rng.integers(1, 5)), bool(rng.integers(0, 2))]
    return args, [(0, "out"), (1, "in"), (2, "opt")]


def _noncontig(a):
    """Same values, a strided (non-contiguous) view."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a
    big = np.empty(a.shape[:-1] + (a.shape[-1] * 2,), a.dtype)
    view = big[..., ::2]
    view[...] = a
    return view


def _misaligned(a):
    a = np.asarray(a)
    raw = np.zeros(a.nbytes + 1, np.uint8)
    view = raw[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def _mutate(name, args, arrays, kind, rng):
    present = [(i, r) for i, r in arrays if args[i] is not None]
    pick = present[int(rng.integers(0, len(present)))] if present else None
    floats = [(i, r) for i, r in present if r not in ("target",)]
    i, role = pick if pick else (None, None)
    if kind == "dtype" and floats:
        i, _ = floats[int(rng.integers(0, len(floats)))]
        bad = [np.int64, np.int32, np.float16, np.bool_, np.complex64, np.uint8, object, np.longdouble]
        args[i] = np.asarray(args[i]).astype(bad[int(rng.integers(0, len(bad)))])
    elif kind == "mixed_float" and floats:
        i, _ = floats[int(rng.integers(0, len(floats)))]
        a = args[i]
        args[i] = a.astype(np.float64 if a.dtype == np.float32 else np.float32)
    elif kind == "shape" and present:
        a = args[i]
        if a.ndim == 0:
            args[i] = np.zeros((2,), a.dtype)
        else:
            shape = list(a.shape)
            shape[int(rng.integers(0, len(shape)))] += 1
            args[i] = np.resize(a, shape).astype(a.dtype)
    elif kind == "rank" and present:
        a = args[i]
        args[i] = a.reshape((1,) + a.shape) if rng.random() < 0.5 or a.ndim == 0 else a.reshape(-1)
        if args[i].shape == a.shape:
            args[i] = a.reshape((1,) + a.shape)
    elif kind == "noncontig_in":
        ins = [(j, r) for j, r in present if r in ("in", "target", "weight")]
        if ins:
            j, _ = ins[int(rng.integers(0, len(ins)))]
            args[j] = _noncontig(args[j])
    elif kind == "noncontig_out":
        outs = [(j, r) for j, r in present if r in ("out", "opt")]
        if outs:
            j, _ = outs[int(rng.integers(0, len(outs)))]
            args[j] = _noncontig(args[j])
    elif kind == "fortran_in":
        for j, r in present:
            if r == "in" and args[j].ndim >= 2:
                args[j] = np.asfortranarray(args[j])
    elif kind == "zero_d":
        for j, r in present:
            args[j] = np.asarray(args[j].reshape(-1)[0] if args[j].size else 0, args[j].dtype)
    elif kind == "empty":
        for j, r in present:
            a = args[j]
            if a.ndim == 0:
                continue
            args[j] = np.zeros((0,) + a.shape[1:], a.dtype)
    elif kind == "none" and present:
        args[i] = None
    elif kind == "list" and present:
        args[i] = args[i].tolist()
    elif kind == "int_array" and present:
        args[i] = np.asarray(args[i]).astype(np.int64)
    elif kind == "alias":
        outs = [j for j, r in present if r in ("out", "opt")]
        ins = [j for j, r in present if r == "in"]
        if outs and ins:
            o, s = outs[int(rng.integers(0, len(outs)))], ins[int(rng.integers(0, len(ins)))]
            if args[o].shape == args[s].shape and args[o].dtype == args[s].dtype:
                args[o] = args[s]
    elif kind == "overlap":  # an output and an input are shifted views of one buffer
        outs = [j for j, r in present if r in ("out", "opt")]
        ins = [j for j, r in present if r in ("in", "out", "opt")]
        if outs and len(ins) > 1:
            o = outs[int(rng.integers(0, len(outs)))]
            s = [j for j in ins if j != o][int(rng.integers(0, len(ins) - 1))]
            a, b = args[o], args[s]
            if a.shape == b.shape and a.dtype == b.dtype and a.size > 1:
                base = np.empty(a.size + 1, a.dtype)
                shift = int(rng.integers(0, 2))
                args[s] = base[shift:shift + a.size].reshape(a.shape)
                args[o] = base[1 - shift:1 - shift + a.size].reshape(a.shape)
                args[s][...] = b
                if o == s:
                    args[o][...] = a
    elif kind == "readonly":
        outs = [j for j, r in present if r in ("out", "opt")]
        if outs:
            j = outs[int(rng.integers(0, len(outs)))]
            args[j] = args[j].copy()
            args[j].flags.writeable = False
    elif kind == "misaligned" and present:
        args[i] = _misaligned(args[i])
    elif kind == "byteswapped" and present:
        a = args[i]
        args[i] = a.astype(a.dtype.newbyteorder(">"))
    elif kind == "subclass" and present:
        args[i] = args[i].view(_Sub)
    elif kind == "scalar":
        scalars = [j for j in range(len(args)) if j not in dict(arrays)]
        if scalars:
            j = scalars[int(rng.integers(0, len(scalars)))]
            args[j] = [None, "x", np.float64(0.5), np.array([1.0, 2.0]), 1 + 2j][int(rng.integers(0, 5))]
    elif kind.startswith(("target", "ignore", "weight", "zero_classes")):
        target = args[1]
        n = target.shape[0]
        c = args[0].shape[1]
        if kind == "target_neg" and n:
            target[int(rng.integers(0, n))] = -int(rng.integers(1, 5))
        elif kind == "target_big" and n:
            target[int(rng.integers(0, n))] = c + int(rng.integers(0, 3))
        elif kind == "target_ignore" and n:
            args[3] = int(rng.choice([-1, 0, c, 2**40]))
            target[int(rng.integers(0, n))] = args[3]
        elif kind == "target_int32":
            args[1] = target.astype(np.int32)
        elif kind == "target_uint8":
            args[1] = target.clip(0).astype(np.uint8)
        elif kind == "target_float":
            args[1] = target.astype(np.float32)
        elif kind == "target_shape":
            args[1] = np.resize(target, (n + 1,))
        elif kind == "target_2d":
            args[1] = target.reshape(n, 1)
        elif kind == "ignore_big":
            args[3] = int(rng.choice([2**63, -(2**63) - 1, 2**70]))
        elif kind == "weight_shape":
            args[2] = np.ones(c + 1, args[0].dtype)
        elif kind == "weight_none":
            args[2] = None
        elif kind == "zero_classes":
            dt = args[0].dtype
            args[0] = np.zeros((n, 0), dt)
            args[1] = np.full(n, args[3], np.int64)
            args[2] = None
            if name == "cross_entropy_bwd":
                args[7] = np.zeros((n, 0), dt)
        elif kind == "target_list":
            args[1] = target.tolist()
    return args


def make_case(name, seed, idx):
    """The idx-th case for kernel `name`: (description, args), deterministic in (seed, idx)."""
    rng = np.random.default_rng([seed, KERNELS.index(name), idx])
    kinds = MUTATIONS + (CE_MUTATIONS if name in CE else [])
    kind = kinds[idx % len(kinds)] if idx < 2 * len(kinds) else kinds[int(rng.integers(0, len(kinds)))]
    dtype = np.float32 if rng.random() < 0.5 else np.float64
    with np.errstate(all="ignore"):  # casting inf/nan to ints is part of the fuzzing
        args, arrays = _valid(name, rng, dtype, big=(kind == "big"))
        args = _mutate(name, args, arrays, kind, rng)
    return "%s[%d] %s %s" % (name, idx, kind, np.dtype(dtype).name), args


# --------------------------------------------------------------------------- running
def _outcome(fn, name, args):
    with np.errstate(all="ignore"):
        try:
            ret = fn(*args)
        except ALLOWED as e:
            return ("raise", type(e).__name__, str(e))
        except Exception as e:  # noqa: BLE001 - anything else is a finding
            return ("bad-raise", type(e).__name__, str(e))
    written = [np.array(a) if isinstance(a, np.ndarray) else None for a in args]
    return ("ok", np.array(ret) if isinstance(ret, np.ndarray) else ret, written)


def _close(a, b):
    if a is None or b is None:
        return a is b
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind not in "fc":
        return np.array_equal(a, b)
    # relative, plus an absolute part scaled to the array (a cancelling difference such as
    # log_softmax_bwd's gy - exp(y) * sum(gy) is only accurate to the terms' magnitude)
    finite = np.abs(b[np.isfinite(b)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    tol = dict(rtol=2e-5, atol=1e-5 * scale) if a.dtype == np.float32 else dict(rtol=1e-9, atol=1e-12 * scale)
    return bool(np.allclose(a, b, equal_nan=True, **tol)) and bool(np.array_equal(np.isnan(a), np.isnan(b)))


def _check(name, desc, c_out, np_out):
    """Problems with one case (an empty list when it is fine)."""
    problems = []
    for label, out in (("_C", c_out), ("numpy", np_out)):
        if out is None:
            continue
        if out[0] == "bad-raise":
            problems.append("%s: %s raised %s: %s" % (desc, label, out[1], out[2]))
        elif (out[0] == "raise" and name not in out[2] and not out[2].startswith("Target ")
              and " scalar " not in desc):
            # a bad scalar option fails in CPython's own float/int/bool conversion (the compiled side
            # converts to C doubles in the fast path): that message cannot name the kernel, but it
            # must still be one of ALLOWED and identical on both sides (checked below)
            problems.append("%s: %s message does not name the kernel: %s: %s" % (desc, label, out[1], out[2]))
    if c_out is None or problems:
        return problems
    if c_out[0] != np_out[0]:
        problems.append("%s: _C %s vs numpy %s" % (desc, c_out[:3] if c_out[0] != "ok" else "ok",
                                                   np_out[:3] if np_out[0] != "ok" else "ok"))
    elif c_out[0] == "raise":
        if c_out[1:] != np_out[1:]:
            problems.append("%s: _C raised %s: %s; numpy raised %s: %s" % (desc, *c_out[1:], *np_out[1:]))
    else:
        ret_c, ret_np = c_out[1], np_out[1]
        if isinstance(ret_c, np.ndarray) != isinstance(ret_np, np.ndarray) or (
                isinstance(ret_c, np.ndarray) and not _close(ret_c, ret_np)):
            problems.append("%s: return values differ" % desc)
        for k, (a, b) in enumerate(zip(c_out[2], np_out[2])):
            if not _close(a, b):
                problems.append("%s: argument %d differs after the call" % (desc, k))
    return problems


def run(seed=SEED, cases=CASES, kernels=KERNELS):
    """Fuzz every kernel; prints each case before running it (so a crash names it)."""
    try:
        from fastgrad import _C
    except ImportError:
        _C = None
    from fastgrad import _kernels_np

    report = {"compiled": _C is not None, "problems": {}, "counts": {}}
    for name in kernels:
        problems, counts = [], {"ok": 0, "raise": 0}
        for idx in range(cases):
            desc, _ = make_case(name, seed, idx)
            print(desc, flush=True)
            c_out = _outcome(getattr(_C, name), name, make_case(name, seed, idx)[1]) if _C else None
            np_out = _outcome(getattr(_kernels_np, name), name, make_case(name, seed, idx)[1])
            counts[np_out[0]] = counts.get(np_out[0], 0) + 1
            problems += _check(name, desc, c_out, np_out)
        report["problems"][name] = problems
        report["counts"][name] = counts
    return report


# --------------------------------------------------------------------------- pytest side
@pytest.fixture(scope="module")
def fuzz_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "report.json"
    import fastgrad

    env = dict(os.environ)  # the child imports the same fastgrad (and backend choice) as this process
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastgrad.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-X", "faulthandler", os.path.abspath(__file__), str(path)],
                          capture_output=True, text=True, timeout=300, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if proc.returncode != 0:
        last = proc.stdout.strip().splitlines()[-1:] or ["<before the first case>"]
        pytest.fail("the fuzz child died (exit code %d) at case %s\n%s"
                    % (proc.returncode, last[0], proc.stderr[-3000:]))
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_fuzz(fuzz_report, name):
    problems = fuzz_report["problems"][name]
    assert not problems, "\n".join(problems[:20])
    counts = fuzz_report["counts"][name]
    assert counts.get("ok", 0) > 0 and counts.get("raise", 0) > 0  # both legal and bad calls were made


@pytest.mark.xfail(reason="cross_entropy_bwd with label smoothing and a non-finite upstream gradient: the "
                          "compiled kernel gives nan in part of the row, the twin +-inf (PyTorch: nan)",
                   strict=False)
def test_cross_entropy_bwd_nonfinite_gloss():
    try:
        from fastgrad import _C
    except ImportError:
        pytest.skip("no compiled kernels")
    from fastgrad import _kernels_np

    def args(dtype):
        logits = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, 0.1]], dtype)
        lse = np.logaddexp.reduce(logits.astype(np.float64), axis=1).astype(dtype)
        return [logits, np.array([0, 2]), None, -100, 0.1, lse, np.array([np.inf, -np.inf], dtype),
                np.empty((2, 3), dtype)]

    for dtype in (np.float32, np.float64):
        c_out = _outcome(_C.cross_entropy_bwd, "cross_entropy_bwd", args(dtype))
        np_out = _outcome(_kernels_np.cross_entropy_bwd, "cross_entropy_bwd", args(dtype))
        assert not _check("cross_entropy_bwd", "nonfinite gloss", c_out, np_out)


def test_fuzz_covers_cross_entropy_targets(fuzz_report):
    kinds = {make_case("cross_entropy_fwd", SEED, i)[0].split()[1] for i in range(CASES)}
    assert {"target_neg", "target_big", "ignore_big", "target_ignore"} <= kinds


if __name__ == "__main__":
    out_path = sys.argv[1] if len(sys.argv) > 1 else None
    result = run()
    if out_path:
        with open(out_path, "w") as fh:
            json.dump(result, fh)
    else:
        for kernel, found in result["problems"].items():
            for line in found:
                print("PROBLEM", line)
        print(json.dumps(result["counts"]))
