"""fastgrad.autograd.Function: ctx API, non-tensor args, multiple outputs, errors, jvp, setup_context."""
import numpy as np
import pytest

import fastgrad as fg
import fastgrad.autograd.forward_ad as fwAD
from fastgrad.autograd import Function, gradcheck, gradgradcheck, once_differentiable


def _x(*shape, requires_grad=True, seed=0):
    return fg.tensor(np.random.RandomState(seed).randn(*shape), requires_grad=requires_grad)


class ScaledExp(Function):
    """y = k * exp(x), with a non-tensor k; saves its output."""

    @staticmethod
    def forward(ctx, x, k):
        y = k * x.exp()
        ctx.save_for_backward(y)
        ctx.k = k
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y, None

    @staticmethod
    def jvp(ctx, tx, tk):
        assert tk is None  # non-tensor arguments get None
        (y,) = ctx.saved_tensors
        return tx * y


def test_forward_backward_and_non_tensor_args():
    x = _x(3)
    y = ScaledExp.apply(x, 2.0)
    assert type(y.grad_fn).__name__ == "ScaledExpBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.detach().numpy()))
    assert gradcheck(lambda t: ScaledExp.apply(t, 3.0), (x,))
    assert gradgradcheck(lambda t: ScaledExp.apply(t, 3.0), (x,))  # backward uses differentiable ops


def test_forward_is_not_recorded_and_needs_input_grad():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, n):
            seen["grad_enabled"] = fg.is_grad_enabled()
            seen["needs"] = ctx.needs_input_grad
            out = a * b
            seen["inner_requires_grad"] = out.requires_grad
            return out

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    a, b = _x(2), _x(2, requires_grad=False)
    Probe.apply(a, b, 3)
    assert seen == {"grad_enabled": False, "needs": (True, False, False), "inner_requires_grad": False}


def test_multiple_outputs_and_materialized_grads():
    class SplitMul(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            assert g1 is not None and g2 is not None  # materialized as zeros by default
            return g1 * 2 + g2 * 3

    x = _x(3)
    a, b = SplitMul.apply(x)
    a.sum().backward()  # b unused: its gradient is zeros
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])
    assert gradcheck(lambda t: SplitMul.apply(t), (x,))


def test_set_materialize_grads_false_passes_none():
    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x.clone(), x.clone()

        @staticmethod
        def backward(ctx, g1, g2):
            assert g2 is None
            return g1

    x = _x(2)
    Two.apply(x)[0].sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_mark_non_differentiable():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = fg.tensor(np.argsort(x.detach().numpy()))
            vals = x.clone()
            ctx.mark_non_differentiable(idx)
            return vals, idx

        @staticmethod
        def backward(ctx, g, gi):
            assert gi is None or float(gi.abs().sum()) == 0
            return g

    x = _x(3)
    vals, idx = SortLike.apply(x)
    assert vals.requires_grad and not idx.requires_grad and idx.grad_fn is None


def test_mark_dirty_inplace_function():
    class AddOneInplace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1.0)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = _x(3)
    x = a * 1.0  # a non-leaf may be modified in place
    v0 = x._version
    y = AddOneInplace.apply(x)
    assert y is x and x._version > v0
    assert type(x.grad_fn).__name__ == "AddOneInplaceBackward"
    (y * 2).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_saved_tensors_checked_against_inplace_modification():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = _x(3)
    x = a * 1.0
    y = Square.apply(x)
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[torch.DoubleTensor \[3\]\], "
                       r"which is output 0 of MulBackward, is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_input_returned_as_is_is_an_alias_with_history():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = _x(2)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_wrong_number_of_gradients_names_the_function():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="function BadBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        Bad.apply(_x(2), _x(2)).sum().backward()


def test_extra_none_gradients_are_accepted():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    x = _x(2)
    Extra.apply(x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_wrong_gradient_shape_names_the_function():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return fg.ones(5, dtype=fg.float64)

    with pytest.raises(RuntimeError, match="BadShapeBackward"):
        BadShape.apply(_x(3)).sum().backward()


def test_wrong_gradient_type_names_the_function():
    class BadType(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return 1.0

    with pytest.raises(TypeError, match="BadTypeBackward"):
        BadType.apply(_x(3)).sum().backward()


def test_once_differentiable_runs_without_graph_and_blocks_double_backward():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not fg.is_grad_enabled()
            return 3 * x ** 2 * g

    x = _x(3)
    (g,) = fg.autograd.grad(Cube.apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), 3 * x.detach().numpy() ** 2)
    (g,) = fg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert not g.requires_grad  # like PyTorch: the incoming gradient (ones) has no history
    y = Cube.apply(x)
    (g,) = fg.autograd.grad((y * y).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_legacy_instantiation_raises():
    with pytest.raises(RuntimeError, match="Legacy autograd function"):
        ScaledExp()


def test_setup_context_style():
    class Mul(Function):
        @staticmethod
        def forward(a, b):
            return a * b

        @staticmethod
        def setup_context(ctx, inputs, output):
            a, b = inputs
            ctx.save_for_backward(a, b)

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g * b, g * a

        @staticmethod
        def jvp(ctx, ta, tb):
            a, b = ctx.saved_tensors
            return ta * b + a * tb

    a, b = _x(3), _x(3, seed=1)
    assert type(Mul.apply(a, b).grad_fn).__name__ == "MulBackward"
    assert gradcheck(Mul.apply, (a, b), check_forward_ad=True)


# --------------------------------------------------------------------------- forward mode
def test_custom_jvp_matches_finite_differences():
    x = _x(4)
    assert gradcheck(lambda t: ScaledExp.apply(t, 1.5), (x,), check_forward_ad=True)


def test_custom_jvp_gets_zeros_for_tensors_without_tangent_and_save_for_forward():
    seen = {}

    class Mul3(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_forward(x, y)
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            return g, g, None

        @staticmethod
        def jvp(ctx, tx, ty, tk):
            seen["ty"], seen["tk"] = ty, tk
            x, y = ctx.saved_tensors
            return (tx * y + x * ty) * 3

    x0, y0 = _x(2, requires_grad=False), _x(2, requires_grad=False, seed=1)
    with fwAD.dual_level():
        x = fwAD.make_dual(x0, fg.ones(2, dtype=fg.float64))
        out = Mul3.apply(x, y0, 3)
        t = fwAD.unpack_dual(out).tangent
    assert seen["tk"] is None and seen["ty"].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(t.numpy(), 3 * y0.numpy())


def test_custom_function_without_jvp_raises_in_forward_mode():
    class NoJvp(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(_x(2, requires_grad=False), fg.ones(2, dtype=fg.float64))
        with pytest.raises(RuntimeError, match="You must implement the jvp function.*NoJvp"):
            NoJvp.apply(x)


def test_custom_jvp_wrong_shape_names_the_function():
    class BadJvp(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, t):
            return t.sum()

    with fwAD.dual_level():
        x = fwAD.make_dual(_x(2, requires_grad=False), fg.ones(2, dtype=fg.float64))
        with pytest.raises(RuntimeError, match="BadJvp's jvp returned an invalid tangent"):
            BadJvp.apply(x)


def test_forward_of_custom_function_is_not_dual():
    seen = {}

    class Peek(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            seen["inner_tangent"] = fwAD.unpack_dual(y).tangent
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, t):
            return t * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(_x(2, requires_grad=False), fg.ones(2, dtype=fg.float64))
        y = Peek.apply(x)
        assert fwAD.unpack_dual(y).tangent.tolist() == [2.0, 2.0]
    assert seen["inner_tangent"] is None


def test_inverse_matrix_function_from_seed_002():
    class InverseMatrix(Function):
        @staticmethod
        def forward(ctx, A):
            A_inv = fg.linalg.inv(A)
            ctx.save_for_backward(A_inv)
            return A_inv

        @staticmethod
        def backward(ctx, grad_output):
            (A_inv,) = ctx.saved_tensors
            return -A_inv.T @ grad_output @ A_inv.T

        @staticmethod
        def jvp(ctx, tA):
            (A_inv,) = ctx.saved_tensors
            return -A_inv @ tA @ A_inv

    A = (fg.randn(4, 4, dtype=fg.float64) + 4 * fg.eye(4, dtype=fg.float64)).requires_grad_()
    assert gradcheck(InverseMatrix.apply, (A,), eps=1e-6, atol=1e-5, check_forward_ad=True)
    assert gradgradcheck(InverseMatrix.apply, (A,))
    W = fg.randn(4, 4, dtype=fg.float64)
    (g1,) = fg.autograd.grad((InverseMatrix.apply(A) * W).sum(), [A])
    (g2,) = fg.autograd.grad((fg.linalg.inv(A) * W).sum(), [A])
    np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-8, atol=1e-10)
