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
        """The stream's position as a uint8 tensor (torch's ByteTensor form), for ``set_state``: the seed, then
        numpy's PCG64 state, increment and buffered 32-bit draw."""
        from .tensor import Tensor
        st = self._np.bit_generator.state
        fields = (self._seed, st["state"]["state"], st["state"]["inc"], st["has_uint32"], st["uinteger"])
        data = b"".join(int(v).to_bytes(n, "little") for v, n in zip(fields, _STATE_BYTES))
        return Tensor(np.frombuffer(data, np.uint8).copy())

    def set_state(self, new_state):
        """Continue the stream from a ``get_state()`` tensor; returns the generator."""
        from .tensor import Tensor
        if not isinstance(new_state, Tensor):
            raise TypeError(f"set_state: expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype != np.uint8:
            raise TypeError(f"set_state: RNG state must be a torch.ByteTensor, got dtype {new_state.dtype}")
        data = new_state.numpy().tobytes()
        if len(data) != sum(_STATE_BYTES):
            raise RuntimeError(f"set_state: Expected an RNG state of size {sum(_STATE_BYTES)} but found the input RNG "
                               f"state size to be {len(data)}")
        ends = np.cumsum((0,) + _STATE_BYTES)
        seed, state, inc, has_uint32, uinteger = (int.from_bytes(data[a:b], "little") for a, b in zip(ends, ends[1:]))
        self._seed = seed
        self._np.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                                        "has_uint32": has_uint32, "uinteger": uinteger}
        return self


_STATE_BYTES = (8, 16, 16, 1, 4)  # seed, PCG64 state, increment, has_uint32, uinteger


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


def get_rng_state():
    """The default generator's state, a uint8 tensor for ``set_rng_state``."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Restore the default generator to a ``get_rng_state()``: the draws that followed it repeat."""
    default_generator.set_state(new_state)


def rng(generator=None):
    """The ``np.random.Generator`` behind ``generator`` (a Generator or a numpy generator), else the default's."""
    if generator is None:
        return default_generator._np
    if isinstance(generator, Generator):
        return generator._np
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a tinybptt.Generator, not {type(generator).__name__}")
