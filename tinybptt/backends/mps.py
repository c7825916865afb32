"""torch.backends.mps: Apple's Metal backend is neither built into nor available to tinybptt."""


def is_available():
    """False: tinybptt runs on the CPU only."""
    return False


def is_built():
    """False: tinybptt was not built with MPS support."""
    return False
