"""CTC loss (F.ctc_loss, nn.CTCLoss) against torch 2.13: values and gradients for every reduction, zero_infinity,
both target layouts, unbatched input, repeated labels, any blank, empty lengths and impossible alignments;
PyTorch's gradient convention for unnormalised log_probs; finite differences; bad arguments; an LSTM model's
parameter gradients; and a short training run."""
import subprocess
import sys

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F

TF = torch.nn.functional
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def to_lib(x, lib):
    """numpy arrays become tensors of ``lib`` (tb or torch); lists, tuples and ints pass unchanged."""
    if isinstance(x, np.ndarray):
        return tb.tensor(x) if lib is tb else torch.from_numpy(x.copy())
    return x


def both(x, targets, il, tl, seed=0, **kw):
    """Loss and log_probs gradient (for a fixed random cotangent) from tinybptt and from torch."""
    out = []
    for lib, f in ((tb, F.ctc_loss), (torch, TF.ctc_loss)):
        lp = (tb.tensor if lib is tb else torch.tensor)(x, requires_grad=True)
        loss = f(lp, to_lib(targets, lib), to_lib(il, lib), to_lib(tl, lib), **kw)
        u = np.random.default_rng(seed).uniform(0.5, 2, tuple(loss.shape)).astype(x.dtype)
        loss.backward(tb.tensor(u) if lib is tb else torch.from_numpy(u))
        out.append((loss.detach().numpy(), lp.grad.numpy()))
    return out


def assert_parity(x, targets, il, tl, **kw):
    """Same loss and gradient as torch: values within TOL, and NaN / inf in the same places."""
    (la, ga), (lt, gt) = both(x, targets, il, tl, **kw)
    tol = TOL[x.dtype.type]
    for a, b in ((la, lt), (ga, gt)):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert (np.isnan(a) == np.isnan(b)).all() and (np.isposinf(a) == np.isposinf(b)).all()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1, np.abs(b[np.isfinite(b)]).max(initial=0)),
                                   equal_nan=True)
    return la, ga


def problem(seed, T=12, N=4, C=6, S=5, blank=0, normalised=True, dtype=np.float64, repeats=False):
    """Random log_probs (T, N, C) (log-softmax rows or arbitrary numbers), padded targets avoiding the blank
    (with runs of repeated labels when ``repeats``), and input / target lengths (some shorter than T and S)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C)) * 2
    if normalised:
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    labels = [c for c in range(C) if c != blank]
    targets = rng.choice(labels, (N, S))
    if repeats:
        targets[:, 1::2] = targets[:, ::2][:, :targets[:, 1::2].shape[1]]
    il = rng.integers(max(1, T - 4), T + 1, N)
    il[0] = T
    tl = rng.integers(0, S + 1, N)
    tl[0] = S
    return x.astype(dtype), targets, il, tl


def concatenated(targets, tl):
    return np.concatenate([targets[i, :n] for i, n in enumerate(tl)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("normalised", [True, False])
def test_matches_torch(dtype, reduction, zero_infinity, layout, normalised):
    for seed in range(3):
        x, targets, il, tl = problem(seed, normalised=normalised, dtype=dtype, repeats=seed == 1)
        tgt = targets if layout == "padded" else concatenated(targets, tl)
        assert_parity(x, tgt, il, tl, reduction=reduction, zero_infinity=zero_infinity)


@pytest.mark.parametrize("blank", [1, 5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_blank_other_than_zero(blank, reduction):
    x, targets, il, tl = problem(3, blank=blank)
    loss, _ = assert_parity(x, targets, il, tl, blank=blank, reduction=reduction)
    assert np.isfinite(loss).all()


@pytest.mark.parametrize("kind", [list, tuple, "tensor", "int32", "uint8", "2-d tensor"])
def test_length_forms(kind):
    x, targets, il, tl = problem(4)
    conv = {"tensor": np.asarray, "int32": lambda v: np.asarray(v, np.int32),
            "uint8": lambda v: np.asarray(v, np.uint8), "2-d tensor": lambda v: np.asarray(v).reshape(1, -1)}.get(
        kind, lambda v: kind(int(i) for i in v))
    assert_parity(x, targets, conv(il), conv(tl), reduction="none")
    # a list may hold one-element integer tensors and numpy integers
    (la, _), (lt, _) = both(x, targets, [tb.tensor(int(i)) if k % 2 else np.int64(i) for k, i in enumerate(il)],
                            [int(i) for i in tl], reduction="none")
    np.testing.assert_allclose(la, lt, rtol=1e-12)


@pytest.mark.parametrize("target_dtype", [np.int64, np.int32, np.int16, np.uint8, np.float64, np.bool_])
def test_target_dtypes_are_taken_as_int64(target_dtype):
    x, targets, il, tl = problem(5, C=3)
    t = (targets % 2).astype(target_dtype) if target_dtype == np.bool_ else targets.astype(target_dtype)
    if target_dtype == np.float64:
        t = t + 0.7  # truncated toward zero, as torch's conversion
    assert_parity(x, t, il, tl, reduction="none")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("targets", ["1-d", "2-d"])
@pytest.mark.parametrize("il,tl", [([7], [3]), ((7,), (3,)), (np.array(7), np.array(3)),
                                   (np.array([7]), np.array([3]))], ids=["list", "tuple", "0-d tensors", "1-d tensors"])
def test_unbatched(dtype, reduction, targets, il, tl):
    x, tg, _, _ = problem(6, T=7, N=1, S=3, dtype=dtype)
    tg = tg[0] if targets == "1-d" else tg
    loss, grad = assert_parity(x[:, 0], tg, il, tl, reduction=reduction)
    assert loss.shape == () and grad.shape == (7, 6)


def test_repeated_labels_need_a_blank_between():
    # "1 1 1" needs 5 frames (1 _ 1 _ 1); with 4 the loss is inf and the gradient NaN, as torch's
    x, _, _, _ = problem(7, T=5, N=2, C=3)
    targets = np.array([[1, 1, 1], [2, 1, 1]])
    for il in ([5, 4], [4, 4], [5, 5]):
        for zero_infinity in (False, True):
            for reduction in ("none", "mean", "sum"):
                loss, grad = assert_parity(x, targets, il, [3, 3], reduction=reduction, zero_infinity=zero_infinity)
    loss, grad = assert_parity(x, targets, [4, 5], [3, 3], reduction="none")
    assert np.isinf(loss[0]) and np.isfinite(loss[1])
    assert np.isnan(grad[:4, 0]).all() and (grad[4:, 0] == 0).all() and np.isfinite(grad[:, 1]).all()
    loss, grad = assert_parity(x, targets, [4, 5], [3, 3], reduction="none", zero_infinity=True)
    assert loss[0] == 0 and (grad[:, 0] == 0).all()


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_lengths(zero_infinity, reduction):
    x, targets, _, _ = problem(8, T=6, N=5, S=3)
    il, tl = [0, 0, 6, 6, 2], [0, 2, 0, 3, 3]  # empty input and target, empty input, empty target, ..., too short
    loss, grad = assert_parity(x, targets, il, tl, reduction=reduction, zero_infinity=zero_infinity)
    if reduction == "none":
        assert loss[0] == 0 and np.isposinf(loss[1]) != zero_infinity and np.isfinite(loss[2:4]).all()
    assert (grad[:, :2] == 0).all() and (grad[2:, 4] == 0).all()
    # targets with no labels at all: padded (N, 0) and concatenated (0,)
    for t in (np.zeros((5, 0), np.int64), np.zeros(0, np.int64)):
        assert_parity(x, t, [6, 1, 0, 3, 6], [0] * 5, reduction=reduction, zero_infinity=zero_infinity)


def test_mean_divides_by_clamped_target_length():
    x, targets, il, tl = problem(9, N=3)
    tl = np.array([0, 2, 5])
    each = F.ctc_loss(tb.tensor(x), tb.tensor(targets), tb.tensor(il), tb.tensor(tl), reduction="none").numpy()
    mean = F.ctc_loss(tb.tensor(x), tb.tensor(targets), tb.tensor(il), tb.tensor(tl)).item()
    assert mean == pytest.approx(np.mean(each / np.array([1, 2, 5])), rel=1e-14)
    assert_parity(x, targets, il, tl)


def test_targets_equal_to_the_blank_follow_torch():
    # not a valid CTC target, but torch computes a number for it: so do we, the same
    x, _, il, _ = problem(10, T=6, N=3, C=4)
    assert_parity(x, np.array([[0, 2], [2, 0], [0, 0]]), il, np.array([2, 2, 2]), reduction="none")
    assert_parity(x, np.array([[1, 2], [2, 3], [3, 3]]), il, np.array([2, 2, 1]), blank=3, reduction="none")


def test_extreme_log_probs():
    # zero probabilities (-inf) and very unlikely paths: same infs, NaNs and numbers as torch
    x, targets, il, tl = problem(11, T=10, N=3, C=4, S=3, normalised=False)
    x[np.random.default_rng(0).random(x.shape) < 0.2] = -np.inf
    x[:, 1] *= 200
    x[3, 2, 1] = np.nan   # a NaN and a +inf: NaN losses stay NaN (zero_infinity only zeroes inf)
    x[2, 0, 2] = np.inf
    for zero_infinity in (False, True):
        assert_parity(x, targets, il, tl, reduction="none", zero_infinity=zero_infinity)


def test_long_sequences_stay_finite():
    x, targets, il, tl = problem(12, T=400, N=2, C=20, S=80)
    for dtype in (np.float64, np.float32):
        loss, grad = assert_parity(x.astype(dtype), targets, il, tl, reduction="sum")
        assert np.isfinite(loss) and loss > 100 and np.isfinite(grad).all()


def test_gradient_is_torchs_convention_for_unnormalised_log_probs():
    """torch gives exp(lp) * g - gamma * g for log_probs (eq. 16 of Graves et al.): the gradient with respect
    to logits under log_softmax.  Through a log_softmax it is the true gradient; on raw log_probs, minus the
    exp(lp) * g term it is the true (finite-difference) gradient."""
    x, targets, il, tl = problem(13, T=6, N=3, C=4, S=2, normalised=False)
    args = tb.tensor(targets), tb.tensor(il), tb.tensor(tl)
    lp, t_lp = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    F.ctc_loss(lp, *args, reduction="sum").backward()
    TF.ctc_loss(t_lp, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), reduction="sum").backward()
    g = lp.grad.numpy()
    np.testing.assert_allclose(g, t_lp.grad.numpy(), rtol=1e-12, atol=1e-12)
    active = np.arange(6)[:, None] < np.asarray(il)[None, :]
    direct = g - np.exp(x) * active[..., None]   # what d(loss)/d(log_probs) really is
    eps, numeric = 1e-6, np.zeros_like(x)
    for i in np.ndindex(x.shape):
        for sign in (1, -1):
            y = x.copy()
            y[i] += sign * eps
            numeric[i] += sign * F.ctc_loss(tb.tensor(y), *args, reduction="sum").item() / (2 * eps)
    np.testing.assert_allclose(direct, numeric, rtol=1e-6, atol=1e-7)
    assert not np.allclose(g, numeric, atol=1e-3)  # the raw gradient is not the finite difference


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_gradcheck_through_log_softmax(reduction, zero_infinity, layout):
    x, targets, il, tl = problem(14, T=7, N=3, C=4, S=3, repeats=True, normalised=False)
    if zero_infinity:
        il = np.array([7, 2, 6])  # sequence 1 cannot be aligned: its loss and gradient are 0
    tgt = tb.tensor(targets if layout == "padded" else concatenated(targets, tl))
    logits = tb.tensor(x, requires_grad=True)
    assert tb.gradcheck(lambda z: F.ctc_loss(z.log_softmax(2), tgt, tb.tensor(il), tb.tensor(tl), reduction=reduction,
                                             zero_infinity=zero_infinity), (logits,), atol=1e-7, rtol=1e-6)


def test_gradcheck_unbatched_blank_last():
    x, targets, _, _ = problem(15, T=6, N=1, C=5, S=3, blank=4)
    logits = tb.tensor(x[:, 0], requires_grad=True)
    assert tb.gradcheck(lambda z: F.ctc_loss(z.log_softmax(1), tb.tensor(targets[0]), [6], [3], blank=4),
                        (logits,), atol=1e-7, rtol=1e-6)


def test_module():
    m = nn.CTCLoss()
    assert (m.blank, m.reduction, m.zero_infinity) == (0, "mean", False)
    assert repr(m) == repr(torch.nn.CTCLoss()) == "CTCLoss()"
    assert m.state_dict() == {} and list(m.parameters()) == []
    x, targets, il, tl = problem(16, blank=2)
    il[1], tl[1] = 2, 3  # an impossible alignment, so zero_infinity matters
    for kw in (dict(blank=2), dict(blank=2, reduction="sum", zero_infinity=True), dict(blank=2, reduction="none")):
        ours = nn.CTCLoss(**kw)(tb.tensor(x), tb.tensor(targets), tb.tensor(il), tb.tensor(tl))
        theirs = torch.nn.CTCLoss(**kw)(torch.tensor(x), torch.tensor(targets), torch.tensor(il), torch.tensor(tl))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
        assert np.isfinite(ours.numpy()).all() == kw.get("zero_infinity", False)
    with pytest.raises(ValueError, match="ctc_loss"):  # as torch: checked when called
        nn.CTCLoss(reduction="avg")(tb.tensor(x), tb.tensor(targets), tb.tensor(il), tb.tensor(tl))


def test_transposed_log_probs_and_retained_graph():
    # batch-first logits transposed to (T, N, C): a non-contiguous view; backward twice with retain_graph
    x, targets, il, tl = problem(20, normalised=False)
    z, zt = tb.tensor(x.transpose(1, 0, 2).copy(), requires_grad=True), torch.tensor(x.transpose(1, 0, 2).copy(),
                                                                                   requires_grad=True)
    loss = F.ctc_loss(z.log_softmax(2).transpose(0, 1), tb.tensor(targets), tb.tensor(il), tb.tensor(tl))
    t_loss = TF.ctc_loss(zt.log_softmax(2).transpose(0, 1), torch.tensor(targets), torch.tensor(il), torch.tensor(tl))
    for _ in range(2):
        loss.backward(retain_graph=True)
        t_loss.backward(retain_graph=True)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-10, atol=1e-12)


class _Model:
    """LSTM -> Linear -> log_softmax over classes, in tinybptt and torch with the same weights."""

    def __init__(self, features=3, hidden=8, classes=5, dtype=np.float64, seed=0):
        torch.manual_seed(seed)
        tdt = torch.float64 if dtype == np.float64 else torch.float32
        self.t_lstm, self.t_fc = torch.nn.LSTM(features, hidden).to(tdt), torch.nn.Linear(hidden, classes).to(tdt)
        self.lstm, self.fc = nn.LSTM(features, hidden, dtype=dtype), nn.Linear(hidden, classes, dtype=dtype)
        for ours, theirs in ((self.lstm, self.t_lstm), (self.fc, self.t_fc)):
            ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})

    def ours(self, x):
        return self.fc(self.lstm(x)[0]).log_softmax(2)

    def theirs(self, x):
        return self.t_fc(self.t_lstm(x)[0]).log_softmax(2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradients_reach_an_lstm(dtype, reduction):
    model = _Model(dtype=dtype)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((9, 4, 3)).astype(dtype)
    targets, il, tl = rng.integers(1, 5, (4, 4)), [9, 7, 8, 9], [4, 2, 3, 0]
    xs, xt = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss = nn.CTCLoss(reduction=reduction)(model.ours(xs), tb.tensor(targets), il, tl)
    t_loss = torch.nn.CTCLoss(reduction=reduction)(model.theirs(xt), torch.tensor(targets), il, tl)
    loss.backward()
    t_loss.backward()
    tol = TOL[dtype] * 10
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=tol)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)
    pairs = [(model.lstm, model.t_lstm), (model.fc, model.t_fc)]
    for ours, theirs in pairs:
        t_grads = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), t_grads[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)


def test_training_an_lstm_with_ctc_reduces_the_loss():
    """Label sequences from which class is largest in the input: a few dozen Adam steps must cut the loss."""
    tb.manual_seed(0)
    rng = np.random.default_rng(18)
    T, N, C = 12, 8, 4
    labels = rng.integers(1, C, (N, 3))
    x = np.zeros((T, N, C), np.float32)
    for b in range(N):  # each label is shown for 3 frames, after a blank frame
        for k, c in enumerate(labels[b]):
            x[4 * k + 1:4 * k + 4, b, c] = 1.0
    x += 0.1 * rng.standard_normal(x.shape).astype(np.float32)
    lstm, fc = nn.LSTM(C, 16), nn.Linear(16, C)
    opt = tb.optim.Adam(list(lstm.parameters()) + list(fc.parameters()), lr=0.03)
    ctc, xs = nn.CTCLoss(), tb.tensor(x)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = ctc(fc(lstm(xs)[0]).log_softmax(2), tb.tensor(labels), [T] * N, [3] * N)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.1 * losses[0], losses


# ---------------------------------------------------------------- bad arguments
X = np.random.default_rng(19).standard_normal((5, 2, 4))
TG = np.array([[1, 2, 3], [3, 1, 1]])
BAD = {  # name: (log_probs, targets, input_lengths, target_lengths, kwargs)
    "reduction": (X, TG, [5, 5], [3, 2], dict(reduction="avg")),
    "lengths an int": (X, TG, 5, 3, {}),
    "lengths tensor and list": (X, TG, np.array([5, 5]), [3, 2], {}),
    "lengths list and tensor": (X, TG, [5, 5], np.array([3, 2]), {}),
    "lengths list of floats": (X, TG, [5.0, 5.0], [3, 2], {}),
    "lengths list of bools": (X, TG, [True, 5], [1, 2], {}),
    "blank a bool": (X, TG, [5, 5], [3, 2], dict(blank=True)),
    "blank a float": (X, TG, [5, 5], [3, 2], dict(blank=1.0)),
    "blank None": (X, TG, [5, 5], [3, 2], dict(blank=None)),
    "zero_infinity an int": (X, TG, [5, 5], [3, 2], dict(zero_infinity=1)),
    "zero_infinity None": (X, TG, [5, 5], [3, 2], dict(zero_infinity=None)),
    "targets a list": (X, TG.tolist(), [5, 5], [3, 2], {}),
    "log_probs a list": (X.tolist(), TG, [5, 5], [3, 2], {}),
    "input_lengths float tensor": (X, TG, np.array([5.0, 5.0]), np.array([3, 2]), {}),
    "target_lengths float tensor": (X, TG, np.array([5, 5]), np.array([3.0, 2.0]), {}),
    "input_lengths bool tensor": (X, TG, np.array([True, True]), np.array([3, 2]), {}),
    "log_probs 0-d": (np.array(1.0), TG, [5, 5], [3, 2], {}),
    "log_probs int64": (X.astype(np.int64), TG, [5, 5], [3, 2], {}),
    "log_probs float16": (X.astype(np.float16), TG, [5, 5], [3, 2], {}),
    "log_probs empty": (X[:0], TG, [0, 0], [0, 0], {}),
    "log_probs empty batch": (X[:, :0], TG[:0], [], [], {}),
    "log_probs 1-d": (X[:, 0, 0], TG, [5, 5], [3, 2], {}),
    "log_probs 4-d": (X[None], TG, [5, 5], [3, 2], {}),
    "blank negative": (X, TG, [5, 5], [3, 2], dict(blank=-1)),
    "blank = C": (X, TG, [5, 5], [3, 2], dict(blank=4)),
    "targets 0-d": (X, np.array(1), [5, 5], [1, 0], {}),
    "targets 3-d": (X, TG[None], [5, 5], [3, 2], {}),
    "too many input_lengths": (X, TG, [5, 5, 5], [3, 2], {}),
    "too few target_lengths": (X, TG, [5, 5], [3], {}),
    "0-d lengths for a batch": (X, TG, np.array(5), np.array(3), {}),
    "negative target length": (X, TG, [5, 5], [3, -1], {}),
    "padded targets too short": (X, TG, [5, 5], [4, 2], {}),
    "padded targets wrong batch": (X, TG[:1], [5, 5], [3, 2], {}),
    "concatenated targets too short": (X, TG[0], [5, 5], [3, 2], {}),
    "concatenated targets too long": (X, TG.reshape(-1), [5, 5], [3, 2], {}),
    "negative input length": (X, TG, [5, -1], [3, 2], {}),
    "input length > T": (X, TG, [6, 5], [3, 2], {}),
    "input length > T, tensors": (X, TG, np.array([5, 6]), np.array([3, 2]), {}),
    "unbatched with two lengths": (X[:, 0], TG[0], [5, 5], [3, 3], {}),
    "unbatched with a batch of targets": (X[:, 0], TG, [5], [3], {}),
    # two faults: the one torch reports first decides the type
    "float lengths and empty": (X[:0], TG, np.array([5.0, 5.0]), np.array([3, 2]), {}),
    "float16 and empty": (X[:0].astype(np.float16), TG, [5, 5], [3, 2], {}),
    "4-d and blank": (X[None], TG, [5, 5], [3, 2], dict(blank=9)),
    "negative target length and input length > T": (X, TG, [6, 5], [-1, 2], {}),
}


def _raise(lib, case):
    lp, targets, il, tl, kw = case
    f = F.ctc_loss if lib is tb else TF.ctc_loss
    lp = to_lib(np.asarray(lp), lib) if not isinstance(lp, list) else lp
    with pytest.raises(Exception) as info:
        f(lp, to_lib(targets, lib), to_lib(il, lib), to_lib(tl, lib), **kw)
    return info.value


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_raise_torchs_exception_type(name):
    ours, theirs = _raise(tb, BAD[name]), _raise(torch, BAD[name])
    assert isinstance(ours, type(theirs)), (type(ours), type(theirs), str(ours), str(theirs))
    assert "ctc_loss" in str(ours), str(ours)


@pytest.mark.parametrize("name,expected", [
    ("input length > T", "at most 5, but got value 6"), ("negative target length", "at least 0, but got value -1"),
    ("blank = C", "blank = 4.*4 classes"), ("too many input_lengths", "got 3 input_lengths for batch size 2"),
    ("padded targets too short", "at least 4 at dimension 1, but got size 3"),
    ("concatenated targets too short", "size 5 at dimension 0, but got size 3"),
    ("log_probs float16", "not implemented for 'Half'"), ("lengths tensor and list", "Tensor and list")])
def test_bad_argument_messages_name_the_values(name, expected):
    with pytest.raises(Exception, match=expected):
        lp, targets, il, tl, kw = BAD[name]
        F.ctc_loss(tb.tensor(lp), tb.tensor(targets), il if not isinstance(il, np.ndarray) else tb.tensor(il),
                   tl if not isinstance(tl, np.ndarray) else tb.tensor(tl), **kw)


def test_target_out_of_range_is_refused():
    # torch's CPU kernel reads outside log_probs for these (undefined numbers): we raise instead
    for bad in (4, -1):
        t = TG.copy()
        t[1, 0] = bad
        with pytest.raises(IndexError, match=f"ctc_loss: target {bad} at position \\(1, 0\\)"):
            F.ctc_loss(tb.tensor(X), tb.tensor(t), [5, 5], [3, 2])
    t = TG.copy()
    t[1, 2] = -1  # padding past the target length is never read
    assert np.isfinite(F.ctc_loss(tb.tensor(X), tb.tensor(t), [5, 5], [3, 2]).item())


def test_import_does_not_load_numba():
    code = ("import sys, tinybptt, tinybptt.nn.functional as F; assert 'numba' not in sys.modules; "
            "F.ctc_loss(tinybptt.zeros(2, 3).log_softmax(1), tinybptt.tensor([1]), [2], [1]); "
            "assert 'numba' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=__file__.rsplit("/tests/", 1)[0])
