"""NaN in masked-out keys and values of scaled_dot_product_attention and nn.MultiheadAttention,
against torch 2.13's CPU kernels, forward and backward, on whichever path torch takes.

torch's CPU flash kernel (4-D q, k, v of equal batch and heads, no dropout, no mask that
requires grad) writes -inf over the scores above the causal diagonal: a NaN key there
contributes nothing (finite output, finite key and value gradients; the query gradient still
multiplies the zero score gradient by the NaN key). An explicit bool or float mask is added
(NaN + -inf = NaN), and so is is_causal on the math fallback (other layouts): NaN there, as in
torch. A NaN value always reaches the output (0 * NaN in P @ V). Rows whose every key is masked
give torch's values as well."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)
MASKS = [None, "bool", "float", "bool+causal", "float+causal"]


def _mask(kind, L, S, dtype):
    bm = np.tril(np.ones((L, S), bool))
    if kind.startswith("bool"):
        return bm
    return np.where(bm, 0, -np.inf).astype(dtype)


def _both(torch, shapes, nan, dtype, mask=None, causal=False, dead_row=None, **kw):
    """fastgrad's and torch's (output, dq, dk, dv) as arrays, for inputs with NaN at `nan`."""
    q, k, v = (RNG.standard_normal(s).astype(dtype) for s in shapes)
    L, S = shapes[0][-2], shapes[1][-2]
    for which, idx in nan:
        (k if which == "k" else v)[idx] = np.nan
    m = None if mask is None else _mask(mask, L, S, dtype)
    if m is not None and dead_row is not None:
        m[dead_row] = False if m.dtype == bool else -np.inf
    w = RNG.standard_normal(shapes[0][:-1] + (shapes[2][-1],)).astype(dtype)
    out = []
    for lib in (fastgrad, torch):
        t = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        o = lib.nn.functional.scaled_dot_product_attention(*t, attn_mask=None if m is None else lib.tensor(m),
                                                          is_causal=causal, **kw)
        (o * lib.tensor(w)).sum().backward()
        out.append([o.detach().numpy()] + [x.grad.numpy() for x in t])
    return out


def _same(f, t, dtype):
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for name, a, b in zip(("out", "dq", "dk", "dv"), f, t):
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        np.testing.assert_allclose(a, b, equal_nan=True, err_msg=name, **tol)


FLASH = ((2, 3, 2, 4), (2, 3, 3, 4), (2, 3, 3, 4))
MATH = [((3, 2, 4), (3, 3, 4), (3, 3, 4)), ((2, 4), (3, 4), (3, 4))]  # torch refuses a mask with is_causal


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", ["k", "v"])
@pytest.mark.parametrize("shapes,mask", [(FLASH, m) for m in MASKS] + [(s, m) for s in MATH for m in MASKS[:3]])
def test_nan_in_masked_key_or_value(torch, shapes, which, mask, dtype):
    causal = mask is None or mask.endswith("causal")
    mk = None if mask is None else mask.split("+")[0]
    f, t = _both(torch, shapes, [(which, (..., 2, 0))], dtype, mask=mk, causal=causal)
    _same(f, t, dtype)


def test_causal_flash_nan_key_contributes_nothing(torch):
    f, t = _both(torch, ((2, 3, 2, 4), (2, 3, 3, 4), (2, 3, 3, 4)), [("k", (..., 2, 1))], np.float64, causal=True)
    _same(f, t, np.float64)
    out, dq, dk, dv = f
    assert np.isfinite(out).all() and np.isfinite(dk).all() and np.isfinite(dv).all()
    assert not dk[..., 2, :].any() and not dv[..., 2, :].any()  # the masked key gets exactly nothing
    assert np.isnan(dq[..., 1]).all() and np.isfinite(np.delete(dq, 1, -1)).all()  # 0 * NaN in dS @ K, as torch


@pytest.mark.parametrize("L,S,pos", [(64, 80, 70), (200, 200, 150), (140, 140, 139)])
def test_causal_flash_nan_key_long(torch, L, S, pos):
    """Longer sequences (fastgrad's causal row blocks): a NaN key seen by rows pos.. only."""
    f, t = _both(torch, ((1, 2, L, 8), (1, 2, S, 8), (1, 2, S, 8)), [("k", (..., pos, 0))], np.float64, causal=True)
    for name, a, b in zip(("out", "dk", "dv"), [f[0], f[2], f[3]], [t[0], t[2], t[3]]):
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, equal_nan=True)


@pytest.mark.parametrize("mask", ["bool", "float"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("nan", [[], [("k", (..., 3, 0))], [("k", (..., 3, 0)), ("v", (..., 1, 1))]])
def test_fully_masked_row(torch, mask, causal, nan):
    """A row whose every key is masked: torch 2.13's CPU output (zeros without NaN), with and
    without NaN keys / values elsewhere."""
    f, t = _both(torch, ((1, 2, 3, 4), (1, 2, 4, 4), (1, 2, 4, 4)), nan, np.float64, mask=mask, causal=causal,
                 dead_row=1)
    _same(f, t, np.float64)
    if not nan:
        assert not f[0][..., 1, :].any() and all(np.isfinite(a).all() for a in f)


def test_math_fallback_layouts_add_the_causal_mask(torch):
    """Heads broadcast, batch broadcast, value dim differing, 5-D: torch's math path, NaN + -inf."""
    for shapes in [((1, 2, 2, 4), (1, 1, 3, 4), (1, 1, 3, 4)), ((2, 2, 2, 4), (1, 2, 3, 4), (1, 2, 3, 4)),
                   ((1, 2, 2, 4), (1, 2, 3, 4), (1, 2, 3, 5)), ((1, 1, 2, 2, 4), (1, 1, 2, 3, 4), (1, 1, 2, 3, 4))]:
        f, t = _both(torch, shapes, [("k", (..., 2, 0))], np.float64, causal=True)
        _same(f, t, np.float64)
    f, t = _both(torch, ((1, 4, 2, 4), (1, 2, 3, 4), (1, 2, 3, 4)), [("k", (..., 2, 0))], np.float64, causal=True,
                 enable_gqa=True)  # GQA: flash
    _same(f, t, np.float64)
    assert np.isfinite(f[0]).all()


def test_causal_mask_on_broadcast_heads_is_refused_as_torch(torch):
    def run(lib):
        q, k, v = lib.zeros(1, 2, 2, 4), lib.zeros(1, 1, 3, 4), lib.zeros(1, 1, 3, 4)
        return lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=lib.zeros(2, 3), is_causal=True)

    with pytest.raises(RuntimeError) as te:
        run(torch)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True") as fe:
        run(fastgrad)
    assert str(te.value).startswith(str(fe.value))


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("grad", [False, True])
def test_mha_causal_hint_nan_key(torch, need_weights, grad):
    """nn.MultiheadAttention(is_causal=True, attn_mask=causal): with need_weights=False torch runs
    the flash kernel (NaN key above the diagonal: finite), else the math path (NaN)."""
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    fm = fastgrad.nn.MultiheadAttention(8, 2, batch_first=True, dtype=fastgrad.float64)
    fm.load_state_dict({k: fastgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    q, k, v = RNG.standard_normal((2, 3, 8)), RNG.standard_normal((2, 4, 8)), RNG.standard_normal((2, 4, 8))
    k[:, 3, 0] = np.nan
    am = np.triu(np.ones((3, 4), bool), 1)
    res = []
    for lib, m in ((torch, tm), (fastgrad, fm)):
        t = [lib.tensor(a, requires_grad=grad) for a in (q, k, v)]
        o, _ = m(*t, need_weights=need_weights, attn_mask=lib.tensor(am), is_causal=True)
        r = [o.detach().numpy()]
        if grad:
            o.sum().backward()
            r += [x.grad.numpy() for x in t]
        res.append(r)
    for a, b in zip(*res):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11, equal_nan=True)
    assert np.isfinite(res[1][0]).all() == (not need_weights)


def test_causal_flash_gradcheck():
    q = fastgrad.tensor(RNG.standard_normal((1, 2, 3, 4)), requires_grad=True)
    k = fastgrad.tensor(RNG.standard_normal((1, 2, 5, 4)), requires_grad=True)
    v = fastgrad.tensor(RNG.standard_normal((1, 2, 5, 4)), requires_grad=True)
    m = fastgrad.tensor(RNG.random((3, 5)) > 0.3)
    for kw in ({"is_causal": True}, {"is_causal": True, "attn_mask": m}):
        f = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **kw)  # noqa: E731
        assert gradcheck(f, (q, k, v), check_forward_ad=True)
        assert gradgradcheck(f, (q, k, v))


def test_causal_flash_nan_key_double_backward():
    """create_graph (torch's flash kernel has no double backward): the differentiable backward
    writes -inf too, so a NaN key above the diagonal gives the same key / value gradients and
    second derivatives as any finite key there."""
    a = [RNG.standard_normal(s) for s in ((1, 2, 2, 4), (1, 2, 3, 4), (1, 2, 3, 4))]
    res = []
    for fill in (np.nan, 0.5):
        a[1][..., 2, 0] = fill
        q, k, v = (fastgrad.tensor(x, requires_grad=True) for x in a)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        gk, gv = fastgrad.autograd.grad((o * o).sum(), (k, v), create_graph=True)
        g2 = fastgrad.autograd.grad(gk.sum() + (gv * gv).sum(), (v,))  # q's: 0 * NaN in dS @ K, as first order
        res.append([o.detach().numpy(), gk.detach().numpy(), gv.detach().numpy(), g2[0].numpy()])
    for f, t in zip(*res):
        assert np.isfinite(f).all()
        np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-14)
