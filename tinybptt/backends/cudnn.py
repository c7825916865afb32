"""torch.backends.cudnn without cuDNN: the flags are plain module attributes that can be set and read
(``deterministic``, ``benchmark``, ``enabled``, ``allow_tf32``, with torch's defaults); they have no effect."""

deterministic = False  # tinybptt's results are reproducible whatever this says
benchmark = False
enabled = True
allow_tf32 = True


def is_available():
    """False: tinybptt has no cuDNN."""
    return False


def version():
    """None, as torch reports when cuDNN is not available."""
    return None
