"""Differential test: fastgrad against PyTorch on random adversarial examples, ten op families.

    python benchmarks/differential.py                   # 400 examples a family (~1-2 minutes)
    python benchmarks/differential.py --examples 2000   # more
    python benchmarks/differential.py -v                # and every example that differs, with why
    FASTGRAD_BACKEND=numpy python benchmarks/differential.py

Each example is one call of an op of the family on inputs drawn by a seeded generator (the same
examples on every run and backend): random shapes with zero-size dimensions, broadcasting,
non-contiguous views (a transposed or strided view of the leaf), float16, bfloat16, float32 and
float64, values mixing ordinary ones with NaN, inf, -inf, 0, -1, huge and tiny ones. The same
arrays go to both libraries; the forward results must agree (shape, dtype, NaN where torch has
NaN, the same infinities, the rest within the dtype's tolerance) and so must the gradients of
sum(output * w) for fixed weights w (the optimizers: the parameters after three steps). When
torch raises, fastgrad must raise the same exception type. The table printed: family, examples,
differ (and intended: differences fastgrad makes on purpose, each with its reason in intended()).
tests/test_differential.py runs a bounded version.
"""
import argparse
import os
import pathlib
import sys
import time
import warnings

# torch's AVX2 kernels are the reference on every machine (as in tests/conftest.py): on AVX-512 CPUs
# torch takes other vectorised loops whose NaN and edge values differ (hardtanh's and elu's gradients
# at NaN). Set before torch is imported; a value set outside wins.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's fastgrad, not an installed one

FAMILIES = ("unary", "binary", "reductions", "matmul", "cross-entropy", "convolution", "normalization",
            "indexing", "dtypes", "optimizers")
FLOATS = ("float32", "float64", "float16", "bfloat16")
# (rtol, atol) per dtype: torch.testing's defaults, float32's loosened to a few units in the last
# place of the results of different (correctly rounded to ~1 ulp) implementations of exp, log, ...
TOL = {"float64": (1e-7, 1e-12), "float32": (1e-5, 1e-6), "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5)}
GRAD_TOL = {"float64": (1e-6, 1e-10), "float32": (1e-4, 1e-5), "float16": (1e-2, 1e-3), "bfloat16": (5e-2, 1e-2)}


# --------------------------------------------------------------------------- inputs
class Arg:
    """An input: a float64 (or integer) array, the dtype the leaf gets, whether it requires grad,
    and its layout: None (contiguous), "t" (a transposed view) or "step" (every other element
    of the last dim)."""

    def __init__(self, array, dtype=None, grad=True, view=None):
        self.array, self.dtype, self.grad, self.view = np.asarray(array), dtype, grad, view


def values(rng, shape, adversarial=True, huge=True, lo=-3.0, hi=3.0):
    """Ordinary values in [lo, hi], a quarter of them (adversarial) NaN, inf, -inf, 0, -1, 1,
    huge (1e30, only elementwise: sums of huge and small values depend on the order) or tiny."""
    x = rng.uniform(lo, hi, shape)
    if adversarial and x.size:
        special = [np.nan, np.inf, -np.inf, 0.0, -1.0, 1.0, 1e-30] + ([1e30, -1e30] if huge else [])
        mask = rng.random(shape) < 0.25
        x[mask] = rng.choice(special, size=int(mask.sum()))
    return x


def shape(rng, ndim, zero=0.1, hi=4):
    return tuple(0 if rng.random() < zero else int(rng.integers(1, hi + 1)) for _ in range(ndim))


def fdtype(rng, halves=True):
    return str(rng.choice(FLOATS if halves else FLOATS[:2]))


def layout(rng):
    return [None, None, "t", "step"][int(rng.integers(4))]


def leaf(L, a):
    """A's tensor in library L: the leaf and the input the op gets (a view of it, if asked)."""
    arr = a.array
    if arr.dtype.kind != "f":
        return None, L.tensor(arr)
    if a.view == "t" and arr.ndim >= 2:
        arr = np.ascontiguousarray(np.swapaxes(arr, -1, -2))
    elif a.view == "step" and arr.ndim >= 1:
        arr = np.repeat(arr, 2, axis=-1)
    base = L.tensor(arr.astype(np.float64 if a.dtype == "float64" else np.float32))
    if a.dtype in ("float16", "bfloat16"):
        base = base.to(getattr(L, a.dtype))
    t = base.detach().requires_grad_(a.grad)
    x = t
    if a.view == "t" and arr.ndim >= 2:
        x = t.transpose(-1, -2)
    elif a.view == "step" and arr.ndim >= 1:
        x = t[..., ::2]
    return (t if a.grad else None), x


# --------------------------------------------------------------------------- comparison
def _np(t):
    t = t.detach()
    name = str(t.dtype).split(".")[-1]
    if name in ("float16", "bfloat16"):
        t = t.float()
    return np.array(t.numpy()), name


def differs(f, t, tol, scale=1.0):
    """Why fastgrad's tensor f is not torch's t (None when they agree)."""
    if f is None or t is None:
        return None if (f is None) == (t is None) else "gradient: %s vs torch %s" % (f is None and "None", t is None and "None")
    if not hasattr(f, "detach") or not hasattr(t, "detach"):
        return None if f == t else "value %r vs torch %r" % (f, t)
    a, an = _np(f)
    b, bn = _np(t)
    if an != bn:
        return "dtype %s vs torch %s" % (an, bn)
    if a.shape != b.shape:
        return "shape %s vs torch %s" % (a.shape, b.shape)
    if a.dtype.kind not in "fc":
        return None if np.array_equal(a, b) else "values differ (exact dtype)"
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return "NaN at %d positions vs torch %d" % (na.sum(), nb.sum())
    ia, ib = np.isinf(a), np.isinf(b)
    if not np.array_equal(ia, ib) or not np.array_equal(a[ia], b[ib]):
        return "infinities differ: %s vs torch %s" % (a[ia | ib][:4], b[ia | ib][:4])
    fin = ~(na | ia)
    rtol, atol = tol
    err = np.abs(a[fin] - b[fin]) - (atol * scale + rtol * np.abs(b[fin]))
    if err.size and err.max() > 0:
        k = int(np.argmax(err))
        return "value %r vs torch %r" % (a[fin][k], b[fin][k])
    return None


def _outputs(out):
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res += _outputs(o)
        return res
    return [out]


def run_case(L, fn, args, wrng_seed):
    """(outputs, gradients of the leaves) of fn on args in library L; raises what fn raises."""
    leaves, inputs = [], []
    for a in args:
        if isinstance(a, Arg):
            lf, x = leaf(L, a)
            if lf is not None:
                leaves.append(lf)
            inputs.append(x)
        else:
            inputs.append(a)
    outs = _outputs(fn(L, *inputs))
    diff = [o for o in outs if hasattr(o, "requires_grad") and o.requires_grad and o.dtype.is_floating_point]
    grads = None
    if diff and leaves:
        wr = np.random.default_rng(wrng_seed)
        ws = [L.tensor(wr.uniform(0.5, 1.5, tuple(o.shape)).astype(np.float32)).to(o.dtype) for o in diff]
        grads = list(L.autograd.grad(diff, leaves, ws, allow_unused=True))
    return outs, grads


def compare(fg, torch, fn, args, dtype, scale=1.0, seed=0):
    """None when fastgrad and torch agree on fn(args), else why not."""
    results = []
    for L in (fg, torch):
        try:
            results.append((run_case(L, fn, args, seed), None))
        except Exception as e:  # noqa: BLE001  (torch's error is the expected result)
            results.append((None, e))
    (fres, ferr), (tres, terr) = results
    if terr is not None or ferr is not None:
        if terr is None:
            return "fastgrad raises %s: %s" % (type(ferr).__name__, str(ferr)[:120])
        if ferr is None:
            return "torch raises %s: %s; fastgrad does not" % (type(terr).__name__, str(terr)[:120])
        if type(ferr).__name__ != type(terr).__name__:
            return "fastgrad raises %s, torch %s: %s" % (type(ferr).__name__, type(terr).__name__, str(terr)[:80])
        return None
    (fo, fgr), (to, tgr) = fres, tres
    if len(fo) != len(to):
        return "%d outputs vs torch %d" % (len(fo), len(to))
    for k, (a, b) in enumerate(zip(fo, to)):
        why = differs(a, b, TOL[dtype], scale)
        if why:
            return "output %d: %s" % (k, why)
    if (fgr is None) != (tgr is None):
        return "gradients: %s vs torch %s" % (fgr is not None, tgr is not None)
    for k, (a, b) in enumerate(zip(fgr or (), tgr or ())):
        why = differs(a, b, GRAD_TOL[dtype], scale)
        if why:
            return "gradient %d: %s" % (k, why)
    return None


# --------------------------------------------------------------------------- the families
# Each returns (label, fn(L, *inputs), args, dtype, scale): one example drawn from rng.
def _F(L):
    return L.nn.functional


UNARY = [("exp", lambda L, x: L.exp(x)), ("log", lambda L, x: L.log(x)), ("sqrt", lambda L, x: L.sqrt(x)),
         ("abs", lambda L, x: L.abs(x)), ("sin", lambda L, x: L.sin(x)), ("cos", lambda L, x: L.cos(x)),
         ("tanh", lambda L, x: L.tanh(x)), ("sigmoid", lambda L, x: L.sigmoid(x)),
         ("relu", lambda L, x: L.relu(x)), ("expm1", lambda L, x: L.expm1(x)), ("log1p", lambda L, x: L.log1p(x)),
         ("rsqrt", lambda L, x: L.rsqrt(x)), ("reciprocal", lambda L, x: L.reciprocal(x)),
         ("neg", lambda L, x: -x), ("square", lambda L, x: L.square(x)), ("floor", lambda L, x: L.floor(x)),
         ("asin", lambda L, x: L.asin(x)), ("atan", lambda L, x: L.atan(x)), ("sinh", lambda L, x: L.sinh(x)),
         ("erf", lambda L, x: L.erf(x)), ("sign", lambda L, x: L.sign(x)),
         ("softplus", lambda L, x: _F(L).softplus(x)), ("gelu", lambda L, x: _F(L).gelu(x)),
         ("gelu_tanh", lambda L, x: _F(L).gelu(x, approximate="tanh")), ("silu", lambda L, x: _F(L).silu(x)),
         ("elu", lambda L, x: _F(L).elu(x)), ("leaky_relu", lambda L, x: _F(L).leaky_relu(x, 0.1)),
         ("hardtanh", lambda L, x: _F(L).hardtanh(x)), ("logsigmoid", lambda L, x: _F(L).logsigmoid(x)),
         ("mish", lambda L, x: _F(L).mish(x)), ("clamp", lambda L, x: L.clamp(x, -1.5, 2.0)),
         ("nan_to_num", lambda L, x: L.nan_to_num(x)), ("pow3", lambda L, x: x ** 3),
         ("pow_half", lambda L, x: x ** 0.5)]


def gen_unary(rng):
    name, fn = UNARY[int(rng.integers(len(UNARY)))]
    dt = fdtype(rng)
    x = values(rng, shape(rng, int(rng.integers(0, 4))))
    return name, fn, [Arg(x, dt, view=layout(rng))], dt, 1.0


BINARY = [("add", lambda L, a, b: a + b), ("sub", lambda L, a, b: a - b), ("mul", lambda L, a, b: a * b),
          ("div", lambda L, a, b: a / b), ("pow", lambda L, a, b: L.pow(a, b)),
          ("maximum", lambda L, a, b: L.maximum(a, b)), ("minimum", lambda L, a, b: L.minimum(a, b)),
          ("atan2", lambda L, a, b: L.atan2(a, b)), ("add_alpha", lambda L, a, b: L.add(a, b, alpha=2)),
          ("fmax", lambda L, a, b: L.fmax(a, b)), ("hypot", lambda L, a, b: L.hypot(a, b)),
          ("lerp", lambda L, a, b: L.lerp(a, b, 0.25)), ("where_gt", lambda L, a, b: L.where(a > b, a, b)),
          ("eq", lambda L, a, b: a == b), ("lt", lambda L, a, b: a < b)]


SCALAR_OK = ("add", "sub", "mul", "div", "pow", "add_alpha", "eq", "lt")


def _broadcast_pair(rng):
    s = shape(rng, int(rng.integers(0, 4)))
    t = list(s)
    for i in range(len(t)):
        if rng.random() < 0.3:
            t[i] = 1
    t = tuple(t[int(rng.integers(0, len(t) + 1)):]) if t else ()
    return (s, t) if rng.random() < 0.5 else (t, s)


def gen_binary(rng):
    name, fn = BINARY[int(rng.integers(len(BINARY)))]
    dt = fdtype(rng)
    sa, sb = _broadcast_pair(rng)
    args = [Arg(values(rng, sa), dt, view=layout(rng)), Arg(values(rng, sb), dt, view=layout(rng))]
    if name in SCALAR_OK and rng.random() < 0.15:  # a Python number operand (where torch takes one)
        args[1] = float(rng.choice([2.0, 0.0, -1.5, np.inf, np.nan]))
    return name, fn, args, dt, 1.0


REDUCTIONS = [("sum", lambda L, x, d: x.sum()), ("sum_dim", lambda L, x, d: x.sum(d)),
              ("mean_dim", lambda L, x, d: x.mean(d, keepdim=True)), ("prod_dim", lambda L, x, d: x.prod(d)),
              ("amax", lambda L, x, d: x.amax(d)), ("amin", lambda L, x, d: x.amin(d)),
              ("max_dim", lambda L, x, d: x.max(d)), ("min_dim", lambda L, x, d: x.min(d)),
              ("max", lambda L, x, d: x.max()), ("logsumexp", lambda L, x, d: L.logsumexp(x, d)),
              ("var", lambda L, x, d: x.var(d)), ("std", lambda L, x, d: x.std(d)),
              ("norm", lambda L, x, d: L.linalg.vector_norm(x, dim=d)), ("cumsum", lambda L, x, d: x.cumsum(d)),
              ("softmax", lambda L, x, d: L.softmax(x, d)), ("log_softmax", lambda L, x, d: L.log_softmax(x, d)),
              ("argmax", lambda L, x, d: x.argmax(d)), ("nansum", lambda L, x, d: L.nansum(x, d))]


def gen_reductions(rng):
    name, fn = REDUCTIONS[int(rng.integers(len(REDUCTIONS)))]
    dt = fdtype(rng)
    s = shape(rng, int(rng.integers(1, 4)), hi=5)
    if name in ("amax", "amin", "max_dim", "min_dim", "max", "argmax", "logsumexp", "softmax", "log_softmax"):
        x = values(rng, s, huge=False)
    else:
        x = values(rng, s, huge=False)
    d = int(rng.integers(-len(s), len(s)))
    return name, (lambda L, x: fn(L, x, d)), [Arg(x, dt, view=layout(rng))], dt, 3.0 * max(1, x.size)


def gen_matmul(rng):
    dt = fdtype(rng)
    kind = int(rng.integers(4))
    m, k, n = (0 if rng.random() < 0.1 else int(rng.integers(1, 6)) for _ in range(3))
    adv = rng.random() < 0.5
    scale = 9.0 * max(1, k)
    if kind == 0:
        a, b = values(rng, (m, k), adv, False), values(rng, (k, n), adv, False)
        return "matmul", (lambda L, a, b: a @ b), [Arg(a, dt, view=layout(rng)), Arg(b, dt, view=layout(rng))], dt, scale
    if kind == 1:
        bt = int(rng.integers(0, 3))
        a, b = values(rng, (bt, m, k), adv, False), values(rng, (bt, k, n), adv, False)
        return "bmm", (lambda L, a, b: L.bmm(a, b)), [Arg(a, dt, view=layout(rng)), Arg(b, dt)], dt, scale
    if kind == 2:
        a, b = values(rng, (k,), adv, False), values(rng, (m, k), adv, False)
        return "mv", (lambda L, v, a: a @ v), [Arg(a, dt), Arg(b, dt, view=layout(rng))], dt, scale
    x, w, bias = values(rng, (m, k), adv, False), values(rng, (n, k), adv, False), values(rng, (n,), adv, False)
    return "linear", (lambda L, x, w, b: _F(L).linear(x, w, b)), [Arg(x, dt, view=layout(rng)), Arg(w, dt), Arg(bias, dt)], dt, scale


def gen_cross_entropy(rng):
    dt = fdtype(rng)
    n, c = int(rng.integers(0, 5)), int(rng.integers(1, 5))
    spatial = () if rng.random() < 0.7 else (int(rng.integers(1, 3)),)
    x = values(rng, (n, c) + spatial, huge=False)
    if n and rng.random() < 0.3:  # a fully masked row (padding): all -inf
        x[int(rng.integers(n))] = -np.inf
    target = rng.integers(0, c, (n,) + spatial)
    ignore = -100
    if target.size and rng.random() < 0.4:
        target[rng.random(target.shape) < 0.3] = ignore
        if rng.random() < 0.5:  # the masked rows ignored
            target[np.all(np.isneginf(x.reshape(n, c, -1)), axis=1).reshape(target.shape)] = ignore
    kw = {"reduction": str(rng.choice(["mean", "sum", "none"]))}
    args = [Arg(x, dt, view=None), Arg(target)]
    if rng.random() < 0.3:
        kw["label_smoothing"] = 0.1
    use_w = rng.random() < 0.3
    if use_w:
        args.append(Arg(rng.uniform(0.5, 2.0, c), dt, grad=False))
    nll = rng.random() < 0.3

    def fn(L, x, t, *w):
        F = _F(L)
        weight = w[0] if w else None
        if nll:
            return F.nll_loss(F.log_softmax(x, 1), t, weight=weight, reduction=kw["reduction"])
        return F.cross_entropy(x, t, weight=weight, **kw)
    return ("nll_loss" if nll else "cross_entropy"), fn, args, dt, 3.0 * max(1, x.size)


def gen_convolution(rng):
    dt = fdtype(rng, halves=rng.random() < 0.3)
    nd = int(rng.integers(1, 3))
    n = int(rng.integers(0, 3))
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    ks = tuple(int(rng.integers(1, 4)) for _ in range(nd))
    stride, pad, dil = int(rng.integers(1, 3)), int(rng.integers(0, 2)), int(rng.integers(1, 3))
    size = tuple(int(rng.integers(dil * (k - 1) + 1, 7)) for k in ks)
    adv = rng.random() < 0.4
    x = values(rng, (n, cin) + size, adv, False)
    w = values(rng, (cout, cin // groups) + ks, adv, False)
    b = values(rng, (cout,), adv, False)
    kind = int(rng.integers(3))

    def fn(L, x, w, b):
        F = _F(L)
        if kind == 2:  # pooling
            pool = F.max_pool1d if nd == 1 else F.max_pool2d
            avg = F.avg_pool1d if nd == 1 else F.avg_pool2d
            return pool(x, ks, stride), avg(x, ks, stride)
        conv = F.conv1d if nd == 1 else F.conv2d
        return conv(x, w, b if kind == 0 else None, stride=stride, padding=pad, dilation=dil, groups=groups)
    return "conv%dd" % nd if kind < 2 else "pool%dd" % nd, fn, [Arg(x, dt), Arg(w, dt), Arg(b, dt)], dt, 9.0 * w[0].size


def gen_normalization(rng):
    dt = fdtype(rng)
    kind = str(rng.choice(["layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm", "normalize"]))
    n, c = int(rng.integers(0 if kind != "instance_norm" else 1, 4)), 2 * int(rng.integers(1, 3))
    sp = tuple(int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 3))))
    if kind == "instance_norm" and not sp:
        sp = (2,)
    adv = rng.random() < 0.3
    x = values(rng, (n, c) + sp, adv, False)
    w, b = rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c)
    last = x.shape[-1]
    lw = rng.uniform(0.5, 1.5, last)

    def fn(L, x, w, b, lw):
        F = _F(L)
        if kind == "layer_norm":
            return F.layer_norm(x, (last,), lw, None)
        if kind == "batch_norm":
            return F.batch_norm(x, None, None, w, b, training=True)
        if kind == "group_norm":
            return F.group_norm(x, 2, w, b)
        if kind == "instance_norm":
            return F.instance_norm(x, weight=w, bias=b)
        if kind == "rms_norm":
            return F.rms_norm(x, (last,), lw)
        return F.normalize(x, dim=-1)
    return kind, fn, [Arg(x, dt, view=layout(rng)), Arg(w, dt), Arg(b, dt), Arg(lw, dt)], dt, 10.0


def gen_indexing(rng):
    dt = fdtype(rng)
    s = shape(rng, int(rng.integers(1, 4)), zero=0.05, hi=5)
    x = values(rng, s)
    kind = int(rng.integers(7))
    d = int(rng.integers(0, len(s)))
    n = s[d]
    idx = rng.integers(-n if n else 0, n if n else 1, int(rng.integers(0, 5))) if n else np.zeros(0, np.int64)
    if kind == 0:
        return "index", (lambda L, x, i: x[i]), [Arg(x, dt, view=layout(rng)), Arg(idx)], dt, 1.0
    if kind == 1:
        i = np.where(idx < 0, idx + n, idx) if n else idx
        return "index_select", (lambda L, x, i: L.index_select(x, d, i)), [Arg(x, dt), Arg(i)], dt, 1.0
    if kind == 2:
        g = rng.integers(0, n, s) if n else np.zeros(s, np.int64)
        return "gather", (lambda L, x, i: L.gather(x, d, i)), [Arg(x, dt), Arg(g)], dt, 1.0
    if kind == 3:
        m = rng.random(s) < 0.5
        return "masked_fill", (lambda L, x, m: x.masked_fill(m, -np.inf)), [Arg(x, dt, view=layout(rng)), Arg(m)], dt, 1.0
    if kind == 4:
        m = rng.random(s) < 0.5
        return "boolean_mask", (lambda L, x, m: x[m]), [Arg(x, dt), Arg(m)], dt, 1.0
    if kind == 5:
        g = rng.integers(0, n, s) if n else np.zeros(s, np.int64)
        src = values(rng, s)
        return "scatter_add", (lambda L, x, i, v: x.scatter_add(d, i, v)), [Arg(x, dt), Arg(g), Arg(src, dt)], dt, 10.0
    step = int(rng.integers(1, 3))
    v = values(rng, (len(range(0, n, step)),) + s[d + 1:])

    def setitem(L, x, v):
        y = x * 1
        y[(slice(None),) * d + (slice(None, None, step),)] = v
        return y
    return "setitem", setitem, [Arg(x, dt), Arg(v, dt)], dt, 1.0


def gen_dtypes(rng):
    src = str(rng.choice(FLOATS))
    kind = int(rng.integers(5))
    x = np.asarray(values(rng, shape(rng, int(rng.integers(0, 3)))))
    if kind == 0:  # float -> float casts (overflow to inf, rounding)
        dst = str(rng.choice(FLOATS))
        x = np.where(np.isnan(x), 0.5, x * float(rng.choice([1.0, 1e4, 1e-6, 1e40])))
        return "to_" + dst, (lambda L, x: x.to(getattr(L, dst))), [Arg(x, src)], src, 1.0
    if kind == 1:  # float -> integer and bool (finite values: NaN and inf have no defined result)
        dst = str(rng.choice(["int64", "int32", "int8", "uint8", "bool"]))
        x = np.where(np.isfinite(x), np.clip(x, -100, 100), 1.0)
        if dst == "uint8":
            x = np.abs(x)
        return "to_" + dst, (lambda L, x: x.to(getattr(L, dst))), [Arg(x, src, grad=False)], src, 1.0
    if kind == 2:  # promotion: integer tensor op float tensor, or two float dtypes
        other = str(rng.choice(FLOATS))
        y = values(rng, x.shape)
        op = int(rng.integers(3))

        def fn(L, a, b):
            return a + b if op == 0 else (a * b if op == 1 else L.maximum(a, b) if a.dtype == b.dtype else a - b)
        return "promote_%s_%s" % (src, other), fn, [Arg(x, src), Arg(y, other)], (src if TOL[src] > TOL[other] else other), 1.0
    if kind == 3:
        i = rng.integers(-5, 5, x.shape)
        return "int_op_float", (lambda L, i, x: i * x + i), [Arg(i), Arg(x, src)], src, 1.0
    acc = str(rng.choice(["float32", "float64"]))
    return "sum_dtype_" + acc, (lambda L, x: x.sum(dtype=getattr(L, acc))), [Arg(values(rng, x.shape, huge=False), src)], acc, 3.0 * max(1, x.size)


OPTIMS = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)), ("SGD", dict(lr=0.1)),
          ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)), ("AdamW", dict(lr=0.01)),
          ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)), ("Adagrad", dict(lr=0.1)),
          ("Adadelta", dict()), ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)), ("RAdam", dict(lr=0.01)),
          ("ASGD", dict(lr=0.01)), ("Rprop", dict(lr=0.01))]


def gen_optimizers(rng):
    name, opts = OPTIMS[int(rng.integers(len(OPTIMS)))]
    dt = fdtype(rng, halves=rng.random() < 0.2)
    s = shape(rng, int(rng.integers(1, 3)), zero=0.05)
    p0 = values(rng, s, adversarial=False)
    grads = [values(rng, s, adversarial=rng.random() < 0.2, huge=False) for _ in range(3)]

    def fn(L, *_):
        p = L.nn.Parameter(L.tensor(p0.astype(np.float64 if dt == "float64" else np.float32)).to(getattr(L, dt)))
        opt = getattr(L.optim, name)([p], **opts)
        for g in grads:
            p.grad = L.tensor(g.astype(np.float64 if dt == "float64" else np.float32)).to(getattr(L, dt))
            opt.step()
        return p.detach()
    return name, fn, [], dt, 1.0


GENERATORS = {"unary": gen_unary, "binary": gen_binary, "reductions": gen_reductions, "matmul": gen_matmul,
              "cross-entropy": gen_cross_entropy, "convolution": gen_convolution,
              "normalization": gen_normalization, "indexing": gen_indexing, "dtypes": gen_dtypes,
              "optimizers": gen_optimizers}


# --------------------------------------------------------------------------- intended deviations
def _rounded(a, dtype):
    """a's values rounded to dtype, as float64 (the inputs both libraries saw)."""
    import ml_dtypes

    if dtype == "float16":
        return a.astype(np.float16).astype(np.float64)
    if dtype == "bfloat16":
        return a.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)
    return a.astype(np.float32).astype(np.float64) if dtype == "float32" else a


def closer_to_float64(fg, torch, fn, args, dtype, seed):
    """Whether fastgrad's results are as close as torch's to torch's own float64 results on the same
    (rounded) inputs, or within twice the dtype's rtol of them at the tensor's largest value: a value
    difference then is rounding (torch's or the dtype's), not fastgrad's error."""
    wide = [Arg(_rounded(a.array, a.dtype), "float64", a.grad, a.view) if isinstance(a, Arg) and a.dtype else a
            for a in args]
    try:
        ref, rgr = run_case(torch, fn, wide, seed)
        res = [run_case(L, fn, args, seed) for L in (fg, torch)]
    except Exception:  # noqa: BLE001
        return False
    (fo, fgr), (to, tgr) = res
    for f, t, r in zip(fo + list(fgr or ()), to + list(tgr or ()), ref + list(rgr or ())):
        if f is None or t is None or r is None or not hasattr(r, "detach"):
            continue
        fa, ta, ra = _np(f)[0].astype(np.float64), _np(t)[0].astype(np.float64), _np(r)[0]
        if fa.shape != ra.shape or ta.shape != ra.shape or not np.array_equal(np.isnan(fa), np.isnan(ra)):
            return False
        fin = np.isfinite(ra)
        if not np.array_equal(fa[~fin], ra[~fin], equal_nan=True):
            return False
        if fin.any():  # fastgrad's error at most torch's, or the dtype's tolerance at the tensor's scale
            slack = 2 * TOL[dtype][0] * np.abs(ra[fin]).max()
            if np.abs(fa[fin] - ra[fin]).max() > max(np.abs(ta[fin] - ra[fin]).max(), slack):
                return False
    return True


def intended(fam, label, args, why, closer=False):
    """Why a difference is one fastgrad makes on purpose (None: it is not)."""
    if closer:
        return ("fastgrad's result is as close as torch's to torch's float64 result on the same inputs, or "
                "within twice the dtype's rtol of it (torch's lower-precision kernel rounds differently)")
    if fam == "cross-entropy" and why.startswith("gradient"):
        x, t = args[0].array, args[1].array
        rows = np.any(~np.isfinite(x.reshape(x.shape[0], x.shape[1], -1)), axis=1).reshape(t.shape)
        if (rows & (t == -100)).any():
            return ("an ignored row adds exactly 0 to the gradient (issue 26, class 2); torch's is NaN "
                    "there when the row holds inf or NaN (through log_softmax)")
    if label == "gelu_tanh" and why.startswith("gradient") and (np.abs(args[0].array) >= 1e30).any():
        return ("gelu (tanh form) at huge |x|: fastgrad's gradient is the limit (1 or 0); torch's formula "
                "gives inf * 0 = NaN")
    return None


# --------------------------------------------------------------------------- driver
def run(examples=400, seed=0, families=FAMILIES, verbose=False, out=print):
    """{family: (examples, differences, intended deviations)}: `examples` per family drawn from
    `seed`; the two lists hold (example, why) pairs."""
    import torch

    import fastgrad

    results = {}
    for fam in families:
        rng = np.random.default_rng([seed, FAMILIES.index(fam)])
        bad, meant = [], []
        for k in range(examples):
            label, fn, args, dt, scale = GENERATORS[fam](rng)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                why = compare(fastgrad, torch, fn, args, dt, scale, seed=k)
            if why:
                shapes = [("%s%s%s" % (a.dtype or a.array.dtype, list(a.array.shape), "/" + a.view if a.view else ""))
                          for a in args if isinstance(a, Arg)]
                closer = ("value" in why and dt != "float64" and args
                          and closer_to_float64(fastgrad, torch, fn, args, dt, k))
                reason = intended(fam, label, args, why, closer)
                (meant if reason else bad).append(("%s #%d %s %s" % (label, k, dt, " ".join(shapes)), why))
                if verbose:
                    out("  %s: %s #%d %s %s: %s%s" % (fam, label, k, dt, " ".join(shapes), why,
                                                    " [intended: %s]" % reason if reason else ""))
        results[fam] = (examples, bad, meant)
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=400, help="examples per family (default 400)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every example that differs")
    a = ap.parse_args(argv)
    import torch

    import fastgrad

    t0 = time.time()
    results = run(a.examples, a.seed, a.families, a.verbose)
    print("fastgrad %s (backend %s) against torch %s, seed %d\n" % (fastgrad.__version__, fastgrad.get_backend(),
                                                                     torch.__version__, a.seed))
    print("| family | examples | differ | intended |")
    print("|---|---:|---:|---:|")
    total = bad = meant = 0
    for fam, (n, diffs, kept) in results.items():
        print("| %s | %d | %d | %d |" % (fam, n, len(diffs), len(kept)))
        total, bad, meant = total + n, bad + len(diffs), meant + len(kept)
    print("| all | %d | %d | %d |" % (total, bad, meant))
    print("\n(intended: differences fastgrad makes on purpose, each with its reason in intended())")
    print("\n%.0f s" % (time.time() - t0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
