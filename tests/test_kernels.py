"""The float32 special functions inside the numba kernels: accuracy and NaN/inf behaviour."""
import numpy as np
import pytest

import tinybptt as tb
from tinybptt import nn

GRID = np.concatenate([np.linspace(-100, 100, 20001), [-1e30, -88.8, -87.3, 1e-30, -1e-30, 88.7, 1e30]])


def _ulps(got, want):
    spacing = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(spacing, np.finfo(np.float32).tiny)


@pytest.mark.parametrize("op, exact", [("tanh", np.tanh), ("sigmoid", lambda x: 1 / (1 + np.exp(-x)))])
def test_float32_kernels_are_accurate(op, exact):
    x = GRID.astype(np.float32)
    with np.errstate(over="ignore"):
        want = exact(x.astype(np.float64))
    got = getattr(tb.tensor(x), op)().numpy()
    assert got.dtype == np.float32
    tiny = np.abs(want) < 1e-30  # below float32's normal range only the absolute error matters
    assert _ulps(got[~tiny], want[~tiny]).max() <= 8  # measured: tanh 5.4 near +-1, sigmoid < 2
    assert np.abs(got[tiny] - want[tiny]).max() < 1e-37


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["tanh", "sigmoid", "exp"])
def test_nan_propagates_and_infinities_saturate(op, dtype):
    x = tb.tensor(np.array([np.nan, np.inf, -np.inf, 0.0], dtype))
    y = getattr(x, op)().numpy()
    with np.errstate(over="ignore"):
        want = {"tanh": np.tanh, "exp": np.exp, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[op](x.numpy())
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU])
def test_nan_input_gives_nan_state_not_a_number(layer):
    tb.manual_seed(0)
    m = layer(2, 3)
    x = tb.tensor(np.array([[[np.nan, 1.0]], [[0.5, 0.5]]], np.float32))
    out, _ = m(x)
    assert np.isnan(out.detach().numpy()).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gates, batch", [(1024, 32), (40, 3), (7, 1)])
def test_add_transposed_matches_numpy(dtype, gates, batch):
    """The kernel that turns W^T dhh^T back into rows as it adds dh_direct: out = a_t^T + m; sizes that
    are and are not multiples of its 16-column blocks, and out given as m itself (as the step does)."""
    from tinybptt.rnn_kernels import add_transposed
    r = np.random.default_rng(0)
    a_t = r.standard_normal((gates, batch)).astype(dtype)
    m = r.standard_normal((batch, gates)).astype(dtype)
    out = np.full((batch, gates), np.nan, dtype)
    add_transposed(a_t, m, out)
    np.testing.assert_array_equal(out, a_t.T + m)
    add_transposed(a_t, m, m)
    np.testing.assert_array_equal(m, out)
