"""Binary strings as slots of codes, written one string at a time into free slots.

The writable weights are ``slots`` codes ``m_k`` of ``code`` floats (``memory = Linear(code, slots)``:
``slots·code`` floats, e.g. 96 × 86 = 8,256 at the paper's string budget). A static projection
``V`` ``(code, dim)`` with orthonormal rows maps a pattern to its code ``z(x) = V(2x − 1)``; it is
static and shared by every episode, so it is not memory (like the paper's static RNN weights).

    S_k(x) = ½‖z(x) − m_k‖² + (1 − u_k)·(b + ε·f_k − ½‖z(x)‖²)
    E(x)   = −(1/β) log Σ_k exp(−β S_k(x))

``u_k`` is 1 for a written slot (its code has left θ̄ = 0) and 0 for a free one; ``f_k`` counts the
free slots before slot k; both are step functions of the codes, with no gradient. A free slot at
θ̄ = 0 therefore scores every pattern exactly ``b + ε·f_k`` and pulls no read anywhere.

Writing one string at a time (``EnergyMemory(write_chunk=1)``, one step at rate 1): a new string is
closer to the first free slot (score ``b``) than to any written slot holding another string (about
``c/2·(1 + …)`` away) and lands there: its code is stored exactly, ``m_k = z(x)``, and two strings
never share a slot by chance, as they do among 63 sign keys. Reading moves ``x`` so that its code
approaches the best slot's code (projected onto [0, 1]): the query's bits fill in the ``dim − code``
directions the code does not hold. ``b`` sits between the score of a corrupted query against its
own slot and that of a new string against another string's slot; it is learned.

With fewer strings than slots, a heavily corrupted query can score closer to ``b`` than to its own
slot and settle on a free slot, which returns the query unchanged. ``read_closes_free_slots`` leaves
free slots out of the log-sum-exp while reading (``ebmm.energy.free_slots.close_free_slots``): the
write still sees them and the read only sees written slots.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ebmm.energy.free_slots import close_free_slots, free_slot_scores, written_slots


class CodeSlotEnergy(nn.Module):
    """Log-sum-exp over writable codes of a static orthonormal projection; see the module docstring.

    Arguments:
        dim: bits per pattern. slots, code: the writable codes (memory = ``slots·code`` floats);
            ``code <= dim``.
        beta, novelty, priority: initial β, b and ε (learned). empty_radius: σ, the radius around
            θ̄ = 0 inside which a slot counts as free. seed: the projection's random draw.
        read_closes_free_slots: free slots leave the energy while ``EnergyMemory`` reads (see the module docstring).
    """

    def __init__(
        self,
        dim: int = 128,
        slots: int = 96,
        code: int = 86,
        beta: float = 1.0,
        novelty: float = 50.0,
        priority: float = 10.0,
        empty_radius: float = 0.5,
        seed: int = 0,
        read_closes_free_slots: bool = False,
    ):
        super().__init__()
        for name, value in (("dim", dim), ("slots", slots), ("code", code)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if code > dim:
            raise ValueError(f"code ({code}) cannot exceed dim ({dim}): the projection has orthonormal rows")
        for label, scalar in (("beta", beta), ("priority", priority), ("empty_radius", empty_radius)):
            if not scalar > 0:
                raise ValueError(f"{label} must be positive, got {scalar}")
        generator = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(dim, code, generator=generator))
        if not isinstance(read_closes_free_slots, bool):
            raise ValueError(f"read_closes_free_slots must be true or false, got {read_closes_free_slots!r}")
        self.dim = dim
        self.read_closes_free_slots = read_closes_free_slots
        self.reading = False
        self.empty_radius = float(empty_radius)
        self.projection = nn.Parameter(basis.T.contiguous())  # (code, dim), orthonormal rows
        self.memory = nn.Linear(code, slots, bias=False)
        nn.init.zeros_(self.memory.weight)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)))
        self.novelty = nn.Parameter(torch.tensor(float(novelty)))
        self.log_priority = nn.Parameter(torch.tensor(math.log(priority)))

    def written(self) -> torch.Tensor:
        """1 for slots whose code has left θ̄ = 0 (radius σ), else 0: a step function of the codes."""
        return written_slots(self.memory.weight, self.empty_radius)

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """``S`` ``(..., slots)`` of patterns ``x`` ``(..., dim)`` (lower = better)."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected patterns of {self.dim} values in the last axis, got shape {tuple(x.shape)}")
        code = (2.0 * x - 1.0) @ self.projection.T
        fit = 0.5 * (code.unsqueeze(-2) - self.memory.weight).pow(2).sum(-1)
        written = self.written()
        offset = free_slot_scores(written, self.novelty, self.log_priority.exp())
        return fit + (1 - written) * (offset - 0.5 * code.pow(2).sum(-1, keepdim=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.log_beta.exp()
        logits = -beta * self.scores(x)
        if self.reading and self.read_closes_free_slots:
            logits = close_free_slots(logits, self.written())
        return -torch.logsumexp(logits, dim=-1) / beta
