"""fastgrad/_ops/elementwise.py against torch: pow with a Python-number exponent.

torch's pow_tensor_scalar_optimized_kernel computes the exponents 2, 3, -1, -2 and -0.5 as x*x,
x*x*x, 1/x, 1/(x*x) and 1/sqrt(x) in float32 / float64, so those values are bitwise torch's; the other
exponents go through pow (within rounding). pow's forward does not warn about the inf / nan it
produces (torch does not; the Square op of exponent 2 and the backward's products are other ops)."""
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import gradcheck, gradgradcheck

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-30, -1e-30, 1e30, -1e30]
SHORTCUTS = [3, 3.0, -1, -1.0, -2, -2.0, -0.5, 2, 2.0]


def _x(dtype, n=3000):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    with np.errstate(over="ignore"):  # 1e30 is inf in float16
        x[: len(SPECIAL)] = np.asarray(SPECIAL).astype(dtype)
    return x


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", SHORTCUTS)
def test_pow_shortcut_exponents_are_bitwise_torch(torch, dtype, p):
    x = _x(dtype)
    with warnings.catch_warnings():
        if p != 2:
            warnings.simplefilter("error")  # torch gives inf / nan silently
        f_ops = [fastgrad.pow(fastgrad.tensor(x), p), fastgrad.tensor(x) ** p, fastgrad.tensor(x).pow(p)]
    t = torch.pow(torch.from_numpy(x), p).numpy()
    for out in f_ops:
        assert _same(out.numpy(), t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [3.0, -1.0, -2.0, -0.5, 2.5, 4.0, -3.0, 0.5, 1.0, 0.0, 7])
def test_pow_scalar_values_and_grads(torch, dtype, p):
    x = _x(dtype)
    fx = fastgrad.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fy = fx ** p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow in the backward's products (numpy backend)
        (fy * fastgrad.tensor(g)).sum().backward()
    ty = tx ** p
    (ty * torch.tensor(g)).sum().backward()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("p", [3.0, -1.0, -2.0, -0.5, 2.5])
def test_pow_float16_as_torch(torch, p):
    x = _x(np.float16, 500)
    assert _same(fastgrad.pow(fastgrad.tensor(x), p).numpy(), torch.pow(torch.from_numpy(x), p).numpy())


def test_pow_shortcuts_leave_complex_alone(torch):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(50) + 1j * rng.standard_normal(50)).astype(np.complex128)
    for p in (3.0, -1.0, -2.0, -0.5):
        np.testing.assert_allclose(fastgrad.pow(fastgrad.tensor(x), p).numpy(),
                                   torch.pow(torch.from_numpy(x), p).numpy(), rtol=1e-12)


@pytest.mark.parametrize("p", [3, -1, -2, -0.5])
def test_pow_shortcut_gradcheck(p):
    x = fastgrad.tensor(np.random.default_rng(3).uniform(0.5, 2.0, (4, 3)), requires_grad=True)
    assert gradcheck(lambda t: t ** p, (x,))
    assert gradgradcheck(lambda t: t ** p, (x,))
