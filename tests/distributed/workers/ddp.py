"""DistributedDataParallel on 2 ranks: training equals one process training on the concatenated batch, no_sync
accumulates, buckets start during backward, unused parameters, state dict keys."""
import copy
import time

import numpy as np
from harness import init, run

import fastgrad as torch
import fastgrad.distributed as dist
from fastgrad.nn.parallel import DistributedDataParallel as DDP

RANK, N = init()
F = torch.nn.functional


def mlp(dtype):
    return torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, 3)).to(dtype)


def cnn(dtype):
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3)).to(dtype)


def replicas(make, dtype, **kw):
    """(ddp, its module, a single-process copy with rank 0's parameters). The ranks start from different
    parameters (seeded by rank): DDP's broadcast makes them rank 0's."""
    torch.manual_seed(100)
    ref = make(dtype)  # rank 0's
    torch.manual_seed(100 + RANK)
    model = make(dtype)
    ddp = DDP(model, **kw)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(p, q), "construction must broadcast rank 0's parameters"
    for b, c in zip(model.buffers(), ref.buffers()):
        assert torch.equal(b, c), "construction must broadcast rank 0's buffers"
    return ddp, model, ref


def batches(steps, shape, dtype, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield torch.randn(*shape, generator=g, dtype=dtype), torch.randint(0, 3, (shape[0],), generator=g)


def max_diff(a, b):
    return max(float((p.detach() - q.detach()).abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def train_mlp(dtype, tol, **kw):
    ddp, model, ref = replicas(mlp, dtype, **kw)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    for x, y in batches(50, (16, 6), dtype):
        xs, ys = x.chunk(N)[RANK], y.chunk(N)[RANK]
        opt.zero_grad()
        F.cross_entropy(ddp(xs), ys).backward()
        opt.step()
        opt_ref.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        opt_ref.step()
    d = max_diff(model, ref)
    assert d <= tol, f"DDP parameters differ from one process on the whole batch by {d:g} > {tol:g}"
    assert max_diff(model, mlp(dtype)) > 0.01  # it did train


def case_cnn_batchnorm():
    """BatchNorm normalizes each rank's half with that half's statistics: the single-process equivalent runs
    the model on each half and averages the losses (parameters equal; rank 0's running statistics are
    everyone's before each forward)."""
    dtype = torch.float64
    ddp, model, ref = replicas(cnn, dtype)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-2)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=1e-2)
    for x, y in batches(50, (8, 1, 8, 8), dtype, seed=2):
        opt.zero_grad()
        F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
        opt.step()
        opt_ref.zero_grad()
        loss = sum(F.cross_entropy(ref(xc), yc) for xc, yc in zip(x.chunk(N), y.chunk(N))) / N
        loss.backward()
        opt_ref.step()
    d = max_diff(model, ref)
    assert d <= 1e-9, f"DDP CNN parameters differ by {d:g}"
    bn = model[1]
    before = [None] * N
    dist.all_gather_object(before, bn.running_mean.numpy().copy())
    assert not np.allclose(before[0], before[1])  # each rank's last update came from its own half
    model.eval()
    with torch.no_grad():
        ddp(torch.randn(2, 1, 8, 8, dtype=dtype))  # a forward starts by copying rank 0's buffers everywhere
    assert np.array_equal(bn.running_mean.numpy(), before[0])


def case_cnn_sync_batchnorm():
    """With SyncBatchNorm the statistics are the whole batch's: DDP on the halves equals one process training
    the plain-BatchNorm CNN on the concatenated batch, parameters and running statistics alike."""
    dtype = torch.float64
    torch.manual_seed(100)
    ref = cnn(dtype)
    torch.manual_seed(100 + RANK)
    model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(cnn(dtype))
    assert isinstance(model[1], torch.nn.SyncBatchNorm)
    ddp = DDP(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-2)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=1e-2)
    for x, y in batches(50, (8, 1, 8, 8), dtype, seed=4):
        opt.zero_grad()
        F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
        opt.step()
        opt_ref.zero_grad()
        F.cross_entropy(ref(x), y).backward()
        opt_ref.step()
    d = max_diff(model, ref)
    # 1e-8: the reference's BatchNorm2d is the fused kernel (float64 statistics summed in another
    # order than SyncBatchNorm's all-reduced sums), and Adam's normalisation enlarges last-bit
    # differences of near-zero gradients over 50 steps (measured 2.1e-9); without the
    # synchronisation the difference is 0.038
    assert d <= 1e-8, f"DDP + SyncBatchNorm parameters differ from the concatenated batch's by {d:g}"
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        a, b = getattr(model[1], name), getattr(ref[1], name)
        assert torch.allclose(a.double(), b.double(), atol=1e-10), name


def case_no_sync():
    dtype = torch.float64
    ddp, model, ref = replicas(mlp, dtype)
    data = list(batches(3, (8, 6), dtype, seed=3))
    with ddp.no_sync():
        for x, y in data[:2]:
            F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    local = copy.deepcopy(ref)
    for x, y in data[:2]:
        F.cross_entropy(local(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    for p, q in zip(model.parameters(), local.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-12), "inside no_sync gradients must stay local"
    x, y = data[2]
    F.cross_entropy(ddp(x.chunk(N)[RANK]), y.chunk(N)[RANK]).backward()
    for x, y in data:  # the mean over ranks of each rank's sum of 3 micro-batch gradients
        loss = sum(F.cross_entropy(ref(xc), yc) for xc, yc in zip(x.chunk(N), y.chunk(N))) / N
        loss.backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-12), float((p.grad - q.grad).abs().max())


def case_buckets_overlap_backward():
    """With small buckets, the first bucket's all-reduce starts while backward still has layers to go: before
    the gradient reaches the input (the walk's last step)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(64, 64) for _ in range(8)])
    ddp = DDP(model, bucket_cap_mb=64 * 65 * 4 / 2 ** 20)  # one Linear per bucket
    x = torch.randn(32, 64, requires_grad=True)
    reached = []
    x.register_hook(lambda g: reached.append(time.perf_counter()))
    ddp(x).square().mean().backward()
    log = ddp.reducer.log
    launches = [t for e, b, t in log if e == "launch"]
    assert len(launches) == len(ddp.reducer.buckets) >= 8, log
    assert launches == sorted(launches)
    assert launches[0] < launches[-1] < reached[0], (launches, reached)
    finalized = [t for e, b, t in log if e == "finalized"]
    assert finalized and finalized[0] < reached[0]
    for p in model.parameters():  # and the result is the average
        g = [None] * N
        dist.all_gather_object(g, p.grad.numpy())
        assert np.array_equal(g[0], g[1])


def case_find_unused_parameters():
    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(4, 4)
            self.b = torch.nn.Linear(4, 4)  # used by rank 0 only
            self.c = torch.nn.Linear(4, 4)  # used by nobody

        def forward(self, x, use_b):
            h = self.a(x)
            return self.b(h) if use_b else h

    torch.manual_seed(0)
    model = Branchy()
    ddp = DDP(model, find_unused_parameters=True)
    x = torch.full((2, 4), 1.0 + RANK)
    ddp(x, RANK == 0).sum().backward()
    ref = copy.deepcopy(model)
    for p in ref.parameters():
        p.grad = None
    (ref(torch.full((2, 4), 1.0), True).sum() + ref(torch.full((2, 4), 2.0), False).sum()).backward()
    for name in ("a.weight", "a.bias", "b.weight", "b.bias"):
        got, want = model.get_parameter(name).grad, ref.get_parameter(name).grad / N
        assert torch.allclose(got, want, atol=1e-6), name
    assert model.c.weight.grad is None and model.c.bias.grad is None
    # without find_unused_parameters the reducer waits for c and says so at the next forward
    strict = DDP(Branchy())
    strict(x, True).sum().backward()
    try:
        strict(x, True)
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e)
    else:
        raise AssertionError("a parameter without gradient must be reported")


def case_module_and_state_dict():
    model = mlp(torch.float32)
    ddp = DDP(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert [n for n, _ in ddp.named_parameters()] == ["module." + n for n, _ in model.named_parameters()]


run("mlp_float64_50_steps", train_mlp, torch.float64, 1e-10)
run("mlp_float32_50_steps", train_mlp, torch.float32, 1e-6)
run("mlp_gradient_as_bucket_view", train_mlp, torch.float64, 1e-10, gradient_as_bucket_view=True,
    bucket_cap_mb=0.004)
run("mlp_small_buckets", train_mlp, torch.float64, 1e-10, bucket_cap_mb=0.001)
run("cnn_batchnorm_50_steps", case_cnn_batchnorm)
run("cnn_sync_batchnorm_50_steps", case_cnn_sync_batchnorm)
run("no_sync", case_no_sync)
run("buckets_overlap_backward", case_buckets_overlap_backward)
run("find_unused_parameters", case_find_unused_parameters)
run("module_and_state_dict", case_module_and_state_dict)
dist.destroy_process_group()
