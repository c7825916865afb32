"""Neural-network layers, losses and utilities with PyTorch's names."""
from . import functional, init, utils
from .attention import AdditiveAttention, DotAttention, MultiheadAttention
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .layers import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, ELU, Embedding, Flatten, GELU, GLU,
                     Identity, HuberLoss, KLDivLoss, L1Loss, LayerNorm, LeakyReLU, Linear, LogSoftmax, ModuleDict,
                     ModuleList, MSELoss, NLLLoss, ParameterDict, ParameterList, ReLU, Sequential, SiLU, Sigmoid,
                     SmoothL1Loss, Softmax, Softplus, Tanh, Unflatten)
from .module import Module, Parameter
