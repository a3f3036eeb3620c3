"""DistributedDataParallel (torch.nn.parallel.DistributedDataParallel) on fastgrad.distributed's MPI process
groups: each process runs the module on its share of the batch; backward averages the gradients over the
processes, bucket by bucket while backward runs (fastgrad/nn/parallel/_reducer.py), so that after backward
every process holds the same gradients and an optimizer step keeps the replicas identical."""
import contextlib
import inspect
import warnings

import numpy as np

from fastgrad._backend import engine
from fastgrad.distributed.algorithms.join import Join, Joinable, JoinHook
from fastgrad.nn.modules.module import Module
from fastgrad.nn.parallel._reducer import _FIRST_BUCKET_BYTES, Reducer

__all__ = ["DistributedDataParallel"]

_BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024  # torch's: parameters and buffers are broadcast in chunks this big


def _find_tensors(obj):
    """The tensors in a (nested) output: torch's _find_tensors."""

    if isinstance(obj, engine.TensorBase):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _find_tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _find_tensors(o)]
    return []


def _broadcast_coalesced(tensors, src, group):
    """Broadcast tensors from rank src (one flat message per dtype and chunk: few MPI calls)."""
    from fastgrad import distributed as dist

    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault(t._data.dtype, []).append(t)
    for dtype, ts in by_dtype.items():
        chunk = []
        nbytes = 0
        for t in ts + [None]:
            if t is not None:
                chunk.append(t)
                nbytes += t._data.nbytes
            if chunk and (t is None or nbytes >= _BROADCAST_BUCKET_BYTES):
                flat = np.concatenate([c._data.reshape(-1) for c in chunk])
                dist.broadcast(engine.make_tensor(flat), src=src, group=group)
                off = 0
                for c in chunk:
                    n = c._data.size
                    c._data[...] = flat[off:off + n].reshape(c._data.shape)
                    c._vc.value += 1
                    off += n
                chunk, nbytes = [], 0


class _DDPJoinHook(JoinHook):
    """What a rank that has run out of inputs does for each iteration the others still run (torch's): the
    buffers' broadcast, the "sync in backward?" all-reduce, the used-parameters map and one all-reduce of
    zeros per gradient bucket (through the communication hook when one is registered); at the end, the
    parameters and buffers of a last-joined rank are broadcast to every rank."""

    def __init__(self, ddp, divide_by_initial_world_size):
        if not isinstance(ddp, DistributedDataParallel):
            raise AssertionError("DDP join hook requires passing in a DistributedDataParallel instance as the "
                                 f"state, got {type(ddp).__name__}")
        self.ddp = ddp
        self.ddp._divide_by_initial_world_size = divide_by_initial_world_size
        super().__init__()

    def main_hook(self):
        # the collectives of the forward (DistributedDataParallel.forward) and backward of the others, in
        # their order (torch's, but the buckets' rebuild and the buffers come after the "sync?" all-reduce)
        ddp = self.ddp
        should_sync_backwards = ddp._check_global_requires_backward_grad_sync(is_joined_rank=True)
        if should_sync_backwards:
            ddp.reducer.rebuild_buckets()
        ddp._check_and_sync_module_buffers()
        ddp.require_forward_param_sync = should_sync_backwards
        if not should_sync_backwards:
            return
        if ddp.reducer.needs_used_map():  # before the buckets: the order of this reducer's collectives
            ddp._match_unused_params_allreduce()
        ddp._match_all_reduce_for_bwd_pass()
        ddp.reducer.num_iterations += 1  # an iteration of the group: the first one's decisions are taken

    def post_hook(self, is_last_joiner):
        self.ddp._sync_final_model(is_last_joiner)


def _bucket_caps(bucket_cap_mb, bucket_cap_mb_list):
    """(bucket byte caps in order, the last one repeating; the first bucket's cap), as torch 2.13's
    _BucketCapacityConfig: 25 MB by default with a 1 MB first bucket (its gradients are the last ready,
    so a small one starts sooner); an explicit bucket_cap_mb for every bucket; bucket_cap_mb_list one cap
    per bucket."""
    if bucket_cap_mb_list:
        caps = [int(mb * 1024 * 1024) for mb in bucket_cap_mb_list]
        return caps, caps[0]
    if bucket_cap_mb is None:
        return [25 * 1024 * 1024], _FIRST_BUCKET_BYTES
    cap = int(bucket_cap_mb * 1024 * 1024)
    return [cap], cap


class DistributedDataParallel(Module, Joinable):
    """Data parallelism across processes: wrap the model (the same one, same seed or not: rank 0's
    parameters and buffers are broadcast at construction) and train it as usual on each process's share of
    the data (fastgrad.utils.data.DistributedSampler); loss.backward() leaves in every parameter's .grad the
    average over the processes of their gradients. Gradients are all-reduced in buckets of bucket_cap_mb
    (25 MB by default) while backward is still running. Inside no_sync() they accumulate locally instead,
    and are reduced by the first backward after it. find_unused_parameters: parameters the output does not
    depend on are detected after each forward (otherwise backward would wait for their gradients forever).
    broadcast_buffers: rank 0's buffers (BatchNorm's running statistics) are copied to every rank before each
    forward. The wrapped model is .module, so state_dict keys start with "module."."""

    # its two parameter checks below run in parallel (torch's wording for each case), not shared
    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, skip_all_reduce_unused_params=False, bucket_cap_mb_list=None,
                 batched_grad_copy=False, forward_sync_buffers=None):
        super().__init__()
        Joinable.__init__(self)
        from fastgrad import distributed as dist

        if device_ids is not None and len(device_ids) > 0:
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                             f"{device_ids}, output_device {output_device}, and module parameters on the CPU.")
        params = []
        seen = set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.module = module
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.process_group = dist.group.WORLD if process_group is None else process_group
        if self.process_group is None:
            raise ValueError("Default process group has not been initialized, please make sure to call "
                             "init_process_group.")
        init_sync_buffers = self._buffer_sync_flags(broadcast_buffers, forward_sync_buffers)
        self.batched_grad_copy = batched_grad_copy
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = False
        self._divide_by_initial_world_size = True
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        caps, first = _bucket_caps(bucket_cap_mb, bucket_cap_mb_list)
        self.bucket_bytes_cap = caps[-1] if bucket_cap_mb_list else caps[0]
        self._module_buffers = [b for b in module.buffers()]
        self._check_same_model(params)
        if init_sync:
            self._sync_module_states(params, init_sync_buffers)
        self.reducer = Reducer(params, self.process_group, caps, find_unused_parameters, gradient_as_bucket_view,
                               first)
        self._comm_hooks = []
        self.device = params[0].device
        if static_graph:
            self._set_static_graph()

    def _check_same_model(self, params):
        """Every rank must wrap the same architecture: compared by the parameters' shapes and dtypes (a
        mismatch would otherwise make the collectives disagree)."""
        from fastgrad import distributed as dist

        mine = [(tuple(p._data.shape), str(p._data.dtype)) for p in params]
        everyone = [None] * dist.get_world_size(self.process_group)
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for r, theirs in enumerate(everyone):
            if theirs != mine:
                raise RuntimeError(f"DDP expects same model across all ranks, but rank {dist.get_rank()} has "
                                   f"{len(mine)} params of shapes {mine[:4]}..., while rank {r} has {len(theirs)} "
                                   f"of shapes {theirs[:4]}...")

    def _buffer_sync_flags(self, broadcast_buffers, forward_sync_buffers):
        """torch 2.13's: forward_sync_buffers replaces the deprecated broadcast_buffers (a FutureWarning when
        the latter is given); returns whether buffers are broadcast at construction."""
        if broadcast_buffers is not None:
            warnings.warn("Both `broadcast_buffers` and `forward_sync_buffers` were specified. `broadcast_buffers` "
                          "is deprecated and its value is ignored when `forward_sync_buffers` is provided."
                          if forward_sync_buffers is not None else
                          "`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead. IMPORTANT: unlike "
                          "`broadcast_buffers=False`, `forward_sync_buffers=False` still syncs buffers at init. If you "
                          "rely on buffers NOT being synced at init (e.g. rank-local buffers), keep using "
                          "`broadcast_buffers=False` until `init_sync_buffers` is available.", FutureWarning, stacklevel=3)
        if forward_sync_buffers is not None:
            self.forward_sync_buffers = forward_sync_buffers
            return True
        self.forward_sync_buffers = broadcast_buffers if broadcast_buffers is not None else True
        return self.forward_sync_buffers

    def _sync_module_states(self, params, buffers=True):
        from fastgrad import distributed as dist

        src = dist.get_global_rank(self.process_group, 0)
        _broadcast_coalesced(params + (self._module_buffers if buffers else []), src, self.process_group)

    def _sync_buffers(self):
        """Rank 0's buffers to every rank (under join(): a rank not joined yet, the highest)."""
        from fastgrad import distributed as dist

        if self._join_config.enable:
            authoritative_rank = self._find_common_rank(dist.get_rank(self.process_group), True)
        else:
            authoritative_rank = 0
        self._sync_module_buffers(authoritative_rank)

    def _sync_module_buffers(self, authoritative_rank):
        from fastgrad import distributed as dist

        if self._module_buffers and dist.get_world_size(self.process_group) > 1:
            _broadcast_coalesced(self._module_buffers, dist.get_global_rank(self.process_group, authoritative_rank),
                                 self.process_group)

    def will_sync_module_buffers(self):
        return self.require_forward_param_sync and self.forward_sync_buffers and len(self._module_buffers) > 0

    def forward(self, *inputs, **kwargs):
        from fastgrad.autograd.grad_mode import is_grad_enabled

        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self.reducer.prepare_for_forward()
        work = Join.notify_join_context(self)
        if work is not None:
            if sync:
                self.reducer.set_forward_pass_work_handle(work, self._divide_by_initial_world_size)
            else:
                work.wait()
        if self._join_config.enable:  # tell joined ranks whether this iteration's backward reduces
            self._check_global_requires_backward_grad_sync(is_joined_rank=False, sync=sync)
        if sync:
            self.reducer.rebuild_buckets()
        if self.will_sync_module_buffers():
            self._sync_buffers()
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward(_find_tensors(output) if self.reducer.needs_used_map() else [])
        else:
            self.require_forward_param_sync = False
        return output

    # ------------------------------------------------------------------ uneven inputs (join)
    def join(self, divide_by_initial_world_size=True, enable=True, throw_on_early_termination=False):
        """with ddp.join(): a training loop whose number of iterations differs across ranks: a rank that is
        done shadows the others' collectives (contributing zero gradients) until every rank is done; then
        the model of a last rank to finish is broadcast to all. divide_by_initial_world_size=False averages
        the gradients over the ranks not yet joined instead of the world size. throw_on_early_termination:
        every rank raises a RuntimeError as soon as one is out of inputs (needed when the loop has
        collectives of its own, such as SyncBatchNorm's)."""
        return Join([self], enable, throw_on_early_termination,
                    divide_by_initial_world_size=divide_by_initial_world_size)

    def join_hook(self, **kwargs):
        """The JoinHook of DDP (kwargs: divide_by_initial_world_size, True by default)."""
        divide_by_initial_world_size = kwargs.get("divide_by_initial_world_size", True)
        return _DDPJoinHook(self, divide_by_initial_world_size=divide_by_initial_world_size)

    @property
    def join_device(self):
        return self.device

    @property
    def join_process_group(self):
        return self.process_group

    def _check_global_requires_backward_grad_sync(self, is_joined_rank, sync=None):
        import fastgrad
        from fastgrad import distributed as dist

        if sync is None:
            sync = self.require_backward_grad_sync
        flag = fastgrad.ones(1) if not is_joined_rank and sync else fastgrad.zeros(1)
        dist.all_reduce(flag, group=self.process_group)
        return flag.item() != 0 if is_joined_rank else None

    def _check_and_sync_module_buffers(self):
        from fastgrad import distributed as dist

        if self.will_sync_module_buffers():
            self._sync_module_buffers(self._find_common_rank(dist.get_rank(self.process_group), False))

    def _find_common_rank(self, input_rank, rank_cond):
        import fastgrad
        from fastgrad import distributed as dist

        rank_to_use = fastgrad.tensor([input_rank if rank_cond else -1])
        dist.all_reduce(rank_to_use, op=dist.ReduceOp.MAX, group=self.process_group)
        if rank_to_use.item() == -1:
            raise ValueError("BUG! Expected rank_cond to be true for at least one process. This indicates a bug in "
                             "PyTorch, please report an issue.")
        return rank_to_use.item()

    def _sync_final_model(self, is_last_joiner):
        from fastgrad import distributed as dist

        self._authoritative_rank = self._find_common_rank(dist.get_rank(self.process_group), is_last_joiner)
        src = dist.get_global_rank(self.process_group, self._authoritative_rank)
        _broadcast_coalesced(list(self.reducer.params) + (self._module_buffers if self.forward_sync_buffers else []),
                             src, self.process_group)

    def _match_all_reduce_for_bwd_pass(self):
        works = [self.reducer.run_comm_hook(b) for b in self.reducer.zeros_like_grad_buckets()]
        for w in works:
            w.wait()

    def _match_unused_params_allreduce(self):
        from fastgrad import distributed as dist

        dist.all_reduce(engine.make_tensor(np.zeros(len(self.reducer.params), np.int32)), dist.ReduceOp.MAX,
                        self.process_group)

    # ------------------------------------------------------------------ communication hooks
    def register_comm_hook(self, state, hook):
        """hook(state, bucket: fastgrad.distributed.GradBucket) -> fastgrad.futures.Future of the bucket's
        reduced flat tensor replaces DDP's all-reduce of each gradient bucket (the hook averages, if it
        should: the bucket is not divided by the world size). Once only, before the first backward.
        fastgrad.distributed.algorithms.ddp_comm_hooks.default_hooks has allreduce_hook and the float16 /
        bfloat16 compression hooks."""
        self._check_comm_hook(hook)
        self.reducer.register_comm_hook(state, hook)
        self._comm_hooks.append((hook, state))

    def _check_comm_hook(self, hook):
        import fastgrad
        from fastgrad import distributed as dist

        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        sig = inspect.signature(hook)
        if sig.parameters["bucket"].annotation != inspect._empty and \
                sig.parameters["bucket"].annotation != dist.GradBucket:
            raise ValueError("Communication hook: bucket annotation should be dist.GradBucket.")
        if sig.return_annotation != inspect._empty and \
                sig.return_annotation != fastgrad.futures.Future[fastgrad.Tensor]:
            raise ValueError("Communication hook: return annotation should be torch.futures.Future[torch.Tensor].")

    # ------------------------------------------------------------------ static graph
    def _set_static_graph(self):
        """The graph is the same in every iteration: the parameters unused in the first are known to be
        unused in every later one (no per-iteration detection, no find_unused_parameters needed)."""
        if self.static_graph:
            warnings.warn("You've set static_graph to be True, no need to set it again.", stacklevel=2)
            return
        self.static_graph = True
        self.reducer.set_static_graph()
        if self.find_unused_parameters:
            warnings.warn(
                "You passed find_unused_parameters=true to DistributedDataParallel, `_set_static_graph` will detect "
                "unused parameters automatically, so you do not need to set find_unused_parameters=true, just be "
                "sure these unused parameters will not change during training loop while calling "
                "`_set_static_graph`.", stacklevel=2)

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients of the forward and backward passes run inside accumulate locally; the first backward
        after it reduces what has been accumulated."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _get_ddp_logging_data(self):
        return {"world_size": self.reducer.world, "bucket_sizes": [len(b.params) for b in self.reducer.buckets],
                "num_iterations": self.reducer.num_iterations, "find_unused_parameters": self.find_unused_parameters,
                "gradient_as_bucket_view": self.gradient_as_bucket_view, "backend_name": "mpi"}
