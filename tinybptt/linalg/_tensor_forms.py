"""The linear-algebra functions torch keeps outside torch.linalg (torch.det, torch.svd, ...) and that the
Tensor methods of the same names forward to, with their own conventions (torch.svd returns V, not Vh, and
takes ``some``; torch.qr takes ``some``)."""
import collections

import numpy as np

from ..functions import where
from ..tensor import Tensor
from . import _matrices, cholesky as _cholesky, det, inv, matrix_exp
from . import matrix_power, pinv
from . import qr as _qr, slogdet as _slogdet, svd as _svd

_Slogdet = collections.namedtuple("slogdet", ["sign", "logabsdet"])
_QR = collections.namedtuple("qr", ["Q", "R"])
_SVD = collections.namedtuple("svd", ["U", "S", "V"])

__all__ = ["det", "logdet", "slogdet", "inverse", "pinverse", "cholesky", "qr", "svd", "matrix_power",
           "matrix_exp"]


def slogdet(input):
    """(sign, logabsdet) of det(input), as torch.slogdet."""
    return _Slogdet(*_slogdet(input))


def logdet(input):
    """log(det(input)): nan where the determinant is negative (with a zero gradient), -inf where it is 0."""
    sign, logabs = _slogdet(_matrices("logdet", input))
    return where(sign < 0, Tensor._wrap(np.array(np.nan, logabs.dtype)), logabs)


def inverse(input):
    """The inverse of a square matrix (or of each of a stack), as torch.inverse (= torch.linalg.inv)."""
    return inv(input)


def pinverse(input, rcond=1e-15):
    """The pseudo-inverse with singular values at or below rcond * the largest taken as zero."""
    return pinv(input, rtol=rcond)


def cholesky(input, upper=False):
    """The Cholesky factor, lower (or with ``upper=True`` upper) triangular, as torch.cholesky."""
    return _cholesky(_matrices("cholesky", input), upper=upper)


def qr(input, some=True):
    """(Q, R) as torch.qr: ``some=True`` is linalg.qr's mode 'reduced', False is 'complete'."""
    return _QR(*_qr(input, "reduced" if some else "complete"))


def svd(input, some=True, compute_uv=True):
    """(U, S, V) with input = U diag(S) V^T, as torch.svd (V, not Vh; ``some=False``: square U and V).
    ``compute_uv=False``: U and V are zero (m, m) and (n, n) matrices, S is still differentiable."""
    if isinstance(input, Tensor) and input.ndim < 2:
        raise RuntimeError(f"linalg.svd: input should have at least 2 dimensions, but has {input.ndim} dimensions "
                           f"instead")
    U, S, Vh = _svd(input, full_matrices=not some)
    if not compute_uv:
        m, n = input.shape[-2:]
        zeros = lambda k: Tensor._wrap(np.zeros(input.shape[:-2] + (k, k), input.dtype))  # noqa: E731
        return _SVD(zeros(m), S, zeros(n))
    return _SVD(U, S, Vh.mT)
