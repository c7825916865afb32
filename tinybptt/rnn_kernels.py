"""Fused numba kernels for one step of an RNN, LSTM or GRU cell (forward and backward).

Imported lazily (``nn.rnn.rnn_kernels()``) the first time a fused step runs, like
``kernels.py``, whose dtype-aware ``sigmoid_`` and ``tanh_`` they use (a rational
tanh in float32 that LLVM vectorises).  Arrays are 2-D and C-contiguous: a row
per sequence of the batch, gates side by side in PyTorch's order, except the
recurrent products, which BLAS computes transposed (see ``nn.rnn._FusedStep``).
A forward kernel reads ``xp`` (x W_ih^T, this step's rows of the input
projection), the biases, and ``hh_t`` = W_hh h_{t-1}^T, shape (G, B): per
sequence b it gathers column b of ``hh_t`` plus b_hh into its row of ``acts``,
adds xp + b_ih (pre-activation (xp + b_ih) + (hh + b_hh)) and leaves there what
backward needs (the gate activations).  ``active[b]`` is False for a sequence
that has ended (or, running backward in time, not yet begun): its state passes
through unchanged and its gradient goes straight to h_{t-1}.
"""

from .kernels import elementwise as kernel  # njit(cache=True, error_model="numpy"): vectorisable loops
from .kernels import sigmoid_, tanh_


@kernel
def _copy(dst, src):
    """dst[:] = src for one row, as a loop: a slice assignment between arrays makes numba compile
    its broadcasting checks and their error-message formatting (seconds of cold start)."""
    for j in range(dst.size):
        dst[j] = src[j]


@kernel
def _fill(dst, value):
    """dst[:] = value for one row, as a loop (see ``_copy``)."""
    for j in range(dst.size):
        dst[j] = value


@kernel
def add_transposed(a_t, m, out):
    """out[b, j] = a_t[j, b] + m[b, j]: the backward recurrent product W_hh^T dhh^T, which BLAS computes
    transposed (see ``nn.rnn._FusedStep``), back to a row per sequence plus dh_direct.  Blocks of 16
    columns keep the reads and the writes inside cache lines; the fixed inner trip count lets LLVM
    vectorise them."""
    n, G = out.shape
    full = G - G % 16
    for j0 in range(0, full, 16):
        for b in range(n):
            for j in range(16):
                out[b, j0 + j] = a_t[j0 + j, b] + m[b, j0 + j]
    for b in range(n):
        for j in range(full, G):
            out[b, j] = a_t[j, b] + m[b, j]


@kernel
def transpose(a, out):
    """out = a.T for 2-D arrays, in blocks of 16 x 16: several times faster than numpy's strided copy
    for the weight matrices BLAS wants C-contiguous in their transposed form."""
    n, m = a.shape
    nf, mf = n - n % 16, m - m % 16
    for i0 in range(0, nf, 16):
        for j0 in range(0, mf, 16):
            for j in range(16):
                for i in range(16):
                    out[j0 + j, i0 + i] = a[i0 + i, j0 + j]
    for i in range(n):  # the columns past the last full block
        for j in range(mf, m):
            out[j, i] = a[i, j]
    for i in range(nf, n):  # the rows past the last full block
        for j in range(mf):
            out[j, i] = a[i, j]


@kernel
def _gather(hh_t, b_hh, b, row):
    """row = hh_t[:, b] + b_hh: sequence b's part of the recurrent product, which BLAS computes
    transposed (see ``nn.rnn._FusedStep``), plus the bias: into the row the gate loops then read."""
    for j in range(row.size):
        row[j] = hh_t[j, b] + b_hh[j]


# ---------------------------------------------------------------- LSTM: gates i, f, g, o
@kernel
def lstm_forward(xp, b_ih, hh_t, b_hh, h_prev, c_prev, active, acts, h, c, tc):
    """c = f*c_prev + i*g, h = o*tanh(c); leaves i, f, g, o in ``acts`` and tanh(c) in ``tc``."""
    n, H = c.shape
    for b in range(n):
        _gather(hh_t, b_hh, b, acts[b])
        if not active[b]:
            _copy(h[b], h_prev[b])
            _copy(c[b], c_prev[b])
            continue
        x, a, cp, cb, tb, hb = xp[b], acts[b], c_prev[b], c[b], tc[b], h[b]
        # short loops over few arrays, each starting at 0: the shapes LLVM vectorises
        for j in range(2 * H):
            a[j] = sigmoid_((x[j] + b_ih[j]) + a[j])                      # i, f
        for j in range(H):
            a[2 * H + j] = tanh_((x[2 * H + j] + b_ih[2 * H + j]) + a[2 * H + j])  # g
        for j in range(H):
            a[3 * H + j] = sigmoid_((x[3 * H + j] + b_ih[3 * H + j]) + a[3 * H + j])  # o
        for j in range(H):
            cb[j] = a[H + j] * cp[j] + a[j] * a[2 * H + j]
        for j in range(H):
            t = tanh_(cb[j])
            tb[j] = t
            hb[j] = a[3 * H + j] * t


@kernel
def lstm_backward(acts, c_prev, tc, dh, dc, active, dgates, dc_prev, dh_direct):
    """Gradients of the gate pre-activations (same for x and h parts), of c_prev, and the
    part of dh_prev that skips W_hh (nonzero only for inactive rows)."""
    n, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(n):
        if not active[b]:
            _fill(dgates[b], 0)
            _copy(dc_prev[b], dc[b])
            _copy(dh_direct[b], dh[b])
            continue
        a, d, cp, t, g_h, dct = acts[b], dgates[b], c_prev[b], tc[b], dh[b], dc_prev[b]
        for j in range(H):  # dL/dc_t, kept in dc_prev until the last loop
            dct[j] = dc[b, j] + g_h[j] * a[3 * H + j] * (one - t[j] * t[j])
        for j in range(H):
            d[j] = dct[j] * a[2 * H + j] * a[j] * (one - a[j])                    # i
        for j in range(H):
            d[H + j] = dct[j] * cp[j] * a[H + j] * (one - a[H + j])               # f
        for j in range(H):
            d[2 * H + j] = dct[j] * a[j] * (one - a[2 * H + j] * a[2 * H + j])    # g
        for j in range(H):
            d[3 * H + j] = g_h[j] * t[j] * a[3 * H + j] * (one - a[3 * H + j])    # o
        for j in range(H):
            dct[j] *= a[H + j]
        _fill(dh_direct[b], 0)


# ---------------------------------------------------------------- GRU: gates r, z, n
@kernel
def gru_forward(xp, b_ih, hh_t, b_hh, h_prev, active, acts, h, nn):
    """n = tanh(x_n + r*hh_n), h = (1-z)*n + z*h_prev; leaves r, z, hh_n in ``acts`` and n in ``nn``."""
    n_rows, H = h.shape
    for b in range(n_rows):
        _gather(hh_t, b_hh, b, acts[b])
        if not active[b]:
            _copy(h[b], h_prev[b])
            continue
        x, a, nb, hb, hp = xp[b], acts[b], nn[b], h[b], h_prev[b]
        for j in range(2 * H):
            a[j] = sigmoid_((x[j] + b_ih[j]) + a[j])  # r, z
        for j in range(H):
            nb[j] = tanh_((x[2 * H + j] + b_ih[2 * H + j]) + a[j] * a[2 * H + j])
        for j in range(H):
            hb[j] = nb[j] + a[H + j] * (hp[j] - nb[j])


@kernel
def gru_backward(acts, nn, h_prev, dh, active, dxp, dhh, dh_direct):
    """Gradients of the x and hh pre-activations (they differ in the n gate: dhh_n = r*dx_n)
    and the part of dh_prev that skips W_hh (z*dh)."""
    n_rows, H = dh.shape
    one = dh.dtype.type(1)
    for b in range(n_rows):
        if not active[b]:
            _fill(dxp[b], 0)
            _fill(dhh[b], 0)
            _copy(dh_direct[b], dh[b])
            continue
        a, nb, hp, g, dx, dr = acts[b], nn[b], h_prev[b], dh[b], dxp[b], dhh[b]
        for j in range(H):  # n
            dx[2 * H + j] = g[j] * (one - a[H + j]) * (one - nb[j] * nb[j])
        for j in range(H):  # r
            dx[j] = dx[2 * H + j] * a[2 * H + j] * a[j] * (one - a[j])
        for j in range(H):  # z
            dx[H + j] = g[j] * (hp[j] - nb[j]) * a[H + j] * (one - a[H + j])
        for j in range(2 * H):
            dr[j] = dx[j]
        for j in range(H):
            dr[2 * H + j] = dx[2 * H + j] * a[j]
        for j in range(H):
            dh_direct[b, j] = g[j] * a[H + j]


# ---------------------------------------------------------------- simple RNN
@kernel
def rnn_forward(xp, b_ih, hh_t, b_hh, h_prev, active, relu, residual, acts, h):
    """y = phi(x W_ih^T + b_ih + hh), h = y (+ h_prev when ``residual``); leaves y in ``acts``."""
    n, H = h.shape
    zero = h.dtype.type(0)
    for b in range(n):
        _gather(hh_t, b_hh, b, acts[b])
        if not active[b]:
            _copy(h[b], h_prev[b])
            continue
        x, y, hb, hp = xp[b], acts[b], h[b], h_prev[b]
        if relu:
            for j in range(H):
                y[j] = max((x[j] + b_ih[j]) + y[j], zero)
        else:
            for j in range(H):
                y[j] = tanh_((x[j] + b_ih[j]) + y[j])
        if residual:
            for j in range(H):
                hb[j] = y[j] + hp[j]
        else:
            _copy(hb, y)


@kernel
def rnn_backward(y, dh, active, relu, residual, da, dh_direct):
    """da = dh * phi'(a) (from y = phi(a)); dh_direct = dh when residual (or inactive), else 0."""
    n, H = dh.shape
    one, zero = dh.dtype.type(1), dh.dtype.type(0)
    for b in range(n):
        if not active[b]:
            _fill(da[b], 0)
            _copy(dh_direct[b], dh[b])
            continue
        yb, g, d = y[b], dh[b], da[b]
        if relu:
            for j in range(H):
                d[j] = g[j] if yb[j] > zero else zero
        else:
            for j in range(H):
                d[j] = g[j] * (one - yb[j] * yb[j])
        if residual:
            _copy(dh_direct[b], g)
        else:
            _fill(dh_direct[b], 0)


__all__ = ["add_transposed", "transpose", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward", "rnn_forward", "rnn_backward"]
