"""Bernoulli: 0/1 draws with probability ``probs`` (or sigmoid of ``logits``) of a 1."""
import numbers

import numpy as np

from ..autograd import no_grad
from ..creation import arange
from ..functions import where
from ..nn.functional import binary_cross_entropy_with_logits
from . import constraints
from .distribution import Distribution, broadcast_all, lazy_property, logits_to_probs, probs_to_logits


class Bernoulli(Distribution):
    """Draws of 1 with probability ``probs`` and 0 otherwise, parametrised by ``probs`` or by ``logits``
    (log-odds); each may be a number or a tensor, whose shape is the batch shape."""

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        which = "probs" if probs is not None else "logits"
        given = probs if probs is not None else logits
        (self.__dict__[which],) = broadcast_all(given)
        self._param = self.__dict__[which]
        super().__init__(() if isinstance(given, numbers.Number) else self._param.shape, validate_args=validate_args)

    @lazy_property
    def logits(self):
        """Log-odds log p - log(1 - p) (p clamped to [eps, 1 - eps] when given probs)."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        """Probability of a 1 (sigmoid of the logits when given logits)."""
        return logits_to_probs(self.logits, is_binary=True)

    param_shape = property(lambda self: self._param.shape, doc="The shape of probs/logits.")

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        p = self.probs
        return where(p == 0.5, np.nan, (p >= 0.5).to(p.dtype)).detach()

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def expand(self, batch_shape, _instance=None):
        new = self._expanded(Bernoulli, batch_shape, _instance, ("probs", "logits"))
        new._param = new.__dict__["probs" if "probs" in self.__dict__ else "logits"]
        return new

    def sample(self, sample_shape=()):
        with no_grad():
            return self.probs.expand(self._extended_shape(sample_shape)).bernoulli()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand=True):
        values = arange(2, dtype=self._param.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values
