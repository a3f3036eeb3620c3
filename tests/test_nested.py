"""fastgrad.nested against torch.nested: outputs (through to_padded_tensor and unbind), the gradients of the
components, metadata, and torch's errors, for both layouts."""
import re
import warnings

import numpy as np
import pytest

import fastgrad
import fastgrad.nested  # noqa: F401  (import fastgrad.nested works)
import fastgrad.nn.functional as F

LAYOUTS = ["strided", "jagged"]


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


class Pair:
    """The same nested input in fastgrad and torch: components from float64 arrays."""

    def __init__(self, torch, layout, shapes, seed=0, dtype="float64"):
        rng = np.random.default_rng(seed)
        self.arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
        self.torch = torch
        self.layout = layout
        self.fg = [fastgrad.tensor(a, requires_grad=True) for a in self.arrays]
        self.th = [torch.tensor(a, requires_grad=True) for a in self.arrays]

    def nested(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return (fastgrad.nested.as_nested_tensor(self.fg, layout=getattr(fastgrad, self.layout)),
                    self.torch.nested.as_nested_tensor(self.th, layout=getattr(self.torch, self.layout)))

    def check(self, fn_fg, fn_th=None, atol=1e-10, grads=True):
        """fn applied to the nested pair: equal outputs (components) and component gradients."""
        a, b = self.nested()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out_fg, out_th = fn_fg(a), (fn_th or fn_fg)(b)
        comps_fg = out_fg.unbind() if getattr(out_fg, "is_nested", False) else [out_fg]
        comps_th = out_th.unbind() if getattr(out_th, "is_nested", False) else [out_th]
        assert getattr(out_fg, "is_nested", False) == getattr(out_th, "is_nested", False)
        assert len(comps_fg) == len(comps_th)
        for x, y in zip(comps_fg, comps_th):
            assert tuple(x.shape) == tuple(y.shape)
            np.testing.assert_allclose(_np(x), _np(y), atol=atol, rtol=1e-9)
        if not grads:
            return out_fg, out_th
        rng = np.random.default_rng(1)
        ws = [rng.standard_normal(tuple(y.shape)) for y in comps_th]
        loss_fg = sum((x * fastgrad.tensor(w)).sum() for x, w in zip(comps_fg, ws))
        loss_th = sum((y * self.torch.tensor(w)).sum() for y, w in zip(comps_th, ws))
        loss_fg.backward()
        loss_th.backward()
        for x, y in zip(self.fg, self.th):
            assert (x.grad is None) == (y.grad is None)
            if y.grad is not None:
                np.testing.assert_allclose(_np(x.grad), _np(y.grad), atol=atol, rtol=1e-9)
        return out_fg, out_th


def _error(fn_fg, fn_th):
    """Both raise the same exception type with the same message (fastgrad. for torch.)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as th:
            fn_th()
        with pytest.raises(Exception) as fg:
            fn_fg()
    assert type(fg.value).__name__ == type(th.value).__name__, (fg.value, th.value)
    msg_th = re.sub(r"j\d+", "j", str(th.value).replace("torch.", "fastgrad."))
    assert re.sub(r"j\d+", "j", str(fg.value))[:90] == msg_th[:90]


# ------------------------------------------------------------------ construction and metadata
@pytest.mark.parametrize("layout", LAYOUTS)
def test_nested_tensor_metadata(torch, layout):
    arrays = [np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(4, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = torch.nested.nested_tensor([torch.tensor(x) for x in arrays], layout=getattr(torch, layout),
                                       requires_grad=True)
    a = fastgrad.nested.nested_tensor([fastgrad.tensor(x) for x in arrays], layout=getattr(fastgrad, layout),
                                      requires_grad=True)
    assert a.is_nested and b.is_nested and not fastgrad.ones(2).is_nested
    assert isinstance(a, fastgrad.Tensor)
    assert str(a.layout) == str(b.layout).replace("torch.", "fastgrad.")
    assert a.dim() == b.dim() == a.ndim
    assert a.size(0) == b.size(0) and a.size(2) == b.size(2) == a.size(-1)
    assert a.is_leaf and b.is_leaf and a.requires_grad
    assert a.dtype == fastgrad.float64 and a.numel() == b.numel()
    for x, y in zip(a.unbind(), b.unbind()):
        np.testing.assert_array_equal(_np(x), _np(y))
    np.testing.assert_array_equal(_np(a[1]), _np(b[1]))
    if layout == "jagged":
        assert len(a.shape) == 3 and repr(a.shape[1]).startswith("j") and a.shape[2] == 3
        np.testing.assert_array_equal(_np(a.values()), _np(b.values()))
        np.testing.assert_array_equal(_np(a.offsets()), _np(b.offsets()))
        assert a.lengths() is None and a._ragged_idx == b._ragged_idx == 1
        assert repr(a).startswith("NestedTensor(size=(2, j") and "offsets=tensor([0, 2, 6])" in repr(a)
    else:
        assert repr(a).replace("fastgrad.", "torch.") == repr(b)
        _error(lambda: a.size(1), lambda: b.size(1))
        _error(lambda: a.size(), lambda: b.size())
    _error(lambda: a.size(3), lambda: b.size(3))
    _error(lambda: a.unbind(1), lambda: b.unbind(1))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_leaf_gradients(torch, layout):
    """nested_tensor(..., requires_grad=True) is a leaf; its .grad is nested, equal to torch's."""
    arrays = [np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0, 2, 12).reshape(4, 3)]
    a = fastgrad.nested.nested_tensor([fastgrad.tensor(x) for x in arrays], layout=getattr(fastgrad, layout),
                                      requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = torch.nested.nested_tensor([torch.tensor(x) for x in arrays], layout=getattr(torch, layout),
                                       requires_grad=True)
    for t, lib in ((a, fastgrad), (b, torch)):
        out = (t * 3.0).softmax(-1)
        out.backward(t.detach() * 2.0)  # a gradient of the same structure
    for x, y in zip(a.grad.unbind(), b.grad.unbind()):
        np.testing.assert_allclose(_np(x), _np(y), atol=1e-12)
    assert a.grad.is_nested


@pytest.mark.parametrize("layout", LAYOUTS)
def test_as_nested_tensor_from_tensor_and_list(torch, layout):
    p = Pair(torch, layout, [(3, 4), (5, 4)])
    a, b = p.nested()
    assert not a.is_leaf and a.requires_grad
    p.check(lambda nt: nt * 2.0)
    x = np.random.default_rng(2).standard_normal((3, 4, 5))
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = torch.nested.as_nested_tensor(tx, layout=getattr(torch, layout))
    a = fastgrad.nested.as_nested_tensor(fx, layout=getattr(fastgrad, layout))
    assert a.size(1) == b.size(1) if layout == "strided" else a.size(2) == b.size(2)
    torch.nested.to_padded_tensor(b * b, 0.0).sum().backward()
    fastgrad.nested.to_padded_tensor(a * a, 0.0).sum().backward()
    np.testing.assert_allclose(_np(fx.grad), _np(tx.grad))
    if layout == "jagged":
        np.testing.assert_array_equal(_np(a.offsets()), _np(b.offsets()))


def test_construction_errors(torch):
    f2, t2 = fastgrad.randn(2, 3), torch.randn(2, 3)
    f1, t1 = fastgrad.randn(3), torch.randn(3)
    fn, tn = fastgrad.nested, torch.nested
    cases = [
        (lambda m, x, y: m.nested.nested_tensor([x, y])),
        (lambda m, x, y: m.nested.nested_tensor([x, y], layout=m.jagged)),
        (lambda m, x, y: m.nested.nested_tensor([], layout=m.jagged)),
        (lambda m, x, y: m.nested.nested_tensor([x], layout=m.sparse_coo)),
        (lambda m, x, y: m.nested.as_nested_tensor(y)),
        (lambda m, x, y: m.nested.as_nested_tensor(5)),
        (lambda m, x, y: m.nested.nested_tensor([x, m.randn(4, 5)], layout=m.jagged)),
        (lambda m, x, y: m.nested.as_nested_tensor(m.nested.nested_tensor([x, x]), layout=m.jagged)),
        (lambda m, x, y: m.nested.nested_tensor_from_jagged(m.randn(6, 3))),
        (lambda m, x, y: m.nested.nested_tensor_from_jagged(m.randn(6, 3), m.tensor([0, 2, 6]), jagged_dim=0)),
        (lambda m, x, y: m.nested.narrow(m.randn(3, 5, 2), 1, 0, 2)),
        (lambda m, x, y: m.nested.narrow(m.randn(3, 5, 2), 1, m.tensor([0, 1, 2]), 2)),
        (lambda m, x, y: m.nested.narrow(m.randn(3, 5, 2), 2, 0, 1, layout=m.jagged)),
    ]
    for case in cases:
        _error(lambda: case(fastgrad, f2, f1), lambda: case(torch, t2, t1))
    assert fn.__all__ == tn.__all__


# ------------------------------------------------------------------ pointwise
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", ["abs", "neg", "sin", "cos", "tanh", "relu", "exp", "sigmoid", "silu", "gelu"])
def test_unary(torch, layout, op):
    p = Pair(torch, layout, [(2, 3), (4, 3)])
    fn = {"gelu": lambda m: m.nn.functional.gelu, "silu": lambda m: m.nn.functional.silu}.get(
        op, lambda m: lambda t: getattr(t, op)())
    a, b = p.nested()
    if layout == "strided" and op in ("exp", "sigmoid"):
        _error(lambda: fn(fastgrad)(a), lambda: fn(torch)(b))
        return
    # torch's strided layout has no backward for tanh (aten::tanh_backward): outputs only
    p.check(lambda t: fn(fastgrad if isinstance(t, fastgrad.Tensor) else torch)(t),
            grads=not (layout == "strided" and op == "tanh"))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_binary_nested_and_scalar(torch, layout):
    p = Pair(torch, layout, [(2, 3), (4, 3)])
    p.check(lambda t: (t + t) * t - t / 2.0 + 1.5)
    p.check(lambda t: 2.0 * t)
    p.check(lambda t: (t * t).div(t.abs() + 1.0))
    if layout == "jagged":
        p.check(lambda t: 1.0 - t ** 2 + 2.0 / (t.abs() + 1.0))
        p.check(lambda t: (t > 0) * t)
    p.check(lambda t: (fastgrad if isinstance(t, fastgrad.Tensor) else torch).add(t, t, alpha=2))
    p.check(lambda t: t.masked_fill(t > 0, 0.0))


def test_binary_with_dense_jagged_broadcasts(torch):
    p = Pair(torch, "jagged", [(3, 2, 4), (5, 2, 4)])
    w = np.random.default_rng(3).standard_normal((2, 4))
    row = np.random.default_rng(4).standard_normal((2, 1, 1, 1))
    lib = lambda t: fastgrad if isinstance(t, fastgrad.Tensor) else torch  # noqa: E731
    p.check(lambda t: t * lib(t).tensor(w))
    p.check(lambda t: t + lib(t).tensor(row))
    p.check(lambda t: lib(t).tensor(w) * t - lib(t).tensor(w))  # the dense operand first


def test_binary_errors(torch):
    fa, ta = fastgrad.randn(2, 3), torch.randn(2, 3)
    fb, tb = fastgrad.randn(4, 3), torch.randn(4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = torch.nested.nested_tensor([ta, tb])
        tj = torch.nested.nested_tensor([ta, tb], layout=torch.jagged)
        tj2 = torch.nested.nested_tensor([ta, tb], layout=torch.jagged)
        ts2 = torch.nested.nested_tensor([ta, ta])
    fs, fs2 = fastgrad.nested.nested_tensor([fa, fb]), fastgrad.nested.nested_tensor([fa, fa])
    fj, fj2 = (fastgrad.nested.nested_tensor([fa, fb], layout=fastgrad.jagged) for _ in range(2))
    _error(lambda: fs + fa, lambda: ts + ta)
    _error(lambda: fs + fs2, lambda: ts + ts2)
    _error(lambda: fs.exp(), lambda: ts.exp())
    _error(lambda: fs ** 2, lambda: ts ** 2)
    _error(lambda: fs == fs, lambda: ts == ts)
    with pytest.raises(RuntimeError, match="cannot call binary pointwise function add.Tensor"):
        fj + fj2
    with pytest.raises(RuntimeError, match="cannot call binary pointwise function add.Tensor"):
        tj + tj2
    _error(lambda: fs.cumsum(1), lambda: ts.cumsum(1))
    with pytest.raises(NotImplementedError):
        fastgrad.cumsum(fs, 1)


# ------------------------------------------------------------------ reductions, softmax, shapes
def _per(fn):
    """torch's reference for a jagged op whose backward torch lacks: fn on each component, nested again."""
    return lambda t: t.__class__.__module__ and __import__("torch").nested.as_nested_tensor(
        [fn(c) for c in t.unbind()], layout=t.layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sum_mean(torch, layout):
    p = Pair(torch, layout, [(3, 2, 4), (5, 2, 4)])
    p.check(lambda t: t.sum(-1, keepdim=True), grads=layout == "strided")
    p.check(lambda t: t.sum(-1, keepdim=True), _per(lambda c: c.sum(-1, keepdim=True)))
    a, b = p.nested()
    if layout == "strided":
        for fn in (lambda t: t.sum(-1), lambda t: t.sum(2), lambda t: t.sum((2, 3), keepdim=True),
                   lambda t: t.mean(-1), lambda t: t.sum()):
            _error(lambda: fn(a), lambda: fn(b))
        return
    p.check(lambda t: t.sum(2), _per(lambda c: c.sum(1)))
    p.check(lambda t: t.sum(2), grads=False)
    p.check(lambda t: t.mean(-1))
    p.check(lambda t: t.mean(2, keepdim=True))
    p.check(lambda t: t.sum(1), grads=False)  # the ragged dim: dense (torch: no backward)
    p.check(lambda t: t.mean(1, keepdim=True), grads=False)
    p.check(lambda t: t.sum(1), lambda t: torch.stack([c.sum(0) for c in t.unbind()]))
    p.check(lambda t: t.mean(1), lambda t: torch.stack([c.mean(0) for c in t.unbind()]))
    p.check(lambda t: t.sum())
    p.check(lambda t: t.mean((0, 1)), grads=False)  # torch: no backward; the mean of the values instead
    p.check(lambda t: t.mean((0, 1)), lambda t: t.values().mean(0))
    for fn in (lambda t: t.sum(0), lambda t: t.sum((1, 2))):
        _error(lambda: fn(a), lambda: fn(b))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax(torch, layout):
    p = Pair(torch, layout, [(3, 2, 4), (5, 2, 4)])
    p.check(lambda t: t.softmax(-1))
    # torch's jagged softmax backward over a dim other than the last is wrong (it passes the nested dim to the
    # values): the gradients are checked against torch's softmax of each component
    per = lambda d: lambda t: torch.nested.as_nested_tensor([c.softmax(d - 1) for c in t.unbind()],  # noqa: E731
                                                             layout=t.layout)
    p.check(lambda t: t.softmax(2), per(2))
    p.check(lambda t: t.softmax(2), grads=layout == "strided")
    p.check(lambda t: (F if isinstance(t, fastgrad.Tensor) else torch.nn.functional).softmax(t, dim=-1))
    p.check(lambda t: t.softmax(1), per(1))  # the ragged dim: within each component
    p.check(lambda t: t.softmax(1), grads=layout == "strided")
    if layout == "jagged":
        p.check(lambda t: t.log_softmax(-1), grads=False)  # torch: no jagged log_softmax backward
        p.check(lambda t: t.log_softmax(-1), _per(lambda c: c.log_softmax(-1)))
    a, b = p.nested()
    _error(lambda: a.softmax(0), lambda: b.softmax(0))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_transpose_reshape_view(torch, layout):
    p = Pair(torch, layout, [(3, 2, 4), (5, 2, 4)])
    p.check(lambda t: t.transpose(2, 3) * 1.0)
    p.check(lambda t: t.transpose(1, 2).transpose(1, 2) + 0.0)
    p.check(lambda t: t.reshape(2, -1, 8))
    p.check(lambda t: t.view(2, -1, 4, 2))
    a, b = p.nested()
    assert a.transpose(1, 2).is_contiguous() == b.transpose(1, 2).is_contiguous()
    _error(lambda: a.transpose(0, 1), lambda: b.transpose(0, 1))
    if layout == "jagged":
        assert a.transpose(1, 2)._ragged_idx == 2
        np.testing.assert_allclose(_np(a.transpose(1, 2).values()), _np(b.transpose(1, 2).values()))
        _error(lambda: a.reshape(2, 3, 8), lambda: b.reshape(2, 3, 8))
        _error(lambda: a.transpose(1, 2).view(2, 2, -1, 4), lambda: b.transpose(1, 2).view(2, 2, -1, 4))
    else:
        _error(lambda: a.reshape(-1, 8), lambda: b.reshape(-1, 8))


# ------------------------------------------------------------------ products and layers
@pytest.mark.parametrize("layout", LAYOUTS)
def test_matmul_bmm(torch, layout):
    p = Pair(torch, layout, [(3, 2, 4), (5, 2, 4)])
    p.check(lambda t: t.matmul(t.transpose(2, 3)))
    w = np.random.default_rng(5).standard_normal((4, 5))
    lib = lambda t: fastgrad if isinstance(t, fastgrad.Tensor) else torch  # noqa: E731
    p.check(lambda t: t @ lib(t).tensor(w))
    p.check(lambda t: lib(t).matmul(t, lib(t).tensor(w)))
    p3 = Pair(torch, layout, [(2, 3), (4, 3)])
    a, b = p3.nested()
    _error(lambda: fastgrad.bmm(a.unsqueeze(1) if False else p.nested()[0], a), lambda: torch.bmm(p.nested()[1], b))
    if layout == "strided":
        p3.check(lambda t: t @ t.transpose(1, 2))
        p3.check(lambda t: lib(t).bmm(t, t.transpose(1, 2)))
        m = np.random.default_rng(6).standard_normal((2, 3, 5))
        p3.check(lambda t: t.bmm(lib(t).tensor(m)))
        _error(lambda: a @ fastgrad.randn(3, 5), lambda: b @ torch.randn(3, 5))
    else:
        _error(lambda: a @ a.transpose(1, 2), lambda: b @ b.transpose(1, 2))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear(torch, layout):
    shapes = [(3, 4), (5, 4)] if layout == "strided" else [(3, 2, 4), (5, 2, 4)]
    p = Pair(torch, layout, shapes)
    rng = np.random.default_rng(7)
    w, bias = rng.standard_normal((3, 4)), rng.standard_normal(3)
    fw, fb = fastgrad.tensor(w, requires_grad=True), fastgrad.tensor(bias, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(bias, requires_grad=True)
    p.check(lambda t: F.linear(t, fw, fb) if isinstance(t, fastgrad.Tensor) else torch.nn.functional.linear(t, tw, tb))
    np.testing.assert_allclose(_np(fw.grad), _np(tw.grad), atol=1e-10)
    np.testing.assert_allclose(_np(fb.grad), _np(tb.grad), atol=1e-10)
    lin_f = fastgrad.nn.Linear(4, 6, dtype=fastgrad.float64)
    lin_t = torch.nn.Linear(4, 6, dtype=torch.float64)
    with torch.no_grad():
        lin_t.weight.copy_(torch.tensor(lin_f.weight.detach().numpy()))
        lin_t.bias.copy_(torch.tensor(lin_f.bias.detach().numpy()))
    p.check(lambda t: lin_f(t) if isinstance(t, fastgrad.Tensor) else lin_t(t))
    np.testing.assert_allclose(_np(lin_f.weight.grad), _np(lin_t.weight.grad), atol=1e-10)
    a, b = p.nested()
    _error(lambda: F.linear(a, fastgrad.randn(3, 5, dtype=fastgrad.float64)),
           lambda: torch.nn.functional.linear(b, torch.randn(3, 5, dtype=torch.float64)))
    if layout == "strided":
        q = Pair(torch, layout, [(3, 2, 4), (5, 2, 4)]).nested()
        _error(lambda: lin_f(q[0]), lambda: lin_t(q[1]))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_scaled_dot_product_attention(torch, layout):
    """Nested q/k/v (B, j, H, D): jagged as (B, H, j, D) after transpose (attention over each sequence), strided
    as given (contiguous); outputs and the q/k/v components' gradients equal torch's."""
    shapes = [(3, 2, 8), (5, 2, 8), (4, 2, 8)]
    pq, pk, pv = (Pair(torch, layout, shapes, seed=s) for s in (10, 11, 12))
    qf, qt = pq.nested()
    kf, kt = pk.nested()
    vf, vt = pv.nested()
    tr = (lambda t: t.transpose(1, 2)) if layout == "jagged" else (lambda t: t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        of = tr(F.scaled_dot_product_attention(tr(qf), tr(kf), tr(vf)))
        ot = tr(torch.nn.functional.scaled_dot_product_attention(tr(qt), tr(kt), tr(vt)))
    pf = fastgrad.nested.to_padded_tensor(of, 0.0)
    pt = torch.nested.to_padded_tensor(ot, 0.0)
    np.testing.assert_allclose(_np(pf), _np(pt), atol=1e-10)
    w = np.random.default_rng(13).standard_normal(tuple(pt.shape))
    (pf * fastgrad.tensor(w)).sum().backward()
    (pt * torch.tensor(w)).sum().backward()
    for pair in (pq, pk, pv):
        for x, y in zip(pair.fg, pair.th):
            np.testing.assert_allclose(_np(x.grad), _np(y.grad), atol=1e-10)
    # each component's attention is the dense one
    ref = torch.nn.functional.scaled_dot_product_attention(*(tr(t.unsqueeze(0))[0] for t in (qt.unbind()[1],
                                                                                            kt.unbind()[1],
                                                                                            vt.unbind()[1])))
    np.testing.assert_allclose(_np(of.unbind()[1]), _np(tr(ref.unsqueeze(0))[0]), atol=1e-10)
    mask_f, mask_t = fastgrad.ones(2, 2, dtype=fastgrad.bool), torch.ones(2, 2, dtype=torch.bool)
    _error(lambda: F.scaled_dot_product_attention(tr(qf), tr(kf), tr(vf), attn_mask=mask_f),
           lambda: torch.nn.functional.scaled_dot_product_attention(tr(qt), tr(kt), tr(vt), attn_mask=mask_t))
    if layout == "strided":
        _error(lambda: F.scaled_dot_product_attention(qf.transpose(1, 2), kf.transpose(1, 2), vf.transpose(1, 2)),
               lambda: torch.nn.functional.scaled_dot_product_attention(qt.transpose(1, 2), kt.transpose(1, 2),
                                                                        vt.transpose(1, 2)))


# ------------------------------------------------------------------ padding, narrow, from_jagged, masked_select
@pytest.mark.parametrize("layout", LAYOUTS)
def test_to_padded_tensor(torch, layout):
    p = Pair(torch, layout, [(2, 3), (4, 3)])
    lib = lambda t: fastgrad if isinstance(t, fastgrad.Tensor) else torch  # noqa: E731
    p.check(lambda t: lib(t).nested.to_padded_tensor(t, 0.5))
    # torch's strided backward of to_padded_tensor with a larger output_size fails: outputs only there
    p.check(lambda t: lib(t).nested.to_padded_tensor(t * 2, -1.0, (2, 5, 4)), grads=layout == "jagged")
    p.check(lambda t: t.to_padded_tensor(0.0))
    a, b = p.nested()
    if layout == "strided":
        _error(lambda: fastgrad.nested.to_padded_tensor(a, 0.0, (2, 2, 2)),
               lambda: torch.nested.to_padded_tensor(b, 0.0, (2, 2, 2)))
        p.check(lambda t: lib(t).nested.to_padded_tensor(t, 0.0, (3, 5, 4)), grads=False)
    _error(lambda: fastgrad.nested.to_padded_tensor(fastgrad.randn(2, 3), 0.0),
           lambda: torch.nested.to_padded_tensor(torch.randn(2, 3), 0.0))


def test_nested_tensor_from_jagged(torch):
    v = np.random.default_rng(8).standard_normal((6, 3))
    fv, tv = fastgrad.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    for kwargs in ({"offsets": [0, 2, 6]}, {"lengths": [2, 4]}, {"offsets": [0, 2, 3, 6], "lengths": [1, 1, 2]}):
        fk = {k: fastgrad.tensor(x) for k, x in kwargs.items()}
        tk = {k: torch.tensor(x) for k, x in kwargs.items()}
        a = fastgrad.nested.nested_tensor_from_jagged(fv, **fk)
        b = torch.nested.nested_tensor_from_jagged(tv, **tk)
        assert a.layout == fastgrad.jagged and a.is_contiguous() == b.is_contiguous()
        for x, y in zip(a.unbind(), b.unbind()):
            np.testing.assert_array_equal(_np(x), _np(y))
        np.testing.assert_array_equal(_np(a.offsets()), _np(b.offsets()))
        assert (a.lengths() is None) == (b.lengths() is None)
        np.testing.assert_array_equal(_np(a.values()), _np(b.values()))
        sum(c.sum() for c in a.sin().unbind()).backward()
        sum(c.sum() for c in b.sin().unbind()).backward()
        if len(kwargs) == 2:  # holes
            _error(lambda: fastgrad.nested.to_padded_tensor(a, 0.0), lambda: torch.nested.to_padded_tensor(b, 0.0))
        np.testing.assert_allclose(_np(fv.grad), _np(tv.grad), atol=1e-12)
    v2 = np.random.default_rng(9).standard_normal((3, 6))
    a = fastgrad.nested.nested_tensor_from_jagged(fastgrad.tensor(v2), fastgrad.tensor([0, 2, 6]), jagged_dim=2)
    b = torch.nested.nested_tensor_from_jagged(torch.tensor(v2), torch.tensor([0, 2, 6]), jagged_dim=2)
    assert a._ragged_idx == b._ragged_idx == 2 and a.size(1) == b.size(1) == 3
    for x, y in zip(a.unbind(), b.unbind()):
        np.testing.assert_array_equal(_np(x), _np(y))


def test_narrow_and_masked_select(torch):
    x = np.random.default_rng(10).standard_normal((3, 5, 2))
    fx, tx = fastgrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a = fastgrad.nested.narrow(fx, 1, fastgrad.tensor([0, 1, 2]), fastgrad.tensor([2, 3, 1]), layout=fastgrad.jagged)
    b = torch.nested.narrow(tx, 1, torch.tensor([0, 1, 2]), torch.tensor([2, 3, 1]), layout=torch.jagged)
    assert a.is_contiguous() == b.is_contiguous() is False
    np.testing.assert_array_equal(_np(a.offsets()), _np(b.offsets()))
    for u, v in zip(a.unbind(), b.unbind()):
        np.testing.assert_array_equal(_np(u), _np(v))
    sum((c ** 2).sum() for c in a.unbind()).backward()
    sum((c ** 2).sum() for c in b.unbind()).backward()
    np.testing.assert_allclose(_np(fx.grad), _np(tx.grad))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bs = torch.nested.narrow(tx, 0, 1, 2)
    a_s = fastgrad.nested.narrow(fx, 0, 1, 2)
    assert len(a_s.unbind()) == len(bs.unbind()) == 2
    m = np.array([[False, True, True], [True, False, False], [False, False, False]])
    y = np.random.default_rng(11).standard_normal((3, 3))
    a = fastgrad.nested.masked_select(fastgrad.tensor(y), fastgrad.tensor(m))
    b = torch.nested.masked_select(torch.tensor(y), torch.tensor(m))
    np.testing.assert_array_equal(_np(a.offsets()), _np(b.offsets()))
    for u, v in zip(a.unbind(), b.unbind()):
        np.testing.assert_array_equal(_np(u), _np(v))


def test_api_names(torch):
    import fastgrad.nested as fn

    assert sorted(fn.__all__) == sorted(torch.nested.__all__)
    assert fastgrad.jagged == "jagged" and repr(fastgrad.jagged) == "fastgrad.jagged"


def test_attention_block_on_jagged_batch(torch):
    """A self-attention block over a jagged batch as users write it (projections, view into heads, SDPA,
    heads merged, output projection): outputs and the gradients of the inputs and all weights equal torch's."""
    shapes = [(3, 8), (6, 8), (1, 8)]
    p = Pair(torch, "jagged", shapes, seed=20)
    rng = np.random.default_rng(21)
    ws = {k: rng.standard_normal((8, 8)) * 0.3 for k in ("q", "k", "v", "o")}
    fw = {k: fastgrad.tensor(v, requires_grad=True) for k, v in ws.items()}
    tw = {k: torch.tensor(v, requires_grad=True) for k, v in ws.items()}

    def block(x, w, lib):
        fn = lib.nn.functional
        heads = [fn.linear(x, w[k]).view(3, -1, 2, 4).transpose(1, 2) for k in ("q", "k", "v")]
        att = fn.scaled_dot_product_attention(*heads).transpose(1, 2).reshape(3, -1, 8)
        return fn.linear(fn.gelu(att), w["o"])

    p.check(lambda t: block(t, fw, fastgrad) if isinstance(t, fastgrad.Tensor) else block(t, tw, torch))
    for k in ws:
        np.testing.assert_allclose(_np(fw[k].grad), _np(tw[k].grad), atol=1e-10)


# --------------------------------------------------------------------------- holes (offsets and lengths)
def _holes(lib, v):
    """The jagged tensor with holes of rows [0:2] and [3:6] of v (offsets 0, 3, 6; lengths 2, 3)."""
    return lib.nested.nested_tensor_from_jagged(v, lib.tensor([0, 3, 6]), lengths=lib.tensor([2, 3]))


HOLES_OPS = {  # name -> fn(lib, nt) for an op torch 2.13 runs on a jagged tensor with holes
    "relu": lambda L, x: L.nn.functional.relu(x), "gelu": lambda L, x: L.nn.functional.gelu(x),
    "silu": lambda L, x: L.nn.functional.silu(x), "tanh": lambda L, x: L.tanh(x),
    "sigmoid": lambda L, x: L.sigmoid(x), "exp": lambda L, x: L.exp(x), "abs": lambda L, x: L.abs(x),
    "neg": lambda L, x: L.neg(x), "sin_method": lambda L, x: x.sin(), "scalar": lambda L, x: x * 2.0 + 1.0,
    "nt+nt": lambda L, x: x + x * x, "dense": lambda L, x: x * L.tensor([2.0, -1.0, 0.5, 3.0], dtype=L.float64),
    "pow": lambda L, x: L.pow(x, 2), "clamp": lambda L, x: L.clamp(x, -0.5, 0.5),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x, 0.2), "elu": lambda L, x: L.nn.functional.elu(x),
    "softplus": lambda L, x: L.nn.functional.softplus(x), "relu6": lambda L, x: L.nn.functional.relu6(x),
    "softmax": lambda L, x: L.nn.functional.softmax(x, -1), "log_softmax": lambda L, x: x.log_softmax(-1),
    "sum-1": lambda L, x: x.sum(-1), "sum-1k": lambda L, x: x.sum(-1, keepdim=True), "mean-1": lambda L, x: x.mean(-1),
    "transpose": lambda L, x: x.transpose(1, 2), "unsqueeze": lambda L, x: x.unsqueeze(-1),
    "clone": lambda L, x: x.clone(), "to": lambda L, x: x.to(L.float32), "masked_fill": lambda L, x: x.masked_fill(
        x > 0, 0.0), "where": lambda L, x: L.where(x > 0, x, L.zeros_like(x)), "where_scalar": lambda L, x: L.where(
        x > 0, x, 0.5), "ones_like": lambda L, x: L.ones_like(x), "cat": lambda L, x: L.cat([x, x * 2], -1),
    "layer_norm": lambda L, x: L.nn.functional.layer_norm(x, (4,), L.ones(4, dtype=L.float64),
                                                          L.zeros(4, dtype=L.float64)),
    "rms_norm": lambda L, x: L.nn.functional.rms_norm(x, (4,)),
    "matmul": lambda L, x: L.matmul(x, L.tensor(np.arange(12.0).reshape(4, 3) / 10)),
    "amax-1": lambda L, x: x.amax(-1), "max-1": lambda L, x: L.max(x, -1)[0], "argmax-1": lambda L, x: x.argmax(-1),
}


@pytest.mark.parametrize("name", list(HOLES_OPS))
def test_holes_keep_lengths(torch, name):
    """An op on a jagged tensor with holes keeps offsets and lengths and runs on the whole values
    buffer, as torch's: the same components, values(), offsets(), lengths(), and gradient."""
    v = np.random.default_rng(11).standard_normal((8, 4))
    fv, tv = fastgrad.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    a, b = HOLES_OPS[name](fastgrad, _holes(fastgrad, fv)), HOLES_OPS[name](torch, _holes(torch, tv))
    assert b.lengths() is not None and a.lengths() is not None
    np.testing.assert_array_equal(_np(a.lengths()), _np(b.lengths()))
    np.testing.assert_array_equal(_np(a.offsets()), _np(b.offsets()))
    assert a._ragged_idx == b._ragged_idx and a.dim() == b.dim() and a.dtype.itemsize == b.dtype.itemsize
    np.testing.assert_allclose(_np(a.values()), _np(b.values()), rtol=1e-6, atol=1e-12)
    for x, y in zip(a.unbind(), b.unbind()):
        np.testing.assert_allclose(_np(x), _np(y), rtol=1e-6, atol=1e-12)
    if _torch_grads(b):  # (torch has no backward for some ops on tensors with holes)
        sum(c.sum() for c in a.unbind()).backward()
        np.testing.assert_allclose(_np(fv.grad), _np(tv.grad), rtol=1e-6, atol=1e-12)


def test_holes_from_narrow_and_contiguous(torch):
    x = np.random.default_rng(12).standard_normal((2, 5, 4))
    args = (1, [0, 1], [3, 2])
    a = fastgrad.nested.narrow(fastgrad.tensor(x), args[0], fastgrad.tensor(args[1]), fastgrad.tensor(args[2]),
                               layout=fastgrad.jagged)
    b = torch.nested.narrow(torch.tensor(x), args[0], torch.tensor(args[1]), torch.tensor(args[2]),
                            layout=torch.jagged)
    for fa, tb in [(fastgrad.nn.functional.relu(a), torch.nn.functional.relu(b)), (a.masked_fill(a > 0, 0.0),
                                                                                   b.masked_fill(b > 0, 0.0))]:
        np.testing.assert_array_equal(_np(fa.lengths()), _np(tb.lengths()))
        np.testing.assert_array_equal(_np(fa.offsets()), _np(tb.offsets()))
        np.testing.assert_array_equal(_np(fa.values()), _np(tb.values()))
    ca, cb = a.contiguous(), b.contiguous()  # packed: no lengths, new offsets
    assert ca.lengths() is None and cb.lengths() is None and ca.is_contiguous() and not a.is_contiguous()
    np.testing.assert_array_equal(_np(ca.offsets()), _np(cb.offsets()))
    np.testing.assert_array_equal(_np(ca.values()), _np(cb.values()))


def test_holes_errors(torch):
    v = np.random.default_rng(13).standard_normal((8, 4))
    for fn in (lambda L, x: L.nn.functional.linear(x, L.ones(3, 4, dtype=L.float64)),
               lambda L, x: L.nn.functional.dropout(x, 0.5), lambda L, x: L.nn.functional.dropout(x, 0.5, False),
               lambda L, x: x.sum(1), lambda L, x: x.mean((0, 1)), lambda L, x: x.softmax(1),
               lambda L, x: L.chunk(x, 2, -1), lambda L, x: x.split(2, -1)):
        _error(lambda: fn(fastgrad, _holes(fastgrad, fastgrad.tensor(v))), lambda: fn(torch, _holes(torch,
                                                                                                    torch.tensor(v))))


# --------------------------------------------------------------------------- free functions
FREE_OPS = {  # torch 2.13: jagged runs all of them; strided a few (torch's errors for the rest)
    "tanh": lambda L, x: L.tanh(x), "sigmoid": lambda L, x: L.nn.functional.sigmoid(x),
    "exp": lambda L, x: L.exp(x), "log": lambda L, x: L.log(x.abs()), "sqrt": lambda L, x: L.sqrt(x.abs()),
    "sin": lambda L, x: L.sin(x), "cos": lambda L, x: L.cos(x), "abs": lambda L, x: L.abs(x),
    "neg": lambda L, x: L.neg(x), "square": lambda L, x: L.square(x), "pow": lambda L, x: L.pow(x, 3),
    "isnan": lambda L, x: L.isnan(x), "nan_to_num": lambda L, x: L.nan_to_num(x),
    "clamp": lambda L, x: L.clamp(x, min=0.0), "clamp_method": lambda L, x: x.clamp(-0.5, 0.5),
    "leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x), "elu": lambda L, x: L.nn.functional.elu(x),
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x), "softplus": lambda L, x: L.nn.functional.softplus(x),
    "mish": lambda L, x: L.nn.functional.mish(x), "relu6": lambda L, x: L.nn.functional.relu6(x),
    "layer_norm": lambda L, x: L.nn.functional.layer_norm(x, (4,)),
    "layer_norm_affine": lambda L, x: L.nn.functional.layer_norm(x, (4,), L.ones(4, dtype=L.float64) * 2,
                                                                 L.ones(4, dtype=L.float64)),
    "rms_norm": lambda L, x: L.nn.functional.rms_norm(x, (4,)),
    "sum": lambda L, x: L.sum(x), "mean": lambda L, x: L.mean(x), "sum-1": lambda L, x: L.sum(x, -1),
    "where": lambda L, x: L.where(x > 0, x, L.zeros_like(x)), "where_scalar": lambda L, x: L.where(x > 0, x, 0.0),
    "zeros_like": lambda L, x: L.zeros_like(x), "ones_like": lambda L, x: L.ones_like(x),
    "full_like": lambda L, x: L.full_like(x, 2.5), "cat-1": lambda L, x: L.cat([x, x], -1),
    "cat0": lambda L, x: L.cat([x, x], 0), "stack": lambda L, x: L.stack([x, x]),
    "chunk": lambda L, x: L.chunk(x, 2, -1)[1], "chunk_method": lambda L, x: x.chunk(2, -1)[0],
    "split": lambda L, x: L.split(x, 3, -1)[1], "bool": lambda L, x: (x > 0).bool().int(),
    "type_as": lambda L, x: x.type_as(L.zeros(1, dtype=L.float32)), "long": lambda L, x: (x * 4).long(),
    "amax-1": lambda L, x: L.amax(x, -1), "amax1": lambda L, x: x.amax(1), "amin0": lambda L, x: x.amin(0),
    "argmax-1": lambda L, x: L.argmax(x, -1), "argmin1": lambda L, x: x.argmin(1), "max": lambda L, x: x.max(),
    "max-1": lambda L, x: L.max(x, -1)[0], "max-1k_idx": lambda L, x: x.max(-1, keepdim=True)[1],
    "min1": lambda L, x: L.min(x, 1)[0], "prod-1": lambda L, x: L.prod(x, -1), "any-1": lambda L, x: L.any(x > 0, -1),
    "all-1": lambda L, x: (x > 0).all(-1), "all": lambda L, x: L.all(x > -9),
    "erf": lambda L, x: L.erf(x), "rsqrt": lambda L, x: L.rsqrt(x.abs() + 1), "reciprocal": lambda L, x: L.reciprocal(
        x + 9), "expm1": lambda L, x: L.expm1(x),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(FREE_OPS))
def test_free_functions(torch, name, layout):
    """The free functions torch 2.13 runs on nested tensors: outputs and component gradients as torch's;
    torch's errors where its layout has no kernel."""
    fn = FREE_OPS[name]
    a, b = Pair(torch, layout, [(2, 4), (3, 4)], seed=14).nested()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(torch, b)
        except Exception as e:  # noqa: BLE001  (torch's error, to be matched)
            with pytest.raises(type(e)) as fe:
                fn(fastgrad, a)
            assert re.sub(r"j\d+", "j", str(fe.value))[:90] == re.sub(r"j\d+", "j", str(e))[:90]
            return
    p = Pair(torch, layout, [(2, 4), (3, 4)], seed=14)
    p.check(lambda t: fn(fastgrad, t), lambda t: fn(torch, t), grads=_torch_grads(out))


def _torch_grads(out):
    """Whether torch's backward runs through out (some nested kernels have none): True, False, or
    True for a result without grad (nothing to compare)."""
    if not out.dtype.is_floating_point or not out.requires_grad:
        return False
    comps = out.unbind() if out.is_nested else [out]
    try:
        sum(c.sum() for c in comps).backward()
    except (NotImplementedError, ValueError, RuntimeError):
        return False
    return True


INPLACE = {
    "copy_": lambda L, x: x.copy_(x * 2), "fill_": lambda L, x: x.fill_(1.5), "zero_": lambda L, x: x.zero_(),
    "mul_": lambda L, x: x.mul_(2), "mul_nt": lambda L, x: x.mul_(x), "add_": lambda L, x: x.add_(1),
    "add_nt": lambda L, x: x.add_(x, alpha=2), "sub_": lambda L, x: x.sub_(1), "div_": lambda L, x: x.div_(2),
    "relu_": lambda L, x: x.relu_(), "sin_": lambda L, x: x.sin_(), "clamp_": lambda L, x: x.clamp_(0, 1),
    "masked_fill_": lambda L, x: x.masked_fill_(x > 0, 0.0), "F.relu": lambda L, x: L.nn.functional.relu(x, True),
    "F.leaky_relu": lambda L, x: L.nn.functional.leaky_relu(x, 0.1, True),
}


@pytest.mark.parametrize("layout", LAYOUTS + ["holes"])
@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace(torch, name, layout):
    """In-place ops return the tensor itself with torch's values (a tensor with holes: its whole values
    buffer, holes too); torch's errors where its layout has no kernel."""
    v = np.random.default_rng(15).standard_normal((8, 4))
    res = []
    for lib in (fastgrad, torch):
        if layout == "holes":
            x = _holes(lib, lib.tensor(v))
        else:
            x = lib.nested.nested_tensor([lib.tensor(v[:2]), lib.tensor(v[3:6])], layout=getattr(lib, layout))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = INPLACE[name](lib, x)
        except Exception as e:  # noqa: BLE001  (compared below)
            res.append(e)
            continue
        assert r is x
        res.append([_np(c) for c in x.unbind()] + ([_np(x.values())] if layout == "holes" else []))
    if isinstance(res[1], Exception):
        assert type(res[0]) is type(res[1]) and str(res[0])[:60] == str(res[1])[:60], (res[0], res[1])
        return
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12)
