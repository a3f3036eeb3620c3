"""fastgrad.autograd.functional against torch.autograd.functional: vjp jvp jacobian hessian hvp vhp."""
import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import functional as AF

rs = np.random.RandomState(0)
A = rs.randn(3, 2)
B = rs.randn(2, 2)


# one lambda per case, taking the library: inputs -> outputs
def single(L, x):
    return L.tanh(L.tensor(A) @ x) * 2.0


def two_in(L, x, y):
    return L.sin(x) * y.exp() + (L.tensor(B) @ y) * x


def two_out(L, x):
    return L.exp(x), (x ** 2).sum()


def two_in_two_out(L, x, y):
    return x * y, (L.sigmoid(x) @ L.tensor(B) @ y).reshape(1)


def scalar(L, x):
    return (L.sin(x) * x.exp()).sum() + (x @ L.tensor(B) @ x)


def scalar2(L, x, y):
    return (x * y.exp()).sum() + (x ** 3).sum() * y.sum()


CASES = {
    "single": (single, (2,)),
    "two_in": (two_in, (2, 2)),
    "two_out": (two_out, (3,)),
    "two_in_two_out": (two_in_two_out, (2, 2)),
}
SCALAR = {"scalar": (scalar, (2,)), "scalar2": (scalar2, (2, 2))}


def _inputs(shapes, lib, seed=1):
    r = np.random.RandomState(seed)
    arrays = [r.randn(s) for s in shapes]
    ts = tuple(lib.tensor(a) for a in arrays)
    return ts if len(ts) > 1 else ts[0]


def _assert_same(a, b, rtol=1e-10):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y, rtol)
        return
    assert not isinstance(b, tuple)
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=1e-12)


def _fns(fn):
    import torch

    return (lambda *x: fn(fg, *x)), (lambda *x: fn(torch, *x)), torch


def _outputs_like(fn, shapes, lib):
    out = fn(lib, *(_inputs(shapes, lib) if len(shapes) > 1 else (_inputs(shapes, lib),)))
    r = np.random.RandomState(7)
    if isinstance(out, tuple):
        return tuple(lib.tensor(r.randn(*o.shape)) for o in out)
    return lib.tensor(r.randn(*out.shape))


@pytest.mark.parametrize("case", sorted(CASES))
def test_vjp(case, torch):
    fn, shapes = CASES[case]
    ff, ft, _ = _fns(fn)
    got = AF.vjp(ff, _inputs(shapes, fg), _outputs_like(fn, shapes, fg))
    want = torch.autograd.functional.vjp(ft, _inputs(shapes, torch), _outputs_like(fn, shapes, torch))
    _assert_same(got, want)


@pytest.mark.parametrize("case", sorted(CASES))
def test_jvp(case, torch):
    fn, shapes = CASES[case]
    ff, ft, _ = _fns(fn)
    v = _inputs(shapes, fg, seed=3)
    vt = _inputs(shapes, torch, seed=3)
    got = AF.jvp(ff, _inputs(shapes, fg), v)
    want = torch.autograd.functional.jvp(ft, _inputs(shapes, torch), vt)
    _assert_same(got, want)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_jacobian(case, strategy, torch):
    fn, shapes = CASES[case]
    ff, ft, _ = _fns(fn)
    got = AF.jacobian(ff, _inputs(shapes, fg), strategy=strategy)
    want = torch.autograd.functional.jacobian(ft, _inputs(shapes, torch))
    _assert_same(got, want)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("case", sorted(SCALAR))
def test_hessian(case, strategy, torch):
    fn, shapes = SCALAR[case]
    ff, ft, _ = _fns(fn)
    got = AF.hessian(ff, _inputs(shapes, fg), outer_jacobian_strategy=strategy)
    want = torch.autograd.functional.hessian(ft, _inputs(shapes, torch))
    _assert_same(got, want)


@pytest.mark.parametrize("name", ["hvp", "vhp"])
@pytest.mark.parametrize("case", sorted(SCALAR))
def test_hvp_vhp(case, name, torch):
    fn, shapes = SCALAR[case]
    ff, ft, _ = _fns(fn)
    got = getattr(AF, name)(ff, _inputs(shapes, fg), _inputs(shapes, fg, seed=5))
    want = getattr(torch.autograd.functional, name)(ft, _inputs(shapes, torch), _inputs(shapes, torch, seed=5))
    _assert_same(got, want)


@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"])
def test_create_graph_gives_differentiable_results(name, torch):
    x0 = np.array([0.4, -1.2])

    def run(lib, F):
        x = lib.tensor(x0, requires_grad=True)
        scalar_valued = name in ("hessian", "hvp", "vhp")

        def f(z):
            y = lib.sin(z) * z.exp()
            return y.sum() if scalar_valued else y

        if name == "jacobian":
            res = F.jacobian(f, x, create_graph=True)
        elif name == "hessian":
            res = F.hessian(f, x, create_graph=True)
        elif name == "vjp":
            res = F.vjp(f, x, lib.ones(2, dtype=lib.float64), create_graph=True)[1]
        else:
            res = getattr(F, name)(f, x, lib.tensor([1.0, 0.5], dtype=lib.float64), create_graph=True)[1]
        assert res.requires_grad
        (g,) = lib.autograd.grad(res.sum(), x)
        return g.numpy()

    np.testing.assert_allclose(run(fg, AF), run(torch, torch.autograd.functional), rtol=1e-10)


def test_results_are_detached_without_create_graph():
    x = fg.tensor([1.0, 2.0], dtype=fg.float64, requires_grad=True)
    out, g = AF.vjp(lambda z: (z * z).sum(), x)
    assert not out.requires_grad and not g.requires_grad
    out, t = AF.jvp(lambda z: z * z, x, fg.ones(2, dtype=fg.float64))
    assert not out.requires_grad and not t.requires_grad
    assert not AF.jacobian(lambda z: z * z, x).requires_grad


def test_independent_outputs_give_zeros_or_strict_errors():
    x = fg.tensor([1.0, 2.0], dtype=fg.float64)
    const = lambda z: fg.ones(2, dtype=fg.float64)  # noqa: E731
    assert AF.jacobian(const, x).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert AF.jvp(const, x, x)[1].tolist() == [0.0, 0.0]
    assert AF.jacobian(const, x, strategy="forward-mode").tolist() == [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(RuntimeError, match="does not require gradients"):
        AF.vjp(const, x, x, strict=True)
    with pytest.raises(RuntimeError, match="independent"):
        AF.jvp(const, x, x, strict=True)
    with pytest.raises(RuntimeError, match="does not require gradients"):
        AF.jacobian(const, x, strict=True)
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function with respect to input 0 is "
                                           "independent"):
        AF.hessian(lambda z: z.sum() * 2.0, x, strict=True)


def test_argument_errors_like_pytorch():
    x = fg.tensor([1.0, 2.0], dtype=fg.float64)
    with pytest.raises(TypeError, match="The inputs given to vjp must be either a Tensor or a tuple of Tensors"):
        AF.vjp(lambda z: z, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="v can only be None if the user-provided function returns a single"):
        AF.vjp(lambda z: z * 2, x)
    with pytest.raises(RuntimeError, match="v has invalid size: should be"):
        AF.jvp(lambda z: z * 2, x, fg.ones(3, dtype=fg.float64))
    with pytest.raises(RuntimeError, match="should return a single Tensor"):
        AF.hessian(lambda z: (z.sum(), z.sum()), x)
    with pytest.raises(RuntimeError, match="should contain a single element"):
        AF.hvp(lambda z: z * 2, x, x)
    with pytest.raises(AssertionError, match="Expected strategy"):
        AF.jacobian(lambda z: z, x, strategy="sideways")


def test_v_may_be_omitted_for_single_element():
    x = fg.tensor([0.5], dtype=fg.float64)
    _, t = AF.jvp(lambda z: z ** 3, x)
    np.testing.assert_allclose(t.numpy(), [0.75])
    _, h = AF.hvp(lambda z: (z ** 3).sum(), x)
    np.testing.assert_allclose(h.numpy(), [3.0])


def test_user_function_closing_over_the_input_is_not_confused():
    """The functional API differentiates w.r.t. fresh views, like PyTorch (issue 32576)."""
    x = fg.tensor([1.0, 2.0], dtype=fg.float64, requires_grad=True)
    J = AF.jacobian(lambda z: z * x, x)
    np.testing.assert_allclose(J.numpy(), np.diag([1.0, 2.0]))


# --------------------------------------------------------------------------- vectorize=True
MORE_CASES = {  # name: (fn, input shapes)
    "scalar_in_out": (lambda L, x: (x * x).sin(), [()]),
    "matrix_in": (lambda L, x: L.tanh(x @ x.mT).sum(0), [(2, 3)]),
    "unused_input": (lambda L, x, y: x.exp(), [(3,), (3,)]),
    "empty_output": (lambda L, x: (x[:0] * 2.0, x * 3.0), [(3,)]),
}


def _vec_case(case, lib):
    """(fn bound to lib, inputs): a Tensor for one input, a tuple for several."""
    if case in CASES:
        fn, shapes = CASES[case]
        return (lambda *x: fn(lib, *x)), _inputs(shapes, lib)
    fn, shapes = MORE_CASES[case]
    r = np.random.RandomState(1)
    ts = tuple(lib.tensor(np.asarray(r.randn(*s), dtype=np.float64)) for s in shapes)
    return (lambda *x: fn(lib, *x)), (ts if len(ts) > 1 else ts[0])


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", sorted(CASES) + sorted(MORE_CASES))
def test_jacobian_vectorized_matches_pytorch(case, create_graph, torch):
    ff, xf = _vec_case(case, fg)
    ft, xt = _vec_case(case, torch)
    got = AF.jacobian(ff, xf, vectorize=True, create_graph=create_graph)
    want = torch.autograd.functional.jacobian(ft, xt, vectorize=True, create_graph=create_graph)
    _assert_same(got, want)
    _assert_same(got, AF.jacobian(ff, _vec_case(case, fg)[1], vectorize=False, create_graph=create_graph))


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
@pytest.mark.parametrize("case", sorted(SCALAR))
def test_hessian_vectorized_matches_pytorch(case, strategy, torch):
    fn, shapes = SCALAR[case]
    ff, ft, _ = _fns(fn)
    got = AF.hessian(ff, _inputs(shapes, fg), vectorize=True, outer_jacobian_strategy=strategy)
    # the reference is PyTorch's reverse-mode one: its vmap'ed forward-mode fails on x @ B @ x
    want = torch.autograd.functional.hessian(ft, _inputs(shapes, torch), vectorize=True)
    _assert_same(got, want)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_mode_jacobian_vectorized_matches_pytorch(case, torch):
    ff, xf = _vec_case(case, fg)
    ft, xt = _vec_case(case, torch)
    got = AF.jacobian(ff, xf, vectorize=True, strategy="forward-mode")
    # reference: PyTorch's reverse mode (its vmap'ed forward mode fails on the 1-D @ in these cases)
    want = torch.autograd.functional.jacobian(ft, xt, vectorize=True)
    _assert_same(got, want)


def test_vectorized_jacobian_is_differentiable_and_detached_like_pytorch(torch):
    x0 = np.array([0.4, -1.2, 0.3])

    def run(lib, F, create_graph):
        x = lib.tensor(x0, requires_grad=True)
        J = F.jacobian(lambda z: lib.sin(z) * z.exp().sum(), x, vectorize=True, create_graph=create_graph)
        if not create_graph:
            assert not J.requires_grad
            return J.detach().numpy()
        (g,) = lib.autograd.grad((J * J).sum(), x)
        return g.numpy()

    for cg in (False, True):
        np.testing.assert_allclose(run(fg, AF, cg), run(torch, torch.autograd.functional, cg), rtol=1e-10)


def test_vectorize_with_strict_is_refused_like_pytorch(torch):
    msg = "`strict=True` and `vectorized=True` are not supported together"
    with pytest.raises(RuntimeError, match=msg):
        AF.jacobian(lambda z: z * 2, fg.ones(2, dtype=fg.float64), vectorize=True, strict=True)
    with pytest.raises(RuntimeError, match=msg):
        torch.autograd.functional.jacobian(lambda z: z * 2, torch.ones(2, dtype=torch.float64), vectorize=True,
                                           strict=True)


def test_vectorized_jacobian_uses_one_batched_grad_call(monkeypatch):
    """vectorize=True asks autograd.grad once for all rows (is_grads_batched=True)."""
    import fastgrad.autograd as A

    calls = []
    real = A.grad

    def spy(*args, **kwargs):
        calls.append(kwargs.get("is_grads_batched", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(A, "grad", spy)
    x = fg.tensor(np.arange(4.0))
    J = AF.jacobian(lambda z: (z.sin(), z * z.sum()), x, vectorize=True)
    assert calls[0] is True and calls.count(True) == 1  # (a batched grad may loop over plain grads)
    np.testing.assert_allclose(J[0].numpy(), np.diag(np.cos(np.arange(4.0))))
    np.testing.assert_allclose(J[1].numpy(), np.eye(4) * 6.0 + np.arange(4.0)[:, None])
