"""Parity with torch 2.13 for F.pad (every mode, negative padding, the dims each mode pads), the padding modules,
F.unfold / F.fold and nn.Unfold / nn.Fold: values and gradients in float64 and float32, finite-difference checks
of the new Functions, reprs, and the exception types of bad input."""
import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F

TF = torch.nn.functional
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def pair(shape, dtype, seed=0):
    """The same random data as a tinybptt and a torch leaf."""
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return tb.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)


def check(f_ours, f_torch, shape, dtype=np.float64):
    """Values and input gradients (for a fixed random cotangent) of f_ours and f_torch agree."""
    x, xt = pair(shape, dtype)
    y, yt = f_ours(x), f_torch(xt)
    assert tuple(y.shape) == tuple(yt.shape) and str(y.dtype) == str(yt.dtype).replace("torch.", "")
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=TOL[dtype], atol=TOL[dtype])
    u = np.random.default_rng(1).uniform(0.5, 2, tuple(yt.shape)).astype(dtype)
    y.backward(tb.tensor(u))
    yt.backward(torch.tensor(u))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=TOL[dtype], atol=TOL[dtype])


CASES = [  # (input shape, pad): 1, 2 and 3 padded dims, batched and not, negative (cropping) sides
    ((3, 6), (2, 1)), ((2, 3, 6), (0, 3)), ((2, 3, 6), (-1, 2)), ((2, 3, 6), (2, -1)), ((2, 3, 6), (-2, -1)),
    ((3, 4, 5), (1, 2, 3, 0)), ((2, 3, 4, 5), (2, 2, 1, 3)), ((2, 3, 4, 5), (-1, 2, 1, -2)),
    ((2, 3, 4, 5), (0, 0, 0, 0)), ((2, 3, 4, 5, 3), (1, 2, 0, 1, 2, 1)), ((3, 4, 5, 3), (2, 0, 1, 1, 3, 2)),
    ((0, 3, 6), (2, 1)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_modes_match_torch(mode, shape, pad, dtype):
    check(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), shape, dtype)


@pytest.mark.parametrize("shape,pad", [((5,), (2, 1)), ((5,), (-1, -2)), ((2, 3), (1, 0, 2, 1)),
                                       ((2, 3, 4), (1, 1, 0, 0, 2, 3)), ((2, 3, 4), (-3, 1)), ((2, 3, 4), ()),
                                       ((2, 3, 4, 5), (1, 2)), ((2, 3), (-1, 1, 1, -2))])
@pytest.mark.parametrize("value", [None, 0.0, 2.5, -np.inf])
def test_pad_constant_matches_torch(shape, pad, value):
    check(lambda x: F.pad(x, pad, value=value), lambda x: TF.pad(x, pad, value=value), shape)


def test_pad_integer_input_and_default_signature():
    a = np.arange(6).reshape(1, 1, 6)
    for mode, kw in (("constant", {"value": 3}), ("reflect", {}), ("circular", {})):
        np.testing.assert_array_equal(F.pad(tb.tensor(a), (2, 1), mode=mode, **kw).numpy(),
                                      TF.pad(torch.tensor(a), (2, 1), mode=mode, **kw).numpy())
    import inspect
    assert str(inspect.signature(F.pad)) == "(input, pad, mode='constant', value=None)"


def test_pad_gradcheck():
    rng = np.random.default_rng(3)
    for mode in ("constant", "reflect", "replicate", "circular"):
        x = tb.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
        assert tb.gradcheck(lambda x: F.pad(x, (2, -1, 3, 1), mode=mode), (x,))
        y = tb.tensor(rng.standard_normal((2, 5)), requires_grad=True)
        assert tb.gradcheck(lambda y: F.pad(y, (4, 3), mode=mode), (y,))


@pytest.mark.parametrize("args,kwargs,exc,match", [
    (((2, 3, 4), (1,)), {}, RuntimeError, "divisible by 2"),
    (((3,), (1, 1, 1, 1)), {}, RuntimeError, "two times the input dimension"),
    (((3,), (1, 1, 1, 1)), {"mode": "reflect"}, RuntimeError, "two times the input dimension"),
    (((2, 3, 4), (1, 1)), {"mode": "foo"}, NotImplementedError, "Unrecognised padding mode"),
    (((2, 3, 4), (1, 1)), {"mode": "reflect", "value": 1.0}, RuntimeError, "doesn't take in value"),
    (((2, 3, 4), (1, 1)), {"mode": "replicate", "value": -2}, RuntimeError, "doesn't take in value"),
    (((5,), (1, 1)), {"mode": "reflect"}, NotImplementedError, "not supported for 1D"),
    (((1, 2, 3, 5), (1, 1)), {"mode": "replicate"}, NotImplementedError, "not supported for 4D"),
    (((2, 5), (1, 1, 1, 1)), {"mode": "circular"}, NotImplementedError, "not supported for 2D"),
    (((1, 1, 2, 3, 5), (1, 1, 1, 1)), {"mode": "reflect"}, NotImplementedError, "not supported for 5D"),
    (((1, 1, 2, 3, 5), (1,) * 8), {"mode": "reflect"}, NotImplementedError, "not supported"),
    (((2, 3, 4), ()), {"mode": "reflect"}, NotImplementedError, "not supported"),
    (((1, 2, 3), (3, 1)), {"mode": "reflect"}, RuntimeError, "Padding size should be less than"),
    (((1, 2, 3), (1, 3)), {"mode": "reflect"}, RuntimeError, "Padding size should be less than"),
    (((1, 2, 3), (4, 1)), {"mode": "circular"}, RuntimeError, "wrapping around more than once"),
    (((1, 2, 0), (1, 1)), {"mode": "circular"}, RuntimeError, "wrapping around"),
    (((1, 2, 0), (1, 1)), {"mode": "replicate"}, RuntimeError, "non-zero dimensions"),
    (((2, 0, 3), (1, 1)), {"mode": "reflect"}, RuntimeError, "non-zero dimensions"),
    (((0, 3), (1, 1)), {"mode": "replicate"}, RuntimeError, "non-zero dimensions"),
    (((1, 2, 3), (-4, 1)), {"mode": "reflect"}, RuntimeError, "too small"),
    (((1, 2, 3), (-2, -1)), {"mode": "replicate"}, RuntimeError, "too small"),
    (((1, 2, 3), (-4, 1)), {}, RuntimeError, "narrow"),
])
def test_pad_bad_input_raises_as_torch(args, kwargs, exc, match):
    shape, pad = args
    with pytest.raises(exc):
        TF.pad(torch.zeros(shape), pad, **kwargs)
    with pytest.raises(exc, match=match):
        F.pad(tb.zeros(*shape), pad, **kwargs)


@pytest.mark.parametrize("bad", [3, (1.5, 1), "ab", (1, None)])
def test_pad_non_int_pad_is_type_error(bad):
    with pytest.raises(TypeError):
        TF.pad(torch.zeros(1, 2, 3), bad)
    with pytest.raises(TypeError, match="pad"):
        F.pad(tb.zeros(1, 2, 3), bad)


MODULES = [("ConstantPad1d", (2, 3.5)), ("ConstantPad1d", ((1, 2), -1.0)), ("ConstantPad2d", ((1, 2, 3, 4), 0.0)),
           ("ConstantPad2d", (1, 2.0)), ("ZeroPad1d", (2,)), ("ZeroPad1d", ((0, 3),)), ("ZeroPad2d", ((1, 2, 3, 4),)),
           ("ZeroPad2d", (1,)), ("ReflectionPad1d", (2,)), ("ReflectionPad1d", ((1, 3),)),
           ("ReflectionPad2d", (1,)), ("ReflectionPad2d", ((1, 0, 2, 3),)), ("ReplicationPad1d", ((1, 2),)),
           ("ReplicationPad2d", (3,)), ("CircularPad1d", (1,)), ("CircularPad2d", ((1, 0, 2, 0),)),
           ("CircularPad2d", (2,))]


@pytest.mark.parametrize("name,args", MODULES)
@pytest.mark.parametrize("batched", [True, False])
def test_padding_modules_match_torch(name, args, batched):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding and getattr(ours, "value", None) == getattr(theirs, "value", None)
    shape = ((2,) if batched else ()) + (3, 4, 5)[:2 if name.endswith("1d") else 3]
    check(ours, theirs, shape)


@pytest.mark.parametrize("name,shape,exc", [("ReflectionPad1d", (1, 2, 3, 4), NotImplementedError),
                                            ("ReplicationPad1d", (4,), NotImplementedError),
                                            ("CircularPad1d", (4,), ValueError),
                                            ("CircularPad1d", (1, 2, 3, 4), ValueError),
                                            ("CircularPad2d", (3, 4), ValueError),
                                            ("ReflectionPad2d", (1, 1, 2, 3, 4), NotImplementedError),
                                            ("ConstantPad2d", (3,), RuntimeError)])
def test_padding_module_bad_dims(name, shape, exc):
    args = (1, 0.0) if "Constant" in name else (1,)
    with pytest.raises(exc):
        getattr(torch.nn, name)(*args)(torch.zeros(shape))
    with pytest.raises(exc, match="input|pad"):
        getattr(nn, name)(*args)(tb.zeros(*shape))


def test_constant_pad_module_pads_any_leading_dims():
    check(nn.ConstantPad1d(1, 0.5), torch.nn.ConstantPad1d(1, 0.5), (2, 3, 4, 5))


# ---------------------------------------------------------------- unfold / fold
UNFOLD = [  # (input shape, kernel_size, dilation, padding, stride)
    ((2, 3, 5, 6), 2, 1, 0, 1), ((2, 3, 5, 6), (2, 3), 1, 1, 1), ((1, 2, 7, 8), 3, 2, 1, 2),
    ((2, 1, 6, 7), (3, 2), (1, 2), (2, 0), (2, 3)), ((3, 5, 6), 2, 1, 0, 1), ((2, 4, 4), (1, 1), 1, 0, 1),
    ((2, 2, 5, 5), 5, 1, 0, 1), ((0, 2, 5, 6), 2, 1, 0, 1), ((2, 3, 4, 4), [2, 2], [1, 1], (1, 1), [3, 3]),
]


@pytest.mark.parametrize("shape,k,d,p,s", UNFOLD)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unfold_matches_torch(shape, k, d, p, s, dtype):
    check(lambda x: F.unfold(x, k, d, p, s), lambda x: TF.unfold(x, k, d, p, s), shape, dtype)
    check(nn.Unfold(k, d, p, s), torch.nn.Unfold(k, d, p, s), shape, dtype)


@pytest.mark.parametrize("shape,k,d,p,s", UNFOLD)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fold_matches_torch(shape, k, d, p, s, dtype):
    size = shape[-2:]
    cols = tuple(TF.unfold(torch.zeros(shape), k, d, p, s).shape)
    check(lambda x: F.fold(x, size, k, d, p, s), lambda x: TF.fold(x, size, k, d, p, s), cols, dtype)
    check(nn.Fold(size, k, d, p, s), torch.nn.Fold(size, k, d, p, s), cols, dtype)


def test_fold_of_unfold_counts_block_overlaps():
    x = tb.ones(1, 1, 4, 5, dtype=tb.float64)
    ours = F.fold(F.unfold(x, 2, padding=1), (4, 5), 2, padding=1).numpy()
    theirs = TF.fold(TF.unfold(torch.ones(1, 1, 4, 5, dtype=torch.float64), 2, padding=1), (4, 5), 2, padding=1)
    np.testing.assert_array_equal(ours, theirs.numpy())


def test_unfold_fold_gradcheck():
    rng = np.random.default_rng(5)
    x = tb.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    assert tb.gradcheck(lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), (x,))
    cols = tb.tensor(rng.standard_normal((2, 12, 10)), requires_grad=True)
    assert tb.gradcheck(lambda c: F.fold(c, (5, 4), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), (cols,))


@pytest.mark.parametrize("module", [(torch.nn.Unfold, nn.Unfold, (2,)),
                                    (torch.nn.Unfold, nn.Unfold, ((2, 3), 2, 1, (1, 2))),
                                    (torch.nn.Fold, nn.Fold, ((4, 5), 2)),
                                    (torch.nn.Fold, nn.Fold, (4, (2, 3), 1, 0, 1))])
def test_fold_module_reprs(module):
    theirs, ours, args = module
    assert repr(ours(*args)) == repr(theirs(*args))


@pytest.mark.parametrize("shape,args,kwargs,exc,match", [
    ((5, 6), (2,), {}, (RuntimeError, IndexError), "3D or 4D"),
    ((1, 1, 2, 5, 6), (2,), {}, RuntimeError, "3D or 4D"),
    ((1, 0, 5, 6), (2,), {}, RuntimeError, "non-zero"),
    ((1, 2, 5, 6), (7,), {}, RuntimeError, "sliding blocks"),
    ((1, 2, 5, 6), (0,), {}, RuntimeError, "kernel size should be greater than zero"),
    ((1, 2, 5, 6), (2,), {"stride": 0}, RuntimeError, "stride should be greater than zero"),
    ((1, 2, 5, 6), (2,), {"dilation": 0}, RuntimeError, "dilation should be greater than zero"),
    ((1, 2, 5, 6), (2,), {"padding": -1}, RuntimeError, "padding should be non-negative"),
    ((1, 2, 5, 6), ((2, 2, 2),), {}, RuntimeError, "kernel_size"),
    ((1, 2, 5, 6), (2.5,), {}, TypeError, "kernel_size"),
    ((1, 2, 5, 6), ([2],), {}, RuntimeError, "kernel_size equals to 2"),
    ((1, 2, 5, 6), (2,), {"stride": [1]}, RuntimeError, "stride equals to 2"),
])
def test_unfold_bad_input(shape, args, kwargs, exc, match):
    with pytest.raises(exc):
        TF.unfold(torch.zeros(shape), *args, **kwargs)
    with pytest.raises(RuntimeError if exc == (RuntimeError, IndexError) else exc, match=match):
        F.unfold(tb.zeros(*shape), *args, **kwargs)


@pytest.mark.parametrize("shape,args,kwargs,match", [
    ((1, 2, 12, 12), ((4, 5), 2), {}, "2D or 3D"),
    ((2, 12, 0), ((1, 1), 2), {}, "non-zero"),
    ((2, 11, 12), ((4, 5), 2), {}, "divisible by the product of kernel_size"),
    ((2, 12, 11), ((4, 5), 2), {}, "number of sliding blocks"),
    ((2, 12, 12), (4, 2), {}, "number of sliding blocks"),
    ((2, 12, 12), ((4, 5), 2), {"stride": 0}, "stride should be greater than zero"),
    ((2, 0, 12), ((4, 5), 0), {}, "kernel size should be greater than zero"),
])
def test_fold_bad_input(shape, args, kwargs, match):
    with pytest.raises(RuntimeError):
        TF.fold(torch.zeros(shape), *args, **kwargs)
    with pytest.raises(RuntimeError, match=match):
        F.fold(tb.zeros(*shape), *args, **kwargs)


def test_unfold_integer_input_not_implemented():
    with pytest.raises(NotImplementedError):
        TF.unfold(torch.zeros(1, 2, 5, 6, dtype=torch.long), 2)
    with pytest.raises(NotImplementedError, match="unfold"):
        F.unfold(tb.tensor(np.zeros((1, 2, 5, 6), np.int64)), 2)


def test_pad_zero_value_and_bool_pads_accepted_as_torch():
    check(lambda x: F.pad(x, (1, True), mode="reflect", value=0.0),
          lambda x: TF.pad(x, (1, True), mode="reflect", value=0.0), (2, 3, 4))
