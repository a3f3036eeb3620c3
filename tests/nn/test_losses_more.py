"""Loss functions and modules against PyTorch: values and gradients (float32 and float64, every
reduction, the legacy size_average/reduce arguments), float64 gradcheck, reprs and errors."""
import warnings

import numpy as np
import pytest
from nn_helpers import fg_repr
from torch_compare import both, both_raise, warns_both

import fastgrad
from fastgrad.autograd import gradcheck, gradgradcheck

R = np.random.default_rng(0)


def r(*s):
    return R.standard_normal(s)


def u(*s):
    return R.uniform(0.05, 0.95, s)


def sgn(*s):
    return np.where(R.random(s) < 0.5, -1.0, 1.0)


def F(L):
    return L.nn.functional


def binary(*s):
    return (R.random(s) < 0.5).astype(np.float64)


def labels(n, c):
    return R.integers(0, c, n).astype(np.int64)


def multilabels(n, c):
    t = np.full((n, c), -1, np.int64)
    for i in range(n):
        k = R.integers(0, c + 1)
        t[i, :k] = R.permutation(c)[:k]
    if n > 1:
        t[0, :2] = [1, 1] if c > 1 else t[0, :2]  # a repeated label counts twice (PyTorch)
    return t


# name: (function of the library, positional args, keyword args, argument positions that get a gradient)
CASES = {
    "l1": (lambda L: F(L).l1_loss, [r(3, 4), r(3, 4)], {}, (0, 1)),
    "l1_weight": (lambda L: F(L).l1_loss, [r(3, 4), r(3, 4)], {"weight": u(3, 4)}, (0, 1)),
    "smooth_l1": (lambda L: F(L).smooth_l1_loss, [r(3, 4), r(3, 4)], {"beta": 0.5}, (0, 1)),
    "smooth_l1_beta0": (lambda L: F(L).smooth_l1_loss, [r(3, 4), r(3, 4)], {"beta": 0.0}, (0, 1)),
    "huber": (lambda L: F(L).huber_loss, [r(3, 4), r(3, 4)], {"delta": 0.7}, (0, 1)),
    "huber_weight": (lambda L: F(L).huber_loss, [r(3, 4), r(3, 4)], {"weight": u(3, 4)}, (0, 1)),
    "bce": (lambda L: F(L).binary_cross_entropy, [u(3, 4), u(3, 4)], {}, (0, 1)),
    "bce_weight": (lambda L: F(L).binary_cross_entropy, [u(3, 4), u(3, 4)], {"weight": u(4)}, (0, 1)),
    "bce_0_1": (lambda L: F(L).binary_cross_entropy, [np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5]),
                                                      np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.5])], {}, (0,)),
    "bce_logits": (lambda L: F(L).binary_cross_entropy_with_logits, [r(3, 4) * 3, u(3, 4)], {}, (0, 1)),
    "bce_logits_pw": (lambda L: F(L).binary_cross_entropy_with_logits, [r(3, 4), u(3, 4)],
                      {"pos_weight": u(4) * 3, "weight": u(3, 4)}, (0, 1)),
    "kl": (lambda L: F(L).kl_div, [r(3, 4), u(3, 4)], {}, (0, 1)),
    "kl_zero_target": (lambda L: F(L).kl_div, [r(3, 4), u(3, 4) * binary(3, 4)], {}, (0, 1)),
    "kl_log": (lambda L: F(L).kl_div, [r(3, 4), r(3, 4)], {"log_target": True}, (0, 1)),
    "poisson": (lambda L: F(L).poisson_nll_loss, [r(3, 4), u(3, 4) * 5], {}, (0, 1)),
    "poisson_full": (lambda L: F(L).poisson_nll_loss, [r(3, 4), np.array([0.0, 0.5, 1.0, 2.5] * 3).reshape(3, 4)],
                     {"full": True}, (0, 1)),
    "poisson_rates": (lambda L: F(L).poisson_nll_loss, [u(3, 4) * 3, u(3, 4) * 5],
                      {"log_input": False, "full": True, "eps": 1e-3}, (0, 1)),
    "gaussian": (lambda L: F(L).gaussian_nll_loss, [r(3, 4), r(3, 4), u(3, 4)], {}, (0, 1, 2)),
    "gaussian_full_homo": (lambda L: F(L).gaussian_nll_loss, [r(3, 4), r(3, 4), u(3)], {"full": True}, (0, 1, 2)),
    "gaussian_bcast_last": (lambda L: F(L).gaussian_nll_loss, [r(3, 4), r(3, 4), u(3, 1)], {}, (0, 1, 2)),
    "gaussian_bcast_first": (lambda L: F(L).gaussian_nll_loss, [r(3, 4), r(3, 4), u(1, 4)], {}, (0, 1, 2)),
    "gaussian_clamped": (lambda L: F(L).gaussian_nll_loss, [r(3, 4), r(3, 4), u(3, 4) * binary(3, 4) * 1e-3],
                         {"eps": 1e-2}, (0, 1, 2)),
    "gaussian_target_bcast": (lambda L: F(L).gaussian_nll_loss, [r(3, 4), r(4), u(3, 4)], {}, (0, 1, 2)),
    "margin_ranking": (lambda L: F(L).margin_ranking_loss, [r(5), r(5), sgn(5)], {"margin": 0.3}, (0, 1, 2)),
    "hinge": (lambda L: F(L).hinge_embedding_loss, [r(3, 4), sgn(3, 4)], {"margin": 0.5}, (0,)),
    "hinge_other_targets": (lambda L: F(L).hinge_embedding_loss, [r(3, 4), np.array([1.0, -1, 0, 2] * 3).reshape(3, 4)],
                            {}, (0,)),
    "soft_margin": (lambda L: F(L).soft_margin_loss, [r(3, 4) * 3, sgn(3, 4)], {}, (0,)),
    "cosine_embedding": (lambda L: F(L).cosine_embedding_loss, [r(5, 4), r(5, 4), sgn(5)], {"margin": 0.2}, (0, 1)),
    "cosine_embedding_1d": (lambda L: F(L).cosine_embedding_loss, [r(4), r(4), np.array(-1.0)], {"margin": -0.5},
                            (0, 1)),
    "triplet": (lambda L: F(L).triplet_margin_loss, [r(5, 4), r(5, 4), r(5, 4)], {}, (0, 1, 2)),
    "triplet_swap_p1": (lambda L: F(L).triplet_margin_loss, [r(5, 4), r(5, 4), r(5, 4)],
                        {"swap": True, "p": 1.0, "margin": 2.0}, (0, 1, 2)),
    "triplet_p3": (lambda L: F(L).triplet_margin_loss, [r(5, 4), r(5, 4), r(5, 4)], {"p": 3.0, "eps": 1e-3},
                   (0, 1, 2)),
    "triplet_dist": (lambda L: F(L).triplet_margin_with_distance_loss, [r(5, 4), r(5, 4), r(5, 4)],
                     {"swap": True}, (0, 1, 2)),
    "triplet_dist_fn": (lambda L: (lambda a, p, n, **k: F(L).triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda x, y: 1.0 - F(L).cosine_similarity(x, y), margin=0.5, **k)),
        [r(5, 4), r(5, 4), r(5, 4)], {}, (0, 1, 2)),
    "multilabel_soft_margin": (lambda L: F(L).multilabel_soft_margin_loss, [r(3, 4), binary(3, 4)], {}, (0, 1)),
    "multilabel_soft_margin_w": (lambda L: F(L).multilabel_soft_margin_loss, [r(3, 4), binary(3, 4)],
                                 {"weight": u(4)}, (0, 1)),
    "multi_margin": (lambda L: F(L).multi_margin_loss, [r(6, 5), labels(6, 5)], {}, (0,)),
    "multi_margin_p2_w": (lambda L: F(L).multi_margin_loss, [r(6, 5), labels(6, 5)],
                          {"p": 2, "margin": 0.7, "weight": u(5)}, (0,)),
    "multi_margin_1d": (lambda L: F(L).multi_margin_loss, [r(5), np.array(3)], {}, (0,)),
    "multilabel_margin": (lambda L: F(L).multilabel_margin_loss, [r(6, 5), multilabels(6, 5)], {}, (0,)),
    "multilabel_margin_1d": (lambda L: F(L).multilabel_margin_loss, [r(5), np.array([3, 0, -1, 2, 4])], {}, (0,)),
}
NO_REDUCTION = {"triplet_dist_fn"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_functional_against_torch(torch, name, reduction, dtype):
    fn, args, kw, grad = CASES[name]
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
    kw = {k: v.astype(dtype) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    kw["reduction"] = reduction
    both(torch, fn, *args, grad=grad, **kw)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, args, kw, grad = CASES[name]
    if name in ("bce_0_1", "kl_zero_target", "poisson_full"):
        pytest.skip("infinite or NaN gradients at the boundary (compared with PyTorch above)")
    if name == "gaussian_clamped":
        grad = (0, 1)  # var sits at 0, where the clamp is
    ts = [fastgrad.tensor(a, requires_grad=i in grad and a.dtype.kind == "f") for i, a in enumerate(args)]
    kwt = {k: fastgrad.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = lambda *xs: fn(fastgrad)(*xs, **kwt)  # noqa: E731
        assert gradcheck(f, ts)
        if name in ("bce", "bce_weight", "kl", "poisson_rates", "gaussian", "cosine_embedding", "multi_margin_p2_w",
                    "soft_margin", "bce_logits_pw", "triplet"):
            assert gradgradcheck(f, ts)


# --------------------------------------------------------------------------- legacy arguments
@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True), (False, True),
                                                 (True, False), (None, True)])
@pytest.mark.parametrize("name", ["l1", "smooth_l1", "bce", "bce_logits", "kl", "poisson", "margin_ranking",
                                  "hinge", "soft_margin", "cosine_embedding", "triplet", "multilabel_soft_margin",
                                  "multi_margin", "multilabel_margin"])
def test_legacy_size_average_reduce(torch, name, size_average, reduce):
    fn, args, kw, grad = CASES[name]
    both(torch, fn, *args, grad=grad, size_average=size_average, reduce=reduce, **kw)
    fg, th = warns_both(torch, fn, *args, size_average=size_average, reduce=reduce, **kw)
    legacy = [m for m in th if "size_average" in m]
    assert legacy and legacy == [m for m in fg if "size_average" in m]


# --------------------------------------------------------------------------- modules
MODULES = [
    ("PoissonNLLLoss", dict(log_input=False, full=True, eps=1e-4), [u(3, 4) * 2, u(3, 4) * 4]),
    ("PoissonNLLLoss", dict(reduction="sum"), [r(3, 4), u(3, 4) * 4]),
    ("GaussianNLLLoss", dict(full=True, eps=1e-3, reduction="none"), [r(3, 4), r(3, 4), u(3, 1)]),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True), [r(3, 4), r(3, 4)]),
    ("HingeEmbeddingLoss", dict(margin=2.0), [r(3, 4), sgn(3, 4)]),
    ("MultiLabelMarginLoss", dict(reduction="none"), [r(4, 5), multilabels(4, 5)]),
    ("SoftMarginLoss", dict(reduction="sum"), [r(3, 4), sgn(3, 4)]),
    ("MultiLabelSoftMarginLoss", dict(weight="u4"), [r(3, 4), binary(3, 4)]),
    ("CosineEmbeddingLoss", dict(margin=0.1), [r(5, 4), r(5, 4), sgn(5)]),
    ("MarginRankingLoss", dict(margin=0.5, reduction="none"), [r(5), r(5), sgn(5)]),
    ("MultiMarginLoss", dict(p=2, margin=0.5, weight="u4"), [r(6, 4), labels(6, 4)]),
    ("TripletMarginLoss", dict(margin=0.5, p=1.0, swap=True), [r(5, 4), r(5, 4), r(5, 4)]),
    ("TripletMarginWithDistanceLoss", dict(margin=0.5, swap=True, reduction="sum"), [r(5, 4), r(5, 4), r(5, 4)]),
    ("HuberLoss", dict(delta=0.3), [r(3, 4), r(3, 4)]),
    ("SmoothL1Loss", dict(beta=0.3, reduction="none"), [r(3, 4), r(3, 4)]),
    ("BCELoss", dict(weight="u4"), [u(3, 4), u(3, 4)]),
    ("BCEWithLogitsLoss", dict(weight="u4", pos_weight="u4"), [r(3, 4), u(3, 4)]),
    ("PairwiseDistance", dict(p=1.5, eps=1e-3, keepdim=True), [r(3, 4), r(3, 4)]),
    ("CosineSimilarity", dict(dim=0, eps=1e-6), [r(3, 4), r(3, 4)]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("i", range(len(MODULES)))
def test_modules_against_torch(torch, i, dtype):
    name, kw, args = MODULES[i]
    w = u(4).astype(dtype)
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]

    def make_module(L):
        k = {key: L.tensor(w) if v == "u4" else v for key, v in kw.items()}
        return getattr(L.nn, name)(**k)

    fg_mod, th_mod = make_module(fastgrad), make_module(torch)
    assert repr(fg_mod) == fg_repr(th_mod)
    assert sorted(dict(fg_mod.named_buffers())) == sorted(dict(th_mod.named_buffers()))
    grad = tuple(j for j, a in enumerate(args) if a.dtype.kind == "f" and not (
        name in ("HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss") and j == len(args) - 1))
    both(torch, lambda L: make_module(L), *args, grad=grad)


def test_module_paths_and_defaults(torch):
    import inspect

    for name in ["PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SoftMarginLoss",
                 "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "MultiMarginLoss",
                 "TripletMarginLoss", "TripletMarginWithDistanceLoss", "HuberLoss", "SmoothL1Loss", "KLDivLoss",
                 "BCELoss", "BCEWithLogitsLoss", "NLLLoss2d"]:
        cls = getattr(fastgrad.nn, name)
        assert cls.__module__ == "fastgrad.nn.modules.loss"
        assert str(inspect.signature(cls.__init__)) == str(inspect.signature(getattr(torch.nn, name).__init__)) \
            .replace(": float", "").replace(": bool", "").replace(": int", "").replace(": str", "") \
            .replace(" -> None", "").replace(" = ", "=").replace(": torch.Tensor | None", "") \
            .replace(": collections.abc.Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None", ""), name
    for name in ["PairwiseDistance", "CosineSimilarity"]:
        assert getattr(fastgrad.nn, name).__module__ == "fastgrad.nn.modules.distance"
    for name in ["poisson_nll_loss", "gaussian_nll_loss", "kl_div", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "l1_loss", "margin_ranking_loss",
                 "hinge_embedding_loss", "multilabel_margin_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
                 "cosine_embedding_loss", "multi_margin_loss", "triplet_margin_loss",
                 "triplet_margin_with_distance_loss"]:
        fs = inspect.signature(getattr(fastgrad.nn.functional, name))
        ts = inspect.signature(getattr(torch.nn.functional, name))
        assert list(fs.parameters) == list(ts.parameters), name
        assert [p.default for p in fs.parameters.values()] == [p.default for p in ts.parameters.values()], name
        assert [p.kind for p in fs.parameters.values()] == [p.kind for p in ts.parameters.values()], name


def test_reprs(torch):
    for name, kw in [("MultiMarginLoss", {"p": 2}), ("TripletMarginWithDistanceLoss", {}), ("PoissonNLLLoss", {}),
                     ("GaussianNLLLoss", {"full": True}), ("PairwiseDistance", {}), ("CosineSimilarity", {"dim": 0}),
                     ("HuberLoss", {"delta": 2.0}), ("NLLLoss2d", {})]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert repr(getattr(fastgrad.nn, name)(**kw)) == fg_repr(getattr(torch.nn, name)(**kw))
    seq = fastgrad.nn.Sequential(fastgrad.nn.TripletMarginWithDistanceLoss(
        distance_function=fastgrad.nn.PairwiseDistance(p=1.0)))
    tseq = torch.nn.Sequential(torch.nn.TripletMarginWithDistanceLoss(distance_function=torch.nn.PairwiseDistance(p=1.0)))
    assert repr(seq) == fg_repr(tseq)


# --------------------------------------------------------------------------- binary cross entropy at 0 and 1
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_clamps_logs_like_torch(torch, dtype):
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-45 if dtype == np.float32 else 1e-300, 1 - 1e-7], dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.25, 1.0, 0.0], dtype)
    w = np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.0, 2.0], dtype)
    for kw in ({}, {"weight": w}):
        for red in ("none", "sum", "mean"):
            fo, to = both(torch, lambda L: F(L).binary_cross_entropy, x, t, grad=(0,), reduction=red, **kw)
            assert np.isfinite(fo.detach().numpy()).all()
    xf = fastgrad.tensor(x, requires_grad=True)
    F(fastgrad).binary_cross_entropy(xf, fastgrad.tensor(t)).backward()
    assert np.isfinite(xf.grad.numpy()).all()
    both(torch, lambda L: F(L).binary_cross_entropy, x[4:], t[4:], grad=(0, 1))  # target gradient: -logit(x)
    both(torch, lambda L: L.nn.BCELoss(weight=L.tensor(w)), x, t, grad=(0,))


def test_kl_div_gradients_at_zero_target(torch):
    """xlogy(t, t)'s gradient in t is NaN at t == 0 in PyTorch; d/dinput is -t (0 there)."""
    x, t = r(2, 3), np.array([[0.0, 0.2, 0.8], [0.5, 0.0, 0.5]])
    fo, to = both(torch, lambda L: F(L).kl_div, x, t, reduction="batchmean")
    both(torch, lambda L: F(L).kl_div, x, t, grad=(0,), reduction="sum")


def test_poisson_full_target_gradient(torch):
    """The Stirling term is differentiable in the target (PyTorch's masked_fill of it)."""
    x, t = r(6), np.array([0.0, 0.5, 1.0, 1.5, 3.0, 10.0])
    for log_input in (True, False):
        xi = np.abs(x) + 0.1 if not log_input else x
        both(torch, lambda L: F(L).poisson_nll_loss, xi, t, log_input=log_input, full=True, reduction="sum")


def test_gaussian_nll_float_var(torch):
    both(torch, lambda L: (lambda a, b: F(L).gaussian_nll_loss(a, b, 0.5)), r(3, 4), r(3, 4))
    both(torch, lambda L: (lambda a, b: F(L).gaussian_nll_loss(a, b, 1e-9, full=True)), r(3, 4), r(3, 4))


def test_cosine_similarity_and_pairwise_distance(torch):
    zeros = np.zeros((2, 4))
    for x1, x2, kw in [(r(3, 4), r(3, 4), {}), (r(3, 4), r(4), {"dim": -1}), (r(2, 3, 4), r(2, 1, 4), {"dim": 2}),
                       (zeros, r(2, 4), {}), (r(5, 4) * 1e-5, r(5, 4), {"eps": 1e-3})]:
        both(torch, lambda L: F(L).cosine_similarity, x1, x2, **kw)
        both(torch, lambda L: L.cosine_similarity, x1, x2, **kw)
    for p in (2.0, 1.0, 3.0, float("inf"), 0.5):
        for keepdim in (False, True):
            both(torch, lambda L: F(L).pairwise_distance, r(3, 4), r(3, 4), p=p, keepdim=keepdim)
    both(torch, lambda L: F(L).pairwise_distance, r(4), r(4))
    both(torch, lambda L: F(L).pairwise_distance, r(3, 4), r(4), eps=0.0)
    both(torch, lambda L: L.pairwise_distance, r(2, 3, 4), r(2, 3, 4), p=1.0)
    x = r(3, 4)
    both(torch, lambda L: F(L).pairwise_distance, x, x - 1e-6)  # the difference plus eps is 0


# --------------------------------------------------------------------------- errors
ERRORS = [
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1, 4])),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1])),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([[0], [1], [2]])),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1, -1])),
    lambda L: F(L).multi_margin_loss(L.randn(4), L.tensor([1, 2])),
    lambda L: F(L).multi_margin_loss(L.randn(2, 3, 4), L.tensor([2])),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1, 2]), weight=L.ones(3)),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1, 2]), weight=L.ones(2, 2)),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1, 2]), p=3),
    lambda L: F(L).multi_margin_loss(L.randn(3, 4), L.tensor([0, 1, 2]), weight=L.ones(4, requires_grad=True)),
    lambda L: F(L).multilabel_margin_loss(L.randn(3, 4), L.tensor([[0, 1, -1]] * 3)),
    lambda L: F(L).multilabel_margin_loss(L.randn(3, 4), L.tensor([[0, 1, -1, 5]] * 3)),
    lambda L: F(L).multilabel_margin_loss(L.randn(4), L.tensor([0, 1, -1])),
    lambda L: F(L).multilabel_margin_loss(L.randn(2, 3, 4), L.tensor([0, 1, -1, 2])),
    lambda L: F(L).multilabel_margin_loss(L.randn(3, 4), L.tensor([[0.0, 1, -1, 2]] * 3)),
    lambda L: F(L).cosine_embedding_loss(L.randn(3, 4), L.randn(3, 4), L.ones(3, 1)),
    lambda L: F(L).cosine_embedding_loss(L.randn(3, 4), L.randn(3, 4), L.ones(())),
    lambda L: F(L).cosine_embedding_loss(L.randn(4), L.randn(4), L.ones(3)),
    lambda L: F(L).margin_ranking_loss(L.randn(3, 4), L.randn(3, 4), L.ones(3)),
    lambda L: F(L).triplet_margin_loss(L.randn(3, 4), L.randn(3, 4), L.randn(4)),
    lambda L: F(L).triplet_margin_loss(L.randn(3, 4), L.randn(3, 4), L.randn(3, 4), margin=0),
    lambda L: F(L).triplet_margin_with_distance_loss(L.randn(3, 4), L.randn(3, 4), L.randn(4)),
    lambda L: F(L).triplet_margin_with_distance_loss(L.randn(3, 4), L.randn(3, 4), L.randn(3, 4), margin=-1),
    lambda L: F(L).triplet_margin_with_distance_loss(L.randn(3, 4), L.randn(3, 4), L.randn(3, 4), reduction="foo"),
    lambda L: L.nn.TripletMarginLoss(margin=0),
    lambda L: L.nn.TripletMarginWithDistanceLoss(margin=0.0),
    lambda L: L.nn.MultiMarginLoss(p=3),
    lambda L: L.nn.MultiMarginLoss(weight=L.ones(2, 2)),
    lambda L: L.nn.HuberLoss(delta="a"),
    lambda L: F(L).poisson_nll_loss(L.randn(3, 4), L.randn(3, 4), reduction="foo"),
    lambda L: F(L).gaussian_nll_loss(L.randn(3, 4), L.randn(3, 4), L.ones(3, 4), reduction="foo"),
    lambda L: F(L).gaussian_nll_loss(L.randn(3, 4), L.randn(3, 4), L.ones(2, 4)),
    lambda L: F(L).gaussian_nll_loss(L.randn(3, 4), L.randn(3, 4), L.ones(3, 1, 4)),
    lambda L: F(L).gaussian_nll_loss(L.randn(3, 4), L.randn(3, 4), L.ones(1, 1)),
    lambda L: F(L).gaussian_nll_loss(L.randn(3, 4), L.randn(3, 4), -L.ones(3, 4)),
    lambda L: F(L).gaussian_nll_loss(L.randn(3, 4), L.randn(3, 4), -1.0),
    lambda L: F(L).kl_div(L.randn(3, 4), L.randn(3, 4), reduction="foo"),
    lambda L: F(L).binary_cross_entropy(L.rand(3, 4), L.rand(3, 4) * 2 + 1.5),
    lambda L: F(L).binary_cross_entropy(L.rand(3, 4) + 1.5, L.rand(3, 4)),
    lambda L: F(L).binary_cross_entropy(L.rand(3, 4), L.rand(3)),
    lambda L: F(L).binary_cross_entropy(L.rand(3, 4), L.rand(3, 4), weight=L.ones(2, 3, 4)),
    lambda L: F(L).binary_cross_entropy(L.rand(3, 4), L.rand(3, 4), weight=L.ones(4, requires_grad=True)),
    lambda L: F(L).binary_cross_entropy(L.rand(3, 4), L.rand(3, 4), reduction="foo"),
    lambda L: F(L).binary_cross_entropy_with_logits(L.rand(3, 4), L.rand(3)),
    lambda L: F(L).binary_cross_entropy_with_logits(L.rand(3, 4), L.rand(3, 4), pos_weight=L.ones(4, requires_grad=True)),
    lambda L: F(L).binary_cross_entropy_with_logits(L.rand(3, 4), L.rand(3, 4), weight=L.ones(4, requires_grad=True)),
    lambda L: F(L).soft_margin_loss(L.rand(3, 4), L.rand(3, 4, requires_grad=True)),
    lambda L: F(L).huber_loss(L.randn(3, 4), L.randn(3, 4), delta=0),
    lambda L: F(L).huber_loss(L.randn(3, 4), L.randn(3, 4), weight=L.ones(4)),
    lambda L: F(L).l1_loss(L.randn(3, 4), L.randn(3, 4), weight=L.ones(4)),
    lambda L: F(L).smooth_l1_loss(L.randn(3, 4), L.randn(3, 4), beta=-1),
    lambda L: F(L).multilabel_soft_margin_loss(L.randn(3, 4), L.rand(3, 4), reduction="foo"),
    lambda L: F(L).soft_margin_loss(L.randn(3, 4), L.rand(3, 4), reduction="foo"),
    lambda L: F(L).l1_loss(L.randn(3, 4), L.rand(3, 4), reduction="foo"),
    lambda L: F(L).cosine_similarity(L.randn(3, 4), L.randn(2, 4)),
    lambda L: F(L).cosine_similarity(L.ones(3, 4, dtype=L.int64), L.ones(3, 4, dtype=L.int64)),
    lambda L: F(L).pairwise_distance(L.randn(3, 4), L.randn(2, 4)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(torch, i):
    both_raise(torch, lambda L: (lambda: ERRORS[i](L)))


def test_shape_warnings(torch):
    for fn in (lambda L: F(L).l1_loss, lambda L: F(L).smooth_l1_loss, lambda L: F(L).huber_loss):
        fg, th = warns_both(torch, fn, r(3, 4), r(4))
        assert fg == th and th
    fg, th = warns_both(torch, lambda L: F(L).kl_div, r(3, 4), u(3, 4))
    assert fg == th and th
    fg, th = warns_both(torch, lambda L: F(L).kl_div, r(3, 4), u(3, 4), reduction="batchmean")
    assert fg == th == []


# --------------------------------------------------------------------------- CTC
def _ctc_inputs(dtype):
    g = np.random.default_rng(5)
    T, N, C = 12, 4, 5
    z = g.standard_normal((T, N, C))
    lp = (z - np.log(np.exp(z).sum(2, keepdims=True))).astype(dtype)
    tg = g.integers(1, C, (N, 6)).astype(np.int64)
    tg[1, :3] = [2, 2, 3]  # a repeated label needs a blank between
    return lp, tg, np.array([12, 10, 12, 7]), np.array([6, 3, 0, 4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_against_torch(torch, dtype, reduction, zero_infinity):
    lp, tg, il, tl = _ctc_inputs(dtype)
    kw = dict(reduction=reduction, zero_infinity=zero_infinity)
    both(torch, lambda L: (lambda x: F(L).ctc_loss(x, L.tensor(tg), L.tensor(il), L.tensor(tl), **kw)), lp)
    both(torch, lambda L: (lambda x: F(L).ctc_loss(x, L.tensor(tg), tuple(il), tuple(tl), 0, **kw)), lp)
    both(torch, lambda L: (lambda x: L.nn.CTCLoss(**kw)(x, L.tensor(tg), L.tensor(il), L.tensor(tl))), lp)
    # input lengths too short for the targets: an infinite loss (0 with zero_infinity, and no gradient)
    both(torch, lambda L: (lambda x: F(L).ctc_loss(x, L.tensor(tg), L.tensor([12, 3, 12, 2]), L.tensor(tl), **kw)),
         lp)
    flat = np.array([1, 3, 4, 1, 0, 0, 3, 4, 1], np.int64)  # concatenated targets, blank = 2
    both(torch, lambda L: (lambda x: F(L).ctc_loss(x, L.tensor(flat), L.tensor(il), L.tensor([3, 2, 0, 4]), blank=2,
                                                   **kw)), lp)
    both(torch, lambda L: (lambda x: F(L).ctc_loss(x[:, 0], L.tensor(tg[0]), L.tensor(12), L.tensor(6), **kw)), lp)
    logits = R.standard_normal(lp.shape).astype(dtype)
    both(torch, lambda L: (lambda x: F(L).ctc_loss(x.log_softmax(2), L.tensor(tg), L.tensor(il), L.tensor(tl), **kw)),
         logits)


def test_ctc_loss_module_and_errors(torch):
    for kw in ({}, {"blank": 3, "reduction": "sum", "zero_infinity": True}):
        assert repr(fastgrad.nn.CTCLoss(**kw)) == fg_repr(torch.nn.CTCLoss(**kw))
    lp, tg, il, tl = _ctc_inputs(np.float32)
    for args, kw in [((tg, [13, 2, 3, 4], tl), {}), ((tg[:, :2], il, tl), {}), ((tg, il[:3], tl), {}),
                     ((tg, il, tl[:2]), {}), ((tg, il, tl), {"blank": 5}), ((tg, il, tl), {"reduction": "foo"})]:
        both_raise(torch, lambda L: (lambda: F(L).ctc_loss(L.tensor(lp), L.tensor(args[0]), L.tensor(np.array(args[1])),
                                                           L.tensor(np.array(args[2])), **kw)))
    x = fastgrad.tensor(lp.astype(np.float64), requires_grad=True)
    (g,) = fastgrad.autograd.grad(F(fastgrad).ctc_loss(x, fastgrad.tensor(tg), fastgrad.tensor(il),
                                                       fastgrad.tensor(tl)), x, create_graph=True)
    with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward is not implemented"):
        g.sum().backward()


# --------------------------------------------------------------------------- forward mode
JVP = {
    "bce": (lambda L: lambda x, t: F(L).binary_cross_entropy(x.sigmoid(), t.sigmoid()), 2),
    "bce_logits_pw": (lambda L: lambda x, t: F(L).binary_cross_entropy_with_logits(
        x, t.sigmoid(), pos_weight=L.tensor([1.0, 2.0, 0.5, 3.0], dtype=L.float64)), 2),
    "kl": (lambda L: lambda x, t: F(L).kl_div(x, t.sigmoid(), reduction="sum"), 2),
    "poisson_full": (lambda L: lambda x, t: F(L).poisson_nll_loss(x, t.exp() + 1, full=True), 2),
    "gaussian": (lambda L: lambda x, t, v: F(L).gaussian_nll_loss(x, t, v.exp()), 3),
    "cosine_similarity": (lambda L: lambda x, t: F(L).cosine_similarity(x, t), 2),
    "triplet": (lambda L: lambda a, p, n: F(L).triplet_margin_loss(a, p, n, swap=True), 3),
    "cosine_embedding": (lambda L: lambda a, b: F(L).cosine_embedding_loss(
        a, b, L.tensor([1.0, -1.0, 1.0], dtype=L.float64)), 2),
    "huber": (lambda L: lambda x, t: F(L).huber_loss(x, t, delta=0.5), 2),
}


@pytest.mark.parametrize("name", sorted(JVP))
def test_forward_mode_against_torch(torch, name):
    import fastgrad.autograd.forward_ad as fw

    fn, k = JVP[name]
    g = np.random.default_rng(2)
    xs = [g.standard_normal((3, 4)) for _ in range(k)]
    ts = [g.standard_normal((3, 4)) for _ in range(k)]
    res = []
    for lib, ad in ((fastgrad, fw), (torch, torch.autograd.forward_ad)):
        with ad.dual_level():
            y = fn(lib)(*[ad.make_dual(lib.tensor(x), lib.tensor(t)) for x, t in zip(xs, ts)])
            res.append(ad.unpack_dual(y).tangent.numpy().copy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-9, atol=1e-12)


def test_ctc_loss_forward_mode():
    """Through log_softmax, the jvp is the plain directional derivative (finite differences)."""
    import fastgrad.autograd.forward_ad as fw

    g = np.random.default_rng(4)
    z, tz = g.standard_normal((8, 2, 4)), g.standard_normal((8, 2, 4))
    tg, il, tl = fastgrad.tensor([[1, 2, 2], [3, 1, 0]]), fastgrad.tensor([8, 6]), fastgrad.tensor([3, 2])

    def f(x):
        return F(fastgrad).ctc_loss(x.log_softmax(2), tg, il, tl, reduction="sum")

    with fw.dual_level():
        jv = fw.unpack_dual(f(fw.make_dual(fastgrad.tensor(z), fastgrad.tensor(tz)))).tangent.item()
    fd = (f(fastgrad.tensor(z + 1e-6 * tz)).item() - f(fastgrad.tensor(z - 1e-6 * tz)).item()) / 2e-6
    assert abs(jv - fd) < 1e-6
