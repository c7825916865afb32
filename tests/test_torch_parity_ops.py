"""Parity with PyTorch: forward values and gradients of ops and losses on the same random inputs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinybptt as tb
import tinybptt.nn.functional as F

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def _pos(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def _normal(rng, shape):
    return rng.standard_normal(shape)


# name -> (input makers, fn(lib, F, *inputs)); lib is tinybptt or torch, F its functional module
CASES = {
    "add_bcast": ([(_normal, (3, 4)), (_normal, (4,))], lambda lib, F, a, b: a + b),
    "sub_bcast": ([(_normal, (2, 1, 4)), (_normal, (3, 1))], lambda lib, F, a, b: a - b),
    "mul_bcast": ([(_normal, (3, 1)), (_normal, (1, 4))], lambda lib, F, a, b: a * b),
    "div_bcast": ([(_normal, (3, 4)), (_pos, (3, 1))], lambda lib, F, a, b: a / b),
    "pow": ([(_pos, (3, 4)), (_normal, (4,))], lambda lib, F, a, b: a ** b),
    "pow_scalar": ([(_normal, (3, 4))], lambda lib, F, a: a ** 3 + 2.0 ** a - 1.5 / (a * a + 1)),
    "neg_abs": ([(_normal, (5,))], lambda lib, F, a: (-a).abs()),
    "exp_log_sqrt": ([(_pos, (3, 4))], lambda lib, F, a: a.exp() + a.log() * a.sqrt()),
    "tanh_sigmoid_relu": ([(_normal, (4, 5))], lambda lib, F, a: a.tanh() * a.sigmoid() + a.relu()),
    "sin_cos": ([(_normal, (4, 5))], lambda lib, F, a: a.sin() * lib.cos(a) + lib.sin(a * 2) - a.cos()),
    "clamp": ([(_normal, (4, 5))], lambda lib, F, a: a.clamp(-0.5, 0.7) + a.clamp(min=0.2) + a.clamp(max=-0.1)),
    "matmul_2d": ([(_normal, (3, 4)), (_normal, (4, 5))], lambda lib, F, a, b: a @ b),
    "matmul_3d_2d": ([(_normal, (2, 3, 4)), (_normal, (4, 5))], lambda lib, F, a, b: a @ b),
    "matmul_2d_3d": ([(_normal, (3, 4)), (_normal, (2, 4, 5))], lambda lib, F, a, b: a @ b),
    "matmul_3d_3d": ([(_normal, (2, 3, 4)), (_normal, (2, 4, 5))], lambda lib, F, a, b: a @ b),
    "matmul_1d_3d": ([(_normal, (4,)), (_normal, (2, 4, 5))], lambda lib, F, a, b: a @ b),
    "matmul_3d_1d": ([(_normal, (2, 3, 4)), (_normal, (4,))], lambda lib, F, a, b: a @ b),
    "matmul_1d_1d": ([(_normal, (4,)), (_normal, (4,))], lambda lib, F, a, b: a @ b),
    "matmul_bcast4d": ([(_normal, (2, 1, 3, 4)), (_normal, (5, 4, 2))], lambda lib, F, a, b: lib.matmul(a, b)),
    "softmax": ([(_normal, (3, 5))], lambda lib, F, a: a.softmax(1) + lib.softmax(a, 0)),
    "log_softmax": ([(_normal, (2, 3, 5))], lambda lib, F, a: a.log_softmax(-1) + F.log_softmax(a, dim=1)),
    "sum_mean": ([(_normal, (2, 3, 4))], lambda lib, F, a: a.sum((0, 2)) + a.mean(1).sum(1).sum() + a.mean()),
    "sum_keepdim": ([(_normal, (2, 3, 4))], lambda lib, F, a: a.sum(1, keepdim=True) * a.mean(-1, keepdim=True)),
    "max_min_dim": ([(_normal, (4, 5))], lambda lib, F, a: a.max(1)[0] + a.min(dim=1, keepdim=True).values.sum(1)),
    "max_all": ([(_normal, (4, 5))], lambda lib, F, a: a.max() - a.min()),
    "amax": ([(_normal, (4, 5))], lambda lib, F, a: a.amax(0) + a.amin(0) + a.amax(()) + a.sum(()) + a.mean(())),
    "maximum": ([(_normal, (4, 5)), (_normal, (5,))],
                lambda lib, F, a, b: lib.maximum(a, b) + lib.minimum(a, b) * 2 + lib.max(a, a.clamp(max=0.1))),
    "reshape_permute": ([(_normal, (2, 3, 4))],
                        lambda lib, F, a: a.reshape(6, 4).T.reshape(4, 3, 2).permute(2, 0, 1).transpose(0, 1)),
    "expand_unsqueeze": ([(_normal, (3, 1))], lambda lib, F, a: a.expand(3, 4).unsqueeze(0) * a.squeeze(1)[:, None]),
    "getitem_slices": ([(_normal, (4, 5))], lambda lib, F, a: a[1:3, ::2] * a[-1, 1:4:1].sum()),
    "getitem_ints_repeat": ([(_normal, (4, 5))], lambda lib, F, a: a[lib.tensor([0, 2, 2, 3])][:, lib.tensor([1, 1])]),
    "getitem_mask": ([(_normal, (4, 5))], lambda lib, F, a: a[a > 0.1] * 2),
    "cat_stack": ([(_normal, (2, 3)), (_normal, (2, 3))],
                  lambda lib, F, a, b: lib.cat([a, b, a], 1).sum(0)[2:5] + lib.stack([a, b], 2).sum((0, 2))),
    "split_chunk": ([(_normal, (5, 4))],
                    lambda lib, F, a: a.split(2)[2].sum() + lib.chunk(a, 2, 1)[1].sum(0).sum() * a.split([1, 4])[1][0]),
    "where_masked_fill": ([(_normal, (3, 4)), (_normal, (4,))],
                          lambda lib, F, a, b: lib.where(a > 0, a, b) + a.masked_fill(a < -0.5, 3.0)),
    "embedding": ([(_normal, (6, 3))], lambda lib, F, w: F.embedding(lib.tensor([[0, 2, 2], [5, 0, 2]]), w) * 1.5),
    "embedding_pad": ([(_normal, (6, 3))],
                      lambda lib, F, w: F.embedding(lib.tensor([[0, 2, 2], [5, 0, 2]]), w, padding_idx=2)),
    "dropout_eval": ([(_normal, (3, 4))], lambda lib, F, a: F.dropout(a * 2, 0.3, training=False)),
    "linear": ([(_normal, (3, 4)), (_normal, (5, 4)), (_normal, (5,))], lambda lib, F, x, w, b: F.linear(x, w, b)),
    "mse_mean": ([(_normal, (3, 4)), (_normal, (3, 4))], lambda lib, F, a, b: F.mse_loss(a, b)),
    "mse_sum": ([(_normal, (3, 4)), (_normal, (3, 4))], lambda lib, F, a, b: F.mse_loss(a, b, reduction="sum")),
    "mse_none": ([(_normal, (3, 4)), (_normal, (3, 4))], lambda lib, F, a, b: F.mse_loss(a, b, reduction="none")),
    "bce_logits": ([(_normal, (3, 4)), (_pos, (3, 4))],
                   lambda lib, F, a, b: F.binary_cross_entropy_with_logits(a, b / 2)),
    "l1": ([(_normal, (3, 4)), (_normal, (3, 4))], lambda lib, F, a, b: F.l1_loss(a, b)),
}

TARGET = np.array([0, 3, 1, 1, 2, 4])
TARGET_IGN = np.array([0, -100, 1, 1, -100, 4])
WEIGHT = np.array([0.5, 1.0, 2.0, 1.5, 0.7])


def _ce_case(reduction, smoothing, weight, ignore):
    target = TARGET_IGN if ignore else TARGET

    def f(lib, F, x):
        w = None if not weight else lib.tensor(WEIGHT, dtype=x.dtype)
        return F.cross_entropy(x, lib.tensor(target), weight=w, reduction=reduction, label_smoothing=smoothing)
    return [(_normal, (6, 5))], f


for _red in ("mean", "sum", "none"):
    for _s in (0.0, 0.1):
        for _w in (False, True):
            for _ig in (False, True):
                CASES[f"ce_{_red}_s{_s}_w{int(_w)}_ign{int(_ig)}"] = _ce_case(_red, _s, _w, _ig)
                CASES[f"nll_{_red}_w{int(_w)}_ign{int(_ig)}"] = (
                    [(_normal, (6, 5))],
                    lambda lib, F, x, r=_red, w=_w, ig=_ig: F.nll_loss(
                        F.log_softmax(x, 1), lib.tensor(TARGET_IGN if ig else TARGET), reduction=r,
                        weight=lib.tensor(WEIGHT, dtype=x.dtype) if w else None))

CASES.update({
    "ce_ignore_index_7": ([(_normal, (4, 3))],
                          lambda lib, F, x: F.cross_entropy(x, lib.tensor([1, 7, 0, 7]), ignore_index=7)),
    "ce_nd": ([(_normal, (2, 3, 4))], lambda lib, F, x: F.cross_entropy(x, lib.tensor([[0, 1, 2, 2], [1, 1, 0, 2]]))),
    "ce_unbatched": ([(_normal, (5,))], lambda lib, F, x: F.cross_entropy(x, lib.tensor(3))),
    "ce_unbatched_w": ([(_normal, (5,))], lambda lib, F, x: F.cross_entropy(
        x, lib.tensor(3), weight=lib.tensor(WEIGHT, dtype=x.dtype))),
    "ce_probs": ([(_normal, (4, 5)), (_pos, (4, 5))],
                 lambda lib, F, x, p: F.cross_entropy(x, p / p.sum(1, keepdim=True), label_smoothing=0.1)),
    "nll_nd": ([(_normal, (2, 3, 4))],
               lambda lib, F, x: F.nll_loss(x, lib.tensor([[0, 1, 2, 2], [1, 1, 0, 2]]), reduction="none")),
    "nll_unbatched": ([(_normal, (5,))], lambda lib, F, x: F.nll_loss(x, lib.tensor(2))),
})


def _run(lib, F, fn, arrays):
    if lib is torch:
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    else:
        xs = [tb.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, F, *xs)
    return xs, out


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(CASES))
def test_parity(name, dtype):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    makers, fn = CASES[name]
    arrays = [make(rng, shape).astype(dtype) for make, shape in makers]
    txs, tout = _run(torch, TF, fn, arrays)
    xs, out = _run(tb, F, fn, arrays)
    assert out.dtype == dtype and tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **TOL[dtype])
    cot = rng.standard_normal(tout.shape).astype(dtype)
    tout.backward(torch.tensor(cot))
    out.backward(tb.tensor(cot))
    for x, tx in zip(xs, txs):
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_stability_against_torch(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [0.0, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype)
    target = np.array([1, 2, 0])
    x, tx = tb.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss, tloss = F.cross_entropy(x, tb.tensor(target)), TF.cross_entropy(tx, torch.tensor(target))
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-6)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-6)
    z = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype)
    s, ts = tb.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    np.testing.assert_allclose(s.sigmoid().detach().numpy(), ts.sigmoid().detach().numpy(), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(s.tanh().detach().numpy(), ts.tanh().detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(s.log_softmax(0).detach().numpy(), ts.log_softmax(0).detach().numpy(), rtol=1e-6)


def test_dtype_promotion_matches_torch():
    cases = [(np.arange(3), 2.5), (np.arange(3), np.ones(3, np.float32)), (np.ones(3, np.float32), np.float64(2)),
             (np.ones(3, np.float32), np.ones(3)), (np.array([True, False]), 1), (np.arange(3), 2),
             (np.ones(3, np.float32), np.array(2.0))]
    for a, b in cases:
        for op in ("__add__", "__mul__", "__truediv__", "__rsub__")[:3 if a.dtype == bool else 4]:
            ta = torch.tensor(a)
            tbb = torch.tensor(b) if isinstance(b, np.ndarray) else b
            xb = tb.tensor(b) if isinstance(b, np.ndarray) else b
            expect = getattr(ta, op)(tbb).dtype
            got = getattr(tb.tensor(a), op)(xb).dtype
            assert str(got) == str(expect).replace("torch.", ""), (a.dtype, b, op)


def test_printing_matches_torch():
    values = [[1.5, 2.0], [1.0, 2.0], [-1.5, 2.25], [1e-5, 1.0], [1e9, 1.0], [float("nan"), 1.5],
              [[1.5, -2.0], [3.0, 4.0]], [0.0, 0.0], 2.5, [1, 2], [True], [True, False], [float("inf"), -1.0]]
    for v in values:
        assert repr(tb.tensor(v)) == repr(torch.tensor(v)), v
    x, tx = tb.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == repr(tx) and repr(x * 2) == repr(tx * 2)
    assert repr(tb.tensor([1.5], dtype=tb.float64)) == repr(torch.tensor([1.5], dtype=torch.float64)).replace(
        "torch.", "tinybptt.")


@pytest.mark.parametrize("mask, value, message", [
    (np.ones((2, 3)), 0.0, "masked_fill_ only supports boolean masks, but got mask with dtype"),
    (np.ones((2, 3), np.int64), 0.0, "masked_fill_ only supports boolean masks, but got mask with dtype"),
    (np.ones((3, 2), bool), 0.0, "must match the size of tensor b"),
    (np.ones((2, 3), bool), [1.0, 2.0], "masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                                        "with 1 dimension"),
])
def test_masked_fill_rejects_what_torch_rejects(mask, value, message):
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.raises(RuntimeError, match=message):
        torch.tensor(x).masked_fill(torch.tensor(mask), torch.tensor(value))
    with pytest.raises(RuntimeError, match=message):
        tb.tensor(x).masked_fill(mask, tb.tensor(value))


def test_masked_fill_broadcasts_mask_and_0d_value_like_torch():
    x = np.random.default_rng(1).standard_normal((2, 3))
    mask = np.array([[[True, False, True]], [[False, False, True]]])  # (2, 1, 3): the result grows to (2, 2, 3)
    want = torch.tensor(x).masked_fill(torch.tensor(mask), torch.tensor(7.0)).numpy()
    got = tb.tensor(x).masked_fill(mask, tb.tensor(7.0)).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64)])
def test_masked_fill_value_tensor_gets_its_gradient_like_torch(dtypes):
    xd, vd = dtypes
    rng = np.random.default_rng(2)
    x, mask, g = rng.standard_normal((2, 3, 4)).astype(xd), rng.random((3, 1)) < 0.5, rng.standard_normal((2, 3, 4))
    results = []
    for lib in (tb, torch):
        a, v = lib.tensor(x, requires_grad=True), lib.tensor(np.array(1.5, vd), requires_grad=True)
        out = a.masked_fill(lib.tensor(mask), v)
        (out * lib.tensor(g.astype(xd))).sum().backward()
        results.append([out.detach().numpy(), a.grad.numpy(), v.grad.numpy()])
    for ours, theirs in zip(*results):
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, **TOL[xd])


def test_where_takes_a_uint8_condition_with_torchs_deprecation_warning():
    rng = np.random.default_rng(3)
    cond, x, y = (rng.random((3, 4)) < 0.5).astype(np.uint8), rng.standard_normal((3, 4)), rng.standard_normal(4)
    with pytest.warns(UserWarning, match="where received a uint8 condition tensor"):
        want = torch.where(torch.tensor(cond), torch.tensor(x), torch.tensor(y)).numpy()
    with pytest.warns(UserWarning, match="where received a uint8 condition tensor"):
        got = tb.where(tb.tensor(cond), tb.tensor(x), tb.tensor(y)).numpy()
    np.testing.assert_array_equal(got, want)
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        tb.where(tb.tensor(cond.astype(np.int64)), tb.tensor(x), tb.tensor(y))


@pytest.mark.parametrize("expr", [
    "lib.isin(lib.arange(6).reshape(2, 3), lib.tensor([1, 4]))",
    "lib.isin(lib.arange(6), lib.tensor([1, 4]), invert=True)",
    "lib.isin(lib.arange(6), 3)",
    "lib.isin(lib.tensor([1.0, 2.5]), lib.tensor([1, 2]))",
    "lib.argwhere(lib.arange(6).reshape(2, 3) > 2)",
    "(lib.arange(6).reshape(2, 3) > 2).argwhere()",
    "lib.argwhere(lib.tensor(True))",
    "lib.ones(3).new_ones((2, 2), dtype=lib.bool)",
    "lib.arange(3).new_ones(2, 3)",
])
def test_mask_building_helpers_like_torch(expr):
    got, want = eval(expr, {"lib": tb}), eval(expr, {"lib": torch})
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("mask_shape, self_shape, source_size", [
    ((2, 3), (2, 3), 6), ((3,), (2, 3), 6), ((2, 3), (3,), 10), ((2, 3), (2, 3), 0), ((2, 3), (2, 3), 3)],
    ids=["same", "mask_broadcast", "self_broadcast", "empty_source", "nothing_masked"])
@pytest.mark.parametrize("how", ["method", "function", "inplace"])
def test_masked_scatter_values_and_gradients_like_torch(mask_shape, self_shape, source_size, how):
    rng = np.random.default_rng(5)
    mask = rng.random(mask_shape) < 0.5
    if source_size in (0, 3):
        mask[:] = False
    x, src = rng.standard_normal(self_shape), rng.standard_normal(source_size)
    results = []
    for lib in (tb, torch):
        a, s = lib.tensor(x, requires_grad=True), lib.tensor(src, requires_grad=True)
        if how == "inplace":
            if self_shape != np.broadcast_shapes(mask_shape, self_shape):
                return  # an in-place op cannot grow its tensor
            out = a * 1
            out.masked_scatter_(lib.tensor(mask), s)
        else:
            m = lib.tensor(mask)
            out = a.masked_scatter(m, s) if how == "method" else lib.masked_scatter(a, m, s)
        (out * lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))).sum().backward()
        results.append([out.detach().numpy(), a.grad.numpy(), s.grad.numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert ours.shape == theirs.shape


@pytest.mark.parametrize("mask, source, message", [
    (np.ones((2, 3), np.int32), np.zeros(6), "masked_scatter_ only supports boolean masks"),
    (np.ones((2, 3), bool), np.zeros(6, np.float32), "masked_scatter: expected self and source to have same dtypes"),
    (np.ones((2, 3), bool), np.zeros(5), "Number of elements of source < number of ones in mask"),
])
def test_masked_scatter_rejects_what_torch_rejects(mask, source, message):
    x = np.zeros((2, 3))
    with pytest.raises(RuntimeError, match=message):
        torch.tensor(x).masked_scatter(torch.tensor(mask), torch.tensor(source))
    with pytest.raises(RuntimeError, match=message):
        tb.tensor(x).masked_scatter(tb.tensor(mask), tb.tensor(source))


def test_mask_functions_take_torchs_keyword_names():
    x, mask = np.array([-1.0, 2.0, 3.0]), np.array([True, False, True])
    for fn, kw in (("masked_fill", dict(value=0.5)), ("masked_select", {})):
        want = getattr(torch, fn)(input=torch.tensor(x), mask=torch.tensor(mask), **kw).numpy()
        got = getattr(tb, fn)(input=tb.tensor(x), mask=tb.tensor(mask), **kw).numpy()
        np.testing.assert_array_equal(got, want)


def test_logical_xor_function_like_torch():
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    np.testing.assert_array_equal(tb.logical_xor(tb.tensor(a), tb.tensor(b)).numpy(),
                                  torch.logical_xor(torch.tensor(a), torch.tensor(b)).numpy())


def test_isin_rejects_bool_like_torch():
    with pytest.raises(RuntimeError, match="Unsupported input type encountered for isin"):
        torch.isin(torch.tensor([True]), torch.tensor([1]))
    with pytest.raises(RuntimeError, match="isin: Unsupported input type encountered for isin"):
        tb.isin(tb.tensor([True]), tb.tensor([1]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_0d_tensor_like_torch(name):
    want = getattr(torch.tensor(2.5), name)(0).item()
    assert getattr(tb.tensor(2.5), name)(0).item() == want
    assert getattr(tb.tensor(2.5), name)(-1).item() == want
    with pytest.raises(IndexError, match="out of range"):
        getattr(tb.tensor(2.5), name)(1)


# ---------------------------------------------------------------- reductions, clamp, indexing helpers vs torch
def _with_zeros(rng, shape):
    a = rng.standard_normal(shape)
    a[0, 1] = a[1, 2] = a[1, 3] = 0.0  # one zero in row 0, two in row 1 (prod and p-norm gradients)
    a[2] = 0.0                          # an all-zero row (norms at zero)
    return a


def _ties(rng, shape):
    return np.round(rng.standard_normal(shape) * 2) / 2


MORE_CASES = {
    "var_std_forms": ([(_normal, (3, 4))], lambda lib, a: a.var() + a.var(0).sum() + a.var(1, keepdim=True).sum()
                      + a.std(False) + a.var(dim=1, correction=0).sum() + a.std(dim=(0, 1), correction=2)
                      + lib.var(a, 1, unbiased=False).sum() + lib.std(a, dim=0, keepdim=True).sum()),
    "var_empty_dim_tuple_is_all": ([(_normal, (3, 4))], lambda lib, a: a.var(dim=[0, 1], keepdim=True)),
    "norm_p": ([(_with_zeros, (4, 5))], lambda lib, a: a.norm() + a.norm(1) + a.norm(3, dim=1).sum()
               + a.norm(0.5, dim=1, keepdim=True).sum() + a.norm("fro", dim=0).sum()
               + a.norm(float("inf"), dim=1).sum() + lib.norm(a, 2, dim=1).sum()),
    "logsumexp": ([(_normal, (3, 4))], lambda lib, a: a.logsumexp(1) + lib.logsumexp(a, (0, 1))
                  + (a * 500).logsumexp(dim=1, keepdim=True).sum(1)),
    "logsumexp_neg_inf_row": ([(_normal, (2, 3))],
                              lambda lib, a: a.masked_fill(lib.tensor([[False] * 3, [True, True, False]]),
                                                           float("-inf")).logsumexp(1)),
    "prod": ([(_with_zeros, (4, 5))], lambda lib, a: a.prod(1) + a.prod(0, keepdim=True).sum() + a[0].prod()
             + a[3].prod() + lib.prod(a, -1)),
    "cumsum": ([(_normal, (3, 4))], lambda lib, a: a.cumsum(1) * lib.cumsum(a, dim=-2)),
    "clamp_tensor_bounds": ([(_normal, (4, 5)), (_normal, (5,)), (_normal, (4, 1))],
                            lambda lib, a, lo, hi: a.clamp(lo - 0.5, hi + 0.5) + a.clamp(min=lo) + a.clamp(max=hi)
                            + lib.clamp(a, lo + 0.3, lo) + a.clamp_min(lo) * a.clamp_max(hi)),
    "clamp_ties": ([(_ties, (4, 5)), (_ties, (5,))], lambda lib, a, b: a.clamp(b, b + 0.5) + a.clamp(-0.5, 0.5)),
    "gather_smaller_index": ([(_normal, (4, 5))],
                             lambda lib, a: a.gather(0, lib.tensor([[0, 1, 3], [3, 3, 3]])) * 2
                             + lib.gather(a, 1, lib.tensor([[4, 4, 0], [1, 2, 2]]))),
    "views": ([(_normal, (2, 3, 4))],
              lambda lib, a: a.narrow(2, 1, 2).sum() + a.narrow(-1, -2, 2).sum() + a.select(1, -1).sum()
              + a.index_select(2, lib.tensor([3, 3, 0])).sum(2).sum() + a.movedim(0, 2).reshape(3, 8)[1].sum()
              + a.movedim((0, 1), (2, 0)).sum((0, 1)).sum() + a.swapaxes(0, 2).unflatten(0, (2, 2))[1].sum()
              + a.masked_select(a > 0.2).sum() + a.masked_select(lib.tensor([True, False, True, False])).sum()),
    "piecewise_zero_grad": ([(_normal, (3, 4))], lambda lib, a: (a * 3).sign() * a + (a * 3).floor()
                            + (a * 3).ceil() + (a * 3).round() + (a * 3).trunc() + a.round(decimals=1)),
    "where_scalars": ([(_normal, (3, 4))], lambda lib, a: lib.where(a > 0, a, 1) + lib.where(a > 0, -2.0, a)
                      + a.where(a < 0.5, 0.25)),
    "argmax_keepdim": ([(_ties, (3, 4))], lambda lib, a: a * a.argmax(keepdim=True).to(a.dtype)
                       + a.argmin(1, keepdim=True).to(a.dtype) + a.max(1).values.unsqueeze(1)),
    "free_sort_topk_unbind": ([(_normal, (3, 4))],
                              lambda lib, a: lib.sort(a, 1).values + lib.sort(a, 0, descending=True)[0]
                              + a.gather(1, lib.argsort(a, dim=1, descending=True)) * a.argsort(0).to(a.dtype)
                              + lib.topk(a, 2).values.sum(1, keepdim=True) + lib.unbind(a, 1)[2].unsqueeze(1)
                              + lib.square(a) + lib.log1p(a * a)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(MORE_CASES))
def test_more_parity(name, dtype):
    rng = np.random.default_rng(sum(map(ord, name)))
    makers, fn = MORE_CASES[name]
    arrays = [make(rng, shape).astype(dtype) for make, shape in makers]
    txs, tout = _run(torch, TF, lambda lib, F, *xs: fn(lib, *xs), arrays)
    xs, out = _run(tb, F, lambda lib, F, *xs: fn(lib, *xs), arrays)
    assert str(out.dtype) == str(tout.dtype).replace("torch.", "") and tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **TOL[dtype])
    cot = rng.standard_normal(tout.shape).astype(dtype)
    tout.backward(torch.tensor(cot))
    out.backward(tb.tensor(cot))
    for x, tx in zip(xs, txs):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("expr", [
    "lib.ones(3) // 2", "lib.arange(5) // lib.tensor(2.5)", "lib.arange(5, dtype=lib.int32) % lib.tensor(3)",
    "lib.tensor([-7, 7]) % 3", "7 // lib.tensor([2, 3])", "7.5 % lib.tensor([2, 3])",
    "lib.tensor([1, 5, 9]).clamp(2.5, 7)", "lib.tensor([1, 5, 9]).clamp(2, 7)",
    "lib.ones(3).clamp(min=lib.zeros(3, dtype=lib.float64))",
    "lib.ones(3).clamp(max=lib.tensor(0.5, dtype=lib.float64))",
    "lib.where(lib.tensor([True, False]), 1.0, 0.0)", "lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), 0.5)",
    "lib.where(lib.tensor([True, False]), 1, 0)",
    "lib.where(lib.tensor([True, False]), lib.ones(2), lib.zeros(2, dtype=lib.float64))",
    "lib.tensor([3, 5]) ^ lib.tensor([1, 1])", "lib.tensor([3, 5]) & 1", "lib.tensor([True, False]) ^ True",
    "lib.tensor([2, 3]).prod()", "lib.tensor([True, True]).prod()", "lib.tensor([True, True]).cumsum(0)",
    "lib.tensor([1.5, -2.0]).sign()", "lib.tensor([-1, 2]).sign()", "lib.tensor([True, False]).sign()",
    "lib.arange(lib.tensor(1), lib.tensor(4))", "lib.arange(3, 3)", "lib.randn_like(lib.ones(2, dtype=lib.float64))",
    "lib.rand_like(lib.ones(2, 3))", "lib.empty_like(lib.arange(3))", "lib.randint_like(lib.ones(2, 3), 5)",
    "lib.tensor(3.0).argmax(keepdim=True)", "lib.ones(2, 3).argmax(keepdim=True)",
    "lib.isclose(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.1]))", "lib.ones(4, 5).norm(dim=1)",
    "lib.tensor([[0, 1], [2, 0]]).nonzero()", "lib.tensor([0.0, 1.5, 0.0]).nonzero()", "lib.ones(2, 0).nonzero()",
    "lib.arange(6).reshape_as(lib.ones(3, 2))", "lib.arange(1, 4).reciprocal()", "lib.ones(2, 3).mm(lib.ones(3, 4))",
    "lib.ones(2, 3, 1).bmm(lib.ones(2, 1, 4))", "lib.ones(2, dtype=lib.float64).new_empty(3).zero_()",
    "lib.ones(2, dtype=lib.float64).new_empty((2, 1), dtype=lib.int64).zero_()",
    "lib.sort(lib.tensor([3, 1, 2]), descending=True)[1]", "lib.argsort(lib.tensor([[3, 1, 2], [0, 5, 4]]), dim=0)",
    "lib.any(lib.tensor([[0, 1], [0, 0]]), dim=1)", "lib.all(lib.tensor([True, False]))",
    "lib.logical_not(lib.tensor([0, 2]))", "lib.logical_and(lib.tensor([1, 0]), lib.tensor([True, True]))",
    "lib.logical_or(lib.tensor([0, 0]), lib.tensor([0.0, 1.5]))", "lib.topk(lib.tensor([4, 9, 1]), 2, largest=False)[1]",
])
def test_result_dtype_and_shape_match_torch(expr):
    got, want = eval(expr, {"lib": tb}), eval(expr, {"lib": torch})
    assert str(got.dtype) == str(want.dtype).replace("torch.", "") and tuple(got.shape) == tuple(want.shape), expr
    if "rand" not in expr and "empty" not in expr:
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("expr", [
    "lib.arange(3).exp()", "lib.arange(3).log()", "lib.arange(4).sqrt()", "lib.tensor([True, False]).tanh()",
    "lib.arange(-1, 2).sigmoid()", "lib.arange(3).log1p()", "lib.sin(lib.arange(3))", "lib.arange(3).cos()",
    "lib.exp(lib.arange(0, 8, 2) * (-9.2 / 8))", "lib.nn.functional.softmax(lib.arange(3), 0, dtype=lib.float64)",
    "lib.tensor([4.0, 0.5]).rsqrt()",
])
def test_float_functions_of_integers_give_float32_like_torch(expr):
    got, want = eval(expr, {"lib": tb}), eval(expr, {"lib": torch})
    assert str(got.dtype) == str(want.dtype).replace("torch.", "") and tuple(got.shape) == tuple(want.shape), expr
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_multinomial_shapes_frequencies_and_errors_like_torch():
    probs = np.array([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 1.0, 1.0]])
    for args in [(3,), (6, True), (4,)]:
        got, want = tb.multinomial(tb.tensor(probs), *args), torch.multinomial(torch.tensor(probs), *args)
        assert got.dtype == tb.int64 and tuple(got.shape) == tuple(want.shape)
    no_repeat = tb.tensor(probs).multinomial(4).numpy()
    assert all(sorted(row) == [0, 1, 2, 3] for row in no_repeat)
    assert (tb.multinomial(tb.tensor(probs[0]), 2).numpy() != 1).all()  # a zero weight comes last
    for draws in (tb.multinomial(tb.tensor([0.2, 0.5, 0.3]), 20000, replacement=True),
                  tb.multinomial(tb.tensor([[0.2, 0.5, 0.3]]).expand(20000, 3), 1)):
        np.testing.assert_allclose(np.bincount(draws.numpy().ravel(), minlength=3) / 20000, [0.2, 0.5, 0.3],
                                   atol=0.015)
    for data, args in [(np.ones((2, 2, 2)), (1,)), (np.ones(3, np.int64), (1,)), (np.ones(3), (0,)),
                       (np.ones(3), (4,)), (np.array([1.0, -1.0]), (1,)), (np.zeros(3), (1,)),
                       (np.array([1.0, np.nan]), (1,))]:
        with pytest.raises(RuntimeError) as theirs:
            torch.multinomial(torch.tensor(data), *args)
        with pytest.raises(RuntimeError) as ours:
            tb.multinomial(tb.tensor(data), *args)
        assert str(ours.value).replace("int64", "Long") == str(theirs.value)


def test_get_default_dtype_and_none_comparisons():
    assert tb.get_default_dtype() == tb.float32 and str(torch.get_default_dtype()) == "torch.float32"
    x, tx = tb.ones(2), torch.ones(2)
    assert (x == None) is (tx == None) is False and (x != None) is (tx != None) is True  # noqa: E711


@pytest.mark.parametrize("expr", [
    "lib.ones(2) < lib.ones(3)", "lib.ones(3).clamp()", "lib.ones(3).clamp(min=lib.zeros(2))",
    "lib.ones(2, 3).gather(0, lib.zeros(1, 4, dtype=lib.int64))",
    "lib.ones(2, 3).gather(0, lib.zeros(3, dtype=lib.int64))", "lib.ones(2, 3).sum((0, 0))",
    "lib.ones(2, 3).gather(1, lib.tensor([[1.0]]))", "lib.ones(4).narrow(0, 2, 5)", "lib.ones(4).narrow(1, 0, 1)",
    "lib.ones(4, 2).select(1, 2)", "lib.ones(4).index_select(0, lib.tensor([1.0]))",
    "lib.ones(4).masked_select(lib.tensor([1, 0, 1, 0]))", "lib.ones(2, 3).max(5)", "lib.ones(2, 3).argmax(2)",
    "lib.ones(2, 3).cumsum(2)", "lib.ones(0, 3).max()", "lib.ones(0).argmax()", "lib.arange(0, 5, -1)",
    "lib.tensor('abc')", "lib.tensor(None)", "lib.tensor([True]) - True", "lib.ones(3).prod((0,))",
    "lib.randint(5, 3, (2,))", "float(lib.ones(2))", "[1, 2][lib.tensor(1.0)]", "lib.tensor([1, 2]).norm()",
    "lib.arange(3).softmax(0)", "lib.nn.functional.log_softmax(lib.ones(2, 2, dtype=lib.int64), 1)",
])
def test_bad_input_raises_the_same_exception_type_as_torch(expr):
    errors = []
    for lib in (torch, tb):
        with pytest.raises(Exception) as info:
            eval(expr, {"lib": lib})
        errors.append(info.value)
    theirs, ours = errors
    assert isinstance(ours, (type(theirs), RuntimeError if isinstance(theirs, NotImplementedError) else ())), \
        (expr, repr(theirs), repr(ours))
    assert "Traceback" not in str(ours) and str(ours)


@pytest.mark.parametrize("expr", [
    "lib.ones(2, 3).unsqueeze(3)", "lib.ones(2, 3).squeeze(2)", "lib.ones(2, 3).transpose(0, 2)",
    "lib.ones(2, 3).flatten(3)", "lib.ones(2, 3).unbind(2)", "lib.ones(2, 3).flip(2)", "lib.ones(3).sort(1)",
    "lib.cat([lib.ones(2), lib.ones(2)], 1)", "lib.stack([lib.ones(2), lib.ones(2)], 2)", "lib.ones(5).chunk(2, 1)",
    "lib.ones(5).split(2, 1)", "lib.ones(2, 3).sum(2)", "lib.ones(2, 3).argmax(-3)", "lib.ones(2, 3).cumsum(5)",
    "lib.cat([lib.tensor(1.0), lib.tensor(2.0)])", "lib.ones(5).split(0)", "lib.ones(5).chunk(0)",
    "lib.ones(2, 3).repeat(2)", "lib.ones(2, 3).reshape(-1, -1)", "lib.ones(2, 3).view(5)",
    "lib.ones(2, 3).expand(3, 3)", "lib.ones(2, 3).expand(3)", "lib.ones(3).topk(4)",
    "lib.ones(5).split([2, 2])", "lib.tensor([2]) ** -1", "lib.ones(3).tril()",
    "lib.ones(2, 3).permute(0)", "lib.ones(2, 3).sum((0, 0))",
])
def test_shape_errors_carry_torchs_text(expr):
    texts, types = [], []
    for lib in (torch, tb):
        with pytest.raises(Exception) as info:
            eval(expr, {"lib": lib})
        texts.append(str(info.value).split(" (Triggered internally")[0])
        types.append(type(info.value))
    assert issubclass(types[1], types[0]), (expr, types)
    want = texts[0].split("): ", 1)[-1] if "(sparse_coo)" in texts[0] or "torch." in texts[0] else texts[0]
    assert want in texts[1], (expr, texts)
