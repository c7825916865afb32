"""The third batch of torch ops against torch 2.13: NaN-aware and order-statistic reductions (nansum ...
quantile, kthvalue, mode, cummax, logcumsumexp, aminmax), products with an added term (addmm ... addcdiv),
dot/mv/inner/cross/kron/tensordot/trace/diagonal/diag_embed, special and elementwise functions (erfc ...
frexp), shape and index ops (tensor_split ... unique_consecutive), metadata and random fills.  Values and
gradients in float64 (and float32), edge cases (NaN, inf, empty, dim=None), bad arguments with torch's
exception types, and finite differences for the new Functions."""
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from parity import check, raises_alike, assert_close

NAN, INF = np.nan, np.inf


def both(f):
    """(ours, theirs): f(lib, *args) with lib tinybptt and torch."""
    return (lambda *a: f(tb, *a)), (lambda *a: f(torch, *a))


def run(f, arrays, dtype=np.float64, **kw):
    ours, theirs = both(f)
    return check(ours, theirs, arrays, dtype, **kw)


def bad(f, match):
    """f(lib) raises the same exception type in both libraries, ours with a message matching ``match``."""
    ours, theirs = both(f)
    raises_alike(ours, theirs, match)


def data(shape, seed=0, dtype=np.float64, distinct=True):
    rng = np.random.default_rng(seed)
    if distinct:  # no ties: the element a selection picks (and gets the gradient) is unique
        n = int(np.prod(shape))
        return (rng.permutation(n) + rng.uniform(0.1, 0.9, n)).reshape(shape).astype(dtype)
    return rng.integers(0, 4, shape).astype(dtype)


SHAPES_DIMS = [((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((2, 3, 4), -1)]


# ---------------------------------------------------------------- NaN-aware reductions
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["nansum", "nanmean"])
def test_nansum_nanmean(name, dim, keepdim, dtype):
    x = data((3, 4), dtype=dtype)
    x[0, 1] = x[2, 3] = NAN
    x[1, :] = NAN  # a row of NaN only: nanmean gives NaN there
    run(lambda lib, x: getattr(lib, name)(x, dim, keepdim), [x], dtype)
    run(lambda lib, x: getattr(x, name)(dim=dim, keepdim=keepdim), [x], dtype)


def test_nansum_nanmean_edges():
    run(lambda lib, x: lib.nansum(x), [np.zeros((0, 3))])
    run(lambda lib, x: lib.nanmean(x, 0), [np.zeros((0, 3))])
    run(lambda lib, x: lib.nansum(x, dtype=lib.float64), [np.array([1.0, NAN], np.float32)], grads=[False])
    for v in ([1, 2, 3], [True, False, True]):
        a, b = tb.nansum(tb.tensor(v)), torch.nansum(torch.tensor(v))
        assert a.item() == b.item() and str(a.dtype) == str(b.dtype).replace("torch.", "")
    bad(lambda lib: lib.nanmean(lib.tensor([1, 2])), "nanmean")
    bad(lambda lib: lib.nansum(lib.ones(2, 3), 2), "out of range")


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_nanmedian_dim(shape, dim, keepdim):
    x = data(shape)
    x.reshape(-1)[::3] = NAN
    ours, theirs = both(lambda lib, x: lib.nanmedian(x, dim, keepdim))
    ours_in, theirs_in = run(lambda lib, x: lib.nanmedian(x, dim, keepdim)[0], [x])
    np.testing.assert_array_equal(ours(tb.tensor(x)).indices.numpy(), theirs(torch.tensor(x)).indices.numpy())


def test_nanmedian_all_and_all_nan():
    x = data((4, 5))
    x[0, 0] = x[3, 2] = NAN
    run(lambda lib, x: lib.nanmedian(x), [x])
    run(lambda lib, x: x.nanmedian(), [np.full((2, 2), NAN)])
    run(lambda lib, x: lib.nanmedian(x, 1).values, [np.array([[NAN, NAN, NAN], [1.0, NAN, 3.0]])])
    a, t = tb.nanmedian(tb.tensor([[NAN, NAN], [1.0, NAN]]), 1), torch.nanmedian(torch.tensor([[NAN, NAN], [1.0, NAN]]), 1)
    np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())
    run(lambda lib, x: lib.nanmedian(x), [np.array([3.0, 1.0, 2.0, 2.0])])  # ties share the gradient
    bad(lambda lib: lib.ones(2, 0).nanmedian(1), "non-zero size")


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("q", [0.0, 0.3, 0.5, 0.77, 1.0, "tensor", "tensor0d"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (1, True), (-1, False)])
@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
def test_quantile(name, q, dim, keepdim, interpolation):
    x = data((4, 7))
    if name == "nanquantile":
        x[1, 2] = NAN
        x[2, ::2] = NAN
    qs = {"tensor": np.array([0.0, 0.25, 0.6, 1.0]), "tensor0d": np.array(0.4)}
    arrays = [x, qs[q]] if isinstance(q, str) else [x]
    grads = [True, False] if isinstance(q, str) else None

    def f(lib, x, qv=q):
        return getattr(lib, name)(x, qv, dim, keepdim, interpolation=interpolation)
    run(f, arrays, grads=grads)


def test_quantile_nan_float32_and_methods():
    x = np.array([[1.0, NAN, 3.0], [4.0, 5.0, 6.0]])
    run(lambda lib, x: lib.quantile(x, 0.5, 1), [x])
    run(lambda lib, x: x.nanquantile(0.5, dim=1), [x])
    run(lambda lib, x: x.quantile(0.35), [data((6, 5), dtype=np.float32)], np.float32)
    run(lambda lib, x: lib.nanquantile(x, 0.2, 1), [np.full((2, 3), NAN)], grads=[False])  # which NaN: unspecified


def test_quantile_errors():
    x = "lib.tensor([1.0, 2.0])"
    bad(lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), 1.5), r"quantile\(\) q must be in the range")
    bad(lambda lib: lib.quantile(lib.tensor([1, 2]), 0.5), "float or double")
    bad(lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), lib.tensor([0.5], dtype=lib.float64)), "same dtype")
    bad(lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), lib.tensor([[0.5]])), "scalar or 1D")
    bad(lambda lib: lib.quantile(lib.tensor([1.0, 2.0]), lib.tensor([0.5, 2.0])), "range")
    bad(lambda lib: lib.quantile(lib.zeros(0), 0.5), "non-empty")
    bad(lambda lib: lib.nanquantile(lib.tensor([1.0]), 0.5, interpolation="foo"), "interpolation")
    bad(lambda lib: lib.quantile(lib.ones(2, 3), 0.5, 2), "out of range")
    assert x


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_kthvalue(shape, dim, keepdim):
    x = data(shape)
    for k in (1, 2, x.shape[dim]):
        run(lambda lib, x: lib.kthvalue(x, k, dim, keepdim).values, [x])
        a, t = tb.tensor(x).kthvalue(k, dim, keepdim), torch.tensor(x).kthvalue(k, dim, keepdim)
        np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())
    run(lambda lib, x: lib.kthvalue(x, 3)[0], [np.array([3.0, NAN, 2.0])])  # NaN is the largest
    bad(lambda lib: lib.kthvalue(lib.ones(3), 4), "out of range")
    bad(lambda lib: lib.kthvalue(lib.ones(3), 0), "out of range")
    assert tb.kthvalue(tb.tensor(2.0), 1).values.shape == ()


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_mode(dim, keepdim):
    x = data((6, 7), seed=3, distinct=False)
    run(lambda lib, x: lib.mode(x, dim, keepdim).values, [x])
    a, t = tb.mode(tb.tensor(x), dim, keepdim), torch.mode(torch.tensor(x), dim, keepdim)
    np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())
    for v in ([[1, 2, 2, 3, 3], [5, 5, 1, 1, 0]], [3.0, NAN, NAN, 1.0]):
        a, t = tb.tensor(v).mode(), torch.tensor(v).mode()
        np.testing.assert_array_equal(a.values.numpy(), t.values.numpy())
        np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())
    bad(lambda lib: lib.mode(lib.zeros(0)), "non-zero size")


@pytest.mark.parametrize("name", ["cummax", "cummin"])
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_cummax_cummin(name, shape, dim):
    x = data(shape, distinct=False) + np.arange(int(np.prod(shape))).reshape(shape) % 3 * 0.5
    run(lambda lib, x: getattr(lib, name)(x, dim).values, [x])  # ties: the newest index gets the gradient
    a, t = getattr(tb, name)(tb.tensor(x), dim), getattr(torch, name)(torch.tensor(x), dim)
    np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_nan_int_and_0d(name):
    v = np.array([1.0, 3.0, 3.0, 2.0, NAN, 5.0, NAN, 0.0])
    run(lambda lib, x: getattr(lib, name)(x, 0)[0], [v])
    a, t = getattr(tb, name)(tb.tensor(v), 0), getattr(torch, name)(torch.tensor(v), 0)
    np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())
    i = [[3, 1, 4], [1, 5, 9]]
    a, t = getattr(tb.tensor(i), name)(1), getattr(torch.tensor(i), name)(1)
    np.testing.assert_array_equal(a.values.numpy(), t.values.numpy())
    np.testing.assert_array_equal(a.indices.numpy(), t.indices.numpy())
    run(lambda lib, x: getattr(x, name)(0).values, [np.array(2.0)])
    bad(lambda lib: getattr(lib.ones(2), name)(1), "out of range")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_logcumsumexp(shape, dim, dtype):
    x = (np.random.default_rng(1).standard_normal(shape) * 30).astype(dtype)
    run(lambda lib, x: lib.logcumsumexp(x, dim), [x], dtype)
    run(lambda lib, x: x.logcumsumexp(dim), [x], dtype)


def test_logcumsumexp_edges_and_gradcheck():
    run(lambda lib, x: lib.logcumsumexp(x, 0), [np.array([-INF, 0.0, 1000.0, -INF, 3.0])])
    run(lambda lib, x: lib.logcumsumexp(x, 0), [np.array(1.5)])
    run(lambda lib, x: lib.logcumsumexp(x, 1), [np.zeros((2, 0))])
    bad(lambda lib: lib.logcumsumexp(lib.tensor([1, 2]), 0), "logcumsumexp")
    x = tb.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    assert tb.gradcheck(lambda x: tb.logcumsumexp(x, 1), (x,))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_aminmax(dim, keepdim):
    x = data((3, 4))
    run(lambda lib, x: lib.aminmax(x, dim=dim, keepdim=keepdim).min, [x])
    run(lambda lib, x: x.aminmax(dim=dim, keepdim=keepdim).max, [x])
    a, t = tb.aminmax(tb.tensor([1, 5, 2])), torch.aminmax(torch.tensor([1, 5, 2]))
    assert (a.min.item(), a.max.item()) == (t.min.item(), t.max.item()) and a._fields == ("min", "max")
    bad(lambda lib: lib.aminmax(lib.zeros(0)), "aminmax")
    bad(lambda lib: lib.aminmax(lib.zeros(2, 0), dim=1), "non-zero size")
    run(lambda lib, x: lib.aminmax(x, dim=0).max, [np.zeros((3, 0))])


# ---------------------------------------------------------------- products with an added term
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1), (0, -1.5)])
def test_addmm_addmv_addr_addbmm_baddbmm(beta, alpha):
    rng = np.random.default_rng(0)
    m1, m2, inp = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    if beta == 0:
        inp[0, 0] = NAN  # ignored when beta is 0
    for i in (inp, inp[0], inp[:1, :1]):
        run(lambda lib, i, a, b: lib.addmm(i, a, b, beta=beta, alpha=alpha), [i, m1, m2])
        run(lambda lib, i, a, b: i.addmm(a, b, beta=beta, alpha=alpha), [i, m1, m2])
    v, inv = rng.standard_normal(4), rng.standard_normal(3)
    run(lambda lib, i, a, b: lib.addmv(i, a, b, beta=beta, alpha=alpha), [inv, m1, v])
    run(lambda lib, i, a, b: lib.addr(i, a, b, beta=beta, alpha=alpha), [inp, inv, rng.standard_normal(5)])
    b1, b2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    run(lambda lib, i, a, b: lib.addbmm(i, a, b, beta=beta, alpha=alpha), [inp, b1, b2])
    run(lambda lib, i, a, b: lib.baddbmm(i, a, b, beta=beta, alpha=alpha), [inp, b1, b2])
    run(lambda lib, i, a, b: i.baddbmm(a, b, beta=beta, alpha=alpha), [rng.standard_normal((2, 1, 5)), b1, b2])


def test_addmm_family_float32_inplace_and_errors():
    rng = np.random.default_rng(1)
    f = np.float32
    run(lambda lib, i, a, b: lib.addmm(i, a, b), [rng.standard_normal(5).astype(f), rng.standard_normal((3, 4)).astype(f),
                                                  rng.standard_normal((4, 5)).astype(f)], np.float32)
    for name, args in (("addmm_", ((3, 4), (4, 5))), ("addr_", ((3,), (5,))), ("baddbmm_", ((2, 3, 4), (2, 4, 5)))):
        shape = (2, 3, 5) if name == "baddbmm_" else (3, 5)
        base, a, b = rng.standard_normal(shape), *(rng.standard_normal(s) for s in args)
        x, tx = tb.tensor(base.copy()), torch.tensor(base.copy())
        assert getattr(x, name)(tb.tensor(a), tb.tensor(b), alpha=2) is x
        getattr(tx, name)(torch.tensor(a), torch.tensor(b), alpha=2)
        assert_close(x, tx)
    x, tx = tb.tensor(np.ones(3)), torch.tensor(np.ones(3))
    x.addmv_(tb.tensor(np.eye(3)), tb.tensor([1.0, 2, 3], dtype=tb.float64), beta=2)
    tx.addmv_(torch.tensor(np.eye(3)), torch.tensor([1.0, 2, 3], dtype=torch.float64), beta=2)
    assert_close(x, tx)
    bad(lambda lib: lib.addmm(lib.ones(3), lib.ones(3, 2), lib.ones(3, 2)), "cannot be multiplied")
    bad(lambda lib: lib.addmm(lib.ones(4), lib.ones(3, 2), lib.ones(2, 2)), "addmm")
    bad(lambda lib: lib.addmm(lib.ones(2), lib.ones(3, 2), lib.ones(2, 2).double()), "dtype")
    bad(lambda lib: lib.addmm(lib.ones(2), lib.ones(2), lib.ones(2, 2)), "addmm")
    bad(lambda lib: lib.addmv(lib.ones(3), lib.ones(3, 2), lib.ones(3)), "size mismatch")
    bad(lambda lib: lib.addr(lib.ones(3, 3), lib.ones(3, 1), lib.ones(3)), "1-D")
    bad(lambda lib: lib.baddbmm(lib.ones(2, 3, 5), lib.ones(2, 3, 4), lib.ones(3, 4, 5)), "baddbmm")
    bad(lambda lib: lib.addbmm(lib.ones(3, 5), lib.ones(3, 4), lib.ones(3, 4, 5)), "3D")


@pytest.mark.parametrize("value", [1, -0.5])
def test_addcmul_addcdiv(value):
    rng = np.random.default_rng(2)
    a, b, c = rng.standard_normal((3, 1)), rng.standard_normal((1, 4)), rng.uniform(1, 2, (3, 4))
    run(lambda lib, a, b, c: lib.addcmul(a, b, c, value=value), [a, b, c])
    run(lambda lib, a, b, c: a.addcdiv(b, c, value=value), [a, b, c])
    run(lambda lib, a, b, c: lib.addcdiv(a, b, c, value=value), [c, b, a + 3])
    bad(lambda lib: lib.addcdiv(lib.ones(2), lib.ones(2, dtype=lib.long), lib.ones(2, dtype=lib.long)), "addcdiv")


def test_dot_vdot_mv_inner_outer():
    rng = np.random.default_rng(3)
    u, v, m = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((3, 4))
    run(lambda lib, a, b: lib.dot(a, b), [u, v])
    run(lambda lib, a, b: a.vdot(b), [u, v])
    run(lambda lib, a, b: lib.mv(a, b), [m, v])
    run(lambda lib, a, b: a.outer(b), [u, v[:3]])
    for a, b in ((u, v), (m, v), (m, rng.standard_normal((2, 4))), (rng.standard_normal((2, 3, 4)), m),
                 (np.array(2.0), m)):
        run(lambda lib, a, b: lib.inner(a, b), [a, b])
    run(lambda lib, a, b: lib.dot(a, b), [u.astype(np.float32), v.astype(np.float32)], np.float32)
    bad(lambda lib: lib.dot(lib.ones(3), lib.ones(4)), "inconsistent tensor size")
    bad(lambda lib: lib.dot(lib.ones(3, 1), lib.ones(3)), "1D tensors expected")
    bad(lambda lib: lib.dot(lib.ones(3), lib.ones(3).double()), "same dtype")
    bad(lambda lib: lib.mv(lib.ones(3, 2), lib.ones(3)), "size mismatch")
    bad(lambda lib: lib.mv(lib.ones(3), lib.ones(3)), "mv")
    bad(lambda lib: lib.inner(lib.ones(2, 3), lib.ones(2)), "last dimension must match")
    bad(lambda lib: lib.inner(lib.tensor([1, 2]), lib.tensor([1.5, 2])), "same dtype")


def test_cross_kron_tensordot():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    run(lambda lib, a, b: lib.cross(a, b, dim=1), [a, b])
    run(lambda lib, a, b: a.cross(b, dim=-1), [a, b[:1]])
    run(lambda lib, a, b: lib.cross(a, b, 0), [a.T.copy(), b.T.copy()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(lambda lib, a, b: lib.cross(a, b), [a, b])  # dim=None: the first dim of size 3
        run(lambda lib, a, b: lib.cross(a, b), [rng.standard_normal((3, 3)), rng.standard_normal((3, 3))])
    with pytest.warns(UserWarning, match="without specifying the dim"):
        tb.cross(tb.tensor(a), tb.tensor(b))
    bad(lambda lib: lib.cross(lib.ones(2, 4), lib.ones(2, 4), dim=1), "must have length 3")
    bad(lambda lib: lib.cross(lib.ones(3, 3), lib.ones(3, 3), dim=5), "out of range")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad(lambda lib: lib.cross(lib.ones(2, 4), lib.ones(2, 4)), "no dimension of size 3")
    for x, y in ((rng.standard_normal((2, 3)), rng.standard_normal((3, 2))), (rng.standard_normal(3),
                 rng.standard_normal((2, 2))), (rng.standard_normal((2, 1, 2)), rng.standard_normal((3, 2)))):
        run(lambda lib, x, y: lib.kron(x, y), [x, y])
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    run(lambda lib, x, y: lib.tensordot(x, y, dims=1), [x, y[:, :, :]])
    run(lambda lib, x, y: lib.tensordot(x, y, dims=([1, 2], [1, 0])), [x, y])
    run(lambda lib, x, y: lib.tensordot(x, y, dims=0), [x[0, 0], y[0, 0]])
    run(lambda lib, x, y: lib.tensordot(x, y, ([2], [0])), [x, y])
    bad(lambda lib: lib.tensordot(lib.ones(2, 3), lib.ones(2, 3), dims=1), "contracted dimensions need to match")
    bad(lambda lib: lib.tensordot(lib.ones(2, 3), lib.ones(3, 3), dims=-1), "dims >= 0")


@pytest.mark.parametrize("offset", [0, 1, -2, 5])
def test_trace_diagonal_diag_embed_diagflat(offset):
    rng = np.random.default_rng(5)
    m = rng.standard_normal((4, 5))
    run(lambda lib, m: lib.trace(m), [m])
    run(lambda lib, m: lib.diagonal(m, offset), [m])
    t = rng.standard_normal((2, 3, 4))
    for d1, d2 in ((0, 1), (2, 0), (-1, 1)):
        run(lambda lib, t: lib.diagonal(t, offset, d1, d2), [t])
        run(lambda lib, t: t.diagonal(offset=offset, dim1=d1, dim2=d2), [t])
    for d1, d2 in ((-2, -1), (0, 2), (2, 0), (1, -1)):
        run(lambda lib, t: lib.diag_embed(t, offset, d1, d2), [t[0]])
    run(lambda lib, t: t.diag_embed(offset), [t])
    run(lambda lib, t: lib.diagflat(t, offset), [t[0]])
    assert tb.trace(tb.tensor([[1, 2], [3, 4]], dtype=tb.int32)).dtype == tb.int64
    bad(lambda lib: lib.trace(lib.ones(3)), "expected a matrix")
    bad(lambda lib: lib.diagonal(lib.ones(3, 3), 0, 1, 1), "cannot be identical")


# ---------------------------------------------------------------- special functions and elementwise ops
UNARY_DATA = {
    "erfc": [-30.0, -3.0, -0.5, 0.0, 0.3, 2.0, 6.0, 27.0, INF, -INF, NAN],
    "erfinv": [-1.0, -0.999999, -0.7, -0.1, 0.0, 1e-8, 0.4, 0.93, 0.9999999, 1.0, 1.5, NAN],
    "lgamma": [-3.5, -2.2, -0.5, 0.0, 1e-8, 0.3, 1.0, 2.0, 4.6, 30.0, 1e5, INF, NAN],
    "digamma": [-3.5, -2.2, -0.5, 1e-6, 0.3, 1.0, 1.4616321449683623, 2.5, 12.0, 1e4, NAN],
    "sinc": [-3.0, -2.5, -1e-9, 0.0, 0.25, 1.0, 1.5, 100.25, NAN],
    "logit": [-0.5, 0.0, 1e-4, 0.2, 0.5, 0.9, 1.0, 2.0, NAN],
    "deg2rad": [-360.0, -45.0, 0.0, 90.0, 1e5, INF, NAN],
    "rad2deg": [-7.0, -1.0, 0.0, 3.14159, INF, NAN],
    "sgn": [-2.0, -0.0, 0.0, 3.0, INF, NAN],
    "negative": [-2.0, 0.0, 3.0, INF, NAN],
    "positive": [-2.0, 0.0, 3.0, INF],
    "fix": [-2.7, -0.2, 0.0, 0.5, 3.9, INF, NAN],
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(UNARY_DATA))
def test_unary_values_and_gradients(name, dtype):
    x = np.array(UNARY_DATA[name], dtype)
    tol = {} if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    if name == "digamma" and dtype == np.float64:
        tol = dict(rtol=1e-8, atol=1e-10)  # torch's polygamma(1, x), its gradient, is good to about 1e-9
    if name == "erfinv" and dtype == np.float32:
        tol = dict(rtol=2e-5, atol=2e-6)
    grads = [name != "sgn"]  # torch's sgn gradient is a ZeroTensor, which has no numpy form
    run(lambda lib, x: getattr(lib, name)(x), [x], dtype, grads=grads, **tol)
    run(lambda lib, x: getattr(x, name)(), [x], dtype, grads=grads, **tol)
    if name == "sgn":
        a = tb.tensor(x, requires_grad=True)
        a.sgn().sum().backward()
        assert not a.grad.numpy().any()


@pytest.mark.parametrize("name", [n for n in UNARY_DATA if n != "positive"])
def test_unary_inplace_and_integer_input(name):
    x = np.array([v for v in UNARY_DATA[name] if np.isfinite(v)][:4])
    a, t = tb.tensor(x.copy()), torch.tensor(x.copy())
    assert getattr(a, name + "_")() is a
    getattr(t, name + "_")()
    assert_close(a, t, rtol=1e-8, atol=1e-12)
    i = [1, 2, 3] if name not in ("logit", "erfinv") else [0, 1]
    a, t = getattr(tb, name)(tb.tensor(i)), getattr(torch, name)(torch.tensor(i))
    assert_close(a, t, np.float32)


@pytest.mark.parametrize("name", ["erfc", "erfinv", "lgamma", "digamma", "sinc", "logit"])
def test_unary_gradcheck(name):
    lo, hi = {"erfinv": (-0.9, 0.9), "logit": (0.1, 0.9), "lgamma": (0.2, 4.0), "digamma": (0.2, 4.0)}.get(name, (-2, 2))
    x = tb.tensor(np.random.default_rng(0).uniform(lo, hi, (3, 4)), requires_grad=True)
    assert tb.gradcheck(getattr(tb, name), (x,))


@pytest.mark.parametrize("eps", [None, 0.0, 1e-6, 0.25])
def test_logit_eps(eps):
    x = np.array([-0.5, 0.0, 0.1, 0.2, 0.5, 0.8, 1.0, 1.3])
    run(lambda lib, x: lib.logit(x, eps), [x])
    run(lambda lib, x: x.logit(eps=eps), [x.astype(np.float32)], np.float32)


BINARY = {
    "xlogy": ([0.0, 0.0, 1.5, -2.0, 3.0, 0.0, 2.0], [NAN, 0.0, 2.0, 0.5, 0.0, 3.0, INF]),
    "logaddexp": ([-INF, INF, 0.0, 1000.0, -5.0, 2.0, NAN], [-INF, INF, 0.0, 999.0, 30.0, -INF, 1.0]),
    "logaddexp2": ([-INF, INF, 0.0, 1000.0, -5.0, 2.0, NAN], [-INF, INF, 0.0, 999.0, 30.0, -INF, 1.0]),
    "hypot": ([3.0, 0.5, -2.0, 1e200, INF, NAN, 1.0], [4.0, -0.5, 0.3, 1e200, 1.0, 1.0, 0.0]),
    "fmax": ([1.0, NAN, 2.0, NAN, -1.0, 3.0, 2.0], [2.0, 1.0, NAN, NAN, -1.0, 0.0, 2.0]),
    "fmin": ([1.0, NAN, 2.0, NAN, -1.0, 3.0, 2.0], [2.0, 1.0, NAN, NAN, -1.0, 0.0, 2.0]),
    "copysign": ([1.0, -2.0, 0.0, -0.0, 3.0, INF, 2.0], [-1.0, 2.0, -3.0, 1.0, -0.0, -1.0, NAN]),
    "float_power": ([2.0, 0.5, 0.0, 3.0, 1.5, 2.0, 4.0], [3.0, -2.0, 2.0, 0.0, 0.5, 1.5, -0.5]),
    "ldexp": ([1.0, -2.5, 0.0, 3.0, 1.5, INF, 0.75], [3.0, -2.0, 5.0, 0.0, 10.0, 1.0, -1.0]),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_values_and_gradients(name, dtype):
    a, b = (np.array(v, dtype) for v in BINARY[name])
    grads = [True, name != "ldexp"]
    run(lambda lib, a, b: getattr(lib, name)(a, b), [a, b], np.float64 if name == "float_power" else dtype,
        grads=grads)
    run(lambda lib, a, b: getattr(a, name)(b), [a, b], np.float64 if name == "float_power" else dtype, grads=grads)
    # broadcasting against a column
    run(lambda lib, a, b: getattr(lib, name)(a, b), [np.abs(a[:3, None]) + 1, np.abs(b[None, 3:]) + 0.5],
        np.float64 if name == "float_power" else dtype)


@pytest.mark.parametrize("name", ["xlogy", "logaddexp", "logaddexp2", "hypot", "copysign", "float_power", "fmax"])
def test_binary_gradcheck(name):
    rng = np.random.default_rng(0)
    a, b = (tb.tensor(rng.uniform(0.3, 2.0, (3, 4)) * s, requires_grad=True) for s in (1, -1 if name == "copysign" else 1))
    assert tb.gradcheck(getattr(tb, name), (a, b))


def test_binary_dtypes_numbers_and_inplace():
    for f in (lambda lib: lib.xlogy(2, lib.tensor([1.0, 0.0])), lambda lib: lib.xlogy(lib.tensor([1, 2]), 3),
              lambda lib: lib.float_power(lib.tensor([2]), 2), lambda lib: lib.float_power(2, lib.tensor([2.0, 3])),
              lambda lib: lib.copysign(lib.tensor([2]), -1), lambda lib: lib.ldexp(lib.tensor([1]), lib.tensor([3])),
              lambda lib: lib.fmax(lib.tensor([3]), lib.tensor([4.0])), lambda lib: lib.fmin(lib.tensor([3, 1]), lib.tensor(2)),
              lambda lib: lib.logaddexp(lib.tensor([1.0]), lib.tensor(2.0)), lambda lib: lib.tensor([3.0]).hypot(lib.tensor(4.0)),
              lambda lib: lib.ldexp(lib.tensor([1.0]), lib.tensor([2.0], dtype=lib.float64)),
              lambda lib: lib.ldexp(lib.tensor([1.5, 2.0]), lib.tensor(0.3, dtype=lib.float64)),
              lambda lib: lib.tensor([2.0, -1.0]).xlogy(lib.tensor([2.0], dtype=lib.float64))):
        assert_close(f(tb), f(torch))
    for name in ("xlogy", "hypot", "copysign", "ldexp", "logit", "float_power"):
        base = np.array([0.3, 0.6, 0.9])
        a, t = tb.tensor(base.copy()), torch.tensor(base.copy())
        args = () if name == "logit" else (tb.tensor([2.0, 0.5, 3.0]),)
        targs = () if name == "logit" else (torch.tensor([2.0, 0.5, 3.0], dtype=torch.float64),)
        assert getattr(a, name + "_")(*args) is a
        getattr(t, name + "_")(*targs)
        assert_close(a, t)
    bad(lambda lib: lib.ones(2).float_power_(2), "float_power_")
    bad(lambda lib: lib.hypot(lib.tensor([3]), lib.tensor([4])), "hypot")
    bad(lambda lib: lib.logaddexp(lib.tensor([3]), lib.tensor([4])), "logaddexp")
    bad(lambda lib: lib.xlogy(lib.ones(2), lib.ones(3)), "size")


def test_heaviside_signbit_isposinf_isneginf_isreal_nextafter_frexp():
    x = np.array([-1.5, -0.0, 0.0, 2.0, INF, -INF, NAN])
    for f in (lambda lib, x: lib.heaviside(x, lib.tensor([0.5], dtype=lib.float64)), lambda lib, x: lib.signbit(x),
              lambda lib, x: x.isposinf(), lambda lib, x: lib.isneginf(x), lambda lib, x: lib.isreal(x),
              lambda lib, x: lib.nextafter(x, lib.tensor(1.0, dtype=lib.float64)),
              lambda lib, x: x.nextafter(lib.zeros(7, dtype=lib.float64) - 1)):
        o, t = f(tb, tb.tensor(x)), f(torch, torch.tensor(x))
        assert_close(o, t, rtol=0, atol=0)
    assert_close(tb.isposinf(tb.tensor([1, 2])), torch.isposinf(torch.tensor([1, 2])))
    bad(lambda lib: lib.heaviside(lib.tensor([1.0, 0.0]), lib.tensor([1])), "different dtypes")
    bad(lambda lib: lib.nextafter(lib.tensor([1]), lib.tensor([2])), "nextafter")
    bad(lambda lib: lib.positive(lib.tensor([True])), "bool")
    bad(lambda lib: lib.negative(lib.tensor([True])), "bool")
    v = np.array([8.0, 0.3, -5.0, 0.0, 1e-310, INF, NAN, -0.75])
    for dtype in (np.float64, np.float32):
        o, t = tb.frexp(tb.tensor(v.astype(dtype))), torch.frexp(torch.tensor(v.astype(dtype)))
        assert_close(o.mantissa, t.mantissa, rtol=0, atol=0)
        np.testing.assert_array_equal(o.exponent.numpy()[:-2], t.exponent.numpy()[:-2])  # inf, nan: unspecified
        assert o.exponent.dtype == tb.int32 and o._fields == ("mantissa", "exponent")
    run(lambda lib, x: x.frexp().mantissa, [np.array([8.0, 0.3, -5.0, 3.0])])
    bad(lambda lib: lib.frexp(lib.tensor([8])), "floating-point")


def test_isclose_allclose_methods():
    a, b = np.array([1.0, 2.0, NAN, INF, 1e-9]), np.array([1.0 + 1e-6, 2.1, NAN, INF, 0.0])
    for kw in ({}, dict(equal_nan=True), dict(rtol=0.1, atol=0.0)):
        assert_close(tb.tensor(a).isclose(tb.tensor(b), **kw), torch.tensor(a).isclose(torch.tensor(b), **kw))
        assert tb.tensor(a).allclose(tb.tensor(b), **kw) == torch.tensor(a).allclose(torch.tensor(b), **kw)
        assert tb.tensor(a[:2]).allclose(tb.tensor(a[:2]), **kw)
    bad(lambda lib: lib.isclose(lib.tensor([1]), lib.tensor([1.0])), "did not match")


# ---------------------------------------------------------------- shape and index ops
@pytest.mark.parametrize("spec", [1, 2, 3, 7, [1, 10, 3], [-2], [2, 4], "tensor"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_tensor_split(spec, dim):
    x = data((5, 6))
    for k in range(len(torch.tensor_split(torch.tensor(x), spec if spec != "tensor" else torch.tensor([1, 3]), dim))):
        def f(lib, x, k=k):
            s = lib.tensor([1, 3]) if spec == "tensor" else spec
            return lib.tensor_split(x, s, dim)[k]
        run(f, [x])
    bad(lambda lib: lib.tensor_split(lib.ones(3), 0), "sections")


def test_hsplit_vsplit_dsplit_split_with_sizes_rot90_flips_ravel():
    x = data((4, 6, 2))
    for name, spec in (("hsplit", 2), ("hsplit", [1, 4]), ("vsplit", 4), ("vsplit", [3]), ("dsplit", 2)):
        n = len(getattr(torch, name)(torch.tensor(x), spec))
        for k in range(n):
            run(lambda lib, x: getattr(lib, name)(x, spec)[k], [x])
    run(lambda lib, x: lib.hsplit(x, 3)[1], [x[0, :, 0].copy()])
    bad(lambda lib: lib.hsplit(lib.ones(5), 2), "not divisible")
    bad(lambda lib: lib.vsplit(lib.ones(5), 1), "vsplit")
    bad(lambda lib: lib.dsplit(lib.ones(2, 2), 1), "dsplit")
    for k in range(3):
        run(lambda lib, x: x.split_with_sizes([1, 2, 3], 1)[k], [x])
    bad(lambda lib: lib.split_with_sizes(lib.ones(5), [2, 2]), "split")
    for k in (-1, 0, 1, 2, 3, 5):
        for dims in ((0, 1), (1, 0), (2, 0), (-1, 1)):
            run(lambda lib, x: lib.rot90(x, k, dims), [x])
    bad(lambda lib: lib.rot90(lib.ones(3), 1, [0, 1]), "total dims")
    bad(lambda lib: lib.rot90(lib.ones(3, 3), 1, [0, 0]), "different")
    bad(lambda lib: lib.rot90(lib.ones(3, 3), 1, [0, 1, 2]), "rotation dims")
    run(lambda lib, x: lib.fliplr(x), [x])
    run(lambda lib, x: lib.flipud(x), [x])
    run(lambda lib, x: x.ravel(), [x.transpose(2, 0, 1)])
    bad(lambda lib: lib.fliplr(lib.ones(3)), "2-d")


def test_inplace_view_changes():
    for f in (lambda x: x.t_(), lambda x: x.transpose_(0, 1), lambda x: x.swapaxes_(1, 0), lambda x: x.swapdims_(0, 1),
              lambda x: x.unsqueeze_(1), lambda x: x.unsqueeze_(-1).squeeze_(), lambda x: x[:, :1].squeeze_(1)):
        a, t = tb.tensor(data((2, 3))), torch.tensor(data((2, 3)))
        ra, rt = f(a), f(t)
        assert_close(ra, rt)
    a = tb.tensor(data((2, 3)))
    assert a.t_() is a and a.shape == (3, 2)
    bad(lambda lib: lib.ones(2, 3, requires_grad=True).t_(), "leaf")
    bad(lambda lib: lib.ones(2, 3, 4).t_(), "2")


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_copy_index_fill(dim):
    x = data((4, 5))
    idx = np.array([3, 0, 2])
    src = data(x.shape[:dim % 2] + (3,) + x.shape[dim % 2 + 1:], seed=1)
    run(lambda lib, x, s: lib.index_copy(x, dim, lib.tensor(idx), s), [x, src])
    run(lambda lib, x, s: x.index_copy(dim, lib.tensor(idx), s), [x, src])
    run(lambda lib, x: lib.index_fill(x, dim, lib.tensor(idx), -2.5), [x])
    run(lambda lib, x, v: x.index_fill(dim, lib.tensor(idx), v), [x, np.array(7.0)])
    a, t = tb.tensor(x.copy()), torch.tensor(x.copy())
    assert a.index_fill_(dim, tb.tensor(idx), 1.0) is a
    t.index_fill_(dim, torch.tensor(idx), 1.0)
    assert_close(a, t)
    a, t = tb.tensor(x.copy()), torch.tensor(x.copy())
    a.index_copy_(dim, tb.tensor(idx), tb.tensor(src))
    t.index_copy_(dim, torch.tensor(idx), torch.tensor(src))
    assert_close(a, t)
    bad(lambda lib: lib.index_copy(lib.ones(2), 0, lib.tensor([0], dtype=lib.int32), lib.ones(1)), "long tensor")
    bad(lambda lib: lib.index_copy(lib.ones(2), 0, lib.tensor([5]), lib.ones(1)), "out of")
    bad(lambda lib: lib.index_copy(lib.ones(2, 3), 1, lib.tensor([0, 2]), lib.zeros(2, 3)), "Number of indices")


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(accumulate):
    x = data((4, 5))
    rows, cols = np.array([0, 2, 2, 3]), np.array([1, 4, 4, 0])
    if not accumulate:
        rows, cols = rows[[0, 1, 3]], cols[[0, 1, 3]]
    v = data((len(rows),), seed=2)
    run(lambda lib, x, v: lib.index_put(x, (lib.tensor(rows), lib.tensor(cols)), v, accumulate), [x, v])
    run(lambda lib, x, v: x.index_put((lib.tensor(rows),), v[:, None], accumulate=accumulate), [x, v])
    mask = x > 5
    run(lambda lib, x: x.index_put((lib.tensor(mask),), lib.tensor(0.5, dtype=lib.float64), accumulate), [x])
    a, t = tb.tensor(x.copy()), torch.tensor(x.copy())
    tb.index_put_(a, (tb.tensor(rows), tb.tensor(cols)), tb.tensor(v), accumulate)
    torch.index_put_(t, (torch.tensor(rows), torch.tensor(cols)), torch.tensor(v), accumulate)
    assert_close(a, t)
    bad(lambda lib: lib.ones(3).index_put((lib.tensor([0]),), lib.ones(1, dtype=lib.float64)), "dtype")
    bad(lambda lib: lib.ones(3).index_put((lib.tensor([5]),), lib.ones(1)), "index")


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("dim", [0, 1])
def test_scatter_reduce(reduce, include_self, dim):
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, (3, 4))
    index = rng.integers(0, x.shape[dim], (2, 3))
    src = rng.uniform(0.5, 2.0, (2, 3))  # torch's backward wants src of index's shape
    if reduce == "prod":
        src[0, 0] = 0.0  # zeros get their exact gradient
    run(lambda lib, x, s: lib.scatter_reduce(x, dim, lib.tensor(index), s, reduce, include_self=include_self), [x, src])
    a, t = tb.tensor(x.copy()), torch.tensor(x.copy())
    a.scatter_reduce_(dim, tb.tensor(index), tb.tensor(src), reduce, include_self=include_self)
    t.scatter_reduce_(dim, torch.tensor(index), torch.tensor(src), reduce, include_self=include_self)
    assert_close(a, t)


def test_scatter_reduce_ties_ints_and_errors():
    x, src = np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 3.0, 2.0])
    index = np.array([0, 0, 0, 1])
    for reduce in ("amax", "amin"):
        for inc in (True, False):
            run(lambda lib, x, s: x.scatter_reduce(0, lib.tensor(index), s, reduce, include_self=inc), [x, src])
    for reduce in ("sum", "mean", "amax", "prod"):
        o = tb.tensor([1, 2]).scatter_reduce(0, tb.tensor([0, 0]), tb.tensor([3, 4]), reduce)
        t = torch.tensor([1, 2]).scatter_reduce(0, torch.tensor([0, 0]), torch.tensor([3, 4]), reduce)
        assert_close(o, t)
    bad(lambda lib: lib.scatter_reduce(lib.ones(2), 0, lib.tensor([0]), lib.ones(1), "foo"), "reduce argument")


def test_take_narrow_copy_histc_nonzero_static_unique_consecutive():
    x = data((3, 4))
    run(lambda lib, x: lib.take(x, lib.tensor([[0, -1], [5, 5]])), [x])
    bad(lambda lib: lib.take(lib.ones(3), lib.tensor([5])), "out of range")
    run(lambda lib, x: lib.narrow_copy(x, 1, 1, 2), [x])
    for v, args in (([1.0, 2, 1, 2.5, 4, -1], (4, 0, 3)), ([1.0, 2, 1, 2.5, 4], (3,)), ([2.0, 2.0], (5,)),
                    ([], (3, 0, 1))):
        assert_close(tb.histc(tb.tensor(v), *args), torch.histc(torch.tensor(v), *args))
    assert_close(tb.tensor(x.astype(np.float32)).histc(7), torch.tensor(x.astype(np.float32)).histc(7), np.float32)
    bad(lambda lib: lib.histc(lib.tensor([1, 2, 3]), 3), "histogram_cpu")
    bad(lambda lib: lib.histc(lib.tensor([1.0, 2, 3]), 0), "bins must be > 0")
    bad(lambda lib: lib.histc(lib.tensor([1.0, 2, 3]), 3, 2, 1), "max must be larger than min")
    for size, fill in ((4, -1), (1, 0), (0, -1)):
        m = [[1, 0, 2], [0, 3, 0]]
        assert_close(tb.nonzero_static(tb.tensor(m), size=size, fill_value=fill),
                     torch.nonzero_static(torch.tensor(m), size=size, fill_value=fill))
    v = [[1, 1, 2], [1, 1, 2], [3, 3, 3], [1, 1, 2]]
    for kw in ({}, dict(return_inverse=True), dict(return_counts=True), dict(return_inverse=True, return_counts=True)):
        for dim in (None, 0, 1):
            o, t = tb.unique_consecutive(tb.tensor(v), dim=dim, **kw), torch.unique_consecutive(torch.tensor(v), dim=dim,
                                                                                                 **kw)
            for a, b in zip(o if isinstance(o, tuple) else (o,), t if isinstance(t, tuple) else (t,)):
                assert_close(a, b)


# ---------------------------------------------------------------- metadata, casts and random fills
def test_metadata_and_casts():
    for make in (lambda lib: lib.ones(2, 3), lambda lib: lib.ones(2, 3, dtype=lib.float64).t(),
                 lambda lib: lib.ones(4, 3)[1:, 1:], lambda lib: lib.zeros(2, 1).expand(2, 5),
                 lambda lib: lib.tensor(3), lambda lib: lib.tensor([True])):
        a, t = make(tb), make(torch)
        assert a.nelement() == t.nelement() and a.ndimension() == t.ndimension()
        assert a.element_size() == t.element_size() and a.itemsize == t.itemsize and a.nbytes == t.nbytes
        assert a.stride() == t.stride() and a.storage_offset() == t.storage_offset()
        assert a.is_cpu and not a.is_complex() and a.is_signed() == t.is_signed()
        assert tb.is_signed(a) == torch.is_signed(t) and tb.is_complex(a) is False
        assert a.is_same_size(make(tb)) and not a.is_same_size(tb.ones(7))
    assert tb.tensor([2.5]).is_nonzero() and not tb.tensor([0]).is_nonzero()
    bad(lambda lib: lib.ones(2).is_nonzero(), "more than one value")
    bad(lambda lib: lib.ones(0).is_nonzero(), "no values")
    for name, dtype in (("short", tb.int16), ("char", tb.int8), ("byte", tb.uint8)):
        v = [-1.5, 2.7, 100.0]
        a, t = getattr(tb.tensor(v), name)(), getattr(torch.tensor(v), name)()
        assert a.dtype == dtype and a.tolist() == t.tolist()


def test_random_fills_statistics():
    tb.manual_seed(0)
    n = 200_000
    x = tb.empty(n, dtype=tb.float64)
    assert x.random_(3, 7) is x and set(np.unique(x.numpy())) == {3.0, 4.0, 5.0, 6.0}
    x.random_(5)
    assert set(np.unique(x.numpy())) == {0.0, 1.0, 2.0, 3.0, 4.0}
    i = tb.zeros(1000, dtype=tb.int64).random_()
    assert i.numpy().min() >= 0 and i.numpy().max() > 2 ** 40
    e = x.exponential_(lambd=2.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.01 and abs(e.std() - 0.5) < 0.01
    g = x.geometric_(0.25).numpy()
    assert g.min() == 1 and np.all(g == np.round(g)) and abs(g.mean() - 4.0) < 0.05
    c = x.cauchy_(median=1.0, sigma=2.0).numpy()
    assert abs(np.median(c) - 1.0) < 0.05 and abs(np.percentile(c, 75) - 3.0) < 0.08  # quartiles at median +- sigma
    ln = x.log_normal_(mean=0.5, std=0.3).numpy()
    assert abs(np.log(ln).mean() - 0.5) < 0.01 and abs(np.log(ln).std() - 0.3) < 0.01
    f = tb.empty(1000).random_()
    assert f.dtype == tb.float32 and f.numpy().max() > 2 ** 20 and np.all(f.numpy() == np.round(f.numpy()))
    bad(lambda lib: lib.ones(3).random_(5, 2), "from")
    bad(lambda lib: lib.ones(3).exponential_(-1.0), "exponential_")
    bad(lambda lib: lib.ones(3).geometric_(1.5), "geometric_")
    bad(lambda lib: lib.ones(3).cauchy_(0.0, -1.0), "cauchy_")
    bad(lambda lib: lib.ones(3).log_normal_(0.0, -1.0), "log_normal_")


def test_new_functions_gradcheck():
    rng = np.random.default_rng(11)
    x = tb.tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    src = tb.tensor(rng.uniform(0.5, 2.0, (2, 3)), requires_grad=True)
    index = tb.tensor(rng.integers(0, 3, (2, 3)))
    for reduce in ("sum", "prod", "mean", "amax"):
        for inc in (True, False):
            assert tb.gradcheck(lambda x, s: x.scatter_reduce(0, index, s, reduce, include_self=inc), (x, src))
    v = tb.tensor(rng.standard_normal(4), requires_grad=True)
    for acc in (True, False):
        rows, cols = tb.tensor([0, 2, 2, 1]), tb.tensor([1, 3, 3 if acc else 2, 0])  # repeats only when adding
        assert tb.gradcheck(lambda x, v: x.index_put((rows, cols), v, acc), (x, v))
    assert tb.gradcheck(lambda x: x.quantile(tb.tensor([0.2, 0.7], dtype=tb.float64), dim=1), (x,))
    assert tb.gradcheck(lambda x: x.cummax(1).values + x.nanmedian(0).values.sum(), (x,))
    assert tb.gradcheck(lambda x: tb.fmin(x, x.flip(1)), (x,))
    assert tb.gradcheck(lambda x: x.diag_embed(1).sum(0) + x[:, :3].T.kron(x[:2, :2]).sum(), (x,))
