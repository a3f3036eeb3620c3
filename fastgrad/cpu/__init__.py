"""torch.cpu: the CPU device's module, mirroring torch.cuda's calls so device-agnostic code runs
(every fastgrad op is synchronous, so streams and events are trivially complete)."""
import platform
from types import MappingProxyType

from fastgrad._types import CPU, check_device

__all__ = ["is_available", "is_initialized", "synchronize", "current_device", "current_stream", "stream",
           "set_device", "device_count", "Stream", "StreamContext", "Event", "get_capabilities"]


def get_capabilities():
    """The CPU's architecture and the instruction-set flags the kernel reports (/proc/cpuinfo)."""
    caps = {"architecture": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    for name, flag in (("sse", "sse"), ("sse2", "sse2"), ("sse3", "pni"), ("ssse3", "ssse3"),
                                       ("sse4_1", "sse4_1"), ("sse4_2", "sse4_2"), ("avx", "avx"), ("avx2", "avx2"),
                                       ("avx512_f", "avx512f"), ("avx512_bw", "avx512bw"), ("avx512_vl", "avx512vl"),
                                       ("avx512_vnni", "avx512_vnni"), ("avx512_bf16", "avx512_bf16"),
                                       ("fma3", "fma"), ("f16c", "f16c"), ("popcnt", "popcnt")):
                        caps[name] = flag in flags
                    break
    except OSError:
        pass
    return MappingProxyType(caps)


def is_available():
    return True


def is_initialized():
    return True


def synchronize(device=None):
    check_device(device)


def current_device():
    return "cpu"


def set_device(device):
    check_device(device)


def device_count():
    return 1


class Stream:
    """The CPU's one stream: work submitted to it has always completed."""

    def __init__(self, priority=-1):
        self.priority = priority
        self.device = CPU

    def wait_stream(self, stream):
        pass

    def wait_event(self, event):
        pass

    def record_event(self, event=None):
        return event if event is not None else Event()

    def query(self):
        return True

    def synchronize(self):
        pass


class Event:
    def query(self):
        return True

    def record(self, stream=None):
        pass

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass


_default_stream = Stream()


def current_stream(device=None):
    check_device(device)
    return _default_stream


class StreamContext:
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


def stream(stream):
    return StreamContext(stream)
