"""Sliding windows over numpy arrays, shared by convolution, pooling and ``Tensor.unfold``: padding (zeros,
reflect, replicate, circular) and its adjoint, a strided view of the windows (no copy) and its adjoint
``fold`` (col2im), the int-or-tuple argument rule, and the ``Unfold`` Function behind ``Tensor.unfold``."""
import numpy as np

from .autograd import Function


def source_index(length, lo, hi, mode):
    """For padding mode ``mode``, the index into an axis of ``length`` that each of the lo + length + hi
    padded positions copies (reflect mirrors without repeating the edge, replicate repeats the edge,
    circular wraps around)."""
    j = np.arange(-lo, length + hi)
    if mode == "reflect":
        return np.where(j < 0, -j, np.where(j >= length, 2 * (length - 1) - j, j))
    if mode == "replicate":
        return np.clip(j, 0, length - 1)
    return j % length  # circular


def pad_array(x, pads, mode="zeros", value=0):
    """Pad the trailing len(pads) axes of ``x`` by pads = ((lo, hi), ...), with ``value`` or by ``mode``."""
    lead = x.ndim - len(pads)
    if not any(lo or hi for lo, hi in pads):
        return x
    if mode == "zeros":
        return np.pad(x, ((0, 0),) * lead + tuple(pads), constant_values=value)
    for i, (lo, hi) in enumerate(pads):
        x = np.take(x, source_index(x.shape[lead + i], lo, hi, mode), axis=lead + i)
    return x


def unpad_grad(g, shape, pads, mode="zeros"):
    """The adjoint of ``pad_array``: the gradient of the unpadded array of ``shape`` from that of the padded one."""
    lead = g.ndim - len(pads)
    if mode == "zeros":
        return g[(Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, shape[lead:]))]
    for i in reversed(range(len(pads))):  # undo the axes in the reverse order of padding
        axis, (lo, hi) = lead + i, pads[i]
        if not (lo or hi):
            continue
        out = np.zeros(g.shape[:axis] + (shape[axis],) + g.shape[axis + 1:], g.dtype)
        np.add.at(np.moveaxis(out, axis, 0), source_index(shape[axis], lo, hi, mode), np.moveaxis(g, axis, 0))
        g = out
    return g


def out_size(length, kernel, stride, dilation):
    """Number of window positions along an axis of (padded) ``length``."""
    return (length - dilation * (kernel - 1) - 1) // stride + 1


def windows(xp, kernel, stride, dilation):
    """A strided view (..., *out, *kernel) of the sliding windows over the trailing len(kernel) axes of ``xp``."""
    nd = len(kernel)
    axes = tuple(range(xp.ndim - nd, xp.ndim))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(xp, span, axis=axes)
    steps = tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, d) for d in dilation)
    return view[(Ellipsis,) + steps]


def fold(cols, shape, kernel, stride, dilation):
    """The adjoint of ``windows``: sum the window values ``cols`` (..., *out, *kernel) back onto an array of
    ``shape`` (col2im), one strided slice-add per kernel position."""
    nd = len(kernel)
    out = np.zeros(shape, cols.dtype)
    outs = cols.shape[cols.ndim - 2 * nd:cols.ndim - nd]
    for pos in np.ndindex(*kernel):
        dst = tuple(slice(p * d, p * d + s * (o - 1) + 1, s) for p, d, s, o in zip(pos, dilation, stride, outs))
        out[(Ellipsis,) + dst] += cols[(Ellipsis,) + pos]
    return out


def ntuple(name, arg, value, nd, error=RuntimeError):
    """``value`` (an int, or a sequence of one or nd ints) as an nd-tuple, else torch's error naming ``arg``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                for v in value):
        if len(value) == 1:
            return (int(value[0]),) * nd
        if len(value) == nd:
            return tuple(int(v) for v in value)
        raise error(f"{name}: expected {arg} to be a single integer value or a list of {nd} values to match the "
                    f"{nd} spatial dimensions, but got {arg}={list(value)}")
    raise TypeError(f"{name}(): argument '{arg}' must be tuple of ints, not {type(value).__name__}")


class Unfold(Function):
    """``Tensor.unfold``: the windows of ``size`` moved by ``step`` along axis ``dim`` as a new last axis (copied,
    not a view as in torch); the gradient sums each window's part back (``fold``)."""

    def forward(self, a, dim, size, step):
        self.shape, self.dim, self.size, self.step = a.shape, dim, size, step
        if a.ndim == 0:
            return a.reshape(1)[:size].copy()  # a 0-d tensor unfolds as one element
        return np.ascontiguousarray(np.moveaxis(windows(np.moveaxis(a, dim, -1), (size,), (step,), (1,)), -2, dim))

    def backward(self, g):
        if not self.shape:
            return np.asarray(g.sum(), g.dtype)
        moved = self.shape[:self.dim] + self.shape[self.dim + 1:] + (self.shape[self.dim],)
        return np.moveaxis(fold(np.moveaxis(g, self.dim, -2), moved, (self.size,), (self.step,), (1,)), -1, self.dim)
