"""nn.utils: clip_grad_norm_, clip_grad_value_, detach_state against numpy and torch.nn.utils."""
import collections
import math

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt.nn.utils import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, detach_state,
                               get_total_norm)

SHAPES = [(3, 4), (5,), (2, 2, 2), (1,)]


def pair(grads, dtypes=None):
    """The same gradients on tinybptt and on torch parameters."""
    dtypes = dtypes or [g.dtype for g in grads]
    ours, theirs = [], []
    for g, d in zip(grads, dtypes):
        g = np.asarray(g, d)
        p = tb.zeros(*g.shape, dtype=d, requires_grad=True)
        p.grad = tb.tensor(g.copy(), dtype=d)
        q = torch.zeros(g.shape, dtype=torch.float64 if d == np.float64 else torch.float32, requires_grad=True)
        q.grad = torch.tensor(g.copy())
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def random_grads(seed, dtype, scale=1.0):
    r = np.random.default_rng(seed)
    return [(r.normal(size=s) * scale).astype(dtype) for s in SHAPES]


def assert_grads_equal(ours, theirs, rtol):
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=0, equal_nan=True)


# ------------------------------------------------------------------ clip_grad_norm_
@pytest.mark.parametrize("max_norm", [0.3, 1e3])
def test_clip_grad_norm_formula_against_numpy(max_norm):
    grads = random_grads(0, np.float64, scale=2.0)
    ours, _ = pair(grads)
    total = clip_grad_norm_(ours, max_norm)
    ref_total = np.sqrt(sum((g ** 2).sum() for g in grads))  # one vector of all gradients
    assert isinstance(total, tb.Tensor) and total.shape == () and total.dtype == np.float64
    np.testing.assert_allclose(total.item(), ref_total, rtol=1e-14)
    coef = min(1.0, max_norm / (ref_total + 1e-6))
    for p, g in zip(ours, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-14)
    if max_norm < ref_total:
        np.testing.assert_allclose(np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in ours)), max_norm, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3, 0.5, 0, math.inf, "inf", -math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    grads = random_grads(1, dtype)
    ours, theirs = pair(grads)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    assert total.dtype == dtype and total.shape == ()
    np.testing.assert_allclose(total.item(), ref.item(), rtol=rtol)
    assert_grads_equal(ours, theirs, rtol)


def test_clip_grad_norm_mixed_dtypes_and_foreach_match_torch():
    grads = random_grads(2, np.float64)
    dtypes = [np.float32, np.float64, np.float32, np.float64]
    for foreach in (None, True, False):
        ours, theirs = pair(grads, dtypes)
        total = clip_grad_norm_(ours, 0.7, foreach=foreach)
        ref = torch.nn.utils.clip_grad_norm_(theirs, 0.7, foreach=foreach)
        assert total.dtype == np.float64  # the per-tensor norms are promoted, as torch.stack does
        np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-7)
        for p, q in zip(ours, theirs):
            assert p.grad.dtype == p.dtype
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_single_tensor_missing_grads_and_empty():
    p = tb.zeros(2, requires_grad=True)
    p.grad = tb.tensor([3.0, 4.0])
    total = clip_grad_norm_(p, 1.0)  # one tensor, not a list
    assert total.item() == pytest.approx(5.0) and total.dtype == np.float32
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)

    no_grad = tb.zeros(3, requires_grad=True)  # skipped, stays None
    q = tb.zeros(1, requires_grad=True)
    q.grad = tb.tensor([2.0])
    assert clip_grad_norm_([no_grad, q], 10.0).item() == 2.0
    assert no_grad.grad is None and q.grad.item() == 2.0

    empty = clip_grad_norm_([], 1.0)
    ref = torch.nn.utils.clip_grad_norm_([], 1.0)
    assert empty.item() == ref.item() == 0.0 and empty.dtype == np.float32
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((x for x in []), 1.0)

    z = tb.zeros(0, requires_grad=True)  # an empty gradient: norm 0, but the inf norm has no identity
    z.grad = tb.zeros(0)
    assert clip_grad_norm_([z], 1.0).item() == 0.0
    with pytest.raises(RuntimeError, match="empty"):
        clip_grad_norm_([z], 1.0, norm_type="inf")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite(bad):
    grads = [np.array([1.0, bad, 3.0], np.float32), np.array([2.0], np.float32)]
    ours, theirs = pair(grads)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    for p, g in zip(ours, grads):  # the error leaves the gradients alone
        np.testing.assert_array_equal(p.grad.numpy(), g)
    total = clip_grad_norm_(ours, 1.0)  # without the flag: scaled by the non-finite norm, like torch
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.numpy(), ref.numpy())
    assert_grads_equal(ours, theirs, 0)


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    grads = random_grads(3, np.float32, scale=3.0)
    ours, theirs = pair(grads)
    for p_norm in (2.0, 1.0, math.inf):
        ours_total = get_total_norm([p.grad for p in ours], p_norm)
        ref_total = torch.nn.utils.get_total_norm([q.grad for q in theirs], p_norm)
        np.testing.assert_allclose(ours_total.item(), ref_total.item(), rtol=1e-6)
    clip_grads_with_norm_(ours, 1.5, ours_total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.5, ref_total)
    assert_grads_equal(ours, theirs, 1e-6)


def test_clip_grad_norm_after_a_real_backward():
    r = np.random.default_rng(4)
    w, x = r.normal(size=(4, 3)), r.normal(size=(5, 4))
    tw = tb.tensor(w, requires_grad=True)
    ((tb.tensor(x) @ tw).tanh() ** 2).sum().backward()
    qw = torch.tensor(w, dtype=torch.float32, requires_grad=True)
    ((torch.tensor(x, dtype=torch.float32) @ qw).tanh() ** 2).sum().backward()
    np.testing.assert_allclose(clip_grad_norm_([tw], 0.1).item(), torch.nn.utils.clip_grad_norm_([qw], 0.1).item(),
                               rtol=1e-5)
    np.testing.assert_allclose(tw.grad.numpy(), qw.grad.numpy(), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ clip_grad_value_
@pytest.mark.parametrize("clip", [0.5, 2, -1.0])
def test_clip_grad_value_matches_numpy_and_torch(clip):
    grads = random_grads(5, np.float32, scale=2.0)
    grads[0][0, 0] = np.nan
    ours, theirs = pair(grads)
    assert clip_grad_value_(ours, clip) is None
    torch.nn.utils.clip_grad_value_(theirs, clip)
    assert_grads_equal(ours, theirs, 0)
    if clip > 0:
        for p, g in zip(ours, grads):
            np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -clip, clip))  # NaN stays NaN


def test_clip_grad_value_single_tensor_and_missing_grad():
    p = tb.zeros(3, requires_grad=True)
    p.grad = tb.tensor([-3.0, 0.25, 7.0])
    clip_grad_value_(p, 1)
    np.testing.assert_array_equal(p.grad.numpy(), np.array([-1.0, 0.25, 1.0], np.float32))
    q = tb.zeros(2, requires_grad=True)
    clip_grad_value_([q, p], 0.1, foreach=True)
    assert q.grad is None
    np.testing.assert_allclose(p.grad.numpy(), [-0.1, 0.1, 0.1], rtol=1e-6)


def test_clip_functions_are_in_nn_utils():
    assert tb.nn.utils.clip_grad_norm_ is clip_grad_norm_ and tb.nn.utils.clip_grad_value_ is clip_grad_value_
    assert tb.nn.utils.detach_state is detach_state


# ------------------------------------------------------------------ detach_state
def test_detach_state_nested():
    a = tb.tensor([1.0, 2.0], requires_grad=True)
    h, c, d = a * 2, a * 3, a.tanh()
    Pair = collections.namedtuple("Pair", "h c")
    state = (h, [c, (d, None)], Pair(h, c), {"n": d}, 7)
    out = detach_state(state)
    assert type(out) is tuple and type(out[1]) is list and type(out[1][1]) is tuple and type(out[2]) is Pair
    assert out[1][1][1] is None and out[4] == 7
    flat = [out[0], out[1][0], out[1][1][0], out[2].h, out[2].c, out[3]["n"]]
    for new, old in zip(flat, [h, c, d, h, c, d]):
        assert new.grad_fn is None and not new.requires_grad and new.is_leaf
        assert np.shares_memory(new.numpy(), old.detach().numpy())  # same values, no copy
    (h.sum() + c.sum()).backward()  # the originals keep their graph
    np.testing.assert_array_equal(a.grad.numpy(), [5.0, 5.0])
    assert detach_state(None) is None
    single = detach_state(h)
    assert isinstance(single, tb.Tensor) and single.grad_fn is None


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(tb.nn.utils)
    assert result.attempted > 0 and result.failed == 0


def _error_text(fn, *args, **kwargs):
    with pytest.raises(RuntimeError) as info:
        fn(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize("norm_type, grad", [(2.0, [1.0, math.nan]), (1, [math.inf, 1.0]), (math.inf, []),
                                             (-math.inf, [])])
def test_clip_grad_norm_error_messages_are_torchs(norm_type, grad):
    ours, theirs = pair([np.asarray(grad, np.float32)])
    kw = dict(norm_type=norm_type, error_if_nonfinite=True)
    assert _error_text(clip_grad_norm_, ours, 1.0, **kw) == \
        _error_text(torch.nn.utils.clip_grad_norm_, theirs, 1.0, **kw)


def test_clip_grad_norm_empty_generator_warning_is_torchs():
    with pytest.warns(UserWarning) as ours:
        clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(UserWarning) as theirs:
        torch.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
