"""Run every benchmark in turn and print their tables (the figures in the README come from here).

    .venv/bin/python tools/bench.py            # ops overhead, recurrent training steps, attention, graphs
    .venv/bin/python tools/bench.py rnn ops    # only some of them

Each part is its own script (tools/bench_<part>.py) and can be run alone with its own options.
Run on a quiet machine: the figures are medians, but two cores shared with anything else still
move them a lot.
"""
import os
import subprocess
import sys

PARTS = ["ops", "rnn", "attention", "viz"]


def main(argv=None):
    parts = (argv if argv is not None else sys.argv[1:]) or PARTS
    if any(p in ("-h", "--help") for p in parts):
        print(f"usage: bench.py [part ...]   (parts: {' '.join(PARTS)}; default: all)\n\n{__doc__.strip()}")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for part in parts:
        if part not in PARTS:
            raise SystemExit(f"bench.py: unknown part {part!r}; choose from {PARTS}")
        print(f"\n=== tools/bench_{part}.py ===", flush=True)
        subprocess.run([sys.executable, os.path.join(here, f"bench_{part}.py")], check=True)


if __name__ == "__main__":
    main()
