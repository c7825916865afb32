"""Second audit of optimizers, learning-rate schedulers and gradient clipping against torch 2.13: groups
added mid-run with their own options, per-group hyper-parameters, maximize, the foreach/fused/capturable
argument rules, closures, state_dict round trips mid-run, scheduler compositions and state_dicts, and
clipping with missing gradients."""
import math
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, optim
from tinybptt.nn.utils import clip_grad_norm_, clip_grad_value_
from tinybptt.optim import lr_scheduler

TL = torch.optim.lr_scheduler
SHAPES = [(3, 2), (4,), (2, 2), ()]


def make(seed=0):
    """The same float64 parameters as torch leaves and as tinybptt Parameters."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    return [torch.tensor(a, requires_grad=True) for a in init], [nn.Parameter(a.copy()) for a in init]


def set_grads(theirs, ours, step, missing=()):
    """A deterministic gradient of each parameter's current value (a pull to zero plus a wobble)."""
    for i, (t, o) in enumerate(zip(theirs, ours)):
        if i in missing:
            t.grad, o.grad = None, None
            continue
        a = t.detach().numpy()
        g = 0.7 * a + np.sin(3.0 * a + step + i)
        t.grad, o.grad = torch.tensor(g), tb.tensor(g.copy())


def assert_params(theirs, ours, rtol=1e-10, atol=1e-12):
    for t, o in zip(theirs, ours):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


def assert_state(topt, oopt):
    """Same state keys per parameter and values close."""
    tsd, osd = topt.state_dict(), oopt.state_dict()
    assert sorted(tsd["state"]) == sorted(osd["state"])
    for k, ts in tsd["state"].items():
        os_ = osd["state"][k]
        assert sorted(ts) == sorted(os_), k
        for key, v in ts.items():
            np.testing.assert_allclose(np.asarray(os_[key], np.float64),
                                       v.detach().double().numpy() if isinstance(v, torch.Tensor) else v,
                                       rtol=1e-10, atol=1e-12, err_msg=key)


def ours_kw(kw):
    """The same keyword arguments with torch tensors made ours."""
    conv = lambda v: tb.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v
    return {k: tuple(conv(x) for x in v) if isinstance(v, tuple) else conv(v) for k, v in kw.items()}


def run(name, kw, steps=15, groups=None, missing=lambda step: (), add=None, closure=False):
    """Step torch's and our ``name`` optimizers side by side ``steps`` times, comparing the parameters after
    every step; ``add=(at, options)`` adds the last two parameters as a group with ``options`` at step ``at``."""
    theirs, ours = make()
    split = 2 if add else len(SHAPES)
    if groups is None:
        tp, op = theirs[:split], ours[:split]
    else:
        tp = [{"params": theirs[:2], **groups[0]}, {"params": theirs[2:split] if add is None else [], **groups[1]}]
        op = [{"params": ours[:2], **ours_kw(groups[0])},
              {"params": ours[2:split] if add is None else [], **ours_kw(groups[1])}]
        if add is not None:
            tp, op = tp[:1], op[:1]
    topt = getattr(torch.optim, name)(tp, **kw)
    oopt = getattr(optim, name)(op, **ours_kw(kw))
    for step in range(steps):
        if add is not None and step == add[0]:
            topt.add_param_group({"params": theirs[2:], **add[1]})
            oopt.add_param_group({"params": ours[2:], **ours_kw(add[1])})
        set_grads(theirs, ours, step, missing(step))
        if closure:
            tl = topt.step(lambda: torch.tensor(float(step)))
            ol = oopt.step(lambda: tb.tensor(float(step)))
            assert float(ol) == float(tl)
        else:
            assert topt.step() is None and oopt.step() is None
        assert_params(theirs, ours)
    assert_state(topt, oopt)
    return theirs, ours, topt, oopt


# ------------------------------------------------------------------ per-group options and groups added mid-run
GROUPED = [
    ("SGD", dict(lr=0.05), [dict(momentum=0.9, nesterov=True), dict(momentum=0.5, dampening=0.3, weight_decay=0.1)]),
    ("Adam", dict(lr=0.01), [dict(betas=(0.8, 0.9)), dict(amsgrad=True, weight_decay=0.1, lr=0.03)]),
    ("AdamW", dict(lr=0.01), [dict(weight_decay=0.5), dict(amsgrad=True, betas=(0.5, 0.99))]),
    ("RMSprop", dict(lr=0.01), [dict(centered=True, momentum=0.5), dict(alpha=0.9, weight_decay=0.1)]),
    ("Adagrad", dict(lr=0.1), [dict(lr_decay=0.1), dict(weight_decay=0.2, eps=1e-3)]),
    ("NAdam", dict(lr=0.01), [dict(momentum_decay=0.01), dict(decoupled_weight_decay=True, weight_decay=0.1)]),
    ("RAdam", dict(lr=0.01), [dict(betas=(0.8, 0.9)), dict(decoupled_weight_decay=True, weight_decay=0.1)]),
    ("Adamax", dict(lr=0.01), [dict(betas=(0.5, 0.9)), dict(weight_decay=0.1, eps=1e-3)]),
    ("Adadelta", dict(lr=0.5), [dict(rho=0.5), dict(weight_decay=0.1, eps=1e-3)]),
    ("Rprop", dict(lr=0.01), [dict(etas=(0.3, 1.5)), dict(step_sizes=(1e-3, 0.02), lr=0.05)]),
    ("ASGD", dict(lr=0.01), [dict(t0=3, lambd=0.01), dict(alpha=0.5, weight_decay=0.1)]),
]
GIDS = [g[0] for g in GROUPED]


@pytest.mark.parametrize("name,kw,groups", GROUPED, ids=GIDS)
def test_per_group_options_like_torch(name, kw, groups):
    run(name, kw, groups=groups)


@pytest.mark.parametrize("name,kw,groups", GROUPED, ids=GIDS)
def test_group_added_after_some_steps_with_its_own_options_like_torch(name, kw, groups):
    run(name, kw, groups=groups, add=(5, groups[1]), steps=14)


@pytest.mark.parametrize("name,kw,groups", GROUPED, ids=GIDS)
def test_maximize_and_missing_grads_and_closure_like_torch(name, kw, groups):
    """maximize=True, parameters without .grad at some steps (skipped, state untouched), step(closure)."""
    run(name, dict(kw, maximize=True), groups=groups, closure=True,
        missing=lambda step: {step % 4} if step % 3 else ())


@pytest.mark.parametrize("name,kw,groups", GROUPED, ids=GIDS)
def test_state_dict_round_trip_mid_run_continues_like_torch(name, kw, groups):
    """Ours saved after 6 steps and loaded into a fresh optimizer continues exactly like torch's uninterrupted run;
    so does ours loaded from torch's own state_dict."""
    theirs, ours, topt, oopt = run(name, kw, groups=groups, steps=6)
    _, fresh = make()
    for f, o in zip(fresh, ours):
        f._data[...] = o._data
    fresh2 = [nn.Parameter(o.detach().numpy().copy()) for o in ours]
    g = [{"params": fresh[:2], **ours_kw(groups[0])}, {"params": fresh[2:], **ours_kw(groups[1])}]
    g2 = [{"params": fresh2[:2], **ours_kw(groups[0])}, {"params": fresh2[2:], **ours_kw(groups[1])}]
    o2, o3 = getattr(optim, name)(g, **ours_kw(kw)), getattr(optim, name)(g2, **ours_kw(kw))
    o2.load_state_dict(oopt.state_dict())
    tsd = topt.state_dict()
    o3.load_state_dict({"state": {k: {kk: vv.numpy().copy() if isinstance(vv, torch.Tensor) else vv
                                      for kk, vv in v.items()} for k, v in tsd["state"].items()},
                        "param_groups": tsd["param_groups"]})
    for step in range(6, 16):
        set_grads(theirs, fresh, step)
        for f2, f in zip(fresh2, fresh):
            f2.grad = f.grad.clone()
        topt.step(), o2.step(), o3.step()
        assert_params(theirs, fresh)
        assert_params(theirs, fresh2)


@pytest.mark.parametrize("name,kw,groups", GROUPED, ids=GIDS)
def test_zero_grad_set_to_none_false_then_step_like_torch(name, kw, groups):
    """Zeroed (not None) gradients still step: the state counts the step, as in torch."""
    theirs, ours = make()
    topt = getattr(torch.optim, name)(theirs, **kw)
    oopt = getattr(optim, name)(ours, **ours_kw(kw))
    for step in range(8):
        set_grads(theirs, ours, step)
        if step % 3 == 2:
            topt.zero_grad(set_to_none=False)
            oopt.zero_grad(set_to_none=False)
            assert all(o.grad is not None and not o.grad.numpy().any() for o in ours)
        topt.step(), oopt.step()
        assert_params(theirs, ours)
    assert_state(topt, oopt)


def test_sgd_momentum_with_dampening_and_weight_decay_as_tensors_like_torch():
    run("SGD", dict(lr=torch.tensor(0.05), momentum=0.9, dampening=0.2, weight_decay=0.01))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax",
                                  "Adadelta", "Rprop", "ASGD"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_zero_dim_tensor_lr_like_torch(name, dtype):
    """A 0-d tensor lr; a float32 one with float64 parameters rounds torch's lr-derived numbers (Adam's
    lr / (1 - beta1^t), AdamW's 1 - lr wd, ASGD's eta) to float32, and ours alike."""
    kw = dict(lr=torch.tensor(0.0123, dtype=dtype), **({"weight_decay": 0.1} if name != "Rprop" else {}))
    theirs, ours, topt, oopt = run(name, kw, steps=10)
    assert isinstance(oopt.param_groups[0]["lr"], tb.Tensor)


GROUPED_MORE = GROUPED + [("Adafactor", dict(lr=0.01), [dict(beta2_decay=-0.5), dict(d=2.0)]),
                          ("LBFGS", dict(lr=0.5), [dict(), dict(max_iter=5, history_size=7)])]


@pytest.mark.parametrize("name,kw,groups", GROUPED_MORE, ids=[g[0] for g in GROUPED_MORE])
def test_repr_and_param_groups_after_add_param_group_like_torch(name, kw, groups):
    """The saved param_groups (keys in torch's order, values) and repr (a blank line between groups)."""
    theirs, ours = make()
    topt = getattr(torch.optim, name)([{"params": theirs[:2], **groups[0]}], **kw)
    oopt = getattr(optim, name)([{"params": ours[:2], **ours_kw(groups[0])}], **ours_kw(kw))
    topt.add_param_group({"params": theirs[2:], **groups[1]})
    oopt.add_param_group({"params": ours[2:], **ours_kw(groups[1])})
    tg, og = topt.state_dict()["param_groups"], oopt.state_dict()["param_groups"]
    assert [list(g) for g in og] == [list(g) for g in tg]
    assert og == tg
    assert repr(oopt) == repr(topt)


# ------------------------------------------------------------------ argument rules
def raises_like(fn_torch, fn_ours, match=None):
    """Both raise the same exception type (ours matching ``match``, default: torch's message)."""
    with pytest.raises(Exception) as t:
        fn_torch()
    with pytest.raises(type(t.value), match=match or None) as o:
        fn_ours()
    if match is None:
        assert str(o.value) == str(t.value)


FLAG_ERRORS = [
    (name, kw) for name in ("SGD", "Adam", "AdamW", "Adagrad")
    for kw in (dict(fused=True, foreach=True), dict(fused=True, differentiable=True))
] + [(name, dict(lr=torch.tensor(0.01), foreach=True)) for name in ("Adam", "AdamW")]


@pytest.mark.parametrize("name,kw", FLAG_ERRORS, ids=[f"{n}-{sorted(k)}" for n, k in FLAG_ERRORS])
def test_fused_foreach_differentiable_combinations_refused_like_torch(name, kw):
    raises_like(lambda: getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw),
                lambda: getattr(optim, name)([nn.Parameter(np.zeros(2))], **ours_kw(kw)))


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, fused=True)), ("Adam", dict(fused=True)),
                                     ("AdamW", dict(fused=True, amsgrad=True)), ("Adagrad", dict(fused=True)),
                                     ("Adam", dict(foreach=True)), ("RMSprop", dict(foreach=True)),
                                     ("Adam", dict(lr=torch.tensor(0.01), foreach=False))])
def test_fused_and_foreach_accepted_on_cpu_like_torch(name, kw):
    run(name, kw, steps=8)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "NAdam", "RAdam", "Adamax", "Adadelta", "Rprop",
                                  "ASGD"])
def test_capturable_on_cpu_is_refused_at_step_like_torch(name):
    t = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], capturable=True)
    o = getattr(optim, name)([nn.Parameter(np.zeros(2))], capturable=True)
    t.step(), o.step()  # no gradient: nothing to check
    t.param_groups[0]["params"][0].grad = torch.ones(2)
    o.param_groups[0]["params"][0].grad = tb.ones(2, dtype=tb.float64)
    raises_like(t.step, o.step)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax",
                                  "Adadelta", "Rprop", "ASGD"])
def test_differentiable_step_of_a_leaf_is_refused_like_torch(name):
    """torch steps a differentiable optimizer with grad enabled, so the in-place update of a leaf is refused."""
    t = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], lr=0.1, differentiable=True)
    o = getattr(optim, name)([nn.Parameter(np.zeros(2))], lr=0.1, differentiable=True)
    t.step(), o.step()  # no gradient: nothing to update
    t.param_groups[0]["params"][0].grad = torch.ones(2)
    o.param_groups[0]["params"][0].grad = tb.ones(2, dtype=tb.float64)
    raises_like(t.step, o.step)


def test_nesterov_and_duplicate_parameter_errors_like_torch():
    p, q = torch.zeros(2, requires_grad=True), nn.Parameter(np.zeros(2))
    for kw in (dict(nesterov=True, momentum=0.9, dampening=0.1), dict(nesterov=True), dict(momentum=-0.5),
               dict(weight_decay=-1.0)):
        raises_like(lambda: torch.optim.SGD([p], lr=0.1, **kw), lambda: optim.SGD([q], lr=0.1, **kw))
    raises_like(lambda: torch.optim.Adam([{"params": [p]}, {"params": [p]}]),
                lambda: optim.Adam([{"params": [q]}, {"params": [q]}]))
    t, o = torch.optim.Adam([p]), optim.Adam([q])
    raises_like(lambda: t.add_param_group({"params": [p]}), lambda: o.add_param_group({"params": [q]}))
    raises_like(lambda: t.add_param_group({"params": {p}}), lambda: o.add_param_group({"params": {q}}))


# ------------------------------------------------------------------ LBFGS
@pytest.mark.parametrize("kw", [dict(line_search_fn="strong_wolfe", lr=1, max_iter=5, history_size=3),
                                dict(lr=0.5, max_iter=3, tolerance_grad=1e-9)])
def test_lbfgs_with_closure_on_a_quadratic_like_torch(kw):
    theirs, ours = make()
    A = np.random.default_rng(1).standard_normal((6, 6))
    A = A @ A.T + np.eye(6)
    theirs, ours = theirs[:1], ours[:1]
    topt, oopt = torch.optim.LBFGS(theirs, **kw), optim.LBFGS(ours, **kw)

    def tclosure():
        topt.zero_grad()
        x = theirs[0].reshape(-1)
        loss = x @ torch.tensor(A) @ x + torch.sin(x).sum()
        loss.backward()
        return loss

    def oclosure():
        oopt.zero_grad()
        x = ours[0].reshape(-1)
        loss = x @ tb.tensor(A) @ x + tb.sin(x).sum()
        loss.backward()
        return loss

    for _ in range(4):
        np.testing.assert_allclose(float(oopt.step(oclosure)), float(topt.step(tclosure)), rtol=1e-10)
        assert_params(theirs, ours, rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------------ schedulers
def opt_pair(name="SGD", **kw):
    theirs, ours = make()
    kw = dict(dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1), **kw)
    tg = [{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.05}]
    og = [{"params": ours[:2]}, {"params": ours[2:], "lr": 0.05}]
    return getattr(torch.optim, name)(tg, **kw), getattr(optim, name)(og, **kw)


def drive(tscheds, oscheds, topt, oopt, steps, metrics=None, keys=("lr",), rtol=1e-12):
    """Step optimizer then scheduler(s) ``steps`` times, comparing get_last_lr and the group values."""
    for step in range(steps):
        topt.step(), oopt.step()
        for ts, os_ in zip(tscheds, oscheds):
            if metrics is None:
                ts.step(), os_.step()
            else:
                ts.step(metrics[step]), os_.step(metrics[step])
            np.testing.assert_allclose(os_.get_last_lr(), ts.get_last_lr(), rtol=rtol, atol=1e-15)
        for tg, og in zip(topt.param_groups, oopt.param_groups):
            for k in keys:
                np.testing.assert_allclose(np.asarray(og[k], float), np.asarray(tg[k], float), rtol=rtol,
                                           atol=1e-15, err_msg=f"{k} at step {step}")


SCHEDULERS = [
    ("OneCycleLR", dict(max_lr=0.5, total_steps=20, three_phase=True), "SGD", ("lr", "momentum")),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=20, anneal_strategy="linear"), "SGD", ("lr", "momentum")),
    ("OneCycleLR", dict(max_lr=0.5, epochs=4, steps_per_epoch=5, pct_start=0.4, base_momentum=0.7,
                        max_momentum=0.9), "Adam", ("lr", "betas")),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=20, cycle_momentum=False, div_factor=5.0, final_div_factor=50.0),
     "Adam", ("lr", "betas")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9), "SGD",
     ("lr", "momentum")),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=2, step_size_down=4, mode="triangular2"),
     "SGD", ("lr", "momentum")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False), "Adam", ("lr", "betas")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, base_momentum=0.6, max_momentum=0.95), "Adam",
     ("lr", "betas")),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.75, total_iters=7), "SGD", ("lr",)),
    ("ConstantLR", dict(factor=0.4, total_iters=6), "SGD", ("lr",)),
    ("PolynomialLR", dict(total_iters=8, power=2.5), "SGD", ("lr",)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01), "SGD", ("lr",)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001), "SGD", ("lr",)),
    ("StepLR", dict(step_size=3, gamma=0.5), "Adam", ("lr",)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.5), "Adam", ("lr",)),
]


@pytest.mark.parametrize("cls,kw,opt,keys", SCHEDULERS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCHEDULERS)])
def test_scheduler_lrs_and_momenta_and_state_dict_like_torch(cls, kw, opt, keys):
    topt, oopt = opt_pair(opt)
    ts, os_ = getattr(TL, cls)(topt, **kw), getattr(lr_scheduler, cls)(oopt, **kw)
    np.testing.assert_allclose(os_.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
    drive([ts], [os_], topt, oopt, 9, keys=keys)
    # the state_dict holds the same keys, and a fresh scheduler loading ours continues alike
    tsd, osd = ts.state_dict(), os_.state_dict()
    assert sorted(k for k in osd if not k.startswith("_") or k in tsd) == sorted(
        k for k in tsd if not k.startswith("_") or k in osd)
    for k, v in tsd.items():
        if isinstance(v, (int, float)) and k in osd:
            assert osd[k] == pytest.approx(v, rel=1e-12), k
    saved = oopt.state_dict()  # a new scheduler may change the lrs when constructed: reload them after
    os2 = getattr(lr_scheduler, cls)(oopt, **kw)
    oopt.load_state_dict(saved)
    os2.load_state_dict(osd)
    drive([ts], [os2], topt, oopt, 8, keys=keys)


def test_two_schedulers_stepped_on_one_optimizer_like_torch():
    topt, oopt = opt_pair()
    ts = [TL.LinearLR(topt, 0.5, total_iters=4), TL.ExponentialLR(topt, 0.9)]
    os_ = [lr_scheduler.LinearLR(oopt, 0.5, total_iters=4), lr_scheduler.ExponentialLR(oopt, 0.9)]
    drive(ts, os_, topt, oopt, 10)


def test_chained_and_sequential_schedulers_like_torch():
    topt, oopt = opt_pair("Adam")
    tc = TL.ChainedScheduler([TL.ConstantLR(topt, 0.5, total_iters=3), TL.CosineAnnealingLR(topt, T_max=4)])
    oc = lr_scheduler.ChainedScheduler([lr_scheduler.ConstantLR(oopt, 0.5, total_iters=3),
                                        lr_scheduler.CosineAnnealingLR(oopt, T_max=4)])
    drive([tc], [oc], topt, oopt, 9)
    topt, oopt = opt_pair()
    tq = TL.SequentialLR(topt, [TL.LinearLR(topt, 0.2, total_iters=3), TL.PolynomialLR(topt, 6, 2.0),
                                TL.StepLR(topt, 2, 0.5)], milestones=[3, 8])
    oq = lr_scheduler.SequentialLR(oopt, [lr_scheduler.LinearLR(oopt, 0.2, total_iters=3),
                                          lr_scheduler.PolynomialLR(oopt, 6, 2.0),
                                          lr_scheduler.StepLR(oopt, 2, 0.5)], milestones=[3, 8])
    np.testing.assert_allclose(oq.get_last_lr(), tq.get_last_lr(), rtol=1e-12)
    drive([tq], [oq], topt, oopt, 14)
    oq2 = lr_scheduler.SequentialLR(oopt, [lr_scheduler.LinearLR(oopt, 0.2, total_iters=3),
                                           lr_scheduler.PolynomialLR(oopt, 6, 2.0),
                                           lr_scheduler.StepLR(oopt, 2, 0.5)], milestones=[3, 8])
    oq2.load_state_dict(oq.state_dict())
    assert oq2.last_epoch == tq.last_epoch == oq.last_epoch


def _plateau_then_group(L, o):
    s = L.ReduceLROnPlateau(o, patience=0, min_lr=0.04)
    o.add_param_group({"params": [torch.zeros(1, requires_grad=True) if L is TL else tb.zeros(1, requires_grad=True)],
                       "lr": 0.3})
    return s


NESTED = [
    lambda L, o: L.SequentialLR(o, [L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=2), L.ExponentialLR(o, 0.9)]),
                                    L.MultiplicativeLR(o, lambda e: 0.95)], milestones=[4]),
    lambda L, o: L.SequentialLR(o, [L.LambdaLR(o, lambda e: (e + 1) / 4), L.CosineAnnealingLR(o, 5, 0.001)],
                                milestones=[3]),
    lambda L, o: L.ChainedScheduler([L.SequentialLR(o, [L.LinearLR(o, 0.3, total_iters=3), L.ExponentialLR(o, 0.8)],
                                                    milestones=[3]), L.StepLR(o, 4, 0.5)]),
    lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.OneCycleLR(o, 0.5, total_steps=10)], milestones=[3]),
    lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.3, total_iters=3), L.CyclicLR(o, 0.01, 0.1, step_size_up=2)],
                                milestones=[3]),
    lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, 0.3, total_iters=3), L.CosineAnnealingWarmRestarts(o, 3, 2)],
                                milestones=[2]),
    lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.3, total_iters=3), L.CosineAnnealingWarmRestarts(o, 3, 2)],
                                    optimizer=o),
    _plateau_then_group,
]


@pytest.mark.parametrize("i", range(len(NESTED)))
def test_nested_scheduler_compositions_like_torch(i):
    """SequentialLR and ChainedScheduler inside each other, with the closed-form restarts at milestones; and
    ReduceLROnPlateau with a scalar min_lr after a group is added."""
    topt, oopt = opt_pair()
    ts, os_ = NESTED[i](TL, topt), NESTED[i](lr_scheduler, oopt)
    metrics = [1, 2, 3, 4, 5, 6] if isinstance(ts, TL.ReduceLROnPlateau) else None
    np.testing.assert_allclose(os_.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
    drive([ts], [os_], topt, oopt, 6 if metrics else 12, metrics=metrics)


def test_cosine_warm_restarts_with_fractional_epochs_like_torch():
    topt, oopt = opt_pair()
    ts = TL.CosineAnnealingWarmRestarts(topt, T_0=2, T_mult=3, eta_min=0.01)
    os_ = lr_scheduler.CosineAnnealingWarmRestarts(oopt, T_0=2, T_mult=3, eta_min=0.01)
    for epoch in [0.25, 0.5, 1.75, 2.0, 2.4, 7.9, 8.0, 8.5, 30.1, 3.3, 0.0]:
        topt.step(), oopt.step()
        ts.step(epoch), os_.step(epoch)
        np.testing.assert_allclose(os_.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
        assert (os_.T_i, os_.last_epoch) == (ts.T_i, ts.last_epoch)
        assert os_.T_cur == pytest.approx(ts.T_cur, rel=1e-12)
    ts.step(), os_.step()
    np.testing.assert_allclose(os_.get_last_lr(), ts.get_last_lr(), rtol=1e-12)
    with pytest.raises(ValueError, match="non-negative epoch"):
        os_.step(-1)


@pytest.mark.parametrize("kw", [dict(mode="max", threshold_mode="abs", threshold=0.1, patience=1, cooldown=2),
                                dict(mode="min", patience=0, cooldown=1, min_lr=[0.02, 0.001], factor=0.5),
                                dict(patience=1, factor=0.5, min_lr=0.0999, eps=1e-3),
                                dict(mode="max", threshold=0.05, patience=2, min_lr=0.01)])
def test_reduce_lr_on_plateau_like_torch(kw):
    topt, oopt = opt_pair()
    ts, os_ = TL.ReduceLROnPlateau(topt, **kw), lr_scheduler.ReduceLROnPlateau(oopt, **kw)
    metrics = [1.0, 1.05, 0.9, 0.95, 1.0, 1.0, 1.2, 1.21, 0.5, 0.5, 0.5, 2.0, 2.0, 2.01, 2.0, 1.0]
    drive([ts], [os_], topt, oopt, len(metrics), metrics=metrics)
    for k in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "min_lrs"):
        assert getattr(os_, k) == getattr(ts, k), k
    assert set(os_.state_dict()) == set(ts.state_dict())
    os2 = lr_scheduler.ReduceLROnPlateau(oopt, **kw)
    os2.load_state_dict(os_.state_dict())
    drive([ts], [os2], topt, oopt, 6, metrics=[3.0, 3.0, 3.0, 0.1, 0.1, 0.1])


def test_scheduler_step_before_optimizer_step_warns_like_torch():
    topt, oopt = opt_pair()
    ts, os_ = TL.StepLR(topt, 2), lr_scheduler.StepLR(oopt, 2)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        ts.step()
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        os_.step()
    assert any("before `optimizer.step()`" in str(w.message) for w in tw)
    with warnings.catch_warnings():  # only the first step is checked
        warnings.simplefilter("error")
        os_.step()


# ------------------------------------------------------------------ clipping
def clip_pair(missing=(1,)):
    theirs, ours = make()
    set_grads(theirs, ours, 0, missing)
    for t, o in zip(theirs, ours):
        if t.grad is not None:
            t.grad.mul_(3.0), o.grad.mul_(3.0)
    return theirs, ours


@pytest.mark.parametrize("norm_type", [2.0, 1, 0.5, math.inf, 3.0])
@pytest.mark.parametrize("foreach", [None, True, False])
def test_clip_grad_norm_with_missing_grads_like_torch(norm_type, foreach):
    theirs, ours = clip_pair()
    tt = torch.nn.utils.clip_grad_norm_(theirs, 0.7, norm_type=norm_type, foreach=foreach)
    ot = clip_grad_norm_(iter(ours), 0.7, norm_type=norm_type, foreach=foreach)
    assert isinstance(ot, tb.Tensor) and ot.shape == () and ot.dtype == tb.float64
    np.testing.assert_allclose(ot.item(), tt.item(), rtol=1e-12)
    assert ours[1].grad is None
    for t, o in zip(theirs, ours):
        if t.grad is not None:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_error_if_nonfinite_like_torch():
    theirs, ours = clip_pair()
    theirs[0].grad[0, 0], ours[0].grad._data[0, 0] = float("inf"), float("inf")
    raises_like(lambda: torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True),
                lambda: clip_grad_norm_(ours, 1.0, error_if_nonfinite=True))
    tt, ot = torch.nn.utils.clip_grad_norm_(theirs, 1.0), clip_grad_norm_(ours, 1.0)
    assert math.isinf(ot.item()) and math.isinf(tt.item())
    for t, o in zip(theirs, ours):
        if t.grad is not None:
            np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("foreach", [None, True])
def test_clip_grad_value_with_missing_grads_like_torch(foreach):
    theirs, ours = clip_pair(missing=(0, 3))
    assert torch.nn.utils.clip_grad_value_(theirs, 0.4, foreach=foreach) is None
    assert clip_grad_value_(ours, 0.4, foreach=foreach) is None
    for t, o in zip(theirs, ours):
        assert (o.grad is None) == (t.grad is None)
        if t.grad is not None:
            np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())
