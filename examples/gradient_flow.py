"""Gradient flow through time: ||dL/dh_t|| against t, vanishing and exploding, measured.

    python examples/gradient_flow.py           # T = 100 steps, a few seconds
    python examples/gradient_flow.py --quick   # T = 60 (what the tests run)

The loss reads only the last hidden state (L = v . h_T with ||v|| = 1), so
||dL/dh_t|| is how much of the error signal survives T - t steps of the backward
recurrence dL/dh_{t-1} = J_t^T dL/dh_t.  For a linear RNN J_t = W, hence the
bound ||dL/dh_t|| <= ||W||^(T-t) (Pascanu, Mikolov & Bengio 2013): spectral norm
below 1 is enough for vanishing, above 1 is needed for exploding.  A tanh RNN
multiplies by diag(tanh') <= 1 on top.  Compared here, with the same inputs:

* linear and tanh RNNs whose recurrent matrix is a random symmetric matrix with
  eigenvalues spread over [-s, s], so spectral norm s = 0.9, 1.0, 1.1;
* an orthogonal recurrent matrix (``nn.init.orthogonal_``): all singular values 1;
* a residual RNN (``nn.RNNCell(..., residual=True)``: h_t = h_{t-1} + tanh(...));
* an LSTM (forget-gate bias 1), whose gradient also has the cell-state path.

At initialisation the LSTM's gradient still fades (its forget gates sit near
sigmoid(1) ~ 0.73); gated cells win by *learning* to hold their forget gates
near 1 where it matters (see adding_problem.py).  The residual RNN does not
vanish: its Jacobian is I + diag(tanh') W, so with this init it even grows.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import claim, done, out_dir, parse_args, plt, render_graph  # noqa: E402  (before numpy: see common.py)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402

H, D = 64, 4  # hidden size, input size
NORMS = (0.9, 1.0, 1.1)


def symmetric_matrix(rng, s):
    """A random symmetric H x H matrix with eigenvalues spread over [-s, s] (spectral norm exactly s)."""
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    eig = rng.uniform(-1, 1, H)
    eig *= s / np.abs(eig).max()
    return (q * eig) @ q.T


def hidden_grad_norms(cell, xs, v, linear=False):
    """Run ``cell`` over the inputs ``xs`` (T, 1, D); return ||dL/dh_t|| for t = 0..T-1, L = v . h_{T-1}."""
    hs, state = [], None
    for x in xs:
        if linear:  # the same weights without the nonlinearity: h_t = W_ih x_t + W_hh h_{t-1} (+ biases)
            h = x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh
            state = h if state is None else h + state @ cell.weight_hh.T
        else:
            state = cell(x, state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hs.append(h)
    (hs[-1] * v).sum().backward()
    return np.array([np.linalg.norm(h.grad.numpy()) for h in hs])


def rnn_with(matrix, residual=False):
    """A tanh RNNCell whose recurrent matrix is set to ``matrix``."""
    cell = nn.RNNCell(D, H, residual=residual)
    if matrix is not None:
        with tb.no_grad():
            cell.weight_hh.copy_(matrix)
    return cell


def render_fading_chain(path, rng):
    """The unrolled graph of a 12-step tanh RNN with a contracting matrix, coloured by gradient norm."""
    rnn = nn.RNN(D, H)
    with tb.no_grad():
        rnn.weight_hh_l0.copy_(symmetric_matrix(rng, 0.6))
    out, _ = rnn(tb.tensor(rng.standard_normal((12, 1, D)).astype(np.float32)))
    loss = out[-1].sum()
    return render_graph(loss, path, rnn, "tanh RNN, spectral norm 0.6: the gradient fades toward t=0")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv=argv)
    out = out_dir(args, "gradient_flow")
    T = 60 if args.quick else 100
    rng = np.random.default_rng(args.seed)
    tb.manual_seed(args.seed)
    xs = tb.tensor(rng.standard_normal((T, 1, D)).astype(np.float32) * 0.5)
    v = rng.standard_normal(H).astype(np.float32)
    v = tb.tensor(v / np.linalg.norm(v))

    matrices = {f"||W||={s}": symmetric_matrix(rng, s) for s in NORMS}
    ortho = tb.zeros(H, H)
    nn.init.orthogonal_(ortho)
    matrices["orthogonal"] = ortho.numpy().copy()
    bounds = {f"||W||={s}": s for s in NORMS}
    bounds["orthogonal"] = 1.0

    linear, tanh = {}, {}
    for name, m in matrices.items():
        cell = rnn_with(m)
        linear[name] = hidden_grad_norms(cell, xs, v, linear=True)
        tanh[name] = hidden_grad_norms(cell, xs, v)
    tanh["residual RNN"] = hidden_grad_norms(rnn_with(None, residual=True), xs, v)
    lstm = nn.LSTMCell(D, H)
    with tb.no_grad():
        lstm.bias_hh[H:2 * H] = 1.0  # forget gate (gate order i, f, g, o)
    tanh["LSTM"] = hidden_grad_norms(lstm, xs, v)

    k = np.arange(T)[::-1]  # steps back from the loss
    print(f"||dL/dh_t|| with the loss at t={T - 1}   (distance 0 = the last step; 1 at the start)")
    print(f"{'':>22}" + "".join(f"{f'{d} back':>11}" for d in (10, T // 2, T - 1)))
    for kind, table in (("linear", linear), ("tanh", tanh)):
        for name, g in table.items():
            print(f"{kind + ' ' + name:>22}" + "".join(f"{g[T - 1 - d]:>11.3g}" for d in (10, T // 2, T - 1)))

    first = lambda g: g[0]  # noqa: E731  (the gradient that reaches t = 0, T-1 steps back)
    slack = 1 + 1e-4
    within_bound = all((linear[n] <= bounds[n] ** k * slack).all() for n in matrices)
    claim("for a linear RNN, ||dL/dh_t|| <= ||W||^(T-t): spectral norm < 1 makes the gradient vanish",
          f"bound holds at every step for all four matrices: {within_bound}; "
          f"linear ||W||=0.9 after {T - 1} steps: {first(linear['||W||=0.9']):.2e} "
          f"(bound {0.9 ** (T - 1):.2e})", within_bound and first(linear["||W||=0.9"]) < 1e-2)
    claim("spectral norm > 1 lets it explode (linear); an orthogonal matrix keeps it exactly",
          f"linear ||W||=1.1: {first(linear['||W||=1.1']):.3g} after {T - 1} steps; orthogonal: every step within "
          f"{np.abs(linear['orthogonal'] - 1).max():.1e} of 1",
          first(linear["||W||=1.1"]) > 10 and np.abs(linear["orthogonal"] - 1).max() < 1e-3)
    claim("tanh saturation shrinks the gradient further: a tanh RNN vanishes where a linear one does not",
          f"{T - 1} steps back, tanh vs linear: ||W||=1.1 {first(tanh['||W||=1.1']):.2e} vs "
          f"{first(linear['||W||=1.1']):.2e}, orthogonal {first(tanh['orthogonal']):.2e} vs "
          f"{first(linear['orthogonal']):.2e}",
          all(first(tanh[n]) < first(linear[n]) for n in ("||W||=1.1", "orthogonal")))
    claim("the residual connection (h_t = h_{t-1} + tanh(...)) keeps the gradient from vanishing "
          "(an untrained LSTM still fades: its forget gates start near 0.73)",
          f"{T - 1} steps back: residual RNN {first(tanh['residual RNN']):.3g}, plain tanh RNN "
          f"(||W||=1.0) {first(tanh['||W||=1.0']):.2e}, LSTM {first(tanh['LSTM']):.2e}",
          first(tanh["residual RNN"]) > 0.1 and first(tanh["residual RNN"]) > 100 * first(tanh["||W||=1.0"]))

    graph = render_fading_chain(os.path.join(out, "fading_chain.svg"), rng)
    pyplot = plt()
    if pyplot:
        fig, axes = pyplot.subplots(1, 2, figsize=(12, 4.5), sharey=True)
        t = np.arange(T)
        for i, name in enumerate(matrices):
            line, = axes[0].semilogy(t, linear[name], label=f"linear, {name}")
            axes[0].semilogy(t, bounds[name] ** k, "--", color=line.get_color(), lw=0.8,
                             label=f"bound {bounds[name]}^(T-t)")
        for name, g in tanh.items():
            axes[1].semilogy(t, np.maximum(g, 1e-30), label=name if name in ("residual RNN", "LSTM")
                             else f"tanh, {name}")
        axes[0].set(title="linear RNN: measured (solid) and ||W||^(T-t) bound (dashed)", xlabel="time step t",
                    ylabel="||dL/dh_t||   (loss at the last step)")
        axes[1].set(title="tanh RNN, residual RNN, LSTM", xlabel="time step t")
        for ax in axes:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "gradient_flow.png"), dpi=120)
        pyplot.close(fig)
    done(out)
    return {"linear": linear, "tanh": tanh, "bounds": bounds, "graph": graph, "T": T, "matrices": matrices,
            "v": v.numpy()}


if __name__ == "__main__":
    main()
