"""Threads and fork: fastgrad in several Python threads at once, and in a forked child after the parent ran
threaded kernels (OpenMP, BLAS).

- Threads training independent models concurrently end with exactly the parameters of sequential runs,
  while another thread evaluates under no_grad (grad mode is thread-local, as torch's) and another changes
  set_num_threads.
- backward() in several threads over graphs that share leaves accumulates every contribution (torch's
  semantics: the sum of all threads' gradients).
- An os.fork() child (multiprocessing's 'fork' context, and DataLoader(num_workers=2) with the fork start
  method) runs ops and backward after the parent used threads, OpenMP kernels and BLAS: no deadlock (every
  wait has a timeout) and the same results as the parent.
- The RNG is not reseeded in a forked child: the child draws what the parent draws next, as in torch."""
import multiprocessing
import threading

import numpy as np
import pytest

import fastgrad
from fastgrad import nn

TIMEOUT = 120


def _model(seed):
    fastgrad.manual_seed(seed)
    return nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 16, 32), nn.GELU(),
                         nn.Linear(32, 5))


def _batches(seed, n):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((8, 2, 16)).astype(np.float32), rng.integers(0, 5, 8)) for _ in range(n)]


def _make(seed):
    """A model and an LSTM, built in the calling (main) thread: the default generator is process-wide (as
    torch's), so initialising in several threads at once would interleave their draws."""
    m = _model(seed)
    fastgrad.manual_seed(seed + 100)
    return seed, m, nn.LSTM(3, 4, batch_first=True)


def _train(made, steps=8):
    seed, m, rnn = made
    opt = fastgrad.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for x, y in _batches(seed, steps):
        loss = nn.functional.cross_entropy(m(fastgrad.tensor(x)), fastgrad.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out, _ = rnn(fastgrad.ones(2, 5, 3))  # the recurrent kernels too
    out.sum().backward()
    return losses, [p.detach().numpy().copy() for p in m.parameters()], rnn.weight_ih_l0.grad.numpy().copy()


def _run_threads(fn, args, extra=()):
    results, errors = {}, []
    barrier = threading.Barrier(len(args) + len(extra))

    def wrap(key, f, a):
        try:
            barrier.wait(TIMEOUT)
            results[key] = f(*a)
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append((key, e))
    threads = [threading.Thread(target=wrap, args=(i, fn, (a,))) for i, a in enumerate(args)]
    threads += [threading.Thread(target=wrap, args=("extra%d" % i, f, ())) for i, f in enumerate(extra)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread did not finish in %d s (deadlock?)" % TIMEOUT
    assert not errors, errors
    return results


def test_threads_training_independent_models_equal_sequential_runs():
    seeds = [1, 2, 3, 4]
    reference = {i: _train(_make(s)) for i, s in enumerate(seeds)}
    stop = threading.Event()
    made = [_make(s) for s in seeds]
    evaluated = _model(99)

    def evaluator():  # no_grad in this thread must not switch grad off in the training threads
        m = evaluated
        while not stop.is_set():
            with fastgrad.no_grad():
                assert m(fastgrad.ones(3, 2, 16)).grad_fn is None
            assert fastgrad.is_grad_enabled()

    def thread_setter():  # kernels keep their results while the thread count changes under them
        n = fastgrad.get_num_threads()
        for i in range(40):
            fastgrad.set_num_threads(1 + i % 2)
        fastgrad.set_num_threads(n)

    def trainers():
        try:
            return _run_threads(_train, made, extra=[evaluator, thread_setter])
        finally:
            stop.set()
    stop_watch = threading.Timer(60, stop.set)  # the evaluator ends even if a trainer hangs
    stop_watch.start()
    got = _run_threads(lambda _: trainers(), [0])[0]
    stop_watch.cancel()
    for i in range(len(seeds)):
        losses, params, rnn_grad = got[i]
        ref_losses, ref_params, ref_rnn_grad = reference[i]
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-6, err_msg="model %d" % i)
        for a, b in zip(params, ref_params):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg="model %d" % i)
        np.testing.assert_allclose(rnn_grad, ref_rnn_grad, rtol=1e-6)


def test_grad_mode_is_thread_local(torch):
    seen = {}

    def other():
        seen["fastgrad"] = fastgrad.is_grad_enabled()
        seen["torch"] = torch.is_grad_enabled()
    with fastgrad.no_grad(), torch.no_grad():
        t = threading.Thread(target=other)
        t.start()
        t.join(TIMEOUT)
    assert seen == {"fastgrad": True, "torch": True}


def test_concurrent_backward_into_shared_leaves_accumulates(torch):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((16, 16))
    xs = [rng.standard_normal((32, 16)) for _ in range(8)]
    rounds = 10

    def work(L, w, x):
        for _ in range(rounds):
            (L.tanh(L.tensor(x) @ w) ** 2).sum().backward()
    out = {}
    for L in (fastgrad, torch):
        w = L.tensor(w0.copy(), requires_grad=True)
        _run_threads(lambda x: work(L, w, x), xs)
        out[L.__name__] = w.grad.numpy().copy()
    seq = fastgrad.tensor(w0.copy(), requires_grad=True)
    for x in xs:
        work(fastgrad, seq, x)
    np.testing.assert_allclose(out["fastgrad"], seq.grad.numpy(), rtol=1e-10)  # nothing lost
    np.testing.assert_allclose(out["fastgrad"], out["torch"], rtol=1e-10)


# --------------------------------------------------------------------------- fork
def _child_work(q):
    try:
        fastgrad.manual_seed(5)
        m = _model(7)
        x = fastgrad.tensor(_batches(7, 1)[0][0])
        loss = m(x).pow(2).mean()
        loss.backward()
        big = fastgrad.ones(300, 300) @ fastgrad.ones(300, 300)  # BLAS in the child
        act = fastgrad.sigmoid(fastgrad.ones(1 << 18)).sum()  # a large elementwise kernel (OpenMP)
        q.put(("ok", loss.item(), m[0].weight.grad.numpy().copy(), big.sum().item(), act.item()))
    except BaseException as e:  # noqa: BLE001
        q.put(("error", repr(e)))


def _parent_uses_threads_and_blas():
    a = fastgrad.randn(400, 400)
    for _ in range(3):
        a = fastgrad.tanh(a @ a.t() / 400)  # BLAS (possibly threaded) and OpenMP kernels
    fastgrad.sigmoid(fastgrad.ones(1 << 20)).sum().item()
    _run_threads(lambda made: _train(made, steps=2), [_make(1), _make(2)])


def _expected():
    m = _model(7)
    x = fastgrad.tensor(_batches(7, 1)[0][0])
    loss = m(x).pow(2).mean()
    loss.backward()
    return loss.item(), m[0].weight.grad.numpy().copy()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_runs_ops_and_backward_after_parent_threads():
    _parent_uses_threads_and_blas()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_child_work, args=(q,)) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        got = [q.get(timeout=TIMEOUT) for _ in procs]
    finally:
        for p in procs:
            p.join(TIMEOUT)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    loss, grad = _expected()
    for r in got:
        assert r[0] == "ok", r
        assert r[1] == pytest.approx(loss, rel=1e-6)
        np.testing.assert_allclose(r[2], grad, rtol=1e-5, atol=1e-7)
        assert r[3] == 300.0 ** 3 and r[4] == pytest.approx((1 << 18) / (1 + np.exp(-1.0)), rel=1e-5)


class _Squares(fastgrad.utils.data.Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        x = fastgrad.full((3,), float(i), requires_grad=True)
        (x ** 2).sum().backward()  # autograd inside the worker
        return x.grad + fastgrad.sigmoid(fastgrad.ones(1 << 12)).sum()


def test_dataloader_fork_workers_after_threads():
    _parent_uses_threads_and_blas()
    dl = fastgrad.utils.data.DataLoader(_Squares(), batch_size=4, num_workers=2, multiprocessing_context="fork",
                                        timeout=TIMEOUT)
    got = fastgrad.cat(list(dl)).numpy()
    expected = np.stack([np.full(3, 2.0 * i) + (1 << 12) / (1 + np.exp(-1.0)) for i in range(12)])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def _child_draws(q, torch_too):
    vals = [fastgrad.rand(4).numpy().tolist(), fastgrad.randn(2).numpy().tolist()]
    if torch_too:
        import torch

        vals.append(torch.rand(4).numpy().tolist())
    q.put(vals)


def test_forked_child_rng_is_not_reseeded_as_torch(torch):
    """torch does not reseed its generator on fork: a child draws what the parent draws next. Same here."""
    fastgrad.manual_seed(123)
    torch.manual_seed(123)
    fastgrad.rand(3)  # the parent has used its generator
    torch.rand(3)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_draws, args=(q, True))
    p.start()
    child = q.get(timeout=TIMEOUT)
    p.join(TIMEOUT)
    assert p.exitcode == 0
    parent = [fastgrad.rand(4).numpy().tolist(), fastgrad.randn(2).numpy().tolist(), torch.rand(4).numpy().tolist()]
    assert child[2] == parent[2]  # torch: the child's draws repeat the parent's
    assert child[:2] == parent[:2]  # fastgrad: likewise
