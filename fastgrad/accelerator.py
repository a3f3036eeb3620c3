"""fastgrad.accelerator (torch.accelerator): fastgrad runs on the CPU only, so no accelerator is
available; the queries answer as PyTorch's CPU build does and device operations raise its error."""
__all__ = ["current_accelerator", "current_device_idx", "current_device_index", "current_stream", "device_count",
           "device_index", "empty_cache", "empty_host_cache", "get_device_capability", "get_memory_info",
           "is_available", "max_memory_allocated", "max_memory_reserved", "memory_allocated", "memory_reserved",
           "memory_stats", "reset_accumulated_memory_stats", "reset_peak_memory_stats", "set_device_idx",
           "set_device_index", "set_stream", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def _none(*args, **kwargs):
    raise RuntimeError(_NONE)


def is_available():
    return False


def device_count():
    return 0


def current_accelerator(check_available=False):
    return None


current_device_index = current_device_idx = set_device_index = set_device_idx = _none
current_stream = set_stream = synchronize = empty_cache = empty_host_cache = get_device_capability = _none
get_memory_info = memory_allocated = max_memory_allocated = memory_reserved = max_memory_reserved = _none
memory_stats = reset_accumulated_memory_stats = reset_peak_memory_stats = _none


class device_index:  # noqa: N801  (PyTorch's name)
    """Context manager that would select an accelerator index; with none available only None is accepted."""

    def __init__(self, device, /):
        self.idx = device

    def __enter__(self):
        if self.idx is not None:
            raise RuntimeError(_NONE)

    def __exit__(self, *exc):
        return False
