"""scaled_dot_product_attention and nn.MultiheadAttention against PyTorch: outputs, gradients of
inputs, masks and parameters (float32 and float64), torch's state_dict loaded into fastgrad,
the explicit softmax(QK^T/sqrt(d))V formula, float64 gradcheck / gradgradcheck / forward AD,
and torch's error messages."""
import math

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")  # torch warns too


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


tol = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def _sdpa_both(torch, qs, ks, vs, mask=None, mask_grad=False, dtype=np.float64, **kw):
    """Run both libraries' SDPA on the same inputs; return fastgrad and torch (output, grads)."""
    arrays = [_x(*s, dtype=dtype) for s in (qs, ks, vs)]
    fx = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    fm = tm = None
    if mask is not None:
        fm = fastgrad.tensor(mask, requires_grad=mask_grad)
        tm = torch.tensor(mask, requires_grad=mask_grad)
    fo = F.scaled_dot_product_attention(*fx, attn_mask=fm, **kw)
    to = torch.nn.functional.scaled_dot_product_attention(*tx, attn_mask=tm, **kw)
    w = _x(*to.shape, dtype=dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    fg = [t.grad for t in fx] + ([fm.grad] if mask_grad else [])
    tg = [t.grad for t in tx] + ([tm.grad] if mask_grad else [])
    return (fo, fg), (to, tg)


def _check(torch, *args, dtype=np.float64, **kw):
    (fo, fg), (to, tg) = _sdpa_both(torch, *args, dtype=dtype, **kw)
    assert fo.dtype == getattr(fastgrad, np.dtype(dtype).name)
    assert_close(fo, to, **tol[dtype])
    for a, b in zip(fg, tg):
        assert_close(a, b, **tol[dtype])


# --------------------------------------------------------------------------- SDPA against torch
SHAPES = [
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)),  # value head dim differs
    ((2, 3, 6, 8), (2, 3, 6, 8), (2, 3, 6, 8)),
    ((4, 8), (5, 8), (5, 8)),  # unbatched
    ((3, 4, 8), (3, 5, 8), (3, 5, 8)),
    ((2, 4, 8), (5, 8), (5, 6)),  # broadcast batch
    ((2, 3, 4, 8), (1, 3, 5, 8), (1, 3, 5, 8)),
    ((2, 2, 3, 4, 8), (2, 2, 3, 5, 8), (2, 2, 3, 5, 8)),  # 5-D
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SHAPES)
def test_sdpa_matches_torch(torch, shapes, dtype):
    _check(torch, *shapes, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("L", [4, 6, 5])
def test_sdpa_causal(torch, L, dtype):
    _check(torch, (2, 3, L, 8), (2, 3, 5, 8), (2, 3, 5, 8), is_causal=True, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_bool_mask(torch, dtype):
    m = RNG.random((4, 5)) > 0.3
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), mask=m, dtype=dtype)
    m4 = RNG.random((2, 1, 4, 5)) > 0.5
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), mask=m4, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_float_mask_and_its_gradient(torch, dtype):
    for shape in [(4, 5), (3, 1, 5), (2, 3, 4, 5), (1, 5)]:
        _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), mask=_x(*shape, dtype=dtype), mask_grad=True,
               dtype=dtype)


def test_sdpa_mask_with_causal_and_scale(torch):
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), mask=_x(2, 3, 4, 5), is_causal=True)
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), mask=RNG.random((4, 5)) > 0.4, is_causal=True)
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), scale=0.3)
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), scale=0.0)


def test_sdpa_fully_masked_rows_are_zero(torch):
    m = RNG.random((4, 5)) > 0.3
    m[1] = False
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), mask=m)
    fm = np.zeros((4, 5))
    fm[2] = -np.inf
    (fo, fg), _ = _sdpa_both(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), mask=fm)
    assert np.all(fo.detach().numpy()[:, :, 2] == 0) and np.isfinite(fo.detach().numpy()).all()
    assert all(np.isfinite(g.numpy()).all() for g in fg)
    _check(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), mask=fm)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_gqa(torch, dtype):
    _check(torch, (2, 4, 6, 8), (2, 2, 5, 8), (2, 2, 5, 6), enable_gqa=True, dtype=dtype)
    _check(torch, (2, 4, 6, 8), (2, 2, 5, 8), (2, 2, 5, 8), enable_gqa=True, is_causal=True, dtype=dtype)
    _check(torch, (2, 4, 6, 8), (2, 1, 5, 8), (2, 2, 5, 8), enable_gqa=True, dtype=dtype)  # key/value heads differ
    _check(torch, (4, 6, 8), (2, 5, 8), (2, 5, 8), enable_gqa=True, dtype=dtype)
    _check(torch, (2, 4, 6, 8), (2, 2, 5, 8), (2, 2, 5, 8), enable_gqa=True, mask=RNG.random((2, 4, 6, 5)) > 0.3,
           dtype=dtype)


def test_sdpa_equals_explicit_formula():
    q, k, v = (fastgrad.tensor(_x(2, 3, 7, 16)) for _ in range(3))
    ref = fastgrad.softmax(q @ k.transpose(-2, -1) / math.sqrt(16), -1) @ v
    assert_close(F.scaled_dot_product_attention(q, k, v), ref, rtol=1e-12, atol=1e-12)
    mask = fastgrad.tensor(RNG.random((7, 7)) > 0.3) | fastgrad.eye(7, dtype=fastgrad.bool)
    s = (q @ k.transpose(-2, -1) / math.sqrt(16)).masked_fill(mask.logical_not(), float("-inf"))
    assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=mask), fastgrad.softmax(s, -1) @ v,
                 rtol=1e-12, atol=1e-12)
    causal = fastgrad.ones(7, 7, dtype=fastgrad.bool).tril()
    s = (q @ k.transpose(-2, -1) / math.sqrt(16)).masked_fill(causal.logical_not(), float("-inf"))
    assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True), fastgrad.softmax(s, -1) @ v,
                 rtol=1e-12, atol=1e-12)


def test_sdpa_chunked_equals_unchunked(monkeypatch):
    """The forward and backward loop over chunks of heads; chunk boundaries change nothing."""
    from fastgrad._ops import attention as A

    arrays = [_x(3, 4, 9, 8) for _ in range(3)]
    mask = _x(4, 9, 9)
    outs = []
    for chunk in (1 << 21, 9 * 9 * 4, 1):
        monkeypatch.setattr(A, "_CHUNK", chunk)
        ts = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
        m = fastgrad.tensor(mask, requires_grad=True)
        o = F.scaled_dot_product_attention(*ts, attn_mask=m, is_causal=False)
        (o * o).sum().backward()
        outs.append([o.detach().numpy()] + [t.grad.numpy() for t in ts + [m]])
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("L,S", [(64, 64), (70, 50), (40, 64)])
def test_sdpa_causal_row_blocks(torch, monkeypatch, L, S):
    """Causal attention over long sequences computes only the row blocks' visible keys; the
    result is the same (forward, backward, every chunk size, dropout's mask slices)."""
    from fastgrad._ops import attention as A

    monkeypatch.setattr(A, "_BLOCKS_MIN", 1)
    for chunk in (1 << 21, 64 * 64 * 2, 1):
        monkeypatch.setattr(A, "_CHUNK", chunk)
        _check(torch, (2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 6), is_causal=True)
        _check(torch, (2, 3, L, 8), (2, 3, S, 8), (2, 3, S, 6), is_causal=True, dtype=np.float32)
    _check(torch, (2, 4, L, 8), (2, 2, S, 8), (2, 2, S, 8), is_causal=True, enable_gqa=True)  # one block
    assert len(A._causal_blocks(256, 256, 1, 8)) == 8 and A._causal_blocks(256, 256, 2, 8) == [(0, 512, 256)]
    q = fastgrad.tensor(_x(1, 2, 64, 4), requires_grad=True)
    f = lambda a: F.scaled_dot_product_attention(a, a, a, is_causal=True)  # noqa: E731
    assert gradcheck(f, (q,), eps=1e-6, atol=1e-5)
    fastgrad.manual_seed(3)
    o1 = F.scaled_dot_product_attention(q, q, q, is_causal=True, dropout_p=0.3)
    monkeypatch.setattr(A, "_BLOCKS_MIN", 10 ** 9)
    fastgrad.manual_seed(3)
    o2 = F.scaled_dot_product_attention(q, q, q, is_causal=True, dropout_p=0.3)
    assert_close(o1, o2, rtol=1e-12, atol=1e-12)


def test_sdpa_dropout():
    fastgrad.manual_seed(0)
    q, k, v = (fastgrad.tensor(_x(2, 2, 50, 4), requires_grad=True) for _ in range(3))
    o0 = F.scaled_dot_product_attention(q, k, v)
    o1 = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert o1.shape == o0.shape and not np.allclose(o0.detach().numpy(), o1.detach().numpy())
    o1.sum().backward()
    assert q.grad is not None and np.isfinite(q.grad.numpy()).all()
    # gradient of the dropped-out attention: finite differences with the same mask
    from fastgrad._ops import attention as A

    fastgrad.manual_seed(1)
    spec_drop = []
    orig = A.ScaledDotProductAttention.apply

    def spy(*args):
        spec_drop.append(args[-1])
        return orig(*args)

    A.ScaledDotProductAttention.apply = spy
    try:
        q2, k2, v2 = (fastgrad.tensor(_x(1, 2, 3, 4), requires_grad=True) for _ in range(3))
        F.scaled_dot_product_attention(q2, k2, v2, dropout_p=0.3)
    finally:
        A.ScaledDotProductAttention.apply = orig
    spec = spec_drop[0]
    assert gradcheck(lambda a, b, c: A.ScaledDotProductAttention.apply(a, b, c, None, spec), (q2, k2, v2))
    o = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert np.all(o.detach().numpy() == 0)


def test_sdpa_no_grad_and_dtype():
    q = fastgrad.randn(2, 3, 4, 8)
    with fastgrad.no_grad():
        o = F.scaled_dot_product_attention(q, q, q)
    assert o.grad_fn is None and o.dtype == fastgrad.float32 and o.shape == (2, 3, 4, 8)
    o = F.scaled_dot_product_attention(q.requires_grad_(), q, q)
    assert o.grad_fn is not None


def test_sdpa_empty():
    o = F.scaled_dot_product_attention(fastgrad.randn(2, 8), fastgrad.randn(0, 8), fastgrad.randn(0, 8))
    assert o.shape == (2, 8) and not o.abs().sum().item()
    assert F.scaled_dot_product_attention(fastgrad.randn(0, 8), fastgrad.randn(5, 8), fastgrad.randn(5, 8)).shape == (0, 8)


# --------------------------------------------------------------------------- float64 gradcheck
@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.7}, {"enable_gqa": True}])
def test_sdpa_gradcheck(kw):
    hk = 1 if kw.get("enable_gqa") else 2
    q = fastgrad.tensor(_x(1, 2, 3, 4), requires_grad=True)
    k = fastgrad.tensor(_x(1, hk, 4, 4), requires_grad=True)
    v = fastgrad.tensor(_x(1, hk, 4, 3), requires_grad=True)
    f = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw)  # noqa: E731
    assert gradcheck(f, (q, k, v), check_forward_ad=True)
    assert gradgradcheck(f, (q, k, v))


def test_sdpa_gradcheck_masks():
    q = fastgrad.tensor(_x(1, 2, 3, 4), requires_grad=True)
    k = fastgrad.tensor(_x(1, 2, 4, 4), requires_grad=True)
    v = fastgrad.tensor(_x(1, 2, 4, 3), requires_grad=True)
    m = fastgrad.tensor(_x(2, 1, 4), requires_grad=True)
    f = lambda a, b, c, d: F.scaled_dot_product_attention(a, b, c, attn_mask=d)  # noqa: E731
    assert gradcheck(f, (q, k, v, m), check_forward_ad=True)
    assert gradgradcheck(f, (q, k, v, m))
    bm = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])
    fb = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=fastgrad.tensor(bm))  # noqa: E731
    assert gradcheck(fb, (q, k, v), check_forward_ad=True)
    assert gradgradcheck(fb, (q, k, v))


# --------------------------------------------------------------------------- errors
def _errors(torch, fn_f, fn_t):
    with pytest.raises(Exception) as te:
        fn_t()
    with pytest.raises(type(te.value)) as fe:
        fn_f()
    assert str(fe.value) == str(te.value)


def _args(lib, shapes, dtypes=None):
    dtypes = dtypes or ["float32"] * len(shapes)
    return [lib.tensor(_x(*s)).to(getattr(lib, d)) for s, d in zip(shapes, dtypes)]


SDPA_ERRORS = [
    (((8,), (8,), (8,)), None, {}),
    (((4, 8), (5, 8), (5, 8)), ["float32", "float64", "float32"], {}),
    (((4, 8), (5, 8), (5, 8)), ["int64", "int64", "int64"], {}),
    (((2, 3, 4, 8), (2, 3, 5, 7), (2, 3, 5, 8)), None, {}),
    (((4, 8), (5, 7), (5, 8)), None, {}),
    (((4, 8), (5, 8), (6, 8)), None, {}),
    (((2, 4, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8)), None, {}),
    (((2, 4, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)), None, {"enable_gqa": True}),
    (((4, 8), (5, 8), (5, 8)), None, {"enable_gqa": True}),
    (((2, 4, 4, 8), (3, 4, 5, 8), (3, 4, 5, 8)), None, {}),
    (((4, 8), (5, 8), (5, 8)), None, {"dropout_p": 1.5}),
]


@pytest.mark.parametrize("shapes,dtypes,kw", SDPA_ERRORS)
def test_sdpa_errors(torch, shapes, dtypes, kw):
    _errors(torch, lambda: F.scaled_dot_product_attention(*_args(fastgrad, shapes, dtypes), **kw),
            lambda: torch.nn.functional.scaled_dot_product_attention(*_args(torch, shapes, dtypes), **kw))


@pytest.mark.parametrize("mask_shape,mask_dtype,kw", [
    ((4, 5), "int64", {}), ((4, 5), "float64", {}), ((4, 5), "uint8", {}), ((4, 6), "float32", {}),
    ((5,), "bool", {}), ((1, 1, 1, 2, 4, 5), "bool", {}), ((3, 2, 4, 5), "bool", {}),
    ((2, 2, 3, 4, 5), "float32", {}), ((4, 5), "float32", {"is_causal": True, "dropout_p": 0.5}),
])
def test_sdpa_mask_errors(torch, mask_shape, mask_dtype, kw):
    shapes = ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8))

    def run(lib):
        m = lib.tensor(RNG.random(mask_shape) > 0.5).to(getattr(lib, mask_dtype))
        return lib.nn.functional.scaled_dot_product_attention(*_args(lib, shapes), attn_mask=m, **kw)

    _errors(torch, lambda: run(fastgrad), lambda: run(torch))


def test_sdpa_causal_with_mask_on_other_layouts(torch):
    """torch's CPU flash kernel takes is_causal with a mask; its math fallback (3-D inputs,
    a mask that requires grad) refuses them: the same either way here."""
    for shapes, grad in [(((3, 4, 8), (3, 5, 8), (3, 5, 8)), False), (((2, 3, 4, 8),) * 3, True)]:
        def run(lib, shapes=shapes, grad=grad):
            m = lib.zeros(4, shapes[1][-2]).requires_grad_(grad)
            return lib.nn.functional.scaled_dot_product_attention(*_args(lib, shapes), attn_mask=m, is_causal=True)

        _errors(torch, lambda: run(fastgrad), lambda: run(torch))


# --------------------------------------------------------------------------- nn.MultiheadAttention
def _load_from_torch(fg_mod, th_mod):
    """torch's state_dict into the fastgrad module, arrays converted."""
    sd = {k: fastgrad.tensor(v.detach().numpy().copy()) for k, v in th_mod.state_dict().items()}
    fg_mod.load_state_dict(sd)


def _mha_pair(torch, dtype, *args, **kw):
    th = torch.nn.MultiheadAttention(*args, **kw, dtype=getattr(torch, np.dtype(dtype).name))
    fg = nn.MultiheadAttention(*args, **kw, dtype=getattr(fastgrad, np.dtype(dtype).name))
    assert list(fg.state_dict()) == list(th.state_dict())
    assert [tuple(v.shape) for v in fg.state_dict().values()] == [tuple(v.shape) for v in th.state_dict().values()]
    _load_from_torch(fg, th)
    return fg, th


def _mha_compare(torch, fg, th, q, k=None, v=None, dtype=np.float64, masks=None, **kw):
    """Same inputs (k, v None: self-attention, one tensor) and masks; compare both outputs,
    input gradients and parameter gradients."""
    masks = masks or {}
    arrays = [q] if k is None else [q, k, v]
    fx = [fastgrad.tensor(a, requires_grad=True) for a in arrays]
    tx = [torch.tensor(a, requires_grad=True) for a in arrays]
    fargs = fx * 3 if k is None else fx
    targs = tx * 3 if k is None else tx
    fm = {n: fastgrad.tensor(m) for n, m in masks.items()}
    tm = {n: torch.tensor(m) for n, m in masks.items()}
    fo, fw = fg(*fargs, **fm, **kw)
    to, tw = th(*targs, **tm, **kw)
    t = tol[dtype]
    assert_close(fo, to, **t)
    if tw is None:
        assert fw is None
    else:
        assert_close(fw, tw, **t)
    wo = _x(*to.shape, dtype=dtype)
    loss_f = (fo * fastgrad.tensor(wo)).sum()
    loss_t = (to * torch.tensor(wo)).sum()
    if tw is not None:
        ww = _x(*tw.shape, dtype=dtype)
        loss_f = loss_f + (fw * fastgrad.tensor(ww)).sum()
        loss_t = loss_t + (tw * torch.tensor(ww)).sum()
    loss_f.backward()
    loss_t.backward()
    for a, b in zip(fx, tx):
        assert_close(a.grad, b.grad, **t)
    for name, p in fg.named_parameters():
        tp = th.get_parameter(name)
        assert_close(p.grad, tp.grad, **t)
    return fo, fw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_self_attention(torch, dtype, batch_first, need_weights, average):
    fg, th = _mha_pair(torch, dtype, 8, 2, batch_first=batch_first)
    _mha_compare(torch, fg, th, _x(3, 5, 8, dtype=dtype), dtype=dtype, need_weights=need_weights,
                 average_attn_weights=average)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_cross_attention(torch, dtype, batch_first):
    fg, th = _mha_pair(torch, dtype, 8, 4, batch_first=batch_first)
    shp = (lambda n, b: (b, n, 8)) if batch_first else (lambda n, b: (n, b, 8))
    kv = _x(*shp(6, 2), dtype=dtype)
    # key is value (encoder-decoder attention), then three different tensors
    fx, fkv = fastgrad.tensor(_x(*shp(4, 2), dtype=dtype)), fastgrad.tensor(kv)
    tx, tkv = torch.tensor(fx.numpy()), torch.tensor(kv)
    assert_close(fg(fx, fkv, fkv)[0], th(tx, tkv, tkv)[0], **tol[dtype])
    for nw in (True, False):
        _mha_compare(torch, fg, th, _x(*shp(4, 2), dtype=dtype), _x(*shp(6, 2), dtype=dtype),
                     _x(*shp(6, 2), dtype=dtype), dtype=dtype, need_weights=nw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_kdim_vdim(torch, dtype):
    fg, th = _mha_pair(torch, dtype, 8, 2, kdim=5, vdim=3)
    assert fg.in_proj_weight is None and fg.q_proj_weight.shape == (8, 8) and fg.k_proj_weight.shape == (8, 5)
    for nw in (True, False):
        _mha_compare(torch, fg, th, _x(4, 2, 8, dtype=dtype), _x(6, 2, 5, dtype=dtype), _x(6, 2, 3, dtype=dtype),
                     dtype=dtype, need_weights=nw)


@pytest.mark.parametrize("kw", [{"bias": False}, {"add_bias_kv": True}, {"add_zero_attn": True},
                                {"add_bias_kv": True, "add_zero_attn": True}])
def test_mha_options(torch, kw):
    fg, th = _mha_pair(torch, np.float64, 8, 2, **kw)
    kpm = RNG.random((2, 5)) > 0.7
    kpm[:, 0] = False
    am = _x(4, 5)
    for nw in (True, False):
        _mha_compare(torch, fg, th, _x(4, 2, 8), _x(5, 2, 8), _x(5, 2, 8), need_weights=nw,
                     masks={"key_padding_mask": kpm, "attn_mask": am})


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks(torch, need_weights):
    fg, th = _mha_pair(torch, np.float64, 8, 2, batch_first=True)
    x = _x(3, 5, 8)
    causal = np.triu(np.full((5, 5), -np.inf), 1)
    kpm = RNG.random((3, 5)) > 0.6
    kpm[:, 0] = False
    cases = [{"attn_mask": causal}, {"attn_mask": np.triu(np.ones((5, 5), bool), 1)},
             {"attn_mask": _x(6, 5, 5)}, {"attn_mask": RNG.random((6, 5, 5)) > 0.8},
             {"key_padding_mask": kpm}, {"key_padding_mask": np.where(kpm, -np.inf, 0.0)},
             {"key_padding_mask": kpm, "attn_mask": np.triu(np.ones((5, 5), bool), 1)}]
    for masks in cases:
        fg.zero_grad()
        th.zero_grad()
        _mha_compare(torch, fg, th, x, need_weights=need_weights, masks=masks)
    for masks in [{"attn_mask": causal}, {"attn_mask": causal, "key_padding_mask": kpm}]:
        fg.zero_grad()
        th.zero_grad()
        _mha_compare(torch, fg, th, x, need_weights=need_weights, masks=masks, is_causal=True)


def test_mha_unbatched(torch):
    fg, th = _mha_pair(torch, np.float64, 8, 2)
    for nw in (True, False):
        _mha_compare(torch, fg, th, _x(4, 8), need_weights=nw, masks={"key_padding_mask": np.array([0, 0, 1, 0], bool)})
        fg.zero_grad()
        th.zero_grad()
        _mha_compare(torch, fg, th, _x(4, 8), _x(6, 8), _x(6, 8), need_weights=nw, masks={"attn_mask": _x(2, 4, 6)})


def test_mha_dropout_eval_equals_torch_and_train_differs(torch):
    fg, th = _mha_pair(torch, np.float64, 8, 2, dropout=0.5)
    fg.eval()
    th.eval()
    _mha_compare(torch, fg, th, _x(4, 2, 8))
    fg.train()
    x = fastgrad.tensor(_x(4, 2, 8))
    fg.eval()
    a = fg(x, x, x)[0].detach().numpy()
    fg.train()
    assert not np.allclose(a, fg(x, x, x)[0].detach().numpy())


def test_mha_repr_init_and_module_path(torch):
    fg = nn.MultiheadAttention(8, 2)
    th = torch.nn.MultiheadAttention(8, 2)
    assert repr(fg) == repr(th)
    assert fastgrad.nn.modules.activation.MultiheadAttention is nn.MultiheadAttention
    assert type(fg).__module__ == "fastgrad.nn.modules.activation"
    assert type(fg.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(fg.out_proj, nn.Linear)
    assert not fg.in_proj_bias.abs().sum().item() and not fg.out_proj.bias.abs().sum().item()
    bound = math.sqrt(6.0 / (8 + 24))  # xavier_uniform on (24, 8)
    w = fg.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and w.std() > 0.3 * bound
    assert fg.head_dim == 4 and fg.batch_first is False and fg.bias_k is None
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True, kdim=4, vdim=6)
    assert list(m.state_dict()) == list(torch.nn.MultiheadAttention(8, 2, add_bias_kv=True, kdim=4, vdim=6)
                                        .state_dict())


def test_mha_gradcheck():
    m = nn.MultiheadAttention(4, 2, dtype=fastgrad.float64, add_bias_kv=True)
    q = fastgrad.tensor(_x(3, 2, 4), requires_grad=True)
    kv = fastgrad.tensor(_x(5, 2, 4), requires_grad=True)
    mask = fastgrad.tensor(_x(3, 5))
    for nw in (True, False):
        f = lambda a, b: m(a, b, b, need_weights=nw, attn_mask=mask)[0]  # noqa: B023
        assert gradcheck(f, (q, kv))
        assert gradgradcheck(f, (q, kv))


def test_mha_functional(torch):
    """F.multi_head_attention_forward with the module's weights, as torch's."""
    th = torch.nn.MultiheadAttention(8, 2, dtype=torch.float64)
    fg = nn.MultiheadAttention(8, 2, dtype=fastgrad.float64)
    _load_from_torch(fg, th)
    x = _x(4, 2, 8)
    args = lambda lib, m, xx: (xx, xx, xx, 8, 2, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,  # noqa
                               m.out_proj.weight, m.out_proj.bias)
    fo, fw = F.multi_head_attention_forward(*args(fastgrad, fg, fastgrad.tensor(x)), training=False)
    to, tw = torch.nn.functional.multi_head_attention_forward(*args(torch, th, torch.tensor(x)), training=False)
    assert_close(fo, to, **tol[np.float64])
    assert_close(fw, tw, **tol[np.float64])


def _mha_error(torch, build, call=None):
    with pytest.raises(Exception) as te:
        r = build(torch)
        if call:
            call(torch, r)
    with pytest.raises(type(te.value)) as fe:
        r = build(fastgrad)
        if call:
            call(fastgrad, r)
    assert str(fe.value).replace("fastgrad.", "torch.") == str(te.value)


@pytest.mark.parametrize("args", [(10, 3), (0, 2), (8, 0), (8, -1)])
def test_mha_constructor_errors(torch, args):
    _mha_error(torch, lambda lib: lib.nn.MultiheadAttention(*args))


def _x32(lib, *shape):
    return lib.tensor(_x(*shape, dtype=np.float32))


@pytest.mark.parametrize("case", [
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8), attn_mask=lib.zeros(4, 4)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8), attn_mask=lib.zeros(3, 4, 5)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8), attn_mask=lib.zeros(4, 5).long()),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8),
                     key_padding_mask=lib.zeros(2, 5).long()),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8),
                     key_padding_mask=lib.zeros(2, 4, dtype=lib.bool)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8),
                     key_padding_mask=lib.zeros(3, 5, dtype=lib.bool)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8),
                     key_padding_mask=lib.zeros(2, 5, 1, dtype=lib.bool)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8), attn_mask=lib.zeros(1, 1, 4, 5)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 2, 8), is_causal=True),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 6, 2, 8)),
    lambda lib, m: m(_x32(lib, 4, 2, 8), _x32(lib, 5, 2, 8), _x32(lib, 5, 8)),
    lambda lib, m: m(_x32(lib, 4, 2, 6), _x32(lib, 5, 2, 6), _x32(lib, 5, 2, 6)),
    lambda lib, m: m(_x32(lib, 8), _x32(lib, 8), _x32(lib, 8)),
    lambda lib, m: m(_x32(lib, 4, 8), _x32(lib, 5, 8), _x32(lib, 5, 8), attn_mask=lib.zeros(3, 4, 5)),
])
def test_mha_forward_errors(torch, case):
    _mha_error(torch, lambda lib: lib.nn.MultiheadAttention(8, 2), case)


def test_mha_packed_self_attention_path(monkeypatch):
    """Self-attention without weights runs one PackedAttention op on the (3, N, H, L, d)
    projection; its gradients (first and second order) and tangents are right."""
    from fastgrad._ops import attention as A

    calls = []
    orig = A.PackedAttention.apply
    monkeypatch.setattr(A.PackedAttention, "apply", lambda *a: calls.append(1) or orig(*a))
    m = nn.MultiheadAttention(4, 2, dtype=fastgrad.float64, batch_first=True)
    x = fastgrad.tensor(_x(2, 3, 4), requires_grad=True)
    kpm = fastgrad.tensor(np.array([[False, False, True], [False, False, False]]))
    mask = fastgrad.tensor(_x(3, 3))
    for kw in [{}, {"attn_mask": mask}, {"key_padding_mask": kpm, "attn_mask": mask},
               {"attn_mask": nn.Transformer.generate_square_subsequent_mask(3, dtype=fastgrad.float64),
                "is_causal": True}]:
        f = lambda a: m(a, a, a, need_weights=False, **kw)[0]  # noqa: B023
        assert gradcheck(f, (x,), check_forward_ad=True)
        assert gradgradcheck(f, (x,))
    assert calls
    calls.clear()
    m(x, x, x, need_weights=True)
    m(x, fastgrad.tensor(_x(2, 3, 4)), fastgrad.tensor(_x(2, 3, 4)), need_weights=False)
    assert not calls
