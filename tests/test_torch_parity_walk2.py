"""Parity regressions found by a second PyTorch-user audit (end-to-end scripts: weight tying,
stateful LSTMs, sampling, additive attention, init by name, freezing, clipping, flat
parameter vectors): each test does the same thing in tinybptt and torch and compares."""
import numpy as np
import pytest
import torch

import tinybptt as tb


def raised(fn):
    """(exception type name, message) of fn(), or None when it does not raise."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None


# ---------------------------------------------------------------- parameters_to_vector / vector_to_parameters
@pytest.mark.parametrize("make", [lambda lib: [1.0] * 10, lambda lib: np.ones(10)])
def test_vector_to_parameters_wants_a_tensor(make):
    for lib in (tb, torch):
        params = [lib.nn.Parameter(lib.zeros(2, 3)), lib.nn.Parameter(lib.zeros(4))]
        assert raised(lambda: lib.nn.utils.vector_to_parameters(make(lib), params))[0] == "TypeError"
    params = [tb.nn.Parameter(tb.zeros(2, 3))]
    assert raised(lambda: tb.nn.utils.vector_to_parameters(np.ones(6), params)) == (
        "TypeError", "expected torch.Tensor, but got: numpy.ndarray")


@pytest.mark.parametrize("shape", [(3,), (2, 5)])
def test_vector_to_parameters_too_short_or_not_flat_raises_runtime_error(shape):
    out = []
    for lib in (tb, torch):
        params = [lib.nn.Parameter(lib.zeros(2, 3)), lib.nn.Parameter(lib.zeros(4))]
        out.append(raised(lambda: lib.nn.utils.vector_to_parameters(lib.ones(*shape), params)))
    assert out[0][0] == out[1][0] == "RuntimeError"
    assert out[0][1] == "vector_to_parameters: " + out[1][1]


def test_vector_round_trip_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.GRU(3, 4, num_layers=2).double()
    m = tb.nn.GRU(3, 4, num_layers=2, dtype=tb.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    v, tv = tb.nn.utils.parameters_to_vector(m.parameters()), torch.nn.utils.parameters_to_vector(tm.parameters())
    np.testing.assert_array_equal(v.detach().numpy(), tv.detach().numpy())
    tb.nn.utils.vector_to_parameters(v * 2, m.parameters())
    torch.nn.utils.vector_to_parameters(tv * 2, tm.parameters())
    for p, q in zip(m.parameters(), tm.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_cat_of_nothing_raises_value_error_as_torch():
    for lib in (tb, torch):
        for empty in ([], ()):
            assert raised(lambda: lib.cat(empty))[0] == "ValueError"
            assert raised(lambda: lib.stack(empty))[0] == "RuntimeError"
    assert raised(lambda: tb.nn.utils.parameters_to_vector([]))[0] == \
        raised(lambda: torch.nn.utils.parameters_to_vector([]))[0]
