"""Pooling against torch 2.13: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d, adaptive_max_pool1d/2d and their
modules (values, indices and input gradients over a grid of options, float64 and float32), torch's choice among ties,
NaN and -inf, integer average pooling, reprs, finite-difference checks and the exception types of bad arguments."""
import itertools

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F
from parity import check, raises_alike

TF = torch.nn.functional
F32 = dict(rtol=2e-6, atol=2e-6)


def data(rng, nd, batched=True, dtype=np.float64):
    shape = ((2,) if batched else ()) + (3,) + (9, 11)[:nd]
    return rng.standard_normal(shape).astype(dtype)


def check_pool(name, x, dtype=np.float64, **kw):
    """Values (and indices) and input gradients of F.<name>(x, **kw) against torch's."""
    ours, theirs = getattr(F, name), getattr(TF, name)
    if kw.get("return_indices"):
        ya, yt = ours(tb.tensor(x), **kw), theirs(torch.tensor(x), **kw)
        np.testing.assert_array_equal(ya[1].numpy(), yt[1].numpy())
        assert ya[1].dtype == np.int64
        check(lambda a: ours(a, **kw)[0], lambda t: theirs(t, **kw)[0], [x], dtype,
              **(F32 if dtype == np.float32 else {}))
    else:
        check(lambda a: ours(a, **kw), lambda t: theirs(t, **kw), [x], dtype, **(F32 if dtype == np.float32 else {}))


# ---------------------------------------------------------------- max pooling
MAX_GRID = [g for g in itertools.product([2, 3], [None, 1, 2], [0, 1], [1, 2], [False, True], [False, True])
            if g[2] <= g[0] // 2]


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode,return_indices", MAX_GRID)
def test_max_pool_float64(rng, nd, kernel, stride, padding, dilation, ceil_mode, return_indices):
    check_pool(f"max_pool{nd}d", data(rng, nd), kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
               ceil_mode=ceil_mode, return_indices=return_indices)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
                                dict(kernel_size=2, dilation=3, return_indices=True)])
def test_max_pool_unbatched_and_float32(rng, nd, kw):
    check_pool(f"max_pool{nd}d", data(rng, nd, batched=False), **kw)
    check_pool(f"max_pool{nd}d", data(rng, nd, dtype=np.float32), np.float32, **kw)


def test_max_pool2d_tuple_arguments(rng):
    check_pool("max_pool2d", data(rng, 2), kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 3),
               ceil_mode=True, return_indices=True)


SPECIAL = np.array([1., np.nan, 3, np.nan, 2, 5, 5, -np.inf, -np.inf, 4, 4, 4, np.inf, -1, np.nan])


@pytest.mark.parametrize("kw", [dict(kernel_size=4, stride=1), dict(kernel_size=2, stride=1, padding=1, ceil_mode=True),
                                dict(kernel_size=3, stride=2, dilation=2), dict(kernel_size=2, stride=2, padding=1)])
def test_max_pool_ties_nan_and_inf(kw):
    """torch keeps the first of equal maxima and the last NaN; the gradient goes to the index it returns."""
    check_pool("max_pool1d", SPECIAL.reshape(1, 1, -1), return_indices=True, **kw)
    check_pool("max_pool1d", SPECIAL.reshape(1, 1, -1), **kw)
    kw2 = {k: (v if k == "padding" else 1, v) if k in ("kernel_size", "stride", "dilation", "padding") else v
           for k, v in kw.items()}  # the same windows along the last dim, one row high
    kw2["padding"] = (0, kw.get("padding", 0))
    check_pool("max_pool2d", np.stack([SPECIAL, SPECIAL[::-1]]).reshape(1, 1, 2, -1), return_indices=True, **kw2)


def test_max_pool_windows_of_only_minus_inf():
    """A window of -inf (with padding) keeps its first element inside the input, as torch."""
    x = np.full((1, 1, 5), -np.inf)
    check_pool("max_pool1d", x, kernel_size=2, stride=2, padding=1, ceil_mode=True, return_indices=True)
    check_pool("max_pool2d", np.full((1, 1, 3, 4), -np.inf), kernel_size=3, stride=2, padding=1, return_indices=True)


def test_max_pool_overlapping_windows_sum_gradients(rng):
    x = np.zeros((1, 2, 7))
    x[0, :, 3] = 1  # the max of every window that holds it
    check_pool("max_pool1d", x + rng.uniform(0, 1e-3, x.shape), kernel_size=4, stride=1)


def test_max_pool_empty_batch(rng):
    check_pool("max_pool1d", data(rng, 1)[:0], kernel_size=3)
    check_pool("max_pool2d", data(rng, 2)[:0], kernel_size=3, return_indices=True)


def test_max_pool_with_indices_names():
    x = tb.tensor(np.arange(12.).reshape(1, 2, 6))
    y, i = F.max_pool1d_with_indices(x, 2)
    yt, it = TF.max_pool1d_with_indices(torch.tensor(x.numpy()), 2)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    np.testing.assert_array_equal(i.numpy(), it.numpy())
    y, i = F.max_pool2d_with_indices(x.reshape(1, 2, 2, 3), 2)
    assert y.shape == (1, 2, 1, 1) and i.numpy().ravel().tolist() == [4, 4]


# ---------------------------------------------------------------- average pooling
AVG_GRID = [g for g in itertools.product([2, 3], [None, 1, 2], [0, 1], [False, True], [False, True])
            if g[2] <= g[0] // 2]


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("kernel,stride,padding,ceil_mode,count_include_pad", AVG_GRID)
def test_avg_pool_float64(rng, nd, kernel, stride, padding, ceil_mode, count_include_pad):
    check_pool(f"avg_pool{nd}d", data(rng, nd), kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
               count_include_pad=count_include_pad)


@pytest.mark.parametrize("divisor", [1, 3, 7])
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, padding=1, count_include_pad=False)])
def test_avg_pool2d_divisor_override(rng, divisor, kw):
    check_pool("avg_pool2d", data(rng, 2), divisor_override=divisor, **kw)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True,
                                                           count_include_pad=False)])
def test_avg_pool_unbatched_and_float32(rng, nd, kw):
    check_pool(f"avg_pool{nd}d", data(rng, nd, batched=False), **kw)
    check_pool(f"avg_pool{nd}d", data(rng, nd, dtype=np.float32), np.float32, **kw)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_of_integers_truncates(count_include_pad):
    x = np.array([[[1, 2, 3, 4, -5, 7, -8]]], np.int64)  # int64 only: torch has no other integer kernel
    for name in ("avg_pool1d", "avg_pool2d"):
        xs = x if name == "avg_pool1d" else np.stack([x, -x], 2)
        kw = dict(kernel_size=2, stride=2, padding=1, ceil_mode=True, count_include_pad=count_include_pad)
        ya, yt = getattr(F, name)(tb.tensor(xs), **kw), getattr(TF, name)(torch.tensor(xs), **kw)
        assert ya.dtype == yt.numpy().dtype
        np.testing.assert_array_equal(ya.numpy(), yt.numpy())


# ---------------------------------------------------------------- adaptive pooling
@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("out", [1, 2, 3, 4, 7, 9, 13])
@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_pools(rng, nd, out, batched):
    x = data(rng, nd, batched)
    check_pool(f"adaptive_avg_pool{nd}d", x, output_size=out)
    check_pool(f"adaptive_max_pool{nd}d", x, output_size=out)
    check_pool(f"adaptive_max_pool{nd}d", x, output_size=out, return_indices=True)


@pytest.mark.parametrize("size", [(2, 5), (None, 3), (4, None), (1, 12)])
def test_adaptive_pools_2d_sizes(rng, size):
    x = data(rng, 2)
    check_pool("adaptive_avg_pool2d", x, output_size=size)
    check_pool("adaptive_max_pool2d", x, output_size=size, return_indices=True)


def test_adaptive_pools_float32_special_values_and_empty(rng):
    check_pool("adaptive_avg_pool1d", data(rng, 1, dtype=np.float32), np.float32, output_size=4)
    check_pool("adaptive_max_pool2d", data(rng, 2, dtype=np.float32), np.float32, output_size=(3, 4))
    check_pool("adaptive_max_pool1d", SPECIAL.reshape(1, 1, -1), output_size=4, return_indices=True)
    check_pool("adaptive_max_pool1d", SPECIAL.reshape(1, 1, -1), output_size=6)
    check_pool("adaptive_avg_pool1d", data(rng, 1)[:0], output_size=3)
    for name in ("adaptive_avg_pool1d", "adaptive_max_pool1d"):  # an empty output (torch's backward refuses it)
        theirs = getattr(TF, name)(torch.zeros(2, 3, 9), 0)
        assert getattr(F, name)(tb.tensor(data(rng, 1)), 0).shape == tuple(theirs.shape)
    y, i = F.adaptive_max_pool1d_with_indices(tb.tensor(SPECIAL.reshape(1, -1)), 3)
    np.testing.assert_array_equal(i.numpy(), TF.adaptive_max_pool1d_with_indices(torch.tensor(SPECIAL.reshape(1, -1)),
                                                                                   3)[1].numpy())


# ---------------------------------------------------------------- finite differences of the Functions
def test_pools_gradcheck(rng):
    x = tb.tensor(rng.standard_normal((2, 2, 5, 6)), requires_grad=True)
    assert tb.gradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, True, False), (x,))
    assert tb.gradcheck(lambda a: F.avg_pool2d(a, 2, 1, 1, divisor_override=3), (x,))
    assert tb.gradcheck(lambda a: F.adaptive_avg_pool2d(a, (3, 4)), (x,))
    assert tb.gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1, ceil_mode=True), (x,))  # distinct values: no kinks nearby
    assert tb.gradcheck(lambda a: F.adaptive_max_pool2d(a, (2, 4)), (x,))


# ---------------------------------------------------------------- modules
MODULES = [("MaxPool1d", (3,), {}), ("MaxPool1d", (3, 2, 1, 2, True, True), {}),
           ("MaxPool2d", ((3, 2),), dict(stride=1)),
           ("MaxPool2d", (2,), dict(padding=1, return_indices=True)), ("AvgPool1d", (3,), {}),
           ("AvgPool1d", (3, 2, 1, True, False), {}), ("AvgPool2d", ((3, 2), 1, 1, True, False, 3), {}),
           ("AvgPool2d", (3,), {}), ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((None, 3),), {}),
           ("AdaptiveMaxPool1d", (4, True), {}), ("AdaptiveMaxPool2d", ((2, 3),), {})]


@pytest.mark.parametrize("name,args,kw", MODULES)
def test_pool_modules(rng, name, args, kw):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    public = {k: v for k, v in vars(theirs).items() if not k.startswith("_") and k != "training"}
    assert {k: getattr(ours, k) for k in public} == public
    assert ours.state_dict() == {} or not list(ours.state_dict())
    x = data(rng, 2 if "2d" in name else 1)
    if getattr(theirs, "return_indices", False):
        np.testing.assert_array_equal(ours(tb.tensor(x))[1].numpy(), theirs(torch.tensor(x))[1].numpy())
        check(lambda a: ours(a)[0], lambda t: theirs(t)[0], [x])
    else:
        check(ours, theirs, [x])


# ---------------------------------------------------------------- bad input
def _x(T, *shape, dtype=None):
    return T.zeros(*shape, dtype=dtype or T.float64)


BAD = [
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 3, padding=2),          # padding more than half the kernel
    lambda T, F: F.max_pool2d(_x(T, 2, 3, 7, 8), 3, padding=2),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 3, padding=-1),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 0),
    lambda T, F: F.max_pool2d(_x(T, 2, 3, 7, 8), 0),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 3, stride=0),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 3, stride=-1),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 3, dilation=0),
    lambda T, F: F.max_pool2d(_x(T, 2, 3, 7, 8), 3, dilation=0),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 11),                    # output size 0
    lambda T, F: F.max_pool2d(_x(T, 2, 3, 7, 8), 9),
    lambda T, F: F.max_pool1d(_x(T, 10), 3),                           # 1-D input
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10, 1), 3),                  # 4-D input
    lambda T, F: F.max_pool2d(_x(T, 2, 4, 0), 3),                      # empty spatial dim
    lambda T, F: F.max_pool1d(_x(T, 1, 0, 10), 1),                     # empty channel dim
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), (3, 2)),                # too many kernel sizes
    lambda T, F: F.max_pool2d(_x(T, 2, 3, 7, 8), (3, 3, 3)),
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10), 2.5),                   # not an int
    lambda T, F: F.max_pool1d(_x(T, 2, 4, 10, dtype=T.int32), 3),      # integers
    lambda T, F: F.avg_pool1d(_x(T, 2, 4, 10), 3, padding=2),
    lambda T, F: F.avg_pool1d(_x(T, 2, 4, 10), 11),
    lambda T, F: F.avg_pool1d(_x(T, 2, 4, 10), 0),
    lambda T, F: F.avg_pool1d(_x(T, 2, 4, 10), 3, stride=0),
    lambda T, F: F.avg_pool2d(_x(T, 2, 3, 7, 8), 3, padding=-1),
    lambda T, F: F.avg_pool2d(_x(T, 2, 3, 7, 8), 3, divisor_override=0),
    lambda T, F: F.avg_pool2d(_x(T, 2, 3, 7, 8), (3, 3, 3)),
    lambda T, F: F.avg_pool1d(_x(T, 10), 3),
    lambda T, F: F.avg_pool2d(_x(T, 2, 3, 7, 8, dtype=T.int32), 3),
    lambda T, F: F.avg_pool1d(_x(T, 2, 3, 7, dtype=T.bool), 3),
    lambda T, F: F.adaptive_avg_pool1d(_x(T, 2, 4, 10), -1),
    lambda T, F: F.adaptive_avg_pool1d(_x(T, 10), 2),
    lambda T, F: F.adaptive_avg_pool1d(_x(T, 3, 10), (3, 2)),
    lambda T, F: F.adaptive_avg_pool2d(_x(T, 2, 3, 7, 8), (2, 3, 4)),
    lambda T, F: F.adaptive_avg_pool2d(_x(T, 2, 3, 0, 8), 3),          # empty spatial dim
    lambda T, F: F.adaptive_avg_pool1d(_x(T, 2, 4, 10, dtype=T.int64), 3),
    lambda T, F: F.adaptive_max_pool1d(_x(T, 3, 0, 8), 3),
    lambda T, F: F.adaptive_max_pool1d(_x(T, 10), 2),
    lambda T, F: F.adaptive_max_pool1d(_x(T, 3, 10), (3, 2)),
    lambda T, F: F.adaptive_max_pool1d(_x(T, 3, 10, dtype=T.int32), 3),
]


@pytest.mark.parametrize("bad", BAD)
def test_bad_input(bad):
    raises_alike(lambda: bad(tb, F), lambda: bad(torch, TF), "pool")
