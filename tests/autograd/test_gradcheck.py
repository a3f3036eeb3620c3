"""gradcheck / gradgradcheck: PyTorch's signature and behaviour."""
import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import Function, gradcheck, gradgradcheck
from fastgrad.autograd.gradcheck import GradcheckError


def _x(*shape, seed=0):
    return fg.tensor(np.random.RandomState(seed).randn(*shape), requires_grad=True)


class WrongGrad(Function):
    """exp with a backward off by a factor 2 (but a right jvp)."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return 2 * g * y

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return t * y


class WrongJvp(WrongGrad):
    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y

    @staticmethod
    def jvp(ctx, t):
        (y,) = ctx.saved_tensors
        return 3 * t * y


@pytest.mark.parametrize("fast_mode", [False, True])
def test_passes_on_correct_function(fast_mode):
    x, w = _x(3, 2), _x(2, 4, seed=1)
    f = lambda a, b: fg.tanh(a @ b) * a.sum()  # noqa: E731
    assert gradcheck(f, (x, w), check_forward_ad=True, fast_mode=fast_mode)
    assert gradgradcheck(f, (x, w), check_fwd_over_rev=True, fast_mode=fast_mode)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_detects_wrong_backward(fast_mode):
    x = _x(3)
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(WrongGrad.apply, (x,), fast_mode=fast_mode)
    assert gradcheck(WrongGrad.apply, (x,), raise_exception=False, fast_mode=fast_mode) is False
    assert gradcheck(WrongGrad.apply, (x,), check_backward_ad=False, check_forward_ad=True, fast_mode=fast_mode)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_detects_wrong_jvp(fast_mode):
    x = _x(3)
    assert gradcheck(WrongJvp.apply, (x,), fast_mode=fast_mode)
    with pytest.raises(GradcheckError, match="forward mode"):
        gradcheck(WrongJvp.apply, (x,), check_forward_ad=True, fast_mode=fast_mode)


def test_gradgradcheck_detects_wrong_double_backward():
    class BadSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x.detach()  # first order right, second order lost

    x = _x(3)
    assert gradcheck(BadSquare.apply, (x,))
    assert gradgradcheck(BadSquare.apply, (x,), raise_exception=False) is False


def test_nondeterministic_backward_and_nondet_tol():
    class Noisy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * (1.0 + 1e-9 * np.random.rand())

    x = _x(2)
    with pytest.raises(GradcheckError, match="not reentrant"):
        gradcheck(Noisy.apply, (x,))
    assert gradcheck(Noisy.apply, (x,), nondet_tol=1e-6)


def test_non_tensor_and_non_differentiable_arguments():
    x = _x(3)
    assert gradcheck(lambda a, k, b: a * k + b, (x, 2.5, fg.ones(3, dtype=fg.float64)))
    assert gradcheck(lambda a: (a * 2, a.argmax()), (x,))  # integer outputs are skipped


def test_requires_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (fg.ones(2, dtype=fg.float64),))


def test_warns_on_single_precision():
    x = fg.randn(3, requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda a: a * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)


def test_non_contiguous_input():
    x = fg.tensor(np.random.RandomState(2).randn(3, 4)).t().requires_grad_()
    assert not x._data.flags.c_contiguous
    assert gradcheck(lambda a: fg.sin(a) * a, (x,), check_forward_ad=True)


def test_gradgradcheck_with_given_and_non_contiguous_grad_outputs():
    x = _x(2, 3)
    go = fg.tensor(np.random.RandomState(3).randn(2, 3), requires_grad=True)
    assert gradgradcheck(lambda a: a ** 3, (x,), (go,))
    assert gradgradcheck(lambda a: a ** 3, (x,), gen_non_contig_grad_outputs=True)
