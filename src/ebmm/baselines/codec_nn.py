"""Trivial image memories that every learned image memory must beat.

Both store one record per image and read the same way (``select_and_paste``): pick the stored
image that best matches the query *outside* the ``window × window`` square where the two disagree
most, then paste that square of the stored image into the query and keep the rest of the query.

- ``LinearCodecMemory`` (``codec_nn``) keeps ``k`` PCA coefficients per image (``N·k`` floats; the
  basis and mean are fitted on the training split and, like any static weight, not counted).
- ``CodecMemory`` keeps the code of any codec (``encode``/``decode``): given an EBMM's own codec it
  is the trivial memory *equally equipped* with that EBMM — the reference its score must beat.
- ``VerbatimMemory`` keeps the images themselves at their own precision (1 bit per binary pixel,
  8 bits per colour value): it shows what a memory size in floats means when a float can hold
  32 bits. Its ``memory_floats`` is the bit count divided by 32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ebmm.energy.image_codecs import LinearCodec
from ebmm.protocol import Retrieval, check_batch_matches, check_patterns


def worst_square(errors: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest ``window × window`` sum of ``errors`` ``(..., C, H, W)`` and its top-left corner.

    Returns ``(sums, corner)``: ``sums`` ``(...)``, ``corner`` ``(..., 2)`` as (row, column).
    """
    lead, (height, width) = errors.shape[:-3], errors.shape[-2:]
    grey = errors.sum(-3).reshape(-1, 1, height, width)
    sums = F.avg_pool2d(grey, window, stride=1).flatten(1) * window**2  # (L, positions)
    best, index = sums.max(-1)
    columns = width - window + 1
    corner = torch.stack([index // columns, index % columns], -1)
    return best.reshape(lead), corner.reshape(*lead, 2)


def select_and_paste(queries: torch.Tensor, stored: torch.Tensor, window: int) -> torch.Tensor:
    """Read ``queries`` ``(B, M, C, H, W)`` from ``stored`` images ``(B, K, C, H, W)``.

    For each query: the stored image with the least squared error outside its worst square, then
    that square of the chosen image pasted into the query.
    """
    height, width = queries.shape[-2:]
    if not 1 <= window <= min(height, width):
        raise ValueError(f"window must be in [1, {min(height, width)}], got {window}")
    reads = []
    for query, candidates in zip(queries, stored, strict=True):  # one episode at a time bounds memory
        errors = (query.unsqueeze(1) - candidates.unsqueeze(0)).pow(2)  # (M, K, C, H, W)
        worst, _ = worst_square(errors, window)
        outside = errors.flatten(2).sum(-1) - worst
        chosen = candidates[outside.argmin(-1)]  # (M, C, H, W)
        _, corner = worst_square((query - chosen).pow(2).unsqueeze(0), window)
        rows = torch.arange(height, device=query.device).view(1, height, 1)
        cols = torch.arange(width, device=query.device).view(1, 1, width)
        top, left = corner[0, :, 0].view(-1, 1, 1), corner[0, :, 1].view(-1, 1, 1)
        inside = (rows >= top) & (rows < top + window) & (cols >= left) & (cols < left + window)
        reads.append(torch.where(inside.unsqueeze(1), chosen, query))
    return torch.stack(reads)


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
