"""tinybptt.optim against torch.optim: same parameters, same gradients, many steps."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, optim
from tinybptt.optim import lr_scheduler

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 40

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.001, alpha=0.9, eps=1e-4, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.001, momentum=0.9)),
    ("RMSprop", dict(lr=0.001, centered=True)),
    ("RMSprop", dict(lr=0.001, centered=True, momentum=0.7, maximize=True, weight_decay=0.01)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, momentum_decay=0.05)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
]
IDS = [f"{n}-{kw}" for n, kw in CONFIGS]
NEW = {n: i for i, (n, _) in reversed(list(enumerate(CONFIGS)))}  # first config of each optimizer


def pair(dtype, seed=0):
    """The same initial parameters as torch leaves and as tinybptt Parameters, plus a gradient stream."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    ours = [nn.Parameter(a) for a in init]
    return theirs, ours, grads


def groups(params, extra):
    """Two parameter groups, the second with its own options."""
    return [{"params": params[:2]}, {"params": params[2:], **extra}]


def step_both(topt, oopt, theirs, ours, grads):
    for gs in grads:
        for t, o, g in zip(theirs, ours, gs):
            t.grad, o.grad = torch.tensor(g), g.copy()
        topt.step()
        oopt.step()


def assert_close(theirs, ours, dtype):
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for t, o in zip(theirs, ours):
        assert o.dtype == dtype
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_many_steps_match_torch(name, kw, dtype):
    theirs, ours, grads = pair(dtype)
    extra = {"lr": kw.get("lr", 1e-3) * 3}
    topt = getattr(torch.optim, name)(groups(theirs, extra), **kw)
    oopt = getattr(optim, name)(groups(ours, extra), **kw)
    step_both(topt, oopt, theirs, ours, grads)
    assert_close(theirs, ours, dtype)
    # the state agrees too, key for key
    tsd, osd = topt.state_dict(), oopt.state_dict()
    assert osd["param_groups"] == tsd["param_groups"]
    assert tsd["state"].keys() == osd["state"].keys()
    for i in tsd["state"]:
        assert tsd["state"][i].keys() == osd["state"][i].keys()
        for key, value in tsd["state"][i].items():
            np.testing.assert_allclose(osd["state"][i][key], value.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-11,
                                       atol=1e-6 if dtype == np.float32 else 1e-14)


INTERCHANGE = [3, 8, 11, 17] + [NEW[n] + k for n in ("NAdam", "RAdam", "Adamax", "Adadelta") for k in (1, 2)]


@pytest.mark.parametrize("name,kw", [CONFIGS[i] for i in INTERCHANGE], ids=[IDS[i] for i in INTERCHANGE])
def test_state_dicts_interchange_with_torch(name, kw):
    """Torch's state (as numpy) loaded into ours midway, and ours into torch, both continue identically."""
    theirs, ours, grads = pair(np.float64, seed=1)
    topt = getattr(torch.optim, name)(groups(theirs, {"lr": 0.02}), **kw)
    oopt = getattr(optim, name)(groups(ours, {"lr": 0.02}), **kw)
    step_both(topt, oopt, theirs, ours, grads[:10])

    tsd = topt.state_dict()
    as_numpy = {"state": {i: {k: v.numpy().copy() for k, v in s.items()} for i, s in tsd["state"].items()},
                "param_groups": tsd["param_groups"]}
    ours2 = [nn.Parameter(t.detach().numpy().copy()) for t in theirs]
    oopt2 = getattr(optim, name)(groups(ours2, {}), lr=0.5)
    oopt2.load_state_dict(as_numpy)

    osd = oopt.state_dict()
    as_torch = {"state": {i: {k: torch.tensor(v.numpy()) for k, v in s.items()} for i, s in osd["state"].items()},
                "param_groups": osd["param_groups"]}
    theirs2 = [torch.tensor(o.detach().numpy().copy(), requires_grad=True) for o in ours]
    topt2 = getattr(torch.optim, name)(groups(theirs2, {}), lr=0.5)
    topt2.load_state_dict(as_torch)

    step_both(topt, oopt2, theirs, ours2, grads[10:])
    step_both(topt2, oopt, theirs2, ours, grads[10:])
    assert_close(theirs, ours2, np.float64)
    assert_close(theirs2, ours, np.float64)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
                                     ("RMSprop", dict(lr=0.01, centered=True)), ("Rprop", dict(lr=0.01)),
                                     ("ASGD", dict(lr=0.05, t0=10)), ("Adafactor", dict(lr=0.05))])
def test_training_a_model_matches_torch(name, kw):
    """Real backward passes: a 2-layer net on cross-entropy, trained the same way in both."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 5))
    y = rng.integers(0, 4, 32)
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    omodel = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 4)).double()
    omodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw)
    oopt = getattr(optim, name)(omodel.parameters(), **kw)
    for _ in range(25):
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
        oopt.zero_grad()
        nn.functional.cross_entropy(omodel(tb.tensor(x)), tb.tensor(y)).backward()
        oopt.step()
        for k, v in tmodel.state_dict().items():
            np.testing.assert_allclose(omodel.state_dict()[k], v.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    lambda m, o: m.ExponentialLR(o, gamma=0.9),
    lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    lambda m, o: m.LambdaLR(o, [lambda e: 0.5 ** e, lambda e: 1 + e]),
], ids=["StepLR", "ExponentialLR", "LambdaLR", "LambdaLR-per-group"])
def test_schedulers_match_torch(make):
    theirs, ours, _ = pair(np.float64)
    topt = torch.optim.SGD(groups(theirs, {"lr": 0.3}), lr=0.1)
    oopt = optim.SGD(groups(ours, {"lr": 0.3}), lr=0.1)
    tsched, osched = make(torch.optim.lr_scheduler, topt), make(lr_scheduler, oopt)
    for _ in range(10):
        topt.step()
        oopt.step()
        tsched.step()
        osched.step()
        assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
        assert [g["lr"] for g in oopt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-15)
    assert osched.last_epoch == tsched.last_epoch and osched.base_lrs == tsched.base_lrs


@pytest.mark.parametrize("kw", [dict(lr=0.1, momentum=0.9), dict(lr=0.01, momentum=0.99, nesterov=True, weight_decay=0.1)])
def test_float32_sgd_momentum_does_not_drift(kw):
    """Momentum amplifies rounding; with torch's fused multiply-adds mirrored, 300 float32 steps stay together."""
    rng = np.random.default_rng(5)
    init = rng.standard_normal((32, 32)).astype(np.float32)
    theirs, ours = torch.tensor(init, requires_grad=True), nn.Parameter(init)
    topt, oopt = torch.optim.SGD([theirs], **kw), optim.SGD([ours], **kw)
    for _ in range(300):
        g = rng.standard_normal(init.shape).astype(np.float32)
        theirs.grad, ours.grad = torch.tensor(g), g
        topt.step()
        oopt.step()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-6)


MISHAPS = [2, 7, 12, 17, 19] + [NEW[n] + 1 for n in ("NAdam", "RAdam", "Adamax", "Adadelta")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw", [CONFIGS[i] for i in MISHAPS], ids=[IDS[i] for i in MISHAPS])
def test_training_mishaps_match_torch(name, kw, dtype):
    """Missing grads, a group added midway, lr edited in param_groups, zero_grad both ways,
    and a reload into a fresh optimizer mid-training."""
    theirs, ours, grads = pair(dtype, seed=2)
    make = lambda lib, ps: getattr(lib, name)([{"params": ps[:1]}, {"params": ps[1:2], "lr": 0.02}], **kw)
    topt, oopt = make(torch.optim, theirs), make(optim, ours)
    for s, gs in enumerate(grads[:20]):
        if s == 4:
            topt.add_param_group({"params": [theirs[2]], "weight_decay": 0.2})
            oopt.add_param_group({"params": [ours[2]], "weight_decay": 0.2})
        if s == 8:
            for tg, og in zip(topt.param_groups, oopt.param_groups):
                tg["lr"] = og["lr"] = tg["lr"] * 0.3
        if s == 11:
            tsd, osd = copy.deepcopy(topt.state_dict()), copy.deepcopy(oopt.state_dict())
            topt = getattr(torch.optim, name)([{"params": g["params"]} for g in topt.param_groups], lr=0.9)
            oopt = getattr(optim, name)([{"params": g["params"]} for g in oopt.param_groups], lr=0.9)
            topt.load_state_dict(tsd)
            oopt.load_state_dict(osd)
        for i, (t, o, g) in enumerate(zip(theirs, ours, gs)):
            missing = (s + i) % 5 == 0
            t.grad, o.grad = (None, None) if missing else (torch.tensor(g), g.copy())
        topt.step()
        oopt.step()
        if s in (6, 14):
            topt.zero_grad(set_to_none=s == 6)
            oopt.zero_grad(set_to_none=s == 6)
            assert [o.grad is None for o in ours] == [t.grad is None for t in theirs]
            topt.step()
            oopt.step()
    assert_close(theirs, ours, dtype)
    assert oopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


@pytest.mark.parametrize("name,kw", [
    ("NAdam", dict(lr=-1.0)), ("NAdam", dict(eps=-1e-8)), ("NAdam", dict(betas=(1.0, 0.9))),
    ("NAdam", dict(betas=(0.9, -0.1))), ("NAdam", dict(weight_decay=-0.1)), ("NAdam", dict(momentum_decay=-1.0)),
    ("RAdam", dict(lr=-0.5)), ("RAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(weight_decay=-1)),
    ("Adamax", dict(eps=-1.0)), ("Adamax", dict(betas=(-0.1, 0.9))), ("Adamax", dict(weight_decay=-2.0)),
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1.0)), ("Adadelta", dict(weight_decay=-1.0)),
    ("Rprop", dict(lr=-0.1)), ("Rprop", dict(etas=(0.0, 1.2))), ("Rprop", dict(etas=(1.0, 1.2))),
    ("Rprop", dict(etas=(0.5, 1.0))), ("Rprop", dict(etas=(0.5, 0.9))),
    ("ASGD", dict(lr=-1.0)), ("ASGD", dict(weight_decay=-0.1)),
    ("Adafactor", dict(lr=-0.01)), ("Adafactor", dict(beta2_decay=0.5)), ("Adafactor", dict(eps=(-1e-8, 1e-3))),
    ("Adafactor", dict(eps=(None, -1e-3))), ("Adafactor", dict(d=0.5)), ("Adafactor", dict(weight_decay=-0.1)),
    ("LBFGS", dict(lr=-1.0)),
], ids=lambda v: str(v))
def test_bad_arguments_raise_torchs_errors(name, kw):
    with pytest.raises(Exception) as theirs:
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)
    with pytest.raises(Exception) as ours:
        getattr(optim, name)([nn.Parameter(np.ones(2))], **kw)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "Adadelta"])
def test_new_optimizers_defaults_and_groups_match_torch(name):
    """Default hyper-parameters, param_groups layout and repr keys, before any step."""
    theirs, ours, _ = pair(np.float64)
    topt, oopt = getattr(torch.optim, name)(theirs), getattr(optim, name)(ours)
    assert oopt.defaults == topt.defaults
    assert oopt.state_dict() == {"state": {}, "param_groups": topt.state_dict()["param_groups"]}


def test_nadam_mu_product_is_a_float32_scalar_as_in_torch():
    """torch keeps mu_product in float32 (rounded every step); the parameters depend on it to ~1e-7."""
    theirs, ours, grads = pair(np.float64)
    topt, oopt = torch.optim.NAdam(theirs, lr=0.05), optim.NAdam(ours, lr=0.05)
    step_both(topt, oopt, theirs, ours, grads)
    for t, o in zip(theirs, ours):
        assert oopt.state[o]["mu_product"].dtype == np.float32
        assert float(oopt.state[o]["mu_product"]) == topt.state[t]["mu_product"].item()
    assert_close(theirs, ours, np.float64)


def test_adagrad_accumulator_starts_from_the_constructor_value():
    """PyTorch fills 'sum' from the constructor's initial_accumulator_value, not a group's own one."""
    theirs, ours, grads = pair(np.float64)
    make = lambda lib, ps: lib.Adagrad([{"params": ps[:1]}, {"params": ps[1:2], "initial_accumulator_value": 3.0}],
                                       lr=0.1, initial_accumulator_value=0.5)
    topt, oopt = make(torch.optim, theirs), make(optim, ours)
    topt.add_param_group({"params": theirs[2:], "initial_accumulator_value": 7.0})
    oopt.add_param_group({"params": ours[2:], "initial_accumulator_value": 7.0})
    step_both(topt, oopt, theirs, ours, grads[:5])
    assert_close(theirs, ours, np.float64)
    for t, o in zip(theirs, ours):
        np.testing.assert_allclose(oopt.state[o]["sum"], topt.state[t]["sum"].numpy(), rtol=1e-12)


SCHEDULERS = [
    lambda m, o, **k: m.StepLR(o, step_size=3, gamma=0.5, **k),
    lambda m, o, **k: m.MultiStepLR(o, milestones=[7, 2, 5, 5], gamma=0.3, **k),
    lambda m, o, **k: m.ExponentialLR(o, gamma=0.9, **k),
    lambda m, o, **k: m.CosineAnnealingLR(o, T_max=4, **k),
    lambda m, o, **k: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01, **k),
    lambda m, o, **k: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)], **k),
    lambda m, o, **k: m.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1 - 0.01 * e], **k),
    lambda m, o, **k: m.ConstantLR(o, **k),
    lambda m, o, **k: m.ConstantLR(o, factor=0.7, total_iters=8, **k),
    lambda m, o, **k: m.LinearLR(o, **k),
    lambda m, o, **k: m.LinearLR(o, start_factor=0.9, end_factor=0.05, total_iters=9, **k),
    lambda m, o, **k: m.PolynomialLR(o, **k),
    lambda m, o, **k: m.PolynomialLR(o, total_iters=12, power=2.5, **k),
    lambda m, o, **k: m.CosineAnnealingWarmRestarts(o, T_0=3, **k),
    lambda m, o, **k: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.01, **k),
    lambda m, o, **k: m.CyclicLR(o, 0.01, 0.1, step_size_up=3, **k),
    lambda m, o, **k: m.CyclicLR(o, [0.01, 0.02], [0.1, 0.5], step_size_up=2, step_size_down=5, mode="triangular2",
                                 base_momentum=0.5, max_momentum=[0.9, 0.95], **k),
    lambda m, o, **k: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.9, cycle_momentum=False,
                                 **k),
    lambda m, o, **k: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=4), m.ExponentialLR(o, 0.9),
                                         m.CosineAnnealingLR(o, T_max=6)], milestones=[4, 11], **k),
    lambda m, o, **k: m.SequentialLR(o, [m.ChainedScheduler([m.StepLR(o, 2, gamma=0.5), m.PolynomialLR(o, 10)]),
                                         m.ConstantLR(o, factor=0.5, total_iters=3)], milestones=[5], **k),
]
SCHED_IDS = ["StepLR", "MultiStepLR", "ExponentialLR", "Cosine", "Cosine-eta_min", "LambdaLR", "MultiplicativeLR",
             "ConstantLR", "ConstantLR-args", "LinearLR", "LinearLR-args", "PolynomialLR", "PolynomialLR-args",
             "WarmRestarts", "WarmRestarts-T_mult-eta_min", "CyclicLR", "CyclicLR-triangular2-per-group",
             "CyclicLR-exp_range", "SequentialLR", "SequentialLR-nested-chain"]


def sched_pair(make, **kw):
    theirs, ours, _ = pair(np.float64)
    topt, oopt = torch.optim.SGD(groups(theirs, {"lr": 0.3}), lr=0.1), optim.SGD(groups(ours, {"lr": 0.3}), lr=0.1)
    for tg, og in zip(topt.param_groups, oopt.param_groups):  # needed when resuming with last_epoch >= 0
        tg["initial_lr"] = og["initial_lr"] = tg["lr"] * 2
    return topt, oopt, make(torch.optim.lr_scheduler, topt, **kw), make(lr_scheduler, oopt, **kw)


def assert_same_schedule(tsched, osched, topt, oopt):
    assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
    assert [g["lr"] for g in oopt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-13)
    assert (osched.last_epoch, getattr(osched, "_step_count", None)) == \
        (tsched.last_epoch, getattr(tsched, "_step_count", None))
    assert [g.get("momentum") for g in oopt.param_groups] == [g.get("momentum") for g in topt.param_groups]


@pytest.mark.parametrize("last_epoch", [-1, 0, 5])
@pytest.mark.parametrize("make", SCHEDULERS, ids=SCHED_IDS)
def test_scheduler_sequences_and_resuming_match_torch(make, last_epoch):
    """30 epochs, from scratch or resumed with last_epoch (which leaves the current lr on construction)."""
    topt, oopt, tsched, osched = sched_pair(make, last_epoch=last_epoch)
    assert_same_schedule(tsched, osched, topt, oopt)
    for _ in range(30):
        topt.step()
        oopt.step()
        tsched.step()
        osched.step()
        assert_same_schedule(tsched, osched, topt, oopt)


@pytest.mark.parametrize("make", SCHEDULERS, ids=SCHED_IDS)
def test_scheduler_state_dict_matches_torch(make):
    topt, oopt, tsched, osched = sched_pair(make)
    for _ in range(4):
        topt.step(), oopt.step(), tsched.step(), osched.step()
    tsd, osd = tsched.state_dict(), osched.state_dict()
    assert osd.keys() == tsd.keys()
    for k in tsd:
        if k != "lr_lambdas":
            assert osd[k] == pytest.approx(tsd[k], rel=1e-13) if k in ("base_lrs", "_last_lr") else osd[k] == tsd[k], k
    # a fresh pair loads the states and carries on alike
    topt2, oopt2, tsched2, osched2 = sched_pair(make)
    topt2.load_state_dict(topt.state_dict())
    oopt2.load_state_dict(oopt.state_dict())
    tsched2.load_state_dict(tsd)
    osched2.load_state_dict(osd)
    for _ in range(10):
        topt2.step(), oopt2.step(), tsched2.step(), osched2.step()
        assert_same_schedule(tsched2, osched2, topt2, oopt2)


def test_chained_scheduler_matches_torch():
    theirs, ours, _ = pair(np.float64)
    topt, oopt = torch.optim.SGD(groups(theirs, {"lr": 0.3}), lr=0.1), optim.SGD(groups(ours, {"lr": 0.3}), lr=0.1)
    chain = lambda m, o: m.ChainedScheduler([m.StepLR(o, 3, gamma=0.5), m.CosineAnnealingLR(o, T_max=5),
                                             m.ExponentialLR(o, gamma=0.95)])
    tsched, osched = chain(torch.optim.lr_scheduler, topt), chain(lr_scheduler, oopt)
    for _ in range(20):
        topt.step(), oopt.step(), tsched.step(), osched.step()
        assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
    assert osched.state_dict()["_schedulers"][1]["last_epoch"] == tsched.state_dict()["_schedulers"][1]["last_epoch"]
    with pytest.raises(ValueError, match="expects at least one scheduler to be chained"):
        lr_scheduler.ChainedScheduler([])


def warning_texts(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [str(w.message) for w in caught]


def test_scheduler_warnings_match_torch():
    """Stepping the scheduler before the optimizer, calling get_lr() directly, step(epoch)."""
    for opt_first in (False, True):
        theirs, ours, _ = pair(np.float64)
        topt, oopt = torch.optim.SGD(theirs, lr=0.1), optim.SGD(ours, lr=0.1)
        tsched = torch.optim.lr_scheduler.StepLR(topt, 2)
        osched = lr_scheduler.StepLR(oopt, 2)
        if opt_first:
            topt.step(), oopt.step()
        assert warning_texts(osched.step) == warning_texts(tsched.step)
    assert warning_texts(osched.get_lr) == warning_texts(tsched.get_lr)
    assert warning_texts(lambda: osched.step(4)) == warning_texts(lambda: tsched.step(4))
    assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)


def test_optimizer_with_scheduler_copies_and_pickles():
    """The scheduler wraps optimizer.step; a deep copy must still step its own parameters."""
    p = nn.Parameter(np.ones(2))
    opt = optim.SGD([p], lr=0.1)
    lr_scheduler.StepLR(opt, 2)
    twin = copy.deepcopy(opt)
    q = twin.param_groups[0]["params"][0]
    q.grad = np.ones(2)
    twin.step()
    np.testing.assert_allclose(q.detach().numpy(), 0.9)
    np.testing.assert_allclose(p.detach().numpy(), 1.0)
    assert pickle.loads(pickle.dumps(opt)).param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=1, threshold=0.05),
    dict(factor=0.3, patience=0, threshold_mode="abs", threshold=0.1, cooldown=2, min_lr=[0.01, 0.05]),
    dict(factor=0.5, patience=2, min_lr=0.02, eps=0.05),
], ids=["defaults", "max-rel", "abs-cooldown-min_lrs", "min_lr-eps"])
def test_reduce_lr_on_plateau_matches_torch(kw):
    """A metric that improves, stalls and wobbles: the same reductions, counters and state as torch."""
    theirs, ours, _ = pair(np.float64)
    topt, oopt = torch.optim.SGD(groups(theirs, {"lr": 0.3}), lr=0.1), optim.SGD(groups(ours, {"lr": 0.3}), lr=0.1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    osched = lr_scheduler.ReduceLROnPlateau(oopt, **kw)
    metrics = [1.0, 0.9, 0.95, 0.9, 0.91, 0.5, 0.5, 0.52, 0.6, 0.49, 0.7] * 3
    for i, m in enumerate(metrics):
        topt.step(), oopt.step()
        tsched.step(torch.tensor(m) if i % 2 else m)
        osched.step(tb.tensor(m) if i % 2 else m)
        assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
        assert (osched.best, osched.num_bad_epochs, osched.cooldown_counter, osched.last_epoch) == \
            (tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter, tsched.last_epoch)
    tsd, osd = tsched.state_dict(), osched.state_dict()
    assert osd.keys() == tsd.keys()
    fresh = lr_scheduler.ReduceLROnPlateau(optim.SGD(ours, lr=0.1))
    fresh.load_state_dict(osd)
    assert (fresh.best, fresh.mode, fresh.min_lrs) == (tsched.best, tsched.mode, tsched.min_lrs)


def test_reduce_lr_on_plateau_errors_match_torch():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    for kw, text in [(dict(factor=1.0), "Factor should be < 1.0."), (dict(mode="low"), "mode low is unknown!"),
                     (dict(threshold_mode="x"), "threshold mode x is unknown!"),
                     (dict(min_lr=[0.1, 0.2]), "expected 1 min_lrs, got 2")]:
        with pytest.raises(ValueError, match=text):
            torch.optim.lr_scheduler.ReduceLROnPlateau(torch.optim.SGD([torch.ones(2, requires_grad=True)]), **kw)
        with pytest.raises(ValueError, match=text):
            lr_scheduler.ReduceLROnPlateau(opt, **kw)


@pytest.mark.parametrize("opt_name, kw", [
    ("SGD", dict(max_lr=0.5, total_steps=20)),
    ("SGD", dict(max_lr=[0.5, 1.0], epochs=4, steps_per_epoch=5, pct_start=0.25, anneal_strategy="linear",
                 base_momentum=[0.8, 0.7], max_momentum=0.9, div_factor=10.0, final_div_factor=100.0)),
    ("SGD", dict(max_lr=0.5, total_steps=20, three_phase=True, cycle_momentum=False)),
    ("Adam", dict(max_lr=0.01, total_steps=20)),
    ("AdamW", dict(max_lr=0.01, total_steps=20, three_phase=True, pct_start=0.4)),
], ids=["SGD", "SGD-linear-per-group", "SGD-three-phase", "Adam", "AdamW-three-phase"])
def test_one_cycle_lr_matches_torch(opt_name, kw):
    """lr and momentum/beta1 over every step of the cycle, and the parameters they produce."""
    theirs, ours, grads = pair(np.float64)
    extra = dict(momentum=0.9) if opt_name == "SGD" else {}
    topt = getattr(torch.optim, opt_name)(groups(theirs, {"lr": 0.3}), lr=0.1, **extra)
    oopt = getattr(optim, opt_name)(groups(ours, {"lr": 0.3}), lr=0.1, **extra)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kw)
    osched = lr_scheduler.OneCycleLR(oopt, **kw)
    momentum = (lambda g: g["momentum"]) if opt_name == "SGD" else (lambda g: g["betas"][0])  # noqa: E731
    for gs in grads[:20]:
        assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
        assert [momentum(g) for g in oopt.param_groups] == pytest.approx([momentum(g) for g in topt.param_groups],
                                                                          rel=1e-13)
        for t, o, g in zip(theirs, ours, gs):
            t.grad, o.grad = torch.tensor(g), g.copy()
        topt.step(), oopt.step(), tsched.step(), osched.step()
    for t, o in zip(theirs, ours):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert osched.state_dict().keys() == tsched.state_dict().keys()
    with pytest.raises(ValueError, match="Tried to step 21 times. The specified number of total steps is 20"):
        osched.step()


def test_one_cycle_lr_errors_match_torch():
    def texts(make_opt, mod, **kw):
        with pytest.raises(ValueError) as e:
            mod.OneCycleLR(make_opt(), **kw)
        return str(e.value)
    topt = lambda: torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1)  # noqa: E731
    oopt = lambda: optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)  # noqa: E731
    for kw in [dict(max_lr=1.0), dict(max_lr=1.0, total_steps=0), dict(max_lr=1.0, epochs=2, steps_per_epoch=0),
               dict(max_lr=1.0, total_steps=5, pct_start=1), dict(max_lr=1.0, total_steps=5, anneal_strategy="x"),
               dict(max_lr=[1.0, 2.0], total_steps=5)]:
        assert texts(oopt, lr_scheduler, **kw) == texts(topt, torch.optim.lr_scheduler, **kw)
    adagrad_t = lambda: torch.optim.Adagrad([torch.ones(2, requires_grad=True)])  # noqa: E731
    adagrad_o = lambda: optim.Adagrad([nn.Parameter(np.ones(2))])  # noqa: E731
    assert texts(adagrad_o, lr_scheduler, max_lr=1.0, total_steps=5) == \
        texts(adagrad_t, torch.optim.lr_scheduler, max_lr=1.0, total_steps=5)


@pytest.mark.parametrize("make", SCHEDULERS, ids=SCHED_IDS)
def test_scheduler_warnings_and_step_epoch_match_torch(make):
    """The same warnings on construction, on a scheduler step before the optimizer's, on get_lr() called
    directly and on step(epoch) (closed form where there is one), and the same lrs after it."""
    theirs, ours, _ = pair(np.float64)
    topt, oopt = torch.optim.SGD(groups(theirs, {"lr": 0.3}), lr=0.1), optim.SGD(groups(ours, {"lr": 0.3}), lr=0.1)
    scheds = {}
    assert warning_texts(lambda: scheds.setdefault("o", make(lr_scheduler, oopt))) == \
        warning_texts(lambda: scheds.setdefault("t", make(torch.optim.lr_scheduler, topt)))
    osched, tsched = scheds["o"], scheds["t"]
    assert warning_texts(osched.step) == warning_texts(tsched.step)
    if not isinstance(tsched, torch.optim.lr_scheduler.SequentialLR):
        assert warning_texts(osched.get_lr) == warning_texts(tsched.get_lr)
        for epoch in (3, 7, 1, 12, 12, 0, 5):
            topt.step(), oopt.step()
            assert warning_texts(lambda: osched.step(epoch)) == warning_texts(lambda: tsched.step(epoch))
            assert_same_schedule(tsched, osched, topt, oopt)
    for _ in range(5):
        topt.step(), oopt.step()
        assert warning_texts(osched.step) == warning_texts(tsched.step)
        assert_same_schedule(tsched, osched, topt, oopt)


@pytest.mark.parametrize("T_0,T_mult", [(4, 1), (3, 2), (2, 3)])
def test_cosine_warm_restarts_fractional_epochs_match_torch(T_0, T_mult):
    """step(epoch + i / iters) once per batch, as SGDR is meant to be used; epochs jump back and forth too."""
    theirs, ours, _ = pair(np.float64)
    topt, oopt = torch.optim.SGD(groups(theirs, {"lr": 0.3}), lr=0.1), optim.SGD(groups(ours, {"lr": 0.3}), lr=0.1)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0, T_mult=T_mult, eta_min=0.001)
    osched = lr_scheduler.CosineAnnealingWarmRestarts(oopt, T_0, T_mult=T_mult, eta_min=0.001)
    iters = 7
    epochs = [e + i / iters for e in range(20) for i in range(iters)] + [2.5, 0.25, 13.0, 40.75, 1]
    for epoch in epochs:
        topt.step(), oopt.step()
        assert warning_texts(lambda: osched.step(epoch)) == warning_texts(lambda: tsched.step(epoch))
        assert_same_schedule(tsched, osched, topt, oopt)
        assert (osched.T_cur, osched.T_i) == pytest.approx((tsched.T_cur, tsched.T_i), rel=1e-13, abs=1e-13)
    osd, tsd = osched.state_dict(), tsched.state_dict()
    assert osd.keys() == tsd.keys()
    for k in ("T_0", "T_i", "T_mult", "eta_min", "last_epoch", "_step_count"):
        assert osd[k] == tsd[k], k
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        osched.step(-1)


@pytest.mark.parametrize("opt_name, kw", [
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("SGD", dict(base_lr=[0.01, 0.05], max_lr=[0.2, 0.1], step_size_up=3, step_size_down=6, mode="triangular2",
                 base_momentum=[0.6, 0.7], max_momentum=0.95)),
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, step_size_down=3, mode="exp_range", gamma=0.95)),
    ("SGD", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations")),
    ("Adam", dict(base_lr=0.001, max_lr=0.01, step_size_up=5, mode="triangular2")),
    ("NAdam", dict(base_lr=0.001, max_lr=0.01, step_size_up=3, mode="exp_range", gamma=0.9)),
    ("Adagrad", dict(base_lr=0.01, max_lr=0.1, step_size_up=3, cycle_momentum=False)),
], ids=["SGD", "SGD-triangular2-per-group", "SGD-exp_range", "SGD-scale_fn", "Adam", "NAdam-exp_range",
        "Adagrad-no-momentum"])
def test_cyclic_lr_matches_torch(opt_name, kw):
    """lr and momentum/beta1 at every step of several cycles, the parameters they produce, and a reload midway."""
    theirs, ours, grads = pair(np.float64)
    extra = dict(momentum=0.9) if opt_name == "SGD" else {}
    topt = getattr(torch.optim, opt_name)(groups(theirs, {"lr": 0.3}), lr=0.1, **extra)
    oopt = getattr(optim, opt_name)(groups(ours, {"lr": 0.3}), lr=0.1, **extra)
    tsched = torch.optim.lr_scheduler.CyclicLR(topt, **kw)
    osched = lr_scheduler.CyclicLR(oopt, **kw)
    momentum = {"SGD": lambda g: g["momentum"], "Adagrad": lambda g: 0.0}.get(opt_name, lambda g: g["betas"][0])
    for s, gs in enumerate(grads):
        assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
        assert [momentum(g) for g in oopt.param_groups] == pytest.approx([momentum(g) for g in topt.param_groups],
                                                                          rel=1e-13)
        if s == 15:  # a fresh scheduler (made with last_epoch, as when resuming) takes over the saved state
            osd, tsd = osched.state_dict(), tsched.state_dict()
            assert osd.keys() == tsd.keys()
            assert {k: v for k, v in osd.items() if k != "_last_lr"} == \
                {k: v for k, v in tsd.items() if k != "_last_lr"}
            osched = lr_scheduler.CyclicLR(oopt, **kw, last_epoch=osched.last_epoch)
            tsched = torch.optim.lr_scheduler.CyclicLR(topt, **kw, last_epoch=tsched.last_epoch)
            osched.load_state_dict(osd)
            tsched.load_state_dict(tsd)
        for t, o, g in zip(theirs, ours, gs):
            t.grad, o.grad = torch.tensor(g), g.copy()
        topt.step(), oopt.step(), tsched.step(), osched.step()
    for t, o in zip(theirs, ours):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert oopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


def test_new_scheduler_errors_match_torch():
    """Bad arguments raise the same exception type with torch's message."""
    def raised(lib, make):
        p = torch.ones(2, requires_grad=True) if lib is torch else nn.Parameter(np.ones(2))
        with pytest.raises(Exception) as e:
            make(lib.optim.lr_scheduler, lib.optim, p)
        return type(e.value), str(e.value)
    cases = [
        lambda m, o, p: m.ConstantLR(o.SGD([p], lr=0.1), factor=1.5),
        lambda m, o, p: m.ConstantLR(o.SGD([p], lr=0.1), factor=-0.1),
        lambda m, o, p: m.LinearLR(o.SGD([p], lr=0.1), start_factor=0),
        lambda m, o, p: m.LinearLR(o.SGD([p], lr=0.1), start_factor=1.2),
        lambda m, o, p: m.LinearLR(o.SGD([p], lr=0.1), end_factor=1.5),
        lambda m, o, p: m.MultiplicativeLR(o.SGD([p], lr=0.1), 0.9),
        lambda m, o, p: m.MultiplicativeLR(o.SGD([p], lr=0.1), [lambda e: 1.0, lambda e: 1.0]),
        lambda m, o, p: m.CosineAnnealingWarmRestarts(o.SGD([p], lr=0.1), T_0=0),
        lambda m, o, p: m.CosineAnnealingWarmRestarts(o.SGD([p], lr=0.1), T_0=2.0),
        lambda m, o, p: m.CosineAnnealingWarmRestarts(o.SGD([p], lr=0.1), T_0=2, T_mult=0),
        lambda m, o, p: m.CosineAnnealingWarmRestarts(o.SGD([p], lr=0.1), T_0=2, T_mult=1.5),
        lambda m, o, p: m.CosineAnnealingWarmRestarts(o.SGD([p], lr=0.1), T_0=2, eta_min="0"),
        lambda m, o, p: m.CosineAnnealingWarmRestarts(o.SGD([p], lr=0.1), T_0=2, last_epoch=3),
        lambda m, o, p: m.CyclicLR(o.SGD([p], lr=0.1), 0.01, 0.1, mode="cosine"),
        lambda m, o, p: m.CyclicLR(o.SGD([p], lr=0.1), [0.01, 0.02], 0.1),
        lambda m, o, p: m.CyclicLR(o.SGD([p], lr=0.1), 0.01, [0.1, 0.2]),
        lambda m, o, p: m.CyclicLR(o.SGD([p], lr=0.1), 0.01, 0.1, base_momentum=[0.8, 0.9]),
        lambda m, o, p: m.CyclicLR(o.Adagrad([p], lr=0.1), 0.01, 0.1),
        lambda m, o, p: m.CyclicLR("sgd", 0.01, 0.1),
        lambda m, o, p: m.SequentialLR(o.SGD([p], lr=0.1), [], milestones=[]),
        lambda m, o, p: (lambda opt: m.SequentialLR(opt, [m.ConstantLR(opt), m.LinearLR(opt)], milestones=[]))(
            o.SGD([p], lr=0.1)),
        lambda m, o, p: (lambda opt: m.SequentialLR(opt, [m.ConstantLR(opt), m.ReduceLROnPlateau(opt)],
                                                    milestones=[2]))(o.SGD([p], lr=0.1)),
        lambda m, o, p: (lambda opt: m.SequentialLR(opt, [m.ConstantLR(opt), "x"], milestones=[2]))(
            o.SGD([p], lr=0.1)),
        lambda m, o, p: (lambda opt: m.ChainedScheduler([m.ConstantLR(opt), m.ReduceLROnPlateau(opt)]))(
            o.SGD([p], lr=0.1)),
    ]
    for make in cases:
        assert raised(tb, make) == raised(torch, make)
    # a scheduler of another optimizer: same type and text up to the optimizer's repr
    for lib in (torch, tb):
        p = torch.ones(2, requires_grad=True) if lib is torch else nn.Parameter(np.ones(2))
        o1, o2 = lib.optim.SGD([p], lr=0.1), lib.optim.SGD([p], lr=0.2)
        with pytest.raises(ValueError, match="SequentialLR expects all schedulers to belong to the same optimizer, "
                                             "but got scheduler LinearLR at index 1 has"):
            lib.optim.lr_scheduler.SequentialLR(o1, [lib.optim.lr_scheduler.ConstantLR(o1),
                                                     lib.optim.lr_scheduler.LinearLR(o2)], milestones=[3])


def _custom_adam(lib):
    """A hand-written optimizer as users subclass Optimizer: Tensor buffers and an int step in its state."""
    class HandAdam(lib.optim.Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        @lib.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    st = self.state[p]
                    if not st:
                        st["step"], st["m"], st["v"] = 0, lib.zeros_like(p), lib.zeros_like(p)
                    st["step"] += 1
                    st["m"].mul_(0.9).add_(p.grad, alpha=0.1)
                    st["v"].mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
                    denom = (st["v"] / (1 - 0.999 ** st["step"])).sqrt().add_(1e-8)
                    p.addcdiv_(st["m"], denom, value=-group["lr"] / (1 - 0.9 ** st["step"]))
    return HandAdam


def test_custom_optimizer_state_round_trip_keeps_tensors_and_int_step_like_torch():
    """load_state_dict of a user's Optimizer subclass keeps its Tensor buffers as Tensors (were numpy arrays,
    breaking st['m'].mul_) and its int step as int (was a float32 array, lowering 0.9 ** step to float32);
    training on after the round trip equals torch's."""
    results = []
    for lib in (torch, tb):
        p = lib.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
        opt = _custom_adam(lib)([p])
        for i in range(6):
            if i == 3:
                fresh = _custom_adam(lib)([p])
                fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
                st = fresh.state[p]
                assert isinstance(st["m"], lib.Tensor) and type(st["step"]) is int
                opt = fresh
            opt.zero_grad()
            (p ** 3).sum().backward()
            opt.step()
        results.append(p.detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-14)


def test_custom_scheduler_subclassing_lrscheduler_and_old_name_like_torch():
    """A warm-up written as PyTorch users write it, subclassing ``_LRScheduler`` (was missing) or
    ``LRScheduler`` with only ``get_lr``: the same learning rates as torch, step by step."""
    rates = []
    for lib in (torch, tb):
        sched = lib.optim.lr_scheduler

        class Warmup(sched._LRScheduler):
            def __init__(self, opt, n, last_epoch=-1):
                self.n = n
                super().__init__(opt, last_epoch)

            def get_lr(self):
                return [b * min(1.0, (self.last_epoch + 1) / self.n) for b in self.base_lrs]

        class Decay(sched.LRScheduler):
            def get_lr(self):
                return [g["lr"] * 0.9 for g in self.optimizer.param_groups]

        p = lib.zeros(2, requires_grad=True)
        opt, opt2 = lib.optim.SGD([p], lr=0.1), lib.optim.SGD([p], lr=0.2)
        warm, decay = Warmup(opt, 5), Decay(opt2)
        seen = []
        for _ in range(7):
            opt.step(), opt2.step()
            warm.step(), decay.step()
            seen += warm.get_last_lr() + [opt2.param_groups[0]["lr"]]
        rates.append(seen)
    assert issubclass(tb.optim.lr_scheduler._LRScheduler, tb.optim.lr_scheduler.LRScheduler)
    np.testing.assert_allclose(rates[1], rates[0], rtol=1e-15)


def test_step_pre_and_post_hooks_like_torch():
    """register_step_pre_hook / register_step_post_hook (were missing): called with (optimizer, args, kwargs)
    around every step, also under a scheduler; remove() unregisters; a pre-hook may replace the arguments;
    any other return value raises RuntimeError."""
    logs, losses = [], []
    for lib in (torch, tb):
        p = lib.ones(2, requires_grad=True)
        opt, log = lib.optim.Adam([p], lr=0.1), []
        pre = opt.register_step_pre_hook(lambda o, args, kwargs: log.append(("pre", o is opt, len(args))))
        post = opt.register_step_post_hook(lambda o, args, kwargs: log.append(("post", o is opt, len(args))))
        sched = lib.optim.lr_scheduler.StepLR(opt, 1)
        (p * 2).sum().backward()
        opt.step()
        sched.step()
        pre.remove()
        opt.step()
        post.remove()
        post.remove()
        opt.step()
        opt.register_step_pre_hook(lambda o, args, kwargs: (args, {"closure": lambda: 7.0}))
        losses.append(opt.step())
        opt.register_step_pre_hook(lambda o, args, kwargs: 3)
        with pytest.raises(RuntimeError, match="must return None or a tuple of"):
            opt.step()
        logs.append(log)
        pickle.dumps(opt)
    assert logs[1] == logs[0] == [("pre", True, 1), ("post", True, 1), ("post", True, 1)]
    assert losses == [7.0, 7.0]


@pytest.mark.parametrize("name, kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                          ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                                          ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                          ("Adagrad", dict(lr=0.1))])
def test_optimizer_takes_over_torchs_state_dict(name, kwargs):
    """Train in torch, move weights and optimizer state into tinybptt, and both continue with the same steps."""
    lstm_t = torch.nn.LSTM(3, 4).double()
    opt_t = getattr(torch.optim, name)(lstm_t.parameters(), **kwargs)
    xs = np.random.default_rng(5).standard_normal((6, 5, 2, 3))

    def step(lib, model, opt, x):
        opt.zero_grad()
        out, _ = model(lib.tensor(x))
        (out ** 2).sum().backward()
        opt.step()

    for x in xs[:3]:
        step(torch, lstm_t, opt_t, x)
    lstm = nn.LSTM(3, 4, dtype=tb.float64)
    lstm.load_state_dict(lstm_t.state_dict())
    opt = getattr(optim, name)(lstm.parameters(), **kwargs)
    opt.load_state_dict(opt_t.state_dict())
    for x in xs[3:]:
        step(torch, lstm_t, opt_t, x)
        step(tb, lstm, opt, x)
    for (k, p), (_, q) in zip(lstm.named_parameters(), lstm_t.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
