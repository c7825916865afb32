"""Constraints: the sets a distribution's parameters and samples live in (torch.distributions.constraints).

Each constraint's ``check(value)`` returns a boolean tensor over the value's batch dims, True where
the value is in the set; ``event_dim`` says how many rightmost dims form one checked element.
"""
import numpy as np

from ..tensor import Tensor


class Constraint:
    """A region of values; subclasses define ``check``."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        """A boolean tensor: True where ``value`` satisfies the constraint."""
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__.lstrip('_')}({fields})"


def _bool(a):
    return Tensor._wrap(np.asarray(a, dtype=np.bool_))


def _data(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


class _Dependent(Constraint):
    """Placeholder for a set that depends on other parameters (not checked)."""

    def __init__(self, is_discrete=NotImplemented, event_dim=NotImplemented):
        self._is_discrete, self._event_dim = is_discrete, event_dim

    @property
    def is_discrete(self):
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self):
        if self._event_dim is NotImplemented:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        return _Dependent(is_discrete, event_dim)

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint):
    """Whether ``constraint`` is a ``dependent`` placeholder."""
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    """Every real number except NaN."""

    def check(self, value):
        v = _data(value)
        return _bool(v == v)


class _GreaterThan(Constraint):
    """Values strictly above ``lower_bound``."""

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return _bool(_data(value) > _data(self.lower_bound))


class _LessThan(Constraint):
    """Values strictly below ``upper_bound``."""

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return _bool(_data(value) < _data(self.upper_bound))


class _Interval(Constraint):
    """Values in the closed interval [lower_bound, upper_bound]."""

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        v = _data(value)
        return _bool((_data(self.lower_bound) <= v) & (v <= _data(self.upper_bound)))


class _IntegerInterval(_Interval):
    """Whole numbers in [lower_bound, upper_bound]."""

    is_discrete = True

    def check(self, value):
        v = _data(value)
        return _bool((v % 1 == 0) & (self.lower_bound <= v) & (v <= self.upper_bound))


class _Boolean(Constraint):
    """The values 0 and 1."""

    is_discrete = True

    def check(self, value):
        v = _data(value)
        return _bool((v == 0) | (v == 1))


class _OneHot(Constraint):
    """Vectors of zeros with a single one."""

    is_discrete = True
    event_dim = 1

    def check(self, value):
        v = _data(value)
        return _bool(((v == 0) | (v == 1)).all(-1) & (v.sum(-1) == 1))


class _Simplex(Constraint):
    """Non-negative vectors summing to 1 (within 1e-6)."""

    event_dim = 1

    def check(self, value):
        v = _data(value)
        return _bool((v >= 0).all(-1) & (np.abs(v.sum(-1) - 1) < 1e-6))


class _IndependentConstraint(Constraint):
    """``base_constraint`` on every element, with the last ``reinterpreted_batch_ndims`` dims taken as one event."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        self.base_constraint, self.reinterpreted_batch_ndims = base_constraint, reinterpreted_batch_ndims

    is_discrete = property(lambda self: self.base_constraint.is_discrete)
    event_dim = property(lambda self: self.base_constraint.event_dim + self.reinterpreted_batch_ndims)

    def check(self, value):
        ok = _data(self.base_constraint.check(value))
        if ok.ndim < self.reinterpreted_batch_ndims:
            expected = self.base_constraint.event_dim + self.reinterpreted_batch_ndims
            raise ValueError(f"Expected value.dim() >= {expected} but got {np.ndim(_data(value))}")
        return _bool(ok.reshape(ok.shape[:ok.ndim - self.reinterpreted_batch_ndims] + (-1,)).all(-1))

    def __repr__(self):
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


dependent = _Dependent()
real = _Real()
real_vector = _IndependentConstraint(real, 1)
positive = _GreaterThan(0.0)
greater_than = _GreaterThan
less_than = _LessThan
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
integer_interval = _IntegerInterval
boolean = _Boolean()
one_hot = _OneHot()
simplex = _Simplex()
independent = _IndependentConstraint
