"""Retrieval error metrics, per pattern."""

from __future__ import annotations

import torch


def hamming_errors(retrieved: torch.Tensor, patterns: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Error bits per pattern after thresholding ``retrieved`` at ``threshold``: shape ``(B, N)``."""
    if retrieved.shape != patterns.shape:
        raise ValueError(f"retrieved {tuple(retrieved.shape)} and patterns {tuple(patterns.shape)} differ in shape")
    wrong = (retrieved > threshold) != (patterns > threshold)
    return wrong.flatten(2).sum(-1).to(torch.float32)


def squared_errors(retrieved: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Squared error per pattern, summed over all its values: shape ``(B, N)``."""
    if retrieved.shape != patterns.shape:
        raise ValueError(f"retrieved {tuple(retrieved.shape)} and patterns {tuple(patterns.shape)} differ in shape")
    return (retrieved - patterns).pow(2).flatten(2).sum(-1)
