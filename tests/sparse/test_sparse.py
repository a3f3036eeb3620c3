"""Sparse COO tensors (fastgrad/sparse): construction, printing, coalescing, to_dense/to_sparse and
torch.sparse.mm, with values and gradients (to the values, the dense operand and a sparse leaf)
equal to PyTorch's."""
import warnings

import numpy as np
import pytest

import fastgrad

IDX = [[0, 1, 1, 0], [2, 0, 2, 2]]  # (0, 2) appears twice: uncoalesced
VALS = [3.0, 4.0, 5.0, 1.0]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's "Sparse invariant checks are implicitly disabled"
        yield


def _repr(t):
    """repr without the grad_fn name (PyTorch's node names differ)."""
    s = repr(t)
    return s.split("grad_fn=")[0]


def fg_repr(t):
    return _repr(t).replace("torch.", "fastgrad.")


def np_(t):
    return t.detach().numpy()


def both(torch, fn):
    return fn(torch), fn(fastgrad)


def test_construction_and_repr_match_torch(torch):
    cases = [
        lambda L: L.sparse_coo_tensor(L.tensor(IDX), L.tensor(VALS), (2, 3)),
        lambda L: L.sparse_coo_tensor(IDX, VALS),
        lambda L: L.sparse_coo_tensor(IDX, VALS, (2, 3), dtype=L.float64),
        lambda L: L.sparse_coo_tensor([[0, 1], [1, 0]], [1, 2]),
        lambda L: L.sparse_coo_tensor(L.tensor(IDX), L.ones(4, 5)),
        lambda L: L.sparse_coo_tensor(IDX, VALS, (2, 3), requires_grad=True),
        lambda L: L.sparse_coo_tensor(L.zeros(2, 0, dtype=L.int64), L.zeros(0), (2, 2)),
        lambda L: L.zeros(2, 3).to_sparse(1),
        lambda L: L.tensor(3.0).to_sparse(),
        lambda L: L.tensor([[0.0, 2.0], [0.0, 0.0]], dtype=L.float64).to_sparse(),
        lambda L: L.tensor([[0, 2], [3, 0]]).to_sparse(),
        lambda L: L.sparse_coo_tensor(IDX, VALS, (2, 3)).coalesce(),
        lambda L: L.sparse_coo_tensor([[0, 1, 0], [1, 0, 1]], [1.0, 2, 3], (2, 3)).t(),
    ]
    for c in cases:
        t, f = both(torch, c)
        assert _repr(f) == fg_repr(t)
        assert f.is_sparse and f.layout == fastgrad.sparse_coo and repr(f.layout) == "fastgrad.sparse_coo"
        assert f.is_coalesced() == t.is_coalesced() and f._nnz() == t._nnz()
        assert f.sparse_dim() == t.sparse_dim() and f.dense_dim() == t.dense_dim()
        assert tuple(f.shape) == tuple(t.shape) and f.dim() == t.dim()
        np.testing.assert_array_equal(np_(f.to_dense()), np_(t.to_dense()))
        np.testing.assert_array_equal(f._indices().numpy(), t._indices().numpy())
        np.testing.assert_array_equal(np_(f._values()), np_(t._values()))
        assert f.type() == t.type()
    assert not fastgrad.ones(2).is_sparse and fastgrad.ones(2).layout == fastgrad.strided
    x = fastgrad.ones(2)
    assert x.to_dense() is x


def test_constructor_errors_match_torch(torch):
    i = [[0, 1, 1, 0], [2, 0, 2, 2]]
    cases = [
        lambda L: L.sparse_coo_tensor(i, VALS, (2, 2), check_invariants=True),
        lambda L: L.sparse_coo_tensor(L.tensor(i)[0], L.tensor(VALS), (2, 3)),
        lambda L: L.sparse_coo_tensor(i, VALS[:3], (2, 3)),
        lambda L: L.sparse_coo_tensor(i, VALS, (2, 3, 4)),
        lambda L: L.sparse_coo_tensor(i, L.ones(4, 5), (2, 3)),
        lambda L: L.sparse_coo_tensor([[0, -1]], [1.0, 2.0], (2,), check_invariants=True),
        lambda L: L.sparse_coo_tensor(L.zeros(2, 3, 4, dtype=L.int64), L.zeros(3), (2, 2)),
        lambda L: L.sparse_coo_tensor(L.zeros(2, 3, dtype=L.int64), L.zeros(3, 4), (2, 2, 5)),
        lambda L: L.sparse_coo_tensor(L.zeros(2, 3, dtype=L.int64), L.zeros(3, 4), (2, 2, 4)).t(),
        lambda L: L.sparse_coo_tensor(i, VALS, (2, 3)).indices(),
        lambda L: L.sparse_coo_tensor(i, VALS, (2, 3)).values(),
        lambda L: L.sparse.mm(L.sparse_coo_tensor(i, VALS, (2, 3)), L.zeros(2, 2)),
        lambda L: L.sparse_coo_tensor([[0, 1]], [1, 2], requires_grad=True),
    ]
    for c in cases:
        want, got = None, None
        try:
            c(torch)
        except Exception as e:  # noqa: BLE001
            want = (type(e), str(e))
        try:
            c(fastgrad)
        except Exception as e:  # noqa: BLE001
            got = (type(e), str(e))
        assert want is not None and got is not None and got[0] is want[0]
        assert got[1].lower() == want[1].lower()


def test_sparse_mm_values_and_gradients_match_torch(torch):
    res = []
    for L in (torch, fastgrad):
        v = L.tensor(VALS, requires_grad=True)
        S = L.sparse_coo_tensor(L.tensor(IDX), v, (2, 3))
        D = L.arange(12.0).reshape(3, 4).requires_grad_()
        out = L.sparse.mm(S, D)
        (out * L.arange(8.0).reshape(2, 4)).sum().backward()
        res.append((np_(out), v.grad.numpy().copy(), D.grad.numpy().copy()))
    for t, f in zip(*res):
        np.testing.assert_allclose(f, t, rtol=1e-6)


@pytest.mark.parametrize("how", ["sparse.mm", "to_dense", "values", "mm", "spmm", "matmul"])
def test_sparse_leaf_grad_matches_torch(torch, how):
    """A sparse leaf's .grad: sparse with its pattern (sparse.mm, to_dense, values), dense (mm)."""
    grads = []
    for L in (torch, fastgrad):
        S = L.sparse_coo_tensor(L.tensor(IDX), L.tensor(VALS), (2, 3), requires_grad=True)
        D = L.arange(12.0).reshape(3, 4)
        if how == "sparse.mm":
            y = L.sparse.mm(S, D)
        elif how == "to_dense":
            y = S.to_dense() * L.arange(6.0).reshape(2, 3)
        elif how == "values":
            y = S.coalesce().values() * L.tensor([1.0, 2.0, 3.0])
        elif how == "mm":
            y = L.mm(S, D)
        elif how == "spmm":
            y = L.spmm(S, D)
        else:
            y = S @ D
        y.sum().backward()
        grads.append(S.grad)
    tg, fg = grads
    assert fg.is_sparse == tg.is_sparse
    if tg.is_sparse:
        assert _repr(fg) == fg_repr(tg)
        # (PyTorch flags the gradients of to_dense / sparse.mm uncoalesced, with distinct sorted indices;
        # here every sparse gradient is flagged coalesced)
        np.testing.assert_array_equal(fg._indices().numpy(), tg._indices().numpy())
        np.testing.assert_array_equal(fg._values().numpy(), tg._values().numpy())
    np.testing.assert_array_equal(np_(fg.to_dense()), np_(tg.to_dense()))


def test_to_sparse_coalesce_values_gradients_match_torch(torch):
    res = []
    for L in (torch, fastgrad):
        x = L.tensor([[0.0, 2.0, 0.0], [3.0, 0.0, -1.0]], requires_grad=True)
        s = x.to_sparse()
        y = (s.to_dense() * L.arange(6.0).reshape(2, 3)).sum() + (s.values() ** 2).sum()
        v = L.tensor(VALS, requires_grad=True)
        c = L.sparse_coo_tensor(IDX, v, (2, 3)).coalesce()
        z = (c.values() * L.tensor([1.0, 10.0, 100.0])).sum()
        (y + z).backward()
        res.append((np_(s.values()), s.indices().numpy(), x.grad.numpy().copy(), np_(c.values()),
                    c.indices().numpy(), v.grad.numpy().copy()))
    for t, f in zip(*res):
        np.testing.assert_array_equal(f, t)


def test_sparse_sum_and_sparse_sparse_mm_match_torch(torch):
    t, f = both(torch, lambda L: L.sparse_coo_tensor(IDX, VALS, (2, 3)))
    assert fastgrad.sparse.sum(f).item() == torch.sparse.sum(t).item()
    for dim in (0, 1):
        a, b = torch.sparse.sum(t, dim), fastgrad.sparse.sum(f, dim)
        assert _repr(b) == fg_repr(a)
    a, b = torch.sparse.mm(t, t.t()), fastgrad.sparse.mm(f, f.t())
    assert _repr(b) == fg_repr(a)
    d = torch.ones(2, 4), fastgrad.ones(2, 4)
    a = torch.sparse.addmm(d[0], t, torch.ones(3, 4), beta=0.5, alpha=2.0)
    b = fastgrad.sparse.addmm(d[1], f, fastgrad.ones(3, 4), beta=0.5, alpha=2.0)
    np.testing.assert_array_equal(np_(b), np_(a))


def test_hybrid_sparse_gradients_match_torch(torch):
    res = []
    for L in (torch, fastgrad):
        v = L.arange(8.0).reshape(4, 2).requires_grad_()
        S = L.sparse_coo_tensor(L.tensor([IDX[0]]), v, (3, 2))
        (S.to_dense() * L.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
        res.append((np_(S.to_dense()), v.grad.numpy().copy(), np_(S.coalesce().values())))
    for t, f in zip(*res):
        np.testing.assert_array_equal(f, t)


def test_sparse_mm_gradcheck_float64():
    idx = fastgrad.tensor(IDX)

    def f(v, d):
        return fastgrad.sparse.mm(fastgrad.sparse_coo_tensor(idx, v, (2, 3)), d)

    v = fastgrad.tensor(VALS, dtype=fastgrad.float64, requires_grad=True)
    d = fastgrad.randn(3, 4, dtype=fastgrad.float64, requires_grad=True)
    assert fastgrad.autograd.gradcheck(f, (v, d))
    assert fastgrad.autograd.gradgradcheck(f, (v, d))
