"""Free functions mirroring ``torch.*`` (each delegates to the op table)."""
import builtins
import warnings

import numpy as np

from . import ops
from .random import rng
from .tensor import Tensor, _infer_array

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


def square(x):
    """Elementwise x * x."""
    return _t(x).square()


def log1p(x):
    """Elementwise log(1 + x)."""
    return _t(x).log1p()


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Elementwise |a - b| <= atol + rtol * |b|, as a bool tensor."""
    return Tensor._wrap(np.isclose(np.asarray(_t(a)), np.asarray(_t(b)), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(a, b, rtol=1e-5, atol=1e-8):
    """True when all elements are close (as ``np.allclose``)."""
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))


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
