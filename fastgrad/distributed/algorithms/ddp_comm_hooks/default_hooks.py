"""torch.distributed.algorithms.ddp_comm_hooks.default_hooks: DistributedDataParallel communication hooks
that average a bucket of gradients with one all-reduce (allreduce_hook: as DDP does without a hook), or
compress it to float16 / bfloat16 for the all-reduce and cast the result back (fp16_compress_hook,
bf16_compress_hook), and the wrappers that cast around any other hook."""
import fastgrad
import fastgrad.distributed as dist

__all__ = ["allreduce_hook", "fp16_compress_hook", "bf16_compress_hook", "fp16_compress_wrapper",
           "bf16_compress_wrapper"]


def _allreduce_fut(process_group, tensor):
    """Average the input gradient tensor by allreduce and returns a future."""
    group_to_use = process_group if process_group is not None else dist.group.WORLD
    # Apply the division first to avoid overflow, especially for FP16.
    tensor.div_(group_to_use.size())
    return (dist.all_reduce(tensor, group=group_to_use, async_op=True)
            .get_future().then(lambda fut: fut.value()[0]))


def allreduce_hook(process_group, bucket):
    """All-reduce the bucket's buffer divided by the group's size: the same result as DDP without a hook.
    ddp_model.register_comm_hook(process_group, allreduce_hook)."""
    return _allreduce_fut(process_group, bucket.buffer())


def _compress_hook(dtype, process_group, bucket):
    group_to_use = process_group if process_group is not None else dist.group.WORLD
    world_size = group_to_use.size()
    buffer = bucket[0] if isinstance(bucket, tuple) else bucket.buffer()
    compressed_tensor = buffer.to(dtype).div_(world_size)

    def decompress(fut):
        decompressed_tensor = buffer
        # Decompress in place to reduce the peak memory.
        value = fut if isinstance(fut, fastgrad.Tensor) else fut.value()[0]
        decompressed_tensor.copy_(value)
        return decompressed_tensor

    fut = dist.all_reduce(compressed_tensor, group=group_to_use, async_op=True).get_future()
    return fut.then(decompress)


def fp16_compress_hook(process_group, bucket):
    """Cast the bucket to float16, divide by the group's size, all-reduce, cast back into the bucket."""
    return _compress_hook(fastgrad.float16, process_group, bucket)


def bf16_compress_hook(process_group, bucket):
    """Cast the bucket to bfloat16, divide by the group's size, all-reduce, cast back into the bucket
    (MPI reduces bfloat16 through float32, then rounds the sum to bfloat16)."""
    return _compress_hook(fastgrad.bfloat16, process_group, bucket)


def _wrapper(dtype, hook):
    def wrapper_hook(hook_state, bucket):
        bucket.set_buffer(bucket.buffer().to(dtype))
        fut = hook(hook_state, bucket)

        def decompress(fut):
            decompressed_tensor = bucket.buffer()
            decompressed_tensor.copy_(fut.value())
            return decompressed_tensor
        return fut.then(decompress)
    return wrapper_hook


def fp16_compress_wrapper(hook):
    """A hook that casts the bucket to float16, runs hook on it and casts its result back:
    fp16_compress_wrapper(allreduce_hook) is fp16_compress_hook."""
    wrapped = _wrapper(fastgrad.float16, hook)
    wrapped.__name__ = wrapped.__qualname__ = "fp16_compress_wrapper_hook"
    return wrapped


def bf16_compress_wrapper(hook):
    """As fp16_compress_wrapper, in bfloat16."""
    wrapped = _wrapper(fastgrad.bfloat16, hook)
    wrapped.__name__ = wrapped.__qualname__ = "bf16_compress_wrapper_hook"
    return wrapped
