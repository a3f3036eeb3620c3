"""The nn layers, one file per family (like torch.nn.modules)."""
from fastgrad.nn.modules.module import Module  # noqa: F401
from fastgrad.nn.modules.activation import (ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU,  # noqa: F401
                                            ReLU6, Sigmoid, SiLU, Softmax, Softplus, Softsign, Tanh)
from fastgrad.nn.modules.container import (ModuleDict, ModuleList, ParameterDict, ParameterList,  # noqa: F401
                                           Sequential)
from fastgrad.nn.modules.dropout import Dropout  # noqa: F401
from fastgrad.nn.modules.flatten import Flatten, Unflatten  # noqa: F401
from fastgrad.nn.modules.linear import Bilinear, Identity, Linear  # noqa: F401
from fastgrad.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,  # noqa: F401
                                      KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from fastgrad.nn.modules.conv import Conv1d, Conv2d  # noqa: F401
from fastgrad.nn.modules.normalization import BatchNorm1d, BatchNorm2d, LayerNorm  # noqa: F401
from fastgrad.nn.modules.pooling import AvgPool2d, MaxPool2d  # noqa: F401
from fastgrad.nn.modules.sparse import Embedding  # noqa: F401
from fastgrad.nn.modules.conv3d import Conv3d, ConvTranspose3d  # noqa: F401
from fastgrad.nn.modules.batchnorm import BatchNorm3d  # noqa: F401
from fastgrad.nn.modules.lazy import (LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose3d,  # noqa: F401
                                      LazyLinear)
from fastgrad.nn.modules.batchnorm import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: F401
from fastgrad.nn.modules.sparse import EmbeddingBag  # noqa: F401
from fastgrad.nn.modules.batchnorm import SyncBatchNorm  # noqa: F401
from fastgrad.nn.modules.container import Container  # noqa: F401
from fastgrad.nn.modules.pooling_fractional import FractionalMaxPool2d  # noqa: F401
from fastgrad.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
