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
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(shape {t.shape})")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for an activation, as ``torch.nn.init.calculate_gain``."""
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(t, a=0.0, b=1.0, generator=None):
    """Fill with samples from U(a, b)."""
    return _fill(t, rng().uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0, generator=None):
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


def xavier_uniform_(t, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def xavier_normal_(t, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _fans(t)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan), fan = fan_in or fan_out per ``mode``."""
    b = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -b, b)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan), fan = fan_in or fan_out per ``mode``."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity))


def orthogonal_(t, gain=1.0, generator=None):
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
