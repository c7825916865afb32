"""Convolutions over 1 or 2 spatial dims with torch 2.13's names and semantics: F.conv1d, F.conv2d,
F.conv_transpose1d, F.conv_transpose2d and the modules Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d.

One N-d implementation serves every spatial rank.  The forward pass pads the input (zeros, reflect,
replicate or circular), takes a strided view of its sliding windows (N, C, *out, *kernel), copies it
once into a column matrix (im2col) and multiplies it by the weight matrix: one GEMM per group.  The
backward pass is two more GEMMs (weight gradient and column gradient) and a fold of the column
gradient back onto the padded input (col2im), then the padding's adjoint.  ``conv_transpose`` is the
adjoint of ``conv`` with respect to its input, so it runs the same pieces the other way round.
"""
import math

import numpy as np

from ..autograd import Function
from ..devices import check_device
from ..tensor import Tensor
from ..windows import fold, ntuple, pad_array, unpad_grad, windows
from . import init
from .layers import _empty
from .module import Module

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


# ---------------------------------------------------------------- the Function
class ConvNd(Function):
    """Cross-correlation of a batched input (N, C, *spatial) with weight (O, C / groups, *kernel) plus bias,
    after padding by ``pads`` ((lo, hi) per spatial dim) in ``mode``; forward and VJP side by side."""

    def forward(self, x, w, b, stride, pads, dilation, groups, mode="zeros"):
        nd, n, c, o, g = len(stride), x.shape[0], x.shape[1], w.shape[0], groups
        kernel = w.shape[2:]
        xp = pad_array(x, pads, mode)
        win = windows(xp, kernel, stride, dilation)  # (N, C, *out, *kernel)
        outs = win.shape[2:2 + nd]
        p, ck = int(np.prod(outs)), (c // g) * int(np.prod(kernel))
        # im2col: (G, N * P, C/G * K), the one copy of the input windows
        cols = np.moveaxis(win.reshape((n, g, c // g) + win.shape[2:]), 2, 2 + nd).swapaxes(0, 1)
        cols = cols.reshape(g, n * p, ck)
        wmat = w.reshape(g, o // g, ck)
        y = np.matmul(cols, wmat.swapaxes(1, 2))  # (G, N * P, O/G)
        y = np.moveaxis(y.reshape((g, n, p, o // g)), 0, 1).swapaxes(2, 3).reshape((n, o) + outs)
        if b is not None:
            y = y + b.reshape((o,) + (1,) * nd)
        self.cols, self.wmat, self.meta = cols, wmat, (x.shape, xp.shape, w.shape, stride, pads, dilation, mode)
        return y

    def backward(self, gy):
        xshape, xpshape, wshape, stride, pads, dilation, mode = self.meta
        nd, (n, c), (o, g) = len(stride), xshape[:2], (wshape[0], self.wmat.shape[0])
        outs, kernel = gy.shape[2:], wshape[2:]
        p = int(np.prod(outs))
        gm = gy.reshape(n, g, o // g, p).transpose(1, 0, 3, 2).reshape(g, n * p, o // g)  # (G, N * P, O/G)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gcols = np.matmul(gm, self.wmat).reshape((g, n) + outs + (c // g,) + kernel)
            gcols = np.moveaxis(gcols, 2 + nd, 2).swapaxes(0, 1).reshape((n, c) + outs + kernel)
            gx = unpad_grad(fold(gcols, xpshape, kernel, stride, dilation), xshape, pads, mode)
        if self.needs_input_grad[1]:
            gw = np.matmul(self.cols.swapaxes(1, 2), gm).swapaxes(1, 2).reshape(wshape)
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
        return gx, gw, gb


class ConvTransposeNd(Function):
    """The transpose (adjoint in the input) of ``ConvNd`` with zero padding: input (N, C_in, *spatial), weight
    (C_in, C_out / groups, *kernel); ``pads`` are cropped from the full output, ``output_padding`` widens it."""

    def forward(self, x, w, b, stride, pads, dilation, groups, output_padding):
        nd, n, c, g = len(stride), x.shape[0], x.shape[1], groups
        kernel, og = w.shape[2:], w.shape[1]
        ins = x.shape[2:]
        full = tuple((i - 1) * s + d * (k - 1) + 1 + op
                     for i, s, d, k, op in zip(ins, stride, dilation, kernel, output_padding))
        p, ck = int(np.prod(ins)), og * int(np.prod(kernel))
        xm = x.reshape(n, g, c // g, p).transpose(1, 0, 3, 2).reshape(g, n * p, c // g)  # (G, N * P, C_in/G)
        wmat = w.reshape(g, c // g, ck)
        cols = np.matmul(xm, wmat).reshape((g, n) + ins + (og,) + kernel)  # the GEMM
        cols = np.moveaxis(cols, 2 + nd, 2).swapaxes(0, 1).reshape((n, g * og) + ins + kernel)
        y = fold(cols, (n, g * og) + full, kernel, stride, dilation)
        y = y[(Ellipsis,) + tuple(slice(lo, f - hi) for (lo, hi), f in zip(pads, full))]
        if b is not None:
            y = y + b.reshape((-1,) + (1,) * nd)
        self.xm, self.wmat, self.meta = xm, wmat, (x.shape, w.shape, full, stride, pads, dilation)
        return y

    def backward(self, gy):
        xshape, wshape, full, stride, pads, dilation = self.meta
        nd, (n, c), g = len(stride), xshape[:2], self.wmat.shape[0]
        kernel, og, ins = wshape[2:], wshape[1], xshape[2:]
        gfull = np.pad(gy, ((0, 0), (0, 0)) + tuple(pads)) if any(lo or hi for lo, hi in pads) else gy
        p = int(np.prod(ins))
        win = windows(gfull, kernel, stride, dilation)
        win = win[(Ellipsis,) + tuple(slice(0, i) for i in ins) + (slice(None),) * nd]
        # (G, N * P, C_out/G * K): the windows of the output gradient, one column per input position
        gcols = np.moveaxis(win.reshape((n, g, og) + win.shape[2:]), 2, 2 + nd).swapaxes(0, 1)
        gcols = gcols.reshape(g, n * p, self.wmat.shape[2])
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = np.matmul(gcols, self.wmat.swapaxes(1, 2))  # (G, N * P, C_in/G)
            gx = gx.reshape(g, n, p, c // g).transpose(1, 0, 3, 2).reshape(xshape)
        if self.needs_input_grad[1]:
            gw = np.matmul(self.xm.swapaxes(1, 2), gcols).reshape(wshape)
        if self.needs_input_grad[2]:
            gb = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
        return gx, gw, gb


# ---------------------------------------------------------------- argument checks
def same_pads(kernel, dilation):
    """torch's split of padding='same': d (k - 1) in total, the smaller half before (the extra one after)."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))


def _conv_args(name, nd, input, weight, bias, stride, padding, dilation, groups, transposed=False, pads=None):
    """Check conv arguments as torch does; returns (batched input, unbatched?, stride, pads, dilation), pads the
    (before, after) padding of each spatial dim (given as ``pads`` by a module that pads by its padding_mode)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{name}(): argument 'input' and 'weight' must be Tensor, not "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"{name}(): argument 'bias' must be Tensor, not {type(bias).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
                           f"of size: {list(input.shape)}")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: Expected {weight.ndim}-dimensional input for {weight.ndim}-dimensional weight "
                           f"{list(weight.shape)}, but got {x.ndim}-dimensional input of size {list(x.shape)} instead")
    stride = ntuple(name, "stride", stride, nd)
    dilation = ntuple(name, "dilation", dilation, nd)
    if pads is not None:
        pass
    elif isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"{name}: Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError(f"{name}: padding='same' is not supported for strided convolutions")
        pads = same_pads(weight.shape[2:], dilation) if padding == "same" else ((0, 0),) * nd
    else:
        pads = tuple((p, p) for p in ntuple(name, "padding", padding, nd))
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{name}: non-positive stride is not supported (stride={list(stride)})")
    if any(lo < 0 for lo, _ in pads):
        raise RuntimeError(f"{name}: negative padding is not supported (padding={padding})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{name}: dilation should be greater than zero, but got dilation={list(dilation)}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool):
        raise TypeError(f"{name}(): argument 'groups' must be int, not {type(groups).__name__}")
    if groups <= 0:
        raise RuntimeError(f"{name}: non-positive groups is not supported (groups={groups})")
    c = x.shape[1]
    ws = list(weight.shape)
    if transposed:
        if c != ws[0]:
            raise RuntimeError(f"{name}: Given transposed=1, weight of size {ws}, expected input{list(x.shape)} to "
                               f"have {ws[0]} channels, but got {c} channels instead")
        if ws[0] % groups:
            raise RuntimeError(f"{name}: Given groups={groups}, expected weight to be divisible by {groups} at "
                               f"dimension 0, but got weight of size [{ws}] instead")
        o = ws[1] * groups
    else:
        if ws[0] < groups:
            raise RuntimeError(f"{name}: Given groups={groups}, expected weight to be at least {groups} at "
                               f"dimension 0, but got weight of size {ws} instead")
        if ws[0] % groups:
            raise RuntimeError(f"{name}: Given groups={groups}, expected weight to be divisible by {groups} at "
                               f"dimension 0, but got weight of size [{ws}] instead")
        if c != ws[1] * groups:
            raise RuntimeError(f"{name}: Given groups={groups}, weight of size {ws}, expected input{list(x.shape)} to "
                               f"have {ws[1] * groups} channels, but got {c} channels instead")
        o = ws[0]
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != o):
        raise RuntimeError(f"{name}: Given weight of size {ws}, expected bias to be 1-dimensional with {o} elements, "
                           f"but got bias of size {list(bias.shape)} instead")
    if not transposed:
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
        span = tuple(d * (k - 1) + 1 for k, d in zip(weight.shape[2:], dilation))
        if any(p < s for p, s in zip(padded, span)):
            raise RuntimeError(f"{name}: Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                               f"Kernel size: ({' x '.join(map(str, span))}). Kernel size can't be greater than "
                               f"actual input size")
    for what, t in (("weight", weight), ("bias", bias)):
        if what == "bias" and transposed and x.dtype == np.float64:
            continue  # torch's float64 transposed convolution converts the bias to float64
        if t is not None and t.dtype != x.dtype:
            raise RuntimeError(f"{name}: Input type ({x.dtype}) and {what} type ({t.dtype}) should be the same")
    return x, unbatched, stride, pads, dilation


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups, mode="zeros", pads=None):
    """The convolution behind conv1d/conv2d and the Conv modules (which give ``pads`` and ``mode``)."""
    x, unbatched, stride, pads, dilation = _conv_args(name, nd, input, weight, bias, stride, padding, dilation, groups,
                                                      pads=pads)
    y = ConvNd.apply(x, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=groups, mode=mode)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of (N, C_in, L) or (C_in, L) with weight (C_out, C_in / groups, k) plus bias;
    ``padding`` is an int, a 1-tuple, 'valid' or 'same' (torch's split for an even span: extra one after)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of (N, C_in, H, W) or (C_in, H, W) with weight (C_out, C_in / groups, kH, kW)
    plus bias; ``padding`` is an int, a pair, 'valid' or 'same'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    x, unbatched, stride, pads, dilation = _conv_args(name, nd, input, weight, bias, stride, padding, dilation, groups,
                                                      transposed=True)
    output_padding = ntuple(name, "output_padding", output_padding, nd)
    if bias is not None and bias.dtype != x.dtype:
        bias = bias.to(x.dtype)
    for op, s, d in zip(output_padding, stride, dilation):
        if op < 0 or op >= max(s, d):
            raise RuntimeError(f"{name}: output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(output_padding)}, stride={list(stride)}, "
                               f"dilation={list(dilation)}")
    full = [(i - 1) * s + d * (k - 1) + 1 + op for i, s, d, k, op in
            zip(x.shape[2:], stride, dilation, weight.shape[2:], output_padding)]
    if any(f - lo - hi <= 0 for f, (lo, hi) in zip(full, pads)):
        raise RuntimeError(f"{name}: Given input size per channel: ({' x '.join(map(str, x.shape[2:]))}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(str(f - lo - hi) for f, (lo, hi) in zip(full, pads))}). Output size is "
                           f"too small")
    y = ConvTransposeNd.apply(x, weight, bias, stride=stride, pads=pads, dilation=dilation, groups=groups,
                              output_padding=output_padding)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution (the input-gradient of conv1d) of (N, C_in, L) or (C_in, L) with weight
    (C_in, C_out / groups, k): output length (L - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution of (N, C_in, H, W) or (C_in, H, W) with weight (C_in, C_out / groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# ---------------------------------------------------------------- modules
class _ConvNd(Module):
    """The constructor, initialisation and repr shared by the convolution modules."""

    _nd = 1
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None, output_padding=0):
        name = f"nn.{type(self).__name__}"
        check_device(name, device)
        super().__init__()
        nd = self._nd
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size = ntuple(name, "kernel_size", kernel_size, nd, ValueError)
        stride = ntuple(name, "stride", stride, nd, ValueError)
        dilation = ntuple(name, "dilation", dilation, nd, ValueError)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            pads = same_pads(kernel_size, dilation) if padding == "same" else ((0, 0),) * nd
        else:
            padding = ntuple(name, "padding", padding, nd, ValueError)
            pads = tuple((p, p) for p in padding)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {{'zeros', 'replicate', 'circular', 'reflect'}}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.transposed = self._transposed
        self.output_padding = ntuple(name, "output_padding", output_padding, nd, ValueError)
        self.padding_mode = padding_mode
        # torch's F.pad order: last spatial dim first, (before, after) each
        reversed_pads = [p for lo_hi in reversed(pads) for p in lo_hi]  # a list for a padding string, as torch
        self._reversed_padding_repeated_twice = reversed_pads if isinstance(padding, str) else tuple(reversed_pads)
        self._pads = pads
        shape = (in_channels, out_channels // groups) if self._transposed else (out_channels, in_channels // groups)
        self.weight = _empty(*shape, *kernel_size, dtype=dtype)
        if bias:
            self.bias = _empty(out_channels, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's initialisation: weight kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
        bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1] * prod(kernel_size)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * int(np.prod(self.kernel_size))
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        """The constructor arguments shown inside repr(), as torch prints them."""
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d/Conv2d: the convolution of the input with this layer's weight and bias."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype)

    def forward(self, input):
        """The convolution of ``input`` (batched or not) with this layer's weight and bias."""
        name, nd = f"conv{self._nd}d", self._nd
        if self.padding_mode == "zeros":
            return _conv(name, nd, input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        _check_mode_padding(name, input, self._pads, self.padding_mode, nd)
        return _conv(name, nd, input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups,
                     self.padding_mode, self._pads)


def _check_mode_padding(name, input, pads, mode, nd):
    """torch's F.pad errors for reflect (padding < size) and circular (no wrapping twice) padding."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input "
                           f"of size: {list(input.shape)}")
    for i, ((lo, hi), n) in enumerate(zip(pads, input.shape[-nd:])):
        dim = input.ndim - nd + i
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"{name}: Padding size should be less than the corresponding input dimension, but "
                               f"got: padding ({lo}, {hi}) at dimension {dim} of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError(f"{name}: Padding value causes wrapping around more than once (padding ({lo}, {hi}) "
                               f"at dimension {dim} of input {list(input.shape)})")
        if mode == "replicate" and n == 0 and (lo or hi):
            raise RuntimeError(f"{name}: Expected a non-empty dimension {dim} to pad with 'replicate', got input "
                               f"{list(input.shape)}")


class Conv1d(_Conv):
    """1-D convolution layer: weight (out_channels, in_channels / groups, k), bias (out_channels,); input
    (N, C_in, L) or (C_in, L).  ``padding_mode`` pads by 'zeros', 'reflect', 'replicate' or 'circular'."""

    _nd = 1


class Conv2d(_Conv):
    """2-D convolution layer: weight (out_channels, in_channels / groups, kH, kW), bias (out_channels,); input
    (N, C_in, H, W) or (C_in, H, W)."""

    _nd = 2


class _ConvTranspose(_ConvNd):
    """ConvTranspose1d/2d: the transposed convolution (zero padding only, as torch)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device, dtype, output_padding)

    def forward(self, input, output_size=None):
        """The transposed convolution of ``input``; ``output_size`` (the trailing sizes wanted) picks output_padding."""
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(input, output_size)
        fn = conv_transpose1d if self._nd == 1 else conv_transpose2d
        return fn(input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output's trailing sizes ``output_size`` (torch's rule)."""
        nd = self._nd
        output_size = list(output_size)[-nd:]
        out = []
        for i in range(nd):
            smallest = ((input.shape[input.ndim - nd + i] - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not smallest <= output_size[i] < smallest + max(self.stride[i], self.dilation[i]):
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {smallest} "
                                 f"to {smallest + max(self.stride[i], self.dilation[i]) - 1} (for an input of "
                                 f"{list(input.shape[-nd:])})")
            out.append(output_size[i] - smallest)
        return tuple(out)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution layer: weight (in_channels, out_channels / groups, k), bias (out_channels,)."""

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution layer: weight (in_channels, out_channels / groups, kH, kW), bias (out_channels,)."""

    _nd = 2
