"""More activations, functional forms and modules, as torch 2.13 defines them: hardshrink, softshrink,
randomized leaky ReLU (rrelu), Softmax2d and the Gumbel-softmax sampler."""
import warnings

import numpy as np

from .. import ops
from ..random import rng
from ..tensor import Tensor
from . import functional as F
from .module import Module


def _zero(x):
    return np.zeros((), x.dtype)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd (and at NaN), else 0."""
    d = F._floating("hardshrink", input)._data
    return ops.Where.apply((d >= -lambd) & (d <= lambd), _zero(input), input)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (NaN stays NaN); lambd must be >= 0."""
    d = F._floating("softshrink", input)._data
    if not 0 <= lambd <= np.finfo(d.dtype).max:
        raise RuntimeError(f"softshrink: lambda must be in range [0, {np.finfo(d.dtype).max:g}] for input dtype "
                           f"{F._TORCH_TYPE[d.dtype.name]}, but found {lambd}")
    shifted = ops.Where.apply(d > lambd, input - lambd, input + lambd)
    return ops.Where.apply((d >= -lambd) & (d <= lambd), _zero(input), shifted)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """x where x > 0, else a x: in training a fresh slope a ~ U(lower, upper) per element (the gradient uses the
    same a), otherwise the fixed slope (lower + upper) / 2."""
    if lower > upper:
        raise RuntimeError("rrelu: Lower bound should be less than or equal to the upper bound")
    if not training:
        F._floating("leaky_relu", input)
        return F.leaky_relu(input, (lower + upper) / 2, inplace)
    F._floating("rrelu_with_noise_out", input)

    def f(x):
        slopes = rng().uniform(lower, upper, x.shape).astype(x.dtype)
        return x * np.where(x._data <= 0, slopes, x.dtype.type(1))
    return F._apply(input, inplace, "rrelu_", f)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place rrelu: changes ``input`` and returns it."""
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """A sample of the Gumbel-softmax distribution: softmax((logits + g) / tau) along ``dim`` with g standard
    Gumbel noise.  ``hard=True`` returns the one-hot of its argmax whose gradient is the soft sample's
    (straight-through).  ``eps`` is deprecated and unused, as in torch."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", UserWarning, stacklevel=2)
    gumbels = -np.log(rng().exponential(size=logits.shape)).astype(logits.dtype)  # -log Exp(1) ~ Gumbel(0, 1)
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = np.expand_dims(y_soft._data.argmax(axis=dim), dim)
    y_hard = np.zeros_like(y_soft._data)
    np.put_along_axis(y_hard, index, 1, axis=dim)
    return Tensor(y_hard) - y_soft.detach() + y_soft


class Hardshrink(Module):
    """Module form of ``F.hardshrink``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        """``F.hardshrink(input, lambd)``."""
        return hardshrink(input, self.lambd)

    def extra_repr(self):
        """The threshold, as torch shows it."""
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """Module form of ``F.softshrink``."""

    def forward(self, input):
        """``F.softshrink(input, lambd)``."""
        return softshrink(input, self.lambd)


class RReLU(Module):
    """Randomized leaky ReLU: random negative slopes in U(lower, upper) in training, their mean in eval mode."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        """``F.rrelu(input, lower, upper, training, inplace)``."""
        return rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of a (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):
        """Softmax along dim -3."""
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return input.softmax(-3)
