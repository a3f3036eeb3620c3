"""fastgrad.nn.functional (PyTorch's torch.nn.functional)."""
from fastgrad._ops.elementwise import relu, sigmoid, tanh  # noqa: F401
from fastgrad._ops.nn import cross_entropy, linear, log_softmax, mse_loss, nll_loss, softmax  # noqa: F401
from fastgrad._ops.activations import *  # noqa: F401,F403
from fastgrad._ops.losses import *  # noqa: F401,F403
from fastgrad._ops.nn_functional import *  # noqa: F401,F403
from fastgrad.nn._functional_layers import *  # noqa: F401,F403
from fastgrad._ops.attention import scaled_dot_product_attention  # noqa: F401,E402
from fastgrad.nn._functional_attention import (_canonical_mask, _none_or_dtype,  # noqa: F401,E402
                                               multi_head_attention_forward)
from fastgrad._ops.ctc import ctc_loss  # noqa: F401,E402
from fastgrad.nn._functional_pooling import *  # noqa: F401,F403
from fastgrad.nn._functional_spatial import *  # noqa: F401,F403
from fastgrad.nn._functional_upsampling import *  # noqa: F401,F403
from fastgrad._ops.normalization_ext import *  # noqa: F401,F403
from fastgrad.nn._functional_conv3d import *  # noqa: F401,F403
from fastgrad.nn._functional_more import *  # noqa: F401,F403
from fastgrad.nn._functional_grid import *  # noqa: F401,F403
from fastgrad.nn._functional_lce import *  # noqa: F401,F403,E402
from fastgrad.nn._functional_fractional3d import *  # noqa: F401,F403,E402
