"""Multi-task sequence model: find a motif in DNA with one shared recurrent trunk and two heads.

    python examples/dna_multitask.py            # ~15 s on a 2-core machine
    python examples/dna_multitask.py --quick    # seconds (what the tests run)

Random DNA (A, C, G, T uniform) in which half of the sequences carry the 7-base
motif TGACTCA (the AP-1 binding site) at a random place.  To make the task about the
whole motif and not a few letters, half of the other sequences carry a decoy: the
motif with one base changed.  Labels are computed by scanning, so they are exact.

One bidirectional GRU (the shared trunk) reads the sequence; two heads read it:

    many-to-one   Linear(final states of both directions) -> does the sequence contain the motif?
    many-to-many  Linear(state at every base)             -> is this base inside a motif?

and the model is trained on the sum of both cross-entropies (Caruana 1997).  The
script reports both metrics, and trains the same trunk on the sequence label alone
for comparison: the per-base labels are dense supervision that tells the trunk
where to look, which the single-task model has to find out from one bit per sequence.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt, render_graph  # noqa: E402  (sets BLAS threads, finds tinybptt)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402
from tinybptt.nn import functional as F  # noqa: E402

BASES = "ACGT"
MOTIF = "TGACTCA"


def dna_batch(rng, n, length):
    """Bases (n, length) as ids 0..3, sequence labels (n,) and per-base labels (n, length)."""
    seqs = rng.integers(4, size=(n, length))
    motif = np.array([BASES.index(b) for b in MOTIF])
    kind = rng.integers(4, size=n)  # 0, 1: motif; 2: decoy; 3: plain random
    for i in np.flatnonzero(kind <= 2):
        at = rng.integers(length - len(MOTIF) + 1)
        piece = motif.copy()
        if kind[i] == 2:  # decoy: one base changed to another
            j = rng.integers(len(MOTIF))
            piece[j] = (piece[j] + rng.integers(1, 4)) % 4
        seqs[i, at:at + len(MOTIF)] = piece
    inside = np.zeros((n, length), np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(seqs, len(MOTIF), axis=1)  # (n, L-m+1, m)
    for i, start in zip(*np.nonzero((windows == motif).all(-1))):
        inside[i, start:start + len(MOTIF)] = 1
    return seqs, inside.max(1), inside


class MotifFinder(nn.Module):
    """Shared bidirectional GRU trunk; a sequence head (many-to-one) and a per-base head (many-to-many)."""

    def __init__(self, hidden):
        super().__init__()
        self.embed = nn.Embedding(4, 8)
        self.trunk = nn.GRU(8, hidden, batch_first=True, bidirectional=True)
        self.seq_head = nn.Linear(2 * hidden, 2)
        self.base_head = nn.Linear(2 * hidden, 2)

    def forward(self, bases):
        """(sequence logits (N, 2), per-base logits (N, L, 2))."""
        out, h_n = self.trunk(self.embed(bases))
        final = tb.cat([h_n[0], h_n[1]], dim=1)  # forward's last step and backward's first step
        return self.seq_head(final), self.base_head(out)


def train(multitask, steps, length, hidden, seed, val):
    """Train on the sum of both losses (or on the sequence loss alone); returns model, losses, checks, metrics."""
    tb.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = MotifFinder(hidden)
    params = list(model.parameters())
    opt = tb.optim.Adam(params, lr=5e-3)
    curve, checks = [], []
    bar = Progress(steps, "multi-task      " if multitask else "sequence only   ")
    for i in bar:
        bases, has, inside = dna_batch(rng, 32, length)
        seq_logits, base_logits = model(bases)
        seq_loss = F.cross_entropy(seq_logits, has)
        base_loss = F.cross_entropy(base_logits.reshape(-1, 2), inside.reshape(-1))
        loss = seq_loss + base_loss if multitask else seq_loss
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        curve.append((seq_loss.item(), base_loss.item()))
        bar.set(seq_loss=curve[-1][0], base_loss=curve[-1][1])
        if (i + 1) % max(steps // 10, 1) == 0 or i + 1 == steps:
            checks.append((i + 1, metrics(model, [v[:300] for v in val])))  # a cheaper check on 300
            bar.set(seq_acc=checks[-1][1]["seq_acc"])
    return model, np.array(curve), checks, metrics(model, val)


@tb.no_grad()
def metrics(model, val):
    """Sequence accuracy, per-base F1 / precision / recall / accuracy on the validation set."""
    bases, has, inside = val
    seq_logits, base_logits = model(bases)
    seq_pred = seq_logits.numpy().argmax(1)
    base_pred = base_logits.numpy().argmax(-1)
    tp = int(((base_pred == 1) & (inside == 1)).sum())
    precision = tp / max(int((base_pred == 1).sum()), 1)
    recall = tp / max(int((inside == 1).sum()), 1)
    return {"seq_acc": float((seq_pred == has).mean()),
            "base_f1": 2 * precision * recall / max(precision + recall, 1e-12),
            "base_precision": precision, "base_recall": recall,
            "base_acc": float((base_pred == inside).mean())}


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv=argv,
                      extra=lambda p: p.add_argument("--steps", type=int, help="updates per model (default 300)"))
    out = out_dir(args, "dna_multitask")
    length, hidden, steps = (40, 24, 200) if args.quick else (50, 32, 300)
    steps = args.steps or steps
    val = dna_batch(np.random.default_rng(args.seed + 1000), 1000, length)
    runs = {mt: train(mt, steps, length, hidden, args.seed, val) for mt in (True, False)}
    m = {mt: runs[mt][3] for mt in runs}
    majority = max(val[1].mean(), 1 - val[1].mean())
    all_zero = 1 - val[2].mean()

    print(f"\n{len(val[1])} validation sequences of {length} bases ({val[1].mean():.0%} contain {MOTIF}, "
          f"{val[2].mean():.1%} of bases are inside one)")
    print(f"{'':22}{'sequence acc':>13}{'per-base F1':>12}{'precision':>10}{'recall':>8}{'base acc':>9}")
    r = m[True]
    print(f"{'multi-task (shared)':22}{r['seq_acc']:>13.3f}{r['base_f1']:>12.3f}{r['base_precision']:>10.3f}"
          f"{r['base_recall']:>8.3f}{r['base_acc']:>9.3f}")
    print(f"{'sequence loss only':22}{m[False]['seq_acc']:>13.3f}{'(no per-base training)':>39}")
    print(f"{'baseline':22}{majority:>13.3f}{0.0:>12.3f}{'':>10}{'':>8}{all_zero:>9.3f}   (majority / all 'outside')")

    mt = m[True]
    claim("one recurrent trunk trained on the sum of a many-to-one and a many-to-many loss learns both tasks",
          f"sequence accuracy {mt['seq_acc']:.3f} (majority guess {majority:.3f}); per-base F1 {mt['base_f1']:.3f} "
          f"(precision {mt['base_precision']:.3f}, recall {mt['base_recall']:.3f})",
          mt["seq_acc"] > 0.95 and mt["base_f1"] > 0.9)
    claim("the dense per-base task helps the sequence task (multi-task learning as an inductive bias)",
          f"sequence accuracy after {steps} updates: multi-task {mt['seq_acc']:.3f} vs sequence loss only "
          f"{m[False]['seq_acc']:.3f}; halfway: {halfway(runs[True][2], steps):.3f} vs "
          f"{halfway(runs[False][2], steps):.3f}",
          mt["seq_acc"] > m[False]["seq_acc"])

    draw_pictures(out, runs, val)
    draw_graph(out, runs[True][0])
    done(out)
    return {"seq_acc": mt["seq_acc"], "base_f1": mt["base_f1"], "base_acc": mt["base_acc"],
            "seq_acc_single_task": m[False]["seq_acc"], "majority": float(majority), "all_outside": float(all_zero)}


def halfway(checks, steps):
    """Sequence accuracy at the first check at or after half the updates."""
    return next(r["seq_acc"] for u, r in checks if u >= steps // 2)


def draw_pictures(out, runs, val):
    """Accuracy while training, and what the per-base head sees on a few validation sequences."""
    pyplot = plt()
    if not pyplot:
        return
    fig, axes = pyplot.subplots(1, 2, figsize=(11, 3.6))
    for mt, style in ((True, "o-"), (False, "s--")):
        name = "multi-task" if mt else "sequence loss only"
        u = [c[0] for c in runs[mt][2]]
        axes[0].plot(u, [c[1]["seq_acc"] for c in runs[mt][2]], style, ms=3, label=f"{name}: sequence accuracy")
        if mt:
            axes[0].plot(u, [c[1]["base_f1"] for c in runs[mt][2]], style, ms=3, label=f"{name}: per-base F1")
    axes[0].set(title="validation (300 sequences)", xlabel="update", ylim=(0, 1.02))
    axes[0].legend(fontsize=8)
    curve = runs[True][1]
    w = max(1, len(curve) // 30)
    for k, name in enumerate(("sequence loss", "per-base loss")):
        axes[1].semilogy(np.convolve(curve[:, k], np.ones(w) / w, "valid"), label=f"multi-task: {name}")
    axes[1].semilogy(np.convolve(runs[False][1][:, 0], np.ones(w) / w, "valid"), "--",
                     label="sequence only: sequence loss")
    axes[1].set(title="training loss", xlabel="update")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "training.png"), dpi=120)
    pyplot.close(fig)

    # per-base P(inside) on a sequence with the motif, one with a decoy-like miss, one without
    bases, has, inside = val
    model = runs[True][0]
    with tb.no_grad():
        seq_logits, base_logits = model(bases[:40])
    p_base = softmax1(base_logits.numpy())
    p_seq = softmax1(seq_logits.numpy())
    picks = [i for i in range(40) if has[i]][:2] + [i for i in range(40) if not has[i]][:2]
    fig, axes = pyplot.subplots(len(picks), 1, figsize=(12, 1.3 * len(picks)), sharex=True)
    for ax, i in zip(axes, picks):
        ax.bar(range(bases.shape[1]), p_base[i], color="tab:red", alpha=0.7, label="P(inside motif)")
        ax.step(range(bases.shape[1]), inside[i], where="mid", color="black", lw=1, label="truth")
        for j, b in enumerate(bases[i]):
            ax.text(j, 1.08, BASES[b], ha="center", fontsize=6, family="monospace")
        ax.set(ylim=(0, 1.3), yticks=[0, 1])
        ax.set_ylabel(f"P(seq)={p_seq[i]:.2f}", fontsize=8)
    axes[0].legend(fontsize=7, loc="upper right", ncol=2)
    axes[-1].set_xlabel("base")
    fig.suptitle(f"per-base head on validation sequences (motif {MOTIF})", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "per_base.png"), dpi=120)
    pyplot.close(fig)


def softmax1(logits):
    """P(class 1) from two-class logits (last axis)."""
    return 1 / (1 + np.exp(logits[..., 0] - logits[..., 1]))


def draw_graph(out, model):
    """The unrolled trunk on a 9-base sequence with both heads and the summed loss."""
    bases, has, inside = dna_batch(np.random.default_rng(5), 1, 9)
    seq_logits, base_logits = model(bases)
    loss = F.cross_entropy(seq_logits, has) + F.cross_entropy(base_logits.reshape(-1, 2), inside.reshape(-1))
    render_graph(loss, os.path.join(out, "unrolled_graph.svg"), model,
                 "shared bidirectional trunk, 9 bases: seq_head reads the final states, base_head every step")


if __name__ == "__main__":
    main()
