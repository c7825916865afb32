"""Parity with torch 2.13 for finfo/iinfo, nan_to_num, broadcast_to, diag, tile, meshgrid, median, bernoulli,
take_along_dim, hstack/vstack, searchsorted/bucketize, cdist, dist, erf, exp2, expm1, log2, log10, trunc, frac and
get/set_rng_state: float64 values and gradients to 1e-12 (float32 to 1e-6), dtypes, bad-input errors (type and
text) and finite-difference checks."""
import re
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from test_torch_parity_api import check, lib_args

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4))
POS = RNG.uniform(0.2, 3.0, (3, 4))
SPECIAL = np.array([np.nan, np.inf, -np.inf, 1.5, -2.25, 0.0])


def raises_like(f, args, text=None):
    """f(torch, ...) and f(tb, ...) raise the same exception type; ours contains ``text`` (torch's first line
    when None)."""
    with pytest.raises(Exception) as theirs:
        f(torch, *lib_args(torch, args))
    text = str(theirs.value).split("\n")[0] if text is None else text
    with pytest.raises(theirs.type, match=re.escape(text)):
        f(tb, *lib_args(tb, args))


# ---------------------------------------------------------------- elementwise
ELEMENTWISE = [
    ("erf", X), ("exp2", X), ("expm1", X * 1e-9), ("expm1", X), ("log2", POS), ("log10", POS), ("trunc", X * 3),
    ("frac", X * 3), ("nan_to_num", SPECIAL),
]


@pytest.mark.parametrize("name, data", ELEMENTWISE)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_elementwise_values_and_gradients_like_torch(name, data, dtype, tol):
    data = data.astype(dtype)
    check(lambda x: getattr(tb, name)(x), lambda x: getattr(torch, name)(x), data, tol=tol)
    check(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), data, tol=tol)


def test_exact_at_powers_and_small_arguments():
    assert tb.log2(tb.tensor([8.0, 1024.0])).tolist() == [3.0, 10.0]
    assert tb.log10(tb.tensor([1000.0], dtype=tb.float64)).item() == 3.0
    assert tb.exp2(tb.tensor([10.0])).item() == 1024.0
    assert tb.expm1(tb.tensor([1e-10], dtype=tb.float64)).item() == torch.expm1(torch.tensor([1e-10],
                                                                                            dtype=torch.float64)).item()


@pytest.mark.parametrize("f", [
    lambda L, x: L.nan_to_num(x, nan=1.0, posinf=100.0, neginf=-7.0),
    lambda L, x: x.nan_to_num(posinf=2.5),
    lambda L, x: L.nan_to_num(x, neginf=0.0),
    lambda L, x: L.nan_to_num(x.float(), posinf=1e40),
    lambda L, x: L.nan_to_num(x, nan=L.tensor(3.0)),
])
def test_nan_to_num_options_like_torch(f):
    check(lambda x: f(tb, x), lambda x: f(torch, x), SPECIAL)


@pytest.mark.parametrize("data", [np.array([[1, -3, 8], [0, 2, 5]]), np.array([True, False])])
@pytest.mark.parametrize("name", ["erf", "exp2", "expm1", "log2", "log10", "nan_to_num", "trunc"])
def test_integer_and_bool_inputs_like_torch(name, data):
    if name == "trunc" and data.dtype == bool:  # torch: "trunc_vml_cpu" not implemented for 'Bool'
        return
    check(lambda x: getattr(tb, name)(x), lambda x: getattr(torch, name)(x), data, tol=1e-6)  # float32 results


@pytest.mark.parametrize("name", ["erf", "exp2", "expm1", "log2", "log10", "frac", "nan_to_num", "trunc"])
def test_in_place_forms_like_torch(name):
    data = SPECIAL if name == "nan_to_num" else POS
    a, t = tb.tensor(data.copy()), torch.tensor(data.copy())
    assert getattr(a, name + "_")() is a
    getattr(t, name + "_")()
    np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-12)
    # in a graph the in-place form is recorded, with the gradient of the out-of-place one
    leaves = tb.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    for leaf in leaves:
        y = leaf * 1.5
        getattr(y, name + "_")()
        (y * 2).sum().backward()  # (not y * y: nan_to_num's finite maximum would overflow)
    np.testing.assert_allclose(leaves[0].grad.numpy(), leaves[1].grad.numpy(), rtol=1e-12)


def test_in_place_float_function_of_an_integer_tensor_raises_like_torch():
    raises_like(lambda L, x: x.exp2_(), [np.array([1, 2])], "exp2_: result type Float can't be cast to the desired "
                                                              "output type Long")


# ---------------------------------------------------------------- shapes and selections
V = RNG.standard_normal(4)
TAKE = np.array([[0, 3, -1, 1], [2, 2, 0, -4]])


@pytest.mark.parametrize("name, f, args", [
    ("broadcast_to", lambda L, x: L.broadcast_to(x, (2, 3, 4)), [X]),
    ("broadcast_to -1", lambda L, x: x[:1].broadcast_to((2, -1, 4)), [X]),
    ("diag vector", lambda L, v: L.diag(v), [V]),
    ("diag vector above", lambda L, v: L.diag(v, 2), [V]),
    ("diag vector below", lambda L, v: v.diag(-1), [V]),
    ("diag matrix", lambda L, x: L.diag(x), [X]),
    ("diag matrix above", lambda L, x: L.diag(x, 1), [X]),
    ("diag matrix below", lambda L, x: x.diag(-2), [X]),
    ("diag matrix outside", lambda L, x: L.diag(x, 4), [X]),
    ("diag matrix far below", lambda L, x: L.diag(x, -3), [X]),
    ("tile", lambda L, x: L.tile(x, (2, 3)), [X]),
    ("tile short dims", lambda L, x: L.tile(x, (2,)), [X]),
    ("tile more dims", lambda L, x: x.tile(2, 1, 2), [X]),
    ("tile zero", lambda L, x: x.tile((0, 1)), [X]),
    ("take_along_dim flat", lambda L, x, i: L.take_along_dim(x, i[:, :3] % 4), [X, TAKE]),
    ("take_along_dim", lambda L, x, i: L.take_along_dim(x, i, 1), [X[:2], TAKE]),
    ("take_along_dim broadcast", lambda L, x, i: x.take_along_dim(i[:1] % 3, dim=0), [X, TAKE]),
    ("take_along_dim broadcast index", lambda L, x, i: L.take_along_dim(x[:1], i, 1), [X, TAKE]),
    ("take_along_dim argsort", lambda L, x: L.take_along_dim(x, x.argsort(1), 1), [X]),
    ("hstack", lambda L, x: L.hstack([x, x[:, :1], x * 2]), [X]),
    ("hstack 1-D and 0-D", lambda L, v: L.hstack((v, v[0], v[1:])), [V]),
    ("vstack", lambda L, x, v: L.vstack([x, v, v[None] * 3]), [X, V]),
    ("vstack 0-D", lambda L, v: L.vstack([v[0], v[1]]), [V]),
    ("median", lambda L, x: L.median(x), [X]),
    ("median even count", lambda L, x: x[:, :2].median(), [X]),
    ("median dim", lambda L, x: L.median(x, 1).values, [X]),
    ("median dim 0 keepdim", lambda L, x: x.median(0, keepdim=True)[0], [X]),
    ("median 0-d", lambda L, x: x[0, 0].median(0).values, [X]),
    ("dist", lambda L, x, v: L.dist(x, v), [X, V]),
    ("dist p=1", lambda L, x, v: x.dist(v, 1), [X, V]),
    ("dist p=3", lambda L, x, v: L.dist(x, v, p=3), [X, V]),
    ("dist p=0.5", lambda L, x, v: L.dist(x, v, 0.5), [X, V]),
    ("dist p=inf", lambda L, x, v: L.dist(x, v, float("inf")), [X, V]),
    ("dist p=-inf", lambda L, x, v: L.dist(x, v, -float("inf")), [X, V]),
    ("dist zero", lambda L, x: L.dist(x, x.detach()), [X]),
])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_shape_ops_values_and_gradients_like_torch(name, f, args, dtype, tol):
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
    check(lambda *a: f(tb, *a), lambda *a: f(torch, *a), *args, tol=tol)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_meshgrid_like_torch(indexing, n):
    a, b, c = RNG.standard_normal(2), RNG.standard_normal(3), RNG.standard_normal(4)
    for args in ([a, b, c][:n], [a, np.array(1.5), c][:n]):
        ours, theirs = lib_args(tb, args), lib_args(torch, args)
        ya, yt = tb.meshgrid(*ours, indexing=indexing), torch.meshgrid(theirs, indexing=indexing)
        assert len(ya) == len(yt)
        g = [RNG.standard_normal(tuple(t.shape)) for t in yt]
        for y, t, gk in zip(ya, yt, g):
            np.testing.assert_array_equal(y.detach().numpy(), t.detach().numpy())
        sum((y * tb.tensor(gk)).sum() for y, gk in zip(ya, g)).backward()
        sum((t * torch.tensor(gk)).sum() for t, gk in zip(yt, g)).backward()
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_meshgrid_without_indexing_warns_and_uses_ij():
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        grids = tb.meshgrid(tb.arange(2), tb.arange(3))
    assert [g.shape for g in grids] == [(2, 3), (2, 3)] and grids[0].dtype == tb.int64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tb.meshgrid(tb.arange(2), indexing="xy")


def test_median_ties_nan_and_integers_like_torch():
    for data in ([1.0, 2, 2, 5, 2], [1.0, np.nan, 2, np.nan, 2], [1.0, 2, np.inf, np.inf, np.inf], [0.1] * 3 + [5.0],
                 [[3.0, 1], [1, 2]], [[1.0, 2, 2, 2, 3, 2]], [[3.0, np.nan, 2, np.nan], [4.0, 1, 1, 0]]):
        data = np.array(data)
        check(lambda x: x.median(), lambda x: x.median(), data)
        for dim in range(data.ndim):
            ya, yt = tb.tensor(data).median(dim), torch.tensor(data).median(dim)
            np.testing.assert_array_equal(ya.values.numpy(), yt.values.numpy())
            np.testing.assert_array_equal(ya.indices.numpy(), yt.indices.numpy())
            check(lambda x: x.median(dim).values, lambda x: x.median(dim).values, data)
    ints = np.array([[3, 1, 4, 1], [5, 9, 2, 6]])
    check(lambda x: tb.median(x), lambda x: torch.median(x), ints)
    check(lambda x: x.median(1).indices, lambda x: x.median(1).indices, ints)
    check(lambda x: tb.median(x), lambda x: torch.median(x), np.zeros(0))
    check(lambda x: x.median(0).values, lambda x: x.median(0).values, np.zeros((1, 0)))
    assert tb.median(tb.tensor([[1.0, 2.0]]), 1, True).values.shape == (1, 1)


def test_tile_broadcast_to_and_diag_keep_integer_dtypes():
    ints = np.array([[1, 2, 3], [4, 5, 6]])
    for f in (lambda L, x: L.diag(x, -1), lambda L, x: L.diag(x[0], 1), lambda L, x: L.tile(x, (2, 1)),
              lambda L, x: L.broadcast_to(x, (2, 2, 3)), lambda L, x: L.hstack([x, x > 2]),
              lambda L, x: L.vstack([x[0], x[1].double()]), lambda L, x: L.take_along_dim(x, x % 3, 1)):
        check(lambda x: f(tb, x), lambda x: f(torch, x), ints)


# ---------------------------------------------------------------- cdist
@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 3.0, 0.0, float("inf")])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_cdist_like_torch(p, dtype, tol):
    a, b = RNG.standard_normal((2, 5, 3)).astype(dtype), RNG.standard_normal((1, 4, 3)).astype(dtype)
    b[0, 1] = a[1, 2]  # a zero distance: its gradient is zero in both
    check(lambda x, y: tb.cdist(x, y, p), lambda x, y: torch.cdist(x, y, p), a, b, tol=tol)
    check(lambda x, y: tb.cdist(x, y, p=p), lambda x, y: torch.cdist(x, y, p=p), a[0], b[0], tol=tol)


def test_cdist_of_many_rows_matches_torch_matrix_product_path_closely():
    a, b = RNG.standard_normal((40, 6)), RNG.standard_normal((30, 6))  # torch uses x^2 + y^2 - 2xy here
    check(lambda x, y: tb.cdist(x, y), lambda x, y: torch.cdist(x, y), a, b, tol=1e-10)


# ---------------------------------------------------------------- searchsorted and bucketize
SEQ = np.array([1.0, 2.0, 2.0, 3.5, 7.0])
VALS = np.array([[0.5, 2.0, 3.5], [7.0, 8.0, 2.5]])


@pytest.mark.parametrize("f", [
    lambda L: L.searchsorted(L.tensor(SEQ), L.tensor(VALS)),
    lambda L: L.searchsorted(L.tensor(SEQ), L.tensor(VALS), right=True),
    lambda L: L.searchsorted(L.tensor(SEQ), L.tensor(VALS), side="right"),
    lambda L: L.searchsorted(L.tensor(SEQ), L.tensor(VALS), side="left", out_int32=True),
    lambda L: L.searchsorted(L.tensor(SEQ), 2.0),
    lambda L: L.searchsorted(L.tensor(SEQ), 2, right=True),
    lambda L: L.searchsorted(L.tensor(SEQ[::-1].copy()), L.tensor(VALS), sorter=L.tensor([4, 3, 2, 1, 0])),
    lambda L: L.searchsorted(L.tensor(np.sort(VALS, 1)), L.tensor(VALS[:, :2])),
    lambda L: L.searchsorted(L.tensor(np.sort(VALS, 1)), L.tensor(VALS[:, :2]), right=True),
    lambda L: L.searchsorted(L.tensor([1, 3, 5]), L.tensor([2.5, 3.0, 6.0])),
    lambda L: L.searchsorted(L.tensor([1.0, 3, np.nan]), L.tensor([np.nan, 4.0, -np.inf, np.inf])),
    lambda L: L.searchsorted(L.tensor([1.0, 3, np.nan]), L.tensor([np.nan, 4.0, 3.0]), right=True),
    lambda L: L.searchsorted(L.tensor(SEQ[:0]), L.tensor(VALS)),
    lambda L: L.searchsorted(L.tensor(SEQ), L.tensor(VALS[:0])),
    lambda L: L.bucketize(L.tensor(VALS), L.tensor(SEQ)),
    lambda L: L.bucketize(L.tensor(VALS), L.tensor(SEQ), right=True, out_int32=True),
    lambda L: L.bucketize(3.5, L.tensor(SEQ)),
])
def test_searchsorted_and_bucketize_like_torch(f):
    ours, theirs = f(tb), f(torch)
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_searchsorted_on_random_data_like_torch():
    seq = np.sort(RNG.integers(0, 20, (4, 50)), 1).astype(np.float32)
    vals = RNG.integers(-2, 22, (4, 30)).astype(np.float32)
    for right in (False, True):
        for s in (seq, seq[0]):
            np.testing.assert_array_equal(tb.searchsorted(tb.tensor(s), tb.tensor(vals), right=right).numpy(),
                                          torch.searchsorted(torch.tensor(s), torch.tensor(vals), right=right).numpy())


# ---------------------------------------------------------------- finfo / iinfo
@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_like_torch(name):
    for arg in (getattr(tb, name, None) or np.dtype(name), np.dtype(name), getattr(np, name)):
        ours, theirs = tb.finfo(arg), torch.finfo(getattr(torch, name))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
            assert getattr(ours, attr) == getattr(theirs, attr) and type(getattr(ours, attr)) is type(
                getattr(theirs, attr)), attr
        assert repr(ours) == repr(theirs) and ours == tb.finfo(arg)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo_like_torch(name):
    ours, theirs = tb.iinfo(np.dtype(name)), torch.iinfo(getattr(torch, name))
    assert (ours.bits, ours.max, ours.min, ours.dtype) == (theirs.bits, theirs.max, theirs.min, theirs.dtype)
    assert type(ours.max) is type(theirs.max) is int and repr(ours) == repr(theirs)


def test_finfo_follows_the_default_dtype_and_masks_scores():
    assert tb.finfo().dtype == torch.finfo().dtype == "float32"
    try:
        tb.set_default_dtype(tb.float64), torch.set_default_dtype(torch.float64)
        assert tb.finfo().dtype == torch.finfo().dtype == "float64"
    finally:
        tb.set_default_dtype(tb.float32), torch.set_default_dtype(torch.float32)
    mask = np.array([[True, False, False, True]] * 3)
    check(lambda x: x.masked_fill(tb.tensor(mask), tb.finfo(x.dtype).min).softmax(-1),
          lambda x: x.masked_fill(torch.tensor(mask), torch.finfo(x.dtype).min).softmax(-1), X)
    assert tb.tensor([1], dtype=tb.int64).masked_fill(tb.tensor([True]), tb.iinfo(tb.int64).max).item() == 2 ** 63 - 1


# ---------------------------------------------------------------- bernoulli and the rng state
def test_bernoulli_draws_dtypes_and_zero_gradient():
    p = tb.tensor(np.linspace(0, 1, 11).repeat(4000).reshape(11, 4000), requires_grad=True)
    y = tb.bernoulli(p)
    assert y.dtype == p.dtype and y.shape == p.shape and set(np.unique(y.detach().numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(y.detach().numpy().mean(1), np.linspace(0, 1, 11), atol=0.03)
    assert y.detach().numpy()[0].sum() == 0 and y.detach().numpy()[-1].all()
    y.sum().backward()
    t = torch.tensor(p.detach().numpy(), requires_grad=True)
    torch.bernoulli(t).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
    assert tb.zeros(5000, dtype=tb.float64).bernoulli(0.25).dtype == tb.float64
    assert abs(tb.zeros(5000).bernoulli(p=0.25).numpy().mean() - 0.25) < 0.03
    ints = tb.zeros(5000, dtype=tb.int64).bernoulli_(0.75)
    assert ints.dtype == tb.int64 and abs(ints.numpy().mean() - 0.75) < 0.03
    probs = tb.tensor([0.0, 1.0, 0.0, 1.0], dtype=tb.float64)
    assert tb.ones(4).bernoulli_(probs).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_bernoulli_generator_and_default_stream_repeat():
    p = tb.full((50,), 0.5)
    a = tb.bernoulli(p, generator=tb.Generator().manual_seed(3))
    b = p.bernoulli(generator=tb.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = tb.zeros(50)
    x.bernoulli_(generator=tb.Generator().manual_seed(3))
    np.testing.assert_array_equal(x.numpy(), a.numpy())
    state = tb.get_rng_state()
    first = tb.bernoulli(p)
    tb.set_rng_state(state)
    np.testing.assert_array_equal(tb.bernoulli(p).numpy(), first.numpy())


def test_rng_state_round_trip_like_torch():
    for lib in (tb, torch):
        lib.manual_seed(5)
        lib.rand(3)
        state = lib.get_rng_state()
        assert state.dtype == lib.uint8 if lib is torch else state.dtype == np.uint8
        u, n, i = lib.rand(4), lib.randn(3), lib.randint(0, 100, (5,))
        lib.rand(7)
        assert lib.set_rng_state(state) is None
        np.testing.assert_array_equal(lib.rand(4).numpy(), u.numpy())
        np.testing.assert_array_equal(lib.randn(3).numpy(), n.numpy())
        np.testing.assert_array_equal(lib.randint(0, 100, (5,)).numpy(), i.numpy())
        assert lib.initial_seed() == 5
        g = lib.Generator().manual_seed(9)
        saved = g.get_state()
        draws = lib.rand(6, generator=g)
        assert g.set_state(saved.clone()) is g
        np.testing.assert_array_equal(lib.rand(6, generator=g).numpy(), draws.numpy())


def test_rng_state_survives_save_and_load(tmp_path):
    state = tb.get_rng_state()
    u = tb.rand(3)
    tb.save(state, tmp_path / "rng.pt")
    tb.set_rng_state(tb.load(tmp_path / "rng.pt"))
    np.testing.assert_array_equal(tb.rand(3).numpy(), u.numpy())


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("f, args, text", [
    (lambda L: L.finfo(L.int64), [], "torch.finfo() requires a floating point input type"),
    (lambda L: L.iinfo(L.float32), [], "torch.iinfo() requires an integer input type"),
    (lambda L: L.iinfo(L.bool), [], "torch.bool is not supported by torch.iinfo"),
    (lambda L: L.finfo("float32"), [], "finfo(): argument 'type' (position 1) must be torch.dtype, not str"),
    (lambda L, x: L.nan_to_num(x, posinf="a"), [X], "nan_to_num(): argument 'posinf' must be float, not str"),
    (lambda L, x: L.broadcast_to(x, (4, 4)), [X], None),
    (lambda L, x: L.broadcast_to(x, (4,)), [X], "broadcast_to: cannot expand shape (3, 4) to (4,): the number of "
                                                "sizes provided (1) must be greater or equal to the number of "
                                                "dimensions in the tensor (2)"),
    (lambda L, x: L.broadcast_to(x, (-1, 3, 4)), [X], "The expanded size of the tensor (-1) isn't allowed in a "
                                                      "leading, non-existing dimension 0"),
    (lambda L, x: L.diag(x.reshape(3, 2, 2)), [X], None),
    (lambda L, x: L.diag(x[0, 0]), [X], None),
    (lambda L, x: L.tile(x, (2, -1)), [X], None),
    (lambda L, x: L.tile(x, 2), [X], None),
    (lambda L, x: L.meshgrid(x[0], x[0].long(), indexing="ij"), [X], "meshgrid expects all tensors to have the "
                                                                     "same dtype"),
    (lambda L, x: L.meshgrid(x[0], x, indexing="ij"), [X], "torch.meshgrid: Expected 0D or 1D tensor in the "
                                                           "tensor list but got:"),
    (lambda L, x: L.meshgrid(x[0], indexing="ab"), [X], None),
    (lambda L: L.meshgrid(indexing="ij"), [], None),
    (lambda L, x: L.median(x > 0), [X], "\"median_cpu\" not implemented for 'Bool'"),
    (lambda L, x: L.median(x, 2), [X], "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda L, x: L.median(x[:, :0], 1), [X], None),
    (lambda L, x: L.bernoulli(x), [X], "Expected p_in >= 0 && p_in <= 1 to be true, but got false."),
    (lambda L, x: L.bernoulli(x.long()), [X], "\"bernoulli_tensor_cpu_p_\" not implemented for 'Long'"),
    (lambda L, x: L.bernoulli(x.abs() / 10, p=1.5), [X], None),
    (lambda L, x: x.bernoulli_(-0.5), [X], None),
    (lambda L, x: x.detach().bernoulli_(x.detach()), [X], "Expected p_in >= 0 && p_in <= 1 to be true, but got false."),
    (lambda L, x: L.take_along_dim(x, x.argmax(1), 1), [X], None),
    (lambda L, x: L.take_along_dim(x, x.argmax(1, keepdim=True).int(), 1), [X], None),
    (lambda L, x: L.take_along_dim(x, x.argmax(1, keepdim=True), 2), [X],
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda L, x: L.take_along_dim(x, L.zeros(2, 2, dtype=L.int64), 1), [X],
     "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"),
    (lambda L, x: L.take_along_dim(x, L.tensor([12])), [X], "index 12 is out of bounds for dimension 0 with size 12"),
    (lambda L: L.hstack([]), [], None),
    (lambda L, x: L.hstack(x), [X], None),
    (lambda L, x: L.hstack([x, x[:2]]), [X], "must match except in dimension 1"),
    (lambda L: L.vstack([]), [], None),
    (lambda L, x: L.vstack([x, x[:, :2]]), [X], "must match except in dimension 0"),
    (lambda L, x: L.searchsorted(x[0], x[0], right=True, side="left"), [X], None),
    (lambda L, x: L.searchsorted(x[0], x[0], side="middle"), [X], None),
    (lambda L, x: L.searchsorted(x[0, 0], x[0]), [X], None),
    (lambda L, x: L.searchsorted(x, x[:2]), [X], None),
    (lambda L, x: L.searchsorted(x, x[0]), [X], None),
    (lambda L, x: L.searchsorted(x, 1.0), [X], None),
    (lambda L, x: L.searchsorted(x[0], x, sorter=L.tensor([0, 1])), [X], None),
    (lambda L, x: L.searchsorted(x[0], x, sorter=L.tensor([0, 1, 2, 4])), [X], None),
    (lambda L, x: L.searchsorted(x[0], x, sorter=L.tensor([0.0, 1, 2, 3])), [X], None),
    (lambda L, x: L.bucketize(x, x), [X], None),
    (lambda L, x: L.bucketize(x, x[0, 0]), [X], None),
    (lambda L, x: L.cdist(x.long(), x.long()), [X], None),
    (lambda L, x: L.cdist(x[0], x[0]), [X], None),
    (lambda L, x: L.cdist(x, x[:, :2]), [X], "X1 and X2 must have the same number of columns. X1: 4 X2: 2"),
    (lambda L, x: L.cdist(x, x, p=-1), [X], None),
    (lambda L, x: L.cdist(x, x, compute_mode="foo"), [X], None),
    (lambda L, x: L.cdist(x, x.float()), [X], "expected scalar type Double but found Float"),
    (lambda L, x: L.cdist(x.reshape(3, 2, 2), x[:2].reshape(2, 2, 2)), [X],
     "The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 0"),
    (lambda L, x: L.dist(x, x[:2]), [X], "The size of tensor a (3) must match the size of tensor b (2) at "
                                         "non-singleton dimension 0"),
    (lambda L, x: L.dist(x.long(), x.long()), [X], None),
    (lambda L, x: L.dist(x, x, p="fro"), [X], None),
    (lambda L, x: L.frac(x.long()), [X], None),
    (lambda L: L.set_rng_state([1, 2]), [], "expected a torch.ByteTensor, but got list"),
    (lambda L: L.set_rng_state(L.zeros(3)), [], "RNG state must be a torch.ByteTensor"),
    (lambda L: L.set_rng_state(L.zeros(3, dtype=L.uint8)), [], "the input RNG state size to be 3"),
])
def test_bad_input_raises_like_torch(f, args, text):
    raises_like(f, args, text)


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("f", [
    tb.erf, tb.exp2, tb.expm1, lambda x: tb.log2(x.abs() + 0.1), lambda x: tb.log10(x.abs() + 0.1),
    lambda x: tb.frac(x * 3), lambda x: tb.nan_to_num(x.log()), lambda x: tb.broadcast_to(x, (2, 3, 4)),
    lambda x: tb.diag(x), lambda x: tb.diag(x, -1), lambda x: tb.diag(x[0], 1), lambda x: tb.tile(x, (2, 1, 3)),
    lambda x: tb.meshgrid(x[0], x[1, :2], indexing="xy"), lambda x: tb.median(x), lambda x: tb.median(x, 1).values,
    lambda x: tb.take_along_dim(x, tb.tensor([[0, 3, -1]]), 1), lambda x: tb.take_along_dim(x, tb.tensor([5, 5])),
    lambda x: tb.hstack([x, x[:, :1] * 2]),
    lambda x: tb.vstack([x, x[0] * 2]), lambda x: tb.cdist(x, x[:2] * 2), lambda x: tb.cdist(x, x[:2] + 1, p=1.5),
    lambda x: tb.dist(x, x[0] * 2), lambda x: tb.dist(x, x[0] * 2, 3),
])
def test_gradcheck(f):
    assert tb.gradcheck(f, (tb.tensor(X, requires_grad=True),))
