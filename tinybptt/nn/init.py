"""nn.init: in-place initialisers (all run without recording)."""
import math

import numpy as np

from ..random import rng


def _fill(t, values):
    t._data[...] = values
    t._version += 1
    return t


def _fans(t):
    if t.ndim < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {t.shape}")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def uniform_(t, a=0.0, b=1.0):
    """Fill with samples from U(a, b)."""
    return _fill(t, rng().uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0):
    """Fill with samples from N(mean, std^2)."""
    return _fill(t, rng().normal(mean, std, t.shape))


def zeros_(t):
    """Fill with zeros."""
    return _fill(t, 0)


def ones_(t):
    """Fill with ones."""
    return _fill(t, 1)


def constant_(t, val):
    """Fill with ``val``."""
    return _fill(t, val)


def eye_(t):
    """Fill a 2-D tensor with the identity."""
    return _fill(t, np.eye(*t.shape))


def xavier_uniform_(t, gain=1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t, a=0.0, nonlinearity="leaky_relu"):
    """U(-b, b) with b = gain * sqrt(3 / fan_in)."""
    fan_in, _ = _fans(t)
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity in ("leaky_relu", "relu") else 1.0
    b = gain * math.sqrt(3.0 / fan_in)
    return uniform_(t, -b, b)


def orthogonal_(t, gain=1.0):
    """Fill with a (semi-)orthogonal matrix: QR of a Gaussian matrix, signs fixed so Q is uniform.

    For a recurrent matrix W this makes every singular value 1, so ||W^k h|| = ||h||:
    the linear part of the backward recurrence neither vanishes nor explodes.
    """
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {t.shape}")
    rows, cols = t.shape[0], t._data.size // t.shape[0]
    flat = rng().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))
