"""Bidirectional tagging: a per-step label about the future needs the backward direction.

    python examples/bidirectional_tagging.py            # ~10 s on a 2-core machine
    python examples/bidirectional_tagging.py --quick    # seconds (what the tests run)

Each sequence is a string of random letters in which a marker token '!' appears at
random (each step independently, with probability p = 1 - 0.5**(1/k), k = 3), with a
random length between T/2 and T, padded, and handed to the GRU with ``lengths=``.
Every step t gets two binary tags:

    past(t)   = a marker among steps t-k+1 .. t     (what has been read)
    future(t) = a marker among steps t+1 .. t+k     (what comes next)

Both are 1 half of the time.  Steps whose window runs off the sequence are not
scored.  Markers are drawn independently, so nothing before step t+1 tells
anything about the future tag: a left-to-right RNN cannot beat the majority guess
on it however long it trains, while a bidirectional RNN (Schuster & Paliwal 1997)
reads the future directly.  The past tag is the control: both models should get it.
The gradient says the same thing: d future-loss(t) / d input(t+j) is exactly zero
in the one-directional graph.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt, render_graph  # noqa: E402  (sets BLAS threads, finds tinybptt)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402
from tinybptt.nn import functional as F  # noqa: E402

K = 3                      # window of the tags
P_MARK = 1 - 0.5 ** (1 / K)  # makes P(marker within K steps) = 1/2
PAD, MARK, VOCAB = 0, 1, 12  # tokens: 0 padding, 1 the marker, 2..11 letters
IGNORE = -100


def tagging_batch(rng, batch, T):
    """Tokens (batch, T), lengths (batch,), past and future tags (batch, T) (IGNORE where unscored)."""
    lengths = rng.integers(T // 2, T + 1, batch)
    marks = rng.random((batch, T)) < P_MARK
    tokens = np.where(marks, MARK, rng.integers(2, VOCAB, (batch, T)))
    inside = np.arange(T)[None, :] < lengths[:, None]
    tokens, marks = np.where(inside, tokens, PAD), marks & inside
    c = np.concatenate([np.zeros((batch, 1), np.int64), np.cumsum(marks, 1)], 1)  # c[:, t] = markers before t
    t = np.arange(T)
    past = np.full((batch, T), IGNORE)
    future = np.full((batch, T), IGNORE)
    ok = (t >= K - 1)[None, :] & inside
    past[:, K - 1:] = c[:, K:T + 1] - c[:, :T - K + 1] > 0               # markers in t-K+1 .. t
    past = np.where(ok, past, IGNORE)
    ok = (t[None, :] + K < lengths[:, None])
    future[:, :T - K] = c[:, K + 1:T + 1] - c[:, 1:T - K + 1] > 0        # markers in t+1 .. t+K
    future = np.where(ok, future, IGNORE)
    return tokens, lengths, past, future


class Tagger(nn.Module):
    """Embedding -> GRU (one or two directions) -> a linear layer giving 2 logits per tag."""

    def __init__(self, hidden, bidirectional):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8, padding_idx=PAD)
        self.rnn = nn.GRU(8, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), 4)

    def forward(self, tokens, lengths):
        """Logits (batch, T, 4): [..., :2] for the past tag, [..., 2:] for the future tag."""
        out, _ = self.rnn(self.embed(tokens), lengths=lengths)
        return self.head(out)


def losses(logits, past, future):
    """Cross-entropy of the past tag and of the future tag (padding and partial windows ignored)."""
    flat = logits.reshape(-1, 4)
    return (F.cross_entropy(flat[:, :2], past.reshape(-1), ignore_index=IGNORE),
            F.cross_entropy(flat[:, 2:], future.reshape(-1), ignore_index=IGNORE))


def accuracy(logits, tags, part):
    """Share of scored steps where the argmax of the tag's two logits is right."""
    pred = logits[..., 2 * part:2 * part + 2].argmax(-1)
    ok = tags != IGNORE
    return float((pred[ok] == tags[ok]).mean())


def train(bidirectional, steps, T, hidden, seed, val):
    """Train one tagger; returns the model, its loss curve and validation logits."""
    tb.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Tagger(hidden, bidirectional)
    opt = tb.optim.Adam(model.parameters(), lr=1e-2)
    curve, bar = [], Progress(steps, "bidirectional " if bidirectional else "left-to-right")
    for i in bar:
        tokens, lengths, past, future = tagging_batch(rng, 32, T)
        lp, lf = losses(model(tokens, lengths), past, future)
        loss = lp + lf
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append((lp.item(), lf.item()))
        bar.set(past_loss=curve[-1][0], future_loss=curve[-1][1])
    with tb.no_grad():
        logits = model(val[0], val[1]).numpy()
    return model, np.array(curve), logits


def future_input_gradient(model, tokens, lengths, t):
    """|d future-loss(t) / d embedding(s)| summed over features, for every step s of one sequence."""
    emb = model.embed(tokens[:1]).detach().requires_grad_()
    out, _ = model.rnn(emb, lengths=lengths[:1])
    logit = model.head(out[0, t])[2:]
    logit[1].backward()
    return np.abs(emb.grad.numpy()[0]).sum(1)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv=argv)
    out = out_dir(args, "bidirectional_tagging")
    T, steps, hidden = (20, 150, 16) if args.quick else (40, 200, 24)
    val = tagging_batch(np.random.default_rng(args.seed + 1000), 1000, T)
    t0 = time.perf_counter()
    runs = {bi: train(bi, steps, T, hidden, args.seed, val) for bi in (False, True)}
    acc = {(bi, part): accuracy(runs[bi][2], val[2 + part], part) for bi in runs for part in (0, 1)}
    scored = val[3][val[3] != IGNORE]
    chance = max(scored.mean(), 1 - scored.mean())  # the majority answer on the scored future steps

    print(f"\nvalidation accuracy over {val[0].shape[0]} sequences ({time.perf_counter() - t0:.0f} s of training)")
    print(f"{'':16}{'past tag':>10}{'future tag':>12}")
    for bi in runs:
        print(f"{'bidirectional' if bi else 'left-to-right':16}{acc[bi, 0]:>10.3f}{acc[bi, 1]:>12.3f}")
    print(f"{'majority guess':16}{'':>10}{chance:>12.3f}")

    # the gradient view: the future tag's loss at step t cannot reach the inputs after t in one direction
    t_probe = 3
    grads = {bi: future_input_gradient(runs[bi][0], *val[:2], t_probe) for bi in runs}
    after = slice(t_probe + 1, t_probe + 1 + K)
    print(f"sum |d future-loss({t_probe}) / d input(t)| over t = {t_probe + 1}..{t_probe + K}: "
          f"left-to-right {grads[False][after].sum():.3g}, bidirectional {grads[True][after].sum():.3g}")

    uni_blind = acc[False, 1] < chance + 0.03
    claim("a one-directional RNN cannot beat chance on a tag that depends on the future; "
          "a bidirectional one can (while both learn the past-dependent tag)",
          f"future tag: left-to-right {acc[False, 1]:.3f} vs majority guess {chance:.3f}, bidirectional "
          f"{acc[True, 1]:.3f}; past tag: {acc[False, 0]:.3f} and {acc[True, 0]:.3f}",
          uni_blind and acc[True, 1] > 0.95 and min(acc[False, 0], acc[True, 0]) > 0.95)

    draw_pictures(out, runs, val, chance, acc, grads, t_probe)
    draw_graph(out, runs[True][0], val)
    done(out)
    return {"uni_past": acc[False, 0], "uni_future": acc[False, 1], "bi_past": acc[True, 0],
            "bi_future": acc[True, 1], "chance_future": float(chance),
            "uni_grad_after": float(grads[False][after].sum()), "bi_grad_after": float(grads[True][after].sum())}


def draw_pictures(out, runs, val, chance, acc, grads, t_probe):
    """Loss curves, accuracies, one tagged sequence and the input gradients."""
    pyplot = plt()
    if not pyplot:
        return
    fig, axes = pyplot.subplots(1, 3, figsize=(14, 3.8))
    ax = axes[0]
    for bi, style in ((False, "--"), (True, "-")):
        curve = runs[bi][1]
        w = max(1, len(curve) // 30)
        smooth = np.array([np.convolve(c, np.ones(w) / w, "valid") for c in curve.T])
        name = "bidirectional" if bi else "left-to-right"
        ax.plot(smooth[0], style, color="tab:blue", label=f"{name}: past tag")
        ax.plot(smooth[1], style, color="tab:red", label=f"{name}: future tag")
    ax.axhline(np.log(2), color="gray", ls=":", label="chance (ln 2)")
    ax.set(title="training loss", xlabel="update", ylabel="cross-entropy")
    ax.legend(fontsize=7)
    ax = axes[1]
    x = np.arange(2)
    for j, bi in enumerate((False, True)):
        ax.bar(x + 0.38 * j, [acc[bi, 0], acc[bi, 1]], 0.36,
               label="bidirectional" if bi else "left-to-right")
    ax.axhline(chance, color="gray", ls=":", label="majority guess")
    ax.set(xticks=x + 0.19, xticklabels=["past tag", "future tag"], ylim=(0.4, 1.02),
           title="validation accuracy", ylabel="accuracy")
    ax.legend(fontsize=8, loc="lower left")
    ax = axes[2]
    steps = np.arange(len(grads[True]))
    for bi, style in ((False, "o--"), (True, "o-")):
        ax.semilogy(steps, grads[bi] + 1e-12, style, ms=3, label="bidirectional" if bi else "left-to-right")
    ax.axvline(t_probe, color="gray", ls=":")
    ax.axvspan(t_probe + 0.5, t_probe + K + 0.5, color="tab:red", alpha=0.1, label="the steps the tag is about")
    ax.set(title=f"|d future-loss(t={t_probe}) / d input(s)|", xlabel="input step s", ylim=(1e-8, None))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy.png"), dpi=120)
    pyplot.close(fig)

    # one validation sequence: the tokens, the true future tag and both models' P(future tag = 1)
    tokens, lengths, _, future = val
    n = int(lengths[0])
    probs = {bi: np.exp(runs[bi][2][0, :n, 3]) / np.exp(runs[bi][2][0, :n, 2:]).sum(-1) for bi in runs}
    rows = [tokens[0, :n] == MARK, np.where(future[0, :n] == IGNORE, np.nan, future[0, :n]),
            probs[False], probs[True]]
    fig, ax = pyplot.subplots(figsize=(max(6, n * 0.3), 2.2))
    ax.imshow(np.array(rows, float), cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set(yticks=range(4), yticklabels=["marker", "future tag", "P left-to-right", "P bidirectional"],
           xticks=range(n), xlabel="step")
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(f"future tag = a marker within the next {K} steps", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "example_sequence.png"), dpi=120)
    pyplot.close(fig)


def draw_graph(out, model, val):
    """The unrolled bidirectional graph of a 6-step sequence, coloured by gradient norm."""
    tokens = val[0][:1, :6]
    lengths = np.array([6])
    logits = model(tokens, lengths)
    tags = np.where(np.arange(6) + K < 6, val[3][0, :6], IGNORE)  # only tags whose window fits in the 6 steps
    loss = F.cross_entropy(logits[0, :, 2:], tags, ignore_index=IGNORE)
    render_graph(loss, os.path.join(out, "unrolled_graph.svg"), model, "bidirectional GRU, 6 steps: the bwd chain carries the future back")


if __name__ == "__main__":
    main()
