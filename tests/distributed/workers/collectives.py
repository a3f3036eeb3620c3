"""Every collective of fastgrad.distributed on each dtype, reduction and sync/async mode, against NumPy
references built from every rank's input (each rank can make any rank's: they are seeded by rank)."""
import numpy as np
from harness import init, run

import fastgrad as torch
import fastgrad.distributed as dist

import os  # noqa: E402

os.environ["WORLD_SIZE"] = "3"  # as if launched by another launcher for 3 processes: a clear error, no hang
try:
    dist.init_process_group("mpi")
    MISMATCH = "init_process_group accepted WORLD_SIZE=3 on 2 MPI processes"
except ValueError as e:
    MISMATCH = None if "mpirun -n 3" in str(e) and not dist.is_initialized() else repr(e)
del os.environ["WORLD_SIZE"]
RANK, N = init()
assert os.environ["RANK"] == str(RANK) and os.environ["WORLD_SIZE"] == str(N) and "LOCAL_RANK" in os.environ
DTYPES = ["float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8", "bool", "complex64"]
OPS = ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]


def values(rank, dtype, shape, salt=0):
    """Rank `rank`'s input: small integers (exact in every dtype, even as products), seeded by rank."""
    rng = np.random.default_rng(1000 * rank + 17 * DTYPES.index(dtype) + salt)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    v = rng.integers(1, 4, shape).astype(np.float64)
    if dtype == "complex64":
        return v + 1j * rng.integers(-2, 3, shape)
    return v


def tensor(a, dtype):
    if dtype == "bfloat16":
        return torch.from_numpy(np.asarray(a, np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.ascontiguousarray(np.asarray(a).astype(dtype)))


def array(t):
    return t.to(torch.float64).numpy() if t.dtype == torch.bfloat16 else t.numpy().copy()


def reference(stack, op, dtype):
    if dtype == "bool":
        return {"SUM": np.any, "AVG": np.any, "MAX": np.any, "BOR": np.any, "PRODUCT": np.all, "MIN": np.all,
                "BAND": np.all}[op](stack, axis=0) if op != "BXOR" else np.bitwise_xor.reduce(stack, axis=0)
    if op in ("BAND", "BOR", "BXOR"):
        s = stack.astype(np.int64)
        return {"BAND": np.bitwise_and, "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}[op].reduce(s, axis=0)
    if op == "AVG":
        s = stack.sum(0)
        return s // len(stack) if np.dtype(dtype).kind in "iu" else s / len(stack)
    return {"SUM": np.sum, "PRODUCT": np.prod, "MIN": np.min, "MAX": np.max}[op](stack, axis=0)


def supported(op, dtype):
    if op in ("BAND", "BOR", "BXOR"):
        return dtype in ("int32", "int64", "uint8", "bool")
    return not (dtype == "complex64" and op in ("MIN", "MAX"))


def finish(work, async_op):
    if async_op:
        assert work is not None and work.wait() is True and work.is_completed()
    else:
        assert work is None


def same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got.astype(np.complex128), want.astype(np.complex128)), (got, want)


def case_all_reduce(dtype, op, async_op):
    shape = (3, 4)
    t = tensor(values(RANK, dtype, shape), dtype)
    buf, ptr = t._data, t.data_ptr()
    v0 = t._version
    w = dist.all_reduce(t, getattr(dist.ReduceOp, op), async_op=async_op)
    finish(w, async_op)
    assert t._data is buf and t.data_ptr() == ptr, "all_reduce must work in place on the tensor's buffer"
    assert t._version > v0
    stack = np.stack([values(r, dtype, shape) for r in range(N)])
    same(array(t), reference(stack.astype(np.dtype("float64") if dtype == "bfloat16" else dtype), op, dtype))


def case_all_reduce_unsupported(dtype, op, async_op):
    t = tensor(values(RANK, dtype, (2,)), dtype)
    try:
        dist.all_reduce(t, getattr(dist.ReduceOp, op), async_op=async_op)
    except (ValueError, RuntimeError):
        return
    raise AssertionError(f"all_reduce {op} on {dtype} should raise")


def case_reduce(dtype, op, async_op):
    shape = (5,)
    mine = values(RANK, dtype, shape)
    t = tensor(mine, dtype)
    finish(dist.reduce(t, dst=1, op=getattr(dist.ReduceOp, op), async_op=async_op), async_op)
    if RANK == 1:
        stack = np.stack([values(r, dtype, shape) for r in range(N)])
        same(array(t), reference(stack.astype(np.dtype("float64") if dtype == "bfloat16" else dtype), op, dtype))


def case_reduce_scatter_tensor(dtype, op, async_op):
    k = 3
    t = tensor(values(RANK, dtype, (N * k,)), dtype)
    out = tensor(np.zeros(k, bool if dtype == "bool" else np.float64), dtype)
    finish(dist.reduce_scatter_tensor(out, t, getattr(dist.ReduceOp, op), async_op=async_op), async_op)
    stack = np.stack([values(r, dtype, (N * k,)) for r in range(N)])
    want = reference(stack.astype(np.dtype("float64") if dtype == "bfloat16" else dtype), op, dtype)
    same(array(out), want[RANK * k:(RANK + 1) * k])


def case_broadcast(dtype, async_op):
    t = tensor(values(RANK, dtype, (2, 3), 1), dtype)
    ptr = t.data_ptr()
    finish(dist.broadcast(t, src=1, async_op=async_op), async_op)
    assert t.data_ptr() == ptr
    same(array(t), array(tensor(values(1, dtype, (2, 3), 1), dtype)))


def case_all_gather(dtype, async_op):
    t = tensor(values(RANK, dtype, (2, 2), 2), dtype)
    outs = [tensor(np.zeros((2, 2)), dtype) for _ in range(N)]
    finish(dist.all_gather(outs, t, async_op=async_op), async_op)
    for r in range(N):
        same(array(outs[r]), array(tensor(values(r, dtype, (2, 2), 2), dtype)))


def case_all_gather_into_tensor(dtype, async_op):
    t = tensor(values(RANK, dtype, (3,), 3), dtype)
    out = tensor(np.zeros((N, 3)), dtype)
    finish(dist.all_gather_into_tensor(out, t, async_op=async_op), async_op)
    same(array(out), np.stack([array(tensor(values(r, dtype, (3,), 3), dtype)) for r in range(N)]))


def case_gather(dtype, async_op):
    t = tensor(values(RANK, dtype, (4,), 4), dtype)
    lst = [tensor(np.zeros(4), dtype) for _ in range(N)] if RANK == 0 else None
    finish(dist.gather(t, lst, dst=0, async_op=async_op), async_op)
    if RANK == 0:
        for r in range(N):
            same(array(lst[r]), array(tensor(values(r, dtype, (4,), 4), dtype)))


def case_scatter(dtype, async_op):
    out = tensor(np.zeros(4), dtype)
    lst = [tensor(values(10 + r, dtype, (4,)), dtype) for r in range(N)] if RANK == 1 else None
    finish(dist.scatter(out, lst, src=1, async_op=async_op), async_op)
    same(array(out), array(tensor(values(10 + RANK, dtype, (4,)), dtype)))


def case_all_to_all_single(dtype, async_op):
    inp = tensor(values(RANK, dtype, (N * 2, 3), 5), dtype)
    out = tensor(np.zeros((N * 2, 3)), dtype)
    finish(dist.all_to_all_single(out, inp, async_op=async_op), async_op)
    want = np.concatenate([array(tensor(values(r, dtype, (N * 2, 3), 5), dtype))[RANK * 2:RANK * 2 + 2]
                           for r in range(N)])
    same(array(out), want)


def case_send_recv(dtype, async_op):
    peer = 1 - RANK
    mine = tensor(values(RANK, dtype, (6,), 6), dtype)
    got = tensor(np.zeros(6), dtype)
    if async_op:
        works = [dist.isend(mine, dst=peer), dist.irecv(got, src=peer)]
        for w in works:
            assert w.wait() is True
    elif RANK == 0:
        dist.send(mine, dst=1)
        assert dist.recv(got) == 1  # any source: returns the sender's rank
    else:
        assert dist.recv(got, src=0) == 0
        dist.send(mine, dst=0)
    same(array(got), array(tensor(values(peer, dtype, (6,), 6), dtype)))


def case_barrier(async_op):
    finish(dist.barrier(async_op=async_op), async_op)


def case_objects():
    objs = [None] * N
    dist.all_gather_object(objs, {"rank": RANK, "t": torch.full((2,), float(RANK))})
    assert [o["rank"] for o in objs] == list(range(N))
    assert float(objs[1]["t"][0]) == 1.0
    lst = [RANK, "from %d" % RANK] if RANK == 1 else [None, None]
    dist.broadcast_object_list(lst, src=1)
    assert lst == [1, "from 1"]


def case_new_group():
    g = dist.new_group([1])
    if RANK == 1:
        assert dist.get_rank(g) == 0 and dist.get_world_size(g) == 1
        t = torch.ones(2)
        dist.all_reduce(t, group=g)
        assert t.tolist() == [1.0, 1.0]
    else:
        assert g == dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
        assert dist.all_reduce(torch.ones(2), group=g) is None  # not a member: nothing happens
    everyone = dist.new_group()
    t = torch.ones(1)
    dist.all_reduce(t, group=everyone)
    assert float(t[0]) == N
    dist.destroy_process_group(everyone)


def case_errors():
    try:
        dist.all_reduce(torch.ones(4, 4).t())
    except ValueError as e:
        assert "contiguous" in str(e)
    else:
        raise AssertionError("non-contiguous all_reduce must raise")
    try:
        dist.broadcast(torch.ones(2))
    except ValueError as e:
        assert "global_rank or group_rank" in str(e)
    else:
        raise AssertionError("broadcast without src must raise")


for async_op in (False, True):
    mode = "async" if async_op else "sync"
    for dtype in DTYPES:
        for op in OPS:
            if supported(op, dtype):
                run(f"all_reduce-{dtype}-{op}-{mode}", case_all_reduce, dtype, op, async_op)
                run(f"reduce-{dtype}-{op}-{mode}", case_reduce, dtype, op, async_op)
                run(f"reduce_scatter_tensor-{dtype}-{op}-{mode}", case_reduce_scatter_tensor, dtype, op, async_op)
            else:
                run(f"all_reduce_unsupported-{dtype}-{op}-{mode}", case_all_reduce_unsupported, dtype, op, async_op)
        run(f"broadcast-{dtype}-{mode}", case_broadcast, dtype, async_op)
        run(f"all_gather-{dtype}-{mode}", case_all_gather, dtype, async_op)
        run(f"all_gather_into_tensor-{dtype}-{mode}", case_all_gather_into_tensor, dtype, async_op)
        run(f"gather-{dtype}-{mode}", case_gather, dtype, async_op)
        run(f"scatter-{dtype}-{mode}", case_scatter, dtype, async_op)
        run(f"all_to_all_single-{dtype}-{mode}", case_all_to_all_single, dtype, async_op)
        run(f"send_recv-{dtype}-{mode}", case_send_recv, dtype, async_op)
    run(f"barrier-{mode}", case_barrier, async_op)
run("objects", case_objects)
run("new_group", case_new_group)
def case_world_size_mismatch():
    assert MISMATCH is None, MISMATCH


def case_gloo_runs_on_mpi():
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group("gloo")
    t = torch.ones(2)
    dist.all_reduce(t)
    assert t.tolist() == [float(N)] * 2 and dist.get_backend() == "mpi"


run("errors", case_errors)
run("world_size_mismatch", case_world_size_mismatch)
run("gloo_runs_on_mpi", case_gloo_runs_on_mpi)
dist.destroy_process_group()
