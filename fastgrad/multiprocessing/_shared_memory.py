"""Shared-memory arrays: the storage behind Tensor.share_memory_() and the tensors that travel between processes.

A segment is an anonymous memory file (``memfd_create``; a deleted file in /dev/shm where memfd is missing)
mapped MAP_SHARED. Its file descriptor stays open while the mapping lives, so the segment can be sent on to
another process (``multiprocessing.reduction.DupFd``: the receiver gets a duplicate of the descriptor over a
Unix socket and maps the same pages). The memory is freed by the kernel when the last mapping and the last
descriptor are gone: nothing to unlink, nothing left behind when a process is killed.
"""
import mmap
import os
import tempfile
import weakref

import numpy as np

__all__ = ["Segment", "empty", "is_shared", "segment_of", "share"]


class Segment(mmap.mmap):
    """A MAP_SHARED mapping of a memory file; ``fd`` is the file (kept open while the mapping lives)."""


def _memfd(nbytes):
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("fastgrad", os.MFD_CLOEXEC)
    else:  # pragma: no cover - platforms without memfd: an unlinked file in shared memory
        d = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="fastgrad_", dir=d)
        os.unlink(path)
    os.ftruncate(fd, nbytes)
    return fd


def _map(fd, nbytes):
    seg = Segment(fd, nbytes)
    seg.fd = fd
    seg.nbytes = nbytes
    seg.address = np.frombuffer(seg, np.uint8).ctypes.data
    weakref.finalize(seg, os.close, fd)
    return seg


def empty(shape, dtype):
    """A new C-contiguous array of shape and dtype whose memory is a fresh shared segment."""
    dtype = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    seg = _map(_memfd(max(nbytes, 1)), max(nbytes, 1))
    return np.ndarray(shape, dtype, buffer=seg)


def share(a):
    """A shared copy of array a (same shape, dtype, values; C-contiguous)."""
    out = empty(a.shape, a.dtype)
    np.copyto(out, a, casting="no")
    return out


def segment_of(a):
    """The Segment an array's memory lies in, or None."""
    base = a
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, Segment) else None


def is_shared(a):
    return segment_of(a) is not None


def handle(a):
    """(segment, byte offset, shape, strides, dtype): what a receiver needs to map a shared array."""
    seg = segment_of(a)
    return seg, a.ctypes.data - seg.address, a.shape, a.strides, a.dtype


def from_fd(fd, nbytes, offset, shape, strides, dtype):
    """Map a received segment (taking ownership of fd) and view it as the sender's array."""
    seg = _map(fd, nbytes)
    return np.ndarray(shape, dtype, buffer=seg, offset=offset, strides=strides)
