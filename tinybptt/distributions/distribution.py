"""The Distribution base class and the helpers its subclasses share (as torch.distributions)."""
import numbers
import warnings

import numpy as np

from ..autograd import enable_grad, no_grad
from ..autograd.functional import _size
from ..functions import finfo
from ..tensor import Tensor, default_float
from . import constraints


class lazy_property:
    """A property computed on first access (with recording on) and then stored on the instance, so that
    a parameter given one way (probs) yields the other (logits) only when asked for."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.fn(instance)
        instance.__dict__[self.fn.__name__] = value
        return value


def broadcast_all(*values):
    """The values (tensors or numbers) as tensors broadcast to one shape; numbers take the dtype of the
    tensors given (the default dtype when there are none), as torch.distributions.utils.broadcast_all."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                         "implementing __torch_function__.")
    tensors = [v for v in values if isinstance(v, Tensor)]
    dtype = tensors[0].dtype if tensors else default_float()
    values = [v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=dtype)) for v in values]
    shape = broadcast_shape("broadcast_all", *(v.shape for v in values))
    return tuple(v if v.shape == shape else v.expand(shape) for v in values)


def broadcast_shape(name, *shapes):
    """The shape ``shapes`` broadcast to; RuntimeError naming ``name`` and the shapes when they do not."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError(f"{name}: shapes {', '.join(map(str, shapes))} cannot be broadcast to one shape") from None


def clamp_probs(probs):
    """Probabilities kept within [eps, 1 - eps] of their dtype, so their logs are finite."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """Logits of probabilities: log p (log-odds log p - log(1 - p) when ``is_binary``), p clamped first."""
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


def logits_to_probs(logits, is_binary=False):
    """Probabilities of logits: softmax over the last dim (sigmoid when ``is_binary``)."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def _sum_rightmost(value, dim):
    """``value`` summed over its last ``dim`` dims."""
    return value.reshape(value.shape[:value.ndim - dim] + (-1,)).sum(-1) if dim > 0 else value


def _shape(name, shape):
    """A shape argument (tuple, list, or torch.Size-like) as a tuple of ints."""
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name}: expected a shape (a tuple of ints), but got {type(shape).__name__}") from None


class Distribution:
    """Base of all distributions: ``batch_shape`` (independent, differently parametrised draws) and
    ``event_shape`` (the shape of one draw), ``sample``/``rsample``, ``log_prob``, ``entropy`` and moments.

    With ``validate_args`` (on by default, see ``set_default_validate_args``) parameters are checked
    against ``arg_constraints`` when the distribution is made and values against ``support`` in
    ``log_prob``, raising ValueError as PyTorch.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument validation on or off for distributions made without ``validate_args``."""
        if value not in [True, False]:
            raise ValueError(f"set_default_validate_args: expected True or False, but got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = _shape("Distribution", batch_shape)
        self._event_shape = _shape("Distribution", event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if not self._validate_args:
            return
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                continue  # the parameter was given the other way: not made just to be checked
            value = getattr(self, param)
            if not constraint.check(value)._data.all():
                raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape {tuple(value.shape)}) "
                                 f"of distribution {self!r} to satisfy the constraint {constraint!r}, but found "
                                 f"invalid values:\n{value}")

    batch_shape = property(lambda self: self._batch_shape, doc="The shape over which parameters are batched.")
    event_shape = property(lambda self: self._event_shape, doc="The shape of a single sample.")

    @property
    def arg_constraints(self):
        """Parameter name -> the constraint it must satisfy."""
        raise NotImplementedError

    @property
    def support(self):
        """The constraint every sample satisfies."""
        raise NotImplementedError

    @property
    def mean(self):
        """The mean."""
        raise NotImplementedError(f"{self.__class__} does not implement mean")

    @property
    def mode(self):
        """The most likely value."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        """The variance."""
        raise NotImplementedError(f"{self.__class__} does not implement variance")

    @property
    def stddev(self):
        """The standard deviation, sqrt(variance)."""
        return self.variance.sqrt()

    def expand(self, batch_shape, _instance=None):
        """The same distribution with parameters broadcast to ``batch_shape`` (no copy)."""
        raise NotImplementedError

    def sample(self, sample_shape=()):
        """Draws of shape ``sample_shape + batch_shape + event_shape``, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """Reparametrised draws: differentiable with respect to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not support rsample: it has no reparametrisation "
                                  f"(has_rsample=False); use sample()")

    def sample_n(self, n):
        """``n`` draws (deprecated: use ``sample((n,))``)."""
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning)
        return self.sample((n,))

    def log_prob(self, value):
        """The log of the probability density/mass at ``value``."""
        raise NotImplementedError

    def cdf(self, value):
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError

    def icdf(self, value):
        """The inverse of the cumulative distribution function."""
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        """Every value of a discrete distribution along a new leading dim."""
        raise NotImplementedError

    def entropy(self):
        """The entropy, over batch_shape."""
        raise NotImplementedError

    def perplexity(self):
        """exp(entropy)."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=()):
        """sample_shape + batch_shape + event_shape."""
        return _shape("sample", sample_shape) + self._batch_shape + self._event_shape

    def _validate_sample(self, value):
        """Raise ValueError unless ``value`` is a tensor broadcastable with the distribution and in its support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        start = value.ndim - len(self._event_shape)
        if value.shape[start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {_size(value.shape)} vs "
                             f"{_size(self._event_shape)}.")
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(value.shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {_size(value.shape)} vs "
                                 f"{_size(expected)}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          f"initialize the distribution with `validate_args=False` to turn off validation.")
            return
        if not support.check(value)._data.all():
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) to be "
                             f"within the support ({support!r}) of the distribution {self!r}, but found invalid "
                             f"values:\n{value}")

    def _expanded(self, cls, batch_shape, _instance, params, event=()):
        """``expand`` for distributions whose parameters ``params`` (those set) broadcast to
        ``batch_shape + event``; the new instance shares the parameters' memory."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = _shape("expand", batch_shape)
        for name in params:
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name].expand(batch_shape + event)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      f"__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self):
        shown = [f"{k}: {v if v.numel() == 1 else _size(v.shape)}"
                 for k, v in ((k, self.__dict__[k]) for k in self.arg_constraints if k in self.__dict__)]
        return f"{type(self).__name__}({', '.join(shown)})"
