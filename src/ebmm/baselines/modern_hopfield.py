"""Modern continuous Hopfield retrieval (Ramsauer et al. 2020) as a reference memory.

A write stores the patterns themselves, flattened to ``X`` ``(B, N, D)``; a read runs the update

    ξ ← Xᵀ softmax(β φ(X) φ(ξ))

``steps`` times from the flattened query ``ξ`` and returns the result in the query's shape. The
similarity uses a feature map ``φ``: by default the centred pattern ``φ(x) = x − 0.5`` (``centre``),
which retrieves better than raw dot products from block-noise queries (raw dot products favour
bright patterns; see ``centre`` below), or a user ``code``. The retrieved pattern is always a
convex combination of the stored raw patterns, so it stays in [0, 1].

``β`` multiplies the raw dot product over all D values (as in Ramsauer et al.), so the right β
scales like 1/D: at the default β = 8 the softmax is practically an argmax for any image-sized
D; ``choose_beta`` searches a grid ``2^k / D`` (k = −1 … 12) from a near-uniform average to a
hard nearest-pattern lookup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod

import torch

from ebmm.protocol import Retrieval, check_batch_matches, check_patterns

Code = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class ModernHopfieldState:
    """The stored patterns, flattened to ``(B, N, D)``, and the pattern shape to read back into."""

    patterns: torch.Tensor
    shape: tuple[int, ...]

    @property
    def dim(self) -> int:
        return int(self.patterns.shape[-1])


class ModernHopfieldMemory:
    """Modern continuous Hopfield network on the raw stored patterns, any pattern shape.

    ``beta`` (> 0) is the inverse temperature on the dot products ``φ(x_μ) · φ(ξ)``; ``steps``
    (≥ 1) the number of updates. ``centre`` (default ``True``) uses ``φ(x) = x − 0.5`` for the
    similarity; ``False`` uses the raw values. ``code``, when given, replaces ``φ``: a callable
    mapping flattened patterns ``(B, K, D)`` to features ``(B, K, F)`` (centring is then up to
    it); it is applied to the stored patterns and to every iterate at read time, so the state
    holds only the raw patterns. The update reads values from the raw patterns either way.

    Vectorised over the B episodes and M queries (batched matmuls). ``memory_floats`` is
    ``N · D``: it stores every pattern verbatim, a reference point like the nearest-neighbour
    oracle.
    """

    def __init__(self, beta: float = 8.0, steps: int = 1, code: Code | None = None, centre: bool = True) -> None:
        self.beta = check_beta(beta)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        if code is not None and not callable(code):
            raise TypeError(f"code must be callable or None, got {type(code).__name__}")
        if not isinstance(centre, bool):
            raise ValueError(f"centre must be a bool, got {centre!r}")
        self.steps = steps
        self.code = code
        self.centre = centre

    def __repr__(self) -> str:
        code = "" if self.code is None else f", code={self.code!r}"
        return f"ModernHopfieldMemory(beta={self.beta!r}, steps={self.steps}, centre={self.centre}{code})"

    def write(self, patterns: torch.Tensor) -> ModernHopfieldState:
        """Store ``patterns`` ``(B, N, *shape)`` with values in [0, 1]."""
        shape = _pattern_shape(patterns)
        if shape is not None and prod(shape) == 0:
            raise ValueError(f"patterns must have at least one value each, got pattern shape {shape}")
        check_patterns(patterns, "patterns", shape)
        return ModernHopfieldState(patterns=patterns.detach().flatten(2).clone(), shape=tuple(patterns.shape[2:]))

    def read(self, queries: torch.Tensor, state: ModernHopfieldState) -> Retrieval:
        """Run ``steps`` updates from ``queries`` ``(B, M, *shape)``; same shape and dtype out."""
        check_patterns(queries, "queries", state.shape)
        check_batch_matches(queries, state.patterns.shape[0])
        values = state.patterns.to(queries.dtype)  # (B, N, D)
        keys = self._features(values, "stored patterns")  # (B, N, F)
        xi = queries.flatten(2)  # (B, M, D)
        for _ in range(self.steps):
            scores = self._features(xi, "queries") @ keys.transpose(1, 2)  # (B, M, N)
            xi = torch.softmax(self.beta * scores, dim=-1) @ values
        return Retrieval(patterns=xi.clamp(0.0, 1.0).reshape(queries.shape))

    def attention(self, queries: torch.Tensor, state: ModernHopfieldState) -> torch.Tensor:
        """The softmax weights ``(B, M, N)`` of the first update: how much each stored pattern counts."""
        check_patterns(queries, "queries", state.shape)
        check_batch_matches(queries, state.patterns.shape[0])
        values = state.patterns.to(queries.dtype)
        scores = self._features(queries.flatten(2), "queries") @ self._features(values, "stored patterns").transpose(1, 2)
        return torch.softmax(self.beta * scores, dim=-1)

    def memory_floats(self, state: ModernHopfieldState) -> int:
        """``N · D``: every stored value counts."""
        return int(state.patterns.shape[1] * state.patterns.shape[2])

    def _features(self, flat: torch.Tensor, what: str) -> torch.Tensor:
        if self.code is None:
            return flat - 0.5 if self.centre else flat
        features = self.code(flat)
        if not isinstance(features, torch.Tensor) or features.dim() != 3 or features.shape[:2] != flat.shape[:2]:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"code must map {what} {tuple(flat.shape)} to (B, K, F) features, got {got}")
        return features.to(flat.dtype)


def check_beta(beta: object) -> float:
    """``beta`` as a float, or ``ValueError`` unless it is a finite number > 0."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    return float(beta)


def default_betas(dim: int) -> tuple[float, ...]:
    """The default β grid for D-dimensional patterns: ``2^k / D`` for k = −1 … 12 (factor 2 apart)."""
    return tuple(2.0**k / dim for k in range(-1, 13))


def choose_beta(
    train_patterns: torch.Tensor,
    queries: torch.Tensor,
    metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    betas: Sequence[float] | None = None,
    steps: int = 1,
    code: Code | None = None,
    centre: bool = True,
) -> tuple[float, dict[float, float]]:
    """Pick the β with the lowest mean ``metric`` over the given (training-split) episodes.

    ``train_patterns`` and ``queries`` are ``(B, N, *shape)``, ``queries[b, i]`` a corruption of
    ``train_patterns[b, i]``; each episode's patterns are written and read back from its queries
    with ``ModernHopfieldMemory(beta, steps, code, centre)``, and ``metric(retrieved, patterns)``
    (e.g. ``squared_errors``, ``(B, N)`` per pattern) is averaged. ``betas`` defaults to
    ``default_betas(D)``. Returns the best β (the smallest on ties; NaN counts as worst) and the
    table ``{β: mean metric}`` in grid order, for the results file.
    """
    check_patterns(train_patterns, "train_patterns", _pattern_shape(train_patterns))
    shape = tuple(train_patterns.shape[2:])
    check_patterns(queries, "queries", shape)
    if queries.shape != train_patterns.shape:
        raise ValueError(
            f"queries {tuple(queries.shape)} must match train_patterns {tuple(train_patterns.shape)}: "
            "one query per stored pattern"
        )
    if betas is None:
        betas = default_betas(prod(shape))
    betas = [check_beta(beta) for beta in betas]
    if not betas:
        raise ValueError("betas is empty: give at least one β to try")
    if len(set(betas)) != len(betas):
        raise ValueError(f"betas has repeated values: {betas}")
    table: dict[float, float] = {}
    for beta in betas:
        memory = ModernHopfieldMemory(beta, steps=steps, code=code, centre=centre)
        retrieved = memory.read(queries, memory.write(train_patterns)).patterns
        value = float(torch.as_tensor(metric(retrieved, train_patterns)).double().mean())
        table[beta] = value
    best = min(betas, key=lambda beta: (math.isnan(table[beta]), table[beta], beta))
    return best, table


def _pattern_shape(tensor: object) -> tuple[int, ...] | None:
    """The trailing shape of a ``(B, N, *shape)`` tensor, or ``None`` to let the check complain."""
    if isinstance(tensor, torch.Tensor) and tensor.dim() >= 3:
        return tuple(tensor.shape[2:])
    return None
