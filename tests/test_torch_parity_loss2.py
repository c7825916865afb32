"""Parity with torch 2.13 for the margin, embedding and likelihood losses: MarginRankingLoss, HingeEmbeddingLoss,
SoftMarginLoss, CosineEmbeddingLoss, MultiLabelSoftMarginLoss, MultiLabelMarginLoss, MultiMarginLoss,
PoissonNLLLoss, GaussianNLLLoss, TripletMarginLoss, TripletMarginWithDistanceLoss and their functional forms.

Values and gradients of every floating argument (float64 tight, float32) for every reduction and option,
inputs placed exactly on the hinges (where torch's gradient conventions show), the deprecated
size_average/reduce arguments, empty batches, NaN, module reprs and state_dicts, and exception types."""
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
REDUCTIONS = ["none", "mean", "sum"]


def randn(*shape, dtype=np.float64, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def signs(n, seed=0, dtype=np.float64):
    return np.where(np.random.default_rng(seed).random(n) < 0.5, -1, 1).astype(dtype)


def both(name, *args, **kwargs):
    """F.<name> on tinybptt and torch as a pair of functions of the positional tensors."""
    return (lambda *a: getattr(F, name)(*a, *args, **kwargs)), (lambda *t: getattr(TF, name)(*t, *args, **kwargs))


# ------------------------------------------------------------------ margin ranking, hinge, soft margin
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.25, -0.5])
def test_margin_ranking_loss(margin, reduction, dtype):
    x1, x2 = randn(12, dtype=dtype), randn(12, dtype=dtype, seed=1)
    y = signs(12, dtype=dtype)
    x1[:3], x2[:3], y[:3] = 0.5, 0.5 - margin, 1.0     # exactly on the hinge: -y (x1 - x2) + margin = 0
    x1[3], x2[3], y[3] = 0.5, 0.5 + margin, -1.0
    check(*both("margin_ranking_loss", margin=margin, reduction=reduction), [x1, x2, y], dtype)
    check(*both("margin_ranking_loss", margin=margin, reduction=reduction),
          [x1.reshape(3, 4), x2[:4].reshape(1, 4), y.reshape(3, 4)], dtype)       # broadcasting
    check(*both("margin_ranking_loss", margin=margin, reduction=reduction), [x1, x2, y.astype(np.int64)], dtype)
    ours, theirs = nn.MarginRankingLoss(margin, reduction=reduction), torch.nn.MarginRankingLoss(margin,
                                                                                                  reduction=reduction)
    assert repr(ours) == repr(theirs) and ours.margin == theirs.margin
    check(ours, theirs, [x1, x2, y], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5, -0.25])
def test_hinge_embedding_loss(margin, reduction, dtype):
    x = randn(4, 5, dtype=dtype, scale=2)
    x[0, :2] = margin                                 # margin - x = 0: the hinge
    y = signs(20, seed=1, dtype=dtype).reshape(4, 5)
    y[3, :2] = [0, 2]                                 # neither 1 nor -1: both terms count, as torch
    check(*both("hinge_embedding_loss", margin=margin, reduction=reduction), [x, y], dtype)
    check(*both("hinge_embedding_loss", margin, reduction=reduction), [x, y[0]], dtype)  # broadcast target
    check(*both("hinge_embedding_loss", margin, reduction=reduction), [x, y.astype(np.int64)], dtype)
    ours, theirs = nn.HingeEmbeddingLoss(margin, reduction=reduction), torch.nn.HingeEmbeddingLoss(margin,
                                                                                                    reduction=reduction)
    assert repr(ours) == repr(theirs)
    check(ours, theirs, [x, y], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction, dtype):
    x = randn(3, 6, dtype=dtype, scale=3)
    x[0, :3] = [0.0, 30.0, -30.0]
    y = signs(18, dtype=dtype).reshape(3, 6)
    check(*both("soft_margin_loss", reduction=reduction), [x, y], dtype, grads=[True, False])
    check(*both("soft_margin_loss", reduction=reduction), [x, y[:1]], dtype, grads=[True, False])
    ours, theirs = nn.SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction)
    check(ours, theirs, [x, y.astype(np.int64)], dtype)
    same_error(lambda L, T: L.functional.soft_margin_loss(T.tensor(x), T.tensor(y, requires_grad=True)),
               "not differentiable with respect to argument 'target'")


def test_soft_margin_loss_overflows_as_torch():
    """torch computes log1p(exp(-y x)): inf once exp overflows (float32 already at -y x > 89)."""
    x = np.array([-100.0, -1000.0, 5.0], np.float32)
    y = np.ones(3, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(F.soft_margin_loss(tb.tensor(x), tb.tensor(y), reduction="none"),
                     TF.soft_margin_loss(torch.tensor(x), torch.tensor(y), reduction="none"), np.float32)


# ------------------------------------------------------------------ cosine embedding
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5, -0.5])
def test_cosine_embedding_loss(margin, reduction, dtype):
    x1, x2 = randn(6, 4, dtype=dtype), randn(6, 4, dtype=dtype, seed=1)
    x2[1] = -x1[1] * 3                                # cosine -1
    y = np.array([1, -1, 1, -1, 0, 2], dtype)         # other targets give 0
    check(*both("cosine_embedding_loss", margin=margin, reduction=reduction), [x1, x2, y], dtype)
    check(*both("cosine_embedding_loss", margin=margin, reduction=reduction), [x1, x2[:1], y], dtype)
    check(*both("cosine_embedding_loss", margin, reduction=reduction), [x1[2], x2[2], np.array(-1, dtype)], dtype)
    check(*both("cosine_embedding_loss", margin, reduction=reduction), [x1, x2, y.astype(np.int64)], dtype)
    ours, theirs = nn.CosineEmbeddingLoss(margin, reduction=reduction), torch.nn.CosineEmbeddingLoss(
        margin, reduction=reduction)
    assert repr(ours) == repr(theirs) and ours.margin == theirs.margin
    check(ours, theirs, [x1, x2, y], dtype)
    # a zero vector: its cosine is 0 (the 1e-12 added to the squared norms), and its gradient is ~1e6 times
    # larger, so is the rounding difference
    x1[0] = 0
    check(ours, theirs, [x1, x2, y], dtype, rtol=1e-8 if dtype == np.float64 else 1e-4, atol=1e-12)


# ------------------------------------------------------------------ multi-label soft margin
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 5)])
@pytest.mark.parametrize("weighted", [None, "class", "sample"])
def test_multilabel_soft_margin_loss(shape, weighted, reduction, dtype):
    x = randn(*shape, dtype=dtype, scale=3)
    x.reshape(-1)[:2] = [40.0, -40.0]
    y = (np.random.default_rng(1).random(shape) < 0.5).astype(dtype)
    args = [x, y]
    if weighted == "class":
        args.append(np.abs(randn(shape[-1], dtype=dtype, seed=2)))
    elif weighted == "sample" and len(shape) > 1:
        args.append(np.abs(randn(shape[0], *(1,) * (len(shape) - 1), dtype=dtype, seed=2)))
    # the weight gets a gradient too: torch composes this loss from differentiable ops
    check(lambda *a: F.multilabel_soft_margin_loss(*a, reduction=reduction),
          lambda *t: TF.multilabel_soft_margin_loss(*t, reduction=reduction), args, dtype)
    ours = nn.MultiLabelSoftMarginLoss(tb.tensor(args[2]) if len(args) > 2 else None, reduction=reduction)
    theirs = torch.nn.MultiLabelSoftMarginLoss(torch.tensor(args[2]) if len(args) > 2 else None, reduction=reduction)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    check(ours, theirs, [x, y.astype(np.int64)], dtype)


# ------------------------------------------------------------------ multi-label margin
def _label_lists():
    """Target lists ending at the first -1: duplicates, a row without -1, an empty list, entries after the -1."""
    return np.array([[3, 0, -1, 1, 2], [1, 1, -1, 0, 0], [0, 1, 2, 3, 4], [-1, 2, 3, 4, 0], [4, -1, -1, 0, 3],
                     [2, 4, 1, -1, 3]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction, dtype):
    x = randn(6, 5, dtype=dtype, scale=0.7)
    x[0, :4] = [0.25, 0.5, 1.5, 0.5]                  # 1 - x[3] + x[2] = 0 and 1 - x[0] + x[2] > 0: the hinge
    x[5] = [0.0, 1.0, 2.0, 3.0, 1.0]
    t = _label_lists()
    check(*both("multilabel_margin_loss", reduction=reduction), [x, t], dtype)
    for i in range(len(t)):                           # one sample: (C,) input and target
        check(*both("multilabel_margin_loss", reduction=reduction), [x[i], t[i]], dtype)
    ours, theirs = nn.MultiLabelMarginLoss(reduction=reduction), torch.nn.MultiLabelMarginLoss(reduction=reduction)
    check(ours, theirs, [x, t], dtype)


def test_multilabel_margin_loss_zero_dim_and_empty_batch():
    for red in REDUCTIONS:
        check(*both("multilabel_margin_loss", reduction=red), [np.array(0.3), np.array(0)])
        check(*both("multilabel_margin_loss", reduction=red), [np.array(0.3), np.array([-1])])
        check(*both("multilabel_margin_loss", reduction=red), [np.zeros((0, 4)), np.zeros((0, 4), np.int64)])


# ------------------------------------------------------------------ multi-class margin
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss(p, margin, weighted, reduction, dtype):
    x = randn(5, 4, dtype=dtype)
    x[0] = [0.5, 0.5 + margin, -3.0, 0.5]             # z = margin - x[y] + x[i] = 0 at i = 0, 3 (y = 1)
    t = np.array([1, 0, 3, 2, 2])
    w = np.abs(randn(4, dtype=dtype, seed=3)) if weighted else None
    kw = dict(p=p, margin=margin, weight=None if w is None else tb.tensor(w), reduction=reduction)
    tkw = dict(kw, weight=None if w is None else torch.tensor(w))
    check(lambda a, t: F.multi_margin_loss(a, t, **kw), lambda a, t: TF.multi_margin_loss(a, t, **tkw), [x, t], dtype)
    for target in (np.array(2), np.array([2])):      # one sample; 'none' has the target's shape
        check(lambda a, t: F.multi_margin_loss(a, t, **kw), lambda a, t: TF.multi_margin_loss(a, t, **tkw),
              [x[1], target], dtype)
    check(lambda a, t: F.multi_margin_loss(a, t, **kw), lambda a, t: TF.multi_margin_loss(a, t, **tkw),
          [x[:1], np.array(0)], dtype)
    ours = nn.MultiMarginLoss(p, margin, kw["weight"], reduction=reduction)
    theirs = torch.nn.MultiMarginLoss(p, margin, tkw["weight"], reduction=reduction)
    assert repr(ours) == repr(theirs) and (ours.p, ours.margin) == (theirs.p, theirs.margin)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == (["weight"] if weighted else [])
    check(ours, theirs, [x, t], dtype)


def test_multi_margin_loss_zero_dim_input():
    for red in REDUCTIONS:
        check(*both("multi_margin_loss", reduction=red), [np.array(0.3), np.array(0)])
        check(*both("multi_margin_loss", reduction=red), [np.array(0.3), np.array([0])])


# ------------------------------------------------------------------ Poisson and Gaussian NLL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_poisson_nll_loss(log_input, full, eps, reduction, dtype):
    x = randn(3, 4, dtype=dtype)
    x = x if log_input else np.abs(x) + 0.1
    y = np.array([[0, 1, 0.5, 2], [5, 1.5, 3, 0.25], [7, 1, 10, 0]], dtype)
    kw = dict(log_input=log_input, full=full, eps=eps, reduction=reduction)
    check(*both("poisson_nll_loss", **kw), [x, y], dtype, grads=[True, False])
    check(*both("poisson_nll_loss", **kw), [x, y.astype(np.int64)], dtype)
    ours, theirs = nn.PoissonNLLLoss(log_input, full, eps=eps, reduction=reduction), torch.nn.PoissonNLLLoss(
        log_input, full, eps=eps, reduction=reduction)
    assert repr(ours) == repr(theirs) and (ours.log_input, ours.full, ours.eps) == (theirs.log_input, theirs.full,
                                                                                     theirs.eps)
    check(ours, theirs, [x, y], dtype, grads=[True, False])


@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_target_gradient(full):
    """The target gets a gradient as in torch (targets above 0: torch's Stirling mask gives NaN at 0)."""
    x, y = randn(3, 4), np.abs(randn(3, 4, seed=1)) * 3 + 0.2
    check(*both("poisson_nll_loss", full=full), [x, y])
    check(*both("poisson_nll_loss", log_input=False, full=full), [np.abs(x) + 0.1, y])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3), "float"])
@pytest.mark.parametrize("eps", [1e-6, 0.3])
def test_gaussian_nll_loss(var_shape, full, eps, reduction, dtype):
    x, y = randn(4, 3, dtype=dtype), randn(4, 3, dtype=dtype, seed=1)
    if var_shape == "float":
        var = 0.7
        ours_f = lambda a, b: F.gaussian_nll_loss(a, b, var, full, eps, reduction)  # noqa: E731
        theirs_f = lambda a, b: TF.gaussian_nll_loss(a, b, var, full, eps, reduction)  # noqa: E731
        check(ours_f, theirs_f, [x, y], dtype)
        return
    v = np.abs(randn(*var_shape, dtype=dtype, seed=2)) + 0.05
    v.reshape(-1)[0] = 0.0                            # clamped to eps; the clamp passes the gradient as torch's
    check(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full, eps, reduction),
          lambda a, b, v: TF.gaussian_nll_loss(a, b, v, full, eps, reduction), [x, y, v], dtype)
    ours, theirs = nn.GaussianNLLLoss(full=full, eps=eps, reduction=reduction), torch.nn.GaussianNLLLoss(
        full=full, eps=eps, reduction=reduction)
    assert repr(ours) == repr(theirs) and (ours.full, ours.eps) == (theirs.full, theirs.eps)
    check(ours, theirs, [x, y, v], dtype)
    check(ours, theirs, [x, y[0], v], dtype)          # the target broadcasts


# ------------------------------------------------------------------ triplet losses
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("shape", [(6, 4), (4,), (2, 3, 4)])
def test_triplet_margin_loss(shape, p, swap, reduction, dtype):
    a, pos, neg = (randn(*shape, dtype=dtype, seed=s) for s in range(3))
    for margin, eps in [(1.0, 1e-6), (0.3, 0.1)]:
        kw = dict(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)
        check(*both("triplet_margin_loss", **kw), [a, pos, neg], dtype)
        ours, theirs = nn.TripletMarginLoss(**kw), torch.nn.TripletMarginLoss(**kw)
        assert repr(ours) == repr(theirs) and (ours.margin, ours.p, ours.eps, ours.swap) == \
            (theirs.margin, theirs.p, theirs.eps, theirs.swap)
        check(ours, theirs, [a, pos, neg], dtype)


def test_triplet_margin_loss_broadcasts_the_anchor():
    a, pos, neg = randn(1, 4), randn(5, 4, seed=1), randn(5, 4, seed=2)
    check(*both("triplet_margin_loss", reduction="none", swap=True), [a, pos, neg])


def cosine_distance(L):
    return lambda x, y: 1.0 - L.functional.cosine_similarity(x, y)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("distance", ["default", "cosine", "module"])
def test_triplet_margin_with_distance_loss(distance, swap, reduction, dtype):
    a, pos, neg = (randn(6, 4, dtype=dtype, seed=s) for s in range(3))
    make = {"default": lambda L: None, "cosine": cosine_distance, "module": lambda L: L.PairwiseDistance(p=1.0)}
    for margin in (1.0, 0.4):
        kw = dict(margin=margin, swap=swap, reduction=reduction)
        check(lambda *x: F.triplet_margin_with_distance_loss(*x, distance_function=make[distance](nn), **kw),
              lambda *x: TF.triplet_margin_with_distance_loss(*x, distance_function=make[distance](torch.nn), **kw),
              [a, pos, neg], dtype)
        ours = nn.TripletMarginWithDistanceLoss(distance_function=make[distance](nn), **kw)
        theirs = torch.nn.TripletMarginWithDistanceLoss(distance_function=make[distance](torch.nn), **kw)
        if distance != "cosine":
            assert repr(ours) == repr(theirs)
        assert (ours.margin, ours.swap) == (theirs.margin, theirs.swap)
        check(ours, theirs, [a, pos, neg], dtype)


def test_triplet_margin_with_distance_default_is_a_pairwise_distance_child():
    ours, theirs = nn.TripletMarginWithDistanceLoss(), torch.nn.TripletMarginWithDistanceLoss()
    assert isinstance(ours.distance_function, nn.PairwiseDistance)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()] == ["distance_function"]
    assert repr(ours) == repr(theirs)


# ------------------------------------------------------------------ shared behaviour
LEGACY = {  # name: (module arguments, functional arguments)
    "margin_ranking_loss": ("MarginRankingLoss", 3), "hinge_embedding_loss": ("HingeEmbeddingLoss", 2),
    "soft_margin_loss": ("SoftMarginLoss", 2), "cosine_embedding_loss": ("CosineEmbeddingLoss", 3),
    "multilabel_soft_margin_loss": ("MultiLabelSoftMarginLoss", 2),
    "multilabel_margin_loss": ("MultiLabelMarginLoss", 2), "multi_margin_loss": ("MultiMarginLoss", 2),
    "poisson_nll_loss": ("PoissonNLLLoss", 2), "triplet_margin_loss": ("TripletMarginLoss", 3)}


def _args(name):
    x = randn(4, 5)
    return {"margin_ranking_loss": [x[0], x[1], signs(5)], "hinge_embedding_loss": [x, signs(20).reshape(4, 5)],
            "soft_margin_loss": [x, signs(20).reshape(4, 5)], "cosine_embedding_loss": [x, x[::-1].copy(), signs(4)],
            "multilabel_soft_margin_loss": [x, (x > 0).astype(np.float64)],
            "multilabel_margin_loss": [x, _label_lists()[:4]], "multi_margin_loss": [x, np.array([0, 4, 2, 1])],
            "poisson_nll_loss": [x, np.abs(x) * 2], "triplet_margin_loss": [x, x * 0.5, -x]}[name]


def _grads(name, args):
    """Every floating argument requires grad, except soft_margin_loss's target (torch refuses it)."""
    return [a.dtype.kind == "f" and not (name == "soft_margin_loss" and i == 1) for i, a in enumerate(args)]


@pytest.mark.parametrize("name", sorted(LEGACY))
@pytest.mark.parametrize("size_average,reduce", [(False, None), (None, False), (True, True), (False, True),
                                                 (True, False)])
def test_deprecated_size_average_and_reduce(name, size_average, reduce):
    args = _args(name)
    kw = dict(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours, theirs = both(name, **kw)
        check(ours, theirs, args, grads=_grads(name, args))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = getattr(nn, LEGACY[name][0])(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = getattr(torch.nn, LEGACY[name][0])(**kw)
    assert m.reduction == t.reduction
    check(m, t, args, grads=_grads(name, args))


# multilabel_margin_loss's empty batch is tested above; torch's mean of an empty multi_margin_loss batch reads
# uninitialised memory, so there is nothing to compare with
@pytest.mark.parametrize("name", sorted(set(LEGACY) - {"multilabel_margin_loss", "multi_margin_loss"}) +
                         ["gaussian_nll_loss", "triplet_margin_with_distance_loss"])
def test_empty_batch(name):
    args = {"gaussian_nll_loss": [np.zeros((0, 3)), np.zeros((0, 3)), np.ones((0, 3))],
            "triplet_margin_with_distance_loss": [np.zeros((0, 3))] * 3}.get(name)
    if args is None:
        args = [np.zeros((0, 5)) if a.ndim == 2 else np.zeros((0,) + a.shape[1:]) if a.shape[0] == 4 else
                np.zeros(0) for a in _args(name)]
        if name == "margin_ranking_loss":
            args = [np.zeros(0)] * 3
    for red in REDUCTIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(*both(name, reduction=red), args, grads=_grads(name, args))


def test_nan_inputs_propagate_like_torch():
    x = randn(4, 5)
    x[1, 2] = np.nan
    for name in sorted(LEGACY):
        args = _args(name)
        args[0] = x if args[0].shape == x.shape else np.where(np.arange(5) == 2, np.nan, args[0])
        for red in REDUCTIONS:
            ours, theirs = both(name, reduction=red)
            assert_close(ours(*map(tb.tensor, args)), theirs(*map(torch.tensor, args)))


def test_weights_of_zero():
    x, t = randn(4, 5), np.array([0, 4, 2, 1])
    w = np.array([0.0, 1.0, 0.0, 2.0, 0.0])
    check(lambda a: F.multi_margin_loss(a, t, weight=tb.tensor(w)), lambda a: TF.multi_margin_loss(
        a, torch.tensor(t), weight=torch.tensor(w)), [x])
    y = (x > 0).astype(np.float64)
    check(lambda a, w: F.multilabel_soft_margin_loss(a, y, w), lambda a, w: TF.multilabel_soft_margin_loss(
        a, torch.tensor(y), w), [x, w])


BAD = [
    (lambda L, T: L.functional.margin_ranking_loss(T.ones(3, 1), T.ones(3), T.ones(3)), "margin_ranking_loss"),
    (lambda L, T: L.functional.margin_ranking_loss(T.ones(3), T.ones(3), T.ones(3), reduction="bad"),
     "margin_ranking_loss"),
    (lambda L, T: L.functional.hinge_embedding_loss(T.ones(3), T.ones(3), reduction="x"), "hinge_embedding_loss"),
    (lambda L, T: L.functional.soft_margin_loss(T.ones(3), T.ones(3), reduction="x"), "soft_margin_loss"),
    (lambda L, T: L.functional.cosine_embedding_loss(T.ones(2, 3, 4), T.ones(2, 3, 4), T.ones(2)),
     "cosine_embedding_loss"),
    (lambda L, T: L.functional.cosine_embedding_loss(T.ones(2, 3), T.ones(2, 3), T.ones(())),
     "cosine_embedding_loss"),
    (lambda L, T: L.functional.cosine_embedding_loss(T.ones(2, 3), T.ones(2, 3), T.ones(2, 1)),
     "cosine_embedding_loss"),
    (lambda L, T: L.functional.cosine_embedding_loss(T.ones(2, 3), T.ones(2, 3), T.ones(3)), "where"),
    (lambda L, T: L.functional.multilabel_soft_margin_loss(T.ones(()), T.ones(())), "multilabel_soft_margin_loss"),
    (lambda L, T: L.functional.multilabel_soft_margin_loss(T.ones(2, 3), T.ones(3, 3)), ""),
    (lambda L, T: L.functional.multilabel_soft_margin_loss(T.ones(2, 3), T.ones(2, 3), reduction="x"),
     "multilabel_soft_margin_loss"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 4), T.tensor([[4, 0, -1, 1], [1, 2, 3, -1]])),
     "multilabel_margin_loss.*out of range"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(1, 4), T.tensor([[3, -1, 7, 1]])),
     "multilabel_margin_loss.*out of range"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 4), T.tensor([[-2, 0, -1, 1], [1, 2, 3, -1]])),
     "multilabel_margin_loss"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 4), T.tensor([[3, 0, -1], [1, 2, 3]])),
     "multilabel_margin_loss.*inconsistent target size"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(4), T.zeros(1, 4, dtype=T.int64)),
     "multilabel_margin_loss"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 4), T.ones(2, 4)), "multilabel_margin_loss.*Long"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 4), T.ones(2, 4, dtype=T.int32)),
     "multilabel_margin_loss"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 4, 1), T.zeros(2, 4, 1, dtype=T.int64)),
     "multilabel_margin_loss.*non-empty"),
    (lambda L, T: L.functional.multilabel_margin_loss(T.ones(2, 0), T.zeros(2, 0, dtype=T.int64)),
     "multilabel_margin_loss"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([3, 0]), p=3), "multi_margin_loss.*p == 1"),
    (lambda L, T: L.MultiMarginLoss(p=3), "only p == 1 and p == 2"),
    (lambda L, T: L.MultiMarginLoss(weight=T.ones(2, 2)), "MultiMarginLoss.*1D"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([3, 0]), weight=T.ones(2, 2)),
     "multi_margin_loss.*one-dimensional"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([3, 0]), weight=T.ones(3)),
     "multi_margin_loss.*weight size"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([3, 0]), weight=T.ones(4, dtype=T.float64)),
     "multi_margin_loss"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([3, 0]),
                                                 weight=T.ones(4, requires_grad=True)),
     "not differentiable with respect to argument 'weight'"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([4, 0])), "multi_margin_loss.*out of range"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([-1, 0])), "multi_margin_loss.*out of range"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([1, 2, 0])), "multi_margin_loss.*target"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(1, 4), T.zeros(1, 1, dtype=T.int64)), "multi_margin_loss"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4, 3), T.tensor([1, 2])), "multi_margin_loss"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(2, 4), T.tensor([1.0, 2.0])), "multi_margin_loss.*Long"),
    (lambda L, T: L.functional.multi_margin_loss(T.ones(0), T.zeros((), dtype=T.int64)), "multi_margin_loss"),
    (lambda L, T: L.functional.poisson_nll_loss(T.ones(3), T.ones(3), reduction="x"), "poisson_nll_loss"),
    (lambda L, T: L.functional.gaussian_nll_loss(T.ones(3, 2), T.ones(3, 2), -1.0), "gaussian_nll_loss.*negative"),
    (lambda L, T: L.functional.gaussian_nll_loss(T.ones(3, 2), T.ones(3, 2), -T.ones(3, 2)),
     "gaussian_nll_loss.*negative"),
    (lambda L, T: L.functional.gaussian_nll_loss(T.ones(3, 2), T.ones(3, 2), T.ones(2)), "gaussian_nll_loss"),
    (lambda L, T: L.functional.gaussian_nll_loss(T.ones(3, 2), T.ones(3, 2), T.ones(1, 1)), "gaussian_nll_loss"),
    (lambda L, T: L.functional.gaussian_nll_loss(T.ones(3, 2), T.ones(3, 2), T.tensor(1.0)), "gaussian_nll_loss"),
    (lambda L, T: L.functional.gaussian_nll_loss(T.ones(3, 2), T.ones(3, 2), T.ones(3, 2), reduction="x"),
     "gaussian_nll_loss.*x is not valid"),
    (lambda L, T: L.functional.triplet_margin_loss(T.ones(3, 2), T.ones(3, 2), T.ones(2)), "triplet_margin_loss"),
    (lambda L, T: L.functional.triplet_margin_loss(T.ones(3, 2), T.ones(3, 2), T.ones(3, 2), margin=0),
     "margin must be greater than 0"),
    (lambda L, T: L.functional.triplet_margin_loss(T.ones(3, 2), T.ones(3, 2), T.ones(3, 2), reduction="x"),
     "triplet_margin_loss"),
    (lambda L, T: L.TripletMarginLoss(margin=-1.0), "TripletMarginLoss: expected margin"),
    (lambda L, T: L.TripletMarginWithDistanceLoss(margin=0.0), "TripletMarginWithDistanceLoss: expected margin"),
    (lambda L, T: L.functional.triplet_margin_with_distance_loss(T.ones(3, 2), T.ones(3, 2), T.ones(2)),
     "same number of dimensions"),
    (lambda L, T: L.functional.triplet_margin_with_distance_loss(T.ones(3, 2), T.ones(3, 2), T.ones(3, 2),
                                                                 margin=-2), "margin must be greater than 0"),
    (lambda L, T: L.functional.triplet_margin_with_distance_loss(T.ones(3, 2), T.ones(3, 2), T.ones(3, 2),
                                                                 reduction="x"), "x is not a valid value"),
    (lambda L, T: L.MarginRankingLoss(reduction="x")(T.ones(3), T.ones(3), T.ones(3)), "margin_ranking_loss"),
]


@pytest.mark.parametrize("bad,match", BAD)
def test_bad_arguments_raise_torch_exception_types(bad, match):
    same_error(bad, match)


FUNCTIONS = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
             "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss", "poisson_nll_loss",
             "gaussian_nll_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss"]
MODULES = ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss",
           "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss",
           "TripletMarginLoss", "TripletMarginWithDistanceLoss"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_signatures_match_torch(name):
    assert signature(getattr(F, name)) == signature(getattr(TF, name))


@pytest.mark.parametrize("name", MODULES)
def test_module_signatures_and_reprs_match_torch(name):
    ours, theirs = getattr(nn, name), getattr(torch.nn, name)
    assert signature(ours.__init__) == signature(theirs.__init__)
    assert signature(ours.forward)[1:] == signature(theirs.forward)[1:]
    assert repr(ours()) == repr(theirs()) and ours().reduction == "mean"


def test_docstrings():
    import tinybptt.nn.likelihood_losses as a
    import tinybptt.nn.margin_losses as b
    for mod in (a, b):
        for name, obj in inspect.getmembers(mod):
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                    obj.__module__ == mod.__name__:
                assert obj.__doc__, name
