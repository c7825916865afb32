"""Gradient clipping: the same tanh RNN diverges without it and trains with it.

    python examples/clipping.py           # a few seconds to half a minute
    python examples/clipping.py --quick   # seconds (what the tests run)

A tanh RNN starts with a large recurrent matrix (entries N(0, (g/sqrt(H))^2), g = 3)
and is trained by plain SGD with a high learning rate to output a running sum of
its recent inputs.  Twice, from the same initial weights and the same batches:

* unclipped: an occasional huge gradient (the steep "cliffs" of a recurrent loss
  surface, Pascanu, Mikolov & Bengio 2013) throws the weights far away; the loss
  then grows without bound until it is inf or NaN;
* clipped: ``nn.utils.clip_grad_norm_(params, 1.0)`` rescales any gradient whose
  norm exceeds 1, so no single step moves the weights by more than lr * 1.

Claim: without clipping the loss diverges (inf/NaN); with clipping it stays finite and goes down.
The picture shows the gradient-norm spikes of both runs (clip_grad_norm_ returns the norm before clipping).
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt  # noqa: E402  (before numpy: see common.py)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402

H, T, LAG = 32, 40, 3


def batches(seed, n, batch=16):
    """``n`` batches of inputs (T, batch, 1) and targets: the sum of the last LAG inputs."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal((T, batch, 1)).astype(np.float32)
        y = np.cumsum(x, 0)
        y[LAG:] -= y[:-LAG].copy()
        out.append((tb.tensor(x), tb.tensor(y)))
    return out


class Model(nn.Module):
    """tanh RNN with a large recurrent matrix, read out at every step."""

    def __init__(self, gain):
        super().__init__()
        self.rnn = nn.RNN(1, H)
        self.head = nn.Linear(H, 1)
        with tb.no_grad():
            nn.init.normal_(self.rnn.weight_hh_l0, 0.0, gain / math.sqrt(H))

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def train(data, clip, lr, seed, label):
    """SGD over ``data``; returns (losses, gradient norms before clipping) per update."""
    tb.manual_seed(seed)
    model = Model(gain=3.0)
    params = list(model.parameters())
    opt = tb.optim.SGD(params, lr=lr)
    losses, norms, bar = [], [], Progress(len(data), label)
    for i in bar:
        x, y = data[i]
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(params, clip).item()  # clip=inf: measure only
        opt.step()
        losses.append(loss.item())
        norms.append(norm)
        bar.set(loss=losses[-1], grad_norm=norm)
        if not math.isfinite(losses[-1]):
            bar.total = i + 1  # diverged: nothing more to learn from this run
    return np.array(losses), np.array(norms)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv=argv)
    out = out_dir(args, "clipping")
    updates, lr, max_norm = (300 if args.quick else 600), 0.5, 1.0
    data = batches(args.seed, updates)
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow to inf/NaN is what we came to see
        plain, plain_norms = train(data, math.inf, lr, args.seed, "unclipped")
    clipped, clipped_norms = train(data, max_norm, lr, args.seed, "clipped  ")

    bad = ~np.isfinite(plain)
    first_bad = int(np.argmax(bad)) + 1 if bad.any() else None
    start, end = clipped[:50].mean(), clipped[-50:].mean()
    print(f"\nlargest gradient norm: unclipped {np.nanmax(plain_norms):.3g}, clipped run (before clipping) "
          f"{np.nanmax(clipped_norms):.3g}; updates with norm > {max_norm} in the clipped run: "
          f"{int((clipped_norms > max_norm).sum())} of {updates}")
    claim("without clipping the loss diverges to inf/NaN; with clip_grad_norm_ it stays finite and decreases",
          (f"unclipped: loss {'non-finite from update ' + str(first_bad) if first_bad else 'finite'} "
           f"(max finite loss {np.nanmax(np.where(np.isfinite(plain), plain, np.nan)):.3g}); clipped: all finite, "
           f"mean loss {start:.3f} (first 50 updates) -> {end:.3f} (last 50)"),
          first_bad is not None and bool(np.isfinite(clipped).all()) and end < 0.6 * start)

    pyplot = plt()
    if pyplot:
        fig, (a, c, b) = pyplot.subplots(1, 3, figsize=(15, 4))
        a.semilogy(np.arange(1, len(plain) + 1), plain, label="unclipped")
        a.semilogy(np.arange(1, updates + 1), clipped, label=f"clip_grad_norm_ to {max_norm}")
        if first_bad:
            a.axvline(first_bad, color="red", ls=":", label=f"loss inf/NaN (update {first_bad})")
        a.set(title=f"training loss, SGD lr={lr}", xlabel="update", ylabel="MSE")
        c.plot(np.arange(1, updates + 1), clipped, color="C1", lw=0.8, label="clipped run")
        c.axhline(3.0, color="gray", ls="--", label="predicting 0 (variance of the target)")
        c.set(title="the clipped run, zoomed in", xlabel="update", ylabel="MSE", ylim=(0, 5))
        b.semilogy(np.arange(1, len(plain_norms) + 1), plain_norms, label="unclipped")
        b.semilogy(np.arange(1, updates + 1), clipped_norms, label="clipped run (norm before clipping)")
        b.axhline(max_norm, color="k", ls="--", lw=0.8, label=f"max_norm = {max_norm}")
        b.set(title="gradient norm per update: the spikes", xlabel="update", ylabel="||grad||")
        for ax in (a, c, b):
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "clipping.png"), dpi=120)
        pyplot.close(fig)
    done(out)
    return {"unclipped_losses": plain, "clipped_losses": clipped, "unclipped_norms": plain_norms,
            "clipped_norms": clipped_norms, "diverged_at": first_bad}


if __name__ == "__main__":
    main()
