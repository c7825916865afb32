"""torch.utils's counterpart: ``utils.data`` (datasets, samplers, the DataLoader) and ``utils.checkpoint``
(activation checkpointing)."""
from . import checkpoint, data  # noqa: F401
