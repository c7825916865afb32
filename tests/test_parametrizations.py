"""nn.utils.parametrizations (orthogonal, weight_norm, spectral_norm) against torch 2.13 in float64: values,
gradients of the originals, state_dict keys and shapes, optimizer steps, on RNN layers (fused and not), the
orthogonality kept by training, and the exception types of bad arguments."""
from contextlib import nullcontext

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
from tinybptt.nn.utils import parametrizations as PS
from tinybptt.nn.utils import parametrize as P
from tinybptt.nn.utils._linalg import householder_product, matrix_exp, solve

from parity import close, raises_alike, to_ours, to_torch

TPS = torch.nn.utils.parametrizations


def holder(lib, w):
    """A module with one parameter ``weight`` holding the array w."""
    m = lib.nn.Module()
    m.weight = lib.nn.Parameter(tb.tensor(w) if lib is tb else torch.tensor(w))
    return m


def train_both(mod, tm, loss, tloss, steps=3, lr=0.1, check=None):
    """Adam steps on both modules; after each backward the gradients (and ``check(mod, tm)``) must agree."""
    opt, topt = tb.optim.Adam(mod.parameters(), lr=lr), torch.optim.Adam(tm.parameters(), lr=lr)
    for _ in range(steps):
        loss(mod).backward()
        tloss(tm).backward()
        ours, theirs = dict(mod.named_parameters()), dict(tm.named_parameters())
        assert list(ours) == list(theirs)
        for k in theirs:
            assert ours[k].grad is not None, k
            close(ours[k].grad, theirs[k].grad, 1e-10)
        opt.step()
        topt.step()
        opt.zero_grad()
        topt.zero_grad()
        if check:
            check(mod, tm)


def weighted_loss(c):
    """sum(sin(weight) * c) in either library."""
    return (lambda m: (m.weight.sin() * tb.tensor(c)).sum()), (lambda m: (m.weight.sin() * torch.tensor(c)).sum())


def assert_orthogonal(w, tol=1e-12):
    w = w.detach().numpy()
    if w.shape[-2] < w.shape[-1]:
        w = np.swapaxes(w, -1, -2)
    np.testing.assert_allclose(np.swapaxes(w, -1, -2) @ w, np.broadcast_to(np.eye(w.shape[-1]), w.shape[:-2] +
                                                                           (w.shape[-1],) * 2), atol=tol)


# ---------------------------------------------------------------- the matrix functions (finite differences)
def test_matrix_functions_gradcheck(rng):
    a = tb.tensor(rng.standard_normal((2, 4, 4)), requires_grad=True)
    assert tb.gradcheck(matrix_exp, (a,), atol=1e-7, rtol=1e-6)
    big = tb.tensor(rng.standard_normal((3, 3)) * 4, requires_grad=True)  # needs scaling and squaring
    assert tb.gradcheck(matrix_exp, (big,), atol=1e-6, rtol=1e-6)
    m = tb.tensor(rng.standard_normal((2, 4, 4)) + 4 * np.eye(4), requires_grad=True)
    b = tb.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    assert tb.gradcheck(solve, (m, b), atol=1e-7, rtol=1e-6)
    v = tb.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    tau = tb.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    assert tb.gradcheck(householder_product, (v, tau), atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-3, 0.3, 1.0, 6.0, 40.0])
def test_matrix_functions_match_torch(rng, scale):
    a = rng.standard_normal((2, 5, 5)) * scale
    g = rng.standard_normal((2, 5, 5))
    x, tx = tb.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = matrix_exp(x), torch.matrix_exp(tx)
    (y * tb.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    scale_y = np.abs(ty.detach().numpy()).max()
    close(y / scale_y, ty / scale_y, 1e-13)
    scale_g = np.abs(tx.grad.numpy()).max()
    close(x.grad / scale_g, tx.grad / scale_g, 1e-12)
    v, tau = rng.standard_normal((2, 6, 4)), rng.uniform(0.2, 2, (2, 4))
    close(householder_product(tb.tensor(v), tb.tensor(tau)),
          torch.linalg.householder_product(torch.tensor(v), torch.tensor(tau)), 1e-13)


# ---------------------------------------------------------------- orthogonal
SHAPES = [(5, 5), (6, 3), (3, 6), (2, 4, 4), (2, 5, 3), (2, 3, 5), (1, 1), (4, 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_matches_torch(rng, shape, orthogonal_map, use_trivialization):
    w, c = rng.standard_normal(shape), rng.standard_normal(shape)
    mod, tm = holder(tb, w), holder(torch, w)
    PS.orthogonal(mod, orthogonal_map=orthogonal_map, use_trivialization=use_trivialization)
    TPS.orthogonal(tm, orthogonal_map=orthogonal_map, use_trivialization=use_trivialization)
    orth, torth = mod.parametrizations.weight[0], tm.parametrizations.weight[0]
    assert orth.orthogonal_map.name == torth.orthogonal_map.name
    assert list(mod.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()]
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)
    close(mod.weight, tm.weight)  # at registration (a non-square base's random columns do not enter yet)
    assert_orthogonal(mod.weight)
    if use_trivialization:  # from here on they do: start from torch's base
        assert tuple(orth.base.shape) == tuple(torth.base.shape)
        mod.load_state_dict(to_ours(tm))
    loss, tloss = weighted_loss(c)

    def check(mod, tm):
        close(mod.weight, tm.weight, 1e-10)
        assert_orthogonal(mod.weight)
    train_both(mod, tm, loss, tloss, check=check)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_float32(rng, orthogonal_map):
    w = rng.standard_normal((6, 4)).astype(np.float32)
    mod, tm = holder(tb, w), holder(torch, w)
    PS.orthogonal(mod, orthogonal_map=orthogonal_map)
    TPS.orthogonal(tm, orthogonal_map=orthogonal_map)
    mod.load_state_dict(to_ours(tm))
    assert mod.weight.dtype == np.float32
    c = rng.standard_normal((6, 4)).astype(np.float32)
    loss, tloss = weighted_loss(c)
    loss(mod).backward()
    tloss(tm).backward()
    close(mod.weight, tm.weight, 2e-6)
    close(mod.parametrizations.weight.original.grad, tm.parametrizations.weight.original.grad, 2e-5)


def test_orthogonal_keeps_an_orthogonal_weight_and_orthogonalises_others(rng):
    q = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    for w in (q, rng.standard_normal((4, 4))):
        mod, tm = holder(tb, w), holder(torch, w)
        PS.orthogonal(mod)
        TPS.orthogonal(tm)
        close(mod.parametrizations.weight[0].base, tm.parametrizations.weight[0].base)
        close(mod.weight, tm.weight)
    close(PS.orthogonal(holder(tb, q)).weight, q)


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "householder"])
def test_orthogonal_assignment(rng, shape, orthogonal_map):
    mod, tm = holder(tb, rng.standard_normal(shape)), holder(torch, rng.standard_normal(shape))
    PS.orthogonal(mod, orthogonal_map=orthogonal_map)
    TPS.orthogonal(tm, orthogonal_map=orthogonal_map)
    v = rng.standard_normal(shape)
    mod.weight, tm.weight = tb.tensor(v), torch.tensor(v)
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)  # -I
    close(mod.weight, tm.weight)  # the Q of v's QR (first k columns)
    q = tm.weight.detach().numpy().copy()
    mod.weight, tm.weight = tb.tensor(q), torch.tensor(q)  # already orthogonal: kept as it is
    close(mod.weight, q)


def test_orthogonal_householder_without_trivialization_assignment(rng):
    for shape in ((5, 3), (3, 5), (4, 4)):
        mod, tm = holder(tb, rng.standard_normal(shape)), holder(torch, rng.standard_normal(shape))
        PS.orthogonal(mod, "weight", "householder", use_trivialization=False)
        TPS.orthogonal(tm, "weight", "householder", use_trivialization=False)
        assert "base" not in dict(mod.named_buffers()) and list(mod.state_dict()) == list(tm.state_dict())
        v = rng.standard_normal(shape)
        mod.weight, tm.weight = tb.tensor(v), torch.tensor(v)
        close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)
        close(mod.weight, tm.weight)


def test_orthogonal_errors(rng):
    raises_alike(lambda: PS.orthogonal(nn.Linear(3, 3), "bias"), lambda: TPS.orthogonal(torch.nn.Linear(3, 3), "bias"),
                 "Expected a matrix or batch of matrices. Got a tensor of 1 dimensions")
    raises_alike(lambda: PS.orthogonal(nn.Linear(3, 3), "weights"),
                 lambda: TPS.orthogonal(torch.nn.Linear(3, 3), "weights"), "has no parameter or buffer with name")
    raises_alike(lambda: PS.orthogonal(nn.Linear(3, 3), orthogonal_map="qr"),
                 lambda: TPS.orthogonal(torch.nn.Linear(3, 3), orthogonal_map="qr"), "orthogonal_map has to be one of")
    for m in ("matrix_exp", "cayley"):
        mod, tm = nn.Linear(3, 3), torch.nn.Linear(3, 3)
        PS.orthogonal(mod, orthogonal_map=m, use_trivialization=False)
        TPS.orthogonal(tm, orthogonal_map=m, use_trivialization=False)
        raises_alike(lambda: setattr(mod, "weight", tb.eye(3)), lambda: setattr(tm, "weight", torch.eye(3)),
                     "not possible to assign")
    mod, tm = PS.orthogonal(nn.Linear(3, 3)), TPS.orthogonal(torch.nn.Linear(3, 3))
    raises_alike(lambda: setattr(mod, "weight", tb.eye(2)), lambda: setattr(tm, "weight", torch.eye(2)),
                 "Expected a matrix or batch of matrices of shape")
    complex_holder = nn.Module()
    complex_holder.register_buffer("weight", tb.Tensor(np.eye(2) * 1j))
    with pytest.raises(NotImplementedError, match="orthogonal: complex"):
        PS.orthogonal(complex_holder)


# ---------------------------------------------------------------- weight_norm
@pytest.mark.parametrize("shape,dim", [((3, 4), 0), ((3, 4), 1), ((3, 4), None), ((3, 4), -1), ((3, 4), -2),
                                       ((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), None),
                                       ((5,), 0), ((5,), None)])
def test_weight_norm_matches_torch(rng, shape, dim):
    w, c = rng.standard_normal(shape), rng.standard_normal(shape)
    mod, tm = holder(tb, w), holder(torch, w)
    PS.weight_norm(mod, dim=dim)
    TPS.weight_norm(tm, dim=dim)
    assert list(mod.state_dict()) == list(tm.state_dict()) == \
        ["parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()]
    for k, v in tm.state_dict().items():
        close(mod.state_dict()[k], v)  # g (with torch's shape) and v
    close(mod.weight, tm.weight)
    mod.load_state_dict(to_ours(tm))
    loss, tloss = weighted_loss(c)
    train_both(mod, tm, loss, tloss, check=lambda mod, tm: close(mod.weight, tm.weight, 1e-10))
    v = rng.standard_normal(shape)
    mod.weight, tm.weight = tb.tensor(v), torch.tensor(v)
    close(mod.parametrizations.weight.original0, tm.parametrizations.weight.original0)


def test_weight_norm_bad_dim():
    raises_alike(lambda: PS.weight_norm(nn.Linear(3, 4), dim=2), lambda: TPS.weight_norm(torch.nn.Linear(3, 4), dim=2),
                 "Dimension out of range")
    raises_alike(lambda: PS.weight_norm(nn.Linear(3, 4), "w"), lambda: TPS.weight_norm(torch.nn.Linear(3, 4), "w"),
                 "does not have a parameter")


def test_weight_norm_loads_the_old_weight_g_weight_v_keys(rng):
    torch.manual_seed(0)
    old = torch.nn.utils.weight_norm(torch.nn.Linear(4, 3).double())  # FutureWarning (filtered by -p no:warnings)
    with torch.no_grad():
        old.weight_g.mul_(2)
    mod = PS.weight_norm(nn.Linear(4, 3).double())
    assert repr(mod.load_state_dict(to_ours(old))) == "<All keys matched successfully>"
    tm = TPS.weight_norm(torch.nn.Linear(4, 3).double())
    tm.load_state_dict(old.state_dict())
    close(mod.weight, tm.weight)
    close(mod.parametrizations.weight.original0, old.weight_g)


def test_old_keys_load_into_a_submodule_and_the_callers_dict_is_left_alone(rng):
    torch.manual_seed(0)
    old = torch.nn.Sequential(torch.nn.Tanh(), torch.nn.utils.weight_norm(torch.nn.Linear(4, 3).double()))
    state = to_ours(old)
    keys = list(state)
    mod = nn.Sequential(nn.Tanh(), PS.weight_norm(nn.Linear(4, 3).double()))
    tm = torch.nn.Sequential(torch.nn.Tanh(), TPS.weight_norm(torch.nn.Linear(4, 3).double()))
    assert repr(mod.load_state_dict(state)) == repr(tm.load_state_dict(old.state_dict()))
    assert list(state) == keys  # the hook renamed the keys of a copy
    close(mod[1].weight, tm[1].weight)
    # strict loading still names what is missing after the renaming
    del state["1.weight_g"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "1.parametrizations.weight.original0"'):
        mod.load_state_dict(state)


def test_remove_weight_norm_parametrization(rng):
    mod, tm = holder(tb, rng.standard_normal((3, 4))), holder(torch, rng.standard_normal((3, 4)))
    mod.load_state_dict(to_ours(tm))
    PS.weight_norm(mod)
    TPS.weight_norm(tm)
    with torch.no_grad():
        tm.parametrizations.weight.original0.mul_(3)
    mod.load_state_dict(to_ours(tm))
    P.remove_parametrizations(mod, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["weight"]
    assert isinstance(mod.weight, nn.Parameter)
    close(mod.weight, tm.weight)


# ---------------------------------------------------------------- spectral_norm
@pytest.mark.parametrize("shape,dim,iters", [((3, 5), None, 1), ((5, 3), 1, 2), ((3, 4, 2), 0, 1), ((3, 4, 2), 1, 3),
                                             ((3, 4, 2), -1, 1)])
def test_spectral_norm_matches_torch_from_the_same_u_v(rng, shape, dim, iters):
    w, c = rng.standard_normal(shape), rng.standard_normal(shape)
    mod, tm = holder(tb, w), holder(torch, w)
    PS.spectral_norm(mod, n_power_iterations=iters, dim=dim)
    TPS.spectral_norm(tm, n_power_iterations=iters, dim=dim)
    assert list(mod.state_dict()) == list(tm.state_dict()) == \
        ["parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    for k, v in tm.state_dict().items():
        assert mod.state_dict()[k].shape == tuple(v.shape)
    mod.load_state_dict(to_ours(tm))  # torch's random u, v (15 + 1 iterations from their start)
    sn, tsn = mod.parametrizations.weight[0], tm.parametrizations.weight[0]

    def check(mod, tm):
        close(mod.weight, tm.weight, 1e-10)  # one more power iteration in training mode
        close(sn._u, tsn._u, 1e-10)
        close(sn._v, tsn._v, 1e-10)
    check(mod, tm)
    loss, tloss = weighted_loss(c)
    train_both(mod, tm, loss, tloss, check=check)
    mod.eval()
    tm.eval()
    u = sn._u.numpy().copy()
    check(mod, tm)
    np.testing.assert_array_equal(sn._u.numpy(), u)  # no power iteration in eval mode


def test_spectral_norm_of_a_vector_and_at_registration(rng):
    mod, tm = nn.Linear(4, 3).double(), torch.nn.Linear(4, 3).double()
    mod.load_state_dict(to_ours(tm))
    PS.spectral_norm(mod, "bias")
    TPS.spectral_norm(tm, "bias")
    assert list(mod.state_dict()) == list(tm.state_dict())  # a vector has no u, v
    close(mod.bias, tm.bias)
    # at registration: 16 power iterations from random unit vectors approach the top singular pair
    w = np.diag([5.0, 1.0, 0.5]) @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    m = PS.spectral_norm(holder(tb, w))
    sn = m.parametrizations.weight[0]
    assert abs(np.linalg.norm(sn._u.numpy()) - 1) < 1e-12 and abs(np.linalg.norm(sn._v.numpy()) - 1) < 1e-12
    assert abs(np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0] - 1) < 1e-8


def test_spectral_norm_errors():
    raises_alike(lambda: PS.spectral_norm(nn.Linear(3, 4), dim=2),
                 lambda: TPS.spectral_norm(torch.nn.Linear(3, 4), dim=2), r"Dimension out of range .*but got 2")
    raises_alike(lambda: PS.spectral_norm(nn.Linear(3, 4), n_power_iterations=0),
                 lambda: TPS.spectral_norm(torch.nn.Linear(3, 4), n_power_iterations=0), "n_power_iterations=0")
    raises_alike(lambda: PS.spectral_norm(nn.Linear(3, 4), "w"), lambda: TPS.spectral_norm(torch.nn.Linear(3, 4), "w"),
                 "has no parameter or buffer with name 'w'")


# ---------------------------------------------------------------- on RNN layers
def rnn_pair(kind, fused, **kw):
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(3, 4, **kw).double()
    mod = getattr(nn, kind)(3, 4, fused=fused, **kw).double()
    mod.load_state_dict(to_ours(tm))
    return mod, tm


def rnn_loss(x, cached=False):
    """sum(2 sin(output)) + sum(h_n^2) of an RNN layer (the forward inside cached() when ``cached``)."""
    def run(lib, m):
        block = (P.cached() if lib is tb else torch.nn.utils.parametrize.cached()) if cached else nullcontext()
        with block:
            out, h = m(tb.tensor(x) if lib is tb else torch.tensor(x))
        h = h[0] if isinstance(h, tuple) else h
        return (out.sin() * 2).sum() + (h * h).sum()
    return (lambda m: run(tb, m)), (lambda m: run(torch, m))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("register", ["orthogonal", "weight_norm", "spectral_norm"])
def test_parametrized_rnn_weights_match_torch(rng, kind, fused, register):
    mod, tm = rnn_pair(kind, fused, num_layers=2, bidirectional=True)
    for name in ("weight_hh_l0", "weight_ih_l1_reverse"):
        getattr(PS, register)(mod, name)
        getattr(TPS, register)(tm, name)
    assert list(mod.state_dict()) == list(tm.state_dict())
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()]
    mod.load_state_dict(to_ours(tm))  # incl. a random base / u, v
    x = rng.standard_normal((5, 2, 3))
    # torch's RNN reads each weight 4 times per forward: spectral_norm's power iteration runs once per read
    # in training mode, so compare it inside cached() (one read each), as a user would run it
    loss, tloss = rnn_loss(x, cached=register == "spectral_norm")

    def check(mod, tm):
        for name in ("weight_hh_l0", "weight_ih_l1_reverse"):
            close(getattr(mod, name), getattr(tm, name), 1e-10)
    train_both(mod, tm, loss, tloss, check=check)  # every gradient (the originals' too) is there and agrees


@pytest.mark.parametrize("fused", [True, False])
def test_gradients_reach_original_through_the_rnn(rng, fused):
    mod = PS.orthogonal(nn.LSTM(3, 4, fused=fused).double(), "weight_hh_l0")
    original = mod.parametrizations.weight_hh_l0.original
    out, _ = mod(tb.tensor(rng.standard_normal((6, 2, 3))))
    (out * out).sum().backward()
    assert original.grad is not None and np.abs(original.grad.numpy()).max() > 1e-6
    # the same gradient by finite differences along a random direction (off the diagonal: the (16, 4) matrix
    # takes the householder map, whose diagonal holds the reflections' signs +-1, truncated, not differentiated)
    d = rng.standard_normal(original.shape) * (1 - np.eye(*original.shape))
    x = tb.tensor(rng.standard_normal((6, 2, 3)))
    mod.zero_grad()
    out, _ = mod(x)
    (out * out).sum().backward()
    analytic = float((original.grad.numpy() * d).sum())
    base = original.detach().numpy().copy()

    def loss_at(t):
        original.data = tb.tensor(base + t * d)
        with tb.no_grad():
            o, _ = mod(x)
        return float((o * o).sum())
    numeric = (loss_at(1e-6) - loss_at(-1e-6)) / 2e-6
    assert abs(analytic - numeric) < 1e-6 * max(1, abs(numeric))


@pytest.mark.parametrize("cell", ["LSTMCell", "GRUCell", "RNNCell"])
@pytest.mark.parametrize("fused", [True, False])
def test_parametrized_cells_match_torch(rng, cell, fused):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cell)(3, 4).double()
    mod = getattr(nn, cell)(3, 4, fused=fused).double()
    mod.load_state_dict(to_ours(tm))
    PS.orthogonal(mod, "weight_hh")
    TPS.orthogonal(tm, "weight_hh")
    PS.weight_norm(mod, "weight_ih")
    TPS.weight_norm(tm, "weight_ih")
    mod.load_state_dict(to_ours(tm))
    x = rng.standard_normal((5, 2, 3))

    def run(lib, m):
        h = None
        for t in range(5):
            h = m(tb.tensor(x[t]) if lib is tb else torch.tensor(x[t]), h)
        h = h[0] if isinstance(h, tuple) else h
        return (h.sin()).sum()
    train_both(mod, tm, lambda m: run(tb, m), lambda m: run(torch, m),
               check=lambda m, t: close(m.weight_hh, t.weight_hh, 1e-10))


def test_orthogonality_survives_training(rng):
    """An LSTM trained with a large learning rate keeps its (4H, H) recurrent matrix with orthonormal
    columns, to rounding, while original moves away from its start (-I)."""
    mod = PS.orthogonal(nn.LSTM(3, 8).double(), "weight_hh_l0")
    opt = tb.optim.Adam(mod.parameters(), lr=0.3)
    x, y = tb.tensor(rng.standard_normal((10, 4, 3))), tb.tensor(rng.standard_normal((10, 4, 8)))
    first = None
    for _ in range(30):
        out, _ = mod(x)
        loss = ((out - y) ** 2).mean()
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert_orthogonal(mod.weight_hh_l0, 1e-12)
    assert float(loss) < first
    assert np.abs(mod.parametrizations.weight_hh_l0.original.detach().numpy() + np.eye(32, 8)).max() > 1e-3


def test_cached_rnn_forward_equals_uncached(rng):
    mod = PS.orthogonal(nn.GRU(3, 4).double(), "weight_hh_l0")
    x = tb.tensor(rng.standard_normal((5, 2, 3)))
    a, _ = mod(x)
    with P.cached():
        b, _ = mod(x)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_moves_both_ways_for_parametrized_lstm(rng):
    mod, tm = rnn_pair("LSTM", True)
    for lib, m in ((PS, mod), (TPS, tm)):
        lib.orthogonal(m, "weight_hh_l0")
        lib.weight_norm(m, "weight_ih_l0")
        lib.spectral_norm(m, "bias_hh_l0")
    assert list(mod.state_dict()) == list(tm.state_dict())
    assert repr(mod) == repr(tm)
    mod.load_state_dict(to_ours(tm))
    with tb.no_grad():
        for p in mod.parameters():
            p.data = tb.tensor(rng.standard_normal(p.shape))
    tm.load_state_dict(to_torch(mod))
    for name in ("weight_hh_l0", "weight_ih_l0", "bias_hh_l0"):
        close(getattr(mod, name), getattr(tm, name))
    x = rng.standard_normal((4, 2, 3))
    close(mod(tb.tensor(x))[0], tm(torch.tensor(x))[0])


def test_spectral_norm_on_linear_forward_every_call(rng):
    """Linear reads its weight once per call in both libraries: one power iteration per training forward."""
    torch.manual_seed(0)
    tm = TPS.spectral_norm(torch.nn.Linear(5, 4).double())
    mod = PS.spectral_norm(nn.Linear(5, 4).double())
    mod.load_state_dict(to_ours(tm))
    x = rng.standard_normal((3, 5))

    def check(mod, tm):
        close(mod.parametrizations.weight[0]._u, tm.parametrizations.weight[0]._u, 1e-10)
    train_both(mod, tm, lambda m: m(tb.tensor(x)).sin().sum(), lambda m: m(torch.tensor(x)).sin().sum(), check=check)


def test_dtype_conversion_converts_originals_and_base(rng):
    w = rng.standard_normal((4, 3)).astype(np.float32)
    mod, tm = holder(tb, w), holder(torch, w)
    PS.orthogonal(mod)
    TPS.orthogonal(tm)
    mod.load_state_dict(to_ours(tm))
    mod.double()
    tm.double()
    assert mod.parametrizations.weight[0].base.dtype == np.float64
    close(mod.weight, tm.weight, 1e-12)


def test_docstring_examples():
    import doctest
    result = doctest.testmod(PS)
    assert result.attempted > 0 and result.failed == 0
