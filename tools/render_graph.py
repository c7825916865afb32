#!/usr/bin/env python
"""Render the unrolled graph of a named example model, coloured by gradient norms, to a file.

    .venv/bin/python tools/render_graph.py rnn -o rnn.svg --steps 6
    .venv/bin/python tools/render_graph.py bilstm -o bilstm.png --steps 5
    .venv/bin/python tools/render_graph.py lstm -o long.svg --steps 1000 --max-steps 8
    .venv/bin/python tools/render_graph.py seq2seq -o attention.svg

Models: rnn, lstm, gru (one layer), bilstm (2 layers, bidirectional), seq2seq (GRU encoder,
GRUCell decoder with dot attention).  The script runs a forward pass, ``viz.watch(loss)``,
``loss.backward()`` and ``viz.render``; it prints the per-step gradient norms of the hidden state.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinybptt as tb  # noqa: E402
from tinybptt import nn, viz  # noqa: E402

MODELS = ("rnn", "lstm", "gru", "bilstm", "seq2seq")


def build(model, steps=6, batch=2, size=4, hidden=8, fused=True, loss="auto", seed=0):
    """Run ``model`` forward on random data; returns (loss, {name: parameter}).

    loss='last' reads only the last step's output (so the gradient has to travel back through
    every step); 'all' reads every step (a sequence tagger); 'auto' is 'last' for one direction
    and 'all' for bidirectional models.
    """
    if model not in MODELS:
        raise ValueError(f"render_graph: unknown model {model!r}; choose one of {', '.join(MODELS)}")
    tb.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = tb.tensor(rng.standard_normal((steps, batch, size)).astype(np.float32))
    if model == "seq2seq":
        return _seq2seq(x, hidden, fused)
    bidirectional = model == "bilstm"
    cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU, "bilstm": nn.LSTM}[model]
    rnn = cls(size, hidden, num_layers=2 if bidirectional else 1, bidirectional=bidirectional, fused=fused)
    head = nn.Linear(hidden * (2 if bidirectional else 1), 1)
    y, _ = rnn(x)
    if loss == "auto":
        loss = "all" if bidirectional else "last"
    out = head(y[-1] if loss == "last" else y)
    value = (out * out).mean()
    params = {f"{model}.{k}": v for k, v in rnn.named_parameters()}
    params.update({f"head.{k}": v for k, v in head.named_parameters()})
    return value, params


def _seq2seq(x, hidden, fused, out_steps=4):
    """GRU encoder over x; a GRUCell decoder whose every step attends to all encoder steps."""
    enc = nn.GRU(x.shape[-1], hidden, fused=fused)
    cell = nn.GRUCell(hidden, hidden, fused=fused)
    attn = nn.DotAttention(hidden, hidden, method="general")
    head = nn.Linear(hidden, 1)
    ys, h_n = enc(x)
    keys = ys.transpose(0, 1)                      # (B, T, H)
    h, context, total = h_n[0], tb.zeros(x.shape[1], hidden), 0.0
    for s in range(out_steps):
        with tb.scope("decoder"), tb.scope(f"t={s}"):
            h = cell(context, h)
            context, _ = attn(h, keys)
            o = head(context + h)
        total = total + (o * o).mean()
    params = {}
    for name, m in (("encoder", enc), ("decoder", cell), ("attn", attn), ("head", head)):
        params.update({f"{name}.{k}": v for k, v in m.named_parameters()})
    return total, params


def main(argv=None):
    p = argparse.ArgumentParser(description="Render the unrolled graph of an example model.")
    p.add_argument("model", choices=MODELS, help="the example model to build and draw")
    p.add_argument("-o", "--out", required=True, help="output file: .svg, .png or .pdf")
    p.add_argument("--steps", type=int, default=6, help="time steps to unroll (default 6)")
    p.add_argument("--batch", type=int, default=2, help="batch size (default 2)")
    p.add_argument("--hidden", type=int, default=8, help="hidden size (default 8)")
    p.add_argument("--detail", choices=("cell", "op"), default="cell",
                   help="one node per cell step, or one per primitive op (use with --unfused)")
    p.add_argument("--max-steps", type=int, default=None, help="draw only the first and last steps, eliding the middle")
    p.add_argument("--unfused", action="store_true", help="build cells from primitives (fused=False)")
    p.add_argument("--loss", choices=("auto", "last", "all"), default="auto",
                   help="loss on the last step's output or on every step (auto: all for bilstm, else last)")
    p.add_argument("--no-grad", action="store_true", help="skip backward: draw the forward graph only")
    p.add_argument("--rankdir", default="LR", help="Graphviz layout direction (default LR: time left to right)")
    p.add_argument("--title", default=None, help="caption (default: model, steps and detail)")
    p.add_argument("--seed", type=int, default=0, help="random seed for weights and data")
    a = p.parse_args(argv)
    loss, params = build(a.model, a.steps, a.batch, hidden=a.hidden, fused=not a.unfused, loss=a.loss,
                         seed=a.seed)
    if not a.no_grad:
        viz.watch(loss).backward()
        for seq, norms in viz.grad_norms_by_step(loss).items():
            print(f"{seq:>16}  ||dL/dh_t||: " + " ".join(f"{v:.2e}" for v in norms))
    title = a.title or f"{a.model}: {a.steps} steps, detail='{a.detail}'"
    viz.render(loss, a.out, params=params, detail=a.detail, max_steps=a.max_steps, rankdir=a.rankdir,
               title=title, show_grad=not a.no_grad)
    print(f"wrote {a.out}")
    return a.out


if __name__ == "__main__":
    main()
