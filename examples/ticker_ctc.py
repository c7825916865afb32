"""Reading a flickering seven-segment ticker with CTC: no alignment of frames to digits is ever given.

    python examples/ticker_ctc.py            # ~1 min on a 2-core machine
    python examples/ticker_ctc.py --quick    # seconds (what the tests run)

A number scrolls past on a seven-segment display, filmed frame by frame: each frame is the
brightness of the seven segments.  Every digit stays lit for a random 3 to 7 frames, the
display goes dark for 1 to 3 frames between digits, segments flicker off at random and the
camera adds noise.  The target is only the digit string ("40913"), never which frames show
which digit, and the number of frames per digit changes all the time.

A bidirectional LSTM reads the frames (``lengths=`` for the padded batch), a linear layer
gives per-frame log-probabilities over blank + 10 digits, and ``nn.CTCLoss`` (Graves et al.
2006) sums over every alignment of the target with the frames.  Decoding is greedy: the most
likely class per frame, repeats merged, blanks dropped.

Two things the CTC literature reports, measured here: the network learns to transcribe
(character error rate on fresh tickers), and its outputs are "peaky": most frames say blank,
and each digit shows up as a spike of a frame or so, not spread over the frames it is lit.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt, render_graph  # noqa: E402  (sets BLAS threads, finds tinybptt)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402
from tinybptt.nn import functional as F  # noqa: E402

DIGITS = "0123456789"
SEGMENTS = np.array([[int(c) for c in code] for code in (  # segments a b c d e f g of each digit
    "1111110", "0110000", "1101101", "1111001", "0110011", "1011011", "1011111", "1110000", "1111111", "1111011")],
    np.float32)
BLANK = 0  # class 0 is CTC's blank; digit k is class k + 1


def film(number, rng, noise, flicker=0.1):
    """The frames (T, 7) of ``number`` scrolling past, and the first and last frame of each digit."""
    frames, spans = [np.zeros((rng.integers(1, 4), 7), np.float32)], []
    at = len(frames[0])
    for d in number:
        lit = rng.integers(3, 8)
        frames.append(np.repeat(SEGMENTS[int(d)][None], lit, 0) * (rng.random((lit, 7)) > flicker))
        spans.append((at, at + lit - 1))
        dark = rng.integers(1, 4)
        frames.append(np.zeros((dark, 7), np.float32))
        at += lit + dark
    x = np.concatenate(frames)
    return (x + rng.normal(0, noise, x.shape)).astype(np.float32), spans


def ticker_batch(rng, n, noise, digits=(3, 8)):
    """n random numbers: frames padded to (T, n, 7), their lengths, targets (n, S) padded with 0, target
    lengths, the numbers and each digit's frame span."""
    numbers = ["".join(rng.choice(list(DIGITS), rng.integers(digits[0], digits[1] + 1))) for _ in range(n)]
    filmed = [film(w, rng, noise) for w in numbers]
    lengths = np.array([len(f) for f, _ in filmed])
    x = np.zeros((lengths.max(), n, 7), np.float32)
    for b, (f, _) in enumerate(filmed):
        x[:len(f), b] = f
    target_lengths = np.array([len(w) for w in numbers])
    targets = np.zeros((n, target_lengths.max()), np.int64)
    for b, w in enumerate(numbers):
        targets[b, :len(w)] = [int(c) + 1 for c in w]
    return x, lengths, targets, target_lengths, numbers, [sp for _, sp in filmed]


class Reader(nn.Module):
    """Bidirectional LSTM over the frames, then per-frame log-probabilities over blank + 10 digits."""

    def __init__(self, hidden):
        super().__init__()
        self.rnn = nn.LSTM(7, hidden, bidirectional=True)
        self.head = nn.Linear(2 * hidden, 1 + len(DIGITS))

    def forward(self, x, lengths):
        """(T, N, 11) log-probabilities."""
        out, _ = self.rnn(x, lengths=lengths)
        return F.log_softmax(self.head(out), dim=-1)


def greedy_decode(log_probs, lengths):
    """Best class per frame, repeats merged, blanks dropped: one digit string per sequence."""
    best = log_probs.argmax(-1)  # (T, N)
    numbers = []
    for b, n in enumerate(lengths):
        path = best[:n, b]
        keep = (path != BLANK) & np.r_[True, path[1:] != path[:-1]]
        numbers.append("".join(DIGITS[c - 1] for c in path[keep]))
    return numbers


def edit_distance(a, b):
    """Levenshtein distance between two strings."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@tb.no_grad()
def evaluate(model, val):
    """Character error rate, whole-number accuracy, and how peaky the outputs are."""
    x, lengths, _, _, numbers, spans = val
    log_probs = model(tb.tensor(x), lengths).numpy()
    guesses = greedy_decode(log_probs, lengths)
    best = log_probs.argmax(-1)
    valid = np.arange(len(x))[:, None] < lengths[None, :]
    return {"cer": sum(edit_distance(g, w) for g, w in zip(guesses, numbers)) / sum(len(w) for w in numbers),
            "number_acc": float(np.mean([g == w for g, w in zip(guesses, numbers)])),
            "blank_frames": float((best[valid] == BLANK).mean()),
            "frames_per_emission": float((best[valid] != BLANK).sum() / max(sum(len(g) for g in guesses), 1)),
            "frames_per_digit": float(np.mean([e - s + 1 for sp in spans for s, e in sp])),
            "guesses": guesses}


def train(steps, hidden, noise, seed, val):
    """Adam on the CTC loss of fresh batches; returns the model, the loss curve and validation checks."""
    tb.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Reader(hidden)
    opt = tb.optim.Adam(model.parameters(), lr=1e-2)
    ctc = nn.CTCLoss(blank=BLANK)
    curve, checks = [], []
    bar = Progress(steps, "BiLSTM + CTC")
    for i in bar:
        x, lengths, targets, target_lengths, _, _ = ticker_batch(rng, 32, noise)
        loss = ctc(model(tb.tensor(x), lengths), tb.tensor(targets), tb.tensor(lengths), tb.tensor(target_lengths))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        curve.append(loss.item())
        bar.set(ctc=curve[-1])
        if (i + 1) % max(steps // 10, 1) == 0:
            checks.append((i + 1, evaluate(model, val)["cer"]))
            bar.set(cer=checks[-1][1])
    return model, np.array(curve), checks


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv=argv,
                      extra=lambda p: p.add_argument("--steps", type=int, help="updates (default 1000)"))
    out = out_dir(args, "ticker_ctc")
    hidden, steps, noise = (32, 400, 0.3) if args.quick else (48, 1000, 0.4)
    steps = args.steps or steps
    val = ticker_batch(np.random.default_rng(args.seed + 1000), 300, noise)
    model, curve, checks = train(steps, hidden, noise, args.seed, val)
    m = evaluate(model, val)

    print(f"\n{len(val[4])} fresh tickers of 3-8 digits, {val[1].mean():.0f} frames on average, noise sd {noise}")
    for number, guess in list(zip(val[4], m["guesses"]))[:8]:
        print(f"  {number:<9} -> {guess:<9} {'' if number == guess else '(wrong)'}")
    claim("CTC trains a recurrent network to label unsegmented sequences: only the digit string is given, "
          "never which frames show which digit (Graves et al. 2006)",
          f"character error rate {m['cer']:.3f}, whole numbers right {m['number_acc']:.3f} on fresh tickers after "
          f"{steps} updates (all blank would be CER 1.0)",
          m["cer"] < 0.1)
    claim("CTC's outputs are peaky: blank on most frames, each label a short spike",
          f"blank is the best class on {m['blank_frames']:.0%} of frames; an emitted digit is the best class on "
          f"{m['frames_per_emission']:.1f} frames while a digit is lit for {m['frames_per_digit']:.1f}",
          m["blank_frames"] > 0.6 and m["frames_per_emission"] < m["frames_per_digit"] / 2)

    draw_pictures(out, model, curve, checks, val)
    x, lengths, targets, target_lengths, _, _ = ticker_batch(np.random.default_rng(7), 1, noise, digits=(2, 2))
    loss = nn.CTCLoss()(model(tb.tensor(x), lengths), tb.tensor(targets), tb.tensor(lengths), tb.tensor(target_lengths))
    render_graph(loss, os.path.join(out, "unrolled_graph.svg"), model,
                 f"bidirectional LSTM + CTC on a {len(x)}-frame, 2-digit ticker")
    done(out)
    return {k: m[k] for k in ("cer", "number_acc", "blank_frames", "frames_per_emission", "frames_per_digit")} | \
        {"first_loss": float(curve[:10].mean()), "last_loss": float(curve[-10:].mean())}


def draw_pictures(out, model, curve, checks, val):
    """The loss and error rate while training, and per-frame probabilities over two validation tickers."""
    pyplot = plt()
    if not pyplot:
        return
    fig, axes = pyplot.subplots(1, 2, figsize=(11, 3.4))
    w = max(1, len(curve) // 40)
    axes[0].semilogy(np.convolve(curve, np.ones(w) / w, "valid"))
    axes[0].set(title="CTC loss (training batches)", xlabel="update")
    axes[1].plot(*zip(*checks), "o-")
    axes[1].set(title="character error rate (validation)", xlabel="update", ylim=(0, 1.05))
    fig.tight_layout()
    fig.savefig(os.path.join(out, "training.png"), dpi=120)
    pyplot.close(fig)

    x, lengths, _, _, numbers, spans = val
    with tb.no_grad():
        probs = np.exp(model(tb.tensor(x[:, :2]), lengths[:2]).numpy())
    fig, axes = pyplot.subplots(4, 1, figsize=(12, 7), sharex=True, gridspec_kw={"height_ratios": [1, 1.4, 1, 1.4]})
    for b in range(2):
        n = lengths[b]
        frames_ax, probs_ax = axes[2 * b], axes[2 * b + 1]
        frames_ax.imshow(x[:n, b].T, aspect="auto", cmap="gray_r", interpolation="nearest", vmin=-0.3, vmax=1.3)
        frames_ax.set(yticks=range(7), yticklabels=list("abcdefg"), ylabel="segment")
        probs_ax.plot(probs[:n, b, BLANK], color="0.3", ls=":", label="P(blank)")
        for d, (s, e) in zip(numbers[b], spans[b]):
            probs_ax.plot(probs[:n, b, int(d) + 1], lw=1.5, color=pyplot.cm.tab10(int(d)))
            probs_ax.axvspan(s - 0.5, e + 0.5, color="tab:blue", alpha=0.08)
            probs_ax.text((s + e) / 2, 1.08, d, ha="center", fontsize=10)
        probs_ax.set(ylim=(-0.05, 1.25), ylabel="probability")
    axes[1].legend(fontsize=8, loc="center right")
    axes[-1].set_xlabel("frame (shaded: where each digit is lit)")
    fig.suptitle("frames and per-frame outputs: each digit fires as a spike, blank in between", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "spikes.png"), dpi=120)
    pyplot.close(fig)


if __name__ == "__main__":
    main()
