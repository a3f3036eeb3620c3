"""Recurrent layers and cells against PyTorch: same weights and inputs give the same outputs,
final states and gradients (inputs, initial states, every parameter); reprs, state_dict,
errors; float64 gradcheck (reverse and forward mode) and double backward of each cell."""
import warnings

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _x(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _layer(lib, mode, *args, **kwargs):
    if mode in ("tanh", "relu"):
        return lib.nn.RNN(*args, nonlinearity=mode, **kwargs)
    return getattr(lib.nn, mode)(*args, **kwargs)


def _pair(torch, mode, *args, dtype=np.float32, **kwargs):
    fg = _layer(fastgrad, mode, *args, **kwargs)
    th = _layer(torch, mode, *args, **kwargs)
    if dtype == np.float64:
        fg, th = fg.double(), th.double()
    copy_to_torch(torch, fg, th)
    return fg, th


def _flat(out):
    """The tensors of an RNN's result, flattened: (output, h_n) or (output, (h_n, c_n))."""
    res = []
    for o in out if isinstance(out, tuple) else (out,):
        res.extend(_flat(o) if isinstance(o, tuple) else [o])
    return res


def _backward_both(torch, fo, to, dtype):
    """Backpropagate the same random weighting of every output through both libraries."""
    floss, tloss = 0, 0
    for f, t in zip(fo, to):
        w = _x(*t.shape, dtype=dtype)
        floss = floss + (f * fastgrad.tensor(w)).sum()
        tloss = tloss + (t * torch.tensor(w)).sum()
    floss.backward()
    tloss.backward()


def _compare(torch, fg, th, fx, tx, dtype, f_state=(), t_state=()):
    tol = TOL[dtype]
    fo, to = _flat(fg(*fx)), _flat(th(*tx))
    assert len(fo) == len(to)
    for f, t in zip(fo, to):
        assert_close(f, t, **tol)
    _backward_both(torch, fo, to, dtype)
    for f, t in zip(list(fx[:1]) + list(f_state), list(tx[:1]) + list(t_state)):
        assert_close(f.grad, t.grad, **tol)
    for name, p in fg.named_parameters():
        assert_close(p.grad, th.get_parameter(name).grad, **tol)
    return fo, to


def _inputs(torch, shape, dtype, states):
    """(fastgrad args, torch args, fastgrad leaves, torch leaves) for x of `shape` and states."""
    x = _x(*shape, dtype=dtype)
    fx = [fastgrad.tensor(x, requires_grad=True)]
    tx = [torch.tensor(x, requires_grad=True)]
    fs, ts = [], []
    for s in states:
        a = _x(*s, dtype=dtype)
        fs.append(fastgrad.tensor(a, requires_grad=True))
        ts.append(torch.tensor(a, requires_grad=True))
    return fx, tx, fs, ts


MODES = ["tanh", "relu", "LSTM", "GRU"]
CONFIGS = [dict(), dict(num_layers=2), dict(bidirectional=True), dict(batch_first=True),
           dict(num_layers=2, bidirectional=True, batch_first=True), dict(bias=False)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(c) or "default")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_state", [False, True])
def test_layer_matches_torch(torch, mode, config, dtype, with_state):
    fg, th = _pair(torch, mode, 4, 6, dtype=dtype, **config)
    n_states = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    t_len, batch = 5, 3
    shape = (batch, t_len, 4) if config.get("batch_first") else (t_len, batch, 4)
    states = [(n_states, batch, 6)] * ((2 if mode == "LSTM" else 1) if with_state else 0)
    fx, tx, fs, ts = _inputs(torch, shape, dtype, states)
    if with_state:
        fx.append(tuple(fs) if mode == "LSTM" else fs[0])
        tx.append(tuple(ts) if mode == "LSTM" else ts[0])
    _compare(torch, fg, th, fx, tx, dtype, fs, ts)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", [dict(), dict(num_layers=2, bidirectional=True, batch_first=True)],
                         ids=["default", "deep"])
def test_lstm_proj_size(torch, dtype, config):
    fg, th = _pair(torch, "LSTM", 4, 6, proj_size=3, dtype=dtype, **config)
    n_states = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    shape = (3, 5, 4) if config.get("batch_first") else (5, 3, 4)
    fx, tx, fs, ts = _inputs(torch, shape, dtype, [(n_states, 3, 3), (n_states, 3, 6)])
    _compare(torch, fg, th, fx + [tuple(fs)], tx + [tuple(ts)], dtype, fs, ts)
    fx, tx, _, _ = _inputs(torch, shape, dtype, [])
    _compare(torch, fg, th, fx, tx, dtype)
    assert [tuple(p.shape) for p in fg.parameters()] == [tuple(p.shape) for p in th.parameters()]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input(torch, mode, batch_first):
    fg, th = _pair(torch, mode, 4, 6, num_layers=2, bidirectional=True, batch_first=batch_first)
    states = [(4, 6)] * (2 if mode == "LSTM" else 1)
    fx, tx, fs, ts = _inputs(torch, (5, 4), np.float32, states)
    _compare(torch, fg, th, fx, tx, np.float32)
    fx.append(tuple(fs) if mode == "LSTM" else fs[0])
    tx.append(tuple(ts) if mode == "LSTM" else ts[0])
    _compare(torch, fg, th, fx, tx, np.float32, fs, ts)


def test_state_dict_keys_shapes_and_loading(torch):
    for mode, kwargs in [("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2)),
                         ("GRU", dict(num_layers=2, bias=False)), ("tanh", dict(bidirectional=True))]:
        fg, th = _layer(fastgrad, mode, 3, 5, **kwargs), _layer(torch, mode, 3, 5, **kwargs)
        fsd, tsd = fg.state_dict(), th.state_dict()
        assert list(fsd) == list(tsd)
        assert [tuple(v.shape) for v in fsd.values()] == [tuple(v.shape) for v in tsd.values()]
        fg.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tsd.items()})
        x = _x(4, 2, 3)
        fo, to = _flat(fg(fastgrad.tensor(x))), _flat(th(torch.tensor(x)))
        for f, t in zip(fo, to):
            assert_close(f, t, rtol=2e-4, atol=2e-5)
    for cls in ("RNNCell", "LSTMCell", "GRUCell"):
        fsd = getattr(fastgrad.nn, cls)(3, 5).state_dict()
        tsd = getattr(torch.nn, cls)(3, 5).state_dict()
        assert list(fsd) == list(tsd)
        assert [tuple(v.shape) for v in fsd.values()] == [tuple(v.shape) for v in tsd.values()]


def test_default_init_is_uniform_one_over_sqrt_hidden():
    fastgrad.manual_seed(0)
    m = nn.LSTM(30, 400, num_layers=2)
    bound = 1 / np.sqrt(400)
    for p in m.parameters():
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound
    w = m.weight_hh_l1.detach().numpy()
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    assert m.weight_ih_l0.dtype == fastgrad.float32
    assert nn.GRU(3, 4, dtype=fastgrad.float64).weight_ih_l0.dtype == fastgrad.float64


def test_reprs(torch):
    for mode, args, kwargs in [
            ("LSTM", (10, 20), dict(num_layers=2, batch_first=True, dropout=0.5, bidirectional=True)),
            ("LSTM", (10, 20), dict(proj_size=5, bias=False)), ("GRU", (3, 4), dict()),
            ("relu", (3, 4), dict(num_layers=3)), ("tanh", (3, 4), dict(dropout=0.25, num_layers=2))]:
        assert repr(_layer(fastgrad, mode, *args, **kwargs)) == repr(_layer(torch, mode, *args, **kwargs))
    for cls, kwargs in [("RNNCell", dict(nonlinearity="relu")), ("RNNCell", dict(bias=False)), ("LSTMCell", dict()),
                        ("GRUCell", dict(bias=False))]:
        assert repr(getattr(fastgrad.nn, cls)(3, 4, **kwargs)) == repr(getattr(torch.nn, cls)(3, 4, **kwargs))


def test_flat_weights_all_weights_and_module_paths(torch):
    from fastgrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell  # noqa: F401
    from fastgrad.nn.utils.rnn import PackedSequence, pack_padded_sequence  # noqa: F401

    assert fastgrad.nn.utils.rnn.pad_sequence is not None and issubclass(LSTM, RNNBase)
    fg = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    th = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert fg._flat_weights_names == th._flat_weights_names
    assert [[tuple(p.shape) for p in ws] for ws in fg.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in th.all_weights]
    assert fg.all_weights[1][0] is fg.weight_ih_l0_reverse
    assert fg._flat_weights[0] is fg.weight_ih_l0
    fg.flatten_parameters()
    new = nn.Parameter(fastgrad.zeros(16, 3))
    fg.weight_ih_l0 = new
    assert fg._flat_weights[0] is new
    fg.double()
    assert fg._flat_weights[0].dtype == fastgrad.float64
    out, _ = fg(fastgrad.randn(2, 1, 3, dtype=fastgrad.float64))
    assert out.dtype == fastgrad.float64


def test_dropout_between_layers(torch):
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1, but got "
                                         "dropout=0.5 and num_layers=1"):
        nn.LSTM(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    fg, th = _pair(torch, "LSTM", 3, 8, num_layers=2, dropout=0.5)
    x = _x(6, 4, 3)
    fg.eval()
    th.eval()
    assert_close(fg(fastgrad.tensor(x))[0], th(torch.tensor(x))[0], rtol=2e-4, atol=2e-5)
    fg.train()
    fastgrad.manual_seed(0)
    a = fg(fastgrad.tensor(x))[0].detach().numpy()
    b = fg(fastgrad.tensor(x))[0].detach().numpy()
    assert not np.allclose(a, b)  # a fresh mask each call
    fg1, _ = _pair(torch, "LSTM", 3, 8, dropout=0.5)  # one layer: no dropout anywhere
    fg1.train()
    assert np.array_equal(fg1(fastgrad.tensor(x))[0].detach().numpy(), fg1(fastgrad.tensor(x))[0].detach().numpy())


# --------------------------------------------------------------------------- cells
CELLS = [("RNNCell", dict()), ("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", dict()), ("GRUCell", dict()),
         ("LSTMCell", dict(bias=False)), ("GRUCell", dict(bias=False))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls,kwargs", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(torch, cls, kwargs, dtype, batched, with_state):
    fg = getattr(fastgrad.nn, cls)(4, 6, **kwargs)
    th = getattr(torch.nn, cls)(4, 6, **kwargs)
    if dtype == np.float64:
        fg, th = fg.double(), th.double()
    copy_to_torch(torch, fg, th)
    lead = (3,) if batched else ()
    states = [lead + (6,)] * ((2 if cls == "LSTMCell" else 1) if with_state else 0)
    fx, tx, fs, ts = _inputs(torch, lead + (4,), dtype, states)
    if with_state:
        fx.append(tuple(fs) if cls == "LSTMCell" else fs[0])
        tx.append(tuple(ts) if cls == "LSTMCell" else ts[0])
    _compare(torch, fg, th, fx, tx, dtype, fs, ts)


@pytest.mark.parametrize("cls,kwargs", CELLS[:4])
def test_cell_gradcheck(cls, kwargs):
    """Each step op: float64 gradcheck (reverse and forward mode) and gradgradcheck."""
    from fastgrad._ops import rnn as R

    fastgrad.manual_seed(0)
    m = getattr(fastgrad.nn, cls)(3, 4, **kwargs).double()
    x = fastgrad.randn(2, 3, dtype=fastgrad.float64, requires_grad=True)
    h = fastgrad.randn(2, 4, dtype=fastgrad.float64, requires_grad=True)
    c = fastgrad.randn(2, 4, dtype=fastgrad.float64, requires_grad=True)
    ws = [p.detach().clone().requires_grad_(True) for p in m.parameters()]
    relu = kwargs.get("nonlinearity") == "relu"

    def step(x, h, c, w_ih, w_hh, b_ih, b_hh):
        gx = fastgrad.nn.functional.linear(x, w_ih, b_ih)
        if cls == "LSTMCell":
            return R.lstm_cell(gx, h, c, w_hh, b_hh)
        if cls == "GRUCell":
            return R.gru_cell(gx, h, w_hh, b_hh)
        return R.rnn_cell(gx, h, w_hh, b_hh, "relu" if relu else "tanh")

    pre = (fastgrad.nn.functional.linear(x, ws[0], ws[2]) + h @ ws[1].T + ws[3]).detach().numpy()
    assert not relu or np.abs(pre).min() > 1e-3  # finite differences stay on one side of relu's kink
    inputs = (x, h, c, *ws)
    assert gradcheck(step, inputs, check_forward_ad=True)
    assert gradgradcheck(step, inputs)
    if cls == "LSTMCell":  # and through the module
        assert gradcheck(lambda x, h, c: m(x, (h, c)), (x, h, c))
    else:
        assert gradcheck(lambda x, h: m(x, h), (x, h))


@pytest.mark.parametrize("mode", MODES)
def test_layer_gradcheck_and_double_backward(mode):
    fastgrad.manual_seed(1)
    m = _layer(fastgrad, mode, 2, 3, num_layers=2, bidirectional=True).double()
    if mode == "relu":
        with fastgrad.no_grad():
            for p in m.parameters():
                p.mul_(0.5)
    x = fastgrad.randn(3, 2, 2, dtype=fastgrad.float64, requires_grad=True)
    h = fastgrad.randn(4, 2, 3, dtype=fastgrad.float64, requires_grad=True)
    c = fastgrad.randn(4, 2, 3, dtype=fastgrad.float64, requires_grad=True)
    if mode == "LSTM":
        def f(x, h, c):
            out, (hn, cn) = m(x, (h, c))
            return out, hn, cn
        inputs = (x, h, c)
    else:
        def f(x, h):
            out, hn = m(x, h)
            return out, hn
        inputs = (x, h)
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)


@pytest.mark.parametrize("reverse,bias", [(False, True), (True, False), (True, True)])
def test_lstm_layer_op(reverse, bias):
    """The whole-layer LSTM op (nn.LSTM's path for equal batches): the step-by-step ops' outputs
    and gradients, float64 gradcheck (reverse and forward mode) and double backward."""
    from fastgrad._ops import rnn as R

    fastgrad.manual_seed(2)
    T, B, H = 3, 2, 3
    gx = fastgrad.randn(T * B, 4 * H, dtype=fastgrad.float64, requires_grad=True)
    h0 = fastgrad.randn(B, H, dtype=fastgrad.float64, requires_grad=True)
    c0 = fastgrad.randn(B, H, dtype=fastgrad.float64, requires_grad=True)
    w = (fastgrad.randn(4 * H, H, dtype=fastgrad.float64) * 0.5).requires_grad_(True)
    b = fastgrad.randn(4 * H, dtype=fastgrad.float64, requires_grad=True) if bias else None
    inputs = (gx, h0, c0, w) + ((b,) if bias else ())

    def layer(gx, h0, c0, w, b=None):
        return R.LSTMLayer.apply(gx, h0, c0, w, b, T, reverse)

    def steps(gx, h0, c0, w, b=None):
        return R._direction("LSTM", gx, [B] * T, h0, c0, w, b, None, reverse)

    weights = [fastgrad.randn(*o.shape, dtype=fastgrad.float64) for o in steps(*inputs)]
    got, want = layer(*inputs), steps(*inputs)
    for g, s, wt in zip(got, want, weights):
        np.testing.assert_allclose(g.detach().numpy(), s.detach().numpy(), rtol=1e-12, atol=1e-13)
    g_got = fastgrad.autograd.grad(sum((o * wt).sum() for o, wt in zip(got, weights)), inputs)
    g_want = fastgrad.autograd.grad(sum((o * wt).sum() for o, wt in zip(want, weights)), inputs)
    for a, e in zip(g_got, g_want):
        np.testing.assert_allclose(a.numpy(), e.numpy(), rtol=1e-12, atol=1e-13)
    assert gradcheck(layer, inputs, check_forward_ad=True)
    assert gradgradcheck(layer, inputs)


# --------------------------------------------------------------------------- errors
def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None


def _errors_match(torch, make):
    """make(lib) -> a callable that raises; both libraries raise the same type and message."""
    f, t = _error(make(fastgrad)), _error(make(torch))
    assert t is not None
    assert f == (t[0], t[1].replace("torch.", "fastgrad."))


ERRORS = {
    "input_size": lambda lib: lambda: lib.nn.LSTM(2, 3)(lib.randn(5, 3, 4)),
    "hidden0_size": lambda lib: lambda: lib.nn.LSTM(2, 3)(lib.randn(5, 3, 2), (lib.zeros(2, 3, 3), lib.zeros(1, 3, 3))),
    "hidden1_size": lambda lib: lambda: lib.nn.LSTM(2, 3)(lib.randn(5, 3, 2), (lib.zeros(1, 3, 3), lib.zeros(1, 2, 3))),
    "lstm_hx_dims": lambda lib: lambda: lib.nn.LSTM(2, 3)(lib.randn(5, 3, 2), (lib.zeros(3, 3), lib.zeros(1, 2, 3))),
    "lstm_hx_dims_unbatched": lambda lib: lambda: lib.nn.LSTM(2, 3)(lib.randn(5, 2), (lib.zeros(1, 3, 3),
                                                                                       lib.zeros(1, 3))),
    "input_dims": lambda lib: lambda: lib.nn.LSTM(2, 3)(lib.randn(5, 3, 2, 1)),
    "gru_input_dims": lambda lib: lambda: lib.nn.GRU(2, 3)(lib.randn(5)),
    "rnn_input_dims": lambda lib: lambda: lib.nn.RNN(2, 3)(lib.randn(5, 3, 2, 1)),
    "gru_hidden": lambda lib: lambda: lib.nn.GRU(2, 3)(lib.randn(5, 3, 2), lib.zeros(2, 3, 3)),
    "rnn_hidden": lambda lib: lambda: lib.nn.RNN(2, 20)(lib.randn(5, 3, 2), lib.zeros(2, 3, 20)),
    "rnn_hx_dims": lambda lib: lambda: lib.nn.RNN(2, 3)(lib.randn(5, 3, 2), lib.zeros(3, 3)),
    "rnn_hx_dims_unbatched": lambda lib: lambda: lib.nn.RNN(2, 3)(lib.randn(5, 2), lib.zeros(1, 1, 3)),
    "dtype": lambda lib: lambda: lib.nn.RNN(2, 3)(lib.randn(5, 3, 2).double()),
    "empty_sequence": lambda lib: lambda: lib.nn.GRU(2, 3)(lib.randn(0, 3, 2)),
    "nonlinearity": lambda lib: lambda: lib.nn.RNN(2, 3, nonlinearity="sig"),
    "proj_rnn": lambda lib: lambda: lib.nn.RNN(2, 3, proj_size=1),
    "proj_gru": lambda lib: lambda: lib.nn.GRU(2, 3, proj_size=1),
    "proj_too_big": lambda lib: lambda: lib.nn.LSTM(2, 3, proj_size=3),
    "proj_negative": lambda lib: lambda: lib.nn.LSTM(2, 3, proj_size=-1),
    "dropout_range": lambda lib: lambda: lib.nn.LSTM(2, 3, dropout=2),
    "dropout_bool": lambda lib: lambda: lib.nn.LSTM(2, 3, dropout=True),
    "bias_type": lambda lib: lambda: lib.nn.LSTM(2, 3, bias=1),
    "batch_first_type": lambda lib: lambda: lib.nn.GRU(2, 3, batch_first=0),
    "input_size_type": lambda lib: lambda: lib.nn.GRU(2.0, 3),
    "input_size_zero": lambda lib: lambda: lib.nn.GRU(0, 3),
    "hidden_size_zero": lambda lib: lambda: lib.nn.GRU(2, 0),
    "num_layers_zero": lambda lib: lambda: lib.nn.GRU(2, 3, num_layers=0),
    "cell_input_size": lambda lib: lambda: lib.nn.LSTMCell(2, 3)(lib.randn(4, 3)),
    "cell_batch": lambda lib: lambda: lib.nn.LSTMCell(2, 3)(lib.randn(4, 2), (lib.zeros(3, 3), lib.zeros(4, 3))),
    "cell_hidden0": lambda lib: lambda: lib.nn.LSTMCell(2, 3)(lib.randn(4, 2), (lib.zeros(4, 2), lib.zeros(4, 3))),
    "cell_hidden1": lambda lib: lambda: lib.nn.LSTMCell(2, 3)(lib.randn(4, 2), (lib.zeros(4, 3), lib.zeros(4, 2))),
    "gru_cell_hidden": lambda lib: lambda: lib.nn.GRUCell(2, 3)(lib.randn(4, 2), lib.zeros(4, 2)),
    "rnn_cell_batch": lambda lib: lambda: lib.nn.RNNCell(2, 3)(lib.randn(4, 2), lib.zeros(3, 3)),
    "rnn_cell_input_dims": lambda lib: lambda: lib.nn.RNNCell(2, 3)(lib.randn(4, 2, 1)),
    "rnn_cell_hidden_dims": lambda lib: lambda: lib.nn.RNNCell(2, 3)(lib.randn(4, 2), lib.zeros(1, 1, 1)),
    "lstm_cell_hx_dims": lambda lib: lambda: lib.nn.LSTMCell(2, 3)(lib.randn(4, 2), (lib.zeros(4, 3),
                                                                                      lib.zeros(1, 4, 3))),
    "gru_cell_input_dims": lambda lib: lambda: lib.nn.GRUCell(2, 3)(lib.randn(1, 4, 2)),
    "rnn_cell_unbatched_hidden": lambda lib: lambda: lib.nn.RNNCell(2, 3)(lib.randn(2), lib.zeros(1, 3)),
    "cell_nonlinearity": lambda lib: lambda: lib.nn.RNNCell(2, 3, nonlinearity="x")(lib.randn(2)),
    "cell_dtype": lambda lib: lambda: lib.nn.LSTMCell(2, 3)(lib.randn(2, 2), (lib.zeros(2, 3).double(),
                                                                               lib.zeros(2, 3))),
    "packed_hidden": lambda lib: lambda: lib.nn.GRU(2, 3)(
        lib.nn.utils.rnn.pack_sequence([lib.randn(3, 2), lib.randn(2, 2)]), lib.zeros(1, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(torch, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _errors_match(torch, ERRORS[name])


def test_hidden_size_message():
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 20\), got \[2, 3, 20\]"):
        nn.RNN(10, 20)(fastgrad.randn(5, 3, 10), fastgrad.zeros(2, 3, 20))


# --------------------------------------------------------------------------- packed sequences
def _packed_pair(torch, lengths, feat, batch_first=False, dtype=np.float32, enforce_sorted=False):
    """The same padded batch packed by both libraries; returns (fg packed, th packed, fg x, th x)."""
    t_len = max(lengths) + 1
    shape = (len(lengths), t_len, feat) if batch_first else (t_len, len(lengths), feat)
    x = _x(*shape, dtype=dtype)
    fx = fastgrad.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    fp = fastgrad.nn.utils.rnn.pack_padded_sequence(fx, lengths, batch_first, enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    return fp, tp, fx, tx


def _same_packed(fp, tp, **tol):
    assert_close(fp.data, tp.data, **tol)
    assert fp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert fp.batch_sizes.dtype == fastgrad.int64
    for a, b in ((fp.sorted_indices, tp.sorted_indices), (fp.unsorted_indices, tp.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist() and a.dtype == fastgrad.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_unsorted_matches_torch(torch, mode, dtype, with_state):
    lengths = [3, 5, 1, 4, 5, 2]
    fg, th = _pair(torch, mode, 3, 4, num_layers=2, bidirectional=True, dtype=dtype)
    fp, tp, fx, tx = _packed_pair(torch, lengths, 3, dtype=dtype)
    _same_packed(fp, tp)
    fargs, targs, fs, ts = [fp], [tp], [], []
    if with_state:
        _, _, fs, ts = _inputs(torch, (1,), dtype, [(4, 6, 4)] * (2 if mode == "LSTM" else 1))
        fargs.append(tuple(fs) if mode == "LSTM" else fs[0])
        targs.append(tuple(ts) if mode == "LSTM" else ts[0])
    fo, to = fg(*fargs), th(*targs)
    assert isinstance(fo[0], fastgrad.nn.utils.rnn.PackedSequence)
    _same_packed(fo[0], to[0], **TOL[dtype])
    fh, thh = _flat(fo[1]), _flat(to[1])
    for f, t in zip(fh, thh):
        assert_close(f, t, **TOL[dtype])
    fpad, flen = fastgrad.nn.utils.rnn.pad_packed_sequence(fo[0], total_length=7)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(to[0], total_length=7)
    assert_close(fpad, tpad, **TOL[dtype])
    assert flen.tolist() == tlen.tolist() == lengths
    _backward_both(torch, [fpad] + fh, [tpad] + thh, dtype)
    for f, t in zip([fx] + fs, [tx] + ts):
        assert_close(f.grad, t.grad, **TOL[dtype])
    for name, p in fg.named_parameters():
        assert_close(p.grad, th.get_parameter(name).grad, **TOL[dtype])


@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sorted_lstm_proj(torch, batch_first):
    fg, th = _pair(torch, "LSTM", 3, 5, proj_size=2, batch_first=batch_first)
    fp, tp, fx, tx = _packed_pair(torch, [4, 4, 2, 1], 3, batch_first=batch_first, enforce_sorted=True)
    _same_packed(fp, tp)
    fo, to = fg(fp), th(tp)
    _same_packed(fo[0], to[0], **TOL[np.float32])
    outs_f, outs_t = [fo[0].data] + _flat(fo[1]), [to[0].data] + _flat(to[1])
    for f, t in zip(outs_f, outs_t):
        assert_close(f, t, **TOL[np.float32])
    _backward_both(torch, outs_f, outs_t, np.float32)
    assert_close(fx.grad, tx.grad, **TOL[np.float32])


def test_packed_gradcheck():
    fastgrad.manual_seed(2)
    m = nn.GRU(2, 3, bidirectional=True).double()
    x = fastgrad.randn(4, 3, 2, dtype=fastgrad.float64, requires_grad=True)
    h = fastgrad.randn(2, 3, 3, dtype=fastgrad.float64, requires_grad=True)

    def f(x, h):
        p = fastgrad.nn.utils.rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        out, hn = m(p, h)
        return fastgrad.nn.utils.rnn.pad_packed_sequence(out)[0], hn
    assert gradcheck(f, (x, h))
    assert gradgradcheck(f, (x, h))


# --------------------------------------------------------------------------- pad / pack utilities
def _seqs(torch, lengths, feat=(2,), dtype=np.float32):
    arrays = [_x(n, *feat, dtype=dtype) for n in lengths]
    return ([fastgrad.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(torch, batch_first, padding_side):
    fs, ts = _seqs(torch, [3, 5, 1], feat=(2, 3))
    fo = fastgrad.nn.utils.rnn.pad_sequence(fs, batch_first, -1.5, padding_side)
    to = torch.nn.utils.rnn.pad_sequence(ts, batch_first, -1.5, padding_side)
    assert_close(fo, to, rtol=0, atol=0)
    _backward_both(torch, [fo], [to], np.float32)
    for f, t in zip(fs, ts):
        assert_close(f.grad, t.grad, rtol=0, atol=0)
    fo = fastgrad.nn.utils.rnn.pad_sequence(fs)  # defaults
    assert_close(fo, torch.nn.utils.rnn.pad_sequence(ts), rtol=0, atol=0)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_pack_pad_roundtrip(torch, batch_first, as_tensor):
    lengths = [5, 3, 3, 1]
    for enforce_sorted, lens in ((True, lengths), (False, [3, 1, 5, 3])):
        fp, tp, fx, tx = _packed_pair(torch, lens, 2, batch_first, enforce_sorted=enforce_sorted)
        if as_tensor:
            x = fx.detach().numpy()
            fp = fastgrad.nn.utils.rnn.pack_padded_sequence(fastgrad.tensor(x), fastgrad.tensor(lens),
                                                            batch_first, enforce_sorted)
        _same_packed(fp, tp)
        for total in (None, 8):
            fo, fl = fastgrad.nn.utils.rnn.pad_packed_sequence(fp, batch_first, 0.25, total)
            to, tl = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first, 0.25, total)
            assert_close(fo, to, rtol=0, atol=0)
            assert fl.tolist() == tl.tolist() and fl.dtype == fastgrad.int64
        if not as_tensor:
            _backward_both(torch, [fo], [to], np.float32)
            assert_close(fx.grad, tx.grad, rtol=0, atol=0)


def test_pack_sequence_unpack_unpad(torch):
    fs, ts = _seqs(torch, [2, 4, 3])
    for enforce_sorted in (False,):
        fp = fastgrad.nn.utils.rnn.pack_sequence(fs, enforce_sorted)
        tp = torch.nn.utils.rnn.pack_sequence(ts, enforce_sorted)
        _same_packed(fp, tp)
        for f, t in zip(fastgrad.nn.utils.rnn.unpack_sequence(fp), torch.nn.utils.rnn.unpack_sequence(tp)):
            assert_close(f, t, rtol=0, atol=0)
    fs2, ts2 = _seqs(torch, [4, 3, 2])
    _same_packed(fastgrad.nn.utils.rnn.pack_sequence(fs2), torch.nn.utils.rnn.pack_sequence(ts2))
    for batch_first in (False, True):
        fpad = fastgrad.nn.utils.rnn.pad_sequence(fs, batch_first)
        tpad = torch.nn.utils.rnn.pad_sequence([t.detach() for t in ts], batch_first)
        lens = [2, 4, 3]
        fu = fastgrad.nn.utils.rnn.unpad_sequence(fpad, fastgrad.tensor(lens), batch_first)
        tu = torch.nn.utils.rnn.unpad_sequence(tpad, torch.tensor(lens), batch_first)
        assert len(fu) == len(tu)
        for f, t in zip(fu, tu):
            assert_close(f, t, rtol=0, atol=0)
    perm = fastgrad.tensor([2, 0, 3, 1])
    assert fastgrad.nn.utils.rnn.invert_permutation(perm).tolist() == \
        torch.nn.utils.rnn.invert_permutation(torch.tensor([2, 0, 3, 1])).tolist()
    assert fastgrad.nn.utils.rnn.invert_permutation(None) is None


def test_packed_sequence_tuple_and_to(torch):
    fs, _ = _seqs(torch, [3, 1])
    p = fastgrad.nn.utils.rnn.pack_sequence(fs)
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert p._fields == torch.nn.utils.rnn.PackedSequence._fields
    assert data is p.data and batch_sizes.tolist() == [2, 1, 1] and sorted_indices is None
    assert p.to(fastgrad.float32) is p
    q = p.to(fastgrad.float64)
    assert isinstance(q, fastgrad.nn.utils.rnn.PackedSequence) and q.data.dtype == fastgrad.float64
    assert q.batch_sizes is p.batch_sizes
    assert p.double().data.dtype == fastgrad.float64 and not p.is_cuda
    r = fastgrad.nn.utils.rnn.PackedSequence(p.data, p.batch_sizes)
    assert r.unsorted_indices is None


PACK_ERRORS = {
    "unsorted": lambda lib: lambda: lib.nn.utils.rnn.pack_padded_sequence(lib.randn(5, 3, 2), [3, 5, 2]),
    "zero_length": lambda lib: lambda: lib.nn.utils.rnn.pack_padded_sequence(lib.randn(5, 3, 2), [5, 3, 0]),
    "count": lambda lib: lambda: lib.nn.utils.rnn.pack_padded_sequence(lib.randn(5, 3, 2), [5, 3]),
    "lengths_2d": lambda lib: lambda: lib.nn.utils.rnn.pack_padded_sequence(lib.randn(5, 3, 2),
                                                                            lib.tensor([[5, 3, 2]])),
    "pad_shapes": lambda lib: lambda: lib.nn.utils.rnn.pad_sequence([lib.randn(3, 2), lib.randn(2, 3)]),
    "pad_empty": lambda lib: lambda: lib.nn.utils.rnn.pad_sequence([]),
    "pad_not_iterable": lambda lib: lambda: lib.nn.utils.rnn.pad_sequence(5),
    "padding_side": lambda lib: lambda: lib.nn.utils.rnn.pad_sequence([lib.randn(3)], padding_side="up"),
    "total_length": lambda lib: lambda: lib.nn.utils.rnn.pad_packed_sequence(
        lib.nn.utils.rnn.pack_padded_sequence(lib.randn(5, 3, 2), [5, 3, 2]), total_length=3),
    "packed_input_size": lambda lib: lambda: lib.nn.LSTM(3, 2)(
        lib.nn.utils.rnn.pack_sequence([lib.randn(3, 2), lib.randn(2, 2)])),
}


@pytest.mark.parametrize("name", sorted(PACK_ERRORS))
def test_pack_errors_match_torch(torch, name):
    _errors_match(torch, PACK_ERRORS[name])
