"""Shared test helpers: a seeded generator and float64 leaf factories."""
import numpy as np
import pytest

import tinybptt as tb


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    tb.manual_seed(0)


@pytest.fixture
def rng():
    """A numpy generator for test data."""
    return np.random.default_rng(1234)


def leaf(rng, *shape, lo=None, hi=None, dtype=np.float64):
    """A float64 leaf tensor requiring grad: normal, or uniform in [lo, hi]."""
    a = rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)
    return tb.tensor(np.asarray(a, dtype), requires_grad=True)
