"""The differentiable matrix functions of tinybptt.linalg: each forward (numpy's LAPACK routines on stacks of
matrices) beside its backward (the standard adjoint formulas, cited where they are used).

All work on real (..., m, n) arrays; ``mT`` below means the last two axes swapped."""
import numpy as np

from ..autograd import Function


class LinAlgError(RuntimeError):
    """A matrix the operation cannot handle (singular, not positive-definite), as torch.linalg.LinAlgError."""


def _mT(a):
    return np.swapaxes(a, -1, -2)


def _diag_embed(d):
    """(..., k) -> (..., k, k) with d on the diagonal."""
    out = np.zeros(d.shape + d.shape[-1:], d.dtype)
    np.einsum("...ii->...i", out)[...] = d
    return out


def _unused(g):
    """True for the all-zero gradient the tape gives an output nobody used (torch skips such terms, so the
    1 / (lambda_i - lambda_j) factors of eigh and svd then give no nan for repeated eigenvalues)."""
    return not g.any()


def _failing(a, test):
    """Flat batch index of the first matrix of the stack ``a`` for which ``test(matrix)`` raises numpy's
    LinAlgError (the first one, as torch reports it)."""
    for i, m in enumerate(a.reshape(-1, *a.shape[-2:])):
        try:
            test(m)
        except np.linalg.LinAlgError:
            return i
    return 0


def _batch_prefix(a, i):
    return f"(Batch element {i}): " if a.ndim > 2 else ""


def lu_info(m):
    """(info, det) of m's LU factorisation with partial pivoting as LAPACK's getrf does it: info is the 1-based
    position of the first exactly-zero pivot (0 when there is none); det the signed product of the pivots
    (a signed zero for a singular matrix, as torch's det)."""
    a, n = m.copy(), m.shape[0]
    info, det = 0, m.dtype.type(1)
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if p != k:
            a[[k, p]] = a[[p, k]]
            det = -det
        det = det * a[k, k]
        if a[k, k] == 0:
            info = info or k + 1
            continue
        a[k + 1:, k] /= a[k, k]
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return info, det


def singular_error(name, a):
    """torch's LinAlgError for a singular matrix in inv (naming the zero diagonal element of U, the batch element)."""
    i = _failing(a, np.linalg.inv)
    k = lu_info(a.reshape(-1, *a.shape[-2:])[i])[0] or a.shape[-1]
    return LinAlgError(f"{name}: {_batch_prefix(a, i)}The diagonal element {k} is zero, the inversion could not be "
                       f"completed because the input matrix is singular.")


def inv_ex(a):
    """(inverse, info) of a stack of square matrices: info is 0, or the 1-based position of the first zero pivot
    of a singular matrix, whose inverse is then nan."""
    flat = a.reshape(-1, *a.shape[-2:])
    info = np.zeros(len(flat), np.int32)
    try:
        return np.linalg.inv(a), info.reshape(a.shape[:-2])
    except np.linalg.LinAlgError:
        pass
    out = np.empty_like(flat)
    for i, m in enumerate(flat):
        try:
            out[i] = np.linalg.inv(m)
        except np.linalg.LinAlgError:
            out[i] = np.nan
            info[i] = lu_info(m)[0] or m.shape[0]
    return out.reshape(a.shape), info.reshape(a.shape[:-2])


# ---------------------------------------------------------------- determinants and inverse
class Det(Function):
    """det(A).  Backward (Jacobi's formula d det = det tr(A^{-1} dA)): g det A^{-T}; zero where det(A) = 0, as torch."""

    def forward(self, a):
        self.a, self.det = a, np.linalg.det(a)
        return self.det

    def backward(self, g):
        singular = self.det == 0
        a = np.where(singular[..., None, None], np.eye(self.a.shape[-1], dtype=self.a.dtype), self.a)
        scale = np.where(singular, 0, g * self.det)
        return scale[..., None, None] * _mT(np.linalg.inv(a))


def _inv_or_inf(a, sign):
    """A^{-1}; for an exactly singular matrix (sign 0) adj(A) / det(A) instead, +-inf where the adjugate is
    nonzero, divided by the signed zero of the LU pivots as torch (the adjugate from the SVD A = U S V^T:
    adj(A) = det(U V^T) V diag(prod_{j != i} s_j) U^T)."""
    singular = sign == 0
    if not singular.any():
        return np.linalg.inv(a)
    out = np.linalg.inv(np.where(singular[..., None, None], np.eye(a.shape[-1], dtype=a.dtype), a))
    u, s, vh = np.linalg.svd(a[singular])
    others = np.stack([np.prod(np.delete(s, i, -1), -1) for i in range(s.shape[-1])], -1)
    adj = (np.linalg.det(u) * np.linalg.det(vh))[:, None, None] * (_mT(vh) * others[:, None, :]) @ _mT(u)
    zeros = np.array([lu_info(m)[1] for m in a[singular]], a.dtype)
    out[singular] = adj / zeros[:, None, None]
    return out


class SlogDet(Function):
    """(sign(det A), log|det A|).  Backward: g_logabsdet A^{-T} (d log|det A| = tr(A^{-1} dA)); the sign has none."""

    def forward(self, a):
        self.a = a
        self.sign, logabs = np.linalg.slogdet(a)
        return self.sign, logabs

    def backward(self, g_sign, g_logabs):
        return g_logabs[..., None, None] * _mT(_inv_or_inf(self.a, self.sign))


class Inv(Function):
    """A^{-1}.  Backward (d A^{-1} = -A^{-1} dA A^{-1}): -A^{-T} G A^{-T}."""

    def forward(self, a, name="linalg.inv"):
        try:
            self.y = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise singular_error(name, a) from None
        return self.y

    def backward(self, g):
        yt = _mT(self.y)
        return -yt @ g @ yt


class Solve(Function):
    """X = A^{-1} B for square A and matrices B (stacked, broadcast).  Backward: gB = A^{-T} G, gA = -gB X^T."""

    def forward(self, a, b):
        self.a = a
        try:
            self.x = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            whole = np.broadcast_to(a, batch + a.shape[-2:])
            raise LinAlgError(f"torch.linalg.solve: {_batch_prefix(whole, _failing(whole, np.linalg.inv))}The solver "
                              f"failed because the input matrix is singular.") from None
        return self.x

    def backward(self, g):
        gb = np.linalg.solve(_mT(self.a), g)
        return -gb @ _mT(self.x), gb


# ---------------------------------------------------------------- decompositions
class Cholesky(Function):
    """L with A = L L^T (``upper``: U = L^T), from A's lower (upper) triangle.  Backward (Murray, "Differentiation
    of the Cholesky decomposition", 2016, eq. 10): gA = L^{-T} Phi(L^T gL) L^{-1}, Phi taking the lower triangle
    with the diagonal halved, then symmetrised."""

    def forward(self, a, upper=False):
        try:
            out = np.linalg.cholesky(a, upper=upper)
            failed = np.isnan(np.einsum("...ii->...i", out)).any()  # a nan pivot: LAPACK's "not > 0" too
        except np.linalg.LinAlgError:
            failed = True
        if failed:
            flat = a.reshape(-1, *a.shape[-2:])
            i = next(i for i, m in enumerate(flat) if not _is_pd(m, upper))
            k = next(k for k in range(1, a.shape[-1] + 1) if not _is_pd(flat[i, :k, :k], upper))
            raise LinAlgError(f"linalg.cholesky: {_batch_prefix(a, i)}The factorization could not be completed "
                              f"because the input is not positive-definite (the leading minor of order {k} is not "
                              f"positive-definite).")
        self.upper, self.l = upper, (_mT(out) if upper else out)
        return out

    def backward(self, g):
        l, gl = self.l, (_mT(g) if self.upper else g)
        phi = np.tril(_mT(l) @ gl)
        np.einsum("...ii->...i", phi)[...] *= 0.5
        linv = np.linalg.inv(l)
        ga = _mT(linv) @ phi @ linv
        return 0.5 * (ga + _mT(ga))


def _is_pd(m, upper):
    try:
        return not np.isnan(np.diagonal(np.linalg.cholesky(m, upper=upper))).any()
    except np.linalg.LinAlgError:
        return False


def svd_arrays(a, **options):
    """np.linalg.svd, failing as torch does (LinAlgError) where it does not converge."""
    try:
        return np.linalg.svd(a, **options)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input matrix contained "
                          "non-finite values.") from None


class QR(Function):
    """A = QR, Q with orthonormal columns, R upper triangular (mode 'reduced', 'complete' or 'r').

    Backward for m >= n (Liao et al., "Differentiable programming tensor networks", PRX 9, 2019, eq. 7):
    gA = (gQ + Q copyltu(M)) R^{-T}, M = R gR^T - gQ^T Q, copyltu(M) = the symmetric matrix with M's lower
    triangle.  For m < n, A = [X | Y], R = [U | V] with X = QU: gY = Q gV and gX as above with gQ + Y gV^T."""

    def forward(self, a, mode="reduced"):
        self.a, self.mode = a, mode
        if mode == "r":
            self.r = np.linalg.qr(a, mode="r")
            return np.zeros((0,), a.dtype), self.r
        self.q, self.r = np.linalg.qr(a, mode=mode)
        return self.q, self.r

    def backward(self, gq, gr):
        m, n = self.a.shape[-2:]
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                               "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        q, r = self.q, self.r
        if m >= n:
            return _qr_tall_backward(q, r, gq, gr)
        gx = _qr_tall_backward(q, r[..., :m], gq + self.a[..., m:] @ _mT(gr[..., m:]), gr[..., :m])
        return np.concatenate([gx, q @ gr[..., m:]], -1)


def _qr_tall_backward(q, r, gq, gr):
    m = r @ _mT(gr) - _mT(gq) @ q
    low = np.tril(m, -1)
    sym = low + _mT(low) + _diag_embed(np.einsum("...ii->...i", m))
    return _mT(_solve_upper(r, _mT(gq + q @ sym)))  # X R^{-T} = (R^{-1} X^T)^T


def _solve_upper(r, b):
    """R^{-1} B for upper-triangular R; a zero on R's diagonal gives inf/nan (as a triangular solve), no error."""
    try:
        return np.linalg.solve(r, b)
    except np.linalg.LinAlgError:
        x = np.zeros(np.broadcast_shapes(r.shape[:-2], b.shape[:-2]) + b.shape[-2:], np.result_type(r, b))
        for i in range(r.shape[-1] - 1, -1, -1):  # back substitution
            rest = np.einsum("...k,...kj->...j", r[..., i, i + 1:], x[..., i + 1:, :])
            x[..., i, :] = (b[..., i, :] - rest) / r[..., i, i, None]
        return x


class Eigh(Function):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix from its ``UPLO`` triangle.

    Backward (Giles, "An extended collection of matrix derivative results", 2008, sec. 3.1):
    gA = V (diag(gL) + F o skew(V^T gV)) V^T, F_ij = 1 / (lambda_j - lambda_i), skew(X) = (X - X^T) / 2;
    inf/nan for repeated eigenvalues when the eigenvectors are used, as torch."""

    def forward(self, a, UPLO="L"):
        self.l, self.v = np.linalg.eigh(a, UPLO=UPLO)
        return self.l, self.v

    def backward(self, gl, gv):
        v = self.v
        if _unused(gv):
            inner = _diag_embed(gl)
        else:
            vgv = _mT(v) @ gv
            e = self.l[..., None, :] - self.l[..., :, None]
            np.einsum("...ii->...i", e)[...] = 1
            inner = 0.5 * (vgv - _mT(vgv)) / e
            np.einsum("...ii->...i", inner)[...] = gl
        return v @ inner @ _mT(v)


class SVD(Function):
    """A = U diag(S) Vh with S descending (``full_matrices``: U and Vh square).

    Backward (Townsend, "Differentiating the singular value decomposition", 2016), with k = min(m, n) and the
    first k columns of U and rows of Vh, J = U^T gU, K = Vh gVh^T, F_ij = 1 / (s_j^2 - s_i^2):
    gA = U [(F o (J - J^T)) S + S (F o (K - K^T)) + diag(gS)] Vh
         + (I - U U^T) gU S^{-1} Vh + U S^{-1} (gVh - K^T Vh)   (the last two only for m > k, resp. n > k)."""

    def forward(self, a, full_matrices=True):
        self.u, self.s, self.vh = svd_arrays(a, full_matrices=full_matrices)
        return self.u, self.s, self.vh

    def backward(self, gu, gs, gvh):
        k = self.s.shape[-1]
        u, s, vh = self.u[..., :k], self.s, self.vh[..., :k, :]
        gu, gvh = gu[..., :k], gvh[..., :k, :]
        if _unused(gu) and _unused(gvh):
            return (u * gs[..., None, :]) @ vh
        j, kk = _mT(u) @ gu, vh @ _mT(gvh)
        s2 = s * s
        e = s2[..., None, :] - s2[..., :, None]
        np.einsum("...ii->...i", e)[...] = 1
        inner = (j - _mT(j)) / e * s[..., None, :] + s[..., :, None] * ((kk - _mT(kk)) / e) + _diag_embed(gs)
        ga = u @ inner @ vh
        m, n = u.shape[-2], vh.shape[-1]
        if m > k:
            ga = ga + ((gu - u @ j) / s[..., None, :]) @ vh
        if n > k:
            ga = ga + u @ ((gvh - _mT(kk) @ vh) / s[..., :, None])
        return ga


class Pinv(Function):
    """The Moore-Penrose pseudo-inverse, singular values (|eigenvalues| for ``hermitian``) at or below
    ``tol`` (one per matrix) taken as zero.  Backward (Golub and Pereyra, SIAM J. Numer. Anal. 10(2), 1973,
    eq. 4.12, for a constant rank): with P = A^+,
    gA = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)."""

    def forward(self, a, tol, hermitian=False):
        self.a = a
        if hermitian:
            lam, v = np.linalg.eigh(a)
            keep = np.abs(lam) > tol[..., None]
            lam_inv = np.where(keep, 1 / np.where(keep, lam, 1), 0)
            self.p = (v * lam_inv[..., None, :]) @ _mT(v)
        else:
            u, s, vh = svd_arrays(a, full_matrices=False)
            keep = s > tol[..., None]
            s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
            self.p = (_mT(vh) * s_inv[..., None, :]) @ _mT(u)
        self.p = self.p.astype(a.dtype, copy=False)
        return self.p

    def backward(self, g):
        a, p, gt = self.a, self.p, _mT(g)
        pt = _mT(p)
        return -pt @ g @ pt + (gt - a @ (p @ gt)) @ (p @ pt) + (pt @ p) @ (gt - (gt @ p) @ a)


class CountNonzero(Function):
    """The number of nonzero elements over ``axes`` (vector_norm's ord=0): recorded, but with no gradient, as torch."""

    def forward(self, a, axes, keepdim):
        return np.count_nonzero(a, axis=axes, keepdims=keepdim).astype(a.dtype)

    def backward(self, g):
        return None
