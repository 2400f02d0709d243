"""Differentiable plasticity (Miconi et al. 2018): a recurrent network whose connections are a
learned fixed part plus a Hebbian trace scaled by learned plasticity coefficients.

Writing clamps the units to each pattern's code ``y_i = tanh(z_i)`` in turn and accumulates the
decaying Hebbian trace ``Hebb ← (1 − η) Hebb + η y_i y_iᵀ`` (summed in closed form, so the order
still matters through the decay). Reading starts from the query's ``y = tanh(z_q)`` (the query is the initial state, as a degraded
pattern is presented in Miconi et al.'s pattern completion) and runs

    y ← tanh((W + α ⊙ Hebb) y + b)

for ``steps`` steps, with W, α, η and b meta-learned; the decoder reads the final ``y``. η starts
at 0.01 (so 96 patterns still share the trace: 0.99⁹⁵ ≈ 0.38) and α at 1: hand-set this way
(W = 0, scaled identity codec) it already recalls 16 strings to ≈ 5 error bits; with η = 0.1 and
α = 0.01, or with the query added at every step, it does not recall at all. Memory =
the trace: it is symmetric, so a ``k``-unit network stores ``k (k + 1) / 2`` floats (k = 128:
8,256, the binary table's budget).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ebmm.baselines.learned import LearnedMemory, LearnedState, check_positive, pop_budget, triangle


class DifferentiablePlasticity(LearnedMemory):
    """Plastic recurrent network with a Hebbian trace as its memory (see the module docstring)."""

    def __init__(self, pattern_shape: Sequence[int], code: int = 128, steps: int = 3, eta_init: float = 0.01,
                 alpha_init: float = 1.0, **options: Any):
        super().__init__(pattern_shape, code, **options)
        check_positive(steps=steps)
        if not 0.0 < eta_init < 1.0:
            raise ValueError(f"eta_init must be in (0, 1), got {eta_init}")
        self.steps = steps
        self.weight = nn.Parameter(torch.randn(code, code) * (0.1 / math.sqrt(code)))
        self.alpha = nn.Parameter(torch.full((code, code), float(alpha_init)))
        self.bias = nn.Parameter(torch.zeros(code))
        self.eta_logit = nn.Parameter(torch.tensor(math.log(eta_init / (1.0 - eta_init))))

    @classmethod
    def fit_budget(cls, options: dict[str, Any]) -> dict[str, Any]:
        """``budget`` floats → the largest ``code`` k with k (k + 1) / 2 ≤ budget."""
        options, budget = pop_budget(options)
        if budget is None:
            return options
        k = int(math.isqrt(2 * budget))
        while triangle(k) > budget:
            k -= 1
        return {**options, "code": k}

    def store(self, codes: torch.Tensor) -> LearnedState:
        count = codes.shape[1]
        eta = torch.sigmoid(self.eta_logit)
        age = torch.arange(count - 1, -1, -1, device=codes.device, dtype=codes.dtype)
        decay = eta * (1.0 - eta) ** age  # the weight of pattern i after all N updates
        y = torch.tanh(codes)
        hebb = torch.einsum("n,bni,bnj->bij", decay, y, y)
        return LearnedState({"hebb": hebb}, triangle(self.code))

    def recall(self, codes: torch.Tensor, state: LearnedState) -> torch.Tensor:
        connections = self.weight + self.alpha * state.tensors["hebb"]  # (B, k, k)
        y = torch.tanh(codes)
        for _ in range(self.steps):
            y = torch.tanh(y @ connections.transpose(1, 2) + self.bias)
        return y
