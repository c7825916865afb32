"""AdaptiveLogSoftmaxWithLoss: the adaptive softmax of Grave et al. (2017, "Efficient softmax approximation
for GPUs") for large vocabularies, with torch 2.13's parameters, state_dict keys and results.

The classes are split by ``cutoffs`` into a shortlist of frequent ones and clusters of rarer ones.  The
head scores the shortlist classes and one entry per cluster; cluster i's own small network (a projection
to in_features // div_value^(i+1) dims, then to the cluster's classes) scores the classes inside it, so
log p(c) = log p_head(cluster of c) + log p_cluster(c) for a class outside the shortlist.
"""
from collections import namedtuple

import numpy as np

from .. import ops
from ..devices import check_device
from ..tensor import Tensor, _infer_array
from .layers import Linear, ModuleList, Sequential
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax: ``forward(input, target)`` returns the named tuple (output, loss) of each sample's
    target log-probability and the mean negative log-likelihood; ``log_prob`` gives every class's
    log-probability and ``predict`` the most likely class."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False, device=None, dtype=None):
        check_device("nn.AdaptiveLogSoftmaxWithLoss", device)
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1 or \
                len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             f"order, where each value is between 1 and n_classes-1 (got {cutoffs} for "
                             f"n_classes={n_classes})")
        self.in_features, self.n_classes, self.cutoffs = in_features, n_classes, cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, dtype=dtype),
                                        Linear(hidden, self.cutoffs[i + 1] - self.cutoffs[i], bias=False,
                                               dtype=dtype)))

    def reset_parameters(self):
        """Redraw the head's and every cluster's weights as their Linear layers do."""
        self.head.reset_parameters()
        for projection, out in self.tail:
            projection.reset_parameters()
            out.reset_parameters()

    def forward(self, input_, target_):
        """(output, loss) for (N, in_features) inputs with (N,) targets, or (in_features,) with a 0-d target:
        output holds each target's log-probability, loss is the mean of -output."""
        target = _infer_array(target_)
        if target.ndim == 1:
            if input_.shape[:1] != target.shape:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: Input and target should have the same size in the "
                                   f"batch dimension (input {list(input_.shape)}, target {list(target.shape)}).")
            if input_.ndim != 2:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: 1D target tensor expects 2D input tensors, but "
                                   f"found inputs with size {list(input_.shape)}")
        elif target.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: 0D target tensor expects 1D input tensors, but "
                                   f"found inputs with size {list(input_.shape)}")
        else:
            raise RuntimeError("AdaptiveLogSoftmaxWithLoss: 0D or 1D target tensor expected, multi-target not "
                               "supported")
        if target.dtype.kind not in "iu":
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: expected an integer (int64) target, got {target.dtype}")
        batched = target.ndim > 0
        input, target = (input_, target) if batched else (input_.unsqueeze(0), target.reshape(1))
        if target.size and (target.min() < 0 or target.max() >= self.n_classes):
            raise RuntimeError(f"AdaptiveLogSoftmaxWithLoss: Target values should be in [0, {self.n_classes - 1}], "
                               f"but values in range [{target.min()}, {target.max()}] were found. ")
        cluster = np.searchsorted(self.cutoffs, target, side="right")  # 0: the shortlist, i: tail[i - 1]
        in_tail = Tensor(np.zeros(len(target), input.dtype))  # log p of the target within its cluster
        for i in range(1, self.n_clusters + 1):
            rows = np.flatnonzero(cluster == i)
            if rows.size:
                logp = self.tail[i - 1](input[rows]).log_softmax(1)
                picked = logp.gather(1, (target[rows] - self.cutoffs[i - 1])[:, None]).reshape(-1)
                in_tail = in_tail.index_add(0, rows, picked)
        head_index = np.where(cluster == 0, target, self.shortlist_size + cluster - 1)
        head_logp = self.head(input).log_softmax(1).gather(1, head_index[:, None]).reshape(-1)
        output = in_tail + head_logp
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, input, head_output):
        """log p of every class: the head's for the shortlist, cluster log p + the cluster's head log p after."""
        head = head_output.log_softmax(1)
        s = self.shortlist_size
        parts = [head[:, :s]] + [self.tail[i](input).log_softmax(1) + head[:, s + i:s + i + 1]
                                 for i in range(self.n_clusters)]
        return ops.cat(parts, 1)

    def log_prob(self, input):
        """The (N, n_classes) log-probabilities of every class for an (N, in_features) input."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row of an (N, in_features) input (int64), computing the clusters only
        for rows whose head prefers a cluster to every shortlist class."""
        head_output = self.head(input)
        output = np.asarray(head_output._data.argmax(1))
        rows = np.flatnonzero(output >= self.shortlist_size)
        if rows.size:
            full = self._full_log_prob(input[rows], head_output[rows])
            output[rows] = full._data.argmax(1)
        return Tensor(output.astype(np.int64))
