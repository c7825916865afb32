"""Shared bits of the examples: command line, output folder, progress bar, plotting."""
import argparse
import importlib.util
import os
import sys
import time

# Small recurrent nets multiply small matrices: BLAS threads cost more than they give (and on a busy
# machine much more), so the examples run BLAS single-threaded unless you set these yourself.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

if importlib.util.find_spec("tinybptt") is None:  # run from a checkout without installing: use the repo's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args(description, quick_help="tiny settings that run in seconds (used by the tests)", extra=None,
               argv=None):
    """Parse ``--quick``, ``--out DIR`` and ``--seed`` (plus any ``extra(parser)`` arguments) from ``argv``
    (``sys.argv[1:]`` when None)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", default=None, help="output folder (default: out/<example name>)")
    p.add_argument("--seed", type=int, default=0)
    if extra:
        extra(p)
    return p.parse_args(argv)


def out_dir(args, name):
    """The example's output folder, created if needed."""
    path = args.out or os.path.join("out", name)
    os.makedirs(path, exist_ok=True)
    return path


class Progress:
    """A one-line progress bar with loss and speed: ``for i in Progress(n, 'train'): ... bar.set(loss=..)``."""

    def __init__(self, total, label="", stream=sys.stdout):
        self.total, self.label, self.stream = total, label, stream
        self.info, self.start, self.i = {}, time.perf_counter(), 0

    def set(self, **info):
        self.info.update(info)

    def __iter__(self):
        self.i = 0
        while self.i < self.total:  # lowering self.total inside the loop stops it early
            yield self.i
            self._draw()
            self.i += 1
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self):
        done = self.i + 1
        elapsed = time.perf_counter() - self.start
        width = 24
        filled = int(width * done / max(self.total, 1))
        info = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.info.items())
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                          f"{done / max(elapsed, 1e-9):.1f} it/s {info}   ")
        self.stream.flush()


def plt():
    """matplotlib.pyplot with a non-interactive backend, or None when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
        return pyplot
    except ImportError:
        print("(matplotlib not installed: pip install 'tinybptt[examples]' for the plots)")
        return None


def claim(text, evidence, holds):
    """Print a claim from the literature beside the measured evidence; returns ``holds``."""
    mark = "REPRODUCED" if holds else "NOT reproduced"
    print(f"\nClaim: {text}\nMeasured: {evidence}\n=> {mark}")
    return holds


def done(path):
    """Print where the example wrote its pictures and files."""
    print(f"\nPictures and files written to {os.path.abspath(path)}/")


def render_graph(loss, path, model, title):
    """Backpropagate ``loss`` with its gradient norms watched, render the unrolled graph to ``path``
    and clear the model's gradients; returns ``path``, or None (with a note) when Graphviz's dot is missing."""
    import tinybptt as tb
    tb.viz.watch(loss)
    loss.backward()
    model.zero_grad()
    try:
        tb.viz.render(loss, path, params=dict(model.named_parameters()), title=title)
        return path
    except RuntimeError as e:
        print(f"(graph not rendered: {e})")
        return None
