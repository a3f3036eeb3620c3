"""torch.futures: Future (a result set once, callbacks chained with then / add_done_callback),
collect_all and wait_all."""
import threading
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Future", "collect_all", "wait_all"]


class Future(Generic[T]):
    """A value (or an exception) available later: set_result / set_exception once; wait() blocks
    until then and returns it (or raises it); then(callback) gives a Future of callback(self).
    A Future of a collective in flight (fastgrad.distributed's Work.get_future()) has a _drive: MPI
    progresses only inside MPI calls, so wait() and done() on it (or on a Future chained from it by then or
    collect_all) move the collective themselves: _drive(True) waits for it, _drive(False) tests it."""

    _drive = None

    def __init__(self, *, devices=None):
        self._cond = threading.Condition()
        self._done = False
        self._value = None
        self._error = None
        self._callbacks = []

    def done(self):
        if not self._done and self._drive is not None:
            self._drive(False)
        return self._done

    def wait(self):
        if not self._done and self._drive is not None:
            self._drive(True)
        with self._cond:
            while not self._done:
                self._cond.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def value(self):
        if not self._done:
            raise RuntimeError("Future has not completed yet")  # torch: value() on an incomplete Future
        if self._error is not None:
            raise self._error
        return self._value

    def _complete(self, value, error):
        with self._cond:
            if self._done:
                raise RuntimeError("Future can only be marked completed once.")
            self._value, self._error, self._done = value, error, True
            callbacks, self._callbacks = self._callbacks, []
            self._cond.notify_all()
        for cb in callbacks:
            cb(self)

    def set_result(self, result):
        self._complete(result, None)

    def set_exception(self, result):
        if not isinstance(result, Exception):
            raise AssertionError("%s is of type %s, not an Exception." % (result, type(result)))
        self._complete(None, result)

    def add_done_callback(self, callback):
        with self._cond:
            if not self._done:
                self._callbacks.append(callback)
                return
        callback(self)

    def then(self, callback):
        fut = Future()

        def run(f):
            try:
                fut.set_result(callback(f))
            except Exception as e:  # the callback's error (or the source's, re-raised by value()), as torch words it
                fut.set_exception(RuntimeError("Got the following error when running the callback: %s: %s"
                                               % (type(e).__name__, e)))

        self.add_done_callback(run)
        if self._drive is not None:
            fut._drive = self._drive
        return fut

    def __repr__(self):
        return "<fastgrad.futures.Future done=%s>" % self._done


def collect_all(futures):
    """A Future of the list of futures, completed when all of them are."""
    futures = list(futures)
    out = Future()
    if not futures:
        out.set_result([])
        return out
    remaining = [len(futures)]
    lock = threading.Lock()

    def one(_):
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            out.set_result(futures)

    for f in futures:
        f.add_done_callback(one)
    drives = [f._drive for f in futures if f._drive is not None]
    if drives:
        def drive(block):
            for d in drives:
                d(block)
        out._drive = drive
    return out


def wait_all(futures):
    """Wait for every future; their values, in order (the first error is raised)."""
    return [f.wait() for f in collect_all(futures).wait()]
