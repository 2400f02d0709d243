"""LayerNorm over a whole feature map, the normalisation of every conv energy and head.

It normalises each image's map on its own (never batch statistics), so every image's energy is
independent of the others in its batch.
"""

from __future__ import annotations

import torch
from torch import nn


class MapNorm(nn.Module):
    """LayerNorm over a whole feature map (channels and positions) with a per-channel affine map.

    The same as ``nn.GroupNorm(1, C)``, written out because ``group_norm`` has no ``vmap`` rule.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1, 1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(-3, -2, -1), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(-3, -2, -1), keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def layer_norm(channels: int) -> MapNorm:
    """LayerNorm over a whole feature map (channels and positions), with per-channel affine."""
    return MapNorm(channels)
