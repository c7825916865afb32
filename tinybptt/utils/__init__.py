"""Utilities with torch.utils' names: activation checkpointing (``utils.checkpoint``)."""
from . import checkpoint  # noqa: F401
