"""torch.nn.utils.skip_init: build a module without running its parameter initialization."""
import inspect

import numpy as np

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with uninitialized (empty) parameters and buffers, as torch's
    meta-device construction followed by to_empty gives."""
    from fastgrad.autograd.grad_mode import no_grad
    from fastgrad.nn.modules.module import Module

    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError("Expected a Module; got %s" % (module_cls,))
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs["device"] = kwargs.pop("device", "cpu")
    module = module_cls(*args, **kwargs)
    with no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            t._data = np.empty_like(t._data)
    return module
