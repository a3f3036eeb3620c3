"""EmbeddingBag / F.embedding_bag, F.pdist, F.gumbel_softmax, F.affine_grid / F.grid_sample,
F.fractional_max_pool2d / FractionalMaxPool2d, AdaptiveLogSoftmaxWithLoss, DataParallel,
SyncBatchNorm and Container against PyTorch: outputs, gradients of inputs and parameters
(float32 and float64), state dicts, reprs, errors; float64 gradcheck on small sizes."""
import copy
import itertools
import warnings

import numpy as np
import pytest
from nn_helpers import assert_close, copy_to_torch, fg_repr

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck, gradgradcheck
from fastgrad.nn import functional as F

RNG = np.random.default_rng(0)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _x(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _same_error(fg_call, th_call, exc):
    with pytest.raises(exc) as th_err:
        th_call()
    with pytest.raises(exc) as fg_err:
        fg_call()
    assert str(fg_err.value) == str(th_err.value).replace("torch.", "fastgrad.")


def _both(torch, a, grad=True):
    return fastgrad.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _backward_both(torch, fo, to, dtype):
    w = _x(*fo.shape, dtype=dtype)
    (fo * fastgrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()


# --------------------------------------------------------------------------- embedding_bag
BAG_INPUTS = [
    (np.array([1, 2, 4, 5, 4, 3, 2, 9, 0, 0, 7]), np.array([0, 3, 3, 8])),  # an empty bag
    (np.array([1, 1, 1, 2]), np.array([0, 2])),  # repeated indices (scale_grad_by_freq)
    (RNG.integers(0, 10, 30), np.array([0, 5, 5, 9, 20, 29])),
    (np.array([], np.int64), np.array([0, 0])),  # no entries at all
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("inputs", range(len(BAG_INPUTS)))
def test_embedding_bag_matches_torch(torch, inputs, mode, dtype):
    idx, off = BAG_INPUTS[inputs]
    weight = _x(10, 4, dtype=dtype)
    tf = torch.nn.functional
    for pad, last, freq, psw in itertools.product((None, 4, -1), (False, True), (False, True), (False, True)):
        if mode == "max" and freq or mode != "sum" and psw:
            continue
        fw, tw = _both(torch, weight)
        fp, tp = _both(torch, _x(len(idx), dtype=dtype)) if psw else (None, None)
        kw = dict(mode=mode, padding_idx=pad, include_last_offset=last, scale_grad_by_freq=freq)
        o = np.append(off, len(idx)) if last else off  # the last offset is the input's length (torch's docs)
        fo = F.embedding_bag(fastgrad.tensor(idx), fw, fastgrad.tensor(o), per_sample_weights=fp, **kw)
        to = tf.embedding_bag(torch.tensor(idx), tw, torch.tensor(o), per_sample_weights=tp, **kw)
        assert_close(fo, to, **TOL[dtype])
        _backward_both(torch, fo, to, dtype)
        assert_close(fw.grad, tw.grad, **TOL[dtype])
        if psw:
            assert_close(fp.grad, tp.grad, **TOL[dtype])


def test_embedding_bag_2d_input_int32_and_gradcheck(torch):
    weight = _x(6, 3)
    idx = np.array([[0, 2, 5], [5, 5, 1]], np.int32)
    for mode in ("sum", "mean", "max"):
        fw, tw = _both(torch, weight)
        fo = F.embedding_bag(fastgrad.tensor(idx), fw, mode=mode, padding_idx=1)
        to = torch.nn.functional.embedding_bag(torch.tensor(idx), tw, mode=mode, padding_idx=1)
        assert_close(fo, to, 1e-12, 1e-12)
    w = fastgrad.tensor(_x(6, 3), requires_grad=True)
    p = fastgrad.tensor(_x(6), requires_grad=True)
    i, o = fastgrad.tensor(np.array([0, 2, 5, 5, 5, 1])), fastgrad.tensor(np.array([0, 2, 2]))
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda a: F.embedding_bag(i, a, o, mode=mode), (w,))
        assert gradgradcheck(lambda a: F.embedding_bag(i, a, o, mode=mode), (w,))
    assert gradcheck(lambda a, b: F.embedding_bag(i, a, o, mode="sum", per_sample_weights=b), (w, p))
    assert gradgradcheck(lambda a, b: F.embedding_bag(i, a, o, mode="sum", per_sample_weights=b), (w, p))


def test_embedding_bag_max_norm_renormalizes_in_place(torch):
    weight = _x(6, 3) * 3
    fw, tw = fastgrad.tensor(weight), torch.tensor(weight)
    idx, off = np.array([0, 2, 2, 5]), np.array([0, 1])
    fo = F.embedding_bag(fastgrad.tensor(idx), fw, fastgrad.tensor(off), max_norm=1.0, norm_type=1.5)
    to = torch.nn.functional.embedding_bag(torch.tensor(idx), tw, torch.tensor(off), max_norm=1.0, norm_type=1.5)
    assert_close(fo, to, 1e-6, 1e-6)
    assert_close(fw, tw, 1e-6, 1e-6)


BAG_ERRORS = [
    dict(psw=np.ones(7)),
    dict(weight=np.ones(10)),
    dict(idx=np.ones((2, 4), np.int64)),
    dict(off=None),
    dict(off=np.array([[0, 4]])),
    dict(idx=np.ones((2, 2, 2), np.int64), off=None),
    dict(mode="foo"),
    dict(mode="max", scale_grad_by_freq=True),
    dict(mode="mean", psw=np.ones(8)),
    dict(mode="max", psw=np.ones(8)),
    dict(off=np.array([1, 4])),
    dict(off=np.array([0, 9])),
    dict(idx=np.array([1, 12, 3, 4, 5, 6, 7, 8])),
    dict(idx=np.array([1, 12, 3, 4, 5, 6, 7, 8]), weight=np.ones((10, 3), np.float32)),
    dict(idx=np.array([1, 12, 3, 4, 5, 6, 7, 8]), weight=np.ones((10, 3), np.float32), padding_idx=2),
    dict(idx=np.array([1, 12, 3, 4, 5, 6, 7, 8]), weight=np.ones((10, 3), np.float32), mode="max"),
    dict(idx=np.array([1, -1, 3, 4, 5, 6, 7, 8])),
    dict(idx=np.ones(8)),
    dict(off=np.array([0., 4.])),
    dict(padding_idx=10),
    dict(padding_idx=-11),
    dict(mode="sum", psw=np.ones(8, np.float32)),
    dict(weight=np.ones((10, 3), np.int64), idx=np.ones(8, np.int64)),
]


@pytest.mark.parametrize("case", BAG_ERRORS, ids=range(len(BAG_ERRORS)))
def test_embedding_bag_errors_match_torch(torch, case):
    case = dict(case)
    idx = case.pop("idx", np.array([1, 2, 4, 5, 4, 3, 2, 9]))
    weight = case.pop("weight", _x(10, 3))
    off = case.pop("off", np.array([0, 4]))
    psw = case.pop("psw", None)

    def run(lib, fn):
        return fn(lib.tensor(idx), lib.tensor(weight), None if off is None else lib.tensor(off),
                  per_sample_weights=None if psw is None else lib.tensor(psw), **case)

    exc = next(e for e in (ValueError, NotImplementedError, RuntimeError) if _raises(
        lambda: run(torch, torch.nn.functional.embedding_bag), e))
    _same_error(lambda: run(fastgrad, F.embedding_bag), lambda: run(torch, torch.nn.functional.embedding_bag), exc)


def _raises(fn, exc):
    try:
        fn()
    except exc:
        return True
    except Exception:
        return False
    return False


def test_embedding_bag_module_matches_torch(torch):
    for kw in (dict(), dict(mode="sum", padding_idx=-2, scale_grad_by_freq=True), dict(mode="max", max_norm=2.0),
               dict(include_last_offset=True, norm_type=1.0)):
        fm, tm = nn.EmbeddingBag(10, 4, **kw), torch.nn.EmbeddingBag(10, 4, **kw)
        assert repr(fm) == fg_repr(tm)
        assert fm.padding_idx == tm.padding_idx
        assert list(fm.state_dict()) == list(tm.state_dict()) == ["weight"]
        if fm.padding_idx is not None:
            assert not fm.weight[fm.padding_idx].abs().sum().item()
        fm.load_state_dict({"weight": fastgrad.tensor(tm.weight.detach().numpy())})
        idx, off = np.array([1, 2, 4, 8, 4, 3]), np.array([0, 2, 2, 5] + [6] * fm.include_last_offset)
        fo = fm(fastgrad.tensor(idx), fastgrad.tensor(off))
        to = tm(torch.tensor(idx), torch.tensor(off))
        assert_close(fo, to)
        _backward_both(torch, fo, to, np.float32)
        assert_close(fm.weight.grad, tm.weight.grad)
    fm, tm = nn.EmbeddingBag(10, 4, mode="sum"), torch.nn.EmbeddingBag(10, 4, mode="sum")
    copy_to_torch(torch, fm, tm)
    idx, psw = np.array([[1, 2], [3, 3]]), _x(2, 2, dtype=np.float32)
    assert_close(fm(fastgrad.tensor(idx), per_sample_weights=fastgrad.tensor(psw)),
                 tm(torch.tensor(idx), per_sample_weights=torch.tensor(psw)))
    emb = _x(5, 3, dtype=np.float32)
    fm = nn.EmbeddingBag.from_pretrained(fastgrad.tensor(emb), mode="max")
    tm = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(emb), mode="max")
    assert repr(fm) == fg_repr(tm) and not fm.weight.requires_grad
    assert nn.EmbeddingBag.from_pretrained(fastgrad.tensor(emb), freeze=False).weight.requires_grad
    for bad in (dict(padding_idx=10), dict(padding_idx=-11)):
        _same_error(lambda: nn.EmbeddingBag(10, 4, **bad), lambda: torch.nn.EmbeddingBag(10, 4, **bad),
                    AssertionError)
    _same_error(lambda: nn.EmbeddingBag(10, 4, _weight=fastgrad.zeros(3, 4)),
                lambda: torch.nn.EmbeddingBag(10, 4, _weight=torch.zeros(3, 4)), AssertionError)


# --------------------------------------------------------------------------- pdist
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0, 0.5, 1, 1.5, 2, 3, float("inf")])
def test_pdist_matches_torch(torch, p, dtype):
    x = _x(6, 3, dtype=dtype)
    x[3] = x[1]  # a zero distance
    x[4, 0] = x[2, 0]  # a zero difference
    fx, tx = _both(torch, x)
    fo, to = F.pdist(fx, p), torch.pdist(tx, p)
    assert_close(fo, to, **TOL[dtype])
    _backward_both(torch, fo, to, dtype)
    assert_close(fx.grad, tx.grad, **TOL[dtype])
    assert F.pdist(fastgrad.zeros(1, 3)).shape == (0,) and F.pdist(fastgrad.zeros(0, 3)).shape == (0,)


def test_pdist_gradcheck_and_errors(torch):
    for p in (1, 1.5, 2, 3):
        x = fastgrad.tensor(_x(4, 3), requires_grad=True)
        assert gradcheck(lambda a: F.pdist(a, p), (x,))
        assert gradgradcheck(lambda a: F.pdist(a, p), (x,))
    for shape, kw, dt in (((3,), {}, np.float32), ((3, 2), dict(p=-1), np.float32), ((3, 2), {}, np.int64)):
        a = np.ones(shape, dt)
        _same_error(lambda: F.pdist(fastgrad.tensor(a), **kw), lambda: torch.pdist(torch.tensor(a), **kw),
                    RuntimeError)


# --------------------------------------------------------------------------- gumbel_softmax
def test_gumbel_softmax_matches_torch_on_the_same_noise(torch, monkeypatch):
    import fastgrad.nn._functional_more as FM

    logits = _x(4, 5)
    noise = RNG.exponential(1.0, (4, 5))
    monkeypatch.setattr(FM, "_exponential", lambda shape, dtype: fastgrad.tensor(noise.astype(dtype)))
    monkeypatch.setattr(torch.Tensor, "exponential_", lambda self, *a, **k: self.copy_(torch.tensor(noise)))
    for tau, hard, dim in ((1.0, False, -1), (0.5, True, -1), (2.0, True, 0), (0.3, False, 0)):
        fl, tl = _both(torch, logits)
        fo = F.gumbel_softmax(fl, tau=tau, hard=hard, dim=dim)
        to = torch.nn.functional.gumbel_softmax(tl, tau=tau, hard=hard, dim=dim)
        assert_close(fo, to, 1e-12, 1e-12)
        _backward_both(torch, fo, to, np.float64)
        assert_close(fl.grad, tl.grad, 1e-12, 1e-12)


def test_gumbel_softmax_structure_and_statistics():
    logits = fastgrad.tensor(np.log(np.array([0.1, 0.2, 0.7])), requires_grad=True)
    fastgrad.manual_seed(0)
    soft = F.gumbel_softmax(logits.expand(20000, 3), tau=0.5)
    assert_close(soft.sum(-1), np.ones(20000), 1e-6, 1e-6)
    assert (soft.detach().numpy() >= 0).all()
    hard = F.gumbel_softmax(logits.expand(20000, 3), hard=True)
    h = hard.detach().numpy()
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(-1) == 1).all()
    freq = h.mean(0)  # Gumbel-max: argmax is a sample of softmax(logits)
    assert np.abs(freq - np.array([0.1, 0.2, 0.7])).max() < 0.015
    fastgrad.manual_seed(3)
    a = F.gumbel_softmax(logits, tau=0.7).detach().numpy()
    fastgrad.manual_seed(3)
    b = F.gumbel_softmax(logits, tau=0.7).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert gradcheck(lambda x: (fastgrad.manual_seed(1), F.gumbel_softmax(x, tau=0.8))[1], (logits,))
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(logits, eps=1e-3)
    assert F.gumbel_softmax(logits.float(), hard=True).dtype == fastgrad.float32


# --------------------------------------------------------------------------- affine_grid / grid_sample
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd", [2, 3])
def test_affine_grid_matches_torch(torch, nd, dtype):
    size = [2, 3, 4, 5] if nd == 2 else [2, 3, 4, 3, 5]
    for align, sz in itertools.product((False, True), (size, size[:2] + [1] * nd)):
        th = _x(2, nd, nd + 1, dtype=dtype)
        ft, tt = _both(torch, th)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fo, to = F.affine_grid(ft, sz, align), torch.nn.functional.affine_grid(tt, sz, align)
        assert_close(fo, to, **TOL[dtype])
        _backward_both(torch, fo, to, dtype)
        assert_close(ft.grad, tt.grad, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd,mode", [(2, "bilinear"), (2, "nearest"), (2, "bicubic"), (3, "bilinear"),
                                     (3, "nearest")])
def test_grid_sample_matches_torch(torch, nd, mode, dtype):
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for padding, align in itertools.product(("zeros", "border", "reflection"), (False, True)):
        x = _x(*(2, 3) + (4, 5, 6)[:nd][::-1], dtype=dtype)
        g = (RNG.random((2,) + (3, 4, 2)[:nd] + (nd,)) * 2.6 - 1.3).astype(dtype)
        fx, tx = _both(torch, x)
        fg, tg = _both(torch, g)
        fo = F.grid_sample(fx, fg, mode, padding, align)
        to = torch.nn.functional.grid_sample(tx, tg, mode, padding, align)
        assert_close(fo, to, **tol)
        _backward_both(torch, fo, to, dtype)
        assert_close(fx.grad, tx.grad, **tol)
        assert_close(fg.grad, tg.grad, **tol)


def test_grid_sample_affine_pipeline_gradcheck(torch):
    x = fastgrad.tensor(_x(1, 2, 4, 4), requires_grad=True)
    theta = fastgrad.tensor(np.array([[[0.93, 0.17, 0.11], [-0.13, 1.07, 0.041]]]), requires_grad=True)  # no kinks
    for mode, padding in (("bilinear", "zeros"), ("bilinear", "reflection"), ("bicubic", "border")):
        def f(a, t):
            return F.grid_sample(a, F.affine_grid(t, [1, 2, 3, 3], False), mode, padding, False)

        assert gradcheck(f, (x, theta))
        assert gradgradcheck(f, (x, theta))
    # identity transform with align_corners=True reproduces the input
    eye = fastgrad.tensor(np.array([[[1.0, 0, 0], [0, 1.0, 0]]]))
    out = F.grid_sample(x, F.affine_grid(eye, [1, 2, 4, 4], True), align_corners=True)
    assert_close(out, x, 1e-12, 1e-12)


GRID_ERRORS = [
    (dict(g=(2, 6, 7, 2), gdt=np.float64), RuntimeError),
    (dict(g=(6, 7, 2)), RuntimeError),
    (dict(g=(1, 6, 7, 2)), RuntimeError),
    (dict(g=(2, 6, 7, 3)), RuntimeError),
    (dict(x=(2, 3, 0, 5)), RuntimeError),
    (dict(x=(2, 3, 4, 5, 6), g=(2, 3, 3, 3, 3), mode="bicubic"), RuntimeError),
    (dict(mode="foo"), ValueError),
    (dict(padding_mode="foo"), ValueError),
]


@pytest.mark.parametrize("case,exc", GRID_ERRORS, ids=range(len(GRID_ERRORS)))
def test_grid_sample_errors_match_torch(torch, case, exc):
    case = dict(case)
    x = _x(*case.pop("x", (2, 3, 4, 5))).astype(np.float32)
    g = _x(*case.pop("g", (2, 6, 7, 2))).astype(case.pop("gdt", np.float32))
    _same_error(lambda: F.grid_sample(fastgrad.tensor(x), fastgrad.tensor(g), align_corners=False, **case),
                lambda: torch.nn.functional.grid_sample(torch.tensor(x), torch.tensor(g), align_corners=False,
                                                        **case), exc)


def test_affine_grid_errors_and_warnings(torch):
    cases = [((2, 2, 3), [2, 3, 4, 5], np.int64, ValueError), ((2, 3, 3), [2, 3, 4, 5], np.float32, ValueError),
             ((2, 3, 3), [2, 3, 4, 5, 3], np.float32, ValueError), ((2, 3, 3), [2, 3, 4], np.float32,
                                                                     NotImplementedError),
             ((2, 2, 3), [2, 3, 0, 5], np.float32, ValueError), ((2, 2, 3), [3, 3, 4, 5], np.float32, RuntimeError)]
    for shape, size, dt, exc in cases:
        th = np.ones(shape, dt)
        _same_error(lambda: F.affine_grid(fastgrad.tensor(th), size, False),
                    lambda: torch.nn.functional.affine_grid(torch.tensor(th), size, False), exc)
    th = fastgrad.zeros(1, 2, 3)
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
        F.affine_grid(th, [1, 1, 2, 2])
    with pytest.warns(UserWarning, match="Default grid_sample and affine_grid behavior"):
        F.grid_sample(fastgrad.zeros(1, 1, 2, 2), fastgrad.zeros(1, 2, 2, 2))
    with pytest.warns(UserWarning, match="unit-size grids"):
        F.affine_grid(th, [1, 1, 1, 2], True)


# --------------------------------------------------------------------------- fractional max pooling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fractional_max_pool2d_matches_torch(torch, dtype):
    for k, size, ratio, shape in (((2, 3), (3, 4), None, (2, 3, 9, 11)), (3, (6, 8), None, (2, 3, 9, 11)),
                                  (2, None, (0.5, 0.7), (3, 8, 9)), (1, (9, 11), None, (1, 1, 9, 11))):
        x = _x(*shape, dtype=dtype)
        samples = RNG.random((1 if len(shape) == 3 else shape[0], shape[-3], 2)).astype(dtype)
        fx, tx = _both(torch, x)
        fo, fi = F.fractional_max_pool2d(fx, k, size, ratio, True, _random_samples=fastgrad.tensor(samples))
        to, ti = torch.nn.functional.fractional_max_pool2d(tx, k, size, ratio, True,
                                                           _random_samples=torch.tensor(samples))
        assert_close(fo, to, 0, 0)
        np.testing.assert_array_equal(fi.numpy(), ti.numpy())
        _backward_both(torch, fo, to, dtype)
        assert_close(fx.grad, tx.grad, **TOL[dtype])
        fm = nn.FractionalMaxPool2d(k, size, ratio, _random_samples=fastgrad.tensor(samples))
        tm = torch.nn.FractionalMaxPool2d(k, size, ratio, _random_samples=torch.tensor(samples))
        assert repr(fm) == fg_repr(tm)
        assert_close(fm(fastgrad.tensor(x)), tm(torch.tensor(x)), 0, 0)
    fastgrad.manual_seed(0)
    out = F.fractional_max_pool2d(fastgrad.tensor(_x(2, 3, 10, 10)), 2, output_ratio=(0.5, 0.5))
    assert out.shape == (2, 3, 5, 5)
    x = fastgrad.tensor(_x(1, 2, 6, 7), requires_grad=True)
    s = fastgrad.tensor(RNG.random((1, 2, 2)))
    assert gradcheck(lambda a: F.fractional_max_pool2d(a, 2, (3, 4), _random_samples=s), (x,))


def test_fractional_max_pool2d_errors(torch):
    x = _x(2, 3, 7, 8).astype(np.float32)
    cases = [(dict(output_size=(6, 4)), RuntimeError), (dict(output_size=(4, 7)), RuntimeError), ({}, ValueError),
             (dict(output_ratio=(0.5, 0.5, 0.5)), ValueError), (dict(output_size=4, rs=(2, 3, 3)), RuntimeError),
             (dict(output_size=4, rs=(1, 3, 2)), RuntimeError), (dict(output_size=4, rs=(2, 2, 2)), RuntimeError),
             (dict(output_size=4, rs=(2, 3)), RuntimeError), (dict(output_size=4, rs=(2, 3, 2), rdt=np.float64),
                                                             RuntimeError),
             (dict(output_size=3, x=(2, 3, 4, 7, 8)), RuntimeError), (dict(output_size=3, x=(2, 0, 7, 8)),
                                                                      RuntimeError)]
    for kw, exc in cases:
        kw = dict(kw)
        a = _x(*kw.pop("x")).astype(np.float32) if "x" in kw else x
        rs, rdt = kw.pop("rs", None), kw.pop("rdt", np.float32)
        r = None if rs is None else RNG.random(rs).astype(rdt)
        _same_error(lambda: F.fractional_max_pool2d(fastgrad.tensor(a), 3, _random_samples=None if r is None else
                                                    fastgrad.tensor(r), **kw),
                    lambda: torch.nn.functional.fractional_max_pool2d(torch.tensor(a), 3, _random_samples=None if r is
                                                                      None else torch.tensor(r), **kw), exc)
    for kw in (dict(), dict(output_size=2, output_ratio=0.5), dict(output_ratio=1.5)):
        _same_error(lambda: nn.FractionalMaxPool2d(2, **kw), lambda: torch.nn.FractionalMaxPool2d(2, **kw),
                    ValueError)


# --------------------------------------------------------------------------- adaptive softmax
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_log_softmax_matches_torch(torch, dtype):
    fdt, tdt = (fastgrad.float32, torch.float32) if dtype == np.float32 else (fastgrad.float64, torch.float64)
    fm = nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=True, dtype=fdt)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=True, dtype=tdt)
    assert repr(fm) == fg_repr(tm)
    assert [(k, tuple(v.shape)) for k, v in fm.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    fm.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x, t = _x(7, 16, dtype=dtype), np.array([0, 3, 5, 19, 12, 9, 1])
    fx, tx = _both(torch, x)
    fo, to = fm(fx, fastgrad.tensor(t)), tm(tx, torch.tensor(t))
    assert_close(fo.output, to.output, **TOL[dtype])
    assert_close(fo.loss, to.loss, **TOL[dtype])
    fo.loss.backward()
    to.loss.backward()
    assert_close(fx.grad, tx.grad, **TOL[dtype])
    for k, p in fm.named_parameters():
        assert_close(p.grad, tm.get_parameter(k).grad, **TOL[dtype])
    assert_close(fm.log_prob(fx), tm.log_prob(tx), **TOL[dtype])
    np.testing.assert_array_equal(fm.predict(fx).numpy(), tm.predict(tx).numpy())
    fo, to = fm(fx[2], fastgrad.tensor(t[2])), tm(tx[2], torch.tensor(t[2]))
    assert fo.output.shape == to.output.shape == ()
    assert_close(fo.output, to.output, **TOL[dtype])
    _same_error(lambda: fm(fx, fastgrad.tensor(np.array([0, 1, 2, 3, 4, 5, 20]))),
                lambda: tm(tx, torch.tensor(np.array([0, 1, 2, 3, 4, 5, 20]))), RuntimeError)
    _same_error(lambda: fm(fx, fastgrad.tensor(t[:3])), lambda: tm(tx, torch.tensor(t[:3])), RuntimeError)
    _same_error(lambda: fm(fx, fastgrad.tensor(3)), lambda: tm(tx, torch.tensor(3)), RuntimeError)
    for cutoffs in ([], [4, 4], [0, 5], [5, 20], [10, 5]):
        _same_error(lambda: nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs),
                    lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, cutoffs), ValueError)


# --------------------------------------------------------------------------- DataParallel, SyncBatchNorm, Container
def test_data_parallel_passes_through(torch):
    fm, tm = nn.DataParallel(nn.Linear(3, 2)), torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert repr(fm) == fg_repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict()) == ["module.weight", "module.bias"]
    assert fm.device_ids == tm.device_ids == []
    assert isinstance(fm.module, nn.Linear) and fm.module is list(fm.children())[0]
    fm.load_state_dict({k: fastgrad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    x = _x(4, 3, dtype=np.float32)
    assert_close(fm(fastgrad.tensor(x)), tm(torch.tensor(x)))
    assert nn.parallel.DataParallel is nn.DataParallel
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        nn.parallel.data_parallel(fm, fastgrad.tensor(x))


@pytest.mark.parametrize("kw", [{}, dict(momentum=None, bias=False), dict(affine=False, track_running_stats=False)])
def test_sync_batchnorm_is_batchnorm_on_one_process(torch, kw):
    fm, tm = nn.SyncBatchNorm(3, **kw), torch.nn.SyncBatchNorm(3, **kw)
    assert repr(fm) == fg_repr(tm) and list(fm.state_dict()) == list(tm.state_dict())
    assert fm.process_group is None
    for shape in ((4, 3), (2, 3, 5), (2, 3, 2, 2, 2)):
        x = _x(*shape, dtype=np.float32)
        fx, tx = _both(torch, x)
        fo, to = fm(fx), tm(tx)
        assert_close(fo, to)
        _backward_both(torch, fo, to, np.float32)
        assert_close(fx.grad, tx.grad, 1e-4, 1e-4)
    for a, b in zip(fm.state_dict().values(), tm.state_dict().values()):
        assert_close(a, b.numpy())
    fm.eval(), tm.eval()
    x = _x(2, 3, 4, dtype=np.float32)
    assert_close(fm(fastgrad.tensor(x)), tm(torch.tensor(x)))
    _same_error(lambda: fm(fastgrad.zeros(3)), lambda: tm(torch.zeros(3)), ValueError)
    _same_error(lambda: fm(fastgrad.zeros(2, 0)), lambda: tm(torch.zeros(2, 0)), ValueError)


def test_convert_sync_batchnorm(torch):
    def build(lib):
        m = lib.nn.Sequential(lib.nn.Conv2d(2, 3, 1), lib.nn.BatchNorm2d(3, momentum=0.2),
                              lib.nn.Sequential(lib.nn.BatchNorm1d(3, affine=False), lib.nn.BatchNorm3d(3, bias=False)))
        m[1].eval()
        return m

    fm, tm = build(fastgrad), build(torch)
    bn = fm[1]
    fs, ts = nn.SyncBatchNorm.convert_sync_batchnorm(fm), torch.nn.SyncBatchNorm.convert_sync_batchnorm(tm)
    assert repr(fs) == fg_repr(ts)
    assert list(fs.state_dict()) == list(ts.state_dict())
    assert type(fs[1]) is nn.SyncBatchNorm and fs[1].weight is bn.weight and fs[1].running_mean is bn.running_mean
    assert not fs[1].training and fs[2][0].training and fs[0] is fm[0]
    c = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(4))
    assert type(c) is nn.SyncBatchNorm and c.num_features == 4
    assert copy.deepcopy(fs)[1].momentum == 0.2


def test_container_is_deprecated(torch):
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
        fm = nn.Container(a=nn.Linear(2, 3), b=nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.Container(a=torch.nn.Linear(2, 3), b=torch.nn.ReLU())
    assert repr(fm) == fg_repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict()) == ["a.weight", "a.bias"]
    assert isinstance(fm, nn.Module) and nn.modules.container.Container is nn.Container


def test_forward_mode_matches_torch(torch):
    from fastgrad.autograd import forward_ad

    tf = torch.nn.functional
    x, tx_ = _x(5, 3), _x(5, 3)
    x[3] = x[1]
    w, tw_ = _x(10, 3), _x(10, 3)
    img, timg = _x(1, 2, 4, 5), _x(1, 2, 4, 5)
    grid, tgrid = RNG.random((1, 3, 2, 2)) * 2.4 - 1.2, _x(1, 3, 2, 2)
    idx, off, psw, tpsw = np.array([1, 2, 4, 4, 9]), np.array([0, 2, 2]), _x(5), _x(5)
    cases = [
        (lambda a: F.pdist(a, 1.5), lambda a: torch.pdist(a, 1.5), (x,), (tx_,)),
        (lambda a: F.pdist(a), lambda a: torch.pdist(a), (x,), (tx_,)),
        (lambda a, p: F.embedding_bag(fastgrad.tensor(idx), a, fastgrad.tensor(off), mode="sum", per_sample_weights=p),
         lambda a, p: tf.embedding_bag(torch.tensor(idx), a, torch.tensor(off), mode="sum", per_sample_weights=p),
         (w, psw), (tw_, tpsw)),
        (lambda a: F.embedding_bag(fastgrad.tensor(idx), a, fastgrad.tensor(off), mode="max"),
         lambda a: tf.embedding_bag(torch.tensor(idx), a, torch.tensor(off), mode="max"), (w,), (tw_,)),
        (lambda a, g: F.grid_sample(a, g, "bilinear", "reflection", False),
         lambda a, g: tf.grid_sample(a, g, "bilinear", "reflection", False), (img, grid), (timg, tgrid)),
        (lambda a, g: F.grid_sample(a, g, "bicubic", "zeros", True),
         lambda a, g: tf.grid_sample(a, g, "bicubic", "zeros", True), (img, grid), (timg, tgrid)),
    ]
    for fg_fn, th_fn, primals, tangents in cases:
        with forward_ad.dual_level():
            duals = [forward_ad.make_dual(fastgrad.tensor(p), fastgrad.tensor(t)) for p, t in zip(primals, tangents)]
            out = forward_ad.unpack_dual(fg_fn(*duals)).tangent
        tp, tt = tuple(torch.tensor(p) for p in primals), tuple(torch.tensor(t) for t in tangents)
        try:
            _, ref = torch.func.jvp(th_fn, tp, tt)
        except NotImplementedError:  # torch has no forward AD for pdist: J t from its Jacobian
            jac = torch.autograd.functional.jacobian(th_fn, tp)
            ref = sum((j.reshape(-1, t.numel()) @ t.reshape(-1)) for j, t in zip(jac, tt)).reshape(out.shape)
        assert_close(out, ref, 1e-10, 1e-10)
    assert fastgrad.pdist is F.pdist
