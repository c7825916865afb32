"""Optimizers against hand-written numpy updates; param groups, state_dict, schedulers, errors."""
import math

import numpy as np
import pytest

import tinybptt as tb
import tinybptt.optim
from tinybptt import nn, optim
from tinybptt.optim import lr_scheduler

SHAPES = [(3, 4), (5,)]


def make_params(rng, dtype=np.float64):
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]


def grad_stream(rng, steps, dtype=np.float64):
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def run(opt, params, grads):
    """Set each step's grads by hand and step; returns the parameter arrays."""
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = g.copy()
        opt.step()
    return [p.detach().numpy().copy() for p in params]


# ---------------------------------------------------------------- numpy references, written from the papers
def sgd_ref(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    p, buf = p.copy(), None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p


def adam_ref(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    p, m, v, vmax = p.copy(), 0.0, 0.0, 0.0
    b1, b2 = betas
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def rmsprop_ref(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    p, v, gbar, buf = p.copy(), 0.0, 0.0, 0.0
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            denom = np.sqrt(v - gbar * gbar) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
    return p


CASES = [
    (optim.SGD, sgd_ref, dict(lr=0.1)),
    (optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.9, dampening=0.5)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.8, nesterov=True)),
    (optim.SGD, sgd_ref, dict(lr=0.05, weight_decay=0.1)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True)),
    (optim.Adam, adam_ref, dict()),
    (optim.Adam, adam_ref, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6)),
    (optim.Adam, adam_ref, dict(lr=0.01, weight_decay=0.1)),
    (optim.Adam, adam_ref, dict(lr=0.01, amsgrad=True)),
    (optim.Adam, adam_ref, dict(lr=0.01, maximize=True)),
    (optim.RMSprop, rmsprop_ref, dict()),
    (optim.RMSprop, rmsprop_ref, dict(alpha=0.9, eps=1e-3)),
    (optim.RMSprop, rmsprop_ref, dict(weight_decay=0.1)),
    (optim.RMSprop, rmsprop_ref, dict(momentum=0.9)),
    (optim.RMSprop, rmsprop_ref, dict(centered=True)),
    (optim.RMSprop, rmsprop_ref, dict(centered=True, momentum=0.5, maximize=True)),
]


@pytest.mark.parametrize("cls,ref,kw", CASES, ids=[f"{c.__name__}-{k}" for c, _, k in CASES])
def test_matches_numpy_reference(rng, cls, ref, kw):
    params = make_params(rng)
    init = [p.detach().numpy().copy() for p in params]
    grads = grad_stream(rng, 6)
    got = run(cls(params, **kw), params, grads)
    for i, a in enumerate(got):
        np.testing.assert_allclose(a, ref(init[i], [g[i] for g in grads], **kw), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.1, amsgrad=True), dict(lr=0.01, maximize=True)])
def test_adamw_decoupled_decay(rng, kw):
    params = make_params(rng)
    init = [p.detach().numpy().copy() for p in params]
    grads = grad_stream(rng, 5)
    got = run(optim.AdamW(params, **kw), params, grads)
    kw = dict(kw, weight_decay=kw.get("weight_decay", 1e-2))  # AdamW's default decay is 1e-2
    for i, a in enumerate(got):
        np.testing.assert_allclose(a, adam_ref(init[i], [g[i] for g in grads], decoupled=True, **kw), rtol=1e-12)


def test_sgd_first_momentum_buffer_is_the_gradient():
    p = nn.Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.5, momentum=0.9, dampening=0.5)
    p.grad = np.array([1.0, -1.0])
    opt.step()  # buf = g (no dampening on the first step)
    np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], [1.0, -1.0])
    np.testing.assert_array_equal(p.detach().numpy(), [0.5, 2.5])
    opt.step()  # buf = 0.9 * g + 0.5 * g
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.4, -1.4])
    np.testing.assert_allclose(p.detach().numpy(), [0.5 - 0.7, 2.5 + 0.7])


def test_adam_first_step_moves_each_weight_by_lr():
    # bias correction makes the first step lr * g / (|g| + eps') = lr * sign(g)
    p = nn.Parameter(np.array([1.0, -2.0, 3.0]))
    opt = optim.Adam([p], lr=0.1, eps=0.0)
    p.grad = np.array([0.3, -5.0, 1e-3])
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, -1.9, 2.9], rtol=1e-12)
    assert float(opt.state[p]["step"]) == 1.0


def test_rmsprop_eps_outside_sqrt():
    p = nn.Parameter(np.array([0.0]))
    opt = optim.RMSprop([p], lr=1.0, alpha=0.0, eps=0.5)
    p.grad = np.array([2.0])
    opt.step()  # v = g^2 = 4, denom = sqrt(4) + 0.5 = 2.5 (not sqrt(4.5))
    np.testing.assert_allclose(p.detach().numpy(), [-2.0 / 2.5])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_float32_stays_float32_and_version_bumps(rng, cls):
    params = make_params(rng, np.float32)
    opt = cls(params, lr=0.01)
    versions = [p._version for p in params]
    run(opt, params, grad_stream(rng, 2, np.float32))
    for p, v in zip(params, versions):
        assert p.dtype == np.float32 and p._version == v + 2
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray) and value.ndim:
                assert value.dtype == np.float32


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_params_without_grad_are_skipped(rng, cls):
    a, b = make_params(rng)
    before = b.detach().numpy().copy()
    opt = cls([a, b], lr=0.1, weight_decay=0.1)
    a.grad = np.ones(a.shape)
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), before)
    assert b not in opt.state and b._version == 0
    assert not np.allclose(a.detach().numpy(), 0)


def test_sgd_without_momentum_keeps_no_state(rng):
    params = make_params(rng)
    opt = optim.SGD(params, lr=0.1)
    run(opt, params, grad_stream(rng, 2))
    assert opt.state_dict()["state"] == {}


def test_step_through_autograd_reduces_loss(rng):
    x = tb.tensor(rng.standard_normal((64, 3)))
    y = tb.tensor(x.numpy() @ np.array([[1.0], [-2.0], [0.5]]) + 0.3)
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.05)):
        model = nn.Linear(3, 1, dtype=tb.float64)
        opt, first = make(model.parameters()), None
        for _ in range(150):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
        assert loss.item() < 1e-3 * first


def test_zero_grad(rng):
    params = make_params(rng)
    opt = optim.SGD(params)
    for p in params:
        p.grad = np.ones(p.shape)
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not grad.numpy().any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_closure_runs_with_grad_enabled_and_returns_loss():
    p = nn.Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tb.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.detach().numpy(), [3.0 - 0.25 * 6.0])
    assert opt.step() is None


def test_param_groups_have_their_own_options(rng):
    a, b = make_params(rng)
    a0, b0 = a.detach().numpy().copy(), b.detach().numpy().copy()
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    a.grad, b.grad = np.ones(a.shape), np.ones(b.shape)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), a0 - 0.1)
    np.testing.assert_allclose(b.detach().numpy(), b0 - 0.5)


def test_add_param_group_and_named_params(rng):
    a, b = make_params(rng)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    named = optim.SGD([("w", a), ("v", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "v"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w", "v"]


@pytest.mark.parametrize("make,err,msg", [
    (lambda p: optim.SGD(p, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda p: optim.SGD(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, nesterov=True), ValueError, "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda p: optim.Adam(p, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda p: optim.Adam(p, eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), ValueError, r"Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), ValueError, r"Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.AdamW(p, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), ValueError, "Invalid alpha value: -0.5"),
    (lambda p: optim.RMSprop(p, momentum=-1), ValueError, "Invalid momentum value: -1"),
    (lambda p: optim.RMSprop(p, eps=-1), ValueError, "Invalid epsilon value: -1"),
    (lambda p: optim.Adagrad(p, lr_decay=-1.0), ValueError, "Invalid lr_decay value: -1.0"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-2.0), ValueError,
     "Invalid initial_accumulator_value value: -2.0"),
    (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: optim.SGD(p[0], lr=0.1), TypeError, "iterable of Tensors or dicts"),
    (lambda p: optim.SGD([{"params": set(p)}], lr=0.1), TypeError, "ordered collections"),
    (lambda p: optim.SGD([p[0], 3.0], lr=0.1), TypeError, "can only optimize Tensors, but one of the params is float"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
])
def test_bad_arguments(rng, make, err, msg):
    with pytest.raises(err, match=msg):
        make(make_params(rng))


def test_state_dict_layout(rng):
    a, b = make_params(rng)
    c = nn.Parameter(np.zeros(2))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], amsgrad=True)
    a.grad, c.grad = np.ones(a.shape), np.ones(c.shape)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(sd["state"]) == {0, 2}  # b had no grad, so no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert float(sd["state"][0]["step"]) == 1.0
    sd["state"][0]["exp_avg"][...] = 123.0  # as in torch, the optimizer's own state, not a copy
    assert (opt.state[a]["exp_avg"] == 123.0).all()
    sd["param_groups"][1]["lr"] = 9.0  # but the groups are copies
    assert opt.param_groups[1]["lr"] == 0.5


@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                                    (optim.Adam, dict(lr=0.01, amsgrad=True)),
                                    (optim.AdamW, dict(lr=0.01)),
                                    (optim.RMSprop, dict(momentum=0.5, centered=True))])
def test_state_dict_round_trip_continues_identically(rng, cls, kw, tmp_path):
    params = make_params(rng)
    grads = grad_stream(rng, 8)
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **kw)
    run(opt, params, grads[:4])
    tb.save({"params": [p.detach().numpy() for p in params], "optim": opt.state_dict()}, tmp_path / "ckpt")
    expected = run(opt, params, grads[4:])

    ckpt = tb.load(tmp_path / "ckpt")
    fresh = [nn.Parameter(a) for a in ckpt["params"]]
    opt2 = cls([{"params": fresh[:1]}, {"params": fresh[1:]}], lr=0.5)  # lr comes back from the checkpoint
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.param_groups[1]["lr"] == 0.02
    for got, want in zip(run(opt2, fresh, grads[4:]), expected):
        np.testing.assert_array_equal(got, want)


def test_load_state_dict_mismatch_errors(rng):
    a, b = make_params(rng)
    sd = optim.SGD([a, b]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a]).load_state_dict(sd)


def test_load_state_dict_casts_to_param_dtype(rng):
    p = nn.Parameter(np.zeros(3, np.float32))
    opt = optim.Adam([p])
    sd = {"state": {0: {"step": 4, "exp_avg": np.ones(3), "exp_avg_sq": np.ones(3)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(sd)
    assert opt.state[p]["exp_avg"].dtype == np.float32
    assert opt.state[p]["step"].dtype == np.float32 and float(opt.state[p]["step"]) == 4.0


def test_repr_lists_groups(rng):
    text = repr(optim.SGD(make_params(rng), lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text


def test_import_forms():
    assert tinybptt.optim is optim and tb.optim.Adam is optim.Adam
    assert tb.optim.lr_scheduler is lr_scheduler


# ---------------------------------------------------------------- schedulers
def test_step_lr(rng):
    opt = optim.SGD(make_params(rng), lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(lrs, [0.5 ** (e // 3) for e in range(8)])
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_exponential_and_lambda_lr(rng):
    opt = optim.SGD([{"params": make_params(rng)[:1]}, {"params": make_params(rng)[1:], "lr": 2.0}], lr=1.0)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.9)
    for _ in range(5):
        opt.step()  # (a no-op without grads) keeps the scheduler from warning
        sched.step()
    np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [0.9 ** 5, 2 * 0.9 ** 5])

    opt = optim.Adam([{"params": make_params(rng)[:1]}, {"params": make_params(rng)[1:], "lr": 2.0}], lr=1.0)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1 / (e + 1), lambda e: math.cos(e)])
    for _ in range(4):
        opt.step()  # (a no-op without grads) keeps the scheduler from warning
        sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [1 / 5, 2 * math.cos(4)])
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_scheduler_state_dict_resumes(rng):
    opt = optim.SGD(make_params(rng), lr=1.0)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        opt.step()  # (a no-op without grads) keeps the scheduler from warning
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    opt2 = optim.SGD(make_params(rng), lr=1.0)
    sched2 = lr_scheduler.StepLR(opt2, step_size=2, gamma=0.1)
    sched2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    opt2.step()
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD(make_params(rng)), step_size=2, last_epoch=4)


@pytest.mark.parametrize("cls,kw", [(optim.SGD, dict(momentum=0.9, weight_decay=0.1, maximize=True)),
                                    (optim.Adam, dict(weight_decay=0.1, amsgrad=True)),
                                    (optim.RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1))])
def test_step_leaves_gradients_untouched(rng, cls, kw):
    params = make_params(rng)
    grads = grad_stream(rng, 1)[0]
    opt = cls(params, lr=0.1, **kw)
    for _ in range(2):
        for p, g in zip(params, grads):
            p.grad = g.copy()
        opt.step()
        for p, g in zip(params, grads):
            np.testing.assert_array_equal(p.grad.numpy(), g)
