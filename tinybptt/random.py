"""Random numbers: ``Generator`` (torch.Generator's interface over numpy's PCG64) and the default
generator behind randn, rand, dropout and initialisation."""
import numpy as np


class Generator:
    """torch.Generator: its own random stream, seeded with ``manual_seed`` (which returns the generator,
    so ``Generator().manual_seed(0)`` works), passed as ``generator=`` to the random factories,
    ``multinomial`` and ``nn.init``.  The numbers come from numpy's PCG64, so they differ from PyTorch's."""

    def __init__(self, device="cpu"):
        from .devices import check_device
        self.device = check_device("Generator", device)
        self.seed()

    def manual_seed(self, seed):
        """Restart the stream from ``seed`` (an int); returns the generator."""
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            raise TypeError(f"manual_seed expected an int, but got {type(seed).__name__}") from None
        self._seed, self._np = seed, np.random.default_rng(seed & 0xFFFFFFFFFFFFFFFF)
        return self

    def seed(self):
        """Restart the stream from a fresh non-deterministic seed and return that seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) & 0xFFFFFFFFFFFFFFFF)
        return self._seed

    def initial_seed(self):
        """The seed the stream was last started from."""
        return self._seed

    def get_state(self):
        """The stream's position (numpy's bit-generator state, a dict), for ``set_state``."""
        return self._np.bit_generator.state

    def set_state(self, state):
        """Continue the stream from a ``get_state()``; returns the generator."""
        self._np.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator, so that runs repeat exactly; returns it, as torch.manual_seed."""
    return default_generator.manual_seed(seed)


def initial_seed():
    """The default generator's seed."""
    return default_generator.initial_seed()


def seed():
    """Seed the default generator non-deterministically; returns the seed."""
    return default_generator.seed()


def rng(generator=None):
    """The ``np.random.Generator`` behind ``generator`` (a Generator or a numpy generator), else the default's."""
    if generator is None:
        return default_generator._np
    if isinstance(generator, Generator):
        return generator._np
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a tinybptt.Generator, not {type(generator).__name__}")
