"""The global random generator behind randn, rand, dropout and initialisation."""
import numpy as np

_rng = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the global generator, so that runs repeat exactly."""
    _rng[0] = np.random.default_rng(int(seed))


def rng():
    """The global ``np.random.Generator``."""
    return _rng[0]
