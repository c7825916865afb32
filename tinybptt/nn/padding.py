"""Padding as torch 2.13 has it: ``F.pad`` (constant, reflect, replicate, circular; negative padding crops) and
the modules ConstantPad1d/2d, ZeroPad1d/2d, ReflectionPad1d/2d, ReplicationPad1d/2d, CircularPad1d/2d.

One Function pads every mode: crop the negative sides first, then pad the rest with ``windows.pad_array``;
the backward pass is ``windows.unpad_grad`` (the padding's adjoint) placed back into the uncropped shape."""
import numpy as np

from ..autograd import Function
from ..windows import pad_array, unpad_grad
from .module import Module

MODES = ("constant", "reflect", "replicate", "circular")


class Pad(Function):
    """Pad the trailing len(pads) axes by pads = ((lo, hi), ...) (first padded axis first) in ``mode``."""

    def forward(self, x, pads, mode, value):
        lead = x.ndim - len(pads)
        self.crop = (Ellipsis,) + tuple(slice(max(-lo, 0), n - max(-hi, 0))
                                        for (lo, hi), n in zip(pads, x.shape[lead:]))
        self.shape, self.mode = x.shape, ("zeros" if mode == "constant" else mode)
        self.pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
        cropped = x[self.crop]
        self.cropped_shape = cropped.shape
        return np.ascontiguousarray(pad_array(cropped, self.pads, self.mode, value))

    def backward(self, g):
        gc = unpad_grad(g, self.cropped_shape, self.pads, self.mode)
        if gc.shape == self.shape:
            return gc
        out = np.zeros(self.shape, g.dtype)
        out[self.crop] = gc
        return out


def _int_list(name, arg, value):
    """``value`` as a list of ints, else torch's TypeError."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name}(): argument '{arg}' must be tuple of ints, not {type(value).__name__}")
    for i, v in enumerate(value):
        if not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}(): argument '{arg}' must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
    return [int(v) for v in value]


def pad(input, pad, mode="constant", value=None):
    """Pad ``input``: pad = (left, right) of the last dim, then of the one before, ...  'constant' pads any of the
    last len(pad) // 2 dims with ``value`` (0 by default); 'reflect', 'replicate' and 'circular' pad the last 1, 2 or
    3 dims of a (2-D or 3-D), (3-D or 4-D) or (4-D or 5-D) input.  Negative padding crops."""
    pad = _int_list("pad", "pad", pad)
    if len(pad) % 2:
        raise RuntimeError("pad: Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"pad: Padding length should be less than or equal to two times the input dimension but "
                           f"got padding length {len(pad)} and input of dimension {input.ndim}")
    if mode not in MODES:
        raise NotImplementedError(f"pad: Unrecognised padding mode {mode}")
    nd = len(pad) // 2
    pads = tuple((pad[2 * i], pad[2 * i + 1]) for i in reversed(range(nd)))
    spatial = input.shape[input.ndim - nd:]
    if mode == "constant":
        for (lo, hi), n in zip(pads, spatial):
            if n + min(lo, 0) + min(hi, 0) < 0:
                raise RuntimeError(f"pad: narrow(): length must be non-negative (padding ({lo}, {hi}) of a dim of "
                                   f"size {n})")
        return Pad.apply(input, pads=pads, mode=mode, value=0 if value is None else value)
    if value:  # torch takes a zero value (only) in the other modes
        raise RuntimeError(f'pad: Padding mode "{mode}" doesn\'t take in value argument')
    if nd not in (1, 2, 3) or input.ndim not in (nd + 1, nd + 2):
        raise NotImplementedError(
            f"pad: Padding size {len(pad)} is not supported for {input.ndim}D input tensor (mode {mode!r}).\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    shape = list(input.shape)
    if mode == "circular":
        if any(lo > n or hi > n for (lo, hi), n in zip(pads, spatial)):
            raise RuntimeError(f"pad: Padding value causes wrapping around more than once (padding {pad}, input "
                               f"{shape})")
    else:
        if 0 in shape[input.ndim - nd - 1 if input.ndim == nd + 2 else 0:]:
            raise RuntimeError(f"pad ({mode}): Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 "
                               f"batch size and other non-zero dimensions for input, but got: {shape}")
        for i, ((lo, hi), n) in enumerate(zip(pads, spatial)):
            if mode == "reflect" and (lo >= n or hi >= n):
                raise RuntimeError(f"pad: Padding size should be less than the corresponding input dimension, but "
                                   f"got: padding ({lo}, {hi}) at dimension {input.ndim - nd + i} of input {shape}")
            if n + lo + hi <= 0:
                raise RuntimeError(f"pad ({mode}): input (size {n}) is too small. Calculated output size: "
                                   f"{n + lo + hi}")
    return Pad.apply(input, pads=pads, mode=mode, value=0)


# ---------------------------------------------------------------- modules
class _PadNd(Module):
    """Pads by ``padding`` (an int for every side, or torch's (left, right[, top, bottom]) tuple) in ``_mode``."""

    _nd = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = (int(padding),) * (2 * self._nd) if isinstance(padding, (int, np.integer)) else tuple(padding)

    def forward(self, input):
        """``input`` padded as F.pad does."""
        if self._mode == "circular" and input.ndim not in (self._nd + 1, self._nd + 2):
            raise ValueError(f"expected {self._nd + 1}D or {self._nd + 2}D input (got {input.ndim}D input)")
        if self._mode == "constant":
            return pad(input, list(self.padding), "constant", self.value)
        return pad(input, list(self.padding), self._mode)

    def extra_repr(self):
        """torch's repr: the padding tuple."""
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        """torch's repr: padding and value."""
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``: padding an int or (left, right)."""

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with ``value``: padding an int or (left, right, top, bottom)."""

    _nd = 2


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        """torch's repr: the padding tuple."""
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        """torch's repr: the padding tuple."""
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pads the last dim of (C, W) or (N, C, W) by its mirror image (the edge not repeated)."""

    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last two dims of (C, H, W) or (N, C, H, W) by their mirror image."""

    _nd, _mode = 2, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dim of (C, W) or (N, C, W) by repeating its edge value."""

    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last two dims of (C, H, W) or (N, C, H, W) by repeating the edge values."""

    _nd, _mode = 2, "replicate"


class CircularPad1d(_PadNd):
    """Pads the last dim of (C, W) or (N, C, W) by wrapping around."""

    _nd, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Pads the last two dims of (C, H, W) or (N, C, H, W) by wrapping around."""

    _nd, _mode = 2, "circular"
