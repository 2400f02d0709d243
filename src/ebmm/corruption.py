"""Distortion models: how a stored pattern is turned into a query. One module for every memory.

Every corruption is a callable ``corrupt(patterns, generator) -> queries`` that keeps shape and
value range; randomness comes only from the explicit ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def _random_positions(shape: torch.Size, count: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Boolean mask with exactly ``count`` distinct random positions per pattern (last axis)."""
    *lead, dim = shape
    if not 0 <= count <= dim:
        raise ValueError(f"cannot corrupt {count} positions of a {dim}-dimensional pattern")
    scores = torch.rand(*lead, dim, generator=generator, device=device)
    chosen = scores.argsort(dim=-1)[..., :count]
    mask = torch.zeros(*lead, dim, dtype=torch.bool, device=device)
    return mask.scatter_(-1, chosen, True)


@dataclass(frozen=True)
class ResampleBits:
    """Re-sample ``count`` random positions of each binary pattern uniformly from {0, 1}.

    About half the re-sampled bits flip, so the expected Hamming error of a query is ``count / 2``
    (METHOD.md §4: 64 positions of 128, ≈ 32 flips).
    """

    count: int = 64

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = _random_positions(patterns.shape, self.count, generator, patterns.device)
        noise = torch.randint(0, 2, patterns.shape, generator=generator, device=patterns.device).to(patterns.dtype)
        return torch.where(mask, noise, patterns)


@dataclass(frozen=True)
class EraseBits:
    """Erase ``count`` random positions of each pattern, setting them to ``fill`` (0.5 = unknown)."""

    count: int = 64
    fill: float = 0.5

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = _random_positions(patterns.shape, self.count, generator, patterns.device)
        return torch.where(mask, torch.full_like(patterns, self.fill), patterns)


@dataclass(frozen=True)
class FlipBits:
    """Flip exactly ``count`` random bits of each binary pattern."""

    count: int = 32

    def __call__(self, patterns: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = _random_positions(patterns.shape, self.count, generator, patterns.device)
        return torch.where(mask, 1.0 - patterns, patterns)


CORRUPTIONS = {"resample": ResampleBits, "erase": EraseBits, "flip": FlipBits}


def build_corruption(name: str, count: int) -> ResampleBits | EraseBits | FlipBits:
    """Build the binary corruption ``name`` (``resample``, ``erase`` or ``flip``) of ``count`` bits."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose one of {sorted(CORRUPTIONS)}")
    return CORRUPTIONS[name](count=count)
