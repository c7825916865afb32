"""torch.cuda's questions, answered for a CPU-only framework: no CUDA devices here."""


def is_available():
    """False: tinybptt runs on the CPU only."""
    return False


def device_count():
    """0: no CUDA devices."""
    return 0


def manual_seed(seed):
    """Does nothing, as torch.manual_seed's CUDA part does without CUDA (seed the CPU with tinybptt.manual_seed)."""


manual_seed_all = manual_seed
