"""The fused RNN steps' helper kernels and bookkeeping, checked against plain numpy."""
import numpy as np
import pytest

import tinybptt as tb
from tinybptt import nn


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1024, 256), (48, 32), (37, 5), (5, 37), (16, 1), (1, 1), (0, 4), (33, 17)])
def test_transpose_matches_numpy(dtype, shape):
    """Blocks of 16 x 16 plus the rows and columns past the last full block, for any shape."""
    from tinybptt.rnn_kernels import transpose
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = np.full(shape[::-1], np.nan, dtype)
    transpose(a, out)
    np.testing.assert_array_equal(out, a.T)
    b = np.asfortranarray(a)[::-1]  # any layout in
    transpose(b, out)
    np.testing.assert_array_equal(out, b.T)
