"""Dropout variants beside ``F.dropout``: channel-wise (dropout1d/2d/3d) and alpha dropout (the SELU-preserving
kind, elementwise or per channel), functional forms and modules, as torch 2.13 defines them.

Channel-wise dropout zeroes whole channels (dim 1 of an (N, C, *) input, one draw per sample and channel)
and scales the rest by 1 / (1 - p).  Alpha dropout sets dropped elements to SELU's negative saturation
value and applies the affine map that keeps a zero-mean, unit-variance input so (Klambauer et al., 2017).
"""
import math
import warnings


from .. import ops
from ..random import rng
from . import functional as F
from .layers import Dropout

_SELU_SATURATION = 1.7580993408473766  # -(SELU's limit at -inf) = scale * alpha


def _check_p(name, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")


def _keep(shape, dtype, p, per_channel):
    """A 0/1 array of ``dtype``, 1 with probability 1 - p: one draw per element of ``shape``, or per (sample,
    channel) (its first two dims)."""
    if per_channel and len(shape) < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input (got shape {shape})")
    draws = shape[:2] + (1,) * (len(shape) - 2) if per_channel else shape
    return (rng().random(draws) >= p).astype(dtype)


def _drop(input, p, training, inplace, name, per_channel, alpha, unbatched=False):
    """Dropout of ``input`` (torch's _dropout_impl): nothing when not training, p = 0 or empty; zeros when p = 1.
    ``unbatched``: channel-wise on an input without its batch dim (one is added for the draw)."""
    if not training or p == 0.0 or input._data.size == 0:
        return input
    if p == 1.0:
        return F._apply(input, inplace, name, lambda t: t * 0.0)
    if input.dtype.kind != "f":
        raise RuntimeError(f"{name}: result type Float can't be cast to the desired output type "
                           f"{F._TORCH_TYPE.get(input.dtype.name, input.dtype)}")

    def drop(t):
        keep = _keep((1,) * unbatched + t.shape, t.dtype, p, per_channel)
        keep = keep[0] if unbatched else keep
        if not alpha:
            return ops.Dropout.apply(t, keep / t.dtype.type(1.0 - p))
        a = 1.0 / math.sqrt((_SELU_SATURATION ** 2 * p + 1) * (1 - p))
        # kept: a * x + alpha a p; dropped: a * (-alpha) + alpha a p
        shift = ((keep - 1) * (_SELU_SATURATION * a) + _SELU_SATURATION * a * p).astype(t.dtype)
        return ops.Dropout.apply(t, keep * t.dtype.type(a)) + shift
    return F._apply(input, inplace, name, drop)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of each element (for SELU networks); identity unless ``training`` (off by default, as torch)."""
    _check_p("alpha_dropout", p)
    return _drop(input, p, training, inplace, "alpha_dropout_", False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (dim 1); identity unless ``training`` (off by default, as torch)."""
    _check_p("feature_alpha_dropout", p)
    return _drop(input, p, training, inplace, "feature_alpha_dropout_", True, True)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, L) or unbatched (C, L) input with probability ``p``, scaling the rest."""
    _check_p("dropout1d", p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _drop(input, p, training, inplace, "dropout1d_", True, False, unbatched=input.ndim == 2)


def _warn_dims(name, ndim, spatial):
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in an error "
                  "in a future release. To retain the behavior and silence this warning, please use dropout "
                  f"instead. Note that {name} exists to provide channel-wise dropout on inputs with {spatial} "
                  "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. "
                  f"{spatial + 1}D or {spatial + 2}D inputs).", UserWarning, stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, H, W) input with probability ``p``, scaling the rest.

    As torch 2.13, a 3-D input is taken as (N, C, L) (with torch's warning) and other ranks warn.
    """
    _check_p("dropout2d", p)
    if input.ndim not in (3, 4):
        _warn_dims("dropout2d", input.ndim, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=2)
    return _drop(input, p, training, inplace, "dropout2d_", True, False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of an (N, C, D, H, W) or unbatched (C, D, H, W) input with probability ``p``."""
    _check_p("dropout3d", p)
    if input.ndim not in (4, 5):
        _warn_dims("dropout3d", input.ndim, 3)
    return _drop(input, p, training, inplace, "dropout3d_", True, False, unbatched=input.ndim != 5)


class _DropoutNd(Dropout):
    fn = None

    def forward(self, input):
        """The dropout of this class in training mode; ``input`` unchanged in eval mode."""
        return type(self).fn(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Channel-wise dropout of (N, C, L) or (C, L) inputs."""
    fn = staticmethod(dropout1d)


class Dropout2d(_DropoutNd):
    """Channel-wise dropout of (N, C, H, W) inputs."""
    fn = staticmethod(dropout2d)


class Dropout3d(_DropoutNd):
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W) inputs."""
    fn = staticmethod(dropout3d)


class AlphaDropout(_DropoutNd):
    """Elementwise alpha dropout, for SELU networks."""
    fn = staticmethod(alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Channel-wise alpha dropout, for SELU networks."""
    fn = staticmethod(feature_alpha_dropout)
