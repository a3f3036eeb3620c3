"""Shared-memory arrays: the storage behind Tensor.share_memory_() and the tensors that travel between processes.

A segment is an anonymous memory file (``memfd_create``; a deleted file in /dev/shm where memfd is missing)
mapped MAP_SHARED. The creator keeps its file descriptor open while the mapping lives, so the segment can be sent
to another process (``multiprocessing.reduction.DupFd``: the receiver gets a duplicate of the descriptor over a
Unix socket and maps the same pages). The memory is freed by the kernel when the last mapping and the last
descriptor are gone: nothing to unlink, nothing left behind when a process is killed.
"""
import ctypes
import functools
import mmap
import os
import tempfile
import weakref

import numpy as np

__all__ = ["Segment", "empty", "is_shared", "segment_of", "share"]


class Segment:
    """Marker base of the mappings: a ctypes char array over a MAP_SHARED mapping of a memory file, with
    ``address``, ``nbytes`` and ``fd`` (the file, kept open by the creator; None in a receiver). The mapping is
    made with libc's mmap, not Python's mmap module, which would keep a duplicate descriptor per mapping."""


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_MAP_FAILED = ctypes.c_void_p(-1).value


@functools.lru_cache(maxsize=512)
def _segment_type(nbytes):
    return type("Segment", (Segment, ctypes.c_char * nbytes), {})


def _memfd(nbytes):
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("fastgrad", os.MFD_CLOEXEC)
    else:  # pragma: no cover - platforms without memfd: an unlinked file in shared memory
        d = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="fastgrad_", dir=d)
        os.unlink(path)
    os.ftruncate(fd, nbytes)
    return fd


def _map(fd, nbytes, keep_fd=True):
    addr = _libc.mmap(None, nbytes, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
    if addr is None or addr == _MAP_FAILED:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"mmap of a {nbytes}-byte shared segment failed: {os.strerror(err)}")
    seg = _segment_type(nbytes).from_address(addr)
    weakref.finalize(seg, _libc.munmap, addr, nbytes)  # once no array views the segment any more
    seg.nbytes = nbytes
    seg.address = addr
    if keep_fd:
        seg.fd = fd
        weakref.finalize(seg, os.close, fd)
    else:
        os.close(fd)
        seg.fd = None
    return seg


def fd_of(seg):
    """A descriptor of the segment's memory file, to send it on; None when it cannot be had. A received segment
    closed its descriptor (so that a process holding thousands of received batches does not run out of
    descriptors); it is reopened through /proc/self/map_files where the kernel allows it."""
    if seg.fd is None:
        page = mmap.PAGESIZE
        end = seg.address + (seg.nbytes + page - 1) // page * page
        try:
            fd = os.open(f"/proc/self/map_files/{seg.address:x}-{end:x}", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return None
        seg.fd = fd
        weakref.finalize(seg, os.close, fd)
    return seg.fd


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
    """Map a received segment (taking ownership of fd, closed once mapped) and view it as the sender's array."""
    seg = _map(fd, nbytes, keep_fd=False)
    return np.ndarray(shape, dtype, buffer=seg, offset=offset, strides=strides)
