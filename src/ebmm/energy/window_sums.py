"""Sums over every ``window × window`` square of an image: the worst-square terms of the image reads."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_sums(maps: torch.Tensor, window: int) -> torch.Tensor:
    """The sum over each ``window × window`` square of ``maps`` ``(..., H, W)``, at every position:
    ``(..., H − window + 1, W − window + 1)``; entry ``[i, j]`` sums rows ``i … i+window−1`` and
    columns ``j … j+window−1``.

    Computed from running sums (an integral image), a few operations per position whatever the
    window, where a stride-1 average pool costs ``window²``. Float32 running sums over up to
    ``H·W`` values lose about ``1e-7 × (their magnitude)`` per position."""
    height, width = maps.shape[-2:]
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= min(height, width):
        raise ValueError(f"window must be an int between 1 and the map's smaller side {min(height, width)}, "
                         f"got {window!r}")
    rows = F.pad(maps.cumsum(-2), (0, 0, 1, 0))
    rows = rows[..., window:, :] - rows[..., :-window, :]
    columns = F.pad(rows.cumsum(-1), (1, 0))
    return columns[..., window:] - columns[..., :-window]
