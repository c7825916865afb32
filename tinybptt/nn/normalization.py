"""Normalisation layers beside LayerNorm: RMSNorm, GroupNorm, BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d and
LocalResponseNorm, each with its functional form, as torch 2.13 defines them.

All of them are composed from differentiable tensor ops (the standardisation is ``F._standardize``, shared
with ``layer_norm``), so autograd gives their gradients.  Running statistics (batch and instance norm) are
updated in place without being recorded, with torch's rule: the mean and the *unbiased* variance of the
batch enter ``running = (1 - momentum) * running + momentum * batch_stat``.
"""
import warnings

import numpy as np

from .. import ops
from ..devices import check_device
from ..tensor import Tensor, as_dtype, default_float
from . import functional as F
from .module import Module, Parameter


def _check_dtypes(name, input, named):
    """Torch's mixed-dtype error: every tensor of ``named`` ((name, tensor or None) pairs) has the input's dtype."""
    F._floating(name, input)
    for pname, t in named:
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{name}: mixed dtype (CPU): all inputs must share same datatype ({pname} is "
                               f"{t.dtype}, input is {input.dtype})")


def _per_channel(name, input, named, c):
    """Check that each (name, tensor or None) holds ``c`` values (one per channel) as torch does."""
    for pname, t in named:
        if t is not None and t._data.size != c:
            raise RuntimeError(f"{name}: {pname} should contain {c} elements not {t._data.size} "
                               f"(input of shape {list(input.shape)})")


def _affine(y, weight, bias, ndim):
    """y * weight + bias with the (C,) parameters along dim 1 of an ``ndim``-dim y."""
    shape = (-1,) + (1,) * (ndim - 2)
    y = y if weight is None else y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _update_running(stat, value, momentum):
    """stat = (1 - momentum) * stat + momentum * value, in place and unrecorded (torch's running average)."""
    d = stat._data
    d[...] = momentum * np.asarray(value, d.dtype) + (1 - momentum) * d
    stat._bump_version()


def _batch_stats(x, axes):
    """The mean and the unbiased variance of the array ``x`` over ``axes`` (the running-statistic inputs)."""
    n = int(np.prod([x.shape[a] for a in axes]))
    mean = x.mean(axis=axes)
    centred = x - np.expand_dims(mean, axes)
    return mean, (centred * centred).sum(axis=axes) / (n - 1)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times ``weight``; eps=None is the
    machine epsilon of the input's dtype (torch.finfo(input.dtype).eps)."""
    if isinstance(normalized_shape, int):
        raise TypeError("rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not int")
    F._floating("rms_norm", input)
    dims = F._trailing_dims("rms_norm", input, normalized_shape, (("weight", weight),))
    eps = np.finfo(input.dtype).eps if eps is None else eps
    if input._data.size == 0:
        y = input * 1
    else:
        y = input / ((input * input).mean(dims, keepdim=True) + eps).sqrt()
    return y if weight is None else y * weight


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels of an (N, C, *) input into ``num_groups`` groups and standardise each group of
    each sample (biased variance), then scale and shift per channel."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[:2]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but "
                           f"got input of shape {list(input.shape)} and num_groups={num_groups}")
    for pname, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.shape[0] != c):
            raise RuntimeError(f"group_norm: Expected {pname} to be a vector of size equal to the number of "
                               f"channels in input, but got {pname} of shape {list(p.shape)} and input of shape "
                               f"{list(input.shape)}")
    _check_dtypes("group_norm", input, (("weight", weight), ("bias", bias)))
    grouped = input.reshape(n, num_groups, input._data.size // max(n * num_groups, 1))
    y = F._standardize(grouped, 2, eps).reshape(input.shape)
    return _affine(y, weight, bias, input.ndim)


def _check_running(name, running_mean, running_var):
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{name}: running_mean and running_var must either both be None or neither be None")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Standardise each channel (dim 1) of an (N, C, *) input over the batch and the other dims.

    training=True uses the batch's mean and biased variance and, when running stats are given, moves them
    towards the batch's mean and unbiased variance by ``momentum`` (in place); training=False uses the
    running stats.
    """
    _check_running("batch_norm", running_mean, running_var)
    if momentum is None:
        raise TypeError("batch_norm(): argument 'momentum' (position 7) must be float, not NoneType")
    c = input.shape[1] if input.ndim > 1 else 0
    named = (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias))
    _per_channel("batch_norm", input, named, c)
    if input.ndim < 2:
        raise RuntimeError(f"batch_norm: expected an input of shape (N, C, *), got shape {list(input.shape)}")
    _check_dtypes("batch_norm", input, named)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        if int(np.prod(input.shape[:1] + input.shape[2:])) == 1:  # one value per channel: no variance
            raise ValueError(f"batch_norm: Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)}")
        y = F._standardize(input, axes, eps)
        if running_mean is not None and input._data.size:
            mean, var = _batch_stats(input._data, axes)
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var, momentum)
    else:
        if running_mean is None:
            raise RuntimeError("batch_norm: running_mean must be defined in evaluation mode")
        shape = (c,) + (1,) * (input.ndim - 2)
        mean, var = running_mean._data.reshape(shape), running_var._data.reshape(shape)
        y = (input - mean) / Tensor(np.sqrt(var + eps))
    return _affine(y, weight, bias, input.ndim)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Standardise each channel of each sample of an (N, C, *) input over its other dims (biased variance).

    With running stats given, use_input_stats=True also moves them towards the batch average of the
    per-instance means and unbiased variances; use_input_stats=False normalises with them instead.
    """
    _check_running("instance_norm", running_mean, running_var)
    if use_input_stats and int(np.prod(input.shape[2:])) == 1:
        raise ValueError(f"instance_norm: Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    if not use_input_stats and running_mean is None:
        raise RuntimeError("instance_norm: Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    c = input.shape[1]
    named = (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias))
    _per_channel("instance_norm", input, named, c)
    _check_dtypes("instance_norm", input, named)
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    axes = tuple(range(2, input.ndim))
    y = F._standardize(input, axes, eps)
    if running_mean is not None:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():  # an empty batch gives NaN, as torch
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, var = _batch_stats(input._data, axes)
            _update_running(running_mean, mean.mean(0), momentum)
            _update_running(running_var, var.mean(0), momentum)
    return _affine(y, weight, bias, input.ndim)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over a window of ``size`` neighbouring channels)^beta, channels on dim 1 of
    an (N, C, *) input; the window is zero-padded, size // 2 channels before and (size - 1) // 2 after."""
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if size <= 0:
        raise RuntimeError(f"local_response_norm: kernel size should be greater than zero, but got size {size}")
    if input._data.size == 0:
        return input
    sq = input * input
    zeros = [Tensor(np.zeros(input.shape[:1] + (m,) + input.shape[2:], input.dtype))
             for m in (size // 2, (size - 1) // 2)]
    padded = ops.cat([zeros[0], sq, zeros[1]], 1)
    c = input.shape[1]
    window = padded.narrow(1, 0, c)
    for i in range(1, size):
        window = window + padded.narrow(1, i, c)
    return input / (window * (alpha / size) + k) ** beta


def _param(shape, value, dtype):
    return Parameter(np.full(shape, value, as_dtype(dtype) or default_float()))


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dims, with a learned scale."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        check_device("nn.RMSNorm", device)
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = _param(self.normalized_shape, 1.0, dtype)
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        """Set the scale back to ones."""
        if self.weight is not None:
            self.weight._data[...] = 1

    def forward(self, x):
        """``F.rms_norm(x, normalized_shape, weight, eps)``."""
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalisation of (N, C, *) inputs: ``num_groups`` groups of channels, a scale and shift per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        check_device("nn.GroupNorm", device)
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.register_parameter("weight", _param(num_channels, 1.0, dtype) if affine else None)
        self.register_parameter("bias", _param(num_channels, 0.0, dtype) if affine and bias else None)

    def reset_parameters(self):
        """Scale ones, shift zeros."""
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def forward(self, input):
        """``F.group_norm(input, num_groups, weight, bias, eps)``."""
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _NormBase(Module):
    """What batch and instance norm share: per-channel weight and bias, and the running-stat buffers
    running_mean, running_var and num_batches_tracked (torch's names, so state_dicts match)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        check_device(f"nn.{type(self).__name__}", device)
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.register_parameter("weight", _param(num_features, 1.0, dtype) if affine else None)
        self.register_parameter("bias", _param(num_features, 0.0, dtype) if affine and bias else None)
        if track_running_stats:
            dtype = as_dtype(dtype) or default_float()
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            for name, value in (("running_mean", 0), ("running_var", 1), ("num_batches_tracked", 0)):
                getattr(self, name)._data[...] = value
                getattr(self, name)._bump_version()

    def reset_parameters(self):
        """Reset the running stats, the scale to ones and the shift to zeros."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def _check_input_dim(self, input):
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input (got {input.ndim}D input)")

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        """Normalise with the batch's statistics in training mode (updating the running ones when tracked),
        else with the running statistics (the batch's when they are not tracked)."""
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._bump_version()
            if self.momentum is None:  # a cumulative average of every batch so far
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over the batch (and length), per channel."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) inputs, per channel."""
    _dims = (5,)


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        """Normalise each sample's channels over their own positions; an input without the batch dim is
        taken as one sample.  With tracked running stats, eval mode normalises with those instead."""
        self._check_input_dim(input)
        channel_dim = input.ndim - self._dims[0]
        if input.shape[channel_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"{type(self).__name__}: expected input's size at dim={channel_dim} to match "
                                 f"num_features ({self.num_features}), but got: {input.shape[channel_dim]}.")
            warnings.warn(f"input's size at dim={channel_dim} does not match num_features. You can silence this "
                          "warning by not passing in num_features, which is not used because affine=False",
                          UserWarning, stacklevel=3)
        unbatched = input.ndim == self._dims[0]
        x = input.unsqueeze(0) if unbatched else input
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          0.0 if self.momentum is None else self.momentum, self.eps)
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) inputs."""
    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) inputs."""
    _dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W) inputs."""
    _dims = (4, 5)


class LocalResponseNorm(Module):
    """Module form of ``F.local_response_norm`` (normalise by the activity of neighbouring channels)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        """``F.local_response_norm(input, size, alpha, beta, k)``."""
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
