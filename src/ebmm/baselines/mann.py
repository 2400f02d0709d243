"""Memory-augmented neural network (Santoro et al. 2016): an LSTM controller writing a slot memory
with least-recently-used access and reading it by content.

Writing feeds the pattern codes one at a time. At step t the controller sees ``[z_t, r_{t−1}]``
and emits a key ``k_t = tanh(W_k h_t)``, a key strength β_t and a gate α_t; then (Santoro's LRUA)

    w^w_t = σ(α_t) w^r_{t−1} + (1 − σ(α_t)) w^lu_{t−1}
    M_t   = M_{t−1} ⊙ (1 − w^lu_{t−1}) + w^w_t k_tᵀ        (the least-used slot is cleared first)
    w^r_t = softmax(β_t cos(k_t, M_t(i)));  r_t = Σ_i w^r_t(i) M_t(i)
    u_t   = γ u_{t−1} + w^r_t + w^w_t;  w^lu_t = one-hot of argmin u_t

The controller is an LSTM (``recurrent``, default) or, as Santoro et al. also used, a feed-forward
layer; a feed-forward controller sees only the pattern while writing (its read input is zero, as at
read time), so a pattern's write key and its query's read key come from the same map. The key strength starts at ``1 + strength_init`` (default 11), so content addressing is sharp
from the start rather than a near-uniform average over the slots, and the gate at σ(α) ≈ 0.05, so a
new pattern starts by going to the least-used slot rather than half into the last-read one.

Reading runs the controller from its zero state on ``[z_q, 0]`` for every query independently
and decodes ``W_o [h, r]`` from a content read of the final memory. Memory = slots × width: the
memory matrix. The usage vector and the controller's state after writing are not used by reads
and are not part of the state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ebmm.baselines.learned import LearnedMemory, LearnedState, check_positive, pop_budget


class MANN(LearnedMemory):
    """LRUA memory-augmented network (see the module docstring)."""

    def __init__(self, pattern_shape: Sequence[int], code: int = 128, slots: int = 64, width: int = 129,
                 controller: int = 256, usage_decay: float = 0.95, recurrent: bool = True,
                 strength_init: float = 10.0, **options: Any):
        super().__init__(pattern_shape, code, **options)
        check_positive(slots=slots, width=width, controller=controller)
        if not 0.0 < usage_decay < 1.0:
            raise ValueError(f"usage_decay must be in (0, 1), got {usage_decay}")
        if strength_init <= 0:
            raise ValueError(f"strength_init must be positive, got {strength_init}")
        self.slots, self.width, self.usage_decay, self.recurrent = slots, width, usage_decay, recurrent
        self.controller: nn.Module = (nn.LSTMCell(code + width, controller) if recurrent
                                      else nn.Linear(code + width, controller))
        self.key = nn.Linear(controller, width)
        self.strength = nn.Linear(controller, 1)
        nn.init.constant_(self.strength.bias, math.log(math.expm1(strength_init)))  # softplus⁻¹
        self.gate = nn.Linear(controller, 1)
        nn.init.constant_(self.gate.bias, -3.0)  # σ(α) ≈ 0.05: new patterns start in the least-used slot
        self.out = nn.Linear(controller + width, code)

    @classmethod
    def fit_budget(cls, options: dict[str, Any]) -> dict[str, Any]:
        """``budget`` floats → ``width = budget // slots``."""
        options, budget = pop_budget(options)
        return options if budget is None else {**options, "width": budget // options.get("slots", 64)}

    def _head(self, codes: torch.Tensor, read: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor] | None):
        inputs = torch.cat([codes, read], dim=-1)
        if self.recurrent:
            h, c = self.controller(inputs, hc)
        else:
            h = c = torch.tanh(self.controller(inputs))
        strength = 1.0 + F.softplus(self.strength(h))
        return (h, c), torch.tanh(self.key(h)), strength

    @staticmethod
    def _content(key: torch.Tensor, strength: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Read weights ``softmax(β cos(key, M_i))`` over the slots: keys ``(B, Q, W)``, strengths
        ``(B, Q, 1)``, memory ``(B, S, W)`` → ``(B, Q, S)``."""
        cos = F.normalize(key, dim=-1, eps=1e-6) @ F.normalize(memory, dim=-1, eps=1e-6).transpose(1, 2)
        return torch.softmax(strength * cos, dim=-1)

    def store(self, codes: torch.Tensor) -> LearnedState:
        batch, count, _ = codes.shape
        memory = codes.new_full((batch, self.slots, self.width), 1e-6)
        usage = codes.new_zeros(batch, self.slots)
        read_weights = codes.new_zeros(batch, self.slots)
        least_used = F.one_hot(usage.argmin(-1), self.slots).to(codes.dtype)
        read = codes.new_zeros(batch, self.width)
        hc = None
        for t in range(count):
            hc, key, strength = self._head(codes[:, t], read if self.recurrent else torch.zeros_like(read), hc)
            alpha = torch.sigmoid(self.gate(hc[0]))
            write_weights = alpha * read_weights + (1.0 - alpha) * least_used
            memory = memory * (1.0 - least_used).unsqueeze(-1) + write_weights.unsqueeze(-1) * key.unsqueeze(-2)
            read_weights = self._content(key.unsqueeze(1), strength.unsqueeze(1), memory)
            read = (read_weights @ memory).squeeze(1)
            read_weights = read_weights.squeeze(1)
            usage = self.usage_decay * usage + read_weights + write_weights
            least_used = F.one_hot(usage.argmin(-1), self.slots).to(codes.dtype)
        return LearnedState({"memory": memory}, self.slots * self.width)

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        memory = state.tensors["memory"]
        batch, queries, _ = codes.shape
        flat = codes.reshape(batch * queries, -1)
        (h, _), key, strength = self._head(flat, flat.new_zeros(batch * queries, self.width), None)
        weights = self._content(key.reshape(batch, queries, -1), strength.reshape(batch, queries, 1), memory)
        read = (weights @ memory).reshape(batch * queries, -1)
        return self.out(torch.cat([h, read], dim=-1)).reshape(batch, queries, -1)
