"""Backward in several threads at once over graphs that share a leaf (Hogwild-style, a shared
module, a leaf whose .grad already exists) accumulates every gradient: the engine adds into a
leaf's .grad under a lock, as PyTorch's AccumulateGrad does. The gradients are integers (exact
in any order of summation), so a lost update shows as an unequal sum; torch gives the same."""
import threading

import numpy as np
import pytest

import fastgrad as fg


def _run_threads(n_threads, work):
    """Run work(i) in n_threads threads started together; re-raise the first error."""
    errors = []
    start = threading.Barrier(n_threads)

    def target(i):
        try:
            start.wait()
            work(i)
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _shared_leaf(L, n_threads, iters, shape, pre_grad):
    """Every thread: iters backward passes of (w * c_i).sum() + (w[0] * 2).sum() over shared w."""
    rs = np.random.RandomState(0)
    w = L.tensor(rs.randint(-3, 4, shape).astype(np.float64), requires_grad=True)
    if pre_grad:
        w.grad = L.tensor(np.full(shape, 5.0))
    cs = [L.tensor(rs.randint(-4, 5, shape).astype(np.float64)) for _ in range(n_threads)]

    def work(i):
        for _ in range(iters):
            ((w * cs[i]).sum() + (w[0] * 2).sum()).backward()

    _run_threads(n_threads, work)
    return w.grad.numpy().copy()


@pytest.mark.parametrize("pre_grad", [False, True])
def test_shared_leaf_accumulates_every_gradient(torch, pre_grad):
    shape, n_threads, iters = (512, 512), 4, 40  # large arrays: NumPy's add releases the GIL
    got = _shared_leaf(fg, n_threads, iters, shape, pre_grad)
    rs = np.random.RandomState(0)
    rs.randint(-3, 4, shape)
    want = sum(rs.randint(-4, 5, shape).astype(np.float64) for _ in range(n_threads)) * iters
    want[0] += 2 * n_threads * iters
    want += 5.0 if pre_grad else 0.0
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(_shared_leaf(torch, n_threads, iters, shape, pre_grad), want)


def _shared_linear(L, n_threads, iters):
    """A shared nn.Linear (integer weights and inputs): each thread runs its own batches."""
    rs = np.random.RandomState(1)
    lin = L.nn.Linear(64, 32).double()
    with L.no_grad():
        lin.weight.copy_(L.tensor(rs.randint(-2, 3, (32, 64)).astype(np.float64)))
        lin.bias.copy_(L.tensor(rs.randint(-2, 3, 32).astype(np.float64)))
    xs = [L.tensor(rs.randint(-2, 3, (128, 64)).astype(np.float64)) for _ in range(n_threads)]

    def work(i):
        for _ in range(iters):
            out = lin(xs[i])
            (out * out).sum().backward()

    _run_threads(n_threads, work)
    return lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()


def test_shared_module_accumulates_every_gradient(torch):
    n_threads, iters = 4, 20
    got = _shared_linear(fg, n_threads, iters)
    want = _shared_linear(torch, n_threads, iters)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_hogwild_style_grad_per_thread_and_shared(torch):
    """autograd.grad in some threads (no accumulation), backward in others (accumulation),
    over one leaf; the accumulated sum is exact and every autograd.grad result is right."""
    shape, n_threads, iters = (200, 200), 4, 25
    for L in (fg, torch):
        w = L.ones(shape, dtype=L.float64, requires_grad=True)
        results = [[] for _ in range(n_threads)]

        def work(i):
            for k in range(iters):
                loss = (w * (i + 1)).sum()
                if i % 2:
                    (g,) = L.autograd.grad(loss, (w,))
                    results[i].append(float(g.numpy()[0, 0]))
                else:
                    loss.backward()

        _run_threads(n_threads, work)
        np.testing.assert_array_equal(w.grad.numpy(), np.full(shape, float(iters * (1 + 3))))
        assert results[1] == [2.0] * iters and results[3] == [4.0] * iters


def test_post_accumulate_hooks_see_each_gradient():
    w = fg.zeros(300, 300, dtype=fg.float64, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(1))

    def work(i):
        for _ in range(20):
            (w * 1.0).sum().backward()

    _run_threads(4, work)
    assert len(seen) == 80
    np.testing.assert_array_equal(w.grad.numpy(), np.full((300, 300), 80.0))
