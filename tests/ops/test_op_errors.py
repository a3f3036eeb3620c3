"""Bad input gives PyTorch's exception type with the op name / shapes in the message, never a
crash or garbage. Each case runs against fastgrad (type and message) and PyTorch (type)."""
import numpy as np
import pytest

import fastgrad


def F(L):
    return L.nn.functional


def x23(L, dtype=None):
    return L.tensor(np.arange(6.0).reshape(2, 3), dtype=dtype)


def ints(L):
    return L.tensor([[1, 2], [3, 4]])


def leaf(L, *shape):
    return L.tensor(np.linspace(-1.0, 2.0, int(np.prod(shape))).reshape(shape), requires_grad=True)


def idx23(L):
    return L.tensor([[0, 2], [1, 1]])


CASES = [
    # dim out of range
    ("sum_dim", lambda L: L.sum(x23(L), 2), IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    ("softmax_dim", lambda L: L.softmax(x23(L), 5), IndexError, "Dimension out of range"),
    ("cumsum_dim", lambda L: L.cumsum(x23(L), -3), IndexError, "Dimension out of range"),
    ("flip_dim", lambda L: L.flip(x23(L), (3,)), IndexError, "Dimension out of range"),
    ("cat_dim", lambda L: L.cat([x23(L), x23(L)], 2), IndexError, "Dimension out of range"),
    ("stack_dim", lambda L: L.stack([x23(L), x23(L)], 4), IndexError, "Dimension out of range"),
    ("index_select_dim", lambda L: L.index_select(x23(L), 2, L.tensor([0])), IndexError, "Dimension out of range"),
    ("gather_dim", lambda L: L.gather(x23(L), 2, L.tensor([[0]])), IndexError, "Dimension out of range"),
    ("narrow_dim", lambda L: L.narrow(x23(L), 2, 0, 1), IndexError, "Dimension out of range"),
    ("amax_dim", lambda L: L.amax(x23(L), 3), IndexError, "Dimension out of range"),
    ("var_dim", lambda L: L.var(x23(L), 3), IndexError, "Dimension out of range"),
    ("logsumexp_dim", lambda L: L.logsumexp(x23(L), -3), IndexError, "Dimension out of range"),
    ("sort_dim", lambda L: L.sort(x23(L), 2), IndexError, "Dimension out of range"),
    ("topk_dim", lambda L: L.topk(x23(L), 1, 2), IndexError, "Dimension out of range"),
    ("movedim_dim", lambda L: L.movedim(x23(L), 0, 2), IndexError, "Dimension out of range"),
    ("norm_dim", lambda L: L.norm(x23(L), dim=2), IndexError, "Dimension out of range"),
    ("unbind_dim", lambda L: L.unbind(x23(L), 2), IndexError, "Dimension out of range"),
    ("max_dim", lambda L: L.max(x23(L), 2), IndexError, "Dimension out of range"),
    # mismatched shapes
    ("add_shapes", lambda L: L.ones(3) + L.ones(4), RuntimeError,
     r"The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 0"),
    ("mul_shapes", lambda L: L.ones(2, 3) * L.ones(2, 1, 4), RuntimeError, "must match the size of tensor b"),
    ("matmul_shapes", lambda L: L.ones(2, 3) @ L.ones(4, 5), RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("linear_bias_dtype", lambda L: F(L).linear(L.ones(4, 3), L.ones(5, 3), L.ones(5, dtype=L.float64)), RuntimeError,
     "self and mat2 must have the same dtype, but got Double and Float"),
    ("linear_bias_dtype_3d", lambda L: F(L).linear(L.ones(2, 4, 3), L.ones(5, 3), L.ones(5, dtype=L.float16)), RuntimeError,
     "self and mat2 must have the same dtype, but got Half and Float"),
    ("cat_shapes", lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]), RuntimeError, "Sizes of tensors must match except in dimension 0"),
    ("stack_shapes", lambda L: L.stack([L.ones(2), L.ones(3)]), RuntimeError, "stack expects each tensor to be equal size"),
    ("split_sizes", lambda L: L.split(L.ones(5), [2, 2]), RuntimeError, "split_with_sizes expects split_sizes to sum exactly to 5"),
    ("solve_shapes", lambda L: L.linalg.solve(L.eye(3), L.ones(4, 1)), RuntimeError, "linalg.solve: Incompatible shapes"),
    ("inv_nonsquare", lambda L: L.linalg.inv(L.ones(2, 3)), RuntimeError, "linalg.inv: A must be batches of square matrices"),
    ("ce_batch", lambda L: F(L).cross_entropy(L.ones(3, 4), L.tensor([0, 1])), ValueError,
     r"Expected input batch_size \(3\) to match target batch_size \(2\)"),
    ("bce_shapes", lambda L: F(L).binary_cross_entropy(L.full((3,), 0.5), L.ones(3, 1)), ValueError, "target size"),
    ("bce_logits_shapes", lambda L: F(L).binary_cross_entropy_with_logits(L.ones(3), L.ones(3, 1)), ValueError,
     "Target size"),
    ("where_shapes", lambda L: L.where(L.ones(3) > 0, L.ones(3), L.ones(4)), RuntimeError, "must match the size"),
    ("einsum_operands", lambda L: L.einsum("ij,jk->ik", L.ones(2, 3)), RuntimeError, "einsum"),
    ("tensordot_dims", lambda L: L.tensordot(L.ones(2, 3), L.ones(4, 2), 1), RuntimeError, "contracted dimensions need to match"),
    ("expand_shapes", lambda L: L.ones(2, 3).expand(4, 3), RuntimeError, "The expanded size of the tensor"),
    ("reshape_size", lambda L: L.ones(2, 3).reshape(4, 2), RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6"),
    # integer inputs to ops that need floats
    ("mean_int", lambda L: L.mean(ints(L)), RuntimeError, "mean\\(\\): could not infer output dtype"),
    ("var_int", lambda L: L.var(ints(L)), RuntimeError, "std and var only support floating point"),
    ("softmax_int", lambda L: L.softmax(ints(L), 1), RuntimeError, "softmax"),
    ("inv_int", lambda L: L.linalg.inv(ints(L)), RuntimeError, "linalg.inv: Expected a floating point or complex tensor"),
    ("det_int", lambda L: L.linalg.det(ints(L)), RuntimeError, "linalg.det: Expected a floating point"),
    ("cholesky_int", lambda L: L.linalg.cholesky(ints(L)), RuntimeError, "linalg.cholesky: Expected a floating point"),
    ("requires_grad_int", lambda L: ints(L).requires_grad_(), RuntimeError,
     "only Tensors of floating point and complex dtype can require gradients"),
    ("gelu_int", lambda L: F(L).gelu(ints(L)), RuntimeError, "not implemented for 'Long'"),
    ("vector_norm_int", lambda L: L.linalg.vector_norm(ints(L)), RuntimeError, "linalg.vector_norm: Expected a floating point"),
    ("one_hot_float", lambda L: F(L).one_hot(L.ones(3)), RuntimeError, "one_hot is only applicable to index tensor"),
    ("masked_fill_float_mask", lambda L: x23(L).masked_fill(L.ones(2, 3), 0.0), RuntimeError, "only supports boolean masks"),
    ("gather_float_index", lambda L: L.gather(x23(L), 1, L.ones(2, 1)), RuntimeError, "Expected dtype int32/int64 for index"),
    # out-of-range indices
    ("getitem_index", lambda L: x23(L)[L.tensor([0, 5])], IndexError, "out of bounds"),
    ("getitem_int", lambda L: x23(L)[2], IndexError, "out of bounds"),
    ("select_index", lambda L: L.select(x23(L), 0, 5), IndexError, r"select\(\): index 5 out of range"),
    ("index_select_index", lambda L: L.index_select(x23(L), 1, L.tensor([3])), RuntimeError, "out of bounds"),
    ("gather_index", lambda L: L.gather(x23(L), 1, L.tensor([[3]])), RuntimeError, "out of bounds for dimension 1 with size 3"),
    ("scatter_index", lambda L: L.scatter(x23(L), 1, L.tensor([[3]]), x23(L)), RuntimeError, "out of bounds"),
    ("take_index", lambda L: L.take(x23(L), L.tensor([6])), IndexError, "out of range"),
    ("narrow_length", lambda L: L.narrow(x23(L), 1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
    ("ce_target", lambda L: F(L).cross_entropy(L.ones(2, 3), L.tensor([0, 3])), IndexError, "Target 3 is out of bounds"),
    ("one_hot_classes", lambda L: F(L).one_hot(L.tensor([0, 3]), 3), RuntimeError, "Class values must be smaller than num_classes"),
    ("embedding_index", lambda L: F(L).embedding(L.tensor([4]), L.ones(3, 2)), IndexError, "index out of range in self"),
    ("topk_k", lambda L: L.topk(L.ones(3), 4), RuntimeError, "selected index k out of range"),
    # singular / not positive-definite
    ("inv_singular", lambda L: L.linalg.inv(L.zeros(2, 2)), RuntimeError, "singular"),
    ("solve_singular", lambda L: L.linalg.solve(L.zeros(2, 2), L.ones(2)), RuntimeError, "singular"),
    ("cholesky_not_pd", lambda L: L.linalg.cholesky(-L.eye(2)), RuntimeError, "not positive-definite"),
    # bad arguments
    ("dropout_p", lambda L: F(L).dropout(L.ones(3), 1.5), ValueError, "dropout probability has to be between 0 and 1"),
    ("clamp_none", lambda L: L.clamp(L.ones(3)), RuntimeError, "At least one of 'min' or 'max' must not be None"),
    ("cat_empty_list", lambda L: L.cat([]), ValueError, "expected a non-empty list of Tensors"),
    ("stack_empty_list", lambda L: L.stack([]), RuntimeError, "stack expects a non-empty TensorList"),
    ("cat_zero_dim", lambda L: L.cat([L.tensor(1.0), L.tensor(2.0)]), RuntimeError, "zero-dimensional tensor"),
    ("repeat_dims", lambda L: L.ones(2, 3).repeat(2), RuntimeError, "Number of dimensions of repeat dims"),
    ("pad_odd", lambda L: F(L).pad(L.ones(2, 3), (1,)), RuntimeError, "Padding length must be divisible by 2"),
    ("label_smoothing", lambda L: F(L).cross_entropy(L.ones(2, 3), L.tensor([0, 1]), label_smoothing=1.5), RuntimeError,
     "label_smoothing"),
    ("chunk_zero", lambda L: L.chunk(L.ones(3), 0), RuntimeError, "chunk expects `chunks` to be greater than 0"),
    ("diagonal_same_dims", lambda L: L.diagonal(x23(L), 0, 1, 1), RuntimeError, "diagonal dimensions cannot be identical"),
    # scatter with reduce / scatter_reduce
    ("scatter_reduce_name", lambda L: L.scatter_reduce(x23(L), 1, idx23(L), x23(L), "add"), RuntimeError,
     "reduce argument must be either sum, prod, mean, amax or amin, got add"),
    ("scatter_with_reduce_name", lambda L: L.scatter(x23(L), 1, idx23(L), x23(L), reduce="mean"), RuntimeError,
     "reduce argument must be either add or multiply"),
    ("scatter_reduce_dtype", lambda L: L.scatter_reduce(x23(L), 1, idx23(L), x23(L, L.float32), "sum"), RuntimeError,
     r"scatter\(\): Expected self.dtype to be equal to src.dtype"),
    ("scatter_reduce_index", lambda L: L.scatter_reduce(x23(L), 1, L.tensor([[3]]), x23(L), "amax"), RuntimeError,
     "out of bounds"),
    ("scatter_reduce_float_index", lambda L: L.scatter_reduce(x23(L), 1, L.ones(2, 1), x23(L), "amax"), RuntimeError,
     "Expected dtype int32/int64 for index"),
    ("scatter_reduce_method_name", lambda L: x23(L).scatter_reduce_(1, idx23(L), x23(L), "max2"), RuntimeError,
     "reduce argument must be either sum"),
    ("scatter_with_reduce_backward",
     lambda L: L.scatter(leaf(L, 2, 3), 1, idx23(L), x23(L), reduce="add").sum().backward(), RuntimeError,
     "derivative for aten::scatter is not implemented"),
    ("scatter_with_reduce_value_backward",
     lambda L: leaf(L, 2, 3).scatter(1, idx23(L), 2.0, reduce="multiply").sum().backward(), RuntimeError,
     "derivative for aten::scatter is not implemented"),
    # remainder / fmod
    ("remainder_int_zero", lambda L: L.remainder(ints(L), 0), RuntimeError, "ZeroDivisionError"),
    ("fmod_int_zero", lambda L: L.fmod(ints(L), L.tensor([[1, 0], [2, 3]])), RuntimeError, "ZeroDivisionError"),
    ("remainder_shapes", lambda L: L.remainder(L.ones(3), L.ones(4)), RuntimeError, "must match the size of tensor b"),
    # decompositions: derivatives PyTorch does not define
    ("qr_mode_r_backward", lambda L: L.linalg.qr(leaf(L, 3, 3), mode="r").R.sum().backward(), RuntimeError,
     "The derivative of linalg.qr depends on Q, which is not computed when mode='r'"),
    ("qr_complete_tall_backward", lambda L: L.linalg.qr(leaf(L, 4, 3), mode="complete").Q.sum().backward(),
     RuntimeError, "The QR decomposition is not differentiable when mode='complete' and nrows > ncols"),
    ("qr_int", lambda L: L.linalg.qr(ints(L)), RuntimeError, "linalg.qr: Expected a floating point"),
    ("qr_mode", lambda L: L.linalg.qr(x23(L), mode="full"), RuntimeError, "qr received unrecognized mode 'full'"),
    ("svd_int", lambda L: L.linalg.svd(ints(L)), RuntimeError, "linalg.svd: Expected a floating point"),
    ("svd_1d", lambda L: L.linalg.svd(L.ones(3)), RuntimeError,
     "linalg.svd: The input tensor A must have at least 2 dimensions"),
]


@pytest.mark.parametrize("name, fn, exc, match", [pytest.param(*c, id=c[0]) for c in CASES])
def test_fastgrad_error(name, fn, exc, match):
    with pytest.raises(exc, match=match):
        fn(fastgrad)


@pytest.mark.parametrize("name, fn, exc, match", [pytest.param(*c, id=c[0]) for c in CASES])
def test_torch_raises_the_same_type(torch, name, fn, exc, match):
    with pytest.raises(exc):
        fn(torch)
