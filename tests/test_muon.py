"""tinybptt.optim.Muon against torch.optim.Muon: every step, bfloat16 Newton-Schulz included."""
import numpy as np
import pytest
import torch
from torch.optim._muon import _zeropower_via_newtonschulz as torch_newton_schulz

import tinybptt as tb
from tinybptt import nn, optim
from tinybptt.optim.muon import _zeropower_via_newtonschulz

SHAPES = [(4, 7), (9, 3), (5, 5), (1, 6), (70, 20), (18, 130)]
STEPS = 12

CONFIGS = [
    dict(),
    dict(lr=0.02, nesterov=False),
    dict(lr=0.05, adjust_lr_fn="match_rms_adamw", weight_decay=0.0),
    dict(lr=0.1, momentum=0.0, ns_steps=2, adjust_lr_fn="original"),
    dict(lr=0.03, ns_coefficients=(2.0, -1.5, 0.5), ns_steps=7, weight_decay=0.3),
    dict(lr=0.01, eps=10.0, momentum=0.5),  # the clamped norm: the start is grad / eps
    dict(lr=0.01, ns_steps=0),
]
IDS = [str(kw) for kw in CONFIGS]


def pair(dtype, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[(rng.standard_normal(s) * rng.choice([1e-3, 1.0, 30.0])).astype(dtype) for s in SHAPES]
             for _ in range(STEPS)]
    return [torch.tensor(a, requires_grad=True) for a in init], [nn.Parameter(a) for a in init], grads


def groups(params, extra):
    return [{"params": params[:3]}, {"params": params[3:], **extra}]


def assert_same(theirs, ours, dtype):
    for t, o in zip(theirs, ours):
        assert o.dtype == dtype
        if dtype == np.float32:  # bit for bit
            np.testing.assert_array_equal(o.detach().numpy(), t.detach().numpy())
        else:
            np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", CONFIGS, ids=IDS)
def test_every_step_matches_torch(kw, dtype):
    theirs, ours, grads = pair(dtype)
    extra = {"lr": kw.get("lr", 1e-3) * 3, "nesterov": not kw.get("nesterov", True)}
    topt, oopt = torch.optim.Muon(groups(theirs, extra), **kw), optim.Muon(groups(ours, extra), **kw)
    for step, gs in enumerate(grads):
        for i, (t, o, g) in enumerate(zip(theirs, ours, gs)):
            if step == 3 and i == 1:
                g = np.zeros_like(g)  # a zero gradient: the norm is clamped at eps
            t.grad, o.grad = (None, None) if (step + i) % 5 == 4 else (torch.tensor(g), g.copy())
        topt.step()
        oopt.step()
        assert_same(theirs, ours, dtype)
    tsd, osd = topt.state_dict(), oopt.state_dict()
    assert osd["param_groups"] == tsd["param_groups"]
    assert osd["state"].keys() == tsd["state"].keys()
    for i, s in tsd["state"].items():
        assert list(osd["state"][i]) == list(s) == ["momentum_buffer"]
        np.testing.assert_allclose(osd["state"][i]["momentum_buffer"], s["momentum_buffer"].numpy(),
                                   rtol=1e-12 if dtype == np.float64 else 0, atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 3), (3, 2), (16, 16), (3, 64), (64, 3), (5, 70),
                                   (70, 5), (33, 65), (65, 33), (20, 143), (143, 20), (40, 40)])
@pytest.mark.parametrize("scale", [1e-4, 1.0, 100.0])
def test_newton_schulz_is_torchs_bit_for_bit(shape, scale):
    """The bfloat16 iteration, with torch's float32 sums in the order its kernels use for each layout."""
    rng = np.random.default_rng(hash(shape) % 1000)
    g = rng.standard_normal(shape) * scale
    for coefficients, steps in (((3.4445, -4.7750, 2.0315), 5), ((1.5, -0.5, 0.0), 3)):
        expected = torch_newton_schulz(torch.tensor(g), coefficients, steps, 1e-7).float().numpy()
        got = _zeropower_via_newtonschulz(g, coefficients, steps, 1e-7)
        np.testing.assert_array_equal(got, expected)
        assert got.shape == shape and got.dtype == np.float32


def test_muon_for_lstm_weights_with_adamw_for_the_rest_matches_torch():
    """The documented pattern: Muon on the 2-D weights of an LSTM + Linear, AdamW on the biases, with
    real backward passes in float64, compared after every step."""
    rng = np.random.default_rng(3)
    tlstm, thead = torch.nn.LSTM(4, 6, batch_first=True).double(), torch.nn.Linear(6, 3).double()
    olstm, ohead = nn.LSTM(4, 6, batch_first=True).double(), nn.Linear(6, 3).double()
    olstm.load_state_dict({k: v.numpy() for k, v in tlstm.state_dict().items()})
    ohead.load_state_dict({k: v.numpy() for k, v in thead.state_dict().items()})
    topts, oopts = [], []
    for lib, mods, opts in ((torch, (tlstm, thead), topts), (tb, (olstm, ohead), oopts)):
        params = [p for m in mods for p in m.parameters()]
        opts.append(lib.optim.Muon([p for p in params if p.ndim == 2], lr=0.05, momentum=0.9))
        opts.append(lib.optim.AdamW([p for p in params if p.ndim != 2], lr=0.01))
    for _ in range(8):
        x, y = rng.standard_normal((5, 7, 4)), rng.standard_normal((5, 3))
        for lib, (lstm, head), opts in ((torch, (tlstm, thead), topts), (tb, (olstm, ohead), oopts)):
            for opt in opts:
                opt.zero_grad()
            out, _ = lstm(lib.tensor(x))
            lib.nn.functional.mse_loss(head(out[:, -1]), lib.tensor(y)).backward()
            for opt in opts:
                opt.step()
        for tm, om in ((tlstm, olstm), (thead, ohead)):
            for k, v in tm.state_dict().items():
                np.testing.assert_allclose(om.state_dict()[k], v.numpy(), rtol=1e-11, atol=1e-13, err_msg=k)


def test_state_dicts_interchange_with_torch_and_closure():
    theirs, ours, grads = pair(np.float64, seed=2)
    topt, oopt = torch.optim.Muon(theirs, lr=0.02), optim.Muon(ours, lr=0.02)
    for gs in grads[:4]:
        for t, o, g in zip(theirs, ours, gs):
            t.grad, o.grad = torch.tensor(g), g.copy()
        topt.step(), oopt.step()
    tsd = topt.state_dict()
    ours2 = [nn.Parameter(t.detach().numpy().copy()) for t in theirs]
    oopt2 = optim.Muon(ours2, lr=0.5)
    oopt2.load_state_dict({"state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsd["state"].items()},
                           "param_groups": tsd["param_groups"]})
    theirs2 = [torch.tensor(o.detach().numpy().copy(), requires_grad=True) for o in ours]
    topt2 = torch.optim.Muon(theirs2, lr=0.5)
    osd = oopt.state_dict()
    topt2.load_state_dict({"state": {i: {k: torch.tensor(v.numpy()) for k, v in st.items()} for i, st in osd["state"].items()},
                           "param_groups": osd["param_groups"]})
    for gs in grads[4:]:
        for t, o, o2, t2, g in zip(theirs, ours, ours2, theirs2, gs):
            t.grad, t2.grad, o.grad, o2.grad = torch.tensor(g), torch.tensor(g), g.copy(), g.copy()
        topt.step(), oopt.step(), oopt2.step(), topt2.step()
    assert_same(theirs, ours2, np.float64)
    assert_same(theirs2, ours, np.float64)
    calls = []
    assert oopt.step(lambda: calls.append(1) or 1.5) == 1.5 and calls == [1]


def test_defaults_and_groups_match_torch():
    t, o = torch.optim.Muon([torch.zeros(2, 3, requires_grad=True)]), optim.Muon([nn.Parameter(np.zeros((2, 3)))])
    assert o.defaults == t.defaults
    assert o.param_groups[0].keys() == t.param_groups[0].keys()
    assert "Muon" in optim.__all__


def test_bad_arguments_raise_torchs_errors():
    w = nn.Parameter(np.ones((2, 3)))
    tw = torch.ones(2, 3, requires_grad=True)
    cases = [(dict(lr=-0.1), "Learning rate should be >= 0 but is: -0.1"),
             (dict(momentum=-0.5), "momentum should be >= 0 but is: -0.5"),
             (dict(weight_decay=-1.0), "weight decay should be >= 0 but is: -1.0"),
             (dict(adjust_lr_fn="sqrt"), "Adjust learning rate function sqrt is not supported"),
             (dict(lr=tb.tensor([0.1, 0.2])), "Tensor lr must be 1-element")]
    for kw, msg in cases:
        tkw = {k: torch.tensor(v.numpy()) if isinstance(v, tb.Tensor) else v for k, v in kw.items()}
        with pytest.raises(ValueError, match=msg):
            torch.optim.Muon([tw], **tkw)
        with pytest.raises(ValueError, match=msg):
            optim.Muon([w], **kw)
    for lib, bias in ((torch, torch.ones(3, requires_grad=True)), (tb, nn.Parameter(np.ones(3)))):
        with pytest.raises(ValueError, match="Muon only supports 2D parameters whereas we found a parameter with "
                                             "size: .*3"):
            lib.optim.Muon([bias])
    # checked when stepping, as torch does
    for kw, msg in ((dict(ns_steps=100), "Number of steps must be less than 100 for computational efficiency"),
                    (dict(ns_coefficients=(1.0, 2.0)), "Coefficients must be a tuple of exactly 3 values")):
        for lib, p in ((torch, torch.ones(2, 3, requires_grad=True)), (tb, nn.Parameter(np.ones((2, 3))))):
            opt = lib.optim.Muon([p], **kw)
            p.grad = lib.ones(2, 3, dtype=p.dtype)
            with pytest.raises(ValueError, match=msg):
                opt.step()
    opt = optim.Muon([w])
    opt.add_param_group({"params": [nn.Parameter(np.ones(3))]})  # not checked when added, as in torch
    opt.param_groups[1]["params"][0].grad = np.ones(3)
    with pytest.raises(ValueError, match="Param gradient must be a 2D matrix"):
        opt.step()
