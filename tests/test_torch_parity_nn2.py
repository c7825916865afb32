"""Parity with torch 2.13 for the second batch of nn activations and layers: values and gradients
(kinks, NaN and large magnitudes included), reprs, state_dicts and the exception types of bad arguments."""
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F

TF = torch.nn.functional
TOL = {np.float32: 2e-6, np.float64: 1e-12}


def close(a, b, tol):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy()
    assert a.shape == b.shape and str(a.dtype) == str(b.dtype).replace("torch.", "")
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def inputs(dtype):
    """Kinks of every function here, values a rounding step off them, NaN, large magnitudes (where x * 6
    overflows) and random values, repeated so vectorised and scalar code paths both see them."""
    d = np.dtype(dtype).type
    big = np.finfo(dtype).max / 2
    kinks = [-7, -6, -3, -2.5, -1, -0.5, 0, 0.5, 1, 3, 6, 7, -20, 20, -50, 50, -1e4, 1e4, big, -big, np.nan]
    near = [np.nextafter(d(k), d(s)) for k in (-3, 3, -1, 1, 0, 6) for s in (-np.inf, np.inf)]
    rand = np.random.default_rng(0).standard_normal(42) * 4
    return np.concatenate([kinks, near, rand, kinks[::-1]]).astype(dtype)


def run(f, x):
    """f(x), and the gradient of sum(f(x) * u) with respect to x for a fixed random u."""
    y = f(x)
    up = np.random.default_rng(1).uniform(0.5, 2, tuple(y.shape)).astype(str(y.dtype).replace("torch.", ""))
    y.backward(type(y)(up) if isinstance(y, tb.Tensor) else torch.tensor(up))
    return y, x.grad


def compare(ours, theirs, x, dtype, inplace=False):
    """Values and input gradients of ours(tinybptt tensor) and theirs(torch tensor) on ``x`` (in place: on a
    non-leaf copy, so the gradient flows through the in-place op); gradients away from NaN inputs."""
    a, t = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    wrap = (lambda f: lambda v: f(v * 1)) if inplace else (lambda f: f)
    ya, ga = run(wrap(ours), a)
    yt, gt = run(wrap(theirs), t)
    close(ya, yt, TOL[dtype])
    keep = ~np.isnan(x.reshape(-1))  # torch's gradient at NaN differs between its scalar and SIMD loops
    ga, gt = ga.numpy().reshape(-1)[keep], gt.reshape(-1)[torch.from_numpy(keep)].numpy()
    np.testing.assert_allclose(ga, gt, rtol=TOL[dtype], atol=TOL[dtype] * max(1, np.abs(gt).max(initial=0)))


ACTIVATIONS = [("hardtanh", {}), ("hardtanh", dict(min_val=-2.5, max_val=0.5)), ("hardtanh", dict(min_val=1, max_val=1)),
               ("relu6", {}), ("logsigmoid", {}), ("softsign", {}), ("tanhshrink", {}), ("mish", {}), ("celu", {}),
               ("celu", dict(alpha=0.5)), ("selu", {}), ("elu", {}), ("elu", dict(alpha=2.0)), ("hardsigmoid", {}),
               ("hardswish", {}), ("threshold", dict(threshold=1.0, value=-2.0)),
               ("threshold", dict(threshold=-3, value=0.5))]
INPLACE = {"hardtanh", "relu6", "mish", "celu", "selu", "elu", "hardsigmoid", "hardswish", "threshold"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw", ACTIVATIONS)
def test_activation_values_and_gradients(name, kw, dtype):
    x = inputs(dtype)
    compare(lambda a: getattr(F, name)(a, **kw), lambda t: getattr(TF, name)(t, **kw), x, dtype)
    compare(lambda a: getattr(F, name)(a, **kw), lambda t: getattr(TF, name)(t, **kw), x.reshape(3, -1), dtype)
    if name in INPLACE:
        compare(lambda a: getattr(F, name)(a, inplace=True, **kw), lambda t: getattr(TF, name)(t, inplace=True, **kw),
                x, dtype, inplace=True)


@pytest.mark.parametrize("name,kw", [("hardtanh_", dict(min_val=-2.5, max_val=0.5)), ("threshold_", dict(threshold=1.0, value=-2.0)),
                                     ("celu_", dict(alpha=0.5)), ("elu_", {}), ("relu_", {}), ("leaky_relu_", {})])
def test_underscore_forms_change_the_input(name, kw):
    x = inputs(np.float64)
    compare(lambda a: getattr(F, name)(a, **kw), lambda t: getattr(TF, name)(t, **kw), x, np.float64, inplace=True)
    a = tb.tensor(x)
    assert getattr(F, name)(a, **kw) is a
    close(a, getattr(TF, name)(torch.tensor(x), **kw), 1e-12)


MODULES = [lambda L: L.Hardtanh(), lambda L: L.Hardtanh(-2, 3.5, True), lambda L: L.Hardtanh(min_val=-0.5),
           lambda L: L.ReLU6(), lambda L: L.ReLU6(True), lambda L: L.LogSigmoid(), lambda L: L.Softsign(),
           lambda L: L.Tanhshrink(), lambda L: L.Mish(), lambda L: L.Mish(True), lambda L: L.CELU(),
           lambda L: L.CELU(2.0, True), lambda L: L.SELU(), lambda L: L.SELU(inplace=True), lambda L: L.ELU(0.5),
           lambda L: L.Hardsigmoid(), lambda L: L.Hardsigmoid(True), lambda L: L.Hardswish(),
           lambda L: L.Hardswish(inplace=True), lambda L: L.Softmin(1), lambda L: L.Softmin(dim=0),
           lambda L: L.Threshold(0.1, 20), lambda L: L.Threshold(1, 2, True), lambda L: L.PReLU(),
           lambda L: L.PReLU(32, -0.5)]


@pytest.mark.parametrize("make", MODULES)
def test_module_repr_and_parity(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    assert dict(vars(ours)).keys() >= {k for k in ("min_val", "max_val", "inplace", "alpha", "dim", "threshold",
                                                   "value", "num_parameters", "init") if k in vars(theirs)}
    theirs.load_state_dict(ours.state_dict())
    x = inputs(np.float32).reshape(3, -1)
    inplace = getattr(theirs, "inplace", False)
    compare(ours, theirs, x, np.float32, inplace=inplace)


def test_relu6_is_a_hardtanh_and_deprecated_hardtanh_names():
    assert isinstance(nn.ReLU6(), nn.Hardtanh) and (nn.ReLU6().min_val, nn.ReLU6().max_val) == (0.0, 6.0)
    with pytest.warns(FutureWarning, match="min_value"):
        m = nn.Hardtanh(min_value=-3.0, max_value=2.0)
    assert repr(m) == repr(torch.nn.Hardtanh(-3.0, 2.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmin(dim, dtype):
    x = np.random.default_rng(2).standard_normal((3, 5)).astype(dtype) * 30
    compare(lambda a: F.softmin(a, dim), lambda t: TF.softmin(t, dim), x, dtype)
    compare(lambda a: F.softmin(a, dim, dtype=tb.float64), lambda t: TF.softmin(t, dim, dtype=torch.float64),
            x, np.float64)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        close(F.softmin(tb.tensor(x)), TF.softmin(torch.tensor(x), 1), TOL[dtype])


PRELU_SHAPES = [((4, 3, 5), 3), ((4, 3), 3), ((4, 3, 2), 1), ((6,), 1), ((), 1)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,n", PRELU_SHAPES)
def test_prelu_input_and_weight_gradients(shape, n, dtype):
    ours = nn.PReLU(n, init=0.3, dtype=tb.float64 if dtype == np.float64 else None)
    ours.weight.data = tb.tensor(np.linspace(-0.5, 0.5, n).astype(dtype))
    theirs = torch.nn.PReLU(n, dtype=torch.float64 if dtype == np.float64 else None)
    theirs.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"] and repr(ours) == repr(theirs)
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    x.reshape(-1)[:2] = 0  # the kink
    compare(ours, theirs, x, dtype)
    close(ours.weight.grad, theirs.weight.grad, TOL[dtype])


def test_prelu_default_weight_and_functional():
    assert np.all(nn.PReLU(4).weight.detach().numpy() == np.float32(0.25)) and nn.PReLU(4).init == 0.25
    x, w = inputs(np.float64).reshape(3, -1)[:, :12].reshape(3, 4, 3), np.array([0.1, -0.2, 0.3, 2.0])
    a, t = tb.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    compare(lambda v: F.prelu(v, a), lambda v: TF.prelu(v, t), x, np.float64)
    close(a.grad, t.grad, 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
def test_bilinear_state_dict_and_gradients(lead, bias, dtype):
    tdtype, odtype = (torch.float64, tb.float64) if dtype == np.float64 else (torch.float32, tb.float32)
    ours, theirs = nn.Bilinear(3, 4, 2, bias, dtype=odtype), torch.nn.Bilinear(3, 4, 2, bias, dtype=tdtype)
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(ours.state_dict())
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal(lead + (3,)).astype(dtype), rng.standard_normal(lead + (4,)).astype(dtype)
    a1, a2 = tb.tensor(x1, requires_grad=True), tb.tensor(x2, requires_grad=True)
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    up = rng.standard_normal(lead + (2,)).astype(dtype)
    ya, yt = ours(a1, a2), theirs(t1, t2)
    ya.backward(tb.tensor(up)), yt.backward(torch.tensor(up))
    tol = TOL[dtype] * 5
    close(ya, yt, tol)
    for p, q in [(a1.grad, t1.grad), (a2.grad, t2.grad), (ours.weight.grad, theirs.weight.grad)] + \
            ([(ours.bias.grad, theirs.bias.grad)] if bias else []):
        close(p, q, tol)
    a, t = (tb.tensor(x1), tb.tensor(x2)), (torch.tensor(x1), torch.tensor(x2))
    close(F.bilinear(*a, ours.weight, ours.bias), TF.bilinear(*t, theirs.weight, theirs.bias), tol)


def test_bilinear_init_range():
    tb.manual_seed(0)
    m = nn.Bilinear(16, 5, 40)
    bound = 1 / np.sqrt(16)
    for p in (m.weight.detach().numpy(), m.bias.detach().numpy()):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.9 * bound
    assert m.weight.dtype == tb.float32 and m.weight.requires_grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes,dim", [(((4, 5), (4, 5)), 1), (((4, 5), (4, 5)), 0), (((2, 3, 4), (3, 4)), -1),
                                         (((1, 5), (4, 5)), 1), (((5,), (5,)), 0)])
@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e-5, 1e30])  # norms below eps; a product of norms beyond float32
def test_cosine_similarity(shapes, dim, scale, dtype):
    rng = np.random.default_rng(5)
    x1, x2 = (rng.standard_normal(s).astype(dtype) * dtype(scale) for s in shapes)
    x1.reshape(-1)[:len(x1.reshape(-1)) // 2] = 0
    b2 = torch.tensor(x2, requires_grad=True)
    a2 = tb.tensor(x2, requires_grad=True)
    compare(lambda a: F.cosine_similarity(a, a2, dim), lambda t: TF.cosine_similarity(t, b2, dim), x1, dtype)
    close(a2.grad, b2.grad, TOL[dtype] * 10)
    ours, theirs = nn.CosineSimilarity(dim, eps=1e-3), torch.nn.CosineSimilarity(dim, eps=1e-3)
    assert repr(ours) == repr(theirs)
    close(ours(tb.tensor(x1), tb.tensor(x2)), theirs(torch.tensor(x1), torch.tensor(x2)), TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf"), 0.5])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((2, 3, 5), (5,)), ((5,), (5,))])
def test_pairwise_distance(shapes, p, keepdim, dtype):
    rng = np.random.default_rng(6)
    x1, x2 = (rng.standard_normal(s).astype(dtype) for s in shapes)
    a2, b2 = tb.tensor(x2), torch.tensor(x2)
    compare(lambda a: F.pairwise_distance(a, a2, p, keepdim=keepdim),
            lambda t: TF.pairwise_distance(t, b2, p, keepdim=keepdim), x1, dtype)
    ours, theirs = nn.PairwiseDistance(p, 1e-3, keepdim), torch.nn.PairwiseDistance(p, 1e-3, keepdim)
    assert repr(ours) == repr(theirs) and ours.norm == theirs.norm
    compare(lambda a: ours(a, a2), lambda t: theirs(t, b2), x1, dtype)


def test_rnn_base_classes():
    for mod in (nn.RNN(2, 3), nn.LSTM(2, 3), nn.GRU(2, 3)):
        assert isinstance(mod, nn.RNNBase) and not isinstance(mod, nn.RNNCellBase)
    for mod in (nn.RNNCell(2, 3), nn.LSTMCell(2, 3), nn.GRUCell(2, 3)):
        assert isinstance(mod, nn.RNNCellBase) and not isinstance(mod, nn.RNNBase)
    assert issubclass(nn.RNNBase, nn.Module) and issubclass(nn.RNNCellBase, nn.Module)


LONG = np.array([-1, 2])
BAD = [
    lambda L, T: L.Hardtanh(1, 1), lambda L, T: L.Hardtanh(2, 1), lambda L, T: L.LogSigmoid(3),
    lambda L, T: L.Tanh(3), lambda L, T: L.Softsign(1),
    lambda L, T: L.functional.hardtanh(T.tensor([1.0]), 2, 1),
    lambda L, T: L.functional.celu(T.tensor([1.0]), 0.0), lambda L, T: L.CELU(0.0)(T.tensor([1.0])),
    *[lambda L, T, f=f: getattr(L.functional, f)(T.tensor(LONG))
      for f in ("logsigmoid", "mish", "celu", "selu", "elu", "hardsigmoid", "hardswish")],
    lambda L, T: L.functional.relu6(T.tensor([1.0], requires_grad=True), inplace=True),
    lambda L, T: L.functional.threshold(T.tensor([1.0], requires_grad=True), 0.0, 1.0, True),
    lambda L, T: L.functional.prelu(T.tensor([[1.0]]), T.ones(2)),
    lambda L, T: L.functional.prelu(T.tensor([1.0, 2.0]), T.ones(2)),
    lambda L, T: L.functional.prelu(T.tensor(1.0), T.ones(2)),
    lambda L, T: L.functional.prelu(T.ones(2, 3), T.ones(3, 1)),
    lambda L, T: L.functional.prelu(T.ones(2, 3), T.ones(3, dtype=T.float64)),
    lambda L, T: L.functional.prelu(T.tensor([[1, 2]]), T.tensor([1, 2])),
    lambda L, T: L.functional.bilinear(T.ones(2, 3), T.ones(3, 4), T.ones(5, 3, 4)),
    lambda L, T: L.functional.bilinear(T.ones(2, 3), T.ones(2, 1, 4), T.ones(5, 3, 4)),
    lambda L, T: L.functional.bilinear(T.ones(2, 3), T.ones(2, 4), T.ones(5, 4, 4)),
    lambda L, T: L.functional.bilinear(T.ones(2, 3), T.ones(2, 4), T.ones(5, 3, 5)),
    lambda L, T: L.functional.bilinear(T.ones(2, 3), T.ones(2, 4), T.ones(5, 3, 4), T.ones(4)),
    lambda L, T: L.functional.bilinear(T.ones(2, 3), T.ones(2, 4), T.ones(5, 3, 4, dtype=T.float64)),
    lambda L, T: L.Bilinear(3, 4, 5)(T.ones(2, 3), T.ones(2, 5)),
    lambda L, T: L.functional.cosine_similarity(T.ones(2, 3), T.ones(2, 4)),
    lambda L, T: L.functional.cosine_similarity(T.ones(2, 3), T.ones(2, 3), dim=2),
    lambda L, T: L.functional.cosine_similarity(T.tensor([[1, 2]]), T.tensor([[1, 2]])),
    lambda L, T: L.functional.pairwise_distance(T.ones(2, 3), T.ones(2, 4)),
]


@pytest.mark.parametrize("bad", BAD)
def test_bad_arguments_raise_torch_exception_types(bad):
    with pytest.raises(Exception) as theirs:
        bad(torch.nn, torch)
    with pytest.raises(type(theirs.value)):
        bad(nn, tb)


def test_integer_inputs_where_torch_takes_them():
    for name, args in [("hardtanh", ()), ("relu6", ()), ("threshold", (0, 1))]:
        close(getattr(F, name)(tb.tensor(LONG), *args), getattr(TF, name)(torch.tensor(LONG), *args), 0)
    close(F.cosine_similarity(tb.tensor([[1, 2]]), tb.tensor([[1.0, 3.0]])),
          TF.cosine_similarity(torch.tensor([[1, 2]]), torch.tensor([[1.0, 3.0]])), 1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        close(F.softsign(tb.tensor(LONG)), TF.softsign(torch.tensor(LONG)), 1e-6)
