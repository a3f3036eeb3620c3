"""The differences benchmarks/differential.py found between fastgrad and torch, fixed at their
root; each checked against torch over the cases of its class."""
import numpy as np
import pytest

import fastgrad
from compare import assert_same, run

HALF_AND_FULL = ("float16", "bfloat16", "float32", "float64")


def _cast(L, a, dtype):
    t = L.tensor(np.asarray(a, np.float64 if dtype == "float64" else np.float32))
    return t.to(getattr(L, dtype))


@pytest.mark.parametrize("dtype", HALF_AND_FULL)
def test_hypot_does_not_overflow_and_has_torch_gradient(torch, dtype):
    """hypot was sqrt(a*a + b*b): inf once a*a overflows (1e30 in float32 or bfloat16, 1e200 in float64)."""
    big = {"float16": 4e4, "bfloat16": 1e30, "float32": 1e30, "float64": 1e200}[dtype]
    a = [0.0, 3.0, np.inf, big, -2.0, big, np.nan, 1e-30]
    b = [0.0, 4.0, 1.0, big, 0.0, 1.0, 1.0, 1e-30]
    res = []
    for L in (fastgrad, torch):
        x, y = _cast(L, a, dtype).requires_grad_(), _cast(L, b, dtype).requires_grad_()
        h = L.hypot(x, y)
        gx, gy = L.autograd.grad(h.sum(), (x, y))
        res.append([np.asarray(t.detach().double().numpy()) for t in (h, gx, gy)])
        assert str(h.dtype).endswith(dtype)
    for f, t, what in zip(res[0], res[1], ("hypot", "d/da", "d/db")):
        np.testing.assert_allclose(f, t, rtol=2e-2 if "16" in dtype else 1e-6, equal_nan=True, err_msg=what)
    vals, grads = run(fastgrad, lambda L, a, b: L.hypot(a, b), [np.array([[1e30], [3.0]]), np.array([4.0, 1e-30])],
                      "float64")
    tvals, tgrads = run(torch, lambda L, a, b: L.hypot(a, b), [np.array([[1e30], [3.0]]), np.array([4.0, 1e-30])],
                        "float64")
    for f, t in zip(vals + grads, tvals + tgrads):
        assert_same(f, t, "float64", "hypot broadcast")


WRITES = {  # a recorded tensor overwritten by a tensor that requires grad, every way of writing it
    "setitem_all": lambda y, v: y.__setitem__(slice(None), v),
    "setitem_step1": lambda y, v: y.__setitem__(slice(None, None, 1), v),
    "setitem_ellipsis": lambda y, v: y.__setitem__(Ellipsis, v),
    "copy_": lambda y, v: y.copy_(v),
    "copy_broadcast": lambda y, v: y.copy_(v[0]),
    "setitem_part": lambda y, v: y.__setitem__(slice(0, 2), v[:2]),
}


@pytest.mark.parametrize("how", sorted(WRITES))
@pytest.mark.parametrize("source", ["leaf", "computed"])
def test_overwriting_a_recorded_tensor_keeps_both_gradients(torch, how, source):
    """y = x * 1; y[:] = v left y without history when v was a leaf: v got no gradient and x none
    (torch: v its gradient, x zeros)."""
    res = []
    for L in (fastgrad, torch):
        x = L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], requires_grad=True)
        v0 = L.tensor([[0.5, -1.0, 2.0], [3.0, 0.25, -4.0], [1.5, 2.5, 3.5]], requires_grad=True)
        v = v0 if source == "leaf" else v0 * 2
        y = x * 1
        WRITES[how](y, v)
        w = L.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.5, 0.25, 0.125]])
        gx, gv = L.autograd.grad((y * w).sum(), (x, v0))
        res.append([np.asarray(t.detach().numpy()) for t in (y, gx, gv)])
    for f, t, what in zip(res[0], res[1], ("value", "grad x", "grad v")):
        np.testing.assert_array_equal(f, t, err_msg=what)


@pytest.mark.parametrize("src", ["float16", "bfloat16"])
@pytest.mark.parametrize("acc", ["float32", "float64", "float16"])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_sum_of_half_with_a_wider_dtype(torch, src, acc, dim):
    """x.sum(dtype=float32) of a float16 x is float32 (it came back float16, rounded)."""
    a = np.random.default_rng(0).uniform(-3, 3, (3, 4))
    res = []
    for L in (fastgrad, torch):
        x = _cast(L, a, src).requires_grad_()
        kw = {"dtype": getattr(L, acc)}
        s = x.sum(**kw) if dim is None else x.sum(dim, **kw)
        (g,) = L.autograd.grad(s.sum(), (x,))
        res.append((str(s.dtype).split(".")[-1], np.asarray(s.detach().double().numpy()), str(g.dtype).split(".")[-1],
                    np.asarray(g.double().numpy())))
    (fd, fv, fgd, fg), (td, tv, tgd, tg) = res
    assert (fd, fgd) == (td, tgd)
    np.testing.assert_allclose(fv, tv, rtol=1e-3 if acc == "float16" else 1e-6)
    np.testing.assert_array_equal(fg, tg)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rprop_leaves_a_parameter_with_a_nan_gradient(torch, dtype):
    """torch.sign(NaN) is 0, so Rprop does not move a parameter whose gradient is NaN (np.sign: NaN)."""
    p0 = [0.5, -1.0, 2.0, 0.0]
    grads = [[np.nan, 1.0, -1.0, np.inf], [1.0, np.nan, 2.0, -np.inf], [0.5, 0.5, np.nan, 1.0]]
    res = []
    for L in (fastgrad, torch):
        p = L.nn.Parameter(_cast(L, p0, dtype))
        opt = L.optim.Rprop([p], lr=0.01)
        for g in grads:
            p.grad = _cast(L, g, dtype)
            opt.step()
        res.append(np.asarray(p.detach().numpy()))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6, equal_nan=True)


REDUCTIONS = {
    "var": lambda L, x: x.var(1), "var_all": lambda L, x: x.var(), "std": lambda L, x: x.std(1),
    "var_keepdim": lambda L, x: x.var(0, keepdim=True), "var_correction0": lambda L, x: L.var(x, 1, correction=0),
    "norm": lambda L, x: L.linalg.vector_norm(x, dim=1),
    "norm_all": lambda L, x: x.norm(), "norm_3": lambda L, x: L.linalg.vector_norm(x, 3, dim=1),
    "norm_half": lambda L, x: L.linalg.vector_norm(x, 0.5, dim=1),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan, 0.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_var_and_norm_gradients_with_infinite_elements(torch, name, special, dtype):
    """var's gradient came out NaN at every element of a row with one inf (its mean's term, zero in
    exact arithmetic, is inf - inf); the p-norms' at the finite elements too (y / (p s) = inf / inf).
    (Not var_mean: torch's Welford loop returns a NaN mean for a row holding inf, where torch.mean gives inf.)"""
    a = np.array([[1.0, -2.0, 0.5, 3.0], [0.25, 1.5, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
    a[0, 1] = special
    fn = REDUCTIONS[name]
    vals, grads = run(fastgrad, fn, [a], dtype)
    tvals, tgrads = run(torch, fn, [a], dtype)
    for k, (f, t) in enumerate(zip(vals + grads, tvals + tgrads)):
        assert_same(f, t, dtype, "%s %d" % (name, k), rtol=1e-5 if dtype == "float32" else None)


COPIES = {  # (self's dtype, src's dtype, src's shape): self is (2, 3) with history or without
    "same": ("float32", "float32", (2, 3)), "broadcast": ("float32", "float32", (3,)),
    "cast_up": ("float32", "float64", (3,)), "cast_half": ("float64", "float16", (2, 1)),
    "bfloat16": ("bfloat16", "float32", (2, 3)),
}


def _node_name(fn):
    return None if fn is None else type(fn).__name__.rstrip("0")


@pytest.mark.parametrize("case", sorted(COPIES))
@pytest.mark.parametrize("history", [True, False])
def test_copy_records_copybackwards(torch, case, history):
    """y.copy_(v) showed WhereBackward (history) or v's own node (none); torch's node is
    CopyBackwards: zero gradient to the overwritten y, v's gradient cast to v's dtype and summed
    over the broadcast dimensions."""
    sdt, vdt, vshape = COPIES[case]
    a = np.arange(1.0, 7.0).reshape(2, 3)
    b = np.linspace(-1.5, 2.5, int(np.prod(vshape))).reshape(vshape)
    res = []
    for L in (fastgrad, torch):
        x = _cast(L, a, sdt).requires_grad_()
        v = _cast(L, b, vdt).requires_grad_()
        y = x * 1 if history else _cast(L, a, sdt)
        y.copy_(v * 2)
        names = (_node_name(y.grad_fn), [_node_name(f) for f, _ in y.grad_fn.next_functions])
        w = _cast(L, np.array([[1.0, 2.0, 3.0], [0.5, 0.25, 4.0]]), sdt)
        gx, gv = L.autograd.grad((y * w).sum(), (x, v), allow_unused=True)
        res.append((names, str(y.dtype).split(".")[-1], y.detach().double().numpy(),
                    None if gx is None else gx.double().numpy(), str(gv.dtype).split(".")[-1], gv.double().numpy()))
    (fn, fd, fy, fgx, fgd, fgv), (tn, td, ty, tgx, tgd, tgv) = res
    assert fn == tn and fn[0] == "CopyBackwards"
    assert (fd, fgd) == (td, tgd)
    np.testing.assert_array_equal(fy, ty)
    assert (fgx is None) == (tgx is None)
    if fgx is not None:
        np.testing.assert_array_equal(fgx, tgx)
    np.testing.assert_allclose(fgv, tgv, rtol=1e-2 if "16" in vdt + sdt else 1e-7)


def test_copy_forward_mode_gradient(torch):
    """The tangent of y.copy_(v) is v's, cast to y's dtype and broadcast (CopyBackwards' jvp)."""
    res = []
    for L in (fastgrad, torch):
        import importlib

        fwAD = importlib.import_module(L.__name__ + ".autograd.forward_ad")
        with fwAD.dual_level():
            v = fwAD.make_dual(L.tensor([1.0, 2.0, 3.0], dtype=L.float64), L.tensor([0.5, -1.0, 2.0], dtype=L.float64))
            y = L.zeros(2, 3)
            y.copy_(v)
            t = fwAD.unpack_dual(y).tangent
            res.append((str(t.dtype).split(".")[-1], t.numpy()))
    assert res[0][0] == res[1][0]
    np.testing.assert_array_equal(res[0][1], res[1][1])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("options", [{}, {"foreach": True}, {"weight_decay": 0.1, "maximize": True},
                                     {"weight_decay": 0.1, "maximize": True, "foreach": True}])
def test_half_adamax_rounds_each_op_as_torch(torch, dtype, options):
    """float16 Adamax ran its float32 kernel: eps = 1e-8 survived where PyTorch adds it in float16
    (0), so a zero first gradient gave exp_inf 0 and 0 / 0 = NaN in torch's parameter, not in
    fastgrad's. Bit for bit, for-loop and foreach paths, with zero, inf and NaN gradients."""
    rs = np.random.default_rng(3)
    p0 = rs.uniform(-3, 3, 40)
    grads = [rs.uniform(-3, 3, 40) for _ in range(4)]
    grads[0][:4] = [0.0, np.inf, np.nan, -np.inf]
    grads[1][4:6] = [0.0, 1e-6]
    res = []
    for L in (fastgrad, torch):
        p = L.nn.Parameter(_cast(L, p0, dtype))
        opt = L.optim.Adamax([p], lr=0.01, **options)
        for g in grads:
            p.grad = _cast(L, g, dtype)
            opt.step()
        st = opt.state[p]
        res.append([np.asarray(t.detach().float().numpy()) for t in (p, st["exp_avg"], st["exp_inf"])])
    for f, t, what in zip(res[0], res[1], ("param", "exp_avg", "exp_inf")):
        np.testing.assert_array_equal(f, t, err_msg=what)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("dim", [0, -1])
def test_half_normalize_is_torch_composition(torch, dtype, dim):
    """F.normalize on half tensors computed in float32 and rounded once: eps = 1e-12 survived where
    torch's clamp_min gives 0 in float16, so a zero row was 0, not 0 / 0 = NaN; and clamp's gradient
    mask compared x with the float bound, not with the bound in x's dtype (torch)."""
    a = np.array([[0.0, 3.0, 1e-30, -2.0], [0.0, 4.0, 0.0, 0.5], [0.0, -1.0, 0.0, np.inf]])
    res = []
    for L in (fastgrad, torch):
        x = _cast(L, a, dtype).requires_grad_()
        y = L.nn.functional.normalize(x, dim=dim)
        (g,) = L.autograd.grad((y * _cast(L, np.arange(12.0).reshape(3, 4) / 7, dtype)).sum(), (x,))
        res.append([np.asarray(t.detach().float().numpy()) for t in (y, g)])
    for f, t, what in zip(res[0], res[1], ("normalize", "gradient")):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(t), err_msg=what)
        np.testing.assert_allclose(f, t, rtol=1e-2, atol=1e-3, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("bounds", [(1e-12, None), (None, 1e-12), (0.1, 0.3), (0.30004, None)])
def test_half_clamp_gradient_mask_uses_the_rounded_bound(torch, dtype, bounds):
    a = [0.0, 1e-12, 0.1, 0.2, 0.3, 0.30004, -1.0, np.nan]
    res = []
    for L in (fastgrad, torch):
        x = _cast(L, a, dtype).requires_grad_()
        y = L.clamp(x, *bounds)
        (g,) = L.autograd.grad(y.sum(), (x,))
        res.append([np.asarray(t.detach().float().numpy()) for t in (y, g)])
    for f, t in zip(res[0], res[1]):
        np.testing.assert_array_equal(f, t)
