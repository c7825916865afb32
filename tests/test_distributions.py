"""tinybptt.distributions against torch.distributions 2.13: everything deterministic (log_prob, entropy,
moments, cdf, probs/logits conversions, KL, shapes, validation errors) exactly in float64, values and
gradients of the parameters; samples (drawn from tinybptt's own generator) by shape, dtype, support and
statistics; finite-difference checks of the gradients."""
import math
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.distributions as D

TD = torch.distributions
TOL = 1e-12


def tensors(*arrays, grad=True):
    """The arrays as float64 leaves of both libraries: ([tinybptt...], [torch...])."""
    ours = [tb.tensor(np.asarray(a, np.float64), requires_grad=grad) for a in arrays]
    theirs = [torch.tensor(np.asarray(a, np.float64), requires_grad=grad) for a in arrays]
    return ours, theirs


def close(a, b, tol=TOL):
    a = np.asarray(a.detach().numpy() if isinstance(a, tb.Tensor) else a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def parity(make, quantity, *arrays, grad=True, tol=TOL):
    """Build the distribution with ``make(module, *params)`` in both libraries, compare
    ``quantity(dist, module)``, then the parameters' gradients of sum(quantity * u) (finite parts)."""
    ours, theirs = tensors(*arrays)
    y = quantity(make(D, *ours), tb)
    t = quantity(make(TD, *theirs), torch)
    close(y, t, tol)
    if not grad or not t.requires_grad:
        return y
    u = np.random.default_rng(3).uniform(0.5, 2, tuple(t.shape))
    finite = np.isfinite(t.detach().numpy())
    u = np.where(finite, u, 0.0)
    (t * torch.tensor(u)).sum().backward()
    (y * tb.tensor(u)).sum().backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy())
        else:
            close(a.grad, b.grad, tol)
    return y


@pytest.fixture
def validation():
    """Restore the default validation setting after a test that changes it."""
    yield
    D.Distribution.set_default_validate_args(True)
    TD.Distribution.set_default_validate_args(True)


RNG = np.random.default_rng(0)
PROBS = [RNG.uniform(0.1, 2.0, (4,)), RNG.uniform(0.1, 2.0, (2, 3)), RNG.uniform(0.0, 1.0, (2, 3, 5)),
         np.array([0.0, 0.3, 0.7]), np.array([[1.0, 0.0], [0.25, 0.75]])]
LOGITS = [RNG.standard_normal((4,)) * 3, RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3, 5)) * 10,
          np.array([-50.0, 0.0, 50.0])]


# ---------------------------------------------------------------- Categorical
def categorical_quantities():
    return {
        "probs": lambda d, m: d.probs,
        "logits": lambda d, m: d.logits,
        "entropy": lambda d, m: d.entropy(),
        "perplexity": lambda d, m: d.perplexity(),
        "log_prob": lambda d, m: d.log_prob(m.tensor(np.arange(np.prod(d.batch_shape, dtype=int)).reshape(
            d.batch_shape) % d.param_shape[-1])),
        "log_prob_sample_dims": lambda d, m: d.log_prob(m.tensor(
            np.arange(3 * max(1, int(np.prod(d.batch_shape)))).reshape((3,) + tuple(d.batch_shape))
            % d.param_shape[-1])),
        "log_prob_broadcast": lambda d, m: d.log_prob(m.tensor([[0], [1]] if d.batch_shape else [0, 1])),
    }


@pytest.mark.parametrize("quantity", list(categorical_quantities()))
@pytest.mark.parametrize("arg", ["probs", "logits"])
@pytest.mark.parametrize("case", range(4))
def test_categorical_parity(arg, case, quantity):
    params = (PROBS if arg == "probs" else LOGITS)[case]
    parity(lambda m, p: m.Categorical(**{arg: p}), categorical_quantities()[quantity], params)


@pytest.mark.parametrize("params", PROBS[3:], ids=["zero", "rows"])
def test_categorical_zero_probabilities(params):
    for quantity in categorical_quantities().values():
        parity(lambda m, p: m.Categorical(probs=p), quantity, params)


def test_categorical_minus_inf_logits():
    """A logit of -inf is a class of probability 0: its entropy term counts 0, its log_prob is -inf."""
    logits = np.array([[-np.inf, 0.5, 1.0], [0.0, -np.inf, -np.inf]])
    parity(lambda m, p: m.Categorical(logits=p), lambda d, m: d.entropy(), logits, grad=False)
    parity(lambda m, p: m.Categorical(logits=p), lambda d, m: d.log_prob(m.tensor([0, 0])), logits, grad=False)
    parity(lambda m, p: m.Categorical(logits=p), lambda d, m: d.probs, logits, grad=False)


def test_categorical_shapes_and_moments():
    for p in PROBS:
        ours, theirs = D.Categorical(tb.tensor(p)), TD.Categorical(torch.tensor(p))
        assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
        assert ours.param_shape == theirs.param_shape
        close(ours.mean, theirs.mean)
        close(ours.variance, theirs.variance)
        close(ours.mode, theirs.mode)
        close(ours.enumerate_support(), theirs.enumerate_support())
        close(ours.enumerate_support(expand=False), theirs.enumerate_support(expand=False))
        assert ours.has_enumerate_support and not ours.has_rsample
        assert repr(ours.support) == repr(theirs.support)
        assert repr(ours) == repr(theirs)


def test_categorical_sampling():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    d = D.Categorical(probs=tb.tensor(probs * 3, requires_grad=True))
    s = d.sample((20000,))
    assert s.shape == (20000, 2) and s.dtype == np.int64 and not s.requires_grad
    freq = np.stack([(s.numpy() == k).mean(0) for k in range(3)], -1)
    np.testing.assert_allclose(freq, probs, atol=0.015)
    assert d.sample().shape == (2,) and d.sample((4, 5)).shape == (4, 5, 2)
    assert D.Categorical(tb.tensor([0.3, 0.7])).sample().shape == ()
    tb.manual_seed(5)
    a = d.sample((7,))
    tb.manual_seed(5)
    assert np.array_equal(a.numpy(), d.sample((7,)).numpy())


def test_categorical_language_model_step():
    """Sampling characters from an LSTM language model's logits and a REINFORCE loss on them."""
    tb.manual_seed(0)
    lstm, head = tb.nn.LSTM(5, 8), tb.nn.Linear(8, 5)
    x = tb.randn(4, 3, 5)
    d = D.Categorical(logits=head(lstm(x)[0]))
    chars = d.sample()
    assert chars.shape == (4, 3) and d.batch_shape == (4, 3)
    (-(d.log_prob(chars)).sum()).backward()
    assert head.weight.grad is not None and lstm.weight_hh_l0.grad is not None


# ---------------------------------------------------------------- OneHotCategorical
def test_onehot_categorical_parity():
    for arg, cases in (("probs", PROBS[:4]), ("logits", LOGITS)):
        for p in cases:
            k = p.shape[-1]
            one = np.eye(k)[np.arange(int(np.prod(p.shape[:-1]))).reshape(p.shape[:-1]) % k]
            make = lambda m, q: m.OneHotCategorical(**{arg: q})  # noqa: E731
            for quantity in (lambda d, m: d.entropy(), lambda d, m: d.mean, lambda d, m: d.variance,
                             lambda d, m: d.log_prob(m.tensor(one)), lambda d, m: d.probs, lambda d, m: d.logits):
                parity(make, quantity, p)
            ours, theirs = make(D, tb.tensor(p)), make(TD, torch.tensor(p))
            assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape == (k,)
            close(ours.mode, theirs.mode)
            close(ours.enumerate_support(), theirs.enumerate_support())
            close(ours.enumerate_support(False), theirs.enumerate_support(False))


def test_onehot_categorical_sampling():
    d = D.OneHotCategorical(tb.tensor([[0.2, 0.8], [0.9, 0.1]], dtype=tb.float64))
    s = d.sample((10000,))
    assert s.shape == (10000, 2, 2) and s.dtype == np.float64
    assert np.all(s.numpy().sum(-1) == 1) and set(np.unique(s.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(s.numpy().mean(0), [[0.2, 0.8], [0.9, 0.1]], atol=0.02)


# ---------------------------------------------------------------- Bernoulli
BERN = [RNG.uniform(0, 1, (5,)), RNG.uniform(0, 1, (2, 3)), np.array([0.0, 0.5, 1.0, 0.25])]


@pytest.mark.parametrize("arg", ["probs", "logits"])
@pytest.mark.parametrize("case", range(3))
def test_bernoulli_parity(arg, case):
    p = BERN[case] if arg == "probs" else (BERN[case] - 0.5) * 30
    make = lambda m, q: m.Bernoulli(**{arg: q})  # noqa: E731
    values = (np.arange(p.size).reshape(p.shape) % 2).astype(np.float64)
    for quantity in (lambda d, m: d.probs, lambda d, m: d.logits, lambda d, m: d.entropy(), lambda d, m: d.mean,
                     lambda d, m: d.variance, lambda d, m: d.stddev, lambda d, m: d.log_prob(m.tensor(values)),
                     lambda d, m: d.log_prob(m.tensor(np.stack([values, 1 - values])))):
        parity(make, quantity, p)
    ours, theirs = make(D, tb.tensor(p)), make(TD, torch.tensor(p))
    close(ours.mode, theirs.mode)
    close(ours.enumerate_support(), theirs.enumerate_support())
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    assert repr(ours) == repr(theirs)


def test_bernoulli_number_parameter():
    for kw in ({"probs": 0.3}, {"logits": -1.5}):
        ours, theirs = D.Bernoulli(**kw), TD.Bernoulli(**kw)
        assert ours.batch_shape == theirs.batch_shape == ()
        close(ours.probs, theirs.probs, 1e-7)
        close(ours.entropy(), theirs.entropy(), 1e-6)
        close(ours.log_prob(tb.tensor([0.0, 1.0])), theirs.log_prob(torch.tensor([0.0, 1.0])), 1e-6)


def test_bernoulli_sampling():
    p = np.array([0.1, 0.5, 0.95])
    d = D.Bernoulli(tb.tensor(p, requires_grad=True))
    s = d.sample((20000,))
    assert s.shape == (20000, 3) and s.dtype == np.float64 and not s.requires_grad
    assert set(np.unique(s.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(s.numpy().mean(0), p, atol=0.015)
    assert D.Bernoulli(logits=tb.tensor(0.0)).sample((3, 2)).shape == (3, 2)


# ---------------------------------------------------------------- Normal
LOC_SCALE = [(RNG.standard_normal(4), RNG.uniform(0.2, 3, 4)), (RNG.standard_normal((2, 3)), RNG.uniform(0.2, 3, (3,))),
             (np.array(0.5), RNG.uniform(0.5, 2, (2, 2)))]


@pytest.mark.parametrize("case", range(3))
def test_normal_parity(case):
    loc, scale = LOC_SCALE[case]
    make = lambda m, a, b: m.Normal(a, b)  # noqa: E731
    x = RNG.standard_normal(np.broadcast_shapes(loc.shape, scale.shape)) * 2
    for quantity in (lambda d, m: d.log_prob(m.tensor(x)), lambda d, m: d.log_prob(m.tensor(np.stack([x, x + 1]))),
                     lambda d, m: d.entropy(), lambda d, m: d.cdf(m.tensor(x)), lambda d, m: d.mean,
                     lambda d, m: d.mode, lambda d, m: d.stddev, lambda d, m: d.variance,
                     lambda d, m: d.perplexity(),
                     lambda d, m: d.icdf(m.tensor(1 / (1 + np.exp(-x))))):
        parity(make, quantity, loc, scale)
    ours, theirs = make(D, *tensors(loc, scale)[0]), make(TD, *tensors(loc, scale)[1])
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    assert repr(ours) == repr(theirs)


def test_normal_value_gradient():
    """log_prob is differentiable in the value too (a VAE's decoder likelihood)."""
    (loc, scale), (tloc, tscale) = tensors([0.3, -1.0], [1.5, 0.5])
    x, tx = tensors([1.0, 2.0])
    D.Normal(loc, scale).log_prob(x[0]).sum().backward()
    TD.Normal(tloc, tscale).log_prob(tx[0]).sum().backward()
    close(x[0].grad, tx[0].grad)


def test_normal_numbers():
    ours, theirs = D.Normal(0.0, 1.0), TD.Normal(0.0, 1.0)
    assert ours.batch_shape == theirs.batch_shape == () and ours.loc.dtype == np.float32
    assert repr(ours) == repr(theirs)
    close(ours.log_prob(tb.tensor([0.5, -2.0])), theirs.log_prob(torch.tensor([0.5, -2.0])), 1e-6)
    (loc,), (tloc,) = tensors([0.0, 1.0])
    close(D.Normal(loc, 2.0).entropy(), TD.Normal(tloc, 2.0).entropy())


def test_normal_rsample_is_reparametrised():
    """rsample = loc + eps * scale: d/dloc = 1 and d/dscale = eps = (x - loc) / scale, elementwise."""
    loc = tb.tensor([0.5, -2.0], dtype=tb.float64, requires_grad=True)
    scale = tb.tensor([1.5, 0.1], dtype=tb.float64, requires_grad=True)
    x = D.Normal(loc, scale).rsample((50000,))
    assert x.shape == (50000, 2) and x.requires_grad and x.dtype == np.float64
    x.sum().backward()
    eps = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(loc.grad.numpy(), [50000, 50000])
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0), rtol=1e-9)
    np.testing.assert_allclose(eps.mean(0), 0, atol=0.02)
    np.testing.assert_allclose(eps.std(0), 1, atol=0.02)
    s = D.Normal(loc, scale).sample((3,))
    assert s.shape == (3, 2) and not s.requires_grad


def test_normal_sampling_statistics():
    d = D.Normal(tb.tensor([1.0, -3.0]), tb.tensor([0.5, 2.0]))
    s = d.sample((40000,)).numpy()
    assert s.dtype == np.float32
    np.testing.assert_allclose(s.mean(0), [1.0, -3.0], atol=0.04)
    np.testing.assert_allclose(s.std(0), [0.5, 2.0], rtol=0.03)
    tb.manual_seed(3)
    a = d.rsample()
    tb.manual_seed(3)
    assert np.array_equal(a.numpy(), d.rsample().numpy())


# ---------------------------------------------------------------- Uniform
def test_uniform_parity():
    low, high = np.array([-1.0, 0.0, 2.0]), np.array([1.0, 0.5, 5.0])
    x = np.array([[-1.0, 0.25, 4.9], [1.0, 0.5, 2.0], [0.3, 0.1, 3.0]])  # edges: low is in, high is out
    make = lambda m, a, b: m.Uniform(a, b)  # noqa: E731
    for quantity in (lambda d, m: d.log_prob(m.tensor(x)), lambda d, m: d.entropy(), lambda d, m: d.cdf(m.tensor(x)),
                     lambda d, m: d.icdf(m.tensor(x.clip(0, 1))), lambda d, m: d.mean, lambda d, m: d.stddev,
                     lambda d, m: d.variance, lambda d, m: d.mode):
        parity(make, quantity, low, high)
    ours, theirs = D.Uniform(tb.tensor(low), tb.tensor(high)), TD.Uniform(torch.tensor(low), torch.tensor(high))
    assert repr(ours) == repr(theirs) and ours.batch_shape == theirs.batch_shape and ours.has_rsample
    f32 = D.Uniform(tb.tensor(low, dtype=tb.float32), 5.0)
    tf32 = TD.Uniform(torch.tensor(low, dtype=torch.float32), 5.0)
    assert repr(f32.support) == repr(tf32.support)
    outside = D.Uniform(tb.tensor(low), tb.tensor(high), validate_args=False)
    touts = TD.Uniform(torch.tensor(low), torch.tensor(high), validate_args=False)
    close(outside.log_prob(tb.tensor([-2.0, 0.6, 1.0])), touts.log_prob(torch.tensor([-2.0, 0.6, 1.0])))
    close(D.Uniform(0.0, 2.0).entropy(), TD.Uniform(0.0, 2.0).entropy())


def test_uniform_rsample():
    low = tb.tensor([0.0, -2.0], dtype=tb.float64, requires_grad=True)
    high = tb.tensor([1.0, 2.0], dtype=tb.float64, requires_grad=True)
    x = D.Uniform(low, high).rsample((30000,))
    assert x.shape == (30000, 2) and x.requires_grad
    v = x.detach().numpy()
    assert np.all(v >= [0, -2]) and np.all(v < [1, 2])
    np.testing.assert_allclose(v.mean(0), [0.5, 0.0], atol=0.03)
    x.sum().backward()
    u = (v - [0.0, -2.0]) / [1.0, 4.0]  # rsample = low + u (high - low)
    np.testing.assert_allclose(low.grad.numpy(), (1 - u).sum(0), rtol=1e-9)
    np.testing.assert_allclose(high.grad.numpy(), u.sum(0), rtol=1e-9)


# ---------------------------------------------------------------- Independent, expand
def test_independent_parity():
    loc, scale = RNG.standard_normal((3, 4)), RNG.uniform(0.5, 2, (3, 4))
    x = RNG.standard_normal((2, 3, 4))
    for n in (0, 1, 2):
        make = lambda m, a, b: m.Independent(m.Normal(a, b), n)  # noqa: E731
        parity(make, lambda d, m: d.log_prob(m.tensor(x)), loc, scale)
        parity(make, lambda d, m: d.entropy(), loc, scale)
        ours, theirs = make(D, tb.tensor(loc), tb.tensor(scale)), make(TD, torch.tensor(loc), torch.tensor(scale))
        assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
        assert repr(ours) == repr(theirs) and repr(ours.support) == repr(theirs.support)
        assert ours.has_rsample and ours.rsample((5,)).shape == (5, 3, 4)
        assert ours.expand((2,) + ours.batch_shape).batch_shape == theirs.expand((2,) + theirs.batch_shape).batch_shape
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(D.Normal(tb.zeros(3), tb.ones(3)), 2)
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        TD.Independent(TD.Normal(torch.zeros(3), torch.ones(3)), 2)


@pytest.mark.parametrize("name", ["Categorical", "OneHotCategorical", "Bernoulli", "Normal", "Uniform"])
def test_expand(name):
    p = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    args = {"Categorical": (p,), "OneHotCategorical": (p,), "Bernoulli": (p,), "Normal": (p, p + 1),
            "Uniform": (p - 1, p)}[name]
    ours = getattr(D, name)(*[tb.tensor(a) for a in args])
    theirs = getattr(TD, name)(*[torch.tensor(a) for a in args])
    shape = (4,) + tuple(theirs.batch_shape)
    e, te = ours.expand(shape), theirs.expand(shape)
    assert type(e) is type(ours) and e.batch_shape == te.batch_shape and e.event_shape == te.event_shape
    close(e.entropy(), te.entropy())
    assert e.sample((2,)).shape == tuple(te.sample((2,)).shape)
    value = te.sample()
    close(e.log_prob(tb.tensor(value.numpy())), te.log_prob(value))


# ---------------------------------------------------------------- KL
def kl_cases():
    p1, p2 = RNG.uniform(0.05, 1, (3, 4)), RNG.uniform(0.05, 1, (3, 4))
    return {
        "normal": (lambda m, a, b, c, d: (m.Normal(a, b), m.Normal(c, d)),
                   (RNG.standard_normal((3,)), RNG.uniform(0.3, 2, 3), RNG.standard_normal((2, 3)),
                    RNG.uniform(0.3, 2, 3))),
        "categorical": (lambda m, a, b: (m.Categorical(a), m.Categorical(b)), (p1, p2)),
        "categorical_logits": (lambda m, a, b: (m.Categorical(logits=a), m.Categorical(logits=b)), (p1 * 5, p2 * 5)),
        "categorical_zeros": (lambda m, a, b: (m.Categorical(a), m.Categorical(b)),
                              (np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]]),
                               np.array([[0.3, 0.0, 0.7], [0.2, 0.3, 0.5]]))),
        "onehot": (lambda m, a, b: (m.OneHotCategorical(a), m.OneHotCategorical(b)), (p1, p2)),
        "bernoulli": (lambda m, a, b: (m.Bernoulli(a), m.Bernoulli(b)), (p1, p2)),
        "bernoulli_logits": (lambda m, a, b: (m.Bernoulli(logits=a), m.Bernoulli(logits=b)), (p1 * 9 - 4, p2 * 9 - 4)),
        "bernoulli_edges": (lambda m, a, b: (m.Bernoulli(a), m.Bernoulli(b)),
                            (np.array([0.0, 1.0, 0.3, 0.3, 0.0, 1.0]), np.array([0.5, 0.5, 0.0, 1.0, 0.0, 1.0]))),
        "uniform": (lambda m, a, b, c, d: (m.Uniform(a, b), m.Uniform(c, d)),
                    (np.array([0.0, -1.0, 0.0, 0.5]), np.array([1.0, 1.0, 2.0, 1.0]),
                     np.array([-1.0, -1.0, 0.5, 0.0]), np.array([2.0, 1.0, 3.0, 0.8]))),
        "independent": (lambda m, a, b, c, d: (m.Independent(m.Normal(a, b), 1), m.Independent(m.Normal(c, d), 1)),
                        (RNG.standard_normal((2, 3)), RNG.uniform(0.3, 2, (2, 3)), RNG.standard_normal((2, 3)),
                         RNG.uniform(0.3, 2, (2, 3)))),
    }


@pytest.mark.parametrize("case", list(kl_cases()))
def test_kl_divergence_parity(case):
    make, arrays = kl_cases()[case]
    parity(lambda m, *ps: m.kl_divergence(*make(m, *ps)), lambda y, m: y, *arrays)


def test_kl_gradcheck():
    """Finite differences of the KL of every pair (float64), through probs and logits alike."""
    p, q = tb.tensor([0.2, 0.5, 0.3], dtype=tb.float64, requires_grad=True), \
        tb.tensor([0.4, 0.4, 0.2], dtype=tb.float64, requires_grad=True)
    assert tb.gradcheck(lambda a, b: D.kl_divergence(D.Categorical(a), D.Categorical(b)), (p, q))
    assert tb.gradcheck(lambda a, b: D.kl_divergence(D.Bernoulli(a), D.Bernoulli(b)), (p, q))
    assert tb.gradcheck(lambda a, b: D.kl_divergence(D.Bernoulli(logits=a), D.Bernoulli(logits=b)), (p, q))
    assert tb.gradcheck(lambda a, b: D.kl_divergence(D.Normal(a, b), D.Normal(b, a)), (p, q))
    assert tb.gradcheck(lambda a, b: D.kl_divergence(D.Uniform(a - 1, a + b), D.Uniform(-b - 1, b + 2)), (p, q))


def test_log_prob_entropy_gradcheck():
    a = tb.tensor([[0.2, 1.5, -0.3], [2.0, -1.0, 0.1]], dtype=tb.float64, requires_grad=True)
    s = tb.tensor([0.7, 1.1, 0.4], dtype=tb.float64, requires_grad=True)
    x = tb.tensor([[0.5, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=tb.float64)
    assert tb.gradcheck(lambda z: D.Categorical(logits=z).entropy(), (a,))
    assert tb.gradcheck(lambda z: D.Categorical(logits=z).log_prob(tb.tensor([2, 0])), (a,))
    assert tb.gradcheck(lambda z: D.Categorical(probs=z.exp()).entropy(), (a,))
    assert tb.gradcheck(lambda z: D.Bernoulli(logits=z).log_prob(x.round()), (a,))
    assert tb.gradcheck(lambda z: D.Bernoulli(probs=z.sigmoid()).entropy(), (a,))
    assert tb.gradcheck(lambda z, w: D.Normal(z, w).log_prob(x), (a, s))
    assert tb.gradcheck(lambda w: D.Normal(0.0, w).entropy(), (s,))


def test_kl_not_implemented_and_registry():
    n, c = D.Normal(tb.zeros(2), tb.ones(2)), D.Categorical(tb.ones(3))
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q "
                                                  "type Categorical"):
        D.kl_divergence(n, c)
    with pytest.raises(NotImplementedError, match="No KL"):
        TD.kl_divergence(TD.Normal(torch.zeros(2), torch.ones(2)), TD.Categorical(torch.ones(3)))
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Independent(D.Normal(tb.zeros(2, 2), tb.ones(2, 2)), 1),
                        D.Independent(D.Normal(tb.zeros(2, 2), tb.ones(2, 2)), 2))
    with pytest.raises(TypeError):
        D.register_kl(1, D.Normal)
    with pytest.raises(TypeError):
        TD.register_kl(1, TD.Normal)

    class MyNormal(D.Normal):
        pass

    close(D.kl_divergence(MyNormal(tb.zeros(2), tb.ones(2)), n), np.zeros(2, np.float32))  # the parent's rule

    @D.register_kl(MyNormal, D.Normal)
    def _mine(p, q):
        return tb.full(p.batch_shape, 7.0)

    assert D.kl_divergence(MyNormal(tb.zeros(2), tb.ones(2)), n).tolist() == [7.0, 7.0]

    class Other(D.Normal):
        pass

    @D.register_kl(D.Normal, Other)
    def _other(p, q):
        return tb.zeros(p.batch_shape)

    with pytest.warns(RuntimeWarning, match="Ambiguous kl_divergence\\(MyNormal, Other\\)"):
        D.kl_divergence(MyNormal(tb.zeros(2), tb.ones(2)), Other(tb.zeros(2), tb.ones(2)))


# ---------------------------------------------------------------- validation
def same_error(ours, theirs, error=ValueError, upto=None):
    """Both raise ``error`` with the same message (the part before ``upto`` when given)."""
    with pytest.raises(error) as a:
        ours()
    with pytest.raises(error) as b:
        theirs()
    assert str(a.value).split(upto)[0] == str(b.value).split(upto)[0] if upto else str(a.value) == str(b.value)


def test_parameter_validation_messages():
    same_error(lambda: D.Normal(tb.zeros(2), -tb.ones(2)), lambda: TD.Normal(torch.zeros(2), -torch.ones(2)))
    same_error(lambda: D.Normal(tb.tensor([0.0, float("nan")]), tb.ones(2)),  # tensor reprs space nan apart
               lambda: TD.Normal(torch.tensor([0.0, float("nan")]), torch.ones(2)), upto="tensor(")
    same_error(lambda: D.Categorical(tb.tensor([0.5, -0.1])), lambda: TD.Categorical(torch.tensor([0.5, -0.1])))
    same_error(lambda: D.Bernoulli(tb.tensor([1.5])), lambda: TD.Bernoulli(torch.tensor([1.5])))
    same_error(lambda: D.Bernoulli(logits=tb.tensor([float("nan")])),
               lambda: TD.Bernoulli(logits=torch.tensor([float("nan")])))
    same_error(lambda: D.Uniform(tb.ones(2), tb.zeros(2)), lambda: TD.Uniform(torch.ones(2), torch.zeros(2)))
    same_error(lambda: D.Categorical(), lambda: TD.Categorical())
    same_error(lambda: D.Categorical(tb.ones(2), tb.ones(2)), lambda: TD.Categorical(torch.ones(2), torch.ones(2)))
    same_error(lambda: D.Categorical(tb.tensor(1.0)), lambda: TD.Categorical(torch.tensor(1.0)))
    same_error(lambda: D.Categorical(logits=tb.tensor(1.0)), lambda: TD.Categorical(logits=torch.tensor(1.0)))
    same_error(lambda: D.Bernoulli(), lambda: TD.Bernoulli())
    same_error(lambda: D.OneHotCategorical(tb.tensor([-1.0, 2.0])),
               lambda: TD.OneHotCategorical(torch.tensor([-1.0, 2.0])))


def test_value_validation_messages():
    n, tn = D.Normal(tb.zeros(2), tb.ones(2)), TD.Normal(torch.zeros(2), torch.ones(2))
    same_error(lambda: n.log_prob(tb.zeros(3)), lambda: tn.log_prob(torch.zeros(3)))
    same_error(lambda: n.log_prob([0.0, 1.0]), lambda: tn.log_prob([0.0, 1.0]))
    c, tc = D.Categorical(tb.tensor([0.5, 0.5])), TD.Categorical(torch.tensor([0.5, 0.5]))
    same_error(lambda: c.log_prob(tb.tensor(2.0)), lambda: tc.log_prob(torch.tensor(2.0)))
    same_error(lambda: c.log_prob(tb.tensor([0.5])), lambda: tc.log_prob(torch.tensor([0.5])))
    b, tbern = D.Bernoulli(tb.tensor([0.5, 0.2])), TD.Bernoulli(torch.tensor([0.5, 0.2]))
    same_error(lambda: b.log_prob(tb.tensor([0.5, 1.0])), lambda: tbern.log_prob(torch.tensor([0.5, 1.0])))
    o, to = D.OneHotCategorical(tb.tensor([0.5, 0.5])), TD.OneHotCategorical(torch.tensor([0.5, 0.5]))
    same_error(lambda: o.log_prob(tb.tensor([1.0, 1.0])), lambda: to.log_prob(torch.tensor([1.0, 1.0])))
    same_error(lambda: o.log_prob(tb.tensor([1.0, 0.0, 0.0])), lambda: to.log_prob(torch.tensor([1.0, 0.0, 0.0])))
    u, tu = D.Uniform(0.0, 1.0), TD.Uniform(0.0, 1.0)
    same_error(lambda: u.log_prob(tb.tensor(1.5)), lambda: tu.log_prob(torch.tensor(1.5)))


def test_validate_args_switches(validation):
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")
    bad = D.Normal(tb.zeros(1), -tb.ones(1), validate_args=False)  # no check
    assert np.isnan(bad.log_prob(tb.zeros(1)).item())
    D.Distribution.set_default_validate_args(False)
    TD.Distribution.set_default_validate_args(False)
    c, tc = D.Categorical(tb.tensor([0.5, 0.5])), TD.Categorical(torch.tensor([0.5, 0.5]))
    close(c.log_prob(tb.tensor(0.5)), tc.log_prob(torch.tensor(0.5)))  # not checked: truncated to class 0
    D.Normal(tb.zeros(1), -tb.ones(1))
    D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match="GreaterThan"):
        D.Normal(tb.zeros(1), -tb.ones(1))
    with pytest.raises(ValueError, match="constraint"):
        D.Normal(tb.zeros(1), tb.zeros(1), validate_args=True)


def test_base_class_and_constraints():
    d = D.Distribution(batch_shape=(2,), event_shape=(3,), validate_args=False)
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    for attr in ("mean", "variance", "mode"):
        with pytest.raises(NotImplementedError):
            getattr(d, attr)
    with pytest.raises(NotImplementedError):
        d.rsample()
    with pytest.raises(NotImplementedError):
        D.Categorical(tb.ones(2)).rsample()
    with pytest.raises(TypeError):
        D.Normal(0.0, 1.0).sample(5)
    with pytest.raises(TypeError):
        TD.Normal(0.0, 1.0).sample(5)
    C, TC = D.constraints, TD.constraints
    assert repr(C.dependent) == repr(TC.dependent)
    with pytest.raises(NotImplementedError):
        C.dependent.event_dim
    for name in ("real", "real_vector", "positive", "unit_interval", "simplex", "boolean", "one_hot"):
        assert repr(getattr(C, name)) == repr(getattr(TC, name))
        assert getattr(C, name).event_dim == getattr(TC, name).event_dim
        assert getattr(C, name).is_discrete == getattr(TC, name).is_discrete
    assert repr(C.integer_interval(0, 3)) == repr(TC.integer_interval(0, 3))
    x = np.array([[0.2, 0.8], [0.5, 0.6], [1.0, 0.0]])
    for name in ("real", "positive", "unit_interval", "simplex", "boolean", "one_hot", "real_vector"):
        assert getattr(C, name).check(tb.tensor(x)).tolist() == getattr(TC, name).check(torch.tensor(x)).tolist()
    assert C.independent(C.positive, 1).check(tb.tensor(x)).tolist() == \
        TC.independent(TC.positive, 1).check(torch.tensor(x)).tolist()


def test_reachable_without_numba():
    import subprocess
    import sys
    code = "import sys, tinybptt; tinybptt.distributions.Normal; tinybptt.utils.checkpoint.checkpoint; " \
           "print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__file__.rsplit("/tests/", 1)[0])
    assert out.stdout.strip() == "False"


def test_vae_style_elbo_gradients_match_torch():
    """A Gaussian encoder's KL to the prior plus a Bernoulli decoder's log-likelihood, as in a VAE: values
    and parameter gradients against torch, with rsample's noise taken from tinybptt and fed to both."""
    rng = np.random.default_rng(7)
    (mu, logvar, w), (tmu, tlogvar, tw) = tensors(rng.standard_normal((3, 2)), rng.standard_normal((3, 2)) * 0.3,
                                                  rng.standard_normal((2, 4)))
    x = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float64)
    q = D.Normal(mu, (0.5 * logvar).exp())
    z = q.rsample()
    eps = (z.detach().numpy() - mu.detach().numpy()) / np.exp(0.5 * logvar.detach().numpy())
    tq = TD.Normal(tmu, (0.5 * tlogvar).exp())
    tz = tmu + torch.tensor(eps) * tq.scale
    prior, tprior = D.Normal(tb.zeros(3, 2, dtype=tb.float64), tb.ones(3, 2, dtype=tb.float64)), \
        TD.Normal(torch.zeros(3, 2, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64))
    loss = D.kl_divergence(q, prior).sum() - D.Bernoulli(logits=z @ w).log_prob(tb.tensor(x)).sum()
    tloss = TD.kl_divergence(tq, tprior).sum() - TD.Bernoulli(logits=tz @ tw).log_prob(torch.tensor(x)).sum()
    close(loss, tloss, 1e-10)
    loss.backward()
    tloss.backward()
    for a, b in ((mu, tmu), (logvar, tlogvar), (w, tw)):
        close(a.grad, b.grad, 1e-10)
    assert math.isfinite(loss.item())


def test_sample_n_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert D.Normal(0.0, 1.0).sample_n(4).shape == (4,)
    assert any("sample_n" in str(w.message) for w in caught)


def test_float32_parity():
    """float32 parameters give float32 results close to torch's (to float32 rounding)."""
    rng = np.random.default_rng(9)
    logits, loc, scale = (rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32),
                          rng.uniform(0.5, 2, 4).astype(np.float32))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    pairs = [
        (D.Categorical(logits=tb.tensor(logits)).entropy(), TD.Categorical(logits=torch.tensor(logits)).entropy()),
        (D.Categorical(logits=tb.tensor(logits)).log_prob(tb.tensor([0, 3, 1])),
         TD.Categorical(logits=torch.tensor(logits)).log_prob(torch.tensor([0, 3, 1]))),
        (D.Bernoulli(logits=tb.tensor(logits)).entropy(), TD.Bernoulli(logits=torch.tensor(logits)).entropy()),
        (D.Normal(tb.tensor(loc), tb.tensor(scale)).log_prob(tb.tensor(x)),
         TD.Normal(torch.tensor(loc), torch.tensor(scale)).log_prob(torch.tensor(x))),
        (D.kl_divergence(D.Normal(tb.tensor(loc), tb.tensor(scale)),
                         D.Normal(tb.tensor(x[0]), tb.tensor(scale[::-1].copy()))),
         TD.kl_divergence(TD.Normal(torch.tensor(loc), torch.tensor(scale)),
                          TD.Normal(torch.tensor(x[0]), torch.tensor(scale[::-1].copy())))),
    ]
    for a, b in pairs:
        assert a.dtype == np.float32
        close(a, b, 2e-6)
