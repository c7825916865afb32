"""Per-op overhead: raw numpy vs tinybptt vs torch (autograd on), side by side.

Each op runs on 16x64 float32 inputs that require grad (matmul: 16x64 @ 64x64).
"fwd" times one op; "fwd+bwd" times the op, a sum, and backward() into the
leaves' .grad.  The numpy column is the same arithmetic written by hand
(forward, and for fwd+bwd the hand-written VJP), i.e. the floor that
recording and walking the tape add to.  Median of many repetitions,
measured with time.perf_counter.

    .venv/bin/python tools/bench_ops.py [--reps 2000] [--threads 1]
"""
import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

import tinybptt as tb  # noqa: E402

try:
    import torch
except ImportError:  # the comparison column is optional
    torch = None


def median_us(fns, reps):
    """Median wall time in microseconds of each fn() in ``fns``.

    The functions take turns within each repetition, so load from other
    processes on a shared machine hits every column alike.
    """
    for _ in range(max(10, reps // 20)):  # warm-up
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(reps):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) * 1e6 for ts in times]


def numpy_cases(a, b, w):
    """Raw numpy forward, and forward plus the hand-written VJP (gradient of sum(y))."""
    def mul_fb():
        y = a * b
        g = np.ones_like(y)
        return g * b, g * a

    def add_fb():
        y = a + b
        g = np.ones_like(y)
        return g, g

    def tanh_fb():
        y = np.tanh(a)
        return np.ones_like(y) * (1 - y * y)

    def matmul_fb():
        y = a @ w
        g = np.ones_like(y)
        return g @ w.T, a.T @ g

    return {"add": (lambda: a + b, add_fb), "mul": (lambda: a * b, mul_fb),
            "tanh": (lambda: np.tanh(a), tanh_fb), "matmul": (lambda: a @ w, matmul_fb)}


def autograd_cases(a, b, w):
    """Forward of one op, and op + sum + backward, for tinybptt or torch tensors."""
    ops = {"add": lambda: a + b, "mul": lambda: a * b, "tanh": lambda: a.tanh(), "matmul": lambda: a @ w}

    def fwd_bwd(f):
        def run():
            f().sum().backward()
        return run
    return {name: (f, fwd_bwd(f)) for name, f in ops.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=2000, help="timed calls per op (the median is reported)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (numpy: set OMP_NUM_THREADS)")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    an, bn = rng.standard_normal((2, 16, 64), dtype=np.float32)
    wn = rng.standard_normal((64, 64), dtype=np.float32)
    columns = {"numpy": numpy_cases(an, bn, wn)}
    t = [tb.tensor(x, requires_grad=True) for x in (an, bn, wn)]
    columns["tinybptt"] = autograd_cases(*t)
    if torch is not None:
        torch.set_num_threads(args.threads)
        columns["torch"] = autograd_cases(*[torch.tensor(x, requires_grad=True) for x in (an, bn, wn)])

    print(f"per-op time in us, median of {args.reps} (16x64 float32, requires_grad; {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, numpy {np.__version__}"
          + (f", torch {torch.__version__} threads={args.threads}" if torch else ", torch not installed") + ")")
    names = list(columns)
    # overhead = time above the numpy floor, i.e. what recording and walking the tape cost
    print(f"{'op':<16}" + "".join(f"{n:>12}" for n in names)
          + ("   tinybptt/torch   overhead tinybptt/torch" if torch else ""))
    for op in ("add", "mul", "tanh", "matmul"):
        for i, phase in enumerate(("fwd", "fwd+bwd")):
            times = median_us([columns[n][op][i] for n in names], args.reps if i == 0 else args.reps // 4)
            ratio = ""
            if torch:
                ratio = f"{times[1] / times[2]:>17.2f}{(times[1] - times[0]) / (times[2] - times[0]):>26.2f}"
            print(f"{op + ' ' + phase:<16}" + "".join(f"{x:>12.2f}" for x in times) + ratio)


if __name__ == "__main__":
    main()
