"""torch.xlogy's gradient at input == 0 is log(other) (0 where other <= 0); fastgrad once gave 0."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("fn", ["xlogy", "special.xlogy", "method"])
def test_xlogy_gradient_at_zero_matches_torch(fn):
    x = np.array([0.0, 1.0, 0.0, 0.0, 2.0])
    y = np.array([2.0, 3.0, -1.0, 0.0, 0.5])
    grads = []
    for lib in (torch, fastgrad):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        f = a.xlogy if fn == "method" else (lib.special.xlogy if fn == "special.xlogy" else lib.xlogy)
        out = f(b) if fn == "method" else f(a, b)
        out.sum().backward()
        grads.append((out.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for u, v in zip(*grads):
        np.testing.assert_array_equal(u, v)
