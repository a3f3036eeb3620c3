"""torch-level names without an op family against PyTorch: torch.lstm / gru / rnn_tanh / rnn_relu
and their cells (values and gradients, packed and batch-first forms), vander, view_as_*_copy,
cond; Tensor.bitwise_not(_), sgn_, conj_physical_, resize(_as), is_distributed;
linalg.LinAlgError, fft.Tensor, torch.windows; torch.func's rearrange, functionalize,
debug_unwrap and replace_all_batch_norm_modules_."""
import warnings

import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")
R = np.random.default_rng(0)


def _t(lib, a, grad=True):
    return lib.tensor(a.copy(), requires_grad=grad)


def _rnn_params(mode, I, H, layers, bidir, bias):
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    params = []
    for layer in range(layers):
        for _ in range(2 if bidir else 1):
            inp = I if layer == 0 else H * (2 if bidir else 1)
            params += [R.standard_normal((gates * H, inp)) * 0.4, R.standard_normal((gates * H, H)) * 0.4]
            if bias:
                params += [R.standard_normal(gates * H) * 0.1, R.standard_normal(gates * H) * 0.1]
    return params


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.parametrize("layers,bidir,batch_first,bias", [(1, False, False, True), (2, True, True, True),
                                                           (2, False, False, False)])
def test_vf_rnn_functions(mode, layers, bidir, batch_first, bias):
    T, B, I, H = 4, 3, 5, 6
    params = _rnn_params(mode.upper(), I, H, layers, bidir, bias)
    x = R.standard_normal((B, T, I) if batch_first else (T, B, I))
    h0 = R.standard_normal((layers * (2 if bidir else 1), B, H))
    res = []
    for lib in (fastgrad, torch):
        ps = [_t(lib, p) for p in params]
        xs, hs = _t(lib, x), _t(lib, h0)
        hx = [hs, hs * 0.5] if mode == "lstm" else hs
        out = getattr(lib, mode)(xs, hx, ps, bias, layers, 0.0, False, bidir, batch_first)
        loss = sum((o * o).sum() for o in out)
        loss.backward()
        res.append([o.detach().numpy() for o in out] + [xs.grad.numpy(), hs.grad.numpy()] + [p.grad.numpy() for p in ps])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_vf_rnn_packed_form():
    T, I, H = 4, 3, 5
    params = _rnn_params("LSTM", I, H, 1, False, True)
    lengths = [4, 2, 1]
    x = R.standard_normal((T, 3, I))
    res = []
    for lib in (fastgrad, torch):
        packed = lib.nn.utils.rnn.pack_padded_sequence(lib.tensor(x), lengths)
        h0 = lib.zeros(1, 3, H, dtype=lib.float64)
        out, h, c = lib.lstm(packed.data, packed.batch_sizes, [h0, h0], [lib.tensor(p) for p in params], True, 1, 0.0,
                             False, False)
        res.append((out.numpy(), h.numpy(), c.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("cell", ["lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"])
@pytest.mark.parametrize("bias", [True, False])
def test_vf_cells(cell, bias):
    B, I, H = 3, 4, 5
    g = {"lstm_cell": 4, "gru_cell": 3}.get(cell, 1)
    arrays = [R.standard_normal((B, I)), R.standard_normal((B, H)), R.standard_normal((B, H)),
              R.standard_normal((g * H, I)), R.standard_normal((g * H, H)), R.standard_normal(g * H),
              R.standard_normal(g * H)]
    res = []
    for lib in (fastgrad, torch):
        x, h, c, wi, wh, bi, bh = [_t(lib, a) for a in arrays]
        hx = (h, c) if cell == "lstm_cell" else h
        out = getattr(lib, cell)(x, hx, wi, wh, bi if bias else None, bh if bias else None)
        outs = out if isinstance(out, tuple) else (out,)
        sum((o * o).sum() for o in outs).backward()
        res.append([o.detach().numpy() for o in outs] + [t.grad.numpy() for t in (x, h, wi, wh)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_vander():
    for x, kw in ((np.array([1.0, 2.0, 3.0, -0.5]), {}), (np.array([1.0, 2.0, 3.0]), dict(N=5, increasing=True)),
                  (np.array([2, 3, 4]), dict(N=2)), (np.array([True, False]), {}), (np.array([1.5 + 1j, 2j]), {}),
                  (np.array([2.0, 3.0]), dict(N=0)), (np.array([2.0, 3.0]), dict(N=1))):
        a, b = fastgrad.vander(fastgrad.tensor(x), **kw), torch.vander(torch.tensor(x), **kw)
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
        np.testing.assert_allclose(a.numpy(), b.numpy())
    x = fastgrad.tensor([0.0, 2.0, -1.5], requires_grad=True)
    fastgrad.vander(x, 4).sum().backward()  # d/dx (1 + x + x^2 + x^3), finite at 0
    xv = np.array([0.0, 2.0, -1.5])
    np.testing.assert_allclose(x.grad.numpy(), 1 + 2 * xv + 3 * xv ** 2)
    for lib in (fastgrad, torch):
        with pytest.raises(RuntimeError, match="x must be a one-dimensional tensor."):
            lib.vander(lib.ones(2, 2))
        with pytest.raises(RuntimeError, match="N must be non-negative."):
            lib.vander(lib.ones(2), N=-1)


def test_copies_cond():
    z = np.array([1 + 2j, 3 - 1j])
    a = fastgrad.view_as_real_copy(fastgrad.tensor(z))
    np.testing.assert_array_equal(a.numpy(), torch.view_as_real_copy(torch.tensor(z)).numpy())
    b = fastgrad.view_as_complex_copy(a)
    np.testing.assert_array_equal(b.numpy(), z)
    a[0, 0] = 9  # a copy: the source is untouched
    x = fastgrad.tensor([1.0, 2.0])
    for lib, t in ((fastgrad, x), (torch, torch.tensor([1.0, 2.0]))):
        assert lib.cond(t.sum() > 0, lambda v: v * 2, lambda v: v - 1, (t,)).tolist() == [2.0, 4.0]
        assert lib.cond(False, lambda v: v * 2, lambda v: v - 1, [t]).tolist() == [0.0, 1.0]
    with pytest.raises(RuntimeError, match="Expected pred to be bool or single-element tensor"):
        fastgrad.cond(x > 0, lambda: 1, lambda: 2)


def test_tensor_methods():
    for lib in (fastgrad, torch):
        x = lib.tensor([1, -2, 0])
        assert x.bitwise_not().tolist() == [-2, 1, -1]
        assert x.bitwise_not_() is x and x.tolist() == [-2, 1, -1]
        b = lib.tensor([True, False])
        assert b.bitwise_not().tolist() == [False, True]
        z = lib.tensor([3 + 4j, 0j])
        assert z.sgn_() is z
        np.testing.assert_allclose(z.numpy(), [0.6 + 0.8j, 0])
        assert z.conj_physical_() is z and lib.conj_physical_(z) is z
        np.testing.assert_allclose(z.numpy(), [0.6 + 0.8j, 0])
        assert x.is_distributed() is False
        y = lib.tensor(np.arange(6.0), requires_grad=True)
        with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
            r = y.resize(2, 3)
        (r * lib.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
        np.testing.assert_array_equal(y.grad.numpy(), np.arange(6.0))
        with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
            assert tuple(y.resize_as(lib.zeros(3, 2)).shape) == (3, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match="requested resize to 4 \\(4 elements in total\\), but the given "
                                                   "tensor has a size of 6 \\(6 elements\\)"):
                y.resize(4)


def test_namespace_members():
    assert fastgrad.fft.Tensor is fastgrad.Tensor
    assert fastgrad.windows is fastgrad.signal.windows
    assert issubclass(fastgrad.linalg.LinAlgError, RuntimeError)
    for A, f in ((np.zeros((2, 2)), fastgrad.linalg.inv), (-np.eye(2), fastgrad.linalg.cholesky),
                 (np.zeros((2, 2)), lambda a: fastgrad.linalg.solve(a, fastgrad.ones(2, dtype=fastgrad.float64)))):
        with pytest.raises(fastgrad.linalg.LinAlgError):
            f(fastgrad.tensor(A))


@pytest.mark.parametrize("pattern,kw", [("b c h w -> b (h w) c", {}), ("b c (h p) w -> b (c p) h w", dict(p=2)),
                                        ("... w -> w ...", {}), ("b c h w -> (b c) 1 h w", {}),
                                        ("b ... -> b (...)", {}), ("b c h (w q) -> q b c h w", dict(q=3)),
                                        ("b c h w -> b c h w ()", {}), ("b c h w -> w h c b", {})])
def test_rearrange(pattern, kw):
    x = R.standard_normal((2, 3, 4, 6))
    a = fastgrad.func.rearrange(_t(fastgrad, x), pattern, **kw)
    b = torch.func.rearrange(_t(torch, x), pattern, **kw)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    lst = [fastgrad.tensor(x[i]) for i in range(2)]
    np.testing.assert_array_equal(fastgrad.func.rearrange(lst, "s c h w -> s (c h w)").numpy(), x.reshape(2, -1))


def test_rearrange_errors():
    x = fastgrad.ones(2, 3)
    for pattern, kw in (("a b c -> a b c", {}), ("a b -> a", {}), ("a b -> a b", dict(c=2)), ("(a b) c -> a b c", {}),
                        ("a b", {}), ("a b -> a (b", {})):
        with pytest.raises(ValueError):
            fastgrad.func.rearrange(x, pattern, **kw)


def test_functionalize_debug_unwrap_batch_norm():
    def f(x):
        y = x.clone()
        y.add_(1)
        return y * 2

    x = fastgrad.ones(3)
    np.testing.assert_array_equal(fastgrad.func.functionalize(f)(x).numpy(), [4.0, 4.0, 4.0])
    with pytest.raises(RuntimeError, match="received invalid argument for remove=views"):
        fastgrad.func.functionalize(f, remove="views")
    assert fastgrad.func.debug_unwrap(x) is x
    for lib in (fastgrad, torch):
        net = lib.nn.Sequential(lib.nn.BatchNorm1d(3), lib.nn.Sequential(lib.nn.BatchNorm2d(2)), lib.nn.Linear(3, 3))
        assert lib.func.replace_all_batch_norm_modules_(net) is net
        assert net[0].running_mean is None and net[0].num_batches_tracked is None
        assert not net[1][0].track_running_stats and net[1][0].running_var is None
        assert list(net.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "2.weight", "2.bias"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args", [(np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4]), False, 0),
                                  (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4]), False, 1),
                                  (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3]), False, 2),
                                  (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4]), False, 1, False, None, False, 4),
                                  (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4, 8]), False, 2, False, None, True),
                                  (np.array([1, 2]), np.array([0]), False, 0)])
def test_torch_embedding_bag(dtype, args):
    W = R.standard_normal((10, 3)).astype(dtype)
    res = []
    for lib in (fastgrad, torch):
        w = lib.tensor(W, requires_grad=True)
        out = lib.embedding_bag(w, lib.tensor(args[0]), lib.tensor(args[1]), *args[2:])
        (out[0] * out[0]).sum().backward()
        res.append([o.detach().numpy() for o in out] + [w.grad.numpy()])
    for a, b in zip(*res):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6)
