"""torch.autograd.profiler: the legacy profile context manager and record_function (the same
recorder as fastgrad.profiler)."""
from fastgrad.profiler._events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401
from fastgrad.profiler.profiler import record_function  # noqa: F401

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


class profile:  # noqa: N801
    """with profile() as prof: ... ; prof.key_averages().table(), prof.function_events."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None):
        from fastgrad.profiler.profiler import profile as _profile

        self.enabled = enabled
        self._prof = _profile(record_shapes=record_shapes) if enabled else None
        self.function_events = None

    def __enter__(self):
        if self._prof is not None:
            self._prof.start()
        return self

    def __exit__(self, *exc):
        if self._prof is not None:
            self._prof.stop()
            self.function_events = self._prof.events()
        return False

    def _events(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")
        return self.function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        return self._events().key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by=None, row_limit=100, **kwargs):
        return self._events().table(sort_by=sort_by, row_limit=row_limit, **kwargs)

    def export_chrome_trace(self, path):
        return self._events().export_chrome_trace(path)

    def total_average(self):
        return self._events().total_average()

    @property
    def self_cpu_time_total(self):
        return self._events().self_cpu_time_total

    def __str__(self):
        return self.table()
