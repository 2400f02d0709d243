"""Slot memories over learned codes: memory networks and a modern Hopfield memory.

Both keep one slot per written pattern: the first ``w`` entries of its code, where ``w`` is the
code width, or ``budget // N`` when a float ``budget`` is given (so that N slots of width w fit
it; the encoder learns to put what matters first). Memory = N · w floats.

- ``MemoryNetwork`` (Weston et al. 2014, end-to-end form of Sukhbaatar et al. 2015): ``hops``
  rounds of ``u ← H u + Σ_i softmax_i(β ⟨Q u, A m_i⟩) C m_i`` from the query's code ``u`` (the
  layer-wise form, with a learned map H between hops); the key and output embeddings ``A``, ``C``
  are computed from the slots at read time and store nothing. Q, A and C start as the identity, H at
  zero and β (learned) at 1/√code, so that training starts from dot-product attention over the
  codes that returns the attended slot, rather than from a near-uniform average plus the noisy query.
- ``CodeHopfield`` (Ramsauer et al. 2020) in the code space: ``ξ ← Xᵀ softmax(β X ξ)`` for
  ``steps`` updates from the query's truncated code, keys and values both the stored codes ``X``,
  with a learned inverse temperature β; the decoder reads ``ξ`` (zero beyond ``w``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ebmm.baselines.learned import LearnedMemory, LearnedState, check_positive


class _SlotMemory(LearnedMemory):
    """Stores the truncated codes; ``slot_width`` is the one place that sizes a slot."""

    def __init__(self, pattern_shape: Sequence[int], code: int, budget: int | None = None, **options: Any):
        super().__init__(pattern_shape, code, **options)
        if budget is not None:
            check_positive(budget=budget)
        self.budget = budget

    def slot_width(self, count: int) -> int:
        """Width of each of ``count`` slots: the code width, capped by ``budget // count``."""
        if self.budget is None:
            return self.code
        width = min(self.code, self.budget // count)
        if width < 1:
            raise ValueError(f"a budget of {self.budget} floats cannot hold {count} slots")
        return width

    def store(self, codes: torch.Tensor) -> LearnedState:
        count = codes.shape[1]
        width = self.slot_width(count)
        return LearnedState({"slots": codes[..., :width]}, count * width)


class MemoryNetwork(_SlotMemory):
    """End-to-end memory network over slot codes (see the module docstring)."""

    def __init__(self, pattern_shape: Sequence[int], code: int = 128, budget: int | None = None, hops: int = 1,
                 **options: Any):
        super().__init__(pattern_shape, code, budget, **options)
        check_positive(hops=hops)
        query = [nn.Linear(code, code) for _ in range(hops)]
        keys = [nn.Linear(code, code, bias=False) for _ in range(hops)]
        values = [nn.Linear(code, code, bias=False) for _ in range(hops)]
        carry = [nn.Linear(code, code, bias=False) for _ in range(hops)]
        for layer in (*query, *keys, *values):
            nn.init.eye_(layer.weight)
        for layer in carry:
            nn.init.zeros_(layer.weight)
        for layer in query:
            nn.init.zeros_(layer.bias)
        self.query, self.keys = nn.ModuleList(query), nn.ModuleList(keys)
        self.values, self.carry = nn.ModuleList(values), nn.ModuleList(carry)
        self.log_beta = nn.Parameter(torch.tensor(-0.5 * math.log(code)))

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        slots = state.tensors["slots"]
        width = slots.shape[-1]
        u = codes
        for query, keys, values, carry in zip(self.query, self.keys, self.values, self.carry, strict=True):
            assert isinstance(keys, nn.Linear) and isinstance(values, nn.Linear)
            k = F.linear(slots, keys.weight[:, :width])  # = keys(slot zero-padded to the code width)
            v = F.linear(slots, values.weight[:, :width])
            attention = torch.softmax(self.log_beta.exp() * query(u) @ k.transpose(1, 2), dim=-1)
            u = carry(u) + attention @ v
        return u


class CodeHopfield(_SlotMemory):
    """Modern continuous Hopfield memory in a learned code space (see the module docstring)."""

    def __init__(self, pattern_shape: Sequence[int], code: int = 128, budget: int | None = None, steps: int = 1,
                 beta_init: float = 1.0, **options: Any):
        super().__init__(pattern_shape, code, budget, **options)
        check_positive(steps=steps)
        if beta_init <= 0:
            raise ValueError(f"beta_init must be positive, got {beta_init}")
        self.steps = steps
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta_init)))

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        stored = state.tensors["slots"]
        width = stored.shape[-1]
        xi = codes[..., :width]
        beta = self.log_beta.exp() / math.sqrt(width)
        for _ in range(self.steps):
            xi = torch.softmax(beta * xi @ stored.transpose(1, 2), dim=-1) @ stored
        return F.pad(xi, (0, self.code - width))
