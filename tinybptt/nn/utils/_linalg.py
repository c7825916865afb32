"""The matrix functions the orthogonal parametrization needs, differentiable: matrix_exp and solve (from
tinybptt.linalg) and householder_product (as torch.linalg.householder_product on real tall matrices and
stacks of them)."""
import numpy as np

from ...linalg import matrix_exp, solve  # noqa: F401  (used by parametrizations)
from ...tensor import Tensor


def householder_product(a, tau):
    """The first k columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, where v_i is column i of the
    (..., n, k) matrix ``a`` below the diagonal with a 1 on it (LAPACK's orgqr, torch.linalg.householder_product),
    for nonzero ``tau``.

    Built from differentiable ops with the UT transform: H_1 ... H_k = I - V T V^T with
    T^{-1} = diag(1 / tau) + (the strictly upper triangle of V^T V) (Joffrain et al., "Accumulating
    Householder transformations, revisited", ACM TOMS 32(2), 2006), so Q = E - V T V[:k]^T: one GEMM for
    V^T V, one k x k solve and one GEMM, forward and backward."""
    n, k = a.shape[-2:]
    eye = Tensor(np.eye(n, k, dtype=a.dtype))
    v = a.tril(-1) + eye
    t_inv = (v.mT @ v).triu(1) + (1.0 / tau).unsqueeze(-1) * Tensor(np.eye(k, dtype=a.dtype))
    return eye - v @ solve(t_inv, v[..., :k, :].mT)


# ---------------------------------------------------------------- no-grad helpers on arrays
def make_orthogonal(a):
    """The Q of A = QR with diag(R) >= 0 (a column is zero where R's diagonal is), of a stack of matrices."""
    q, r = np.linalg.qr(a)
    return (q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]).astype(a.dtype, copy=False)


def geqrf(a):
    """LAPACK's geqrf of a stack of (n, k) matrices, n >= k: (R above the diagonal with the Householder vectors
    below it, the reflectors' tau), as torch.geqrf."""
    h, tau = np.linalg.qr(a, mode="raw")  # numpy returns h transposed (Fortran order)
    return np.swapaxes(h, -1, -2).astype(a.dtype), tau.astype(a.dtype)
