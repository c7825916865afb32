"""Parity with torch 2.13 for the normalisation layers: RMSNorm, GroupNorm, BatchNorm1d/2d/3d,
InstanceNorm1d/2d/3d and LocalResponseNorm and their functional forms.  Values and gradients of inputs and
parameters (float64 tight, float32), running statistics over several training steps, eval mode,
state_dicts both ways, reprs, empty and NaN inputs, and the exception types of bad arguments."""
import copy
import inspect
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F
from parity import assert_close, check, same_error, signature

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]


def data(*shape, dtype=np.float64, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(dtype)


def tdtype(dtype):
    return {np.float64: (tb.float64, torch.float64), np.float32: (tb.float32, torch.float32)}[dtype]


# ------------------------------------------------------------------ functional forms
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((4, 6), 3), ((4, 6, 5), 2), ((3, 6, 2, 3), 6), ((2, 4, 3), 1),
                                          ((1, 6, 4), 3), ((2, 4, 1), 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_functional(shape, groups, affine, dtype):
    c = shape[1]
    args = [data(*shape, dtype=dtype, scale=3, shift=1)]
    if affine:
        args += [data(c, dtype=dtype, seed=1), data(c, dtype=dtype, seed=2)]
    # groups of one element: x - mean is 0 up to rounding, which 1/sqrt(eps) magnifies in float32
    tol = dict(rtol=5e-5, atol=1e-4) if dtype == np.float32 and np.prod(shape[1:]) == groups else {}
    check(lambda x, *p: F.group_norm(x, groups, *p, eps=1e-3), lambda x, *p: TF.group_norm(x, groups, *p, eps=1e-3),
          args, dtype, **tol)
    check(lambda x, *p: F.group_norm(x, groups, *p), lambda x, *p: TF.group_norm(x, groups, *p), args, dtype, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 2, 3), (2, 3, 2, 2, 2), (1, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_functional_training_updates_running_stats(shape, affine, dtype):
    c = shape[1]
    x = data(*shape, dtype=dtype, scale=2, shift=-1)
    params = [data(c, dtype=dtype, seed=1), data(c, dtype=dtype, seed=2)] if affine else []
    stats = [(data(c, dtype=dtype, seed=3), np.abs(data(c, dtype=dtype, seed=4)) + 0.5) for _ in range(2)]
    ours_stats = [tb.tensor(s.copy()) for s in stats[0]]
    theirs_stats = [torch.tensor(s.copy()) for s in stats[1]]
    for momentum in (0.1, 0.7):
        check(lambda x, *p: F.batch_norm(x, *ours_stats, *p, training=True, momentum=momentum, eps=1e-4),
              lambda x, *p: TF.batch_norm(x, *theirs_stats, *p, training=True, momentum=momentum, eps=1e-4),
              [x] + params, dtype)
        for a, b in zip(ours_stats, theirs_stats):
            assert_close(a, b, dtype, "running stat")
    # without running stats, and eval mode with them
    check(lambda x, *p: F.batch_norm(x, None, None, *p, training=True),
          lambda x, *p: TF.batch_norm(x, None, None, *p, training=True), [x] + params, dtype)
    check(lambda x, *p: F.batch_norm(x, *ours_stats, *p), lambda x, *p: TF.batch_norm(x, *theirs_stats, *p),
          [x] + params, dtype)


def test_batch_norm_eval_leaves_running_stats_alone_and_gets_no_running_grad():
    x = data(4, 3)
    rm, rv = tb.tensor(data(3, seed=1)), tb.tensor(np.ones(3) * 2)
    before = rm.numpy().copy(), rv.numpy().copy()
    versions = rm._version, rv._version
    F.batch_norm(tb.tensor(x), rm, rv, training=False)
    assert np.array_equal(rm.numpy(), before[0]) and np.array_equal(rv.numpy(), before[1])
    assert (rm._version, rv._version) == versions


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 2, 2, 3), (1, 3, 4), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm_functional(shape, affine, dtype):
    c = shape[1]
    x = data(*shape, dtype=dtype, scale=2, shift=0.5)
    params = [data(c, dtype=dtype, seed=1), data(c, dtype=dtype, seed=2)] if affine else []
    check(lambda x, *p: F.instance_norm(x, None, None, *p), lambda x, *p: TF.instance_norm(x, None, None, *p),
          [x] + params, dtype)
    rm, rv = data(c, dtype=dtype, seed=3), np.abs(data(c, dtype=dtype, seed=4)) + 0.5
    ours, theirs = (tb.tensor(rm.copy()), tb.tensor(rv.copy())), (torch.tensor(rm.copy()), torch.tensor(rv.copy()))
    for use_input_stats in (True, False):
        check(lambda x, *p: F.instance_norm(x, *ours, *p, use_input_stats=use_input_stats, momentum=0.3, eps=1e-3),
              lambda x, *p: TF.instance_norm(x, *theirs, *p, use_input_stats=use_input_stats, momentum=0.3,
                                             eps=1e-3), [x] + params, dtype)
        for a, b in zip(ours, theirs):
            assert_close(a, b, dtype, "running stat")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((6,), (6,)), ((2, 3, 4), (4,))])
@pytest.mark.parametrize("eps", [None, 1e-3, 0.0])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_functional(shape, normalized, eps, affine, dtype):
    args = [data(*shape, dtype=dtype, scale=2, shift=0.3)]
    args += [data(*normalized, dtype=dtype, seed=1)] if affine else []
    check(lambda x, *w: F.rms_norm(x, normalized, *w, eps=eps), lambda x, *w: TF.rms_norm(x, normalized, *w, eps=eps),
          args, dtype)


def test_rms_norm_default_eps_is_the_dtype_epsilon():
    """Tiny inputs, where eps decides the result: eps=None must be finfo(dtype).eps for each dtype."""
    for dtype in DTYPES:
        x = np.full((2, 3), 1e-9, dtype)
        assert_close(F.rms_norm(tb.tensor(x), (3,)), TF.rms_norm(torch.tensor(x), (3,)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 6, 3), (2, 5, 3, 2), (1, 4, 2, 2, 2), (2, 1, 3)])
@pytest.mark.parametrize("size,alpha,beta,k", [(1, 1e-4, 0.75, 1.0), (2, 0.5, 0.75, 1.0), (3, 1.0, 0.5, 2.0),
                                               (4, 0.3, 1.5, 0.5), (7, 2.0, 0.75, 1.0)])
def test_local_response_norm_functional(shape, size, alpha, beta, k, dtype):
    x = data(*shape, dtype=dtype, scale=2)
    check(lambda x: F.local_response_norm(x, size, alpha, beta, k),
          lambda x: TF.local_response_norm(x, size, alpha, beta, k), [x], dtype)
    ours, theirs = nn.LocalResponseNorm(size, alpha, beta, k), torch.nn.LocalResponseNorm(size, alpha, beta, k)
    assert repr(ours) == repr(theirs)
    check(ours, theirs, [x], dtype)


# ------------------------------------------------------------------ modules
def _load_into_both(ours, theirs, seed=5):
    """Random (non-default) parameters, the same in both modules."""
    for i, (name, p) in enumerate(ours.named_parameters()):
        p._data[...] = data(*p.shape, dtype=p.dtype, seed=seed + i)
    theirs.load_state_dict(ours.state_dict())


def _state_close(ours, theirs, dtype):
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert_close(np.asarray(a[k]), b[k], dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 1)])
@pytest.mark.parametrize("momentum", [0.1, 0.6, None])
@pytest.mark.parametrize("affine,bias", [(True, True), (False, True), (True, False)])
def test_batch_norm_1d_training_steps_then_eval(shape, momentum, affine, bias, dtype):
    ours_t, theirs_t = tdtype(dtype)
    ours = nn.BatchNorm1d(3, eps=1e-4, momentum=momentum, affine=affine, dtype=ours_t, bias=bias)
    theirs = torch.nn.BatchNorm1d(3, eps=1e-4, momentum=momentum, affine=affine, dtype=theirs_t, bias=bias)
    assert repr(ours) == repr(theirs)
    _load_into_both(ours, theirs)
    for step in range(4):
        x = data(*shape, dtype=dtype, seed=10 + step, scale=step + 1, shift=step - 1)
        check(ours, theirs, [x], dtype, seed=step)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert_close(p.grad, q.grad, dtype, f"{name}.grad")
            p.grad, q.grad = None, None
        _state_close(ours, theirs, dtype)
    assert int(ours.num_batches_tracked) == 4
    ours.eval(), theirs.eval()
    x = data(*shape, dtype=dtype, seed=20, scale=3)
    check(ours, theirs, [x], dtype)
    _state_close(ours, theirs, dtype)
    assert int(ours.num_batches_tracked) == 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_without_running_stats_uses_batch_stats_in_eval(dtype):
    ours_t, theirs_t = tdtype(dtype)
    ours = nn.BatchNorm1d(4, track_running_stats=False, dtype=ours_t)
    theirs = torch.nn.BatchNorm1d(4, track_running_stats=False, dtype=theirs_t)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    assert ours.running_mean is None and ours.num_batches_tracked is None
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        check(ours, theirs, [data(5, 4, 3, dtype=dtype, shift=2)], dtype)


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (3, 4, 2, 3)), ("BatchNorm3d", (2, 4, 2, 2, 3))])
def test_batch_norm_2d_3d(cls, shape):
    ours, theirs = getattr(nn, cls)(4, momentum=0.2, dtype=tb.float64), getattr(torch.nn, cls)(4, momentum=0.2,
                                                                                                  dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    _load_into_both(ours, theirs)
    for step in range(2):
        check(ours, theirs, [data(*shape, seed=step, shift=step)], np.float64)
    _state_close(ours, theirs, np.float64)
    ours.eval(), theirs.eval()
    check(ours, theirs, [data(*shape, seed=9)], np.float64)
    same_error(lambda L, T: getattr(L, cls)(4)(T.ones(2, 4, 3)), cls)


def test_batch_norm_state_dict_round_trip_with_torch():
    theirs = torch.nn.BatchNorm1d(3, momentum=None)
    for i in range(3):
        theirs(torch.randn(5, 3) * (i + 1) + i)
    ours = nn.BatchNorm1d(3, momentum=None)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert ours.num_batches_tracked.dtype == tb.int64 and ours.num_batches_tracked.shape == ()
    ours.load_state_dict(theirs.state_dict())
    _state_close(ours, theirs, np.float32)
    x = data(5, 3, dtype=np.float32, seed=3)
    ours.train(), theirs.train()
    check(ours, theirs, [x], np.float32)  # the cumulative average continues from the loaded count
    _state_close(ours, theirs, np.float32)
    back = torch.nn.BatchNorm1d(3, momentum=None)
    back.load_state_dict(ours.state_dict())
    _state_close(ours, back, np.float32)


def test_batch_norm_reset_and_dtype_conversion():
    m = nn.BatchNorm1d(3)
    m(tb.randn(4, 3) * 3 + 1)
    m.weight.data = tb.tensor(np.full(3, 2.0, np.float32))
    m.reset_running_stats()
    t = torch.nn.BatchNorm1d(3)
    t.weight.data.fill_(2.0)
    _state_close(m, t, np.float32)
    m.reset_parameters()
    _state_close(m, torch.nn.BatchNorm1d(3), np.float32)
    m.double()
    assert m.running_mean.dtype == tb.float64 and m.num_batches_tracked.dtype == tb.int64


def test_batch_norm_empty_batch_counts_the_step_and_keeps_the_stats():
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    check(ours, theirs, [np.zeros((0, 3), np.float32)], np.float32)
    _state_close(ours, theirs, np.float32)
    assert_close(ours.weight.grad, theirs.weight.grad, np.float32)


def test_nan_inputs_propagate_like_torch():
    x = data(4, 6, 3)
    x[1, 2, 0] = np.nan
    for f, g in [(lambda a: F.group_norm(a, 3), lambda t: TF.group_norm(t, 3)),
                 (lambda a: F.batch_norm(a, None, None, training=True), lambda t: TF.batch_norm(t, None, None,
                                                                                               training=True)),
                 (lambda a: F.instance_norm(a), lambda t: TF.instance_norm(t)),
                 (lambda a: F.rms_norm(a, (3,)), lambda t: TF.rms_norm(t, (3,))),
                 (lambda a: F.local_response_norm(a, 3), lambda t: TF.local_response_norm(t, 3))]:
        assert_close(f(tb.tensor(x)), g(torch.tensor(x)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 5)])
@pytest.mark.parametrize("affine,track", [(False, False), (True, False), (False, True), (True, True)])
def test_instance_norm_1d_module(shape, affine, track, dtype):
    ours_t, theirs_t = tdtype(dtype)
    ours = nn.InstanceNorm1d(3, momentum=0.4, affine=affine, track_running_stats=track, dtype=ours_t)
    theirs = torch.nn.InstanceNorm1d(3, momentum=0.4, affine=affine, track_running_stats=track, dtype=theirs_t)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_into_both(ours, theirs)
    for step in range(3):
        check(ours, theirs, [data(*shape, dtype=dtype, seed=step, scale=step + 1, shift=step)], dtype, seed=step)
        _state_close(ours, theirs, dtype)
    ours.eval(), theirs.eval()
    check(ours, theirs, [data(*shape, dtype=dtype, seed=7)], dtype)
    if track:
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 0  # as torch: never counted


@pytest.mark.parametrize("cls,shape", [("InstanceNorm2d", (2, 3, 2, 3)), ("InstanceNorm2d", (3, 2, 3)),
                                       ("InstanceNorm3d", (2, 3, 2, 2, 2)), ("InstanceNorm3d", (3, 2, 1, 2))])
def test_instance_norm_2d_3d(cls, shape):
    ours = getattr(nn, cls)(3, affine=True, track_running_stats=True, dtype=tb.float64)
    theirs = getattr(torch.nn, cls)(3, affine=True, track_running_stats=True, dtype=torch.float64)
    _load_into_both(ours, theirs)
    check(ours, theirs, [data(*shape)], np.float64)
    _state_close(ours, theirs, np.float64)


def test_instance_norm_channel_mismatch_warns_without_affine_and_raises_with_it():
    x = data(2, 4, 5, dtype=np.float32)
    with pytest.warns(UserWarning, match="does not match num_features"):
        y = nn.InstanceNorm1d(3)(tb.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(y, torch.nn.InstanceNorm1d(3)(torch.tensor(x)), np.float32)
    same_error(lambda L, T: L.InstanceNorm1d(3, affine=True)(T.ones(2, 4, 5)), "InstanceNorm1d.*num_features")


def test_instance_norm_empty_batch_running_stats_are_nan_as_torch():
    ours = nn.InstanceNorm1d(3, track_running_stats=True)
    theirs = torch.nn.InstanceNorm1d(3, track_running_stats=True)
    check(ours, theirs, [np.zeros((0, 3, 4), np.float32)], np.float32)
    _state_close(ours, theirs, np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("groups,channels,shape", [(2, 4, (3, 4, 5)), (1, 3, (2, 3)), (3, 3, (2, 3, 2, 2))])
@pytest.mark.parametrize("affine,bias", [(True, True), (False, True), (True, False)])
def test_group_norm_module(groups, channels, shape, affine, bias, dtype):
    ours_t, theirs_t = tdtype(dtype)
    ours = nn.GroupNorm(groups, channels, eps=1e-3, affine=affine, dtype=ours_t, bias=bias)
    theirs = torch.nn.GroupNorm(groups, channels, eps=1e-3, affine=affine, dtype=theirs_t, bias=bias)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_into_both(ours, theirs)
    check(ours, theirs, [data(*shape, dtype=dtype, scale=2)], dtype)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, dtype, "parameter gradient")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized_shape", [4, [3, 4], (4,)])
@pytest.mark.parametrize("eps", [None, 1e-2])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_module(normalized_shape, eps, affine, dtype):
    ours_t, theirs_t = tdtype(dtype)
    ours = nn.RMSNorm(normalized_shape, eps=eps, elementwise_affine=affine, dtype=ours_t)
    theirs = torch.nn.RMSNorm(normalized_shape, eps=eps, elementwise_affine=affine, dtype=theirs_t)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _load_into_both(ours, theirs)
    check(ours, theirs, [data(2, 3, 4, dtype=dtype, scale=3)], dtype)
    if affine:
        assert_close(ours.weight.grad, theirs.weight.grad, dtype, "weight.grad")


def test_default_parameters_and_buffers_like_torch():
    for make in (lambda L: L.BatchNorm1d(5), lambda L: L.GroupNorm(2, 4), lambda L: L.RMSNorm([2, 3]),
                 lambda L: L.InstanceNorm1d(3, affine=True, track_running_stats=True)):
        ours, theirs = make(nn), make(torch.nn)
        _state_close(ours, theirs, np.float32)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
        assert all(p.requires_grad for p in ours.parameters())


def test_empty_inputs():
    for f, g, shape in [(lambda a: F.group_norm(a, 2), lambda t: TF.group_norm(t, 2), (0, 4, 3)),
                        (lambda a: F.group_norm(a, 2), lambda t: TF.group_norm(t, 2), (2, 4, 0)),
                        (lambda a: F.instance_norm(a), lambda t: TF.instance_norm(t), (0, 3, 4)),
                        (lambda a: F.rms_norm(a, (3,)), lambda t: TF.rms_norm(t, (3,)), (0, 3)),
                        (lambda a: F.layer_norm(a, (3,)), lambda t: TF.layer_norm(t, (3,)), (0, 3)),
                        (lambda a: F.local_response_norm(a, 2), lambda t: TF.local_response_norm(t, 2), (0, 3, 2)),
                        (lambda a: F.batch_norm(a, None, None, training=True),
                         lambda t: TF.batch_norm(t, None, None, training=True), (2, 3, 0))]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no numpy 'mean of empty slice'
            check(f, g, [np.zeros(shape)])


def test_layer_norm_still_matches_torch_after_sharing_the_standardisation():
    x, w, b = data(3, 4, 5), data(4, 5, seed=1), data(4, 5, seed=2)
    check(lambda x, w, b: F.layer_norm(x, (4, 5), w, b), lambda x, w, b: TF.layer_norm(x, (4, 5), w, b), [x, w, b])
    check(lambda x: F.layer_norm(x, 5), lambda x: TF.layer_norm(x, (5,)), [x])


BAD = [
    (lambda L, T: L.functional.batch_norm(T.ones(1, 3), None, None, training=True), "batch_norm"),
    (lambda L, T: L.functional.batch_norm(T.ones(1, 3, 1), None, None, training=True), "batch_norm"),
    (lambda L, T: L.BatchNorm1d(3)(T.ones(1, 3)), "batch_norm.*more than 1 value per channel"),
    (lambda L, T: L.BatchNorm1d(3)(T.ones(2, 3, 2, 2)), "BatchNorm1d"),
    (lambda L, T: L.BatchNorm1d(3)(T.ones(3)), "BatchNorm1d"),
    (lambda L, T: L.BatchNorm1d(3)(T.ones(4, 4)), "batch_norm"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3), None, None), "batch_norm.*running_mean"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3), T.zeros(3), None, training=True), "batch_norm"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3), T.zeros(4), T.ones(4), training=True), "batch_norm"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3), None, None, T.ones(2), training=True), "batch_norm"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3), None, None, T.ones(3, dtype=T.float64), training=True),
     "batch_norm.*mixed dtype"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3, dtype=T.float64), T.zeros(3), T.ones(3), training=True),
     "batch_norm.*mixed dtype"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3, dtype=T.int64), None, None, training=True), "batch_norm"),
    (lambda L, T: L.functional.batch_norm(T.ones(4, 3), T.zeros(3), T.ones(3), training=True, momentum=None),
     "momentum"),
    (lambda L, T: L.GroupNorm(4, 6), "divisible"),
    (lambda L, T: L.GroupNorm(2, 6)(T.ones(3, 4)), "group_norm"),
    (lambda L, T: L.GroupNorm(2, 6)(T.ones(6)), "group_norm"),
    (lambda L, T: L.functional.group_norm(T.ones(3, 6), 4), "group_norm.*divisible"),
    (lambda L, T: L.functional.group_norm(T.ones(3, 6), 2, T.ones(5)), "group_norm"),
    (lambda L, T: L.functional.group_norm(T.ones(3, 6), 2, T.ones(6, 1)), "group_norm"),
    (lambda L, T: L.functional.group_norm(T.ones(3, 6, dtype=T.float64), 2, T.ones(6)), "group_norm"),
    (lambda L, T: L.functional.group_norm(T.ones(3, 6, dtype=T.int64), 2), "group_norm"),
    (lambda L, T: L.RMSNorm(4)(T.ones(3, 5)), "rms_norm"),
    (lambda L, T: L.functional.rms_norm(T.ones(3, 5), (5,), T.ones(4)), "rms_norm"),
    (lambda L, T: L.functional.rms_norm(T.ones(3, 5), 5), "rms_norm"),
    (lambda L, T: L.functional.rms_norm(T.ones(3, 5, dtype=T.int64), (5,)), "rms_norm"),
    (lambda L, T: L.InstanceNorm1d(3)(T.ones(2, 3, 1)), "instance_norm.*spatial"),
    (lambda L, T: L.InstanceNorm1d(3)(T.ones(2, 3, 4, 5)), "InstanceNorm1d"),
    (lambda L, T: L.InstanceNorm2d(3)(T.ones(3, 4)), "InstanceNorm2d"),
    (lambda L, T: L.functional.instance_norm(T.ones(2, 3)), "instance_norm"),
    (lambda L, T: L.functional.instance_norm(T.ones(2, 3, 2), use_input_stats=False), "instance_norm"),
    (lambda L, T: L.functional.instance_norm(T.ones(2, 3, 2), weight=T.ones(2)), "instance_norm"),
    (lambda L, T: L.functional.instance_norm(T.ones(2, 3, 2), T.zeros(2), T.ones(2)), "instance_norm"),
    (lambda L, T: L.functional.instance_norm(T.ones(2, 3, 2, dtype=T.float64), weight=T.ones(3)), "instance_norm"),
    (lambda L, T: L.LocalResponseNorm(2)(T.ones(2, 3)), "local_response_norm"),
    (lambda L, T: L.functional.local_response_norm(T.ones(2, 3, 2), 0), "local_response_norm"),
]


@pytest.mark.parametrize("bad,match", BAD)
def test_bad_arguments_raise_torch_exception_types(bad, match):
    same_error(bad, match)


FUNCTIONS = ["rms_norm", "group_norm", "batch_norm", "instance_norm", "local_response_norm"]
MODULES = ["RMSNorm", "GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LocalResponseNorm"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_signatures_match_torch(name):
    assert signature(getattr(F, name)) == signature(getattr(TF, name))


@pytest.mark.parametrize("name", MODULES)
def test_module_signatures_match_torch(name):
    assert signature(getattr(nn, name).__init__) == signature(getattr(torch.nn, name).__init__)
    assert issubclass(getattr(nn, name), nn.Module)


def test_deepcopy_keeps_running_stats_separate():
    m = nn.BatchNorm1d(2)
    m(tb.randn(4, 2))
    c = copy.deepcopy(m)
    m(tb.randn(4, 2) + 5)
    assert not np.allclose(c.running_mean.numpy(), m.running_mean.numpy())
    assert int(c.num_batches_tracked) == 1 and int(m.num_batches_tracked) == 2


def test_docstrings():
    import tinybptt.nn.normalization as mod
    for name, obj in inspect.getmembers(mod):
        if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) and \
                obj.__module__ == mod.__name__:
            assert obj.__doc__, name
