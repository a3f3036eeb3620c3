"""In-place ops on views (PyTorch's CopySlices): the values of the base and the view, and the
gradients of the leaves through both, against torch, for every view kind x in-place op; the
errors PyTorch raises (a view of a leaf, a view made in no_grad mode, the outputs of unbind,
split and chunk, a saved tensor changed through a view), with its messages."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastgrad as fg

# a view of the (3, 4) base y, made the same way in torch and fastgrad
VIEWS = {
    "slice_rows": lambda y: y[1:],
    "step_cols": lambda y: y[:, ::2],
    "select_col": lambda y: y[:, 0],
    "select_row": lambda y: y[1],
    "t": lambda y: y.t(),
    "narrow_t": lambda y: y.narrow(1, 1, 2).t(),
    "diagonal": lambda y: y.diagonal(),
    "diagonal_offset": lambda y: y.diagonal(1),
    "view_flat": lambda y: y.view(-1),
    "reshape_view": lambda y: y.reshape(2, 6),
    "unsqueeze": lambda y: y.unsqueeze(0),
    "view_of_view": lambda y: y[1:].t()[::2],
    "select_slice": lambda y: y[2][1:3],
    "T_select": lambda y: y.T[1],
    "movedim": lambda y: y.movedim(0, 1),
    "ellipsis": lambda y: y[..., 1:3],
    "split_rows": lambda y: y.narrow(0, 0, 2),
    "expand": lambda y: y[0].expand(3, 4),
}


def _relu(L, v, t, s, m):
    return L.nn.functional.relu(v, inplace=True)


def _iadd(L, v, t, s, m):
    v += t
    return v


def _setitem(idx_of, val_of):
    def f(L, v, t, s, m):
        v[idx_of(m)] = val_of(t, s)
        return v
    return f


# an in-place op on view v: t a leaf of v's shape, s a 0-d leaf, m a bool mask of v's shape
OPS = {
    "mul_scalar": lambda L, v, t, s, m: v.mul_(2.5),
    "mul_t": lambda L, v, t, s, m: v.mul_(t),
    "add_alpha": lambda L, v, t, s, m: v.add_(t, alpha=0.5),
    "sub_t": lambda L, v, t, s, m: v.sub_(t),
    "div_t": lambda L, v, t, s, m: v.div_(t.abs() + 0.5),
    "iadd": _iadd,
    "clamp_": lambda L, v, t, s, m: v.clamp_(-0.3, 0.4),
    "relu_": lambda L, v, t, s, m: v.relu_(),
    "F.relu_inplace": _relu,
    "copy_": lambda L, v, t, s, m: v.copy_(t * 2),
    "fill_scalar": lambda L, v, t, s, m: v.fill_(1.5),
    "fill_tensor": lambda L, v, t, s, m: v.fill_(s),
    "zero_": lambda L, v, t, s, m: v.zero_(),
    "setitem_first": _setitem(lambda m: 0, lambda t, s: 3.0),
    "setitem_first_t": _setitem(lambda m: 0, lambda t, s: t[0] * 3),
    "setitem_mask": _setitem(lambda m: m, lambda t, s: s * 2),
    "sigmoid_": lambda L, v, t, s, m: v.sigmoid_(),
    "exp_": lambda L, v, t, s, m: v.exp_(),
    "pow_": lambda L, v, t, s, m: v.pow_(2),
    "lerp_": lambda L, v, t, s, m: v.lerp_(t, 0.3),
    "masked_fill_": lambda L, v, t, s, m: v.masked_fill_(m, 0.25),
    "neg_": lambda L, v, t, s, m: v.neg_(),
    "twice": lambda L, v, t, s, m: v.mul_(t).add_(s),
}


def _norm_msg(msg):
    """A PyTorch message in fastgrad's words: module name, and any node's name as <node>."""
    msg = msg.replace("torch.", "fastgrad.")
    return re.sub(r"(utput \d+) of [\w:]+", r"\1 of <node>", msg)


def scenario(L, view, op, mode, dtype, seed, sibling=True):
    """Base y (mode "nonleaf": x * 1.5 of a leaf x, "fortran": the same in column-major layout;
    "buffer": a leaf that needs no gradient),
    a sibling view u of y made before the op, the op on view(y); then values, versions and
    the gradients of every leaf of (y * w0).sum() + (v * w1).sum() + (u * w2).sum()."""
    rs = np.random.RandomState(seed)
    xa = rs.uniform(-1, 1, (3, 4)).astype(dtype)
    pool = rs.uniform(-1, 1, 64).astype(dtype)
    sa = np.asarray(rs.uniform(-1, 1), dtype)
    w = [rs.uniform(-1, 1, 64) for _ in range(3)]
    if mode == "fortran":  # a base laid out column by column: y = x * 1.5 keeps x's layout
        x = L.from_numpy(np.asfortranarray(xa)).requires_grad_()
    else:
        x = L.tensor(xa, requires_grad=True)
    y = L.tensor(xa) if mode == "buffer" else x * 1.5
    u = y[:, 1] if sibling else None
    try:
        v = VIEWS[view](y)
    except RuntimeError as e:  # (view(-1) of a column-major base: PyTorch's error)
        return {"error": _norm_msg(str(e))}
    n = v.numel()
    t = L.tensor(pool[:n].reshape(tuple(v.shape)), requires_grad=True)
    s = L.tensor(sa, requires_grad=True)
    m = L.tensor(pool[:n].reshape(tuple(v.shape)) > 0)
    out = {}
    try:
        r = OPS[op](L, v, t, s, m)
    except RuntimeError as e:
        return {"error": _norm_msg(str(e))}
    out["same_object"] = r is v
    out["y"] = y.detach().numpy().copy()
    out["v"] = v.detach().numpy().copy()
    out["version"] = (y._version, v._version)
    out["requires_grad"] = (y.requires_grad, v.requires_grad)
    loss = (y * L.tensor(w[0][:12].reshape(3, 4).astype(dtype))).sum()
    loss = loss + (v * L.tensor(w[1][:n].reshape(tuple(v.shape)).astype(dtype))).sum()
    if u is not None:
        out["u"] = u.detach().numpy().copy()
        out["u_requires_grad"] = u.requires_grad
        loss = loss + (u * L.tensor(w[2][:3].astype(dtype))).sum()
    if loss.requires_grad:
        try:
            loss.backward()
        except RuntimeError as e:  # (an expanded view written in place: at backward)
            out["backward_error"] = _norm_msg(str(e))
            return out
    for name, leaf in (("x", x), ("t", t), ("s", s)):
        out["grad_" + name] = None if leaf.grad is None else leaf.grad.numpy().copy()
    return out


# PyTorch deprecates these (index_put_, masked_fill_ on an expanded tensor): their result follows its
# kernel's order
SKIP = {("expand", "setitem_mask"), ("expand", "masked_fill_")}


def _compare(torch, view, op, mode, dtype, seed):
    if (view, op) in SKIP:
        return
    want = scenario(torch, view, op, mode, dtype, seed)
    got = scenario(fg, view, op, mode, dtype, seed)
    where = "view=%s op=%s mode=%s dtype=%s" % (view, op, mode, np.dtype(dtype).name)
    assert set(got) == set(want), (where, got.get("error"), want.get("error"))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for k in want:
        a, b = got[k], want[k]
        if isinstance(b, np.ndarray):
            assert a is not None and a.shape == b.shape, (where, k)
            np.testing.assert_allclose(a, b, err_msg="%s %s" % (where, k), **tol)
        else:
            assert a == b, (where, k, a, b)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(view=st.sampled_from(sorted(VIEWS)), op=st.sampled_from(sorted(OPS)),
       mode=st.sampled_from(["nonleaf", "buffer", "fortran"]), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2 ** 16))
def test_inplace_on_view_matches_torch(torch, view, op, mode, dtype, seed):
    _compare(torch, view, op, mode, dtype, seed)


@pytest.mark.parametrize("mode", ["nonleaf", "buffer", "fortran"])
def test_every_view_kind_with_every_inplace_op(torch, mode):
    for view in VIEWS:
        for op in OPS:
            _compare(torch, view, op, mode, np.float64, 7)


def test_copyslices_graph_shape():
    x = fg.randn(3, 4, requires_grad=True)
    y = x * 1
    v = y[:, ::2]
    assert type(v.grad_fn).__name__ == "IndexBackward"
    v.mul_(2)
    assert y.grad_fn.name() == "CopySlices"
    assert v.grad_fn.name() == "AsStridedBackward"
    assert v.grad_fn.next_functions[0][0] is y.grad_fn
    assert y._version == v._version == 1
    u = y[0]
    y.add_(1)  # the base itself: a view made before regenerates its grad_fn when next used
    assert u.grad_fn.name() == "AsStridedBackward"
    assert u.grad_fn.next_functions[0][0] is y.grad_fn


def test_second_order_through_copyslices(torch):
    """Double backward through CopySlices, AsStrided and ViewFill (float64 gradcheck too)."""
    def f(L, x, t):
        y = x * x
        y[1:, ::2].mul_(t)
        y.diagonal().add_(t[0, :1])
        return (y * y).sum() + (y.t()[1] ** 3).sum()

    xa = np.random.RandomState(0).uniform(-1, 1, (3, 4))
    ta = np.random.RandomState(1).uniform(-1, 1, (2, 2))
    res = {}
    for L in (torch, fg):
        x = L.tensor(xa, requires_grad=True)
        t = L.tensor(ta, requires_grad=True)
        gx, gt = L.autograd.grad(f(L, x, t), (x, t), create_graph=True)
        (gx.sum() + (gt * gt).sum()).backward()
        res[L.__name__] = [gx.detach().numpy(), gt.detach().numpy(), x.grad.numpy(), t.grad.numpy()]
    for a, b in zip(res["fastgrad"], res["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    x = fg.tensor(xa, requires_grad=True)
    t = fg.tensor(ta, requires_grad=True)
    assert fg.autograd.gradcheck(lambda x, t: f(fg, x, t), (x, t))
    assert fg.autograd.gradgradcheck(lambda x, t: f(fg, x, t), (x, t))


# --------------------------------------------------------------------------- errors
LEAF_VIEW = "a view of a leaf Variable that requires grad is being used in an in-place operation."
LEAF = "a leaf Variable that requires grad is being used in an in-place operation."


def _error(fn):
    try:
        fn()
    except RuntimeError as e:
        return _norm_msg(str(e))
    return None


def _leaf_cases(L):
    def leaf():
        return L.arange(12.).reshape(3, 4).requires_grad_()  # (itself a view of arange's tensor)

    def own_leaf():
        return L.zeros(3, 4, requires_grad=True)

    def setitem(x, idx, val):
        x[idx] = val

    def iadd_item(x):
        x[0] += 1

    return [
        lambda: leaf()[0].mul_(2),
        lambda: own_leaf()[0].mul_(2),
        lambda: own_leaf().t().mul_(2),
        lambda: own_leaf()[:, 1:].zero_(),
        lambda: own_leaf().diagonal().clamp_(0, 1),
        lambda: L.nn.functional.relu(own_leaf()[1], inplace=True),
        lambda: own_leaf()[0].copy_(L.ones(4)),
        lambda: own_leaf()[0].fill_(2.0),
        lambda: iadd_item(own_leaf()),
        lambda: setitem(own_leaf(), 0, 1.0),
        lambda: setitem(own_leaf(), (slice(None), 1), 1.0),
        lambda: setitem(own_leaf(), Ellipsis, 1.0),
        lambda: setitem(own_leaf(), slice(0, 3), 1.0),
        lambda: setitem(own_leaf(), [0, 2], 1.0),
        lambda: own_leaf().mul_(2),
        lambda: leaf().mul_(2),
        lambda: own_leaf().view(12)[L.arange(12) > 4].mul_(2),  # a copy: no error
    ]


def test_leaf_view_errors_match_torch(torch):
    want = [_error(f) for f in _leaf_cases(torch)]
    got = [_error(f) for f in _leaf_cases(fg)]
    assert got == want
    assert want.count(LEAF_VIEW) >= 8 and want.count(LEAF) >= 3


def test_inplace_on_leaf_view_without_grad_mode(torch):
    for L in (torch, fg):
        x = L.arange(12.).reshape(3, 4).requires_grad_()
        with L.no_grad():
            x[0].mul_(2)
            x.t()[1].add_(1)
            x[2] = 7.0
        assert x._version == 3 and x.is_leaf and x.grad_fn is None
        np.testing.assert_array_equal(x.detach().numpy(), [[0, 3, 4, 6], [4, 6, 6, 7], [7, 7, 7, 7]])
        (x * x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy())


def _view_meta_cases(L):
    x = L.randn(3, 4, requires_grad=True)

    def nograd_view():
        y = x * 1
        with L.no_grad():
            v = y[0]
        return y, v

    def nograd_base_then_use():
        y, v = nograd_view()
        y.mul_(2)
        return v.grad_fn

    def unbind_base_then_use():
        y = x * 1
        a, b, c = y.unbind(0)
        y.mul_(2)
        return a * 2

    def nograd_view_of_buffer():
        z = L.zeros(3)
        with L.no_grad():
            vz = z[0:2]
        return vz.copy_(x[0, :2])

    return [
        lambda: nograd_view()[1].mul_(2),
        nograd_base_then_use,
        nograd_view_of_buffer,
        lambda: (x * 1).unbind(0)[1].mul_(2),
        lambda: (x * 1).split(2)[0].add_(1),
        lambda: (x * 1).split([1, 2])[1].mul_(2),
        lambda: (x * 1).chunk(2, 1)[1].zero_(),
        lambda: (x * 1).unbind(0)[0][1:].mul_(2),
        lambda: (x * 1).unbind(1)[2].view(3, 1).mul_(2),
        unbind_base_then_use,
        lambda: L.zeros(3, 4).unbind(0)[1].copy_(x[0]),
        lambda: (x * 1).tensor_split(2)[0].mul_(2),  # tensor_split: views that may be changed
    ]


def test_view_creation_errors_match_torch(torch):
    want = [_error(f) for f in _view_meta_cases(torch)]
    got = [_error(f) for f in _view_meta_cases(fg)]
    assert got == want
    assert want[-1] is None and all(w is not None for w in want[:-1])


def test_multi_output_views_allowed_without_grad(torch):
    for L in (torch, fg):
        x = L.arange(6.).reshape(2, 3).requires_grad_()
        y = x * 1
        with L.no_grad():
            a, b = y.unbind(0)
            b.mul_(2)
        np.testing.assert_array_equal(y.detach().numpy(), [[0, 1, 2], [6, 8, 10]])
        z = L.zeros(2, 3)
        p, q = z.split(1)
        q.add_(1)  # nothing requires grad: no error
        assert z.sum().item() == 3


def _version_cases(L):
    x = L.arange(12.).reshape(3, 4).requires_grad_()

    def saved_base_then_view_write():
        y = x * 1
        z = y * y
        y[:, ::2].mul_(2)
        z.sum().backward()

    def saved_view_then_base_write():
        y = x * 1
        v = y[1]
        z = v.sin()
        y[0].add_(1)  # another view: the version is shared
        z.sum().backward()

    def saved_output_then_view_write():
        y = (x * 1).exp()
        y[0].mul_(2)
        y.sum().backward()

    def saved_view_written_twice():
        y = x * 1
        v = y.t()
        z = v * v
        v.mul_(2)
        v[0] += 1
        z.sum().backward()

    def no_grad_write_of_leaf_view():
        y = x * x
        with L.no_grad():
            x[0].mul_(2)
        y.sum().backward()

    return [saved_base_then_view_write, saved_view_then_base_write, saved_output_then_view_write,
            saved_view_written_twice, no_grad_write_of_leaf_view]


def test_version_counter_shared_and_message(torch):
    """Changing a saved tensor through a view (or a view through its base) raises PyTorch's
    message at backward, word for word but for fastgrad's node names."""
    names = {"torch::autograd::CopySlices": "CopySlices", "Mul": "MulBackward", "Exp": "ExpBackward",
             "AsStridedBackward0": "AsStridedBackward", "Slice": "IndexBackward", "Select": "IndexBackward",
             "Transpose": "PermuteBackward", "Sin": "SinBackward", "AsStrided": "AsStridedBackward"}
    for tf, ff in zip(_version_cases(torch), _version_cases(fg)):
        with pytest.raises(RuntimeError) as te:
            tf()
        with pytest.raises(RuntimeError) as fe:
            ff()
        want = re.sub(r"output (\d+) of ([\w:]+),", lambda m: "output %s of %s," % (m.group(1), names[m.group(2)]),
                      str(te.value))
        got = str(fe.value)
        # AsStrided is a regenerated view's grad_fn in both; PyTorch names the saved view's
        # original node (Select, Transpose) where fastgrad has the one it regenerated
        got = got.replace("AsStridedBackward", "IndexBackward") if "IndexBackward" in want else got
        got = got.replace("AsStridedBackward", "PermuteBackward") if "PermuteBackward" in want else got
        assert got == want


def test_version_message_names_copyslices():
    x = fg.arange(12.).reshape(3, 4).requires_grad_()
    y = x * 1
    z = y * y
    y[:, 0] += 1
    with pytest.raises(RuntimeError) as e:
        z.sum().backward()
    assert str(e.value) == (
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation: [torch.FloatTensor [3, 4]], which is output 0 of CopySlices, is at version 2; "
        "expected version 0 instead. Hint: enable anomaly detection to find the operation that "
        "failed to compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")


def test_buffer_base_gains_history_through_views(torch):
    """A buffer (needs no gradient) written through views by tensors that need one: the buffer
    and the views taken before get the history (PyTorch: base.grad_fn is CopySlices)."""
    res = {}
    for L in (torch, fg):
        w = L.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        out = L.zeros(3, 4)
        rows = [out[i] for i in range(3)]
        rows[0].copy_(w * 2)
        out[1].add_(w.exp())  # (PyTorch: rows[1].add_ would raise: its grad_fn not yet regenerated)
        out[2, 1:] = w[:3] ** 2
        assert out.requires_grad and out.grad_fn.name() in ("CopySlices", "torch::autograd::CopySlices")
        assert rows[2].requires_grad  # made before: its grad_fn is regenerated
        loss = (out * out).sum() + (rows[2] * 3).sum() + rows[0].sum() + (rows[1] * rows[1]).sum()
        loss.backward()
        res[L.__name__] = (out.detach().numpy().copy(), w.grad.numpy().copy())
    np.testing.assert_allclose(res["fastgrad"][0], res["torch"][0], rtol=1e-6)
    np.testing.assert_allclose(res["fastgrad"][1], res["torch"][1], rtol=1e-6)


def _forward_ad(L, record):
    import importlib

    fw = importlib.import_module(L.__name__ + ".autograd.forward_ad")
    p = L.tensor(np.arange(12.).reshape(3, 4), requires_grad=record)
    t = L.tensor(np.ones((3, 4)) * np.arange(1, 5))
    with fw.dual_level():
        x = fw.make_dual(p * 1 if record else p, t)
        y = x * 1
        y[:, 0].mul_(2)
        y[1:].t()[::2].add_(y[0, :2])
        y.diagonal().exp_()
        y[2, 3] = 7.0
        y[0][1:3] = y[1, :2] * 3
        primal, tangent = fw.unpack_dual(y)
        return primal.detach().numpy().copy(), tangent.detach().numpy().copy()


@pytest.mark.parametrize("record", [False, True])
def test_forward_ad_through_inplace_on_views(torch, record):
    """The base's tangent takes the view's at its elements, recorded (CopySlices' jvp) or not."""
    for a, b in zip(_forward_ad(fg, record), _forward_ad(torch, record)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
