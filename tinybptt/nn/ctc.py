"""Connectionist Temporal Classification loss (``F.ctc_loss`` and ``nn.CTCLoss``), as PyTorch 2.13 computes it.

CTC scores an unsegmented target sequence against per-frame class log-probabilities by summing
over every alignment that collapses to the target (repeats merged, blanks removed).  The sum runs
as the alpha / beta recursions of Graves et al. (2006) in one numba kernel pair
(``tinybptt/ctc_kernels.py``, imported on first use).  As in PyTorch, the gradient given for
``log_probs`` is the one for the logits under a log_softmax (see ``ctc_kernels.ctc_grad``).
"""
import operator

import numpy as np

from .. import ops
from ..autograd import Function
from ..tensor import Tensor
from .functional import _TORCH_TYPE, _check_reduction
from .layers import _Loss

_kernels = None


def _ctc_kernels():
    """The CTC kernels (and numba), imported on first use."""
    global _kernels
    if _kernels is None:
        from .. import ctc_kernels as k
        _kernels = k
    return _kernels


class _CTC(Function):
    """Per-sequence negative log-likelihood (N,) of log_probs (T, N, C); targets and lengths are options."""

    def forward(self, lp, targets, offsets, input_lengths, target_lengths, blank, zero_infinity):
        T, n, _ = lp.shape
        self.lp = np.ascontiguousarray(lp)
        self.targets, self.offsets = targets, offsets
        self.input_lengths, self.target_lengths = input_lengths, target_lengths
        self.blank, self.zero_infinity = blank, zero_infinity
        self.alpha = np.empty((n, T, 2 * int(target_lengths.max(initial=0)) + 1), lp.dtype)  # log alpha_t(s)
        self.nll = np.empty(n, lp.dtype)
        _ctc_kernels().ctc_alpha(self.lp, targets, offsets, input_lengths, target_lengths, blank, self.alpha, self.nll)
        return self.nll.copy()

    def backward(self, g):
        grad = np.empty_like(self.lp)
        _ctc_kernels().ctc_grad(self.lp, self.targets, self.offsets, self.input_lengths, self.target_lengths,
                                self.blank, self.alpha, self.nll, np.ascontiguousarray(g, self.lp.dtype),
                                self.zero_infinity, np.empty(self.alpha.shape[1:], self.lp.dtype), grad)
        return grad


def _index(name, value):
    """An int argument as PyTorch's parser takes it: int, numpy integer or one-element integer tensor, not bool."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, Tensor) and value.dtype == np.bool_):
        raise TypeError(f"ctc_loss: {name} must be an int, got {type(value).__name__} {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"ctc_loss: {name} must be an int, got {type(value).__name__} {value!r}") from None


def _lengths(input_lengths, target_lengths):
    """Both lengths as int64 arrays.  As PyTorch: both tensors (any shape, integral dtype) or both
    sequences of ints; a tensor of another dtype is a RuntimeError, other mixes a TypeError."""
    arrays = [isinstance(x, (Tensor, np.ndarray)) for x in (input_lengths, target_lengths)]
    seqs = [isinstance(x, (list, tuple)) for x in (input_lengths, target_lengths)]
    if not (all(arrays) or all(seqs)):
        kinds = " and ".join(type(x).__name__ for x in (input_lengths, target_lengths))
        raise TypeError(f"ctc_loss: input_lengths and target_lengths must both be tensors or both be lists/tuples "
                        f"of ints, got {kinds}")
    out = []
    for name, x in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if all(arrays):
            a = x._data if isinstance(x, Tensor) else x
            if a.dtype.kind not in "iu":
                raise RuntimeError(f"ctc_loss: {name} must be integral, got dtype "
                                   f"{_TORCH_TYPE.get(a.dtype.name, a.dtype.name)}")
            out.append(a.reshape(-1).astype(np.int64))
        else:
            out.append(np.array([_index(f"every element of {name}", v) for v in x], np.int64))
    return out


def _check_shapes(lp, targets, il, tl, blank):
    """PyTorch's checks, in its order, on log_probs (T, N, C), targets and the lengths.  Returns the
    flat int64 targets and the offset of each sequence's targets in them."""
    T, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError(f"ctc_loss: blank must be in label range: blank = {blank}, but log_probs has {c} classes")
    if targets.ndim not in (1, 2):
        raise RuntimeError(f"ctc_loss: Expected 1 to 2 dimensions, but got {targets.ndim}-dimensional tensor for "
                           f"argument #2 'targets' (targets of shape (N, S) or (sum(target_lengths),), got "
                           f"{targets.shape})")
    for name, x in (("input_lengths", il), ("target_lengths", tl)):
        if x.size != n:
            raise RuntimeError(f"ctc_loss: {name} must be of size batch_size: got {x.size} {name} for batch size {n}")
    if (tl < 0).any():
        b = int(np.argmax(tl < 0))
        raise RuntimeError(f"ctc_loss: Expected target_lengths to have value at least 0, but got value {tl[b]} "
                           f"(target_lengths[{b}])")
    if targets.ndim == 2:
        longest = int(tl.max(initial=0))
        if targets.shape[0] != n:
            raise RuntimeError(f"ctc_loss: Expected tensor to have size {n} at dimension 0, but got size "
                               f"{targets.shape[0]} for argument #2 'targets' (padded targets (N, S) need a row "
                               f"per sequence)")
        if targets.shape[1] < longest:
            raise RuntimeError(f"ctc_loss: Expected tensor to have size at least {longest} at dimension 1, but got "
                               f"size {targets.shape[1]} for argument #2 'targets' (the longest target length is "
                               f"{longest})")
        offsets = np.arange(n, dtype=np.int64) * targets.shape[1]
        used = np.arange(targets.shape[1]) < tl[:, None]
    else:
        total = int(tl.sum())
        if targets.shape[0] != total:
            raise RuntimeError(f"ctc_loss: Expected tensor to have size {total} at dimension 0, but got size "
                               f"{targets.shape[0]} for argument #2 'targets' (concatenated targets hold "
                               f"sum(target_lengths) = {total} labels)")
        offsets = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        used = np.ones(total, bool)
    for b, length in enumerate(il):
        if length < 0:
            raise RuntimeError(f"ctc_loss: Expected input_lengths to have value at least 0, but got value {length} "
                               f"(input_lengths[{b}])")
        if length > T:
            raise RuntimeError(f"ctc_loss: Expected input_lengths to have value at most {T}, but got value {length} "
                               f"(input_lengths[{b}]; log_probs has {T} time steps)")
    flat = np.ascontiguousarray(targets.astype(np.int64), np.int64)
    bad = used & ((flat < 0) | (flat >= c))
    if bad.any():  # PyTorch's CPU kernel reads outside log_probs here; refuse instead
        where = np.argwhere(bad)[0]
        raise IndexError(f"ctc_loss: target {flat[tuple(where)]} at position {tuple(int(i) for i in where)} of targets "
                         f"is out of bounds for {c} classes (Target {flat[tuple(where)]} is out of bounds.)")
    return flat.reshape(-1), offsets


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist Temporal Classification loss of ``log_probs`` (T, N, C), or (T, C) unbatched.

    ``targets``: padded (N, S) or concatenated (sum(target_lengths),) class indices (any dtype, taken as
    int64); ``input_lengths``, ``target_lengths``: tensors or lists/tuples of ints with one entry per
    sequence.  Each loss is -log p(target | input); an impossible alignment gives inf (and NaN gradients)
    unless ``zero_infinity`` zeroes both.  reduction='mean' divides each loss by its target length (at
    least 1) and averages over the batch; 'sum' adds; 'none' returns (N,) (0-d unbatched).
    """
    _check_reduction("ctc_loss", reduction)
    for name, x in (("log_probs", log_probs), ("targets", targets)):
        if not isinstance(x, (Tensor, np.ndarray)):
            raise TypeError(f"ctc_loss: {name} must be a Tensor, got {type(x).__name__}")
    il, tl = _lengths(input_lengths, target_lengths)
    blank = _index("blank", blank)
    if not isinstance(zero_infinity, bool):
        raise TypeError(f"ctc_loss: zero_infinity must be a bool, got {type(zero_infinity).__name__}")
    lp = log_probs if isinstance(log_probs, Tensor) else Tensor(log_probs)
    if lp.ndim == 0:
        raise IndexError("ctc_loss: log_probs must be (T, N, C) or (T, C), got a 0-d tensor (Dimension out of "
                         "range (expected to be in range of [-1, 0], but got 1))")
    if lp.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f'"ctc_loss_cpu" not implemented for '
                                  f"'{_TORCH_TYPE.get(lp.dtype.name, lp.dtype.name)}'")
    if lp.numel() == 0:
        raise RuntimeError(f"ctc_loss: log_probs tensor must not be empty (got shape {lp.shape})")
    batched = lp.ndim == 3
    if not batched:
        lp = lp.unsqueeze(1)
        if lp.ndim != 3:
            raise RuntimeError(f"ctc_loss: Expected 3-dimensional tensor, but got {lp.ndim}-dimensional tensor for "
                               f"argument #1 'log_probs' (log_probs of shape (T, N, C) or (T, C), got "
                               f"{log_probs.shape})")
    t = targets._data if isinstance(targets, Tensor) else targets
    flat, offsets = _check_shapes(lp, t, il, tl, blank)
    losses = _CTC.apply(lp, targets=flat, offsets=offsets, input_lengths=il, target_lengths=tl, blank=blank,
                        zero_infinity=zero_infinity)
    if zero_infinity:
        losses = ops.Where.apply(losses._data == np.inf, np.zeros((), losses.dtype), losses)
    if reduction == "mean":
        return (losses / Tensor(np.maximum(tl, 1).astype(losses.dtype))).mean()
    if reduction == "sum":
        return losses.sum()
    return losses if batched else losses.squeeze(0)


class CTCLoss(_Loss):
    """Module form of ``F.ctc_loss``: the Connectionist Temporal Classification loss."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        """CTC loss of ``log_probs`` (T, N, C) against ``targets`` with the given lengths."""
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                        self.zero_infinity)
