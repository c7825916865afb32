"""Margin and embedding losses, functional forms and modules, as torch 2.13 defines them: margin ranking,
hinge embedding, soft margin, cosine embedding, multi-label soft margin, multi-label margin, multi-class
margin, triplet margin and triplet margin with a custom distance.

Each is composed from differentiable tensor ops.  Where torch's kernel counts a hinge only when it is
strictly positive (multi_margin_loss, multilabel_margin_loss) the hinge is a ``Where`` on ``z > 0``; where
torch uses ``clamp_min(0)`` the gradient passes at exactly 0 as clamp's does.  The deprecated
``size_average``/``reduce`` arguments are accepted wherever torch accepts them (``F._legacy_reduction``).
"""
import numpy as np

from .. import ops
from ..tensor import Tensor, _infer_array
from . import functional as F
from .layers import _Loss, PairwiseDistance


def _float_like(x, input):
    """``x`` as a floating tensor for arithmetic with ``input``: arrays and numbers take the input's dtype,
    integer and bool tensors are converted to it (torch promotes them the same way)."""
    if x is None or isinstance(x, Tensor) and x.dtype.kind == "f":
        return x
    return x.to(input.dtype) if isinstance(x, Tensor) else Tensor(_infer_array(x, input.dtype))


def _reduction(name, size_average, reduce, reduction):
    """``reduction`` after torch's deprecated ``size_average``/``reduce`` (with their warning), checked."""
    reduction = F._legacy_reduction(size_average, reduce, reduction)
    F._check_reduction(name, reduction)
    return reduction


def _zero(x):
    return np.zeros((), x.dtype)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -y * (x1 - x2) + margin): ``target`` y = 1 asks for x1 ranked above x2, y = -1 below."""
    reduction = _reduction("margin_ranking_loss", size_average, reduce, reduction)
    target = _float_like(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, target: "
                           f"{list(target.shape)}")
    return F._reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where y = 1 and max(0, margin - x) where y = -1 (``input`` x usually a distance); a target that is
    neither counts both terms, as torch."""
    reduction = _reduction("hinge_embedding_loss", size_average, reduce, reduction)
    t = _infer_array(target)
    hinge = ops.Where.apply(t != 1, (margin - input).clamp(min=0), _zero(input))
    return F._reduce(hinge + ops.Where.apply(t != -1, input, _zero(input)), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-y x)) for targets y = +-1, computed as torch does (log1p of exp: inf once exp overflows)."""
    reduction = _reduction("soft_margin_loss", size_average, reduce, reduction)
    F._constant_arg("soft_margin_loss", "target", target)
    return F._reduce((-input * _float_like(target, input)).exp().log1p(), reduction)


_COSINE_EPS = 1e-12  # added to both squared norms before the product's square root, as torch does


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (0 for other targets); x1, x2
    are (N, D) with target (N,), or (D,) with a 0-d target."""
    reduction = _reduction("cosine_embedding_loss", size_average, reduce, reduction)
    t = _infer_array(target)
    if t.ndim > 1:
        raise RuntimeError("cosine_embedding_loss: 0D or 1D target tensor expected, multi-target not supported")
    if (input1.ndim, input2.ndim) != (t.ndim + 1,) * 2:
        raise RuntimeError(f"cosine_embedding_loss: {t.ndim}D target tensor expects {t.ndim + 1}D input tensors, "
                           f"but found inputs with sizes {list(input1.shape)} and {list(input2.shape)}.")
    d = t.ndim
    norms = ((input1 * input1).sum(d) + _COSINE_EPS) * ((input2 * input2).sum(d) + _COSINE_EPS)
    cos = (input1 * input2).sum(d) / norms.sqrt()
    pos = ops.Where.apply(t == 1, 1 - cos, _zero(cos))
    return F._reduce(pos + ops.Where.apply(t == -1, (cos - margin).clamp(min=0), _zero(cos)), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Per sample, the mean over the C classes (last dim) of the binary cross-entropy of sigmoid(x) against
    the 0/1 ``target``, each class scaled by ``weight`` (broadcast; it gets a gradient, as in torch)."""
    reduction = _reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    if input.ndim == 0:
        raise IndexError("multilabel_soft_margin_loss: Dimension specified as -1 but tensor has no dimensions")
    target = _float_like(target, input)
    loss = -(target * F.logsigmoid(input) + (1 - target) * F.logsigmoid(-input))
    if weight is not None:
        loss = loss * _float_like(weight, input)
    with np.errstate(invalid="ignore"):  # no classes: 0 / 0 = nan, as torch
        return F._reduce(loss.sum(input.ndim - 1) / input.shape[-1], reduction)


def _margin_rows(name, input, target):
    """Torch's shape rules for the multi-class margin losses: input (C,) / 0-d (one sample) or (N, C) with
    C > 0; target int64.  Returns input as (N, C) rows and the target array."""
    if input.ndim > 2 or (input.ndim and input.shape[-1] == 0):
        raise RuntimeError(f"{name}: Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input.shape)}")
    t = _infer_array(target)
    if t.dtype != np.int64:
        raise RuntimeError(f"{name}: expected scalar type Long but found "
                           f"{F._TORCH_TYPE.get(t.dtype.name, t.dtype)}")
    return input.reshape(-1, input.shape[-1] if input.ndim else 1), t


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over listed targets j and non-target classes i of max(0, 1 - (x[j] - x[i])), divided by C.

    ``target`` has the input's shape and lists class indices, ended by the first -1; an index listed twice
    counts twice, as in torch.  With reduction='mean' an empty batch gives 0, as torch.
    """
    reduction = _reduction("multilabel_margin_loss", size_average, reduce, reduction)
    rows, t = _margin_rows("multilabel_margin_loss", input, target)
    n, c = rows.shape
    if (t.shape != rows.shape if input.ndim == 2 else (t.ndim > 1 or t.size != c)):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: {list(t.shape)} for input of size: "
                           f"{list(input.shape)}")
    t = t.reshape(n, c)
    if t.size and (t.min() < -1 or t.max() >= c):
        raise RuntimeError("multilabel_margin_loss: argument #2 'target' is out of range")
    listed = np.cumprod(t >= 0, axis=1).astype(bool)              # the targets before the first -1
    hit = np.zeros((n, c), bool)                                    # hit[n, i]: class i is one of sample n's targets
    r, k = np.nonzero(listed)
    hit[r, t[r, k]] = True
    picked = rows.gather(1, np.where(listed, t, 0))                 # x at each listed target, (N, C)
    z = 1 - picked.unsqueeze(2) + rows.unsqueeze(1)                 # z[n, k, i] = 1 - x[t_k] + x[i]
    keep = listed[:, :, None] & ~hit[:, None, :] & (z._data > 0)
    loss = ops.Where.apply(keep, z, _zero(z)).sum((1, 2)) / c
    if input.ndim < 2:
        loss = loss.reshape(())
    if reduction == "mean" and n == 0:
        return loss.sum()
    return F._reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
    """sum over classes i != y of max(0, margin - x[y] + x[i])^p (times weight[y]), divided by C; p is 1 or 2."""
    reduction = _reduction("multi_margin_loss", size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("multi_margin_loss: only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("multi_margin_loss: weight must be one-dimensional")
    rows, t = _margin_rows("multi_margin_loss", input, target)
    n, c = rows.shape
    if t.ndim > 1 or t.size != n:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{n}], but got {list(t.shape)}. Input has "
                           f"shape {list(input.shape)}.")
    batched, t = t.ndim > 0, t.reshape(n)
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError(f"multi_margin_loss: target out of range (targets {t.min()}..{t.max()}, {c} classes)")
    if weight is not None:
        F._constant_arg("multi_margin_loss", "weight", weight)
        if weight._data.size != c:
            raise RuntimeError(f"multi_margin_loss: inconsistent weight size, expected {c} but got "
                               f"{list(weight.shape)}")
        if weight.dtype != input.dtype:
            raise RuntimeError(f"multi_margin_loss: expected scalar type {F._TORCH_TYPE.get(input.dtype.name)} but "
                               f"found {F._TORCH_TYPE.get(weight.dtype.name)}")
    z = margin - rows.gather(1, t[:, None]) + rows                  # z[n, i] = margin - x[y] + x[i]
    keep = (z._data > 0) & (np.arange(c) != t[:, None])
    h = ops.Where.apply(keep, z, _zero(z))
    h = h * h if p == 2 else h
    if weight is not None:
        h = h * weight._data[t][:, None]
    loss = h.sum(1) / c
    return F._reduce(loss if batched else loss.reshape(()), reduction)  # torch: 'none' has the target's shape


def _same_ndim(anchor, positive, negative):
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"triplet_margin_loss: The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")


def _check_margin(margin):
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    """max(0, margin + d(a, p) - d(a, n)), with d(a, n) replaced by min(d(a, n), d(p, n)) when ``swap``."""
    d_neg = distance(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance(positive, negative))
    return F._reduce((margin + distance(anchor, positive) - d_neg).clamp(min=0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(0, margin + ||a - p + eps||_p - ||a - n + eps||_p) per sample (``F.pairwise_distance`` along the
    last dim); ``swap`` uses the smaller of the anchor's and the positive's distance to the negative."""
    reduction = _reduction("triplet_margin_loss", size_average, reduce, reduction)
    _check_margin(margin)
    _same_ndim(anchor, positive, negative)
    return _triplet(anchor, positive, negative, lambda a, b: F.pairwise_distance(a, b, p, eps), margin, swap,
                    reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """The triplet loss with any ``distance_function(x1, x2)`` (default ``F.pairwise_distance``)."""
    F._check_reduction("triplet_margin_with_distance_loss", reduction)
    _check_margin(margin)
    _same_ndim(anchor, positive, negative)
    return _triplet(anchor, positive, negative, distance_function or F.pairwise_distance, margin, swap, reduction)


class MarginRankingLoss(_Loss):
    """Module form of ``F.margin_ranking_loss``."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input1, input2, target):
        """max(0, -target * (input1 - input2) + margin), reduced."""
        return margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """Module form of ``F.hinge_embedding_loss``."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input, target):
        """x for target 1, max(0, margin - x) for target -1, reduced."""
        return hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """Module form of ``F.soft_margin_loss``."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))

    def forward(self, input, target):
        """log(1 + exp(-target * input)), reduced."""
        return soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """Module form of ``F.cosine_embedding_loss``."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self.margin = margin

    def forward(self, input1, input2, target):
        """1 - cos for target 1, max(0, cos - margin) for target -1, reduced."""
        return cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """Module form of ``F.multilabel_soft_margin_loss`` (``weight`` is a buffer, as in torch)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self._weight_buffer("weight", weight)

    def forward(self, input, target):
        """The class-averaged binary cross-entropy of sigmoid(input) against 0/1 targets, reduced."""
        return multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Module form of ``F.multilabel_margin_loss``."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))

    def forward(self, input, target):
        """The multi-label hinge loss of ``input`` against -1-terminated class lists ``target``, reduced."""
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiMarginLoss(_Loss):
    """Module form of ``F.multi_margin_loss`` (``weight`` is a buffer, as in torch)."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        self._weight_buffer("weight", weight)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got {self.weight.ndim}D "
                             f"instead")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        """The multi-class hinge loss of ``input`` against class indices ``target``, reduced."""
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """Module form of ``F.triplet_margin_loss``."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        """The triplet loss of the three (N, D) or (D,) batches, reduced."""
        return triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                   reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """Module form of ``F.triplet_margin_with_distance_loss``; the default distance is a ``PairwiseDistance``
    child module, as in torch."""

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, got {margin} "
                             f"instead")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor, positive, negative):
        """The triplet loss under ``distance_function``, reduced."""
        return triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                 margin=self.margin, swap=self.swap, reduction=self.reduction)

