"""Shared test helpers: a seeded generator and float64 leaf factories."""
import os

# BLAS single-threaded unless set: the tests multiply small matrices, where OpenBLAS threads cost
# several times more than they give on a 2-core machine (as in examples/common.py).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tinybptt as tb  # noqa: E402


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
