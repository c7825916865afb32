"""Benchmark: recurrent training steps, tinybptt against PyTorch, plus kernels and cold start.

Each config runs one training step (forward, loss, backward, SGD step) in float32.  Each
library runs in processes of its own (their thread pools, OpenBLAS's and PyTorch's OpenMP,
slow each other down badly when they share one process), alternating tinybptt, torch,
tinybptt, ... for ``--rounds`` rounds so that machine load hits both alike; a process
reports the median of ``--repeats`` steps, the table the median over rounds (the timing is
tools/bench_common.py's, shared with bench_attention.py).  Beside each time: the GEMM FLOPs
of the step divided by the time, as a fraction of this machine's measured BLAS rate, and
the time of the step's BLAS calls alone (``make_gemms``): what numpy's BLAS leaves for the rest.

    .venv/bin/python tools/bench_rnn.py [--repeats 10] [--rounds 3] [--threads 2]
                                        [--only lstm,gru] [--no-kernels] [--no-cold]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import bench_common

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

CONFIGS = {  # name: (cell, batch, seq, input, hidden, layers, bidirectional)
    "rnn": ("RNN", 16, 50, 32, 64, 1, False),
    "lstm": ("LSTM", 32, 64, 128, 256, 1, False),
    "gru": ("GRU", 64, 128, 256, 512, 1, False),
    "bilstm": ("LSTM", 32, 64, 64, 128, 2, True),
    "charlm": ("LSTM", 32, 100, 64, 256, 1, False),  # Embedding(96, 64) -> LSTM -> Linear(256, 96)
}
VOCAB = 96


def step_flops(cfg):
    """GEMM FLOPs of one training step: forward 2*T*B*G*(I+H) per layer direction, backward twice that."""
    cell, b, t, i, h, layers, bidir = cfg
    g = {"RNN": 1, "LSTM": 4, "GRU": 3}[cell] * h
    d = 2 if bidir else 1
    f = sum(d * 2 * t * b * g * ((i if k == 0 else d * h) + h) for k in range(layers))
    return 3 * f


def charlm_flops(cfg):
    _, b, t, _, h, _, _ = cfg
    return step_flops(cfg) + 3 * 2 * t * b * h * VOCAB


def gemm_rate(np, n=1024, reps=30):
    """Measured float32 GEMM rate (FLOP/s) of numpy's BLAS at n x n x n (best of ``reps``)."""
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    a @ b
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / min(times)


def make_step(lib, name, cfg, data):
    """One training step of config ``name`` written once for both libraries (tinybptt mirrors torch's API)."""
    cell, b, t, i, h, layers, bidir = cfg
    lib.manual_seed(0)
    rnn = getattr(lib.nn, cell)(i, h, num_layers=layers, bidirectional=bidir)
    mods = [rnn]
    if name == "charlm":
        emb, head = lib.nn.Embedding(VOCAB, i), lib.nn.Linear(h, VOCAB)
        mods += [emb, head]
    params = [p for m in mods for p in m.parameters()]
    opt = lib.optim.SGD(params, lr=0.01)
    x, y = (lib.from_numpy(a) for a in data)

    def step():
        opt.zero_grad()
        if name == "charlm":
            out, _ = rnn(emb(x))
            loss = lib.nn.functional.cross_entropy(head(out).reshape(-1, VOCAB), y.reshape(-1))
        else:
            out, _ = rnn(x)
            loss = lib.nn.functional.mse_loss(out, y)
        loss.backward()
        opt.step()
    return step


def make_tinybptt(name, cfg, data):
    import tinybptt
    return make_step(tinybptt, name, cfg, data)


def data_for(np, name, cfg):
    cell, b, t, i, h, layers, bidir = cfg
    r = np.random.default_rng(0)
    if name == "charlm":
        return r.integers(0, VOCAB, (t, b)), r.integers(0, VOCAB, (t, b))
    d = 2 if bidir else 1
    return r.standard_normal((t, b, i)).astype(np.float32), r.standard_normal((t, b, d * h)).astype(np.float32)


def make_gemms(name, cfg):
    """The BLAS calls of one tinybptt training step alone, same shapes and layouts, nothing else.

    Per layer direction (T steps, batch B, input I, hidden H, G gate rows): forward the input
    projection X W_ih^T and T products W_hh h_{t-1}^T; backward T - 1 products W_hh^T dhh_t^T
    (the first step's initial state needs none), dW_hh and dW_ih over all steps, and dX when
    the input needs a gradient (upper layers, the char LM's embedding); the char LM adds its
    head's three.  Their time is the floor tinybptt's step could reach with numpy's BLAS.
    """
    import numpy as np
    cell, b, t, i, h, layers, bidir = cfg
    g, d = {"RNN": 1, "LSTM": 4, "GRU": 3}[cell] * h, 2 if bidir else 1
    r = np.random.default_rng(0)
    f32 = lambda *s: r.standard_normal(s).astype(np.float32)  # noqa: E731
    dirs = []
    for k in range(layers):
        n_in = i if k == 0 else d * h
        for _ in range(d):
            dirs.append((f32(t * b, n_in), f32(g, n_in), f32(g, h), f32(t * b, g), f32(t + 1, b, h),
                         k > 0 or name == "charlm"))
    head = (f32(t * b, h), f32(VOCAB, h), f32(t * b, VOCAB)) if name == "charlm" else None

    def step():
        for x, w_ih, w_hh, dg, hs, need_dx in dirs:
            x @ np.ascontiguousarray(w_ih.T)
            for s in range(t):
                w_hh @ hs[s].T
            w_hh_t = np.ascontiguousarray(w_hh.T)
            for s in range(1, t):
                w_hh_t @ dg[s * b:(s + 1) * b].T
            dg.T @ hs[:-1].reshape(t * b, h)
            dg.T @ x
            if need_dx:
                dg @ w_ih
        if head:
            out, w, dy = head
            out @ w.T
            dy @ w
            dy.T @ out
    return step


def worker(lib, name, repeats, threads):
    """Run in a fresh process: print the median step time of one library (or "gemms") on one config."""
    import numpy as np
    cfg = CONFIGS[name]
    if lib == "gemms":
        return print(bench_common.median_time(make_gemms(name, cfg), repeats))
    bench_common.worker(lib, lambda m: make_step(m, name, cfg, data_for(np, name, cfg)), repeats, threads)


# ---------------------------------------------------------------- kernel micro-benchmark
def bench_kernels(np, repeats=200):
    """Each fused cell kernel against the numpy expression it replaces (float32)."""
    from tinybptt import rnn_kernels as K
    print("\nfused step kernels vs numpy (float32, median us per call)")
    print(f"{'kernel':<16}{'shape':>12}{'numba':>10}{'numpy':>10}{'speedup':>9}")

    def sig(a):
        return 1 / (1 + np.exp(-a))

    for b, h in ((32, 256), (64, 512)):
        r = np.random.default_rng(0)
        f32 = lambda *s: r.standard_normal(s).astype(np.float32)  # noqa: E731
        act = np.ones(b, bool)
        xp4, hh4, hp, cp, dh, dc = f32(b, 4 * h), f32(b, 4 * h), f32(b, h), f32(b, h), f32(b, h), f32(b, h)
        out = [np.empty((b, h), np.float32) for _ in range(3)]
        # the kernels take the recurrent product transposed, as BLAS gives it, and the biases
        t_ = lambda a: np.ascontiguousarray(a.T)  # noqa: E731
        hh4_t, acts4, bias = t_(hh4), np.empty((b, 4 * h), np.float32), np.zeros(4 * h, np.float32)

        def lstm_nb():
            K.lstm_forward(xp4, bias, hh4_t, bias, hp, cp, act, acts4, *out)

        def lstm_np():
            a = xp4 + hh4
            i, f, g, o = sig(a[:, :h]), sig(a[:, h:2 * h]), np.tanh(a[:, 2 * h:3 * h]), sig(a[:, 3 * h:])
            c = f * cp + i * g
            tc = np.tanh(c)
            return o * tc, c, tc
        acts = np.concatenate([sig(f32(b, h)), sig(f32(b, h)), np.tanh(f32(b, h)), sig(f32(b, h))], 1)
        tc = np.tanh(f32(b, h))
        dg, dcp, dd = np.empty((b, 4 * h), np.float32), np.empty((b, h), np.float32), np.empty((b, h), np.float32)

        def lstm_bw_nb():
            K.lstm_backward(acts, cp, tc, dh, dc, act, dg, dcp, dd)

        def lstm_bw_np():
            i, f, g, o = acts[:, :h], acts[:, h:2 * h], acts[:, 2 * h:3 * h], acts[:, 3 * h:]
            dct = dc + dh * o * (1 - tc * tc)
            return np.concatenate([dct * g * i * (1 - i), dct * cp * f * (1 - f), dct * i * (1 - g * g),
                                   dh * tc * o * (1 - o)], 1), dct * f

        xp3, hh3 = f32(b, 3 * h), f32(b, 3 * h)
        hh3_t, acts3_out = t_(hh3), np.empty((b, 3 * h), np.float32)

        def gru_nb():
            K.gru_forward(xp3, bias[:3 * h], hh3_t, bias[:3 * h], hp, act, acts3_out, out[0], out[1])

        def gru_np():
            r_ = sig(xp3[:, :h] + hh3[:, :h])
            z = sig(xp3[:, h:2 * h] + hh3[:, h:2 * h])
            n = np.tanh(xp3[:, 2 * h:] + r_ * hh3[:, 2 * h:])
            return n + z * (hp - n)

        acts3 = np.concatenate([sig(f32(b, h)), sig(f32(b, h)), f32(b, h)], 1)
        n3 = np.tanh(f32(b, h))
        dx3, dh3, dd3 = np.empty((b, 3 * h), np.float32), np.empty((b, 3 * h), np.float32), np.empty((b, h), np.float32)

        def gru_bw_nb():
            K.gru_backward(acts3, n3, hp, dh, act, dx3, dh3, dd3)

        def gru_bw_np():
            r_, z, hn = acts3[:, :h], acts3[:, h:2 * h], acts3[:, 2 * h:]
            dn = dh * (1 - z) * (1 - n3 * n3)
            dz = dh * (hp - n3) * z * (1 - z)
            dr = dn * hn * r_ * (1 - r_)
            return np.concatenate([dr, dz, dn], 1), np.concatenate([dr, dz, dn * r_], 1), dh * z

        xp1, hh1 = f32(b, h), f32(b, h)
        hh1_t, y = t_(hh1), np.empty((b, h), np.float32)

        def rnn_nb():
            K.rnn_forward(xp1, bias[:h], hh1_t, bias[:h], hp, act, False, False, y, out[0])

        def rnn_np():
            return np.tanh(xp1 + hh1)

        for name, nb, ref in (("lstm_forward", lstm_nb, lstm_np), ("lstm_backward", lstm_bw_nb, lstm_bw_np),
                              ("gru_forward", gru_nb, gru_np), ("gru_backward", gru_bw_nb, gru_bw_np),
                              ("rnn_forward", rnn_nb, rnn_np)):
            a, c = (bench_common.median_time(f, repeats) * 1e6 for f in (nb, ref))
            print(f"{name:<16}{f'({b},{h})':>12}{a:>10.1f}{c:>10.1f}{c / a:>8.1f}x")


# ---------------------------------------------------------------- cold start
COLD = """
import time, sys
t0 = time.perf_counter()
import tinybptt as tb
t_import = time.perf_counter() - t0
sys.path.insert(0, {tools!r})
import numpy as np
from bench_rnn import CONFIGS, make_tinybptt, data_for
cfg = CONFIGS["lstm"]
step = make_tinybptt("lstm", cfg, data_for(np, "lstm", cfg))
t0 = time.perf_counter()
step()
print(t_import, time.perf_counter() - t0)
"""


def cold_start():
    """import time and first LSTM step, each in a fresh process, with an empty then a warm numba cache."""
    print("\ncold start (fresh processes, LSTM config)")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        # Python's bytecode cache as an installed package has it (pip writes it): allowed, and written once
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-c", "import tinybptt"], env=env, cwd=ROOT, check=True)
        code = COLD.format(tools=os.path.dirname(os.path.abspath(__file__)))
        for label in ("empty numba cache", "warm numba cache"):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                print(out.stderr)
                return
            t_import, t_first = map(float, out.stdout.split()[-2:])
            print(f"  {label:<18}: import tinybptt {t_import:.3f} s, first training step {t_first:.3f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(CONFIGS))
    ap.add_argument("--no-kernels", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    bench_common.set_threads(args.threads)
    if args.worker:
        return worker(*args.worker, args.repeats, args.threads)
    import numpy as np
    from importlib.metadata import version

    rate = gemm_rate(np)
    print(f"machine: {os.cpu_count()} cpus, {args.threads} threads; numpy {np.__version__}, torch {version('torch')}")
    print(f"measured float32 GEMM rate (1024^3, best of 30): {rate / 1e9:.1f} GFLOP/s\n")
    if args.only:
        print(f"{'config':<8}{'tinybptt ms':>13}{'torch ms':>10}{'ratio':>7}{'GFLOP/s':>9}{'of GEMM':>9}"
              f"{'its GEMMs ms':>14}{'step/GEMMs':>12}")
    for name in filter(None, args.only.split(",")):
        cfg = CONFIGS[name]
        ours, theirs, gemms = bench_common.process_times(
            __file__, [name, "--repeats", str(args.repeats), "--threads", str(args.threads)], args.rounds,
            libs=("tinybptt", "torch", "gemms"))
        flops = charlm_flops(cfg) if name == "charlm" else step_flops(cfg)
        print(f"{name:<8}{ours * 1e3:>13.1f}{theirs * 1e3:>10.1f}{ours / theirs:>7.2f}"
              f"{flops / ours / 1e9:>9.1f}{flops / ours / rate:>9.0%}{gemms * 1e3:>14.1f}{ours / gemms:>12.2f}",
              flush=True)
    if not args.no_kernels:
        bench_kernels(np)
    if not args.no_cold:
        cold_start()


if __name__ == "__main__":
    main()
