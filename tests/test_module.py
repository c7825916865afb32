"""nn.Module, Parameter, Linear/Embedding/Dropout and nn.init, against numpy references and PyTorch."""
import math

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn


class Block(nn.Module):
    """Nested modules of every container kind."""

    def __init__(self, lib):
        super().__init__()
        self.inp = lib.Linear(3, 4)
        self.body = lib.Sequential(lib.Linear(4, 4), lib.Tanh(), lib.Linear(4, 2, bias=False))
        self.heads = lib.ModuleList([lib.Linear(2, 1), lib.Linear(2, 3)])
        self.emb = lib.Embedding(5, 3)
        self.drop = lib.Dropout(0.3)


def torch_block():
    """The same structure as Block, built from torch.nn."""
    m = torch.nn.Module()
    m.inp = torch.nn.Linear(3, 4)
    m.body = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2, bias=False))
    m.heads = torch.nn.ModuleList([torch.nn.Linear(2, 1), torch.nn.Linear(2, 3)])
    m.emb = torch.nn.Embedding(5, 3)
    m.drop = torch.nn.Dropout(0.3)
    return m


# ---------------------------------------------------------------- names and traversal
def test_named_parameters_match_torch_names():
    ours, theirs = Block(nn), torch_block()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())
    assert [n for n, _ in ours.body.named_parameters(prefix="body")] == ["body.0.weight", "body.0.bias",
                                                                         "body.2.weight"]
    assert [n for n, _ in ours.named_parameters(recurse=False)] == []


def test_shared_module_counted_once_but_saved_under_each_name():
    lin, tlin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours, theirs = nn.Sequential(lin, lin), torch.nn.Sequential(tlin, tlin)
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 2
    assert len(list(ours.modules())) == len(list(theirs.modules())) == 2
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_repr_matches_torch():
    ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.25), nn.Linear(4, 2, bias=False))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Dropout(0.25),
                                 torch.nn.Linear(4, 2, bias=False))
    assert repr(ours) == repr(theirs)
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == repr(torch.nn.Embedding(10, 3, padding_idx=0))


def test_train_eval_propagate():
    m = Block(nn)
    assert all(x.training for x in m.modules())
    assert m.eval() is m and not any(x.training for x in m.modules())
    m.body.train()
    assert m.body[0].training and not m.inp.training
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="boolean"):
        m.train("no")


def test_zero_grad():
    m = nn.Linear(3, 2)
    m(tb.randn(4, 3)).sum().backward()
    grad = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is grad and not grad.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_assigning_a_plain_tensor_to_a_parameter_name_raises():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = tb.zeros(2, 2)
    m.bias = None
    assert list(m.state_dict()) == ["weight"]


def test_buffers_in_state_dict_unless_not_persistent():
    m = nn.Linear(2, 2)
    m.register_buffer("running", tb.zeros(2))
    m.register_buffer("scratch", tb.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["weight", "bias", "running"]
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    m.double()
    assert m.running.dtype == np.float64 and m.scratch.dtype == np.float64


# ---------------------------------------------------------------- state_dict
def test_state_dict_returns_numpy_copies():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["weight"][...] = 7.0
    assert not (m.weight.detach().numpy() == 7.0).any()
    keep = m.state_dict(keep_vars=True)
    assert keep["weight"] is m.weight


@pytest.mark.parametrize("convert", [np.asarray, tb.tensor, torch.tensor, lambda a: a.astype(np.float64).tolist()],
                         ids=["numpy", "tinybptt", "torch", "lists-float64"])
def test_load_state_dict_accepts_arrays_and_tensors(convert):
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2)
    weight = dst.weight
    version = weight._version
    result = dst.load_state_dict({k: convert(v) for k, v in src.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert dst.weight is weight and weight._version > version and weight.dtype == np.float32
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[k], v)


def test_load_state_dict_strict_errors_list_everything():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = m.state_dict()
    bad = {"0.weight": np.zeros((4, 5)), "0.bias": np.zeros(4), "1.weight": np.zeros((2, 4)), "extra": np.zeros(1)}
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    msg = str(e.value)
    assert "Sequential" in msg and 'Missing key(s) in state_dict: "1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra"' in msg
    assert "size mismatch for 0.weight" in msg and "(4, 5)" in msg and "(4, 3)" in msg
    for k, v in m.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    result = m.load_state_dict({"0.weight": np.ones((4, 3)), "extra": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"] and result.unexpected_keys == ["extra"]
    assert (m[0].weight.detach().numpy() == 1).all()
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        m.load_state_dict({"0.weight": np.ones((3, 3))}, strict=False)


@pytest.mark.parametrize("convert", [lambda m: m.double(), lambda m: m.to(tb.float64), lambda m: m.to(np.float64),
                                     lambda m: m.to("cpu", dtype="float64"), lambda m: m.to(dtype=tb.float64)],
                         ids=["double", "to-tb", "to-np", "to-device-dtype", "to-kw"])
def test_to_float64_converts_every_parameter_and_grad(convert):
    m = Block(nn)
    m.inp(tb.randn(2, 3)).sum().backward()
    before = m.state_dict()
    assert convert(m) is m
    assert all(p.dtype == np.float64 for p in m.parameters())
    assert m.inp.weight.grad.dtype == np.float64
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k].astype(np.float64))
    out = m.body(m.inp(tb.randn(2, 3, dtype=tb.float64)))
    assert out.dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="floating point"):
        m.to(tb.int64)


# ---------------------------------------------------------------- interchange with torch
def interchange_cases():
    return [
        ("Linear", lambda lib: lib.Linear(5, 3), lambda rng: rng.standard_normal((4, 5))),
        ("Linear-nobias", lambda lib: lib.Linear(5, 3, bias=False), lambda rng: rng.standard_normal((2, 7, 5))),
        ("Embedding", lambda lib: lib.Embedding(10, 4, padding_idx=2), lambda rng: rng.integers(0, 10, (3, 6))),
        ("Sequential", lambda lib: lib.Sequential(lib.Linear(5, 8), lib.Tanh(), lib.Linear(8, 8), lib.ReLU(),
                                                  lib.Linear(8, 2)), lambda rng: rng.standard_normal((6, 5))),
    ]


def as_torch_input(x):
    return torch.tensor(x) if x.dtype.kind == "i" else torch.tensor(x, dtype=torch.float32)


@pytest.mark.parametrize("name,make,data", interchange_cases(), ids=[c[0] for c in interchange_cases()])
def test_state_dict_interchange_with_torch(rng, name, make, data):
    x = data(rng)
    theirs, ours = make(torch.nn), make(nn)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    with torch.no_grad():
        expected = theirs(as_torch_input(x)).numpy()
    np.testing.assert_allclose(ours(tb.tensor(x.astype(np.float32) if x.dtype.kind == "f" else x)).detach().numpy(),
                               expected, rtol=1e-5, atol=1e-6)

    ours2, theirs2 = make(nn), make(torch.nn)
    theirs2.load_state_dict({k: torch.from_numpy(v) for k, v in ours2.state_dict().items()})
    with torch.no_grad():
        got = theirs2(as_torch_input(x)).numpy()
    xin = tb.tensor(x.astype(np.float32) if x.dtype.kind == "f" else x)
    np.testing.assert_allclose(got, ours2(xin).detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- layers
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_and_init(rng, bias):
    m = nn.Linear(50, 40, bias=bias)
    w = m.weight.detach().numpy()
    assert w.shape == (40, 50) and w.dtype == np.float32
    bound = 1 / math.sqrt(50)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.mean()) < 0.1 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    if bias:
        assert m.bias.shape == (40,) and np.abs(m.bias.detach().numpy()).max() <= bound
    else:
        assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    x = rng.standard_normal((3, 2, 50)).astype(np.float32)
    want = x @ w.T + (m.bias.detach().numpy() if bias else 0)
    np.testing.assert_allclose(m(tb.tensor(x)).detach().numpy(), want, rtol=1e-5, atol=1e-6)
    assert nn.Linear(3, 2, dtype=tb.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="linear"):
        m(tb.zeros(2, 49))


def test_embedding_lookup_init_and_padding(rng):
    m = nn.Embedding(2000, 8, padding_idx=-1)
    w = m.weight.detach().numpy()
    assert m.padding_idx == 1999 and not w[1999].any()
    assert abs(w[:-1].mean()) < 0.03 and abs(w[:-1].std() - 1) < 0.03  # N(0, 1)
    idx = np.array([[0, 5, 1999], [5, 5, 7]])
    out = m(tb.tensor(idx))
    np.testing.assert_array_equal(out.detach().numpy(), w[idx])
    out.sum().backward()
    g = m.weight.grad.numpy()
    assert g[5].tolist() == [3.0] * 8 and g[0].tolist() == [1.0] * 8 and not g[1999].any() and not g[1].any()
    pre = nn.Embedding.from_pretrained(np.eye(3, dtype=np.float32))
    assert not pre.weight.requires_grad and pre(tb.tensor([2])).numpy().tolist() == [[0.0, 0.0, 1.0]]


def test_dropout_behaviour():
    d = nn.Dropout(0.25)
    x = tb.ones(200, 200)
    y = d(x).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    d.eval()
    assert (d(x).numpy() == 1).all()
    d.train()
    assert (nn.Dropout(0.0)(x).numpy() == 1).all() and not nn.Dropout(1.0)(x).numpy().any()
    x = tb.ones(10, requires_grad=True)
    out = d(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), out.detach().numpy())  # the gradient goes through the same mask
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ---------------------------------------------------------------- nn.init
def test_init_ranges():
    t = nn.Parameter(np.zeros((300, 200), np.float32), requires_grad=False)
    nn.init.uniform_(t, -0.5, 2.0)
    assert t.numpy().min() >= -0.5 and t.numpy().max() <= 2.0 and abs(t.numpy().mean() - 0.75) < 0.02
    nn.init.normal_(t, 1.0, 0.1)
    assert abs(t.numpy().mean() - 1.0) < 0.01 and abs(t.numpy().std() - 0.1) < 0.01
    nn.init.xavier_uniform_(t, gain=2.0)
    a = 2.0 * math.sqrt(6 / 500)
    assert np.abs(t.numpy()).max() <= a and np.abs(t.numpy()).max() > 0.95 * a
    nn.init.kaiming_uniform_(t, a=math.sqrt(5))  # what Linear uses: bound 1 / sqrt(fan_in)
    assert np.abs(t.numpy()).max() <= 1 / math.sqrt(200) * (1 + 1e-6)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() - math.sqrt(2 / 300)) < 0.005
    nn.init.zeros_(t)
    assert not t.numpy().any()
    nn.init.constant_(t, 3.0)
    assert (t.numpy() == 3.0).all()
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (4, 2, 3)])
def test_orthogonal(shape):
    t = nn.Parameter(np.zeros(shape), requires_grad=False)
    nn.init.orthogonal_(t, gain=1.5)
    flat = t.numpy().reshape(shape[0], -1) / 1.5
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)


@pytest.mark.parametrize("args", [("linear",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",),
                                  ("leaky_relu", 0.2), ("selu",), ("conv1d",)])
def test_calculate_gain_matches_torch(args):
    assert nn.init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))


def test_embedding_max_norm_matches_torch(rng):
    theirs = torch.nn.Embedding(10, 4, max_norm=1.0, norm_type=1.5)
    ours = nn.Embedding(10, 4, max_norm=1.0, norm_type=1.5)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    idx = np.array([[1, 2, 2], [5, 9, 1]])
    with torch.no_grad():
        expected = theirs(torch.tensor(idx)).numpy()
    np.testing.assert_allclose(ours(tb.tensor(idx)).detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-6)


def test_container_indexing_like_torch():
    ours = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    assert [n for n, _ in ours[1:].named_parameters()] == [n for n, _ in theirs[1:].named_parameters()]
    assert isinstance(ours[1:], nn.Sequential) and isinstance(ours[-1], nn.Linear)
    ours.append(nn.ReLU())
    ours[1] = nn.Sigmoid()
    assert [type(m).__name__ for m in ours] == ["Linear", "Sigmoid", "Linear", "ReLU"]
    lst = nn.ModuleList([nn.Linear(1, 1)]).extend([nn.Linear(1, 2)])
    assert len(lst) == 2 and [n for n, _ in lst[1:].named_parameters()] == ["0.weight", "0.bias"]
    shared = nn.Sequential(lst[0], lst[0])
    assert len(list(shared.named_parameters(remove_duplicate=False))) == 4
