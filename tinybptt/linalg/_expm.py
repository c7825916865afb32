"""The matrix exponential by scaling and squaring, differentiable (torch.linalg.matrix_exp)."""
import math

import numpy as np

from ..autograd import Function

# Pade approximants r_m = q_m(A)^{-1} p_m(A) of exp(A): coefficients b_0..b_m of p_m (q_m(A) = p_m(-A)) and the
# largest ||A||_1 for which r_m is accurate to double precision (Higham, "The scaling and squaring method for
# the matrix exponential revisited", SIAM J. Matrix Anal. Appl. 26(4), 2005, Table 2.3 and eq. 2.3)
_PADE = {
    3: (1.495585217958292e-2, (120., 60., 12., 1.)),
    5: (2.539398330063230e-1, (30240., 15120., 3360., 420., 30., 1.)),
    7: (9.504178996162932e-1, (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.)),
    9: (2.097847961257068e0, (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880.,
                              3960., 90., 1.)),
    13: (5.371920351148152e0, (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
                               129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
                               40840800., 960960., 16380., 182., 1.)),
}


def _expm_one(a):
    """exp(a) of one float64 square matrix by scaling and squaring with a Pade approximant (Higham 2005)."""
    n = a.shape[0]
    eye = np.eye(n)
    norm = np.abs(a).sum(0).max(initial=0.0)  # ||a||_1
    if not np.isfinite(norm):  # inf or nan anywhere: all nan, as torch
        return np.full_like(a, np.nan)
    squarings = 0
    for m in (3, 5, 7, 9):
        if norm <= _PADE[m][0]:
            break
    else:
        m = 13
        squarings = max(0, math.ceil(math.log2(norm / _PADE[13][0])))
        a = a / 2.0 ** squarings
    b = _PADE[m][1]
    a2 = a @ a
    if m < 13:  # p_m = V + U with V the even and U the odd powers
        powers = [eye, a2]
        while len(powers) < (m + 1) // 2:
            powers.append(powers[-1] @ a2)
        u = a @ sum(b[2 * j + 1] * p for j, p in enumerate(powers))
        v = sum(b[2 * j] * p for j, p in enumerate(powers))
    else:  # degree 13 from a^2, a^4, a^6 only (Higham 2005, eq. 2.6)
        a4 = a2 @ a2
        a6 = a4 @ a2
        u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
        v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = np.linalg.solve(v - u, v + u)
    for _ in range(squarings):
        r = r @ r
    return r


def _expm(a):
    """exp of every square matrix of the stack ``a`` (computed in float64, returned in a's dtype)."""
    flat = a.reshape((int(np.prod(a.shape[:-2])),) + a.shape[-2:]).astype(np.float64)
    out = np.stack([_expm_one(m) for m in flat]) if len(flat) else flat
    return out.reshape(a.shape).astype(a.dtype, copy=False)


class MatrixExp(Function):
    """exp(A) of square matrices.  Backward: the adjoint of the Frechet derivative, L(A^T, G), read from
    the top-right block of exp([[A^T, G], [0, A^T]]) (Higham, Functions of Matrices, 2008, eq. 3.16)."""

    def forward(self, a):
        self.a = a
        return _expm(a)

    def backward(self, g):
        n = self.a.shape[-1]
        at = np.swapaxes(self.a, -1, -2)
        block = np.zeros(at.shape[:-2] + (2 * n, 2 * n), np.result_type(at, g))
        block[..., :n, :n] = block[..., n:, n:] = at
        block[..., :n, n:] = g
        return _expm(block)[..., :n, n:]
