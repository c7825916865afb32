"""Pooling over 1 or 2 spatial dims with torch 2.13's names and semantics: max_pool1d/2d, avg_pool1d/2d,
adaptive_avg_pool1d/2d, adaptive_max_pool1d/2d and their modules.

Two Functions serve them all, for any spatial rank:

* max pools pick, for every output position, one input element (torch's rule: the first largest value,
  the last NaN if there is one, and the first in-bounds element of a window holding only -inf); the
  choice is made in numpy and ``_Gather`` copies those elements forward and scatters the gradient back.
* average pools are linear and separable: along each spatial dim the output is A_d @ x with a
  (out_d, in_d) matrix holding 1/divisor over each window, so ``_Separable`` applies one matrix per dim
  (a GEMM each) and their transposes backward.  torch's divisor is a product over dims of per-dim counts
  (with or without the padding), so it splits the same way; divisor_override divides at the end.
"""
import functools

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ..windows import ntuple, out_size
from . import functional as F
from .module import Module


# ---------------------------------------------------------------- Functions
class _Gather(Function):
    """y[n, c, *o] = x[n, c, flat index[n, c, *o]] over the flattened spatial dims; the gradient is scattered
    back (summed where windows overlap)."""

    def forward(self, x, index):
        n, c, s, p = x.shape[0], x.shape[1], int(np.prod(x.shape[2:])), int(np.prod(index.shape[2:]))
        self.shape, self.index = x.shape, index
        return np.take_along_axis(x.reshape(n, c, s), index.reshape(n, c, p), axis=2).reshape(index.shape)

    def backward(self, g):
        n, c = self.shape[:2]
        s = int(np.prod(self.shape[2:]))
        rows = np.arange(n * c).reshape(n, c, *(1,) * (self.index.ndim - 2)) * s
        gx = np.bincount((rows + self.index).reshape(-1), g.reshape(-1), minlength=n * c * s)
        return gx.astype(g.dtype).reshape(self.shape)


class _Separable(Function):
    """y = x with each spatial dim d mapped by the matrix mats[d] (out_d, in_d), then divided by ``divisor``."""

    def forward(self, x, mats, divisor=None):
        self.mats, self.divisor = mats, divisor
        lead = x.ndim - len(mats)
        for i, m in enumerate(mats):
            x = np.moveaxis(np.matmul(np.moveaxis(x, lead + i, -1), m.T.astype(x.dtype)), -1, lead + i)
        return x if divisor is None else x / x.dtype.type(divisor)

    def backward(self, g):
        if self.divisor is not None:
            g = g / g.dtype.type(self.divisor)
        lead = g.ndim - len(self.mats)
        for i, m in enumerate(self.mats):
            g = np.moveaxis(np.matmul(np.moveaxis(g, lead + i, -1), m.astype(g.dtype)), -1, lead + i)
        return g


# ---------------------------------------------------------------- numpy geometry
def _pool_size(length, kernel, stride, pad, dilation, ceil_mode):
    """torch's pooling output size: with ceil_mode the last window may run past the end, but must start
    inside the input or its left padding."""
    span = dilation * (kernel - 1) + 1
    if not ceil_mode:
        return out_size(length + 2 * pad, kernel, stride, dilation)
    out = -(-(length + 2 * pad - span) // stride) + 1
    if (out - 1) * stride >= length + pad:
        out -= 1
    return out


def _flat_index(positions, spatial):
    """The flat index into the spatial dims of each window element: ``positions[d]`` (out_d, k_d) holds the
    index along dim d (-1 outside the input); the result is (*out, K), -1 where any dim is outside."""
    nd = len(positions)
    flat, outside = 0, False
    for d, (pos, size) in enumerate(zip(positions, spatial)):
        shape = [1] * (2 * nd)
        shape[d], shape[nd + d] = pos.shape
        pos = pos.reshape(shape)
        flat, outside = flat * size + pos, outside | (pos < 0)
    flat = np.where(outside, -1, flat)
    return flat.reshape(flat.shape[:nd] + (int(np.prod(flat.shape[nd:])),))


def _window_positions(length, kernel, stride, pad, dilation, out):
    """(out, kernel) input indices of a sliding window, -1 in the padding."""
    pos = np.arange(out)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation
    return np.where((pos >= 0) & (pos < length), pos, -1)


def _adaptive_bounds(length, out):
    """torch's adaptive windows: [floor(i L / out), ceil((i + 1) L / out)) for i < out."""
    i = np.arange(out)
    return (i * length) // out, -(-((i + 1) * length) // out)


def _adaptive_positions(length, out):
    """(out, widest window) input indices of the adaptive windows, each padded by repeating its last index."""
    start, end = _adaptive_bounds(length, out)
    width = int((end - start).max(initial=1))
    return np.minimum(start[:, None] + np.arange(width)[None, :], end[:, None] - 1)


def _choose_max(x, flat):
    """For each (n, c, *out): the flat spatial index of torch's max over the window ``flat`` (*out, K).

    torch's scan, one window element at a time for all windows at once: start from -inf at the window's
    first element inside the input, and move to each later element inside that is larger or NaN (so the
    first of equal maxima wins, and the last NaN)."""
    n, c = x.shape[:2]
    xr = x.reshape(n, c, int(np.prod(x.shape[2:])))
    inside = flat >= 0
    index = np.take_along_axis(flat, np.argmax(inside, axis=-1)[..., None], -1)[..., 0]  # (*out)
    index = np.broadcast_to(index, (n, c) + index.shape)
    best = np.full(index.shape, -np.inf, x.dtype)
    for j in range(flat.shape[-1]):
        v = np.take(xr, np.maximum(flat[..., j], 0), axis=2)
        move = inside[..., j] & ((v > best) | np.isnan(v))
        best, index = np.where(move, v, best), np.where(move, flat[..., j], index)
    return index


# ---------------------------------------------------------------- argument checks
def _batched(name, nd, input, all_dims=True):
    """``input`` as (N, C, *spatial) and whether it came without the batch dim; torch's checks on its shape
    (non-empty dims but the batch dim: all of them, or with ``all_dims=False`` the spatial ones)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with optional 0 dim batch "
                           f"size for input, but got:{list(input.shape)}")
    unbatched = input.ndim == nd + 1
    checked = range(0 if unbatched else 1, input.ndim) if all_dims else range(input.ndim - nd, input.ndim)
    for d in checked:
        if input.shape[d] == 0:
            raise RuntimeError(f"{name}: Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {list(input.shape)} with dimension {d} being empty")
    return (input.unsqueeze(0) if unbatched else input), unbatched


def _window_args(name, nd, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked (kernel, stride, padding, dilation, output sizes) of a sliding-window pool."""
    kernel = ntuple(name, "kernel_size", kernel_size, nd)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        ntuple(name, "stride", stride, nd)
    padding, dilation = ntuple(name, "padding", padding, nd), ntuple(name, "dilation", dilation, nd)
    for arg, vals in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v <= 0 for v in vals):
            raise RuntimeError(f"{name}: {arg} must be greater than zero, but got {arg}={vals}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{name}: pad must be non-negative, but got padding={padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise RuntimeError(f"{name}: pad should be at most half of effective kernel size, but got padding={padding} "
                           f"and kernel_size={kernel}")
    outs = tuple(_pool_size(n, k, s, p, d, ceil_mode)
                 for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    if any(o < 1 for o in outs):
        raise RuntimeError(f"{name}: Given input size: ({'x'.join(map(str, x.shape[1:]))}). Calculated output size: "
                           f"({'x'.join(map(str, x.shape[1:2] + outs))}). Output size is too small")
    return kernel, stride, padding, dilation, outs


def _output_size(name, nd, x, output_size, unbatched=False):
    """Checked output sizes of an adaptive pool (None keeps the input's size)."""
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if nd == 2 and len(output_size) >= x.ndim - unbatched:  # torch's Python-side check on the 2-d pools' sizes
        raise ValueError(f"{name}: Input dimension should be at least {len(output_size) + 1}")
    if len(output_size) != nd:
        raise RuntimeError(f"{name}: output_size must be {nd} ints (got {output_size})")
    outs = tuple(n if o is None else int(o) for o, n in zip(output_size, x.shape[2:]))
    if any(o < 0 for o in outs):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{output_size}")
    return outs


def _unbatch(y, unbatched):
    return y.squeeze(0) if unbatched else y


# ---------------------------------------------------------------- functional forms
def _max_pool(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _batched(name, nd, input)
    F._floating(name, x)
    kernel, stride, padding, dilation, outs = _window_args(name, nd, x, kernel_size, stride, padding, dilation,
                                                           ceil_mode)
    positions = [_window_positions(n, k, s, p, d, o)
                 for n, k, s, p, d, o in zip(x.shape[2:], kernel, stride, padding, dilation, outs)]
    return _gather_max(x, _flat_index(positions, x.shape[2:]), unbatched, return_indices)


def _gather_max(x, flat, unbatched, return_indices):
    """The max of ``x`` over the windows ``flat`` (see ``_flat_index``), and its indices when asked."""
    index = _choose_max(x._data, flat)
    y = _unbatch(_Gather.apply(x, index=index), unbatched)
    return (y, _unbatch(Tensor(index.astype(np.int64)), unbatched)) if return_indices else y


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The largest value of each window of ``kernel_size`` (spaced by ``dilation``, moved by ``stride``,
    default kernel_size) over the last dim of (N, C, L) or (C, L), padded by -inf; with ``return_indices``
    also the index along L of each chosen element."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling of (N, C, H, W) or (C, H, W); indices are flat over H * W."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool1d`` returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """``max_pool2d`` returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _window_sums(length, kernel, stride, pad, out, count_include_pad):
    """The 0/1 (out, length) matrix summing each sliding window, and torch's per-dim count of each window: its
    size clipped to the padded input (count_include_pad) or to the input itself."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + kernel, length + pad)
    i = np.arange(length)[None, :]
    mat = ((i >= start[:, None]) & (i < end[:, None])).astype(np.int64)
    return mat, (end - start if count_include_pad else np.minimum(end, length) - np.maximum(start, 0))


def _avg_pool(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, unbatched = _batched(name, nd, input)
    kernel, stride, padding, _, outs = _window_args(name, nd, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and not isinstance(divisor_override, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'divisor_override' must be int, not {type(divisor_override).__name__}")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{name}: divisor must be not zero")
    mats, counts = zip(*[_window_sums(*g, count_include_pad) for g in zip(x.shape[2:], kernel, stride, padding, outs)])
    if x.dtype == np.int64:  # torch's one integer kernel: the window sums divided with truncation (no gradient)
        sums = _Separable().forward(x._data, mats)
        divisor = divisor_override or functools.reduce(np.multiply, np.ix_(*counts))
        return _unbatch(Tensor(np.sign(sums) * (np.abs(sums) // divisor)), unbatched)
    F._floating(name, x)  # other than int64, torch has floating-point kernels only
    if divisor_override is None:
        mats = [m / c[:, None] for m, c in zip(mats, counts)]
    return _unbatch(_Separable.apply(x, mats=mats, divisor=divisor_override), unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean of each window of ``kernel_size`` (moved by ``stride``, default kernel_size) over the last dim of
    (N, C, L) or (C, L), zero padded; count_include_pad counts the padding in the divisor."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling of (N, C, H, W) or (C, H, W); ``divisor_override`` replaces the window size."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _adaptive_avg_pool(name, nd, input, output_size):
    x, unbatched = _batched(name, nd, input, all_dims=False)
    F._floating(name, x)
    outs = _output_size(name, nd, x, output_size, unbatched)
    mats = []
    for n, o in zip(x.shape[2:], outs):
        start, end = _adaptive_bounds(n, o)
        i = np.arange(n)[None, :]
        mats.append(((i >= start[:, None]) & (i < end[:, None])) / (end - start)[:, None])
    return _unbatch(_Separable.apply(x, mats=mats), unbatched)


def adaptive_avg_pool1d(input, output_size):
    """The mean over ``output_size`` windows [floor(i L / out), ceil((i + 1) L / out)) of the last dim of
    (N, C, L) or (C, L)."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """2-D adaptive average pooling of (N, C, H, W) or (C, H, W); an output size of None keeps that dim."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max_pool(name, nd, input, output_size, return_indices):
    x, unbatched = _batched(name, nd, input)
    F._floating(name, x)
    outs = _output_size(name, nd, x, output_size, unbatched)
    positions = [_adaptive_positions(n, o) for n, o in zip(x.shape[2:], outs)]
    return _gather_max(x, _flat_index(positions, x.shape[2:]), unbatched, return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """The largest value of each adaptive window (as adaptive_avg_pool1d's) of (N, C, L) or (C, L)."""
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-D adaptive max pooling of (N, C, H, W) or (C, H, W); indices are flat over H * W."""
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool1d`` returning (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    """``adaptive_max_pool2d`` returning (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


# ---------------------------------------------------------------- modules
class _MaxPoolNd(Module):
    """MaxPool1d/2d: the arguments kept as given (stride defaults to kernel_size), as torch."""

    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        """Max pooling of ``input`` (values, or (values, indices) with return_indices)."""
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                              self.return_indices)

    def extra_repr(self):
        """The constructor arguments shown inside repr(), as torch prints them."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling over (N, C, L) or (C, L); see ``F.max_pool1d``."""

    _fn = max_pool1d


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling over (N, C, H, W) or (C, H, W); see ``F.max_pool2d``."""

    _fn = max_pool2d


class _AvgPoolNd(Module):
    """AvgPool1d/2d: torch's repr."""

    def extra_repr(self):
        """The constructor arguments shown inside repr(), as torch prints them."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling over (N, C, L) or (C, L); see ``F.avg_pool1d``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        one = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)  # noqa: E731  (torch's _single)
        self.kernel_size = one(kernel_size)
        self.stride = one(stride if stride is not None else kernel_size)
        self.padding, self.ceil_mode, self.count_include_pad = one(padding), ceil_mode, count_include_pad

    def forward(self, input):
        """Average pooling of ``input``."""
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling over (N, C, H, W) or (C, H, W); see ``F.avg_pool2d``."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        """Average pooling of ``input``."""
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                          self.divisor_override)


class _AdaptivePool(Module):
    """Adaptive pools: only the output size (and for max pools, return_indices) is kept."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        """The constructor arguments shown inside repr(), as torch prints them."""
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """1-D adaptive average pooling to ``output_size`` positions; see ``F.adaptive_avg_pool1d``."""

    def forward(self, input):
        """Adaptive average pooling of ``input``."""
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """2-D adaptive average pooling to ``output_size`` (an int, or a pair that may hold None)."""

    def forward(self, input):
        """Adaptive average pooling of ``input``."""
        return adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool1d(_AdaptivePool):
    """1-D adaptive max pooling to ``output_size`` positions; see ``F.adaptive_max_pool1d``."""

    _fn = adaptive_max_pool1d

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        """Adaptive max pooling of ``input`` (values, or (values, indices) with return_indices)."""
        return type(self)._fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    """2-D adaptive max pooling to ``output_size`` (an int, or a pair that may hold None)."""

    _fn = adaptive_max_pool2d
