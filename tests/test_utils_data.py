"""tinybptt.utils.data against torch.utils.data 2.13: everything deterministic (sequential batches, collated
types/dtypes/shapes/values, lengths, random_split sizes, worker order, errors) must be equal; random orders
are checked as properties (permutations, repeatable under manual_seed); and an LSTM learns from a DataLoader."""
import subprocess
import sys
import warnings
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as TD

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.utils.data as D
from tinybptt.utils.data import DataLoader, TensorDataset, random_split

Point = namedtuple("Point", "x y")


def plain(x):
    """A structure both libraries' outputs map to equally: tensors as (dtype name, shape, values, grad?),
    containers with their type's name kept."""
    if isinstance(x, (tb.Tensor, torch.Tensor)):
        a = x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x.detach())
        return ("tensor", a.dtype.name, a.shape, a.tolist())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(plain(v) for v in x)
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, np.ndarray):
        return ("ndarray", x.dtype.name, x.tolist())
    return (type(x).__name__, x)


def same(ours, theirs):
    assert plain(ours) == plain(theirs)


def both(make):
    """``make(lib)`` for tinybptt and for torch."""
    return make(tb), make(torch)


def raises_like(f_ours, f_torch):
    """Both raise the same exception type with the same message."""
    with pytest.raises(Exception) as theirs:
        f_torch()
    with pytest.raises(type(theirs.value)) as ours:
        f_ours()
    assert str(ours.value) == str(theirs.value)


# ---------------------------------------------------------------------------------------------- collation
COLLATE_CASES = {
    "ints": lambda L: [1, 2, 3],
    "floats": lambda L: [1.5, -2.25],
    "int_then_float": lambda L: [1, 2.5],
    "bools": lambda L: [True, False, True],
    "strings": lambda L: ["a", "bc"],
    "bytes": lambda L: [b"a", b"b"],
    "tuples": lambda L: [(1, "a", 0.5), (2, "b", 1.5)],
    "lists": lambda L: [[1, 2], [3, 4]],
    "dicts": lambda L: [{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}],
    "namedtuples": lambda L: [Point(1, 2.0), Point(3, 4.0)],
    "float32_tensors": lambda L: [L.tensor([1.0, 2.0]), L.tensor([3.0, 4.0])],
    "float64_matrices": lambda L: [L.tensor(np.arange(6.0).reshape(2, 3) + i) for i in range(3)],
    "int_tensors": lambda L: [L.tensor([1, 2]), L.tensor([3, 4])],
    "bool_tensors": lambda L: [L.tensor([True]), L.tensor([False])],
    "scalar_tensors": lambda L: [L.tensor(1.5), L.tensor(2.5)],
    "tensor_pairs": lambda L: [(L.tensor([1.0, 2.0]), L.tensor(0)), (L.tensor([3.0, 4.0]), L.tensor(1))],
    "numpy_float32": lambda L: [np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)],
    "numpy_int64": lambda L: [np.arange(3), np.arange(3) * 2],
    "numpy_bool": lambda L: [np.array([True, False]), np.array([False, False])],
    "numpy_0d": lambda L: [np.array(1.5), np.array(2.5)],
    "numpy_scalars_f32": lambda L: [np.float32(1), np.float32(2)],
    "numpy_scalars_f64": lambda L: [np.float64(1), np.float64(2)],
    "numpy_scalars_i16": lambda L: [np.int16(3), np.int16(4)],
    "numpy_scalars_bool": lambda L: [np.bool_(True), np.bool_(False)],
    "nested": lambda L: [{"x": (L.tensor([1.0]), [1, {"y": "s"}])}, {"x": (L.tensor([2.0]), [2, {"y": "t"}])}],
    "single": lambda L: [(L.tensor([[1.0, 2.0]]), 7)],
}


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(case):
    ours, theirs = both(COLLATE_CASES[case])
    same(D.default_collate(ours), TD.default_collate(theirs))


CONVERT_CASES = {
    "int": lambda L: 3,
    "float": lambda L: 2.5,
    "string": lambda L: "abc",
    "tensor": lambda L: L.tensor([1.0, 2.0]),
    "numpy_array": lambda L: np.arange(4).reshape(2, 2),
    "numpy_float32": lambda L: np.ones(3, np.float32),
    "numpy_scalar": lambda L: np.float32(2),
    "numpy_strings": lambda L: np.array(["a", "b"]),
    "tuple": lambda L: (np.arange(2), 1, "a"),
    "list": lambda L: [np.arange(2), [np.float64(1)]],
    "dict": lambda L: {"k": (np.int32(2),), "s": "t"},
    "namedtuple": lambda L: Point(np.zeros(2), 1),
}


@pytest.mark.parametrize("case", sorted(CONVERT_CASES))
def test_default_convert_matches_torch(case):
    ours, theirs = both(CONVERT_CASES[case])
    same(D.default_convert(ours), TD.default_convert(theirs))


def test_collate_keeps_the_graph():
    """Stacking records the op: a loss on a batch sends gradients back to the dataset's tensor."""
    x = tb.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    xt = torch.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    (batch,), (batch_t,) = next(iter(DataLoader(TensorDataset(x), 2))), next(iter(TD.DataLoader(TD.TensorDataset(xt), 2)))
    (batch * batch).sum().backward()
    (batch_t * batch_t).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_collate_errors_match_torch():
    with pytest.raises(RuntimeError, match=r"stack.*equal size.*3.*entry 0.*4.*entry 1"):
        D.default_collate([tb.zeros(3), tb.zeros(4)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        TD.default_collate([torch.zeros(3), torch.zeros(4)])
    raises_like(lambda: D.default_collate([[1, 2], [3]]), lambda: TD.default_collate([[1, 2], [3]]))
    raises_like(lambda: D.default_collate([object()]), lambda: TD.default_collate([object()]))
    raises_like(lambda: D.default_collate([None, None]), lambda: TD.default_collate([None, None]))
    strings = [np.array(["a"]), np.array(["b"])]
    raises_like(lambda: D.default_collate(strings), lambda: TD.default_collate(strings))
    with pytest.raises(RuntimeError, match="stack"):  # a numpy array of another shape, too
        D.default_collate([np.zeros(2), np.zeros(3)])


def test_collate_fn_map_extension():
    """``collate`` with a map of its own: a custom type handled, the rest by the default rules."""
    from tinybptt.utils.data.collate import collate, default_collate_fn_map

    class Box:
        pass

    table = dict(default_collate_fn_map)
    table[Box] = lambda batch, *, collate_fn_map: len(batch)
    assert plain(collate([(Box(), 1), (Box(), 2)], collate_fn_map=table)) == plain([2, torch.tensor([1, 2])])


# ---------------------------------------------------------------------------------------------- datasets
def xy(L, n):
    return L.tensor(np.arange(2.0 * n).reshape(n, 2)), L.tensor(np.arange(n) % 3)


def test_tensor_dataset_matches_torch():
    ds, dt = D.TensorDataset(*xy(tb, 5)), TD.TensorDataset(*xy(torch, 5))
    assert len(ds) == len(dt) == 5
    for i in (0, 3, -1):
        same(ds[i], dt[i])
    same(ds[1:3], dt[1:3])
    raises_like(lambda: D.TensorDataset(tb.zeros(3), tb.zeros(4)), lambda: TD.TensorDataset(torch.zeros(3), torch.zeros(4)))
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        D.TensorDataset(tb.zeros(3, 2), tb.zeros(2, 3))


def test_concat_dataset_matches_torch():
    ours = D.ConcatDataset([D.TensorDataset(tb.arange(3)), D.TensorDataset(tb.arange(10, 14)), [100, 101]])
    theirs = TD.ConcatDataset([TD.TensorDataset(torch.arange(3)), TD.TensorDataset(torch.arange(10, 14)), [100, 101]])
    assert len(ours) == len(theirs) == 9 and ours.cumulative_sizes == theirs.cumulative_sizes == [3, 7, 9]
    for i in range(-9, 9):
        same(ours[i], theirs[i])
    raises_like(lambda: ours[-10], lambda: theirs[-10])
    with pytest.raises(IndexError):
        ours[9]
    added = D.TensorDataset(tb.arange(3)) + D.TensorDataset(tb.arange(2))
    assert isinstance(added, D.ConcatDataset) and len(added) == 5 and added[4][0].item() == 1
    raises_like(lambda: D.ConcatDataset([]), lambda: TD.ConcatDataset([]))
    raises_like(lambda: D.ConcatDataset([Stream(3)]), lambda: TD.ConcatDataset([TStream(3)]))


def test_subset_and_stack_dataset_match_torch():
    ours = D.Subset(D.TensorDataset(*xy(tb, 6)), [4, 0, 2])
    theirs = TD.Subset(TD.TensorDataset(*xy(torch, 6)), [4, 0, 2])
    assert len(ours) == len(theirs) == 3
    for i in range(3):
        same(ours[i], theirs[i])
    same(list(DataLoader(ours, 2)), list(TD.DataLoader(theirs, 2)))
    same(ours[[2, 0]], theirs[[2, 0]])  # a list of positions indexes the dataset once
    s, st = D.StackDataset(list("abc"), [1, 2, 3]), TD.StackDataset(list("abc"), [1, 2, 3])
    same([s[i] for i in range(3)], [st[i] for i in range(3)])
    k, kt = D.StackDataset(a=[1, 2], b=[3.0, 4.0]), TD.StackDataset(a=[1, 2], b=[3.0, 4.0])
    same(list(DataLoader(k, 2)), list(TD.DataLoader(kt, 2)))
    for args, kwargs in (((), {}), (([1], [1, 2]), {}), (([1],), {"a": [1]})):
        raises_like(lambda: D.StackDataset(*args, **kwargs), lambda: TD.StackDataset(*args, **kwargs))


def test_subset_subclass_must_override_getitems():
    class Mine(D.Subset):
        def __getitem__(self, i):
            return 0

    class Theirs(TD.Subset):
        def __getitem__(self, i):
            return 0

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Mine([1], [0])
    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Theirs([1], [0])


def test_base_classes_match_torch():
    raises_like(lambda: D.Dataset()[0], lambda: TD.Dataset()[0])
    raises_like(lambda: D.IterableDataset(), lambda: TD.IterableDataset())
    raises_like(lambda: iter(D.Sampler()).__next__(), lambda: iter(TD.Sampler()).__next__())
    raises_like(lambda: len(D.Sampler()), lambda: len(TD.Sampler()))


class Stream(D.IterableDataset):
    """range(start, end), split between workers as torch's IterableDataset documentation does it."""

    def __init__(self, end, start=0, split=False):
        self.start, self.end, self.split = start, end, split

    def __iter__(self):
        start, end, info = self.start, self.end, self.info()
        if self.split and info is not None:
            per = -(-(end - start) // info.num_workers)
            start = start + info.id * per
            end = min(start + per, end)
        return iter(range(start, end))

    def info(self):
        return D.get_worker_info()

    def __len__(self):
        return self.end - self.start


class TStream(TD.IterableDataset):
    __init__, __iter__, __len__ = Stream.__init__, Stream.__iter__, Stream.__len__

    def info(self):
        return TD.get_worker_info()


class Unsized(D.IterableDataset):
    def __iter__(self):
        return iter(range(4))


class TUnsized(TD.IterableDataset):
    def __iter__(self):
        return iter(range(4))


def test_chain_dataset_matches_torch():
    ours, theirs = Stream(3) + Stream(5, 2), TStream(3) + TStream(5, 2)
    assert isinstance(ours, D.ChainDataset) and list(ours) == list(theirs) and len(ours) == len(theirs) == 6
    raises_like(lambda: list(D.ChainDataset([[1]])), lambda: list(TD.ChainDataset([[1]])))
    raises_like(lambda: len(D.ChainDataset([[1]])), lambda: len(TD.ChainDataset([[1]])))


# ---------------------------------------------------------------------------------------------- random_split
SPLITS = [(10, [3, 7]), (10, [0.3, 0.7]), (10, [0.5, 0.5]), (11, [0.5, 0.5]), (7, [1 / 3, 1 / 3, 1 / 3]),
          (30, [0.3, 0.3, 0.4]), (5, [0.1, 0.1, 0.8]), (13, [0.25, 0.25, 0.25, 0.25]), (3, [0.1, 0.9]),
          (1, [1.0]), (0, [0, 0]), (4, [0.0, 1.0]), (101, [0.8, 0.1, 0.1]), (9, [0.7, 0.2, 0.1])]


@pytest.mark.parametrize("n,lengths", SPLITS)
def test_random_split_sizes_match_torch_and_partition(n, lengths):
    with warnings.catch_warnings(record=True) as ours_w:
        warnings.simplefilter("always")
        ours = random_split(list(range(n)), lengths)
    with warnings.catch_warnings(record=True) as theirs_w:
        warnings.simplefilter("always")
        theirs = TD.random_split(list(range(n)), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert [str(w.message) for w in ours_w] == [str(w.message) for w in theirs_w]
    assert all(isinstance(s, D.Subset) for s in ours)
    assert sorted(i for s in ours for i in s) == list(range(n))


def test_random_split_errors_match_torch():
    for n, lengths in ((10, [3, 6]), (10, [0.3, 0.3]), (3, [1.5, -0.5]), (4, [0.5, 0.6])):
        raises_like(lambda: random_split(range(n), lengths), lambda: TD.random_split(range(n), lengths))


def test_random_split_repeats_with_seed_and_generator():
    def split(**kw):
        return [list(s.indices) for s in random_split(range(20), [0.5, 0.25, 0.25], **kw)]

    tb.manual_seed(3)
    a = split()
    tb.manual_seed(3)
    assert split() == a
    g1, g2 = tb.Generator().manual_seed(7), tb.Generator().manual_seed(7)
    assert split(generator=g1) == split(generator=g2)
    assert len({tuple(split()[0]) for _ in range(5)}) > 1  # a different order each time without a reseed


# ---------------------------------------------------------------------------------------------- samplers
def test_sequential_and_batch_samplers_match_torch():
    for n in (0, 1, 7, 10):
        assert list(D.SequentialSampler(range(n))) == list(TD.SequentialSampler(range(n)))
        assert len(D.SequentialSampler(range(n))) == n
        for bs in (1, 3, 5, 10, 11):
            for drop in (False, True):
                ours, theirs = D.BatchSampler(range(n), bs, drop), TD.BatchSampler(range(n), bs, drop)
                assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_batch_sampler_checks_batch_size_as_torch(bad):
    raises_like(lambda: D.BatchSampler(range(3), bad, False), lambda: TD.BatchSampler(range(3), bad, False))


def test_batch_sampler_checks_drop_last_as_torch():
    raises_like(lambda: D.BatchSampler(range(3), 2, 1), lambda: TD.BatchSampler(range(3), 2, 1))


def is_permutation(xs, n):
    return sorted(xs) == list(range(n))


@pytest.mark.parametrize("n,num_samples", [(1, None), (10, None), (10, 3), (10, 25), (4, 8)])
def test_random_sampler_without_replacement(n, num_samples):
    s, st = D.RandomSampler(range(n), num_samples=num_samples), TD.RandomSampler(range(n), num_samples=num_samples)
    out = list(s)
    assert len(s) == len(st) == len(out) == len(list(st))
    whole = len(out) // n
    for k in range(whole):  # whole permutations, then part of one
        assert is_permutation(out[k * n:(k + 1) * n], n)
    rest = out[whole * n:]
    assert len(set(rest)) == len(rest) and all(0 <= i < n for i in rest)
    tb.manual_seed(5)
    first = list(s)
    tb.manual_seed(5)
    assert list(s) == first


def test_random_sampler_with_replacement_and_generator():
    s = D.RandomSampler(range(5), replacement=True, num_samples=200, generator=tb.Generator().manual_seed(1))
    out = list(s)
    assert len(out) == len(s) == 200 and set(out) == set(range(5))
    again = D.RandomSampler(range(5), replacement=True, num_samples=200, generator=tb.Generator().manual_seed(1))
    assert list(again) == out
    assert len(D.RandomSampler(range(5), replacement=True)) == len(TD.RandomSampler(range(5), replacement=True))


@pytest.mark.parametrize("kwargs", [{"replacement": 1}, {"num_samples": 0}, {"num_samples": -2},
                                    {"num_samples": 2.0}, {"data_source": []}])
def test_random_sampler_errors_match_torch(kwargs):
    kw = {"data_source": range(4), **kwargs}
    raises_like(lambda: D.RandomSampler(**kw), lambda: TD.RandomSampler(**kw))


def test_subset_random_sampler():
    idx = [9, 4, 7, 1]
    s = D.SubsetRandomSampler(idx)
    assert len(s) == len(TD.SubsetRandomSampler(idx)) == 4
    assert sorted(s) == sorted(idx)
    tb.manual_seed(2)
    a = list(s)
    tb.manual_seed(2)
    assert list(s) == a
    g = D.SubsetRandomSampler(idx, generator=tb.Generator().manual_seed(4))
    assert list(g) == list(D.SubsetRandomSampler(idx, generator=tb.Generator().manual_seed(4)))


def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0, 2.0]
    s = D.WeightedRandomSampler(w, 500)
    out = list(s)
    assert len(s) == len(TD.WeightedRandomSampler(w, 500)) == len(out) == 500
    assert set(out) == {1, 2, 4}
    counts = np.bincount(out, minlength=5) / 500
    np.testing.assert_allclose(counts[[1, 2, 4]], [1 / 6, 1 / 2, 1 / 3], atol=0.08)
    no_rep = list(D.WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False))
    assert is_permutation(no_rep, 4)
    assert s.weights.dtype == np.float64 and tuple(s.weights.shape) == (5,)
    tb.manual_seed(9)
    a = list(s)
    tb.manual_seed(9)
    assert list(s) == a


@pytest.mark.parametrize("args", [([1.0, 2.0], 0), ([1.0, 2.0], -1), ([1.0, 2.0], True), ([1.0, 2.0], 2.0),
                                  ([[1.0, 2.0]], 2), ([1.0], 1, 1)])
def test_weighted_random_sampler_errors_match_torch(args):
    raises_like(lambda: D.WeightedRandomSampler(*args), lambda: TD.WeightedRandomSampler(*args))


def test_weighted_random_sampler_draw_errors_match_torch():
    for w, n, rep in (([1.0, -1.0], 2, True), ([1.0, 2.0], 3, False), ([0.0, 0.0], 1, True)):
        with pytest.raises(RuntimeError):
            list(TD.WeightedRandomSampler(w, n, rep))
        with pytest.raises(RuntimeError):
            list(D.WeightedRandomSampler(w, n, rep))


# ---------------------------------------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("n", [0, 1, 7, 10])
@pytest.mark.parametrize("batch_size", [1, 3, 5, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_batches_match_torch(n, batch_size, drop_last):
    ours = DataLoader(TensorDataset(*xy(tb, n)), batch_size=batch_size, drop_last=drop_last)
    theirs = TD.DataLoader(TD.TensorDataset(*xy(torch, n)), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs) == len(iter(ours))
    same(list(ours), list(theirs))
    same(list(ours), list(ours))  # a second pass starts again


def test_defaults_and_attributes_match_torch():
    ours, theirs = DataLoader([1, 2, 3]), TD.DataLoader([1, 2, 3])
    for name in ("batch_size", "drop_last", "num_workers", "prefetch_factor", "pin_memory", "timeout",
                 "worker_init_fn", "generator", "persistent_workers", "multiprocessing_context", "in_order"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.collate_fn is D.default_collate and type(ours.sampler) is D.SequentialSampler
    assert type(ours.batch_sampler) is D.BatchSampler
    assert DataLoader([1], num_workers=2).prefetch_factor == TD.DataLoader([1], num_workers=2).prefetch_factor
    assert type(DataLoader([1, 2], shuffle=True).sampler) is D.RandomSampler
    unbatched = DataLoader([1, 2], batch_size=None)
    assert unbatched.batch_sampler is None and unbatched.collate_fn is D.default_convert
    import inspect
    ours_sig = inspect.signature(DataLoader).parameters
    theirs_sig = inspect.signature(TD.DataLoader).parameters
    assert [(p.name, p.default, p.kind) for p in ours_sig.values()] == \
        [(p.name, p.default, p.kind) for p in theirs_sig.values()]


def test_samples_of_every_kind_match_torch():
    """A map-style dataset of dicts of numpy arrays, floats, strings and tuples, batched and not."""
    class Mixed:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"a": np.full((2,), i, np.float32), "b": float(i) / 2, "c": f"s{i}", "d": (i, [i % 2 == 0])}

    for kw in ({"batch_size": 2}, {"batch_size": 2, "drop_last": True}, {"batch_size": None}, {"batch_size": 5}):
        same(list(DataLoader(Mixed(), **kw)), list(TD.DataLoader(Mixed(), **kw)))


def test_batch_size_none_converts_each_sample():
    arrays = [np.arange(3) + i for i in range(4)]
    same(list(DataLoader(arrays, batch_size=None)), list(TD.DataLoader(arrays, batch_size=None)))
    assert len(DataLoader(arrays, batch_size=None)) == 4
    ds, dt = TensorDataset(*xy(tb, 3)), TD.TensorDataset(*xy(torch, 3))
    same(list(DataLoader(ds, batch_size=None)), list(TD.DataLoader(dt, batch_size=None)))


def test_custom_sampler_batch_sampler_and_collate_fn():
    order = [3, 1, 2, 0, 4]
    same(list(DataLoader(list(range(5)), batch_size=2, sampler=order)),
         list(TD.DataLoader(list(range(5)), batch_size=2, sampler=order)))
    batches = [[0, 4], [1], [2, 3]]
    ours = DataLoader(list(range(10, 15)), batch_sampler=batches)
    theirs = TD.DataLoader(list(range(10, 15)), batch_sampler=batches)
    assert len(ours) == len(theirs) == 3 and ours.batch_size is theirs.batch_size is None
    same(list(ours), list(theirs))
    assert list(DataLoader(range(5), batch_size=2, collate_fn=sum)) == [1, 5, 4]
    assert list(DataLoader(range(3), batch_size=None, collate_fn=lambda x: -x)) == [0, -1, -2]


def test_getitems_is_used_for_batches():
    class Batched(D.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, indices):
            return [i * 10 for i in indices]

    assert [b.tolist() for b in DataLoader(Batched(), batch_size=2)] == [[0, 10], [20, 30], [40]]
    sub = D.Subset(Batched(), [4, 3])
    assert [b.tolist() for b in DataLoader(sub, batch_size=2)] == [[40, 30]]


CONFLICTS = [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2), dict(num_workers=1, prefetch_factor=-1),
    dict(persistent_workers=True), dict(sampler=[0, 1], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], sampler=[0]),
    dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True), dict(batch_size=0),
    dict(batch_size=-3), dict(batch_size=2.0), dict(drop_last=1), dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="no-such-method"), dict(num_workers=1, multiprocessing_context=3),
    dict(shuffle=True, batch_size=4, dataset=[]),
]


@pytest.mark.parametrize("kwargs", CONFLICTS, ids=[",".join(map(str, k)) for k in CONFLICTS])
def test_argument_conflicts_match_torch(kwargs):
    kw = {"dataset": list(range(4)), **kwargs}
    raises_like(lambda: DataLoader(**kw), lambda: TD.DataLoader(**kw))


def test_iterable_dataset_conflicts_match_torch():
    for kw in (dict(shuffle=True), dict(shuffle=1), dict(batch_sampler=None, sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified") as theirs:
            TD.DataLoader(TStream(3), **kw)
        with pytest.raises(ValueError) as ours:
            DataLoader(Stream(3), **kw)
        assert str(ours.value).split(", but got")[0] == str(theirs.value).split(", but got")[0]
    DataLoader(Stream(3), shuffle=False)  # False and None are both "unspecified"


def test_attributes_fixed_after_init_as_torch():
    for name in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"):
        ours, theirs = DataLoader([1]), TD.DataLoader([1])
        raises_like(lambda: setattr(ours, name, None), lambda: setattr(theirs, name, None))
    ours = DataLoader([1])
    ours.num_workers = 0  # others may change


def test_timeout_and_pin_memory_in_the_main_process():
    raises_like(lambda: list(DataLoader([1], timeout=1)), lambda: list(TD.DataLoader([1], timeout=1)))
    with pytest.warns(UserWarning, match="pin_memory"):
        assert [b.tolist() for b in DataLoader([1, 2], pin_memory=True)] == [[1], [2]]


@pytest.mark.parametrize("kw", [dict(batch_size=2), dict(batch_size=2, drop_last=True), dict(batch_size=None),
                                dict(batch_size=3), dict(batch_size=10)])
def test_iterable_dataset_batches_match_torch(kw):
    ours, theirs = DataLoader(Stream(7), **kw), TD.DataLoader(TStream(7), **kw)
    same(list(ours), list(theirs))
    assert len(ours) == len(theirs)
    same(list(DataLoader(Unsized(), **kw)), list(TD.DataLoader(TUnsized(), **kw)))
    for loader in (DataLoader(Unsized(), **kw), TD.DataLoader(TUnsized(), **kw)):
        with pytest.raises(TypeError, match="Unsized' has no len()"):
            len(loader)


def test_get_worker_info_is_none_in_the_main_process():
    assert D.get_worker_info() is None
    seen = []

    class Spy(D.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            seen.append(D.get_worker_info())
            return i

    list(DataLoader(Spy(), batch_size=2))
    assert seen == [None] * 3


class WhoMap(D.Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        info = D.get_worker_info()
        return (i, -1 if info is None else info.id)


class TWhoMap(TD.Dataset):
    __len__ = WhoMap.__len__

    def __getitem__(self, i):
        info = TD.get_worker_info()
        return (i, -1 if info is None else info.id)


def test_workers_deliver_as_torch_workers():
    """num_workers > 0: the same batches in the same order as torch's worker processes, and the same
    get_worker_info() inside the dataset (worker k % n makes batch k; an unsplit stream repeats per worker)."""
    same(list(DataLoader(WhoMap(), batch_size=2, num_workers=3)),
         list(TD.DataLoader(TWhoMap(), batch_size=2, num_workers=3)))
    same(list(DataLoader(Stream(5), batch_size=2, num_workers=2)),
         list(TD.DataLoader(TStream(5), batch_size=2, num_workers=2)))
    same(list(DataLoader(Stream(11, split=True), batch_size=2, num_workers=3, drop_last=True)),
         list(TD.DataLoader(TStream(11, split=True), batch_size=2, num_workers=3, drop_last=True)))
    same(list(DataLoader(Stream(7, split=True), batch_size=None, num_workers=2)),
         list(TD.DataLoader(TStream(7, split=True), batch_size=None, num_workers=2)))


def test_worker_init_fn_configures_each_worker_copy():
    """torch's documented pattern: worker_init_fn narrows its worker's copy of the dataset."""
    calls = []

    def init(worker_id):
        info = D.get_worker_info()
        calls.append((worker_id, info.id, info.num_workers))
        ds = info.dataset
        per = -(-(ds.end - ds.start) // info.num_workers)
        ds.start, ds.end = ds.start + worker_id * per, min(ds.start + (worker_id + 1) * per, ds.end)

    ds = Stream(10, 3)
    out = [b.tolist() for b in DataLoader(ds, batch_size=2, num_workers=2, worker_init_fn=init)]
    assert out == [[3, 4], [7, 8], [5, 6], [9]]  # 3..6 from worker 0, 7..9 from worker 1, taken in turn
    assert calls == [(0, 0, 2), (1, 1, 2)] and (ds.start, ds.end) == (3, 10)
    assert D.get_worker_info() is None
    seeds = []
    list(DataLoader(ds, num_workers=2, worker_init_fn=lambda i: seeds.append(D.get_worker_info().seed)))
    assert seeds[1] == seeds[0] + 1


@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (8, 4, False), (5, 1, False)])
def test_shuffled_epochs_are_permutations_and_repeat_under_seed(n, batch_size, drop_last):
    loader = DataLoader(TensorDataset(tb.arange(n)), batch_size=batch_size, shuffle=True, drop_last=drop_last)
    assert len(loader) == len(TD.DataLoader(list(range(n)), batch_size=batch_size, shuffle=True, drop_last=drop_last))

    def epoch():
        batches = [b.tolist() for (b,) in loader]
        assert [len(b) for b in batches] == [len(b) for b in TD.BatchSampler(range(n), batch_size, drop_last)]
        return [i for b in batches for i in b]

    tb.manual_seed(11)
    first, second = epoch(), epoch()
    if not drop_last:
        assert is_permutation(first, n) and is_permutation(second, n)
    else:
        assert len(set(first)) == len(first)
    tb.manual_seed(11)
    assert epoch() == first and epoch() == second
    if n >= 8:
        assert first != second  # a new order every epoch
    g = DataLoader(list(range(n)), batch_size=batch_size, shuffle=True, generator=tb.Generator().manual_seed(0))
    h = DataLoader(list(range(n)), batch_size=batch_size, shuffle=True, generator=tb.Generator().manual_seed(0))
    assert [b.tolist() for b in g] == [b.tolist() for b in h]


def test_import_is_cheap_and_reachable():
    code = ("import sys, tinybptt; assert 'numba' not in sys.modules; "
            "assert tinybptt.utils.data.DataLoader is __import__('tinybptt.utils.data').utils.data.DataLoader; "
            "from tinybptt.utils.data import DataLoader, TensorDataset, random_split")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=__file__.rsplit("/tests/", 1)[0])


def test_lstm_learns_from_a_dataloader():
    """End to end: an LSTM regressor trained for a few epochs on shuffled mini-batches from a TensorDataset
    lowers its loss on the whole set."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1, keepdims=True) * 0.5 + x[:, -1, 1:2]).astype(np.float32)
    data = TensorDataset(tb.tensor(x), tb.tensor(y))
    train, _ = random_split(data, [0.75, 0.25], generator=tb.Generator().manual_seed(0))
    loader = DataLoader(train, batch_size=8, shuffle=True)
    lstm, head = nn.LSTM(2, 16, batch_first=True), nn.Linear(16, 1)
    opt = tb.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.02)

    def loss_of(xb, yb):
        out, _ = lstm(xb)
        return nn.functional.mse_loss(head(out[:, -1]), yb)

    full = DataLoader(train, batch_size=len(train))
    with tb.no_grad():
        before = loss_of(*next(iter(full))).item()
    for _ in range(6):
        for xb, yb in loader:
            assert xb.shape[1:] == (6, 2) and xb.dtype == np.float32 and yb.shape[1:] == (1,)
            opt.zero_grad()
            loss_of(xb, yb).backward()
            opt.step()
    with tb.no_grad():
        after = loss_of(*next(iter(full))).item()
    assert after < 0.5 * before
