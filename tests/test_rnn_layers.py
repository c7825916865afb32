"""nn.RNN / LSTM / GRU layers: shapes, gradients, fused == unfused, BPTT reference, lengths, scopes."""
import warnings

import numpy as np
import pytest

import tinybptt as tb
from tinybptt import nn

LAYERS = {"rnn_tanh": lambda *a, **kw: nn.RNN(*a, **kw),
          "rnn_relu": lambda *a, **kw: nn.RNN(*a, nonlinearity="relu", **kw),
          "rnn_residual": lambda *a, **kw: nn.RNN(*a, residual=True, **kw),
          "lstm": nn.LSTM, "gru": nn.GRU}


def params_as_inputs(layer):
    """(names, fresh leaf copies of the parameters) for gradcheck."""
    names = [n for n, _ in layer.named_parameters()]
    return names, [tb.tensor(p.detach().numpy(), requires_grad=True) for _, p in layer.named_parameters()]


def run_with(layer, names, lengths=None, n_state=0):
    lstm = isinstance(layer, nn.LSTM)

    def run(x, *rest):
        for name, p in zip(names, rest[n_state:]):
            layer._parameters[name] = p
        hx = None if not n_state else (tuple(rest[:2]) if lstm else rest[0])
        out, h = layer(x, hx, lengths=lengths)
        return (out, *h) if lstm else (out, h)
    return run


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, False, True), (3, True, False),
                                                      (2, True, True)])
def test_shapes(kind, layers, bidir, batch_first):
    m = LAYERS[kind](5, 7, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    d = 2 if bidir else 1
    x = tb.randn(*((3, 6) if batch_first else (6, 3)), 5)
    out, h = m(x)
    assert out.shape == ((3, 6, 7 * d) if batch_first else (6, 3, 7 * d))
    for s in (h if kind == "lstm" else (h,)):
        assert s.shape == (layers * d, 3, 7)  # batch in the middle even with batch_first
    # unbatched: (T, I) in, (T, D*H) and (L*D, H) out
    out, h = m(tb.randn(6, 5))
    assert out.shape == (6, 7 * d)
    assert all(s.shape == (layers * d, 7) for s in (h if kind == "lstm" else (h,)))
    names = [n for n, _ in m.named_parameters()]
    want = [f"{w}_l{k}{sfx}" for k in range(layers) for sfx in ([""] + (["_reverse"] if bidir else []))
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == want
    g = {"rnn_tanh": 1, "lstm": 4, "gru": 3}[kind]
    assert m.weight_ih_l0.shape == (g * 7, 5) and m.weight_hh_l0.shape == (g * 7, 7)
    if layers > 1:
        assert getattr(m, "weight_ih_l1").shape == (g * 7, 7 * d)


def test_unbatched_equals_batch_of_one(rng):
    m = nn.GRU(4, 5, num_layers=2, bidirectional=True, dtype=tb.float64)
    x, h0 = rng.standard_normal((6, 4)), rng.standard_normal((4, 5))
    out1, h1 = m(tb.tensor(x), tb.tensor(h0))
    out2, h2 = m(tb.tensor(x[:, None]), tb.tensor(h0[:, None]))
    np.testing.assert_allclose(out1.detach().numpy(), out2.detach().numpy()[:, 0])
    np.testing.assert_allclose(h1.detach().numpy(), h2.detach().numpy()[:, 0])


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("fused,layers,bidir", [(True, 1, False), (False, 1, False), (True, 2, True)])
def test_gradcheck_layers(kind, fused, layers, bidir, rng):
    """(The unfused stacked bidirectional case is covered by fused == unfused to 1e-10.)"""
    m = LAYERS[kind](2, 3, num_layers=layers, bidirectional=bidir, fused=fused, dtype=tb.float64)
    names, params = params_as_inputs(m)
    d = 2 if bidir else 1
    x = tb.tensor(rng.standard_normal((4 if layers == 1 else 3, 2, 2)), requires_grad=True)
    states = [tb.tensor(rng.standard_normal((layers * d, 2, 3)), requires_grad=True)
              for _ in range(2 if kind == "lstm" else 1)]
    assert tb.gradcheck(run_with(m, names, n_state=len(states)), (x, *states, *params), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_gradcheck_with_lengths_and_batch_first(kind, rng):
    m = LAYERS[kind](2, 3, bidirectional=True, batch_first=True, dtype=tb.float64)
    names, params = params_as_inputs(m)
    x = tb.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    assert tb.gradcheck(run_with(m, names, lengths=[4, 1, 3]), (x, *params), atol=1e-6, rtol=1e-5)


def grads_of(m, x, hx=None, lengths=None, seed=0):
    """Output, final state and every gradient of a fixed random projection of (output, h_n)."""
    m.zero_grad()
    xs = tb.tensor(x, requires_grad=True)
    hs = None if hx is None else [tb.tensor(h, requires_grad=True) for h in hx]
    out, h = m(xs, None if hs is None else (tuple(hs) if len(hs) == 2 else hs[0]), lengths=lengths)
    finals = h if isinstance(h, tuple) else (h,)
    r = np.random.default_rng(seed)
    loss = sum((t * tb.tensor(r.standard_normal(t.shape))).sum() for t in (out, *finals))
    loss.backward()
    grads = [xs.grad.numpy()] + ([h.grad.numpy() for h in hs] if hs else []) + \
        [p.grad.numpy() for p in m.parameters()]
    return [out.detach().numpy()] + [f.detach().numpy() for f in finals] + grads


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, True, True), (3, False, False)])
@pytest.mark.parametrize("use_lengths", [False, True])
def test_fused_equals_unfused(kind, layers, bidir, batch_first, use_lengths, rng):
    m = LAYERS[kind](4, 5, num_layers=layers, bidirectional=bidir, batch_first=batch_first, dtype=tb.float64)
    x = rng.standard_normal((3, 7, 4) if batch_first else (7, 3, 4))
    d = 2 if bidir else 1
    hx = [rng.standard_normal((layers * d, 3, 5)) for _ in range(2 if kind == "lstm" else 1)]
    lengths = [7, 2, 5] if use_lengths else None
    m.fused = True
    a = grads_of(m, x, hx, lengths)
    m.fused = False
    b = grads_of(m, x, hx, lengths)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-10)


def test_tanh_rnn_gradient_against_numpy_bptt(rng):
    """dh_t = dl_t/dh_t + W^T diag(phi'(a_{t+1})) dh_{t+1}, written here with numpy, for all parameters."""
    T, B, I, H = 9, 2, 3, 4
    m = nn.RNN(I, H, dtype=tb.float64)
    with tb.no_grad():
        m.weight_hh_l0.copy_(rng.standard_normal((H, H)) * 0.6)
    x, h0 = rng.standard_normal((T, B, I)), rng.standard_normal((1, B, H))
    v = rng.standard_normal((T, B, H))  # loss = sum_t <v_t, h_t>, so dl_t/dh_t = v_t
    for fused in (True, False):
        m.fused = fused
        m.zero_grad()
        xs, hs = tb.tensor(x, requires_grad=True), tb.tensor(h0, requires_grad=True)
        out, _ = m(xs, hs)
        (out * tb.tensor(v)).sum().backward()

        U, W, b1, b2 = (p.detach().numpy() for p in m.parameters())  # U = W_ih, W = W_hh
        h = [h0[0]]
        for t in range(T):
            h.append(np.tanh(x[t] @ U.T + b1 + h[-1] @ W.T + b2))
        dh = [None] * T  # dh[t] = dL/dh_{t+1} (h[t + 1] is the output at step t)
        da_next = np.zeros((B, H))
        for t in reversed(range(T)):
            dh[t] = v[t] + da_next @ W  # W^T diag(phi'(a_{t+1})) dh_{t+1}, row-vector form
            da_next = dh[t] * (1 - h[t + 1] ** 2)
            dh[t] = da_next
        da = np.stack(dh)  # dL/da_t
        np.testing.assert_allclose(m.weight_ih_l0.grad.numpy(), np.einsum("tbh,tbi->hi", da, x), atol=1e-12)
        np.testing.assert_allclose(m.weight_hh_l0.grad.numpy(), np.einsum("tbh,tbk->hk", da, np.stack(h[:-1])),
                                   atol=1e-12)
        np.testing.assert_allclose(m.bias_ih_l0.grad.numpy(), da.sum((0, 1)), atol=1e-12)
        np.testing.assert_allclose(m.bias_hh_l0.grad.numpy(), da.sum((0, 1)), atol=1e-12)
        np.testing.assert_allclose(xs.grad.numpy(), da @ U, atol=1e-12)
        np.testing.assert_allclose(hs.grad.numpy()[0], da[0] @ W, atol=1e-12)


@pytest.mark.parametrize("cls,bidir", [(nn.LSTM, False), (nn.GRU, True)])
def test_backward_from_an_early_output_and_accumulation(cls, bidir, rng):
    """Steps the walk never reaches add nothing; a second backward accumulates, as for any op."""
    m = cls(3, 4, bidirectional=bidir, dtype=tb.float64)
    x = tb.tensor(rng.standard_normal((6, 2, 3)))
    ref = cls(3, 4, bidirectional=bidir, dtype=tb.float64, fused=False)
    ref.load_state_dict(m.state_dict())
    out, _ = m(x)
    out_r, _ = ref(x)
    out[2].sum().backward(retain_graph=True)
    out_r[2].sum().backward(retain_graph=True)
    for p, q in zip(m.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12)
    out.sum().backward()
    out_r.sum().backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12)
    with pytest.raises(RuntimeError, match="second time"):
        out.sum().backward()


def test_frozen_weights_and_no_grad(rng):
    m = nn.GRU(3, 4)
    m.weight_hh_l0.requires_grad_(False)
    m.bias_hh_l0.requires_grad_(False)
    out, h = m(tb.randn(5, 2, 3))
    out.sum().backward()
    assert m.weight_hh_l0.grad is None and m.weight_ih_l0.grad is not None
    with tb.no_grad():
        out, h = m(tb.randn(5, 2, 3))
    assert out.grad_fn is None and not h.requires_grad


# ---------------------------------------------------------------- lengths
@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize("bidir", [False, True])
def test_lengths_match_running_each_sequence_alone(kind, bidir, rng):
    m = LAYERS[kind](3, 4, num_layers=2, bidirectional=bidir, dtype=tb.float64)
    lengths = [5, 2, 4]
    x = rng.standard_normal((5, 3, 3))
    x_garbage = x.copy()
    for b, n in enumerate(lengths):
        x_garbage[n:, b] = 1e3 * rng.standard_normal((5 - n, 3))  # padding values change nothing
    xs = tb.tensor(x_garbage, requires_grad=True)
    out, h = m(xs, lengths=tb.tensor(lengths))
    finals = h if isinstance(h, tuple) else (h,)
    (out.sum() + sum(f.sum() for f in finals)).backward()
    grads = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}

    m.zero_grad()
    total = {n: 0 for n in grads}
    for b, n in enumerate(lengths):
        xb = tb.tensor(x[:n, b:b + 1], requires_grad=True)
        out_b, h_b = m(xb)
        finals_b = h_b if isinstance(h_b, tuple) else (h_b,)
        np.testing.assert_allclose(out.detach().numpy()[:n, b], out_b.detach().numpy()[:, 0], atol=1e-12)
        assert np.all(out.detach().numpy()[n:, b] == 0)  # outputs past the end are zero
        for f, fb in zip(finals, finals_b):
            np.testing.assert_allclose(f.detach().numpy()[:, b], fb.detach().numpy()[:, 0], atol=1e-12)
        m.zero_grad()
        (out_b.sum() + sum(f.sum() for f in finals_b)).backward()
        np.testing.assert_allclose(xs.grad.numpy()[:n, b], xb.grad.numpy()[:, 0], atol=1e-12)
        assert np.all(xs.grad.numpy()[n:, b] == 0)  # no gradient reaches the padding
        for name, p in m.named_parameters():
            total[name] = total[name] + p.grad.numpy()
    for name in grads:
        np.testing.assert_allclose(grads[name], total[name], atol=1e-10)


def test_lengths_errors():
    m = nn.LSTM(3, 4)
    x = tb.randn(5, 2, 3)
    with pytest.raises(ValueError, match="one length per sequence"):
        m(x, lengths=[5])
    with pytest.raises(ValueError, match="greater than 0"):
        m(x, lengths=[5, 0])
    with pytest.raises(ValueError, match="longer than"):
        m(x, lengths=[6, 1])


# ---------------------------------------------------------------- scopes, records, dropout
def test_every_step_is_scoped_and_fused_step_is_one_record():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    out, _ = m(tb.randn(5, 2, 3))
    nodes, stack = {}, [out.grad_fn]
    while stack:
        n = stack.pop()
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        stack.extend(x.grad_fn for x in n.inputs if x is not None and x.grad_fn is not None)
    cells = [n for n in nodes.values() if n.name == "LSTMCell"]
    assert len(cells) == 2 * 2 * 5
    assert {n.scope for n in cells} == {f"lstm.l{k}.{d}/t={t}" for k in range(2) for d in ("fwd", "bwd")
                                        for t in range(5)}
    assert all(n.scope.count("/t=") <= 1 for n in nodes.values())
    # in a step scope there is nothing but the cell record
    assert all(n.name == "LSTMCell" for n in nodes.values() if "/t=" in n.scope)
    # the backward direction runs from the last step to the first
    bwd = sorted((n for n in cells if n.scope.startswith("lstm.l0.bwd")), key=lambda n: n.position)
    assert [n.scope for n in bwd] == [f"lstm.l0.bwd/t={t}" for t in range(4, -1, -1)]

    m.name = "encoder"
    m.fused = False
    out, _ = m(tb.randn(5, 2, 3))
    assert out.grad_fn is not None
    seen, stack, scopes = set(), [out.grad_fn], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        scopes.add(n.scope)
        stack.extend(x.grad_fn for x in n.inputs if x is not None and x.grad_fn is not None)
    assert "encoder.l1.bwd/t=0" in scopes and "encoder.l0.fwd/t=4" in scopes


def test_default_names():
    assert (nn.RNN(2, 3).name, nn.LSTM(2, 3).name, nn.GRU(2, 3).name) == ("rnn", "lstm", "gru")


def test_dropout_between_layers_only_in_training(rng):
    x = tb.tensor(rng.standard_normal((4, 2, 3)).astype(np.float32))
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c, _ = m(x)
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        one = nn.GRU(3, 4, dropout=0.5)
    assert any("num_layers greater than 1" in str(x.message) for x in w)
    one.load_state_dict({k: v for k, v in m.state_dict().items() if k.endswith("l0")})
    one.train()
    o1, _ = one(x)
    one.eval()
    o2, _ = one(x)
    np.testing.assert_array_equal(o1.detach().numpy(), o2.detach().numpy())  # no dropout after the last layer


def test_layer_errors_like_pytorch():
    m = nn.LSTM(8, 20)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 8, got 5"):
        m(tb.zeros(4, 3, 5))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 20\), got \[1, 2, 20\]"):
        m(tb.zeros(4, 3, 8), (tb.zeros(1, 3, 20), tb.zeros(1, 2, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 3, 20\), got \[1, 3, 20\]"):
        nn.GRU(8, 20, bidirectional=True)(tb.zeros(4, 3, 8), tb.zeros(1, 3, 20))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        m(tb.zeros(1, 4, 3, 8))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        nn.RNN(8, 20)(tb.zeros(4, 3, 8), tb.zeros(3, 20))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        m(tb.zeros(4, 3, 8, dtype=tb.float64))
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(8, 20, dropout=1.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(8, 20, nonlinearity="gelu")
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(8, 20, proj_size=20)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        nn.LSTM(8, 20, proj_size=-1)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        nn.GRU(8, 20, proj_size=4)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 4\), got \[1, 3, 20\]"):
        nn.LSTM(8, 20, proj_size=4)(tb.zeros(2, 3, 8), (tb.zeros(1, 3, 20), tb.zeros(1, 3, 20)))


@pytest.mark.parametrize("bidir", [False, True])
def test_projected_lstm_gradcheck_and_formula(bidir, rng):
    """proj_size: h_t = W_hr (o_t * tanh(c_t)) is what the next step and the output see."""
    m = nn.LSTM(2, 3, num_layers=2, bidirectional=bidir, proj_size=2, dtype=tb.float64)
    d = 2 if bidir else 1
    assert m.weight_hr_l0.shape == (2, 3) and m.weight_hh_l0.shape == (12, 2)
    assert m.weight_ih_l1.shape == (12, 2 * d)
    names, params = params_as_inputs(m)
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    x = tb.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = tb.tensor(rng.standard_normal((2 * d, 2, 2)), requires_grad=True)
    c0 = tb.tensor(rng.standard_normal((2 * d, 2, 3)), requires_grad=True)
    assert tb.gradcheck(run_with(m, names, n_state=2, lengths=[3, 2]), (x, h0, c0, *params), atol=1e-6, rtol=1e-5)

    one = nn.LSTM(2, 3, proj_size=2, dtype=tb.float64)  # the recurrence written out in numpy
    w_ih, w_hh, b_ih, b_hh, w_hr = (p.detach().numpy() for p in one.parameters())
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    h, c = np.zeros((2, 2)), np.zeros((2, 3))
    xs = rng.standard_normal((4, 2, 2))
    for t in range(4):
        i, f, g, o = np.split(xs[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = (sig(o) * np.tanh(c)) @ w_hr.T
    out, (h_n, c_n) = one(tb.tensor(xs))
    assert out.shape == (4, 2, 2) and h_n.shape == (1, 2, 2) and c_n.shape == (1, 2, 3)
    np.testing.assert_allclose(out.detach().numpy()[-1], h, atol=1e-12)
    np.testing.assert_allclose(c_n.detach().numpy()[0], c, atol=1e-12)


def test_residual_rnn_layer_matches_formula(rng):
    m = nn.RNN(3, 4, residual=True, dtype=tb.float64)
    x = rng.standard_normal((5, 2, 3))
    U, W, b1, b2 = (p.detach().numpy() for p in m.parameters())
    h = np.zeros((2, 4))
    for t in range(5):
        h = h + np.tanh(x[t] @ U.T + b1 + h @ W.T + b2)
    out, h_n = m(tb.tensor(x))
    np.testing.assert_allclose(h_n.detach().numpy()[0], h, atol=1e-12)


def test_repr():
    assert repr(nn.LSTM(10, 20, num_layers=2, bidirectional=True)) == "LSTM(10, 20, num_layers=2, bidirectional=True)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4)"  # PyTorch shows it for RNNCell only
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_no_grad_forward_matches_recorded_forward(kind, rng):
    """Without a graph the fused steps reuse one row of buffers; the numbers must not change."""
    m = LAYERS[kind](3, 4, num_layers=2, bidirectional=True, dtype=tb.float64)
    x = tb.tensor(rng.standard_normal((6, 3, 3)))
    out, h = m(x, lengths=[6, 2, 4])
    with tb.no_grad():
        out2, h2 = m(x, lengths=[6, 2, 4])
    np.testing.assert_array_equal(out2.numpy(), out.detach().numpy())
    for a, b in zip(h2 if kind == "lstm" else (h2,), h if kind == "lstm" else (h,)):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_loss_on_early_steps_only_fused_equals_unfused(mode, bidirectional):
    """A loss on the first steps only (the later steps get zero gradients from the output): fused equals
    unfused, also on a second forward and backward reusing the first one's memory."""
    x = np.random.default_rng(1).standard_normal((10, 2, 3))
    grads = []
    for fused in (True, False):
        tb.manual_seed(0)
        m = getattr(nn, mode)(3, 4, dtype=tb.float64, fused=fused, bidirectional=bidirectional)
        for _ in range(2):
            m.zero_grad()
            out, _ = m(tb.tensor(x))
            (out[:3] * out[:3]).sum().backward()
        grads.append([p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
