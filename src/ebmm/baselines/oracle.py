"""Nearest-neighbour oracle: keeps every pattern verbatim and returns the closest one.

An upper bound on retrieval quality for a memory that is allowed to store everything; its
size grows linearly with N.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import torch

from ebmm.protocol import Retrieval, check_batch_matches, check_patterns


@dataclass
class OracleState:
    """The stored patterns, ``(B, N, *shape)``, unchanged."""

    patterns: torch.Tensor


class NearestNeighbourOracle:
    """Return, per query, the stored pattern at the smallest squared Euclidean distance.

    Ties go to the lowest pattern index. Works for any pattern shape ``(B, N, *shape)``;
    values must lie in ``value_range`` (``None`` skips that check).
    """

    def __init__(self, value_range: tuple[float, float] | None = (0.0, 1.0)) -> None:
        self.value_range = value_range

    def write(self, patterns: torch.Tensor) -> OracleState:
        check_patterns(patterns, "patterns", _pattern_shape(patterns), self.value_range)
        return OracleState(patterns=patterns.detach().clone())

    def read(self, queries: torch.Tensor, state: OracleState) -> Retrieval:
        stored = state.patterns
        check_patterns(queries, "queries", tuple(stored.shape[2:]), self.value_range)
        check_batch_matches(queries, stored.shape[0])
        index = self.nearest_indices(queries, state)
        batch = torch.arange(stored.shape[0], device=stored.device)[:, None]
        return Retrieval(patterns=stored[batch, index].to(queries.dtype))

    def nearest_indices(self, queries: torch.Tensor, state: OracleState) -> torch.Tensor:
        """Index ``(B, M)`` of the closest stored pattern for every query (lowest on ties)."""
        q = queries.flatten(2).to(torch.float64)
        p = state.patterns.flatten(2).to(torch.float64)
        # ||q - p||² = ||q||² - 2 q·p + ||p||², in float64 so near-ties keep their order
        cross = q @ p.transpose(1, 2)
        dist = (q * q).sum(-1, keepdim=True) - 2.0 * cross + (p * p).sum(-1)[:, None, :]
        return dist.argmin(dim=-1)

    def memory_floats(self, state: OracleState) -> int:
        """``N · prod(shape)``: every stored value counts."""
        return prod(state.patterns.shape[1:])

    def memory_bits(self, state: OracleState) -> int:
        """A verbatim bit-packed store: one bit per value for binary patterns, else 32 per float."""
        patterns = state.patterns
        binary = bool(((patterns == 0) | (patterns == 1)).all())
        return prod(patterns.shape[1:]) * (1 if binary else 32)


def _pattern_shape(tensor: object) -> tuple[int, ...] | None:
    """The trailing shape of a ``(B, N, *shape)`` tensor, or ``None`` to let the check complain."""
    if isinstance(tensor, torch.Tensor) and tensor.dim() >= 3:
        return tuple(tensor.shape[2:])
    return None
