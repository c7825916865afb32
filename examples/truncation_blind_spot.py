"""The truncation window's blind spot: what truncated BPTT can and cannot learn.

    python examples/truncation_blind_spot.py           # about a minute
    python examples/truncation_blind_spot.py --quick   # seconds (what the tests run)

Task: delayed echo.  A stream of random symbols (4 of them); the output at
step t must be the input at step t - tau.  Training uses truncated BPTT
(``tinybptt.bptt.tbptt``): windows of k steps, the state carried into the next
window detached.

1. Window k < tau: the loss at t and the input at t - tau are never in the same
   window, so the gradient connecting them is exactly zero and the echo is never
   learned (accuracy stays at chance, 25%).  Window k > tau: it is learned.
2. With fixed windows, the loss at position j of a window sees only j steps back:
   for j < tau the dependency gets exactly zero gradient (measured below).  When
   the task is the same at every step, the model still learns it everywhere (the
   positions j >= tau teach the shared weights).  But when what must be remembered
   depends on the position, as in fixed-format records whose period matches the
   window (each column of a record has its own code, an embedding row per column
   and symbol), the columns whose echo crosses a window edge never get a useful
   gradient, and accuracy then depends on the position in the window.  Staggered
   window offsets (``tbptt(..., stagger=True)``: each sequence of the batch cuts
   at its own offset) put every column at every window position in some
   sequence, and remove the dependence.

The embeddings start at zero, so the model knows about a symbol only what a
gradient taught it.  (With random embeddings the read-out, which is trained at
every step, can also decode what the untrained recurrent dynamics happen to
keep for a few steps, "reservoir" memory, and k < tau then lands a little above
chance without the dependency ever getting a gradient.)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt  # noqa: E402  (before numpy: see common.py)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402
from tinybptt.bptt import tbptt  # noqa: E402

A = 4  # alphabet size: chance accuracy 1/A


class Echo(nn.Module):
    """Embedding -> GRU -> Linear over A symbols."""

    def __init__(self, vocab, hidden=48):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.rnn = nn.GRU(16, hidden)
        self.head = nn.Linear(hidden, A)
        nn.init.zeros_(self.embed.weight)  # symbols start indistinguishable: what is known was learned

    def forward(self, tokens, state=None):
        out, state = self.rnn(self.embed(tokens), state)
        return self.head(out), state


def echo_stream(rng, steps, batch, tau, period=None):
    """Tokens (steps, batch) and targets (the symbol tau steps back, -100 where there is none).

    With ``period``, the token is (column, symbol) coded as column * A + symbol, column = t mod period.
    """
    symbols = rng.integers(0, A, (steps, batch))
    targets = np.full((steps, batch), -100)
    targets[tau:] = symbols[:-tau]
    tokens = symbols if period is None else symbols + A * (np.arange(steps) % period)[:, None]
    return tb.tensor(tokens), tb.tensor(targets)


def loss_fn(logits, targets):
    """Mean cross-entropy over the steps that have a target (0 for a window with none, instead of NaN)."""
    valid = int((targets.numpy() != -100).sum())
    total = nn.functional.cross_entropy(logits.reshape(-1, A), targets.reshape(-1), ignore_index=-100,
                                        reduction="sum")
    return total / max(valid, 1)


def train(tau, k, updates, seed, period=None, stagger=False, label=""):
    """Train an echo model with TBPTT windows of k; returns the model."""
    tb.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Echo(A * (period or 1))
    opt = tb.optim.Adam(model.parameters(), lr=1e-2)
    per_stream = 10 * k  # updates per fresh stream
    bar = Progress(updates // 10, label)
    for _ in bar:
        x, y = echo_stream(rng, per_stream, 32, tau, period)
        losses = tbptt(model, x, y, k, loss_fn, opt, stagger=stagger, clip=1.0).losses
        bar.set(loss=float(np.mean(losses)))
    return model


@tb.no_grad()
def accuracy_by_position(model, tau, k, seed, period=None):
    """Echo accuracy on a fresh stream, at each position t mod k (positions of a window aligned at 0)."""
    x, y = echo_stream(np.random.default_rng(seed + 99), 40 * k, 64, tau, period)
    logits, _ = model(x)
    right = (logits.numpy().argmax(-1) == y.numpy())[tau:]
    pos = (np.arange(tau, len(right) + tau) % k)
    return np.array([right[pos == j].mean() for j in range(k)])


def gradient_reach(tau, k, seed):
    """|d loss_t / d input_{t-tau}| for the loss at each position j of a TBPTT window (state carried detached)."""
    tb.manual_seed(seed)
    model = Echo(A)
    x, y = echo_stream(np.random.default_rng(seed), 3 * k, 1, tau)
    inputs = model.embed(x).detach().requires_grad_()  # the embedded stream, as a leaf we can read .grad of
    reach = []
    for j in range(k):
        t = 2 * k + j  # position j of the third window
        state, out = None, None
        for s in range(0, 3 * k, k):  # windows [0, k), [k, 2k), [2k, 3k): state carried in detached
            out, state = model.rnn(inputs[s:s + k], nn.utils.detach_state(state))
        inputs.grad = None
        loss_fn(model.head(out[j:j + 1]), y[t:t + 1]).backward()
        reach.append(float(np.abs(inputs.grad.numpy()[t - tau]).sum()))
    return np.array(reach)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv=argv)
    out = out_dir(args, "truncation_blind_spot")
    tau, short, long_ = (3, 2, 6) if args.quick else (5, 3, 10)
    updates = 200 if args.quick else 500
    print(f"delayed echo with tau = {tau}; windows k = {short} (< tau) and k = {long_} (> tau)")

    reach = gradient_reach(tau, long_, args.seed)
    reach_short = gradient_reach(tau, short, args.seed)
    print(f"\n|d loss_t / d input_(t-tau)| by position j in a window of k={long_}:")
    print("  " + " ".join(f"j={j}:{r:.1e}" if r else f"j={j}:0" for j, r in enumerate(reach)))
    print(f"and in a window of k={short}: " + " ".join(f"j={j}:{r:g}" for j, r in enumerate(reach_short)))

    seed = args.seed
    acc_short = accuracy_by_position(train(tau, short, updates, seed, label=f"k={short:<2} fixed  "), tau, long_, seed)
    acc_long = accuracy_by_position(train(tau, long_, updates, seed, label=f"k={long_:<2} fixed  "), tau, long_, seed)
    rec_fixed = accuracy_by_position(train(tau, long_, updates, seed, period=long_,
                                           label=f"k={long_:<2} records"), tau, long_, seed, period=long_)
    rec_stagger = accuracy_by_position(train(tau, long_, updates, seed, period=long_, stagger=True,
                                             label=f"k={long_:<2} records, staggered"), tau, long_, seed,
                                       period=long_)

    show = lambda a: " ".join(f"{v:4.0%}" for v in a)  # noqa: E731
    print(f"\naccuracy by position j in the window (0..{long_ - 1}); chance = {1 / A:.0%}")
    print(f"  plain echo, trained with k={short}:        {show(acc_short)}")
    print(f"  plain echo, trained with k={long_}:       {show(acc_long)}")
    print(f"  records, fixed windows k={long_}:         {show(rec_fixed)}")
    print(f"  records, staggered windows k={long_}:     {show(rec_stagger)}")

    zero_before = (reach[:tau] == 0).all() and (reach[tau:] > 0).all() and (reach_short == 0).all()
    claim(f"a dependency tau={tau} steps back gets exactly zero gradient from a loss fewer than tau steps into "
          f"its window, so a window k={short} < tau never learns it; k={long_} > tau does",
          f"gradient exactly 0 at positions j < {tau}, non-zero at j >= {tau}: {zero_before}; "
          f"accuracy k={short}: {acc_short.mean():.0%}, k={long_}: {acc_long.mean():.0%} (chance {1 / A:.0%})",
          bool(zero_before) and acc_short.mean() < 0.4 and acc_long.mean() > 0.9)
    early, late = rec_fixed[:tau].mean(), rec_fixed[tau:].mean()
    claim("with fixed windows, accuracy depends on the position in the window (when what must be remembered "
          "depends on the position); staggered window offsets remove that",
          f"records, fixed windows: {early:.0%} at positions j < {tau}, {late:.0%} at j >= {tau}; "
          f"staggered: {rec_stagger[:tau].mean():.0%} and {rec_stagger[tau:].mean():.0%}. "
          f"(Plain echo, same at every step: {acc_long[:tau].mean():.0%} and {acc_long[tau:].mean():.0%}: "
          f"no position effect.)",
          early < 0.5 and late > 0.9 and rec_stagger.min() > 0.9)

    pyplot = plt()
    if pyplot:
        fig, (a, b) = pyplot.subplots(1, 2, figsize=(11, 4))
        j = np.arange(long_)
        a.semilogy(j, np.maximum(reach, 1e-12), "o-")
        a.axvline(tau - 0.5, color="red", ls=":", label=f"tau = {tau}")
        a.set(title=f"gradient from the loss to the input tau back (k={long_})\n(drawn at 1e-12: exactly 0)",
              xlabel="position j of the loss in its window", ylabel="gradient reaching t - tau")
        a.legend()
        for acc, name, style in ((acc_short, f"plain echo, k={short}", "o-"),
                                 (acc_long, f"plain echo, k={long_}", "D--"),
                                 (rec_fixed, "records, fixed windows", "o-"),
                                 (rec_stagger, "records, staggered", "s:")):
            b.plot(j, acc, style, mfc="none", ms=8, label=name)
        b.axhline(1 / A, color="gray", ls="--", label="chance")
        b.axvline(tau - 0.5, color="red", ls=":")
        b.set(title="echo accuracy by position in the window", xlabel="position j", ylabel="accuracy", ylim=(0, 1.05))
        b.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "blind_spot.png"), dpi=120)
        pyplot.close(fig)
    done(out)
    return {"reach": reach, "reach_short": reach_short, "acc_short": acc_short, "acc_long": acc_long,
            "records_fixed": rec_fixed, "records_staggered": rec_stagger, "tau": tau}


if __name__ == "__main__":
    main()
