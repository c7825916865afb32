"""Rprop, ASGD, Adafactor and LBFGS against torch.optim: same parameters, same gradients, step by step."""
import copy

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, optim

SHAPES = [(4, 3), (3,), (2, 3, 2), ()]
STEPS = 15

CONFIGS = [
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.05, etas=(0.6, 1.1), step_sizes=(0.01, 0.08), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.6, t0=4, weight_decay=0.1)),
    ("ASGD", dict(lr=0.02, t0=0, maximize=True, weight_decay=0.05)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.1, beta2_decay=-0.5, eps=(1e-8, 1e-2), d=1.5, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.05, eps=(None, 0.1), maximize=True, weight_decay=0.02)),
]
IDS = [f"{n}-{kw}" for n, kw in CONFIGS]


def pair(dtype, seed=0, steps=STEPS):
    """The same initial parameters as torch leaves and as tinybptt Parameters, plus a gradient stream
    (noise plus a pull towards zero, so that signs both persist and flip)."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    noise = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    ours = [nn.Parameter(a.copy()) for a in init]
    return theirs, ours, noise


def groups(params, extra):
    """Two parameter groups, the second with its own options."""
    return [{"params": params[:2]}, {"params": params[2:], **extra}]


def set_grads(theirs, ours, noise, missing=()):
    for i, (t, o, n) in enumerate(zip(theirs, ours, noise)):
        if i in missing:
            t.grad, o.grad = None, None
            continue
        g = (n + 0.8 * t.detach().numpy()).astype(n.dtype)
        t.grad, o.grad = torch.tensor(g), g.copy()


def assert_close(theirs, ours, dtype):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for t, o in zip(theirs, ours):
        assert o.dtype == dtype
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), **tol)


def to_numpy(value):
    """A torch state value as ours holds it: tensors as numpy, lists element by element."""
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    return value


def to_torch(value):
    """One of our state values as torch holds it: Tensors as torch tensors, lists element by element."""
    if isinstance(value, tb.Tensor):
        return torch.tensor(value.numpy())
    if isinstance(value, (list, tuple)):
        return type(value)(to_torch(v) for v in value)
    return value


def assert_same_state(tsd, osd, rtol=1e-10, atol=1e-12, loose=()):
    """Same param_groups, same state keys in the same order, values close (``loose`` keys to 1e-8,
    relative or absolute)."""
    assert osd["param_groups"] == tsd["param_groups"]
    assert tsd["state"].keys() == osd["state"].keys()
    for i in tsd["state"]:
        assert list(tsd["state"][i]) == list(osd["state"][i])
        for key, value in tsd["state"][i].items():
            theirs, ours = to_numpy(value), osd["state"][i][key]
            tol = dict(rtol=1e-8, atol=1e-8) if key in loose else dict(rtol=rtol, atol=atol)
            if isinstance(theirs, list):
                assert len(ours) == len(theirs), key
                for t, o in zip(theirs, ours):
                    assert (t is None) == (o is None), key
                    if t is not None:
                        np.testing.assert_allclose(o, t, **tol, err_msg=key)
            else:
                np.testing.assert_allclose(ours, theirs, **tol, err_msg=key)
                if isinstance(theirs, np.ndarray):
                    assert np.shape(ours) == theirs.shape and np.asarray(ours).dtype == theirs.dtype, key


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_every_step_matches_torch(name, kw, dtype):
    theirs, ours, noise = pair(dtype)
    extra = {"lr": kw.get("lr", 1e-2) * 2}
    topt = getattr(torch.optim, name)(groups(theirs, extra), **kw)
    oopt = getattr(optim, name)(groups(ours, extra), **kw)
    for n in noise:
        set_grads(theirs, ours, n)
        topt.step()
        oopt.step()
        assert_close(theirs, ours, dtype)
    assert_same_state(topt.state_dict(), oopt.state_dict(),
                      **(dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)))


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_missing_grads_and_state_dicts_interchange_with_torch(name, kw):
    """Some gradients missing on some steps; midway torch's state (as numpy) is loaded into a fresh
    optimizer of ours and ours into a fresh torch one, and all continue identically."""
    theirs, ours, noise = pair(np.float64, seed=1, steps=20)
    topt = getattr(torch.optim, name)(groups(theirs, {"lr": 0.02}), **kw)
    oopt = getattr(optim, name)(groups(ours, {"lr": 0.02}), **kw)
    for s, n in enumerate(noise[:10]):
        set_grads(theirs, ours, n, missing=[i for i in range(len(SHAPES)) if (s + i) % 4 == 0])
        topt.step()
        oopt.step()
    tsd, osd = topt.state_dict(), oopt.state_dict()
    ours2 = [nn.Parameter(t.detach().numpy().copy()) for t in theirs]
    oopt2 = getattr(optim, name)(groups(ours2, {}), lr=0.5)
    oopt2.load_state_dict({"state": {i: {k: to_numpy(v).copy() for k, v in s.items()} for i, s in tsd["state"].items()},
                           "param_groups": copy.deepcopy(tsd["param_groups"])})
    theirs2 = [torch.tensor(o.detach().numpy().copy(), requires_grad=True) for o in ours]
    topt2 = getattr(torch.optim, name)(groups(theirs2, {}), lr=0.5)
    topt2.load_state_dict({"state": {i: {k: to_torch(v) for k, v in s.items()} for i, s in osd["state"].items()},
                           "param_groups": copy.deepcopy(osd["param_groups"])})
    for n in noise[10:]:
        set_grads(theirs, ours2, n)
        set_grads(theirs2, ours, n)
        topt.step(), oopt2.step(), topt2.step(), oopt.step()
        assert_close(theirs, ours2, np.float64)
        assert_close(theirs2, ours, np.float64)
    assert_same_state(topt.state_dict(), oopt.state_dict())  # never reloaded: float32 eta, mu as torch's
    assert_same_state(topt2.state_dict(), oopt2.state_dict())  # reloaded: eta, mu cast to the parameter's dtype


@pytest.mark.parametrize("name", ["Rprop", "ASGD", "Adafactor", "LBFGS"])
def test_defaults_and_groups_match_torch(name):
    theirs, ours, _ = pair(np.float64)
    topt, oopt = getattr(torch.optim, name)(theirs), getattr(optim, name)(ours)
    assert oopt.defaults == topt.defaults
    assert oopt.state_dict() == {"state": {}, "param_groups": topt.state_dict()["param_groups"]}


def test_asgd_averages_from_t0_and_keeps_float32_eta_mu_like_torch():
    """ax is the running average of the parameter from step t0 on (a copy of it before); eta and mu are
    float32 numbers, so eta starts at float32(lr)."""
    theirs, ours, noise = pair(np.float64)
    topt, oopt = torch.optim.ASGD(theirs, lr=0.1, t0=5, lambd=0.001), optim.ASGD(ours, lr=0.1, t0=5, lambd=0.001)
    history = []
    for n in noise:
        set_grads(theirs, ours, n)
        topt.step()
        oopt.step()
        history.append(ours[0].detach().numpy().copy())
        st, so = topt.state[theirs[0]], oopt.state[ours[0]]
        assert so["eta"].dtype == so["mu"].dtype == np.float32
        assert (float(so["eta"]), float(so["mu"])) == (st["eta"].item(), st["mu"].item())
        np.testing.assert_allclose(so["ax"], st["ax"].numpy(), rtol=1e-12, atol=1e-14)
    # step t uses mu = 1 / max(1, t - 1 - t0): ax is a copy of p up to step t0 + 2, then the mean from
    # there (up to mu's float32 rounding)
    np.testing.assert_allclose(oopt.state[ours[0]]["ax"], np.mean(history[6:], axis=0), rtol=1e-6)


def test_adafactor_factors_the_last_two_dims():
    """row_var / col_var have the shapes of the means over the last and the second-last dims; 1-D and 0-D
    parameters keep a full 'variance'."""
    theirs, ours, noise = pair(np.float64)
    topt, oopt = torch.optim.Adafactor(theirs), optim.Adafactor(ours)
    set_grads(theirs, ours, noise[0])
    topt.step()
    oopt.step()
    shapes = [{k: np.shape(v) for k, v in oopt.state[o].items()} for o in ours]
    assert shapes == [{k: tuple(v.shape) for k, v in topt.state[t].items()} for t in theirs]
    assert shapes[2] == {"step": (), "row_var": (2, 3, 1), "col_var": (2, 1, 2)}
    assert shapes[1] == {"step": (), "variance": (3,)}


# ------------------------------------------------------------------ LBFGS

def smooth(lib, x, w, a, b):
    """A smooth non-quadratic function of a vector and a matrix (a least-squares term plus quartics)."""
    r = a @ x - b
    return (r * r).sum() + ((w * w - 1.0) ** 2).sum() + 0.3 * (x[:3].reshape(1, 3) * w).sum() + 0.1 * (x ** 4).sum()


def rosenbrock(lib, x, w, a, b):
    """Rosenbrock's valley over all 11 numbers, made bumpy: long line searches with zooming."""
    z = lib.cat([x, w.reshape(-1)])
    return (100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2).sum() + lib.sin(3 * z).sum()


def wavy(lib, x, w, a, b):
    """Many local minima and concave stretches."""
    z = lib.cat([x, w.reshape(-1)])
    return (lib.cos(2 * z) + 0.05 * z ** 2).sum() - lib.sin(z[:-1] * z[1:]).sum()


def lbfgs_pair(kw, dtype=np.float64, seed=0, objective=smooth):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((6, 5)).astype(dtype), rng.standard_normal(6).astype(dtype)
    init = [rng.standard_normal(5).astype(dtype), rng.standard_normal((2, 3)).astype(dtype)]
    theirs = [torch.tensor(v, requires_grad=True) for v in init]
    ours = [nn.Parameter(v.copy()) for v in init]
    topt, oopt = torch.optim.LBFGS(theirs, **kw), optim.LBFGS(ours, **kw)

    def tclosure():
        topt.zero_grad()
        loss = objective(torch, *theirs, torch.tensor(a), torch.tensor(b))
        loss.backward()
        return loss

    def oclosure():
        oopt.zero_grad()
        loss = objective(tb, *ours, tb.tensor(a), tb.tensor(b))
        loss.backward()
        return loss
    return theirs, ours, topt, oopt, tclosure, oclosure


LBFGS_CONFIGS = [
    (smooth, dict()),
    (smooth, dict(lr=0.1, max_iter=5, history_size=3)),
    (smooth, dict(lr=0.3, max_iter=4, max_eval=3, history_size=1)),
    (smooth, dict(line_search_fn="strong_wolfe")),
    (smooth, dict(line_search_fn="strong_wolfe", lr=0.5, max_iter=7, history_size=2)),
    (smooth, dict(line_search_fn="strong_wolfe", max_iter=3, max_eval=5)),
    (smooth, dict(line_search_fn="strong_wolfe", tolerance_grad=1e-3, tolerance_change=1e-4)),
    (smooth, dict(lr=0.2, tolerance_grad=1e-2, tolerance_change=1e-3)),
    (rosenbrock, dict(lr=0.001, history_size=2)),
    (rosenbrock, dict(line_search_fn="strong_wolfe")),
    (rosenbrock, dict(line_search_fn="strong_wolfe", lr=5, max_eval=4)),
    (rosenbrock, dict(line_search_fn="strong_wolfe", lr=20)),
    (wavy, dict(line_search_fn="strong_wolfe", lr=1e-4, max_eval=6)),  # the bracketing runs out of evaluations
    (wavy, dict(line_search_fn="strong_wolfe", lr=3)),
]
LBFGS_IDS = [f"{f.__name__}-{kw}" for f, kw in LBFGS_CONFIGS]
HISTORY = ("old_dirs", "old_stps", "ro", "al", "H_diag")


@pytest.mark.parametrize("objective,kw", LBFGS_CONFIGS, ids=LBFGS_IDS)
def test_lbfgs_every_step_matches_torch(objective, kw):
    """Parameters, returned loss, iteration and evaluation counts after each step, and the whole state."""
    theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(kw, objective=objective)
    for _ in range(8):
        tloss, oloss = topt.step(tclosure), oopt.step(oclosure)
        assert float(oloss) == pytest.approx(tloss.item(), rel=1e-10, abs=1e-12)
        assert_close(theirs, ours, np.float64)
        st, so = topt.state[theirs[0]], oopt.state[ours[0]]
        assert (so["func_evals"], so["n_iter"]) == (st["func_evals"], st["n_iter"])
    # the history (y = g - g_prev, s = t d, 1 / y.s, s.q / y.s, y.s / y.y) is made of differences of
    # nearly equal numbers near the minimum, and numpy's dot products sum in another order than
    # torch's: it agrees to ~1e-9, while the parameters it produces agree to 1e-10 or better; the
    # gradients (d, prev_flat_grad) to 1e-10 absolute (Rosenbrock's curvature is ~1e3)
    assert_same_state(topt.state_dict(), oopt.state_dict(), atol=1e-10, loose=HISTORY)


@pytest.mark.parametrize("kw", [LBFGS_CONFIGS[1][1], LBFGS_CONFIGS[4][1]], ids=str)
def test_lbfgs_state_dicts_interchange_with_torch(kw):
    """Midway, torch's state (as numpy) goes into a fresh LBFGS of ours and ours into a fresh torch one;
    all four continue identically (the history lists are loaded element by element)."""
    theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(kw)
    for _ in range(2):
        topt.step(tclosure), oopt.step(oclosure)
    theirs2, ours2, topt2, oopt2, tclosure2, oclosure2 = lbfgs_pair(kw)
    for t2, o2, t, o in zip(theirs2, ours2, theirs, ours):
        with torch.no_grad():
            t2.copy_(torch.tensor(o.detach().numpy()))
        o2.data = tb.tensor(t.detach().numpy().copy())
    tsd, osd = topt.state_dict(), oopt.state_dict()
    oopt2.load_state_dict({"state": {i: {k: to_numpy(copy.deepcopy(v)) for k, v in s.items()}
                                     for i, s in tsd["state"].items()},
                           "param_groups": copy.deepcopy(tsd["param_groups"])})
    topt2.load_state_dict({"state": {i: {k: to_torch(v) for k, v in s.items()} for i, s in osd["state"].items()},
                           "param_groups": copy.deepcopy(osd["param_groups"])})
    assert isinstance(oopt2.state[ours2[0]]["old_dirs"], list)
    for _ in range(3):
        topt.step(tclosure), oopt2.step(oclosure2), topt2.step(tclosure2), oopt.step(oclosure)
        assert_close(theirs, ours2, np.float64)
        assert_close(theirs2, ours, np.float64)
    assert_same_state(topt.state_dict(), oopt2.state_dict(), loose=HISTORY)


def test_lbfgs_float32_converges_to_torchs_minimum():
    """In float32 the forward passes differ in the last bits, so the line search's decisions may
    differ; both still reach the same minimum."""
    theirs, ours, topt, oopt, tclosure, oclosure = lbfgs_pair(dict(line_search_fn="strong_wolfe"), np.float32)
    for _ in range(5):
        topt.step(tclosure), oopt.step(oclosure)
    for t, o in zip(theirs, ours):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-3, atol=1e-4)


def test_lbfgs_errors_match_torch():
    """Parameter groups, an unknown line search, and a group added after construction."""
    def raised(make):
        with pytest.raises(Exception) as e:
            make()
        return type(e.value), str(e.value)
    for kind in ("groups", "line_search", "added"):
        results = []
        for lib in (torch, tb):
            p = lib.ones(3, requires_grad=True)
            q = lib.ones(2, requires_grad=True)

            def closure():
                opt.zero_grad()
                loss = ((p - 2) ** 2).sum()
                loss.backward()
                return loss
            if kind == "groups":
                results.append(raised(lambda: lib.optim.LBFGS([{"params": [p]}, {"params": [q], "lr": 0.1}])))
                continue
            opt = lib.optim.LBFGS([p], line_search_fn="wolfe" if kind == "line_search" else None)
            if kind == "added":
                opt.add_param_group({"params": [q]})
            results.append(raised(lambda: opt.step(closure)))
        assert results[1] == results[0], kind


def test_lbfgs_stops_at_once_when_already_optimal():
    """A zero gradient: one evaluation, no iteration, the parameters untouched, the loss returned."""
    for lib in (torch, tb):
        p = lib.tensor(np.array([2.0, 2.0]), requires_grad=True)
        opt = lib.optim.LBFGS([p])

        def closure():
            opt.zero_grad()
            loss = ((p - 2) ** 2).sum()
            loss.backward()
            return loss
        assert float(opt.step(closure)) == 0.0
        assert (opt.state[p]["func_evals"], opt.state[p]["n_iter"]) == (1, 0)
        np.testing.assert_array_equal(p.detach().numpy(), [2.0, 2.0])


@pytest.mark.parametrize("kw", [dict(history_size=10, max_iter=10), dict(line_search_fn="strong_wolfe", max_iter=10)],
                         ids=["fixed-step", "strong_wolfe"])
def test_lbfgs_trains_an_lstm_like_torch(kw):
    """An LSTM plus a linear head regressing a sequence target with full-batch L-BFGS; torch's copies of
    the same weights (loaded from our state_dict) give the same loss at every step."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 3, 2)), rng.standard_normal((6, 3, 1))
    lstm, head = nn.LSTM(2, 5).double(), nn.Linear(5, 1).double()
    tlstm, thead = torch.nn.LSTM(2, 5).double(), torch.nn.Linear(5, 1).double()
    tlstm.load_state_dict(lstm.state_dict())
    thead.load_state_dict(head.state_dict())
    oparams = list(lstm.parameters()) + list(head.parameters())
    tparams = list(tlstm.parameters()) + list(thead.parameters())
    oopt, topt = optim.LBFGS(oparams, lr=0.5, **kw), torch.optim.LBFGS(tparams, lr=0.5, **kw)

    def oclosure():
        oopt.zero_grad()
        loss = nn.functional.mse_loss(head(lstm(tb.tensor(x))[0]), tb.tensor(y))
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = torch.nn.functional.mse_loss(thead(tlstm(torch.tensor(x))[0]), torch.tensor(y))
        loss.backward()
        return loss
    losses = []
    for _ in range(6):
        tloss, oloss = topt.step(tclosure), oopt.step(oclosure)
        assert float(oloss) == pytest.approx(tloss.item(), rel=1e-9)
        assert oopt.state[oparams[0]]["func_evals"] == topt.state[tparams[0]]["func_evals"]
        losses.append(float(oloss))
    assert losses[-1] < 0.5 * losses[0]
    for o, t in zip(oparams, tparams):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-7, atol=1e-9)
