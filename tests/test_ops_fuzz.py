"""Hypothesis fuzzing of the public ops that reach compiled kernels (fastgrad._C): elementwise, reductions,
matmul/linear/addmm/bmm, softmax/log_softmax/cross_entropy/nll_loss, conv1d/2d, max/avg pooling, embedding,
gather/scatter/index_put/index_add, every optimizer's step, LSTM/GRU cells, scaled_dot_product_attention.

Inputs: random shapes with zero-size and one-element dims, non-contiguous views (transposed, stepped slices,
flipped) of a leaf, broadcasting, aliased arguments, NaN/inf/huge/subnormal values, float32/float64/float16/
int64/bool dtypes. Each example runs the op in fastgrad and in torch on the same values: the forward result
(shape, dtype, values; NaN where torch has NaN) and the gradients of every leaf must agree, or both libraries
must raise (fastgrad with torch's exception type).

The two backends cannot share a process (FASTGRAD_BACKEND picks one at import), so the reference is torch,
and the suite runs this file under both backends: compiled == torch and NumPy backend == torch.

Profiles: the suite's bounded one (FASTGRAD_FUZZ_EXAMPLES, default 20 examples per test, derandomized: the
file runs in well under 60 s); a long run, e.g.
    FASTGRAD_FUZZ_EXAMPLES=5000 python -m pytest -q tests/test_ops_fuzz.py
    FASTGRAD_FUZZ_EXAMPLES=5000 FASTGRAD_BACKEND=numpy python -m pytest -q tests/test_ops_fuzz.py
(set FASTGRAD_FUZZ_RANDOM=1 to draw new examples instead of the derandomized sequence)."""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastgrad  # noqa: E402
import fastgrad.nn.functional as FF  # noqa: E402

EXAMPLES = int(os.environ.get("FASTGRAD_FUZZ_EXAMPLES", "20"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FASTGRAD_FUZZ_RANDOM") != "1",
                suppress_health_check=list(HealthCheck), database=None)
torch = pytest.importorskip("torch")
TF = torch.nn.functional
FLOATS = ["float32", "float64"]
TOL = {"float16": (2e-2, 2e-2), "float32": (2e-4, 2e-5), "float64": (1e-9, 1e-11)}


# --------------------------------------------------------------------------- inputs
def values(data, shape, dtype, specials=True, huge=True, low=-3.0, high=3.0, inf=True):
    seed = data.draw(st.integers(0, 2 ** 32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-5, 6, size=shape).astype(dtype)
    x = rng.uniform(low, high, size=shape)
    if specials and x.size and data.draw(st.booleans(), label="specials"):
        tiny = np.finfo(dtype).smallest_subnormal if dtype != "float16" else 6e-8
        pool = [np.nan, 0.0, -0.0, float(tiny), -float(tiny)] + ([np.inf, -np.inf] if inf else [])
        if huge:
            pool += [float(np.finfo(dtype).max) / 4, -float(np.finfo(dtype).max) / 4]
        flat = x.reshape(-1)
        k = rng.integers(0, flat.size, size=min(3, flat.size))
        flat[k] = rng.choice(pool, size=len(k))
    return x.astype(dtype)


def shapes(data, ndim_min=1, ndim_max=3, lo=0, hi=4):
    n = data.draw(st.integers(ndim_min, ndim_max), label="ndim")
    return tuple(data.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n), label="shape"))


LAYOUTS = ["contig", "T", "step", "flip"]


class Arg:
    """A numpy value with a layout and requires_grad: made into a leaf and a view of it in each library."""

    def __init__(self, arr, layout="contig", grad=False):
        self.arr, self.grad = arr, grad and arr.dtype.kind == "f"
        self.layout = layout if arr.ndim >= (2 if layout == "T" else 1) else "contig"

    def make(self, L):
        a = self.arr
        if self.layout == "T":
            base = a.swapaxes(-1, -2).copy()
        elif self.layout == "step":
            base = np.zeros((2 * a.shape[0],) + a.shape[1:], a.dtype)
            base[::2] = a
        elif self.layout == "flip":
            base = np.flip(a, 0).copy()
        else:
            base = a.copy()
        leaf = L.tensor(base, requires_grad=self.grad)
        view = {"T": lambda t: t.transpose(-1, -2), "step": lambda t: t[::2], "flip": lambda t: t.flip(0),
                "contig": lambda t: t}[self.layout](leaf)
        return leaf, view


def arg(data, shape, dtype, grad=True, **kw):
    return Arg(values(data, shape, dtype, **kw), data.draw(st.sampled_from(LAYOUTS), label="layout"), grad)


# --------------------------------------------------------------------------- comparison
def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [o for x in out for o in _flat(x)]
    return [out]


def assert_same(f, t, what, tol=None):
    fa, ta = _np(f), _np(t)
    assert fa.shape == ta.shape, "%s: shape %s vs torch %s" % (what, fa.shape, ta.shape)
    assert str(fa.dtype) == str(ta.dtype), "%s: dtype %s vs torch %s" % (what, fa.dtype, ta.dtype)
    if fa.dtype.kind in "biu":
        np.testing.assert_array_equal(fa, ta, err_msg=what)
        return
    rtol, atol = tol or TOL[str(fa.dtype)]
    finite = np.isfinite(ta)
    scale = float(np.max(np.abs(ta[finite]), initial=1.0)) if ta.size else 1.0
    np.testing.assert_allclose(fa.astype(np.float64), ta.astype(np.float64), rtol=rtol, atol=atol * scale,
                               equal_nan=True, err_msg=what)


def check(fn, args, tol=None, grad_tol=None, grad=True):
    if grad_tol is None and any(a.arr.dtype == np.float16 for a in args):
        # float16 gradients of x/x, x**x ...: both libraries round each term to float16, so a cancelling sum
        # differs by float16 ulps of the terms (x/x: 1/x - x/x**2 is 0.0625 in torch, 0 here, for x ~ 0.03)
        grad_tol = (5e-2, 1e-1)
    """fn(L, F, *views) in fastgrad and torch: same values or the same error; then the same gradients."""
    fl = [a.make(fastgrad) for a in args]
    tl = [a.make(torch) for a in args]
    try:
        t_out = fn(torch, TF, *[v for _, v in tl])
    except Exception as e:  # noqa: BLE001 -- torch's refusal: fastgrad must refuse with the same type
        # (torch itself reports an out-of-range index as IndexError or RuntimeError depending on the kernel it
        # picks, e.g. index_add of a one-element source: either is taken for those)
        bounds = isinstance(e, (IndexError, RuntimeError)) and ("out of range" in str(e) or "out of bounds" in str(e))
        with pytest.raises((IndexError, RuntimeError) if bounds else type(e)):
            fn(fastgrad, FF, *[v for _, v in fl])
        return None
    f_out = fn(fastgrad, FF, *[v for _, v in fl])
    fo, to = _flat(f_out), _flat(t_out)
    assert len(fo) == len(to)
    for i, (a, b) in enumerate(zip(fo, to)):
        if isinstance(b, torch.Tensor):
            assert_same(a, b, "output %d" % i, tol)
        else:
            assert a == b or (a != a and b != b), "output %d: %r vs torch %r" % (i, a, b)
    diff = [(a, b) for a, b in zip(fo, to) if isinstance(b, torch.Tensor) and b.requires_grad]
    if not grad or not diff or not any(a.grad for a in args):
        return f_out, t_out
    rng = np.random.default_rng(len(diff))
    fsum, tsum = 0, 0
    for a, b in diff:
        w = rng.uniform(0.5, 1.5, size=tuple(b.shape)).astype(str(b.dtype).split(".")[1])
        fsum = fsum + (a * fastgrad.tensor(w)).sum()
        tsum = tsum + (b * torch.tensor(w)).sum()
    try:
        tsum.backward()
    except RuntimeError as e:  # e.g. a saved tensor modified in place: fastgrad must refuse as well
        with pytest.raises(type(e)):
            fsum.backward()
        return f_out, t_out
    fsum.backward()
    for i, ((fleaf, _), (tleaf, _)) in enumerate(zip(fl, tl)):
        if tleaf.grad is None:
            assert fleaf.grad is None or not np.any(_np(fleaf.grad)), "grad %d: torch has none" % i
        else:
            assert fleaf.grad is not None, "grad %d: fastgrad has none" % i
            assert_same(fleaf.grad, tleaf.grad, "grad of input %d" % i, grad_tol or tol)
    return f_out, t_out


def broadcastable(data, shape):
    """A shape that broadcasts against `shape` (dims dropped from the left or set to 1)."""
    drop = data.draw(st.integers(0, len(shape)), label="drop")
    return tuple(1 if data.draw(st.booleans(), label="one") else s for s in shape[drop:])


# --------------------------------------------------------------------------- elementwise and reductions
BINARY = {"add": lambda L, F, x, y: L.add(x, y), "sub": lambda L, F, x, y: x - y, "mul": lambda L, F, x, y: x * y,
          "div": lambda L, F, x, y: x / y, "maximum": lambda L, F, x, y: L.maximum(x, y),
          "pow": lambda L, F, x, y: L.pow(x, y), "alpha_add": lambda L, F, x, y: L.add(x, y, alpha=2)}
UNARY = {"neg": lambda L, F, x: -x, "square": lambda L, F, x: L.square(x), "exp": lambda L, F, x: L.exp(x),
         "sigmoid": lambda L, F, x: L.sigmoid(x), "tanh": lambda L, F, x: L.tanh(x), "relu": lambda L, F, x: F.relu(x),
         "silu": lambda L, F, x: F.silu(x), "gelu": lambda L, F, x: F.gelu(x),
         "gelu_tanh": lambda L, F, x: F.gelu(x, approximate="tanh"), "softplus": lambda L, F, x: F.softplus(x, 2.0, 5.0),
         "abs": lambda L, F, x: L.abs(x), "sqrt": lambda L, F, x: L.sqrt(x), "log": lambda L, F, x: L.log(x)}
REDUCE = {"sum": lambda L, F, x: x.sum(), "sum_dim": lambda L, F, x: x.sum(-1, keepdim=True),
          "mean": lambda L, F, x: x.mean(0), "amax": lambda L, F, x: x.amax(-1), "max_dim": lambda L, F, x: x.max(0),
          "prod": lambda L, F, x: x.prod(-1), "var": lambda L, F, x: x.var(-1),
          "logsumexp": lambda L, F, x: L.logsumexp(x, -1), "argmax": lambda L, F, x: x.argmax(-1),
          "norm": lambda L, F, x: L.linalg.vector_norm(x, dim=-1)}
ALL_DTYPES = FLOATS + ["float16", "int64", "bool"]



@FUZZ
@given(data=st.data(), op=st.sampled_from(sorted(BINARY)), dtype=st.sampled_from(ALL_DTYPES))
def test_binary_elementwise(data, op, dtype):
    s = shapes(data, 0, 3)
    alias = data.draw(st.booleans(), label="alias")
    x = arg(data, s, dtype)
    if alias:  # the same tensor on both sides
        check(lambda L, F, a: BINARY[op](L, F, a, a), [x])
    else:
        ydt = data.draw(st.sampled_from([dtype] + ALL_DTYPES), label="ydtype")  # type promotion
        check(BINARY[op], [x, arg(data, broadcastable(data, s), ydt)])


@FUZZ
@given(data=st.data(), op=st.sampled_from(sorted(UNARY)), dtype=st.sampled_from(ALL_DTYPES))
def test_unary_elementwise(data, op, dtype):
    # gelu(tanh)'s gradient at |x| > ~1e13 and +-inf: torch's formula overflows x**3 into NaN, fastgrad's gives
    # the limit (1 or 0); only finite moderate values are compared there
    tame = op == "gelu_tanh"
    x = arg(data, shapes(data, 0, 3), dtype, huge=not tame, specials=not tame)
    check(UNARY[op], [x])


@FUZZ
@given(data=st.data(), op=st.sampled_from(["add_", "mul_", "sub_", "div_", "relu_", "sigmoid_"]),
       dtype=st.sampled_from(FLOATS))
def test_inplace_with_aliasing(data, op, dtype):
    s = shapes(data, 1, 3)

    def fn(L, F, a, b):
        y = a * 1  # a non-leaf to write into
        if op in ("relu_", "sigmoid_"):
            getattr(y, op)()
        elif data_alias:
            getattr(y, op)(y)  # out aliases the argument
        else:
            getattr(y, op)(b)
        return y
    data_alias = data.draw(st.booleans(), label="alias")
    check(fn, [arg(data, s, dtype), arg(data, broadcastable(data, s), dtype)])


@FUZZ
@given(data=st.data(), op=st.sampled_from(sorted(REDUCE)), dtype=st.sampled_from(ALL_DTYPES))
def test_reductions(data, op, dtype):
    check(REDUCE[op], [arg(data, shapes(data, 1, 3), dtype, huge=False)])


# --------------------------------------------------------------------------- matmul family
@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS + ["float16"]), op=st.sampled_from(
    ["matmul", "mm", "linear", "linear_nobias", "addmm", "bmm", "matmul_batched", "matvec", "self_gram"]))
def test_matmul_family(data, op, dtype):
    n, k, m, b = (data.draw(st.integers(0, 5), label=c) for c in "nkmb")
    A = lambda *s: arg(data, s, dtype, huge=False)  # noqa: E731
    tol = (1e-2, 1e-2) if dtype == "float16" else None
    cases = {
        "matmul": (lambda L, F, x, y: x @ y, [A(n, k), A(k, m)]),
        "mm": (lambda L, F, x, y: L.mm(x, y), [A(n, k), A(k, m)]),
        "linear": (lambda L, F, x, w, c: F.linear(x, w, c), [A(b, n, k), A(m, k), A(m)]),
        "linear_nobias": (lambda L, F, x, w: F.linear(x, w), [A(n, k), A(m, k)]),
        "addmm": (lambda L, F, c, x, y: L.addmm(c, x, y, beta=0.5, alpha=2.0), [A(m), A(n, k), A(k, m)]),
        "bmm": (lambda L, F, x, y: L.bmm(x, y), [A(b, n, k), A(b, k, m)]),
        "matmul_batched": (lambda L, F, x, y: L.matmul(x, y), [A(b, 1, n, k), A(2, 1, k, m)]),
        "matvec": (lambda L, F, x, y: L.matmul(x, y), [A(n, k), A(k)]),
        "self_gram": (lambda L, F, x: x @ x.transpose(-1, -2), [A(n, k)]),  # aliased operands
    }
    fn, args = cases[op]
    check(fn, args, tol=tol)


# --------------------------------------------------------------------------- softmax and losses
@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS + ["float16"]),
       op=st.sampled_from(["softmax", "log_softmax", "softmax0", "cross_entropy", "nll_loss", "ce_probs"]))
def test_softmax_and_losses(data, op, dtype):
    n, c = data.draw(st.integers(0, 5), label="n"), data.draw(st.integers(1, 6), label="c")
    x = arg(data, (n, c), dtype)
    if op.startswith(("softmax", "log_softmax")):
        dim = 0 if op == "softmax0" else -1
        name = op.rstrip("0")
        check(lambda L, F, a: getattr(F, name)(a, dim=dim), [x])
        return
    seed = data.draw(st.integers(0, 1000), label="tseed")
    rng = np.random.default_rng(seed)
    bad = data.draw(st.sampled_from([False, False, False, True]), label="bad_target")
    target = rng.integers(0, c, size=n) if not bad else rng.integers(-2, c + 2, size=n)
    ignore = int(data.draw(st.sampled_from([-100, 0, 1]), label="ignore"))
    red = data.draw(st.sampled_from(["mean", "sum", "none"]), label="reduction")
    smooth = data.draw(st.sampled_from([0.0, 0.0, 0.1]), label="smooth")
    w = arg(data, (c,), dtype, grad=False, specials=False, low=0.1, high=2.0) if data.draw(st.booleans(), label="w") else None
    extra = [w] if w is not None else []
    if op == "ce_probs":
        probs = Arg(rng.dirichlet(np.ones(c), size=n).astype(dtype))
        check(lambda L, F, a, p, *wt: F.cross_entropy(a, p, *wt, reduction=red, label_smoothing=smooth),
              [x, probs] + extra)
        return
    if np.any(target == ignore):
        # an ignored row holding NaN/inf: torch's gradient there is 0 * NaN = NaN (log_softmax backward of an
        # ignored row), fastgrad's fused kernel gives 0; compared on finite rows only
        x = arg(data, (n, c), dtype, specials=False)
    t = Arg(target.astype(np.int64))
    if op == "nll_loss":
        check(lambda L, F, a, y, *wt: F.nll_loss(F.log_softmax(a, -1), y, *wt, ignore_index=ignore, reduction=red),
              [x, t] + extra)
    else:
        check(lambda L, F, a, y, *wt: F.cross_entropy(a, y, *wt, ignore_index=ignore, reduction=red,
                                                      label_smoothing=smooth), [x, t] + extra)


# --------------------------------------------------------------------------- conv and pooling
@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS), nd=st.sampled_from([1, 2]))
def test_conv(data, dtype, nd):
    groups = data.draw(st.sampled_from([1, 1, 2]), label="groups")
    n = data.draw(st.integers(0, 2), label="n")
    cin, cout = groups * data.draw(st.integers(1, 2), label="cin"), groups * data.draw(st.integers(1, 2), label="cout")
    size = tuple(data.draw(st.integers(1, 6), label="size") for _ in range(nd))
    kern = tuple(data.draw(st.integers(1, 3), label="k") for _ in range(nd))
    stride, pad, dil = (data.draw(st.integers(lo, hi), label=c) for c, lo, hi in
                        (("stride", 1, 2), ("pad", 0, 1), ("dil", 1, 2)))
    bias = data.draw(st.booleans(), label="bias")
    name = "conv%dd" % nd
    # non-finite weights only where they meet real inputs: 0 * inf at a padded position is NaN by IEEE rules,
    # and torch's result there depends on its kernel (its mkldnn path skips padding, its im2col path does not)
    args = [arg(data, (n, cin) + size, dtype, huge=False),
            arg(data, (cout, cin // groups) + kern, dtype, huge=False, inf=False)]
    if bias:
        args.append(arg(data, (cout,), dtype, huge=False))
    check(lambda L, F, x, w, *b: getattr(F, name)(x, w, *b, stride=stride, padding=pad, dilation=dil,
                                                  groups=groups), args)


@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS), nd=st.sampled_from([1, 2]), kind=st.sampled_from(["max", "avg"]))
def test_pooling(data, dtype, nd, kind):
    n, c = data.draw(st.integers(0, 2), label="n"), data.draw(st.integers(1, 3), label="c")
    size = tuple(data.draw(st.integers(1, 7), label="size") for _ in range(nd))
    k = data.draw(st.integers(1, 3), label="k")
    stride = data.draw(st.sampled_from([None, 1, 2]), label="stride")
    pad = data.draw(st.integers(0, k // 2), label="pad")
    ceil = data.draw(st.booleans(), label="ceil")
    x = arg(data, (n, c) + size, dtype, huge=False)
    name = "%s_pool%dd" % (kind, nd)
    if kind == "max":
        dil = data.draw(st.integers(1, 2), label="dil")
        ind = data.draw(st.booleans(), label="indices")
        # a window wholly in the (dilated) padding: torch sends its gradient to an unrelated element, or aborts
        # the process (SIGABRT), so it is no reference there: test_max_pool_window_wholly_in_padding checks it
        assume(not any(_empty_pool_window(s, k, stride or k, pad, dil, ceil) for s in size))
        check(lambda L, F, a: getattr(F, name)(a, k, stride, pad, dil, ceil_mode=ceil, return_indices=ind), [x])
    else:
        cip = data.draw(st.booleans(), label="count_include_pad")
        check(lambda L, F, a: getattr(F, name)(a, k, stride, pad, ceil_mode=ceil, count_include_pad=cip), [x])


def _empty_pool_window(size, k, stride, pad, dil, ceil):
    """Whether some output window of a max pooling along a dim of this size has no tap inside the input."""
    num = size + 2 * pad - dil * (k - 1) - 1 + (stride - 1 if ceil else 0)
    out = int(num / stride) + 1  # torch's output size: C division, truncating toward 0
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return any(all(not 0 <= o * stride - pad + j * dil < size for j in range(k)) for o in range(out))


def test_max_pool_window_wholly_in_padding():
    """max_pool2d(kernel 2, padding 1, dilation 2) on a 1-high input: every window's two rows are padding. The
    output is -inf (as torch) and depends on no input: its gradient is 0 (torch's goes to an element of
    another channel)."""
    x = fastgrad.tensor(np.arange(8, dtype=np.float32).reshape(1, 2, 1, 4), requires_grad=True)
    out = FF.max_pool2d(x, 2, None, 1, 2)
    assert _empty_pool_window(1, 2, 2, 1, 2, False)
    np.testing.assert_array_equal(out.detach().numpy(), np.full((1, 2, 1, 2), -np.inf, np.float32))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 2, 1, 4), np.float32))


# --------------------------------------------------------------------------- indexing
@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS),
       op=st.sampled_from(["embedding", "embedding_pad", "gather", "scatter", "scatter_add", "index_put",
                           "index_put_acc", "index_add", "index_select"]))
def test_indexing(data, dtype, op):
    rows, cols, n = (data.draw(st.integers(lo, 5), label=c) for c, lo in (("rows", 1), ("cols", 0), ("n", 0)))
    bad = data.draw(st.sampled_from([False, False, False, True]), label="out_of_range")
    seed = data.draw(st.integers(0, 1000), label="iseed")
    rng = np.random.default_rng(seed)
    idx = rng.integers(-rows if bad else 0, rows + (2 if bad else 0), size=n).astype(np.int64)
    if cols == 0 and bad:  # torch does not bounds-check an index that writes/reads nothing (zero-width rows)
        cols = 1
    x = arg(data, (rows, cols), dtype)
    I = Arg(idx)  # noqa: E741
    if op.startswith("embedding"):
        pad = 0 if op == "embedding_pad" else None
        check(lambda L, F, w, i: F.embedding(i, w, padding_idx=pad), [x, I])
    elif op == "index_select":
        check(lambda L, F, a, i: a.index_select(0, i), [x, I])
    elif op in ("gather", "scatter", "scatter_add"):
        gi = Arg(rng.integers(-1 if bad else 0, rows + (1 if bad else 0), size=(min(n, rows), cols)).astype(np.int64))
        src = arg(data, (min(n, rows), cols), dtype)
        if op == "gather":
            check(lambda L, F, a, i: L.gather(a, 0, i), [x, gi])
        else:
            check(lambda L, F, a, i, s: getattr(a, op)(0, i, s), [x, gi, src])
    elif op.startswith("index_put"):
        acc = op == "index_put_acc"
        v = arg(data, (n, cols), dtype)
        check(lambda L, F, a, i, s: a.index_put((i,), s, accumulate=acc), [x, I, v])
    else:
        v = arg(data, (n, cols), dtype)
        check(lambda L, F, a, i, s: a.index_add(0, i, s, alpha=0.5), [x, I, v])


# --------------------------------------------------------------------------- optimizers
OPTIMS = {"SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                  dict(lr=0.1, momentum=0.5, dampening=0.1, maximize=True)],
          "Adam": [dict(lr=0.01), dict(lr=0.01, amsgrad=True, weight_decay=0.1), dict(lr=0.01, maximize=True)],
          "AdamW": [dict(lr=0.01), dict(lr=0.01, amsgrad=True)], "Adamax": [dict(lr=0.01)],
          "NAdam": [dict(lr=0.01), dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)],
          "RAdam": [dict(lr=0.01), dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)],
          "RMSprop": [dict(lr=0.01), dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)],
          "Adagrad": [dict(lr=0.1), dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)],
          "Adadelta": [dict(lr=1.0)], "ASGD": [dict(lr=0.01)], "Rprop": [dict(lr=0.01)],
          "Adafactor": [dict(lr=0.01)]}


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(OPTIMS)), dtype=st.sampled_from(FLOATS))
def test_optimizer_steps(data, name, dtype):
    cfg = data.draw(st.sampled_from(OPTIMS[name]), label="cfg")
    foreach = data.draw(st.sampled_from([None, False, True]), label="foreach")
    if name != "Adafactor":
        cfg = dict(cfg, foreach=foreach)
    shapes_ = [shapes(data, 1, 2, 0, 4) for _ in range(data.draw(st.integers(1, 3), label="nparams"))]
    p0 = [values(data, s, dtype, specials=False) for s in shapes_]
    grads = [[values(data, s, dtype, huge=False) for s in shapes_] for _ in range(3)]
    res = {}
    for L in (torch, fastgrad):
        params = [L.nn.Parameter(L.tensor(p.copy())) for p in p0]
        opt = getattr(L.optim, name)(params, **cfg)
        try:
            for step in grads:
                for p, g in zip(params, step):
                    p.grad = L.tensor(g.copy())
                opt.step()
        except Exception as e:  # noqa: BLE001 -- e.g. torch's Adafactor on an empty parameter
            if L is fastgrad:
                raise
            with pytest.raises(type(e)):
                fparams = [fastgrad.nn.Parameter(fastgrad.tensor(p.copy())) for p in p0]
                fopt = getattr(fastgrad.optim, name)(fparams, **cfg)
                for step in grads:
                    for p, g in zip(fparams, step):
                        p.grad = fastgrad.tensor(g.copy())
                    fopt.step()
            return
        res[L.__name__] = [_np(p) for p in params]
    for i, (a, b) in enumerate(zip(res["fastgrad"], res["torch"])):
        tol = TOL[dtype] if dtype == "float64" else (1e-3, 1e-5)
        assert_same(a, b, "%s param %d" % (name, i), tol)


# --------------------------------------------------------------------------- recurrent cells and attention
@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS), cell=st.sampled_from(["LSTMCell", "GRUCell", "RNNCell"]))
def test_recurrent_cells(data, dtype, cell):
    b, i, h = data.draw(st.integers(0, 3), label="b"), data.draw(st.integers(1, 4), label="i"), \
        data.draw(st.integers(1, 4), label="h")
    unbatched = data.draw(st.booleans(), label="unbatched")
    bias = data.draw(st.booleans(), label="bias")
    gates = {"LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[cell]
    xs = (i,) if unbatched else (b, i)
    hs = (h,) if unbatched else (b, h)
    args = [arg(data, xs, dtype, huge=False), arg(data, hs, dtype, huge=False),
            arg(data, (gates * h, i), dtype, specials=False), arg(data, (gates * h, h), dtype, specials=False)]
    if bias:
        args += [arg(data, (gates * h,), dtype, specials=False), arg(data, (gates * h,), dtype, specials=False)]
    lstm = cell == "LSTMCell"
    if lstm:
        args.insert(2, arg(data, hs, dtype, huge=False))

    def fn(L, F, x, hx, *rest):
        if lstm:
            cx, rest = rest[0], rest[1:]
        m = getattr(L.nn, cell)(i, h, bias=bias).to(getattr(L, dtype))
        names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        for nm, t in zip(names, rest):  # the module computes with these views (non-contiguous, graph-connected)
            delattr(m, nm)
            setattr(m, nm, t)
        return m(x, (hx, cx)) if lstm else m(x, hx)
    check(fn, args)


@FUZZ
@given(data=st.data(), dtype=st.sampled_from(FLOATS))
def test_scaled_dot_product_attention(data, dtype):
    b, h, lq, lk, e, ev = (data.draw(st.integers(lo, 3), label=c) for c, lo in
                           (("b", 0), ("h", 1), ("lq", 0), ("lk", 1), ("e", 1), ("ev", 1)))
    causal = data.draw(st.booleans(), label="causal")
    mask_kind = "none" if causal else data.draw(st.sampled_from(["none", "bool", "float"]), label="mask")
    scale = data.draw(st.sampled_from([None, 0.5]), label="scale")
    # q, k without +-inf: a row whose scores are all -inf (inf * -x) is 0 in torch's fused CPU kernel and NaN in
    # its math path and here (a fully masked row, by mask, is 0 in both: tests/nn/test_attention.py)
    args = [arg(data, (b, h, lq, e), dtype, huge=False, inf=False), arg(data, (b, h, lk, e), dtype, huge=False, inf=False),
            arg(data, (b, h, lk, ev), dtype, huge=False)]
    if mask_kind == "bool":
        m = values(data, (lq, lk), "bool")
        m[:, 0] = True  # no fully masked row (torch gives NaN there; tested elsewhere)
        args.append(Arg(m))
    elif mask_kind == "float":
        args.append(arg(data, (lq, lk), dtype, specials=False))
    check(lambda L, F, q, k, v, *mask: F.scaled_dot_product_attention(q, k, v, *mask, is_causal=causal, scale=scale),
          args)


# --------------------------------------------------------------------------- bugs the fuzzing found
def test_argmax_argmin_refuse_bool_as_torch():
    for name in ("argmax", "argmin"):
        with pytest.raises(RuntimeError) as te:
            getattr(torch.tensor([True, False]), name)()
        with pytest.raises(RuntimeError) as fe:
            getattr(fastgrad.tensor([True, False]), name)()
        assert str(fe.value) == str(te.value)


def test_add_sub_alpha_takes_no_part_in_type_promotion():
    for a, b, alpha in [([True], [True], 2), ([True], [False], 0), ([1], [True], 2), ([1.5], [2], 2.5), ([3], [2], -1)]:
        t = torch.add(torch.tensor(a), torch.tensor(b), alpha=alpha)
        f = fastgrad.add(fastgrad.tensor(a), fastgrad.tensor(b), alpha=alpha)
        assert_same(f, t, "add %r %r alpha=%r" % (a, b, alpha))
    for fn in ("add", "sub"):
        with pytest.raises(RuntimeError) as te:
            getattr(torch, fn)(torch.tensor([1]), torch.tensor([2]), alpha=2.5)
        with pytest.raises(RuntimeError) as fe:
            getattr(fastgrad, fn)(fastgrad.tensor([1]), fastgrad.tensor([2]), alpha=2.5)
        assert str(fe.value) == str(te.value)


def test_integer_pow_with_negative_tensor_exponents_and_bool_pow_as_torch():
    a, b = np.array([-2, -1, 0, 1, 2, 3, -1]), np.array([-1, -2, -3, -1, -1, 2, -3])
    assert_same(fastgrad.pow(fastgrad.tensor(a), fastgrad.tensor(b)), torch.pow(torch.tensor(a), torch.tensor(b)), "pow")
    with pytest.raises(NotImplementedError) as te:
        torch.pow(torch.tensor([True]), torch.tensor([True]))
    with pytest.raises(NotImplementedError) as fe:
        fastgrad.pow(fastgrad.tensor([True]), fastgrad.tensor([True]))
    assert str(fe.value) == str(te.value)


def test_rprop_nan_and_inf_gradients_as_torch():
    """torch.sign(NaN) is 0: a NaN product of gradients (inf * 0) keeps the step size; np.sign made it NaN."""
    for g3 in (float("nan"), float("inf"), -float("inf")):
        res = []
        for L in (torch, fastgrad):
            p = L.nn.Parameter(L.tensor(np.array([0.5, -1.0], np.float32)))
            opt = L.optim.Rprop([p], lr=0.01)
            for g in ([0.3, 1.0], [-0.2, 1.0], [g3, 0.5], [0.1, g3]):
                p.grad = L.tensor(np.array(g, np.float32))
                opt.step()
            res.append(p)
        assert_same(res[1], res[0], "Rprop, gradient %r" % g3)
