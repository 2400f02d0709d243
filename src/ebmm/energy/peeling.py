"""Slots that hold several patterns at once: sign keys with successive peeling.

A gradient write into log-sum-exp slots adds every pattern to its best-matching key with a
softmax weight, so two random strings often share a key, as ``m = w_a s_a + w_b s_b``. With
``w_a ≠ w_b`` nothing is lost: ``sign(m) = s_a``, and *peeling* the heavier pattern off,
``m − mean|m| · sign(m) = w_b s_b``, exposes the lighter one (and so on for three or more, each
peel one level). This energy reads with the signs of the keys and of their peeled residues:

    u_{j,l} = k_{j,l} / mean|k_{j,l}|,   k_{j,0} = m_j,   k_{j,l+1} = k_{j,l} − mean|k_{j,l}| · sign(k_{j,l})
    E(x) = −(1/β) log Σ_{j,l} exp(β (u_{j,l} · s + b_j)) + ½‖s‖²,   s = 2x − 1

so a gradient step on ``s`` moves it to the (soft) best normalised key, whose signs are the
pattern's bits. The writable weights are the keys ``memory = Linear(dim, slots)`` (8,127 floats at
the paper's size), as in :class:`~ebmm.energy.slots.SlotEnergy`; β is static and meta-learned.
Writing stays a plain gradient step on this energy: for a fresh slot it adds the pattern to the key
in proportion to its softmax weight, and soft weights are what make collided patterns separable.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PeelingSlotEnergy(nn.Module):
    """Log-sum-exp over ``slots`` writable keys and ``levels`` peeled residues of each, scale-normalised."""

    def __init__(
        self,
        dim: int = 128,
        slots: int = 63,
        levels: int = 2,
        beta_init: float = 0.7,
        init_scale: float = 0.1,
        floor: float = 0.05,
        kappa_init: float = 2.0,
    ):
        super().__init__()
        if dim < 1 or slots < 1 or levels < 0:
            raise ValueError(f"dim and slots must be positive and levels >= 0, got {dim}, {slots}, {levels}")
        if beta_init <= 0 or floor <= 0:
            raise ValueError(f"beta_init and floor must be positive, got {beta_init}, {floor}")
        self.levels = levels
        self.log_floor = nn.Parameter(torch.tensor(math.log(floor)))
        self.log_kappa = nn.Parameter(torch.tensor(math.log(kappa_init)))
        self.memory = nn.Linear(dim, slots)
        with torch.no_grad():  # θ̄ = ±init_scale: its peeled residues are exactly zero, so inert
            self.memory.weight.copy_(init_scale * torch.sign(torch.randn_like(self.memory.weight)))
        nn.init.zeros_(self.memory.bias)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta_init)))

    def keys(self) -> torch.Tensor:
        """The normalised keys of every slot and peeling level, ``(levels + 1, slots, dim)``.

        Each residue is divided by its mean magnitude, floored at a learned static ``floor``: a
        residue that is only noise stays small instead of being blown up to a full-size key, and
        the write gradient through it stays bounded by ``1 / floor``.
        """
        residue = self.memory.weight
        floor, kappa = self.log_floor.exp(), self.log_kappa.exp()
        keys = []
        for _ in range(self.levels + 1):
            scale = residue.abs().mean(-1, keepdim=True)
            keys.append(torch.tanh(kappa * residue / torch.maximum(scale, floor)))
            residue = residue - scale * torch.sign(residue)
        return torch.stack(keys)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = 2.0 * x - 1.0
        beta = self.log_beta.exp()
        scores = torch.einsum("...d,ljd->...lj", s, self.keys()) + self.memory.bias
        scores = beta * scores.flatten(-2)
        return -torch.logsumexp(scores, dim=-1) / beta + 0.5 * s.pow(2).sum(-1)
