"""Character-level language model trained with truncated BPTT on Python's own standard library.

    python examples/char_lm.py            # about a minute on a 2-core laptop
    python examples/char_lm.py --resume   # continue from the saved checkpoint
    python examples/char_lm.py --quick    # a few seconds (what the tests run)

Text no one here wrote, present on every machine: the source of a fixed list of
standard-library modules of the running interpreter (``TRAIN_FILES`` and
``VALID_FILES`` below, read from ``sysconfig.get_paths()['stdlib']``; a module
missing from an unusual install is skipped and named).  Training and validation
are split by file, so validation is code the model has never seen.

Model: Embedding -> LSTM -> Linear.  The training text is cut into ``batch``
parallel streams; each update reads the next ``k`` characters of every stream,
backpropagates through those k steps only, clips the gradient norm, takes an
Adam step, and carries the LSTM state into the next window *detached*
(truncated BPTT: exact forward values, gradients cut at the window edge).

Claim: an LSTM trained this way models code better than a bigram count model.
Evidence: validation bits per character of both, on the same split.
"""
import math
import os
import sys
import sysconfig
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Progress, claim, done, out_dir, parse_args, plt, render_graph  # noqa: E402  (before numpy: see common.py)
import numpy as np  # noqa: E402
import tinybptt as tb  # noqa: E402
from tinybptt import nn  # noqa: E402

# Fixed, documented corpus: pure-Python modules present in CPython 3.10 and later.
TRAIN_FILES = ["argparse.py", "ast.py", "bisect.py", "calendar.py", "collections/__init__.py", "configparser.py",
               "contextlib.py", "copy.py", "csv.py", "dataclasses.py", "difflib.py", "enum.py", "fractions.py",
               "functools.py", "heapq.py", "inspect.py", "json/decoder.py", "json/encoder.py", "logging/__init__.py",
               "os.py", "pprint.py", "random.py", "shutil.py", "string.py", "textwrap.py", "threading.py",
               "tokenize.py", "typing.py"]
VALID_FILES = ["queue.py", "statistics.py", "tempfile.py", "glob.py"]

# Vocabulary: newline plus printable ASCII; anything else (tabs, non-ASCII) is read as '?'.
CHARS = "\n" + "".join(chr(c) for c in range(32, 127))
INDEX = {ch: i for i, ch in enumerate(CHARS)}
V = len(CHARS)
UNKNOWN = INDEX["?"]


def read_corpus(names, limit=None):
    """The concatenated text of the named stdlib files as an int64 array of character ids."""
    root = sysconfig.get_paths()["stdlib"]
    ids, missing = [], []
    for name in names:
        path = os.path.join(root, name)
        if not os.path.exists(path):
            missing.append(name)
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            ids.extend(INDEX.get(ch, UNKNOWN) for ch in f.read())
        if limit and len(ids) >= limit:
            break
    if missing:
        print(f"(not in this Python's stdlib, skipped: {', '.join(missing)})")
    if not ids:
        raise SystemExit(f"char_lm: none of {names} found under {root}")
    return np.array(ids[:limit] if limit else ids, dtype=np.int64)


def bigram_bits(train, valid):
    """Validation bits per character of a bigram count model with add-one smoothing."""
    counts = np.ones((V, V))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    probs = counts / counts.sum(1, keepdims=True)
    return float(-np.log2(probs[valid[:-1], valid[1:]]).mean())


class CharLM(nn.Module):
    """Embedding -> LSTM -> Linear over characters."""

    def __init__(self, vocab, embed=32, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def streams(ids, batch):
    """Cut a 1-D id array into ``batch`` equal parallel streams: shape (T, batch)."""
    T = len(ids) // batch
    return ids[:T * batch].reshape(batch, T).T.copy()


@tb.no_grad()
def evaluate(model, data, k):
    """Bits per character of ``model`` on ``data`` (T, B), carrying the state across windows."""
    model.eval()
    total, state = 0.0, None
    for s in range(0, len(data) - 1, k):
        x, y = data[s:s + k], data[s + 1:s + k + 1]
        x = x[:len(y)]
        logits, state = model(tb.tensor(x), state)
        total += nn.functional.cross_entropy(logits.reshape(-1, V), tb.tensor(y.reshape(-1)), reduction="sum").item()
    model.train()
    return total / ((len(data) - 1) * data.shape[1]) / math.log(2)


@tb.no_grad()
def sample(model, prime="def ", n=400, temperature=0.7, rng=None):
    """Generate ``n`` characters after ``prime``, one at a time, feeding each back in."""
    model.eval()
    rng = rng or np.random.default_rng(0)
    state, out = None, prime
    x = tb.tensor(np.array([[INDEX.get(c, UNKNOWN)] for c in prime]))
    for _ in range(n):
        logits, state = model(x, state)
        p = (logits[-1, 0] / temperature).softmax(-1).numpy().astype(np.float64)
        nxt = rng.choice(V, p=p / p.sum())
        out += CHARS[nxt]
        x = tb.tensor([[nxt]])
    model.train()
    return out


def render_window(model, data, path):
    """Render the unrolled graph of one short training window (6 steps, batch 1) after backward."""
    x, y = tb.tensor(data[:6, :1]), tb.tensor(data[1:7, :1])
    logits, _ = model(x)
    loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    return render_graph(loss, path, model, "one TBPTT window of the char LM")


def extra_args(p):
    p.add_argument("--steps", type=int, default=None, help="updates to train (default 1200, quick 150)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], extra=extra_args, argv=argv)
    out = out_dir(args, "char_lm")
    quick = args.quick
    # hidden size, window k, batch of parallel streams, Adam's learning rate
    hidden, k, batch, lr = (64, 32, 16, 1e-2) if quick else (128, 64, 32, 5e-3)
    steps = args.steps or (150 if quick else 1200)
    train_ids = read_corpus(TRAIN_FILES, limit=200_000 if quick else None)
    valid_ids = read_corpus(VALID_FILES, limit=10_000 if quick else 40_000)
    print(f"corpus: {len(train_ids):,} training characters from {len(TRAIN_FILES)} stdlib files, "
          f"{len(valid_ids):,} validation characters from {', '.join(VALID_FILES)}")

    tb.manual_seed(args.seed)
    model = CharLM(V, hidden=hidden)
    params = list(model.parameters())
    opt = tb.optim.Adam(params, lr=lr)
    data, valid = streams(train_ids, batch), streams(valid_ids, 16)
    ckpt = os.path.join(out, "checkpoint.npz")
    start, history = 0, {"step": [], "bpc": [], "val_step": [], "val_bpc": []}
    if args.resume:
        if not os.path.exists(ckpt):
            raise SystemExit(f"char_lm: --resume but no checkpoint at {ckpt}; run once without --resume")
        saved = tb.load(ckpt)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optim"])
        start, history = int(saved["step"]), saved["history"]
        print(f"resumed from {ckpt} at update {start}")

    bigram = bigram_bits(train_ids, valid_ids)
    print(f"bigram count model (add-one smoothing): {bigram:.3f} bits/char on validation")

    # truncated BPTT: window w of every stream, state carried in detached
    windows = (len(data) - 1) // k
    state, bar, t0 = None, Progress(steps, "train"), time.perf_counter()
    for i in bar:
        step = start + i
        s = (step % windows) * k
        if s == 0:
            state = None  # back at the start of the text: fresh state
        x, y = tb.tensor(data[s:s + k]), tb.tensor(data[s + 1:s + k + 1])
        logits, state = model(x, nn.utils.detach_state(state))
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        bpc = loss.item() / math.log(2)
        history["step"].append(step + 1)
        history["bpc"].append(bpc)
        bar.set(bpc=bpc, chars_per_s=int((i + 1) * k * batch / (time.perf_counter() - t0)))
        if (i + 1) % max(steps // 3, 1) == 0 or i + 1 == steps:
            history["val_step"].append(step + 1)
            history["val_bpc"].append(evaluate(model, valid, 128))
    elapsed = time.perf_counter() - t0

    val = history["val_bpc"][-1]
    print(f"trained {steps} updates ({steps * k * batch:,} characters) in {elapsed:.0f} s")
    print("\nsample (temperature 0.7):\n" + "-" * 60 + "\n" + sample(model) + "\n" + "-" * 60)
    claim("an LSTM trained with truncated BPTT predicts unseen code better than a bigram count model",
          f"validation bits/char: LSTM {val:.3f} vs bigram {bigram:.3f} (uniform: {math.log2(V):.3f})",
          val < bigram)

    tb.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": start + steps,
             "history": history}, ckpt)
    print(f"checkpoint: {ckpt} (continue with --resume)")
    graph = render_window(model, data, os.path.join(out, "unrolled_window.svg"))
    pyplot = plt()
    if pyplot:
        fig, ax = pyplot.subplots(figsize=(7, 4))
        ax.plot(history["step"], history["bpc"], lw=0.8, alpha=0.6, label="LSTM, training window")
        ax.plot(history["val_step"], history["val_bpc"], "o-", label="LSTM, validation")
        ax.axhline(bigram, color="k", ls="--", label=f"bigram counts, validation ({bigram:.2f})")
        ax.set(xlabel="update", ylabel="bits per character", title="char LM on the Python stdlib (TBPTT)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, "bits_per_char.png"), dpi=120)
        pyplot.close(fig)
    done(out)
    return {"val_bpc": val, "bigram_bpc": bigram, "steps": start + steps, "checkpoint": ckpt, "graph": graph,
            "seconds": elapsed}


if __name__ == "__main__":
    main()
