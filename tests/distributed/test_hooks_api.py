"""DDP communication hooks, Join and the new collectives in one process without MPI started: torch's names,
signatures and errors, GradBucket's views, and Futures that drive the collective they wait for."""
import inspect

import numpy as np
import pytest

import fastgrad
import fastgrad.distributed as dist
from fastgrad.distributed.algorithms import Join, Joinable, JoinHook
from fastgrad.distributed.algorithms.ddp_comm_hooks import default_hooks
from fastgrad.futures import Future, collect_all, wait_all
from fastgrad.nn.parallel import DistributedDataParallel as DDP


def _params(f):
    return [p for p in inspect.signature(f).parameters if not p.startswith("_")]


def test_names_and_signatures_match_torch(torch):
    from torch.distributed.algorithms.ddp_comm_hooks import default_hooks as theirs

    assert default_hooks.__all__ == theirs.__all__
    for name in theirs.__all__:
        assert _params(getattr(default_hooks, name)) == _params(getattr(theirs, name)), name
    tddp = torch.nn.parallel.DistributedDataParallel
    assert _params(DDP.__init__) == _params(tddp.__init__)  # torch 2.13's constructor, argument for argument
    assert inspect.signature(DDP.__init__).parameters["broadcast_buffers"].default is None
    for name in ["join", "join_hook", "register_comm_hook", "_set_static_graph"]:
        assert _params(getattr(DDP, name)) == _params(getattr(tddp, name)), name
    for name in ["all_to_all", "all_to_all_single", "get_node_local_rank"]:
        assert _params(getattr(dist, name)) == _params(getattr(torch.distributed, name)), name
    assert sorted(m for m in dir(dist.GradBucket) if not m.startswith("_")) == \
        sorted(m for m in dir(torch.distributed.GradBucket) if not m.startswith("_"))
    from torch.distributed.algorithms import join as tjoin

    assert _params(Join) == _params(tjoin.Join) and _params(Join.notify_join_context) == ["joinable"]
    assert issubclass(DDP, Joinable) and isinstance(DDP.join_hook, object)


def test_join_needs_a_joinable(torch):
    from torch.distributed.algorithms import Join as TJoin

    with pytest.raises(ValueError) as ours:
        Join([])
    with pytest.raises(ValueError) as theirs:
        TJoin([])
    assert str(ours.value) == str(theirs.value)
    assert JoinHook().main_hook() is None and JoinHook().post_hook(True) is None
    with pytest.raises(TypeError):
        Joinable()  # abstract


def test_get_node_local_rank(monkeypatch, torch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(RuntimeError) as ours:
        dist.get_node_local_rank()
    with pytest.raises(RuntimeError) as theirs:
        torch.distributed.get_node_local_rank()
    assert str(ours.value) == str(theirs.value)
    assert dist.get_node_local_rank(fallback_rank=3) == 3
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dist.get_node_local_rank(fallback_rank=3) == 1


def test_grad_bucket_views_its_buffer():
    buf = fastgrad.arange(10, dtype=fastgrad.float64)
    p1, p2 = fastgrad.zeros(2, 3), fastgrad.zeros(4)
    b = dist.GradBucket(1, 2, buf, [0, 6], [6, 4], [(2, 3), (4,)], [p1, p2])
    assert b.index() == 1 and b.is_last() and b.buffer() is buf
    g = b.gradients()
    assert [tuple(t.shape) for t in g] == [(2, 3), (4,)]
    assert np.array_equal(g[1].numpy(), [6, 7, 8, 9])
    buf.mul_(2)
    assert np.array_equal(g[0].numpy().ravel(), 2 * np.arange(6))  # views, as torch's
    assert b.parameters()[0] is p1 and len(b.parameters()) == 2
    other = fastgrad.zeros(10)
    b.set_buffer(other)
    assert b.buffer() is other
    assert not dist.GradBucket(0, 2, buf, [0], [10], [(10,)], [p1]).is_last()


def test_future_of_a_collective_is_driven_by_wait():
    """A Future whose value needs MPI to progress (_drive) completes when it or a Future chained from it
    (then, collect_all) is waited for; done() tests it without blocking."""
    calls = []
    src = Future()

    def drive(block):
        calls.append(block)
        if block and not src._done:
            src.set_result([fastgrad.ones(2)])
    src._drive = drive
    chained = src.then(lambda f: f.value()[0] * 3)
    assert not chained.done() and calls == [False]
    assert np.array_equal(chained.wait().numpy(), [3.0, 3.0]) and calls[-1] is True
    src2 = Future()
    src2._drive = lambda block: src2._done or src2.set_result(5)
    assert wait_all([src2]) == [5]
    src3 = Future()
    src3._drive = lambda block: src3._done or src3.set_result(6)
    assert collect_all([src3]).wait()[0].value() == 6
    assert Future[fastgrad.Tensor] == Future[fastgrad.Tensor]


def test_allreduce_hook_divides_before_reducing(monkeypatch):
    """allreduce_hook divides the bucket by the group's size, then all-reduces it in place (one rank: the
    reduction is the identity), its Future holding the bucket's buffer; fp16_compress_hook rounds to
    float16 and writes the result back into the float32 buffer."""

    class Group:
        def size(self):
            return 4

    class FakeWork:
        def __init__(self, t):
            self.t = t

        def get_future(self):
            f = Future()
            f.set_result([self.t])
            return f
    monkeypatch.setattr(dist, "all_reduce", lambda t, group=None, async_op=False: FakeWork(t))
    buf = fastgrad.tensor([4.0, 1.0 / 3.0])
    b = dist.GradBucket(0, 1, buf, [0], [2], [(2,)], [buf])
    out = default_hooks.allreduce_hook(Group(), b).wait()
    assert out is buf and np.allclose(buf.numpy(), [1.0, 1.0 / 12.0])
    out = default_hooks.fp16_compress_hook(Group(), b).wait()
    assert out is buf and out.dtype == fastgrad.float32
    assert np.array_equal(buf.numpy(), (np.array([1.0, 1.0 / 12.0], np.float32).astype(np.float16) / 4)
                          .astype(np.float32))
