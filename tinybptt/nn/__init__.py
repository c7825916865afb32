"""Neural-network layers, losses and utilities with PyTorch's names."""
from . import functional, init, utils
from .attention import AdditiveAttention, DotAttention, MultiheadAttention
from .ctc import CTCLoss
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .layers import (BCELoss, BCEWithLogitsLoss, Bilinear, CELU, CosineSimilarity, CrossEntropyLoss, Dropout, ELU,
                     Embedding, Flatten, GELU, GLU, Hardsigmoid, Hardswish, Hardtanh, Identity, HuberLoss, KLDivLoss,
                     L1Loss, LayerNorm, LeakyReLU, Linear, LogSigmoid, LogSoftmax, Mish, ModuleDict, ModuleList,
                     MSELoss, NLLLoss, PairwiseDistance, ParameterDict, ParameterList, PReLU, ReLU, ReLU6, SELU,
                     Sequential, SiLU, Sigmoid, SmoothL1Loss, Softmax, Softmin, Softplus, Softsign, Tanh, Tanhshrink,
                     Threshold, Unflatten)
from .module import Module, Parameter
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                          TransformerEncoderLayer)
from .activations import Hardshrink, RReLU, Softmax2d, Softshrink
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .dropout import AlphaDropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from .likelihood_losses import GaussianNLLLoss, PoissonNLLLoss
from .margin_losses import (CosineEmbeddingLoss, HingeEmbeddingLoss, MarginRankingLoss, MultiLabelMarginLoss,
                            MultiLabelSoftMarginLoss, MultiMarginLoss, SoftMarginLoss, TripletMarginLoss,
                            TripletMarginWithDistanceLoss)
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                            InstanceNorm3d, LocalResponseNorm, RMSNorm)
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d,
                      MaxPool1d, MaxPool2d)
from .padding import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d, ReflectionPad2d,
                      ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d)
from .fold import Fold, Unfold
from .embedding_bag import EmbeddingBag
