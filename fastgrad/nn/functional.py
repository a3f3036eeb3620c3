"""fastgrad.nn.functional (PyTorch's torch.nn.functional)."""
from fastgrad._ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from fastgrad._ops.nn import cross_entropy, linear, log_softmax, mse_loss, nll_loss, softmax  # noqa: F401
