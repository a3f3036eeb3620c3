"""Long runs (issue 22): memory stays flat over many training steps, no autograd graph outlives its last
reference, and very deep or very wide graphs backpropagate and are freed without recursion.

- Adam on a small MLP with the cyclic GC disabled: the resident set size (/proc/self/statm) after a warm-up
  and at the end (and at ten points between) differ by at most 1 MB, and the number of GC-tracked objects
  does not grow (a leak of one object a step would show).
- With the cyclic GC disabled (refcounting alone), every intermediate tensor and grad_fn node is freed as
  soon as the outputs are dropped: after plain backward, retain_graph=True then a second backward, double
  backward (create_graph=True) in a loop, tensor and node hooks, module forward hooks, saved_tensors_hooks
  and save_on_cpu, and autograd.Function with ctx.save_for_backward -- i.e. the graph makes no reference
  cycle. Checked with weakrefs to the tensors and nodes (and to a sentinel kept in a Function's ctx);
  test_the_check_sees_a_cycle shows the check fails on a graph that does hold a cycle.
- A DEPTH-deep chain (x * 1.0001 and x + 1 repeated) and a DEPTH-wide sum (DEPTH separate leaves times a
  shared weight) backpropagate without RecursionError, with the closed-form gradient; deleting a DEPTH-deep
  graph without backward (a chain of nodes freed one by one) does not overflow the C stack: run in a
  subprocess, whose exit code is checked.

Sizes: by default 10k Adam steps and DEPTH = 100k (the file runs in well under a minute). FASTGRAD_LONG=1
gives the issue's full sizes and more: 100k Adam steps and DEPTH = 1M, e.g.
    FASTGRAD_LONG=1 python -m pytest -q tests/test_long_runs.py
Run it on each backend (FASTGRAD_BACKEND=numpy) and BLAS (FASTGRAD_BLAS=mkl)."""
import gc
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import fastgrad
from fastgrad import nn

LONG = os.environ.get("FASTGRAD_LONG", "0") not in ("", "0")
ADAM_STEPS = 100_000 if LONG else 10_000
DEPTH = 1_000_000 if LONG else 100_000
MB = 1 << 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def no_gc():
    """The cyclic GC off for the test (anything in a reference cycle then stays alive)."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _alive(refs):
    return [type(r()).__name__ for r in refs if r() is not None]


def _graph_refs(*tensors):
    """Weakrefs to the tensors and to their grad_fn nodes."""
    refs = [weakref.ref(t) for t in tensors]
    return refs + [weakref.ref(t.grad_fn) for t in tensors if t.grad_fn is not None]


# --------------------------------------------------------------------------- RSS over many Adam steps
def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm (Linux)")
def test_adam_steps_keep_rss_flat_without_the_cyclic_gc(no_gc):
    fastgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = fastgrad.optim.Adam(model.parameters(), lr=1e-3)
    x, y = fastgrad.randn(16, 8), fastgrad.randint(0, 4, (16,))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    first = step()
    for _ in range(1000):  # warm-up: the allocator's pools, the optimizer's state, caches
        step()
    objects0 = len(gc.get_objects())  # before measuring RSS: the list it builds may stay in the heap
    step()
    rss0 = _rss()
    samples = []
    for i in range(ADAM_STEPS):
        last = step()
        if i % (ADAM_STEPS // 10) == 0:
            samples.append(_rss() - rss0)
    growth = _rss() - rss0
    objects = len(gc.get_objects()) - objects0
    print("%d Adam steps: RSS growth %+d bytes (samples %s), GC-tracked objects %+d"
          % (ADAM_STEPS, growth, samples, objects))
    assert abs(growth) <= MB and max(abs(s) for s in samples) <= MB, (growth, samples)
    assert objects < 100, "%d objects left behind by %d steps" % (objects, ADAM_STEPS)
    assert np.isfinite(last) and last < first  # the steps did train


# --------------------------------------------------------------------------- no graph kept alive
def test_the_check_sees_a_cycle(no_gc):
    """The weakref check is real: a hook that closes over its own tensor makes a cycle, and it is reported."""
    x = fastgrad.randn(4, requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g, y=y: g * 1)  # y -> hook -> y
    refs = _graph_refs(y)
    y.sum().backward()
    del y
    assert _alive(refs)
    gc.collect()
    assert not _alive(refs)


def test_plain_backward_frees_the_graph(no_gc):
    x = fastgrad.randn(5, dtype=fastgrad.float64, requires_grad=True)
    y = x.exp()
    z = (y * 2.0).sin()
    loss = z.sum()
    refs = _graph_refs(y, z, loss)
    loss.backward()
    del y, z, loss
    assert not _alive(refs)
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(2 * np.exp(xv)) * 2 * np.exp(xv), rtol=1e-12)


def test_a_graph_dropped_without_backward_is_freed(no_gc):
    x = fastgrad.randn(5, requires_grad=True)
    y = x.exp()
    z = (y * y).tanh()
    loss = z.sum()
    refs = _graph_refs(y, z, loss)
    del y, z, loss
    assert not _alive(refs)


def test_retain_graph_then_second_backward_frees_the_graph(no_gc):
    x = fastgrad.randn(5, dtype=fastgrad.float64, requires_grad=True)
    y = x * x
    loss = y.sum()
    refs = _graph_refs(y, loss)
    loss.backward(retain_graph=True)
    loss.backward()
    del y, loss
    assert not _alive(refs)
    np.testing.assert_allclose(x.grad.numpy(), 4 * x.detach().numpy(), rtol=1e-12)


def test_double_backward_in_a_loop_frees_every_graph(no_gc):
    x = fastgrad.randn(5, dtype=fastgrad.float64, requires_grad=True)
    xv = x.detach().numpy()
    refs = []
    for _ in range(20):
        y = (x ** 3).sum()
        (g,) = fastgrad.autograd.grad(y, x, create_graph=True)
        h = (g * g).sum()  # sum (3x^2)^2: d/dx = 36 x^3
        refs += _graph_refs(y, g, h)
        x.grad = None
        h.backward()
        np.testing.assert_allclose(x.grad.numpy(), 36 * xv ** 3, rtol=1e-12)
        del y, g, h
    for _ in range(20):  # backward(create_graph=True): x.grad itself carries a graph
        x.grad = None
        loss = (x.exp() * x).sum()
        loss.backward(create_graph=True)
        refs += _graph_refs(loss, x.grad)
        np.testing.assert_allclose(x.grad.detach().numpy(), np.exp(xv) * (xv + 1), rtol=1e-12)
        del loss
    x.grad = None
    assert not _alive(refs)


def test_tensor_and_node_hooks_do_not_keep_the_graph(no_gc):
    x = fastgrad.randn(5, dtype=fastgrad.float64, requires_grad=True)
    seen = []
    x.register_hook(lambda g: g * 1)
    y = x * 3.0
    y.register_hook(lambda g: g * 2)
    y.retain_grad()
    z = y.sin()
    z.register_hook(lambda g: seen.append(g.shape) or None)
    z.grad_fn.register_hook(lambda gi, go: None)
    z.grad_fn.register_prehook(lambda go: None)
    loss = z.sum()
    refs = _graph_refs(y, z, loss)
    loss.backward()
    assert seen == [(5,)] and y.grad is not None
    del y, z, loss
    assert not _alive(refs)
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.cos(3 * x.detach().numpy()), rtol=1e-12)


def test_module_hooks_do_not_keep_the_graph(no_gc):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    outputs = []
    model.register_forward_hook(lambda m, i, o: outputs.append(o.shape) or None)
    model[0].register_forward_pre_hook(lambda m, i: None)
    model[2].register_forward_hook(lambda m, i, o: o * 1)
    refs = []
    for _ in range(3):
        out = model(fastgrad.randn(5, 3, requires_grad=True))
        loss = out.sum()
        refs += _graph_refs(out, loss)
        loss.backward()
        del out, loss
    assert outputs == [(5, 2)] * 3
    assert not _alive(refs)


@pytest.mark.parametrize("pack", ["copy", "identity", "save_on_cpu"])
@pytest.mark.parametrize("backward", [True, False])
def test_saved_tensors_hooks_do_not_keep_the_graph(no_gc, pack, backward):
    """exp and sigmoid save their outputs; an identity pack hook holding the output tensor with its grad_fn
    was a cycle (node -> packed output -> node) when the graph was dropped without backward."""
    x = fastgrad.randn(5, dtype=fastgrad.float64, requires_grad=True)
    if pack == "save_on_cpu":
        hooks = fastgrad.autograd.graph.save_on_cpu()
    else:
        hooks = fastgrad.autograd.graph.saved_tensors_hooks(
            (lambda t: t * 1) if pack == "copy" else (lambda t: t), lambda t: t)
    with hooks:
        y = x.exp()
        z = y.sigmoid()
        loss = (z * z).sum()
    refs = _graph_refs(y, z, loss)
    if backward:
        loss.backward()
        e = np.exp(x.detach().numpy())
        s = 1 / (1 + np.exp(-e))
        np.testing.assert_allclose(x.grad.numpy(), 2 * s * s * (1 - s) * e, rtol=1e-12)
    del y, z, loss
    assert not _alive(refs)


class _Sentinel:
    pass


class _MulSaved(fastgrad.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        out = a * b
        ctx.save_for_backward(a, b, out)
        ctx.sentinel = _Sentinel()
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        assert out.shape == a.shape
        return g * b, g * a


@pytest.mark.parametrize("backward", [True, False])
def test_autograd_function_ctx_does_not_keep_the_graph(no_gc, backward):
    a = fastgrad.randn(4, dtype=fastgrad.float64, requires_grad=True)
    b = fastgrad.randn(4, dtype=fastgrad.float64, requires_grad=True)
    y = _MulSaved.apply(a.exp(), b)
    loss = y.sum()
    refs = _graph_refs(y, loss) + [weakref.ref(y.grad_fn.sentinel)]
    if backward:
        loss.backward()
        np.testing.assert_allclose(b.grad.numpy(), np.exp(a.detach().numpy()), rtol=1e-12)
    del y, loss
    assert not _alive(refs)


# --------------------------------------------------------------------------- deep and wide graphs
def test_deep_chain_backward(no_gc):
    x = fastgrad.tensor(1.0, dtype=fastgrad.float64, requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = y * 1.0001
    y.backward()
    del y
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** DEPTH, rtol=1e-9)

    x = fastgrad.tensor([1.0, 2.0], dtype=fastgrad.float64, requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = y + 1
    (y * y).sum().backward()  # d/dx (x + DEPTH)^2
    np.testing.assert_array_equal(x.grad.numpy(), 2 * (np.array([1.0, 2.0]) + DEPTH))


def test_deep_chain_double_backward(no_gc):
    n = DEPTH // 10
    x = fastgrad.tensor(1.0, dtype=fastgrad.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * x  # x^(n+1)
    (g,) = fastgrad.autograd.grad(y, x, create_graph=True)
    g.backward()
    assert g.item() == n + 1 and x.grad.item() == (n + 1) * n


def test_wide_sum_backward(no_gc):
    leaves = [fastgrad.tensor(float(i), dtype=fastgrad.float64, requires_grad=True) for i in range(DEPTH)]
    w = fastgrad.tensor(2.0, dtype=fastgrad.float64, requires_grad=True)
    total = fastgrad.stack([a * w for a in leaves]).sum()
    total.backward()
    assert total.item() == DEPTH * (DEPTH - 1)
    assert w.grad.item() == DEPTH * (DEPTH - 1) / 2
    assert all(a.grad.item() == 2.0 for a in leaves[:: max(1, DEPTH // 1000)])


_DELETE = textwrap.dedent("""
    import gc, sys
    import fastgrad
    gc.disable()
    n, kind = int(sys.argv[1]), sys.argv[2]

    class Scale(fastgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 1.0001

        @staticmethod
        def backward(ctx, g):
            return g * 1.0001

    x = fastgrad.tensor(1.0, dtype=fastgrad.float64, requires_grad=True)
    y = x
    for _ in range(n):
        y = Scale.apply(y) if kind == "function" else (y.view(1).view(()) if kind == "view" else y + 1)
    if kind == "retained":
        y.backward(retain_graph=True)
    del y
    print("deleted", kind, n)
""")


@pytest.mark.parametrize("kind", ["add", "view", "function", "retained"])
def test_deleting_a_deep_graph_does_not_overflow_the_stack(kind):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", _DELETE, str(DEPTH), kind], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.strip() == "deleted %s %d" % (kind, DEPTH)
