"""Trivial image memories that every learned image memory must beat.

Both store one record per image and read the same way (``select_and_paste``): pick the stored
image that best matches the query *outside* the ``window × window`` square where the two disagree
most, then paste that square of the stored image into the query and keep the rest of the query.

- ``LinearCodecMemory`` (``codec_nn``) keeps ``k`` PCA coefficients per image (``N·k`` floats; the
  basis and mean are fitted on the training split and, like any static weight, not counted).
- ``CodecMemory`` keeps the code of any codec (``encode``/``decode``): given an EBMM's own codec it
  is the trivial memory *equally equipped* with that EBMM — the reference its score must beat.
- ``CodecHopfieldMemory`` keeps the same codes and reads them as a modern Hopfield network in code
  space (Ramsauer et al. 2020): the query's code attends to the stored codes, ξ ← Zᵀ softmax(β Z ξ),
  and the square where the decoded ξ and the query disagree most is pasted. It is the modern Hopfield
  baseline equipped with an EBMM's own codec, β chosen on train-split episodes (``choose_codec_beta``).
- ``VerbatimMemory`` keeps the images themselves at their own precision (1 bit per binary pixel,
  8 bits per colour value): it shows what a memory size in floats means when a float can hold
  32 bits. Its ``memory_floats`` is the bit count divided by 32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ebmm.baselines.modern_hopfield import check_beta
from ebmm.energy.image_codecs import LinearCodec
from ebmm.energy.window_sums import window_sums
from ebmm.protocol import Retrieval, check_batch_matches, check_patterns


def worst_square(errors: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest ``window × window`` sum of ``errors`` ``(..., C, H, W)`` and its top-left corner.

    Returns ``(sums, corner)``: ``sums`` ``(...)``, ``corner`` ``(..., 2)`` as (row, column).
    """
    lead, (height, width) = errors.shape[:-3], errors.shape[-2:]
    sums = window_sums(errors.sum(-3), window).reshape(-1, (height - window + 1) * (width - window + 1))
    best, index = sums.max(-1)
    columns = width - window + 1
    corner = torch.stack([index // columns, index % columns], -1)
    return best.reshape(lead), corner.reshape(*lead, 2)


def select_and_paste(queries: torch.Tensor, stored: torch.Tensor, window: int) -> torch.Tensor:
    """Read ``queries`` ``(B, M, C, H, W)`` from ``stored`` images ``(B, K, C, H, W)``.

    For each query: the stored image with the least squared error outside its worst square, then
    that square of the chosen image pasted into the query.
    """
    _check_window(queries, window)
    reads = []
    for query, candidates in zip(queries, stored, strict=True):  # one episode at a time bounds memory
        errors = (query.unsqueeze(1) - candidates.unsqueeze(0)).pow(2)  # (M, K, C, H, W)
        worst, _ = worst_square(errors, window)
        outside = errors.flatten(2).sum(-1) - worst
        chosen = candidates[outside.argmin(-1)]  # (M, C, H, W)
        reads.append(paste_worst_square(query, chosen, window))
    return torch.stack(reads)


def paste_worst_square(queries: torch.Tensor, recalled: torch.Tensor, window: int) -> torch.Tensor:
    """``queries`` ``(..., C, H, W)`` with the square where they and ``recalled`` disagree most taken from ``recalled``."""
    _check_window(queries, window)
    height, width = queries.shape[-2:]
    _, corner = worst_square((queries - recalled).pow(2), window)  # (..., 2)
    rows = torch.arange(height, device=queries.device).view(height, 1)
    cols = torch.arange(width, device=queries.device).view(1, width)
    top, left = corner[..., 0, None, None], corner[..., 1, None, None]
    inside = (rows >= top) & (rows < top + window) & (cols >= left) & (cols < left + window)  # (..., H, W)
    return torch.where(inside.unsqueeze(-3), recalled, queries)


def _check_window(images: torch.Tensor, window: int) -> None:
    height, width = images.shape[-2:]
    if not 1 <= window <= min(height, width):
        raise ValueError(f"window must be in [1, {min(height, width)}], got {window}")


@dataclass
class StoredImages:
    """What a trivial memory wrote: ``records`` ``(B, N, ...)`` (codes or quantised images)."""

    records: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.records.shape[0])


class CodecMemory:
    """Keeps ``codec.encode(image)`` per image; reads by selecting and pasting (module docstring).

    ``codec`` is any module with ``encode`` ``(..., C, H, W) -> (..., k)`` and ``decode`` back,
    e.g. an EBMM's static codec (``ebmm.energy.image_codecs``); memory is ``N·k`` floats.
    """

    def __init__(self, codec: Any, shape: tuple[int, ...], window: int = 16):
        self.codec, self.shape, self.window = codec, tuple(shape), int(window)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(codec={type(self.codec).__name__}, window={self.window})"

    def write(self, patterns: torch.Tensor) -> StoredImages:
        check_patterns(patterns, "patterns", self.shape)
        with torch.no_grad():
            return StoredImages(self.codec.encode(patterns))

    def decode(self, state: StoredImages) -> torch.Tensor:
        """The stored reconstructions ``(B, N, *shape)``, clipped to [0, 1]."""
        with torch.no_grad():
            return self.codec.decode(state.records).clamp(0, 1)

    def read(self, queries: torch.Tensor, state: StoredImages) -> Retrieval:
        check_patterns(queries, "queries", self.shape)
        check_batch_matches(queries, state.batch_size)
        return Retrieval(select_and_paste(queries, self.decode(state), self.window))

    def memory_floats(self, state: StoredImages) -> int:
        return int(state.records[0].numel())


class CodecHopfieldMemory(CodecMemory):
    """The codes of ``codec`` read as a modern Hopfield network in code space (module docstring).

    ``beta`` (> 0) multiplies the dot products of codes; ``steps`` (≥ 1) updates from the query's
    code. Memory is ``N·k`` floats, as for ``CodecMemory``.
    """

    def __init__(self, codec: Any, shape: tuple[int, ...], window: int = 16, beta: float = 1.0, steps: int = 1):
        super().__init__(codec, shape, window)
        self.beta = check_beta(beta)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        self.steps = steps

    def __repr__(self) -> str:
        return f"CodecHopfieldMemory(codec={type(self.codec).__name__}, beta={self.beta:g}, steps={self.steps})"

    def read(self, queries: torch.Tensor, state: StoredImages) -> Retrieval:
        check_patterns(queries, "queries", self.shape)
        check_batch_matches(queries, state.batch_size)
        with torch.no_grad():
            codes = state.records  # (B, N, k)
            xi = self.codec.encode(queries)  # (B, M, k)
            for _ in range(self.steps):
                xi = torch.softmax(self.beta * xi @ codes.transpose(1, 2), dim=-1) @ codes
            recalled = self.codec.decode(xi).clamp(0, 1)
        return Retrieval(paste_worst_square(queries, recalled, self.window))


def choose_codec_beta(
    codec: Any,
    shape: tuple[int, ...],
    train_patterns: torch.Tensor,
    queries: torch.Tensor,
    metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    window: int = 16,
    betas: Sequence[float] | None = None,
) -> tuple[float, dict[float, float]]:
    """The β of ``CodecHopfieldMemory`` with the lowest mean ``metric`` on train-split episodes.

    ``betas`` defaults to ``2^j / s`` (j = −2 … 12) with ``s`` the mean squared norm of the stored
    codes: from a near-average of all codes to a hard nearest-code lookup. Returns the best β (the
    smallest on ties) and the table ``{β: mean metric}``.
    """
    if queries.shape != train_patterns.shape:
        raise ValueError(f"queries {tuple(queries.shape)} must match train_patterns {tuple(train_patterns.shape)}")
    state = CodecMemory(codec, shape, window).write(train_patterns)
    if betas is None:
        scale = float(state.records.pow(2).sum(-1).mean().clamp_min(1e-12))
        betas = [2.0**j / scale for j in range(-2, 13)]
    table = {}
    for beta in betas:
        memory = CodecHopfieldMemory(codec, shape, window, beta)
        table[float(beta)] = float(metric(memory.read(queries, state).patterns, train_patterns).double().mean())
    best = min(table, key=lambda beta: (math.isnan(table[beta]), table[beta], beta))
    return best, table


class LinearCodecMemory(CodecMemory):
    """``codec_nn``: ``k`` PCA coefficients per image, read by selecting and pasting (module docstring).

    ``mean`` ``(D,)`` and ``basis`` ``(k, D)`` (orthonormal rows, e.g. from ``ebmm.linear_codec.fit_pca``).
    """

    def __init__(self, mean: torch.Tensor, basis: torch.Tensor, shape: tuple[int, ...], window: int = 16):
        if basis.ndim != 2 or mean.ndim != 1 or basis.shape[1] != mean.shape[0]:
            raise ValueError(f"basis must be (k, D) and mean (D,), got {tuple(basis.shape)} and {tuple(mean.shape)}")
        if int(torch.Size(shape).numel()) != mean.shape[0]:
            raise ValueError(f"shape {tuple(shape)} does not hold {mean.shape[0]} values")
        super().__init__(LinearCodec(shape, basis.shape[0], basis=basis, mean=mean), shape, window)
        self.mean, self.basis = mean, basis

    def __repr__(self) -> str:
        return f"LinearCodecMemory(k={self.basis.shape[0]}, window={self.window})"


class VerbatimMemory:
    """The images themselves at ``bits`` bits per value (1 for binary images, 8 for colour)."""

    def __init__(self, shape: tuple[int, ...], bits: int, window: int = 16):
        if bits not in (1, 8):
            raise ValueError(f"bits must be 1 (binary images) or 8 (8-bit values), got {bits}")
        self.shape, self.bits, self.window = tuple(shape), bits, int(window)

    def __repr__(self) -> str:
        return f"VerbatimMemory(bits={self.bits}, window={self.window})"

    def write(self, patterns: torch.Tensor) -> StoredImages:
        check_patterns(patterns, "patterns", self.shape)
        levels = 2**self.bits - 1
        return StoredImages(torch.round(patterns * levels) / levels)

    def read(self, queries: torch.Tensor, state: StoredImages) -> Retrieval:
        check_patterns(queries, "queries", self.shape)
        check_batch_matches(queries, state.batch_size)
        return Retrieval(select_and_paste(queries, state.records, self.window))

    def memory_bits(self, state: StoredImages) -> int:
        return int(state.records[0].numel()) * self.bits

    def memory_floats(self, state: StoredImages) -> int:
        return -(-self.memory_bits(state) // 32)
