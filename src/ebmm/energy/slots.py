"""A slot-style energy: the writable weights are keys of a modern-Hopfield (log-sum-exp) energy.

``E(x) = Σ_h −(1/β) log Σ_j exp(β (m_hj · s_h + b_hj)) + ½‖s‖²`` with ``s = 2x − 1`` split into
``heads`` equal chunks ``s_h``, and the keys ``m_hj`` the rows of the writable ``memory``. A gradient
step on ``s`` moves each chunk to the softmax-weighted average of its head's keys
(Ramsauer et al. 2020), and a gradient write adds each pattern to the keys in proportion to its
softmax weight: a competitive, pattern-specific write. With one head at ``dim=128, slots=63`` the
memory is the paper's ``Linear(128, 63)``: 8,127 floats, within the 8,256 of a classical Hopfield
net on 128 units. More heads keep the floats (``slots`` keys of ``dim/heads`` values per head) and
halve what a collision of two patterns in one slot costs, at the price of weaker evidence per head.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SlotEnergy(nn.Module):
    """Log-sum-exp energy over writable keys, with a learned (static) inverse temperature β."""

    def __init__(
        self, dim: int = 128, slots: int = 63, heads: int = 1, beta_init: float = 10.0, init_scale: float = 0.1
    ):
        super().__init__()
        if dim < 1 or slots < 1 or heads < 1:
            raise ValueError(f"dim, slots and heads must be positive, got dim={dim}, slots={slots}, heads={heads}")
        if dim % heads:
            raise ValueError(f"heads must divide dim, got dim={dim}, heads={heads}")
        if beta_init <= 0:
            raise ValueError(f"beta_init must be positive, got {beta_init}")
        self.dim, self.slots, self.heads = dim, slots, heads
        self.memory = nn.Linear(dim // heads, slots * heads)
        nn.init.normal_(self.memory.weight, std=init_scale)
        nn.init.zeros_(self.memory.bias)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = 2.0 * x - 1.0
        beta = self.log_beta.exp()
        chunks = s.unflatten(-1, (self.heads, self.dim // self.heads))  # (..., H, dim/H)
        keys = self.memory.weight.unflatten(0, (self.heads, self.slots))  # (H, slots, dim/H)
        bias = self.memory.bias.unflatten(0, (self.heads, self.slots))  # (H, slots)
        scores = beta * (torch.einsum("...hd,hjd->...hj", chunks, keys) + bias)
        return -torch.logsumexp(scores, dim=-1).sum(-1) / beta + 0.5 * s.pow(2).sum(-1)
