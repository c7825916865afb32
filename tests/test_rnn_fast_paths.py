"""The fused RNN steps' helper kernels and bookkeeping, checked against plain numpy."""
import numpy as np
import pytest

import tinybptt as tb
from tinybptt import nn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1024, 256), (48, 32), (37, 5), (5, 37), (16, 1), (1, 1), (0, 4), (33, 17)])
def test_transpose_matches_numpy(dtype, shape):
    """Blocks of 16 x 16 plus the rows and columns past the last full block, for any shape."""
    from tinybptt.rnn_kernels import transpose
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = np.full(shape[::-1], np.nan, dtype)
    transpose(a, out)
    np.testing.assert_array_equal(out, a.T)
    b = np.asfortranarray(a)[::-1]  # any layout in
    transpose(b, out)
    np.testing.assert_array_equal(out, b.T)


def _sig(a):
    return 1 / (1 + np.exp(-a))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch, hidden", [(5, 3), (32, 20), (1, 1)])
def test_forward_kernels_read_the_transposed_product(dtype, batch, hidden):
    """Each forward kernel takes W_hh h^T as BLAS gives it, (G, B), plus xp and both biases, and matches
    the cell's formula; a row with active False passes its state through."""
    from tinybptt import rnn_kernels as K
    r = np.random.default_rng(1)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-6, atol=2e-6)
    active = r.random(batch) < 0.7
    hp, cp = (r.standard_normal((batch, hidden)).astype(dtype) for _ in range(2))
    for gates in (4, 3, 1):
        G = gates * hidden
        xp, hh = (r.standard_normal((batch, G)).astype(dtype) for _ in range(2))
        b_ih, b_hh = (r.standard_normal(G).astype(dtype) for _ in range(2))
        hh_t = np.ascontiguousarray(hh.T)
        acts = np.empty((batch, G), dtype)
        outs = [np.full((batch, hidden), np.nan, dtype) for _ in range(3)]
        pre, hb = xp + b_ih + (hh + b_hh), hh + b_hh
        if gates == 4:
            K.lstm_forward(xp, b_ih, hh_t, b_hh, hp, cp, active, acts, *outs)
            i, f, g, o = np.split(pre, 4, axis=1)
            c = _sig(f) * cp + _sig(i) * np.tanh(g)
            want_h, want_c = _sig(o) * np.tanh(c), c
            np.testing.assert_allclose(outs[1], np.where(active[:, None], want_c, cp), **tol)
            np.testing.assert_allclose(outs[2][active], np.tanh(c)[active], **tol)
            np.testing.assert_allclose(acts[active], np.concatenate(
                [_sig(i), _sig(f), np.tanh(g), _sig(o)], 1)[active], **tol)
        elif gates == 3:
            K.gru_forward(xp, b_ih, hh_t, b_hh, hp, active, acts, outs[0], outs[1])
            rz = _sig(pre[:, :2 * hidden])
            n = np.tanh(xp[:, 2 * hidden:] + b_ih[2 * hidden:] + rz[:, :hidden] * hb[:, 2 * hidden:])
            want_h = n + rz[:, hidden:] * (hp - n)
            np.testing.assert_allclose(acts[active], np.concatenate([rz, hb[:, 2 * hidden:]], 1)[active], **tol)
        else:
            K.rnn_forward(xp, b_ih, hh_t, b_hh, hp, active, False, True, acts, outs[0])
            want_h = np.tanh(pre) + hp
        np.testing.assert_allclose(outs[0], np.where(active[:, None], want_h, hp), **tol)
        assert np.array_equal(acts[~active], hb[~active])  # an inactive row's acts: hh + b_hh, as gathered


@pytest.mark.parametrize("layer", [nn.LSTM, nn.GRU, nn.RNN])
def test_bias_gradients_are_arrays_of_their_own(layer):
    """db_ih and db_hh come from one sum for LSTM and RNN (the same dxp = dhh): each bias still gets an
    array of its own, equal to the unfused layer's gradient."""
    tb.manual_seed(0)
    x = tb.randn(6, 3, 4, dtype=tb.float64)
    grads = []
    for fused in (True, False):
        tb.manual_seed(0)
        m = layer(4, 5, dtype=tb.float64, fused=fused)
        (m(x)[0] ** 2).sum().backward()
        grads.append((m.bias_ih_l0.grad.numpy(), m.bias_hh_l0.grad.numpy()))
    (b_ih, b_hh), (u_ih, u_hh) = grads
    assert not np.shares_memory(b_ih, b_hh)
    np.testing.assert_allclose(b_ih, u_ih, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b_hh, u_hh, rtol=1e-12, atol=1e-12)
    if layer is not nn.GRU:
        assert np.array_equal(b_ih, b_hh)
