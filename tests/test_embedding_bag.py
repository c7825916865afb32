"""Parity with torch 2.13 for F.embedding_bag and nn.EmbeddingBag: 'sum' / 'mean' / 'max' over 2-D input and
over 1-D input with offsets (include_last_offset, empty bags, padding_idx left out of bag and count),
per_sample_weights, max_norm; values and gradients of the weight and of per_sample_weights in float64 and
float32, finite-difference checks, reprs, state_dict, from_pretrained and the exception types of bad input."""
import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F

TF = torch.nn.functional
TOL = {np.float32: 1e-5, np.float64: 1e-12}

# (indices, offsets): 2-D input when offsets is None; repeated indices, empty bags, a padding row (2) in use
BAGS = [
    (np.array([[1, 2, 4, 5], [4, 3, 2, 9], [2, 2, 2, 2]]), None),
    (np.array([[7], [0], [2]]), None),
    (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4])),
    (np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 8])),
    (np.array([2, 2, 0, 1, 9, 9, 2]), np.array([0, 2, 2, 5])),
    (np.array([], np.int64), np.array([0, 0])),
    (np.array([3, 1, 4]), np.array([], np.int64)),
]


def pair(a):
    return tb.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


def run(idx, offsets, mode, dtype, psw=False, **kw):
    """Our and torch's embedding_bag, values and gradients of weight (and per_sample_weights) compared."""
    rng = np.random.default_rng(0)
    w, wt = pair(rng.standard_normal((10, 3)).astype(dtype))
    ps = pst = None
    if psw:
        ps, pst = pair(rng.uniform(-2, 2, idx.shape).astype(dtype))
    off = None if offsets is None else tb.tensor(offsets)
    offt = None if offsets is None else torch.tensor(offsets)
    y = F.embedding_bag(tb.tensor(idx), w, off, mode=mode, per_sample_weights=ps, **kw)
    yt = TF.embedding_bag(torch.tensor(idx), wt, offt, mode=mode, per_sample_weights=pst, **kw)
    tol = TOL[dtype]
    assert tuple(y.shape) == tuple(yt.shape) and str(y.dtype) == str(yt.dtype).replace("torch.", "")
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    u = rng.uniform(0.5, 2, tuple(yt.shape)).astype(dtype)
    y.backward(tb.tensor(u))
    yt.backward(torch.tensor(u))
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=tol, atol=tol)
    if psw:
        np.testing.assert_allclose(ps.grad.numpy(), pst.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(w.detach().numpy(), wt.detach().numpy(), rtol=tol, atol=tol)  # max_norm renorms


@pytest.mark.parametrize("case", range(len(BAGS)))
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2, -8])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_bag_matches_torch(case, mode, padding_idx, dtype):
    idx, offsets = BAGS[case]
    if offsets is not None and not offsets.size:  # torch 2.13 crashes (segfault, memory errors) on these
        y = F.embedding_bag(tb.tensor(idx), tb.randn(10, 3), tb.tensor(offsets), mode=mode, padding_idx=padding_idx)
        assert tuple(y.shape) == (0, 3)
        return
    run(idx, offsets, mode, dtype, padding_idx=padding_idx)


@pytest.mark.parametrize("case", range(len(BAGS) - 1))  # not the no-bag case: torch 2.13 crashes on it
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_sample_weights_match_torch(case, padding_idx, dtype):
    idx, offsets = BAGS[case]
    run(idx, offsets, "sum", dtype, psw=True, padding_idx=padding_idx)


# the last offset is the input's length, as torch documents it (torch 2.13 mixes up other cases, and crashes on [0])
@pytest.mark.parametrize("offsets", [np.array([0, 4, 8]), np.array([0, 3, 3, 8]), np.array([0, 8]),
                                     np.array([0, 0, 8, 8])])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_include_last_offset_matches_torch(offsets, mode):
    run(np.array([1, 2, 4, 5, 4, 3, 2, 9]), offsets, mode, np.float64, include_last_offset=True)
    if mode == "sum":
        run(np.array([1, 2, 4, 5, 4, 3, 2, 9]), offsets, mode, np.float64, psw=True, include_last_offset=True)


def test_include_last_offset_single_offset_means_no_bags():
    for mode in ("sum", "mean", "max"):
        y = F.embedding_bag(tb.tensor([1, 2]), tb.randn(10, 3), tb.tensor([0]), mode=mode, include_last_offset=True)
        assert tuple(y.shape) == (0, 3)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_max_norm_renormalises_rows_as_torch(mode, norm_type):
    run(np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 6]), mode, np.float64, max_norm=0.7,
        norm_type=norm_type)


@pytest.mark.parametrize("idx,offsets", [([0, 1, 1, 3, 4, 5], [0, 2]), ([1, 1, 2, 1, 0], [0, 2]),
                                         ([3, 3, 1, 6, 6, 6, 6], [0, 3, 3]), ([5, 2, 2, 2, 7], [0, 1]),
                                         ([7, 7, 7, 0], [0]), ([9, 8, 7], [0, 1, 2])])
@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_scale_grad_by_freq_matches_torch(idx, offsets, mode, padding_idx):
    run(np.array(idx), np.array(offsets), mode, np.float64, scale_grad_by_freq=True, padding_idx=padding_idx)
    if mode == "sum":
        run(np.array(idx), np.array(offsets), mode, np.float64, psw=True, scale_grad_by_freq=True)


def test_max_ties_give_the_gradient_to_the_first_row():
    w, wt = pair(np.zeros((4, 2)))
    F.embedding_bag(tb.tensor([[3, 2, 1]]), w, mode="max").sum().backward()
    TF.embedding_bag(torch.tensor([[3, 2, 1]]), wt, mode="max").sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), wt.grad.numpy())


def test_int32_indices_and_offsets():
    w = tb.randn(10, 3, dtype=tb.float64)
    a = F.embedding_bag(tb.tensor(np.array([1, 2, 4], np.int32)), w, tb.tensor(np.array([0, 1], np.int32)))
    b = TF.embedding_bag(torch.tensor([1, 2, 4], dtype=torch.int32), torch.tensor(w.numpy()),
                         torch.tensor([0, 1], dtype=torch.int32))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_embedding_bag_gradcheck():
    rng = np.random.default_rng(7)
    idx, off = tb.tensor([1, 2, 4, 5, 4, 3, 2, 9]), tb.tensor([0, 3, 3, 6])
    for mode in ("sum", "mean", "max"):
        w = tb.tensor(rng.standard_normal((10, 3)), requires_grad=True)
        assert tb.gradcheck(lambda w: F.embedding_bag(idx, w, off, mode=mode, padding_idx=4), (w,))
    w = tb.tensor(rng.standard_normal((10, 3)), requires_grad=True)
    ps = tb.tensor(rng.standard_normal(8), requires_grad=True)
    assert tb.gradcheck(lambda w, p: F.embedding_bag(idx, w, off, mode="sum", per_sample_weights=p, padding_idx=2),
                        (w, ps))


# ---------------------------------------------------------------- the module
@pytest.mark.parametrize("kwargs", [{}, {"mode": "sum"}, {"mode": "max", "padding_idx": 2},
                                    {"max_norm": 1.0, "norm_type": 1.0, "scale_grad_by_freq": True, "mode": "sum",
                                     "include_last_offset": True, "padding_idx": 2},
                                    {"padding_idx": -1}])
def test_module_matches_torch(kwargs):
    ours, theirs = nn.EmbeddingBag(10, 3, **kwargs), torch.nn.EmbeddingBag(10, 3, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.padding_idx == theirs.padding_idx and list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    if ours.padding_idx is not None:
        assert not ours.weight.detach().numpy()[ours.padding_idx].any()
    idx, off = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 3, 3, 8])
    ps = np.linspace(-1, 1, 8).astype(np.float32) if kwargs.get("mode") == "sum" else None
    y = ours(tb.tensor(idx), tb.tensor(off), None if ps is None else tb.tensor(ps))
    yt = theirs(torch.tensor(idx), torch.tensor(off), None if ps is None else torch.tensor(ps))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_module_weight_dtype_and_init():
    tb.manual_seed(0)
    m = nn.EmbeddingBag(1000, 8, dtype=tb.float64)
    assert m.weight.dtype == np.float64 and abs(m.weight.detach().numpy().std() - 1) < 0.05


def test_from_pretrained():
    e = np.arange(12.0).reshape(4, 3)
    for freeze in (True, False):
        ours = nn.EmbeddingBag.from_pretrained(tb.tensor(e), freeze=freeze, mode="max", padding_idx=1)
        theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(e), freeze=freeze, mode="max", padding_idx=1)
        assert repr(ours) == repr(theirs) and ours.weight.requires_grad == theirs.weight.requires_grad
        np.testing.assert_array_equal(ours.weight.detach().numpy(), e)  # the padding row is kept as given
        np.testing.assert_array_equal(ours(tb.tensor([[1, 0], [3, 1]])).detach().numpy(),
                                      theirs(torch.tensor([[1, 0], [3, 1]])).detach().numpy())
    with pytest.raises(AssertionError):
        torch.nn.EmbeddingBag.from_pretrained(torch.zeros(4))
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.EmbeddingBag.from_pretrained(tb.zeros(4))


@pytest.mark.parametrize("kwargs", [{"padding_idx": 10}, {"padding_idx": -11}, {"_weight": np.zeros((9, 3))}])
def test_module_bad_arguments(kwargs):
    tkw = {k: torch.tensor(v) if k == "_weight" else v for k, v in kwargs.items()}
    with pytest.raises(AssertionError):
        torch.nn.EmbeddingBag(10, 3, **tkw)
    with pytest.raises(AssertionError, match="EmbeddingBag|padding_idx|weight"):
        nn.EmbeddingBag(10, 3, **{k: tb.tensor(v) if k == "_weight" else v for k, v in kwargs.items()})


I, O = np.array([1, 2, 4, 5, 4, 3, 2, 9]), np.array([0, 4])


@pytest.mark.parametrize("input,offsets,kwargs,exc,match", [
    (I.reshape(2, 4), O, {}, ValueError, "offsets has to be None"),
    (I, None, {}, ValueError, "offsets has to be a 1D Tensor"),
    (I.reshape(2, 2, 2), None, {}, ValueError, "1D or 2D"),
    (I, O.reshape(1, 2), {}, ValueError, "offsets has to be a 1D"),
    (I, np.array([1, 4]), {}, RuntimeError, r"offsets\[0\] has to be 0"),
    (I, np.array([0, 9]), {}, RuntimeError, "can not be greater than input's length"),
    (I, O.astype(np.float32), {}, RuntimeError, "Long, Int"),
    (I.astype(np.float32), O, {}, RuntimeError, "Long, Int"),
    (np.array([1, 10]), np.array([0]), {}, RuntimeError, "not in the valid range"),
    (np.array([1, -1]), np.array([0]), {}, RuntimeError, "not in the valid range"),
    (I, O, {"mode": "foo"}, ValueError, "mode has to be one of"),
    (I, O, {"mode": "max", "scale_grad_by_freq": True}, ValueError, "max mode"),
    (I, O, {"per_sample_weights": np.ones(8, np.float32)}, NotImplementedError, "only supported for mode='sum'"),
    (I, O, {"mode": "max", "per_sample_weights": np.ones(8, np.float32)}, NotImplementedError, "mode='sum'"),
    (I, O, {"mode": "sum", "per_sample_weights": np.ones(7, np.float32)}, ValueError, "same shape as the input"),
    (I.reshape(2, 4), None, {"mode": "sum", "per_sample_weights": np.ones(8, np.float32)}, ValueError, "same shape"),
    (I, O, {"mode": "sum", "per_sample_weights": np.ones(8)}, RuntimeError, "same type"),
    (I, O, {"padding_idx": 10}, RuntimeError, "padding_idx must be within"),
    (I, np.array([], np.int64), {"include_last_offset": True}, RuntimeError, "at least 1"),
    (np.zeros((3, 0), np.int64), None, {}, RuntimeError, "embedding_bag"),
])
def test_bad_input_raises_as_torch(input, offsets, kwargs, exc, match):
    w = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    conv = {"per_sample_weights": lambda a, T: T(a)}
    tkw = {k: conv[k](v, torch.tensor) if k in conv else v for k, v in kwargs.items()}
    okw = {k: conv[k](v, tb.tensor) if k in conv else v for k, v in kwargs.items()}
    tofs = None if offsets is None else torch.tensor(offsets)
    with pytest.raises(exc):
        TF.embedding_bag(torch.tensor(input), torch.tensor(w), tofs, **tkw)
    with pytest.raises(exc, match=match):
        F.embedding_bag(tb.tensor(input), tb.tensor(w), None if offsets is None else tb.tensor(offsets), **okw)


@pytest.mark.parametrize("weight,exc", [(np.zeros(10, np.float32), ValueError),
                                        (np.zeros((10, 3), np.int64), RuntimeError)])
def test_bad_weight(weight, exc):
    with pytest.raises(exc):
        TF.embedding_bag(torch.tensor(I), torch.tensor(weight), torch.tensor(O))
    with pytest.raises(exc, match="weight"):
        F.embedding_bag(tb.tensor(I), tb.tensor(weight), tb.tensor(O))


def test_decreasing_offsets_raise():
    # torch 2.13 reads out of bounds here (sometimes raising RuntimeError, sometimes not): we always raise
    with pytest.raises(RuntimeError, match="embedding_bag: offsets must be non-decreasing"):
        F.embedding_bag(tb.tensor(I), tb.randn(10, 3), tb.tensor([0, 5, 3]))
