"""Optimizer state holds Tensors where torch.optim holds tensors, and numbers where it holds numbers.

Every optimizer runs a few steps in tinybptt and in torch 2.13 from the same parameters and gradients;
their states must have the same keys, the same kinds of values (our Tensor for a torch tensor, the same
Python type for a number), dtypes, shapes and values.  state_dict shares and copies what torch's does;
load_state_dict takes our own state dicts (also through save/load), older ones holding numpy arrays and
torch's, casting as torch does; a state tensor changed in place changes the next step, as in torch.
"""
import copy
import io
import pickle

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, optim
from test_torch_parity_optim2 import HISTORY, lbfgs_pair  # the LBFGS pair of runs and its objective

SHAPES = [(4, 3), (3,), (2, 3, 2), ()]
MUON_SHAPES = [(4, 3), (3, 5), (2, 6)]
STEPS = 4

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.4, 1.3), maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, t0=2, weight_decay=0.1, maximize=True)),
    ("Adafactor", dict(lr=0.05)),
    ("Adafactor", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Muon", dict(lr=0.02)),
    ("Muon", dict(lr=0.02, nesterov=False, weight_decay=0.0)),
]
IDS = [f"{n}-{kw}" for n, kw in CONFIGS]
WITH_STATE = [(n, kw) for n, kw in CONFIGS if n != "SGD" or kw.get("momentum")]
WITH_STATE_IDS = [f"{n}-{kw}" for n, kw in WITH_STATE]
DTYPES = [np.float64, np.float32]


class Run:
    """The same parameters in torch and tinybptt (two groups, the second with its own lr) with each
    library's optimizer, and a stream of gradients; ``step`` gives both the same gradients (the last
    parameter has none on the first step, so it gets its state a step later)."""

    def __init__(self, name, kw, dtype=np.float64, seed=0, steps=STEPS):
        rng = np.random.default_rng(seed)
        shapes = MUON_SHAPES if name == "Muon" else SHAPES
        self.name, self.kw, self.dtype = name, kw, dtype
        self.init = [rng.standard_normal(s).astype(dtype) for s in shapes]
        self.grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
        self.theirs = [torch.tensor(a, requires_grad=True) for a in self.init]
        self.ours = [nn.Parameter(a.copy()) for a in self.init]
        self.topt = self.make(torch.optim, self.theirs)
        self.oopt = self.make(optim, self.ours)
        self.done = 0

    def make(self, lib, params):
        """An optimizer of ``lib`` with this run's options over ``params``."""
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": self.kw["lr"] / 2}]
        return getattr(lib.optim if lib is torch else lib, self.name)(groups, **self.kw)

    def ours_again(self):
        """Fresh parameters of ours (the initial values) and a fresh optimizer of ours over them."""
        params = [nn.Parameter(a.copy()) for a in self.init]
        return params, self.make(optim, params)

    def step(self, count=1, libs=("theirs", "ours"), extra=()):
        """``count`` more steps of the stream, by both optimizers (and by the (params, optimizer) pairs in
        ``extra``, which follow the same stream)."""
        for _ in range(count):
            grads = self.grads[self.done % len(self.grads)]
            pairs = [(self.theirs, self.topt)] * ("theirs" in libs) + [(self.ours, self.oopt)] * ("ours" in libs)
            for params, opt in pairs + list(extra):
                for i, (p, g) in enumerate(zip(params, grads)):
                    missing = self.done == 0 and i == len(params) - 1
                    p.grad = None if missing else (torch.tensor(g) if isinstance(p, torch.Tensor) else g.copy())
                opt.step()
            self.done += 1


def torch_dtype_as_numpy(t):
    return t.detach().numpy().dtype


def assert_value_like(theirs, ours, where, rtol):
    """``ours`` is what torch's state value ``theirs`` is: our Tensor for a tensor (same dtype, shape,
    values to ``rtol``; not requiring grad), a list or tuple of such, None, or the same type of number."""
    if isinstance(theirs, torch.Tensor):
        assert type(ours) is tb.Tensor, f"{where}: {type(ours).__name__} where torch has a tensor"
        assert ours.dtype == torch_dtype_as_numpy(theirs), where
        assert ours.shape == tuple(theirs.shape), where
        assert not ours.requires_grad and ours.grad_fn is None, where
        if rtol == 0:
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=where)
        else:
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=rtol * 1e-2, err_msg=where)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (t, o) in enumerate(zip(theirs, ours)):
            assert_value_like(t, o, f"{where}[{i}]", rtol)
    elif theirs is None:
        assert ours is None, where
    else:
        assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} where torch has {type(theirs).__name__}"
        assert ours == pytest.approx(theirs, rel=rtol, abs=rtol * 1e-2), where


def assert_state_like(tstate, ostate, rtol, where="state"):
    """Two per-parameter states (dicts): the same keys in the same order, each value like torch's."""
    assert list(ostate) == list(tstate), where
    for key, value in tstate.items():
        assert_value_like(value, ostate[key], f"{where}[{key!r}]", rtol)


def assert_states_like(run, rtol):
    for t, o in zip(run.theirs, run.ours):
        assert (t in run.topt.state) == (o in run.oopt.state)
        if t in run.topt.state:
            assert_state_like(run.topt.state[t], run.oopt.state[o], rtol)


def assert_state_dicts_like(tsd, osd, rtol):
    assert osd["param_groups"] == tsd["param_groups"]
    assert list(osd["state"]) == list(tsd["state"])
    for i, tstate in tsd["state"].items():
        assert_state_like(tstate, osd["state"][i], rtol, f"state_dict()['state'][{i}]")


def assert_params_equal(theirs, ours, rtol=0):
    for t, o in zip(theirs, ours):
        if rtol == 0:
            np.testing.assert_array_equal(o.detach().numpy(), t.detach().numpy())
        else:
            np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)


def tolerance(dtype):
    """How close our values are to torch's: the updates are the same operations rounded the same way, but a
    few (sqrt and division chains, Muon's Newton-Schulz) may differ in the last bits."""
    return 1e-12 if dtype == np.float64 else 1e-5


def as_numpy_state_dict(sd):
    """A state dict as older tinybptt versions made it: numpy arrays (0-d for the scalars) for the Tensors."""
    def convert(v):
        if isinstance(v, tb.Tensor):
            return v.numpy().copy()
        return type(v)(convert(x) for x in v) if isinstance(v, (list, tuple)) else v
    return {"state": {i: {k: convert(v) for k, v in s.items()} for i, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


def tensors_of(state):
    """The (key, Tensor) pairs of one parameter's state."""
    return [(k, v) for k, v in state.items() if isinstance(v, (tb.Tensor, torch.Tensor))]


# ------------------------------------------------------------------ the state after steps
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_values_are_what_torch_has(name, kw, dtype):
    """After each step: same keys, Tensors where torch has tensors, same dtypes, shapes and values."""
    run = Run(name, kw, dtype)
    for _ in range(STEPS):
        run.step()
        assert_params_equal(run.theirs, run.ours, tolerance(dtype))
        assert_states_like(run, tolerance(dtype))
    if name == "SGD" and not kw.get("momentum"):
        assert not run.oopt.state and not run.topt.state
    else:
        assert len(run.oopt.state) == len(run.ours)


@pytest.mark.parametrize("name,kw", WITH_STATE, ids=WITH_STATE_IDS)
def test_held_state_tensors_follow_the_steps(name, kw):
    """A state Tensor a user holds stays the optimizer's (the steps update it in place), as in torch."""
    run = Run(name, kw, np.float32)
    run.step(2)
    held = [(t, o, k, run.topt.state[t][k], v, run.topt.state[t][k].numpy().copy(), v.numpy().copy())
            for t, o in zip(run.theirs, run.ours) for k, v in tensors_of(run.oopt.state[o])]
    assert held
    run.step()
    for t, o, key, theirs, ours, theirs_before, ours_before in held:
        assert run.topt.state[t][key] is theirs and run.oopt.state[o][key] is ours, key
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-7, err_msg=key)
        changed = not np.array_equal(theirs.numpy(), theirs_before)
        assert changed == (not np.array_equal(ours.numpy(), ours_before)), key  # changed in place, or not


def test_state_tensors_work_as_torch_users_use_them():
    """norm, clone, numpy, item, arithmetic and comparisons on Adam's state give torch's numbers."""
    run = Run("Adam", dict(lr=0.01, amsgrad=True))
    run.step(3)
    ts, os_ = run.topt.state[run.theirs[0]], run.oopt.state[run.ours[0]]
    assert os_["exp_avg"].norm().item() == pytest.approx(ts["exp_avg"].norm().item(), rel=1e-14)
    assert os_["step"].item() == ts["step"].item() == 3.0 and isinstance(os_["step"].item(), float)
    clone = os_["exp_avg_sq"].clone()
    assert type(clone) is tb.Tensor and clone.numpy() is not os_["exp_avg_sq"].numpy()
    np.testing.assert_allclose((os_["exp_avg"] * 2 - os_["exp_avg"]).numpy(), ts["exp_avg"].numpy(), rtol=1e-14)
    assert bool((os_["max_exp_avg_sq"] >= os_["exp_avg_sq"]).all())
    run.step()
    assert not np.array_equal(clone.numpy(), os_["exp_avg_sq"].numpy())  # the clone stayed behind


def test_a_state_tensor_saved_for_backward_then_stepped_raises_as_in_torch():
    """The steps count as in-place changes of the state tensors (their versions move), so a graph that
    used one before a step refuses its backward, as torch's does."""
    for lib, side in ((torch, "theirs"), (tb, "ours")):
        run = Run("Adam", dict(lr=0.01))
        run.step(libs=(side,))
        params, opt = (run.theirs, run.topt) if lib is torch else (run.ours, run.oopt)
        w = lib.ones(params[0].shape, dtype=lib.float64, requires_grad=True)
        y = (opt.state[params[0]]["exp_avg"] * w).sum()
        run.step(libs=(side,))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


# ------------------------------------------------------------------ state_dict
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_is_laid_out_and_shared_as_torchs(name, kw):
    """Same param_groups and state; the per-parameter dicts and their Tensors are the optimizer's own
    exactly where torch's are (and the groups copies where torch's are)."""
    run = Run(name, kw)
    run.step(STEPS)
    tsd, osd = run.topt.state_dict(), run.oopt.state_dict()
    assert_state_dicts_like(tsd, osd, tolerance(np.float64))
    for i, (t, o) in enumerate(p for p in zip(run.theirs, run.ours) if p[0] in run.topt.state):
        assert tsd["state"][i] is run.topt.state[t] and osd["state"][i] is run.oopt.state[o]
        for key, value in tensors_of(tsd["state"][i]):
            assert (osd["state"][i][key] is run.oopt.state[o][key]) == (value is run.topt.state[t][key])
    assert tsd["param_groups"][0] is not run.topt.param_groups[0]
    assert osd["param_groups"][0] is not run.oopt.param_groups[0]
    # so a step after state_dict() shows in it (in both), and a deepcopy is a snapshot
    snapshot = copy.deepcopy(osd)
    run.step()
    if osd["state"]:
        key, value = tensors_of(osd["state"][0])[-1]
        tkey, tvalue = tensors_of(tsd["state"][0])[-1]
        assert key == tkey
        np.testing.assert_allclose(value.numpy(), tvalue.numpy(), rtol=1e-12, atol=1e-14)
        assert not np.array_equal(value.numpy(), snapshot["state"][0][key].numpy())


# ------------------------------------------------------------------ load_state_dict
def reloaded(run, source_sd, lib):
    """A fresh optimizer of ``lib`` over copies of the current parameters of ``run`` (of that library),
    loaded with ``source_sd``: (its parameters, it)."""
    if lib is torch:
        params = [torch.tensor(t.detach().numpy().copy(), requires_grad=True) for t in run.theirs]
        opt = run.make(torch, params)
    else:
        params, opt = run.ours_again()
        for p, o in zip(params, run.ours):
            p.data = o.detach().clone()
    opt.load_state_dict(source_sd)
    return params, opt


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", WITH_STATE, ids=WITH_STATE_IDS)
def test_save_load_round_trip_continues_as_torchs_round_trip(name, kw, dtype, tmp_path):
    """state_dict -> tinybptt.save -> tinybptt.load -> a fresh optimizer's load_state_dict gives the state
    torch's own round trip gives (the same values; Tensors of the same dtypes, 0-d 'step' included, where
    torch casts a float32 mu_product, eta or mu to a float64 parameter's dtype, so do we), and both go on
    alike.  In float32 nothing is cast, and the reloaded run goes on exactly as the uninterrupted one."""
    run = Run(name, kw, dtype)
    run.step(2)
    tb.save({"optim": run.oopt.state_dict()}, tmp_path / "ckpt")
    loaded = tb.load(tmp_path / "ckpt")["optim"]
    params, opt = reloaded(run, loaded, tb)
    tparams, topt = reloaded(run, copy.deepcopy(run.topt.state_dict()), torch)  # else they share tensors
    for p, o, t in zip(params, run.ours, tparams):
        assert_state_like(topt.state[t], opt.state[p], tolerance(dtype))
        for key, value in run.oopt.state[o].items():
            np.testing.assert_array_equal(opt.state[p][key].numpy(), value.numpy().astype(opt.state[p][key].dtype))
    assert opt.param_groups[1]["lr"] == run.kw["lr"] / 2
    run.step(2, extra=[(params, opt), (tparams, topt)])
    assert_params_equal(tparams, params, tolerance(dtype))
    for p, t in zip(params, tparams):
        assert_state_like(topt.state[t], opt.state[p], tolerance(dtype))
    if dtype == np.float32:
        assert_params_equal(run.ours, params)
        for p, o in zip(params, run.ours):
            for key, value in run.oopt.state[o].items():
                np.testing.assert_array_equal(opt.state[p][key].numpy(), value.numpy(), err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", WITH_STATE, ids=WITH_STATE_IDS)
def test_torchs_state_dict_loads_into_ours_as_into_torch(name, kw, dtype):
    """torch's own state_dict (torch tensors) into a fresh optimizer of ours gives what it gives in a fresh
    torch optimizer (our Tensors, copies: our steps never write into torch's tensors), and the two go on
    alike."""
    run = Run(name, kw, dtype)
    run.step(2, libs=("theirs",))
    for o, t in zip(run.ours, run.theirs):
        o.data = tb.tensor(t.detach().numpy().copy())
    tsd = run.topt.state_dict()
    tparams, topt = reloaded(run, copy.deepcopy(tsd), torch)  # else the two torch optimizers share tensors
    run.oopt.load_state_dict(tsd)
    for t, o in zip(tparams, run.ours):
        assert_state_like(topt.state[t], run.oopt.state[o], 0)
    snapshot = copy.deepcopy(tsd)
    run.step(2, libs=("ours",), extra=[(tparams, topt)])
    assert_params_equal(tparams, run.ours, tolerance(dtype))
    for i, state in tsd["state"].items():  # the source's tensors are untouched
        for key, value in tensors_of(state):
            assert torch.equal(value, snapshot["state"][i][key]), key
    for t, o in zip(tparams, run.ours):
        assert_state_like(topt.state[t], run.oopt.state[o], tolerance(dtype))


@pytest.mark.parametrize("name,kw", WITH_STATE, ids=WITH_STATE_IDS)
def test_older_numpy_state_dicts_load_as_tensors(name, kw):
    """A state dict holding numpy arrays (as tinybptt's optimizers made them before) loads as Tensors of
    copies, and the run continues as if uninterrupted."""
    run = Run(name, kw, np.float32)
    run.step(2, libs=("ours",))
    old = as_numpy_state_dict(run.oopt.state_dict())
    params, opt = run.ours_again()
    for p, o in zip(params, run.ours):
        p.data = o.detach().clone()
    opt.load_state_dict(old)
    for i, p in enumerate(params):
        for key, value in opt.state[p].items():
            assert type(value) is tb.Tensor and value.dtype == old["state"][i][key].dtype, key
            assert value.numpy() is not old["state"][i][key]
    run.step(2, libs=("ours",), extra=[(params, opt)])
    assert_params_equal(run.ours, params)


@pytest.mark.parametrize("name,kw", WITH_STATE, ids=WITH_STATE_IDS)
def test_loading_casts_and_shares_as_torch(name, kw):
    """A float64 state into float32 parameters: every tensor but 'step' is cast to float32, as torch's; a
    float32 state into float32 parameters: the very Tensors are taken (torch's ``.to`` returns the tensor
    itself), 'step' always.  Then both go on alike."""
    wide, narrow = Run(name, kw, np.float64), Run(name, kw, np.float32)
    wide.step(2)
    narrow.step(2)
    for source in (wide, narrow):
        run = Run(name, kw, np.float32, seed=1)
        tsd, osd = source.topt.state_dict(), source.oopt.state_dict()
        run.topt.load_state_dict(tsd)
        run.oopt.load_state_dict(osd)
        assert_states_like(run, tolerance(np.float32))
        for i, (t, o) in enumerate(zip(run.theirs, run.ours)):
            for key, value in tensors_of(run.topt.state[t]):
                shared = value is tsd["state"][i][key]
                assert (run.oopt.state[o][key] is osd["state"][i][key]) == shared, key
                assert shared == (key == "step" or tsd["state"][i][key].dtype == torch.float32), key
        run.step(2)
        assert_params_equal(run.theirs, run.ours, tolerance(np.float32))
        assert_states_like(run, tolerance(np.float32))


@pytest.mark.parametrize("name,extra", [("Adam", {}), ("Rprop", {}), ("Adagrad", {}), ("Adafactor", {}),
                                        ("NAdam", {"mu_product": 0.75}), ("ASGD", {"eta": 0.02, "mu": 1})])
def test_loaded_numbers_become_0d_tensors_as_torch_makes_them(name, extra):
    """'step' (and NAdam's mu_product, ASGD's eta and mu) given as Python numbers become 0-d float32 Tensors
    in the built-in optimizers, as torch's __setstate__ makes them; the steps go on alike."""
    kw = dict(lr=0.05)
    source = Run(name, kw, np.float64)
    source.step(2)
    run = Run(name, kw, np.float64, seed=1)
    sd = source.topt.state_dict()
    for opt in (run.topt, run.oopt):
        opt.load_state_dict({"state": {i: {**s, "step": 2, **extra} for i, s in sd["state"].items()},
                             "param_groups": sd["param_groups"]})
    for o in run.ours:
        assert run.oopt.state[o]["step"].dtype == np.float32 and run.oopt.state[o]["step"].shape == ()
    assert_states_like(run, 0)
    run.step(2)
    assert_params_equal(run.theirs, run.ours, 1e-12)
    assert_states_like(run, 1e-12)


def test_numbers_stay_numbers_where_torch_keeps_them():
    """SGD's loaded state keeps a None momentum buffer (the next step starts one from the gradient, as
    torch's); torch's int 'step' tensor stays int64."""
    run = Run("SGD", dict(lr=0.1, momentum=0.9))
    for opt in (run.topt, run.oopt):
        opt.load_state_dict({"state": {i: {"momentum_buffer": None} for i in range(4)},
                             "param_groups": opt.state_dict()["param_groups"]})
    assert_states_like(run, 0)
    run.step(2)
    assert_states_like(run, 1e-12)
    run = Run("Adam", dict(lr=0.01))
    source = Run("Adam", dict(lr=0.01))
    source.step(2)
    sd = source.topt.state_dict()
    for opt, to_int in ((run.topt, torch.tensor), (run.oopt, tb.tensor)):
        opt.load_state_dict({"state": {i: {**s, "step": to_int(2)} for i, s in sd["state"].items()},
                             "param_groups": sd["param_groups"]})
    assert run.oopt.state[run.ours[0]]["step"].dtype == np.int64
    assert_states_like(run, 0)
    run.step(2)
    assert_params_equal(run.theirs, run.ours, 1e-12)
    assert_states_like(run, 1e-12)


def test_loading_casts_every_tensor_but_step_as_torch():
    """torch casts every loaded tensor (an integer one too) to a floating parameter's dtype, but a 'step'
    (also inside a nested dict); lists and dicts are loaded element by element, numbers and None kept."""
    run = Run("Adam", dict(lr=0.01), np.float32)

    def extra(lib):
        t = torch.tensor if lib is torch else tb.tensor
        return {"counts": t(np.arange(3, dtype=np.int64)), "history": [t(np.array(1, np.int32)), 3, None, 2.5],
                "pair": (t(np.zeros(2)), 7), "nested": {"step": t(np.array(4, np.int32)), "x": t(np.ones(2))}}
    for lib, opt in ((torch, run.topt), (tb, run.oopt)):
        sd = opt.state_dict()
        opt.load_state_dict({"state": {0: {"step": 0.0, **extra(lib)}}, "param_groups": sd["param_groups"]})
    ts, os_ = run.topt.state[run.theirs[0]], run.oopt.state[run.ours[0]]
    assert_state_like({k: v for k, v in ts.items() if k != "nested"}, {k: v for k, v in os_.items() if k != "nested"}, 0)
    assert_state_like(ts["nested"], os_["nested"], 0)
    assert os_["counts"].dtype == np.float32 and os_["nested"]["step"].dtype == np.int32
    # a string stays itself (torch 2.13 takes it for an iterable and stores the repr of a generator)
    run.oopt.load_state_dict({"state": {0: {"step": 0.0, "note": "warm start"}},
                              "param_groups": run.oopt.state_dict()["param_groups"]})
    assert run.oopt.state[run.ours[0]]["note"] == "warm start"


# ------------------------------------------------------------------ changing the state in place
def edit_in_place(opt, params, lib, how):
    """Change every state tensor in place: 'step' + 3, others * 0.5 (under no_grad, or through .data)."""
    for p in params:
        for key, value in tensors_of(opt.state[p]):
            target = value.data if how == "data" else value
            with (torch.no_grad() if lib is torch else tb.no_grad()):
                if key == "step":
                    target.add_(3)
                else:
                    target.mul_(0.5)


@pytest.mark.parametrize("how", ["no_grad", "data"])
@pytest.mark.parametrize("name,kw", WITH_STATE, ids=WITH_STATE_IDS)
def test_state_changed_in_place_changes_the_next_step_as_in_torch(name, kw, how):
    run = Run(name, kw)
    control_params, control = run.ours_again()
    run.step(2, extra=[(control_params, control)])
    edit_in_place(run.topt, run.theirs, torch, how)
    edit_in_place(run.oopt, run.ours, tb, how)
    run.step(1, extra=[(control_params, control)])
    assert_params_equal(run.theirs, run.ours, 1e-12)
    assert_states_like(run, 1e-12)
    assert any(not np.array_equal(p.detach().numpy(), c.detach().numpy())
               for p, c in zip(run.ours, control_params))  # the edit mattered


def test_a_replaced_state_tensor_is_used_by_the_next_step():
    run = Run("RMSprop", dict(lr=0.01, momentum=0.9, centered=True))
    run.step(2)
    t, o = run.theirs[0], run.ours[0]
    run.topt.state[t]["grad_avg"] = torch.full(t.shape, 0.25, dtype=torch.float64)
    run.oopt.state[o]["momentum_buffer"] = tb.full(o.shape, -0.5, dtype=tb.float64)
    run.topt.state[t]["momentum_buffer"] = torch.full(t.shape, -0.5, dtype=torch.float64)
    run.oopt.state[o]["grad_avg"] = tb.full(o.shape, 0.25, dtype=tb.float64)
    run.step(2)
    assert_params_equal(run.theirs, run.ours, 1e-12)
    assert_states_like(run, 1e-12)


# ------------------------------------------------------------------ LBFGS
LBFGS_CASES = [dict(), dict(lr=0.1, max_iter=5, history_size=3), dict(line_search_fn="strong_wolfe"),
               dict(line_search_fn="strong_wolfe", lr=0.5, max_iter=7, history_size=2),
               dict(line_search_fn="strong_wolfe", tolerance_grad=1e-3, tolerance_change=1e-4),
               dict(lr=1, max_iter=2), dict(lr=0.3, max_iter=1)]


def assert_lbfgs_like(topt, oopt, theirs, ours):
    """LBFGS's one state (with the first parameter): numbers where torch has numbers ('func_evals',
    'n_iter', 'prev_loss', 't' and 'H_diag' while they are lr and 1), Tensors where it has tensors; the
    history (differences of nearly equal numbers, summed in another order) to 1e-8."""
    ts, os_ = topt.state[theirs[0]], oopt.state[ours[0]]
    assert list(os_) == list(ts) and len(oopt.state) == len(topt.state) == 1
    for key, value in ts.items():
        assert_value_like(value, os_[key], key, 1e-8 if key in HISTORY else 1e-10)


@pytest.mark.parametrize("kw", LBFGS_CASES, ids=str)
def test_lbfgs_state_has_torchs_types(kw):
    """After every step the types and values are torch's, and a Tensor or list kept from one step to the
    next (the same object) is kept in ours too, a new one made where torch makes a new one."""
    theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(kw)
    for _ in range(5):
        ts, os_ = dict(topt.state[theirs[0]]), dict(oopt.state[ours[0]])
        topt.step(tclosure), oopt.step(oclosure)
        assert_lbfgs_like(topt, oopt, theirs, ours)
        for key, value in ts.items():
            if isinstance(value, (torch.Tensor, list)):
                kept = topt.state[theirs[0]][key] is value
                assert (oopt.state[ours[0]][key] is os_[key]) == kept, key


def test_lbfgs_t_and_h_diag_are_numbers_or_tensors_as_in_torch():
    """Both kinds occur: 't' is lr (a number) after plain iterations, a tensor out of the first one's
    1 / sum|g| or a line search; 'H_diag' stays the number 1 until a curvature pair is kept."""
    kinds = set()
    for kw in LBFGS_CASES:
        theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(kw)
        for _ in range(3):
            topt.step(tclosure), oopt.step(oclosure)
            state = oopt.state[ours[0]]
            kinds.add((type(state["t"]).__name__, type(state["H_diag"]).__name__))
    assert {k[0] for k in kinds} >= {"Tensor", "float"} and {k[1] for k in kinds} >= {"Tensor", "int"}


@pytest.mark.parametrize("kw", [LBFGS_CASES[1], LBFGS_CASES[3]], ids=str)
def test_lbfgs_round_trips(kw, tmp_path):
    """Ours through save/load into a fresh LBFGS continues as the uninterrupted run; torch's state_dict
    loaded into ours has torch's types and continues as torch."""
    theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(kw)
    for _ in range(2):
        topt.step(tclosure), oopt.step(oclosure)
    tb.save(oopt.state_dict(), tmp_path / "lbfgs")
    theirs2, ours2, topt2, oopt2, tclosure2, oclosure2 = lbfgs_pair(kw)
    theirs3, ours3, topt3, oopt3, tclosure3, oclosure3 = lbfgs_pair(kw)
    for o2, o3, o, t in zip(ours2, ours3, ours, theirs):
        o2.data = o.detach().clone()
        o3.data = tb.tensor(t.detach().numpy().copy())
    oopt2.load_state_dict(tb.load(tmp_path / "lbfgs"))
    oopt3.load_state_dict(topt.state_dict())
    assert_lbfgs_like(topt, oopt3, theirs, ours3)
    for _ in range(3):
        topt.step(tclosure), oopt.step(oclosure), oopt2.step(oclosure2), oopt3.step(oclosure3)
        assert_params_equal(ours, ours2)
        assert_params_equal(theirs, ours3, 1e-10)
    assert_lbfgs_like(topt, oopt3, theirs, ours3)
    assert_value_like(topt.state[theirs[0]]["d"], oopt2.state[ours2[0]]["d"], "d", 1e-10)


def test_lbfgs_float32_state_types():
    """float32 parameters: float32 Tensors where torch has float32 tensors, numbers where it has numbers."""
    theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(dict(lr=0.1, max_iter=3), np.float32)
    topt.step(tclosure), oopt.step(oclosure)
    ts, os_ = topt.state[theirs[0]], oopt.state[ours[0]]
    for key, value in ts.items():
        assert_value_like(value, os_[key], key, 1e-3)


# ------------------------------------------------------------------ the rest of the optimizer API
def test_default_dtype_float64_makes_the_scalar_state_float64():
    saved = torch.get_default_dtype(), tb.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    tb.set_default_dtype(tb.float64)
    try:
        for name, kw in [("Adam", dict(lr=0.01)), ("NAdam", dict(lr=0.01)), ("ASGD", dict(lr=0.05)),
                         ("Adagrad", dict(lr=0.1)), ("Rprop", dict(lr=0.01))]:
            run = Run(name, kw)
            run.step(2)
            assert_states_like(run, 1e-12)
            assert run.oopt.state[run.ours[0]]["step"].dtype == np.float64
    finally:
        torch.set_default_dtype(saved[0])
        tb.set_default_dtype(saved[1])


def through_torch_save(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)  # our classes are not torch's weights-only allowlist


@pytest.mark.parametrize("how", ["deepcopy", "pickle", "torch.save"])
def test_copied_optimizers_have_their_own_state_tensors(how):
    """deepcopy, pickle and torch.save/torch.load of (params, optimizer): the copy's state holds its own
    Tensors (as a deepcopy of torch's optimizer does) and goes on as the original."""
    run = Run("Adam", dict(lr=0.01, amsgrad=True))
    run.step(2)
    copied = {"deepcopy": copy.deepcopy, "pickle": lambda x: pickle.loads(pickle.dumps(x)),
              "torch.save": through_torch_save}[how]
    params, opt = copied((run.ours, run.oopt))
    tcopy = copy.deepcopy(run.topt)
    assert tcopy.state[tcopy.param_groups[0]["params"][0]]["exp_avg"] is not run.topt.state[run.theirs[0]]["exp_avg"]
    for p, o in zip(params, run.ours):
        for key, value in opt.state[p].items():
            assert type(value) is tb.Tensor and value.numpy() is not run.oopt.state[o][key].numpy()
    run.step(2, libs=("ours",), extra=[(params, opt)])
    assert_params_equal(run.ours, params)


def test_schedulers_zero_grad_and_added_groups_keep_torchs_state():
    """StepLR changing the lr, zero_grad(set_to_none=False) leaving zero gradients that still step (one
    parameter gets no new gradient on step 4), and a group added midway."""
    rng = np.random.default_rng(3)
    init = [rng.standard_normal(s) for s in SHAPES]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    ours = [nn.Parameter(a.copy()) for a in init]
    topt = torch.optim.Adam([{"params": theirs[:2]}, {"params": theirs[2:3], "lr": 0.02}], lr=0.05)
    oopt = optim.Adam([{"params": ours[:2]}, {"params": ours[2:3], "lr": 0.02}], lr=0.05)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    osched = optim.lr_scheduler.StepLR(oopt, step_size=2, gamma=0.5)
    for s in range(6):
        if s == 3:
            topt.add_param_group({"params": [theirs[3]], "lr": 0.01})
            oopt.add_param_group({"params": [ours[3]], "lr": 0.01})
        for i, (t, o) in enumerate(zip(theirs[:3 + (s >= 3)], ours)):
            if not (s == 4 and i == 0):
                g = rng.standard_normal(t.shape)
                t.grad, o.grad = torch.tensor(g), g.copy()
        topt.step(), oopt.step()
        tsched.step(), osched.step()
        topt.zero_grad(set_to_none=False), oopt.zero_grad(set_to_none=False)
    assert_params_equal(theirs, ours, 1e-12)
    assert_state_dicts_like(topt.state_dict(), oopt.state_dict(), 1e-12)
    assert oopt.state[ours[0]]["step"].item() == 6 and oopt.state[ours[3]]["step"].item() == 3


def test_swa_with_swalr_keeps_torchs_state():
    """SGD with momentum under SWALR, averaged by AveragedModel: the same averages and optimizer state."""
    run = Run("SGD", dict(lr=0.1, momentum=0.9))
    tmodel, omodel = torch.nn.Linear(3, 2).double(), nn.Linear(3, 2)
    omodel.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})
    omodel.double()
    tavg, oavg = torch.optim.swa_utils.AveragedModel(tmodel), optim.swa_utils.AveragedModel(omodel)
    tswa = torch.optim.swa_utils.SWALR(run.topt, swa_lr=0.02, anneal_epochs=2)
    oswa = optim.swa_utils.SWALR(run.oopt, swa_lr=0.02, anneal_epochs=2)
    for _ in range(4):
        run.step()
        tswa.step(), oswa.step()
        with torch.no_grad():
            tmodel.weight.copy_(run.theirs[0][:2])
        omodel.weight.data = tb.tensor(run.ours[0].detach().numpy()[:2].copy())
        tavg.update_parameters(tmodel), oavg.update_parameters(omodel)
    assert_params_equal(run.theirs, run.ours, 1e-12)
    assert_states_like(run, 1e-12)
    np.testing.assert_allclose(oavg.module.weight.detach().numpy(), tavg.module.weight.detach().numpy(),
                               rtol=1e-12)
    assert oavg.n_averaged.item() == tavg.n_averaged.item() == 4
