"""fastgrad.func against torch.func: grad / grad_and_value (argnums, has_aux, nesting), vjp, jvp,
jacrev, jacfwd, hessian, vmap (in_dims/out_dims, pytrees, per-sample gradients), functional_call,
stack_module_state."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
W = RNG.standard_normal((4, 2))


def _np(x):
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    if isinstance(x, dict):
        return {k: _np(v) for k, v in x.items()}
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def _close(a, b):
    a, b = _np(a), _np(b)
    if isinstance(b, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _close(u, v)
    elif isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in b:
            _close(a[k], b[k])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def f_scalar(L):
    return lambda x, w: (L.tanh(x @ w) ** 2).sum()


CASES = {
    "grad": lambda L: L.func.grad(f_scalar(L))(L.tensor(X), L.tensor(W)),
    "grad-argnums": lambda L: L.func.grad(f_scalar(L), argnums=(0, 1))(L.tensor(X), L.tensor(W)),
    "grad-aux": lambda L: L.func.grad(lambda x: ((x ** 3).sum(), x.mean()), has_aux=True)(L.tensor(X)),
    "grad_and_value": lambda L: L.func.grad_and_value(f_scalar(L), argnums=1)(L.tensor(X), L.tensor(W)),
    "grad-of-grad": lambda L: L.func.grad(lambda x: L.func.grad(lambda y: (L.sin(y) * y).sum())(x).sum())(
        L.tensor(X)),
    "grad-dict": lambda L: L.func.grad(lambda p: (p["a"] * p["b"]).sum())({"a": L.tensor(X), "b": L.tensor(X * 2)}),
    "vjp": lambda L: (lambda r: (r[0], r[1](L.ones(3, 2))))(L.func.vjp(lambda x, w: L.sigmoid(x @ w), L.tensor(X),
                                                                          L.tensor(W))),
    "jvp": lambda L: L.func.jvp(lambda x: L.exp(x).sum(0), (L.tensor(X),), (L.tensor(X * 0.5),)),
    "jacrev": lambda L: L.func.jacrev(lambda x: L.tanh(x @ L.tensor(W)))(L.tensor(X[0])),
    "jacrev-argnums": lambda L: L.func.jacrev(lambda x, w: x @ w, argnums=(0, 1))(L.tensor(X[0]), L.tensor(W)),
    "jacfwd": lambda L: L.func.jacfwd(lambda x: L.sin(x) * x.sum())(L.tensor(X[0])),
    "hessian": lambda L: L.func.hessian(lambda x: (L.sin(x) * x ** 2).sum())(L.tensor(X[0])),
    "vmap": lambda L: L.func.vmap(lambda x: x @ L.tensor(W))(L.tensor(X)),
    "vmap-in-dims": lambda L: L.vmap(lambda x, y: x * y.sum(), in_dims=(1, None))(L.tensor(X), L.tensor(W)),
    "vmap-out-dims": lambda L: L.func.vmap(lambda x: (x * 2, x.sum()), out_dims=(1, 0))(L.tensor(X)),
    "vmap-nested": lambda L: L.func.vmap(L.func.vmap(lambda a: a ** 2 + 1))(L.tensor(X)),
    "vmap-dict": lambda L: L.func.vmap(lambda d: d["x"] + d["y"])({"x": L.tensor(X), "y": L.tensor(X * 3)}),
    "per-sample-grads": lambda L: L.func.vmap(L.func.grad(lambda w, x: (L.tanh(x @ w) ** 2).sum()),
                                              in_dims=(None, 0))(L.tensor(W), L.tensor(X)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_transforms_match_torch(name):
    _close(CASES[name](fastgrad), CASES[name](torch))


def _net(L):
    m = L.nn.Sequential(L.nn.Linear(4, 5), L.nn.Tanh(), L.nn.Linear(5, 2)).double()
    with L.no_grad():
        for p in m.parameters():
            p.copy_(L.tensor(RNG.standard_normal(tuple(p.shape))))
    return m


def test_functional_call_and_per_sample_gradients():
    tm, fm = _net(torch), _net(fastgrad)
    fm.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    new = {k: v * 2 for k, v in tm.named_parameters()}
    fnew = {k: fastgrad.tensor(v.detach().numpy()) for k, v in new.items()}
    _close(fastgrad.func.functional_call(fm, fnew, (fastgrad.tensor(X),)),
           torch.func.functional_call(tm, new, (torch.tensor(X),)))
    _close(fm(fastgrad.tensor(X)), tm(torch.tensor(X)))  # the module is unchanged afterwards

    def loss(L, m):
        def f(params, x):
            return (L.func.functional_call(m, params, (x[None],)) ** 2).sum()
        return f
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    fp = {k: fastgrad.tensor(v.numpy()) for k, v in tp.items()}
    tg = torch.func.vmap(torch.func.grad(loss(torch, tm)), in_dims=(None, 0))(tp, torch.tensor(X))
    fg = fastgrad.func.vmap(fastgrad.func.grad(loss(fastgrad, fm)), in_dims=(None, 0))(fp, fastgrad.tensor(X))
    _close(fg, tg)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        fastgrad.func.functional_call(fm, {"nope": fastgrad.ones(1)}, (fastgrad.tensor(X),), strict=True)


def test_stack_module_state():
    models = [_net(fastgrad) for _ in range(3)]
    params, buffers = fastgrad.func.stack_module_state(models)
    assert set(params) == {n for n, _ in models[0].named_parameters()} and buffers == {}
    assert tuple(params["0.weight"].shape) == (3, 5, 4) and params["0.weight"].requires_grad


def test_errors():
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor"):
        fastgrad.func.grad(lambda x: x * 2)(fastgrad.ones(3))
    with pytest.raises(ValueError, match="Expected all tensors to have the same size in the mapped dimension"):
        fastgrad.func.vmap(lambda a, b: a + b)(fastgrad.ones(2), fastgrad.ones(3))
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        fastgrad.func.vmap(lambda a: a, randomness="bad")
