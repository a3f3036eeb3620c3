"""DistributedDataParallel.join() on 2 ranks with uneven inputs (rank r has 3 + 2 r batches): every rank
leaves the loop (no hang: the group's timeout is 20 s), the replicas end equal, and equal to one process
that averages, at each step, the gradients of the ranks still training (over the initial world size, or
over those ranks with divide_by_initial_world_size=False); with a comm hook, unused parameters and
buffers; throw_on_early_termination."""
import copy
import faulthandler

import numpy as np
from harness import init, run

import fastgrad as torch
import fastgrad.distributed as dist
from fastgrad.distributed.algorithms import Join
from fastgrad.distributed.algorithms.ddp_comm_hooks import default_hooks
from fastgrad.nn.parallel import DistributedDataParallel as DDP

RANK, N = init(seconds=20)
faulthandler.dump_traceback_later(90, exit=True)  # a hang (a collective one rank skips) ends the job, traced
F = torch.nn.functional
COUNTS = [3 + 2 * r for r in range(N)]


class Net(torch.nn.Module):
    def __init__(self, bn=False, unused=True):
        super().__init__()
        self.a = torch.nn.Linear(6, 16)
        self.norm = torch.nn.BatchNorm1d(16) if bn else torch.nn.Identity()
        self.b = torch.nn.Linear(16, 3)
        if unused:
            self.unused = torch.nn.Linear(3, 3)

    def forward(self, x):
        return self.b(torch.tanh(self.norm(self.a(x))))


def data(r, seed=1, counts=COUNTS):
    g = torch.Generator().manual_seed(seed + 17 * r)
    return [(torch.randn(4, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (4,), generator=g))
            for _ in range(counts[r])]


def train_ddp(bn=False, hook=None, join_kw=None, counts=COUNTS, unused=True, **kw):
    torch.manual_seed(5)
    model = Net(bn, unused).double()
    ref = copy.deepcopy(model)
    ddp = DDP(model, **kw)
    if hook is not None:
        ddp.register_comm_hook(None, hook)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    with ddp.join(**(join_kw or {})):
        for x, y in data(RANK, counts=counts):
            opt.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
    return model, ref


def reference(ref, divide_by_initial=True, counts=COUNTS):
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    all_data = [data(r, counts=counts) for r in range(N)]
    for i in range(max(counts)):
        active = [r for r in range(N) if i < counts[r]]
        opt.zero_grad()
        loss = sum(F.cross_entropy(ref(all_data[r][i][0]), all_data[r][i][1]) for r in active)
        (loss / (N if divide_by_initial else len(active))).backward()
        opt.step()
    return ref


def same_on_every_rank(module):
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        got = [None] * N
        dist.all_gather_object(got, t.detach().numpy())
        assert all(np.array_equal(got[0], g) for g in got), f"{name} differs across ranks"


def close(model, ref, tol=1e-12):
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        d = float((p.detach() - q.detach()).abs().max())
        assert d <= tol, f"{name} differs from the single-process reference by {d:g}"


def case_uneven(divide_by_initial, hook=None):
    model, ref = train_ddp(hook=hook, join_kw={"divide_by_initial_world_size": divide_by_initial},
                           static_graph=True)
    same_on_every_rank(model)
    close(model, reference(ref, divide_by_initial))
    assert model.unused.weight.grad is None


def case_find_unused():
    model, ref = train_ddp(find_unused_parameters=True)
    same_on_every_rank(model)
    close(model, reference(ref))


def case_a_rank_without_batches(**kw):
    """Rank 0 has no batch at all: it shadows the first iteration's decisions too (the used-parameters
    map of a static graph, the buckets rebuilt in the first backward's order: taken from rank 1)."""
    counts = [0] + [3] * (N - 1)
    model, ref = train_ddp(counts=counts, **kw)
    same_on_every_rank(model)
    close(model, reference(ref, counts=counts))


def case_no_sync_accumulation():
    """Gradient accumulation under join(): every other micro-batch inside no_sync (no collectives; the
    joined rank is told by the "sync?" all-reduce and skips the buckets), the others reduce; equals one
    process summing, at each reducing step, the micro-batches accumulated by each active rank."""
    counts = [3 + 2 * r for r in range(N)]
    torch.manual_seed(5)
    model = Net(unused=False).double()
    ref = copy.deepcopy(model)
    ddp = DDP(model, bucket_cap_mb=0.0005)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    with ddp.join():
        for i, (x, y) in enumerate(data(RANK, counts=counts)):
            if i % 2 == 0:
                with ddp.no_sync():
                    F.cross_entropy(ddp(x), y).backward()
            else:
                F.cross_entropy(ddp(x), y).backward()
                opt.step()
                opt.zero_grad()
    same_on_every_rank(model)
    oref = torch.optim.SGD(ref.parameters(), lr=0.1)
    all_data = [data(r, counts=counts) for r in range(N)]
    for i in range(1, max(counts), 2):
        active = [r for r in range(N) if i < counts[r]]
        loss = sum(F.cross_entropy(ref(all_data[r][j][0]), all_data[r][j][1]) for r in active for j in (i - 1, i))
        (loss / N).backward()
        oref.step()
        oref.zero_grad()
    close(model, ref)


def case_buffers():
    model, _ = train_ddp(bn=True, find_unused_parameters=True)
    same_on_every_rank(model)  # parameters and running statistics: the last joiner's, broadcast at the end
    assert int(model.norm.num_batches_tracked) == max(COUNTS)


def case_even_inputs_equal_no_join():
    torch.manual_seed(5)
    model = Net().double()
    ref = copy.deepcopy(model)
    ddp, dref = DDP(model, static_graph=True), DDP(ref, static_graph=True)
    opt, oref = torch.optim.SGD(model.parameters(), lr=0.1), torch.optim.SGD(ref.parameters(), lr=0.1)
    with ddp.join():
        for x, y in data(0):
            opt.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
    for x, y in data(0):
        oref.zero_grad()
        F.cross_entropy(dref(x), y).backward()
        oref.step()
    close(model, ref, 0.0)


def case_throw_on_early_termination():
    torch.manual_seed(5)
    ddp = DDP(Net().double(), static_graph=True)
    steps = 0
    try:
        with ddp.join(throw_on_early_termination=True):
            for x, y in data(RANK):
                F.cross_entropy(ddp(x), y).backward()
                steps += 1
    except RuntimeError as e:
        want = "Rank 0 exhausted all inputs." if RANK == 0 else \
            "Detected at least one rank that exhausted inputs. Throwing across all ranks."
        assert str(e) == want, str(e)
    else:
        raise AssertionError("every rank must raise")
    assert steps == COUNTS[0]
    dist.barrier()


def case_join_api():
    ddp = DDP(Net().double())
    try:
        Join([])
    except ValueError as e:
        assert "requires at least one joinable" in str(e)
    else:
        raise AssertionError
    j = Join([ddp], divide_by_initial_world_size=False)
    assert ddp._join_config.enable and ddp._join_config.is_first_joinable and not ddp._divide_by_initial_world_size
    assert ddp.join_process_group is dist.group.WORLD and str(ddp.join_device) == "cpu"
    with Join([ddp], enable=False):
        pass  # disabled: no collective at exit
    del j


run("uneven_divide_by_initial", case_uneven, True)
run("uneven_divide_by_effective", case_uneven, False)
run("uneven_allreduce_hook", case_uneven, True, default_hooks.allreduce_hook)
run("uneven_find_unused", case_find_unused)
run("uneven_buffers", case_buffers)
run("uneven_no_sync", case_no_sync_accumulation)
run("no_batches_plain", case_a_rank_without_batches, unused=False)
run("no_batches_static_graph", case_a_rank_without_batches, static_graph=True)
run("no_batches_find_unused", case_a_rank_without_batches, find_unused_parameters=True)
run("no_batches_small_buckets", case_a_rank_without_batches, static_graph=True, bucket_cap_mb=0.0005)
run("even_inputs", case_even_inputs_equal_no_join)
run("throw_on_early_termination", case_throw_on_early_termination)
run("join_api", case_join_api)
dist.destroy_process_group()
