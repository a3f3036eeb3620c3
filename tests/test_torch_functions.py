"""torch.* spellings (fastgrad/_torch_functions.py), Tensor aliases and in-place forms
(fastgrad/_tensor_methods.py), CyclicLR / CosineAnnealingWarmRestarts, nn.init.sparse_ and
autograd.Variable, each against torch."""
import math
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import Variable

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
          "complex64", "complex128"]


def T(x, **kw):
    return fastgrad.tensor(np.asarray(x), **kw)


def test_constants():
    assert (fastgrad.pi, fastgrad.e, fastgrad.inf) == (torch.pi, torch.e, torch.inf)
    assert math.isnan(fastgrad.nan) and fastgrad.newaxis is None
    assert repr(fastgrad.channels_last) == "torch.channels_last"
    x = fastgrad.ones(1, 2, 3, 3)
    assert x.to(memory_format=fastgrad.channels_last).shape == x.shape
    assert x.contiguous(memory_format=fastgrad.contiguous_format).shape == x.shape


@pytest.mark.parametrize("a", DTYPES)
def test_promote_types_and_can_cast(a):
    for b in DTYPES:
        ta, tb = getattr(torch, a), getattr(torch, b)
        fa, fb = getattr(fastgrad, a), getattr(fastgrad, b)
        assert str(fastgrad.promote_types(fa, fb)).split(".")[-1] == str(torch.promote_types(ta, tb)).split(".")[-1]
        assert fastgrad.can_cast(fa, fb) == torch.can_cast(ta, tb), (a, b)


@pytest.mark.parametrize("pair", [((1, 2), 1.5), ((1.0,), 2), ((True,), 3), ((1,), True), ((1.0,), 2j)])
def test_result_type(pair):
    data, scalar = pair
    t = torch.result_type(torch.tensor(data), scalar)
    f = fastgrad.result_type(fastgrad.tensor(data), scalar)
    assert str(f).split(".")[-1] == str(t).split(".")[-1]
    with pytest.raises(TypeError):
        fastgrad.result_type([1], 2)


def test_tensor_queries():
    for data, dt in (([1.5], "float32"), ([0], "int64"), ([1, 2], "uint8"), ([True], "bool")):
        t, f = torch.tensor(data, dtype=getattr(torch, dt)), fastgrad.tensor(data, dtype=getattr(fastgrad, dt))
        assert f.is_signed() == t.is_signed() and fastgrad.is_signed(f) == torch.is_signed(t)
        assert fastgrad.is_complex(f) == torch.is_complex(t)
        if len(data) == 1:
            assert fastgrad.is_nonzero(f) == torch.is_nonzero(t)
    for n in (0, 2):
        with pytest.raises(RuntimeError, match="Boolean value of Tensor with (no values|more than one value)"):
            fastgrad.ones(n).is_nonzero()
    assert fastgrad.is_same_size(fastgrad.ones(2, 3), fastgrad.zeros(2, 3))
    assert not fastgrad.ones(2).is_same_size(fastgrad.ones(3))
    x = fastgrad.ones(2, 3)
    assert (x.get_device(), x.is_cpu, x.is_pinned(), x.is_mps, x.is_nested) == (-1, True, False, False, False)
    assert x.dim_order() == torch.ones(2, 3).dim_order() and x.t().dim_order() == torch.ones(2, 3).t().dim_order()
    assert fastgrad.typename(x) == torch.typename(torch.ones(2, 3)) == "torch.FloatTensor"
    assert fastgrad.typename(1) == torch.typename(1)
    with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
        x.pin_memory()


def test_aliases_match_torch():
    a, b = np.array([[1.0, -2.0], [3.0, 0.5]]), np.array([[1.0, 2.0], [-3.0, 0.5]])
    for name in ("absolute", "multiply", "divide", "subtract", "greater", "greater_equal", "less", "less_equal",
                 "not_equal"):
        args = (a,) if name == "absolute" else (a, b)
        t = getattr(torch, name)(*map(torch.tensor, args))
        f = getattr(fastgrad, name)(*map(T, args))
        np.testing.assert_array_equal(f.numpy(), t.numpy())
        m = getattr(T(a), name)(*map(T, args[1:]))
        np.testing.assert_array_equal(m.numpy(), t.numpy())
    np.testing.assert_array_equal(T(a).positive().numpy(), a)
    np.testing.assert_array_equal(fastgrad.adjoint(T(a)).numpy(), torch.adjoint(torch.tensor(a)).numpy())
    np.testing.assert_array_equal(T(a[0]).ger(T(b[0])).numpy(), torch.tensor(a[0]).ger(torch.tensor(b[0])).numpy())


INPLACE_UNARY = ["abs_", "acos_", "asin_", "atan_", "ceil_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp_",
                 "expm1_", "fix_", "floor_", "frac_", "log10_", "log1p_", "log2_", "log_", "neg_", "negative_",
                 "rad2deg_", "reciprocal_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_",
                 "square_", "tan_", "tanh_", "trunc_", "arccos_", "arcsin_", "arctan_", "zero_"]


@pytest.mark.parametrize("name", INPLACE_UNARY)
def test_inplace_function_forms(name):
    data = np.array([0.1, 0.5, 0.9, 0.3], dtype=np.float32)
    t, f = torch.tensor(data), T(data)
    rt, rf = getattr(torch, name)(t), getattr(fastgrad, name)(f)
    assert rf is f
    np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["acos_", "asin_", "atan_", "cosh_", "sinh_", "erfc_", "sinc_", "deg2rad_",
                                  "arccos_", "arcsin_", "arctan_"])
def test_inplace_methods_with_grad(name):
    data = np.array([0.1, 0.4, 0.7])
    tx = torch.tensor(data, requires_grad=True)
    fx = T(data, requires_grad=True)
    ty, fy = tx * 1.0, fx * 1.0
    getattr(ty, name)()
    getattr(fy, name)()
    np.testing.assert_allclose(fy.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    ty.sum().backward()
    fy.sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["acosh_", "asinh_", "atanh_"])
def test_inplace_inverse_hyperbolic(name):
    """torch has no derivative for these three in-place forms (backward raises); fastgrad's equals
    the out-of-place op's, which torch does have."""
    data = np.array([1.5, 2.0, 3.0]) if name == "acosh_" else np.array([0.1, 0.4, 0.7])
    fx = T(data, requires_grad=True)
    fy = fx * 1.0
    getattr(fy, name)()
    fy.sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    getattr(torch, name[:-1])(tx).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(fy.detach().numpy(), getattr(np, "arc" + name[1:-1])(data), rtol=1e-12)


@pytest.mark.parametrize("name", ["eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "less_equal_",
                                  "not_equal_", "logical_and_", "logical_or_", "logical_xor_"])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_inplace_comparisons_keep_dtype(name, dtype):
    a, b = np.array([1, 2, 3, 0]), np.array([2, 2, 1, 0])
    t = torch.tensor(a, dtype=getattr(torch, dtype))
    f = fastgrad.tensor(a, dtype=getattr(fastgrad, dtype))
    getattr(t, name)(torch.tensor(b, dtype=t.dtype))
    getattr(f, name)(fastgrad.tensor(b, dtype=f.dtype))
    assert str(f.dtype).split(".")[-1] == dtype
    np.testing.assert_array_equal(f.numpy(), t.numpy())


@pytest.mark.parametrize("name,args", [("addmm_", ((3, 4), (4, 2))), ("baddbmm_", ((2, 3, 4), (2, 4, 2))),
                                       ("addmv_", ((3, 4), (4,))), ("addr_", ((3,), (2,)))])
def test_inplace_products(name, args):
    rng = np.random.default_rng(0)
    shapes = {"addmm_": (3, 2), "baddbmm_": (2, 3, 2), "addmv_": (3,), "addr_": (3, 2)}[name]
    base = rng.standard_normal(shapes)
    ops = [rng.standard_normal(s) for s in args]
    t = torch.tensor(base)
    f = T(base)
    getattr(t, name)(*map(torch.tensor, ops), beta=0.5, alpha=2.0)
    getattr(f, name)(*map(T, ops), beta=0.5, alpha=2.0)
    np.testing.assert_allclose(f.numpy(), t.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name,args", [("t_", ()), ("transpose_", (0, 1)), ("swapaxes_", (0, 1)),
                                       ("swapdims_", (1, 0)), ("squeeze_", ()), ("squeeze_", (1,)),
                                       ("unsqueeze_", (0,)), ("unsqueeze_", (-1,))])
def test_inplace_view_ops(name, args):
    data = np.arange(6.0).reshape(3, 1, 2)[:, :, 0] if name in ("t_", "transpose_", "swapaxes_", "swapdims_") \
        else np.arange(6.0).reshape(3, 1, 2)
    tx, fx = torch.tensor(data, requires_grad=True), T(data, requires_grad=True)
    ty, fy = tx * 2, fx * 2
    assert getattr(fy, name)(*args) is fy
    getattr(ty, name)(*args)
    assert tuple(fy.shape) == tuple(ty.shape)
    np.testing.assert_array_equal(fy.detach().numpy(), ty.detach().numpy())
    w = np.arange(ty.numel(), dtype=np.float64).reshape(tuple(ty.shape))
    (ty * torch.tensor(w)).sum().backward()
    (fy * T(w)).sum().backward()
    np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())
    # without autograd: same memory, new shape
    plain = T(data)
    before = plain.numpy()
    getattr(plain, name)(*args)
    assert np.shares_memory(plain.numpy(), before)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        getattr(T(data, requires_grad=True), name)(*args)


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((5, 3), False), ((5, 3), True), ((3, 5), True),
                                        ((2, 2, 2), False)])
def test_fill_diagonal(shape, wrap):
    t, f = torch.zeros(shape), fastgrad.zeros(*shape)
    t.fill_diagonal_(5, wrap=wrap)
    f.fill_diagonal_(5, wrap=wrap)
    np.testing.assert_array_equal(f.numpy(), t.numpy())
    tx, fx = torch.ones(shape, requires_grad=True), fastgrad.ones(*shape, requires_grad=True)
    ty, fy = tx * 3, fx * 3
    ty.fill_diagonal_(0.5, wrap=wrap)
    fy.fill_diagonal_(0.5, wrap=wrap)
    ty.sum().backward()
    fy.sum().backward()
    np.testing.assert_array_equal(fx.grad.numpy(), tx.grad.numpy())
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        fastgrad.zeros(2, 3, 3).fill_diagonal_(1)


def test_apply_map_new():
    f = fastgrad.arange(6.0).reshape(2, 3)
    f.apply_(lambda v: v * 2)
    np.testing.assert_array_equal(f.numpy(), np.arange(6.0).reshape(2, 3) * 2)
    f.map_(fastgrad.ones(3), lambda a, b: a + b)
    np.testing.assert_array_equal(f.numpy(), np.arange(6.0).reshape(2, 3) * 2 + 1)
    f.map2_(fastgrad.ones(3), fastgrad.full((2, 1), 2.0), lambda a, b, c: a * b * c)
    np.testing.assert_array_equal(f.numpy(), (np.arange(6.0).reshape(2, 3) * 2 + 1) * 2)
    x = fastgrad.ones(2, dtype=fastgrad.float64)
    assert x.new(3).shape == (3,) and x.new(3).dtype == fastgrad.float64
    assert x.new(fastgrad.Size([2, 4])).shape == (2, 4)
    np.testing.assert_array_equal(x.new([1, 2]).numpy(), [1.0, 2.0])
    assert x.new().shape == (0,)


def test_random_and_bernoulli():
    fastgrad.manual_seed(0)
    r = fastgrad.zeros(1000, dtype=fastgrad.int64).random_(2, 5)
    assert set(np.unique(r.numpy())) == {2, 3, 4}
    r = fastgrad.zeros(1000).random_(10)
    assert r.min().item() >= 0 and r.max().item() <= 9
    r = fastgrad.zeros(1000).random_()
    assert r.max().item() <= 2 ** 24 and r.max().item() > 2 ** 20
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to'"):
        fastgrad.zeros(2).random_(5, 3)
    b = fastgrad.zeros(10000).bernoulli_(0.3)
    assert abs(b.mean().item() - 0.3) < 0.03 and set(np.unique(b.numpy())) <= {0.0, 1.0}
    p = fastgrad.full((10000,), 0.8)
    assert abs(p.bernoulli().mean().item() - 0.8) < 0.03


def test_range_and_frombuffer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for args in ((1, 4), (0, 1, 0.25), (3, 0, -1), (0, 10, 3)):
            t, f = torch.range(*args), fastgrad.range(*args)
            assert str(f.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
            np.testing.assert_array_equal(f.numpy(), t.numpy())
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        fastgrad.range(1, 2)
    with pytest.raises(TypeError, match="missing 1 required positional arguments"):
        fastgrad.range(5)
    buf = bytearray(np.arange(6, dtype=np.float32).tobytes())
    f = fastgrad.frombuffer(buf, dtype=fastgrad.float32, count=3, offset=4)
    np.testing.assert_array_equal(f.numpy(), [1.0, 2.0, 3.0])
    f[0] = 9.0  # shares the buffer's memory, as torch
    assert np.frombuffer(buf, dtype=np.float32)[1] == 9.0
    with pytest.raises(ValueError):
        fastgrad.frombuffer(bytearray(6), dtype=fastgrad.float32)


def test_global_switches():
    assert not fastgrad.are_deterministic_algorithms_enabled()
    fastgrad.use_deterministic_algorithms(True, warn_only=True)
    try:
        assert fastgrad.are_deterministic_algorithms_enabled()
        assert fastgrad.get_deterministic_debug_mode() == 1
    finally:
        fastgrad.set_deterministic_debug_mode("default")
    assert fastgrad.get_deterministic_debug_mode() == 0
    fastgrad.set_float32_matmul_precision("high")
    assert fastgrad.get_float32_matmul_precision() == "high"
    fastgrad.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError):
        fastgrad.set_float32_matmul_precision("low")
    fastgrad.set_default_device("cpu")
    assert fastgrad.get_default_device() == fastgrad.device("cpu")
    with pytest.raises(RuntimeError):
        fastgrad.set_default_device("cuda")
    fastgrad.set_default_tensor_type(fastgrad.DoubleTensor)
    try:
        assert fastgrad.ones(1).dtype == fastgrad.float64
    finally:
        fastgrad.set_default_tensor_type("torch.FloatTensor")
    assert fastgrad.ones(1).dtype == fastgrad.float32
    fastgrad.set_anomaly_enabled(True)
    try:
        assert fastgrad.is_anomaly_enabled()
    finally:
        fastgrad.set_anomaly_enabled(False)


def test_variable():
    t = fastgrad.ones(2)
    v = Variable(t, requires_grad=True)
    assert v.requires_grad and not t.requires_grad and isinstance(t, Variable)
    v.detach()[0] = 5.0
    assert t[0].item() == 5.0  # same memory
    with pytest.raises(TypeError, match="Variable data has to be a tensor"):
        Variable([1, 2])
    with pytest.raises(RuntimeError, match="deprecated"):
        fastgrad.autograd.variable(t)


def test_init_sparse_and_deprecated():
    w = fastgrad.empty(10, 6)
    fastgrad.nn.init.sparse_(w, sparsity=0.25, std=0.5)
    assert ((w == 0).sum(0).numpy() == math.ceil(0.25 * 10)).all()
    with pytest.warns(FutureWarning, match="`nn.init.eye` is now deprecated in favor of `nn.init.eye_`"):
        fastgrad.nn.init.eye(fastgrad.empty(2, 2))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        fastgrad.nn.init.sparse_(fastgrad.empty(2, 2, 2), 0.1)


def _schedules(lib, make, steps, use_epochs=None):
    p = lib.nn.Parameter(lib.zeros(2))
    opt, sched = make(lib, p)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(steps):
            opt.step()
            if use_epochs is None:
                sched.step()
            else:
                sched.step(use_epochs[i])
            g = opt.param_groups[0]
            out.append((sched.get_last_lr()[0], g.get("momentum", g.get("betas", (None,))[0])))
    return out, sched


SCHEDULES = {
    "cyclic-triangular": lambda L, p: _with(L.optim.SGD([p], lr=0.1, momentum=0.9),
                                            lambda o: L.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=4)),
    "cyclic-triangular2": lambda L, p: _with(L.optim.SGD([p], lr=0.1, momentum=0.9),
                                             lambda o: L.optim.lr_scheduler.CyclicLR(
                                                 o, [0.01], 0.1, step_size_up=3, step_size_down=5,
                                                 mode="triangular2")),
    "cyclic-exp-adam": lambda L, p: _with(L.optim.Adam([p], lr=0.1),
                                          lambda o: L.optim.lr_scheduler.CyclicLR(
                                              o, 0.001, 0.01, step_size_up=2, mode="exp_range", gamma=0.9)),
    "cyclic-custom-nomomentum": lambda L, p: _with(L.optim.SGD([p], lr=0.1),
                                                   lambda o: L.optim.lr_scheduler.CyclicLR(
                                                       o, 0.01, 0.1, step_size_up=3, cycle_momentum=False,
                                                       scale_fn=lambda x: 0.5 ** x, scale_mode="iterations")),
    "warm-restarts": lambda L, p: _with(L.optim.SGD([p], lr=0.1),
                                        lambda o: L.optim.lr_scheduler.CosineAnnealingWarmRestarts(
                                            o, T_0=3, T_mult=2, eta_min=0.001)),
}


def _with(opt, make_sched):
    return opt, make_sched(opt)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedulers_match_torch(name):
    t, ts = _schedules(torch, SCHEDULES[name], 20)
    f, fs = _schedules(fastgrad, SCHEDULES[name], 20)
    np.testing.assert_allclose(np.array(f, dtype=float), np.array(t, dtype=float), rtol=1e-12)
    assert sorted(k for k in fs.state_dict() if not k.startswith("_")) == \
        sorted(k for k in ts.state_dict() if not k.startswith("_"))


def test_warm_restarts_fractional_epochs():
    epochs = [0.5 * i for i in range(1, 25)]
    make = SCHEDULES["warm-restarts"]
    t, _ = _schedules(torch, make, 24, epochs)
    f, _ = _schedules(fastgrad, make, 24, epochs)
    np.testing.assert_allclose(np.array(f, dtype=float), np.array(t, dtype=float), rtol=1e-12)
    with pytest.raises(ValueError, match="Expected positive integer T_0"):
        fastgrad.optim.lr_scheduler.CosineAnnealingWarmRestarts(fastgrad.optim.SGD([fastgrad.nn.Parameter(
            fastgrad.zeros(1))], lr=0.1), T_0=0)
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        fastgrad.optim.lr_scheduler.CyclicLR(fastgrad.optim.Adagrad([fastgrad.nn.Parameter(fastgrad.zeros(1))]),
                                             0.01, 0.1)


def _pair(shape, rng, positive=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.1
    return torch.tensor(a, requires_grad=True), T(a, requires_grad=True)


ATEN_CASES = {
    "layer_norm": (lambda L, x, w: L.layer_norm(x, [3], w[0], w[1], 1e-5, True), [(4, 3)], [(3,), (3,)]),
    "batch_norm": (lambda L, x, w: L.batch_norm(x, w[0], w[1], None, None, True, 0.1, 1e-5, True), [(4, 3)],
                   [(3,), (3,)]),
    "conv1d": (lambda L, x, w: L.conv1d(x, w[0], None, 1, 1), [(2, 3, 7)], [(4, 3, 3)]),
    "conv2d": (lambda L, x, w: L.conv2d(x, w[0], w[1], 2, 1, 1, 1), [(2, 3, 6, 6)], [(4, 3, 3, 3), (4,)]),
    "conv3d": (lambda L, x, w: L.conv3d(x, w[0]), [(1, 2, 4, 4, 4)], [(3, 2, 2, 2, 2)]),
    "conv_transpose3d": (lambda L, x, w: L.conv_transpose3d(x, w[0], None, 2), [(1, 2, 3, 3, 3)], [(2, 3, 2, 2, 2)]),
    "bilinear": (lambda L, x, w: L.bilinear(x, x, w[0], w[1]), [(4, 3)], [(2, 3, 3), (2,)]),
    "embedding": (lambda L, x, w: L.embedding(x, L.tensor([[0, 2], [1, 0]]), 0), [(3, 4)], []),
    "kl_div": (lambda L, x, w: L.kl_div(x.log_softmax(1), w[0].softmax(1)), [(3, 4)], [(3, 4)]),
    "kl_div-mean-log": (lambda L, x, w: L.kl_div(x.log_softmax(1), w[0].log_softmax(1), 1, log_target=True),
                        [(3, 4)], [(3, 4)]),
    "binary_cross_entropy_with_logits": (lambda L, x, w: L.binary_cross_entropy_with_logits(
        x, w[0].sigmoid(), None, w[0].detach()[0].abs(), 2), [(3, 4)], [(3, 4)]),
    "hinge_embedding_loss": (lambda L, x, w: L.hinge_embedding_loss(x, L.tensor([1.0, -1.0, 1.0], dtype=x.dtype)),
                             [(3,)], []),
    "margin_ranking_loss": (lambda L, x, w: L.margin_ranking_loss(x, w[0], L.tensor([1.0, -1.0, 1.0], dtype=x.dtype),
                                                                  0.1, 1), [(3,)], [(3,)]),
    "cosine_embedding_loss": (lambda L, x, w: L.cosine_embedding_loss(
        x, w[0], L.tensor([1.0, -1.0, 1.0], dtype=x.dtype), 0.2, 2), [(3, 4)], [(3, 4)]),
    "triplet_margin_loss": (lambda L, x, w: L.triplet_margin_loss(x, w[0], w[1]), [(3, 4)], [(3, 4), (3, 4)]),
    "poisson_nll_loss": (lambda L, x, w: L.poisson_nll_loss(x, w[0].abs(), True, True, 1e-8, 1), [(3, 4)],
                         [(3, 4)]),
    "ctc_loss": (lambda L, x, w: L.ctc_loss(x.log_softmax(2), L.tensor([[1, 2]]), [5], [2]), [(5, 1, 3)], []),
    "frobenius_norm": (lambda L, x, w: L.frobenius_norm(x, [0, 1]), [(3, 4)], []),
    "nuclear_norm": (lambda L, x, w: L.nuclear_norm(x), [(3, 4)], []),
    "nuclear_norm-dim": (lambda L, x, w: L.nuclear_norm(x, [1, 2], True), [(2, 3, 4)], []),
}


@pytest.mark.parametrize("name", sorted(ATEN_CASES))
def test_aten_spellings_match_torch(name):
    fn, (shape,), wshapes = ATEN_CASES[name]
    rng = np.random.default_rng(1)
    tx, fx = _pair(shape, rng)
    ws = [_pair(s, rng) for s in wshapes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = fn(torch, tx, [a for a, _ in ws])
        f = fn(fastgrad, fx, [b for _, b in ws])
    np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    t.sum().backward()
    f.sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (a, b) in ws:
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_aten_reduction_must_be_an_enum_value():
    with pytest.raises(RuntimeError, match="not a valid value for reduction"):
        fastgrad.kl_div(fastgrad.zeros(2), fastgrad.zeros(2), 3)
