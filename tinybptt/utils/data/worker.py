"""``get_worker_info``: which DataLoader worker is fetching.  tinybptt runs its workers in the main process,
one after another, and sets this only while a worker's ``worker_init_fn``, ``__iter__`` or fetch runs."""
import contextlib
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerInfo:
    """The running worker: ``id`` (0 .. num_workers - 1), ``num_workers``, ``seed`` (the loader's base seed
    + id) and ``dataset`` (this worker's shallow copy of the loader's dataset).  ``worker_method`` is None:
    the worker is neither a process nor a thread but a turn in the main process."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: object = None


_current = None


def get_worker_info():
    """The ``WorkerInfo`` of the worker now fetching, or None outside one (always None with
    ``num_workers=0``)."""
    return _current


@contextlib.contextmanager
def acting_as(info):
    """Run the body as the worker ``info`` (None: as the main process)."""
    global _current
    previous, _current = _current, info
    try:
        yield
    finally:
        _current = previous
