"""nn.Transformer and its encoder/decoder layers and stacks against PyTorch: state_dict keys and
shapes, torch's weights loaded into fastgrad, outputs and gradients of inputs and all parameters
(float32 and float64, dropout off or eval mode), masks, reprs, errors, float64 gradcheck."""
import warnings

import numpy as np
import pytest
from nn_helpers import assert_close

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)
tol = {np.float32: {"rtol": 2e-4, "atol": 2e-5}, np.float64: {"rtol": 1e-9, "atol": 1e-10}}

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True", "ignore:The PyTorch API of nested",
                                        "ignore:Support for mismatched", "ignore:Converting mask without")


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _pair(torch, cls_name, *args, dtype=np.float64, **kw):
    """The same module built by both libraries (fastgrad's from fastgrad classes), torch's
    state_dict loaded into fastgrad's."""
    def build(lib):
        return _build(lib, cls_name, *args, dtype=getattr(lib, np.dtype(dtype).name), **kw)

    th, fg = build(torch), build(fastgrad)
    tsd, fsd = th.state_dict(), fg.state_dict()
    assert list(fsd) == list(tsd)
    assert [tuple(v.shape) for v in fsd.values()] == [tuple(v.shape) for v in tsd.values()]
    fg.load_state_dict({k: fastgrad.tensor(v.detach().numpy().copy()) for k, v in tsd.items()})
    return fg, th


def _build(lib, cls_name, *args, **kw):
    kw = dict(kw)
    if callable(kw.get("activation")) and not isinstance(kw["activation"], str):
        kw["activation"] = kw["activation"](lib)
    if cls_name in ("TransformerEncoder", "TransformerDecoder"):
        layer_cls, n, layer_args, layer_kw, norm, extra = args[0], args[1], args[2], args[3], args[4], kw
        layer = getattr(lib.nn, layer_cls)(*layer_args, dtype=kw.pop("dtype"), **layer_kw)
        norm_mod = lib.nn.LayerNorm(layer_args[0], dtype=layer.linear1.weight.dtype) if norm else None
        return getattr(lib.nn, cls_name)(layer, n, norm_mod, **extra)
    return getattr(lib.nn, cls_name)(*args, **kw)


def _compare(torch, fg, th, arrays, dtype=np.float64, masks=None, **kw):
    masks = masks or {}
    fx = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    fo = fg(*fx, **{k: fastgrad.tensor(m) for k, m in masks.items()}, **kw)
    to = th(*tx, **{k: torch.tensor(m) for k, m in masks.items()}, **kw)
    t = tol[dtype]
    assert_close(fo, to, **t)
    w = _x(*to.shape, dtype=dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    for a, b in zip(fx, tx):
        assert_close(a.grad, b.grad, **t)
    for name, p in fg.named_parameters():
        assert_close(p.grad, th.get_parameter(name).grad, **t)
    return fo


def _relu(lib):
    return lib.nn.functional.relu


def _gelu_module(lib):
    return lib.nn.GELU()


def _tanh(lib):
    return lib.tanh


# --------------------------------------------------------------------------- encoder layer
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer(torch, dtype, batch_first, norm_first):
    fg, th = _pair(torch, "TransformerEncoderLayer", 16, 4, 32, 0.0, batch_first=batch_first, norm_first=norm_first,
                   dtype=dtype)
    _compare(torch, fg, th, [_x(3, 5, 16, dtype=dtype)], dtype=dtype)


@pytest.mark.parametrize("activation", ["relu", "gelu", _relu, _gelu_module, _tanh])
def test_encoder_layer_activations(torch, activation):
    fg, th = _pair(torch, "TransformerEncoderLayer", 8, 2, 16, 0.0, activation=activation)
    _compare(torch, fg, th, [_x(4, 2, 8)])
    if activation in ("relu", _relu):
        assert fg.activation_relu_or_gelu == th.activation_relu_or_gelu == 1
    if activation in ("gelu", _gelu_module):
        assert fg.activation_relu_or_gelu == th.activation_relu_or_gelu == 2


def test_encoder_layer_options(torch):
    fg, th = _pair(torch, "TransformerEncoderLayer", 8, 2, 16, 0.0, bias=False, layer_norm_eps=1e-3)
    assert fg.norm1.bias is None and fg.linear1.bias is None and fg.self_attn.in_proj_bias is None
    _compare(torch, fg, th, [_x(4, 2, 8)])


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_masks(torch, batch_first):
    fg, th = _pair(torch, "TransformerEncoderLayer", 8, 2, 16, 0.0, batch_first=batch_first)
    x = _x(3, 5, 8) if batch_first else _x(5, 3, 8)
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    b = 3
    kpm = RNG.random((b, 5)) > 0.6
    kpm[:, 0] = False
    for masks, kw in [({"src_mask": causal}, {}), ({"src_mask": causal}, {"is_causal": True}),
                      ({"src_mask": np.triu(np.ones((5, 5), bool), 1)}, {}), ({"src_mask": _x(b * 2, 5, 5)}, {}),
                      ({"src_key_padding_mask": kpm}, {}),
                      ({"src_key_padding_mask": kpm, "src_mask": np.triu(np.ones((5, 5), bool), 1)}, {})]:
        fg.zero_grad()
        th.zero_grad()
        _compare(torch, fg, th, [x], masks=masks, **kw)


def test_encoder_layer_unbatched(torch):
    fg, th = _pair(torch, "TransformerEncoderLayer", 8, 2, 16, 0.0)
    _compare(torch, fg, th, [_x(5, 8)], masks={"src_mask": np.triu(np.full((5, 5), -np.inf), 1)})


def test_encoder_layer_dropout_eval(torch):
    fg, th = _pair(torch, "TransformerEncoderLayer", 8, 2, 16, 0.5)
    fg.eval()
    th.eval()
    _compare(torch, fg, th, [_x(4, 2, 8)])
    fg.train()
    x = fastgrad.tensor(_x(4, 2, 8))
    assert not np.allclose(fg(x).detach().numpy(), fg.eval()(x).detach().numpy())


# --------------------------------------------------------------------------- stacks
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm", [False, True])
def test_encoder(torch, dtype, norm):
    fg, th = _pair(torch, "TransformerEncoder", "TransformerEncoderLayer", 3, (16, 4, 32, 0.0),
                   {"batch_first": True}, norm, dtype=dtype)
    assert fg.layers[0].linear1.weight is not fg.layers[1].linear1.weight
    causal = np.triu(np.full((6, 6), -np.inf), 1).astype(dtype)
    _compare(torch, fg, th, [_x(2, 6, 16, dtype=dtype)], dtype=dtype)
    fg.zero_grad()
    th.zero_grad()
    _compare(torch, fg, th, [_x(2, 6, 16, dtype=dtype)], dtype=dtype, masks={"mask": causal})
    fg.zero_grad()
    th.zero_grad()
    _compare(torch, fg, th, [_x(2, 6, 16, dtype=dtype)], dtype=dtype, masks={"mask": causal}, is_causal=True)
    kpm = np.zeros((2, 6), bool)
    kpm[1, 4:] = True
    fg.zero_grad()
    th.zero_grad()
    _compare(torch, fg, th, [_x(2, 6, 16, dtype=dtype)], dtype=dtype, masks={"src_key_padding_mask": kpm})


@pytest.mark.parametrize("aligned", [True, False])
def test_encoder_inference_with_padding(torch, aligned):
    """torch's inference path (nested tensors) gives zeros at padded positions: so does fastgrad."""
    fg, th = _pair(torch, "TransformerEncoder", "TransformerEncoderLayer", 2, (8, 2, 16, 0.1),
                   {"batch_first": True}, True)
    fg.eval()
    th.eval()
    x = _x(3, 5, 8)
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    kpm[2, 1:] = True
    if not aligned:
        kpm[1, 1] = True
    with torch.no_grad():
        to = th(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    with fastgrad.no_grad():
        fo = fg(fastgrad.tensor(x), src_key_padding_mask=fastgrad.tensor(kpm))
    assert_close(fo, to, **tol[np.float64])


def test_encoder_detects_causal_mask(torch):
    from fastgrad.nn.modules.transformer import _detect_is_causal_mask
    from torch.nn.modules.transformer import _detect_is_causal_mask as t_detect

    for m in [np.triu(np.full((4, 4), -np.inf), 1), np.triu(np.full((4, 4), -np.inf), 2), np.zeros((4, 4)),
              np.triu(np.ones((4, 4), bool), 1), np.triu(np.full((4, 4), -np.inf, np.float32), 1)]:
        for size in (None, 4, 3):
            for hint in (None, True, False):
                assert _detect_is_causal_mask(fastgrad.tensor(m), hint, size) == t_detect(torch.tensor(m), hint, size)
    assert _detect_is_causal_mask(None, None) is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer(torch, dtype, norm_first):
    fg, th = _pair(torch, "TransformerDecoderLayer", 16, 4, 32, 0.0, norm_first=norm_first, dtype=dtype)
    _compare(torch, fg, th, [_x(5, 2, 16, dtype=dtype), _x(7, 2, 16, dtype=dtype)], dtype=dtype)


def test_decoder_layer_masks(torch):
    fg, th = _pair(torch, "TransformerDecoderLayer", 8, 2, 16, 0.0, batch_first=True, activation="gelu")
    tm = np.triu(np.full((5, 5), -np.inf), 1)
    mkpm = np.zeros((2, 7), bool)
    mkpm[1, 5:] = True
    tkpm = np.zeros((2, 5), bool)
    tkpm[0, 4] = True
    for masks, kw in [({"tgt_mask": tm}, {"tgt_is_causal": True}),
                      ({"tgt_mask": tm, "memory_mask": _x(5, 7)}, {}),
                      ({"tgt_mask": tm, "memory_key_padding_mask": mkpm, "tgt_key_padding_mask": tkpm}, {})]:
        fg.zero_grad()
        th.zero_grad()
        _compare(torch, fg, th, [_x(2, 5, 8), _x(2, 7, 8)], masks=masks, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decoder(torch, dtype):
    fg, th = _pair(torch, "TransformerDecoder", "TransformerDecoderLayer", 2, (16, 4, 32, 0.0), {}, True,
                   dtype=dtype)
    tm = np.triu(np.full((5, 5), -np.inf), 1).astype(dtype)
    _compare(torch, fg, th, [_x(5, 2, 16, dtype=dtype), _x(7, 2, 16, dtype=dtype)], dtype=dtype,
             masks={"tgt_mask": tm})


# --------------------------------------------------------------------------- Transformer
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_transformer(torch, dtype, batch_first, norm_first):
    fg, th = _pair(torch, "Transformer", 16, 4, 2, 2, 32, 0.0, batch_first=batch_first, norm_first=norm_first,
                   dtype=dtype)
    src = _x(2, 6, 16, dtype=dtype) if batch_first else _x(6, 2, 16, dtype=dtype)
    tgt = _x(2, 5, 16, dtype=dtype) if batch_first else _x(5, 2, 16, dtype=dtype)
    tm = nn.Transformer.generate_square_subsequent_mask(5, dtype=getattr(fastgrad, np.dtype(dtype).name)).numpy()
    _compare(torch, fg, th, [src, tgt], dtype=dtype, masks={"tgt_mask": tm})
    skpm = np.zeros((2, 6), bool)
    skpm[0, 5] = True
    fg.zero_grad()
    th.zero_grad()
    _compare(torch, fg, th, [src, tgt], dtype=dtype, masks={"tgt_mask": tm, "src_key_padding_mask": skpm,
                                                           "memory_key_padding_mask": skpm}, tgt_is_causal=True)


def test_transformer_defaults_repr_and_init(torch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fg = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)
        th = torch.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                  dim_feedforward=8)
    assert repr(fg) == repr(th)
    assert fg.d_model == 16 and fg.nhead == 2 and fg.batch_first is False
    assert fg.encoder.layers[0].dropout.p == 0.1 and fg.encoder.layers[0].activation is F.relu
    assert fg.encoder.norm.eps == 1e-5
    w = fg.encoder.layers[0].linear1.weight.detach().numpy()  # xavier_uniform on every matrix
    assert np.abs(w).max() <= np.sqrt(6.0 / (16 + 8)) and w.std() > 0.2 * np.sqrt(6.0 / 24)
    default = nn.TransformerEncoderLayer(16, 2)
    assert default.linear1.out_features == 2048
    assert fastgrad.nn.modules.transformer.Transformer is nn.Transformer
    for name in ("TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer"):
        assert getattr(fastgrad.nn.modules.transformer, name) is getattr(nn, name)


def test_generate_square_subsequent_mask(torch):
    for sz in (1, 4):
        m = nn.Transformer.generate_square_subsequent_mask(sz)
        assert m.dtype == fastgrad.float32
        np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(sz).numpy())
    m = nn.Transformer.generate_square_subsequent_mask(3, dtype=fastgrad.float64)
    assert m.dtype == fastgrad.float64


def test_encoder_nested_tensor_flags(torch):
    with pytest.warns(UserWarning, match="use_nested_tensor is False because encoder_layer.self_attn.batch_first"):
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 2)
    assert enc.enable_nested_tensor and not enc.use_nested_tensor
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, batch_first=True), 2, enable_nested_tensor=False)
    assert enc.enable_nested_tensor is False and enc.mask_check is True
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, batch_first=True), 2)
    assert enc.use_nested_tensor


def test_encoder_layer_gradcheck():
    layer = nn.TransformerEncoderLayer(4, 2, 6, 0.0, dtype=fastgrad.float64)
    x = fastgrad.tensor(_x(3, 2, 4), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=fastgrad.float64)
    assert gradcheck(lambda a: layer(a, src_mask=mask), (x,))
    dec = nn.TransformerDecoderLayer(4, 2, 6, 0.0, dtype=fastgrad.float64, norm_first=True)
    m = fastgrad.tensor(_x(4, 2, 4), requires_grad=True)
    assert gradcheck(lambda a, b: dec(a, b, tgt_mask=mask, tgt_is_causal=True), (x, m))


# --------------------------------------------------------------------------- errors
def _err(torch, fn):
    with pytest.raises(Exception) as te:
        fn(torch)
    with pytest.raises(type(te.value)) as fe:
        fn(fastgrad)
    assert str(fe.value).replace("fastgrad.", "torch.") == str(te.value)


def _tr(lib, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lib.nn.Transformer(8, 2, 1, 1, 16, **kw)


@pytest.mark.parametrize("case", [
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
    lambda lib: lib.nn.TransformerDecoderLayer(8, 2, activation="swish"),
    lambda lib: lib.nn.TransformerEncoderLayer(10, 3),
    lambda lib: _tr(lib)(lib.zeros(4, 2, 8), lib.zeros(3, 3, 8)),
    lambda lib: _tr(lib, batch_first=True)(lib.zeros(2, 4, 8), lib.zeros(3, 3, 8)),
    lambda lib: _tr(lib)(lib.zeros(4, 2, 8), lib.zeros(3, 2, 6)),
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(lib.zeros(4, 2, 8), src_mask=lib.zeros(4, 4).long()),
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(lib.zeros(4, 2, 8), src_mask=lib.zeros(3, 4)),
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(lib.zeros(4, 2, 8), src_key_padding_mask=lib.zeros(2, 5,
                                                                                                       dtype=lib.bool)),
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(lib.zeros(4, 2, 8), is_causal=True),
    lambda lib: lib.nn.TransformerEncoderLayer(8, 2)(lib.zeros(4, 2, 6)),
])
def test_errors(torch, case):
    _err(torch, case)
