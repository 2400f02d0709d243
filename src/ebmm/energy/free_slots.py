"""Free and written slots: the step functions that steer one-at-a-time writes into free slots.

Shared by the slot energies written online (``CodecSlotEnergy``, ``CodeSlotEnergy``): a slot whose
code has left a ball of radius σ around θ̄ = 0 is *written*; a free slot k scores ``b + ε·f_k``, where
``f_k`` counts the free slots before it, so the first free slot is the cheapest. Both are functions
of the codes with no gradient: they decide where a write goes without pushing any code.

A free slot is the write's "new pattern" option. A read assumes its query was written, so an energy
built with ``read_closes_free_slots`` drops its free slots from the log-sum-exp while
``EnergyMemory`` reads (``close_free_slots``): a query can no longer settle on a free slot, which
returns nothing. ``ebmm.energy.base.reading`` sets the energy's ``reading`` attribute.

``half_squared_distances`` is the slot energies' fit term, ½‖c − s_k‖² for every code and slot.
"""

from __future__ import annotations

import torch


def half_squared_distances(codes: torch.Tensor, slot_codes: torch.Tensor) -> torch.Tensor:
    """``½‖c − s_k‖²`` ``(..., slots)`` for codes ``(..., w)`` and slot codes ``(slots, w)``.

    Expanded as ``½‖c‖² + ½‖s_k‖² − c·s_k``: one matrix product, where the broadcast difference
    would hold a ``(..., slots, w)`` tensor (most of a string read's time)."""
    cross = codes @ slot_codes.transpose(-1, -2)
    return 0.5 * (codes.pow(2).sum(-1, keepdim=True) + slot_codes.pow(2).sum(-1).unsqueeze(-2)) - cross


def written_slots(codes: torch.Tensor, radius: float) -> torch.Tensor:
    """1 for each slot (row of ``codes``) whose code has left the ball of ``radius`` around 0, else 0."""
    return (codes.detach().pow(2).sum(-1) >= radius**2).to(codes.dtype)


def free_slot_scores(written: torch.Tensor, novelty: torch.Tensor, priority: torch.Tensor) -> torch.Tensor:
    """``b + ε·f_k`` per slot (``written`` from ``written_slots``); only free slots use it."""
    free = 1 - written
    return novelty + priority * (torch.cumsum(free, 0) - free)


def close_free_slots(logits: torch.Tensor, written: torch.Tensor) -> torch.Tensor:
    """``logits`` ``(..., slots)`` (``−β·S``) with every free slot at −∞, unless no slot is written.

    Masking the logits rather than the scores keeps every gradient finite (∂(−β·S)/∂β at S = +∞
    would be 0·∞)."""
    closed = (written == 0) & (written.sum() > 0)
    return logits.masked_fill(closed, float("-inf"))
