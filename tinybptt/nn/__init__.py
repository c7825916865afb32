"""Neural-network layers, losses and utilities with PyTorch's names."""
from . import functional, init, utils
from .attention import AdditiveAttention, DotAttention, MultiheadAttention
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .layers import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Identity, L1Loss, Linear,
                     LogSoftmax, ModuleList, MSELoss, NLLLoss, ReLU, Sequential, Sigmoid, Softmax, Tanh)
from .module import Module, Parameter
