"""Truncated BPTT (tinybptt.bptt): truncation is exact, carried state is exact, memory is bounded."""
import gc
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinybptt as tb
from tinybptt.bptt import stagger_offsets, tbptt, window_bounds
from tinybptt.nn.functional import mse_loss


# ------------------------------------------------------------------ helpers
class TinyRNN:
    """h_t = tanh(x_t W + h_{t-1} U + b), y_t = h_t V, built from the engine's primitives.

    With ``cell=True`` the state is a pair (h, c) with c_t = 0.5 c_{t-1} + h_t and y_t = (h_t + c_t) V,
    to exercise nested states.
    """

    def __init__(self, n_in=3, n_h=5, n_out=2, cell=False, seed=0, dtype=np.float64):
        r = np.random.default_rng(seed)
        self.arrays = [r.normal(0, 0.6, (n_in, n_h)), r.normal(0, 0.9 / np.sqrt(n_h), (n_h, n_h)),
                       r.normal(0, 0.1, n_h), r.normal(0, 0.5, (n_h, n_out))]
        self.params = [tb.tensor(a, dtype=dtype, requires_grad=True) for a in self.arrays]
        self.n_h, self.cell, self.dtype = n_h, cell, dtype

    def step(self, x, state):
        """(k, B, n_in) window and state -> ((k, B, n_out) outputs, state)."""
        W, U, b, V = self.params
        if state is None:
            z = tb.zeros(x.shape[1], self.n_h, dtype=self.dtype)
            state = (z, z) if self.cell else z
        h, c = state if self.cell else (state, None)
        outs = []
        for t in range(x.shape[0]):
            h = (x[t] @ W + h @ U + b).tanh()
            if self.cell:
                c = c * 0.5 + h
            outs.append((h + c if self.cell else h) @ V)
        return tb.stack(outs), ((h, c) if self.cell else h)


class Recorder:
    """An 'optimizer' that only records the gradients it is asked to step with."""

    def __init__(self, params):
        self.params = list(params)
        self.param_groups = [{"params": self.params}]
        self.grads = []

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads.append([None if p.grad is None else p.grad.numpy().copy() for p in self.params])


class SGD(Recorder):
    def __init__(self, params, lr):
        super().__init__(params)
        self.lr = lr

    def step(self):
        super().step()
        with tb.no_grad():
            for p in self.params:
                p.sub_(self.lr * p.grad._data)


def sum_loss(out, y):
    d = out - y
    return (d * d).sum()


def data(T, B, n_in=3, n_out=2, seed=1):
    r = np.random.default_rng(seed)
    return tb.tensor(r.normal(size=(T, B, n_in)), dtype=tb.float64), tb.tensor(r.normal(size=(T, B, n_out)),
                                                                                  dtype=tb.float64)


def full_states(model, x, state=None):
    """States after every step of one untruncated forward, without recording: states[t] is after t steps."""
    if state is None:
        z = tb.zeros(x.shape[1], model.n_h, dtype=model.dtype)
        state = (z, z) if model.cell else z
    states = [state]
    with tb.no_grad():
        for t in range(x.shape[0]):
            _, state = model.step(x[t:t + 1], state)
            states.append(state)
    return states


def as_np(state):
    return [s.detach().numpy() for s in (state if isinstance(state, tuple) else (state,))]


# ------------------------------------------------------------------ window bookkeeping
def test_window_bounds_and_offsets():
    assert window_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert window_bounds(10, 4, offset=1) == [(0, 1), (1, 5), (5, 9), (9, 10)]
    assert window_bounds(8, 4, offset=0) == [(0, 4), (4, 8)]
    assert window_bounds(3, 5, offset=4) == [(0, 3)]
    assert stagger_offsets(4, 8) == [0, 2, 4, 6]
    assert stagger_offsets(3, 2) == [0, 0, 1]
    for T, k, o in [(37, 6, 0), (37, 6, 5), (12, 12, 3), (5, 1, 0)]:
        w = window_bounds(T, k, o)
        assert w[0][0] == 0 and w[-1][1] == T and all(a[1] == b[0] for a, b in zip(w, w[1:]))
        assert all(0 < b - a <= k for a, b in w)
        assert all(a % k == o % k for a, _ in w[1:])
    # with one sequence per offset, every global time sits at every window position exactly once
    k, T = 5, 23
    for t in range(k, T):
        positions = [t - max(a for a, _ in window_bounds(T, k, o) if a <= t) for o in stagger_offsets(k, k)]
        assert sorted(positions) == list(range(k))


@settings(max_examples=20, deadline=None)
@given(T=st.integers(1, 14), k=st.integers(1, 6), offsets=st.lists(st.integers(0, 9), min_size=1, max_size=3))
def test_staggered_gradient_reaches_exactly_back_to_each_window_start(T, k, offsets):
    B = len(offsets)
    model = TinyRNN(n_in=2, n_h=3, n_out=1)
    x, y = data(T, B, n_in=2, n_out=1)
    x.requires_grad_(True)
    rec = Recorder([x])
    res = tbptt(model.step, x, y, k, sum_loss, rec, stagger=offsets)
    ends = list(range(k, T, k)) + [T]
    assert len(rec.grads) == len(ends)
    prev = 0
    for end, (gx,) in zip(ends, rec.grads):
        for b, o in enumerate(offsets):
            first = max(a for a, _ in window_bounds(T, k, o) if a <= prev)
            alive = np.abs(gx[:, b]).sum(axis=1) != 0
            np.testing.assert_array_equal(alive, (np.arange(T) >= first) & (np.arange(T) < end))
        prev = end
    np.testing.assert_array_equal(as_np(res.state)[0], as_np(full_states(model, x.detach())[-1])[0])


# ------------------------------------------------------------------ truncation is exact
def test_gradient_beyond_window_is_exactly_zero_and_matches_restart():
    T, B, k = 30, 2, 7
    model = TinyRNN()
    x, y = data(T, B)
    x.requires_grad_(True)
    rec = Recorder(model.params + [x])
    res = tbptt(model.step, x, y, k, sum_loss, rec)
    assert len(res.losses) == len(rec.grads) == 5
    states = full_states(model, x.detach())
    for (a, b), grads, loss in zip(window_bounds(T, k), rec.grads, res.losses):
        gx = grads[-1]
        assert np.all(gx[:a] == 0) and np.all(gx[b:] == 0)  # exactly zero outside the window
        assert np.all(np.abs(gx[a:b]).sum(axis=(1, 2)) > 0)  # ... and alive inside, back to its first step
        # the same window run by hand from the detached full-run state gives the same gradients
        for p in model.params:
            p.grad = None
        out, _ = model.step(x.detach()[a:b], states[a].detach())
        ref = sum_loss(out, y[a:b])
        ref.backward()
        assert loss == ref.item()
        for p, g in zip(model.params, grads):
            np.testing.assert_array_equal(g, p.grad.numpy())


@pytest.mark.parametrize("cell", [False, True])
@pytest.mark.parametrize("kw", [dict(k=10), dict(k=None, k1=4, k2=9), dict(k=6, stagger=True),
                                dict(k=5, stagger=[4, 0, 2]), dict(k=None, k1=3, k2=7, stagger=[2, 0, 1])])
def test_carried_state_equals_full_forward(cell, kw):
    T, B = 53, 3
    model = TinyRNN(cell=cell)
    x, y = data(T, B)
    r = np.random.default_rng(5)
    h0 = tb.tensor(r.normal(size=(B, model.n_h)))
    state0 = (h0, h0 * 0.5) if cell else h0
    kw = dict(kw)
    res = tbptt(model.step, x, y, kw.pop("k"), sum_loss, Recorder(model.params), state=state0, **kw)
    full = full_states(model, x, state0)[-1]
    for a, b in zip(as_np(res.state), as_np(full)):
        np.testing.assert_array_equal(a, b)
    for s in (res.state if cell else (res.state,)):
        assert s.grad_fn is None and not s.requires_grad


def test_k1_k2_gradients_match_hand_rolled_reference():
    T, B, k1, k2 = 23, 2, 3, 7
    model = TinyRNN()
    x, y = data(T, B)
    rec = Recorder(model.params)
    res = tbptt(model.step, x, y, None, sum_loss, rec, k1=k1, k2=k2)
    states = full_states(model, x)
    ends = list(range(k1, T, k1)) + [T]
    assert len(rec.grads) == len(ends)
    prev = 0
    for end, grads, loss in zip(ends, rec.grads, res.losses):
        start = max(0, prev - (k2 - k1))  # k2 back from the end of a full chunk
        for p in model.params:
            p.grad = None
        out, _ = model.step(x[start:end], states[start].detach())
        ref = sum_loss(out[prev - start:], y[prev:end])  # loss of the new steps, backprop through k2
        ref.backward()
        np.testing.assert_allclose(loss, ref.item(), rtol=1e-13)
        for p, g in zip(model.params, grads):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, atol=1e-14)
        prev = end


def torch_rnn_step(params, x, h):
    W, U, b, V = params
    outs = []
    for t in range(x.shape[0]):
        h = torch.tanh(x[t] @ W + h @ U + b)
        outs.append(h @ V)
    return torch.stack(outs), h


def test_k1_k2_training_matches_torch_reference():
    """With SGD steps between updates: replay from the saved state with the current weights, as documented."""
    T, B, k1, k2, lr = 29, 3, 4, 10, 0.02
    model = TinyRNN()
    x, y = data(T, B)
    res = tbptt(model.step, x, y, None, sum_loss, SGD(model.params, lr), k1=k1, k2=k2)

    tp = [torch.tensor(a, requires_grad=True) for a in model.arrays]
    tx, ty = torch.tensor(x.numpy()), torch.tensor(y.numpy())
    ends = list(range(k1, T, k1)) + [T]
    saved, prev, losses = torch.zeros(B, model.n_h, dtype=torch.float64), 0, []
    for i, end in enumerate(ends):
        start = max(0, prev - (k2 - k1))
        nxt = max(0, end - (k2 - k1)) if i + 1 < len(ends) else None
        h, outs = saved, []
        for t in range(start, end):
            if t == nxt:
                saved = h.detach()
            out, h = torch_rnn_step(tp, tx[t:t + 1], h)
            outs.append(out)
        loss = ((torch.cat(outs)[prev - start:] - ty[prev:end]) ** 2).sum()
        for p in tp:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in tp:
                p -= lr * p.grad
        losses.append(loss.item())
        prev = end
    np.testing.assert_allclose(res.losses, losses, rtol=1e-10)
    for p, q in zip(model.params, tp):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.state.numpy(), h.detach().numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ staggered windows
def test_staggered_windows_cut_each_sequence_at_its_own_boundaries():
    T, B, k = 26, 4, 6
    offsets = stagger_offsets(B, k)  # [0, 1, 3, 4]
    model = TinyRNN()
    x, y = data(T, B)
    x.requires_grad_(True)
    rec = Recorder(model.params + [x])
    tbptt(model.step, x, y, k, sum_loss, rec, stagger=True)
    ends = list(range(k, T, k)) + [T]
    states = full_states(model, x.detach())
    prev = 0
    for end, grads in zip(ends, rec.grads):
        ref = [np.zeros_like(g) for g in grads[:-1]]
        for b, o in enumerate(offsets):
            # sequence b's windows overlapping [prev, end): the gradient reaches back to their starts only
            wins = [(a, c) for a, c in window_bounds(T, k, o) if c > prev and a < end]
            alive = np.abs(grads[-1][:, b]).sum(axis=1) != 0
            expect = np.zeros(T, bool)
            expect[wins[0][0]:end] = True
            np.testing.assert_array_equal(alive, expect)
            for a, c in wins:  # each window by hand, batch of one, loss of its steps inside [prev, end)
                lo, hi = max(a, prev), min(c, end)
                for p in model.params:
                    p.grad = None
                out, _ = model.step(x.detach()[a:hi, b:b + 1], states[a].detach()[b:b + 1])
                sum_loss(out[lo - a:], y[lo:hi, b:b + 1]).backward()
                for r, p in zip(ref, model.params):
                    r += p.grad.numpy()
        for g, r in zip(grads, ref):
            np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-13)
        prev = end


@pytest.mark.parametrize("cell", [False, True])
@pytest.mark.parametrize("k1, k2, offsets", [(3, 7, [0, 1, 2, 2]), (4, 6, [3, 0, 1]), (2, 9, [1, 0]),
                                             (5, 6, [0, 0, 4])])
def test_staggered_k1_k2_reaches_back_k2_minus_k1_before_each_sequence_boundary(cell, k1, k2, offsets):
    T, B, back = 23, len(offsets), k2 - k1
    model = TinyRNN(cell=cell)
    x, y = data(T, B)
    x.requires_grad_(True)
    rec = Recorder(model.params + [x])
    res = tbptt(model.step, x, y, None, sum_loss, rec, k1=k1, k2=k2, stagger=offsets)
    ends = list(range(k1, T, k1)) + [T]
    assert len(res.losses) == len(rec.grads) == len(ends)
    states = full_states(model, x.detach())  # the weights never change: the carried states are these
    prev = 0
    for end, grads, loss in zip(ends, rec.grads, res.losses):
        ref, ref_loss = [np.zeros_like(g) for g in grads[:-1]], 0.0
        for b, o in enumerate(offsets):
            bounds = np.asarray([a for a, _ in window_bounds(T, k1, o)])
            cut = {j: max(0, int(bounds[bounds <= j].max()) - back) for j in range(prev, end)}
            alive = np.abs(grads[-1][:, b]).sum(axis=tuple(range(1, grads[-1].ndim - 1))) != 0
            expect = np.zeros(T, bool)
            expect[cut[prev]:end] = True
            np.testing.assert_array_equal(alive, expect)  # exactly back to the earliest cut, no further
            for c in sorted(set(cut.values())):  # the losses with one cut, by hand, batch of one
                js = [j for j in cut if cut[j] == c]
                for p in model.params:
                    p.grad = None
                start = tuple(s.detach()[b:b + 1] for s in states[c]) if cell else states[c].detach()[b:b + 1]
                out, _ = model.step(x.detach()[c:max(js) + 1, b:b + 1], start)
                part = sum_loss(out[min(js) - c:], y[min(js):max(js) + 1, b:b + 1])
                part.backward()
                ref_loss += part.item()
                for r, p in zip(ref, model.params):
                    r += p.grad.numpy()
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        for g, r in zip(grads, ref):
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)
        prev = end
    np.testing.assert_allclose(as_np(res.state)[0], as_np(states[-1])[0], rtol=1e-12)


def test_staggered_k1_k2_time_dim_one_and_plain_offsets_agree():
    T, B = 19, 3
    model = TinyRNN()
    x, y = data(T, B)

    def step_bf(xb, h):
        out, h = model.step(xb.transpose(0, 1), h)
        return out.transpose(0, 1), h

    rec1, rec2 = Recorder(model.params), Recorder(model.params)
    r1 = tbptt(model.step, x, y, None, sum_loss, rec1, k1=3, k2=8, stagger=True)
    r2 = tbptt(step_bf, x.transpose(0, 1), y.transpose(0, 1), None, sum_loss, rec2, k1=3, k2=8, stagger=True,
               time_dim=1)
    np.testing.assert_allclose(r1.losses, r2.losses, rtol=1e-13)
    for g1, g2 in zip(rec1.grads, rec2.grads):
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    # all offsets 0: the k1/k2 form without staggering
    rec3, rec4 = Recorder(model.params), Recorder(model.params)
    r3 = tbptt(model.step, x, y, None, sum_loss, rec3, k1=3, k2=8, stagger=[0] * B)
    r4 = tbptt(model.step, x, y, None, sum_loss, rec4, k1=3, k2=8)
    np.testing.assert_allclose(r3.losses, r4.losses, rtol=1e-13)
    for g3, g4 in zip(rec3.grads, rec4.grads):
        for a, b in zip(g3, g4):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_time_dim_one_matches_time_major():
    T, B, k = 17, 3, 5
    model = TinyRNN()
    x, y = data(T, B)

    def step_bf(xb, h):
        out, h = model.step(xb.transpose(0, 1), h)
        return out.transpose(0, 1), h

    r1 = tbptt(model.step, x, y, k, sum_loss, Recorder(model.params), stagger=True)
    rec = Recorder(model.params)
    r2 = tbptt(step_bf, x.transpose(0, 1), y.transpose(0, 1), k, sum_loss, rec, stagger=True, time_dim=1)
    np.testing.assert_allclose(r1.losses, r2.losses, rtol=1e-13)
    np.testing.assert_allclose(r1.state.numpy(), r2.state.numpy(), rtol=1e-13)


# ------------------------------------------------------------------ memory
def _peak(fn):
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("form, short_steps", [(dict(), 50), (dict(k1=10, k2=50, stagger=True), 200)],
                         ids=["windows", "staggered-k1-k2"])
def test_memory_is_bounded_by_the_window(form, short_steps):
    B, H, k = 8, 64, 50
    tb.manual_seed(0)
    rnn = tb.nn.RNN(4, H, dtype=tb.float64)
    head = tb.nn.Linear(H, 4, dtype=tb.float64)

    def step(xw, h):
        out, h = rnn(xw, h)
        return head(out), h

    x, y = data(2000, B, n_in=4, n_out=4)
    x50, y50 = x[:short_steps].detach(), y[:short_steps].detach()
    tbptt(step, x[:8], y[:8], 4, sum_loss)  # warm up (numba kernels compile once)
    short = _peak(lambda: tbptt(step, x50, y50, k, sum_loss, **form))
    long = _peak(lambda: tbptt(step, x, y, k, sum_loss, **form))
    full = _peak(lambda: tbptt(step, x, y, 2000, sum_loss))
    assert long < 2 * short, (short, long)
    assert full > 10 * short, (short, full)


# ------------------------------------------------------------------ training and options
def test_training_with_tbptt_reduces_loss():
    T, B = 120, 8
    model = TinyRNN(n_in=1, n_h=8, n_out=1, seed=3)
    r = np.random.default_rng(0)
    xs = r.normal(size=(T, B, 1))
    ys = np.concatenate([np.zeros((2, B, 1)), xs[:-2]])  # echo the input of two steps before
    x, y = tb.tensor(xs, dtype=tb.float64), tb.tensor(ys, dtype=tb.float64)
    opt = SGD(model.params, lr=0.05)
    epochs = []
    for _ in range(30):
        res = tbptt(model.step, x, y, 10, mse_loss, opt, clip=1.0)
        epochs.append(np.mean(res.losses))
    assert epochs[-1] < 0.3 * epochs[0], epochs


def test_clip_is_applied_before_each_step():
    model = TinyRNN()
    x, y = data(20, 2)
    x = x * 10
    rec = Recorder(model.params)
    tbptt(model.step, x, y, 5, sum_loss, rec, clip=0.5)
    assert len(rec.grads) == 4
    for grads in rec.grads:
        assert np.sqrt(sum((g ** 2).sum() for g in grads)) <= 0.5 + 1e-9


def test_without_optimizer_gradients_accumulate():
    model = TinyRNN()
    x, y = data(12, 2)
    tbptt(model.step, x, y, 4, sum_loss)
    acc = [p.grad.numpy().copy() for p in model.params]
    rec = Recorder(model.params)
    tbptt(model.step, x, y, 4, sum_loss, rec)
    for a, gs in zip(acc, zip(*rec.grads)):
        np.testing.assert_allclose(a, sum(gs), rtol=1e-12)


def test_bad_arguments_raise_clear_errors():
    model = TinyRNN()
    x, y = data(10, 2)
    with pytest.raises(ValueError, match="k2"):
        tbptt(model.step, x, y, None, sum_loss, k1=5, k2=3)
    with pytest.raises(ValueError, match="window length"):
        tbptt(model.step, x, y, None, sum_loss)
    with pytest.raises(ValueError, match="positive"):
        tbptt(model.step, x, y, 0, sum_loss)
    with pytest.raises(ValueError, match="targets"):
        tbptt(model.step, x, y[:5], 3, sum_loss)
    with pytest.raises(ValueError, match="offsets"):
        tbptt(model.step, x, y, 3, sum_loss, stagger=[0, 1, 2])
    with pytest.raises(ValueError, match="clip"):
        tbptt(model.step, x, y, 3, sum_loss, clip=1.0)


# ------------------------------------------------------------------ with the nn layers
def layer_step(layer, head):
    def step(xw, state):
        out, state = layer(xw, state)
        return head(out), state
    return step


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("kw", [dict(k=7), dict(k=None, k1=3, k2=8), dict(k=6, stagger=True),
                                dict(k=None, k1=3, k2=8, stagger=True)])
@pytest.mark.parametrize("layers", [1, 2])
def test_nn_layers_carried_state_equals_full_run(mode, kw, layers):
    T, B, H = 40, 5, 6
    tb.manual_seed(1)
    layer = getattr(tb.nn, mode)(3, H, num_layers=layers, dtype=tb.float64)
    head = tb.nn.Linear(H, 2, dtype=tb.float64)
    x, y = data(T, B)
    r = np.random.default_rng(2)
    h0 = tb.tensor(r.normal(size=(layers, B, H)))
    state0 = (h0, h0 * 0.3) if mode == "LSTM" else h0
    kw = dict(kw)
    params = list(layer.parameters()) + list(head.parameters())
    res = tbptt(layer_step(layer, head), x, y, kw.pop("k"), sum_loss, Recorder(params), state=state0, **kw)
    with tb.no_grad():
        _, full = layer(x, state0)
    for a, b in zip(as_np(res.state), as_np(full)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_nn_lstm_window_gradients_match_torch_tbptt():
    T, B, H, k = 23, 3, 5, 6
    tb.manual_seed(3)
    lstm = tb.nn.LSTM(3, H, dtype=tb.float64)
    head = tb.nn.Linear(H, 2, dtype=tb.float64)
    x, y = data(T, B)
    params = list(lstm.parameters()) + list(head.parameters())
    rec = Recorder(params)
    res = tbptt(layer_step(lstm, head), x, y, k, mse_loss, rec)

    tl, th = torch.nn.LSTM(3, H).double(), torch.nn.Linear(H, 2).double()
    tl.load_state_dict({n: torch.tensor(v) for n, v in lstm.state_dict().items()})
    th.load_state_dict({n: torch.tensor(v) for n, v in head.state_dict().items()})
    tx, ty = torch.tensor(x.numpy()), torch.tensor(y.numpy())
    state = None
    for (a, b), grads, loss in zip(window_bounds(T, k), rec.grads, res.losses):
        tl.zero_grad()
        th.zero_grad()
        out, state = tl(tx[a:b], state)
        ref = torch.nn.functional.mse_loss(th(out), ty[a:b])
        ref.backward()
        state = tuple(s.detach() for s in state)
        np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
        tgrads = [p.grad.numpy() for p in list(tl.parameters()) + list(th.parameters())]
        for g, t in zip(grads, tgrads):
            np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.state[0].numpy(), state[0].numpy(), rtol=1e-12)


def test_nn_gru_batch_first_staggered_training():
    T, B, H = 60, 4, 8
    tb.manual_seed(4)
    gru = tb.nn.GRU(1, H, batch_first=True)
    head = tb.nn.Linear(H, 1)
    r = np.random.default_rng(0)
    xs = r.normal(size=(B, T, 1)).astype(np.float32)
    ys = np.concatenate([np.zeros((B, 1, 1), np.float32), xs[:, :-1]], axis=1)  # echo the previous input
    x, y = tb.tensor(xs), tb.tensor(ys)
    opt = tb.optim.Adam(list(gru.parameters()) + list(head.parameters()), lr=0.02)
    first = None
    for _ in range(15):
        res = tbptt(layer_step(gru, head), x, y, 8, mse_loss, opt, stagger=True, clip=1.0, time_dim=1)
        first = first if first is not None else np.mean(res.losses)
    assert np.mean(res.losses) < 0.3 * first
    assert res.state.shape == (1, B, H) and res.state.grad_fn is None


def test_docstring_examples_run():
    import doctest
    import tinybptt.bptt
    assert tb.bptt is tinybptt.bptt
    result = doctest.testmod(tinybptt.bptt)
    assert result.attempted > 0 and result.failed == 0


def _torch_tbptt(tl, th, x, y, k1, k2, offsets, opt, clip):
    """The documented semantics by hand in torch: each update replays its span from a detached saved
    state (saved under the weights of the update that computed it); with ``offsets`` every sequence
    runs alone (they are independent), from its own last window start, cut at its own boundaries."""
    T, B = x.shape[:2]
    ends = list(range(k1, T, k1)) + [T]
    bounds = [[0] + list(range(o % k1 or k1, T, k1)) for o in offsets] if offsets else [None]
    seqs = range(B) if offsets else [None]
    saved, prev, losses, finals = {b: None for b in seqs}, 0, [], {}
    detach = lambda s: None if s is None else tuple(z.detach() for z in s)
    params = list(tl.parameters()) + list(th.parameters())
    for i, end in enumerate(ends):
        opt.zero_grad()
        outs, next_saved = [], dict(saved)
        for b in seqs:
            cols = slice(None) if b is None else slice(b, b + 1)
            if b is None:
                start, save_at, cuts = max(0, prev - (k2 - k1)), max(0, end - (k2 - k1)), ()
            else:
                start, save_at = max(u for u in bounds[b] if u <= prev), max(u for u in bounds[b] if u <= end)
                cuts = bounds[b]
            h, mine = saved[b], []
            for t in range(start, end + 1):
                if t in cuts and t != start:
                    h = detach(h)
                if t == save_at and i + 1 < len(ends):
                    next_saved[b] = detach(h)
                if t < end:
                    o, h = tl(x[t:t + 1, cols], h)
                    if t >= prev:
                        mine.append(o)
            outs.append(torch.cat(mine))
            finals[b] = h
        loss = torch.nn.functional.mse_loss(th(torch.cat(outs, 1)), y[prev:end])
        loss.backward()
        losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        saved, prev = next_saved, end
    return losses, tuple(torch.cat([finals[b][j] for b in seqs], 1).detach() for j in range(2))


@pytest.mark.parametrize("form", [dict(k=5, k1=3, k2=7), dict(k=4, stagger=True), dict(k=4, stagger=[3, 0, 6])])
def test_nn_lstm_training_matches_torch_loop(form):
    """Losses, final state and weights after SGD + clipping, for the k1/k2 and staggered forms."""
    T, B, H = 19, 3, 4
    tl, th = torch.nn.LSTM(3, H, num_layers=2).double(), torch.nn.Linear(H, 2).double()
    lstm, head = tb.nn.LSTM(3, H, num_layers=2, dtype=tb.float64), tb.nn.Linear(H, 2, dtype=tb.float64)
    lstm.load_state_dict({n: v.detach().numpy().copy() for n, v in tl.state_dict().items()})
    head.load_state_dict({n: v.detach().numpy().copy() for n, v in th.state_dict().items()})
    x, y = data(T, B)
    params = list(lstm.parameters()) + list(head.parameters())
    res = tbptt(layer_step(lstm, head), x, y, loss_fn=mse_loss, optimizer=tb.optim.SGD(params, lr=0.5), clip=0.1,
                **form)

    k1, k2 = form.get("k1", form["k"]), form.get("k2", form["k"])
    stagger = form.get("stagger")
    offsets = stagger_offsets(B, k1) if stagger is True else stagger
    topt = torch.optim.SGD(list(tl.parameters()) + list(th.parameters()), lr=0.5)
    losses, state = _torch_tbptt(tl, th, torch.tensor(x.numpy()), torch.tensor(y.numpy()), k1, k2, offsets, topt,
                                 0.1)
    np.testing.assert_allclose(res.losses, losses, rtol=1e-10)
    for a, b in zip(res.state, state):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    for p, q in zip(params, list(tl.parameters()) + list(th.parameters())):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_detach_in_place_of_hidden_state_matches_torch_and_views_raise():
    """The PyTorch TBPTT idiom ``for h in hidden: h.detach_()`` trains as torch does; detach_ of a view of a
    graph tensor (out[-1], h.squeeze(0), ...) raises torch's RuntimeError."""
    tl = torch.nn.LSTM(3, 4, num_layers=2).double()
    lstm = tb.nn.LSTM(3, 4, num_layers=2, dtype=tb.float64)
    lstm.load_state_dict(tl.state_dict())
    x = np.random.RandomState(0).randn(12, 2, 3)
    runs = []
    for lib, m in ((torch, tl), (tb, lstm)):
        opt, hidden, losses = lib.optim.SGD(m.parameters(), lr=0.3), None, []
        for s in range(0, 12, 4):
            if hidden is not None:
                for h in hidden:
                    h.detach_()
            opt.zero_grad()
            out, hidden = m(lib.tensor(x[s:s + 4]), hidden)
            loss = (out ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        runs.append((losses, [p.detach().numpy() for p in m.parameters()]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-10)
    for a, b in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for lib in (torch, tb):
        y = lib.randn(3, 2, requires_grad=True) * 2
        for view in (y[-1], y.reshape(6), y.unsqueeze(0), y.T):
            with pytest.raises(RuntimeError, match="Can't detach views in-place"):
                view.detach_()
        z = y * 1
        assert z.detach_() is z and not z.requires_grad and z.grad_fn is None
