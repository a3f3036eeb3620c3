"""fastgrad.nn: modules, parameters, init and functional (PyTorch's torch.nn)."""
from fastgrad.nn import functional  # noqa: F401
from fastgrad.nn.parameter import Parameter  # noqa: F401
from fastgrad.nn.modules import *  # noqa: F401,F403
from fastgrad.nn.modules import Module  # noqa: F401
from fastgrad.nn import attention, init, utils  # noqa: F401,E402
from fastgrad.nn.parameter import Buffer, UninitializedBuffer, UninitializedParameter  # noqa: F401,E402
from fastgrad.nn.parallel import DataParallel  # noqa: F401,E402
