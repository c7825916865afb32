"""The adding problem: a plain RNN stays at the trivial answer, LSTM and GRU solve it.

    python examples/adding_problem.py                 # T = 50, 100, 200 (two to three minutes)
    python examples/adding_problem.py --T 50 100      # skip T = 200 (about half the time)
    python examples/adding_problem.py --quick    # T = 30, seconds (what the tests run)

Each input sequence has T steps of two channels: a random number in [0, 1) and a
marker that is 1 at exactly two steps (one in each half of the sequence).  The
target is the sum of the two marked numbers (Hochreiter & Schmidhuber 1997).
Always answering 1 (the mean) gives MSE 1/6 ~ 0.167; doing better needs the
gradient to carry the error back from the last step to the marked steps, up to
T steps earlier.

Claim: a vanilla tanh RNN stays near MSE 0.167 while LSTM and GRU get below 0.01.
The gated cells train until solved (validation MSE < 0.005) or out of budget;
the RNN then gets as many updates as the slower gated cell used.
All use Adam (lr 0.02) with gradient clipping at norm 1.  The LSTM's forget-gate
bias starts at 3 (a positive forget bias is the standard LSTM init, Gers et al.
2000, Jozefowicz et al. 2015; 3 makes it learn this task in fewer updates).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt  # noqa: E402  (before numpy: see common.py)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402

TRIVIAL = 1 / 6  # MSE of always predicting 1: Var(u1 + u2) for u ~ U(0, 1)
SOLVED = 0.01


def adding_batch(rng, batch, T):
    """Inputs (T, batch, 2) and targets (batch, 1) of the adding problem."""
    values = rng.uniform(0, 1, (T, batch))
    marks = np.zeros((T, batch))
    cols = np.arange(batch)
    marks[rng.integers(0, T // 2, batch), cols] = 1
    marks[rng.integers(T // 2, T, batch), cols] = 1
    x = np.stack([values, marks], -1).astype(np.float32)
    y = (values * marks).sum(0)[:, None].astype(np.float32)
    return tb.tensor(x), tb.tensor(y)


class Regressor(nn.Module):
    """A recurrent layer read out by a linear head at the last step."""

    def __init__(self, cell, hidden):
        super().__init__()
        self.rnn = getattr(nn, cell)(2, hidden)
        self.head = nn.Linear(hidden, 1)
        if cell == "LSTM":  # gate order i, f, g, o: forget-gate bias 3, so the cell starts out remembering
            with tb.no_grad():
                self.rnn.bias_hh_l0[hidden:2 * hidden] = 3.0

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


def train(cell, T, steps, hidden, seed, check_every=50):
    """Train one model; returns validation MSE every ``check_every`` updates and the updates used."""
    tb.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_val, y_val = adding_batch(np.random.default_rng(seed + 1000), 512, T)
    model = Regressor(cell, hidden)
    params = list(model.parameters())
    opt = tb.optim.Adam(params, lr=2e-2)
    curve, bar = [], Progress(steps, f"{cell:>4} T={T:<3}")
    for i in bar:
        x, y = adding_batch(rng, 32, T)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        bar.set(mse=loss.item())
        if (i + 1) % check_every == 0 or i + 1 == steps:
            with tb.no_grad():
                curve.append((i + 1, nn.functional.mse_loss(model(x_val), y_val).item()))
            bar.set(val_mse=curve[-1][1])
            if cell != "RNN" and curve[-1][1] < SOLVED / 2:
                bar.total = i + 1  # solved: stop early (the bar ends here)
    return curve


def extra_args(p):
    p.add_argument("--T", type=int, nargs="+", default=None,
                   help="sequence lengths (default 50 100 200)")
    p.add_argument("--steps", type=int, default=None, help="update budget per gated model (default 2000, quick 1000)")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], extra=extra_args, argv=argv)
    out = out_dir(args, "adding_problem")
    lengths = args.T or ([30] if args.quick else [50, 100, 200])
    steps = args.steps or (1000 if args.quick else 2000)
    cells = ["RNN", "LSTM", "GRU"]
    results, t0 = {}, time.perf_counter()
    for T in lengths:
        # the gated cells stop once solved; the RNN then gets as many updates as the slower of them used
        for cell in ("LSTM", "GRU", "RNN"):
            budget = steps if cell != "RNN" else max(results[(c, T)]["updates"] for c in ("LSTM", "GRU"))
            t = time.perf_counter()
            curve = train(cell, T, budget, hidden=32, seed=args.seed)
            results[(cell, T)] = {"curve": curve, "mse": curve[-1][1], "updates": curve[-1][0],
                                  "seconds": time.perf_counter() - t}

    print(f"\nvalidation MSE (512 fresh sequences); trivial answer: {TRIVIAL:.3f}; solved: < {SOLVED}")
    print("   T  " + "".join(f"{c:>30}" for c in cells))
    for T in lengths:
        row = []
        for c in cells:
            r = results[(c, T)]
            note = "" if r["mse"] < SOLVED or c == "RNN" else " (unsolved)"
            row.append(f"{r['mse']:.4f} ({r['updates']} upd, {r['seconds']:.0f} s){note}")
        print(f"{T:>4}  " + "".join(f"{s:>30}" for s in row))
    print(f"total time {time.perf_counter() - t0:.0f} s")
    for T in lengths:
        for c in ("LSTM", "GRU"):
            if results[(c, T)]["mse"] >= SOLVED:
                print(f"note: {c} at T={T} did not get below {SOLVED} within {steps} updates (try a larger --steps).")

    rnn_stuck = all(results[("RNN", T)]["mse"] > 0.1 for T in lengths)
    gated = all(results[(c, T)]["mse"] < SOLVED for T in lengths for c in ("LSTM", "GRU"))
    claim("a vanilla RNN stays near the trivial MSE 0.167 while LSTM and GRU get below 0.01",
          "; ".join(f"T={T}: RNN {results[('RNN', T)]['mse']:.3f}, LSTM {results[('LSTM', T)]['mse']:.4f}, "
                    f"GRU {results[('GRU', T)]['mse']:.4f}" for T in lengths),
          rnn_stuck and gated)

    pyplot = plt()
    if pyplot:
        fig, axes = pyplot.subplots(1, len(lengths), figsize=(4.5 * len(lengths), 3.8), squeeze=False)
        for ax, T in zip(axes[0], lengths):
            for c in cells:
                u, m = zip(*results[(c, T)]["curve"])
                ax.semilogy(u, m, "o-", ms=3, label=c)
            ax.axhline(TRIVIAL, color="gray", ls="--", label="trivial (1/6)")
            ax.axhline(SOLVED, color="green", ls=":", label="solved (0.01)")
            ax.set(title=f"adding problem, T={T}", xlabel="update", ylabel="validation MSE")
        axes[0][0].legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "adding_problem.png"), dpi=120)
        pyplot.close(fig)
    done(out)
    return {f"{c}_T{T}": r["mse"] for (c, T), r in results.items()}


if __name__ == "__main__":
    main()
