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
from fastgrad.nn.modules.activation import MultiheadAttention  # noqa: F401,E402
from fastgrad.nn.modules.transformer import (Transformer, TransformerDecoder,  # noqa: F401,E402
                                             TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer)
from fastgrad.nn.modules.distance import CosineSimilarity, PairwiseDistance  # noqa: F401,E402
from fastgrad.nn.modules.loss import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss,  # noqa: F401,E402
                                      MarginRankingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                                      MultiMarginLoss, NLLLoss2d, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss,
                                      TripletMarginWithDistanceLoss)
from fastgrad.nn.modules.activation import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, LogSigmoid,  # noqa: F401,E402
                                            Mish, PReLU, RReLU, Softmax2d, Softmin, Softshrink, Tanhshrink,
                                            Threshold)
from fastgrad.nn.modules.dropout import (AlphaDropout, Dropout1d, Dropout2d, Dropout3d,  # noqa: F401,E402
                                         FeatureAlphaDropout)
from fastgrad.nn.modules.loss import CTCLoss  # noqa: F401,E402
from fastgrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: F401
from fastgrad.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d,  # noqa: F401
                                         AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d,
                                         AvgPool3d, LPPool1d, LPPool2d, LPPool3d, MaxPool1d, MaxPool3d,
                                         MaxUnpool1d, MaxUnpool2d, MaxUnpool3d)
from fastgrad.nn.modules.conv import ConvTranspose1d, ConvTranspose2d  # noqa: F401
from fastgrad.nn.modules.pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401
from fastgrad.nn.modules.channelshuffle import ChannelShuffle  # noqa: F401
from fastgrad.nn.modules.fold import Fold, Unfold  # noqa: F401
from fastgrad.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d,  # noqa: F401
                                         ConstantPad2d, ConstantPad3d, ReflectionPad1d, ReflectionPad2d,
                                         ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                                         ZeroPad1d, ZeroPad2d, ZeroPad3d)
from fastgrad.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401
from fastgrad.nn.modules.normalization import CrossMapLRN2d, GroupNorm, LocalResponseNorm, RMSNorm  # noqa: F401
from fastgrad.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401
from fastgrad.nn.modules.conv3d import Conv3d, ConvTranspose3d  # noqa: F401
from fastgrad.nn.modules.batchnorm import BatchNorm3d  # noqa: F401
from fastgrad.nn.modules.lazy import (LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose3d,  # noqa: F401
                                      LazyLinear)
from fastgrad.nn.modules.batchnorm import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: F401
from fastgrad.nn.modules.sparse import EmbeddingBag  # noqa: F401
from fastgrad.nn.modules.batchnorm import SyncBatchNorm  # noqa: F401
from fastgrad.nn.modules.container import Container  # noqa: F401
from fastgrad.nn.modules.pooling_fractional import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401
from fastgrad.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401
from fastgrad.nn.modules.lazy import LazyConvTranspose1d, LazyConvTranspose2d  # noqa: F401
from fastgrad.nn.modules.batchnorm import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d  # noqa: F401
from fastgrad.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss, LinearCrossEntropyOptions  # noqa: F401,E402
