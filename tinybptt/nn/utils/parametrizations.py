"""nn.utils.parametrizations: orthogonal, weight_norm and spectral_norm as parametrizations
(torch.nn.utils.parametrizations), e.g. ``orthogonal(nn.LSTM(8, 16), "weight_hh_l0")`` keeps the
recurrent matrix's blocks with orthonormal columns while the optimizer trains ``original``."""
from enum import Enum, auto

import numpy as np

from ...autograd import no_grad
from ...creation import randn
from ...ops import cat
from ...tensor import Tensor
from .. import functional as F
from ..module import Module
from . import parametrize
from ._linalg import geqrf, householder_product, make_orthogonal, matrix_exp, solve

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _tensor_named(module, name):
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    return weight


# ---------------------------------------------------------------- orthogonal
def _is_orthogonal(q):
    """Q^T Q = I to 10 n eps (absolute), for every matrix of the stack."""
    n, k = q.shape[-2:]
    return np.allclose(np.swapaxes(q, -1, -2) @ q, np.eye(k), atol=10.0 * n * np.finfo(q.dtype).eps)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    """Q(X), a matrix with orthonormal columns (rows, if wide) for any X of the weight's shape.

    matrix_exp / cayley: Q = exp(A) or (I - A/2)^{-1} (I + A/2) with the skew-symmetric A = L - L^T, L the
    lower triangle of X (padded with zero columns to square), keeping the first k columns.  householder:
    Q = H_1 ... H_k from X's columns below the diagonal, column i multiplied by trunc(X_ii) (+-1).  With
    ``use_trivialization`` the result is ``base @ Q``: assigning a matrix sets ``base`` (that matrix, made
    orthogonal by QR if it is not) and resets X so that Q = I (Lezcano-Casado, "Trivializations for
    gradient-based optimization on manifolds", NeurIPS 2019).
    """

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        if weight.dtype.kind == "c":
            raise NotImplementedError("orthogonal: complex (unitary) parametrizations are not supported by tinybptt, "
                                      f"got a weight of dtype {weight.dtype}")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2:]
        transposed = n < k
        if transposed:  # a wide matrix: work on its (tall) transpose
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:
                X = cat([X, Tensor(np.zeros(X.shape[:-2] + (n, n - k), X.dtype))], dim=-1)
            A = X - X.mT
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = matrix_exp(A)
            else:
                eye = Tensor(np.eye(n, dtype=A.dtype))
                Q = solve(eye - 0.5 * A, eye + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))  # makes each H_i an exact reflection
            Q = householder_product(A, tau)
            signs = np.trunc(np.diagonal(X._data, axis1=-2, axis2=-1))  # +-1, not differentiated
            Q = Q * Tensor(signs[..., None, :].astype(Q.dtype))
        if "base" in self._buffers:
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q):
        """An X with forward(X) = Q (see the class docstring); Q must have the weight's shape."""
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        q = np.asarray(Q._data)
        n, k = q.shape[-2:]
        transpose = n < k
        if transpose:
            q = np.swapaxes(q, -1, -2)
            n, k = k, n
        if "base" not in self._buffers:
            if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
                raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                          "parametrizations when use_trivialization=False.")
            # householder: X holds Q's Householder vectors below the diagonal and, on it, the sign that
            # makes diag(R) positive (flipped where LAPACK left a column alone, tau = 0: forward's tau is 2)
            a, tau = geqrf(q)
            diag = np.diagonal(a, axis1=-2, axis2=-1).copy()
            diag = np.sign(diag) * np.where(tau == 0, -1, 1)
            idx = np.arange(k)
            a[..., idx, idx] = diag
            return Tensor(np.swapaxes(a, -1, -2) if transpose else a)
        if n == k:
            q = q.copy() if _is_orthogonal(q) else make_orthogonal(q)
        else:  # complete the columns to an n x n orthogonal matrix with random ones
            extra = randn(*q.shape[:-2], n, n - k, dtype=q.dtype)._data
            q = make_orthogonal(np.concatenate([q, extra], axis=-1))
        self.base = Tensor(q)
        neg_eye = np.zeros(Q.shape, Q.dtype)  # forward(-I) = I, so the weight becomes base (its first k columns)
        idx = np.arange(min(Q.shape[-2:]))
        neg_eye[..., idx, idx] = -1
        return Tensor(neg_eye)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Keep ``module.<name>`` (a matrix or a stack of matrices, (..., m, n)) with orthonormal columns
    (m >= n) or rows (m < n): Q^T Q = I or Q Q^T = I.  Returns ``module``.

    ``orthogonal_map``: "matrix_exp" or "cayley" (exp or the Cayley transform of a skew-symmetric
    matrix), or "householder" (a product of reflections); default "matrix_exp" for a square matrix,
    "householder" otherwise.  With ``use_trivialization=True`` (default) a matrix ``base`` is kept in
    ``module.parametrizations.<name>[0].base`` and the weight is ``base @ map(original)``; its initial
    value is the weight itself if orthogonal, else the Q of its QR decomposition.  Complex weights are
    not supported.

    >>> import tinybptt as tb
    >>> rnn = tb.nn.utils.parametrizations.orthogonal(tb.nn.RNN(3, 4), "weight_hh_l0")
    >>> w = rnn.weight_hh_l0
    >>> bool(((w.T @ w - tb.eye(4)).abs() < 1e-5).all())
    True
    """
    weight = _tensor_named(module, name)
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or weight.dtype.kind == "c" else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


# ---------------------------------------------------------------- weight_norm
def norm_except_dim(v, dim):
    """||v||_2 over every dimension but ``dim``, keeping v's number of dimensions; ``dim=-1`` means over
    all of them (a 0-d result), as torch.norm_except_dim."""
    if dim == -1:
        return v.norm()
    if not -v.ndim <= dim < v.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-v.ndim}, {v.ndim - 1}], "
                         f"but got {dim})")
    others = tuple(d for d in range(v.ndim) if d != dim % v.ndim)
    return v.norm(2, dim=others, keepdim=True) if others else v.abs()


class _WeightNorm(Module):
    """w = g v / ||v|| (norms over every dimension but ``dim``; over all when ``dim`` is None or -1)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        """(g, v) = (||w||, w)."""
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation (Salimans and Kingma, 2016): ``module.<name>`` = g v / ||v||, with the
    magnitude g in ``parametrizations.<name>.original0`` (the weight's shape with 1 in every dimension
    but ``dim``) and the direction v in ``original1``; ``dim=None`` takes one norm of the whole
    tensor.  Returns ``module``.  A state_dict of the old ``nn.utils.weight_norm`` (``<name>_g``,
    ``<name>_v``) loads into it.
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def old_keys_to_new(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        g, v = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g in state_dict and v in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v)

    module._register_load_state_dict_pre_hook(old_keys_to_new)
    return module


# ---------------------------------------------------------------- spectral_norm
def _normalized(x, eps):
    """x / max(||x||_2, eps) of a vector (F.normalize)."""
    return x / max(np.sqrt(np.dot(x, x)), eps)


class _SpectralNorm(Module):
    """W / sigma(W), sigma = u^T W v with u, v the leading singular vectors estimated by power iteration
    (buffers ``_u``, ``_v``, iterated ``n_power_iterations`` times per evaluation in training mode);
    a 1-d weight is divided by its norm."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] "
                             f"but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                mat = self._reshape_weight_to_matrix(weight)
            h, w = mat.shape
            u = randn(h, dtype=weight.dtype)._data
            v = randn(w, dtype=weight.dtype)._data
            self.register_buffer("_u", Tensor(_normalized(u, eps)))
            self.register_buffer("_v", Tensor(_normalized(v, eps)))
            self._power_method(mat, 15)  # start from good estimates

    def _reshape_weight_to_matrix(self, weight):
        """The weight as a (size of ``dim``, everything else) matrix."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, mat, iterations):
        """u <- W v / ||W v||, v <- W^T u / ||W^T u||, in place in the buffers."""
        w, u, v = mat._data, self._u, self._v
        for _ in range(iterations):
            u._data[...] = _normalized(w @ v._data, self.eps)
            v._data[...] = _normalized(w.T @ u._data, self.eps)
        u._bump_version()
        v._bump_version()

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            with no_grad():
                self._power_method(mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()  # copies: later iterations must not change this graph's u, v
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        """The identity: assigning W stores W (its spectral norm is not forced to 1)."""
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation (Miyato et al., 2018): ``module.<name>`` = W / sigma(W), sigma(W) the
    largest singular value of W seen as a (size of ``dim``, rest) matrix, estimated by power iteration
    (``n_power_iterations`` steps each time the weight is computed in training mode; 15 at
    registration).  ``dim`` defaults to 0.  The estimates are the buffers
    ``parametrizations.<name>.0._u`` and ``._v`` (random at first, from tinybptt's generator).
    Returns ``module``.
    """
    weight = _tensor_named(module, name)
    if dim is None:
        dim = 0  # PyTorch's 1 for ConvTranspose layers does not arise: tinybptt has none
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
