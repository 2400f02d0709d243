"""An autoencoder-form energy whose writable weights are the decoder.

``E(x) = ½‖s − memory(tanh(encoder(s)))‖²`` with ``s = 2x − 1``. A gradient write on this energy
is the delta rule on the decoder, ``ΔW ∝ (s − W h) hᵀ``: it is specific to the written patterns
from the first step, which the paper's gated RNN has to learn. The energy is bounded below by 0.
"""

from __future__ import annotations

import torch
from torch import nn

from ebmm.energy.base import he_init_


class AutoencoderEnergy(nn.Module):
    """Reconstruction energy with a static encoder and a writable decoder ``Linear(hidden, dim)``.

    At ``dim=128, hidden=63`` the decoder holds 63 × 128 + 128 = 8,192 floats, within the 8,256 of a
    classical Hopfield net on 128 units. ``encoder_layers > 1`` makes the static encoder a deeper
    MLP of width ``encoder_width`` (the writable part, and so the memory size, is unchanged).
    """

    def __init__(
        self,
        dim: int = 128,
        hidden: int = 63,
        encoder_layers: int = 1,
        encoder_width: int = 256,
    ):
        super().__init__()
        if hidden < 1 or dim < 1:
            raise ValueError(f"dim and hidden must be positive, got dim={dim}, hidden={hidden}")
        if encoder_layers < 1:
            raise ValueError(f"encoder_layers must be >= 1, got {encoder_layers}")
        layers: list[nn.Module] = []
        width = dim
        for _ in range(encoder_layers - 1):
            layers += [nn.Linear(width, encoder_width), nn.Tanh()]
            width = encoder_width
        layers.append(nn.Linear(width, hidden))
        self.encoder = nn.Sequential(*layers)
        self.memory = nn.Linear(hidden, dim)
        he_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = 2.0 * x - 1.0
        code = torch.tanh(self.encoder(s))
        residual = s - self.memory(code)
        return 0.5 * residual.pow(2).sum(-1)
