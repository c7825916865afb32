"""Factories: tensor, zeros, ones, randn, rand, arange and friends."""
import numpy as np

from .devices import check_device
from .random import rng
from . import tensor as _tensor
from .tensor import Tensor, _infer_array, as_dtype, default_float


def _shape(size, name="zeros"):
    """The size given as ints or one tuple/list, checked as PyTorch checks it."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)
    try:
        size = tuple(int(n.__index__()) for n in size)
    except (AttributeError, TypeError):
        raise TypeError(f"{name}(): size must be a tuple of ints, but got {size!r}") from None
    if any(n < 0 for n in size):
        raise RuntimeError(f"{name}: Dimension size must be non-negative. (got size {size})")
    return size


def _float_dtype(dtype):
    return as_dtype(dtype) or default_float()


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (Python floats get the default dtype, float32 unless
    ``set_default_dtype`` changed it; arrays keep their dtype)."""
    check_device("tensor", device)
    return Tensor(np.array(_infer_array(data, dtype), copy=True), requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a numpy array when it can."""
    check_device("as_tensor", device)
    return data if isinstance(data, Tensor) and dtype is None else Tensor(_infer_array(data, dtype))


def from_numpy(array):
    """A tensor sharing memory with ``array``."""
    return Tensor(array)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any CPU array that speaks DLPack (a torch tensor, a numpy array, ...)."""
    return Tensor(np.from_dlpack(ext_tensor))


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros (the default dtype, float32, unless ``dtype``)."""
    check_device("zeros", device)
    return Tensor(np.zeros(_shape(size, "zeros"), _float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones (the default dtype, float32, unless ``dtype``)."""
    check_device("ones", device)
    return Tensor(np.ones(_shape(size, "ones"), _float_dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; its dtype follows the value as in PyTorch (bool, int64, default float)."""
    check_device("full", device)
    if dtype is None and isinstance(fill_value, (bool, int, np.bool_, np.integer)):
        dtype = np.bool_ if isinstance(fill_value, (bool, np.bool_)) else np.int64
    return Tensor(np.full(_shape((size,), "full"), fill_value, _float_dtype(dtype)), requires_grad=requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor (here: zeros)."""
    check_device("empty", device)
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros of ``t``'s shape and dtype."""
    check_device("zeros_like", device)
    return Tensor(np.zeros(t.shape, as_dtype(dtype) or t.dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones of ``t``'s shape and dtype."""
    check_device("ones_like", device)
    return Tensor(np.ones(t.shape, as_dtype(dtype) or t.dtype), requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere in ``t``'s shape, with ``t``'s dtype unless ``dtype``."""
    check_device("full_like", device)
    return Tensor(np.full(t.shape, fill_value, as_dtype(dtype) or t.dtype), requires_grad=requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples from N(0, 1) (from ``generator``'s stream when given)."""
    check_device("randn", device)
    return Tensor(rng(generator).standard_normal(_shape(size, "randn")).astype(_float_dtype(dtype)),
                  requires_grad=requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Samples from U[0, 1) (from ``generator``'s stream when given)."""
    check_device("rand", device)
    return Tensor(rng(generator).random(_shape(size, "rand")).astype(_float_dtype(dtype)), requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """Samples from N(0, 1) in ``t``'s shape and dtype."""
    check_device("randn_like", device)
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """Samples from U[0, 1) in ``t``'s shape and dtype."""
    check_device("rand_like", device)
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor (here: zeros) of ``t``'s shape and dtype."""
    check_device("empty_like", device)
    return zeros_like(t, dtype=dtype, requires_grad=requires_grad)


def get_default_dtype():
    """The dtype of floating-point factories and Python floats (float32 unless ``set_default_dtype``)."""
    return default_float()


def set_default_dtype(d):
    """Make ``d`` (float16, float32 or float64) the dtype of floating-point factories, of tensors made from
    Python floats, of new layers' parameters and of float results of integer tensors, as torch.set_default_dtype."""
    try:
        dtype = as_dtype(d)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise TypeError("only floating-point types are supported as the default type")
    _tensor._default_float[0] = dtype


def randint(low, high=None, size=(), generator=None, dtype=None, device=None, requires_grad=False):
    """Integers in [low, high) (int64), from ``generator``'s stream when given."""
    check_device("randint", device)
    if high is None or isinstance(high, (tuple, list)):  # randint(high, size) as in PyTorch
        low, high, size = 0, low, size if high is None else high
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    size = _shape((size,) if isinstance(size, int) else tuple(size), "randint")
    return Tensor(rng(generator).integers(low, high, size).astype(as_dtype(dtype) or np.int64), requires_grad=requires_grad)


def randint_like(t, low=0, high=None, dtype=None, device=None):
    """Integers in [low, high) in ``t``'s shape and dtype (``randint_like(t, high)`` also works)."""
    check_device("randint_like", device)
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, t.shape, dtype=dtype or t.dtype)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64 unless ``dtype``), from ``generator``'s stream when given."""
    check_device("randperm", device)
    return Tensor(rng(generator).permutation(n).astype(as_dtype(dtype) or np.int64), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Evenly spaced values in [start, end); int64 for integer arguments, the default dtype otherwise."""
    check_device("arange", device)
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dtype = as_dtype(dtype) or (np.dtype(np.int64) if ints else default_float())
    return Tensor(np.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None):
    """``steps`` values evenly spaced from start to end inclusive."""
    check_device("linspace", device)
    return Tensor(np.linspace(start, end, steps).astype(_float_dtype(dtype)))


def eye(n, m=None, dtype=None, device=None):
    """Identity matrix."""
    check_device("eye", device)
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)))


def _tri_indices(name, numpy_indices, row, col, offset, dtype, device):
    """(2, n) int64 (or ``dtype``) row/column indices of a triangle of a row x col matrix, row by row."""
    check_device(name, device)
    for what, n in (("row", row), ("col", col)):
        if n < 0:
            raise RuntimeError(f"{name}: {what} must be non-negative, got{n}")
    dtype = np.dtype(as_dtype(dtype) or np.int64)
    if dtype.kind not in "iu":
        raise NotImplementedError(f'"{name}" not implemented for {dtype} (the indices need an integer dtype)')
    return Tensor(np.stack(numpy_indices(row, offset, col)).reshape(2, -1).astype(dtype))


def tril_indices(row, col, offset=0, dtype=None, device=None, layout=None):
    """Indices of the lower triangle (on and below diagonal ``offset``) of a row x col matrix, as (2, n)."""
    return _tri_indices("tril_indices", np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, dtype=None, device=None, layout=None):
    """Indices of the upper triangle (on and above diagonal ``offset``) of a row x col matrix, as (2, n)."""
    return _tri_indices("triu_indices", np.triu_indices, row, col, offset, dtype, device)
