"""Parity with torch 2.13 for repeat_interleave, roll, cumprod, outer, diff, count_nonzero, scatter/scatter_add,
index_add, einsum, set_default_dtype, ParameterList/ParameterDict, Unflatten and GLU: float64 values and
gradients to 1e-12, dtypes, bad-input errors (type and text), and finite-difference checks."""
import re

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn.functional as F

TF = torch.nn.functional
RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4))
IDX = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])


def lib_args(lib, args):
    """``args`` with numpy arrays made tensors of ``lib`` (float arrays requiring grad)."""
    return [lib.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a for a in args]


def check(fb, ft, *args, tol=1e-12):
    """fb / ft on tinybptt / torch tensors of ``args``: same value, dtype and float input gradients."""
    ours, theirs = lib_args(tb, args), lib_args(torch, args)
    ya, yt = fb(*ours), ft(*theirs)
    assert ya.shape == tuple(yt.shape) and str(ya.dtype) == str(yt.dtype).replace("torch.", "")
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    if yt.requires_grad:
        g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
        ya.backward(tb.tensor(g)), yt.backward(torch.tensor(g))
        for a, t in zip(ours, theirs):
            if isinstance(t, torch.Tensor) and t.requires_grad:
                np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def raises_like(fb, ft, *args):
    """Both raise the same exception type; ours names the op and contains torch's text."""
    with pytest.raises(Exception) as theirs:
        ft(*lib_args(torch, args))
    text = str(theirs.value).split("\n")[0]
    with pytest.raises(theirs.type, match=re.escape(text)):
        fb(*lib_args(tb, args))


# ---------------------------------------------------------------- values and gradients
@pytest.mark.parametrize("name, f", [
    ("repeat_interleave int", lambda L, x: L.repeat_interleave(x, 2, dim=1)),
    ("repeat_interleave flat", lambda L, x: x.repeat_interleave(3)),
    ("repeat_interleave tensor", lambda L, x: x.repeat_interleave(L.tensor([2, 0, 1]), dim=0)),
    ("repeat_interleave one count", lambda L, x: L.repeat_interleave(x, L.tensor([2]), dim=-1)),
    ("roll flat", lambda L, x: L.roll(x, 5)),
    ("roll dims", lambda L, x: x.roll((1, -3), (0, 1))),
    ("roll same dim twice", lambda L, x: x.roll((1, 2), (1, 1))),
    ("cumprod", lambda L, x: L.cumprod(x, 1)),
    ("cumprod dim 0", lambda L, x: x.cumprod(dim=-2)),
    ("outer", lambda L, x: L.outer(x[0], x[1, :3])),
    ("diff", lambda L, x: L.diff(x)),
    ("diff n=2 dim 0", lambda L, x: x.diff(n=2, dim=0)),
    ("diff n too large", lambda L, x: x.diff(n=5, dim=0)),
    ("diff prepend append", lambda L, x: L.diff(x, 2, 1, prepend=x[:, :2] * 2, append=x[:, 1:] ** 2)),
    ("glu", lambda L, x: (F if L is tb else TF).glu(x)),
    ("glu dim 0", lambda L, x: (F if L is tb else TF).glu(x[:2], 0)),
    ("einsum matmul", lambda L, x: L.einsum("ij,kj->ik", x, x * 2)),
    ("einsum list, implicit", lambda L, x: L.einsum("ij,jk", [x, x.T])),
    ("einsum trace", lambda L, x: L.einsum("ii", x[:3, :3])),
    ("einsum diagonal", lambda L, x: L.einsum("ii->i", x[:3, :3])),
    ("einsum sum out", lambda L, x: L.einsum("ij->j", x)),
    ("einsum ellipsis", lambda L, x: L.einsum("...j,jk->...k", x.reshape(3, 2, 2), x[:2])),
    ("einsum three", lambda L, x: L.einsum("i,ij,j->", x[:, 0], x, x[0])),
    ("einsum broadcast 1", lambda L, x: L.einsum("bij,bj->bi", x.reshape(1, 3, 4), x)),
])
def test_values_and_gradients_like_torch(name, f):
    check(lambda x: f(tb, x), lambda x: f(torch, x), X)


def test_cumprod_gradient_with_zeros_like_torch():
    for data in ([2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 3.0, 2.0], [1.5, -2.0, 0.5, 0.0], [0.0]):
        check(lambda x: x.cumprod(0), lambda x: x.cumprod(0), np.array(data))
    x = X.copy()
    x[1, 2] = x[0, 0] = 0
    check(lambda a: a.cumprod(1), lambda a: a.cumprod(1), x)
    check(lambda a: a.cumprod(0), lambda a: a.cumprod(0), x)


def test_scatter_scatter_add_index_add_like_torch():
    src = RNG.standard_normal((2, 4))
    check(lambda a, i, s: a.scatter(0, i, s), lambda a, i, s: a.scatter(0, i, s), X, IDX, src)
    check(lambda a, i: a.scatter(1, i, value=2.5), lambda a, i: a.scatter(1, i, value=2.5), X, IDX[:, :3] % 4)
    check(lambda a, i, s: tb.scatter_add(a, 0, i, s), lambda a, i, s: torch.scatter_add(a, 0, i, s), X, IDX, src)
    check(lambda a, i, s: a.scatter_add(1, i, s), lambda a, i, s: a.scatter_add(1, i, s),
          X, IDX[:, :2], RNG.standard_normal((2, 2)))
    check(lambda a, i, s: a.scatter(1, i, s).detach(), lambda a, i, s: a.scatter(1, i, s).detach(),
          X, IDX[:, :2], RNG.standard_normal((3, 5)))  # src larger than index (torch's backward fails there)
    check(lambda a, s: tb.index_add(a, 0, tb.tensor([2, 0, 2]), s, alpha=-1.5),
          lambda a, s: torch.index_add(a, 0, torch.tensor([2, 0, 2]), s, alpha=-1.5), X,
          RNG.standard_normal((3, 4)))
    check(lambda a, s: a.index_add(1, tb.tensor([3, 3]), s), lambda a, s: a.index_add(1, torch.tensor([3, 3]), s),
          X, RNG.standard_normal((3, 2)))
    check(lambda a, s: a.scatter(0, tb.tensor(0), s), lambda a, s: a.scatter(0, torch.tensor(0), s),
          np.array(1.5), np.array(5.0))


def test_in_place_scatter_and_index_add_outside_and_inside_the_graph():
    src = RNG.standard_normal((2, 4))
    for name, args in [("scatter_", (0, IDX, src)), ("scatter_add_", (0, IDX, src)),
                       ("index_add_", (1, np.array([0, 3]), RNG.standard_normal((3, 2))))]:
        a, t = tb.tensor(X.copy()), torch.tensor(X.copy())
        out = getattr(a, name)(args[0], *map(tb.tensor, args[1:]))
        getattr(t, name)(args[0], *map(torch.tensor, args[1:]))
        assert out is a
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-12)
    a = tb.tensor(X.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="scatter_: a leaf Variable that requires grad"):
        a.scatter_(0, tb.tensor(IDX), tb.tensor(src))
    # on a tensor of a graph the in-place form is recorded, as in torch: gradients to self and src
    s_ours, s_theirs = tb.tensor(src, requires_grad=True), torch.tensor(src, requires_grad=True)
    t = torch.tensor(X.copy(), requires_grad=True)
    for lib, leaf, s in ((tb, a, s_ours), (torch, t, s_theirs)):
        y = leaf * 2
        y.scatter_add_(0, lib.tensor(IDX), s).index_add_(1, lib.tensor([0, 3]), lib.ones(3, 2, dtype=lib.float64) * s.sum())
        (y * y).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(s_ours.grad.numpy(), s_theirs.grad.numpy(), rtol=1e-12)
    a.grad = None
    with tb.no_grad():
        a.index_add_(0, tb.tensor([1]), tb.ones(1, 4, dtype=tb.float64))
    np.testing.assert_allclose(a.detach().numpy()[1], X[1] + 1)


def test_integer_dtypes_and_count_nonzero_like_torch():
    ints = np.array([[1, 0, 3], [0, 0, 2]])
    for f in (lambda L, x: L.cumprod(x, 1), lambda L, x: x.diff(), lambda L, x: L.outer(x[0], x[1]),
              lambda L, x: L.count_nonzero(x), lambda L, x: x.count_nonzero(0), lambda L, x: x.count_nonzero((0, 1)),
              lambda L, x: (x > 0).cumprod(1), lambda L, x: (x > 0).diff(dim=0), lambda L, x: x.roll(1, 0),
              lambda L, x: L.repeat_interleave(x, 2), lambda L, x: L.repeat_interleave(L.tensor([2, 0, 3])),
              lambda L, x: L.outer(x[0], L.tensor([0.5, 1.5])), lambda L, x: x.diff(append=x[:, :1] * 0.5),
              lambda L, x: x.cumprod(1, dtype=L.float64), lambda L, x: L.einsum("ij,j->i", x, x[0])):
        check(lambda x: f(tb, x), lambda x: f(torch, x), ints)
    check(lambda x: tb.count_nonzero(x, dim=1), lambda x: torch.count_nonzero(x, dim=1), X * (X > 0))


def test_einsum_promotes_dtypes_like_torch():
    a, b = X.astype(np.float32), X
    assert tb.einsum("ij,ij->ij", tb.tensor(a), tb.tensor(b)).dtype == tb.float64
    assert torch.einsum("ij,ij->ij", torch.tensor(a), torch.tensor(b)).dtype == torch.float64
    assert tb.einsum("ij,jk->ik", tb.tensor(a), tb.tensor(b.T)).dtype == tb.float64  # torch raises here


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("f, args", [
    (lambda L, x: L.roll(x, (1, 2), 0), [X]),
    (lambda L, x: L.roll(x, (), ()), [X]),
    (lambda L, x: x.roll(1, 5), [X]),
    (lambda L, x: L.repeat_interleave(x, L.tensor([1, 2]), 0), [X]),
    (lambda L, x: L.repeat_interleave(x, L.tensor([1, -1, 2]), 0), [X]),
    (lambda L, x: L.repeat_interleave(x, L.tensor([[1, 2, 3]]), 0), [X]),
    (lambda L, x: L.repeat_interleave(x, L.tensor([1.0, 2.0, 3.0]), 0), [X]),
    (lambda L, x: x.repeat_interleave(-1), [X]),
    (lambda L, x: x.repeat_interleave(2, 2), [X]),
    (lambda L, x: L.cumprod(x, 2), [X]),
    (lambda L, x: L.outer(x, x[0]), [X]),
    (lambda L, x: L.outer(x[0], x), [X]),
    (lambda L, x: L.diff(x[0, 0]), [X]),
    (lambda L, x: L.diff(x, n=-1), [X]),
    (lambda L, x: L.diff(x, dim=0, prepend=x[0]), [X]),
    (lambda L, x: x.count_nonzero(2), [X]),
    (lambda L, x: x.count_nonzero((0, 0)), [X]),
    (lambda L, x, i: x.scatter(0, i.double(), x), [X, IDX]),
    (lambda L, x, i: x.scatter(0, i[0], x), [X, IDX]),
    (lambda L, x, i: x.scatter(0, i * 3, x), [X, IDX]),
    (lambda L, x, i: x.scatter(0, i - 1, x), [X, IDX]),
    (lambda L, x, i: x.scatter(1, i, x[:, :2]), [X, IDX]),
    (lambda L, x, i: x[:1].scatter(1, i, x), [X, IDX]),
    (lambda L, x, i: x.scatter(0, i, x.float()), [X, IDX]),
    (lambda L, x, i: x.scatter_add(0, i, 2.0), [X, IDX]),
    (lambda L, x, i: L.scatter_add(x, 0, i + 2, x), [X, IDX]),
    (lambda L, x: x.index_add(0, L.tensor([0, 2]), x), [X]),
    (lambda L, x: x.index_add(0, L.tensor([0, 5, 1]), x), [X]),
    (lambda L, x: x.index_add(0, L.tensor([0.0, 1.0, 2.0]), x), [X]),
    (lambda L, x: x.index_add(0, L.tensor([[0, 1, 2]]), x), [X]),
    (lambda L, x: x.index_add(0, L.tensor([0, 1, 2]), x[:, :2]), [X]),
    (lambda L, x: x.index_add(0, L.tensor([0, 1, 2]), x.float()), [X]),
    (lambda L, x: L.einsum("ij,jk->ik", x, x), [X]),
    (lambda L, x: L.einsum("ij,jk->ik", x), [X]),
    (lambda L, x: L.einsum("ij", x, x), [X]),
    (lambda L, x: L.einsum("ij->ik", x), [X]),
    (lambda L, x: L.einsum("ijk->i", x), [X]),
    (lambda L, x: L.einsum("ij->ii", x), [X]),
    (lambda L, x: L.einsum("i$->i", x), [X]),
    (lambda L, x: L.einsum("ii->i", x), [X]),
    (lambda L, x: (F if L is tb else TF).glu(x[:3, 0]), [X]),
    (lambda L, x: (F if L is tb else TF).glu(x[0, 0]), [X]),
    (lambda L, x: (F if L is tb else TF).glu(x, 5), [X]),
    (lambda L, x: L.nn.Unflatten(1, (2, 5))(x), [X]),
    (lambda L, x: L.nn.Unflatten(1, (2, 2.0)), [X]),
    (lambda L, x: L.nn.Unflatten(1, 4), [X]),
    (lambda L, x: L.set_default_dtype(L.int64), [X]),
])
def test_bad_input_raises_like_torch(f, args):
    raises_like(lambda *a: f(tb, *a), lambda *a: f(torch, *a), *args)


# ---------------------------------------------------------------- finite differences
@pytest.mark.parametrize("f", [
    lambda x: x.cumprod(1), lambda x: x.roll((2, -1), (1, 0)), lambda x: x.repeat_interleave(tb.tensor([1, 0, 2]), 0),
    lambda x: x.diff(2, prepend=x[:, :1]), lambda x: tb.outer(x[0], x[:, 1]), lambda x: F.glu(x, 1),
    lambda x: x.scatter(0, tb.tensor(IDX), x[1:] * 2), lambda x: x.scatter(0, tb.tensor(IDX[:, :2]), x * 2),
    lambda x: x.scatter_add(1, tb.tensor(IDX[:, :3] % 4), x),
    lambda x: x.index_add(0, tb.tensor([1, 1]), x[:2], alpha=3.0), lambda x: tb.einsum("ij,kj,i->k", x, x, x[:, 0]),
    lambda x: tb.einsum("...i,...i->...", x, x), lambda x: tb.einsum("ii->", x[:3, :3]),
])
def test_gradcheck(f):
    x = X.copy()
    x[0, 1] = 0.0  # a zero for cumprod
    assert tb.gradcheck(f, (tb.tensor(x, requires_grad=True),))


# ---------------------------------------------------------------- default dtype
def test_set_default_dtype_like_torch():
    def dtypes(L):
        return [str(t.dtype).replace("torch.", "") for t in (
            L.tensor([1.5]), L.tensor(2.0), L.zeros(2), L.ones(1), L.full((2,), 1.0), L.randn(2), L.rand(2),
            L.arange(3.0), L.linspace(0, 1, 3), L.eye(2), L.tensor([1, 2]).exp(), L.tensor([3]) / L.tensor([2]),
            L.tensor([1]) + 0.5, L.nn.Linear(2, 2).weight, L.nn.LayerNorm(2).bias, L.tensor([1.0]).float(),
            L.nn.LSTM(2, 3).weight_hh_l0, L.nn.GRUCell(2, 3).bias_ih, L.nn.RNN(2, 3).weight_ih_l0,
            L.tensor(np.float32(1.0)), L.tensor([1, 2]), L.full((1,), 3))]
    try:
        for dtype in ("float64", "float32"):
            tb.set_default_dtype(getattr(tb, dtype)), torch.set_default_dtype(getattr(torch, dtype))
            assert tb.get_default_dtype() == getattr(tb, dtype)
            assert dtypes(tb) == dtypes(torch)
            assert repr(tb.tensor([1.0, 2.0]).float()) == repr(torch.tensor([1.0, 2.0]).float()).replace(
                "torch", "tinybptt")
    finally:
        tb.set_default_dtype(tb.float32), torch.set_default_dtype(torch.float32)
    assert tb.zeros(1).dtype == tb.float32


# ---------------------------------------------------------------- nn
def test_parameter_list_like_torch():
    def build(L):
        pl = L.nn.ParameterList([L.nn.Parameter(L.ones(2, 3)), L.zeros(3, dtype=L.float64)])
        pl.append(L.ones(()))
        pl += [L.nn.Parameter(L.ones(4, 1), requires_grad=False)]
        pl.extend([3])
        return pl
    ours, theirs = build(tb), build(torch)
    assert repr(ours) == repr(theirs).replace("torch", "tinybptt")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2", "3"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [p.requires_grad for p in ours.parameters()] == [p.requires_grad for p in theirs.parameters()]
    assert isinstance(ours[1], tb.nn.Parameter) and len(ours) == len(theirs) == 5 and ours[-1] == 3
    assert len(ours[1:3]) == 2 and repr(tb.nn.ParameterList()) == "ParameterList()"
    for lib, pl in ((tb, ours), (torch, theirs)):
        with pytest.raises(IndexError, match="index 5 is out of range"):
            pl[5]
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable, but got int"):
        ours.extend(3)
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable, but got int"):
        theirs.extend(3)


def test_parameter_dict_like_torch():
    def build(L):
        pd = L.nn.ParameterDict({"b": L.nn.Parameter(L.ones(2)), "a": L.zeros(2, 2, dtype=L.float64)})
        pd["c"] = L.ones(1)
        pd.update([("d", L.nn.Parameter(L.ones(3), requires_grad=False))])
        return pd
    ours, theirs = build(tb), build(torch)
    assert repr(ours) == repr(theirs).replace("torch", "tinybptt")
    assert list(ours.keys()) == list(theirs.keys()) == ["a", "b", "c", "d"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "c" in ours and ours.get("zz") is None and len(ours) == 4
    assert ours.pop("c").shape == (1,) and theirs.pop("c").shape == (1,)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["a", "b", "d"]
    for pd in (ours, theirs):
        with pytest.raises(AttributeError, match="'ParameterDict' object has no attribute 'zz'"):
            pd["zz"]
        with pytest.raises(TypeError, match=re.escape("Index given to ParameterDict cannot be used as a key as it "
                                                      "is not a string (type is 'int')")):
            pd[1] = 2
        with pytest.raises(ValueError, match=re.escape("ParameterDict update sequence element #0 has length 3; "
                                                       "2 is required")):
            pd.update([("x", 1, 2)])


def test_containers_inside_a_module_load_torch_state_dicts():
    def build(L):
        m = L.nn.Module()
        m.ps = L.nn.ParameterList([L.nn.Parameter(L.randn(2, 3)), L.nn.Parameter(L.randn(3))])
        m.pd = L.nn.ParameterDict({"w": L.nn.Parameter(L.randn(4))})
        return m
    ours, theirs = build(tb), build(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["ps.0", "ps.1", "pd.w"]
    assert repr(ours).replace("Module", "") == repr(theirs).replace("torch", "tinybptt").replace("Module", "")
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = ours.ps[0].sum() * ours.pd["w"].sum()
    x.backward()
    assert ours.ps[0].grad.shape == (2, 3) and ours.pd["w"].grad.shape == (4,)


def test_unflatten_and_glu_modules_like_torch():
    for make in (lambda L: L.nn.Unflatten(1, (2, 2)), lambda L: L.nn.Unflatten(-1, [2, -1]), lambda L: L.nn.GLU(),
                 lambda L: L.nn.GLU(dim=0)):
        ours, theirs = make(tb), make(torch)
        assert repr(ours) == repr(theirs)
        x = X[:2]
        check(lambda a: ours(a), lambda t: theirs(t), x)


# ---------------------------------------------------------------- devices
@pytest.mark.parametrize("args", [("cpu",), ("cpu:0",), ("cpu", 0), ("cuda",), ("cuda:1",), ("meta",)])
def test_device_parses_prints_and_compares_like_torch(args):
    ours, theirs = tb.device(*args), torch.device(*args)
    assert (ours.type, ours.index, str(ours), repr(ours)) == (theirs.type, theirs.index, str(theirs), repr(theirs))
    assert ours == tb.device(*args) and hash(ours) == hash(tb.device(*args))
    assert ours != str(ours)  # as torch: a device is not equal to its string


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", 2])
def test_bad_device_string_raises_like_torch(bad):
    with pytest.raises(RuntimeError) as theirs:
        torch.device(bad)
    with pytest.raises(RuntimeError) as ours:
        tb.device(bad)
    assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0]


def test_a_device_agnostic_script_runs_on_the_cpu():
    """The usual PyTorch preamble: pick the device, move the model and the data, make tensors on it."""
    results = []
    for L in (torch, tb):
        L.manual_seed(0)
        device = L.device("cuda" if L.cuda.is_available() else "cpu")
        lstm = L.nn.LSTM(3, 4, dtype=L.float64).to(device)
        x = L.from_numpy(np.linspace(-1, 1, 30).reshape(5, 2, 3)).to(device)
        h0 = L.zeros(1, 2, 4, dtype=L.float64, device=device)
        out, _ = lstm(x, (h0, L.zeros_like(h0, device=device)))
        out.sum().backward()
        results.append((out.device, lstm.weight_hh_l0.grad.device, x.to(device, L.float32).dtype,
                        x.to(device=device, dtype=L.float32).dtype, x.to("cpu", copy=True) is x, x.is_cuda))
    (d1, g1, *rest1), (d2, g2, *rest2) = results
    assert (str(d1), str(g1), str(rest1[0]).split(".")[-1], str(rest1[1]).split(".")[-1], *rest1[2:]) == \
        (str(d2), str(g2), str(rest2[0]), str(rest2[1]), *rest2[2:])
    assert tb.cuda.is_available() is False and tb.cuda.device_count() == 0


@pytest.mark.parametrize("make", [
    lambda L: L.zeros(2).cuda(),
    lambda L: L.zeros(2).to("cuda"),
    lambda L: L.zeros(2, device="cuda"),
    lambda L: L.randn(2, 3, device=L.device("cuda", 0)),
    lambda L: L.nn.Linear(2, 2).cuda(),
    lambda L: L.nn.Linear(2, 2).to("cuda:0"),
    lambda L: L.nn.LSTM(2, 3, device="cuda"),
    lambda L: L.nn.Linear(2, 2, device="cuda"),
])
def test_asking_for_cuda_raises_like_torch_without_cuda(make):
    for L in (torch, tb):
        with pytest.raises(AssertionError, match="Torch not compiled with CUDA enabled"):
            make(L)
