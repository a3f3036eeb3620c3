"""torch.profiler: profile fastgrad's ops on the CPU (profile, record_function, schedule,
ProfilerActivity, key_averages().table(), Chrome traces through tensorboard_trace_handler)."""
from fastgrad.profiler.profiler import (DeviceType, ExecutionTraceObserver, ProfilerAction,  # noqa: F401
                                        ProfilerActivity, kineto_available, profile, record_function, schedule,
                                        supported_activities, tensorboard_trace_handler)
from fastgrad.profiler._events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401

__all__ = ["profile", "schedule", "supported_activities", "tensorboard_trace_handler", "ProfilerAction",
           "ProfilerActivity", "kineto_available", "DeviceType", "record_function", "ExecutionTraceObserver"]
