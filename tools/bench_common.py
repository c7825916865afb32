"""Timing shared by the benchmarks that compare tinybptt with PyTorch.

Each library is timed in fresh processes of its own: OpenBLAS's thread pool (numpy) and
PyTorch's OpenMP pool spin-wait and slow each other down badly when they share a process.
A benchmark script re-runs itself with ``--worker LIB ...``; the worker prints the median of
``--repeats`` steps, and the parent alternates tinybptt, torch, tinybptt, ... for ``--rounds``
rounds and keeps the median over rounds.
"""
import importlib
import os
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LIBS = ("tinybptt", "torch")


def set_threads(n):
    """Limit the OpenMP/BLAS pools of this process (before numpy or torch loads) and its children to ``n`` threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def median(xs):
    """The middle value of ``xs`` (the upper one of an even count)."""
    return sorted(xs)[len(xs) // 2]


def median_time(step, repeats):
    """Median seconds of ``repeats`` calls of ``step``, after two warm-up calls (compile, fill caches)."""
    step()
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return median(times)


def worker(lib, make, repeats, threads):
    """In a worker process: print the median step time of ``make(module of lib)`` (torch gets ``threads`` threads)."""
    sys.path.insert(0, ROOT)
    mod = importlib.import_module(lib)
    if lib == "torch":
        mod.set_num_threads(threads)
    print(median_time(make(mod), repeats))


def process_times(script, worker_args, rounds, libs=LIBS):
    """Median over ``rounds`` of each library's per-process median, in seconds, in the order of ``libs``.

    Each process runs ``script --worker LIB *worker_args``, and the libraries alternate.
    """
    times = {lib: [] for lib in libs}
    for _ in range(rounds):
        for lib in libs:
            cmd = [sys.executable, os.path.abspath(script), "--worker", lib, *worker_args]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            times[lib].append(float(out.stdout.split()[-1]))
    return [median(times[lib]) for lib in libs]
