"""torch.profiler on fastgrad: profile times every op call (fastgrad._engine routes each through
the active Recorder) and every record_function range, on the CPU; schedule, step(),
on_trace_ready and tensorboard_trace_handler (a Chrome trace file) as in torch."""
import contextlib
import os
import warnings
from enum import Enum

from fastgrad._backend import engine
from fastgrad.profiler._events import EventList, Recorder

__all__ = ["profile", "schedule", "supported_activities", "tensorboard_trace_handler", "ProfilerAction",
           "ProfilerActivity", "kineto_available", "DeviceType", "record_function", "ExecutionTraceObserver"]

_recorder = None  # the Recorder of the profile that is recording, if any


def _set_recorder(rec):
    global _recorder
    _recorder = rec
    engine.set_profiler(rec)


class ProfilerActivity(Enum):
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5

    def __repr__(self):
        return "<ProfilerActivity.%s: %d>" % (self.name, self.value)


class DeviceType(Enum):
    CPU = 0
    CUDA = 1
    MKLDNN = 2
    OPENGL = 3
    OPENCL = 4
    IDEEP = 5
    HIP = 6
    FPGA = 7
    MAIA = 8
    XLA = 9
    Vulkan = 10
    Metal = 11
    XPU = 12
    MPS = 13
    Meta = 14
    HPU = 15
    VE = 16
    Lazy = 17
    IPU = 18
    MTIA = 19
    PrivateUse1 = 20


class ProfilerAction(Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def supported_activities():
    """The activities fastgrad can profile: the CPU."""
    return {ProfilerActivity.CPU}


def kineto_available():
    return False


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """step -> ProfilerAction: skip_first steps, then cycles of wait / warmup / active steps
    (repeat of them; 0: no limit); the last active step of a cycle is RECORD_AND_SAVE."""

    def schedule_fn(step):
        if step < 0:
            raise AssertionError("Step must be non-negative. Got %s." % step)
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        num_steps = wait + warmup + active
        if repeat > 0 and step / num_steps >= repeat:
            return ProfilerAction.NONE
        mod_step = step % num_steps
        if mod_step < wait:
            return ProfilerAction.NONE
        if mod_step < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod_step < num_steps - 1 else ProfilerAction.RECORD_AND_SAVE

    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments. Got wait=%s (need >= 0), warmup=%s (need >= 0), "
                             "active=%s (need > 0), repeat=%s (need >= 0), skip_first=%s (need >= 0)."
                             % (wait, warmup, active, repeat, skip_first))
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)
    return schedule_fn


def _default_schedule_fn(_):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False, use_python_export=False):
    """An on_trace_ready handler writing <dir_name>/<worker_name>.<time_ns>.pt.trace.json[.gz]."""
    import socket
    import time

    def handler_fn(prof):
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except Exception as e:
                raise RuntimeError("Can't create directory: " + dir_name) from e
        if not worker_name:
            worker_name = "%s_%d" % (socket.gethostname(), os.getpid())
        file_name = "%s.%d.pt.trace.json" % (worker_name, time.time_ns())
        if use_gzip:
            file_name += ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, file_name))

    return handler_fn


class record_function(contextlib.ContextDecorator):  # noqa: N801
    """A named range in the profile (its ops are its children); a no-op when no profile records."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._event = None
        self._recorder = None

    def __enter__(self):
        rec = _recorder
        if rec is not None:
            self._recorder = rec
            self._event = rec.open(self.name, None, user=True)
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._recorder.close(self._event)
            self._event = None
        return False


class profile:
    """Context manager recording the CPU time of each fastgrad op and record_function range.

    Without a schedule it records from start() to stop(); with one, step() advances it and
    on_trace_ready(prof) runs at the end of each RECORD_AND_SAVE step (and at stop())."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None):
        self.activities = set(activities) if activities else supported_activities()
        if use_cuda is not None:
            warnings.warn("`use_cuda` is deprecated, use `activities` argument instead", FutureWarning, stacklevel=2)
        self.record_steps = schedule is not None
        self.schedule = schedule if schedule is not None else _default_schedule_fn
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self._rec = None
        self._step_event = None
        self._events = EventList()

    # ------------------------------------------------------------------ control
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self._transit(None, self.current_action)
        self._open_step()

    def stop(self):
        self._close_step()
        self._transit(self.current_action, None)

    def step(self):
        """Advance the schedule by one step."""
        self._close_step()
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)
        self._open_step()

    def _open_step(self):
        if self.record_steps and self._rec is not None:
            self._step_event = self._rec.open("ProfilerStep#%d" % self.step_num, None, user=True)

    def _close_step(self):
        if self._step_event is not None and self._rec is not None:
            self._rec.close(self._step_event)
        self._step_event = None

    def _transit(self, prev, new):
        A = ProfilerAction
        active = (A.WARMUP, A.RECORD, A.RECORD_AND_SAVE)
        if prev in (A.RECORD, A.RECORD_AND_SAVE) and (new not in (A.RECORD, A.RECORD_AND_SAVE)
                                                      or prev == A.RECORD_AND_SAVE):
            self._finish()
            prev = None
        if prev == A.WARMUP and new in (A.RECORD, A.RECORD_AND_SAVE):
            self._begin()  # what warmup recorded is dropped
        elif prev == A.WARMUP and new not in active:
            _set_recorder(None)
            self._rec = None
        elif prev not in active and new in active:
            self._begin()

    def _begin(self):
        self._rec = Recorder(self.record_shapes)
        _set_recorder(self._rec)

    def _finish(self):
        _set_recorder(None)
        if self._rec is not None:
            self._events = EventList(self._rec.events, with_shapes=self.record_shapes)
        self._rec = None
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ------------------------------------------------------------------ results
    def events(self):
        """The events recorded (the ongoing recording's while it runs)."""
        if self._rec is not None:
            return EventList(self._rec.events, with_shapes=self.record_shapes)
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        """The events averaged by name (and input shapes): an EventList of FunctionEventAvg."""
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        return self.events().export_chrome_trace(path)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        with open(path, "w") as f:
            for e in self.events():
                if e.cpu_parent is None:
                    f.write("%s %d\n" % (e.name, int(getattr(e, metric))))

    @property
    def self_cpu_time_total(self):
        return self.events().self_cpu_time_total


class ExecutionTraceObserver:
    """torch's execution-trace observer: fastgrad writes the ops a profile records as a JSON list."""

    def __init__(self):
        self._path = None
        self._registered = False

    def register_callback(self, output_file_path):
        self._path = output_file_path
        self._registered = True
        return self

    def unregister_callback(self):
        self._registered = False

    def is_registered(self):
        return self._registered

    def get_output_file_path(self):
        return self._path

    def start(self):
        pass

    def stop(self):
        pass

    def cleanup(self):
        self.unregister_callback()
