"""The ops and rules the op_db / module_db census found missing or different (issue 28), each
against torch: conversion methods' memory_format, to()'s positional flags, bitwise_not / sgn_ /
conj_physical_ methods, differentiable normal and bernoulli, randint(high, size), index_fill with
a repeated index, lstsq's residuals, vector_norm's subgradient at 0, empty batch_norm,
tensordot's size-1 dims, searchsorted(sorter=), unique_consecutive(dim=), complex silu, addbmm_'s
resize, native_layer/group/batch_norm, grid_sampler_2d/3d, linear_cross_entropy (and its module),
fractional_max_pool3d (and its module)."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")


def pair(a, dtype=np.float64, grad=True):
    """(torch tensor, fastgrad tensor) of one array, both requiring grad when floating."""
    a = np.asarray(a, dtype)
    t, f = torch.tensor(a), fastgrad.tensor(a)
    if grad and a.dtype.kind in "fc":
        t.requires_grad_(True)
        f.requires_grad_(True)
    return t, f


def close(f, t, tol=1e-6):
    assert tuple(f.shape) == tuple(t.shape), (f.shape, t.shape)
    assert str(f.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (f.dtype, t.dtype)
    np.testing.assert_allclose(np.asarray(f.detach().numpy()), t.detach().numpy(), rtol=tol, atol=tol)


def grads_close(f_out, t_out, f_in, t_in, tol=1e-6):
    tg = torch.autograd.grad(t_out.sum() if not t_out.is_complex() else t_out.abs().sum(), t_in, allow_unused=True)
    fg = fastgrad.autograd.grad(f_out.sum() if not f_out.is_complex() else f_out.abs().sum(), f_in,
                                allow_unused=True)
    for a, b in zip(fg, tg):
        if b is None:
            assert a is None or not np.asarray(a.numpy()).any()
        else:
            close(a, b, tol)


@pytest.mark.parametrize("name", ["float", "double", "half", "bfloat16", "long", "int", "short", "bool", "byte"])
def test_conversion_methods_take_memory_format(name):
    t, f = pair(np.arange(6.0).reshape(2, 3), grad=False)
    close(getattr(f, name)(memory_format=fastgrad.contiguous_format).float(),
          getattr(t, name)(memory_format=torch.contiguous_format).float())
    with pytest.raises(TypeError):
        getattr(f, name)(fastgrad.contiguous_format)  # keyword-only, as torch's


def test_to_positional_non_blocking_and_copy():
    t, f = pair(np.ones(3), np.float32, grad=False)
    rt, rf = t.to("cpu", torch.float32, True, True), f.to("cpu", fastgrad.float32, True, True)
    assert rt is not t and rf is not f  # copy=True
    assert f.to("cpu", fastgrad.float32, False, False) is f
    close(f.to("cpu", fastgrad.float64, True), t.to("cpu", torch.float64, True))


def test_bitwise_not_and_sign_in_place_methods():
    a = np.array([0, 3, -7, 12], np.int64)
    t, f = torch.tensor(a), fastgrad.tensor(a)
    close(f.bitwise_not(), t.bitwise_not())
    f.bitwise_not_()
    t.bitwise_not_()
    close(f, t)
    z = np.array([1 + 2j, -3j, 0, 2], np.complex128)
    tz, fz = torch.tensor(z), fastgrad.tensor(z)
    close(fz.clone().sgn_(), tz.clone().sgn_())
    close(fz.clone().conj_physical_(), tz.clone().conj_physical_())


def test_normal_is_differentiable_in_mean_and_std():
    tm, fm = pair([0.5, -1.0, 2.0])
    ts, fs = pair([1.0, 0.5, 2.0])
    fo = fastgrad.normal(fm, fs)
    assert fo.requires_grad and fo.shape == (3,)
    gm, gs = fastgrad.autograd.grad(fo.sum(), [fm, fs])
    np.testing.assert_allclose(gm.numpy(), np.ones(3))
    np.testing.assert_allclose(gs.numpy(), ((fo - fm) / fs).detach().numpy(), rtol=1e-12)  # d/dstd = eps
    to = torch.normal(tm, ts)
    assert to.requires_grad == fo.requires_grad
    f2 = fastgrad.normal(1.6, 0.3, [2, 2], dtype=fastgrad.float32, layout=fastgrad.strided, device="cpu")
    assert f2.shape == (2, 2) and f2.dtype == fastgrad.float32


def test_bernoulli_output_requires_grad_with_zero_gradient():
    tp, fp = pair([0.2, 0.7, 1.0])
    fo, to = fastgrad.bernoulli(fp), torch.bernoulli(tp)
    assert fo.requires_grad == to.requires_grad is True
    grads_close(fo, to, [fp], [tp])


def test_randint_high_and_size():
    r = fastgrad.randint(10, [], device="cpu")
    assert r.shape == () and r.dtype == fastgrad.int64 and 0 <= int(r) < 10
    assert fastgrad.randint(3, (2, 5)).shape == (2, 5)


def test_index_fill_repeated_index_counts_the_value_once():
    tx, fx = pair(np.arange(25.0).reshape(5, 5))
    tv, fv = pair(2.5)
    idx = np.array([0, 3, 3, 4, 0])
    to = tx.index_fill(-1, torch.tensor(idx), tv)
    fo = fx.index_fill(-1, fastgrad.tensor(idx), fv)
    close(fo, to)
    grads_close(fo, to, [fx, fv], [tx, tv])


def test_lstsq_empty_residuals_are_on_the_graph():
    r = np.random.RandomState(0)
    ta, fa = pair(r.randn(2, 3))
    tb, fb = pair(r.randn(2, 3))
    tres, fres = torch.linalg.lstsq(ta, tb, driver="gels"), fastgrad.linalg.lstsq(fa, fb, driver="gels")
    assert fres.residuals.shape == tres.residuals.shape == (0,)
    assert fres.residuals.requires_grad == tres.residuals.requires_grad is True
    close(fres.solution, tres.solution)


@pytest.mark.parametrize("ord", [0.5, -1, -0.5, 1.5, 3])
@pytest.mark.parametrize("values", [[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]])
def test_vector_norm_subgradient_at_zero(ord, values):
    tx, fx = pair(values)
    to, fo = torch.linalg.vector_norm(tx, ord), fastgrad.linalg.vector_norm(fx, ord)
    close(fo, to)
    grads_close(fo, to, [fx], [tx])


def test_batch_norm_of_an_empty_1d_input():
    for training in (True, False):
        t = torch.nn.functional.batch_norm(torch.zeros(0), torch.zeros(0), torch.zeros(0), training=training)
        f = fastgrad.nn.functional.batch_norm(fastgrad.zeros(0), fastgrad.zeros(0), fastgrad.zeros(0),
                                              training=training)
        close(f, t)


def test_tensordot_sums_a_size_one_contracted_dim():
    r = np.random.RandomState(1)
    ta, fa = pair(r.randn(1, 1, 1))
    tb, fb = pair(r.randn(2, 1, 2))
    to = torch.tensordot(ta, tb, dims=[[0, 1], [2, 0]])
    fo = fastgrad.tensordot(fa, fb, dims=[[0, 1], [2, 0]])
    close(fo, to)
    grads_close(fo, to, [fa, fb], [ta, tb])
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        fastgrad.tensordot(fastgrad.ones(2, 3), fastgrad.ones(3, 3), dims=[[0], [0]])


def test_searchsorted_with_sorter():
    r = np.random.RandomState(2)
    s, v = r.randn(2, 10), r.randn(2, 4)
    order = np.argsort(s, -1)
    for right in (False, True):
        t = torch.searchsorted(torch.tensor(s), torch.tensor(v), right=right, sorter=torch.tensor(order))
        f = fastgrad.searchsorted(fastgrad.tensor(s), fastgrad.tensor(v), right=right, sorter=fastgrad.tensor(order))
        close(f, t)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_unique_consecutive_dim(dim):
    a = np.array([[1, 1, 2, 2, 2], [1, 1, 3, 3, 3], [1, 1, 3, 3, 3], [0, 0, 0, 1, 1]], np.float32)
    t = torch.unique_consecutive(torch.tensor(a), return_inverse=True, return_counts=True, dim=dim)
    f = fastgrad.unique_consecutive(fastgrad.tensor(a), return_inverse=True, return_counts=True, dim=dim)
    for x, y in zip(f, t):
        close(x, y)
    close(fastgrad.unique_consecutive(fastgrad.tensor(2.0)), torch.unique_consecutive(torch.tensor(2.0)))


def test_silu_complex():
    r = np.random.RandomState(3)
    tx, fx = pair(r.randn(6) + 1j * r.randn(6), np.complex128, grad=False)
    close(fastgrad.nn.functional.silu(fx), torch.nn.functional.silu(tx), 1e-10)
    close(fastgrad.nn.functional.silu(fx.clone(), inplace=True), torch.nn.functional.silu(tx.clone(), inplace=True),
          1e-10)
    with pytest.raises(RuntimeError, match="silu does not support automatic differentiation"):
        fastgrad.nn.functional.silu(fx.requires_grad_())


def test_addbmm_in_place_resizes_a_broadcasting_self():
    r = np.random.RandomState(4)
    tb1, fb1 = pair(r.randn(5, 5, 5))
    tb2, fb2 = pair(r.randn(5, 5, 10))
    tx, fx = pair(r.randn(1))
    ty, fy = tx.clone(), fx.clone()
    assert fy.addbmm_(fb1, fb2, beta=0.5) is fy
    ty.addbmm_(tb1, tb2, beta=0.5)
    close(fy, ty, 1e-10)
    grads_close(fy, ty, [fx, fb1, fb2], [tx, tb1, tb2], 1e-10)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        fastgrad.zeros(1, requires_grad=True).addbmm_(fb1, fb2)


def test_native_norms():
    r = np.random.RandomState(5)
    tx, fx = pair(r.randn(2, 6, 4))
    tw, fw = pair(r.randn(6))
    tb, fb = pair(r.randn(6))
    t = torch.native_group_norm(tx, tw, tb, 2, 6, 4, 3, 1e-5)
    f = fastgrad.native_group_norm(fx, fw, fb, 2, 6, 4, 3, 1e-5)
    for a, b in zip(f, t):
        close(a, b, 1e-10)
    tot = t[0].sum() + t[1].sum() + t[2].sum()
    fot = f[0].sum() + f[1].sum() + f[2].sum()
    grads_close(fot, tot, [fx, fw, fb], [tx, tw, tb], 1e-8)
    t = torch.native_layer_norm(tx, [4], None, None, 1e-5)
    f = fastgrad.native_layer_norm(fx, [4], None, None, 1e-5)
    for a, b in zip(f, t):
        close(a, b, 1e-10)
        assert a.requires_grad == b.requires_grad
    for training in (True, False):
        t_rm, f_rm = torch.zeros(6, dtype=torch.float64), fastgrad.zeros(6, dtype=fastgrad.float64)
        t_rv, f_rv = torch.ones(6, dtype=torch.float64), fastgrad.ones(6, dtype=fastgrad.float64)
        t = torch.native_batch_norm(tx, tw, tb, t_rm, t_rv, training, 0.1, 1e-5)
        f = fastgrad.native_batch_norm(fx, fw, fb, f_rm, f_rv, training, 0.1, 1e-5)
        for a, b in zip(f, t):
            close(a, b, 1e-10)
        close(f_rm, t_rm, 1e-12)
        close(f_rv, t_rv, 1e-12)
        grads_close(f[0], t[0], [fx, fw, fb], [tx, tw, tb], 1e-8)


@pytest.mark.parametrize("interpolation", [0, 1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_grid_sampler_2d_and_3d(interpolation, padding):
    r = np.random.RandomState(6)
    tx, fx = pair(r.randn(2, 3, 4, 5))
    tg, fg = pair(r.uniform(-1.2, 1.2, (2, 3, 2, 2)))
    to = torch.grid_sampler_2d(tx, tg, interpolation, padding, True)
    fo = fastgrad.grid_sampler_2d(fx, fg, interpolation, padding, True)
    close(fo, to, 1e-10)
    grads_close(fo, to, [fx, fg], [tx, tg], 1e-8)
    if interpolation != 2:
        tx, fx = pair(r.randn(1, 2, 3, 4, 5))
        tg, fg = pair(r.uniform(-1.2, 1.2, (1, 2, 2, 3, 3)))
        to = torch.grid_sampler_3d(tx, tg, interpolation, padding, False)
        fo = fastgrad.grid_sampler_3d(fx, fg, interpolation, padding, False)
        close(fo, to, 1e-10)
        grads_close(fo, to, [fx, fg], [tx, tg], 1e-8)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_and_module(reduction):
    r = np.random.RandomState(7)
    tx, fx = pair(r.randn(8, 3))
    tw, fw = pair(r.randn(2, 4, 3))  # K-dimensional: out_features (4,)
    target = r.randint(0, 2, (8, 4))
    tb, fb = pair(r.randn(2, 4))
    to = torch.nn.functional.linear_cross_entropy(tx, tw, torch.tensor(target), linear_bias=tb, reduction=reduction)
    fo = fastgrad.nn.functional.linear_cross_entropy(fx, fw, fastgrad.tensor(target), linear_bias=fb,
                                                     reduction=reduction)
    close(fo, to, 1e-10)
    grads_close(fo, to, [fx, fw, fb], [tx, tw, tb], 1e-10)
    torch.manual_seed(0)
    tm = torch.nn.LinearCrossEntropyLoss(3, 5, bias=True, reduction=reduction,
                                         options=torch.nn.LinearCrossEntropyOptions(batch_chunk_size=2)).double()
    fm = fastgrad.nn.LinearCrossEntropyLoss(3, 5, bias=True, reduction=reduction,
                                            options=fastgrad.nn.LinearCrossEntropyOptions(batch_chunk_size=2)).double()
    fm.load_state_dict({k: fastgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    t5 = r.randint(0, 5, (8,))
    close(fm(fx, fastgrad.tensor(t5)), tm(tx, torch.tensor(t5)), 1e-10)
    with pytest.raises(RuntimeError, match="expected input with dimensionality 1 or 2"):
        fastgrad.nn.functional.linear_cross_entropy(fastgrad.ones(1, 2, 3), fastgrad.ones(2, 3), fastgrad.zeros(1))


def test_fractional_max_pool3d_indices_and_gradient():
    r = np.random.RandomState(8)
    tx, fx = pair(r.randn(2, 3, 7, 6, 8))
    samples = r.rand(2, 3, 3)
    for kw in (dict(output_size=(3, 3, 4)), dict(output_ratio=0.5)):
        ty, ti = torch.nn.functional.fractional_max_pool3d(tx, 2, return_indices=True,
                                                           _random_samples=torch.tensor(samples), **kw)
        fy, fi = fastgrad.nn.functional.fractional_max_pool3d(fx, 2, return_indices=True,
                                                              _random_samples=fastgrad.tensor(samples), **kw)
        close(fy, ty)
        np.testing.assert_array_equal(fi.numpy(), ti.numpy())
        grads_close(fy, ty, [fx], [tx])
    m = fastgrad.nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 0.5))
    assert m(fastgrad.randn(1, 2, 8, 8, 8)).shape == (1, 2, 4, 4, 4)
    with pytest.raises(ValueError):
        fastgrad.nn.FractionalMaxPool3d(2)
