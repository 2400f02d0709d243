"""LSTM baseline: the pattern codes are fed in sequence, then each query after them.

Memory = the hidden and cell state after the last pattern: 2 × ``hidden`` floats. Each query is
read independently: one more LSTM step from that state on the query's code, then a linear map of
the new hidden state back to a code for the decoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ebmm.baselines.learned import LearnedMemory, LearnedState, check_positive, pop_budget


class LSTMMemory(LearnedMemory):
    """An LSTM whose state after the patterns is the memory (see the module docstring)."""

    def __init__(self, pattern_shape: Sequence[int], code: int = 128, hidden: int = 4128, **options: Any):
        super().__init__(pattern_shape, code, **options)
        check_positive(hidden=hidden)
        self.hidden = hidden
        self.lstm = nn.LSTM(code, hidden, batch_first=True)
        self.out = nn.Linear(hidden, code)

    @classmethod
    def fit_budget(cls, options: dict[str, Any]) -> dict[str, Any]:
        """``budget`` floats → ``hidden = budget // 2``."""
        options, budget = pop_budget(options)
        return options if budget is None else {**options, "hidden": budget // 2}

    def store(self, codes: torch.Tensor) -> LearnedState:
        _, (h, c) = self.lstm(codes)
        return LearnedState({"h": h[0], "c": c[0]}, 2 * self.hidden)

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        batch, queries, _ = codes.shape
        h = state.tensors["h"].repeat_interleave(queries, dim=0).unsqueeze(0)
        c = state.tensors["c"].repeat_interleave(queries, dim=0).unsqueeze(0)
        out, _ = self.lstm(codes.reshape(batch * queries, 1, -1), (h.contiguous(), c.contiguous()))
        return self.out(out[:, 0]).reshape(batch, queries, -1)
