"""DistributedDataParallel's gradient reducer (PyTorch's Reducer): parameters are grouped into buckets of at
most bucket_cap bytes (one dtype each; in reverse order of module.parameters(), the order backward roughly
produces them, and after the first iteration in the order their gradients actually became ready). A
post-accumulate-grad hook on each parameter copies its gradient into its bucket's flat buffer as soon as the
engine has accumulated it; when a bucket is complete it is all-reduced asynchronously (MPI's Iallreduce) while
backward goes on. Buckets start in index order on every rank (MPI needs the collectives in the same order
everywhere). When the last bucket has started, its hook waits for them all and writes the averages back into
the parameters' .grad. A communication hook (register_comm_hook) replaces that all-reduce and its averaging:
it gets each bucket as a GradBucket and returns a Future of the bucket's reduced flat tensor. Under
DistributedDataParallel.join(), ranks that have run out of inputs shadow the buckets' collectives with zeros
(zeros_like_grad_buckets, run_comm_hook)."""
import time

import numpy as np

from fastgrad._backend import engine
__all__ = []

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's _DEFAULT_FIRST_BUCKET_BYTES: a small first bucket starts early


class _Bucket:
    def __init__(self, index, params, dtype):
        self.index = index
        self.params = params  # indices into the reducer's parameter list
        self.flat = None
        self.dtype = dtype
        self.pending = 0
        self.work = None
        self.tensor = None


class Reducer:
    def __init__(self, params, process_group, bucket_bytes_cap, find_unused_parameters, gradient_as_bucket_view,
                 first_bucket_bytes=_FIRST_BUCKET_BYTES):
        from fastgrad import distributed as dist

        self.dist = dist
        self.params = params
        self.group = process_group
        self.world = dist.get_world_size(process_group)
        # byte caps of the buckets in order, the last repeating (DDP's bucket_cap_mb_list; else one cap), and the
        # first bucket's (torch's default: 1 MB, as its gradients are the last to be ready)
        self.caps = list(bucket_bytes_cap) if isinstance(bucket_bytes_cap, (list, tuple)) else [bucket_bytes_cap]
        self.first_cap = min(first_bucket_bytes, self.caps[0])
        self.find_unused = find_unused_parameters
        self.as_view = gradient_as_bucket_view
        self.index = {id(p): i for i, p in enumerate(params)}
        self.armed = False  # set by prepare_for_backward: this backward reduces
        self.ready_order = []  # parameter indices in the order their gradients were ready
        self.rebuilt = False
        self.log = []  # (event, bucket index, perf_counter): "launch", "done", "wait", "finalized" (tests, benchmarks)
        self.used_work = None
        self.locally_used = None
        self.num_iterations = 0
        self.comm_hook = None  # (hook, state) of register_comm_hook
        self.static_graph = False
        self.static_unused = None  # with static_graph: the parameters no rank used in the first iteration
        self.fwd_work = None  # Join's "not joined" all-reduce of this iteration's forward, and
        self.fwd_static_world = True  # whether gradients are averaged over the initial world size regardless
        self._build(list(reversed(range(len(params)))))
        self.handles = [p.register_post_accumulate_grad_hook(self._hook) for p in params]

    # ------------------------------------------------------------------ buckets
    def _build(self, order):
        """Buckets of parameters taken in `order`, one dtype each, filled up to the byte caps."""

        open_ = {}  # dtype -> (indices, bytes) of the bucket being filled
        groups = []
        for i in order:
            a = self.params[i]._data
            idx, nbytes = open_.get(a.dtype, ([], 0))
            idx.append(i)
            nbytes += a.nbytes
            cap = self.first_cap if not groups else self.caps[min(len(groups), len(self.caps) - 1)]
            if nbytes >= cap:
                groups.append((idx, a.dtype))
                open_.pop(a.dtype, None)
            else:
                open_[a.dtype] = (idx, nbytes)
        for dtype, (idx, _) in open_.items():
            groups.append((idx, dtype))
        self.buckets = []
        self.where = [None] * len(self.params)  # parameter index -> (bucket, slice of its flat buffer)
        for b, (idx, dtype) in enumerate(groups):
            bucket = _Bucket(b, idx, dtype)
            n = sum(self.params[i]._data.size for i in idx)
            bucket.flat = np.zeros(n, dtype)
            bucket.tensor = engine.make_tensor(bucket.flat)
            bucket.offsets = []
            off = 0
            for i in idx:
                size = self.params[i]._data.size
                view = bucket.flat[off:off + size].reshape(self.params[i]._data.shape)
                self.where[i] = (bucket, view)
                bucket.offsets.append(off)
                off += size
            self.buckets.append(bucket)

    def grad_bucket(self, b, buffer=None):
        """The GradBucket a communication hook gets for bucket b (its flat buffer, or the given one)."""
        from fastgrad.distributed import GradBucket

        return GradBucket(b.index, len(self.buckets), b.tensor if buffer is None else buffer, b.offsets,
                          [self.params[i]._data.size for i in b.params],
                          [self.params[i]._data.shape for i in b.params], [self.params[i] for i in b.params])

    def zeros_like_grad_buckets(self):
        """torch's _get_zeros_like_grad_buckets: the buckets in order, with zero buffers (what a joined rank
        contributes)."""
        return [self.grad_bucket(b, engine.make_tensor(np.zeros_like(b.flat))) for b in self.buckets]

    def register_comm_hook(self, state, hook):
        if self.comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        self.comm_hook = (hook, state)

    def run_comm_hook(self, grad_bucket):
        """The bucket's reduction, started: the hook's Future, or (no hook) a Future of the SUM all-reduce of
        its buffer."""
        if self.comm_hook is None:
            return self.dist.all_reduce(grad_bucket.buffer(), self.dist.ReduceOp.SUM, self.group,
                                        async_op=True).get_future()
        hook, state = self.comm_hook
        fut = hook(state, grad_bucket)
        from fastgrad.futures import Future

        if not isinstance(fut, Future):
            raise RuntimeError(f"The communication hook {getattr(hook, '__qualname__', hook)!r} must return a "
                               f"torch.futures.Future, got {type(fut).__name__}")
        return fut

    def set_forward_pass_work_handle(self, work, use_static_world_size):
        self.fwd_work = work
        self.fwd_static_world = use_static_world_size

    def set_static_graph(self):
        if self.num_iterations:
            raise RuntimeError("You can only call _set_static_graph() before the first iteration.")
        self.static_graph = True

    def needs_used_map(self):
        """Whether this iteration all-reduces the map of used parameters (find_unused_parameters, or the first
        iteration of a static graph)."""
        if self.static_graph:
            return self.num_iterations == 0
        return self.find_unused

    def rebuild_buckets(self):
        """torch's _rebuild_buckets, before the second iteration's forward: the buckets are rebuilt in the
        order the first backward produced the gradients in. Every rank takes the order of the highest rank
        that recorded a complete one (an all-reduce and a broadcast: the same buckets everywhere, also on a
        rank that ran no iteration of its own under join())."""
        if self.rebuilt or self.num_iterations != 1 or (self.find_unused and not self.static_graph):
            return
        self.rebuilt = True
        n = len(self.params)
        mine = self.dist.get_rank(self.group) if len(self.ready_order) == n else -1
        src = engine.make_tensor(np.array([mine], np.int64))
        self.dist.all_reduce(src, self.dist.ReduceOp.MAX, self.group)
        src = int(src._data[0])
        if src < 0:
            return
        order = np.array(self.ready_order if mine == src else [0] * n, np.int64)
        self.dist.broadcast(engine.make_tensor(order), src=self.dist.get_global_rank(self.group, src),
                            group=self.group)
        self.ready_order = [int(i) for i in order]
        if self.ready_order != [i for b in self.buckets for i in b.params]:
            self._build(self.ready_order)

    def bucket_sizes(self):
        return [[self.params[i]._data.size for i in b.params] for b in self.buckets]

    # ------------------------------------------------------------------ one iteration
    def prepare_for_forward(self):
        if self.armed:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`torch.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss.")

    def prepare_for_backward(self, outputs):
        """Arm the reducer for the coming backward; with find_unused_parameters, the parameters the outputs'
        graph does not reach are marked ready at once (and the ranks agree on which are used by anyone)."""
        self.armed = True
        self.next_bucket = 0
        self.seen = bytearray(len(self.params))
        self.log = []
        for b in self.buckets:
            b.pending = len(b.params)
            b.work = None
        self.ready_order = [] if self.num_iterations == 0 else self.ready_order
        self.used_work = None
        if self.static_graph and self.num_iterations > 0:
            for i in self.static_unused:
                self._mark_ready(i, None)
        elif self.needs_used_map():
            reached = _reached_leaves(outputs)
            used = np.array([1 if id(p) in reached else 0 for p in self.params], np.int32)
            self.locally_used = used
            self.globally_used = used.copy()

            self.used_work = self.dist.all_reduce(engine.make_tensor(self.globally_used), self.dist.ReduceOp.MAX,
                                                  self.group, async_op=True)
            unused = [i for i in range(len(self.params)) if not used[i]]
            for i in unused:
                self._mark_ready(i, None)

    def _hook(self, param):
        if not self.armed:
            return  # no_sync, or a backward of a graph made without grad sync: gradients stay local
        self._mark_ready(self.index[id(param)], param)

    def _mark_ready(self, i, param=None):
        if self.seen[i]:
            raise RuntimeError(
                "Expected to mark a variable ready only once. This error is caused by one of the following reasons: "
                "1) Use of a module parameter outside the `forward` function, or 2) Reused parameters in multiple "
                "reentrant backward passes, or 3) a backward through the same graph twice before the next "
                "forward (parameter index %d)" % i)
        self.seen[i] = 1
        if self.num_iterations == 0:
            self.ready_order.append(i)
        bucket, view = self.where[i]
        p = self.params[i]
        g = p._grad  # an unused parameter's too (torch's): whatever it accumulated before is reduced
        if g is None:
            view[...] = 0
        elif g._data is not view:
            np.copyto(view, g._data, casting="unsafe")
        bucket.pending -= 1
        self._progress()
        if bucket.pending == 0:
            while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
                b = self.buckets[self.next_bucket]
                self.log.append(("launch", b.index, time.perf_counter()))
                if self.comm_hook is None:
                    b.work = self.dist.all_reduce(b.tensor, self.dist.ReduceOp.SUM, self.group, async_op=True)
                else:
                    b.work = _HookWork(self.run_comm_hook(self.grad_bucket(b)))
                self.next_bucket += 1
            if self.next_bucket == len(self.buckets):
                self._finalize()

    def _progress(self):
        """Let MPI move the buckets in flight (Open MPI progresses non-blocking collectives only inside MPI
        calls): a test of each, which also records when it finished."""
        for b in self.buckets[:self.next_bucket]:
            if b.work is not None and not b.work._done and b.work.is_completed():
                self.log.append(("done", b.index, time.perf_counter()))

    def _finalize(self):

        self.armed = False
        self.num_iterations += 1
        self.log.append(("wait", -1, time.perf_counter()))  # from here to "finalized": the exposed communication
        if self.used_work is not None:
            self.used_work.wait()
            if self.static_graph:
                self.static_unused = [i for i in range(len(self.params)) if not self.globally_used[i]]
        div = self.world
        if self.fwd_work is not None:
            self.fwd_work.wait()
            if not self.fwd_static_world:  # torch's set_divide_factor: the ranks not yet joined
                div = int(self.fwd_work._outputs[0]._data.reshape(-1)[0])
            self.fwd_work = None
        scale = 1.0 / div
        for b in self.buckets:
            if not b.work._done:
                b.work.wait()
                self.log.append(("done", b.index, time.perf_counter()))
            if isinstance(b.work, _HookWork):
                b.work.copy_into(b.flat)  # the hook averaged (or not) as it chose
            elif b.flat.dtype.kind in "fc" or b.flat.dtype.kind == "V":
                np.multiply(b.flat, scale, out=b.flat, casting="unsafe")
            else:
                np.floor_divide(b.flat, div, out=b.flat)
            for i in b.params:
                if (self.find_unused or self.static_graph) and not self.globally_used[i]:
                    continue  # no rank used it: its .grad is left as it was (torch's behaviour)
                p = self.params[i]
                view = self.where[i][1]
                g = p._grad
                if g is not None and g._data is view:
                    g._vc.value += 1
                elif self.as_view:
                    p._grad = engine.make_tensor(view)
                elif g is not None and g._data.flags.writeable and not g._requires_grad:
                    np.copyto(g._data, view)
                    g._vc.value += 1
                else:
                    p._grad = engine.make_tensor(view.copy())
        self.log.append(("finalized", -1, time.perf_counter()))

    def remove_hooks(self):
        for h in self.handles:
            h.remove()
        self.handles = []


class _HookWork:
    """A bucket's communication-hook Future seen as the reducer's Work."""

    def __init__(self, fut):
        self.fut = fut
        self._done = False

    def is_completed(self):
        self._done = self.fut.done()
        return self._done

    def wait(self):
        self.fut.wait()
        self._done = True

    def copy_into(self, flat):
        value = self.fut.value()
        if isinstance(value, (list, tuple)):
            value = value[0] if len(value) else None
        if not isinstance(value, engine.TensorBase):
            raise RuntimeError(f"The communication hook's Future must hold a tensor (or a list of one), got "
                               f"{type(value).__name__}")
        a = value._data
        if a.size != flat.size:
            raise RuntimeError(f"The communication hook's result has {a.size} elements, but the bucket it reduces "
                               f"has {flat.size}")
        if a is not flat and not np.shares_memory(a, flat):
            np.copyto(flat, a.reshape(-1), casting="unsafe")


def _reached_leaves(outputs):
    """ids of the leaf tensors the autograd graphs of outputs reach."""

    seen = set()
    leaves = set()
    stack = []
    for t in outputs:
        node = engine.grad_edge(t)[0]
        if node is not None:
            stack.append(node)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, engine.AccumulateGrad):
            leaf = node.variable
            if leaf is not None:
                leaves.add(id(leaf))
            continue
        for edge in node.next_functions:
            if edge[0] is not None:
                stack.append(edge[0])
    return leaves
