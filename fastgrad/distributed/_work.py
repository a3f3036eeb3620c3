"""The small types of fastgrad.distributed (torch.distributed's names): ReduceOp, Backend, Work (what an
async_op=True collective returns) and the wait with a deadline that every collective goes through, so that
a rank whose peer died fails with an error after the process group's timeout instead of hanging."""
import datetime
import enum
import time

__all__ = ["ReduceOp", "Backend", "Work", "DistBackendError", "DistError", "GradBucket"]

default_pg_timeout = datetime.timedelta(minutes=30)  # torch's default for CPU backends


class DistError(RuntimeError):
    """torch.distributed.DistError: an error of the distributed package."""


class DistBackendError(DistError):
    """torch.distributed.DistBackendError: the backend (MPI here) failed or timed out."""


class ReduceOp:
    """The reductions of all_reduce, reduce and reduce_scatter: ReduceOp.SUM, AVG, PRODUCT, MIN, MAX, BAND,
    BOR, BXOR (members of ReduceOp.RedOpType, as torch's)."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8

        def __str__(self):
            return f"RedOpType.{self.name}"

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM

    def __init__(self, op=RedOpType.SUM):
        self.op = ReduceOp.RedOpType(op)

    def __eq__(self, other):
        return self.op == getattr(other, "op", other)

    def __hash__(self):
        return hash(self.op)


class Backend(str):
    """The backend names (lowercase strings, as torch's); fastgrad's transport is MPI whichever CPU backend
    is named (gloo scripts run unchanged); Backend("GLOO") parses to "gloo"."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"
    XCCL = "xccl"
    FAKE = "fake"
    backend_list = [UNDEFINED, GLOO, NCCL, XCCL, UCC, MPI, FAKE]

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        if value == Backend.UNDEFINED:
            value = name.lower()
        return str.__new__(cls, value)


def _seconds(timeout):
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return float(timeout)


def wait_requests(reqs, timeout, what, rank, statuses=None):
    """Wait until every MPI request in reqs completes, failing after timeout seconds (None: never).
    Spins on Test for the first milliseconds (collectives on one machine finish in microseconds), then
    sleeps between tests so that a long wait leaves the core to the other processes."""
    from mpi4py import MPI

    if not reqs:
        return
    if timeout is None:
        MPI.Request.Waitall(reqs, statuses)
        return
    start = time.monotonic()
    pause = 0.0
    while not MPI.Request.Testall(reqs, statuses):
        waited = time.monotonic() - start
        if waited > timeout:
            raise DistBackendError(
                f"[Rank {rank}] {what} timed out after {timeout:g} s: a peer rank did not take part (it may "
                f"have failed, exited, or be running a different collective); the process group's timeout "
                f"is set by init_process_group(timeout=...)")
        if waited > 0.005:
            pause = min(pause * 2 or 1e-5, 1e-3)
        time.sleep(pause)


class Work:
    """A collective in flight (async_op=True): wait() blocks until it is done (and, for ops finished in
    NumPy such as AVG's division, applies the result) and returns True; is_completed() tests without
    blocking; result() is the list of output tensors."""

    def __init__(self, reqs, finish=None, outputs=(), timeout=None, what="collective", rank=0):
        self._reqs = list(reqs)
        self._finish = finish
        self._outputs = list(outputs)
        self._timeout = timeout
        self._what = what
        self._rank = rank
        self._done = False
        self._exc = None
        self._value = None
        self._statuses = None
        self._future = None

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._value = self._finish()
            if self._future is not None and not self._future._done:
                self._future.set_result(list(self._outputs))

    def wait(self, timeout=None):
        if self._exc is not None:
            raise self._exc
        if not self._done:
            limit = _seconds(timeout) if timeout is not None else self._timeout
            try:
                wait_requests(self._reqs, limit, self._what, self._rank, self._statuses)
            except DistBackendError as e:
                self._exc = e
                if self._future is not None and not self._future._done:
                    self._future.set_exception(e)
                raise
            self._complete()
        return True

    def is_completed(self):
        if self._done:
            return True
        from mpi4py import MPI

        if MPI.Request.Testall(self._reqs, self._statuses):
            self._complete()
            return True
        return False

    def is_success(self):
        return self._done and self._exc is None

    def exception(self):
        return self._exc

    def result(self):
        self.wait()
        return list(self._outputs)

    def get_future(self):
        """A fastgrad.futures.Future completed with result() (the list of output tensors) when the
        collective is done (torch's Work.get_future); waiting on it, or on a Future chained from it with
        then(), waits for the collective."""
        if self._future is None:
            from fastgrad.futures import Future

            fut = Future()
            self._future = fut

            def drive(block):
                try:
                    if block:
                        self.wait()
                    else:
                        self.is_completed()
                except DistBackendError:
                    pass  # the future holds the error
            fut._drive = drive
            if self._done:
                fut.set_result(list(self._outputs))
            elif self._exc is not None:
                fut.set_exception(self._exc)
        return self._future

    def synchronize(self):
        self.wait()

    def source_rank(self):
        """recv from any source: the rank the message came from."""
        self.wait()
        if self._value is None:
            raise RuntimeError("source_rank() is only defined for a recv's Work")
        return self._value

    def __repr__(self):
        return f"<fastgrad.distributed.Work {self._what} completed={self._done}>"


class GradBucket:
    """torch.distributed.GradBucket: what DistributedDataParallel passes to a communication hook
    (register_comm_hook) for each bucket of gradients: buffer() is the flat tensor of the bucket's gradients
    (parameters in the bucket's order), gradients() its per-parameter views, parameters() the parameters,
    index() the bucket's index and is_last() whether it is the last bucket of the backward pass;
    set_buffer(tensor) replaces the tensor buffer() returns."""

    def __init__(self, index, bucket_count, buffer, offsets, lengths, sizes_list, parameters):
        self._index = index
        self._bucket_count = bucket_count
        self._buffer = buffer
        self._offsets = list(offsets)
        self._lengths = list(lengths)
        self._sizes = [tuple(s) for s in sizes_list]
        self._parameters = list(parameters)

    def index(self):
        return self._index

    def buffer(self):
        return self._buffer

    def gradients(self):
        return [self._buffer[o:o + n].view(s) for o, n, s in zip(self._offsets, self._lengths, self._sizes)]

    def parameters(self):
        return list(self._parameters)

    def is_last(self):
        return self._index == self._bucket_count - 1

    def set_buffer(self, buffer):
        self._buffer = buffer

    def __repr__(self):
        return f"<fastgrad.distributed.GradBucket index={self._index} of {self._bucket_count}>"
