"""Reusable models built from tinybptt.nn layers."""
from .seq2seq import Seq2Seq
