"""tinybptt.linalg: the part of torch.linalg recurrent-network code reaches for, with torch's names, signatures,
defaults and errors, differentiable through the tape (real float32/float64 matrices and stacks of them).

>>> import tinybptt as tb
>>> A = tb.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> tb.linalg.det(A)
tensor(5., grad_fn=<DetBackward0>)
"""
import builtins
import collections
import numbers

import numpy as np

from .. import ops
from ..functions import where
from ..tensor import Tensor, _torch_type
from ._expm import MatrixExp
from ._functions import (QR, SVD, Cholesky, CountNonzero, Det, Eigh, Inv, LinAlgError, Pinv, SlogDet, Solve,
                         inv_ex as _inv_ex, svd_arrays)

__all__ = ["LinAlgError", "vector_norm", "matrix_norm", "norm", "det", "slogdet", "inv", "inv_ex", "solve",
           "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals", "matrix_rank", "pinv", "matrix_power",
           "matrix_exp", "cross", "vecdot", "multi_dot", "diagonal"]

# the named tuples torch returns (torch.return_types.linalg_*): fields by name or position
_Slogdet = collections.namedtuple("linalg_slogdet", ["sign", "logabsdet"])
_InvEx = collections.namedtuple("linalg_inv_ex", ["inverse", "info"])
_QR = collections.namedtuple("linalg_qr", ["Q", "R"])
_Eigh = collections.namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
_SVD = collections.namedtuple("linalg_svd", ["U", "S", "Vh"])


# ---------------------------------------------------------------- argument checks
def _tensor(fn, x, arg="A", position=1):
    """``x`` itself; anything but a Tensor is a TypeError, as torch's argument parser raises it."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {position}) must be Tensor, not {type(x).__name__}")
    return x


def _float(name, x):
    if x.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {_torch_type(x.dtype)}")


def _matrices(name, A, square=True, arg="A"):
    """Check that A is a (stack of) floating-point (square) matrices, with torch's messages."""
    _tensor(name.replace(".", "_"), A, arg)
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {arg} must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are {A.shape[-2]} by "
                           f"{A.shape[-1]} matrices")
    _float(name, A)
    return A


def _cast(name, x, dtype):
    """``x`` cast to the ``dtype`` argument of the norms (None: unchanged), which must not narrow it."""
    if dtype is None:
        return x
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got {_torch_type(dtype)}")
    if dtype.itemsize < x.dtype.itemsize:
        raise RuntimeError(f"{name}: the dtype of the input ({_torch_type(x.dtype)}) should be convertible without "
                           f"narrowing to the specified dtype ({_torch_type(dtype)})")
    return x.to(dtype)


def _number(ord):
    """An order as torch prints it: 2, -0.5, inf."""
    return f"{ord:g}" if isinstance(ord, numbers.Real) else str(ord)


# ---------------------------------------------------------------- norms
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm of ``x`` over ``dim`` (an int or tuple; None: all elements), as
    torch.linalg.vector_norm: (sum |x|^ord)^(1/ord) for any real ord (negative and fractional too), max |x|
    for inf, min |x| for -inf, the number of nonzero elements for 0 (which has no gradient).  ``dtype``: cast
    ``x`` to it first.  The gradient where the norm is 0 is 0, as torch's."""
    name = "linalg.vector_norm"
    _tensor("linalg_vector_norm", x, "x")
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not {type(ord).__name__}")
    _float(name, x)
    x = _cast(name, x, dtype)
    try:
        axes = ops._axes(dim, x.ndim)
    except IndexError as e:
        raise IndexError(f"{name}: {e}") from None
    reduced = x.numel() if axes is None else int(np.prod([x.shape[a] for a in axes]))
    if reduced == 0 and (ord < 0 or ord == np.inf):
        raise RuntimeError(f"{name} cannot compute the {_number(ord)} norm on an empty tensor because the operation "
                           f"does not have an identity")
    dims = () if axes is None else axes
    if ord == 2:
        return ops.Norm2.apply(x, dim=axes, keepdim=keepdim)
    if ord == np.inf:
        return x.abs().amax(dims, keepdim)
    if ord == -np.inf:
        return x.abs().amin(dims, keepdim)
    if ord == 0:
        return CountNonzero.apply(x, axes=axes, keepdim=keepdim)
    return ops.NormP.apply(x, float(ord), dim=axes, keepdim=keepdim)


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix ``ord``-norm of A over the two dims ``dim``, as torch.linalg.matrix_norm: 'fro' (Frobenius),
    'nuc' (sum of singular values), 2 / -2 (largest / smallest singular value), 1 / -1 (max / min column sum
    of |A|), inf / -inf (max / min row sum of |A|)."""
    name = "linalg.matrix_norm"
    _tensor("linalg_matrix_norm", A)
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if not isinstance(dim, (tuple, list)):
        raise TypeError(f"linalg_matrix_norm(): argument 'dim' must be tuple of ints, not {type(dim).__name__}")
    if len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (ops._dim(name, d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({dim[0]}, {dim[1]})")
    if not any(ord == o and isinstance(ord, str) == isinstance(o, str) for o in _MATRIX_ORDS):
        raise RuntimeError(f"{name}: Order {_number(ord)} not supported.")
    _float(name, A)
    A = _cast(name, A, dtype)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" or (ord == 2 and s.shape[-1] == 0) else s.amax(-1) if ord == 2 else s.amin(-1)
        return out.unsqueeze(builtins.min(d0, d1)).unsqueeze(builtins.max(d0, d1)) if keepdim else out
    inner, outer = (d0, d1) if abs(ord) == 1 else (d1, d0)  # 1: columns' sums, inf: rows' sums
    sums = A.abs().sum(inner, keepdim=True)
    if ord > 0 and sums.shape[outer] == 0:  # the max over nothing is 0 here, as torch's
        out = sums.sum(outer, keepdim=True)
    else:
        out = sums.amax(outer, keepdim=True) if ord > 0 else sums.amin(outer, keepdim=True)
    return out if keepdim else out.squeeze((d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm for an int ``dim`` (or a 1-D A), a matrix norm for a 2-tuple ``dim``
    (or a 2-D A, or a string ``ord``); with ord and dim both None the 2-norm of all elements."""
    name = "linalg.norm"
    _tensor("linalg_norm", A)
    if dim is not None:
        dim = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        if len(dim) not in (1, 2):
            raise RuntimeError(f"{name}: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    elif ord is not None and A.ndim not in (1, 2):
        raise RuntimeError(f"{name}: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is not None and len(dim) == 2) or (dim is None and A.ndim == 2):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


# ---------------------------------------------------------------- determinants, inverse, solve
def det(A):
    """The determinant of a square matrix (or of each of a stack)."""
    return Det.apply(_matrices("linalg.det", A))


def slogdet(A):
    """(sign, logabsdet): the sign of det(A) (0 when singular) and log|det(A)| (-inf when singular)."""
    return _Slogdet(*SlogDet.apply(_matrices("linalg.slogdet", A)))


def inv(A):
    """The inverse of a square matrix (or of each of a stack); a singular one raises LinAlgError."""
    return Inv.apply(_matrices("linalg.inv", A))


def inv_ex(A, *, check_errors=False):
    """(inverse, info) as torch.linalg.inv_ex: info (int32, per matrix) is 0, or the 1-based position of the
    zero pivot of a singular matrix, whose inverse is then nan (torch leaves LAPACK's partial result there)
    and has no gradient.  ``check_errors=True`` raises LinAlgError instead."""
    _matrices("linalg.inv_ex", A)
    if check_errors:
        return _InvEx(inv(A), Tensor._wrap(np.zeros(A.shape[:-2], np.int32)))
    try:
        return _InvEx(Inv.apply(A), Tensor._wrap(np.zeros(A.shape[:-2], np.int32)))
    except LinAlgError:
        out, info = _inv_ex(A._data)
        return _InvEx(Tensor._wrap(out), Tensor._wrap(info))


def solve(A, B, *, left=True):
    """X with A X = B (``left=False``: X A = B) for square A.  B is a batch of vectors when it is 1-D or has
    A's shape without its last dim, else a batch of matrices; batch dims broadcast.  A singular A raises
    LinAlgError."""
    name = "linalg.solve"
    _matrices(name, A)
    _tensor("linalg_solve", B, "B", 2)
    if B.dtype != A.dtype:
        raise RuntimeError(f"{name}: Expected A and B to have the same dtype, but found A of type "
                           f"{_torch_type(A.dtype)} and B of type {_torch_type(B.dtype)} instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    Bm = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if Bm.ndim < 2 or Bm.shape[-2 if left else -1] != n:
        rows, cols = (Bm.shape[-2], Bm.shape[-1]) if Bm.ndim >= 2 else (1, Bm.shape[-1])
        raise RuntimeError(f"{name}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                           f"({n}x{n} and {rows}x{cols})")
    try:
        np.broadcast_shapes(A.shape[:-2], Bm.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{name}: the batch dimensions of A {A.shape[:-2]} and B {Bm.shape[:-2]} cannot be "
                           f"broadcast") from None
    X = Solve.apply(A, Bm) if left else Solve.apply(A.mT, Bm.mT).mT
    return X.squeeze(-1) if vector else X


# ---------------------------------------------------------------- decompositions
def cholesky(A, *, upper=False):
    """L (lower triangular, positive diagonal) with A = L L^T, read from A's lower triangle; ``upper=True``:
    U = L^T from the upper triangle.  A matrix that is not positive-definite raises LinAlgError."""
    return Cholesky.apply(_matrices("linalg.cholesky", A), upper=bool(upper))


def qr(A, mode="reduced"):
    """(Q, R) with A = QR: 'reduced' (Q (m, k), R (k, n), k = min(m, n)), 'complete' (Q (m, m), R (m, n)) or
    'r' (R only, Q empty; not differentiable)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', or "
                           f"'complete'")
    return _QR(*QR.apply(_matrices("linalg.qr", A, square=False), mode=mode))


def _uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


def eigh(A, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix, read from its ``UPLO`` ('L' or
    'U') triangle.  The gradient through the eigenvectors is inf/nan for repeated eigenvalues, as torch's."""
    return _Eigh(*Eigh.apply(_matrices("linalg.eigh", A), UPLO=_uplo(UPLO)))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of a symmetric matrix from its ``UPLO`` triangle."""
    return _Eigh(*Eigh.apply(_matrices("linalg.eigh", A), UPLO=_uplo(UPLO))).eigenvalues


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh, S descending; ``full_matrices=False``: U (m, k), Vh (k, n),
    k = min(m, n).  The gradient through U and Vh is inf/nan for repeated singular values, as torch's
    (the extra columns of full U and Vh get none).  ``driver`` (CUDA only in torch) is ignored."""
    return _SVD(*SVD.apply(_matrices("linalg.svd", A, square=False), full_matrices=bool(full_matrices)))


def svdvals(A, *, driver=None):
    """The singular values of A, descending."""
    return SVD.apply(_matrices("linalg.svdvals", A, square=False), full_matrices=False)[1]


def _array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _tolerance(A, largest, atol, rtol):
    """max(atol, rtol * largest) per matrix; rtol defaults to eps * max(m, n), or 0 where atol > 0 is given."""
    eps = np.finfo(A.dtype).eps * builtins.max(A.shape[-2:])
    atol_a = np.zeros((), A.dtype) if atol is None else _array(atol)
    if rtol is None:
        rtol_a = eps if atol is None else np.where(atol_a > 0, 0.0, eps)
    else:
        rtol_a = _array(rtol)
    return np.maximum(atol_a, rtol_a * largest).astype(A.dtype)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    """The number of singular values (|eigenvalues| with ``hermitian``) above max(atol, rtol * the largest),
    int64; rtol defaults to eps * max(m, n) (0 when atol > 0 is given).  ``tol`` (torch's older overload,
    positional or keyword) is atol=tol with rtol=0 and excludes atol and rtol."""
    if tol is not None:
        if atol is not None or rtol is not None:
            raise TypeError("linalg_matrix_rank(): tol cannot be given together with atol or rtol")
        atol, rtol = tol, 0.0
    _tensor("linalg_matrix_rank", A, "input")
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.matrix_rank: The input tensor input must have at least 2 dimensions.")
    if A.dtype.kind != "f":
        raise RuntimeError("This function doesn't handle types other than float and double")
    a = A._data
    s = np.abs(np.linalg.eigvalsh(a)) if hermitian else svd_arrays(a, compute_uv=False)
    tol = _tolerance(a, s.max(-1, initial=0), atol, rtol)
    return Tensor._wrap((s > tol[..., None]).sum(-1).astype(np.int64))


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The Moore-Penrose pseudo-inverse: singular values (|eigenvalues| with ``hermitian``, from the lower
    triangle) at or below max(atol, rtol * the largest) count as zero; rtol defaults to eps * max(m, n)
    (0 when atol > 0 is given).  Differentiable where the rank does not change."""
    _tensor("linalg_pinv", A)
    if A.ndim < 2 or A.dtype.kind != "f":
        raise RuntimeError(f"linalg.pinv({_torch_type(A.dtype)}{{{list(A.shape)}}}): expected a tensor with 2 or more "
                           f"dimensions of float, double, cfloat or cdouble types")
    if hermitian and A.shape[-1] != A.shape[-2]:
        _matrices("linalg.pinv", A)
    a = A._data
    s = np.abs(np.linalg.eigvalsh(a)) if hermitian else svd_arrays(a, compute_uv=False)
    tol = _tolerance(a, s.max(-1, initial=0), atol, rtol)
    return Pinv.apply(A, np.broadcast_to(tol, a.shape[:-2]), hermitian=hermitian)


# ---------------------------------------------------------------- matrix functions
def matrix_power(A, n):
    """A^n for an integer n by repeated squaring (A^0 = I, with a zero gradient; n < 0: inv(A)^|n|)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}")
    _matrices("linalg.matrix_power", A)
    if n == 0:
        eye = np.broadcast_to(np.eye(A.shape[-1], dtype=A.dtype), A.shape)
        return where(Tensor._wrap(np.ones(A.shape, bool)), Tensor._wrap(eye), A)
    z = inv(A) if n < 0 else A
    n, result = abs(n), None
    while n:
        if n & 1:
            result = z if result is None else result @ z
        n >>= 1
        if n:
            z = z @ z
    return result.clone() if result is A else result


def matrix_exp(A):
    """exp(A) of a square matrix (or of each of a stack) by scaling and squaring with Pade approximants."""
    return MatrixExp.apply(_matrices("linalg.matrix_exp", A))


# ---------------------------------------------------------------- products
def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (the other dims broadcast)."""
    name = "linalg.cross"
    _tensor("linalg_cross", input, "input")
    _tensor("linalg_cross", other, "other", 2)
    if input.ndim != other.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions.")
    d = ops._dim(name, dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"{name}: inputs dimension {dim} must have length 3. Got {input.shape[d]} and "
                           f"{other.shape[d]}")
    return input.cross(other, dim=d)


def vecdot(x, y, *, dim=-1):
    """The dot product of vectors along ``dim`` (the other dims broadcast): sum(x * y, dim)."""
    _tensor("linalg_vecdot", x, "x")
    _tensor("linalg_vecdot", y, "y", 2)
    _float("linalg.vecdot", x)
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_torch_type(x.dtype)} and y of type {_torch_type(y.dtype)} instead")
    return (x * y).sum(dim)


def multi_dot(tensors):
    """The product of a chain of matrices (the first may be a row vector, the last a column vector, 1-D),
    multiplied in the order that needs the fewest scalar multiplications."""
    name = "multi_dot()"
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"{name}: expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        _tensor("linalg_multi_dot", t, "tensors")
        where_ = "the first tensor" if i == 0 else "the last tensor" if i == len(tensors) - 1 else None
        if where_ and t.ndim not in (1, 2):
            raise RuntimeError(f"{name}: {where_} must be 1D or 2D but got {t.ndim}D")
        if not where_ and t.ndim != 2:
            raise RuntimeError(f"{name}: tensor {i} must be 2D but got {t.ndim}D")
        if t.dtype != tensors[0].dtype:
            raise RuntimeError(f"{name}: all tensors must have be the same dtype but tensor 0 is "
                               f"{_torch_type(tensors[0].dtype).lower()} and tensor {i} {_torch_type(t.dtype).lower()}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = ([tensors[0].unsqueeze(0)] if first_vec else tensors[:1]) + tensors[1:-1] + (
        [tensors[-1].unsqueeze(-1)] if last_vec else tensors[-1:])
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"{name}: tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                               f"{list(tensors[i + 1].shape)} cannot be multiplied")
    out = _chain(mats)
    if first_vec and last_vec:
        return out.reshape(())
    return out.squeeze(0) if first_vec else out.squeeze(-1) if last_vec else out


def _chain(mats):
    """The product of ``mats`` in the cheapest order (the classic O(n^3) dynamic programme, Cormen et al.,
    Introduction to Algorithms, sec. 15.2; for three matrices (AB)C only when strictly cheaper, as torch)."""
    n = len(mats)
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    if n == 2:
        return mats[0] @ mats[1]
    if n == 3:
        a, b, c, d = dims
        return (mats[0] @ mats[1]) @ mats[2] if a * b * c + a * c * d < b * c * d + a * b * d else \
            mats[0] @ (mats[1] @ mats[2])
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return product(i, k) @ product(k + 1, j)

    return product(0, n - 1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The ``offset`` diagonal (> 0 above, < 0 below the main one) of the matrices over dims ``dim1`` and
    ``dim2``, as the last dim of the result (torch.linalg.diagonal; torch.diagonal has dim1=0, dim2=1)."""
    return _tensor("linalg_diagonal", A).diagonal(offset, dim1, dim2)
