"""How tensors cross process boundaries (torch.multiprocessing.reductions).

``init_reductions()`` registers reducers with multiprocessing's ForkingPickler, the pickler its Queues, Pipes
and Process arguments use: a tensor travels as a handle to shared memory (a duplicated file descriptor plus
offset, shape, strides and dtype), never as a copy of its bytes. A tensor that is not yet shared is moved into
shared memory first, in place, as torch does (a view whose base cannot be moved is sent as a shared copy).
The receiver maps the same pages: writes on either side are seen by the other.
"""
from multiprocessing.reduction import DupFd, ForkingPickler

from fastgrad._backend import engine
from fastgrad.multiprocessing import _shared_memory

__all__ = ["init_reductions", "rebuild_tensor", "reduce_tensor"]


def rebuild_tensor(cls, fd, nbytes, offset, shape, strides, dtype, requires_grad):
    data = _shared_memory.from_fd(fd.detach(), nbytes, offset, shape, strides, dtype)
    t = engine.make_tensor(data)
    from fastgrad.nn.parameter import Parameter

    if issubclass(cls, Parameter):
        return cls(t, requires_grad)
    if cls is not type(t):
        t = type(t)._make_subclass(cls, t, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def reduce_tensor(tensor):
    if tensor.requires_grad and not tensor.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
                           "does not support crossing process boundaries.  If you just want to transfer the data, "
                           "call detach() on the tensor before serializing (e.g., putting it on the queue).")
    data = tensor._data
    if not _shared_memory.is_shared(data):
        tensor.share_memory_()
        data = tensor._data
        if not _shared_memory.is_shared(data):  # a view that could not be moved: send a shared copy
            data = _shared_memory.share(data)
    seg, offset, shape, strides, dtype = _shared_memory.handle(data)
    fd = _shared_memory.fd_of(seg)
    if fd is None:  # a received segment whose file cannot be reopened here: send a shared snapshot
        seg, offset, shape, strides, dtype = _shared_memory.handle(_shared_memory.share(data))
        fd = seg.fd
    return (rebuild_tensor, (type(tensor), DupFd(fd), seg.nbytes, offset, shape, strides, dtype,
                             tensor.requires_grad))


def init_reductions():
    from fastgrad._tensor import Tensor
    from fastgrad.nn.parameter import Buffer, Parameter

    for cls in (Tensor, Parameter, Buffer):
        ForkingPickler.register(cls, reduce_tensor)
