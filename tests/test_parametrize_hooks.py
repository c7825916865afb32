"""The old hook forms nn.utils.weight_norm / remove_weight_norm and spectral_norm / remove_spectral_norm
against torch 2.13 in float64: parameter and buffer names, state_dict keys, values and gradients through a
forward (Linear and LSTM, fused and not), power iteration in training mode only, removal, errors."""
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
from tinybptt.nn.utils import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

from parity import close, raises_alike, to_ours, to_torch

TU = torch.nn.utils


def quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return f(*args, **kw)


def linear_pair(seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.Linear(4, 3).double()
    mod = nn.Linear(4, 3).double()
    mod.load_state_dict(to_ours(tm))
    return mod, tm


def lstm_pair(fused):
    torch.manual_seed(0)
    tm = torch.nn.LSTM(3, 4).double()
    mod = nn.LSTM(3, 4, fused=fused).double()
    mod.load_state_dict(to_ours(tm))
    return mod, tm


def run_and_compare(mod, tm, x, steps=3, check=None):
    """Forward, backward, SGD step, several times: outputs, every gradient and ``check`` agree."""
    opt, topt = tb.optim.SGD(mod.parameters(), lr=0.2), torch.optim.SGD(tm.parameters(), lr=0.2)
    for _ in range(steps):
        out, tout = mod(tb.tensor(x)), tm(torch.tensor(x))
        out, tout = (out[0], tout[0]) if isinstance(out, tuple) else (out, tout)
        close(out, tout, 1e-10)
        out.sin().sum().backward()
        tout.sin().sum().backward()
        ours, theirs = dict(mod.named_parameters()), dict(tm.named_parameters())
        assert list(ours) == list(theirs)
        for k in theirs:
            close(ours[k].grad, theirs[k].grad, 1e-10)
        if check:
            check()
        opt.step()
        topt.step()
        opt.zero_grad()
        topt.zero_grad()


# ---------------------------------------------------------------- weight_norm
@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_linear(rng, dim):
    mod, tm = linear_pair()
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        assert weight_norm(mod, dim=dim) is mod
    quiet(TU.weight_norm, tm, dim=dim)
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()] == \
        ["bias", "weight_g", "weight_v"]
    assert list(mod.state_dict()) == list(tm.state_dict())
    close(mod.weight_g, tm.weight_g)
    close(mod.weight_v, tm.weight_v)
    close(mod.weight, tm.weight)  # computed at registration too
    run_and_compare(mod, tm, rng.standard_normal((5, 4)), check=lambda: close(mod.weight, tm.weight, 1e-10))
    remove_weight_norm(mod)
    TU.remove_weight_norm(tm)
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    assert isinstance(mod.weight, nn.Parameter)
    close(mod.weight, tm.weight, 1e-10)


@pytest.mark.parametrize("fused", [True, False])
def test_weight_norm_lstm(rng, fused):
    mod, tm = lstm_pair(fused)
    quiet(weight_norm, mod, "weight_hh_l0")
    quiet(TU.weight_norm, tm, "weight_hh_l0")
    assert list(mod.state_dict()) == list(tm.state_dict())
    with tb.no_grad():
        mod.weight_hh_l0_g.mul_(1.5)
    tm.load_state_dict(to_torch(mod))
    run_and_compare(mod, tm, rng.standard_normal((6, 2, 3)))


def test_weight_norm_errors():
    mod, tm = linear_pair()
    quiet(weight_norm, mod)
    quiet(TU.weight_norm, tm)
    raises_alike(lambda: quiet(weight_norm, mod), lambda: quiet(TU.weight_norm, tm), "Cannot register two weight_norm")
    raises_alike(lambda: remove_weight_norm(mod, "bias"), lambda: TU.remove_weight_norm(tm, "bias"),
                 "weight_norm of 'bias' not found")
    raises_alike(lambda: quiet(weight_norm, nn.Linear(2, 2), "w"),
                 lambda: quiet(TU.weight_norm, torch.nn.Linear(2, 2), "w"), "'w'")


# ---------------------------------------------------------------- spectral_norm
@pytest.mark.parametrize("dim,iters", [(None, 1), (1, 1), (0, 3)])
def test_spectral_norm_linear(rng, dim, iters):
    mod, tm = linear_pair()
    assert spectral_norm(mod, n_power_iterations=iters, dim=dim) is mod
    TU.spectral_norm(tm, n_power_iterations=iters, dim=dim)
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()] == ["bias", "weight_orig"]
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert "weight" not in mod.state_dict()
    for k in ("weight_u", "weight_v"):  # random unit vectors of torch's sizes
        assert mod.state_dict()[k].shape == tuple(tm.state_dict()[k].shape)
        assert abs(np.linalg.norm(mod.state_dict()[k]) - 1) < 1e-12
    mod.load_state_dict(to_ours(tm))

    def check():
        close(mod.weight_u, tm.weight_u, 1e-10)
        close(mod.weight_v, tm.weight_v, 1e-10)
        close(mod.weight, tm.weight, 1e-10)
    run_and_compare(mod, tm, rng.standard_normal((5, 4)), check=check)
    mod.eval()
    tm.eval()
    u = mod.weight_u.numpy().copy()
    run_and_compare(mod, tm, rng.standard_normal((5, 4)), steps=2, check=check)
    np.testing.assert_array_equal(mod.weight_u.numpy(), u)  # eval mode: no power iteration
    remove_spectral_norm(mod)
    TU.remove_spectral_norm(tm)
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    close(mod.weight, tm.weight, 1e-10)


@pytest.mark.parametrize("fused", [True, False])
def test_spectral_norm_lstm(rng, fused):
    mod, tm = lstm_pair(fused)
    spectral_norm(mod, "weight_hh_l0")
    TU.spectral_norm(tm, "weight_hh_l0")
    assert list(mod.state_dict()) == list(tm.state_dict())
    mod.load_state_dict(to_ours(tm))
    run_and_compare(mod, tm, rng.standard_normal((6, 2, 3)),
                    check=lambda: close(mod.weight_hh_l0_u, tm.weight_hh_l0_u, 1e-10))


def test_spectral_norm_errors():
    mod, tm = linear_pair()
    spectral_norm(mod)
    TU.spectral_norm(tm)
    raises_alike(lambda: spectral_norm(mod), lambda: TU.spectral_norm(tm), "Cannot register two spectral_norm")
    raises_alike(lambda: remove_spectral_norm(mod, "bias"), lambda: TU.remove_spectral_norm(tm, "bias"),
                 "spectral_norm of 'bias' not found")
    raises_alike(lambda: spectral_norm(nn.Linear(2, 2), n_power_iterations=0),
                 lambda: TU.spectral_norm(torch.nn.Linear(2, 2), n_power_iterations=0), "n_power_iterations=0")
    raises_alike(lambda: spectral_norm(nn.Linear(2, 2), "w"), lambda: TU.spectral_norm(torch.nn.Linear(2, 2), "w"), "w")
    raises_alike(lambda: spectral_norm(nn.Linear(2, 2, bias=False), "bias"),
                 lambda: TU.spectral_norm(torch.nn.Linear(2, 2, bias=False), "bias"), "parameter `bias` is None")
