"""The binary-string benchmark: every memory on the same episodes, error bits per pattern."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from ebmm.bench.harness import benchmark_memories
from ebmm.bench.metrics import hamming_errors
from ebmm.corruption import build_corruption
from ebmm.data.binary import random_binary_patterns
from ebmm.protocol import AssociativeMemory

# Mean error bits per pattern at 8,256 floats, docs/method.md#the-papers-numbers (the paper's table). Reference values
# to print beside our measurements, never used as results.
PAPER_BINARY: dict[str, dict[int, float]] = {
    "hopfield_hebb": {16: 0.4, 32: 5.0, 48: 9.8, 64: 13.0, 96: 16.5},
    "hopfield_storkey": {16: 0.0, 32: 0.9, 48: 6.3, 64: 11.3, 96: 17.1},
    "hopfield_pinv": {16: 0.0, 32: 0.0, 48: 0.3, 64: 4.3, 96: 22.5},
    "plasticity": {16: 3.0, 32: 13.2, 48: 20.8, 64: 26.3, 96: 34.9},
    "mann": {16: 0.1, 32: 0.2, 48: 1.8, 64: 4.25, 96: 9.6},
    "lstm": {16: 30, 32: 58, 48: 63, 64: 64, 96: 64},
    "memory_networks": {16: 0.0, 32: 0.0, 48: 0.0, 64: 0.0, 96: 10.5},
    "ebmm": {16: 0.0, 32: 0.0, 48: 0.1, 64: 0.5, 96: 4.2},
}


def benchmark_binary(
    models: dict[str, AssociativeMemory],
    pattern_counts: Iterable[int],
    episodes: int,
    seed: int,
    corruption: str = "resample",
    corrupt_bits: int = 64,
    dim: int = 128,
    chunk: int = 50,
    progress: Callable[[str], None] | None = None,
    *,
    specificity: bool = False,
    quantize: Sequence[int] = (),
) -> dict[str, dict[str, dict[str, Any]]]:
    """Error bits per pattern for every model on the same seeded episodes of random strings
    (see ``benchmark_memories``; ``specificity`` and ``quantize`` as there)."""
    corrupt = build_corruption(corruption, corrupt_bits)

    def sample(size: int, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        patterns = random_binary_patterns(size, count, dim, generator)
        return patterns, corrupt(patterns, generator)

    return benchmark_memories(models, sample, hamming_errors, pattern_counts, episodes, seed, chunk, progress,
                              specificity=specificity, quantize=quantize)
