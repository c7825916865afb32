"""The trigonometric and hyperbolic functions, their inverses and atan2 against torch 2.13: values and
gradients (domain edges included: nan outside, inf at the ends), aliases, in-place forms, integer input,
and finite differences in float64."""
import numpy as np
import pytest
import torch

import tinybptt as tb

NAMES = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"]
VALUES = [-3.0, -1.5, -1.0, -0.999, -0.5, -1e-3, 0.0, 0.3, 0.999, 1.0, 1.5, 3.0, 20.0, np.nan]


def compare(ours, theirs, dtype):
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients_match_torch(name, dtype):
    data = np.array(VALUES, dtype)
    x, tx = tb.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y, ty = getattr(tb, name)(x), getattr(torch, name)(tx)
    up = np.linspace(0.5, 2, len(data)).astype(dtype)
    y.backward(tb.tensor(up))
    ty.backward(torch.tensor(up))
    assert y.dtype == x.dtype and y.grad_fn.name == name.capitalize()
    compare(y.detach().numpy(), ty.detach().numpy(), dtype)
    compare(x.grad.numpy(), tx.grad.numpy(), dtype)


@pytest.mark.parametrize("name", NAMES)
def test_aliases_inplace_forms_and_integer_input(name):
    data = np.array([0.2, -0.4, 0.9]) + (1.5 if name == "acosh" else 0)
    alias = "arc" + name[1:] if name[0] == "a" else name
    assert getattr(tb, alias) is getattr(tb, name) and getattr(tb.Tensor, alias) is getattr(tb.Tensor, name)
    np.testing.assert_allclose(getattr(tb.tensor(data), alias)().numpy(), getattr(torch, name)(torch.tensor(data)))
    x = tb.tensor(data.copy())
    assert getattr(x, name + "_")() is x
    np.testing.assert_allclose(x.numpy(), getattr(torch, name)(torch.tensor(data)).numpy())
    i = tb.tensor([1, 2])
    assert getattr(tb, name)(i).dtype == tb.float32
    np.testing.assert_allclose(getattr(tb, name)(i).numpy(), getattr(torch, name)(torch.tensor([1, 2])).numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_finite_differences(name, rng):
    lo, hi = {"acosh": (1.2, 3.0), "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9),
              "tan": (-1.2, 1.2)}.get(name, (-2.0, 2.0))
    x = tb.tensor(rng.uniform(lo, hi, (3, 4)), requires_grad=True)
    assert tb.gradcheck(getattr(tb, name), (x,))


def test_atan2_matches_torch_with_broadcasting_signs_and_zeros():
    a = np.array([[0.0, 1.0, -1.0, 0.0, -0.0, 2.0, np.inf]])
    b = np.array([[1.0], [-1.0], [0.0], [-0.0]])
    x, y = tb.tensor(a, requires_grad=True), tb.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, tout = tb.atan2(x, y), torch.atan2(tx, ty)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())  # signed zeros decide the quadrant
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())
    np.testing.assert_allclose(tb.tensor(a).arctan2(tb.tensor(b)).numpy(), tout.detach().numpy())
    np.testing.assert_allclose(tb.tensor(a).atan2(2.0).numpy(), torch.atan2(torch.tensor(a), torch.tensor(2.0)))
    s, ts = tb.tensor(0.0, requires_grad=True), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    tb.atan2(s, tb.tensor(0.0)).backward()
    torch.atan2(ts, torch.tensor(0.0, dtype=torch.float64)).backward()
    assert float(s.grad) == float(ts.grad) == 0.0  # 0-d at the origin


def test_atan2_gradient_matches_finite_differences(rng):
    a, b = (tb.tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(2))
    assert tb.gradcheck(tb.atan2, (a, b))
