"""``DataLoader``: batches from a dataset, as torch.utils.data.DataLoader makes them.

Workers are emulated in the main process: with ``num_workers=n > 0`` the loader keeps n workers, each with
its own shallow copy of the dataset and its own ``WorkerInfo``, and asks them for batches in turn, as
PyTorch's worker processes deliver them in order.  So the batches, their order and ``get_worker_info()``
inside the dataset are PyTorch's (an unsplit iterable dataset is repeated n times, as in PyTorch), but
nothing runs in parallel, the default generator is not reseeded per worker, and ``timeout``,
``prefetch_factor``, ``persistent_workers``, ``pin_memory`` and ``multiprocessing_context`` are checked as
PyTorch checks them and then have no effect."""
import copy
import math
import warnings

from ...random import rng
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler, _InfiniteConstantSampler
from .worker import WorkerInfo, acting_as

_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over ``dataset`` in batches.

    ``batch_size`` samples (the last batch shorter unless ``drop_last``) are put together by ``collate_fn``
    (``default_collate``); ``shuffle=True`` visits a map-style dataset in a random order from ``generator``
    (a ``tinybptt.Generator``; the default generator otherwise), ``sampler`` or ``batch_sampler`` give the
    order explicitly.  ``batch_size=None`` turns batching off: each sample goes through ``default_convert``.
    Iterable-style datasets (``IterableDataset``) are read in their own order.  ``len(loader)`` is the
    number of batches.  ``num_workers > 0`` is accepted, but the workers take turns in the main process (see
    the module docstring); ``worker_init_fn(worker_id)`` runs for each at the start of every pass."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers "
                             "> 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self._iterable = iterable
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._initialized = True

    @property
    def multiprocessing_context(self):
        """The multiprocessing context asked for (unused: workers run in the main process)."""
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            import multiprocessing
            if self.num_workers <= 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid start method in "
                                     f"{methods!r}, but got multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context object or a string "
                                f"specifying the start method, but got multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, name, value):
        if self.__dict__.get("_initialized") and name in _FIXED_AFTER_INIT:
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        """What one step of a pass draws from: the batch sampler when batching, else the sampler."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        return _LoaderIter(self)

    def __len__(self):
        """The number of batches (for an iterable dataset: from ``len(dataset)``, which must exist)."""
        if not self._iterable:
            return len(self._index_sampler)
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


class _Worker:
    """One source of batches: a dataset (for iterable datasets, an iterator over it) and the collate_fn,
    run as the worker ``info`` (None: the main process)."""

    def __init__(self, loader, dataset, info):
        self.loader, self.dataset, self.info = loader, dataset, info
        with acting_as(info):
            if info is not None and loader.worker_init_fn is not None:
                loader.worker_init_fn(info.id)
            self.stream = iter(dataset) if loader._iterable else None
        self.ended = False

    def fetch(self, index):
        """The batch (or sample) for ``index``; StopIteration once an iterable dataset runs out."""
        with acting_as(self.info):
            return self.loader.collate_fn(self._samples(index))

    def _samples(self, index):
        loader = self.loader
        if self.stream is None:
            if not loader._auto_collation:
                return self.dataset[index]
            if callable(getattr(self.dataset, "__getitems__", None)):
                return self.dataset.__getitems__(index)
            return [self.dataset[i] for i in index]
        if self.ended:
            raise StopIteration
        if not loader._auto_collation:
            return next(self.stream)
        data = []
        for _ in index:
            try:
                data.append(next(self.stream))
            except StopIteration:
                self.ended = True
                break
        if not data or (loader.drop_last and len(data) < len(index)):
            raise StopIteration
        return data


class _LoaderIter:
    """One pass over a DataLoader.  With several workers, step k goes to the next worker in turn that has
    not run out (PyTorch's in-order delivery)."""

    def __init__(self, loader):
        if loader.num_workers == 0 and loader.timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        if loader.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", stacklevel=3)
        self._loader = loader
        self._indices = iter(loader._index_sampler)
        if loader.num_workers == 0:
            self._workers = [_Worker(loader, loader.dataset, None)]
        else:
            base_seed = int(rng(loader.generator).integers(2 ** 63))
            self._workers = []
            for i in range(loader.num_workers):
                dataset = copy.copy(loader.dataset)
                info = WorkerInfo(id=i, num_workers=loader.num_workers, seed=base_seed + i, dataset=dataset)
                self._workers.append(_Worker(loader, dataset, info))
        self._turn = 0
        self._num_yielded = 0

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def __next__(self):
        while self._workers:
            index = next(self._indices)
            k = self._turn % len(self._workers)
            try:
                data = self._workers[k].fetch(index)
            except StopIteration:
                del self._workers[k]  # the next worker in turn moves into position k
                self._turn = k
                continue
            self._turn = k + 1
            self._num_yielded += 1
            return data
        raise StopIteration
