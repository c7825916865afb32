"""Negative log-likelihood losses of two distributions, as torch 2.13 defines them: Poisson (``input`` its log
rate or its rate) and Gaussian (``input`` its mean, ``var`` its variance).  Both are composed from
differentiable tensor ops, so ``target`` and ``var`` get gradients too when they require them."""
import math

import numpy as np

from .. import ops
from ..tensor import Tensor, default_float
from . import functional as F
from .layers import _Loss
from .margin_losses import _float_like


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(x) - y x for log rates x (log_input=True), else x - y log(x + eps); ``full`` adds the Stirling term
    y log y - y + log(2 pi y) / 2 where y > 1."""
    reduction = F._legacy_reduction(size_average, reduce, reduction)
    F._check_reduction("poisson_nll_loss", reduction)
    counts, target = target, _float_like(target, input)
    loss = input.exp() - target * input if log_input else input - target * (input + eps).log()
    if full:
        if isinstance(counts, Tensor) and counts.dtype.kind != "f":  # torch takes the log of integer counts in
            target = counts.to(default_float())                        # the default float dtype, so does this term
        big = target._data > 1
        y = ops.Where.apply(big, target, np.ones((), target.dtype))  # log(1) = 0 where the term is dropped
        stirling = y * y.log() - y + (y * (2 * math.pi)).log() * 0.5
        loss = loss + ops.Where.apply(big, stirling, np.zeros((), stirling.dtype))
    return F._reduce(loss, reduction)


def _variance(var, input):
    """``var`` checked and shaped as torch does: non-negative; the input's shape, or that shape without its last
    dim (unsqueezed here), or one dim of size 1 where the input's differs (one variance shared along it)."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
        return Tensor(np.full(input.shape, var, input.dtype))
    var = _float_like(var, input)
    if (var._data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            return var.unsqueeze(-1)
        if var.ndim != input.ndim or sum(v for i, v in zip(input.shape, var.shape) if i != v) != 1:
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size (var {list(var.shape)}, input "
                             f"{list(input.shape)})")
    return var


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(max(var, eps)) + (x - y)^2 / max(var, eps)) / 2, plus log(2 pi) / 2 when ``full``.

    As torch, the clamp at ``eps`` is not recorded: var's gradient is the one of the clamped value.
    """
    var = _variance(var, input)
    if reduction not in F._REDUCTIONS:
        raise ValueError(f"gaussian_nll_loss: {reduction} is not valid")
    floor = np.maximum(var._data, var.dtype.type(eps))
    var = F._Pointwise.apply(var, value=floor, slope=np.ones((), var.dtype))
    loss = (var.log() + (input - _float_like(target, input)) ** 2 / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return F._reduce(loss, reduction)


class PoissonNLLLoss(_Loss):
    """Module form of ``F.poisson_nll_loss``."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        """The Poisson negative log-likelihood of ``target`` counts, reduced."""
        return poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Module form of ``F.gaussian_nll_loss``."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        """The Gaussian negative log-likelihood of ``target`` under mean ``input`` and variance ``var``, reduced."""
        return gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
