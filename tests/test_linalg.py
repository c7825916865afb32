"""tinybptt.linalg against torch.linalg 2.13: values and gradients (float64 tight, float32 loose, batched),
gauge-invariant quantities for the decompositions, finite differences, and the exception types of bad input."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.linalg as LA

TL = torch.linalg
INF = float("inf")
TOL = {np.float64: 1e-10, np.float32: 2e-4}


def arr(x):
    return x.detach().numpy() if hasattr(x, "detach") else x.numpy() if isinstance(x, tb.Tensor) else np.asarray(x)


def close(a, b, tol):
    a, b = arr(a), arr(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert str(a.dtype) == str(b.dtype).replace("torch.", "")
    scale = max(1.0, float(np.abs(b[np.isfinite(b)]).max(initial=0)))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)


def outputs(y):
    return list(y) if isinstance(y, tuple) else [y]


def compare(ours, theirs, arrays, dtype=np.float64, tol=None, grads=True):
    """ours(*tinybptt leaves) and theirs(*torch leaves) give the same tensors (a tensor or a tuple; the
    functions map decompositions to gauge-invariant quantities), and the same gradients of
    sum_k <u_k, out_k> for fixed random u_k with respect to every input."""
    tol = tol or TOL[dtype]
    arrays = [np.asarray(a, dtype) for a in arrays]
    xs = [tb.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yt = outputs(ours(*xs)), outputs(theirs(*ts))
    assert len(ya) == len(yt)
    for a, t in zip(ya, yt):
        close(a, t, tol)
    if not grads:
        return
    rng = np.random.default_rng(7)
    us = [rng.uniform(0.5, 1.5, tuple(t.shape)).astype(dtype) for t in yt]
    keep = [i for i, t in enumerate(yt) if t.requires_grad]
    torch.autograd.backward([yt[i] for i in keep], [torch.tensor(us[i]) for i in keep])
    tb.autograd.backward([ya[i] for i in keep], [us[i] for i in keep])
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None or not arr(x.grad).any()
        else:
            close(x.grad, t.grad, tol)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def spd(*shape, seed=0):
    """Symmetric positive-definite matrices of shape (..., n, n)."""
    a = rand(*shape, seed=seed)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def sym(*shape, seed=0):
    a = rand(*shape, seed=seed)
    return a + np.swapaxes(a, -1, -2)


# ---------------------------------------------------------------- vector_norm, matrix_norm, norm
ORDS = [2, 1, 3, 0.5, 1.5, 0, INF, -INF, -1, -0.5, -2, 2.5]
VEC = np.array([[1.0, 0.0, -2.0, 2.0], [2.0, -2.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ord", ORDS)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-1, True), (0, False),
                                         ((0, 1), False), ((1,), True)])
def test_vector_norm(ord, dim, keepdim, dtype):
    for x in (VEC, rand(3, 4) * 3, np.zeros((2, 3))):
        compare(lambda a: LA.vector_norm(a, ord, dim, keepdim), lambda t: TL.vector_norm(t, ord, dim, keepdim),
                [x], dtype)


def test_vector_norm_ord0_has_no_gradient_and_zero_vector_gradient_is_zero():
    x = tb.tensor(VEC, requires_grad=True)
    y = LA.vector_norm(x, 0, 1)
    assert y.requires_grad
    y.sum().backward()
    assert x.grad is None
    for ord in (2, 1, 0.5, INF, -1):
        x = tb.zeros(3, dtype=tb.float64, requires_grad=True)
        LA.vector_norm(x, ord).backward()
        assert (x.grad.numpy() == 0).all()


def test_vector_norm_dtype_and_scalars():
    compare(lambda a: LA.vector_norm(a, 3, dtype=tb.float64), lambda t: TL.vector_norm(t, 3, dtype=torch.float64),
            [rand(5)], np.float32, tol=1e-6)
    compare(lambda a: LA.vector_norm(a), lambda t: TL.vector_norm(t), [np.array(-3.0)])
    compare(lambda a: LA.vector_norm(a, 2), lambda t: TL.vector_norm(t, 2), [np.zeros((0, 3))], grads=False)


def test_vector_norm_errors():
    with pytest.raises(RuntimeError, match="vector_norm.*floating point"):
        LA.vector_norm(tb.tensor([1, 2]))
    with pytest.raises(TypeError, match="vector_norm.*ord"):
        LA.vector_norm(tb.ones(3), "fro")
    with pytest.raises(RuntimeError, match="vector_norm cannot compute the inf norm on an empty tensor"):
        LA.vector_norm(tb.ones(0), INF)
    with pytest.raises(RuntimeError, match="vector_norm cannot compute the -1 norm"):
        LA.vector_norm(tb.ones(0), -1)
    with pytest.raises(RuntimeError, match="vector_norm: dtype should be floating point"):
        LA.vector_norm(tb.ones(3), dtype=tb.int64)
    with pytest.raises(RuntimeError, match="vector_norm: the dtype of the input \\(Double\\) should be convertible"):
        LA.vector_norm(tb.ones(3, dtype=tb.float64), dtype=tb.float32)
    with pytest.raises(IndexError, match="vector_norm"):
        LA.vector_norm(tb.ones(3), dim=2)
    with pytest.raises(TypeError, match="must be Tensor"):
        LA.vector_norm([1.0, 2.0])


MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, INF, -INF]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ord", MATRIX_ORDS)
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((-2, -1), True), ((0, 2), False), ((2, 0), True),
                                         ((1, 0), False)])
def test_matrix_norm(ord, dim, keepdim, dtype):
    m = np.array([[1.0, -1.0, 2.0], [2.0, 0.0, 1.0], [1.0, 2.0, -1.0]])  # ties in the row and column sums
    for x in (rand(2, 3, 4), np.stack([m, 0.5 * m.T])):
        compare(lambda a: LA.matrix_norm(a, ord, dim, keepdim), lambda t: TL.matrix_norm(t, ord, dim, keepdim),
                [x], dtype)


def test_matrix_norm_zero_matrix_and_ties_as_torch():
    for ord in ("nuc", 2, -2, 1, INF):
        compare(lambda a: LA.matrix_norm(a, ord), lambda t: TL.matrix_norm(t, ord), [np.zeros((3, 2))])
    compare(lambda a: LA.matrix_norm(a, 2), lambda t: TL.matrix_norm(t, 2), [np.diag([3.0, 1.0, 2.0])])


def test_matrix_norm_errors():
    with pytest.raises(RuntimeError, match="matrix_norm: The input tensor A must have at least 2 dimensions"):
        LA.matrix_norm(tb.ones(3))
    with pytest.raises(RuntimeError, match="matrix_norm: Order 3 not supported"):
        LA.matrix_norm(tb.ones(3, 3), 3)
    with pytest.raises(RuntimeError, match="matrix_norm: Order abc not supported"):
        LA.matrix_norm(tb.ones(3, 3), "abc")
    with pytest.raises(RuntimeError, match="matrix_norm: dims must be different"):
        LA.matrix_norm(tb.ones(3, 3), dim=(0, 0))
    with pytest.raises(TypeError, match="matrix_norm"):
        LA.matrix_norm(tb.ones(3, 3), dim=0)
    with pytest.raises(RuntimeError, match="matrix_norm: Expected a floating point"):
        LA.matrix_norm(tb.ones(3, 3, dtype=tb.int64))


@pytest.mark.parametrize("shape,ord,dim", [((5,), None, None), ((5,), 3, None), ((5,), INF, None),
                                           ((3, 4), None, None), ((3, 4), "fro", None), ((3, 4), "nuc", None),
                                           ((3, 4), 2, None), ((3, 4), -INF, None), ((3, 4), 1, 1),
                                           ((2, 3, 4), None, None), ((2, 3, 4), None, (0, 2)),
                                           ((2, 3, 4), 0.5, 2), ((2, 3, 4), -2, (1, 2)), ((2, 3, 4), 1, (2,)),
                                           ((2, 3, 4), "nuc", (0, 1))])
def test_norm_dispatch(shape, ord, dim):
    for keepdim in (False, True):
        compare(lambda a: LA.norm(a, ord, dim, keepdim), lambda t: TL.norm(t, ord, dim, keepdim), [rand(*shape)])


def test_torch_norm_nuc():
    compare(lambda a: tb.norm(a, p="nuc"), lambda t: torch.norm(t, p="nuc"), [rand(2, 3)])
    compare(lambda a: a.norm("nuc", (0, 2), True), lambda t: t.norm("nuc", (0, 2), True), [rand(2, 3, 4)])
    with pytest.raises(RuntimeError, match="matrix_norm: dim must be a 2-tuple"):
        tb.norm(tb.ones(2, 3, 4), p="nuc")


def test_norm_errors():
    with pytest.raises(RuntimeError, match="linalg.norm: If dim is not specified but ord is, the input must be 1D"):
        LA.norm(tb.ones(3, 3, 3), 2)
    with pytest.raises(RuntimeError, match="linalg.norm: If dim is specified, it must be of length 1 or 2"):
        LA.norm(tb.ones(3, 3, 3), dim=(0, 1, 2))
    with pytest.raises(RuntimeError, match="matrix_norm: The input tensor A must have at least 2 dimensions"):
        LA.norm(tb.ones(3), "fro")
    with pytest.raises(RuntimeError, match="matrix_norm: dim must be a 2-tuple"):
        LA.norm(tb.ones(3, 3), "fro", dim=1)


# ---------------------------------------------------------------- det, slogdet, inv, solve
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 4, 4), (2, 1, 3, 3)])
def test_det_slogdet_inv(shape, dtype):
    x = rand(*shape) + 0.5 * np.eye(shape[-1])
    tol = TOL[dtype] * (10 if dtype == np.float32 else 1)
    compare(LA.det, TL.det, [x], dtype, tol)
    compare(lambda a: tuple(LA.slogdet(a)), lambda t: tuple(TL.slogdet(t)), [x], dtype, tol)
    compare(LA.inv, TL.inv, [x], dtype, tol)
    compare(tb.logdet, torch.logdet, [x], dtype, tol)
    compare(lambda a: a.det() + a.logdet() + a.inverse().sum() + a.slogdet().logabsdet,
            lambda t: t.det() + t.logdet() + t.inverse().sum() + t.slogdet().logabsdet, [x], dtype, tol)


def test_det_and_logdet_at_singular_and_negative_matrices_as_torch():
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]], [[2.0, 1.0], [1.0, 3.0]]])
    compare(LA.det, TL.det, [singular])
    compare(lambda a: LA.slogdet(a).logabsdet, lambda t: TL.slogdet(t).logabsdet, [singular[:1]])
    compare(tb.logdet, torch.logdet, [-np.eye(3)])
    compare(tb.logdet, torch.logdet, [np.stack([-np.eye(3), 2 * np.eye(3)])])
    s = LA.slogdet(tb.tensor(singular))
    assert isinstance(s, tuple) and s._fields == ("sign", "logabsdet")
    assert s.sign.numpy().tolist() == [0, 0, 1] and s.logabsdet.numpy()[0] == -INF


def test_inv_ex():
    a = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]])
    ours, theirs = LA.inv_ex(tb.tensor(a)), TL.inv_ex(torch.tensor(a))
    assert ours._fields == ("inverse", "info")
    assert ours.info.dtype == tb.int32 and ours.info.numpy().tolist() == theirs.info.tolist() == [0, 2, 0]
    np.testing.assert_allclose(ours.inverse.numpy()[[0, 2]], theirs.inverse.numpy()[[0, 2]])
    compare(lambda x: LA.inv_ex(x).inverse, lambda t: TL.inv_ex(t).inverse, [rand(2, 3, 3)])
    assert LA.inv_ex(tb.zeros(3, 3)).info.item() == TL.inv_ex(torch.zeros(3, 3)).info.item() == 1
    with pytest.raises(LA.LinAlgError, match="linalg.inv"):
        LA.inv_ex(tb.tensor(a), check_errors=True)


def test_singular_inverse_raises_linalg_error():
    assert issubclass(LA.LinAlgError, RuntimeError)
    s = [[1.0, 2.0], [2.0, 4.0]]
    with pytest.raises(LA.LinAlgError, match="^linalg.inv: The diagonal element 2 is zero, the inversion could not"):
        LA.inv(tb.tensor(s))
    with pytest.raises(LA.LinAlgError, match=r"linalg.inv: \(Batch element 1\): The diagonal element 2 is zero"):
        LA.inv(tb.tensor([np.eye(2), s]))
    with pytest.raises(LA.LinAlgError, match="linalg.inv"):
        LA.matrix_power(tb.tensor(s), -1)
    with pytest.raises(LA.LinAlgError, match="linalg.solve: The solver failed because the input matrix is singular"):
        LA.solve(tb.tensor(s), tb.ones(2))
    with pytest.raises(LA.LinAlgError, match=r"linalg.solve: \(Batch element 0\)"):
        LA.solve(tb.zeros(2, 3, 3), tb.ones(3, 1))


@pytest.mark.parametrize("fn", ["det", "slogdet", "inv", "cholesky", "eigh", "matrix_exp", "matrix_power"])
def test_square_matrix_errors(fn):
    f = (lambda a: LA.matrix_power(a, 2)) if fn == "matrix_power" else getattr(LA, fn)
    with pytest.raises(RuntimeError, match=f"linalg.{fn}: A must be batches of square matrices, but they are 3 by 2"):
        f(tb.ones(3, 2))
    with pytest.raises(RuntimeError, match=f"linalg.{fn}: The input tensor A must have at least 2 dimensions"):
        f(tb.ones(3))
    with pytest.raises(RuntimeError, match=f"linalg.{fn}: Expected a floating point"):
        f(tb.ones(2, 2, dtype=tb.int64))
    with pytest.raises(TypeError, match="must be Tensor"):
        f([[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("a_shape,b_shape,left", [((3, 3), (3,), True), ((3, 3), (3, 2), True),
                                                  ((2, 3, 3), (2, 3), True), ((2, 3, 3), (3,), True),
                                                  ((2, 3, 3), (3, 4), True), ((3, 3), (2, 3, 1), True),
                                                  ((4, 1, 3, 3), (2, 3, 2), True), ((3, 3), (2, 3), False),
                                                  ((2, 3, 3), (5, 3), False), ((3, 3), (4, 2, 3), False)])
def test_solve(a_shape, b_shape, left, dtype):
    a = rand(*a_shape) + 2 * np.eye(a_shape[-1])
    compare(lambda x, y: LA.solve(x, y, left=left), lambda x, y: TL.solve(x, y, left=left), [a, rand(*b_shape, seed=1)],
            dtype, TOL[dtype] * (10 if dtype == np.float32 else 1))


def test_solve_errors():
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                                           r"\(3x3 and 2x3\)"):
        LA.solve(tb.eye(3), tb.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"AX = B \(3x3 and 4x1\)"):
        LA.solve(tb.eye(3), tb.ones(4))
    with pytest.raises(RuntimeError, match=r"XA = B \(3x3 and 3x1\)"):
        LA.solve(tb.eye(3), tb.ones(3), left=False)
    with pytest.raises(RuntimeError, match="linalg.solve: Expected A and B to have the same dtype"):
        LA.solve(tb.eye(3), tb.ones(3, dtype=tb.float64))


# ---------------------------------------------------------------- decompositions
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(shape, upper, dtype):
    a = spd(*shape)
    a_nonsym = a + np.triu(rand(*shape, seed=3), 1)  # only one triangle is read
    for x in (a, a_nonsym):
        compare(lambda t: LA.cholesky(t, upper=upper), lambda t: TL.cholesky(t, upper=upper), [x], dtype)
        compare(lambda t: t.cholesky(upper), lambda t: t.cholesky(upper), [x], dtype)


def test_cholesky_errors():
    with pytest.raises(LA.LinAlgError, match=r"^linalg.cholesky: The factorization could not be completed because the "
                                             r"input is not positive-definite \(the leading minor of order 1"):
        LA.cholesky(-tb.eye(3))
    with pytest.raises(LA.LinAlgError, match=r"\(Batch element 1\):.*leading minor of order 2 is not"):
        LA.cholesky(tb.tensor([np.eye(3), np.diag([1.0, -1.0, 1.0])]))


def qr_invariants(qr_fn, transpose=lambda m: m.mT):
    """Q and R with the signs of R's diagonal made positive (both frameworks' QR are unique up to them)."""
    def f(a):
        q, r = qr_fn(a)
        d = r.detach().diagonal(0, -2, -1).sign()
        k = d.shape[-1]
        return q[..., :k] * d.unsqueeze(-2), r[..., :k, :] * d.unsqueeze(-1)
    return f


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,mode", [((4, 3), "reduced"), ((3, 3), "complete"), ((3, 5), "reduced"),
                                        ((3, 5), "complete"), ((2, 5, 3), "reduced"), ((2, 3, 4), "complete")])
def test_qr(shape, mode, dtype):
    compare(qr_invariants(lambda a: LA.qr(a, mode)), qr_invariants(lambda t: TL.qr(t, mode)), [rand(*shape)], dtype)
    q, r = LA.qr(tb.tensor(rand(*shape)), mode)
    tq, tr = TL.qr(torch.tensor(rand(*shape)), mode)
    assert q.shape == tuple(tq.shape) and r.shape == tuple(tr.shape)


def test_qr_modes_and_errors():
    a = tb.tensor(rand(4, 3), requires_grad=True)
    q, r = LA.qr(a, "complete")
    assert q.shape == (4, 4) and r.shape == (4, 3)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete' and nrows > ncols"):
        r.sum().backward()
    q, r = LA.qr(a, "r")
    assert q.shape == (0,) and r.shape == (3, 3)
    np.testing.assert_allclose(np.abs(r.detach().numpy()), np.abs(TL.qr(torch.tensor(rand(4, 3)), "r").R.numpy()))
    with pytest.raises(RuntimeError, match="depends on Q, which is not computed when mode='r'"):
        r.sum().backward()
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'x'"):
        LA.qr(a, "x")
    with pytest.raises(RuntimeError, match="linalg.qr: The input tensor A must have at least 2 dimensions"):
        LA.qr(tb.ones(3))


def test_qr_gradient_at_a_singular_r_is_inf_nan_as_torch():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 0.0]])
    def total(qr):
        return lambda x: (lambda q, r: q.sum() + r.sum())(*qr(x))
    compare(total(LA.qr), total(TL.qr), [a])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh(shape, UPLO, dtype):
    def inv(f):
        return lambda a: (lambda r: (r.eigenvalues, r.eigenvectors * r.eigenvectors))(f(a, UPLO))
    compare(inv(LA.eigh), inv(TL.eigh), [sym(*shape)], dtype)
    compare(lambda a: LA.eigvalsh(a, UPLO), lambda t: TL.eigvalsh(t, UPLO), [rand(*shape)], dtype)


def test_eigh_repeated_eigenvalues_as_torch():
    eye = np.eye(3)
    compare(lambda a: LA.eigh(a).eigenvalues, lambda t: TL.eigh(t).eigenvalues, [eye])  # finite: no eigenvectors
    a = tb.tensor(eye, requires_grad=True)
    LA.eigh(a).eigenvectors.abs().sum().backward()
    assert np.isnan(a.grad.numpy()).all()
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(tb.eye(2), UPLO="X")


def svd_invariants(svd_fn):
    """S, U o U and Vh o Vh (each column / row only up to its sign) over the first k = min(m, n) vectors."""
    def f(a):
        u, s, vh = svd_fn(a)
        k = s.shape[-1]
        u, vh = u[..., :k], vh[..., :k, :]
        return s, u * u, vh * vh, (u * s.unsqueeze(-2)) @ vh
    return f


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 4, 2)])
@pytest.mark.parametrize("full", [False, True])
def test_svd(shape, full, dtype):
    compare(svd_invariants(lambda a: LA.svd(a, full)), svd_invariants(lambda t: TL.svd(t, full)), [rand(*shape)],
            dtype, TOL[dtype] * (5 if dtype == np.float32 else 1))
    compare(LA.svdvals, TL.svdvals, [rand(*shape)], dtype)
    u, s, vh = LA.svd(tb.tensor(rand(*shape)), full)
    tu, ts, tvh = TL.svd(torch.tensor(rand(*shape)), full)
    assert (u.shape, s.shape, vh.shape) == (tuple(tu.shape), tuple(ts.shape), tuple(tvh.shape))


def test_svdvals_of_repeated_singular_values_is_finite_as_torch():
    compare(LA.svdvals, TL.svdvals, [np.eye(3)])
    compare(lambda a: LA.matrix_norm(a, "nuc"), lambda t: TL.matrix_norm(t, "nuc"), [np.eye(3)])


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_torch_svd_and_qr_conventions(shape):
    for some in (True, False):
        def inv(f):
            return lambda a: (lambda r: (r.S, r.V[..., :, :r.S.shape[-1]] ** 2))(f(a, some))
        compare(inv(tb.svd), inv(torch.svd), [rand(*shape)])
        compare(inv(lambda a, s: a.svd(s)), inv(lambda t, s: t.svd(s)), [rand(*shape)])
        with warnings.catch_warnings():  # torch.qr warns (once) that it is deprecated
            warnings.simplefilter("ignore")
            tq = torch.qr(torch.tensor(rand(*shape)), some)
        q, r = tb.qr(tb.tensor(rand(*shape)), some)
        assert q.shape == tuple(tq.Q.shape) and r.shape == tuple(tq.R.shape)
    u, s, v = tb.svd(tb.tensor(rand(*shape)), compute_uv=False)
    tu, ts, tv = torch.svd(torch.tensor(rand(*shape)), compute_uv=False)
    assert u.shape == tuple(tu.shape) and v.shape == tuple(tv.shape) and not u.numpy().any()
    close(s, ts, 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv_and_matrix_rank(shape, dtype):
    compare(LA.pinv, TL.pinv, [rand(*shape)], dtype, TOL[dtype] * (10 if dtype == np.float32 else 1))
    compare(lambda a: a.pinverse(), lambda t: t.pinverse(), [rand(*shape)], dtype,
            TOL[dtype] * (10 if dtype == np.float32 else 1))
    low = rand(*shape[:-1], 2) @ rand(*shape[:-2], 2, shape[-1], seed=2)  # rank 2
    compare(LA.pinv, TL.pinv, [low], dtype, TOL[dtype] * (100 if dtype == np.float32 else 10))
    for kw in ({}, dict(atol=0.5), dict(rtol=0.3), dict(atol=0.1, rtol=0.2), dict(atol=0.0)):
        assert LA.matrix_rank(tb.tensor(low.astype(dtype)), **kw).numpy().tolist() == \
            TL.matrix_rank(torch.tensor(low.astype(dtype)), **kw).tolist()
        assert LA.matrix_rank(tb.tensor(rand(*shape)), **kw).numpy().tolist() == \
            TL.matrix_rank(torch.tensor(rand(*shape)), **kw).tolist()
        compare(lambda a: LA.pinv(a, **kw), lambda t: TL.pinv(t, **kw), [rand(*shape)], dtype,
                TOL[dtype] * (10 if dtype == np.float32 else 1))
    assert LA.matrix_rank(tb.tensor(rand(*shape))).dtype == tb.int64


def test_pinv_hermitian_and_rank_errors():
    a = sym(3, 3)
    a[..., 0] = a[..., 1]
    a[0] = a[1]  # symmetric, rank 2
    compare(lambda x: LA.pinv(x, hermitian=True), lambda t: TL.pinv(t, hermitian=True), [a])
    compare(lambda x: tb.pinverse(x, rcond=0.1), lambda t: torch.pinverse(t, rcond=0.1), [rand(3, 4)])
    assert LA.matrix_rank(tb.tensor(a), hermitian=True).item() == TL.matrix_rank(torch.tensor(a), hermitian=True).item()
    with pytest.raises(RuntimeError, match="matrix_rank: The input tensor input must have at least 2 dimensions"):
        LA.matrix_rank(tb.ones(3))
    with pytest.raises(RuntimeError, match=r"linalg.pinv\(Float\{\[3\]\}\): expected a tensor with 2 or more"):
        LA.pinv(tb.ones(3))


def test_non_finite_input_as_torch():
    m = tb.tensor([[1.0, np.nan], [np.nan, 1.0]])
    for f in (LA.svd, LA.svdvals, LA.pinv, LA.matrix_rank):
        with pytest.raises(LA.LinAlgError, match="^linalg.svd: The algorithm failed to converge because the input "
                                                 "matrix contained non-finite values"):
            f(m)
    with pytest.raises(LA.LinAlgError, match="linalg.cholesky: .*the leading minor of order 2 is not"):
        LA.cholesky(m)
    batch = np.stack([np.eye(2), [[1.0, np.nan], [0.0, 1.0]], [[1.0, INF], [0.0, 1.0]]])
    compare(LA.matrix_exp, TL.matrix_exp, [batch], grads=False)
    compare(LA.det, TL.det, [batch], grads=False)
    compare(LA.inv, TL.inv, [batch[:2]], grads=False)


def test_torch_forms_name_themselves_in_errors():
    with pytest.raises(RuntimeError, match="^logdet: A must be batches of square matrices"):
        tb.logdet(tb.ones(3, 2))
    with pytest.raises(RuntimeError, match="^cholesky: A must be batches of square matrices"):
        tb.ones(3, 2).cholesky()
    with pytest.raises(RuntimeError, match="^linalg.svd: input should have at least 2 dimensions, but has 1"):
        tb.ones(3).svd()
    with pytest.raises(RuntimeError, match="^linalg.inv: A must be batches of square matrices"):
        tb.ones(3, 2).inverse()


# ---------------------------------------------------------------- matrix functions and products
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 3, 5, 8])
def test_matrix_power(n, dtype):
    a = rand(2, 3, 3) * 0.7 + np.eye(3)
    compare(lambda x: LA.matrix_power(x, n), lambda t: TL.matrix_power(t, n), [a], dtype,
            TOL[dtype] * (10 if dtype == np.float32 else 1))
    compare(lambda x: x.matrix_power(n), lambda t: t.matrix_power(n), [a[0]], dtype,
            TOL[dtype] * (10 if dtype == np.float32 else 1))
    with pytest.raises(TypeError, match="argument 'n'"):
        LA.matrix_power(tb.eye(2), 2.0)


def test_matrix_power_one_is_a_copy():
    a = tb.tensor(rand(3, 3), requires_grad=True)
    assert LA.matrix_power(a, 1) is not a


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [0.01, 1.0, 6.0])
def test_matrix_exp(scale, dtype):
    compare(LA.matrix_exp, TL.matrix_exp, [rand(2, 4, 4) * scale], dtype, TOL[dtype] * 10)
    compare(tb.matrix_exp, torch.matrix_exp, [rand(3, 3) * scale], dtype, TOL[dtype] * 10)
    compare(lambda x: x.matrix_exp(), lambda t: t.matrix_exp(), [rand(3, 3) * scale], dtype, TOL[dtype] * 10)


def test_cross_vecdot():
    for sa, sb, dim in [((3,), (3,), -1), ((4, 3), (4, 3), -1), ((3, 4), (3, 1), 0), ((2, 1, 3), (1, 5, 3), 2)]:
        compare(lambda a, b: LA.cross(a, b, dim=dim), lambda a, b: TL.cross(a, b, dim=dim),
                [rand(*sa), rand(*sb, seed=1)])
    for sa, sb, dim in [((3,), (3,), -1), ((4, 3), (3,), -1), ((3, 4), (3, 1), 0)]:
        compare(lambda a, b: LA.vecdot(a, b, dim=dim), lambda a, b: TL.vecdot(a, b, dim=dim),
                [rand(*sa), rand(*sb, seed=1)])
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 4 and 4"):
        LA.cross(tb.ones(4), tb.ones(4))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs must have the same number of dimensions"):
        LA.cross(tb.ones(2, 3), tb.ones(3))
    with pytest.raises(RuntimeError, match="linalg.vecdot: Expected x and y to have the same dtype"):
        LA.vecdot(tb.ones(3), tb.ones(3, dtype=tb.float64))


def test_torch_cross_finds_its_dim():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(lambda a, b: tb.cross(a, b), lambda a, b: torch.cross(a, b), [rand(4, 3, 5), rand(4, 3, 5, seed=1)])
    compare(lambda a, b: a.cross(b, dim=-1), lambda a, b: a.cross(b, dim=-1), [rand(2, 3), rand(2, 3, seed=1)])
    with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim arg is deprecated"):
        with pytest.raises(RuntimeError, match="no dimension of size 3 in input"):
            tb.cross(tb.ones(2, 4), tb.ones(2, 4))


@pytest.mark.parametrize("shapes", [[(3, 4), (4, 2)], [(4,), (4, 3), (3,)], [(2, 5), (5, 7), (7, 3)],
                                    [(7, 2), (2, 6), (6, 3)], [(5,), (5, 4), (4, 6), (6, 2), (2, 3)],
                                    [(2, 3), (3, 4), (4, 5), (5, 6), (6,)]])
def test_multi_dot(shapes):
    compare(lambda *a: LA.multi_dot(a), lambda *t: TL.multi_dot(t), [rand(*s, seed=i) for i, s in enumerate(shapes)])


def test_multi_dot_errors():
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): expected at least 2 tensors but got 1"):
        LA.multi_dot([tb.ones(2, 2)])
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): the first tensor must be 1D or 2D but got 3D"):
        LA.multi_dot([tb.ones(2, 2, 2), tb.ones(2, 2)])
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): tensor 1 must be 2D but got 3D"):
        LA.multi_dot([tb.ones(3), tb.ones(3, 3, 3), tb.ones(3)])
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): tensors 0 and 1 with shapes \[2, 3\] and \[2, 2\] cannot"):
        LA.multi_dot([tb.ones(2, 3), tb.ones(2, 2)])
    with pytest.raises(RuntimeError, match="multi_dot\\(\\): all tensors must have be the same dtype but tensor 0 is "
                                           "float and tensor 1 double"):
        LA.multi_dot([tb.ones(3), tb.ones(3, dtype=tb.float64)])


@pytest.mark.parametrize("offset", [0, 1, -2, 5])
def test_diagonal(offset):
    for kw in ({}, dict(dim1=0, dim2=2), dict(dim1=-1, dim2=0)):
        compare(lambda a: LA.diagonal(a, offset=offset, **kw), lambda t: TL.diagonal(t, offset=offset, **kw),
                [rand(2, 3, 4)])
    for args in ((), (offset,), (offset, 2, 1)):
        compare(lambda a: tb.diagonal(a, *args), lambda t: torch.diagonal(t, *args), [rand(2, 3, 4)])
        compare(lambda a: a.diagonal(*args), lambda t: t.diagonal(*args), [rand(2, 3, 4)])
    with pytest.raises(IndexError, match="diagonal"):
        LA.diagonal(tb.ones(3))
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        tb.diagonal(tb.ones(3, 3), 0, 1, 1)


# ---------------------------------------------------------------- finite differences
GRADCHECKS = {
    "det": (LA.det, [rand(2, 3, 3)]),
    "slogdet": (lambda a: LA.slogdet(a).logabsdet, [rand(2, 3, 3)]),
    "logdet": (tb.logdet, [spd(3, 3)]),
    "inv": (LA.inv, [rand(3, 3) + 2 * np.eye(3)]),
    "solve": (LA.solve, [rand(2, 3, 3) + 2 * np.eye(3), rand(3, 2, seed=1)]),
    "solve_right": (lambda a, b: LA.solve(a, b, left=False), [rand(3, 3) + 2 * np.eye(3), rand(2, 3, seed=1)]),
    "cholesky": (lambda a: LA.cholesky(a @ a.mT + 3 * tb.eye(3, dtype=tb.float64)), [rand(2, 3, 3)]),
    "cholesky_upper": (lambda a: LA.cholesky(a @ a.mT + 3 * tb.eye(3, dtype=tb.float64), upper=True), [rand(3, 3)]),
    "qr_tall": (qr_invariants(LA.qr), [rand(4, 3)]),
    "qr_wide": (qr_invariants(LA.qr), [rand(3, 5)]),
    "eigh": (lambda a: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(LA.eigh(a + a.mT)), [rand(2, 4, 4)]),
    "svd_tall": (svd_invariants(lambda a: LA.svd(a, False)), [rand(4, 3)]),
    "svd_wide": (svd_invariants(lambda a: LA.svd(a, True)), [rand(2, 3)]),
    "pinv": (LA.pinv, [rand(3, 4)]),
    "pinv_hermitian": (lambda a: LA.pinv(a + a.mT, hermitian=True), [rand(3, 3)]),
    "matrix_exp": (LA.matrix_exp, [rand(3, 3)]),
    "matrix_power": (lambda a: LA.matrix_power(a, -3), [rand(3, 3) + 2 * np.eye(3)]),
    "nuc": (lambda a: LA.matrix_norm(a, "nuc"), [rand(3, 4)]),
    "vector_norm_frac": (lambda a: LA.vector_norm(a, 0.7, dim=1), [rand(3, 4)]),
    "vector_norm_neg": (lambda a: LA.vector_norm(a, -1.5), [rand(5)]),
    "cross": (lambda a, b: LA.cross(a, b), [rand(2, 3), rand(2, 3, seed=1)]),
    "multi_dot": (lambda a, b, c: LA.multi_dot([a, b, c]), [rand(2, 3), rand(3, 4, seed=1), rand(4, seed=2)]),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradcheck(name):
    f, arrays = GRADCHECKS[name]
    assert tb.gradcheck(f, [tb.tensor(a, requires_grad=True) for a in arrays], atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------- registration
def test_reachable_after_import_without_numba():
    code = ("import sys, tinybptt; tinybptt.linalg.det; tinybptt.det; tinybptt.Tensor.svd; "
            "assert 'numba' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tensor_methods_and_functions_exist_as_in_torch():
    for name in ("det", "logdet", "slogdet", "inverse", "pinverse", "cholesky", "qr", "svd", "matrix_power",
                 "matrix_exp", "diagonal", "cross"):
        assert hasattr(torch, name) and hasattr(tb, name) and hasattr(tb.Tensor, name), name
    for name in LA.__all__:
        assert hasattr(TL, name), name
