"""Parity regressions found by a second PyTorch-user audit (end-to-end scripts: weight tying,
stateful LSTMs, sampling, additive attention, init by name, freezing, clipping, flat
parameter vectors): each test does the same thing in tinybptt and torch and compares."""
import numpy as np
import pytest
import torch

import tinybptt as tb


def raised(fn):
    """(exception type name, message) of fn(), or None when it does not raise."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None


# ---------------------------------------------------------------- parameters_to_vector / vector_to_parameters
@pytest.mark.parametrize("make", [lambda lib: [1.0] * 10, lambda lib: np.ones(10)])
def test_vector_to_parameters_wants_a_tensor(make):
    for lib in (tb, torch):
        params = [lib.nn.Parameter(lib.zeros(2, 3)), lib.nn.Parameter(lib.zeros(4))]
        assert raised(lambda: lib.nn.utils.vector_to_parameters(make(lib), params))[0] == "TypeError"
    params = [tb.nn.Parameter(tb.zeros(2, 3))]
    assert raised(lambda: tb.nn.utils.vector_to_parameters(np.ones(6), params)) == (
        "TypeError", "expected torch.Tensor, but got: numpy.ndarray")


@pytest.mark.parametrize("shape", [(3,), (2, 5)])
def test_vector_to_parameters_too_short_or_not_flat_raises_runtime_error(shape):
    out = []
    for lib in (tb, torch):
        params = [lib.nn.Parameter(lib.zeros(2, 3)), lib.nn.Parameter(lib.zeros(4))]
        out.append(raised(lambda: lib.nn.utils.vector_to_parameters(lib.ones(*shape), params)))
    assert out[0][0] == out[1][0] == "RuntimeError"
    assert out[0][1] == "vector_to_parameters: " + out[1][1]


def test_vector_round_trip_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.GRU(3, 4, num_layers=2).double()
    m = tb.nn.GRU(3, 4, num_layers=2, dtype=tb.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    v, tv = tb.nn.utils.parameters_to_vector(m.parameters()), torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    tb.nn.utils.vector_to_parameters(v * 2, m.parameters())
    torch.nn.utils.vector_to_parameters(tv * 2, tm.parameters())
    for p, q in zip(m.parameters(), tm.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_cat_of_nothing_raises_value_error_as_torch():
    for lib in (tb, torch):
        for empty in ([], ()):
            assert raised(lambda: lib.cat(empty))[0] == "ValueError"
            assert raised(lambda: lib.stack(empty))[0] == "RuntimeError"
    assert raised(lambda: tb.nn.utils.parameters_to_vector([]))[0] == \
        raised(lambda: torch.nn.utils.parameters_to_vector([]))[0]


# ---------------------------------------------------------------- Generator
def _draws(lib, g):
    """Everything that takes generator=, drawn from g in order."""
    w = lib.empty(3, 4)
    out = [lib.randn(2, 3, generator=g), lib.rand(4, generator=g), lib.randperm(5, generator=g),
           lib.randint(0, 10, (3,), generator=g), lib.multinomial(lib.ones(2, 6), 3, generator=g),
           w.clone().uniform_(-1, 1, generator=g), w.clone().normal_(0, 2, generator=g)]
    for f in ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
              "kaiming_normal_", "orthogonal_"):
        out.append(getattr(lib.nn.init, f)(w.clone(), generator=g))
    return out


@pytest.mark.parametrize("lib", [tb, torch])
def test_a_seeded_generator_repeats_and_leaves_the_default_stream_alone(lib):
    lib.manual_seed(0)
    first = _draws(lib, lib.Generator().manual_seed(7))
    after = lib.randn(3)
    lib.manual_seed(0)
    again = _draws(lib, lib.Generator().manual_seed(7))
    np.testing.assert_array_equal(lib.randn(3).numpy(), after.numpy())  # the default generator was not used
    lib.manual_seed(0)
    other = _draws(lib, lib.Generator().manual_seed(8))
    for a, b, c in zip(first, again, other):
        assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(not np.array_equal(a.numpy(), c.numpy()) for a, c in zip(first, other))


def test_generator_interface_as_torch():
    for lib in (tb, torch):
        g = lib.Generator()
        assert g.manual_seed(5) is g and g.initial_seed() == 5 and str(g.device) == "cpu"
        state = g.get_state()
        u = lib.rand(3, generator=g)
        assert g.set_state(state) is g
        np.testing.assert_array_equal(lib.rand(3, generator=g).numpy(), u.numpy())
        assert isinstance(lib.manual_seed(11), lib.Generator) and lib.initial_seed() == 11
        assert lib.manual_seed(11) is lib.default_generator
        assert isinstance(g.seed(), int)
    assert raised(lambda: tb.Generator("cuda"))[0] == "AssertionError"


# ---------------------------------------------------------------- arithmetic as functions (beam search: flat index -> (beam, token))
INTS, FLOATS = np.array([-7, 7, 6, -1]), np.array([-7.5, 7.5, 6.0, -0.5], np.float32)


@pytest.mark.parametrize("call", [
    lambda lib, a, f: lib.div(a, 2, rounding_mode="floor"), lambda lib, a, f: lib.div(a, -2, rounding_mode="trunc"),
    lambda lib, a, f: lib.div(f, -2, rounding_mode="trunc"), lambda lib, a, f: lib.div(f, 2, rounding_mode="floor"),
    lambda lib, a, f: lib.div(a, 2), lambda lib, a, f: a.div(3, rounding_mode="floor"),
    lambda lib, a, f: lib.divide(f, 4.0), lambda lib, a, f: lib.true_divide(a, 4),
    lambda lib, a, f: lib.floor_divide(a, -4), lambda lib, a, f: a.floor_divide(3),
    lambda lib, a, f: lib.remainder(a, 3), lambda lib, a, f: a.remainder(-3), lambda lib, a, f: lib.fmod(a, 3),
    lambda lib, a, f: f.fmod(2), lambda lib, a, f: lib.add(f, f, alpha=2), lambda lib, a, f: lib.sub(f, 1, alpha=2),
    lambda lib, a, f: f.sub(f, alpha=0.5), lambda lib, a, f: lib.subtract(a, 1), lambda lib, a, f: lib.mul(a, 2),
    lambda lib, a, f: lib.multiply(f, a), lambda lib, a, f: f.multiply(2), lambda lib, a, f: f.subtract(1),
    lambda lib, a, f: lib.eq(a, 7), lambda lib, a, f: lib.ne(a, 7), lambda lib, a, f: lib.lt(a, f),
    lambda lib, a, f: lib.le(a, 6), lambda lib, a, f: lib.gt(f, 0), lambda lib, a, f: lib.ge(f, 6),
    lambda lib, a, f: lib.rsqrt(f.abs()), lambda lib, a, f: lib.reciprocal(a), lambda lib, a, f: lib.clone(f),
    lambda lib, a, f: lib.detach(f)])
def test_arithmetic_functions_match_torch(call):
    ours, theirs = call(tb, tb.tensor(INTS), tb.tensor(FLOATS)), call(torch, torch.tensor(INTS), torch.tensor(FLOATS))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_beam_search_index_arithmetic_and_div_errors():
    scores = np.random.default_rng(3).standard_normal((3, 10)).astype(np.float32)
    for lib in (tb, torch):
        vals, idx = lib.tensor(scores).view(-1).topk(4)
        beam, token = lib.div(idx, 10, rounding_mode="floor"), idx % 10
        np.testing.assert_array_equal((beam * 10 + token).numpy(), idx.numpy())
    assert raised(lambda: tb.div(tb.ones(2), 2, rounding_mode="round")) == \
        raised(lambda: torch.div(torch.ones(2), 2, rounding_mode="round"))
    x, t = tb.tensor([1.0, 2.0], requires_grad=True), torch.tensor([1.0, 2.0], requires_grad=True)
    (tb.clone(x) * tb.sub(x, 1, alpha=2)).sum().backward(), (torch.clone(t) * torch.sub(t, 1, alpha=2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# ---------------------------------------------------------------- vocabularies and class weights: unique, bincount, nonzero(as_tuple)
TOKENS = np.array([3, 1, 3, 2, 1, 1, 7])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.unique(x), lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True),
    lambda lib, x: x.unique(return_counts=True), lambda lib, x: x.reshape(1, 7).unique(return_inverse=True),
    lambda lib, x: lib.unique(x[:6].reshape(3, 2), dim=0, return_inverse=True, return_counts=True),
    lambda lib, x: lib.bincount(x), lambda lib, x: x.bincount(minlength=10),
    lambda lib, x: lib.bincount(x, weights=lib.linspace(0, 1, 7)),
    lambda lib, x: lib.bincount(x, weights=lib.ones(7, dtype=lib.float64)),
    lambda lib, x: lib.bincount(x[:0]), lambda lib, x: (x > 1).nonzero(as_tuple=True),
    lambda lib, x: lib.nonzero(x.reshape(1, 7) > 2, as_tuple=True), lambda lib, x: lib.nonzero(x > 2),
    lambda lib, x: x[(x > 1).nonzero(as_tuple=True)]])
def test_unique_bincount_nonzero_match_torch(call):
    ours, theirs = call(tb, tb.tensor(TOKENS)), call(torch, torch.tensor(TOKENS))
    ours, theirs = (ours, theirs) if isinstance(theirs, tuple) else ((ours,), (theirs,))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert str(a.dtype) == str(b.dtype).replace("torch.", "") and tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@pytest.mark.parametrize("bad", [[-1], [[1]]])
def test_bincount_errors_as_torch(bad):
    ours, theirs = raised(lambda: tb.bincount(tb.tensor(bad))), raised(lambda: torch.bincount(torch.tensor(bad)))
    assert ours[0] == theirs[0] and ours[1].startswith(theirs[1][:-1])
    assert raised(lambda: tb.bincount(tb.tensor([1, 2]), weights=tb.ones(3)))[0] == \
        raised(lambda: torch.bincount(torch.tensor([1, 2]), weights=torch.ones(3)))[0]


# ---------------------------------------------------------------- weight EMA and hand-written optimizer updates
@pytest.mark.parametrize("update", [
    lambda lib, p, q: p.lerp_(q, 0.1), lambda lib, p, q: p.lerp_(q, lib.full((3,), 0.25, dtype=lib.float64)),
    lambda lib, p, q: p.addcmul_(q, q, value=-0.5), lambda lib, p, q: p.addcmul_(q, p),
    lambda lib, p, q: p.addcdiv_(q, q.abs() + 1, value=0.1), lambda lib, p, q: p.mul_(0.9).add_(q, alpha=0.1)])
def test_in_place_ema_updates_match_torch(update):
    vals = []
    for lib in (tb, torch):
        ema, model = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64), lib.tensor([0.0, 3.0, -1.0], dtype=lib.float64)
        with lib.no_grad():
            out = update(lib, ema, model)
        assert out is ema
        vals.append(ema.numpy())
    np.testing.assert_allclose(vals[0], vals[1], rtol=1e-12)


def test_lerp_is_differentiable_as_torch():
    grads = []
    for lib in (tb, torch):
        a, b = lib.tensor([1.0, -2.0], requires_grad=True), lib.tensor([0.5, 4.0], requires_grad=True)
        w = lib.tensor([0.2, 0.7], requires_grad=True)
        y = lib.lerp(a, b, w) * lib.tensor([1.0, 3.0]) + a.lerp(b, 0.3)
        y.sum().backward()
        grads.append([y.detach().numpy()] + [t.grad.numpy() for t in (a, b, w)])
    for x, y in zip(*grads):
        np.testing.assert_allclose(x, y, rtol=1e-6)
    p = tb.nn.Parameter(tb.zeros(2))
    assert raised(lambda: p.lerp_(tb.ones(2), 0.5))[0] == raised(lambda: torch.nn.Parameter(torch.zeros(2)).lerp_(
        torch.ones(2), 0.5))[0] == "RuntimeError"
