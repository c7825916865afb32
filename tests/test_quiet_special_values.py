"""inf and nan arise quietly, as in PyTorch: no numpy RuntimeWarning (an error under -W error) from any op's
forward, the backward walk or an optimizer step, and the same numbers as torch."""
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn.functional as F

CASES = {  # name: f(lib, x) on x = [-2, -1, 0, 0.5, 1000], the lib's functional module as lib.F
    "x / 0": lambda L, x: x / 0.0,
    "1 / x": lambda L, x: 1.0 / x,
    "x / x": lambda L, x: x / x,
    "sqrt": lambda L, x: x.sqrt(),
    "rsqrt": lambda L, x: x.rsqrt(),
    "reciprocal": lambda L, x: x.reciprocal(),
    "log": lambda L, x: x.log(),
    "log1p": lambda L, x: (x + 1).log1p(),
    "pow 0.5": lambda L, x: x ** 0.5,
    "pow -1": lambda L, x: x ** -1.0,
    "exp overflow": lambda L, x: x.exp(),
    "mul overflow": lambda L, x: x * 1e307,
    "inf - inf": lambda L, x: x.exp() - x.exp(),
    "inf * 0": lambda L, x: x.exp() * 0,
    "sum overflow": lambda L, x: (x * 1e306).sum(),
    "mean of empty": lambda L, x: x[:0].mean(),
    "binary_cross_entropy at 0 and 1": lambda L, x: L.binary_cross_entropy((x[2:4] * 2).clamp(0, 1),
                                                                        L_target(L, [1.0, 0.0])),
}


def L_target(L, values):
    return (torch.tensor if L is torch.nn.functional else tb.tensor)(np.array(values))


@pytest.mark.parametrize("name", CASES)
def test_special_values_arise_quietly_and_match_torch(name):
    data = np.array([-2.0, -1.0, 0.0, 0.5, 1000.0])
    x, tx = tb.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = CASES[name](F, x)
        y.sum().backward()
    ty = CASES[name](torch.nn.functional, tx)
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_optimizer_step_with_an_inf_gradient_is_quiet_and_matches_torch(name):
    p, tp = tb.nn.Parameter(tb.tensor([1.0, 2.0])), torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt, topt = getattr(tb.optim, name)([p], lr=0.1), getattr(torch.optim, name)([tp], lr=0.1)
    for _ in range(2):
        p.grad, tp.grad = tb.tensor([np.inf, 1.0]), torch.tensor([np.inf, 1.0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step()
        topt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-6)


def test_numpy_outside_tinybptt_still_warns():
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        np.array([1.0]) / 0
