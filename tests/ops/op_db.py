"""The op registry (OpInfo-style): one entry per op, each with sample inputs, that drives the
forward/gradient comparison with PyTorch, float64 gradcheck (tests/ops) and, later, the jvp
and double-backward checks (tests/autograd).

An entry is ``OpInfo(name, fn, samples, differentiable=True, dtypes=(float32, float64), ...)``:

* ``fn(L, *tensors, **kwargs)`` is one expression run with ``L = fastgrad`` or ``L = torch``
  (``entry.fastgrad_fn`` / ``entry.torch_fn`` bind it);
* ``samples()`` returns a list of ``Sample(*args, noncontig=False, **kwargs)``. A float array in
  args becomes a tensor that requires grad (float32 or float64 per test), an integer or bool array
  a plain tensor, anything else is passed as is. ``noncontig=True`` makes every float array a
  non-contiguous view; ``nograd`` lists argument positions whose float arrays must not require
  grad (PyTorch refuses a gradient for, e.g., a loss's class weights). Shapes cover scalars (0-d), empty, broadcasting and views.

Sample values keep away from kinks (ties, 0 for abs/relu, clamp bounds, integers for floor) so
finite differences are valid. ``iter_cases()`` flattens the registry into (entry, index, sample).
"""
import numpy as np

FLOATS = ("float32", "float64")


class Sample:
    def __init__(self, *args, noncontig=False, nograd=(), **kwargs):
        self.args, self.kwargs, self.noncontig, self.nograd = args, kwargs, noncontig, nograd

    def arrays(self):
        return [a for a in self.args if isinstance(a, np.ndarray)]

    def has_empty(self):
        return any(a.size == 0 for a in self.arrays() if a.dtype.kind == "f")

    def __repr__(self):
        parts = [("%s%s" % (a.dtype, list(a.shape))) if isinstance(a, np.ndarray) else repr(a) for a in self.args]
        parts += ["%s=%r" % kv for kv in self.kwargs.items()]
        return "Sample(%s%s)" % (", ".join(parts), ", noncontig" if self.noncontig else "")


class OpInfo:
    def __init__(self, name, fn, samples, *, differentiable=True, dtypes=FLOATS, gradcheck=True,
                 compare_grads=True, rtol=None, atol=None, grad_rtol=None, grad_atol=None, eps=1e-6,
                 gc_atol=1e-5, gc_rtol=1e-3, note=""):
        self.name, self.fn, self.samples = name, fn, samples
        self.differentiable, self.dtypes = differentiable, dtypes
        self.gradcheck = gradcheck and differentiable
        self.compare_grads = compare_grads and differentiable
        self.rtol, self.atol, self.grad_rtol, self.grad_atol = rtol, atol, grad_rtol, grad_atol
        self.eps, self.gc_atol, self.gc_rtol = eps, gc_atol, gc_rtol
        self.note = note

    @property
    def fastgrad_fn(self):
        import fastgrad

        return lambda *a, **k: self.fn(fastgrad, *a, **k)

    @property
    def torch_fn(self):
        import torch

        return lambda *a, **k: self.fn(torch, *a, **k)

    def __repr__(self):
        return "OpInfo(%s)" % self.name


# --------------------------------------------------------------------------- sample helpers
_rs = np.random.RandomState(1234)


def U(*shape, lo=-1.0, hi=1.0):
    return _rs.uniform(lo, hi, shape)


def P(*shape, lo=0.5, hi=2.0):
    return _rs.uniform(lo, hi, shape)


def away(*shape, gap=0.2, hi=1.0):
    """Values with |v| in [gap, hi]: no element near 0."""
    return _rs.uniform(gap, hi, shape) * np.where(_rs.rand(*shape) < 0.5, -1.0, 1.0)


def distinct(*shape, step=0.25):
    """Distinct values (no ties), spaced by `step`."""
    n = int(np.prod(shape)) if shape else 1
    return ((_rs.permutation(n) - n / 2.0) * step + _rs.uniform(0, 0.05, n)).reshape(shape)


def frac_vals(*shape):
    """Values at least 0.2 away from every integer (and half-integer)."""
    return (_rs.randint(-3, 3, shape) + _rs.uniform(0.1, 0.4, shape) * np.where(_rs.rand(*shape) < 0.5, 1, 1.5))


def I(*values):  # noqa: E743
    return np.array(values if len(values) != 1 else values[0], dtype=np.int64)


def B(*values):
    return np.array(values if len(values) != 1 else values[0], dtype=bool)


def svd_mat(m, n, batch=()):
    """A random matrix with well separated singular values (3.5, 2.5, 1.5, 0.7, ...), which the
    derivatives of U and Vh divide by the differences of."""
    k = min(m, n)
    q1 = np.linalg.qr(_rs.standard_normal(batch + (m, m)))[0][..., :k]
    q2 = np.linalg.qr(_rs.standard_normal(batch + (n, n)))[0][..., :k]
    s = np.array([3.5, 2.5, 1.5, 0.7, 0.3, 0.1])[:k]
    return (q1 * s) @ np.swapaxes(q2, -1, -2)


def spd(n, batch=()):
    a = _rs.uniform(-1, 1, batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def unary_samples(gen=U, **kw):
    """(3, 4), 0-d, empty, 1-D and a non-contiguous view."""
    return lambda: [Sample(gen(3, 4, **kw)), Sample(np.asarray(gen(1, **kw)[0])),
                    Sample(gen(0, 3, **kw)), Sample(gen(5, **kw)), Sample(gen(4, 3, **kw), noncontig=True)]


def binary_samples(ga=U, gb=U, scalar=1.5):
    """Same shapes, broadcasting both ways, 0-d, empty, a view, and (unless None) a Python scalar."""
    def make():
        out = [Sample(ga(3, 4), gb(3, 4)), Sample(ga(3, 4), gb(4)), Sample(ga(2, 1, 4), gb(3, 1)),
               Sample(np.asarray(ga(1)[0]), gb(2, 3)), Sample(ga(0, 4), gb(4)), Sample(ga(3, 4), gb(3, 4), noncontig=True)]
        return out + ([Sample(ga(2, 3), scalar)] if scalar is not None else [])
    return make


def reduce_samples(gen=U, tuple_dims=True, empty=True):
    def make():
        out = [Sample(gen(3, 4)), Sample(gen(3, 4), 0), Sample(gen(3, 4), -1, True), Sample(gen(2, 3, 2), 1),
               Sample(np.asarray(gen(1)[0])), Sample(gen(4, 3), 1, noncontig=True)]
        if tuple_dims:
            out += [Sample(gen(2, 3, 2), (0, 2)), Sample(gen(2, 3, 2), (-1, 0), True)]
        if empty:
            out += [Sample(gen(0, 3), 1)]
        return out
    return make


# --------------------------------------------------------------------------- the registry
OPS = []


def op(name, fn, samples, **kw):
    OPS.append(OpInfo(name, fn, samples, **kw))


def _nodiff(name, fn, samples, **kw):
    op(name, fn, samples, differentiable=False, **kw)


# ---- elementwise unary: the function and the Tensor method
_UNARY = [("exp", U), ("log", P), ("sqrt", P), ("abs", away), ("sin", U), ("cos", U), ("tan", U), ("neg", U),
          ("sign", away), ("sigmoid", U), ("tanh", U), ("relu", away), ("expm1", U), ("log1p", P), ("log2", P),
          ("log10", P), ("rsqrt", P), ("reciprocal", away), ("square", U), ("asin", U), ("acos", U), ("atan", U),
          ("sinh", U), ("cosh", U), ("asinh", U), ("acosh", lambda *s: P(*s, lo=1.2, hi=3)),
          ("atanh", lambda *s: U(*s, lo=-0.8, hi=0.8)), ("erf", U), ("erfc", U), ("floor", frac_vals),
          ("ceil", frac_vals), ("round", frac_vals), ("trunc", frac_vals), ("frac", frac_vals), ("deg2rad", U),
          ("rad2deg", U), ("sinc", away)]
for _name, _gen in _UNARY:
    op(_name, (lambda n: lambda L, x: getattr(L, n)(x))(_name), unary_samples(_gen))
    op(_name + "_method", (lambda n: lambda L, x: getattr(x, n)())(_name), (lambda g: lambda: [Sample(g(2, 3))])(_gen))

op("round_decimals", lambda L, x: L.round(x, decimals=2), lambda: [Sample(U(3, 4) * 10)], gradcheck=False)
op("clamp", lambda L, x: L.clamp(x, -0.5, 0.5), lambda: [Sample(I([[-9, -3, 1], [3, 8, -1]]) / 10.0)])
op("clamp_min", lambda L, x: L.clamp(x, min=0.1), unary_samples(away))
op("clamp_max_clip", lambda L, x: L.clip(x, max=-0.1), unary_samples(away))
op("clamp_tensor", lambda L, x, lo, hi: L.clamp(x, lo, hi),
   lambda: [Sample(np.array([-0.9, -0.3, 0.1, 0.9]), np.array([-0.5, -0.5, 0.4, 0.0]), np.array([0.5, 0.6, 0.7, 0.5]))])
op("nan_to_num", lambda L, x: L.nan_to_num(x, nan=0.5, posinf=2.0),
   lambda: [Sample(np.array([0.1, np.nan, np.inf, -np.inf, -0.3]))], gradcheck=False)
op("nan_to_num_finite", lambda L, x: L.nan_to_num(x), unary_samples(U))
op("int_exp_promotes", lambda L, x: L.exp(x), lambda: [Sample(I([1, 2, 3]))], differentiable=False)
op("int_abs", lambda L, x: L.abs(x), lambda: [Sample(I([-1, 2, -3]))], differentiable=False)

# ---- elementwise binary
op("add", lambda L, a, b: L.add(a, b), binary_samples())
op("add_alpha", lambda L, a, b: L.add(a, b, alpha=2.5), binary_samples(scalar=2))
op("sub", lambda L, a, b: L.sub(a, b), binary_samples())
op("rsub_scalar", lambda L, a: 1.5 - a, unary_samples())
op("mul", lambda L, a, b: L.mul(a, b), binary_samples())
op("div", lambda L, a, b: L.div(a, b), binary_samples(gb=away))
op("true_divide", lambda L, a, b: L.true_divide(a, b), binary_samples(gb=away))
op("rdiv_scalar", lambda L, a: 2.0 / a, unary_samples(away))
op("pow_tensor", lambda L, a, b: L.pow(a, b), binary_samples(ga=P))
op("pow_scalar", lambda L, a: L.pow(a, 3), unary_samples())
op("pow_frac", lambda L, a: a ** 1.5, unary_samples(P))
op("rpow", lambda L, a: 2.0 ** a, unary_samples())
op("atan2", lambda L, a, b: L.atan2(a, b), binary_samples(gb=away, scalar=None))
op("maximum", lambda L, a, b: L.maximum(a, b), lambda: [Sample(distinct(3, 4), distinct(3, 4) + 0.1),
                                                         Sample(distinct(3, 4), distinct(4) + 0.1)])
op("minimum", lambda L, a, b: L.minimum(a, b), lambda: [Sample(distinct(3, 4), distinct(3, 4) + 0.1),
                                                         Sample(distinct(2, 1, 4), distinct(3, 1) + 0.1)])
op("lerp_scalar", lambda L, a, b: L.lerp(a, b, 0.3), lambda: [Sample(U(3, 4), U(3, 4)), Sample(U(3, 4), U(4))])
op("lerp_tensor", lambda L, a, b, w: L.lerp(a, b, w), lambda: [Sample(U(3, 4), U(3, 4), U(3, 4)), Sample(U(3, 4), U(4), U(3, 1))])
op("hypot", lambda L, a, b: L.hypot(a, b), binary_samples(ga=away, gb=away, scalar=None))
op("xlogy", lambda L, a, b: L.xlogy(a, b), binary_samples(gb=P, scalar=1.5))
op("logaddexp", lambda L, a, b: L.logaddexp(a, b), binary_samples(scalar=None))
op("where", lambda L, c, a, b: L.where(c, a, b), lambda: [Sample(B([[True, False, True], [False, False, True]]), U(2, 3), U(2, 3)),
                                                          Sample(B([True, False, True]), U(2, 3), U(1))])
op("where_scalar", lambda L, a: L.where(a > 0, a, 0.0), unary_samples(away))
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    _nodiff(_name, (lambda n: lambda L, a, b: getattr(L, n)(a, b))(_name),
            lambda: [Sample(I([[1, 2, 3], [3, 2, 1]]), I([2, 2, 2])), Sample(np.array([0.5, -1.0, 2.0]), np.array([0.5, 1.0, -2.0])),
                     Sample(np.array([0.5, 0.0, 2.0]), np.asarray(0.5))])
for _name in ("logical_not", "isnan", "isinf", "isfinite", "signbit"):
    _nodiff(_name, (lambda n: lambda L, a: getattr(L, n)(a))(_name),
            lambda: [Sample(np.array([0.0, -1.0, np.nan, np.inf, -np.inf, 2.0])), Sample(I([0, 1, 2]))])
_nodiff("floor_divide", lambda L, a, b: L.floor_divide(a, b), lambda: [Sample(I([7, -7, 5]), I([2, 2, -3])), Sample(U(3) * 5, away(3))])
_nodiff("remainder_int", lambda L, a, b: L.remainder(a, b), lambda: [Sample(I([7, -7, 5]), I([2, 2, -3]))])
_nodiff("fmod_int", lambda L, a, b: L.fmod(a, b), lambda: [Sample(I([7, -7, 5]), I([2, 2, -3])),
                                                           Sample(I([7, -7, 5]), 3)])


def mod_samples(inplace=False):
    """a / b at least 0.1 from every integer (the kinks of floor and trunc): a = q * b or b = a / q."""
    def pair(sa, sb):
        if len(sa) >= len(sb):
            b = np.asarray(away(*sb))
            return np.asarray(frac_vals(*sa)) * b, b
        a = np.asarray(away(*sa))
        return a, a / frac_vals(*sb)

    def make():
        out = [Sample(*pair((3, 4), (3, 4))), Sample(*pair((3, 4), (4,))), Sample(*pair((2, 3), ())),
               Sample(frac_vals(2, 3) * -1.5, -1.5), Sample(*pair((4, 3), (4, 3)), noncontig=True)]
        if not inplace:  # the result must have a's shape in place
            out += [Sample(*pair((4,), (3, 4))), Sample(*pair((), (2, 3))), Sample(*pair((0, 4), (4,)))]
        return out
    return make


op("remainder", lambda L, a, b: L.remainder(a, b), mod_samples())
op("fmod", lambda L, a, b: L.fmod(a, b), mod_samples())
op("remainder_method_operator", lambda L, a, b: a.remainder(b) + (a % b) * 2, mod_samples())
op("fmod_method", lambda L, a, b: a.fmod(b), mod_samples())
op("remainder_inplace", lambda L, a, b: (a * 1).remainder_(b), mod_samples(inplace=True))
op("fmod_inplace", lambda L, a, b: (a * 1).fmod_(b), mod_samples(inplace=True))

# ---- reductions
op("sum", lambda L, x, *a: L.sum(x, *a), reduce_samples())
op("sum_method_dtype", lambda L, x: x.sum(dtype=L.float64), lambda: [Sample(U(3, 4))])
op("mean", lambda L, x, *a: L.mean(x, *a), reduce_samples(empty=False))
op("prod", lambda L, x, *a: L.prod(x, *a), lambda: [Sample(U(3, 4)), Sample(U(3, 4), 1), Sample(U(2, 3), 0, True),
                                                   Sample(np.array([[0.5, 0.0, 2.0], [1.5, -1.0, 0.7]]), 1),
                                                   Sample(np.array([[0.5, 0.0, 0.0], [1.5, -1.0, 0.7]])),
                                                   Sample(np.array([0.5, 0.0, 2.0, 1.1])), Sample(U(0, 3), 1),
                                                   Sample(np.asarray(0.7))])
op("var", lambda L, x, *a, **k: L.var(x, *a, **k), lambda: [
    Sample(U(3, 4)), Sample(U(3, 4), 0), Sample(U(3, 4), 1, keepdim=True), Sample(U(3, 4), (0, 1)),
    Sample(U(3, 4), 1, correction=0), Sample(U(3, 4), unbiased=False), Sample(U(2, 3, 3), -1, correction=2),
    Sample(U(4, 3), 0, noncontig=True)])
op("std", lambda L, x, *a, **k: L.std(x, *a, **k), lambda: [
    Sample(U(3, 4)), Sample(U(3, 4), 0), Sample(U(3, 4), 1, keepdim=True), Sample(U(3, 4), 1, correction=0)])
op("std_constant_row", lambda L, x: L.std(x, 1), lambda: [Sample(np.array([[0.5, 0.5, 0.5], [0.1, 0.2, 0.4]]))],
   gradcheck=False)
op("var_mean", lambda L, x: L.var_mean(x, 1), lambda: [Sample(U(3, 4))])
op("std_mean", lambda L, x: L.std_mean(x, 0), lambda: [Sample(U(3, 4))])
op("amax", lambda L, x, *a: L.amax(x, *a), reduce_samples(distinct, empty=False))
op("amin", lambda L, x, *a: L.amin(x, *a), reduce_samples(distinct, empty=False))
op("amax_ties", lambda L, x: L.amax(x, 1), lambda: [Sample(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))],
   gradcheck=False)
op("max_all", lambda L, x: L.max(x), lambda: [Sample(distinct(3, 4)), Sample(np.asarray(0.3))])
op("max_dim", lambda L, x, d, *k: L.max(x, d, *k), lambda: [Sample(distinct(3, 4), 1), Sample(distinct(3, 4), 0, True),
                                                           Sample(distinct(4, 3), -1, noncontig=True)])
op("min_dim", lambda L, x, d: L.min(x, d), lambda: [Sample(distinct(3, 4), 1), Sample(distinct(2, 3, 2), 2)])
op("max_binary", lambda L, a, b: L.max(a, b), lambda: [Sample(distinct(3, 4), distinct(3, 4) + 0.1)])
_nodiff("argmax", lambda L, x, *a: L.argmax(x, *a), lambda: [Sample(distinct(3, 4)), Sample(distinct(3, 4), 1),
                                                            Sample(distinct(3, 4), 0, True)])
_nodiff("argmin", lambda L, x, *a: L.argmin(x, *a), lambda: [Sample(distinct(3, 4)), Sample(distinct(3, 4), -1)])
op("logsumexp", lambda L, x, d, *k: L.logsumexp(x, d, *k), lambda: [
    Sample(U(3, 4) * 5, 1), Sample(U(3, 4), 0, True), Sample(U(2, 3, 2), (0, 2)), Sample(U(0, 3), 1),
    Sample(np.array([[1e4, 1e4 - 1.0], [-1e4, 3.0]]), 1), Sample(U(4, 3), 1, noncontig=True)])
op("logsumexp_neginf", lambda L, x: L.logsumexp(x, 1), lambda: [Sample(np.array([[-np.inf, -np.inf], [0.5, -np.inf]]))],
   gradcheck=False)
op("cumsum", lambda L, x, d: L.cumsum(x, d), lambda: [Sample(U(3, 4), 1), Sample(U(3, 4), 0), Sample(U(5), 0),
                                                      Sample(U(4, 3), -1, noncontig=True), Sample(U(0, 3), 1)])
op("cumprod", lambda L, x, d: L.cumprod(x, d), lambda: [Sample(U(3, 4), 1), Sample(U(5), 0),
                                                        Sample(np.array([[0.5, 0.0, 2.0, 1.5], [1.5, -1.0, 0.0, 0.0]]), 1)])
op("cummax", lambda L, x, d: L.cummax(x, d), lambda: [Sample(distinct(3, 4), 1), Sample(distinct(5), 0)])
op("logcumsumexp", lambda L, x, d: L.logcumsumexp(x, d), lambda: [Sample(U(3, 4), 1)])
_nodiff("all", lambda L, x, *a: L.all(x, *a), lambda: [Sample(B([[True, False], [True, True]])), Sample(B([[True, False], [True, True]]), 1),
                                                       Sample(np.array([[1.0, 0.0], [2.0, 3.0]]), 0)])
_nodiff("any", lambda L, x, *a: L.any(x, *a), lambda: [Sample(B([[True, False], [False, False]])), Sample(B([[True, False], [False, False]]), 1, True)])
_nodiff("count_nonzero", lambda L, x, *a: L.count_nonzero(x, *a), lambda: [Sample(np.array([[1.0, 0.0], [2.0, 0.0]])),
                                                                           Sample(np.array([[1.0, 0.0], [2.0, 0.0]]), 0)])
op("nansum", lambda L, x: L.nansum(x), lambda: [Sample(np.array([0.5, np.nan, 1.5]))], gradcheck=False)
op("nanmean", lambda L, x: L.nanmean(x), lambda: [Sample(np.array([0.5, np.nan, 1.5]))], gradcheck=False)
op("softmax", lambda L, x, d: L.softmax(x, d), lambda: [Sample(U(3, 4), 1), Sample(U(3, 4), 0), Sample(U(2, 3, 2), 1),
                                                        Sample(U(4, 3), -1, noncontig=True)])
op("log_softmax", lambda L, x, d: L.log_softmax(x, d), lambda: [Sample(U(3, 4), 1), Sample(U(2, 3, 2), 0),
                                                                Sample(np.array([[1e4, 0.0, -1e4]]), 1)])
op("softmax_method", lambda L, x: x.softmax(-1), lambda: [Sample(U(3, 4))])
op("log_softmax_method", lambda L, x: x.log_softmax(dim=0), lambda: [Sample(U(3, 4))])

# ---- norms
op("norm_fro", lambda L, x: L.norm(x, p="fro"), lambda: [Sample(U(3, 4)), Sample(U(5)), Sample(np.zeros((2, 2)))],
   gradcheck=True)
op("norm_default", lambda L, x, *a, **k: L.norm(x, *a, **k), lambda: [
    Sample(U(3, 4)), Sample(U(3, 4), 1), Sample(U(3, 4), 2, 0), Sample(U(3, 4), 1, 1, True), Sample(away(3, 4), float("inf")),
    Sample(distinct(3, 4), float("inf"), 1), Sample(away(3, 4), 3), Sample(U(3, 4), "fro", (0, 1)),
    Sample(U(3, 4), "nuc")])
op("norm_method", lambda L, x: x.norm(), lambda: [Sample(U(3, 4))])
op("vector_norm", lambda L, x, *a, **k: L.linalg.vector_norm(x, *a, **k), lambda: [
    Sample(U(3, 4)), Sample(away(3, 4), 1, 1), Sample(distinct(3, 4), float("-inf"), 0), Sample(away(3, 4), 0.5),
    Sample(U(2, 3, 2), 2, (0, 2), True), Sample(np.asarray(-0.5))])
op("vector_norm_zero", lambda L, x: L.linalg.vector_norm(x, 2, 1), lambda: [Sample(np.array([[0.0, 0.0], [0.3, 0.4]]))],
   gradcheck=False)
op("matrix_norm", lambda L, x, *a, **k: L.linalg.matrix_norm(x, *a, **k), lambda: [
    Sample(U(3, 4)), Sample(U(2, 3, 3), "nuc"), Sample(distinct(3, 4), 2), Sample(distinct(3, 4), -2),
    Sample(distinct(3, 4), 1), Sample(distinct(3, 4), float("inf"), keepdim=True), Sample(distinct(3, 4), -1),
    Sample(U(2, 3, 4), "fro", (0, 2))])
op("linalg_norm", lambda L, x, *a: L.linalg.norm(x, *a), lambda: [Sample(U(3, 4)), Sample(U(5), 3), Sample(U(3, 4), "fro"),
                                                                  Sample(distinct(3, 4), 1)])

# ---- sorting and selection
op("sort", lambda L, x, *a: L.sort(x, *a), lambda: [Sample(distinct(3, 4)), Sample(distinct(3, 4), 0),
                                                     Sample(distinct(3, 4), 1, True), Sample(distinct(5))])
_nodiff("argsort", lambda L, x, *a: L.argsort(x, *a), lambda: [Sample(distinct(3, 4)), Sample(distinct(3, 4), 0, True)])
op("topk", lambda L, x, k, *a: L.topk(x, k, *a), lambda: [Sample(distinct(3, 5), 2), Sample(distinct(3, 5), 2, 0),
                                                          Sample(distinct(3, 5), 3, 1, False), Sample(distinct(6), 6)])
op("kthvalue", lambda L, x, k, *a: L.kthvalue(x, k, *a), lambda: [Sample(distinct(3, 5), 2), Sample(distinct(3, 5), 1, 0, True)])
op("median", lambda L, x, *a: L.median(x, *a), lambda: [Sample(distinct(3, 5)), Sample(distinct(3, 4)), Sample(distinct(3, 4), 1)])
op("msort", lambda L, x: L.msort(x), lambda: [Sample(distinct(4, 3))])
_nodiff("unique", lambda L, x, **k: L.unique(x, **k), lambda: [
    Sample(I([3, 1, 2, 3, 1, 5])), Sample(I([3, 1, 2, 3, 1, 5]), return_counts=True),
    Sample(I([[3, 1], [2, 3]]), return_inverse=True, return_counts=True), Sample(np.array([0.5, -1.0, 0.5]))])
_nodiff("unique_dim", lambda L, x: L.unique(x, dim=0), lambda: [Sample(I([[1, 2], [0, 1], [1, 2]]))])

# ---- shape and indexing
op("cat", lambda L, *ts, dim=0: L.cat(ts, dim), lambda: [
    Sample(U(2, 3), U(1, 3)), Sample(U(2, 3), U(2, 1), U(2, 2), dim=1), Sample(U(2, 3), U(0, 3)),
    Sample(U(2, 3), U(0)), Sample(U(3, 2), U(3, 2), dim=-1, noncontig=True)])
op("concatenate", lambda L, a, b: L.concatenate([a, b], 1), lambda: [Sample(U(2, 3), U(2, 2))])
op("stack", lambda L, *ts, dim=0: L.stack(ts, dim), lambda: [Sample(U(2, 3), U(2, 3)), Sample(U(2, 3), U(2, 3), dim=2),
                                                             Sample(np.asarray(0.5), np.asarray(0.2))])
op("hstack", lambda L, a, b: L.hstack([a, b]), lambda: [Sample(U(2, 3), U(2, 1)), Sample(U(3), U(2))])
op("vstack", lambda L, a, b: L.vstack([a, b]), lambda: [Sample(U(2, 3), U(1, 3)), Sample(U(3), U(3))])
op("split", lambda L, x, s, *d: L.split(x, s, *d), lambda: [Sample(U(5, 3), 2), Sample(U(5, 3), [1, 4]), Sample(U(2, 6), 3, 1)])
op("chunk", lambda L, x, c, *d: L.chunk(x, c, *d), lambda: [Sample(U(5, 3), 2), Sample(U(2, 6), 4, 1)])
op("tensor_split", lambda L, x, s, *d: L.tensor_split(x, s, *d), lambda: [Sample(U(5, 3), 3), Sample(U(5, 3), [1, 3])])
op("unbind", lambda L, x, *d: L.unbind(x, *d), lambda: [Sample(U(3, 2)), Sample(U(3, 2), 1)])
op("flip", lambda L, x, d: L.flip(x, d), lambda: [Sample(U(3, 4), (0,)), Sample(U(2, 3, 2), (0, 2)), Sample(U(4, 3), (-1,), noncontig=True)])
op("fliplr", lambda L, x: L.fliplr(x), lambda: [Sample(U(3, 4))])
op("roll", lambda L, x, s, *d: L.roll(x, s, *d), lambda: [Sample(U(3, 4), 1), Sample(U(3, 4), 2, 1), Sample(U(3, 4), (1, -1), (0, 1))])
op("repeat", lambda L, x, *s: x.repeat(*s), lambda: [Sample(U(2, 3), 2, 1), Sample(U(3), 2, 2), Sample(U(2, 3), 1, 2, 3),
                                                     Sample(np.asarray(0.5), 3)])
op("tile", lambda L, x, d: L.tile(x, d), lambda: [Sample(U(2, 3), (2,)), Sample(U(3), (2, 2))])
op("repeat_interleave", lambda L, x, r, *d: L.repeat_interleave(x, r, *d), lambda: [
    Sample(U(2, 3), 2), Sample(U(2, 3), 2, 1), Sample(U(3, 2), I([1, 0, 2]), 0)])
op("narrow", lambda L, x, d, s, n: L.narrow(x, d, s, n), lambda: [Sample(U(4, 3), 0, 1, 2), Sample(U(4, 3), -1, -2, 2)])
op("select", lambda L, x, d, i: L.select(x, d, i), lambda: [Sample(U(4, 3), 0, 1), Sample(U(4, 3), 1, -1)])
op("index_select", lambda L, x, d, i: L.index_select(x, d, i), lambda: [
    Sample(U(4, 3), 0, I([0, 2, 2, 0])), Sample(U(4, 3), 1, I([2])), Sample(U(4, 3), 0, np.zeros(0, np.int64))])
op("gather", lambda L, x, d, i: L.gather(x, d, i), lambda: [Sample(U(3, 4), 1, I([[0, 2], [1, 1], [3, 3]])),
                                                            Sample(U(3, 4), 0, I([[0, 2, 2, 1]]))])
op("take_along_dim", lambda L, x, i, *d: L.take_along_dim(x, i, *d), lambda: [
    Sample(U(3, 4), I([[0, 2], [1, 1], [3, 3]]), 1), Sample(U(3, 4), I([0, 5, 5]))])
op("take", lambda L, x, i: L.take(x, i), lambda: [Sample(U(3, 4), I([[0, 11], [5, 5]]))])
op("scatter", lambda L, x, d, i, s: L.scatter(x, d, i, s), lambda: [
    Sample(U(3, 4), 1, I([[0, 2], [1, 3], [3, 0]]), U(3, 2)), Sample(U(3, 4), 0, I([[0, 2, 1, 1]]), U(1, 4))])
op("scatter_value", lambda L, x, d, i: L.scatter(x, d, i, 0.5), lambda: [Sample(U(3, 4), 1, I([[0, 2], [1, 3], [3, 0]]))])
op("scatter_add", lambda L, x, d, i, s: L.scatter_add(x, d, i, s), lambda: [
    Sample(U(3, 4), 1, I([[0, 0], [1, 3], [3, 3]]), U(3, 2)), Sample(U(3, 4), 0, I([[0, 2, 2, 0], [0, 0, 1, 1]]), U(2, 4))])


def scatter_reduce_samples(reduce, include_self):
    """Repeated indices, an index smaller than self off dim, and (prod) zeros in self and src:
    one zero, and two going to the same place. Values are distinct (no ties for amax/amin)."""
    g = (lambda *s: distinct(*s, step=0.3)) if reduce in ("amax", "amin") else (lambda *s: U(*s, lo=0.5, hi=1.5))

    def make():
        out = [Sample(g(3, 4), 1, I([[0, 0], [1, 3], [3, 3]]), g(3, 2)),
               Sample(g(3, 4), 0, I([[0, 2, 2, 0], [0, 0, 1, 1]]), g(2, 4)),
               Sample(g(2, 3, 2), 0, I([[[0, 1], [1, 1]], [[1, 0], [0, 0]]]), g(2, 2, 2)),
               Sample(g(4, 3), 1, I([[2, 2, 0], [1, 0, 0], [0, 0, 0], [1, 1, 2]]), g(4, 3), noncontig=True),
               Sample(g(3, 4), 1, np.zeros((3, 0), np.int64), g(3, 0))]
        if reduce == "prod":  # zeros (two zeros going to one place: test_op_numerics)
            out.append(Sample(np.array([[0.0, 1.5, 2.0], [1.2, 0.0, 0.7]]), 1, I([[0, 0, 1], [1, 1, 2]]),
                              np.array([[2.0, 0.5, 0.0], [0.3, 0.0, 1.3]])))
        return out
    return make


for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        op("scatter_reduce_%s%s" % (_reduce, "" if _inc else "_exclude_self"),
           (lambda r, inc: lambda L, x, d, i, s: L.scatter_reduce(x, d, i, s, r, include_self=inc))(_reduce, _inc),
           scatter_reduce_samples(_reduce, _inc))
op("scatter_reduce_method", lambda L, x, d, i, s: x.scatter_reduce(d, i, s, "amax", include_self=False),
   scatter_reduce_samples("amax", False))
op("scatter_reduce_inplace", lambda L, x, d, i, s: (x * 1).scatter_reduce_(d, i, s, reduce="prod"),
   scatter_reduce_samples("prod", True))
_nodiff("scatter_reduce_int", lambda L, x, d, i, s, r: L.scatter_reduce(x, d, i, s, r), lambda: [
    Sample(I([[-7, 2, 3], [4, 5, 6]]), 1, I([[0, 0], [1, 1]]), I([[1, 2], [9, 10]]), r)
    for r in ("sum", "prod", "mean", "amax", "amin")])
op("scatter_with_reduce", lambda L, x, d, i, s, **k: L.scatter(x, d, i, s, **k), lambda: [
    Sample(U(3, 4), 1, I([[0, 0], [1, 3], [3, 3]]), U(3, 2), reduce="add"),
    Sample(U(3, 4), 0, I([[0, 2, 2, 0], [0, 0, 1, 1]]), U(2, 4), reduce="multiply"),
    Sample(U(3, 4), 1, I([[0, 0], [1, 3], [3, 3]]), 1.5, reduce="multiply"),
    Sample(U(3, 4), 1, I([[0, 0], [1, 3], [3, 3]]), 1.5, reduce="add")],
   compare_grads=False, gradcheck=False, note="PyTorch has no derivative for scatter with reduce (see test_op_errors)")
op("scatter_with_reduce_inplace", lambda L, x, d, i, s: (x * 1).scatter_(d, i, s, reduce="add"), lambda: [
    Sample(U(3, 4), 1, I([[0, 0], [1, 3], [3, 3]]), U(3, 2))], compare_grads=False, gradcheck=False)
op("index_add", lambda L, x, d, i, s: L.index_add(x, d, i, s), lambda: [Sample(U(3, 4), 0, I([0, 2, 0]), U(3, 4))])
op("masked_fill", lambda L, x, m: L.masked_fill(x, m, -0.5), lambda: [
    Sample(U(2, 3), B([[True, False, True], [False, False, True]])), Sample(U(2, 3), B([True, False, False]))])
op("masked_fill_tensor_value", lambda L, x, m, v: x.masked_fill(m, v), lambda: [
    Sample(U(2, 3), B([[True, False, True], [False, False, True]]), np.asarray(0.25))])
op("masked_select", lambda L, x, m: L.masked_select(x, m), lambda: [
    Sample(U(2, 3), B([[True, False, True], [False, False, True]])), Sample(U(2, 3), B([True, False, True]))])
_nodiff("nonzero", lambda L, x, **k: L.nonzero(x, **k), lambda: [Sample(np.array([[0.0, 1.0], [2.0, 0.0]])),
                                                                 Sample(I([0, 3, 0, 1]), as_tuple=True)])
op("tril", lambda L, x, *k: L.tril(x, *k), lambda: [Sample(U(3, 4)), Sample(U(3, 4), 1), Sample(U(2, 3, 3), -1)])
op("triu", lambda L, x, *k: L.triu(x, *k), lambda: [Sample(U(3, 4)), Sample(U(4, 3), -1), Sample(U(2, 3, 3), 1)])
op("diag", lambda L, x, *k: L.diag(x, *k), lambda: [Sample(U(3)), Sample(U(3), 1), Sample(U(3, 4)), Sample(U(3, 4), -1)])
op("diagonal", lambda L, x, *a: L.diagonal(x, *a), lambda: [Sample(U(3, 4)), Sample(U(3, 4), 1), Sample(U(2, 3, 4), 0, 1, 2),
                                                            Sample(U(2, 3, 4), -1, 2, 0)])
op("diag_embed", lambda L, x, *a: L.diag_embed(x, *a), lambda: [Sample(U(2, 3)), Sample(U(2, 3), 1)])
op("trace", lambda L, x: L.trace(x), lambda: [Sample(U(3, 3)), Sample(U(3, 4))])
op("broadcast_to", lambda L, x, s: L.broadcast_to(x, s), lambda: [Sample(U(3, 1), (2, 3, 4)), Sample(np.asarray(0.5), (2, 2))])
op("broadcast_tensors", lambda L, a, b: L.broadcast_tensors(a, b), lambda: [Sample(U(3, 1), U(4))])
op("movedim", lambda L, x, s, d: L.movedim(x, s, d), lambda: [Sample(U(2, 3, 4), 0, -1), Sample(U(2, 3, 4), (0, 1), (2, 0))])
op("swapaxes", lambda L, x, a, b: L.swapaxes(x, a, b), lambda: [Sample(U(2, 3, 4), 0, 2)])
op("unflatten", lambda L, x, d, s: L.unflatten(x, d, s), lambda: [Sample(U(2, 6), 1, (2, 3)), Sample(U(6, 2), 0, (-1, 2))])
op("flatten", lambda L, x, *a: L.flatten(x, *a), lambda: [Sample(U(2, 3, 2)), Sample(U(2, 3, 2), 1)])
op("getitem_basic", lambda L, x: x[1:, ::2], lambda: [Sample(U(3, 4)), Sample(U(4, 4), noncontig=True)])
op("getitem_int_none_ellipsis", lambda L, x: x[..., None, 1], lambda: [Sample(U(3, 4))])
op("getitem_repeated_index", lambda L, x, i: x[i], lambda: [Sample(U(3, 2), I([0, 2, 0, 0])), Sample(U(3, 2), I([[1, 1], [2, 1]]))])
op("getitem_two_indices", lambda L, x, i, j: x[i, j], lambda: [Sample(U(3, 4), I([0, 2, 0]), I([1, 1, 1]))])
op("getitem_list", lambda L, x: x[[0, 0, 1]], lambda: [Sample(U(3, 4))])
op("getitem_mixed", lambda L, x, i: x[1:, i], lambda: [Sample(U(3, 4), I([3, 0, 3]))])
op("getitem_bool_mask", lambda L, x, m: x[m], lambda: [Sample(U(2, 3), B([[True, False, True], [False, False, True]])),
                                                       Sample(U(3, 2), B([True, False, True]))])
op("setitem_clone", lambda L, x, v: _setitem(x, v), lambda: [Sample(U(3, 4), U(2))])


def _setitem(x, v):
    y = x.clone()
    y[1, 1:3] = v
    y[0, 0] = v[0] * 2
    return y


# ---- linear algebra
op("matmul", lambda L, a, b: L.matmul(a, b), lambda: [
    Sample(U(2, 3), U(3, 4)), Sample(U(3), U(3)), Sample(U(2, 3), U(3)), Sample(U(3), U(3, 2)),
    Sample(U(2, 2, 3), U(3, 2)), Sample(U(2, 1, 2, 3), U(3, 3, 2)), Sample(U(3, 2), U(2, 4), noncontig=True),
    Sample(U(0, 3), U(3, 2))])
op("mm", lambda L, a, b: L.mm(a, b), lambda: [Sample(U(2, 3), U(3, 4))])
op("mv", lambda L, a, b: L.mv(a, b), lambda: [Sample(U(2, 3), U(3))])
op("dot", lambda L, a, b: L.dot(a, b), lambda: [Sample(U(3), U(3))])
op("outer", lambda L, a, b: L.outer(a, b), lambda: [Sample(U(3), U(2))])
op("bmm", lambda L, a, b: L.bmm(a, b), lambda: [Sample(U(2, 2, 3), U(2, 3, 2))])
op("addmm", lambda L, c, a, b, **k: L.addmm(c, a, b, **k), lambda: [
    Sample(U(2, 4), U(2, 3), U(3, 4)), Sample(U(4), U(2, 3), U(3, 4), beta=0.5, alpha=2.0)])
op("addmv", lambda L, c, a, b, **k: L.addmv(c, a, b, **k), lambda: [Sample(U(2), U(2, 3), U(3)), Sample(U(1), U(2, 3), U(3), alpha=0.5)])
op("baddbmm", lambda L, c, a, b, **k: L.baddbmm(c, a, b, **k), lambda: [
    Sample(U(2, 2, 2), U(2, 2, 3), U(2, 3, 2)), Sample(U(2), U(2, 2, 3), U(2, 3, 2), beta=2.0, alpha=0.5)])
op("einsum", lambda L, eq, *ts: L.einsum(eq, *ts), lambda: [
    Sample("ij,jk->ik", U(2, 3), U(3, 4)), Sample("ij->", U(2, 3)), Sample("ii->i", U(3, 3)), Sample("ii", U(3, 3)),
    Sample("bij,bjk->bik", U(2, 2, 3), U(2, 3, 2)), Sample("i,j->ij", U(3), U(2)), Sample("...ij,...jk", U(2, 2, 3), U(3, 2)),
    Sample("ij,ij->i", U(2, 3), U(2, 3)), Sample("ijk->kj", U(2, 3, 4)), Sample("i,i,i->", U(3), U(3), U(3))])
op("tensordot", lambda L, a, b, d: L.tensordot(a, b, d), lambda: [
    Sample(U(2, 3, 4), U(3, 4, 2), 2), Sample(U(2, 3), U(3, 2), ([1], [0])), Sample(U(2, 3), U(4), 0)])
op("kron", lambda L, a, b: L.kron(a, b), lambda: [Sample(U(2, 2), U(2, 3)), Sample(U(2), U(3)), Sample(U(2, 3), U(2))])
op("cross", lambda L, a, b: L.linalg.cross(a, b), lambda: [Sample(U(3), U(3)), Sample(U(2, 3), U(1, 3))])
op("inv", lambda L, a: L.linalg.inv(a), lambda: [Sample(U(3, 3) + 3 * np.eye(3)), Sample(U(2, 2, 2) + 2 * np.eye(2))])
op("inverse", lambda L, a: L.inverse(a), lambda: [Sample(U(3, 3) + 3 * np.eye(3))])
op("det", lambda L, a: L.linalg.det(a), lambda: [Sample(U(3, 3)), Sample(U(2, 2, 2))])
op("det_singular", lambda L, a: L.linalg.det(a), lambda: [Sample(np.array([[1.0, 2.0], [2.0, 4.0]]))], compare_grads=False,
   note="PyTorch's gradient is 0 here; the adjugate (ours) is the derivative, as gradcheck confirms")
op("det_method", lambda L, a: a.det(), lambda: [Sample(U(3, 3))])
op("slogdet", lambda L, a: L.linalg.slogdet(a), lambda: [Sample(U(3, 3) + 2 * np.eye(3)), Sample(U(2, 2, 2) - 2 * np.eye(2))])
op("logdet", lambda L, a: L.logdet(a), lambda: [Sample(spd(3))])
op("solve", lambda L, a, b, **k: L.linalg.solve(a, b, **k), lambda: [
    Sample(U(3, 3) + 3 * np.eye(3), U(3, 2)), Sample(U(3, 3) + 3 * np.eye(3), U(3)), Sample(U(2, 3, 3) + 3 * np.eye(3), U(3, 1)),
    Sample(U(3, 3) + 3 * np.eye(3), U(2, 3), left=False)])
op("cholesky", lambda L, a: L.linalg.cholesky(a @ a.mT + 3 * L.eye(3, dtype=a.dtype)), lambda: [Sample(U(3, 3)), Sample(U(2, 3, 3))])
op("cholesky_upper", lambda L, a: L.linalg.cholesky(a @ a.mT + 3 * L.eye(3, dtype=a.dtype), upper=True), lambda: [Sample(U(3, 3))])
op("qr", lambda L, a, **k: _qr_normalized(L, a, **k), lambda: [
    Sample(U(4, 3)), Sample(U(3, 3)), Sample(U(3, 5)), Sample(U(2, 2, 4)), Sample(U(3, 5), mode="complete"),
    Sample(U(3, 3), mode="complete"), Sample(U(5, 3), noncontig=True), Sample(U(2, 4, 3))])
op("qr_complete_tall", lambda L, a: _qr_complete_normalized(L, a), lambda: [Sample(U(5, 3))],
   compare_grads=False, gradcheck=False,
   note="not differentiable when nrows > ncols (PyTorch's error, see test_op_errors)")
op("qr_r", lambda L, a: L.linalg.qr(a, mode="r"), lambda: [Sample(U(4, 3))], compare_grads=False, gradcheck=False,
   note="R requires grad, but its derivative raises PyTorch's error (no Q); see test_op_errors")
op("eigh", lambda L, a: (lambda r: (r[0], r[1].abs()))(L.linalg.eigh(a + a.mT)),
   lambda: [Sample(np.diag([1.0, 2.0, 3.5]) + U(3, 3) * 0.1), Sample(np.diag([-1.0, 2.0]) + U(2, 2, 2) * 0.1)])
op("eigvalsh", lambda L, a: L.linalg.eigvalsh(a + a.mT), lambda: [Sample(np.diag([1.0, 2.0, 3.5]) + U(3, 3) * 0.1)])
op("svdvals", lambda L, a: L.linalg.svdvals(a), lambda: [Sample(np.diag([1.0, 2.0, 3.5]) + U(3, 3) * 0.1), Sample(distinct(2, 3))])
op("svd_reconstruct", lambda L, a: (lambda r: r[0] @ L.diag_embed(r[1]) @ r[2])(L.linalg.svd(a, full_matrices=False)),
   lambda: [Sample(U(3, 2)), Sample(U(2, 4))])
op("svd", lambda L, a, **k: _svd_gauge_invariant(L, L.linalg.svd(a, **k)), lambda: [
    Sample(svd_mat(4, 3), full_matrices=False), Sample(svd_mat(3, 4), full_matrices=False), Sample(svd_mat(3, 3)),
    Sample(svd_mat(4, 3)), Sample(svd_mat(2, 4)), Sample(svd_mat(3, 2, batch=(2,)), full_matrices=False),
    Sample(svd_mat(4, 3), noncontig=True, full_matrices=False), Sample(svd_mat(1, 3), full_matrices=False)])
op("svd_full_extra_vectors", lambda L, a: (lambda r, k: (r.U[..., k:] @ r.U[..., k:].mT, r.Vh[..., k:, :].mT @ r.Vh[..., k:, :],
                                                          r.S))(L.linalg.svd(a), min(a.shape[-2:])),
   lambda: [Sample(svd_mat(4, 2)), Sample(svd_mat(2, 4))], gradcheck=False,
   note="the gradients of U's / Vh's vectors past min(m, n) are ignored, as in PyTorch (so no gradcheck)")
op("svd_S_only", lambda L, a: L.linalg.svd(a, full_matrices=False).S, lambda: [Sample(svd_mat(4, 3)),
                                                                             Sample(svd_mat(2, 3))])
op("svd_U_only", lambda L, a: (lambda U: U * U)(L.linalg.svd(a, full_matrices=False).U), lambda: [Sample(svd_mat(4, 3)),
                                                                                                Sample(svd_mat(2, 3))])
op("svd_Vh_only", lambda L, a: (lambda Vh: Vh * Vh)(L.linalg.svd(a, full_matrices=False).Vh), lambda: [
    Sample(svd_mat(4, 3)), Sample(svd_mat(2, 3))])
op("svd_polar", lambda L, a: (lambda r: r.U @ r.Vh)(L.linalg.svd(a, full_matrices=False)), lambda: [
    Sample(svd_mat(3, 3)), Sample(svd_mat(4, 2)), Sample(svd_mat(2, 4))])
op("svd_legacy", lambda L, a, **k: (lambda r: (r.U * r.U, r.S, r.V * r.V))(L.svd(a, **k)), lambda: [
    Sample(svd_mat(4, 3)), Sample(svd_mat(3, 4)), Sample(svd_mat(3, 3), some=True)])
op("svd_legacy_no_uv", lambda L, a: L.svd(a, compute_uv=False), lambda: [Sample(svd_mat(4, 3)), Sample(svd_mat(2, 3))])
op("svd_method", lambda L, a: (lambda r: (r.U * r.U, r.S))(a.svd()), lambda: [Sample(svd_mat(3, 3))])
op("pinv", lambda L, a: L.linalg.pinv(a), lambda: [Sample(U(4, 2)), Sample(U(2, 3))], rtol=1e-3)
op("matrix_power", lambda L, a, n: L.linalg.matrix_power(a, n), lambda: [Sample(U(3, 3), 3), Sample(U(3, 3) + 2 * np.eye(3), -2),
                                                                        Sample(U(3, 3), 0)])
op("multi_dot", lambda L, a, b, c: L.linalg.multi_dot([a, b, c]), lambda: [Sample(U(2, 3), U(3, 4), U(4, 2))])
op("cdist", lambda L, a, b: L.cdist(a, b), lambda: [Sample(U(3, 2), U(4, 2))])


def _qr_normalized(L, a, mode="reduced"):
    q, r = L.linalg.qr(a, mode=mode)
    s = L.sign(L.diagonal(r, 0, -2, -1))
    return q * s.unsqueeze(-2), r * s.unsqueeze(-1)


def _qr_complete_normalized(L, a):
    """mode='complete' of a tall a: Q's first n columns and R's rows with diag(R) > 0, R's zero rows,
    and the projection onto the rest of the basis (which is unique)."""
    q, r = L.linalg.qr(a, mode="complete")
    n = a.shape[-1]
    s = L.sign(L.diagonal(r, 0, -2, -1))
    return q[..., :n] * s.unsqueeze(-2), r[..., :n, :] * s.unsqueeze(-1), r[..., n:, :], q[..., n:] @ q[..., n:].mT


def _svd_gauge_invariant(L, r):
    """Functions of U, S, Vh that do not depend on the signs of the singular vector pairs: U * U and
    Vh * Vh (the first k = min(m, n) columns / rows; the others are an arbitrary basis), S, and U Vh."""
    k = r.S.shape[-1]
    Uk, Vhk = r.U[..., :k], r.Vh[..., :k, :]
    return Uk * Uk, r.S, Vhk * Vhk, Uk @ Vhk


# ---- nn.functional: activations
def F(L):
    return L.nn.functional


for _name, _gen in [("relu", away), ("leaky_relu", away), ("elu", away), ("selu", away), ("celu", away), ("gelu", U),
                    ("silu", U), ("softplus", U), ("softsign", U), ("hardtanh", lambda *s: away(*s, gap=0.1, hi=0.9) * 1.5),
                    ("relu6", lambda *s: U(*s, lo=-3, hi=8)), ("hardsigmoid", lambda *s: U(*s, lo=-5, hi=5)),
                    ("hardswish", lambda *s: U(*s, lo=-5, hi=5)), ("logsigmoid", U), ("mish", U), ("tanhshrink", U),
                    ("sigmoid", U), ("tanh", U)]:
    op("F." + _name, (lambda n: lambda L, x: getattr(F(L), n)(x))(_name), unary_samples(_gen))
op("F.softshrink", lambda L, x: F(L).softshrink(x, 0.3), lambda: [Sample(np.array([-0.9, -0.1, 0.2, 0.8]))])
op("F.hardshrink", lambda L, x: F(L).hardshrink(x, 0.3), lambda: [Sample(np.array([-0.9, -0.1, 0.2, 0.8]))])
op("F.threshold", lambda L, x: F(L).threshold(x, 0.1, -2.0), lambda: [Sample(np.array([-0.9, -0.05, 0.2, 0.8]))])
op("F.leaky_relu_slope", lambda L, x: F(L).leaky_relu(x, 0.2), unary_samples(away))
op("F.elu_alpha", lambda L, x: F(L).elu(x, 0.5), lambda: [Sample(away(3, 4)), Sample(np.array([-50.0, 30.0, 1e4]))])
op("F.gelu_tanh", lambda L, x: F(L).gelu(x, approximate="tanh"), unary_samples(lambda *s: U(*s, lo=-4, hi=4)))
op("F.softplus_beta", lambda L, x: F(L).softplus(x, beta=2.0, threshold=3.0), lambda: [Sample(np.array([-3.0, -0.2, 0.5, 1.2, 4.0]))])
op("F.glu", lambda L, x, *d: F(L).glu(x, *d), lambda: [Sample(U(2, 4)), Sample(U(4, 3), 0)])
op("F.softmin", lambda L, x: F(L).softmin(x, 1), lambda: [Sample(U(2, 4))])
op("F.prelu", lambda L, x, w: F(L).prelu(x, w), lambda: [Sample(away(2, 3, 2), P(3)), Sample(away(4), P(1))])
op("F.softmax", lambda L, x: F(L).softmax(x, dim=-1), lambda: [Sample(U(3, 4))])
op("F.log_softmax", lambda L, x: F(L).log_softmax(x, dim=1), lambda: [Sample(U(3, 4))])
op("F.linear", lambda L, x, w, *b: F(L).linear(x, w, *b), lambda: [Sample(U(2, 3), U(4, 3), U(4)), Sample(U(2, 2, 3), U(4, 3))])
_nodiff("F.one_hot", lambda L, t, *n: F(L).one_hot(t, *n), lambda: [Sample(I([0, 2, 1])), Sample(I([[0], [1]]), 4)])
op("F.pad", lambda L, x, p, **k: F(L).pad(x, p, **k), lambda: [
    Sample(U(2, 3), (1, 2)), Sample(U(2, 3), (1, 1, 2, 0), value=0.5), Sample(U(2, 4), (-1, 1)),
    Sample(U(1, 2, 4), (2, 1), mode="reflect"), Sample(U(1, 2, 3), (2, 2), mode="replicate"),
    Sample(U(1, 2, 3), (1, 2), mode="circular"), Sample(U(1, 1, 3, 3), (1, 1, 2, 1), mode="reflect")])
op("F.normalize", lambda L, x, **k: F(L).normalize(x, **k), lambda: [Sample(U(3, 4)), Sample(U(3, 4), p=1.0, dim=0)])
op("F.cosine_similarity", lambda L, a, b, **k: F(L).cosine_similarity(a, b, **k), lambda: [
    Sample(U(3, 4), U(3, 4)), Sample(U(3, 4), U(4), dim=-1)])
op("F.pairwise_distance", lambda L, a, b: F(L).pairwise_distance(a, b), lambda: [Sample(U(3, 4), U(3, 4))])
op("F.embedding", lambda L, i, w, **k: F(L).embedding(i, w, **k), lambda: [Sample(I([[0, 2], [2, 1]]), U(3, 2))])
op("F.embedding_padding_idx", lambda L, i, w: F(L).embedding(i, w, padding_idx=0), lambda: [Sample(I([0, 2, 0]), U(3, 2))],
   gradcheck=False, note="no gradient flows into the padding row (by design, like PyTorch)")

# ---- nn.functional: losses
for _name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
    op("F." + _name, (lambda n: lambda L, a, b, **k: getattr(F(L), n)(a, b, **k))(_name), lambda: [
        Sample(U(3, 4), U(3, 4) + 0.05), Sample(U(3, 4) * 3, U(3, 4), reduction="sum"), Sample(U(5), U(5) * 2, reduction="none")])
op("F.smooth_l1_beta", lambda L, a, b: F(L).smooth_l1_loss(a, b, beta=0.5), lambda: [Sample(U(3, 4) * 2, U(3, 4))])
op("F.huber_delta", lambda L, a, b: F(L).huber_loss(a, b, delta=0.3), lambda: [Sample(U(3, 4) * 2, U(3, 4))])
op("F.cross_entropy", lambda L, x, t, **k: F(L).cross_entropy(x, t, **k), lambda: [
    Sample(U(4, 3), I([0, 2, 1, 2])), Sample(U(4, 3), I([0, 2, 1, 2]), reduction="sum"),
    Sample(U(4, 3), I([0, 2, 1, 2]), reduction="none"), Sample(U(4, 3), I([0, -100, 1, 2])),
    Sample(U(4, 3), I([0, 2, 1, 2]), ignore_index=2), Sample(U(4, 3), I([0, 2, 1, 2]), label_smoothing=0.1),
    Sample(U(2, 3, 2), I([[0, 2], [1, 1]])), Sample(U(3), np.asarray(1, np.int64)),
    Sample(np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]]), I([1, 0]))])
op("F.cross_entropy_weight", lambda L, x, t, w, **k: F(L).cross_entropy(x, t, weight=w, **k), lambda: [
    Sample(U(4, 3), I([0, 2, 1, 2]), P(3), nograd=(2,)),
    Sample(U(4, 3), I([0, 2, 1, 2]), P(3), label_smoothing=0.2, nograd=(2,)),
    Sample(U(4, 3), I([0, 2, -100, 2]), P(3), reduction="sum", nograd=(2,))])
op("F.cross_entropy_probs", lambda L, x, t, **k: F(L).cross_entropy(x, L.softmax(t, 1), **k), lambda: [
    Sample(U(4, 3), U(4, 3)), Sample(U(4, 3), U(4, 3), label_smoothing=0.1), Sample(U(4, 3), U(4, 3), reduction="none")])
op("F.nll_loss", lambda L, x, t, **k: F(L).nll_loss(x, t, **k), lambda: [
    Sample(U(4, 3), I([0, 2, 1, 2])), Sample(U(4, 3), I([0, -100, 1, 2]), reduction="sum"),
    Sample(U(2, 3, 2), I([[0, 2], [1, 1]]))])
op("F.nll_loss_weight", lambda L, x, t, w: F(L).nll_loss(x, t, weight=w), lambda: [Sample(U(4, 3), I([0, 2, 1, 2]), P(3), nograd=(2,))])
op("F.binary_cross_entropy", lambda L, x, t, *w, **k: F(L).binary_cross_entropy(x, t, *w, **k), lambda: [
    Sample(U(3, 4, lo=0.05, hi=0.95), U(3, 4, lo=0, hi=1)), Sample(U(5, lo=0.05, hi=0.95), U(5, lo=0, hi=1), P(5), nograd=(2,)),
    Sample(U(5, lo=0.05, hi=0.95), U(5, lo=0, hi=1), reduction="none")])
op("F.binary_cross_entropy_with_logits", lambda L, x, t, **k: F(L).binary_cross_entropy_with_logits(x, t, **k), lambda: [
    Sample(U(3, 4) * 3, U(3, 4, lo=0, hi=1)), Sample(U(5) * 3, U(5, lo=0, hi=1), reduction="sum"),
    Sample(np.array([1e4, -1e4, 50.0, -50.0]), np.array([0.0, 1.0, 0.5, 0.5]), reduction="none")])
op("F.bce_with_logits_pos_weight", lambda L, x, t, pw, w: F(L).binary_cross_entropy_with_logits(x, t, w, pos_weight=pw),
   lambda: [Sample(U(3, 4) * 3, U(3, 4, lo=0, hi=1), P(4), P(3, 1), nograd=(2, 3))])
op("F.kl_div", lambda L, x, t, **k: F(L).kl_div(x, t, **k), lambda: [
    Sample(U(3, 4), P(3, 4), reduction="batchmean"), Sample(U(3, 4), P(3, 4), reduction="sum"),
    Sample(U(3, 4), U(3, 4), reduction="batchmean", log_target=True),
    Sample(U(3), np.array([0.0, 0.5, 0.5]), reduction="none", nograd=(1,))])
op("F.poisson_nll_loss", lambda L, x, t, **k: F(L).poisson_nll_loss(x, t, **k), lambda: [
    Sample(U(3, 4), P(3, 4)), Sample(P(3, 4), P(3, 4), log_input=False)])
op("F.gaussian_nll_loss", lambda L, x, t, v: F(L).gaussian_nll_loss(x, t, v), lambda: [Sample(U(3, 4), U(3, 4), P(3, 4)),
                                                                                       Sample(U(3, 4), U(3, 4), P(3, 1))])
op("F.margin_ranking_loss", lambda L, a, b, t: F(L).margin_ranking_loss(a, b, t, margin=0.1), lambda: [
    Sample(U(5), U(5) + 0.5, np.array([1.0, -1.0, 1.0, -1.0, 1.0]))], gradcheck=False)
op("F.soft_margin_loss", lambda L, x, t: F(L).soft_margin_loss(x, t), lambda: [Sample(U(5), np.array([1.0, -1.0, 1.0, -1.0, 1.0]), nograd=(1,))])
op("F.cosine_embedding_loss", lambda L, a, b, t: F(L).cosine_embedding_loss(a, b, t), lambda: [Sample(U(3, 4), U(3, 4), I([1, -1, 1]))])
op("F.triplet_margin_loss", lambda L, a, p, n: F(L).triplet_margin_loss(a, p, n, margin=5.0), lambda: [Sample(U(3, 4), U(3, 4), U(3, 4))])
op("F.multilabel_soft_margin_loss", lambda L, x, t: F(L).multilabel_soft_margin_loss(x, t), lambda: [Sample(U(3, 4), B([[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 0]]).astype(np.float64))])

# ---- nn.functional: pooling, resampling, spatial rearrangements, normalization (tests/nn/test_pooling_ext.py ...)
op("F.max_pool1d", lambda L, x, *a, **k: F(L).max_pool1d(x, *a, **k), lambda: [
    Sample(U(2, 3, 7), 3, 2, 1), Sample(U(3, 8), 2, ceil_mode=True, dilation=2), Sample(U(2, 2, 9), 3, noncontig=True)])
op("F.max_pool3d", lambda L, x, *a, **k: F(L).max_pool3d(x, *a, **k), lambda: [Sample(U(1, 2, 3, 4, 4), 2, 1, 1)])
op("F.avg_pool1d", lambda L, x, *a, **k: F(L).avg_pool1d(x, *a, **k), lambda: [
    Sample(U(2, 3, 7), 3, 2, 1), Sample(U(2, 3, 8), 3, 2, 1, True, False)])
op("F.avg_pool3d", lambda L, x, *a, **k: F(L).avg_pool3d(x, *a, **k), lambda: [
    Sample(U(1, 2, 3, 4, 5), 2), Sample(U(1, 2, 4, 4, 3), 3, 2, 1, True, False, noncontig=True)])
op("F.adaptive_avg_pool2d", lambda L, x, o: F(L).adaptive_avg_pool2d(x, o), lambda: [
    Sample(U(2, 3, 5, 7), (3, 4)), Sample(U(3, 4, 5), 1), Sample(U(1, 2, 3, 4), (5, None))])
op("F.adaptive_max_pool1d", lambda L, x, o: F(L).adaptive_max_pool1d(x, o), lambda: [Sample(U(2, 3, 7), 3)])
op("F.adaptive_max_pool2d", lambda L, x, o: F(L).adaptive_max_pool2d(x, o), lambda: [Sample(U(2, 3, 5, 7), (2, 3))])
op("F.lp_pool2d", lambda L, x, p, k: F(L).lp_pool2d(x, p, k), lambda: [Sample(P(1, 2, 4, 4), 3.0, 2)])
op("F.conv_transpose2d", lambda L, x, w, *b, **k: F(L).conv_transpose2d(x, w, *b, **k), lambda: [
    Sample(U(2, 4, 3, 3), U(4, 3, 2, 2), U(6), stride=2, groups=2, output_padding=1),
    Sample(U(4, 3, 4), U(4, 2, 3, 2), padding=1, dilation=(2, 1))])
op("F.conv_transpose1d", lambda L, x, w, **k: F(L).conv_transpose1d(x, w, **k), lambda: [
    Sample(U(2, 3, 5), U(3, 2, 3), stride=2, output_padding=1)])
op("F.unfold", lambda L, x, *a, **k: F(L).unfold(x, *a, **k), lambda: [
    Sample(U(2, 3, 4, 5), 2), Sample(U(2, 4, 5), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))])
op("F.fold", lambda L, x, *a, **k: F(L).fold(x, *a, **k), lambda: [Sample(U(2, 12, 12), (4, 5), 2)])
op("Tensor.unfold", lambda L, x, *a: x.unfold(*a), lambda: [Sample(U(3, 7), 1, 3, 2), Sample(U(4, 2), 0, 2, 1)])
op("F.interpolate", lambda L, x, **k: F(L).interpolate(x, **k), lambda: [
    Sample(U(2, 3, 5), size=8, mode="linear"), Sample(U(1, 2, 3, 4), scale_factor=2, mode="bilinear", align_corners=True),
    Sample(U(1, 2, 3, 4), size=(5, 3), mode="bicubic"), Sample(U(1, 2, 3, 4), scale_factor=1.5),
    Sample(U(1, 1, 2, 3, 2), size=(3, 4, 3), mode="trilinear"), Sample(U(1, 2, 6, 4), scale_factor=0.5, mode="area")])
op("F.pixel_shuffle", lambda L, x, r: F(L).pixel_shuffle(x, r), lambda: [Sample(U(2, 8, 2, 3), 2)])
op("F.pixel_unshuffle", lambda L, x, r: F(L).pixel_unshuffle(x, r), lambda: [Sample(U(2, 2, 4, 6), 2)])
op("F.channel_shuffle", lambda L, x, g: F(L).channel_shuffle(x, g), lambda: [Sample(U(2, 6, 2), 3)])
op("F.group_norm", lambda L, x, g, *a: F(L).group_norm(x, g, *a), lambda: [
    Sample(U(2, 4, 3), 2, U(4), U(4)), Sample(U(3, 6, 2, 2), 3)])
op("F.instance_norm", lambda L, x, *wb: F(L).instance_norm(x, None, None, *wb), lambda: [
    Sample(U(2, 3, 4)), Sample(U(2, 3, 2, 3), U(3), U(3))])
op("F.rms_norm", lambda L, x, s, *w, **k: F(L).rms_norm(x, s, *w, **k), lambda: [
    Sample(U(3, 4), (4,)), Sample(U(2, 3, 4), (3, 4), U(3, 4), eps=1e-3)])
op("F.local_response_norm", lambda L, x, s: F(L).local_response_norm(x, s), lambda: [
    Sample(U(2, 5, 3), 3), Sample(U(1, 4, 2, 3), 2)])

OPS = [o for o in OPS if o is not None]
BY_NAME = {o.name: o for o in OPS}
assert len(BY_NAME) == len(OPS), "duplicate op names"


def iter_cases(filter=None):  # noqa: A002
    """(entry, sample index, sample) for every sample of every entry (optionally filtered)."""
    for entry in OPS:
        if filter is not None and not filter(entry):
            continue
        for i, s in enumerate(entry.samples()):
            yield entry, i, s
