"""DistributedDataParallel (torch.nn.parallel.DistributedDataParallel) on fastgrad.distributed's MPI process
groups: each process runs the module on its share of the batch; backward averages the gradients over the
processes, bucket by bucket while backward runs (fastgrad/nn/parallel/_reducer.py), so that after backward
every process holds the same gradients and an optimizer step keeps the replicas identical."""
import contextlib

import numpy as np

from fastgrad._backend import engine
from fastgrad.nn.modules.module import Module
from fastgrad.nn.parallel._reducer import Reducer

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


class DistributedDataParallel(Module):
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
    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, skip_all_reduce_unused_params=False):
        super().__init__()
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
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self._module_buffers = [b for b in module.buffers()]
        self._check_same_model(params)
        if init_sync:
            self._sync_module_states(params)
        self.reducer = Reducer(params, self.process_group, self.bucket_bytes_cap, find_unused_parameters,
                               gradient_as_bucket_view)

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

    def _sync_module_states(self, params):
        from fastgrad import distributed as dist

        src = dist.get_global_rank(self.process_group, 0)
        _broadcast_coalesced(params + self._module_buffers, src, self.process_group)

    def _sync_buffers(self):
        from fastgrad import distributed as dist

        if self._module_buffers and dist.get_world_size(self.process_group) > 1:
            _broadcast_coalesced(self._module_buffers, dist.get_global_rank(self.process_group, 0),
                                 self.process_group)

    def forward(self, *inputs, **kwargs):
        from fastgrad.autograd.grad_mode import is_grad_enabled

        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self.reducer.prepare_for_forward()
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._sync_buffers()
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward(_find_tensors(output) if self.find_unused_parameters else [])
        else:
            self.require_forward_param_sync = False
        return output

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
