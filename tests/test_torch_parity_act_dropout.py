"""Parity with torch 2.13 for Hardshrink, Softshrink, RReLU, Softmax2d, AlphaDropout, FeatureAlphaDropout,
Dropout1d/2d/3d, F.gumbel_softmax and F.pdist.

Deterministic parts (shrinks, rrelu in eval mode, Softmax2d, pdist, dropout at p = 0 and 1 or in eval mode)
are compared with torch value by value with gradients; random parts (rrelu in training, the dropouts,
gumbel_softmax) by their exact structure (which values can appear, what the gradient is given the sample)
and by statistics over many draws."""
import inspect
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F
from parity import assert_close, check, same_error, signature

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


def kinks(lambd, dtype):
    """Values on, just beside and around +-lambd and 0, then random ones."""
    d = np.dtype(dtype).type
    near = [np.nextafter(d(v), d(s)) for v in (lambd, -lambd, 0) for s in (-np.inf, np.inf)]
    rand = np.random.default_rng(0).standard_normal(34) * 2
    return np.concatenate([[lambd, -lambd, 0.0, 1e4, -1e4], near, rand]).astype(dtype)


# ------------------------------------------------------------------ shrinks
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,lambd", [("hardshrink", 0.5), ("hardshrink", 0.0), ("hardshrink", 1.25),
                                        ("hardshrink", -0.5), ("softshrink", 0.5), ("softshrink", 0.0),
                                        ("softshrink", 1.25)])
def test_shrink_values_and_gradients(name, lambd, dtype):
    x = kinks(abs(lambd), dtype)
    check(lambda a: getattr(F, name)(a, lambd), lambda t: getattr(TF, name)(t, lambd), [x], dtype)
    check(lambda a: getattr(F, name)(a, lambd), lambda t: getattr(TF, name)(t, lambd), [x.reshape(5, -1)], dtype)
    cls = {"hardshrink": "Hardshrink", "softshrink": "Softshrink"}[name]
    ours, theirs = getattr(nn, cls)(lambd), getattr(torch.nn, cls)(lambd)
    assert repr(ours) == repr(theirs) and ours.lambd == theirs.lambd
    check(ours, theirs, [x], dtype)


@pytest.mark.parametrize("name", ["hardshrink", "softshrink"])
def test_shrink_nan_stays_nan(name):
    for dtype in DTYPES:
        x = np.array([np.nan, 1.0, -0.2], dtype)
        assert_close(getattr(F, name)(tb.tensor(x)), getattr(TF, name)(torch.tensor(x)), dtype)
    assert repr(getattr(nn, name.capitalize())()) == repr(getattr(torch.nn, name.capitalize())())


# ------------------------------------------------------------------ rrelu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lower,upper", [(1 / 8, 1 / 3), (0.0, 0.0), (0.2, 0.9), (-0.5, 0.1), (0.3, 0.3)])
def test_rrelu_eval_is_leaky_relu_with_the_mean_slope(lower, upper, dtype):
    x = kinks(1.0, dtype)
    check(lambda a: F.rrelu(a, lower, upper), lambda t: TF.rrelu(t, lower, upper), [x], dtype)
    if lower + upper >= 0:  # torch refuses the backward of an in-place leaky_relu with a negative slope
        check(lambda a: F.rrelu(a * 1, lower, upper, inplace=True),
              lambda t: TF.rrelu(t * 1, lower, upper, inplace=True), [x], dtype)
    ours, theirs = nn.RReLU(lower, upper).eval(), torch.nn.RReLU(lower, upper).eval()
    assert repr(ours) == repr(theirs)
    check(ours, theirs, [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rrelu_training_draws_uniform_slopes_and_the_gradient_uses_them(dtype):
    lower, upper = 0.1, 0.4
    x = -np.abs(np.random.default_rng(0).standard_normal(40000)).astype(dtype) - 0.1
    x[:100] = np.abs(x[:100])                         # positives pass unchanged
    x[100] = 0.0                                      # torch draws a slope at 0 too (its gradient)
    a = tb.tensor(x, requires_grad=True)
    y = F.rrelu(a, lower, upper, training=True)
    y.sum().backward()
    slopes = y.detach().numpy()[101:] / x[101:]
    assert y.dtype == a.dtype and np.array_equal(y.detach().numpy()[:100], x[:100])
    assert slopes.min() >= lower - 1e-6 and slopes.max() <= upper + 1e-6
    theirs = TF.rrelu(torch.tensor(x), lower, upper, training=True).numpy()[101:] / x[101:]
    for ours_s in (slopes, a.grad.numpy()[101:]):
        assert abs(ours_s.mean() - (lower + upper) / 2) < 3e-3 and abs(theirs.mean() - (lower + upper) / 2) < 3e-3
        assert abs(ours_s.std() - theirs.std()) < 3e-3  # uniform: (upper - lower) / sqrt(12)
    np.testing.assert_allclose(a.grad.numpy()[101:], slopes, rtol=1e-5)
    assert np.all(a.grad.numpy()[:100] == 1) and lower <= a.grad.numpy()[100] <= upper
    m = nn.RReLU(lower, upper)
    assert m.training and not np.allclose(m(tb.tensor(x[101:])).numpy() / x[101:], (lower + upper) / 2)


def test_rrelu_in_place_and_underscore_form():
    x = tb.tensor(-np.ones(5))
    assert F.rrelu_(x, 0.2, 0.2, training=True) is x
    np.testing.assert_allclose(x.numpy(), -0.2 * np.ones(5))
    leaf = tb.tensor(-np.ones(5), requires_grad=True)
    y = leaf * 1
    assert F.rrelu(y, training=True, inplace=True) is y
    y.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), -y.detach().numpy())
    assert repr(nn.RReLU(inplace=True)) == repr(torch.nn.RReLU(inplace=True))


# ------------------------------------------------------------------ Softmax2d
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 2)])
def test_softmax2d(shape, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype) * 5
    check(nn.Softmax2d(), torch.nn.Softmax2d(), [x], dtype)
    assert repr(nn.Softmax2d()) == repr(torch.nn.Softmax2d())


# ------------------------------------------------------------------ dropout variants
def _alpha_constants(p, dtype):
    """torch's two output values of alpha dropout on a zero input: kept (alpha a p) and dropped (alpha a (p - 1))."""
    torch.manual_seed(0)
    out = TF.alpha_dropout(torch.zeros(4000, dtype=torch.float64 if dtype == np.float64 else torch.float32), p,
                           True).numpy()
    return np.unique(out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_values_gradient_and_statistics(p, feature, dtype):
    name = "feature_alpha_dropout" if feature else "alpha_dropout"
    shape = (400, 50, 3) if feature else (60000,)
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    a = tb.tensor(x, requires_grad=True)
    y = getattr(F, name)(a, p, training=True)
    up = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    y.backward(tb.tensor(up))
    low, high = _alpha_constants(p, dtype)            # dropped value, and the shift added to kept ones
    scale = (high - low) / 1.7580993408473766         # a = 1 / sqrt((alpha^2 p + 1) (1 - p))
    dropped = y.detach().numpy() == low
    np.testing.assert_allclose(y.detach().numpy()[~dropped], x[~dropped] * scale + high, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), np.where(dropped, 0, up * scale), rtol=1e-6, atol=1e-7)
    assert abs(dropped.mean() - p) < 0.02
    out = y.detach().numpy()
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1) < 0.03  # the point of alpha dropout
    if feature:  # one draw per (sample, channel)
        assert np.all(dropped.all(axis=2) | ~dropped.any(axis=2))


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"])
def test_dropouts_identity_when_not_training_and_zero_at_p_one(name):
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 2, 2))
    x = x[0] if name == "dropout1d" else x
    x = x[0, 0] if name == "dropout1d" else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in (dict(training=False), dict(p=0.0, training=True), dict(p=1.0, training=True)):
            check(lambda a: getattr(F, name)(a, **kw), lambda t: getattr(TF, name)(t, **kw), [x])
        a = tb.tensor(x)
        assert getattr(F, name)(a, 0.5, False) is a
    assert signature(getattr(F, name)) == signature(getattr(TF, name))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,shape", [("dropout1d", (300, 40, 3)), ("dropout1d", (2000, 3)),
                                        ("dropout2d", (200, 60, 2, 2)), ("dropout2d", (300, 40, 3)),
                                        ("dropout3d", (100, 40, 2, 1, 2)), ("dropout3d", (3000, 2, 1, 2))])
@pytest.mark.parametrize("p", [0.3, 0.75])
def test_channel_dropout_zeroes_whole_channels(name, shape, p, dtype):
    x = np.random.default_rng(5).uniform(0.5, 1.5, shape).astype(dtype)
    a = tb.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout2d on 3-D input warns, as torch's
        y = getattr(F, name)(a, p)
    y.sum().backward()
    out = y.detach().numpy()
    unbatched = len(shape) == {"dropout1d": 2, "dropout2d": 3, "dropout3d": 4}[name] and name != "dropout2d"
    lead = 1 if unbatched else 2                      # channel slices: (C,) rows, or (N, C) ones
    flat = out.reshape(int(np.prod(shape[:lead])), -1)
    xflat = x.reshape(flat.shape)
    kept = (flat != 0).all(1)
    assert np.all(kept | (flat == 0).all(1)), "a channel was partly dropped"
    np.testing.assert_allclose(flat[kept], xflat[kept] / dtype(1 - p), rtol=1e-6)
    np.testing.assert_allclose(a.grad.numpy().reshape(flat.shape), np.where(kept[:, None], 1 / (1 - p), 0) *
                               np.ones_like(flat), rtol=1e-6)
    assert abs((~kept).mean() - p) < 0.04


def test_channel_dropout_warnings_and_errors_like_torch():
    x = tb.ones(2, 3, 4)
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d"):
        F.dropout2d(x)
    for ndim in (2, 5):
        with pytest.warns(UserWarning, match=f"dropout2d: Received a {ndim}-D input to dropout2d"):
            F.dropout2d(tb.ones(*(2,) * ndim))
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d"):
        F.dropout3d(x)
    for bad, match in [(lambda L, T: L.functional.dropout1d(T.ones(2, 3, 4, 5)), "dropout1d: Expected 2D or 3D"),
                       (lambda L, T: L.functional.dropout1d(T.ones(2)), "dropout1d"),
                       (lambda L, T: L.functional.dropout1d(T.ones(2, 3), 1.5), "dropout1d.*between 0 and 1"),
                       (lambda L, T: L.Dropout1d(-0.1), "between 0 and 1"),
                       (lambda L, T: L.AlphaDropout(1.5), "between 0 and 1"),
                       (lambda L, T: L.functional.alpha_dropout(T.ones(3), 1.5, True), "alpha_dropout"),
                       (lambda L, T: L.functional.feature_alpha_dropout(T.ones(3), 0.5, True), "Feature dropout"),
                       (lambda L, T: L.functional.feature_alpha_dropout(T.ones(()), 0.5, True), "Feature dropout"),
                       (lambda L, T: L.functional.alpha_dropout(T.tensor([1, 2]), 0.5, True), "alpha_dropout"),
                       (lambda L, T: L.Softmax2d()(T.ones(2, 3)), "Softmax2d"),
                       (lambda L, T: L.functional.softshrink(T.ones(3), -1.0), "softshrink.*lambda"),
                       (lambda L, T: L.functional.softshrink(T.tensor([1, 2])), "softshrink"),
                       (lambda L, T: L.functional.hardshrink(T.tensor([1, 2])), "hardshrink"),
                       (lambda L, T: L.functional.rrelu(T.ones(3), 0.5, 0.1, training=True), "rrelu.*Lower bound"),
                       (lambda L, T: L.functional.rrelu(T.ones(3), 0.5, 0.1), "rrelu.*Lower bound"),
                       (lambda L, T: L.functional.rrelu(T.tensor([1, -2]), training=True), "rrelu"),
                       (lambda L, T: L.functional.rrelu(T.tensor([1, -2])), "leaky_relu")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            same_error(bad, match)


@pytest.mark.parametrize("cls", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_modules(cls):
    for args in [(), (0.25,), (0.25, True)]:
        ours, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
        assert repr(ours) == repr(theirs) and (ours.p, ours.inplace) == (theirs.p, theirs.inplace)
    assert signature(getattr(nn, cls).__init__) == signature(getattr(torch.nn, cls).__init__)
    shape = {"Dropout1d": (50, 20, 4), "Dropout2d": (50, 20, 2, 2)}.get(cls, (50, 20, 2, 2, 2))
    x = np.random.default_rng(6).uniform(1, 2, shape)
    ours, theirs = getattr(nn, cls)(0.4), getattr(torch.nn, cls)(0.4)
    ours.eval(), theirs.eval()
    check(ours, theirs, [x])
    ours.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = ours(tb.tensor(x)).numpy()
    dropped = y < 0 if "Alpha" in cls else y == 0  # alpha dropout sets dropped values to a negative constant
    assert 0.3 < np.mean(dropped) < 0.5
    inplace = getattr(nn, cls)(0.4, inplace=True)
    a = tb.tensor(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert inplace(a) is a and not np.array_equal(a.numpy(), x)


# ------------------------------------------------------------------ gumbel_softmax
LOGITS = np.log(np.array([0.1, 0.2, 0.3, 0.4]))


@pytest.mark.parametrize("tau", [1.0, 0.5, 2.0])
def test_gumbel_softmax_hard_samples_follow_the_softmax(tau):
    """Argmax of (logits + Gumbel noise) is distributed as softmax(logits), whatever tau."""
    n = 40000
    y = F.gumbel_softmax(tb.tensor(np.tile(LOGITS, (n, 1))), tau=tau, hard=True).numpy()
    assert set(np.unique(y)) == {0.0, 1.0} and np.all(y.sum(1) == 1)
    freq = y.mean(0)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.01)
    theirs = TF.gumbel_softmax(torch.tensor(np.tile(LOGITS, (n, 1))), tau=tau, hard=True).numpy().mean(0)
    np.testing.assert_allclose(freq, theirs, atol=0.015)


def test_gumbel_softmax_soft_sample_statistics_match_torch():
    n = 40000
    ours = F.gumbel_softmax(tb.tensor(np.tile(LOGITS, (n, 1))), tau=0.7).numpy()
    theirs = TF.gumbel_softmax(torch.tensor(np.tile(LOGITS, (n, 1))), tau=0.7).numpy()
    np.testing.assert_allclose(ours.sum(1), 1, rtol=1e-12)
    np.testing.assert_allclose(ours.mean(0), theirs.mean(0), atol=0.01)
    np.testing.assert_allclose(ours.std(0), theirs.std(0), atol=0.01)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_gumbel_softmax_gradients(dim, tau, dtype):
    """Given the sample, the soft gradient is torch's softmax((logits + g) / tau) gradient (g recovered from
    the sample), and hard=True passes exactly the soft gradient (straight-through) on a one-hot value."""
    logits = np.random.default_rng(7).standard_normal((3, 5, 4)).astype(dtype)
    up = np.random.default_rng(8).standard_normal((3, 5, 4)).astype(dtype)
    results = []
    for hard in (False, True):
        tb.manual_seed(11)
        a = tb.tensor(logits, requires_grad=True)
        y = F.gumbel_softmax(a, tau=tau, hard=hard, dim=dim)
        y.backward(tb.tensor(up))
        results.append((y.detach().numpy(), a.grad.numpy()))
    (soft, g_soft), (hard, g_hard) = results
    assert np.array_equal(g_soft, g_hard) and y.dtype == a.dtype
    onehot = np.zeros_like(soft)
    np.put_along_axis(onehot, np.expand_dims(soft.argmax(dim), dim), 1, dim)
    np.testing.assert_allclose(hard, onehot, atol=1e-6)
    noise = tau * np.log(soft.astype(np.float64)) - logits    # softmax((logits + noise) / tau) = soft
    t = torch.tensor(logits, requires_grad=True)
    ((t + torch.tensor(noise.astype(dtype))) / tau).softmax(dim).backward(torch.tensor(up))
    np.testing.assert_allclose(g_soft, t.grad.numpy(), rtol=1e-4 if dtype == np.float32 else 1e-9,
                               atol=1e-5 if dtype == np.float32 else 1e-10)


def test_gumbel_softmax_eps_is_deprecated():
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(tb.tensor(LOGITS), eps=1e-5)
    assert signature(F.gumbel_softmax) == signature(TF.gumbel_softmax)


# ------------------------------------------------------------------ pdist
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf"), 0.0, 1.5])
@pytest.mark.parametrize("shape", [(6, 4), (2, 3), (1, 3), (4, 0), (5, 1)])
def test_pdist(shape, p, dtype):
    x = np.random.default_rng(9).standard_normal(shape).astype(dtype)
    if shape[0] > 3 and shape[1]:
        x[3] = x[1]                                   # a zero distance
        x[2, 0] = x[0, 0] + 2.0                       # ties at the max for p = inf
        x[2, 1:] = x[0, 1:] + np.where(np.arange(shape[1] - 1) % 2, -2.0, 2.0)
    check(lambda a: F.pdist(a, p), lambda t: TF.pdist(t, p), [x], dtype)


@pytest.mark.parametrize("p", [2.0, 3.0, 1.5, 0.7])
def test_pdist_gradcheck(p):
    x = tb.tensor(np.random.default_rng(10).standard_normal((5, 3)), requires_grad=True)
    assert tb.gradcheck(lambda a: F.pdist(a, p), (x,))


def test_pdist_bad_arguments():
    for bad, match in [(lambda L, T: L.functional.pdist(T.ones(3)), "pdist only supports 2D"),
                       (lambda L, T: L.functional.pdist(T.ones(3, 2, 2)), "pdist only supports 2D"),
                       (lambda L, T: L.functional.pdist(T.ones(3, 2), -1), "pdist only supports non-negative"),
                       (lambda L, T: L.functional.pdist(T.ones(3, 2, dtype=T.int64)), "pdist.*floating")]:
        same_error(bad, match)


FUNCTIONS = ["rrelu", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_signatures_match_torch(name):
    assert signature(getattr(F, name)) == signature(getattr(TF, name))


def test_builtin_signatures_and_modules():
    for name in ("hardshrink", "softshrink"):  # torch's are builtins: hardshrink(input, lambd=0.5)
        assert [p.name for p in inspect.signature(getattr(F, name)).parameters.values()] == ["input", "lambd"]
    assert [(p.name, p.default) for p in inspect.signature(F.pdist).parameters.values()] == [("input", inspect._empty),
                                                                                           ("p", 2)]
    assert [p.name for p in inspect.signature(F.rrelu_).parameters.values()] == ["input", "lower", "upper",
                                                                                  "training"]
    for cls in ("Hardshrink", "Softshrink", "RReLU"):
        assert signature(getattr(nn, cls).__init__) == signature(getattr(torch.nn, cls).__init__)


def test_docstrings():
    import tinybptt.nn.activations as a
    import tinybptt.nn.distance as b
    import tinybptt.nn.dropout as c
    for mod in (a, b, c):
        for name, obj in inspect.getmembers(mod):
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                    obj.__module__ == mod.__name__:
                assert obj.__doc__, name
