"""im2col and col2im as torch 2.13 has them: ``F.unfold`` / ``nn.Unfold`` take the sliding blocks of a (N, C, H, W)
input as columns (N, C * kH * kW, L); ``F.fold`` / ``nn.Fold`` sum such columns back onto (N, C, H, W).
Each is the other's adjoint, so both Functions run the two helpers below, one each way."""
import numpy as np

from ..autograd import Function
from ..windows import fold as fold_windows, ntuple, out_size, pad_array, unpad_grad, windows
from .module import Module


def im2col(x, kernel, dilation, padding, stride):
    """(N, C, H, W) -> (N, C * kH * kW, L): the zero-padded sliding blocks, channel-major then kernel position."""
    pads = tuple((p, p) for p in padding)
    win = windows(pad_array(x, pads), kernel, stride, dilation)  # (N, C, oH, oW, kH, kW)
    n, c, oh, ow = win.shape[:4]
    return np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3)).reshape(n, c * kernel[0] * kernel[1], oh * ow)


def col2im(cols, size, kernel, dilation, padding, stride):
    """(N, C * kH * kW, L) -> (N, C, *size): each column's values summed onto the block it came from (padding cut)."""
    n, ck, _ = cols.shape
    c = ck // (kernel[0] * kernel[1])
    padded = tuple(s + 2 * p for s, p in zip(size, padding))
    outs = tuple(out_size(s, k, st, d) for s, k, st, d in zip(padded, kernel, stride, dilation))
    blocks = cols.reshape((n, c) + kernel + outs).transpose(0, 1, 4, 5, 2, 3)
    full = fold_windows(blocks, (n, c) + padded, kernel, stride, dilation)
    return unpad_grad(full, (n, c) + tuple(size), tuple((p, p) for p in padding))


class Im2Col(Function):
    """``unfold``: the blocks as columns; the gradient folds them back."""

    def forward(self, x, kernel, dilation, padding, stride):
        self.args = (x.shape[2:], kernel, dilation, padding, stride)
        return im2col(x, kernel, dilation, padding, stride)

    def backward(self, g):
        return col2im(g, *self.args)


class Col2Im(Function):
    """``fold``: the columns summed onto the image; the gradient takes its blocks again."""

    def forward(self, cols, size, kernel, dilation, padding, stride):
        self.args = (kernel, dilation, padding, stride)
        return col2im(cols, size, kernel, dilation, padding, stride)

    def backward(self, g):
        return im2col(g, *self.args)


def _pair(name, arg, value):
    """An int, or a sequence of exactly two ints (torch's im2col takes no 1-sequence), as a pair."""
    if isinstance(value, (tuple, list)) and len(value) != 2:
        raise RuntimeError(f"{name}: It is expected {arg} equals to 2, but got size {len(value)}")
    return ntuple(name, arg, value, 2)


def _pairs(name, kernel_size, dilation, padding, stride):
    """The four arguments as pairs, checked as torch checks them."""
    kernel, dilation, padding, stride = (_pair(name, a, v) for a, v in (
        ("kernel_size", kernel_size), ("dilation", dilation), ("padding", padding), ("stride", stride)))
    for what, v, ok in (("kernel size", kernel, 0), ("stride", stride, 0), ("dilation", dilation, 0)):
        if min(v) <= ok:
            raise RuntimeError(f"{name}: {what} should be greater than zero, but got {what.split()[0]}_height: "
                               f"{v[0]} {what.split()[0]}_width: {v[1]}")
    if min(padding) < 0:
        raise RuntimeError(f"{name}: padding should be non-negative, but got pad_height: {padding[0]} pad_width: "
                           f"{padding[1]}")
    return kernel, dilation, padding, stride


def _float_input(name, input):
    if input.dtype.kind != "f":
        raise NotImplementedError(f'{name}: "{name}" not implemented for dtype {input.dtype}')


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding blocks of (N, C, H, W) (or unbatched (C, H, W)) as columns (N, C * prod(kernel_size), L)."""
    kernel, dilation, padding, stride = _pairs("unfold", kernel_size, dilation, padding, stride)
    shape = list(input.shape)
    if input.ndim not in (3, 4) or 0 in shape[-3:]:
        raise RuntimeError(f"unfold: Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {shape}")
    _float_input("unfold", input)
    outs = [out_size(s + 2 * p, k, st, d) for s, p, k, st, d in zip(shape[-2:], padding, kernel, stride, dilation)]
    if min(outs) < 1:
        raise RuntimeError(f"unfold: Given input with spatial size {tuple(shape[-2:])}, kernel_size={kernel}, "
                           f"dilation={dilation}, padding={padding}, calculated shape of the array of sliding blocks "
                           f"as {tuple(outs)}, but its components must be at least one.")
    x = input.unsqueeze(0) if input.ndim == 3 else input
    y = Im2Col.apply(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride)
    return y.squeeze(0) if input.ndim == 3 else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum the columns (N, C * prod(kernel_size), L) (or unbatched (C * prod(kernel_size), L)) onto
    (N, C, *output_size): the adjoint of ``unfold``, overlapping blocks adding up."""
    size = _pair("fold", "output_size", output_size)
    kernel, dilation, padding, stride = _pairs("fold", kernel_size, dilation, padding, stride)
    shape = list(input.shape)
    if input.ndim not in (2, 3) or 0 in shape[-2:]:
        raise RuntimeError(f"fold: Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {shape}")
    _float_input("fold", input)
    k = kernel[0] * kernel[1]
    if shape[-2] % k:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={shape[-2]} and kernel_size={kernel}.")
    outs = [out_size(s + 2 * p, kk, st, d) for s, p, kk, st, d in zip(size, padding, kernel, stride, dilation)]
    if min(outs) < 1 or outs[0] * outs[1] != shape[-1]:
        raise RuntimeError(f"fold: Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {outs[0]} * {outs[1]} = {outs[0] * outs[1]}, but got "
                           f"input.size(2)={shape[-1]}.")
    x = input.unsqueeze(0) if input.ndim == 2 else input
    y = Col2Im.apply(x, size=size, kernel=kernel, dilation=dilation, padding=padding, stride=stride)
    return y.squeeze(0) if input.ndim == 2 else y


class Unfold(Module):
    """``F.unfold`` as a module (no parameters)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):
        """The sliding blocks of ``input`` as columns."""
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        """torch's repr: the arguments as given."""
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """``F.fold`` as a module (no parameters)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        """The columns of ``input`` summed onto an image of ``output_size``."""
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        """torch's repr: the arguments as given."""
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
