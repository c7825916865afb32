"""tinybptt.utils.checkpoint: gradients through checkpointed pieces equal a plain run's (inputs and the
parameters used inside, several outputs, dropout through the restored random state), against torch 2.13's
torch.utils.checkpoint in float64 for both variants, checkpoint_sequential, warnings and argument errors."""
import gc
import warnings
import weakref

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tcp

import tinybptt as tb
import tinybptt.nn as nn
from tinybptt.utils.checkpoint import checkpoint, checkpoint_sequential

MODES = [True, False]


def arr(t):
    return (t.detach().numpy() if isinstance(t, (tb.Tensor, torch.Tensor)) else np.asarray(t)).copy()


def both(*arrays):
    """Float64 leaves of both libraries holding the same values."""
    return ([tb.tensor(a, dtype=tb.float64, requires_grad=True) for a in arrays],
            [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays])


def torch_lstm(ours):
    """A torch LSTM with the weights of ``ours``."""
    theirs = torch.nn.LSTM(ours.input_size, ours.hidden_size, batch_first=ours.batch_first).double()
    theirs.load_state_dict({k: torch.tensor(arr(v)) for k, v in ours.state_dict().items()})
    return theirs


def flat(out):
    """(y, (h, c)) as (y, h, c): the reentrant variant differentiates only top-level outputs."""
    y, (h, c) = out
    return y, h, c


def lstm_windows(lstm, x, h, c, mode, lib, window=3):
    """Run ``lstm`` over x in windows of ``window`` steps carrying (h, c), each window checkpointed with
    ``use_reentrant=mode`` (None: not checkpointed); returns a scalar loss."""
    ck = checkpoint if lib is tb else tcp.checkpoint
    ys = []
    for t in range(0, x.shape[1], window):
        piece = x[:, t:t + window]
        if mode is None:
            y, (h, c) = lstm(piece, (h, c))
        else:
            y, h, c = ck(lambda p, h0, c0: flat(lstm(p, (h0, c0))), piece, h, c, use_reentrant=mode)
        ys.append(y)
    return (lib.cat(ys, 1).tanh() ** 2).sum() + (h * c).sum()


@pytest.mark.parametrize("mode", MODES)
def test_lstm_windows_same_gradients_as_plain_run_and_torch(mode):
    rng = np.random.default_rng(0)
    lstm = nn.LSTM(3, 5, batch_first=True).double()
    tlstm = torch_lstm(lstm)
    (x, h, c), (tx, th, tc) = both(rng.standard_normal((2, 8, 3)), rng.standard_normal((1, 2, 5)),
                                   rng.standard_normal((1, 2, 5)))
    plain = lstm_windows(lstm, x, h, c, None, tb)
    plain.backward()
    expected = [arr(x.grad), arr(h.grad), arr(c.grad)] + [arr(p.grad) for p in lstm.parameters()]
    for t in [x, h, c] + list(lstm.parameters()):
        t.grad = None
    loss = lstm_windows(lstm, x, h, c, mode, tb)
    loss.backward()
    got = [arr(x.grad), arr(h.grad), arr(c.grad)] + [arr(p.grad) for p in lstm.parameters()]
    assert loss.item() == plain.item()
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    tloss = lstm_windows(tlstm, tx, th, tc, mode, torch)
    tloss.backward()
    theirs = [tx.grad, th.grad, tc.grad] + [p.grad for p in tlstm.parameters()]
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    for a, b in zip(got, theirs):
        np.testing.assert_allclose(a, arr(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_masks_repeat_in_recomputation(mode):
    """With preserve_rng_state the recomputed dropout draws the forward's masks: gradients equal the plain
    run's; the random stream after backward is where it would be without checkpointing."""
    rng = np.random.default_rng(1)
    lstm, drop = nn.LSTM(4, 6, batch_first=True).double(), nn.Dropout(0.4)
    x = tb.tensor(rng.standard_normal((3, 6, 4)), requires_grad=True)

    def run(mode, preserve=True):
        tb.manual_seed(11)
        x.grad = None
        for p in lstm.parameters():
            p.grad = None
        h = c = tb.zeros(1, 3, 6, dtype=tb.float64)
        ys = []
        for t in range(0, 6, 2):
            def window(p, h0, c0):
                return flat(lstm(drop(p), (h0, c0)))
            if mode is None:
                y, h, c = window(x[:, t:t + 2], h, c)
            else:
                y, h, c = checkpoint(window, x[:, t:t + 2], h, c, use_reentrant=mode, preserve_rng_state=preserve)
            ys.append(y)
        (tb.cat(ys, 1) ** 2).sum().backward()
        after = tb.rand(3).numpy()
        return [arr(x.grad)] + [arr(p.grad) for p in lstm.parameters()], after

    plain, after_plain = run(None)
    got, after = run(mode)
    for a, b in zip(got, plain):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(after, after_plain)
    other, _ = run(mode, preserve=False)  # new masks in the recomputation: other gradients
    assert not all(np.array_equal(a, b) for a, b in zip(other, plain))


def fn_multi(x, w):
    """Several outputs, one of them unused later, and a non-tensor passed through."""
    a = (x @ w).tanh()
    return a * x.sum(), a.exp(), x * 3, "tag"


@pytest.mark.parametrize("mode", MODES)
def test_multiple_outputs_against_torch(mode):
    rng = np.random.default_rng(2)
    (x, w), (tx, tw) = both(rng.standard_normal((3, 4)), rng.standard_normal((4, 4)))
    y, e, x3, tag = checkpoint(fn_multi, x, w, use_reentrant=mode)
    ty, te, tx3, ttag = tcp.checkpoint(fn_multi, tx, tw, use_reentrant=mode)
    assert tag == ttag == "tag"
    for a, b in ((y, ty), (e, te), (x3, tx3)):
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-12)
    ((y ** 2).sum() + e.sum()).backward()  # x3 unused
    ((ty ** 2).sum() + te.sum()).backward()
    np.testing.assert_allclose(arr(x.grad), arr(tx.grad), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(w.grad), arr(tw.grad), rtol=1e-10, atol=1e-12)


def test_nested_outputs():
    """The recorded variant differentiates tensors nested in tuples, lists and dicts; the reentrant one
    (as PyTorch's) only top-level ones: an LSTM's (h, c) come back without gradient."""
    (x,), (tx,) = both(np.arange(3.0))
    lstm = nn.LSTM(3, 2).double()
    for lib, ck, inp, net in ((tb, checkpoint, x, lstm), (torch, tcp.checkpoint, tx, torch_lstm(lstm))):
        y, (h, c) = ck(lambda a: net(a.reshape(1, 1, 3)), inp, use_reentrant=True)
        assert (y.requires_grad, h.requires_grad, c.requires_grad) == (True, False, False)
        y, (h, c) = ck(lambda a: net(a.reshape(1, 1, 3)), inp, use_reentrant=False)
        assert (y.requires_grad, h.requires_grad, c.requires_grad) == (True, True, True)
        out = ck(lambda a: [a * 2], inp, use_reentrant=True)
        assert not out[0].requires_grad
    out = checkpoint(lambda a: {"k": [a * 2, (a.exp(),)]}, x, use_reentrant=False)
    (out["k"][0].sum() + out["k"][1][0].sum()).backward()
    np.testing.assert_allclose(arr(x.grad), 2 + np.exp(np.arange(3.0)))


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_through_checkpoint(mode):
    rng = np.random.default_rng(3)
    x = tb.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = tb.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert tb.gradcheck(lambda a, b: checkpoint(lambda p, q: (p @ q).sigmoid() * p, a, b, use_reentrant=mode)
                        .sum(0), (x, w))


def test_parameters_inside_without_grad_inputs():
    """Only parameters inside require grad: the recorded variant gives them gradients, the reentrant one
    (as PyTorch's) warns and returns outputs that do not require grad."""
    rng = np.random.default_rng(4)
    lin = nn.Linear(3, 2).double()
    tlin = torch.nn.Linear(3, 2).double()
    tlin.load_state_dict({k: torch.tensor(arr(v)) for k, v in lin.state_dict().items()})
    x = rng.standard_normal((4, 3))
    y = checkpoint(lambda a: lin(a).tanh(), tb.tensor(x), use_reentrant=False)
    ty = tcp.checkpoint(lambda a: tlin(a).tanh(), torch.tensor(x), use_reentrant=False)
    (y ** 3).sum().backward()
    (ty ** 3).sum().backward()
    np.testing.assert_allclose(arr(lin.weight.grad), arr(tlin.weight.grad), rtol=1e-10)
    np.testing.assert_allclose(arr(lin.bias.grad), arr(tlin.bias.grad), rtol=1e-10)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(lambda a: lin(a).tanh(), tb.tensor(x), use_reentrant=True)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        ty = tcp.checkpoint(lambda a: tlin(a).tanh(), torch.tensor(x), use_reentrant=True)
    assert y.requires_grad == ty.requires_grad == False  # noqa: E712


def test_autograd_grad_and_non_leaf_parameters():
    """The recorded variant works with autograd.grad and with a parameter computed outside the piece."""
    rng = np.random.default_rng(5)
    (x, v), (tx, tv) = both(rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))
    w, tw = v * 2, tv * 2  # not a leaf: its gradient must flow on to v

    def piece(lib_w):
        return lambda a: (a @ lib_w).sin() * a

    y = checkpoint(piece(w), x, use_reentrant=False)
    ty = tcp.checkpoint(piece(tw), tx, use_reentrant=False)
    gx, gv = tb.autograd.grad((y ** 2).sum(), (x, v))
    tgx, tgv = torch.autograd.grad((ty ** 2).sum(), (tx, tv))
    np.testing.assert_allclose(arr(gx), arr(tgx), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(gv), arr(tgv), rtol=1e-10, atol=1e-12)
    assert x.grad is None and v.grad is None


@pytest.mark.parametrize("mode", MODES)
def test_intermediates_are_not_kept(mode):
    """After the forward only the inputs and outputs live: an intermediate tensor is freed."""
    x = tb.randn(3, 3, dtype=tb.float64, requires_grad=True)
    w = tb.randn(3, 3, dtype=tb.float64, requires_grad=True)
    seen = []

    def piece(a, b):
        mid = (a @ b).tanh()
        seen.append(weakref.ref(mid))
        return mid * 2

    y = checkpoint(piece, x, w, use_reentrant=mode)
    gc.collect()
    assert seen[0]() is None
    assert type(y.grad_fn.fn).__name__ == "Checkpoint"
    y.sum().backward(retain_graph=True)
    first = arr(w.grad)
    y.sum().backward()  # the recomputation runs again for a second backward
    np.testing.assert_allclose(arr(w.grad), 2 * first)


@pytest.mark.parametrize("mode", MODES)
def test_hooks_on_inputs_and_parameters_run_once(mode):
    x = tb.randn(2, 3, dtype=tb.float64, requires_grad=True)
    w = tb.randn(3, 3, dtype=tb.float64, requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append("x"))
    w.register_hook(lambda g: calls.append("w"))
    checkpoint(lambda a: (a @ w).relu(), x, use_reentrant=mode).sum().backward()
    assert sorted(calls) == ["w", "x"]


def test_keyword_arguments():
    x = tb.randn(2, 2, dtype=tb.float64, requires_grad=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale,shift"):
        checkpoint(lambda a, scale, shift: a * scale + shift, x, use_reentrant=True, scale=2.0, shift=1.0)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        tcp.checkpoint(lambda a, scale: a * scale, torch.ones(2, requires_grad=True), use_reentrant=True, scale=2.0)
    y = checkpoint(lambda a, scale: (a * scale).exp(), x, use_reentrant=False, scale=3.0)
    y.sum().backward()
    np.testing.assert_allclose(arr(x.grad), 3 * np.exp(3 * arr(x)), rtol=1e-12)


def test_use_reentrant_none_warns_and_means_true():
    x = tb.randn(2, dtype=tb.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        y = checkpoint(lambda a: a * 2, x)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        tcp.checkpoint(lambda a: a * 2, torch.ones(2, requires_grad=True))
    assert type(y.grad_fn.fn).__name__ == "Checkpoint"
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint_sequential([nn.Tanh()], 1, x)


@pytest.mark.parametrize("mode", MODES)
def test_under_no_grad_just_runs(mode):
    x = tb.randn(2, dtype=tb.float64, requires_grad=True)
    with tb.no_grad():
        y = checkpoint(lambda a: a.exp(), x, use_reentrant=mode)
    assert not y.requires_grad
    np.testing.assert_allclose(arr(y), np.exp(arr(x)))


@pytest.mark.parametrize("segments", [1, 2, 3, 4])
@pytest.mark.parametrize("mode", MODES)
def test_checkpoint_sequential_against_plain_and_torch(segments, mode):
    rng = np.random.default_rng(6)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 5), nn.Sigmoid(), nn.Linear(5, 2)).double()
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 5), torch.nn.Sigmoid(),
                                 torch.nn.Linear(5, 2)).double()
    tmodel.load_state_dict({k: torch.tensor(arr(v)) for k, v in model.state_dict().items()})
    (x,), (tx,) = both(rng.standard_normal((3, 4)))
    (model(x) ** 2).sum().backward()
    plain = [arr(x.grad)] + [arr(p.grad) for p in model.parameters()]
    x.grad = None
    model.zero_grad()
    y = checkpoint_sequential(model, segments, x, use_reentrant=mode)
    ty = tcp.checkpoint_sequential(tmodel, segments, tx, use_reentrant=mode)
    (y ** 2).sum().backward()
    (ty ** 2).sum().backward()
    got = [arr(x.grad)] + [arr(p.grad) for p in model.parameters()]
    theirs = [arr(tx.grad)] + [arr(p.grad) for p in tmodel.parameters()]
    for a, b, c in zip(got, plain, theirs):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)
    as_list = checkpoint_sequential(list(model.children()), segments, x, use_reentrant=mode)
    np.testing.assert_array_equal(arr(as_list), arr(y))


def test_checkpoint_sequential_bad_keyword():
    x = tb.randn(2, dtype=tb.float64, requires_grad=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint_sequential([nn.Tanh()], 1, x, use_reentrant=False, foo=1)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        tcp.checkpoint_sequential([torch.nn.Tanh()], 1, torch.ones(2), use_reentrant=False, foo=1)


def test_reachable_as_attribute():
    assert tb.utils.checkpoint.checkpoint is checkpoint
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda a: a + 1, tb.ones(1, requires_grad=True), use_reentrant=False)
