"""Categorical and OneHotCategorical: one of K classes, from probabilities or logits over the last dim."""
import numpy as np

from ..creation import arange, eye, full, zeros
from ..functions import finfo, multinomial
from ..nn.functional import one_hot
from ..tensor import Tensor
from . import constraints
from .distribution import (Distribution, _shape, broadcast_shape, lazy_property, logits_to_probs,
                           probs_to_logits)


def _probs_or_logits(name, probs, logits):
    """The one parameter given, checked as PyTorch checks it."""
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    given, which = (probs, "probs") if probs is not None else (logits, "logits")
    if not isinstance(given, Tensor):
        raise TypeError(f"{name}: `{which}` must be a Tensor, but got {type(given).__name__}")
    return given, which


class Categorical(Distribution):
    """Class indices 0..K-1 with probabilities ``probs`` (normalised by their sum over the last dim) or
    ``logits`` (normalised to log-probabilities by subtracting their logsumexp); the leading dims of the
    parameter are the batch shape.  Sampling (``multinomial``) uses tinybptt's generator."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        given, which = _probs_or_logits("Categorical", probs, logits)
        if given.ndim < 1:
            raise ValueError(f"`{which}` parameter must be at least one-dimensional.")
        if which == "probs":
            self.probs = given / given.sum(-1, keepdim=True)
        else:
            self.logits = given - given.logsumexp(-1, keepdim=True)
        self._param = self.__dict__[which]
        self._num_events = given.shape[-1]
        super().__init__(given.shape[:-1], validate_args=validate_args)

    @lazy_property
    def logits(self):
        """Normalised log-probabilities (log of the clamped probabilities when given probs)."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self):
        """Normalised probabilities (softmax of the logits when given logits)."""
        return logits_to_probs(self.logits)

    param_shape = property(lambda self: self._param.shape, doc="The shape of probs/logits.")

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return full(self._extended_shape(), np.nan, dtype=self.probs.dtype)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return full(self._extended_shape(), np.nan, dtype=self.probs.dtype)

    def expand(self, batch_shape, _instance=None):
        new = self._expanded(Categorical, batch_shape, _instance, ("probs", "logits"), (self._num_events,))
        new._param = new.__dict__["probs" if "probs" in self.__dict__ else "logits"]
        new._num_events = self._num_events
        return new

    def sample(self, sample_shape=()):
        shape = _shape("sample", sample_shape)
        n = int(np.prod(shape, dtype=np.int64))
        rows = self.probs.detach().reshape(-1, self._num_events)
        draws = multinomial(rows, n, True) if n > 0 else zeros((rows.shape[0], 0), dtype=np.int64)
        return draws.t().reshape(self._extended_shape(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        shape = broadcast_shape("Categorical.log_prob", index.shape, self.logits.shape)
        index = index.expand(shape[:-1] + (1,))
        return self.logits.expand(shape).gather(-1, index).squeeze(-1)

    def entropy(self):
        # -sum p log p; a logit of -inf (p = 0) is clamped to the lowest float, so 0 * log 0 counts 0
        logits = self.logits.clamp(min=finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + self._batch_shape) if expand else values


class OneHotCategorical(Distribution):
    """Categorical with samples as one-hot vectors of length K (event_shape (K,))."""

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:], validate_args)

    probs = property(lambda self: self._categorical.probs, doc="Normalised probabilities.")
    logits = property(lambda self: self._categorical.logits, doc="Normalised log-probabilities.")
    _param = property(lambda self: self._categorical._param)
    param_shape = property(lambda self: self._categorical.param_shape, doc="The shape of probs/logits.")

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def mode(self):
        probs = self._categorical.probs
        return one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self):
        p = self._categorical.probs
        return p * (1 - p)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(OneHotCategorical, _instance)
        batch_shape = _shape("expand", batch_shape)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        probs = self._categorical.probs
        return one_hot(self._categorical.sample(sample_shape), probs.shape[-1]).to(probs.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        n = self._event_shape[0]
        values = eye(n, dtype=self._param.dtype).reshape((n,) + (1,) * len(self._batch_shape) + (n,))
        return values.expand((n,) + self._batch_shape + (n,)) if expand else values
