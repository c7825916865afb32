"""Benchmark: one training step of causal multi-head self-attention, tinybptt against PyTorch.

MultiheadAttention(embed_dim=128, num_heads=4, batch_first=True), batch 32, sequence 128,
a causal (L, L) mask, need_weights=False: forward, loss = mean(out^2), backward, SGD step.
Each library runs in processes of its own (OpenBLAS's and PyTorch's OpenMP thread pools slow
each other down badly when they share one process), alternating tinybptt, torch, tinybptt, ...
for ``--rounds`` rounds so that machine load hits both alike; a process reports the median of
``--repeats`` steps, and the figures are the medians over rounds (tools/bench_common.py).

    .venv/bin/python tools/bench_attention.py [--repeats 20] [--rounds 3] [--threads 2] [--need-weights]
"""
import argparse

import bench_common


def make_step(lib, batch, seq, embed, heads, need_weights):
    """A closure running one training step of ``lib.nn.MultiheadAttention`` (tinybptt or torch: same API)."""
    import numpy as np
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20, help="timed steps per process (its median is reported)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating tinybptt/torch process rounds")
    ap.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads for both libraries")
    ap.add_argument("--need-weights", action="store_true", help="also return the averaged attention weights")
    ap.add_argument("--batch", type=int, default=32, help="batch size")
    ap.add_argument("--seq", type=int, default=128, help="sequence length")
    ap.add_argument("--worker", metavar="LIB", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    bench_common.set_threads(args.threads)
    shape = (args.batch, args.seq, 128, 4, args.need_weights)
    if args.worker:
        return bench_common.worker(args.worker, lambda lib: make_step(lib, *shape), args.repeats, args.threads)
    from importlib.metadata import version
    opts = ["--repeats", str(args.repeats), "--threads", str(args.threads),
            "--batch", str(args.batch), "--seq", str(args.seq)] + ["--need-weights"] * args.need_weights
    ours, theirs = bench_common.process_times(__file__, opts, args.rounds)
    print(f"MultiheadAttention(128, 4, batch_first=True) causal self-attention, batch {args.batch}, "
          f"seq {args.seq}, need_weights={args.need_weights}, training step; torch {version('torch')}, "
          f"{args.threads} threads, each library in its own processes, median over {args.rounds} rounds "
          f"of the median of {args.repeats} steps:")
    print(f"  tinybptt {ours * 1e3:8.2f} ms   torch {theirs * 1e3:8.2f} ms   "
          f"ratio tinybptt / torch {ours / theirs:.2f}")
    return ours / theirs


if __name__ == "__main__":
    main()
