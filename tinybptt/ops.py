"""The table of primitives: each op's forward and its vector-Jacobian product side by side.

``forward`` works on numpy arrays and saves on ``self`` what ``backward``
needs; ``backward`` gets the gradient of each output and returns one gradient
per positional input (``None`` where there is none).  Gradients may keep a
broadcast shape: ``autograd.unbroadcast`` sums them back, in one place.
"""
import numpy as np

from .autograd import Function

Tensor = None  # set by tensor.py
_default_float = [np.dtype(np.float32)]  # replaced by tensor.py's list (tinybptt.set_default_dtype)
_kernels = None


def kernels():
    """The numba kernel module, imported (and numba with it) on first use."""
    global _kernels
    if _kernels is None:
        from . import kernels as k
        _kernels = k
    return _kernels


def _broadcast_check(name, a, b):
    if a is None or b is None:
        return
    sa, sb = np.shape(a), np.shape(b)
    if sa == sb:
        return
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            raise RuntimeError(f"{name}: The size of tensor a ({sa[-i]}) must match the size of tensor b "
                               f"({sb[-i]}) at non-singleton dimension {max(len(sa), len(sb)) - i} "
                               f"(shapes {sa} and {sb})")


def _flat_kernel(f, *arrays):
    """Run an elementwise kernel over contiguous flat views; returns the output array."""
    shape = np.shape(arrays[0])  # ascontiguousarray makes a 0-d array 1-d
    arrays = [np.ascontiguousarray(a) for a in arrays]
    out = np.empty_like(arrays[0])
    f(*[a.reshape(-1) for a in arrays], out.reshape(-1))
    return out.reshape(shape)


def _float(a):
    return a if a.dtype.kind == "f" else a.astype(_default_float[0])


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        y = a / b
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            return y
        return y.astype(_default_float[0])  # int / int -> the default float dtype

    def backward(self, g):
        gb = g / self.b
        return gb, -gb * self.a / self.b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Pow(Function):
    def forward(self, a, b):
        if a.dtype.kind in "iu" and b.dtype.kind in "iu" and (np.asarray(b) < 0).any():
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
        self.a, self.b = a, b
        self.y = np.power(a, b)
        return self.y

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:  # b a^(b-1), taken as 0 where b == 0 (as PyTorch does)
                ga = np.where(b == 0, 0, g * b * np.power(a, b - 1)).astype(g.dtype, copy=False)
            if self.needs_input_grad[1]:  # a^b log a, taken as 0 where a == 0 (as PyTorch does)
                gb = g * np.where(a == 0, 0, self.y * np.log(a))
        return ga, gb


def _matmul(a, b):
    """np.matmul, but a stack of matrices times one matrix runs as one big GEMM (not one per matrix)."""
    if b.ndim == 2 and a.ndim > 2:
        return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[-1:])
    return np.matmul(a, b)


_C_TYPE = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
           "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}  # dtype names in PyTorch's messages


class MatMul(Function):
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
        if a.dtype != b.dtype:
            ta, tb = (_C_TYPE.get(x.dtype.name, x.dtype.name) for x in (a, b))
            raise RuntimeError(f"matmul: expected m1 and m2 to have the same dtype, but got: {ta} != {tb} "
                               f"(shapes {a.shape} and {b.shape})")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                               f"({ka} != {kb} in the contracted dimension)")
        self.a, self.b = a, b
        try:
            return _matmul(a, b)
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} cannot be broadcast "
                               f"(shapes {a.shape} and {b.shape})") from None

    def backward(self, g):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 or b.ndim == 1:  # put back the size-1 dims that matmul dropped
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
            g = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = _matmul(g, np.swapaxes(b2, -1, -2))
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if self.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:  # (.., n, k) @ (k, m): weight gradient as one big GEMM
                gb = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                gb = np.swapaxes(a2, -1, -2) @ g
            gb = gb[..., :, 0] if b.ndim == 1 else gb
        return ga, gb


class Cast(Function):
    def forward(self, a, dtype):
        self.dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.dtype) if self.dtype.kind == "f" else None


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


# ---------------------------------------------------------------- elementwise functions
class Exp(Function):
    def forward(self, a):
        self.y = np.exp(a)
        return self.y

    def backward(self, g):
        return g * self.y


class Log(Function):
    def forward(self, a):
        self.a = a
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, log(-1) = nan, quietly
            return np.log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.y = np.sqrt(a)
        return self.y

    def backward(self, g):
        return g / (2 * self.y)


class Sin(Function):
    def forward(self, a):
        self.a = a
        return np.sin(a)

    def backward(self, g):
        return g * np.cos(self.a)


class Cos(Function):
    def forward(self, a):
        self.a = a
        return np.cos(a)

    def backward(self, g):
        return -g * np.sin(self.a)


class _Unary(Function):
    """An elementwise op of the ``TRIG`` table: forward f(a), backward g * f'(a)."""
    f = df = None

    def forward(self, a):
        self.a = a
        return type(self).f(a)

    def backward(self, g):
        return g * type(self).df(self.a)


# name: (f, f'): the trigonometric and hyperbolic functions and their inverses (PyTorch's names)
TRIG = {
    "tan": (np.tan, lambda a: 1 + np.tan(a) ** 2),
    "asin": (np.arcsin, lambda a: 1 / np.sqrt(1 - a * a)),
    "acos": (np.arccos, lambda a: -1 / np.sqrt(1 - a * a)),
    "atan": (np.arctan, lambda a: 1 / (1 + a * a)),
    "sinh": (np.sinh, np.cosh),
    "cosh": (np.cosh, np.sinh),
    "asinh": (np.arcsinh, lambda a: 1 / np.sqrt(a * a + 1)),
    "acosh": (np.arccosh, lambda a: 1 / np.sqrt(a * a - 1)),
    "atanh": (np.arctanh, lambda a: 1 / (1 - a * a)),
}
TRIG_OPS = {name: type(name.capitalize(), (_Unary,), {"f": staticmethod(f), "df": staticmethod(df)})
            for name, (f, df) in TRIG.items()}


class Atan2(Function):
    """atan2(a, b), the angle of the point (b, a): d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.arctan2(a, b)

    def backward(self, g):
        recip = 1 / (self.a * self.a + self.b * self.b)
        recip = np.where(np.isposinf(recip), 0, recip)  # at the origin both are 0, as in PyTorch
        return g * self.b * recip, -g * self.a * recip


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)


class Tanh(Function):
    def forward(self, a):
        # float32: the kernel's vectorised rational tanh beats numpy's; float64: libm either way
        self.y = _flat_kernel(kernels().tanh_forward, a) if a.dtype == np.float32 else np.tanh(a)
        return self.y

    def backward(self, g):
        return _flat_kernel(kernels().tanh_backward, g, self.y)  # g * (1 - y^2)


class Sigmoid(Function):
    def forward(self, a):
        self.y = _flat_kernel(kernels().sigmoid_forward, a)  # stable for |a| of any size
        return self.y

    def backward(self, g):
        return _flat_kernel(kernels().sigmoid_backward, g, self.y)  # g * y * (1 - y)


class Erf(Function):
    """The error function erf(a) = 2/sqrt(pi) * integral_0^a exp(-t^2) dt (for exact GELU)."""

    def forward(self, a):
        self.a = a
        return _flat_kernel(kernels().erf_forward, a)

    def backward(self, g):
        return g * (2 / np.sqrt(np.pi)) * np.exp(-self.a * self.a)


class Expm1(Function):
    """exp(a) - 1, accurate for small |a| (np.expm1); its gradient is exp(a) = result + 1."""

    def forward(self, a):
        self.y = np.expm1(a)
        return self.y

    def backward(self, g):
        return g * (self.y + 1)


class LogBase(Function):
    """Logarithm to ``base`` 2 or 10 (np.log2 / np.log10: exact at powers of the base); gradient 1 / (a ln base)."""

    def forward(self, a, base):
        self.a, self.ln_base = a, a.dtype.type(np.log(base))
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, log(-1) = nan, quietly
            return np.log2(a) if base == 2 else np.log10(a)

    def backward(self, g):
        return g / (self.a * self.ln_base)


class Softplus(Function):
    """log(1 + exp(a)), stable: max(a, 0) + log1p(exp(-|a|)); its derivative is sigmoid(a) (smooth at 0)."""

    def forward(self, a):
        self.a = a
        return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))

    def backward(self, g):
        return g * _flat_kernel(kernels().sigmoid_forward, self.a)


class Relu(Function):
    def forward(self, a):
        self.mask = a > 0
        return a * self.mask

    def backward(self, g):
        return g * self.mask


class Clamp(Function):
    """min(max(a, lo), hi); lo and hi are scalars, arrays or tensors (broadcast), either may be None.

    As PyTorch: ``a`` gets the gradient where lo <= a <= hi, ``lo`` where a < lo < hi,
    ``hi`` where a > hi or hi < lo (the result is hi wherever lo > hi).
    """

    def forward(self, a, lo=None, hi=None):
        _broadcast_check("clamp", a, lo)
        _broadcast_check("clamp", a, hi)
        y, inside = a, True
        if lo is not None:
            y, inside = np.maximum(y, lo), a >= lo
        if hi is not None:
            y, inside = np.minimum(y, hi), inside & (a <= hi)
        self.inside, self.lo_wins, self.hi_wins = inside, None, None
        if lo is not None and np.ndim(lo):
            self.lo_wins = (a < lo) & (lo < hi) if hi is not None else a < lo
        if hi is not None and np.ndim(hi):
            self.hi_wins = (a > hi) | (hi < lo) if lo is not None else a > hi
        return np.asarray(y, a.dtype)

    def backward(self, g):
        zero = np.zeros((), g.dtype)
        glo = None if self.lo_wins is None else np.where(self.lo_wins, g, zero)
        ghi = None if self.hi_wins is None else np.where(self.hi_wins, g, zero)
        return np.where(self.inside, g, zero), glo, ghi


class Piecewise(Function):
    """A piecewise-constant function (sign, floor, ceil, round, trunc): its gradient is zero."""

    def forward(self, a, f):
        return f(a)

    def backward(self, g):
        return np.zeros_like(g)


class Where(Function):
    """Elementwise choice between two arrays by a bool condition (``tinybptt.where``, ``masked_fill``)."""

    def forward(self, cond, a, b):
        """Elements of ``a`` where ``cond`` is True, else of ``b`` (all three broadcast)."""
        _broadcast_check("where", cond, a)
        _broadcast_check("where", a, b)
        _broadcast_check("where", cond, b)
        self.cond = np.asarray(cond, bool)
        return np.where(self.cond, a, b)

    def backward(self, g):
        """The gradient goes to ``a`` where ``cond`` holds and to ``b`` elsewhere; none to ``cond``."""
        zero = np.zeros((), g.dtype)
        return None, np.where(self.cond, g, zero), np.where(self.cond, zero, g)


class Softmax(Function):
    log = False

    def forward(self, a, dim):
        _axes(dim, a.ndim)
        self.dim = dim
        x = np.moveaxis(a, dim, -1)
        x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1]) if x.size else x.reshape(0, 0)
        y = np.empty_like(x2)
        if x2.size:
            kernels().softmax_forward(_float(x2), y, self.log, False)
        self.y = y.reshape(x.shape)
        return np.moveaxis(self.y, -1, dim)

    def backward(self, g):
        g2 = np.ascontiguousarray(np.moveaxis(g, self.dim, -1))
        shape = g2.shape
        out = np.empty_like(g2)
        if g2.size:
            kernels().softmax_backward(g2.reshape(-1, shape[-1]), self.y.reshape(-1, shape[-1]),
                                       out.reshape(-1, shape[-1]), self.log)
        return np.moveaxis(out, -1, self.dim)


class LogSoftmax(Softmax):
    log = True


# ---------------------------------------------------------------- reductions
def _axes(dim, ndim):
    """Reduced axes as a tuple of non-negative ints; None (all axes) for dim=None or an empty tuple, as PyTorch."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dimensions: Dimension out of "
                             f"range (expected to be in range of [{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})")
    normal = [d % max(ndim, 1) for d in dims]
    for d in normal:
        if normal.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return tuple(d % max(ndim, 1) for d in dims) if ndim else None


def _dim(name, dim, ndim):
    """One dim as a non-negative int (0 for a 0-d tensor), out-of-range errors naming the op."""
    try:
        axes = _axes(int(dim), ndim)
    except IndexError as e:
        raise IndexError(f"{name}: {e}") from None
    return axes[0] if axes else 0


def _expand_back(g, shape, kept_shape):
    """The gradient of a reduction: ``g`` with the reduced axes put back (``kept_shape``), repeated to ``shape``."""
    out = np.empty(shape, g.dtype)
    out[...] = g.reshape(kept_shape)
    return out


class Sum(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, axes = a.shape, _axes(dim, a.ndim)
        y = a.sum(axis=axes, keepdims=True)
        self.kept_shape = y.shape
        return y if keepdim else y.squeeze(axes)

    def backward(self, g):
        return _expand_back(g, self.shape, self.kept_shape)


class Norm2(Function):
    """Euclidean norm sqrt(sum a^2) over ``dim``; its gradient a / norm is taken as 0 where the norm is 0."""

    def forward(self, a, dim=None, keepdim=False):
        axes = _axes(dim, a.ndim)
        self.a = a
        self.n = np.sqrt((a * a).sum(axis=axes, keepdims=True))
        return self.n if keepdim else self.n.squeeze(axes)

    def backward(self, g):
        zero = self.n == 0
        return g.reshape(self.n.shape) * np.where(zero, 0, self.a) / np.where(zero, 1, self.n)


class NormP(Function):
    """The p-norm (sum |a|^p)^(1/p) over ``dim`` for p > 0 other than 2 and inf; its gradient
    sign(a) |a|^(p-1) / norm^(p-1) is taken as 0 where the norm is 0 (as PyTorch)."""

    def forward(self, a, p, dim=None, keepdim=False):
        axes = _axes(dim, a.ndim)
        self.a, self.p = a, a.dtype.type(p)
        self.n = (np.abs(a) ** self.p).sum(axis=axes, keepdims=True) ** (1 / self.p)
        return self.n if keepdim else self.n.squeeze(axes)

    def backward(self, g):
        zero = self.n == 0
        scale = np.where(zero, 0, g.reshape(self.n.shape) / np.where(zero, 1, self.n) ** (self.p - 1))
        with np.errstate(divide="ignore"):  # 0^(p-1) for p < 1: those elements get 0, as in PyTorch
            return np.where(self.a == 0, 0, np.sign(self.a) * np.abs(self.a) ** (self.p - 1) * scale)


class LogSumExp(Function):
    """log(sum(exp(a))) over ``dim``, computed stably; its gradient is softmax(a) along ``dim``."""

    def forward(self, a, dim, keepdim=False):
        axes = _axes(dim, a.ndim)
        a = _float(a)
        m = np.max(a, axis=axes, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or an inf) in a slice: no shift
        with np.errstate(divide="ignore", invalid="ignore"):
            self.y = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
        self.a, self.axes = a, axes
        return self.y if keepdim else self.y.squeeze(axes)

    def backward(self, g):
        with np.errstate(invalid="ignore"):
            return g.reshape(self.y.shape) * np.exp(self.a - self.y)


class Prod(Function):
    """Product over one dim (or all elements); the gradient is the product of the other elements,
    computed with exclusive running products so that zeros need no division."""

    def forward(self, a, dim=None, keepdim=False):
        self.shape, self.dim, self.keepdim = a.shape, dim, keepdim
        if dim is None:
            self.a = a.reshape(-1)
            return np.asarray(np.prod(a))
        self.dim = _axes(dim, a.ndim)[0] if a.ndim else None
        self.a = a if a.ndim else a.reshape(1)
        return np.prod(a, axis=self.dim, keepdims=keepdim) if a.ndim else np.asarray(np.prod(a))

    def backward(self, g):
        ax = 0 if self.dim is None else self.dim
        x = np.moveaxis(self.a, ax, -1)
        ones, n = np.ones(x.shape[:-1] + (1,), x.dtype), x.shape[-1]
        left = np.cumprod(np.concatenate([ones, x[..., :-1]], -1), -1)[..., :n]              # prod of x[..., :i]
        right = np.cumprod(np.concatenate([ones, x[..., :0:-1]], -1), -1)[..., ::-1][..., :n]  # of x[..., i+1:]
        others = np.moveaxis(left * right, -1, ax)
        if self.dim is None:
            return (g * others).reshape(self.shape)
        g = g if self.keepdim or not len(self.shape) else np.expand_dims(g, self.dim)
        return (g * others).reshape(self.shape)


class Mean(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, axes = a.shape, _axes(dim, a.ndim)
        y = _float(a).sum(axis=axes, keepdims=True)
        n = a.size // max(y.size, 1)
        y /= n  # (np.mean would warn "Mean of empty slice" where PyTorch quietly gives nan)
        self.kept_shape, self.n = y.shape, max(n, 1)
        return y if keepdim else y.squeeze(axes)

    def backward(self, g):
        return _expand_back(g / g.dtype.type(self.n), self.shape, self.kept_shape)


class Extremum(Function):
    """Elementwise maximum/minimum of two tensors; a tie splits the gradient in half (as PyTorch)."""

    def forward(self, a, b, largest):
        self.wins = (a > b) if largest else (a < b)
        self.ties = a == b
        return np.maximum(a, b) if largest else np.minimum(a, b)

    def backward(self, g):
        share = (self.wins + 0.5 * self.ties).astype(g.dtype)
        return g * share, g * (1 - share)


class MinMax(Function):
    """max/min over dims.  A full reduction and amax/amin share the gradient evenly among
    ties; max/min(dim) send it to the one index they return (both as PyTorch does)."""

    def forward(self, a, reduce, dim=None, keepdim=False, indices=False):
        if a.size == 0:
            name = "max" if reduce is np.max else "min"
            if dim is None:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                                   f"Specify the reduction dim with the 'dim' argument. (shape {a.shape})")
            for d in _axes(dim, a.ndim) or range(a.ndim):
                if a.shape[d] == 0:
                    raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size. (shape {a.shape})")
        self.a, self.axes, self.keepdim = a, _axes(dim, a.ndim), keepdim
        self.arg = None
        if indices and a.ndim:
            self.arg = (np.argmax if reduce is np.max else np.argmin)(a, axis=self.axes[0])
        self.y = np.asarray(reduce(a, axis=self.axes, keepdims=True))
        return self.y if keepdim else np.squeeze(self.y, self.axes)

    def backward(self, g):
        g = g if self.keepdim or self.axes is None else np.expand_dims(g, self.axes)
        if self.arg is not None:  # one winner per slice: the index that argmax/argmin returns
            out = np.zeros(self.a.shape, g.dtype)
            ax = self.axes[0]
            np.put_along_axis(out, np.expand_dims(self.arg, ax), g, ax)
            return out
        ties = self.a == self.y
        return ties * (g / ties.sum(axis=self.axes, keepdims=True))


# ---------------------------------------------------------------- shape
class Reshape(Function):
    is_view = True
    def forward(self, a, shape):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise RuntimeError(f"reshape: shape {tuple(shape)} is invalid for input of shape {a.shape} "
                               f"({a.size} elements): shape '{list(shape)}' is invalid for input of size "
                               f"{a.size}") from None

    def backward(self, g):
        return g.reshape(self.shape)


class Permute(Function):
    is_view = True
    def forward(self, a, dims):
        if len(dims) != a.ndim:
            raise RuntimeError(f"permute: dims {dims} are not a permutation of the {a.ndim} dims of shape {a.shape}: "
                               f"number of dimensions in the tensor input does not match the length of the desired "
                               f"ordering of dimensions i.e. input.dim() = {a.ndim} is not equal to len(dims) = "
                               f"{len(dims)}")
        for d in dims:
            _axes(d, a.ndim)  # each in range
        if sorted(d % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
            raise RuntimeError(f"permute: dims {dims} are not a permutation of the {a.ndim} dims of shape {a.shape}: "
                               f"permute(): duplicate dims are not allowed.")
        self.dims = dims
        return np.transpose(a, dims)

    def backward(self, g):
        return np.transpose(g, np.argsort([d % g.ndim for d in self.dims]))


class Expand(Function):
    is_view = True
    def forward(self, a, shape, name="expand"):
        if len(shape) < a.ndim:
            raise RuntimeError(f"{name}: cannot expand shape {a.shape} to {shape}: the number of sizes provided "
                               f"({len(shape)}) must be greater or equal to the number of dimensions in the tensor "
                               f"({a.ndim})")
        lead = len(shape) - a.ndim
        for i, n in enumerate(a.shape):
            if n != 1 and n != shape[lead + i]:
                raise RuntimeError(f"{name}: cannot expand shape {a.shape} to {shape}: The expanded size of the tensor"
                                   f" ({shape[lead + i]}) must match the existing size ({n}) at non-singleton "
                                   f"dimension {lead + i}.  Target sizes: {list(shape)}.  Tensor sizes: "
                                   f"{list(a.shape)}")
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise RuntimeError(f"{name}: cannot expand shape {a.shape} to {shape}") from None

    def backward(self, g):
        return g  # summed back to the input's shape by the walk


class Tile(Function):
    def forward(self, a, reps):
        self.shape, self.reps = a.shape, reps
        return np.tile(a, reps)

    def backward(self, g):
        split = [x for r, n in zip(self.reps, self.shape) for x in (r, n)]
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))


def _basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


class Gather(Function):
    """out[i][j][k] = a[i][index[i][j][k]][k] along ``dim`` (index may be smaller than ``a`` in the
    other dims, as in PyTorch); the gradient scatter-adds back."""

    def forward(self, a, index, dim):
        if index.ndim != a.ndim and index.ndim + a.ndim > 1:
            raise RuntimeError(f"gather: Index tensor must have the same number of dimensions as input tensor "
                               f"(shapes {index.shape} and {a.shape})")
        self.shape, out_shape = a.shape, index.shape
        a, index = a.reshape(a.shape or (1,)), index.reshape(index.shape or (1,))  # 0-d works as 1-d
        d = _axes(dim, a.ndim)[0]
        for i in range(a.ndim):
            if i != d and index.shape[i] > a.shape[i]:
                raise RuntimeError(f"gather: Size does not match at dimension {i} expected index {list(index.shape)}"
                                   f" to be no larger than self {list(a.shape)} apart from dimension {d}")
        if index.size and (index.min() < 0 or index.max() >= a.shape[d]):
            bad = index.max() if index.max() >= a.shape[d] else index.min()
            raise RuntimeError(f"gather: index {bad} is out of bounds for dimension {d} with size {a.shape[d]}")
        grid = list(np.indices(index.shape, sparse=True))
        grid[d] = index
        self.grid, self.index_shape, self.flat_shape = tuple(grid), index.shape, a.shape
        return a[self.grid].reshape(out_shape)

    def backward(self, g):
        out = np.zeros(self.flat_shape, g.dtype)
        np.add.at(out, self.grid, g.reshape(self.index_shape))  # repeated indices accumulate
        return out.reshape(self.shape), None


class CumSum(Function):
    def forward(self, a, dim):
        axes = _axes(dim, a.ndim)
        if a.ndim == 0:
            self.dim = None
            return a.copy()
        self.dim = axes[0]
        return np.cumsum(a, axis=self.dim)

    def backward(self, g):
        if self.dim is None:
            return g
        # each input element feeds every later output: reverse cumulative sum of g
        return np.flip(np.cumsum(np.flip(g, self.dim), axis=self.dim), self.dim)


class CumProd(Function):
    """Running products along ``dim``.  The gradient needs no division (zeros in the input are fine):
    d/dx_k = (prod of x before k) * s_k with s_k = g_k + x_{k+1} s_{k+1}, run backwards along ``dim``."""

    def forward(self, a, dim):
        axes = _axes(dim, a.ndim)
        self.dim = axes[0] if a.ndim else None
        self.a = a
        return a.copy() if a.ndim == 0 else np.cumprod(a, axis=self.dim)

    def backward(self, g):
        if self.dim is None:
            return g
        x, g = np.moveaxis(self.a, self.dim, 0), np.moveaxis(g, self.dim, 0)
        before = np.cumprod(np.concatenate([np.ones_like(x[:1]), x[:-1]]), axis=0)  # exclusive products
        s = np.empty(g.shape, np.result_type(g, x))
        if len(g):
            s[-1] = g[-1]
        for k in range(len(g) - 2, -1, -1):
            s[k] = g[k] + x[k + 1] * s[k + 1]
        return np.moveaxis(before * s, 0, self.dim)


class Roll(Function):
    """Elements shifted cyclically by ``shifts`` along ``dims`` (the flattened array when dims is None);
    the gradient is rolled back by the opposite shifts."""

    def forward(self, a, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return np.roll(a, shifts, dims)

    def backward(self, g):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return np.roll(g, back, self.dims)


def _scatter_check(name, a, dim, index, src):
    """torch's checks on scatter/scatter_add arguments; returns dim as a non-negative int."""
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.ndim != a.ndim:
        raise RuntimeError(f"{name}: Index tensor must have the same number of dimensions as self tensor "
                           f"(shapes {index.shape} and {a.shape})")
    d = _dim(name, dim, a.ndim)
    src_shape = np.shape(src) if np.ndim(src) else None
    for i in range(a.ndim):
        if (i != d and index.shape[i] > a.shape[i]) or (src_shape is not None and index.shape[i] > src_shape[i]):
            raise RuntimeError(f"{name}: Expected index {list(index.shape)} to be no larger than self "
                               f"{list(a.shape)} apart from dimension {d}"
                               + (f" and to be no larger size than src {list(src_shape)}" if src_shape else ""))
    n = a.shape[d] if a.ndim else 1
    bad = index[(index < 0) | (index >= n)]
    if bad.size:  # the first one in row-major order, as torch reports it
        raise RuntimeError(f"{name}: index {bad[0]} is out of bounds for dimension {d} with size {n}")
    return d


def _scatter_grid(index, d):
    """Index arrays addressing, for every element of ``index``, its target position along dim ``d``."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[d] = index
    return tuple(grid)


class Scatter(Function):
    """out = a with out[..index[i][j]..] = src[i][j] along ``dim`` (``src`` an array or a number; a, index
    and src at least 1-D).  The gradient of ``a`` is g with the written positions zeroed, of ``src`` g
    gathered at ``index`` (zero where index does not reach)."""

    add = False

    def forward(self, a, index, src, dim):
        name = "scatter_add" if self.add else "scatter"
        d = _scatter_check(name, a, dim, index, src)
        self.grid, self.part = _scatter_grid(index, d), tuple(slice(0, n) for n in index.shape)
        self.src_shape = np.shape(src)
        out = a.copy()
        if self.add:
            np.add.at(out, self.grid, src[self.part])
        else:
            out[self.grid] = src[self.part] if np.ndim(src) else src
        return out

    def backward(self, g):
        ga = g
        if not self.add:
            ga = g.copy()
            ga[self.grid] = 0
        gs = None
        if self.needs_input_grad[2]:
            gs = np.zeros(self.src_shape, g.dtype)
            gs[self.part] = g[self.grid]
        return ga, None, gs


class ScatterAdd(Scatter):
    """out = a with src[i][j] added at out[..index[i][j]..] along ``dim`` (repeated indices accumulate).
    The gradient of ``a`` is g, of ``src`` g gathered at ``index``."""

    add = True


class IndexAdd(Function):
    """out = a with alpha * source[.., i, ..] added at a[.., index[i], ..] along ``dim`` (repeated indices
    accumulate).  The gradient of ``a`` is g, of ``source`` alpha * g at the indexed positions."""

    def forward(self, a, index, source, dim, alpha=1):
        self.d, self.index, self.alpha = dim, index, alpha
        out = a.copy()
        view = np.moveaxis(out.reshape(a.shape or (1,)), dim, 0)
        np.add.at(view, index, np.moveaxis(source.reshape(source.shape or (1,)), dim, 0) * alpha)
        return out

    def backward(self, g):
        gs = None
        if self.needs_input_grad[2]:
            gs = np.take(g.reshape(g.shape or (1,)), self.index, axis=self.d) * self.alpha
            gs = gs.reshape(gs.shape if g.ndim else ())
        return g, None, gs


class Einsum(Function):
    """np.einsum of an explicit equation ('ij,jk->ik'; '...' already replaced by letters).  The gradient of each
    operand is the einsum of the output gradient with the other operands, put back on a repeated index's diagonal,
    broadcast along an index summed away in that operand alone, and summed over size-1 broadcasts."""

    def forward(self, *arrays, inputs, output):
        self.arrays, self.inputs, self.output = arrays, inputs, output
        return np.asarray(np.einsum(",".join(inputs) + "->" + output, *arrays))

    def backward(self, g):
        sizes = {}
        for sub, a in zip(self.inputs, self.arrays):
            for c, n in zip(sub, a.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = []
        for k, (sub, a) in enumerate(zip(self.inputs, self.arrays)):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(s, x) for i, (s, x) in enumerate(zip(self.inputs, self.arrays)) if i != k]
            seen = set(self.output).union(*(s for s, _ in others))
            unique = "".join(dict.fromkeys(sub))
            reached = "".join(c for c in unique if c in seen)
            gk = np.einsum(",".join([self.output] + [s for s, _ in others]) + "->" + reached,
                           g, *[x for _, x in others])
            gk = np.broadcast_to(np.expand_dims(gk, tuple(i for i, c in enumerate(unique) if c not in seen)),
                                 tuple(sizes[c] for c in unique))
            out = np.zeros(tuple(sizes[c] for c in sub), g.dtype)
            diag = np.lib.stride_tricks.as_strided(  # the view of out where repeated indices agree
                out, gk.shape, tuple(sum(out.strides[i] for i, s in enumerate(sub) if s == c) for c in unique))
            diag[...] = gk
            axes = tuple(i for i, n in enumerate(a.shape) if n == 1 and out.shape[i] != 1)
            grads.append(out.sum(axis=axes, keepdims=True) if axes else out)
        return tuple(grads)


class GetItem(Function):
    is_view = True
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    def backward(self, g):
        out = np.zeros(self.shape, g.dtype)
        if _basic_index(self.index):
            out[self.index] = g
        else:  # repeated integer indices must add up: scatter-add
            np.add.at(out, self.index, g)
        return out


class SetItem(Function):
    """A copy of ``a`` with ``a[index] = value``: how an assignment, ``copy_`` or ``fill_`` into a tensor
    of a graph is recorded.  The overwritten elements get no gradient; ``value`` gets theirs.
    ``inplace``: write into ``a`` itself (when nothing else holds it, see ``Tensor._assign``)."""

    def forward(self, a, value, index, inplace=False):
        self.index = index
        out = a if inplace else a.copy()
        out[index] = value
        return out

    def backward(self, g):
        ga = g.copy()
        ga[self.index] = 0
        return ga, np.asarray(g[self.index])


class Cat(Function):
    def forward(self, *arrays, dim=0):
        first = arrays[0]
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be concatenated")
        d = _axes(dim, first.ndim)[0]
        for i, a in enumerate(arrays):
            if a.ndim != first.ndim or a.shape[:d] + a.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
                raise RuntimeError(f"cat: sizes of tensors must match except in dimension {dim}: "
                                   f"tensor 0 has shape {first.shape}, tensor {i} has shape {a.shape}")
        self.dim, self.bounds = d, np.cumsum([a.shape[d] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=d)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.dim))


class Stack(Function):
    def forward(self, *arrays, dim=0):
        for i, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise RuntimeError(f"stack: expects each tensor to be equal size, but got {arrays[0].shape} "
                                   f"at entry 0 and {a.shape} at entry {i}")
        self.dim = _axes(dim, arrays[0].ndim + 1)[0]
        return np.stack(arrays, axis=self.dim)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.dim, 0))


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension; an empty list raises ValueError, as torch 2.13's cat."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    return Cat.apply(*_same_dtype(tensors), dim=dim)


def stack(tensors, dim=0):
    """Join tensors of equal shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    return Stack.apply(*_same_dtype(tensors), dim=dim)


def _same_dtype(tensors):
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    dtypes = [t.dtype for t in tensors]
    floats = [d for d in dtypes if d.kind == "f"]
    dtype = np.result_type(*(floats or dtypes))  # as PyTorch: any float beats every int (int64 + float32 -> float32)
    return [t if t.dtype == dtype else t.to(dtype) for t in tensors]


def split(t, split_size, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    d = _dim("split", dim, t.ndim)
    n = t.shape[d]
    if isinstance(split_size, (int, np.integer)):
        if split_size < 0 or (split_size == 0 and n):
            raise RuntimeError(f"split: split_size can only be 0 if dimension size is 0, but got dimension size of "
                               f"{n}" if split_size == 0 else f"split: split expects split_size be non-negative, "
                               f"but got split_size={split_size}")
        sizes = [min(split_size, n - i) for i in range(0, n, split_size)] if split_size else [0]
    else:
        sizes = list(split_size)
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise RuntimeError(f"split: sizes {sizes} do not add up to {n}, the size of dimension {dim}: "
                               f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    lead = (slice(None),) * d
    starts = np.cumsum([0] + sizes[:-1])
    return tuple(t[lead + (slice(s, s + k),)] for s, k in zip(starts, sizes))


def chunk(t, chunks, dim=0):
    """Split into ``chunks`` pieces; all but the last have ceil(n / chunks) elements."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = t.shape[_dim("chunk", dim, t.ndim)]
    return split(t, max(1, -(-n // chunks)), dim)


# ---------------------------------------------------------------- layers' primitives
class Embedding(Function):
    def forward(self, weight, idx, padding_idx=None, scale_grad_by_freq=False):
        if idx.dtype.kind not in "iu":
            raise RuntimeError(f"embedding: indices must be an integer tensor, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
            raise IndexError(f"embedding: index out of range: indices span [{idx.min()}, {idx.max()}] "
                             f"but the table has {weight.shape[0]} rows")
        self.idx, self.shape, self.padding_idx, self.by_freq = idx, weight.shape, padding_idx, scale_grad_by_freq
        return weight[idx]

    def backward(self, g):
        out = np.zeros(self.shape, g.dtype)
        # scatter-add rows in index order: the sums of np.add.at, without its per-element overhead
        kernels().scatter_add_rows(out, np.ascontiguousarray(self.idx.reshape(-1)),
                                   np.ascontiguousarray(g.reshape(-1, self.shape[1])))
        if self.by_freq:  # each row's gradient divided by how often its index occurs in the batch
            counts = np.bincount(self.idx.reshape(-1), minlength=self.shape[0])
            out /= np.maximum(counts, 1).astype(out.dtype)[:, None]
        if self.padding_idx is not None:
            out[self.padding_idx] = 0
        return out, None


class Dropout(Function):
    def forward(self, a, mask):
        self.mask = mask
        return a * mask

    def backward(self, g):
        return g * self.mask, None


class MSELoss(Function):
    """Squared error (d = a - b) summed, averaged or elementwise: one record, one pass backward."""

    def forward(self, a, b, reduction):
        self.d, self.reduction = a - b, reduction
        sq = self.d * self.d
        return sq if reduction == "none" else np.asarray(sq.sum() if reduction == "sum" else sq.mean(), sq.dtype)

    def backward(self, g):
        # d/da sum(d^2) = 2 d; the mean divides by the element count
        if self.reduction == "none":
            ga = 2 * self.d * g
        else:
            scale = 2 * g / self.d.size if self.reduction == "mean" else 2 * g
            ga = self.d * self.d.dtype.type(scale)
        return ga, (-ga if self.needs_input_grad[1] else None)


class BinaryCrossEntropy(Function):
    """Elementwise -(y log p + (1 - y) log(1 - p)) on probabilities p, each log clamped at -100 as PyTorch."""

    def forward(self, p, y):
        self.p, self.y = p, y
        return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))

    def backward(self, g):
        # PyTorch's rule: dL/dp = (p - y) / max(p (1 - p), 1e-12), finite at p = 0 and 1 (where the clamped
        # loss is flat); dL/dy = -logit(p) = -log(p / (1 - p)), unclamped
        p, y = self.p, self.y
        gp = g * (p - y) / np.maximum((1 - p) * p, p.dtype.type(np.float32(1e-12)))  # PyTorch's eps is a float
        gy = -g * np.log(p / (1 - p)) if self.needs_input_grad[1] else None
        return gp, gy


class CrossEntropy(Function):
    """Softmax + negative log-likelihood in one fused kernel (stable for huge logits)."""

    def forward(self, logits, target, weight, ignore_index, smoothing, reduction):
        n, c = logits.shape
        self.target, self.weight = np.ascontiguousarray(target, np.int64), weight
        self.ignore_index, self.smoothing, self.reduction = ignore_index, smoothing, reduction
        logits = np.ascontiguousarray(logits)
        self.logp = np.empty_like(logits)
        losses = np.empty(n, logits.dtype)
        kernels().cross_entropy_forward(logits, self.target, weight, ignore_index, smoothing, self.logp, losses)
        valid = self.target != ignore_index
        if reduction == "none":
            return losses
        if reduction == "sum":
            return np.asarray(losses.sum(), logits.dtype)
        self.denom = weight[self.target[valid]].sum(dtype=logits.dtype)
        self.any_valid = bool(valid.any())
        if not self.denom:  # every target ignored or of weight 0: nan (PyTorch's 0/0), also with smoothing
            return np.asarray(np.nan, logits.dtype)
        return np.asarray(losses.sum() / self.denom, logits.dtype)

    def backward(self, g):
        n = self.logp.shape[0]
        if self.reduction == "none":
            g = np.ascontiguousarray(g, self.logp.dtype)
        else:
            # a zero total weight: nan gradients for the rows of non-ignored targets, zeros for the
            # ignored rows (every target ignored: all zero), as PyTorch's
            scale = g if self.reduction != "mean" else g / self.denom if self.denom else np.nan if self.any_valid else 0
            g = np.full(n, scale, self.logp.dtype)
        out = np.empty_like(self.logp)
        kernels().cross_entropy_backward(g, self.logp, self.target, self.weight, self.ignore_index,
                                         self.smoothing, out)
        return out, None


# ---------------------------------------------------------------- special functions, more elementwise ops
def _sinc_grad(a):
    """d/da sin(pi a) / (pi a) = (pi a cos(pi a) - sin(pi a)) / (pi a^2), 0 at a = 0 (as PyTorch)."""
    pa = np.pi * a
    return np.where(a == 0, 0, (pa * np.cos(pa) - np.sin(pa)) / (pa * a)).astype(a.dtype, copy=False)


def _special():
    from . import _special_functions
    return _special_functions


# name: (f, f'), run as ``_Unary`` ops like TRIG (PyTorch's names)
SPECIAL = {
    "erfc": (lambda a: _special().erfc(a), lambda a: -2 / np.sqrt(np.pi) * np.exp(-a * a)),
    "erfinv": (lambda a: _special().erfinv(a), lambda a: np.sqrt(np.pi) / 2 * np.exp(_special().erfinv(a) ** 2)),
    "lgamma": (lambda a: _special().lgamma(a), lambda a: _special().digamma(a)),
    "digamma": (lambda a: _special().digamma(a), lambda a: _special().trigamma(a)),
    "sinc": (np.sinc, _sinc_grad),
}
SPECIAL_OPS = {name: type(name.capitalize(), (_Unary,), {"f": staticmethod(f), "df": staticmethod(df)})
               for name, (f, df) in SPECIAL.items()}


class Xlogy(Function):
    """a * log(b), 0 where a == 0 (unless b is NaN).  As PyTorch: d/da = log(b) (0 where a == 0 and
    b <= 0), d/db = a / b."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.where((a == 0) & ~np.isnan(b), 0, a * np.log(b)).astype(np.result_type(a, b), copy=False)

    def backward(self, g):
        a, b = self.a, self.b
        ga = None
        if self.needs_input_grad[0]:
            glogb = np.where((g == 0) & ~np.isnan(b), 0, g * np.log(b))  # xlogy(g, b)
            ga = np.where((a == 0) & (b <= 0), 0, glogb).astype(g.dtype, copy=False)
        return ga, g * a / b


class Logit(Function):
    """log(z / (1 - z)) with z = a clamped to [eps, 1 - eps] when ``eps`` is given; the gradient
    1 / (z (1 - z)) is 0 outside the clamp (NaN outside [0, 1] without eps), as PyTorch's."""

    def forward(self, a, eps=None):
        self.a, self.eps = a, eps
        z = a if eps is None else np.clip(a, a.dtype.type(eps), a.dtype.type(1 - eps))
        return np.log(z / (1 - z))

    def backward(self, g):
        a = self.a
        lo, hi = (0, 1) if self.eps is None else (self.eps, 1 - self.eps)
        fill = np.nan if self.eps is None else 0
        return np.where((a < lo) | (a > hi), fill, g / (a * (1 - a))).astype(g.dtype, copy=False)


class LogAddExp(Function):
    """log(exp(a) + exp(b)) (``base`` 2: log2(2^a + 2^b)) as max + log1p(exp(-|a - b|)); equal infinities
    give themselves.  d/da = 1 / (1 + base^(b - a))."""

    def forward(self, a, b, base=np.e):
        self.a, self.b, self.base = a, b, base
        m, d = np.maximum(a, b), -np.abs(a - b)
        y = m + (np.log1p(np.exp(d)) if base == np.e else np.log1p(np.exp2(d)) / np.log(2).astype(a.dtype))
        return np.where(np.isinf(a) & (a == b), a, y)

    def backward(self, g):
        power = np.exp if self.base == np.e else np.exp2
        return g / (1 + power(self.b - self.a)), g / (1 + power(self.a - self.b))


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow (np.hypot); d/da = a / result, d/db = b / result."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = np.hypot(a, b)
        return self.y

    def backward(self, g):
        return g * self.a / self.y, g * self.b / self.y


class FMaxMin(Function):
    """Elementwise fmax/fmin: the larger (smaller) of a and b, the other where one is NaN.  As PyTorch the
    gradient goes to ``a`` where a >= b (a <= b) or b is NaN, to ``b`` elsewhere (ties: all to a)."""

    def forward(self, a, b, largest):
        with np.errstate(invalid="ignore"):
            self.to_a = ((a >= b) if largest else (a <= b)) | np.isnan(b)
        return np.fmax(a, b) if largest else np.fmin(a, b)

    def backward(self, g):
        zero = np.zeros((), g.dtype)
        return np.where(self.to_a, g, zero), np.where(self.to_a, zero, g)


class CopySign(Function):
    """|a| with the sign of b; d/da = result / a (0 where a == 0), d/db = 0, as PyTorch."""

    def forward(self, a, b):
        self.a = a
        self.y = np.copysign(a, b)
        return self.y

    def backward(self, g):
        ratio = np.where(self.a == 0, 0, self.y / np.where(self.a == 0, 1, self.a))
        return (g * ratio).astype(g.dtype, copy=False), np.zeros_like(g)


class LogCumSumExp(Function):
    """log(cumsum(exp(a))) along ``dim``, stably (np.logaddexp.accumulate).  The gradient
    dx_i = sum_{j >= i} g_j exp(x_i - y_j) is computed as two reversed log-cumsum-exps, of the positive
    and of the negative part of g (so nothing overflows)."""

    def forward(self, a, dim):
        self.dim = _axes(dim, a.ndim)[0] if a.ndim else None
        self.a = a
        self.y = a.copy() if a.ndim == 0 else np.logaddexp.accumulate(a, axis=self.dim)
        return self.y

    def backward(self, g):
        if self.dim is None:
            return g
        d, x, y = self.dim, self.a, self.y

        def rev_lcse(v):
            return np.flip(np.logaddexp.accumulate(np.flip(v, d), axis=d), d)

        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.exp(x + rev_lcse(np.log(np.maximum(g, 0)) - y))
            neg = np.exp(x + rev_lcse(np.log(np.maximum(-g, 0)) - y))
        return (pos - neg).astype(g.dtype, copy=False)


class IndexPut(Function):
    """out = a with out[index] = v (``accumulate``: added, repeated positions adding up).  The gradient of
    ``a`` is g (with the written positions zeroed unless accumulating), of ``v`` g at ``index``."""

    def forward(self, a, v, index, accumulate=False):
        self.index, self.accumulate = index, accumulate
        out = a.copy()
        if accumulate:
            np.add.at(out, index, v)
        else:
            out[index] = v
        return out

    def backward(self, g):
        ga = g
        if not self.accumulate:
            ga = g.copy()
            ga[self.index] = 0
        return ga, np.asarray(g[self.index])


_SCATTER_UFUNC = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


class ScatterReduce(Function):
    """out = a with the elements of src reduced ('sum', 'prod', 'mean', 'amax', 'amin') into the positions
    index along ``dim`` (starting from a's value there with ``include_self``, else from the first src).
    Gradients as PyTorch's: sum/mean pass g (divided by the count); prod passes g times the product of the
    other contributors; amax/amin share g evenly among the contributors equal to the result."""

    def forward(self, a, index, src, dim, reduce, include_self=True):
        d = _scatter_check("scatter_reduce", a, dim, index, src)
        self.grid, self.part, self.reduce = _scatter_grid(index, d), tuple(slice(0, n) for n in index.shape), reduce
        s = src[self.part]
        self.hit = np.zeros(a.shape, bool)
        self.hit[self.grid] = True
        self.self_in = np.ones(a.shape, bool) if include_self else ~self.hit  # a's value takes part there
        count = self.self_in.astype(np.int64)
        np.add.at(count, self.grid, 1)
        self.count = np.maximum(count, 1)
        out = a.copy()
        if not include_self:  # start the scattered positions from the reduction's identity
            info = np.finfo(a.dtype) if a.dtype.kind == "f" else np.iinfo(a.dtype) if a.dtype.kind in "iu" else None
            start = {"sum": 0, "mean": 0, "prod": 1,
                     "amax": -np.inf if a.dtype.kind == "f" else info.min,
                     "amin": np.inf if a.dtype.kind == "f" else info.max}[reduce]
            out[self.hit] = start
        _SCATTER_UFUNC[reduce].at(out, self.grid, s)
        if reduce == "mean":
            out = out // self.count if a.dtype.kind in "iu" else out / self.count.astype(a.dtype)
        self.a, self.s, self.out, self.src_shape = a, s, out, src.shape
        return out

    def backward(self, g):
        r, grid = self.reduce, self.grid
        if r in ("sum", "mean"):
            gs = g / self.count.astype(g.dtype) if r == "mean" else g
            ga, gsrc = np.where(self.self_in, gs, 0), gs[grid]
        elif r == "prod":
            # per position: the product of the nonzero contributors and how many are zero, so that each
            # contributor's "product of the others" needs no division by zero
            a, s = self.a, self.s
            nz = np.where(self.self_in & (a != 0), a, 1).astype(g.dtype)
            zeros = (self.self_in & (a == 0)).astype(np.int64)
            np.multiply.at(nz, grid, np.where(s != 0, s, 1))
            np.add.at(zeros, grid, (s == 0).astype(np.int64))

            def others(v, nz_at, zeros_at):
                return np.where(v != 0, np.where(zeros_at == 0, nz_at / np.where(v != 0, v, 1), 0),
                                np.where(zeros_at == 1, nz_at, 0))

            ga = np.where(self.self_in, g * others(a, nz, zeros), 0)
            gsrc = g[grid] * others(s, nz[grid], zeros[grid])
        else:  # amax / amin: split evenly among the contributors equal to the result
            self_wins = self.a == self.out  # counted even where a does not take part, as PyTorch counts it
            src_wins = self.s == self.out[grid]
            n = self_wins.astype(np.int64)
            self_wins = self_wins & self.self_in
            np.add.at(n, grid, src_wins.astype(np.int64))
            share = g / np.maximum(n, 1)
            ga, gsrc = np.where(self_wins, share, 0), np.where(src_wins, share[grid], 0)
        gs = None
        if self.needs_input_grad[2]:
            gs = np.zeros(self.src_shape, g.dtype)
            gs[self.part] = gsrc
        return ga.astype(g.dtype, copy=False), None, gs


class NanToZero(Function):
    """a with NaN replaced by 0 (the step before ``nansum``); the gradient is g * (a is not NaN), a product
    as in PyTorch, so an infinite g stays NaN at the NaN positions."""

    def forward(self, a):
        self.keep = ~np.isnan(a)
        return np.where(self.keep, a, 0).astype(a.dtype, copy=False)

    def backward(self, g):
        return g * self.keep
