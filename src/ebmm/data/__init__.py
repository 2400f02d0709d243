"""Datasets and episode sampling."""

from ebmm.data.binary import random_binary_patterns

__all__ = ["random_binary_patterns"]
