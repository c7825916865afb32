"""Benchmark: one training step of causal multi-head self-attention, tinybptt against PyTorch.

MultiheadAttention(embed_dim=128, num_heads=4, batch_first=True), batch 32, sequence 128,
a causal (L, L) mask, need_weights=False: forward, loss = mean(out^2), backward, SGD step.
Both frameworks run in the same process, interleaved, so machine load affects both alike;
the figures reported are the median (and best) over ``--repeats`` steps of each.

    .venv/bin/python tools/bench_attention.py [--repeats 20] [--threads N] [--need-weights]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def make_step(lib, batch, seq, embed, heads, need_weights):
    """A closure running one training step of ``lib.nn.MultiheadAttention`` (tinybptt or torch: same API)."""
    lib.manual_seed(0)
    mha = lib.nn.MultiheadAttention(embed, heads, batch_first=True)
    opt = lib.optim.SGD(mha.parameters(), lr=0.01)
    x = lib.randn(batch, seq, embed)
    mask = lib.from_numpy(np.triu(np.ones((seq, seq), bool), 1))  # True = masked out

    def step():
        opt.zero_grad()
        out, _ = mha(x, x, x, attn_mask=mask, need_weights=need_weights, is_causal=True)
        (out * out).mean().backward()
        opt.step()
    return step


def median_ms(step, repeats):
    """Median wall time of ``step`` in ms over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    ap.add_argument("--need-weights", action="store_true", help="also return the averaged attention weights")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args(argv)
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    shape = (args.batch, args.seq, 128, 4, args.need_weights)
    import tinybptt
    ours, theirs = make_step(tinybptt, *shape), make_step(torch, *shape)
    for _ in range(3):  # warm up: numba compilation, allocator, BLAS threads
        ours()
        theirs()
    t_ours, t_torch = [], []
    for _ in range(args.repeats):  # interleave, so load changes hit both
        t_ours.append(median_ms(ours, 1))
        t_torch.append(median_ms(theirs, 1))
    a, b = float(np.median(t_ours)), float(np.median(t_torch))
    print(f"MultiheadAttention(128, 4, batch_first=True) causal self-attention, batch {args.batch}, "
          f"seq {args.seq}, need_weights={args.need_weights}, training step, {args.repeats} runs each:")
    print(f"  tinybptt median {a:8.2f} ms (best {min(t_ours):7.2f})   torch {torch.__version__} median {b:8.2f} ms "
          f"(best {min(t_torch):7.2f}), torch threads {torch.get_num_threads()}")
    print(f"  ratio tinybptt / torch: median {a / b:.2f}, best {min(t_ours) / min(t_torch):.2f}")
    return a / b


if __name__ == "__main__":
    main()
