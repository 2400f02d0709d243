"""Random binary strings: the paper's first experiment."""

from __future__ import annotations

import torch


def random_binary_patterns(
    episodes: int, patterns: int, dim: int = 128, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """``(episodes, patterns, dim)`` independent uniform bits in {0., 1.}."""
    if episodes < 1 or patterns < 1 or dim < 1:
        raise ValueError(f"episodes, patterns and dim must be positive, got {episodes}, {patterns}, {dim}")
    return torch.randint(0, 2, (episodes, patterns, dim), generator=generator, device=device).float()
