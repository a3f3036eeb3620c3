"""DistributedDataParallel communication hooks on 2 ranks: allreduce_hook trains exactly as no hook, the
float16 / bfloat16 compression hooks within their precision, a custom hook sees torch's GradBucket, errors;
static_graph; all_to_all and get_node_local_rank."""
import os
import warnings

import numpy as np
from harness import init, run

import fastgrad as torch
import fastgrad.distributed as dist
from fastgrad.distributed.algorithms.ddp_comm_hooks import default_hooks
from fastgrad.futures import Future
from fastgrad.nn.parallel import DistributedDataParallel as DDP

RANK, N = init(seconds=30)
F = torch.nn.functional


def mlp(dtype):
    return torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 3)).to(dtype)


def batches(steps, shape, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield torch.randn(*shape, generator=g, dtype=dtype), torch.randint(0, 3, (shape[0],), generator=g)


def train(dtype, steps=5, hook=None, state=None, make=mlp, **kw):
    """The DDP model's parameters after steps of SGD on this rank's half of each batch."""
    torch.manual_seed(7)
    model = make(dtype)
    ddp = DDP(model, **kw)
    if hook is not None:
        ddp.register_comm_hook(state, hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches(steps, (16, 6), dtype):
        opt.zero_grad()
        F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()], ddp


def max_diff(a, b):
    return max(float((p - q).abs().max()) for p, q in zip(a, b))


def same_on_every_rank(params):
    for p in params:
        got = [None] * N
        dist.all_gather_object(got, p.numpy())
        assert np.array_equal(got[0], got[1]), "replicas differ across ranks"


def case_allreduce_hook():
    for kw in ({}, {"bucket_cap_mb": 0.001}, {"gradient_as_bucket_view": True, "bucket_cap_mb": 0.002}):
        want, _ = train(torch.float64, **kw)
        got, ddp = train(torch.float64, hook=default_hooks.allreduce_hook, **kw)
        d = max_diff(got, want)
        assert d <= 1e-12, f"allreduce_hook differs from no hook by {d:g} ({kw})"
        same_on_every_rank(got)
    # the process group as state (torch's usage) and a float32 model
    want, _ = train(torch.float32)
    got, _ = train(torch.float32, hook=default_hooks.allreduce_hook, state=dist.group.WORLD)
    assert max_diff(got, want) <= 1e-6


def case_fp16_compress_hook():
    want, _ = train(torch.float32, bucket_cap_mb=0.002)
    got, ddp = train(torch.float32, hook=default_hooks.fp16_compress_hook, bucket_cap_mb=0.002)
    d = max_diff(got, want)
    assert 0 < d <= 2e-3, f"fp16_compress_hook differs from no hook by {d:g}"  # float16 rounding, not more
    same_on_every_rank(got)
    assert all(p.grad.dtype == torch.float32 for p in ddp.parameters())
    got_w, _ = train(torch.float32, hook=default_hooks.fp16_compress_wrapper(default_hooks.allreduce_hook),
                     bucket_cap_mb=0.002)
    assert max_diff(got_w, got) <= 1e-7, "fp16_compress_wrapper(allreduce_hook) is fp16_compress_hook"


def case_bf16_compress_hook():
    want, _ = train(torch.float32)
    got, _ = train(torch.float32, hook=default_hooks.bf16_compress_hook)
    d = max_diff(got, want)
    assert 0 < d <= 2e-2, f"bf16_compress_hook differs from no hook by {d:g}"
    same_on_every_rank(got)


def case_one_step_gradients_exact():
    """One step's gradients: with fp16_compress_hook each is (the float16 rounding of) the mean of the
    ranks' float16-rounded halves, as torch's hook computes it."""
    torch.manual_seed(3)
    model = mlp(torch.float32)
    ddp = DDP(model)
    ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
    x, y = next(batches(1, (16, 6), torch.float32, seed=5))
    F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    torch.manual_seed(3)
    ref = mlp(torch.float32)
    for r in range(N):
        F.cross_entropy(ref(x.chunk(N)[r]), y.chunk(N)[r]).backward()
        for q in ref.parameters():
            if r == 0:
                q.acc = (q.grad.half() / N)
            else:
                q.acc = q.acc + q.grad.half() / N
            q.grad = None
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(p.grad, q.acc.float()), float((p.grad - q.acc.float()).abs().max())


def case_custom_hook_sees_grad_buckets():
    torch.manual_seed(0)
    model = mlp(torch.float64)
    ddp = DDP(model, bucket_cap_mb=0.0005)
    seen = []
    params = {id(p) for p in model.parameters()}

    def hook(state, bucket: dist.GradBucket) -> Future[torch.Tensor]:
        state.append(bucket.index())
        buf = bucket.buffer()
        assert isinstance(bucket, dist.GradBucket)
        grads, ps = bucket.gradients(), bucket.parameters()
        assert len(grads) == len(ps) >= 1 and all(id(p) in params for p in ps)
        assert sum(g.numel() for g in grads) == buf.numel() and buf.dim() == 1
        for g, p in zip(grads, ps):
            assert g.shape == p.shape and torch.equal(g, p.grad)  # this rank's own gradient, before reduction
        assert torch.equal(torch.cat([g.reshape(-1) for g in grads]), buf)
        assert bucket.is_last() == (bucket.index() == len(ddp.reducer.buckets) - 1)
        return dist.all_reduce(buf.div_(N), async_op=True).get_future().then(lambda f: f.value()[0])

    ddp.register_comm_hook(seen, hook)
    x, y = next(batches(1, (16, 6), torch.float64))
    F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    assert seen == list(range(len(ddp.reducer.buckets))) and len(seen) >= 3, seen
    ref = mlp(torch.float64)
    ref.load_state_dict(model.state_dict())
    F.cross_entropy(ref(x), y).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-12)


def case_noop_hook_keeps_local_gradients():
    torch.manual_seed(0)
    model = mlp(torch.float64)
    ddp = DDP(model)

    def noop(state, bucket):
        fut = Future()
        fut.set_result(bucket.buffer())
        return fut

    ddp.register_comm_hook(None, noop)
    x, y = next(batches(1, (16, 6), torch.float64))
    F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    ref = mlp(torch.float64)
    ref.load_state_dict(model.state_dict())
    F.cross_entropy(ref(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-14), "a hook that does not communicate keeps local grads"


def expect(kind, text, fn):
    try:
        fn()
    except kind as e:
        assert text in str(e), str(e)
    else:
        raise AssertionError(f"expected {kind.__name__}: {text}")


def case_errors():
    ddp = DDP(mlp(torch.float32))
    ddp.register_comm_hook(None, default_hooks.allreduce_hook)
    expect(RuntimeError, "register_comm_hook or register_builtin_comm_hook can only be called once.",
           lambda: ddp.register_comm_hook(None, default_hooks.fp16_compress_hook))
    fresh = DDP(mlp(torch.float32))
    expect(TypeError, "Communication hook must be callable.", lambda: fresh.register_comm_hook(None, 3))

    def bad_bucket(state, bucket: int):
        return None

    def bad_return(state, bucket) -> int:
        return None
    expect(ValueError, "bucket annotation should be dist.GradBucket",
           lambda: fresh.register_comm_hook(None, bad_bucket))
    expect(ValueError, "return annotation should be torch.futures.Future[torch.Tensor]",
           lambda: fresh.register_comm_hook(None, bad_return))
    fresh.register_comm_hook(None, lambda state, bucket: bucket.buffer())  # not a Future: fails in backward
    x, y = next(batches(1, (4, 6), torch.float32))
    expect(RuntimeError, "must return a torch.futures.Future", lambda: F.cross_entropy(fresh(x), y).backward())


def case_static_graph():
    class Partly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(6, 3)
            self.unused = torch.nn.Linear(3, 3)

        def forward(self, x):
            return self.a(x)

    def make(dtype):
        return Partly().to(dtype)

    got, ddp = train(torch.float64, make=make, static_graph=True)
    assert ddp.static_graph and ddp.reducer.static_unused == [i for i, (n, _) in enumerate(
        ddp.module.named_parameters()) if n.startswith("unused")]
    want, _ = train(torch.float64, make=make, find_unused_parameters=True)
    assert max_diff(got, want) <= 1e-12
    assert ddp.module.unused.weight.grad is None
    plain = DDP(make(torch.float64))
    plain._set_static_graph()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        plain._set_static_graph()
    assert any("no need to set it again" in str(m.message) for m in w)


def case_all_to_all():
    ins = [torch.arange(r + 1 + RANK, dtype=torch.float32) + 10 * RANK for r in range(N)]  # to rank r
    outs = [torch.empty(RANK + 1 + s) for s in range(N)]  # from rank s
    dist.all_to_all(outs, ins)
    for s in range(N):
        assert torch.equal(outs[s], torch.arange(RANK + 1 + s, dtype=torch.float32) + 10 * s)
    outs2 = [torch.empty(RANK + 1 + s) for s in range(N)]
    w = dist.all_to_all(outs2, ins, async_op=True)
    w.wait()
    assert all(torch.equal(a, b) for a, b in zip(outs, outs2))


def case_get_node_local_rank():
    assert dist.get_node_local_rank() == int(os.environ["OMPI_COMM_WORLD_LOCAL_RANK"]) == RANK
    assert dist.get_node_local_rank(fallback_rank=5) == RANK


def case_bucket_caps_and_buffer_flags():
    """torch 2.13's bucket capacities (25 MB with a 1 MB first bucket by default; bucket_cap_mb for every
    bucket; bucket_cap_mb_list one per bucket, the last repeating) and forward_sync_buffers replacing the
    deprecated broadcast_buffers (a FutureWarning; False for it also skips the buffers at construction)."""
    def sizes(**kw):
        torch.manual_seed(7)
        ddp = DDP(mlp(torch.float32), **kw)
        return [sum(ddp.reducer.params[i].numel() * 4 for i in b.params) for b in ddp.reducer.buckets]
    assert len(sizes()) == 1
    caps = sizes(bucket_cap_mb_list=[0.0005, 0.004])  # 524 B, then 4194 B for every later bucket
    assert len(caps) >= 2 and caps[0] >= 524 and all(c < 4194 + 32 * 32 * 4 for c in caps[1:-1]), caps
    assert sizes(bucket_cap_mb_list=[0.0005, 0.004]) != sizes(bucket_cap_mb=0.0005)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.manual_seed(7)
        model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4))
        model[1].running_mean.fill_(float(RANK))
        ddp = DDP(model, broadcast_buffers=False)
    assert any(issubclass(x.category, FutureWarning) and "`broadcast_buffers` is deprecated" in str(x.message)
               for x in w), [str(x.message) for x in w]
    assert not ddp.forward_sync_buffers and float(model[1].running_mean[0]) == float(RANK)  # rank-local buffers
    model[1].running_mean.fill_(float(RANK))
    ddp = DDP(model, forward_sync_buffers=False)
    assert not ddp.forward_sync_buffers and float(model[1].running_mean[0]) == 0.0  # synced at init all the same
    assert DDP(model).forward_sync_buffers is True


run("bucket_caps_and_buffer_flags", case_bucket_caps_and_buffer_flags)
run("allreduce_hook", case_allreduce_hook)
run("fp16_compress_hook", case_fp16_compress_hook)
run("bf16_compress_hook", case_bf16_compress_hook)
run("fp16_one_step_gradients", case_one_step_gradients_exact)
run("custom_hook_grad_buckets", case_custom_hook_sees_grad_buckets)
run("noop_hook", case_noop_hook_keeps_local_gradients)
run("hook_errors", case_errors)
run("static_graph", case_static_graph)
run("all_to_all", case_all_to_all)
run("get_node_local_rank", case_get_node_local_rank)
dist.destroy_process_group()
