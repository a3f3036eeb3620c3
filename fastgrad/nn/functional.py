"""fastgrad.nn.functional (PyTorch's torch.nn.functional)."""
from fastgrad._ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from fastgrad._ops.nn import cross_entropy, linear, log_softmax, mse_loss, nll_loss, softmax  # noqa: F401
from fastgrad._ops.activations import *  # noqa: F401,F403
from fastgrad._ops.losses import *  # noqa: F401,F403
from fastgrad._ops.nn_functional import *  # noqa: F401,F403
from fastgrad.nn._functional_layers import *  # noqa: F401,F403
from fastgrad.nn._functional_conv3d import *  # noqa: F401,F403
from fastgrad.nn._functional_more import *  # noqa: F401,F403
from fastgrad.nn._functional_grid import *  # noqa: F401,F403
