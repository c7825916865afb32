"""RNNCell, LSTMCell, GRUCell: gradients (both paths), fused == unfused, formulas, names, errors."""
import numpy as np
import pytest

import tinybptt as tb
from tinybptt import nn
from tinybptt.nn.rnn import fused as fused_steps

CELLS = [
    ("rnn_tanh", lambda **kw: nn.RNNCell(3, 4, nonlinearity="tanh", **kw)),
    ("rnn_relu", lambda **kw: nn.RNNCell(3, 4, nonlinearity="relu", **kw)),
    ("rnn_residual", lambda **kw: nn.RNNCell(3, 4, residual=True, **kw)),
    ("lstm", lambda **kw: nn.LSTMCell(3, 4, **kw)),
    ("gru", lambda **kw: nn.GRUCell(3, 4, **kw)),
]


def call_with(cell, names):
    """fn(x, state..., *params) running ``cell`` with the given tensors as its parameters."""
    lstm = isinstance(cell, nn.LSTMCell)

    def run(x, *rest):
        n_state = len(rest) - len(names)
        for name, p in zip(names, rest[n_state:]):
            cell._parameters[name] = p
        state = rest[:n_state]
        hx = None if not state else (tuple(state) if lstm else state[0])
        return cell(x, hx)
    return run


def state_for(cell, rng, *batch):
    n = 2 if isinstance(cell, nn.LSTMCell) else 1
    return [tb.tensor(rng.standard_normal((*batch, cell.hidden_size)), requires_grad=True) for _ in range(n)]


@pytest.mark.parametrize("kind,make", CELLS)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_gradcheck_cells(kind, make, fused, bias, with_state, rng):
    cell = make(bias=bias, fused=fused, dtype=tb.float64)
    names = [n for n, _ in cell.named_parameters()]
    params = [tb.tensor(p.detach().numpy() * 1.5, requires_grad=True) for _, p in cell.named_parameters()]
    x = tb.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    state = state_for(cell, rng, 2) if with_state else []
    assert tb.gradcheck(call_with(cell, names), (x, *state, *params), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind,make", CELLS)
def test_gradcheck_unbatched_cell(kind, make, rng):
    cell = make(dtype=tb.float64)
    names = [n for n, _ in cell.named_parameters()]
    params = [tb.tensor(p.detach().numpy(), requires_grad=True) for _, p in cell.named_parameters()]
    x = tb.tensor(rng.standard_normal(3), requires_grad=True)
    out = cell(x, *([tuple(state_for(cell, rng))] if kind == "lstm" else state_for(cell, rng)))
    assert all(o.shape == (4,) for o in (out if kind == "lstm" else (out,)))
    assert tb.gradcheck(call_with(cell, names), (x, *state_for(cell, rng), *params), atol=1e-6, rtol=1e-5)


def run_both(cell, x, state):
    """Outputs and all gradients of sum(outputs * v) for the fused and the unfused path."""
    results = []
    v = np.random.default_rng(5).standard_normal((2, *x.shape[:-1], cell.hidden_size))
    for fused in (True, False):
        cell.fused = fused
        cell.zero_grad()
        xs = tb.tensor(x, requires_grad=True)
        st = [tb.tensor(s, requires_grad=True) for s in state]
        out = cell(xs, (tuple(st) if len(st) == 2 else st[0]) if st else None)
        outs = out if isinstance(out, tuple) else (out,)
        sum((o * tb.tensor(v[i])).sum() for i, o in enumerate(outs)).backward()
        grads = [xs.grad.numpy()] + [s.grad.numpy() for s in st] + [p.grad.numpy() for p in cell.parameters()]
        results.append(([o.detach().numpy() for o in outs], grads))
    return results


@pytest.mark.parametrize("kind,make", CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_unfused(kind, make, bias, rng):
    cell = make(bias=bias, dtype=tb.float64)
    x = rng.standard_normal((5, 3)) * 2
    state = [rng.standard_normal((5, 4)) for _ in range(2 if kind == "lstm" else 1)]
    (out_f, g_f), (out_u, g_u) = run_both(cell, x, state)
    for a, b in zip(out_f + g_f, out_u + g_u):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def sig(a):
    return 1 / (1 + np.exp(-a))


@tb.no_grad()
def test_formulas_against_numpy(rng):
    """Gate order and equations as PyTorch documents them, checked with numpy."""
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    lstm = nn.LSTMCell(3, 4, dtype=tb.float64)
    W, U, b1, b2 = (p.detach().numpy() for p in lstm.parameters())
    i, f, g, o = np.split(x @ W.T + b1 + h @ U.T + b2, 4, axis=1)
    c1 = sig(f) * c + sig(i) * np.tanh(g)
    h1, c1_ = lstm(tb.tensor(x), (tb.tensor(h), tb.tensor(c)))
    np.testing.assert_allclose(c1_.numpy(), c1, atol=1e-12)
    np.testing.assert_allclose(h1.numpy(), sig(o) * np.tanh(c1), atol=1e-12)

    gru = nn.GRUCell(3, 4, dtype=tb.float64)
    W, U, b1, b2 = (p.detach().numpy() for p in gru.parameters())
    xr, xz, xn = np.split(x @ W.T + b1, 3, axis=1)
    hr, hz, hn = np.split(h @ U.T + b2, 3, axis=1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    np.testing.assert_allclose(gru(tb.tensor(x), tb.tensor(h)).numpy(), (1 - z) * n + z * h, atol=1e-12)

    for nl, phi in (("tanh", np.tanh), ("relu", lambda a: np.maximum(a, 0))):
        for residual in (False, True):
            cell = nn.RNNCell(3, 4, nonlinearity=nl, residual=residual, dtype=tb.float64)
            W, U, b1, b2 = (p.detach().numpy() for p in cell.parameters())
            want = phi(x @ W.T + b1 + h @ U.T + b2) + (h if residual else 0)
            np.testing.assert_allclose(cell(tb.tensor(x), tb.tensor(h)).numpy(), want, atol=1e-12)


def test_zero_state_by_default_and_float32(rng):
    cell = nn.LSTMCell(3, 4)
    x = tb.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    h, c = cell(x)
    h0, c0 = cell(x, (tb.zeros(2, 4), tb.zeros(2, 4)))
    assert h.dtype == np.float32 and c.dtype == np.float32
    np.testing.assert_array_equal(h.detach().numpy(), h0.detach().numpy())
    # float32 kernel (rational tanh) agrees with the float64 computation
    cell64 = nn.LSTMCell(3, 4, dtype=tb.float64)
    cell64.load_state_dict(cell.state_dict())
    h64, _ = cell64(tb.tensor(x.numpy().astype(np.float64)))
    np.testing.assert_allclose(h.detach().numpy(), h64.detach().numpy(), atol=2e-6)


@pytest.mark.parametrize("cls,gates", [(nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)])
def test_parameter_names_shapes_init(cls, gates):
    cell = cls(10, 20)
    shapes = {n: p.shape for n, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (gates * 20, 10), "weight_hh": (gates * 20, 20),
                      "bias_ih": (gates * 20,), "bias_hh": (gates * 20,)}
    bound = 1 / np.sqrt(20)
    for p in cell.parameters():
        assert p.dtype == np.float32 and np.abs(p.detach().numpy()).max() <= bound
        assert np.abs(p.detach().numpy()).max() > 0.8 * bound  # really spread over the interval
    assert list(cls(10, 20, bias=False).state_dict()) == ["weight_ih", "weight_hh"]
    assert cls(10, 20, bias=False).bias_ih is None


def test_fused_cell_is_one_record_per_step(rng):
    x = tb.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    for cell, name in ((nn.LSTMCell(3, 4), "LSTMCell"), (nn.GRUCell(3, 4), "GRUCell"), (nn.RNNCell(3, 4), "RNNCell")):
        out = cell(x)
        h = out[0] if isinstance(out, tuple) else out
        assert h.grad_fn.name == name
        assert isinstance(h.grad_fn.fn, getattr(fused_steps, name))
        # its inputs: the input projection x W_ih^T, h_prev (, c_prev), W_hh, b_ih, b_hh
        assert h.grad_fn.inputs[-3:] == (cell.weight_hh, cell.bias_ih, cell.bias_hh)


def test_cell_errors_like_pytorch():
    lstm = nn.LSTMCell(8, 20)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 8"):
        lstm(tb.zeros(3, 5))
    with pytest.raises(RuntimeError, match="Input batch size 3 doesn't match hidden0 batch size 2"):
        lstm(tb.zeros(3, 8), (tb.zeros(2, 20), tb.zeros(2, 20)))
    with pytest.raises(RuntimeError, match="hidden1 has inconsistent hidden_size: got 10, expected 20"):
        lstm(tb.zeros(3, 8), (tb.zeros(3, 20), tb.zeros(3, 10)))
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D instead"):
        lstm(tb.zeros(1, 3, 8))
    with pytest.raises(ValueError, match="GRUCell: Expected hidden to be 1D or 2D, got 3D instead"):
        nn.GRUCell(8, 20)(tb.zeros(3, 8), tb.zeros(1, 3, 20))
    cell = nn.RNNCell(8, 20, nonlinearity="sigmoid")  # as PyTorch: accepted here, rejected by forward
    with pytest.raises(RuntimeError, match="Unknown nonlinearity: sigmoid"):
        cell(tb.zeros(3, 8))
    with pytest.raises(RuntimeError, match="must have the same dtype, but got Double and Float"):
        nn.RNNCell(8, 20)(tb.zeros(3, 8, dtype=tb.float64))


def test_residual_cell_backward_keeps_identity_path(rng):
    """With residual=True, dh'/dh = I + J_phi: a zeroed W_hh still passes the gradient through."""
    cell = nn.RNNCell(3, 4, residual=True, dtype=tb.float64)
    with tb.no_grad():
        cell.weight_hh.zero_()
    h = tb.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    cell(tb.tensor(rng.standard_normal((2, 3))), h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), np.ones((2, 4)))


@pytest.mark.parametrize("watch", ["retain_grad", "hook", "autograd.grad"])
def test_fused_lstm_cell_state_sees_its_full_gradient(watch, rng):
    """c_t feeds h_t inside the fused step's one record; c's retain_grad(), hooks and autograd.grad
    must still see dL/dc_t in full (the path through h_t included), as the primitive cell's do."""
    x = rng.standard_normal((2, 3))
    results = []
    for fused in (True, False):
        tb.manual_seed(0)
        cell = nn.LSTMCell(3, 4, dtype=tb.float64, fused=fused)
        xt = tb.tensor(x, requires_grad=True)
        h, c = cell(xt)
        if watch == "retain_grad":
            c.retain_grad()
        if watch == "hook":
            c.register_hook(lambda g: g * 0.5)
        h2, c2 = cell(xt, (h, c))
        loss = (h2 * h2).sum() + h.sum() + (c2 * 3).sum()
        if watch == "autograd.grad":
            results.append(tb.autograd.grad(loss, [c, xt]))
            continue
        loss.backward()
        results.append((c.grad if watch == "retain_grad" else h.detach(), xt.grad))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)
    assert results[0][0].abs().sum().item() > 0
