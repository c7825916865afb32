"""Parity with torch 2.13 for AdaptiveLogSoftmaxWithLoss: the (output, loss) named tuple and the gradients of
the input and of every weight, log_prob, predict, state_dict keys both ways, reprs and bad arguments."""
import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
from parity import TOL, assert_close, same_error, signature

CONFIGS = [dict(in_features=16, n_classes=20, cutoffs=[5, 12]), dict(in_features=8, n_classes=10, cutoffs=[3]),
           dict(in_features=32, n_classes=30, cutoffs=[4, 10, 20], div_value=2.0, head_bias=True),
           dict(in_features=6, n_classes=7, cutoffs=(2, 6), div_value=1.0)]


def pair(cfg, dtype=np.float64):
    ours = nn.AdaptiveLogSoftmaxWithLoss(**cfg, dtype=tb.float64 if dtype == np.float64 else tb.float32)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(**cfg, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def grads_close(ours, theirs, dtype):
    for (name, p), (tname, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        if q.grad is None:
            assert p.grad is None or not p.grad.numpy().any(), name
        else:  # float32: sums of many products, so the tolerance follows the gradient's scale
            scale = max(1.0, float(q.grad.abs().max()))
            assert_close(p.grad, q.grad, dtype, f"{name}.grad", rtol=TOL[dtype]["rtol"],
                         atol=TOL[dtype]["atol"] * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_output_loss_and_gradients(cfg, dtype):
    ours, theirs = pair(cfg, dtype)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, cfg["in_features"])).astype(dtype)
    t = rng.integers(0, cfg["n_classes"], 40)
    t[:len(cfg["cutoffs"]) + 1] = [0] + list(cfg["cutoffs"])  # the first class of every cluster
    t[-1] = cfg["n_classes"] - 1
    a, b = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ra, rb = ours(a, tb.tensor(t)), theirs(b, torch.tensor(t))
    assert type(ra).__name__ == type(rb).__name__ == "_ASMoutput" and ra._fields == rb._fields == ("output", "loss")
    assert_close(ra.output, rb.output, dtype, "output")
    assert_close(ra.loss, rb.loss, dtype, "loss")
    up = rng.uniform(0.5, 1.5, 40).astype(dtype)
    (ra.loss + (ra.output * tb.tensor(up)).sum()).backward()
    (rb.loss + (rb.output * torch.tensor(up)).sum()).backward()
    assert_close(a.grad, b.grad, dtype, "input.grad")
    grads_close(ours, theirs, dtype)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_single_sample_and_shortlist_only_batches(cfg):
    ours, theirs = pair(cfg)
    x = np.random.default_rng(1).standard_normal((3, cfg["in_features"]))
    for row, target in [(x[0], 0), (x[1], cfg["n_classes"] - 1), (x[2], cfg["cutoffs"][0])]:
        ra, rb = ours(tb.tensor(row), tb.tensor(target)), theirs(torch.tensor(row), torch.tensor(target))
        assert_close(ra.output, rb.output)
        assert_close(ra.loss, rb.loss)
    shortlist = np.array([0, 1, 0])
    ra, rb = ours(tb.tensor(x), tb.tensor(shortlist)), theirs(torch.tensor(x), torch.tensor(shortlist))
    assert_close(ra.output, rb.output)
    one = np.array([cfg["n_classes"] - 1])
    ra, rb = ours(tb.tensor(x[:1]), tb.tensor(one)), theirs(torch.tensor(x[:1]), torch.tensor(one))
    assert_close(ra.output, rb.output)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_log_prob_and_predict(cfg, dtype):
    ours, theirs = pair(cfg, dtype)
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((50, cfg["in_features"])) * 3).astype(dtype)
    a, b = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    la, lb = ours.log_prob(a), theirs.log_prob(b)
    assert_close(la, lb, dtype, "log_prob")
    np.testing.assert_allclose(np.exp(la.detach().numpy()).sum(1), 1, rtol=TOL[dtype]["rtol"] * 100)
    up = rng.standard_normal(la.shape).astype(dtype)
    la.backward(tb.tensor(up)), lb.backward(torch.tensor(up))
    assert_close(a.grad, b.grad, dtype, "input.grad")
    grads_close(ours, theirs, dtype)
    pa, pb = ours.predict(tb.tensor(x)), theirs.predict(torch.tensor(x))
    assert pa.dtype == tb.int64 and np.array_equal(pa.numpy(), pb.numpy())
    assert np.array_equal(pa.numpy(), lb.detach().numpy().argmax(1))


def test_predict_rows_in_the_shortlist_and_in_clusters():
    """Bias the head so that some rows, all rows, or no rows pick a cluster: each branch of predict."""
    cfg = dict(in_features=4, n_classes=12, cutoffs=[3, 7], head_bias=True)
    ours, theirs = pair(cfg)
    x = np.random.default_rng(3).standard_normal((20, 4))
    for bias in ([5, 5, 5, 0, 0], [0, 0, 0, 5, 5], [0, 0, 0, 0, 0]):
        ours.head.bias.data = tb.tensor(np.array(bias, np.float64))
        theirs.load_state_dict(ours.state_dict())
        assert np.array_equal(ours.predict(tb.tensor(x)).numpy(), theirs.predict(torch.tensor(x)).numpy())


def test_state_dict_round_trip_and_training_step():
    cfg = CONFIGS[2]
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(**cfg)
    ours = nn.AdaptiveLogSoftmaxWithLoss(**cfg)
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["head.weight", "head.bias", "tail.0.0.weight", "tail.0.1.weight", "tail.1.0.weight", "tail.1.1.weight",
         "tail.2.0.weight", "tail.2.1.weight"]
    x = np.random.default_rng(4).standard_normal((16, 32)).astype(np.float32)
    t = np.random.default_rng(5).integers(0, 30, 16)
    opt_a, opt_b = tb.optim.SGD(ours.parameters(), lr=0.5), torch.optim.SGD(theirs.parameters(), lr=0.5)
    for _ in range(3):
        opt_a.zero_grad(), opt_b.zero_grad()
        ours(tb.tensor(x), tb.tensor(t)).loss.backward()
        theirs(torch.tensor(x), torch.tensor(t)).loss.backward()
        opt_a.step(), opt_b.step()
    for k, v in theirs.state_dict().items():
        assert_close(np.asarray(ours.state_dict()[k]), v, np.float32, k, rtol=1e-4, atol=1e-5)
    back = torch.nn.AdaptiveLogSoftmaxWithLoss(**cfg)
    back.load_state_dict(ours.state_dict())
    assert_close(back(torch.tensor(x), torch.tensor(t)).loss, ours(tb.tensor(x), tb.tensor(t)).loss, np.float32)


def test_attributes_and_hidden_sizes_like_torch():
    for cfg in CONFIGS:
        ours, theirs = pair(cfg)
        for attr in ("in_features", "n_classes", "cutoffs", "div_value", "head_bias", "shortlist_size",
                     "n_clusters", "head_size"):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert signature(nn.AdaptiveLogSoftmaxWithLoss.__init__) == signature(torch.nn.AdaptiveLogSoftmaxWithLoss.__init__)


@pytest.mark.parametrize("bad,match", [
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, []), "cutoffs"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3]), "cutoffs"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [0, 3]), "cutoffs"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 10]), "cutoffs"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 3]), "cutoffs"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [2.5]), "cutoffs"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(T.ones(4, 8), T.tensor([0, 1, 2])), "batch dimension"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(T.ones(4, 2, 8), T.tensor([0, 1, 2, 3])), "2D input"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(T.ones(4, 8), T.tensor(1)), "1D input"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(T.ones(4, 8), T.zeros(4, 1, dtype=T.int64)),
     "multi-target"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(T.ones(2, 8), T.tensor([0, 10])), r"\[0, 9\]"),
    (lambda L, T: L.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(T.ones(2, 8), T.tensor([-1, 3])), "Target values"),
])
def test_bad_arguments(bad, match):
    same_error(bad, match)
