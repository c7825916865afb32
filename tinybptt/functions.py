"""Free functions mirroring ``torch.*`` (each delegates to the op table)."""
import builtins
import warnings

import numpy as np

from . import ops
from .random import rng
from .tensor import Tensor, _infer_array, _tensor_arg, _torch_type, default_float

cat, stack, split, chunk = ops.cat, ops.stack, ops.split, ops.chunk
concat = cat


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def where(condition, input=None, other=None):
    """Elementwise ``input`` where the bool ``condition`` is True, else ``other`` (numbers or tensors,
    broadcast; the result's dtype is promoted as in arithmetic).

    With only ``condition``: a tuple of index tensors of its nonzero elements, one per dimension.
    """
    if input is None and other is None:
        return tuple(Tensor(i) for i in np.nonzero(_infer_array(condition)))
    if input is None or other is None:
        raise TypeError("where() takes the condition alone or with both input and other, got only "
                        f"{'other' if input is None else 'input'}")
    cond = _infer_array(condition)
    if cond.dtype == np.uint8:  # deprecated in PyTorch, yet accepted with this warning
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and will be removed in "
                      "a future version of PyTorch. Use a boolean condition instead.", UserWarning, stacklevel=2)
        cond = cond.astype(bool)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{cond.dtype}")
    if not isinstance(input, Tensor) and isinstance(other, Tensor):
        b, a = other._pair(input)
        return ops.Where.apply(cond, a, b)
    a, b = _t(input)._pair(other)
    return ops.Where.apply(cond, a, b)


def matmul(a, b):
    """Matrix product (batched, with broadcasting over leading dims)."""
    return _t(a) @ b


def mm(a, b):
    """Product of two matrices (2-D only)."""
    if _t(a).ndim != 2 or _t(b).ndim != 2:
        raise RuntimeError(f"mm: expected two 2-D tensors, got shapes {_t(a).shape} and {_t(b).shape}")
    return _t(a) @ b


def bmm(a, b):
    """Batched matrix product of (B, n, m) and (B, m, p), without broadcasting."""
    if _t(a).ndim != 3 or _t(b).ndim != 3 or _t(a).shape[0] != _t(b).shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with the same batch size, got shapes "
                           f"{_t(a).shape} and {_t(b).shape}")
    return _t(a) @ b


def _triangle(x, diagonal, keep_lower):
    x = _t(x)
    if x.ndim < 2:
        raise RuntimeError(f"{'tril' if keep_lower else 'triu'}: input tensor must have at least 2 dimensions, "
                           f"got shape {x.shape}")
    n, m = x.shape[-2:]
    keep = np.tri(n, m, diagonal, dtype=bool) if keep_lower else ~np.tri(n, m, diagonal - 1, dtype=bool)
    return x.masked_fill(~keep, 0)  # masked_fill, not a product: -inf * 0 would be nan


def tril(x, diagonal=0):
    """Lower triangle of the last two dims (elements j <= i + diagonal); the rest zero."""
    return _triangle(x, diagonal, True)


def triu(x, diagonal=0):
    """Upper triangle of the last two dims (elements j >= i + diagonal); the rest zero."""
    return _triangle(x, diagonal, False)


def isnan(x):
    """Bool tensor: True where an element is NaN."""
    return _t(x).isnan()


def isinf(x):
    """Bool tensor: True where an element is +inf or -inf."""
    return _t(x).isinf()


def isfinite(x):
    """Bool tensor: True where an element is neither inf nor NaN."""
    return _t(x).isfinite()


def equal(a, b):
    """True when both tensors have the same shape and the same elements (a Python bool)."""
    return _t(a).equal(_t(b))


def neg(x):
    """Elementwise negation, -x."""
    return -_t(x)


def add(input, other, *, alpha=1):
    """input + alpha * other."""
    return _t(input).add(other, alpha=alpha)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    return _t(input).sub(other, alpha=alpha)


def mul(input, other):
    """Elementwise input * other."""
    return _t(input) * other


def div(input, other, *, rounding_mode=None):
    """Elementwise input / other, rounded with ``rounding_mode`` None, 'trunc' or 'floor' (see Tensor.div)."""
    return _t(input).div(other, rounding_mode=rounding_mode)


def true_divide(input, other):
    """Elementwise true division input / other."""
    return _t(input) / other


def floor_divide(input, other):
    """Elementwise floor(input / other), as ``//`` (no gradient)."""
    return _t(input) // other


def remainder(input, other):
    """Elementwise input mod other with the sign of ``other``, as ``%`` (no gradient)."""
    return _t(input) % other


def fmod(input, other):
    """Elementwise C-style remainder with the sign of ``input`` (no gradient)."""
    return _t(input).fmod(other)


subtract, multiply, divide = sub, mul, div


def clone(input):
    """A copy of ``input`` that stays in the graph (gradient flows back to ``input``)."""
    return _t(input).clone()


def detach(input):
    """``input``'s values without history."""
    return _t(input).detach()


def eq(input, other):
    """Elementwise input == other, a bool tensor."""
    return _t(input) == other


def ne(input, other):
    """Elementwise input != other, a bool tensor."""
    return _t(input) != other


def lt(input, other):
    """Elementwise input < other, a bool tensor."""
    return _t(input) < other


def le(input, other):
    """Elementwise input <= other, a bool tensor."""
    return _t(input) <= other


def gt(input, other):
    """Elementwise input > other, a bool tensor."""
    return _t(input) > other


def ge(input, other):
    """Elementwise input >= other, a bool tensor."""
    return _t(input) >= other


def rsqrt(input):
    """Elementwise 1 / sqrt(input)."""
    return _t(input).rsqrt()


def reciprocal(input):
    """Elementwise 1 / input (integers give floats)."""
    return _t(input).reciprocal()


def exp(x):
    """Elementwise e**x."""
    return _t(x).exp()


def log(x):
    """Elementwise natural logarithm."""
    return _t(x).log()


def sqrt(x):
    """Elementwise square root."""
    return _t(x).sqrt()


def abs(x):  # noqa: A001
    """Elementwise absolute value."""
    return _t(x).abs()


def tanh(x):
    """Elementwise hyperbolic tangent."""
    return _t(x).tanh()


def sigmoid(x):
    """Elementwise logistic sigmoid, 1 / (1 + exp(-x))."""
    return _t(x).sigmoid()


def relu(x):
    """Elementwise max(x, 0)."""
    return _t(x).relu()


def softmax(x, dim):
    """Softmax along ``dim``: exponentials normalised to sum to 1."""
    return _t(x).softmax(dim)


def log_softmax(x, dim):
    """Log of the softmax along ``dim``, computed stably."""
    return _t(x).log_softmax(dim)


def sum(x, dim=None, keepdim=False, dtype=None):  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or None for all elements); ``dtype`` casts before summing."""
    return _t(x).sum(dim, keepdim, dtype)


def flip(x, dims):
    """Reverse the order of elements along each dim in ``dims``."""
    return _t(x).flip(dims)


def mean(x, dim=None, keepdim=False, dtype=None):
    """Mean over ``dim`` (an int, a tuple, or None for all elements)."""
    return _t(x).mean(dim, keepdim, dtype)


def max(x, dim=None, keepdim=False):  # noqa: A001
    """Largest element; with ``dim``, a (values, indices) pair along that dim."""
    return _t(x).max(dim, keepdim)


def min(x, dim=None, keepdim=False):  # noqa: A001
    """Smallest element; with ``dim``, a (values, indices) pair along that dim."""
    return _t(x).min(dim, keepdim)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    return _t(x).argmax(dim, keepdim)


def maximum(x, other):
    """Elementwise larger of ``x`` and ``other`` (broadcast)."""
    return _t(x).maximum(other)


def minimum(x, other):
    """Elementwise smaller of ``x`` and ``other`` (broadcast)."""
    return _t(x).minimum(other)


def clamp(x, min=None, max=None):  # noqa: A002
    """Elementwise min(max(x, min), max); either bound may be None, a number or a tensor."""
    return _t(x).clamp(min, max)


clip = clamp


def reshape(x, shape):
    """The same elements in a new shape (one entry may be -1)."""
    return _t(x).reshape(shape)


def transpose(x, dim0, dim1):
    """Swap dimensions ``dim0`` and ``dim1``."""
    return _t(x).transpose(dim0, dim1)


def permute(x, dims):
    """Reorder the dimensions as ``dims``."""
    return _t(x).permute(dims)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one."""
    return _t(x).flatten(start_dim, end_dim)


def unsqueeze(x, dim):
    """Insert a dimension of size 1 at ``dim``."""
    return _t(x).unsqueeze(dim)


def squeeze(x, dim=None):
    """Remove dimensions of size 1 (only ``dim`` when it is given)."""
    return _t(x).squeeze(dim)


def masked_fill(input, mask, value):
    """Take ``value`` where the bool ``mask`` is True, ``input`` elsewhere."""
    return _t(input).masked_fill(mask, value)


def pow(x, p):  # noqa: A001
    """Elementwise x ** p (``p`` a number or a tensor)."""
    return _t(x) ** p


def var(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """Variance over ``dim``; ``unbiased`` (or ``correction``) sets the divisor N - 1 or N."""
    return _t(x).var(dim, unbiased, keepdim, correction=correction)


def std(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """Standard deviation over ``dim``; ``unbiased`` (or ``correction``) as in :func:`var`."""
    return _t(x).std(dim, unbiased, keepdim, correction=correction)


def var_mean(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """(variance, mean) over ``dim``."""
    return _t(x).var(dim, unbiased, keepdim, correction=correction), _t(x).mean(_mean_dim(x, dim), keepdim)


def std_mean(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """(standard deviation, mean) over ``dim``."""
    return _t(x).std(dim, unbiased, keepdim, correction=correction), _t(x).mean(_mean_dim(x, dim), keepdim)


def _mean_dim(x, dim):
    return None if isinstance(dim, bool) else dim


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over ``dim`` (all elements when None); ``p='fro'`` is the 2-norm."""
    return _t(x).norm(p, dim, keepdim, dtype)


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) along ``dim``, computed without overflow."""
    return _t(x).logsumexp(dim, keepdim)


def prod(x, dim=None, keepdim=False, dtype=None):
    """Product of the elements over ``dim`` (all elements when None)."""
    return _t(x).prod(dim, keepdim, dtype)


def cumsum(x, dim):
    """Running sum along ``dim``."""
    return _t(x).cumsum(dim)


def argmin(x, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    return _t(x).argmin(dim, keepdim)


def amax(x, dim=(), keepdim=False):
    """Largest values over ``dim`` (an int or tuple; () means all), without indices."""
    return _t(x).amax(dim, keepdim)


def amin(x, dim=(), keepdim=False):
    """Smallest values over ``dim`` (an int or tuple; () means all), without indices."""
    return _t(x).amin(dim, keepdim)


def gather(x, dim, index):
    """Pick elements along ``dim`` at the positions in the integer tensor ``index``."""
    return _t(x).gather(dim, index)


def narrow(x, dim, start, length):
    """The slice ``start:start + length`` along ``dim``."""
    return _t(x).narrow(dim, start, length)


def select(x, dim, index):
    """The slice at position ``index`` along ``dim``, with that dim removed."""
    return _t(x).select(dim, index)


def index_select(x, dim, index):
    """The entries along ``dim`` at the positions in the 1-D integer tensor ``index``."""
    return _t(x).index_select(dim, index)


def masked_select(input, mask):
    """A 1-D tensor of the elements where the bool ``mask`` is True."""
    return _t(input).masked_select(mask)


def masked_scatter(input, mask, source):
    """``input`` with the positions where the bool ``mask`` is True filled by ``source``'s first elements."""
    return _t(input).masked_scatter(mask, source)


def logical_xor(input, other):
    """Elementwise exclusive or of the truth values, a bool tensor."""
    return _t(input).logical_xor(other)


def movedim(x, source, destination):
    """Move dimension(s) ``source`` to position(s) ``destination``."""
    return _t(x).movedim(source, destination)


moveaxis = movedim


def swapaxes(x, dim0, dim1):
    """Same as :func:`transpose`: swap ``dim0`` and ``dim1``."""
    return _t(x).transpose(dim0, dim1)


def unflatten(x, dim, sizes):
    """Split dimension ``dim`` into the shape ``sizes``."""
    return _t(x).unflatten(dim, sizes)


def clamp_min(x, min):  # noqa: A002
    """Elementwise max(x, min)."""
    return _t(x).clamp(min=min)


def clamp_max(x, max):  # noqa: A002
    """Elementwise min(x, max)."""
    return _t(x).clamp(max=max)


def sign(x):
    """Elementwise -1, 0 or 1 by the sign of each element (zero gradient)."""
    return _t(x).sign()


def floor(x):
    """Elementwise round down (zero gradient)."""
    return _t(x).floor()


def ceil(x):
    """Elementwise round up (zero gradient)."""
    return _t(x).ceil()


def round(x, decimals=0):  # noqa: A001
    """Elementwise round half to even, to ``decimals`` places (zero gradient)."""
    return _t(x).round(decimals)


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``; ties keep their order."""
    return _t(x).sort(dim, descending, stable)


def argsort(x, dim=-1, descending=False, stable=False):
    """Indices that sort ``x`` along ``dim``."""
    return _t(x).argsort(dim, descending, stable)


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``."""
    return _t(x).topk(k, dim, largest, sorted)


def unbind(x, dim=0):
    """The slices along ``dim``, as a tuple of tensors with that dim removed."""
    return _t(x).unbind(dim)


def any(x, dim=None, keepdim=False):  # noqa: A001
    """True where any element (over ``dim``, or all of them) is nonzero."""
    return _t(x).any(dim, keepdim)


def all(x, dim=None, keepdim=False):  # noqa: A001
    """True where every element (over ``dim``, or all of them) is nonzero."""
    return _t(x).all(dim, keepdim)


def logical_not(x):
    """Elementwise not, as a bool tensor."""
    return _t(x).logical_not()


def logical_and(a, b):
    """Elementwise and, as a bool tensor."""
    return _t(a).logical_and(b)


def logical_or(a, b):
    """Elementwise or, as a bool tensor."""
    return _t(a).logical_or(b)


def multinomial(input, num_samples, replacement=False, generator=None):
    """Category indices drawn from each row of ``input`` (weights, not necessarily summing to 1), int64 of shape
    (num_samples,) or (rows, num_samples); without replacement a category is drawn at most once per row.
    The draws come from ``generator`` or the default one (``manual_seed``), so they differ from PyTorch's."""
    p = np.asarray(_infer_array(input))
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {p.dtype}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > p.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(1, keepdims=True)
    if (totals <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    gen = rng(generator)
    if replacement:  # inverse CDF of each row
        cdf = np.cumsum(rows / totals, axis=1)
        u = gen.random((len(rows), num_samples))
        out = np.stack([np.minimum(np.searchsorted(c, r, side="right"), len(c) - 1) for c, r in zip(cdf, u)])
    else:  # the k largest p / Exp(1) draws: a weighted sample without replacement
        keys = rows / gen.exponential(size=rows.shape)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor(out.astype(np.int64).reshape(*p.shape[:-1], num_samples))


def sin(x):
    """Elementwise sine."""
    return _t(x).sin()


def cos(x):
    """Elementwise cosine."""
    return _t(x).cos()


def _trig_function(name):
    def function(x):
        return getattr(_t(x), name)()
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"Elementwise {name}."
    return function


tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh = map(_trig_function, ops.TRIG)
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def atan2(input, other):
    """Elementwise atan2(input, other): the angle of the point (other, input), in (-pi, pi]."""
    return _t(input).atan2(other)


arctan2 = atan2


def square(x):
    """Elementwise x * x."""
    return _t(x).square()


def log1p(x):
    """Elementwise log(1 + x)."""
    return _t(x).log1p()


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other| (equal infinities are close), a bool tensor;
    both must have the same dtype."""
    a, b = _t(input), _t(other)
    if a.dtype != b.dtype:
        raise RuntimeError(f"isclose: {_torch_type(a.dtype)} did not match {_torch_type(b.dtype)}")
    ops._broadcast_check("isclose", a._data, b._data)
    return Tensor._wrap(np.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """True when all elements are close (see :func:`isclose`; numpy arrays are taken as they are)."""
    return bool(np.allclose(np.asarray(input), np.asarray(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def is_tensor(x):
    """True for a tinybptt Tensor."""
    return isinstance(x, Tensor)


def numel(x):
    """Number of elements."""
    return _t(x).numel()


def cumprod(input, dim, *, dtype=None):
    """Running products along ``dim`` (differentiable, zeros included)."""
    return _t(input).cumprod(dim, dtype=dtype)


def roll(input, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims`` (the flattened tensor when dims is None)."""
    return _t(input).roll(shifts, dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times along ``dim``; with a single int tensor of counts,
    the indices 0, 1, ... each repeated by its count (as ``torch.repeat_interleave(repeats)``)."""
    if repeats is None:
        counts = _t(input)
        return Tensor(np.arange(counts.numel(), dtype=counts.dtype)).repeat_interleave(counts, 0)
    return _t(input).repeat_interleave(repeats, dim, output_size=output_size)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim`` (``prepend``/``append`` joined to the input first)."""
    return _t(input).diff(n, dim, prepend, append)


def count_nonzero(input, dim=None):
    """Number of nonzero elements over ``dim`` (all when None), int64."""
    return _t(input).count_nonzero(dim)


def outer(input, vec2):
    """Outer product of two 1-D tensors."""
    return _t(input).outer(vec2)


ger = outer


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of ``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``."""
    return _t(input).scatter(dim, index, src, value, reduce=reduce)


def scatter_add(input, dim, index, src):
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    return _t(input).scatter_add(dim, index, src)


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added at the positions ``index`` along ``dim``."""
    return _t(input).index_add(dim, index, source, alpha=alpha)


def einsum(equation, *operands):
    """Einstein summation as ``torch.einsum`` ('ij,jk->ik', '...' and the implicit output form included;
    the operands may also come as one list), computed by ``np.einsum``; differentiable in every operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    tensors = ops._same_dtype(list(operands)) if operands else []
    inputs, output = _einsum_parse(equation.replace(" ", ""), [t.shape for t in tensors])
    return ops.Einsum.apply(*tensors, inputs=tuple(inputs), output=output)


def _einsum_parse(eq, shapes):
    """The equation as explicit subscripts, one string per operand and one for the output ('...' replaced by
    letters the equation does not use), checked as torch checks it."""
    letters = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    lhs, arrow, rhs = eq.partition("->")
    i = 0
    while i < len(eq):  # letters, commas, one '->' and '...'
        step = 2 if eq.startswith("->", i) else 3 if eq.startswith("...", i) else 1
        if step == 1 and eq[i] not in letters and eq[i] != ",":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, subscripts "
                               f"must be in [a-zA-Z]")
        i += step
    subs = lhs.split(",")
    if len(subs) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(subs) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    free = [c for c in sorted(letters) if c not in eq]
    n_ell = builtins.max((len(s) - len(sub.replace("...", "")) for sub, s in zip(subs, shapes) if "..." in sub),
                         default=0)
    ell = "".join(free[:n_ell])
    inputs, sizes = [], {}
    for k, (sub, shape) in enumerate(zip(subs, shapes)):
        named = len(sub.replace("...", ""))
        if "..." not in sub and named != len(shape) or "..." in sub and named > len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                               f"number of dimensions ({len(shape)}) for operand {k}"
                               + ("" if "..." in sub else " and no ellipsis was given"))
        sub = sub.replace("...", ell[n_ell - (len(shape) - named):] if len(shape) > named else "")
        seen = {}
        for c, n in zip(sub, shape):
            if c in seen and seen[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't match, "
                                   f"{n} != {seen[c]}")
            seen[c] = n
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which does not broadcast "
                                   f"with previously seen size {sizes[c]}")
            sizes[c] = builtins.max(sizes.get(c, 1), n)
        inputs.append(sub)
    if arrow:
        output = rhs.replace("...", ell)
        for c in output:
            if output.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   f"operand")
    else:
        joined = "".join(subs).replace("...", "")
        output = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    return inputs, output


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` in ascending order, optionally with inverse indices and counts (see
    Tensor.unique)."""
    return _t(input).unique(sorted, return_inverse, return_counts, dim)


def bincount(input, weights=None, minlength=0):
    """Counts of each value 0..max of a 1-D non-negative integer tensor, or sums of ``weights`` per value."""
    return _t(input).bincount(weights, minlength)


def nonzero(input, *, as_tuple=False):
    """Indices of the nonzero elements: (n, ndim), or a tuple of (n,) tensors with ``as_tuple``."""
    return _t(input).nonzero(as_tuple=as_tuple)


def argwhere(input):
    """(n, ndim) int64 indices of the nonzero elements, as ``nonzero(input)``."""
    return _t(input).argwhere()


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Bool tensor of ``elements``' shape, True where an element occurs in ``test_elements`` (False with ``invert``).

    Either may be a number; bool inputs raise, as in PyTorch.  Not differentiable.
    """
    a, b = _infer_array(elements), _infer_array(test_elements)
    if a.dtype == np.bool_ or b.dtype == np.bool_:
        raise RuntimeError(f"isin: Unsupported input type encountered for isin(): Bool (elements {a.dtype}, "
                           f"test_elements {b.dtype})")
    return Tensor(np.isin(a, b, assume_unique=assume_unique, invert=invert))


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return _t(input).lerp(end, weight)


def erf(input):
    """Elementwise error function (integer input gives float32)."""
    return _t(input).erf()


def exp2(input):
    """Elementwise 2**x (integer input gives float32)."""
    return _t(input).exp2()


def expm1(input):
    """Elementwise exp(x) - 1, accurate for small x (integer input gives float32)."""
    return _t(input).expm1()


def log2(input):
    """Elementwise base-2 logarithm (integer input gives float32)."""
    return _t(input).log2()


def log10(input):
    """Elementwise base-10 logarithm (integer input gives float32)."""
    return _t(input).log10()


def trunc(input):
    """Elementwise round toward zero (zero gradient)."""
    return _t(input).trunc()


def frac(input):
    """Elementwise fractional part x - trunc(x) (gradient 1)."""
    return _t(input).frac()


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by finite numbers (see Tensor.nan_to_num)."""
    return _t(input).nan_to_num(nan, posinf, neginf)


def broadcast_to(input, shape):
    """``input`` broadcast to ``shape`` (as Tensor.expand)."""
    return _t(input).broadcast_to(shape)


def diag(input, diagonal=0):
    """1-D: the square matrix with ``input`` on its ``diagonal``; 2-D: that diagonal as a 1-D tensor."""
    return _t(input).diag(diagonal)


def tile(input, dims):
    """``input`` repeated ``dims`` times along each dim (``dims`` a tuple; missing leading entries are 1)."""
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"tile(): argument 'dims' (position 2) must be tuple of ints, not {type(dims).__name__}")
    return _t(input).tile(dims)


def median(input, dim=None, keepdim=False):
    """The lower median of all elements; with ``dim``, a (values, indices) pair (see Tensor.median)."""
    return _t(input).median(dim, keepdim)


def bernoulli(input, p=None, *, generator=None):
    """0/1 draws with the probabilities in ``input`` (or ``p`` for every element), in ``input``'s dtype."""
    return _t(input).bernoulli(p, generator=generator)


def take_along_dim(input, indices, dim=None):
    """Values of ``input`` picked along ``dim`` by ``indices`` (see Tensor.take_along_dim)."""
    return _t(input).take_along_dim(indices, dim)


def dist(input, other, p=2):
    """The p-norm of ``input - other``."""
    return _t(input).dist(other, p)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids of 0-d/1-D tensors (also given as one list): the k-th output has input k's values
    along dim k, expanded to the shape of all the sizes ('ij'); 'xy' swaps the first two dims of every grid."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    tensors = [_t(t) for t in tensors]
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: a {t.ndim}-D "
                               f"tensor of shape {t.shape}")
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError(f"meshgrid expects all tensors to have the same dtype (got "
                           f"{[str(t.dtype) for t in tensors]})")
    swap = indexing == "xy" and len(tensors) > 1
    if swap:
        tensors[0], tensors[1] = tensors[1], tensors[0]
    shape = tuple(t.numel() for t in tensors)
    grids = [t.reshape([-1 if i == k else 1 for i in range(len(shape))]).expand(shape) for k, t in enumerate(tensors)]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _stack_parts(name, tensors, ndim):
    """``tensors`` with leading size-1 dims added up to ``ndim`` (torch.atleast_1d/2d), checked as torch does."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return [t.reshape((1,) * (ndim - t.ndim) + t.shape) if t.ndim < ndim else t for t in map(_t, tensors)]


def hstack(tensors):
    """Concatenate horizontally: 0-d/1-D tensors end to end, others along dim 1."""
    parts = _stack_parts("hstack", tensors, 1)
    return cat(parts, 0 if parts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate vertically along dim 0, 0-d and 1-D tensors first made rows (1, n)."""
    return cat(_stack_parts("vstack", tensors, 2), 0)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """For each value of ``input``, the index in the last dim of ``sorted_sequence`` (ascending; 1-D, or with
    the same leading dims as ``input``) where inserting it keeps the order: the first position whose element
    is >= the value, or > it with ``right`` (or side='right').  ``sorter`` gives the sorting order of an
    unsorted sequence.  int64 indices (int32 with ``out_int32``); a number ``input`` gives a 0-d tensor."""
    seq, vals = _infer_array(sorted_sequence), _infer_array(input)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
                           "dimension")
    if seq.ndim > 1 and vals.ndim == 0:
        raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when boundaries tensor dimension "
                           f"is 1, but we got boundaries tensor dim({seq.ndim}) and input value's dim(0) numel(1)")
    if seq.ndim > 1 and seq.shape[:-1] != vals.shape[:-1]:
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                           f"dimensions of boundaries tensor and input value tensor must match, but we got boundaries "
                           f"tensor {list(seq.shape)} and input value tensor {list(vals.shape)}")
    if sorter is not None:
        order = _infer_array(sorter)
        if order.dtype != np.int64:
            raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype but got dtype "
                               f"{_torch_type(order.dtype)}")
        if order.shape != seq.shape:
            raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq.shape)}and got sorter tensor {list(order.shape)}")
        if order.size and (order.min() < 0 or order.max() >= seq.shape[-1]):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
        seq = np.take_along_axis(seq, order, -1)
    rows = seq.reshape(int(np.prod(seq.shape[:-1])), seq.shape[-1])
    v = vals.reshape(len(rows), -1) if seq.ndim > 1 else vals.reshape(1, -1)
    lo, hi = np.zeros(v.shape, np.int64), np.full(v.shape, rows.shape[1], np.int64)
    while (lo < hi).any():  # binary search with torch's comparisons: NaNs sort last, a NaN value goes to the end
        mid = (lo + hi) // 2
        bound = np.take_along_axis(rows, np.minimum(mid, rows.shape[1] - 1), 1)
        with np.errstate(invalid="ignore"):
            after = ~(bound > v) if right else ~(bound >= v)
        lo, hi = np.where((lo < hi) & after, mid + 1, lo), np.where((lo < hi) & ~after, mid, hi)
    return Tensor(lo.reshape(vals.shape).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """For each value of ``input``, the index of its bucket among the ascending 1-D ``boundaries``:
    boundaries[i-1] < x <= boundaries[i] (boundaries[i-1] <= x < boundaries[i] with ``right``)."""
    b = _infer_array(boundaries)
    if b.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between the rows of ``x1`` (..., P, M) and of ``x2`` (..., R, M): (..., P, R), the
    batch dims broadcast.  Computed directly from the differences for every ``compute_mode`` (PyTorch may use
    a matrix product for p=2, which is slightly less accurate)."""
    a, b = _t(x1), _t(x2)
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, t in (("X1", a), ("X2", b)):
        if t.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {_torch_type(t.dtype)}")
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {a.shape[-1]} X2: "
                           f"{b.shape[-1]}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"cdist: expected scalar type {_torch_type(a.dtype)} but found {_torch_type(b.dtype)}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got p={p}")
    ops._broadcast_check("cdist", np.broadcast_to(0, a.shape[:-2]), np.broadcast_to(0, b.shape[:-2]))
    return (a.unsqueeze(-2) - b.unsqueeze(-3)).norm(p, dim=-1)


class finfo:
    """torch.finfo: the machine limits of a floating dtype (tinybptt's, numpy's, or the default dtype when
    None): bits, eps, max, min, tiny (= smallest_normal), resolution, and dtype (its name)."""

    def __init__(self, type=None):
        dtype = _info_dtype("finfo", type)
        if dtype.kind != "f":
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        f = np.finfo(dtype)
        self.bits, self.eps, self.max, self.min = f.bits, float(f.eps), float(f.max), float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution, self.dtype = 10.0 ** -f.precision, dtype.name

    def __eq__(self, other):
        return type(other) is type(self) and other.dtype == self.dtype

    def __hash__(self):
        return hash((type(self), self.dtype))

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """torch.iinfo: the limits of an integer dtype: bits, max, min (Python ints) and dtype (its name)."""

    def __init__(self, type):
        dtype = _info_dtype("iinfo", type)
        if dtype == np.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if dtype.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle 'torch.iinfo'")
        i = np.iinfo(dtype)
        self.bits, self.max, self.min, self.dtype = i.bits, int(i.max), int(i.min), dtype.name

    __eq__, __hash__ = finfo.__eq__, finfo.__hash__

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"


def _info_dtype(name, type):
    """finfo/iinfo's argument as a numpy dtype: a dtype or a numpy scalar type (None: the default float)."""
    if type is None:
        return default_float()
    if isinstance(type, np.dtype) or isinstance(type, builtins.type) and issubclass(type, np.generic):
        return np.dtype(type)
    raise TypeError(f"{name}(): argument 'type' (position 1) must be torch.dtype, not {builtins.type(type).__name__}")


def _method_function(name):
    """torch.<name>(input, ...): the Tensor method ``name`` of ``input``."""
    method = getattr(Tensor, name)

    def function(input, *args, **kwargs):
        return method(_t(input), *args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = method.__doc__
    return function


(nansum, nanmean, nanmedian, quantile, nanquantile, kthvalue, mode, cummax, cummin, logcumsumexp, aminmax, addmm,
 addmv, addmv_, addr, addbmm, baddbmm, addcmul, addcdiv, dot, vdot, mv, inner, cross, kron, trace, diagonal,
 diag_embed, diagflat, erfc, erfc_, erfinv, lgamma, digamma, logit, logit_, hypot, sinc, sinc_, heaviside, fmax, fmin,
 copysign, deg2rad, deg2rad_, rad2deg, rad2deg_, sgn, signbit, negative, negative_, positive, fix, fix_, isposinf,
 isneginf, isreal, nextafter, ldexp, ldexp_, frexp, tensor_split, hsplit, vsplit, dsplit, split_with_sizes, rot90,
 fliplr, flipud, ravel, index_copy, index_fill, index_put, index_put_, scatter_reduce, take, narrow_copy, histc,
 nonzero_static, unique_consecutive, is_complex, is_signed, is_nonzero, is_same_size) = map(_method_function, (
    "nansum", "nanmean", "nanmedian", "quantile", "nanquantile", "kthvalue", "mode", "cummax", "cummin",
    "logcumsumexp", "aminmax", "addmm", "addmv", "addmv_", "addr", "addbmm", "baddbmm", "addcmul", "addcdiv", "dot",
    "vdot", "mv", "inner", "cross", "kron", "trace", "diagonal", "diag_embed", "diagflat", "erfc", "erfc_", "erfinv",
    "lgamma", "digamma", "logit", "logit_", "hypot", "sinc", "sinc_", "heaviside", "fmax", "fmin", "copysign",
    "deg2rad", "deg2rad_", "rad2deg", "rad2deg_", "sgn", "signbit", "negative", "negative_", "positive", "fix", "fix_",
    "isposinf", "isneginf", "isreal", "nextafter", "ldexp", "ldexp_", "frexp", "tensor_split", "hsplit", "vsplit",
    "dsplit", "split_with_sizes", "rot90", "fliplr", "flipud", "ravel", "index_copy", "index_fill", "index_put",
    "index_put_", "scatter_reduce", "take", "narrow_copy", "histc", "nonzero_static", "unique_consecutive",
    "is_complex", "is_signed", "is_nonzero", "is_same_size"))


def _number_first(name):
    """torch.<name>(input, other) where ``input`` may be a number (it then takes ``other``'s dtype kind)."""
    method = getattr(Tensor, name)

    def function(input, other):
        if not isinstance(input, Tensor) and isinstance(other, Tensor):
            b, a = other._pair(input)
            return method(Tensor._wrap(np.asarray(a)) if not isinstance(a, Tensor) else a, b)
        return method(_t(input), other)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = method.__doc__
    return function


xlogy, xlogy_ = map(_number_first, ("xlogy", "xlogy_"))


def _tensor_input(name):
    """torch.<name>(input, other) of two tensors (a number raises PyTorch's TypeError)."""
    method = getattr(Tensor, name)

    def function(input, other):
        return method(_tensor_arg(name, "input", input), other)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = method.__doc__
    return function


logaddexp, logaddexp2, hypot, fmax, fmin, ldexp, heaviside, nextafter = map(_tensor_input, (
    "logaddexp", "logaddexp2", "hypot", "fmax", "fmin", "ldexp", "heaviside", "nextafter"))


def float_power(input, exponent):
    """Elementwise input ** exponent computed in float64 (either may be a number; the result is float64)."""
    if not isinstance(input, Tensor):
        return Tensor(np.asarray(input, np.float64)).float_power(exponent)
    return input.float_power(exponent)


def tensordot(a, b, dims=2):
    """Sum of products over the last ``dims`` dims of ``a`` and the first ``dims`` of ``b`` (or over the
    listed dims: ``dims=([1, 0], [0, 1])``); the remaining dims of a, then of b, make the result."""
    a, b = _t(a), _t(b)
    if isinstance(dims, Tensor):
        dims = dims.item() if dims.ndim == 0 else dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > builtins.min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be a pair of lists of dims")
        da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length (got {len(da)} and {len(db)})")
        da = [ops._dim("tensordot", d, a.ndim) for d in da]
        db = [ops._dim("tensordot", d, b.ndim) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a.shape[i]} in dim {i} "
                               f"and second has size {b.shape[j]} in dim {j}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"tensordot: both inputs should have same dtype (got {a.dtype} and {b.dtype})")
    fa, fb = [i for i in range(a.ndim) if i not in da], [j for j in range(b.ndim) if j not in db]
    k = int(np.prod([a.shape[i] for i in da]))
    left = a.permute(*fa, *da).reshape(-1, k)
    right = b.permute(*db, *fb).reshape(k, -1)
    return (left @ right).reshape([a.shape[i] for i in fa] + [b.shape[j] for j in fb])
