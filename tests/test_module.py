"""nn.Module, Parameter, Linear/Embedding/Dropout and nn.init, against numpy references and PyTorch."""
import copy
import math
import re

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
def test_state_dict_shares_memory_like_torch():
    m, ref = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    sd, ref_sd = m.state_dict(), ref.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    with tb.no_grad():
        m.weight.add_(1.0)
    with torch.no_grad():
        ref.weight.add_(1.0)
    # torch's state_dict tensors share storage with the parameters, and so do ours
    np.testing.assert_array_equal(sd["weight"], m.weight.detach().numpy())
    assert torch.equal(ref_sd["weight"], ref.weight.detach())
    snapshot = copy.deepcopy(sd)
    with tb.no_grad():
        m.weight.add_(1.0)
    np.testing.assert_array_equal(snapshot["weight"] + 1.0, m.weight.detach().numpy())
    assert type(sd["weight"].numpy()) is np.ndarray and sd["weight"].detach() is sd["weight"]
    assert not np.shares_memory(sd["weight"].clone(), sd["weight"])
    keep = m.state_dict(keep_vars=True)
    assert keep["weight"] is m.weight


@pytest.mark.parametrize("convert", [lambda sd: sd, lambda sd: {k: torch.from_numpy(v) for k, v in sd.items()},
                                     lambda sd: {k: torch.tensor(v) for k, v in sd.items()},
                                     lambda sd: {k: torch.from_numpy(v.detach().numpy()) for k, v in sd.items()}],
                         ids=["unchanged", "from_numpy", "tensor", "detach-numpy"])
def test_torch_loads_our_state_dict(convert):
    ours, theirs = nn.LSTM(3, 4, num_layers=2, bidirectional=True), torch.nn.LSTM(3, 4, num_layers=2,
                                                                                bidirectional=True)
    result = theirs.load_state_dict(convert(ours.state_dict()))
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours.state_dict()[k])
    with pytest.raises(RuntimeError, match="size mismatch for weight_ih_l0"):
        torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True).load_state_dict(ours.state_dict())


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
    before = copy.deepcopy(m.state_dict())
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
    before = copy.deepcopy(m.state_dict())
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


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_scale_grad_by_freq_matches_torch(padding_idx):
    """Each row's gradient is divided by how often its index occurs in the batch (was NotImplementedError)."""
    theirs = torch.nn.Embedding(10, 4, padding_idx=padding_idx, scale_grad_by_freq=True).double()
    ours = nn.Embedding(10, 4, padding_idx=padding_idx, scale_grad_by_freq=True, dtype=tb.float64)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    idx, cot = np.array([[1, 2, 2], [5, 1, 1]]), np.random.RandomState(0).randn(2, 3, 4)
    (theirs(torch.tensor(idx)) * torch.tensor(cot)).sum().backward()
    (ours(tb.tensor(idx)) * tb.tensor(cot)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    w = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    v = tb.tensor(w.detach().numpy(), requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), w, scale_grad_by_freq=True).pow(2).sum().backward()
    nn.functional.embedding(tb.tensor(idx), v, scale_grad_by_freq=True).pow(2).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), w.grad.numpy(), rtol=1e-12)


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


# ---------------------------------------------------------------- audit: Module API against torch
def _err(fn):
    """(exception type name, message) of ``fn()``, or ('ok', None)."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return "ok", None


def _net(lib, backend):
    """Nested containers, a shared child, a persistent and a non-persistent buffer."""
    m = lib.Module()
    m.emb = lib.Embedding(10, 3, padding_idx=-1)
    m.blocks = lib.ModuleList([lib.Linear(3, 4), lib.Linear(3, 4), lib.Tanh(), lib.Linear(3, 4)])
    m.head = lib.Sequential(lib.Linear(4, 4, bias=False), lib.ReLU(), lib.Dropout(0.1), lib.LayerNorm(4))
    m.d = lib.ModuleDict({"a": lib.Linear(4, 2), "b": lib.Identity()})
    m.shared = m.head
    m.register_buffer("running", backend.zeros(4))
    m.register_buffer("scratch", backend.ones(2), persistent=False)
    return m


def test_shared_child_once_in_children_and_apply_and_repr_like_torch():
    ours, theirs = _net(nn, tb), _net(torch.nn, torch)
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    seen, seen_t = [], []
    ours.apply(lambda m: seen.append(type(m).__name__))
    theirs.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen == seen_t
    assert repr(ours) == repr(theirs)  # incl. ModuleList's '(0-1): 2 x Linear(...)'
    for kw in [{}, dict(remove_duplicate=False), dict(prefix="p"), dict(recurse=False)]:
        assert [n for n, _ in ours.named_buffers(**kw)] == [n for n, _ in theirs.named_buffers(**kw)]
    assert list(ours.state_dict(prefix="x.")) == list(theirs.state_dict(prefix="x."))
    ours.eval(), theirs.eval()
    ours.head.train(), theirs.head.train()
    assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]


def test_repr_with_multiline_extra_repr_and_children():
    def make(lib):
        class M(lib.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.Linear(1, 1)

            def extra_repr(self):
                return "k=1\nj=2"

        class E(lib.Module):
            def extra_repr(self):
                return "k=1\nj=2"
        return M(), E()
    assert [repr(m) for m in make(nn)] == [repr(m) for m in make(torch.nn)]


def test_load_state_dict_messages_and_result_like_torch():
    ours, theirs = _net(nn, tb), _net(torch.nn, torch)
    sd = dict(theirs.state_dict())
    assert repr(ours.load_state_dict(sd)) == repr(theirs.load_state_dict(sd)) == "<All keys matched successfully>"
    bad = dict(sd)
    del bad["d.a.bias"]
    bad["extra"], bad["d.zz.weight"], bad["scratch"] = torch.zeros(1), torch.zeros(2), torch.zeros(2)
    assert _err(lambda: ours.load_state_dict(bad)) == _err(lambda: theirs.load_state_dict(bad))
    r, rt = ours.load_state_dict(bad, strict=False), theirs.load_state_dict(bad, strict=False)
    assert (r.missing_keys, r.unexpected_keys) == (rt.missing_keys, rt.unexpected_keys)
    assert repr(r) == repr(rt) and r._fields == rt._fields
    with pytest.raises(TypeError, match=re.escape("Expected state_dict to be dict-like, got <class 'list'>.")):
        ours.load_state_dict([1, 2])
    shape = dict(sd, **{"head.0.weight": torch.zeros(4, 5)})
    with pytest.raises(RuntimeError, match=re.escape(
            "size mismatch for head.0.weight: copying a param with shape (4, 5) from checkpoint, "
            "the shape in current model is (4, 4).")):
        ours.load_state_dict(shape, strict=False)


@pytest.mark.parametrize("case", [
    "register_buffer('x.y', T.zeros(1))", "register_buffer('training', T.zeros(1))", "register_buffer('', None)",
    "register_buffer('z', 3)", "register_parameter('q', T.zeros(1))", "register_parameter('q.q', None)",
    "register_parameter('', None)", "add_module('m', 3)", "add_module('m.x', L.Tanh())",
    "add_module('training', L.Tanh())", "add_module(1, L.Tanh())", "__setattr__('lin', 3)",
    "__setattr__('w', 3)", "__setattr__('buf', 3)"])
def test_registration_errors_like_torch(case):
    def run(lib, backend):
        m = lib.Module()
        m.lin = lib.Linear(1, 1)
        m.w = lib.Parameter(backend.zeros(1))
        m.register_buffer("buf", backend.zeros(1))
        return _err(lambda: eval("m." + case, {"m": m, "T": backend, "L": lib}))
    ours, theirs = run(nn, tb), run(torch.nn, torch)
    assert ours[0] == theirs[0]
    def strip(s):
        return s and (s.replace("torch.nn.Buffer, torch.Tensor", "Tensor").replace("torch.nn.", "nn.")
                      .replace("torch Tensor", "Tensor"))
    if "parameter('q'" not in case:  # torch names the tensor type 'torch.FloatTensor'
        assert strip(ours[1]) == strip(theirs[1])


def test_none_assignment_keeps_the_registration_like_torch():
    def run(lib, backend):
        m = lib.Module()
        m.lin = lib.Linear(1, 1)
        m.register_buffer("buf", backend.zeros(1))
        m.lin, m.buf = None, None
        out = [[n for n, _ in m.named_modules()], list(m.state_dict()), repr(m)]
        m.lin, m.buf = lib.Tanh(), backend.ones(1)
        return out + [[n for n, _ in m.named_modules()], [n for n, _ in m.named_buffers()]]
    assert run(nn, tb) == run(torch.nn, torch)


def test_get_submodule_parameter_buffer():
    m = _net(nn, tb)
    assert m.get_submodule("head.0") is m.head[0] and m.get_submodule("") is m
    assert m.get_parameter("d.a.weight") is m.d["a"].weight and m.get_buffer("running") is m.running
    with pytest.raises(AttributeError, match="Sequential has no attribute `9`"):
        m.get_submodule("head.9")
    with pytest.raises(AttributeError, match="`running` is not an nn.Module"):
        m.get_submodule("running.x")
    assert "emb" in dir(m) and "running" in dir(m) and "0" not in dir(m.head)


CONTAINER_CASES = [
    "L.Sequential(L.Tanh(), L.ReLU()).insert(1, L.Identity())",
    "L.Sequential(L.Tanh(), L.ReLU()).insert(-1, L.Identity())",
    "L.Sequential(L.Tanh()) + L.Sequential(L.ReLU())",
    "L.Sequential(L.Tanh(), L.ReLU()) * 2",
    "2 * L.Sequential(L.Tanh())",
    "L.ModuleList([L.Tanh()]) + L.ModuleList([L.ReLU()])",
    "L.ModuleList([L.Linear(2, 2), L.Linear(2, 2), L.ReLU(), L.Linear(2, 2)])",
    "L.ModuleList()",
    "L.Sequential(L.Tanh())[3]", "L.Sequential(L.Tanh())[-3]", "L.ModuleList([L.Tanh()])[5]",
    "L.Sequential({'a': L.Tanh()})", "L.Sequential(3)", "L.ModuleList().extend(L.Tanh())",
    "L.ModuleDict().update(3)", "L.ModuleDict({1: L.Tanh()})", "L.Sequential(L.Tanh()) + L.ModuleList()",
]


@pytest.mark.parametrize("case", CONTAINER_CASES)
def test_container_operations_like_torch(case):
    def run(lib):
        try:
            return repr(eval(case, {"L": lib}))
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e).replace("torch.nn.modules.container", "tinybptt.nn.layers")
    assert run(nn) == run(torch.nn)


def test_container_mutation_like_torch():
    def run(lib):
        s = lib.Sequential(lib.Tanh(), lib.ReLU(), lib.Identity(), lib.Sigmoid())
        out = [repr(s.pop(0))]
        del s[1]
        out += [repr(s), [n for n, _ in s.named_modules()]]
        del s[0:1]
        out.append(repr(s))
        s += lib.Sequential(lib.Tanh())
        s *= 2
        out.append(repr(s))
        ml = lib.ModuleList([lib.Tanh(), lib.ReLU(), lib.ReLU()])
        out.append(ml.insert(0, lib.Identity()))
        out += [repr(ml.pop(1)), repr(ml)]
        del ml[-1]
        ml += [lib.Sigmoid()]
        ml[-1] = lib.Tanh()
        out += [repr(ml), repr(ml[1:])]
        d = lib.ModuleDict([("b", lib.Tanh()), ("a", lib.ReLU())])
        out += [repr(d.pop("b")), list(d.keys())]
        d.clear()
        out.append(len(d))
        return out
    assert run(nn) == run(torch.nn)


def test_softmax_modules_repr_and_default_dim():
    assert repr(nn.Softmax(dim=1)) == repr(torch.nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LogSoftmax(0)) == repr(torch.nn.LogSoftmax(0))
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = nn.Softmax()(tb.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        theirs = torch.nn.Softmax()(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_loss_modules_take_array_weights_as_tensor_buffers():
    m = nn.CrossEntropyLoss(weight=np.ones(3, np.float32))
    assert isinstance(m.weight, tb.Tensor) and list(m.state_dict()) == ["weight"]


def test_embedding_errors_like_torch():
    for pad in (4, -5):
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            nn.Embedding(4, 2, padding_idx=pad)
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dimensional"):
        nn.Embedding.from_pretrained(tb.ones(3))
    with pytest.raises(RuntimeError, match="'weight' must be 2-D"):
        tb.nn.functional.embedding(tb.tensor([0, 1]), tb.ones(4))


# ---------------------------------------------------------------- audit: nn.init against torch
INIT_FNS = ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
            "kaiming_normal_", "orthogonal_", "zeros_", "ones_", "constant_", "eye_"]


@pytest.mark.parametrize("name", INIT_FNS)
def test_init_signatures_match_torch(name):
    import inspect
    ours = [(p.name, p.default) for p in inspect.signature(getattr(nn.init, name)).parameters.values()]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(torch.nn.init, name)).parameters.values()]
    assert ours == theirs


@pytest.mark.parametrize("args", [("conv4d",), ("leaky_relu", True), ("leaky_relu", "x"), ("gelu",),
                                  ("conv_transpose3d",), ("leaky_relu", 0), ("leaky_relu", 3)])
def test_calculate_gain_edge_cases_like_torch(args):
    assert _err(lambda: nn.init.calculate_gain(*args)) == _err(lambda: torch.nn.init.calculate_gain(*args))
    if _err(lambda: torch.nn.init.calculate_gain(*args))[0] == "ok":
        assert nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)


def test_init_errors_like_torch():
    cases = [("uniform_", (2, 1)), ("normal_", (0, -1))]
    for name, args in cases:
        assert _err(lambda: getattr(nn.init, name)(tb.zeros(3), *args)) == \
            _err(lambda: getattr(torch.nn.init, name)(torch.zeros(3), *args))
    assert _err(lambda: nn.init.eye_(tb.zeros(2, 2, 2))) == _err(lambda: torch.nn.init.eye_(torch.zeros(2, 2, 2)))
    for name in ("kaiming_uniform_", "kaiming_normal_"):
        with pytest.warns(UserWarning, match="zero-element"):
            getattr(nn.init, name)(tb.zeros(0, 3))
    assert nn.init.orthogonal_(tb.zeros(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("args", [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, -0.1, 0.3), (0.0, 1.0, 1.5, 3.0),
                                  (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_matches_torch_statistics(args):
    p = nn.Parameter(tb.zeros(100000))
    with tb.no_grad():
        assert nn.init.trunc_normal_(p, *args) is p
    x = p.detach().numpy()
    t = torch.nn.init.trunc_normal_(torch.zeros(400000, dtype=torch.float64), *args).numpy()
    assert x.min() >= args[2] and x.max() <= args[3] and p.requires_grad
    assert abs(x.mean() - t.mean()) < 0.02 * t.std() + 1e-6 and abs(x.std() - t.std()) < 0.02 * t.std()
