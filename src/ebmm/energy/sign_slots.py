"""Slots read through the signs of their keys, optionally with peeled residues.

``E(x) = −(1/β) log Σ_{j,l} exp(β (u_{j,l} · s + b_j)) + ½‖s‖²``, ``s = 2x − 1``, with the sign keys

    u_{j,0} = tanh(κ m_j / max(mean|m_j|, f)),
    k_{j,l+1} = k_{j,l} − mean|k_{j,l}| · sign(k_{j,l}),   u_{j,l} = tanh(κ k_{j,l} / max(mean|k_{j,l}|, f))

of the writable keys ``m_j`` (the rows of ``memory = Linear(dim, slots)``: 8,127 floats at the paper's
size). A gradient step on ``s`` moves it to the softly chosen sign key; a gradient write adds each
pattern to the keys in proportion to its softmax weight, as in :class:`~ebmm.energy.slots.SlotEnergy`.

Why signs: a key scored by its raw values, ``m·s``, favours whatever was written into it most, so
a second pattern written into an occupied key stays there (the birthday problem of 63 keys). A key
scored by its signs is *owned* by its heaviest pattern: a lighter pattern sharing it scores no
better than against an unrelated key, so the next write step moves it to a free key, and reading the
sign of a key returns its owner exactly. With ``levels > 0`` a key also exposes its peeled residues
(``m − mean|m|·sign(m) = w_b s_b`` when it holds ``w_a s_a + w_b s_b``), a second way to serve two
patterns from one key; with three write steps it is not needed (see the README's ablation).
β, κ and the floor ``f`` are static and meta-learned. The initial keys θ̄ are ``±init_scale``, so
that their peeled residues are exactly zero and inert.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SignSlotEnergy(nn.Module):
    """Log-sum-exp over the sign keys of ``slots`` writable keys and of ``levels`` peeled residues each."""

    def __init__(
        self,
        dim: int = 128,
        slots: int = 63,
        levels: int = 0,
        beta_init: float = 0.7,
        init_scale: float = 0.1,
        floor: float = 0.05,
        kappa_init: float = 2.0,
    ):
        super().__init__()
        if dim < 1 or slots < 1 or levels < 0:
            raise ValueError(f"dim and slots must be positive and levels >= 0, got {dim}, {slots}, {levels}")
        if beta_init <= 0 or floor <= 0 or kappa_init <= 0:
            raise ValueError(
                f"beta_init, floor and kappa_init must be positive, got {beta_init}, {floor}, {kappa_init}"
            )
        self.levels = levels
        self.log_floor = nn.Parameter(torch.tensor(math.log(floor)))
        self.log_kappa = nn.Parameter(torch.tensor(math.log(kappa_init)))
        self.memory = nn.Linear(dim, slots)
        with torch.no_grad():  # θ̄ = ±init_scale: its peeled residues are exactly zero, so inert
            self.memory.weight.copy_(init_scale * torch.sign(torch.randn_like(self.memory.weight)))
        nn.init.zeros_(self.memory.bias)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta_init)))

    def keys(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """The sign keys of every slot and peeling level, ``(levels + 1, slots, dim)``.

        ``weight`` replaces the module's own keys (e.g. a written memory's), shape ``(slots, dim)``.

        Each residue is divided by its mean magnitude, floored at a learned static ``floor``: a
        residue that is only noise stays small instead of being blown up to a full-size key, and
        the write gradient through it stays bounded by ``1 / floor``.
        """
        residue = self.memory.weight if weight is None else weight
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
