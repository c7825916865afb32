#!/usr/bin/env python
"""Time viz.draw (building the DOT) and viz.render (dot layout to SVG) on long unrolled graphs.

    .venv/bin/python tools/bench_viz.py            # the cases below, one run each
    .venv/bin/python tools/bench_viz.py --repeat 3

The issue's target: an LSTM over 100 steps in detail='cell' renders in a few seconds.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tinybptt as tb  # noqa: E402
from tinybptt import nn, viz  # noqa: E402

CASES = [  # (label, layers, bidirectional, steps, fused, detail, max_steps)
    ("LSTM 100 steps, cell", 1, False, 100, True, "cell", None),
    ("LSTM 2 layers bidir 100 steps, cell", 2, True, 100, True, "cell", None),
    ("LSTM unfused 100 steps, cell", 1, False, 100, False, "cell", None),
    ("LSTM unfused 20 steps, op", 1, False, 20, False, "op", None),
    ("LSTM 1000 steps, cell, max_steps=20", 1, False, 1000, True, "cell", 20),
]


def run(layers, bidirectional, steps, fused, detail, max_steps, out):
    tb.manual_seed(0)
    m = nn.LSTM(8, 16, num_layers=layers, bidirectional=bidirectional, fused=fused)
    y, _ = m(tb.randn(steps, 4, 8))
    loss = (y[-1] * y[-1]).mean()
    viz.watch(loss).backward()
    t0 = time.perf_counter()
    g = viz.draw(loss, params=dict(m.named_parameters()), detail=detail, max_steps=max_steps)
    t1 = time.perf_counter()
    with open(out, "wb") as f:
        f.write(g.pipe(format="svg"))
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, g.source.count("\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is reported")
    a = p.parse_args(argv)
    print(f"{'case':40} {'draw s':>8} {'dot svg s':>10} {'DOT lines':>10}")
    with tempfile.TemporaryDirectory() as d:
        for label, *case in CASES:
            best = min((run(*case, out=os.path.join(d, "g.svg")) for _ in range(a.repeat)),
                       key=lambda r: r[0] + r[1])
            print(f"{label:40} {best[0]:8.3f} {best[1]:10.3f} {best[2]:10d}")


if __name__ == "__main__":
    main()
