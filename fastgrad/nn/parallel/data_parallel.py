"""DataParallel as torch's on a machine without accelerators: it keeps the module as `.module`
(so state dict keys get the 'module.' prefix), device_ids is empty and forward calls the module."""
from fastgrad.nn.modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """Wraps module; with no accelerator (fastgrad runs on the CPU) forward is module's forward."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []  # torch's CPU path sets nothing else (no dim, no output_device)

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """torch.nn.parallel.data_parallel: needs an accelerator, which fastgrad does not have."""
    raise RuntimeError("device type could not be determined")
